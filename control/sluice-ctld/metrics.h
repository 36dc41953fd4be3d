/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTLD_METRICS_H
#define SL_CTLD_METRICS_H

/**
 * @file
 * sluice-ctld's renderings: the Prometheus text exposition (format 0.0.4) of
 * sluiced's stats and the store's size, and the stored windows as the JSON
 * array `sluicectl --json metrics` prints. Threading: no shared state
 * (sl_ctld_prom_ctld() reads sluice-ctld's atomic counters).
 */

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "store.h"

struct sl_ctld;

/**
 * Write the exposition to @p f. @p stats is sluiced's stats object (NULL when
 * the dataplane is down: only sluice_dataplane_up 0, build info and store
 * metrics then), @p info the store's (NULL when it cannot be opened).
 */
void sl_ctld_prom_write(FILE *f, json_t *stats, const struct sl_store_info *info);

/**
 * Write the store's view of each registered view: the start of its newest
 * committed slice (sluice_view_last_window_start_seconds{view}). Nothing on
 * a read error.
 */
/**
 * Rule metrics: sluice_rules, sluice_rule_matches_capped_total (from the
 * stats object's "rules") and sluice_rule_hits_total{rule,action} (from the
 * dataplane's `rules` reply). Either may be NULL.
 */
void sl_ctld_prom_rules(FILE *f, json_t *rules, json_t *stats);

void sl_ctld_prom_store_views(FILE *f, struct sl_store *s);

/** Write sluice-ctld's own families: refusals by reason, connections, streams. */
void sl_ctld_prom_ctld(FILE *f, struct sl_ctld *c);

/**
 * Write the windows of view 0 starting in [@p from_ns, @p to_ns) whose name is
 * @p name (a trailing '*' makes it a prefix; NULL: every name) as one JSON
 * array followed by '\n', byte for byte what `sluicectl --json metrics` prints.
 * Malformed records are skipped and counted in @p ret_skipped.
 * @return 0, or a negative errno from the scan (nothing usable written).
 */
int sl_ctld_windows_json(FILE *f, struct sl_store *s, uint64_t from_ns, uint64_t to_ns,
			 const char *name, uint64_t *ret_skipped);

#endif /* SL_CTLD_METRICS_H */
