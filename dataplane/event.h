/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_EVENT_H
#define SL_DP_EVENT_H

/**
 * @file
 * The generic event: a name, an optional event time and up to
 * SL_EVENT_FIELDS_MAX flat (key, value) fields. The JSON lines parser (json.h)
 * and the sluice binary format parser (binfmt.h) both produce it, the binary
 * encoder consumes it, and views read it (docs/wire-format.md).
 *
 * Ownership: a parser fills a caller-provided struct sl_event and allocates
 * nothing. Every span points either into the parsed buffer (valid as long as
 * that buffer) or into the event's own @c scratch (JSON strings that contained
 * escapes, stored unescaped). Because of the latter, a struct sl_event must
 * not be copied by value if its spans are used afterwards: the copy's spans
 * would still point into the original's scratch.
 *
 * Every string (name, keys, string values) is valid UTF-8, at most its limit
 * below, and may contain any code point, NUL included: spans carry a length.
 * Keys are unique within an event.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sluice/common.h>

#include "parse.h"

/** Most fields in one event (the JSON "event" and "ts" members do not count). */
#define SL_EVENT_FIELDS_MAX 32
/** Longest field key, in bytes (after unescaping). */
#define SL_EVENT_KEY_MAX 64
/** Longest string value, in bytes (after unescaping); the binary format's u8 length. */
#define SL_EVENT_STR_MAX 255
/** Longest event name, in bytes: the same limit as a statsd metric name. */
#define SL_EVENT_NAME_MAX SL_NAME_MAX
/** Bytes per event for unescaped JSON strings (overflow: SL_DROP_JSON_ESCAPE_OVERFLOW). */
#define SL_EVENT_SCRATCH 1024

/** Kind of a field value. */
enum sl_field_kind {
	SL_FIELD_STR,
	SL_FIELD_NUM,
	SL_FIELD_BOOL,
	SL_FIELD_NULL,
	SL_FIELD__MAX,
};

/** One (key, value) field. Only the members of its kind are meaningful. */
struct sl_event_field {
	struct sl_span key;  /**< 0..SL_EVENT_KEY_MAX bytes. */
	struct sl_span str;  /**< SL_FIELD_STR: 0..SL_EVENT_STR_MAX bytes. */
	double num;          /**< SL_FIELD_NUM: finite, |num| <= SL_VALUE_MAX. */
	int64_t num_micro;   /**< SL_FIELD_NUM: num * 1e6 when num_exact, else 0. */
	uint8_t kind;        /**< enum sl_field_kind */
	bool num_exact;      /**< SL_FIELD_NUM: the value is a decimal with at most 6
			      *   decimals (same rule as statsd values, parse.h):
			      *   num_micro is exact and num its correctly rounded double. */
	bool b;              /**< SL_FIELD_BOOL */
};

/** One event. See the file comment for where its spans point. */
struct sl_event {
	struct sl_span name;  /**< JSON "event" / binary name; empty when absent. */
	uint64_t ts_ns;       /**< Event time in ns since the Unix epoch, 0 when absent. */
	uint32_t n_fields;
	uint32_t scratch_used; /**< Bytes of @c scratch in use (JSON parser only). */
	/**
	 * Rule tags: bit i is tag i of the configuration (config.h, cfg->tags).
	 * The parsers set 0; the dataplane ORs in sl_rules_apply()'s result
	 * (rules.h) before the views see the event (where: {tags: ...}).
	 */
	uint64_t tags;
	/**
	 * The line as received (JSON: the line without its "\n" or "\r\n", a
	 * span of the parsed buffer), for rules `on: raw`. Empty for binary events.
	 */
	struct sl_span raw;
	struct sl_event_field fields[SL_EVENT_FIELDS_MAX]; /**< In input order. */
	uint8_t scratch[SL_EVENT_SCRATCH];
};

/** Called by the datagram parsers for every valid event; @p ev is valid during the call only. */
typedef void (*sl_event_fn)(const struct sl_event *ev, void *arg);

/**
 * Length of the well-formed UTF-8 sequence at @p p (1..4), or 0 when the bytes
 * there are not one (Unicode 15, table 3-7: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no sequence cut by @p avail). @p avail >= 1.
 */
static inline uint32_t
sl_utf8_seq_len(const uint8_t *p, uint32_t avail)
{
	uint8_t b = p[0], lo = 0x80, hi = 0xbf;
	uint32_t n;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		n = 2;
	else if (b >= 0xe0 && b <= 0xef)
		n = 3;
	else if (b >= 0xf0 && b <= 0xf4)
		n = 4;
	else
		return 0;
	/* Only the second byte has a narrower range, and only after these leads. */
	if (b == 0xe0)
		lo = 0xa0;
	else if (b == 0xed)
		hi = 0x9f;
	else if (b == 0xf0)
		lo = 0x90;
	else if (b == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (uint32_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/** true when [p, p+len) is well-formed UTF-8 (an empty span is). */
static inline bool
sl_utf8_valid(const uint8_t *p, uint32_t len)
{
	uint32_t i = 0, n;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		n = sl_utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/** The field whose key is [key, key+len), or NULL. Linear: events are small. */
static inline const struct sl_event_field *
sl_event_field_find(const struct sl_event *ev, const void *key, uint32_t len)
{
	for (uint32_t i = 0; i < ev->n_fields; i++)
		if (ev->fields[i].key.len == len &&
		    (len == 0 || memcmp(ev->fields[i].key.p, key, len) == 0))
			return &ev->fields[i];
	return NULL;
}

#endif /* SL_DP_EVENT_H */
