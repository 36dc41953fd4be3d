/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_BENCH_GEN_EVENTS_H
#define SL_BENCH_GEN_EVENTS_H

/**
 * @file
 * sluice-gen's retail events for the JSON lines and binary formats, and the
 * exact ground truth of a configuration's views over them.
 *
 * An event is {"event": "visit"|"purchase"|"refund", "store": "s03",
 * "sku": "A-0042", "amount": 23.50, "user": "u0042", "ts": ms}; visits have no
 * sku and no amount. sl_gen_event_json() writes it as one JSON line,
 * sl_gen_event_bin() appends it to a binary datagram (docs/wire-format.md).
 *
 * The views truth (struct sl_gen_views) follows a loaded configuration: each
 * view's where, group_by, window (tumbling or sliding), time (event or
 * arrival), allowed_lateness, keep_late and aggregates. It is fed the events
 * in send order, each with the RX queue its datagram goes to (lateness is
 * judged per queue, as sluiced's worker cores do), and writes one JSON row per
 * (view, window, group), in the shape of `sluicectl query --json`, as soon as
 * no later event can reach the window.
 * The rules (lateness, ties, formats) are documented in sl_gen_views_begin()
 * and in the "late_rule" field it writes.
 *
 * Threading: none. Every object belongs to its caller. Memory of the truth is
 * bounded by the events of the windows still open, which span the largest
 * backward displacement of event times (max_back_ns) plus one window.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "binfmt.h"
#include "config.h"
#include "event.h"

/** Event kinds: X(enum suffix, event name). */
#define SL_GEN_KINDS(_)        \
	_(VISIT, "visit")      \
	_(PURCHASE, "purchase") \
	_(REFUND, "refund")

enum sl_gen_kind {
#define _(e, s) SL_GEN_KIND_##e,
	SL_GEN_KINDS(_)
#undef _
	SL_GEN_KIND__MAX,
};

/** Longest JSON line sl_gen_event_json() writes (without '\n'). */
#define SL_GEN_JSON_LINE_MAX 160u

/** One retail event, before rendering. */
struct sl_gen_event {
	uint64_t ts_ms;  /**< Event time, ms since the Unix epoch, >= 1. */
	int64_t cents;   /**< Amount in hundredths, purchase and refund only (>= 0). */
	uint32_t store;  /**< 1..stores */
	uint32_t sku;    /**< 1..skus; 0 (absent) for visits. */
	uint32_t user;   /**< 1..users */
	uint8_t kind;    /**< enum sl_gen_kind */
};

/** How identifiers are written: zero-padded to these widths ("s03", "A-0042", "u0042"). */
struct sl_gen_names {
	unsigned int store_w;
	unsigned int sku_w;
	unsigned int user_w;
};

/** Caller memory for sl_gen_event_bin(): the event and the strings its spans point to. */
struct sl_gen_bin_scratch {
	struct sl_event ev;
	char store[24];
	char sku[24];
	char user[24];
};

/**
 * Write @p ev as one JSON line (no '\n') into @p out, which holds at least
 * SL_GEN_JSON_LINE_MAX bytes. @return the line's length.
 */
uint32_t sl_gen_event_json(const struct sl_gen_event *ev, const struct sl_gen_names *nm,
			   char *out);

/**
 * Append @p ev to a binary datagram: strings as type 1, the amount as type 3
 * (exact micro-units), the time as ts_ns = ts_ms * 1e6.
 *
 * @return 0, or -ENOSPC when it does not fit (nothing written; -EOVERFLOW
 *         after 65535 events).
 */
int sl_gen_event_bin(struct sl_bin_enc *enc, const struct sl_gen_event *ev,
		     const struct sl_gen_names *nm, struct sl_gen_bin_scratch *s);

struct sl_gen_views; /**< Opaque: the open windows of every view. */

/**
 * Create the truth of @p cfg's views.
 *
 * @param cfg  Borrowed; must outlive the object.
 * @param max_back_ns  No event time is earlier than its datagram's base time
 *                     (sl_gen_views_advance()) minus this.
 * @param n_queues  RX queues (>= 1): each has its own watermark M.
 * @param[out] ret  Set on success only; release with sl_gen_views_destroy().
 * @return 0, or -ENOMEM.
 */
int sl_gen_views_create(const struct sl_config *cfg, const struct sl_gen_names *nm,
			uint64_t max_back_ns, uint32_t n_queues, struct sl_gen_views **ret);

/**
 * Write `"late_rule":"...","view_defs":[...],\n"views":[\n` to @p f (borrowed
 * until sl_gen_views_end()); rows follow as windows complete.
 *
 * A row is {"view", "window_start", "window_end", "group", "values", "late"},
 * in the shape of view.h's query output: group values and top-k items are
 * dimension texts (strings as sent, numbers as their shortest exact decimal,
 * an absent dimension ""); "values" is keyed by the aggregates' keys, with
 * "KEY_error": 0 beside distinct and (non-null) quantiles and "error": 0 in
 * top-k items, since the truth is exact. Values cover the events that are not
 * late: count; sum (exact decimal; null without values, as avg, min, max,
 * last and quantiles); avg, the correctly rounded mean; last, the value of the
 * greatest view time, then the greatest value; quantiles, the element of rank
 * floor(q (n - 1)) of the sorted values; distinct; top-k by count descending,
 * then item bytes. Only "amount" is a number. An event is late by its slice
 * and its queue's watermark (late_rule), and then for every window holding
 * it. With keep_late, "late" counts the row's late events and a group whose
 * events were all late has a row with count 0; without, "late" is 0 and such
 * a group has no row. Rows are sorted by window end, view (config order),
 * then group values bytewise, dimension by dimension.
 */
void sl_gen_views_begin(struct sl_gen_views *v, FILE *f);

/**
 * A datagram starts: every later event has an event time >= @p base_ns minus
 * max_back_ns and an arrival time >= @p arrival_ns. Windows that no later
 * event can reach are written and freed.
 *
 * @return 0, or -ENOMEM.
 */
int sl_gen_views_advance(struct sl_gen_views *v, uint64_t base_ns, uint64_t arrival_ns);

/**
 * Account one event, in send order, received on RX queue @p queue
 * (< n_queues) at @p arrival_ns (its datagram's timestamp). It is judged
 * against the largest event time sent before it on that queue, which it then
 * raises.
 *
 * @return 0, -ENOMEM, or -ERANGE when it reaches a window already written
 *         (the max_back_ns promise was broken).
 */
int sl_gen_views_add(struct sl_gen_views *v, const struct sl_gen_event *ev, uint32_t queue,
		     uint64_t arrival_ns);

/**
 * Write every remaining window, then `\n],\n"totals":[...]` (per view: events
 * matched, late events among them, each counted once however many windows
 * hold it, and rows). The caller closes the enclosing object.
 *
 * @return 0, or -ENOMEM.
 */
int sl_gen_views_end(struct sl_gen_views *v);

/** Release. NULL is a no-op. */
void sl_gen_views_destroy(struct sl_gen_views *v);

/** true when some view of @p cfg windows by arrival time. */
bool sl_gen_views_have_arrival(const struct sl_config *cfg);

#endif /* SL_BENCH_GEN_EVENTS_H */
