/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Rules: the configuration's patterns compiled into Hyperscan block-mode
 * databases, one per (target, utf8) pair, and applied to events. See rules.h
 * for the semantics and the threading; docs/rules.md for the user's view.
 *
 * Layout of a compiled set: dbs[] holds the raw databases first, then the
 * event-name ones, then the field ones sorted by field name (and, within a
 * name, the non-utf8 one first). Applying walks the event's fields (at most
 * SL_EVENT_FIELDS_MAX) and finds each one's databases by binary search, so
 * the cost per event does not grow with the number of distinct targets.
 */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs.h>

#include "rules.h"
#include "view.h"

/** Longest pattern quoted in an error message. */
#define PATTERN_QUOTE_MAX 64

enum target_kind {
	TARGET_RAW,
	TARGET_EVENT, /* "event": the event name */
	TARGET_FIELD,
};

struct rules_db {
	hs_database_t *db;
	enum target_kind kind;
	char *field;        /* TARGET_FIELD: the field name, owned */
	uint32_t field_len;
	bool utf8;          /* its patterns have HS_FLAG_UTF8: scan valid UTF-8 only */
	uint32_t n_rules;
};

struct rule {
	char *id;         /* owned */
	uint64_t tag_bit; /* action tag: 1 << tag index; else 0 */
	bool drop;
};

struct sl_rules {
	uint32_t n_rules;
	struct rule *rules;
	uint32_t max_matches;
	uint32_t n_dbs;
	struct rules_db *dbs;
	uint32_t raw_end;   /* dbs[0, raw_end): raw */
	uint32_t event_end; /* dbs[raw_end, event_end): event name; the rest: fields */
};

struct sl_rules_scratch {
	hs_scratch_t *hs; /* NULL when there is no database */
};

/* Hyperscan flags of a rule. SINGLEMATCH always: the per-event dedupe (rules.h). */
static unsigned int
hs_flags(uint32_t flags)
{
	static const unsigned int map[] = {
		[SL_CONFIG_RULE_FLAG_CASELESS] = HS_FLAG_CASELESS,
		[SL_CONFIG_RULE_FLAG_DOTALL] = HS_FLAG_DOTALL,
		[SL_CONFIG_RULE_FLAG_MULTILINE] = HS_FLAG_MULTILINE,
		[SL_CONFIG_RULE_FLAG_SINGLEMATCH] = HS_FLAG_SINGLEMATCH,
		[SL_CONFIG_RULE_FLAG_UTF8] = HS_FLAG_UTF8,
		[SL_CONFIG_RULE_FLAG_UCP] = HS_FLAG_UCP,
	};
	unsigned int f = HS_FLAG_SINGLEMATCH;

	for (unsigned int i = 0; i < SL_CONFIG_RULE_FLAG__MAX; i++) {
		if (flags & (1u << i))
			f |= map[i];
	}
	return f;
}

/* The error message for the caller, when it wants one (@p err may be NULL). */
__attribute__((format(printf, 3, 4))) static void
seterr(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

int
sl_rules_pattern_check(const char *pattern, uint32_t flags, char *err, size_t errcap)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *cerr = NULL;
	hs_error_t rc;
	int ret = 0;

	if (hs_valid_platform() != HS_SUCCESS) {
		seterr(err, errcap, "Hyperscan: this CPU lacks SSSE3");
		return -ENOTSUP;
	}
	rc = hs_expression_info(pattern, hs_flags(flags), &info, &cerr);
	if (rc == HS_NOMEM)
		return -ENOMEM;
	if (rc != HS_SUCCESS) {
		seterr(err, errcap, "Hyperscan: %s", cerr ? cerr->message : "?");
		ret = -EINVAL;
	} else if (info->min_width == 0) {
		/* hs_compile*() would refuse it without HS_FLAG_ALLOWEMPTY, or never report it. */
		seterr(err, errcap, "it can match an empty string (it would match every event)");
		ret = -EINVAL;
	}
	free(info); /* the default misc allocator is malloc() */
	hs_free_compile_error(cerr);
	return ret;
}

/* ---- compile ---- */

struct sort_item {
	const struct sl_config_rule *r;
	uint32_t index;
	enum target_kind kind;
	bool utf8;
};

static enum target_kind
rule_target(const struct sl_config_rule *r)
{
	if (r->on_raw)
		return TARGET_RAW;
	return strcmp(r->on, "event") == 0 ? TARGET_EVENT : TARGET_FIELD;
}

/* Order of dbs[]: kind, then field name (bytes), then utf8, then rule index (stable). */
static int
item_cmp(const void *pa, const void *pb)
{
	const struct sort_item *a = pa, *b = pb;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == TARGET_FIELD && (c = strcmp(a->r->on, b->r->on)) != 0)
		return c;
	if (a->utf8 != b->utf8)
		return a->utf8 ? 1 : -1;
	return (a->index > b->index) - (a->index < b->index);
}

static bool
same_db(const struct sort_item *a, const struct sort_item *b)
{
	return a->kind == b->kind && a->utf8 == b->utf8 &&
	       (a->kind != TARGET_FIELD || strcmp(a->r->on, b->r->on) == 0);
}

/* "rule 'x' (pattern 'abc...'): Hyperscan: message" */
static void
compile_error(const struct sl_config_rule *r, const char *msg, char *err, size_t cap)
{
	char pat[PATTERN_QUOTE_MAX + 4];
	size_t len = strlen(r->pattern);

	if (len > PATTERN_QUOTE_MAX) {
		memcpy(pat, r->pattern, PATTERN_QUOTE_MAX);
		memcpy(pat + PATTERN_QUOTE_MAX, "...", 4);
	} else {
		memcpy(pat, r->pattern, len + 1);
	}
	seterr(err, cap, "rule '%s' (pattern '%s'): Hyperscan: %s", r->id, pat, msg);
}

/* Compile the rules items[0, n) (one target) into @p d. */
static int
db_compile(const struct sort_item *items, uint32_t n, struct rules_db *d, char *err, size_t cap)
{
	const char **exprs = calloc(n, sizeof(*exprs));
	unsigned int *flags = calloc(n, sizeof(*flags)), *ids = calloc(n, sizeof(*ids));
	hs_compile_error_t *cerr = NULL;
	hs_error_t hrc;
	int rc = -ENOMEM;

	if (exprs == NULL || flags == NULL || ids == NULL)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		exprs[i] = items[i].r->pattern;
		flags[i] = hs_flags(items[i].r->flags);
		ids[i] = items[i].index;
	}
	hrc = hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &d->db, &cerr);
	if (hrc == HS_SUCCESS) {
		rc = 0;
	} else if (hrc == HS_NOMEM) {
		seterr(err, cap, "Hyperscan: out of memory");
	} else if (cerr != NULL && cerr->expression >= 0 && (uint32_t)cerr->expression < n) {
		compile_error(items[cerr->expression].r, cerr->message, err, cap);
		rc = -EINVAL;
	} else {
		/* Not one expression's fault (a database too large, say). */
		seterr(err, cap, "rules on '%s': Hyperscan: %s",
		       items[0].kind == TARGET_RAW ? "raw" : items[0].r->on,
		       cerr != NULL ? cerr->message : "compile failed");
		rc = -EINVAL;
	}
	d->n_rules = n;
out:
	hs_free_compile_error(cerr);
	free(exprs);
	free(flags);
	free(ids);
	return rc;
}

int
sl_rules_compile(const struct sl_config *cfg, struct sl_rules **ret, char *err, size_t errcap)
{
	struct sort_item *items = NULL;
	struct sl_rules *r;
	uint32_t n = cfg->n_rules;
	int rc = -ENOMEM;

	if (err != NULL && errcap > 0)
		err[0] = '\0';
	if (hs_valid_platform() != HS_SUCCESS) {
		seterr(err, errcap, "Hyperscan: this CPU lacks SSSE3");
		return -ENOTSUP;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->max_matches = cfg->limits.max_matches_per_event;
	if (r->max_matches == 0)
		r->max_matches = SL_CONFIG_DEFAULT_MAX_MATCHES;
	r->rules = calloc(n ? n : 1, sizeof(*r->rules));
	items = calloc(n ? n : 1, sizeof(*items));
	if (r->rules == NULL || items == NULL)
		goto err;
	for (uint32_t i = 0; i < n; i++) {
		const struct sl_config_rule *cr = &cfg->rules[i];

		rc = -EINVAL;
		if (cr->id == NULL || cr->pattern == NULL || cr->on == NULL ||
		    cr->action >= SL_CONFIG_RULE__MAX ||
		    (cr->action == SL_CONFIG_RULE_TAG && cr->tag_index >= SL_CONFIG_TAGS_MAX)) {
			seterr(err, errcap, "rule %s%s%s: malformed (not from the loader)",
			       cr->id ? "'" : "", cr->id ? cr->id : "", cr->id ? "'" : "");
			goto err;
		}
		rc = -ENOMEM;
		r->rules[i].id = strdup(cr->id);
		if (r->rules[i].id == NULL)
			goto err;
		r->n_rules++;
		r->rules[i].drop = cr->action == SL_CONFIG_RULE_DROP;
		if (cr->action == SL_CONFIG_RULE_TAG)
			r->rules[i].tag_bit = 1ULL << cr->tag_index;
		items[i] = (struct sort_item){
			cr, i, rule_target(cr), (cr->flags & (1u << SL_CONFIG_RULE_FLAG_UTF8)) != 0,
		};
	}
	qsort(items, n, sizeof(*items), item_cmp);

	/* One database per run of items with the same target. */
	for (uint32_t i = 0; i < n; i++)
		r->n_dbs += i == 0 || !same_db(&items[i - 1], &items[i]);
	r->dbs = calloc(r->n_dbs ? r->n_dbs : 1, sizeof(*r->dbs));
	if (r->dbs == NULL) {
		r->n_dbs = 0; /* for sl_rules_free() */
		goto err;
	}
	for (uint32_t i = 0, d = 0; i < n; d++) {
		struct rules_db *db = &r->dbs[d];
		uint32_t j = i + 1;

		while (j < n && same_db(&items[i], &items[j]))
			j++;
		db->kind = items[i].kind;
		db->utf8 = items[i].utf8;
		if (db->kind == TARGET_RAW)
			r->raw_end = d + 1;
		if (db->kind != TARGET_FIELD)
			r->event_end = d + 1;
		if (db->kind == TARGET_FIELD) {
			db->field = strdup(items[i].r->on);
			if (db->field == NULL) {
				rc = -ENOMEM;
				goto err;
			}
			db->field_len = (uint32_t)strlen(db->field);
		}
		rc = db_compile(items + i, j - i, db, err, errcap);
		if (rc != 0)
			goto err;
		i = j;
	}
	if (r->event_end < r->raw_end)
		r->event_end = r->raw_end;
	free(items);
	*ret = r;
	return 0;
err:
	if (rc == -ENOMEM && err != NULL && errcap > 0 && err[0] == '\0')
		seterr(err, errcap, "out of memory");
	free(items);
	sl_rules_free(r);
	return rc;
}

void
sl_rules_free(struct sl_rules *r)
{
	if (r == NULL)
		return;
	for (uint32_t i = 0; i < r->n_dbs; i++) {
		hs_free_database(r->dbs[i].db);
		free(r->dbs[i].field);
	}
	for (uint32_t i = 0; i < r->n_rules; i++)
		free(r->rules[i].id);
	free(r->dbs);
	free(r->rules);
	free(r);
}

uint32_t
sl_rules_count(const struct sl_rules *r)
{
	return r->n_rules;
}

const char *
sl_rules_id(const struct sl_rules *r, uint32_t i)
{
	return i < r->n_rules ? r->rules[i].id : NULL;
}

size_t
sl_rules_memsize(const struct sl_rules *r)
{
	size_t total = 0, sz;

	for (uint32_t i = 0; i < r->n_dbs; i++) {
		if (hs_database_size(r->dbs[i].db, &sz) == HS_SUCCESS)
			total += sz;
	}
	return total;
}

/* ---- scratch ---- */

int
sl_rules_scratch_alloc(const struct sl_rules *r, struct sl_rules_scratch **ret)
{
	struct sl_rules_scratch *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	/* One scratch big enough for every database: hs_alloc_scratch() grows it. */
	for (uint32_t i = 0; i < r->n_dbs; i++) {
		hs_error_t hrc = hs_alloc_scratch(r->dbs[i].db, &s->hs);

		if (hrc != HS_SUCCESS) {
			sl_rules_scratch_free(s);
			return hrc == HS_NOMEM ? -ENOMEM : -EINVAL;
		}
	}
	*ret = s;
	return 0;
}

void
sl_rules_scratch_free(struct sl_rules_scratch *s)
{
	if (s == NULL)
		return;
	hs_free_scratch(s->hs);
	free(s);
}

/* ---- apply (per event: no allocation, no lock) ---- */

struct match_ctx {
	const struct sl_rules *r;
	uint64_t *hits;
	struct sl_rules_result *res;
};

/*
 * Hyperscan's match callback. SINGLEMATCH: called at most once per rule and
 * scan, and a rule is in one database only, so at most once per event.
 * Returning non-zero stops the scan (HS_SCAN_TERMINATED).
 */
static int
on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
	 void *arg)
{
	struct match_ctx *c = arg;
	const struct rule *rule = &c->r->rules[id];

	(void)from;
	(void)to;
	(void)flags;
	if (c->res->matches == c->r->max_matches) {
		c->res->capped = true;
		return 1;
	}
	c->res->matches++;
	c->hits[id]++;
	c->res->tags |= rule->tag_bit;
	c->res->drop |= rule->drop;
	return 0;
}

/* Scan @p data with dbs[from, to). @return false when the scan was stopped (capped). */
static bool
scan(const struct sl_rules *r, struct sl_rules_scratch *s, uint32_t from, uint32_t to,
     const uint8_t *data, uint32_t len, struct match_ctx *c)
{
	bool utf8_checked = false, utf8_ok = false;

	/* No pattern matches an empty string (the loader rejects those). */
	if (len == 0)
		return true;
	for (uint32_t i = from; i < to; i++) {
		const struct rules_db *d = &r->dbs[i];
		hs_error_t hrc;

		if (d->utf8) {
			if (!utf8_checked) {
				utf8_ok = sl_utf8_valid(data, len);
				utf8_checked = true;
			}
			if (!utf8_ok)
				continue;
		}
		hrc = hs_scan(d->db, (const char *)data, len, 0, s->hs, on_match, c);
		if (hrc == HS_SCAN_TERMINATED)
			return false;
		/* Anything else is a programming error: another rule set's scratch, or in use. */
		assert(hrc == HS_SUCCESS);
	}
	return true;
}

/* dbs[*from, *to) of field @p key: binary search in the sorted field databases. */
static bool
field_dbs(const struct sl_rules *r, struct sl_span key, uint32_t *from, uint32_t *to)
{
	uint32_t lo = r->event_end, hi = r->n_dbs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct rules_db *d = &r->dbs[mid];
		uint32_t n = d->field_len < key.len ? d->field_len : key.len;
		int c = n ? memcmp(d->field, key.p, n) : 0;

		if (c == 0)
			c = (d->field_len > key.len) - (d->field_len < key.len);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->n_dbs || r->dbs[lo].field_len != key.len ||
	    (key.len && memcmp(r->dbs[lo].field, key.p, key.len) != 0))
		return false;
	*from = lo;
	*to = lo + 1;
	if (*to < r->n_dbs && r->dbs[*to].field_len == key.len &&
	    (key.len == 0 || memcmp(r->dbs[*to].field, key.p, key.len) == 0))
		(*to)++;
	return true;
}

void
sl_rules_apply(const struct sl_rules *r, struct sl_rules_scratch *s, const struct sl_event *ev,
	       const uint8_t *raw, uint32_t raw_len, uint64_t *hits, struct sl_rules_result *res)
{
	struct match_ctx c = { r, hits, res };
	char buf[SL_VIEW_TEXT_MAX];
	struct sl_span text;
	uint32_t from, to;

	*res = (struct sl_rules_result){ 0 };
	if (raw != NULL && !scan(r, s, 0, r->raw_end, raw, raw_len, &c))
		return;
	if (ev == NULL)
		return;
	if (!scan(r, s, r->raw_end, r->event_end, ev->name.p, ev->name.len, &c))
		return;
	if (r->event_end == r->n_dbs)
		return;
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		if (!field_dbs(r, f->key, &from, &to))
			continue;
		sl_view_field_text(f, buf, &text);
		if (!scan(r, s, from, to, text.p, text.len, &c))
			return;
	}
}
