/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of dataplane/vwin.c: per-core event-time slices, lateness and
 * watermark closing, checked against a reference model written here from the
 * rule in vwin.h (late when the end of the event's slice + allowed_lateness
 * <= M, M the largest event time seen before). The "storage thread" is the
 * handover callback: it walks each closed table into a per-(view, slice,
 * group) count, resets the table and gives it back.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_test.h"
#include "view.h"
#include "vwin.h"

#define NS 1000000000ull
#define N_STORES 7
#define MAX_SLICES 4096

static const char cfg_yaml[] =
	"version: 1\n"
	"inputs: [{format: json, port: 8127}]\n"
	"limits: {max_groups: 64, max_set_members: 1024}\n"
	"views:\n"
	"  - name: tumbling\n"
	"    where: {event: buy}\n"
	"    group_by: [store]\n"
	"    window: {size: 10s}\n"
	"    allowed_lateness: 15s\n"
	"    keep_late: true\n"
	"    aggregates: [count, \"distinct(user)\"]\n"
	"  - name: sliding\n"
	"    group_by: [store]\n"
	"    window: {size: 30s, slide: 5s}\n"
	"    aggregates: [count]\n"
	"  - name: arrival\n"
	"    where: {event: buy}\n"
	"    window: {size: 1s}\n"
	"    time: arrival\n"
	"    aggregates: [count]\n";

#define N_VIEWS 3

/* Reference and observed counts per (view, slice index, store). */
struct counts {
	uint64_t agg[N_VIEWS][MAX_SLICES][N_STORES + 1];
	uint64_t late[N_VIEWS][MAX_SLICES][N_STORES + 1];
};

struct fixture {
	struct sl_config *cfg;
	struct sl_view_plan *plan[N_VIEWS];
	struct sl_vwin w;
	struct sl_vwin_view v[N_VIEWS];
	struct sl_vwin_pub pub[N_VIEWS];
	void *mem[N_VIEWS][SL_VWIN_POOL_MAX];
	uint32_t n_mem[N_VIEWS];
	struct counts *seen;
	uint64_t base;          /* time of slice index 0 */
	uint64_t handovers;
	bool refuse;            /* the callback refuses tables */
	uint64_t *scratch;
};

static uint32_t
store_of_key(const uint8_t *key, uint32_t len)
{
	/* key: n_dims, len, "sN" (or empty for the arrival view's 0 dims) */
	if (len < 4 || key[0] != 1)
		return N_STORES;
	return (uint32_t)(key[3] - '0');
}

struct walk_arg {
	struct fixture *fx;
	uint32_t view;
	uint64_t slice;
};

static void
on_group(const uint8_t *key, uint32_t key_len, void *state, const uint64_t *const *members,
	 const uint32_t *n_members, void *arg)
{
	struct walk_arg *a = arg;
	const struct sl_view_count *c = sl_view_state_slot(a->fx->plan[a->view], state, 0);

	(void)members;
	(void)n_members;
	a->fx->seen->agg[a->view][a->slice][store_of_key(key, key_len)] += c->n;
}

static bool
handover(void *arg, uint32_t view, struct sl_view_table *t)
{
	struct fixture *fx = arg;
	struct walk_arg wa = { fx, view, 0 };
	uint64_t s, e;
	uint32_t core;

	if (fx->refuse)
		return false;
	sl_view_table_get_window(t, &s, &e, &core);
	if (e - s != fx->w.v[view].slide || s % fx->w.v[view].slide != 0 || core != 3)
		abort();
	wa.slice = (s - fx->base) / fx->w.v[view].slide;
	if (wa.slice >= MAX_SLICES)
		abort();
	sl_view_table_walk(t, fx->scratch, 1 << 16, on_group, &wa);
	sl_view_table_reset(t);
	fx->handovers++;
	return sl_vwin_give(&fx->w, view, t);
}

static uint32_t
late_sink(void *arg, const struct sl_vwin_note *notes, uint32_t n)
{
	struct fixture *fx = arg;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t slice = (notes[i].start - fx->base) / fx->w.v[notes[i].view].slide;

		fx->seen->late[notes[i].view][slice][store_of_key(notes[i].key, notes[i].key_len)] +=
			notes[i].count;
	}
	return n;
}

static void
fix_open(struct fixture *fx, uint32_t tables_extra)
{
	struct sl_config_error err;

	memset(fx, 0, sizeof(*fx));
	if (sl_config_load_string(cfg_yaml, sizeof(cfg_yaml) - 1, "t", &fx->cfg, &err) != 0) {
		sl_config_error_print(&err, stderr);
		abort();
	}
	fx->seen = calloc(1, sizeof(*fx->seen));
	fx->scratch = malloc(sizeof(uint64_t) << 16);
	fx->base = 1767225600ull * NS; /* a multiple of every slide */
	fx->w.n_views = N_VIEWS;
	fx->w.core = 3;
	fx->w.v = fx->v;
	fx->w.pub = fx->pub;
	fx->w.handover = handover;
	fx->w.late = late_sink;
	fx->w.arg = fx;
	for (uint32_t i = 0; i < N_VIEWS; i++) {
		const struct sl_config_view *cv = &fx->cfg->views[i];
		struct sl_view_limits lim = { 64, 1024, 0 };
		size_t sz;

		if (sl_view_plan_create(cv, &(struct sl_view_plan_params){ .cfg = fx->cfg },
					&fx->plan[i]) != 0 ||
		    sl_vwin_view_init(&fx->v[i], fx->plan[i], cv->window_slide_ns,
				      cv->allowed_lateness_ns, cv->time == SL_CONFIG_TIME_ARRIVAL,
				      cv->keep_late) != 0)
			abort();
		fx->v[i].view_slot = i;
		sz = sl_view_table_memsize(fx->plan[i], &lim);
		fx->n_mem[i] = fx->v[i].n_slots + tables_extra;
		for (uint32_t k = 0; k < fx->n_mem[i]; k++) {
			fx->mem[i][k] = aligned_alloc(64, sz);
			memset(fx->mem[i][k], 0xa5, sz);
			if (!sl_vwin_give(&fx->w, i, sl_view_table_init(fx->mem[i][k], fx->plan[i], &lim)))
				abort();
		}
	}
}

static void
fix_close(struct fixture *fx)
{
	for (uint32_t i = 0; i < N_VIEWS; i++) {
		for (uint32_t k = 0; k < fx->n_mem[i]; k++)
			free(fx->mem[i][k]);
		sl_view_plan_destroy(fx->plan[i]);
	}
	sl_config_free(fx->cfg);
	free(fx->seen);
	free(fx->scratch);
}

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

struct ev_buf {
	struct sl_event ev;
	char store[4];
	char user[8];
};

static void
make_event(struct ev_buf *b, bool buy, uint32_t store, uint32_t user, uint64_t ts)
{
	struct sl_event *ev = &b->ev;

	memset(ev, 0, sizeof(*ev));
	ev->name = buy ? (struct sl_span){ (const uint8_t *)"buy", 3 }
		       : (struct sl_span){ (const uint8_t *)"look", 4 };
	ev->ts_ns = ts;
	snprintf(b->store, sizeof(b->store), "s%u", store);
	snprintf(b->user, sizeof(b->user), "u%u", user);
	ev->fields[0].key = (struct sl_span){ (const uint8_t *)"store", 5 };
	ev->fields[0].kind = SL_FIELD_STR;
	ev->fields[0].str = (struct sl_span){ (const uint8_t *)b->store, (uint32_t)strlen(b->store) };
	ev->fields[1].key = (struct sl_span){ (const uint8_t *)"user", 4 };
	ev->fields[1].kind = SL_FIELD_STR;
	ev->fields[1].str = (struct sl_span){ (const uint8_t *)b->user, (uint32_t)strlen(b->user) };
	ev->n_fields = 2;
}

SL_TEST(lateness_and_slices_match_the_reference)
{
	static struct counts ref;
	struct fixture fx;
	uint64_t seed = 42, t = 0, m = 0, arrival;
	uint64_t n_late = 0, n_agg = 0, n_filtered = 0;

	memset(&ref, 0, sizeof(ref));
	fix_open(&fx, 4);
	arrival = fx.base;
	for (uint32_t i = 0; i < 200000; i++) {
		uint64_t r = splitmix64(&seed), ts;
		bool buy = r % 3 != 0;
		uint32_t store = (uint32_t)(r >> 8) % N_STORES;
		uint32_t user = (uint32_t)(r >> 16) % 50;
		bool late_any = false, agg_any = false;
		struct ev_buf b;
		unsigned int rc;

		t += (r >> 40) % 2000000; /* 0..2 ms apart: 200 s in all */
		ts = fx.base + t;
		if ((r >> 24) % 100 < 10) /* 10 %: 0..40 s back */
			ts -= ((r >> 32) % 40000) * 1000000ull > t ? t : ((r >> 32) % 40000) * 1000000ull;
		arrival += 1000; /* 1 us per event */
		make_event(&b, buy, store, user, ts);
		/* Reference. */
		for (uint32_t v = 0; v < N_VIEWS; v++) {
			const struct sl_config_view *cv = &fx.cfg->views[v];
			bool arr = cv->time == SL_CONFIG_TIME_ARRIVAL;
			uint64_t tv = arr ? arrival : ts, slide = cv->window_slide_ns;
			uint64_t s = tv - tv % slide, idx = (s - fx.base) / slide;
			uint32_t g = cv->n_group_by ? store : N_STORES;

			if (v != 1 && !buy)
				continue;
			if (!arr && s + slide + cv->allowed_lateness_ns <= m) {
				late_any = true;
				if (cv->keep_late)
					ref.late[v][idx][g]++;
				continue;
			}
			agg_any = true;
			ref.agg[v][idx][g]++;
		}
		if (ts > m)
			m = ts;
		sl_vwin_tick(&fx.w, arrival);
		rc = sl_vwin_event(&fx.w, &b.ev, arrival);
		if (agg_any) {
			SL_ASSERT_EQ(rc, SL_DROP__MAX);
			n_agg++;
		} else if (late_any) {
			SL_ASSERT_EQ(rc, SL_DROP_LATE);
			n_late++;
		} else {
			SL_ASSERT_EQ(rc, SL_DROP_FILTERED);
			n_filtered++;
		}
		if (i % 32 == 31)
			sl_vwin_publish(&fx.w);
	}
	SL_ASSERT(n_late > 1000 && n_agg > 100000);
	/* The watermark closed old slices along the way; the rest goes at the end. */
	SL_ASSERT(fx.handovers > 50);
	SL_ASSERT(sl_vwin_open(&fx.w) > 0);
	sl_vwin_flush(&fx.w);
	sl_vwin_publish(&fx.w);
	SL_ASSERT_EQ(sl_vwin_open(&fx.w), 0);
	for (uint32_t v = 0; v < N_VIEWS; v++)
		for (uint32_t k = 0; k < MAX_SLICES; k++)
			for (uint32_t g = 0; g <= N_STORES; g++) {
				if (ref.agg[v][k][g] != fx.seen->agg[v][k][g] ||
				    ref.late[v][k][g] != fx.seen->late[v][k][g])
					SL_FAILF("view %u slice %u store %u: aggregated %llu vs %llu, "
						 "late %llu vs %llu", v, k, g,
						 (unsigned long long)fx.seen->agg[v][k][g],
						 (unsigned long long)ref.agg[v][k][g],
						 (unsigned long long)fx.seen->late[v][k][g],
						 (unsigned long long)ref.late[v][k][g]);
			}
	/* The counters agree with the reference too. */
	{
		struct sl_vwin_stats s = { 0 };

		sl_vwin_stats_read(&fx.pub[0], &s);
		SL_ASSERT_EQ(s.aggregated + s.late + s.dropped, s.matched);
		SL_ASSERT_EQ(s.dropped, 0);
		SL_ASSERT_EQ(s.late_unattributed, 0);
		SL_ASSERT(s.slices_closed > 10);
	}
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(done_before_never_passes_an_open_slice)
{
	struct fixture fx;
	uint64_t seed = 7;
	struct ev_buf b;

	fix_open(&fx, 4);
	for (uint32_t i = 0; i < 20000; i++) {
		uint64_t r = splitmix64(&seed);
		uint64_t ts = fx.base + 100 * NS + (uint64_t)i * 5000000ull - (r % 20000) * 1000000ull;

		make_event(&b, true, (uint32_t)(r >> 20) % N_STORES, 1, ts);
		(void)sl_vwin_event(&fx.w, &b.ev, fx.base + i);
		sl_vwin_publish(&fx.w);
		for (uint32_t v = 0; v < 2; v++) {
			uint64_t db = __atomic_load_n(&fx.pub[v].done_before, __ATOMIC_ACQUIRE);

			/* Every open slice starts at or after the published bound. */
			for (uint32_t k = 0; k < fx.v[v].n_slots; k++) {
				uint64_t s, e;
				uint32_t core;

				if (fx.v[v].slot[k] == NULL)
					continue;
				sl_view_table_get_window(fx.v[v].slot[k], &s, &e, &core);
				SL_ASSERT(s >= db);
			}
		}
	}
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(no_table_and_refused_handover_are_counted)
{
	struct fixture fx;
	struct ev_buf b;
	struct sl_vwin_stats s = { 0 };
	unsigned int rc;

	fix_open(&fx, 0);
	/* Take every free table of the tumbling view: n_slots slices in a row. */
	for (uint32_t k = 0; k < fx.v[0].n_slots; k++) {
		make_event(&b, true, 1, 1, fx.base + k * 10 * NS);
		fx.refuse = true; /* the watermark cannot close anything */
		SL_ASSERT_EQ(sl_vwin_event(&fx.w, &b.ev, fx.base), SL_DROP__MAX);
	}
	SL_ASSERT_EQ(fx.v[0].n_free, 0);
	/* A slice whose slot is held and cannot be handed over: no table. */
	make_event(&b, true, 1, 1, fx.base + (uint64_t)fx.v[0].n_slots * 10 * NS);
	rc = sl_vwin_event(&fx.w, &b.ev, fx.base);
	/* The sliding view (every event, own tables) still aggregates it. */
	SL_ASSERT_EQ(rc, SL_DROP__MAX);
	sl_vwin_publish(&fx.w);
	sl_vwin_stats_read(&fx.pub[0], &s);
	SL_ASSERT_EQ(s.dropped, 1);
	SL_ASSERT_EQ(s.aggregated, fx.v[0].n_slots);
	/* Once the owner takes tables again, everything is handed over. */
	fx.refuse = false;
	sl_vwin_flush(&fx.w);
	SL_ASSERT_EQ(sl_vwin_open(&fx.w), 0);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(late_at_the_exact_boundary)
{
	struct fixture fx;
	struct ev_buf b;

	fix_open(&fx, 4);
	/* tumbling: slide 10 s, lateness 15 s. M = base + 105 s. */
	make_event(&b, true, 1, 1, fx.base + 105 * NS);
	SL_ASSERT_EQ(sl_vwin_event(&fx.w, &b.ev, fx.base), SL_DROP__MAX);
	/*
	 * Slice [80, 90): 90 + 15 <= 105: late (the sliding view has no
	 * lateness: late too); the arrival-time view takes it.
	 */
	make_event(&b, true, 1, 1, fx.base + 89 * NS);
	SL_ASSERT_EQ(sl_vwin_event(&fx.w, &b.ev, fx.base), SL_DROP__MAX);
	SL_ASSERT_EQ(fx.v[0].stats.late, 1);
	SL_ASSERT_EQ(fx.v[1].stats.late, 1);
	/* Slice [90, 100): 100 + 15 > 105: on time for the tumbling view. */
	make_event(&b, true, 1, 1, fx.base + 90 * NS);
	SL_ASSERT_EQ(sl_vwin_event(&fx.w, &b.ev, fx.base), SL_DROP__MAX);
	SL_ASSERT_EQ(fx.v[0].stats.late, 1);
	SL_ASSERT_EQ(fx.v[0].stats.aggregated, 2);
	/* A non-buy event only the sliding view takes: slice [100, 105) of 5 s ends at M. */
	make_event(&b, false, 1, 1, fx.base + 100 * NS);
	SL_ASSERT_EQ(sl_vwin_event(&fx.w, &b.ev, fx.base), SL_DROP_LATE);
	make_event(&b, false, 1, 1, fx.base + 105 * NS);
	SL_ASSERT_EQ(sl_vwin_event(&fx.w, &b.ev, fx.base), SL_DROP__MAX);
	/* An event without a time takes its arrival time. */
	make_event(&b, false, 1, 1, 0);
	SL_ASSERT_EQ(sl_vwin_event(&fx.w, &b.ev, fx.base + 200 * NS), SL_DROP__MAX);
	SL_ASSERT_EQ(fx.w.max_ts, fx.base + 200 * NS);
	sl_vwin_flush(&fx.w);
	sl_vwin_publish(&fx.w);
	SL_ASSERT_EQ(fx.seen->late[0][8][1], 1);
	SL_ASSERT_EQ(fx.seen->agg[0][9][1], 1);
	SL_ASSERT_EQ(fx.seen->agg[0][10][1], 1);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(slots_needed)
{
	SL_ASSERT_EQ(sl_vwin_slots_needed(10, 0), 2);
	SL_ASSERT_EQ(sl_vwin_slots_needed(10, 1), 3);
	SL_ASSERT_EQ(sl_vwin_slots_needed(10, 10), 3);
	SL_ASSERT_EQ(sl_vwin_slots_needed(10, 11), 4);
	SL_ASSERT_EQ(sl_vwin_slots_needed(0, 11), 0);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
