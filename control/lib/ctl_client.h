/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTL_CLIENT_H
#define SL_CTL_CLIENT_H

/**
 * @file
 * Client of sluiced's control socket, shared by sluicectl and sluice-ctld:
 * one connection per request (a request line in, one reply line out), so a
 * restarted sluiced is picked up with no reconnect logic. Every step runs
 * against an absolute deadline on CLOCK_MONOTONIC, in ms.
 * Threading: any thread, no shared state.
 */

#include <stddef.h>
#include <stdint.h>

/** Longest reply line accepted, bytes (without its '\n'). */
#define SL_CTL_REPLY_MAX (1u << 20)

/**
 * The deadline @p timeout_ms from now.
 * @return ms on CLOCK_MONOTONIC.
 */
int64_t
sl_ctl_deadline(int timeout_ms);

/**
 * Connect to the unix stream socket @p path before @p deadline.
 * @return the (non-blocking) fd, or -errno: -ENOENT/-ECONNREFUSED (nobody
 *         listening), -ETIMEDOUT, -ENAMETOOLONG.
 */
int
sl_ctl_connect(const char *path, int64_t deadline);

/**
 * Send all of @p buf on @p fd before @p deadline.
 * @return 0, -ETIMEDOUT or another -errno.
 */
int
sl_ctl_send(int fd, const char *buf, size_t len, int64_t deadline);

/**
 * Read one reply line (end of stream also ends it) before @p deadline.
 * @param[out] ret_buf  NUL-terminated reply without its '\n' (free()).
 * @param[out] ret_len  Its length.
 * @return 0, -ETIMEDOUT, -EMSGSIZE (longer than SL_CTL_REPLY_MAX), -ENODATA
 *         (closed without a byte), -ENOMEM or another -errno.
 */
int
sl_ctl_recv_line(int fd, int64_t deadline, char **ret_buf, size_t *ret_len);

/**
 * Connect to @p path, send @p req (one line, with its '\n') and read one
 * reply line, all within @p timeout_ms.
 * @param[out] ret_buf  NUL-terminated reply without its '\n' (free()).
 * @param[out] ret_len  Its length.
 * @return 0, or a -errno of sl_ctl_connect(), sl_ctl_send() or sl_ctl_recv_line().
 */
int
sl_ctl_call(const char *path, const char *req, int timeout_ms, char **ret_buf, size_t *ret_len);

#endif /* SL_CTL_CLIENT_H */
