/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_VMERGE_H
#define SL_DP_VMERGE_H

/**
 * @file
 * The storage thread's side of views: merges the cores' slice tables per
 * (view, slice start), adds late notes, commits a slice to LMDB (one write
 * transaction per slice) when the caller says every core is past it, amends
 * slices already committed when a straggler arrives, and applies retention.
 *
 * Records: key = u32 BE view id | u64 BE slice start | group key, value =
 * u64 LE slice end + sl_view_state_serialize() (storage/store.h); late counts
 * under the group key prefixed by SL_VIEW_LATE_MARK, value u64 LE count.
 *
 * Threading: used by the storage thread only; counters are written with
 * relaxed atomic stores and may be read by any thread (sl_vmerge_stats_read()).
 */

#include <stdbool.h>
#include <stdint.h>

#include "view.h"
#include "vwin.h"

struct sl_store;
struct sl_vmerge;

/** One view as the storage thread sees it. */
struct sl_vmerge_view {
	const struct sl_view_plan *plan;
	uint32_t id;           /**< Record view id (store registry). */
	uint64_t slide_ns;     /**< Slice length. */
	uint64_t retention_ns; /**< 0: forever. */
};

struct sl_vmerge_stats {
	uint64_t slices_committed;
	uint64_t slices_amended;   /**< Written again: aggregates arrived after the commit. */
	uint64_t records_written;
	uint64_t commit_errors;
	uint64_t records_lost;
	uint64_t merge_errors;     /**< Groups that could not be merged (out of memory). */
	uint64_t late_notes;
	uint64_t late_updates;     /**< Writes of late counts alone (at most 1/s per slice). */
	uint64_t retention_deleted;
	uint64_t pending;          /**< Slices merged, not yet committed. */
	uint64_t last_commit_ns;
};

/** @return NULL with errno set. Borrows @p views (n entries) and @p store. */
struct sl_vmerge *sl_vmerge_create(struct sl_store *store, const struct sl_vmerge_view *views,
				   uint32_t n, uint32_t max_set_members);
void sl_vmerge_destroy(struct sl_vmerge *vm);

/** Merge a closed slice table (from any core). The caller resets and returns it. */
void sl_vmerge_take(struct sl_vmerge *vm, struct sl_view_table *t);

/** Add late notes. */
void sl_vmerge_late(struct sl_vmerge *vm, const struct sl_vwin_note *notes, uint32_t n);

/** Commit every pending slice of view @p view (index) that starts before @p bound. */
void sl_vmerge_commit_before(struct sl_vmerge *vm, uint32_t view, uint64_t bound);

/**
 * Retention: delete the records of each view whose slice starts more than its
 * retention before the end of its newest committed slice (event time, so a
 * replay keeps what a live run would). At most one batch of 10 000 records
 * per view and second; with @p final, everything due, now.
 */
void sl_vmerge_retention(struct sl_vmerge *vm, bool final);

/**
 * Add views (a configuration reload): they take the next slots, in order.
 * Storage thread only. @return 0 or -ENOMEM (nothing added).
 */
int sl_vmerge_add_views(struct sl_vmerge *vm, const struct sl_vmerge_view *views, uint32_t n);

/** View slots known (views added by reloads included). */
uint32_t sl_vmerge_views(const struct sl_vmerge *vm);

/** Slices pending over all views. */
uint32_t sl_vmerge_pending(const struct sl_vmerge *vm);

void sl_vmerge_stats_read(const struct sl_vmerge *vm, struct sl_vmerge_stats *ret);

#endif /* SL_DP_VMERGE_H */
