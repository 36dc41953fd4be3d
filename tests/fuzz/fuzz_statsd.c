/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * libFuzzer target for the statsd parser.
 *
 * The input is copied to a heap block of exactly its size, so ASan reports any
 * read past the datagram. Beyond memory safety it checks the parser's
 * contract: every line is counted once (valid or with a reason), every span
 * lies inside the datagram, numbers are finite and in range, and a numeric
 * value is the same double strtod() gives for its text.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/common.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	const uint8_t *buf;
	uint32_t len;
	uint32_t valid;
};

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c))                                                              \
			__builtin_trap();                                              \
	} while (0)

static void
check_span(const struct fuzz_ctx *c, struct sl_span sp, uint32_t min, uint32_t max)
{
	CHECK(sp.len >= min && sp.len <= max);
	CHECK(sp.p >= c->buf && sp.p <= c->buf + c->len);
	CHECK(sp.len <= (uint32_t)(c->buf + c->len - sp.p));
}

/* The value text starts after the name's ':' and ends at the next '|'. */
static void
check_value_text(const struct fuzz_ctx *c, const struct sl_statsd_event *ev)
{
	const uint8_t *p = ev->name.p + ev->name.len + 1;
	const uint8_t *end = c->buf + c->len;
	char text[SL_LINE_MAX + 1], *text_end;
	uint32_t n = 0;
	double v;

	CHECK(p[-1] == ':');
	while (p + n < end && p[n] != '|')
		n++;
	CHECK(n > 0 && n <= SL_LINE_MAX);
	memcpy(text, p, n);
	text[n] = '\0';
	v = strtod(text, &text_end);
	CHECK(text_end == text + n);
	CHECK(memcmp(&v, &ev->value, sizeof(v)) == 0);
}

static void
on_event(const struct sl_statsd_event *ev, void *arg)
{
	struct fuzz_ctx *c = arg;

	c->valid++;
	CHECK(ev->type < SL_METRIC__MAX);
	check_span(c, ev->name, 1, SL_NAME_MAX);
	CHECK(ev->n_tags <= SL_TAGS_MAX);
	for (uint32_t i = 0; i < ev->n_tags; i++)
		check_span(c, ev->tags[i], 1, SL_TAG_MAX);
	CHECK(isfinite(ev->rate) && ev->rate > 0.0 && ev->rate <= 1.0);
	CHECK(!ev->rate_exact || (ev->rate_micro > 0 && ev->rate_micro <= 1000000));
	CHECK(ev->ts_ns % SL_NS_PER_SEC == 0);
	if (ev->type == SL_METRIC_SET) {
		check_span(c, ev->member, 1, SL_MEMBER_MAX);
		return;
	}
	CHECK(ev->member.p == NULL && ev->member.len == 0);
	CHECK(isfinite(ev->value) && fabs(ev->value) <= SL_VALUE_MAX);
	/* An exact value_micro below 2^53 converts back to the same double. */
	CHECK(!ev->value_exact || llabs(ev->value_micro) >= (1LL << 53) ||
	      (double)ev->value_micro / 1e6 == ev->value);
	check_value_text(c, ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t drops[SL_DROP__MAX] = { 0 };
	struct fuzz_ctx c = { 0 };
	uint64_t sum = 0;
	uint32_t lines;
	uint8_t *buf;

	if (size > UINT32_MAX)
		return 0;
	/* Exactly size bytes, so ASan flags a read of buf[size]. */
	buf = malloc(size);
	if (buf == NULL && size > 0)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	c.buf = buf;
	c.len = (uint32_t)size;

	lines = sl_statsd_parse_datagram(buf, (uint32_t)size, drops, on_event, &c);
	for (unsigned int r = 0; r < SL_DROP__MAX; r++) {
		/* Only per-line reasons can come out of the parser. */
		CHECK(drops[r] == 0 || (r >= SL_DROP_EMPTY_LINE && r <= SL_DROP_MEMBER_TOO_LONG));
		sum += drops[r];
	}
	CHECK(lines == c.valid + sum);
	CHECK(lines <= size);
	free(buf);
	return 0;
}
