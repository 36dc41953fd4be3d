/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * Rows of a view as a table, from their JSON (what sluice-ctld sends: the
 * rows of `query --json`, of /live and of /stream) and the view's definition
 * (an element of `views --json`). The table is the one `query` prints from
 * the store with sl_query_result_cell(): the cell texts below follow it
 * rule for rule, from the finalized values instead of the states.
 *
 * One difference remains: a sum is exact in the store and in the JSON
 * ("15395.48"), and is printed exactly when its shortest decimal form has at
 * most 6 decimals and no exponent (the exact sums of sluiced have at most 6);
 * otherwise it is a float sum, printed like the other numbers.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "query.h"

/** Bytes of one table cell, as cmd_query.c. */
#define ROWS_CELL_MAX 160
/* Top-k items shown in a cell and the cell's width budget, as query.c. */
#define ROWS_TOPK_ITEMS 3
#define ROWS_TOPK_WIDTH 48
/* The HyperLogLog's relative standard error, as query.c. */
#define ROWS_HLL_RSE (1.04 / 128.0)

/** A double for people: integers without decimals, else 3 decimals at most (query.c). */
static void
fmt_num(double v, char *buf, size_t cap)
{
	double a = fabs(v);
	char *e;

	if (!isfinite(v)) {
		snprintf(buf, cap, "%g", v);
	} else if (v == trunc(v) && a < 1e15) {
		snprintf(buf, cap, "%.0f", v);
	} else if (a >= 1e15 || a < 1e-3) {
		snprintf(buf, cap, "%.4g", v);
	} else {
		snprintf(buf, cap, "%.3f", v);
		e = buf + strlen(buf) - 1;
		while (*e == '0')
			*e-- = '\0';
		if (*e == '.')
			*e = '\0';
	}
}

/** A sum: its exact decimal text when it is one, else fmt_num() (see the file comment). */
static void
fmt_sum(const json_t *j, char *buf, size_t cap)
{
	double v = json_number_value(j);
	const char *dot;
	char s[40];

	if (json_is_integer(j)) {
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	dot = strchr(s, '.');
	if (strpbrk(s, "eEni") == NULL && (dot == NULL || strlen(dot + 1) <= 6))
		snprintf(buf, cap, "%s", s);
	else
		fmt_num(v, buf, cap);
}

/** Append to @p buf (capacity @p cap, at *off); the text is cut at the end. */
static void __attribute__((format(printf, 4, 5)))
put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off + 1 >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off = *off + (size_t)n < cap ? *off + (size_t)n : cap - 1;
}

/** Append bytes for a terminal: control bytes as '?'. */
static void
put_text(char *buf, size_t cap, size_t *off, const char *p, size_t len)
{
	for (size_t i = 0; i < len && *off + 1 < cap; i++) {
		unsigned char c = (unsigned char)p[i];

		buf[(*off)++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[*off] = '\0';
}

/** A non-negative integer of JSON (a real past 2^63 too). */
static uint64_t
ju64(const json_t *j)
{
	if (json_is_integer(j))
		return json_integer_value(j) < 0 ? 0 : (uint64_t)json_integer_value(j);
	if (json_is_real(j) && json_real_value(j) >= 0 && json_real_value(j) < 0x1p64)
		return (uint64_t)json_real_value(j);
	return 0;
}

static void
cell_topk(const json_t *v, char *buf, size_t cap)
{
	size_t off = 0, n = json_array_size(v), shown = 0;

	buf[0] = '\0';
	if (n == 0)
		put(buf, cap, &off, "-");
	for (size_t j = 0; j < n; j++) {
		const json_t *e = json_array_get(v, j);
		const json_t *item = json_object_get(e, "item");
		char text[ROWS_TOPK_WIDTH + 1];
		size_t ilen = 0;
		uint64_t err = ju64(json_object_get(e, "error"));

		put_text(text, sizeof(text), &ilen,
			 json_string_value(item) ? json_string_value(item) : "",
			 json_string_length(item));
		/* A few items, while they fit the width; the first one always. */
		if (j > 0 && (shown == ROWS_TOPK_ITEMS || off + ilen + 12 > ROWS_TOPK_WIDTH))
			break;
		put(buf, cap, &off, "%s%s:%" PRIu64, j > 0 ? " " : "", text,
		    ju64(json_object_get(e, "count")));
		if (err > 0)
			put(buf, cap, &off, "±%" PRIu64, err);
		shown++;
	}
	if (shown < n)
		put(buf, cap, &off, " (+%zu)", n - shown);
}

/** The cell of aggregate @p agg (a definition's "aggregates" element) in @p values. */
static void
cell(const json_t *agg, const json_t *values, char *buf, size_t cap)
{
	const char *kind = json_string_value(json_object_get(agg, "kind"));
	const char *key = json_string_value(json_object_get(agg, "key"));
	char ekey[256], num[64];
	const json_t *v, *e;
	size_t off = 0;

	buf[0] = '\0';
	if (kind == NULL || key == NULL) {
		put(buf, cap, &off, "?");
		return;
	}
	v = json_object_get(values, key);
	snprintf(ekey, sizeof(ekey), "%s_error", key);
	e = json_object_get(values, ekey);
	if (strcmp(kind, "count") == 0) {
		put(buf, cap, &off, "%" PRIu64, ju64(v));
	} else if (json_is_null(v) || v == NULL) {
		put(buf, cap, &off, "-");
	} else if (strcmp(kind, "sum") == 0 && json_is_number(v)) {
		fmt_sum(v, num, sizeof(num));
		put(buf, cap, &off, "%s", num);
	} else if ((strcmp(kind, "avg") == 0 || strcmp(kind, "min") == 0 ||
		    strcmp(kind, "max") == 0 || strcmp(kind, "last") == 0) &&
		   json_is_number(v)) {
		fmt_num(json_number_value(v), num, sizeof(num));
		put(buf, cap, &off, "%s", num);
	} else if (strcmp(kind, "distinct") == 0) {
		if (json_is_number(e) && json_number_value(e) > 0)
			put(buf, cap, &off, "~%" PRIu64 " ±%.2g%%", ju64(v), ROWS_HLL_RSE * 100);
		else
			put(buf, cap, &off, "%" PRIu64, ju64(v));
	} else if (strcmp(kind, "quantiles") == 0 && json_is_object(v)) {
		const json_t *qs = json_object_get(agg, "quantiles");
		size_t j;
		const json_t *q;

		json_array_foreach(qs, j, q) {
			char qkey[40];
			const json_t *qv;

			snprintf(qkey, sizeof(qkey), "%.15g", json_number_value(q));
			qv = json_object_get(v, qkey);
			fmt_num(json_is_number(qv) ? json_number_value(qv) : NAN, num, sizeof(num));
			put(buf, cap, &off, "%sp%g=%s", j > 0 ? " " : "",
			    json_number_value(q) * 100, num);
		}
		if (json_is_number(e))
			put(buf, cap, &off, " ±%g%%", json_number_value(e) * 100);
		else
			put(buf, cap, &off, " ±?");
	} else if (strcmp(kind, "topk") == 0 && json_is_array(v)) {
		cell_topk(v, buf, cap);
	} else {
		put(buf, cap, &off, "?");
	}
}

void
sl_ctl_def_window_text(const json_t *def, char *buf, size_t cap)
{
	uint64_t size = ju64(json_object_get(def, "window_size_ns"));
	uint64_t slide = ju64(json_object_get(def, "window_slide_ns"));
	char s1[32], s2[32];

	sl_config_duration_fmt(size, s1, sizeof(s1));
	if (slide == 0 || slide == size) {
		snprintf(buf, cap, "%s", s1);
		return;
	}
	sl_config_duration_fmt(slide, s2, sizeof(s2));
	snprintf(buf, cap, "%s every %s", s1, s2);
}

int
sl_ctl_rows_table(const json_t *def, const json_t *rows, bool span, FILE *f)
{
	const json_t *group_by = json_object_get(def, "group_by");
	const json_t *aggs = json_object_get(def, "aggregates");
	const size_t n_dims = json_array_size(group_by), n_aggs = json_array_size(aggs);
	char hdr_dims[SL_CONFIG_GROUP_BY_MAX][SL_CONFIG_DIM_NAME_MAX + 1];
	char cells[SL_TAB_COLS_MAX][ROWS_CELL_MAX];
	const char *hdr[SL_TAB_COLS_MAX], *row[SL_TAB_COLS_MAX];
	char align[SL_TAB_COLS_MAX + 1];
	bool late = json_is_true(json_object_get(def, "keep_late"));
	struct sl_tab tab;
	unsigned int nc = 0;
	const json_t *r;
	size_t i;
	int rc = 0;

	if (!json_is_array(rows) || n_dims > SL_CONFIG_GROUP_BY_MAX ||
	    1 + n_dims + n_aggs + 1 > SL_TAB_COLS_MAX) {
		sl_ctl_err("malformed reply: rows or a view definition of an unexpected shape");
		return SL_EXIT_RUNTIME;
	}
	json_array_foreach(rows, i, r) {
		if (!json_is_object(r) || !json_is_object(json_object_get(r, "values"))) {
			sl_ctl_err("malformed reply: row %zu is not a row of a view", i);
			return SL_EXIT_RUNTIME;
		}
		late = late || ju64(json_object_get(r, "late")) > 0;
	}
	hdr[nc] = span ? "FROM .. TO" : "WINDOW START";
	align[nc++] = 'l';
	for (size_t d = 0; d < n_dims; d++) {
		const char *name = json_string_value(json_array_get(group_by, d));
		size_t j;

		for (j = 0; name != NULL && name[j] != '\0' && j < SL_CONFIG_DIM_NAME_MAX; j++)
			hdr_dims[d][j] = (char)toupper((unsigned char)name[j]);
		hdr_dims[d][j] = '\0';
		hdr[nc] = hdr_dims[d];
		align[nc++] = 'l';
	}
	for (size_t a = 0; a < n_aggs; a++) {
		const json_t *agg = json_array_get(aggs, a);
		const char *key = json_string_value(json_object_get(agg, "key"));
		const char *kind = json_string_value(json_object_get(agg, "kind"));
		bool text = kind != NULL &&
			    (strcmp(kind, "quantiles") == 0 || strcmp(kind, "topk") == 0);

		hdr[nc] = key ? key : "?";
		align[nc++] = text ? 'l' : 'r';
	}
	if (late) {
		hdr[nc] = "LATE";
		align[nc++] = 'r';
	}
	align[nc] = '\0';
	if (json_array_size(rows) == 0)
		return SL_EXIT_OK;

	sl_tab_init(&tab, nc, hdr, align);
	json_array_foreach(rows, i, r) {
		const json_t *group = json_object_get(r, "group");
		const json_t *values = json_object_get(r, "values");
		unsigned int c = 0;

		if (rc != 0)
			break;
		sl_query_time_fmt(ju64(json_object_get(r, "window_start")), cells[c],
				  sizeof(cells[c]));
		if (span) {
			size_t off = strlen(cells[c]);

			snprintf(cells[c] + off, sizeof(cells[c]) - off, " .. ");
			off = strlen(cells[c]);
			sl_query_time_fmt(ju64(json_object_get(r, "window_end")), cells[c] + off,
					  sizeof(cells[c]) - off);
		}
		row[c] = cells[c];
		c++;
		for (size_t d = 0; d < n_dims; d++) {
			const char *name = json_string_value(json_array_get(group_by, d));
			const json_t *v = json_object_get(group, name ? name : "");
			size_t off = 0;

			/* An absent dimension is shown as "-"; control bytes as '?'. */
			cells[c][0] = '\0';
			if (json_is_string(v))
				put_text(cells[c], sizeof(cells[c]), &off, json_string_value(v),
					 json_string_length(v));
			row[c] = off > 0 ? cells[c] : "-";
			c++;
		}
		for (size_t a = 0; a < n_aggs; a++) {
			cell(json_array_get(aggs, a), values, cells[c], sizeof(cells[c]));
			row[c] = cells[c];
			c++;
		}
		if (late) {
			snprintf(cells[c], sizeof(cells[c]), "%" PRIu64,
				 ju64(json_object_get(r, "late")));
			row[c] = cells[c];
			c++;
		}
		rc = sl_tab_add(&tab, row);
	}
	if (rc == 0)
		sl_tab_print(&tab, f, "");
	sl_tab_fini(&tab);
	if (rc < 0) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	return SL_EXIT_OK;
}
