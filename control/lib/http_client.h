/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTL_HTTP_CLIENT_H
#define SL_CTL_HTTP_CLIENT_H

/**
 * @file
 * A small HTTP/1.1 client for http:// URLs (sluicectl talking to sluice-ctld):
 * one request per TCP connection ("Connection: close"), a body sent with
 * Content-Length, responses delimited by Content-Length, chunked transfer
 * coding or the end of the connection, and a parser of text/event-stream
 * (server-sent events) that is fed the body as it arrives. No TLS, no
 * redirects, no keep-alive, no proxies: it talks to one known server.
 *
 * Every blocking step runs against a timeout on CLOCK_MONOTONIC. A signal
 * whose handler returns interrupts a wait: the call fails with -EINTR, so a
 * caller can stop a long stream on SIGINT (poll() is never restarted).
 *
 * Errors are a negative errno plus one line of text in struct sl_http_error:
 * -EINVAL (bad URL), -EPROTONOSUPPORT (not http://), -EHOSTUNREACH (the name
 * does not resolve), -ECONNREFUSED and other connect() errors, -ETIMEDOUT,
 * -EPROTO (not a well-formed HTTP response, or it ended early), -EMSGSIZE (a
 * header block, line or body over its limit), -ENOMEM, -EINTR.
 *
 * Ownership: a struct sl_http_conn owns its socket and buffers until
 * sl_http_close(); a struct sl_http_response owns its strings until
 * sl_http_response_fini(). Threading: no shared state; one connection is
 * used by one thread at a time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** The largest status line plus headers accepted, bytes. */
#define SL_HTTP_HEAD_MAX (64u * 1024)
/** Most header fields kept of one response (more: -EMSGSIZE). */
#define SL_HTTP_HEADERS_MAX 64
/** sl_http_fetch()'s body bound when the caller gives 0. */
#define SL_HTTP_BODY_MAX_DEFAULT (64u * 1024 * 1024)

/** Why a call failed: one line, no trailing newline. */
struct sl_http_error {
	char msg[320];
};

/** A parsed http:// URL. */
struct sl_http_url {
	char host[256];	     /**< Name or address, IPv6 without its brackets. */
	char port[6];	     /**< Decimal, "80" when the URL has none. */
	char authority[268]; /**< For the Host header: "host:port", IPv6 in brackets. */
	char prefix[512];    /**< Path before every request target, without a trailing '/'. */
};

/**
 * Parse "http://HOST[:PORT][/PREFIX]" (HOST a name, an IPv4 address or an
 * IPv6 one in brackets). A query or fragment is not allowed.
 * @param[out] ret  Set on success only.
 * @return 0, -EINVAL or -EPROTONOSUPPORT (another scheme, https:// included).
 */
int sl_http_url_parse(const char *url, struct sl_http_url *ret, struct sl_http_error *err);

/** One request. Everything is borrowed for the call. */
struct sl_http_request {
	const char *method;	    /**< "GET", "PUT", ... */
	const char *target;	    /**< "/v1/views?from=1": the URL's prefix goes before it. */
	const char *const *headers; /**< NULL-terminated "Name: value" lines, or NULL. */
	const void *body;	    /**< Sent with Content-Length when not NULL. */
	size_t body_len;
	int timeout_ms; /**< Connect, send and read the headers: in all. < 0: none. */
};

struct sl_http_conn; /**< Opaque: a response whose body is being read. */

/**
 * Connect, send @p req and read the response's status line and headers
 * (informational 1xx responses are skipped).
 * @param[out] ret  Set on success only (any status); read the body with
 *                  sl_http_conn_read(), release with sl_http_close().
 * @return 0 or a -errno of the list in the file comment.
 */
int sl_http_open(const struct sl_http_url *u, const struct sl_http_request *req,
		 struct sl_http_conn **ret, struct sl_http_error *err);

/** The response's status code (200, 404, ...). */
int sl_http_conn_status(const struct sl_http_conn *c);

/** The value of header @p name (case-insensitive; the first one), or NULL. */
const char *sl_http_conn_header(const struct sl_http_conn *c, const char *name);

/**
 * Read body bytes, decoded (without the chunked framing), as soon as some
 * are there.
 * @param timeout_ms  How long to wait for the first byte; < 0: forever.
 * @return bytes read (> 0), 0 at the end of the body, or a -errno.
 */
ssize_t sl_http_conn_read(struct sl_http_conn *c, void *buf, size_t cap, int timeout_ms,
			  struct sl_http_error *err);

/** Close the connection and free it. NULL is a no-op. */
void sl_http_close(struct sl_http_conn *c);

/** A whole response, as sl_http_fetch() returns it. */
struct sl_http_response {
	int status;
	char *content_type; /**< Its Content-Type ("" when none). */
	char *body;	    /**< NUL-terminated (the NUL is not counted in body_len). */
	size_t body_len;
};

/**
 * sl_http_open(), then read the whole body within the same timeout.
 * @param max_body  Longest body accepted (0: SL_HTTP_BODY_MAX_DEFAULT); longer: -EMSGSIZE.
 * @param[out] ret  Set on success only (any status); free with sl_http_response_fini().
 * @return 0 or a -errno.
 */
int sl_http_fetch(const struct sl_http_url *u, const struct sl_http_request *req, size_t max_body,
		  struct sl_http_response *ret, struct sl_http_error *err);

/** Free what a response holds. */
void sl_http_response_fini(struct sl_http_response *r);

/**
 * Percent-encode @p s for a query value or a path segment: everything but
 * A-Z a-z 0-9 - . _ ~ becomes %XX.
 * @return the length of the encoding (as snprintf(): @p out holds as much of
 *         it as fits in @p cap, NUL-terminated when cap > 0).
 */
size_t sl_http_escape(const char *s, char *out, size_t cap);

/* ---- text/event-stream ---- */

/** One server-sent event. Strings are valid during the callback only. */
struct sl_sse_event {
	const char *id;	   /**< The last event id of the stream ("" when none was sent). */
	const char *event; /**< Its type: "message" when none was given. */
	const char *data;  /**< The data lines joined by '\n', NUL-terminated. */
	size_t data_len;
};

/**
 * Called for each complete event.
 * @return 0 to go on; anything else stops sl_sse_parser_feed(), which returns it.
 */
typedef int (*sl_sse_event_fn)(const struct sl_sse_event *ev, void *arg);

struct sl_sse_parser; /**< Opaque: the state of one stream (keep it across reads). */

/**
 * A parser of the event-stream format (WHATWG HTML, "server-sent events"):
 * lines end with CRLF, LF or CR; "data", "id", "event" and "retry" fields; ':'
 * comments (keepalives) ignored; an event is dispatched at an empty line when
 * it has data.
 * @param max  Longest line and longest event data, bytes (0: 16 MiB).
 * @return the parser, or NULL with errno = ENOMEM.
 */
struct sl_sse_parser *sl_sse_parser_create(size_t max);

/**
 * Feed the next @p len bytes of the stream (any split: mid-line, mid-CRLF);
 * calls @p fn for each event they complete.
 * @return 0, @p fn's non-zero return (the rest of @p buf is dropped), or
 *         -EMSGSIZE (a line or an event over the limit: the stream is broken).
 */
int sl_sse_parser_feed(struct sl_sse_parser *p, const char *buf, size_t len, sl_sse_event_fn fn,
		       void *arg);

/** The last event id seen ("" when none): what Last-Event-ID takes on a reconnect. */
const char *sl_sse_parser_last_id(const struct sl_sse_parser *p);

/** The reconnection time the server asked for with "retry:", ms; 0 when it did not. */
uint64_t sl_sse_parser_retry_ms(const struct sl_sse_parser *p);

/**
 * Forget a partial line and event (a new connection starts clean); the last
 * event id and the retry time stay.
 */
void sl_sse_parser_reset(struct sl_sse_parser *p);

/** Free a parser. NULL is a no-op. */
void sl_sse_parser_destroy(struct sl_sse_parser *p);

#endif /* SL_CTL_HTTP_CLIENT_H */
