/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * sluice-gen's JSON/binary retail events and the exact truth of the views.
 *
 * The truth keeps, per view, the windows that later events can still reach,
 * sorted by start. A window holds one record per matched event (its group key,
 * its dimension values, its time and whether it was late: late events are
 * kept only for keep_late views, the others show in no row); nothing is
 * aggregated until the window is written, when the records are sorted by
 * group and every aggregate is computed exactly from them: sums in 128-bit
 * micro-units, quantiles from the sorted values, distinct and top-k from the
 * sorted items. This costs 48 bytes per event and window, bounded by the
 * windows still open, and keeps the code a direct transcription of the
 * definitions that tests/integration/gen_selfcheck.py recomputes.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gen_events.h"

static const char *const kind_names[SL_GEN_KIND__MAX] = {
#define _(e, s) [SL_GEN_KIND_##e] = s,
	SL_GEN_KINDS(_)
#undef _
};

/* ---------------------------------------------------------------------------------------- */
/* Rendering */

static char *
put_str(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

#define PUT_LIT(p, s) put_str((p), (s), sizeof(s) - 1)

static char *
put_uint(char *p, uint64_t v, unsigned int width)
{
	char tmp[24];
	unsigned int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width && n < sizeof(tmp))
		tmp[n++] = '0';
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* An amount as the generator sends it: two decimals ("23.50"). */
static char *
put_cents(char *p, int64_t cents)
{
	assert(cents >= 0);
	p = put_uint(p, (uint64_t)cents / 100, 0);
	*p++ = '.';
	return put_uint(p, (uint64_t)cents % 100, 2);
}

static uint32_t
render_id(char *out, const char *prefix, uint32_t v, unsigned int width)
{
	char *p = put_str(out, prefix, strlen(prefix));

	p = put_uint(p, v, width);
	*p = '\0';
	return (uint32_t)(p - out);
}

uint32_t
sl_gen_event_json(const struct sl_gen_event *ev, const struct sl_gen_names *nm, char *out)
{
	const char *name = kind_names[ev->kind];
	char *p = out;

	p = PUT_LIT(p, "{\"event\":\"");
	p = put_str(p, name, strlen(name));
	p = PUT_LIT(p, "\",\"store\":\"s");
	p = put_uint(p, ev->store, nm->store_w);
	if (ev->kind != SL_GEN_KIND_VISIT) {
		p = PUT_LIT(p, "\",\"sku\":\"A-");
		p = put_uint(p, ev->sku, nm->sku_w);
		p = PUT_LIT(p, "\",\"amount\":");
		p = put_cents(p, ev->cents);
		p = PUT_LIT(p, ",\"user\":\"u");
	} else {
		p = PUT_LIT(p, "\",\"user\":\"u");
	}
	p = put_uint(p, ev->user, nm->user_w);
	p = PUT_LIT(p, "\",\"ts\":");
	p = put_uint(p, ev->ts_ms, 0);
	*p++ = '}';
	assert(p - out <= (ptrdiff_t)SL_GEN_JSON_LINE_MAX);
	return (uint32_t)(p - out);
}

static void
field_str(struct sl_event_field *f, const char *key, const char *s, uint32_t len)
{
	f->key.p = (const uint8_t *)key;
	f->key.len = (uint32_t)strlen(key);
	f->str.p = (const uint8_t *)s;
	f->str.len = len;
	f->kind = SL_FIELD_STR;
}

int
sl_gen_event_bin(struct sl_bin_enc *enc, const struct sl_gen_event *ev,
		 const struct sl_gen_names *nm, struct sl_gen_bin_scratch *s)
{
	struct sl_event *e = &s->ev;
	struct sl_event_field *f;
	uint32_t n = 0;
	int rc;

	e->name.p = (const uint8_t *)kind_names[ev->kind];
	e->name.len = (uint32_t)strlen(kind_names[ev->kind]);
	e->ts_ns = ev->ts_ms * 1000000ULL;
	field_str(&e->fields[n++], "store", s->store, render_id(s->store, "s", ev->store,
								 nm->store_w));
	if (ev->kind != SL_GEN_KIND_VISIT) {
		field_str(&e->fields[n++], "sku", s->sku, render_id(s->sku, "A-", ev->sku,
								    nm->sku_w));
		f = &e->fields[n++];
		f->key.p = (const uint8_t *)"amount";
		f->key.len = 6;
		f->kind = SL_FIELD_NUM;
		f->num_exact = true;
		f->num_micro = ev->cents * 10000;
		f->num = (double)ev->cents / 100.0;
	}
	field_str(&e->fields[n++], "user", s->user, render_id(s->user, "u", ev->user,
							      nm->user_w));
	e->n_fields = n;
	e->scratch_used = 0;
	rc = sl_bin_encode_event(enc, e);
	assert(rc != -EINVAL);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Dimensions */

/* What a dimension or field name denotes in a retail event. "event" is the name. */
enum dim {
	DIM_EVENT,
	DIM_STORE,
	DIM_SKU,
	DIM_USER,
	DIM_AMOUNT,
	DIM__MAX,
	DIM_NONE = DIM__MAX, /* a name the events never carry */
};

static const char *const dim_names[DIM__MAX] = { "event", "store", "sku", "user", "amount" };

static enum dim
dim_of(const char *name)
{
	for (unsigned int d = 0; d < DIM__MAX; d++)
		if (strcmp(name, dim_names[d]) == 0)
			return (enum dim)d;
	return DIM_NONE;
}

/*
 * An event's value of a dimension, encoded: 0 when absent, else value + 1
 * (the kind, the store, SKU or user number, the amount in hundredths).
 */
static uint32_t
dim_get(const struct sl_gen_event *ev, enum dim d)
{
	switch (d) {
	case DIM_EVENT:
		return ev->kind + 1u;
	case DIM_STORE:
		return ev->store + 1;
	case DIM_SKU:
		return ev->kind == SL_GEN_KIND_VISIT ? 0 : ev->sku + 1;
	case DIM_USER:
		return ev->user + 1;
	case DIM_AMOUNT:
		return ev->kind == SL_GEN_KIND_VISIT ? 0 : (uint32_t)ev->cents + 1;
	default:
		return 0;
	}
}

/*
 * The text of a dimension value, as views read it (view.h): strings as they
 * are, numbers as their shortest exact decimal ("23.5", "12", "0.05").
 */
static uint32_t
dim_text(const struct sl_gen_names *nm, enum dim d, uint32_t enc, char *out)
{
	uint32_t cents = enc - 1;
	char *p = out;

	assert(enc != 0);
	switch (d) {
	case DIM_EVENT:
		return (uint32_t)(put_str(p, kind_names[enc - 1], strlen(kind_names[enc - 1])) - out);
	case DIM_STORE:
		return render_id(out, "s", enc - 1, nm->store_w);
	case DIM_SKU:
		return render_id(out, "A-", enc - 1, nm->sku_w);
	case DIM_USER:
		return render_id(out, "u", enc - 1, nm->user_w);
	case DIM_AMOUNT:
		p = put_uint(p, cents / 100, 0);
		if (cents % 100 != 0) {
			*p++ = '.';
			p = cents % 10 == 0 ? put_uint(p, cents % 100 / 10, 1) : put_uint(p, cents % 100, 2);
		}
		return (uint32_t)(p - out);
	default:
		return 0;
	}
}

/* The encoded value whose text is @p s, or 0 when no event can carry that text. */
static uint32_t
dim_parse(const struct sl_gen_names *nm, enum dim d, const char *s)
{
	char buf[32];
	uint64_t v = 0;
	const char *p = s;
	uint32_t enc;
	int digits = 0;

	if (d == DIM_EVENT) {
		for (unsigned int k = 0; k < SL_GEN_KIND__MAX; k++)
			if (strcmp(s, kind_names[k]) == 0)
				return k + 1;
		return 0;
	}
	if (d == DIM_NONE)
		return 0;
	while (*p != '\0' && (*p < '0' || *p > '9'))
		p++;   /* skip the prefix; the round trip below checks it */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 9)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (d == DIM_AMOUNT) {   /* hundredths: "23.5" is 2350 */
		v *= 100;
		if (*p == '.' && p[1] >= '0' && p[1] <= '9') {
			v += 10 * (uint64_t)(p[1] - '0');
			if (p[2] >= '0' && p[2] <= '9')
				v += (uint64_t)(p[2] - '0');
		}
	}
	if (v + 1 > UINT32_MAX)
		return 0;
	enc = (uint32_t)v + 1;
	buf[dim_text(nm, d, enc, buf)] = '\0';
	return strcmp(buf, s) == 0 ? enc : 0;
}

static bool
dim_is_number(enum dim d)
{
	return d == DIM_AMOUNT;
}

/* The shortest "%g" that reads back as @p v (view.c prints numbers so). */
static void
put_double(FILE *f, double v)
{
	char buf[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

/* ---------------------------------------------------------------------------------------- */
/* Views */

struct cond {
	enum dim dim;
	enum sl_config_cond_kind kind;
	uint32_t *vals;    /* encoded values of the config's strings that events can carry */
	uint32_t n_vals;
};

/* One matched event in one window. */
struct rec {
	uint64_t g[2];        /* group key: the group_by values, 32 bits each */
	uint64_t t_ns;        /* the view's time of the event (event or arrival) */
	uint32_t v[DIM__MAX]; /* every dimension, encoded */
	uint32_t late;
};

struct win {
	uint64_t start;
	struct rec *recs;
	uint32_t n;
	uint32_t cap;
};

struct view {
	const struct sl_config_view *cfg;
	struct cond *conds;
	uint32_t n_conds;
	enum dim gdim[SL_CONFIG_GROUP_BY_MAX];
	enum dim afield[SL_CONFIG_AGGS_MAX];
	bool arrival;
	struct win **open;     /* sorted by start */
	uint32_t n_open;
	uint32_t cap_open;
	uint32_t hint;         /* index of the window found last */
	uint64_t written_end;  /* windows ending at or before this were written */
	uint64_t events;       /* events that matched where */
	uint64_t late;         /* late events among them, each counted once */
	uint64_t rows;
};

/* A group of records in a window being written, with its values' texts. */
struct run {
	uint32_t lo, hi;
	uint8_t len[SL_CONFIG_GROUP_BY_MAX];
	char txt[SL_CONFIG_GROUP_BY_MAX][24];
};

struct item {
	uint64_t count;
	uint32_t enc;
	uint32_t len;
	char txt[24];
};

#define WIN_POOL_MAX 64

struct sl_gen_views {
	const struct sl_config *cfg;
	struct sl_gen_names nm;
	uint64_t max_back_ns;
	FILE *f;
	struct view *views;
	uint32_t n_views;
	bool any_event;        /* some view windows by event time */
	uint64_t *max_ts_ns;   /* M per queue: the largest event time sent so far on it */
	uint32_t n_queues;
	uint64_t rows;
	struct win *pool[WIN_POOL_MAX];
	uint32_t n_pool;
	/* scratch for writing a window */
	struct run *runs;
	uint32_t cap_runs;
	int64_t *vals;
	uint32_t *encs;
	struct item *items;
	uint32_t cap_scratch;
	uint32_t cap_items;
};

/*
 * The watermark model of sluiced: each worker core reads its RX queue(s) in
 * order and keeps its own M; sliding windows are stored as slices of `slide`,
 * so lateness is decided once per event, by its slice.
 */
static const char late_rule[] =
	"events in send order; the datagrams of source n (the store, or the producer with "
	"producers) go to queue (n - 1) % queues; M = the largest event time of the events "
	"sent before on the same queue (with queues 1: of all the events sent before), every "
	"event counting whatever view it matches; an event of an event-time view at time t is "
	"late when floor(t / slide) * slide + slide + allowed_lateness <= M (the end of its "
	"slice; for a tumbling window, the window's end), and then late for every window that "
	"contains it: in no value, counted once in the view's late total; a row's late is the "
	"number of late events of its window and group with keep_late, else 0; a group whose "
	"events of a window were all late has a row (count 0) with keep_late, else none; "
	"arrival-time views window by the datagram timestamp and have no late events";

bool
sl_gen_views_have_arrival(const struct sl_config *cfg)
{
	for (uint32_t i = 0; i < cfg->n_views; i++)
		if (cfg->views[i].time == SL_CONFIG_TIME_ARRIVAL)
			return true;
	return false;
}

static int
u32_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static void
win_free(struct win *w)
{
	if (w == NULL)
		return;
	free(w->recs);
	free(w);
}

void
sl_gen_views_destroy(struct sl_gen_views *v)
{
	if (v == NULL)
		return;
	for (uint32_t i = 0; v->views != NULL && i < v->n_views; i++) {
		struct view *vw = &v->views[i];

		for (uint32_t c = 0; vw->conds != NULL && c < vw->n_conds; c++)
			free(vw->conds[c].vals);
		free(vw->conds);
		for (uint32_t w = 0; w < vw->n_open; w++)
			win_free(vw->open[w]);
		free(vw->open);
	}
	free(v->views);
	free(v->max_ts_ns);
	for (uint32_t i = 0; i < v->n_pool; i++)
		win_free(v->pool[i]);
	free(v->runs);
	free(v->vals);
	free(v->encs);
	free(v->items);
	free(v);
}

static int
view_compile(struct sl_gen_views *v, struct view *vw, const struct sl_config_view *cv)
{
	vw->cfg = cv;
	vw->arrival = cv->time == SL_CONFIG_TIME_ARRIVAL;
	vw->conds = calloc(cv->n_where > 0 ? cv->n_where : 1, sizeof(*vw->conds));
	if (vw->conds == NULL)
		return -ENOMEM;
	vw->n_conds = cv->n_where;
	for (uint32_t c = 0; c < cv->n_where; c++) {
		const struct sl_config_cond *cc = &cv->where[c];
		struct cond *k = &vw->conds[c];

		k->dim = dim_of(cc->dim);
		k->kind = cc->kind;
		k->vals = calloc(cc->n_values > 0 ? cc->n_values : 1, sizeof(*k->vals));
		if (k->vals == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < cc->n_values; i++) {
			uint32_t enc = dim_parse(&v->nm, k->dim, cc->values[i]);

			if (enc != 0)
				k->vals[k->n_vals++] = enc;
		}
		if (k->n_vals > 1)
			qsort(k->vals, k->n_vals, sizeof(*k->vals), u32_cmp);
	}
	for (uint32_t i = 0; i < cv->n_group_by; i++)
		vw->gdim[i] = dim_of(cv->group_by[i]);
	for (uint32_t i = 0; i < cv->n_aggs; i++)
		vw->afield[i] = cv->aggs[i].field != NULL ? dim_of(cv->aggs[i].field) : DIM_NONE;
	if (!vw->arrival)
		v->any_event = true;
	return 0;
}

int
sl_gen_views_create(const struct sl_config *cfg, const struct sl_gen_names *nm,
		    uint64_t max_back_ns, uint32_t n_queues, struct sl_gen_views **ret)
{
	struct sl_gen_views *v;
	int rc = -ENOMEM;

	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->cfg = cfg;
	v->nm = *nm;
	v->max_back_ns = max_back_ns;
	assert(n_queues >= 1);
	v->n_queues = n_queues;
	v->max_ts_ns = calloc(n_queues, sizeof(*v->max_ts_ns));
	if (v->max_ts_ns == NULL)
		goto err;
	v->n_views = cfg->n_views;
	v->views = calloc(cfg->n_views > 0 ? cfg->n_views : 1, sizeof(*v->views));
	if (v->views == NULL)
		goto err;
	for (uint32_t i = 0; i < cfg->n_views; i++) {
		rc = view_compile(v, &v->views[i], &cfg->views[i]);
		if (rc < 0)
			goto err;
	}
	*ret = v;
	return 0;
err:
	sl_gen_views_destroy(v);
	return rc;
}

/* A JSON string; the config's strings are UTF-8 without control characters, but escape anyway. */
static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned int)(unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* A quantile as a key of the results ("0.5", "0.99"), as view.c writes it. */
static void
fmt_quantile(double q, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.15g", q);
}

static const char *const cond_ops[SL_CONFIG_COND__MAX] = {
	[SL_CONFIG_COND_EQ] = "eq",
	[SL_CONFIG_COND_IN] = "in",
	[SL_CONFIG_COND_EXISTS] = "exists",
	[SL_CONFIG_COND_NOT_EXISTS] = "not_exists",
};

static void
view_def_write(FILE *f, const struct sl_config_view *cv)
{
	char q[32];

	fputs("{\"view\":", f);
	json_str(f, cv->name);
	fprintf(f, ",\"window_size_ns\":%" PRIu64 ",\"window_slide_ns\":%" PRIu64
		",\"time\":\"%s\",\"allowed_lateness_ns\":%" PRIu64 ",\"keep_late\":%s"
		",\"max_groups\":%u,\"where\":[",
		cv->window_size_ns, cv->window_slide_ns, sl_config_time_name(cv->time),
		cv->allowed_lateness_ns, cv->keep_late ? "true" : "false", cv->max_groups);
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
			for (uint32_t j = 0; j < a->n_quantiles; j++) {
				fmt_quantile(a->quantiles[j], q, sizeof(q));
				fprintf(f, "%s%s", j > 0 ? "," : "", q);
			}
			fputc(']', f);
		}
		fputc('}', f);
	}
	fputs("]}", f);
}

void
sl_gen_views_begin(struct sl_gen_views *v, FILE *f)
{
	v->f = f;
	fputs("\"late_rule\":", f);
	json_str(f, late_rule);
	fputs(",\n\"view_defs\":[", f);
	for (uint32_t i = 0; i < v->n_views; i++) {
		fputs(i > 0 ? ",\n" : "\n", f);
		view_def_write(f, &v->cfg->views[i]);
	}
	fputs("],\n\"views\":[\n", f);
}

static bool
cond_holds(const struct cond *k, const struct sl_gen_event *ev)
{
	uint32_t enc = dim_get(ev, k->dim);

	switch (k->kind) {
	case SL_CONFIG_COND_EXISTS:
		return enc != 0;
	case SL_CONFIG_COND_NOT_EXISTS:
		return enc == 0;
	default:
		return enc != 0 && bsearch(&enc, k->vals, k->n_vals, sizeof(enc), u32_cmp) != NULL;
	}
}

/* The open window of @p vw that starts at @p start, created when needed; NULL: no memory. */
static struct win *
win_get(struct sl_gen_views *v, struct view *vw, uint64_t start)
{
	uint32_t lo = 0, hi = vw->n_open;
	struct win *w;

	if (vw->hint < vw->n_open && vw->open[vw->hint]->start == start)
		return vw->open[vw->hint];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (vw->open[mid]->start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < vw->n_open && vw->open[lo]->start == start) {
		vw->hint = lo;
		return vw->open[lo];
	}
	if (vw->n_open == vw->cap_open) {
		uint32_t cap = vw->cap_open != 0 ? vw->cap_open * 2 : 16;
		struct win **o = realloc(vw->open, cap * sizeof(*o));

		if (o == NULL)
			return NULL;
		vw->open = o;
		vw->cap_open = cap;
	}
	if (v->n_pool > 0) {
		w = v->pool[--v->n_pool];
	} else {
		w = calloc(1, sizeof(*w));
		if (w == NULL)
			return NULL;
	}
	w->start = start;
	w->n = 0;
	memmove(vw->open + lo + 1, vw->open + lo, (vw->n_open - lo) * sizeof(*vw->open));
	vw->open[lo] = w;
	vw->n_open++;
	vw->hint = lo;
	return w;
}

static int
win_append(struct win *w, const struct rec *r)
{
	if (w->n == w->cap) {
		uint32_t cap = w->cap != 0 ? w->cap * 2 : 256;
		struct rec *nr = realloc(w->recs, (size_t)cap * sizeof(*nr));

		if (nr == NULL)
			return -ENOMEM;
		w->recs = nr;
		w->cap = cap;
	}
	w->recs[w->n++] = *r;
	return 0;
}

int
sl_gen_views_add(struct sl_gen_views *v, const struct sl_gen_event *ev, uint32_t queue,
		 uint64_t arrival_ns)
{
	uint64_t t_ev = ev->ts_ms * 1000000ULL;
	uint64_t *m;
	struct rec r;

	assert(queue < v->n_queues);
	m = &v->max_ts_ns[queue];

	for (uint32_t d = 0; d < DIM__MAX; d++)
		r.v[d] = dim_get(ev, (enum dim)d);
	for (uint32_t i = 0; i < v->n_views; i++) {
		struct view *vw = &v->views[i];
		const struct sl_config_view *cv = vw->cfg;
		uint32_t g[SL_CONFIG_GROUP_BY_MAX] = { 0 };
		uint64_t last, first, span;
		bool match = true;

		for (uint32_t c = 0; c < vw->n_conds && match; c++)
			match = cond_holds(&vw->conds[c], ev);
		if (!match)
			continue;
		vw->events++;
		for (uint32_t k = 0; k < cv->n_group_by; k++)
			g[k] = vw->gdim[k] < DIM__MAX ? r.v[vw->gdim[k]] : 0;
		r.g[0] = (uint64_t)g[0] << 32 | g[1];
		r.g[1] = (uint64_t)g[2] << 32 | g[3];
		r.t_ns = vw->arrival ? arrival_ns : t_ev;
		/*
		 * Late by its slice [last, last + slide): the dataplane stores sliding
		 * windows as slices, so one decision holds for every window with it.
		 */
		last = r.t_ns / cv->window_slide_ns * cv->window_slide_ns;
		r.late = !vw->arrival && last + cv->window_slide_ns + cv->allowed_lateness_ns <= *m;
		vw->late += r.late;
		/* Every window [s, s + size) with s a multiple of slide that holds t. */
		span = cv->window_size_ns - cv->window_slide_ns;
		first = last >= span ? last - span : 0;
		for (uint64_t s = first; s <= last; s += cv->window_slide_ns) {
			struct win *w;

			/* The caller's max_back_ns promise: a written window gets nothing more. */
			if (s + cv->window_size_ns <= vw->written_end)
				return -ERANGE;
			/* Without keep_late a late event shows nowhere in the rows. */
			if (r.late && !cv->keep_late)
				continue;
			w = win_get(v, vw, s);
			if (w == NULL)
				return -ENOMEM;
			if (win_append(w, &r) < 0)
				return -ENOMEM;
		}
	}
	/* After the event: M is the largest time of the events sent *before* on the queue. */
	if (t_ev > *m)
		*m = t_ev;
	return 0;
}

static int
rec_cmp(const void *x, const void *y)
{
	const struct rec *a = x, *b = y;

	if (a->g[0] != b->g[0])
		return a->g[0] < b->g[0] ? -1 : 1;
	if (a->g[1] != b->g[1])
		return a->g[1] < b->g[1] ? -1 : 1;
	return 0;
}

static uint32_t
rec_gval(const struct rec *r, uint32_t k)
{
	return (uint32_t)(r->g[k / 2] >> (k % 2 == 0 ? 32 : 0));
}

/* Groups in the order of their values' texts, dimension by dimension; absent first. */
static int
run_cmp(const void *x, const void *y, void *arg)
{
	const struct run *a = x, *b = y;
	uint32_t n = *(const uint32_t *)arg;

	for (uint32_t k = 0; k < n; k++) {
		uint32_t la = a->len[k], lb = b->len[k];
		int c;

		if ((la == 0) != (lb == 0))
			return la == 0 ? -1 : 1;
		c = memcmp(a->txt[k], b->txt[k], la < lb ? la : lb);
		if (c != 0)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	return 0;
}

static int
i64_cmp(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

/* Top-k order: count descending, then the item's text bytewise. */
static int
item_cmp(const void *x, const void *y)
{
	const struct item *a = x, *b = y;
	int c;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	c = memcmp(a->txt, b->txt, a->len < b->len ? a->len : b->len);
	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* An exact decimal of micro-units, without trailing zeros ("123.45", "-0.5", "7"). */
static void
put_micro(FILE *f, __int128 v)
{
	unsigned __int128 a = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v :
				      (unsigned __int128)v;
	unsigned __int128 ip = a / 1000000;
	uint32_t frac = (uint32_t)(a % 1000000);
	char buf[48], *p = buf + sizeof(buf);
	int fd = 6;

	*--p = '\0';
	if (frac != 0) {
		while (frac % 10 == 0) {
			frac /= 10;
			fd--;
		}
		for (int i = 0; i < fd; i++) {
			*--p = (char)('0' + frac % 10);
			frac /= 10;
		}
		*--p = '.';
	}
	do {
		*--p = (char)('0' + (int)(ip % 10));
		ip /= 10;
	} while (ip != 0);
	if (v < 0)
		*--p = '-';
	fputs(p, f);
}

/* A dimension value: always its text, as a JSON string (no byte needs escaping). */
static void
put_dim(FILE *f, const char *txt, uint32_t len)
{
	fputc('"', f);
	fwrite(txt, 1, len, f);
	fputc('"', f);
}

static int
scratch_reserve(struct sl_gen_views *v, uint32_t n)
{
	if (n <= v->cap_scratch)
		return 0;
	free(v->vals);
	free(v->encs);
	v->vals = malloc((size_t)n * sizeof(*v->vals));
	v->encs = malloc((size_t)n * sizeof(*v->encs));
	if (v->vals == NULL || v->encs == NULL) {
		v->cap_scratch = 0;
		return -ENOMEM;
	}
	v->cap_scratch = n;
	return 0;
}

/* The numeric values (micro-units) of field @p d among the group's on-time records. */
static uint32_t
gather_vals(struct sl_gen_views *v, const struct win *w, const struct run *r, enum dim d,
	    int64_t *ret_last)
{
	uint64_t last_t = 0;
	int64_t last = 0;
	uint32_t n = 0;

	if (!dim_is_number(d))
		return 0;
	for (uint32_t i = r->lo; i < r->hi; i++) {
		const struct rec *rc = &w->recs[i];
		int64_t x;

		if (rc->late || rc->v[d] == 0)
			continue;
		x = ((int64_t)rc->v[d] - 1) * 10000;   /* hundredths -> micro-units */
		/* last: the greatest time; on a tie the greater value (order-independent). */
		if (n == 0 || rc->t_ns > last_t || (rc->t_ns == last_t && x > last)) {
			last_t = rc->t_ns;
			last = x;
		}
		v->vals[n++] = x;
	}
	*ret_last = last;
	return n;
}

static uint32_t
gather_encs(struct sl_gen_views *v, const struct win *w, const struct run *r, enum dim d)
{
	uint32_t n = 0;

	if (d >= DIM__MAX)
		return 0;
	for (uint32_t i = r->lo; i < r->hi; i++)
		if (!w->recs[i].late && w->recs[i].v[d] != 0)
			v->encs[n++] = w->recs[i].v[d];
	if (n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(v->encs, n, sizeof(*v->encs), u32_cmp);
	return n;
}

static int
put_topk(struct sl_gen_views *v, const struct win *w, const struct run *r, enum dim d,
	 uint32_t k)
{
	uint32_t n = gather_encs(v, w, r, d), m = 0;
	FILE *f = v->f;

	if (n > v->cap_items) {
		struct item *it = realloc(v->items, (size_t)n * sizeof(*it));

		if (it == NULL)
			return -ENOMEM;
		v->items = it;
		v->cap_items = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (m > 0 && v->items[m - 1].enc == v->encs[i]) {
			v->items[m - 1].count++;
			continue;
		}
		v->items[m].enc = v->encs[i];
		v->items[m].count = 1;
		v->items[m].len = dim_text(&v->nm, d, v->encs[i], v->items[m].txt);
		m++;
	}
	if (m > 1)
		qsort(v->items, m, sizeof(*v->items), item_cmp);
	fputc('[', f);
	for (uint32_t i = 0; i < m && i < k; i++) {
		fputs(i > 0 ? ",{\"item\":" : "{\"item\":", f);
		put_dim(f, v->items[i].txt, v->items[i].len);
		fprintf(f, ",\"count\":%" PRIu64 ",\"error\":0}", v->items[i].count);
	}
	fputc(']', f);
	return 0;
}

/* avg: the correctly rounded double of sum / n (both exact as doubles below 2^53). */
static double
avg_of(__int128 sum_micro, uint32_t n)
{
	const __int128 lim = (__int128)1 << 53;

	if (sum_micro > -lim && sum_micro < lim && (__int128)n * 1000000 < lim)
		return (double)sum_micro / ((double)n * 1e6);
	return (double)((long double)sum_micro / ((long double)n * 1e6L));
}

/* `"KEY_error":0`: the truth is exact (the receiver writes its bound there). */
static void
json_key_error(FILE *f, const char *key)
{
	fputc('"', f);
	for (; *key != '\0'; key++) {
		if (*key == '"' || *key == '\\')
			fputc('\\', f);
		fputc(*key, f);
	}
	fputs("_error\":0", f);
}

static int
row_write(struct sl_gen_views *v, struct view *vw, const struct win *w, const struct run *r)
{
	const struct sl_config_view *cv = vw->cfg;
	uint32_t on_time = 0;
	FILE *f = v->f;
	char q[32];
	int rc;

	for (uint32_t i = r->lo; i < r->hi; i++)
		on_time += !w->recs[i].late;
	fputs(v->rows > 0 ? ",\n{\"view\":" : "{\"view\":", f);
	json_str(f, cv->name);
	fprintf(f, ",\"window_start\":%" PRIu64 ",\"window_end\":%" PRIu64 ",\"group\":{",
		w->start, w->start + cv->window_size_ns);
	for (uint32_t k = 0; k < cv->n_group_by; k++) {
		if (k > 0)
			fputc(',', f);
		json_str(f, cv->group_by[k]);
		fputc(':', f);
		put_dim(f, r->txt[k], r->len[k]);   /* absent: "" (view.h's group key) */
	}
	fputs("},\"values\":{", f);
	for (uint32_t i = 0; i < cv->n_aggs; i++) {
		const struct sl_config_agg *a = &cv->aggs[i];
		enum dim d = vw->afield[i];
		__int128 sum = 0;
		int64_t last, mn, mx;
		uint32_t n, u;

		if (i > 0)
			fputc(',', f);
		json_str(f, a->key);
		fputc(':', f);
		switch (a->kind) {
		case SL_CONFIG_AGG_COUNT:
			fprintf(f, "%u", on_time);
			break;
		case SL_CONFIG_AGG_DISTINCT:
			n = gather_encs(v, w, r, d);
			u = 0;
			for (uint32_t j = 0; j < n; j++)
				u += j == 0 || v->encs[j] != v->encs[j - 1];
			fprintf(f, "%u,", u);
			json_key_error(f, a->key);
			break;
		case SL_CONFIG_AGG_TOPK:
			rc = put_topk(v, w, r, d, a->k);
			if (rc < 0)
				return rc;
			break;
		case SL_CONFIG_AGG_QUANTILES:
			n = gather_vals(v, w, r, d, &last);
			if (n == 0) {   /* as view.c: null, and then no _error key */
				fputs("null", f);
				break;
			}
			qsort(v->vals, n, sizeof(*v->vals), i64_cmp);
			fputc('{', f);
			for (uint32_t j = 0; j < a->n_quantiles; j++) {
				fmt_quantile(a->quantiles[j], q, sizeof(q));
				fprintf(f, "%s\"%s\":", j > 0 ? "," : "", q);
				/* The lower quantile: rank floor(q (n - 1)). */
				put_micro(f, v->vals[(uint32_t)floor(a->quantiles[j] * (double)(n - 1))]);
			}
			fputs("},", f);
			json_key_error(f, a->key);
			break;
		default:
			n = gather_vals(v, w, r, d, &last);
			mn = INT64_MAX;
			mx = INT64_MIN;
			for (uint32_t j = 0; j < n; j++) {
				sum += v->vals[j];
				mn = v->vals[j] < mn ? v->vals[j] : mn;
				mx = v->vals[j] > mx ? v->vals[j] : mx;
			}
			if (n == 0)
				fputs("null", f);
			else if (a->kind == SL_CONFIG_AGG_SUM)
				put_micro(f, sum);
			else if (a->kind == SL_CONFIG_AGG_AVG)
				put_double(f, avg_of(sum, n));
			else
				put_micro(f, a->kind == SL_CONFIG_AGG_MIN ? mn :
					     a->kind == SL_CONFIG_AGG_MAX ? mx : last);
			break;
		}
	}
	/* Without keep_late no late record is kept (sl_gen_views_add()): 0. */
	fprintf(f, "},\"late\":%u}", r->hi - r->lo - on_time);
	v->rows++;
	vw->rows++;
	return 0;
}

/* Write one window's rows (groups in text order) and recycle it. */
static int
win_write(struct sl_gen_views *v, struct view *vw, struct win *w)
{
	uint32_t n_runs = 0, ng = vw->cfg->n_group_by;
	int rc = 0;

	if (w->n > 1)
		qsort(w->recs, w->n, sizeof(*w->recs), rec_cmp);
	for (uint32_t i = 0; i < w->n; i++) {
		struct run *r;

		if (i > 0 && rec_cmp(&w->recs[i], &w->recs[i - 1]) == 0) {
			v->runs[n_runs - 1].hi = i + 1;
			continue;
		}
		if (n_runs == v->cap_runs) {
			uint32_t cap = v->cap_runs != 0 ? v->cap_runs * 2 : 64;
			struct run *nr = realloc(v->runs, (size_t)cap * sizeof(*nr));

			if (nr == NULL)
				return -ENOMEM;
			v->runs = nr;
			v->cap_runs = cap;
		}
		r = &v->runs[n_runs++];
		r->lo = i;
		r->hi = i + 1;
		for (uint32_t k = 0; k < SL_CONFIG_GROUP_BY_MAX; k++) {
			uint32_t enc = k < ng ? rec_gval(&w->recs[i], k) : 0;

			r->len[k] = enc != 0 ? (uint8_t)dim_text(&v->nm, vw->gdim[k], enc, r->txt[k]) : 0;
		}
	}
	qsort_r(v->runs, n_runs, sizeof(*v->runs), run_cmp, &ng);
	if (scratch_reserve(v, w->n) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < n_runs && rc == 0; i++)
		rc = row_write(v, vw, w, &v->runs[i]);
	if (rc < 0)
		return rc;

	vw->written_end = w->start + vw->cfg->window_size_ns;
	if (v->n_pool < WIN_POOL_MAX) {
		v->pool[v->n_pool++] = w;
	} else {
		win_free(w);
	}
	return 0;
}

/*
 * Write every window that ends at or before @p h, in the order (end, view),
 * so that the rows of the whole file are sorted that way.
 */
static int
write_until(struct sl_gen_views *v, uint64_t h)
{
	for (;;) {
		struct view *best = NULL;
		uint64_t best_end = 0;
		struct win *w;
		int rc;

		for (uint32_t i = 0; i < v->n_views; i++) {
			struct view *vw = &v->views[i];
			uint64_t end;

			if (vw->n_open == 0)
				continue;
			end = vw->open[0]->start + vw->cfg->window_size_ns;
			if (end <= h && (best == NULL || end < best_end)) {
				best = vw;
				best_end = end;
			}
		}
		if (best == NULL)
			return 0;
		w = best->open[0];
		memmove(best->open, best->open + 1, (best->n_open - 1) * sizeof(*best->open));
		best->n_open--;
		best->hint = 0;
		rc = win_write(v, best, w);
		if (rc < 0) {
			win_free(w);
			return rc;
		}
	}
}

int
sl_gen_views_advance(struct sl_gen_views *v, uint64_t base_ns, uint64_t arrival_ns)
{
	uint64_t h = arrival_ns;

	/* One horizon for every view keeps the rows sorted by window end across views. */
	if (v->any_event) {
		uint64_t ev_h = base_ns > v->max_back_ns ? base_ns - v->max_back_ns : 0;

		if (ev_h < h)
			h = ev_h;
	}
	return write_until(v, h);
}

int
sl_gen_views_end(struct sl_gen_views *v)
{
	FILE *f = v->f;
	int rc;

	rc = write_until(v, UINT64_MAX);
	if (rc < 0)
		return rc;
	fputs("\n],\n\"totals\":[", f);
	for (uint32_t i = 0; i < v->n_views; i++) {
		fputs(i > 0 ? ",\n{\"view\":" : "\n{\"view\":", f);
		json_str(f, v->views[i].cfg->name);
		fprintf(f, ",\"events\":%" PRIu64 ",\"late\":%" PRIu64 ",\"rows\":%" PRIu64 "}",
			v->views[i].events, v->views[i].late, v->views[i].rows);
	}
	fputs("]", f);
	return 0;
}
