/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTLD_DP_H
#define SL_CTLD_DP_H

/**
 * @file
 * sluice-ctld's client of sluiced's control socket: one connection per
 * request ("stats\n" in, one line of JSON out), so a restarted sluiced is
 * picked up with no reconnect logic. Threading: any thread, no shared state.
 */

#include <stddef.h>

/** Longest reply accepted, bytes (as sluicectl). */
#define SL_CTLD_DP_REPLY_MAX (1u << 20)

/**
 * Send @p req (one line, with its '\n') to the unix socket @p path and read
 * one reply line within @p timeout_ms.
 * @param[out] ret_buf  NUL-terminated reply without its '\n' (free()).
 * @return 0, or -errno: -ENOENT/-ECONNREFUSED (not running), -ETIMEDOUT,
 *         -EMSGSIZE, -ENODATA (closed without a byte), -ENOMEM.
 */
int sl_ctld_dp_call(const char *path, const char *req, int timeout_ms, char **ret_buf,
		    size_t *ret_len);

#endif /* SL_CTLD_DP_H */
