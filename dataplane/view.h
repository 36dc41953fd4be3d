/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_VIEW_H
#define SL_DP_VIEW_H

/**
 * @file
 * Views: where-filter, group-by and the aggregate states of one configured
 * view (config.h, struct sl_config_view), in a per-core window table.
 *
 * A plan (struct sl_view_plan) is compiled once from a view on the control
 * path (it allocates, and copies every string it needs: the config may be
 * freed afterwards). It is read-only afterwards and may be shared by every
 * core. A table (struct sl_view_table) lives in one caller-provided block and
 * never allocates; like agg.h's table it is owned by one thread at a time
 * (the worker, then the storage thread). Merged states (storage side,
 * sl_view_state_*) are plain blocks of sl_view_plan_group_size() bytes plus
 * one heap-allocated struct sl_agg_set per distinct() aggregate.
 *
 * Dimensions. A dimension (where, group_by, and the values of distinct() and
 * topk()) is read as text: a string field is its bytes, a number is its
 * decimal text (exact numbers with at most 6 decimals as the shortest exact
 * decimal, "12", "-3.25"; others as the shortest %g that reads back), a
 * boolean "true" / "false", a
 * null "null". So `where: {store: 12}` matches the string "12" and the
 * number 12. The dimension `event` is the event name (an absent name is an
 * absent dimension).
 *
 * Tags. The dimension `tags` (SL_CONFIG_TAGS_DIM) is the event's rule tags
 * (sl_event.tags, set by rules.h before the views): `where: {tags: abuse}`
 * or `{tags: [abuse, fraud]}` holds when the event has any of these tags,
 * `{tags: {exists: true}}` when it has any tag, `{exists: false}` when none.
 * The plan compiles the names to a bit mask with the configuration's tag
 * table (sl_view_plan_params.cfg), so the test is one AND. `tags` cannot be
 * grouped by.
 *
 * Missing fields. An event that passes `where` always counts for `count`.
 * An aggregate whose field is absent (or, for sum/min/max/avg/last/quantiles,
 * not a number) skips that event; the table counts such events once in
 * missing_field_events. This is not a drop: the event was aggregated.
 *
 * Group limit. A new group beyond max_groups (or beyond the key storage) goes
 * to the group whose every dimension value is "__overflow__", and the event is
 * counted in overflow_events. The overflow group has its own reserved slot, so
 * it always exists. (A real group whose every value is "__overflow__" merges
 * with it.)
 *
 * Error bounds: count, sum (exact while every value has at most 6 decimals;
 * see agg.h), min, max, last exact; distinct exact per core table, merged
 * with sl_agg_set (exact up to SL_SET_EXACT_MAX, then HyperLogLog, relative
 * standard error 1.04 / 128); quantiles DDSketch with alpha =
 * SL_VIEW_DDS_ALPHA (relative error, sl_dds_quantile_bounded()); topk
 * Space-Saving with m = sl_topk_default_capacity(k) (count - err <= true <=
 * count, err <= N / m).
 *
 * Group key (also the LMDB key suffix): u8 n_dims, then per dimension in
 * group_by order u8 len and the value bytes (a missing dimension is empty).
 * At most SL_VIEW_KEY_MAX bytes; a longer key drops the event as
 * key_too_long.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sluice/common.h>

#include "agg.h"
#include "config.h"
#include "event.h"
#include "sketch.h"

/** Longest group key: the store prefixes 12 bytes to it (common.h). */
#define SL_VIEW_KEY_MAX SL_KEY_MAX
/** Relative accuracy of quantiles(). */
#define SL_VIEW_DDS_ALPHA 0.01
/**
 * Default DDSketch buckets per store: 1024 buckets of ratio 1.0202 span a
 * factor of about 8e8 between the smallest and the largest value kept within
 * alpha (say 0.001 to 800 000; below that, lower buckets collapse and
 * sl_dds_quantile_bounded() tells). 16.4 KiB per sketch at most, so 10 000
 * groups of one quantiles() reserve 164 MiB of address space per table; pages
 * are touched only by the groups used. Stored, a sketch is its key span only.
 */
#define SL_VIEW_DDS_BUCKETS_DEFAULT 1024u
/** Value of every dimension of the overflow group. */
#define SL_VIEW_OVERFLOW "__overflow__"
/**
 * Late counts in the store: a record whose group key is prefixed by this
 * byte (a real key starts with n_dims <= 4) holds the number of late events
 * of that group and window (views with keep_late), as a u64 LE value.
 */
#define SL_VIEW_LATE_MARK 0xffu
/** Version byte of a serialized state. */
#define SL_VIEW_SER_VERSION 1
/** Room for a dimension's text (sl_view_field_text()). */
#define SL_VIEW_TEXT_MAX 64

/** Compile-time parameters of a plan. */
struct sl_view_plan_params {
	uint32_t dds_max_buckets; /**< 0: SL_VIEW_DDS_BUCKETS_DEFAULT. */
	/**
	 * The configuration whose tag table (cfg->tags) a where on `tags` uses;
	 * borrowed for the call only. NULL: no tags (such a view fails with
	 * -EINVAL). The plan must be rebuilt when the tag table changes.
	 */
	const struct sl_config *cfg;
};

struct sl_view_plan;  /**< Opaque; sl_view_plan_create(). */
struct sl_view_table; /**< Opaque; one block, sl_view_table_memsize(). */

/* Slot layouts of the aggregates inside a state block (sl_view_state_slot()). */
struct sl_view_count {
	uint64_t n;
};
struct sl_view_sum { /**< sum(f) and avg(f) */
	__int128 fixed;      /**< Exact part, micro-units. */
	double flt;          /**< Values that were not exact at 6 decimals. */
	uint64_t n;          /**< Values added. */
};
struct sl_view_minmax {
	double v;            /**< +inf (min) / -inf (max) while empty. */
	uint64_t n;
};
struct sl_view_last {
	double v;
	uint64_t ts_ns;      /**< Time of @c v; ties: the larger value wins. */
	uint64_t n;
};
struct sl_view_distinct {
	uint64_t n;          /**< Per-core table: exact distinct members. */
	uint64_t values;     /**< Values received. */
	uint32_t walk_off;   /**< Private: walk cursors. */
	uint32_t walk_fill;
};
/* quantiles: a struct sl_dds block; topk: a struct sl_topk block. */

/**
 * Compile @p view. @p params may be NULL (defaults).
 *
 * @param[out] ret  Set on success only; free with sl_view_plan_destroy().
 * @return 0, -EINVAL (a view that sl_config_load_*() would not produce, or
 *         bad params), -ENOMEM.
 */
int sl_view_plan_create(const struct sl_config_view *view, const struct sl_view_plan_params *params,
			struct sl_view_plan **ret);
/** NULL is a no-op. */
void sl_view_plan_destroy(struct sl_view_plan *plan);

/** Bytes of one group's state block (a multiple of 16). */
size_t sl_view_plan_group_size(const struct sl_view_plan *plan);
uint32_t sl_view_plan_n_aggs(const struct sl_view_plan *plan);
uint32_t sl_view_plan_n_dims(const struct sl_view_plan *plan);
const char *sl_view_plan_name(const struct sl_view_plan *plan);
/** Kind (enum sl_config_agg_kind) and key ("sum(amount)") of aggregate @p i. */
unsigned int sl_view_plan_agg_kind(const struct sl_view_plan *plan, uint32_t i);
const char *sl_view_plan_agg_key(const struct sl_view_plan *plan, uint32_t i);

/**
 * The text of field @p f as a dimension (the file comment: a string's bytes,
 * a number's decimal text, "true", "false", "null"). A number is formatted
 * into @p buf (SL_VIEW_TEXT_MAX bytes); other spans point into the event or
 * are constants. Allocates nothing; rules.h scans fields through it.
 */
void sl_view_field_text(const struct sl_event_field *f, char *buf, struct sl_span *out);

/**
 * Whether @p ev passes the plan's where conditions. Does not touch any table.
 */
bool sl_view_plan_match(const struct sl_view_plan *plan, const struct sl_event *ev);

/**
 * The group key of @p ev (the format above) into @p key, which holds
 * SL_VIEW_KEY_MAX bytes. Does not check where.
 * @return 0, or -E2BIG (the event would be dropped as key_too_long).
 */
int sl_view_plan_key(const struct sl_view_plan *plan, const struct sl_event *ev, uint8_t *key,
		     uint32_t *ret_len);

/* ---- per-core table ---- */

struct sl_view_limits {
	uint32_t max_groups;      /**< 1..SL_CONFIG_MAX_GROUPS_MAX (+1 reserved overflow group). */
	uint32_t max_set_members; /**< (group, distinct aggregate, member) triples; 0..2^28. */
	uint32_t key_bytes;       /**< Key storage; 0: max_groups * 32 + SL_VIEW_KEY_MAX. */
};

/** Counters of a table (since the last reset). */
struct sl_view_table_stats {
	uint64_t aggregated;           /**< Events aggregated (overflowed ones included). */
	uint64_t filtered;             /**< Events that did not pass where. */
	uint64_t missing_field_events; /**< Aggregated events some aggregate had to skip. */
	uint64_t overflow_events;      /**< Events put in the overflow group. */
	uint64_t key_too_long;         /**< Events dropped: group key over SL_VIEW_KEY_MAX. */
	uint64_t set_limit;            /**< Events dropped: max_set_members reached. */
};

/** Bytes for a table (a multiple of 64), 0 on bad limits. */
size_t sl_view_table_memsize(const struct sl_view_plan *plan, const struct sl_view_limits *lim);

/**
 * Lay out an empty table in @p mem (sl_view_table_memsize() bytes, 64-byte
 * aligned, contents ignored). The table borrows @p plan, which must outlive it.
 *
 * @return the table (== mem), or NULL with errno = EINVAL.
 */
struct sl_view_table *sl_view_table_init(void *mem, const struct sl_view_plan *plan,
					 const struct sl_view_limits *lim);
/** Empty the table (groups, members, counters, window). */
void sl_view_table_reset(struct sl_view_table *t);
void sl_view_table_set_window(struct sl_view_table *t, uint64_t start_ns, uint64_t end_ns,
			      uint32_t core);
void sl_view_table_get_window(const struct sl_view_table *t, uint64_t *start_ns,
			      uint64_t *end_ns, uint32_t *core);
/** The plan the table was laid out for. */
const struct sl_view_plan *sl_view_table_plan(const struct sl_view_table *t);
/** Groups in the table, the overflow group included. */
uint32_t sl_view_table_count(const struct sl_view_table *t);
/** (group, aggregate, member) triples held: the walk's scratch size. */
uint32_t sl_view_table_members(const struct sl_view_table *t);
void sl_view_table_stats(const struct sl_view_table *t, struct sl_view_table_stats *ret);

/**
 * Aggregate one event. @p now_ns orders last(f) when the event has no time
 * (ev->ts_ns == 0) or the view uses arrival time.
 *
 * @return SL_DROP__MAX when aggregated (overflow group included);
 *         SL_DROP_FILTERED when where did not hold (not a loss: counted so
 *         that received = aggregated + filtered + drops); SL_DROP_KEY_TOO_LONG
 *         or SL_DROP_SET_LIMIT (dropped, nothing of the event is kept).
 */
unsigned int sl_view_table_update(struct sl_view_table *t, const struct sl_event *ev,
				  uint64_t now_ns);

/**
 * sl_view_table_update() for an event the caller already matched against the
 * plan's where (sl_view_plan_match()): the where is not evaluated again.
 */
unsigned int sl_view_table_update_matched(struct sl_view_table *t, const struct sl_event *ev,
					  uint64_t now_ns);

/**
 * Callback of sl_view_table_walk(): one group. @p state is its block
 * (sl_view_plan_group_size() bytes). For every distinct() aggregate i,
 * members[i] / n_members[i] list its member hashes (unsorted); other entries
 * are NULL / 0. Both arrays have sl_view_plan_n_aggs() entries.
 */
typedef void (*sl_view_group_fn)(const uint8_t *key, uint32_t key_len, void *state,
				 const uint64_t *const *members, const uint32_t *n_members,
				 void *arg);

/**
 * Visit every group. Members are gathered into @p scratch
 * (sl_view_table_members() hashes is enough); with a smaller scratch, members
 * are not reported (n_members 0). Owner only (keeps cursors in the table).
 */
void sl_view_table_walk(struct sl_view_table *t, uint64_t *scratch, uint32_t scratch_cap,
			sl_view_group_fn fn, void *arg);

/* ---- keys ---- */

struct sl_view_key {
	uint8_t n_dims;
	struct sl_span dims[SL_CONFIG_GROUP_BY_MAX];
};

/** Decode a group key. @return 0 or -EINVAL. */
int sl_view_key_decode(const uint8_t *key, uint32_t len, struct sl_view_key *out);

/* ---- states (merged / stored) ---- */

/** Lay out an empty state in @p block (group_size bytes, 16-byte aligned). */
void sl_view_state_init(const struct sl_view_plan *plan, void *block);

/** Slot of aggregate @p i in @p block (see the sl_view_* slot structs). */
void *sl_view_state_slot(const struct sl_view_plan *plan, void *block, uint32_t i);

/**
 * Merge @p src into @p dst. @p dst_sets / @p src_sets (n_aggs entries each,
 * indexed by aggregate; either may be NULL) carry distinct() sets: a src set
 * is unioned into the dst set (created when NULL). Without src sets the
 * distinct count of @p src is added (an upper bound, not a union).
 *
 * @return 0, -ENOMEM, -EOVERFLOW or -EINVAL from the sketches.
 */
int sl_view_state_merge(const struct sl_view_plan *plan, void *dst, struct sl_agg_set **dst_sets,
			const void *src, struct sl_agg_set *const *src_sets);

/** Upper bound of sl_view_state_serialize()'s output for @p sets. */
size_t sl_view_state_serialized_max(const struct sl_view_plan *plan,
				    struct sl_agg_set *const *sets);

/**
 * Serialized state, version 1 (little-endian):
 *   u8 version=1, u8 n_aggs, u16 reserved=0, u32 layout hash of the plan
 *   (aggregate kinds, k, quantiles, dds buckets), then per aggregate:
 *   u8 kind, then count: u64 n | sum/avg: i128 fixed, f64 flt, u64 n |
 *   min/max: f64 v, u64 n | last: f64 v, u64 ts, u64 n | distinct: u64 n,
 *   u64 values, u32 len, len bytes of an agg.h set value (type s; len 0: no
 *   set) | quantiles, topk: u32 len, the sl_dds or sl_topk form;
 *   then u32 CRC-32C of all previous bytes.
 * @p sets may be NULL (distinct() states serialize their count only).
 * Takes @p block non-const (sl_topk_serialize() sorts in place).
 * @return bytes written, or 0 when @p cap is too small.
 */
size_t sl_view_state_serialize(const struct sl_view_plan *plan, void *block,
			       struct sl_agg_set *const *sets, uint8_t *out, size_t cap);

/**
 * Deserialize into @p block (group_size bytes, 16-byte aligned). When
 * @p ret_sets is not NULL, ret_sets[i] gets a new set for every distinct()
 * aggregate (caller destroys), NULL elsewhere.
 *
 * @return 0, -EINVAL (malformed, wrong version, other plan layout, bad CRC),
 *         -ENOMEM. On failure nothing is returned in @p ret_sets.
 */
int sl_view_state_deserialize(const struct sl_view_plan *plan, const uint8_t *buf, size_t len,
			      void *block, struct sl_agg_set **ret_sets);

/**
 * Write the "values" JSON object of a query row: {"count": n, "sum(amount)":
 * exact decimal number, "avg(amount)": x, ..., "distinct(user)": n,
 * "distinct(user)_error": e, "quantiles(amount)": {"0.5": x, ...},
 * "quantiles(amount)_error": alpha, "topk(sku,10)": [{"item", "count",
 * "error"}, ...]}. An aggregate without values is null. @p sets may be NULL
 * (distinct() then reports the block's count, exact per core).
 *
 * @return 0, or -EIO when writing failed.
 */
int sl_view_state_finalize_json(const struct sl_view_plan *plan, const void *block,
				struct sl_agg_set *const *sets, FILE *f);

#endif /* SL_DP_VIEW_H */
