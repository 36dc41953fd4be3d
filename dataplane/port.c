/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>

#include "port.h"

RTE_LOG_REGISTER(sl_logtype_port, sluice.dp.port, INFO);
#define PORT_LOG(level, ...) rte_log(RTE_LOG_##level, sl_logtype_port, "port: " __VA_ARGS__)

#define MAX_SOCKETS 8
#define MBUF_CACHE 256

/*
 * A symmetric Toeplitz key (0x6d5a repeated): both directions of a flow hash
 * alike, so one event source always lands on one core.
 */
static uint8_t sym_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

static struct rte_mempool *pools[MAX_SOCKETS];

static struct rte_mempool *
pool_for_socket(unsigned int socket, uint32_t n_mbufs)
{
	char name[RTE_MEMPOOL_NAMESIZE];

	if (socket >= MAX_SOCKETS)
		socket = 0;
	if (pools[socket] != NULL)
		return pools[socket];
	snprintf(name, sizeof(name), "sl_mbuf_s%u", socket);
	pools[socket] = rte_pktmbuf_pool_create(name, n_mbufs, MBUF_CACHE, 0,
						RTE_MBUF_DEFAULT_BUF_SIZE, (int)socket);
	if (pools[socket] == NULL)
		PORT_LOG(DEBUG, "rte_pktmbuf_pool_create(%s): %s\n", name,
			 rte_strerror(rte_errno));
	return pools[socket];
}

int
sl_port_setup_all(const struct sl_port_conf *conf, struct sl_worker *workers,
		  unsigned int n_workers, char *err, size_t err_len)
{
	unsigned int next_worker = 0, pairs = 0;
	uint32_t n_mbufs;
	uint16_t port;
	int rc;

	if (rte_eth_dev_count_avail() == 0) {
		snprintf(err, err_len,
			 "no ports: give the EAL a NIC or a vdev, e.g. --vdev net_pcap0,rx_pcap=FILE");
		return -ENODEV;
	}
	/* Ask drivers that can (net_pcap, some NICs) for RX timestamps. */
	(void)rte_mbuf_dyn_rx_timestamp_register(NULL, NULL);

	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_conf pconf = { 0 };
		struct rte_eth_dev_info info;
		char name[RTE_ETH_NAME_MAX_LEN] = "";
		uint16_t nq, ntx = 0, nb_rxd = conf->nb_rxd;

		rc = rte_eth_dev_info_get(port, &info);
		if (rc != 0)
			goto fail;
		rte_eth_dev_get_name_by_port(port, name);
		if (info.driver_name != NULL && strcmp(info.driver_name, "net_pcap") == 0) {
			/* Each rx_pcap file is a queue: read them all. */
			nq = info.max_rx_queues;
		} else if (info.flow_type_rss_offloads != 0 && n_workers > 1) {
			nq = (uint16_t)RTE_MIN(n_workers, info.max_rx_queues);
			pconf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			pconf.rx_adv_conf.rss_conf.rss_key = sym_rss_key;
			pconf.rx_adv_conf.rss_conf.rss_key_len = sizeof(sym_rss_key);
			pconf.rx_adv_conf.rss_conf.rss_hf =
				info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
		} else {
			nq = 1;
		}
		if (nq == 0)
			nq = 1;
		if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)
			pconf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;

		rc = rte_eth_dev_configure(port, nq, 0, &pconf);
		if (rc != 0 && info.max_tx_queues > 0) {
			ntx = 1; /* some PMDs insist on a TX queue */
			rc = rte_eth_dev_configure(port, nq, ntx, &pconf);
		}
		if (rc != 0) {
			snprintf(err, err_len, "rte_eth_dev_configure(port=%u %s, rxq=%u): %s", port,
				 name, nq, rte_strerror(-rc));
			return rc;
		}
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, NULL);
		if (rc != 0)
			goto fail;

		for (uint16_t q = 0; q < nq; q++) {
			struct sl_worker *w = &workers[next_worker];
			struct rte_mempool *mp;

			if (w->n_rxq >= SL_MAX_QUEUES_PER_WORKER) {
				snprintf(err, err_len,
					 "too many RX queues: %u per worker at most, add worker lcores",
					 SL_MAX_QUEUES_PER_WORKER);
				return -E2BIG;
			}
			n_mbufs = conf->n_mbufs ? conf->n_mbufs : 8191;
			mp = pool_for_socket(w->socket, n_mbufs);
			if (mp == NULL) {
				snprintf(err, err_len, "cannot create the mbuf pool on socket %u: %s",
					 w->socket, rte_strerror(rte_errno));
				return -ENOMEM;
			}
			rc = rte_eth_rx_queue_setup(port, q, nb_rxd, w->socket, NULL, mp);
			if (rc != 0) {
				snprintf(err, err_len, "rte_eth_rx_queue_setup(port=%u, queue=%u): %s%s",
					 port, q, rte_strerror(-rc),
					 rc == -EINVAL || rc == -ENOMEM
						 ? " (net_pcap with infinite_rx=1 needs more mbufs than "
						   "the file has packets: raise --mbufs)"
						 : "");
				return rc;
			}
			w->rxq[w->n_rxq].port = port;
			w->rxq[w->n_rxq].queue = q;
			w->n_rxq++;
			next_worker = (next_worker + 1) % n_workers;
			pairs++;
		}
		if (ntx > 0) {
			rc = rte_eth_tx_queue_setup(port, 0, 512, rte_eth_dev_socket_id(port) < 0
					? 0 : (unsigned int)rte_eth_dev_socket_id(port), NULL);
			if (rc != 0) {
				snprintf(err, err_len, "rte_eth_tx_queue_setup(port=%u): %s", port,
					 rte_strerror(-rc));
				return rc;
			}
		}
		rc = rte_eth_dev_start(port);
		if (rc != 0) {
			snprintf(err, err_len, "rte_eth_dev_start(port=%u %s): %s", port, name,
				 rte_strerror(-rc));
			return rc;
		}
		/*
		 * Promiscuous mode for a NIC owned by DPDK; never for net_af_xdp, whose
		 * interface belongs to the kernel and must be left as it was.
		 */
		if (info.driver_name == NULL || strcmp(info.driver_name, "net_af_xdp") != 0)
			(void)rte_eth_promiscuous_enable(port);
		PORT_LOG(INFO, "port %u (%s, %s): %u RX queue(s)%s\n", port, name,
			 info.driver_name, nq, pconf.rxmode.mq_mode ? ", RSS" : "");
	}
	return (int)pairs;
fail:
	snprintf(err, err_len, "port %u: %s", port, rte_strerror(-rc));
	return rc;
}

void
sl_port_close_all(void)
{
	uint16_t port;

	RTE_ETH_FOREACH_DEV(port) {
		(void)rte_eth_dev_stop(port);
		(void)rte_eth_dev_close(port);
	}
}
