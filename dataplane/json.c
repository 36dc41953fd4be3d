/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * JSON lines parser (rules in json.h and docs/wire-format.md).
 *
 * One pass over the line with a cursor (struct jcur) that never moves past
 * its end; every read checks the cursor first. Nothing is allocated: a
 * string is returned as a span of the line unless it holds an escape, in
 * which case it is decoded into the event's fixed scratch buffer, whose
 * overflow is a counted reject like any other limit. Numbers are checked
 * against the JSON grammar here and converted by sl_num_parse(), so a JSON
 * value and the same statsd value give the same double and micro-units.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sluice/common.h>

#include "event.h"
#include "json.h"
#include "parse.h"

struct jcur {
	const uint8_t *p;
	const uint8_t *end;
};

/* A value before its meaning is known (that depends on the key). */
struct jval {
	uint8_t kind;        /* enum sl_field_kind */
	bool b;
	struct sl_span str;  /* SL_FIELD_STR: unescaped */
	struct sl_span num;  /* SL_FIELD_NUM: the number's text, grammar checked */
};

/* Where a member goes: the two reserved keys, or a field. */
enum key_class {
	KEY_FIELD,
	KEY_EVENT,
	KEY_TS,
};

static const uint8_t empty[1];

/* Simple escapes: the byte after '\' -> the byte it stands for (0: not one). */
static const uint8_t simple_escape[256] = {
	['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
	['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

static const struct {
	const char *text;
	uint32_t len;
	uint8_t kind;
	bool b;
} literals[] = {
	{ "true", 4, SL_FIELD_BOOL, true },
	{ "false", 5, SL_FIELD_BOOL, false },
	{ "null", 4, SL_FIELD_NULL, false },
};

static inline bool
is_ws(uint8_t b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static inline bool
is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

/* A string byte that needs no attention: printable ASCII but '"' and '\\'. */
static inline bool
is_plain(uint8_t b)
{
	return b >= 0x20 && b < 0x80 && b != '"' && b != '\\';
}

static inline void
skip_ws(struct jcur *c)
{
	while (c->p < c->end && is_ws(*c->p))
		c->p++;
}

/* The cursor's byte is @p b: consume it. */
static inline bool
eat(struct jcur *c, uint8_t b)
{
	if (c->p >= c->end || *c->p != b)
		return false;
	c->p++;
	return true;
}

static inline int
hex_val(uint8_t b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	if (b >= 'A' && b <= 'F')
		return b - 'A' + 10;
	return -1;
}

/* Four hex digits at p (the caller checked 4 bytes are there), or -1. */
static int32_t
hex4(const uint8_t *p)
{
	int32_t v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hex_val(p[i]);

		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* UTF-8 of code point @p cp (not a surrogate, <= 0x10FFFF) into out[0..3]. */
static uint32_t
utf8_put(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode the escape at c->p (a '\') into out[0..3] and advance past it.
 * A \u escape of a high surrogate must be followed by a \u escape of a low
 * one; any other surrogate cannot be UTF-8 and is SL_DROP_BAD_UTF8.
 */
static unsigned int
decode_escape(struct jcur *c, uint8_t *out, uint32_t *ret_n)
{
	const uint8_t *p = c->p;
	int32_t cp, lo;

	if (c->end - p < 2)
		return SL_DROP_JSON_SYNTAX;
	if (p[1] != 'u') {
		if (simple_escape[p[1]] == 0)
			return SL_DROP_JSON_SYNTAX;
		out[0] = simple_escape[p[1]];
		*ret_n = 1;
		c->p = p + 2;
		return SL_DROP__MAX;
	}
	if (c->end - p < 6 || (cp = hex4(p + 2)) < 0)
		return SL_DROP_JSON_SYNTAX;
	p += 6;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return SL_DROP_BAD_UTF8;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (c->end - p < 2 || p[0] != '\\' || p[1] != 'u')
			return SL_DROP_BAD_UTF8;
		if (c->end - p < 6 || (lo = hex4(p + 2)) < 0)
			return SL_DROP_JSON_SYNTAX;
		if (lo < 0xdc00 || lo > 0xdfff)
			return SL_DROP_BAD_UTF8;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	}
	*ret_n = utf8_put((uint32_t)cp, out);
	c->p = p;
	return SL_DROP__MAX;
}

/*
 * The string whose opening quote is at c->p, unescaped, at most @p max bytes
 * (more: @p too_long, reported at the byte that passes the limit). Bytes
 * below 0x20 must be escaped; other bytes must be well-formed UTF-8.
 *
 * Fast path: no escape, the result is a span of the line. At the first '\'
 * the bytes so far are copied to the scratch buffer and decoding continues
 * there; the scratch space is claimed only when the string is complete.
 */
static unsigned int
parse_string(struct jcur *c, struct sl_event *ev, uint32_t max, unsigned int too_long,
	     struct sl_span *ret)
{
	const uint8_t *start = c->p + 1, *end = c->end;
	uint32_t n, k, room;
	unsigned int rc;
	uint8_t *out, esc[4];

	c->p = start;
	for (;;) {
		/* A run of plain bytes holds no fault: the limit can be checked after it. */
		while (c->p < end && is_plain(*c->p))
			c->p++;
		if ((uint32_t)(c->p - start) > max)
			return too_long;
		if (c->p == end)
			return SL_DROP_JSON_SYNTAX;
		if (*c->p == '\\')
			break;
		if (*c->p == '"') {
			n = (uint32_t)(c->p - start);
			*ret = (struct sl_span){ n > 0 ? start : empty, n };
			c->p++;
			return SL_DROP__MAX;
		}
		if (*c->p < 0x20)
			return SL_DROP_JSON_SYNTAX;
		k = sl_utf8_seq_len(c->p, (uint32_t)(end - c->p));
		if (k == 0)
			return SL_DROP_BAD_UTF8;
		if ((uint32_t)(c->p - start) + k > max)
			return too_long;
		c->p += k;
	}

	/* Slow path: the prefix (<= max bytes, no escape) goes to scratch first. */
	n = (uint32_t)(c->p - start);
	room = SL_EVENT_SCRATCH - ev->scratch_used;
	if (n > room)
		return SL_DROP_JSON_ESCAPE_OVERFLOW;
	out = ev->scratch + ev->scratch_used;
	memcpy(out, start, n);
	while (c->p < end && *c->p != '"') {
		const uint8_t *src = c->p;

		if (*c->p == '\\') {
			rc = decode_escape(c, esc, &k);
			if (rc != SL_DROP__MAX)
				return rc;
			src = esc;
		} else {
			if (*c->p < 0x20)
				return SL_DROP_JSON_SYNTAX;
			k = *c->p < 0x80 ? 1 : sl_utf8_seq_len(c->p, (uint32_t)(end - c->p));
			if (k == 0)
				return SL_DROP_BAD_UTF8;
			c->p += k;
		}
		if (n + k > max)
			return too_long;
		if (n + k > room)
			return SL_DROP_JSON_ESCAPE_OVERFLOW;
		memcpy(out + n, src, k);
		n += k;
	}
	if (c->p == end)
		return SL_DROP_JSON_SYNTAX;
	c->p++;
	ev->scratch_used += n;
	*ret = (struct sl_span){ n > 0 ? out : empty, n };
	return SL_DROP__MAX;
}

/* Bytes that may appear in a number: its extent, before the grammar is checked. */
static inline bool
num_byte(uint8_t b)
{
	return is_digit(b) || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E';
}

/* RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, the whole span. */
static bool
num_grammar_ok(const uint8_t *p, uint32_t len)
{
	uint32_t i = 0, start;

	if (i < len && p[i] == '-')
		i++;
	if (i < len && p[i] == '0') {
		i++;
	} else {
		for (start = i; i < len && is_digit(p[i]); i++)
			;
		if (i == start)
			return false;
	}
	if (i < len && p[i] == '.') {
		for (start = ++i; i < len && is_digit(p[i]); i++)
			;
		if (i == start)
			return false;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-'))
			i++;
		for (start = i; i < len && is_digit(p[i]); i++)
			;
		if (i == start)
			return false;
	}
	return i == len;
}

/*
 * One value at c->p. A number is only delimited and grammar-checked here
 * (SL_DROP_BAD_VALUE when the run of number bytes is not a JSON number):
 * converting it depends on the key.
 */
static unsigned int
parse_value(struct jcur *c, struct sl_event *ev, uint32_t str_max, unsigned int str_too_long,
	    struct jval *v)
{
	const uint8_t *s = c->p;
	uint32_t avail;

	if (s == c->end)
		return SL_DROP_JSON_SYNTAX;
	if (*s == '"') {
		v->kind = SL_FIELD_STR;
		return parse_string(c, ev, str_max, str_too_long, &v->str);
	}
	if (*s == '{' || *s == '[')
		return SL_DROP_JSON_NESTED;
	if (*s == '-' || is_digit(*s)) {
		while (c->p < c->end && num_byte(*c->p))
			c->p++;
		v->kind = SL_FIELD_NUM;
		v->num = (struct sl_span){ s, (uint32_t)(c->p - s) };
		return num_grammar_ok(v->num.p, v->num.len) ? SL_DROP__MAX : SL_DROP_BAD_VALUE;
	}
	avail = (uint32_t)(c->end - s);
	for (uint32_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
		if (avail >= literals[i].len && memcmp(s, literals[i].text, literals[i].len) == 0) {
			c->p += literals[i].len;
			v->kind = literals[i].kind;
			v->b = literals[i].b;
			return SL_DROP__MAX;
		}
	}
	return SL_DROP_JSON_SYNTAX;
}

/*
 * "ts": digits only (the JSON grammar already excluded leading zeros), not 0;
 * milliseconds below SL_JSON_TS_MS_LIMIT, nanoseconds from SL_JSON_TS_NS_MIN
 * on. The gap between is refused rather than guessed (microseconds? a typo?).
 */
static unsigned int
parse_ts(const struct jval *v, struct sl_event *ev)
{
	uint64_t t = 0;

	if (v->kind != SL_FIELD_NUM)
		return SL_DROP_BAD_TIMESTAMP;
	for (uint32_t i = 0; i < v->num.len; i++) {
		uint8_t d = v->num.p[i];

		if (!is_digit(d))
			return SL_DROP_BAD_TIMESTAMP;
		if (t > (UINT64_MAX - (d - '0')) / 10)
			return SL_DROP_BAD_TIMESTAMP;
		t = t * 10 + (d - '0');
	}
	if (t == 0 || (t >= SL_JSON_TS_MS_LIMIT && t < SL_JSON_TS_NS_MIN))
		return SL_DROP_BAD_TIMESTAMP;
	ev->ts_ns = t < SL_JSON_TS_MS_LIMIT ? t * 1000000 : t;
	return SL_DROP__MAX;
}

static unsigned int
set_field(const struct jval *v, struct sl_event_field *f)
{
	f->kind = v->kind;
	f->str = (struct sl_span){ empty, 0 };
	f->num = 0.0;
	f->num_micro = 0;
	f->num_exact = false;
	f->b = v->kind == SL_FIELD_BOOL && v->b;
	if (v->kind == SL_FIELD_STR)
		f->str = v->str;
	if (v->kind != SL_FIELD_NUM)
		return SL_DROP__MAX;
	if (!sl_num_parse(v->num.p, v->num.len, &f->num, &f->num_micro, &f->num_exact))
		return SL_DROP_BAD_VALUE;
	if (!(f->num >= -SL_VALUE_MAX && f->num <= SL_VALUE_MAX))
		return SL_DROP_VALUE_RANGE;
	return SL_DROP__MAX;
}

static inline bool
span_is(struct sl_span s, const char *lit, uint32_t len)
{
	return s.len == len && memcmp(s.p, lit, len) == 0;
}

/* One "key": value member at c->p. @p seen: the reserved keys met so far (bit per class). */
static unsigned int
parse_member(struct jcur *c, struct sl_event *ev, uint32_t *seen)
{
	struct sl_span key;
	enum key_class cls = KEY_FIELD;
	struct jval v;
	unsigned int rc;

	if (c->p == c->end || *c->p != '"')
		return SL_DROP_JSON_SYNTAX;
	rc = parse_string(c, ev, SL_EVENT_KEY_MAX, SL_DROP_FIELD_KEY_TOO_LONG, &key);
	if (rc != SL_DROP__MAX)
		return rc;
	skip_ws(c);
	if (!eat(c, ':'))
		return SL_DROP_JSON_SYNTAX;
	skip_ws(c);

	if (span_is(key, "event", 5))
		cls = KEY_EVENT;
	else if (span_is(key, "ts", 2))
		cls = KEY_TS;
	if (cls != KEY_FIELD) {
		if (*seen & (1u << cls))
			return SL_DROP_DUPLICATE_KEY;
		*seen |= 1u << cls;
	} else {
		if (sl_event_field_find(ev, key.p, key.len) != NULL)
			return SL_DROP_DUPLICATE_KEY;
		if (ev->n_fields == SL_EVENT_FIELDS_MAX)
			return SL_DROP_TOO_MANY_FIELDS;
	}

	if (cls == KEY_EVENT)
		rc = parse_value(c, ev, SL_EVENT_NAME_MAX, SL_DROP_NAME_TOO_LONG, &v);
	else
		rc = parse_value(c, ev, SL_EVENT_STR_MAX, SL_DROP_STRING_TOO_LONG, &v);
	if (rc != SL_DROP__MAX)
		return rc;

	if (cls == KEY_EVENT) {
		if (v.kind != SL_FIELD_STR)
			return SL_DROP_BAD_NAME;
		ev->name = v.str;
		return SL_DROP__MAX;
	}
	if (cls == KEY_TS)
		return parse_ts(&v, ev);
	rc = set_field(&v, &ev->fields[ev->n_fields]);
	if (rc != SL_DROP__MAX)
		return rc;
	ev->fields[ev->n_fields++].key = key;
	return SL_DROP__MAX;
}

unsigned int
sl_json_parse_line(const uint8_t *line, uint32_t len, struct sl_event *ev)
{
	struct jcur c;
	uint32_t seen = 0;
	unsigned int rc;

	if (len == 0)
		return SL_DROP_EMPTY_LINE;
	if (len > SL_LINE_MAX)
		return SL_DROP_LINE_TOO_LONG;
	c = (struct jcur){ line, line + len };
	skip_ws(&c);
	if (c.p == c.end)
		return SL_DROP_EMPTY_LINE;

	ev->name = (struct sl_span){ empty, 0 };
	ev->ts_ns = 0;
	ev->n_fields = 0;
	ev->scratch_used = 0;
	ev->tags = 0;
	ev->raw = (struct sl_span){ line, len };
	if (!eat(&c, '{'))
		return SL_DROP_JSON_SYNTAX;
	skip_ws(&c);
	if (!eat(&c, '}')) {
		for (;;) {
			rc = parse_member(&c, ev, &seen);
			if (rc != SL_DROP__MAX)
				return rc;
			skip_ws(&c);
			if (eat(&c, '}'))
				break;
			if (!eat(&c, ','))
				return SL_DROP_JSON_SYNTAX;
			skip_ws(&c);
		}
	}
	skip_ws(&c);
	return c.p == c.end ? SL_DROP__MAX : SL_DROP_JSON_SYNTAX;
}

uint32_t
sl_json_parse_datagram(const uint8_t *buf, uint32_t len, uint64_t drops[SL_DROP__MAX],
		       sl_event_fn fn, void *arg)
{
	struct sl_event ev;
	const uint8_t *line;
	uint32_t off = 0, line_len, n = 0;
	unsigned int rc;

	while (sl_statsd_next_line(buf, len, &off, &line, &line_len)) {
		n++;
		rc = sl_json_parse_line(line, line_len, &ev);
		if (rc == SL_DROP__MAX)
			fn(&ev, arg);
		else
			drops[rc]++;
	}
	return n;
}
