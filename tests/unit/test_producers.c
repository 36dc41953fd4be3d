/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/* Unit tests of dataplane/producers.c: binary producers' sequence numbers. */

#include <stdlib.h>

#include "producers.h"
#include "sl_test.h"

SL_TEST(in_order_gaps_and_late_datagrams)
{
	struct sl_producers *t = malloc(sizeof(*t));

	sl_producers_init(t);
	for (uint64_t s = 1; s <= 100; s++)
		sl_producers_seen(t, 7, s);
	SL_ASSERT_EQ(t->stats.lost, 0);
	SL_ASSERT_EQ(t->stats.producers, 1);
	sl_producers_seen(t, 7, 105); /* 101..104 missing */
	SL_ASSERT_EQ(t->stats.lost, 4);
	sl_producers_seen(t, 7, 102); /* one of them was only late */
	SL_ASSERT_EQ(t->stats.lost, 3);
	SL_ASSERT_EQ(t->stats.reordered, 1);
	sl_producers_seen(t, 7, 106);
	SL_ASSERT_EQ(t->stats.lost, 3);
	/* Another producer starting anywhere: no gap before its first datagram. */
	sl_producers_seen(t, 8, 1000);
	sl_producers_seen(t, 8, 1001);
	SL_ASSERT_EQ(t->stats.lost, 3);
	SL_ASSERT_EQ(t->stats.producers, 2);
	/* seq 0 and the largest seq are valid. */
	sl_producers_seen(t, 9, 0);
	sl_producers_seen(t, 9, 1);
	sl_producers_seen(t, 10, UINT64_MAX);
	SL_ASSERT_EQ(t->stats.lost, 3);
	SL_ASSERT_EQ(t->stats.untracked, 0);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST(a_full_table_counts_untracked)
{
	struct sl_producers *t = malloc(sizeof(*t));

	sl_producers_init(t);
	for (uint32_t p = 0; p < SL_PRODUCERS_MAX; p++)
		sl_producers_seen(t, p * 2654435761u, 1);
	SL_ASSERT_EQ(t->stats.producers, SL_PRODUCERS_MAX);
	sl_producers_seen(t, 12345, 1);
	sl_producers_seen(t, 12345, 2);
	SL_ASSERT_EQ(t->stats.untracked, 2);
	/* The tracked ones still work. */
	sl_producers_seen(t, 0, 3);
	SL_ASSERT_EQ(t->stats.lost, 1);
	free(t);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
