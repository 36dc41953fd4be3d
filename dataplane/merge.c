/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * The storage thread. It is not on the packet path: it may allocate, sleep
 * and do I/O. It must keep up with window rotation, so merging is a hash
 * lookup per group and the commit is one LMDB transaction per window.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_log.h>
#include <rte_ring.h>

#include "agg.h"
#include "merge.h"
#include "store.h"
#include "vmerge.h"

RTE_LOG_REGISTER(sl_logtype_storage, sluice.dp.storage, INFO);
#define STORE_LOG(level, ...) \
	rte_log(RTE_LOG_##level, sl_logtype_storage, "storage: " __VA_ARGS__)

#define MAX_PENDING 256
#define DEQ_BURST 8

struct entry {
	uint8_t *key;
	uint32_t key_len;
	uint8_t type;
	uint64_t hash;
	struct sl_agg_state st;
	struct sl_agg_set *set;
};

/* Key bytes of a window live in a few large chunks, not one allocation each. */
struct key_chunk {
	struct key_chunk *next;
	size_t used;
	size_t cap;
	uint8_t data[];
};

#define KEY_CHUNK_BYTES (1u << 20)

struct window {
	struct key_chunk *chunks;
	uint64_t start;
	uint64_t end;
	struct entry *e;   /* open addressing, cap a power of two */
	uint32_t cap;
	uint32_t n;
	int oom;           /* an allocation failed: commit what we have, count the rest */
};

struct sl_merge {
	struct sl_worker *workers;
	unsigned int n_workers;
	struct sl_store *store;
	struct window pending[MAX_PENDING];
	unsigned int n_pending;
	uint64_t last_committed; /* start of the newest committed window + 1, 0 = none */
	uint64_t *scratch;
	uint32_t scratch_cap;
	struct sl_vmerge *vm;    /* views, NULL: none */
	/* sl_merge_call(): main writes fn, arg, then seq (release); storage runs it, sets done. */
	int (*call_fn)(void *arg);
	void *call_arg;
	uint32_t call_seq;
	uint32_t call_done;
	int call_rc;
	struct sl_merge_stats stats;
};

int
sl_merge_call(struct sl_merge *m, int (*fn)(void *arg), void *arg, int timeout_ms)
{
	uint32_t seq = m->call_seq + 1;

	m->call_fn = fn;
	m->call_arg = arg;
	__atomic_store_n(&m->call_seq, seq, __ATOMIC_RELEASE);
	for (int i = 0; i < timeout_ms; i++) {
		struct timespec ts = { 0, 1000000 };

		if (__atomic_load_n(&m->call_done, __ATOMIC_ACQUIRE) == seq)
			return m->call_rc;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

/* On the storage thread: run a pending sl_merge_call(). */
static void
call_poll(struct sl_merge *m)
{
	uint32_t seq = __atomic_load_n(&m->call_seq, __ATOMIC_ACQUIRE);

	if (seq == m->call_done)
		return;
	m->call_rc = m->call_fn(m->call_arg);
	__atomic_store_n(&m->call_done, seq, __ATOMIC_RELEASE);
}

void
sl_merge_set_views(struct sl_merge *m, struct sl_vmerge *vm)
{
	m->vm = vm;
}

static void
stat_set(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

struct sl_merge *
sl_merge_create(struct sl_worker *workers, unsigned int n_workers, struct sl_store *store,
		uint32_t max_set_members)
{
	struct sl_merge *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->workers = workers;
	m->n_workers = n_workers;
	m->store = store;
	m->scratch_cap = max_set_members > 0 ? max_set_members : 1;
	m->scratch = malloc((size_t)m->scratch_cap * sizeof(uint64_t));
	if (m->scratch == NULL) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

static void
window_free(struct window *w)
{
	for (uint32_t i = 0; i < w->cap; i++)
		sl_agg_set_destroy(w->e[i].set);
	free(w->e);
	while (w->chunks != NULL) {
		struct key_chunk *c = w->chunks;

		w->chunks = c->next;
		free(c);
	}
	memset(w, 0, sizeof(*w));
}

static uint8_t *
key_alloc(struct window *w, uint32_t len)
{
	struct key_chunk *c = w->chunks;
	uint8_t *p;

	if (c == NULL || c->used + len > c->cap) {
		size_t cap = len > KEY_CHUNK_BYTES ? len : KEY_CHUNK_BYTES;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = w->chunks;
		c->used = 0;
		c->cap = cap;
		w->chunks = c;
	}
	p = c->data + c->used;
	c->used += len;
	return p;
}

void
sl_merge_destroy(struct sl_merge *m)
{
	if (m == NULL)
		return;
	for (unsigned int i = 0; i < m->n_pending; i++)
		window_free(&m->pending[i]);
	free(m->scratch);
	free(m);
}

static int
window_grow(struct window *w)
{
	uint32_t cap = w->cap ? w->cap * 2 : 1024;
	struct entry *ne = malloc((size_t)cap * sizeof(*ne));

	if (ne == NULL)
		return -ENOMEM;
	/*
	 * Written, not calloc()ed: zero pages that are read while probing and
	 * written later cost a copy-on-write fault and a TLB shootdown on every
	 * CPU, the workers' included.
	 */
	memset(ne, 0, (size_t)cap * sizeof(*ne));
	for (uint32_t i = 0; i < w->cap; i++) {
		uint32_t j;

		if (w->e[i].key == NULL)
			continue;
		for (j = (uint32_t)w->e[i].hash & (cap - 1); ne[j].key != NULL; j = (j + 1) & (cap - 1))
			;
		ne[j] = w->e[i];
	}
	free(w->e);
	w->e = ne;
	w->cap = cap;
	return 0;
}

/* Find or insert the entry of @p key. NULL on allocation failure. */
static struct entry *
window_entry(struct window *w, const uint8_t *key, uint32_t key_len, uint8_t type)
{
	uint64_t h = sl_hash64(key, key_len, 0);
	struct entry *e;
	uint32_t i;

	if ((w->n + 1) * 2 > w->cap && window_grow(w) != 0)
		return NULL;
	for (i = (uint32_t)h & (w->cap - 1);; i = (i + 1) & (w->cap - 1)) {
		e = &w->e[i];
		if (e->key == NULL)
			break;
		if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
			return e;
	}
	e->key = key_alloc(w, key_len);
	if (e->key == NULL)
		return NULL;
	memcpy(e->key, key, key_len);
	e->key_len = key_len;
	e->type = type;
	e->hash = h;
	sl_agg_state_init(&e->st);
	e->set = NULL;
	w->n++;
	return e;
}

static struct window *
pending_window(struct sl_merge *m, uint64_t start, uint64_t end)
{
	unsigned int i;

	for (i = 0; i < m->n_pending; i++)
		if (m->pending[i].start == start)
			return &m->pending[i];
	if (m->n_pending == MAX_PENDING)
		return NULL;
	/* Keep pending sorted by start: windows commit oldest first. */
	for (i = m->n_pending; i > 0 && m->pending[i - 1].start > start; i--)
		m->pending[i] = m->pending[i - 1];
	memset(&m->pending[i], 0, sizeof(m->pending[i]));
	m->pending[i].start = start;
	m->pending[i].end = end;
	m->n_pending++;
	return &m->pending[i];
}

static void
merge_group(const uint8_t *key, uint32_t key_len, uint8_t type, const struct sl_agg_state *st,
	    const uint64_t *members, uint32_t n_members, void *arg)
{
	struct window *w = arg;
	struct entry *e = window_entry(w, key, key_len, type);

	if (e == NULL) {
		w->oom = 1;
		return;
	}
	sl_agg_state_merge(&e->st, st);
	if (type == SL_METRIC_SET) {
		if (e->set == NULL)
			e->set = sl_agg_set_create();
		if (e->set == NULL || sl_agg_set_add(e->set, members, n_members) != 0)
			w->oom = 1;
	}
}

static int commit_window(struct sl_merge *m, struct window *w);
static int commit_table_direct(struct sl_merge *m, struct sl_agg_table *t, uint64_t start,
			       uint64_t end);

static bool
window_pending(const struct sl_merge *m, uint64_t start)
{
	for (unsigned int i = 0; i < m->n_pending; i++)
		if (m->pending[i].start == start)
			return true;
	return false;
}

static void
take_table(struct sl_merge *m, struct sl_worker *wk, struct sl_agg_table *t)
{
	uint64_t start, end;
	struct window *w;
	uint32_t core;

	sl_agg_table_get_window(t, &start, &end, &core);
	if (m->n_workers == 1 && !window_pending(m, start) &&
	    !(m->last_committed != 0 && start < m->last_committed)) {
		/* The only worker moved past this window: it is complete. */
		(void)commit_table_direct(m, t, start, end);
		goto done;
	}
	w = pending_window(m, start, end);
	while (w == NULL) {
		/* Too many open windows: commit the oldest early (later parts amend it). */
		(void)commit_window(m, &m->pending[0]);
		w = pending_window(m, start, end);
	}
	/* Size the map for this partial up front instead of growing it step by step. */
	while ((uint64_t)(w->n + sl_agg_table_count(t)) * 2 > w->cap)
		if (window_grow(w) != 0)
			break;
	sl_agg_table_walk(t, m->scratch, m->scratch_cap, merge_group, w);
done:
	sl_agg_table_reset(t);
	/* from_store holds every table of this worker, so it cannot be full. */
	(void)rte_ring_sp_enqueue(wk->from_store, t);
	stat_set(&m->stats.partials, m->stats.partials + 1);
}

/* Merge a stored record into an entry before a window is written again. */
static void
amend_entry(struct sl_merge *m, const struct window *w, struct entry *e, uint8_t **buf,
	    uint32_t *cap)
{
	struct sl_agg_state st;
	struct sl_agg_set *set = NULL;
	uint32_t len;
	uint8_t type;
	int rc;

	rc = sl_store_get(m->store, 0, w->start, e->key, e->key_len, *buf, *cap, &len);
	if (rc == -ENOBUFS) {
		uint8_t *nb = realloc(*buf, len);

		if (nb == NULL)
			return;
		*buf = nb;
		*cap = len;
		rc = sl_store_get(m->store, 0, w->start, e->key, e->key_len, *buf, *cap, &len);
	}
	if (rc != 0 || sl_agg_state_deserialize(*buf, len, &type, &st, &set) != 0)
		return;
	sl_agg_state_merge(&e->st, &st);
	if (set != NULL) {
		if (e->set == NULL)
			e->set = sl_agg_set_create();
		if (e->set != NULL)
			(void)sl_agg_set_merge(e->set, set);
		sl_agg_set_destroy(set);
	}
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* LMDB's default key order: bytewise, then shorter first. */
static int
rec_cmp(const void *a, const void *b)
{
	const struct sl_store_rec *x = a, *y = b;
	uint32_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Count a commit (or its failure) and its duration; log a failure once. */
static void
commit_account(struct sl_merge *m, uint64_t start, uint32_t n, int rc, bool amend, int oom,
	       uint64_t t0)
{
	uint64_t dt = mono_ns() - t0, us = dt / 1000;
	unsigned int b = 0;

	if (rc == 0) {
		stat_set(&m->stats.windows_committed, m->stats.windows_committed + 1);
		stat_set(&m->stats.records_written, m->stats.records_written + n);
		if (amend)
			stat_set(&m->stats.windows_amended, m->stats.windows_amended + 1);
		if (start + 1 > m->last_committed)
			m->last_committed = start + 1;
	} else {
		/* The storage thread decides: log here, once per window. */
		STORE_LOG(ERR, "commit of window %" PRIu64 " (%u records) failed: %s%s\n", start, n,
			  strerror(-rc), oom ? " (out of memory merging)" : "");
		stat_set(&m->stats.commit_errors, m->stats.commit_errors + 1);
		stat_set(&m->stats.records_lost, m->stats.records_lost + n);
	}
	while (us > 1 && b < SL_MERGE_HIST_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	stat_set(&m->stats.last_commit_ns, dt);
	stat_set(&m->stats.commit_us_log2[b], m->stats.commit_us_log2[b] + 1);
}

/* Serialized records of one table, for the direct commit path. */
struct direct {
	struct sl_store_rec *recs;
	uint32_t n;
	uint8_t *vals;
	size_t off;
	size_t cap;
	int oom;
};

static void
direct_group(const uint8_t *key, uint32_t key_len, uint8_t type, const struct sl_agg_state *st,
	     const uint64_t *members, uint32_t n_members, void *arg)
{
	struct direct *d = arg;
	struct sl_agg_set *set = NULL;
	size_t need;

	if (d->oom)
		return;
	if (type == SL_METRIC_SET) {
		set = sl_agg_set_create();
		if (set == NULL || sl_agg_set_add(set, members, n_members) != 0) {
			sl_agg_set_destroy(set);
			d->oom = 1;
			return;
		}
	}
	need = sl_agg_state_serialized_size(set);
	if (d->off + need > d->cap) {
		size_t cap = d->cap * 2 > d->off + need ? d->cap * 2 : d->off + need;
		uint8_t *nv = realloc(d->vals, cap);

		if (nv == NULL) {
			sl_agg_set_destroy(set);
			d->oom = 1;
			return;
		}
		d->vals = nv;
		d->cap = cap;
	}
	d->recs[d->n].key = key;
	d->recs[d->n].key_len = key_len;
	d->recs[d->n].val = (const uint8_t *)(uintptr_t)d->off; /* fixed up after the walk */
	d->recs[d->n].val_len =
		(uint32_t)sl_agg_state_serialize(type, st, set, d->vals + d->off);
	d->off += d->recs[d->n].val_len;
	d->n++;
	sl_agg_set_destroy(set);
}

/*
 * With one worker, a table that arrives for a window not seen before is the
 * whole window: serialize and commit it straight from the table, without the
 * merge map (no copy of keys or states).
 */
static int
commit_table_direct(struct sl_merge *m, struct sl_agg_table *t, uint64_t start, uint64_t end)
{
	uint32_t n = sl_agg_table_count(t);
	struct direct d = { 0 };
	uint64_t t0 = mono_ns();
	int rc = -ENOMEM;

	d.recs = malloc((n ? n : 1) * sizeof(*d.recs));
	d.cap = (size_t)(n ? n : 1) * SL_AGG_SER_HDR;
	d.vals = malloc(d.cap);
	if (d.recs == NULL || d.vals == NULL)
		goto out;
	sl_agg_table_walk(t, m->scratch, m->scratch_cap, direct_group, &d);
	if (d.oom)
		goto out;
	for (uint32_t i = 0; i < d.n; i++)
		d.recs[i].val = d.vals + (uintptr_t)d.recs[i].val;
	qsort(d.recs, d.n, sizeof(*d.recs), rec_cmp);
	rc = sl_store_put_window(m->store, 0, start, end, d.recs, d.n);
out:
	commit_account(m, start, n, rc, false, d.oom, t0);
	free(d.recs);
	free(d.vals);
	return rc;
}

/* Write @p w to LMDB and drop it from pending. */
static int
commit_window(struct sl_merge *m, struct window *w)
{
	struct sl_store_rec *recs = NULL;
	uint8_t *vals = NULL, *abuf = NULL;
	uint32_t n = 0, acap = 0;
	size_t total = 0, off = 0;
	bool amend = m->last_committed != 0 && w->start < m->last_committed;
	uint64_t t0 = mono_ns();
	int rc = -ENOMEM;

	if (amend) {
		acap = 4096;
		abuf = malloc(acap);
		for (uint32_t i = 0; abuf != NULL && i < w->cap; i++)
			if (w->e[i].key != NULL)
				amend_entry(m, w, &w->e[i], &abuf, &acap);
	}
	for (uint32_t i = 0; i < w->cap; i++)
		if (w->e[i].key != NULL)
			total += sl_agg_state_serialized_size(w->e[i].set);
	recs = malloc((w->n ? w->n : 1) * sizeof(*recs));
	vals = malloc(total ? total : 1);
	if (recs == NULL || vals == NULL || w->oom)
		goto out;
	for (uint32_t i = 0; i < w->cap; i++) {
		struct entry *e = &w->e[i];
		size_t len;

		if (e->key == NULL)
			continue;
		len = sl_agg_state_serialize(e->type, &e->st, e->set, vals + off);
		recs[n].key = e->key;
		recs[n].key_len = e->key_len;
		recs[n].val = vals + off;
		recs[n].val_len = (uint32_t)len;
		off += len;
		n++;
	}
	/* In key order: the store appends them to the B-tree instead of inserting. */
	qsort(recs, n, sizeof(*recs), rec_cmp);
	rc = sl_store_put_window(m->store, 0, w->start, w->end, recs, n);
out:
	commit_account(m, w->start, rc == 0 ? n : w->n, rc, amend, w->oom, t0);
	free(recs);
	free(vals);
	free(abuf);

	/* Drop it from pending (w points into the array). */
	{
		unsigned int idx = (unsigned int)(w - m->pending);

		window_free(w);
		memmove(&m->pending[idx], &m->pending[idx + 1],
			(m->n_pending - idx - 1) * sizeof(m->pending[0]));
		m->n_pending--;
		memset(&m->pending[m->n_pending], 0, sizeof(m->pending[0]));
	}
	stat_set(&m->stats.pending_windows, m->n_pending);
	return rc;
}

/* View bounds: per view, the lowest done_before of the workers that hold slices. */
static void
views_bounds(struct sl_merge *m, uint64_t *bound, uint32_t n_views)
{
	for (uint32_t v = 0; v < n_views; v++)
		bound[v] = UINT64_MAX;
	for (unsigned int i = 0; i < m->n_workers; i++) {
		struct sl_worker *wk = &m->workers[i];

		if (!__atomic_load_n(&wk->running, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&wk->vidle, __ATOMIC_ACQUIRE))
			continue;
		for (uint32_t v = 0; v < n_views; v++) {
			uint64_t db = __atomic_load_n(&wk->vw.pub[v].done_before, __ATOMIC_ACQUIRE);

			if (db < bound[v])
				bound[v] = db;
		}
	}
}

/* Drain the view rings: slice tables (merged, then given back) and late notes. */
static unsigned int
views_drain(struct sl_merge *m)
{
	struct sl_vwin_note notes[64];
	unsigned int got = 0, n;

	for (unsigned int i = 0; i < m->n_workers; i++) {
		struct sl_worker *wk = &m->workers[i];
		void *tabs[DEQ_BURST];

		if (wk->vto_store == NULL)
			continue;
		while ((n = rte_ring_sc_dequeue_burst(wk->vto_store, tabs, DEQ_BURST, NULL)) > 0) {
			for (unsigned int k = 0; k < n; k++) {
				sl_vmerge_take(m->vm, tabs[k]);
				sl_view_table_reset(tabs[k]);
				/* vfrom_store holds every view table of the worker. */
				(void)rte_ring_sp_enqueue(wk->vfrom_store, tabs[k]);
			}
			got += n;
		}
		while ((n = rte_ring_sc_dequeue_burst_elem(wk->late_ring, notes, sizeof(notes[0]),
							   RTE_DIM(notes), NULL)) > 0) {
			sl_vmerge_late(m->vm, notes, n);
			got += n;
		}
	}
	return got;
}

void *
sl_merge_thread(void *arg)
{
	struct sl_merge *m = arg;
	uint32_t n_views = 0;
	uint64_t *vbound = calloc(SL_VIEW_SLOTS_MAX, sizeof(*vbound));

	for (;;) {
		uint64_t wm = UINT64_MAX;
		unsigned int running = 0, got = 0;

		call_poll(m);
		/* View slots: fixed but for a reload, which only adds (sl_vmerge_add_views()). */
		if (m->vm != NULL && vbound != NULL) {
			n_views = sl_vmerge_views(m->vm);
			views_bounds(m, vbound, n_views);
		}

		/*
		 * Read every worker's bound first, then drain: a worker enqueues a
		 * table before it publishes a bound past it, so everything below
		 * wm is in the rings by now.
		 */
		for (unsigned int i = 0; i < m->n_workers; i++) {
			struct sl_worker *wk = &m->workers[i];
			uint64_t db = __atomic_load_n(&wk->done_before, __ATOMIC_ACQUIRE);

			if (__atomic_load_n(&wk->running, __ATOMIC_ACQUIRE))
				running++;
			if (__atomic_load_n(&wk->idle, __ATOMIC_ACQUIRE))
				db = UINT64_MAX;
			if (db < wm)
				wm = db;
		}
		for (unsigned int i = 0; i < m->n_workers; i++) {
			struct sl_worker *wk = &m->workers[i];
			void *tabs[DEQ_BURST];
			unsigned int n;

			while ((n = rte_ring_sc_dequeue_burst(wk->to_store, tabs, DEQ_BURST, NULL)) >
			       0) {
				for (unsigned int k = 0; k < n; k++)
					take_table(m, wk, tabs[k]);
				got += n;
			}
		}
		while (m->n_pending > 0 && m->pending[0].start < wm)
			(void)commit_window(m, &m->pending[0]);
		stat_set(&m->stats.pending_windows, m->n_pending);
		if (n_views > 0) {
			got += views_drain(m);
			for (uint32_t v = 0; v < n_views; v++)
				sl_vmerge_commit_before(m->vm, v, vbound[v]);
			sl_vmerge_retention(m->vm, false);
		}

		{
			struct timespec cpu;

			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
			stat_set(&m->stats.busy_ns,
				 (uint64_t)cpu.tv_sec * SL_NS_PER_SEC + (uint64_t)cpu.tv_nsec);
		}
		if (running == 0 && got == 0 && m->n_pending == 0 &&
		    (n_views == 0 || sl_vmerge_pending(m->vm) == 0))
			break;
		if (got == 0) {
			struct timespec ts = { 0, 5000000 }; /* 5 ms: idle cost ~0.5 % of a core */

			nanosleep(&ts, NULL);
		}
	}
	if (n_views > 0)
		sl_vmerge_retention(m->vm, true);
	free(vbound);
	STORE_LOG(INFO, "all windows committed\n");
	return NULL;
}

void
sl_merge_stats_read(const struct sl_merge *m, struct sl_merge_stats *ret)
{
	const struct sl_merge_stats *s = &m->stats;

	ret->windows_committed = __atomic_load_n(&s->windows_committed, __ATOMIC_RELAXED);
	ret->windows_amended = __atomic_load_n(&s->windows_amended, __ATOMIC_RELAXED);
	ret->records_written = __atomic_load_n(&s->records_written, __ATOMIC_RELAXED);
	ret->commit_errors = __atomic_load_n(&s->commit_errors, __ATOMIC_RELAXED);
	ret->records_lost = __atomic_load_n(&s->records_lost, __ATOMIC_RELAXED);
	ret->pending_windows = __atomic_load_n(&s->pending_windows, __ATOMIC_RELAXED);
	ret->last_commit_ns = __atomic_load_n(&s->last_commit_ns, __ATOMIC_RELAXED);
	ret->partials = __atomic_load_n(&s->partials, __ATOMIC_RELAXED);
	ret->busy_ns = __atomic_load_n(&s->busy_ns, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < SL_MERGE_HIST_BUCKETS; i++)
		ret->commit_us_log2[i] = __atomic_load_n(&s->commit_us_log2[i], __ATOMIC_RELAXED);
}
