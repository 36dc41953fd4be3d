/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of dataplane/config.c: the built-in default, every rejection
 * (table-driven: each broken configuration with the line of the error and a
 * piece of its message), limits at their edges, durations, the canonical
 * dump (dump -> load gives an equal configuration, and dumping again gives the
 * same text) and every truncation of the default.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sl_test.h"

#define NS_S 1000000000ULL

static int
load(const char *yaml, struct sl_config **ret, struct sl_config_error *err)
{
	return sl_config_load_string(yaml, strlen(yaml), "t.yaml", ret, err);
}

/* Dump @p cfg to a malloc'ed string. */
static char *
dump_str(const struct sl_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	if (sl_config_dump(cfg, f) != 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* ---- the default ---- */

SL_TEST(default_loads_with_the_retail_views)
{
	static const uint16_t ports[] = { 8125, 8127, 8128 };
	static const enum sl_config_format formats[] = {
		SL_CONFIG_FORMAT_STATSD, SL_CONFIG_FORMAT_JSON, SL_CONFIG_FORMAT_BINARY,
	};
	static const char *const sales_keys[] = {
		"count", "sum(amount)", "avg(amount)", "min(amount)", "max(amount)", "last(amount)",
		"quantiles(amount)",
	};
	const char *yaml = sl_config_default_yaml();
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	const struct sl_config_view *v;
	const struct sl_config_agg *q;

	SL_ASSERT_OK(sl_config_load_string(yaml, strlen(yaml), "<default>", &cfg, &err));
	SL_ASSERT_EQ(cfg->version, 1);
	SL_ASSERT_EQ(cfg->n_inputs, 3);
	for (unsigned int i = 0; i < 3; i++) {
		SL_ASSERT_EQ(cfg->inputs[i].port, ports[i]);
		SL_ASSERT_EQ(cfg->inputs[i].format, formats[i]);
	}
	SL_ASSERT_EQ(cfg->limits.max_groups, 100000);
	SL_ASSERT_EQ(cfg->limits.max_set_members, 65536);
	SL_ASSERT_EQ(cfg->limits.max_views, 64);
	SL_ASSERT_EQ(cfg->retention_ns, 7 * 86400 * NS_S);
	SL_ASSERT_EQ(cfg->n_views, 3);

	v = &cfg->views[0];
	SL_ASSERT_STR_EQ(v->name, "footfall");
	SL_ASSERT_EQ(v->n_where, 1);
	SL_ASSERT_EQ(v->where[0].kind, SL_CONFIG_COND_EQ);
	SL_ASSERT_STR_EQ(v->where[0].dim, "event");
	SL_ASSERT_EQ(v->where[0].n_values, 1);
	SL_ASSERT_STR_EQ(v->where[0].values[0], "visit");
	SL_ASSERT_EQ(v->n_group_by, 1);
	SL_ASSERT_STR_EQ(v->group_by[0], "store");
	SL_ASSERT_EQ(v->window_size_ns, 10 * NS_S);
	SL_ASSERT_EQ(v->window_slide_ns, 10 * NS_S);
	SL_ASSERT_EQ(v->time, SL_CONFIG_TIME_EVENT);
	SL_ASSERT_EQ(v->allowed_lateness_ns, 30 * NS_S);
	SL_ASSERT(v->keep_late);
	SL_ASSERT_EQ(v->n_aggs, 2);
	SL_ASSERT_EQ(v->aggs[0].kind, SL_CONFIG_AGG_COUNT);
	SL_ASSERT_NULL(v->aggs[0].field);
	SL_ASSERT_STR_EQ(v->aggs[0].key, "count");
	SL_ASSERT_EQ(v->aggs[1].kind, SL_CONFIG_AGG_DISTINCT);
	SL_ASSERT_STR_EQ(v->aggs[1].field, "user");
	SL_ASSERT_STR_EQ(v->aggs[1].key, "distinct(user)");
	SL_ASSERT_EQ(v->retention_ns, 24 * 3600 * NS_S);
	SL_ASSERT_EQ(v->max_groups, 10000);

	v = &cfg->views[1];
	SL_ASSERT_STR_EQ(v->name, "sales");
	SL_ASSERT_STR_EQ(v->where[0].values[0], "purchase");
	SL_ASSERT_EQ(v->time, SL_CONFIG_TIME_EVENT);
	SL_ASSERT_EQ(v->allowed_lateness_ns, 30 * NS_S);
	SL_ASSERT(v->keep_late);
	SL_ASSERT_EQ(v->retention_ns, 7 * 86400 * NS_S); /* the file's default */
	SL_ASSERT_EQ(v->max_groups, 10000);
	SL_ASSERT_EQ(v->n_aggs, 7);
	for (unsigned int i = 0; i < 7; i++)
		SL_ASSERT_STR_EQ(v->aggs[i].key, sales_keys[i]);
	SL_ASSERT_EQ(v->aggs[1].kind, SL_CONFIG_AGG_SUM);
	SL_ASSERT_EQ(v->aggs[2].kind, SL_CONFIG_AGG_AVG);
	SL_ASSERT_EQ(v->aggs[3].kind, SL_CONFIG_AGG_MIN);
	SL_ASSERT_EQ(v->aggs[4].kind, SL_CONFIG_AGG_MAX);
	SL_ASSERT_EQ(v->aggs[5].kind, SL_CONFIG_AGG_LAST);
	q = &v->aggs[6];
	SL_ASSERT_EQ(q->kind, SL_CONFIG_AGG_QUANTILES);
	SL_ASSERT_STR_EQ(q->field, "amount");
	SL_ASSERT_EQ(q->n_quantiles, 3);
	SL_ASSERT_DBL_EQ(q->quantiles[0], 0.5);
	SL_ASSERT_DBL_EQ(q->quantiles[1], 0.9);
	SL_ASSERT_DBL_EQ(q->quantiles[2], 0.99);

	v = &cfg->views[2];
	SL_ASSERT_STR_EQ(v->name, "popular");
	SL_ASSERT_EQ(v->time, SL_CONFIG_TIME_EVENT);
	SL_ASSERT_EQ(v->allowed_lateness_ns, 30 * NS_S);
	SL_ASSERT(v->keep_late);
	SL_ASSERT_EQ(v->retention_ns, 7 * 86400 * NS_S);
	SL_ASSERT_EQ(v->max_groups, 10000);
	SL_ASSERT_EQ(v->n_aggs, 1);
	SL_ASSERT_EQ(v->aggs[0].kind, SL_CONFIG_AGG_TOPK);
	SL_ASSERT_STR_EQ(v->aggs[0].field, "sku");
	SL_ASSERT_EQ(v->aggs[0].k, 10);
	SL_ASSERT_STR_EQ(v->aggs[0].key, "topk(sku,10)");
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

/* ---- every rejection, with its line and message ---- */

/* Lines 1-3 of most cases; the view's own fields start on line 4. */
#define HDR "version: 1\nviews:\n  - name: sales\n"
#define WIN "    window: {size: 10s}\n"
#define AGG "    aggregates: [count]\n"
/* Rules start on line 3; RV ends a file of rules without views. */
#define RHDR "version: 1\nrules:\n"
#define RV "views: []\n"
#define R1 "  - {id: r1, pattern: abc, on: raw, action: count"
/* 4097 bytes */
#define P16 "aaaaaaaaaaaaaaaa"
#define P256 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16
#define P4096 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256
/* A view whose where uses tags, after rules that define tag 'abuse' (lines 3-4). */
#define TAGRULES RHDR "  - {id: r1, pattern: abc, on: raw, action: tag, tag: abuse}\n" \
		 "  - {id: r2, pattern: def, on: raw, action: count}\nviews:\n  - name: sales\n"

static const struct bad_case {
	const char *yaml;
	unsigned int line;
	const char *msg;
} bad_cases[] = {
	/* YAML syntax, with libyaml's position */
	{ "version: 1\nviews: [\n", 3, "YAML syntax error: did not find expected node content" },
	{ "version: 1\nviews: x: y\n", 2, "YAML syntax error: mapping values are not allowed" },
	{ "version: 1\n  views: []\n", 2, "YAML syntax error" },
	{ "version: 1\nviews: *nope\n", 2, "YAML syntax error: found undefined alias" },
	{ "version: 1\nviews: [\"\xff\"]\n", 2, "YAML syntax error: invalid leading UTF-8 octet" },
	{ "version: 1\nviews: []\n---\nversion: 1\n", 4, "more than one YAML document" },
	/* the top level */
	{ "", 1, "empty configuration" },
	{ "# only a comment\n", 1, "empty configuration" },
	{ "- version: 1\n", 1, "wrong type for the configuration: expected a mapping, got a list" },
	{ "views: []\n", 1, "missing required field 'version'" },
	{ "version: 2\nviews: []\n", 1, "unsupported version 2 (this sluice reads version: 1)" },
	{ "version: 2\nrules: []\nviews: []\n", 1, "unsupported version 2" },
	{ "version: one\nviews: []\n", 1, "wrong type for version: expected a number, got 'one'" },
	{ "version: \"1\"\nviews: []\n", 1, "wrong type for version: expected a number, got a quoted string '1'" },
	{ "version: 1\n", 1, "missing required field 'views'" },
	{ "version: 1\nview: []\n", 2, "unknown field 'view' at top level (did you mean 'views'?)" },
	{ "version: 1\nwindows: []\nviews: []\n", 2, "unknown field 'windows' at top level (expected version, inputs" },
	{ "version: 1\nviews: []\nversion: 1\n", 3, "duplicate field 'version' at top level (first at line 1)" },
	{ "version: 1\nviews: {}\n", 2, "wrong type for views: expected a list, got a mapping" },
	{ "version: 1\nretention: 7 days\nviews: []\n", 2, "bad duration '7 days' for retention" },
	{ "version: 1\nretention: -1d\nviews: []\n", 2, "bad duration '-1d'" },
	/* limits */
	{ "version: 1\nlimits:\n  max_groups: 0\nviews: []\n", 3, "limits.max_groups out of range: 0 (expected 1..16777216)" },
	{ "version: 1\nlimits:\n  max_groups: 16777217\nviews: []\n", 3, "limits.max_groups out of range: 16777217 (expected 1..16777216)" },
	{ "version: 1\nlimits:\n  max_groups: -5\nviews: []\n", 3, "limits.max_groups out of range: -5" },
	{ "version: 1\nlimits:\n  max_groups: lots\nviews: []\n", 3, "wrong type for limits.max_groups: expected a number, got 'lots'" },
	{ "version: 1\nlimits:\n  max_groups: 1.5\nviews: []\n", 3, "expected a whole number, got '1.5'" },
	{ "version: 1\nlimits:\n  max_set_members: 67108865\nviews: []\n", 3, "limits.max_set_members out of range: 67108865 (expected 1..67108864)" },
	{ "version: 1\nlimits:\n  max_views: 257\nviews: []\n", 3, "limits.max_views out of range: 257 (expected 1..256)" },
	{ "version: 1\nlimits:\n  max_view: 2\nviews: []\n", 3, "unknown field 'max_view' in limits (did you mean 'max_views'?)" },
	{ "version: 1\nlimits: 100\nviews: []\n", 2, "wrong type for limits: expected a mapping, got '100'" },
	/* inputs */
	{ "version: 1\ninputs:\n  - {format: statsd, port: 8125}\n  - {format: json, port: 8125}\nviews: []\n", 4, "duplicate input port 8125 (first at line 3)" },
	{ "version: 1\ninputs:\n  - {format: xml, port: 9000}\nviews: []\n", 3, "unknown format 'xml' for inputs[1].format (expected statsd, json or binary)" },
	{ "version: 1\ninputs:\n  - {format: json}\nviews: []\n", 3, "missing required field 'port' in inputs[1]" },
	{ "version: 1\ninputs:\n  - {port: 1}\nviews: []\n", 3, "missing required field 'format' in inputs[1]" },
	{ "version: 1\ninputs:\n  - {format: json, port: 0}\nviews: []\n", 3, "inputs[1].port out of range: 0 (expected 1..65535)" },
	{ "version: 1\ninputs:\n  - {format: json, port: 65536}\nviews: []\n", 3, "inputs[1].port out of range: 65536" },
	{ "version: 1\ninputs:\n  - {format: json, port: 1, proto: udp}\nviews: []\n", 3, "unknown field 'proto' in inputs[1]" },
	{ "version: 1\ninputs: []\nviews: []\n", 2, "inputs is empty" },
	{ "version: 1\ninputs: {format: json, port: 1}\nviews: []\n", 2, "wrong type for inputs: expected a list, got a mapping" },
	/* views: names and fields */
	{ "version: 1\nviews:\n  - window: {size: 10s}\n    aggregates: [count]\n", 3, "missing required field 'name' in views[1]" },
	{ "version: 1\nviews:\n  - name: Sales\n" WIN AGG, 3, "bad view name 'Sales' (expected [a-z0-9_], 1 to 32 characters)" },
	{ "version: 1\nviews:\n  - name: a23456789012345678901234567890123\n" WIN AGG, 3, "bad view name" },
	{ "version: 1\nviews:\n  - sales\n", 3, "wrong type for views[1]: expected a mapping, got 'sales'" },
	{ HDR WIN AGG "  - name: sales\n" WIN AGG, 6, "duplicate view name 'sales' (first at line 3)" },
	{ HDR WIN "    agregates: [count]\n", 5, "unknown field 'agregates' in view 'sales' (did you mean 'aggregates'?)" },
	{ HDR WIN AGG "    window: {size: 1m}\n", 6, "duplicate field 'window' in view 'sales' (first at line 4)" },
	{ HDR AGG, 3, "missing required field 'window' in view 'sales'" },
	{ HDR WIN, 3, "missing required field 'aggregates' in view 'sales'" },
	{ "version: 1\nlimits: {max_views: 1}\nviews:\n  - name: a\n" WIN AGG "  - name: b\n" WIN AGG, 7, "more views (2) than limits.max_views (1)" },
	/* where */
	{ HDR "    where: [event, visit]\n" WIN AGG, 4, "wrong type for where in view 'sales': expected a mapping, got a list" },
	{ HDR "    where:\n      event:\n" WIN AGG, 5, "wrong type for where.event in view 'sales': expected a value, a list of values or {exists: true|false}, got nothing" },
	{ HDR "    where: {store: []}\n" WIN AGG, 4, "empty list for where.store in view 'sales'" },
	{ HDR "    where: {store: [s1, s2, s1]}\n" WIN AGG, 4, "duplicate value 's1' for where.store" },
	{ HDR "    where: {store: [s1, [s2]]}\n" WIN AGG, 4, "wrong type for where.store in view 'sales': expected a string, got a list" },
	{ HDR "    where: {coupon: {exists: maybe}}\n" WIN AGG, 4, "wrong type for where.coupon.exists in view 'sales': expected true or false, got 'maybe'" },
	{ HDR "    where: {coupon: {exist: true}}\n" WIN AGG, 4, "unknown field 'exist' in where.coupon in view 'sales' (did you mean 'exists'?)" },
	{ HDR "    where: {coupon: {}}\n" WIN AGG, 4, "missing required field 'exists' in where.coupon" },
	{ HDR "    where: {\"store name\": s1}\n" WIN AGG, 4, "bad dimension name 'store name'" },
	{ HDR "    where: {tag: fraud}\n" WIN AGG, 4, "'tag' in where in view 'sales' is reserved: rule tags are 'tags'" },
	/* where on tags, and tags in group_by */
	{ HDR "    where: {tags: abuse}\n" WIN AGG, 4, "unknown tag 'abuse' in where.tags in view 'sales' (no rule defines a tag)" },
	{ TAGRULES "    where: {tags: fraud}\n" WIN AGG, 7, "unknown tag 'fraud' in where.tags in view 'sales' (rules define: abuse)" },
	{ TAGRULES "    where:\n      tags: [abuse, r2]\n" WIN AGG, 8, "unknown tag 'r2' in where.tags in view 'sales'" },
	{ TAGRULES "    where: {tags: {exist: true}}\n" WIN AGG, 7, "unknown field 'exist' in where.tags in view 'sales'" },
	{ TAGRULES "    group_by: [store, tags]\n" WIN AGG, 7, "'tags' cannot be in group_by in view 'sales'" },
	{ HDR "    where:\n      event: visit\n      event: purchase\n" WIN AGG, 6, "duplicate field 'event' in where in view 'sales' (first at line 5)" },
	/* group_by */
	{ HDR "    group_by: store\n" WIN AGG, 4, "wrong type for group_by in view 'sales': expected a list, got 'store'" },
	{ HDR "    group_by: [a, b, c, d, e]\n" WIN AGG, 4, "too many dimensions in group_by in view 'sales': 5 (at most 4)" },
	{ HDR "    group_by: [store, store]\n" WIN AGG, 4, "duplicate dimension 'store' in group_by" },
	{ HDR "    group_by: [\"\"]\n" WIN AGG, 4, "bad dimension name ''" },
	/* window and time */
	{ HDR "    window: 10s\n" AGG, 4, "wrong type for window in view 'sales': expected a mapping, got '10s'" },
	{ HDR "    window: {size: 10x}\n" AGG, 4, "bad duration '10x' for window.size in view 'sales'" },
	{ HDR "    window: {size: 10s, slide: 3s}\n" AGG, 4, "window slide 3s does not divide size 10s in view 'sales'" },
	{ HDR "    window: {size: 10s, slide: 20s}\n" AGG, 4, "window slide 20s does not divide size 10s" },
	{ HDR "    window: {size: 24h, slide: 1s}\n" AGG, 4, "window in view 'sales' has 86400 slices (size 1d / slide 1s), at most 1000" },
	{ HDR "    window: {size: 500us}\n" AGG, 4, "window.size in view 'sales' out of range: 500us (expected 1ms..1d)" },
	{ HDR "    window: {size: 2d}\n" AGG, 4, "window.size in view 'sales' out of range: 2d" },
	{ HDR "    window: {slide: 1s}\n" AGG, 4, "missing required field 'size' in window in view 'sales'" },
	{ HDR "    window: {size: 10s, hop: 1s}\n" AGG, 4, "unknown field 'hop' in window in view 'sales'" },
	{ HDR WIN "    time: wall\n" AGG, 5, "unknown time 'wall' in view 'sales' (expected event or arrival)" },
	{ HDR WIN "    time: arrival\n    allowed_lateness: 5s\n" AGG, 6, "allowed_lateness in view 'sales' needs time: event" },
	{ HDR WIN "    time: arrival\n    keep_late: true\n" AGG, 6, "keep_late in view 'sales' needs time: event" },
	{ HDR WIN "    keep_late: yes\n" AGG, 5, "wrong type for keep_late in view 'sales': expected true or false, got 'yes'" },
	{ HDR WIN "    allowed_lateness: 2d\n" AGG, 5, "allowed_lateness in view 'sales' out of range: 2d (expected 0..1d)" },
	/* aggregates */
	{ HDR WIN "    aggregates: [\"median(x)\"]\n", 5, "unknown aggregate 'median(x)' in view 'sales' (expected count, sum(f)" },
	{ HDR WIN "    aggregates: [Count]\n", 5, "unknown aggregate 'Count'" },
	{ HDR WIN "    aggregates: [sum]\n", 5, "aggregate 'sum' in view 'sales' needs a field: sum(FIELD)" },
	{ HDR WIN "    aggregates: [\"avg()\"]\n", 5, "aggregate 'avg()' in view 'sales' needs a field: avg(FIELD)" },
	{ HDR WIN "    aggregates: [\"count(x)\"]\n", 5, "aggregate 'count(x)' in view 'sales' takes no field" },
	{ HDR WIN "    aggregates: [\"sum(a, b)\"]\n", 5, "aggregate 'sum(a, b)' in view 'sales' takes one field" },
	{ HDR WIN "    aggregates: [\"sum(amount\"]\n", 5, "bad aggregate 'sum(amount'" },
	{ HDR WIN "    aggregates: [\"quantiles(amount)\"]\n", 5, "needs a list of quantiles: quantiles(FIELD, [0.5, 0.9, 0.99])" },
	{ HDR WIN "    aggregates: [\"quantiles(amount, [0.5, 1.5])\"]\n", 5, "quantile 1.5 out of range in aggregate 'quantiles(amount, [0.5, 1.5])' in view 'sales' (expected 0 < q < 1)" },
	{ HDR WIN "    aggregates: [\"quantiles(amount, [0])\"]\n", 5, "quantile 0 out of range" },
	{ HDR WIN "    aggregates: [\"quantiles(amount, [1])\"]\n", 5, "quantile 1 out of range" },
	{ HDR WIN "    aggregates: [\"quantiles(amount, [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9])\"]\n", 5, "too many quantiles" },
	{ HDR WIN "    aggregates: [\"quantiles(amount, [0.5, 0.5])\"]\n", 5, "duplicate quantile 0.5" },
	{ HDR WIN "    aggregates: [\"quantiles(amount, [half])\"]\n", 5, "bad quantile" },
	{ HDR WIN "    aggregates: [\"topk(sku)\"]\n", 5, "needs k: topk(FIELD, K)" },
	{ HDR WIN "    aggregates: [\"topk(sku, 0)\"]\n", 5, "topk k out of range in aggregate 'topk(sku, 0)' in view 'sales' (expected 1..1000)" },
	{ HDR WIN "    aggregates: [\"topk(sku, 1001)\"]\n", 5, "topk k out of range" },
	{ HDR WIN "    aggregates: [\"topk(sku, 99999999999999999999)\"]\n", 5, "topk k out of range" },
	{ HDR WIN "    aggregates: [count, \"sum(a)\", count]\n", 5, "duplicate aggregate 'count' in view 'sales'" },
	{ HDR WIN "    aggregates: [\"quantiles(a, [0.5])\", \"quantiles(a, [0.9])\"]\n", 5, "duplicate aggregate 'quantiles(a)'" },
	{ HDR WIN "    aggregates: []\n", 5, "aggregates in view 'sales' is empty" },
	{ HDR WIN "    aggregates: [{sum: amount}]\n", 5, "wrong type for aggregates in view 'sales': expected a string, got a mapping" },
	{ HDR WIN "    aggregates:\n      - count\n      - \"sum(x y)\"\n", 7, "bad aggregate 'sum(x y)'" },
	/* rules */
	{ RHDR R1 ", flag: [caseless]}\n" RV, 3, "unknown field 'flag' in rule 'r1' (did you mean 'flags'?)" },
	{ RHDR R1 "}\n" R1 "}\n" RV, 4, "duplicate rule id 'r1' (first at line 3)" },
	{ RHDR R1 ", flags: [caseless, nocase]}\n" RV, 3, "unknown flag 'nocase' in rule 'r1' (expected caseless, dotall, multiline, singlematch, utf8, ucp)" },
	{ RHDR R1 ", flags: [utf8, ucp, utf8]}\n" RV, 3, "duplicate flag 'utf8' in rule 'r1'" },
	{ RHDR R1 ", flags: caseless}\n" RV, 3, "wrong type for flags in rule 'r1': expected a list, got 'caseless'" },
	{ RHDR "  - {id: r1, pattern: abc, on: raw, action: block}\n" RV, 3, "unknown action 'block' in rule 'r1' (expected tag, drop or count)" },
	{ RHDR "  - {id: r1, pattern: abc, on: raw, action: drop, tag: x}\n" RV, 3, "field 'tag' in rule 'r1' needs action: tag (the action is drop)" },
	{ RHDR R1 ", tag: x}\n" RV, 3, "field 'tag' in rule 'r1' needs action: tag (the action is count)" },
	{ "version: 1\nlimits: {max_rules: 2}\nrules:\n" R1 "}\n  - {id: r2, pattern: a, on: raw, action: count}\n  - {id: r3, pattern: a, on: raw, action: count}\n" RV, 6, "more rules (3) than limits.max_rules (2)" },
	{ RHDR "  - {id: r1, pattern: '" P4096 "a', on: raw, action: count}\n" RV, 3, "pattern in rule 'r1' too long: 4097 bytes (at most 4096)" },
	{ RHDR "  - {id: r1, pattern: '', on: raw, action: count}\n" RV, 3, "empty pattern in rule 'r1'" },
	{ RHDR "  - id: r1\n    pattern:\n    on: raw\n    action: count\n" RV, 4, "wrong type for pattern in rule 'r1': expected a string, got nothing" },
	{ RHDR "  - {id: r1, pattern: \"a\\tb\", on: raw, action: count}\n" RV, 3, "control character in pattern in rule 'r1' (write it as an escape such as \\n or \\x01)" },
	{ RHDR "  - {id: r1, pattern: \"a\\0b\", on: raw, action: count}\n" RV, 3, "control character in pattern in rule 'r1'" },
	{ RHDR "  - {id: Coupon, pattern: abc, on: raw, action: count}\n" RV, 3, "bad rule id 'Coupon' (expected [a-z0-9_], 1 to 64 characters)" },
	{ RHDR "  - {id: a2345678901234567890123456789012345678901234567890123456789012345, pattern: abc, on: raw, action: count}\n" RV, 3, "bad rule id" },
	{ RHDR "  - {pattern: abc, on: raw, action: count}\n" RV, 3, "missing required field 'id' in rules[1]" },
	{ RHDR "  - {id: r1, on: raw, action: count}\n" RV, 3, "missing required field 'pattern' in rule 'r1'" },
	{ RHDR "  - {id: r1, pattern: abc, action: count}\n" RV, 3, "missing required field 'on' in rule 'r1' (raw or a field name)" },
	{ RHDR "  - {id: r1, pattern: abc, on: raw}\n" RV, 3, "missing required field 'action' in rule 'r1' (tag, drop or count)" },
	{ RHDR "  - {id: r1, pattern: abc, on: \"a b\", action: count}\n" RV, 3, "bad field name 'a b' for on in rule 'r1' (expected raw or a field name" },
	{ RHDR "  - {id: r1, pattern: abc, on: raw, action: tag, tag: Abuse}\n" RV, 3, "bad tag 'Abuse' in rule 'r1' (expected [a-z0-9_], 1 to 64 characters)" },
	{ RHDR "  - id: r1\n    pattern: '(abc'\n    on: raw\n    action: count\n" RV, 4, "bad pattern in rule 'r1': Hyperscan: Missing close parenthesis for group started at index 0." },
	{ RHDR "  - {id: r1, pattern: '(a)\\1', on: raw, action: count}\n" RV, 3, "bad pattern in rule 'r1': Hyperscan: Back-references are unsupported." },
	{ RHDR "  - {id: r1, pattern: 'x*', on: raw, action: count}\n" RV, 3, "bad pattern in rule 'r1': it can match an empty string" },
	{ RHDR "  - {id: r1, pattern: '\\bfoo', on: raw, action: count, flags: [utf8, ucp]}\n" RV, 3, "bad pattern in rule 'r1': Hyperscan: \\b unsupported in UCP mode" },
	{ RHDR "  - id: r1\n    pattern: abc\n    on: raw\n    action: tag\n    tag:\n" RV, 7, "wrong type for tag in rule 'r1': expected a string, got nothing" },
	{ "version: 1\nrules: {id: r1}\n" RV, 2, "wrong type for rules: expected a list, got a mapping" },
	{ "version: 1\nrules: [abc]\n" RV, 2, "wrong type for rules[1]: expected a mapping, got 'abc'" },
	{ "version: 1\nrule: []\n" RV, 2, "unknown field 'rule' at top level (did you mean 'rules'?)" },
	{ "version: 1\nlimits:\n  max_rules: 0\n" RV, 3, "limits.max_rules out of range: 0 (expected 1..100000)" },
	{ "version: 1\nlimits:\n  max_rules: 100001\n" RV, 3, "limits.max_rules out of range: 100001 (expected 1..100000)" },
	{ "version: 1\nlimits:\n  max_matches_per_event: 0\n" RV, 3, "limits.max_matches_per_event out of range: 0 (expected 1..1024)" },
	{ "version: 1\nlimits:\n  max_matches_per_event: 1025\n" RV, 3, "limits.max_matches_per_event out of range: 1025" },
	{ "version: 1\nlimits:\n  max_matches: 5\n" RV, 3, "unknown field 'max_matches' in limits" },
	/* retention and max_groups */
	{ HDR WIN AGG "    retention: 5s\n", 6, "retention 5s of view 'sales' is shorter than its window (10s)" },
	{ "version: 1\nretention: 1s\nviews:\n  - name: sales\n" WIN AGG, 2, "retention 1s of view 'sales' is shorter than its window (10s)" },
	{ HDR WIN AGG "    max_groups: 100001\n", 6, "max_groups 100001 in view 'sales' is over limits.max_groups (100000)" },
	{ HDR WIN AGG "    max_groups: 0\n", 6, "max_groups in view 'sales' out of range: 0 (expected 1..100000)" },
};

SL_TEST(bad_configs_are_rejected_with_line_and_message)
{
	unsigned int failed = 0;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct sl_config_error err;
		struct sl_config *cfg = NULL;
		int rc = load(c->yaml, &cfg, &err);

		if (rc != -EINVAL || err.line != c->line || strstr(err.msg, c->msg) == NULL ||
		    strcmp(err.file, "t.yaml") != 0 || err.column == 0) {
			fprintf(stderr, "case %zu: rc %d, got %s:%u:%u: %s\n  want line %u: %s\n", i,
				rc, err.file, err.line, err.column, err.msg, c->line, c->msg);
			failed++;
		}
		if (rc == 0)
			sl_config_free(cfg);
	}
	SL_ASSERT_EQ(failed, 0);
	SL_ASSERT(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 20);
	return SL_TEST_PASS;
}

SL_TEST(error_column_points_at_the_node)
{
	struct sl_config_error err;
	struct sl_config *cfg = NULL;

	SL_ASSERT_EQ(load(HDR "    window: {size: 10s, slide: 3s}\n" AGG, &cfg, &err), -EINVAL);
	SL_ASSERT_EQ(err.line, 4);
	SL_ASSERT_EQ(err.column, 32); /* the "3s" */
	SL_ASSERT_EQ(load(HDR WIN "    agregates: [count]\n", &cfg, &err), -EINVAL);
	SL_ASSERT_EQ(err.column, 5);
	return SL_TEST_PASS;
}

SL_TEST(error_print_format)
{
	struct sl_config_error err = { .file = "a.yaml", .line = 7, .column = 3, .msg = "bad" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	SL_ASSERT_NOT_NULL(f);
	sl_config_error_print(&err, f);
	err.line = err.column = 0;
	sl_config_error_print(&err, f);
	fclose(f);
	SL_ASSERT_STR_EQ(buf, "a.yaml:7:3: bad\na.yaml: bad\n");
	free(buf);
	return SL_TEST_PASS;
}

/* ---- what is accepted ---- */

SL_TEST(every_feature_loads)
{
	static const char yaml[] =
		"version: 1\n"
		"inputs:\n"
		"  - format: json\n"
		"    port: 9000\n"
		"retention: 0\n"
		"views:\n"
		"  - name: all_events\n"
		"    window: {size: 1m, slide: 10s}\n"
		"    time: arrival\n"
		"    aggregates: [count, \"distinct( user )\", \" topk( sku ,5 ) \", \"quantiles(amount,[0.99,0.5])\"]\n"
		"  - name: v2\n"
		"    where:\n"
		"      store: [s01, \"s 02\", 'it''s', \"q\\\"\\\\\"]\n"
		"      coupon: {exists: true}\n"
		"      fraud: {exists: false}\n"
		"      event: 42\n"
		"    group_by: []\n"
		"    window: {size: 1.5}\n"
		"    aggregates:\n"
		"      - last(amount)\n"
		"      - quantiles(amount, [0.25])\n";
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	const struct sl_config_view *v;

	SL_ASSERT_OK(load(yaml, &cfg, &err));
	SL_ASSERT_EQ(cfg->n_inputs, 1);
	SL_ASSERT_EQ(cfg->inputs[0].port, 9000);
	SL_ASSERT_EQ(cfg->limits.max_groups, SL_CONFIG_DEFAULT_MAX_GROUPS);
	SL_ASSERT_EQ(cfg->retention_ns, 0);
	v = &cfg->views[0];
	SL_ASSERT_EQ(v->n_where, 0);
	SL_ASSERT_EQ(v->window_size_ns, 60 * NS_S);
	SL_ASSERT_EQ(v->window_slide_ns, 10 * NS_S);
	SL_ASSERT_EQ(v->time, SL_CONFIG_TIME_ARRIVAL);
	SL_ASSERT_EQ(v->retention_ns, 0);
	SL_ASSERT_STR_EQ(v->aggs[1].key, "distinct(user)");
	SL_ASSERT_STR_EQ(v->aggs[2].key, "topk(sku,5)");
	SL_ASSERT_EQ(v->aggs[2].k, 5);
	SL_ASSERT_EQ(v->aggs[3].n_quantiles, 2);
	SL_ASSERT_DBL_EQ(v->aggs[3].quantiles[0], 0.5); /* sorted */
	SL_ASSERT_DBL_EQ(v->aggs[3].quantiles[1], 0.99);
	v = &cfg->views[1];
	SL_ASSERT_EQ(v->n_where, 4);
	SL_ASSERT_EQ(v->where[0].kind, SL_CONFIG_COND_IN);
	SL_ASSERT_EQ(v->where[0].n_values, 4);
	SL_ASSERT_STR_EQ(v->where[0].values[1], "s 02");
	SL_ASSERT_STR_EQ(v->where[0].values[2], "it's");
	SL_ASSERT_STR_EQ(v->where[0].values[3], "q\"\\");
	SL_ASSERT_EQ(v->where[1].kind, SL_CONFIG_COND_EXISTS);
	SL_ASSERT_EQ(v->where[2].kind, SL_CONFIG_COND_NOT_EXISTS);
	SL_ASSERT_EQ(v->where[3].kind, SL_CONFIG_COND_EQ);
	SL_ASSERT_STR_EQ(v->where[3].values[0], "42");
	SL_ASSERT_EQ(v->n_group_by, 0);
	SL_ASSERT_EQ(v->window_size_ns, 1500000000ULL);
	SL_ASSERT_EQ(v->line, 11);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

SL_TEST(rules_load)
{
	static const char yaml[] =
		"version: 1\n"
		"limits: {max_rules: 5, max_matches_per_event: 3}\n"
		"rules:\n"
		"  - id: coupon_abuse\n"
		"    pattern: 'coupon=[A-Z]{4}-FREE'\n"
		"    on: raw\n"
		"    flags: [caseless]\n"
		"    action: tag\n"
		"    tag: abuse\n"
		"  - {id: fraud, pattern: 'fr(au|o)d', on: note, action: tag, flags: [ucp, utf8, dotall, multiline, singlematch]}\n"
		"  - {id: no_test, pattern: '^test$', on: event, action: drop}\n"
		"  - {id: big, pattern: '^[0-9]{4,}', on: amount, action: count, flags: []}\n"
		"  - {id: abuse2, pattern: 'FREE', on: coupon, action: tag, tag: abuse}\n"
		"views:\n"
		"  - name: v\n"
		"    where:\n"
		"      tags: [fraud, abuse]\n"
		"      event: purchase\n"
		"    window: {size: 1s}\n"
		"    aggregates: [count]\n"
		"  - name: w\n"
		"    where: {tags: {exists: false}}\n"
		"    window: {size: 1s}\n"
		"    aggregates: [count]\n";
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	const struct sl_config_rule *r;

	SL_ASSERT_OK(load(yaml, &cfg, &err));
	SL_ASSERT_EQ(cfg->limits.max_rules, 5);
	SL_ASSERT_EQ(cfg->limits.max_matches_per_event, 3);
	SL_ASSERT_EQ(cfg->n_rules, 5);
	r = &cfg->rules[0];
	SL_ASSERT_STR_EQ(r->id, "coupon_abuse");
	SL_ASSERT_STR_EQ(r->pattern, "coupon=[A-Z]{4}-FREE");
	SL_ASSERT_STR_EQ(r->on, "raw");
	SL_ASSERT(r->on_raw);
	SL_ASSERT_EQ(r->flags, 1u << SL_CONFIG_RULE_FLAG_CASELESS);
	SL_ASSERT_EQ(r->action, SL_CONFIG_RULE_TAG);
	SL_ASSERT_STR_EQ(r->tag, "abuse");
	SL_ASSERT_EQ(r->tag_index, 0);
	SL_ASSERT_EQ(r->line, 4);
	r = &cfg->rules[1];
	SL_ASSERT(!r->on_raw);
	SL_ASSERT_STR_EQ(r->on, "note");
	SL_ASSERT_EQ(r->flags, ((1u << SL_CONFIG_RULE_FLAG__MAX) - 1) & ~(1u << SL_CONFIG_RULE_FLAG_CASELESS));
	SL_ASSERT_STR_EQ(r->tag, "fraud"); /* the id by default */
	SL_ASSERT_EQ(r->tag_index, 1);
	SL_ASSERT_EQ(r->line, 10);
	r = &cfg->rules[2];
	SL_ASSERT_EQ(r->action, SL_CONFIG_RULE_DROP);
	SL_ASSERT_NULL(r->tag);
	SL_ASSERT_EQ(r->tag_index, UINT32_MAX);
	SL_ASSERT_EQ(cfg->rules[3].action, SL_CONFIG_RULE_COUNT);
	SL_ASSERT_EQ(cfg->rules[3].flags, 0);
	SL_ASSERT_EQ(cfg->rules[4].tag_index, 0); /* abuse again */
	SL_ASSERT(cfg->rules[4].tag == cfg->tags[0]);
	/* The tag table: distinct tags of the tag rules, in rule order. */
	SL_ASSERT_EQ(cfg->n_tags, 2);
	SL_ASSERT_STR_EQ(cfg->tags[0], "abuse");
	SL_ASSERT_STR_EQ(cfg->tags[1], "fraud");
	SL_ASSERT_EQ(sl_config_tag_index(cfg, "fraud"), 1);
	SL_ASSERT_EQ(sl_config_tag_index(cfg, "big"), -ENOENT);
	SL_ASSERT_EQ(sl_config_tag_index(NULL, "abuse"), -ENOENT);
	/* where on tags */
	SL_ASSERT_EQ(cfg->views[0].where[0].kind, SL_CONFIG_COND_IN);
	SL_ASSERT_STR_EQ(cfg->views[0].where[0].dim, "tags");
	SL_ASSERT_EQ(cfg->views[0].where[0].n_values, 2);
	SL_ASSERT_EQ(cfg->views[1].where[0].kind, SL_CONFIG_COND_NOT_EXISTS);
	SL_ASSERT_STR_EQ(sl_config_rule_action_name(SL_CONFIG_RULE_COUNT), "count");
	SL_ASSERT_STR_EQ(sl_config_rule_action_name(99), "?");
	SL_ASSERT_STR_EQ(sl_config_rule_flag_name(SL_CONFIG_RULE_FLAG_UCP), "ucp");
	SL_ASSERT_STR_EQ(sl_config_rule_flag_name(99), "?");
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

/* Build "version: 1\nrules:\n" + n tag rules with tags t0, t1, ... (the k-th reusing t0). */
static char *
tag_rules_yaml(unsigned int n, unsigned int reuse_every)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned int t = 0;

	if (f == NULL)
		return NULL;
	fputs("version: 1\nrules:\n", f);
	for (unsigned int i = 0; i < n; i++) {
		if (reuse_every && i % reuse_every == reuse_every - 1)
			fprintf(f, "  - {id: r%u, pattern: x, on: raw, action: tag, tag: t0}\n", i);
		else
			fprintf(f, "  - {id: r%u, pattern: x, on: raw, action: tag, tag: t%u}\n", i, t++);
	}
	fputs("views: []\n", f);
	fclose(f);
	return buf;
}

SL_TEST(at_most_64_distinct_tags)
{
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	char *yaml;

	/* 64 tags over 80 rules (every 5th rule reuses t0). */
	yaml = tag_rules_yaml(80, 5);
	SL_ASSERT_NOT_NULL(yaml);
	SL_ASSERT_OK(load(yaml, &cfg, &err));
	SL_ASSERT_EQ(cfg->n_tags, 64);
	SL_ASSERT_EQ(cfg->rules[78].tag_index, 63);
	SL_ASSERT_EQ(cfg->rules[79].tag_index, 0);
	SL_ASSERT_EQ(cfg->rules[4].tag_index, 0);
	sl_config_free(cfg);
	free(yaml);
	yaml = tag_rules_yaml(81, 5);
	SL_ASSERT_EQ(load(yaml, &cfg, &err), -EINVAL);
	SL_ASSERT_EQ(err.line, 3 + 80);
	SL_ASSERT_STR_EQ(err.msg, "more than 64 distinct tags: tag 't64' in rule 'r80' would be "
				  "the 65th");
	free(yaml);
	return SL_TEST_PASS;
}

SL_TEST(pattern_length_edges)
{
	char yaml[SL_CONFIG_PATTERN_MAX + 256];
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	int n;

	n = snprintf(yaml, sizeof(yaml), "version: 1\nrules:\n  - {id: r, on: raw, action: count, "
					 "pattern: '");
	memset(yaml + n, 'a', SL_CONFIG_PATTERN_MAX);
	snprintf(yaml + n + SL_CONFIG_PATTERN_MAX, sizeof(yaml) - n - SL_CONFIG_PATTERN_MAX,
		 "'}\nviews: []\n");
	SL_ASSERT_OK(load(yaml, &cfg, &err));
	SL_ASSERT_EQ(strlen(cfg->rules[0].pattern), SL_CONFIG_PATTERN_MAX);
	sl_config_free(cfg);
	/* One byte shorter and one byte longer than the limit. */
	memmove(yaml + n + SL_CONFIG_PATTERN_MAX - 1, yaml + n + SL_CONFIG_PATTERN_MAX,
		strlen(yaml + n + SL_CONFIG_PATTERN_MAX) + 1);
	SL_ASSERT_OK(load(yaml, &cfg, &err));
	SL_ASSERT_EQ(strlen(cfg->rules[0].pattern), SL_CONFIG_PATTERN_MAX - 1);
	sl_config_free(cfg);
	memmove(yaml + n + 2, yaml + n, strlen(yaml + n) + 1);
	SL_ASSERT_EQ(load(yaml, &cfg, &err), -EINVAL);
	SL_ASSERT(strstr(err.msg, "too long: 4097 bytes (at most 4096)") != NULL);
	return SL_TEST_PASS;
}

SL_TEST(many_rules_with_unique_ids)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct sl_config_error err;
	struct sl_config *cfg = NULL;

	SL_ASSERT_NOT_NULL(f);
	fputs("version: 1\nlimits: {max_rules: 3000}\nrules:\n", f);
	for (unsigned int i = 0; i < 3000; i++)
		fprintf(f, "  - {id: rule_%u, pattern: 'kw%u', on: f%u, action: count}\n", i, i, i % 7);
	fputs("  - {id: rule_1234, pattern: dup, on: raw, action: count}\nviews: []\n", f);
	fclose(f);
	/* 3001 rules over a limit of 3000. */
	SL_ASSERT_EQ(load(buf, &cfg, &err), -EINVAL);
	SL_ASSERT_EQ(err.line, 4 + 3000);
	SL_ASSERT(strstr(err.msg, "more rules (3001) than limits.max_rules (3000)") != NULL);
	/* With room: the duplicate id is found (a hash, not 4.5 million comparisons). */
	memcpy(strstr(buf, "3000}"), "4000}", 5);
	SL_ASSERT_EQ(load(buf, &cfg, &err), -EINVAL);
	SL_ASSERT_EQ(err.line, 4 + 3000);
	SL_ASSERT_STR_EQ(err.msg, "duplicate rule id 'rule_1234' (first at line 1238)");
	free(buf);
	return SL_TEST_PASS;
}

static const struct limit_case {
	const char *yaml;
	bool ok;
} limit_cases[] = {
	{ "limits: {max_groups: 1}", true },
	{ "limits: {max_groups: 16777216}", true },
	{ "limits: {max_groups: 0}", false },
	{ "limits: {max_groups: 16777217}", false },
	{ "limits: {max_groups: 99999999999999999999999}", false },
	{ "limits: {max_set_members: 1}", true },
	{ "limits: {max_set_members: 67108864}", true },
	{ "limits: {max_set_members: 0}", false },
	{ "limits: {max_set_members: 67108865}", false },
	{ "limits: {max_views: 1}", true },
	{ "limits: {max_views: 256}", true },
	{ "limits: {max_views: 0}", false },
	{ "limits: {max_views: 257}", false },
	{ "limits: {max_rules: 1}", true },
	{ "limits: {max_rules: 100000}", true },
	{ "limits: {max_rules: 100001}", false },
	{ "limits: {max_matches_per_event: 1}", true },
	{ "limits: {max_matches_per_event: 1024}", true },
	{ "limits: {max_matches_per_event: 1025}", false },
	{ "limits: {max_rules: 2}\nrules: [{id: a, pattern: x, on: raw, action: count}, {id: b, pattern: x, on: raw, action: count}]", true },
	{ "limits: {max_rules: 1}\nrules: [{id: a, pattern: x, on: raw, action: count}, {id: b, pattern: x, on: raw, action: count}]", false },
	{ "rules: []", true },
	{ "rules: [{id: a234567890123456789012345678901234567890123456789012345678901234, pattern: x, on: raw, action: count}]", true },
	{ "rules: [{id: a, pattern: x, on: a234567890123456789012345678901234567890123456789012345678901234, action: count}]", true },
	{ "rules: [{id: a, pattern: x, on: a2345678901234567890123456789012345678901234567890123456789012345, action: count}]", false },
	{ "inputs: [{format: statsd, port: 1}]", true },
	{ "inputs: [{format: statsd, port: 65535}]", true },
	{ "inputs: [{format: statsd, port: 0}]", false },
	{ "inputs: [{format: statsd, port: 65536}]", false },
	{ "retention: 3650d", true },
	{ "retention: 3651d", false },
	{ "retention: 0", true },
	{ "views: [{name: a, window: {size: 1ms}, aggregates: [count]}]", true },
	{ "views: [{name: a, window: {size: 999999ns}, aggregates: [count]}]", false },
	{ "views: [{name: a, window: {size: 24h}, aggregates: [count]}]", true },
	{ "views: [{name: a, window: {size: 86400000000001ns}, aggregates: [count]}]", false },
	{ "views: [{name: a, window: {size: 1000s, slide: 1s}, aggregates: [count]}]", true },
	{ "views: [{name: a, window: {size: 1001s, slide: 1s}, aggregates: [count]}]", false },
	{ "views: [{name: a, window: {size: 1s}, allowed_lateness: 24h, aggregates: [count]}]", true },
	{ "views: [{name: a, window: {size: 1s}, allowed_lateness: 86401s, aggregates: [count]}]", false },
	{ "views: [{name: a, window: {size: 1s}, aggregates: [\"topk(x, 1)\"]}]", true },
	{ "views: [{name: a, window: {size: 1s}, aggregates: [\"topk(x, 1000)\"]}]", true },
	{ "views: [{name: a, window: {size: 1s}, aggregates: [\"topk(x, 1001)\"]}]", false },
	{ "views: [{name: a, window: {size: 1s}, aggregates: [\"quantiles(x, [0.000001, 0.999999])\"]}]", true },
	{ "views: [{name: a, window: {size: 1s}, aggregates: [\"quantiles(x, [1e-9])\"]}]", true },
	{ "views: [{name: a, window: {size: 1s}, aggregates: [\"quantiles(x, [-0.5])\"]}]", false },
	{ "views: [{name: a, window: {size: 1s}, max_groups: 100000, aggregates: [count]}]", true },
	{ "views: [{name: a, window: {size: 1s}, max_groups: 100001, aggregates: [count]}]", false },
	{ "limits: {max_groups: 5}\nviews: [{name: a, window: {size: 1s}, max_groups: 5, aggregates: [count]}]", true },
	{ "limits: {max_groups: 5}\nviews: [{name: a, window: {size: 1s}, max_groups: 6, aggregates: [count]}]", false },
	{ "views: [{name: a, group_by: [a, b, c, d], window: {size: 1s}, aggregates: [count]}]", true },
	{ "views: [{name: a2345678901234567890123456789012, window: {size: 1s}, aggregates: [count]}]", true },
	{ "views: [{name: a, where: {d: \"" /* 256 bytes */
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "\"}, window: {size: 1s}, aggregates: [count]}]", true },
	{ "views: [{name: a, where: {d: \"" /* 257 bytes */
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "x\"}, window: {size: 1s}, aggregates: [count]}]", false },
};

SL_TEST(limits_edge_values)
{
	unsigned int failed = 0;

	for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		const struct limit_case *c = &limit_cases[i];
		bool has_views = strncmp(c->yaml, "views", 5) == 0 || strstr(c->yaml, "\nviews") != NULL;
		struct sl_config_error err = { 0 };
		struct sl_config *cfg = NULL;
		char yaml[1024];
		int rc;

		snprintf(yaml, sizeof(yaml), "version: 1\n%s\n%s", c->yaml,
			 has_views ? "" : "views: []\n");
		rc = load(yaml, &cfg, &err);
		if ((rc == 0) != c->ok || (rc != 0 && (rc != -EINVAL || err.line == 0))) {
			fprintf(stderr, "case %zu (%s): rc %d: %u: %s\n", i, c->yaml, rc, err.line,
				err.msg);
			failed++;
		}
		sl_config_free(rc == 0 ? cfg : NULL);
	}
	SL_ASSERT_EQ(failed, 0);
	return SL_TEST_PASS;
}

SL_TEST(view_count_up_to_max_views)
{
	char yaml[65536];
	size_t n = 0;
	struct sl_config_error err;
	struct sl_config *cfg = NULL;

	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "version: 1\nlimits: {max_views: 256}\nviews:\n");
	for (int i = 0; i < 256; i++)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
				      "  - {name: v%d, window: {size: 1s}, aggregates: [count]}\n", i);
	SL_ASSERT_OK(load(yaml, &cfg, &err));
	SL_ASSERT_EQ(cfg->n_views, 256);
	sl_config_free(cfg);
	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
			      "  - {name: extra, window: {size: 1s}, aggregates: [count]}\n");
	SL_ASSERT_EQ(load(yaml, &cfg, &err), -EINVAL);
	SL_ASSERT_EQ(err.line, 3 + 256 + 1);
	SL_ASSERT(strstr(err.msg, "more views (257) than limits.max_views (256)") != NULL);
	return SL_TEST_PASS;
}

/* ---- durations ---- */

SL_TEST(duration_parse)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t ns;
	} cases[] = {
		{ "10s", 0, 10 * NS_S }, { "10", 0, 10 * NS_S }, { "0", 0, 0 },
		{ "1.5", 0, 1500000000ULL }, { "500ms", 0, 500000000ULL }, { "250us", 0, 250000 },
		{ "7ns", 0, 7 }, { "2m", 0, 120 * NS_S }, { "1.5m", 0, 90 * NS_S },
		{ "3h", 0, 3 * 3600 * NS_S }, { "7d", 0, 7 * 86400 * NS_S }, { ".5s", 0, NS_S / 2 },
		{ "2.s", 0, 2 * NS_S }, { "0.000000001", 0, 1 },
		{ "18446744073709551615ns", 0, UINT64_MAX },
		{ "18446744073709551616ns", -ERANGE, 0 }, { "213504d", -ERANGE, 0 },
		{ "99999999999999999999999", -ERANGE, 0 },
		{ "", -EINVAL, 0 }, { "s", -EINVAL, 0 }, { ".", -EINVAL, 0 }, { "-1s", -EINVAL, 0 },
		{ "+1s", -EINVAL, 0 }, { " 1s", -EINVAL, 0 }, { "1s ", -EINVAL, 0 },
		{ "1 s", -EINVAL, 0 }, { "1e3", -EINVAL, 0 }, { "0x10", -EINVAL, 0 },
		{ "inf", -EINVAL, 0 }, { "nan", -EINVAL, 0 }, { "1sec", -EINVAL, 0 },
		{ "1S", -EINVAL, 0 }, { "1w", -EINVAL, 0 }, { "0.5ns", -EINVAL, 0 },
		{ "1.0000000000000000001s", -EINVAL, 0 }, { "1.2.3s", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 12345;
		int rc = sl_config_duration_parse(cases[i].s, &ns);

		if (rc != cases[i].rc || (rc == 0 && ns != cases[i].ns) || (rc != 0 && ns != 12345))
			SL_FAILF("'%s': rc %d ns %llu", cases[i].s, rc, (unsigned long long)ns);
	}
	return SL_TEST_PASS;
}

SL_TEST(duration_fmt_round_trips)
{
	static const uint64_t values[] = {
		0, 1, 999, 1000, 1500, 1000000, 1500000000ULL, 60 * NS_S, 90 * NS_S,
		3600 * NS_S, 86400 * NS_S, 7 * 86400 * NS_S, 86401 * NS_S, UINT64_MAX,
	};
	static const char *const want[] = {
		"0", "1ns", "999ns", "1us", "1500ns", "1ms", "1500ms", "1m", "90s",
		"1h", "1d", "7d", "86401s", "18446744073709551615ns",
	};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char buf[32];
		uint64_t back;

		sl_config_duration_fmt(values[i], buf, sizeof(buf));
		SL_ASSERT_STR_EQ(buf, want[i]);
		SL_ASSERT_OK(sl_config_duration_parse(buf, &back));
		SL_ASSERT_EQ(back, values[i]);
	}
	return SL_TEST_PASS;
}

/* ---- the canonical dump ---- */

static int
check_round_trip(const char *yaml)
{
	struct sl_config_error err;
	struct sl_config *a = NULL, *b = NULL;
	char *d1, *d2;

	SL_ASSERT_OK(load(yaml, &a, &err));
	d1 = dump_str(a);
	SL_ASSERT_NOT_NULL(d1);
	if (load(d1, &b, &err) != 0)
		SL_FAILF("dump does not load: %u:%u: %s\n%s", err.line, err.column, err.msg, d1);
	SL_ASSERT(sl_config_equal(a, b));
	SL_ASSERT(sl_config_equal(b, a));
	d2 = dump_str(b);
	SL_ASSERT_NOT_NULL(d2);
	SL_ASSERT_STR_EQ(d1, d2);
	free(d1);
	free(d2);
	sl_config_free(a);
	sl_config_free(b);
	return SL_TEST_PASS;
}

SL_TEST(dump_load_round_trip_default)
{
	return check_round_trip(sl_config_default_yaml());
}

SL_TEST(dump_load_round_trip_every_feature)
{
	return check_round_trip(
		"version: 1\n"
		"inputs: [{format: binary, port: 1}, {format: statsd, port: 65535}]\n"
		"limits: {max_groups: 7, max_set_members: 9, max_views: 3}\n"
		"retention: 90s\n"
		"views:\n"
		"  - name: a\n"
		"    where:\n"
		"      store: [s01, \"s 02\", 'it''s', \"q\\\"\\\\\", \"null\", \"#x: y\", \"\xc3\xa9t\xc3\xa9\"]\n"
		"      coupon: {exists: true}\n"
		"      fraud: {exists: false}\n"
		"      event: \"true\"\n"
		"      x.y-z: ''\n"
		"    group_by: [store, a.b, c-d, _e]\n"
		"    window: {size: 1m, slide: 1500ms}\n"
		"    allowed_lateness: 250us\n"
		"    keep_late: true\n"
		"    aggregates: [count, \"sum(a)\", \"min(a)\", \"max(a)\", \"avg(a)\", \"last(a)\",\n"
		"                 \"distinct(u)\", \"quantiles(a, [0.1, 0.123456789, 0.999])\", \"topk(s, 1000)\"]\n"
		"    max_groups: 7\n"
		"  - name: b\n"
		"    time: arrival\n"
		"    window: {size: 1d}\n"
		"    retention: 0\n"
		"    aggregates: [count]\n");
}

SL_TEST(dump_load_round_trip_rules)
{
	return check_round_trip(
		"version: 1\n"
		"limits: {max_rules: 7, max_matches_per_event: 1}\n"
		"rules:\n"
		"  - {id: a, pattern: 'coupon=[A-Z]{4}-FREE', on: raw, action: tag, tag: abuse}\n"
		"  - {id: b, pattern: '\\d+\\.\\d{2}\\\\\"x', on: amount, action: count, flags: [utf8, caseless]}\n"
		"  - {id: c, pattern: 'caf\xc3\xa9|it''s|#x: y', on: note, action: drop, flags: [ucp, utf8]}\n"
		"  - {id: \"null\", pattern: 'n', on: \"null\", action: tag}\n"
		"  - {id: e, pattern: '[[:alpha:]]', on: x.y-z, action: tag, tag: abuse, flags: [singlematch, multiline, dotall]}\n"
		"views:\n"
		"  - name: v\n"
		"    where: {tags: [abuse, \"null\"], event: x}\n"
		"    window: {size: 1s}\n"
		"    aggregates: [count]\n"
		"  - name: w\n"
		"    where: {tags: {exists: true}}\n"
		"    window: {size: 1s}\n"
		"    aggregates: [count]\n");
}

SL_TEST(dump_of_rules_is_explicit)
{
	static const char yaml[] =
		"version: 1\n"
		"rules:\n"
		"  - {id: r1, pattern: 'a\\.b\"c', on: raw, action: tag}\n"
		"  - {id: r2, pattern: x, on: sku, action: drop, flags: [utf8, caseless]}\n"
		"views: []\n";
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	char *d;

	SL_ASSERT_OK(load(yaml, &cfg, &err));
	d = dump_str(cfg);
	SL_ASSERT_NOT_NULL(d);
	SL_ASSERT(strstr(d, "  max_rules: 10000\n  max_matches_per_event: 16\n") != NULL);
	SL_ASSERT(strstr(d, "rules:\n"
			    "  - id: r1\n"
			    "    pattern: \"a\\\\.b\\\"c\"\n"
			    "    on: raw\n"
			    "    flags: []\n"
			    "    action: tag\n"
			    "    tag: r1\n"
			    "  - id: r2\n"
			    "    pattern: \"x\"\n"
			    "    on: sku\n"
			    "    flags: [caseless, utf8]\n"
			    "    action: drop\n"
			    "views: []\n") != NULL);
	free(d);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

SL_TEST(dump_view_keeps_the_rules_of_its_tags)
{
	static const char yaml[] =
		"version: 1\n"
		"rules:\n"
		"  - {id: r1, pattern: a, on: raw, action: tag, tag: abuse}\n"
		"  - {id: r2, pattern: b, on: raw, action: tag, tag: fraud}\n"
		"  - {id: r3, pattern: c, on: raw, action: count}\n"
		"  - {id: r4, pattern: d, on: raw, action: tag, tag: abuse}\n"
		"  - {id: r5, pattern: e, on: raw, action: tag, tag: other}\n"
		"views:\n"
		"  - {name: plain, window: {size: 1s}, aggregates: [count]}\n"
		"  - {name: tagged, where: {tags: [abuse, fraud]}, window: {size: 1s}, aggregates: [count]}\n"
		"  - {name: any, where: {tags: {exists: true}}, window: {size: 1s}, aggregates: [count]}\n";
	struct sl_config_error err;
	struct sl_config *cfg = NULL, *one = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	SL_ASSERT_OK(load(yaml, &cfg, &err));
	for (uint32_t i = 0; i < 3; i++) {
		f = open_memstream(&buf, &len);
		SL_ASSERT_NOT_NULL(f);
		SL_ASSERT_OK(sl_config_dump_view(cfg, i, f));
		fclose(f);
		if (load(buf, &one, &err) != 0)
			SL_FAILF("view %u: %u: %s\n%s", i, err.line, err.msg, buf);
		SL_ASSERT_EQ(one->n_views, 1);
		SL_ASSERT_STR_EQ(one->views[0].name, cfg->views[i].name);
		if (i == 1) {
			SL_ASSERT_EQ(one->n_rules, 3);
			SL_ASSERT_STR_EQ(one->rules[0].id, "r1");
			SL_ASSERT_STR_EQ(one->rules[1].id, "r2");
			SL_ASSERT_STR_EQ(one->rules[2].id, "r4");
		} else {
			SL_ASSERT_EQ(one->n_rules, 0);
			SL_ASSERT(strstr(buf, "rules: []\n") != NULL);
		}
		sl_config_free(one);
		free(buf);
		buf = NULL;
	}
	f = open_memstream(&buf, &len);
	SL_ASSERT_EQ(sl_config_dump_view(cfg, 3, f), -EINVAL);
	fclose(f);
	free(buf);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

SL_TEST(dump_of_default_is_explicit)
{
	const char *yaml = sl_config_default_yaml();
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	char *d;

	SL_ASSERT_OK(sl_config_load_string(yaml, strlen(yaml), NULL, &cfg, &err));
	d = dump_str(cfg);
	SL_ASSERT_NOT_NULL(d);
	SL_ASSERT(strstr(d, "  - name: sales\n"
			    "    where:\n"
			    "      event: \"purchase\"\n"
			    "    group_by: [store]\n"
			    "    window: {size: 10s}\n"
			    "    time: event\n"
			    "    allowed_lateness: 30s\n"
			    "    keep_late: true\n"
			    "    aggregates: [count, \"sum(amount)\", \"avg(amount)\", \"min(amount)\", "
			    "\"max(amount)\", \"last(amount)\", \"quantiles(amount, [0.5, 0.9, 0.99])\"]\n"
			    "    retention: 7d\n"
			    "    max_groups: 10000\n") != NULL);
	SL_ASSERT(strstr(d, "  - name: popular\n"
			    "    where:\n"
			    "      event: \"purchase\"\n"
			    "    group_by: [store]\n"
			    "    window: {size: 10s}\n"
			    "    time: event\n"
			    "    allowed_lateness: 30s\n"
			    "    keep_late: true\n"
			    "    aggregates: [\"topk(sku, 10)\"]\n"
			    "    retention: 7d\n"
			    "    max_groups: 10000\n") != NULL);
	free(d);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

SL_TEST(equal_sees_every_difference)
{
	const char *yaml = sl_config_default_yaml();
	struct sl_config_error err;
	struct sl_config *a = NULL, *b = NULL;

	SL_ASSERT_OK(sl_config_load_string(yaml, strlen(yaml), NULL, &a, &err));
	SL_ASSERT_OK(sl_config_load_string(yaml, strlen(yaml), NULL, &b, &err));
	SL_ASSERT(sl_config_equal(a, b));
	b->views[2].aggs[0].k = 11;
	SL_ASSERT(!sl_config_equal(a, b));
	b->views[2].aggs[0].k = 10;
	b->views[1].aggs[6].quantiles[2] = 0.999;
	SL_ASSERT(!sl_config_equal(a, b));
	b->views[1].aggs[6].quantiles[2] = 0.99;
	b->views[0].keep_late = false;
	SL_ASSERT(!sl_config_equal(a, b));
	b->views[0].keep_late = true;
	b->inputs[1].port = 1;
	SL_ASSERT(!sl_config_equal(a, b));
	b->inputs[1].port = 8127;
	b->views[0].line = 99; /* not a difference */
	SL_ASSERT(sl_config_equal(a, b));
	b->limits.max_rules = 5;
	SL_ASSERT(!sl_config_equal(a, b));
	b->limits.max_rules = a->limits.max_rules;
	b->limits.max_matches_per_event = 5;
	SL_ASSERT(!sl_config_equal(a, b));
	b->limits.max_matches_per_event = a->limits.max_matches_per_event;
	SL_ASSERT(sl_config_equal(a, b));
	sl_config_free(a);
	sl_config_free(b);
	return SL_TEST_PASS;
}

SL_TEST(equal_sees_every_rule_difference)
{
	static const char yaml[] =
		"version: 1\n"
		"rules:\n"
		"  - {id: r1, pattern: a, on: raw, action: tag, tag: t}\n"
		"  - {id: r2, pattern: b, on: sku, action: count, flags: [caseless]}\n"
		"views: []\n";
	struct sl_config_error err;
	struct sl_config *a = NULL, *b = NULL;
	struct sl_config_rule saved;

	SL_ASSERT_OK(load(yaml, &a, &err));
	SL_ASSERT_OK(load(yaml, &b, &err));
	SL_ASSERT(sl_config_equal(a, b));
	saved = b->rules[1];
	b->rules[1].id = "r3";
	SL_ASSERT(!sl_config_equal(a, b));
	b->rules[1] = saved;
	b->rules[1].pattern = "c";
	SL_ASSERT(!sl_config_equal(a, b));
	b->rules[1] = saved;
	b->rules[1].on = "store";
	SL_ASSERT(!sl_config_equal(a, b));
	b->rules[1] = saved;
	b->rules[1].flags = 0;
	SL_ASSERT(!sl_config_equal(a, b));
	b->rules[1] = saved;
	b->rules[1].action = SL_CONFIG_RULE_DROP;
	SL_ASSERT(!sl_config_equal(a, b));
	b->rules[1] = saved;
	b->rules[0].tag = "u";
	SL_ASSERT(!sl_config_equal(a, b));
	b->rules[0].tag = "t";
	b->rules[0].line = 99; /* not a difference */
	SL_ASSERT(sl_config_equal(a, b));
	b->n_rules = 1;
	SL_ASSERT(!sl_config_equal(a, b));
	sl_config_free(a);
	sl_config_free(b);
	return SL_TEST_PASS;
}

/* ---- robustness ---- */

SL_TEST(every_truncation_of_the_default_fails_cleanly_or_loads)
{
	const char *yaml = sl_config_default_yaml();
	size_t len = strlen(yaml);

	for (size_t n = 0; n <= len; n++) {
		struct sl_config_error err;
		struct sl_config *cfg = NULL;
		int rc = sl_config_load_string(yaml, n, "cut", &cfg, &err);

		if (rc == 0) {
			sl_config_free(cfg);
			continue;
		}
		if (rc != -EINVAL || err.line == 0 || err.msg[0] == '\0')
			SL_FAILF("length %zu: rc %d, %u: %s", n, rc, err.line, err.msg);
	}
	return SL_TEST_PASS;
}

SL_TEST(load_file)
{
	char path[] = "/tmp/sl_test_config_XXXXXX";
	const char *yaml = sl_config_default_yaml();
	struct sl_config_error err;
	struct sl_config *cfg = NULL;
	int fd = mkstemp(path);
	FILE *f;

	SL_ASSERT(fd >= 0);
	f = fdopen(fd, "w");
	SL_ASSERT_NOT_NULL(f);
	fputs(yaml, f);
	fclose(f);
	SL_ASSERT_OK(sl_config_load_file(path, &cfg, &err));
	SL_ASSERT_EQ(cfg->n_views, 3);
	sl_config_free(cfg);

	f = fopen(path, "w");
	SL_ASSERT_NOT_NULL(f);
	fputs("version: 1\nviews:\n  - name: x\n    window: {size: 1s}\n    aggregates: [\"median(x)\"]\n", f);
	fclose(f);
	SL_ASSERT_EQ(sl_config_load_file(path, &cfg, &err), -EINVAL);
	SL_ASSERT_STR_EQ(err.file, path);
	SL_ASSERT_EQ(err.line, 5);
	unlink(path);

	SL_ASSERT_EQ(sl_config_load_file(path, &cfg, &err), -ENOENT);
	SL_ASSERT_STR_EQ(err.file, path);
	SL_ASSERT_EQ(err.line, 0);
	SL_ASSERT(strstr(err.msg, "cannot open") != NULL);
	SL_ASSERT_EQ(sl_config_load_file("/", &cfg, &err), -EIO);
	sl_config_free(NULL);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
