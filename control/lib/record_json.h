/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTL_RECORD_JSON_H
#define SL_CTL_RECORD_JSON_H

/**
 * @file
 * Stored statsd window records (view 0 of the window store) decoded and
 * written as the JSON objects of `sluicectl --json metrics`, shared by
 * sluicectl and sluice-ctld's /v1/metrics so that the two stay byte for byte
 * the same. Threading: no shared state.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agg.h"

/** A name filter: an exact name, or a prefix (the name had a trailing '*'). */
struct sl_ctl_name_filter {
	const char *name; /**< NULL: every name. */
	size_t len;       /**< Bytes to compare (without the '*'). */
	bool prefix;
};

/** One decoded record. Spans point into the scanned key (valid during the callback). */
struct sl_ctl_record {
	uint64_t start_ns;
	uint64_t end_ns;
	struct sl_agg_key key;
	struct sl_agg_state st;
	uint64_t distinct;
	bool distinct_exact;
};

/**
 * Set up @p nf for @p name (a trailing '*' makes it a prefix; NULL: every name).
 */
void
sl_ctl_name_filter_init(struct sl_ctl_name_filter *nf, const char *name);

/** @return true when @p name passes @p nf. */
bool
sl_ctl_name_matches(const struct sl_ctl_name_filter *nf, const struct sl_span *name);

/** @return true when records of metric @p type carry a sum. */
bool
sl_ctl_type_has_sum(uint8_t type);

/** @return true when records of metric @p type carry a min and a max. */
bool
sl_ctl_type_has_minmax(uint8_t type);

/**
 * Decode one stored record (key and serialized state) into @p rec; its
 * window bounds are left as they are. The state is only deserialized when
 * the name passes @p nf. With @p ret_set, a set's members are returned there
 * (caller destroys; NULL when the record holds none) and rec->distinct is the
 * stored count; otherwise it is the set's count.
 * @return 1 when it matches @p nf, 0 when not, -EINVAL when malformed, -ENOMEM.
 */
int
sl_ctl_record_decode(const struct sl_ctl_name_filter *nf, const uint8_t *key, uint32_t key_len,
		     const uint8_t *val, uint32_t val_len, struct sl_ctl_record *rec,
		     struct sl_agg_set **ret_set);

/**
 * Write @p r to @p f as one JSON object, preceded by ',' unless @p first. The
 * sum is the exact decimal, spliced in as a raw number.
 * @param tag_names  NULL: the tags are the record's "key:value" tags. Else one
 *                   name per tag (of @p tag_name_lens bytes), and each tag of
 *                   the record is that name's whole value (the --by roll-up).
 */
void
sl_ctl_record_json(FILE *f, bool first, const struct sl_ctl_record *r,
		   const char *const *tag_names, const size_t *tag_name_lens);

#endif /* SL_CTL_RECORD_JSON_H */
