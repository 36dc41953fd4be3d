/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTL_QUERY_H
#define SL_CTL_QUERY_H

/**
 * @file
 * Queries of the stored views: the logic behind `sluicectl query` and
 * `sluicectl views`, shared with sluice-ctld. docs/queries.md is the user's
 * reference (steps, range edges, the JSON shape).
 *
 * A view's records (written by sluiced) are one per (slice, group): key =
 * u32 BE view id, u64 BE slice start ns, group key (view.h); value = u64 LE
 * slice end ns, then the serialized state. A late record has the group key
 * prefixed by SL_VIEW_LATE_MARK and a u64 LE count as its state. The view's
 * definition (the YAML of a configuration holding that one view) comes from
 * the store's view registry and gives the plan the states are decoded with.
 *
 * sl_query_run() looks the view up, scans its slices in one read transaction
 * (the scan callback only decodes and merges in memory: no I/O, no output,
 * so the transaction lasts as long as the decoding), and returns the rows,
 * sorted, in a result that owns everything.
 * Writing the result (JSON, or cell texts for a table) happens afterwards,
 * with the store no longer involved.
 *
 * Nothing here prints to stdout or exits: output goes to the FILE * given,
 * errors come back as a negative errno with a one-line message in struct
 * sl_query_error.
 *
 * Threading: no shared state; a result is read-only once returned and may be
 * read by several threads.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "parse.h" /* struct sl_span */

struct sl_store;

/** What one row of a query covers. */
enum sl_query_step {
	/**
	 * The view's own windows: each slice of a tumbling view; for a sliding
	 * view (size S, slide L) each window [s, s + S), s a multiple of L,
	 * merging its S / L slices.
	 */
	SL_QUERY_STEP_WINDOW,
	/** Buckets [b, b + step_ns), b a multiple of step_ns, merging the slices starting in them. */
	SL_QUERY_STEP_FIXED,
	/** One row per group, merging every slice that starts in [from, to). */
	SL_QUERY_STEP_ALL,
};

/** Most --where conditions in one query. */
#define SL_QUERY_WHERE_MAX 16
/** Default bound of the rows of one result. */
#define SL_QUERY_ROWS_DEFAULT 1000000u
/** Default bound of the bytes of the states (blocks and distinct() sets) of one result. */
#define SL_QUERY_BYTES_DEFAULT (1ULL << 30)

/** One condition: group_by dimension @c dim has the text @c value ("" matches an absent one). */
struct sl_query_where {
	const char *dim;
	const char *value;
};

/** What to query. Strings are borrowed for the call of sl_query_run(). */
struct sl_query_params {
	const char *view;       /**< Registered view name. */
	uint64_t from_ns;       /**< Rows whose window starts in [from_ns, to_ns). */
	uint64_t to_ns;
	enum sl_query_step step;
	uint64_t step_ns;       /**< SL_QUERY_STEP_FIXED: a multiple of the view's slide. */
	const struct sl_query_where *where; /**< n_where conditions, all must hold. */
	uint32_t n_where;       /**< 0..SL_QUERY_WHERE_MAX. */
	uint64_t max_rows;      /**< 0: SL_QUERY_ROWS_DEFAULT. Over it: -E2BIG. */
	uint64_t max_bytes;     /**< 0: SL_QUERY_BYTES_DEFAULT. Over it: -E2BIG. */
};

/** Why a call failed: one line, no trailing newline. */
struct sl_query_error {
	char msg[512];
};

struct sl_query_result; /**< Opaque: the rows of one query. */

/** One row, as sl_query_result_row() gives it. Spans point into the result. */
struct sl_query_row {
	uint64_t window_start; /**< ns since the epoch. */
	uint64_t window_end;
	uint64_t late;         /**< Late events of the merged slices (0 without late records). */
	bool has_state;        /**< false: the group has late records only (empty values). */
	uint32_t n_dims;       /**< The view's group_by dimensions, in its order. */
	struct sl_span dims[SL_CONFIG_GROUP_BY_MAX]; /**< Value of each (empty: absent). */
};

/**
 * Run a query on @p store (opened by the caller, read-only is enough).
 *
 * @param[out] ret  Set on success only (also with no rows); free with
 *                  sl_query_result_destroy().
 * @param[out] err  Filled on failure (may be NULL).
 * @return 0; -ENOENT (no such view: the message lists the registered ones);
 *         -EINVAL (a parameter does not fit the view: step not a multiple of
 *         its slide, a where dimension that is not in its group_by, an empty
 *         range, too many conditions); -EPROTO (the stored definition does
 *         not load); -E2BIG (over max_rows or max_bytes); -ENOMEM; -EIO.
 */
int sl_query_run(struct sl_store *store, const struct sl_query_params *p,
		 struct sl_query_result **ret, struct sl_query_error *err);

/** Free a result. NULL is a no-op. */
void sl_query_result_destroy(struct sl_query_result *r);

/** Rows of the result. */
size_t sl_query_result_count(const struct sl_query_result *r);

/** The view's name, id and compiled definition (group_by, aggregates, window). */
const char *sl_query_result_view_name(const struct sl_query_result *r);
uint32_t sl_query_result_view_id(const struct sl_query_result *r);
const struct sl_config_view *sl_query_result_view(const struct sl_query_result *r);

/** Records skipped because they did not decode (counted, not fatal). */
uint64_t sl_query_result_skipped(const struct sl_query_result *r);

/** Row @p i (< sl_query_result_count()) into @p ret. */
void sl_query_result_row(const struct sl_query_result *r, size_t i, struct sl_query_row *ret);

/**
 * Write every row as ONE JSON array, one row per line: {"view", "window_start",
 * "window_end", "group": {dim: text, ...}, "values": (the object of
 * sl_view_state_finalize_json()), "late"}, the shape of sluice-gen --truth.
 * @return 0, -ENOMEM or -EIO (writing failed).
 */
int sl_query_result_write_json(const struct sl_query_result *r, FILE *f);

/**
 * Text of aggregate @p agg of row @p i for people: "1234", "12.5", "~5312
 * ±0.81%", "p50=12.1 p99=80.3 ±1%", "A-1:30 A-2:12±1 (+3)"; "-" when the
 * aggregate has no value. Always NUL-terminated (cut to @p cap).
 * @return 0 or -ENOMEM.
 */
int sl_query_result_cell(const struct sl_query_result *r, size_t i, uint32_t agg, char *buf,
			 size_t cap);

/* ---- the registry, for `views` ---- */

/** One registered view. */
struct sl_query_view_info {
	const char *name;
	uint32_t id;
	const struct sl_config_view *view; /**< NULL when the definition does not load. */
	const char *error;                 /**< Why not (NULL when @c view is set). */
};

struct sl_query_views; /**< Opaque: every registered view, loaded. */

/**
 * Load every registered view (in name order) with its definition.
 * @param[out] ret  Set on success only; free with sl_query_views_destroy().
 * @return 0, -ENOMEM, -EIO.
 */
int sl_query_views_load(struct sl_store *store, struct sl_query_views **ret,
			struct sl_query_error *err);
void sl_query_views_destroy(struct sl_query_views *v);
uint32_t sl_query_views_count(const struct sl_query_views *v);
const struct sl_query_view_info *sl_query_views_get(const struct sl_query_views *v, uint32_t i);

/**
 * Write the views as one JSON array of {"view", "id", "window_size_ns",
 * "window_slide_ns", "time", "allowed_lateness_ns", "keep_late",
 * "max_groups", "retention_ns", "where", "group_by", "aggregates"} (the
 * "view_defs" shape of sluice-gen --truth, plus id and retention); a view
 * whose definition does not load is {"view", "id", "error"}.
 * @return 0 or -EIO.
 */
int sl_query_views_write_json(const struct sl_query_views *v, FILE *f);

/* ---- arguments ---- */

/**
 * Parse a time: "now"; "-D" (D a duration as sl_config_duration_parse()
 * reads it: "-15m", "-1.5h", "-7d") before @p now_ns; RFC 3339
 * ("2026-01-01T00:00:10Z", "2026-01-01T01:00:10.25+01:00", "2026-01-01");
 * unix seconds with an optional fraction ("1767225600", "1767225600.5",
 * "1767225600s"); unix ns ("1767225600000000000", any integer of 13 digits
 * or more, or "...ns").
 * @param[out] ret_ns  Set on success only.
 * @return 0, -EINVAL (not a time) or -ERANGE (before the epoch or past 2^64 ns).
 */
int sl_query_time_parse(const char *s, uint64_t now_ns, uint64_t *ret_ns);

/** Format @p ns as RFC 3339 UTC: "2026-01-01T00:00:10Z", "...10.5Z" (fraction trimmed). */
void sl_query_time_fmt(uint64_t ns, char *buf, size_t cap);

/**
 * Parse a step: "window", "all", or a duration ("1m", "90s"; not 0).
 * @return 0 or -EINVAL.
 */
int sl_query_step_parse(const char *s, enum sl_query_step *ret_step, uint64_t *ret_ns);

/** Current time, ns since the epoch (CLOCK_REALTIME). */
uint64_t sl_query_now_ns(void);

#endif /* SL_CTL_QUERY_H */
