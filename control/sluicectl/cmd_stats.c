/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * `sluicectl stats`: ask sluiced for its counters and print them.
 *
 * The request is the line "stats\n" on sluiced's unix stream socket; the reply
 * is one line of JSON (at most SL_STATS_REPLY_MAX bytes). With --url the same
 * object comes from sluice-ctld's GET /v1/stats. With --json the object is
 * printed back compactly; otherwise it becomes a readable report.
 * The report tolerates missing keys (an older or newer sluiced): whatever is
 * absent prints as "-" or is left out.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <sluice/common.h>

#include "cmd.h"
#include "ctl_client.h"
#include "http_client.h"

#define SL_STATS_SOCKET_DEFAULT "/run/sluice/sluiced.sock"
#define SL_STATS_SOCKET_ENV "SLUICE_CTL_SOCKET"
#define SL_STATS_REPLY_MAX SL_CTL_REPLY_MAX
#define SL_STATS_TIMEOUT_MS 5000
/** Report lines wrap here. */
#define SL_STATS_LINE_MAX 96
/** 2000-01-01T00:00:00Z: smaller "times" are durations, not wall-clock. */
#define SL_STATS_EPOCH_MIN_NS (946684800ULL * SL_NS_PER_SEC)

/** Ask sluiced for its stats. Errors are printed here. @return SL_EXIT_*. */
static int
stats_fetch(const char *path, const char *req, json_t **ret_root)
{
	int64_t deadline = sl_ctl_deadline(SL_STATS_TIMEOUT_MS);
	json_error_t jerr;
	char *buf = NULL;
	size_t len;
	json_t *root;
	int fd, rc;

	fd = sl_ctl_connect(path, deadline);
	if (fd < 0) {
		rc = -fd;
		sl_ctl_err("cannot connect to %s: %s%s", path, strerror(rc),
			   rc == ENOENT || rc == ECONNREFUSED ? " (is sluiced running?)" : "");
		return SL_EXIT_RUNTIME;
	}
	rc = sl_ctl_send(fd, req, strlen(req), deadline);
	if (rc == 0)
		rc = sl_ctl_recv_line(fd, deadline, &buf, &len);
	close(fd);
	switch (rc) {
	case 0:
		break;
	case -ETIMEDOUT:
		sl_ctl_err("no reply from %s within %d s", path, SL_STATS_TIMEOUT_MS / 1000);
		return SL_EXIT_RUNTIME;
	case -EMSGSIZE:
		sl_ctl_err("reply from %s is larger than %u bytes", path, SL_STATS_REPLY_MAX);
		return SL_EXIT_RUNTIME;
	case -ENODATA:
		sl_ctl_err("%s closed the connection without a reply", path);
		return SL_EXIT_RUNTIME;
	default:
		sl_ctl_err("cannot talk to %s: %s", path, strerror(-rc));
		return SL_EXIT_RUNTIME;
	}

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (root == NULL) {
		sl_ctl_err("malformed reply from %s: %s (column %d)", path, jerr.text,
			   jerr.column);
		return SL_EXIT_RUNTIME;
	}
	if (!json_is_object(root)) {
		sl_ctl_err("malformed reply from %s: not a JSON object", path);
		json_decref(root);
		return SL_EXIT_RUNTIME;
	}
	*ret_root = root;
	return SL_EXIT_OK;
}

/** The same object from sluice-ctld (GET /v1/stats). @return SL_EXIT_*. */
static int
stats_fetch_url(const char *url, json_t **ret_root)
{
	json_t *root;
	int rc;

	rc = sl_ctl_http_get_json(url, "/v1/stats", &root);
	if (rc != SL_EXIT_OK)
		return rc == SL_EXIT_NOTFOUND ? SL_EXIT_RUNTIME : rc;
	if (!json_is_object(root)) {
		sl_ctl_err("malformed reply from %s/v1/stats: not a JSON object", url);
		json_decref(root);
		return SL_EXIT_RUNTIME;
	}
	*ret_root = root;
	return SL_EXIT_OK;
}

/* ---- report ---- */

/** @p j as a non-negative integer. @return false if it is not one (or NULL). */
static bool
jval_u64(const json_t *j, uint64_t *ret_v)
{
	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*ret_v = (uint64_t)json_integer_value(j);
		return true;
	}
	/* Counters past 2^63 are not representable as jansson integers. */
	if (json_is_real(j) && json_real_value(j) >= 0 && json_real_value(j) < 0x1p64) {
		*ret_v = (uint64_t)json_real_value(j);
		return true;
	}
	return false;
}

/** Non-negative integer @p key of @p obj (NULL or a non-object: absent). */
static bool
jget_u64(const json_t *obj, const char *key, uint64_t *ret_v)
{
	return jval_u64(json_object_get(obj, key), ret_v);
}

/** Integer @p key of @p obj as text, "-" when absent. */
static const char *
jfmt_u64(const json_t *obj, const char *key, char *buf, size_t cap)
{
	uint64_t v;

	if (!jget_u64(obj, key, &v))
		return "-";
	snprintf(buf, cap, "%" PRIu64, v);
	return buf;
}

/** Sum of every count in a "drops" object. @return false if it is not one. */
static bool
drops_sum(json_t *drops, uint64_t *ret_sum)
{
	const char *reason;
	json_t *v;
	uint64_t sum = 0;

	if (!json_is_object(drops))
		return false;
	json_object_foreach(drops, reason, v) {
		uint64_t n;

		if (!jval_u64(v, &n))
			return false;
		sum += n;
	}
	*ret_sum = sum;
	return true;
}

static void
fmt_duration(uint64_t ns, char *buf, size_t cap)
{
	uint64_t s = ns / SL_NS_PER_SEC;

	if (ns < 1000000)
		snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
	else if (ns < SL_NS_PER_SEC)
		snprintf(buf, cap, "%.2f ms", (double)ns / 1e6);
	else if (ns % SL_NS_PER_SEC != 0 && s < 60)
		snprintf(buf, cap, "%.1fs", (double)ns / 1e9);
	else if (s < 60)
		snprintf(buf, cap, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", s / 3600,
			 s / 60 % 60, s % 60);
	else
		snprintf(buf, cap, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m", s / 86400,
			 s / 3600 % 24, s / 60 % 60);
}

static void
print_header(const json_t *root)
{
	const char *version = json_string_value(json_object_get(root, "version"));
	char buf[64];
	uint64_t v;

	printf("sluiced %s", version ? version : "(unknown version)");
	if (jget_u64(root, "uptime_ns", &v)) {
		fmt_duration(v, buf, sizeof(buf));
		printf(", up %s", buf);
	}
	if (jget_u64(root, "window_ns", &v)) {
		fmt_duration(v, buf, sizeof(buf));
		printf(", window %s", buf);
	}
	putchar('\n');
}

static void
print_totals(const json_t *root)
{
	const json_t *pk = json_object_get(root, "packets");
	uint64_t rx, agg, dropped;
	bool have_rx, have_agg, have_drops;
	char b1[32], b2[32], b3[32];

	have_rx = jget_u64(root, "received", &rx);
	have_agg = jget_u64(root, "aggregated", &agg);
	have_drops = drops_sum(json_object_get(root, "drops"), &dropped);
	if (have_drops)
		snprintf(b3, sizeof(b3), "%" PRIu64, dropped);

	printf("\nevents\n");
	printf("  received    %15s\n", jfmt_u64(root, "received", b1, sizeof(b1)));
	printf("  aggregated  %15s\n", jfmt_u64(root, "aggregated", b2, sizeof(b2)));
	printf("  dropped     %15s\n", have_drops ? b3 : "-");
	if (have_rx && have_agg && have_drops) {
		if (rx == agg + dropped)
			printf("  received = aggregated + dropped: OK\n");
		else
			printf("  received = aggregated + dropped: MISMATCH (difference %" PRId64
			       ")\n",
			       (int64_t)(rx - agg - dropped));
	} else {
		printf("  received = aggregated + dropped: n/a (counters missing)\n");
	}

	if (pk != NULL) {
		printf("\npackets\n");
		printf("  received    %15s\n", jfmt_u64(pk, "received", b1, sizeof(b1)));
		printf("  accepted    %15s\n", jfmt_u64(pk, "accepted", b2, sizeof(b2)));
	}
}

static int
print_drops(json_t *root)
{
	static const char *const hdr[] = { "REASON", "EVENTS", "SHARE" };
	json_t *drops = json_object_get(root, "drops");
	const char *reason;
	struct sl_tab tab;
	uint64_t rx = 0;
	json_t *v;
	int rc = 0;

	if (!json_is_object(drops))
		return 0;
	jget_u64(root, "received", &rx);
	sl_tab_init(&tab, 3, hdr, "lrr");
	json_object_foreach(drops, reason, v) {
		char n[32], share[32] = "";
		const char *cells[3] = { reason, n, share };
		uint64_t c;

		if (!jval_u64(v, &c) || c == 0)
			continue;
		snprintf(n, sizeof(n), "%" PRIu64, c);
		if (rx > 0)
			snprintf(share, sizeof(share), "%.2f%%", 100.0 * (double)c / (double)rx);
		if (sl_tab_add(&tab, cells) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	if (tab.nrows == 0) {
		printf("\ndrops: none\n");
	} else {
		printf("\ndrops\n");
		sl_tab_print(&tab, stdout, "  ");
	}
	sl_tab_fini(&tab);
	return rc;
}

static void
join_queues(json_t *queues, char *buf, size_t cap)
{
	size_t i, off = 0;
	json_t *q;

	buf[0] = '\0';
	if (!json_is_array(queues)) {
		snprintf(buf, cap, "-");
		return;
	}
	json_array_foreach(queues, i, q) {
		const char *s = json_string_value(q);
		int n;

		if (s == NULL || off >= cap)
			continue;
		n = snprintf(buf + off, cap - off, "%s%s", off ? "," : "", s);
		if (n > 0)
			off += (size_t)n;
	}
}

/*
 * Poll efficiency of a core: the share of its polls that brought packets,
 * 1 - polls_empty / polls. A busy-polling core near 0 % is idle; near 100 %
 * it is saturated (its queue never runs dry). "-" without the counters.
 */
static const char *
poll_busy(const json_t *c, char *buf, size_t cap)
{
	uint64_t polls, empty;

	if (!jget_u64(c, "polls", &polls) || !jget_u64(c, "polls_empty", &empty) || polls == 0 ||
	    empty > polls)
		return "-";
	snprintf(buf, cap, "%.1f%%", 100.0 * (double)(polls - empty) / (double)polls);
	return buf;
}

static int
print_cores(json_t *root)
{
	static const char *const hdr[] = { "LCORE",      "QUEUES",  "PACKETS", "RECEIVED",
					   "AGGREGATED", "DROPPED", "POLLS",   "EMPTY",
					   "BUSY" };
	json_t *cores = json_object_get(root, "cores");
	bool polls = false;
	struct sl_tab tab;
	json_t *c;
	size_t i;
	int rc = 0;

	if (!json_is_array(cores))
		return 0;
	/* The poll columns only when sluiced counts polls (older ones do not). */
	json_array_foreach(cores, i, c)
		polls = polls || json_object_get(c, "polls") != NULL;
	sl_tab_init(&tab, polls ? 9 : 6, hdr, "rlrrrrrrr");
	json_array_foreach(cores, i, c) {
		char lc[32], q[256], pk[32], rx[32], ag[32], dr[32] = "-", pl[32], pe[32], busy[32];
		const char *cells[9];
		uint64_t d;

		join_queues(json_object_get(c, "queues"), q, sizeof(q));
		if (drops_sum(json_object_get(c, "drops"), &d))
			snprintf(dr, sizeof(dr), "%" PRIu64, d);
		cells[0] = jfmt_u64(c, "lcore", lc, sizeof(lc));
		cells[1] = q;
		cells[2] = jfmt_u64(c, "packets", pk, sizeof(pk));
		cells[3] = jfmt_u64(c, "received", rx, sizeof(rx));
		cells[4] = jfmt_u64(c, "aggregated", ag, sizeof(ag));
		cells[5] = dr;
		cells[6] = jfmt_u64(c, "polls", pl, sizeof(pl));
		cells[7] = jfmt_u64(c, "polls_empty", pe, sizeof(pe));
		cells[8] = poll_busy(c, busy, sizeof(busy));
		if (sl_tab_add(&tab, cells) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	printf("\ncores\n");
	sl_tab_print(&tab, stdout, "  ");
	if (polls)
		printf("  (BUSY: polls that brought packets, 1 - EMPTY / POLLS)\n");
	sl_tab_fini(&tab);
	return rc;
}

static int
print_ports(json_t *root)
{
	static const char *const hdr[] = { "PORT", "NAME", "RX_QUEUES", "IPACKETS", "IMISSED",
					   "RX_NOMBUF" };
	json_t *ports = json_object_get(root, "ports");
	struct sl_tab tab;
	json_t *p;
	size_t i;
	int rc = 0;

	if (!json_is_array(ports))
		return 0;
	sl_tab_init(&tab, 6, hdr, "rlrrrr");
	json_array_foreach(ports, i, p) {
		char id[32], nq[32], ip[32], im[32], nb[32];
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *cells[6] = {
			jfmt_u64(p, "port", id, sizeof(id)),
			name ? name : "-",
			jfmt_u64(p, "rx_queues", nq, sizeof(nq)),
			jfmt_u64(p, "ipackets", ip, sizeof(ip)),
			jfmt_u64(p, "imissed", im, sizeof(im)),
			jfmt_u64(p, "rx_nombuf", nb, sizeof(nb)),
		};

		if (sl_tab_add(&tab, cells) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	printf("\nports\n");
	sl_tab_print(&tab, stdout, "  ");
	sl_tab_fini(&tab);
	return rc;
}

/*
 * Storage counters as "name value" pairs in the server's order, so that keys
 * added by a newer sluiced show up too. last_commit_ns is how long the last
 * commit took in current sluiced; a wall-clock timestamp is shown as a time.
 */
static void
print_storage(json_t *root)
{
	json_t *st = json_object_get(root, "storage"), *v;
	const char *key;
	size_t col = 0, items = 0;

	if (!json_is_object(st))
		return;
	json_object_foreach(st, key, v) {
		char item[160], val[64];
		uint64_t n;
		size_t len;

		if (!jval_u64(v, &n))
			continue;
		if (strcmp(key, "last_commit_ns") == 0) {
			if (n >= SL_STATS_EPOCH_MIN_NS) {
				sl_ctl_fmt_time(n, val, sizeof(val));
				snprintf(item, sizeof(item), "last commit %s UTC", val);
			} else {
				fmt_duration(n, val, sizeof(val));
				snprintf(item, sizeof(item), "last commit took %s", val);
			}
		} else {
			snprintf(item, sizeof(item), "%s %" PRIu64, key, n);
			for (char *c = item; *c != '\0'; c++)
				*c = *c == '_' ? ' ' : *c;
		}
		len = strlen(item);
		if (items++ == 0)
			printf("\nstorage\n");
		if (col > 0 && col + 2 + len > SL_STATS_LINE_MAX) {
			printf(",\n");
			col = 0;
		}
		col += (size_t)printf("%s%s", col == 0 ? "  " : ", ", item);
	}
	if (col > 0)
		putchar('\n');
}

/* Per view: matched = aggregated + late + dropped, and the overflow group. */
static int
print_views(json_t *root)
{
	static const char *const hdr[] = { "VIEW", "MATCHED", "AGGREGATED", "LATE", "DROPPED",
					   "OVERFLOW", "SLICES" };
	json_t *views = json_object_get(root, "views");
	struct sl_tab tab;
	json_t *v;
	size_t i;
	int rc = 0;

	if (!json_is_array(views) || json_array_size(views) == 0)
		return 0;
	sl_tab_init(&tab, 7, hdr, "lrrrrrr");
	json_array_foreach(views, i, v) {
		char m[32], a[32], l[32], d[32], o[32], sc[32];
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *cells[7] = {
			name ? name : "?",
			jfmt_u64(v, "matched", m, sizeof(m)),
			jfmt_u64(v, "aggregated", a, sizeof(a)),
			jfmt_u64(v, "late", l, sizeof(l)),
			jfmt_u64(v, "dropped", d, sizeof(d)),
			jfmt_u64(v, "overflow_events", o, sizeof(o)),
			jfmt_u64(v, "slices_closed", sc, sizeof(sc)),
		};

		if (sl_tab_add(&tab, cells) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	printf("\nviews\n");
	sl_tab_print(&tab, stdout, "  ");
	sl_tab_fini(&tab);
	return rc;
}

static int
stats_report(json_t *root)
{
	print_header(root);
	print_totals(root);
	if (print_drops(root) < 0 || print_cores(root) < 0 || print_ports(root) < 0 ||
	    print_views(root) < 0) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	print_storage(root);
	return SL_EXIT_OK;
}

/* ---- stats rules ---- */

static int
hits_desc(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "hits"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "hits"));

	return (x < y) - (x > y);
}

/* One row per rule, most hits first. */
static int
rules_report(json_t *root)
{
	static const char *const hdr[] = { "RULE", "ACTION", "ON", "TAG", "HITS" };
	json_t *arr = json_object_get(root, "rules");
	size_t n = json_array_size(arr);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	struct sl_tab t;

	if (!json_is_array(arr) || v == NULL) {
		free(v);
		sl_ctl_err("malformed rules reply");
		return SL_EXIT_RUNTIME;
	}
	if (n == 0) {
		free(v);
		printf("no rules in the running configuration\n");
		return SL_EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), hits_desc);
	sl_tab_init(&t, 5, hdr, "llllr");
	for (size_t i = 0; i < n; i++) {
		char hits[32];
		const char *tag = json_string_value(json_object_get(v[i], "tag"));
		const char *cells[5] = {
			json_string_value(json_object_get(v[i], "id")),
			json_string_value(json_object_get(v[i], "action")),
			json_string_value(json_object_get(v[i], "on")), tag ? tag : "-", hits,
		};

		snprintf(hits, sizeof(hits), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(v[i], "hits")));
		for (int k = 0; k < 3; k++)
			if (cells[k] == NULL)
				cells[k] = "?";
		(void)sl_tab_add(&t, cells);
	}
	sl_tab_print(&t, stdout, "");
	sl_tab_fini(&t);
	free(v);
	return SL_EXIT_OK;
}

/* ---- command ---- */

static int
cmd_stats(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *url = NULL;
	const json_t *err;
	json_t *root = NULL;
	bool rules = false;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
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
	if (optind < argc && strcmp(argv[optind], "rules") == 0) {
		rules = true;
		optind++;
	}
	if (optind < argc)
		return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[optind]);
	rc = sl_ctl_source(cmd, url, path, "--socket", SL_STATS_SOCKET_ENV, &url);
	if (rc != SL_EXIT_OK)
		return rc;
	if (url == NULL && path == NULL) {
		path = getenv(SL_STATS_SOCKET_ENV);
		if (path == NULL || path[0] == '\0')
			path = SL_STATS_SOCKET_DEFAULT;
	}
	if (url == NULL && path[0] == '\0')
		return sl_ctl_usage_err(cmd, "empty socket path");

	if (rules && url != NULL)
		return sl_ctl_usage_err(cmd, "stats rules reads the dataplane socket (--socket); "
					"over HTTP the hits are in /metrics");
	rc = url != NULL ? stats_fetch_url(url, &root)
			 : stats_fetch(path, rules ? "rules\n" : "stats\n", &root);
	if (rc != SL_EXIT_OK)
		return rc;

	err = json_object_get(root, "error");
	if (err != NULL) {
		const char *msg = json_string_value(err);

		sl_ctl_err("sluiced: %s", msg ? msg : "error (no message)");
		rc = SL_EXIT_RUNTIME;
	} else if (json) {
		char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));

		if (s == NULL) {
			sl_ctl_err("out of memory");
			rc = SL_EXIT_RUNTIME;
		} else {
			printf("%s\n", s);
			free(s);
		}
	} else if (rules) {
		rc = rules_report(root);
	} else {
		rc = stats_report(root);
	}
	json_decref(root);
	return rc;
}

const struct sl_cmd sl_cmd_stats = {
	.name = "stats",
	.usage = "stats [rules] [--socket PATH | --url URL] [--json]",
	.help = "Ask sluiced for its counters: events received, aggregated and dropped (by\n"
		"reason), per-core counters with the poll efficiency (BUSY: the share of polls\n"
		"that brought packets), per-port counters, per-view counters (matched =\n"
		"aggregated + late + dropped) and storage commits.\n"
		"'stats rules': the hits of every rule of the running rule set, most first\n"
		"(from the control socket; sluice-ctld exports them in /metrics).\n"
		"\n"
		"  -s, --socket PATH  sluiced control socket (default $" SL_STATS_SOCKET_ENV
		", else\n"
		"                     " SL_STATS_SOCKET_DEFAULT ")\n"
		"  -u, --url URL      ask sluice-ctld at URL instead (GET /v1/stats)\n"
		"  --json             print the reply as one line of JSON\n"
		"  -h, --help         show this help\n"
		"\n"
		"Source: --url and --socket exclude each other; without either,\n"
		"$" SL_STATS_SOCKET_ENV " picks the socket, else $" SL_CTL_URL_ENV " sluice-ctld, else the\n"
		"socket at its default.\n",
	.handler = cmd_stats,
};
