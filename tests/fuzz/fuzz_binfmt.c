/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * libFuzzer target for the sluice binary format parser and encoder.
 *
 * The input is copied to a heap block of exactly its size, so ASan reports any
 * read past the datagram. Beyond memory safety it checks the parser's
 * contract:
 * - accounting: a rejected header counts 1; otherwise the datagram counts
 *   the announced events, + 1 when bytes follow them; valid + drops = counted,
 *   and only binary-parser reasons appear;
 * - sl_bin_parse_datagram() counts what the iterator finds, plus the events
 *   it never reached;
 * - every span lies in the datagram, is within its limit and valid UTF-8,
 *   keys are unique, numbers are finite and in range;
 * - the encoding is canonical: re-encoding a valid event gives exactly the
 *   bytes it was parsed from.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/common.h>

#include "binfmt.h"
#include "event.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c))                                                              \
			__builtin_trap();                                              \
	} while (0)

static void
check_span(struct sl_span sp, const uint8_t *buf, uint32_t len, uint32_t max)
{
	CHECK(sp.p != NULL);
	CHECK(sp.len <= max);
	CHECK(sp.p >= buf && sp.p <= buf + len && sp.len <= (uint32_t)(buf + len - sp.p));
	CHECK(sl_utf8_valid(sp.p, sp.len));
}

static void
check_event(const struct sl_event *ev, const uint8_t *buf, uint32_t len)
{
	CHECK(ev->scratch_used == 0);
	check_span(ev->name, buf, len, SL_EVENT_NAME_MAX);
	CHECK(ev->n_fields <= SL_EVENT_FIELDS_MAX);
	for (uint32_t i = 0; i < ev->n_fields; i++) {
		const struct sl_event_field *f = &ev->fields[i];

		check_span(f->key, buf, len, SL_EVENT_KEY_MAX);
		CHECK(sl_event_field_find(ev, f->key.p, f->key.len) == f);
		CHECK(f->kind < SL_FIELD__MAX);
		if (f->kind == SL_FIELD_STR)
			check_span(f->str, buf, len, SL_EVENT_STR_MAX);
		if (f->kind != SL_FIELD_NUM)
			continue;
		CHECK(isfinite(f->num) && fabs(f->num) <= SL_VALUE_MAX);
		CHECK(f->num_exact || f->num_micro == 0);
		CHECK(!f->num_exact || f->num_micro != INT64_MIN);
		CHECK(!f->num_exact || llabs(f->num_micro) >= (1LL << 53) ||
		      (double)f->num_micro / 1e6 == f->num);
	}
}

static bool
bin_reason(unsigned int r)
{
	return (r >= SL_DROP_BIN_SHORT && r <= SL_DROP_BIN_COUNT_MISMATCH) ||
	       (r >= SL_DROP_TOO_MANY_FIELDS && r <= SL_DROP_BAD_UTF8 &&
		r != SL_DROP_STRING_TOO_LONG) ||
	       r == SL_DROP_NAME_TOO_LONG || r == SL_DROP_BAD_VALUE || r == SL_DROP_VALUE_RANGE;
}

struct ctx {
	const uint8_t *buf;
	uint32_t len;
	uint32_t valid;
};

static void
on_event(const struct sl_event *e, void *arg)
{
	struct ctx *c = arg;

	check_event(e, c->buf, c->len);
	c->valid++;
}

static struct sl_event ev;
static uint8_t enc_buf[SL_BIN_HEADER_LEN + SL_BIN_EVENT_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t drops[SL_DROP__MAX] = { 0 }, it_drops[SL_DROP__MAX] = { 0 }, sum = 0;
	struct sl_bin_header h = { 0 }, h2 = { 0 };
	struct ctx c = { 0 };
	uint32_t len, off = 0, counted, expect, i, it_valid = 0;
	unsigned int rc;
	uint8_t *buf;

	if (size > UINT32_MAX)
		return 0;
	/* Exactly size bytes, so ASan flags a read of buf[size]. */
	buf = malloc(size);
	if (buf == NULL && size > 0)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	len = (uint32_t)size;
	c.buf = buf;
	c.len = len;

	rc = sl_bin_parse_header(buf, len, &h, &off);
	if (rc != SL_DROP__MAX) {
		CHECK(rc == SL_DROP_BIN_SHORT || rc == SL_DROP_BIN_BAD_MAGIC ||
		      rc == SL_DROP_BIN_BAD_VERSION);
		CHECK(sl_bin_parse_datagram(buf, len, drops, on_event, &c, &h2) == 1);
		CHECK(drops[rc] == 1 && c.valid == 0 && h2.version == 0);
		free(buf);
		return 0;
	}
	CHECK(off == SL_BIN_HEADER_LEN && h.version == SL_BIN_VERSION && h.flags == 0);

	/* The iterator, one call per announced event while bytes remain. */
	for (i = 0; i < h.count && off < len; i++) {
		uint32_t start = off;

		rc = sl_bin_next_event(buf, len, &off, &ev);
		CHECK(off > start && off <= len);
		if (rc != SL_DROP__MAX) {
			CHECK(bin_reason(rc));
			it_drops[rc]++;
			continue;
		}
		it_valid++;
		check_event(&ev, buf, len);
		/* Canonical: re-encoding gives back the very bytes. */
		{
			struct sl_bin_enc enc;
			uint32_t n = sl_bin_event_size(&ev);

			CHECK(n == off - start);
			CHECK(sl_bin_encode_begin(&enc, enc_buf, sizeof(enc_buf), h.producer,
						  h.seq) == 0);
			CHECK(sl_bin_encode_event(&enc, &ev) == 0);
			CHECK(sl_bin_encode_end(&enc) == SL_BIN_HEADER_LEN + n);
			CHECK(memcmp(enc_buf + SL_BIN_HEADER_LEN, buf + start, n) == 0);
			CHECK(memcmp(enc_buf, buf, 4) == 0);
			CHECK(memcmp(enc_buf + 8, buf + 8, 12) == 0);
		}
	}
	/* Past the end, the iterator keeps reporting truncated events. */
	if (i < h.count)
		CHECK(sl_bin_next_event(buf, len, &off, &ev) == SL_DROP_BIN_TRUNCATED);

	counted = sl_bin_parse_datagram(buf, len, drops, on_event, &c, &h2);
	expect = h.count + (i == h.count && off < len);
	CHECK(counted == expect);
	CHECK(h2.count == h.count && h2.producer == h.producer && h2.seq == h.seq);
	CHECK(c.valid == it_valid);
	for (unsigned int r = 0; r < SL_DROP__MAX; r++) {
		CHECK(drops[r] == 0 || bin_reason(r));
		sum += drops[r];
	}
	CHECK(counted == c.valid + sum);
	/* Same reasons as the iterator, plus the events it never reached. */
	for (unsigned int r = 0; r < SL_DROP__MAX; r++) {
		uint64_t extra = r == SL_DROP_BIN_TRUNCATED ? h.count - i :
				 r == SL_DROP_BIN_COUNT_MISMATCH ? (uint64_t)(counted - h.count) :
								   0;

		CHECK(drops[r] == it_drops[r] + extra);
	}
	free(buf);
	return 0;
}
