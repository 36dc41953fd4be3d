/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTLD_SSE_H
#define SL_CTLD_SSE_H

/**
 * @file
 * GET /v1/views/{name}/stream: server-sent events, one per window of the
 * view as soon as the window is complete in the store, in window order, each
 * exactly once per connection (docs/api.md):
 *
 *     id: <window_start_ns>
 *     event: window
 *     data: {"view":"NAME","window_start":S,"window_end":E,"rows":[...]}
 *
 * the rows being those of `sluicectl query NAME --json` for that window.
 *
 * How: one hub thread ("sl-sse") polls the store every SL_CTLD_SSE_POLL_MS
 * for the newest committed slice of each view that has subscribers (meta
 * "last_window/<id>"), queries the windows that became complete and appends
 * their events to the subscribers' buffers. libmicrohttpd sends a buffer
 * through a content-reader callback on its own pool threads; a subscriber
 * with nothing to send is suspended (MHD_suspend_connection()) and resumed
 * by the hub when it has. Subscribers that are at the same position share
 * one query. The hub also writes ": keepalive" every
 * SL_CTLD_SSE_KEEPALIVE_S seconds, and notices a client that went away while
 * suspended (a peek on its socket) so that its slot is freed at once.
 *
 * Threading: the hub's lock protects the subscriber list and every buffer;
 * store work happens outside it, under the store's lock. At most --max-sse
 * subscribers (more: 503).
 */

#include <microhttpd.h>

#include "http.h"

/** Period of the hub's poll of the store, ms. */
#define SL_CTLD_SSE_POLL_MS 150
/** A ": keepalive" comment after this many seconds without an event. */
#define SL_CTLD_SSE_KEEPALIVE_S 15

/** Allocate the hub (no thread yet). @return 0 or -ENOMEM. */
int sl_ctld_sse_create(struct sl_ctld *c);

/** Start the hub thread. @return 0 or -errno. */
int sl_ctld_sse_start(struct sl_ctld *c);

/**
 * Stop the hub thread and end every stream (their connections are resumed
 * and closed by libmicrohttpd); new streams are refused from now on.
 */
void sl_ctld_sse_stop(struct sl_ctld *c);

/** Free the hub, after MHD_stop_daemon(). NULL hub: no-op. */
void sl_ctld_sse_destroy(struct sl_ctld *c);

/**
 * Serve GET /v1/views/@p view/stream: parameters Last-Event-ID (header) or
 * last_event_id, and from; 404 unknown view, 400 bad parameter, 503 store
 * unavailable or --max-sse streams open.
 */
enum MHD_Result sl_ctld_sse_serve(struct sl_ctld *c, struct MHD_Connection *conn,
				  const char *view);

#endif /* SL_CTLD_SSE_H */
