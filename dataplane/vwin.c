/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Views on one core (vwin.h). Runs on a worker lcore: no allocation, no
 * locks, no syscalls. The work per event is one where-check per view and, for
 * each matching view, one slot lookup and one table update.
 */

#include <errno.h>
#include <string.h>

#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#include "vwin.h"

static inline void
pub_store(uint64_t *dst, uint64_t v)
{
	__atomic_store_n(dst, v, __ATOMIC_RELAXED);
}

uint32_t
sl_vwin_slots_needed(uint64_t slide, uint64_t lateness)
{
	uint64_t n;

	if (slide == 0)
		return 0;
	n = lateness / slide + (lateness % slide != 0) + 2;
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int
sl_vwin_view_init(struct sl_vwin_view *v, const struct sl_view_plan *plan, uint64_t slide,
		  uint64_t lateness, bool arrival, bool keep_late)
{
	uint32_t n = sl_vwin_slots_needed(slide, arrival ? 0 : lateness);

	if (plan == NULL || n == 0 || n > SL_VWIN_SLOTS_MAX)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->plan = plan;
	v->slide = slide;
	v->lateness = arrival ? 0 : lateness;
	v->arrival = arrival;
	v->keep_late = keep_late && !arrival;
	v->n_slots = n;
	v->min_open = UINT64_MAX;
	return 0;
}

bool
sl_vwin_give(struct sl_vwin *w, uint32_t view, struct sl_view_table *t)
{
	struct sl_vwin_view *v = &w->v[view];

	if (v->n_free == SL_VWIN_POOL_MAX)
		return false;
	v->free[v->n_free++] = t;
	return true;
}

static void
recompute_min_open(struct sl_vwin_view *v)
{
	uint64_t m = UINT64_MAX;

	for (uint32_t i = 0; i < v->n_slots; i++)
		if (v->slot[i] != NULL && v->slot_start[i] < m)
			m = v->slot_start[i];
	v->min_open = m;
}

/* Hand over slot @p i. False (nothing changed) when the owner cannot take it. */
static bool
close_slot(struct sl_vwin *w, struct sl_vwin_view *v, uint32_t view, uint32_t i)
{
	struct sl_view_table *t = v->slot[i];
	struct sl_view_table_stats ts;

	sl_view_table_stats(t, &ts);
	if (!w->handover(w->arg, view, t))
		return false;
	v->slot[i] = NULL;
	v->stats.slices_closed++;
	v->stats.overflow_events += ts.overflow_events;
	v->stats.missing_field_events += ts.missing_field_events;
	return true;
}

/* Close every slice of @p v that starts before @p bound. */
static void
close_before(struct sl_vwin *w, struct sl_vwin_view *v, uint32_t view, uint64_t bound)
{
	if (v->min_open >= bound)
		return;
	for (uint32_t i = 0; i < v->n_slots; i++)
		if (v->slot[i] != NULL && v->slot_start[i] < bound)
			(void)close_slot(w, v, view, i);
	recompute_min_open(v);
}

/* First slice start that is still open to on-time events of an event-time view. */
static inline uint64_t
event_bound(const struct sl_vwin *w, const struct sl_vwin_view *v)
{
	uint64_t c = w->max_ts > v->lateness ? w->max_ts - v->lateness : 0;

	return c - c % v->slide;
}

static struct sl_view_table *
slice_table(struct sl_vwin *w, struct sl_vwin_view *v, uint32_t view, uint64_t s)
{
	uint32_t i = (uint32_t)((s / v->slide) % v->n_slots);
	struct sl_view_table *t = v->slot[i];

	if (t != NULL) {
		if (v->slot_start[i] == s)
			return t;
		/* An older slice still holds the slot: it goes now, later data amends it. */
		if (!close_slot(w, v, view, i))
			return NULL;
		v->stats.slices_forced++;
		recompute_min_open(v);
	}
	if (v->n_free == 0)
		return NULL;
	t = v->free[--v->n_free];
	sl_view_table_set_window(t, s, s + v->slide, w->core);
	v->slot[i] = t;
	v->slot_start[i] = s;
	if (s < v->min_open)
		v->min_open = s;
	return t;
}

static void
notes_flush(struct sl_vwin *w, struct sl_vwin_view *v)
{
	uint32_t took;

	if (v->n_notes == 0)
		return;
	took = w->late != NULL ? w->late(w->arg, v->notes, v->n_notes) : 0;
	for (uint32_t i = took; i < v->n_notes; i++)
		v->stats.late_unattributed += v->notes[i].count;
	v->n_notes = 0;
}

static void
note_late(struct sl_vwin *w, struct sl_vwin_view *v, const struct sl_event *ev, uint64_t s)
{
	uint8_t key[SL_VIEW_KEY_MAX];
	struct sl_vwin_note *n;
	uint32_t len;

	if (sl_view_plan_key(v->plan, ev, key, &len) != 0 || len > SL_VWIN_NOTE_KEY) {
		v->stats.late_unattributed++;
		return;
	}
	for (uint32_t i = 0; i < v->n_notes; i++) {
		n = &v->notes[i];
		if (n->start == s && n->key_len == len && memcmp(n->key, key, len) == 0) {
			n->count++;
			return;
		}
	}
	if (v->n_notes == SL_VWIN_NOTES)
		notes_flush(w, v);
	n = &v->notes[v->n_notes++];
	n->view = v->view_slot;
	n->count = 1;
	n->start = s;
	n->key_len = (uint8_t)len;
	memcpy(n->key, key, len);
}

unsigned int
sl_vwin_event(struct sl_vwin *w, const struct sl_event *ev, uint64_t arrival_ns)
{
	uint64_t t = ev->ts_ns != 0 ? ev->ts_ns : arrival_ns;
	uint64_t m = w->max_ts;
	unsigned int drop = SL_DROP__MAX;
	bool agg = false, late = false;

	for (uint32_t vi = 0; vi < w->n_views; vi++) {
		struct sl_vwin_view *v = &w->v[vi];
		struct sl_view_table *tab;
		uint64_t tv, s;
		unsigned int rc;

		if (!sl_view_plan_match(v->plan, ev))
			continue;
		v->stats.matched++;
		tv = v->arrival ? arrival_ns : t;
		s = tv - tv % v->slide;
		if (unlikely(s < v->min_start)) {
			v->stats.matched--; /* a view added while running starts at a boundary */
			continue;
		}
		if (!v->arrival && s + v->slide + v->lateness <= m) {
			v->stats.late++;
			late = true;
			if (v->keep_late)
				note_late(w, v, ev, s);
			continue;
		}
		tab = slice_table(w, v, vi, s);
		rc = tab != NULL ? sl_view_table_update_matched(tab, ev, arrival_ns) : SL_DROP_NO_TABLE;
		if (rc == SL_DROP__MAX) {
			v->stats.aggregated++;
			agg = true;
		} else {
			v->stats.dropped++;
			drop = rc;
		}
	}
	if (t > w->max_ts) {
		w->max_ts = t;
		for (uint32_t vi = 0; vi < w->n_views; vi++)
			if (!w->v[vi].arrival)
				close_before(w, &w->v[vi], vi, event_bound(w, &w->v[vi]));
	}
	if (agg)
		return SL_DROP__MAX;
	if (late)
		return SL_DROP_LATE;
	return drop != SL_DROP__MAX ? drop : SL_DROP_FILTERED;
}

void
sl_vwin_tick(struct sl_vwin *w, uint64_t now_ns)
{
	if (now_ns <= w->clock)
		return;
	w->clock = now_ns;
	for (uint32_t vi = 0; vi < w->n_views; vi++) {
		struct sl_vwin_view *v = &w->v[vi];

		if (v->arrival)
			close_before(w, v, vi, now_ns - now_ns % v->slide);
	}
}

void
sl_vwin_flush(struct sl_vwin *w)
{
	for (uint32_t vi = 0; vi < w->n_views; vi++)
		close_before(w, &w->v[vi], vi, UINT64_MAX);
}

void
sl_vwin_view_retire(struct sl_vwin *w, uint32_t view)
{
	struct sl_vwin_view *v = &w->v[view];

	close_before(w, v, view, UINT64_MAX);
	sl_vwin_publish(w);
	__atomic_store_n(&w->pub[v->view_slot].done_before, UINT64_MAX, __ATOMIC_RELEASE);
}

uint32_t
sl_vwin_open(const struct sl_vwin *w)
{
	uint32_t n = 0;

	for (uint32_t vi = 0; vi < w->n_views; vi++)
		for (uint32_t i = 0; i < w->v[vi].n_slots; i++)
			n += w->v[vi].slot[i] != NULL;
	return n;
}

void
sl_vwin_publish(struct sl_vwin *w)
{
	for (uint32_t vi = 0; vi < w->n_views; vi++) {
		struct sl_vwin_view *v = &w->v[vi];
		struct sl_vwin_pub *p = &w->pub[v->view_slot];
		uint64_t b = v->arrival ? w->clock - w->clock % v->slide : event_bound(w, v);

		notes_flush(w, v);
		if (v->min_open < b)
			b = v->min_open;
		/* Release: the tables handed over are visible before the bound that covers them. */
		__atomic_store_n(&p->done_before, b, __ATOMIC_RELEASE);
		pub_store(&p->stats.matched, v->stats.matched);
		pub_store(&p->stats.aggregated, v->stats.aggregated);
		pub_store(&p->stats.late, v->stats.late);
		pub_store(&p->stats.dropped, v->stats.dropped);
		pub_store(&p->stats.overflow_events, v->stats.overflow_events);
		pub_store(&p->stats.missing_field_events, v->stats.missing_field_events);
		pub_store(&p->stats.slices_closed, v->stats.slices_closed);
		pub_store(&p->stats.slices_forced, v->stats.slices_forced);
		pub_store(&p->stats.late_unattributed, v->stats.late_unattributed);
	}
}

void
sl_vwin_stats_read(const struct sl_vwin_pub *pub, struct sl_vwin_stats *acc)
{
	const struct sl_vwin_stats *p = &pub->stats;

	acc->matched += __atomic_load_n(&p->matched, __ATOMIC_RELAXED);
	acc->aggregated += __atomic_load_n(&p->aggregated, __ATOMIC_RELAXED);
	acc->late += __atomic_load_n(&p->late, __ATOMIC_RELAXED);
	acc->dropped += __atomic_load_n(&p->dropped, __ATOMIC_RELAXED);
	acc->overflow_events += __atomic_load_n(&p->overflow_events, __ATOMIC_RELAXED);
	acc->missing_field_events += __atomic_load_n(&p->missing_field_events, __ATOMIC_RELAXED);
	acc->slices_closed += __atomic_load_n(&p->slices_closed, __ATOMIC_RELAXED);
	acc->slices_forced += __atomic_load_n(&p->slices_forced, __ATOMIC_RELAXED);
	acc->late_unattributed += __atomic_load_n(&p->late_unattributed, __ATOMIC_RELAXED);
}
