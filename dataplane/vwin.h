/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_VWIN_H
#define SL_DP_VWIN_H

/**
 * @file
 * Views on one core: assigns each event to the slice table of every view it
 * matches, decides lateness from the core's watermark, and closes slices.
 *
 * Slices. A view with window size S and slide L (tumbling: S == L) keeps
 * slices of length L; a window is the merge of its S / L slices, done at
 * query time, so the per-event cost does not depend on S / L.
 *
 * Time. An event-time view takes the event's ts (its arrival time when it has
 * none); an arrival-time view takes the arrival time. M is the largest event
 * time this core has seen (over every event, matching a view or not). An
 * event whose slice ends at e is late for an event-time view when
 * e + allowed_lateness <= M, M taken before the event: it is counted (and, with
 * keep_late, reported through the late callback with its group key) and not
 * aggregated. When M passes a slice's end + allowed_lateness the slice closes:
 * its table goes to the handover callback. Arrival-time views close a slice
 * when the arrival clock passes its end (sl_vwin_tick()).
 *
 * Per view, a small ring of open slices indexed by slice number (at most
 * SL_VWIN_SLOTS_MAX, ceil(lateness / L) + 2 is enough) and a free list of
 * empty tables refilled by the owner (tables come back from the storage
 * thread). No free table: the event is dropped as no_table, counted.
 *
 * Ownership: a struct sl_vwin belongs to one core. The published fields
 * (done_before per view, counters) are written with atomic stores and may be
 * read by any thread. No allocation, no syscalls, no locks after init.
 */

#include <stdbool.h>
#include <stdint.h>

#include <sluice/common.h>

#include "event.h"
#include "view.h"

#define SL_VWIN_SLOTS_MAX 64
/** View slots over a process's life (each view, and each redefinition, takes one). */
#define SL_VIEW_SLOTS_MAX 1024
#define SL_VWIN_POOL_MAX 80
/** Late notes coalesced per view before they go to the late callback. */
#define SL_VWIN_NOTES 16
/** Longest group key a late note carries (longer: counted, not attributed). */
#define SL_VWIN_NOTE_KEY 47

/** A late count of one (view, slice, group). */
struct sl_vwin_note {
	uint32_t view;
	uint32_t count;
	uint64_t start;
	uint8_t key_len;
	uint8_t key[SL_VWIN_NOTE_KEY];
};

/** Per-view counters of one core (single writer, relaxed loads). */
struct sl_vwin_stats {
	uint64_t matched;         /**< Events that passed where. */
	uint64_t aggregated;      /**< Of those, aggregated (overflow group included). */
	uint64_t late;            /**< Of those, late: not aggregated. */
	uint64_t dropped;         /**< Of those, dropped (key_too_long, set_limit, no_table). */
	uint64_t overflow_events; /**< Aggregated into the __overflow__ group. */
	uint64_t missing_field_events;
	uint64_t slices_closed;   /**< Tables handed over. */
	uint64_t slices_forced;   /**< Handed over early: their slot was needed. */
	uint64_t late_unattributed; /**< keep_late: notes lost (key too long, sink full). */
};

/** Called with a closed slice's table; returns false when it cannot take it. */
typedef bool (*sl_vwin_handover_fn)(void *arg, uint32_t view, struct sl_view_table *t);
/** Called with late notes; returns how many it took (the rest are counted as lost). */
typedef uint32_t (*sl_vwin_late_fn)(void *arg, const struct sl_vwin_note *notes, uint32_t n);

struct sl_vwin_view {
	const struct sl_view_plan *plan;
	uint64_t slide;
	uint64_t lateness;
	bool arrival;
	bool keep_late;
	uint32_t n_slots;
	uint64_t min_open;          /**< Oldest open slice start, UINT64_MAX: none. */
	struct sl_view_table *slot[SL_VWIN_SLOTS_MAX];
	uint64_t slot_start[SL_VWIN_SLOTS_MAX]; /**< Start of the slice in slot[i] (its table's window). */
	uint32_t n_free;
	struct sl_view_table *free[SL_VWIN_POOL_MAX];
	uint32_t n_notes;
	struct sl_vwin_note notes[SL_VWIN_NOTES];
	uint32_t view_slot;         /**< Index of its sl_vwin_pub and its late notes' view (stable across reloads). */
	uint64_t min_start;         /**< Slices starting before it are not taken (a view added while running). */
	struct sl_vwin_stats stats; /**< Private: the owner's running counters. */
};

/**
 * What a core publishes per view slot (sl_vwin_publish(), atomic stores), for
 * the storage thread and the control socket. A slot the core does not run has
 * done_before UINT64_MAX.
 */
struct sl_vwin_pub {
	uint64_t done_before;       /**< Every slice starting before it was handed over. */
	struct sl_vwin_stats stats;
};

struct sl_vwin {
	uint32_t n_views;
	uint32_t core;
	uint64_t max_ts;            /**< M: largest event time seen. */
	uint64_t clock;             /**< Latest arrival time seen. */
	sl_vwin_handover_fn handover;
	sl_vwin_late_fn late;
	void *arg;
	struct sl_vwin_view *v;     /**< n_views entries, caller memory. */
	struct sl_vwin_pub *pub;    /**< Indexed by view_slot, caller memory. */
};

/**
 * Set up one view (view_slot 0: the owner sets it).
 * @p slide, @p lateness from the config; tables are given with sl_vwin_give().
 * @return 0, or -EINVAL (slide 0, lateness / slide too large for the slots).
 */
int sl_vwin_view_init(struct sl_vwin_view *v, const struct sl_view_plan *plan, uint64_t slide,
		      uint64_t lateness, bool arrival, bool keep_late);

/** Slots needed by a view: ceil(lateness / slide) + 2. */
uint32_t sl_vwin_slots_needed(uint64_t slide, uint64_t lateness);

/** Give an empty table to view @p view's free list. @return false when full. */
bool sl_vwin_give(struct sl_vwin *w, uint32_t view, struct sl_view_table *t);

/**
 * Account one event arriving at @p arrival_ns.
 * @return SL_DROP__MAX when some view aggregated it; else SL_DROP_LATE when it
 *         was late for a view that matched, another drop reason when a view
 *         dropped it, SL_DROP_FILTERED when no view matched.
 */
unsigned int sl_vwin_event(struct sl_vwin *w, const struct sl_event *ev, uint64_t arrival_ns);

/** Advance the arrival clock to @p now_ns: closes arrival-time slices that ended. */
void sl_vwin_tick(struct sl_vwin *w, uint64_t now_ns);

/** Hand over every open slice of every view (idle or shutdown). */
void sl_vwin_flush(struct sl_vwin *w);

/**
 * Retire view @p view (a reload removed it): hand over its open slices, send
 * its late notes, publish its final counters and done_before UINT64_MAX.
 * The caller then drops it from w->v.
 */
void sl_vwin_view_retire(struct sl_vwin *w, uint32_t view);

/** Send pending late notes and publish done_before and counters. Once per burst. */
void sl_vwin_publish(struct sl_vwin *w);

/** Open slices over all views (0: nothing held). */
uint32_t sl_vwin_open(const struct sl_vwin *w);

/** Add a slot's published counters to @p acc (relaxed loads; any thread). */
void sl_vwin_stats_read(const struct sl_vwin_pub *p, struct sl_vwin_stats *acc);

#endif /* SL_DP_VWIN_H */
