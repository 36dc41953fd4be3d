/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * `sluicectl health`: is sluice-ctld ready (GET /healthz)? Ready means the
 * dataplane answers, its window commits succeed and the store is open; the
 * exit status says it (0 ready, 1 not), the output says why not.
 */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "http_client.h"

/** A health check answers fast or not at all. */
#define HEALTH_TIMEOUT_MS 5000

static int
cmd_health(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	static const char *const parts[][3] = {
		/* key, when true, when false */
		{ "dataplane", "up", "down" },
		{ "committing", "yes", "no" },
		{ "store", "open", "not open" },
	};
	const char *url = NULL, *status, *reason;
	struct sl_http_response r;
	json_t *h;
	bool ready;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return sl_ctl_cmd_help(cmd);
		default:
			return sl_ctl_opt_err(cmd, c, argv);
		}
	}
	if (optind < argc)
		return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[optind]);
	url = sl_ctl_url(url);

	rc = sl_ctl_http(url, "GET", "/healthz", hdrs, NULL, 0, HEALTH_TIMEOUT_MS, &r);
	if (rc != SL_EXIT_OK) {
		/* Not reachable is not ready; a bad URL stays a usage error. */
		if (json && rc == SL_EXIT_RUNTIME) {
			h = json_pack("{s:s, s:s}", "status", "unreachable", "url", url);
			if (h != NULL && json_dumpf(h, stdout, JSON_COMPACT) == 0)
				putchar('\n');
			json_decref(h);
		}
		return rc;
	}
	h = json_loadb(r.body, r.body_len, 0, NULL);
	status = json_string_value(json_object_get(h, "status"));
	reason = json_string_value(json_object_get(h, "reason"));
	ready = r.status == 200 && status != NULL && strcmp(status, "ok") == 0;
	if (json) {
		if (r.body_len > 0 && fwrite(r.body, 1, r.body_len, stdout) != r.body_len)
			rc = SL_EXIT_RUNTIME;
		if (r.body_len > 0 && r.body[r.body_len - 1] != '\n')
			putchar('\n');
	} else if (h == NULL || !json_is_object(h)) {
		printf("not ready: HTTP %d from %s/healthz\n", r.status, url);
	} else {
		if (ready)
			printf("ready\n");
		else
			printf("not ready: %s\n", reason   ? reason
						  : status ? status
							   : "no reason given");
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			const json_t *v = json_object_get(h, parts[i][0]);

			if (json_is_boolean(v))
				printf("  %-11s %s\n", parts[i][0],
				       json_is_true(v) ? parts[i][1] : parts[i][2]);
		}
	}
	json_decref(h);
	sl_http_response_fini(&r);
	if (rc != SL_EXIT_OK)
		return rc;
	return ready ? SL_EXIT_OK : SL_EXIT_RUNTIME;
}

const struct sl_cmd sl_cmd_health = {
	.name = "health",
	.usage = "health [--url URL] [--json]",
	.help = "Ask sluice-ctld whether the service is ready (GET /healthz): the dataplane\n"
		"answers, its window commits succeed and the store is open. Prints \"ready\", or\n"
		"\"not ready: REASON\", then each part.\n"
		"\n"
		"  -u, --url URL  sluice-ctld (default $" SL_CTL_URL_ENV
		", else " SL_CTL_URL_DEFAULT ")\n"
		"  --json         print sluice-ctld's answer as is ({\"status\":\"unreachable\"}\n"
		"                 when it does not answer)\n"
		"  -h, --help     show this help\n"
		"\n"
		"Exit status: 0 ready, 1 not ready or sluice-ctld unreachable (within 5 s),\n"
		"2 usage error.\n",
	.handler = cmd_health,
};
