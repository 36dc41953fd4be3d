/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of the JSON lines parser: every value kind, the reserved "event"
 * and "ts" members, escapes and UTF-8, number conversion against strtod() and
 * an independent decimal computation, every limit at and past its bound,
 * every truncation of a datagram, one line per drop reason, and two
 * randomized comparisons with jansson (an independent RFC 8259 parser):
 * generated events written as JSON, and mutations of valid lines.
 */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <sluice/common.h>

#include "event.h"
#include "json.h"
#include "parse.h"
#include "sl_test.h"

#define OK SL_DROP__MAX
#define TEXT_MAX 8192
#define EVENTS_MAX 16

/* Deterministic generator for the randomized tests (xorshift64*). */
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

static unsigned int
parse_str(const char *s, struct sl_event *ev)
{
	return sl_json_parse_line((const uint8_t *)s, (uint32_t)strlen(s), ev);
}

static bool
span_eq(struct sl_span sp, const char *s)
{
	return sp.len == strlen(s) && memcmp(sp.p, s, sp.len) == 0;
}

static bool
span_eqn(struct sl_span sp, const void *s, uint32_t n)
{
	return sp.len == n && (n == 0 || memcmp(sp.p, s, n) == 0);
}

static bool
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static bool
in_scratch(const struct sl_event *ev, struct sl_span sp)
{
	return sp.p >= ev->scratch && sp.p + sp.len <= ev->scratch + SL_EVENT_SCRATCH;
}

static uint64_t
drops_sum(const uint64_t drops[SL_DROP__MAX])
{
	uint64_t s = 0;

	for (unsigned int r = 0; r < SL_DROP__MAX; r++)
		s += drops[r];
	return s;
}

/* Append a span, bytes outside printable ASCII as \xHH. */
static size_t
put_span(char *out, size_t k, struct sl_span sp)
{
	for (uint32_t i = 0; i < sp.len; i++) {
		uint8_t b = sp.p[i];

		if (b >= 0x20 && b < 0x7f && b != '\\')
			out[k++] = (char)b;
		else
			k += (size_t)sprintf(out + k, "\\x%02x", b);
	}
	return k;
}

/*
 * A canonical text of an event, so tests compare whole events as strings:
 * `name@ts key=s"str" key=n1.5/1500000 key=n0.1234567/- key=b1 key=null`.
 */
static void
event_text(const struct sl_event *ev, char *out)
{
	size_t k = put_span(out, 0, ev->name);

	k += (size_t)sprintf(out + k, "@%llu", (unsigned long long)ev->ts_ns);
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		out[k++] = ' ';
		k = put_span(out, k, f->key);
		out[k++] = '=';
		if (f->kind == SL_FIELD_STR) {
			out[k++] = 's';
			out[k++] = '"';
			k = put_span(out, k, f->str);
			out[k++] = '"';
		} else if (f->kind == SL_FIELD_NUM && f->num_exact) {
			k += (size_t)sprintf(out + k, "n%.17g/%lld", f->num,
					     (long long)f->num_micro);
		} else if (f->kind == SL_FIELD_NUM) {
			k += (size_t)sprintf(out + k, "n%.17g/-", f->num);
		} else if (f->kind == SL_FIELD_BOOL) {
			k += (size_t)sprintf(out + k, "b%d", f->b);
		} else {
			k += (size_t)sprintf(out + k, "null");
		}
	}
	out[k] = '\0';
}

/* Events of a datagram, kept as canonical texts (the event struct must not be copied). */
struct collect {
	uint32_t n;
	char text[EVENTS_MAX][1024];
};

static void
collect_cb(const struct sl_event *ev, void *arg)
{
	struct collect *c = arg;

	if (c->n < EVENTS_MAX)
		event_text(ev, c->text[c->n]);
	c->n++;
}

static void
count_cb(const struct sl_event *ev, void *arg)
{
	(void)ev;
	(*(uint32_t *)arg)++;
}

/* The raw spans of a datagram's events. */
struct raw_seen {
	uint32_t n;
	char raw[EVENTS_MAX][256];
	bool in_buf[EVENTS_MAX];
	uint64_t tags[EVENTS_MAX];
	const uint8_t *buf;
	uint32_t len;
};

static void
raw_cb(const struct sl_event *ev, void *arg)
{
	struct raw_seen *rs = arg;

	if (rs->n < EVENTS_MAX && ev->raw.len < sizeof(rs->raw[0])) {
		memcpy(rs->raw[rs->n], ev->raw.p, ev->raw.len);
		rs->raw[rs->n][ev->raw.len] = '\0';
		rs->in_buf[rs->n] = ev->raw.p >= rs->buf && ev->raw.p + ev->raw.len <= rs->buf + rs->len;
		rs->tags[rs->n] = ev->tags;
	}
	rs->n++;
}

/* Parse @p line and compare its canonical text with @p want. */
static int
check_event(const char *line, const char *want)
{
	static struct sl_event ev;
	static char got[4096];
	unsigned int rc = parse_str(line, &ev);

	if (rc != OK)
		SL_FAILF("'%s': rejected as %s", line, sl_drop_reason_name(rc));
	event_text(&ev, got);
	if (strcmp(got, want) != 0)
		SL_FAILF("'%s': got '%s', want '%s'", line, got, want);
	return SL_TEST_PASS;
}

#define SL_ASSERT_EVENT(line, want) SL_ASSERT_EQ(check_event(line, want), SL_TEST_PASS)

SL_TEST(retail_event)
{
	struct sl_event ev;
	static const char line[] = "{\"event\":\"purchase\",\"store\":\"s-17\",\"sku\":\"A-1001\","
				   "\"amount\":23.50,\"user\":\"u42\",\"ts\":1700000000123}";

	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT(span_eq(ev.name, "purchase"));
	SL_ASSERT_EQ(ev.ts_ns, 1700000000123000000ULL);
	SL_ASSERT_EQ(ev.n_fields, 4);
	SL_ASSERT(span_eq(ev.fields[0].key, "store"));
	SL_ASSERT_EQ(ev.fields[0].kind, SL_FIELD_STR);
	SL_ASSERT(span_eq(ev.fields[0].str, "s-17"));
	SL_ASSERT(span_eq(ev.fields[1].key, "sku"));
	SL_ASSERT(span_eq(ev.fields[1].str, "A-1001"));
	SL_ASSERT(span_eq(ev.fields[2].key, "amount"));
	SL_ASSERT_EQ(ev.fields[2].kind, SL_FIELD_NUM);
	SL_ASSERT_DBL_EQ(ev.fields[2].num, 23.5);
	SL_ASSERT(ev.fields[2].num_exact);
	SL_ASSERT_EQ(ev.fields[2].num_micro, 23500000);
	SL_ASSERT(span_eq(ev.fields[3].key, "user"));
	SL_ASSERT(span_eq(ev.fields[3].str, "u42"));
	/* No escape anywhere: every span points into the line, scratch unused. */
	SL_ASSERT(ev.name.p == (const uint8_t *)line + 10);
	SL_ASSERT_EQ(ev.scratch_used, 0);
	SL_ASSERT_NOT_NULL(sl_event_field_find(&ev, "sku", 3));
	SL_ASSERT_NULL(sl_event_field_find(&ev, "event", 5));
	SL_ASSERT_NULL(sl_event_field_find(&ev, "ts", 2));
	return SL_TEST_PASS;
}

/* raw is the line as given (a span of it, escapes kept); tags start at 0. */
SL_TEST(raw_and_tags)
{
	static const char line[] = "  {\"event\":\"a\\u0062\",\"s\":\"x\\ty\",\"n\":1.50}  ";
	static const char dg[] = "{\"event\":\"a\"}\r\n{\"s\":\"\\\"q\\\"\"}\n  {} \n{\"n\":1}";
	static const char *const want[] = { "{\"event\":\"a\"}", "{\"s\":\"\\\"q\\\"\"}", "  {} ",
					    "{\"n\":1}" };
	struct raw_seen rs = { .buf = (const uint8_t *)dg, .len = sizeof(dg) - 1 };
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct sl_event ev;

	memset(&ev, 0xa5, sizeof(ev));
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT(ev.raw.p == (const uint8_t *)line);
	SL_ASSERT_EQ(ev.raw.len, sizeof(line) - 1);
	SL_ASSERT_EQ(ev.tags, 0);
	SL_ASSERT(span_eq(ev.name, "ab")); /* unescaped in the name, not in raw */
	/* Each event of a datagram: its line without "\n" or "\r\n". */
	SL_ASSERT_EQ(sl_json_parse_datagram((const uint8_t *)dg, sizeof(dg) - 1, drops, raw_cb,
					    &rs),
		     4);
	SL_ASSERT_EQ(rs.n, 4);
	for (uint32_t i = 0; i < 4; i++) {
		SL_ASSERT_STR_EQ(rs.raw[i], want[i]);
		SL_ASSERT(rs.in_buf[i]);
		SL_ASSERT_EQ(rs.tags[i], 0);
	}
	return SL_TEST_PASS;
}

SL_TEST(every_kind)
{
	struct sl_event ev;

	SL_ASSERT_EVENT("{\"s\":\"x\",\"n\":-2,\"t\":true,\"f\":false,\"z\":null,\"e\":\"\"}",
			"@0 s=s\"x\" n=n-2/-2000000 t=b1 f=b0 z=null e=s\"\"");
	SL_ASSERT_EQ(parse_str("{\"t\":true,\"z\":null,\"e\":\"\"}", &ev), OK);
	SL_ASSERT_EQ(ev.fields[0].kind, SL_FIELD_BOOL);
	SL_ASSERT(ev.fields[0].b);
	SL_ASSERT_EQ(ev.fields[1].kind, SL_FIELD_NULL);
	SL_ASSERT_EQ(ev.fields[2].kind, SL_FIELD_STR);
	SL_ASSERT_EQ(ev.fields[2].str.len, 0);
	SL_ASSERT_NOT_NULL(ev.fields[2].str.p);
	/* An empty object is an event without name, time or fields. */
	SL_ASSERT_EQ(parse_str("{}", &ev), OK);
	SL_ASSERT_EQ(ev.n_fields, 0);
	SL_ASSERT_EQ(ev.name.len, 0);
	SL_ASSERT_NOT_NULL(ev.name.p);
	SL_ASSERT_EQ(ev.ts_ns, 0);
	/* An empty key is a key. */
	SL_ASSERT_EVENT("{\"\":1}", "@0 =n1/1000000");
	return SL_TEST_PASS;
}

SL_TEST(event_name)
{
	char line[1024];
	struct sl_event ev;
	int k;

	SL_ASSERT_EVENT("{\"event\":\"visit\"}", "visit@0");
	SL_ASSERT_EVENT("{\"event\":\"\"}", "@0");
	SL_ASSERT_EVENT("{\"a\":1}", "@0 a=n1/1000000");
	SL_ASSERT_EVENT("{\"event\":\"caf\\u00e9 \\\"x\\\"\"}", "caf\\xc3\\xa9 \"x\"@0");
	/* The reserved key is recognised after unescaping. */
	SL_ASSERT_EVENT("{\"\\u0065vent\":\"v\"}", "v@0");
	/* Position does not matter. */
	SL_ASSERT_EVENT("{\"a\":1,\"event\":\"v\",\"b\":2}", "v@0 a=n1/1000000 b=n2/2000000");

	static const char *const bad[] = {
		"{\"event\":1}", "{\"event\":null}", "{\"event\":true}", "{\"event\":false}",
		"{\"event\":-1.5}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		SL_ASSERT_EQ(parse_str(bad[i], &ev), SL_DROP_BAD_NAME);

	k = sprintf(line, "{\"event\":\"");
	memset(line + k, 'n', SL_EVENT_NAME_MAX);
	strcpy(line + k + SL_EVENT_NAME_MAX, "\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.name.len, SL_EVENT_NAME_MAX);
	memset(line + k, 'n', SL_EVENT_NAME_MAX + 1);
	strcpy(line + k + SL_EVENT_NAME_MAX + 1, "\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_NAME_TOO_LONG);
	/* The limit applies to the unescaped bytes: 100 x "\u00e9" is 200 bytes. */
	k = sprintf(line, "{\"event\":\"");
	for (int i = 0; i < SL_EVENT_NAME_MAX / 2; i++)
		k += sprintf(line + k, "\\u00e9");
	strcpy(line + k, "\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.name.len, SL_EVENT_NAME_MAX);
	SL_ASSERT(in_scratch(&ev, ev.name));
	strcpy(line + k, "x\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_NAME_TOO_LONG);
	return SL_TEST_PASS;
}

SL_TEST(timestamps)
{
	static const struct {
		const char *ts;
		uint64_t ns;
	} ok[] = {
		{ "1", 1000000ULL },
		{ "1700000000123", 1700000000123000000ULL },
		{ "9999999999999", 9999999999999000000ULL },
		{ "100000000000000000", 100000000000000000ULL },
		{ "1700000000123456789", 1700000000123456789ULL },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad[] = {
		"0", "10000000000000", "99999999999999999", "1700000000123456",
		"18446744073709551616", "99999999999999999999999", "-1", "-0", "1.5",
		"1700000000123.0", "17e11", "1E12",
		"\"1700000000123\"", "null", "true", "false",
	};
	char line[128];
	struct sl_event ev;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(line, sizeof(line), "{\"ts\":%s,\"event\":\"e\"}", ok[i].ts);
		SL_ASSERT_EQ(parse_str(line, &ev), OK);
		SL_ASSERT(ev.ts_ns == ok[i].ns);
		SL_ASSERT_EQ(ev.n_fields, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "{\"ts\":%s}", bad[i]);
		if (parse_str(line, &ev) != SL_DROP_BAD_TIMESTAMP)
			SL_FAILF("ts %s: %s", bad[i], sl_drop_reason_name(parse_str(line, &ev)));
	}
	/* Not a JSON number at all: the grammar decides first. */
	SL_ASSERT_EQ(parse_str("{\"ts\":01}", &ev), SL_DROP_BAD_VALUE);
	SL_ASSERT_EQ(parse_str("{\"ts\":+1}", &ev), SL_DROP_JSON_SYNTAX);
	SL_ASSERT_EQ(parse_str("{\"ts\":{}}", &ev), SL_DROP_JSON_NESTED);
	return SL_TEST_PASS;
}

SL_TEST(escapes)
{
	struct sl_event ev;

	SL_ASSERT_EVENT("{\"k\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
			"@0 k=s\"\"\\x5c/\\x08\\x0c\\x0a\\x0d\\x09\"");
	SL_ASSERT_EVENT("{\"k\":\"\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\"}",
			"@0 k=s\"A\\xc3\\xa9\\xc3\\xa9\\xe2\\x82\\xac\\xef\\xbf\\xbf\"");
	/* Surrogate pairs, lower and upper case hex; U+10FFFF is the last code point. */
	SL_ASSERT_EVENT("{\"k\":\"\\ud83d\\ude00\\uD83D\\uDE00\\udbff\\udfff\\ud800\\udc00\"}",
			"@0 k=s\"\\xf0\\x9f\\x98\\x80\\xf0\\x9f\\x98\\x80\\xf4\\x8f\\xbf\\xbf"
			"\\xf0\\x90\\x80\\x80\"");
	/* \u0000 is a byte of the value like any other. */
	SL_ASSERT_EQ(parse_str("{\"k\\u0000\":\"a\\u0000b\"}", &ev), OK);
	SL_ASSERT(span_eqn(ev.fields[0].key, "k\0", 2));
	SL_ASSERT(span_eqn(ev.fields[0].str, "a\0b", 3));
	SL_ASSERT(in_scratch(&ev, ev.fields[0].key));
	SL_ASSERT(in_scratch(&ev, ev.fields[0].str));
	SL_ASSERT_EQ(ev.scratch_used, 5);
	/* Escaped and unescaped strings in one event: only the former use scratch. */
	SL_ASSERT_EQ(parse_str("{\"a\":\"plain\",\"b\":\"x\\ny\",\"c\":\"plain\"}", &ev), OK);
	SL_ASSERT(!in_scratch(&ev, ev.fields[0].str));
	SL_ASSERT(in_scratch(&ev, ev.fields[1].str));
	SL_ASSERT(span_eq(ev.fields[1].str, "x\ny"));
	SL_ASSERT(!in_scratch(&ev, ev.fields[2].str));
	SL_ASSERT_EQ(ev.scratch_used, 3);
	/* Escapes in the middle and at both ends. */
	SL_ASSERT_EVENT("{\"k\":\"\\tab\\tc\\t\"}", "@0 k=s\"\\x09ab\\x09c\\x09\"");

	static const char *const syntax[] = {
		"{\"k\":\"\\x\"}", "{\"k\":\"\\U0041\"}", "{\"k\":\"\\u004\"}",
		"{\"k\":\"\\u00G1\"}",
		"{\"k\":\"\\u\"}", "{\"k\":\"\\", "{\"k\":\"\\\"}", "{\"k\":\"\\u12\"}",
		"{\"k\":\"\\ud800\\u12\"}", "{\"k\":\"\\ud800\\uzzzz\"}", "{\"k\":\"\\'\"}",
		"{\"k\":\"\\a\"}", "{\"k\":\"\\0\"}", "{\"k\":\"\\ \"}",
	};
	static const char *const surrogates[] = {
		"{\"k\":\"\\ud800\"}", "{\"k\":\"\\udbff\"}", "{\"k\":\"\\udc00\"}",
		"{\"k\":\"\\udfff\"}", "{\"k\":\"\\ud800x\"}", "{\"k\":\"\\ud800\\n\"}",
		"{\"k\":\"\\ud800\\ud800\"}", "{\"k\":\"\\ud800\\u0041\"}",
		"{\"k\":\"\\ude00\\ud83d\"}",
		"{\"\\udc00\":1}",
	};
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++)
		if (parse_str(syntax[i], &ev) != SL_DROP_JSON_SYNTAX)
			SL_FAILF("%s: %s", syntax[i],
				 sl_drop_reason_name(parse_str(syntax[i], &ev)));
	for (size_t i = 0; i < sizeof(surrogates) / sizeof(surrogates[0]); i++)
		SL_ASSERT_EQ(parse_str(surrogates[i], &ev), SL_DROP_BAD_UTF8);
	return SL_TEST_PASS;
}

SL_TEST(raw_utf8)
{
	static const char *const good[] = {
		"\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "caf\xc3\xa9",
		"\xe6\x97\xa5\xe6\x9c\xac",
	};
	static const char *const bad[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x41", "\xe0\x80\x80",
		"\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xe2\x82", "\xf0\x80\x80\x80",
		"\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xfe", "\xff", "\xc3\xa9\xa9", "\xf0\x9f\x98",
	};
	char line[64];
	struct sl_event ev;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), "{\"%s\":\"%s\"}", good[i], good[i]);
		SL_ASSERT_EQ(parse_str(line, &ev), OK);
		SL_ASSERT(span_eq(ev.fields[0].key, good[i]));
		SL_ASSERT(span_eq(ev.fields[0].str, good[i]));
		/* After an escape the same bytes are copied to scratch, still checked. */
		snprintf(line, sizeof(line), "{\"k\":\"\\n%s\"}", good[i]);
		SL_ASSERT_EQ(parse_str(line, &ev), OK);
		SL_ASSERT_EQ(ev.fields[0].str.len, strlen(good[i]) + 1);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "{\"k\":\"%s\"}", bad[i]);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_BAD_UTF8);
		snprintf(line, sizeof(line), "{\"k\":\"\\n%s\"}", bad[i]);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_BAD_UTF8);
		snprintf(line, sizeof(line), "{\"%s\":1}", bad[i]);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_BAD_UTF8);
		snprintf(line, sizeof(line), "{\"event\":\"%s\"}", bad[i]);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_BAD_UTF8);
	}
	/* Bytes below 0x20 must be escaped, in keys and values alike; 0x7f need not. */
	for (int b = 0; b < 0x20; b++) {
		snprintf(line, sizeof(line), "{\"k\":\"a%cb\"}", b == 0 ? 1 : b);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_JSON_SYNTAX);
		snprintf(line, sizeof(line), "{\"a%cb\":1}", b == 0 ? 1 : b);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_JSON_SYNTAX);
	}
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)"{\"k\":\"a\0b\"}", 11, &ev),
		     SL_DROP_JSON_SYNTAX);
	/* Outside strings any non-ASCII byte is a syntax error, not a UTF-8 one. */
	SL_ASSERT_EQ(parse_str("{\xc3\xa9}", &ev), SL_DROP_JSON_SYNTAX);
	SL_ASSERT_EQ(parse_str("\xef\xbb\xbf{}", &ev), SL_DROP_JSON_SYNTAX);
	return SL_TEST_PASS;
}

SL_TEST(numbers_grammar)
{
	static const char *const bad_value[] = {
		"01", "-01", "00", "-", "1.", "-1.", "1.e5", "1e", "1e+", "1E-", "--1", "-+1",
		"1.2.3", "1e5e5", "1e5.5", "-Infinity", "1+1", "1-", "-.5", "0.", "2.e3",
	};
	static const char *const syntax[] = {
		"+1", ".5", "NaN", "nan", "Infinity", "inf", "1x", "1 2", "0x10", "1,5", "1_000",
		"1.5f", "\xef\xbc\x91",
	};
	static const char *const range[] = {
		"1e16", "-1e16", "1e400", "-1e400", "1000000000000001", "1000000000000000.5",
		"1e999999999999999999999",
	};
	char line[128];
	struct sl_event ev;

	for (size_t i = 0; i < sizeof(bad_value) / sizeof(bad_value[0]); i++) {
		snprintf(line, sizeof(line), "{\"v\":%s}", bad_value[i]);
		if (parse_str(line, &ev) != SL_DROP_BAD_VALUE)
			SL_FAILF("%s: %s", line, sl_drop_reason_name(parse_str(line, &ev)));
	}
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		snprintf(line, sizeof(line), "{\"v\":%s}", syntax[i]);
		if (parse_str(line, &ev) != SL_DROP_JSON_SYNTAX)
			SL_FAILF("%s: %s", line, sl_drop_reason_name(parse_str(line, &ev)));
	}
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		snprintf(line, sizeof(line), "{\"v\":%s}", range[i]);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_VALUE_RANGE);
	}
	SL_ASSERT_EVENT("{\"v\":1e15}", "@0 v=n1000000000000000/-");
	SL_ASSERT_EVENT("{\"v\":-1E+15}", "@0 v=n-1000000000000000/-");
	SL_ASSERT_EVENT("{\"v\":0}", "@0 v=n0/0");
	SL_ASSERT_EVENT("{\"v\":0.5e-0}", "@0 v=n0.5/500000");
	SL_ASSERT_EQ(parse_str("{\"v\":-0}", &ev), OK);
	SL_ASSERT(same_double(ev.fields[0].num, -0.0));
	SL_ASSERT(ev.fields[0].num_exact);
	SL_ASSERT_EQ(ev.fields[0].num_micro, 0);
	/* Underflow is not an error: the correctly rounded result is zero. */
	SL_ASSERT_EQ(parse_str("{\"v\":1e-400}", &ev), OK);
	SL_ASSERT(same_double(ev.fields[0].num, 0.0));
	SL_ASSERT(!ev.fields[0].num_exact);
	/* 56 significant digits at most, as for statsd values. */
	SL_ASSERT_EQ(parse_str("{\"v\":1.2345678901234567890123456789012345678901234567890123456}",
			       &ev),
		     OK);
	SL_ASSERT_EQ(parse_str("{\"v\":1.23456789012345678901234567890123456789012345678901234567}",
			       &ev),
		     SL_DROP_BAD_VALUE);
	return SL_TEST_PASS;
}

SL_TEST(numbers_exactness_table)
{
	static const struct {
		const char *text;
		bool exact;
		int64_t micro;
	} cases[] = {
		{ "0", true, 0 },
		{ "0.0", true, 0 },
		{ "1", true, 1000000 },
		{ "-7", true, -7000000 },
		{ "23.50", true, 23500000 },
		{ "1e3", true, 1000000000 },
		{ "1E+3", true, 1000000000 },
		{ "1.5e-3", true, 1500 },
		{ "0.000001", true, 1 },
		{ "1e-6", true, 1 },
		{ "-1e-6", true, -1 },
		{ "0.0000001", false, 0 },
		{ "0.1", true, 100000 },
		{ "123456.789012", true, 123456789012 },
		{ "123456.7890123", false, 0 },
		{ "9223372036854.775807", true, INT64_MAX },
		{ "-9223372036854.775807", true, -INT64_MAX },
		{ "9223372036854.775808", false, 0 },
		{ "1e15", false, 0 },
		{ "1000000000000", true, 1000000000000000000 },
		{ "4.35", true, 4350000 },
		{ "100e-8", true, 1 },
	};
	char line[128];
	struct sl_event ev;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "{\"v\":%s}", cases[i].text);
		SL_ASSERT_EQ(parse_str(line, &ev), OK);
		SL_ASSERT_EQ(ev.fields[0].kind, SL_FIELD_NUM);
		SL_ASSERT(same_double(ev.fields[0].num, strtod(cases[i].text, NULL)));
		SL_ASSERT_EQ(ev.fields[0].num_exact, cases[i].exact);
		SL_ASSERT_EQ(ev.fields[0].num_micro, cases[i].micro);
	}
	return SL_TEST_PASS;
}

/*
 * A random JSON number: its text, and its exact micro-units computed here
 * with 128-bit integers (independently of parse.c) when there are any.
 */
static void
gen_number(uint64_t *seed, char *text, bool *ret_exact, int64_t *ret_micro)
{
	uint32_t n_int = 1 + rng_below(seed, 10);
	uint32_t n_frac = rng_below(seed, 3) ? rng_below(seed, 9) : 0;
	int exp = rng_below(seed, 3) == 0 ? (int)rng_below(seed, 25) - 12 : 0;
	bool neg = rng_below(seed, 2);
	__int128 d = 0, lim = (__int128)INT64_MAX;
	int shift;
	size_t k = 0;

	if (neg)
		text[k++] = '-';
	for (uint32_t i = 0; i < n_int; i++) {
		/* No leading zero: JSON does not allow one. */
		uint8_t c = (uint8_t)(i == 0 && n_int > 1 ? 1 + rng_below(seed, 9) :
							      rng_below(seed, 10));

		text[k++] = (char)('0' + c);
		d = d * 10 + c;
	}
	if (n_frac > 0)
		text[k++] = '.';
	for (uint32_t i = 0; i < n_frac; i++) {
		uint8_t c = (uint8_t)rng_below(seed, 10);

		text[k++] = (char)('0' + c);
		d = d * 10 + c;
	}
	if (exp != 0 || rng_below(seed, 8) == 0)
		k += (size_t)sprintf(text + k, "%s%d", rng_below(seed, 2) ? "e" : "E", exp);
	text[k] = '\0';

	/* value = d * 10^(exp - n_frac); micro = d * 10^(exp - n_frac + 6). */
	shift = exp - (int)n_frac + 6;
	*ret_exact = true;
	for (; shift < 0; shift++) {
		if (d % 10 != 0) {
			*ret_exact = false;
			break;
		}
		d /= 10;
	}
	for (; *ret_exact && shift > 0; shift--) {
		d *= 10;
		if (d > lim)
			*ret_exact = false;
	}
	if (d > lim)
		*ret_exact = false;
	*ret_micro = *ret_exact ? (int64_t)(neg ? -d : d) : 0;
}

SL_TEST(numbers_generated)
{
	uint64_t seed = 0x243f6a8885a308d3ULL;
	char text[64], line[96];
	struct sl_event ev;
	uint32_t n_exact = 0;

	for (int iter = 0; iter < 200000; iter++) {
		bool exact;
		int64_t micro;
		double want;

		gen_number(&seed, text, &exact, &micro);
		want = strtod(text, NULL);
		snprintf(line, sizeof(line), "{\"v\":%s}", text);
		if (!(fabs(want) <= SL_VALUE_MAX)) {
			SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_VALUE_RANGE);
			continue;
		}
		SL_ASSERT_EQ(parse_str(line, &ev), OK);
		if (!same_double(ev.fields[0].num, want))
			SL_FAILF("'%s': %.17g != %.17g", text, ev.fields[0].num, want);
		if (ev.fields[0].num_exact != exact || ev.fields[0].num_micro != micro)
			SL_FAILF("'%s': exact %d/%lld, want %d/%lld", text, ev.fields[0].num_exact,
				 (long long)ev.fields[0].num_micro, exact, (long long)micro);
		n_exact += exact;
	}
	/* Both branches were exercised. */
	SL_ASSERT(n_exact > 50000 && n_exact < 150000);
	return SL_TEST_PASS;
}

SL_TEST(whitespace)
{
	struct sl_event ev;

	SL_ASSERT_EVENT(" \t\r{ \t\r\n\"a\" \t:\r\n1 ,\t\"b\"\r:\n\"x\" \t}\r\n \t",
			"@0 a=n1/1000000 b=s\"x\"");
	SL_ASSERT_EVENT("{ }", "@0");
	SL_ASSERT_EQ(parse_str("", &ev), SL_DROP_EMPTY_LINE);
	SL_ASSERT_EQ(parse_str(" ", &ev), SL_DROP_EMPTY_LINE);
	SL_ASSERT_EQ(parse_str(" \t\r\n", &ev), SL_DROP_EMPTY_LINE);
	/* Form feed and vertical tab are not JSON whitespace; nor is NBSP. */
	SL_ASSERT_EQ(parse_str("\f{}", &ev), SL_DROP_JSON_SYNTAX);
	SL_ASSERT_EQ(parse_str("{\v}", &ev), SL_DROP_JSON_SYNTAX);
	SL_ASSERT_EQ(parse_str("{}\f", &ev), SL_DROP_JSON_SYNTAX);
	SL_ASSERT_EQ(parse_str("{\"a\":\xc2\xa0" "1}", &ev), SL_DROP_JSON_SYNTAX);
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)"\0", 1, &ev), SL_DROP_JSON_SYNTAX);
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)"{}\0", 3, &ev), SL_DROP_JSON_SYNTAX);
	return SL_TEST_PASS;
}

SL_TEST(structure)
{
	static const char *const syntax[] = {
		"{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,\"a\":1}", "{\"a\":1 \"b\":2}",
		"{\"a\" 1}", "{'a':1}", "{a:1}", "{\"a\":1}x", "{\"a\":1}{}", "{}{}", "[]", "[{}]",
		"\"a\"", "1", "true", "null", "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}",
		"{\"a\":1}}", "{\"a\":\"x}", "{\"a\":\"x", "{\"a", "{\"a\"", "{\"a\":", "{\"a\":1",
		"{\"a\":1,", "{\"a\"::1}", "{\"a\":1,,\"b\":2}", "{1:2}", "{null:1}", "{\"a\":'x'}",
		"{\"a\":truex}", "{\"a\":nullx}", "{\"a\":falsey}", "{\"a\":1;\"b\":2}", "x",
		"{\"a\":undefined}", "{\"a\":1}//", "{/*c*/}", "{\"a\":1}\n{}",
	};
	static const char *const nested[] = {
		"{\"a\":{}}", "{\"a\":[]}", "{\"a\":[1,2]}", "{\"a\":{\"b\":1}}",
		"{\"x\":1,\"a\":[}",
		"{\"a\":{", "{\"a\": [",
	};
	struct sl_event ev;

	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++)
		if (parse_str(syntax[i], &ev) != SL_DROP_JSON_SYNTAX)
			SL_FAILF("%s: %s", syntax[i],
				 sl_drop_reason_name(parse_str(syntax[i], &ev)));
	for (size_t i = 0; i < sizeof(nested) / sizeof(nested[0]); i++)
		SL_ASSERT_EQ(parse_str(nested[i], &ev), SL_DROP_JSON_NESTED);
	return SL_TEST_PASS;
}

SL_TEST(duplicate_keys)
{
	static const char *const dup[] = {
		"{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":1}", "{\"a\":\"x\",\"a\":null}",
		"{\"a\":1,\"\\u0061\":2}", "{\"a\\n\":1,\"a\\u000a\":2}",
		"{\"event\":\"x\",\"event\":\"y\"}",
		"{\"event\":\"x\",\"\\u0065vent\":\"x\"}", "{\"ts\":1,\"ts\":1}", "{\"\":1,\"\":2}",
		"{\"a\":1,\"b\":2,\"c\":3,\"b\":{}}",
	};
	struct sl_event ev;

	for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++)
		SL_ASSERT_EQ(parse_str(dup[i], &ev), SL_DROP_DUPLICATE_KEY);
	/* Keys are compared as bytes: case matters, so does a prefix. */
	SL_ASSERT_EVENT("{\"a\":1,\"A\":2,\"ab\":3,\"Event\":4,\"tss\":5}",
			"@0 a=n1/1000000 A=n2/2000000 ab=n3/3000000 Event=n4/4000000 "
			"tss=n5/5000000");
	return SL_TEST_PASS;
}

SL_TEST(limits)
{
	char line[SL_LINE_MAX + 64];
	struct sl_event ev;
	int k;

	/* 32 fields, plus "event" and "ts", which do not take a field. */
	k = sprintf(line, "{\"event\":\"e\",\"ts\":5");
	for (int i = 0; i < SL_EVENT_FIELDS_MAX; i++)
		k += sprintf(line + k, ",\"f%d\":%d", i, i);
	strcpy(line + k, "}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.n_fields, SL_EVENT_FIELDS_MAX);
	SL_ASSERT(span_eq(ev.fields[31].key, "f31"));
	SL_ASSERT_EQ(ev.fields[31].num_micro, 31000000);
	strcpy(line + k, ",\"f32\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_TOO_MANY_FIELDS);
	/* A duplicate is reported as such even past the limit. */
	strcpy(line + k, ",\"f0\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_DUPLICATE_KEY);

	/* Keys: 64 bytes, counted after unescaping. */
	k = sprintf(line, "{\"");
	memset(line + k, 'k', SL_EVENT_KEY_MAX);
	strcpy(line + k + SL_EVENT_KEY_MAX, "\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.fields[0].key.len, SL_EVENT_KEY_MAX);
	strcpy(line + k + SL_EVENT_KEY_MAX, "k\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_FIELD_KEY_TOO_LONG);
	k = sprintf(line, "{\"");
	for (int i = 0; i < SL_EVENT_KEY_MAX; i++)
		k += sprintf(line + k, "\\u006b");
	strcpy(line + k, "\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.fields[0].key.len, SL_EVENT_KEY_MAX);
	strcpy(line + k, "\\n\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_FIELD_KEY_TOO_LONG);

	/* String values: 255 bytes after unescaping (127 x 2-byte escapes + 1). */
	k = sprintf(line, "{\"s\":\"");
	memset(line + k, 'v', SL_EVENT_STR_MAX);
	strcpy(line + k + SL_EVENT_STR_MAX, "\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.fields[0].str.len, SL_EVENT_STR_MAX);
	strcpy(line + k + SL_EVENT_STR_MAX, "v\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_STRING_TOO_LONG);
	k = sprintf(line, "{\"s\":\"v");
	for (int i = 0; i < SL_EVENT_STR_MAX / 2; i++)
		k += sprintf(line + k, "\\u00e9");
	strcpy(line + k, "\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.fields[0].str.len, SL_EVENT_STR_MAX);
	strcpy(line + k, "\\u00e9\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_STRING_TOO_LONG);
	/* A 3-byte character that would end past the limit. */
	strcpy(line + k, "\xe2\x82\xac\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_STRING_TOO_LONG);
	/* The same without escapes, where the string stays in the line. */
	k = sprintf(line, "{\"s\":\"");
	memset(line + k, 'v', SL_EVENT_STR_MAX - 2);
	strcpy(line + k + SL_EVENT_STR_MAX - 2, "\xc3\xa9\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.fields[0].str.len, SL_EVENT_STR_MAX);
	SL_ASSERT(!in_scratch(&ev, ev.fields[0].str));
	strcpy(line + k + SL_EVENT_STR_MAX - 2, "\xe2\x82\xac\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_STRING_TOO_LONG);
	strcpy(line + k + SL_EVENT_STR_MAX - 2, "vvv");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_STRING_TOO_LONG);
	/* The limit is found before the end of the string. */
	k = sprintf(line, "{\"s\":\"v");
	for (int i = 0; i < SL_EVENT_STR_MAX / 2; i++)
		k += sprintf(line + k, "\\u00e9");
	strcpy(line + k, "vvvv");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_STRING_TOO_LONG);

	/* Line length: SL_LINE_MAX with a long run of whitespace, then one more byte. */
	memset(line, ' ', SL_LINE_MAX);
	memcpy(line, "{\"a\":1", 6);
	line[SL_LINE_MAX - 1] = '}';
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)line, SL_LINE_MAX, &ev), OK);
	memmove(line + 1, line, SL_LINE_MAX);
	SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)line, SL_LINE_MAX + 1, &ev),
		     SL_DROP_LINE_TOO_LONG);
	return SL_TEST_PASS;
}

SL_TEST(scratch_overflow)
{
	char line[SL_LINE_MAX];
	struct sl_event ev;
	int k = sprintf(line, "{");

	/* Four escaped strings of 255 bytes fit in 1024 bytes of scratch (1020)... */
	for (int i = 0; i < 4; i++) {
		k += sprintf(line + k, "%s\"s%d\":\"\\n", i ? "," : "", i);
		memset(line + k, 'x', SL_EVENT_STR_MAX - 1);
		k += SL_EVENT_STR_MAX - 1;
		line[k++] = '"';
	}
	strcpy(line + k, "}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.scratch_used, 4 * SL_EVENT_STR_MAX);
	SL_ASSERT(span_eq(ev.fields[3].key, "s3"));
	SL_ASSERT_EQ(ev.fields[3].str.len, SL_EVENT_STR_MAX);
	SL_ASSERT(in_scratch(&ev, ev.fields[3].str));
	/* ... and so does a key of 4 bytes with an escape; a fifth byte does not. */
	strcpy(line + k, ",\"\\nabc\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.scratch_used, SL_EVENT_SCRATCH);
	strcpy(line + k, ",\"\\nabcd\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_JSON_ESCAPE_OVERFLOW);
	/* The escape-free prefix of a string counts as soon as it is copied. */
	strcpy(line + k, ",\"abcde\\n\":1}");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_JSON_ESCAPE_OVERFLOW);
	/* Strings without escapes take no scratch, however many there are. */
	strcpy(line + k, ",\"abcdefgh\":\"abcdefghijklmnopqrstuvwxyz\"}");
	SL_ASSERT_EQ(parse_str(line, &ev), OK);
	SL_ASSERT_EQ(ev.scratch_used, 4 * SL_EVENT_STR_MAX);
	return SL_TEST_PASS;
}

SL_TEST(datagram_lines)
{
	static const char dg[] = "{\"event\":\"a\",\"n\":1}\n{\"event\":\"b\",\"s\":\"x\\ty\"}\r\n"
				 "{\"event\":\"c\",\"ts\":1000}\n";
	static const char dg_mid[] = "{}\n\n{\"a\":true}\n \n";
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct collect c = { 0 };

	SL_ASSERT_EQ(sl_json_parse_datagram((const uint8_t *)dg, sizeof(dg) - 1, drops, collect_cb,
					    &c),
		     3);
	SL_ASSERT_EQ(c.n, 3);
	SL_ASSERT_EQ(drops_sum(drops), 0);
	SL_ASSERT_STR_EQ(c.text[0], "a@0 n=n1/1000000");
	SL_ASSERT_STR_EQ(c.text[1], "b@0 s=s\"x\\x09y\"");
	SL_ASSERT_STR_EQ(c.text[2], "c@1000000000");

	memset(&c, 0, sizeof(c));
	SL_ASSERT_EQ(sl_json_parse_datagram((const uint8_t *)dg_mid, sizeof(dg_mid) - 1, drops,
					    collect_cb, &c),
		     4);
	SL_ASSERT_EQ(c.n, 2);
	SL_ASSERT_EQ(drops[SL_DROP_EMPTY_LINE], 2);
	SL_ASSERT_EQ(drops_sum(drops), 2);
	SL_ASSERT_EQ(sl_json_parse_datagram(NULL, 0, drops, collect_cb, &c), 0);
	SL_ASSERT_EQ(c.n, 2);
	return SL_TEST_PASS;
}

SL_TEST(mixed_datagram)
{
	static const char dg[] = "{\"event\":\"visit\",\"store\":\"s1\",\"user\":\"u1\"}\n"
				 "not json\n"
				 "{\"event\":\"purchase\",\"amount\":1e16}\n"
				 "\n"
				 "{\"event\":\"purchase\",\"items\":[1]}\n"
				 "{\"event\":\"purchase\",\"amount\":12.5,\"ok\":true}\r\n"
				 "{\"a\":1,\"a\":2}\n"
				 "{\"s\":\"\xff\"}\n"
				 "{\"ts\":-5}\n"
				 "{\"event\":\"refund\",\"amount\":-3}";
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct collect c = { 0 };

	SL_ASSERT_EQ(sl_json_parse_datagram((const uint8_t *)dg, sizeof(dg) - 1, drops, collect_cb,
					    &c),
		     10);
	SL_ASSERT_EQ(c.n, 3);
	SL_ASSERT_EQ(drops_sum(drops), 7);
	SL_ASSERT_EQ(drops[SL_DROP_JSON_SYNTAX], 1);
	SL_ASSERT_EQ(drops[SL_DROP_VALUE_RANGE], 1);
	SL_ASSERT_EQ(drops[SL_DROP_EMPTY_LINE], 1);
	SL_ASSERT_EQ(drops[SL_DROP_JSON_NESTED], 1);
	SL_ASSERT_EQ(drops[SL_DROP_DUPLICATE_KEY], 1);
	SL_ASSERT_EQ(drops[SL_DROP_BAD_UTF8], 1);
	SL_ASSERT_EQ(drops[SL_DROP_BAD_TIMESTAMP], 1);
	SL_ASSERT_STR_EQ(c.text[0], "visit@0 store=s\"s1\" user=s\"u1\"");
	SL_ASSERT_STR_EQ(c.text[1], "purchase@0 amount=n12.5/12500000 ok=b1");
	SL_ASSERT_STR_EQ(c.text[2], "refund@0 amount=n-3/-3000000");
	return SL_TEST_PASS;
}

/*
 * SQLite style: every prefix of a valid datagram, on a heap copy of exactly
 * that length. Every line is counted once, and a prefix that cuts a line
 * rejects it (no prefix of a flat object line is an object).
 */
SL_TEST(every_truncation)
{
	static const char dg[] = "{\"event\":\"purchase\",\"store\":\"s\\u00e9\",\"amount\":23.5,"
				 "\"ok\":true,\"no\":false,\"x\":null,\"ts\":1700000000123}\r\n"
				 "{\"k\\ud83d\\ude00\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\","
				 "\"n\":-1.5e-3}\n"
				 "{}\n"
				 "{ \"a\" : \"b\" }";
	uint32_t full = sizeof(dg) - 1;

	for (uint32_t len = 0; len <= full; len++) {
		uint64_t drops[SL_DROP__MAX] = { 0 };
		uint32_t valid = 0, lines, expect = 0, complete = 0;
		uint8_t *buf = malloc(len + 1);

		SL_ASSERT_NOT_NULL(buf);
		memcpy(buf, dg, len);
		for (uint32_t i = 0; i < len; i++)
			complete += dg[i] == '\n';
		expect = complete + (len > 0 && dg[len - 1] != '\n');
		lines = sl_json_parse_datagram(buf, len, drops, count_cb, &valid);
		free(buf);
		SL_ASSERT_EQ(lines, expect);
		SL_ASSERT_EQ(lines, valid + drops_sum(drops));
		/* Complete lines are valid; the cut one is not, unless only its "\r\n" was cut. */
		if (len == full || dg[len] == '\n' || (dg[len] == '\r' && dg[len + 1] == '\n'))
			SL_ASSERT_EQ(valid, len > 0 ? complete + 1 : 0);
		else
			SL_ASSERT_EQ(valid, complete);
	}
	return SL_TEST_PASS;
}

/* One line per reason the JSON parser returns, each asserted by its enum value. */
SL_TEST(every_reason)
{
	static char long_line[SL_LINE_MAX + 2];
	static char many[SL_LINE_MAX], long_key[128], long_str[512], long_name[512],
		overflow[SL_LINE_MAX];
	const struct {
		const char *line;
		unsigned int reason;
	} cases[] = {
		{ "", SL_DROP_EMPTY_LINE },
		{ long_line, SL_DROP_LINE_TOO_LONG },
		{ "{\"a\":1", SL_DROP_JSON_SYNTAX },
		{ "{\"a\":[1]}", SL_DROP_JSON_NESTED },
		{ overflow, SL_DROP_JSON_ESCAPE_OVERFLOW },
		{ many, SL_DROP_TOO_MANY_FIELDS },
		{ long_key, SL_DROP_FIELD_KEY_TOO_LONG },
		{ long_str, SL_DROP_STRING_TOO_LONG },
		{ "{\"a\":1,\"a\":1}", SL_DROP_DUPLICATE_KEY },
		{ "{\"a\":\"\\udc00\"}", SL_DROP_BAD_UTF8 },
		{ "{\"event\":7}", SL_DROP_BAD_NAME },
		{ long_name, SL_DROP_NAME_TOO_LONG },
		{ "{\"a\":1.}", SL_DROP_BAD_VALUE },
		{ "{\"a\":2e15}", SL_DROP_VALUE_RANGE },
		{ "{\"ts\":0}", SL_DROP_BAD_TIMESTAMP },
	};
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct sl_event ev;
	int k;

	memset(long_line, ' ', SL_LINE_MAX + 1);
	k = sprintf(many, "{");
	for (int i = 0; i <= SL_EVENT_FIELDS_MAX; i++)
		k += sprintf(many + k, "%s\"%d\":%d", i ? "," : "", i, i);
	strcpy(many + k, "}");
	k = sprintf(long_key, "{\"");
	memset(long_key + k, 'k', SL_EVENT_KEY_MAX + 1);
	strcpy(long_key + k + SL_EVENT_KEY_MAX + 1, "\":1}");
	k = sprintf(long_str, "{\"s\":\"");
	memset(long_str + k, 's', SL_EVENT_STR_MAX + 1);
	strcpy(long_str + k + SL_EVENT_STR_MAX + 1, "\"}");
	k = sprintf(long_name, "{\"event\":\"");
	memset(long_name + k, 'n', SL_EVENT_NAME_MAX + 1);
	strcpy(long_name + k + SL_EVENT_NAME_MAX + 1, "\"}");
	k = sprintf(overflow, "{");
	for (int i = 0; i < 5; i++) {
		k += sprintf(overflow + k, "%s\"%d\":\"\\t", i ? "," : "", i);
		memset(overflow + k, 'o', 250);
		k += 250;
		overflow[k++] = '"';
	}
	strcpy(overflow + k, "}");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned int rc = parse_str(cases[i].line, &ev);

		if (rc != cases[i].reason)
			SL_FAILF("case %zu: %s, want %s", i, sl_drop_reason_name(rc),
				 sl_drop_reason_name(cases[i].reason));
		drops[rc]++;
	}
	for (unsigned int r = 0; r < SL_DROP__MAX; r++)
		SL_ASSERT(drops[r] <= 1);
	SL_ASSERT_EQ(drops_sum(drops), sizeof(cases) / sizeof(cases[0]));
	return SL_TEST_PASS;
}

/* ---- Randomized comparison with jansson ---- */

/* A generated event: owned bytes, and the JSON text written for it. */
struct gen_event {
	char name[SL_EVENT_NAME_MAX + 1];
	uint32_t name_len;
	bool has_name;
	uint64_t ts_ms;
	uint32_t n;
	struct {
		char key[SL_EVENT_KEY_MAX + 1];
		uint32_t key_len;
		uint8_t kind;
		char str[SL_EVENT_STR_MAX + 1];
		uint32_t str_len;
		char num[64];
		bool exact;
		int64_t micro;
		bool b;
	} f[SL_EVENT_FIELDS_MAX];
};

/* Random valid UTF-8 of at most @p max bytes (any code point, NUL and controls included). */
static uint32_t
gen_utf8(uint64_t *seed, char *out, uint32_t max)
{
	uint32_t want = rng_below(seed, 4) ? rng_below(seed, 12) : rng_below(seed, max + 1), n = 0;

	while (n < want) {
		uint32_t r = rng_below(seed, 10), cp;
		uint8_t tmp[4];
		uint32_t k;

		if (r < 6)
			cp = 'a' + rng_below(seed, 26);
		else if (r == 6)
			cp = rng_below(seed, 0x80);
		else if (r == 7)
			cp = 0x80 + rng_below(seed, 0x800 - 0x80);
		else if (r == 8)
			cp = 0x800 + rng_below(seed, 0x10000 - 0x800);
		else
			cp = 0x10000 + rng_below(seed, 0x110000 - 0x10000);
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 'z';
		if (cp < 0x80) {
			tmp[0] = (uint8_t)cp;
			k = 1;
		} else if (cp < 0x800) {
			tmp[0] = (uint8_t)(0xc0 | cp >> 6);
			tmp[1] = (uint8_t)(0x80 | (cp & 0x3f));
			k = 2;
		} else if (cp < 0x10000) {
			tmp[0] = (uint8_t)(0xe0 | cp >> 12);
			tmp[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			tmp[2] = (uint8_t)(0x80 | (cp & 0x3f));
			k = 3;
		} else {
			tmp[0] = (uint8_t)(0xf0 | cp >> 18);
			tmp[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
			tmp[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			tmp[3] = (uint8_t)(0x80 | (cp & 0x3f));
			k = 4;
		}
		if (n + k > want)
			break;
		memcpy(out + n, tmp, k);
		n += k;
	}
	return n;
}

/* Decode one UTF-8 character (input known valid) -> code point. */
static uint32_t
utf8_get(const uint8_t *p, uint32_t *ret_n)
{
	if (p[0] < 0x80) {
		*ret_n = 1;
		return p[0];
	}
	if (p[0] < 0xe0) {
		*ret_n = 2;
		return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
	}
	if (p[0] < 0xf0) {
		*ret_n = 3;
		return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
	}
	*ret_n = 4;
	return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
	       (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
}

/* Write a JSON string, escaping what must be and, at random, what may be. */
static size_t
put_json_string(uint64_t *seed, char *out, size_t k, const char *s, uint32_t len)
{
	out[k++] = '"';
	for (uint32_t i = 0; i < len;) {
		uint32_t n, cp = utf8_get((const uint8_t *)s + i, &n);
		uint32_t r = rng_below(seed, 8);

		if (cp == '"' || cp == '\\') {
			k += (size_t)sprintf(out + k, r < 4 ? "\\%c" : "\\u%04X", (int)cp);
		} else if (cp < 0x20 && cp != '\b' && cp != '\f' && cp != '\n' && cp != '\r' &&
			   cp != '\t') {
			k += (size_t)sprintf(out + k, r < 4 ? "\\u%04x" : "\\u%04X", cp);
		} else if (cp < 0x20) {
			static const char esc[] = { ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n',
						    ['\r'] = 'r', ['\t'] = 't' };

			k += (size_t)(r < 4 ? sprintf(out + k, "\\%c", esc[cp]) :
					      sprintf(out + k, "\\u%04x", cp));
		} else if (r == 0 && cp < 0x10000) {
			k += (size_t)sprintf(out + k, "\\u%04x", cp);
		} else if (r == 0) {
			uint32_t v = cp - 0x10000;

			k += (size_t)sprintf(out + k, "\\u%04x\\u%04X", 0xd800 + (v >> 10),
					     0xdc00 + (v & 0x3ff));
		} else if (r == 1 && cp == '/') {
			k += (size_t)sprintf(out + k, "\\/");
		} else {
			memcpy(out + k, s + i, n);
			k += n;
		}
		i += n;
	}
	out[k++] = '"';
	return k;
}

static size_t
put_ws(uint64_t *seed, char *out, size_t k)
{
	while (rng_below(seed, 4) == 0)
		out[k++] = " \t\r"[rng_below(seed, 3)];
	return k;
}

/* A random valid event with unique keys, and a JSON line for it (fits SL_LINE_MAX). */
static size_t
gen_json_event(uint64_t *seed, struct gen_event *g, char *out)
{
	size_t k = 0;
	bool first = true;

	memset(g, 0, sizeof(*g));
	g->has_name = rng_below(seed, 4) != 0;
	if (g->has_name)
		g->name_len = gen_utf8(seed, g->name, 24);
	g->ts_ms = rng_below(seed, 2) ? 1 + rng_next(seed) % (SL_JSON_TS_MS_LIMIT - 1) : 0;
	g->n = rng_below(seed, 3) ? rng_below(seed, 8) : rng_below(seed, SL_EVENT_FIELDS_MAX + 1);
	for (uint32_t i = 0; i < g->n; i++) {
		/* Unique keys: a random part and the index after a '~'. */
		uint32_t kl = gen_utf8(seed, g->f[i].key, 20);

		g->f[i].key_len = kl + (uint32_t)sprintf(g->f[i].key + kl, "~%u", i);
		g->f[i].kind = (uint8_t)rng_below(seed, SL_FIELD__MAX);
		if (g->f[i].kind == SL_FIELD_STR)
			g->f[i].str_len = gen_utf8(seed, g->f[i].str, 80);
		else if (g->f[i].kind == SL_FIELD_NUM)
			do
				gen_number(seed, g->f[i].num, &g->f[i].exact, &g->f[i].micro);
			while (!(fabs(strtod(g->f[i].num, NULL)) <= SL_VALUE_MAX));
		else
			g->f[i].b = rng_below(seed, 2);
	}

	k = put_ws(seed, out, k);
	out[k++] = '{';
	/* "event" and "ts" go at a random place among the fields. */
	for (uint32_t i = 0; i <= g->n; i++) {
		k = put_ws(seed, out, k);
		if (i == g->n / 2 && g->has_name) {
			k += (size_t)sprintf(out + k, "%s\"event\":", first ? "" : ",");
			k = put_json_string(seed, out, k, g->name, g->name_len);
			first = false;
		}
		if (i == g->n / 3 && g->ts_ms != 0) {
			k += (size_t)sprintf(out + k, "%s\"ts\":%llu", first ? "" : ",",
					     (unsigned long long)g->ts_ms);
			first = false;
		}
		if (i == g->n)
			break;
		if (!first)
			out[k++] = ',';
		first = false;
		k = put_ws(seed, out, k);
		k = put_json_string(seed, out, k, g->f[i].key, g->f[i].key_len);
		k = put_ws(seed, out, k);
		out[k++] = ':';
		k = put_ws(seed, out, k);
		if (g->f[i].kind == SL_FIELD_STR)
			k = put_json_string(seed, out, k, g->f[i].str, g->f[i].str_len);
		else if (g->f[i].kind == SL_FIELD_NUM)
			k += (size_t)sprintf(out + k, "%s", g->f[i].num);
		else if (g->f[i].kind == SL_FIELD_BOOL)
			k += (size_t)sprintf(out + k, "%s", g->f[i].b ? "true" : "false");
		else
			k += (size_t)sprintf(out + k, "null");
	}
	k = put_ws(seed, out, k);
	out[k++] = '}';
	k = put_ws(seed, out, k);
	return k;
}

/* Our event against jansson's object for the same text. */
static int
same_as_jansson(const struct sl_event *ev, json_t *obj)
{
	const json_t *v;
	size_t expect = ev->n_fields;

	if (!json_is_object(obj))
		SL_FAILF("jansson: not an object");
	v = json_object_getn(obj, "event", 5);
	if (v != NULL) {
		SL_ASSERT(json_is_string(v));
		SL_ASSERT(span_eqn(ev->name, json_string_value(v),
				   (uint32_t)json_string_length(v)));
		expect++;
	} else {
		SL_ASSERT_EQ(ev->name.len, 0);
	}
	v = json_object_getn(obj, "ts", 2);
	if (v != NULL) {
		uint64_t t = (uint64_t)json_integer_value(v);

		SL_ASSERT(json_is_integer(v));
		SL_ASSERT(ev->ts_ns == (t < SL_JSON_TS_MS_LIMIT ? t * 1000000 : t));
		expect++;
	} else {
		SL_ASSERT_EQ(ev->ts_ns, 0);
	}
	SL_ASSERT_EQ(json_object_size(obj), expect);
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		v = json_object_getn(obj, (const char *)f->key.p, f->key.len);
		SL_ASSERT_NOT_NULL(v);
		if (f->kind == SL_FIELD_STR) {
			SL_ASSERT(json_is_string(v));
			SL_ASSERT(span_eqn(f->str, json_string_value(v),
					   (uint32_t)json_string_length(v)));
		} else if (f->kind == SL_FIELD_NUM) {
			SL_ASSERT(json_is_number(v));
			/* jansson reads integers as long long and reals with strtod(). */
			SL_ASSERT(f->num == json_number_value(v));
		} else if (f->kind == SL_FIELD_BOOL) {
			SL_ASSERT(json_is_boolean(v));
			SL_ASSERT_EQ(f->b, json_is_true(v));
		} else {
			SL_ASSERT(json_is_null(v));
		}
	}
	return SL_TEST_PASS;
}

static int
same_as_generated(const struct sl_event *ev, const struct gen_event *g)
{
	SL_ASSERT(span_eqn(ev->name, g->name, g->name_len));
	SL_ASSERT(ev->ts_ns == g->ts_ms * 1000000);
	SL_ASSERT_EQ(ev->n_fields, g->n);
	for (uint32_t i = 0; i < g->n; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		SL_ASSERT(span_eqn(f->key, g->f[i].key, g->f[i].key_len));
		SL_ASSERT_EQ(f->kind, g->f[i].kind);
		if (f->kind == SL_FIELD_STR)
			SL_ASSERT(span_eqn(f->str, g->f[i].str, g->f[i].str_len));
		if (f->kind == SL_FIELD_BOOL)
			SL_ASSERT_EQ(f->b, g->f[i].b);
		if (f->kind != SL_FIELD_NUM)
			continue;
		SL_ASSERT(same_double(f->num, strtod(g->f[i].num, NULL)));
		SL_ASSERT_EQ(f->num_exact, g->f[i].exact);
		SL_ASSERT_EQ(f->num_micro, g->f[i].micro);
	}
	return SL_TEST_PASS;
}

#define JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/*
 * jansson's own limits, not JSON rules: no NUL in object keys, integers in a
 * long long (a "ts" in ns may be larger).
 */
static bool
jansson_limit(const json_error_t *err)
{
	return strstr(err->text, "NUL byte in object key") != NULL ||
	       strstr(err->text, "too big") != NULL;
}

SL_TEST(generated_events_match_jansson)
{
	static struct gen_event g;
	static struct sl_event ev;
	static char text[TEXT_MAX];
	uint64_t seed = 0x13198a2e03707344ULL;
	uint32_t accepted = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = gen_json_event(&seed, &g, text);
		unsigned int rc = sl_json_parse_line((const uint8_t *)text, (uint32_t)len, &ev);
		json_error_t err;
		json_t *obj;

		/* Escapes may take more scratch than a generated event has: that is counted. */
		if (rc == SL_DROP_JSON_ESCAPE_OVERFLOW || rc == SL_DROP_LINE_TOO_LONG)
			continue;
		if (rc != OK)
			SL_FAILF("'%.*s': %s", (int)len, text, sl_drop_reason_name(rc));
		accepted++;
		SL_ASSERT_EQ(same_as_generated(&ev, &g), SL_TEST_PASS);
		SL_ASSERT(ev.raw.p == (const uint8_t *)text && ev.raw.len == len);
		SL_ASSERT_EQ(ev.tags, 0);
		obj = json_loadb(text, len, JSON_FLAGS, &err);
		if (obj == NULL && jansson_limit(&err))
			continue;
		if (obj == NULL)
			SL_FAILF("jansson rejects '%.*s': %s", (int)len, text, err.text);
		rc = (unsigned int)same_as_jansson(&ev, obj);
		json_decref(obj);
		SL_ASSERT_EQ(rc, SL_TEST_PASS);
	}
	SL_ASSERT(accepted > 19000);
	return SL_TEST_PASS;
}

/*
 * Mutations of valid lines, parsed by both: what we accept jansson accepts
 * with the same values; what we call a syntax, UTF-8 or duplicate-key error
 * jansson rejects (or finds not to be an object); and an object jansson
 * accepts is rejected by us only for a limit, a value rule or nesting.
 */
SL_TEST(mutations_match_jansson)
{
	static const char alphabet[] = "{}[]\",:\\u0123456789abcdefABCDEF.+-eEtrunlfsx /\t\r\n\x01"
				       "\x1f\x7f\x80\xbf\xc0\xc3\xa9\xe2\xed\xa0\xf0\xf4\x90\xff";
	static struct gen_event g;
	static struct sl_event ev;
	static char text[TEXT_MAX];
	uint64_t seed = 0xa4093822299f31d0ULL;
	uint32_t ours_ok = 0, both_reject = 0;

	for (int iter = 0; iter < 300000; iter++) {
		size_t len = gen_json_event(&seed, &g, text);
		uint32_t n_mut = 1 + rng_below(&seed, 3);
		unsigned int rc;
		json_error_t err;
		json_t *obj;

		if (len > 300)
			continue;
		for (uint32_t m = 0; m < n_mut; m++) {
			uint32_t at = rng_below(&seed, (uint32_t)len + 1), op = rng_below(&seed, 3);
			char b = alphabet[rng_below(&seed, sizeof(alphabet) - 1)];

			if (op == 0 && at < len) {
				text[at] = b;
			} else if (op == 1) {
				memmove(text + at + 1, text + at, len - at);
				text[at] = b;
				len++;
			} else if (at < len) {
				memmove(text + at, text + at + 1, len - at - 1);
				len--;
			}
		}
		rc = sl_json_parse_line((const uint8_t *)text, (uint32_t)len, &ev);
		obj = json_loadb(text, len, JSON_FLAGS, &err);
		if (rc == OK && obj == NULL && jansson_limit(&err)) {
			continue;
		} else if (rc == OK) {
			ours_ok++;
			if (obj == NULL)
				SL_FAILF("we accept, jansson rejects '%.*s': %s", (int)len, text,
					 err.text);
			if (same_as_jansson(&ev, obj) != SL_TEST_PASS)
				SL_FAILF("values differ for '%.*s'", (int)len, text);
		} else if (rc == SL_DROP_JSON_SYNTAX || rc == SL_DROP_BAD_UTF8 ||
			   rc == SL_DROP_DUPLICATE_KEY || rc == SL_DROP_EMPTY_LINE) {
			if (obj != NULL && json_is_object(obj))
				SL_FAILF("we reject (%s), jansson accepts '%.*s'",
					 sl_drop_reason_name(rc), (int)len, text);
			both_reject++;
		} else if (rc == SL_DROP_BAD_VALUE && obj != NULL) {
			/* Only a number with more than 56 significant digits. */
			SL_ASSERT(len > 56);
		}
		json_decref(obj);
	}
	/* The mutations are neither all harmless nor all fatal. */
	SL_ASSERT(ours_ok > 10000);
	SL_ASSERT(both_reject > 50000);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
