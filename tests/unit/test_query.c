/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of control/lib/query.c against a real store in a temporary
 * directory. The store is filled the way sluiced fills it: for every slice,
 * events (built by hand, as the JSON parser fills them) go to two per-core
 * view tables, the two tables are walked and merged per group, and each
 * group's merged state is serialized into one record; late counts go to
 * records whose group key starts with SL_VIEW_LATE_MARK. Two views read the
 * same events: "sales" (tumbling 10 s) and "trend" (30 s windows sliding by
 * 10 s). Every query is checked row by row, in order, against a reference
 * computed here from the same event list: exact for count, sum, avg, min,
 * max, last and distinct (below 4096 members), within the DDSketch's alpha
 * for quantiles, exact for top-k (its summary holds every SKU here).
 */

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "query.h"
#include "sl_test.h"
#include "store.h"
#include "view.h"

#define SEC 1000000000ULL
#define T0 (1767225600ULL * SEC) /* 2026-01-01T00:00:00Z, a multiple of 30 s */
#define SLICE (10 * SEC)
#define N_SLICES 6
#define EV_PER_SLICE 400
#define N_EVS (N_SLICES * EV_PER_SLICE)
#define N_USERS 300
#define N_SKUS 20
/* Groups: stores s0..s3, the absent store, and s9 that only has late records. */
#define N_GROUPS 6
#define G_ABSENT 4
#define G_S9 5
#define VIEW_SALES 1
#define VIEW_TREND 2

static const char *const group_txt[N_GROUPS] = { "s0", "s1", "s2", "s3", "", "s9" };
/* The groups in the order of their texts: absent first. */
static const uint32_t group_order[N_GROUPS] = { G_ABSENT, 0, 1, 2, 3, G_S9 };

#define AGGS                                                                           \
	"    aggregates: [count, \"sum(amount)\", \"avg(amount)\", \"min(amount)\",\n"   \
	"                 \"max(amount)\", \"last(amount)\", \"distinct(user)\",\n"      \
	"                 \"quantiles(amount, [0.5, 0.9, 0.99])\", \"topk(sku, 5)\"]\n"

static const char sales_yaml[] = "version: 1\n"
				 "views:\n"
				 "  - name: sales\n"
				 "    where: {event: purchase}\n"
				 "    group_by: [store]\n"
				 "    window: {size: 10s}\n"
				 "    allowed_lateness: 5s\n"
				 "    keep_late: true\n"
				 "    retention: 7d\n" AGGS;

static const char trend_yaml[] = "version: 1\n"
				 "views:\n"
				 "  - name: trend\n"
				 "    where: {event: purchase}\n"
				 "    group_by: [store]\n"
				 "    window: {size: 30s, slide: 10s}\n"
				 "    allowed_lateness: 5s\n"
				 "    keep_late: true\n" AGGS;

enum { A_COUNT, A_SUM, A_AVG, A_MIN, A_MAX, A_LAST, A_DISTINCT, A_Q, A_TOPK };

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* ---- the event list ---- */

struct tev {
	uint32_t slice;
	uint32_t group; /* 0..3, G_ABSENT */
	uint32_t user;
	uint32_t sku;
	int64_t micro;  /* amount, at most 2 decimals */
	uint64_t ts;
	bool purchase;
};

static struct tev evs[N_EVS];
/* Late records written per slice and group (0: none). */
static uint64_t late_cnt[N_SLICES][N_GROUPS];
static char user_txt[N_USERS][8];
static char sku_txt[N_SKUS][8];

static void
events_make(void)
{
	uint64_t seed = 2026;

	for (uint32_t i = 0; i < N_USERS; i++)
		snprintf(user_txt[i], sizeof(user_txt[i]), "u%03u", i);
	for (uint32_t i = 0; i < N_SKUS; i++)
		snprintf(sku_txt[i], sizeof(sku_txt[i]), "A-%02u", i);
	for (uint32_t i = 0; i < N_EVS; i++) {
		struct tev *e = &evs[i];

		e->slice = i / EV_PER_SLICE;
		/* Store 3 only in the first half: the last windows lack it. */
		e->group = (uint32_t)(splitmix64(&seed) % (e->slice < 3 ? 5 : 4));
		if (e->group == 3 && e->slice >= 3)
			e->group = G_ABSENT;
		e->user = (uint32_t)(splitmix64(&seed) % N_USERS);
		/* Skewed SKUs: i with weight ~ 1/(i+1). */
		e->sku = (uint32_t)(N_SKUS * pow((double)(splitmix64(&seed) % 1000000) / 1e6, 3));
		e->micro = 10000 * (int64_t)(1 + splitmix64(&seed) % 50000); /* 0.01 .. 500 */
		/* Times with ties, so last() must break them by value. */
		e->ts = T0 + e->slice * SLICE + (splitmix64(&seed) % 1000) * (SLICE / 1000);
		e->purchase = splitmix64(&seed) % 8 != 0;
	}
	memset(late_cnt, 0, sizeof(late_cnt));
	late_cnt[1][0] = 3;
	late_cnt[1][G_ABSENT] = 1;
	late_cnt[2][G_S9] = 4; /* a group whose events were all late */
	late_cnt[4][2] = 7;
}

/* ---- building the store as sluiced does ---- */

static void
ev_build(struct sl_event *ev, const struct tev *e)
{
	struct sl_event_field *f;

	memset(ev, 0, offsetof(struct sl_event, scratch));
	ev->name.p = (const uint8_t *)(e->purchase ? "purchase" : "visit");
	ev->name.len = e->purchase ? 8 : 5;
	ev->ts_ns = e->ts;
	if (e->group != G_ABSENT) {
		f = &ev->fields[ev->n_fields++];
		f->key = (struct sl_span){ (const uint8_t *)"store", 5 };
		f->kind = SL_FIELD_STR;
		f->str = (struct sl_span){ (const uint8_t *)group_txt[e->group], 2 };
	}
	f = &ev->fields[ev->n_fields++];
	f->key = (struct sl_span){ (const uint8_t *)"user", 4 };
	f->kind = SL_FIELD_STR;
	f->str = (struct sl_span){ (const uint8_t *)user_txt[e->user], 4 };
	f = &ev->fields[ev->n_fields++];
	f->key = (struct sl_span){ (const uint8_t *)"sku", 3 };
	f->kind = SL_FIELD_STR;
	f->str = (struct sl_span){ (const uint8_t *)sku_txt[e->sku], 4 };
	f = &ev->fields[ev->n_fields++];
	f->key = (struct sl_span){ (const uint8_t *)"amount", 6 };
	f->kind = SL_FIELD_NUM;
	f->num = (double)e->micro / 1e6;
	f->num_micro = e->micro;
	f->num_exact = true;
}

/* The merged groups of one slice (the storage thread's merge map). */
struct mgroup {
	uint8_t key[SL_VIEW_KEY_MAX];
	uint32_t key_len;
	void *block;
	struct sl_agg_set *sets[SL_CONFIG_AGGS_MAX];
};

struct merged {
	const struct sl_view_plan *plan;
	struct mgroup g[16];
	uint32_t n;
	int err;
};

static void
merge_fn(const uint8_t *key, uint32_t key_len, void *state, const uint64_t *const *members,
	 const uint32_t *n_members, void *arg)
{
	struct sl_agg_set *src[SL_CONFIG_AGGS_MAX] = { NULL };
	struct merged *m = arg;
	uint32_t n = sl_view_plan_n_aggs(m->plan), i;
	struct mgroup *g = NULL;

	for (i = 0; i < m->n && g == NULL; i++)
		if (m->g[i].key_len == key_len && memcmp(m->g[i].key, key, key_len) == 0)
			g = &m->g[i];
	if (g == NULL) {
		if (m->n == 16) {
			m->err = -ENOSPC;
			return;
		}
		g = &m->g[m->n++];
		memcpy(g->key, key, key_len);
		g->key_len = key_len;
		memset(g->sets, 0, sizeof(g->sets));
		g->block = aligned_alloc(16, sl_view_plan_group_size(m->plan));
		sl_view_state_init(m->plan, g->block);
	}
	for (i = 0; i < n; i++) {
		if (sl_view_plan_agg_kind(m->plan, i) != SL_CONFIG_AGG_DISTINCT)
			continue;
		src[i] = sl_agg_set_create();
		if (n_members[i] > 0)
			sl_agg_set_add(src[i], members[i], n_members[i]);
	}
	if (sl_view_state_merge(m->plan, g->block, g->sets, state, src) != 0)
		m->err = -EINVAL;
	for (i = 0; i < n; i++)
		sl_agg_set_destroy(src[i]);
}

static void
merged_free(struct merged *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		free(m->g[i].block);
		for (uint32_t j = 0; j < SL_CONFIG_AGGS_MAX; j++)
			sl_agg_set_destroy(m->g[i].sets[j]);
	}
	m->n = 0;
}

/* The group key of group @p g (view.h: u8 n_dims, then u8 len and the bytes). */
static uint32_t
group_key(uint32_t g, uint8_t *out)
{
	uint32_t len = g == G_ABSENT ? 0 : 2;

	out[0] = 1;
	out[1] = (uint8_t)len;
	memcpy(out + 2, group_txt[g], len);
	return 2 + len;
}

/* Register @p yaml as view @p name and write every slice of it. */
static int
view_write(struct sl_store *s, const char *yaml, const char *name, uint32_t want_id)
{
	struct sl_view_limits lim = { 16, 65536, 0 };
	struct sl_config *cfg = NULL;
	struct sl_view_plan *plan = NULL;
	struct sl_view_table *t[2];
	struct sl_store_rec recs[32];
	uint8_t lkeys[N_GROUPS][8], lvals[N_GROUPS][8];
	uint8_t *bufs[16] = { NULL };
	struct merged *m = calloc(1, sizeof(*m));
	struct sl_event *ev = malloc(sizeof(*ev));
	void *mem[2] = { NULL, NULL };
	uint64_t *scratch = NULL;
	uint32_t id = 0;
	size_t sz;

	SL_ASSERT_NOT_NULL(m);
	SL_ASSERT_NOT_NULL(ev);
	SL_ASSERT_OK(sl_store_view_define(s, name, yaml, strlen(yaml), false, &id));
	SL_ASSERT_EQ(id, want_id);
	SL_ASSERT_OK(sl_config_load_string(yaml, strlen(yaml), name, &cfg, NULL));
	SL_ASSERT_OK(sl_view_plan_create(&cfg->views[0], NULL, &plan));
	sz = sl_view_table_memsize(plan, &lim);
	for (int c = 0; c < 2; c++) {
		mem[c] = aligned_alloc(64, sz);
		SL_ASSERT_NOT_NULL(mem[c]);
		t[c] = sl_view_table_init(mem[c], plan, &lim);
		SL_ASSERT_NOT_NULL(t[c]);
	}
	scratch = malloc(65536 * sizeof(*scratch));
	SL_ASSERT_NOT_NULL(scratch);
	m->plan = plan;

	for (uint32_t sl = 0; sl < N_SLICES; sl++) {
		uint64_t start = T0 + sl * SLICE;
		uint32_t n = 0;

		/* Two cores: events are dealt between them. */
		for (int c = 0; c < 2; c++) {
			sl_view_table_reset(t[c]);
			sl_view_table_set_window(t[c], start, start + SLICE, (uint32_t)c);
		}
		for (uint32_t i = sl * EV_PER_SLICE; i < (sl + 1) * EV_PER_SLICE; i++) {
			unsigned int rc;

			ev_build(ev, &evs[i]);
			rc = sl_view_table_update(t[i % 2], ev, 0);
			SL_ASSERT(rc == SL_DROP__MAX || rc == SL_DROP_FILTERED);
		}
		for (int c = 0; c < 2; c++)
			sl_view_table_walk(t[c], scratch, 65536, merge_fn, m);
		SL_ASSERT_OK(m->err);
		for (uint32_t g = 0; g < m->n; g++) {
			size_t max = sl_view_state_serialized_max(plan, m->g[g].sets), len;

			bufs[g] = malloc(max);
			SL_ASSERT_NOT_NULL(bufs[g]);
			len = sl_view_state_serialize(plan, m->g[g].block, m->g[g].sets, bufs[g], max);
			SL_ASSERT(len > 0);
			recs[n++] = (struct sl_store_rec){ m->g[g].key, m->g[g].key_len, bufs[g],
							   (uint32_t)len };
		}
		for (uint32_t g = 0; g < N_GROUPS; g++) {
			if (late_cnt[sl][g] == 0)
				continue;
			lkeys[g][0] = SL_VIEW_LATE_MARK;
			for (int b = 0; b < 8; b++)
				lvals[g][b] = (uint8_t)(late_cnt[sl][g] >> (8 * b));
			recs[n++] = (struct sl_store_rec){ lkeys[g], 1 + group_key(g, lkeys[g] + 1),
							   lvals[g], 8 };
		}
		SL_ASSERT_OK(sl_store_put_window(s, id, start, start + SLICE, recs, n));
		for (uint32_t g = 0; g < 16; g++) {
			free(bufs[g]);
			bufs[g] = NULL;
		}
		merged_free(m);
	}
	free(scratch);
	free(mem[0]);
	free(mem[1]);
	free(ev);
	free(m);
	sl_view_plan_destroy(plan);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

/* A store with both views, in a fresh directory. */
struct fix {
	char root[64];
	char db[80];
	struct sl_store *s;
};

static int
fix_open(struct fix *fx)
{
	strcpy(fx->root, "/tmp/sl-test-query-XXXXXX");
	SL_ASSERT_NOT_NULL(mkdtemp(fx->root));
	snprintf(fx->db, sizeof(fx->db), "%s/db", fx->root);
	SL_ASSERT_OK(sl_store_open(fx->db, 0, 0, &fx->s));
	events_make();
	if (view_write(fx->s, sales_yaml, "sales", VIEW_SALES) != SL_TEST_PASS)
		return SL_TEST_FAIL;
	if (view_write(fx->s, trend_yaml, "trend", VIEW_TREND) != SL_TEST_PASS)
		return SL_TEST_FAIL;
	return SL_TEST_PASS;
}

static void
fix_close(struct fix *fx)
{
	char p[128];

	sl_store_close(fx->s);
	snprintf(p, sizeof(p), "%s/data.mdb", fx->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", fx->db);
	unlink(p);
	rmdir(fx->db);
	rmdir(fx->root);
}

#define FIX_OPEN(fx)                                                                   \
	do {                                                                           \
		if (fix_open(fx) != SL_TEST_PASS)                                      \
			return SL_TEST_FAIL;                                           \
	} while (0)

/* ---- the reference ---- */

struct refv {
	uint64_t count;
	__int128 sum;
	double min, max, last;
	uint64_t last_ts;
	uint32_t n_users;
	double vals[N_EVS];
	uint32_t n_vals;
	uint64_t sku[N_SKUS];
	uint64_t late;
};

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Group @p g over the slices [lo, hi) (clamped to the stored ones). */
static void
ref_compute(int64_t lo, int64_t hi, uint32_t g, struct refv *r)
{
	bool seen[N_USERS] = { false };

	memset(r, 0, offsetof(struct refv, vals));
	r->n_vals = 0;
	memset(r->sku, 0, sizeof(r->sku));
	r->late = 0;
	for (uint32_t i = 0; i < N_EVS; i++) {
		const struct tev *e = &evs[i];
		double v = (double)e->micro / 1e6;

		if (!e->purchase || e->group != g || (int64_t)e->slice < lo ||
		    (int64_t)e->slice >= hi)
			continue;
		r->count++;
		r->sum += e->micro;
		if (r->count == 1 || v < r->min)
			r->min = v;
		if (r->count == 1 || v > r->max)
			r->max = v;
		if (r->count == 1 || e->ts > r->last_ts || (e->ts == r->last_ts && v > r->last)) {
			r->last = v;
			r->last_ts = e->ts;
		}
		if (!seen[e->user]) {
			seen[e->user] = true;
			r->n_users++;
		}
		r->vals[r->n_vals++] = v;
		r->sku[e->sku]++;
	}
	for (int64_t sl = lo < 0 ? 0 : lo; sl < hi && sl < N_SLICES; sl++)
		r->late += late_cnt[sl][g];
	qsort(r->vals, r->n_vals, sizeof(double), dbl_cmp);
}

/* An exact decimal of micro-units without trailing zeros ("123.45", "7"). */
static void
fmt_micro(__int128 v, char *buf, size_t cap)
{
	uint64_t ip = (uint64_t)(v / 1000000), frac = (uint64_t)(v % 1000000);
	int w = 6;

	if (frac == 0) {
		snprintf(buf, cap, "%llu", (unsigned long long)ip);
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		w--;
	}
	snprintf(buf, cap, "%llu.%0*llu", (unsigned long long)ip, w, (unsigned long long)frac);
}

/* The raw text of the value of "KEY": in a row's line. */
static void
raw_value(const char *line, const char *key, char *buf, size_t cap)
{
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(line, pat);
	buf[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(pat);
	n = strcspn(p, ",}");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

/* ---- running queries ---- */

struct out {
	struct sl_query_result *r;
	char *text;     /* the JSON */
	json_t *rows;   /* parsed */
	char **lines;   /* lines[i]: the text of row i */
	size_t n;
};

static void
out_free(struct out *o)
{
	sl_query_result_destroy(o->r);
	free(o->text);
	json_decref(o->rows);
	free(o->lines);
	memset(o, 0, sizeof(*o));
}

/* Run a query, write its JSON, parse it back and split its lines. */
static int
run(struct sl_store *s, const struct sl_query_params *p, struct out *o)
{
	struct sl_query_error err;
	json_error_t jerr;
	size_t len = 0, i;
	FILE *f;
	char *line;

	memset(o, 0, sizeof(*o));
	err.msg[0] = '\0';
	if (sl_query_run(s, p, &o->r, &err) != 0)
		SL_FAILF("query: %s", err.msg);
	f = open_memstream(&o->text, &len);
	SL_ASSERT_NOT_NULL(f);
	SL_ASSERT_OK(sl_query_result_write_json(o->r, f));
	SL_ASSERT_OK(fclose(f));
	o->rows = json_loads(o->text, 0, &jerr);
	if (o->rows == NULL)
		SL_FAILF("JSON: %s: %s", jerr.text, o->text);
	SL_ASSERT(json_is_array(o->rows));
	o->n = json_array_size(o->rows);
	SL_ASSERT_EQ(o->n, sl_query_result_count(o->r));
	o->lines = calloc(o->n + 1, sizeof(*o->lines));
	SL_ASSERT_NOT_NULL(o->lines);
	/* "[\n{row},\n{row}\n]\n": row i is line i + 1. */
	line = strchr(o->text, '\n');
	for (i = 0; i < o->n && line != NULL; i++) {
		o->lines[i] = line + 1;
		line = strchr(line + 1, '\n');
	}
	SL_ASSERT_EQ(i, o->n);
	return SL_TEST_PASS;
}

static int
check_values(json_t *vals, const char *line, const struct refv *r)
{
	static const double qs[] = { 0.5, 0.9, 0.99 };
	static const char *const qk[] = { "0.5", "0.9", "0.99" };
	const size_t nk = json_object_size(vals);
	char want[64], got[64];
	json_t *q, *tk;

	SL_ASSERT_EQ(json_integer_value(json_object_get(vals, "count")), r->count);
	SL_ASSERT_EQ(json_integer_value(json_object_get(vals, "distinct(user)")), r->n_users);
	SL_ASSERT_DBL_EQ(json_number_value(json_object_get(vals, "distinct(user)_error")), 0);
	tk = json_object_get(vals, "topk(sku,5)");
	SL_ASSERT(json_is_array(tk));
	if (r->count == 0) {
		/* A group with late records only: the values of an empty state. */
		SL_ASSERT_EQ(nk, 10);
		SL_ASSERT(json_is_null(json_object_get(vals, "sum(amount)")));
		SL_ASSERT(json_is_null(json_object_get(vals, "avg(amount)")));
		SL_ASSERT(json_is_null(json_object_get(vals, "min(amount)")));
		SL_ASSERT(json_is_null(json_object_get(vals, "max(amount)")));
		SL_ASSERT(json_is_null(json_object_get(vals, "last(amount)")));
		SL_ASSERT(json_is_null(json_object_get(vals, "quantiles(amount)")));
		SL_ASSERT_EQ(json_array_size(tk), 0);
		return SL_TEST_PASS;
	}
	SL_ASSERT_EQ(nk, 11);
	/* The sum is an exact decimal: compare its text. */
	fmt_micro(r->sum, want, sizeof(want));
	raw_value(line, "sum(amount)", got, sizeof(got));
	SL_ASSERT_STR_EQ(got, want);
	SL_ASSERT_DBL_EQ(json_number_value(json_object_get(vals, "avg(amount)")),
			 (double)r->sum / 1e6 / (double)r->count);
	SL_ASSERT_DBL_EQ(json_number_value(json_object_get(vals, "min(amount)")), r->min);
	SL_ASSERT_DBL_EQ(json_number_value(json_object_get(vals, "max(amount)")), r->max);
	SL_ASSERT_DBL_EQ(json_number_value(json_object_get(vals, "last(amount)")), r->last);
	q = json_object_get(vals, "quantiles(amount)");
	SL_ASSERT(json_is_object(q));
	SL_ASSERT_EQ(json_object_size(q), 3);
	for (int i = 0; i < 3; i++) {
		double exact = r->vals[(size_t)floor(qs[i] * (double)(r->n_vals - 1))];
		double est = json_number_value(json_object_get(q, qk[i]));

		if (fabs(est - exact) > SL_VIEW_DDS_ALPHA * exact * (1 + 1e-9))
			SL_FAILF("q%s: %.17g vs exact %.17g", qk[i], est, exact);
	}
	SL_ASSERT_DBL_EQ(json_number_value(json_object_get(vals, "quantiles(amount)_error")),
			 SL_VIEW_DDS_ALPHA);
	/* Top-k: the summary (40 counters) holds every SKU, so counts are exact. */
	SL_ASSERT(json_array_size(tk) <= 5);
	{
		bool listed[N_SKUS] = { false };
		uint64_t min_count = UINT64_MAX;

		for (size_t i = 0; i < json_array_size(tk); i++) {
			json_t *e = json_array_get(tk, i);
			const char *item = json_string_value(json_object_get(e, "item"));
			uint64_t count = (uint64_t)json_integer_value(json_object_get(e, "count"));
			uint64_t err = (uint64_t)json_integer_value(json_object_get(e, "error"));
			uint32_t sku;

			SL_ASSERT_NOT_NULL(item);
			sku = (uint32_t)atoi(item + 2);
			SL_ASSERT(sku < N_SKUS && !listed[sku]);
			SL_ASSERT(count - err <= r->sku[sku] && r->sku[sku] <= count);
			SL_ASSERT_EQ(err, 0);
			listed[sku] = true;
			min_count = count < min_count ? count : min_count;
		}
		/* No SKU left out has more than the ones listed (none at all when fewer than k). */
		for (uint32_t k = 0; k < N_SKUS; k++)
			if (!listed[k])
				SL_ASSERT(json_array_size(tk) == 5 ? r->sku[k] <= min_count
								   : r->sku[k] == 0);
	}
	return SL_TEST_PASS;
}

/* One expected row: its window, its group and the slices it merges. */
struct want {
	uint64_t ws, we;
	uint32_t group;
	int64_t lo, hi; /* slices [lo, hi) */
};

static struct refv ref_buf;

static int
check_rows(const struct out *o, const char *view, const struct want *w, size_t n)
{
	SL_ASSERT_EQ(o->n, n);
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_array_get(o->rows, i), *grp;
		char head[160];
		const char *k;
		json_t *v;
		int pos = 0;

		/* Keys in the truth's order. */
		json_object_foreach(row, k, v) {
			static const char *const order[] = { "view",  "window_start", "window_end",
							     "group", "values",       "late" };

			SL_ASSERT(pos < 6);
			SL_ASSERT_STR_EQ(k, order[pos]);
			pos++;
		}
		SL_ASSERT_EQ(pos, 6);
		snprintf(head, sizeof(head), "{\"view\":\"%s\",\"window_start\":%llu,"
					     "\"window_end\":%llu,\"group\":{\"store\":\"%s\"},",
			 view, (unsigned long long)w[i].ws, (unsigned long long)w[i].we,
			 group_txt[w[i].group]);
		if (strncmp(o->lines[i], head, strlen(head)) != 0)
			SL_FAILF("row %zu: want %s, got %.*s", i, head,
				 (int)strcspn(o->lines[i], "\n"), o->lines[i]);
		grp = json_object_get(row, "group");
		SL_ASSERT_EQ(json_object_size(grp), 1);
		ref_compute(w[i].lo, w[i].hi, w[i].group, &ref_buf);
		SL_ASSERT_EQ(json_integer_value(json_object_get(row, "late")), ref_buf.late);
		if (check_values(json_object_get(row, "values"), o->lines[i], &ref_buf) !=
		    SL_TEST_PASS)
			SL_FAILF("row %zu: %.*s", i, (int)strcspn(o->lines[i], "\n"), o->lines[i]);
	}
	return SL_TEST_PASS;
}

/* Rows of a window merging slices [lo, hi): every group with events or late records, in order. */
static size_t
want_window(struct want *w, size_t n, uint64_t ws, uint64_t we, int64_t lo, int64_t hi,
	    const char *only)
{
	for (uint32_t i = 0; i < N_GROUPS; i++) {
		uint32_t g = group_order[i];

		if (only != NULL && strcmp(group_txt[g], only) != 0)
			continue;
		ref_compute(lo, hi, g, &ref_buf);
		if (ref_buf.count == 0 && ref_buf.late == 0)
			continue;
		w[n++] = (struct want){ ws, we, g, lo, hi };
	}
	return n;
}

static struct sl_query_params
params(const char *view, uint64_t from, uint64_t to, enum sl_query_step step, uint64_t step_ns)
{
	return (struct sl_query_params){
		.view = view, .from_ns = from, .to_ns = to, .step = step, .step_ns = step_ns,
	};
}

#define CHECK(call)                                                                    \
	do {                                                                           \
		if ((call) != SL_TEST_PASS)                                            \
			return SL_TEST_FAIL;                                           \
	} while (0)

/* ---- tests ---- */

SL_TEST(tumbling_windows_match_reference)
{
	struct sl_query_params p = params("sales", T0, T0 + N_SLICES * SLICE, SL_QUERY_STEP_WINDOW, 0);
	struct want w[64];
	struct out o;
	struct fix fx;
	size_t n = 0;

	FIX_OPEN(&fx);
	for (int64_t sl = 0; sl < N_SLICES; sl++)
		n = want_window(w, n, T0 + sl * SLICE, T0 + (sl + 1) * SLICE, sl, sl + 1, NULL);
	SL_ASSERT(n > 20);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	SL_ASSERT_EQ(sl_query_result_skipped(o.r), 0);
	SL_ASSERT_EQ(sl_query_result_view_id(o.r), VIEW_SALES);
	SL_ASSERT_STR_EQ(sl_query_result_view_name(o.r), "sales");
	SL_ASSERT_EQ(sl_query_result_view(o.r)->window_size_ns, SLICE);
	out_free(&o);

	/* [from, to) selects windows by start: a window starting at `to` is out. */
	p = params("sales", T0 + SLICE, T0 + 3 * SLICE, SL_QUERY_STEP_WINDOW, 0);
	n = want_window(w, 0, T0 + SLICE, T0 + 2 * SLICE, 1, 2, NULL);
	n = want_window(w, n, T0 + 2 * SLICE, T0 + 3 * SLICE, 2, 3, NULL);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	out_free(&o);

	/* A from inside a window leaves that window out. */
	p = params("sales", T0 + SLICE + 1, T0 + 3 * SLICE, SL_QUERY_STEP_WINDOW, 0);
	n = want_window(w, 0, T0 + 2 * SLICE, T0 + 3 * SLICE, 2, 3, NULL);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	out_free(&o);

	/* The group with late records only has a row with the values of an empty state. */
	p = params("sales", T0 + 2 * SLICE, T0 + 3 * SLICE, SL_QUERY_STEP_WINDOW, 0);
	CHECK(run(fx.s, &p, &o));
	SL_ASSERT(o.n > 1);
	SL_ASSERT_STR_EQ(o.lines[o.n - 1],
			 "{\"view\":\"sales\",\"window_start\":1767225620000000000,"
			 "\"window_end\":1767225630000000000,\"group\":{\"store\":\"s9\"},"
			 "\"values\":{\"count\": 0, \"sum(amount)\": null, \"avg(amount)\": null, "
			 "\"min(amount)\": null, \"max(amount)\": null, \"last(amount)\": null, "
			 "\"distinct(user)\": 0, \"distinct(user)_error\": 0, "
			 "\"quantiles(amount)\": null, \"topk(sku,5)\": []},\"late\":4}\n]\n");
	out_free(&o);

	/* No rows: an empty array, not an error. */
	p = params("sales", T0 + 100 * SLICE, T0 + 200 * SLICE, SL_QUERY_STEP_WINDOW, 0);
	CHECK(run(fx.s, &p, &o));
	SL_ASSERT_EQ(o.n, 0);
	SL_ASSERT_STR_EQ(o.text, "[]\n");
	out_free(&o);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(tumbling_steps_and_all)
{
	struct sl_query_params p = params("sales", T0, T0 + N_SLICES * SLICE, SL_QUERY_STEP_FIXED,
					  30 * SEC);
	struct sl_query_row row;
	struct want w[64];
	struct out o;
	struct fix fx;
	size_t n;

	FIX_OPEN(&fx);
	/* 30 s buckets: 3 slices each, every event once. */
	n = want_window(w, 0, T0, T0 + 30 * SEC, 0, 3, NULL);
	n = want_window(w, n, T0 + 30 * SEC, T0 + 60 * SEC, 3, 6, NULL);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	out_free(&o);

	/* Buckets start at multiples of the step; from/to select them by start. */
	p = params("sales", T0 + 5 * SEC, T0 + 31 * SEC, SL_QUERY_STEP_FIXED, 20 * SEC);
	n = want_window(w, 0, T0 + 20 * SEC, T0 + 40 * SEC, 2, 4, NULL);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	out_free(&o);

	/* all: one row per group; the span of the slices merged. */
	p = params("sales", T0 - 3600 * SEC, T0 + 3600 * SEC, SL_QUERY_STEP_ALL, 0);
	n = want_window(w, 0, T0, T0 + 60 * SEC, 0, N_SLICES, NULL);
	SL_ASSERT_EQ(n, N_GROUPS);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	sl_query_result_row(o.r, 0, &row);
	SL_ASSERT_EQ(row.window_start, T0);
	SL_ASSERT_EQ(row.window_end, T0 + 60 * SEC);
	SL_ASSERT_EQ(row.n_dims, 1);
	SL_ASSERT_EQ(row.dims[0].len, 0); /* absent first */
	SL_ASSERT(row.has_state);
	sl_query_result_row(o.r, N_GROUPS - 1, &row);
	SL_ASSERT(!row.has_state);
	SL_ASSERT_EQ(row.late, 4);
	out_free(&o);

	/* all over part of the range, with where: the span of what was merged. */
	p = params("sales", T0 + 25 * SEC, T0 + 45 * SEC, SL_QUERY_STEP_ALL, 0);
	p.where = &(struct sl_query_where){ "store", "s2" };
	p.n_where = 1;
	n = want_window(w, 0, T0 + 30 * SEC, T0 + 50 * SEC, 3, 5, "s2");
	SL_ASSERT_EQ(n, 1);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	out_free(&o);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(sliding_windows_match_reference)
{
	struct sl_query_params p;
	struct want w[128];
	struct out o;
	struct fix fx;
	size_t n = 0;

	FIX_OPEN(&fx);
	/* Every window [s, s + 30 s) that holds a slice, the first ones starting before T0. */
	p = params("trend", T0 - 3600 * SEC, T0 + 3600 * SEC, SL_QUERY_STEP_WINDOW, 0);
	for (int64_t k = -2; k < N_SLICES; k++)
		n = want_window(w, n, T0 + (uint64_t)(k * (int64_t)SLICE),
				T0 + (uint64_t)(k * (int64_t)SLICE) + 30 * SEC, k, k + 3, NULL);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "trend", w, n));
	SL_ASSERT_EQ(sl_query_result_view_id(o.r), VIEW_TREND);
	out_free(&o);

	/*
	 * Range edges: windows starting in [T0 + 10 s, T0 + 30 s), each complete:
	 * the one at T0 + 20 s takes the slices up to T0 + 50 s, past `to`.
	 */
	p = params("trend", T0 + 10 * SEC, T0 + 30 * SEC, SL_QUERY_STEP_WINDOW, 0);
	n = want_window(w, 0, T0 + 10 * SEC, T0 + 40 * SEC, 1, 4, NULL);
	n = want_window(w, n, T0 + 20 * SEC, T0 + 50 * SEC, 2, 5, NULL);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "trend", w, n));
	out_free(&o);

	/* A step that is a multiple of the slide: buckets of slices, each event once. */
	p = params("trend", T0, T0 + 60 * SEC, SL_QUERY_STEP_FIXED, 20 * SEC);
	n = 0;
	for (int64_t b = 0; b < 3; b++)
		n = want_window(w, n, T0 + (uint64_t)b * 20 * SEC, T0 + (uint64_t)(b + 1) * 20 * SEC,
				2 * b, 2 * b + 2, NULL);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "trend", w, n));
	out_free(&o);

	/* all: the same as the tumbling view's, each slice once. */
	p = params("trend", T0, T0 + 60 * SEC, SL_QUERY_STEP_ALL, 0);
	n = want_window(w, 0, T0, T0 + 60 * SEC, 0, N_SLICES, NULL);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "trend", w, n));
	out_free(&o);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(where_filters)
{
	struct sl_query_where wh[3];
	struct sl_query_params p;
	struct want w[64];
	struct out o;
	struct fix fx;
	size_t n = 0;

	FIX_OPEN(&fx);
	p = params("sales", T0, T0 + 60 * SEC, SL_QUERY_STEP_WINDOW, 0);
	wh[0] = (struct sl_query_where){ "store", "s1" };
	p.where = wh;
	p.n_where = 1;
	for (int64_t sl = 0; sl < N_SLICES; sl++)
		n = want_window(w, n, T0 + sl * SLICE, T0 + (sl + 1) * SLICE, sl, sl + 1, "s1");
	SL_ASSERT_EQ(n, N_SLICES);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	out_free(&o);

	/* "" selects the groups without the dimension; late records pass the same filter. */
	wh[0].value = "";
	n = 0;
	for (int64_t sl = 0; sl < N_SLICES; sl++)
		n = want_window(w, n, T0 + sl * SLICE, T0 + (sl + 1) * SLICE, sl, sl + 1, "");
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "sales", w, n));
	out_free(&o);

	/* Conditions AND: two different values of one dimension match nothing. */
	wh[0].value = "s1";
	wh[1] = (struct sl_query_where){ "store", "s2" };
	p.n_where = 2;
	CHECK(run(fx.s, &p, &o));
	SL_ASSERT_EQ(o.n, 0);
	out_free(&o);
	wh[1].value = "s1";
	CHECK(run(fx.s, &p, &o));
	SL_ASSERT_EQ(o.n, N_SLICES);
	out_free(&o);

	/* A value no group has. */
	wh[0].value = "s1x";
	p.n_where = 1;
	CHECK(run(fx.s, &p, &o));
	SL_ASSERT_EQ(o.n, 0);
	out_free(&o);

	/* The late-only group, through a sliding view. */
	p = params("trend", T0, T0 + 60 * SEC, SL_QUERY_STEP_WINDOW, 0);
	wh[0].value = "s9";
	p.where = wh;
	p.n_where = 1;
	n = want_window(w, 0, T0, T0 + 30 * SEC, 0, 3, "s9");
	n = want_window(w, n, T0 + SLICE, T0 + 40 * SEC, 1, 4, "s9");
	n = want_window(w, n, T0 + 2 * SLICE, T0 + 50 * SEC, 2, 5, "s9");
	SL_ASSERT_EQ(n, 3);
	CHECK(run(fx.s, &p, &o));
	CHECK(check_rows(&o, "trend", w, n));
	out_free(&o);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(errors_are_clear)
{
	struct sl_query_result *r = NULL;
	struct sl_query_error err;
	struct sl_query_where wh = { "region", "eu" };
	struct sl_query_params p;
	struct fix fx;
	uint32_t id;

	FIX_OPEN(&fx);
	p = params("nope", T0, T0 + 60 * SEC, SL_QUERY_STEP_WINDOW, 0);
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -ENOENT);
	SL_ASSERT_NULL(r);
	SL_ASSERT_STR_EQ(err.msg, "no view 'nope' in the store; views: sales, trend");

	p = params("trend", T0, T0 + 60 * SEC, SL_QUERY_STEP_FIXED, 15 * SEC);
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -EINVAL);
	SL_ASSERT_STR_EQ(err.msg, "step 15s is not a multiple of the slide of view 'trend' (10s)");
	p = params("sales", T0, T0 + 60 * SEC, SL_QUERY_STEP_FIXED, 5 * SEC);
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -EINVAL);
	SL_ASSERT_STR_EQ(err.msg, "step 5s is not a multiple of the window of view 'sales' (10s)");

	p = params("sales", T0, T0 + 60 * SEC, SL_QUERY_STEP_WINDOW, 0);
	p.where = &wh;
	p.n_where = 1;
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -EINVAL);
	SL_ASSERT_STR_EQ(err.msg, "where 'region': not a dimension of view 'sales' (group_by: store)");
	p.n_where = SL_QUERY_WHERE_MAX + 1;
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -EINVAL);

	p = params("sales", T0, T0, SL_QUERY_STEP_WINDOW, 0);
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -EINVAL);
	SL_ASSERT(strstr(err.msg, "empty range") != NULL);

	/* Bounded results. */
	p = params("sales", T0, T0 + 60 * SEC, SL_QUERY_STEP_WINDOW, 0);
	p.max_rows = 3;
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -E2BIG);
	SL_ASSERT(strstr(err.msg, "more than 3 rows") != NULL);
	p.max_rows = 0;
	p.max_bytes = 4096;
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -E2BIG);
	SL_ASSERT_NULL(r);

	/* A definition that does not load. */
	SL_ASSERT_OK(sl_store_view_define(fx.s, "broken", "version: 1\nviews: 7\n", 20, false, &id));
	p = params("broken", T0, T0 + 60 * SEC, SL_QUERY_STEP_WINDOW, 0);
	SL_ASSERT_EQ(sl_query_run(fx.s, &p, &r, &err), -EPROTO);
	SL_ASSERT(strstr(err.msg, "definition of view 'broken' (id 3) does not load") != NULL);

	/* A name bound to a new id: the old id's records are not its records. */
	SL_ASSERT_OK(sl_store_view_define(fx.s, "sales", sales_yaml, strlen(sales_yaml), true, &id));
	SL_ASSERT_EQ(id, 4);
	p = params("sales", T0, T0 + 60 * SEC, SL_QUERY_STEP_WINDOW, 0);
	SL_ASSERT_OK(sl_query_run(fx.s, &p, &r, &err));
	SL_ASSERT_EQ(sl_query_result_count(r), 0);
	SL_ASSERT_EQ(sl_query_result_view_id(r), 4);
	sl_query_result_destroy(r);
	sl_query_result_destroy(NULL);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(no_views_and_malformed_records)
{
	const uint8_t good_key[] = { 1, 2, 's', '1' };
	const uint8_t bad_key[] = { 1, 9, 's' };           /* length past the end */
	const uint8_t late_key[] = { 0xff, 1, 2, 's', '1' };
	const uint8_t two_dims[] = { 2, 1, 'a', 1, 'b' };  /* the view has one */
	const uint8_t junk[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	const uint8_t late_val[] = { 5, 0, 0, 0, 0, 0, 0, 0 };
	struct sl_store_rec recs[] = {
		{ good_key, sizeof(good_key), junk, sizeof(junk) }, /* a state that does not decode */
		{ bad_key, sizeof(bad_key), late_val, 8 },
		{ two_dims, sizeof(two_dims), late_val, 8 },
		{ late_key, sizeof(late_key), late_val, 7 },        /* a late count of 7 bytes */
	};
	struct sl_query_result *r = NULL;
	struct sl_query_error err;
	struct sl_query_params p = params("sales", T0, T0 + 60 * SEC, SL_QUERY_STEP_WINDOW, 0);
	struct sl_query_row row;
	struct sl_store *s;
	char root[64], db[80], path[128];
	uint32_t id;

	strcpy(root, "/tmp/sl-test-query-XXXXXX");
	SL_ASSERT_NOT_NULL(mkdtemp(root));
	snprintf(db, sizeof(db), "%s/db", root);
	SL_ASSERT_OK(sl_store_open(db, 0, 0, &s));
	SL_ASSERT_EQ(sl_query_run(s, &p, &r, &err), -ENOENT);
	SL_ASSERT_STR_EQ(err.msg, "no view 'sales' in the store (no views are registered yet)");

	SL_ASSERT_OK(sl_store_view_define(s, "sales", sales_yaml, strlen(sales_yaml), false, &id));
	SL_ASSERT_OK(sl_store_put_window(s, id, T0, T0 + SLICE, recs, 4));
	recs[0] = (struct sl_store_rec){ late_key, sizeof(late_key), late_val, 8 };
	SL_ASSERT_OK(sl_store_put_window(s, id, T0 + SLICE, T0 + 2 * SLICE, recs, 1));
	SL_ASSERT_OK(sl_query_run(s, &p, &r, &err));
	SL_ASSERT_EQ(sl_query_result_skipped(r), 4);
	SL_ASSERT_EQ(sl_query_result_count(r), 1);
	sl_query_result_row(r, 0, &row);
	SL_ASSERT_EQ(row.window_start, T0 + SLICE);
	SL_ASSERT_EQ(row.late, 5);
	SL_ASSERT(!row.has_state);
	sl_query_result_destroy(r);
	sl_store_close(s);
	snprintf(path, sizeof(path), "%s/data.mdb", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", db);
	unlink(path);
	rmdir(db);
	rmdir(root);
	return SL_TEST_PASS;
}

SL_TEST(cells_for_people)
{
	struct sl_query_params p = params("sales", T0, T0 + 60 * SEC, SL_QUERY_STEP_ALL, 0);
	struct sl_query_result *r = NULL;
	struct sl_query_error err;
	char buf[160], want[64];
	struct fix fx;

	FIX_OPEN(&fx);
	SL_ASSERT_OK(sl_query_run(fx.s, &p, &r, &err));
	SL_ASSERT_EQ(sl_query_result_count(r), N_GROUPS);
	/* Row 1 is s0. */
	ref_compute(0, N_SLICES, 0, &ref_buf);
	SL_ASSERT_OK(sl_query_result_cell(r, 1, A_COUNT, buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%llu", (unsigned long long)ref_buf.count);
	SL_ASSERT_STR_EQ(buf, want);
	SL_ASSERT_OK(sl_query_result_cell(r, 1, A_SUM, buf, sizeof(buf)));
	fmt_micro(ref_buf.sum, want, sizeof(want));
	SL_ASSERT_STR_EQ(buf, want);
	SL_ASSERT_OK(sl_query_result_cell(r, 1, A_DISTINCT, buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%u", ref_buf.n_users);
	SL_ASSERT_STR_EQ(buf, want);
	SL_ASSERT_OK(sl_query_result_cell(r, 1, A_Q, buf, sizeof(buf)));
	SL_ASSERT(strncmp(buf, "p50=", 4) == 0);
	SL_ASSERT(strstr(buf, " p90=") != NULL && strstr(buf, " p99=") != NULL);
	SL_ASSERT(strstr(buf, " ±1%") != NULL);
	SL_ASSERT_OK(sl_query_result_cell(r, 1, A_TOPK, buf, sizeof(buf)));
	SL_ASSERT(strncmp(buf, "A-", 2) == 0 && strstr(buf, " (+") != NULL);
	SL_ASSERT(strlen(buf) < 64);
	/* Cut to the buffer, always terminated. */
	SL_ASSERT_OK(sl_query_result_cell(r, 1, A_Q, buf, 6));
	SL_ASSERT_EQ(strlen(buf), 5);
	/* The late-only group: no values. */
	SL_ASSERT_OK(sl_query_result_cell(r, N_GROUPS - 1, A_COUNT, buf, sizeof(buf)));
	SL_ASSERT_STR_EQ(buf, "0");
	for (uint32_t a = A_SUM; a <= A_TOPK; a++) {
		SL_ASSERT_OK(sl_query_result_cell(r, N_GROUPS - 1, a, buf, sizeof(buf)));
		SL_ASSERT_STR_EQ(buf, a == A_DISTINCT ? "0" : "-");
	}
	sl_query_result_destroy(r);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(views_list_and_json)
{
	struct sl_query_views *vs = NULL;
	struct sl_query_error err;
	const struct sl_query_view_info *vi;
	struct fix fx;
	char *text = NULL;
	size_t len = 0;
	uint32_t id;
	FILE *f;

	FIX_OPEN(&fx);
	SL_ASSERT_OK(sl_store_view_define(fx.s, "broken", "nonsense", 8, false, &id));
	SL_ASSERT_OK(sl_query_views_load(fx.s, &vs, &err));
	SL_ASSERT_EQ(sl_query_views_count(vs), 3);
	vi = sl_query_views_get(vs, 0);
	SL_ASSERT_STR_EQ(vi->name, "broken");
	SL_ASSERT_EQ(vi->id, 3);
	SL_ASSERT_NULL(vi->view);
	SL_ASSERT(strstr(vi->error, "does not load") != NULL);
	vi = sl_query_views_get(vs, 1);
	SL_ASSERT_STR_EQ(vi->name, "sales");
	SL_ASSERT_EQ(vi->id, 1);
	SL_ASSERT_NOT_NULL(vi->view);
	SL_ASSERT_NULL(vi->error);
	SL_ASSERT_EQ(vi->view->retention_ns, 7 * 86400 * SEC);
	vi = sl_query_views_get(vs, 2);
	SL_ASSERT_STR_EQ(vi->name, "trend");
	SL_ASSERT_EQ(vi->view->window_slide_ns, SLICE);

	f = open_memstream(&text, &len);
	SL_ASSERT_NOT_NULL(f);
	SL_ASSERT_OK(sl_query_views_write_json(vs, f));
	SL_ASSERT_OK(fclose(f));
	SL_ASSERT(strstr(text, "[\n{\"view\":\"broken\",\"id\":3,\"error\":\"") == text);
	SL_ASSERT(strstr(text, "{\"view\":\"sales\",\"id\":1,\"window_size_ns\":10000000000,"
			       "\"window_slide_ns\":10000000000,\"time\":\"event\","
			       "\"allowed_lateness_ns\":5000000000,\"keep_late\":true,"
			       "\"max_groups\":100000,\"retention_ns\":604800000000000,"
			       "\"where\":[{\"dim\":\"event\",\"op\":\"eq\",\"values\":[\"purchase\"]}],"
			       "\"group_by\":[\"store\"],\"aggregates\":[{\"key\":\"count\","
			       "\"kind\":\"count\"},{\"key\":\"sum(amount)\",\"kind\":\"sum\","
			       "\"field\":\"amount\"},") != NULL);
	SL_ASSERT(strstr(text, "{\"key\":\"quantiles(amount)\",\"kind\":\"quantiles\","
			       "\"field\":\"amount\",\"quantiles\":[0.5,0.9,0.99]},"
			       "{\"key\":\"topk(sku,5)\",\"kind\":\"topk\",\"field\":\"sku\",\"k\":5}]}")
		  != NULL);
	SL_ASSERT(strstr(text, "\"window_size_ns\":30000000000,\"window_slide_ns\":10000000000") !=
		  NULL);
	free(text);
	sl_query_views_destroy(vs);
	sl_query_views_destroy(NULL);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(time_and_step_arguments)
{
	const uint64_t now = T0 + 7200 * SEC;
	enum sl_query_step st;
	uint64_t ns = 12345;
	char buf[64];

	SL_ASSERT_OK(sl_query_time_parse("2026-01-01T00:00:00Z", now, &ns));
	SL_ASSERT_EQ(ns, T0);
	SL_ASSERT_OK(sl_query_time_parse("2026-01-01t01:00:00.25+01:00", now, &ns));
	SL_ASSERT_EQ(ns, T0 + 250000000);
	SL_ASSERT_OK(sl_query_time_parse("2025-12-31T23:30:00-00:30", now, &ns));
	SL_ASSERT_EQ(ns, T0);
	SL_ASSERT_OK(sl_query_time_parse("2026-01-01", now, &ns));
	SL_ASSERT_EQ(ns, T0);
	SL_ASSERT_OK(sl_query_time_parse("1767225600", now, &ns));
	SL_ASSERT_EQ(ns, T0);
	SL_ASSERT_OK(sl_query_time_parse("1767225600.5", now, &ns));
	SL_ASSERT_EQ(ns, T0 + 500000000);
	SL_ASSERT_OK(sl_query_time_parse("1767225600s", now, &ns));
	SL_ASSERT_EQ(ns, T0);
	SL_ASSERT_OK(sl_query_time_parse("1767225600000000001", now, &ns));
	SL_ASSERT_EQ(ns, T0 + 1);
	SL_ASSERT_OK(sl_query_time_parse("5ns", now, &ns));
	SL_ASSERT_EQ(ns, 5);
	SL_ASSERT_OK(sl_query_time_parse("now", now, &ns));
	SL_ASSERT_EQ(ns, now);
	SL_ASSERT_OK(sl_query_time_parse("-15m", now, &ns));
	SL_ASSERT_EQ(ns, now - 900 * SEC);
	SL_ASSERT_OK(sl_query_time_parse("-1.5h", now, &ns));
	SL_ASSERT_EQ(ns, now - 5400 * SEC);
	SL_ASSERT_OK(sl_query_time_parse("-30", now, &ns));
	SL_ASSERT_EQ(ns, now - 30 * SEC);
	ns = 7;
	SL_ASSERT_EQ(sl_query_time_parse("", now, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_time_parse("yesterday", now, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_time_parse("2026-13-01T00:00:00Z", now, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_time_parse("2026-02-29", now, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_time_parse("2026-01-01T00:00:00", now, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_time_parse("-", now, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_time_parse("-15x", now, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_time_parse("1.2.3", now, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_time_parse("-100000d", now, &ns), -ERANGE);
	SL_ASSERT_EQ(sl_query_time_parse("1969-12-31T23:59:59Z", now, &ns), -ERANGE);
	SL_ASSERT_EQ(ns, 7); /* written on success only */

	sl_query_time_fmt(T0, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "2026-01-01T00:00:00Z");
	sl_query_time_fmt(T0 + 500000000, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "2026-01-01T00:00:00.5Z");
	sl_query_time_fmt(T0 + 10 * SEC + 1, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "2026-01-01T00:00:10.000000001Z");
	SL_ASSERT_OK(sl_query_time_parse(buf, now, &ns));
	SL_ASSERT_EQ(ns, T0 + 10 * SEC + 1);

	SL_ASSERT_OK(sl_query_step_parse("window", &st, &ns));
	SL_ASSERT_EQ(st, SL_QUERY_STEP_WINDOW);
	SL_ASSERT_OK(sl_query_step_parse("all", &st, &ns));
	SL_ASSERT_EQ(st, SL_QUERY_STEP_ALL);
	SL_ASSERT_OK(sl_query_step_parse("1m", &st, &ns));
	SL_ASSERT_EQ(st, SL_QUERY_STEP_FIXED);
	SL_ASSERT_EQ(ns, 60 * SEC);
	SL_ASSERT_EQ(sl_query_step_parse("0", &st, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_step_parse("1x", &st, &ns), -EINVAL);
	SL_ASSERT_EQ(sl_query_step_parse("", &st, &ns), -EINVAL);
	SL_ASSERT(sl_query_now_ns() > T0);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
