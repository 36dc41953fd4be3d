/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_MERGE_H
#define SL_DP_MERGE_H

/**
 * @file
 * The storage thread: takes closed window tables from every worker's to_store
 * ring, merges the cores' partials per window, gives the emptied tables back
 * on from_store, and commits a window to LMDB (one write transaction) once
 * every worker has moved past it or is idle.
 *
 * A partial that arrives for a window already committed (a core that was idle
 * and woke up inside it) is merged with the stored records and the window is
 * written again: counted as windows_amended, never lost.
 *
 * Threading: one thread owns struct sl_merge and the store's write handle.
 * Its counters (struct sl_merge_stats) are written with relaxed atomic stores
 * and may be read from any thread.
 */

#include <stdint.h>

#include "worker.h"

struct sl_store;
struct sl_vmerge;

#define SL_MERGE_HIST_BUCKETS 24

struct sl_merge_stats {
	uint64_t windows_committed;
	uint64_t windows_amended;
	uint64_t records_written;
	uint64_t commit_errors;    /**< Windows that could not be written (map full, I/O). */
	uint64_t records_lost;     /**< Records of those windows. */
	uint64_t pending_windows;  /**< Windows merged but not yet committed. */
	uint64_t last_commit_ns;   /**< Duration of the latest commit. */
	uint64_t partials;         /**< Tables received from workers. */
	uint64_t busy_ns;          /**< CPU time of the storage thread (merge + commit). */
	/** Commit durations: bucket i counts commits in [2^i, 2^(i+1)) microseconds. */
	uint64_t commit_us_log2[SL_MERGE_HIST_BUCKETS];
};

struct sl_merge;

/**
 * Create the storage state. Borrows @p workers and @p store; both must outlive it.
 * @return NULL with errno set on failure.
 */
struct sl_merge *sl_merge_create(struct sl_worker *workers, unsigned int n_workers,
				 struct sl_store *store, uint32_t max_set_members);

/**
 * Let the storage thread also merge and commit the workers' view slices
 * (vmerge.h; borrowed). Call before the thread starts.
 */
void sl_merge_set_views(struct sl_merge *m, struct sl_vmerge *vm);

/**
 * Run @p fn(@p arg) on the storage thread (it owns the store's write handle
 * and the view merge state) and wait for it, at most @p timeout_ms.
 * Control path only (main lcore), one call at a time.
 * @return fn's return value, or -ETIMEDOUT (fn may still run later: the
 *         caller must keep @p arg alive until sl_merge_destroy()).
 */
int sl_merge_call(struct sl_merge *m, int (*fn)(void *arg), void *arg, int timeout_ms);

/** Thread body: runs until every worker stopped and everything is committed. */
void *sl_merge_thread(void *arg);

/** Copy the counters (relaxed loads). */
void sl_merge_stats_read(const struct sl_merge *m, struct sl_merge_stats *ret);

/** Free. NULL is a no-op. Call after the thread was joined. */
void sl_merge_destroy(struct sl_merge *m);

#endif /* SL_DP_MERGE_H */
