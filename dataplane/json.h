/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_JSON_H
#define SL_DP_JSON_H

/**
 * @file
 * JSON lines parser: one flat JSON object per line, several lines per
 * datagram, cut exactly like statsd lines (sl_statsd_next_line()).
 *
 * Works on `(const uint8_t *buf, uint32_t len)`, allocates nothing and reads no
 * byte outside the span. Strings without escapes are returned as spans of the
 * input; strings with escapes are unescaped into the event's scratch buffer
 * (event.h). Pure functions of their input and the caller's event: any thread
 * may call them concurrently on different events.
 *
 * Accepted (RFC 8259, restricted; docs/wire-format.md has the full rules):
 *
 *     line   = ws '{' ws [ member { ws ',' ws member } ws ] '}' ws
 *     member = string ws ':' ws value
 *     value  = string | number | true | false | null
 *
 * - "event": string, 0..SL_EVENT_NAME_MAX bytes -> ev->name (absent: empty).
 * - "ts": integer without sign, fraction or exponent; below SL_JSON_TS_MS_LIMIT
 *   it is milliseconds, from SL_JSON_TS_NS_MIN on nanoseconds; 0 and the
 *   values between are rejected -> ev->ts_ns.
 * - any other key -> one field (at most SL_EVENT_FIELDS_MAX), in line order.
 * - numbers: the statsd number rules (parse.h: correctly rounded, exact
 *   micro-units for up to 6 decimals, at most 56 significant digits,
 *   |value| <= SL_VALUE_MAX) on the strict JSON grammar.
 * - strings: UTF-8 (checked), control bytes must be escaped, \\uXXXX escapes
 *   with surrogate pairs become UTF-8, a lone surrogate is rejected.
 * - objects and arrays as values are rejected (SL_DROP_JSON_NESTED), so are
 *   duplicate keys (after unescaping), whatever their values.
 * - ws is space, tab, CR and LF; a line of only ws is an empty line.
 */

#include <stdint.h>

#include <sluice/common.h>

#include "event.h"

/** "ts" values below this are milliseconds (1e13 ms is the year 2286). */
#define SL_JSON_TS_MS_LIMIT 10000000000000ULL
/** "ts" values from this on are nanoseconds (1e17 ns is the year 1973). */
#define SL_JSON_TS_NS_MIN 100000000000000000ULL

/**
 * Parse one line (without its '\n').
 *
 * @return SL_DROP__MAX when the line is a valid event (then @p ev is filled),
 *         else the enum sl_drop_reason that rejects it: empty_line,
 *         line_too_long, json_syntax, json_nested, json_escape_overflow,
 *         too_many_fields, field_key_too_long, string_too_long, duplicate_key,
 *         bad_utf8, bad_name, name_too_long, bad_value, value_range,
 *         bad_timestamp (then @p ev is unspecified). When a line has several
 *         faults, the first in reading order decides.
 */
unsigned int sl_json_parse_line(const uint8_t *line, uint32_t len, struct sl_event *ev);

/**
 * Parse a whole datagram: calls @p fn for every valid event and counts every
 * rejected line in @p drops (indexed by enum sl_drop_reason).
 *
 * @return number of lines seen (valid + rejected).
 */
uint32_t sl_json_parse_datagram(const uint8_t *buf, uint32_t len, uint64_t drops[SL_DROP__MAX],
				sl_event_fn fn, void *arg);

#endif /* SL_DP_JSON_H */
