/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Sketch states: DDSketch quantiles and Space-Saving top-k. See sketch.h for
 * the ownership model and docs/sketches.md for the error bounds and proofs.
 *
 * Nothing here allocates, locks or logs. Each sketch is one block laid out by
 * its _init() function; its parts are found from offsets, never from stored
 * pointers, so a block stays valid when copied.
 */

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "agg.h"
#include "sketch.h"

/* ---- byte helpers: CRC-32C, little-endian fields, LEB128 varints ---- */

/* CRC-32C, reflected polynomial 0x82f63b78, four bits per lookup. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3,
	0x61c69362, 0x7198540d, 0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
	0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t
sl_sketch_crc32c(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= b[i];
		c = (c >> 4) ^ crc32c_nibble[c & 15];
		c = (c >> 4) ^ crc32c_nibble[c & 15];
	}
	return ~c;
}

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *
put_f64(uint8_t *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t
zigzag(int64_t k)
{
	return ((uint64_t)k << 1) ^ (uint64_t)(k >> 63);
}

static int64_t
unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/*
 * A bounded reader. Every getter returns 0 once anything went wrong and sets
 * @c bad, so a parser can read a whole record and check @c bad once.
 */
struct rbuf {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

static uint8_t
get_u8(struct rbuf *r)
{
	if (r->bad || r->p >= r->end) {
		r->bad = true;
		return 0;
	}
	return *r->p++;
}

static uint32_t
get_u32(struct rbuf *r)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)get_u8(r) << (8 * i);
	return v;
}

static double
get_f64(struct rbuf *r)
{
	uint64_t v = 0;
	double d;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)get_u8(r) << (8 * i);
	memcpy(&d, &v, 8);
	return d;
}

/* A minimal unsigned LEB128 of at most 64 bits; anything else is malformed. */
static uint64_t
get_varint(struct rbuf *r)
{
	uint64_t v = 0;

	for (unsigned int shift = 0; shift < 64; shift += 7) {
		uint8_t b = get_u8(r);

		if (r->bad || (shift == 63 && b > 1))
			break;
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			if (b == 0 && shift > 0)
				break; /* over-long: not canonical */
			return v;
		}
	}
	r->bad = true;
	return 0;
}

/* Bytes before the trailing CRC when it matches, else 0 (no valid form is that short). */
static size_t
crc_body(const uint8_t *buf, size_t len)
{
	uint32_t want = 0;

	if (len < 4)
		return 0;
	for (int i = 0; i < 4; i++)
		want |= (uint32_t)buf[len - 4 + i] << (8 * i);
	return sl_sketch_crc32c(buf, len - 4) == want ? len - 4 : 0;
}

/* ---- DDSketch ---- */

#define DDS_NEG 0
#define DDS_POS 1
#define DDS_ZERO 2
#define DDS_SER_HDR 32 /* version .. max: the fixed-width part */

/*
 * One store: a window of cap consecutive keys starting at @c off. Keys in use
 * are [kmin, kmax] (when total > 0); every slot outside them is zero, and an
 * empty store is all zeros.
 */
struct dds_store {
	int32_t off;
	int32_t kmin;
	int32_t kmax;
	uint32_t pad;
	uint64_t total;
};

struct sl_dds {
	double alpha;
	double ln_gamma;     /* ln((1 + alpha) / (1 - alpha)) */
	double inv_ln_gamma;
	double min;
	double max;
	uint64_t count;
	uint64_t zero;
	int32_t key_lo;      /* key of the smallest positive double */
	int32_t key_hi;      /* key of DBL_MAX */
	uint32_t cap;        /* slots per store */
	uint32_t flags;      /* bit s: store s has collapsed */
	struct dds_store st[2];
	uint64_t counts[];   /* 2 * cap: the negative store's slots, then the positive's */
};

static bool
dds_alpha_ok(double alpha)
{
	return alpha >= SL_DDS_ALPHA_MIN && alpha <= SL_DDS_ALPHA_MAX;
}

/* The bucket of magnitude @p a (> 0, finite): ceil(log_gamma(a)). */
static int32_t
dds_key(const struct sl_dds *d, double a)
{
	return (int32_t)ceil(log(a) * d->inv_ln_gamma);
}

/*
 * The value reported for bucket @p k: gamma^k (1 - alpha), which is within
 * relative error alpha of every magnitude in (gamma^(k-1), gamma^k].
 */
static double
dds_value(const struct sl_dds *d, int32_t k)
{
	return exp((double)k * d->ln_gamma) * (1.0 - d->alpha);
}

static uint64_t *
dds_slots(struct sl_dds *d, unsigned int s)
{
	return d->counts + (size_t)s * d->cap;
}

static const uint64_t *
dds_cslots(const struct sl_dds *d, unsigned int s)
{
	return d->counts + (size_t)s * d->cap;
}

size_t
sl_dds_memsize(uint32_t max_buckets)
{
	if (max_buckets < SL_DDS_BUCKETS_MIN || max_buckets > SL_DDS_BUCKETS_MAX)
		return 0;
	return sizeof(struct sl_dds) + 2 * (size_t)max_buckets * sizeof(uint64_t);
}

struct sl_dds *
sl_dds_init(void *mem, double alpha, uint32_t max_buckets)
{
	struct sl_dds *d = mem;
	size_t size = sl_dds_memsize(max_buckets);

	if (size == 0 || !dds_alpha_ok(alpha)) {
		errno = EINVAL;
		return NULL;
	}
	assert(((uintptr_t)mem & 7) == 0);
	memset(d, 0, size);
	d->alpha = alpha;
	d->ln_gamma = log1p(alpha) - log1p(-alpha);
	d->inv_ln_gamma = 1.0 / d->ln_gamma;
	d->cap = max_buckets;
	d->key_lo = dds_key(d, DBL_TRUE_MIN);
	d->key_hi = dds_key(d, DBL_MAX);
	d->min = INFINITY;
	d->max = -INFINITY;
	return d;
}

void
sl_dds_reset(struct sl_dds *d)
{
	memset(d->st, 0, sizeof(d->st));
	memset(d->counts, 0, 2 * (size_t)d->cap * sizeof(uint64_t));
	d->count = 0;
	d->zero = 0;
	d->flags = 0;
	d->min = INFINITY;
	d->max = -INFINITY;
}

/*
 * Move store @p s's window to cover keys [lo, hi] (hi - lo < cap), centred
 * when it is narrower, and fold the counts of keys below @p lo into @p lo.
 */
static void
store_reframe(struct sl_dds *d, unsigned int s, int64_t lo, int64_t hi)
{
	struct dds_store *st = &d->st[s];
	uint64_t *c = dds_slots(d, s);
	int64_t noff = lo - ((int64_t)d->cap - (hi - lo + 1)) / 2;
	uint64_t folded = 0;
	int64_t k;

	assert(hi >= lo && hi - lo < (int64_t)d->cap);
	if (st->total == 0) {
		st->off = (int32_t)noff;
		return;
	}
	for (k = st->kmin; k < lo && k <= st->kmax; k++)
		folded += c[k - st->off];
	if (k <= st->kmax) {
		/* Keys [k, kmax] survive; noff <= lo <= k and kmax <= hi < noff + cap. */
		memmove(c + (k - noff), c + (k - st->off), (size_t)(st->kmax - k + 1) * 8);
		memset(c, 0, (size_t)(k - noff) * 8);
		memset(c + (st->kmax + 1 - noff), 0, (size_t)(noff + d->cap - st->kmax - 1) * 8);
	} else {
		memset(c, 0, (size_t)d->cap * 8);
		st->kmax = (int32_t)lo;
	}
	st->off = (int32_t)noff;
	if (folded > 0) {
		c[lo - noff] += folded;
		st->kmin = (int32_t)lo;
	} else {
		st->kmin = (int32_t)k;
	}
}

/*
 * Make store @p s able to hold keys [lo, hi] besides its own. When the union
 * spans more than cap keys, the lowest collapse: the result is the lowest key
 * the store can hold now, and a key below it must be counted there. The
 * collapse maps every key k to max(k, K - cap + 1), K the highest key ever
 * seen, so the state depends only on the input multiset, not on its order.
 */
static int64_t
store_make_room(struct sl_dds *d, unsigned int s, int64_t lo, int64_t hi)
{
	struct dds_store *st = &d->st[s];

	if (st->total > 0) {
		lo = lo < st->kmin ? lo : st->kmin;
		hi = hi > st->kmax ? hi : st->kmax;
	}
	if (hi - lo >= (int64_t)d->cap) {
		lo = hi - d->cap + 1;
		d->flags |= 1u << s;
	}
	if (st->total == 0 || lo > st->kmin || lo < st->off || hi >= (int64_t)st->off + d->cap)
		store_reframe(d, s, lo, hi);
	return lo;
}

static void
store_add(struct sl_dds *d, unsigned int s, int64_t k)
{
	struct dds_store *st = &d->st[s];

	/* Fast path: inside a non-empty window, so the span stays within cap. */
	if (st->total == 0 || k < st->off || k >= (int64_t)st->off + d->cap) {
		int64_t lo = store_make_room(d, s, k, k);

		if (k < lo)
			k = lo;
	}
	dds_slots(d, s)[k - st->off]++;
	if (st->total == 0) {
		st->kmin = st->kmax = (int32_t)k;
	} else {
		if (k < st->kmin)
			st->kmin = (int32_t)k;
		if (k > st->kmax)
			st->kmax = (int32_t)k;
	}
	st->total++;
}

int
sl_dds_add(struct sl_dds *d, double v)
{
	if (!isfinite(v))
		return -EINVAL;
	if (d->count == UINT64_MAX)
		return -EOVERFLOW;
	if (v == 0.0) {
		v = 0.0; /* -0.0 too: min and max must not depend on the order of zeros */
		d->zero++;
	} else if (v > 0.0) {
		store_add(d, DDS_POS, dds_key(d, v));
	} else {
		store_add(d, DDS_NEG, dds_key(d, -v));
	}
	d->count++;
	if (v < d->min)
		d->min = v;
	if (v > d->max)
		d->max = v;
	return 0;
}

int
sl_dds_merge(struct sl_dds *dst, const struct sl_dds *src)
{
	if (src == dst || memcmp(&dst->alpha, &src->alpha, sizeof(double)) != 0)
		return -EINVAL;
	if (src->count > UINT64_MAX - dst->count)
		return -EOVERFLOW;
	for (unsigned int s = 0; s < 2; s++) {
		const struct dds_store *ss = &src->st[s];
		const uint64_t *sc = dds_cslots(src, s);
		struct dds_store *ds = &dst->st[s];
		uint64_t *dc;
		int64_t lo, kmin;

		if (ss->total == 0)
			continue;
		lo = store_make_room(dst, s, ss->kmin, ss->kmax);
		dc = dds_slots(dst, s);
		for (int64_t k = ss->kmin; k <= ss->kmax; k++)
			dc[(k < lo ? lo : k) - ds->off] += sc[k - ss->off];
		kmin = ss->kmin < lo ? lo : ss->kmin;
		if (ds->total == 0 || kmin < ds->kmin)
			ds->kmin = (int32_t)kmin;
		if (ds->total == 0 || ss->kmax > ds->kmax)
			ds->kmax = ss->kmax;
		ds->total += ss->total;
		dst->flags |= src->flags & (1u << s);
	}
	dst->zero += src->zero;
	dst->count += src->count;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

uint64_t
sl_dds_count(const struct sl_dds *d)
{
	return d->count;
}

double
sl_dds_min(const struct sl_dds *d)
{
	return d->min;
}

double
sl_dds_max(const struct sl_dds *d)
{
	return d->max;
}

double
sl_dds_alpha(const struct sl_dds *d)
{
	return d->alpha;
}

uint32_t
sl_dds_max_buckets(const struct sl_dds *d)
{
	return d->cap;
}

uint32_t
sl_dds_buckets_used(const struct sl_dds *d)
{
	uint32_t n = 0;

	for (unsigned int s = 0; s < 2; s++)
		if (d->st[s].total > 0)
			n += (uint32_t)(d->st[s].kmax - d->st[s].kmin + 1);
	return n;
}

/* Rank of the lower q-quantile, floor(q (count - 1)), for a non-empty sketch. */
static uint64_t
dds_rank(uint64_t count, double q)
{
	double x = q * (double)(count - 1);
	uint64_t r = x >= 0x1p64 ? UINT64_MAX : (uint64_t)x;

	return r < count - 1 ? r : count - 1;
}

/*
 * The bucket that holds rank @p rank, in value order: negative store from its
 * highest key (most negative value) down, the zeros, the positive store up.
 */
static void
dds_locate(const struct sl_dds *d, uint64_t rank, unsigned int *ret_s, int32_t *ret_k)
{
	const struct dds_store *neg = &d->st[DDS_NEG], *pos = &d->st[DDS_POS];
	const uint64_t *c;
	uint64_t cum = 0;

	*ret_s = DDS_POS;
	*ret_k = pos->kmax;
	if (rank < neg->total) {
		c = dds_cslots(d, DDS_NEG);
		for (int64_t k = neg->kmax; k >= neg->kmin; k--) {
			cum += c[k - neg->off];
			if (cum > rank) {
				*ret_s = DDS_NEG;
				*ret_k = (int32_t)k;
				return;
			}
		}
	}
	cum = neg->total;
	if (rank < cum + d->zero) {
		*ret_s = DDS_ZERO;
		return;
	}
	cum += d->zero;
	c = dds_cslots(d, DDS_POS);
	for (int64_t k = pos->kmin; k <= pos->kmax; k++) {
		cum += c[k - pos->off];
		if (cum > rank) {
			*ret_k = (int32_t)k;
			return;
		}
	}
}

double
sl_dds_quantile(const struct sl_dds *d, double q)
{
	unsigned int s;
	int32_t k;
	double v;

	if (d->count == 0 || !(q >= 0.0 && q <= 1.0))
		return NAN;
	if (q == 0.0)
		return d->min;
	if (q == 1.0)
		return d->max;
	dds_locate(d, dds_rank(d->count, q), &s, &k);
	if (s == DDS_ZERO)
		return 0.0;
	v = dds_value(d, k);
	if (s == DDS_NEG)
		v = -v;
	/* The exact extremes bracket every input value, so clamping only helps. */
	if (v < d->min)
		v = d->min;
	if (v > d->max)
		v = d->max;
	return v;
}

bool
sl_dds_quantile_bounded(const struct sl_dds *d, double q)
{
	unsigned int s;
	int32_t k;

	if (d->count == 0 || !(q >= 0.0 && q <= 1.0))
		return false;
	if (q == 0.0 || q == 1.0)
		return true;
	dds_locate(d, dds_rank(d->count, q), &s, &k);
	return s == DDS_ZERO || !(d->flags & (1u << s)) || k != d->st[s].kmin;
}

size_t
sl_dds_serialized_max(uint32_t max_buckets)
{
	/* varints: count and zero up to 10 bytes, span 3, key 5, each count 10. */
	return DDS_SER_HDR + 2 * 10 + 2 * (3 + 5 + (size_t)max_buckets * 10) + 4;
}

size_t
sl_dds_serialized_size(const struct sl_dds *d)
{
	size_t n = DDS_SER_HDR + varint_len(d->count) + varint_len(d->zero) + 4;

	for (unsigned int s = 0; s < 2; s++) {
		const struct dds_store *st = &d->st[s];
		const uint64_t *c = dds_cslots(d, s);

		if (st->total == 0) {
			n += 1;
			continue;
		}
		n += varint_len((uint64_t)(st->kmax - st->kmin + 1)) + varint_len(zigzag(st->kmin));
		for (int64_t k = st->kmin; k <= st->kmax; k++)
			n += varint_len(c[k - st->off]);
	}
	return n;
}

size_t
sl_dds_serialize(const struct sl_dds *d, uint8_t *out, size_t cap)
{
	size_t size = sl_dds_serialized_size(d);
	uint8_t *p = out;

	if (cap < size)
		return 0;
	*p++ = SL_SKETCH_SER_VERSION;
	*p++ = SL_SKETCH_KIND_DDS;
	*p++ = (uint8_t)d->flags;
	*p++ = 0;
	p = put_u32(p, d->cap);
	p = put_f64(p, d->alpha);
	p = put_f64(p, d->min);
	p = put_f64(p, d->max);
	p = put_varint(p, d->count);
	p = put_varint(p, d->zero);
	for (unsigned int s = 0; s < 2; s++) {
		const struct dds_store *st = &d->st[s];
		const uint64_t *c = dds_cslots(d, s);

		if (st->total == 0) {
			*p++ = 0;
			continue;
		}
		p = put_varint(p, (uint64_t)(st->kmax - st->kmin + 1));
		p = put_varint(p, zigzag(st->kmin));
		for (int64_t k = st->kmin; k <= st->kmax; k++)
			p = put_varint(p, c[k - st->off]);
	}
	p = put_u32(p, sl_sketch_crc32c(out, (size_t)(p - out)));
	assert((size_t)(p - out) == size);
	return size;
}

size_t
sl_dds_serialized_memsize(const uint8_t *buf, size_t len)
{
	uint32_t cap = 0;

	if (len < DDS_SER_HDR || buf[0] != SL_SKETCH_SER_VERSION || buf[1] != SL_SKETCH_KIND_DDS)
		return 0;
	for (int i = 0; i < 4; i++)
		cap |= (uint32_t)buf[4 + i] << (8 * i);
	return sl_dds_memsize(cap);
}

/* Read one store's keys and counts into the empty store @p s. @return false when malformed. */
static bool
dds_read_store(struct sl_dds *d, unsigned int s, struct rbuf *r)
{
	struct dds_store *st = &d->st[s];
	uint64_t span = get_varint(r), total = 0;
	int64_t kmin, kmax;
	uint64_t *c;

	if (r->bad || span > d->cap)
		return false;
	if (span == 0)
		return true;
	kmin = unzigzag(get_varint(r));
	if (r->bad || kmin < d->key_lo || kmin > d->key_hi || (int64_t)span - 1 > d->key_hi - kmin)
		return false;
	kmax = kmin + (int64_t)span - 1;
	store_reframe(d, s, kmin, kmax);
	c = dds_slots(d, s);
	for (int64_t k = kmin; k <= kmax; k++) {
		uint64_t n = get_varint(r);

		if (r->bad || n > UINT64_MAX - total)
			return false;
		c[k - st->off] = n;
		total += n;
	}
	/* Canonical: the span starts and ends at a non-empty bucket. */
	if (c[kmin - st->off] == 0 || c[kmax - st->off] == 0)
		return false;
	st->kmin = (int32_t)kmin;
	st->kmax = (int32_t)kmax;
	st->total = total;
	return true;
}

/*
 * Whether an extreme input value @p v (the min or the max) agrees with store
 * @p s: its bucket is the store's highest key (largest magnitude), or with
 * @p want_low_key its lowest key, or below the lowest key when the store has
 * collapsed.
 */
static bool
dds_extreme_ok(const struct sl_dds *d, unsigned int s, bool want_low_key, double v)
{
	const struct dds_store *st = &d->st[s];
	int32_t k = dds_key(d, fabs(v));

	if (!want_low_key)
		return k == st->kmax;
	return k == st->kmin || (k < st->kmin && (d->flags & (1u << s)));
}

/* Cross-field invariants of a deserialized sketch. */
static bool
dds_valid(const struct sl_dds *d)
{
	const struct dds_store *neg = &d->st[DDS_NEG], *pos = &d->st[DDS_POS];
	uint64_t sum = d->zero;

	for (unsigned int s = 0; s < 2; s++) {
		if (d->st[s].total > UINT64_MAX - sum)
			return false;
		sum += d->st[s].total;
		if ((d->flags & (1u << s)) && d->st[s].total == 0)
			return false;
	}
	if (sum != d->count)
		return false;
	if (d->count == 0)
		return d->min == INFINITY && d->max == -INFINITY;
	if (!isfinite(d->min) || !isfinite(d->max) || d->min > d->max ||
	    (d->min == 0.0 && signbit(d->min)) || (d->max == 0.0 && signbit(d->max)))
		return false;
	/* The minimum: most negative value, else zero, else smallest positive. */
	if (neg->total > 0) {
		if (!(d->min < 0.0) || !dds_extreme_ok(d, DDS_NEG, false, d->min))
			return false;
	} else if (d->zero > 0) {
		if (d->min != 0.0)
			return false;
	} else if (!(d->min > 0.0) || !dds_extreme_ok(d, DDS_POS, true, d->min)) {
		return false;
	}
	/* The maximum, symmetrically. */
	if (pos->total > 0) {
		if (!(d->max > 0.0) || !dds_extreme_ok(d, DDS_POS, false, d->max))
			return false;
	} else if (d->zero > 0) {
		if (d->max != 0.0)
			return false;
	} else if (!(d->max < 0.0) || !dds_extreme_ok(d, DDS_NEG, true, d->max)) {
		return false;
	}
	return true;
}

int
sl_dds_deserialize(void *mem, size_t mem_size, const uint8_t *buf, size_t len,
		   struct sl_dds **ret_d)
{
	size_t body = crc_body(buf, len), need;
	struct rbuf r = { buf, buf + body, false };
	uint8_t version, kind, flags, reserved;
	struct sl_dds *d;
	uint32_t cap;
	double alpha;

	if (body < DDS_SER_HDR)
		return -EINVAL;
	version = get_u8(&r);
	kind = get_u8(&r);
	flags = get_u8(&r);
	reserved = get_u8(&r);
	cap = get_u32(&r);
	alpha = get_f64(&r);
	need = sl_dds_memsize(cap);
	if (version != SL_SKETCH_SER_VERSION || kind != SL_SKETCH_KIND_DDS || (flags & ~3u) ||
	    reserved != 0 || need == 0 || !dds_alpha_ok(alpha))
		return -EINVAL;
	if (mem_size < need)
		return -ENOSPC;
	d = sl_dds_init(mem, alpha, cap);
	assert(d != NULL);
	d->flags = flags;
	d->min = get_f64(&r);
	d->max = get_f64(&r);
	d->count = get_varint(&r);
	d->zero = get_varint(&r);
	if (r.bad || !dds_read_store(d, DDS_NEG, &r) || !dds_read_store(d, DDS_POS, &r) ||
	    r.p != r.end || !dds_valid(d))
		return -EINVAL;
	*ret_d = d;
	return 0;
}

/* ---- Space-Saving top-k ---- */

#define TOPK_SEED 0x70bcafe5eedULL
#define TOPK_SER_HDR 12 /* version, kind, reserved, m, n */

struct topk_counter {
	uint64_t hash;
	uint64_t count;
	uint64_t err;
	uint32_t heap; /* position in the heap */
	uint8_t len;
	uint8_t pad[3];
	uint8_t item[SL_TOPK_ITEM_MAX];
};

_Static_assert(sizeof(struct topk_counter) == 96, "topk counter layout");

/*
 * Layout after the header: counters[m], heap[m] (u32 counter indices; a
 * binary min-heap whose root is the counter ranked last, i.e. the one to
 * evict), slots[slot_mask + 1] (u32 counter index + 1, 0 = empty; open
 * addressing on the item hash, linear probing) and scratch[m] (u32, for merge
 * and serialize only; not part of the state).
 */
struct sl_topk {
	uint32_t m;
	uint32_t n;
	uint32_t slot_mask;
	uint32_t pad;
	uint64_t total;
	uint64_t floor;
	uint64_t mem[];
};

static uint32_t
topk_nslots(uint32_t m)
{
	uint32_t s = 2;

	while (s < 2 * m)
		s <<= 1;
	return s;
}

static struct topk_counter *
tk_ctr(struct sl_topk *t)
{
	return (struct topk_counter *)t->mem;
}

static const struct topk_counter *
tk_cctr(const struct sl_topk *t)
{
	return (const struct topk_counter *)t->mem;
}

static uint32_t *
tk_heap(struct sl_topk *t)
{
	return (uint32_t *)(tk_ctr(t) + t->m);
}

static uint32_t *
tk_slots(struct sl_topk *t)
{
	return tk_heap(t) + t->m;
}

static const uint32_t *
tk_cslots(const struct sl_topk *t)
{
	return (const uint32_t *)(tk_cctr(t) + t->m) + t->m;
}

static uint32_t *
tk_scratch(struct sl_topk *t)
{
	return tk_slots(t) + t->slot_mask + 1;
}

/*
 * Report order: higher count first, then lower hash, shorter item, bytewise
 * smaller. A strict total order on distinct items, so eviction, merge and
 * serialization never depend on where a counter happens to sit in memory.
 * @return < 0 when (@p ca, @p a) ranks before (@p cb, @p b).
 */
static int
rank_cmp(uint64_t ca, const struct topk_counter *a, uint64_t cb, const struct topk_counter *b)
{
	if (ca != cb)
		return ca > cb ? -1 : 1;
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->item, b->item, a->len);
}

static bool
ranks_after(const struct topk_counter *c, uint32_t i, uint32_t j)
{
	return rank_cmp(c[i].count, &c[i], c[j].count, &c[j]) > 0;
}

static void
heap_set(struct sl_topk *t, uint32_t pos, uint32_t idx)
{
	tk_heap(t)[pos] = idx;
	tk_ctr(t)[idx].heap = pos;
}

static void
heap_up(struct sl_topk *t, uint32_t pos)
{
	const struct topk_counter *c = tk_ctr(t);
	uint32_t *h = tk_heap(t), idx = h[pos];

	while (pos > 0 && ranks_after(c, idx, h[(pos - 1) / 2])) {
		heap_set(t, pos, h[(pos - 1) / 2]);
		pos = (pos - 1) / 2;
	}
	heap_set(t, pos, idx);
}

static void
heap_down(struct sl_topk *t, uint32_t pos)
{
	const struct topk_counter *c = tk_ctr(t);
	uint32_t *h = tk_heap(t), idx = h[pos];

	for (;;) {
		uint32_t child = 2 * pos + 1;

		if (child >= t->n)
			break;
		if (child + 1 < t->n && ranks_after(c, h[child + 1], h[child]))
			child++;
		if (!ranks_after(c, h[child], idx))
			break;
		heap_set(t, pos, h[child]);
		pos = child;
	}
	heap_set(t, pos, idx);
}

/*
 * Sift down in a plain index heap (no position tracking) whose root is the
 * index ranked last among counters @p c: for merge candidates and sorting.
 */
static void
idx_sift_down(uint32_t *a, uint32_t n, uint32_t pos, const struct topk_counter *c)
{
	uint32_t idx = a[pos];

	for (;;) {
		uint32_t child = 2 * pos + 1;

		if (child >= n)
			break;
		if (child + 1 < n && ranks_after(c, a[child + 1], a[child]))
			child++;
		if (!ranks_after(c, a[child], idx))
			break;
		a[pos] = a[child];
		pos = child;
	}
	a[pos] = idx;
}

/*
 * Find an item. @return its counter index + 1, or 0 with *ret_slot set to the
 * empty slot where it would go.
 */
static uint32_t
slot_find(const struct sl_topk *t, uint64_t hash, const void *item, uint32_t len,
	  uint32_t *ret_slot)
{
	const struct topk_counter *c = tk_cctr(t);
	const uint32_t *slots = tk_cslots(t);
	uint32_t i = (uint32_t)hash & t->slot_mask;

	for (;; i = (i + 1) & t->slot_mask) {
		const struct topk_counter *x;

		if (slots[i] == 0) {
			*ret_slot = i;
			return 0;
		}
		x = &c[slots[i] - 1];
		if (x->hash == hash && x->len == len && memcmp(x->item, item, len) == 0)
			return slots[i];
	}
}

/* Remove the entry of counter @p idx, shifting later entries back (no tombstones). */
static void
slot_delete(struct sl_topk *t, uint32_t idx)
{
	const struct topk_counter *c = tk_ctr(t);
	uint32_t *slots = tk_slots(t), mask = t->slot_mask;
	uint32_t i = (uint32_t)c[idx].hash & mask, j;

	while (slots[i] != idx + 1)
		i = (i + 1) & mask;
	for (j = i;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (slots[j] == 0)
			break;
		home = (uint32_t)c[slots[j] - 1].hash & mask;
		/* The entry may fill the hole unless its home lies cyclically in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			slots[i] = slots[j];
			i = j;
		}
	}
	slots[i] = 0;
}

static void
counter_fill(struct topk_counter *c, uint64_t hash, const void *item, uint32_t len,
	     uint64_t count, uint64_t err)
{
	c->hash = hash;
	c->count = count;
	c->err = err;
	c->len = (uint8_t)len;
	memcpy(c->item, item, len);
	memset(c->item + len, 0, SL_TOPK_ITEM_MAX - len);
}

/* Put an item that is not monitored into counter @p idx (free, or just evicted). */
static void
counter_place(struct sl_topk *t, uint32_t idx, uint64_t hash, const void *item, uint32_t len,
	      uint64_t count, uint64_t err)
{
	uint32_t slot, found;

	counter_fill(&tk_ctr(t)[idx], hash, item, len, count, err);
	found = slot_find(t, hash, item, len, &slot);
	assert(found == 0);
	(void)found;
	tk_slots(t)[slot] = idx + 1;
}

/* Add a new counter while n < m. */
static void
topk_push(struct sl_topk *t, uint64_t hash, const void *item, uint32_t len, uint64_t count,
	  uint64_t err)
{
	uint32_t idx = t->n++;

	counter_place(t, idx, hash, item, len, count, err);
	heap_set(t, idx, idx);
	heap_up(t, idx);
}

/* Replace the counter ranked last (the heap root) with a new item. */
static void
topk_replace_root(struct sl_topk *t, uint64_t hash, const void *item, uint32_t len,
		  uint64_t count, uint64_t err)
{
	uint32_t idx = tk_heap(t)[0];

	slot_delete(t, idx);
	counter_place(t, idx, hash, item, len, count, err);
	heap_down(t, 0);
}

uint32_t
sl_topk_default_capacity(uint32_t k)
{
	uint64_t m = (uint64_t)k * SL_TOPK_M_PER_K;

	if (m < 16)
		m = 16;
	return m > SL_TOPK_CAPACITY_MAX ? SL_TOPK_CAPACITY_MAX : (uint32_t)m;
}

size_t
sl_topk_memsize(uint32_t m)
{
	size_t size;

	if (m == 0 || m > SL_TOPK_CAPACITY_MAX)
		return 0;
	size = sizeof(struct sl_topk) + (size_t)m * sizeof(struct topk_counter) +
	       ((size_t)m * 2 + topk_nslots(m)) * sizeof(uint32_t);
	return (size + 7) & ~(size_t)7;
}

struct sl_topk *
sl_topk_init(void *mem, uint32_t m)
{
	struct sl_topk *t = mem;
	size_t size = sl_topk_memsize(m);

	if (size == 0) {
		errno = EINVAL;
		return NULL;
	}
	assert(((uintptr_t)mem & 7) == 0);
	memset(t, 0, size);
	t->m = m;
	t->slot_mask = topk_nslots(m) - 1;
	return t;
}

void
sl_topk_reset(struct sl_topk *t)
{
	memset(tk_slots(t), 0, ((size_t)t->slot_mask + 1) * sizeof(uint32_t));
	t->n = 0;
	t->total = 0;
	t->floor = 0;
}

int
sl_topk_update(struct sl_topk *t, const void *item, uint32_t len, uint64_t weight)
{
	struct topk_counter *c = tk_ctr(t);
	uint32_t found, slot;
	uint64_t hash, cmin;

	if (len > SL_TOPK_ITEM_MAX || weight == 0)
		return -EINVAL;
	if (weight > SL_TOPK_TOTAL_MAX - t->total)
		return -EOVERFLOW;
	if (len == 0)
		item = "";
	hash = sl_hash64(item, len, TOPK_SEED);
	found = slot_find(t, hash, item, len, &slot);
	if (found != 0) {
		c[found - 1].count += weight;
		heap_down(t, c[found - 1].heap);
	} else if (t->n < t->m) {
		/* Any unmonitored item may already have been seen up to floor times. */
		topk_push(t, hash, item, len, t->floor + weight, t->floor);
	} else {
		/* Space-Saving: the new item takes over the smallest counter. */
		cmin = c[tk_heap(t)[0]].count;
		t->floor = cmin;
		topk_replace_root(t, hash, item, len, cmin + weight, cmin);
	}
	t->total += weight;
	return 0;
}

int
sl_topk_merge(struct sl_topk *dst, const struct sl_topk *src)
{
	const struct topk_counter *sc = tk_cctr(src);
	struct topk_counter *dc = tk_ctr(dst);
	uint64_t fa = dst->floor, fb = src->floor, dropped = 0;
	uint32_t *cand = tk_scratch(dst), n_cand = 0, slot;

	if (src == dst || src->m < dst->m)
		return -EINVAL;
	if (src->total > SL_TOPK_TOTAL_MAX - dst->total)
		return -EOVERFLOW;

	/*
	 * 1. Items only in src, before dst changes: each would count fa + its src
	 *    count. Only the best dst->m of them can survive; keep those in a
	 *    candidate heap (root = worst), remembering the largest count dropped.
	 *    fa is common to all candidates, so src's own order ranks them.
	 */
	for (uint32_t j = 0; j < src->n; j++) {
		if (slot_find(dst, sc[j].hash, sc[j].item, sc[j].len, &slot) != 0)
			continue;
		if (n_cand < dst->m) {
			uint32_t pos = n_cand++;

			/* Sift up. */
			while (pos > 0 && ranks_after(sc, j, cand[(pos - 1) / 2])) {
				cand[pos] = cand[(pos - 1) / 2];
				pos = (pos - 1) / 2;
			}
			cand[pos] = j;
		} else if (ranks_after(sc, cand[0], j)) {
			if (fa + sc[cand[0]].count > dropped)
				dropped = fa + sc[cand[0]].count;
			cand[0] = j;
			idx_sift_down(cand, n_cand, 0, sc);
		} else if (fa + sc[j].count > dropped) {
			dropped = fa + sc[j].count;
		}
	}

	/* 2. dst's items: add their src counts, or src's floor when src lacks them. */
	for (uint32_t i = 0; i < dst->n; i++) {
		uint32_t found = slot_find(src, dc[i].hash, dc[i].item, dc[i].len, &slot);

		dc[i].count += found ? sc[found - 1].count : fb;
		dc[i].err += found ? sc[found - 1].err : fb;
	}
	for (uint32_t pos = dst->n / 2; pos-- > 0;)
		heap_down(dst, pos);

	/* 3. Candidates compete for the m counters; losers raise the floor. */
	for (uint32_t x = 0; x < n_cand; x++) {
		const struct topk_counter *z = &sc[cand[x]];
		uint64_t cz = fa + z->count;
		const struct topk_counter *root;

		if (dst->n < dst->m) {
			topk_push(dst, z->hash, z->item, z->len, cz, fa + z->err);
			continue;
		}
		root = &dc[tk_heap(dst)[0]];
		if (rank_cmp(cz, z, root->count, root) < 0) {
			if (root->count > dropped)
				dropped = root->count;
			topk_replace_root(dst, z->hash, z->item, z->len, cz, fa + z->err);
		} else if (cz > dropped) {
			dropped = cz;
		}
	}
	dst->floor = fa + fb > dropped ? fa + fb : dropped;
	dst->total += src->total;
	return 0;
}

/* The counter that holds a reported entry's item. */
static const struct topk_counter *
entry_counter(const struct sl_topk_entry *e)
{
	return (const struct topk_counter *)(const void *)(e->item -
							   offsetof(struct topk_counter, item));
}

uint32_t
sl_topk_query(const struct sl_topk *t, uint32_t k, struct sl_topk_entry *out)
{
	const struct topk_counter *c = tk_cctr(t);
	uint32_t got = 0;

	/* Insertion into the k best so far: O(n k), for small k. */
	for (uint32_t i = 0; i < t->n && k > 0; i++) {
		uint32_t pos;

		if (got < k)
			pos = got++;
		else if (rank_cmp(c[i].count, &c[i], out[k - 1].count, entry_counter(&out[k - 1])) < 0)
			pos = k - 1;
		else
			continue;
		while (pos > 0 && rank_cmp(c[i].count, &c[i], out[pos - 1].count,
					   entry_counter(&out[pos - 1])) < 0) {
			out[pos] = out[pos - 1];
			pos--;
		}
		out[pos] = (struct sl_topk_entry){ c[i].item, c[i].len, c[i].count, c[i].err };
	}
	return got;
}

uint64_t
sl_topk_total(const struct sl_topk *t)
{
	return t->total;
}

uint64_t
sl_topk_floor(const struct sl_topk *t)
{
	return t->floor;
}

uint32_t
sl_topk_capacity(const struct sl_topk *t)
{
	return t->m;
}

uint32_t
sl_topk_size(const struct sl_topk *t)
{
	return t->n;
}

size_t
sl_topk_serialized_max(uint32_t m)
{
	return TOPK_SER_HDR + 2 * 10 + (size_t)m * (10 + 10 + 1 + SL_TOPK_ITEM_MAX) + 4;
}

size_t
sl_topk_serialized_size(const struct sl_topk *t)
{
	const struct topk_counter *c = tk_cctr(t);
	size_t n = TOPK_SER_HDR + varint_len(t->total) + varint_len(t->floor) + 4;

	for (uint32_t i = 0; i < t->n; i++)
		n += varint_len(c[i].count) + varint_len(c[i].err) + 1 + c[i].len;
	return n;
}

size_t
sl_topk_serialize(struct sl_topk *t, uint8_t *out, size_t cap)
{
	const struct topk_counter *c = tk_ctr(t);
	size_t size = sl_topk_serialized_size(t);
	uint32_t *order = tk_scratch(t);
	uint8_t *p = out;

	if (cap < size)
		return 0;
	/* Heapsort the indices into report order (the root, ranked last, goes to the end). */
	for (uint32_t i = 0; i < t->n; i++)
		order[i] = i;
	for (uint32_t pos = t->n / 2; pos-- > 0;)
		idx_sift_down(order, t->n, pos, c);
	for (uint32_t end = t->n; end > 1; end--) {
		uint32_t last = order[0];

		order[0] = order[end - 1];
		order[end - 1] = last;
		idx_sift_down(order, end - 1, 0, c);
	}

	*p++ = SL_SKETCH_SER_VERSION;
	*p++ = SL_SKETCH_KIND_TOPK;
	*p++ = 0;
	*p++ = 0;
	p = put_u32(p, t->m);
	p = put_u32(p, t->n);
	p = put_varint(p, t->total);
	p = put_varint(p, t->floor);
	for (uint32_t i = 0; i < t->n; i++) {
		const struct topk_counter *x = &c[order[i]];

		p = put_varint(p, x->count);
		p = put_varint(p, x->err);
		*p++ = x->len;
		memcpy(p, x->item, x->len);
		p += x->len;
	}
	p = put_u32(p, sl_sketch_crc32c(out, (size_t)(p - out)));
	assert((size_t)(p - out) == size);
	return size;
}

size_t
sl_topk_serialized_memsize(const uint8_t *buf, size_t len)
{
	uint32_t m = 0;

	if (len < TOPK_SER_HDR || buf[0] != SL_SKETCH_SER_VERSION || buf[1] != SL_SKETCH_KIND_TOPK)
		return 0;
	for (int i = 0; i < 4; i++)
		m |= (uint32_t)buf[4 + i] << (8 * i);
	return sl_topk_memsize(m);
}

/*
 * Read the counters of a summary whose header is set, checking every invariant
 * that update and merge keep (docs/sketches.md):
 *   floor <= count, err <= floor, err < count, and report order;
 *   sum(count - floor) <= total - m floor (hence floor <= total / m).
 * The last one also bounds sum(count - err), the sum of lower bounds of true
 * counts, by total, since err <= floor and n <= m.
 */
static bool
topk_read_counters(struct sl_topk *t, uint32_t n, struct rbuf *r)
{
	struct topk_counter *c = tk_ctr(t);
	uint64_t slack, sum_delta = 0;

	if (t->floor > t->total / t->m)
		return false;
	slack = t->total - t->m * t->floor;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t count = get_varint(r), err = get_varint(r);
		uint32_t len = get_u8(r), slot;
		uint8_t item[SL_TOPK_ITEM_MAX];

		if (r->bad || len > SL_TOPK_ITEM_MAX || (size_t)(r->end - r->p) < len)
			return false;
		memcpy(item, r->p, len);
		r->p += len;
		if (count < t->floor || err > t->floor || err >= count ||
		    count - t->floor > slack - sum_delta)
			return false;
		sum_delta += count - t->floor;
		counter_fill(&c[i], sl_hash64(item, len, TOPK_SEED), item, len, count, err);
		if (i > 0 && rank_cmp(c[i - 1].count, &c[i - 1], count, &c[i]) >= 0)
			return false;
		if (slot_find(t, c[i].hash, item, len, &slot) != 0)
			return false; /* the same item twice */
		tk_slots(t)[slot] = i + 1;
		heap_set(t, i, i);
		t->n = i + 1;
	}
	/* Report order is worst-last, so reversing it would be a heap; just heapify. */
	for (uint32_t pos = t->n / 2; pos-- > 0;)
		heap_down(t, pos);
	return true;
}

int
sl_topk_deserialize(void *mem, size_t mem_size, const uint8_t *buf, size_t len,
		    struct sl_topk **ret_t)
{
	size_t body = crc_body(buf, len), need;
	struct rbuf r = { buf, buf + body, false };
	uint8_t version, kind, res0, res1;
	struct sl_topk *t;
	uint32_t m, n;

	if (body < TOPK_SER_HDR)
		return -EINVAL;
	version = get_u8(&r);
	kind = get_u8(&r);
	res0 = get_u8(&r);
	res1 = get_u8(&r);
	m = get_u32(&r);
	n = get_u32(&r);
	need = sl_topk_memsize(m);
	if (version != SL_SKETCH_SER_VERSION || kind != SL_SKETCH_KIND_TOPK || res0 != 0 ||
	    res1 != 0 || need == 0 || n > m)
		return -EINVAL;
	if (mem_size < need)
		return -ENOSPC;
	t = sl_topk_init(mem, m);
	assert(t != NULL);
	t->total = get_varint(&r);
	t->floor = get_varint(&r);
	if (r.bad || t->total > SL_TOPK_TOTAL_MAX || !topk_read_counters(t, n, &r) || r.p != r.end)
		return -EINVAL;
	*ret_t = t;
	return 0;
}
