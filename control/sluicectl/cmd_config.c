/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * `sluicectl config`: check a configuration file, show it in canonical form,
 * print the built-in default. Everything is done by dataplane/config.c, the
 * same code sluiced loads its configuration with; this file only parses
 * arguments and prints.
 *
 * Through sluice-ctld: `config show` with --url prints the running
 * configuration (GET /v1/config), `config apply FILE` replaces it (PUT
 * /v1/config with the bearer token of --token-file) and reports what the
 * dataplane kept, added and removed.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "http_client.h"

/** The largest configuration `config apply` sends (sluice-ctld's body limit). */
#define CONFIG_APPLY_MAX (1u << 20)
/** The longest token file read. */
#define CONFIG_TOKEN_MAX 4096

static int
config_check(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	json_t *arr = NULL;
	int rc = SL_EXIT_OK;

	if (argc < 1)
		return sl_ctl_usage_err(cmd, "config check: missing FILE");
	if (json && (arr = json_array()) == NULL) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	for (int i = 0; i < argc; i++) {
		struct sl_config_error err;
		struct sl_config *cfg = NULL;
		json_t *o = NULL;

		if (sl_config_load_file(argv[i], &cfg, &err) != 0) {
			if (json)
				o = json_pack("{s:s, s:b, s:i, s:i, s:s}", "file", err.file, "ok", 0,
					      "line", (int)err.line, "column", (int)err.column,
					      "error", err.msg);
			else
				sl_config_error_print(&err, stderr);
			rc = SL_EXIT_RUNTIME;
		} else {
			const char *name = strcmp(argv[i], "-") == 0 ? "<stdin>" : argv[i];

			if (json)
				o = json_pack("{s:s, s:b, s:i, s:i}", "file", name, "ok", 1, "views",
					      (int)cfg->n_views, "inputs", (int)cfg->n_inputs);
			else
				printf("%s: ok (%u view%s, %u input%s)\n", name, cfg->n_views,
				       cfg->n_views == 1 ? "" : "s", cfg->n_inputs,
				       cfg->n_inputs == 1 ? "" : "s");
			sl_config_free(cfg);
		}
		if (json && (o == NULL || json_array_append_new(arr, o) != 0)) {
			sl_ctl_err("out of memory");
			json_decref(arr);
			return SL_EXIT_RUNTIME;
		}
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(arr);
	}
	return rc;
}

static int
config_show(const struct sl_cmd *cmd, int argc, char **argv)
{
	struct sl_config_error err;
	struct sl_config *cfg;
	int rc;

	if (argc > 1)
		return sl_ctl_usage_err(cmd, "config show: unexpected argument '%s'", argv[1]);
	if (argc == 1)
		rc = sl_config_load_file(argv[0], &cfg, &err);
	else
		rc = sl_config_load_string(sl_config_default_yaml(),
					   strlen(sl_config_default_yaml()), "<default>", &cfg,
					   &err);
	if (rc != 0) {
		sl_config_error_print(&err, stderr);
		return SL_EXIT_RUNTIME;
	}
	rc = sl_config_dump(cfg, stdout);
	sl_config_free(cfg);
	return rc == 0 ? SL_EXIT_OK : SL_EXIT_RUNTIME;
}

/* ---- through sluice-ctld ---- */

/** `config show` without FILE, with a URL: the running configuration. */
static int
config_show_remote(const char *url)
{
	static const char *const hdrs[] = { "Accept: text/yaml", NULL };
	struct sl_http_response r;
	int rc;

	rc = sl_ctl_http(url, "GET", "/v1/config", hdrs, NULL, 0, SL_CTL_HTTP_TIMEOUT_MS, &r);
	if (rc != SL_EXIT_OK)
		return rc;
	if (r.status != 200)
		rc = sl_ctl_http_fail(url, &r);
	else if (r.body_len > 0 && fwrite(r.body, 1, r.body_len, stdout) != r.body_len)
		rc = SL_EXIT_RUNTIME; /* reported by sl_ctl_finish() */
	sl_http_response_fini(&r);
	return rc;
}

/**
 * Read all of @p path ("-": standard input), at most @p max bytes.
 * @return SL_EXIT_OK, or SL_EXIT_RUNTIME (printed).
 */
static int
read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t len = 0, cap = 4096;
	char *buf = NULL;
	int rc = SL_EXIT_RUNTIME;

	if (f == NULL) {
		sl_ctl_err("%s: cannot open: %s", path, strerror(errno));
		return SL_EXIT_RUNTIME;
	}
	for (;;) {
		size_t n;

		if (buf == NULL || len == cap) {
			char *nb;

			cap = buf == NULL ? cap : cap * 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				sl_ctl_err("out of memory");
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > max) {
			sl_ctl_err("%s: larger than %zu bytes", path, max);
			goto out;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		sl_ctl_err("%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
	rc = SL_EXIT_OK;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

/** The bearer token: the first line of @p path, without surrounding blanks. */
static int
read_token(const char *path, char **ret)
{
	char *buf, *s, *e;
	size_t len;
	int rc;

	rc = read_file(path, CONFIG_TOKEN_MAX, &buf, &len);
	if (rc != SL_EXIT_OK)
		return rc;
	for (s = buf; *s != '\0' && isspace((unsigned char)*s); s++)
		;
	e = s + strcspn(s, "\r\n");
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	if (*s == '\0' || strlen(s) != (size_t)(e - s) || strpbrk(s, " \t") != NULL) {
		sl_ctl_err("%s: %s", path,
			   *s == '\0' ? "empty token file" : "the token must be one word");
		free(buf);
		return SL_EXIT_RUNTIME;
	}
	memmove(buf, s, (size_t)(e - s) + 1);
	*ret = buf;
	return SL_EXIT_OK;
}

/** "a, b" of a JSON array of names ("-" when empty). */
static void
names_text(const json_t *a, char *buf, size_t cap)
{
	size_t i, off = 0;
	const json_t *v;

	buf[0] = '\0';
	json_array_foreach(a, i, v) {
		if (off < cap)
			off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "",
						json_string_value(v) ? json_string_value(v) : "?");
	}
	if (off == 0)
		snprintf(buf, cap, "-");
}

/**
 * Print a refusal of the configuration. A "FILE:LINE:COL: message" of the
 * server names the body it received: the user's file is named instead.
 */
static void
apply_error(const char *file, const char *url, int status, const char *msg)
{
	const char *p = msg;

	/* Skip "<anything without blanks>:" when digits, ':', digits and ": " follow. */
	for (const char *c = msg; *c != '\0' && *c != ' '; c++) {
		unsigned int line, col;
		int n = 0;

		if (*c == ':' && sscanf(c, ":%u:%u: %n", &line, &col, &n) == 2 && n > 0) {
			p = c;
			break;
		}
	}
	if (p != msg) {
		fflush(stdout);
		fprintf(stderr, "%s%s\n", strcmp(file, "-") == 0 ? "<stdin>" : file, p);
		fprintf(stderr, "sluicectl: the configuration was rejected (HTTP %d from %s); the "
				"running one is unchanged\n",
			status, url);
	} else {
		sl_ctl_err("%s: rejected by sluice-ctld (HTTP %d): %s", file, status, msg);
	}
}

static int
config_apply(const struct sl_cmd *cmd, int argc, char **argv, const char *url,
	     const char *token_file, bool json)
{
	static const char *const no_hdrs[] = { "Content-Type: text/yaml",
					       "Accept: application/json", NULL };
	const char *hdrs[4] = { "Content-Type: text/yaml", "Accept: application/json", NULL, NULL };
	char *yaml = NULL, *token = NULL, *auth = NULL;
	struct sl_http_response r = { 0 };
	const char *msg, *file;
	json_t *reply = NULL;
	size_t len;
	int rc;

	if (argc < 1)
		return sl_ctl_usage_err(cmd, "config apply: missing FILE");
	if (argc > 1)
		return sl_ctl_usage_err(cmd, "config apply: unexpected argument '%s'", argv[1]);
	file = argv[0];
	if (token_file == NULL) {
		token_file = getenv(SL_CTL_TOKEN_FILE_ENV);
		if (token_file != NULL && token_file[0] == '\0')
			token_file = NULL;
	}
	rc = read_file(file, CONFIG_APPLY_MAX, &yaml, &len);
	if (rc == SL_EXIT_OK && token_file != NULL)
		rc = read_token(token_file, &token);
	if (rc != SL_EXIT_OK)
		goto out;
	if (token != NULL && asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
		auth = NULL;
		sl_ctl_err("out of memory");
		rc = SL_EXIT_RUNTIME;
		goto out;
	}
	hdrs[2] = auth;
	rc = sl_ctl_http(url, "PUT", "/v1/config", auth ? hdrs : no_hdrs, yaml, len,
			 SL_CTL_HTTP_TIMEOUT_MS, &r);
	if (rc != SL_EXIT_OK)
		goto out;
	reply = json_loadb(r.body, r.body_len, 0, NULL);
	msg = json_string_value(json_object_get(reply, "error"));
	if (r.status == 200 && json_is_true(json_object_get(reply, "ok"))) {
		char names[3][1024];

		if (json) {
			if (r.body_len > 0 && fwrite(r.body, 1, r.body_len, stdout) != r.body_len)
				rc = SL_EXIT_RUNTIME;
			if (r.body_len > 0 && r.body[r.body_len - 1] != '\n')
				putchar('\n');
			goto out;
		}
		names_text(json_object_get(reply, "kept"), names[0], sizeof(names[0]));
		names_text(json_object_get(reply, "added"), names[1], sizeof(names[1]));
		names_text(json_object_get(reply, "removed"), names[2], sizeof(names[2]));
		printf("%s: applied\n  kept     %s\n  added    %s\n  removed  %s\n",
		       strcmp(file, "-") == 0 ? "<stdin>" : file, names[0], names[1], names[2]);
		rc = SL_EXIT_OK;
	} else if (r.status == 200 || r.status == 400 || r.status == 409) {
		/* Invalid (400) or refused by the dataplane (409, or "ok": false). */
		if (json && r.body_len > 0) {
			fwrite(r.body, 1, r.body_len, stdout);
			if (r.body[r.body_len - 1] != '\n')
				putchar('\n');
		}
		apply_error(file, url, r.status, msg ? msg : "no reason given");
		rc = SL_EXIT_RUNTIME;
	} else if (r.status == 401 || r.status == 403) {
		sl_ctl_err("sluice-ctld at %s refused the change (HTTP %d): %s%s", url, r.status,
			   msg ? msg : "not authorized",
			   r.status == 401 && token == NULL
				   ? " (give the token with --token-file or $" SL_CTL_TOKEN_FILE_ENV ")"
				   : "");
		rc = SL_EXIT_RUNTIME;
	} else {
		rc = sl_ctl_http_fail(url, &r);
		if (rc == SL_EXIT_USAGE || rc == SL_EXIT_NOTFOUND)
			rc = SL_EXIT_RUNTIME;
	}
out:
	json_decref(reply);
	sl_http_response_fini(&r);
	free(yaml);
	free(auth);
	if (token != NULL)
		memset(token, 0, strlen(token));
	free(token);
	return rc;
}

/** The value of an option with an argument ("--url X" or "--url=X") at argv[*i]. */
static int
opt_value(const struct sl_cmd *cmd, int argc, char **argv, int *i, const char *name,
	  const char **ret)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
		return -1;
	if (a[n] == '=') {
		*ret = a + n + 1;
	} else {
		if (*i + 1 >= argc)
			return sl_ctl_usage_err(cmd, "option '%s' requires an argument", name);
		*ret = argv[++*i];
	}
	return SL_EXIT_OK;
}

static int
cmd_config(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	char **args = argv + 1; /* the operands, compacted in place */
	const char *sub, *url_opt = NULL, *token_file = NULL, *url;
	int n = 0, rc;

	/*
	 * Options may come anywhere; "-" alone is standard input, "--" ends
	 * options. Operands move down over the options: args[n] <= argv[i] always.
	 */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				args[n++] = argv[i];
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return sl_ctl_cmd_help(cmd);
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if ((rc = opt_value(cmd, argc, argv, &i, "--url", &url_opt)) >= 0 ||
			   (rc = opt_value(cmd, argc, argv, &i, "--token-file", &token_file)) >= 0) {
			if (rc != SL_EXIT_OK)
				return rc;
		} else if (a[0] == '-' && a[1] != '\0') {
			return sl_ctl_usage_err(cmd, "unknown option '%s'", a);
		} else {
			args[n++] = argv[i];
		}
	}
	if (n == 0)
		return sl_ctl_usage_err(cmd, "missing subcommand (check, show, apply or default)");
	sub = args[0];
	if (strcmp(sub, "apply") != 0 && token_file != NULL)
		return sl_ctl_usage_err(cmd, "config %s: --token-file is for config apply", sub);
	if (strcmp(sub, "check") == 0) {
		if (url_opt != NULL)
			return sl_ctl_usage_err(cmd, "config check: checks local files, without --url");
		return config_check(cmd, n - 1, args + 1, json);
	}
	if (strcmp(sub, "apply") == 0)
		return config_apply(cmd, n - 1, args + 1, sl_ctl_url(url_opt), token_file, json);
	if (json)
		return sl_ctl_usage_err(cmd, "config %s: --json is not supported", sub);
	if (strcmp(sub, "show") == 0) {
		if (n > 2)
			return sl_ctl_usage_err(cmd, "config show: unexpected argument '%s'", args[2]);
		rc = sl_ctl_source(cmd, url_opt, n == 2 ? args[1] : NULL, "FILE", NULL, &url);
		if (rc != SL_EXIT_OK)
			return rc;
		if (url != NULL)
			return config_show_remote(url);
		return config_show(cmd, n - 1, args + 1);
	}
	if (strcmp(sub, "default") == 0) {
		if (url_opt != NULL)
			return sl_ctl_usage_err(cmd, "config default: the built-in one, without --url");
		if (n > 1)
			return sl_ctl_usage_err(cmd, "config default: unexpected argument '%s'",
						args[1]);
		fputs(sl_config_default_yaml(), stdout);
		return SL_EXIT_OK;
	}
	return sl_ctl_usage_err(cmd, "unknown subcommand 'config %s'", sub);
}

const struct sl_cmd sl_cmd_config = {
	.name = "config",
	.usage = "config check FILE... | config show [FILE | --url URL] | "
		 "config apply FILE [--url URL] [--token-file F] | config default",
	.help = "Validate and print configuration files (YAML, docs/configuration.md), show\n"
		"and replace the running one through sluice-ctld.\n"
		"\n"
		"  check FILE...  validate each FILE ('-' reads standard input): prints\n"
		"                 'FILE: ok (N views, M inputs)', or 'FILE:LINE:COL: message'\n"
		"                 on stderr and exits 1\n"
		"  show [FILE]    print FILE (default: the built-in configuration) in\n"
		"                 canonical form, every default written out; with --url (or\n"
		"                 $" SL_CTL_URL_ENV ") and no FILE: the configuration sluiced runs\n"
		"  apply FILE     send FILE ('-': standard input, at most 1 MiB) to sluice-ctld,\n"
		"                 which checks it and has sluiced reload it: prints the views\n"
		"                 kept (their open windows go on), added (from the next window)\n"
		"                 and removed; a bad file is rejected whole, with\n"
		"                 'FILE:LINE:COL: message' on stderr and exit 1\n"
		"  default        print the built-in default configuration\n"
		"  -u, --url URL  sluice-ctld (default $" SL_CTL_URL_ENV ", else " SL_CTL_URL_DEFAULT ")\n"
		"  --token-file F apply: the bearer token sluice-ctld was given (its\n"
		"                 --token-file; default $" SL_CTL_TOKEN_FILE_ENV ")\n"
		"  --json         check: one JSON array of {file, ok, views, inputs} or {file,\n"
		"                 ok, line, column, error}; apply: sluice-ctld's reply\n"
		"                 {ok, kept, added, removed} or {error}\n"
		"  -h, --help     show this help\n"
		"\n"
		"Exit status: 0 ok, 1 a file that does not check or apply (or sluice-ctld\n"
		"unreachable, the token refused), 2 usage error.\n",
	.handler = cmd_config,
};
