/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * libFuzzer target for the stored aggregate states: what sluicectl (and later
 * queries) read back from LMDB must never crash the reader, whatever the bytes.
 *
 * The first input byte picks the decoder: the statsd state (agg.c) or one of the
 * default config's view plans (view.c). For view states the CRC-32C at the end
 * is repaired when the second byte is odd, so the fuzzer reaches the checks
 * behind it. Every accepted input must serialize back to the same bytes
 * (the formats are canonical) and merge with itself without error.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "config.h"
#include "sketch.h"
#include "view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sl_config *cfg;
static struct sl_view_plan *plans[8];
static uint32_t n_plans;

static void
setup(void)
{
	struct sl_config_error err;
	const char *y = sl_config_default_yaml();

	if (sl_config_load_string(y, strlen(y), "default", &cfg, &err) != 0)
		abort();
	for (uint32_t i = 0; i < cfg->n_views && n_plans < 8; i++)
		if (sl_view_plan_create(&cfg->views[i], &(struct sl_view_plan_params){ .cfg = cfg },
					&plans[n_plans]) == 0)
			n_plans++;
}

static void
fuzz_agg(const uint8_t *buf, size_t len)
{
	struct sl_agg_state st, st2;
	struct sl_agg_set *set = NULL, *set2 = NULL;
	uint8_t type;
	uint8_t *out;
	size_t n;

	if (sl_agg_state_deserialize(buf, len, &type, &st, &set) != 0)
		return;
	out = malloc(sl_agg_state_serialized_size(set));
	if (out == NULL)
		abort();
	n = sl_agg_state_serialize(type, &st, set, out);
	if (n != len || memcmp(out, buf, len) != 0)
		abort(); /* not canonical */
	st2 = st;
	sl_agg_state_merge(&st2, &st);
	if (set != NULL) {
		set2 = sl_agg_set_create();
		if (set2 == NULL || sl_agg_set_merge(set2, set) != 0 ||
		    sl_agg_set_count(set2) != sl_agg_set_count(set))
			abort();
	}
	sl_agg_set_destroy(set2);
	sl_agg_set_destroy(set);
	free(out);
}

static void
fuzz_view(const struct sl_view_plan *plan, uint8_t *buf, size_t len, int fix_crc)
{
	size_t gs = sl_view_plan_group_size(plan);
	struct sl_agg_set *sets[32] = { 0 }, *sets2[32] = { 0 };
	void *block = aligned_alloc(64, (gs + 63) & ~(size_t)63);
	void *block2 = aligned_alloc(64, (gs + 63) & ~(size_t)63);
	uint8_t *out = NULL;
	size_t cap, n;

	if (block == NULL || block2 == NULL)
		abort();
	if (fix_crc && len >= 8) {
		uint32_t crc = sl_sketch_crc32c(buf, len - 4);

		for (int i = 0; i < 4; i++)
			buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
	}
	if (sl_view_state_deserialize(plan, buf, len, block, sets) != 0)
		goto out;
	cap = sl_view_state_serialized_max(plan, sets);
	out = malloc(cap);
	if (out == NULL)
		abort();
	n = sl_view_state_serialize(plan, block, sets, out, cap);
	if (n != len || memcmp(out, buf, len) != 0)
		abort(); /* not canonical */
	sl_view_state_init(plan, block2);
	if (sl_view_state_merge(plan, block2, sets2, block, sets) != 0)
		goto out;
out:
	for (int i = 0; i < 32; i++) {
		sl_agg_set_destroy(sets[i]);
		sl_agg_set_destroy(sets2[i]);
	}
	free(out);
	free(block);
	free(block2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	if (cfg == NULL)
		setup();
	if (size < 2)
		return 0;
	/* An exact-size heap copy: ASan sees any read past the end. */
	buf = malloc(size - 2 ? size - 2 : 1);
	if (buf == NULL)
		abort();
	memcpy(buf, data + 2, size - 2);
	if (data[0] % (n_plans + 1) == 0)
		fuzz_agg(buf, size - 2);
	else
		fuzz_view(plans[data[0] % (n_plans + 1) - 1], buf, size - 2, data[1] & 1);
	free(buf);
	return 0;
}
