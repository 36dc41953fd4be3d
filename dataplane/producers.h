/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_PRODUCERS_H
#define SL_DP_PRODUCERS_H

/**
 * @file
 * Per-core sequence tracking of binary-format producers (docs/wire-format.md:
 * every datagram carries its producer id and a sequence number, +1 per
 * datagram). A gap is datagrams lost before sluice (in the network or the
 * producer): they never arrived, so they are not part of the received
 * identity, but they are counted, never silent. RSS keeps a producer's flow on
 * one core, so one core sees all of a producer's datagrams.
 *
 * A fixed open-addressing table in caller memory; no allocation, owned by one
 * core. A producer that finds the table full is counted as untracked.
 */

#include <stdint.h>

/** Producers tracked per core. */
#define SL_PRODUCERS_MAX 4096

struct sl_producers_stats {
	uint64_t lost;       /**< Datagrams missing from the sequences (gaps not filled later). */
	uint64_t reordered;  /**< Datagrams older than the newest of their producer (late or duplicate). */
	uint64_t untracked;  /**< Datagrams of producers beyond SL_PRODUCERS_MAX. */
	uint64_t producers;  /**< Producers seen. */
};

struct sl_producers {
	struct sl_producers_stats stats;
	struct {
		uint64_t next;   /**< Sequence number expected next; 0: empty slot. */
		uint32_t id;
	} slot[SL_PRODUCERS_MAX * 2];
};

/** Empty @p t. */
void sl_producers_init(struct sl_producers *t);

/** Account datagram @p seq of producer @p id. */
void sl_producers_seen(struct sl_producers *t, uint32_t id, uint64_t seq);

#endif /* SL_DP_PRODUCERS_H */
