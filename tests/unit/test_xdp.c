/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * The XDP program on crafted frames, through BPF_PROG_TEST_RUN: every frame
 * must get the expected action and be counted in exactly one counter (one
 * packet, its length in bytes). The program is loaded, not attached, so no
 * AF_XDP socket is in xsks_map: an event datagram comes back as XDP_PASS and
 * is counted as no_socket, which is how a redirect attempt shows here (the
 * integration test xdp_test.sh sees real redirects).
 *
 * Loading BPF needs root (CAP_BPF + CAP_NET_ADMIN); without it the BPF cases
 * skip (exit 77 when all do) and say why.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/bpf.h>

#include "loader.h"
#include "sl_test.h"

#define EVENT_PORT 8125
#define ETH_LEN 14

/* ---- frames ---- */

struct frame {
	uint8_t b[256];
	uint32_t len;
};

struct v4_opts {
	uint8_t ihl;       /* 5..15; 0 means 5 */
	uint8_t version;   /* 0 means 4 */
	uint8_t proto;     /* 0 means UDP */
	uint16_t frag;     /* host order: flags (0x4000 DF, 0x2000 MF) | offset */
	uint8_t src[4];
	uint16_t dport;
	int vlan;          /* number of tags, outer first */
	uint16_t vlan_type; /* TPID of the outer tag; 0 means 0x8100 */
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static const uint8_t payload[] = "retail.tx:1|c";

/* Ethernet + tags; returns the offset of the L3 header. */
static uint32_t
eth(struct frame *f, uint16_t type, int vlan, uint16_t vlan_type)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	uint32_t off = 12;

	memset(f, 0, sizeof(*f));
	memcpy(f->b, macs, sizeof(macs));
	for (int i = 0; i < vlan; i++) {
		put16(f->b + off, i == 0 && vlan_type ? vlan_type : 0x8100);
		put16(f->b + off + 2, 100 + (uint16_t)i);
		off += 4;
	}
	put16(f->b + off, type);
	return off + 2;
}

static void
udp(struct frame *f, uint32_t off, uint16_t dport)
{
	uint16_t ulen = (uint16_t)(8 + sizeof(payload) - 1);

	put16(f->b + off, 40000);
	put16(f->b + off + 2, dport);
	put16(f->b + off + 4, ulen);
	memcpy(f->b + off + 8, payload, sizeof(payload) - 1);
	f->len = off + ulen;
}

static void
v4(struct frame *f, const struct v4_opts *o)
{
	static const uint8_t dst[4] = { 10, 77, 0, 1 };
	uint32_t off = eth(f, 0x0800, o->vlan, o->vlan_type);
	uint8_t ihl = o->ihl ? o->ihl : 5;
	uint8_t *ip = f->b + off;
	uint8_t proto = o->proto ? o->proto : 17;
	uint32_t l4 = off + ihl * 4u;

	ip[0] = (uint8_t)((o->version ? o->version : 4) << 4 | ihl);
	put16(ip + 6, o->frag);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, o->src, 4);
	memcpy(ip + 16, dst, 4);
	/* Options: NOPs then an end-of-list. */
	for (uint32_t i = 20; i < ihl * 4u; i++)
		ip[i] = i + 1 == ihl * 4u ? 0 : 1;
	if (proto == 17) {
		udp(f, l4, o->dport ? o->dport : EVENT_PORT);
	} else {
		memset(f->b + l4, 0xab, 20);
		f->len = l4 + 20;
	}
	put16(ip + 2, (uint16_t)(f->len - off));
}

static const uint8_t src4_ok[4] = { 10, 77, 0, 2 };
static const uint8_t src6_ok[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

static void
v6(struct frame *f, uint8_t nexthdr, const uint8_t *src, uint16_t dport, int vlan)
{
	static const uint8_t dst[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint32_t off = eth(f, 0x86dd, vlan, 0);
	uint8_t *ip = f->b + off;

	ip[0] = 0x60;
	ip[6] = nexthdr;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	if (nexthdr == 17) {
		udp(f, off + 40, dport);
	} else {
		/* An extension header (8 bytes) followed by UDP, or any other protocol. */
		f->b[off + 40] = 17;
		udp(f, off + 48, dport);
	}
	put16(ip + 4, (uint16_t)(f->len - off - 40));
}

static struct frame
ev4(const uint8_t *src)
{
	struct v4_opts o = { 0 };
	struct frame f;

	memcpy(o.src, src, 4);
	v4(&f, &o);
	return f;
}

static struct frame
ev6(const uint8_t *src)
{
	struct frame f;

	v6(&f, 17, src, EVENT_PORT, 0);
	return f;
}

/* ---- running ---- */

static struct sl_xdp *
load(void)
{
	static bool unavailable;
	struct sl_xdp *x = NULL;
	char err[256] = "";
	int rc;

	/* One failed attempt is enough: every BPF case would fail the same way. */
	if (unavailable)
		return NULL;
	rc = sl_xdp_load(&x, err, sizeof(err));
	if (rc < 0) {
		printf("skip: %s\n", err);
		unavailable = true;
		return NULL;
	}
	if (sl_xdp_port_add(x, EVENT_PORT) != 0) {
		printf("skip: cannot write the ports map\n");
		sl_xdp_close(x);
		return NULL;
	}
	return x;
}

#define LOAD_OR_SKIP(x)                                 \
	struct sl_xdp *x = load();                      \
	do {                                            \
		if (x == NULL)                          \
			return SL_TEST_SKIP;            \
	} while (0)

/*
 * Run @p f (first @p len bytes) and return the counter that moved; -1 if not
 * exactly one counter moved by one packet and @p len bytes. The action is
 * stored in *act.
 */
static int
run(struct sl_xdp *x, const struct frame *f, uint32_t len, uint32_t *act)
{
	struct sl_xdp_counter a[SL_XDP_STAT__MAX], b[SL_XDP_STAT__MAX];
	int moved = -1, n = 0;

	*act = 0xdead;
	if (sl_xdp_stats_read(x, a) != 0 || sl_xdp_test_run(x, f->b, len, act) != 0 ||
	    sl_xdp_stats_read(x, b) != 0)
		return -2;
	for (int i = 0; i < SL_XDP_STAT__MAX; i++) {
		if (a[i].packets == b[i].packets && a[i].bytes == b[i].bytes)
			continue;
		n++;
		if (b[i].packets - a[i].packets == 1 && b[i].bytes - a[i].bytes == len)
			moved = i;
	}
	return n == 1 ? moved : -3;
}

/* Expect verdict (action, counter) for frame @p f. */
#define EXPECT(x, f, len, want_act, want_stat)                                          \
	do {                                                                            \
		uint32_t act_;                                                          \
		int st_ = run((x), &(f), (len), &act_);                                 \
		if (st_ != (int)(want_stat) || act_ != (uint32_t)(want_act))            \
			SL_FAILF("len %u: got action %u counter %d (%s), want %u %s",   \
				 (unsigned)(len), act_, st_, st_ >= 0 ? sl_xdp_stat_name((unsigned)st_) : "-", \
				 (unsigned)(want_act), sl_xdp_stat_name(want_stat));    \
	} while (0)

#define EXPECT_EVENT(x, f) EXPECT(x, f, (f).len, XDP_PASS, SL_XDP_STAT_NO_SOCKET)

static struct sl_xdp_prefix
pfx(const char *s)
{
	struct sl_xdp_prefix p;

	memset(&p, 0, sizeof(p));
	if (sl_xdp_prefix_parse(s, &p) != 0)
		p.family = 0; /* makes the list calls fail with -EINVAL */
	return p;
}

/* ---- cases ---- */

SL_TEST(stat_names)
{
	SL_ASSERT_STR_EQ(sl_xdp_stat_name(SL_XDP_STAT_REDIRECT), "redirect");
	SL_ASSERT_STR_EQ(sl_xdp_stat_name(SL_XDP_STAT_MALFORMED), "malformed");
	SL_ASSERT_STR_EQ(sl_xdp_stat_verdict(SL_XDP_STAT_DENY), "drop");
	SL_ASSERT_STR_EQ(sl_xdp_stat_verdict(SL_XDP_STAT_NOT_ALLOWED), "drop");
	SL_ASSERT_STR_EQ(sl_xdp_stat_verdict(SL_XDP_STAT_NO_SOCKET), "pass");
	SL_ASSERT_STR_EQ(sl_xdp_stat_name(SL_XDP_STAT__MAX), "?");
	return SL_TEST_PASS;
}

SL_TEST(prefix_parse)
{
	struct sl_xdp_prefix p;
	char buf[64];

	SL_ASSERT_OK(sl_xdp_prefix_parse("10.1.2.3/8", &p));
	sl_xdp_prefix_format(&p, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "10.0.0.0/8");
	SL_ASSERT_OK(sl_xdp_prefix_parse("192.0.2.7", &p));
	sl_xdp_prefix_format(&p, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "192.0.2.7/32");
	SL_ASSERT_OK(sl_xdp_prefix_parse("0.0.0.0/0", &p));
	sl_xdp_prefix_format(&p, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "0.0.0.0/0");
	SL_ASSERT_OK(sl_xdp_prefix_parse("2001:db8:ffff::1/33", &p));
	sl_xdp_prefix_format(&p, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "2001:db8:8000::/33");
	SL_ASSERT_OK(sl_xdp_prefix_parse("::1", &p));
	sl_xdp_prefix_format(&p, buf, sizeof(buf));
	SL_ASSERT_STR_EQ(buf, "::1/128");
	SL_ASSERT_EQ(sl_xdp_prefix_parse("10.0.0.0/33", &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_prefix_parse("::/129", &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_prefix_parse("10.0.0.0/", &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_prefix_parse("10.0.0.0/8x", &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_prefix_parse("10.0.0.0/-1", &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_prefix_parse("/8", &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_prefix_parse("", &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_prefix_parse("10.0.0", &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_prefix_parse("host.example/8", &p), -EINVAL);
	return SL_TEST_PASS;
}

SL_TEST(ipv4_event_and_other_ports)
{
	LOAD_OR_SKIP(x);
	struct v4_opts o = { .dport = 53 };
	struct frame f = ev4(src4_ok), other;

	memcpy(o.src, src4_ok, 4);
	v4(&other, &o);
	EXPECT_EVENT(x, f);
	EXPECT(x, other, other.len, XDP_PASS, SL_XDP_STAT_OTHER_PORT);
	/* Ports change at run time. */
	SL_ASSERT_OK(sl_xdp_port_add(x, 53));
	EXPECT_EVENT(x, other);
	SL_ASSERT_OK(sl_xdp_port_del(x, EVENT_PORT));
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_OTHER_PORT);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

SL_TEST(ipv6_event_and_other_ports)
{
	LOAD_OR_SKIP(x);
	struct frame f = ev6(src6_ok), other;

	v6(&other, 17, src6_ok, 8126, 0);
	EXPECT_EVENT(x, f);
	EXPECT(x, other, other.len, XDP_PASS, SL_XDP_STAT_OTHER_PORT);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

SL_TEST(vlan)
{
	LOAD_OR_SKIP(x);
	struct v4_opts o = { .vlan = 1 };
	struct frame f4, f6, qinq, two, ad;

	memcpy(o.src, src4_ok, 4);
	v4(&f4, &o);
	v6(&f6, 17, src6_ok, EVENT_PORT, 1);
	EXPECT_EVENT(x, f4);
	EXPECT_EVENT(x, f6);
	/* One tag only: a second 802.1Q tag, or an 802.1ad outer tag, is not parsed. */
	o.vlan = 2;
	v4(&two, &o);
	EXPECT(x, two, two.len, XDP_PASS, SL_XDP_STAT_NOT_IP);
	o.vlan = 2;
	o.vlan_type = 0x88a8;
	v4(&qinq, &o);
	EXPECT(x, qinq, qinq.len, XDP_PASS, SL_XDP_STAT_NOT_IP);
	o.vlan = 1;
	v4(&ad, &o);
	EXPECT(x, ad, ad.len, XDP_PASS, SL_XDP_STAT_NOT_IP);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

SL_TEST(not_udp_and_not_ip)
{
	LOAD_OR_SKIP(x);
	struct v4_opts tcp = { .proto = 6 }, icmp = { .proto = 1 };
	struct frame ft, fi, f6, arp;

	memcpy(tcp.src, src4_ok, 4);
	memcpy(icmp.src, src4_ok, 4);
	v4(&ft, &tcp);
	v4(&fi, &icmp);
	v6(&f6, 58, src6_ok, EVENT_PORT, 0); /* ICMPv6 */
	eth(&arp, 0x0806, 0, 0);
	arp.len = 42;
	EXPECT(x, ft, ft.len, XDP_PASS, SL_XDP_STAT_NOT_UDP);
	EXPECT(x, fi, fi.len, XDP_PASS, SL_XDP_STAT_NOT_UDP);
	EXPECT(x, f6, f6.len, XDP_PASS, SL_XDP_STAT_NOT_UDP);
	EXPECT(x, arp, arp.len, XDP_PASS, SL_XDP_STAT_NOT_IP);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

/*
 * Every truncation of an event frame: too short for Ethernet + IP + UDP
 * headers is malformed (to the kernel); with the headers complete it is an
 * event (sluiced checks the lengths and counts a bad datagram itself). The
 * kernel refuses to test-run frames shorter than an Ethernet header.
 */
static int
truncations(struct sl_xdp *x, const struct frame *f, uint32_t headers)
{
	uint32_t act;

	for (uint32_t len = 0; len < ETH_LEN; len++)
		SL_ASSERT_EQ(sl_xdp_test_run(x, f->b, len, &act), -EINVAL);
	for (uint32_t len = ETH_LEN; len < headers; len++)
		EXPECT(x, *f, len, XDP_PASS, SL_XDP_STAT_MALFORMED);
	for (uint32_t len = headers; len <= f->len; len++)
		EXPECT(x, *f, len, XDP_PASS, SL_XDP_STAT_NO_SOCKET);
	return SL_TEST_PASS;
}

SL_TEST(truncated_at_every_length)
{
	LOAD_OR_SKIP(x);
	struct v4_opts vo = { .vlan = 1 }, oo = { .ihl = 15 };
	struct frame f4 = ev4(src4_ok), f6 = ev6(src6_ok), fv, fo;
	int rc = SL_TEST_PASS;

	memcpy(vo.src, src4_ok, 4);
	memcpy(oo.src, src4_ok, 4);
	v4(&fv, &vo);
	v4(&fo, &oo);
	if (rc == SL_TEST_PASS)
		rc = truncations(x, &f4, ETH_LEN + 20 + 8);
	if (rc == SL_TEST_PASS)
		rc = truncations(x, &f6, ETH_LEN + 40 + 8);
	if (rc == SL_TEST_PASS)
		rc = truncations(x, &fv, ETH_LEN + 4 + 20 + 8);
	if (rc == SL_TEST_PASS)
		rc = truncations(x, &fo, ETH_LEN + 60 + 8);
	sl_xdp_close(x);
	return rc;
}

SL_TEST(ip_options_and_bad_headers)
{
	LOAD_OR_SKIP(x);
	struct v4_opts o = { 0 };
	struct frame f;

	memcpy(o.src, src4_ok, 4);
	for (uint8_t ihl = 5; ihl <= 15; ihl++) {
		o.ihl = ihl;
		v4(&f, &o);
		EXPECT_EVENT(x, f);
	}
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		o.ihl = 5;
		v4(&f, &o);
		f.b[ETH_LEN] = (uint8_t)(0x40 | ihl);
		EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_MALFORMED);
	}
	o.ihl = 5;
	o.version = 6; /* IPv6 version in an IPv4 ethertype */
	v4(&f, &o);
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_MALFORMED);
	v6(&f, 17, src6_ok, EVENT_PORT, 0);
	f.b[ETH_LEN] = 0x40;
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_MALFORMED);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

SL_TEST(fragments)
{
	LOAD_OR_SKIP(x);
	struct v4_opts o = { 0 };
	struct frame f;

	memcpy(o.src, src4_ok, 4);
	o.frag = 0x2000; /* first fragment: MF, offset 0 */
	v4(&f, &o);
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_FRAGMENT);
	o.frag = 0x00b9; /* last fragment */
	v4(&f, &o);
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_FRAGMENT);
	o.frag = 0x20b9; /* middle fragment */
	v4(&f, &o);
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_FRAGMENT);
	o.frag = 0x4000; /* DF: not a fragment */
	v4(&f, &o);
	EXPECT_EVENT(x, f);
	o.frag = 0x2000;
	o.proto = 6; /* a TCP fragment is TCP */
	v4(&f, &o);
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_NOT_UDP);
	v6(&f, 44, src6_ok, EVENT_PORT, 0);
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_FRAGMENT);
	v6(&f, 0, src6_ok, EVENT_PORT, 0); /* hop-by-hop options */
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_IP6_EXT);
	v6(&f, 60, src6_ok, EVENT_PORT, 0); /* destination options */
	EXPECT(x, f, f.len, XDP_PASS, SL_XDP_STAT_IP6_EXT);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

static int
collect(const struct sl_xdp_prefix *p, uint64_t hits, void *arg)
{
	char *out = arg, s[64];
	size_t n = strlen(out);

	sl_xdp_prefix_format(p, s, sizeof(s));
	snprintf(out + n, 512 - n, "%s%s=%llu", n ? " " : "", s, (unsigned long long)hits);
	return 0;
}

SL_TEST(deny_list)
{
	LOAD_OR_SKIP(x);
	static const uint8_t bad4[4] = { 192, 0, 2, 7 };
	static const uint8_t bad6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 };
	struct sl_xdp_prefix d4 = pfx("192.0.2.0/24"), d6 = pfx("2001:db8:1::/48");
	struct frame b4 = ev4(bad4), b6 = ev6(bad6), ok4 = ev4(src4_ok), ok6 = ev6(src6_ok);
	struct v4_opts oo = { .dport = 22 };
	struct frame other;
	char list[512] = "";

	memcpy(oo.src, bad4, 4);
	v4(&other, &oo);
	SL_ASSERT_OK(sl_xdp_list_add(x, SL_XDP_LIST_DENY, &d4));
	SL_ASSERT_OK(sl_xdp_list_add(x, SL_XDP_LIST_DENY, &d6));
	SL_ASSERT_EQ(sl_xdp_list_add(x, SL_XDP_LIST_DENY, &d4), -EEXIST);
	EXPECT(x, b4, b4.len, XDP_DROP, SL_XDP_STAT_DENY);
	EXPECT(x, b4, b4.len, XDP_DROP, SL_XDP_STAT_DENY);
	EXPECT(x, b6, b6.len, XDP_DROP, SL_XDP_STAT_DENY);
	EXPECT_EVENT(x, ok4);
	EXPECT_EVENT(x, ok6);
	/* The lists apply to event datagrams only: the rest still goes to the kernel. */
	EXPECT(x, other, other.len, XDP_PASS, SL_XDP_STAT_OTHER_PORT);
	SL_ASSERT_OK(sl_xdp_list_walk(x, SL_XDP_LIST_DENY, collect, list));
	SL_ASSERT_STR_EQ(list, "192.0.2.0/24=2 2001:db8:1::/48=1");
	SL_ASSERT_OK(sl_xdp_list_del(x, SL_XDP_LIST_DENY, &d4));
	SL_ASSERT_EQ(sl_xdp_list_del(x, SL_XDP_LIST_DENY, &d4), -ENOENT);
	EXPECT_EVENT(x, b4);
	EXPECT(x, b6, b6.len, XDP_DROP, SL_XDP_STAT_DENY);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

SL_TEST(allow_list)
{
	LOAD_OR_SKIP(x);
	static const uint8_t in4[4] = { 198, 51, 100, 9 };
	static const uint8_t out4[4] = { 203, 0, 113, 1 };
	struct sl_xdp_prefix a4 = pfx("198.51.100.0/24"), a6 = pfx("2001:db8:ff00::/40");
	struct sl_xdp_prefix d4 = pfx("198.51.100.9");
	struct frame fin = ev4(in4), fout = ev4(out4), f6 = ev6(src6_ok), ffar;
	static const uint8_t far6[16] = { 0x20, 0x01, 0x0d, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct sl_xdp_info info;

	ffar = ev6(far6);
	SL_ASSERT_OK(sl_xdp_list_add(x, SL_XDP_LIST_ALLOW, &a4));
	SL_ASSERT_OK(sl_xdp_list_add(x, SL_XDP_LIST_ALLOW, &a6));
	/* A list alone changes nothing until it is switched on. */
	EXPECT_EVENT(x, fout);
	SL_ASSERT_OK(sl_xdp_allow_set(x, true));
	SL_ASSERT_OK(sl_xdp_info_get(x, &info));
	SL_ASSERT_EQ(info.flags, SL_XDP_F_ALLOW);
	SL_ASSERT_EQ(info.n_ports, 1);
	SL_ASSERT_EQ(info.ports[0], EVENT_PORT);
	EXPECT_EVENT(x, fin);
	EXPECT_EVENT(x, f6);
	EXPECT(x, fout, fout.len, XDP_DROP, SL_XDP_STAT_NOT_ALLOWED);
	EXPECT(x, ffar, ffar.len, XDP_DROP, SL_XDP_STAT_NOT_ALLOWED);
	/* Deny wins over allow. */
	SL_ASSERT_OK(sl_xdp_list_add(x, SL_XDP_LIST_DENY, &d4));
	EXPECT(x, fin, fin.len, XDP_DROP, SL_XDP_STAT_DENY);
	SL_ASSERT_OK(sl_xdp_allow_set(x, false));
	EXPECT_EVENT(x, fout);
	SL_ASSERT_OK(sl_xdp_info_get(x, &info));
	SL_ASSERT_EQ(info.flags, 0);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

SL_TEST(list_limits)
{
	LOAD_OR_SKIP(x);
	struct sl_xdp_prefix p = pfx("10.0.0.0/32");
	int rc = 0;
	uint32_t n = 0;

	/* Fill the IPv4 deny trie: the next entry is refused, nothing else breaks. */
	for (n = 0; n < SL_XDP_MAX_PREFIXES && rc == 0; n++) {
		p.addr[2] = (uint8_t)(n >> 8);
		p.addr[3] = (uint8_t)n;
		rc = sl_xdp_list_add(x, SL_XDP_LIST_DENY, &p);
	}
	SL_ASSERT_OK(rc);
	p.addr[1] = 1;
	SL_ASSERT_EQ(sl_xdp_list_add(x, SL_XDP_LIST_DENY, &p), -ENOSPC);
	p.family = 5;
	SL_ASSERT_EQ(sl_xdp_list_add(x, SL_XDP_LIST_DENY, &p), -EINVAL);
	SL_ASSERT_EQ(sl_xdp_list_add(x, SL_XDP_LIST__MAX, &p), -EINVAL);
	sl_xdp_close(x);
	return SL_TEST_PASS;
}

/*
 * SL_TEST_MAIN() exits 0 when only some cases skip; here the BPF cases skip
 * together when the program cannot be loaded, and the whole test must then
 * count as skipped (77), not as passed.
 */
struct sl_test_case sl_test_cases[SL_TEST_MAX_CASES];
unsigned int sl_test_n_cases;

int
main(void)
{
	unsigned int failed = 0, skipped = 0;

	for (unsigned int i = 0; i < sl_test_n_cases; i++) {
		int rc = sl_test_cases[i].fn();

		printf("%-4s %s\n", rc == SL_TEST_PASS ? "ok" : rc == SL_TEST_SKIP ? "skip" : "FAIL",
		       sl_test_cases[i].name);
		failed += rc != SL_TEST_PASS && rc != SL_TEST_SKIP;
		skipped += rc == SL_TEST_SKIP;
	}
	printf("%u cases, %u failed, %u skipped\n", sl_test_n_cases, failed, skipped);
	return failed ? 1 : skipped ? 77 : 0;
}
