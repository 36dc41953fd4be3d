/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * View slices on the storage thread (vmerge.h). Not on the packet path: it
 * allocates and does I/O. A pending slice is an open-addressing map from
 * group key to a merged state block; keys and blocks live in large chunks.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_log.h>

#include "store.h"
#include "vmerge.h"

RTE_LOG_REGISTER(sl_logtype_vmerge, sluice.dp.views, INFO);
#define VM_LOG(level, ...) rte_log(RTE_LOG_##level, sl_logtype_vmerge, "views: " __VA_ARGS__)

#define MAX_PENDING 1024
#define CHUNK_BYTES (1u << 20)
#define RETENTION_BATCH 10000u
#define LATE_DELAY_NS 1000000000ull

struct ventry {
	uint8_t *key;
	uint8_t *block;            /* NULL: only late events so far */
	struct sl_agg_set **sets;  /* n_aggs entries when the plan has distinct() */
	uint64_t hash;
	uint64_t late;
	uint32_t key_len;
};

struct chunk {
	struct chunk *next;
	size_t used;
	size_t cap;
	uint8_t data[] __attribute__((aligned(16)));
};

struct vslice {
	uint32_t view;
	uint64_t start;
	uint64_t end;
	struct ventry *e;
	uint32_t cap;
	uint32_t n;
	uint32_t n_state;          /* entries with a state block (0: late counts only) */
	uint64_t born;             /* monotonic ns when it became pending */
	struct chunk *chunks;
	int oom;
};

struct vview {
	struct sl_vmerge_view cfg;
	uint32_t n_aggs;
	size_t group_size;
	bool has_distinct;
	uint64_t committed_max;    /* start + 1 of the newest committed slice, 0: none */
	uint64_t newest_end;
	uint64_t last_retention;   /* monotonic ns of the last retention batch */
};

struct sl_vmerge {
	struct sl_store *store;
	struct vview *views;
	uint32_t n_views;
	struct vslice *pending;    /* sorted by (start, view) */
	uint32_t n_pending;
	uint64_t *scratch;
	uint32_t scratch_cap;
	uint8_t *buf;              /* serialization / amend buffer */
	size_t buf_cap;
	struct sl_vmerge_stats stats;
};

static void
stat_set(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

static void
stat_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void view_setup(struct vview *v, const struct sl_vmerge_view *cfg);

struct sl_vmerge *
sl_vmerge_create(struct sl_store *store, const struct sl_vmerge_view *views, uint32_t n,
		 uint32_t max_set_members)
{
	struct sl_vmerge *vm = calloc(1, sizeof(*vm));

	if (vm == NULL)
		return NULL;
	vm->store = store;
	vm->n_views = n;
	vm->views = calloc(n ? n : 1, sizeof(*vm->views));
	vm->pending = calloc(MAX_PENDING, sizeof(*vm->pending));
	vm->scratch_cap = max_set_members > 0 ? max_set_members : 1;
	vm->scratch = malloc((size_t)vm->scratch_cap * sizeof(uint64_t));
	if (vm->views == NULL || vm->pending == NULL || vm->scratch == NULL) {
		sl_vmerge_destroy(vm);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		view_setup(&vm->views[i], &views[i]);
	return vm;
}

static void
slice_free(struct sl_vmerge *vm, struct vslice *s)
{
	uint32_t na = vm->views[s->view].n_aggs;

	for (uint32_t i = 0; i < s->cap; i++) {
		struct ventry *e = &s->e[i];

		if (e->key == NULL || e->sets == NULL)
			continue;
		for (uint32_t a = 0; a < na; a++)
			sl_agg_set_destroy(e->sets[a]);
		free(e->sets);
	}
	free(s->e);
	while (s->chunks != NULL) {
		struct chunk *c = s->chunks;

		s->chunks = c->next;
		free(c);
	}
	memset(s, 0, sizeof(*s));
}

void
sl_vmerge_destroy(struct sl_vmerge *vm)
{
	if (vm == NULL)
		return;
	for (uint32_t i = 0; vm->pending != NULL && i < vm->n_pending; i++)
		slice_free(vm, &vm->pending[i]);
	free(vm->pending);
	free(vm->views);
	free(vm->scratch);
	free(vm->buf);
	free(vm);
}

/* 16-byte aligned bytes from the slice's chunks. */
static uint8_t *
chunk_alloc(struct vslice *s, size_t len)
{
	struct chunk *c = s->chunks;
	uint8_t *p;

	len = (len + 15) & ~(size_t)15;
	if (c == NULL || c->used + len > c->cap) {
		size_t cap = len > CHUNK_BYTES ? len : CHUNK_BYTES;

		c = aligned_alloc(16, (sizeof(*c) + cap + 15) & ~(size_t)15);
		if (c == NULL)
			return NULL;
		c->next = s->chunks;
		c->used = 0;
		c->cap = cap;
		s->chunks = c;
	}
	p = c->data + c->used;
	c->used += len;
	return p;
}

static int
slice_grow(struct vslice *s)
{
	uint32_t cap = s->cap ? s->cap * 2 : 64;
	struct ventry *ne = calloc(cap, sizeof(*ne));

	if (ne == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->cap; i++) {
		uint32_t j;

		if (s->e[i].key == NULL)
			continue;
		for (j = (uint32_t)s->e[i].hash & (cap - 1); ne[j].key != NULL; j = (j + 1) & (cap - 1))
			;
		ne[j] = s->e[i];
	}
	free(s->e);
	s->e = ne;
	s->cap = cap;
	return 0;
}

static struct ventry *
slice_entry(struct vslice *s, const uint8_t *key, uint32_t len)
{
	uint64_t h = sl_hash64(key, len, 0);
	struct ventry *e;

	if ((s->n + 1) * 2 > s->cap && slice_grow(s) != 0)
		return NULL;
	for (uint32_t i = (uint32_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		e = &s->e[i];
		if (e->key == NULL)
			break;
		if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
			return e;
	}
	e->key = chunk_alloc(s, len ? len : 1);
	if (e->key == NULL)
		return NULL;
	memcpy(e->key, key, len);
	e->key_len = len;
	e->hash = h;
	e->block = NULL;
	e->sets = NULL;
	e->late = 0;
	s->n++;
	return e;
}

/* Give @p e a state block (and set slots) if it has none. */
static int
entry_state(struct vview *v, struct vslice *s, struct ventry *e)
{
	if (e->block != NULL)
		return 0;
	if (v->has_distinct && e->sets == NULL) {
		e->sets = calloc(v->n_aggs, sizeof(*e->sets));
		if (e->sets == NULL)
			return -ENOMEM;
	}
	e->block = chunk_alloc(s, v->group_size);
	if (e->block == NULL)
		return -ENOMEM;
	s->n_state++;
	sl_view_state_init(v->cfg.plan, e->block);
	return 0;
}

static struct vslice *
pending_slice(struct sl_vmerge *vm, uint32_t view, uint64_t start, uint64_t end)
{
	uint32_t i;

	for (i = 0; i < vm->n_pending; i++)
		if (vm->pending[i].start == start && vm->pending[i].view == view)
			return &vm->pending[i];
	if (vm->n_pending == MAX_PENDING)
		return NULL;
	for (i = vm->n_pending; i > 0 && vm->pending[i - 1].start > start; i--)
		vm->pending[i] = vm->pending[i - 1];
	memset(&vm->pending[i], 0, sizeof(vm->pending[i]));
	vm->pending[i].view = view;
	vm->pending[i].start = start;
	vm->pending[i].end = end;
	vm->pending[i].born = mono_ns();
	vm->n_pending++;
	stat_set(&vm->stats.pending, vm->n_pending);
	return &vm->pending[i];
}

struct take_ctx {
	struct vview *v;
	struct vslice *s;
};

static void
take_group(const uint8_t *key, uint32_t key_len, void *state, const uint64_t *const *members,
	   const uint32_t *n_members, void *arg)
{
	struct take_ctx *c = arg;
	const struct sl_view_plan *p = c->v->cfg.plan;
	struct ventry *e = slice_entry(c->s, key, key_len);

	if (e == NULL || entry_state(c->v, c->s, e) != 0) {
		c->s->oom = 1;
		return;
	}
	for (uint32_t a = 0; a < c->v->n_aggs; a++) {
		if (members[a] == NULL || n_members[a] == 0)
			continue;
		if (e->sets[a] == NULL)
			e->sets[a] = sl_agg_set_create();
		if (e->sets[a] == NULL || sl_agg_set_add(e->sets[a], members[a], n_members[a]) != 0)
			c->s->oom = 1;
	}
	if (sl_view_state_merge(p, e->block, NULL, state, NULL) != 0)
		c->s->oom = 1;
	/* Distinct counts: the union, not the sum of the cores' counts. */
	for (uint32_t a = 0; e->sets != NULL && a < c->v->n_aggs; a++)
		if (e->sets[a] != NULL)
			((struct sl_view_distinct *)sl_view_state_slot(p, e->block, a))->n =
				sl_agg_set_count(e->sets[a]);
}

static int find_view(const struct sl_vmerge *vm, const struct sl_view_plan *p);
static void commit_slice(struct sl_vmerge *vm, struct vslice *s);

static int
find_view(const struct sl_vmerge *vm, const struct sl_view_plan *p)
{
	for (uint32_t i = 0; i < vm->n_views; i++)
		if (vm->views[i].cfg.plan == p)
			return (int)i;
	return -1;
}

static struct vslice *
pending_or_flush(struct sl_vmerge *vm, uint32_t view, uint64_t start, uint64_t end)
{
	struct vslice *s = pending_slice(vm, view, start, end);

	while (s == NULL) {
		/* Too many pending: commit the oldest early (later parts amend it). */
		commit_slice(vm, &vm->pending[0]);
		s = pending_slice(vm, view, start, end);
	}
	return s;
}

void
sl_vmerge_take(struct sl_vmerge *vm, struct sl_view_table *t)
{
	int vi = find_view(vm, sl_view_table_plan(t));
	struct take_ctx c;
	uint64_t start, end;
	uint32_t core;

	if (vi < 0 || sl_view_table_count(t) == 0)
		return;
	sl_view_table_get_window(t, &start, &end, &core);
	c.v = &vm->views[vi];
	c.s = pending_or_flush(vm, (uint32_t)vi, start, end);
	while ((uint64_t)(c.s->n + sl_view_table_count(t)) * 2 > c.s->cap)
		if (slice_grow(c.s) != 0)
			break;
	sl_view_table_walk(t, vm->scratch, vm->scratch_cap, take_group, &c);
}

void
sl_vmerge_late(struct sl_vmerge *vm, const struct sl_vwin_note *notes, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct sl_vwin_note *nt = &notes[i];
		struct vslice *s;
		struct ventry *e;

		if (nt->view >= vm->n_views)
			continue;
		s = pending_or_flush(vm, nt->view, nt->start,
				     nt->start + vm->views[nt->view].cfg.slide_ns);
		e = slice_entry(s, nt->key, nt->key_len);
		if (e == NULL) {
			s->oom = 1;
			continue;
		}
		e->late += nt->count;
		stat_add(&vm->stats.late_notes, nt->count);
	}
}

static uint8_t *
buf_need(struct sl_vmerge *vm, size_t n)
{
	if (n > vm->buf_cap) {
		uint8_t *b = realloc(vm->buf, n);

		if (b == NULL)
			return NULL;
		vm->buf = b;
		vm->buf_cap = n;
	}
	return vm->buf;
}

/* Merge what the store holds for @p e into it (amending a committed slice). */
static void
amend_entry(struct sl_vmerge *vm, struct vview *v, struct vslice *s, struct ventry *e)
{
	uint8_t lkey[1 + SL_VIEW_KEY_MAX];
	uint32_t len = 0;
	int rc;

	if (buf_need(vm, 4096) == NULL)
		return;
	rc = sl_store_get(vm->store, v->cfg.id, s->start, e->key, e->key_len, vm->buf,
			  (uint32_t)vm->buf_cap, &len);
	if (rc == -ENOBUFS && buf_need(vm, len) != NULL)
		rc = sl_store_get(vm->store, v->cfg.id, s->start, e->key, e->key_len, vm->buf,
				  (uint32_t)vm->buf_cap, &len);
	if (rc == 0) {
		uint8_t *blk = aligned_alloc(16, (v->group_size + 15) & ~(size_t)15);
		struct sl_agg_set *sets[SL_CONFIG_AGGS_MAX] = { 0 };

		if (blk != NULL && entry_state(v, s, e) == 0 &&
		    sl_view_state_deserialize(v->cfg.plan, vm->buf, len, blk, sets) == 0) {
			(void)sl_view_state_merge(v->cfg.plan, e->block, e->sets, blk, sets);
			for (uint32_t a = 0; a < v->n_aggs; a++)
				sl_agg_set_destroy(sets[a]);
		}
		free(blk);
	}
	/* The late count of the group, if any. */
	lkey[0] = SL_VIEW_LATE_MARK;
	memcpy(lkey + 1, e->key, e->key_len);
	rc = sl_store_get(vm->store, v->cfg.id, s->start, lkey, e->key_len + 1, vm->buf,
			  (uint32_t)vm->buf_cap, &len);
	if (rc == 0 && len == 8) {
		uint64_t l;

		memcpy(&l, vm->buf, 8);
		e->late += l;
	}
}

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

/* Write @p s (amending what is stored) and drop it from pending. */
static void
commit_slice(struct sl_vmerge *vm, struct vslice *s)
{
	struct vview *v = &vm->views[s->view];
	bool amend = v->committed_max != 0 && s->start < v->committed_max;
	bool late_only = s->n_state == 0;
	struct sl_store_rec *recs = NULL;
	uint8_t *vals = NULL, *lkeys = NULL;
	size_t total = 0, off = 0, loff = 0;
	uint32_t n = 0, i;
	uint64_t t0 = mono_ns();
	int rc = -ENOMEM;

	if (amend)
		for (i = 0; i < s->cap; i++)
			if (s->e[i].key != NULL)
				amend_entry(vm, v, s, &s->e[i]);
	for (i = 0; i < s->cap; i++) {
		if (s->e[i].key == NULL)
			continue;
		if (s->e[i].block != NULL)
			total += sl_view_state_serialized_max(v->cfg.plan, s->e[i].sets);
		if (s->e[i].late > 0)
			total += 8;
	}
	recs = malloc((size_t)(2 * s->n + 1) * sizeof(*recs));
	vals = malloc(total ? total : 1);
	lkeys = malloc((size_t)s->n * (1 + SL_VIEW_KEY_MAX) + 1);
	if (recs == NULL || vals == NULL || lkeys == NULL || s->oom)
		goto out;
	for (i = 0; i < s->cap; i++) {
		struct ventry *e = &s->e[i];

		if (e->key == NULL)
			continue;
		if (e->block != NULL) {
			size_t len = sl_view_state_serialize(v->cfg.plan, e->block, e->sets,
							     vals + off, total - off);

			if (len == 0)
				goto out;
			recs[n].key = e->key;
			recs[n].key_len = e->key_len;
			recs[n].val = vals + off;
			recs[n].val_len = (uint32_t)len;
			off += len;
			n++;
		}
		if (e->late > 0) {
			lkeys[loff] = SL_VIEW_LATE_MARK;
			memcpy(lkeys + loff + 1, e->key, e->key_len);
			memcpy(vals + off, &e->late, 8);
			recs[n].key = lkeys + loff;
			recs[n].key_len = e->key_len + 1;
			recs[n].val = vals + off;
			recs[n].val_len = 8;
			loff += 1 + e->key_len;
			off += 8;
			n++;
		}
	}
	qsort(recs, n, sizeof(*recs), rec_cmp);
	rc = sl_store_put_window(vm->store, v->cfg.id, s->start, s->end, recs, n);
out:
	if (rc == 0) {
		stat_add(&vm->stats.slices_committed, 1);
		stat_add(&vm->stats.records_written, n);
		if (amend && !late_only)
			stat_add(&vm->stats.slices_amended, 1);
		if (late_only)
			stat_add(&vm->stats.late_updates, 1);
		if (s->start + 1 > v->committed_max)
			v->committed_max = s->start + 1;
		if (s->end > v->newest_end)
			v->newest_end = s->end;
	} else {
		VM_LOG(ERR, "commit of view %u slice %" PRIu64 " (%u groups) failed: %s%s\n",
		       v->cfg.id, s->start, s->n, strerror(-rc), s->oom ? " (out of memory)" : "");
		stat_add(&vm->stats.commit_errors, 1);
		stat_add(&vm->stats.records_lost, s->n);
	}
	stat_set(&vm->stats.last_commit_ns, mono_ns() - t0);
	free(recs);
	free(vals);
	free(lkeys);
	{
		uint32_t idx = (uint32_t)(s - vm->pending);

		slice_free(vm, s);
		memmove(&vm->pending[idx], &vm->pending[idx + 1],
			(vm->n_pending - idx - 1) * sizeof(vm->pending[0]));
		vm->n_pending--;
		memset(&vm->pending[vm->n_pending], 0, sizeof(vm->pending[0]));
	}
	stat_set(&vm->stats.pending, vm->n_pending);
}

void
sl_vmerge_commit_before(struct sl_vmerge *vm, uint32_t view, uint64_t bound)
{
	uint64_t now = mono_ns();
	uint32_t i = 0;

	while (i < vm->n_pending) {
		struct vslice *s = &vm->pending[i];

		if (s->start >= bound)
			break; /* sorted by start */
		/*
		 * Late counts of closed slices: written at most once a second (and
		 * at the end), so that a stream of late events costs few writes.
		 */
		if (s->view == view &&
		    (s->n_state > 0 || bound == UINT64_MAX || now - s->born >= LATE_DELAY_NS))
			commit_slice(vm, s); /* shifts the rest down */
		else
			i++;
	}
}

void
sl_vmerge_retention(struct sl_vmerge *vm, bool final)
{
	uint64_t now = mono_ns();

	for (uint32_t i = 0; i < vm->n_views; i++) {
		struct vview *v = &vm->views[i];
		uint64_t deleted;

		if (v->cfg.retention_ns == 0 || v->newest_end <= v->cfg.retention_ns ||
		    (!final && now - v->last_retention < SL_NS_PER_SEC))
			continue;
		v->last_retention = now;
		do {
			deleted = 0;
			if (sl_store_delete_before(vm->store, v->cfg.id,
						   v->newest_end - v->cfg.retention_ns,
						   RETENTION_BATCH, &deleted) != 0)
				break;
			stat_add(&vm->stats.retention_deleted, deleted);
		} while (final && deleted == RETENTION_BATCH);
	}
}

static void
view_setup(struct vview *v, const struct sl_vmerge_view *cfg)
{
	memset(v, 0, sizeof(*v));
	v->cfg = *cfg;
	v->n_aggs = sl_view_plan_n_aggs(cfg->plan);
	v->group_size = sl_view_plan_group_size(cfg->plan);
	for (uint32_t a = 0; a < v->n_aggs; a++)
		if (sl_view_plan_agg_kind(cfg->plan, a) == SL_CONFIG_AGG_DISTINCT)
			v->has_distinct = true;
}

int
sl_vmerge_add_views(struct sl_vmerge *vm, const struct sl_vmerge_view *views, uint32_t n)
{
	struct vview *nv = realloc(vm->views, (vm->n_views + n + 1) * sizeof(*nv));

	if (nv == NULL)
		return -ENOMEM;
	vm->views = nv;
	for (uint32_t i = 0; i < n; i++)
		view_setup(&vm->views[vm->n_views + i], &views[i]);
	__atomic_store_n(&vm->n_views, vm->n_views + n, __ATOMIC_RELEASE);
	return 0;
}

uint32_t
sl_vmerge_views(const struct sl_vmerge *vm)
{
	return vm->n_views;
}

uint32_t
sl_vmerge_pending(const struct sl_vmerge *vm)
{
	return vm->n_pending;
}

void
sl_vmerge_stats_read(const struct sl_vmerge *vm, struct sl_vmerge_stats *ret)
{
	const uint64_t *src = (const uint64_t *)&vm->stats;
	uint64_t *dst = (uint64_t *)ret;

	for (size_t i = 0; i < sizeof(*ret) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
