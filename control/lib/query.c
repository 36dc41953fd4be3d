/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * Queries of stored views (see query.h and docs/queries.md).
 *
 * A query keeps one row per (window, group) in a hash table: each scanned
 * slice record is deserialized once and merged into the row of every window
 * it belongs to (S / L windows of a sliding view, one otherwise). Late
 * records add their count to the same rows. Rows own their state block, the
 * distinct() sets merged so far and a copy of the group key, in one
 * allocation. When the scan is over the rows are sorted (window end, then
 * the group's dimension texts) and everything else reads them.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/common.h>

#include "agg.h"
#include "config.h"
#include "query.h"
#include "sketch.h"
#include "store.h"
#include "view.h"

/* The HyperLogLog's relative standard error (view.h: 1.04 / sqrt(2^14)). */
#define QUERY_HLL_RSE (1.04 / 128.0)
/* Top-k items shown in a table cell, and the cell's width budget. */
#define QUERY_TOPK_CELL_ITEMS 3
#define QUERY_TOPK_CELL_WIDTH 48

/** One (window, group) of a result; all of it lives in one block, @c block first. */
struct qrow {
	uint64_t start;
	uint64_t end;
	uint64_t late;
	uint64_t hash;
	uint64_t set_bytes;        /**< Approximate bytes of @c sets (counted in r->bytes). */
	bool has_state;
	uint32_t key_len;
	void *block;               /**< State (plan group size bytes), 16-byte aligned. */
	struct sl_agg_set **sets;  /**< n_aggs entries, after the block. */
	uint8_t *key;              /**< Group key, after the sets. */
	struct sl_view_key dims;   /**< Spans into @c key. */
};

struct sl_query_result {
	char *name;
	uint32_t id;
	struct sl_config *cfg;
	const struct sl_config_view *view;
	struct sl_view_plan *plan;
	size_t group_size;
	uint32_t n_aggs;
	struct qrow *rows;
	size_t n_rows;
	size_t cap_rows;
	uint32_t *slots;   /**< Row index + 1; 0: empty. Power-of-two size. */
	size_t n_slots;
	uint64_t bytes;    /**< Row blocks and their distinct() sets. */
	bool has_sets;     /**< The plan has a distinct() aggregate. */
	uint64_t skipped;
	/* SL_QUERY_STEP_ALL: the span of the merged slices. */
	bool all_any;
	uint64_t all_start;
	uint64_t all_end;
};

/** What the scan callback needs. */
struct qscan {
	struct sl_query_result *r;
	const struct sl_query_params *p;
	uint32_t where_dim[SL_QUERY_WHERE_MAX];
	uint64_t size;      /**< Window size S. */
	uint64_t slide;     /**< Slide L (== S when tumbling). */
	uint64_t n_slices;  /**< S / L. */
	uint64_t max_rows;
	uint64_t max_bytes;
	void *tmp;          /**< Deserialized state of the current record. */
	int err;
	struct sl_query_error *e;
};

static void __attribute__((format(printf, 2, 3)))
seterr(struct sl_query_error *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- rows ---- */

static void
row_free(const struct sl_query_result *r, struct qrow *row)
{
	if (row->block == NULL)
		return;
	for (uint32_t i = 0; i < r->n_aggs; i++)
		sl_agg_set_destroy(row->sets[i]);
	free(row->block);
	row->block = NULL;
}

void
sl_query_result_destroy(struct sl_query_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_rows; i++)
		row_free(r, &r->rows[i]);
	free(r->rows);
	free(r->slots);
	sl_view_plan_destroy(r->plan);
	sl_config_free(r->cfg);
	free(r->name);
	free(r);
}

static int
slots_grow(struct sl_query_result *r)
{
	size_t n = r->n_slots ? r->n_slots * 2 : 1024;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_rows; i++) {
		size_t s = r->rows[i].hash & (n - 1);

		while (slots[s] != 0)
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)(i + 1);
	}
	free(r->slots);
	r->slots = slots;
	r->n_slots = n;
	return 0;
}

/**
 * The row of (@p start, @p key), created (empty state, no late) when missing.
 * @return the row, or NULL with q->err set (-ENOMEM, -E2BIG).
 */
static struct qrow *
row_get(struct qscan *q, uint64_t start, uint64_t end, const uint8_t *key, uint32_t key_len)
{
	struct sl_query_result *r = q->r;
	uint64_t h = sl_hash64(key, key_len, start);
	size_t sets_off = r->group_size, key_off, total, s;
	struct qrow *row;
	void *mem;

	if (r->n_slots > 0) {
		for (s = h & (r->n_slots - 1); r->slots[s] != 0; s = (s + 1) & (r->n_slots - 1)) {
			row = &r->rows[r->slots[s] - 1];
			if (row->hash == h && row->start == start && row->key_len == key_len &&
			    memcmp(row->key, key, key_len) == 0)
				return row;
		}
	}

	key_off = sets_off + (size_t)r->n_aggs * sizeof(struct sl_agg_set *);
	total = (key_off + key_len + 15) & ~(size_t)15;
	if (r->n_rows >= q->max_rows) {
		seterr(q->e, "more than %" PRIu64 " rows; narrow the range, add --where or use a "
			     "coarser step",
		       q->max_rows);
		q->err = -E2BIG;
		return NULL;
	}
	if (r->bytes + total > q->max_bytes) {
		seterr(q->e, "the rows' states need more than %" PRIu64 " MiB; narrow the range, "
			     "add --where or use a coarser step",
		       q->max_bytes >> 20);
		q->err = -E2BIG;
		return NULL;
	}
	if ((r->n_rows + 1) * 2 > r->n_slots && slots_grow(r) < 0)
		goto nomem;
	if (r->n_rows == r->cap_rows) {
		size_t cap = r->cap_rows ? r->cap_rows * 2 : 256;
		struct qrow *rows = realloc(r->rows, cap * sizeof(*rows));

		if (rows == NULL)
			goto nomem;
		r->rows = rows;
		r->cap_rows = cap;
	}
	mem = aligned_alloc(16, total);
	if (mem == NULL)
		goto nomem;
	row = &r->rows[r->n_rows];
	memset(row, 0, sizeof(*row));
	row->start = start;
	row->end = end;
	row->hash = h;
	row->key_len = key_len;
	row->block = mem;
	row->sets = (struct sl_agg_set **)((uint8_t *)mem + sets_off);
	row->key = (uint8_t *)mem + key_off;
	memset(row->sets, 0, (size_t)r->n_aggs * sizeof(*row->sets));
	if (key_len > 0)
		memcpy(row->key, key, key_len);
	sl_view_state_init(r->plan, row->block);
	/* The caller decoded the same bytes: this cannot fail. */
	if (sl_view_key_decode(row->key, key_len, &row->dims) != 0)
		assert(0);
	for (s = h & (r->n_slots - 1); r->slots[s] != 0; s = (s + 1) & (r->n_slots - 1))
		;
	r->slots[s] = (uint32_t)(r->n_rows + 1);
	r->n_rows++;
	r->bytes += total;
	return row;
nomem:
	seterr(q->e, "out of memory");
	q->err = -ENOMEM;
	return NULL;
}

/**
 * Count the bytes of the row's distinct() sets (they grow with the merges:
 * up to 32 KiB exact, 16 KiB as HyperLogLog) against max_bytes.
 */
static int
row_sets_account(struct qscan *q, struct qrow *row)
{
	struct sl_query_result *r = q->r;
	uint64_t n = 0;

	for (uint32_t i = 0; i < r->n_aggs; i++)
		if (row->sets[i] != NULL)
			n += sl_agg_state_serialized_size(row->sets[i]);
	r->bytes = r->bytes - row->set_bytes + n;
	row->set_bytes = n;
	if (r->bytes > q->max_bytes) {
		seterr(q->e, "the rows' states need more than %" PRIu64 " MiB; narrow the range, "
			     "add --where or use a coarser step",
		       q->max_bytes >> 20);
		q->err = -E2BIG;
		return -E2BIG;
	}
	return 0;
}

/** Add one record to the row of (@p start, key): its state (@p sets) or its late count. */
static int
row_add(struct qscan *q, uint64_t start, uint64_t end, const uint8_t *key, uint32_t key_len,
	bool late, uint64_t late_n, struct sl_agg_set *const *sets)
{
	struct qrow *row = row_get(q, start, end, key, key_len);
	int rc;

	if (row == NULL)
		return q->err;
	if (late) {
		row->late += late_n;
		return 0;
	}
	rc = sl_view_state_merge(q->r->plan, row->block, row->sets, q->tmp, sets);
	if (rc < 0) {
		seterr(q->e, "merging states: %s", strerror(-rc));
		q->err = rc;
		return rc;
	}
	row->has_state = true;
	return q->r->has_sets ? row_sets_account(q, row) : 0;
}

static bool
where_holds(const struct qscan *q, const struct sl_view_key *k)
{
	for (uint32_t i = 0; i < q->p->n_where; i++) {
		const struct sl_span *d = &k->dims[q->where_dim[i]];
		const char *v = q->p->where[i].value;
		size_t len = strlen(v);

		if (d->len != len || (len > 0 && memcmp(d->p, v, len) != 0))
			return false;
	}
	return true;
}

static int
scan_fn(uint32_t view, uint64_t start, uint64_t end, const uint8_t *key, uint32_t key_len,
	const uint8_t *val, uint32_t val_len, void *arg)
{
	struct sl_agg_set *sets[SL_CONFIG_AGGS_MAX] = { NULL };
	struct qscan *q = arg;
	struct sl_query_result *r = q->r;
	const struct sl_query_params *p = q->p;
	bool late = key_len > 0 && key[0] == SL_VIEW_LATE_MARK;
	uint64_t late_n = 0, s;
	struct sl_view_key k;
	int rc = 0;

	(void)view;
	if (late) {
		key++;
		key_len--;
		if (val_len != 8) {
			r->skipped++;
			return 0;
		}
		late_n = get_le64(val);
	}
	if (sl_view_key_decode(key, key_len, &k) != 0 ||
	    k.n_dims != sl_view_plan_n_dims(r->plan)) {
		r->skipped++;
		return 0;
	}
	if (!where_holds(q, &k))
		return 0;
	if (!late) {
		rc = sl_view_state_deserialize(r->plan, val, val_len, q->tmp, sets);
		if (rc == -EINVAL) {
			r->skipped++;
			return 0;
		}
		if (rc < 0) {
			seterr(q->e, "decoding a state: %s", strerror(-rc));
			q->err = rc;
			return 1;
		}
	}

	switch (p->step) {
	case SL_QUERY_STEP_WINDOW:
		/* Every window [s, s + S) with s = start - j L that starts in the range. */
		for (uint64_t j = 0; j < q->n_slices && rc == 0; j++) {
			if (j * q->slide > start)
				break;
			s = start - j * q->slide;
			if (s < p->from_ns || s >= p->to_ns)
				continue;
			rc = row_add(q, s, sat_add(s, q->size), key, key_len, late, late_n, sets);
		}
		break;
	case SL_QUERY_STEP_FIXED:
		s = start - start % p->step_ns;
		if (s >= p->from_ns && s < p->to_ns)
			rc = row_add(q, s, sat_add(s, p->step_ns), key, key_len, late, late_n, sets);
		break;
	case SL_QUERY_STEP_ALL:
		if (!r->all_any || start < r->all_start)
			r->all_start = start;
		if (!r->all_any || end > r->all_end)
			r->all_end = end;
		r->all_any = true;
		rc = row_add(q, 0, 0, key, key_len, late, late_n, sets);
		break;
	}
	for (uint32_t i = 0; i < SL_CONFIG_AGGS_MAX; i++)
		sl_agg_set_destroy(sets[i]);
	return rc < 0 ? 1 : 0;
}

/** Rows by window end (then start), then group: dimension texts bytewise, absent first. */
static int
row_cmp(const void *x, const void *y)
{
	const struct qrow *a = x, *b = y;

	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	for (uint32_t i = 0; i < a->dims.n_dims && i < b->dims.n_dims; i++) {
		const struct sl_span *da = &a->dims.dims[i], *db = &b->dims.dims[i];
		uint32_t n = da->len < db->len ? da->len : db->len;
		int c = n > 0 ? memcmp(da->p, db->p, n) : 0;

		if (c != 0)
			return c;
		if (da->len != db->len)
			return da->len < db->len ? -1 : 1;
	}
	return 0;
}

/* ---- lookup ---- */

struct name_list {
	char buf[384];
	size_t len;
	uint32_t n;
	bool cut;
};

static int
name_list_add(const char *name, uint32_t id, const char *def, size_t len, void *arg)
{
	struct name_list *nl = arg;
	size_t need = strlen(name) + (nl->n > 0 ? 2 : 0);

	(void)id, (void)def, (void)len;
	if (nl->cut || nl->len + need + 1 > sizeof(nl->buf) - 8) {
		nl->cut = true;
		return 0;
	}
	nl->len += (size_t)snprintf(nl->buf + nl->len, sizeof(nl->buf) - nl->len, "%s%s",
				    nl->n > 0 ? ", " : "", name);
	nl->n++;
	return 0;
}

/** The message of an unknown view: the registered names, or that there are none. */
static void
unknown_view(struct sl_store *store, const char *name, struct sl_query_error *e)
{
	struct name_list nl = { .len = 0 };

	nl.buf[0] = '\0';
	if (sl_store_view_list(store, name_list_add, &nl) != 0) {
		seterr(e, "no view '%s' in the store", name);
		return;
	}
	if (nl.n == 0)
		seterr(e, "no view '%s' in the store (no views are registered yet)", name);
	else
		seterr(e, "no view '%s' in the store; views: %s%s", name, nl.buf,
		       nl.cut ? ", ..." : "");
}

/** Load a definition and find its view (by @p name, else the only one). */
static int
def_load(const char *name, uint32_t id, const char *def, size_t len, struct sl_config **ret_cfg,
	 const struct sl_config_view **ret_view, char *msg, size_t cap)
{
	struct sl_config_error ce;
	struct sl_config *cfg = NULL;
	char what[96];
	int rc;

	snprintf(what, sizeof(what), "definition of view '%s' (id %u)", name, id);
	rc = sl_config_load_string(def, len, what, &cfg, &ce);
	if (rc == -ENOMEM) {
		snprintf(msg, cap, "out of memory");
		return -ENOMEM;
	}
	if (rc < 0) {
		if (ce.line > 0)
			snprintf(msg, cap, "%s does not load: line %u: %s", what, ce.line, ce.msg);
		else
			snprintf(msg, cap, "%s does not load: %s", what, ce.msg);
		return -EPROTO;
	}
	for (uint32_t i = 0; i < cfg->n_views; i++) {
		if (strcmp(cfg->views[i].name, name) == 0 || cfg->n_views == 1) {
			*ret_cfg = cfg;
			*ret_view = &cfg->views[i];
			return 0;
		}
	}
	snprintf(msg, cap, "%s holds no view '%s'", what, name);
	sl_config_free(cfg);
	return -EPROTO;
}

static void
dims_list(const struct sl_config_view *v, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < v->n_group_by && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", i > 0 ? ", " : "",
					v->group_by[i]);
}

/** Check the parameters against the view and fill the scan context. */
static int
params_check(struct qscan *q, const struct sl_query_params *p, struct sl_query_error *e)
{
	const struct sl_config_view *v = q->r->view;
	char a[32], b[32], dims[SL_CONFIG_GROUP_BY_MAX * (SL_CONFIG_DIM_NAME_MAX + 2) + 1];

	q->size = v->window_size_ns;
	q->slide = v->window_slide_ns;
	q->n_slices = q->size / q->slide;
	if (p->step == SL_QUERY_STEP_FIXED &&
	    (p->step_ns == 0 || p->step_ns % v->window_slide_ns != 0)) {
		sl_config_duration_fmt(p->step_ns, a, sizeof(a));
		sl_config_duration_fmt(v->window_slide_ns, b, sizeof(b));
		seterr(e, "step %s is not a multiple of the %s of view '%s' (%s)", a,
		       v->window_size_ns == v->window_slide_ns ? "window" : "slide", p->view, b);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < p->n_where; i++) {
		uint32_t d;

		for (d = 0; d < v->n_group_by; d++)
			if (strcmp(v->group_by[d], p->where[i].dim) == 0)
				break;
		if (d == v->n_group_by) {
			dims_list(v, dims, sizeof(dims));
			if (v->n_group_by == 0)
				seterr(e, "where '%s': view '%s' has no group_by dimensions",
				       p->where[i].dim, p->view);
			else
				seterr(e, "where '%s': not a dimension of view '%s' (group_by: %s)",
				       p->where[i].dim, p->view, dims);
			return -EINVAL;
		}
		q->where_dim[i] = d;
	}
	return 0;
}

int
sl_query_run(struct sl_store *store, const struct sl_query_params *p,
	     struct sl_query_result **ret, struct sl_query_error *e)
{
	struct qscan q = { .p = p, .e = e };
	struct sl_query_result *r;
	uint64_t from, to;
	char *def = NULL;
	size_t def_len = 0;
	char msg[sizeof(e->msg)];
	int rc;

	assert(store != NULL && p != NULL && p->view != NULL && ret != NULL);
	assert(p->n_where == 0 || p->where != NULL);
	if (p->from_ns >= p->to_ns) {
		seterr(e, "empty range: from must be before to");
		return -EINVAL;
	}
	if (p->n_where > SL_QUERY_WHERE_MAX) {
		seterr(e, "more than %d where conditions", SL_QUERY_WHERE_MAX);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		seterr(e, "out of memory");
		return -ENOMEM;
	}
	q.r = r;
	r->name = strdup(p->view);
	if (r->name == NULL) {
		rc = -ENOMEM;
		seterr(e, "out of memory");
		goto err;
	}

	rc = sl_store_view_lookup(store, p->view, &r->id, &def, &def_len);
	if (rc == -ENOENT) {
		unknown_view(store, p->view, e);
		goto err;
	}
	if (rc < 0) {
		seterr(e, "reading the view registry: %s", sl_store_strerror(store));
		goto err;
	}
	rc = def_load(p->view, r->id, def, def_len, &r->cfg, &r->view, msg, sizeof(msg));
	if (rc < 0) {
		seterr(e, "%s", msg);
		goto err;
	}
	rc = sl_view_plan_create(r->view, &(struct sl_view_plan_params){ .cfg = r->cfg }, &r->plan);
	if (rc < 0) {
		seterr(e, "view '%s': cannot build its plan: %s", p->view, strerror(-rc));
		rc = rc == -ENOMEM ? -ENOMEM : -EPROTO;
		goto err;
	}
	r->group_size = sl_view_plan_group_size(r->plan);
	r->n_aggs = sl_view_plan_n_aggs(r->plan);
	for (uint32_t i = 0; i < r->n_aggs; i++)
		r->has_sets = r->has_sets ||
			      sl_view_plan_agg_kind(r->plan, i) == SL_CONFIG_AGG_DISTINCT;
	rc = params_check(&q, p, e);
	if (rc < 0)
		goto err;
	q.max_rows = p->max_rows ? p->max_rows : SL_QUERY_ROWS_DEFAULT;
	if (q.max_rows > UINT32_MAX - 1)
		q.max_rows = UINT32_MAX - 1;
	q.max_bytes = p->max_bytes ? p->max_bytes : SL_QUERY_BYTES_DEFAULT;
	q.tmp = aligned_alloc(16, r->group_size);
	if (q.tmp == NULL) {
		rc = -ENOMEM;
		seterr(e, "out of memory");
		goto err;
	}

	/*
	 * The slices to read. Rows are the windows (buckets) that start in
	 * [from, to), each complete: a sliding window starting before `to` also
	 * takes its slices up to to + S - L, a bucket its slices up to its end.
	 */
	from = p->from_ns;
	to = p->to_ns;
	if (p->step == SL_QUERY_STEP_WINDOW) {
		to = sat_add(to, q.size - q.slide);
	} else if (p->step == SL_QUERY_STEP_FIXED) {
		/* Buckets start at multiples of the step: the first one at or after from. */
		if (from % p->step_ns != 0)
			from = sat_add(from - from % p->step_ns, p->step_ns);
		if (to % p->step_ns != 0)
			to = sat_add(to - to % p->step_ns, p->step_ns);
	}
	rc = sl_store_scan(store, r->id, from, to, scan_fn, &q);
	if (q.err < 0) {
		rc = q.err;
		goto err;
	}
	if (rc < 0) {
		seterr(e, "reading view '%s': %s", p->view, sl_store_strerror(store));
		goto err;
	}
	if (p->step == SL_QUERY_STEP_ALL) {
		for (size_t i = 0; i < r->n_rows; i++) {
			r->rows[i].start = r->all_start;
			r->rows[i].end = r->all_end;
		}
	}
	if (r->n_rows > 1)
		qsort(r->rows, r->n_rows, sizeof(*r->rows), row_cmp);
	free(r->slots); /* not needed any more; rows moved */
	r->slots = NULL;
	r->n_slots = 0;
	free(q.tmp);
	free(def);
	*ret = r;
	return 0;
err:
	free(q.tmp);
	free(def);
	sl_query_result_destroy(r);
	return rc;
}

/* ---- result accessors ---- */

size_t
sl_query_result_count(const struct sl_query_result *r)
{
	return r->n_rows;
}

const char *
sl_query_result_view_name(const struct sl_query_result *r)
{
	return r->name;
}

uint32_t
sl_query_result_view_id(const struct sl_query_result *r)
{
	return r->id;
}

const struct sl_config_view *
sl_query_result_view(const struct sl_query_result *r)
{
	return r->view;
}

uint64_t
sl_query_result_skipped(const struct sl_query_result *r)
{
	return r->skipped;
}

void
sl_query_result_row(const struct sl_query_result *r, size_t i, struct sl_query_row *ret)
{
	const struct qrow *row;

	assert(i < r->n_rows);
	row = &r->rows[i];
	memset(ret, 0, sizeof(*ret));
	ret->window_start = row->start;
	ret->window_end = row->end;
	ret->late = row->late;
	ret->has_state = row->has_state;
	ret->n_dims = row->dims.n_dims;
	for (uint32_t d = 0; d < row->dims.n_dims; d++)
		ret->dims[d] = row->dims.dims[d];
}

/* ---- JSON ---- */

/** A JSON string of @p len bytes (UTF-8 passes through; controls are escaped). */
static void
json_bytes(FILE *f, const uint8_t *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
json_str(FILE *f, const char *s)
{
	json_bytes(f, (const uint8_t *)s, strlen(s));
}

int
sl_query_result_write_json(const struct sl_query_result *r, FILE *f)
{
	const struct sl_config_view *v = r->view;
	int rc;

	fputc('[', f);
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct qrow *row = &r->rows[i];

		fputs(i > 0 ? ",\n{\"view\":" : "\n{\"view\":", f);
		json_str(f, r->name);
		fprintf(f, ",\"window_start\":%" PRIu64 ",\"window_end\":%" PRIu64 ",\"group\":{",
			row->start, row->end);
		for (uint32_t d = 0; d < row->dims.n_dims; d++) {
			if (d > 0)
				fputc(',', f);
			json_str(f, d < v->n_group_by ? v->group_by[d] : "?");
			fputc(':', f);
			json_bytes(f, row->dims.dims[d].p, row->dims.dims[d].len);
		}
		fputs("},\"values\":", f);
		rc = sl_view_state_finalize_json(r->plan, row->block, row->sets, f);
		if (rc < 0)
			return rc;
		fprintf(f, ",\"late\":%" PRIu64 "}", row->late);
	}
	fputs(r->n_rows > 0 ? "\n]\n" : "]\n", f);
	return ferror(f) ? -EIO : 0;
}

/* ---- cells for people ---- */

/** A double for people: integers without decimals, else 3 decimals at most. */
static void
fmt_num(double v, char *buf, size_t cap)
{
	double a = fabs(v);
	char *e;

	if (!isfinite(v)) {
		snprintf(buf, cap, "%g", v);
	} else if (v == trunc(v) && a < 1e15) {
		snprintf(buf, cap, "%.0f", v);
	} else if (a >= 1e15 || a < 1e-3) {
		snprintf(buf, cap, "%.4g", v);
	} else {
		snprintf(buf, cap, "%.3f", v);
		e = buf + strlen(buf) - 1;
		while (*e == '0')
			*e-- = '\0';
		if (*e == '.')
			*e = '\0';
	}
}

/** Append to @p buf (capacity @p cap, at *off); the text is cut at the end. */
static void __attribute__((format(printf, 4, 5)))
put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off + 1 >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off = *off + (size_t)n < cap ? *off + (size_t)n : cap - 1;
}

/** Append bytes for a terminal: control bytes as '?'. */
static void
put_text(char *buf, size_t cap, size_t *off, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len && *off + 1 < cap; i++)
		buf[(*off)++] = p[i] < 0x20 || p[i] == 0x7f ? '?' : (char)p[i];
	buf[*off] = '\0';
}

static int
cell_topk(const void *s, const struct sl_config_agg *a, char *buf, size_t cap)
{
	struct sl_topk_entry *e = calloc(a->k, sizeof(*e));
	size_t off = 0;
	uint32_t n, shown = 0;

	if (e == NULL)
		return -ENOMEM;
	buf[0] = '\0';
	n = sl_topk_query(s, a->k, e);
	if (n == 0)
		put(buf, cap, &off, "-");
	for (uint32_t j = 0; j < n; j++) {
		char item[QUERY_TOPK_CELL_WIDTH + 1];
		size_t ilen = 0;

		put_text(item, sizeof(item), &ilen, e[j].item, e[j].len);
		/* A few items, while they fit the width; the first one always. */
		if (j > 0 && (shown == QUERY_TOPK_CELL_ITEMS || off + ilen + 12 > QUERY_TOPK_CELL_WIDTH))
			break;
		put(buf, cap, &off, "%s%s:%" PRIu64, j > 0 ? " " : "", item, e[j].count);
		if (e[j].err > 0)
			put(buf, cap, &off, "±%" PRIu64, e[j].err);
		shown++;
	}
	if (shown < n)
		put(buf, cap, &off, " (+%u)", n - shown);
	free(e);
	return 0;
}

int
sl_query_result_cell(const struct sl_query_result *r, size_t i, uint32_t agg, char *buf,
		     size_t cap)
{
	const struct qrow *row;
	const struct sl_config_agg *a;
	const void *s;
	size_t off = 0;
	char num[64];

	assert(i < r->n_rows && agg < r->n_aggs && cap > 0);
	row = &r->rows[i];
	a = &r->view->aggs[agg];
	s = sl_view_state_slot(r->plan, row->block, agg);
	buf[0] = '\0';
	switch (a->kind) {
	case SL_CONFIG_AGG_COUNT:
		put(buf, cap, &off, "%" PRIu64, ((const struct sl_view_count *)s)->n);
		break;
	case SL_CONFIG_AGG_SUM:
	case SL_CONFIG_AGG_AVG: {
		const struct sl_view_sum *v = s;
		struct sl_agg_state as;

		if (v->n == 0) {
			put(buf, cap, &off, "-");
			break;
		}
		sl_agg_state_init(&as);
		as.sum_fixed = v->fixed;
		as.sum_float = v->flt;
		if (a->kind == SL_CONFIG_AGG_AVG) {
			fmt_num(sl_agg_state_sum(&as) / (double)v->n, num, sizeof(num));
		} else if (v->flt == 0) {
			sl_agg_state_sum_format(&as, num, sizeof(num));
		} else {
			fmt_num(sl_agg_state_sum(&as), num, sizeof(num));
		}
		put(buf, cap, &off, "%s", num);
		break;
	}
	case SL_CONFIG_AGG_MIN:
	case SL_CONFIG_AGG_MAX: {
		const struct sl_view_minmax *v = s;

		if (v->n == 0) {
			put(buf, cap, &off, "-");
			break;
		}
		fmt_num(v->v, num, sizeof(num));
		put(buf, cap, &off, "%s", num);
		break;
	}
	case SL_CONFIG_AGG_LAST: {
		const struct sl_view_last *v = s;

		if (v->n == 0) {
			put(buf, cap, &off, "-");
			break;
		}
		fmt_num(v->v, num, sizeof(num));
		put(buf, cap, &off, "%s", num);
		break;
	}
	case SL_CONFIG_AGG_DISTINCT: {
		const struct sl_view_distinct *v = s;
		const struct sl_agg_set *set = row->sets[agg];

		if (set != NULL && !sl_agg_set_is_exact(set))
			put(buf, cap, &off, "~%" PRIu64 " ±%.2g%%", sl_agg_set_count(set),
			    QUERY_HLL_RSE * 100);
		else
			put(buf, cap, &off, "%" PRIu64, set != NULL ? sl_agg_set_count(set) : v->n);
		break;
	}
	case SL_CONFIG_AGG_QUANTILES: {
		const struct sl_dds *d = s;
		bool bounded = true;

		if (sl_dds_count(d) == 0) {
			put(buf, cap, &off, "-");
			break;
		}
		for (uint32_t j = 0; j < a->n_quantiles; j++) {
			fmt_num(sl_dds_quantile(d, a->quantiles[j]), num, sizeof(num));
			put(buf, cap, &off, "%sp%g=%s", j > 0 ? " " : "", a->quantiles[j] * 100, num);
			bounded = bounded && sl_dds_quantile_bounded(d, a->quantiles[j]);
		}
		if (bounded)
			put(buf, cap, &off, " ±%g%%", sl_dds_alpha(d) * 100);
		else
			put(buf, cap, &off, " ±?");
		break;
	}
	case SL_CONFIG_AGG_TOPK:
		return cell_topk(s, a, buf, cap);
	default:
		put(buf, cap, &off, "?");
		break;
	}
	return 0;
}

/* ---- views ---- */

struct qview {
	struct sl_query_view_info info;
	char *name;
	char *def;
	size_t def_len;
	struct sl_config *cfg;
	char *error;
};

struct sl_query_views {
	struct qview *v;
	uint32_t n;
	uint32_t cap;
};

void
sl_query_views_destroy(struct sl_query_views *vs)
{
	if (vs == NULL)
		return;
	for (uint32_t i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].def);
		free(vs->v[i].error);
		sl_config_free(vs->v[i].cfg);
	}
	free(vs->v);
	free(vs);
}

/* Inside the registry's read transaction: only copy. */
static int
views_collect(const char *name, uint32_t id, const char *def, size_t len, void *arg)
{
	struct sl_query_views *vs = arg;
	struct qview *v;

	if (vs->n == vs->cap) {
		uint32_t cap = vs->cap ? vs->cap * 2 : 16;
		struct qview *nv = realloc(vs->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		vs->v = nv;
		vs->cap = cap;
	}
	v = &vs->v[vs->n];
	memset(v, 0, sizeof(*v));
	v->name = strdup(name);
	v->def = malloc(len + 1);
	if (v->name == NULL || v->def == NULL) {
		free(v->name);
		free(v->def);
		return -ENOMEM;
	}
	memcpy(v->def, def, len);
	v->def[len] = '\0';
	v->def_len = len;
	v->info.id = id;
	vs->n++;
	return 0;
}

int
sl_query_views_load(struct sl_store *store, struct sl_query_views **ret,
		    struct sl_query_error *e)
{
	struct sl_query_views *vs = calloc(1, sizeof(*vs));
	char msg[sizeof(e->msg)];
	int rc;

	if (vs == NULL) {
		seterr(e, "out of memory");
		return -ENOMEM;
	}
	rc = sl_store_view_list(store, views_collect, vs);
	if (rc == -ENOMEM) {
		seterr(e, "out of memory");
		goto err;
	}
	if (rc != 0) {
		seterr(e, "reading the view registry: %s", sl_store_strerror(store));
		rc = rc < 0 ? rc : -EIO;
		goto err;
	}
	for (uint32_t i = 0; i < vs->n; i++) {
		struct qview *v = &vs->v[i];

		v->info.name = v->name;
		rc = def_load(v->name, v->info.id, v->def, v->def_len, &v->cfg, &v->info.view, msg,
			      sizeof(msg));
		if (rc == -ENOMEM) {
			seterr(e, "out of memory");
			goto err;
		}
		if (rc < 0) {
			v->info.view = NULL;
			v->error = strdup(msg);
			if (v->error == NULL) {
				rc = -ENOMEM;
				seterr(e, "out of memory");
				goto err;
			}
			v->info.error = v->error;
		}
	}
	*ret = vs;
	return 0;
err:
	sl_query_views_destroy(vs);
	return rc;
}

uint32_t
sl_query_views_count(const struct sl_query_views *vs)
{
	return vs->n;
}

const struct sl_query_view_info *
sl_query_views_get(const struct sl_query_views *vs, uint32_t i)
{
	assert(i < vs->n);
	return &vs->v[i].info;
}

static const char *const cond_ops[SL_CONFIG_COND__MAX] = {
	[SL_CONFIG_COND_EQ] = "eq",
	[SL_CONFIG_COND_IN] = "in",
	[SL_CONFIG_COND_EXISTS] = "exists",
	[SL_CONFIG_COND_NOT_EXISTS] = "not_exists",
};

/** One view as sluice-gen's "view_defs" entry, with "id" and "retention_ns". */
static void
view_json(FILE *f, const struct sl_query_view_info *info)
{
	const struct sl_config_view *cv = info->view;

	fputs("{\"view\":", f);
	json_str(f, info->name);
	fprintf(f, ",\"id\":%u", info->id);
	if (cv == NULL) {
		fputs(",\"error\":", f);
		json_str(f, info->error);
		fputc('}', f);
		return;
	}
	fprintf(f, ",\"window_size_ns\":%" PRIu64 ",\"window_slide_ns\":%" PRIu64
		",\"time\":\"%s\",\"allowed_lateness_ns\":%" PRIu64 ",\"keep_late\":%s"
		",\"max_groups\":%u,\"retention_ns\":%" PRIu64 ",\"where\":[",
		cv->window_size_ns, cv->window_slide_ns, sl_config_time_name(cv->time),
		cv->allowed_lateness_ns, cv->keep_late ? "true" : "false", cv->max_groups,
		cv->retention_ns);
	for (uint32_t c = 0; c < cv->n_where; c++) {
		fprintf(f, "%s{\"dim\":", c > 0 ? "," : "");
		json_str(f, cv->where[c].dim);
		fprintf(f, ",\"op\":\"%s\",\"values\":[", cond_ops[cv->where[c].kind]);
		for (uint32_t i = 0; i < cv->where[c].n_values; i++) {
			if (i > 0)
				fputc(',', f);
			json_str(f, cv->where[c].values[i]);
		}
		fputs("]}", f);
	}
	fputs("],\"group_by\":[", f);
	for (uint32_t i = 0; i < cv->n_group_by; i++) {
		if (i > 0)
			fputc(',', f);
		json_str(f, cv->group_by[i]);
	}
	fputs("],\"aggregates\":[", f);
	for (uint32_t i = 0; i < cv->n_aggs; i++) {
		const struct sl_config_agg *a = &cv->aggs[i];

		fprintf(f, "%s{\"key\":", i > 0 ? "," : "");
		json_str(f, a->key);
		fprintf(f, ",\"kind\":\"%s\"", sl_config_agg_name(a->kind));
		if (a->field != NULL) {
			fputs(",\"field\":", f);
			json_str(f, a->field);
		}
		if (a->kind == SL_CONFIG_AGG_TOPK)
			fprintf(f, ",\"k\":%u", a->k);
		if (a->kind == SL_CONFIG_AGG_QUANTILES) {
			fputs(",\"quantiles\":[", f);
			for (uint32_t j = 0; j < a->n_quantiles; j++)
				fprintf(f, "%s%.15g", j > 0 ? "," : "", a->quantiles[j]);
			fputc(']', f);
		}
		fputc('}', f);
	}
	fputs("]}", f);
}

int
sl_query_views_write_json(const struct sl_query_views *vs, FILE *f)
{
	fputc('[', f);
	for (uint32_t i = 0; i < vs->n; i++) {
		fputs(i > 0 ? ",\n" : "\n", f);
		view_json(f, &vs->v[i].info);
	}
	fputs(vs->n > 0 ? "\n]\n" : "]\n", f);
	return ferror(f) ? -EIO : 0;
}

/* ---- arguments ---- */

uint64_t
sl_query_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/** Read exactly @p n digits at *s. */
static bool
digits(const char **s, unsigned int n, unsigned int *ret_v)
{
	unsigned int v = 0;

	for (unsigned int i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		v = v * 10 + (unsigned int)((*s)[i] - '0');
	}
	*s += n;
	*ret_v = v;
	return true;
}

/** Optional ".123456789" (digits past ns are dropped) as ns; NULL when malformed. */
static const char *
fraction(const char *s, uint64_t *ret_ns)
{
	uint64_t ns = 0, scale = SL_NS_PER_SEC;

	*ret_ns = 0;
	if (*s != '.')
		return s;
	s++;
	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		scale /= 10;
		ns += (uint64_t)(*s - '0') * scale;
	}
	*ret_ns = ns;
	return s;
}

static int
secs_to_ns(int64_t secs, uint64_t frac_ns, uint64_t *ret_ns)
{
	if (secs < 0 || (uint64_t)secs > (UINT64_MAX - frac_ns) / SL_NS_PER_SEC)
		return -ERANGE;
	*ret_ns = (uint64_t)secs * SL_NS_PER_SEC + frac_ns;
	return 0;
}

/** "2026-01-01", "2026-01-01T00:00:10[.5](Z|+01:00)" (also 't', 'z' and ' '). */
static int
parse_rfc3339(const char *s, uint64_t *ret_ns)
{
	static const unsigned int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
	uint64_t frac = 0;
	int64_t secs;
	int sign = 0;

	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
	    !digits(&s, 2, &d))
		return -EINVAL;
	if (*s != '\0') {
		if (*s != 'T' && *s != 't' && *s != ' ')
			return -EINVAL;
		s++;
		if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' ||
		    !digits(&s, 2, &sec))
			return -EINVAL;
		s = fraction(s, &frac);
		if (s == NULL)
			return -EINVAL;
		if (*s == 'Z' || *s == 'z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			sign = *s++ == '+' ? 1 : -1;
			if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) ||
			    oh > 23 || om > 59)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		if (*s != '\0')
			return -EINVAL;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	secs -= sign * (int64_t)(oh * 3600 + om * 60);
	return secs_to_ns(secs, frac, ret_ns);
}

int
sl_query_time_parse(const char *s, uint64_t now_ns, uint64_t *ret_ns)
{
	const char *p = s;
	uint64_t v = 0, frac;
	size_t n = 0;
	int rc;

	if (strcmp(s, "now") == 0) {
		*ret_ns = now_ns;
		return 0;
	}
	if (s[0] == '-') {
		rc = sl_config_duration_parse(s + 1, &v);
		if (rc < 0)
			return rc == -ERANGE ? -ERANGE : -EINVAL;
		if (v > now_ns)
			return -ERANGE;
		*ret_ns = now_ns - v;
		return 0;
	}
	if (strchr(s, '-') != NULL || strchr(s, ':') != NULL)
		return parse_rfc3339(s, ret_ns);
	for (; *p >= '0' && *p <= '9'; p++, n++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (n == 0)
		return -EINVAL;
	if (strcmp(p, "ns") == 0) {
		*ret_ns = v;
		return 0;
	}
	p = fraction(p, &frac);
	if (p == NULL)
		return -EINVAL;
	if (*p == 's')
		p++;
	if (*p != '\0')
		return -EINVAL;
	/* A bare integer of 13 digits or more is ns (1e12 s is in the year 33658). */
	if (s[n] == '\0' && v >= 1000000000000ULL) {
		*ret_ns = v;
		return 0;
	}
	if (v > INT64_MAX)
		return -ERANGE;
	return secs_to_ns((int64_t)v, frac, ret_ns);
}

void
sl_query_time_fmt(uint64_t ns, char *buf, size_t cap)
{
	time_t sec = (time_t)(ns / SL_NS_PER_SEC);
	uint32_t frac = (uint32_t)(ns % SL_NS_PER_SEC);
	struct tm tm;
	size_t n;
	int w = 9;

	if (gmtime_r(&sec, &tm) == NULL) {
		snprintf(buf, cap, "%" PRIu64 "ns", ns);
		return;
	}
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac != 0 && n < cap) {
		while (frac % 10 == 0) {
			frac /= 10;
			w--;
		}
		n += (size_t)snprintf(buf + n, cap - n, ".%0*" PRIu32, w, frac);
	}
	if (n < cap)
		snprintf(buf + n, cap - n, "Z");
}

int
sl_query_step_parse(const char *s, enum sl_query_step *ret_step, uint64_t *ret_ns)
{
	uint64_t ns;

	if (strcmp(s, "window") == 0) {
		*ret_step = SL_QUERY_STEP_WINDOW;
		*ret_ns = 0;
		return 0;
	}
	if (strcmp(s, "all") == 0) {
		*ret_step = SL_QUERY_STEP_ALL;
		*ret_ns = 0;
		return 0;
	}
	if (sl_config_duration_parse(s, &ns) != 0 || ns == 0)
		return -EINVAL;
	*ret_step = SL_QUERY_STEP_FIXED;
	*ret_ns = ns;
	return 0;
}
