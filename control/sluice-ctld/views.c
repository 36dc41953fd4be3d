/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * The views endpoints (see views.h). The store is locked for the query
 * itself only (sl_query_run() returns a result that owns everything); the
 * JSON is written afterwards, as `sluicectl query` does.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/common.h>

#include "query.h"
#include "sse.h"
#include "store.h"
#include "views.h"

#define SL_CTLD_HOUR_NS (3600 * SL_NS_PER_SEC)
/*
 * sluice-ctld's bounds of one result: the rows of the CLI's default, but a
 * quarter of its bytes, as up to SL_CTLD_THREADS queries run at once.
 */
#define SL_CTLD_QUERY_ROWS SL_QUERY_ROWS_DEFAULT
#define SL_CTLD_QUERY_BYTES (256ULL << 20)

static enum MHD_Result
bad(struct sl_ctld *c, struct MHD_Connection *conn, const char *msg)
{
	return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST, SL_CTLD_REFUSED_BAD_REQUEST, msg);
}

enum MHD_Result
sl_ctld_views_list(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	struct sl_query_views *vs = NULL;
	struct sl_query_error err;
	struct sl_store *s;
	char why[256], *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	(void)rest;
	if (sl_ctld_store_lock(c, &s, why, sizeof(why)) < 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_SERVICE_UNAVAILABLE, SL_CTLD_REFUSED_STORE,
				      why);
	rc = sl_query_views_load(s, &vs, &err);
	sl_ctld_store_release(c, rc);
	if (rc < 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      SL_CTLD_REFUSED_INTERNAL, err.msg);
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		sl_query_views_destroy(vs);
		return MHD_NO;
	}
	rc = sl_query_views_write_json(vs, f);
	sl_query_views_destroy(vs);
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		return MHD_NO;
	}
	return sl_ctld_reply(conn, MHD_HTTP_OK, SL_CTLD_JSON, buf, len);
}

/* ---- GET /v1/views/{name}: the query ---- */

struct qargs {
	const char *from, *to, *step;
	struct sl_query_where where[SL_QUERY_WHERE_MAX];
	char *dims[SL_QUERY_WHERE_MAX]; /* owned copies of the where dimensions */
	uint32_t n_where;
	char bad[160];                  /* first problem found, "" if none */
};

static enum MHD_Result
qarg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct qargs *a = cls;
	const char *eq;

	(void)kind;
	if (a->bad[0] != '\0')
		return MHD_NO;
	if (value == NULL)
		value = "";
	if (strcmp(key, "from") == 0) {
		a->from = value;
	} else if (strcmp(key, "to") == 0) {
		a->to = value;
	} else if (strcmp(key, "step") == 0) {
		a->step = value;
	} else if (strcmp(key, "where") == 0) {
		eq = strchr(value, '=');
		if (eq == NULL || eq == value) {
			snprintf(a->bad, sizeof(a->bad), "where '%.100s': expected DIM=VALUE",
				 value);
			return MHD_NO;
		}
		if (a->n_where == SL_QUERY_WHERE_MAX) {
			snprintf(a->bad, sizeof(a->bad), "at most %d where conditions",
				 SL_QUERY_WHERE_MAX);
			return MHD_NO;
		}
		a->dims[a->n_where] = strndup(value, (size_t)(eq - value));
		if (a->dims[a->n_where] == NULL) {
			snprintf(a->bad, sizeof(a->bad), "out of memory");
			return MHD_NO;
		}
		a->where[a->n_where].dim = a->dims[a->n_where];
		a->where[a->n_where].value = eq + 1;
		a->n_where++;
	} else if (key[0] != '_') {
		/* "_" parameters are cache busters; any other unknown one is a typo. */
		snprintf(a->bad, sizeof(a->bad),
			 "unknown parameter '%.60s' (expected from, to, step, where)", key);
		return MHD_NO;
	}
	return MHD_YES;
}

static int
time_arg(const char *name, const char *v, uint64_t now, uint64_t *ret, char *why, size_t cap)
{
	int rc = sl_query_time_parse(v, now, ret);

	if (rc == -ERANGE)
		snprintf(why, cap, "%s '%.60s': out of range", name, v);
	else if (rc < 0)
		snprintf(why, cap,
			 "%s '%.60s': expected RFC 3339 (2026-01-01T00:00:00Z), unix seconds, "
			 "'now' or '-DURATION' (-15m)",
			 name, v);
	return rc;
}

static enum MHD_Result
view_query(struct sl_ctld *c, struct MHD_Connection *conn, const char *name)
{
	const uint64_t now = sl_query_now_ns();
	struct qargs a = { 0 };
	struct sl_query_params p = {
		.view = name,
		.to_ns = now,
		.step = SL_QUERY_STEP_WINDOW,
		.max_rows = SL_CTLD_QUERY_ROWS,
		.max_bytes = SL_CTLD_QUERY_BYTES,
	};
	struct sl_query_result *r = NULL;
	struct sl_query_error err;
	struct sl_store *s;
	char why[256], *buf = NULL;
	enum MHD_Result ret;
	size_t len = 0;
	FILE *f;
	int rc;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, qarg, &a);
	if (a.bad[0] != '\0') {
		ret = bad(c, conn, a.bad);
		goto out;
	}
	if (a.to != NULL && time_arg("to", a.to, now, &p.to_ns, why, sizeof(why)) < 0) {
		ret = bad(c, conn, why);
		goto out;
	}
	/* Default range: the hour before to, as sluicectl query. */
	p.from_ns = p.to_ns > SL_CTLD_HOUR_NS ? p.to_ns - SL_CTLD_HOUR_NS : 0;
	if (a.from != NULL && time_arg("from", a.from, now, &p.from_ns, why, sizeof(why)) < 0) {
		ret = bad(c, conn, why);
		goto out;
	}
	if (a.step != NULL && sl_query_step_parse(a.step, &p.step, &p.step_ns) != 0) {
		snprintf(why, sizeof(why),
			 "step '%.60s': expected window, all or a duration (1m, 90s, 1h)", a.step);
		ret = bad(c, conn, why);
		goto out;
	}
	if (p.from_ns >= p.to_ns) {
		ret = bad(c, conn, "empty range: from must be before to");
		goto out;
	}
	p.where = a.where;
	p.n_where = a.n_where;

	if (sl_ctld_store_lock(c, &s, why, sizeof(why)) < 0) {
		ret = sl_ctld_refuse(c, conn, MHD_HTTP_SERVICE_UNAVAILABLE, SL_CTLD_REFUSED_STORE,
				     why);
		goto out;
	}
	rc = sl_query_run(s, &p, &r, &err);
	sl_ctld_store_release(c, rc);
	if (rc == -ENOENT) {
		ret = sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND,
				     err.msg);
		goto out;
	}
	if (rc == -EINVAL || rc == -E2BIG) {
		ret = bad(c, conn, err.msg);
		goto out;
	}
	if (rc < 0) {
		ret = sl_ctld_refuse(c, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     SL_CTLD_REFUSED_INTERNAL, err.msg);
		goto out;
	}
	if (sl_query_result_skipped(r) > 0)
		fprintf(stderr, "sluice-ctld: skipped %llu malformed record(s) of view '%s'\n",
			(unsigned long long)sl_query_result_skipped(r), name);
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		ret = MHD_NO;
		goto out;
	}
	rc = sl_query_result_write_json(r, f);
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		ret = sl_ctld_refuse(c, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     SL_CTLD_REFUSED_INTERNAL, "out of memory");
		goto out;
	}
	ret = sl_ctld_reply(conn, MHD_HTTP_OK, SL_CTLD_JSON, buf, len);
out:
	sl_query_result_destroy(r);
	for (uint32_t i = 0; i < a.n_where; i++)
		free(a.dims[i]);
	/* dims past n_where: a strndup() that failed, or none. */
	return ret;
}

/* ---- GET /v1/views/{name}/live ---- */

static enum MHD_Result
view_live(struct sl_ctld *c, struct MHD_Connection *conn, const char *name)
{
	char req[SL_STORE_VIEW_NAME_MAX + 8], why[256], *raw = NULL;
	unsigned int status;
	const char *err;
	bool unknown;
	json_t *j;
	size_t len;

	snprintf(req, sizeof(req), "live %s\n", name);
	j = sl_ctld_dp_call(c, req, SL_CTLD_DP_TIMEOUT_MS, &raw, &status, why, sizeof(why));
	if (j == NULL)
		return sl_ctld_refuse(c, conn, status,
				      status == MHD_HTTP_SERVICE_UNAVAILABLE
					      ? SL_CTLD_REFUSED_DATAPLANE
					      : SL_CTLD_REFUSED_BAD_GATEWAY,
				      why);
	if (json_is_array(j)) {
		json_decref(j);
		len = strlen(raw);
		memcpy(raw + len, "\n", 2);
		return sl_ctld_reply(conn, MHD_HTTP_OK, SL_CTLD_JSON, raw, len + 1);
	}
	free(raw);
	err = json_string_value(json_object_get(j, "error"));
	unknown = err != NULL && strncmp(err, "unknown view", 12) == 0;
	snprintf(why, sizeof(why), "%s", err != NULL ? err : "unexpected reply from the dataplane");
	json_decref(j);
	if (unknown)
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND, why);
	return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_GATEWAY, SL_CTLD_REFUSED_BAD_GATEWAY, why);
}

enum MHD_Result
sl_ctld_view_get(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	char name[SL_STORE_VIEW_NAME_MAX + 1];
	const char *slash = strchr(rest, '/');
	size_t n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	const char *sub = slash != NULL ? slash + 1 : NULL;

	if (n == 0 || n >= sizeof(name))
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND,
				      n == 0 ? "no such endpoint" : "unknown view");
	memcpy(name, rest, n);
	name[n] = '\0';
	if (sub != NULL && strcmp(sub, "live") != 0 && strcmp(sub, "stream") != 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND,
				      "no such endpoint");
	/* Anything but a name the configuration accepts cannot be a view. */
	if (!sl_ctld_view_name_ok(name))
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND,
				      "unknown view");
	if (sub == NULL)
		return view_query(c, conn, name);
	if (strcmp(sub, "live") == 0)
		return view_live(c, conn, name);
	return sl_ctld_sse_serve(c, conn, name);
}
