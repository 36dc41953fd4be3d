/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * Stored window records as JSON (see record_json.h).
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <sluice/common.h>

#include "record_json.h"

void
sl_ctl_name_filter_init(struct sl_ctl_name_filter *nf, const char *name)
{
	nf->name = name;
	nf->len = 0;
	nf->prefix = false;
	if (name == NULL)
		return;
	nf->len = strlen(name);
	if (nf->len > 0 && name[nf->len - 1] == '*') {
		nf->prefix = true;
		nf->len--;
	}
}

bool
sl_ctl_name_matches(const struct sl_ctl_name_filter *nf, const struct sl_span *name)
{
	if (nf->name == NULL)
		return true;
	if (nf->prefix)
		return name->len >= nf->len && memcmp(name->p, nf->name, nf->len) == 0;
	return name->len == nf->len && memcmp(name->p, nf->name, nf->len) == 0;
}

bool
sl_ctl_type_has_sum(uint8_t type)
{
	return type == SL_METRIC_COUNTER || type == SL_METRIC_TIMER ||
	       type == SL_METRIC_HISTOGRAM || type == SL_METRIC_DISTRIBUTION;
}

bool
sl_ctl_type_has_minmax(uint8_t type)
{
	return type != SL_METRIC_COUNTER && type != SL_METRIC_SET;
}

int
sl_ctl_record_decode(const struct sl_ctl_name_filter *nf, const uint8_t *key, uint32_t key_len,
		     const uint8_t *val, uint32_t val_len, struct sl_ctl_record *rec,
		     struct sl_agg_set **ret_set)
{
	struct sl_agg_set *set = NULL;
	uint8_t type;
	int rc;

	if (sl_agg_key_decode(key, key_len, &rec->key) < 0 || rec->key.type >= SL_METRIC__MAX)
		return -EINVAL;
	if (!sl_ctl_name_matches(nf, &rec->key.name))
		return 0;
	rc = sl_agg_state_deserialize(val, val_len, &type, &rec->st, &set);
	if (rc < 0)
		return rc;
	if (type != rec->key.type) {
		sl_agg_set_destroy(set);
		return -EINVAL;
	}
	rec->distinct = rec->st.distinct;
	rec->distinct_exact = true;
	if (ret_set != NULL) {
		*ret_set = set;
		return 1;
	}
	if (set != NULL) {
		rec->distinct = sl_agg_set_count(set);
		rec->distinct_exact = sl_agg_set_is_exact(set);
		sl_agg_set_destroy(set);
	}
	return 1;
}

/** Length of the valid UTF-8 sequence at @p p (0 if invalid). */
static size_t
utf8_seq(const uint8_t *p, size_t left)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/** A JSON string; invalid UTF-8 bytes become U+FFFD. */
static void
json_str(FILE *f, const uint8_t *p, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len;) {
		uint8_t c = p[i];
		size_t n;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c < 0x20) {
			switch (c) {
			case '\n':
				fputs("\\n", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			default:
				fprintf(f, "\\u%04x", c);
			}
			i++;
		} else {
			n = utf8_seq(p + i, len - i);
			if (n == 0) {
				fputs("\\ufffd", f);
				i++;
			} else {
				fwrite(p + i, 1, n, f);
				i += n;
			}
		}
	}
	fputc('"', f);
}

/** True when @p s is a JSON number (RFC 8259 grammar). */
static bool
is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/** ,"key":value with %.17g; JSON has no inf or nan: those are null. */
static void
json_double(FILE *f, const char *key, double v)
{
	if (isfinite(v))
		fprintf(f, ",\"%s\":%.17g", key, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

void
sl_ctl_record_json(FILE *f, bool first, const struct sl_ctl_record *r,
		   const char *const *tag_names, const size_t *tag_name_lens)
{
	uint8_t type = r->key.type;
	char sum[128];

	fprintf(f, "%s{\"window_start\":%" PRIu64 ",\"window_end\":%" PRIu64 ",\"name\":",
		first ? "" : ",", r->start_ns, r->end_ns);
	json_str(f, r->key.name.p, r->key.name.len);
	fprintf(f, ",\"type\":\"%s\",\"tags\":{", sl_metric_type_str(type));
	for (unsigned int i = 0; i < r->key.n_tags; i++) {
		const struct sl_span *t = &r->key.tags[i];
		const uint8_t *colon = memchr(t->p, ':', t->len);
		size_t klen = colon ? (size_t)(colon - t->p) : t->len;

		if (i > 0)
			fputc(',', f);
		if (tag_names != NULL) {
			json_str(f, (const uint8_t *)tag_names[i], tag_name_lens[i]);
			fputc(':', f);
			json_str(f, t->p, t->len);
			continue;
		}
		json_str(f, t->p, klen);
		fputc(':', f);
		if (colon != NULL)
			json_str(f, colon + 1, t->len - klen - 1);
		else
			fputs("\"\"", f);
	}
	fprintf(f, "},\"count\":%" PRIu64, r->st.count);

	if (sl_ctl_type_has_sum(type)) {
		/* The exact decimal, spliced in as a raw number: a double would round it. */
		sl_agg_state_sum_format(&r->st, sum, sizeof(sum));
		if (is_json_number(sum))
			fprintf(f, ",\"sum\":%s", sum);
		else
			fputs(",\"sum\":null", f);
	}
	if (sl_ctl_type_has_minmax(type)) {
		json_double(f, "min", r->st.count ? r->st.min : NAN);
		json_double(f, "max", r->st.count ? r->st.max : NAN);
	}
	if (type == SL_METRIC_GAUGE)
		json_double(f, "last", r->st.count ? r->st.last : NAN);
	else if (sl_ctl_type_has_sum(type) && type != SL_METRIC_COUNTER)
		json_double(f, "avg",
			    r->st.count ? sl_agg_state_sum(&r->st) / (double)r->st.count : NAN);
	if (type == SL_METRIC_SET)
		fprintf(f, ",\"distinct\":%" PRIu64 ",\"distinct_exact\":%s", r->distinct,
			r->distinct_exact ? "true" : "false");
	fputc('}', f);
}
