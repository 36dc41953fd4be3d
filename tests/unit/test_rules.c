/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of dataplane/rules.c: a rule set of 40 rules (literals, classes,
 * alternations, anchors, caseless; on the raw line, the event name and
 * fields; tag, drop and count) applied to generated JSON events, every hit
 * count, tag mask and drop decision checked against a reference matcher
 * built on POSIX regex (regcomp()/regexec(), REG_EXTENDED, REG_ICASE for
 * caseless). The patterns are chosen so that both read them the same way:
 * no \d, no Perl-only syntax, no newline in the data. Also: the per-event
 * cap (limits.max_matches_per_event), compile errors naming the rule and
 * Hyperscan's message, statsd lines with no event, utf8 rules on invalid
 * UTF-8, an empty rule set, and 1 000 / 10 000 rules (compile time logged,
 * not asserted).
 */

#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "json.h"
#include "rules.h"
#include "sl_test.h"

#define OK SL_DROP__MAX
#define N_EVENTS 4000
#define LINE_MAX_ 1024
#define GEN_FIELDS 10

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint32_t
rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(rng_next(s) % n);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the rule set ---- */

struct rdef {
	const char *id;
	const char *pattern; /* written in YAML single quotes: no ' inside */
	const char *on;
	bool caseless;
	const char *flags;   /* other flags, a YAML list body ("multiline") or NULL */
	const char *action;
	const char *tag;     /* NULL: the default (the id) */
};

static const struct rdef rdefs[] = {
	{ "coupon_abuse", "coupon=[A-Z]{4}-FREE", "raw", false, NULL, "tag", "abuse" },
	{ "coupon_abuse_ci", "coupon=[a-z]{4}-free", "raw", true, NULL, "tag", "abuse" },
	{ "note_coupon", "coupon=[A-Z]{4}-FREE", "note", false, NULL, "tag", "abuse" },
	{ "free_field", "^[A-Z]{4}-FREE$", "coupon", false, NULL, "tag", "abuse" },
	{ "free_field_ci", "-free$", "coupon", true, NULL, "tag", "freeish" },
	{ "off50", "50OFF", "coupon", false, NULL, "count", NULL },
	{ "store_low", "^s0[0-4]$", "store", false, NULL, "tag", "low_store" },
	{ "store_17", "^17$", "store", false, NULL, "tag", "num_store" },
	{ "store_any", "s[0-9]+", "store", false, NULL, "count", NULL },
	{ "store_digits", "[[:digit:]]{2}", "store", false, NULL, "count", NULL },
	{ "sku_a", "^A-[0-9]{4}$", "sku", false, NULL, "count", NULL },
	{ "sku_b_or_x", "^(B-[0-9]{3}|X-9999)$", "sku", false, NULL, "tag", "odd_sku" },
	{ "sku_x_drop", "X-9999", "sku", false, NULL, "drop", NULL },
	{ "sku_b00_drop", "^B-00", "sku", false, NULL, "drop", NULL },
	{ "sku_ci", "^a-0", "sku", true, NULL, "count", NULL },
	{ "sku_upper", "[^a-z0-9-]", "sku", false, NULL, "count", NULL },
	{ "purchase_name", "^purchase$", "event", false, NULL, "tag", "buy" },
	{ "purchase_ci", "^purchase$", "event", true, NULL, "count", NULL },
	{ "visit_or_login", "^(visit|login)$", "event", false, NULL, "count", NULL },
	{ "refund_raw", "\"event\":\"refund\"", "raw", false, NULL, "tag", NULL },
	{ "fraud_note", "fraud", "note", true, NULL, "tag", "fraud" },
	{ "fraud_drop", "FRAUD alert", "note", false, NULL, "drop", NULL },
	{ "hello", "hello (world|there)", "note", false, NULL, "count", NULL },
	{ "quoted_note", "say \"hi\"", "note", false, NULL, "tag", "quoted" },
	{ "quoted_raw", "say \\\\\"hi", "raw", false, NULL, "count", NULL },
	{ "amount_big", "^[0-9]{3}", "amount", false, NULL, "tag", "big_amount" },
	{ "amount_frac", "\\.[0-9]$", "amount", false, NULL, "count", NULL },
	{ "amount_raw", "\"amount\":[0-9]+\\.5", "raw", false, NULL, "count", NULL },
	{ "vip_true", "^true$", "vip", false, NULL, "tag", "vip" },
	{ "vip_raw", "\"vip\":false", "raw", false, NULL, "count", NULL },
	{ "ref_null", "^null$", "ref", false, NULL, "count", NULL },
	{ "user_7", "^u7[0-9]*$", "user", false, NULL, "count", NULL },
	{ "user_raw", "\"user\":\"u1[0-9]\"", "raw", false, NULL, "tag", "u1x" },
	{ "raw_start", "^\\{", "raw", false, "multiline", "count", NULL },
	{ "raw_end", "\\}$", "raw", false, NULL, "count", NULL },
	{ "raw_store_sku", "\"store\":\"s1[0-9]\",\"sku\":\"A-", "raw", false, NULL, "tag", "combo" },
	{ "name_in_raw", "purchase|visit", "raw", false, "singlematch", "count", NULL },
	{ "amount_dotall", "amount.:[0-9]", "raw", false, "dotall", "count", NULL },
	{ "nowhere", "x", "nosuchfield", false, NULL, "count", NULL },
	{ "any_a", "a", "raw", false, NULL, "count", NULL },
};
#define N_RDEFS (sizeof(rdefs) / sizeof(rdefs[0]))

/* The configuration text of @p defs (n of them), max_matches_per_event @p cap. */
static char *
rules_yaml(const struct rdef *defs, uint32_t n, uint32_t cap)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "version: 1\nlimits: {max_rules: 100000, max_matches_per_event: %u}\nrules:\n",
		cap);
	for (uint32_t i = 0; i < n; i++) {
		const struct rdef *d = &defs[i];

		fprintf(f, "  - id: %s\n    pattern: '%s'\n    on: %s\n    action: %s\n", d->id,
			d->pattern, d->on, d->action);
		if (d->caseless || d->flags != NULL)
			fprintf(f, "    flags: [%s%s%s]\n", d->caseless ? "caseless" : "",
				d->caseless && d->flags ? ", " : "", d->flags ? d->flags : "");
		if (d->tag != NULL)
			fprintf(f, "    tag: %s\n", d->tag);
	}
	fputs("views: []\n", f);
	fclose(f);
	return buf;
}

static struct sl_config *
load(const char *yaml)
{
	struct sl_config_error err;
	struct sl_config *cfg = NULL;

	if (sl_config_load_string(yaml, strlen(yaml), "rules.yaml", &cfg, &err) != 0) {
		sl_config_error_print(&err, stderr);
		return NULL;
	}
	return cfg;
}

/* ---- generated events ---- */

/* One generated event: its line and, per field, the text a rule scans. */
struct gen {
	char line[LINE_MAX_];
	const char *name; /* NULL: no "event" member */
	uint32_t n;
	char key[GEN_FIELDS][16];
	char text[GEN_FIELDS][64];
};

static const char *const names[] = { "purchase", "visit", "refund", "Purchase", "login",
				     "PURCHASE", "purchases" };
static const char *const notes[] = { "hello world", "hello there", "refund requested",
				     "FRAUD alert", "possible fraud", "Fraud", "coupon=" };

static void
rand_letters(uint64_t *rng, char *out, uint32_t n, bool upper)
{
	for (uint32_t i = 0; i < n; i++)
		out[i] = (char)((upper ? 'A' : 'a') + rng_below(rng, 26));
	out[n] = '\0';
}

/*
 * A random JSON line. String values have no character to escape, except
 * note's `say \"hi\"` (raw holds the escape, the field the quote) and its
 * `\u0041` (raw: the escape; field: "A").
 */
static void
gen_event(uint64_t *rng, struct gen *g)
{
	char vals[GEN_FIELDS][80]; /* the JSON value text */
	uint32_t order[GEN_FIELDS], name_pos, r, u;
	const char *str;
	bool first = true;
	char l4[8];
	size_t off;

	memset(g, 0, sizeof(*g));
	g->name = rng_below(rng, 8) ? names[rng_below(rng, 7)] : NULL;
	/* One value each: every random draw is made once, before it is written twice. */
#define ADD(kname, jfmt, tfmt, ...)                                                   \
	do {                                                                          \
		snprintf(g->key[g->n], sizeof(g->key[0]), "%s", kname);               \
		snprintf(vals[g->n], sizeof(vals[0]), jfmt, __VA_ARGS__);             \
		snprintf(g->text[g->n], sizeof(g->text[0]), tfmt, __VA_ARGS__);       \
		g->n++;                                                               \
	} while (0)
	r = rng_below(rng, 6);
	if (r == 1) {
		ADD("store", "%d", "%d", 17);
	} else if (r > 1) {
		u = rng_below(rng, 40);
		ADD("store", "\"s%02u\"", "s%02u", u);
	}
	r = rng_below(rng, 5);
	if (r == 1) {
		u = rng_below(rng, 30);
		ADD("sku", "\"B-%03u\"", "B-%03u", u);
	} else if (r == 2) {
		str = rng_below(rng, 2) ? "X-9999" : "a-0123";
		ADD("sku", "\"%s\"", "%s", str);
	} else if (r > 2) {
		u = rng_below(rng, 10000);
		ADD("sku", "\"A-%04u\"", "A-%04u", u);
	}
	if (rng_below(rng, 3)) {
		static const char *const tails[] = { "FREE", "free", "10OFF", "50OFF" };

		rand_letters(rng, l4, 4, rng_below(rng, 3) != 0);
		str = tails[rng_below(rng, 4)];
		ADD("coupon", "\"%s-%s\"", "%s-%s", l4, str);
	}
	r = rng_below(rng, 6);
	if (r == 0) {
		rand_letters(rng, l4, 4, rng_below(rng, 4) != 0);
		ADD("note", "\"coupon=%s-FREE\"", "coupon=%s-FREE", l4);
	} else if (r == 1) {
		rand_letters(rng, l4, 3, true);
		ADD("note", "\"coupon=\\u0041%s-FREE\"", "coupon=A%s-FREE", l4);
	} else if (r == 2) {
		ADD("note", "\"say \\\"hi\\\" %s\"", "say \"hi\" %s", "now");
	} else if (r > 3) {
		str = notes[rng_below(rng, 7)];
		ADD("note", "\"%s\"", "%s", str);
	}
	if (rng_below(rng, 4)) {
		uint32_t whole = rng_below(rng, 1500), frac = rng_below(rng, 10);

		if (frac == 0)
			ADD("amount", "%u", "%u", whole);
		else
			ADD("amount", "%u.%u", "%u.%u", whole, frac);
	}
	if (rng_below(rng, 2)) {
		u = rng_below(rng, 100);
		ADD("user", "\"u%u\"", "u%u", u);
	}
	if (rng_below(rng, 3) == 0) {
		str = rng_below(rng, 2) ? "true" : "false";
		ADD("vip", "%s", "%s", str);
	}
	if (rng_below(rng, 5) == 0)
		ADD("ref", "%s", "%s", "null");
#undef ADD
	/* Fields in a random order, the name at a random place among them. */
	for (uint32_t i = 0; i < g->n; i++)
		order[i] = i;
	for (uint32_t i = g->n; i > 1; i--) {
		uint32_t j = rng_below(rng, i), t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	name_pos = g->name != NULL ? rng_below(rng, g->n + 1) : UINT32_MAX;
	off = (size_t)snprintf(g->line, sizeof(g->line), "{");
	for (uint32_t i = 0; i <= g->n; i++) {
		if (i == name_pos)
			off += (size_t)snprintf(g->line + off, sizeof(g->line) - off,
						"%s\"event\":\"%s\"", first ? "" : ",", g->name);
		first = first && i != name_pos;
		if (i == g->n)
			break;
		off += (size_t)snprintf(g->line + off, sizeof(g->line) - off, "%s\"%s\":%s",
					first ? "" : ",", g->key[order[i]], vals[order[i]]);
		first = false;
	}
	snprintf(g->line + off, sizeof(g->line) - off, "}");
}

/* ---- the reference matcher ---- */

struct ref {
	uint32_t n;
	regex_t re[N_RDEFS];
	const char *on[N_RDEFS];
	uint64_t tag_bit[N_RDEFS];
	bool drop[N_RDEFS];
};

static int
ref_init(struct ref *ref, const struct sl_config *cfg)
{
	memset(ref, 0, sizeof(*ref));
	for (uint32_t i = 0; i < N_RDEFS; i++) {
		int rc = regcomp(&ref->re[i], rdefs[i].pattern,
				 REG_EXTENDED | REG_NOSUB | (rdefs[i].caseless ? REG_ICASE : 0));

		if (rc != 0) {
			fprintf(stderr, "regcomp(%s): %d\n", rdefs[i].pattern, rc);
			return -1;
		}
		ref->n++;
		ref->on[i] = rdefs[i].on;
		ref->drop[i] = strcmp(rdefs[i].action, "drop") == 0;
		if (cfg->rules[i].action == SL_CONFIG_RULE_TAG)
			ref->tag_bit[i] = 1ULL << cfg->rules[i].tag_index;
	}
	return 0;
}

static void
ref_fini(struct ref *ref)
{
	for (uint32_t i = 0; i < ref->n; i++)
		regfree(&ref->re[i]);
}

/* The text rule @p i scans in @p g, or NULL when the event lacks it. */
static const char *
ref_target(const struct ref *ref, uint32_t i, const struct gen *g)
{
	if (strcmp(ref->on[i], "raw") == 0)
		return g->line;
	if (strcmp(ref->on[i], "event") == 0)
		return g->name;
	for (uint32_t j = 0; j < g->n; j++) {
		if (strcmp(g->key[j], ref->on[i]) == 0)
			return g->text[j];
	}
	return NULL;
}

static bool
ref_match(const struct ref *ref, uint32_t i, const struct gen *g)
{
	const char *t = ref_target(ref, i, g);

	return t != NULL && t[0] != '\0' && regexec(&ref->re[i], t, 0, NULL, 0) == 0;
}

/* ---- fixtures ---- */

struct fix {
	struct sl_config *cfg;
	struct sl_rules *rules;
	struct sl_rules_scratch *scratch;
	uint64_t *hits;
};

static int
fix_open(struct fix *fx, const struct rdef *defs, uint32_t n, uint32_t cap)
{
	char *yaml = rules_yaml(defs, n, cap), err[256];

	memset(fx, 0, sizeof(*fx));
	if (yaml == NULL)
		return -1;
	fx->cfg = load(yaml);
	free(yaml);
	if (fx->cfg == NULL)
		return -1;
	if (sl_rules_compile(fx->cfg, &fx->rules, err, sizeof(err)) != 0) {
		fprintf(stderr, "compile: %s\n", err);
		return -1;
	}
	if (sl_rules_scratch_alloc(fx->rules, &fx->scratch) != 0)
		return -1;
	fx->hits = calloc(sl_rules_count(fx->rules) + 1, sizeof(*fx->hits));
	return fx->hits != NULL ? 0 : -1;
}

static void
fix_close(struct fix *fx)
{
	free(fx->hits);
	sl_rules_scratch_free(fx->scratch);
	sl_rules_free(fx->rules);
	sl_config_free(fx->cfg);
}

/* ---- tests ---- */

SL_TEST(config_tags_in_rule_order)
{
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, rdefs, N_RDEFS, 16));
	SL_ASSERT_EQ(fx.cfg->n_rules, N_RDEFS);
	SL_ASSERT_EQ(sl_rules_count(fx.rules), N_RDEFS);
	for (uint32_t i = 0; i < N_RDEFS; i++)
		SL_ASSERT_STR_EQ(sl_rules_id(fx.rules, i), rdefs[i].id);
	SL_ASSERT_NULL(sl_rules_id(fx.rules, N_RDEFS));
	SL_ASSERT(sl_rules_memsize(fx.rules) > 0);
	/* Tag i = the i-th distinct tag of the tag rules, in rule order; the default is the id. */
	SL_ASSERT_EQ(fx.cfg->n_tags, 13);
	SL_ASSERT_STR_EQ(fx.cfg->tags[0], "abuse");
	SL_ASSERT_STR_EQ(fx.cfg->tags[1], "freeish");
	SL_ASSERT_STR_EQ(fx.cfg->tags[2], "low_store");
	SL_ASSERT_STR_EQ(fx.cfg->tags[5], "buy");
	SL_ASSERT_STR_EQ(fx.cfg->tags[6], "refund_raw");
	SL_ASSERT_EQ(sl_config_tag_index(fx.cfg, "combo"), 12);
	SL_ASSERT_EQ(sl_config_tag_index(fx.cfg, "off50"), -ENOENT); /* a count rule */
	SL_ASSERT_EQ(fx.cfg->rules[2].tag_index, 0);
	SL_ASSERT_EQ(fx.cfg->rules[5].tag_index, UINT32_MAX);
	SL_ASSERT_NULL(fx.cfg->rules[5].tag);
	SL_ASSERT(fx.cfg->rules[0].on_raw);
	SL_ASSERT(!fx.cfg->rules[2].on_raw);
	SL_ASSERT_EQ(fx.cfg->rules[1].flags, 1u << SL_CONFIG_RULE_FLAG_CASELESS);
	SL_ASSERT_EQ(fx.cfg->limits.max_matches_per_event, 16);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(generated_events_match_posix_regex)
{
	static struct gen g;
	static struct sl_event ev;
	uint64_t ref_hits[N_RDEFS] = { 0 }, rng = 0x5eed1234abcdULL;
	uint32_t drops = 0, tagged = 0, total = 0;
	struct ref ref;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, rdefs, N_RDEFS, SL_CONFIG_MAX_MATCHES_MAX));
	SL_ASSERT_OK(ref_init(&ref, fx.cfg));
	for (uint32_t e = 0; e < N_EVENTS; e++) {
		uint64_t before[N_RDEFS];
		struct sl_rules_result res;
		uint64_t want_tags = 0;
		uint32_t want_matches = 0;
		bool want_drop = false;

		gen_event(&rng, &g);
		if (sl_json_parse_line((const uint8_t *)g.line, (uint32_t)strlen(g.line), &ev) != OK)
			SL_FAILF("generated line does not parse: %s", g.line);
		SL_ASSERT(ev.raw.p == (const uint8_t *)g.line);
		SL_ASSERT_EQ(ev.tags, 0);
		memcpy(before, fx.hits, sizeof(before));
		sl_rules_apply(fx.rules, fx.scratch, &ev, ev.raw.p, ev.raw.len, fx.hits, &res);
		for (uint32_t i = 0; i < N_RDEFS; i++) {
			bool m = ref_match(&ref, i, &g);

			if (fx.hits[i] - before[i] != (m ? 1 : 0))
				fprintf(stderr, "event %u: rule %s: hits +%llu, reference %d\n", e,
					rdefs[i].id, (unsigned long long)(fx.hits[i] - before[i]), m);
			if (!m)
				continue;
			ref_hits[i]++;
			want_matches++;
			want_tags |= ref.tag_bit[i];
			want_drop |= ref.drop[i];
		}
		if (res.matches != want_matches || res.tags != want_tags || res.drop != want_drop ||
		    res.capped) {
			fprintf(stderr, "event %u: %s\n", e, g.line);
			SL_FAILF("matches %u/%u tags %#llx/%#llx drop %d/%d capped %d", res.matches,
				 want_matches, (unsigned long long)res.tags,
				 (unsigned long long)want_tags, res.drop, want_drop, res.capped);
		}
		drops += res.drop;
		tagged += res.tags != 0;
		total += res.matches;
	}
	for (uint32_t i = 0; i < N_RDEFS; i++) {
		if (fx.hits[i] != ref_hits[i])
			SL_FAILF("rule %s: %llu hits, reference %llu", rdefs[i].id,
				 (unsigned long long)fx.hits[i], (unsigned long long)ref_hits[i]);
		/* Every rule but "nowhere" is exercised. */
		if (strcmp(rdefs[i].id, "nowhere") != 0)
			SL_ASSERT(ref_hits[i] > 0);
	}
	SL_ASSERT_EQ(ref_hits[38], 0);          /* nowhere */
	SL_ASSERT_EQ(ref_hits[33], N_EVENTS);   /* raw_start */
	SL_ASSERT(drops > 0 && drops < N_EVENTS);
	SL_ASSERT(tagged > 0 && tagged < N_EVENTS);
	printf("# %u events, %u rule matches, %u dropped, %u tagged\n", N_EVENTS, total, drops,
	       tagged);
	ref_fini(&ref);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(a_rule_counts_once_per_event)
{
	static const struct rdef defs[] = {
		{ "a", "a", "raw", false, NULL, "count", NULL },
		{ "a_field", "a", "s", false, NULL, "tag", NULL },
	};
	static const char line[] = "{\"s\":\"aaaaaaaaaa\",\"t\":\"aaaa\"}";
	struct sl_rules_result res;
	struct sl_event ev;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, defs, 2, 16));
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)line, sizeof(line) - 1, &ev), OK);
	for (int k = 0; k < 3; k++)
		sl_rules_apply(fx.rules, fx.scratch, &ev, ev.raw.p, ev.raw.len, fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 2);
	SL_ASSERT_EQ(res.tags, 1);
	SL_ASSERT(!res.drop && !res.capped);
	SL_ASSERT_EQ(fx.hits[0], 3);
	SL_ASSERT_EQ(fx.hits[1], 3);
	/* raw NULL: raw rules are skipped, field rules still run. */
	sl_rules_apply(fx.rules, fx.scratch, &ev, NULL, 0, fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 1);
	SL_ASSERT_EQ(fx.hits[0], 3);
	SL_ASSERT_EQ(fx.hits[1], 4);
	fix_close(&fx);
	return SL_TEST_PASS;
}

/*
 * The cap: with max_matches_per_event = CAP, an event matching k rules
 * applies min(k, CAP) of them (all of them when k <= CAP, else a subset of
 * the reference's), and is capped when k > CAP. Generated events match 12
 * rules on average, so both sides of the bound are well exercised.
 */
#define CAP 12
SL_TEST(max_matches_per_event_caps_and_flags)
{
	static struct gen g;
	static struct sl_event ev;
	uint64_t rng = 77, ref_total = 0, applied = 0, hit_sum = 0;
	uint32_t capped = 0, exact = 0;
	struct ref ref;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, rdefs, N_RDEFS, CAP));
	SL_ASSERT_OK(ref_init(&ref, fx.cfg));
	for (uint32_t e = 0; e < 1000; e++) {
		uint64_t before[N_RDEFS], want_any = 0;
		struct sl_rules_result res;
		uint32_t k = 0;

		gen_event(&rng, &g);
		SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)g.line, (uint32_t)strlen(g.line),
						&ev),
			     OK);
		memcpy(before, fx.hits, sizeof(before));
		sl_rules_apply(fx.rules, fx.scratch, &ev, ev.raw.p, ev.raw.len, fx.hits, &res);
		for (uint32_t i = 0; i < N_RDEFS; i++) {
			bool m = ref_match(&ref, i, &g);

			k += m;
			want_any |= m ? ref.tag_bit[i] : 0;
			/* Applied rules are matching rules, each once. */
			SL_ASSERT(fx.hits[i] - before[i] <= (m ? 1 : 0));
			hit_sum += fx.hits[i] - before[i];
		}
		SL_ASSERT_EQ(res.matches, k < CAP ? k : CAP);
		SL_ASSERT_EQ(res.capped, k > CAP);
		SL_ASSERT_EQ(res.tags & ~want_any, 0);
		/* Not capped: exactly the reference's rules. */
		for (uint32_t i = 0; i < N_RDEFS && !res.capped; i++)
			SL_ASSERT_EQ(fx.hits[i] - before[i], ref_match(&ref, i, &g) ? 1 : 0);
		if (!res.capped)
			SL_ASSERT_EQ(res.tags, want_any);
		exact += k == CAP;
		capped += res.capped;
		ref_total += k;
		applied += res.matches;
	}
	SL_ASSERT_EQ(hit_sum, applied);
	SL_ASSERT(capped > 100 && capped < 900);
	SL_ASSERT(exact > 0); /* k == CAP: applied, not capped */
	SL_ASSERT(applied < ref_total);
	printf("# cap %u: %u of 1000 events capped, %u exactly at the cap, %llu of %llu matches "
	       "applied\n", CAP, capped, exact, (unsigned long long)applied,
	       (unsigned long long)ref_total);
	ref_fini(&ref);
	fix_close(&fx);
	return SL_TEST_PASS;
}

/* A cap of 1 on an event that matches exactly 1 rule: applied, not capped. */
SL_TEST(cap_boundary)
{
	static const struct rdef defs[] = {
		{ "one", "one", "raw", false, NULL, "tag", NULL },
		{ "two", "two", "event", false, NULL, "drop", NULL },
	};
	static const char line[] = "{\"event\":\"two\",\"x\":\"one\"}";
	struct sl_rules_result res;
	struct sl_event ev;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, defs, 2, 1));
	sl_rules_apply(fx.rules, fx.scratch, NULL, (const uint8_t *)"one", 3, fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 1);
	SL_ASSERT(!res.capped);
	SL_ASSERT_EQ(res.tags, 1);
	/* Raw is scanned before the name: "one" applies, "two" is over the cap. */
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)line, sizeof(line) - 1, &ev), OK);
	sl_rules_apply(fx.rules, fx.scratch, &ev, ev.raw.p, ev.raw.len, fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 1);
	SL_ASSERT(res.capped);
	SL_ASSERT_EQ(res.tags, 1);
	SL_ASSERT(!res.drop);
	SL_ASSERT_EQ(fx.hits[0], 2);
	SL_ASSERT_EQ(fx.hits[1], 0);
	fix_close(&fx);
	return SL_TEST_PASS;
}

/* A statsd line: raw only, no event; field rules are skipped. */
SL_TEST(statsd_line_without_event)
{
	static const struct rdef defs[] = {
		{ "metric", "^checkout\\.(ok|fail):", "raw", false, NULL, "count", NULL },
		{ "bad_tag", "#.*env:dev", "raw", false, NULL, "drop", NULL },
		{ "field", "checkout", "name", false, NULL, "count", NULL },
		{ "name", "checkout", "event", false, NULL, "count", NULL },
	};
	static const char line[] = "checkout.fail:1|c|#env:dev,region:eu";
	struct sl_rules_result res;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, defs, 4, 16));
	sl_rules_apply(fx.rules, fx.scratch, NULL, (const uint8_t *)line, sizeof(line) - 1, fx.hits,
		       &res);
	SL_ASSERT_EQ(res.matches, 2);
	SL_ASSERT(res.drop);
	SL_ASSERT_EQ(fx.hits[0], 1);
	SL_ASSERT_EQ(fx.hits[1], 1);
	SL_ASSERT_EQ(fx.hits[2] + fx.hits[3], 0);
	/* Nothing at all: nothing matches. */
	sl_rules_apply(fx.rules, fx.scratch, NULL, NULL, 0, fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 0);
	fix_close(&fx);
	return SL_TEST_PASS;
}

/* utf8 rules skip data that is not valid UTF-8; the others still see it. */
SL_TEST(utf8_rules_skip_invalid_utf8)
{
	static const struct rdef defs[] = {
		{ "u", "caf.", "raw", false, "utf8", "count", NULL },
		{ "b", "caf", "raw", false, NULL, "count", NULL },
		{ "u_field", "^caf.$", "s", false, "utf8, ucp", "tag", NULL },
	};
	static const uint8_t bad[] = { 'c', 'a', 'f', 0xff };
	static const char good[] = "caf\xc3\xa9";
	static const char line[] = "{\"s\":\"caf\xc3\xa9\"}";
	struct sl_rules_result res;
	struct sl_event ev;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, defs, 3, 16));
	SL_ASSERT_EQ(fx.cfg->rules[2].flags,
		     (1u << SL_CONFIG_RULE_FLAG_UTF8) | (1u << SL_CONFIG_RULE_FLAG_UCP));
	sl_rules_apply(fx.rules, fx.scratch, NULL, bad, sizeof(bad), fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 1);
	SL_ASSERT_EQ(fx.hits[0], 0);
	SL_ASSERT_EQ(fx.hits[1], 1);
	sl_rules_apply(fx.rules, fx.scratch, NULL, (const uint8_t *)good, sizeof(good) - 1,
		       fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 2);
	SL_ASSERT_EQ(fx.hits[0], 1);
	/* "." is one code point with utf8: "^caf.$" matches "café" (5 bytes). */
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)line, sizeof(line) - 1, &ev), OK);
	sl_rules_apply(fx.rules, fx.scratch, &ev, NULL, 0, fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 1);
	SL_ASSERT_EQ(res.tags, 1);
	fix_close(&fx);
	return SL_TEST_PASS;
}

/* Numbers, booleans and null are scanned as their text in views. */
SL_TEST(non_string_fields_as_text)
{
	static const struct rdef defs[] = {
		{ "exact", "^12\\.5$", "n", false, NULL, "count", NULL },
		{ "neg", "^-3$", "m", false, NULL, "count", NULL },
		{ "inexact", "^0\\.1234567$", "x", false, NULL, "count", NULL },
		{ "bool", "^false$", "b", false, NULL, "count", NULL },
		{ "nul", "^null$", "z", false, NULL, "count", NULL },
		{ "name", "^buy$", "event", false, NULL, "count", NULL },
	};
	static const char line[] =
		"{\"n\":12.500,\"m\":-3.0,\"x\":0.1234567,\"b\":false,\"z\":null,\"event\":\"buy\"}";
	struct sl_rules_result res;
	struct sl_event ev;
	struct fix fx;

	SL_ASSERT_OK(fix_open(&fx, defs, 6, 16));
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)line, sizeof(line) - 1, &ev), OK);
	sl_rules_apply(fx.rules, fx.scratch, &ev, ev.raw.p, ev.raw.len, fx.hits, &res);
	SL_ASSERT_EQ(res.matches, 6);
	for (uint32_t i = 0; i < 6; i++)
		SL_ASSERT_EQ(fx.hits[i], 1);
	fix_close(&fx);
	return SL_TEST_PASS;
}

SL_TEST(empty_rule_set)
{
	static const char yaml[] = "version: 1\nviews: []\n";
	struct sl_config *cfg = load(yaml);
	struct sl_rules_scratch *s = NULL;
	struct sl_rules_result res = { .tags = 5, .drop = true };
	struct sl_rules *r = NULL;
	struct sl_event ev;
	char err[128];

	SL_ASSERT_NOT_NULL(cfg);
	SL_ASSERT_EQ(cfg->n_rules, 0);
	SL_ASSERT_EQ(cfg->n_tags, 0);
	SL_ASSERT_EQ(cfg->limits.max_rules, SL_CONFIG_DEFAULT_MAX_RULES);
	SL_ASSERT_EQ(cfg->limits.max_matches_per_event, SL_CONFIG_DEFAULT_MAX_MATCHES);
	SL_ASSERT_OK(sl_rules_compile(cfg, &r, err, sizeof(err)));
	SL_ASSERT_OK(sl_rules_scratch_alloc(r, &s));
	SL_ASSERT_EQ(sl_rules_count(r), 0);
	SL_ASSERT_EQ(sl_rules_memsize(r), 0);
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)"{\"a\":\"b\"}", 9, &ev), OK);
	sl_rules_apply(r, s, &ev, ev.raw.p, ev.raw.len, NULL, &res);
	SL_ASSERT_EQ(res.matches, 0);
	SL_ASSERT_EQ(res.tags, 0);
	SL_ASSERT(!res.drop && !res.capped);
	sl_rules_scratch_free(s);
	sl_rules_free(r);
	sl_rules_scratch_free(NULL);
	sl_rules_free(NULL);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

/*
 * Errors of sl_rules_compile(). The loader already checks each pattern, so
 * these configurations are built by hand, as a caller could.
 */
static int
compile_rules(const struct sl_config_rule *rules, uint32_t n, char *err, size_t cap)
{
	struct sl_config cfg;
	struct sl_rules *r = NULL;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.rules = (struct sl_config_rule *)(uintptr_t)rules;
	cfg.n_rules = n;
	cfg.limits.max_matches_per_event = 16;
	rc = sl_rules_compile(&cfg, &r, err, cap);
	if (rc == 0)
		sl_rules_free(r);
	return rc;
}

SL_TEST(compile_errors_name_the_rule_and_hyperscan)
{
	struct sl_config_rule rules[4] = {
		{ .id = "ok_raw", .pattern = "abc", .on = "raw", .on_raw = true,
		  .action = SL_CONFIG_RULE_COUNT, .tag_index = UINT32_MAX },
		{ .id = "ok_sku", .pattern = "^A-", .on = "sku", .action = SL_CONFIG_RULE_COUNT,
		  .tag_index = UINT32_MAX },
		{ .id = "ok_sku2", .pattern = "^B-", .on = "sku", .action = SL_CONFIG_RULE_TAG,
		  .tag = "b", .tag_index = 0 },
		{ .id = "broken", .pattern = "(abc", .on = "sku", .action = SL_CONFIG_RULE_COUNT,
		  .tag_index = UINT32_MAX },
	};
	char err[256];

	SL_ASSERT_OK(compile_rules(rules, 3, err, sizeof(err)));
	/* The third expression of the "sku" database: the index maps back to the rule. */
	SL_ASSERT_EQ(compile_rules(rules, 4, err, sizeof(err)), -EINVAL);
	SL_ASSERT_STR_EQ(err, "rule 'broken' (pattern '(abc'): Hyperscan: Missing close "
			      "parenthesis for group started at index 0.");
	rules[3].pattern = "a|";
	SL_ASSERT_EQ(compile_rules(rules, 4, err, sizeof(err)), -EINVAL);
	SL_ASSERT_STR_EQ(err, "rule 'broken' (pattern 'a|'): Hyperscan: Pattern matches empty "
			      "buffer; use HS_FLAG_ALLOWEMPTY to enable support.");
	rules[3].pattern = "(a)\\1";
	rules[3].on_raw = true;
	rules[3].on = "raw";
	SL_ASSERT_EQ(compile_rules(rules, 4, err, sizeof(err)), -EINVAL);
	SL_ASSERT_STR_EQ(err, "rule 'broken' (pattern '(a)\\1'): Hyperscan: Back-references are "
			      "unsupported.");
	/* A long pattern is cut in the message. */
	rules[3].pattern = "(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	SL_ASSERT_EQ(compile_rules(rules, 4, err, sizeof(err)), -EINVAL);
	SL_ASSERT(strstr(err, "rule 'broken' (pattern '(aaaaaaaaaaaaaaaaaaaaa") == err);
	SL_ASSERT(strstr(err, "...'): Hyperscan: Missing close parenthesis") != NULL);
	/* Malformed input (not from the loader). */
	rules[2].tag_index = 64;
	SL_ASSERT_EQ(compile_rules(rules, 3, err, sizeof(err)), -EINVAL);
	SL_ASSERT(strstr(err, "ok_sku2") != NULL);
	/* err may be NULL. */
	rules[2].tag_index = 0;
	SL_ASSERT_EQ(compile_rules(rules, 4, NULL, 0), -EINVAL);
	return SL_TEST_PASS;
}

SL_TEST(pattern_check)
{
	char err[200];

	SL_ASSERT_OK(sl_rules_pattern_check("coupon=[A-Z]{4}-FREE", 0, err, sizeof(err)));
	SL_ASSERT_OK(sl_rules_pattern_check("caf\xc3\xa9", 1u << SL_CONFIG_RULE_FLAG_UTF8, err,
					    sizeof(err)));
	SL_ASSERT_EQ(sl_rules_pattern_check("[z-a]", 0, err, sizeof(err)), -EINVAL);
	SL_ASSERT(strncmp(err, "Hyperscan: ", 11) == 0);
	SL_ASSERT_EQ(sl_rules_pattern_check("x*", 0, err, sizeof(err)), -EINVAL);
	SL_ASSERT_STR_EQ(err, "it can match an empty string (it would match every event)");
	SL_ASSERT_EQ(sl_rules_pattern_check("\\bfoo", (1u << SL_CONFIG_RULE_FLAG_UTF8) |
							(1u << SL_CONFIG_RULE_FLAG_UCP),
					    err, sizeof(err)),
		     -EINVAL);
	SL_ASSERT_STR_EQ(err, "Hyperscan: \\b unsupported in UCP mode at index 0.");
	SL_ASSERT_EQ(sl_rules_pattern_check("\xff", 1u << SL_CONFIG_RULE_FLAG_UTF8, NULL, 0),
		     -EINVAL);
	return SL_TEST_PASS;
}

/* 1 000 and 10 000 rules over several targets compile; the time is only logged. */
static int
many_rules(uint32_t n)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct sl_rules_scratch *s = NULL;
	struct sl_rules_result res;
	struct sl_rules *r = NULL;
	struct sl_config *cfg;
	struct sl_event ev;
	uint64_t *hits;
	char line[128];
	double t0, t1, t2;
	uint32_t want = n / 2 + 7; /* a literal rule on raw */
	int ln;

	SL_ASSERT_NOT_NULL(f);
	fprintf(f, "version: 1\nlimits: {max_rules: %u}\nrules:\n", n);
	for (uint32_t i = 0; i < n; i++) {
		static const char *const ons[] = { "raw", "sku", "store", "note", "raw" };

		switch (i % 4) {
		case 0:
		case 3:
			fprintf(f, "  - {id: r%u, pattern: 'kw%06u', on: %s, action: count}\n", i, i,
				ons[i % 5]);
			break;
		case 1:
			fprintf(f, "  - {id: r%u, pattern: '^[A-Z]{2}%05u$', on: %s, action: count, "
				"flags: [caseless]}\n", i, i, ons[i % 5]);
			break;
		default:
			fprintf(f, "  - {id: r%u, pattern: '(foo|bar)-%u-(x|y)', on: %s, action: tag, "
				"tag: t%u}\n", i, i, ons[i % 5], i / 4 % 64);
			break;
		}
	}
	fputs("views: []\n", f);
	fclose(f);
	t0 = now_s();
	cfg = load(buf);
	free(buf);
	SL_ASSERT_NOT_NULL(cfg);
	SL_ASSERT_EQ(cfg->n_rules, n);
	SL_ASSERT_EQ(cfg->n_tags, 64);
	t1 = now_s();
	if (sl_rules_compile(cfg, &r, err, sizeof(err)) != 0)
		SL_FAILF("%u rules: %s", n, err);
	t2 = now_s();
	SL_ASSERT_OK(sl_rules_scratch_alloc(r, &s));
	printf("# %u rules: load and check %.2f s, compile %.2f s, %zu KiB of databases\n", n,
	       t1 - t0, t2 - t1, sl_rules_memsize(r) >> 10);
	hits = calloc(n, sizeof(*hits));
	SL_ASSERT_NOT_NULL(hits);
	/* want % 4 == 3 and want % 5 picks raw or a field: put it in both. */
	ln = snprintf(line, sizeof(line), "{\"sku\":\"kw%06u\",\"store\":\"kw%06u\",\"note\":\"kw%06u\"}",
		      want, want, want);
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)line, (uint32_t)ln, &ev), OK);
	sl_rules_apply(r, s, &ev, ev.raw.p, ev.raw.len, hits, &res);
	SL_ASSERT_EQ(res.matches, 1);
	SL_ASSERT_EQ(hits[want], 1);
	free(hits);
	sl_rules_scratch_free(s);
	sl_rules_free(r);
	sl_config_free(cfg);
	return SL_TEST_PASS;
}

SL_TEST(thousand_rules_compile)
{
	return many_rules(1000);
}

SL_TEST(ten_thousand_rules_compile)
{
	return many_rules(10000);
}

SL_TEST_MAIN()
