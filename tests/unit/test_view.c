/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of dataplane/view.c: plans compiled from YAML views, where
 * filtering, group keys, every aggregate against a reference computed here,
 * the overflow group and the limits, reset, merge of walked per-core states
 * and the serialized form. Events are built by hand, the way the JSON parser
 * fills them. Tables live in aligned_alloc() memory filled with garbage first.
 */

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"
#include "sl_test.h"

#define OK SL_DROP__MAX

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* ---- events ---- */

static void
ev_init(struct sl_event *ev, const char *name, uint64_t ts_ns)
{
	memset(ev, 0, sizeof(*ev));
	ev->name = (struct sl_span){ (const uint8_t *)name, (uint32_t)strlen(name) };
	ev->ts_ns = ts_ns;
}

static struct sl_event_field *
ev_field(struct sl_event *ev, const char *key)
{
	struct sl_event_field *f = &ev->fields[ev->n_fields++];

	memset(f, 0, sizeof(*f));
	f->key = (struct sl_span){ (const uint8_t *)key, (uint32_t)strlen(key) };
	return f;
}

static void
ev_str(struct sl_event *ev, const char *key, const char *v)
{
	struct sl_event_field *f = ev_field(ev, key);

	f->kind = SL_FIELD_STR;
	f->str = (struct sl_span){ (const uint8_t *)v, (uint32_t)strlen(v) };
}

/* An exact number (at most 6 decimals), given in micro-units. */
static void
ev_num(struct sl_event *ev, const char *key, int64_t micro)
{
	struct sl_event_field *f = ev_field(ev, key);

	f->kind = SL_FIELD_NUM;
	f->num = (double)micro / 1e6;
	f->num_micro = micro;
	f->num_exact = true;
}

static void
ev_float(struct sl_event *ev, const char *key, double v)
{
	struct sl_event_field *f = ev_field(ev, key);

	f->kind = SL_FIELD_NUM;
	f->num = v;
}

/* ---- fixtures ---- */

struct fix {
	struct sl_config *cfg;
	struct sl_view_plan *plan;
	void *mem;
	struct sl_view_table *t;
};

static int
fix_plan(struct fix *fx, const char *yaml, const char *view)
{
	struct sl_config_error err;

	memset(fx, 0, sizeof(*fx));
	if (sl_config_load_string(yaml, strlen(yaml), "t.yaml", &fx->cfg, &err) != 0) {
		sl_config_error_print(&err, stderr);
		return -1;
	}
	for (uint32_t i = 0; i < fx->cfg->n_views; i++)
		if (strcmp(fx->cfg->views[i].name, view) == 0)
			return sl_view_plan_create(&fx->cfg->views[i], NULL, &fx->plan);
	return -1;
}

static struct sl_view_table *
table_new(const struct sl_view_plan *plan, uint32_t max_groups, uint32_t max_members, void **ret_mem)
{
	struct sl_view_limits lim = { max_groups, max_members, 0 };
	size_t sz = sl_view_table_memsize(plan, &lim);
	void *mem;

	if (sz == 0)
		return NULL;
	mem = aligned_alloc(64, sz);
	if (mem == NULL)
		return NULL;
	memset(mem, 0xa5, sz);
	*ret_mem = mem;
	return sl_view_table_init(mem, plan, &lim);
}

static int
fix_open(struct fix *fx, const char *yaml, const char *view, uint32_t max_groups,
	 uint32_t max_members)
{
	if (fix_plan(fx, yaml, view) != 0)
		return -1;
	fx->t = table_new(fx->plan, max_groups, max_members, &fx->mem);
	return fx->t ? 0 : -1;
}

static void
fix_close(struct fix *fx)
{
	free(fx->mem);
	sl_view_plan_destroy(fx->plan);
	sl_config_free(fx->cfg);
}

#define HEAD                                                                           \
	"version: 1\n"                                                                 \
	"inputs: [{format: json, port: 8127}]\n"                                       \
	"views:\n"

/* A view with every aggregate. */
static const char all_yaml[] = HEAD
	"  - name: all\n"
	"    where: {event: purchase}\n"
	"    group_by: [store]\n"
	"    window: {size: 10s}\n"
	"    aggregates: [count, \"sum(amount)\", \"avg(amount)\", \"min(amount)\",\n"
	"                 \"max(amount)\", \"last(amount)\", \"distinct(user)\",\n"
	"                 \"quantiles(amount, [0.5, 0.9, 0.99])\", \"topk(sku, 5)\"]\n";

enum { A_COUNT, A_SUM, A_AVG, A_MIN, A_MAX, A_LAST, A_DISTINCT, A_Q, A_TOPK };

/* ---- walk helpers ---- */

struct group_copy {
	uint8_t key[SL_VIEW_KEY_MAX];
	uint32_t key_len;
	void *block;
	struct sl_agg_set *sets[SL_CONFIG_AGGS_MAX];
};

struct collect {
	const struct sl_view_plan *plan;
	struct group_copy g[64];
	uint32_t n;
	int err;
};

static struct group_copy *
collect_find(struct collect *c, const uint8_t *key, uint32_t len)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->g[i].key_len == len && memcmp(c->g[i].key, key, len) == 0)
			return &c->g[i];
	if (c->n == 64)
		return NULL;
	memcpy(c->g[c->n].key, key, len);
	c->g[c->n].key_len = len;
	c->g[c->n].block = aligned_alloc(16, sl_view_plan_group_size(c->plan));
	sl_view_state_init(c->plan, c->g[c->n].block);
	return &c->g[c->n++];
}

/* Merge every walked group into the collection (by key). */
static void
collect_fn(const uint8_t *key, uint32_t key_len, void *state, const uint64_t *const *members,
	   const uint32_t *n_members, void *arg)
{
	struct collect *c = arg;
	struct group_copy *g = collect_find(c, key, key_len);
	struct sl_agg_set *src[SL_CONFIG_AGGS_MAX] = { NULL };
	uint32_t n = sl_view_plan_n_aggs(c->plan);

	if (g == NULL) {
		c->err = -ENOSPC;
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (sl_view_plan_agg_kind(c->plan, i) != SL_CONFIG_AGG_DISTINCT)
			continue;
		src[i] = sl_agg_set_create();
		if (n_members[i] > 0)
			sl_agg_set_add(src[i], members[i], n_members[i]);
	}
	if (sl_view_state_merge(c->plan, g->block, g->sets, state, src) != 0)
		c->err = -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		sl_agg_set_destroy(src[i]);
}

static void
collect_free(struct collect *c)
{
	for (uint32_t i = 0; i < c->n; i++) {
		free(c->g[i].block);
		for (uint32_t j = 0; j < SL_CONFIG_AGGS_MAX; j++)
			sl_agg_set_destroy(c->g[i].sets[j]);
	}
}

static void
walk_into(struct sl_view_table *t, struct collect *c)
{
	uint32_t n = sl_view_table_members(t);
	uint64_t *scratch = malloc(((size_t)n + 1) * sizeof(*scratch));

	sl_view_table_walk(t, scratch, n, collect_fn, c);
	free(scratch);
}

static char *
finalize(const struct sl_view_plan *plan, const void *block, struct sl_agg_set *const *sets)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	if (sl_view_state_finalize_json(plan, block, sets, f) != 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* ---- tests ---- */

SL_TEST(default_views_compile)
{
	const char *yaml = sl_config_default_yaml();
	static const char *const names[] = { "footfall", "sales", "popular" };
	struct sl_config *cfg;
	struct sl_config_error err;

	SL_ASSERT_OK(sl_config_load_string(yaml, strlen(yaml), "<default>", &cfg, &err));
	SL_ASSERT_EQ(cfg->n_views, 3);
	for (uint32_t i = 0; i < 3; i++) {
		struct sl_view_plan *plan;
		struct sl_view_limits lim = { cfg->views[i].max_groups, cfg->limits.max_set_members, 0 };

		SL_ASSERT_STR_EQ(cfg->views[i].name, names[i]);
		SL_ASSERT_OK(sl_view_plan_create(&cfg->views[i], NULL, &plan));
		SL_ASSERT_EQ(sl_view_plan_group_size(plan) % 16, 0);
		SL_ASSERT_EQ(sl_view_plan_n_dims(plan), 1);
		printf("# view %-8s group state %6zu bytes, table (max_groups %u) %zu MiB\n",
		       names[i], sl_view_plan_group_size(plan), lim.max_groups,
		       sl_view_table_memsize(plan, &lim) >> 20);
		sl_view_plan_destroy(plan);
	}
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

SL_TEST(plan_rejects_bad_views)
{
	struct sl_config_view v;
	struct sl_config_agg agg = { .kind = SL_CONFIG_AGG_TOPK, .field = "sku", .k = 0, .key = "x" };
	struct sl_view_plan *plan = NULL;
	struct sl_view_plan_params params = { .dds_max_buckets = 1 };

	memset(&v, 0, sizeof(v));
	v.name = "v";
	SL_ASSERT_EQ(sl_view_plan_create(&v, NULL, &plan), -EINVAL); /* no aggregates */
	v.aggs = &agg;
	v.n_aggs = 1;
	SL_ASSERT_EQ(sl_view_plan_create(&v, NULL, &plan), -EINVAL); /* k = 0 */
	agg.k = 3;
	SL_ASSERT_EQ(sl_view_plan_create(&v, &params, &plan), -EINVAL);
	agg.field = NULL;
	SL_ASSERT_EQ(sl_view_plan_create(&v, NULL, &plan), -EINVAL);
	SL_ASSERT_NULL(plan);
	agg.field = "sku";
	SL_ASSERT_OK(sl_view_plan_create(&v, NULL, &plan));
	SL_ASSERT_STR_EQ(sl_view_plan_agg_key(plan, 0), "x");
	sl_view_plan_destroy(plan);
	sl_view_plan_destroy(NULL);
	return SL_TEST_PASS;
}

SL_TEST(where_conditions)
{
	static const char yaml[] = HEAD
		"  - name: w\n"
		"    where:\n"
		"      event: purchase\n"
		"      store: [s1, s2, \"12\"]\n"
		"      coupon: {exists: true}\n"
		"      promo: {exists: false}\n"
		"    window: {size: 10s}\n"
		"    aggregates: [count]\n";
	struct sl_view_table_stats stats;
	struct sl_event ev;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, yaml, "w", 10, 10));
	ev_init(&ev, "purchase", 0);
	ev_str(&ev, "store", "s1");
	ev_str(&ev, "coupon", "");
	SL_ASSERT(sl_view_plan_match(fx.plan, &ev));
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), OK);

	ev.name.len = 5; /* "purch" */
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), SL_DROP_FILTERED);
	ev_init(&ev, "", 0); /* no name at all */
	ev_str(&ev, "store", "s1");
	ev_str(&ev, "coupon", "x");
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), SL_DROP_FILTERED);

	ev_init(&ev, "purchase", 0);
	ev_str(&ev, "store", "s3"); /* not in the set */
	ev_str(&ev, "coupon", "x");
	SL_ASSERT(!sl_view_plan_match(fx.plan, &ev));
	ev_init(&ev, "purchase", 0);
	ev_str(&ev, "store", "s2");
	SL_ASSERT(!sl_view_plan_match(fx.plan, &ev)); /* coupon missing */
	ev_num(&ev, "coupon", 5000000);              /* any kind exists */
	SL_ASSERT(sl_view_plan_match(fx.plan, &ev));
	ev_str(&ev, "promo", "y");
	SL_ASSERT(!sl_view_plan_match(fx.plan, &ev)); /* promo exists */

	/* A number compares by its decimal text: 12 and 12.000 are "12". */
	ev_init(&ev, "purchase", 0);
	ev_num(&ev, "store", 12000000);
	ev_str(&ev, "coupon", "x");
	SL_ASSERT(sl_view_plan_match(fx.plan, &ev));
	ev.fields[0].num_micro = 12500000;
	ev.fields[0].num = 12.5;
	SL_ASSERT(!sl_view_plan_match(fx.plan, &ev));
	/* The where value "s1" is not a prefix match. */
	ev_init(&ev, "purchase", 0);
	ev_str(&ev, "store", "s10");
	ev_str(&ev, "coupon", "x");
	SL_ASSERT(!sl_view_plan_match(fx.plan, &ev));

	sl_view_table_stats(fx.t, &stats);
	SL_ASSERT_EQ(stats.aggregated, 1);
	SL_ASSERT_EQ(stats.filtered, 2);
	SL_ASSERT_EQ(sl_view_table_count(fx.t), 1);
	SL_ASSERT_STR_EQ(sl_drop_reason_name(SL_DROP_FILTERED), "filtered");
	fix_close(&fx);
	return SL_TEST_PASS;
}

/* Tags: the where on `tags` compiled to a mask with the config's tag table. */
SL_TEST(where_on_tags)
{
	static const char yaml[] =
		"version: 1\n"
		"rules:\n"
		"  - {id: r0, pattern: a, on: raw, action: tag, tag: abuse}\n"
		"  - {id: r1, pattern: b, on: raw, action: count}\n"
		"  - {id: r2, pattern: c, on: raw, action: tag, tag: fraud}\n"
		"  - {id: r3, pattern: d, on: raw, action: tag}\n"
		"views:\n"
		"  - {name: one, where: {tags: fraud}, window: {size: 1s}, aggregates: [count]}\n"
		"  - {name: set, where: {tags: [abuse, r3], event: buy}, window: {size: 1s}, "
		"aggregates: [count]}\n"
		"  - {name: any, where: {tags: {exists: true}}, window: {size: 1s}, aggregates: [count]}\n"
		"  - {name: none, where: {tags: {exists: false}}, window: {size: 1s}, "
		"aggregates: [count]}\n";
	/* Expected matches of views one, set, any, none for tag masks 0..7 (name "buy"). */
	static const bool want[8][4] = {
		{ false, false, false, true }, { false, true, true, false },
		{ true, false, true, false },  { true, true, true, false },
		{ false, true, true, false },  { false, true, true, false },
		{ true, true, true, false },   { true, true, true, false },
	};
	struct sl_view_plan_params params = { 0 };
	struct sl_view_plan *plans[4];
	struct sl_config_error err;
	struct sl_config *cfg;
	struct sl_event ev;

	SL_ASSERT_OK(sl_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, &err));
	SL_ASSERT_EQ(cfg->n_tags, 3); /* abuse, fraud, r3 */
	/* Without a tag table a view on tags does not compile. */
	SL_ASSERT_EQ(sl_view_plan_create(&cfg->views[0], NULL, &plans[0]), -EINVAL);
	SL_ASSERT_EQ(sl_view_plan_create(&cfg->views[2], &params, &plans[0]), -EINVAL);
	params.cfg = cfg;
	for (uint32_t i = 0; i < 4; i++)
		SL_ASSERT_OK(sl_view_plan_create(&cfg->views[i], &params, &plans[i]));
	for (uint64_t tags = 0; tags < 8; tags++) {
		ev_init(&ev, "buy", 0);
		ev.tags = tags;
		for (uint32_t v = 0; v < 4; v++)
			if (sl_view_plan_match(plans[v], &ev) != want[tags][v])
				SL_FAILF("tags %#llx view %u", (unsigned long long)tags, v);
	}
	/* Bits of no tag: neither abuse, fraud nor r3, but some tag. */
	ev.tags = 1ULL << 40;
	SL_ASSERT(!sl_view_plan_match(plans[0], &ev));
	SL_ASSERT(!sl_view_plan_match(plans[1], &ev));
	SL_ASSERT(sl_view_plan_match(plans[2], &ev));
	SL_ASSERT(!sl_view_plan_match(plans[3], &ev));
	/* A field named "tags" is not the tags dimension. */
	ev_init(&ev, "buy", 0);
	ev_str(&ev, "tags", "fraud");
	SL_ASSERT(!sl_view_plan_match(plans[0], &ev));
	SL_ASSERT(sl_view_plan_match(plans[3], &ev));
	/* Other conditions still hold: "set" also needs event buy. */
	ev_init(&ev, "sell", 0);
	ev.tags = 1;
	SL_ASSERT(!sl_view_plan_match(plans[1], &ev));
	for (uint32_t i = 0; i < 4; i++)
		sl_view_plan_destroy(plans[i]);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

/* Hand-built views the loader would reject: an unknown tag, tags in group_by. */
SL_TEST(plan_rejects_bad_tag_views)
{
	static const char yaml[] =
		"version: 1\n"
		"rules: [{id: r0, pattern: a, on: raw, action: tag, tag: abuse}]\n"
		"views: []\n";
	const char *values[] = { "abuse", "nope" };
	struct sl_config_cond cond = { .kind = SL_CONFIG_COND_IN, .dim = "tags", .values = values,
				       .n_values = 2 };
	struct sl_config_agg agg = { .kind = SL_CONFIG_AGG_COUNT, .key = "count" };
	struct sl_view_plan_params params = { 0 };
	struct sl_view_plan *plan = NULL;
	struct sl_config_error err;
	struct sl_config_view v;
	struct sl_config *cfg;

	SL_ASSERT_OK(sl_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, &err));
	params.cfg = cfg;
	memset(&v, 0, sizeof(v));
	v.name = "v";
	v.aggs = &agg;
	v.n_aggs = 1;
	v.where = &cond;
	v.n_where = 1;
	SL_ASSERT_EQ(sl_view_plan_create(&v, &params, &plan), -EINVAL);
	cond.n_values = 1;
	SL_ASSERT_OK(sl_view_plan_create(&v, &params, &plan));
	sl_view_plan_destroy(plan);
	v.n_where = 0;
	v.group_by[0] = "tags";
	v.n_group_by = 1;
	SL_ASSERT_EQ(sl_view_plan_create(&v, &params, &plan), -EINVAL);
	SL_ASSERT_EQ(sl_view_plan_create(&v, NULL, &plan), -EINVAL);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

SL_TEST(field_text)
{
	static const struct {
		int kind; /* 0 str, 1 exact micro, 2 float, 3 bool, 4 null */
		const char *s;
		int64_t micro;
		double d;
		const char *want;
	} cases[] = {
		{ 0, "s1", 0, 0, "s1" },       { 0, "", 0, 0, "" },
		{ 1, NULL, 12000000, 0, "12" }, { 1, NULL, -3250000, 0, "-3.25" },
		{ 1, NULL, 1, 0, "0.000001" }, { 1, NULL, 0, 0, "0" },
		{ 2, NULL, 0, 0.1234567, "0.1234567" }, { 2, NULL, 0, 1e300, "1e+300" },
		{ 3, NULL, 1, 0, "true" },     { 3, NULL, 0, 0, "false" },
		{ 4, NULL, 0, 0, "null" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_event ev;
		char buf[SL_VIEW_TEXT_MAX];
		struct sl_span t;

		ev_init(&ev, "x", 0);
		switch (cases[i].kind) {
		case 0:
			ev_str(&ev, "f", cases[i].s);
			break;
		case 1:
			ev_num(&ev, "f", cases[i].micro);
			break;
		case 2:
			ev_float(&ev, "f", cases[i].d);
			break;
		case 3:
			ev_field(&ev, "f")->kind = SL_FIELD_BOOL;
			ev.fields[0].b = cases[i].micro != 0;
			break;
		default:
			ev_field(&ev, "f")->kind = SL_FIELD_NULL;
			break;
		}
		sl_view_field_text(&ev.fields[0], buf, &t);
		if (t.len != strlen(cases[i].want) || memcmp(t.p, cases[i].want, t.len) != 0)
			SL_FAILF("case %zu: '%.*s', want '%s'", i, (int)t.len, (const char *)t.p,
				 cases[i].want);
	}
	return SL_TEST_PASS;
}

struct keys_seen {
	uint32_t n;
	char text[8][64];
};

static void
keys_fn(const uint8_t *key, uint32_t key_len, void *state, const uint64_t *const *members,
	const uint32_t *n_members, void *arg)
{
	struct keys_seen *ks = arg;
	struct sl_view_key k;
	int n = 0;

	(void)state;
	(void)members;
	(void)n_members;
	if (ks->n == 8 || sl_view_key_decode(key, key_len, &k) != 0)
		return;
	for (uint32_t i = 0; i < k.n_dims; i++)
		n += snprintf(ks->text[ks->n] + n, 64 - n, "%s%.*s", i ? "|" : "", (int)k.dims[i].len,
			      (const char *)k.dims[i].p);
	ks->n++;
}

static bool
seen(const struct keys_seen *ks, const char *s)
{
	for (uint32_t i = 0; i < ks->n; i++)
		if (strcmp(ks->text[i], s) == 0)
			return true;
	return false;
}

SL_TEST(group_by_keys)
{
	static const char yaml[] = HEAD
		"  - name: g\n"
		"    group_by: [store, event, n]\n"
		"    window: {size: 10s}\n"
		"    aggregates: [count]\n";
	static const uint8_t want[] = { 3, 2, 's', '1', 5, 'v', 'i', 's', 'i', 't', 0 };
	struct keys_seen ks = { 0 };
	struct sl_view_key k;
	struct sl_event ev;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, yaml, "g", 10, 0));
	ev_init(&ev, "visit", 0);
	ev_str(&ev, "store", "s1");
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), OK);
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), OK);
	ev_init(&ev, "visit", 0);
	ev_str(&ev, "store", "s1");
	ev_num(&ev, "n", -3250000);
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), OK);
	ev_init(&ev, "", 0);
	ev_float(&ev, "n", 0.1234567);
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), OK);
	ev_init(&ev, "", 0);
	ev_field(&ev, "n")->kind = SL_FIELD_BOOL;
	ev.fields[0].b = true;
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), OK);
	SL_ASSERT_EQ(sl_view_table_count(fx.t), 4);
	sl_view_table_walk(fx.t, NULL, 0, keys_fn, &ks);
	SL_ASSERT_EQ(ks.n, 4);
	SL_ASSERT(seen(&ks, "s1|visit|"));
	SL_ASSERT(seen(&ks, "s1|visit|-3.25"));
	SL_ASSERT(seen(&ks, "||0.1234567"));
	SL_ASSERT(seen(&ks, "||true"));

	SL_ASSERT_OK(sl_view_key_decode(want, sizeof(want), &k));
	SL_ASSERT_EQ(k.n_dims, 3);
	SL_ASSERT_EQ(k.dims[2].len, 0);
	for (uint32_t cut = 0; cut < sizeof(want); cut++)
		SL_ASSERT_EQ(sl_view_key_decode(want, cut, &k), -EINVAL);
	{
		uint8_t bad[sizeof(want) + 1];

		memcpy(bad, want, sizeof(want));
		bad[sizeof(want)] = 0; /* trailing byte */
		SL_ASSERT_EQ(sl_view_key_decode(bad, sizeof(bad), &k), -EINVAL);
		bad[0] = 5;
		SL_ASSERT_EQ(sl_view_key_decode(bad, sizeof(want), &k), -EINVAL);
	}
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(key_too_long)
{
	static const char yaml[] = HEAD
		"  - name: g\n"
		"    group_by: [a, b]\n"
		"    window: {size: 10s}\n"
		"    aggregates: [count]\n";
	char big[256];
	struct sl_event ev;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, yaml, "g", 10, 0));
	memset(big, 'x', 255);
	big[255] = 0;
	ev_init(&ev, "e", 0);
	ev_str(&ev, "a", big);
	ev_str(&ev, "b", big);
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), SL_DROP_KEY_TOO_LONG);
	ev.fields[1].str.len = SL_VIEW_KEY_MAX - 258; /* 1 + 256 + 1 + 238 = 496 */
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), OK);
	ev.fields[1].str.len++;
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 1), SL_DROP_KEY_TOO_LONG);
	SL_ASSERT_EQ(sl_view_table_count(fx.t), 1);
	fix_close(&fx);
	return SL_TEST_PASS;
}

/* Reference of one group, computed independently of view.c. */
struct ref {
	uint64_t count, n_amount;
	__int128 sum;
	double min, max, last;
	uint64_t last_ts;
	double *vals;
	uint32_t n_vals;
	uint64_t users[2048];
	uint32_t n_users;
	uint64_t sku[40];
};

static void
ref_add(struct ref *r, int64_t micro, uint64_t ts, uint32_t user, uint32_t sku)
{
	double v = (double)micro / 1e6;
	bool dup = false;

	r->count++;
	r->n_amount++;
	r->sum += micro;
	if (r->n_amount == 1 || v < r->min)
		r->min = v;
	if (r->n_amount == 1 || v > r->max)
		r->max = v;
	if (r->n_amount == 1 || ts > r->last_ts || (ts == r->last_ts && v > r->last)) {
		r->last = v;
		r->last_ts = ts;
	}
	r->vals[r->n_vals++] = v;
	for (uint32_t i = 0; i < r->n_users && !dup; i++)
		dup = r->users[i] == user;
	if (!dup)
		r->users[r->n_users++] = user;
	r->sku[sku]++;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define N_STORES 4
#define N_EVENTS 20000

/* Feeds the same random purchase stream (by seed) to up to 3 tables, dealing
 * events round-robin when @p n_tables > 1. */
static void
feed(struct sl_view_table **t, uint32_t n_tables, struct ref *refs, uint64_t seed)
{
	char stores[N_STORES][4], users[2048][8], skus[40][8];
	struct sl_event ev;

	for (uint32_t i = 0; i < N_STORES; i++)
		snprintf(stores[i], sizeof(stores[i]), "s%u", i);
	for (uint32_t i = 0; i < 2048; i++)
		snprintf(users[i], sizeof(users[i]), "u%u", i);
	for (uint32_t i = 0; i < 40; i++)
		snprintf(skus[i], sizeof(skus[i]), "A-%u", 1000 + i);
	for (uint32_t e = 0; e < N_EVENTS; e++) {
		uint32_t st = (uint32_t)(splitmix64(&seed) % N_STORES);
		uint32_t user = (uint32_t)(splitmix64(&seed) % 2048);
		/* Skewed SKUs: sku i with weight ~ 1/(i+1). */
		uint32_t sku = (uint32_t)(40.0 * pow((double)(splitmix64(&seed) % 1000000) / 1e6, 3));
		int64_t micro = 1000000 + (int64_t)(splitmix64(&seed) % 500000000); /* 1..501 */
		uint64_t ts = 1000 + splitmix64(&seed) % 5000;                    /* many ties */

		ev_init(&ev, "purchase", ts);
		ev_str(&ev, "store", stores[st]);
		ev_str(&ev, "user", users[user]);
		ev_str(&ev, "sku", skus[sku]);
		ev_num(&ev, "amount", micro);
		sl_view_table_update(t[e % n_tables], &ev, 0);
		if (refs != NULL)
			ref_add(&refs[st], micro, ts, user, sku);
	}
}

static int
check_group(const struct sl_view_plan *plan, void *block, struct sl_agg_set *const *sets,
	    struct ref *r)
{
	const struct sl_view_count *c = sl_view_state_slot(plan, block, A_COUNT);
	const struct sl_view_sum *s = sl_view_state_slot(plan, block, A_SUM);
	const struct sl_view_minmax *mn = sl_view_state_slot(plan, block, A_MIN);
	const struct sl_view_minmax *mx = sl_view_state_slot(plan, block, A_MAX);
	const struct sl_view_last *l = sl_view_state_slot(plan, block, A_LAST);
	const struct sl_view_distinct *d = sl_view_state_slot(plan, block, A_DISTINCT);
	const struct sl_dds *q = sl_view_state_slot(plan, block, A_Q);
	const struct sl_topk *tk = sl_view_state_slot(plan, block, A_TOPK);
	static const double qs[] = { 0.5, 0.9, 0.99 };
	struct sl_topk_entry e[5];
	uint32_t n;

	SL_ASSERT_EQ(c->n, r->count);
	SL_ASSERT(s->fixed == r->sum);
	SL_ASSERT_DBL_EQ(s->flt, 0);
	SL_ASSERT_EQ(s->n, r->n_amount);
	SL_ASSERT_DBL_EQ(mn->v, r->min);
	SL_ASSERT_DBL_EQ(mx->v, r->max);
	SL_ASSERT_DBL_EQ(l->v, r->last);
	SL_ASSERT_EQ(l->ts_ns, r->last_ts);
	SL_ASSERT_EQ(d->n, r->n_users);
	SL_ASSERT_EQ(d->values, r->count);
	if (sets != NULL && sets[A_DISTINCT] != NULL)
		SL_ASSERT_EQ(sl_agg_set_count(sets[A_DISTINCT]), r->n_users);
	qsort(r->vals, r->n_vals, sizeof(double), dbl_cmp);
	SL_ASSERT_EQ(sl_dds_count(q), r->n_vals);
	for (uint32_t i = 0; i < 3; i++) {
		double exact = r->vals[(size_t)floor(qs[i] * (double)(r->n_vals - 1))];
		double est = sl_dds_quantile(q, qs[i]);

		SL_ASSERT(sl_dds_quantile_bounded(q, qs[i]));
		if (fabs(est - exact) > SL_VIEW_DDS_ALPHA * exact * (1 + 1e-9))
			SL_FAILF("q%.2f: %.17g vs exact %.17g", qs[i], est, exact);
	}
	n = sl_topk_query(tk, 5, e);
	SL_ASSERT_EQ(n, 5);
	SL_ASSERT_EQ(sl_topk_total(tk), r->count);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t sku = (uint32_t)atoi((const char *)e[i].item + 2) - 1000;

		SL_ASSERT(e[i].count >= r->sku[sku] && e[i].count - e[i].err <= r->sku[sku]);
		SL_ASSERT(e[i].err <= r->count / sl_topk_capacity(tk));
	}
	/* Every SKU over the floor is reported when it is among the top 5 by truth. */
	for (uint32_t k = 0; k < 40; k++) {
		uint32_t above = 0;
		bool found = false;

		for (uint32_t j = 0; j < 40; j++)
			above += r->sku[j] > r->sku[k];
		for (uint32_t i = 0; i < n; i++)
			found = found || (uint32_t)atoi((const char *)e[i].item + 2) - 1000 == k;
		if (above == 0 && r->sku[k] > sl_topk_floor(tk))
			SL_ASSERT(found);
	}
	return SL_TEST_PASS;
}

struct refs {
	struct ref r[N_STORES];
};

static struct refs *
refs_new(void)
{
	struct refs *rs = calloc(1, sizeof(*rs));

	for (uint32_t i = 0; i < N_STORES; i++)
		rs->r[i].vals = malloc(N_EVENTS * sizeof(double));
	return rs;
}

static void
refs_free(struct refs *rs)
{
	for (uint32_t i = 0; i < N_STORES; i++)
		free(rs->r[i].vals);
	free(rs);
}

static uint32_t
store_of(const uint8_t *key, uint32_t len)
{
	struct sl_view_key k;

	if (sl_view_key_decode(key, len, &k) != 0 || k.n_dims != 1 || k.dims[0].len != 2)
		return UINT32_MAX;
	return (uint32_t)(k.dims[0].p[1] - '0');
}

SL_TEST(aggregates_match_reference)
{
	struct refs *rs = refs_new();
	struct collect *c = calloc(1, sizeof(*c));
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, all_yaml, "all", 100, 65536));
	feed(&fx.t, 1, rs->r, 42);
	SL_ASSERT_EQ(sl_view_table_count(fx.t), N_STORES);
	c->plan = fx.plan;
	walk_into(fx.t, c);
	SL_ASSERT_OK(c->err);
	SL_ASSERT_EQ(c->n, N_STORES);
	for (uint32_t i = 0; i < c->n; i++) {
		uint32_t s = store_of(c->g[i].key, c->g[i].key_len);

		SL_ASSERT(s < N_STORES);
		if (check_group(fx.plan, c->g[i].block, c->g[i].sets, &rs->r[s]) != SL_TEST_PASS)
			return SL_TEST_FAIL;
	}
	collect_free(c);
	free(c);
	refs_free(rs);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(merge_of_three_tables_equals_one)
{
	struct sl_view_table *three[3];
	void *mem[3];
	struct collect *one = calloc(1, sizeof(*one)), *merged = calloc(1, sizeof(*merged));
	struct refs *rs = refs_new();
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, all_yaml, "all", 100, 65536));
	for (int i = 0; i < 3; i++)
		SL_ASSERT_NOT_NULL(three[i] = table_new(fx.plan, 100, 65536, &mem[i]));
	feed(&fx.t, 1, NULL, 7);
	feed(three, 3, rs->r, 7);
	one->plan = merged->plan = fx.plan;
	walk_into(fx.t, one);
	for (int i = 0; i < 3; i++)
		walk_into(three[i], merged);
	SL_ASSERT_OK(one->err);
	SL_ASSERT_OK(merged->err);
	SL_ASSERT_EQ(one->n, N_STORES);
	SL_ASSERT_EQ(merged->n, N_STORES);
	for (uint32_t i = 0; i < one->n; i++) {
		struct group_copy *a = &one->g[i], *b = collect_find(merged, a->key, a->key_len);
		uint8_t sa[8192], sb[8192];
		size_t na, nb;

		SL_ASSERT_EQ(merged->n, N_STORES); /* found, not added */
		if (check_group(fx.plan, b->block, b->sets, &rs->r[store_of(a->key, a->key_len)]) !=
		    SL_TEST_PASS)
			return SL_TEST_FAIL;
		/* The single table passes the same exact checks. */
		if (check_group(fx.plan, a->block, a->sets, &rs->r[store_of(a->key, a->key_len)]) !=
		    SL_TEST_PASS)
			return SL_TEST_FAIL;
		/* DDSketch merge is exact: the same bytes. */
		na = sl_dds_serialize(sl_view_state_slot(fx.plan, a->block, A_Q), sa, sizeof(sa));
		nb = sl_dds_serialize(sl_view_state_slot(fx.plan, b->block, A_Q), sb, sizeof(sb));
		SL_ASSERT(na > 0 && na == nb && memcmp(sa, sb, na) == 0);
		SL_ASSERT_EQ(sl_agg_set_count(a->sets[A_DISTINCT]), sl_agg_set_count(b->sets[A_DISTINCT]));
	}
	collect_free(one);
	collect_free(merged);
	free(one);
	free(merged);
	for (int i = 0; i < 3; i++)
		free(mem[i]);
	refs_free(rs);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(missing_fields)
{
	struct sl_view_table_stats stats;
	struct collect *c = calloc(1, sizeof(*c));
	struct sl_event ev;
	struct fix fx;
	char *json;

	SL_ASSERT_OK(fix_open(&fx, all_yaml, "all", 10, 100));
	ev_init(&ev, "purchase", 5);
	ev_str(&ev, "store", "s1");
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 0), OK); /* count only */
	ev_str(&ev, "amount", "12");                          /* not a number */
	ev_str(&ev, "user", "u1");
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 0), OK);
	sl_view_table_stats(fx.t, &stats);
	SL_ASSERT_EQ(stats.aggregated, 2);
	SL_ASSERT_EQ(stats.missing_field_events, 2);
	c->plan = fx.plan;
	walk_into(fx.t, c);
	SL_ASSERT_EQ(c->n, 1);
	json = finalize(fx.plan, c->g[0].block, c->g[0].sets);
	SL_ASSERT_NOT_NULL(json);
	SL_ASSERT_STR_EQ(json, "{\"count\": 2, \"sum(amount)\": null, \"avg(amount)\": null, "
			       "\"min(amount)\": null, \"max(amount)\": null, \"last(amount)\": null, "
			       "\"distinct(user)\": 1, \"distinct(user)_error\": 0, "
			       "\"quantiles(amount)\": null, \"topk(sku,5)\": []}");
	free(json);
	collect_free(c);
	free(c);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(finalize_json)
{
	static const int64_t amounts[] = { 10500000, 2000000, 7250000, 100, -3000000 };
	static const char *const skus[] = { "A-1", "B\"2", "A-1", "A-1", "C\n3" };
	struct collect *c = calloc(1, sizeof(*c));
	struct sl_event ev;
	struct fix fx;
	char *json;

	SL_ASSERT_OK(fix_open(&fx, all_yaml, "all", 10, 100));
	for (int i = 0; i < 5; i++) {
		ev_init(&ev, "purchase", 100 - (uint64_t)i * 10); /* the first is the latest */
		ev_str(&ev, "store", "s1");
		ev_str(&ev, "user", i < 3 ? "u1" : "u2");
		ev_str(&ev, "sku", skus[i]);
		ev_num(&ev, "amount", amounts[i]);
		SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 0), OK);
	}
	ev_init(&ev, "purchase", 1);
	ev_str(&ev, "store", "s1");
	ev_float(&ev, "amount", 0.1234567); /* makes the sum inexact */
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 0), OK);
	c->plan = fx.plan;
	walk_into(fx.t, c);
	json = finalize(fx.plan, c->g[0].block, NULL);
	SL_ASSERT_NOT_NULL(json);
	printf("# %s\n", json);
	/* Inexact sums print with 17 digits (agg.h's rule). */
	SL_ASSERT(strstr(json, "\"count\": 6, \"sum(amount)\": 16.873556699999998, ") == json + 1);
	SL_ASSERT(strstr(json, "\"min(amount)\": -3, \"max(amount)\": 10.5, \"last(amount)\": 10.5, "
			       "\"distinct(user)\": 2, \"distinct(user)_error\": 0, "
			       "\"quantiles(amount)\": {\"0.5\": ") != NULL);
	SL_ASSERT(strstr(json, "\"quantiles(amount)_error\": 0.01, \"topk(sku,5)\": [{\"item\": "
			       "\"A-1\", \"count\": 3, \"error\": 0}, ") != NULL);
	SL_ASSERT(strstr(json, "{\"item\": \"B\\\"2\", \"count\": 1, \"error\": 0}") != NULL);
	SL_ASSERT(strstr(json, "{\"item\": \"C\\u000a3\", \"count\": 1, \"error\": 0}") != NULL);
	free(json);

	/* An exact sum prints as an exact decimal. */
	{
		struct sl_view_sum *s = sl_view_state_slot(fx.plan, c->g[0].block, A_SUM);

		s->flt = 0;
		s->fixed = (__int128)123456789012345678 * 1000000 + 10;
		json = finalize(fx.plan, c->g[0].block, NULL);
		SL_ASSERT(strstr(json, "\"sum(amount)\": 123456789012345678.00001,") != NULL);
		free(json);
	}
	collect_free(c);
	free(c);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(overflow_group)
{
	struct sl_view_table_stats stats;
	struct keys_seen ks = { 0 };
	struct sl_event ev;
	char store[8];
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, all_yaml, "all", 3, 100));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 10; i++) {
			snprintf(store, sizeof(store), "s%d", i);
			ev_init(&ev, "purchase", 1);
			ev_str(&ev, "store", store);
			ev_str(&ev, "user", store);
			ev_num(&ev, "amount", 1000000);
			SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 0), OK);
		}
	}
	sl_view_table_stats(fx.t, &stats);
	SL_ASSERT_EQ(stats.aggregated, 20);
	SL_ASSERT_EQ(stats.overflow_events, 14);
	SL_ASSERT_EQ(sl_view_table_count(fx.t), 4);
	sl_view_table_walk(fx.t, NULL, 0, keys_fn, &ks);
	SL_ASSERT(seen(&ks, "s0") && seen(&ks, "s1") && seen(&ks, "s2"));
	SL_ASSERT(seen(&ks, SL_VIEW_OVERFLOW));
	/* 7 distinct users in the overflow group. */
	SL_ASSERT_EQ(sl_view_table_members(fx.t), 3 + 7);

	/* Key storage is a limit too: with key_bytes = 496 a second group of a long key overflows. */
	{
		struct sl_view_limits lim = { 100, 0, SL_VIEW_KEY_MAX };
		void *mem = aligned_alloc(64, sl_view_table_memsize(fx.plan, &lim));
		struct sl_view_table *t = sl_view_table_init(mem, fx.plan, &lim);
		char big[300];

		memset(big, 'k', 250);
		big[250] = 0;
		for (int i = 0; i < 3; i++) {
			big[0] = (char)('a' + i);
			ev_init(&ev, "purchase", 1);
			ev_str(&ev, "store", big);
			SL_ASSERT_EQ(sl_view_table_update(t, &ev, 0), OK);
		}
		sl_view_table_stats(t, &stats);
		SL_ASSERT_EQ(stats.overflow_events, 2);
		SL_ASSERT_EQ(sl_view_table_count(t), 2);
		free(mem);
	}
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(set_limit_all_or_nothing)
{
	struct sl_view_table_stats stats;
	struct sl_event ev;
	char user[8];
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, all_yaml, "all", 10, 5));
	for (int i = 0; i < 8; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		ev_init(&ev, "purchase", 1);
		ev_str(&ev, "store", i < 4 ? "s1" : "s2");
		ev_str(&ev, "user", user);
		SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 0), i < 5 ? OK : SL_DROP_SET_LIMIT);
	}
	/* A known member still counts; a new group without a user too. */
	ev_init(&ev, "purchase", 1);
	ev_str(&ev, "store", "s2");
	ev_str(&ev, "user", "u4");
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 0), OK);
	ev_init(&ev, "purchase", 1);
	ev_str(&ev, "store", "s3");
	SL_ASSERT_EQ(sl_view_table_update(fx.t, &ev, 0), OK);
	sl_view_table_stats(fx.t, &stats);
	SL_ASSERT_EQ(stats.set_limit, 3);
	SL_ASSERT_EQ(stats.aggregated, 7);
	SL_ASSERT_EQ(sl_view_table_members(fx.t), 5);
	SL_ASSERT_EQ(sl_view_table_count(fx.t), 3);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(limits_and_reset)
{
	struct sl_view_limits bad[] = { { 0, 10, 0 }, { SL_CONFIG_MAX_GROUPS_MAX + 1, 10, 0 },
					{ 10, (1u << 28) + 1, 0 }, { 10, 10, 10 } };
	struct sl_view_table_stats stats;
	struct collect *c1 = calloc(1, sizeof(*c1)), *c2 = calloc(1, sizeof(*c2));
	uint64_t s, e;
	uint32_t core;
	struct fix fx;
	uint8_t mem[64] __attribute__((aligned(64)));

	SL_ASSERT_OK(fix_open(&fx, all_yaml, "all", 100, 65536));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		SL_ASSERT_EQ(sl_view_table_memsize(fx.plan, &bad[i]), 0);
		errno = 0;
		SL_ASSERT_NULL(sl_view_table_init(mem, fx.plan, &bad[i]));
		SL_ASSERT_EQ(errno, EINVAL);
	}
	sl_view_table_set_window(fx.t, 10, 20, 3);
	sl_view_table_get_window(fx.t, &s, &e, &core);
	SL_ASSERT(s == 10 && e == 20 && core == 3);
	feed(&fx.t, 1, NULL, 99);
	c1->plan = c2->plan = fx.plan;
	walk_into(fx.t, c1);
	sl_view_table_reset(fx.t);
	sl_view_table_stats(fx.t, &stats);
	SL_ASSERT_EQ(stats.aggregated, 0);
	SL_ASSERT_EQ(sl_view_table_count(fx.t), 0);
	SL_ASSERT_EQ(sl_view_table_members(fx.t), 0);
	sl_view_table_get_window(fx.t, &s, &e, &core);
	SL_ASSERT(s == 0 && e == 0);
	/* Reused: the same input gives the same states. */
	feed(&fx.t, 1, NULL, 99);
	walk_into(fx.t, c2);
	SL_ASSERT_EQ(c1->n, c2->n);
	for (uint32_t i = 0; i < c1->n; i++) {
		struct group_copy *b = collect_find(c2, c1->g[i].key, c1->g[i].key_len);
		uint8_t *x = malloc(1 << 20), *y = malloc(1 << 20);
		size_t nx = sl_view_state_serialize(fx.plan, c1->g[i].block, c1->g[i].sets, x, 1 << 20);
		size_t ny = sl_view_state_serialize(fx.plan, b->block, b->sets, y, 1 << 20);

		SL_ASSERT(nx > 0 && nx == ny && memcmp(x, y, nx) == 0);
		free(x);
		free(y);
	}
	collect_free(c1);
	collect_free(c2);
	free(c1);
	free(c2);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(serialize_round_trip_and_rejects)
{
	struct collect *c = calloc(1, sizeof(*c));
	struct sl_agg_set *sets[SL_CONFIG_AGGS_MAX];
	struct fix fx, other;
	uint64_t seed = 5;
	size_t cap, n, n2;
	uint8_t *buf, *buf2;
	void *block;

	SL_ASSERT_OK(fix_open(&fx, all_yaml, "all", 100, 65536));
	feed(&fx.t, 1, NULL, 3);
	c->plan = fx.plan;
	walk_into(fx.t, c);
	block = aligned_alloc(16, sl_view_plan_group_size(fx.plan));
	cap = sl_view_state_serialized_max(fx.plan, c->g[0].sets);
	buf = malloc(cap);
	buf2 = malloc(cap);
	n = sl_view_state_serialize(fx.plan, c->g[0].block, c->g[0].sets, buf, cap);
	SL_ASSERT(n > 0 && n <= cap);
	SL_ASSERT_EQ(buf[0], SL_VIEW_SER_VERSION);
	SL_ASSERT_EQ(sl_view_state_serialize(fx.plan, c->g[0].block, c->g[0].sets, buf2, n - 1), 0);

	SL_ASSERT_OK(sl_view_state_deserialize(fx.plan, buf, n, block, sets));
	n2 = sl_view_state_serialize(fx.plan, block, sets, buf2, cap);
	SL_ASSERT(n2 == n && memcmp(buf, buf2, n) == 0);
	SL_ASSERT_EQ(sl_agg_set_count(sets[A_DISTINCT]), sl_agg_set_count(c->g[0].sets[A_DISTINCT]));
	for (uint32_t i = 0; i < SL_CONFIG_AGGS_MAX && i < sl_view_plan_n_aggs(fx.plan); i++)
		sl_agg_set_destroy(sets[i]);

	/* Without sets: the count survives, sets come back empty. */
	n2 = sl_view_state_serialize(fx.plan, c->g[0].block, NULL, buf2, cap);
	SL_ASSERT(n2 > 0 && n2 < n);
	SL_ASSERT_OK(sl_view_state_deserialize(fx.plan, buf2, n2, block, NULL));
	SL_ASSERT_EQ(((struct sl_view_distinct *)sl_view_state_slot(fx.plan, block, A_DISTINCT))->n,
		     sl_agg_set_count(c->g[0].sets[A_DISTINCT]));

	/* Every truncation, every single-byte change, random bytes: rejected, no crash. */
	for (size_t cut = 0; cut < n; cut++)
		SL_ASSERT_EQ(sl_view_state_deserialize(fx.plan, buf, cut, block, sets), -EINVAL);
	for (size_t i = 0; i < n; i += 7) {
		memcpy(buf2, buf, n);
		buf2[i] ^= (uint8_t)(1 + splitmix64(&seed) % 255);
		SL_ASSERT_EQ(sl_view_state_deserialize(fx.plan, buf2, n, block, sets), -EINVAL);
	}
	for (int iter = 0; iter < 2000; iter++) {
		size_t len = splitmix64(&seed) % 200;

		for (size_t i = 0; i < len; i++)
			buf2[i] = (uint8_t)splitmix64(&seed);
		if (len > 0)
			buf2[0] = SL_VIEW_SER_VERSION;
		SL_ASSERT(sl_view_state_deserialize(fx.plan, buf2, len, block, sets) != 0);
	}
	/* A state of another view (layout) is refused even with a good CRC. */
	SL_ASSERT_OK(fix_plan(&other, sl_config_default_yaml(), "sales"));
	SL_ASSERT_EQ(sl_view_state_deserialize(other.plan, buf, n, block, sets), -EINVAL);

	sl_view_plan_destroy(other.plan);
	sl_config_free(other.cfg);
	free(block);
	free(buf);
	free(buf2);
	collect_free(c);
	free(c);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(merge_is_associative)
{
	struct sl_view_table *t[3];
	void *mem[3];
	struct collect *c[3];
	void *ab_c, *a_bc;
	struct sl_agg_set *s1[SL_CONFIG_AGGS_MAX] = { NULL }, *s2[SL_CONFIG_AGGS_MAX] = { NULL };
	uint8_t *x, *y;
	size_t nx, ny;
	struct fix fx;

	SL_ASSERT_OK(fix_plan(&fx, all_yaml, "all"));
	for (int i = 0; i < 3; i++) {
		t[i] = table_new(fx.plan, 10, 65536, &mem[i]);
		c[i] = calloc(1, sizeof(*c[i]));
		c[i]->plan = fx.plan;
		feed(&t[i], 1, NULL, 100 + (uint64_t)i);
		walk_into(t[i], c[i]);
	}
	ab_c = aligned_alloc(16, sl_view_plan_group_size(fx.plan));
	a_bc = aligned_alloc(16, sl_view_plan_group_size(fx.plan));
	/* Group 0 of each: (a + b) + c vs a + (b + c) for everything but top-k. */
	sl_view_state_init(fx.plan, ab_c);
	SL_ASSERT_OK(sl_view_state_merge(fx.plan, ab_c, s1, c[0]->g[0].block, c[0]->g[0].sets));
	SL_ASSERT_OK(sl_view_state_merge(fx.plan, ab_c, s1, c[1]->g[0].block, c[1]->g[0].sets));
	SL_ASSERT_OK(sl_view_state_merge(fx.plan, ab_c, s1, c[2]->g[0].block, c[2]->g[0].sets));
	sl_view_state_init(fx.plan, a_bc);
	SL_ASSERT_OK(sl_view_state_merge(fx.plan, a_bc, s2, c[2]->g[0].block, c[2]->g[0].sets));
	SL_ASSERT_OK(sl_view_state_merge(fx.plan, a_bc, s2, c[1]->g[0].block, c[1]->g[0].sets));
	SL_ASSERT_OK(sl_view_state_merge(fx.plan, a_bc, s2, c[0]->g[0].block, c[0]->g[0].sets));
	/* Top-k aside (Space-Saving merge keeps the bound, not the bytes), the states are equal. */
	sl_topk_reset(sl_view_state_slot(fx.plan, ab_c, A_TOPK));
	sl_topk_reset(sl_view_state_slot(fx.plan, a_bc, A_TOPK));
	x = malloc(1 << 20);
	y = malloc(1 << 20);
	nx = sl_view_state_serialize(fx.plan, ab_c, s1, x, 1 << 20);
	ny = sl_view_state_serialize(fx.plan, a_bc, s2, y, 1 << 20);
	SL_ASSERT(nx > 0 && nx == ny && memcmp(x, y, nx) == 0);
	free(x);
	free(y);
	for (int i = 0; i < SL_CONFIG_AGGS_MAX; i++) {
		sl_agg_set_destroy(s1[i]);
		sl_agg_set_destroy(s2[i]);
	}
	free(ab_c);
	free(a_bc);
	for (int i = 0; i < 3; i++) {
		collect_free(c[i]);
		free(c[i]);
		free(mem[i]);
	}
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
