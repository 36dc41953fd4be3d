/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * Unit tests of the sluice binary format: the documented example datagram
 * byte for byte, every header and event check, every truncation length,
 * the accounting rules (received = events announced, + 1 for trailing
 * bytes), one datagram per drop reason, the encoder's limits, and random
 * events through encode -> parse, also from JSON lines.
 */

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/common.h>

#include "binfmt.h"
#include "event.h"
#include "json.h"
#include "parse.h"
#include "sl_test.h"

#define OK SL_DROP__MAX
#define EVENTS_MAX 64

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

static struct sl_span
sp(const char *s)
{
	return (struct sl_span){ (const uint8_t *)s, (uint32_t)strlen(s) };
}

static size_t
put_span(char *out, size_t k, struct sl_span s)
{
	for (uint32_t i = 0; i < s.len; i++) {
		uint8_t b = s.p[i];

		if (b >= 0x20 && b < 0x7f && b != '\\')
			out[k++] = (char)b;
		else
			k += (size_t)sprintf(out + k, "\\x%02x", b);
	}
	return k;
}

/* Canonical text of an event (the same as in test_json.c). */
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

/* The example of docs/wire-format.md: producer 7, sequence 42, one event. */
static const uint8_t example[] = {
	0x53, 0x4c, 0x42, 0x01, 0x00, 0x00, 0x01, 0x00, 0x07, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x44, 0x00, 0xc0, 0xd4, 0x7e, 0x3d, 0xfe, 0x9c, 0x97, 0x17,
	0x08, 0x70, 0x75, 0x72, 0x63, 0x68, 0x61, 0x73, 0x65, 0x05, 0x05, 0x73, 0x74, 0x6f, 0x72,
	0x65, 0x01, 0x02, 0x73, 0x31, 0x06, 0x61, 0x6d, 0x6f, 0x75, 0x6e, 0x74, 0x03, 0xe0, 0x94,
	0x66, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6f, 0x6b, 0x04, 0x01, 0x04, 0x6e, 0x6f, 0x74,
	0x65, 0x05, 0x01, 0x77, 0x02, 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f,
};
static const char example_text[] = "purchase@1700000000123000000 store=s\"s1\" "
				   "amount=n23.5/23500000 ok=b1 note=null w=n0.10000000000000001/-";

static void
example_event(struct sl_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->name = sp("purchase");
	ev->ts_ns = 1700000000123000000ULL;
	ev->n_fields = 5;
	ev->fields[0] = (struct sl_event_field){ .key = sp("store"), .kind = SL_FIELD_STR,
						 .str = sp("s1") };
	ev->fields[1] = (struct sl_event_field){ .key = sp("amount"), .kind = SL_FIELD_NUM,
						 .num = 23.5, .num_micro = 23500000,
						 .num_exact = true };
	ev->fields[2] = (struct sl_event_field){ .key = sp("ok"), .kind = SL_FIELD_BOOL,
						 .b = true };
	ev->fields[3] = (struct sl_event_field){ .key = sp("note"), .kind = SL_FIELD_NULL };
	ev->fields[4] = (struct sl_event_field){ .key = sp("w"), .kind = SL_FIELD_NUM, .num = 0.1 };
}

/* Raw datagram builder for inputs the encoder refuses to write. */
struct raw {
	uint8_t b[70000];
	uint32_t n;
	uint32_t ev_start;
};

static void
raw_u8(struct raw *r, uint8_t v)
{
	r->b[r->n++] = v;
}

static void
raw_le(struct raw *r, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		r->b[r->n++] = (uint8_t)(v >> (8 * i));
}

static void
raw_bytes(struct raw *r, const void *p, uint32_t n)
{
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void
raw_header(struct raw *r, uint16_t count)
{
	r->n = 0;
	raw_bytes(r, "SLB\x01", 4);
	raw_le(r, 0, 2);
	raw_le(r, count, 2);
	raw_le(r, 9, 4);
	raw_le(r, 1, 8);
}

/* Start an event: length placeholder, ts, name, field count. */
static void
raw_event(struct raw *r, const char *name, uint32_t name_len, uint8_t n_fields)
{
	r->ev_start = r->n;
	raw_le(r, 0, 2);
	raw_le(r, 5, 8);
	raw_u8(r, (uint8_t)name_len);
	raw_bytes(r, name, name_len);
	raw_u8(r, n_fields);
}

/* Patch the current event's length to the bytes written since it started (+ adj). */
static void
raw_event_end(struct raw *r, int adj)
{
	uint32_t len = r->n - r->ev_start + (uint32_t)adj;

	r->b[r->ev_start] = (uint8_t)len;
	r->b[r->ev_start + 1] = (uint8_t)(len >> 8);
}

static void
raw_key(struct raw *r, const char *key, uint32_t len, uint8_t type)
{
	raw_u8(r, (uint8_t)len);
	raw_bytes(r, key, len);
	raw_u8(r, type);
}

/* Parse a one-event datagram; return the event's reason (the datagram must count 1). */
static unsigned int
one_event(const struct raw *r, struct collect *c)
{
	uint64_t drops[SL_DROP__MAX] = { 0 };

	c->n = 0;
	if (sl_bin_parse_datagram(r->b, r->n, drops, collect_cb, c, NULL) != 1)
		return SL_DROP__MAX + 1;
	if (c->n == 1 && drops_sum(drops) == 0)
		return OK;
	for (unsigned int rr = 0; rr < SL_DROP__MAX; rr++)
		if (drops[rr] == 1 && c->n == 0)
			return rr;
	return SL_DROP__MAX + 2;
}

SL_TEST(example_bytes)
{
	struct sl_event ev;
	struct sl_bin_enc enc;
	uint8_t buf[256];
	struct collect c = { 0 };
	struct sl_bin_header h = { 0 };
	uint64_t drops[SL_DROP__MAX] = { 0 };

	example_event(&ev);
	SL_ASSERT_EQ(sl_bin_encode_begin(&enc, buf, sizeof(buf), 7, 42), 0);
	SL_ASSERT_EQ(sl_bin_event_size(&ev), sizeof(example) - SL_BIN_HEADER_LEN);
	SL_ASSERT_EQ(sl_bin_encode_event(&enc, &ev), 0);
	SL_ASSERT_EQ(sl_bin_encode_end(&enc), sizeof(example));
	SL_ASSERT(memcmp(buf, example, sizeof(example)) == 0);

	SL_ASSERT_EQ(sl_bin_parse_datagram(example, sizeof(example), drops, collect_cb, &c, &h), 1);
	SL_ASSERT_EQ(c.n, 1);
	SL_ASSERT_EQ(drops_sum(drops), 0);
	SL_ASSERT_STR_EQ(c.text[0], example_text);
	SL_ASSERT_EQ(h.version, 1);
	SL_ASSERT_EQ(h.flags, 0);
	SL_ASSERT_EQ(h.count, 1);
	SL_ASSERT_EQ(h.producer, 7);
	SL_ASSERT_EQ(h.seq, 42);
	return SL_TEST_PASS;
}

SL_TEST(iterator)
{
	struct sl_bin_header h;
	struct sl_event ev;
	uint32_t off = 0;

	SL_ASSERT_EQ(sl_bin_parse_header(example, sizeof(example), &h, &off), OK);
	SL_ASSERT_EQ(off, SL_BIN_HEADER_LEN);
	SL_ASSERT_EQ(sl_bin_next_event(example, sizeof(example), &off, &ev), OK);
	SL_ASSERT_EQ(off, sizeof(example));
	/* Spans point into the datagram. */
	SL_ASSERT(ev.name.p == example + 31);
	SL_ASSERT(ev.fields[0].str.p == example + 48);
	SL_ASSERT(sl_event_field_find(&ev, "amount", 6) == &ev.fields[1]);
	SL_ASSERT_EQ(ev.scratch_used, 0);
	/* Past the end: every further call is a truncated event. */
	SL_ASSERT_EQ(sl_bin_next_event(example, sizeof(example), &off, &ev), SL_DROP_BIN_TRUNCATED);
	SL_ASSERT_EQ(off, sizeof(example));
	return SL_TEST_PASS;
}

SL_TEST(header_checks)
{
	uint8_t buf[SL_BIN_HEADER_LEN + 4];
	struct sl_bin_header h = { .version = 99 };
	uint32_t off = 1234;

	memcpy(buf, example, SL_BIN_HEADER_LEN);
	/* Every prefix of the header: short, and outputs untouched. */
	for (uint32_t len = 0; len < SL_BIN_HEADER_LEN; len++) {
		uint8_t *b = malloc(len + 1);

		SL_ASSERT_NOT_NULL(b);
		memcpy(b, example, len);
		SL_ASSERT_EQ(sl_bin_parse_header(b, len, &h, &off), SL_DROP_BIN_SHORT);
		free(b);
	}
	SL_ASSERT_EQ(sl_bin_parse_header(NULL, 0, &h, &off), SL_DROP_BIN_SHORT);
	SL_ASSERT_EQ(h.version, 99);
	SL_ASSERT_EQ(off, 1234);

	/* Magic: any byte of the 3 that differs, even in a short datagram. */
	for (int i = 0; i < 3; i++) {
		memcpy(buf, example, SL_BIN_HEADER_LEN);
		buf[i] ^= 0x20;
		SL_ASSERT_EQ(sl_bin_parse_header(buf, SL_BIN_HEADER_LEN, &h, &off),
			     SL_DROP_BIN_BAD_MAGIC);
		SL_ASSERT_EQ(sl_bin_parse_header(buf, (uint32_t)i + 1, &h, &off),
			     SL_DROP_BIN_BAD_MAGIC);
	}
	SL_ASSERT_EQ(sl_bin_parse_header((const uint8_t *)"{\"a\":1}", 7, &h, &off),
		     SL_DROP_BIN_BAD_MAGIC);
	SL_ASSERT_EQ(sl_bin_parse_header((const uint8_t *)"a:1|c", 5, &h, &off),
		     SL_DROP_BIN_BAD_MAGIC);

	/* Version: checked before the length (a later version may be shorter). */
	memcpy(buf, example, SL_BIN_HEADER_LEN);
	for (int v = 0; v < 256; v++) {
		if (v == SL_BIN_VERSION)
			continue;
		buf[3] = (uint8_t)v;
		SL_ASSERT_EQ(sl_bin_parse_header(buf, SL_BIN_HEADER_LEN, &h, &off),
			     SL_DROP_BIN_BAD_VERSION);
		SL_ASSERT_EQ(sl_bin_parse_header(buf, 4, &h, &off), SL_DROP_BIN_BAD_VERSION);
	}
	/* Every flag bit is unknown in version 1. */
	memcpy(buf, example, SL_BIN_HEADER_LEN);
	for (int bit = 0; bit < 16; bit++) {
		buf[4 + bit / 8] = (uint8_t)(1u << (bit % 8));
		SL_ASSERT_EQ(sl_bin_parse_header(buf, SL_BIN_HEADER_LEN, &h, &off),
			     SL_DROP_BIN_BAD_VERSION);
		buf[4] = buf[5] = 0;
	}
	SL_ASSERT_EQ(h.version, 99);

	/* Every field of the header, little-endian. */
	memcpy(buf, "SLB\x01\x00\x00\x34\x12\x78\x56\x34\x12\xf0\xde\xbc\x9a\x78\x56\x34\x12", 20);
	SL_ASSERT_EQ(sl_bin_parse_header(buf, SL_BIN_HEADER_LEN, &h, &off), OK);
	SL_ASSERT_EQ(h.count, 0x1234);
	SL_ASSERT_EQ(h.producer, 0x12345678);
	SL_ASSERT(h.seq == 0x123456789abcdef0ULL);
	SL_ASSERT_EQ(off, SL_BIN_HEADER_LEN);
	return SL_TEST_PASS;
}

SL_TEST(header_rejects_count_as_one)
{
	static const uint8_t bad_magic[] = "XLB\x01\x00\x00\xff\xff";
	uint64_t drops[SL_DROP__MAX] = { 0 };
	uint32_t valid = 0;
	uint8_t buf[SL_BIN_HEADER_LEN];

	SL_ASSERT_EQ(sl_bin_parse_datagram(bad_magic, 8, drops, count_cb, &valid, NULL), 1);
	SL_ASSERT_EQ(drops[SL_DROP_BIN_BAD_MAGIC], 1);
	memcpy(buf, example, sizeof(buf));
	buf[3] = 2;
	SL_ASSERT_EQ(sl_bin_parse_datagram(buf, sizeof(buf), drops, count_cb, &valid, NULL), 1);
	SL_ASSERT_EQ(drops[SL_DROP_BIN_BAD_VERSION], 1);
	SL_ASSERT_EQ(sl_bin_parse_datagram(example, 19, drops, count_cb, &valid, NULL), 1);
	SL_ASSERT_EQ(drops[SL_DROP_BIN_SHORT], 1);
	SL_ASSERT_EQ(sl_bin_parse_datagram(NULL, 0, drops, count_cb, &valid, NULL), 1);
	SL_ASSERT_EQ(drops[SL_DROP_BIN_SHORT], 2);
	SL_ASSERT_EQ(drops_sum(drops), 4);
	SL_ASSERT_EQ(valid, 0);
	return SL_TEST_PASS;
}

SL_TEST(field_types)
{
	static struct raw r;
	struct collect c = { 0 };
	uint64_t bits;
	double d;

	raw_header(&r, 1);
	raw_event(&r, "e", 1, 9);
	raw_key(&r, "s", 1, SL_BIN_T_STR);
	raw_u8(&r, 3);
	raw_bytes(&r, "\xc3\xa9x", 3);
	raw_key(&r, "empty", 5, SL_BIN_T_STR);
	raw_u8(&r, 0);
	raw_key(&r, "f", 1, SL_BIN_T_F64);
	d = -2.5;
	memcpy(&bits, &d, 8);
	raw_le(&r, bits, 8);
	raw_key(&r, "m", 1, SL_BIN_T_MICRO);
	raw_le(&r, (uint64_t)-1500, 8);
	raw_key(&r, "t", 1, SL_BIN_T_BOOL);
	raw_u8(&r, 1);
	raw_key(&r, "b", 1, SL_BIN_T_BOOL);
	raw_u8(&r, 0);
	raw_key(&r, "z", 1, SL_BIN_T_NULL);
	raw_key(&r, "big", 3, SL_BIN_T_MICRO);
	raw_le(&r, (uint64_t)INT64_MAX, 8);
	raw_key(&r, "", 0, SL_BIN_T_MICRO);
	raw_le(&r, (uint64_t)(INT64_MIN + 1), 8);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), OK);
	SL_ASSERT_STR_EQ(c.text[0], "e@5 s=s\"\\xc3\\xa9x\" empty=s\"\" f=n-2.5/- m=n-0.0015/-1500 "
				    "t=b1 b=b0 z=null big=n9223372036854.7754/9223372036854775807 "
				    "=n-9223372036854.7754/-9223372036854775807");
	return SL_TEST_PASS;
}

/* Exact micro-units come back as the correctly rounded double of the decimal. */
SL_TEST(micro_to_double_matches_strtod)
{
	static struct raw r;
	uint64_t seed = 0x082efa98ec4e6c89ULL;
	struct sl_event ev;
	struct sl_bin_header h;
	char text[40];

	for (int iter = 0; iter < 100000; iter++) {
		int64_t m = (int64_t)rng_next(&seed);
		uint32_t off;

		/* All magnitudes, both sides of 2^53. */
		m >>= rng_below(&seed, 64);
		if (m == INT64_MIN)
			m++;
		raw_header(&r, 1);
		raw_event(&r, "", 0, 1);
		raw_key(&r, "m", 1, SL_BIN_T_MICRO);
		raw_le(&r, (uint64_t)m, 8);
		raw_event_end(&r, 0);
		SL_ASSERT_EQ(sl_bin_parse_header(r.b, r.n, &h, &off), OK);
		SL_ASSERT_EQ(sl_bin_next_event(r.b, r.n, &off, &ev), OK);
		snprintf(text, sizeof(text), "%llde-6", (long long)m);
		if (!same_double(ev.fields[0].num, strtod(text, NULL)))
			SL_FAILF("%s: %.17g", text, ev.fields[0].num);
		SL_ASSERT(ev.fields[0].num_exact);
		SL_ASSERT_EQ(ev.fields[0].num_micro, m);
	}
	return SL_TEST_PASS;
}

SL_TEST(field_value_rejects)
{
	static const struct {
		uint8_t type;
		uint64_t payload;
		int payload_len;
		unsigned int reason;
	} cases[] = {
		{ 0, 0, 0, SL_DROP_BIN_BAD_FIELD },
		{ 6, 0, 0, SL_DROP_BIN_BAD_FIELD },
		{ 255, 0, 0, SL_DROP_BIN_BAD_FIELD },
		{ SL_BIN_T_BOOL, 2, 1, SL_DROP_BIN_BAD_FIELD },
		{ SL_BIN_T_BOOL, 255, 1, SL_DROP_BIN_BAD_FIELD },
		{ SL_BIN_T_F64, 0x7ff8000000000000ULL, 8, SL_DROP_BAD_VALUE },   /* NaN */
		{ SL_BIN_T_F64, 0xfff0000000000000ULL, 8, SL_DROP_BAD_VALUE },   /* -inf */
		{ SL_BIN_T_F64, 0x7ff0000000000000ULL, 8, SL_DROP_BAD_VALUE },   /* inf */
		{ SL_BIN_T_F64, 0x4341c37937e08001ULL, 8, SL_DROP_VALUE_RANGE }, /* > 1e16 */
		{ SL_BIN_T_F64, 0x430c6bf526340001ULL, 8, SL_DROP_VALUE_RANGE }, /* 1e15 + ulp */
		{ SL_BIN_T_F64, 0x430c6bf526340000ULL, 8, OK },                  /* 1e15 */
		{ SL_BIN_T_F64, 0x8000000000000000ULL, 8, OK },                  /* -0 */
		{ SL_BIN_T_F64, 0x0000000000000001ULL, 8, OK },                  /* denormal */
		{ SL_BIN_T_MICRO, 0x8000000000000000ULL, 8, SL_DROP_VALUE_RANGE },
	};
	static struct raw r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct collect c = { 0 };
		unsigned int rc;

		raw_header(&r, 1);
		raw_event(&r, "", 0, 1);
		raw_key(&r, "k", 1, cases[i].type);
		raw_le(&r, cases[i].payload, cases[i].payload_len);
		raw_event_end(&r, 0);
		rc = one_event(&r, &c);
		if (rc != cases[i].reason)
			SL_FAILF("case %zu: %s", i, sl_drop_reason_name(rc));
	}
	return SL_TEST_PASS;
}

SL_TEST(event_limits)
{
	static struct raw r;
	char name[SL_EVENT_NAME_MAX + 2], key[SL_EVENT_KEY_MAX + 2];
	struct collect c = { 0 };

	memset(name, 'n', sizeof(name));
	memset(key, 'k', sizeof(key));
	raw_header(&r, 1);
	raw_event(&r, name, SL_EVENT_NAME_MAX, 0);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), OK);
	raw_header(&r, 1);
	raw_event(&r, name, SL_EVENT_NAME_MAX + 1, 0);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), SL_DROP_NAME_TOO_LONG);

	raw_header(&r, 1);
	raw_event(&r, "", 0, 1);
	raw_key(&r, key, SL_EVENT_KEY_MAX, SL_BIN_T_NULL);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), OK);
	raw_header(&r, 1);
	raw_event(&r, "", 0, 1);
	raw_key(&r, key, SL_EVENT_KEY_MAX + 1, SL_BIN_T_NULL);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), SL_DROP_FIELD_KEY_TOO_LONG);

	for (uint32_t n = SL_EVENT_FIELDS_MAX; n <= SL_EVENT_FIELDS_MAX + 1; n++) {
		raw_header(&r, 1);
		raw_event(&r, "", 0, (uint8_t)n);
		for (uint32_t i = 0; i < n; i++) {
			char k[12];

			snprintf(k, sizeof(k), "%u", i);
			raw_key(&r, k, (uint32_t)strlen(k), SL_BIN_T_NULL);
		}
		raw_event_end(&r, 0);
		SL_ASSERT_EQ(one_event(&r, &c),
			     n <= SL_EVENT_FIELDS_MAX ? OK : SL_DROP_TOO_MANY_FIELDS);
	}

	raw_header(&r, 1);
	raw_event(&r, "", 0, 3);
	raw_key(&r, "a", 1, SL_BIN_T_NULL);
	raw_key(&r, "b", 1, SL_BIN_T_NULL);
	raw_key(&r, "a", 1, SL_BIN_T_BOOL);
	raw_u8(&r, 0);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), SL_DROP_DUPLICATE_KEY);

	/* UTF-8 everywhere: name, key, string value. */
	raw_header(&r, 1);
	raw_event(&r, "\xed\xa0\x80", 3, 0);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), SL_DROP_BAD_UTF8);
	raw_header(&r, 1);
	raw_event(&r, "", 0, 1);
	raw_key(&r, "\xc0\x80", 2, SL_BIN_T_NULL);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), SL_DROP_BAD_UTF8);
	raw_header(&r, 1);
	raw_event(&r, "", 0, 1);
	raw_key(&r, "k", 1, SL_BIN_T_STR);
	raw_u8(&r, 2);
	raw_bytes(&r, "\xe2\x82", 2);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), SL_DROP_BAD_UTF8);
	/* NUL and control bytes are valid UTF-8. */
	raw_header(&r, 1);
	raw_event(&r, "a\0b", 3, 1);
	raw_key(&r, "\n", 1, SL_BIN_T_STR);
	raw_u8(&r, 1);
	raw_u8(&r, 0);
	raw_event_end(&r, 0);
	SL_ASSERT_EQ(one_event(&r, &c), OK);
	SL_ASSERT_STR_EQ(c.text[0], "a\\x00b@5 \\x0a=s\"\\x00\"");
	return SL_TEST_PASS;
}

/*
 * Lengths inside an event: content that runs past the event's end is
 * bin_truncated, content that ends before it bin_bad_length; either way only
 * that event is lost and the next one parses.
 */
SL_TEST(inner_lengths)
{
	static const struct {
		int adj;              /* added to the true event length */
		unsigned int reason;
	} cases[] = {
		{ 0, OK }, { 1, SL_DROP_BIN_BAD_LENGTH }, { 5, SL_DROP_BIN_BAD_LENGTH },
		{ -1, SL_DROP_BIN_TRUNCATED }, { -2, SL_DROP_BIN_TRUNCATED },
		{ -9, SL_DROP_BIN_TRUNCATED }, { -10, SL_DROP_BIN_TRUNCATED },
		{ -11, SL_DROP_BIN_TRUNCATED }, { -12, SL_DROP_BIN_TRUNCATED },
	};
	static struct raw r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t drops[SL_DROP__MAX] = { 0 };
		struct collect c = { 0 };
		uint32_t first_end;

		/* Event 1 (24 bytes true length): name "ev", 2 fields; event 2 follows. */
		raw_header(&r, 2);
		raw_event(&r, "ev", 2, 2);
		raw_key(&r, "s", 1, SL_BIN_T_STR);
		raw_u8(&r, 2);
		raw_bytes(&r, "ab", 2);
		raw_key(&r, "t", 1, SL_BIN_T_BOOL);
		raw_u8(&r, 1);
		/* Pad so that a longer declared length stays inside the datagram. */
		first_end = r.n;
		raw_event_end(&r, cases[i].adj);
		if (cases[i].adj > 0)
			for (int p = 0; p < cases[i].adj; p++)
				raw_u8(&r, 0);
		else
			r.n = first_end;
		/* The next event starts where the declared length says. */
		if (cases[i].adj < 0) {
			r.n = first_end + (uint32_t)cases[i].adj;
		}
		raw_event(&r, "next", 4, 0);
		raw_event_end(&r, 0);
		SL_ASSERT_EQ(sl_bin_parse_datagram(r.b, r.n, drops, collect_cb, &c, NULL), 2);
		if (cases[i].reason == OK) {
			SL_ASSERT_EQ(c.n, 2);
			SL_ASSERT_STR_EQ(c.text[0], "ev@5 s=s\"ab\" t=b1");
		} else {
			SL_ASSERT_EQ(c.n, 1);
			if (drops[cases[i].reason] != 1)
				SL_FAILF("adj %d: not %s", cases[i].adj,
					 sl_drop_reason_name(cases[i].reason));
		}
		SL_ASSERT_STR_EQ(c.text[c.n - 1], "next@5");
	}
	return SL_TEST_PASS;
}

/*
 * Framing lost: an event length below the minimum or past the datagram. The
 * event and every later announced one are counted, so received = announced.
 */
SL_TEST(framing_lost)
{
	static struct raw r;

	for (uint32_t bad_len = 0; bad_len < 64; bad_len++) {
		uint64_t drops[SL_DROP__MAX] = { 0 };
		struct collect c = { 0 };
		unsigned int want;

		raw_header(&r, 5);
		raw_event(&r, "a", 1, 0);
		raw_event_end(&r, 0);
		raw_event(&r, "b", 1, 0);
		raw_event_end(&r, 0);
		/* Event 2 claims bad_len bytes; 13 (its true length) + 13 remain... */
		r.b[r.ev_start] = (uint8_t)bad_len;
		r.b[r.ev_start + 1] = 0;
		raw_event(&r, "c", 1, 0); /* ... as event 3 follows; 4 and 5 are missing. */
		raw_event_end(&r, 0);
		want = bad_len < SL_BIN_EVENT_MIN ? SL_DROP_BIN_BAD_LENGTH :
		       bad_len > 26		  ? SL_DROP_BIN_TRUNCATED :
						    OK;
		SL_ASSERT_EQ(sl_bin_parse_datagram(r.b, r.n, drops, collect_cb, &c, NULL), 5);
		if (want == OK)
			continue; /* a plausible length: the rest is parsed as it falls */
		SL_ASSERT_EQ(c.n, 1);
		SL_ASSERT_STR_EQ(c.text[0], "a@5");
		SL_ASSERT_EQ(drops[want], want == SL_DROP_BIN_TRUNCATED ? 4 : 1);
		SL_ASSERT_EQ(drops[SL_DROP_BIN_TRUNCATED], want == SL_DROP_BIN_TRUNCATED ? 4 : 3);
		SL_ASSERT_EQ(drops_sum(drops), 4);
	}
	return SL_TEST_PASS;
}

SL_TEST(count_mismatch)
{
	struct sl_bin_enc enc;
	struct sl_event ev;
	uint8_t buf[512];
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct collect c = { 0 };
	uint32_t len;

	example_event(&ev);
	SL_ASSERT_EQ(sl_bin_encode_begin(&enc, buf, sizeof(buf), 1, 1), 0);
	for (int i = 0; i < 3; i++)
		SL_ASSERT_EQ(sl_bin_encode_event(&enc, &ev), 0);
	len = sl_bin_encode_end(&enc);
	SL_ASSERT_EQ(enc.count, 3);

	/* Fewer announced than present: the rest is one bin_count_mismatch. */
	buf[6] = 1;
	SL_ASSERT_EQ(sl_bin_parse_datagram(buf, len, drops, collect_cb, &c, NULL), 2);
	SL_ASSERT_EQ(c.n, 1);
	SL_ASSERT_EQ(drops[SL_DROP_BIN_COUNT_MISMATCH], 1);
	SL_ASSERT_EQ(drops_sum(drops), 1);
	/* None announced, none present: a heartbeat, nothing counted. */
	buf[6] = 0;
	SL_ASSERT_EQ(sl_bin_parse_datagram(buf, SL_BIN_HEADER_LEN, drops, collect_cb, &c, NULL), 0);
	/* None announced, some present. */
	SL_ASSERT_EQ(sl_bin_parse_datagram(buf, len, drops, collect_cb, &c, NULL), 1);
	SL_ASSERT_EQ(drops[SL_DROP_BIN_COUNT_MISMATCH], 2);
	/* More announced than present: each missing one is truncated, in O(1). */
	buf[6] = 0xff;
	buf[7] = 0xff;
	SL_ASSERT_EQ(sl_bin_parse_datagram(buf, len, drops, collect_cb, &c, NULL), 65535);
	SL_ASSERT_EQ(c.n, 4);
	SL_ASSERT_EQ(drops[SL_DROP_BIN_TRUNCATED], 65532);
	SL_ASSERT_EQ(drops_sum(drops), 2 + 65532);
	/* One trailing byte. */
	buf[6] = 3;
	buf[7] = 0;
	buf[len] = 0;
	SL_ASSERT_EQ(sl_bin_parse_datagram(buf, len + 1, drops, collect_cb, &c, NULL), 4);
	SL_ASSERT_EQ(c.n, 7);
	SL_ASSERT_EQ(drops[SL_DROP_BIN_COUNT_MISMATCH], 3);
	return SL_TEST_PASS;
}

/* SQLite style: every prefix of a valid datagram, on a heap copy of exactly that length. */
SL_TEST(every_truncation)
{
	static uint8_t dg[2048];
	uint32_t ends[8], n_ev = 0, full;
	struct sl_bin_enc enc;
	struct sl_event ev;
	static const char *const lines[] = {
		"{\"event\":\"visit\",\"store\":\"s1\",\"user\":\"u\\u00e9\",\"ts\":1700000000000}",
		"{\"event\":\"purchase\",\"amount\":23.5,\"w\":0.1234567,\"ok\":true,\"x\":null}",
		"{}",
		"{\"event\":\"refund\",\"amount\":-3,\"no\":false}",
	};

	SL_ASSERT_EQ(sl_bin_encode_begin(&enc, dg, sizeof(dg), 3, 99), 0);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)lines[i],
						(uint32_t)strlen(lines[i]), &ev),
			     OK);
		SL_ASSERT_EQ(sl_bin_encode_event(&enc, &ev), 0);
		ends[n_ev++] = enc.len;
	}
	full = sl_bin_encode_end(&enc);

	for (uint32_t len = 0; len <= full; len++) {
		uint64_t drops[SL_DROP__MAX] = { 0 };
		uint32_t valid = 0, counted, complete = 0;
		uint8_t *buf = malloc(len + 1);

		SL_ASSERT_NOT_NULL(buf);
		memcpy(buf, dg, len);
		counted = sl_bin_parse_datagram(buf, len, drops, count_cb, &valid, NULL);
		free(buf);
		for (uint32_t i = 0; i < n_ev; i++)
			complete += ends[i] <= len;
		SL_ASSERT_EQ(counted, valid + drops_sum(drops));
		if (len < SL_BIN_HEADER_LEN) {
			SL_ASSERT_EQ(counted, 1);
			SL_ASSERT_EQ(drops[SL_DROP_BIN_SHORT], 1);
			continue;
		}
		SL_ASSERT_EQ(counted, n_ev);
		SL_ASSERT_EQ(valid, complete);
		SL_ASSERT_EQ(drops[SL_DROP_BIN_TRUNCATED], n_ev - complete);
	}
	return SL_TEST_PASS;
}

SL_TEST(encoder_limits)
{
	static uint8_t big[65536 * 13];
	struct sl_bin_enc enc, saved;
	struct sl_event ev, bad;
	uint8_t buf[128];
	char name[SL_EVENT_NAME_MAX + 1], key[SL_EVENT_KEY_MAX + 1], str[SL_EVENT_STR_MAX + 1];

	SL_ASSERT_EQ(sl_bin_encode_begin(&enc, buf, SL_BIN_HEADER_LEN - 1, 1, 1), -ENOSPC);
	SL_ASSERT_EQ(sl_bin_encode_begin(&enc, buf, SL_BIN_HEADER_LEN, 1, 1), 0);
	SL_ASSERT_EQ(sl_bin_encode_end(&enc), SL_BIN_HEADER_LEN);

	/* No room: nothing written, the encoder unchanged. */
	example_event(&ev);
	SL_ASSERT_EQ(sl_bin_encode_begin(&enc, buf, sizeof(buf), 1, 1), 0);
	SL_ASSERT_EQ(sl_bin_encode_event(&enc, &ev), 0);
	saved = enc;
	SL_ASSERT_EQ(sl_bin_encode_event(&enc, &ev), -ENOSPC);
	SL_ASSERT(memcmp(&saved, &enc, sizeof(enc)) == 0);
	SL_ASSERT_EQ(sl_bin_encode_end(&enc), sizeof(example));
	SL_ASSERT(memcmp(buf, example, 8) == 0);
	SL_ASSERT(memcmp(buf + SL_BIN_HEADER_LEN, example + SL_BIN_HEADER_LEN,
			 sizeof(example) - SL_BIN_HEADER_LEN) == 0);

	/* Each rule of the parser is a rule of the encoder. */
	memset(name, 'n', sizeof(name));
	memset(key, 'k', sizeof(key));
	memset(str, 's', sizeof(str));
#define BAD(mod)                                                                       \
	do {                                                                           \
		example_event(&bad);                                                   \
		mod;                                                                   \
		SL_ASSERT_EQ(sl_bin_event_size(&bad), 0);                              \
		SL_ASSERT_EQ(sl_bin_encode_event(&enc, &bad), -EINVAL);                \
	} while (0)
	BAD(bad.name = ((struct sl_span){ (const uint8_t *)name, SL_EVENT_NAME_MAX + 1 }));
	BAD(bad.name = sp("\xff"));
	BAD(bad.n_fields = SL_EVENT_FIELDS_MAX + 1);
	BAD(bad.fields[1].key = ((struct sl_span){ (const uint8_t *)key, SL_EVENT_KEY_MAX + 1 }));
	BAD(bad.fields[1].key = sp("\xc3"));
	BAD(bad.fields[4].key = sp("store"));
	BAD(bad.fields[0].str = ((struct sl_span){ (const uint8_t *)str, SL_EVENT_STR_MAX + 1 }));
	BAD(bad.fields[0].str = sp("\xed\xbf\xbf"));
	BAD(bad.fields[4].num = NAN);
	BAD(bad.fields[4].num = INFINITY);
	BAD(bad.fields[4].num = 2e15);
	BAD(bad.fields[1].num_micro = INT64_MIN);
	BAD(bad.fields[2].kind = SL_FIELD__MAX);
#undef BAD
	/* At the limits it is fine. */
	example_event(&bad);
	bad.name = (struct sl_span){ (const uint8_t *)name, SL_EVENT_NAME_MAX };
	bad.fields[1].key = (struct sl_span){ (const uint8_t *)key, SL_EVENT_KEY_MAX };
	bad.fields[0].str = (struct sl_span){ (const uint8_t *)str, SL_EVENT_STR_MAX };
	bad.fields[4].num = -1e15;
	SL_ASSERT(sl_bin_event_size(&bad) > 0);

	/* 65535 events at most (the count is a u16). */
	memset(&ev, 0, sizeof(ev));
	ev.name = sp("");
	SL_ASSERT_EQ(sl_bin_event_size(&ev), SL_BIN_EVENT_MIN);
	SL_ASSERT_EQ(sl_bin_encode_begin(&enc, big, sizeof(big), 1, 1), 0);
	for (uint32_t i = 0; i < UINT16_MAX; i++)
		SL_ASSERT_EQ(sl_bin_encode_event(&enc, &ev), 0);
	SL_ASSERT_EQ(sl_bin_encode_event(&enc, &ev), -EOVERFLOW);
	SL_ASSERT_EQ(sl_bin_encode_end(&enc), SL_BIN_HEADER_LEN + UINT16_MAX * SL_BIN_EVENT_MIN);
	{
		uint64_t drops[SL_DROP__MAX] = { 0 };
		uint32_t valid = 0;

		SL_ASSERT_EQ(sl_bin_parse_datagram(big, enc.len, drops, count_cb, &valid, NULL),
			     UINT16_MAX);
		SL_ASSERT_EQ(valid, UINT16_MAX);
	}
	return SL_TEST_PASS;
}

/* A random valid event in caller storage (keys unique, every kind). */
struct gen {
	struct sl_event ev;
	char bytes[16384];
	uint32_t used;
};

static struct sl_span
gen_str(uint64_t *seed, struct gen *g, uint32_t max)
{
	static const char *const chars[] = { "a", "Z", "0", " ", "\n", "\"", "\\", "\xc3\xa9",
					     "\xe2\x82\xac", "\xf0\x9f\x98\x80", "" };
	uint32_t want = rng_below(seed, 4) ? rng_below(seed, 10) : rng_below(seed, max + 1);
	char *start = g->bytes + g->used;
	uint32_t n = 0;

	while (n < want) {
		const char *c = chars[rng_below(seed, sizeof(chars) / sizeof(chars[0]))];
		uint32_t k = c[0] == '\0' ? 1 : (uint32_t)strlen(c);

		if (n + k > want)
			break;
		memcpy(start + n, c, k); /* "" stands for one NUL byte */
		n += k;
	}
	g->used += n;
	return (struct sl_span){ (const uint8_t *)start, n };
}

static void
gen_event(uint64_t *seed, struct gen *g)
{
	struct sl_event *ev = &g->ev;

	g->used = 0;
	ev->name = gen_str(seed, g, rng_below(seed, 2) ? 20 : SL_EVENT_NAME_MAX);
	ev->ts_ns = rng_below(seed, 3) ? rng_next(seed) : 0;
	ev->scratch_used = 0;
	ev->n_fields = rng_below(seed, 4) ? rng_below(seed, 6) :
					    rng_below(seed, SL_EVENT_FIELDS_MAX + 1);
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		struct sl_event_field *f = &ev->fields[i];
		char *kp = g->bytes + g->used;
		struct sl_span base = gen_str(seed, g, SL_EVENT_KEY_MAX - 3);
		int k = sprintf(kp + base.len, "#%u", i);

		g->used += (uint32_t)k;
		memset(f, 0, sizeof(*f));
		f->key = (struct sl_span){ (const uint8_t *)kp, base.len + (uint32_t)k };
		f->kind = (uint8_t)rng_below(seed, SL_FIELD__MAX);
		f->str = (struct sl_span){ (const uint8_t *)"", 0 };
		if (f->kind == SL_FIELD_STR) {
			f->str = gen_str(seed, g, SL_EVENT_STR_MAX);
		} else if (f->kind == SL_FIELD_NUM && rng_below(seed, 2)) {
			int64_t m = (int64_t)rng_next(seed) >> rng_below(seed, 64);
			char text[32];

			m = m == INT64_MIN ? 0 : m;
			snprintf(text, sizeof(text), "%llde-6", (long long)m);
			f->num = strtod(text, NULL);
			f->num_micro = m;
			f->num_exact = true;
		} else if (f->kind == SL_FIELD_NUM) {
			uint64_t bits = rng_next(seed);

			memcpy(&f->num, &bits, sizeof(f->num));
			if (!(fabs(f->num) <= SL_VALUE_MAX))
				f->num = (double)(int64_t)(rng_next(seed) >> 14) / 1e3;
		} else if (f->kind == SL_FIELD_BOOL) {
			f->b = rng_below(seed, 2);
		}
	}
}

static int
same_event(const struct sl_event *a, const struct sl_event *b)
{
	SL_ASSERT(a->name.len == b->name.len && memcmp(a->name.p, b->name.p, a->name.len) == 0);
	SL_ASSERT(a->ts_ns == b->ts_ns);
	SL_ASSERT_EQ(a->n_fields, b->n_fields);
	for (uint32_t i = 0; i < a->n_fields; i++) {
		const struct sl_event_field *x = &a->fields[i], *y = &b->fields[i];

		SL_ASSERT(x->key.len == y->key.len && memcmp(x->key.p, y->key.p, x->key.len) == 0);
		SL_ASSERT_EQ(x->kind, y->kind);
		if (x->kind == SL_FIELD_STR)
			SL_ASSERT(x->str.len == y->str.len &&
				  memcmp(x->str.p, y->str.p, x->str.len) == 0);
		if (x->kind == SL_FIELD_BOOL)
			SL_ASSERT_EQ(x->b, y->b);
		if (x->kind != SL_FIELD_NUM)
			continue;
		/* f64 bit for bit; exact values by micro-units (-0 sent exact is 0). */
		SL_ASSERT_EQ(x->num_exact, y->num_exact);
		SL_ASSERT_EQ(x->num_micro, y->num_micro);
		SL_ASSERT(x->num_exact ? x->num == y->num : same_double(x->num, y->num));
	}
	return SL_TEST_PASS;
}

struct rt_ctx {
	struct gen *want;
	uint32_t n;
	int rc;
};

static void
rt_cb(const struct sl_event *ev, void *arg)
{
	struct rt_ctx *c = arg;

	if (same_event(ev, &c->want[c->n].ev) != SL_TEST_PASS)
		c->rc = SL_TEST_FAIL;
	c->n++;
}

/* Random events, packed into 1400-byte datagrams until one does not fit, and back. */
SL_TEST(random_round_trip)
{
	static struct gen want[128];
	static uint8_t buf[1400];
	uint64_t seed = 0x452821e638d01377ULL;
	uint32_t total = 0, datagrams = 0;

	for (int iter = 0; iter < 4000; iter++) {
		struct sl_bin_enc enc;
		struct rt_ctx ctx = { want, 0, SL_TEST_PASS };
		struct sl_bin_header h;
		uint64_t drops[SL_DROP__MAX] = { 0 };
		uint32_t n = 0, len;
		int rc = 0;

		SL_ASSERT_EQ(sl_bin_encode_begin(&enc, buf, sizeof(buf), (uint32_t)iter,
						 ~0ULL - iter),
			     0);
		while (n < 128) {
			uint32_t before = enc.len, size;

			gen_event(&seed, &want[n]);
			size = sl_bin_event_size(&want[n].ev);
			SL_ASSERT(size >= SL_BIN_EVENT_MIN && size <= SL_BIN_EVENT_MAX);
			rc = sl_bin_encode_event(&enc, &want[n].ev);
			if (rc != 0)
				break;
			SL_ASSERT_EQ(enc.len - before, size);
			n++;
		}
		SL_ASSERT(rc == -ENOSPC || n == 128);
		len = sl_bin_encode_end(&enc);
		SL_ASSERT_EQ(sl_bin_parse_datagram(buf, len, drops, rt_cb, &ctx, &h), n);
		SL_ASSERT_EQ(ctx.rc, SL_TEST_PASS);
		SL_ASSERT_EQ(ctx.n, n);
		SL_ASSERT_EQ(drops_sum(drops), 0);
		SL_ASSERT_EQ(h.producer, (uint32_t)iter);
		SL_ASSERT(h.seq == ~0ULL - iter);
		total += n;
		datagrams++;
	}
	SL_ASSERT(total > 4 * datagrams);
	return SL_TEST_PASS;
}

/* A JSON line and the binary encoding of its event parse to the same event. */
SL_TEST(json_to_binary)
{
	static const char *const lines[] = {
		"{\"event\":\"purchase\",\"store\":\"s-17\",\"sku\":\"A-1001\",\"amount\":23.50,"
		"\"user\":\"u42\",\"ts\":1700000000123}",
		"{\"event\":\"caf\\u00e9\",\"k\\n\":\"\\ud83d\\ude00\\u0000\",\"n\":-0.0000001,"
		"\"big\":123456789012.123456,\"e\":1e-400,\"t\":true,\"f\":false,\"z\":null}",
		"{\"ts\":1700000000123456789,\"x\":9223372036854.775807,"
		"\"y\":-9223372036854.775807}",
		"{\"v\":-0}",
		"{}",
	};
	static struct sl_event from_json, from_bin;
	uint8_t buf[2048];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct sl_bin_enc enc;
		struct sl_bin_header h;
		uint32_t off, len;

		SL_ASSERT_EQ(sl_json_parse_line((const uint8_t *)lines[i],
						(uint32_t)strlen(lines[i]), &from_json),
			     OK);
		SL_ASSERT_EQ(sl_bin_encode_begin(&enc, buf, sizeof(buf), 1, 1), 0);
		SL_ASSERT_EQ(sl_bin_encode_event(&enc, &from_json), 0);
		len = sl_bin_encode_end(&enc);
		SL_ASSERT_EQ(sl_bin_parse_header(buf, len, &h, &off), OK);
		SL_ASSERT_EQ(sl_bin_next_event(buf, len, &off, &from_bin), OK);
		SL_ASSERT_EQ(off, len);
		SL_ASSERT_EQ(same_event(&from_json, &from_bin), SL_TEST_PASS);
	}
	return SL_TEST_PASS;
}

/* One datagram per reason the binary parser returns, each asserted by its enum value. */
SL_TEST(every_reason)
{
	static struct raw r;
	static const unsigned int reasons[] = {
		SL_DROP_BIN_SHORT, SL_DROP_BIN_BAD_MAGIC, SL_DROP_BIN_BAD_VERSION,
		SL_DROP_BIN_TRUNCATED, SL_DROP_BIN_BAD_LENGTH, SL_DROP_BIN_BAD_FIELD,
		SL_DROP_BIN_COUNT_MISMATCH, SL_DROP_NAME_TOO_LONG, SL_DROP_TOO_MANY_FIELDS,
		SL_DROP_FIELD_KEY_TOO_LONG, SL_DROP_DUPLICATE_KEY, SL_DROP_BAD_UTF8,
		SL_DROP_BAD_VALUE, SL_DROP_VALUE_RANGE,
	};
	char long_name[SL_EVENT_NAME_MAX + 1], long_key[SL_EVENT_KEY_MAX + 1];
	uint64_t drops[SL_DROP__MAX] = { 0 };
	uint32_t valid = 0;

	memset(long_name, 'n', sizeof(long_name));
	memset(long_key, 'k', sizeof(long_key));
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		uint64_t d[SL_DROP__MAX] = { 0 };
		unsigned int want = reasons[i];

		raw_header(&r, 1);
		if (want == SL_DROP_BIN_SHORT)
			r.n = 19;
		else if (want == SL_DROP_BIN_BAD_MAGIC)
			r.b[0] = 's';
		else if (want == SL_DROP_BIN_BAD_VERSION)
			r.b[3] = 0;
		else if (want == SL_DROP_BIN_TRUNCATED)
			raw_u8(&r, 12);
		else if (want == SL_DROP_BIN_BAD_LENGTH)
			raw_le(&r, 11, 2);
		else if (want == SL_DROP_BIN_COUNT_MISMATCH) {
			r.b[6] = 0;
			raw_u8(&r, 0);
		}
		if (r.n != SL_BIN_HEADER_LEN || want == SL_DROP_BIN_BAD_MAGIC ||
		    want == SL_DROP_BIN_BAD_VERSION)
			goto parse;
		raw_event(&r, want == SL_DROP_NAME_TOO_LONG ? long_name : "",
			  want == SL_DROP_NAME_TOO_LONG ? SL_EVENT_NAME_MAX + 1 : 0,
			  want == SL_DROP_TOO_MANY_FIELDS ? SL_EVENT_FIELDS_MAX + 1 : 2);
		if (want == SL_DROP_FIELD_KEY_TOO_LONG)
			raw_key(&r, long_key, SL_EVENT_KEY_MAX + 1, SL_BIN_T_NULL);
		else if (want == SL_DROP_BAD_UTF8)
			raw_key(&r, "\x80", 1, SL_BIN_T_NULL);
		else if (want == SL_DROP_BIN_BAD_FIELD)
			raw_key(&r, "a", 1, 9);
		else
			raw_key(&r, "a", 1, SL_BIN_T_NULL);
		if (want == SL_DROP_DUPLICATE_KEY)
			raw_key(&r, "a", 1, SL_BIN_T_NULL);
		else
			raw_key(&r, "b", 1, SL_BIN_T_F64);
		/* A NaN, or the largest double: the second field's reason. */
		if (want != SL_DROP_DUPLICATE_KEY)
			raw_le(&r, want == SL_DROP_BAD_VALUE ? 0x7ff0000000000001ULL :
							       0x7fefffffffffffffULL,
			       8);
		raw_event_end(&r, 0);
parse:
		SL_ASSERT_EQ(sl_bin_parse_datagram(r.b, r.n, d, count_cb, &valid, NULL), 1);
		if (d[want] != 1 || drops_sum(d) != 1)
			SL_FAILF("case %zu (%s) counted otherwise", i, sl_drop_reason_name(want));
		drops[want]++;
	}
	SL_ASSERT_EQ(valid, 0);
	for (unsigned int rr = 0; rr < SL_DROP__MAX; rr++)
		SL_ASSERT(drops[rr] <= 1);
	SL_ASSERT_EQ(drops_sum(drops), sizeof(reasons) / sizeof(reasons[0]));
	return SL_TEST_PASS;
}

SL_TEST(random_garbage)
{
	static uint8_t buf[2048];
	uint64_t seed = 7;

	for (int iter = 0; iter < 50000; iter++) {
		uint64_t drops[SL_DROP__MAX] = { 0 };
		uint32_t valid = 0, len = rng_below(&seed, sizeof(buf)), counted, announced;

		for (uint32_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(rng_below(&seed, 4) ? rng_below(&seed, 16) :
								  rng_next(&seed));
		/* Mostly a valid header, so the event parser gets the garbage. */
		if (len >= SL_BIN_HEADER_LEN && rng_below(&seed, 8)) {
			memcpy(buf, "SLB\x01\x00\x00", 6);
			buf[7] = 0;
		}
		counted = sl_bin_parse_datagram(buf, len, drops, count_cb, &valid, NULL);
		SL_ASSERT_EQ(counted, valid + drops_sum(drops));
		announced = len >= SL_BIN_HEADER_LEN && memcmp(buf, "SLB\x01\x00\x00", 6) == 0 ?
				    (uint32_t)(buf[6] | buf[7] << 8) :
				    1;
		SL_ASSERT(counted == announced || counted == announced + 1);
	}
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
