/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_RULES_H
#define SL_DP_RULES_H

/**
 * @file
 * Rules: classify, tag and drop events with Hyperscan (docs/rules.md). The
 * configuration's rules (config.h, struct sl_config_rule) are compiled into
 * one Hyperscan block-mode database per target (the raw line, the event name,
 * each field name; a target's rules with the utf8 flag get a database of
 * their own), and every event is scanned against the databases of the
 * targets it has.
 *
 * This is the only file that includes <hs.h>; Hyperscan's codes and
 * messages are translated here.
 *
 * Once per event. Every pattern is compiled with HS_FLAG_SINGLEMATCH,
 * whatever its flags: a rule's target is scanned at most once per event, so
 * Hyperscan itself reports each rule at most once per event and stops
 * matching it after its first match. That is the dedupe (no bitmap to clear
 * per event) and it is cheaper than reporting every match. The `singlematch`
 * flag is therefore implied; it is accepted for clarity.
 *
 * Threading and ownership. A compiled struct sl_rules is read-only: any
 * number of workers may apply it at once. Each worker owns one struct
 * sl_rules_scratch (Hyperscan scratch space, which must never be used by
 * two threads at once) and one hits array of sl_rules_count() counters.
 * Compiling and allocating are control-path work (they allocate and can take
 * seconds for 100 000 rules); sl_rules_apply() allocates nothing and takes
 * no lock. Swapping rule sets (reload) is the caller's business: a worker
 * must use a scratch allocated for the rule set it applies.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

struct sl_rules;         /**< Opaque; sl_rules_compile(). */
struct sl_rules_scratch; /**< Opaque; sl_rules_scratch_alloc(), one per worker. */

/** What the rules decided for one event (or line). */
struct sl_rules_result {
	uint64_t tags;    /**< OR of the tag bits of the matching tag rules. */
	uint32_t matches; /**< Rules that matched and were applied: 0..max_matches_per_event. */
	bool drop;        /**< A drop rule matched. */
	bool capped;      /**< More than max_matches_per_event rules matched: the scan stopped. */
};

/**
 * Check one pattern the way sl_rules_compile() would compile it (used by the
 * configuration loader, so that `sluicectl config check` rejects what
 * sluiced would). A pattern that can match an empty string is rejected: it
 * would match every event (HS_FLAG_ALLOWEMPTY is never used).
 *
 * @param flags  Bits (1u << enum sl_config_rule_flag).
 * @param err    Receives "Hyperscan: <message>" on failure (may be NULL).
 * @return 0, -EINVAL (bad pattern), -ENOMEM or -ENOTSUP (no Hyperscan on this CPU).
 */
int sl_rules_pattern_check(const char *pattern, uint32_t flags, char *err, size_t errcap);

/**
 * Compile the rules of @p cfg (0 rules is a valid, empty rule set). The rule
 * set copies what it needs: @p cfg may be freed afterwards. Rule i of the
 * set is cfg->rules[i]; tag bits are cfg's tag indexes.
 *
 * @param[out] ret  Set on success only; free with sl_rules_free().
 * @param err  On failure, a message (may be NULL): for a bad pattern
 *             "rule 'x' (pattern '...'): Hyperscan: <message>".
 * @return 0, -EINVAL (a pattern Hyperscan rejects, a malformed rule),
 *         -ENOMEM, -ENOTSUP (this CPU cannot run Hyperscan).
 */
int sl_rules_compile(const struct sl_config *cfg, struct sl_rules **ret, char *err,
		     size_t errcap);

/** Release a rule set. NULL is a no-op. Its scratches must be freed too. */
void sl_rules_free(struct sl_rules *r);

/** Number of rules (the size of a hits array). */
uint32_t sl_rules_count(const struct sl_rules *r);

/** Id of rule @p i, or NULL when out of range. */
const char *sl_rules_id(const struct sl_rules *r, uint32_t i);

/** Bytes of the compiled Hyperscan databases (for the start-up log). */
size_t sl_rules_memsize(const struct sl_rules *r);

/**
 * Allocate scratch space for @p r: one per worker, used by that worker only.
 *
 * @param[out] ret  Set on success only; free with sl_rules_scratch_free().
 * @return 0 or -ENOMEM.
 */
int sl_rules_scratch_alloc(const struct sl_rules *r, struct sl_rules_scratch **ret);

/** NULL is a no-op. */
void sl_rules_scratch_free(struct sl_rules_scratch *s);

/**
 * Apply the rules to one event: scan @p raw (when not NULL and there are raw
 * rules), the event name (rules `on: event`) and every field of @p ev that a
 * rule targets (a string as its bytes; a number, boolean or null as its text
 * in views, sl_view_field_text()). @p ev may be NULL (a statsd line given
 * as @p raw): field rules are then skipped. Data that is not valid UTF-8 is
 * not scanned by utf8 rules (Hyperscan leaves that undefined).
 *
 * Order: raw, then the event name, then the fields in event order; matches
 * within one scan come in Hyperscan's order (by end offset). The first
 * limits.max_matches_per_event matching rules are applied; a further match
 * stops the scan and sets @p res->capped. Every applied rule counts once in
 * @p hits[rule index]; tag rules OR their bit into @p res->tags, drop rules
 * set @p res->drop. A drop rule does not stop the scan: every rule is
 * counted.
 *
 * @param s     This worker's scratch for @p r.
 * @param hits  This worker's counters, sl_rules_count() of them.
 * @param[out] res  Always written.
 */
void sl_rules_apply(const struct sl_rules *r, struct sl_rules_scratch *s,
		    const struct sl_event *ev, const uint8_t *raw, uint32_t raw_len,
		    uint64_t *hits, struct sl_rules_result *res);

#endif /* SL_DP_RULES_H */
