/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/* Binary producers' sequence numbers, per core (producers.h). */

#include <string.h>

#include "producers.h"

#define N_SLOTS (SL_PRODUCERS_MAX * 2)

void
sl_producers_init(struct sl_producers *t)
{
	memset(t, 0, sizeof(*t));
}

void
sl_producers_seen(struct sl_producers *t, uint32_t id, uint64_t seq)
{
	uint32_t i = (uint32_t)((id * 0x9E3779B1u) >> 19) & (N_SLOTS - 1);

	for (uint32_t probes = 0; probes < N_SLOTS; probes++, i = (i + 1) & (N_SLOTS - 1)) {
		if (t->slot[i].next == 0) {
			if (t->stats.producers == SL_PRODUCERS_MAX)
				break;
			t->slot[i].id = id;
			t->slot[i].next = seq + 1 != 0 ? seq + 1 : 1;
			t->stats.producers++;
			return;
		}
		if (t->slot[i].id != id)
			continue;
		if (seq >= t->slot[i].next) {
			t->stats.lost += seq - t->slot[i].next;
			t->slot[i].next = seq + 1;
		} else {
			/* Late (it was counted as lost) or a duplicate. */
			t->stats.reordered++;
			if (t->stats.lost > 0)
				t->stats.lost--;
		}
		return;
	}
	t->stats.untracked++;
}
