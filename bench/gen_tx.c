/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "gen_tx.h"

#define TX_POOL_MBUFS 8191u
#define TX_POOL_CACHE 256u
#define TX_NB_TXD 1024u
#define TX_NB_RXD 128u
#define TX_LINK_POLL_MS 10u

struct sl_gen_tx {
	uint16_t port;
	bool started;
	struct rte_mempool *pool;                 /* owned */
	struct rte_mbuf *burst[SL_GEN_TX_BURST];  /* queued, owned until sent */
	uint32_t n;
	uint64_t stall_cycles;
	struct sl_gen_tx_stats stats;
};

static void
sleep_ms(uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
sl_gen_tx_eal_init(int argc, char **argv, char *err, size_t err_len)
{
	int rc;

	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		snprintf(err, err_len, "rte_eal_init: %s", rte_strerror(rte_errno));
		return rte_errno > 0 ? -rte_errno : -EINVAL;
	}
	return 0;
}

static int
port_start(struct sl_gen_tx *tx, uint32_t link_timeout_ms, char *err, size_t err_len)
{
	uint64_t hz = rte_get_timer_hz();
	uint64_t deadline = rte_get_timer_cycles() + hz * link_timeout_ms / 1000;
	struct rte_eth_link link;
	int rc;

	/* A memif client cannot start before its server listens: retry until the deadline. */
	for (;;) {
		rc = rte_eth_dev_start(tx->port);
		if (rc == 0)
			break;
		if (rte_get_timer_cycles() >= deadline) {
			snprintf(err, err_len, "rte_eth_dev_start(port %u): %s (for a memif client: "
				 "is the server listening on its socket?)", tx->port,
				 rte_strerror(-rc));
			return rc;
		}
		sleep_ms(100);
	}
	tx->started = true;
	for (;;) {
		memset(&link, 0, sizeof(link));
		rc = rte_eth_link_get_nowait(tx->port, &link);
		if (rc == 0 && link.link_status == RTE_ETH_LINK_UP)
			return 0;
		if (rte_get_timer_cycles() >= deadline)
			break;
		sleep_ms(TX_LINK_POLL_MS);
	}
	snprintf(err, err_len, "port %u: link still down after %u ms (is the peer running and "
		 "connected?)", tx->port, link_timeout_ms);
	return -ETIMEDOUT;
}

int
sl_gen_tx_open(uint16_t port, uint32_t link_timeout_ms, struct sl_gen_tx **ret_tx, char *err,
	       size_t err_len)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	char name[RTE_ETH_NAME_MAX_LEN] = "";
	uint16_t nb_txd = TX_NB_TXD, nb_rxd = TX_NB_RXD;
	uint16_t nb_rxq = 0;
	struct sl_gen_tx *tx;
	int socket;
	int rc;

	if (!rte_eth_dev_is_valid_port(port)) {
		snprintf(err, err_len, "no port %u: %u port(s) available (give the EAL a NIC or a "
			 "vdev, e.g. --vdev net_memif0,role=client,socket=PATH)", port,
			 rte_eth_dev_count_avail());
		return -ENODEV;
	}
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	tx->port = port;
	tx->stall_cycles = rte_get_timer_hz() * SL_GEN_TX_STALL_MS / 1000;
	rte_eth_dev_get_name_by_port(port, name);

	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0) {
		snprintf(err, err_len, "rte_eth_dev_info_get(port %u %s): %s", port, name,
			 rte_strerror(-rc));
		goto err;
	}
	socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = SOCKET_ID_ANY;
	tx->pool = rte_pktmbuf_pool_create("sl_gen_tx", TX_POOL_MBUFS, TX_POOL_CACHE, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (tx->pool == NULL) {
		rc = -rte_errno;
		snprintf(err, err_len, "mbuf pool (%u mbufs): %s", TX_POOL_MBUFS,
			 rte_strerror(rte_errno));
		goto err;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	/*
	 * TX only when the PMD allows it: a memif server that only receives (sluiced)
	 * has no S2C ring, and a client RX queue would ask for one ("Invalid ring
	 * index"). PMDs that insist on an RX queue get one, never polled.
	 */
	rc = rte_eth_dev_configure(port, 0, 1, &conf);
	if (rc != 0) {
		nb_rxq = 1;
		rc = rte_eth_dev_configure(port, nb_rxq, 1, &conf);
	}
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	if (rc != 0) {
		snprintf(err, err_len, "rte_eth_dev_configure(port %u %s, 1 txq): %s", port,
			 name, rte_strerror(-rc));
		goto err;
	}
	if (nb_rxq > 0)
		rc = rte_eth_rx_queue_setup(port, 0, nb_rxd,
					    (unsigned int)rte_eth_dev_socket_id(port), NULL,
					    tx->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, nb_txd,
					    (unsigned int)rte_eth_dev_socket_id(port), NULL);
	if (rc != 0) {
		snprintf(err, err_len, "queue setup (port %u %s): %s", port, name,
			 rte_strerror(-rc));
		goto err;
	}
	rc = port_start(tx, link_timeout_ms, err, err_len);
	if (rc != 0)
		goto err;
	*ret_tx = tx;
	return 0;
err:
	if (tx->started)
		(void)rte_eth_dev_stop(port);
	(void)rte_eth_dev_close(port);
	rte_mempool_free(tx->pool);
	free(tx);
	return rc < 0 ? rc : -EIO;
}

void
sl_gen_tx_flush(struct sl_gen_tx *tx)
{
	uint64_t last_progress = 0;
	uint32_t done = 0;
	uint16_t k;

	while (done < tx->n) {
		k = rte_eth_tx_burst(tx->port, 0, tx->burst + done, (uint16_t)(tx->n - done));
		tx->stats.bursts++;
		if (k > 0) {
			done += k;
			last_progress = 0;
			continue;
		}
		/* No progress: retry until the port has been stalled for a while. */
		if (last_progress == 0)
			last_progress = rte_get_timer_cycles();
		else if (rte_get_timer_cycles() - last_progress > tx->stall_cycles)
			break;
		rte_pause();
	}
	tx->stats.sent += done;
	if (done < tx->n) {
		/* Unsent mbufs are still ours: free them and count them. */
		for (uint32_t i = done; i < tx->n; i++)
			tx->stats.bytes -= rte_pktmbuf_pkt_len(tx->burst[i]);
		rte_pktmbuf_free_bulk(tx->burst + done, tx->n - done);
		tx->stats.failed += tx->n - done;
	}
	tx->n = 0;
}

int
sl_gen_tx_enqueue(struct sl_gen_tx *tx, const uint8_t *frame, uint32_t len)
{
	struct rte_mbuf *m;
	char *p;

	m = rte_pktmbuf_alloc(tx->pool);
	if (m == NULL && tx->n > 0) {
		/* The PMD may free completed mbufs on the next burst. */
		sl_gen_tx_flush(tx);
		m = rte_pktmbuf_alloc(tx->pool);
	}
	for (int i = 0; m == NULL && i < 1000; i++) {
		/* Some PMDs free TX mbufs lazily, only when asked to send more. */
		(void)rte_eth_tx_done_cleanup(tx->port, 0, 0);
		sleep_ms(1);
		m = rte_pktmbuf_alloc(tx->pool);
	}
	if (m == NULL) {
		tx->stats.failed++;
		return -ENOBUFS;
	}
	p = rte_pktmbuf_append(m, (uint16_t)len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		tx->stats.failed++;
		return -EMSGSIZE;
	}
	memcpy(p, frame, len);
	tx->stats.bytes += len;
	tx->burst[tx->n++] = m;
	if (tx->n == SL_GEN_TX_BURST)
		sl_gen_tx_flush(tx);
	return 0;
}

uint32_t
sl_gen_tx_pending(const struct sl_gen_tx *tx)
{
	return tx->n;
}

void
sl_gen_tx_stats_get(const struct sl_gen_tx *tx, struct sl_gen_tx_stats *ret_stats)
{
	*ret_stats = tx->stats;
}

void
sl_gen_tx_close(struct sl_gen_tx *tx, uint32_t drain_ms)
{
	if (tx != NULL) {
		sl_gen_tx_flush(tx);
		if (drain_ms > 0)
			sleep_ms(drain_ms);
		if (tx->started)
			(void)rte_eth_dev_stop(tx->port);
		(void)rte_eth_dev_close(tx->port);
		rte_mempool_free(tx->pool);
		free(tx);
	}
	(void)rte_eal_cleanup();
}
