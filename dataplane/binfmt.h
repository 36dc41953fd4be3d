/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_BINFMT_H
#define SL_DP_BINFMT_H

/**
 * @file
 * The sluice binary event format, version 1: parser and encoder.
 *
 * A datagram is a 20-byte header (magic "SLB", version, flags, event count,
 * producer id, sequence number) followed by length-prefixed events; all
 * integers are little-endian. docs/wire-format.md has the byte-level table
 * and the accounting rules.
 *
 * Parser: works on `(const uint8_t *buf, uint32_t len)`, allocates nothing,
 * copies nothing (every span of the event points into @p buf) and never reads
 * outside [buf, buf+len). Encoder: writes into a caller buffer, allocates
 * nothing. Both are pure functions of their arguments: any thread may use
 * them on its own buffers and events.
 *
 * Accounting (what sl_bin_parse_datagram() counts, so that received =
 * aggregated + drops holds per event):
 * - a datagram whose header is rejected counts as one event with that reason
 *   (bin_short, bin_bad_magic, bin_bad_version): its event count is not
 *   trusted;
 * - otherwise each of the header's announced events counts once: valid, or
 *   with its reason. When the framing is lost (an event length below the
 *   minimum: bin_bad_length; past the datagram end: bin_truncated), and when
 *   the datagram ends before the announced count, every announced event not
 *   yet seen counts as bin_truncated;
 * - bytes after the last announced event count as one more event,
 *   bin_count_mismatch.
 */

#include <stdint.h>

#include <sluice/common.h>

#include "event.h"

#define SL_BIN_MAGIC "SLB"
#define SL_BIN_VERSION 1
/** Header: magic[3] version u8, flags u16, count u16, producer u32, seq u64. */
#define SL_BIN_HEADER_LEN 20
/** Smallest event: length u16, ts u64, name length u8 (0), field count u8 (0). */
#define SL_BIN_EVENT_MIN 12
/** Largest event the limits allow (name, 32 fields of key 64 + string 255). */
#define SL_BIN_EVENT_MAX                                                             \
	(SL_BIN_EVENT_MIN + SL_EVENT_NAME_MAX +                                      \
	 SL_EVENT_FIELDS_MAX * (1 + SL_EVENT_KEY_MAX + 1 + 1 + SL_EVENT_STR_MAX))

/** Field value types on the wire. */
enum sl_bin_type {
	SL_BIN_T_STR = 1,   /**< u8 length + UTF-8 bytes */
	SL_BIN_T_F64 = 2,   /**< IEEE 754 binary64, finite, |v| <= SL_VALUE_MAX; never exact */
	SL_BIN_T_MICRO = 3, /**< i64 micro-units (value * 1e6), exact; not INT64_MIN */
	SL_BIN_T_BOOL = 4,  /**< u8 0 or 1 */
	SL_BIN_T_NULL = 5,  /**< no payload */
	SL_BIN_T__MAX,
};

/** A parsed datagram header. */
struct sl_bin_header {
	uint64_t seq;      /**< Per producer, +1 per datagram (gaps = lost datagrams). */
	uint32_t producer; /**< Chosen by the producer, unique among producers. */
	uint16_t flags;    /**< Always 0 in version 1. */
	uint16_t count;    /**< Events announced. */
	uint8_t version;   /**< SL_BIN_VERSION */
};

/**
 * Parse and check the datagram header.
 *
 * @param[out] h        Set on success only.
 * @param[out] ret_off  Offset of the first event (SL_BIN_HEADER_LEN), on success only.
 * @return SL_DROP__MAX, or SL_DROP_BIN_BAD_MAGIC (the bytes present do not
 *         start with "SLB"), SL_DROP_BIN_BAD_VERSION (version byte not 1, or a
 *         flag set), SL_DROP_BIN_SHORT (fewer than 20 bytes), checked in this order.
 */
unsigned int sl_bin_parse_header(const uint8_t *buf, uint32_t len, struct sl_bin_header *h,
				 uint32_t *ret_off);

/**
 * Parse the event at @p *off and move @p *off to the next one. Call it once
 * per event announced by the header.
 *
 * @param[in,out] off  Advanced past the event, also when the event is rejected
 *                     for its contents. When the framing is lost (the event's
 *                     length is below SL_BIN_EVENT_MIN or past @p len) it is set
 *                     to @p len, and every later call returns SL_DROP_BIN_TRUNCATED.
 * @return SL_DROP__MAX when the event is valid (then @p ev is filled, its spans
 *         point into @p buf), else its reason: bin_truncated, bin_bad_length,
 *         bin_bad_field, name_too_long, too_many_fields, field_key_too_long,
 *         duplicate_key, bad_utf8, bad_value, value_range.
 */
unsigned int sl_bin_next_event(const uint8_t *buf, uint32_t len, uint32_t *off,
			       struct sl_event *ev);

/**
 * Parse a whole datagram: calls @p fn for every valid event and counts every
 * rejected one in @p drops, as the file comment says.
 *
 * @param[out] ret_h  Optional (NULL): the header, written only when it was accepted.
 * @return number of events counted (valid + rejected); 1 for a rejected header.
 *         Work is O(len), whatever count the header announces.
 */
uint32_t sl_bin_parse_datagram(const uint8_t *buf, uint32_t len, uint64_t drops[SL_DROP__MAX],
			       sl_event_fn fn, void *arg, struct sl_bin_header *ret_h);

/** Encoder state, in caller memory. Read @c len and @c count freely. */
struct sl_bin_enc {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;   /**< Bytes written so far (header included). */
	uint16_t count; /**< Events written so far. */
};

/**
 * Start a datagram: write the header into @p buf.
 *
 * @return 0, or -ENOSPC when @p cap < SL_BIN_HEADER_LEN (then @p enc is untouched).
 */
int sl_bin_encode_begin(struct sl_bin_enc *enc, uint8_t *buf, uint32_t cap, uint32_t producer,
			uint64_t seq);

/**
 * Bytes that @p ev takes on the wire, or 0 when the parser would reject it
 * (a limit of event.h, invalid UTF-8, a duplicate key, a kind out of range, a
 * number that is not finite or out of range, an exact number of INT64_MIN
 * micro-units).
 */
uint32_t sl_bin_event_size(const struct sl_event *ev);

/**
 * Append one event. A numeric field is written as SL_BIN_T_MICRO when
 * num_exact (num is then not used) and as SL_BIN_T_F64 otherwise, so parsing
 * gives back the same num, num_micro and num_exact (-0 sent exact comes back 0).
 *
 * @return 0; -EINVAL when the event would be rejected (sl_bin_event_size() is
 *         0); -ENOSPC when it does not fit in the rest of the buffer;
 *         -EOVERFLOW after 65535 events. On error nothing is written.
 */
int sl_bin_encode_event(struct sl_bin_enc *enc, const struct sl_event *ev);

/** Finish the datagram (writes the event count). @return its length in bytes. */
uint32_t sl_bin_encode_end(struct sl_bin_enc *enc);

#endif /* SL_DP_BINFMT_H */
