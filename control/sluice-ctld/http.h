/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTLD_HTTP_H
#define SL_CTLD_HTTP_H

/**
 * @file
 * sluice-ctld's HTTP API on libmicrohttpd: GET /healthz, /v1/stats, /metrics
 * and /v1/metrics. Requests are served one at a time by libmicrohttpd's single
 * internal polling thread, which alone touches struct sl_ctld after start.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct sl_store;
struct MHD_Daemon;

struct sl_ctld {
	const char *db;     /**< LMDB store directory (opened read-only). */
	const char *dp_sock; /**< sluiced's control socket. */
	struct sl_store *store; /**< NULL until it could be opened. */
	int store_err;      /**< Last open error (-errno), 0 once open. */
	/* /healthz: storage counters at the previous check. */
	bool seen;
	uint64_t committed;
	uint64_t commit_errors;
	bool committing;
	struct MHD_Daemon *mhd;
};

/**
 * Start serving on @p addr (IPv4 or IPv6; the port in it, 0 for any).
 * @param[out] ret_port  The bound port.
 * @return 0, or -1 (logged).
 */
int sl_ctld_http_start(struct sl_ctld *c, const struct sockaddr *addr, uint16_t *ret_port);

/** Stop serving and close the store. */
void sl_ctld_http_stop(struct sl_ctld *c);

#endif /* SL_CTLD_HTTP_H */
