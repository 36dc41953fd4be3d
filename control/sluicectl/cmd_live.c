/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * `sluicectl live` (the open windows of a view, from the dataplane through
 * sluice-ctld: GET /v1/views/{name}/live) and `sluicectl watch` (each window
 * of a view as soon as it is committed: GET /v1/views/{name}/stream, a
 * text/event-stream of one "window" event per window).
 *
 * watch follows the stream until Ctrl-C (exit 0), --count windows or
 * --duration. A dropped connection, or one silent for longer than three
 * keepalive periods, is reopened with Last-Event-ID set to the last window
 * received, so that sluice-ctld resends what was committed in between and
 * nothing twice. Only the first connection's failure is fatal: later ones
 * are retried with a growing pause (the server's "retry:" when it sent one).
 *
 * Threading: single-threaded; SIGINT/SIGTERM only set a flag, and the poll()
 * they interrupt returns -EINTR up to the loop.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "http_client.h"
#include "query.h"

/** Silence after which a stream is taken for dead: three keepalives of sluice-ctld (15 s). */
#define WATCH_IDLE_MS 45000
/** Pauses between reconnections: doubling from the first to the last. */
#define WATCH_RETRY_MIN_MS 500
#define WATCH_RETRY_MAX_MS 5000

/** The target "/v1/views/NAME/SUFFIX", NAME escaped. NULL: no memory. */
static char *
view_target(const char *view, const char *suffix)
{
	size_t cap = strlen(view) * 3 + 1;
	char *esc = malloc(cap), *t = NULL;

	if (esc == NULL)
		return NULL;
	sl_http_escape(view, esc, cap);
	if (asprintf(&t, "/v1/views/%s/%s", esc, suffix) < 0)
		t = NULL;
	free(esc);
	return t;
}

/** The title line of a view's rows: name, id, window, time, then @p what. */
static void
view_title(const char *view, const json_t *def, const char *what, size_t n)
{
	const char *time = json_string_value(json_object_get(def, "time"));
	char win[80];

	sl_ctl_def_window_text(def, win, sizeof(win));
	printf("view %s (id %" JSON_INTEGER_FORMAT "): window %s, %s time; %s: %zu row%s\n", view,
	       json_integer_value(json_object_get(def, "id")), win, time ? time : "?", what, n,
	       n == 1 ? "" : "s");
}

/* ---- live ---- */

static int
cmd_live(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	struct sl_http_response r = { 0 };
	json_t *rows = NULL, *def = NULL;
	const char *url = NULL, *view;
	json_error_t jerr;
	char *target;
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
	if (optind >= argc)
		return sl_ctl_usage_err(cmd, "missing VIEW");
	if (optind + 1 < argc)
		return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[optind + 1]);
	view = argv[optind];
	if (view[0] == '\0')
		return sl_ctl_usage_err(cmd, "empty VIEW");
	url = sl_ctl_url(url);

	target = view_target(view, "live");
	if (target == NULL) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	rc = sl_ctl_http(url, "GET", target, hdrs, NULL, 0, SL_CTL_HTTP_TIMEOUT_MS, &r);
	free(target);
	if (rc != SL_EXIT_OK)
		return rc;
	if (r.status != 200) {
		rc = sl_ctl_http_fail(url, &r);
		goto out;
	}
	if (json) {
		if (r.body_len > 0 && fwrite(r.body, 1, r.body_len, stdout) != r.body_len)
			rc = SL_EXIT_RUNTIME; /* reported by sl_ctl_finish() */
		else if (r.body_len > 0 && r.body[r.body_len - 1] != '\n')
			putchar('\n');
		goto out;
	}
	rows = json_loadb(r.body, r.body_len, 0, &jerr);
	if (!json_is_array(rows)) {
		sl_ctl_err("malformed reply from %s: %s", url, rows ? "not an array" : jerr.text);
		rc = SL_EXIT_RUNTIME;
		goto out;
	}
	rc = sl_ctl_view_def(url, view, &def);
	if (rc != SL_EXIT_OK)
		goto out;
	view_title(view, def, "open windows", json_array_size(rows));
	rc = sl_ctl_rows_table(def, rows, false, stdout);
out:
	json_decref(rows);
	json_decref(def);
	sl_http_response_fini(&r);
	return rc;
}

const struct sl_cmd sl_cmd_live = {
	.name = "live",
	.usage = "live VIEW [--url URL] [--json]",
	.help = "Print the windows of a view that are still open in the dataplane (not yet\n"
		"committed to the store), merged across cores, through sluice-ctld\n"
		"(GET /v1/views/VIEW/live). The values are those so far.\n"
		"\n"
		"  -u, --url URL  sluice-ctld (default $" SL_CTL_URL_ENV
		", else " SL_CTL_URL_DEFAULT ")\n"
		"  --json         one JSON array of rows, the shape of query --json\n"
		"  -h, --help     show this help\n"
		"\n"
		"Exit status: 0 ok, 1 sluice-ctld or the dataplane unreachable, 2 usage error,\n"
		"3 unknown view.\n",
	.handler = cmd_live,
};

/* ---- watch ---- */

static volatile sig_atomic_t watch_stop;

static void
on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

struct watch {
	const char *url;
	const char *view;
	const json_t *def;
	bool json;
	uint64_t count; /**< Stop after this many windows (0: never). */
	uint64_t seen;	/**< Windows printed. */
	int rc;		/**< Set by the event callback on a fatal error. */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One event of the stream. @return 0 to go on, 1 to stop. */
static int
on_event(const struct sl_sse_event *ev, void *arg)
{
	struct watch *w = arg;
	json_error_t jerr;
	json_t *win, *rows;
	char from[48], to[48], what[128];

	if (strcmp(ev->event, "error") == 0) {
		sl_ctl_err("sluice-ctld: %s", ev->data);
		return 0;
	}
	if (strcmp(ev->event, "window") != 0)
		return 0;
	if (w->json) {
		/* The event's data is the object: one line (a line break is a blank in JSON). */
		for (size_t i = 0; i < ev->data_len; i++)
			putchar(ev->data[i] == '\n' ? ' ' : ev->data[i]);
		putchar('\n');
	} else {
		win = json_loadb(ev->data, ev->data_len, 0, &jerr);
		rows = json_object_get(win, "rows");
		if (!json_is_array(rows)) {
			sl_ctl_err("malformed window event (id %s): %s", ev->id,
				   win ? "no rows" : jerr.text);
			json_decref(win);
			w->rc = SL_EXIT_RUNTIME;
			return 1;
		}
		sl_query_time_fmt(
			(uint64_t)json_integer_value(json_object_get(win, "window_start")), from,
			sizeof(from));
		sl_query_time_fmt((uint64_t)json_integer_value(json_object_get(win, "window_end")),
				  to, sizeof(to));
		snprintf(what, sizeof(what), "%s .. %s", from, to);
		if (w->seen > 0)
			putchar('\n');
		view_title(w->view, w->def, what, json_array_size(rows));
		w->rc = sl_ctl_rows_table(w->def, rows, false, stdout);
		json_decref(win);
		if (w->rc != SL_EXIT_OK)
			return 1;
	}
	fflush(stdout);
	if (ferror(stdout)) {
		w->rc = SL_EXIT_RUNTIME; /* reported by sl_ctl_finish() */
		return 1;
	}
	w->seen++;
	return w->count > 0 && w->seen >= w->count ? 1 : 0;
}

/** Sleep @p ms unless a signal comes first. */
static void
pause_ms(int64_t ms)
{
	if (ms > 0 && !watch_stop)
		poll(NULL, 0, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

/**
 * Open the stream. @return 0 with @p ret set; 1 to retry later; or an
 * SL_EXIT_* + 10 for a fatal error (printed when @p first).
 */
static int
watch_open(const struct watch *w, const struct sl_http_url *u, const char *target,
	   const char *last_id, bool first, struct sl_http_conn **ret, char *why, size_t cap)
{
	const char *hdrs[3] = { "Accept: text/event-stream", NULL, NULL };
	struct sl_http_request req = {
		.method = "GET", .target = target, .headers = hdrs, .timeout_ms = 10000
	};
	struct sl_http_conn *c = NULL;
	struct sl_http_error err;
	char idh[128];
	const char *ct;
	int rc, st;

	if (last_id[0] != '\0') {
		snprintf(idh, sizeof(idh), "Last-Event-ID: %s", last_id);
		hdrs[1] = idh;
	}
	rc = sl_http_open(u, &req, &c, &err);
	if (rc == -EINTR)
		return 1;
	if (rc < 0) {
		snprintf(why, cap, "%s", err.msg);
		if (!first)
			return 1;
		if (rc == -ECONNREFUSED || rc == -EHOSTUNREACH)
			sl_ctl_err(
				"cannot reach sluice-ctld at %s: %s (is sluice-ctld running? see "
				"--url or $" SL_CTL_URL_ENV ")",
				w->url, err.msg);
		else
			sl_ctl_err("GET %s%s: %s", w->url, target, err.msg);
		return 10 + SL_EXIT_RUNTIME;
	}
	st = sl_http_conn_status(c);
	ct = sl_http_conn_header(c, "Content-Type");
	if (st == 200 && ct != NULL && strncmp(ct, "text/event-stream", 17) == 0) {
		*ret = c;
		return 0;
	}
	if (st == 200) {
		snprintf(why, cap, "not an event stream (Content-Type '%s')", ct ? ct : "");
		sl_ctl_err("GET %s%s: %s", w->url, target, why);
		sl_http_close(c);
		return 10 + SL_EXIT_RUNTIME;
	}
	/* An error answer: its body says why; overloaded or restarting servers are retried. */
	{
		struct sl_http_response r = { .status = st, .content_type = NULL };
		char body[1024];
		size_t len = 0;
		ssize_t n;

		while (len + 1 < sizeof(body) &&
		       (n = sl_http_conn_read(c, body + len, sizeof(body) - 1 - len, 2000, NULL)) >
			       0)
			len += (size_t)n;
		body[len] = '\0';
		sl_http_close(c);
		snprintf(why, cap, "HTTP %d", st);
		if (!first && (st == 502 || st == 503 || st == 504))
			return 1;
		r.body = body;
		r.body_len = len;
		return 10 + sl_ctl_http_fail(w->url, &r);
	}
}

/** Read the stream into the parser until it ends. @return 0 (reconnect) or 1 (stop). */
static int
watch_read(struct watch *w, struct sl_http_conn *c, struct sl_sse_parser *p, int64_t end_ms,
	   char *why, size_t cap)
{
	struct sl_http_error err;
	char buf[16384];

	for (;;) {
		int timeout = WATCH_IDLE_MS;
		ssize_t n;
		int rc;

		if (end_ms >= 0) {
			int64_t left = end_ms - mono_ms();

			if (left <= 0)
				return 1;
			timeout = left < timeout ? (int)left : timeout;
		}
		n = sl_http_conn_read(c, buf, sizeof(buf), timeout, &err);
		if (watch_stop || n == -EINTR)
			return 1;
		if (n == -ETIMEDOUT && end_ms >= 0 && mono_ms() >= end_ms)
			return 1;
		if (n == 0) {
			snprintf(why, cap, "the server ended the stream");
			return 0;
		}
		if (n < 0) {
			snprintf(why, cap, "%s",
				 n == -ETIMEDOUT ? "no data or keepalive for 45 s" : err.msg);
			return 0;
		}
		rc = sl_sse_parser_feed(p, buf, (size_t)n, on_event, w);
		if (rc == -EMSGSIZE || rc == -ENOMEM) {
			sl_ctl_err("the event stream from %s: %s", w->url,
				   rc == -ENOMEM ? "out of memory" : "an event over 64 MiB");
			w->rc = SL_EXIT_RUNTIME;
			return 1;
		}
		if (rc != 0)
			return 1;
	}
}

static int
cmd_watch(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct watch w = { .json = json };
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	struct sl_sse_parser *p = NULL;
	char *stream = NULL, *target = NULL, why[320] = "";
	const char *url = NULL, *from_arg = NULL;
	uint64_t from_ns = 0, dur_ns = 0;
	int64_t end_ms = -1, retry = WATCH_RETRY_MIN_MS;
	struct sl_http_error uerr;
	struct sl_http_url u;
	json_t *def = NULL;
	bool first = true;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":u:f:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'f':
			from_arg = optarg;
			rc = sl_query_time_parse(optarg, sl_query_now_ns(), &from_ns);
			if (rc < 0)
				return sl_ctl_usage_err(
					cmd,
					"--from '%s': expected RFC 3339, unix seconds, "
					"'now' or '-DURATION' (-15m)",
					optarg);
			break;
		case 'n':
			if (sl_config_size_parse(optarg, 1, UINT64_MAX, &w.count) != 0)
				return sl_ctl_usage_err(cmd, "--count '%s': expected a number >= 1",
							optarg);
			break;
		case 'D':
			if (sl_config_duration_parse(optarg, &dur_ns) != 0 || dur_ns == 0)
				return sl_ctl_usage_err(cmd,
							"--duration '%s': expected a duration "
							"(30s, 5m)",
							optarg);
			break;
		case 'j':
			w.json = true;
			break;
		case 'h':
			return sl_ctl_cmd_help(cmd);
		default:
			return sl_ctl_opt_err(cmd, c, argv);
		}
	}
	if (optind >= argc)
		return sl_ctl_usage_err(cmd, "missing VIEW");
	if (optind + 1 < argc)
		return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[optind + 1]);
	w.view = argv[optind];
	if (w.view[0] == '\0')
		return sl_ctl_usage_err(cmd, "empty VIEW");
	w.url = sl_ctl_url(url);
	if (sl_http_url_parse(w.url, &u, &uerr) < 0) {
		sl_ctl_err("bad --url: %s", uerr.msg);
		return SL_EXIT_USAGE;
	}
	if (dur_ns > 0)
		end_ms = mono_ms() + (int64_t)(dur_ns / 1000000);

	/* The definition for the tables; an unknown view ends here (exit 3). */
	rc = sl_ctl_view_def(w.url, w.view, &def);
	if (rc != SL_EXIT_OK)
		return rc;
	w.def = def;
	p = sl_sse_parser_create(64u << 20);
	stream = view_target(w.view, "stream");
	if (p == NULL || stream == NULL) {
		sl_ctl_err("out of memory");
		rc = SL_EXIT_RUNTIME;
		goto out;
	}

	watch_stop = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = SL_EXIT_OK;
	while (!watch_stop) {
		const char *last = sl_sse_parser_last_id(p);
		struct sl_http_conn *conn = NULL;
		int o;

		/* History from --from until a window came; then Last-Event-ID says where we are. */
		free(target);
		if (last[0] == '\0' && from_arg != NULL)
			o = asprintf(&target, "%s?from=%" PRIu64 "ns", stream, from_ns);
		else
			o = asprintf(&target, "%s", stream);
		if (o < 0) {
			target = NULL;
			sl_ctl_err("out of memory");
			rc = SL_EXIT_RUNTIME;
			break;
		}
		o = watch_open(&w, &u, target, last, first, &conn, why, sizeof(why));
		if (o >= 10) {
			rc = o - 10;
			break;
		}
		if (o == 0) {
			first = false;
			retry = WATCH_RETRY_MIN_MS;
			sl_sse_parser_reset(p);
			o = watch_read(&w, conn, p, end_ms, why, sizeof(why));
			sl_http_close(conn);
			if (o == 1 || w.rc != SL_EXIT_OK) {
				rc = w.rc;
				break;
			}
		}
		if (watch_stop || (end_ms >= 0 && mono_ms() >= end_ms))
			break;
		/* Reconnect after a pause: the server's retry: when it gave one. */
		if (sl_sse_parser_retry_ms(p) > 0)
			retry = (int64_t)(sl_sse_parser_retry_ms(p) < WATCH_RETRY_MAX_MS * 12
						  ? sl_sse_parser_retry_ms(p)
						  : WATCH_RETRY_MAX_MS * 12);
		sl_ctl_err("%s: %s; reconnecting in %.1f s%s%s", w.url, why, (double)retry / 1000,
			   sl_sse_parser_last_id(p)[0] ? " after window " : "",
			   sl_sse_parser_last_id(p));
		if (end_ms >= 0 && end_ms - mono_ms() < retry)
			retry = end_ms - mono_ms();
		pause_ms(retry);
		retry = retry * 2 < WATCH_RETRY_MAX_MS ? retry * 2 : WATCH_RETRY_MAX_MS;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
out:
	free(target);
	free(stream);
	sl_sse_parser_destroy(p);
	json_decref(def);
	return rc;
}

const struct sl_cmd sl_cmd_watch = {
	.name = "watch",
	.usage = "watch VIEW [--url URL] [--from T] [--count N] [--duration D] [--json]",
	.help = "Follow a view through sluice-ctld (GET /v1/views/VIEW/stream): print each\n"
		"window as soon as it is committed to the store, in window order, each once. A\n"
		"dropped connection is reopened with the last window received (Last-Event-ID),\n"
		"so nothing is missed or repeated; Ctrl-C ends (exit 0). A window amended by\n"
		"late events after it was sent is not sent again: query it for the final values.\n"
		"\n"
		"  -u, --url URL     sluice-ctld (default $" SL_CTL_URL_ENV
		", else " SL_CTL_URL_DEFAULT ")\n"
		"  -f, --from T      first the stored windows starting at or after T (T as in\n"
		"                    query: RFC 3339, unix seconds, now, -15m), then the new ones;\n"
		"                    default: only windows committed from now on\n"
		"  -n, --count N     exit after N windows\n"
		"  --duration D      exit after D (30s, 5m)\n"
		"  --json            one JSON object per line and window: {\"view\",\n"
		"                    \"window_start\", \"window_end\", \"rows\": [rows as query --json]}\n"
		"  -h, --help        show this help\n"
		"\n"
		"Exit status: 0 ended (Ctrl-C, --count, --duration), 1 sluice-ctld unreachable\n"
		"at the start or a malformed stream, 2 usage error, 3 unknown view.\n",
	.handler = cmd_watch,
};
