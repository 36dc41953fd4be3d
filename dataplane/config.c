/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * The YAML configuration file: load (libyaml's document API), validate,
 * compile into the plain structs of config.h, dump back as canonical YAML.
 *
 * libyaml resolves no types: every scalar is a string with a style (plain,
 * quoted...). This file decides: numbers and booleans must be plain scalars,
 * a plain "", "~" or "null" is an empty value, strings may be any style.
 * libyaml does not reject duplicate mapping keys either; check_fields() does.
 *
 * Every list of the schema has a maximum that is checked before its items are
 * walked, so a file of aliases to aliases cannot make the walk explode.
 *
 * Memory: everything a loaded config points to comes from one arena that the
 * config owns; a failed load frees the arena and leaves nothing behind.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include <sluice/common.h>

#include "config.h"
#include "rules.h"

#define NS_MS (1000ULL * 1000)
#define NS_S SL_NS_PER_SEC
#define NS_H (3600ULL * NS_S)
#define NS_D (86400ULL * NS_S)

#define WINDOW_MIN_NS NS_MS
#define WINDOW_MAX_NS NS_D
#define LATENESS_MAX_NS NS_D
#define RETENTION_MAX_NS (3650ULL * NS_D)
/** Room for node_desc(): "a quoted string '" + 43 bytes + "'". */
#define SL_DESC_MAX 96

/* ---- names ---- */

static const char *const format_names[] = {
#define _(e, s) s,
	SL_CONFIG_FORMATS(_)
#undef _
};

static const char *const time_names[] = {
#define _(e, s) s,
	SL_CONFIG_TIMES(_)
#undef _
};

static const char *const action_names[] = {
#define _(e, s) s,
	SL_CONFIG_RULE_ACTIONS(_)
#undef _
};

static const char *const flag_names[] = {
#define _(e, s) s,
	SL_CONFIG_RULE_FLAGS(_)
#undef _
};

static const struct {
	const char *name;
	int args;
} agg_defs[] = {
#define _(e, s, a) { s, a },
	SL_CONFIG_AGGS(_)
#undef _
};

const char *
sl_config_format_name(unsigned int format)
{
	return format < SL_CONFIG_FORMAT__MAX ? format_names[format] : "?";
}

const char *
sl_config_agg_name(unsigned int kind)
{
	return kind < SL_CONFIG_AGG__MAX ? agg_defs[kind].name : "?";
}

const char *
sl_config_time_name(unsigned int time)
{
	return time < SL_CONFIG_TIME__MAX ? time_names[time] : "?";
}

const char *
sl_config_rule_action_name(unsigned int action)
{
	return action < SL_CONFIG_RULE__MAX ? action_names[action] : "?";
}

const char *
sl_config_rule_flag_name(unsigned int flag)
{
	return flag < SL_CONFIG_RULE_FLAG__MAX ? flag_names[flag] : "?";
}

int
sl_config_tag_index(const struct sl_config *cfg, const char *tag)
{
	if (cfg == NULL || tag == NULL)
		return -ENOENT;
	for (uint32_t i = 0; i < cfg->n_tags; i++) {
		if (strcmp(cfg->tags[i], tag) == 0)
			return (int)i;
	}
	return -ENOENT;
}

/* ---- durations ---- */

static const struct {
	const char *suffix;
	uint64_t mult;
} dur_units[] = {
	/* Largest first: sl_config_duration_fmt() picks the first exact one. */
	{ "d", NS_D }, { "h", NS_H }, { "m", 60 * NS_S }, { "s", NS_S },
	{ "ms", NS_MS }, { "us", 1000 }, { "ns", 1 },
};

int
sl_config_duration_parse(const char *s, uint64_t *ret_ns)
{
	unsigned __int128 whole = 0, frac = 0, scale = 1, ns;
	uint64_t mult = 0;
	unsigned int digits = 0, frac_digits = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		whole = whole * 10 + (unsigned int)(*p++ - '0');
		if (whole > UINT64_MAX)
			return -ERANGE;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			/* 18 digits keep frac * mult inside 128 bits. */
			if (++frac_digits > 18)
				return -EINVAL;
			frac = frac * 10 + (unsigned int)(*p++ - '0');
			scale *= 10;
			digits++;
		}
	}
	if (digits == 0)
		return -EINVAL;
	if (*p == '\0') {
		mult = NS_S;
	} else {
		for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
			if (strcmp(p, dur_units[i].suffix) == 0)
				mult = dur_units[i].mult;
		}
	}
	if (mult == 0)
		return -EINVAL;
	frac *= mult;
	if (frac % scale != 0)
		return -EINVAL; /* not a whole number of nanoseconds */
	ns = whole * mult + frac / scale;
	if (ns > UINT64_MAX)
		return -ERANGE;
	*ret_ns = (uint64_t)ns;
	return 0;
}

void
sl_config_duration_fmt(uint64_t ns, char *buf, size_t cap)
{
	if (ns == 0) {
		snprintf(buf, cap, "0");
		return;
	}
	for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
		if (ns % dur_units[i].mult == 0) {
			snprintf(buf, cap, "%" PRIu64 "%s", ns / dur_units[i].mult,
				 dur_units[i].suffix);
			return;
		}
	}
}

/* ---- arena ---- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	size_t cap;
	max_align_t data[];
};

struct arena {
	struct arena_chunk *head;
};

#define ARENA_CHUNK 4096

/** Zeroed, max-aligned memory that lives until arena_destroy(). NULL when out of memory. */
static void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t align = sizeof(max_align_t);
	void *p;

	n = (n + align - 1) / align * align;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = calloc(1, sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);

	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

static void
arena_destroy(struct arena *a)
{
	struct arena_chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void
sl_config_free(struct sl_config *cfg)
{
	/* The config itself lives in its arena. */
	if (cfg != NULL)
		arena_destroy(cfg->arena);
}

/* ---- errors ---- */

struct loader {
	yaml_document_t doc;
	struct arena *arena;
	struct sl_config *cfg;
	struct sl_config_error *err;
	const char **tags; /* cfg->tags, writable while loading */
};

static void
err_set(struct sl_config_error *err, unsigned int line, unsigned int column, const char *fmt,
	va_list ap)
{
	if (err == NULL)
		return;
	err->line = line;
	err->column = column;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

/** Record an error at @p n (NULL: no position). @return -EINVAL. */
__attribute__((format(printf, 3, 4))) static int
fail(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (n != NULL)
		err_set(ld->err, (unsigned int)n->start_mark.line + 1,
			(unsigned int)n->start_mark.column + 1, fmt, ap);
	else
		err_set(ld->err, 0, 0, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

__attribute__((format(printf, 2, 3))) static int
fail_nopos(struct sl_config_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_set(err, 0, 0, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
fail_nomem(struct loader *ld)
{
	fail(ld, NULL, "out of memory");
	return -ENOMEM;
}

void
sl_config_error_print(const struct sl_config_error *err, FILE *f)
{
	if (err->line > 0)
		fprintf(f, "%s:%u:%u: %s\n", err->file, err->line, err->column, err->msg);
	else
		fprintf(f, "%s: %s\n", err->file, err->msg);
}

/* ---- YAML nodes ---- */

/** A user string made safe to quote in a message: at most 40 bytes, no control bytes. */
struct shortstr {
	char s[48];
};

static struct shortstr
shorten(const char *s)
{
	struct shortstr r;
	size_t i;

	for (i = 0; s[i] != '\0' && i < 40; i++)
		r.s[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i] != '\0') {
		memcpy(&r.s[i], "...", 3);
		i += 3;
	}
	r.s[i] = '\0';
	return r;
}

static const char *
scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool
is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/** A plain "", "~" or "null": YAML's empty value. */
static bool
is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!is_plain(n))
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		if (strcmp(scalar(n), nulls[i]) == 0)
			return true;
	}
	return false;
}

/** What a node is, for "expected X, got Y" messages. */
static const char *
node_desc(const yaml_node_t *n, char *buf, size_t cap)
{
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (is_null(n))
		return "nothing";
	snprintf(buf, cap, "%s'%s'", is_plain(n) ? "" : "a quoted string ", shorten(scalar(n)).s);
	return buf;
}

static yaml_node_t *
node_get(struct loader *ld, yaml_node_item_t id)
{
	return yaml_document_get_node(&ld->doc, id);
}

static unsigned int
seq_len(const yaml_node_t *n)
{
	return (unsigned int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *
seq_item(struct loader *ld, const yaml_node_t *n, unsigned int i)
{
	return node_get(ld, n->data.sequence.items.start[i]);
}

static unsigned int
map_len(const yaml_node_t *n)
{
	return (unsigned int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/** The value of @p key in mapping @p map (its first occurrence), or NULL. */
static yaml_node_t *
map_get(struct loader *ld, const yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_get(ld, p->key);

		if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
			return node_get(ld, p->value);
	}
	return NULL;
}

static int
expect(struct loader *ld, const yaml_node_t *n, yaml_node_type_t type, const char *what)
{
	char buf[SL_DESC_MAX];

	if (n->type == type)
		return 0;
	return fail(ld, n, "wrong type for %s: expected %s, got %s", what,
		    type == YAML_MAPPING_NODE ? "a mapping" : "a list",
		    node_desc(n, buf, sizeof(buf)));
}

static unsigned int
edit_distance(const char *a, const char *b)
{
	unsigned int row[64], la = (unsigned int)strlen(a), lb = (unsigned int)strlen(b);

	if (la >= 64 || lb >= 64)
		return UINT_MAX;
	for (unsigned int j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned int i = 1; i <= la; i++) {
		unsigned int diag = row[0];

		row[0] = i;
		for (unsigned int j = 1; j <= lb; j++) {
			unsigned int up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/**
 * Check that every key of @p map is a scalar named in @p fields (NULL-terminated)
 * and that none repeats. @p ctx completes the messages ("in view 'sales'").
 */
static int
check_fields(struct loader *ld, const yaml_node_t *map, const char *const *fields,
	     const char *ctx)
{
	yaml_node_pair_t *start = map->data.mapping.pairs.start;

	for (yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_get(ld, p->key);
		const char *best = NULL;
		unsigned int best_d = UINT_MAX;
		char buf[SL_DESC_MAX], list[160] = "";
		size_t used = 0;
		bool known = false;

		if (k->type != YAML_SCALAR_NODE || is_null(k))
			return fail(ld, k, "expected a field name %s, got %s", ctx,
				    node_desc(k, buf, sizeof(buf)));
		for (yaml_node_pair_t *q = start; q < p; q++) {
			yaml_node_t *prev = node_get(ld, q->key);

			if (prev->type == YAML_SCALAR_NODE && strcmp(scalar(prev), scalar(k)) == 0)
				return fail(ld, k, "duplicate field '%s' %s (first at line %zu)",
					    shorten(scalar(k)).s, ctx, prev->start_mark.line + 1);
		}
		for (unsigned int i = 0; fields[i] != NULL; i++) {
			unsigned int d = edit_distance(scalar(k), fields[i]);

			if (d == 0)
				known = true;
			if (d < best_d) {
				best_d = d;
				best = fields[i];
			}
			if (used < sizeof(list))
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 i ? ", " : "", fields[i]);
		}
		if (known)
			continue;
		if (best != NULL && best_d <= 2 && best_d < strlen(scalar(k)))
			return fail(ld, k, "unknown field '%s' %s (did you mean '%s'?)",
				    shorten(scalar(k)).s, ctx, best);
		return fail(ld, k, "unknown field '%s' %s (expected %s)", shorten(scalar(k)).s, ctx,
			    list);
	}
	return 0;
}

/** A non-empty scalar. */
static int
get_string(struct loader *ld, const yaml_node_t *n, const char *what, const char **ret)
{
	char buf[SL_DESC_MAX];

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(ld, n, "wrong type for %s: expected a string, got %s", what,
			    node_desc(n, buf, sizeof(buf)));
	*ret = scalar(n);
	return 0;
}

/** A plain decimal integer in [min, max]. */
static int
get_uint(struct loader *ld, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max,
	 uint64_t *ret)
{
	unsigned long long v;
	const char *s;
	char *end;
	char buf[SL_DESC_MAX];

	if (!is_plain(n) || is_null(n))
		return fail(ld, n, "wrong type for %s: expected a number, got %s", what,
			    node_desc(n, buf, sizeof(buf)));
	s = scalar(n);
	if (s[0] == '-' && s[1] != '\0' && strspn(s + 1, "0123456789") == strlen(s + 1))
		return fail(ld, n, "%s out of range: %s (expected %" PRIu64 "..%" PRIu64 ")", what,
			    shorten(s).s, min, max);
	if (!isdigit((unsigned char)s[0]))
		return fail(ld, n, "wrong type for %s: expected a number, got %s", what,
			    node_desc(n, buf, sizeof(buf)));
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return fail(ld, n, "wrong type for %s: expected a whole number, got '%s'", what,
			    shorten(s).s);
	if (errno == ERANGE || v < min || v > max)
		return fail(ld, n, "%s out of range: %s (expected %" PRIu64 "..%" PRIu64 ")", what,
			    shorten(s).s, min, max);
	*ret = v;
	return 0;
}

static int
get_bool(struct loader *ld, const yaml_node_t *n, const char *what, bool *ret)
{
	static const char *const t[] = { "true", "True", "TRUE" }, *const f[] = { "false", "False", "FALSE" };
	char buf[SL_DESC_MAX];

	if (is_plain(n)) {
		for (unsigned int i = 0; i < 3; i++) {
			if (strcmp(scalar(n), t[i]) == 0 || strcmp(scalar(n), f[i]) == 0) {
				*ret = strcmp(scalar(n), t[i]) == 0;
				return 0;
			}
		}
	}
	return fail(ld, n, "wrong type for %s: expected true or false, got %s", what,
		    node_desc(n, buf, sizeof(buf)));
}

/** A duration in [min, max] (in the units that sl_config_duration_parse() reads). */
static int
get_duration(struct loader *ld, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max,
	     uint64_t *ret)
{
	char lo[32], hi[32], buf[SL_DESC_MAX];
	uint64_t ns;
	int rc;

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(ld, n, "wrong type for %s: expected a duration such as 10s, got %s", what,
			    node_desc(n, buf, sizeof(buf)));
	rc = sl_config_duration_parse(scalar(n), &ns);
	if (rc == -EINVAL)
		return fail(ld, n,
			    "bad duration '%s' for %s (expected a number and a unit: ns, us, ms, "
			    "s, m, h or d, such as 10s)",
			    shorten(scalar(n)).s, what);
	sl_config_duration_fmt(min, lo, sizeof(lo));
	sl_config_duration_fmt(max, hi, sizeof(hi));
	if (rc != 0 || ns < min || ns > max)
		return fail(ld, n, "%s out of range: %s (expected %s..%s)", what,
			    shorten(scalar(n)).s, lo, hi);
	*ret = ns;
	return 0;
}

/** [a-z0-9_]{1,max} */
static bool
valid_name(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	}
	return true;
}

static bool
dim_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/** Dimension and field names: [A-Za-z0-9_][A-Za-z0-9_.-]{0,63} */
static bool
valid_dim_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > SL_CONFIG_DIM_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!dim_char(s[i]))
			return false;
	}
	return true;
}

#define DIM_NAME_RULE "letters, digits, '_', '.', '-', at most 64 bytes"

static int
get_dim_name(struct loader *ld, const yaml_node_t *n, const char *what, const char **ret)
{
	const char *s;
	int rc;

	rc = get_string(ld, n, what, &s);
	if (rc != 0)
		return rc;
	if (!valid_dim_name(s))
		return fail(ld, n, "bad dimension name '%s' for %s (" DIM_NAME_RULE ")",
			    shorten(s).s, what);
	*ret = arena_strndup(ld->arena, s, strlen(s));
	return *ret == NULL ? fail_nomem(ld) : 0;
}

/* ---- top level: version, limits, retention, inputs ---- */

static int
load_limits(struct loader *ld, const yaml_node_t *n)
{
	static const char *const fields[] = { "max_groups", "max_set_members", "max_views",
					      "max_rules", "max_matches_per_event", NULL };
	struct sl_config_limits *lim = &ld->cfg->limits;
	const yaml_node_t *v;
	uint64_t x;
	int rc;

	lim->max_groups = SL_CONFIG_DEFAULT_MAX_GROUPS;
	lim->max_set_members = SL_CONFIG_DEFAULT_MAX_SET_MEMBERS;
	lim->max_views = SL_CONFIG_DEFAULT_MAX_VIEWS;
	lim->max_rules = SL_CONFIG_DEFAULT_MAX_RULES;
	lim->max_matches_per_event = SL_CONFIG_DEFAULT_MAX_MATCHES;
	if (n == NULL)
		return 0;
	rc = expect(ld, n, YAML_MAPPING_NODE, "limits");
	if (rc == 0)
		rc = check_fields(ld, n, fields, "in limits");
	if (rc != 0)
		return rc;
	if ((v = map_get(ld, n, "max_groups")) != NULL) {
		rc = get_uint(ld, v, "limits.max_groups", 1, SL_CONFIG_MAX_GROUPS_MAX, &x);
		if (rc != 0)
			return rc;
		lim->max_groups = (uint32_t)x;
	}
	if ((v = map_get(ld, n, "max_set_members")) != NULL) {
		rc = get_uint(ld, v, "limits.max_set_members", 1, SL_CONFIG_MAX_SET_MEMBERS_MAX, &x);
		if (rc != 0)
			return rc;
		lim->max_set_members = (uint32_t)x;
	}
	if ((v = map_get(ld, n, "max_views")) != NULL) {
		rc = get_uint(ld, v, "limits.max_views", 1, SL_CONFIG_VIEWS_MAX, &x);
		if (rc != 0)
			return rc;
		lim->max_views = (uint32_t)x;
	}
	if ((v = map_get(ld, n, "max_rules")) != NULL) {
		rc = get_uint(ld, v, "limits.max_rules", 1, SL_CONFIG_MAX_RULES_MAX, &x);
		if (rc != 0)
			return rc;
		lim->max_rules = (uint32_t)x;
	}
	if ((v = map_get(ld, n, "max_matches_per_event")) != NULL) {
		rc = get_uint(ld, v, "limits.max_matches_per_event", 1, SL_CONFIG_MAX_MATCHES_MAX,
			      &x);
		if (rc != 0)
			return rc;
		lim->max_matches_per_event = (uint32_t)x;
	}
	return 0;
}

static int
load_format(struct loader *ld, const yaml_node_t *n, const char *what,
	    enum sl_config_format *ret)
{
	const char *s;
	int rc;

	rc = get_string(ld, n, what, &s);
	if (rc != 0)
		return rc;
	for (unsigned int f = 0; f < SL_CONFIG_FORMAT__MAX; f++) {
		if (strcmp(s, format_names[f]) == 0) {
			*ret = (enum sl_config_format)f;
			return 0;
		}
	}
	return fail(ld, n, "unknown format '%s' for %s (expected statsd, json or binary)",
		    shorten(s).s, what);
}

static const struct sl_config_input default_inputs[] = {
	{ SL_CONFIG_FORMAT_STATSD, 8125 },
	{ SL_CONFIG_FORMAT_JSON, 8127 },
	{ SL_CONFIG_FORMAT_BINARY, 8128 },
};

static int
load_inputs(struct loader *ld, const yaml_node_t *n)
{
	static const char *const fields[] = { "format", "port", NULL };
	const yaml_node_t *port_nodes[SL_CONFIG_INPUTS_MAX];
	struct sl_config *cfg = ld->cfg;
	unsigned int count;
	int rc;

	if (n == NULL) {
		count = sizeof(default_inputs) / sizeof(default_inputs[0]);
		cfg->inputs = arena_alloc(ld->arena, sizeof(default_inputs));
		if (cfg->inputs == NULL)
			return fail_nomem(ld);
		memcpy(cfg->inputs, default_inputs, sizeof(default_inputs));
		cfg->n_inputs = count;
		return 0;
	}
	rc = expect(ld, n, YAML_SEQUENCE_NODE, "inputs");
	if (rc != 0)
		return rc;
	count = seq_len(n);
	if (count == 0)
		return fail(ld, n, "inputs is empty (expected at least one {format, port})");
	if (count > SL_CONFIG_INPUTS_MAX)
		return fail(ld, seq_item(ld, n, SL_CONFIG_INPUTS_MAX),
			    "too many inputs: %u (at most %u)", count, SL_CONFIG_INPUTS_MAX);
	cfg->inputs = arena_alloc(ld->arena, count * sizeof(*cfg->inputs));
	if (cfg->inputs == NULL)
		return fail_nomem(ld);
	for (unsigned int i = 0; i < count; i++) {
		const yaml_node_t *in = seq_item(ld, n, i), *v;
		struct sl_config_input *inp = &cfg->inputs[i];
		char ctx[48], what[48];
		uint64_t port;

		snprintf(ctx, sizeof(ctx), "in inputs[%u]", i + 1);
		snprintf(what, sizeof(what), "inputs[%u]", i + 1);
		rc = expect(ld, in, YAML_MAPPING_NODE, what);
		if (rc == 0)
			rc = check_fields(ld, in, fields, ctx);
		if (rc != 0)
			return rc;
		if ((v = map_get(ld, in, "format")) == NULL)
			return fail(ld, in, "missing required field 'format' %s", ctx);
		snprintf(what, sizeof(what), "inputs[%u].format", i + 1);
		rc = load_format(ld, v, what, &inp->format);
		if (rc != 0)
			return rc;
		if ((v = map_get(ld, in, "port")) == NULL)
			return fail(ld, in, "missing required field 'port' %s", ctx);
		snprintf(what, sizeof(what), "inputs[%u].port", i + 1);
		rc = get_uint(ld, v, what, 1, 65535, &port);
		if (rc != 0)
			return rc;
		inp->port = (uint16_t)port;
		port_nodes[i] = v;
		for (unsigned int j = 0; j < i; j++) {
			if (cfg->inputs[j].port == inp->port)
				return fail(ld, v, "duplicate input port %u (first at line %zu)",
					    inp->port, port_nodes[j]->start_mark.line + 1);
		}
		cfg->n_inputs++;
	}
	return 0;
}

struct view_ctx {
	const yaml_node_t *node;
	char ctx[64]; /* "in view 'sales'" */
	char name[48]; /* "view 'sales'" */
};

/* ---- rules ---- */

#define NAME_RULE "[a-z0-9_], 1 to %u characters"

/** "caseless, dotall, ..." for messages. */
static void
flag_list(char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < SL_CONFIG_RULE_FLAG__MAX && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
					 flag_names[i]);
}

/** A pattern: 1..SL_CONFIG_PATTERN_MAX bytes, no control bytes (so no NUL either). */
static int
load_pattern(struct loader *ld, const yaml_node_t *n, const char *ctx, const char **ret)
{
	char what[112];
	const char *s;
	size_t len;
	int rc;

	snprintf(what, sizeof(what), "pattern %s", ctx);
	rc = get_string(ld, n, what, &s);
	if (rc != 0)
		return rc;
	/* The scalar's length, not strlen(): a "\0" escape must not cut the pattern. */
	len = n->data.scalar.length;
	if (len == 0)
		return fail(ld, n, "empty pattern %s", ctx);
	if (len > SL_CONFIG_PATTERN_MAX)
		return fail(ld, n, "pattern %s too long: %zu bytes (at most %u)", ctx, len,
			    SL_CONFIG_PATTERN_MAX);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(ld, n,
				    "control character in pattern %s (write it as an escape "
				    "such as \\n or \\x01)",
				    ctx);
	}
	*ret = arena_strndup(ld->arena, s, len);
	return *ret == NULL ? fail_nomem(ld) : 0;
}

static int
load_flags(struct loader *ld, const yaml_node_t *n, const char *ctx, uint32_t *ret)
{
	char what[112], list[96];
	unsigned int count;
	int rc;

	snprintf(what, sizeof(what), "flags %s", ctx);
	rc = expect(ld, n, YAML_SEQUENCE_NODE, what);
	if (rc != 0)
		return rc;
	count = seq_len(n);
	/* Repeats are errors, so the walk stops by SL_CONFIG_RULE_FLAG__MAX + 1 items. */
	for (unsigned int i = 0; i < count; i++) {
		const yaml_node_t *item = seq_item(ld, n, i);
		unsigned int f;
		const char *s;

		rc = get_string(ld, item, what, &s);
		if (rc != 0)
			return rc;
		for (f = 0; f < SL_CONFIG_RULE_FLAG__MAX; f++) {
			if (strcmp(s, flag_names[f]) == 0)
				break;
		}
		if (f == SL_CONFIG_RULE_FLAG__MAX) {
			flag_list(list, sizeof(list));
			return fail(ld, item, "unknown flag '%s' %s (expected %s)", shorten(s).s,
				    ctx, list);
		}
		if (*ret & (1u << f))
			return fail(ld, item, "duplicate flag '%s' %s", s, ctx);
		*ret |= 1u << f;
	}
	return 0;
}

/** The tag of an action-tag rule: find it in the tag table, or add it. */
static int
rule_tag(struct loader *ld, const yaml_node_t *at, const char *ctx, const char *tag,
	 struct sl_config_rule *r)
{
	struct sl_config *cfg = ld->cfg;
	int i = sl_config_tag_index(cfg, tag);

	if (i < 0) {
		if (cfg->n_tags == SL_CONFIG_TAGS_MAX)
			return fail(ld, at,
				    "more than %u distinct tags: tag '%s' %s would be the %uth",
				    SL_CONFIG_TAGS_MAX, tag, ctx, SL_CONFIG_TAGS_MAX + 1);
		ld->tags[cfg->n_tags] = arena_strndup(ld->arena, tag, strlen(tag));
		if (ld->tags[cfg->n_tags] == NULL)
			return fail_nomem(ld);
		i = (int)cfg->n_tags++;
	}
	r->tag = cfg->tags[i];
	r->tag_index = (uint32_t)i;
	return 0;
}

static int
load_rule(struct loader *ld, const yaml_node_t *n, unsigned int idx, struct sl_config_rule *r)
{
	static const char *const fields[] = { "id", "pattern", "on", "flags", "action", "tag",
					      NULL };
	const yaml_node_t *f, *pattern_node, *tag_node;
	char ctx[96], what[128], msg[200];
	const char *s;
	int rc;

	snprintf(what, sizeof(what), "rules[%u]", idx + 1);
	snprintf(ctx, sizeof(ctx), "in rules[%u]", idx + 1);
	rc = expect(ld, n, YAML_MAPPING_NODE, what);
	if (rc != 0)
		return rc;
	r->line = (unsigned int)n->start_mark.line + 1;
	r->tag_index = UINT32_MAX;
	if ((f = map_get(ld, n, "id")) == NULL)
		return fail(ld, n, "missing required field 'id' %s", ctx);
	snprintf(what, sizeof(what), "id %s", ctx);
	rc = get_string(ld, f, what, &s);
	if (rc != 0)
		return rc;
	if (!valid_name(s, SL_CONFIG_RULE_ID_MAX))
		return fail(ld, f, "bad rule id '%s' (expected " NAME_RULE ")", shorten(s).s,
			    SL_CONFIG_RULE_ID_MAX);
	r->id = arena_strndup(ld->arena, s, strlen(s));
	if (r->id == NULL)
		return fail_nomem(ld);
	snprintf(ctx, sizeof(ctx), "in rule '%s'", r->id);
	rc = check_fields(ld, n, fields, ctx);
	if (rc != 0)
		return rc;

	if ((pattern_node = map_get(ld, n, "pattern")) == NULL)
		return fail(ld, n, "missing required field 'pattern' %s", ctx);
	rc = load_pattern(ld, pattern_node, ctx, &r->pattern);
	if (rc != 0)
		return rc;

	if ((f = map_get(ld, n, "on")) == NULL)
		return fail(ld, n, "missing required field 'on' %s (raw or a field name)", ctx);
	snprintf(what, sizeof(what), "on %s", ctx);
	rc = get_string(ld, f, what, &s);
	if (rc != 0)
		return rc;
	r->on_raw = strcmp(s, SL_CONFIG_RULE_RAW) == 0;
	if (!r->on_raw && !valid_dim_name(s))
		return fail(ld, f, "bad field name '%s' for on %s (expected raw or a field name: "
			    DIM_NAME_RULE ")", shorten(s).s, ctx);
	r->on = arena_strndup(ld->arena, s, strlen(s));
	if (r->on == NULL)
		return fail_nomem(ld);

	if ((f = map_get(ld, n, "flags")) != NULL) {
		rc = load_flags(ld, f, ctx, &r->flags);
		if (rc != 0)
			return rc;
	}

	if ((f = map_get(ld, n, "action")) == NULL)
		return fail(ld, n, "missing required field 'action' %s (tag, drop or count)", ctx);
	snprintf(what, sizeof(what), "action %s", ctx);
	rc = get_string(ld, f, what, &s);
	if (rc != 0)
		return rc;
	for (r->action = 0; r->action < SL_CONFIG_RULE__MAX; r->action++) {
		if (strcmp(s, action_names[r->action]) == 0)
			break;
	}
	if (r->action == SL_CONFIG_RULE__MAX)
		return fail(ld, f, "unknown action '%s' %s (expected tag, drop or count)",
			    shorten(s).s, ctx);

	tag_node = map_get(ld, n, "tag");
	if (tag_node != NULL && r->action != SL_CONFIG_RULE_TAG)
		return fail(ld, tag_node, "field 'tag' %s needs action: tag (the action is %s)",
			    ctx, action_names[r->action]);
	if (r->action == SL_CONFIG_RULE_TAG) {
		s = r->id;
		if (tag_node != NULL) {
			snprintf(what, sizeof(what), "tag %s", ctx);
			rc = get_string(ld, tag_node, what, &s);
			if (rc != 0)
				return rc;
			if (!valid_name(s, SL_CONFIG_RULE_ID_MAX))
				return fail(ld, tag_node,
					    "bad tag '%s' %s (expected " NAME_RULE ")", shorten(s).s,
					    ctx, SL_CONFIG_RULE_ID_MAX);
		}
		rc = rule_tag(ld, tag_node != NULL ? tag_node : n, ctx, s, r);
		if (rc != 0)
			return rc;
	}

	/* Last: Hyperscan reads the pattern with its flags. */
	rc = sl_rules_pattern_check(r->pattern, r->flags, msg, sizeof(msg));
	if (rc == -ENOMEM)
		return fail_nomem(ld);
	if (rc != 0)
		return fail(ld, pattern_node, "bad pattern %s: %s", ctx, msg);
	return 0;
}

static uint64_t
str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int
load_rules(struct loader *ld, const yaml_node_t *n)
{
	struct sl_config *cfg = ld->cfg;
	uint32_t *seen = NULL, mask;
	unsigned int count;
	int rc;

	ld->tags = arena_alloc(ld->arena, SL_CONFIG_TAGS_MAX * sizeof(*ld->tags));
	cfg->tags = ld->tags;
	cfg->rules = arena_alloc(ld->arena, sizeof(*cfg->rules));
	if (cfg->tags == NULL || cfg->rules == NULL)
		return fail_nomem(ld);
	if (n == NULL)
		return 0;
	rc = expect(ld, n, YAML_SEQUENCE_NODE, "rules");
	if (rc != 0)
		return rc;
	count = seq_len(n);
	if (count > cfg->limits.max_rules)
		return fail(ld, seq_item(ld, n, cfg->limits.max_rules),
			    "more rules (%u) than limits.max_rules (%u)", count,
			    cfg->limits.max_rules);
	if (count == 0)
		return 0;
	cfg->rules = arena_alloc(ld->arena, count * sizeof(*cfg->rules));
	if (cfg->rules == NULL)
		return fail_nomem(ld);
	/* Ids seen so far: open addressing over rule indexes + 1 (0 = free), load <= 1/2. */
	for (mask = 15; mask < 2 * count; mask = mask * 2 + 1)
		;
	seen = calloc((size_t)mask + 1, sizeof(*seen));
	if (seen == NULL)
		return fail_nomem(ld);
	for (unsigned int i = 0; i < count; i++) {
		const yaml_node_t *rn = seq_item(ld, n, i);
		struct sl_config_rule *r = &cfg->rules[i];
		uint32_t h;

		rc = load_rule(ld, rn, i, r);
		if (rc != 0)
			goto out;
		for (h = (uint32_t)str_hash(r->id) & mask; seen[h] != 0; h = (h + 1) & mask) {
			const struct sl_config_rule *first = &cfg->rules[seen[h] - 1];

			if (strcmp(first->id, r->id) == 0) {
				rc = fail(ld, map_get(ld, rn, "id"),
					  "duplicate rule id '%s' (first at line %u)", r->id,
					  first->line);
				goto out;
			}
		}
		seen[h] = i + 1;
		cfg->n_rules++;
	}
	rc = 0;
out:
	free(seen);
	return rc;
}

/** A where value on "tags" must be a tag that a rule defines. */
static int
check_where_tag(struct loader *ld, const struct view_ctx *vc, const yaml_node_t *n,
		const char *tag)
{
	const struct sl_config *cfg = ld->cfg;
	char known[112];
	size_t used = 0;

	if (sl_config_tag_index(cfg, tag) >= 0)
		return 0;
	if (cfg->n_tags == 0)
		return fail(ld, n, "unknown tag '%s' in where.tags %s (no rule defines a tag)",
			    shorten(tag).s, vc->ctx);
	known[0] = '\0';
	for (uint32_t i = 0; i < cfg->n_tags && used < sizeof(known); i++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
					 cfg->tags[i]);
	if (used >= sizeof(known))
		memcpy(known + sizeof(known) - 4, "...", 4);
	return fail(ld, n, "unknown tag '%s' in where.tags %s (rules define: %s)", shorten(tag).s,
		    vc->ctx, known);
}

/* ---- views ---- */

static int
load_value(struct loader *ld, const yaml_node_t *n, const char *what, const char **ret)
{
	const char *s;
	size_t len;
	int rc;

	rc = get_string(ld, n, what, &s);
	if (rc != 0)
		return rc;
	len = strlen(s);
	if (len > SL_CONFIG_VALUE_MAX)
		return fail(ld, n, "value for %s too long: %zu bytes (at most %u)", what, len,
			    SL_CONFIG_VALUE_MAX);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(ld, n, "control character in value for %s", what);
	}
	*ret = arena_strndup(ld->arena, s, len);
	return *ret == NULL ? fail_nomem(ld) : 0;
}

static int
load_cond(struct loader *ld, const struct view_ctx *vc, const yaml_node_t *key,
	  const yaml_node_t *val, struct sl_config_cond *c)
{
	static const char *const exists_fields[] = { "exists", NULL };
	char what[128], ctx[128], buf[SL_DESC_MAX];
	const char **values;
	bool is_tags;
	int rc;

	snprintf(what, sizeof(what), "a where dimension %s", vc->ctx);
	rc = get_dim_name(ld, key, what, &c->dim);
	if (rc != 0)
		return rc;
	if (strcmp(c->dim, "tag") == 0)
		return fail(ld, key, "'tag' in where %s is reserved: rule tags are 'tags' "
			    "(where: {tags: NAME})", vc->ctx);
	is_tags = strcmp(c->dim, SL_CONFIG_TAGS_DIM) == 0;
	snprintf(what, sizeof(what), "where.%s %s", c->dim, vc->ctx);
	if (val->type == YAML_MAPPING_NODE) {
		const yaml_node_t *ex;
		bool exists;

		snprintf(ctx, sizeof(ctx), "in where.%s %s", c->dim, vc->ctx);
		rc = check_fields(ld, val, exists_fields, ctx);
		if (rc != 0)
			return rc;
		if ((ex = map_get(ld, val, "exists")) == NULL)
			return fail(ld, val, "missing required field 'exists' %s", ctx);
		snprintf(what, sizeof(what), "where.%s.exists %s", c->dim, vc->ctx);
		rc = get_bool(ld, ex, what, &exists);
		if (rc != 0)
			return rc;
		c->kind = exists ? SL_CONFIG_COND_EXISTS : SL_CONFIG_COND_NOT_EXISTS;
		return 0;
	}
	if (val->type == YAML_SEQUENCE_NODE) {
		unsigned int count = seq_len(val);

		if (count == 0)
			return fail(ld, val, "empty list for %s (expected at least one value)", what);
		if (count > SL_CONFIG_IN_MAX)
			return fail(ld, seq_item(ld, val, SL_CONFIG_IN_MAX),
				    "too many values for %s: %u (at most %u)", what, count,
				    SL_CONFIG_IN_MAX);
		values = arena_alloc(ld->arena, count * sizeof(*values));
		if (values == NULL)
			return fail_nomem(ld);
		for (unsigned int i = 0; i < count; i++) {
			const yaml_node_t *item = seq_item(ld, val, i);

			rc = load_value(ld, item, what, &values[i]);
			if (rc == 0 && is_tags)
				rc = check_where_tag(ld, vc, item, values[i]);
			if (rc != 0)
				return rc;
			for (unsigned int j = 0; j < i; j++) {
				if (strcmp(values[j], values[i]) == 0)
					return fail(ld, item, "duplicate value '%s' for %s",
						    shorten(values[i]).s, what);
			}
		}
		c->kind = SL_CONFIG_COND_IN;
		c->values = values;
		c->n_values = count;
		return 0;
	}
	if (is_null(val))
		return fail(ld, val,
			    "wrong type for %s: expected a value, a list of values or "
			    "{exists: true|false}, got %s",
			    what, node_desc(val, buf, sizeof(buf)));
	values = arena_alloc(ld->arena, sizeof(*values));
	if (values == NULL)
		return fail_nomem(ld);
	rc = load_value(ld, val, what, &values[0]);
	if (rc == 0 && is_tags)
		rc = check_where_tag(ld, vc, val, values[0]);
	if (rc != 0)
		return rc;
	c->kind = SL_CONFIG_COND_EQ;
	c->values = values;
	c->n_values = 1;
	return 0;
}

static int
load_where(struct loader *ld, const struct view_ctx *vc, struct sl_config_view *v)
{
	const yaml_node_t *n = map_get(ld, vc->node, "where");
	char what[96];
	unsigned int count;
	int rc;

	if (n == NULL)
		return 0;
	snprintf(what, sizeof(what), "where %s", vc->ctx);
	rc = expect(ld, n, YAML_MAPPING_NODE, what);
	if (rc != 0)
		return rc;
	count = map_len(n);
	if (count > SL_CONFIG_WHERE_MAX)
		return fail(ld, n, "too many conditions in where %s: %u (at most %u)", vc->ctx,
			    count, SL_CONFIG_WHERE_MAX);
	/* check_fields() would call every dimension unknown: look for duplicates here. */
	for (unsigned int i = 0; i < count; i++) {
		yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
		const yaml_node_t *k = node_get(ld, p->key);

		for (unsigned int j = 0; j < i && k->type == YAML_SCALAR_NODE; j++) {
			const yaml_node_t *prev = node_get(ld, n->data.mapping.pairs.start[j].key);

			if (prev->type == YAML_SCALAR_NODE && strcmp(scalar(prev), scalar(k)) == 0)
				return fail(ld, k, "duplicate field '%s' in where %s (first at line %zu)",
					    shorten(scalar(k)).s, vc->ctx, prev->start_mark.line + 1);
		}
	}
	v->where = arena_alloc(ld->arena, (count ? count : 1) * sizeof(*v->where));
	if (v->where == NULL)
		return fail_nomem(ld);
	for (unsigned int i = 0; i < count; i++) {
		yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];

		rc = load_cond(ld, vc, node_get(ld, p->key), node_get(ld, p->value), &v->where[i]);
		if (rc != 0)
			return rc;
		v->n_where++;
	}
	return 0;
}

static int
load_group_by(struct loader *ld, const struct view_ctx *vc, struct sl_config_view *v)
{
	const yaml_node_t *n = map_get(ld, vc->node, "group_by");
	char what[96];
	unsigned int count;
	int rc;

	if (n == NULL)
		return 0;
	snprintf(what, sizeof(what), "group_by %s", vc->ctx);
	rc = expect(ld, n, YAML_SEQUENCE_NODE, what);
	if (rc != 0)
		return rc;
	count = seq_len(n);
	if (count > SL_CONFIG_GROUP_BY_MAX)
		return fail(ld, seq_item(ld, n, SL_CONFIG_GROUP_BY_MAX),
			    "too many dimensions in group_by %s: %u (at most %u)", vc->ctx, count,
			    SL_CONFIG_GROUP_BY_MAX);
	for (unsigned int i = 0; i < count; i++) {
		const yaml_node_t *item = seq_item(ld, n, i);

		rc = get_dim_name(ld, item, what, &v->group_by[i]);
		if (rc != 0)
			return rc;
		if (strcmp(v->group_by[i], SL_CONFIG_TAGS_DIM) == 0)
			return fail(ld, item,
				    "'tags' cannot be in group_by %s: an event has a set of rule "
				    "tags (filter with where: {tags: NAME})",
				    vc->ctx);
		for (unsigned int j = 0; j < i; j++) {
			if (strcmp(v->group_by[j], v->group_by[i]) == 0)
				return fail(ld, item, "duplicate dimension '%s' in group_by %s",
					    v->group_by[i], vc->ctx);
		}
		v->n_group_by++;
	}
	return 0;
}

static int
load_window(struct loader *ld, const struct view_ctx *vc, struct sl_config_view *v)
{
	static const char *const fields[] = { "size", "slide", NULL };
	const yaml_node_t *n = map_get(ld, vc->node, "window"), *size, *slide;
	char what[96], ctx[96], a[32], b[32];
	int rc;

	if (n == NULL)
		return fail(ld, vc->node, "missing required field 'window' %s", vc->ctx);
	snprintf(what, sizeof(what), "window %s", vc->ctx);
	snprintf(ctx, sizeof(ctx), "in window %s", vc->ctx);
	rc = expect(ld, n, YAML_MAPPING_NODE, what);
	if (rc == 0)
		rc = check_fields(ld, n, fields, ctx);
	if (rc != 0)
		return rc;
	if ((size = map_get(ld, n, "size")) == NULL)
		return fail(ld, n, "missing required field 'size' %s", ctx);
	snprintf(what, sizeof(what), "window.size %s", vc->ctx);
	rc = get_duration(ld, size, what, WINDOW_MIN_NS, WINDOW_MAX_NS, &v->window_size_ns);
	if (rc != 0)
		return rc;
	v->window_slide_ns = v->window_size_ns;
	if ((slide = map_get(ld, n, "slide")) == NULL)
		return 0;
	snprintf(what, sizeof(what), "window.slide %s", vc->ctx);
	rc = get_duration(ld, slide, what, WINDOW_MIN_NS, WINDOW_MAX_NS, &v->window_slide_ns);
	if (rc != 0)
		return rc;
	sl_config_duration_fmt(v->window_size_ns, a, sizeof(a));
	sl_config_duration_fmt(v->window_slide_ns, b, sizeof(b));
	if (v->window_size_ns % v->window_slide_ns != 0)
		return fail(ld, slide, "window slide %s does not divide size %s %s", b, a, vc->ctx);
	if (v->window_size_ns / v->window_slide_ns > SL_CONFIG_SLICES_MAX)
		return fail(ld, slide,
			    "window %s has %" PRIu64 " slices (size %s / slide %s), at most %u",
			    vc->ctx, v->window_size_ns / v->window_slide_ns, a, b,
			    SL_CONFIG_SLICES_MAX);
	return 0;
}

static int
load_time(struct loader *ld, const struct view_ctx *vc, struct sl_config_view *v)
{
	const yaml_node_t *n = map_get(ld, vc->node, "time");
	char what[96];
	const char *s;
	int rc;

	v->time = SL_CONFIG_TIME_EVENT;
	if (n != NULL) {
		snprintf(what, sizeof(what), "time %s", vc->ctx);
		rc = get_string(ld, n, what, &s);
		if (rc != 0)
			return rc;
		if (strcmp(s, "event") == 0)
			v->time = SL_CONFIG_TIME_EVENT;
		else if (strcmp(s, "arrival") == 0)
			v->time = SL_CONFIG_TIME_ARRIVAL;
		else
			return fail(ld, n, "unknown time '%s' %s (expected event or arrival)",
				    shorten(s).s, vc->ctx);
	}
	if ((n = map_get(ld, vc->node, "allowed_lateness")) != NULL) {
		if (v->time != SL_CONFIG_TIME_EVENT)
			return fail(ld, n, "allowed_lateness %s needs time: event", vc->ctx);
		snprintf(what, sizeof(what), "allowed_lateness %s", vc->ctx);
		rc = get_duration(ld, n, what, 0, LATENESS_MAX_NS, &v->allowed_lateness_ns);
		if (rc != 0)
			return rc;
	}
	if ((n = map_get(ld, vc->node, "keep_late")) != NULL) {
		if (v->time != SL_CONFIG_TIME_EVENT)
			return fail(ld, n, "keep_late %s needs time: event", vc->ctx);
		snprintf(what, sizeof(what), "keep_late %s", vc->ctx);
		rc = get_bool(ld, n, what, &v->keep_late);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int
qcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/** Shortest "%g" that reads back as @p q. */
static void
fmt_double(double q, char *buf, size_t cap)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, q);
		if (strtod(buf, NULL) == q)
			return;
	}
}

#define AGG_HELP "count, sum(f), min(f), max(f), avg(f), last(f), distinct(f), " \
		 "quantiles(f, [q...]), topk(f, k)"

/**
 * Parse one aggregate ("sum(amount)", "quantiles(amount, [0.5, 0.99])",
 * "topk(sku, 10)") into @p a. Whitespace is allowed around every token.
 */
static int
parse_agg(struct loader *ld, const struct view_ctx *vc, const yaml_node_t *n, const char *s,
	  struct sl_config_agg *a)
{
	const char *p = skip_ws(s), *id = p, *field;
	size_t id_len, field_len;
	char key[128];
	int kind = -1, args;

	while (*p >= 'a' && *p <= 'z')
		p++;
	id_len = (size_t)(p - id);
	for (int k = 0; k < SL_CONFIG_AGG__MAX; k++) {
		if (id_len == strlen(agg_defs[k].name) && memcmp(id, agg_defs[k].name, id_len) == 0)
			kind = k;
	}
	if (kind < 0 || (*skip_ws(p) != '(' && *skip_ws(p) != '\0'))
		return fail(ld, n, "unknown aggregate '%s' %s (expected " AGG_HELP ")",
			    shorten(s).s, vc->ctx);
	a->kind = (enum sl_config_agg_kind)kind;
	args = agg_defs[kind].args;
	p = skip_ws(p);
	if (args == 0) {
		if (*p != '\0')
			return fail(ld, n, "aggregate '%s' %s takes no field: write count",
				    shorten(s).s, vc->ctx);
		a->key = arena_strndup(ld->arena, "count", 5);
		return a->key == NULL ? fail_nomem(ld) : 0;
	}
	if (*p == '\0' || *(p = skip_ws(p + 1)) == ')')
		return fail(ld, n, "aggregate '%s' %s needs a field: %s(FIELD%s)", shorten(s).s,
			    vc->ctx, agg_defs[kind].name,
			    args == 'q' ? ", [0.5, 0.99]" : args == 'k' ? ", K" : "");
	field = p;
	while (dim_char(*p))
		p++;
	field_len = (size_t)(p - field);
	if (field_len == 0 || field_len > SL_CONFIG_DIM_NAME_MAX || field[0] == '.' ||
	    field[0] == '-')
		return fail(ld, n, "bad field name in aggregate '%s' %s (" DIM_NAME_RULE ")",
			    shorten(s).s, vc->ctx);
	a->field = arena_strndup(ld->arena, field, field_len);
	if (a->field == NULL)
		return fail_nomem(ld);
	p = skip_ws(p);
	if (args == 1) {
		if (*p == ',')
			return fail(ld, n, "aggregate '%s' %s takes one field: %s(FIELD)",
				    shorten(s).s, vc->ctx, agg_defs[kind].name);
		snprintf(key, sizeof(key), "%s(%s)", agg_defs[kind].name, a->field);
	} else if (*p != ',') {
		if (args == 'q')
			return fail(ld, n,
				    "aggregate '%s' %s needs a list of quantiles: "
				    "quantiles(FIELD, [0.5, 0.9, 0.99])",
				    shorten(s).s, vc->ctx);
		return fail(ld, n, "aggregate '%s' %s needs k: topk(FIELD, K)", shorten(s).s,
			    vc->ctx);
	} else if (args == 'q') {
		p = skip_ws(p + 1);
		if (*p != '[')
			return fail(ld, n,
				    "aggregate '%s' %s: expected a list of quantiles such as "
				    "[0.5, 0.9, 0.99]",
				    shorten(s).s, vc->ctx);
		p = skip_ws(p + 1);
		for (;;) {
			const char *num = p;
			char *end, qbuf[32];
			double q;

			while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
			       *p == '-' || *p == '+')
				p++;
			q = strtod(num, &end);
			if (p == num || end != p)
				return fail(ld, n, "bad quantile in aggregate '%s' %s (expected numbers "
					    "such as [0.5, 0.99])", shorten(s).s, vc->ctx);
			fmt_double(q, qbuf, sizeof(qbuf));
			if (!(q > 0 && q < 1))
				return fail(ld, n, "quantile %s out of range in aggregate '%s' %s "
					    "(expected 0 < q < 1)", qbuf, shorten(s).s, vc->ctx);
			if (a->n_quantiles == SL_CONFIG_QUANTILES_MAX)
				return fail(ld, n, "too many quantiles in aggregate '%s' %s (at most %u)",
					    shorten(s).s, vc->ctx, SL_CONFIG_QUANTILES_MAX);
			for (unsigned int i = 0; i < a->n_quantiles; i++) {
				if (a->quantiles[i] == q)
					return fail(ld, n, "duplicate quantile %s in aggregate '%s' %s",
						    qbuf, shorten(s).s, vc->ctx);
			}
			a->quantiles[a->n_quantiles++] = q;
			p = skip_ws(p);
			if (*p == ']')
				break;
			if (*p != ',')
				return fail(ld, n, "bad quantile list in aggregate '%s' %s (expected "
					    "[0.5, 0.9, 0.99])", shorten(s).s, vc->ctx);
			p = skip_ws(p + 1);
		}
		qsort(a->quantiles, a->n_quantiles, sizeof(a->quantiles[0]), qcmp);
		p = skip_ws(p + 1);
		snprintf(key, sizeof(key), "quantiles(%s)", a->field);
	} else {
		const char *num = skip_ws(p + 1);
		unsigned long k = 0;

		p = num;
		while (*p >= '0' && *p <= '9' && k <= SL_CONFIG_TOPK_MAX)
			k = k * 10 + (unsigned long)(*p++ - '0');
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == num)
			return fail(ld, n, "bad k in aggregate '%s' %s (expected topk(FIELD, K))",
				    shorten(s).s, vc->ctx);
		if (k < 1 || k > SL_CONFIG_TOPK_MAX)
			return fail(ld, n, "topk k out of range in aggregate '%s' %s (expected 1..%u)",
				    shorten(s).s, vc->ctx, SL_CONFIG_TOPK_MAX);
		a->k = (uint32_t)k;
		p = skip_ws(p);
		snprintf(key, sizeof(key), "topk(%s,%u)", a->field, a->k);
	}
	if (*p != ')' || *skip_ws(p + 1) != '\0')
		return fail(ld, n, "bad aggregate '%s' %s (expected " AGG_HELP ")", shorten(s).s,
			    vc->ctx);
	a->key = arena_strndup(ld->arena, key, strlen(key));
	return a->key == NULL ? fail_nomem(ld) : 0;
}

static int
load_aggs(struct loader *ld, const struct view_ctx *vc, struct sl_config_view *v)
{
	const yaml_node_t *n = map_get(ld, vc->node, "aggregates");
	char what[96];
	unsigned int count;
	int rc;

	if (n == NULL)
		return fail(ld, vc->node, "missing required field 'aggregates' %s", vc->ctx);
	snprintf(what, sizeof(what), "aggregates %s", vc->ctx);
	rc = expect(ld, n, YAML_SEQUENCE_NODE, what);
	if (rc != 0)
		return rc;
	count = seq_len(n);
	if (count == 0)
		return fail(ld, n, "aggregates %s is empty (expected at least one, such as count)",
			    vc->ctx);
	if (count > SL_CONFIG_AGGS_MAX)
		return fail(ld, seq_item(ld, n, SL_CONFIG_AGGS_MAX),
			    "too many aggregates %s: %u (at most %u)", vc->ctx, count,
			    SL_CONFIG_AGGS_MAX);
	v->aggs = arena_alloc(ld->arena, count * sizeof(*v->aggs));
	if (v->aggs == NULL)
		return fail_nomem(ld);
	for (unsigned int i = 0; i < count; i++) {
		const yaml_node_t *item = seq_item(ld, n, i);
		const char *s;

		rc = get_string(ld, item, what, &s);
		if (rc == 0)
			rc = parse_agg(ld, vc, item, s, &v->aggs[i]);
		if (rc != 0)
			return rc;
		for (unsigned int j = 0; j < i; j++) {
			if (strcmp(v->aggs[j].key, v->aggs[i].key) == 0)
				return fail(ld, item, "duplicate aggregate '%s' %s", v->aggs[i].key,
					    vc->ctx);
		}
		v->n_aggs++;
	}
	return 0;
}

static int
load_view(struct loader *ld, const yaml_node_t *n, unsigned int idx,
	  const yaml_node_t *retention_node, struct sl_config_view *v)
{
	static const char *const fields[] = {
		"name", "where", "group_by", "window", "time", "allowed_lateness",
		"keep_late", "aggregates", "retention", "max_groups", NULL,
	};
	const struct sl_config_limits *lim = &ld->cfg->limits;
	struct view_ctx vc = { .node = n };
	const yaml_node_t *f;
	char what[96], a[32], b[32];
	const char *name;
	uint64_t x;
	int rc;

	snprintf(vc.name, sizeof(vc.name), "views[%u]", idx + 1);
	snprintf(vc.ctx, sizeof(vc.ctx), "in views[%u]", idx + 1);
	rc = expect(ld, n, YAML_MAPPING_NODE, vc.name);
	if (rc != 0)
		return rc;
	v->line = (unsigned int)n->start_mark.line + 1;
	if ((f = map_get(ld, n, "name")) == NULL)
		return fail(ld, n, "missing required field 'name' %s", vc.ctx);
	snprintf(what, sizeof(what), "name %s", vc.ctx);
	rc = get_string(ld, f, what, &name);
	if (rc != 0)
		return rc;
	if (!valid_name(name, SL_CONFIG_VIEW_NAME_MAX))
		return fail(ld, f, "bad view name '%s' (expected [a-z0-9_], 1 to %u characters)",
			    shorten(name).s, SL_CONFIG_VIEW_NAME_MAX);
	v->name = arena_strndup(ld->arena, name, strlen(name));
	if (v->name == NULL)
		return fail_nomem(ld);
	snprintf(vc.name, sizeof(vc.name), "view '%s'", name);
	snprintf(vc.ctx, sizeof(vc.ctx), "in view '%s'", name);

	rc = check_fields(ld, n, fields, vc.ctx);
	if (rc == 0)
		rc = load_where(ld, &vc, v);
	if (rc == 0)
		rc = load_group_by(ld, &vc, v);
	if (rc == 0)
		rc = load_window(ld, &vc, v);
	if (rc == 0)
		rc = load_time(ld, &vc, v);
	if (rc == 0)
		rc = load_aggs(ld, &vc, v);
	if (rc != 0)
		return rc;

	v->retention_ns = ld->cfg->retention_ns;
	if ((f = map_get(ld, n, "retention")) != NULL) {
		snprintf(what, sizeof(what), "retention %s", vc.ctx);
		rc = get_duration(ld, f, what, 0, RETENTION_MAX_NS, &v->retention_ns);
		if (rc != 0)
			return rc;
		retention_node = f;
	}
	if (v->retention_ns != 0 && v->retention_ns < v->window_size_ns) {
		sl_config_duration_fmt(v->retention_ns, a, sizeof(a));
		sl_config_duration_fmt(v->window_size_ns, b, sizeof(b));
		return fail(ld, retention_node, "retention %s of %s is shorter than its window (%s)",
			    a, vc.name, b);
	}

	v->max_groups = lim->max_groups;
	if ((f = map_get(ld, n, "max_groups")) != NULL) {
		snprintf(what, sizeof(what), "max_groups %s", vc.ctx);
		rc = get_uint(ld, f, what, 0, UINT32_MAX, &x);
		if (rc != 0)
			return rc;
		if (x == 0)
			return fail(ld, f, "%s out of range: 0 (expected 1..%u)", what,
				    lim->max_groups);
		if (x > lim->max_groups)
			return fail(ld, f, "max_groups %" PRIu64 " %s is over limits.max_groups (%u)",
				    x, vc.ctx, lim->max_groups);
		v->max_groups = (uint32_t)x;
	}
	return 0;
}

static int
load_views(struct loader *ld, const yaml_node_t *root, const yaml_node_t *n)
{
	struct sl_config *cfg = ld->cfg;
	const yaml_node_t *retention_node = map_get(ld, root, "retention");
	unsigned int count;
	int rc;

	if (n == NULL)
		return fail(ld, root, "missing required field 'views' (a list; may be empty: views: [])");
	rc = expect(ld, n, YAML_SEQUENCE_NODE, "views");
	if (rc != 0)
		return rc;
	count = seq_len(n);
	if (count > cfg->limits.max_views)
		return fail(ld, seq_item(ld, n, cfg->limits.max_views),
			    "more views (%u) than limits.max_views (%u)", count,
			    cfg->limits.max_views);
	cfg->views = arena_alloc(ld->arena, (count ? count : 1) * sizeof(*cfg->views));
	if (cfg->views == NULL)
		return fail_nomem(ld);
	for (unsigned int i = 0; i < count; i++) {
		const yaml_node_t *vn = seq_item(ld, n, i);
		struct sl_config_view *v = &cfg->views[i];

		rc = load_view(ld, vn, i, retention_node, v);
		if (rc != 0)
			return rc;
		for (unsigned int j = 0; j < i; j++) {
			if (strcmp(cfg->views[j].name, v->name) == 0)
				return fail(ld, map_get(ld, vn, "name"),
					    "duplicate view name '%s' (first at line %u)", v->name,
					    cfg->views[j].line);
		}
		cfg->n_views++;
	}
	return 0;
}

static int
load_root(struct loader *ld, const yaml_node_t *root)
{
	static const char *const fields[] = { "version", "inputs", "limits", "retention", "rules",
					      "views", NULL };
	const yaml_node_t *n;
	uint64_t version;
	int rc;

	if (root == NULL || is_null(root)) {
		fail(ld, root, "empty configuration (expected a mapping that starts with "
		     "'version: 1')");
		if (ld->err != NULL && ld->err->line == 0)
			ld->err->line = ld->err->column = 1;
		return -EINVAL;
	}
	rc = expect(ld, root, YAML_MAPPING_NODE, "the configuration");
	if (rc != 0)
		return rc;

	/*
	 * Fixed order, whatever the file's. The version comes first: it decides
	 * how to read the rest, so a newer file gets "unsupported version" rather
	 * than "unknown field".
	 */
	if ((n = map_get(ld, root, "version")) == NULL)
		return fail(ld, root, "missing required field 'version' (this sluice reads version: %u)",
			    SL_CONFIG_VERSION);
	rc = get_uint(ld, n, "version", 0, UINT32_MAX, &version);
	if (rc != 0)
		return rc;
	if (version != SL_CONFIG_VERSION)
		return fail(ld, n, "unsupported version %" PRIu64 " (this sluice reads version: %u)",
			    version, SL_CONFIG_VERSION);
	ld->cfg->version = SL_CONFIG_VERSION;
	rc = check_fields(ld, root, fields, "at top level");
	if (rc != 0)
		return rc;
	rc = load_limits(ld, map_get(ld, root, "limits"));
	if (rc != 0)
		return rc;
	if ((n = map_get(ld, root, "retention")) != NULL) {
		rc = get_duration(ld, n, "retention", 0, RETENTION_MAX_NS, &ld->cfg->retention_ns);
		if (rc != 0)
			return rc;
	}
	rc = load_inputs(ld, map_get(ld, root, "inputs"));
	if (rc != 0)
		return rc;
	/* Before the views: their where may name the rules' tags. */
	rc = load_rules(ld, map_get(ld, root, "rules"));
	if (rc != 0)
		return rc;
	return load_views(ld, root, map_get(ld, root, "views"));
}

/* ---- entry points ---- */

static void
yaml_fail(struct sl_config_error *err, const yaml_parser_t *p, const char *text, size_t len)
{
	size_t line = p->problem_mark.line, col = p->problem_mark.column;

	if (p->error == YAML_READER_ERROR) {
		/* Reader errors (bad encoding) give a byte offset, not a mark. */
		line = 0;
		col = 0;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (text[i] == '\n') {
				line++;
				col = 0;
			} else {
				col++;
			}
		}
	}
	if (err == NULL)
		return;
	err->line = (unsigned int)line + 1;
	err->column = (unsigned int)col + 1;
	if (p->error == YAML_MEMORY_ERROR)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	else if (p->context != NULL)
		snprintf(err->msg, sizeof(err->msg), "YAML syntax error: %s (%s)",
			 p->problem ? p->problem : "?", p->context);
	else
		snprintf(err->msg, sizeof(err->msg), "YAML syntax error: %s",
			 p->problem ? p->problem : "?");
}

int
sl_config_load_string(const char *yaml, size_t len, const char *name, struct sl_config **ret,
		      struct sl_config_error *err)
{
	struct loader ld = { .err = err };
	yaml_document_t extra;
	yaml_parser_t parser;
	bool have_doc = false;
	int rc;

	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", name != NULL ? name : "<string>");
	}
	ld.arena = calloc(1, sizeof(*ld.arena));
	if (ld.arena == NULL || (ld.cfg = arena_alloc(ld.arena, sizeof(*ld.cfg))) == NULL) {
		arena_destroy(ld.arena);
		return fail_nomem(&ld);
	}
	ld.cfg->arena = ld.arena;

	if (!yaml_parser_initialize(&parser)) {
		arena_destroy(ld.arena);
		return fail_nomem(&ld);
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &ld.doc)) {
		yaml_fail(err, &parser, yaml, len);
		rc = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		goto out;
	}
	have_doc = true;
	/* One document only: a second one would be silently ignored otherwise. */
	if (!yaml_parser_load(&parser, &extra)) {
		yaml_fail(err, &parser, yaml, len);
		rc = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		rc = fail(&ld, yaml_document_get_root_node(&extra),
			  "more than one YAML document (expected one configuration)");
		yaml_document_delete(&extra);
		goto out;
	}
	yaml_document_delete(&extra);

	rc = load_root(&ld, yaml_document_get_root_node(&ld.doc));
out:
	if (have_doc)
		yaml_document_delete(&ld.doc);
	yaml_parser_delete(&parser);
	if (rc != 0) {
		arena_destroy(ld.arena);
		return rc;
	}
	*ret = ld.cfg;
	return 0;
}

int
sl_config_load_file(const char *path, struct sl_config **ret, struct sl_config_error *err)
{
	bool is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "<stdin>" : path;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	FILE *f;
	int rc;

	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", name);
	}
	f = is_stdin ? stdin : fopen(path, "re");
	if (f == NULL) {
		rc = -errno;
		fail_nopos(err, "cannot open: %s", strerror(-rc));
		return rc;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			if (cap >= SL_CONFIG_FILE_MAX) {
				rc = -EFBIG;
				fail_nopos(err, "file too large (over %u bytes)", SL_CONFIG_FILE_MAX);
				goto out;
			}
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				rc = -ENOMEM;
				fail_nopos(err, "out of memory");
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		fail_nopos(err, "cannot read: %s", strerror(-rc));
		goto out;
	}
	rc = sl_config_load_string(buf, len, name, ret, err);
out:
	free(buf);
	if (!is_stdin)
		fclose(f);
	return rc;
}

/* ---- default ---- */

static const char default_yaml[] =
	"# sluice built-in default configuration: the retail views.\n"
	"# 'sluicectl config default' prints it; docs/configuration.md explains every field.\n"
	"version: 1\n"
	"inputs:                      # UDP destination port -> format\n"
	"  - {format: statsd, port: 8125}\n"
	"  - {format: json, port: 8127}\n"
	"  - {format: binary, port: 8128}\n"
	"limits:\n"
	"  max_groups: 100000         # per view, per core, per window (1..16777216)\n"
	"  max_set_members: 65536     # per core per window (1..67108864)\n"
	"  max_views: 64              # 1..256\n"
	"  max_rules: 10000           # 1..100000\n"
	"  max_matches_per_event: 16  # rules applied to one event (1..1024)\n"
	"retention: 7d                # default retention of every view (duration; 0 = forever)\n"
	"# rules:                     # Hyperscan patterns over every event (docs/rules.md)\n"
	"#   - id: coupon_abuse       # [a-z0-9_]{1,64}, unique\n"
	"#     pattern: 'coupon=[A-Z]{4}-FREE'\n"
	"#     on: raw                # raw (the line as received) or a field name\n"
	"#     flags: [caseless]      # caseless, dotall, multiline, singlematch, utf8, ucp\n"
	"#     action: tag            # tag | drop | count\n"
	"#     tag: abuse             # views filter on it: where: {tags: abuse}\n"
	"views:\n"
	"  - name: footfall           # [a-z0-9_]{1,32}, unique\n"
	"    where:                   # all conditions must hold (AND)\n"
	"      event: visit           # the event name equals\n"
	"      # store: [s01, s02]    # a dimension is in a set (a list)\n"
	"      # coupon: {exists: true}   # a dimension exists / does not exist\n"
	"    group_by: [store]        # 0..4 dimension names\n"
	"    window: {size: 10s}      # tumbling; or {size: 1m, slide: 10s} for sliding\n"
	"    time: event              # event (default) | arrival\n"
	"    allowed_lateness: 30s    # event time only; default 0\n"
	"    keep_late: true          # count late events per window (default false)\n"
	"    aggregates: [count, \"distinct(user)\"]\n"
	"    retention: 24h           # optional per view\n"
	"    max_groups: 10000        # optional per view, <= limits.max_groups\n"
	"  - name: sales\n"
	"    where: {event: purchase}\n"
	"    group_by: [store]\n"
	"    window: {size: 10s}\n"
	"    allowed_lateness: 30s\n"
	"    keep_late: true\n"
	"    max_groups: 10000\n"
	"    aggregates: [count, \"sum(amount)\", \"avg(amount)\", \"min(amount)\", \"max(amount)\",\n"
	"                 \"last(amount)\", \"quantiles(amount, [0.5, 0.9, 0.99])\"]\n"
	"  - name: popular\n"
	"    where: {event: purchase}\n"
	"    group_by: [store]\n"
	"    window: {size: 10s}\n"
	"    allowed_lateness: 30s\n"
	"    keep_late: true\n"
	"    max_groups: 10000\n"
	"    aggregates: [\"topk(sku, 10)\"]\n";

const char *
sl_config_default_yaml(void)
{
	return default_yaml;
}

/* ---- dump ---- */

static void
dump_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* A name ([a-z0-9_] or a field name): plain, unless YAML would read it as null. */
static void
dump_name(FILE *f, const char *s)
{
	if (strcmp(s, "null") == 0)
		dump_quoted(f, s);
	else
		fputs(s, f);
}

static void
dump_rule(FILE *f, const struct sl_config_rule *r)
{
	bool first = true;

	fputs("  - id: ", f);
	dump_name(f, r->id);
	fputs("\n    pattern: ", f);
	dump_quoted(f, r->pattern);
	fputs("\n    on: ", f);
	dump_name(f, r->on);
	fputs("\n    flags: [", f);
	for (unsigned int i = 0; i < SL_CONFIG_RULE_FLAG__MAX; i++) {
		if (r->flags & (1u << i)) {
			fprintf(f, "%s%s", first ? "" : ", ", flag_names[i]);
			first = false;
		}
	}
	fprintf(f, "]\n    action: %s\n", action_names[r->action]);
	if (r->action == SL_CONFIG_RULE_TAG) {
		fputs("    tag: ", f);
		dump_name(f, r->tag);
		fputc('\n', f);
	}
}

static void
dump_agg(FILE *f, const struct sl_config_agg *a)
{
	char q[32];

	if (agg_defs[a->kind].args == 0) {
		fputs(agg_defs[a->kind].name, f); /* a plain word: no quotes */
		return;
	}
	fputc('"', f);
	switch (agg_defs[a->kind].args) {
	case 'q':
		fprintf(f, "quantiles(%s, [", a->field);
		for (uint32_t i = 0; i < a->n_quantiles; i++) {
			fmt_double(a->quantiles[i], q, sizeof(q));
			fprintf(f, "%s%s", i ? ", " : "", q);
		}
		fputs("])", f);
		break;
	case 'k':
		fprintf(f, "topk(%s, %u)", a->field, a->k);
		break;
	default:
		fprintf(f, "%s(%s)", agg_defs[a->kind].name, a->field);
		break;
	}
	fputc('"', f);
}

static void
dump_view(FILE *f, const struct sl_config_view *v)
{
	char d[32];

	fprintf(f, "  - name: %s\n", v->name);
	if (v->n_where == 0)
		fputs("    where: {}\n", f);
	else
		fputs("    where:\n", f);
	for (uint32_t i = 0; i < v->n_where; i++) {
		const struct sl_config_cond *c = &v->where[i];

		fprintf(f, "      %s: ", c->dim);
		switch (c->kind) {
		case SL_CONFIG_COND_EQ:
			dump_quoted(f, c->values[0]);
			break;
		case SL_CONFIG_COND_IN:
			fputc('[', f);
			for (uint32_t j = 0; j < c->n_values; j++) {
				if (j > 0)
					fputs(", ", f);
				dump_quoted(f, c->values[j]);
			}
			fputc(']', f);
			break;
		default:
			fprintf(f, "{exists: %s}", c->kind == SL_CONFIG_COND_EXISTS ? "true" : "false");
			break;
		}
		fputc('\n', f);
	}
	fputs("    group_by: [", f);
	for (uint32_t i = 0; i < v->n_group_by; i++)
		fprintf(f, "%s%s", i ? ", " : "", v->group_by[i]);
	fputs("]\n", f);
	sl_config_duration_fmt(v->window_size_ns, d, sizeof(d));
	fprintf(f, "    window: {size: %s", d);
	if (v->window_slide_ns != v->window_size_ns) {
		sl_config_duration_fmt(v->window_slide_ns, d, sizeof(d));
		fprintf(f, ", slide: %s", d);
	}
	fputs("}\n", f);
	fprintf(f, "    time: %s\n", time_names[v->time]);
	if (v->time == SL_CONFIG_TIME_EVENT) {
		sl_config_duration_fmt(v->allowed_lateness_ns, d, sizeof(d));
		fprintf(f, "    allowed_lateness: %s\n", d);
		fprintf(f, "    keep_late: %s\n", v->keep_late ? "true" : "false");
	}
	fputs("    aggregates: [", f);
	for (uint32_t i = 0; i < v->n_aggs; i++) {
		if (i > 0)
			fputs(", ", f);
		dump_agg(f, &v->aggs[i]);
	}
	fputs("]\n", f);
	sl_config_duration_fmt(v->retention_ns, d, sizeof(d));
	fprintf(f, "    retention: %s\n", d);
	fprintf(f, "    max_groups: %u\n", v->max_groups);
}

int
sl_config_dump(const struct sl_config *cfg, FILE *f)
{
	char d[32];

	fprintf(f, "version: %u\n", cfg->version);
	fputs("inputs:\n", f);
	for (uint32_t i = 0; i < cfg->n_inputs; i++)
		fprintf(f, "  - {format: %s, port: %u}\n", format_names[cfg->inputs[i].format],
			cfg->inputs[i].port);
	fprintf(f, "limits:\n  max_groups: %u\n  max_set_members: %u\n  max_views: %u\n",
		cfg->limits.max_groups, cfg->limits.max_set_members, cfg->limits.max_views);
	fprintf(f, "  max_rules: %u\n  max_matches_per_event: %u\n", cfg->limits.max_rules,
		cfg->limits.max_matches_per_event);
	sl_config_duration_fmt(cfg->retention_ns, d, sizeof(d));
	fprintf(f, "retention: %s\n", d);
	fputs(cfg->n_rules == 0 ? "rules: []\n" : "rules:\n", f);
	for (uint32_t i = 0; i < cfg->n_rules; i++)
		dump_rule(f, &cfg->rules[i]);
	fputs(cfg->n_views == 0 ? "views: []\n" : "views:\n", f);
	for (uint32_t i = 0; i < cfg->n_views; i++)
		dump_view(f, &cfg->views[i]);
	return ferror(f) ? -EIO : 0;
}

/* Does the where of @p v name tag @p tag (tags: tag, or tags: [..., tag, ...])? */
static bool
view_uses_tag(const struct sl_config_view *v, const char *tag)
{
	for (uint32_t i = 0; i < v->n_where; i++) {
		const struct sl_config_cond *c = &v->where[i];

		if (strcmp(c->dim, SL_CONFIG_TAGS_DIM) != 0)
			continue;
		for (uint32_t j = 0; j < c->n_values; j++) {
			if (strcmp(c->values[j], tag) == 0)
				return true;
		}
	}
	return false;
}

int
sl_config_dump_view(const struct sl_config *cfg, uint32_t i, FILE *f)
{
	struct sl_config one;
	struct sl_config_rule *rules;
	int rc;

	if (i >= cfg->n_views)
		return -EINVAL;
	one = *cfg;
	one.views = &cfg->views[i];
	one.n_views = 1;
	rules = calloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*rules));
	if (rules == NULL)
		return -ENOMEM;
	one.rules = rules;
	one.n_rules = 0;
	for (uint32_t j = 0; j < cfg->n_rules; j++) {
		const struct sl_config_rule *r = &cfg->rules[j];

		if (r->action == SL_CONFIG_RULE_TAG && view_uses_tag(one.views, r->tag))
			rules[one.n_rules++] = *r;
	}
	rc = sl_config_dump(&one, f);
	free(rules);
	return rc;
}

/* ---- equality ---- */

static bool
rule_equal(const struct sl_config_rule *a, const struct sl_config_rule *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->pattern, b->pattern) == 0 &&
	       strcmp(a->on, b->on) == 0 && a->flags == b->flags && a->action == b->action &&
	       (a->tag == NULL) == (b->tag == NULL) &&
	       (a->tag == NULL || strcmp(a->tag, b->tag) == 0);
}

static bool
cond_equal(const struct sl_config_cond *a, const struct sl_config_cond *b)
{
	if (a->kind != b->kind || strcmp(a->dim, b->dim) != 0 || a->n_values != b->n_values)
		return false;
	for (uint32_t i = 0; i < a->n_values; i++) {
		if (strcmp(a->values[i], b->values[i]) != 0)
			return false;
	}
	return true;
}

static bool
agg_equal(const struct sl_config_agg *a, const struct sl_config_agg *b)
{
	if (a->kind != b->kind || a->k != b->k || a->n_quantiles != b->n_quantiles ||
	    strcmp(a->key, b->key) != 0)
		return false;
	if ((a->field == NULL) != (b->field == NULL) ||
	    (a->field != NULL && strcmp(a->field, b->field) != 0))
		return false;
	for (uint32_t i = 0; i < a->n_quantiles; i++) {
		if (a->quantiles[i] != b->quantiles[i])
			return false;
	}
	return true;
}

static bool
view_equal(const struct sl_config_view *a, const struct sl_config_view *b)
{
	if (strcmp(a->name, b->name) != 0 || a->n_where != b->n_where ||
	    a->n_group_by != b->n_group_by || a->window_size_ns != b->window_size_ns ||
	    a->window_slide_ns != b->window_slide_ns || a->time != b->time ||
	    a->allowed_lateness_ns != b->allowed_lateness_ns || a->keep_late != b->keep_late ||
	    a->n_aggs != b->n_aggs || a->retention_ns != b->retention_ns ||
	    a->max_groups != b->max_groups)
		return false;
	for (uint32_t i = 0; i < a->n_where; i++) {
		if (!cond_equal(&a->where[i], &b->where[i]))
			return false;
	}
	for (uint32_t i = 0; i < a->n_group_by; i++) {
		if (strcmp(a->group_by[i], b->group_by[i]) != 0)
			return false;
	}
	for (uint32_t i = 0; i < a->n_aggs; i++) {
		if (!agg_equal(&a->aggs[i], &b->aggs[i]))
			return false;
	}
	return true;
}

bool
sl_config_equal(const struct sl_config *a, const struct sl_config *b)
{
	if (a->version != b->version || a->n_inputs != b->n_inputs ||
	    a->limits.max_groups != b->limits.max_groups ||
	    a->limits.max_set_members != b->limits.max_set_members ||
	    a->limits.max_views != b->limits.max_views || a->retention_ns != b->retention_ns ||
	    a->limits.max_rules != b->limits.max_rules ||
	    a->limits.max_matches_per_event != b->limits.max_matches_per_event ||
	    a->n_views != b->n_views || a->n_rules != b->n_rules)
		return false;
	for (uint32_t i = 0; i < a->n_rules; i++) {
		if (!rule_equal(&a->rules[i], &b->rules[i]))
			return false;
	}
	for (uint32_t i = 0; i < a->n_inputs; i++) {
		if (a->inputs[i].format != b->inputs[i].format ||
		    a->inputs[i].port != b->inputs[i].port)
			return false;
	}
	for (uint32_t i = 0; i < a->n_views; i++) {
		if (!view_equal(&a->views[i], &b->views[i]))
			return false;
	}
	return true;
}

int
sl_config_size_parse(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0' || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}
