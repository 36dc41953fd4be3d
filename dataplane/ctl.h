/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_CTL_H
#define SL_DP_CTL_H

/**
 * @file
 * The dataplane's control socket: a unix stream socket (mode 0660) speaking
 * newline-terminated requests and one-line JSON replies. Peers are checked
 * with SO_PEERCRED: root, the daemon's own user or a member of its group.
 *
 * Threading: served from the main lcore only, with poll(); never touched by
 * workers. Handlers run on the main lcore and read worker counters with
 * relaxed atomic loads.
 */

#include <stddef.h>
#include <sys/types.h>

struct sl_ctl;

/** Longest request line, bytes (without its '\n'): a whole configuration fits. */
#define SL_CTL_REQ_MAX (1u << 20)

/**
 * Request handler: write a one-line JSON reply (without the newline) for the
 * request @p cmd (the line without its newline; @p args points after the first
 * space or at ""). @return bytes written, or -1 when the reply did not fit.
 */
typedef int (*sl_ctl_handler_fn)(const char *cmd, const char *args, char *out, size_t cap,
				 void *arg);

/** One request type: name, help line, handler. */
struct sl_ctl_cmd {
	const char *name;
	const char *help;
	sl_ctl_handler_fn fn;
};

/**
 * Listen on @p path (replacing a stale socket file; the directory is created
 * if missing). @p cmds is a table ending with a zeroed entry; borrowed.
 * @return 0 or -errno.
 */
int sl_ctl_open(const char *path, const struct sl_ctl_cmd *cmds, void *arg,
		struct sl_ctl **ret_ctl);

/**
 * Give the socket file to group @p gid (mode stays 0660) and let peers whose
 * primary group is @p gid in. @return 0 or -errno (chown).
 */
int sl_ctl_set_group(struct sl_ctl *ctl, gid_t gid);

/** Serve pending connections and requests for at most @p timeout_ms. */
void sl_ctl_poll(struct sl_ctl *ctl, int timeout_ms);

/** Close the socket and unlink its path. NULL is a no-op. */
void sl_ctl_close(struct sl_ctl *ctl);

#endif /* SL_DP_CTL_H */
