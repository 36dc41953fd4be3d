/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_COMMON_H
#define SL_COMMON_H

/**
 * @file
 * Names and limits shared by every process: metric types, drop reasons and the
 * counters that the dataplane publishes. Everything here is plain C with no
 * dependency, so parsers, aggregation, storage and the CLI agree on one list.
 */

#include <stdint.h>

#define SL_NS_PER_SEC 1000000000ULL

/** Largest metric name accepted by the parsers, in bytes. */
#define SL_NAME_MAX 200
/** Largest number of tags on one event. */
#define SL_TAGS_MAX 16
/** Largest single tag ("key:value"), in bytes. */
#define SL_TAG_MAX 200
/**
 * Largest canonical group key (type + name + sorted tags), in bytes. LMDB keys
 * are at most 511 bytes and the store prefixes 12 bytes (view, window start),
 * so a longer key could never be committed: it is dropped as key_too_long.
 */
#define SL_KEY_MAX 496
/** Largest set member (statsd `|s` value), in bytes. */
#define SL_MEMBER_MAX 256
/** Largest absolute value accepted: keeps exact fixed-point sums in range. */
#define SL_VALUE_MAX 1e15

/** Metric types: X(enum suffix, statsd type string, long name). */
#define SL_METRIC_TYPES(_)                         \
	_(COUNTER, "c", "counter")                 \
	_(GAUGE, "g", "gauge")                     \
	_(TIMER, "ms", "timer")                    \
	_(HISTOGRAM, "h", "histogram")             \
	_(DISTRIBUTION, "d", "distribution")       \
	_(SET, "s", "set")

enum sl_metric_type {
#define _(e, s, l) SL_METRIC_##e,
	SL_METRIC_TYPES(_)
#undef _
	SL_METRIC__MAX,
};

/**
 * Every reason an event (or a packet, counted as one event) is not aggregated.
 * The first group is per packet (the datagram never reaches a parser), the
 * second per statsd line, the third per aggregation; the last two groups belong
 * to the JSON lines and binary event parsers, which also reuse per-line reasons
 * (docs/wire-format.md says which and how binary datagrams are counted).
 * `filtered` is not a loss: a view's where did not hold (view.h); it is counted
 * so that, per view, received = aggregated + filtered + drops.
 * Exported as `drops{"reason"}` by sluicectl and `sl_drops_total{reason=...}` later.
 */
#define SL_DROP_REASONS(_)                                  \
	_(NIC_MISSED, "nic_missed")                         \
	_(NO_MBUF, "no_mbuf")                               \
	_(NOT_IP, "not_ip")                                 \
	_(NOT_UDP, "not_udp")                               \
	_(IP_FRAGMENT, "ip_fragment")                       \
	_(BAD_HEADER, "bad_header")                         \
	_(UNKNOWN_PORT, "unknown_port")                     \
	_(OVERSIZE, "oversize")                             \
	_(EMPTY_LINE, "empty_line")                         \
	_(LINE_TOO_LONG, "line_too_long")                   \
	_(NO_COLON, "no_colon")                             \
	_(BAD_NAME, "bad_name")                             \
	_(NAME_TOO_LONG, "name_too_long")                   \
	_(NO_TYPE, "no_type")                               \
	_(BAD_TYPE, "bad_type")                             \
	_(BAD_VALUE, "bad_value")                           \
	_(VALUE_RANGE, "value_range")                       \
	_(BAD_RATE, "bad_rate")                             \
	_(BAD_TAGS, "bad_tags")                             \
	_(TOO_MANY_TAGS, "too_many_tags")                   \
	_(TAG_TOO_LONG, "tag_too_long")                     \
	_(BAD_TIMESTAMP, "bad_timestamp")                   \
	_(BAD_FIELD, "bad_field")                           \
	_(MEMBER_TOO_LONG, "member_too_long")               \
	_(KEY_TOO_LONG, "key_too_long")                     \
	_(GROUP_LIMIT, "group_limit")                       \
	_(SET_LIMIT, "set_limit")                           \
	_(NO_TABLE, "no_table")                             \
	_(JSON_SYNTAX, "json_syntax")                       \
	_(JSON_NESTED, "json_nested")                       \
	_(JSON_ESCAPE_OVERFLOW, "json_escape_overflow")     \
	_(TOO_MANY_FIELDS, "too_many_fields")               \
	_(FIELD_KEY_TOO_LONG, "field_key_too_long")         \
	_(STRING_TOO_LONG, "string_too_long")               \
	_(DUPLICATE_KEY, "duplicate_key")                   \
	_(BAD_UTF8, "bad_utf8")                             \
	_(BIN_SHORT, "bin_short")                           \
	_(BIN_BAD_MAGIC, "bin_bad_magic")                   \
	_(BIN_BAD_VERSION, "bin_bad_version")               \
	_(BIN_TRUNCATED, "bin_truncated")                   \
	_(BIN_BAD_LENGTH, "bin_bad_length")                 \
	_(BIN_BAD_FIELD, "bin_bad_field")                   \
	_(BIN_COUNT_MISMATCH, "bin_count_mismatch")      \
	_(RULE_DROP, "rule_drop")                           \
	_(LATE, "late")                                     \
	_(FILTERED, "filtered")

enum sl_drop_reason {
#define _(e, s) SL_DROP_##e,
	SL_DROP_REASONS(_)
#undef _
	SL_DROP__MAX,
};

/** Lowercase label of a drop reason ("bad_value"), or "?" when out of range. */
static inline const char *
sl_drop_reason_name(unsigned int reason)
{
	static const char *const names[] = {
#define _(e, s) s,
		SL_DROP_REASONS(_)
#undef _
	};

	return reason < SL_DROP__MAX ? names[reason] : "?";
}

/** statsd type string ("ms") of a metric type, or "?" when out of range. */
static inline const char *
sl_metric_type_str(unsigned int type)
{
	static const char *const names[] = {
#define _(e, s, l) s,
		SL_METRIC_TYPES(_)
#undef _
	};

	return type < SL_METRIC__MAX ? names[type] : "?";
}

#endif /* SL_COMMON_H */
