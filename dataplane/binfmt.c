/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * sluice binary event format, version 1 (layout in binfmt.h and
 * docs/wire-format.md).
 *
 * The parser reads through explicit bounds: an event's length is checked
 * against the datagram once, and from then on every read inside the event is
 * checked against the event's end (q < e), so a lying length inside an event
 * costs only that event. Integers are assembled byte by byte (little-endian
 * whatever the host) and nothing is allocated or copied.
 *
 * The encoder checks an event with the parser's rules before writing a byte
 * of it, so whatever it writes parses back to the same event.
 */

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sluice/common.h>

#include "binfmt.h"
#include "event.h"
#include "parse.h"

/* (double)micro / 1e6 is correctly rounded when both operands are exact doubles
 * and the division is rounded once (not on x87: see parse.c). */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define MICRO_FAST_OK 1
#else
#define MICRO_FAST_OK 0
#endif
#define MICRO_FAST_MAX (1LL << 53)

_Static_assert(SL_BIN_EVENT_MAX <= UINT16_MAX, "an event length must fit its u16");

static inline uint16_t
get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static inline void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * The double of micro * 1e-6, correctly rounded (the bits strtod() gives for
 * the decimal), so an exact value reads the same whichever format carried it.
 * Beyond 2^53 micro-units the division would round twice: the decimal text
 * goes through the shared converter instead.
 */
static double
micro_to_double(int64_t micro)
{
	uint8_t text[24], digits[20];
	uint64_t u = micro < 0 ? -(uint64_t)micro : (uint64_t)micro;
	uint32_t k = 0, nd = 0;
	int64_t m;
	double v;
	bool exact;

	if (MICRO_FAST_OK && micro >= -MICRO_FAST_MAX && micro <= MICRO_FAST_MAX)
		return (double)micro / 1e6;
	do {
		digits[nd++] = (uint8_t)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (micro < 0)
		text[k++] = '-';
	while (nd > 0)
		text[k++] = digits[--nd];
	memcpy(text + k, "e-6", 3);
	k += 3;
	if (!sl_num_parse(text, k, &v, &m, &exact))
		return NAN; /* unreachable: the text is well formed */
	return v;
}

/* Field decoders get q just past the type byte and advance it past the payload. */
typedef unsigned int (*field_dec_fn)(const uint8_t **q, const uint8_t *e,
				     struct sl_event_field *f);

static unsigned int
dec_str(const uint8_t **q, const uint8_t *e, struct sl_event_field *f)
{
	const uint8_t *p = *q;
	uint32_t n;

	if (p >= e)
		return SL_DROP_BIN_TRUNCATED;
	n = *p++;
	if (n > (uint32_t)(e - p))
		return SL_DROP_BIN_TRUNCATED;
	if (!sl_utf8_valid(p, n))
		return SL_DROP_BAD_UTF8;
	f->kind = SL_FIELD_STR;
	f->str = (struct sl_span){ p, n };
	*q = p + n;
	return SL_DROP__MAX;
}

static unsigned int
dec_f64(const uint8_t **q, const uint8_t *e, struct sl_event_field *f)
{
	uint64_t bits;
	double v;

	if (e - *q < 8)
		return SL_DROP_BIN_TRUNCATED;
	bits = get_le64(*q);
	memcpy(&v, &bits, sizeof(v));
	if (!isfinite(v))
		return SL_DROP_BAD_VALUE;
	if (!(v >= -SL_VALUE_MAX && v <= SL_VALUE_MAX))
		return SL_DROP_VALUE_RANGE;
	f->kind = SL_FIELD_NUM;
	f->num = v;
	*q += 8;
	return SL_DROP__MAX;
}

static unsigned int
dec_micro(const uint8_t **q, const uint8_t *e, struct sl_event_field *f)
{
	int64_t m;

	if (e - *q < 8)
		return SL_DROP_BIN_TRUNCATED;
	m = (int64_t)get_le64(*q);
	/* Text formats cannot produce it (|micro| <= INT64_MAX there): keep one range. */
	if (m == INT64_MIN)
		return SL_DROP_VALUE_RANGE;
	f->kind = SL_FIELD_NUM;
	f->num = micro_to_double(m);
	f->num_micro = m;
	f->num_exact = true;
	*q += 8;
	return SL_DROP__MAX;
}

static unsigned int
dec_bool(const uint8_t **q, const uint8_t *e, struct sl_event_field *f)
{
	if (*q >= e)
		return SL_DROP_BIN_TRUNCATED;
	if (**q > 1)
		return SL_DROP_BIN_BAD_FIELD;
	f->kind = SL_FIELD_BOOL;
	f->b = **q == 1;
	*q += 1;
	return SL_DROP__MAX;
}

static unsigned int
dec_null(const uint8_t **q, const uint8_t *e, struct sl_event_field *f)
{
	(void)q;
	(void)e;
	f->kind = SL_FIELD_NULL;
	return SL_DROP__MAX;
}

/* Wire type -> decoder; a type without one is SL_DROP_BIN_BAD_FIELD. */
static const field_dec_fn field_dec[SL_BIN_T__MAX] = {
	[SL_BIN_T_STR] = dec_str,
	[SL_BIN_T_F64] = dec_f64,
	[SL_BIN_T_MICRO] = dec_micro,
	[SL_BIN_T_BOOL] = dec_bool,
	[SL_BIN_T_NULL] = dec_null,
};

unsigned int
sl_bin_parse_header(const uint8_t *buf, uint32_t len, struct sl_bin_header *h, uint32_t *ret_off)
{
	uint32_t n = len < 3 ? len : 3;

	/* Magic and version first: a later version may have another header length. */
	if (n > 0 && memcmp(buf, SL_BIN_MAGIC, n) != 0)
		return SL_DROP_BIN_BAD_MAGIC;
	if (len > 3 && buf[3] != SL_BIN_VERSION)
		return SL_DROP_BIN_BAD_VERSION;
	if (len < SL_BIN_HEADER_LEN)
		return SL_DROP_BIN_SHORT;
	if (get_le16(buf + 4) != 0)
		return SL_DROP_BIN_BAD_VERSION;
	h->version = buf[3];
	h->flags = 0;
	h->count = get_le16(buf + 6);
	h->producer = get_le32(buf + 8);
	h->seq = get_le64(buf + 12);
	*ret_off = SL_BIN_HEADER_LEN;
	return SL_DROP__MAX;
}

/* The key (length byte at *q) of field @p i: bounds, limits, UTF-8, uniqueness. */
static unsigned int
dec_key(const uint8_t **q, const uint8_t *e, const struct sl_event *ev, struct sl_span *ret)
{
	const uint8_t *p = *q;
	uint32_t n;

	if (p >= e)
		return SL_DROP_BIN_TRUNCATED;
	n = *p++;
	if (n > (uint32_t)(e - p))
		return SL_DROP_BIN_TRUNCATED;
	if (n > SL_EVENT_KEY_MAX)
		return SL_DROP_FIELD_KEY_TOO_LONG;
	if (!sl_utf8_valid(p, n))
		return SL_DROP_BAD_UTF8;
	if (sl_event_field_find(ev, p, n) != NULL)
		return SL_DROP_DUPLICATE_KEY;
	*ret = (struct sl_span){ p, n };
	*q = p + n;
	return SL_DROP__MAX;
}

unsigned int
sl_bin_next_event(const uint8_t *buf, uint32_t len, uint32_t *off, struct sl_event *ev)
{
	const uint8_t *q, *e;
	uint32_t elen, n, nf;
	unsigned int rc;

	if (*off >= len || len - *off < 2) {
		*off = len;
		return SL_DROP_BIN_TRUNCATED;
	}
	q = buf + *off;
	elen = get_le16(q);
	if (elen < SL_BIN_EVENT_MIN) {
		*off = len;
		return SL_DROP_BIN_BAD_LENGTH;
	}
	if (elen > len - *off) {
		*off = len;
		return SL_DROP_BIN_TRUNCATED;
	}
	/* From here on the framing holds: the next event starts after this one. */
	*off += elen;
	e = q + elen;
	q += 2;

	ev->ts_ns = get_le64(q);
	q += 8;
	n = *q++;
	if (n > (uint32_t)(e - q))
		return SL_DROP_BIN_TRUNCATED;
	if (n > SL_EVENT_NAME_MAX)
		return SL_DROP_NAME_TOO_LONG;
	if (!sl_utf8_valid(q, n))
		return SL_DROP_BAD_UTF8;
	ev->name = (struct sl_span){ q, n };
	ev->tags = 0;
	ev->raw = (struct sl_span){ q, 0 }; /* binary events have no text line */
	ev->n_fields = 0;
	ev->scratch_used = 0;
	q += n;
	if (q >= e)
		return SL_DROP_BIN_TRUNCATED;
	nf = *q++;
	if (nf > SL_EVENT_FIELDS_MAX)
		return SL_DROP_TOO_MANY_FIELDS;
	for (uint32_t i = 0; i < nf; i++) {
		struct sl_event_field *f = &ev->fields[i];
		struct sl_span key;
		uint8_t type;

		rc = dec_key(&q, e, ev, &key);
		if (rc != SL_DROP__MAX)
			return rc;
		if (q >= e)
			return SL_DROP_BIN_TRUNCATED;
		type = *q++;
		if (type >= SL_BIN_T__MAX || field_dec[type] == NULL)
			return SL_DROP_BIN_BAD_FIELD;
		f->str = (struct sl_span){ key.p, 0 };
		f->num = 0.0;
		f->num_micro = 0;
		f->num_exact = false;
		f->b = false;
		rc = field_dec[type](&q, e, f);
		if (rc != SL_DROP__MAX)
			return rc;
		f->key = key;
		ev->n_fields++;
	}
	return q == e ? SL_DROP__MAX : SL_DROP_BIN_BAD_LENGTH;
}

uint32_t
sl_bin_parse_datagram(const uint8_t *buf, uint32_t len, uint64_t drops[SL_DROP__MAX],
		      sl_event_fn fn, void *arg, struct sl_bin_header *ret_h)
{
	struct sl_bin_header h;
	struct sl_event ev;
	uint32_t off, i, n;
	unsigned int rc;

	rc = sl_bin_parse_header(buf, len, &h, &off);
	if (rc != SL_DROP__MAX) {
		drops[rc]++;
		return 1;
	}
	/* off < len bounds the loop by the bytes, not by the announced count. */
	for (i = 0; i < h.count && off < len; i++) {
		rc = sl_bin_next_event(buf, len, &off, &ev);
		if (rc == SL_DROP__MAX)
			fn(&ev, arg);
		else
			drops[rc]++;
	}
	/* Announced, never seen: the datagram ended early or its framing was lost. */
	drops[SL_DROP_BIN_TRUNCATED] += h.count - i;
	n = h.count;
	if (off < len) {
		drops[SL_DROP_BIN_COUNT_MISMATCH]++;
		n++;
	}
	if (ret_h != NULL)
		*ret_h = h;
	return n;
}

int
sl_bin_encode_begin(struct sl_bin_enc *enc, uint8_t *buf, uint32_t cap, uint32_t producer,
		    uint64_t seq)
{
	if (cap < SL_BIN_HEADER_LEN)
		return -ENOSPC;
	memcpy(buf, SL_BIN_MAGIC, 3);
	buf[3] = SL_BIN_VERSION;
	put_le16(buf + 4, 0);
	put_le16(buf + 6, 0);
	put_le32(buf + 8, producer);
	put_le64(buf + 12, seq);
	enc->buf = buf;
	enc->cap = cap;
	enc->len = SL_BIN_HEADER_LEN;
	enc->count = 0;
	return 0;
}

/* Wire size of one field's value (type byte included), 0 when the parser would reject it. */
static uint32_t
field_size(const struct sl_event_field *f)
{
	if (f->kind == SL_FIELD_STR)
		return f->str.len <= SL_EVENT_STR_MAX && sl_utf8_valid(f->str.p, f->str.len) ?
			       2 + f->str.len :
			       0;
	if (f->kind == SL_FIELD_NUM && f->num_exact)
		return f->num_micro != INT64_MIN ? 1 + 8 : 0;
	if (f->kind == SL_FIELD_NUM)
		return isfinite(f->num) && f->num >= -SL_VALUE_MAX && f->num <= SL_VALUE_MAX ?
			       1 + 8 :
			       0;
	if (f->kind == SL_FIELD_BOOL)
		return 1 + 1;
	if (f->kind == SL_FIELD_NULL)
		return 1;
	return 0;
}

uint32_t
sl_bin_event_size(const struct sl_event *ev)
{
	uint32_t size = SL_BIN_EVENT_MIN + ev->name.len, fs;

	if (ev->name.len > SL_EVENT_NAME_MAX || !sl_utf8_valid(ev->name.p, ev->name.len) ||
	    ev->n_fields > SL_EVENT_FIELDS_MAX)
		return 0;
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		if (f->key.len > SL_EVENT_KEY_MAX || !sl_utf8_valid(f->key.p, f->key.len))
			return 0;
		for (uint32_t j = 0; j < i; j++)
			if (ev->fields[j].key.len == f->key.len &&
			    (f->key.len == 0 ||
			     memcmp(ev->fields[j].key.p, f->key.p, f->key.len) == 0))
				return 0;
		fs = field_size(f);
		if (fs == 0)
			return 0;
		size += 1 + f->key.len + fs;
	}
	return size;
}

int
sl_bin_encode_event(struct sl_bin_enc *enc, const struct sl_event *ev)
{
	uint32_t size = sl_bin_event_size(ev);
	uint8_t *p;

	if (size == 0)
		return -EINVAL;
	if (enc->count == UINT16_MAX)
		return -EOVERFLOW;
	if (size > enc->cap - enc->len)
		return -ENOSPC;
	p = enc->buf + enc->len;
	put_le16(p, (uint16_t)size);
	put_le64(p + 2, ev->ts_ns);
	p += 10;
	*p++ = (uint8_t)ev->name.len;
	if (ev->name.len > 0)
		memcpy(p, ev->name.p, ev->name.len);
	p += ev->name.len;
	*p++ = (uint8_t)ev->n_fields;
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];
		uint64_t bits;

		*p++ = (uint8_t)f->key.len;
		if (f->key.len > 0)
			memcpy(p, f->key.p, f->key.len);
		p += f->key.len;
		if (f->kind == SL_FIELD_STR) {
			*p++ = SL_BIN_T_STR;
			*p++ = (uint8_t)f->str.len;
			if (f->str.len > 0)
				memcpy(p, f->str.p, f->str.len);
			p += f->str.len;
		} else if (f->kind == SL_FIELD_NUM && f->num_exact) {
			*p++ = SL_BIN_T_MICRO;
			put_le64(p, (uint64_t)f->num_micro);
			p += 8;
		} else if (f->kind == SL_FIELD_NUM) {
			*p++ = SL_BIN_T_F64;
			memcpy(&bits, &f->num, sizeof(bits));
			put_le64(p, bits);
			p += 8;
		} else if (f->kind == SL_FIELD_BOOL) {
			*p++ = SL_BIN_T_BOOL;
			*p++ = f->b ? 1 : 0;
		} else {
			*p++ = SL_BIN_T_NULL;
		}
	}
	enc->len += size;
	enc->count++;
	return 0;
}

uint32_t
sl_bin_encode_end(struct sl_bin_enc *enc)
{
	put_le16(enc->buf + 6, enc->count);
	return enc->len;
}
