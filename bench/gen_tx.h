/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_BENCH_GEN_TX_H
#define SL_BENCH_GEN_TX_H

/**
 * @file
 * sluice-gen's DPDK TX mode: frames out of one ethdev port with rte_eth_tx_burst.
 *
 * Built only with DPDK (SL_GEN_HAVE_DPDK); gen.c is the only caller. The port
 * gets one TX queue and one RX queue (some PMDs, memif among them, want an RX
 * queue; nothing is ever read from it). Frames are copied into mbufs of a
 * private pool (no hugepages needed) and sent in bursts of SL_GEN_TX_BURST.
 * A partial burst is retried while the port makes progress; what it still
 * refuses after SL_GEN_TX_STALL_MS without progress is freed and counted as
 * failed.
 *
 * Threading: none. One handle, used by the thread that opened it; the EAL
 * belongs to the process (sl_gen_tx_eal_init() once, sl_gen_tx_close() ends it).
 */

#include <stddef.h>
#include <stdint.h>

/** Frames per rte_eth_tx_burst() call. */
#define SL_GEN_TX_BURST 32u
/** A burst that makes no progress for this long gives up its remaining frames. */
#define SL_GEN_TX_STALL_MS 1000u

struct sl_gen_tx; /**< Opaque: the port, its mbuf pool and the pending burst. */

/** Counters of one handle. */
struct sl_gen_tx_stats {
	uint64_t sent;     /**< frames the port accepted */
	uint64_t failed;   /**< frames given up (port stalled, or no mbuf) */
	uint64_t bytes;    /**< bytes of the frames sent */
	uint64_t bursts;   /**< rte_eth_tx_burst() calls */
};

/**
 * Initialize the EAL.
 *
 * @param argc, argv  EAL arguments, argv[0] being the program name; the EAL may
 *                    reorder them.
 * @param err, err_len  Receives a message on failure.
 * @return 0, or a negative errno.
 */
int sl_gen_tx_eal_init(int argc, char **argv, char *err, size_t err_len);

/**
 * Configure and start @p port (1 RX + 1 TX queue), then wait up to
 * @p link_timeout_ms for its link to come up.
 *
 * @param[out] ret_tx  Set on success only; release with sl_gen_tx_close().
 * @param err, err_len  Receives a message on failure.
 * @return 0, or a negative errno (-ENODEV: no such port, -ETIMEDOUT: link down).
 */
int sl_gen_tx_open(uint16_t port, uint32_t link_timeout_ms, struct sl_gen_tx **ret_tx,
		   char *err, size_t err_len);

/**
 * Queue one frame (copied); a full burst is sent at once.
 *
 * @return 0, or -ENOBUFS when no mbuf could be had even after flushing (the
 *         frame is then counted as failed).
 */
int sl_gen_tx_enqueue(struct sl_gen_tx *tx, const uint8_t *frame, uint32_t len);

/** Send every queued frame now (retrying partial bursts, see the file comment). */
void sl_gen_tx_flush(struct sl_gen_tx *tx);

/** Frames queued and not yet handed to the port. */
uint32_t sl_gen_tx_pending(const struct sl_gen_tx *tx);

/** Copy the counters. */
void sl_gen_tx_stats_get(const struct sl_gen_tx *tx, struct sl_gen_tx_stats *ret_stats);

/**
 * Flush, give the peer @p drain_ms to read what is in flight, stop and close
 * the port, free the pool and clean up the EAL. NULL only cleans up the EAL
 * (after a failed sl_gen_tx_open()).
 */
void sl_gen_tx_close(struct sl_gen_tx *tx, uint32_t drain_ms);

#endif /* SL_BENCH_GEN_TX_H */
