/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_SKETCH_H
#define SL_DP_SKETCH_H

/**
 * @file
 * Mergeable sketch states: quantiles (DDSketch) and top-k (Space-Saving).
 *
 * Both live in one block of caller memory whose size depends only on their
 * parameters (sl_dds_memsize(), sl_topk_memsize()), so they can sit inside a
 * per-core window table that never allocates. Nothing here allocates, locks or
 * logs. The block holds no pointers: it may be copied with memcpy() and read
 * from another address. A sketch is owned by one thread at a time, like the
 * table that holds it; nothing in it is atomic.
 *
 * Error bounds (docs/sketches.md has the proofs and the memory tables):
 *  - DDSketch: every quantile is within relative error alpha of the exact
 *    (lower) quantile of the input, unless the rank falls into a collapsed
 *    bucket (see sl_dds_quantile_bounded()). The state is a function of the
 *    input multiset only, so merge is exactly commutative and associative.
 *  - Space-Saving: with capacity m and total weight N, every item whose true
 *    count exceeds sl_topk_floor() (<= N/m) is monitored, and each estimate
 *    satisfies true <= count <= true + err with err <= floor <= N/m.
 *
 * Serialized forms are little-endian, versioned, canonical (one state has
 * exactly one encoding, so deserialize + serialize reproduces the input bytes)
 * and end in a CRC-32C of everything before it. Deserialization validates
 * every field and every invariant: random bytes are rejected or give a valid
 * state.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Version byte of both serialized forms. */
#define SL_SKETCH_SER_VERSION 1
/** Kind byte (second byte) of a serialized sketch. */
#define SL_SKETCH_KIND_DDS 1
#define SL_SKETCH_KIND_TOPK 2

/** CRC-32C (Castagnoli, reflected, init and final xor 0xffffffff). */
uint32_t sl_sketch_crc32c(const void *p, size_t len);

/* ---- DDSketch: relative-error quantiles ---- */

#define SL_DDS_ALPHA_DEFAULT 0.01
#define SL_DDS_ALPHA_MIN 1e-6
#define SL_DDS_ALPHA_MAX 0.5
#define SL_DDS_BUCKETS_DEFAULT 1024u /**< Per store (negative and positive). */
#define SL_DDS_BUCKETS_MIN 2u
#define SL_DDS_BUCKETS_MAX 65536u

struct sl_dds; /**< Opaque; one block of sl_dds_memsize() bytes. */

/** Bytes of memory for a sketch of at most @p max_buckets buckets per store
 *  (a multiple of 8). 0 when @p max_buckets is out of range. */
size_t sl_dds_memsize(uint32_t max_buckets);

/**
 * Lay out an empty sketch in @p mem (sl_dds_memsize(max_buckets) bytes, 8-byte
 * aligned, contents ignored).
 *
 * @param alpha  Relative accuracy, in [SL_DDS_ALPHA_MIN, SL_DDS_ALPHA_MAX].
 * @param max_buckets  Buckets per store, in [SL_DDS_BUCKETS_MIN, SL_DDS_BUCKETS_MAX].
 * @return the sketch (== mem), or NULL with errno = EINVAL on bad parameters.
 */
struct sl_dds *sl_dds_init(void *mem, double alpha, uint32_t max_buckets);

/** Empty a sketch for reuse; keeps alpha and max_buckets. */
void sl_dds_reset(struct sl_dds *d);

/**
 * Add one value. Zero (and -0.0) goes to the exact zero count.
 *
 * @return 0, -EINVAL for NaN or an infinity (nothing is added), or -EOVERFLOW
 *         when the count would pass UINT64_MAX.
 */
int sl_dds_add(struct sl_dds *d, double v);

/**
 * Merge @p src into @p dst: afterwards @p dst is the sketch of the union of
 * both inputs (with dst's max_buckets). @p src is unchanged.
 *
 * @return 0, -EINVAL when alpha differs (bitwise) or src == dst, -EOVERFLOW
 *         when the count would pass UINT64_MAX (dst unchanged).
 */
int sl_dds_merge(struct sl_dds *dst, const struct sl_dds *src);

/** Number of values added (including zeros). */
uint64_t sl_dds_count(const struct sl_dds *d);
/** Exact minimum and maximum (+inf and -inf when empty). */
double sl_dds_min(const struct sl_dds *d);
double sl_dds_max(const struct sl_dds *d);
double sl_dds_alpha(const struct sl_dds *d);
uint32_t sl_dds_max_buckets(const struct sl_dds *d);
/** Buckets spanned by both stores' non-empty key ranges (each at most max_buckets). */
uint32_t sl_dds_buckets_used(const struct sl_dds *d);

/**
 * Estimate the lower q-quantile: the value of rank floor(q * (count - 1)) in
 * the sorted input, within relative error alpha (see
 * sl_dds_quantile_bounded()). q = 0 and q = 1 give the exact min and max.
 *
 * @return the estimate, or NaN when empty or q is not in [0, 1].
 */
double sl_dds_quantile(const struct sl_dds *d, double q);

/**
 * Whether the alpha bound holds for sl_dds_quantile(d, q): false when that
 * rank falls into the lowest bucket of a store that has been collapsed (its
 * value then over-estimates the magnitude) or when q is invalid.
 */
bool sl_dds_quantile_bounded(const struct sl_dds *d, double q);

/**
 * Serialized form, version 1 (little-endian; varint = unsigned LEB128,
 * minimal; zvarint = zigzag varint):
 *   u8 version=1, u8 kind=1, u8 flags (bit0 negative store collapsed, bit1
 *   positive store collapsed), u8 reserved=0, u32 max_buckets, f64 alpha,
 *   f64 min, f64 max, varint count, varint zero_count,
 *   then the negative and the positive store, each: varint n (key span,
 *   0 = empty), and when n > 0: zvarint lowest key, n varint counts (first and
 *   last non-zero); then u32 CRC-32C of all previous bytes.
 */
/** Upper bound of sl_dds_serialized_size() for any sketch of @p max_buckets. */
size_t sl_dds_serialized_max(uint32_t max_buckets);
/** Exact size of the serialized form of @p d. */
size_t sl_dds_serialized_size(const struct sl_dds *d);
/** Serialize into @p out. @return bytes written, or 0 when @p cap is too small. */
size_t sl_dds_serialize(const struct sl_dds *d, uint8_t *out, size_t cap);
/** Memory a serialized sketch needs: sl_dds_memsize() of its max_buckets, or 0
 *  when the header is malformed. Checks the header only. */
size_t sl_dds_serialized_memsize(const uint8_t *buf, size_t len);
/**
 * Deserialize into @p mem (@p mem_size bytes, 8-byte aligned). The sketch
 * keeps the serialized alpha and max_buckets.
 *
 * @param[out] ret_d  Set on success only (== mem).
 * @return 0, -EINVAL (malformed, bad CRC, unknown version), -ENOSPC when
 *         @p mem_size is smaller than sl_dds_serialized_memsize().
 */
int sl_dds_deserialize(void *mem, size_t mem_size, const uint8_t *buf, size_t len,
		       struct sl_dds **ret_d);

/* ---- Space-Saving: top-k heavy hitters ---- */

#define SL_TOPK_ITEM_MAX 64       /**< Item bytes stored inline. */
#define SL_TOPK_CAPACITY_MAX 65536u
#define SL_TOPK_M_PER_K 8u        /**< Default capacity: m = 8 k, at least 16. */
/** Largest total weight; keeps every count below 2^63. */
#define SL_TOPK_TOTAL_MAX (UINT64_C(1) << 62)

struct sl_topk; /**< Opaque; one block of sl_topk_memsize() bytes. */

/** One reported item. @c item points into the sketch. */
struct sl_topk_entry {
	const uint8_t *item;
	uint32_t len;
	uint64_t count; /**< Estimate: true <= count <= true + err. */
	uint64_t err;   /**< Maximum over-count of this estimate. */
};

/** Default capacity for a top-@p k query: max(16, 8 k), capped. */
uint32_t sl_topk_default_capacity(uint32_t k);

/** Bytes of memory for @p m counters (a multiple of 8); 0 when out of range. */
size_t sl_topk_memsize(uint32_t m);

/**
 * Lay out an empty summary of @p m counters in @p mem (sl_topk_memsize(m)
 * bytes, 8-byte aligned, contents ignored).
 *
 * @return the summary (== mem), or NULL with errno = EINVAL when @p m is 0 or
 *         over SL_TOPK_CAPACITY_MAX.
 */
struct sl_topk *sl_topk_init(void *mem, uint32_t m);

/** Empty a summary for reuse; keeps m. */
void sl_topk_reset(struct sl_topk *t);

/**
 * Count @p weight occurrences of an item (up to SL_TOPK_ITEM_MAX bytes; an
 * empty item is an item). O(log m).
 *
 * @return 0, -EINVAL (len over SL_TOPK_ITEM_MAX or weight 0; nothing counted),
 *         -EOVERFLOW when the total would pass SL_TOPK_TOTAL_MAX.
 */
int sl_topk_update(struct sl_topk *t, const void *item, uint32_t len, uint64_t weight);

/**
 * Merge @p src into @p dst (mergeable Space-Saving): counts of common items
 * add; an item missing from one side gets that side's floor added to its count
 * and error; the m largest are kept (ties broken by item), and dst's floor
 * becomes the largest count dropped (or the sum of both floors). The bound
 * stays N/m for the total N of both inputs.
 *
 * @return 0, -EINVAL when src has fewer counters than dst (the bound would
 *         degrade) or src == dst, -EOVERFLOW when the total would pass
 *         SL_TOPK_TOTAL_MAX (dst unchanged).
 */
int sl_topk_merge(struct sl_topk *dst, const struct sl_topk *src);

/**
 * Report up to @p k items by decreasing count (ties by item order).
 * @return number of entries written to @p out.
 */
uint32_t sl_topk_query(const struct sl_topk *t, uint32_t k, struct sl_topk_entry *out);

/** Total weight counted (N). */
uint64_t sl_topk_total(const struct sl_topk *t);
/**
 * Upper bound of the true count of every item that is not monitored, and of
 * every err; at most N/m. 0 while the summary is exact.
 */
uint64_t sl_topk_floor(const struct sl_topk *t);
/** Capacity m. */
uint32_t sl_topk_capacity(const struct sl_topk *t);
/** Items monitored (<= m). */
uint32_t sl_topk_size(const struct sl_topk *t);

/**
 * Serialized form, version 1 (little-endian, varints as for DDSketch):
 *   u8 version=1, u8 kind=2, u16 reserved=0, u32 m, u32 n, varint total,
 *   varint floor, then n counters in decreasing count order (ties: increasing
 *   item hash, then length, then bytes), each: varint count, varint err,
 *   u8 len, len bytes; then u32 CRC-32C of all previous bytes.
 */
size_t sl_topk_serialized_max(uint32_t m);
size_t sl_topk_serialized_size(const struct sl_topk *t);
/**
 * Serialize into @p out. Takes @p t non-const because it sorts the counters in
 * scratch space inside the block; the summary itself does not change.
 * @return bytes written, or 0 when @p cap is too small.
 */
size_t sl_topk_serialize(struct sl_topk *t, uint8_t *out, size_t cap);
/** sl_topk_memsize() of the serialized capacity, or 0 when the header is malformed. */
size_t sl_topk_serialized_memsize(const uint8_t *buf, size_t len);
/**
 * Deserialize into @p mem (@p mem_size bytes, 8-byte aligned).
 * @param[out] ret_t  Set on success only (== mem).
 * @return 0, -EINVAL (malformed, bad CRC, broken invariant), -ENOSPC when
 *         @p mem_size is too small.
 */
int sl_topk_deserialize(void *mem, size_t mem_size, const uint8_t *buf, size_t len,
			struct sl_topk **ret_t);

#endif /* SL_DP_SKETCH_H */
