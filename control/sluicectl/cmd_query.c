/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * `sluicectl query` (rows of a stored view) and `sluicectl views` (the views
 * registered in the store). Everything is done by control/lib/query.c, which
 * sluice-ctld shares; this file parses arguments and prints. The store is
 * opened read-only and closed before anything is printed.
 *
 * With --url (or $SLUICE_URL, see sl_ctl_source()) both ask sluice-ctld
 * instead: GET /v1/views/{name}?from=&to=&step=&where= and GET /v1/views,
 * whose bodies are the bytes the local form prints with --json; the tables
 * are rendered from that JSON by rows.c.
 */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/common.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "http_client.h"
#include "query.h"
#include "store.h"

#define QUERY_HOUR_NS (3600 * SL_NS_PER_SEC)
/** Bytes of one table cell (a top-k cell is cut well before). */
#define QUERY_CELL_MAX 160

static const char *
db_default(void)
{
	const char *db = getenv(SL_CTL_DB_ENV);

	return db != NULL && db[0] != '\0' ? db : SL_CTL_DB_DEFAULT;
}

/** Write @p len bytes of a reply to stdout. @return SL_EXIT_*. */
static int
write_body(const char *body, size_t len)
{
	if (len > 0 && fwrite(body, 1, len, stdout) != len) {
		sl_ctl_err("cannot write output: %s", strerror(errno));
		return SL_EXIT_RUNTIME;
	}
	return SL_EXIT_OK;
}

/** Open the store read-only; on failure say why. @return 0 or SL_EXIT_RUNTIME. */
static int
db_open(const char *db, struct sl_store **ret)
{
	int rc = sl_store_open(db, 0, SL_STORE_RDONLY, ret);
	const char *hint = "";

	if (rc == 0)
		return 0;
	if (rc == -ENOENT)
		hint = " (no store there; see --db or $" SL_CTL_DB_ENV ")";
	else if (rc == -EPROTO)
		hint = " (schema version mismatch: written by another sluice version)";
	sl_ctl_err("cannot open db %s: %s%s", db, strerror(-rc), hint);
	return SL_EXIT_RUNTIME;
}

/* ---- query ---- */

struct query_opts {
	const char *db;
	const char *url;  /**< sluice-ctld's, or NULL for the store at db. */
	const char *step_arg; /**< --step as given (sent to sluice-ctld). */
	bool json;
	struct sl_query_params p;
	struct sl_query_where where[SL_QUERY_WHERE_MAX];
};

static int
time_opt(const struct sl_cmd *cmd, const char *opt, const char *arg, uint64_t now,
	 uint64_t *ret_ns)
{
	int rc = sl_query_time_parse(arg, now, ret_ns);

	if (rc == -ERANGE)
		return sl_ctl_usage_err(cmd, "%s '%s': out of range", opt, arg);
	if (rc < 0)
		return sl_ctl_usage_err(cmd,
					"%s '%s': expected RFC 3339 (2026-01-01T00:00:00Z), unix "
					"seconds, 'now' or '-DURATION' (-15m)",
					opt, arg);
	return SL_EXIT_OK;
}

static int
where_opt(const struct sl_cmd *cmd, const char *arg, struct query_opts *o)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
		return sl_ctl_usage_err(cmd, "--where '%s': expected DIM=VALUE", arg);
	if (o->p.n_where == SL_QUERY_WHERE_MAX)
		return sl_ctl_usage_err(cmd, "--where '%s': at most %d conditions", arg,
					SL_QUERY_WHERE_MAX);
	/* Split in place: argv strings are ours to modify. */
	*eq = '\0';
	o->where[o->p.n_where].dim = arg;
	o->where[o->p.n_where].value = eq + 1;
	o->p.n_where++;
	return SL_EXIT_OK;
}

static bool
agg_is_text(unsigned int kind)
{
	return kind == SL_CONFIG_AGG_QUANTILES || kind == SL_CONFIG_AGG_TOPK;
}

/** "10s" (tumbling) or "1m every 10s" (sliding). */
static void
window_text(const struct sl_config_view *v, char *buf, size_t cap)
{
	char size[32], slide[32];

	sl_config_duration_fmt(v->window_size_ns, size, sizeof(size));
	if (v->window_slide_ns == v->window_size_ns) {
		snprintf(buf, cap, "%s", size);
		return;
	}
	sl_config_duration_fmt(v->window_slide_ns, slide, sizeof(slide));
	snprintf(buf, cap, "%s every %s", size, slide);
}

/** The title line of the table: view, id, window, time, range, step, rows. */
static void
query_title(const struct query_opts *o, const char *name, unsigned int id, const char *win,
	    const char *time, size_t n)
{
	char from[48], to[48], step[40];

	sl_query_time_fmt(o->p.from_ns, from, sizeof(from));
	sl_query_time_fmt(o->p.to_ns, to, sizeof(to));
	if (o->p.step == SL_QUERY_STEP_FIXED)
		sl_config_duration_fmt(o->p.step_ns, step, sizeof(step));
	else
		snprintf(step, sizeof(step), "%s",
			 o->p.step == SL_QUERY_STEP_ALL ? "all" : "window");
	printf("view %s (id %u): window %s, %s time; %s .. %s, step %s: %zu row%s\n", name, id,
	       win, time, from, to, step, n, n == 1 ? "" : "s");
}

/** Print the rows as a table. @return SL_EXIT_*. */
static int
query_table(const struct query_opts *o, const struct sl_query_result *r)
{
	const struct sl_config_view *v = sl_query_result_view(r);
	const size_t n = sl_query_result_count(r);
	char hdr_dims[SL_CONFIG_GROUP_BY_MAX][SL_CONFIG_DIM_NAME_MAX + 1];
	char cells[SL_TAB_COLS_MAX][QUERY_CELL_MAX];
	const char *hdr[SL_TAB_COLS_MAX], *row[SL_TAB_COLS_MAX];
	char align[SL_TAB_COLS_MAX + 1];
	char win[80];
	bool late = v->keep_late;
	struct sl_query_row qr;
	struct sl_tab tab;
	unsigned int nc = 0;
	int rc = 0;

	for (size_t i = 0; i < n && !late; i++) {
		sl_query_result_row(r, i, &qr);
		late = qr.late > 0;
	}
	hdr[nc] = o->p.step == SL_QUERY_STEP_ALL ? "FROM .. TO" : "WINDOW START";
	align[nc++] = 'l';
	for (uint32_t d = 0; d < v->n_group_by; d++) {
		size_t j;

		for (j = 0; v->group_by[d][j] != '\0' && j < SL_CONFIG_DIM_NAME_MAX; j++)
			hdr_dims[d][j] = (char)toupper((unsigned char)v->group_by[d][j]);
		hdr_dims[d][j] = '\0';
		hdr[nc] = hdr_dims[d];
		align[nc++] = 'l';
	}
	for (uint32_t a = 0; a < v->n_aggs; a++) {
		hdr[nc] = v->aggs[a].key;
		align[nc++] = agg_is_text(v->aggs[a].kind) ? 'l' : 'r';
	}
	if (late) {
		hdr[nc] = "LATE";
		align[nc++] = 'r';
	}
	align[nc] = '\0';

	window_text(v, win, sizeof(win));
	query_title(o, sl_query_result_view_name(r), sl_query_result_view_id(r), win,
		    sl_config_time_name(v->time), n);
	if (n == 0)
		return SL_EXIT_OK;

	sl_tab_init(&tab, nc, hdr, align);
	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned int c = 0;

		sl_query_result_row(r, i, &qr);
		sl_query_time_fmt(qr.window_start, cells[c], sizeof(cells[c]));
		if (o->p.step == SL_QUERY_STEP_ALL) {
			size_t off = strlen(cells[c]);

			snprintf(cells[c] + off, sizeof(cells[c]) - off, " .. ");
			off = strlen(cells[c]);
			sl_query_time_fmt(qr.window_end, cells[c] + off, sizeof(cells[c]) - off);
		}
		row[c] = cells[c];
		c++;
		for (uint32_t d = 0; d < qr.n_dims; d++) {
			uint32_t len = qr.dims[d].len, j;

			/* An absent dimension is shown as "-"; control bytes as '?'. */
			for (j = 0; j < len && j + 1 < QUERY_CELL_MAX; j++) {
				uint8_t b = qr.dims[d].p[j];

				cells[c][j] = b < 0x20 || b == 0x7f ? '?' : (char)b;
			}
			cells[c][j] = '\0';
			row[c] = len > 0 ? cells[c] : "-";
			c++;
		}
		for (uint32_t a = 0; a < v->n_aggs && rc == 0; a++) {
			rc = sl_query_result_cell(r, i, a, cells[c], sizeof(cells[c]));
			row[c] = cells[c];
			c++;
		}
		if (late) {
			snprintf(cells[c], sizeof(cells[c]), "%" PRIu64, qr.late);
			row[c] = cells[c];
			c++;
		}
		if (rc == 0)
			rc = sl_tab_add(&tab, row);
	}
	if (rc == 0)
		sl_tab_print(&tab, stdout, "");
	sl_tab_fini(&tab);
	if (rc < 0) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	return SL_EXIT_OK;
}

static int
query_run(const struct query_opts *o)
{
	struct sl_query_result *r = NULL;
	struct sl_query_error err;
	struct sl_store *store;
	int rc;

	rc = db_open(o->db, &store);
	if (rc != SL_EXIT_OK)
		return rc;
	rc = sl_query_run(store, &o->p, &r, &err);
	sl_store_close(store);
	if (rc < 0) {
		sl_ctl_err("%s", err.msg);
		/* An unknown view; the step or a dimension does not fit it: the arguments. */
		if (rc == -ENOENT)
			return SL_EXIT_NOTFOUND;
		return rc == -EINVAL ? SL_EXIT_USAGE : SL_EXIT_RUNTIME;
	}
	if (sl_query_result_skipped(r) > 0)
		sl_ctl_err("warning: skipped %" PRIu64 " malformed record%s of view '%s' in %s",
			   sl_query_result_skipped(r), sl_query_result_skipped(r) == 1 ? "" : "s",
			   o->p.view, o->db);
	if (o->json) {
		rc = sl_query_result_write_json(r, stdout);
		if (rc == -ENOMEM)
			sl_ctl_err("out of memory");
		rc = rc == 0 ? SL_EXIT_OK : SL_EXIT_RUNTIME;
	} else {
		rc = query_table(o, r);
	}
	sl_query_result_destroy(r);
	return rc;
}

/** The request target of a query: /v1/views/NAME?from=..ns&to=..ns&step=..&where=.. */
static char *
query_target(const struct query_opts *o)
{
	char *t = NULL, *esc;
	size_t len = 0, cap;
	FILE *f = open_memstream(&t, &len);

	if (f == NULL)
		return NULL;
	/* Escapes are at most 3 bytes per byte of the longest string here. */
	cap = strlen(o->p.view) * 3 + 1;
	for (uint32_t i = 0; i < o->p.n_where; i++) {
		size_t n = (strlen(o->where[i].dim) + strlen(o->where[i].value) + 1) * 3 + 1;

		cap = n > cap ? n : cap;
	}
	if (strlen(o->step_arg) * 3 + 1 > cap)
		cap = strlen(o->step_arg) * 3 + 1;
	esc = malloc(cap);
	if (esc == NULL) {
		fclose(f);
		free(t);
		return NULL;
	}
	sl_http_escape(o->p.view, esc, cap);
	fprintf(f, "/v1/views/%s?from=%" PRIu64 "ns&to=%" PRIu64 "ns", esc, o->p.from_ns,
		o->p.to_ns);
	sl_http_escape(o->step_arg, esc, cap);
	fprintf(f, "&step=%s", esc);
	for (uint32_t i = 0; i < o->p.n_where; i++) {
		char *w = NULL;

		if (asprintf(&w, "%s=%s", o->where[i].dim, o->where[i].value) < 0)
			break;
		sl_http_escape(w, esc, cap);
		free(w);
		fprintf(f, "&where=%s", esc);
	}
	free(esc);
	if (fclose(f) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

/** The query through sluice-ctld: its JSON as is, or the table of it. */
static int
query_remote(const struct query_opts *o)
{
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	struct sl_http_response r;
	json_t *rows = NULL, *def = NULL;
	char *target = query_target(o);
	json_error_t jerr;
	char win[80];
	int rc;

	if (target == NULL) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	rc = sl_ctl_http(o->url, "GET", target, hdrs, NULL, 0, SL_CTL_HTTP_TIMEOUT_MS, &r);
	free(target);
	if (rc != SL_EXIT_OK)
		return rc;
	if (r.status != 200) {
		rc = sl_ctl_http_fail(o->url, &r);
		goto out;
	}
	if (o->json) {
		rc = write_body(r.body, r.body_len);
		goto out;
	}
	rows = json_loadb(r.body, r.body_len, 0, &jerr);
	if (rows == NULL) {
		sl_ctl_err("malformed reply from %s: %s (line %d)", o->url, jerr.text, jerr.line);
		rc = SL_EXIT_RUNTIME;
		goto out;
	}
	rc = sl_ctl_view_def(o->url, o->p.view, &def);
	if (rc != SL_EXIT_OK)
		goto out;
	sl_ctl_def_window_text(def, win, sizeof(win));
	query_title(o, o->p.view, (unsigned int)json_integer_value(json_object_get(def, "id")), win,
		    json_string_value(json_object_get(def, "time")) != NULL
			    ? json_string_value(json_object_get(def, "time"))
			    : "?",
		    json_array_size(rows));
	rc = sl_ctl_rows_table(def, rows, o->p.step == SL_QUERY_STEP_ALL, stdout);
out:
	json_decref(rows);
	json_decref(def);
	sl_http_response_fini(&r);
	return rc;
}

static int
cmd_query(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "url", required_argument, NULL, 'u' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "step", required_argument, NULL, 's' },
		{ "where", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const uint64_t now = sl_query_now_ns();
	struct query_opts o = { .json = json, .step_arg = "window" };
	const char *db = NULL, *url = NULL;
	bool from_set = false;
	int c, rc;

	o.p.to_ns = now;
	o.p.step = SL_QUERY_STEP_WINDOW;
	o.p.where = o.where;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:u:f:t:s:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'f':
			rc = time_opt(cmd, "--from", optarg, now, &o.p.from_ns);
			if (rc != SL_EXIT_OK)
				return rc;
			from_set = true;
			break;
		case 't':
			rc = time_opt(cmd, "--to", optarg, now, &o.p.to_ns);
			if (rc != SL_EXIT_OK)
				return rc;
			break;
		case 's':
			if (sl_query_step_parse(optarg, &o.p.step, &o.p.step_ns) != 0)
				return sl_ctl_usage_err(cmd,
							"--step '%s': expected window, all or a "
							"duration (1m, 90s, 1h)",
							optarg);
			o.step_arg = optarg;
			break;
		case 'w':
			rc = where_opt(cmd, optarg, &o);
			if (rc != SL_EXIT_OK)
				return rc;
			break;
		case 'j':
			o.json = true;
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
	o.p.view = argv[optind];
	if (o.p.view[0] == '\0')
		return sl_ctl_usage_err(cmd, "empty VIEW");
	rc = sl_ctl_source(cmd, url, db, "--db", SL_CTL_DB_ENV, &o.url);
	if (rc != SL_EXIT_OK)
		return rc;
	o.db = db ? db : db_default();
	if (o.url == NULL && o.db[0] == '\0')
		return sl_ctl_usage_err(cmd, "empty --db");
	/* Default range: the hour before --to. */
	if (!from_set)
		o.p.from_ns = o.p.to_ns > QUERY_HOUR_NS ? o.p.to_ns - QUERY_HOUR_NS : 0;
	if (o.p.from_ns >= o.p.to_ns)
		return sl_ctl_usage_err(cmd, "empty range: --from must be before --to");
	return o.url != NULL ? query_remote(&o) : query_run(&o);
}

const struct sl_cmd sl_cmd_query = {
	.name = "query",
	.usage = "query VIEW [--db DIR | --url URL] [--from T] [--to T] [--step window|D|all] "
		 "[--where DIM=VALUE]... [--json]",
	.help = "Print the aggregates of a view from the store (opened read-only: safe while\n"
		"sluiced runs), or from sluice-ctld with --url, one row per window and group,\n"
		"sorted by window end, then group. docs/queries.md has the details.\n"
		"\n"
		"  -d, --db DIR          store directory (default $" SL_CTL_DB_ENV
		", else " SL_CTL_DB_DEFAULT ")\n"
		"  -u, --url URL         ask sluice-ctld at URL instead (GET /v1/views/VIEW); the\n"
		"                        same rows, the same output\n"
		"  -f, --from T          rows whose window starts at or after T (default: an hour\n"
		"                        before --to)\n"
		"  -t, --to T            ... and before T (default: now)\n"
		"  -s, --step STEP       window (default): the view's own windows; a sliding\n"
		"                        window merges its slices, and a window starting before\n"
		"                        --to is complete (its later slices are read too);\n"
		"                        D (a duration, a multiple of the view's slide): buckets\n"
		"                        [b, b+D), b a multiple of D, merging the slices that\n"
		"                        start in them (each event counted once);\n"
		"                        all: one row per group over the whole range\n"
		"                        (window_start/window_end: the first slice start and the\n"
		"                        last slice end merged)\n"
		"  -w, --where DIM=VALUE only groups whose group_by dimension DIM is VALUE (\"\"\n"
		"                        for an absent one); repeat for more (all must hold)\n"
		"  --json                one JSON array of rows {\"view\", \"window_start\",\n"
		"                        \"window_end\", \"group\", \"values\", \"late\"}, the shape of\n"
		"                        sluice-gen --truth\n"
		"  -h, --help            show this help\n"
		"\n"
		"T is RFC 3339 (\"2026-01-01T00:00:00Z\", \"2026-01-01T01:00:00.5+01:00\",\n"
		"\"2026-01-01\"), unix seconds (\"1767225600\", \"1767225600.25\"), unix ns (13\n"
		"digits or more, or an \"ns\" suffix), \"now\", or \"-D\": D before now (\"-15m\",\n"
		"\"-1.5h\", \"-7d\").\n"
		"Source: --url and --db exclude each other; without either, $" SL_CTL_DB_ENV " picks\n"
		"the store, else $" SL_CTL_URL_ENV " sluice-ctld, else the store at " SL_CTL_DB_DEFAULT ".\n"
		"Exit status: 0 success (also with no rows), 1 runtime error (no store, a corrupt\n"
		"definition, sluice-ctld unreachable or failing), 2 usage error (also a step that\n"
		"is not a multiple of the view's slide, a dimension that is not in its group_by),\n"
		"3 unknown view.\n"
		"\n"
		"The last hour of 'sales' per minute for one store:\n"
		"  sluicectl query sales --from -1h --step 1m --where store=s03\n",
	.handler = cmd_query,
};

/* ---- views ---- */

static int
views_table(const struct sl_query_views *vs)
{
	static const char *const hdr[] = { "NAME",     "ID",       "WINDOW",    "TIME",
					   "LATENESS", "GROUP BY", "RETENTION", "AGGREGATES" };
	const uint32_t n = sl_query_views_count(vs);
	char id[16], win[80], late[48], ret[32], by[SL_CONFIG_GROUP_BY_MAX * 66], aggs[2048];
	struct sl_tab tab;
	int rc = 0;

	sl_tab_init(&tab, 8, hdr, "lrllllll");
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct sl_query_view_info *info = sl_query_views_get(vs, i);
		const struct sl_config_view *v = info->view;
		const char *row[8];
		size_t off = 0;

		snprintf(id, sizeof(id), "%u", info->id);
		row[0] = info->name;
		row[1] = id;
		if (v == NULL) {
			sl_ctl_err("warning: %s", info->error);
			for (unsigned int c = 2; c < 8; c++)
				row[c] = "?";
			rc = sl_tab_add(&tab, row);
			continue;
		}
		window_text(v, win, sizeof(win));
		if (v->time == SL_CONFIG_TIME_ARRIVAL) {
			snprintf(late, sizeof(late), "-");
		} else {
			sl_config_duration_fmt(v->allowed_lateness_ns, late, sizeof(late));
			if (v->keep_late) {
				off = strlen(late);
				snprintf(late + off, sizeof(late) - off, ", counted");
			}
		}
		if (v->retention_ns == 0)
			snprintf(ret, sizeof(ret), "forever");
		else
			sl_config_duration_fmt(v->retention_ns, ret, sizeof(ret));
		off = 0;
		by[0] = '\0';
		for (uint32_t d = 0; d < v->n_group_by && off < sizeof(by); d++)
			off += (size_t)snprintf(by + off, sizeof(by) - off, "%s%s", d ? "," : "",
						v->group_by[d]);
		off = 0;
		aggs[0] = '\0';
		for (uint32_t a = 0; a < v->n_aggs && off < sizeof(aggs); a++)
			off += (size_t)snprintf(aggs + off, sizeof(aggs) - off, "%s%s", a ? " " : "",
						v->aggs[a].key);
		row[2] = win;
		row[3] = sl_config_time_name(v->time);
		row[4] = late;
		row[5] = v->n_group_by > 0 ? by : "-";
		row[6] = ret;
		row[7] = aggs;
		rc = sl_tab_add(&tab, row);
	}
	if (rc == 0)
		sl_tab_print(&tab, stdout, "");
	sl_tab_fini(&tab);
	if (rc < 0) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	return SL_EXIT_OK;
}

/** One row per view of `views --json` as sluice-ctld sends it. @return SL_EXIT_*. */
static int
views_table_json(const json_t *views)
{
	static const char *const hdr[] = { "NAME",     "ID",       "WINDOW",    "TIME",
					   "LATENESS", "GROUP BY", "RETENTION", "AGGREGATES" };
	char id[16], win[80], late[48], ret[32], by[SL_CONFIG_GROUP_BY_MAX * 66], aggs[2048];
	struct sl_tab tab;
	const json_t *v;
	size_t i;
	int rc = 0;

	sl_tab_init(&tab, 8, hdr, "lrllllll");
	json_array_foreach(views, i, v) {
		const char *name = json_string_value(json_object_get(v, "view"));
		const char *time = json_string_value(json_object_get(v, "time"));
		const char *error = json_string_value(json_object_get(v, "error"));
		const json_t *list, *e;
		const char *row[8];
		size_t j, off = 0;

		if (rc != 0)
			break;
		snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(v, "id")));
		row[0] = name ? name : "?";
		row[1] = id;
		if (error != NULL || time == NULL) {
			sl_ctl_err("warning: %s", error ? error : "a view without a definition");
			for (unsigned int c = 2; c < 8; c++)
				row[c] = "?";
			rc = sl_tab_add(&tab, row);
			continue;
		}
		sl_ctl_def_window_text(v, win, sizeof(win));
		if (strcmp(time, "arrival") == 0) {
			snprintf(late, sizeof(late), "-");
		} else {
			sl_config_duration_fmt(
				(uint64_t)json_integer_value(json_object_get(v, "allowed_lateness_ns")),
				late, sizeof(late));
			if (json_is_true(json_object_get(v, "keep_late"))) {
				off = strlen(late);
				snprintf(late + off, sizeof(late) - off, ", counted");
			}
		}
		if (json_integer_value(json_object_get(v, "retention_ns")) == 0)
			snprintf(ret, sizeof(ret), "forever");
		else
			sl_config_duration_fmt(
				(uint64_t)json_integer_value(json_object_get(v, "retention_ns")), ret,
				sizeof(ret));
		off = 0;
		by[0] = '\0';
		list = json_object_get(v, "group_by");
		json_array_foreach(list, j, e) {
			if (off < sizeof(by))
				off += (size_t)snprintf(by + off, sizeof(by) - off, "%s%s",
							j ? "," : "", json_string_value(e));
		}
		off = 0;
		aggs[0] = '\0';
		list = json_object_get(v, "aggregates");
		json_array_foreach(list, j, e) {
			const char *key = json_string_value(json_object_get(e, "key"));

			if (off < sizeof(aggs))
				off += (size_t)snprintf(aggs + off, sizeof(aggs) - off, "%s%s",
							j ? " " : "", key ? key : "?");
		}
		row[2] = win;
		row[3] = time;
		row[4] = late;
		row[5] = by[0] != '\0' ? by : "-";
		row[6] = ret;
		row[7] = aggs;
		rc = sl_tab_add(&tab, row);
	}
	if (rc == 0)
		sl_tab_print(&tab, stdout, "");
	sl_tab_fini(&tab);
	if (rc < 0) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	return SL_EXIT_OK;
}

/** `views` through sluice-ctld: GET /v1/views, as is with --json. */
static int
views_remote(const char *url, bool json)
{
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	struct sl_http_response r;
	json_t *views = NULL;
	json_error_t jerr;
	int rc;

	rc = sl_ctl_http(url, "GET", "/v1/views", hdrs, NULL, 0, SL_CTL_HTTP_TIMEOUT_MS, &r);
	if (rc != SL_EXIT_OK)
		return rc;
	if (r.status != 200) {
		rc = sl_ctl_http_fail(url, &r);
	} else if (json) {
		rc = write_body(r.body, r.body_len);
	} else if ((views = json_loadb(r.body, r.body_len, 0, &jerr)) == NULL ||
		   !json_is_array(views)) {
		sl_ctl_err("malformed reply to GET %s/v1/views: %s", url,
			   views ? "not an array" : jerr.text);
		rc = SL_EXIT_RUNTIME;
	} else if (json_array_size(views) == 0) {
		fflush(stdout);
		fprintf(stderr, "no views registered (sluice-ctld at %s)\n", url);
		rc = SL_EXIT_OK;
	} else {
		rc = views_table_json(views);
	}
	json_decref(views);
	sl_http_response_fini(&r);
	return rc;
}

static int
cmd_views(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_query_views *vs = NULL;
	const char *db = NULL, *url = NULL;
	struct sl_query_error err;
	struct sl_store *store;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
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
	if (optind < argc)
		return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[optind]);
	rc = sl_ctl_source(cmd, url, db, "--db", SL_CTL_DB_ENV, &url);
	if (rc != SL_EXIT_OK)
		return rc;
	if (url != NULL)
		return views_remote(url, json);
	if (db == NULL)
		db = db_default();
	if (db[0] == '\0')
		return sl_ctl_usage_err(cmd, "empty --db");
	rc = db_open(db, &store);
	if (rc != SL_EXIT_OK)
		return rc;
	rc = sl_query_views_load(store, &vs, &err);
	sl_store_close(store);
	if (rc < 0) {
		sl_ctl_err("%s", err.msg);
		return SL_EXIT_RUNTIME;
	}
	if (json) {
		rc = sl_query_views_write_json(vs, stdout) == 0 ? SL_EXIT_OK : SL_EXIT_RUNTIME;
	} else if (sl_query_views_count(vs) == 0) {
		fflush(stdout);
		fprintf(stderr, "no views registered in %s\n", db);
		rc = SL_EXIT_OK;
	} else {
		rc = views_table(vs);
	}
	sl_query_views_destroy(vs);
	return rc;
}

const struct sl_cmd sl_cmd_views = {
	.name = "views",
	.usage = "views [--db DIR | --url URL] [--json]",
	.help = "List the views registered in the store (opened read-only), or known to\n"
		"sluice-ctld with --url: name, id, window (\"1m every 10s\" when sliding), time,\n"
		"allowed lateness (\", counted\" when late events are counted), group_by,\n"
		"retention and aggregates, in name order.\n"
		"\n"
		"  -d, --db DIR   store directory (default $" SL_CTL_DB_ENV ", else " SL_CTL_DB_DEFAULT
		")\n"
		"  -u, --url URL  ask sluice-ctld at URL instead (GET /v1/views)\n"
		"  --json         one JSON array of view definitions (the \"view_defs\" shape of\n"
		"                 sluice-gen --truth, with \"id\" and \"retention_ns\")\n"
		"  -h, --help     show this help\n"
		"\n"
		"Source: as for query (--url and --db exclude each other; then $" SL_CTL_DB_ENV ",\n"
		"$" SL_CTL_URL_ENV ", the store at " SL_CTL_DB_DEFAULT ").\n",
	.handler = cmd_views,
};
