/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_EBPF_SL_XDP_H
#define SL_EBPF_SL_XDP_H

/**
 * @file
 * Definitions shared by the XDP program (sl_xdp.bpf.c) and user space
 * (loader.c): map names, map key and value layouts, the verdict counters.
 *
 * Only <linux/types.h> types: this header is compiled by clang -target bpf
 * and by the host compiler. Every struct is padded by hand so both sides agree
 * on its layout.
 */

#include <linux/types.h>

/*
 * Map names (the kernel keeps 15 characters). `xsks_map` is the name that
 * DPDK's net_af_xdp PMD looks up when it is given xdp_prog=: it inserts each
 * AF_XDP socket under its RX queue index.
 */
#define SL_XDP_MAP_XSKS "xsks_map"
#define SL_XDP_MAP_PORTS "sl_xdp_ports"
#define SL_XDP_MAP_CONF "sl_xdp_conf"
#define SL_XDP_MAP_STATS "sl_xdp_stats"
#define SL_XDP_MAP_DENY4 "sl_xdp_deny4"
#define SL_XDP_MAP_DENY6 "sl_xdp_deny6"
#define SL_XDP_MAP_ALLOW4 "sl_xdp_allow4"
#define SL_XDP_MAP_ALLOW6 "sl_xdp_allow6"

/* Map sizes. Every map together stays far below 1 MiB (see docs/operations.md). */
#define SL_XDP_MAX_QUEUES 64     /**< xsks_map entries: RX queues of one interface. */
#define SL_XDP_MAX_PORTS 64      /**< UDP destination ports sent to sluice. */
#define SL_XDP_MAX_PREFIXES 4096 /**< Entries in each deny/allow trie. */

/**
 * Verdict counters: X(enum suffix, label, verdict). The per-CPU array
 * sl_xdp_stats has one struct sl_xdp_counter per entry; every packet the
 * program sees is counted in exactly one.
 */
#define SL_XDP_STATS(_)                                                         \
	_(REDIRECT, "redirect", "redirect")       /* event datagram -> AF_XDP */  \
	_(NO_SOCKET, "no_socket", "pass")         /* event, no socket on queue */ \
	_(DENY, "deny", "drop")                   /* event, source on deny list */ \
	_(NOT_ALLOWED, "not_allowed", "drop")     /* event, source not allowed */ \
	_(OTHER_PORT, "other_port", "pass")       /* UDP, not an event port */    \
	_(NOT_UDP, "not_udp", "pass")             /* IPv4/IPv6, not UDP */        \
	_(NOT_IP, "not_ip", "pass")               /* ARP, LLDP, QinQ, ... */      \
	_(FRAGMENT, "fragment", "pass")           /* IPv4 or IPv6 fragment */     \
	_(IP6_EXT, "ip6_ext", "pass")             /* IPv6 extension header */     \
	_(MALFORMED, "malformed", "pass")         /* truncated or bad header */

enum sl_xdp_stat {
#define _(e, label, verdict) SL_XDP_STAT_##e,
	SL_XDP_STATS(_)
#undef _
	SL_XDP_STAT__MAX,
};

/** One sl_xdp_stats slot (per CPU). */
struct sl_xdp_counter {
	__u64 packets;
	__u64 bytes; /**< Frame bytes as seen by XDP (Ethernet header included). */
};

/** sl_xdp_conf[0]. */
struct sl_xdp_conf {
	__u32 flags; /**< SL_XDP_F_* */
	__u32 pad;
};

/** Drop event datagrams whose source is not in the allow tries. */
#define SL_XDP_F_ALLOW 0x1u

/** sl_xdp_ports value; the key is the UDP destination port (__u16, host order). */
struct sl_xdp_port {
	__u32 flags; /**< Reserved, 0. */
	__u32 pad;
};

/** LPM trie keys (BPF_MAP_TYPE_LPM_TRIE: prefix length first, address in network order). */
struct sl_xdp_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct sl_xdp_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/** Deny/allow entry value: packets that matched this entry (shared, atomic adds). */
struct sl_xdp_lpm_val {
	__u64 hits;
};

#endif /* SL_EBPF_SL_XDP_H */
