/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_BENCH_PCAP_WRITE_H
#define SL_BENCH_PCAP_WRITE_H

/**
 * @file
 * Minimal classic-pcap writer and Ethernet/IPv4/UDP frame builder (no libpcap).
 *
 * Files are written in the classic microsecond format (magic 0xa1b2c3d4,
 * version 2.4, snaplen 65535, linktype 1 = Ethernet), always little-endian so
 * that the same input gives the same bytes on every host. DPDK's net_pcap
 * vdev and tcpdump read them as is.
 *
 * Threading: none. A writer belongs to the caller that opened it.
 */

#include <stdint.h>

/** Ethernet II + IPv4 (no options) + UDP header bytes in front of the payload. */
#define SL_UDP4_HDR_LEN 42u

struct sl_pcap; /**< Opaque writer. */

/** Addresses of one UDP/IPv4 frame. IPs in host byte order. */
struct sl_udp4_addr {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t ip_id;
};

/**
 * Create (truncate) a pcap file and write its global header.
 *
 * @param path  File to create.
 * @param[out] ret_pcap  Set on success only; release with sl_pcap_close().
 * @return 0, or a negative errno.
 */
int sl_pcap_open(const char *path, struct sl_pcap **ret_pcap);

/**
 * Append one packet record.
 *
 * @param ts_us  Capture time in microseconds since the epoch (seconds must fit 32 bits).
 * @return 0, or a negative errno (write errors may also surface at sl_pcap_close()).
 */
int sl_pcap_write(struct sl_pcap *p, uint64_t ts_us, const uint8_t *frame, uint32_t len);

/** Packets written so far. */
uint64_t sl_pcap_packets(const struct sl_pcap *p);

/**
 * Flush and close. NULL is a no-op.
 *
 * @return 0, or a negative errno when a buffered write or the close failed.
 */
int sl_pcap_close(struct sl_pcap *p);

/**
 * Fill the Ethernet, IPv4 and UDP headers in front of a payload that the
 * caller already placed at @p frame + SL_UDP4_HDR_LEN.
 *
 * The IPv4 header has DF set, TTL 64 and a valid checksum; the UDP checksum
 * is computed too (never 0 on the wire).
 *
 * @param frame  Buffer of at least SL_UDP4_HDR_LEN + @p payload_len bytes.
 * @param payload_len  At most 65507.
 * @return The frame length, SL_UDP4_HDR_LEN + @p payload_len.
 */
uint32_t sl_udp4_headers_fill(uint8_t *frame, const struct sl_udp4_addr *a, uint32_t payload_len);

#endif /* SL_BENCH_PCAP_WRITE_H */
