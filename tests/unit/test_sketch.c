/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of dataplane/sketch.c: DDSketch quantiles and Space-Saving top-k.
 *
 * Every estimate is checked against exact answers computed here (sorted
 * arrays, exact counts), never against another sketch. Sketches live in
 * aligned_alloc() memory filled with garbage first: _init() must not depend on
 * the previous contents, and clones are plain memcpy() copies, so a sketch
 * must not hold pointers into itself. The serialized forms are rebuilt here by
 * an independent encoder (enc_*) that follows the layout documented in
 * sketch.h, so the tests also pin the format.
 */

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"
#include "sl_test.h"

/* Floating-point slack on top of alpha: the key is computed with log(). */
#define REL_SLACK (1.0 + 1e-9)

/* ---- helpers ---- */

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double
unif(uint64_t *s)
{
	return (double)((splitmix64(s) >> 11) + 1) * 0x1p-53;
}

static double
normal(uint64_t *s)
{
	return sqrt(-2.0 * log(unif(s))) * cos(2.0 * M_PI * unif(s));
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The rank sl_dds_quantile() documents: floor(q (n - 1)). */
static size_t
exact_rank(size_t n, double q)
{
	return (size_t)(q * (double)(n - 1));
}

static void *
garbage_alloc(size_t size)
{
	void *p = aligned_alloc(8, (size + 7) & ~(size_t)7);

	if (p != NULL)
		memset(p, 0xa5, size);
	return p;
}

static struct sl_dds *
dds_new(double alpha, uint32_t cap)
{
	return sl_dds_init(garbage_alloc(sl_dds_memsize(cap)), alpha, cap);
}

static struct sl_dds *
dds_clone(const struct sl_dds *d)
{
	size_t size = sl_dds_memsize(sl_dds_max_buckets(d));
	void *p = garbage_alloc(size);

	memcpy(p, d, size);
	return p;
}

static struct sl_topk *
topk_new(uint32_t m)
{
	return sl_topk_init(garbage_alloc(sl_topk_memsize(m)), m);
}

static struct sl_topk *
topk_clone(const struct sl_topk *t)
{
	size_t size = sl_topk_memsize(sl_topk_capacity(t));
	void *p = garbage_alloc(size);

	memcpy(p, t, size);
	return p;
}

struct blob {
	uint8_t *p;
	size_t len;
};

static struct blob
dds_ser(const struct sl_dds *d)
{
	size_t size = sl_dds_serialized_size(d);
	struct blob b = { malloc(size), 0 };

	b.len = sl_dds_serialize(d, b.p, size);
	return b;
}

static struct blob
topk_ser(struct sl_topk *t)
{
	size_t size = sl_topk_serialized_size(t);
	struct blob b = { malloc(size), 0 };

	b.len = sl_topk_serialize(t, b.p, size);
	return b;
}

static bool
blob_eq(struct blob a, struct blob b)
{
	return a.len == b.len && a.len > 0 && memcmp(a.p, b.p, a.len) == 0;
}

/* Equal up to rounding. */
static bool
near(double a, double b)
{
	return fabs(a - b) <= 1e-12 * fabs(b);
}

/* Equal, or both NaN. */
static bool
same_double(double a, double b)
{
	return a == b || (isnan(a) && isnan(b));
}

static int
add_all(struct sl_dds *d, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		SL_ASSERT_OK(sl_dds_add(d, v[i]));
	return SL_TEST_PASS;
}

/* Every q on a 0.001 grid: within alpha of the exact lower quantile, and bounded. */
static int
check_quantiles(const struct sl_dds *d, double *v, size_t n, double alpha)
{
	qsort(v, n, sizeof(*v), cmp_double);
	SL_ASSERT_EQ(sl_dds_count(d), n);
	SL_ASSERT_DBL_EQ(sl_dds_min(d), v[0]);
	SL_ASSERT_DBL_EQ(sl_dds_max(d), v[n - 1]);
	for (int i = 0; i <= 1000; i++) {
		double q = i / 1000.0;
		double exact = v[exact_rank(n, q)], est = sl_dds_quantile(d, q);

		SL_ASSERT(sl_dds_quantile_bounded(d, q));
		if (!(fabs(est - exact) <= alpha * fabs(exact) * REL_SLACK))
			SL_FAILF("q=%g: estimate %.17g, exact %.17g (alpha %g)", q, est, exact, alpha);
	}
	return SL_TEST_PASS;
}

/* A mixture: 20 % zeros, 30 % negative and 50 % positive log-normal values. */
static double *
mixed_values(size_t n, uint64_t seed)
{
	double *v = malloc(n * sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		double u = unif(&seed), x = exp(2.0 + 2.0 * normal(&seed));

		v[i] = u <= 0.2 ? 0.0 : u <= 0.5 ? -x : x;
	}
	return v;
}

/* ---- an independent encoder of the serialized forms ---- */

struct enc {
	uint8_t b[8192];
	size_t n;
};

static void
e_u8(struct enc *e, uint8_t v)
{
	e->b[e->n++] = v;
}

static void
e_u32(struct enc *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		e_u8(e, (uint8_t)(v >> (8 * i)));
}

static void
e_f64(struct enc *e, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	for (int i = 0; i < 8; i++)
		e_u8(e, (uint8_t)(v >> (8 * i)));
}

static void
e_var(struct enc *e, uint64_t v)
{
	while (v >= 0x80) {
		e_u8(e, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	e_u8(e, (uint8_t)v);
}

static void
e_zz(struct enc *e, int64_t k)
{
	e_var(e, ((uint64_t)k << 1) ^ (uint64_t)(k >> 63));
}

static void
e_seal(struct enc *e)
{
	e_u32(e, sl_sketch_crc32c(e->b, e->n));
}

/* Fields of a DDSketch encoding; the tests mutate one at a time. */
struct dds_fields {
	uint8_t version, kind, flags, reserved;
	uint32_t cap;
	double alpha, min, max;
	uint64_t count, zero;
	uint64_t span[2];
	int64_t kmin[2];
	uint64_t counts[2][4];
	bool overlong_count; /* encode count as a non-minimal varint */
	bool trailing;       /* one extra byte before the CRC */
};

/*
 * alpha = 0.5 (gamma = 3, key k holds magnitudes in (3^(k-1), 3^k]), values
 * {-6, 0, 0.5, 2}: -6 is key 2 of the negative store, 0.5 and 2 are keys 0 and
 * 1 of the positive store. (Exact powers of 3 are avoided: log() may round
 * them into either neighbouring bucket.)
 */
static const struct dds_fields dds_ref = {
	.version = 1, .kind = 1, .cap = 16, .alpha = 0.5, .min = -6.0, .max = 2.0,
	.count = 4, .zero = 1, .span = { 1, 2 }, .kmin = { 2, 0 },
	.counts = { { 1 }, { 1, 1 } },
};

static void
enc_dds(struct enc *e, const struct dds_fields *f)
{
	e->n = 0;
	e_u8(e, f->version);
	e_u8(e, f->kind);
	e_u8(e, f->flags);
	e_u8(e, f->reserved);
	e_u32(e, f->cap);
	e_f64(e, f->alpha);
	e_f64(e, f->min);
	e_f64(e, f->max);
	if (f->overlong_count) {
		e_u8(e, (uint8_t)(f->count | 0x80));
		e_u8(e, 0);
	} else {
		e_var(e, f->count);
	}
	e_var(e, f->zero);
	for (int s = 0; s < 2; s++) {
		e_var(e, f->span[s]);
		if (f->span[s] == 0)
			continue;
		e_zz(e, f->kmin[s]);
		/* Buckets past the four given are empty. */
		for (uint64_t i = 0; i < f->span[s]; i++)
			e_var(e, i < 4 ? f->counts[s][i] : 0);
	}
	if (f->trailing)
		e_u8(e, 0);
	e_seal(e);
}

struct topk_item {
	const char *item;
	uint64_t count, err;
};

struct topk_fields {
	uint8_t version, kind, res0, res1;
	uint32_t m, n;
	uint64_t total, floor;
	uint32_t n_items;
	struct topk_item items[4];
	bool trailing;
};

static void
enc_topk(struct enc *e, const struct topk_fields *f)
{
	e->n = 0;
	e_u8(e, f->version);
	e_u8(e, f->kind);
	e_u8(e, f->res0);
	e_u8(e, f->res1);
	e_u32(e, f->m);
	e_u32(e, f->n);
	e_var(e, f->total);
	e_var(e, f->floor);
	for (uint32_t i = 0; i < f->n_items; i++) {
		size_t len = strlen(f->items[i].item);

		e_var(e, f->items[i].count);
		e_var(e, f->items[i].err);
		e_u8(e, (uint8_t)len);
		memcpy(e->b + e->n, f->items[i].item, len);
		e->n += len;
	}
	if (f->trailing)
		e_u8(e, 0);
	e_seal(e);
}

static int
dds_decodes(const struct enc *e)
{
	struct sl_dds *d;
	void *mem = garbage_alloc(sl_dds_memsize(SL_DDS_BUCKETS_MAX));
	int rc = sl_dds_deserialize(mem, sl_dds_memsize(SL_DDS_BUCKETS_MAX), e->b, e->n, &d);

	free(mem);
	return rc;
}

static int
topk_decodes(const struct enc *e)
{
	struct sl_topk *t;
	void *mem = garbage_alloc(sl_topk_memsize(SL_TOPK_CAPACITY_MAX));
	int rc = sl_topk_deserialize(mem, sl_topk_memsize(SL_TOPK_CAPACITY_MAX), e->b, e->n, &t);

	free(mem);
	return rc;
}

/* ---- CRC ---- */

SL_TEST(crc32c_known_answer)
{
	/* The standard check value of CRC-32C. */
	SL_ASSERT_EQ(sl_sketch_crc32c("123456789", 9), 0xe3069283u);
	SL_ASSERT_EQ(sl_sketch_crc32c("", 0), 0);
	return SL_TEST_PASS;
}

/* ---- DDSketch ---- */

SL_TEST(dds_init_rejects_bad_parameters)
{
	static const double bad_alpha[] = { 0.0, -0.01, 1e-7, 0.51, 1.0, NAN, INFINITY };
	uint64_t mem[64];

	SL_ASSERT_EQ(sl_dds_memsize(0), 0);
	SL_ASSERT_EQ(sl_dds_memsize(SL_DDS_BUCKETS_MIN - 1), 0);
	SL_ASSERT_EQ(sl_dds_memsize(SL_DDS_BUCKETS_MAX + 1), 0);
	SL_ASSERT(sl_dds_memsize(SL_DDS_BUCKETS_MIN) <= sizeof(mem));
	SL_ASSERT_EQ(sl_dds_memsize(1024) % 8, 0);
	for (size_t i = 0; i < sizeof(bad_alpha) / sizeof(bad_alpha[0]); i++) {
		errno = 0;
		SL_ASSERT_NULL(sl_dds_init(mem, bad_alpha[i], SL_DDS_BUCKETS_MIN));
		SL_ASSERT_EQ(errno, EINVAL);
	}
	errno = 0;
	SL_ASSERT_NULL(sl_dds_init(mem, 0.01, 1));
	SL_ASSERT_EQ(errno, EINVAL);
	SL_ASSERT_NOT_NULL(sl_dds_init(mem, SL_DDS_ALPHA_MIN, SL_DDS_BUCKETS_MIN));
	SL_ASSERT_NOT_NULL(sl_dds_init(mem, SL_DDS_ALPHA_MAX, SL_DDS_BUCKETS_MIN));
	return SL_TEST_PASS;
}

SL_TEST(dds_empty_sketch)
{
	struct sl_dds *d = dds_new(SL_DDS_ALPHA_DEFAULT, SL_DDS_BUCKETS_DEFAULT);

	SL_ASSERT_EQ(sl_dds_count(d), 0);
	SL_ASSERT(isnan(sl_dds_quantile(d, 0.5)));
	SL_ASSERT(!sl_dds_quantile_bounded(d, 0.5));
	SL_ASSERT_DBL_EQ(sl_dds_min(d), INFINITY);
	SL_ASSERT_DBL_EQ(sl_dds_max(d), -INFINITY);
	SL_ASSERT_EQ(sl_dds_buckets_used(d), 0);
	SL_ASSERT_DBL_EQ(sl_dds_alpha(d), SL_DDS_ALPHA_DEFAULT);
	SL_ASSERT_EQ(sl_dds_max_buckets(d), SL_DDS_BUCKETS_DEFAULT);
	free(d);
	return SL_TEST_PASS;
}

SL_TEST(dds_small_inputs)
{
	struct sl_dds *d = dds_new(0.01, 1024);
	double v[] = { 5, 1, 4, 2, 3 };

	SL_ASSERT_OK(add_all(d, v, 5));
	/* q = 0 and q = 1 are the exact extremes; the rest within 1 %. */
	SL_ASSERT_DBL_EQ(sl_dds_quantile(d, 0.0), 1.0);
	SL_ASSERT_DBL_EQ(sl_dds_quantile(d, 1.0), 5.0);
	SL_ASSERT(fabs(sl_dds_quantile(d, 0.5) - 3.0) <= 0.03 * REL_SLACK);
	SL_ASSERT(fabs(sl_dds_quantile(d, 0.25) - 2.0) <= 0.02 * REL_SLACK);
	SL_ASSERT(fabs(sl_dds_quantile(d, 0.99) - 4.0) <= 0.04 * REL_SLACK);
	SL_ASSERT_OK(check_quantiles(d, v, 5, 0.01));
	SL_ASSERT(isnan(sl_dds_quantile(d, -0.1)));
	SL_ASSERT(isnan(sl_dds_quantile(d, 1.1)));
	SL_ASSERT(isnan(sl_dds_quantile(d, NAN)));
	SL_ASSERT(!sl_dds_quantile_bounded(d, NAN));

	/* One value: every quantile is that value (clamped to min = max). */
	sl_dds_reset(d);
	SL_ASSERT_OK(sl_dds_add(d, 42.5));
	for (int i = 0; i <= 10; i++)
		SL_ASSERT_DBL_EQ(sl_dds_quantile(d, i / 10.0), 42.5);

	/* Zeros are exact; so is a quantile that lands on them. */
	sl_dds_reset(d);
	SL_ASSERT_EQ(sl_dds_count(d), 0);
	SL_ASSERT_OK(sl_dds_add(d, -2.0));
	SL_ASSERT_OK(sl_dds_add(d, 0.0));
	SL_ASSERT_OK(sl_dds_add(d, 0.0));
	SL_ASSERT_OK(sl_dds_add(d, 7.0));
	SL_ASSERT_DBL_EQ(sl_dds_quantile(d, 0.34), 0.0);
	SL_ASSERT_DBL_EQ(sl_dds_quantile(d, 0.66), 0.0);
	SL_ASSERT(fabs(sl_dds_quantile(d, 0.2) + 2.0) <= 0.02 * REL_SLACK);
	SL_ASSERT_EQ(sl_dds_buckets_used(d), 2);
	free(d);
	return SL_TEST_PASS;
}

SL_TEST(dds_rejects_non_finite_and_normalizes_negative_zero)
{
	struct sl_dds *a = dds_new(0.01, 64), *b = dds_new(0.01, 64);
	struct blob ba, bb;

	SL_ASSERT_EQ(sl_dds_add(a, NAN), -EINVAL);
	SL_ASSERT_EQ(sl_dds_add(a, INFINITY), -EINVAL);
	SL_ASSERT_EQ(sl_dds_add(a, -INFINITY), -EINVAL);
	SL_ASSERT_EQ(sl_dds_count(a), 0);
	/* The order of -0.0 and 0.0 must not show in the state. */
	SL_ASSERT_OK(sl_dds_add(a, -0.0));
	SL_ASSERT_OK(sl_dds_add(a, 0.0));
	SL_ASSERT_OK(sl_dds_add(b, 0.0));
	SL_ASSERT_OK(sl_dds_add(b, -0.0));
	SL_ASSERT(!signbit(sl_dds_min(a)));
	ba = dds_ser(a);
	bb = dds_ser(b);
	SL_ASSERT(blob_eq(ba, bb));
	free(ba.p);
	free(bb.p);
	free(a);
	free(b);
	return SL_TEST_PASS;
}

SL_TEST(dds_uniform_within_alpha)
{
	static const double alphas[] = { 0.01, 0.001, 0.05 };
	const size_t n = 100000;
	double *v = malloc(n * sizeof(*v));
	uint64_t seed = 1;

	for (size_t a = 0; a < 3; a++) {
		struct sl_dds *d = dds_new(alphas[a], 4096);

		for (size_t i = 0; i < n; i++)
			v[i] = 1.0 + 999.0 * unif(&seed);
		SL_ASSERT_OK(add_all(d, v, n));
		SL_ASSERT_OK(check_quantiles(d, v, n, alphas[a]));
		free(d);
	}
	free(v);
	return SL_TEST_PASS;
}

SL_TEST(dds_lognormal_within_alpha)
{
	const size_t n = 200000;
	double *v = malloc(n * sizeof(*v));
	struct sl_dds *d = dds_new(SL_DDS_ALPHA_DEFAULT, SL_DDS_BUCKETS_DEFAULT);
	uint64_t seed = 2;

	/* Basket values: median e^3 = 20, a long right tail. */
	for (size_t i = 0; i < n; i++)
		v[i] = exp(3.0 + 1.5 * normal(&seed));
	SL_ASSERT_OK(add_all(d, v, n));
	SL_ASSERT_OK(check_quantiles(d, v, n, SL_DDS_ALPHA_DEFAULT));
	free(d);
	free(v);
	return SL_TEST_PASS;
}

SL_TEST(dds_zeros_and_negatives_within_alpha)
{
	const size_t n = 100000;
	double *v = mixed_values(n, 3);
	struct sl_dds *d = dds_new(SL_DDS_ALPHA_DEFAULT, SL_DDS_BUCKETS_DEFAULT);

	SL_ASSERT_OK(add_all(d, v, n));
	SL_ASSERT_OK(check_quantiles(d, v, n, SL_DDS_ALPHA_DEFAULT));
	free(d);
	free(v);
	return SL_TEST_PASS;
}

SL_TEST(dds_extreme_magnitudes)
{
	double v[] = { DBL_MAX, -DBL_MAX, DBL_TRUE_MIN, -DBL_TRUE_MIN, DBL_MIN, 1e-300, 1e300,
		       1.0, -1.0, 0.0 };
	/* gamma = 3: all of double's range in 1324 keys, no collapse with 2048. */
	struct sl_dds *d = dds_new(0.5, 2048);

	SL_ASSERT_OK(add_all(d, v, 10));
	SL_ASSERT_OK(check_quantiles(d, v, 10, 0.5));
	for (int i = 0; i <= 100; i++)
		SL_ASSERT(isfinite(sl_dds_quantile(d, i / 100.0)));
	free(d);
	return SL_TEST_PASS;
}

/* Split values at random over @p parts sketches and merge them in order. */
static struct sl_dds *
dds_split_merge(const double *v, size_t n, uint32_t parts, double alpha, uint32_t cap,
		uint64_t seed)
{
	struct sl_dds *p[16], *dst;

	for (uint32_t i = 0; i < parts; i++)
		p[i] = dds_new(alpha, cap);
	for (size_t i = 0; i < n; i++)
		sl_dds_add(p[splitmix64(&seed) % parts], v[i]);
	dst = p[0];
	for (uint32_t i = 1; i < parts; i++) {
		if (sl_dds_merge(dst, p[i]) != 0)
			abort();
		free(p[i]);
	}
	return dst;
}

SL_TEST(dds_merge_of_random_splits_equals_one_sketch)
{
	const size_t n = 50000;
	double *v = mixed_values(n, 4);
	struct sl_dds *whole = dds_new(SL_DDS_ALPHA_DEFAULT, SL_DDS_BUCKETS_DEFAULT);
	struct blob bw;

	SL_ASSERT_OK(add_all(whole, v, n));
	bw = dds_ser(whole);
	for (uint64_t seed = 1; seed <= 5; seed++) {
		struct sl_dds *m = dds_split_merge(v, n, 2 + (uint32_t)seed, SL_DDS_ALPHA_DEFAULT,
						   SL_DDS_BUCKETS_DEFAULT, seed);
		struct blob bm = dds_ser(m);

		/* The state depends only on the multiset of inputs. */
		SL_ASSERT(blob_eq(bm, bw));
		SL_ASSERT_OK(check_quantiles(m, v, n, SL_DDS_ALPHA_DEFAULT));
		free(bm.p);
		free(m);
	}
	free(bw.p);
	free(whole);
	free(v);
	return SL_TEST_PASS;
}

/* merge(a, merge(b, c)), merge(merge(a, b), c) and merge(merge(c, a), b): same bytes. */
static int
check_dds_assoc(struct sl_dds *a, struct sl_dds *b, struct sl_dds *c)
{
	struct sl_dds *bc = dds_clone(b), *l = dds_clone(a), *ab = dds_clone(a), *ca = dds_clone(c);
	struct blob x, y, z;

	SL_ASSERT_OK(sl_dds_merge(bc, c));
	SL_ASSERT_OK(sl_dds_merge(l, bc));  /* a + (b + c) */
	SL_ASSERT_OK(sl_dds_merge(ab, b));
	SL_ASSERT_OK(sl_dds_merge(ab, c));  /* (a + b) + c */
	SL_ASSERT_OK(sl_dds_merge(ca, a));
	SL_ASSERT_OK(sl_dds_merge(ca, b));  /* (c + a) + b */
	x = dds_ser(l);
	y = dds_ser(ab);
	z = dds_ser(ca);
	SL_ASSERT(blob_eq(x, y));
	SL_ASSERT(blob_eq(x, z));
	for (int i = 0; i <= 100; i++) {
		SL_ASSERT_DBL_EQ(sl_dds_quantile(l, i / 100.0), sl_dds_quantile(ab, i / 100.0));
		SL_ASSERT_DBL_EQ(sl_dds_quantile(l, i / 100.0), sl_dds_quantile(ca, i / 100.0));
	}
	free(x.p);
	free(y.p);
	free(z.p);
	free(bc);
	free(l);
	free(ab);
	free(ca);
	return SL_TEST_PASS;
}

SL_TEST(dds_merge_is_associative_and_commutative)
{
	const size_t n = 20000;
	double *v = mixed_values(3 * n, 5);
	/* Default buckets (no collapse), and 32 buckets (every store collapses). */
	static const uint32_t caps[] = { SL_DDS_BUCKETS_DEFAULT, 32 };

	for (int i = 0; i < 2; i++) {
		struct sl_dds *a = dds_new(0.01, caps[i]), *b = dds_new(0.01, caps[i]);
		struct sl_dds *c = dds_new(0.01, caps[i]);

		SL_ASSERT_OK(add_all(a, v, n));
		/* b: only positives, far above a's range; c: only negatives. */
		for (size_t j = n; j < 2 * n; j++)
			SL_ASSERT_OK(sl_dds_add(b, 1e6 + fabs(v[j])));
		for (size_t j = 2 * n; j < 3 * n; j++)
			SL_ASSERT_OK(sl_dds_add(c, -fabs(v[j]) - 1e-3));
		SL_ASSERT_OK(check_dds_assoc(a, b, c));
		SL_ASSERT_OK(check_dds_assoc(c, a, b));
		free(a);
		free(b);
		free(c);
	}
	free(v);
	return SL_TEST_PASS;
}

SL_TEST(dds_merge_rejects_other_alpha_and_self)
{
	struct sl_dds *a = dds_new(0.01, 64), *b = dds_new(0.02, 64);
	struct blob before, after;

	SL_ASSERT_OK(sl_dds_add(a, 1.0));
	SL_ASSERT_OK(sl_dds_add(b, 2.0));
	before = dds_ser(a);
	SL_ASSERT_EQ(sl_dds_merge(a, b), -EINVAL);
	SL_ASSERT_EQ(sl_dds_merge(a, a), -EINVAL);
	after = dds_ser(a);
	SL_ASSERT(blob_eq(before, after));
	free(before.p);
	free(after.p);
	free(a);
	free(b);
	return SL_TEST_PASS;
}

SL_TEST(dds_collapse_by_hand)
{
	/*
	 * gamma = 3, 4 buckets: 0.5, 2, 6, 18, 54 are keys 0..4 (bucket values
	 * 3^k / 2: 0.5, 1.5, 4.5, 13.5, 40.5, up to rounding in exp()). The fifth key folds key 0 into key 1.
	 */
	struct sl_dds *d = dds_new(0.5, 4);
	double v[] = { 0.5, 2, 6, 18, 54 };

	SL_ASSERT_OK(add_all(d, v, 3));
	SL_ASSERT(sl_dds_quantile_bounded(d, 0.1));
	SL_ASSERT_DBL_EQ(sl_dds_quantile(d, 0.1), 0.5);
	SL_ASSERT(near(sl_dds_quantile(d, 0.5), 1.5));
	SL_ASSERT_OK(add_all(d, v + 3, 2));
	SL_ASSERT_EQ(sl_dds_buckets_used(d), 4);
	/* Ranks 0 and 1 now share key 1: unbounded. */
	SL_ASSERT(near(sl_dds_quantile(d, 0.1), 1.5));
	SL_ASSERT(!sl_dds_quantile_bounded(d, 0.1));
	SL_ASSERT(near(sl_dds_quantile(d, 0.3), 1.5));
	SL_ASSERT(!sl_dds_quantile_bounded(d, 0.3));
	/* Rank 2 and up keep their own buckets. */
	SL_ASSERT(near(sl_dds_quantile(d, 0.5), 4.5));
	SL_ASSERT(sl_dds_quantile_bounded(d, 0.5));
	SL_ASSERT(near(sl_dds_quantile(d, 0.75), 13.5));
	SL_ASSERT_DBL_EQ(sl_dds_quantile(d, 1.0), 54.0);
	SL_ASSERT_DBL_EQ(sl_dds_quantile(d, 0.0), 0.5);
	SL_ASSERT(sl_dds_quantile_bounded(d, 0.0));
	/* A value below the window counts in the lowest bucket. */
	SL_ASSERT_OK(sl_dds_add(d, 0.001));
	SL_ASSERT_EQ(sl_dds_buckets_used(d), 4);
	SL_ASSERT_DBL_EQ(sl_dds_quantile(d, 0.0), 0.001);
	SL_ASSERT(near(sl_dds_quantile(d, 0.4), 1.5)); /* rank 2 of 6: key 1 */
	SL_ASSERT(near(sl_dds_quantile(d, 0.6), 4.5)); /* rank 3: key 2 */
	/* Bigger values move the window up: keys 1 and 2 fold into key 3. */
	SL_ASSERT_OK(sl_dds_add(d, 400.0));             /* key 6 */
	SL_ASSERT_EQ(sl_dds_buckets_used(d), 4);
	SL_ASSERT(near(sl_dds_quantile(d, 0.5), 13.5)); /* rank 3 of 7: key 3 */
	SL_ASSERT(!sl_dds_quantile_bounded(d, 0.5));
	SL_ASSERT(sl_dds_quantile_bounded(d, 0.9));
	free(d);
	return SL_TEST_PASS;
}

SL_TEST(dds_collapse_keeps_the_high_quantiles)
{
	const size_t n = 50000;
	const uint32_t cap = 128;
	double *v = malloc(n * sizeof(*v)), *neg = malloc(n * sizeof(*neg));
	struct sl_dds *up = dds_new(0.01, cap), *down = dds_new(0.01, cap);
	struct sl_dds *nd = dds_new(0.01, cap);
	double gamma = 1.01 / 0.99, floor_v;
	uint32_t bounded = 0;
	struct blob bu, bd;
	uint64_t seed = 6;

	/* 12 decades: about 1380 keys, far more than 128. */
	for (size_t i = 0; i < n; i++)
		v[i] = pow(10.0, -6.0 + 12.0 * unif(&seed));
	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++) {
		SL_ASSERT_OK(sl_dds_add(up, v[i]));
		SL_ASSERT_OK(sl_dds_add(down, v[n - 1 - i]));
		SL_ASSERT_OK(sl_dds_add(nd, -v[i]));
		neg[i] = -v[n - 1 - i];
	}
	/* Ascending and descending input give the same state. */
	bu = dds_ser(up);
	bd = dds_ser(down);
	SL_ASSERT(blob_eq(bu, bd));
	SL_ASSERT_EQ(sl_dds_buckets_used(up), cap);
	/* Bounded wherever the value is within gamma^(cap-2) of the maximum. */
	floor_v = v[n - 1] / pow(gamma, cap - 2);
	for (int i = 0; i <= 1000; i++) {
		double q = i / 1000.0, exact = v[exact_rank(n, q)], est = sl_dds_quantile(up, q);

		if (sl_dds_quantile_bounded(up, q)) {
			bounded++;
			SL_ASSERT(fabs(est - exact) <= 0.01 * exact * REL_SLACK);
		} else {
			/* Collapsed: over-estimated, or within alpha when it is the bucket's own. */
			SL_ASSERT(est >= exact * (1.0 - 0.01 * REL_SLACK));
		}
		SL_ASSERT(exact < floor_v || sl_dds_quantile_bounded(up, q));
	}
	SL_ASSERT(bounded > 0 && bounded < 1001);
	SL_ASSERT(sl_dds_quantile_bounded(up, 0.999));
	/* Negative values collapse toward zero: the most negative stay exact. */
	for (int i = 0; i <= 1000; i++) {
		double q = i / 1000.0, exact = neg[exact_rank(n, q)], est = sl_dds_quantile(nd, q);

		SL_ASSERT(-exact < floor_v || sl_dds_quantile_bounded(nd, q));
		SL_ASSERT(!sl_dds_quantile_bounded(nd, q) ||
			  fabs(est - exact) <= 0.01 * fabs(exact) * REL_SLACK);
		SL_ASSERT(est <= 0.0 && fabs(est) >= fabs(exact) * (1.0 - 0.01 * REL_SLACK));
	}
	free(bu.p);
	free(bd.p);
	free(up);
	free(down);
	free(nd);
	free(v);
	free(neg);
	return SL_TEST_PASS;
}

SL_TEST(dds_merge_across_bucket_limits)
{
	const size_t n = 20000;
	double *v = malloc(n * sizeof(*v));
	struct sl_dds *small = dds_new(0.01, 64), *big = dds_new(0.01, 2048);
	struct sl_dds *big2 = dds_new(0.01, 2048);
	uint64_t seed = 7;

	for (size_t i = 0; i < n; i++)
		v[i] = pow(10.0, 6.0 * unif(&seed));
	SL_ASSERT_OK(add_all(big, v, n));
	SL_ASSERT_OK(check_quantiles(big, v, n, 0.01)); /* 690 keys fit in 2048 */
	/* Into fewer buckets: the result has dst's limit and collapses. */
	SL_ASSERT_OK(sl_dds_merge(small, big));
	SL_ASSERT_EQ(sl_dds_buckets_used(small), 64);
	SL_ASSERT(sl_dds_quantile_bounded(small, 0.999));
	SL_ASSERT(fabs(sl_dds_quantile(small, 0.999) - v[exact_rank(n, 0.999)]) <=
		  0.01 * v[exact_rank(n, 0.999)] * REL_SLACK);
	SL_ASSERT(!sl_dds_quantile_bounded(small, 0.01));
	/* Into more buckets: a collapsed source stays flagged. */
	SL_ASSERT_OK(sl_dds_merge(big2, small));
	SL_ASSERT_EQ(sl_dds_count(big2), n);
	SL_ASSERT(!sl_dds_quantile_bounded(big2, 0.01));
	SL_ASSERT(sl_dds_quantile_bounded(big2, 0.999));
	free(small);
	free(big);
	free(big2);
	free(v);
	return SL_TEST_PASS;
}

SL_TEST(dds_serialization_round_trips_bit_exactly)
{
	const size_t n = 20000;
	double *v = mixed_values(n, 8);
	struct sl_dds *d[5];

	d[0] = dds_new(0.01, 1024);                   /* empty */
	d[1] = dds_new(0.01, 1024);                   /* zeros only */
	SL_ASSERT_OK(sl_dds_add(d[1], 0.0));
	d[2] = dds_new(0.01, 1024);                   /* mixed */
	SL_ASSERT_OK(add_all(d[2], v, n));
	d[3] = dds_new(0.02, 16);                     /* collapsed */
	SL_ASSERT_OK(add_all(d[3], v, n));
	d[4] = dds_new(SL_DDS_ALPHA_MIN, 1024);       /* huge keys */
	SL_ASSERT_OK(sl_dds_add(d[4], 1e300));
	SL_ASSERT_OK(sl_dds_add(d[4], -1e-300));
	for (int i = 0; i < 5; i++) {
		struct blob b = dds_ser(d[i]), b2;
		size_t need = sl_dds_serialized_memsize(b.p, b.len);
		void *mem = garbage_alloc(need);
		struct sl_dds *r = NULL;

		SL_ASSERT(b.len > 0 && b.len <= sl_dds_serialized_max(sl_dds_max_buckets(d[i])));
		SL_ASSERT_EQ(need, sl_dds_memsize(sl_dds_max_buckets(d[i])));
		SL_ASSERT_EQ(sl_dds_serialize(d[i], b.p, b.len - 1), 0);
		SL_ASSERT_EQ(sl_dds_deserialize(mem, need - 8, b.p, b.len, &r), -ENOSPC);
		SL_ASSERT_NULL(r);
		SL_ASSERT_OK(sl_dds_deserialize(mem, need, b.p, b.len, &r));
		SL_ASSERT(r == mem);
		b2 = dds_ser(r);
		SL_ASSERT(blob_eq(b, b2));
		SL_ASSERT_EQ(sl_dds_count(r), sl_dds_count(d[i]));
		for (int j = 0; j <= 100; j++)
			SL_ASSERT(same_double(sl_dds_quantile(r, j / 100.0),
					      sl_dds_quantile(d[i], j / 100.0)));
		/* The deserialized sketch keeps working like the original. */
		SL_ASSERT_OK(sl_dds_add(r, 3.25));
		SL_ASSERT_OK(sl_dds_add(d[i], 3.25));
		free(b2.p);
		b2 = dds_ser(r);
		free(b.p);
		b = dds_ser(d[i]);
		SL_ASSERT(blob_eq(b, b2));
		free(b.p);
		free(b2.p);
		free(mem);
		free(d[i]);
	}
	free(v);
	return SL_TEST_PASS;
}

SL_TEST(dds_format_matches_documentation)
{
	struct sl_dds *d = dds_new(0.5, 16);
	double v[] = { 2.0, -6.0, 0.0, 0.5 };
	struct enc e;
	struct blob b;

	SL_ASSERT_OK(add_all(d, v, 4));
	b = dds_ser(d);
	enc_dds(&e, &dds_ref);
	SL_ASSERT_EQ(b.len, e.n);
	SL_ASSERT(memcmp(b.p, e.b, e.n) == 0);
	SL_ASSERT_OK(dds_decodes(&e));
	free(b.p);
	free(d);
	return SL_TEST_PASS;
}

SL_TEST(dds_rejects_every_truncation_and_corruption)
{
	const size_t n = 300;
	double *v = mixed_values(n, 9);
	struct sl_dds *d = dds_new(0.01, 256);
	size_t need = sl_dds_memsize(256);
	void *mem = garbage_alloc(need);
	struct sl_dds *r = NULL;
	struct blob b;

	SL_ASSERT_OK(add_all(d, v, n));
	b = dds_ser(d);
	for (size_t len = 0; len < b.len; len++) {
		/* Exactly len bytes, so ASan catches a read past them. */
		uint8_t *cut = malloc(len + 1);

		memcpy(cut, b.p, len);
		SL_ASSERT_EQ(sl_dds_deserialize(mem, need, cut, len, &r), -EINVAL);
		free(cut);
	}
	/* Any change of one byte, to any value: CRC-32C catches every one. */
	for (size_t i = 0; i < b.len; i++) {
		uint8_t keep = b.p[i];

		for (unsigned int x = 1; x < 256; x++) {
			b.p[i] = (uint8_t)(keep ^ x);
			SL_ASSERT_EQ(sl_dds_deserialize(mem, need, b.p, b.len, &r), -EINVAL);
		}
		b.p[i] = keep;
	}
	SL_ASSERT_NULL(r);
	SL_ASSERT_OK(sl_dds_deserialize(mem, need, b.p, b.len, &r));
	free(b.p);
	free(mem);
	free(d);
	free(v);
	return SL_TEST_PASS;
}

SL_TEST(dds_rejects_invalid_fields_with_a_valid_crc)
{
	struct dds_fields f;
	struct enc e;

#define BAD(stmt)                                                                      \
	do {                                                                           \
		f = dds_ref;                                                           \
		stmt;                                                                  \
		enc_dds(&e, &f);                                                       \
		if (dds_decodes(&e) != -EINVAL)                                        \
			SL_FAILF("accepted: %s", #stmt);                               \
	} while (0)

	BAD(f.version = 2);
	BAD(f.kind = SL_SKETCH_KIND_TOPK);
	BAD(f.flags = 4);
	BAD(f.reserved = 1);
	BAD(f.cap = 0);
	BAD(f.cap = 1);
	BAD(f.cap = SL_DDS_BUCKETS_MAX + 1);
	BAD(f.alpha = 0.6);
	BAD(f.alpha = NAN);
	BAD(f.alpha = 0.25);                /* keys no longer match min and max */
	BAD(f.min = NAN);
	BAD(f.min = -INFINITY);
	BAD(f.min = -2.0);                  /* key 1: not the negative store's top key */
	BAD(f.max = 1.0);                   /* key 0: not the positive store's top key */
	BAD(f.max = -7.0);
	BAD(f.count = 5);
	BAD(f.count = 3);
	BAD(f.zero = 0);
	BAD(f.overlong_count = true);
	BAD(f.trailing = true);
	BAD(f.span[0] = 2);                 /* a count read from the next store */
	BAD(f.span[1] = 17);                /* over max_buckets */
	BAD(f.counts[1][0] = 0; f.count = 3); /* span starts at an empty bucket */
	BAD(f.counts[1][1] = 0; f.count = 3); /* span ends at an empty bucket */
	BAD(f.kmin[1] = 1);
	BAD(f.kmin[1] = 100000);            /* beyond the key of DBL_MAX */
	BAD(f.kmin[0] = -100000);
	BAD(f.kmin[1] = INT64_MAX);
	BAD(f.count = UINT64_MAX);
	BAD(f.counts[1][0] = UINT64_MAX);   /* sum overflows */
	BAD(f.span[0] = 0; f.span[1] = 0; f.zero = 0; f.count = 0; f.max = -INFINITY); /* empty */
	BAD(f.span[0] = 0; f.span[1] = 0; f.zero = 0; f.count = 0; f.min = INFINITY;
	    f.max = -INFINITY; f.flags = 2);
	BAD(f.span[0] = 0; f.count = 3; f.min = -0.0);
#undef BAD
	/* -8.5 has the key of -6 (both in (3, 9]): a consistent, valid state. */
	f = dds_ref;
	f.min = -8.5;
	enc_dds(&e, &f);
	SL_ASSERT_OK(dds_decodes(&e));
	/* A collapsed flag is state (set by a merge into fewer buckets): valid. */
	f = dds_ref;
	f.flags = 3;
	enc_dds(&e, &f);
	SL_ASSERT_OK(dds_decodes(&e));
	f = dds_ref;
	f.span[0] = 0;
	f.count = 3;
	f.min = 0.0;
	enc_dds(&e, &f);
	SL_ASSERT_OK(dds_decodes(&e));
	return SL_TEST_PASS;
}

SL_TEST(dds_serialized_memsize_reads_the_header)
{
	struct enc e;
	struct dds_fields f = dds_ref;

	enc_dds(&e, &f);
	SL_ASSERT_EQ(sl_dds_serialized_memsize(e.b, e.n), sl_dds_memsize(16));
	SL_ASSERT_EQ(sl_dds_serialized_memsize(e.b, 7), 0);
	f.cap = 0;
	enc_dds(&e, &f);
	SL_ASSERT_EQ(sl_dds_serialized_memsize(e.b, e.n), 0);
	f = dds_ref;
	f.kind = SL_SKETCH_KIND_TOPK;
	enc_dds(&e, &f);
	SL_ASSERT_EQ(sl_dds_serialized_memsize(e.b, e.n), 0);
	return SL_TEST_PASS;
}

SL_TEST(dds_count_overflow_is_refused)
{
	struct dds_fields f = {
		.version = 1, .kind = 1, .cap = 16, .alpha = 0.01, .min = 0.0, .max = 0.0,
		.count = UINT64_MAX, .zero = UINT64_MAX,
	};
	void *mem = garbage_alloc(sl_dds_memsize(16));
	struct sl_dds *full = NULL, *one = dds_new(0.01, 16);
	struct blob before, after;
	struct enc e;

	enc_dds(&e, &f);
	SL_ASSERT_OK(sl_dds_deserialize(mem, sl_dds_memsize(16), e.b, e.n, &full));
	SL_ASSERT_DBL_EQ(sl_dds_quantile(full, 0.5), 0.0);
	before = dds_ser(full);
	SL_ASSERT_EQ(sl_dds_add(full, 1.0), -EOVERFLOW);
	SL_ASSERT_OK(sl_dds_add(one, 1.0));
	SL_ASSERT_EQ(sl_dds_merge(full, one), -EOVERFLOW);
	SL_ASSERT_EQ(sl_dds_merge(one, full), -EOVERFLOW);
	after = dds_ser(full);
	SL_ASSERT(blob_eq(before, after));
	SL_ASSERT_EQ(sl_dds_count(one), 1);
	free(before.p);
	free(after.p);
	free(mem);
	free(one);
	return SL_TEST_PASS;
}

/* ---- Space-Saving ---- */

#define UNIVERSE 5000

static void
item_name(uint32_t id, char *buf)
{
	snprintf(buf, 16, "sku-%u", id);
}

static uint32_t
item_id(const struct sl_topk_entry *e)
{
	char buf[SL_TOPK_ITEM_MAX + 1];

	memcpy(buf, e->item, e->len);
	buf[e->len] = '\0';
	return (uint32_t)strtoul(buf + 4, NULL, 10);
}

/* A Zipf(s) sampler over ids 0 .. UNIVERSE-1 (id 0 most frequent). */
struct zipf {
	double cdf[UNIVERSE];
};

static void
zipf_init(struct zipf *z, double s)
{
	double sum = 0;

	for (uint32_t i = 0; i < UNIVERSE; i++)
		z->cdf[i] = sum += pow(i + 1.0, -s);
	for (uint32_t i = 0; i < UNIVERSE; i++)
		z->cdf[i] /= sum;
}

static uint32_t
zipf_draw(const struct zipf *z, uint64_t *seed)
{
	double u = unif(seed);
	uint32_t lo = 0, hi = UNIVERSE - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The Space-Saving guarantees against exact counts @p f: every monitored item
 * has f <= count <= f + err and err <= floor; every other item has f <= floor;
 * floor <= N/m (so every item over N/m is reported); report order.
 */
static int
check_topk(const struct sl_topk *t, const uint64_t *f)
{
	uint32_t m = sl_topk_capacity(t), got;
	struct sl_topk_entry *e = calloc(m, sizeof(*e));
	bool *seen = calloc(UNIVERSE, sizeof(*seen));
	uint64_t total = 0, floor_v = sl_topk_floor(t);

	for (uint32_t i = 0; i < UNIVERSE; i++)
		total += f[i];
	SL_ASSERT_EQ(sl_topk_total(t), total);
	SL_ASSERT(floor_v <= total / m);
	got = sl_topk_query(t, m, e);
	SL_ASSERT_EQ(got, sl_topk_size(t));
	for (uint32_t i = 0; i < got; i++) {
		uint32_t id = item_id(&e[i]);

		SL_ASSERT(id < UNIVERSE && !seen[id]);
		seen[id] = true;
		SL_ASSERT(f[id] <= e[i].count);
		SL_ASSERT(e[i].count <= f[id] + e[i].err);
		SL_ASSERT(e[i].err <= floor_v);
		SL_ASSERT(i == 0 || e[i - 1].count >= e[i].count);
	}
	for (uint32_t id = 0; id < UNIVERSE; id++) {
		SL_ASSERT(seen[id] || f[id] <= floor_v);
		SL_ASSERT(seen[id] || f[id] * m <= total);
	}
	free(e);
	free(seen);
	return SL_TEST_PASS;
}

static int
topk_add(struct sl_topk *t, uint64_t *f, uint32_t id, uint64_t w)
{
	char name[16];

	item_name(id, name);
	SL_ASSERT_OK(sl_topk_update(t, name, (uint32_t)strlen(name), w));
	f[id] += w;
	return SL_TEST_PASS;
}

SL_TEST(topk_init_rejects_bad_parameters)
{
	uint64_t mem[256];

	SL_ASSERT_EQ(sl_topk_memsize(0), 0);
	SL_ASSERT_EQ(sl_topk_memsize(SL_TOPK_CAPACITY_MAX + 1), 0);
	SL_ASSERT_EQ(sl_topk_memsize(80) % 8, 0);
	errno = 0;
	SL_ASSERT_NULL(sl_topk_init(mem, 0));
	SL_ASSERT_EQ(errno, EINVAL);
	SL_ASSERT(sl_topk_memsize(4) <= sizeof(mem));
	SL_ASSERT_NOT_NULL(sl_topk_init(mem, 4));
	SL_ASSERT_EQ(sl_topk_default_capacity(10), 80);
	SL_ASSERT_EQ(sl_topk_default_capacity(1), 16);
	SL_ASSERT_EQ(sl_topk_default_capacity(0), 16);
	SL_ASSERT_EQ(sl_topk_default_capacity(UINT32_MAX), SL_TOPK_CAPACITY_MAX);
	return SL_TEST_PASS;
}

SL_TEST(topk_exact_below_capacity)
{
	struct sl_topk *t = topk_new(16);
	uint64_t f[UNIVERSE] = { 0 };
	struct sl_topk_entry e[16];

	for (uint32_t id = 0; id < 10; id++)
		for (uint32_t j = 0; j <= id; j++)
			SL_ASSERT_OK(topk_add(t, f, id, 1 + j % 2));
	SL_ASSERT_EQ(sl_topk_size(t), 10);
	SL_ASSERT_EQ(sl_topk_floor(t), 0);
	SL_ASSERT_EQ(sl_topk_query(t, 16, e), 10);
	for (uint32_t i = 0; i < 10; i++) {
		SL_ASSERT_EQ(item_id(&e[i]), 9 - i);
		SL_ASSERT_EQ(e[i].count, f[9 - i]);
		SL_ASSERT_EQ(e[i].err, 0);
	}
	SL_ASSERT_EQ(sl_topk_query(t, 3, e), 3);
	SL_ASSERT_EQ(item_id(&e[2]), 7);
	SL_ASSERT_EQ(sl_topk_query(t, 0, e), 0);
	SL_ASSERT_OK(check_topk(t, f));
	sl_topk_reset(t);
	SL_ASSERT_EQ(sl_topk_size(t), 0);
	SL_ASSERT_EQ(sl_topk_total(t), 0);
	SL_ASSERT_EQ(sl_topk_query(t, 16, e), 0);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(topk_rejects_bad_updates)
{
	struct sl_topk *t = topk_new(4);
	uint8_t item[SL_TOPK_ITEM_MAX + 1];
	struct sl_topk_entry e[4];

	memset(item, 'x', sizeof(item));
	SL_ASSERT_EQ(sl_topk_update(t, item, SL_TOPK_ITEM_MAX + 1, 1), -EINVAL);
	SL_ASSERT_EQ(sl_topk_update(t, item, 1, 0), -EINVAL);
	SL_ASSERT_EQ(sl_topk_total(t), 0);
	SL_ASSERT_OK(sl_topk_update(t, item, SL_TOPK_ITEM_MAX, 1));
	SL_ASSERT_OK(sl_topk_update(t, NULL, 0, 2)); /* the empty item */
	SL_ASSERT_OK(sl_topk_update(t, "", 0, 1));
	SL_ASSERT_EQ(sl_topk_query(t, 4, e), 2);
	SL_ASSERT_EQ(e[0].len, 0);
	SL_ASSERT_EQ(e[0].count, 3);
	SL_ASSERT_EQ(e[1].len, SL_TOPK_ITEM_MAX);
	SL_ASSERT(memcmp(e[1].item, item, SL_TOPK_ITEM_MAX) == 0);
	SL_ASSERT_OK(sl_topk_update(t, "a", 1, SL_TOPK_TOTAL_MAX - 4));
	SL_ASSERT_EQ(sl_topk_update(t, "a", 1, 1), -EOVERFLOW);
	SL_ASSERT_EQ(sl_topk_total(t), SL_TOPK_TOTAL_MAX);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(topk_eviction_by_hand)
{
	struct sl_topk *t = topk_new(2), *u = topk_new(2);
	struct sl_topk_entry e[2];
	struct blob bt, bu;

	SL_ASSERT_OK(sl_topk_update(t, "a", 1, 5));
	SL_ASSERT_OK(sl_topk_update(t, "b", 1, 3));
	SL_ASSERT_OK(sl_topk_update(t, "c", 1, 1)); /* takes over b's counter */
	SL_ASSERT_EQ(sl_topk_floor(t), 3);
	SL_ASSERT_EQ(sl_topk_query(t, 2, e), 2);
	SL_ASSERT(e[0].len == 1 && e[0].item[0] == 'a' && e[0].count == 5 && e[0].err == 0);
	SL_ASSERT(e[1].len == 1 && e[1].item[0] == 'c' && e[1].count == 4 && e[1].err == 3);
	/* Equal counts: the victim is chosen by item, not by arrival order. */
	sl_topk_reset(t);
	SL_ASSERT_OK(sl_topk_update(t, "a", 1, 1));
	SL_ASSERT_OK(sl_topk_update(t, "b", 1, 1));
	SL_ASSERT_OK(sl_topk_update(t, "c", 1, 1));
	SL_ASSERT_OK(sl_topk_update(u, "b", 1, 1));
	SL_ASSERT_OK(sl_topk_update(u, "a", 1, 1));
	SL_ASSERT_OK(sl_topk_update(u, "c", 1, 1));
	bt = topk_ser(t);
	bu = topk_ser(u);
	SL_ASSERT(blob_eq(bt, bu));
	free(bt.p);
	free(bu.p);
	free(t);
	free(u);
	return SL_TEST_PASS;
}

SL_TEST(topk_guarantees_on_skewed_streams)
{
	static const double skew[] = { 0.8, 1.1, 1.5 };
	static const uint32_t caps[] = { 16, 80, 400 };
	struct zipf *z = malloc(sizeof(*z));
	uint64_t *f = malloc(UNIVERSE * sizeof(*f));

	for (int s = 0; s < 3; s++) {
		zipf_init(z, skew[s]);
		for (int c = 0; c < 3; c++) {
			struct sl_topk *t = topk_new(caps[c]);
			uint64_t seed = (uint64_t)(10 * s + c);

			memset(f, 0, UNIVERSE * sizeof(*f));
			for (int i = 0; i < 100000; i++)
				SL_ASSERT_OK(topk_add(t, f, zipf_draw(z, &seed),
						      1 + splitmix64(&seed) % 3));
			SL_ASSERT_EQ(sl_topk_size(t), caps[c]);
			SL_ASSERT(sl_topk_floor(t) > 0);
			SL_ASSERT_OK(check_topk(t, f));
			free(t);
		}
	}
	free(z);
	free(f);
	return SL_TEST_PASS;
}

/* Feed a Zipf stream split at random over @p parts summaries; @p f gets the truth. */
static int
topk_split(struct sl_topk **p, uint32_t parts, uint32_t m, uint64_t *f, uint64_t seed, int n)
{
	struct zipf *z = malloc(sizeof(*z));

	zipf_init(z, 1.1);
	for (uint32_t i = 0; i < parts; i++)
		p[i] = topk_new(m);
	for (int i = 0; i < n; i++) {
		uint32_t part = (uint32_t)(splitmix64(&seed) % parts);

		/* Parts see different mixes: part i favours ids shifted by 7 i. */
		SL_ASSERT_OK(topk_add(p[part], f, (zipf_draw(z, &seed) + 7 * part) % UNIVERSE, 1));
	}
	free(z);
	return SL_TEST_PASS;
}

SL_TEST(topk_merge_keeps_the_guarantees)
{
	uint64_t *f = malloc(UNIVERSE * sizeof(*f));

	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct sl_topk *p[8];
		uint32_t parts = 8, live = 8;

		memset(f, 0, UNIVERSE * sizeof(*f));
		SL_ASSERT_OK(topk_split(p, parts, 32, f, seed, 60000));
		/* A random merge tree: merge two random live summaries until one is left. */
		while (live > 1) {
			uint32_t a = (uint32_t)(splitmix64(&seed) % live), b;

			b = (a + 1 + (uint32_t)(splitmix64(&seed) % (live - 1))) % live;
			SL_ASSERT_OK(sl_topk_merge(p[a], p[b]));
			free(p[b]);
			p[b] = p[--live];
		}
		SL_ASSERT(sl_topk_floor(p[0]) > 0);
		SL_ASSERT_OK(check_topk(p[0], f));
		free(p[0]);
	}
	free(f);
	return SL_TEST_PASS;
}

SL_TEST(topk_merge_is_exact_without_drops)
{
	struct sl_topk *whole = topk_new(64), *p[3], *l, *r;
	uint64_t f[UNIVERSE] = { 0 }, g[UNIVERSE] = { 0 };
	struct blob bw, bl, br;
	uint64_t seed = 11;

	/* 50 distinct items over 3 parts: nothing is ever dropped. */
	for (int i = 0; i < 3; i++)
		p[i] = topk_new(64);
	for (int i = 0; i < 3000; i++) {
		uint32_t id = (uint32_t)(splitmix64(&seed) % 50);

		SL_ASSERT_OK(topk_add(p[i % 3], f, id, 1 + (uint64_t)(i % 4)));
		SL_ASSERT_OK(topk_add(whole, g, id, 1 + (uint64_t)(i % 4)));
	}
	l = topk_clone(p[1]);
	SL_ASSERT_OK(sl_topk_merge(l, p[2]));
	r = topk_clone(p[0]);
	SL_ASSERT_OK(sl_topk_merge(r, l)); /* a + (b + c) */
	free(l);
	l = topk_clone(p[0]);
	SL_ASSERT_OK(sl_topk_merge(l, p[1]));
	SL_ASSERT_OK(sl_topk_merge(l, p[2])); /* (a + b) + c */
	bw = topk_ser(whole);
	bl = topk_ser(l);
	br = topk_ser(r);
	SL_ASSERT(blob_eq(bl, br));
	SL_ASSERT(blob_eq(bl, bw));
	SL_ASSERT_EQ(sl_topk_floor(l), 0);
	SL_ASSERT_OK(check_topk(l, f));
	free(bw.p);
	free(bl.p);
	free(br.p);
	for (int i = 0; i < 3; i++)
		free(p[i]);
	free(l);
	free(r);
	free(whole);
	return SL_TEST_PASS;
}

SL_TEST(topk_merge_is_commutative_and_associative_on_heavy_hitters)
{
	uint64_t *f = malloc(UNIVERSE * sizeof(*f));
	struct sl_topk *p[3], *ab, *ba, *l, *r;
	struct sl_topk_entry el[10], er[10];
	struct blob bab, bba;
	uint64_t seed = 12;

	memset(f, 0, UNIVERSE * sizeof(*f));
	SL_ASSERT_OK(topk_split(p, 3, 40, f, 13, 60000));
	/* Ten heavy hitters, each well over N/m, on top of the Zipf tail. */
	for (uint32_t id = 0; id < 10; id++)
		for (int i = 0; i < 3; i++)
			SL_ASSERT_OK(topk_add(p[i], f, 4000 + id, 3000 + 1000 * id +
					      splitmix64(&seed) % 50));
	ab = topk_clone(p[0]);
	ba = topk_clone(p[1]);
	SL_ASSERT_OK(sl_topk_merge(ab, p[1]));
	SL_ASSERT_OK(sl_topk_merge(ba, p[0]));
	bab = topk_ser(ab);
	bba = topk_ser(ba);
	SL_ASSERT(blob_eq(bab, bba));
	SL_ASSERT(sl_topk_floor(ab) > 0); /* counters were dropped */

	l = ab;
	SL_ASSERT_OK(sl_topk_merge(l, p[2])); /* (a + b) + c */
	r = topk_clone(p[1]);
	SL_ASSERT_OK(sl_topk_merge(r, p[2]));
	SL_ASSERT_OK(sl_topk_merge(p[0], r)); /* a + (b + c) */
	SL_ASSERT_OK(check_topk(l, f));
	SL_ASSERT_OK(check_topk(p[0], f));
	/* Both orders report the same top 10, in the same order. */
	SL_ASSERT_EQ(sl_topk_query(l, 10, el), 10);
	SL_ASSERT_EQ(sl_topk_query(p[0], 10, er), 10);
	for (int i = 0; i < 10; i++) {
		SL_ASSERT_EQ(item_id(&el[i]), 4009 - i);
		SL_ASSERT_EQ(item_id(&er[i]), 4009 - i);
	}
	free(bab.p);
	free(bba.p);
	for (int i = 0; i < 3; i++)
		free(p[i]);
	free(ab);
	free(ba);
	free(r);
	free(f);
	return SL_TEST_PASS;
}

SL_TEST(topk_merge_rules)
{
	struct sl_topk *small = topk_new(8), *big = topk_new(64), *empty = topk_new(64);
	struct sl_topk *huge = topk_new(8);
	uint64_t f[UNIVERSE] = { 0 };
	struct blob b1, b2;
	uint64_t seed = 14;

	for (int i = 0; i < 5000; i++)
		SL_ASSERT_OK(topk_add(big, f, (uint32_t)(splitmix64(&seed) % 300), 1));
	/* Fewer counters than dst would weaken dst's bound. */
	SL_ASSERT_EQ(sl_topk_merge(big, small), -EINVAL);
	SL_ASSERT_EQ(sl_topk_merge(big, big), -EINVAL);
	/* Into an empty summary of the same m: identity. */
	SL_ASSERT_OK(sl_topk_merge(empty, big));
	b1 = topk_ser(empty);
	b2 = topk_ser(big);
	SL_ASSERT(blob_eq(b1, b2));
	free(b1.p);
	free(b2.p);
	/* More counters into fewer: allowed, with dst's bound N/8. */
	SL_ASSERT_OK(sl_topk_merge(small, big));
	SL_ASSERT_EQ(sl_topk_size(small), 8);
	SL_ASSERT_OK(check_topk(small, f));
	/* Overflow leaves dst alone. */
	SL_ASSERT_OK(sl_topk_update(huge, "x", 1, SL_TOPK_TOTAL_MAX - 10));
	b1 = topk_ser(small);
	SL_ASSERT_EQ(sl_topk_merge(small, huge), -EOVERFLOW);
	b2 = topk_ser(small);
	SL_ASSERT(blob_eq(b1, b2));
	free(b1.p);
	free(b2.p);
	free(small);
	free(big);
	free(empty);
	free(huge);
	return SL_TEST_PASS;
}

SL_TEST(topk_serialization_round_trips_bit_exactly)
{
	struct sl_topk *t[3], *p[4];
	uint64_t *f = calloc(UNIVERSE, sizeof(*f));
	struct zipf *z = malloc(sizeof(*z));
	uint64_t seed = 15;

	zipf_init(z, 1.0);
	t[0] = topk_new(16); /* empty */
	t[1] = topk_new(80); /* evicting */
	for (int i = 0; i < 20000; i++)
		SL_ASSERT_OK(topk_add(t[1], f, zipf_draw(z, &seed), 1 + (uint64_t)(i % 5)));
	SL_ASSERT_OK(topk_split(p, 4, 16, f, 16, 20000)); /* merged: n < m, floor > 0 possible */
	for (int i = 1; i < 4; i++) {
		SL_ASSERT_OK(sl_topk_merge(p[0], p[i]));
		free(p[i]);
	}
	t[2] = p[0];
	for (int i = 0; i < 3; i++) {
		struct blob b = topk_ser(t[i]), b2;
		size_t need = sl_topk_serialized_memsize(b.p, b.len);
		void *mem = garbage_alloc(need);
		struct sl_topk *r = NULL;
		struct sl_topk_entry e1[8], e2[8];
		uint32_t n1, n2;

		SL_ASSERT(b.len > 0 && b.len <= sl_topk_serialized_max(sl_topk_capacity(t[i])));
		SL_ASSERT_EQ(need, sl_topk_memsize(sl_topk_capacity(t[i])));
		SL_ASSERT_EQ(sl_topk_serialize(t[i], b.p, b.len - 1), 0);
		SL_ASSERT_EQ(sl_topk_deserialize(mem, need - 8, b.p, b.len, &r), -ENOSPC);
		SL_ASSERT_NULL(r);
		SL_ASSERT_OK(sl_topk_deserialize(mem, need, b.p, b.len, &r));
		b2 = topk_ser(r);
		SL_ASSERT(blob_eq(b, b2));
		n1 = sl_topk_query(t[i], 8, e1);
		n2 = sl_topk_query(r, 8, e2);
		SL_ASSERT_EQ(n1, n2);
		for (uint32_t j = 0; j < n1; j++)
			SL_ASSERT(e1[j].count == e2[j].count && e1[j].err == e2[j].err &&
				  e1[j].len == e2[j].len && memcmp(e1[j].item, e2[j].item, e1[j].len) == 0);
		/* The copy keeps evolving exactly like the original. */
		for (int j = 0; j < 2000; j++) {
			char name[16];

			item_name(zipf_draw(z, &seed), name);
			SL_ASSERT_OK(sl_topk_update(t[i], name, (uint32_t)strlen(name), 2));
			SL_ASSERT_OK(sl_topk_update(r, name, (uint32_t)strlen(name), 2));
		}
		free(b.p);
		free(b2.p);
		b = topk_ser(t[i]);
		b2 = topk_ser(r);
		SL_ASSERT(blob_eq(b, b2));
		free(b.p);
		free(b2.p);
		free(mem);
		free(t[i]);
	}
	free(z);
	free(f);
	return SL_TEST_PASS;
}

SL_TEST(topk_format_matches_documentation)
{
	/* m = 2: a:5, b:3, then c:1 takes over b. Report order: a (5), c (4 err 3). */
	const struct topk_fields ref = {
		.version = 1, .kind = 2, .m = 2, .n = 2, .total = 9, .floor = 3, .n_items = 2,
		.items = { { "a", 5, 0 }, { "c", 4, 3 } },
	};
	struct sl_topk *t = topk_new(2);
	struct enc e;
	struct blob b;

	SL_ASSERT_OK(sl_topk_update(t, "a", 1, 5));
	SL_ASSERT_OK(sl_topk_update(t, "b", 1, 3));
	SL_ASSERT_OK(sl_topk_update(t, "c", 1, 1));
	b = topk_ser(t);
	enc_topk(&e, &ref);
	SL_ASSERT_EQ(b.len, e.n);
	SL_ASSERT(memcmp(b.p, e.b, e.n) == 0);
	SL_ASSERT_OK(topk_decodes(&e));
	free(b.p);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(topk_rejects_every_truncation_and_corruption)
{
	struct sl_topk *t = topk_new(16), *r = NULL;
	uint64_t f[UNIVERSE] = { 0 };
	size_t need = sl_topk_memsize(16);
	void *mem = garbage_alloc(need);
	uint64_t seed = 17;
	struct blob b;

	for (int i = 0; i < 500; i++)
		SL_ASSERT_OK(topk_add(t, f, (uint32_t)(splitmix64(&seed) % 40), 1));
	b = topk_ser(t);
	for (size_t len = 0; len < b.len; len++) {
		uint8_t *cut = malloc(len + 1);

		memcpy(cut, b.p, len);
		SL_ASSERT_EQ(sl_topk_deserialize(mem, need, cut, len, &r), -EINVAL);
		free(cut);
	}
	for (size_t i = 0; i < b.len; i++) {
		uint8_t keep = b.p[i];

		for (unsigned int x = 1; x < 256; x++) {
			b.p[i] = (uint8_t)(keep ^ x);
			SL_ASSERT_EQ(sl_topk_deserialize(mem, need, b.p, b.len, &r), -EINVAL);
		}
		b.p[i] = keep;
	}
	SL_ASSERT_NULL(r);
	SL_ASSERT_OK(sl_topk_deserialize(mem, need, b.p, b.len, &r));
	free(b.p);
	free(mem);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(topk_rejects_invalid_fields_with_a_valid_crc)
{
	/*
	 * Valid: m = 4, total 10, floor 2 <= 10/4; a: 4 err 1, b: 2 err 1;
	 * sum(count - floor) = 2 <= 10 - 4 * 2.
	 */
	const struct topk_fields good = {
		.version = 1, .kind = 2, .m = 4, .n = 2, .total = 10, .floor = 2, .n_items = 2,
		.items = { { "a", 4, 1 }, { "b", 2, 1 } },
	};
	char long_item[SL_TOPK_ITEM_MAX + 2];
	struct topk_fields f = good;
	struct enc e;

	memset(long_item, 'z', sizeof(long_item) - 1);
	long_item[sizeof(long_item) - 1] = '\0';
	enc_topk(&e, &f);
	SL_ASSERT_OK(topk_decodes(&e));

#define BAD(stmt)                                                                      \
	do {                                                                           \
		f = good;                                                              \
		stmt;                                                                  \
		enc_topk(&e, &f);                                                      \
		if (topk_decodes(&e) != -EINVAL)                                       \
			SL_FAILF("accepted: %s", #stmt);                               \
	} while (0)

	BAD(f.version = 0);
	BAD(f.version = 2);
	BAD(f.kind = SL_SKETCH_KIND_DDS);
	BAD(f.res0 = 1);
	BAD(f.res1 = 1);
	BAD(f.m = 0);
	BAD(f.m = SL_TOPK_CAPACITY_MAX + 1);
	BAD(f.m = 1);                          /* n > m */
	BAD(f.n = 3);                          /* a counter short */
	BAD(f.n = 1);                          /* a counter too many */
	BAD(f.total = SL_TOPK_TOTAL_MAX + 1);
	BAD(f.floor = 3);                      /* floor > total / m */
	BAD(f.m = 5);                          /* sum(count - floor) = 2 > 10 - 5 * 2 */
	BAD(f.total = 9);                      /* sum(count - floor) = 2 > 9 - 4 * 2 */
	BAD(f.items[1].count = 1);             /* count < floor */
	BAD(f.items[1].err = 3);               /* err > floor */
	BAD(f.items[1].err = 2);               /* err = count */
	BAD(f.items[0] = good.items[1]; f.items[1] = good.items[0]); /* not in report order */
	BAD(f.items[1].item = "a");            /* the same item twice */
	BAD(f.items[1].item = long_item);
	BAD(f.trailing = true);
#undef BAD
	/* A third, distinct item with room for it is fine. */
	f = good;
	f.n = f.n_items = 3;
	f.total = 12;
	f.items[1] = (struct topk_item){ "b", 3, 2 };
	f.items[2] = (struct topk_item){ "c", 2, 1 };
	enc_topk(&e, &f);
	SL_ASSERT_OK(topk_decodes(&e));
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
