/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Aggregation tables and states. See agg.h for the ownership model. Nothing in
 * the update path allocates, locks or calls into the kernel: the table is a
 * block of memory laid out once by sl_agg_table_init().
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"

#define GOLDEN 0x9E3779B97F4A7C15ULL
#define MEMBER_SEED 0x5a17ce5eedULL

struct sl_agg_group {
	uint64_t hash;
	uint32_t key_off;
	uint16_t key_len;
	uint8_t type;
	uint8_t pad;
	uint32_t aux_off;  /* walk cursors: offset and fill of this set's members */
	uint32_t aux_fill;
	struct sl_agg_state st;
};

struct sl_agg_pair {
	uint64_t member; /* member hash */
	uint32_t group;  /* group index + 1; 0 = empty slot */
	uint32_t pad;
};

struct sl_agg_table {
	struct sl_agg_limits lim;
	uint64_t start_ns;
	uint64_t end_ns;
	uint32_t core;
	uint32_t n_groups;
	uint32_t group_mask; /* slots - 1; slots = pow2 >= 2 * max_groups */
	uint32_t key_used;
	uint32_t n_pairs;
	uint32_t pair_mask;
	uint32_t *slots;     /* group index + 1, 0 = empty */
	struct sl_agg_group *groups;
	uint8_t *keys;
	struct sl_agg_pair *pairs;
};

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

static uint32_t
pow2_at_least(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return (uint32_t)p;
}

static int
limits_ok(const struct sl_agg_limits *lim)
{
	return lim->max_groups >= 1 && lim->max_groups <= (1u << 26) &&
	       lim->max_set_members <= (1u << 28) && lim->key_bytes >= SL_KEY_MAX &&
	       lim->key_bytes <= (1u << 31);
}

size_t
sl_agg_table_memsize(const struct sl_agg_limits *lim)
{
	size_t sz;

	if (!limits_ok(lim))
		return 0;
	sz = ALIGN64(sizeof(struct sl_agg_table));
	sz += ALIGN64((size_t)pow2_at_least(2ull * lim->max_groups) * sizeof(uint32_t));
	sz += ALIGN64((size_t)lim->max_groups * sizeof(struct sl_agg_group));
	sz += ALIGN64(lim->key_bytes);
	sz += ALIGN64((size_t)pow2_at_least(2ull * lim->max_set_members + 2) *
		      sizeof(struct sl_agg_pair));
	return sz;
}

struct sl_agg_table *
sl_agg_table_init(void *mem, const struct sl_agg_limits *lim)
{
	struct sl_agg_table *t = mem;
	uint8_t *p = mem;

	if (mem == NULL || !limits_ok(lim)) {
		errno = EINVAL;
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->lim = *lim;
	t->group_mask = pow2_at_least(2ull * lim->max_groups) - 1;
	t->pair_mask = pow2_at_least(2ull * lim->max_set_members + 2) - 1;
	p += ALIGN64(sizeof(*t));
	t->slots = (uint32_t *)p;
	p += ALIGN64((size_t)(t->group_mask + 1) * sizeof(uint32_t));
	t->groups = (struct sl_agg_group *)p;
	p += ALIGN64((size_t)lim->max_groups * sizeof(struct sl_agg_group));
	t->keys = p;
	p += ALIGN64(lim->key_bytes);
	t->pairs = (struct sl_agg_pair *)p;
	/* reset() clears the pairs only when some are in use (n_pairs > 0), and
	 * n_pairs is 0 here: clear them once, the memory may hold anything. */
	memset(t->pairs, 0, (size_t)(t->pair_mask + 1) * sizeof(struct sl_agg_pair));
	sl_agg_table_reset(t);
	return t;
}

void
sl_agg_table_reset(struct sl_agg_table *t)
{
	memset(t->slots, 0, (size_t)(t->group_mask + 1) * sizeof(uint32_t));
	if (t->n_pairs > 0)
		memset(t->pairs, 0, (size_t)(t->pair_mask + 1) * sizeof(struct sl_agg_pair));
	t->n_groups = 0;
	t->key_used = 0;
	t->n_pairs = 0;
	t->start_ns = 0;
	t->end_ns = 0;
}

void
sl_agg_table_set_window(struct sl_agg_table *t, uint64_t start_ns, uint64_t end_ns, uint32_t core)
{
	t->start_ns = start_ns;
	t->end_ns = end_ns;
	t->core = core;
}

void
sl_agg_table_get_window(const struct sl_agg_table *t, uint64_t *start_ns, uint64_t *end_ns,
			uint32_t *core)
{
	*start_ns = t->start_ns;
	*end_ns = t->end_ns;
	*core = t->core;
}

uint32_t
sl_agg_table_count(const struct sl_agg_table *t)
{
	return t->n_groups;
}

uint32_t
sl_agg_table_members(const struct sl_agg_table *t)
{
	return t->n_pairs;
}

/* ---- hashing ---- */

static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	return x;
}

/* 64x64 -> 128-bit multiply, folded: one multiply mixes 16 bytes. */
static inline uint64_t
mum64(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t
sl_hash64(const void *p, uint32_t len, uint64_t seed)
{
	static const uint64_t k1 = 0xa0761d6478bd642fULL, k2 = 0xe7037ed1a0b428dbULL;
	const uint8_t *b = p;
	uint64_t h = seed ^ ((uint64_t)len * GOLDEN);
	uint64_t x, y;

	while (len > 16) {
		memcpy(&x, b, 8);
		memcpy(&y, b + 8, 8);
		h = mum64(x ^ k1, y ^ h);
		b += 16;
		len -= 16;
	}
	x = y = 0;
	if (len > 8) {
		memcpy(&x, b, 8);
		memcpy(&y, b + 8, len - 8);
	} else {
		memcpy(&x, b, len);
	}
	h = mum64(x ^ k1 ^ len, y ^ k2 ^ h);
	return mix64(h);
}

/* ---- keys ---- */

static int
span_cmp(const struct sl_span *a, const struct sl_span *b)
{
	uint32_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->p, b->p, n);

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

uint32_t
sl_agg_key_build(const struct sl_statsd_event *ev, uint8_t *out)
{
	const struct sl_span *order[SL_TAGS_MAX];
	uint32_t len, n = ev->n_tags;

	if (ev->name.len > 255 || n > SL_TAGS_MAX)
		return 0;
	len = 3 + ev->name.len;
	for (uint32_t i = 0; i < n; i++) {
		if (ev->tags[i].len > 255)
			return 0;
		len += 1 + ev->tags[i].len;
	}
	if (len > SL_KEY_MAX)
		return 0;

	/* Insertion sort: at most SL_TAGS_MAX tags, usually 1 to 3. */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i;

		while (j > 0 && span_cmp(order[j - 1], &ev->tags[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = &ev->tags[i];
	}

	len = 0;
	out[len++] = ev->type;
	out[len++] = (uint8_t)ev->name.len;
	memcpy(out + len, ev->name.p, ev->name.len);
	len += ev->name.len;
	out[len++] = (uint8_t)n;
	for (uint32_t i = 0; i < n; i++) {
		out[len++] = (uint8_t)order[i]->len;
		memcpy(out + len, order[i]->p, order[i]->len);
		len += order[i]->len;
	}
	return len;
}

int
sl_agg_key_decode(const uint8_t *key, uint32_t len, struct sl_agg_key *out)
{
	uint32_t off = 0;

	if (len < 3 || key[0] >= SL_METRIC__MAX)
		return -EINVAL;
	out->type = key[0];
	out->name.len = key[1];
	off = 2;
	if (off + out->name.len + 1 > len)
		return -EINVAL;
	out->name.p = key + off;
	off += out->name.len;
	out->n_tags = key[off++];
	if (out->n_tags > SL_TAGS_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < out->n_tags; i++) {
		if (off >= len)
			return -EINVAL;
		out->tags[i].len = key[off++];
		if (off + out->tags[i].len > len)
			return -EINVAL;
		out->tags[i].p = key + off;
		off += out->tags[i].len;
	}
	return off == len ? 0 : -EINVAL;
}

/* ---- states ---- */

void
sl_agg_state_init(struct sl_agg_state *st)
{
	memset(st, 0, sizeof(*st));
	st->min = INFINITY;
	st->max = -INFINITY;
}

void
sl_agg_state_merge(struct sl_agg_state *dst, const struct sl_agg_state *src)
{
	if (src->count == 0)
		return;
	/* Latest wins. On a tie (two cores, same arrival time) the larger value
	 * wins, so that the result does not depend on the merge order. */
	if (dst->count == 0 || src->last_ns > dst->last_ns ||
	    (src->last_ns == dst->last_ns && src->last > dst->last)) {
		dst->last = src->last;
		dst->last_ns = src->last_ns;
	}
	dst->count += src->count;
	sl_sum_add(&dst->sum_fixed, &dst->sum_float, src->sum_fixed);
	dst->sum_float += src->sum_float;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

double
sl_agg_state_sum(const struct sl_agg_state *st)
{
	return (double)st->sum_fixed / 1e6 + st->sum_float;
}

int
sl_agg_state_sum_format(const struct sl_agg_state *st, char *buf, size_t cap)
{
	unsigned __int128 mag, ip;
	char digits[48];
	unsigned int frac;
	int nd = 0, n;

	if (st->sum_float != 0)
		return snprintf(buf, cap, "%.17g", sl_agg_state_sum(st));

	mag = st->sum_fixed < 0 ? (unsigned __int128)(-st->sum_fixed)
				: (unsigned __int128)st->sum_fixed;
	ip = mag / 1000000;
	frac = (unsigned int)(mag % 1000000);
	do {
		digits[nd++] = (char)('0' + (int)(ip % 10));
		ip /= 10;
	} while (ip > 0);
	n = 0;
	if (st->sum_fixed < 0 && (size_t)n + 1 < cap)
		buf[n++] = '-';
	while (nd > 0 && (size_t)n + 1 < cap)
		buf[n++] = digits[--nd];
	if (frac != 0 && (size_t)n + 8 < cap) {
		int w = 6;

		while (frac % 10 == 0) {
			frac /= 10;
			w--;
		}
		n += snprintf(buf + n, cap - n, ".%0*u", w, frac);
	}
	if (cap > 0)
		buf[(size_t)n < cap ? (size_t)n : cap - 1] = '\0';
	return n;
}

/* The exact micro-unit increment of value/rate, when there is one. */
static inline int
exact_increment(const struct sl_statsd_event *ev, __int128 *ret)
{
	int64_t inv;

	if (!ev->value_exact)
		return 0;
	if (ev->rate_micro == 1000000) {
		*ret = ev->value_micro;
		return 1;
	}
	if (!ev->rate_exact || ev->rate_micro <= 0 || 1000000 % ev->rate_micro != 0)
		return 0;
	inv = 1000000 / ev->rate_micro;
	*ret = (__int128)ev->value_micro * inv;
	return 1;
}

static inline void
state_update(struct sl_agg_state *st, const struct sl_statsd_event *ev, uint64_t now_ns)
{
	__int128 inc;

	st->count++;
	switch (ev->type) {
	case SL_METRIC_COUNTER:
		if (exact_increment(ev, &inc))
			sl_sum_add(&st->sum_fixed, &st->sum_float, inc);
		else
			st->sum_float += ev->value / ev->rate;
		break;
	case SL_METRIC_GAUGE:
		if (now_ns >= st->last_ns) {
			st->last = ev->value;
			st->last_ns = now_ns;
		}
		if (ev->value < st->min)
			st->min = ev->value;
		if (ev->value > st->max)
			st->max = ev->value;
		break;
	case SL_METRIC_TIMER:
	case SL_METRIC_HISTOGRAM:
	case SL_METRIC_DISTRIBUTION:
		if (ev->value_exact)
			sl_sum_add(&st->sum_fixed, &st->sum_float, ev->value_micro);
		else
			st->sum_float += ev->value;
		if (ev->value < st->min)
			st->min = ev->value;
		if (ev->value > st->max)
			st->max = ev->value;
		break;
	default:
		break;
	}
}

/* Look up (group, member); insert when absent. 1 = new, 0 = seen, -1 = full. */
static inline int
pair_insert(struct sl_agg_table *t, uint32_t group, uint64_t member)
{
	uint32_t i = (uint32_t)mix64(member ^ ((uint64_t)group * GOLDEN)) & t->pair_mask;

	for (;;) {
		struct sl_agg_pair *p = &t->pairs[i];

		if (p->group == 0) {
			if (t->n_pairs >= t->lim.max_set_members)
				return -1;
			p->group = group + 1;
			p->member = member;
			t->n_pairs++;
			return 1;
		}
		if (p->group == group + 1 && p->member == member)
			return 0;
		i = (i + 1) & t->pair_mask;
	}
}

unsigned int
sl_agg_table_prepare(const struct sl_agg_table *t, const struct sl_statsd_event *ev,
		     struct sl_agg_prep *p)
{
	p->key_len = sl_agg_key_build(ev, p->key);
	if (p->key_len == 0)
		return SL_DROP_KEY_TOO_LONG;
	p->hash = sl_hash64(p->key, p->key_len, 0);
	__builtin_prefetch(&t->slots[(uint32_t)p->hash & t->group_mask]);
	return SL_DROP__MAX;
}

void
sl_agg_table_prefetch_group(const struct sl_agg_table *t, const struct sl_agg_prep *p)
{
	uint32_t s = t->slots[(uint32_t)p->hash & t->group_mask];

	if (s != 0)
		__builtin_prefetch(&t->groups[s - 1]);
}

unsigned int
sl_agg_table_update(struct sl_agg_table *t, const struct sl_statsd_event *ev, uint64_t now_ns)
{
	struct sl_agg_prep p;
	unsigned int rc = sl_agg_table_prepare(t, ev, &p);

	if (rc != SL_DROP__MAX)
		return rc;
	return sl_agg_table_update_prepared(t, ev, &p, now_ns);
}

unsigned int
sl_agg_table_update_prepared(struct sl_agg_table *t, const struct sl_statsd_event *ev,
			     const struct sl_agg_prep *p, uint64_t now_ns)
{
	const uint8_t *key = p->key;
	struct sl_agg_group *g;
	uint32_t len = p->key_len, i, gi;
	uint64_t h = p->hash;

	for (i = (uint32_t)h & t->group_mask;; i = (i + 1) & t->group_mask) {
		uint32_t s = t->slots[i];

		if (s == 0)
			break;
		g = &t->groups[s - 1];
		if (g->hash == h && g->key_len == len && memcmp(t->keys + g->key_off, key, len) == 0)
			goto found;
	}

	/* New group: check every limit before taking anything. */
	if (t->n_groups >= t->lim.max_groups || t->key_used + len > t->lim.key_bytes)
		return SL_DROP_GROUP_LIMIT;
	if (ev->type == SL_METRIC_SET && t->n_pairs >= t->lim.max_set_members)
		return SL_DROP_SET_LIMIT;
	gi = t->n_groups++;
	g = &t->groups[gi];
	g->hash = h;
	g->key_off = t->key_used;
	g->key_len = (uint16_t)len;
	g->type = ev->type;
	sl_agg_state_init(&g->st);
	memcpy(t->keys + t->key_used, key, len);
	t->key_used += len;
	t->slots[i] = gi + 1;

found:
	if (ev->type == SL_METRIC_SET) {
		int rc = pair_insert(t, (uint32_t)(g - t->groups),
				     sl_hash64(ev->member.p, ev->member.len, MEMBER_SEED));

		if (rc < 0)
			return SL_DROP_SET_LIMIT;
		g->st.distinct += (uint64_t)rc;
		g->st.count++;
		return SL_DROP__MAX;
	}
	state_update(&g->st, ev, now_ns);
	return SL_DROP__MAX;
}

void
sl_agg_table_walk(struct sl_agg_table *t, uint64_t *scratch, uint32_t scratch_cap,
		  sl_agg_group_fn fn, void *arg)
{
	uint32_t off = 0;

	/* Counting sort of the pairs by group: offsets first, then one pass. */
	for (uint32_t gi = 0; gi < t->n_groups; gi++) {
		struct sl_agg_group *g = &t->groups[gi];

		g->aux_off = off;
		g->aux_fill = 0;
		if (g->type == SL_METRIC_SET)
			off += (uint32_t)g->st.distinct;
	}
	if (off <= scratch_cap && t->n_pairs > 0) {
		for (uint32_t i = 0; i <= t->pair_mask; i++) {
			const struct sl_agg_pair *p = &t->pairs[i];
			struct sl_agg_group *g;

			if (p->group == 0)
				continue;
			g = &t->groups[p->group - 1];
			scratch[g->aux_off + g->aux_fill++] = p->member;
		}
	}
	for (uint32_t gi = 0; gi < t->n_groups; gi++) {
		const struct sl_agg_group *g = &t->groups[gi];

		fn(t->keys + g->key_off, g->key_len, g->type, &g->st,
		   g->aux_fill ? scratch + g->aux_off : NULL, g->aux_fill, arg);
	}
}

/* ---- distinct sets ---- */

struct sl_agg_set {
	uint64_t *h;    /* exact: sorted unique member hashes */
	uint32_t n;
	uint32_t cap;
	uint8_t *regs;  /* HyperLogLog registers when not exact */
};

struct sl_agg_set *
sl_agg_set_create(void)
{
	return calloc(1, sizeof(struct sl_agg_set));
}

void
sl_agg_set_destroy(struct sl_agg_set *s)
{
	if (s == NULL)
		return;
	free(s->h);
	free(s->regs);
	free(s);
}

bool
sl_agg_set_is_exact(const struct sl_agg_set *s)
{
	return s->regs == NULL;
}

static inline void
hll_add(uint8_t *regs, uint64_t h)
{
	uint32_t idx = (uint32_t)(h >> (64 - SL_HLL_P));
	uint64_t w = (h << SL_HLL_P) | (1ULL << (SL_HLL_P - 1));
	uint8_t rho = (uint8_t)(__builtin_clzll(w) + 1);

	if (rho > regs[idx])
		regs[idx] = rho;
}

static int
to_hll(struct sl_agg_set *s)
{
	s->regs = calloc(SL_HLL_REGS, 1);
	if (s->regs == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->n; i++)
		hll_add(s->regs, s->h[i]);
	free(s->h);
	s->h = NULL;
	s->n = s->cap = 0;
	return 0;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int
sl_agg_set_add(struct sl_agg_set *s, const uint64_t *hashes, uint32_t n)
{
	uint32_t w;

	/* Nothing to add. Also keeps qsort() away from s->h == NULL (an empty
	 * exact set), which is undefined behaviour even with 0 elements. */
	if (n == 0)
		return 0;
	if (s->regs != NULL) {
		for (uint32_t i = 0; i < n; i++)
			hll_add(s->regs, hashes[i]);
		return 0;
	}
	if ((uint64_t)s->n + n > s->cap) {
		uint64_t cap = s->cap ? s->cap : 16;
		uint64_t *nh;

		while (cap < (uint64_t)s->n + n)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -ENOMEM;
		nh = realloc(s->h, cap * sizeof(*nh));
		if (nh == NULL)
			return -ENOMEM;
		s->h = nh;
		s->cap = (uint32_t)cap;
	}
	if (n > 0)
		memcpy(s->h + s->n, hashes, (size_t)n * sizeof(*hashes));
	s->n += n;
	qsort(s->h, s->n, sizeof(*s->h), u64_cmp);
	for (uint32_t i = w = 0; i < s->n; i++)
		if (w == 0 || s->h[w - 1] != s->h[i])
			s->h[w++] = s->h[i];
	s->n = w;
	if (s->n > SL_SET_EXACT_MAX)
		return to_hll(s);
	return 0;
}

int
sl_agg_set_merge(struct sl_agg_set *dst, const struct sl_agg_set *src)
{
	int rc;

	if (src->regs == NULL)
		return sl_agg_set_add(dst, src->h, src->n);
	if (dst->regs == NULL) {
		rc = to_hll(dst);
		if (rc < 0)
			return rc;
	}
	for (uint32_t i = 0; i < SL_HLL_REGS; i++)
		if (src->regs[i] > dst->regs[i])
			dst->regs[i] = src->regs[i];
	return 0;
}

uint64_t
sl_agg_set_count(const struct sl_agg_set *s)
{
	const double m = SL_HLL_REGS;
	const double alpha = 0.7213 / (1.0 + 1.079 / m);
	double sum = 0, est;
	uint32_t zeros = 0;

	if (s->regs == NULL)
		return s->n;
	for (uint32_t i = 0; i < SL_HLL_REGS; i++) {
		sum += ldexp(1.0, -(int)s->regs[i]);
		zeros += s->regs[i] == 0;
	}
	est = alpha * m * m / sum;
	if (est <= 2.5 * m && zeros > 0)
		est = m * log(m / zeros); /* linear counting for the small range */
	return (uint64_t)llround(est);
}

/* ---- serialization ---- */

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void
put_f64(uint8_t *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_u64(p, v);
}

static double
get_f64(const uint8_t *p)
{
	uint64_t v = get_u64(p);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

size_t
sl_agg_state_serialized_size(const struct sl_agg_set *set)
{
	if (set == NULL)
		return SL_AGG_SER_HDR;
	if (set->regs != NULL)
		return SL_AGG_SER_HDR + SL_HLL_REGS;
	return SL_AGG_SER_HDR + (size_t)set->n * 8;
}

size_t
sl_agg_state_serialize(uint8_t type, const struct sl_agg_state *st, const struct sl_agg_set *set,
		       uint8_t *out)
{
	unsigned __int128 sf = (unsigned __int128)st->sum_fixed;
	uint32_t n = 0;
	uint8_t kind = 0;
	size_t off;

	if (set != NULL) {
		kind = set->regs != NULL ? 2 : 1;
		n = set->regs != NULL ? SL_HLL_REGS : set->n;
	}
	out[0] = SL_AGG_SER_VERSION;
	out[1] = type;
	out[2] = kind;
	out[3] = 0;
	for (int i = 0; i < 4; i++)
		out[4 + i] = (uint8_t)(n >> (8 * i));
	put_u64(out + 8, st->count);
	put_u64(out + 16, (uint64_t)sf);
	put_u64(out + 24, (uint64_t)(sf >> 64));
	put_f64(out + 32, st->sum_float);
	put_f64(out + 40, st->min);
	put_f64(out + 48, st->max);
	put_f64(out + 56, st->last);
	put_u64(out + 64, st->last_ns);
	off = SL_AGG_SER_HDR;
	if (kind == 1) {
		for (uint32_t i = 0; i < n; i++, off += 8)
			put_u64(out + off, set->h[i]);
	} else if (kind == 2) {
		memcpy(out + off, set->regs, SL_HLL_REGS);
		off += SL_HLL_REGS;
	}
	return off;
}

int
sl_agg_state_deserialize(const uint8_t *buf, size_t len, uint8_t *ret_type,
			 struct sl_agg_state *st, struct sl_agg_set **ret_set)
{
	struct sl_agg_set *set = NULL;
	unsigned __int128 sf;
	uint32_t n = 0;
	uint8_t kind;

	if (len < SL_AGG_SER_HDR || buf[0] != SL_AGG_SER_VERSION || buf[1] >= SL_METRIC__MAX ||
	    buf[2] > 2 || buf[3] != 0)
		return -EINVAL;
	kind = buf[2];
	for (int i = 0; i < 4; i++)
		n |= (uint32_t)buf[4 + i] << (8 * i);
	if ((kind == 0 && (n != 0 || len != SL_AGG_SER_HDR)) ||
	    (kind == 1 && (n > SL_SET_EXACT_MAX || len != SL_AGG_SER_HDR + (size_t)n * 8)) ||
	    (kind == 2 && (n != SL_HLL_REGS || len != SL_AGG_SER_HDR + SL_HLL_REGS)))
		return -EINVAL;
	if (kind == 1) {
		for (uint32_t i = 1; i < n; i++)
			if (get_u64(buf + SL_AGG_SER_HDR + 8 * i) <=
			    get_u64(buf + SL_AGG_SER_HDR + 8 * (i - 1)))
				return -EINVAL;
	} else if (kind == 2) {
		for (uint32_t i = 0; i < SL_HLL_REGS; i++)
			if (buf[SL_AGG_SER_HDR + i] > 64 - SL_HLL_P + 1)
				return -EINVAL;
	}

	memset(st, 0, sizeof(*st));
	st->count = get_u64(buf + 8);
	sf = (unsigned __int128)get_u64(buf + 16) | ((unsigned __int128)get_u64(buf + 24) << 64);
	st->sum_fixed = (__int128)sf;
	st->sum_float = get_f64(buf + 32);
	st->min = get_f64(buf + 40);
	st->max = get_f64(buf + 48);
	st->last = get_f64(buf + 56);
	st->last_ns = get_u64(buf + 64);

	if (kind != 0) {
		set = sl_agg_set_create();
		if (set == NULL)
			return -ENOMEM;
		if (kind == 1) {
			set->h = malloc(((size_t)n + 1) * 8);
			if (set->h == NULL)
				goto nomem;
			for (uint32_t i = 0; i < n; i++)
				set->h[i] = get_u64(buf + SL_AGG_SER_HDR + 8 * i);
			set->n = set->cap = n;
		} else {
			set->regs = malloc(SL_HLL_REGS);
			if (set->regs == NULL)
				goto nomem;
			memcpy(set->regs, buf + SL_AGG_SER_HDR, SL_HLL_REGS);
		}
		st->distinct = sl_agg_set_count(set);
	}
	*ret_type = buf[1];
	if (ret_set != NULL)
		*ret_set = set;
	else
		sl_agg_set_destroy(set);
	return 0;
nomem:
	sl_agg_set_destroy(set);
	return -ENOMEM;
}
