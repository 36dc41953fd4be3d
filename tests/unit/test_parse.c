/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of the statsd parser: every type and field, the number
 * conversion against strtod(), every truncation of a datagram, and one line
 * for each drop reason the parser can return.
 */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/common.h>

#include "parse.h"
#include "sl_test.h"

#define EVENTS_MAX 64

/* Events collected by the datagram callback; spans point into the test's buffer. */
struct collect {
	uint32_t n;
	struct sl_statsd_event ev[EVENTS_MAX];
};

static void
collect_cb(const struct sl_statsd_event *ev, void *arg)
{
	struct collect *c = arg;

	if (c->n < EVENTS_MAX)
		c->ev[c->n] = *ev;
	c->n++;
}

static unsigned int
parse_str(const char *s, struct sl_statsd_event *ev)
{
	return sl_statsd_parse_line((const uint8_t *)s, (uint32_t)strlen(s), ev);
}

static bool
span_eq(struct sl_span sp, const char *s)
{
	return sp.len == strlen(s) && memcmp(sp.p, s, sp.len) == 0;
}

/* Bitwise equality, so -0.0 and 0.0 differ. */
static bool
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static uint64_t
drops_sum(const uint64_t drops[SL_DROP__MAX])
{
	uint64_t s = 0;

	for (unsigned int r = 0; r < SL_DROP__MAX; r++)
		s += drops[r];
	return s;
}

/* Deterministic generator for the randomized tables (xorshift64*). */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

SL_TEST(counter_basic)
{
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(parse_str("page.views:1|c", &ev), SL_DROP__MAX);
	SL_ASSERT(span_eq(ev.name, "page.views"));
	SL_ASSERT_EQ(ev.type, SL_METRIC_COUNTER);
	SL_ASSERT_DBL_EQ(ev.value, 1.0);
	SL_ASSERT_EQ(ev.value_micro, 1000000);
	SL_ASSERT(ev.value_exact);
	SL_ASSERT_DBL_EQ(ev.rate, 1.0);
	SL_ASSERT_EQ(ev.rate_micro, 1000000);
	SL_ASSERT(ev.rate_exact);
	SL_ASSERT_EQ(ev.ts_ns, 0);
	SL_ASSERT_EQ(ev.n_tags, 0);
	SL_ASSERT_NULL(ev.member.p);
	SL_ASSERT_EQ(ev.member.len, 0);
	return SL_TEST_PASS;
}

SL_TEST(every_type)
{
	static const struct {
		const char *line;
		unsigned int type;
		double value;
	} cases[] = {
		{ "a:1|c", SL_METRIC_COUNTER, 1 },
		{ "a:-2|c", SL_METRIC_COUNTER, -2 },
		{ "a:3.25|g", SL_METRIC_GAUGE, 3.25 },
		{ "a:12|ms", SL_METRIC_TIMER, 12 },
		{ "a:0.5|h", SL_METRIC_HISTOGRAM, 0.5 },
		{ "a:7e2|d", SL_METRIC_DISTRIBUTION, 700 },
	};
	struct sl_statsd_event ev;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SL_ASSERT_EQ(parse_str(cases[i].line, &ev), SL_DROP__MAX);
		SL_ASSERT_EQ(ev.type, cases[i].type);
		SL_ASSERT_DBL_EQ(ev.value, cases[i].value);
		SL_ASSERT(span_eq(ev.name, "a"));
	}
	SL_ASSERT_EQ(parse_str("users.online:alice|s", &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.type, SL_METRIC_SET);
	SL_ASSERT(span_eq(ev.name, "users.online"));
	SL_ASSERT(span_eq(ev.member, "alice"));
	return SL_TEST_PASS;
}

SL_TEST(gauge_sign_is_plain_value)
{
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(parse_str("temp:-3.5|g", &ev), SL_DROP__MAX);
	SL_ASSERT_DBL_EQ(ev.value, -3.5);
	SL_ASSERT_EQ(ev.value_micro, -3500000);
	SL_ASSERT_EQ(parse_str("temp:+4|g", &ev), SL_DROP__MAX);
	SL_ASSERT_DBL_EQ(ev.value, 4.0);
	SL_ASSERT_EQ(ev.value_micro, 4000000);
	return SL_TEST_PASS;
}

SL_TEST(set_members)
{
	char line[SL_MEMBER_MAX + 16];
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(parse_str("u:user 42:x@y#z|s", &ev), SL_DROP__MAX);
	SL_ASSERT(span_eq(ev.name, "u"));
	SL_ASSERT(span_eq(ev.member, "user 42:x@y#z"));
	SL_ASSERT_EQ(parse_str("u:1.5|s|#a:b", &ev), SL_DROP__MAX);
	SL_ASSERT(span_eq(ev.member, "1.5"));
	SL_ASSERT_EQ(ev.n_tags, 1);

	memcpy(line, "u:", 2);
	memset(line + 2, 'm', SL_MEMBER_MAX);
	memcpy(line + 2 + SL_MEMBER_MAX, "|s", 3);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.member.len, SL_MEMBER_MAX);
	memset(line + 2, 'm', SL_MEMBER_MAX + 1);
	memcpy(line + 3 + SL_MEMBER_MAX, "|s", 3);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_MEMBER_TOO_LONG);

	SL_ASSERT_EQ(parse_str("u:|s", &ev), SL_DROP_BAD_VALUE);
	SL_ASSERT_EQ(parse_str("u:a\tb|s", &ev), SL_DROP_BAD_VALUE);
	SL_ASSERT_EQ(parse_str("u:\x7f|s", &ev), SL_DROP_BAD_VALUE);
	SL_ASSERT_EQ(parse_str("u:caf\xc3\xa9|s", &ev), SL_DROP_BAD_VALUE);
	return SL_TEST_PASS;
}

SL_TEST(names)
{
	char line[SL_NAME_MAX + 16];
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(parse_str("a.b_c-d/e~f[0]:1|c", &ev), SL_DROP__MAX);
	SL_ASSERT(span_eq(ev.name, "a.b_c-d/e~f[0]"));
	/* The value starts after the first ':'. */
	SL_ASSERT_EQ(parse_str("a:b:1|c", &ev), SL_DROP_BAD_VALUE);
	SL_ASSERT_EQ(parse_str("a::1|c", &ev), SL_DROP_BAD_VALUE);

	memset(line, 'n', SL_NAME_MAX);
	memcpy(line + SL_NAME_MAX, ":1|c", 5);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.name.len, SL_NAME_MAX);
	memset(line, 'n', SL_NAME_MAX + 1);
	memcpy(line + SL_NAME_MAX + 1, ":1|c", 5);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_NAME_TOO_LONG);

	SL_ASSERT_EQ(parse_str(":1|c", &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(parse_str("a b:1|c", &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(parse_str("a|b:1|c", &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(parse_str("a@b:1|c", &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(parse_str("a#b:1|c", &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(parse_str("a\tb:1|c", &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(parse_str("a\x7f:1|c", &ev), SL_DROP_BAD_NAME);
	/* Non-UTF-8 and UTF-8 bytes alike: names are ASCII. */
	SL_ASSERT_EQ(parse_str("\xff\xfe:1|c", &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(parse_str("caf\xc3\xa9:1|c", &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(parse_str("bad\xc3(:1|c", &ev), SL_DROP_BAD_NAME);
	return SL_TEST_PASS;
}

SL_TEST(structure_errors)
{
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(parse_str("a", &ev), SL_DROP_NO_COLON);
	SL_ASSERT_EQ(parse_str("a|c", &ev), SL_DROP_NO_COLON);
	SL_ASSERT_EQ(parse_str("a:1", &ev), SL_DROP_NO_TYPE);
	SL_ASSERT_EQ(parse_str("a:1c", &ev), SL_DROP_NO_TYPE);
	SL_ASSERT_EQ(parse_str("a:", &ev), SL_DROP_NO_TYPE);
	SL_ASSERT_EQ(parse_str("a:1|x", &ev), SL_DROP_BAD_TYPE);
	SL_ASSERT_EQ(parse_str("a:1|cc", &ev), SL_DROP_BAD_TYPE);
	SL_ASSERT_EQ(parse_str("a:1|msx", &ev), SL_DROP_BAD_TYPE);
	SL_ASSERT_EQ(parse_str("a:1|m", &ev), SL_DROP_BAD_TYPE);
	SL_ASSERT_EQ(parse_str("a:1|C", &ev), SL_DROP_BAD_TYPE);
	SL_ASSERT_EQ(parse_str("a:1|", &ev), SL_DROP_BAD_TYPE);
	SL_ASSERT_EQ(parse_str("a:1||@0.5", &ev), SL_DROP_BAD_TYPE);
	SL_ASSERT_EQ(parse_str("a:1|c\r", &ev), SL_DROP_BAD_TYPE);
	return SL_TEST_PASS;
}

SL_TEST(bad_numbers)
{
	static const char *const bad[] = {
		"1.2.3", "abc", "", "1e", "--1", "-+1", "1.", ".5", "-.5", "+", "-", "0x10",
		"1e+", "1e-", "1e1.5", "1,5", " 1", "1 ", "1_000", "nan", "NaN", "-nan",
		"inf", "-inf", "+inf", "Infinity", "1e3x", "1d", "1f",
	};
	static const char *const range[] = {
		"1e16", "-1e16", "1e400", "-1e400", "1000000000000001", "1000000000000000.5",
		"1e999999999999999999999", "0.00001e21",
	};
	char line[64];
	struct sl_statsd_event ev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);

		memcpy(line, "x:", 2);
		memcpy(line + 2, bad[i], n);
		memcpy(line + 2 + n, "|c", 2);
		SL_ASSERT_EQ(sl_statsd_parse_line((const uint8_t *)line, (uint32_t)n + 4, &ev),
			     SL_DROP_BAD_VALUE);
	}
	/* An embedded NUL is a byte like any other, not the end of the text. */
	SL_ASSERT_EQ(sl_statsd_parse_line((const uint8_t *)"x:1\0|c", 6, &ev), SL_DROP_BAD_VALUE);
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		size_t n = strlen(range[i]);

		memcpy(line, "x:", 2);
		memcpy(line + 2, range[i], n);
		memcpy(line + 2 + n, "|g", 2);
		SL_ASSERT_EQ(sl_statsd_parse_line((const uint8_t *)line, (uint32_t)n + 4, &ev),
			     SL_DROP_VALUE_RANGE);
	}
	SL_ASSERT_EQ(parse_str("x:1e15|c", &ev), SL_DROP__MAX);
	SL_ASSERT_DBL_EQ(ev.value, 1e15);
	SL_ASSERT_EQ(parse_str("x:-1000000000000000|c", &ev), SL_DROP__MAX);
	SL_ASSERT_DBL_EQ(ev.value, -1e15);
	/* Underflow is not an error: the correctly rounded result is zero. */
	SL_ASSERT_EQ(parse_str("x:1e-400|g", &ev), SL_DROP__MAX);
	SL_ASSERT(same_double(ev.value, 0.0));
	SL_ASSERT(!ev.value_exact);
	SL_ASSERT_EQ(parse_str("x:-1e-400|g", &ev), SL_DROP__MAX);
	SL_ASSERT(same_double(ev.value, -0.0));
	return SL_TEST_PASS;
}

/* value and value_micro for hand-picked decimal strings. */
SL_TEST(value_exactness_table)
{
	static const struct {
		const char *text;
		bool exact;
		int64_t micro;
	} cases[] = {
		{ "0", true, 0 },
		{ "-0", true, 0 },
		{ "0.0", true, 0 },
		{ "000", true, 0 },
		{ "1", true, 1000000 },
		{ "-7", true, -7000000 },
		{ "+7", true, 7000000 },
		{ "23.50", true, 23500000 },
		{ "1e3", true, 1000000000 },
		{ "1E3", true, 1000000000 },
		{ "1e+3", true, 1000000000 },
		{ "1.5e-3", true, 1500 },
		{ "0.000001", true, 1 },
		{ "1e-6", true, 1 },
		{ "-1e-6", true, -1 },
		{ "0.0000001", false, 0 },
		{ "1.5e-7", false, 0 },
		{ "1.0000000", true, 1000000 },
		{ "1.00000000000000000000000000000000000000000000000000000000", true, 1000000 },
		{ "0.1", true, 100000 },
		{ "0.3", true, 300000 },
		{ "123456.789012", true, 123456789012 },
		{ "123456.7890123", false, 0 },
		{ "0.1234567e1", true, 1234567 },
		{ "12345678e-13", false, 0 },
		{ "12345678e-14", false, 0 },
		{ "00012.500", true, 12500000 },
		{ "9223372036854.775807", true, INT64_MAX },
		{ "-9223372036854.775807", true, -INT64_MAX },
		{ "9223372036854.775808", false, 0 },
		{ "9223372036855", false, 0 },
		{ "1e15", false, 0 },
		{ "999999999999999", false, 0 },
		{ "1000000000000", true, 1000000000000000000 },
		{ "4.35", true, 4350000 },
		{ "2.675", true, 2675000 },
		{ "0.1e-5", true, 1 },
		{ "100e-8", true, 1 },
		{ "1e-999999", false, 0 },
	};
	struct sl_statsd_event ev;
	char line[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].text);

		memcpy(line, "v:", 2);
		memcpy(line + 2, cases[i].text, n);
		memcpy(line + 2 + n, "|ms", 4);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
		SL_ASSERT(same_double(ev.value, strtod(cases[i].text, NULL)));
		SL_ASSERT_EQ(ev.value_exact, cases[i].exact);
		SL_ASSERT_EQ(ev.value_micro, cases[i].micro);
	}
	return SL_TEST_PASS;
}

/* Hard cases for conversion: halfway points, long mantissas, the slow path. */
SL_TEST(value_matches_strtod)
{
	static const char *const cases[] = {
		"0.1", "0.2", "0.3", "1.1", "2.2", "3.3", "123.456", "562949953421312.0625",
		"562949953421312.1875", "562949953421312.06250000000000000001",
		"562949953421312.06249999999999999999", "999999999999999.9", "0.30000000000000004",
		"2.2250738585072011e-308", "2.2250738585072012e-308", "4.9e-324", "2.4e-324",
		"2.5e-324", "1.7976931348623157e-300", "0.1000000000000000055511151231257827",
		"123456789012345678901234567890e-20", "1e14", "1e-22", "1e-23", "1e-308",
		"123456789012345e-22", "1234567890123456e-5", "8.98846567431158e-1",
		"0.000000000000000000000000000000000000000000000000000000000000000000000001",
		"743.12345678901234567890123456789012345678901234567890123",
		"100000000000000000000000000000000000000000000000000000000e-50",
		"1.00000000000000011102230246251565404236316680908203125",
		"1.00000000000000011102230246251565404236316680908203124",
		"1.00000000000000011102230246251565404236316680908203126",
	};
	struct sl_statsd_event ev;
	char line[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i]);

		memcpy(line, "v:", 2);
		memcpy(line + 2, cases[i], n);
		memcpy(line + 2 + n, "|g", 3);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
		SL_ASSERT(same_double(ev.value, strtod(cases[i], NULL)));
	}
	return SL_TEST_PASS;
}

/*
 * Many generated decimals (up to 55 significant digits, exponents that keep
 * them in range) against strtod(). An exact value_micro below 2^53 must
 * convert back to the same double.
 */
SL_TEST(value_matches_strtod_generated)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct sl_statsd_event ev;
	char text[80], line[96];

	for (int iter = 0; iter < 200000; iter++) {
		uint32_t k = 0, n_int = 1 + rng_next(&seed) % 10, n_frac = rng_next(&seed) % 46;
		int exp = (int)(rng_next(&seed) % 40) - 35;
		bool has_exp = rng_next(&seed) % 2;
		size_t n;

		text[k++] = "+- "[rng_next(&seed) % 3];
		k -= text[0] == ' ';
		for (uint32_t i = 0; i < n_int; i++)
			text[k++] = (char)('0' + rng_next(&seed) % 10);
		text[k] = '.';
		k += n_frac > 0;
		for (uint32_t i = 0; i < n_frac; i++)
			text[k++] = (char)('0' + rng_next(&seed) % 10);
		k += (uint32_t)(has_exp ? snprintf(text + k, 8, "e%d", exp) : 0);
		text[k] = '\0';

		n = strlen(text);
		memcpy(line, "v:", 2);
		memcpy(line + 2, text, n);
		memcpy(line + 2 + n, "|d", 3);
		SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
		if (!same_double(ev.value, strtod(text, NULL)))
			SL_FAILF("'%s': %.17g != %.17g", text, ev.value, strtod(text, NULL));
		/* An exact value_micro converts back to the same double. */
		SL_ASSERT(!ev.value_exact || llabs(ev.value_micro) >= (1LL << 53) ||
			  (double)ev.value_micro / 1e6 == ev.value);
	}
	return SL_TEST_PASS;
}

SL_TEST(too_many_digits)
{
	static const char d56[] = "1.2345678901234567890123456789012345678901234567890123456";
	static const char d56z[] = "-0.0000123456789012345678901234567890"
				   "12345678901234567890123456000e-300";
	struct sl_statsd_event ev;
	char line[128];

	/* 56 significant digits is the limit; zeros around them do not count. */
	snprintf(line, sizeof(line), "v:%s|g", d56);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
	SL_ASSERT(same_double(ev.value, strtod(d56, NULL)));
	snprintf(line, sizeof(line), "v:%s|g", d56z);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
	SL_ASSERT(same_double(ev.value, strtod(d56z, NULL)));
	snprintf(line, sizeof(line), "v:%s7|g", d56);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_BAD_VALUE);
	snprintf(line, sizeof(line), "v:1|c|@0.1%s7", d56 + 2);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_BAD_RATE);
	return SL_TEST_PASS;
}

SL_TEST(rates)
{
	static const struct {
		const char *line;
		double rate;
		bool exact;
		int64_t micro;
	} ok[] = {
		{ "a:1|c|@0.5", 0.5, true, 500000 },
		{ "a:1|c|@1", 1.0, true, 1000000 },
		{ "a:1|c|@1.0", 1.0, true, 1000000 },
		{ "a:1|c|@0.1", 0.1, true, 100000 },
		{ "a:1|c|@0.000001", 0.000001, true, 1 },
		{ "a:1|c|@0.3333333", 0.3333333, false, 0 },
		{ "a:1|c|@25e-2", 0.25, true, 250000 },
		{ "a:1|ms|@0.25", 0.25, true, 250000 },
	};
	static const char *const bad[] = {
		"a:1|c|@0", "a:1|c|@-0.5", "a:1|c|@1.5", "a:1|c|@1.0000001", "a:1|c|@abc",
		"a:1|c|@", "a:1|c|@.5", "a:1|c|@0.5x", "a:1|c|@1e-400", "a:1|c|@1e-7", "a:1|c|@nan",
		"a:1|c|@inf", "a:1|c|@2e0",
	};
	struct sl_statsd_event ev;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		SL_ASSERT_EQ(parse_str(ok[i].line, &ev), SL_DROP__MAX);
		SL_ASSERT_DBL_EQ(ev.rate, ok[i].rate);
		SL_ASSERT_EQ(ev.rate_exact, ok[i].exact);
		SL_ASSERT_EQ(ev.rate_micro, ok[i].micro);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		SL_ASSERT_EQ(parse_str(bad[i], &ev), SL_DROP_BAD_RATE);
	return SL_TEST_PASS;
}

SL_TEST(tags)
{
	struct sl_statsd_event ev;
	char line[1024];
	int k;

	SL_ASSERT_EQ(parse_str("a:1|c|#env:prod,zone,a:b:c,with space", &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.n_tags, 4);
	SL_ASSERT(span_eq(ev.tags[0], "env:prod"));
	SL_ASSERT(span_eq(ev.tags[1], "zone"));
	SL_ASSERT(span_eq(ev.tags[2], "a:b:c"));
	SL_ASSERT(span_eq(ev.tags[3], "with space"));
	/* Datagram order, not sorted. */
	SL_ASSERT_EQ(parse_str("a:1|c|#z,y,x", &ev), SL_DROP__MAX);
	SL_ASSERT(span_eq(ev.tags[0], "z"));
	SL_ASSERT(span_eq(ev.tags[2], "x"));

	k = snprintf(line, sizeof(line), "a:1|c|#t0");
	for (int i = 1; i < SL_TAGS_MAX; i++)
		k += snprintf(line + k, sizeof(line) - (size_t)k, ",t%d", i);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.n_tags, SL_TAGS_MAX);
	SL_ASSERT(span_eq(ev.tags[SL_TAGS_MAX - 1], "t15"));
	snprintf(line + k, sizeof(line) - (size_t)k, ",t16");
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_TOO_MANY_TAGS);

	k = snprintf(line, sizeof(line), "a:1|c|#x,");
	memset(line + k, 't', SL_TAG_MAX);
	line[k + SL_TAG_MAX] = '\0';
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.tags[1].len, SL_TAG_MAX);
	memcpy(line + k + SL_TAG_MAX, "t", 2);
	SL_ASSERT_EQ(parse_str(line, &ev), SL_DROP_TAG_TOO_LONG);

	SL_ASSERT_EQ(parse_str("a:1|c|#", &ev), SL_DROP_BAD_TAGS);
	SL_ASSERT_EQ(parse_str("a:1|c|#a,,b", &ev), SL_DROP_BAD_TAGS);
	SL_ASSERT_EQ(parse_str("a:1|c|#a,", &ev), SL_DROP_BAD_TAGS);
	SL_ASSERT_EQ(parse_str("a:1|c|#,a", &ev), SL_DROP_BAD_TAGS);
	SL_ASSERT_EQ(parse_str("a:1|c|#a\tb", &ev), SL_DROP_BAD_TAGS);
	SL_ASSERT_EQ(parse_str("a:1|c|#a\x7f", &ev), SL_DROP_BAD_TAGS);
	SL_ASSERT_EQ(parse_str("a:1|c|#caf\xc3\xa9", &ev), SL_DROP_BAD_TAGS);
	SL_ASSERT_EQ(parse_str("a:1|c|#\xff", &ev), SL_DROP_BAD_TAGS);
	return SL_TEST_PASS;
}

SL_TEST(timestamp)
{
	static const char *const bad[] = {
		"a:1|c|T", "a:1|c|T0", "a:1|c|T000", "a:1|c|T-1", "a:1|c|T+1", "a:1|c|T1.5",
		"a:1|c|Tabc", "a:1|c|T1e9", "a:1|c|T18446744074", "a:1|c|T99999999999999999999999",
	};
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(parse_str("a:1|c|T1700000000", &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.ts_ns, 1700000000ULL * SL_NS_PER_SEC);
	SL_ASSERT_EQ(parse_str("a:1|c|T1", &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.ts_ns, SL_NS_PER_SEC);
	SL_ASSERT_EQ(parse_str("a:1|c|T18446744073", &ev), SL_DROP__MAX);
	SL_ASSERT(ev.ts_ns == 18446744073ULL * SL_NS_PER_SEC);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		SL_ASSERT_EQ(parse_str(bad[i], &ev), SL_DROP_BAD_TIMESTAMP);
	return SL_TEST_PASS;
}

SL_TEST(container_id)
{
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(parse_str("a:1|c|c:83c0a99c0a54c0c187f461c7980e9b57f3f6a8b0c918c8d93df19a9",
			       &ev),
		     SL_DROP__MAX);
	SL_ASSERT_EQ(ev.n_tags, 0);
	SL_ASSERT_EQ(parse_str("a:1|c|#t|c:ci-1|@0.5", &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.n_tags, 1);
	SL_ASSERT_DBL_EQ(ev.rate, 0.5);
	SL_ASSERT_EQ(parse_str("a:1|c|c:", &ev), SL_DROP_BAD_FIELD);
	SL_ASSERT_EQ(parse_str("a:1|c|c", &ev), SL_DROP_BAD_FIELD);
	SL_ASSERT_EQ(parse_str("a:1|c|cid", &ev), SL_DROP_BAD_FIELD);
	SL_ASSERT_EQ(parse_str("a:1|c|c:x\x01", &ev), SL_DROP_BAD_FIELD);
	return SL_TEST_PASS;
}

SL_TEST(all_fields_any_order)
{
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(parse_str("api.latency:12.5|ms|@0.1|#svc:api,code:200|T1700000001|c:abc",
			       &ev),
		     SL_DROP__MAX);
	SL_ASSERT(span_eq(ev.name, "api.latency"));
	SL_ASSERT_EQ(ev.type, SL_METRIC_TIMER);
	SL_ASSERT_DBL_EQ(ev.value, 12.5);
	SL_ASSERT_EQ(ev.value_micro, 12500000);
	SL_ASSERT_DBL_EQ(ev.rate, 0.1);
	SL_ASSERT_EQ(ev.rate_micro, 100000);
	SL_ASSERT_EQ(ev.n_tags, 2);
	SL_ASSERT(span_eq(ev.tags[1], "code:200"));
	SL_ASSERT_EQ(ev.ts_ns, 1700000001ULL * SL_NS_PER_SEC);

	SL_ASSERT_EQ(parse_str("x:2|g|T5|#k:v|@1", &ev), SL_DROP__MAX);
	SL_ASSERT_EQ(ev.ts_ns, 5 * SL_NS_PER_SEC);
	SL_ASSERT(span_eq(ev.tags[0], "k:v"));
	SL_ASSERT_DBL_EQ(ev.rate, 1.0);
	return SL_TEST_PASS;
}

SL_TEST(bad_fields)
{
	static const char *const bad[] = {
		"a:1|c|", "a:1|c||@0.5", "a:1|c|@0.5|", "a:1|c|x", "a:1|c|e:foo", "a:1|c|card:low",
		"a:1|c| @0.5", "a:1|c|@0.5|@0.5", "a:1|c|#a|#b", "a:1|c|T1|T2", "a:1|c|c:a|c:b",
		"a:1|c|ms",
	};
	struct sl_statsd_event ev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		SL_ASSERT_EQ(parse_str(bad[i], &ev), SL_DROP_BAD_FIELD);
	return SL_TEST_PASS;
}

SL_TEST(line_length)
{
	uint32_t big = 64 * 1024;
	uint8_t *buf = malloc(big);
	struct sl_statsd_event ev;
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct collect c = { 0 };

	SL_ASSERT_NOT_NULL(buf);
	/* Exactly SL_LINE_MAX: leading zeros of a value are not significant. */
	memcpy(buf, "a:", 2);
	memset(buf + 2, '0', SL_LINE_MAX - 5);
	memcpy(buf + SL_LINE_MAX - 3, "1|c", 3);
	SL_ASSERT_EQ(sl_statsd_parse_line(buf, SL_LINE_MAX, &ev), SL_DROP__MAX);
	SL_ASSERT_DBL_EQ(ev.value, 1.0);
	memmove(buf + 3, buf + 2, SL_LINE_MAX - 2);
	SL_ASSERT_EQ(sl_statsd_parse_line(buf, SL_LINE_MAX + 1, &ev), SL_DROP_LINE_TOO_LONG);

	/* A 64 KiB datagram of one line, then a valid line after it. */
	memset(buf, 'a', big);
	memcpy(buf + big - 7, "\nb:1|c", 6);
	SL_ASSERT_EQ(sl_statsd_parse_datagram(buf, big - 1, drops, collect_cb, &c), 2);
	SL_ASSERT_EQ(drops[SL_DROP_LINE_TOO_LONG], 1);
	SL_ASSERT_EQ(c.n, 1);
	SL_ASSERT_EQ(sl_statsd_parse_line(buf, big, &ev), SL_DROP_LINE_TOO_LONG);
	free(buf);
	return SL_TEST_PASS;
}

SL_TEST(datagram_lines)
{
	static const char dg[] = "a:1|c\nb:2.5|g\r\nc:x|s|#t\n";
	static const char dg_mid[] = "a:1|c\n\nb:2|c";
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct collect c = { 0 };

	SL_ASSERT_EQ(sl_statsd_parse_datagram((const uint8_t *)dg, sizeof(dg) - 1, drops,
					      collect_cb, &c),
		     3);
	SL_ASSERT_EQ(c.n, 3);
	SL_ASSERT_EQ(drops_sum(drops), 0);
	SL_ASSERT(span_eq(c.ev[0].name, "a"));
	SL_ASSERT(span_eq(c.ev[1].name, "b"));
	SL_ASSERT_DBL_EQ(c.ev[1].value, 2.5);
	SL_ASSERT_EQ(c.ev[1].type, SL_METRIC_GAUGE);
	SL_ASSERT(span_eq(c.ev[2].member, "x"));
	SL_ASSERT(span_eq(c.ev[2].tags[0], "t"));

	memset(&c, 0, sizeof(c));
	SL_ASSERT_EQ(sl_statsd_parse_datagram((const uint8_t *)dg_mid, sizeof(dg_mid) - 1, drops,
					      collect_cb, &c),
		     3);
	SL_ASSERT_EQ(c.n, 2);
	SL_ASSERT_EQ(drops[SL_DROP_EMPTY_LINE], 1);
	SL_ASSERT_EQ(drops_sum(drops), 1);

	/* No line at all; a lone '\n' or "\r\n" is one empty line. */
	memset(&c, 0, sizeof(c));
	SL_ASSERT_EQ(sl_statsd_parse_datagram(NULL, 0, drops, collect_cb, &c), 0);
	SL_ASSERT_EQ(sl_statsd_parse_datagram((const uint8_t *)"\n", 1, drops, collect_cb, &c), 1);
	SL_ASSERT_EQ(sl_statsd_parse_datagram((const uint8_t *)"\r\n", 2, drops, collect_cb, &c),
		     1);
	SL_ASSERT_EQ(drops[SL_DROP_EMPTY_LINE], 3);
	SL_ASSERT_EQ(c.n, 0);
	return SL_TEST_PASS;
}

/* SQLite style: every prefix of a valid datagram, on a heap copy of exactly that length. */
SL_TEST(every_truncation)
{
	static const char dg[] = "api.req:1|c|@0.5|#svc:api,code:200\r\n"
				 "temp:-3.25|g|T1700000000\n"
				 "users:alice|s\n"
				 "lat:12.5|ms|#a|c:abc\n"
				 "size:1e3|d\n";
	uint32_t full = sizeof(dg) - 1;

	for (uint32_t len = 0; len <= full; len++) {
		uint64_t drops[SL_DROP__MAX] = { 0 };
		struct collect c = { 0 };
		uint8_t *buf = malloc(len + 1);
		uint32_t lines, expect = 0;

		SL_ASSERT_NOT_NULL(buf);
		memcpy(buf, dg, len);
		for (uint32_t i = 0; i < len; i++)
			expect += dg[i] == '\n';
		expect += len > 0 && dg[len - 1] != '\n';
		lines = sl_statsd_parse_datagram(buf, len, drops, collect_cb, &c);
		free(buf);
		SL_ASSERT_EQ(lines, expect);
		SL_ASSERT_EQ(lines, c.n + drops_sum(drops));
	}
	return SL_TEST_PASS;
}

SL_TEST(binary_garbage)
{
	uint64_t seed = 42;
	uint8_t buf[512];
	struct sl_statsd_event ev;

	SL_ASSERT_EQ(sl_statsd_parse_line((const uint8_t *)"\x00\x01\x02\x03", 4, &ev),
		     SL_DROP_NO_COLON);
	SL_ASSERT_EQ(sl_statsd_parse_line((const uint8_t *)"\x00:1|c", 6, &ev), SL_DROP_BAD_NAME);
	SL_ASSERT_EQ(sl_statsd_parse_line((const uint8_t *)"\x80\x81\xfe\xff:\xff|\xff", 9, &ev),
		     SL_DROP_BAD_NAME);
	for (int iter = 0; iter < 20000; iter++) {
		uint64_t drops[SL_DROP__MAX] = { 0 };
		struct collect c = { 0 };
		uint32_t len = (uint32_t)(rng_next(&seed) % sizeof(buf));
		uint32_t lines;

		for (uint32_t i = 0; i < len; i++)
			buf[i] = "a:1|c@#T,.\n\r\x00\xff"[rng_next(&seed) % 15] ^
				 (uint8_t)(rng_next(&seed) % 8 == 0 ? rng_next(&seed) : 0);
		lines = sl_statsd_parse_datagram(buf, len, drops, collect_cb, &c);
		SL_ASSERT_EQ(lines, c.n + drops_sum(drops));
	}
	return SL_TEST_PASS;
}

SL_TEST(mixed_datagram)
{
	static const char dg[] = "ok.one:5|c\n"
				 "bad line without colon\n"
				 "ok.two:-1.25|g|#host:a\n"
				 "\n"
				 "bad.type:1|x\n"
				 "bad.num:1.2.3|c\n"
				 "ok.three:42|ms|@0.5\r\n"
				 "bad.nan:nan|g\n"
				 "bad.range:1e16|g\n"
				 "ok.four:bob|s\n"
				 "bad.rate:1|c|@2\n"
				 "\xc3\x28:1|c\n"
				 "ok.five:0.000001|h";
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct collect c = { 0 };

	SL_ASSERT_EQ(sl_statsd_parse_datagram((const uint8_t *)dg, sizeof(dg) - 1, drops,
					      collect_cb, &c),
		     13);
	SL_ASSERT_EQ(c.n, 5);
	SL_ASSERT_EQ(drops_sum(drops), 8);
	SL_ASSERT_EQ(drops[SL_DROP_NO_COLON], 1);
	SL_ASSERT_EQ(drops[SL_DROP_EMPTY_LINE], 1);
	SL_ASSERT_EQ(drops[SL_DROP_BAD_TYPE], 1);
	SL_ASSERT_EQ(drops[SL_DROP_BAD_VALUE], 2);
	SL_ASSERT_EQ(drops[SL_DROP_VALUE_RANGE], 1);
	SL_ASSERT_EQ(drops[SL_DROP_BAD_RATE], 1);
	SL_ASSERT_EQ(drops[SL_DROP_BAD_NAME], 1);

	SL_ASSERT(span_eq(c.ev[0].name, "ok.one"));
	SL_ASSERT_EQ(c.ev[0].value_micro, 5000000);
	SL_ASSERT(span_eq(c.ev[1].name, "ok.two"));
	SL_ASSERT_DBL_EQ(c.ev[1].value, -1.25);
	SL_ASSERT(span_eq(c.ev[1].tags[0], "host:a"));
	SL_ASSERT(span_eq(c.ev[2].name, "ok.three"));
	SL_ASSERT_DBL_EQ(c.ev[2].value, 42.0);
	SL_ASSERT_DBL_EQ(c.ev[2].rate, 0.5);
	SL_ASSERT_EQ(c.ev[2].type, SL_METRIC_TIMER);
	SL_ASSERT(span_eq(c.ev[3].member, "bob"));
	SL_ASSERT(span_eq(c.ev[4].name, "ok.five"));
	SL_ASSERT_EQ(c.ev[4].value_micro, 1);
	SL_ASSERT(c.ev[4].value_exact);
	return SL_TEST_PASS;
}

/*
 * One line per reason, each asserted by its enum value, and together they
 * cover every reason between SL_DROP_EMPTY_LINE and SL_DROP_MEMBER_TOO_LONG.
 */
SL_TEST(every_reason)
{
	static char long_line[SL_LINE_MAX + 2];
	static char long_name[SL_NAME_MAX + 8];
	static char long_member[SL_MEMBER_MAX + 8];
	static char long_tag[SL_TAG_MAX + 16];
	const struct {
		const char *line;
		unsigned int reason;
	} cases[] = {
		{ "", SL_DROP_EMPTY_LINE },
		{ long_line, SL_DROP_LINE_TOO_LONG },
		{ "no.colon", SL_DROP_NO_COLON },
		{ "bad name:1|c", SL_DROP_BAD_NAME },
		{ long_name, SL_DROP_NAME_TOO_LONG },
		{ "a:1", SL_DROP_NO_TYPE },
		{ "a:1|cc", SL_DROP_BAD_TYPE },
		{ "a:abc|c", SL_DROP_BAD_VALUE },
		{ "a:1e16|c", SL_DROP_VALUE_RANGE },
		{ "a:1|c|@0", SL_DROP_BAD_RATE },
		{ "a:1|c|#a,,b", SL_DROP_BAD_TAGS },
		{ "a:1|c|#0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", SL_DROP_TOO_MANY_TAGS },
		{ long_tag, SL_DROP_TAG_TOO_LONG },
		{ "a:1|c|T0", SL_DROP_BAD_TIMESTAMP },
		{ "a:1|c|z", SL_DROP_BAD_FIELD },
		{ long_member, SL_DROP_MEMBER_TOO_LONG },
	};
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct sl_statsd_event ev;

	memset(long_line, 'x', SL_LINE_MAX + 1);
	memset(long_name, 'n', SL_NAME_MAX + 1);
	memcpy(long_name + SL_NAME_MAX + 1, ":1|c", 5);
	memcpy(long_member, "s:", 2);
	memset(long_member + 2, 'm', SL_MEMBER_MAX + 1);
	memcpy(long_member + SL_MEMBER_MAX + 3, "|s", 3);
	memcpy(long_tag, "a:1|c|#", 7);
	memset(long_tag + 7, 't', SL_TAG_MAX + 1);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SL_ASSERT_EQ(parse_str(cases[i].line, &ev), cases[i].reason);
		drops[cases[i].reason]++;
	}
	for (unsigned int r = SL_DROP_EMPTY_LINE; r <= SL_DROP_MEMBER_TOO_LONG; r++)
		SL_ASSERT_EQ(drops[r], 1);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
