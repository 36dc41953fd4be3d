/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_AGG_H
#define SL_DP_AGG_H

/**
 * @file
 * Aggregation: group keys, mergeable aggregate states and the per-core window table.
 *
 * A table (struct sl_agg_table) lives in one block of caller-provided memory
 * (rte_zmalloc_socket() in the dataplane, calloc() in tests) and never
 * allocates. It is owned by exactly one thread at a time: a worker lcore while
 * the window is open, then the storage thread after the table was enqueued on
 * the worker's to_store ring. Nothing in a table is shared or atomic.
 *
 * States (struct sl_agg_state) are mergeable: merge(a, b) gives the state of the
 * union of their inputs, whatever order the inputs arrived in. Sums are kept
 * exact: increments with at most 6 decimals accumulate in a 128-bit integer of
 * micro-units; only increments that are not exact at that scale (a sample rate
 * such as 0.3) accumulate in a double. Distinct counts (sets) are exact in the
 * per-core table; merged sets stay exact up to SL_SET_EXACT_MAX members, then
 * become a HyperLogLog with 2^SL_HLL_P registers (standard error 1.04/sqrt(2^P),
 * 0.81 %).
 *
 * Canonical group key (also the LMDB key suffix): type (u8), name length (u8),
 * name, tag count (u8), then for each tag in bytewise-sorted order its length
 * (u8) and bytes. Equal (type, name, tag multiset) => equal key bytes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/common.h>

#include "parse.h"

#define SL_SET_EXACT_MAX 4096
#define SL_HLL_P 14
#define SL_HLL_REGS (1u << SL_HLL_P)

/** Limits of one per-core window table. All are hard: hitting one is counted. */
struct sl_agg_limits {
	uint32_t max_groups;      /**< Distinct group keys per window per core. */
	uint32_t max_set_members; /**< (group, member) pairs per window per core. */
	uint32_t key_bytes;       /**< Bytes of key storage per table. */
};

/** One aggregate state. Plain data: copy, compare and merge freely. */
struct sl_agg_state {
	uint64_t count;     /**< Samples received (sets: members received). */
	__int128 sum_fixed; /**< Exact part of the sum, in micro-units. */
	double sum_float;   /**< Part of the sum that is not exact in micro-units. */
	double min;
	double max;
	double last;        /**< Latest value by arrival time. */
	uint64_t last_ns;   /**< Arrival time of @c last. */
	uint64_t distinct;  /**< Sets: exact distinct members in this table. */
};

struct sl_agg_table; /**< Opaque; one block of memory, see sl_agg_table_memsize(). */

/**
 * Add @p inc micro-units to an exact sum. Past the 128-bit range (1.7e32 in
 * units: only reachable with corrupted or hostile stored states) the sum
 * carries on in floating point instead of overflowing.
 */
static inline void
sl_sum_add(__int128 *fixed, double *flt, __int128 inc)
{
	__int128 r;

	if (__builtin_add_overflow(*fixed, inc, &r)) {
		*flt += (double)*fixed / 1e6 + (double)inc / 1e6;
		*fixed = 0;
	} else {
		*fixed = r;
	}
}

/** Bytes needed for a table with these limits (a multiple of 64). */
size_t sl_agg_table_memsize(const struct sl_agg_limits *lim);

/**
 * Lay out an empty table in @p mem (sl_agg_table_memsize() bytes, 64-byte
 * aligned, contents ignored).
 *
 * @return the table (== mem), or NULL with errno = EINVAL on bad limits.
 */
struct sl_agg_table *sl_agg_table_init(void *mem, const struct sl_agg_limits *lim);

/** Empty a table for reuse, in time proportional to its capacity. */
void sl_agg_table_reset(struct sl_agg_table *t);

/** Window that the table holds: set by the owner, carried to storage. */
void sl_agg_table_set_window(struct sl_agg_table *t, uint64_t start_ns, uint64_t end_ns,
			     uint32_t core);
void sl_agg_table_get_window(const struct sl_agg_table *t, uint64_t *start_ns, uint64_t *end_ns,
			     uint32_t *core);

/** Number of groups in the table. */
uint32_t sl_agg_table_count(const struct sl_agg_table *t);

/**
 * Aggregate one event arriving at @p now_ns.
 *
 * @return SL_DROP__MAX when aggregated, else the drop reason
 *         (SL_DROP_KEY_TOO_LONG, SL_DROP_GROUP_LIMIT, SL_DROP_SET_LIMIT).
 */
unsigned int sl_agg_table_update(struct sl_agg_table *t, const struct sl_statsd_event *ev,
				 uint64_t now_ns);

/** A key built and hashed ahead of its update (batched, prefetching path). */
struct sl_agg_prep {
	uint64_t hash;
	uint32_t key_len;
	uint8_t key[SL_KEY_MAX];
};

/**
 * Batched updates, for a burst of events: prepare each (build the key, hash
 * it, prefetch its slot), then sl_agg_table_prefetch_group() each, then
 * sl_agg_table_update_prepared() each, so that the cache misses of one event
 * overlap with the work on the others. The result equals sl_agg_table_update()
 * on the same events in the same order.
 *
 * @return sl_agg_table_prepare(): SL_DROP__MAX, or SL_DROP_KEY_TOO_LONG.
 */
unsigned int sl_agg_table_prepare(const struct sl_agg_table *t, const struct sl_statsd_event *ev,
				  struct sl_agg_prep *p);
void sl_agg_table_prefetch_group(const struct sl_agg_table *t, const struct sl_agg_prep *p);
/** @return as sl_agg_table_update(). */
unsigned int sl_agg_table_update_prepared(struct sl_agg_table *t, const struct sl_statsd_event *ev,
					  const struct sl_agg_prep *p, uint64_t now_ns);

/** Callback for sl_agg_table_walk(): one group. @p members lists the
 *  group's distinct set-member hashes (sets only, else n_members = 0), unsorted. */
typedef void (*sl_agg_group_fn)(const uint8_t *key, uint32_t key_len, uint8_t type,
				const struct sl_agg_state *st, const uint64_t *members,
				uint32_t n_members, void *arg);

/**
 * Visit every group. Set members are gathered into @p scratch (capacity
 * @p scratch_cap hashes; max_set_members is always enough). Takes the table
 * non-const because it keeps per-group cursors in it; call only as its owner.
 */
void sl_agg_table_walk(struct sl_agg_table *t, uint64_t *scratch, uint32_t scratch_cap,
		       sl_agg_group_fn fn, void *arg);

/** Number of (group, member) pairs held: the scratch size sl_agg_table_walk() needs. */
uint32_t sl_agg_table_members(const struct sl_agg_table *t);

/* ---- keys ---- */

/**
 * Build the canonical key of an event into @p out (SL_KEY_MAX bytes).
 * @return key length, or 0 when it would not fit.
 */
uint32_t sl_agg_key_build(const struct sl_statsd_event *ev, uint8_t *out);

/** A decoded key: spans into the key bytes. */
struct sl_agg_key {
	uint8_t type;
	struct sl_span name;
	uint8_t n_tags;
	struct sl_span tags[SL_TAGS_MAX];
};

/** Decode a canonical key. @return 0 or -EINVAL when malformed. */
int sl_agg_key_decode(const uint8_t *key, uint32_t len, struct sl_agg_key *out);

/** 64-bit hash used for keys and set members (stable across versions). */
uint64_t sl_hash64(const void *p, uint32_t len, uint64_t seed);

/* ---- states ---- */

/** An empty state (count 0, min +inf, max -inf). */
void sl_agg_state_init(struct sl_agg_state *st);

/** Merge @p src into @p dst (sets: distinct is not merged here; see sl_agg_set). */
void sl_agg_state_merge(struct sl_agg_state *dst, const struct sl_agg_state *src);

/** The sum as a double (exact part + float part). */
double sl_agg_state_sum(const struct sl_agg_state *st);

/**
 * Format the sum as a decimal: exact ("1234.5") when sum_float is 0, else %.17g.
 * @return length written (excluding NUL), buffer of at least 64 bytes.
 */
int sl_agg_state_sum_format(const struct sl_agg_state *st, char *buf, size_t cap);

/* ---- merged distinct sets (storage side, heap-allocated) ---- */

/**
 * A distinct-count set: exact (sorted unique member hashes) up to
 * SL_SET_EXACT_MAX members, HyperLogLog after.
 */
struct sl_agg_set;

struct sl_agg_set *sl_agg_set_create(void);
void sl_agg_set_destroy(struct sl_agg_set *s);
/** Add member hashes. @return 0 or -ENOMEM. */
int sl_agg_set_add(struct sl_agg_set *s, const uint64_t *hashes, uint32_t n);
/** Union @p src into @p dst. @return 0 or -ENOMEM. */
int sl_agg_set_merge(struct sl_agg_set *dst, const struct sl_agg_set *src);
/** Distinct count: exact while exact, else the HyperLogLog estimate. */
uint64_t sl_agg_set_count(const struct sl_agg_set *s);
bool sl_agg_set_is_exact(const struct sl_agg_set *s);

/* ---- serialization (LMDB values) ---- */

/**
 * Serialized state, format version 1 (little-endian):
 *   u8 version=1, u8 type, u8 set_kind (0 none, 1 exact, 2 hll), u8 reserved,
 *   u32 n (exact: member count; hll: register count),
 *   u64 count, i128 sum_fixed, f64 sum_float, f64 min, f64 max, f64 last,
 *   u64 last_ns, then n u64 member hashes (sorted) or n u8 registers.
 */
#define SL_AGG_SER_VERSION 1
#define SL_AGG_SER_HDR 72

/** Bytes sl_agg_state_serialize() needs. */
size_t sl_agg_state_serialized_size(const struct sl_agg_set *set);
/** Serialize; @p set may be NULL for non-set types. @return bytes written. */
size_t sl_agg_state_serialize(uint8_t type, const struct sl_agg_state *st,
			      const struct sl_agg_set *set, uint8_t *out);
/**
 * Deserialize. When @p ret_set is not NULL and the value holds a set, a new
 * set is created and returned (caller destroys it); st->distinct is filled.
 * @return 0, -EINVAL (malformed or unknown version), -ENOMEM.
 */
int sl_agg_state_deserialize(const uint8_t *buf, size_t len, uint8_t *ret_type,
			     struct sl_agg_state *st, struct sl_agg_set **ret_set);

#endif /* SL_DP_AGG_H */
