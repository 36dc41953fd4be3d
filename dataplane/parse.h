/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_PARSE_H
#define SL_DP_PARSE_H

/**
 * @file
 * statsd / DogStatsD line parser.
 *
 * Works on `(const uint8_t *buf, uint32_t len)` of one datagram payload,
 * allocates nothing, copies nothing: every string in struct sl_statsd_event
 * points into the caller's buffer and is valid only as long as that buffer.
 * Pure functions of their input, so any thread may call them concurrently.
 *
 * Accepted line grammar (one event per line, lines separated by '\n', an
 * optional '\r' before it is ignored, a final '\n' at the end of the datagram
 * is not an empty line):
 *
 *     name ':' value '|' type { '|' field }
 *     type  = c | g | ms | h | d | s
 *     field = '@' rate            (1e-6 <= rate <= 1)
 *           | '#' tag { ',' tag } (tag = 1..SL_TAG_MAX printable ASCII bytes, space
 *                                  included, except ',' and '|'; <= SL_TAGS_MAX tags)
 *           | 'T' unix-seconds    (event timestamp)
 *           | 'c:' container-id   (DogStatsD, accepted and ignored)
 *     (each field at most once per line, in any order)
 *
 * value: a decimal number `[+-]digits[.digits][(e|E)[+-]digits]`, finite, with
 * |value| <= SL_VALUE_MAX and at most 56 significant digits; for sets (`|s`)
 * printable ASCII bytes (space included) except '|' (1..SL_MEMBER_MAX).
 * name: 1..SL_NAME_MAX bytes, printable ASCII except ':' '|' '@' '#' and space.
 */

#include <stdbool.h>
#include <stdint.h>

#include <sluice/common.h>

/** Longest line accepted, in bytes (longer: SL_DROP_LINE_TOO_LONG). */
#define SL_LINE_MAX 4096

/** A byte span inside the caller's buffer. */
struct sl_span {
	const uint8_t *p;
	uint32_t len;
};

/** One parsed statsd line. Spans point into the parsed buffer. */
struct sl_statsd_event {
	struct sl_span name;
	struct sl_span member;       /**< Sets only: the raw member bytes. */
	double value;                /**< Numeric value (not for sets). */
	int64_t value_micro;         /**< value * 1e6, valid when value_exact (else 0). */
	double rate;                 /**< Sample rate, 1.0 when absent. */
	int64_t rate_micro;          /**< rate * 1e6, valid when rate_exact (else 0). */
	uint64_t ts_ns;              /**< Event time from |T, 0 when absent. */
	uint8_t type;                /**< enum sl_metric_type */
	bool value_exact;            /**< value has at most 6 decimals and no exponent
				      *   that moves it past them: value_micro is exact. */
	bool rate_exact;             /**< rate has at most 6 decimals. */
	uint8_t n_tags;
	struct sl_span tags[SL_TAGS_MAX]; /**< In datagram order, not sorted. */
};

/**
 * Parse one line (without its '\n').
 *
 * @return SL_DROP__MAX when the line is a valid event (then @p ev is filled),
 *         else the enum sl_drop_reason that rejects it (then @p ev is
 *         unspecified). Never reads outside [line, line+len).
 */
unsigned int sl_statsd_parse_line(const uint8_t *line, uint32_t len, struct sl_statsd_event *ev);

/**
 * Cut the next line out of a datagram.
 *
 * @param buf,len   The datagram payload.
 * @param[in,out] off  Start of the next line; advanced past its '\n'.
 * @param[out] ret_line,ret_len  The line, without '\n' and without a '\r' before it.
 * @return true when a line was returned, false at the end of the datagram. A
 *         trailing '\n' does not produce an empty last line; an empty line
 *         between two others is returned (and rejected by the parser as
 *         SL_DROP_EMPTY_LINE).
 */
static inline bool
sl_statsd_next_line(const uint8_t *buf, uint32_t len, uint32_t *off, const uint8_t **ret_line,
		    uint32_t *ret_len)
{
	uint32_t start = *off, i = start;

	if (start >= len)
		return false;
	while (i < len && buf[i] != '\n')
		i++;
	*off = i < len ? i + 1 : len;
	*ret_line = buf + start;
	*ret_len = i - start;
	if (*ret_len > 0 && buf[start + *ret_len - 1] == '\r')
		(*ret_len)--;
	return true;
}

/**
 * Parse a whole datagram: calls @p fn for every valid event and counts every
 * rejected line in @p drops (indexed by enum sl_drop_reason).
 *
 * @return number of lines seen (valid + rejected).
 */
typedef void (*sl_statsd_event_fn)(const struct sl_statsd_event *ev, void *arg);
uint32_t sl_statsd_parse_datagram(const uint8_t *buf, uint32_t len, uint64_t drops[SL_DROP__MAX],
				  sl_statsd_event_fn fn, void *arg);

/**
 * Convert a decimal number with the rules of statsd values (see above): the
 * correctly rounded double (the same bits strtod() gives for the text) and,
 * when the number has at most 6 decimals and |number| * 1e6 fits in int64_t,
 * the exact number * 1e6. Shared with the other parsers (json.c, binfmt.c).
 *
 * @param p,len  `[+-]digits[.digits][(e|E)[+-]digits]`, the whole span, at most
 *               SL_LINE_MAX bytes and 56 significant digits. No range check:
 *               the result may be infinite, callers bound it.
 * @param[out] ret        The double.
 * @param[out] ret_micro  number * 1e6 when exact, else 0.
 * @param[out] ret_exact  Whether ret_micro is exact.
 * @return false (outputs untouched) on a syntax error or too many digits.
 */
bool sl_num_parse(const uint8_t *p, uint32_t len, double *ret, int64_t *ret_micro,
		  bool *ret_exact);

#endif /* SL_DP_PARSE_H */
