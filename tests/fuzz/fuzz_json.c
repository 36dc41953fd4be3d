/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * libFuzzer target for the JSON lines parser.
 *
 * The input is copied to a heap block of exactly its size, so ASan reports any
 * read past the datagram. Beyond memory safety it checks the parser's
 * contract on every line:
 * - every line is counted once, valid or with a JSON-parser reason, and
 *   sl_json_parse_datagram() counts the same;
 * - every span lies in the datagram or in the event's scratch, is within its
 *   limit and is valid UTF-8; a span in the datagram holds no '"' or '\'
 *   (escaped strings are unescaped into scratch); keys are unique;
 * - numbers are finite and in range, exact micro-units agree with the double;
 * - the event written back as JSON parses to the same event, and so does its
 *   binary encoding;
 * - jansson, an independent RFC 8259 parser, accepts every line we accept
 *   with the same values, and rejects every line we reject for syntax,
 *   UTF-8 or a duplicate key.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <sluice/common.h>

#include "binfmt.h"
#include "event.h"
#include "json.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c))                                                              \
			__builtin_trap();                                              \
	} while (0)

static bool
span_in(struct sl_span sp, const uint8_t *lo, const uint8_t *hi)
{
	return sp.p >= lo && sp.p <= hi && sp.len <= (uint64_t)(hi - sp.p);
}

/* In the line (then free of '"' and '\') or in the scratch; bounded; UTF-8. */
static void
check_span(const struct sl_event *ev, struct sl_span sp, const uint8_t *line, uint32_t len,
	   uint32_t max)
{
	CHECK(sp.p != NULL);
	CHECK(sp.len <= max);
	CHECK(sl_utf8_valid(sp.p, sp.len));
	/* An empty span may point anywhere (a static empty string), never at NULL. */
	if (sp.len == 0 || span_in(sp, ev->scratch, ev->scratch + ev->scratch_used))
		return;
	CHECK(span_in(sp, line, line + len));
	for (uint32_t i = 0; i < sp.len; i++)
		CHECK(sp.p[i] != '"' && sp.p[i] != '\\');
}

static void
check_event(const struct sl_event *ev, const uint8_t *line, uint32_t len)
{
	CHECK(ev->scratch_used <= SL_EVENT_SCRATCH);
	check_span(ev, ev->name, line, len, SL_EVENT_NAME_MAX);
	CHECK(ev->ts_ns == 0 || ev->ts_ns >= SL_JSON_TS_NS_MIN ||
	      (ev->ts_ns % 1000000 == 0 && ev->ts_ns / 1000000 < SL_JSON_TS_MS_LIMIT));
	CHECK(ev->n_fields <= SL_EVENT_FIELDS_MAX);
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		check_span(ev, f->key, line, len, SL_EVENT_KEY_MAX);
		CHECK(sl_event_field_find(ev, f->key.p, f->key.len) == f);
		CHECK(!(f->key.len == 5 && memcmp(f->key.p, "event", 5) == 0));
		CHECK(!(f->key.len == 2 && memcmp(f->key.p, "ts", 2) == 0));
		CHECK(f->kind < SL_FIELD__MAX);
		if (f->kind == SL_FIELD_STR)
			check_span(ev, f->str, line, len, SL_EVENT_STR_MAX);
		if (f->kind != SL_FIELD_NUM)
			continue;
		CHECK(isfinite(f->num) && fabs(f->num) <= SL_VALUE_MAX);
		CHECK(f->num_exact || f->num_micro == 0);
		CHECK(!f->num_exact || llabs(f->num_micro) >= (1LL << 53) ||
		      (double)f->num_micro / 1e6 == f->num);
	}
}

static bool
span_same(struct sl_span a, struct sl_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Same event; numbers compared by value (-0 == 0), exactness only if @p exactness. */
static void
check_same(const struct sl_event *a, const struct sl_event *b, bool exactness)
{
	CHECK(span_same(a->name, b->name));
	CHECK(a->ts_ns == b->ts_ns);
	CHECK(a->n_fields == b->n_fields);
	for (uint32_t i = 0; i < a->n_fields; i++) {
		const struct sl_event_field *x = &a->fields[i], *y = &b->fields[i];

		CHECK(span_same(x->key, y->key));
		CHECK(x->kind == y->kind);
		if (x->kind == SL_FIELD_STR)
			CHECK(span_same(x->str, y->str));
		if (x->kind == SL_FIELD_BOOL)
			CHECK(x->b == y->b);
		if (x->kind != SL_FIELD_NUM)
			continue;
		CHECK(x->num == y->num);
		CHECK(!exactness || (x->num_exact == y->num_exact && x->num_micro == y->num_micro));
		CHECK(!x->num_exact || (y->num_exact && x->num_micro == y->num_micro));
	}
}

static size_t
put_string(char *out, size_t k, struct sl_span s)
{
	out[k++] = '"';
	for (uint32_t i = 0; i < s.len; i++) {
		uint8_t b = s.p[i];

		if (b < 0x20 || b == '"' || b == '\\')
			k += (size_t)sprintf(out + k, "\\u%04x", b);
		else
			out[k++] = (char)b;
	}
	out[k++] = '"';
	return k;
}

/*
 * The event as a JSON line. Exact numbers are written as micro-units with an
 * exponent, so they keep their exactness; others with 17 digits, which give
 * back the same double (exactness may change: 1e-400 is exactly 0).
 */
static size_t
write_json(const struct sl_event *ev, char *out)
{
	size_t k = (size_t)sprintf(out, "{\"event\":");

	k = put_string(out, k, ev->name);
	/* Below SL_JSON_TS_NS_MIN the time came in ms, and must go back in ms. */
	if (ev->ts_ns >= SL_JSON_TS_NS_MIN)
		k += (size_t)sprintf(out + k, ",\"ts\":%llu", (unsigned long long)ev->ts_ns);
	else if (ev->ts_ns != 0)
		k += (size_t)sprintf(out + k, ",\"ts\":%llu",
				     (unsigned long long)(ev->ts_ns / 1000000));
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		out[k++] = ',';
		k = put_string(out, k, f->key);
		out[k++] = ':';
		if (f->kind == SL_FIELD_STR)
			k = put_string(out, k, f->str);
		else if (f->kind == SL_FIELD_NUM && f->num_exact)
			k += (size_t)sprintf(out + k, "%llde-6", (long long)f->num_micro);
		else if (f->kind == SL_FIELD_NUM)
			k += (size_t)sprintf(out + k, "%.17g", f->num);
		else if (f->kind == SL_FIELD_BOOL)
			k += (size_t)sprintf(out + k, "%s", f->b ? "true" : "false");
		else
			k += (size_t)sprintf(out + k, "null");
	}
	out[k++] = '}';
	return k;
}

static bool
jansson_limit(const json_error_t *err)
{
	return strstr(err->text, "NUL byte in object key") != NULL ||
	       strstr(err->text, "too big") != NULL;
}

static void
check_jansson(const struct sl_event *ev, const json_t *obj)
{
	const json_t *v;
	size_t expect = ev->n_fields;

	CHECK(json_is_object(obj));
	v = json_object_getn(obj, "event", 5);
	if (v != NULL) {
		CHECK(json_is_string(v));
		CHECK(ev->name.len == json_string_length(v) &&
		      memcmp(ev->name.p, json_string_value(v), ev->name.len) == 0);
		expect++;
	}
	if (json_object_getn(obj, "ts", 2) != NULL)
		expect++;
	CHECK(json_object_size(obj) == expect);
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		v = json_object_getn(obj, (const char *)f->key.p, f->key.len);
		CHECK(v != NULL);
		if (f->kind == SL_FIELD_STR)
			CHECK(json_is_string(v) && f->str.len == json_string_length(v) &&
			      memcmp(f->str.p, json_string_value(v), f->str.len) == 0);
		else if (f->kind == SL_FIELD_NUM)
			CHECK(json_is_number(v) && f->num == json_number_value(v));
		else if (f->kind == SL_FIELD_BOOL)
			CHECK(json_is_boolean(v) && f->b == json_is_true(v));
		else
			CHECK(json_is_null(v));
	}
}

static bool
json_reason(unsigned int r)
{
	return r == SL_DROP_EMPTY_LINE || r == SL_DROP_LINE_TOO_LONG ||
	       (r >= SL_DROP_JSON_SYNTAX && r <= SL_DROP_BAD_UTF8) || r == SL_DROP_BAD_NAME ||
	       r == SL_DROP_NAME_TOO_LONG || r == SL_DROP_BAD_VALUE || r == SL_DROP_VALUE_RANGE ||
	       r == SL_DROP_BAD_TIMESTAMP;
}

static void
count_cb(const struct sl_event *ev, void *arg)
{
	(void)ev;
	(*(uint32_t *)arg)++;
}

static struct sl_event ev, ev2;
static char text[4 * 4096 + 64 * 1024];
static uint8_t bin[SL_BIN_HEADER_LEN + SL_BIN_EVENT_MAX];

static void
check_line(const uint8_t *line, uint32_t len, unsigned int rc)
{
	struct sl_bin_enc enc;
	struct sl_bin_header h;
	json_error_t err;
	json_t *obj;
	uint32_t off, n;
	size_t k;

	/* jansson on huge inputs only slows the fuzzer down: stay near SL_LINE_MAX. */
	obj = NULL;
	if (len <= SL_LINE_MAX + 64)
		obj = json_loadb((const char *)line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
				 &err);
	if (rc != SL_DROP__MAX) {
		CHECK(json_reason(rc));
		/* jansson reads a raw NUL byte between tokens as nothing: skip those lines. */
		if ((rc == SL_DROP_JSON_SYNTAX || rc == SL_DROP_BAD_UTF8 ||
		     rc == SL_DROP_DUPLICATE_KEY || rc == SL_DROP_EMPTY_LINE) &&
		    memchr(line, 0, len) == NULL)
			CHECK(obj == NULL || !json_is_object(obj));
		json_decref(obj);
		return;
	}
	check_event(&ev, line, len);
	CHECK(obj != NULL || jansson_limit(&err));
	if (obj != NULL)
		check_jansson(&ev, obj);
	json_decref(obj);

	/* Written back as JSON: the same event. */
	k = write_json(&ev, text);
	CHECK(k <= sizeof(text));
	if (k <= SL_LINE_MAX) {
		unsigned int rc2 = sl_json_parse_line((const uint8_t *)text, (uint32_t)k, &ev2);

		/* Escaping every control byte may need more scratch than the input did. */
		CHECK(rc2 == SL_DROP__MAX || rc2 == SL_DROP_JSON_ESCAPE_OVERFLOW);
		if (rc2 == SL_DROP__MAX)
			check_same(&ev, &ev2, false);
	}

	/* Through the binary format: the same event, exactness included. */
	n = sl_bin_event_size(&ev);
	CHECK(n >= SL_BIN_EVENT_MIN && n <= SL_BIN_EVENT_MAX);
	CHECK(sl_bin_encode_begin(&enc, bin, sizeof(bin), 1, 2) == 0);
	CHECK(sl_bin_encode_event(&enc, &ev) == 0);
	CHECK(sl_bin_encode_end(&enc) == SL_BIN_HEADER_LEN + n);
	CHECK(sl_bin_parse_header(bin, enc.len, &h, &off) == SL_DROP__MAX);
	CHECK(sl_bin_next_event(bin, enc.len, &off, &ev2) == SL_DROP__MAX);
	CHECK(off == enc.len);
	check_same(&ev, &ev2, true);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t drops[SL_DROP__MAX] = { 0 }, sum = 0;
	uint32_t off = 0, line_len, lines = 0, valid = 0, valid2 = 0;
	const uint8_t *line;
	uint8_t *buf;

	if (size > UINT32_MAX)
		return 0;
	/* Exactly size bytes, so ASan flags a read of buf[size]. */
	buf = malloc(size);
	if (buf == NULL && size > 0)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);

	while (sl_statsd_next_line(buf, (uint32_t)size, &off, &line, &line_len)) {
		unsigned int rc = sl_json_parse_line(line, line_len, &ev);

		lines++;
		valid += rc == SL_DROP__MAX;
		check_line(line, line_len, rc);
	}
	CHECK(sl_json_parse_datagram(buf, (uint32_t)size, drops, count_cb, &valid2) == lines);
	for (unsigned int r = 0; r < SL_DROP__MAX; r++) {
		CHECK(drops[r] == 0 || json_reason(r));
		sum += drops[r];
	}
	CHECK(valid2 == valid && lines == valid + sum);
	free(buf);
	return 0;
}
