/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * Routing, access control, limits and the small handlers of sluice-ctld's
 * HTTP API (see http.h; docs/api.md is the reference). Every reply but a
 * stream or a static file is built in memory (open_memstream) and handed to
 * libmicrohttpd whole.
 *
 * A request goes through on_request() once per libmicrohttpd call: the first
 * call (headers only) counts it, applies the connection limit, routes it
 * and, for PUT, checks the token and the announced length; the body then
 * arrives in pieces (collected up to SL_CTLD_BODY_MAX, the rest of a longer
 * one read and thrown away so that the client gets its 413), and the last
 * call answers.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include <sluice/common.h>

#include "config.h"
#include "ctl_client.h"
#include "http.h"
#include "metrics.h"
#include "sse.h"
#include "store.h"
#include "views.h"

#define SL_CTLD_CONN_TIMEOUT_S 30
/*
 * libmicrohttpd's own connection limit is --max-connections plus this: the
 * connections over --max-connections get a counted 503 instead of a silent
 * close, up to this many more.
 */
#define SL_CTLD_CONN_SLACK 16
/*
 * A body announced over SL_CTLD_BODY_MAX is read and thrown away up to this
 * size before the 413, so that clients that send before they read get it;
 * larger ones (or "Expect: 100-continue") are refused before the body.
 */
#define SL_CTLD_DISCARD_MAX (8u << 20)
/** config_apply can compile rules and rebuild tables: give it time. */
#define SL_CTLD_APPLY_TIMEOUT_MS 15000
/** Longest control request line sluiced reads, with its '\n'. */
#define SL_CTLD_DP_REQ_MAX (1u << 20)
#define SL_CTLD_PROM "text/plain; version=0.0.4; charset=utf-8"
#define SL_CTLD_YAML "text/yaml; charset=utf-8"
/** Deepest path under assets/ served (assets/vendor/x.js is 2). */
#define SL_CTLD_ASSET_DEPTH 4
#define SL_CTLD_ASSET_NAME_MAX 128
#ifndef MHD_HTTP_CONTENT_TOO_LARGE
#define MHD_HTTP_CONTENT_TOO_LARGE 413 /* libmicrohttpd before 0.9.74 */
#endif

static const char *const refusal_names[] = {
#define _(e, s) s,
	SL_CTLD_REFUSALS(_)
#undef _
};

const char *
sl_ctld_refusal_name(unsigned int reason)
{
	return reason < SL_CTLD_REFUSED__MAX ? refusal_names[reason] : "?";
}

bool
sl_ctld_view_name_ok(const char *name)
{
	size_t n = 0;

	for (; name[n] != '\0'; n++) {
		char ch = name[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return n > 0 && n <= SL_STORE_VIEW_NAME_MAX;
}

/* ---- replies ---- */

static enum MHD_Result
queue(struct MHD_Connection *conn, unsigned int status, struct MHD_Response *r)
{
	enum MHD_Result ret = MHD_queue_response(conn, status, r);

	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result
sl_ctld_reply(struct MHD_Connection *conn, unsigned int status, const char *type, char *body,
	      size_t len)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return queue(conn, status, r);
}

/** The compact text of @p j (consumed) with '\n', or NULL. */
static char *
json_line(json_t *j, size_t *ret_len)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *t;
	size_t len;

	json_decref(j);
	if (s == NULL)
		return NULL;
	len = strlen(s);
	t = realloc(s, len + 2);
	if (t == NULL) {
		free(s);
		return NULL;
	}
	memcpy(t + len, "\n", 2);
	*ret_len = len + 1;
	return t;
}

enum MHD_Result
sl_ctld_reply_json(struct MHD_Connection *conn, unsigned int status, json_t *j)
{
	size_t len;
	char *s = json_line(j, &len);

	if (s == NULL)
		return MHD_NO;
	return sl_ctld_reply(conn, status, SL_CTLD_JSON, s, len);
}

/** Refuse, with one more header (@p hname NULL: none). */
static enum MHD_Result
refuse_hdr(struct sl_ctld *c, struct MHD_Connection *conn, unsigned int status,
	   enum sl_ctld_refusal reason, const char *msg, const char *hname, const char *hval)
{
	struct MHD_Response *r;
	size_t len;
	char *s;

	sl_ctld_count(&c->cnt.refused[reason], 1);
	s = json_line(json_pack("{s:s,s:i}", "error", msg, "status", (int)status), &len);
	if (s == NULL)
		return MHD_NO;
	r = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, SL_CTLD_JSON);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (hname != NULL)
		MHD_add_response_header(r, hname, hval);
	return queue(conn, status, r);
}

enum MHD_Result
sl_ctld_refuse(struct sl_ctld *c, struct MHD_Connection *conn, unsigned int status,
	       enum sl_ctld_refusal reason, const char *msg)
{
	return refuse_hdr(c, conn, status, reason, msg, NULL, NULL);
}

/* ---- the store and the dataplane ---- */

int
sl_ctld_store_lock(struct sl_ctld *c, struct sl_store **ret, char *why, size_t cap)
{
	int rc = 0;

	pthread_mutex_lock(&c->store_mu);
	if (c->store == NULL) {
		rc = sl_store_open(c->db, 0, SL_STORE_RDONLY, &c->store);
		if (rc < 0 && rc != c->store_err)
			fprintf(stderr,
				"sluice-ctld: cannot open store %s: %s (retrying per request)\n",
				c->db, strerror(-rc));
		if (rc == 0 && c->store_err != 0)
			fprintf(stderr, "sluice-ctld: opened store %s\n", c->db);
		c->store_err = rc;
	}
	if (rc < 0) {
		pthread_mutex_unlock(&c->store_mu);
		snprintf(why, cap, "cannot open store %s: %s", c->db, strerror(-rc));
		return rc;
	}
	*ret = c->store;
	return 0;
}

void
sl_ctld_store_unlock(struct sl_ctld *c)
{
	pthread_mutex_unlock(&c->store_mu);
}

void
sl_ctld_store_release(struct sl_ctld *c, int rc)
{
	if (rc == -EIO) {
		fprintf(stderr, "sluice-ctld: store %s: %s (reopening it)\n", c->db,
			sl_store_strerror(c->store));
		sl_store_close(c->store);
		c->store = NULL;
	}
	pthread_mutex_unlock(&c->store_mu);
}

json_t *
sl_ctld_dp_call(struct sl_ctld *c, const char *req, int timeout_ms, char **ret_raw,
		unsigned int *ret_status, char *why, size_t cap)
{
	json_error_t jerr;
	char *buf, *t;
	size_t len;
	json_t *j;
	int rc;

	rc = sl_ctl_call(c->dp_sock, req, timeout_ms, &buf, &len);
	if (rc < 0) {
		snprintf(why, cap, "dataplane unreachable at %s: %s", c->dp_sock, strerror(-rc));
		*ret_status = rc == -EMSGSIZE ? MHD_HTTP_BAD_GATEWAY : MHD_HTTP_SERVICE_UNAVAILABLE;
		if (rc == -EMSGSIZE)
			snprintf(why, cap, "the dataplane's reply is over %u bytes",
				 SL_CTL_REPLY_MAX);
		return NULL;
	}
	j = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
	if (j == NULL) {
		snprintf(why, cap, "malformed reply from the dataplane: %s", jerr.text);
		*ret_status = MHD_HTTP_BAD_GATEWAY;
		free(buf);
		return NULL;
	}
	if (ret_raw != NULL) {
		/* Room for a '\n' after the reply. */
		t = realloc(buf, len + 2);
		if (t == NULL) {
			free(buf);
			json_decref(j);
			snprintf(why, cap, "out of memory");
			*ret_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			return NULL;
		}
		*ret_raw = t;
	} else {
		free(buf);
	}
	return j;
}

/** A refusal for a failed sl_ctld_dp_call(). */
static enum MHD_Result
refuse_dp(struct sl_ctld *c, struct MHD_Connection *conn, unsigned int status, const char *why)
{
	return sl_ctld_refuse(c, conn, status,
			      status == MHD_HTTP_SERVICE_UNAVAILABLE ? SL_CTLD_REFUSED_DATAPLANE
			      : status == MHD_HTTP_BAD_GATEWAY       ? SL_CTLD_REFUSED_BAD_GATEWAY
								     : SL_CTLD_REFUSED_INTERNAL,
			      why);
}

/** sluiced's stats object, or NULL with @p why set. */
static json_t *
stats_get(struct sl_ctld *c, char **ret_raw, unsigned int *ret_status, char *why, size_t cap)
{
	json_t *j = sl_ctld_dp_call(c, "stats\n", SL_CTLD_DP_TIMEOUT_MS, ret_raw, ret_status, why,
				    cap);

	if (j != NULL && !json_is_object(j)) {
		snprintf(why, cap, "malformed stats from the dataplane");
		*ret_status = MHD_HTTP_BAD_GATEWAY;
		json_decref(j);
		if (ret_raw != NULL)
			free(*ret_raw);
		return NULL;
	}
	return j;
}

/* ---- /healthz, /v1/stats, /metrics, /v1/metrics ---- */

static uint64_t
st_u64(json_t *stats, const char *key)
{
	json_t *v = json_object_get(json_object_get(stats, "storage"), key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
								  : 0;
}

/*
 * Committing: the storage thread is there and its commits succeed. A failed
 * commit since the previous check with no successful one makes it false
 * until a commit succeeds again; the first check looks at the totals.
 */
static bool
committing(struct sl_ctld *c, json_t *stats)
{
	uint64_t done = st_u64(stats, "windows_committed");
	uint64_t errs = st_u64(stats, "commit_errors");
	bool ret;

	if (!json_is_object(json_object_get(stats, "storage")))
		return false;
	pthread_mutex_lock(&c->health_mu);
	if (!c->seen)
		c->committing = errs == 0 || done > 0;
	else if (errs > c->commit_errors && done == c->committed)
		c->committing = false;
	else if (done > c->committed)
		c->committing = true;
	c->seen = true;
	c->committed = done;
	c->commit_errors = errs;
	ret = c->committing;
	pthread_mutex_unlock(&c->health_mu);
	return ret;
}

static enum MHD_Result
get_healthz(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	char why[256] = "", why_st[256] = "";
	unsigned int status;
	json_t *stats = stats_get(c, NULL, &status, why, sizeof(why));
	bool dp = stats != NULL, com = dp && committing(c, stats), st;
	struct sl_store *s;
	json_t *j;

	(void)rest;
	json_decref(stats);
	st = sl_ctld_store_lock(c, &s, why_st, sizeof(why_st)) == 0;
	if (st)
		sl_ctld_store_unlock(c);
	j = json_pack("{s:s,s:b,s:b,s:b}", "status", dp && com && st ? "ok" : "unavailable",
		      "dataplane", dp, "committing", com, "store", st);
	if (j != NULL && !dp)
		json_object_set_new(j, "reason", json_string(why));
	else if (j != NULL && !st)
		json_object_set_new(j, "reason", json_string(why_st));
	else if (j != NULL && !com)
		json_object_set_new(j, "reason", json_string("window commits are failing"));
	/* Not a refusal: an answer, whose status tells load balancers. */
	status = dp && com && st ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
	return sl_ctld_reply_json(conn, status, j);
}

static enum MHD_Result
get_stats(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	char why[256], *raw = NULL;
	unsigned int status;
	json_t *stats = stats_get(c, &raw, &status, why, sizeof(why));
	size_t len;

	(void)rest;
	if (stats == NULL)
		return refuse_dp(c, conn, status, why);
	json_decref(stats);
	/* As sluiced sent it, newline-terminated (dp_call left room for it). */
	len = strlen(raw);
	memcpy(raw + len, "\n", 2);
	return sl_ctld_reply(conn, MHD_HTTP_OK, SL_CTLD_JSON, raw, len + 1);
}

static enum MHD_Result
get_prom(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	char why[256], *buf = NULL;
	unsigned int status;
	json_t *stats = stats_get(c, NULL, &status, why, sizeof(why));
	struct sl_store_info info;
	bool have_info = false;
	struct sl_store *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)rest;
	if (f == NULL) {
		json_decref(stats);
		return MHD_NO;
	}
	if (sl_ctld_store_lock(c, &s, why, sizeof(why)) == 0) {
		have_info = sl_store_info(s, &info) == 0;
		sl_ctld_store_unlock(c);
	}
	sl_ctld_prom_write(f, stats, have_info ? &info : NULL);
	if (stats != NULL) {
		unsigned int rst;
		json_t *rules = sl_ctld_dp_call(c, "rules\n", SL_CTLD_DP_TIMEOUT_MS, NULL, &rst, why,
						sizeof(why));

		sl_ctld_prom_rules(f, rules, stats);
		json_decref(rules);
	}
	json_decref(stats);
	if (s != NULL && sl_ctld_store_lock(c, &s, why, sizeof(why)) == 0) {
		sl_ctld_prom_store_views(f, s); /* writes to memory only */
		sl_ctld_store_unlock(c);
	}
	sl_ctld_prom_ctld(f, c);
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	return sl_ctld_reply(conn, MHD_HTTP_OK, SL_CTLD_PROM, buf, len);
}

/** Unix seconds, or unix ns (13 digits or more, or an "ns" suffix). @return 0 or -EINVAL. */
static int
parse_time(const char *s, uint64_t *ret_ns)
{
	char *end;
	uint64_t v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	if (strcmp(end, "ns") == 0 || (*end == '\0' && end - s >= 13)) {
		*ret_ns = v;
		return 0;
	}
	if (*end != '\0' || v > UINT64_MAX / SL_NS_PER_SEC)
		return -EINVAL;
	*ret_ns = v * SL_NS_PER_SEC;
	return 0;
}

static enum MHD_Result
get_windows(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	const char *from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
	const char *to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to");
	const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
	uint64_t from_ns = 0, to_ns = UINT64_MAX, skipped = 0;
	char *buf = NULL, msg[256];
	struct sl_store *s;
	size_t len = 0;
	FILE *f;
	int rc;

	(void)rest;
	if (from != NULL && from[0] != '\0' && parse_time(from, &from_ns) < 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST, SL_CTLD_REFUSED_BAD_REQUEST,
				      "from: expected unix seconds or unix ns");
	if (to != NULL && to[0] != '\0' && parse_time(to, &to_ns) < 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST, SL_CTLD_REFUSED_BAD_REQUEST,
				      "to: expected unix seconds or unix ns");
	if (from_ns >= to_ns)
		return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST, SL_CTLD_REFUSED_BAD_REQUEST,
				      "empty range: from must be before to");
	if (name != NULL && name[0] == '\0')
		name = NULL;
	f = open_memstream(&buf, &len);
	if (f == NULL)
		return MHD_NO;
	rc = sl_ctld_store_lock(c, &s, msg, sizeof(msg));
	if (rc < 0) {
		fclose(f);
		free(buf);
		return sl_ctld_refuse(c, conn, MHD_HTTP_SERVICE_UNAVAILABLE, SL_CTLD_REFUSED_STORE,
				      msg);
	}
	rc = sl_ctld_windows_json(f, s, from_ns, to_ns, name, &skipped);
	sl_ctld_store_release(c, rc);
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	if (rc < 0) {
		free(buf);
		snprintf(msg, sizeof(msg), "cannot read store %s: %s", c->db, strerror(-rc));
		return sl_ctld_refuse(c, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      SL_CTLD_REFUSED_INTERNAL, msg);
	}
	if (skipped > 0)
		fprintf(stderr, "sluice-ctld: skipped %" PRIu64 " malformed record%s in %s\n",
			skipped, skipped == 1 ? "" : "s", c->db);
	return sl_ctld_reply(conn, MHD_HTTP_OK, SL_CTLD_JSON, buf, len);
}

/* ---- /v1/config ---- */

static enum MHD_Result
get_config(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	char why[256];
	unsigned int status;
	json_t *j = sl_ctld_dp_call(c, "config_show\n", SL_CTLD_DP_TIMEOUT_MS, NULL, &status, why,
				    sizeof(why));
	const char *yaml = json_string_value(json_object_get(j, "yaml"));
	const char *src = json_string_value(json_object_get(j, "source"));
	struct MHD_Response *r;
	size_t len;
	char *body;

	(void)rest;
	if (j == NULL)
		return refuse_dp(c, conn, status, why);
	if (yaml == NULL) {
		const char *err = json_string_value(json_object_get(j, "error"));

		snprintf(why, sizeof(why), "the dataplane did not show its configuration: %s",
			 err != NULL ? err : "no \"yaml\" in its reply");
		json_decref(j);
		return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_GATEWAY, SL_CTLD_REFUSED_BAD_GATEWAY,
				      why);
	}
	len = json_string_length(json_object_get(j, "yaml"));
	body = malloc(len + 1);
	if (body == NULL) {
		json_decref(j);
		return MHD_NO;
	}
	memcpy(body, yaml, len);
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		json_decref(j);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, SL_CTLD_YAML);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (src != NULL && strpbrk(src, "\r\n") == NULL)
		MHD_add_response_header(r, "X-Sluice-Config-Source", src);
	json_decref(j);
	return queue(conn, MHD_HTTP_OK, r);
}

static enum MHD_Result
put_config(struct sl_ctld *c, struct MHD_Connection *conn, const char *body, size_t len)
{
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	char why[640], *enc = NULL, *line = NULL, *raw = NULL;
	unsigned int status;
	enum MHD_Result ret;
	json_t *reply;
	size_t n;
	int rc;

	if (memchr(body, '\0', len) != NULL)
		return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST, SL_CTLD_REFUSED_BAD_REQUEST,
				      "the configuration holds a NUL byte");
	/* Validate here first: the same loader as sluiced, the error with its line. */
	rc = sl_config_load_string(body, len, "<request>", &cfg, &err);
	if (rc == -EINVAL) {
		if (err.line > 0)
			snprintf(why, sizeof(why), "%s:%u:%u: %s", err.file, err.line, err.column,
				 err.msg);
		else
			snprintf(why, sizeof(why), "%s: %s", err.file, err.msg);
		return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST, SL_CTLD_REFUSED_BAD_REQUEST,
				      why);
	}
	sl_config_free(cfg);
	if (rc < 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      SL_CTLD_REFUSED_INTERNAL, "out of memory");
	/* The YAML as one JSON string literal: the request stays one line. */
	reply = json_stringn(body, len);
	if (reply == NULL)
		return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST, SL_CTLD_REFUSED_BAD_REQUEST,
				      "the configuration is not valid UTF-8");
	enc = json_dumps(reply, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(reply);
	n = enc != NULL ? strlen("config_apply ") + strlen(enc) + 1 : 0;
	if (enc == NULL || (line = malloc(n + 1)) == NULL) {
		free(enc);
		return sl_ctld_refuse(c, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      SL_CTLD_REFUSED_INTERNAL, "out of memory");
	}
	snprintf(line, n + 1, "config_apply %s\n", enc);
	free(enc);
	if (n > SL_CTLD_DP_REQ_MAX) {
		free(line);
		snprintf(why, sizeof(why),
			 "the configuration is over %u bytes once encoded for the dataplane",
			 SL_CTLD_DP_REQ_MAX);
		return sl_ctld_refuse(c, conn, MHD_HTTP_CONTENT_TOO_LARGE,
				      SL_CTLD_REFUSED_TOO_LARGE, why);
	}
	reply = sl_ctld_dp_call(c, line, SL_CTLD_APPLY_TIMEOUT_MS, &raw, &status, why, sizeof(why));
	free(line);
	if (reply == NULL)
		return refuse_dp(c, conn, status, why);
	if (json_is_true(json_object_get(reply, "ok"))) {
		json_decref(reply);
		n = strlen(raw);
		memcpy(raw + n, "\n", 2);
		fprintf(stderr, "sluice-ctld: configuration applied (%zu bytes)\n", len);
		return sl_ctld_reply(conn, MHD_HTTP_OK, SL_CTLD_JSON, raw, n + 1);
	}
	free(raw);
	snprintf(why, sizeof(why), "%s",
		 json_is_string(json_object_get(reply, "error"))
			 ? json_string_value(json_object_get(reply, "error"))
			 : "the dataplane refused the configuration");
	json_decref(reply);
	ret = sl_ctld_refuse(c, conn, MHD_HTTP_CONFLICT, SL_CTLD_REFUSED_CONFLICT, why);
	return ret;
}

/* ---- static files ---- */

static const struct {
	const char *ext;
	const char *type;
} mime[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".map", "application/json" },
	{ ".png", "image/png" },
	{ ".svg", "image/svg+xml" },
	{ ".ico", "image/x-icon" },
	{ ".woff2", "font/woff2" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".version", "text/plain; charset=utf-8" },
	{ ".LICENSE", "text/plain; charset=utf-8" },
};

static const char *
mime_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot != NULL && i < sizeof(mime) / sizeof(mime[0]); i++) {
		if (strcmp(dot, mime[i].ext) == 0)
			return mime[i].type;
	}
	return "application/octet-stream";
}

/*
 * A path under the web root we agree to serve: segments of [A-Za-z0-9_-]
 * then [A-Za-z0-9._-], so no "..", no ".", no hidden file, no empty segment;
 * at most SL_CTLD_ASSET_DEPTH of them.
 */
static bool
asset_path_ok(const char *p)
{
	unsigned int depth = 0;
	size_t seg = 0, n = 0;

	for (; p[n] != '\0'; n++) {
		char ch = p[n];

		if (ch == '/') {
			if (seg == 0 || ++depth >= SL_CTLD_ASSET_DEPTH)
				return false;
			seg = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || (ch == '.' && seg > 0)))
			return false;
		seg++;
	}
	return seg > 0 && n <= SL_CTLD_ASSET_NAME_MAX;
}

/**
 * Serve @p rel (checked by asset_path_ok()) under the web root. Each
 * segment is opened with O_NOFOLLOW relative to the previous one: a symlink
 * anywhere, a directory or anything but a regular file is 404.
 */
static enum MHD_Result
serve_file(struct sl_ctld *c, struct MHD_Connection *conn, const char *rel)
{
	char part[SL_CTLD_ASSET_NAME_MAX + 1];
	const char *p = rel, *slash;
	struct MHD_Response *r;
	int dir, fd;
	struct stat st;

	dir = open(c->web_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND,
				      "no dashboard here (see --web-root)");
	while ((slash = strchr(p, '/')) != NULL) {
		memcpy(part, p, (size_t)(slash - p));
		part[slash - p] = '\0';
		fd = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dir);
		if (fd < 0)
			return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND,
					      SL_CTLD_REFUSED_NOT_FOUND, "no such file");
		dir = fd;
		p = slash + 1;
	}
	fd = openat(dir, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dir);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND,
				      "no such file");
	}
	r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
	if (r == NULL) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime_type(p));
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	return queue(conn, MHD_HTTP_OK, r);
}

static enum MHD_Result
get_index(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	(void)rest;
	return serve_file(c, conn, "index.html");
}

static enum MHD_Result
get_asset(struct sl_ctld *c, struct MHD_Connection *conn, const char *rest)
{
	char rel[sizeof("assets/") + SL_CTLD_ASSET_NAME_MAX];

	if (!asset_path_ok(rest))
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND,
				      "no such file");
	snprintf(rel, sizeof(rel), "assets/%s", rest);
	return serve_file(c, conn, rel);
}

/* ---- routing ---- */

#define M_GET 0x1u /* GET and HEAD */
#define M_PUT 0x2u

typedef enum MHD_Result (*route_fn)(struct sl_ctld *c, struct MHD_Connection *conn,
				    const char *rest);

static const struct route {
	const char *path;
	bool prefix;         /* path is a prefix; the handler gets the rest */
	unsigned int methods;
	route_fn get;
} routes[] = {
	{ "/healthz", false, M_GET, get_healthz },
	{ "/v1/stats", false, M_GET, get_stats },
	{ "/metrics", false, M_GET, get_prom },
	{ "/v1/metrics", false, M_GET, get_windows },
	{ "/v1/config", false, M_GET | M_PUT, get_config },
	{ "/v1/views", false, M_GET, sl_ctld_views_list },
	{ "/v1/views/", true, M_GET, sl_ctld_view_get },
	{ "/", false, M_GET, get_index },
	{ "/index.html", false, M_GET, get_index },
	{ "/assets/", true, M_GET, get_asset },
};

static const struct route *
route_find(const char *url, const char **ret_rest)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		size_t n = strlen(routes[i].path);

		if (routes[i].prefix ? strncmp(url, routes[i].path, n) == 0
				     : strcmp(url, routes[i].path) == 0) {
			*ret_rest = url + (routes[i].prefix ? n : strlen(url));
			return &routes[i];
		}
	}
	return NULL;
}

/** Per-request state of a PUT (*con_cls), freed when the request completes. */
struct req {
	char *body;
	size_t len;
	size_t cap;
	uint64_t seen;   /* bytes of body received, kept or not */
	bool too_large;
};

/** Constant-time comparison of the bearer token. */
static bool
token_ok(const struct sl_ctld *c, const char *auth)
{
	const char *t;
	size_t n, m;
	unsigned char d = 0;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	t = auth + 7;
	while (*t == ' ')
		t++;
	n = strlen(t);
	m = strlen(c->token);
	for (size_t i = 0; i < m; i++)
		d |= (unsigned char)(c->token[i] ^ (i < n ? t[i] : 0));
	return d == 0 && n == m;
}

/**
 * The first call of a PUT: access control and the announced length.
 * @return MHD_YES with *@p ret_req set to go on reading the body, or the
 *         result of a refusal with *@p ret_req NULL.
 */
static enum MHD_Result
put_begin(struct sl_ctld *c, struct MHD_Connection *conn, struct req **ret_req)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_AUTHORIZATION);
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_EXPECT);
	unsigned long long announced = cl != NULL ? strtoull(cl, NULL, 10) : 0;
	bool cont = expect != NULL && strcasecmp(expect, "100-continue") == 0;
	struct req *q;

	*ret_req = NULL;
	if (c->token == NULL)
		return sl_ctld_refuse(c, conn, MHD_HTTP_FORBIDDEN, SL_CTLD_REFUSED_FORBIDDEN,
				      "changes are disabled: no --token-file");
	if (!token_ok(c, auth))
		return refuse_hdr(c, conn, MHD_HTTP_UNAUTHORIZED, SL_CTLD_REFUSED_UNAUTHORIZED,
				  auth == NULL ? "missing bearer token" : "invalid bearer token",
				  MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sluice\"");
	if (announced > SL_CTLD_BODY_MAX && (announced > SL_CTLD_DISCARD_MAX || cont))
		return refuse_hdr(c, conn, MHD_HTTP_CONTENT_TOO_LARGE, SL_CTLD_REFUSED_TOO_LARGE,
				  "request body over 1 MiB", MHD_HTTP_HEADER_CONNECTION, "close");
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return MHD_NO;
	q->too_large = announced > SL_CTLD_BODY_MAX;
	*ret_req = q;
	return MHD_YES;
}

/** Keep a piece of the body (up to SL_CTLD_BODY_MAX). @return false: out of memory. */
static bool
put_data(struct req *q, const char *data, size_t n)
{
	q->seen += n;
	if (q->too_large || q->seen > SL_CTLD_BODY_MAX) {
		q->too_large = true;
		free(q->body);
		q->body = NULL;
		q->len = 0;
		return true;
	}
	if (q->len + n + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		char *b;

		while (cap < q->len + n + 1)
			cap *= 2;
		b = realloc(q->body, cap);
		if (b == NULL)
			return false;
		q->body = b;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, n);
	q->len += n;
	return true;
}

/*
 * *con_cls of a request that is not a PUT to /v1/config: libmicrohttpd
 * closes the connection after a reply queued in the first call (it cannot
 * know whether a body follows), so replies wait for the second call and
 * keep-alive works.
 */
static struct req plain_req;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct sl_ctld *c = cls;
	const struct route *r;
	struct req *q = *con_cls;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	bool put = strcmp(method, MHD_HTTP_METHOD_PUT) == 0;
	const char *rest = "";
	enum MHD_Result ret;
	char allow[32];

	(void)version;
	if (q == NULL) {
		/* First call: the headers are in. */
		sl_ctld_count(&c->cnt.requests, 1);
		if (__atomic_load_n(&c->cnt.connections, __ATOMIC_RELAXED) > c->max_conns)
			return refuse_hdr(c, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					  SL_CTLD_REFUSED_CONN_LIMIT,
					  "too many connections (--max-connections)",
					  MHD_HTTP_HEADER_CONNECTION, "close");
		r = route_find(url, &rest);
		if (put && r != NULL && (r->methods & M_PUT)) {
			/* Access control before the body is read. */
			ret = put_begin(c, conn, &q);
			*con_cls = q;
			return ret;
		}
		*con_cls = &plain_req;
		return MHD_YES;
	}
	if (q != &plain_req) {
		/* A PUT's body, in pieces, then a last call with none. */
		if (*upload_data_size > 0) {
			if (!put_data(q, upload_data, *upload_data_size))
				return MHD_NO;
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (q->too_large)
			return refuse_hdr(c, conn, MHD_HTTP_CONTENT_TOO_LARGE,
					  SL_CTLD_REFUSED_TOO_LARGE, "request body over 1 MiB",
					  MHD_HTTP_HEADER_CONNECTION, "close");
		return put_config(c, conn, q->body != NULL ? q->body : "", q->len);
	}
	if (*upload_data_size > 0) {
		/* A body nobody asked for: read and ignored. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	r = route_find(url, &rest);
	if (r == NULL)
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND,
				      "no such endpoint");
	if (!get || !(r->methods & M_GET)) {
		snprintf(allow, sizeof(allow), "%s%s", r->methods & M_GET ? "GET, HEAD" : "",
			 r->methods & M_PUT ? (r->methods & M_GET ? ", PUT" : "PUT") : "");
		return refuse_hdr(c, conn, MHD_HTTP_METHOD_NOT_ALLOWED, SL_CTLD_REFUSED_METHOD,
				  "method not allowed", MHD_HTTP_HEADER_ALLOW, allow);
	}
	return r->get(c, conn, rest);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q != NULL && q != &plain_req) {
		free(q->body);
		free(q);
	}
	*con_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	      enum MHD_ConnectionNotificationCode toe)
{
	struct sl_ctld *c = cls;

	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_fetch_add(&c->cnt.connections, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_sub(&c->cnt.connections, 1, __ATOMIC_RELAXED);
}

int
sl_ctld_http_start(struct sl_ctld *c, const struct sockaddr *addr, uint16_t *ret_port)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;

	pthread_mutex_init(&c->store_mu, NULL);
	pthread_mutex_init(&c->health_mu, NULL);
	if (sl_ctld_sse_create(c) < 0)
		return -1;
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	c->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR, addr,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)SL_CTLD_THREADS,
				  MHD_OPTION_CONNECTION_LIMIT, c->max_conns + SL_CTLD_CONN_SLACK,
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)SL_CTLD_CONN_TIMEOUT_S,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, c,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, c, MHD_OPTION_END);
	if (c->mhd == NULL) {
		sl_ctld_sse_destroy(c);
		return -1;
	}
	if (sl_ctld_sse_start(c) < 0) {
		MHD_stop_daemon(c->mhd);
		c->mhd = NULL;
		sl_ctld_sse_destroy(c);
		return -1;
	}
	di = MHD_get_daemon_info(c->mhd, MHD_DAEMON_INFO_BIND_PORT);
	*ret_port = di != NULL ? di->port : 0;
	return 0;
}

void
sl_ctld_http_stop(struct sl_ctld *c)
{
	/* Streams first: a suspended connection would hold up the daemon's stop. */
	sl_ctld_sse_stop(c);
	if (c->mhd != NULL)
		MHD_stop_daemon(c->mhd);
	c->mhd = NULL;
	sl_ctld_sse_destroy(c);
	sl_store_close(c->store);
	c->store = NULL;
}
