/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTLD_HTTP_H
#define SL_CTLD_HTTP_H

/**
 * @file
 * sluice-ctld's HTTP server on libmicrohttpd (docs/api.md is the reference):
 * routing, access control, limits, refusals, and the small endpoints
 * (/healthz, /v1/stats, /metrics, /v1/metrics, /v1/config, the dashboard's
 * static files). views.c serves /v1/views and sse.c the streams.
 *
 * Threading: libmicrohttpd's internal thread pool (SL_CTLD_THREADS threads)
 * runs every handler; a connection stays on one pool thread. What the
 * handlers share lives in struct sl_ctld: the options (read-only after
 * start), the store handle (one thread at a time: store_mu), the /healthz
 * state (health_mu), counters (atomic) and the stream hub (sse.h, its own
 * lock). The dataplane is asked over a new control-socket connection per
 * request, so handlers never share one.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

struct sl_store;
struct sl_ctld_sse;

/** Threads of libmicrohttpd's pool: a slow query does not hold up the rest. */
#define SL_CTLD_THREADS 4
/** --max-connections default. */
#define SL_CTLD_CONN_DEFAULT 64
/** --max-sse default. */
#define SL_CTLD_SSE_DEFAULT 16
/** Largest request body (PUT /v1/config), bytes. */
#define SL_CTLD_BODY_MAX (1u << 20)
/** Timeout of one control-socket request to sluiced, ms. */
#define SL_CTLD_DP_TIMEOUT_MS 2000
#define SL_CTLD_JSON "application/json"

/*
 * Why a request was refused: every error reply is one of these, a JSON
 * {"error": ..., "status": ...}, counted in sluice_ctld_refused_total{reason}.
 */
#define SL_CTLD_REFUSALS(_)                                 \
	_(BAD_REQUEST, "bad_request")                       \
	_(UNAUTHORIZED, "unauthorized")                     \
	_(FORBIDDEN, "forbidden")                           \
	_(NOT_FOUND, "not_found")                           \
	_(METHOD, "method_not_allowed")                     \
	_(TOO_LARGE, "body_too_large")                      \
	_(CONFLICT, "conflict")                             \
	_(DATAPLANE, "dataplane_unavailable")               \
	_(STORE, "store_unavailable")                       \
	_(BAD_GATEWAY, "bad_gateway")                       \
	_(CONN_LIMIT, "connection_limit")                   \
	_(SSE_LIMIT, "sse_limit")                           \
	_(INTERNAL, "internal")

enum sl_ctld_refusal {
#define _(e, s) SL_CTLD_REFUSED_##e,
	SL_CTLD_REFUSALS(_)
#undef _
	SL_CTLD_REFUSED__MAX,
};

/** Label of a refusal reason ("not_found"). */
const char *sl_ctld_refusal_name(unsigned int reason);

/** Counters of sluice-ctld itself (atomic: any pool thread adds). */
struct sl_ctld_counters {
	uint64_t requests;                        /**< Requests answered or refused. */
	uint64_t refused[SL_CTLD_REFUSED__MAX];   /**< Error replies, by reason. */
	uint64_t connections;                     /**< Open connections (a gauge). */
	uint64_t sse_clients;                     /**< Open streams (a gauge). */
	uint64_t sse_events;                      /**< Window events queued to streams. */
};

struct sl_ctld {
	/* Options: set by main() before sl_ctld_http_start(), read-only after. */
	const char *db;          /**< LMDB store directory (opened read-only). */
	const char *dp_sock;     /**< sluiced's control socket. */
	const char *web_root;    /**< Dashboard files: index.html, assets/. */
	char *token;             /**< Bearer token of mutating requests; NULL: none configured. */
	unsigned int max_conns;  /**< --max-connections. */
	unsigned int max_sse;    /**< --max-sse. */

	/* The store: opened on first use, then kept; one thread at a time. */
	pthread_mutex_t store_mu;
	struct sl_store *store;  /**< NULL until it could be opened. */
	int store_err;           /**< Last open error (-errno), 0 once open. */

	/* /healthz: storage counters at the previous check (health_mu). */
	pthread_mutex_t health_mu;
	bool seen;
	uint64_t committed;
	uint64_t commit_errors;
	bool committing;

	struct sl_ctld_counters cnt;
	struct sl_ctld_sse *sse; /**< The stream hub (sse.h). */
	struct MHD_Daemon *mhd;
};

/**
 * Start serving on @p addr (IPv4 or IPv6; the port in it, 0 for any) with
 * the stream hub.
 * @param[out] ret_port  The bound port.
 * @return 0, or -1 (logged).
 */
int sl_ctld_http_start(struct sl_ctld *c, const struct sockaddr *addr, uint16_t *ret_port);

/** Close every stream, stop serving and close the store. */
void sl_ctld_http_stop(struct sl_ctld *c);

/* ---- for the handlers in views.c and sse.c ---- */

/** Add @p n to the counter at @p p (relaxed: counters only). */
static inline void
sl_ctld_count(uint64_t *p, uint64_t n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

/** Reply with @p body (malloc()ed, @p len bytes; consumed even on failure). */
enum MHD_Result sl_ctld_reply(struct MHD_Connection *conn, unsigned int status, const char *type,
			      char *body, size_t len);

/** Reply with the compact form of @p j (a new reference: consumed) and '\n'. */
enum MHD_Result sl_ctld_reply_json(struct MHD_Connection *conn, unsigned int status, json_t *j);

/** Refuse: {"error": @p msg, "status": @p status}, counted under @p reason. */
enum MHD_Result sl_ctld_refuse(struct sl_ctld *c, struct MHD_Connection *conn,
			       unsigned int status, enum sl_ctld_refusal reason, const char *msg);

/**
 * Lock the store, opening it if it is not open yet. On success the caller
 * holds store_mu and must call sl_ctld_store_unlock(); on failure nothing is
 * held and @p why says what went wrong.
 * @return 0 or -errno of the open.
 */
int sl_ctld_store_lock(struct sl_ctld *c, struct sl_store **ret, char *why, size_t cap);

/** Release the store taken by sl_ctld_store_lock(). */
void sl_ctld_store_unlock(struct sl_ctld *c);

/**
 * Release the store after an operation that returned @p rc: on -EIO (LMDB
 * failed, e.g. MDB_MAP_RESIZED after the writer grew the map) the handle is
 * closed too, and the next sl_ctld_store_lock() opens it again.
 */
void sl_ctld_store_release(struct sl_ctld *c, int rc);

/**
 * Ask sluiced: send @p req (one line, with its '\n') and parse the reply.
 * @param[out] ret_raw  The reply line (malloc()ed, NUL-terminated, with room
 *                      for one more byte after the NUL); may be NULL.
 * @return the reply (any JSON value), or NULL with @p why set and
 *         @p ret_status the HTTP status to answer (503 unreachable, 502 a
 *         reply that is not JSON).
 */
json_t *sl_ctld_dp_call(struct sl_ctld *c, const char *req, int timeout_ms, char **ret_raw,
			unsigned int *ret_status, char *why, size_t cap);

/** A view name as the configuration allows: [a-z0-9_]{1,64}. */
bool sl_ctld_view_name_ok(const char *name);

#endif /* SL_CTLD_HTTP_H */
