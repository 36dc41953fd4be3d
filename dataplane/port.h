/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_PORT_H
#define SL_DP_PORT_H

/**
 * @file
 * Port setup: every port the EAL found is configured with RX queues (RSS over
 * as many queues as workers when the port supports it; one queue per file for
 * net_pcap), each queue's descriptors and mbufs on the socket of the worker
 * that polls it, and (port, queue) pairs assigned round-robin to workers.
 *
 * Threading: called from the main lcore before workers start and after they
 * stop. Not thread-safe.
 */

#include <stdint.h>

#include "worker.h"

struct sl_port_conf {
	uint16_t nb_rxd;   /**< RX descriptors per queue. */
	uint32_t n_mbufs;  /**< mbufs per socket (0: computed). */
};

/**
 * Configure and start every port, and fill each worker's rxq list.
 * @return number of (port, queue) pairs, or a negative errno (logged at DEBUG;
 *         the caller logs at ERR with the message in @p err).
 */
int sl_port_setup_all(const struct sl_port_conf *conf, struct sl_worker *workers,
		      unsigned int n_workers, char *err, size_t err_len);

/** Stop and close every port. */
void sl_port_close_all(void);

#endif /* SL_DP_PORT_H */
