/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * Routing and handlers of sluice-ctld's HTTP API (see http.h). Every reply
 * is built in memory (open_memstream) and handed to libmicrohttpd whole.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include <sluice/common.h>

#include "ctl_client.h"
#include "http.h"
#include "metrics.h"
#include "store.h"

#define SL_CTLD_DP_TIMEOUT_MS 2000
#define SL_CTLD_CONN_MAX 64
#define SL_CTLD_CONN_TIMEOUT_S 30
#define SL_CTLD_JSON "application/json"
#define SL_CTLD_PROM "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, const char *type, char *body,
      size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/** Reply with the compact form of @p j (a new reference: consumed) and '\n'. */
static enum MHD_Result
reply_json(struct MHD_Connection *conn, unsigned int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	size_t len;

	json_decref(j);
	if (s == NULL)
		return MHD_NO;
	len = strlen(s);
	s = realloc(s, len + 2);
	if (s == NULL)
		return MHD_NO;
	memcpy(s + len, "\n", 2);
	return reply(conn, status, SL_CTLD_JSON, s, len + 1);
}

static enum MHD_Result
reply_err(struct MHD_Connection *conn, unsigned int status, const char *msg)
{
	return reply_json(conn, status, json_pack("{s:s,s:i}", "error", msg, "status", status));
}

/** Open the store if it is not open yet. @return 0 or -errno (kept in store_err). */
static int
store_get(struct sl_ctld *c)
{
	int rc;

	if (c->store != NULL)
		return 0;
	rc = sl_store_open(c->db, 0, SL_STORE_RDONLY, &c->store);
	if (rc < 0 && rc != c->store_err)
		fprintf(stderr, "sluice-ctld: cannot open store %s: %s (retrying per request)\n",
			c->db, strerror(-rc));
	if (rc == 0 && c->store_err != 0)
		fprintf(stderr, "sluice-ctld: opened store %s\n", c->db);
	c->store_err = rc;
	return rc;
}

/**
 * sluiced's stats. @param[out] ret_raw  the raw line (may be NULL).
 * @return the object, or NULL with @p why set.
 */
static json_t *
stats_get(struct sl_ctld *c, char **ret_raw, char *why, size_t cap)
{
	json_error_t jerr;
	char *buf;
	size_t len;
	json_t *j;
	int rc;

	rc = sl_ctl_call(c->dp_sock, "stats\n", SL_CTLD_DP_TIMEOUT_MS, &buf, &len);
	if (rc < 0) {
		snprintf(why, cap, "dataplane unreachable at %s: %s", c->dp_sock, strerror(-rc));
		return NULL;
	}
	j = json_loadb(buf, len, 0, &jerr);
	if (!json_is_object(j)) {
		snprintf(why, cap, "malformed stats from the dataplane");
		json_decref(j);
		free(buf);
		return NULL;
	}
	if (ret_raw != NULL)
		*ret_raw = buf;
	else
		free(buf);
	return j;
}

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

	if (!json_is_object(json_object_get(stats, "storage")))
		return false;
	if (!c->seen)
		c->committing = errs == 0 || done > 0;
	else if (errs > c->commit_errors && done == c->committed)
		c->committing = false;
	else if (done > c->committed)
		c->committing = true;
	c->seen = true;
	c->committed = done;
	c->commit_errors = errs;
	return c->committing;
}

static enum MHD_Result
get_healthz(struct sl_ctld *c, struct MHD_Connection *conn)
{
	char why[256] = "", why_st[160] = "";
	json_t *stats = stats_get(c, NULL, why, sizeof(why));
	bool dp = stats != NULL, com = dp && committing(c, stats);
	bool st = store_get(c) == 0;
	json_t *j;

	json_decref(stats);
	if (!st)
		snprintf(why_st, sizeof(why_st), "cannot open store %s: %s", c->db,
			 strerror(-c->store_err));
	j = json_pack("{s:s,s:b,s:b,s:b}", "status", dp && com && st ? "ok" : "unavailable",
		      "dataplane", dp, "committing", com, "store", st);
	if (j != NULL && !dp)
		json_object_set_new(j, "reason", json_string(why));
	else if (j != NULL && !st)
		json_object_set_new(j, "reason", json_string(why_st));
	else if (j != NULL && !com)
		json_object_set_new(j, "reason", json_string("window commits are failing"));
	return reply_json(conn, dp && com && st ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j);
}

static enum MHD_Result
get_stats(struct sl_ctld *c, struct MHD_Connection *conn)
{
	char why[256], *raw = NULL;
	json_t *stats = stats_get(c, &raw, why, sizeof(why));
	size_t len;

	if (stats == NULL)
		return reply_err(conn, MHD_HTTP_SERVICE_UNAVAILABLE, why);
	json_decref(stats);
	/* As sluiced sent it, newline-terminated. */
	len = strlen(raw);
	raw[len] = '\n'; /* the reply buffer has room for its '\n' */
	return reply(conn, MHD_HTTP_OK, SL_CTLD_JSON, raw, len + 1);
}

static enum MHD_Result
get_prom(struct sl_ctld *c, struct MHD_Connection *conn)
{
	char why[256], *buf = NULL;
	json_t *stats = stats_get(c, NULL, why, sizeof(why));
	struct sl_store_info info;
	bool have_info = store_get(c) == 0 && sl_store_info(c->store, &info) == 0;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		json_decref(stats);
		return MHD_NO;
	}
	sl_ctld_prom_write(f, stats, have_info ? &info : NULL);
	json_decref(stats);
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	return reply(conn, MHD_HTTP_OK, SL_CTLD_PROM, buf, len);
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
get_windows(struct sl_ctld *c, struct MHD_Connection *conn)
{
	const char *from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
	const char *to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to");
	const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
	uint64_t from_ns = 0, to_ns = UINT64_MAX, skipped = 0;
	char *buf = NULL, msg[256];
	size_t len = 0;
	FILE *f;
	int rc;

	if (from != NULL && from[0] != '\0' && parse_time(from, &from_ns) < 0)
		return reply_err(conn, MHD_HTTP_BAD_REQUEST,
				 "from: expected unix seconds or unix ns");
	if (to != NULL && to[0] != '\0' && parse_time(to, &to_ns) < 0)
		return reply_err(conn, MHD_HTTP_BAD_REQUEST, "to: expected unix seconds or unix ns");
	if (from_ns >= to_ns)
		return reply_err(conn, MHD_HTTP_BAD_REQUEST, "empty range: from must be before to");
	if (name != NULL && (name[0] == '\0' || strcmp(name, "*") == 0))
		name = name[0] == '\0' ? NULL : name;
	rc = store_get(c);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "cannot open store %s: %s", c->db, strerror(-rc));
		return reply_err(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
	}
	f = open_memstream(&buf, &len);
	if (f == NULL)
		return MHD_NO;
	rc = sl_ctld_windows_json(f, c->store, from_ns, to_ns, name, &skipped);
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	if (rc < 0) {
		free(buf);
		snprintf(msg, sizeof(msg), "cannot read store %s: %s", c->db, strerror(-rc));
		return reply_err(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	if (skipped > 0)
		fprintf(stderr, "sluice-ctld: skipped %" PRIu64 " malformed record%s in %s\n",
			skipped, skipped == 1 ? "" : "s", c->db);
	return reply(conn, MHD_HTTP_OK, SL_CTLD_JSON, buf, len);
}

static const struct route {
	const char *path;
	enum MHD_Result (*fn)(struct sl_ctld *c, struct MHD_Connection *conn);
} routes[] = {
	{ "/healthz", get_healthz },
	{ "/v1/stats", get_stats },
	{ "/metrics", get_prom },
	{ "/v1/metrics", get_windows },
};

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct sl_ctld *c = cls;
	const struct route *r = NULL;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) == 0)
			r = &routes[i];
	}
	if (r == NULL)
		return reply_err(conn, MHD_HTTP_NOT_FOUND, "no such endpoint");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		char *body = strdup("{\"error\":\"method not allowed\",\"status\":405}\n");

		if (body == NULL)
			return MHD_NO;
		resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
		if (resp == NULL) {
			free(body);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, SL_CTLD_JSON);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	return r->fn(c, conn);
}

int
sl_ctld_http_start(struct sl_ctld *c, const struct sockaddr *addr, uint16_t *ret_port)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;

	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	c->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR, addr,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SL_CTLD_CONN_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)SL_CTLD_CONN_TIMEOUT_S,
				  MHD_OPTION_END);
	if (c->mhd == NULL)
		return -1;
	di = MHD_get_daemon_info(c->mhd, MHD_DAEMON_INFO_BIND_PORT);
	*ret_port = di != NULL ? di->port : 0;
	return 0;
}

void
sl_ctld_http_stop(struct sl_ctld *c)
{
	if (c->mhd != NULL)
		MHD_stop_daemon(c->mhd);
	c->mhd = NULL;
	sl_store_close(c->store);
	c->store = NULL;
}
