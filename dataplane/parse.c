/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * statsd / DogStatsD line parser (grammar in parse.h).
 *
 * Every function here works on an explicit (pointer, length) span of the
 * caller's buffer: nothing assumes a NUL terminator, nothing is allocated and
 * no byte outside [line, line+len) is read. The only libc calls are memchr(),
 * which takes a length, and strtod() on a NUL-terminated copy of at most 63
 * bytes that this file builds itself (the slow path of number conversion).
 *
 * Numbers are converted in two steps. num_scan() checks the strict syntax and
 * reduces the text to its significant digits and a power of ten, dropping
 * leading and trailing zeros, so "23.50" becomes 235e-1. From there,
 * num_to_double() gives the correctly rounded double (the same as strtod() on
 * the original text) and num_to_micro() the exact value * 1e6 when there is one.
 */

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/common.h>

#include "parse.h"

/*
 * Most significant digits a number may have once leading and trailing zeros
 * are dropped. More is rejected: no statsd client sends that many, and the
 * bound is what lets the slow path hand strtod() the whole number (sign, digits,
 * 'e', signed exponent and NUL fit in NUM_BUF) and so stay correctly rounded.
 */
#define NUM_DIGITS_MAX 56
#define NUM_BUF 63
/* Sign, digits, 'e', exponent sign, 3 exponent digits (see NUM_MAG_*), NUL. */
_Static_assert(1 + NUM_DIGITS_MAX + 1 + 1 + 3 + 1 <= NUM_BUF, "slow-path copy too small");
/*
 * The written exponent saturates here. A line is at most SL_LINE_MAX bytes, so
 * the digits move the exponent by less than that: past the clamp the number is
 * either 0 or out of range whatever the exact exponent is.
 */
#define NUM_EXP_CLAMP 1000000
/* Magnitudes (power of ten of the leading digit) outside which no double is needed. */
#define NUM_MAG_OVERFLOW 309
#define NUM_MAG_UNDERFLOW (-400)
/* Exact powers of ten in a double: 10^22 is the largest. */
#define NUM_FAST_EXP 22
#define NUM_FAST_DIGITS 15
/* The fast path needs each operation rounded to double once (not on x87). */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define NUM_FAST_OK 1
#else
#define NUM_FAST_OK 0
#endif
#define MICRO 1000000

/* A decimal number reduced to digits * 10^exp10. */
struct num {
	uint8_t dig[NUM_DIGITS_MAX]; /* 0..9, first and last non-zero; n_dig == 0 is zero */
	uint32_t n_dig;
	int32_t exp10;
	bool neg;
};

static const double pow10_exact[NUM_FAST_EXP + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline bool
is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

/* Printable ASCII except space, '|', '@' and '#' (':' ends the name). */
static inline bool
name_byte_ok(uint8_t b)
{
	return b > ' ' && b < 0x7f && b != '|' && b != '@' && b != '#';
}

/* Printable ASCII, space included. Used for tags, set members and container ids. */
static inline bool
text_byte_ok(uint8_t b)
{
	return b >= ' ' && b < 0x7f;
}

/*
 * Append one digit of the mantissa. Zeros after the last non-zero digit are
 * only counted in *zeros until a non-zero digit shows they are not trailing.
 */
static inline bool
num_push(struct num *n, uint8_t d, uint32_t *zeros)
{
	if (d == 0) {
		if (n->n_dig > 0)
			(*zeros)++;
		return true;
	}
	if (n->n_dig + *zeros + 1 > NUM_DIGITS_MAX)
		return false;
	while (*zeros > 0) {
		n->dig[n->n_dig++] = 0;
		(*zeros)--;
	}
	n->dig[n->n_dig++] = d;
	return true;
}

/*
 * Scan `[+-]digits[.digits][(e|E)[+-]digits]`, the whole span and nothing else.
 * @return false on a syntax error or more than NUM_DIGITS_MAX significant digits.
 */
static bool
num_scan(const uint8_t *p, uint32_t len, struct num *n)
{
	uint32_t i = 0, start, zeros = 0, frac = 0;
	int32_t e = 0;
	bool e_neg = false;

	n->n_dig = 0;
	n->neg = false;
	if (i < len && (p[i] == '+' || p[i] == '-')) {
		n->neg = p[i] == '-';
		i++;
	}
	for (start = i; i < len && is_digit(p[i]); i++)
		if (!num_push(n, p[i] - '0', &zeros))
			return false;
	if (i == start)
		return false;
	if (i < len && p[i] == '.') {
		for (start = ++i; i < len && is_digit(p[i]); i++, frac++)
			if (!num_push(n, p[i] - '0', &zeros))
				return false;
		if (i == start)
			return false;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-')) {
			e_neg = p[i] == '-';
			i++;
		}
		for (start = i; i < len && is_digit(p[i]); i++)
			if (e < NUM_EXP_CLAMP)
				e = e * 10 + (p[i] - '0');
		if (i == start)
			return false;
	}
	if (i != len)
		return false;
	n->exp10 = (e_neg ? -e : e) - (int32_t)frac + (int32_t)zeros;
	return true;
}

/* The correctly rounded double of @p n: the same bits strtod() gives for its text. */
static double
num_to_double(const struct num *n)
{
	char buf[NUM_BUF];
	int32_t mag = (int32_t)n->n_dig - 1 + n->exp10;
	uint32_t k = 0, e;
	uint64_t d = 0;
	double v;
	int saved_errno;

	if (n->n_dig == 0 || mag < NUM_MAG_UNDERFLOW)
		return n->neg ? -0.0 : 0.0;
	if (mag >= NUM_MAG_OVERFLOW)
		return n->neg ? -HUGE_VAL : HUGE_VAL;

	/*
	 * Clinger's fast path: a mantissa of at most 15 digits and a power of ten
	 * of at most 22 are both exact doubles, so one IEEE multiply or divide
	 * rounds once, correctly.
	 */
	if (NUM_FAST_OK && n->n_dig <= NUM_FAST_DIGITS && n->exp10 >= -NUM_FAST_EXP &&
	    n->exp10 <= NUM_FAST_EXP) {
		for (uint32_t i = 0; i < n->n_dig; i++)
			d = d * 10 + n->dig[i];
		v = (double)d;
		if (n->exp10 >= 0)
			v *= pow10_exact[n->exp10];
		else
			v /= pow10_exact[-n->exp10];
		return n->neg ? -v : v;
	}

	/* Slow path: "[-]digits e[-]exp", at most 1 + 56 + 1 + 1 + 3 + 1 = 63 bytes. */
	if (n->neg)
		buf[k++] = '-';
	for (uint32_t i = 0; i < n->n_dig; i++)
		buf[k++] = (char)('0' + n->dig[i]);
	buf[k++] = 'e';
	if (n->exp10 < 0)
		buf[k++] = '-';
	e = n->exp10 < 0 ? (uint32_t)-n->exp10 : (uint32_t)n->exp10;
	if (e >= 100)
		buf[k++] = (char)('0' + e / 100);
	if (e >= 10)
		buf[k++] = (char)('0' + e / 10 % 10);
	buf[k++] = (char)('0' + e % 10);
	buf[k] = '\0';

	/* strtod() may set ERANGE on underflow; this parser does not report through errno. */
	saved_errno = errno;
	v = strtod(buf, NULL);
	errno = saved_errno;
	return v;
}

/*
 * value * 1e6 as an integer, when that is exact (at most 6 decimals once the
 * exponent is applied) and fits in int64_t.
 */
static bool
num_to_micro(const struct num *n, int64_t *ret)
{
	int32_t shift = n->exp10 + 6;
	uint64_t d = 0;

	if (n->n_dig == 0) {
		*ret = 0;
		return true;
	}
	/* The last digit is not zero: a negative shift leaves a fraction of a micro-unit. */
	if (shift < 0 || n->n_dig > 19 || shift > 18)
		return false;
	for (uint32_t i = 0; i < n->n_dig; i++)
		d = d * 10 + n->dig[i];
	for (int32_t i = 0; i < shift; i++) {
		if (d > (uint64_t)INT64_MAX / 10)
			return false;
		d *= 10;
	}
	if (d > (uint64_t)INT64_MAX)
		return false;
	*ret = n->neg ? -(int64_t)d : (int64_t)d;
	return true;
}

bool
sl_num_parse(const uint8_t *p, uint32_t len, double *ret, int64_t *ret_micro, bool *ret_exact)
{
	struct num n;
	int64_t micro = 0;
	bool exact;

	/* num_scan()'s exponent arithmetic relies on the span being at most a line. */
	if (len > SL_LINE_MAX || !num_scan(p, len, &n))
		return false;
	exact = num_to_micro(&n, &micro);
	*ret = num_to_double(&n);
	*ret_micro = exact ? micro : 0;
	*ret_exact = exact;
	return true;
}

static unsigned int
parse_value(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev)
{
	struct num n;
	double v;

	if (!num_scan(p, len, &n))
		return SL_DROP_BAD_VALUE;
	v = num_to_double(&n);
	if (!(v >= -SL_VALUE_MAX && v <= SL_VALUE_MAX))
		return SL_DROP_VALUE_RANGE;
	ev->value = v;
	ev->value_exact = num_to_micro(&n, &ev->value_micro);
	if (!ev->value_exact)
		ev->value_micro = 0;
	return SL_DROP__MAX;
}

/* A set member: 1..SL_MEMBER_MAX printable ASCII bytes (the caller stopped at '|'). */
static unsigned int
parse_member(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev)
{
	if (len == 0)
		return SL_DROP_BAD_VALUE;
	if (len > SL_MEMBER_MAX)
		return SL_DROP_MEMBER_TOO_LONG;
	for (uint32_t i = 0; i < len; i++)
		if (!text_byte_ok(p[i]))
			return SL_DROP_BAD_VALUE;
	ev->member = (struct sl_span){ p, len };
	ev->value = 0.0;
	ev->value_micro = 0;
	ev->value_exact = false;
	return SL_DROP__MAX;
}

/* Field parsers get the bytes after the field's lead byte ('@', '#', 'T', 'c'). */
typedef unsigned int (*field_fn)(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev);

/*
 * '@' rate: a decimal number in [1e-6, 1]. Smaller rates are rejected: value/rate
 * must stay finite and within the exact sum range.
 */
static unsigned int
field_rate(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev)
{
	struct num n;
	double r;

	if (!num_scan(p, len, &n))
		return SL_DROP_BAD_RATE;
	r = num_to_double(&n);
	if (!(r >= 1e-6 && r <= 1.0))
		return SL_DROP_BAD_RATE;
	ev->rate = r;
	ev->rate_exact = num_to_micro(&n, &ev->rate_micro);
	if (!ev->rate_exact)
		ev->rate_micro = 0;
	return SL_DROP__MAX;
}

/* '#' tags: tag { ',' tag }, each 1..SL_TAG_MAX printable ASCII bytes, kept in order. */
static unsigned int
field_tags(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev)
{
	uint32_t start = 0;

	if (len == 0)
		return SL_DROP_BAD_TAGS;
	for (uint32_t i = 0; i <= len; i++) {
		if (i < len && p[i] != ',') {
			if (!text_byte_ok(p[i]))
				return SL_DROP_BAD_TAGS;
			continue;
		}
		if (i == start)
			return SL_DROP_BAD_TAGS;
		if (ev->n_tags >= SL_TAGS_MAX)
			return SL_DROP_TOO_MANY_TAGS;
		if (i - start > SL_TAG_MAX)
			return SL_DROP_TAG_TOO_LONG;
		ev->tags[ev->n_tags++] = (struct sl_span){ p + start, i - start };
		start = i + 1;
	}
	return SL_DROP__MAX;
}

/* 'T' unix seconds: digits only, not 0, and seconds * 1e9 must fit in 64 bits. */
static unsigned int
field_timestamp(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev)
{
	uint64_t s = 0;

	if (len == 0)
		return SL_DROP_BAD_TIMESTAMP;
	for (uint32_t i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return SL_DROP_BAD_TIMESTAMP;
		s = s * 10 + (p[i] - '0');
		if (s > UINT64_MAX / SL_NS_PER_SEC)
			return SL_DROP_BAD_TIMESTAMP;
	}
	if (s == 0)
		return SL_DROP_BAD_TIMESTAMP;
	ev->ts_ns = s * SL_NS_PER_SEC;
	return SL_DROP__MAX;
}

/* 'c:' DogStatsD container id: checked (1+ printable bytes) and ignored. */
static unsigned int
field_container(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev)
{
	(void)ev;
	if (len < 2 || p[0] != ':')
		return SL_DROP_BAD_FIELD;
	for (uint32_t i = 1; i < len; i++)
		if (!text_byte_ok(p[i]))
			return SL_DROP_BAD_FIELD;
	return SL_DROP__MAX;
}

/* Optional fields by lead byte. Each may appear once per line. */
static const struct {
	uint8_t lead;
	field_fn parse;
} fields[] = {
	{ '@', field_rate },
	{ '#', field_tags },
	{ 'T', field_timestamp },
	{ 'c', field_container },
};

static unsigned int
parse_field(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev, uint32_t *seen)
{
	if (len == 0)
		return SL_DROP_BAD_FIELD;
	for (uint32_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i].lead != p[0])
			continue;
		if (*seen & (1u << i))
			return SL_DROP_BAD_FIELD;
		*seen |= 1u << i;
		return fields[i].parse(p + 1, len - 1, ev);
	}
	return SL_DROP_BAD_FIELD;
}

/* Metric type strings, from the shared list in common.h. */
static const struct {
	const char *str;
	uint32_t len;
} types[SL_METRIC__MAX] = {
#define _(e, s, l) [SL_METRIC_##e] = { s, sizeof(s) - 1 },
	SL_METRIC_TYPES(_)
#undef _
};

static unsigned int
parse_type(const uint8_t *p, uint32_t len, struct sl_statsd_event *ev)
{
	for (uint32_t i = 0; i < SL_METRIC__MAX; i++) {
		if (types[i].len == len && memcmp(types[i].str, p, len) == 0) {
			ev->type = (uint8_t)i;
			return SL_DROP__MAX;
		}
	}
	return SL_DROP_BAD_TYPE;
}

/* The span [p, end) up to the next '|' (or end). */
static inline const uint8_t *
next_bar(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *bar = p < end ? memchr(p, '|', (size_t)(end - p)) : NULL;

	return bar != NULL ? bar : end;
}

unsigned int
sl_statsd_parse_line(const uint8_t *line, uint32_t len, struct sl_statsd_event *ev)
{
	const uint8_t *end = line + len, *colon, *val, *bar, *type_end, *f, *f_end;
	uint32_t name_len, seen = 0;
	unsigned int rc;

	if (len == 0)
		return SL_DROP_EMPTY_LINE;
	if (len > SL_LINE_MAX)
		return SL_DROP_LINE_TOO_LONG;

	colon = memchr(line, ':', len);
	if (colon == NULL)
		return SL_DROP_NO_COLON;
	name_len = (uint32_t)(colon - line);
	if (name_len == 0)
		return SL_DROP_BAD_NAME;
	if (name_len > SL_NAME_MAX)
		return SL_DROP_NAME_TOO_LONG;
	for (uint32_t i = 0; i < name_len; i++)
		if (!name_byte_ok(line[i]))
			return SL_DROP_BAD_NAME;

	val = colon + 1;
	bar = next_bar(val, end);
	if (bar == end)
		return SL_DROP_NO_TYPE;
	type_end = next_bar(bar + 1, end);
	rc = parse_type(bar + 1, (uint32_t)(type_end - (bar + 1)), ev);
	if (rc != SL_DROP__MAX)
		return rc;

	ev->name = (struct sl_span){ line, name_len };
	ev->member = (struct sl_span){ NULL, 0 };
	ev->rate = 1.0;
	ev->rate_micro = MICRO;
	ev->rate_exact = true;
	ev->ts_ns = 0;
	ev->n_tags = 0;
	if (ev->type == SL_METRIC_SET)
		rc = parse_member(val, (uint32_t)(bar - val), ev);
	else
		rc = parse_value(val, (uint32_t)(bar - val), ev);
	if (rc != SL_DROP__MAX)
		return rc;

	/* Each field starts after a '|': type_end is either end or such a '|'. */
	for (f = type_end; f < end; f = f_end) {
		f_end = next_bar(f + 1, end);
		rc = parse_field(f + 1, (uint32_t)(f_end - (f + 1)), ev, &seen);
		if (rc != SL_DROP__MAX)
			return rc;
	}
	return SL_DROP__MAX;
}

uint32_t
sl_statsd_parse_datagram(const uint8_t *buf, uint32_t len, uint64_t drops[SL_DROP__MAX],
			 sl_statsd_event_fn fn, void *arg)
{
	struct sl_statsd_event ev;
	const uint8_t *line;
	uint32_t off = 0, line_len, n = 0;
	unsigned int rc;

	while (sl_statsd_next_line(buf, len, &off, &line, &line_len)) {
		n++;
		rc = sl_statsd_parse_line(line, line_len, &ev);
		if (rc == SL_DROP__MAX)
			fn(&ev, arg);
		else
			drops[rc]++;
	}
	return n;
}
