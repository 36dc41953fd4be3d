/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of dataplane/agg.c: canonical keys, per-core tables, mergeable
 * states, distinct sets (exact and HyperLogLog) and the LMDB value format.
 *
 * Events are built by hand (no parser), with their fields set the way the
 * parser sets them: value 23.5 -> value_micro 23500000, value_exact; rate 0.5
 * -> rate_micro 500000, rate_exact. Every outcome is checked against a small
 * reference computed here, independently of agg.c. Tables live in
 * aligned_alloc() memory filled with garbage first: sl_agg_table_init() must
 * not depend on the previous contents.
 */

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "sl_test.h"

/* sl_agg_table_update(): the event was aggregated. */
#define AGG_OK SL_DROP__MAX
/* Allowed relative error of a HyperLogLog estimate: 3 standard errors. */
#define HLL_TOLERANCE (3 * 1.04 / 128.0) /* sqrt(2^SL_HLL_P) = 128 */

/* ---- helpers ---- */

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static struct sl_span
span(const char *s)
{
	return (struct sl_span){ (const uint8_t *)s, (uint32_t)strlen(s) };
}

/* A numeric event whose value and rate are exact at 6 decimals. */
static struct sl_statsd_event
ev_exact(uint8_t type, const char *name, int64_t value_micro, int64_t rate_micro)
{
	struct sl_statsd_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.name = span(name);
	ev.value = (double)value_micro / 1e6; /* correctly rounded, as strtod() */
	ev.value_micro = value_micro;
	ev.value_exact = true;
	ev.rate = (double)rate_micro / 1e6;
	ev.rate_micro = rate_micro;
	ev.rate_exact = true;
	return ev;
}

/* A numeric event whose value has more than 6 decimals (rate 1). */
static struct sl_statsd_event
ev_float(uint8_t type, const char *name, double value)
{
	struct sl_statsd_event ev = ev_exact(type, name, 0, 1000000);

	ev.value = value;
	ev.value_micro = llround(value * 1e6); /* nearest, but not exact */
	ev.value_exact = false;
	return ev;
}

/* A set event: member bytes, no numeric value. */
static struct sl_statsd_event
ev_set(const char *name, const char *member)
{
	struct sl_statsd_event ev = ev_exact(SL_METRIC_SET, name, 0, 1000000);

	ev.value_exact = false;
	ev.member = span(member);
	return ev;
}

static void
ev_tags(struct sl_statsd_event *ev, uint32_t n, const char *const *tags)
{
	ev->n_tags = (uint8_t)n;
	for (uint32_t i = 0; i < n; i++)
		ev->tags[i] = span(tags[i]);
}

/* Independent canonical key: @p tags must already be in bytewise order. */
static uint32_t
ref_key(uint8_t type, const char *name, const char *const *tags, uint32_t n, uint8_t *out)
{
	uint32_t len = 0, l = (uint32_t)strlen(name);

	out[len++] = type;
	out[len++] = (uint8_t)l;
	memcpy(out + len, name, l);
	len += l;
	out[len++] = (uint8_t)n;
	for (uint32_t i = 0; i < n; i++) {
		l = (uint32_t)strlen(tags[i]);
		out[len++] = (uint8_t)l;
		memcpy(out + len, tags[i], l);
		len += l;
	}
	return len;
}

static struct sl_agg_table *
table_new(uint32_t max_groups, uint32_t max_set_members, uint32_t key_bytes)
{
	struct sl_agg_limits lim = { max_groups, max_set_members, key_bytes };
	size_t sz = sl_agg_table_memsize(&lim);
	void *mem = aligned_alloc(64, sz);

	if (mem == NULL)
		abort();
	memset(mem, 0xa5, sz); /* init must ignore what was there */
	return sl_agg_table_init(mem, &lim);
}

static uint32_t
update_n(struct sl_agg_table *t, const struct sl_statsd_event *ev, uint32_t n, uint64_t now_ns)
{
	uint32_t ok = 0;

	for (uint32_t i = 0; i < n; i++)
		ok += sl_agg_table_update(t, ev, now_ns) == AGG_OK;
	return ok;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Number of distinct values in a sorted array. */
static uint32_t
sorted_unique(const uint64_t *v, uint32_t n)
{
	uint32_t u = 0;

	for (uint32_t i = 0; i < n; i++)
		u += i == 0 || v[i] != v[i - 1];
	return u;
}

static uint64_t
dbl_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

/* Field by field (the struct has padding), doubles bit for bit. */
static bool
state_eq(const struct sl_agg_state *a, const struct sl_agg_state *b)
{
	return a->count == b->count && a->sum_fixed == b->sum_fixed &&
	       dbl_bits(a->sum_float) == dbl_bits(b->sum_float) &&
	       dbl_bits(a->min) == dbl_bits(b->min) && dbl_bits(a->max) == dbl_bits(b->max) &&
	       dbl_bits(a->last) == dbl_bits(b->last) && a->last_ns == b->last_ns &&
	       a->distinct == b->distinct;
}

/* What sl_agg_table_walk() reported, copied out of the table. */
#define COLL_MAX 128

struct coll_group {
	uint8_t key[SL_KEY_MAX];
	uint32_t key_len;
	uint8_t type;
	struct sl_agg_state st;
	uint64_t *members; /* sorted copy */
	uint32_t n_members;
	bool members_null; /* the walk passed NULL */
};

struct coll {
	uint32_t n;
	uint32_t overflow;
	struct coll_group g[COLL_MAX];
};

static void
coll_fn(const uint8_t *key, uint32_t key_len, uint8_t type, const struct sl_agg_state *st,
	const uint64_t *members, uint32_t n_members, void *arg)
{
	struct coll *c = arg;
	struct coll_group *g;

	if (c->n >= COLL_MAX) {
		c->overflow++;
		return;
	}
	g = &c->g[c->n++];
	memcpy(g->key, key, key_len);
	g->key_len = key_len;
	g->type = type;
	g->st = *st;
	g->n_members = n_members;
	g->members_null = members == NULL;
	g->members = calloc((size_t)n_members + 1, sizeof(uint64_t));
	if (g->members == NULL)
		abort();
	if (n_members > 0)
		memcpy(g->members, members, (size_t)n_members * sizeof(uint64_t));
	qsort(g->members, n_members, sizeof(uint64_t), u64_cmp);
}

static struct coll *
coll_walk(struct sl_agg_table *t)
{
	uint32_t cap = sl_agg_table_members(t);
	uint64_t *scratch = calloc((size_t)cap + 1, sizeof(uint64_t));
	struct coll *c = calloc(1, sizeof(*c));

	if (scratch == NULL || c == NULL)
		abort();
	sl_agg_table_walk(t, scratch, cap, coll_fn, c);
	free(scratch);
	return c;
}

static void
coll_free(struct coll *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		free(c->g[i].members);
	free(c);
}

static const struct coll_group *
coll_find(const struct coll *c, const uint8_t *key, uint32_t key_len)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->g[i].key_len == key_len && memcmp(c->g[i].key, key, key_len) == 0)
			return &c->g[i];
	return NULL;
}

/* The group that @p ev lands in, or NULL. */
static const struct coll_group *
coll_find_ev(const struct coll *c, const struct sl_statsd_event *ev)
{
	uint8_t key[SL_KEY_MAX];
	uint32_t len = sl_agg_key_build(ev, key);

	return coll_find(c, key, len);
}

static bool
hll_close(uint64_t est, uint64_t truth)
{
	return fabs((double)est - (double)truth) <= HLL_TOLERANCE * (double)truth;
}

/* n distinct, well-mixed member hashes: splitmix64 is a bijection of its counter. */
static uint64_t *
hashes_range(uint64_t first, uint32_t n)
{
	uint64_t *h = malloc(((size_t)n + 1) * sizeof(*h));

	if (h == NULL)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = (first + i) * 0x9E3779B97F4A7C15ULL; /* odd: still a bijection */

		h[i] = splitmix64(&s);
	}
	return h;
}

static struct sl_agg_set *
set_from_range(uint64_t first, uint32_t n)
{
	struct sl_agg_set *s = sl_agg_set_create();
	uint64_t *h = hashes_range(first, n);

	if (s == NULL || sl_agg_set_add(s, h, n) != 0)
		abort();
	free(h);
	return s;
}

/* ---- keys ---- */

SL_TEST(key_layout_is_the_documented_one)
{
	static const uint8_t want[] = { SL_METRIC_TIMER, 3, 'r', 'e', 'q', 2, 3, 'a', ':', '1', 1, 'b' };
	static const char *const tags[] = { "b", "a:1" };
	struct sl_statsd_event ev = ev_exact(SL_METRIC_TIMER, "req", 1000000, 1000000);
	uint8_t key[SL_KEY_MAX];

	ev_tags(&ev, 2, tags);
	SL_ASSERT_EQ(sl_agg_key_build(&ev, key), sizeof(want));
	SL_ASSERT(memcmp(key, want, sizeof(want)) == 0);
	return SL_TEST_PASS;
}

SL_TEST(key_sorts_tags_bytewise_in_any_order)
{
	/* Bytewise: a prefix sorts first, ':' (0x3a) < 'b', 'z' < 0xc3 (unsigned). */
	static const char *const sorted[] = { "a", "a:1", "a:10", "ab", "b:2", "z", "\xc3\xa9t\xc3\xa9" };
	const uint32_t n = 7, n_perms = 5040; /* 7! */
	uint8_t want[SL_KEY_MAX], got[SL_KEY_MAX];
	uint32_t want_len = ref_key(SL_METRIC_COUNTER, "req", sorted, n, want);

	for (uint32_t perm = 0; perm < n_perms; perm++) {
		struct sl_statsd_event ev = ev_exact(SL_METRIC_COUNTER, "req", 1000000, 1000000);
		const char *pool[7];
		uint32_t rem = perm, left = n;

		memcpy(pool, sorted, sizeof(pool));
		/* Factorial number system: permutation number perm of the tags. */
		for (uint32_t i = 0; i < n; i++, left--) {
			uint32_t pick = rem % left;

			rem /= left;
			ev.tags[i] = span(pool[pick]);
			memmove(&pool[pick], &pool[pick + 1], (left - pick - 1) * sizeof(pool[0]));
		}
		ev.n_tags = (uint8_t)n;
		SL_ASSERT_EQ(sl_agg_key_build(&ev, got), want_len);
		SL_ASSERT(memcmp(got, want, want_len) == 0);
	}
	return SL_TEST_PASS;
}

SL_TEST(key_identity_is_type_name_and_tag_multiset)
{
	static const char *const t_ab[] = { "env:prod", "host:a" };
	static const char *const t_ba[] = { "host:a", "env:prod" };
	static const char *const t_one[] = { "env:prod" };
	static const char *const t_dup[] = { "env:prod", "env:prod" };
	static const char *const t_split[] = { "a", "b" };
	static const char *const t_joined[] = { "ab" };
	static const char *const t_bc[] = { "bc" };
	static const char *const t_c[] = { "c" };
	struct sl_statsd_event e1 = ev_exact(SL_METRIC_COUNTER, "api.hits", 1000000, 1000000);
	struct sl_statsd_event e2 = e1, e3 = e1, e4, e5 = e1, e6 = e1, e7 = e1, e8 = e1, e9, e10;
	uint8_t k1[SL_KEY_MAX], k2[SL_KEY_MAX], k[SL_KEY_MAX];
	struct sl_agg_table *t = table_new(64, 16, 4096);
	uint32_t l1, l2;

	ev_tags(&e1, 2, t_ab);
	ev_tags(&e2, 2, t_ba);
	l1 = sl_agg_key_build(&e1, k1);
	l2 = sl_agg_key_build(&e2, k2);
	SL_ASSERT_EQ(l1, l2);
	SL_ASSERT(memcmp(k1, k2, l1) == 0);

	/* Another type: same bytes except the first. */
	ev_tags(&e3, 2, t_ab);
	e3.type = SL_METRIC_GAUGE;
	SL_ASSERT_EQ(sl_agg_key_build(&e3, k), l1);
	SL_ASSERT(k[0] != k1[0]);
	SL_ASSERT(memcmp(k + 1, k1 + 1, l1 - 1) == 0);

	/* Another name. */
	e4 = ev_exact(SL_METRIC_COUNTER, "api.hit", 1000000, 1000000);
	ev_tags(&e4, 2, t_ab);
	l2 = sl_agg_key_build(&e4, k);
	SL_ASSERT(l2 != l1 || memcmp(k, k1, l1) != 0);

	/* A tag multiset: a duplicate tag counts, "ab" is not "a","b". */
	ev_tags(&e5, 1, t_one);
	ev_tags(&e6, 2, t_dup);
	ev_tags(&e7, 2, t_split);
	ev_tags(&e8, 1, t_joined);
	l1 = sl_agg_key_build(&e5, k1);
	l2 = sl_agg_key_build(&e6, k2);
	SL_ASSERT(l1 != l2 || memcmp(k1, k2, l1) != 0);
	l1 = sl_agg_key_build(&e7, k1);
	l2 = sl_agg_key_build(&e8, k2);
	SL_ASSERT(l1 != l2 || memcmp(k1, k2, l1) != 0);
	/* Name and tags do not run into each other: "a"#bc vs "ab"#c. */
	e9 = ev_exact(SL_METRIC_COUNTER, "a", 1000000, 1000000);
	e10 = ev_exact(SL_METRIC_COUNTER, "ab", 1000000, 1000000);
	ev_tags(&e9, 1, t_bc);
	ev_tags(&e10, 1, t_c);
	l1 = sl_agg_key_build(&e9, k1);
	l2 = sl_agg_key_build(&e10, k2);
	SL_ASSERT(l1 != l2 || memcmp(k1, k2, l1) != 0);

	/* In a table: the two tag orders are one group, each other key its own. */
	SL_ASSERT_EQ(sl_agg_table_update(t, &e1, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e2, 2), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_count(t), 1);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e3, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e4, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e5, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e6, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e7, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e8, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e9, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e10, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_count(t), 9);
	/* Every type of one name: six groups more. */
	for (uint8_t type = 0; type < SL_METRIC__MAX; type++) {
		struct sl_statsd_event ev = ev_exact(type, "all.types", 1000000, 1000000);

		ev.member = span("m");
		SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 4), AGG_OK);
	}
	SL_ASSERT_EQ(sl_agg_table_count(t), 15);
	struct coll *c = coll_walk(t);
	SL_ASSERT_EQ(c->n, 15);
	SL_ASSERT_EQ(coll_find_ev(c, &e1)->st.count, 2);
	SL_ASSERT_EQ(coll_find_ev(c, &e1)->type, SL_METRIC_COUNTER);
	SL_ASSERT_EQ(coll_find_ev(c, &e3)->st.count, 1);
	SL_ASSERT_EQ(coll_find_ev(c, &e3)->type, SL_METRIC_GAUGE);
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(key_decode_round_trips)
{
	static const char *const tags[] = { "zone:b", "env:prod", "a" };
	static const char *const sixteen[SL_TAGS_MAX] = { "p", "o", "n", "m", "l", "k", "j", "i",
							  "h", "g", "f", "e", "d", "c", "b", "a" };
	struct sl_statsd_event ev = ev_exact(SL_METRIC_HISTOGRAM, "svc.latency", 1, 1000000);
	uint8_t key[SL_KEY_MAX];
	struct sl_agg_key dk;
	uint32_t len;

	ev_tags(&ev, 3, tags);
	len = sl_agg_key_build(&ev, key);
	SL_ASSERT_OK(sl_agg_key_decode(key, len, &dk));
	SL_ASSERT_EQ(dk.type, SL_METRIC_HISTOGRAM);
	SL_ASSERT_EQ(dk.name.len, 11);
	SL_ASSERT(memcmp(dk.name.p, "svc.latency", 11) == 0);
	SL_ASSERT_EQ(dk.n_tags, 3);
	SL_ASSERT(dk.tags[0].len == 1 && memcmp(dk.tags[0].p, "a", 1) == 0);
	SL_ASSERT(dk.tags[1].len == 8 && memcmp(dk.tags[1].p, "env:prod", 8) == 0);
	SL_ASSERT(dk.tags[2].len == 6 && memcmp(dk.tags[2].p, "zone:b", 6) == 0);
	/* The spans point into the key. */
	SL_ASSERT(dk.name.p == key + 2);

	/* No tags. */
	ev.n_tags = 0;
	len = sl_agg_key_build(&ev, key);
	SL_ASSERT_EQ(len, 3 + 11);
	SL_ASSERT_OK(sl_agg_key_decode(key, len, &dk));
	SL_ASSERT_EQ(dk.n_tags, 0);
	SL_ASSERT_EQ(dk.name.len, 11);

	/* SL_TAGS_MAX tags, reversed: decoded in sorted order. */
	ev_tags(&ev, SL_TAGS_MAX, sixteen);
	len = sl_agg_key_build(&ev, key);
	SL_ASSERT_EQ(len, 3 + 11 + 2 * SL_TAGS_MAX);
	SL_ASSERT_OK(sl_agg_key_decode(key, len, &dk));
	SL_ASSERT_EQ(dk.n_tags, SL_TAGS_MAX);
	for (uint32_t i = 0; i < SL_TAGS_MAX; i++) {
		SL_ASSERT_EQ(dk.tags[i].len, 1);
		SL_ASSERT_EQ(dk.tags[i].p[0], 'a' + i);
	}
	return SL_TEST_PASS;
}

SL_TEST(key_too_long_is_zero_and_dropped)
{
	char name255[256], name256[257], name200[201], tag199[200], tag92[93], tag93[94], tag256[257];
	const char *tags_fit[2] = { tag199, tag92 }, *tags_over[2] = { tag199, tag93 };
	const char *tags_long[1] = { tag256 };
	const char *tags17[SL_TAGS_MAX + 1];
	uint8_t key[SL_KEY_MAX], want[SL_KEY_MAX];
	struct sl_statsd_event ev;
	struct sl_agg_table *t = table_new(8, 0, SL_KEY_MAX);
	struct sl_agg_key dk;

	memset(name255, 'n', 255);
	name255[255] = '\0';
	memset(name256, 'n', 256);
	name256[256] = '\0';
	memset(name200, 'n', 200);
	name200[200] = '\0';
	memset(tag199, 't', 199);
	tag199[199] = '\0';
	memset(tag92, 'u', 92);
	tag92[92] = '\0';
	memset(tag93, 'u', 93);
	tag93[93] = '\0';
	memset(tag256, 'v', 256);
	tag256[256] = '\0';
	for (uint32_t i = 0; i <= SL_TAGS_MAX; i++)
		tags17[i] = "x";

	/* A name of 255 bytes fits its length byte; 256 does not. */
	ev = ev_exact(SL_METRIC_COUNTER, name255, 1000000, 1000000);
	SL_ASSERT_EQ(sl_agg_key_build(&ev, key), 3 + 255);
	ev = ev_exact(SL_METRIC_COUNTER, name256, 1000000, 1000000);
	SL_ASSERT_EQ(sl_agg_key_build(&ev, key), 0);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), SL_DROP_KEY_TOO_LONG);

	/* Exactly SL_KEY_MAX: 3 + 200 + (1 + 199) + (1 + 92) = 496. */
	ev = ev_exact(SL_METRIC_COUNTER, name200, 1000000, 1000000);
	ev_tags(&ev, 2, tags_fit);
	SL_ASSERT_EQ(sl_agg_key_build(&ev, key), SL_KEY_MAX);
	SL_ASSERT_EQ(ref_key(SL_METRIC_COUNTER, name200, tags_fit, 2, want), SL_KEY_MAX);
	SL_ASSERT(memcmp(key, want, SL_KEY_MAX) == 0);
	SL_ASSERT_OK(sl_agg_key_decode(key, SL_KEY_MAX, &dk));
	/* ... and it fits a table whose key storage is exactly one such key. */
	SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_count(t), 1);

	/* One byte more. */
	ev_tags(&ev, 2, tags_over);
	SL_ASSERT_EQ(sl_agg_key_build(&ev, key), 0);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), SL_DROP_KEY_TOO_LONG);

	/* A tag longer than its length byte, and more tags than SL_TAGS_MAX. */
	ev = ev_exact(SL_METRIC_COUNTER, "n", 1000000, 1000000);
	ev_tags(&ev, 1, tags_long);
	SL_ASSERT_EQ(sl_agg_key_build(&ev, key), 0);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), SL_DROP_KEY_TOO_LONG);
	ev_tags(&ev, SL_TAGS_MAX, tags17);
	SL_ASSERT_EQ(sl_agg_key_build(&ev, key), 3 + 1 + 2 * SL_TAGS_MAX);
	ev.n_tags = SL_TAGS_MAX + 1;
	SL_ASSERT_EQ(sl_agg_key_build(&ev, key), 0);

	SL_ASSERT_EQ(sl_agg_table_count(t), 1);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(key_decode_rejects_malformed)
{
	static const char *const tags[] = { "b:2", "a:1", "c" };
	struct sl_statsd_event ev = ev_exact(SL_METRIC_GAUGE, "req", 1000000, 1000000);
	uint8_t key[SL_KEY_MAX + 1], bad[SL_KEY_MAX + 1];
	struct sl_agg_key dk;
	uint32_t len, len0;

	ev_tags(&ev, 3, tags);
	len = sl_agg_key_build(&ev, key);
	SL_ASSERT_EQ(len, 3 + 3 + 4 + 4 + 2);
	for (uint32_t l = 0; l < len; l++)
		SL_ASSERT_EQ(sl_agg_key_decode(key, l, &dk), -EINVAL);
	SL_ASSERT_OK(sl_agg_key_decode(key, len, &dk));
	key[len] = 0; /* trailing garbage */
	SL_ASSERT_EQ(sl_agg_key_decode(key, len + 1, &dk), -EINVAL);

	/* Unknown type. */
	memcpy(bad, key, len);
	bad[0] = SL_METRIC__MAX;
	SL_ASSERT_EQ(sl_agg_key_decode(bad, len, &dk), -EINVAL);
	bad[0] = 0xff;
	SL_ASSERT_EQ(sl_agg_key_decode(bad, len, &dk), -EINVAL);
	/* Name length past the end. */
	memcpy(bad, key, len);
	bad[1] = (uint8_t)len;
	SL_ASSERT_EQ(sl_agg_key_decode(bad, len, &dk), -EINVAL);
	/* A tag length past the end. */
	memcpy(bad, key, len);
	bad[6] = 200;
	SL_ASSERT_EQ(sl_agg_key_decode(bad, len, &dk), -EINVAL);
	/* Tag count too large (even with enough bytes), too small, too large by one. */
	memset(bad, 0, sizeof(bad));
	bad[0] = SL_METRIC_COUNTER;
	bad[1] = 1;
	bad[2] = 'n';
	bad[3] = SL_TAGS_MAX + 1;
	SL_ASSERT_EQ(sl_agg_key_decode(bad, 4 + SL_TAGS_MAX + 1, &dk), -EINVAL);
	bad[3] = SL_TAGS_MAX;
	SL_ASSERT_OK(sl_agg_key_decode(bad, 4 + SL_TAGS_MAX, &dk)); /* 16 empty tags */
	memcpy(bad, key, len);
	bad[5] = 2;
	SL_ASSERT_EQ(sl_agg_key_decode(bad, len, &dk), -EINVAL);
	bad[5] = 4;
	SL_ASSERT_EQ(sl_agg_key_decode(bad, len, &dk), -EINVAL);

	/* A key without tags: every truncation too. */
	ev.n_tags = 0;
	len0 = sl_agg_key_build(&ev, key);
	SL_ASSERT_EQ(len0, 6);
	for (uint32_t l = 0; l < len0; l++)
		SL_ASSERT_EQ(sl_agg_key_decode(key, l, &dk), -EINVAL);
	SL_ASSERT_OK(sl_agg_key_decode(key, len0, &dk));
	return SL_TEST_PASS;
}

SL_TEST(hash64_is_stable_and_reads_only_its_input)
{
	uint64_t seen[33];

	/* Golden values: sl_hash64() names groups and set members in LMDB. */
	SL_ASSERT(sl_hash64("", 0, 0) == 0x5f43bd2b289fc547ULL);
	SL_ASSERT(sl_hash64("a", 1, 0) == 0x5eba73e1218ebfb1ULL);
	SL_ASSERT(sl_hash64("hello, sluice!", 14, 0) == 0x527e79c7e46dd6cbULL);
	SL_ASSERT(sl_hash64("hello, sluice!", 14, 42) == 0xa86b61211b7ec47dULL);
	SL_ASSERT(sl_hash64("a", 1, 0) != sl_hash64("a", 1, 1));
	/* Exact-size heap buffers: ASan catches any read past the end. */
	for (uint32_t len = 0; len <= 32; len++) {
		uint8_t *b = malloc(len + !len);

		if (b == NULL)
			abort();
		memset(b, 'x', len);
		seen[len] = sl_hash64(b, len, 7);
		SL_ASSERT_EQ(seen[len], sl_hash64(b, len, 7));
		free(b);
	}
	qsort(seen, 33, sizeof(seen[0]), u64_cmp);
	SL_ASSERT_EQ(sorted_unique(seen, 33), 33);
	return SL_TEST_PASS;
}

/* ---- counters ---- */

SL_TEST(counter_exact_sum_with_sample_rates)
{
	struct sl_agg_table *t = table_new(16, 0, 4096);
	struct sl_statsd_event evs[] = {
		ev_exact(SL_METRIC_COUNTER, "hits", 1000000, 1000000), /* 1 @1: 1 */
		ev_exact(SL_METRIC_COUNTER, "hits", 2500000, 500000),  /* 2.5 @0.5: 5 */
		ev_exact(SL_METRIC_COUNTER, "hits", 3000000, 250000),  /* 3 @0.25: 12 */
		ev_exact(SL_METRIC_COUNTER, "hits", 700000, 100000),   /* 0.7 @0.1: 7 */
		ev_exact(SL_METRIC_COUNTER, "hits", -1, 100000),       /* -0.000001 @0.1 */
		ev_exact(SL_METRIC_COUNTER, "hits", 100000, 100000),   /* 0.1 @0.1: 1 */
	};
	char buf[64];
	struct coll *c;

	for (uint32_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		SL_ASSERT_EQ(sl_agg_table_update(t, &evs[i], 10 + i), AGG_OK);
	c = coll_walk(t);
	SL_ASSERT_EQ(c->n, 1);
	SL_ASSERT_EQ(c->g[0].st.count, 6);
	SL_ASSERT(c->g[0].st.sum_fixed == (__int128)25999990);
	SL_ASSERT_DBL_EQ(c->g[0].st.sum_float, 0.0);
	SL_ASSERT_EQ(sl_agg_state_sum_format(&c->g[0].st, buf, sizeof(buf)), 8);
	SL_ASSERT_STR_EQ(buf, "25.99999");
	SL_ASSERT_DBL_EQ(sl_agg_state_sum(&c->g[0].st), 25.99999);
	SL_ASSERT_EQ(c->g[0].n_members, 0);
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(counter_exact_sum_random_stream)
{
	/* Every rate whose inverse is an integer, down to 0.000001. */
	static const int64_t rates[] = { 1000000, 500000, 250000, 200000, 125000, 100000, 1 };
	struct sl_agg_table *t = table_new(16, 0, 4096);
	__int128 want = 0;
	uint64_t seed = 1;
	struct coll *c;

	for (uint32_t i = 0; i < 5000; i++) {
		/* |value| < 1e6 with 6 decimals: increments up to 1e12 * 1e6 micro-units. */
		int64_t v = (int64_t)(splitmix64(&seed) % 2000000000001ULL) - 1000000000000LL;
		int64_t r = rates[splitmix64(&seed) % 7];
		struct sl_statsd_event ev = ev_exact(SL_METRIC_COUNTER, "rnd", v, r);

		SL_ASSERT_EQ(sl_agg_table_update(t, &ev, i), AGG_OK);
		/* value / rate, in micro-units: value_micro * 10^6 / rate_micro. */
		SL_ASSERT((__int128)v * 1000000 % r == 0);
		want += (__int128)v * 1000000 / r;
	}
	c = coll_walk(t);
	SL_ASSERT_EQ(c->n, 1);
	SL_ASSERT_EQ(c->g[0].st.count, 5000);
	SL_ASSERT(c->g[0].st.sum_fixed == want);
	SL_ASSERT_DBL_EQ(c->g[0].st.sum_float, 0.0);
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(counter_inexact_rate_or_value_takes_the_float_path)
{
	struct sl_agg_table *t = table_new(16, 0, 4096);
	struct sl_statsd_event e03 = ev_exact(SL_METRIC_COUNTER, "f", 3000000, 300000); /* 3 @0.3 */
	struct sl_statsd_event e03b = ev_exact(SL_METRIC_COUNTER, "f", 1000000, 300000);
	struct sl_statsd_event e04 = ev_exact(SL_METRIC_COUNTER, "f", 1000000, 400000); /* 1/0.4 */
	struct sl_statsd_event erate = ev_exact(SL_METRIC_COUNTER, "f", 2000000, 123457);
	struct sl_statsd_event evalue = ev_float(SL_METRIC_COUNTER, "f", 1.5e-7);
	struct sl_statsd_event e1 = ev_exact(SL_METRIC_COUNTER, "f", 1000000, 1000000);
	double want;
	char buf[64], ref[64];
	struct coll *c;

	/* A rate with more than 6 decimals: 0.1234567 (rate_micro rounded). */
	erate.rate = 0.1234567;
	erate.rate_exact = false;
	SL_ASSERT_EQ(sl_agg_table_update(t, &e03, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e1, 2), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e03b, 3), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &e04, 4), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &erate, 5), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &evalue, 6), AGG_OK);
	want = 0.0;
	want += 3.0 / 0.3;
	want += 1.0 / 0.3;
	want += 1.0 / 0.4;
	want += 2.0 / 0.1234567;
	want += 1.5e-7;
	c = coll_walk(t);
	SL_ASSERT_EQ(c->g[0].st.count, 6);
	SL_ASSERT(c->g[0].st.sum_fixed == (__int128)1000000); /* only the @1 event */
	SL_ASSERT_DBL_EQ(c->g[0].st.sum_float, want);
	SL_ASSERT(fabs(sl_agg_state_sum(&c->g[0].st) - (1 + 10 + 1 / 0.3 + 2.5 + 2 / 0.1234567)) <
		  1e-6);
	snprintf(ref, sizeof(ref), "%.17g", 1.0 + want);
	SL_ASSERT_EQ(sl_agg_state_sum_format(&c->g[0].st, buf, sizeof(buf)), strlen(ref));
	SL_ASSERT_STR_EQ(buf, ref);
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

static int
check_format(__int128 sum_fixed, double sum_float, const char *want)
{
	struct sl_agg_state st;
	char buf[64];

	sl_agg_state_init(&st);
	st.sum_fixed = sum_fixed;
	st.sum_float = sum_float;
	memset(buf, '#', sizeof(buf));
	SL_ASSERT_EQ(sl_agg_state_sum_format(&st, buf, sizeof(buf)), strlen(want));
	SL_ASSERT_STR_EQ(buf, want);
	return SL_TEST_PASS;
}

SL_TEST(sum_format_exact_and_float)
{
	const __int128 e6 = 1000000;
	const __int128 max_inc = (__int128)1000000000000000LL * e6; /* SL_VALUE_MAX in micro */

	SL_ASSERT_OK(check_format(0, 0, "0"));
	SL_ASSERT_OK(check_format(42 * e6, 0, "42"));
	SL_ASSERT_OK(check_format(-42 * e6, 0, "-42"));
	SL_ASSERT_OK(check_format(12345670000, 0, "12345.67"));
	SL_ASSERT_OK(check_format(-3500000, 0, "-3.5"));
	SL_ASSERT_OK(check_format(1, 0, "0.000001"));
	SL_ASSERT_OK(check_format(-1, 0, "-0.000001"));
	SL_ASSERT_OK(check_format(-500000, 0, "-0.5"));
	SL_ASSERT_OK(check_format(10 * e6 + 10, 0, "10.00001"));
	SL_ASSERT_OK(check_format(999999, 0, "0.999999"));
	/* Past 64 bits: 10^6 events of 10^15; 10^6 of 10^15 - 0.000001, plus 0.000001. */
	SL_ASSERT_OK(check_format(max_inc * 1000000, 0, "1000000000000000000000"));
	SL_ASSERT_OK(check_format(-max_inc * 1000000, 0, "-1000000000000000000000"));
	SL_ASSERT_OK(check_format((max_inc - 1) * 1000000 + 1, 0,
				  "999999999999999999999.000001"));
	/* 2^64 micro-units exactly. */
	SL_ASSERT_OK(check_format((__int128)1 << 64, 0, "18446744073709.551616"));
	/* A float part: %.17g of the whole sum. */
	SL_ASSERT_OK(check_format(0, 0.1, "0.10000000000000001"));
	SL_ASSERT_OK(check_format(2 * e6, 0.5, "2.5"));
	SL_ASSERT_OK(check_format(0, -1e300, "-1.0000000000000001e+300"));
	return SL_TEST_PASS;
}

SL_TEST(sum_format_never_writes_past_cap)
{
	struct sl_agg_state st;
	char buf[16];

	sl_agg_state_init(&st);
	st.sum_fixed = 12345670000; /* "12345.67" */
	for (size_t cap = 1; cap < sizeof(buf); cap++) {
		memset(buf, '#', sizeof(buf));
		sl_agg_state_sum_format(&st, buf, cap);
		SL_ASSERT(memchr(buf, '\0', cap) != NULL);
		SL_ASSERT(strncmp(buf, "12345.67", strlen(buf)) == 0); /* a prefix */
		for (size_t i = cap; i < sizeof(buf); i++)
			SL_ASSERT_EQ(buf[i], '#');
	}
	return SL_TEST_PASS;
}

SL_TEST(counter_sum_past_64_bits_through_the_table)
{
	struct sl_agg_table *t = table_new(4, 0, 4096);
	/* 9e12 is the largest round value whose value_micro fits an int64. */
	struct sl_statsd_event ev = ev_exact(SL_METRIC_COUNTER, "big", 9000000000000000000LL, 100000);
	struct sl_statsd_event neg = ev_exact(SL_METRIC_COUNTER, "neg", -9000000000000000000LL, 1);
	char buf[64];
	struct coll *c;

	SL_ASSERT_EQ(update_n(t, &ev, 1000, 1), 1000);
	SL_ASSERT_EQ(update_n(t, &neg, 3, 1), 3);
	c = coll_walk(t);
	/* 1000 * 9e12 / 0.1 = 9e16. */
	SL_ASSERT(coll_find_ev(c, &ev)->st.sum_fixed == (__int128)9000000000000000000LL * 10000);
	SL_ASSERT_EQ(sl_agg_state_sum_format(&coll_find_ev(c, &ev)->st, buf, sizeof(buf)), 17);
	SL_ASSERT_STR_EQ(buf, "90000000000000000");
	/* 3 * -9e12 / 0.000001 = -2.7e19. */
	sl_agg_state_sum_format(&coll_find_ev(c, &neg)->st, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "-27000000000000000000");
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

/* ---- gauges, timers ---- */

SL_TEST(gauge_last_by_arrival_time_min_max)
{
	struct sl_agg_table *t = table_new(4, 0, 4096);
	struct sl_statsd_event g5 = ev_exact(SL_METRIC_GAUGE, "temp", 5000000, 1000000);
	struct sl_statsd_event g3 = ev_exact(SL_METRIC_GAUGE, "temp", 3000000, 1000000);
	struct sl_statsd_event g7 = ev_exact(SL_METRIC_GAUGE, "temp", 7000000, 1000000);
	struct sl_statsd_event g9 = ev_exact(SL_METRIC_GAUGE, "temp", 9000000, 1000000);
	struct sl_statsd_event g1 = ev_exact(SL_METRIC_GAUGE, "temp", -1250000, 1000000);
	struct sl_statsd_event gf = ev_float(SL_METRIC_GAUGE, "temp", 8.0000001);
	struct coll *c;

	SL_ASSERT_EQ(sl_agg_table_update(t, &g5, 100), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &g3, 300), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &g7, 200), AGG_OK); /* older: not last */
	c = coll_walk(t);
	SL_ASSERT_EQ(c->g[0].st.count, 3);
	SL_ASSERT_DBL_EQ(c->g[0].st.last, 3.0);
	SL_ASSERT_EQ(c->g[0].st.last_ns, 300);
	SL_ASSERT_DBL_EQ(c->g[0].st.min, 3.0);
	SL_ASSERT_DBL_EQ(c->g[0].st.max, 7.0);
	coll_free(c);

	SL_ASSERT_EQ(sl_agg_table_update(t, &g9, 300), AGG_OK); /* same time, later: wins */
	SL_ASSERT_EQ(sl_agg_table_update(t, &g1, 250), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &gf, 299), AGG_OK);
	c = coll_walk(t);
	SL_ASSERT_EQ(c->g[0].st.count, 6);
	SL_ASSERT_DBL_EQ(c->g[0].st.last, 9.0);
	SL_ASSERT_EQ(c->g[0].st.last_ns, 300);
	SL_ASSERT_DBL_EQ(c->g[0].st.min, -1.25);
	SL_ASSERT_DBL_EQ(c->g[0].st.max, 9.0);
	coll_free(c);

	/* A fresh gauge whose first sample arrives at time 0. */
	g1.name = span("cold");
	SL_ASSERT_EQ(sl_agg_table_update(t, &g1, 0), AGG_OK);
	c = coll_walk(t);
	SL_ASSERT_DBL_EQ(coll_find_ev(c, &g1)->st.last, -1.25);
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(timer_histogram_distribution_count_sum_min_max)
{
	static const int64_t vals[] = { 23500000, 1000, 100000000, -2250000, 23500000 };
	struct sl_agg_table *t = table_new(8, 0, 4096);
	struct coll *c;

	for (uint8_t type = SL_METRIC_TIMER; type <= SL_METRIC_DISTRIBUTION; type++) {
		for (uint32_t i = 0; i < 5; i++) {
			struct sl_statsd_event ev = ev_exact(type, "lat", vals[i], 1000000);

			SL_ASSERT_EQ(sl_agg_table_update(t, &ev, i), AGG_OK);
		}
		struct sl_statsd_event f = ev_float(type, "lat", 0.1234567);

		SL_ASSERT_EQ(sl_agg_table_update(t, &f, 9), AGG_OK);
	}
	c = coll_walk(t);
	SL_ASSERT_EQ(c->n, 3);
	for (uint8_t type = SL_METRIC_TIMER; type <= SL_METRIC_DISTRIBUTION; type++) {
		struct sl_statsd_event ev = ev_exact(type, "lat", 0, 1000000);
		const struct coll_group *g = coll_find_ev(c, &ev);
		char buf[64], ref[64];

		SL_ASSERT_NOT_NULL(g);
		SL_ASSERT_EQ(g->type, type);
		SL_ASSERT_EQ(g->st.count, 6);
		/* 23.5 + 0.001 + 100 - 2.25 + 23.5 = 144.751 */
		SL_ASSERT(g->st.sum_fixed == (__int128)144751000);
		SL_ASSERT_DBL_EQ(g->st.sum_float, 0.1234567);
		SL_ASSERT_DBL_EQ(g->st.min, -2.25);
		SL_ASSERT_DBL_EQ(g->st.max, 100.0);
		snprintf(ref, sizeof(ref), "%.17g", 144.751 + 0.1234567);
		sl_agg_state_sum_format(&g->st, buf, sizeof(buf));
		SL_ASSERT_STR_EQ(buf, ref);
	}
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

/* ---- sets in the table ---- */

SL_TEST(set_exact_distinct_per_group)
{
	static const char *const tags[] = { "env:prod" };
	static const char *const s1[] = { "a", "b", "a", "c", "b", "a" };
	static const char *const s2[] = { "a", "x" };
	struct sl_agg_table *t = table_new(8, 64, 4096);
	struct sl_statsd_event tagged = ev_set("users", "a");
	struct sl_statsd_event plain = ev_exact(SL_METRIC_COUNTER, "hits", 1000000, 1000000);
	const struct coll_group *g1, *g2, *g3, *gc;
	uint64_t both[5];
	struct coll *c;

	for (uint32_t i = 0; i < 6; i++) {
		struct sl_statsd_event ev = ev_set("users", s1[i]);

		SL_ASSERT_EQ(sl_agg_table_update(t, &ev, i), AGG_OK);
	}
	for (uint32_t i = 0; i < 2; i++) {
		struct sl_statsd_event ev = ev_set("visitors", s2[i]);

		SL_ASSERT_EQ(sl_agg_table_update(t, &ev, i), AGG_OK);
	}
	ev_tags(&tagged, 1, tags);
	SL_ASSERT_EQ(update_n(t, &tagged, 3, 1), 3);
	SL_ASSERT_EQ(sl_agg_table_update(t, &plain, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_count(t), 4);
	SL_ASSERT_EQ(sl_agg_table_members(t), 3 + 2 + 1);

	c = coll_walk(t);
	SL_ASSERT_EQ(c->n, 4);
	g1 = coll_find_ev(c, &(struct sl_statsd_event){ .type = SL_METRIC_SET, .name = span("users") });
	g2 = coll_find_ev(c, &(struct sl_statsd_event){ .type = SL_METRIC_SET, .name = span("visitors") });
	g3 = coll_find_ev(c, &tagged);
	gc = coll_find_ev(c, &plain);
	SL_ASSERT(g1 != NULL && g2 != NULL && g3 != NULL && gc != NULL);
	SL_ASSERT_EQ(g1->st.count, 6);
	SL_ASSERT_EQ(g1->st.distinct, 3);
	SL_ASSERT_EQ(g1->n_members, 3);
	SL_ASSERT_EQ(sorted_unique(g1->members, g1->n_members), 3);
	SL_ASSERT_EQ(g2->st.count, 2);
	SL_ASSERT_EQ(g2->st.distinct, 2);
	SL_ASSERT_EQ(g2->n_members, 2);
	SL_ASSERT_EQ(sorted_unique(g2->members, 2), 2);
	SL_ASSERT_EQ(g3->st.count, 3);
	SL_ASSERT_EQ(g3->st.distinct, 1);
	SL_ASSERT_EQ(g3->n_members, 1);
	SL_ASSERT_EQ(gc->n_members, 0);
	SL_ASSERT(gc->members_null);
	SL_ASSERT_EQ(gc->st.distinct, 0);
	/* Member hashes depend on the member only: "a" is in all three sets. */
	SL_ASSERT(g3->members[0] == g1->members[0] || g3->members[0] == g1->members[1] ||
		  g3->members[0] == g1->members[2]);
	memcpy(both, g1->members, 3 * sizeof(uint64_t));
	memcpy(both + 3, g2->members, 2 * sizeof(uint64_t));
	qsort(both, 5, sizeof(uint64_t), u64_cmp);
	SL_ASSERT_EQ(sorted_unique(both, 5), 4); /* a b c x */
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(set_random_members_match_reference)
{
	enum { GROUPS = 40, UNIVERSE = 200, EVENTS = 6000 };
	static bool seen[GROUPS][UNIVERSE];
	uint64_t want_distinct[GROUPS] = { 0 }, want_count[GROUPS] = { 0 }, total = 0;
	struct sl_agg_table *t = table_new(GROUPS, GROUPS * UNIVERSE, 16384);
	uint64_t seed = 7;
	struct coll *c;

	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < EVENTS; i++) {
		uint32_t k = (uint32_t)(splitmix64(&seed) % GROUPS);
		uint32_t m = (uint32_t)(splitmix64(&seed) % UNIVERSE);
		char name[16], member[16];
		struct sl_statsd_event ev;

		snprintf(name, sizeof(name), "set.%u", k);
		snprintf(member, sizeof(member), "user-%u", m);
		ev = ev_set(name, member);
		SL_ASSERT_EQ(sl_agg_table_update(t, &ev, i), AGG_OK);
		want_count[k]++;
		want_distinct[k] += !seen[k][m];
		total += !seen[k][m];
		seen[k][m] = true;
	}
	SL_ASSERT_EQ(sl_agg_table_members(t), total);
	c = coll_walk(t);
	SL_ASSERT_EQ(c->n, GROUPS);
	for (uint32_t k = 0; k < GROUPS; k++) {
		char name[16];
		const struct coll_group *g;

		snprintf(name, sizeof(name), "set.%u", k);
		g = coll_find_ev(c, &(struct sl_statsd_event){ .type = SL_METRIC_SET, .name = span(name) });
		SL_ASSERT_NOT_NULL(g);
		SL_ASSERT_EQ(g->st.count, want_count[k]);
		SL_ASSERT_EQ(g->st.distinct, want_distinct[k]);
		SL_ASSERT_EQ(g->n_members, want_distinct[k]);
		SL_ASSERT_EQ(sorted_unique(g->members, g->n_members), want_distinct[k]);
	}
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

/* ---- limits, reset ---- */

SL_TEST(limits_are_validated)
{
	struct sl_agg_limits bad[] = {
		{ 0, 16, 4096 },
		{ 16, 16, SL_KEY_MAX - 1 },
		{ (1u << 26) + 1, 16, 4096 },
		{ 16, (1u << 28) + 1, 4096 },
	};
	struct sl_agg_limits ok = { 1, 0, SL_KEY_MAX };
	uint8_t mem[64] __attribute__((aligned(64)));

	for (uint32_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		SL_ASSERT_EQ(sl_agg_table_memsize(&bad[i]), 0);
		errno = 0;
		SL_ASSERT_NULL(sl_agg_table_init(mem, &bad[i]));
		SL_ASSERT_EQ(errno, EINVAL);
	}
	SL_ASSERT(sl_agg_table_memsize(&ok) > 0);
	SL_ASSERT_EQ(sl_agg_table_memsize(&ok) % 64, 0);
	errno = 0;
	SL_ASSERT_NULL(sl_agg_table_init(NULL, &ok));
	SL_ASSERT_EQ(errno, EINVAL);
	return SL_TEST_PASS;
}

SL_TEST(limit_max_groups)
{
	struct sl_agg_table *t = table_new(3, 16, 4096);
	struct sl_statsd_event a = ev_exact(SL_METRIC_COUNTER, "a", 1000000, 1000000);
	struct sl_statsd_event b = ev_exact(SL_METRIC_GAUGE, "b", 2000000, 1000000);
	struct sl_statsd_event s = ev_set("s", "m1");
	struct sl_statsd_event d = ev_exact(SL_METRIC_COUNTER, "d", 1000000, 1000000);
	struct sl_statsd_event s2 = ev_set("s2", "m1");
	struct sl_statsd_event s_new = ev_set("s", "m2");
	struct coll *c;

	SL_ASSERT_EQ(sl_agg_table_update(t, &a, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &b, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &s, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_count(t), 3);
	SL_ASSERT_EQ(sl_agg_table_update(t, &d, 1), SL_DROP_GROUP_LIMIT);
	SL_ASSERT_EQ(sl_agg_table_update(t, &s2, 1), SL_DROP_GROUP_LIMIT);
	SL_ASSERT_EQ(sl_agg_table_count(t), 3);
	SL_ASSERT_EQ(sl_agg_table_members(t), 1);
	/* Existing groups still update. */
	SL_ASSERT_EQ(update_n(t, &a, 4, 2), 4);
	SL_ASSERT_EQ(sl_agg_table_update(t, &s_new, 2), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &b, 2), AGG_OK);
	c = coll_walk(t);
	SL_ASSERT_EQ(c->n, 3);
	SL_ASSERT_NULL(coll_find_ev(c, &d));
	SL_ASSERT_NULL(coll_find_ev(c, &s2));
	SL_ASSERT_EQ(coll_find_ev(c, &a)->st.count, 5);
	SL_ASSERT(coll_find_ev(c, &a)->st.sum_fixed == (__int128)5000000);
	SL_ASSERT_EQ(coll_find_ev(c, &b)->st.count, 2);
	SL_ASSERT_EQ(coll_find_ev(c, &s)->st.count, 2);
	SL_ASSERT_EQ(coll_find_ev(c, &s)->st.distinct, 2);
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(limit_max_set_members)
{
	static const char *const first[] = { "a", "b", "c" };
	struct sl_agg_table *t = table_new(8, 4, 4096);
	struct sl_statsd_event d = ev_set("s2", "d");
	struct sl_statsd_event e = ev_set("s1", "e");
	struct sl_statsd_event again = ev_set("s1", "a");
	struct sl_statsd_event fresh = ev_set("s3", "a");
	struct sl_statsd_event ctr = ev_exact(SL_METRIC_COUNTER, "c", 1000000, 1000000);
	struct coll *c;

	for (uint32_t i = 0; i < 3; i++) {
		struct sl_statsd_event ev = ev_set("s1", first[i]);

		SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), AGG_OK);
	}
	SL_ASSERT_EQ(sl_agg_table_update(t, &d, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_members(t), 4);
	/* A new member of an existing set, a new set: both over the limit. */
	SL_ASSERT_EQ(sl_agg_table_update(t, &e, 1), SL_DROP_SET_LIMIT);
	SL_ASSERT_EQ(sl_agg_table_update(t, &fresh, 1), SL_DROP_SET_LIMIT);
	SL_ASSERT_EQ(sl_agg_table_count(t), 2);
	/* A member already held, and other types, still aggregate. */
	SL_ASSERT_EQ(sl_agg_table_update(t, &again, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ctr, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_count(t), 3);
	SL_ASSERT_EQ(sl_agg_table_members(t), 4);
	c = coll_walk(t);
	SL_ASSERT_EQ(coll_find_ev(c, &again)->st.count, 4); /* the dropped "e" not counted */
	SL_ASSERT_EQ(coll_find_ev(c, &again)->st.distinct, 3);
	SL_ASSERT_EQ(coll_find_ev(c, &again)->n_members, 3);
	SL_ASSERT_EQ(coll_find_ev(c, &d)->st.distinct, 1);
	SL_ASSERT_NULL(coll_find_ev(c, &fresh));
	coll_free(c);
	free(t);

	/* max_set_members = 0: no set at all, everything else works. */
	t = table_new(8, 0, 4096);
	SL_ASSERT_EQ(sl_agg_table_update(t, &d, 1), SL_DROP_SET_LIMIT);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ctr, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_count(t), 1);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(limit_key_bytes)
{
	char n100[5][101], n80[81];
	struct sl_agg_table *t = table_new(100, 0, SL_KEY_MAX);
	struct sl_statsd_event ev;
	struct coll *c;

	for (uint32_t i = 0; i < 5; i++) {
		memset(n100[i], 'a' + i, 100);
		n100[i][100] = '\0';
	}
	memset(n80, 'z', 80);
	n80[80] = '\0';
	/* Keys of 103 bytes: 4 fit in 496, the 5th does not. */
	for (uint32_t i = 0; i < 4; i++) {
		ev = ev_exact(SL_METRIC_COUNTER, n100[i], 1000000, 1000000);
		SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), AGG_OK);
	}
	ev = ev_exact(SL_METRIC_COUNTER, n100[4], 1000000, 1000000);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), SL_DROP_GROUP_LIMIT);
	SL_ASSERT_EQ(sl_agg_table_count(t), 4);
	/* Existing keys still update; a key of 83 bytes fits the last 84. */
	ev = ev_exact(SL_METRIC_COUNTER, n100[0], 1000000, 1000000);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), AGG_OK);
	ev = ev_exact(SL_METRIC_COUNTER, n80, 1000000, 1000000);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), AGG_OK);
	SL_ASSERT_EQ(sl_agg_table_count(t), 5);
	ev = ev_exact(SL_METRIC_COUNTER, "x", 1000000, 1000000);
	SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), SL_DROP_GROUP_LIMIT); /* 4 > 1 left */
	c = coll_walk(t);
	ev = ev_exact(SL_METRIC_COUNTER, n100[0], 1000000, 1000000);
	SL_ASSERT_EQ(coll_find_ev(c, &ev)->st.count, 2);
	coll_free(c);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(reset_empties_and_table_is_reusable)
{
	struct sl_agg_table *t = table_new(4, 8, 4096);
	struct sl_statsd_event a = ev_exact(SL_METRIC_COUNTER, "a", 1000000, 1000000);
	struct sl_statsd_event s = ev_set("s", "m");
	uint64_t start, end;
	uint32_t core;
	struct coll *c;

	sl_agg_table_set_window(t, 1000, 2000, 3);
	sl_agg_table_get_window(t, &start, &end, &core);
	SL_ASSERT_EQ(start, 1000);
	SL_ASSERT_EQ(end, 2000);
	SL_ASSERT_EQ(core, 3);
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 8; i++) {
			char member[8];
			struct sl_statsd_event ev;

			snprintf(member, sizeof(member), "m%u", i);
			ev = ev_set("s", member);
			SL_ASSERT_EQ(sl_agg_table_update(t, &ev, 1), AGG_OK);
		}
		SL_ASSERT_EQ(update_n(t, &a, 3, 1), 3);
		SL_ASSERT_EQ(sl_agg_table_update(t, &s, 1), SL_DROP_SET_LIMIT); /* 9th member */
		SL_ASSERT_EQ(sl_agg_table_count(t), 2);
		SL_ASSERT_EQ(sl_agg_table_members(t), 8);
		c = coll_walk(t);
		SL_ASSERT_EQ(coll_find_ev(c, &a)->st.count, 3); /* nothing left from the last round */
		SL_ASSERT_EQ(coll_find_ev(c, &s)->st.distinct, 8);
		coll_free(c);

		sl_agg_table_reset(t);
		SL_ASSERT_EQ(sl_agg_table_count(t), 0);
		SL_ASSERT_EQ(sl_agg_table_members(t), 0);
		c = coll_walk(t);
		SL_ASSERT_EQ(c->n, 0);
		coll_free(c);
	}
	sl_agg_table_get_window(t, &start, &end, &core);
	SL_ASSERT_EQ(start, 0);
	SL_ASSERT_EQ(end, 0);
	free(t);
	return SL_TEST_PASS;
}

/* ---- merge of three per-core tables against a reference ---- */

enum { MK = 50, MUNIV = 300, MEVENTS = 4000, MCORES = 3 };

struct ref {
	uint8_t key[SL_KEY_MAX];
	uint32_t key_len;
	uint8_t type;
	char name[16];
	char tag[2][16];
	uint32_t n_tags;
	uint64_t count;
	__int128 sum_fixed;
	double sum_float;
	double min, max, last;
	uint64_t last_ns;
	bool seen[MUNIV];
	uint64_t distinct;
};

static void
ref_init(struct ref *r, uint32_t k)
{
	const char *tags[2] = { r->tag[0], r->tag[1] };

	memset(r, 0, sizeof(*r));
	r->type = (uint8_t)(k % SL_METRIC__MAX);
	snprintf(r->name, sizeof(r->name), "m.%02u", k);
	/* Tags given unsorted to the table, sorted here: "env:..." < "host:...". */
	r->n_tags = k / SL_METRIC__MAX % 3;
	snprintf(r->tag[0], sizeof(r->tag[0]), "env:%s", k % 2 ? "dev" : "prod");
	snprintf(r->tag[1], sizeof(r->tag[1]), "host:h%u", k % 7);
	r->key_len = ref_key(r->type, r->name, tags, r->n_tags, r->key);
	r->min = INFINITY;
	r->max = -INFINITY;
}

/* One random event of key r (into *ev, member text in @p member); updates r. */
static void
ref_event(struct ref *r, uint64_t *seed, uint64_t now_ns, char *member, struct sl_statsd_event *ev)
{
	static const int64_t rates[] = { 1000000, 500000, 250000, 100000, 300000 };
	int64_t v = (int64_t)(splitmix64(seed) % 2000000001ULL) - 1000000000; /* +-1000 */
	int64_t rate = rates[splitmix64(seed) % 5];
	bool inexact = splitmix64(seed) % 8 == 0;
	/* Two tags given unsorted on purpose; one tag is "env:...". */
	const char *tags[2] = { r->tag[r->n_tags == 2], r->tag[0] };

	r->count++;
	switch (r->type) {
	case SL_METRIC_SET: {
		uint32_t m = (uint32_t)(splitmix64(seed) % MUNIV);

		snprintf(member, 16, "u%u", m);
		*ev = ev_set(r->name, member);
		r->distinct += !r->seen[m];
		r->seen[m] = true;
		break;
	}
	case SL_METRIC_COUNTER:
		*ev = ev_exact(r->type, r->name, v, rate);
		if (rate == 300000)
			r->sum_float += ev->value / ev->rate;
		else
			r->sum_fixed += (__int128)v * 1000000 / rate;
		break;
	default:
		*ev = inexact ? ev_float(r->type, r->name, (double)v / 1e6 + 1e-7)
			      : ev_exact(r->type, r->name, v, 1000000);
		if (r->type != SL_METRIC_GAUGE && inexact)
			r->sum_float += ev->value;
		else if (r->type != SL_METRIC_GAUGE)
			r->sum_fixed += v;
		r->min = fmin(r->min, ev->value);
		r->max = fmax(r->max, ev->value);
		if (r->type == SL_METRIC_GAUGE && now_ns >= r->last_ns) {
			r->last = ev->value;
			r->last_ns = now_ns;
		}
		break;
	}
	ev_tags(ev, r->n_tags, tags);
}

static uint32_t
ref_find(const struct ref *refs, const uint8_t *key, uint32_t len)
{
	for (uint32_t k = 0; k < MK; k++)
		if (refs[k].key_len == len && memcmp(refs[k].key, key, len) == 0)
			return k;
	return MK;
}

/* Merge the walks of tables in @p order into per-key states and sets. */
static int
merge_tables(struct coll *const *colls, const uint32_t *order, const struct ref *refs,
	     struct sl_agg_state *st, struct sl_agg_set **sets)
{
	for (uint32_t k = 0; k < MK; k++) {
		sl_agg_state_init(&st[k]);
		sets[k] = sl_agg_set_create();
		SL_ASSERT_NOT_NULL(sets[k]);
	}
	for (uint32_t i = 0; i < MCORES; i++) {
		const struct coll *c = colls[order[i]];

		for (uint32_t j = 0; j < c->n; j++) {
			const struct coll_group *g = &c->g[j];
			uint32_t k = ref_find(refs, g->key, g->key_len);

			SL_ASSERT(k < MK);
			SL_ASSERT_EQ(g->type, refs[k].type);
			SL_ASSERT_EQ(g->n_members, g->st.distinct);
			sl_agg_state_merge(&st[k], &g->st);
			SL_ASSERT_OK(sl_agg_set_add(sets[k], g->members, g->n_members));
		}
	}
	return SL_TEST_PASS;
}

static bool
float_close(double a, double b)
{
	return fabs(a - b) <= 1e-9 * (1.0 + fabs(b));
}

SL_TEST(merge_three_cores_matches_reference)
{
	static struct ref refs[MK];
	struct sl_agg_table *t[MCORES];
	struct coll *colls[MCORES];
	struct sl_agg_state st[MK], st2[MK];
	struct sl_agg_set *sets[MK], *sets2[MK];
	static const uint32_t abc[MCORES] = { 0, 1, 2 }, cba[MCORES] = { 2, 1, 0 };
	uint64_t seed = 2026, groups = 0;

	for (uint32_t k = 0; k < MK; k++)
		ref_init(&refs[k], k);
	for (uint32_t i = 0; i < MCORES; i++)
		t[i] = table_new(MK, MK * MUNIV, 8192);
	for (uint32_t i = 0; i < MEVENTS; i++) {
		uint32_t k = (uint32_t)(splitmix64(&seed) % MK);
		uint32_t core = (uint32_t)(splitmix64(&seed) % MCORES);
		/* Distinct, out-of-order arrival times: 7919 is invertible mod 100003. */
		uint64_t now_ns = 1 + (uint64_t)i * 7919 % 100003;
		struct sl_statsd_event ev;
		char member[16];

		ref_event(&refs[k], &seed, now_ns, member, &ev);
		SL_ASSERT_EQ(sl_agg_table_update(t[core], &ev, now_ns), AGG_OK);
	}
	for (uint32_t i = 0; i < MCORES; i++) {
		colls[i] = coll_walk(t[i]);
		SL_ASSERT_EQ(colls[i]->overflow, 0);
		groups += colls[i]->n;
	}
	SL_ASSERT(groups > MK); /* most keys are on several cores */

	SL_ASSERT_OK(merge_tables(colls, abc, refs, st, sets));
	for (uint32_t k = 0; k < MK; k++) {
		const struct ref *r = &refs[k];

		SL_ASSERT(r->count > 0);
		SL_ASSERT_EQ(st[k].count, r->count);
		SL_ASSERT(st[k].sum_fixed == r->sum_fixed);
		SL_ASSERT(float_close(st[k].sum_float, r->sum_float));
		SL_ASSERT_DBL_EQ(st[k].min, r->min);
		SL_ASSERT_DBL_EQ(st[k].max, r->max);
		SL_ASSERT_DBL_EQ(st[k].last, r->last);
		SL_ASSERT_EQ(st[k].last_ns, r->last_ns);
		SL_ASSERT_EQ(sl_agg_set_count(sets[k]), r->distinct);
		SL_ASSERT(sl_agg_set_is_exact(sets[k]));
	}

	/* The other order: the same states (float sums up to rounding), the same sets. */
	SL_ASSERT_OK(merge_tables(colls, cba, refs, st2, sets2));
	for (uint32_t k = 0; k < MK; k++) {
		size_t n1 = sl_agg_state_serialized_size(sets[k]);
		size_t n2 = sl_agg_state_serialized_size(sets2[k]);
		uint8_t *b1 = malloc(n1), *b2 = malloc(n2);

		SL_ASSERT(b1 != NULL && b2 != NULL);
		SL_ASSERT_EQ(st2[k].count, st[k].count);
		SL_ASSERT(st2[k].sum_fixed == st[k].sum_fixed);
		SL_ASSERT(float_close(st2[k].sum_float, st[k].sum_float));
		SL_ASSERT_EQ(dbl_bits(st2[k].min), dbl_bits(st[k].min));
		SL_ASSERT_EQ(dbl_bits(st2[k].max), dbl_bits(st[k].max));
		SL_ASSERT_EQ(dbl_bits(st2[k].last), dbl_bits(st[k].last));
		SL_ASSERT_EQ(st2[k].last_ns, st[k].last_ns);
		SL_ASSERT_EQ(n1, n2);
		SL_ASSERT_EQ(sl_agg_state_serialize(refs[k].type, &st[k], sets[k], b1), n1);
		SL_ASSERT_EQ(sl_agg_state_serialize(refs[k].type, &st[k], sets2[k], b2), n2);
		SL_ASSERT(memcmp(b1, b2, n1) == 0);
		free(b1);
		free(b2);
	}

	for (uint32_t k = 0; k < MK; k++) {
		sl_agg_set_destroy(sets[k]);
		sl_agg_set_destroy(sets2[k]);
	}
	for (uint32_t i = 0; i < MCORES; i++) {
		coll_free(colls[i]);
		free(t[i]);
	}
	return SL_TEST_PASS;
}

SL_TEST(merge_state_rules)
{
	struct sl_agg_state empty, a, b, ab, ba;

	sl_agg_state_init(&empty);
	SL_ASSERT_EQ(empty.count, 0);
	SL_ASSERT(empty.sum_fixed == 0);
	SL_ASSERT_DBL_EQ(empty.min, INFINITY);
	SL_ASSERT_DBL_EQ(empty.max, -INFINITY);

	sl_agg_state_init(&a);
	a.count = 2;
	a.sum_fixed = 5;
	a.sum_float = 0.25;
	a.min = -1;
	a.max = 4;
	a.last = 1;
	a.last_ns = 100;
	b = a;
	b.count = 3;
	b.min = -2;
	b.max = 3;
	b.last = 2;
	b.last_ns = 100; /* the same arrival time on two cores */

	/* Merging an empty state changes nothing; merging into one copies. */
	ab = a;
	sl_agg_state_merge(&ab, &empty);
	SL_ASSERT(state_eq(&ab, &a));
	ab = empty;
	sl_agg_state_merge(&ab, &a);
	SL_ASSERT_EQ(ab.count, a.count);
	SL_ASSERT_DBL_EQ(ab.last, a.last);
	SL_ASSERT_EQ(ab.last_ns, a.last_ns);
	SL_ASSERT_DBL_EQ(ab.min, a.min);

	/* A tie on last_ns must not depend on the merge order. */
	ab = a;
	sl_agg_state_merge(&ab, &b);
	ba = b;
	sl_agg_state_merge(&ba, &a);
	SL_ASSERT_EQ(ab.count, 5);
	SL_ASSERT(ab.sum_fixed == 10);
	SL_ASSERT_DBL_EQ(ab.sum_float, 0.5);
	SL_ASSERT_DBL_EQ(ab.min, -2);
	SL_ASSERT_DBL_EQ(ab.max, 4);
	SL_ASSERT_EQ(ab.last_ns, 100);
	SL_ASSERT(state_eq(&ab, &ba));
	/* A later one wins whatever its value. */
	b.last_ns = 101;
	b.last = -7;
	ab = a;
	sl_agg_state_merge(&ab, &b);
	SL_ASSERT_DBL_EQ(ab.last, -7);
	ba = b;
	sl_agg_state_merge(&ba, &a);
	SL_ASSERT_DBL_EQ(ba.last, -7);
	return SL_TEST_PASS;
}

/* ---- distinct sets: exact, then HyperLogLog ---- */

SL_TEST(set_exact_up_to_limit_then_hll)
{
	struct sl_agg_set *s = sl_agg_set_create();
	uint64_t *h = hashes_range(0, SL_SET_EXACT_MAX + 1);

	SL_ASSERT_NOT_NULL(s);
	SL_ASSERT(sl_agg_set_is_exact(s));
	SL_ASSERT_EQ(sl_agg_set_count(s), 0);
	SL_ASSERT_OK(sl_agg_set_add(s, NULL, 0));
	SL_ASSERT_EQ(sl_agg_set_count(s), 0);
	/* Duplicates, within one call and across calls, count once. */
	SL_ASSERT_OK(sl_agg_set_add(s, h, 100));
	SL_ASSERT_OK(sl_agg_set_add(s, h, 100));
	SL_ASSERT_OK(sl_agg_set_add(s, h + 50, 100));
	SL_ASSERT_EQ(sl_agg_set_count(s), 150);
	SL_ASSERT_OK(sl_agg_set_add(s, h, SL_SET_EXACT_MAX));
	SL_ASSERT(sl_agg_set_is_exact(s));
	SL_ASSERT_EQ(sl_agg_set_count(s), SL_SET_EXACT_MAX);
	SL_ASSERT_OK(sl_agg_set_add(s, h, SL_SET_EXACT_MAX)); /* all seen: still exact */
	SL_ASSERT(sl_agg_set_is_exact(s));
	SL_ASSERT_OK(sl_agg_set_add(s, h + SL_SET_EXACT_MAX, 1));
	SL_ASSERT(!sl_agg_set_is_exact(s));
	SL_ASSERT(hll_close(sl_agg_set_count(s), SL_SET_EXACT_MAX + 1));
	/* Adding what it holds does not move the estimate. */
	uint64_t before = sl_agg_set_count(s);
	SL_ASSERT_OK(sl_agg_set_add(s, h, SL_SET_EXACT_MAX + 1));
	SL_ASSERT_EQ(sl_agg_set_count(s), before);
	free(h);
	sl_agg_set_destroy(s);
	sl_agg_set_destroy(NULL);
	return SL_TEST_PASS;
}

SL_TEST(set_hll_estimate_100000)
{
	struct sl_agg_set *s = sl_agg_set_create();
	uint64_t *h = hashes_range(1000000, 100000);

	SL_ASSERT_NOT_NULL(s);
	for (uint32_t off = 0; off < 100000; off += 1000)
		SL_ASSERT_OK(sl_agg_set_add(s, h + off, 1000));
	SL_ASSERT(!sl_agg_set_is_exact(s));
	SL_ASSERT(hll_close(sl_agg_set_count(s), 100000));
	/* All of them again, in one call: idempotent. */
	uint64_t est = sl_agg_set_count(s);
	SL_ASSERT_OK(sl_agg_set_add(s, h, 100000));
	SL_ASSERT_EQ(sl_agg_set_count(s), est);
	free(h);
	sl_agg_set_destroy(s);

	/* 100000 in a single call from empty. */
	s = set_from_range(5000000, 100000);
	SL_ASSERT(!sl_agg_set_is_exact(s));
	SL_ASSERT(hll_close(sl_agg_set_count(s), 100000));
	sl_agg_set_destroy(s);
	return SL_TEST_PASS;
}

SL_TEST(set_merge_hll_and_exact)
{
	struct sl_agg_set *a = set_from_range(0, 60000);      /* [0, 60000) */
	struct sl_agg_set *b = set_from_range(40000, 60000);  /* [40000, 100000) */
	struct sl_agg_set *e = set_from_range(100000, 1000);  /* exact, disjoint */
	struct sl_agg_set *e2 = set_from_range(100500, 1000); /* exact, overlaps e */
	struct sl_agg_set *x = set_from_range(0, 3000);       /* exact, inside a */
	struct sl_agg_set *y = set_from_range(2000, 3000);    /* exact, overlaps x */
	struct sl_agg_set *empty1 = sl_agg_set_create(), *empty2 = sl_agg_set_create();

	SL_ASSERT(!sl_agg_set_is_exact(a) && !sl_agg_set_is_exact(b));
	SL_ASSERT(sl_agg_set_is_exact(e) && sl_agg_set_is_exact(x));
	/* HLL u HLL: 100000. */
	SL_ASSERT_OK(sl_agg_set_merge(a, b));
	SL_ASSERT(hll_close(sl_agg_set_count(a), 100000));
	/* HLL u exact: 101000. */
	SL_ASSERT_OK(sl_agg_set_merge(a, e));
	SL_ASSERT(!sl_agg_set_is_exact(a));
	SL_ASSERT(hll_close(sl_agg_set_count(a), 101000));
	/* exact u HLL: the exact side becomes a HLL; [40000, 100000) u [100000, 101000). */
	SL_ASSERT_OK(sl_agg_set_merge(e, b));
	SL_ASSERT(!sl_agg_set_is_exact(e));
	SL_ASSERT(hll_close(sl_agg_set_count(e), 61000));
	/* exact u exact, staying exact: 1000 + 3000. */
	SL_ASSERT_OK(sl_agg_set_merge(e2, x));
	SL_ASSERT(sl_agg_set_is_exact(e2));
	SL_ASSERT_EQ(sl_agg_set_count(e2), 4000);
	/* exact u exact past SL_SET_EXACT_MAX: 5000, a HLL. */
	SL_ASSERT_OK(sl_agg_set_merge(x, y));
	SL_ASSERT(!sl_agg_set_is_exact(x));
	SL_ASSERT(hll_close(sl_agg_set_count(x), 5000));
	/* Empty sets. */
	SL_ASSERT_OK(sl_agg_set_merge(empty1, empty2));
	SL_ASSERT(sl_agg_set_is_exact(empty1));
	SL_ASSERT_EQ(sl_agg_set_count(empty1), 0);
	SL_ASSERT_OK(sl_agg_set_merge(empty1, y));
	SL_ASSERT_EQ(sl_agg_set_count(empty1), 3000);
	SL_ASSERT_OK(sl_agg_set_merge(y, empty2));
	SL_ASSERT_EQ(sl_agg_set_count(y), 3000);

	sl_agg_set_destroy(a);
	sl_agg_set_destroy(b);
	sl_agg_set_destroy(e);
	sl_agg_set_destroy(e2);
	sl_agg_set_destroy(x);
	sl_agg_set_destroy(y);
	sl_agg_set_destroy(empty1);
	sl_agg_set_destroy(empty2);
	return SL_TEST_PASS;
}

/* ---- serialization ---- */

static void
state_sample(struct sl_agg_state *st, uint32_t variant)
{
	sl_agg_state_init(st);
	st->count = 123456789012ULL + variant;
	/* Both halves of the i128 in use, negative. */
	st->sum_fixed = -(((__int128)0x0123456789abcdefLL << 64) | 0xfedcba9876543210ULL);
	st->sum_float = variant % 2 ? 0.1 : -0.0;
	st->min = variant % 3 ? -2.5 : INFINITY;
	st->max = variant % 3 ? 1e300 : -INFINITY;
	st->last = 4.75;
	st->last_ns = 0xfedcba9876543210ULL;
}

/* Serialize, check the size, deserialize, check every field and the set, re-serialize. */
static int
round_trip(uint8_t type, const struct sl_agg_state *st, const struct sl_agg_set *set)
{
	size_t n = sl_agg_state_serialized_size(set);
	uint8_t *buf = malloc(n), *again = malloc(n);
	struct sl_agg_set *got_set = NULL;
	struct sl_agg_state got;
	uint8_t got_type = 0xff;

	SL_ASSERT(buf != NULL && again != NULL);
	SL_ASSERT_EQ(sl_agg_state_serialize(type, st, set, buf), n);
	SL_ASSERT_EQ(buf[0], SL_AGG_SER_VERSION);
	SL_ASSERT_EQ(buf[1], type);
	SL_ASSERT_OK(sl_agg_state_deserialize(buf, n, &got_type, &got, &got_set));
	SL_ASSERT_EQ(got_type, type);
	SL_ASSERT_EQ(got.count, st->count);
	SL_ASSERT(got.sum_fixed == st->sum_fixed);
	SL_ASSERT_EQ(dbl_bits(got.sum_float), dbl_bits(st->sum_float));
	SL_ASSERT_EQ(dbl_bits(got.min), dbl_bits(st->min));
	SL_ASSERT_EQ(dbl_bits(got.max), dbl_bits(st->max));
	SL_ASSERT_EQ(dbl_bits(got.last), dbl_bits(st->last));
	SL_ASSERT_EQ(got.last_ns, st->last_ns);
	SL_ASSERT_EQ(got.distinct, set ? sl_agg_set_count(set) : 0);
	SL_ASSERT_EQ(got_set != NULL, set != NULL);
	if (set != NULL) {
		SL_ASSERT_EQ(sl_agg_set_is_exact(got_set), sl_agg_set_is_exact(set));
		SL_ASSERT_EQ(sl_agg_set_count(got_set), sl_agg_set_count(set));
	}
	SL_ASSERT_EQ(sl_agg_state_serialize(got_type, &got, got_set, again), n);
	SL_ASSERT(memcmp(buf, again, n) == 0);
	sl_agg_set_destroy(got_set);

	/* Without ret_set: the set is read, counted and freed. */
	memset(&got, 0, sizeof(got));
	SL_ASSERT_OK(sl_agg_state_deserialize(buf, n, &got_type, &got, NULL));
	SL_ASSERT_EQ(got.distinct, set ? sl_agg_set_count(set) : 0);
	free(buf);
	free(again);
	return SL_TEST_PASS;
}

SL_TEST(serialize_round_trips_every_type_and_set_kind)
{
	struct sl_agg_set *empty = sl_agg_set_create();
	struct sl_agg_set *exact = set_from_range(77, 10);
	struct sl_agg_set *full = set_from_range(0, SL_SET_EXACT_MAX);
	struct sl_agg_set *hll = set_from_range(0, 20000);
	struct sl_agg_state st;

	SL_ASSERT(sl_agg_set_is_exact(full) && !sl_agg_set_is_exact(hll));
	SL_ASSERT_EQ(sl_agg_state_serialized_size(NULL), SL_AGG_SER_HDR);
	SL_ASSERT_EQ(sl_agg_state_serialized_size(empty), SL_AGG_SER_HDR);
	SL_ASSERT_EQ(sl_agg_state_serialized_size(exact), SL_AGG_SER_HDR + 80);
	SL_ASSERT_EQ(sl_agg_state_serialized_size(hll), SL_AGG_SER_HDR + SL_HLL_REGS);
	for (uint8_t type = 0; type < SL_METRIC__MAX; type++) {
		for (uint32_t variant = 0; variant < 6; variant++) {
			state_sample(&st, variant);
			SL_ASSERT_OK(round_trip(type, &st, NULL));
		}
		/* A state just initialised (infinite min/max) too. */
		sl_agg_state_init(&st);
		SL_ASSERT_OK(round_trip(type, &st, NULL));
	}
	state_sample(&st, 1);
	SL_ASSERT_OK(round_trip(SL_METRIC_SET, &st, empty));
	SL_ASSERT_OK(round_trip(SL_METRIC_SET, &st, exact));
	SL_ASSERT_OK(round_trip(SL_METRIC_SET, &st, full));
	SL_ASSERT_OK(round_trip(SL_METRIC_SET, &st, hll));
	sl_agg_set_destroy(empty);
	sl_agg_set_destroy(exact);
	sl_agg_set_destroy(full);
	sl_agg_set_destroy(hll);
	return SL_TEST_PASS;
}

SL_TEST(serialize_deserialized_set_keeps_working)
{
	struct sl_agg_set *exact = set_from_range(0, 1000), *got = NULL;
	size_t n = sl_agg_state_serialized_size(exact);
	uint8_t *buf = malloc(n);
	uint64_t *more = hashes_range(500, 4000);
	struct sl_agg_state st;
	uint8_t type;

	SL_ASSERT_NOT_NULL(buf);
	sl_agg_state_init(&st);
	sl_agg_state_serialize(SL_METRIC_SET, &st, exact, buf);
	SL_ASSERT_OK(sl_agg_state_deserialize(buf, n, &type, &st, &got));
	SL_ASSERT_EQ(st.distinct, 1000);
	/* Grows past its exact size: [0, 4500), a HLL. */
	SL_ASSERT_OK(sl_agg_set_add(got, more, 3000));
	SL_ASSERT(sl_agg_set_is_exact(got));
	SL_ASSERT_EQ(sl_agg_set_count(got), 3500);
	SL_ASSERT_OK(sl_agg_set_add(got, more + 3000, 1000));
	SL_ASSERT(!sl_agg_set_is_exact(got));
	SL_ASSERT(hll_close(sl_agg_set_count(got), 4500));
	sl_agg_set_destroy(got);
	sl_agg_set_destroy(exact);
	free(more);
	free(buf);
	return SL_TEST_PASS;
}

/* Every truncation and one extra byte of a valid value: -EINVAL, nothing returned. */
static int
rejects_truncations(const uint8_t *buf, size_t n)
{
	uint8_t *longer = malloc(n + 1);
	struct sl_agg_set *set = NULL;
	struct sl_agg_state st;
	uint8_t type;

	SL_ASSERT_NOT_NULL(longer);
	for (size_t len = 0; len < n; len++) {
		uint8_t *exact = malloc(len + !len); /* exact size: ASan sees over-reads */

		SL_ASSERT_NOT_NULL(exact);
		memcpy(exact, buf, len);
		SL_ASSERT_EQ(sl_agg_state_deserialize(exact, len, &type, &st, &set), -EINVAL);
		SL_ASSERT_NULL(set);
		free(exact);
	}
	memcpy(longer, buf, n);
	longer[n] = 0;
	SL_ASSERT_EQ(sl_agg_state_deserialize(longer, n + 1, &type, &st, &set), -EINVAL);
	SL_ASSERT_NULL(set);
	SL_ASSERT_OK(sl_agg_state_deserialize(longer, n, &type, &st, &set));
	sl_agg_set_destroy(set);
	free(longer);
	return SL_TEST_PASS;
}

/* A copy of @p buf with byte @p at set to @p v must be rejected. */
static int
rejects_byte(const uint8_t *buf, size_t n, size_t at, uint8_t v)
{
	uint8_t *bad = malloc(n);
	struct sl_agg_set *set = NULL;
	struct sl_agg_state st;
	uint8_t type;

	SL_ASSERT_NOT_NULL(bad);
	memcpy(bad, buf, n);
	bad[at] = v;
	SL_ASSERT_EQ(sl_agg_state_deserialize(bad, n, &type, &st, &set), -EINVAL);
	SL_ASSERT_NULL(set);
	free(bad);
	return SL_TEST_PASS;
}

SL_TEST(deserialize_rejects_malformed)
{
	struct sl_agg_set *exact = set_from_range(0, 10), *hll = set_from_range(0, 10000);
	uint8_t plain[SL_AGG_SER_HDR], *bex, *bhll, *big;
	size_t nex = sl_agg_state_serialized_size(exact), nhll = sl_agg_state_serialized_size(hll);
	const size_t nbig = SL_AGG_SER_HDR + (SL_SET_EXACT_MAX + 1) * 8;
	struct sl_agg_set *set = NULL;
	struct sl_agg_state st;
	uint8_t type;

	bex = malloc(nex);
	bhll = malloc(nhll);
	big = malloc(nbig);
	SL_ASSERT(bex != NULL && bhll != NULL && big != NULL);
	state_sample(&st, 1);
	sl_agg_state_serialize(SL_METRIC_TIMER, &st, NULL, plain);
	sl_agg_state_serialize(SL_METRIC_SET, &st, exact, bex);
	sl_agg_state_serialize(SL_METRIC_SET, &st, hll, bhll);

	SL_ASSERT_OK(rejects_truncations(plain, sizeof(plain)));
	SL_ASSERT_OK(rejects_truncations(bex, nex));
	SL_ASSERT_OK(rejects_truncations(bhll, nhll));

	/* Version, type, set kind. */
	SL_ASSERT_OK(rejects_byte(plain, sizeof(plain), 0, 0));
	SL_ASSERT_OK(rejects_byte(plain, sizeof(plain), 0, SL_AGG_SER_VERSION + 1));
	SL_ASSERT_OK(rejects_byte(plain, sizeof(plain), 1, SL_METRIC__MAX));
	SL_ASSERT_OK(rejects_byte(plain, sizeof(plain), 1, 0xff));
	SL_ASSERT_OK(rejects_byte(plain, sizeof(plain), 2, 3));
	SL_ASSERT_OK(rejects_byte(bex, nex, 2, 0));             /* none, with members */
	SL_ASSERT_OK(rejects_byte(bex, nex, 2, 2));             /* hll, with 10 */
	SL_ASSERT_OK(rejects_byte(bhll, nhll, 2, 1));           /* exact, n = 16384 */
	/* Member count that does not match the length. */
	SL_ASSERT_OK(rejects_byte(bex, nex, 4, 9));
	SL_ASSERT_OK(rejects_byte(bex, nex, 4, 11));
	SL_ASSERT_OK(rejects_byte(bex, nex, 7, 1));
	SL_ASSERT_OK(rejects_byte(bhll, nhll, 4, 1));
	/* Exact members not strictly increasing: swapped, duplicated. */
	{
		uint8_t *bad = malloc(nex);

		SL_ASSERT_NOT_NULL(bad);
		memcpy(bad, bex, nex);
		memcpy(bad + SL_AGG_SER_HDR + 3 * 8, bex + SL_AGG_SER_HDR + 4 * 8, 8);
		memcpy(bad + SL_AGG_SER_HDR + 4 * 8, bex + SL_AGG_SER_HDR + 3 * 8, 8);
		SL_ASSERT_EQ(sl_agg_state_deserialize(bad, nex, &type, &st, &set), -EINVAL);
		memcpy(bad, bex, nex);
		memcpy(bad + SL_AGG_SER_HDR + 9 * 8, bex + SL_AGG_SER_HDR + 8 * 8, 8);
		SL_ASSERT_EQ(sl_agg_state_deserialize(bad, nex, &type, &st, &set), -EINVAL);
		SL_ASSERT_NULL(set);
		free(bad);
	}
	/* HLL register past the largest possible rank (64 - P + 1). */
	SL_ASSERT_OK(rejects_byte(bhll, nhll, SL_AGG_SER_HDR + 5, 64 - SL_HLL_P + 2));
	SL_ASSERT_OK(rejects_byte(bhll, nhll, nhll - 1, 0xff));
	{
		uint8_t *ok = malloc(nhll);

		SL_ASSERT_NOT_NULL(ok);
		memcpy(ok, bhll, nhll);
		ok[SL_AGG_SER_HDR + 5] = 64 - SL_HLL_P + 1;
		SL_ASSERT_OK(sl_agg_state_deserialize(ok, nhll, &type, &st, &set));
		SL_ASSERT(!sl_agg_set_is_exact(set));
		sl_agg_set_destroy(set);
		set = NULL;
		free(ok);
	}
	/* Exact with more than SL_SET_EXACT_MAX members, well formed otherwise. */
	memcpy(big, plain, SL_AGG_SER_HDR);
	big[1] = SL_METRIC_SET;
	big[2] = 1;
	for (uint32_t i = 0; i < SL_SET_EXACT_MAX + 1; i++)
		for (int j = 0; j < 8; j++)
			big[SL_AGG_SER_HDR + 8 * i + j] = (uint8_t)((uint64_t)(i + 1) >> (8 * j));
	big[4] = (uint8_t)(SL_SET_EXACT_MAX + 1);
	big[5] = (uint8_t)((SL_SET_EXACT_MAX + 1) >> 8);
	big[6] = big[7] = 0;
	SL_ASSERT_EQ(sl_agg_state_deserialize(big, nbig, &type, &st, &set), -EINVAL);
	SL_ASSERT_NULL(set);
	/* ... and exactly SL_SET_EXACT_MAX is fine. */
	big[4] = (uint8_t)SL_SET_EXACT_MAX;
	big[5] = (uint8_t)(SL_SET_EXACT_MAX >> 8);
	SL_ASSERT_OK(sl_agg_state_deserialize(big, nbig - 8, &type, &st, &set));
	SL_ASSERT_EQ(sl_agg_set_count(set), SL_SET_EXACT_MAX);
	SL_ASSERT_EQ(st.distinct, SL_SET_EXACT_MAX);
	sl_agg_set_destroy(set);

	free(bex);
	free(bhll);
	free(big);
	sl_agg_set_destroy(exact);
	sl_agg_set_destroy(hll);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
