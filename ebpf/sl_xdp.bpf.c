/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-3-Clause)
 * Copyright (c) 2026 The sluice authors
 */

/*
 * sluice's XDP program: event datagrams (UDP to a port in sl_xdp_ports) go to
 * the AF_XDP socket of their RX queue, everything else goes to the kernel.
 *
 * Per frame: Ethernet, at most one 802.1Q tag, IPv4 (options allowed) or IPv6,
 * UDP. Each header is bounds-checked against data_end before it is read; a
 * frame too short for the headers it announces is passed to the kernel and
 * counted as malformed (the kernel drops and counts it the usual way).
 * For event datagrams only, the source address is looked up in the deny tries
 * (drop) and, when SL_XDP_F_ALLOW is set, in the allow tries (drop if absent).
 * The lists never touch other traffic, so a mistake in them cannot cut SSH or
 * monitoring off.
 *
 * Fragments (IPv4 MF or offset, IPv6 fragment header) all go to the kernel:
 * only the first fragment carries the UDP port, and sending the first piece to
 * sluice and the rest to the kernel would lose the datagram on both sides.
 *
 * Every frame is counted in exactly one slot of the per-CPU sl_xdp_stats.
 *
 * Run-time settings are maps, not `const volatile` globals, because DPDK's
 * net_af_xdp PMD opens and loads this object itself (xdp_prog=): user space
 * changes ports, lists and flags on the live program without a reload.
 */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sl_xdp.h"

/* 802.1Q tag: linux/if_vlan.h is not a UAPI header. */
struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, SL_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_XDP_MAX_PORTS);
	__type(key, __u16);
	__type(value, struct sl_xdp_port);
} sl_xdp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_xdp_conf);
} sl_xdp_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_XDP_STAT__MAX);
	__type(key, __u32);
	__type(value, struct sl_xdp_counter);
} sl_xdp_stats SEC(".maps");

#define SL_LPM_MAP(_name, _key)                                   \
	struct {                                                  \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);              \
		__uint(max_entries, SL_XDP_MAX_PREFIXES);         \
		__uint(map_flags, BPF_F_NO_PREALLOC);             \
		__type(key, _key);                                \
		__type(value, struct sl_xdp_lpm_val);             \
	} _name SEC(".maps")

SL_LPM_MAP(sl_xdp_deny4, struct sl_xdp_lpm4);
SL_LPM_MAP(sl_xdp_deny6, struct sl_xdp_lpm6);
SL_LPM_MAP(sl_xdp_allow4, struct sl_xdp_lpm4);
SL_LPM_MAP(sl_xdp_allow6, struct sl_xdp_lpm6);

/* A header cursor: every pull checks the whole header against the frame end. */
struct cursor {
	void *pos;
	void *end;
};

static __always_inline void *
pull(struct cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

/* Source address of the event datagram, for the deny/allow tries. */
struct src {
	int v6;
	struct sl_xdp_lpm4 k4;
	struct sl_xdp_lpm6 k6;
};

static __always_inline int
src_in(struct src *s, void *map4, void *map6)
{
	struct sl_xdp_lpm_val *v;

	v = s->v6 ? bpf_map_lookup_elem(map6, &s->k6) : bpf_map_lookup_elem(map4, &s->k4);
	if (v == NULL)
		return 0;
	__sync_fetch_and_add(&v->hits, 1);
	return 1;
}

/*
 * An event datagram: apply the lists, then hand it to the AF_XDP socket of
 * this RX queue. bpf_redirect_map() returns its fallback (XDP_PASS) when no
 * socket is bound to the queue, so a misconfigured queue leaks to the kernel
 * (counted as no_socket) instead of dropping.
 */
static __always_inline int
event(struct xdp_md *ctx, struct src *s, __u32 *ret_stat)
{
	struct sl_xdp_conf *conf;
	__u32 zero = 0;
	int act;

	if (src_in(s, &sl_xdp_deny4, &sl_xdp_deny6)) {
		*ret_stat = SL_XDP_STAT_DENY;
		return XDP_DROP;
	}
	conf = bpf_map_lookup_elem(&sl_xdp_conf, &zero);
	if (conf != NULL && (conf->flags & SL_XDP_F_ALLOW) &&
	    !src_in(s, &sl_xdp_allow4, &sl_xdp_allow6)) {
		*ret_stat = SL_XDP_STAT_NOT_ALLOWED;
		return XDP_DROP;
	}
	act = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
	*ret_stat = act == XDP_REDIRECT ? SL_XDP_STAT_REDIRECT : SL_XDP_STAT_NO_SOCKET;
	return act;
}

static __always_inline int
udp(struct xdp_md *ctx, struct cursor *c, struct src *s, __u32 *ret_stat)
{
	struct udphdr *uh = pull(c, sizeof(*uh));
	__u16 port;

	if (uh == NULL) {
		*ret_stat = SL_XDP_STAT_MALFORMED;
		return XDP_PASS;
	}
	port = bpf_ntohs(uh->dest);
	if (bpf_map_lookup_elem(&sl_xdp_ports, &port) == NULL) {
		*ret_stat = SL_XDP_STAT_OTHER_PORT;
		return XDP_PASS;
	}
	return event(ctx, s, ret_stat);
}

static __always_inline int
ipv4(struct xdp_md *ctx, struct cursor *c, __u32 *ret_stat)
{
	struct iphdr *ip = pull(c, sizeof(*ip));
	struct src s;
	__u32 hlen;

	if (ip == NULL || ip->version != 4 || ip->ihl < 5) {
		*ret_stat = SL_XDP_STAT_MALFORMED;
		return XDP_PASS;
	}
	/* Options: skip them, still bounds-checked (ihl is 5..15). */
	hlen = (__u32)ip->ihl * 4 - sizeof(*ip);
	if (hlen > 0 && pull(c, hlen) == NULL) {
		*ret_stat = SL_XDP_STAT_MALFORMED;
		return XDP_PASS;
	}
	if (ip->protocol != IPPROTO_UDP) {
		*ret_stat = SL_XDP_STAT_NOT_UDP;
		return XDP_PASS;
	}
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
		*ret_stat = SL_XDP_STAT_FRAGMENT;
		return XDP_PASS;
	}
	/* memset, not an initializer: clang would put it in a .rodata map. */
	__builtin_memset(&s, 0, sizeof(s));
	s.k4.prefixlen = 32;
	__builtin_memcpy(s.k4.addr, &ip->saddr, sizeof(s.k4.addr));
	return udp(ctx, c, &s, ret_stat);
}

static __always_inline int
ipv6(struct xdp_md *ctx, struct cursor *c, __u32 *ret_stat)
{
	struct ipv6hdr *ip6 = pull(c, sizeof(*ip6));
	struct src s;

	if (ip6 == NULL || ip6->version != 6) {
		*ret_stat = SL_XDP_STAT_MALFORMED;
		return XDP_PASS;
	}
	switch (ip6->nexthdr) {
	case IPPROTO_UDP:
		break;
	case IPPROTO_FRAGMENT:
		*ret_stat = SL_XDP_STAT_FRAGMENT;
		return XDP_PASS;
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_MH:
	case 139: /* HIP */
	case 140: /* Shim6 */
		/* sluiced takes UDP right after the fixed header only. */
		*ret_stat = SL_XDP_STAT_IP6_EXT;
		return XDP_PASS;
	default:
		*ret_stat = SL_XDP_STAT_NOT_UDP;
		return XDP_PASS;
	}
	__builtin_memset(&s, 0, sizeof(s));
	s.v6 = 1;
	s.k6.prefixlen = 128;
	__builtin_memcpy(s.k6.addr, &ip6->saddr, sizeof(s.k6.addr));
	return udp(ctx, c, &s, ret_stat);
}

static __always_inline int
classify(struct xdp_md *ctx, __u32 *ret_stat)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct ethhdr *eth = pull(&c, sizeof(*eth));
	__u16 proto;

	if (eth == NULL) {
		*ret_stat = SL_XDP_STAT_MALFORMED;
		return XDP_PASS;
	}
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = pull(&c, sizeof(*vh));

		if (vh == NULL) {
			*ret_stat = SL_XDP_STAT_MALFORMED;
			return XDP_PASS;
		}
		proto = vh->encap_proto;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return ipv4(ctx, &c, ret_stat);
	if (proto == bpf_htons(ETH_P_IPV6))
		return ipv6(ctx, &c, ret_stat);
	*ret_stat = SL_XDP_STAT_NOT_IP;
	return XDP_PASS;
}

static __always_inline int
count(struct xdp_md *ctx, __u32 stat, int action)
{
	struct sl_xdp_counter *cnt = bpf_map_lookup_elem(&sl_xdp_stats, &stat);

	if (cnt != NULL) {
		cnt->packets++;
		cnt->bytes += ctx->data_end - ctx->data;
	}
	return action;
}

SEC("xdp")
int
sl_xdp_filter(struct xdp_md *ctx)
{
	__u32 stat = SL_XDP_STAT_MALFORMED;
	int action = classify(ctx, &stat);

	return count(ctx, stat, action);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
