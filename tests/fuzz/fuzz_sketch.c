/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * libFuzzer target for the sketch states (dataplane/sketch.c).
 *
 * The first input byte picks a mode, the rest is the payload:
 *   bit 0   0 = DDSketch, 1 = Space-Saving top-k;
 *   bit 1   reseal: overwrite the payload's last 4 bytes with its CRC-32C, so
 *           the fuzzer gets past the checksum to the structural checks;
 *   bit 2   operations instead of serialized bytes (see fuzz_*_ops()).
 *
 * Deserialization must reject the payload or accept it as a valid state:
 * an accepted payload must serialize back to exactly the same bytes (the
 * format is canonical), answer queries sanely, merge into an empty sketch as
 * the identity, and stay valid (serialize -> deserialize) after updates and
 * merges. In operation mode, a sketch fed all values must equal the merge of
 * sketches fed a split of them (DDSketch), and merge must commute (top-k).
 */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c))                                                              \
			__builtin_trap();                                              \
	} while (0)

static void *
alloc8(size_t size)
{
	void *p = aligned_alloc(8, (size + 7) & ~(size_t)7);

	CHECK(p != NULL);
	return p;
}

/* ---- DDSketch ---- */

/* Serialize, deserialize into fresh memory, and check the bytes round-trip. */
static void
dds_revalidate(const struct sl_dds *d)
{
	size_t n = sl_dds_serialized_size(d), need = sl_dds_memsize(sl_dds_max_buckets(d));
	uint8_t *b = malloc(n), *b2 = malloc(n);
	void *mem = alloc8(need);
	struct sl_dds *r;

	CHECK(n <= sl_dds_serialized_max(sl_dds_max_buckets(d)));
	CHECK(sl_dds_serialize(d, b, n) == n);
	CHECK(sl_dds_serialized_memsize(b, n) == need);
	CHECK(sl_dds_deserialize(mem, need, b, n, &r) == 0);
	CHECK(sl_dds_serialize(r, b2, n) == n && memcmp(b, b2, n) == 0);
	free(mem);
	free(b);
	free(b2);
}

static void
dds_query(const struct sl_dds *d)
{
	for (int i = 0; i <= 20; i++) {
		double v = sl_dds_quantile(d, i / 20.0);

		if (sl_dds_count(d) == 0)
			CHECK(isnan(v) && !sl_dds_quantile_bounded(d, i / 20.0));
		else
			CHECK(v >= sl_dds_min(d) && v <= sl_dds_max(d));
	}
	CHECK(isnan(sl_dds_quantile(d, 2.0)));
	CHECK(sl_dds_buckets_used(d) <= 2 * sl_dds_max_buckets(d));
}

static void
fuzz_dds(const uint8_t *buf, size_t len)
{
	size_t need = sl_dds_serialized_memsize(buf, len);
	struct sl_dds *d, *e, *c;
	void *mem, *mem2, *mem3;
	uint8_t *out;
	int rc;

	if (need == 0) {
		uint64_t small[32];

		rc = sl_dds_deserialize(small, sizeof(small), buf, len, &d);
		CHECK(rc == -EINVAL || rc == -ENOSPC);
		return;
	}
	mem = alloc8(need);
	rc = sl_dds_deserialize(mem, need, buf, len, &d);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc != 0) {
		free(mem);
		return;
	}
	out = malloc(len);
	CHECK(sl_dds_serialized_size(d) == len);
	CHECK(sl_dds_serialize(d, out, len) == len && memcmp(out, buf, len) == 0);
	dds_query(d);

	/* Merge into an empty sketch of the same parameters: the identity. */
	mem2 = alloc8(need);
	e = sl_dds_init(mem2, sl_dds_alpha(d), sl_dds_max_buckets(d));
	CHECK(e != NULL && sl_dds_merge(e, d) == 0);
	CHECK(sl_dds_serialize(e, out, len) == len && memcmp(out, buf, len) == 0);

	/* Into the fewest buckets: collapses, stays valid. */
	mem3 = alloc8(sl_dds_memsize(SL_DDS_BUCKETS_MIN));
	c = sl_dds_init(mem3, sl_dds_alpha(d), SL_DDS_BUCKETS_MIN);
	CHECK(c != NULL && sl_dds_merge(c, d) == 0);
	dds_query(c);
	dds_revalidate(c);

	/* Doubling, then a few more values. */
	rc = sl_dds_merge(d, e);
	CHECK(rc == 0 || rc == -EOVERFLOW);
	for (size_t i = 0; i + 8 <= len && i < 64; i += 8) {
		double v;

		memcpy(&v, buf + i, 8);
		rc = sl_dds_add(d, v);
		CHECK(rc == 0 || (rc == -EINVAL && !isfinite(v)) || rc == -EOVERFLOW);
	}
	dds_query(d);
	dds_revalidate(d);
	free(out);
	free(mem);
	free(mem2);
	free(mem3);
}

/*
 * Operations: byte 0 picks alpha and the bucket limit; then records of one
 * selector byte and an 8-byte double. Every value goes into "whole" and into
 * one of two parts; merge(part0, part1) must be bit-identical to whole.
 */
static void
fuzz_dds_ops(const uint8_t *buf, size_t len)
{
	static const double alphas[] = { 0.01, 0.05, 0.5, 1e-6 };
	struct sl_dds *whole, *part[2];
	uint32_t cap;
	double alpha;
	void *mem[3];
	uint8_t *b1, *b2;
	size_t n;

	if (len < 1)
		return;
	alpha = alphas[buf[0] & 3];
	cap = SL_DDS_BUCKETS_MIN + (buf[0] >> 2);
	for (int i = 0; i < 3; i++)
		mem[i] = alloc8(sl_dds_memsize(cap));
	whole = sl_dds_init(mem[0], alpha, cap);
	part[0] = sl_dds_init(mem[1], alpha, cap);
	part[1] = sl_dds_init(mem[2], alpha, cap);
	for (size_t i = 1; i + 9 <= len; i += 9) {
		double v;
		int rc;

		memcpy(&v, buf + i + 1, 8);
		rc = sl_dds_add(whole, v);
		CHECK(rc == (isfinite(v) ? 0 : -EINVAL));
		CHECK(sl_dds_add(part[buf[i] & 1], v) == rc);
	}
	CHECK(sl_dds_merge(part[0], part[1]) == 0);
	n = sl_dds_serialized_size(whole);
	b1 = malloc(n);
	b2 = malloc(n);
	CHECK(sl_dds_serialized_size(part[0]) == n);
	CHECK(sl_dds_serialize(whole, b1, n) == n && sl_dds_serialize(part[0], b2, n) == n);
	CHECK(memcmp(b1, b2, n) == 0);
	dds_query(whole);
	dds_revalidate(whole);
	free(b1);
	free(b2);
	for (int i = 0; i < 3; i++)
		free(mem[i]);
}

/* ---- Space-Saving ---- */

static void
topk_revalidate(struct sl_topk *t)
{
	size_t n = sl_topk_serialized_size(t), need = sl_topk_memsize(sl_topk_capacity(t));
	uint8_t *b = malloc(n), *b2 = malloc(n);
	void *mem = alloc8(need);
	struct sl_topk *r;

	CHECK(n <= sl_topk_serialized_max(sl_topk_capacity(t)));
	CHECK(sl_topk_serialize(t, b, n) == n);
	CHECK(sl_topk_serialized_memsize(b, n) == need);
	CHECK(sl_topk_deserialize(mem, need, b, n, &r) == 0);
	CHECK(sl_topk_serialize(r, b2, n) == n && memcmp(b, b2, n) == 0);
	free(mem);
	free(b);
	free(b2);
}

static void
topk_query(const struct sl_topk *t)
{
	uint32_t m = sl_topk_capacity(t), got;
	struct sl_topk_entry *e = malloc(m * sizeof(*e));
	uint64_t floor_v = sl_topk_floor(t);

	got = sl_topk_query(t, m, e);
	CHECK(got == sl_topk_size(t) && got <= m);
	CHECK(floor_v <= sl_topk_total(t) / m);
	for (uint32_t i = 0; i < got; i++) {
		CHECK(e[i].len <= SL_TOPK_ITEM_MAX);
		CHECK(e[i].err <= floor_v && e[i].err < e[i].count);
		CHECK(i == 0 || e[i - 1].count >= e[i].count);
	}
	CHECK(sl_topk_query(t, got > 0 ? got - 1 : 0, e) == (got > 0 ? got - 1 : 0));
	free(e);
}

static void
fuzz_topk(const uint8_t *buf, size_t len)
{
	size_t need = sl_topk_serialized_memsize(buf, len);
	struct sl_topk *t, *e, *c;
	void *mem, *mem2, *mem3;
	uint8_t *out;
	int rc;

	if (need == 0) {
		uint64_t small[32];

		rc = sl_topk_deserialize(small, sizeof(small), buf, len, &t);
		CHECK(rc == -EINVAL || rc == -ENOSPC);
		return;
	}
	mem = alloc8(need);
	rc = sl_topk_deserialize(mem, need, buf, len, &t);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc != 0) {
		free(mem);
		return;
	}
	out = malloc(len);
	CHECK(sl_topk_serialized_size(t) == len);
	CHECK(sl_topk_serialize(t, out, len) == len && memcmp(out, buf, len) == 0);
	topk_query(t);

	mem2 = alloc8(need);
	e = sl_topk_init(mem2, sl_topk_capacity(t));
	CHECK(e != NULL && sl_topk_merge(e, t) == 0);
	CHECK(sl_topk_serialize(e, out, len) == len && memcmp(out, buf, len) == 0);

	/* Into one counter: allowed (src has at least as many), stays valid. */
	mem3 = alloc8(sl_topk_memsize(1));
	c = sl_topk_init(mem3, 1);
	CHECK(c != NULL && sl_topk_merge(c, t) == 0);
	topk_query(c);
	topk_revalidate(c);

	rc = sl_topk_merge(t, e);
	CHECK(rc == 0 || rc == -EOVERFLOW);
	for (size_t i = 0; i < len && i < 32; i++) {
		uint32_t ilen = buf[i] % 8 < len - i ? buf[i] % 8 : (uint32_t)(len - i);

		rc = sl_topk_update(t, buf + i, ilen, 1 + (uint64_t)buf[i]);
		CHECK(rc == 0 || rc == -EOVERFLOW);
	}
	topk_query(t);
	topk_revalidate(t);
	free(out);
	free(mem);
	free(mem2);
	free(mem3);
}

/*
 * Operations: byte 0 picks m; then records of one control byte (bit 0: which
 * part, bits 1-3: item length 0..7), one weight byte and the item bytes. The
 * parts merged either way round must give the same bytes, and stay valid.
 */
static void
fuzz_topk_ops(const uint8_t *buf, size_t len)
{
	struct sl_topk *part[2], *ab, *ba;
	void *mem[4];
	uint8_t *b1, *b2;
	uint32_t m;
	size_t n, i;

	if (len < 1)
		return;
	m = 1 + (buf[0] & 15);
	for (int j = 0; j < 4; j++)
		mem[j] = alloc8(sl_topk_memsize(m));
	part[0] = sl_topk_init(mem[0], m);
	part[1] = sl_topk_init(mem[1], m);
	for (i = 1; i + 2 <= len;) {
		uint32_t ilen = (buf[i] >> 1) & 7;
		int p = buf[i] & 1;
		uint64_t w = buf[i + 1];

		i += 2;
		if (i + ilen > len)
			break;
		CHECK(sl_topk_update(part[p], buf + i, ilen, w) == (w == 0 ? -EINVAL : 0));
		i += ilen;
	}
	topk_query(part[0]);
	topk_revalidate(part[0]);
	ab = sl_topk_init(mem[2], m);
	ba = sl_topk_init(mem[3], m);
	CHECK(sl_topk_merge(ab, part[0]) == 0 && sl_topk_merge(ab, part[1]) == 0);
	CHECK(sl_topk_merge(ba, part[1]) == 0 && sl_topk_merge(ba, part[0]) == 0);
	n = sl_topk_serialized_size(ab);
	b1 = malloc(n);
	b2 = malloc(n);
	CHECK(sl_topk_serialized_size(ba) == n);
	CHECK(sl_topk_serialize(ab, b1, n) == n && sl_topk_serialize(ba, b2, n) == n);
	CHECK(memcmp(b1, b2, n) == 0);
	CHECK(sl_topk_total(ab) == sl_topk_total(part[0]) + sl_topk_total(part[1]));
	topk_query(ab);
	topk_revalidate(ab);
	free(b1);
	free(b2);
	for (int j = 0; j < 4; j++)
		free(mem[j]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode, *buf;
	size_t len;

	if (size < 1)
		return 0;
	mode = data[0];
	len = size - 1;
	/* Exactly len bytes, so ASan flags any read past the payload. */
	buf = malloc(len > 0 ? len : 1);
	CHECK(buf != NULL);
	memcpy(buf, data + 1, len);
	if ((mode & 2) && len >= 4) {
		uint32_t crc = sl_sketch_crc32c(buf, len - 4);

		for (int i = 0; i < 4; i++)
			buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
	}
	if (mode & 4) {
		if (mode & 1)
			fuzz_topk_ops(buf, len);
		else
			fuzz_dds_ops(buf, len);
	} else if (mode & 1) {
		fuzz_topk(buf, len);
	} else {
		fuzz_dds(buf, len);
	}
	free(buf);
	return 0;
}
