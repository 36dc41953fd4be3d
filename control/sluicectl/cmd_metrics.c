/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * `sluicectl metrics`: print closed windows from the window store.
 *
 * The store is opened read-only, so this is safe while sluiced writes. The
 * scan runs inside one LMDB read transaction, and a live reader pins old
 * pages: the callback therefore only decodes and buffers (table rows, a JSON
 * text in memory, or summary counters) and everything is printed after the
 * scan, when the store is closed again. A slow terminal or pager never holds
 * the transaction open.
 *
 * --by and --sort buffer rows (struct roll_row) instead: --by merges the
 * stored states of every record with the same roll-up key (name, type, the
 * values of the --by tags, and the window start with "window"), --sort keeps
 * the records to order them. The rows are sorted, cut to --limit and printed
 * after the scan. Their number and the bytes of merged distinct sets are
 * capped, so that a large range fails with a clear error rather than swapping.
 */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <sluice/common.h>

#include "agg.h"
#include "cmd.h"
#include "query.h"
#include "record_json.h"
#include "store.h"

#define SL_METRICS_DB_DEFAULT "/var/lib/sluice"
#define SL_METRICS_DB_ENV "SLUICE_DB"
/** Rows kept for the human table; the rest is only counted. */
#define SL_METRICS_ROWS_MAX 100000
/** The view that holds the raw windows. */
#define SL_METRICS_VIEW 0
/** Tags --by accepts (each is one table column). */
#define SL_METRICS_BY_MAX 4
#define SL_METRICS_STR_(x) #x
#define SL_METRICS_STR(x) SL_METRICS_STR_(x)
/** Rows kept for --by and --sort. */
#define SL_METRICS_ROLL_MAX 1000000
/** Bytes of merged distinct sets kept for --by (member hashes or HLL registers). */
#define SL_METRICS_SET_BYTES_MAX (1024ULL << 20)
/** A roll-up key: type, name length, name, tag count, then each --by value with its length. */
#define SL_METRICS_ROLL_KEY_MAX (3 + UINT8_MAX + SL_METRICS_BY_MAX * (1 + UINT8_MAX))

/** --sort: the field to order rows by, descending. */
enum metrics_sort {
	SORT_NONE,
	SORT_COUNT,
	SORT_SUM,
	SORT_AVG,
	SORT_DISTINCT,
};

struct metrics_opts {
	const char *db;
	uint64_t from_ns;
	uint64_t to_ns;
	const char *name; /**< NULL: every name. */
	struct sl_ctl_name_filter nf; /**< --name. */
	bool json;
	bool summary;
	bool by;          /**< --by: roll records up. */
	bool by_window;   /**< --by window: windows are kept apart. */
	unsigned int n_by;
	const char *by_tag[SL_METRICS_BY_MAX]; /**< Tag names, into the --by argument. */
	size_t by_tag_len[SL_METRICS_BY_MAX];
	enum metrics_sort sort;
	uint64_t limit;   /**< 0: every row. */
	bool buffered;    /**< --by or --sort: rows are kept, sorted and printed after the scan. */
};

/** Distinct group keys (exact: keys are compared byte by byte). */
struct keyset {
	struct keyset_slot {
		uint64_t hash;
		size_t off; /**< Into arena; SIZE_MAX: empty slot. */
		uint32_t len;
	} *slots;
	size_t nslots; /**< Power of two. */
	size_t used;
	uint8_t *arena;
	size_t arena_len;
	size_t arena_cap;
};

/** One row of --by or --sort, owned by struct roll. */
struct roll_row {
	uint64_t hash;
	uint64_t start_ns; /**< First window start. */
	uint64_t end_ns;   /**< Last window end. */
	uint64_t seq;      /**< Scan order of its first record (ties of --sort without --by). */
	struct sl_agg_state st;
	struct sl_agg_set *set; /**< --by sets: the union so far; NULL once counted. */
	uint64_t distinct;
	bool distinct_exact;
	uint32_t key_len;
	uint8_t *key; /**< Canonical layout: with --by, the tags are the --by values. */
};

/** Rows of --by or --sort, and with --by an index of them by roll-up key. */
struct roll {
	struct roll_row *rows;
	size_t nrows;
	size_t rows_cap;
	uint32_t *slots; /**< Row indexes, UINT32_MAX: empty. */
	size_t nslots;   /**< Power of two. */
	uint64_t set_bytes;
};

struct type_sum {
	uint64_t groups;
	uint64_t windows;
	uint64_t records;
	uint64_t samples;
	uint64_t last_start; /**< Scan order is by window start: count changes. */
};

/** Everything the scan callback fills. */
struct metrics_ctx {
	const struct metrics_opts *o;
	int err;          /**< -ENOMEM when the scan was stopped. */
	uint64_t matched; /**< Records that passed the filters. */
	uint64_t skipped; /**< Malformed records. */
	/* --json */
	FILE *json;
	/* table */
	struct sl_tab tab;
	uint64_t more; /**< Rows past SL_METRICS_ROWS_MAX. */
	/* --by, --sort */
	struct roll roll;
	/* --summary */
	struct keyset groups;
	struct type_sum types[SL_METRIC__MAX];
	struct type_sum total;
	uint64_t first_start;
};

static const char *const type_long[] = {
#define _(e, s, l) l,
	SL_METRIC_TYPES(_)
#undef _
};

/* ---- JSON output ---- */

/**
 * One record as a JSON object. With --by, its tags are the --by values (one
 * per --by tag, in order) and the window is the span of the merged windows.
 */
static void
metrics_json_rec(FILE *f, bool first, const struct metrics_opts *o, const struct sl_ctl_record *r)
{
	sl_ctl_record_json(f, first, r, o->by ? o->by_tag : NULL, o->by ? o->by_tag_len : NULL);
}

/* ---- human table ---- */

enum {
	COL_WINDOW,
	COL_NAME,
	COL_TYPE,
	COL_TAGS,
	COL_COUNT,
	COL_SUM,
	COL_AVG,
	COL_MIN,
	COL_MAX,
	COL_LAST,
	COL_DISTINCT,
	COL__MAX,
};

static const char *const tab_hdr[COL__MAX] = {
	"WINDOW", "NAME", "TYPE", "TAGS", "COUNT", "SUM", "AVG", "MIN", "MAX", "LAST", "DISTINCT",
};
/* Text left, numbers right. */
static const char tab_align[COL__MAX + 1] = "llllrrrrrrr";

/** Append @p len bytes to @p out (capacity @p cap, at *off), control bytes as '?'. */
static void
put_text(char *out, size_t cap, size_t *off, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len && *off + 1 < cap; i++)
		out[(*off)++] = p[i] < 0x20 || p[i] == 0x7f ? '?' : (char)p[i];
	out[*off] = '\0';
}

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

/**
 * The sum for people: the exact integer when it is one, else 2 decimals (3
 * significant digits when 2 decimals would show a non-zero sum as 0.00).
 */
static void
fmt_sum(const struct sl_agg_state *st, char *buf, size_t cap)
{
	double d = sl_agg_state_sum(st);
	char exact[64];

	sl_agg_state_sum_format(st, exact, sizeof(exact));
	if (exact[strspn(exact, "-0123456789")] == '\0' && exact[0] != '\0')
		snprintf(buf, cap, "%s", exact);
	else if (!isfinite(d) || fabs(d) >= 1e15)
		snprintf(buf, cap, "%.4g", d);
	else if (d == trunc(d))
		snprintf(buf, cap, "%.0f", d);
	else if (fabs(d) < 0.005)
		snprintf(buf, cap, "%.3g", d);
	else
		snprintf(buf, cap, "%.2f", d);
}

/** Columns of the table: today's, or with --by the span, name, type and one per --by tag. */
struct tab_layout {
	const char *hdr[SL_TAB_COLS_MAX];
	char align[SL_TAB_COLS_MAX + 1];
	char by_hdr[SL_METRICS_BY_MAX][SL_TAG_MAX + 1]; /**< Tag names in upper case. */
	unsigned int ncols;
};

_Static_assert(COL__MAX - 1 + SL_METRICS_BY_MAX <= SL_TAB_COLS_MAX,
	       "--by columns must fit in a table");

static void
tab_layout_init(struct tab_layout *l, const struct metrics_opts *o)
{
	unsigned int n = 0;

	if (!o->by) {
		for (n = 0; n < COL__MAX; n++)
			l->hdr[n] = tab_hdr[n];
		memcpy(l->align, tab_align, sizeof(tab_align));
		l->ncols = COL__MAX;
		return;
	}
	l->hdr[n++] = "FROM .. TO";
	l->hdr[n++] = tab_hdr[COL_NAME];
	l->hdr[n++] = tab_hdr[COL_TYPE];
	memset(l->align, 'l', n + o->n_by);
	for (unsigned int i = 0; i < o->n_by; i++) {
		size_t len = o->by_tag_len[i];

		for (size_t j = 0; j < len; j++) {
			unsigned char c = (unsigned char)o->by_tag[i][j];

			l->by_hdr[i][j] = c < 0x20 || c == 0x7f ? '?' : (char)toupper(c);
		}
		l->by_hdr[i][len] = '\0';
		l->hdr[n++] = l->by_hdr[i];
	}
	for (unsigned int c = COL_COUNT; c < COL__MAX; c++) {
		l->align[n] = 'r';
		l->hdr[n++] = tab_hdr[c];
	}
	l->align[n] = '\0';
	l->ncols = n;
}

/** One record as a table row, in the columns of tab_layout_init(). */
static int
tab_rec(struct sl_tab *tab, const struct metrics_opts *o, const struct sl_ctl_record *r)
{
	char win[112], name[SL_NAME_MAX + 1], tags[SL_KEY_MAX + SL_TAGS_MAX + 1];
	char vals[SL_METRICS_BY_MAX][SL_TAG_MAX + 1];
	char num[COL__MAX][64];
	const char *cells[SL_TAB_COLS_MAX] = { 0 };
	const char *numc[COL__MAX] = { 0 }; /* By COL_*, from COL_COUNT: after the tags. */
	uint8_t type = r->key.type;
	unsigned int c = 0;
	size_t off = 0;

	sl_ctl_fmt_time(r->start_ns, win, sizeof(win));
	if (o->by) {
		char end[48];

		sl_ctl_fmt_time(r->end_ns, end, sizeof(end));
		off = strlen(win);
		snprintf(win + off, sizeof(win) - off, " .. %s", end);
	}
	off = 0;
	put_text(name, sizeof(name), &off, r->key.name.p, r->key.name.len);
	cells[c++] = win;
	cells[c++] = name;
	cells[c++] = sl_metric_type_str(type);
	if (o->by) {
		/* One column per --by tag; "-" when the group has no value for it. */
		for (unsigned int i = 0; i < r->key.n_tags && i < SL_METRICS_BY_MAX; i++) {
			off = 0;
			put_text(vals[i], sizeof(vals[i]), &off, r->key.tags[i].p,
				 r->key.tags[i].len);
			cells[c++] = off > 0 ? vals[i] : "-";
		}
	} else {
		off = 0;
		tags[0] = '\0';
		for (unsigned int i = 0; i < r->key.n_tags; i++) {
			if (i > 0)
				put_text(tags, sizeof(tags), &off, (const uint8_t *)",", 1);
			put_text(tags, sizeof(tags), &off, r->key.tags[i].p,
				 r->key.tags[i].len);
		}
		cells[c++] = tags;
	}

	snprintf(num[COL_COUNT], sizeof(num[0]), "%" PRIu64, r->st.count);
	numc[COL_COUNT] = num[COL_COUNT];
	if (sl_ctl_type_has_sum(type)) {
		fmt_sum(&r->st, num[COL_SUM], sizeof(num[0]));
		numc[COL_SUM] = num[COL_SUM];
	}
	if (sl_ctl_type_has_minmax(type) && r->st.count > 0) {
		fmt_num(r->st.min, num[COL_MIN], sizeof(num[0]));
		fmt_num(r->st.max, num[COL_MAX], sizeof(num[0]));
		numc[COL_MIN] = num[COL_MIN];
		numc[COL_MAX] = num[COL_MAX];
		if (type == SL_METRIC_GAUGE) {
			fmt_num(r->st.last, num[COL_LAST], sizeof(num[0]));
			numc[COL_LAST] = num[COL_LAST];
		} else {
			fmt_num(sl_agg_state_sum(&r->st) / (double)r->st.count, num[COL_AVG],
				sizeof(num[0]));
			numc[COL_AVG] = num[COL_AVG];
		}
	}
	if (type == SL_METRIC_SET) {
		snprintf(num[COL_DISTINCT], sizeof(num[0]), "%s%" PRIu64,
			 r->distinct_exact ? "" : "~", r->distinct);
		numc[COL_DISTINCT] = num[COL_DISTINCT];
	}
	for (unsigned int i = COL_COUNT; i < COL__MAX; i++)
		cells[c++] = numc[i];
	return sl_tab_add(tab, cells);
}

/* ---- summary ---- */

static void
keyset_fini(struct keyset *ks)
{
	free(ks->slots);
	free(ks->arena);
	memset(ks, 0, sizeof(*ks));
}

static int
keyset_grow(struct keyset *ks)
{
	size_t n = ks->nslots ? ks->nslots * 2 : 1024;
	struct keyset_slot *slots = malloc(n * sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		slots[i].off = SIZE_MAX;
	for (size_t i = 0; i < ks->nslots; i++) {
		size_t j;

		if (ks->slots[i].off == SIZE_MAX)
			continue;
		j = ks->slots[i].hash & (n - 1);
		while (slots[j].off != SIZE_MAX)
			j = (j + 1) & (n - 1);
		slots[j] = ks->slots[i];
	}
	free(ks->slots);
	ks->slots = slots;
	ks->nslots = n;
	return 0;
}

/** Insert a key. @return 1 when new, 0 when already there, -ENOMEM. */
static int
keyset_add(struct keyset *ks, const uint8_t *key, uint32_t len)
{
	uint64_t h = sl_hash64(key, len, 0);
	size_t j, mask;

	if ((ks->used + 1) * 2 > ks->nslots && keyset_grow(ks) < 0)
		return -ENOMEM;
	mask = ks->nslots - 1;
	for (j = h & mask; ks->slots[j].off != SIZE_MAX; j = (j + 1) & mask) {
		const struct keyset_slot *s = &ks->slots[j];

		if (s->hash == h && s->len == len && memcmp(ks->arena + s->off, key, len) == 0)
			return 0;
	}
	if (ks->arena_len + len > ks->arena_cap) {
		size_t cap = ks->arena_cap ? ks->arena_cap : 65536;
		uint8_t *a;

		while (cap < ks->arena_len + len)
			cap *= 2;
		a = realloc(ks->arena, cap);
		if (a == NULL)
			return -ENOMEM;
		ks->arena = a;
		ks->arena_cap = cap;
	}
	memcpy(ks->arena + ks->arena_len, key, len);
	ks->slots[j] = (struct keyset_slot){ .hash = h, .off = ks->arena_len, .len = len };
	ks->arena_len += len;
	ks->used++;
	return 1;
}

static void
sum_window(struct type_sum *ts, uint64_t start_ns)
{
	if (ts->windows == 0 || ts->last_start != start_ns)
		ts->windows++;
	ts->last_start = start_ns;
}

static int
summary_rec(struct metrics_ctx *ctx, const uint8_t *key, uint32_t key_len,
	    const struct sl_ctl_record *r)
{
	struct type_sum *ts = &ctx->types[r->key.type];
	int rc = keyset_add(&ctx->groups, key, key_len);

	if (rc < 0)
		return rc;
	if (ctx->total.records == 0)
		ctx->first_start = r->start_ns;
	ts->groups += (uint64_t)rc;
	ctx->total.groups += (uint64_t)rc;
	ts->records++;
	ctx->total.records++;
	ts->samples += r->st.count;
	ctx->total.samples += r->st.count;
	sum_window(ts, r->start_ns);
	sum_window(&ctx->total, r->start_ns);
	return 0;
}

static json_t *
summary_json_one(const struct type_sum *ts)
{
	return json_pack("{sIsIsIsI}", "groups", (json_int_t)ts->groups, "windows",
			 (json_int_t)ts->windows, "records", (json_int_t)ts->records, "samples",
			 (json_int_t)ts->samples);
}

static int
summary_print(const struct metrics_ctx *ctx)
{
	static const char *const hdr[] = { "TYPE", "GROUPS", "WINDOWS", "RECORDS", "SAMPLES" };
	char first[48], last[48];
	struct sl_tab tab;
	int rc = 0;

	if (ctx->o->json) {
		json_t *root = json_object();
		char *s = NULL;

		for (unsigned int t = 0; root != NULL && t < SL_METRIC__MAX; t++) {
			if (ctx->types[t].records > 0)
				json_object_set_new(root, sl_metric_type_str(t),
						    summary_json_one(&ctx->types[t]));
		}
		if (root != NULL) {
			json_object_set_new(root, "total", summary_json_one(&ctx->total));
			json_object_set_new(root, "first_window_start",
					    json_integer((json_int_t)ctx->first_start));
			json_object_set_new(root, "last_window_start",
					    json_integer((json_int_t)ctx->total.last_start));
			s = json_dumps(root, JSON_COMPACT);
		}
		json_decref(root);
		if (s == NULL)
			return -ENOMEM;
		printf("%s\n", s);
		free(s);
		return 0;
	}

	sl_tab_init(&tab, 5, hdr, "lrrrr");
	for (unsigned int t = 0; t <= SL_METRIC__MAX && rc == 0; t++) {
		const struct type_sum *ts = t < SL_METRIC__MAX ? &ctx->types[t] : &ctx->total;
		char n[4][32];
		const char *cells[5] = { t < SL_METRIC__MAX ? type_long[t] : "total", n[0], n[1],
					 n[2], n[3] };

		if (ts->records == 0)
			continue;
		snprintf(n[0], sizeof(n[0]), "%" PRIu64, ts->groups);
		snprintf(n[1], sizeof(n[1]), "%" PRIu64, ts->windows);
		snprintf(n[2], sizeof(n[2]), "%" PRIu64, ts->records);
		snprintf(n[3], sizeof(n[3]), "%" PRIu64, ts->samples);
		rc = sl_tab_add(&tab, cells);
	}
	if (rc == 0) {
		sl_tab_print(&tab, stdout, "");
		sl_ctl_fmt_time(ctx->first_start, first, sizeof(first));
		sl_ctl_fmt_time(ctx->total.last_start, last, sizeof(last));
		printf("\nwindow starts %s .. %s UTC\n", first, last);
	}
	sl_tab_fini(&tab);
	return rc;
}

/* ---- --by and --sort ---- */

static void
roll_fini(struct roll *ro)
{
	for (size_t i = 0; i < ro->nrows; i++) {
		free(ro->rows[i].key);
		sl_agg_set_destroy(ro->rows[i].set);
	}
	free(ro->rows);
	free(ro->slots);
	memset(ro, 0, sizeof(*ro));
}

/** Bytes a merged set holds (the serialized size of its members or registers). */
static uint64_t
set_bytes(const struct sl_agg_set *set)
{
	return set != NULL ? sl_agg_state_serialized_size(set) - SL_AGG_SER_HDR : 0;
}

/** The value of tag @p name in a group ("" when it has none, or no such tag). */
static struct sl_span
tag_value(const struct sl_agg_key *k, const char *name, size_t len)
{
	static const uint8_t empty;

	/* Tags are sorted: with the tag given twice, the smallest value wins. */
	for (unsigned int i = 0; i < k->n_tags; i++) {
		const struct sl_span *t = &k->tags[i];

		if (t->len < len || memcmp(t->p, name, len) != 0)
			continue;
		if (t->len == len)
			break;
		if (t->p[len] == ':')
			return (struct sl_span){ .p = t->p + len + 1, .len = t->len - len - 1 };
	}
	return (struct sl_span){ .p = &empty, .len = 0 };
}

/**
 * The roll-up key of a group into @p out (SL_METRICS_ROLL_KEY_MAX bytes): the
 * canonical layout, with the --by tag values in --by order as its tags.
 * @return its length.
 */
static uint32_t
roll_key(const struct metrics_opts *o, const struct sl_agg_key *k, uint8_t *out)
{
	uint32_t off = 0;

	out[off++] = k->type;
	out[off++] = (uint8_t)k->name.len;
	memcpy(out + off, k->name.p, k->name.len);
	off += k->name.len;
	out[off++] = (uint8_t)o->n_by;
	for (unsigned int i = 0; i < o->n_by; i++) {
		struct sl_span v = tag_value(k, o->by_tag[i], o->by_tag_len[i]);

		out[off++] = (uint8_t)v.len;
		memcpy(out + off, v.p, v.len);
		off += v.len;
	}
	return off;
}

static int
roll_grow_slots(struct roll *ro)
{
	size_t n = ro->nslots ? ro->nslots * 2 : 1024;
	uint32_t *slots = malloc(n * sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	for (size_t i = 0; i < ro->nrows; i++) {
		size_t j = ro->rows[i].hash & (n - 1);

		while (slots[j] != UINT32_MAX)
			j = (j + 1) & (n - 1);
		slots[j] = (uint32_t)i;
	}
	free(ro->slots);
	ro->slots = slots;
	ro->nslots = n;
	return 0;
}

/**
 * Find the row of a roll-up key (@p start_ns counts with --by window).
 * @return 0 with *ret_slot its slot, or the empty slot to put it in; -ENOMEM.
 */
static int
roll_find(struct roll *ro, const struct metrics_opts *o, const uint8_t *key, uint32_t len,
	  uint64_t hash, uint64_t start_ns, size_t *ret_slot)
{
	size_t j, mask;

	if ((ro->nrows + 1) * 2 > ro->nslots && roll_grow_slots(ro) < 0)
		return -ENOMEM;
	mask = ro->nslots - 1;
	for (j = hash & mask; ro->slots[j] != UINT32_MAX; j = (j + 1) & mask) {
		const struct roll_row *r = &ro->rows[ro->slots[j]];

		if (r->hash == hash && r->key_len == len && memcmp(r->key, key, len) == 0 &&
		    (!o->by_window || r->start_ns == start_ns))
			break;
	}
	*ret_slot = j;
	return 0;
}

/** Merge a record into its row; takes @p set. @return 0, -ENOMEM or -EFBIG. */
static int
roll_merge(struct roll *ro, struct roll_row *row, const struct sl_ctl_record *rec,
	   struct sl_agg_set *set)
{
	uint64_t before;
	int rc = 0;

	sl_agg_state_merge(&row->st, &rec->st);
	if (rec->start_ns < row->start_ns)
		row->start_ns = rec->start_ns;
	if (rec->end_ns > row->end_ns)
		row->end_ns = rec->end_ns;
	if (set == NULL)
		return 0;
	if (row->set == NULL) {
		row->set = set;
		ro->set_bytes += set_bytes(set);
	} else {
		before = set_bytes(row->set);
		rc = sl_agg_set_merge(row->set, set);
		sl_agg_set_destroy(set);
		ro->set_bytes = ro->set_bytes - before + set_bytes(row->set);
	}
	if (rc == 0 && ro->set_bytes > SL_METRICS_SET_BYTES_MAX)
		rc = -EFBIG;
	return rc;
}

static int
span_cmp(const struct sl_span *a, const struct sl_span *b)
{
	int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/** The order without --sort: window (with --by window), name, type, then the --by values. */
static int
row_cmp_key(const struct metrics_opts *o, const struct roll_row *a, const struct roll_row *b)
{
	struct sl_agg_key ka, kb;
	int c;

	if (!o->by)
		return (a->seq > b->seq) - (a->seq < b->seq); /* scan order */
	if (o->by_window && a->start_ns != b->start_ns)
		return a->start_ns < b->start_ns ? -1 : 1;
	/* Roll-up keys were built by roll_key(): they decode. */
	sl_agg_key_decode(a->key, a->key_len, &ka);
	sl_agg_key_decode(b->key, b->key_len, &kb);
	c = span_cmp(&ka.name, &kb.name);
	if (c != 0)
		return c;
	if (ka.type != kb.type)
		return ka.type < kb.type ? -1 : 1;
	for (unsigned int i = 0; i < ka.n_tags && i < kb.n_tags; i++) {
		c = span_cmp(&ka.tags[i], &kb.tags[i]);
		if (c != 0)
			return c;
	}
	return 0;
}

/**
 * The --sort value of a row as a double, when it has one (rows without one
 * sort last). Sums also come as their exact part for an exact comparison.
 */
static bool
row_sort_val(const struct roll_row *r, enum metrics_sort sort, double *ret_v, bool *ret_exact,
	     __int128 *ret_fixed)
{
	uint8_t type = r->key[0];

	*ret_exact = false;
	switch (sort) {
	case SORT_COUNT:
		*ret_v = (double)r->st.count;
		return true;
	case SORT_SUM:
		if (!sl_ctl_type_has_sum(type))
			return false;
		*ret_v = sl_agg_state_sum(&r->st);
		*ret_exact = r->st.sum_float == 0;
		*ret_fixed = r->st.sum_fixed;
		return !isnan(*ret_v);
	case SORT_AVG:
		if (!sl_ctl_type_has_sum(type) || type == SL_METRIC_COUNTER || r->st.count == 0)
			return false;
		*ret_v = sl_agg_state_sum(&r->st) / (double)r->st.count;
		return !isnan(*ret_v);
	case SORT_DISTINCT:
		if (type != SL_METRIC_SET)
			return false;
		*ret_v = (double)r->distinct;
		return true;
	default:
		return false;
	}
}

/** qsort_r() order of rows: --sort descending, then row_cmp_key(). */
static int
row_cmp(const void *pa, const void *pb, void *arg)
{
	const struct metrics_opts *o = arg;
	const struct roll_row *a = pa, *b = pb;
	__int128 fa = 0, fb = 0;
	bool ha, hb, ea, eb;
	double va, vb;

	if (o->sort != SORT_NONE) {
		ha = row_sort_val(a, o->sort, &va, &ea, &fa);
		hb = row_sort_val(b, o->sort, &vb, &eb, &fb);
		if (ha != hb)
			return ha ? -1 : 1;
		if (ha && o->sort == SORT_COUNT && a->st.count != b->st.count)
			return a->st.count > b->st.count ? -1 : 1;
		if (ha && o->sort == SORT_DISTINCT && a->distinct != b->distinct)
			return a->distinct > b->distinct ? -1 : 1;
		if (ha && ea && eb && fa != fb)
			return fa > fb ? -1 : 1;
		if (ha && !(ea && eb) && va != vb)
			return va > vb ? -1 : 1;
	}
	return row_cmp_key(o, a, b);
}

/** Sort the rows and keep the first --limit. */
static void
roll_sort(struct roll *ro, const struct metrics_opts *o)
{
	if (ro->nrows > 1)
		qsort_r(ro->rows, ro->nrows, sizeof(*ro->rows), row_cmp, (void *)(uintptr_t)o);
	while (o->limit > 0 && ro->nrows > o->limit) {
		ro->nrows--;
		free(ro->rows[ro->nrows].key);
		sl_agg_set_destroy(ro->rows[ro->nrows].set);
	}
}

/**
 * Add a matching record: merged into the row of its roll-up key with --by,
 * else a row of its own. Takes @p set (NULL when none).
 * @return 0, -ENOMEM, -E2BIG (SL_METRICS_ROLL_MAX rows), -EFBIG (set bytes).
 */
static int
roll_add(struct metrics_ctx *ctx, const uint8_t *key, uint32_t key_len,
	 const struct sl_ctl_record *rec, struct sl_agg_set *set)
{
	const struct metrics_opts *o = ctx->o;
	struct roll *ro = &ctx->roll;
	uint8_t buf[SL_METRICS_ROLL_KEY_MAX];
	struct roll_row *row;
	uint64_t hash = 0;
	size_t slot = 0;
	void *p;
	int rc;

	if (o->by) {
		key_len = roll_key(o, &rec->key, buf);
		key = buf;
		hash = sl_hash64(key, key_len, o->by_window ? rec->start_ns : 0);
		rc = roll_find(ro, o, key, key_len, hash, rec->start_ns, &slot);
		if (rc < 0)
			goto out;
		if (ro->slots[slot] != UINT32_MAX)
			return roll_merge(ro, &ro->rows[ro->slots[slot]], rec, set);
	} else if (o->limit > 0 && o->limit <= SL_METRICS_ROLL_MAX / 2 &&
		   ro->nrows >= 2 * o->limit && ro->nrows >= 1024) {
		/* --sort --limit N without --by: rows past the first N can go. */
		roll_sort(ro, o);
	}
	if (ro->nrows >= SL_METRICS_ROLL_MAX) {
		rc = -E2BIG;
		goto out;
	}
	if (ro->nrows == ro->rows_cap) {
		size_t cap = ro->rows_cap ? ro->rows_cap * 2 : 1024;

		p = realloc(ro->rows, cap * sizeof(*ro->rows));
		if (p == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		ro->rows = p;
		ro->rows_cap = cap;
	}
	row = &ro->rows[ro->nrows];
	*row = (struct roll_row){
		.hash = hash,
		.start_ns = rec->start_ns,
		.end_ns = rec->end_ns,
		.seq = ctx->matched,
		.st = rec->st,
		.distinct = rec->distinct,
		.distinct_exact = rec->distinct_exact,
		.key_len = key_len,
		.key = malloc(key_len),
	};
	if (row->key == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(row->key, key, key_len);
	if (o->by)
		ro->slots[slot] = (uint32_t)ro->nrows;
	ro->nrows++;
	if (set == NULL)
		return 0;
	row->set = set;
	ro->set_bytes += set_bytes(set);
	return ro->set_bytes > SL_METRICS_SET_BYTES_MAX ? -EFBIG : 0;
out:
	sl_agg_set_destroy(set);
	return rc;
}

/** Count the merged sets (and free them), then sort and cut to --limit. */
static void
roll_finish(struct roll *ro, const struct metrics_opts *o)
{
	for (size_t i = 0; i < ro->nrows; i++) {
		struct roll_row *r = &ro->rows[i];

		if (r->set == NULL)
			continue;
		r->distinct = sl_agg_set_count(r->set);
		r->distinct_exact = sl_agg_set_is_exact(r->set);
		sl_agg_set_destroy(r->set);
		r->set = NULL;
	}
	ro->set_bytes = 0;
	roll_sort(ro, o);
}

/** A row as a record for metrics_json_rec() and tab_rec(); spans point into the row. */
static void
row_rec(const struct roll_row *r, struct sl_ctl_record *rec)
{
	rec->start_ns = r->start_ns;
	rec->end_ns = r->end_ns;
	sl_agg_key_decode(r->key, r->key_len, &rec->key);
	rec->st = r->st;
	rec->distinct = r->distinct;
	rec->distinct_exact = r->distinct_exact;
}

/* ---- scan ---- */

static int
metrics_visit(uint32_t view, uint64_t start_ns, uint64_t end_ns, const uint8_t *key,
	      uint32_t key_len, const uint8_t *val, uint32_t val_len, void *arg)
{
	struct metrics_ctx *ctx = arg;
	const struct metrics_opts *o = ctx->o;
	struct sl_ctl_record rec = { .start_ns = start_ns, .end_ns = end_ns };
	struct sl_agg_set *set = NULL;
	int rc;

	(void)view;
	/* Only --by needs the members of a set: to union them. */
	rc = sl_ctl_record_decode(&o->nf, key, key_len, val, val_len, &rec, o->by ? &set : NULL);
	if (rc == -EINVAL) {
		ctx->skipped++;
		return 0;
	}
	if (rc <= 0)
		goto out;

	rc = 0;
	if (o->summary)
		rc = summary_rec(ctx, key, key_len, &rec);
	else if (o->buffered)
		rc = roll_add(ctx, key, key_len, &rec, set);
	else if (o->json)
		metrics_json_rec(ctx->json, ctx->matched == 0, o, &rec);
	else if (ctx->tab.nrows < SL_METRICS_ROWS_MAX)
		rc = tab_rec(&ctx->tab, o, &rec);
	else
		ctx->more++;
	ctx->matched++;
	/* Without --by and --sort, the first --limit records are the answer. */
	if (rc == 0 && !o->buffered && o->limit > 0 && ctx->matched >= o->limit)
		return 1;
out:
	if (rc < 0) {
		ctx->err = rc;
		return 1;
	}
	return 0;
}

static int
metrics_run(const struct metrics_opts *o)
{
	struct metrics_ctx ctx = { .o = o };
	struct sl_store *store = NULL;
	struct tab_layout lay;
	char *json_buf = NULL;
	size_t json_len = 0;
	int rc, ret = SL_EXIT_RUNTIME;

	tab_layout_init(&lay, o);
	sl_tab_init(&ctx.tab, lay.ncols, lay.hdr, lay.align);
	if (o->json && !o->summary && !o->buffered) {
		ctx.json = open_memstream(&json_buf, &json_len);
		if (ctx.json == NULL) {
			sl_ctl_err("out of memory");
			goto out;
		}
		fputc('[', ctx.json);
	}

	rc = sl_store_open(o->db, 0, SL_STORE_RDONLY, &store);
	if (rc < 0) {
		const char *hint = "";

		if (rc == -ENOENT)
			hint = " (no store there; see --db or $" SL_METRICS_DB_ENV ")";
		else if (rc == -EPROTO)
			hint = " (schema version mismatch: written by another sluice version)";
		sl_ctl_err("cannot open db %s: %s%s", o->db, strerror(-rc), hint);
		goto out;
	}
	rc = sl_store_scan(store, SL_METRICS_VIEW, o->from_ns, o->to_ns, metrics_visit, &ctx);
	sl_store_close(store);
	if (ctx.err < 0)
		rc = ctx.err;
	if (rc == -E2BIG) {
		const char *hint = ", or add --limit";

		if (o->by)
			hint = ", or roll up by fewer tags";
		else if (o->limit > 0)
			hint = ", or lower --limit";
		sl_ctl_err("more than %d rows %s; narrow with --from/--to/--name%s",
			   SL_METRICS_ROLL_MAX, o->by ? "after roll-up" : "to sort", hint);
		goto out;
	}
	if (rc == -EFBIG) {
		sl_ctl_err("the merged distinct sets need more than %llu MiB; narrow with "
			   "--from/--to/--name, or roll up by fewer tags",
			   SL_METRICS_SET_BYTES_MAX >> 20);
		goto out;
	}
	if (rc < 0) {
		sl_ctl_err("cannot read db %s: %s", o->db, strerror(-rc));
		goto out;
	}
	if (ctx.skipped > 0)
		sl_ctl_err("warning: skipped %" PRIu64 " malformed record%s in %s", ctx.skipped,
			   ctx.skipped == 1 ? "" : "s", o->db);
	if (o->buffered)
		roll_finish(&ctx.roll, o);

	if (o->buffered && o->json) {
		struct sl_ctl_record rec;

		fputc('[', stdout);
		for (size_t i = 0; i < ctx.roll.nrows; i++) {
			row_rec(&ctx.roll.rows[i], &rec);
			metrics_json_rec(stdout, i == 0, o, &rec);
		}
		fputs("]\n", stdout);
		ret = SL_EXIT_OK;
		goto out;
	}
	if (ctx.json != NULL) {
		fputs("]\n", ctx.json);
		if (fclose(ctx.json) != 0) {
			ctx.json = NULL;
			sl_ctl_err("out of memory");
			goto out;
		}
		ctx.json = NULL;
		fwrite(json_buf, 1, json_len, stdout);
		ret = SL_EXIT_OK;
		goto out;
	}
	if (ctx.matched == 0) {
		fflush(stdout);
		fprintf(stderr, "no windows in %s for that range%s%s%s\n", o->db,
			o->name ? " and name '" : "", o->name ? o->name : "", o->name ? "'" : "");
		ret = SL_EXIT_OK;
		goto out;
	}
	if (o->summary) {
		rc = summary_print(&ctx);
	} else {
		rc = 0;
		for (size_t i = 0; i < ctx.roll.nrows && rc == 0; i++) {
			struct sl_ctl_record rec;

			if (ctx.tab.nrows == SL_METRICS_ROWS_MAX) {
				ctx.more = ctx.roll.nrows - i;
				break;
			}
			row_rec(&ctx.roll.rows[i], &rec);
			rc = tab_rec(&ctx.tab, o, &rec);
		}
		if (rc == 0)
			sl_tab_print(&ctx.tab, stdout, "");
		if (rc == 0 && ctx.more > 0)
			printf("... %" PRIu64 " more rows (narrow with --from/--to/--name or "
			       "--limit, or use --json)\n",
			       ctx.more);
	}
	if (rc < 0)
		sl_ctl_err("out of memory");
	else
		ret = SL_EXIT_OK;
out:
	if (ctx.json != NULL)
		fclose(ctx.json);
	free(json_buf);
	sl_tab_fini(&ctx.tab);
	keyset_fini(&ctx.groups);
	roll_fini(&ctx.roll);
	return ret;
}

/* ---- command ---- */

static int
time_opt(const struct sl_cmd *cmd, const char *opt, const char *arg, uint64_t *ret_ns)
{
	/* The query's time syntax (query.h): also "now" and "-15m". */
	int rc = sl_query_time_parse(arg, sl_query_now_ns(), ret_ns);

	if (rc == -ERANGE)
		return sl_ctl_usage_err(cmd, "%s '%s': out of range", opt, arg);
	if (rc < 0)
		return sl_ctl_usage_err(cmd,
					"%s '%s': expected unix seconds, unix ns, RFC 3339 "
					"(2026-01-01T00:00:10Z), now or -DURATION",
					opt, arg);
	return SL_EXIT_OK;
}

/** One name of --by, at @p p (@p len bytes) in @p arg. */
static int
by_name(const struct sl_cmd *cmd, const char *arg, const char *p, size_t len,
	struct metrics_opts *o)
{
	if (len == 0)
		return sl_ctl_usage_err(cmd, "--by '%s': empty tag name", arg);
	if (len == strlen("window") && memcmp(p, "window", len) == 0) {
		if (o->by_window)
			return sl_ctl_usage_err(cmd, "--by '%s': 'window' given twice", arg);
		o->by_window = true;
		return SL_EXIT_OK;
	}
	if (memchr(p, ':', len) != NULL)
		return sl_ctl_usage_err(cmd, "--by '%s': a tag name cannot contain ':'", arg);
	if (len > SL_TAG_MAX)
		return sl_ctl_usage_err(cmd, "--by '%s': tag name longer than %d bytes", arg,
					SL_TAG_MAX);
	for (unsigned int i = 0; i < o->n_by; i++) {
		if (o->by_tag_len[i] == len && memcmp(o->by_tag[i], p, len) == 0)
			return sl_ctl_usage_err(cmd, "--by '%s': '%.*s' given twice", arg,
						(int)len, p);
	}
	if (o->n_by == SL_METRICS_BY_MAX)
		return sl_ctl_usage_err(cmd, "--by '%s': at most %d tags", arg,
					SL_METRICS_BY_MAX);
	o->by_tag[o->n_by] = p;
	o->by_tag_len[o->n_by] = len;
	o->n_by++;
	return SL_EXIT_OK;
}

/** --by TAG[,TAG...]: tag names, and "window" to keep windows apart. */
static int
by_opt(const struct sl_cmd *cmd, const char *arg, struct metrics_opts *o)
{
	const char *p = arg;
	size_t len;
	int rc;

	o->by = true;
	o->by_window = false;
	o->n_by = 0;
	for (;;) {
		len = strcspn(p, ",");
		rc = by_name(cmd, arg, p, len, o);
		if (rc != SL_EXIT_OK)
			return rc;
		p += len;
		if (*p == '\0')
			return SL_EXIT_OK;
		p++;
	}
}

static int
sort_opt(const struct sl_cmd *cmd, const char *arg, struct metrics_opts *o)
{
	static const char *const names[] = {
		[SORT_COUNT] = "count",
		[SORT_SUM] = "sum",
		[SORT_AVG] = "avg",
		[SORT_DISTINCT] = "distinct",
	};

	for (unsigned int i = SORT_COUNT; i <= SORT_DISTINCT; i++) {
		if (strcmp(arg, names[i]) == 0) {
			o->sort = (enum metrics_sort)i;
			return SL_EXIT_OK;
		}
	}
	return sl_ctl_usage_err(cmd, "--sort '%s': expected count, sum, avg or distinct", arg);
}

static int
limit_opt(const struct sl_cmd *cmd, const char *arg, struct metrics_opts *o)
{
	char *end;

	errno = 0;
	o->limit = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || o->limit == 0)
		return sl_ctl_usage_err(cmd, "--limit '%s': expected a positive integer", arg);
	return SL_EXIT_OK;
}

static int
cmd_metrics(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "summary", no_argument, NULL, 's' },
		{ "by", required_argument, NULL, 'b' },
		{ "sort", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct metrics_opts o = {
		.db = getenv(SL_METRICS_DB_ENV),
		.to_ns = UINT64_MAX,
		.json = json,
	};
	int c, rc;

	if (o.db == NULL || o.db[0] == '\0')
		o.db = SL_METRICS_DB_DEFAULT;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:f:t:n:b:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.db = optarg;
			break;
		case 'f':
			rc = time_opt(cmd, "--from", optarg, &o.from_ns);
			if (rc != SL_EXIT_OK)
				return rc;
			break;
		case 't':
			rc = time_opt(cmd, "--to", optarg, &o.to_ns);
			if (rc != SL_EXIT_OK)
				return rc;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 's':
			o.summary = true;
			break;
		case 'b':
			rc = by_opt(cmd, optarg, &o);
			if (rc != SL_EXIT_OK)
				return rc;
			break;
		case 'S':
			rc = sort_opt(cmd, optarg, &o);
			if (rc != SL_EXIT_OK)
				return rc;
			break;
		case 'l':
			rc = limit_opt(cmd, optarg, &o);
			if (rc != SL_EXIT_OK)
				return rc;
			break;
		case 'h':
			return sl_ctl_cmd_help(cmd);
		default:
			return sl_ctl_opt_err(cmd, c, argv);
		}
	}
	if (optind < argc)
		return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[optind]);
	if (o.db[0] == '\0')
		return sl_ctl_usage_err(cmd, "empty --db");
	if (o.from_ns >= o.to_ns)
		return sl_ctl_usage_err(cmd, "empty range: --from must be before --to");
	if (o.summary && (o.by || o.sort != SORT_NONE || o.limit > 0))
		return sl_ctl_usage_err(cmd, "--summary does not go with --by, --sort or --limit");
	o.buffered = o.by || o.sort != SORT_NONE;
	sl_ctl_name_filter_init(&o.nf, o.name);
	if (o.name != NULL && o.nf.len == 0 && !o.nf.prefix)
		return sl_ctl_usage_err(cmd, "empty --name");
	return metrics_run(&o);
}

const struct sl_cmd sl_cmd_metrics = {
	.name = "metrics",
	.usage = "metrics [--db DIR] [--from T] [--to T] [--name N] [--by TAGS] [--sort F] "
		 "[--limit N] [--json] [--summary]",
	.help = "Print closed windows from the store (opened read-only: safe while sluiced\n"
		"runs), one row per window and group, in window order.\n"
		"\n"
		"  -d, --db DIR   store directory (default $" SL_METRICS_DB_ENV
		", else " SL_METRICS_DB_DEFAULT ")\n"
		"  -f, --from T   only windows starting at or after T (default: all)\n"
		"  -t, --to T     only windows starting before T (default: all)\n"
		"  -n, --name N   only metric N; a trailing '*' makes it a prefix (\"retail.*\")\n"
		"  -b, --by TAGS  roll up: one row per name, type and value of each tag in the\n"
		"                 comma-separated TAGS (at most " SL_METRICS_STR(SL_METRICS_BY_MAX)
		"), merging the states of every\n"
		"                 window in range and every group. A group without a tag has\n"
		"                 the value \"\" (shown as \"-\"). The word \"window\" among TAGS\n"
		"                 keeps windows apart: \"--by window\" alone gives per-window\n"
		"                 totals of each name and type. Rows show the span of the\n"
		"                 merged windows and the tag values, sorted by (window,) name,\n"
		"                 type, then tag values\n"
		"  --sort FIELD   order rows by count, sum, avg or distinct, largest first\n"
		"                 (rows without the field last)\n"
		"  -l, --limit N  print the first N rows only (after --by and --sort)\n"
		"  --summary      per metric type: groups, windows, records and samples\n"
		"  --json         one JSON array of records (with --summary: one object); with\n"
		"                 --by, window_start/window_end span the merged windows and\n"
		"                 \"tags\" holds the --by tags only\n"
		"  -h, --help     show this help\n"
		"\n"
		"The 10 stores with the highest revenue in January:\n"
		"  sluicectl metrics --from 2026-01-01 --to 2026-02-01 --name retail.basket \\\n"
		"      --by store --sort sum --limit 10\n"
		"\n"
		"T is unix seconds (\"1767225600\", \"1767225600.5\"), unix nanoseconds (an\n"
		"integer of 13 digits or more, or with an \"ns\" suffix), or RFC 3339\n"
		"(\"2026-01-01T00:00:10Z\", \"2026-01-01T01:00:10+01:00\", \"2026-01-01\"), \"now\",\n"
		"or a duration before now (\"-15m\"), as in 'sluicectl query'.\n",
	.handler = cmd_metrics,
};
