/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Views: compiled where/group_by/aggregates, the per-core view table and the
 * mergeable, serializable per-group states. See view.h for the rules. The
 * update path (sl_view_table_update()) allocates nothing: the table is one
 * block laid out by sl_view_table_init(), like agg.c's.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

#define GOLDEN 0x9E3779B97F4A7C15ULL
#define MEMBER_SEED 0x5a17ce5eedULL /* same as agg.c's set members */
#define KEY_SEED 0x71e3ULL
#define HLL_RSE (1.04 / 128.0)      /* 1.04 / sqrt(2^SL_HLL_P) */
#define NUM_TEXT_MAX SL_VIEW_TEXT_MAX

#define ALIGN16(x) (((x) + 15) & ~(size_t)15)
#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

/* ---- plan ---- */

struct plan_dim {
	char *name;
	uint32_t len;
	bool is_event; /* "event": the event name */
};

struct plan_cond {
	enum sl_config_cond_kind kind;
	struct plan_dim dim;
	uint32_t n_values;
	struct sl_span *values; /* copies, owned */
	bool is_tags;           /* dimension "tags": test tag_mask against sl_event.tags */
	uint64_t tag_mask;      /* EQ, IN: the values' bits; EXISTS, NOT_EXISTS: every bit */
};

struct plan_agg {
	enum sl_config_agg_kind kind;
	struct plan_dim field;
	char *key;
	uint32_t k;
	uint32_t m; /* topk capacity */
	uint32_t n_quantiles;
	double quantiles[SL_CONFIG_QUANTILES_MAX];
	size_t off;
	size_t size;
};

struct sl_view_plan {
	char *name;
	enum sl_config_time time;
	uint32_t n_conds;
	struct plan_cond conds[SL_CONFIG_WHERE_MAX];
	uint32_t n_dims;
	struct plan_dim dims[SL_CONFIG_GROUP_BY_MAX];
	uint32_t n_aggs;
	struct plan_agg aggs[SL_CONFIG_AGGS_MAX];
	uint32_t n_distinct;
	uint32_t dds_buckets;
	size_t group_size;
	uint32_t layout_hash;
	uint8_t overflow_key[1 + SL_CONFIG_GROUP_BY_MAX * (1 + sizeof(SL_VIEW_OVERFLOW))];
	uint32_t overflow_key_len;
};

static bool
needs_number(enum sl_config_agg_kind k)
{
	return k == SL_CONFIG_AGG_SUM || k == SL_CONFIG_AGG_AVG || k == SL_CONFIG_AGG_MIN ||
	       k == SL_CONFIG_AGG_MAX || k == SL_CONFIG_AGG_LAST || k == SL_CONFIG_AGG_QUANTILES;
}

static int
dim_set(struct plan_dim *d, const char *name)
{
	size_t len;

	if (name == NULL)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len > SL_CONFIG_DIM_NAME_MAX)
		return -EINVAL;
	d->name = strdup(name);
	if (d->name == NULL)
		return -ENOMEM;
	d->len = (uint32_t)len;
	d->is_event = strcmp(name, "event") == 0;
	return 0;
}

static size_t
agg_size(const struct sl_view_plan *p, const struct plan_agg *a)
{
	switch (a->kind) {
	case SL_CONFIG_AGG_COUNT:
		return ALIGN16(sizeof(struct sl_view_count));
	case SL_CONFIG_AGG_SUM:
	case SL_CONFIG_AGG_AVG:
		return ALIGN16(sizeof(struct sl_view_sum));
	case SL_CONFIG_AGG_MIN:
	case SL_CONFIG_AGG_MAX:
		return ALIGN16(sizeof(struct sl_view_minmax));
	case SL_CONFIG_AGG_LAST:
		return ALIGN16(sizeof(struct sl_view_last));
	case SL_CONFIG_AGG_DISTINCT:
		return ALIGN16(sizeof(struct sl_view_distinct));
	case SL_CONFIG_AGG_QUANTILES:
		return ALIGN16(sl_dds_memsize(p->dds_buckets));
	case SL_CONFIG_AGG_TOPK:
		return ALIGN16(sl_topk_memsize(a->m));
	default:
		return 0;
	}
}

int
sl_view_plan_create(const struct sl_config_view *view, const struct sl_view_plan_params *params,
		    struct sl_view_plan **ret)
{
	uint8_t lay[16 + SL_CONFIG_AGGS_MAX * (16 + 8 * SL_CONFIG_QUANTILES_MAX)];
	struct sl_view_plan *p;
	uint32_t nlay = 0;
	size_t off = 0;
	int rc = -EINVAL;

	if (view == NULL || view->n_where > SL_CONFIG_WHERE_MAX ||
	    view->n_group_by > SL_CONFIG_GROUP_BY_MAX || view->n_aggs == 0 ||
	    view->n_aggs > SL_CONFIG_AGGS_MAX || (view->n_where > 0 && view->where == NULL))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->dds_buckets = params && params->dds_max_buckets ? params->dds_max_buckets
							   : SL_VIEW_DDS_BUCKETS_DEFAULT;
	if (sl_dds_memsize(p->dds_buckets) == 0)
		goto fail;
	p->time = view->time;
	p->name = strdup(view->name ? view->name : "");
	if (p->name == NULL)
		goto nomem;

	for (uint32_t i = 0; i < view->n_where; i++) {
		const struct sl_config_cond *c = &view->where[i];
		struct plan_cond *pc = &p->conds[i];

		if (c->kind >= SL_CONFIG_COND__MAX)
			goto fail;
		pc->kind = c->kind;
		rc = dim_set(&pc->dim, c->dim);
		p->n_conds++;
		if (rc != 0)
			goto fail;
		rc = -EINVAL;
		if ((c->kind == SL_CONFIG_COND_EQ && c->n_values != 1) ||
		    (c->kind == SL_CONFIG_COND_IN &&
		     (c->n_values < 1 || c->n_values > SL_CONFIG_IN_MAX)))
			goto fail;
		pc->is_tags = strcmp(c->dim, SL_CONFIG_TAGS_DIM) == 0;
		if (pc->is_tags) {
			if (params == NULL || params->cfg == NULL)
				goto fail;
			/* EXISTS: any tag; NOT_EXISTS: none (sl_view_plan_match()). */
			pc->tag_mask = UINT64_MAX;
			if (c->kind == SL_CONFIG_COND_EQ || c->kind == SL_CONFIG_COND_IN) {
				pc->tag_mask = 0;
				for (uint32_t j = 0; j < c->n_values; j++) {
					int t = c->values[j] ? sl_config_tag_index(params->cfg,
										   c->values[j])
							     : -ENOENT;

					if (t < 0 || t >= SL_CONFIG_TAGS_MAX)
						goto fail;
					pc->tag_mask |= 1ULL << t;
				}
			}
		}
		if (c->kind != SL_CONFIG_COND_EQ && c->kind != SL_CONFIG_COND_IN)
			continue;
		pc->values = calloc(c->n_values, sizeof(*pc->values));
		if (pc->values == NULL)
			goto nomem;
		for (uint32_t j = 0; j < c->n_values; j++) {
			char *v = c->values[j] ? strdup(c->values[j]) : NULL;

			if (v == NULL)
				goto nomem;
			pc->values[j] = (struct sl_span){ (const uint8_t *)v, (uint32_t)strlen(v) };
			pc->n_values++;
		}
	}

	for (uint32_t i = 0; i < view->n_group_by; i++) {
		rc = dim_set(&p->dims[i], view->group_by[i]);
		if (rc != 0)
			goto fail;
		p->n_dims++;
		rc = -EINVAL;
		if (strcmp(view->group_by[i], SL_CONFIG_TAGS_DIM) == 0)
			goto fail; /* a set of tags is not one dimension value */
	}
	rc = -EINVAL;
	p->overflow_key[0] = (uint8_t)p->n_dims;
	p->overflow_key_len = 1;
	for (uint32_t i = 0; i < p->n_dims; i++) {
		size_t n = sizeof(SL_VIEW_OVERFLOW) - 1;

		p->overflow_key[p->overflow_key_len++] = (uint8_t)n;
		memcpy(p->overflow_key + p->overflow_key_len, SL_VIEW_OVERFLOW, n);
		p->overflow_key_len += (uint32_t)n;
	}

	lay[nlay++] = (uint8_t)view->n_aggs;
	memcpy(lay + nlay, &p->dds_buckets, 4);
	nlay += 4;
	for (uint32_t i = 0; i < view->n_aggs; i++) {
		const struct sl_config_agg *c = &view->aggs[i];
		struct plan_agg *a = &p->aggs[i];

		if (c->kind >= SL_CONFIG_AGG__MAX || c->key == NULL)
			goto fail;
		a->kind = c->kind;
		a->key = strdup(c->key);
		p->n_aggs++;
		if (a->key == NULL)
			goto nomem;
		if (c->kind != SL_CONFIG_AGG_COUNT) {
			rc = dim_set(&a->field, c->field);
			if (rc != 0)
				goto fail;
			rc = -EINVAL;
		}
		if (c->kind == SL_CONFIG_AGG_TOPK) {
			if (c->k < 1 || c->k > SL_CONFIG_TOPK_MAX)
				goto fail;
			a->k = c->k;
			a->m = sl_topk_default_capacity(c->k);
		}
		if (c->kind == SL_CONFIG_AGG_QUANTILES) {
			if (c->n_quantiles < 1 || c->n_quantiles > SL_CONFIG_QUANTILES_MAX)
				goto fail;
			a->n_quantiles = c->n_quantiles;
			for (uint32_t j = 0; j < c->n_quantiles; j++) {
				if (!(c->quantiles[j] > 0 && c->quantiles[j] < 1))
					goto fail;
				a->quantiles[j] = c->quantiles[j];
			}
		}
		if (c->kind == SL_CONFIG_AGG_DISTINCT)
			p->n_distinct++;
		a->off = off;
		a->size = agg_size(p, a);
		if (a->size == 0)
			goto fail;
		off += a->size;
		lay[nlay++] = (uint8_t)a->kind;
		memcpy(lay + nlay, &a->m, 4);
		nlay += 4;
		lay[nlay++] = (uint8_t)a->n_quantiles;
		memcpy(lay + nlay, a->quantiles, 8 * a->n_quantiles);
		nlay += 8 * a->n_quantiles;
	}
	p->group_size = off;
	p->layout_hash = (uint32_t)sl_hash64(lay, nlay, 0);
	*ret = p;
	return 0;
nomem:
	rc = -ENOMEM;
fail:
	sl_view_plan_destroy(p);
	return rc;
}

void
sl_view_plan_destroy(struct sl_view_plan *p)
{
	if (p == NULL)
		return;
	for (uint32_t i = 0; i < p->n_conds; i++) {
		free(p->conds[i].dim.name);
		for (uint32_t j = 0; j < p->conds[i].n_values; j++)
			free((void *)p->conds[i].values[j].p);
		free(p->conds[i].values);
	}
	for (uint32_t i = 0; i < p->n_dims; i++)
		free(p->dims[i].name);
	for (uint32_t i = 0; i < p->n_aggs; i++) {
		free(p->aggs[i].key);
		free(p->aggs[i].field.name);
	}
	free(p->name);
	free(p);
}

size_t
sl_view_plan_group_size(const struct sl_view_plan *p)
{
	return p->group_size;
}

uint32_t
sl_view_plan_n_aggs(const struct sl_view_plan *p)
{
	return p->n_aggs;
}

uint32_t
sl_view_plan_n_dims(const struct sl_view_plan *p)
{
	return p->n_dims;
}

const char *
sl_view_plan_name(const struct sl_view_plan *p)
{
	return p->name;
}

unsigned int
sl_view_plan_agg_kind(const struct sl_view_plan *p, uint32_t i)
{
	return i < p->n_aggs ? p->aggs[i].kind : SL_CONFIG_AGG__MAX;
}

const char *
sl_view_plan_agg_key(const struct sl_view_plan *p, uint32_t i)
{
	return i < p->n_aggs ? p->aggs[i].key : NULL;
}

/* ---- dimension values ---- */

/* Shortest %g text that reads back as @p v (rare: numbers with over 6 decimals). */
static int
num_text(double v, char *buf, size_t cap)
{
	int n = 0;

	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return n;
}

void
sl_view_field_text(const struct sl_event_field *f, char *buf, struct sl_span *out)
{
	int n;

	switch (f->kind) {
	case SL_FIELD_STR:
		*out = f->str;
		return;
	case SL_FIELD_NUM:
		if (f->num_exact) {
			struct sl_agg_state st;

			memset(&st, 0, sizeof(st));
			st.sum_fixed = f->num_micro;
			n = sl_agg_state_sum_format(&st, buf, NUM_TEXT_MAX);
		} else {
			n = num_text(f->num, buf, NUM_TEXT_MAX);
		}
		if (n < 0 || n >= NUM_TEXT_MAX)
			n = 0;
		*out = (struct sl_span){ (const uint8_t *)buf, (uint32_t)n };
		return;
	case SL_FIELD_BOOL:
		*out = f->b ? (struct sl_span){ (const uint8_t *)"true", 4 }
			    : (struct sl_span){ (const uint8_t *)"false", 5 };
		return;
	default:
		*out = (struct sl_span){ (const uint8_t *)"null", 4 };
		return;
	}
}

/*
 * The text of dimension @p d in @p ev: false when absent. Numbers are
 * formatted into @p buf (NUM_TEXT_MAX bytes).
 */
static bool
dim_text(const struct sl_event *ev, const struct plan_dim *d, char *buf, struct sl_span *out)
{
	const struct sl_event_field *f;

	if (d->is_event) {
		if (ev->name.len == 0)
			return false;
		*out = ev->name;
		return true;
	}
	f = sl_event_field_find(ev, d->name, d->len);
	if (f == NULL)
		return false;
	sl_view_field_text(f, buf, out);
	return true;
}

static inline bool
span_eq(const struct sl_span *a, const struct sl_span *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

bool
sl_view_plan_match(const struct sl_view_plan *p, const struct sl_event *ev)
{
	for (uint32_t i = 0; i < p->n_conds; i++) {
		const struct plan_cond *c = &p->conds[i];
		char buf[NUM_TEXT_MAX];
		struct sl_span v;
		bool present, hit = false;

		if (c->is_tags) {
			hit = (ev->tags & c->tag_mask) != 0;
			if (c->kind == SL_CONFIG_COND_NOT_EXISTS)
				hit = ev->tags == 0;
			if (!hit)
				return false;
			continue;
		}
		present = dim_text(ev, &c->dim, buf, &v);

		switch (c->kind) {
		case SL_CONFIG_COND_EXISTS:
			hit = present;
			break;
		case SL_CONFIG_COND_NOT_EXISTS:
			hit = !present;
			break;
		default: /* EQ (one value) and IN: linear, at most SL_CONFIG_IN_MAX */
			for (uint32_t j = 0; present && !hit && j < c->n_values; j++)
				hit = span_eq(&v, &c->values[j]);
			break;
		}
		if (!hit)
			return false;
	}
	return true;
}

/* ---- keys ---- */

int
sl_view_key_decode(const uint8_t *key, uint32_t len, struct sl_view_key *out)
{
	uint32_t off = 1;

	if (len < 1 || key[0] > SL_CONFIG_GROUP_BY_MAX)
		return -EINVAL;
	out->n_dims = key[0];
	for (uint32_t i = 0; i < out->n_dims; i++) {
		if (off >= len)
			return -EINVAL;
		out->dims[i].len = key[off++];
		if (out->dims[i].len > len - off)
			return -EINVAL;
		out->dims[i].p = key + off;
		off += out->dims[i].len;
	}
	return off == len ? 0 : -EINVAL;
}

/* ---- states ---- */

void *
sl_view_state_slot(const struct sl_view_plan *p, void *block, uint32_t i)
{
	return (uint8_t *)block + p->aggs[i].off;
}

static inline const void *
cslot(const struct sl_view_plan *p, const void *block, uint32_t i)
{
	return (const uint8_t *)block + p->aggs[i].off;
}

void
sl_view_state_init(const struct sl_view_plan *p, void *block)
{
	for (uint32_t i = 0; i < p->n_aggs; i++) {
		const struct plan_agg *a = &p->aggs[i];
		void *s = (uint8_t *)block + a->off;

		switch (a->kind) {
		case SL_CONFIG_AGG_QUANTILES:
			sl_dds_init(s, SL_VIEW_DDS_ALPHA, p->dds_buckets);
			break;
		case SL_CONFIG_AGG_TOPK:
			sl_topk_init(s, a->m);
			break;
		case SL_CONFIG_AGG_MIN:
			memset(s, 0, a->size);
			((struct sl_view_minmax *)s)->v = INFINITY;
			break;
		case SL_CONFIG_AGG_MAX:
			memset(s, 0, a->size);
			((struct sl_view_minmax *)s)->v = -INFINITY;
			break;
		default:
			memset(s, 0, a->size);
			break;
		}
	}
}

static inline void
last_put(struct sl_view_last *l, double v, uint64_t ts)
{
	/* Latest wins; on a tie the larger value, so the result does not depend
	 * on arrival order or on how events were spread over cores. */
	if (l->n == 0 || ts > l->ts_ns || (ts == l->ts_ns && v > l->v)) {
		l->v = v;
		l->ts_ns = ts;
	}
}

int
sl_view_state_merge(const struct sl_view_plan *p, void *dst, struct sl_agg_set **dst_sets,
		    const void *src, struct sl_agg_set *const *src_sets)
{
	int rc;

	for (uint32_t i = 0; i < p->n_aggs; i++) {
		void *d = sl_view_state_slot(p, dst, i);
		const void *s = cslot(p, src, i);

		switch (p->aggs[i].kind) {
		case SL_CONFIG_AGG_COUNT:
			((struct sl_view_count *)d)->n += ((const struct sl_view_count *)s)->n;
			break;
		case SL_CONFIG_AGG_SUM:
		case SL_CONFIG_AGG_AVG: {
			struct sl_view_sum *a = d;
			const struct sl_view_sum *b = s;

			sl_sum_add(&a->fixed, &a->flt, b->fixed);
			a->flt += b->flt;
			a->n += b->n;
			break;
		}
		case SL_CONFIG_AGG_MIN:
		case SL_CONFIG_AGG_MAX: {
			struct sl_view_minmax *a = d;
			const struct sl_view_minmax *b = s;

			if (b->n > 0 && (a->n == 0 || (p->aggs[i].kind == SL_CONFIG_AGG_MIN
							       ? b->v < a->v
							       : b->v > a->v)))
				a->v = b->v;
			a->n += b->n;
			break;
		}
		case SL_CONFIG_AGG_LAST: {
			struct sl_view_last *a = d;
			const struct sl_view_last *b = s;

			if (b->n > 0) {
				last_put(a, b->v, b->ts_ns);
				a->n += b->n;
			}
			break;
		}
		case SL_CONFIG_AGG_DISTINCT: {
			struct sl_view_distinct *a = d;
			const struct sl_view_distinct *b = s;

			a->values += b->values;
			if (src_sets != NULL && src_sets[i] != NULL && dst_sets != NULL) {
				if (dst_sets[i] == NULL) {
					dst_sets[i] = sl_agg_set_create();
					if (dst_sets[i] == NULL)
						return -ENOMEM;
				}
				rc = sl_agg_set_merge(dst_sets[i], src_sets[i]);
				if (rc != 0)
					return rc;
				a->n = sl_agg_set_count(dst_sets[i]);
			} else {
				a->n += b->n;
			}
			break;
		}
		case SL_CONFIG_AGG_QUANTILES:
			rc = sl_dds_merge(d, s);
			if (rc != 0)
				return rc;
			break;
		case SL_CONFIG_AGG_TOPK:
			rc = sl_topk_merge(d, s);
			if (rc != 0)
				return rc;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- per-core table ---- */

struct vgroup {
	uint64_t hash;
	uint32_t key_off;
	uint16_t key_len;
	uint16_t pad;
};

struct vpair {
	uint64_t member;
	uint32_t slot; /* group * n_aggs + aggregate + 1; 0 = empty */
	uint32_t pad;
};

struct sl_view_table {
	const struct sl_view_plan *plan;
	struct sl_view_limits lim;
	uint64_t start_ns;
	uint64_t end_ns;
	uint32_t core;
	uint32_t n_groups;  /* overflow group included */
	uint32_t n_real;    /* groups that count against max_groups */
	uint32_t overflow;  /* index + 1 of the overflow group, 0 = none */
	uint32_t group_mask;
	uint32_t key_used;
	uint32_t n_pairs;
	uint32_t pair_mask;
	size_t stride;
	struct sl_view_table_stats stats;
	uint32_t *slots;
	struct vgroup *groups;
	uint8_t *keys;
	uint8_t *states;
	struct vpair *pairs;
};

static uint32_t
pow2_at_least(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return (uint32_t)p;
}

static bool
limits_resolve(const struct sl_view_limits *in, struct sl_view_limits *out)
{
	*out = *in;
	if (in->max_groups < 1 || in->max_groups > SL_CONFIG_MAX_GROUPS_MAX ||
	    in->max_set_members > (1u << 28))
		return false;
	if (out->key_bytes == 0)
		out->key_bytes = in->max_groups * 32u + SL_VIEW_KEY_MAX;
	return out->key_bytes >= SL_VIEW_KEY_MAX && out->key_bytes <= (1u << 30);
}

size_t
sl_view_table_memsize(const struct sl_view_plan *p, const struct sl_view_limits *in)
{
	struct sl_view_limits lim;
	size_t ng, sz;

	if (p == NULL || in == NULL || !limits_resolve(in, &lim))
		return 0;
	ng = (size_t)lim.max_groups + 1;
	sz = ALIGN64(sizeof(struct sl_view_table));
	sz += ALIGN64((size_t)pow2_at_least(2 * ng) * sizeof(uint32_t));
	sz += ALIGN64(ng * sizeof(struct vgroup));
	sz += ALIGN64((size_t)lim.key_bytes + p->overflow_key_len);
	sz += ALIGN64(ng * p->group_size);
	sz += ALIGN64((size_t)pow2_at_least(2ull * lim.max_set_members + 2) *
		      sizeof(struct vpair));
	return sz;
}

struct sl_view_table *
sl_view_table_init(void *mem, const struct sl_view_plan *p, const struct sl_view_limits *in)
{
	struct sl_view_table *t = mem;
	struct sl_view_limits lim;
	uint8_t *m = mem;
	size_t ng;

	if (mem == NULL || p == NULL || in == NULL || !limits_resolve(in, &lim)) {
		errno = EINVAL;
		return NULL;
	}
	ng = (size_t)lim.max_groups + 1;
	memset(t, 0, sizeof(*t));
	t->plan = p;
	t->lim = lim;
	t->stride = p->group_size;
	t->group_mask = pow2_at_least(2 * ng) - 1;
	t->pair_mask = pow2_at_least(2ull * lim.max_set_members + 2) - 1;
	m += ALIGN64(sizeof(*t));
	t->slots = (uint32_t *)m;
	m += ALIGN64((size_t)(t->group_mask + 1) * sizeof(uint32_t));
	t->groups = (struct vgroup *)m;
	m += ALIGN64(ng * sizeof(struct vgroup));
	t->keys = m;
	m += ALIGN64((size_t)lim.key_bytes + p->overflow_key_len);
	t->states = m;
	m += ALIGN64(ng * p->group_size);
	t->pairs = (struct vpair *)m;
	memset(t->pairs, 0, (size_t)(t->pair_mask + 1) * sizeof(struct vpair));
	sl_view_table_reset(t);
	return t;
}

void
sl_view_table_reset(struct sl_view_table *t)
{
	memset(t->slots, 0, (size_t)(t->group_mask + 1) * sizeof(uint32_t));
	if (t->n_pairs > 0)
		memset(t->pairs, 0, (size_t)(t->pair_mask + 1) * sizeof(struct vpair));
	t->n_groups = t->n_real = t->overflow = 0;
	t->key_used = 0;
	t->n_pairs = 0;
	t->start_ns = t->end_ns = 0;
	memset(&t->stats, 0, sizeof(t->stats));
}

void
sl_view_table_set_window(struct sl_view_table *t, uint64_t start_ns, uint64_t end_ns,
			 uint32_t core)
{
	t->start_ns = start_ns;
	t->end_ns = end_ns;
	t->core = core;
}

void
sl_view_table_get_window(const struct sl_view_table *t, uint64_t *start_ns, uint64_t *end_ns,
			 uint32_t *core)
{
	*start_ns = t->start_ns;
	*end_ns = t->end_ns;
	*core = t->core;
}

const struct sl_view_plan *
sl_view_table_plan(const struct sl_view_table *t)
{
	return t->plan;
}

uint32_t
sl_view_table_count(const struct sl_view_table *t)
{
	return t->n_groups;
}

uint32_t
sl_view_table_members(const struct sl_view_table *t)
{
	return t->n_pairs;
}

void
sl_view_table_stats(const struct sl_view_table *t, struct sl_view_table_stats *ret)
{
	*ret = t->stats;
}

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

/* Probe for (slot, member): the index of its entry or of the empty entry that ends the run. */
static inline uint32_t
pair_probe(const struct sl_view_table *t, uint32_t slot, uint64_t member)
{
	uint32_t i = (uint32_t)mix64(member ^ ((uint64_t)slot * GOLDEN)) & t->pair_mask;

	while (t->pairs[i].slot != 0 && (t->pairs[i].slot != slot || t->pairs[i].member != member))
		i = (i + 1) & t->pair_mask;
	return i;
}

static inline uint8_t *
group_state(const struct sl_view_table *t, uint32_t gi)
{
	return t->states + (size_t)gi * t->stride;
}

/* Find the group with this key: its index, or UINT32_MAX with *ret_slot the free slot. */
static inline uint32_t
group_find(const struct sl_view_table *t, const uint8_t *key, uint32_t len, uint64_t h,
	   uint32_t *ret_slot)
{
	uint32_t i;

	for (i = (uint32_t)h & t->group_mask;; i = (i + 1) & t->group_mask) {
		uint32_t s = t->slots[i];
		const struct vgroup *g;

		if (s == 0)
			break;
		g = &t->groups[s - 1];
		if (g->hash == h && g->key_len == len && memcmp(t->keys + g->key_off, key, len) == 0)
			return s - 1;
	}
	*ret_slot = i;
	return UINT32_MAX;
}

static inline uint32_t
group_add(struct sl_view_table *t, const uint8_t *key, uint32_t len, uint64_t h, uint32_t slot)
{
	uint32_t gi = t->n_groups++;
	struct vgroup *g = &t->groups[gi];

	g->hash = h;
	g->key_off = t->key_used;
	g->key_len = (uint16_t)len;
	memcpy(t->keys + t->key_used, key, len);
	t->key_used += len;
	t->slots[slot] = gi + 1;
	sl_view_state_init(t->plan, group_state(t, gi));
	return gi;
}

/* Largest prefix of @p s of at most @p max bytes that ends on a UTF-8 boundary. */
static inline uint32_t
utf8_cut(const struct sl_span *s, uint32_t max)
{
	uint32_t n = s->len;

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && (s->p[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* The group key of @p ev into @p key (SL_VIEW_KEY_MAX bytes). 0 or -E2BIG. */
static int
plan_key(const struct sl_view_plan *p, const struct sl_event *ev, uint8_t *key, uint32_t *ret_len)
{
	uint32_t len = 1;

	key[0] = (uint8_t)p->n_dims;
	for (uint32_t i = 0; i < p->n_dims; i++) {
		char buf[NUM_TEXT_MAX];
		struct sl_span v = { NULL, 0 };

		dim_text(ev, &p->dims[i], buf, &v);
		if (v.len > 255 || len + 1 + v.len > SL_VIEW_KEY_MAX)
			return -E2BIG;
		key[len++] = (uint8_t)v.len;
		if (v.len > 0)
			memcpy(key + len, v.p, v.len);
		len += v.len;
	}
	*ret_len = len;
	return 0;
}

int
sl_view_plan_key(const struct sl_view_plan *p, const struct sl_event *ev, uint8_t *key,
		 uint32_t *ret_len)
{
	return plan_key(p, ev, key, ret_len);
}

unsigned int
sl_view_table_update(struct sl_view_table *t, const struct sl_event *ev, uint64_t now_ns)
{
	if (!sl_view_plan_match(t->plan, ev)) {
		t->stats.filtered++;
		return SL_DROP_FILTERED;
	}
	return sl_view_table_update_matched(t, ev, now_ns);
}

unsigned int
sl_view_table_update_matched(struct sl_view_table *t, const struct sl_event *ev, uint64_t now_ns)
{
	const struct sl_view_plan *p = t->plan;
	uint8_t key[1 + SL_CONFIG_GROUP_BY_MAX * 256];
	char nbuf[SL_CONFIG_AGGS_MAX][NUM_TEXT_MAX];
	const struct sl_event_field *num[SL_CONFIG_AGGS_MAX];
	struct sl_span text[SL_CONFIG_AGGS_MAX];
	bool has_text[SL_CONFIG_AGGS_MAX];
	uint64_t member[SL_CONFIG_AGGS_MAX];
	uint32_t len = 1, gi, slot = 0, need = 0;
	bool missing = false, overflow = false;
	const uint8_t *k = key;
	uint64_t h, ts;
	uint8_t *st;

	if (plan_key(p, ev, key, &len) != 0) {
		t->stats.key_too_long++;
		return SL_DROP_KEY_TOO_LONG;
	}

	/* Read every aggregate's field once. */
	for (uint32_t i = 0; i < p->n_aggs; i++) {
		const struct plan_agg *a = &p->aggs[i];

		num[i] = NULL;
		has_text[i] = false;
		if (a->kind == SL_CONFIG_AGG_COUNT)
			continue;
		if (needs_number(a->kind)) {
			const struct sl_event_field *f =
				a->field.is_event ? NULL
						  : sl_event_field_find(ev, a->field.name, a->field.len);

			if (f != NULL && f->kind == SL_FIELD_NUM)
				num[i] = f;
			else
				missing = true;
			continue;
		}
		has_text[i] = dim_text(ev, &a->field, nbuf[i], &text[i]);
		if (!has_text[i]) {
			missing = true;
			continue;
		}
		if (a->kind == SL_CONFIG_AGG_DISTINCT)
			member[i] = sl_hash64(text[i].p, text[i].len, MEMBER_SEED);
	}

	h = sl_hash64(key, len, KEY_SEED);
	gi = group_find(t, key, len, h, &slot);
	if (gi == UINT32_MAX &&
	    (t->n_real >= t->lim.max_groups || t->key_used + len > t->lim.key_bytes)) {
		overflow = true;
		k = p->overflow_key;
		len = p->overflow_key_len;
		h = sl_hash64(k, len, KEY_SEED);
		gi = t->overflow ? t->overflow - 1 : group_find(t, k, len, h, &slot);
	}

	/* Set members: all or nothing, checked before anything changes. */
	if (p->n_distinct > 0) {
		for (uint32_t i = 0; i < p->n_aggs; i++)
			if (p->aggs[i].kind == SL_CONFIG_AGG_DISTINCT && has_text[i] &&
			    (gi == UINT32_MAX ||
			     t->pairs[pair_probe(t, gi * p->n_aggs + i + 1, member[i])].slot == 0))
				need++;
		if (t->n_pairs + need > t->lim.max_set_members) {
			t->stats.set_limit++;
			return SL_DROP_SET_LIMIT;
		}
	}

	if (gi == UINT32_MAX) {
		if (overflow) {
			/* The overflow key has room of its own beyond key_bytes. */
			gi = group_add(t, k, len, h, slot);
			t->overflow = gi + 1;
		} else {
			gi = group_add(t, k, len, h, slot);
			t->n_real++;
		}
	} else if (overflow && t->overflow == 0) {
		t->overflow = gi + 1; /* a real group that spells the overflow key */
	}

	st = group_state(t, gi);
	ts = p->time == SL_CONFIG_TIME_EVENT && ev->ts_ns != 0 ? ev->ts_ns : now_ns;
	for (uint32_t i = 0; i < p->n_aggs; i++) {
		void *s = st + p->aggs[i].off;
		const struct sl_event_field *f = num[i];

		switch (p->aggs[i].kind) {
		case SL_CONFIG_AGG_COUNT:
			((struct sl_view_count *)s)->n++;
			break;
		case SL_CONFIG_AGG_SUM:
		case SL_CONFIG_AGG_AVG: {
			struct sl_view_sum *a = s;

			if (f == NULL)
				break;
			if (f->num_exact)
				sl_sum_add(&a->fixed, &a->flt, f->num_micro);
			else
				a->flt += f->num;
			a->n++;
			break;
		}
		case SL_CONFIG_AGG_MIN:
		case SL_CONFIG_AGG_MAX: {
			struct sl_view_minmax *a = s;

			if (f == NULL)
				break;
			if (p->aggs[i].kind == SL_CONFIG_AGG_MIN ? f->num < a->v : f->num > a->v)
				a->v = f->num;
			a->n++;
			break;
		}
		case SL_CONFIG_AGG_LAST:
			if (f == NULL)
				break;
			last_put(s, f->num, ts);
			((struct sl_view_last *)s)->n++;
			break;
		case SL_CONFIG_AGG_DISTINCT: {
			struct sl_view_distinct *a = s;
			uint32_t pslot = gi * p->n_aggs + i + 1, j;

			if (!has_text[i])
				break;
			a->values++;
			j = pair_probe(t, pslot, member[i]);
			if (t->pairs[j].slot == 0) {
				t->pairs[j].slot = pslot;
				t->pairs[j].member = member[i];
				t->n_pairs++;
				a->n++;
			}
			break;
		}
		case SL_CONFIG_AGG_QUANTILES:
			if (f != NULL)
				sl_dds_add(s, f->num);
			break;
		case SL_CONFIG_AGG_TOPK:
			if (has_text[i])
				sl_topk_update(s, text[i].p, utf8_cut(&text[i], SL_TOPK_ITEM_MAX), 1);
			break;
		default:
			break;
		}
	}
	t->stats.aggregated++;
	if (missing)
		t->stats.missing_field_events++;
	if (overflow)
		t->stats.overflow_events++;
	return SL_DROP__MAX;
}

void
sl_view_table_walk(struct sl_view_table *t, uint64_t *scratch, uint32_t scratch_cap,
		   sl_view_group_fn fn, void *arg)
{
	const struct sl_view_plan *p = t->plan;
	const uint64_t *members[SL_CONFIG_AGGS_MAX];
	uint32_t n_members[SL_CONFIG_AGGS_MAX];
	bool fill = p->n_distinct > 0 && t->n_pairs > 0 && t->n_pairs <= scratch_cap;
	uint32_t off = 0;

	/* Counting sort of the pairs by (group, aggregate). */
	for (uint32_t gi = 0; gi < t->n_groups && p->n_distinct > 0; gi++) {
		for (uint32_t i = 0; i < p->n_aggs; i++) {
			struct sl_view_distinct *d;

			if (p->aggs[i].kind != SL_CONFIG_AGG_DISTINCT)
				continue;
			d = (struct sl_view_distinct *)(group_state(t, gi) + p->aggs[i].off);
			d->walk_off = off;
			d->walk_fill = 0;
			off += (uint32_t)d->n;
		}
	}
	for (uint32_t j = 0; fill && j <= t->pair_mask; j++) {
		const struct vpair *pr = &t->pairs[j];
		struct sl_view_distinct *d;
		uint32_t gi, i;

		if (pr->slot == 0)
			continue;
		gi = (pr->slot - 1) / p->n_aggs;
		i = (pr->slot - 1) % p->n_aggs;
		d = (struct sl_view_distinct *)(group_state(t, gi) + p->aggs[i].off);
		scratch[d->walk_off + d->walk_fill++] = pr->member;
	}
	for (uint32_t gi = 0; gi < t->n_groups; gi++) {
		const struct vgroup *g = &t->groups[gi];
		uint8_t *st = group_state(t, gi);

		for (uint32_t i = 0; i < p->n_aggs; i++) {
			const struct sl_view_distinct *d = (const void *)(st + p->aggs[i].off);

			members[i] = NULL;
			n_members[i] = 0;
			if (p->aggs[i].kind != SL_CONFIG_AGG_DISTINCT || d->walk_fill == 0)
				continue;
			members[i] = scratch + d->walk_off;
			n_members[i] = d->walk_fill;
		}
		fn(t->keys + g->key_off, g->key_len, st, members, n_members, arg);
	}
}

/* ---- serialization ---- */

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool bad;
};

static void
put_bytes(struct wbuf *w, const void *b, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = true;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void
put_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, 8);
}

static void
put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, 4);
}

static void
put_f64(struct wbuf *w, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_u64(w, v);
}

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool bad;
};

static const uint8_t *
get_bytes(struct rbuf *r, size_t n)
{
	const uint8_t *b;

	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	b = r->p + r->off;
	r->off += n;
	return b;
}

static uint64_t
get_u64(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 8);
	uint64_t v = 0;

	for (int i = 0; b != NULL && i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static uint32_t
get_u32(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 4);
	uint32_t v = 0;

	for (int i = 0; b != NULL && i < 4; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

static double
get_f64(struct rbuf *r)
{
	uint64_t v = get_u64(r);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

size_t
sl_view_state_serialized_max(const struct sl_view_plan *p, struct sl_agg_set *const *sets)
{
	size_t n = 8 + 4;

	for (uint32_t i = 0; i < p->n_aggs; i++) {
		const struct plan_agg *a = &p->aggs[i];

		n += 1 + 40;
		if (a->kind == SL_CONFIG_AGG_DISTINCT)
			n += 4 + (sets && sets[i] ? sl_agg_state_serialized_size(sets[i]) : 0);
		else if (a->kind == SL_CONFIG_AGG_QUANTILES)
			n += 4 + sl_dds_serialized_max(p->dds_buckets);
		else if (a->kind == SL_CONFIG_AGG_TOPK)
			n += 4 + sl_topk_serialized_max(a->m);
	}
	return n;
}

size_t
sl_view_state_serialize(const struct sl_view_plan *p, void *block, struct sl_agg_set *const *sets,
			uint8_t *out, size_t cap)
{
	struct wbuf w = { out, cap, 0, false };
	uint8_t hdr[4] = { SL_VIEW_SER_VERSION, (uint8_t)p->n_aggs, 0, 0 };

	put_bytes(&w, hdr, 4);
	put_u32(&w, p->layout_hash);
	for (uint32_t i = 0; i < p->n_aggs && !w.bad; i++) {
		void *s = sl_view_state_slot(p, block, i);
		uint8_t kind = (uint8_t)p->aggs[i].kind;

		put_bytes(&w, &kind, 1);
		switch (p->aggs[i].kind) {
		case SL_CONFIG_AGG_COUNT:
			put_u64(&w, ((struct sl_view_count *)s)->n);
			break;
		case SL_CONFIG_AGG_SUM:
		case SL_CONFIG_AGG_AVG: {
			const struct sl_view_sum *a = s;
			unsigned __int128 f = (unsigned __int128)a->fixed;

			put_u64(&w, (uint64_t)f);
			put_u64(&w, (uint64_t)(f >> 64));
			put_f64(&w, a->flt);
			put_u64(&w, a->n);
			break;
		}
		case SL_CONFIG_AGG_MIN:
		case SL_CONFIG_AGG_MAX:
			put_f64(&w, ((struct sl_view_minmax *)s)->v);
			put_u64(&w, ((struct sl_view_minmax *)s)->n);
			break;
		case SL_CONFIG_AGG_LAST:
			put_f64(&w, ((struct sl_view_last *)s)->v);
			put_u64(&w, ((struct sl_view_last *)s)->ts_ns);
			put_u64(&w, ((struct sl_view_last *)s)->n);
			break;
		case SL_CONFIG_AGG_DISTINCT: {
			const struct sl_view_distinct *a = s;
			const struct sl_agg_set *set = sets ? sets[i] : NULL;
			size_t n = set ? sl_agg_state_serialized_size(set) : 0;

			put_u64(&w, a->n);
			put_u64(&w, a->values);
			put_u32(&w, (uint32_t)n);
			if (n > 0 && !w.bad && n <= w.cap - w.len) {
				struct sl_agg_state as;

				sl_agg_state_init(&as);
				as.count = a->values;
				w.len += sl_agg_state_serialize(SL_METRIC_SET, &as, set, w.p + w.len);
			} else if (n > 0) {
				w.bad = true;
			}
			break;
		}
		case SL_CONFIG_AGG_QUANTILES: {
			size_t n = sl_dds_serialized_size(s);

			put_u32(&w, (uint32_t)n);
			if (!w.bad && sl_dds_serialize(s, w.p + w.len, w.cap - w.len) == n)
				w.len += n;
			else
				w.bad = true;
			break;
		}
		case SL_CONFIG_AGG_TOPK: {
			size_t n = sl_topk_serialized_size(s);

			put_u32(&w, (uint32_t)n);
			if (!w.bad && sl_topk_serialize(s, w.p + w.len, w.cap - w.len) == n)
				w.len += n;
			else
				w.bad = true;
			break;
		}
		default:
			w.bad = true;
			break;
		}
	}
	if (!w.bad)
		put_u32(&w, sl_sketch_crc32c(out, w.len));
	return w.bad ? 0 : w.len;
}

int
sl_view_state_deserialize(const struct sl_view_plan *p, const uint8_t *buf, size_t len,
			  void *block, struct sl_agg_set **ret_sets)
{
	struct sl_agg_set *sets[SL_CONFIG_AGGS_MAX] = { NULL };
	struct rbuf r = { buf, len, 0, false };
	const uint8_t *hdr;
	uint32_t crc;
	int rc = -EINVAL;

	if (len < 12)
		return -EINVAL;
	crc = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 | (uint32_t)buf[len - 2] << 16 |
	      (uint32_t)buf[len - 1] << 24;
	if (crc != sl_sketch_crc32c(buf, len - 4))
		return -EINVAL;
	r.len = len - 4;
	hdr = get_bytes(&r, 4);
	if (hdr[0] != SL_VIEW_SER_VERSION || hdr[1] != p->n_aggs || hdr[2] != 0 || hdr[3] != 0 ||
	    get_u32(&r) != p->layout_hash)
		return -EINVAL;
	sl_view_state_init(p, block);
	for (uint32_t i = 0; i < p->n_aggs; i++) {
		void *s = sl_view_state_slot(p, block, i);
		const uint8_t *kind = get_bytes(&r, 1);

		if (kind == NULL || *kind != p->aggs[i].kind)
			goto fail;
		switch (p->aggs[i].kind) {
		case SL_CONFIG_AGG_COUNT:
			((struct sl_view_count *)s)->n = get_u64(&r);
			break;
		case SL_CONFIG_AGG_SUM:
		case SL_CONFIG_AGG_AVG: {
			struct sl_view_sum *a = s;
			unsigned __int128 lo = get_u64(&r), hi = get_u64(&r);

			a->fixed = (__int128)(lo | hi << 64);
			a->flt = get_f64(&r);
			a->n = get_u64(&r);
			break;
		}
		case SL_CONFIG_AGG_MIN:
		case SL_CONFIG_AGG_MAX:
			((struct sl_view_minmax *)s)->v = get_f64(&r);
			((struct sl_view_minmax *)s)->n = get_u64(&r);
			break;
		case SL_CONFIG_AGG_LAST:
			((struct sl_view_last *)s)->v = get_f64(&r);
			((struct sl_view_last *)s)->ts_ns = get_u64(&r);
			((struct sl_view_last *)s)->n = get_u64(&r);
			break;
		case SL_CONFIG_AGG_DISTINCT: {
			struct sl_view_distinct *a = s;
			struct sl_agg_state as;
			uint8_t type;
			uint32_t n;
			const uint8_t *b;

			a->n = get_u64(&r);
			a->values = get_u64(&r);
			n = get_u32(&r);
			b = get_bytes(&r, n);
			if (r.bad)
				goto fail;
			if (n == 0)
				break;
			rc = sl_agg_state_deserialize(b, n, &type, &as, &sets[i]);
			if (rc != 0)
				goto fail;
			rc = -EINVAL;
			if (type != SL_METRIC_SET || sets[i] == NULL || as.count != a->values ||
			    as.distinct != a->n)
				goto fail;
			break;
		}
		case SL_CONFIG_AGG_QUANTILES: {
			uint32_t n = get_u32(&r);
			const uint8_t *b = get_bytes(&r, n);
			struct sl_dds *d;

			if (r.bad || sl_dds_deserialize(s, p->aggs[i].size, b, n, &d) != 0 ||
			    sl_dds_max_buckets(d) != p->dds_buckets ||
			    sl_dds_alpha(d) != SL_VIEW_DDS_ALPHA)
				goto fail;
			break;
		}
		case SL_CONFIG_AGG_TOPK: {
			uint32_t n = get_u32(&r);
			const uint8_t *b = get_bytes(&r, n);
			struct sl_topk *tk;

			if (r.bad || sl_topk_deserialize(s, p->aggs[i].size, b, n, &tk) != 0 ||
			    sl_topk_capacity(tk) != p->aggs[i].m)
				goto fail;
			break;
		}
		default:
			goto fail;
		}
		if (r.bad)
			goto fail;
	}
	if (r.off != r.len)
		goto fail;
	for (uint32_t i = 0; i < p->n_aggs; i++) {
		if (ret_sets == NULL) {
			sl_agg_set_destroy(sets[i]);
			continue;
		}
		if (p->aggs[i].kind == SL_CONFIG_AGG_DISTINCT && sets[i] == NULL) {
			sets[i] = sl_agg_set_create();
			if (sets[i] == NULL) {
				rc = -ENOMEM;
				for (uint32_t j = 0; j < p->n_aggs; j++)
					if (j < i)
						ret_sets[j] = NULL;
				goto fail;
			}
		}
		ret_sets[i] = sets[i];
	}
	return 0;
fail:
	for (uint32_t i = 0; i < p->n_aggs; i++)
		sl_agg_set_destroy(sets[i]);
	return rc;
}

/* ---- finalize ---- */

/* Shortest %g that reads back as @p v; null when not finite. */
static void
json_num(FILE *f, double v)
{
	char buf[40];

	if (!isfinite(v)) {
		fputs("null", f);
		return;
	}
	num_text(v, buf, sizeof(buf));
	fputs(buf, f);
}

static void
json_str(FILE *f, const uint8_t *s, uint32_t len)
{
	fputc('"', f);
	for (uint32_t i = 0; i < len; i++) {
		uint8_t c = s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
json_key(FILE *f, const char *key, const char *suffix)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "%s%s", key, suffix);

	json_str(f, (const uint8_t *)buf, n < 0 ? 0 : (uint32_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
	fputs(": ", f);
}

int
sl_view_state_finalize_json(const struct sl_view_plan *p, const void *block,
			    struct sl_agg_set *const *sets, FILE *f)
{
	fputc('{', f);
	for (uint32_t i = 0; i < p->n_aggs; i++) {
		const struct plan_agg *a = &p->aggs[i];
		const void *s = cslot(p, block, i);

		if (i > 0)
			fputs(", ", f);
		json_key(f, a->key, "");
		switch (a->kind) {
		case SL_CONFIG_AGG_COUNT:
			fprintf(f, "%" PRIu64, ((const struct sl_view_count *)s)->n);
			break;
		case SL_CONFIG_AGG_SUM:
		case SL_CONFIG_AGG_AVG: {
			const struct sl_view_sum *v = s;
			struct sl_agg_state as;
			char buf[64];

			if (v->n == 0) {
				fputs("null", f);
				break;
			}
			sl_agg_state_init(&as);
			as.sum_fixed = v->fixed;
			as.sum_float = v->flt;
			if (a->kind == SL_CONFIG_AGG_AVG) {
				json_num(f, sl_agg_state_sum(&as) / (double)v->n);
				break;
			}
			sl_agg_state_sum_format(&as, buf, sizeof(buf));
			fputs(buf, f);
			break;
		}
		case SL_CONFIG_AGG_MIN:
		case SL_CONFIG_AGG_MAX: {
			const struct sl_view_minmax *v = s;

			if (v->n == 0)
				fputs("null", f);
			else
				json_num(f, v->v);
			break;
		}
		case SL_CONFIG_AGG_LAST: {
			const struct sl_view_last *v = s;

			if (v->n == 0)
				fputs("null", f);
			else
				json_num(f, v->v);
			break;
		}
		case SL_CONFIG_AGG_DISTINCT: {
			const struct sl_view_distinct *v = s;
			const struct sl_agg_set *set = sets ? sets[i] : NULL;

			fprintf(f, "%" PRIu64 ", ", set ? sl_agg_set_count(set) : v->n);
			json_key(f, a->key, "_error");
			json_num(f, set && !sl_agg_set_is_exact(set) ? HLL_RSE : 0.0);
			break;
		}
		case SL_CONFIG_AGG_QUANTILES: {
			const struct sl_dds *d = s;
			bool bounded = true;

			if (sl_dds_count(d) == 0) {
				fputs("null", f);
				break;
			}
			fputc('{', f);
			for (uint32_t j = 0; j < a->n_quantiles; j++) {
				char q[40];

				snprintf(q, sizeof(q), "%.15g", a->quantiles[j]);
				fprintf(f, "%s\"%s\": ", j ? ", " : "", q);
				json_num(f, sl_dds_quantile(d, a->quantiles[j]));
				bounded = bounded && sl_dds_quantile_bounded(d, a->quantiles[j]);
			}
			fputs("}, ", f);
			json_key(f, a->key, "_error");
			/* The alpha bound, or null when a rank fell into a collapsed bucket. */
			if (bounded)
				json_num(f, sl_dds_alpha(d));
			else
				fputs("null", f);
			break;
		}
		case SL_CONFIG_AGG_TOPK: {
			struct sl_topk_entry *e = calloc(a->k, sizeof(*e));
			uint32_t n;

			if (e == NULL)
				return -ENOMEM;
			n = sl_topk_query(s, a->k, e);
			fputc('[', f);
			for (uint32_t j = 0; j < n; j++) {
				fputs(j ? ", {\"item\": " : "{\"item\": ", f);
				json_str(f, e[j].item, e[j].len);
				fprintf(f, ", \"count\": %" PRIu64 ", \"error\": %" PRIu64 "}",
					e[j].count, e[j].err);
			}
			fputc(']', f);
			free(e);
			break;
		}
		default:
			fputs("null", f);
			break;
		}
	}
	fputc('}', f);
	return ferror(f) ? -EIO : 0;
}
