/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * sluice-gen: the load generator.
 *
 * It synthesizes a retail chain's workload as statsd/DogStatsD lines, JSON
 * lines or sluice binary events in UDP datagrams, writes them to pcap files
 * for DPDK's net_pcap vdev (or sends them), and writes the exact aggregates
 * (ground truth) that sluiced must compute from them.
 *
 * Model. Every store is one producer with its own MAC, IPv4 address and UDP
 * source port. A datagram holds the lines of one store: when a datagram is
 * opened, its store is drawn from a Zipf distribution, then events are drawn
 * (kind by fixed probabilities, SKU and user by Zipf) and appended until the
 * datagram holds --lines-per-datagram lines or the next event would not fit in
 * 1400 bytes. An event's lines (a visit pair, a purchase triple) stay in one
 * datagram; only when an event has more lines than --lines-per-datagram does
 * it continue in the next datagram(s), which then belong to the same store.
 * Every line counts as one event and generation stops exactly at --events.
 *
 * Benchmark workload (--keys N). Instead of the retail mix every event is one
 * counter line "bench.hits:1|c|#key:kNNNNNNNN" with the key drawn uniformly
 * (--zipf 0, the default here) or from a Zipf distribution over N keys. A
 * datagram's producer is drawn uniformly from --stores (default 64 here) and
 * the datagram is filled with --lines-per-datagram lines (fewer when 1400
 * bytes are reached). The truth keeps one 32-bit count per key and the list of
 * keys seen in the window (8 bytes per key, only with --truth).
 *
 * Sinks. The datagrams go to pcap files (--pcap), to a UDP socket (--udp
 * HOST:PORT, sendmmsg, paced at --rate events per second of real time), or out
 * of a DPDK port (argv holds "--": EAL arguments before it, sluice-gen's after;
 * gen_tx.c, paced at --rate packets per second). The receiver of live traffic
 * windows by arrival time, which the generator cannot know, so the truth of a
 * live run is totals only: --truth-window all, one window [0, 2^63 - 1).
 *
 * Time. A datagram's timestamp is start + floor(first_line_index * 1e6 / rate)
 * microseconds, so timestamps never decrease and windows close in order: the
 * truth of a window is written and freed as soon as the first datagram of a
 * later window is opened. Memory is bounded by one window's groups and
 * distinct set members, not by the run length.
 *
 * JSON lines and binary (--format json|binary). Events are
 * {"event": "visit"|"purchase"|"refund", "store", "sku", "amount", "user", "ts"}
 * (gen_events.c renders them): kind 40:35:3 (the statsd mix without tills and
 * heartbeats), user Zipf, and for purchases and refunds a Zipf SKU and an
 * amount log-uniform over [1.00, 500.00]. A datagram is one producer's: by
 * default the producer is the store, drawn (Zipf) when the datagram opens,
 * and every event of the datagram is that store's; with --producers N it is
 * drawn uniformly from 1..N and each event draws its own store. Events are
 * appended until the datagram holds --lines-per-datagram events or the next
 * one would pass --payload-max bytes. A binary datagram's header carries the
 * producer id and its sequence number (1, 2, ... per producer).
 *
 * Event time. An event's ts is its datagram's timestamp in ms minus
 * --ts-offset, then moved by the time knobs, drawn from a second PRNG so that
 * they never change the events themselves: --skew (uniform in +-skew),
 * --out-of-order (moved back by 1 ms .. --late-by) and --late (moved back by
 * more than --late-by, up to twice it). The truth of the views
 * (gen_events.c) follows the configuration (the built-in retail views, or
 * --config): event-time windows, late events under a watermark model stated
 * in the truth file, every aggregate exact.
 *
 * Single-threaded; everything below belongs to main().
 */

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netdb.h>
#include <time.h>
#include <unistd.h>

#include <sluice/common.h>

#include "binfmt.h"
#include "config.h"
#include "gen_events.h"
#ifdef SL_GEN_HAVE_DPDK
#include "gen_tx.h"
#endif
#include "pcap_write.h"
#include "zipf.h"

#define GEN_PAYLOAD_MAX 1400u          /* default --payload-max of statsd and JSON */
#define GEN_BUF_MAX 8972u              /* largest --payload-max: a 9000-byte jumbo frame */
#define GEN_PAYLOAD_MIN 768u           /* smallest: three statsd lines of GEN_LINE_MAX */
#define GEN_TX_PAYLOAD_MAX 2006u       /* DPDK TX: gen_tx's mbufs hold 2048-byte frames */
#define GEN_LINE_MAX 256u
#define GEN_EVENT_LINES_MAX 3u
#define GEN_UDP_DST_PORT 8125u         /* statsd; JSON and binary take the config's port */
#define GEN_UDP_SRC_PORT_BASE 40000u
#define GEN_UDP_SRC_PORT_SPAN 25536u
#define GEN_DST_IP 0x0a000001u /* 10.0.0.1 */

#define GEN_DEF_EVENTS 100000ULL
#define GEN_DEF_LINES 10u
#define GEN_DEF_STORES 20u
#define GEN_DEF_SKUS 500u
#define GEN_DEF_USERS 5000u
#define GEN_DEF_ZIPF 1.1
#define GEN_DEF_SEED 1ULL
#define GEN_DEF_RATE 10000ULL
#define GEN_DEF_START 1767225600ULL /* 2026-01-01T00:00:00Z */
#define GEN_DEF_WINDOW_NS (10 * SL_NS_PER_SEC)
#define GEN_DEF_QUEUES 1u
#define GEN_DEF_LINES_BIN 32u
#define GEN_DEF_LATE_BY_NS (60 * SL_NS_PER_SEC)

#define GEN_MAX_EVENTS 1000000000ULL
#define GEN_MAX_LINES 200u
#define GEN_MAX_STORES 100000u
#define GEN_MAX_SKUS 10000000u
#define GEN_MAX_USERS 100000000u
#define GEN_MAX_ZIPF 5.0
#define GEN_MAX_RATE 1000000000ULL
#define GEN_MAX_START 4000000000ULL
#define GEN_MIN_WINDOW_NS 1000ULL
#define GEN_MAX_WINDOW_NS (86400ULL * SL_NS_PER_SEC)
#define GEN_MAX_QUEUES 256u
#define GEN_MAX_PRODUCERS 1000000u
#define GEN_MAX_SKEW_NS (86400ULL * SL_NS_PER_SEC)     /* --skew, --late-by: 24h */
#define GEN_MAX_OFFSET_NS (366ULL * 86400 * SL_NS_PER_SEC) /* --ts-offset: a year */
#define GEN_NS_PER_MS 1000000ULL
#define GEN_TIME_SEED 0x9e3779b97f4a7c15ULL           /* the time knobs' PRNG: seed ^ this */

/* --keys: the benchmark workload. */
#define GEN_MIN_KEYS 10u
#define GEN_MAX_KEYS 10000000u
#define GEN_DEF_KEY_STORES 64u
#define GEN_KEY_LINE "bench.hits:1|c|#key:k"
#define GEN_KEY_NAME "bench.hits"
#define GEN_KEY_WIDTH 8u

/* --truth-window all: one window [0, 2^63 - 1), i.e. totals. */
#define GEN_WINDOW_ALL ((uint64_t)INT64_MAX)

/* Live sinks. */
#define GEN_UDP_BATCH 64u              /* datagrams per sendmmsg() */
#define GEN_UDP_SNDBUF (4u << 20)
#define GEN_SEND_STALL_S 1.0           /* give up when the socket refuses this long */
#define GEN_TX_LINK_TIMEOUT_MS 10000u
#define GEN_TX_DRAIN_MS 1000u          /* time for the peer to read the last frames */
#define GEN_PACE_DEPTH_S 0.01          /* token bucket depth, in seconds of --rate */

/* Width reserved for the datagram count, patched into the truth header at the end. */
#define TRUTH_COUNT_WIDTH 20

enum gen_format {
	GEN_FORMAT_STATSD,
	GEN_FORMAT_JSON,
	GEN_FORMAT_BINARY,
};

static const char *const format_names[] = { "statsd", "json", "binary" };

struct gen_opts {
	enum gen_format format;
	uint64_t events;
	uint32_t lines;       /* --lines-per-datagram */
	uint32_t stores;
	uint32_t skus;
	uint32_t users;
	double zipf;
	uint64_t seed;
	uint64_t rate;
	uint64_t start;       /* unix seconds */
	uint64_t window_ns;
	uint32_t queues;
	const char *pcap;
	const char *truth;
	bool quiet;
	uint32_t keys;        /* --keys, 0: the retail workload */
	bool truth_all;       /* --truth-window all */
	bool key_in_name;     /* --key-style name: bench.hits.kNNN:1|c, no tags */
	const char *udp;      /* --udp HOST:PORT */
	bool dpdk;            /* argv held "--": DPDK TX mode */
	uint16_t port;        /* --port, DPDK TX mode */
	uint32_t payload_max; /* --payload-max */
	uint16_t dst_port;    /* --dst-port, or the format's */
	uint32_t producers;   /* --producers, 0: one per store */
	uint64_t skew_ns;     /* --skew */
	double ooo;           /* --out-of-order */
	double late;          /* --late */
	uint64_t late_by_ns;  /* --late-by */
	uint64_t ts_offset_ns; /* --ts-offset */
	const char *config;   /* --config, NULL: the built-in default */
	/* which defaults were overridden */
	bool stores_set;
	bool zipf_set;
	bool window_set;
	bool port_set;
	bool lines_set;
	bool payload_set;
	bool dst_port_set;
	bool late_by_set;
	bool udp_port_set;    /* --udp named its port (then dst_port is it) */
};

/* How a metric's lines aggregate in the truth: the fields of its JSON object. */
enum gen_agg {
	GEN_AGG_COUNTER,  /* count, sum(value / rate) */
	GEN_AGG_GAUGE,    /* count, min, max, last */
	GEN_AGG_STATS,    /* count, sum, min, max (ms, h, d) */
	GEN_AGG_SET,      /* count, distinct */
};

/* How a value is written: an integer, or a decimal with exactly two decimals. */
enum gen_fmt {
	GEN_FMT_INT,
	GEN_FMT_CENTS,
	GEN_FMT_MEMBER,
};

#define GEN_TAG_STORE 0x1u
#define GEN_TAG_CHANNEL 0x2u
#define GEN_TAG_SKU 0x4u

/*
 * The metrics of the workload: X(enum suffix, name, statsd type, aggregation,
 * value format, tags). Tags are written in the order store, channel, sku, which
 * is deliberately not sorted for the basket and sku.sold lines.
 */
#define GEN_METRICS(_)                                                                      \
	_(VISIT, "retail.visit", "c", GEN_AGG_COUNTER, GEN_FMT_INT, GEN_TAG_STORE)          \
	_(VISITORS, "retail.visitors", "s", GEN_AGG_SET, GEN_FMT_MEMBER, GEN_TAG_STORE)     \
	_(BASKET, "retail.basket", "h", GEN_AGG_STATS, GEN_FMT_CENTS,                       \
	  GEN_TAG_STORE | GEN_TAG_CHANNEL)                                                  \
	_(SKU_SOLD, "retail.sku.sold", "c", GEN_AGG_COUNTER, GEN_FMT_INT,                   \
	  GEN_TAG_STORE | GEN_TAG_SKU)                                                      \
	_(LATENCY, "retail.checkout.latency", "ms", GEN_AGG_STATS, GEN_FMT_INT, GEN_TAG_STORE) \
	_(REFUND, "retail.refund", "d", GEN_AGG_STATS, GEN_FMT_CENTS, GEN_TAG_STORE)        \
	_(TILLS, "retail.tills.open", "g", GEN_AGG_GAUGE, GEN_FMT_INT, GEN_TAG_STORE)       \
	_(HEARTBEAT, "retail.heartbeat", "c", GEN_AGG_COUNTER, GEN_FMT_INT, 0u)

enum gen_metric {
#define _(e, n, t, a, f, g) GEN_M_##e,
	GEN_METRICS(_)
#undef _
	GEN_M__MAX,
};

struct gen_metric_def {
	const char *name;
	const char *type;
	enum gen_agg agg;
	enum gen_fmt fmt;
	unsigned int tags;
	uint32_t name_len;
};

static const struct gen_metric_def metric_defs[GEN_M__MAX] = {
#define _(e, n, t, a, f, g) [GEN_M_##e] = { n, t, a, f, g, sizeof(n) - 1 },
	GEN_METRICS(_)
#undef _
};

/* Sample rates used on every 4th visit line: text and 1/rate (exact). Index 0: none. */
static const struct {
	const char *text;
	uint32_t len;
	int64_t inv;
} sample_rates[] = {
	{ "", 0, 1 },
	{ "0.5", 3, 2 },
	{ "0.25", 4, 4 },
	{ "0.1", 3, 10 },
};

/* One line before rendering: everything random has been drawn already. */
struct gen_line {
	uint8_t metric;   /* enum gen_metric */
	uint8_t rate;     /* index in sample_rates[] */
	uint32_t sku;     /* 1..skus, GEN_M_SKU_SOLD only */
	uint32_t user;    /* 1..users, GEN_M_VISITORS only */
	int64_t v;        /* numeric value in hundredths */
};

/* One group (window, metric, tags) of the truth. */
struct truth_agg {
	uint64_t key;       /* metric << 56 | store << 32 | sku */
	uint64_t count;
	uint64_t distinct;
	int64_t sum;        /* hundredths, already divided by the sample rate */
	int64_t min;        /* hundredths */
	int64_t max;
	int64_t last;
	uint32_t slot;      /* position in agg_slots[] */
	uint32_t metric;
	uint64_t tags_off;  /* canonical tags in the arena, filled at flush */
};

/* One distinct set member of one group. */
struct truth_member {
	uint64_t hash;
	uint64_t off;       /* member bytes in the arena */
	uint32_t len;
	uint32_t agg;       /* index in aggs[] */
	uint32_t slot;      /* position in member_slots[] */
};

/*
 * Exact aggregates of the current window. Both hash tables are open-addressing
 * arrays of (dense index + 1) over dense arrays that remember their slot, so a
 * window is cleared in time proportional to what it held.
 */
struct truth {
	FILE *f;
	bool key_in_name;         /* --key-style name */
	const char *path;
	off_t count_pos;          /* where the datagram count goes in the header */
	uint64_t window_ns;
	uint64_t ws;              /* start of the current window, ns */
	bool have_ws;
	uint64_t metrics;         /* metric objects written */
	unsigned int store_w;
	unsigned int sku_w;
	struct truth_agg *aggs;
	uint32_t n_aggs;
	uint32_t cap_aggs;
	uint32_t *agg_slots;
	uint32_t agg_mask;
	struct truth_member *members;
	uint32_t n_members;
	uint32_t cap_members;
	uint32_t *member_slots;
	uint32_t member_mask;
	char *arena;
	uint64_t arena_len;
	uint64_t arena_cap;
	/* --keys: counts of the current window per key, and the keys seen in it */
	uint32_t keys;
	uint32_t *key_count;
	uint32_t *key_seen;
	uint32_t n_seen;
};

/*
 * Token bucket on CLOCK_MONOTONIC for the live sinks: rate units per second,
 * at most depth units in advance. rate 0: no pacing.
 */
struct gen_pacer {
	double rate;
	double depth;
	double tokens;
	double last;
};

/* --udp: a batch of datagrams for one sendmmsg(), and where they go. */
struct gen_udp {
	int fd;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint32_t n;                                   /* datagrams queued */
	uint32_t lines[GEN_UDP_BATCH];                /* events of each queued datagram */
	struct mmsghdr msgs[GEN_UDP_BATCH];
	struct iovec iov[GEN_UDP_BATCH];
	uint8_t buf[GEN_UDP_BATCH][GEN_BUF_MAX];
};

struct gen {
	struct gen_opts o;
	struct sl_rng rng;
	struct sl_zipf *z_store;
	struct sl_zipf *z_sku;
	struct sl_zipf *z_user;
	unsigned int store_w;
	unsigned int sku_w;
	unsigned int user_w;
	struct sl_pcap **pcaps;   /* o.queues writers, or NULL without --pcap */
	char **paths;
	struct truth *truth;      /* NULL without --truth */
	struct gen_udp *udp;      /* NULL without --udp */
#ifdef SL_GEN_HAVE_DPDK
	struct sl_gen_tx *tx;     /* NULL but in DPDK TX mode */
#endif
	struct gen_pacer pacer;   /* live sinks */
	struct sl_zipf *z_key;    /* --keys with --zipf > 0 */
	/* --format json|binary */
	struct sl_config *cfg;    /* the views: built-in or --config */
	struct sl_gen_views *views; /* their truth, NULL without --truth */
	FILE *vt_f;               /* the truth file of the views */
	off_t vt_count_pos;       /* where its datagram count goes */
	struct sl_gen_names names;
	struct sl_rng trng;       /* the time knobs' draws, apart from the events' */
	uint64_t max_back_ms;     /* the farthest an event's ts goes before its datagram's base */
	uint64_t *seqs;           /* binary: last sequence number per producer */
	struct sl_bin_enc enc;    /* binary: the datagram being built */
	struct sl_gen_bin_scratch bin;
	/* the datagram being built */
	bool dg_open;
	uint32_t dg_store;        /* 1..stores, or 1..producers: the datagram's source */
	uint32_t dg_lines;
	uint32_t dg_len;
	uint64_t dg_ts_us;
	uint8_t frame[SL_UDP4_HDR_LEN + GEN_BUF_MAX];
	/* progress */
	uint64_t next_event;      /* global index of the next line */
	uint64_t datagrams;
	uint64_t visits;
	uint64_t windows;
	uint64_t last_ws;
	bool have_ws;
	double t0;
	double t_progress;
	/* live sinks: what the socket or port accepted */
	uint64_t sent_events;
	uint64_t sent_datagrams;
	uint64_t failed_datagrams;
	uint64_t last_events;     /* at the previous progress line */
	uint64_t last_datagrams;
	bool err_reported;        /* a sink already printed why it failed */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static uint64_t
hash_bytes(const char *p, uint32_t len, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (uint32_t i = 0; i < len; i++) {
		h ^= (uint8_t)p[i];
		h *= 0x100000001b3ULL;
	}
	return mix64(h);
}

static unsigned int
digits(uint64_t v)
{
	unsigned int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Text output helpers: append to *p and advance it. The caller sized the buffer. */
static void
put_str(char **p, const char *s, size_t len)
{
	memcpy(*p, s, len);
	*p += len;
}

static void
put_uint(char **p, uint64_t v, unsigned int width)
{
	char tmp[24];
	unsigned int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width && n < sizeof(tmp))
		tmp[n++] = '0';
	while (n > 0)
		*(*p)++ = tmp[--n];
}

#define PUT_LIT(p, s) put_str((p), (s), sizeof(s) - 1)

/* Write a value given in hundredths in a metric's format ("42", "12.30"). */
static void
put_value(char **p, enum gen_fmt fmt, int64_t v)
{
	assert(v >= 0);
	put_uint(p, (uint64_t)v / 100, 0);
	if (fmt == GEN_FMT_CENTS) {
		*(*p)++ = '.';
		put_uint(p, (uint64_t)v % 100, 2);
	}
}

/* Exact decimal of a sum in hundredths, without trailing zeros ("42", "12.3", "12.34"). */
static void
put_exact(char **p, int64_t v)
{
	uint64_t a;

	if (v < 0) {
		*(*p)++ = '-';
		a = (uint64_t)0 - (uint64_t)v;
	} else {
		a = (uint64_t)v;
	}
	put_uint(p, a / 100, 0);
	if (a % 100 == 0)
		return;
	*(*p)++ = '.';
	if (a % 10 == 0)
		put_uint(p, a % 100 / 10, 1);
	else
		put_uint(p, a % 100, 2);
}

/*
 * Write the tags of a line, in line order (store, channel, sku), without the
 * leading "|#". Also used, tag by tag, to build the canonical form.
 */
static uint32_t
tag_render(char *out, unsigned int tag, uint32_t store, uint32_t sku, unsigned int store_w,
	   unsigned int sku_w)
{
	char *p = out;

	if (tag == GEN_TAG_STORE) {
		PUT_LIT(&p, "store:s");
		put_uint(&p, store, store_w);
	} else if (tag == GEN_TAG_CHANNEL) {
		PUT_LIT(&p, "channel:pos");
	} else {
		PUT_LIT(&p, "sku:A-");
		put_uint(&p, sku, sku_w);
	}
	return (uint32_t)(p - out);
}

/* Render one line (without '\n') for store @p store; returns its length. */
static uint32_t
line_render(const struct gen *g, char *out, const struct gen_line *l, uint32_t store)
{
	const struct gen_metric_def *d = &metric_defs[l->metric];
	static const unsigned int order[] = { GEN_TAG_STORE, GEN_TAG_CHANNEL, GEN_TAG_SKU };
	char *p = out;
	bool first = true;

	put_str(&p, d->name, d->name_len);
	*p++ = ':';
	if (d->fmt == GEN_FMT_MEMBER) {
		*p++ = 'u';
		put_uint(&p, l->user, g->user_w);
	} else {
		put_value(&p, d->fmt, l->v);
	}
	*p++ = '|';
	put_str(&p, d->type, strlen(d->type));
	if (l->rate != 0) {
		PUT_LIT(&p, "|@");
		put_str(&p, sample_rates[l->rate].text, sample_rates[l->rate].len);
	}
	for (unsigned int i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((d->tags & order[i]) == 0)
			continue;
		if (first)
			PUT_LIT(&p, "|#");
		else
			*p++ = ',';
		first = false;
		p += tag_render(p, order[i], store, l->sku, g->store_w, g->sku_w);
	}
	assert(p - out < (ptrdiff_t)GEN_LINE_MAX);
	return (uint32_t)(p - out);
}

/* ---------------------------------------------------------------------------------------- */
/* Ground truth */

static int
arena_reserve(struct truth *t, uint64_t len)
{
	uint64_t cap = t->arena_cap != 0 ? t->arena_cap : 1u << 16;
	char *a;

	if (t->arena_len + len <= t->arena_cap)
		return 0;
	while (cap < t->arena_len + len)
		cap *= 2;
	a = realloc(t->arena, cap);
	if (a == NULL)
		return -ENOMEM;
	t->arena = a;
	t->arena_cap = cap;
	return 0;
}

/* Grow the slot array of a table to hold 2 * n entries at a load factor of 1/2 at most. */
static int
slots_grow(uint32_t **slots, uint32_t *mask, uint32_t n)
{
	uint64_t size = (uint64_t)*mask + 1;
	uint32_t *s;

	if (*slots != NULL && (uint64_t)n * 2 < size)
		return 0;
	if (*slots == NULL)
		size = 1024;
	while ((uint64_t)n * 2 >= size)
		size *= 2;
	if (size > (1ULL << 32))
		return -ENOMEM;
	s = calloc(size, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	free(*slots);
	*slots = s;
	*mask = (uint32_t)(size - 1);
	return 1;   /* the caller must reinsert everything */
}

static int
truth_agg_find(struct truth *t, uint64_t key, uint32_t metric, uint32_t *ret_idx)
{
	struct truth_agg *a;
	uint32_t i;
	int rc;

	i = (uint32_t)mix64(key) & t->agg_mask;
	while (t->agg_slots[i] != 0) {
		if (t->aggs[t->agg_slots[i] - 1].key == key) {
			*ret_idx = t->agg_slots[i] - 1;
			return 0;
		}
		i = (i + 1) & t->agg_mask;
	}

	/* Not found: append, growing the dense array and the slots when needed. */
	if (t->n_aggs == t->cap_aggs) {
		uint32_t cap = t->cap_aggs != 0 ? t->cap_aggs * 2 : 1024;
		struct truth_agg *na = realloc(t->aggs, (size_t)cap * sizeof(*na));

		if (na == NULL)
			return -ENOMEM;
		t->aggs = na;
		t->cap_aggs = cap;
	}
	rc = slots_grow(&t->agg_slots, &t->agg_mask, t->n_aggs + 1);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		for (uint32_t k = 0; k < t->n_aggs; k++) {
			uint32_t j = (uint32_t)mix64(t->aggs[k].key) & t->agg_mask;

			while (t->agg_slots[j] != 0)
				j = (j + 1) & t->agg_mask;
			t->agg_slots[j] = k + 1;
			t->aggs[k].slot = j;
		}
		i = (uint32_t)mix64(key) & t->agg_mask;
		while (t->agg_slots[i] != 0)
			i = (i + 1) & t->agg_mask;
	}
	a = &t->aggs[t->n_aggs];
	memset(a, 0, sizeof(*a));
	a->key = key;
	a->metric = metric;
	a->min = INT64_MAX;
	a->max = INT64_MIN;
	a->slot = i;
	t->agg_slots[i] = ++t->n_aggs;
	*ret_idx = t->n_aggs - 1;
	return 0;
}

/* Insert a member into the set of group @p agg. Returns 1 when it was new, 0 if known. */
static int
truth_member_add(struct truth *t, uint32_t agg, const char *m, uint32_t len)
{
	uint64_t h = hash_bytes(m, len, agg);
	struct truth_member *e;
	uint32_t i;
	int rc;

	i = (uint32_t)h & t->member_mask;
	while (t->member_slots[i] != 0) {
		e = &t->members[t->member_slots[i] - 1];
		if (e->hash == h && e->agg == agg && e->len == len &&
		    memcmp(t->arena + e->off, m, len) == 0)
			return 0;
		i = (i + 1) & t->member_mask;
	}

	if (t->n_members == t->cap_members) {
		uint32_t cap = t->cap_members != 0 ? t->cap_members * 2 : 1024;
		struct truth_member *nm = realloc(t->members, (size_t)cap * sizeof(*nm));

		if (nm == NULL)
			return -ENOMEM;
		t->members = nm;
		t->cap_members = cap;
	}
	if (arena_reserve(t, len) < 0)
		return -ENOMEM;
	rc = slots_grow(&t->member_slots, &t->member_mask, t->n_members + 1);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		for (uint32_t k = 0; k < t->n_members; k++) {
			uint32_t j = (uint32_t)t->members[k].hash & t->member_mask;

			while (t->member_slots[j] != 0)
				j = (j + 1) & t->member_mask;
			t->member_slots[j] = k + 1;
			t->members[k].slot = j;
		}
		i = (uint32_t)h & t->member_mask;
		while (t->member_slots[i] != 0)
			i = (i + 1) & t->member_mask;
	}
	e = &t->members[t->n_members];
	e->hash = h;
	e->off = t->arena_len;
	e->len = len;
	e->agg = agg;
	e->slot = i;
	memcpy(t->arena + t->arena_len, m, len);
	t->arena_len += len;
	t->member_slots[i] = ++t->n_members;
	return 1;
}

/*
 * Account one emitted line. @p text is the line as written in the datagram,
 * so a set member is taken from the bytes on the wire.
 */
static int
truth_add(struct truth *t, const struct gen_line *l, uint32_t store, const char *text,
	  uint32_t len)
{
	const struct gen_metric_def *d = &metric_defs[l->metric];
	uint64_t key = (uint64_t)l->metric << 56;
	struct truth_agg *a;
	uint32_t idx;
	int rc;

	if (d->tags & GEN_TAG_STORE)
		key |= (uint64_t)store << 32;
	if (d->tags & GEN_TAG_SKU)
		key |= l->sku;
	rc = truth_agg_find(t, key, l->metric, &idx);
	if (rc < 0)
		return rc;
	a = &t->aggs[idx];
	a->count++;
	if (d->agg == GEN_AGG_SET) {
		const char *m = text + d->name_len + 1;
		const char *end = memchr(m, '|', len - d->name_len - 1);

		assert(end != NULL);

		rc = truth_member_add(t, idx, m, (uint32_t)(end - m));
		if (rc < 0)
			return rc;
		t->aggs[idx].distinct += (uint64_t)rc;
		return 0;
	}
	if (d->agg == GEN_AGG_COUNTER) {
		a->sum += l->v * sample_rates[l->rate].inv;
		return 0;
	}
	if (d->agg == GEN_AGG_STATS)
		a->sum += l->v;
	if (l->v < a->min)
		a->min = l->v;
	if (l->v > a->max)
		a->max = l->v;
	a->last = l->v;
	return 0;
}

/* Print a value as "%.17g" of strtod() of the text the line carried. */
static void
put_double_of(char **p, enum gen_fmt fmt, int64_t v)
{
	char text[32];
	char *q = text;

	put_value(&q, fmt, v);
	*q = '\0';
	*p += sprintf(*p, "%.17g", strtod(text, NULL));
}

struct truth_sorted {
	const char *name;
	const char *type;
	const char *tags;
	const struct truth_agg *a;
};

static int
truth_sorted_cmp(const void *x, const void *y)
{
	const struct truth_sorted *a = x, *b = y;
	int c;

	c = strcmp(a->name, b->name);
	if (c == 0)
		c = strcmp(a->type, b->type);
	if (c == 0)
		c = strcmp(a->tags, b->tags);
	return c;
}

static int
str_ptr_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Canonical tags of a group into the arena: "k:v" sorted bytewise, joined by ','. */
static int
truth_tags_canon(struct truth *t, struct truth_agg *a)
{
	static const unsigned int all[] = { GEN_TAG_STORE, GEN_TAG_CHANNEL, GEN_TAG_SKU };
	const struct gen_metric_def *d = &metric_defs[a->metric];
	uint32_t store = (uint32_t)(a->key >> 32) & 0xffffffu;
	uint32_t sku = (uint32_t)a->key;
	char buf[GEN_EVENT_LINES_MAX][64];
	const char *tags[GEN_EVENT_LINES_MAX];
	unsigned int n = 0;
	char *p;

	for (unsigned int i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if ((d->tags & all[i]) == 0)
			continue;
		buf[n][tag_render(buf[n], all[i], store, sku, t->store_w, t->sku_w)] = '\0';
		tags[n] = buf[n];
		n++;
	}
	qsort(tags, n, sizeof(tags[0]), str_ptr_cmp);
	if (arena_reserve(t, 3 * 64 + 1) < 0)
		return -ENOMEM;
	a->tags_off = t->arena_len;
	p = t->arena + t->arena_len;
	for (unsigned int i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		put_str(&p, tags[i], strlen(tags[i]));
	}
	*p++ = '\0';
	t->arena_len = (uint64_t)(p - t->arena);
	return 0;
}

/* Write one group as a JSON object line. The tags contain no '"' or '\\'. */
static void
truth_agg_write(struct truth *t, const struct truth_sorted *s)
{
	const struct truth_agg *a = s->a;
	const struct gen_metric_def *d = &metric_defs[a->metric];
	char buf[1024];
	char *p = buf;
	const char *tag = s->tags;

	p += sprintf(p, "%s{\"window_start\":%" PRIu64 ",\"window_end\":%" PRIu64
		     ",\"name\":\"%s\",\"type\":\"%s\",\"tags\":{",
		     t->metrics > 0 ? ",\n" : "", t->ws, t->ws + t->window_ns, d->name, d->type);
	while (*tag != '\0') {
		const char *colon = strchr(tag, ':');
		const char *comma = strchr(tag, ',');

		if (comma == NULL)
			comma = tag + strlen(tag);
		if (tag != s->tags)
			*p++ = ',';
		*p++ = '"';
		put_str(&p, tag, (size_t)(colon - tag));
		PUT_LIT(&p, "\":\"");
		put_str(&p, colon + 1, (size_t)(comma - colon - 1));
		*p++ = '"';
		tag = *comma == ',' ? comma + 1 : comma;
	}
	PUT_LIT(&p, "},\"count\":");
	put_uint(&p, a->count, 0);
	switch (d->agg) {
	case GEN_AGG_COUNTER:
		PUT_LIT(&p, ",\"sum\":");
		put_exact(&p, a->sum);
		break;
	case GEN_AGG_SET:
		PUT_LIT(&p, ",\"distinct\":");
		put_uint(&p, a->distinct, 0);
		break;
	case GEN_AGG_STATS:
		PUT_LIT(&p, ",\"sum\":");
		put_exact(&p, a->sum);
		/* fall through */
	case GEN_AGG_GAUGE:
		PUT_LIT(&p, ",\"min\":");
		put_double_of(&p, d->fmt, a->min);
		PUT_LIT(&p, ",\"max\":");
		put_double_of(&p, d->fmt, a->max);
		if (d->agg == GEN_AGG_GAUGE) {
			PUT_LIT(&p, ",\"last\":");
			put_double_of(&p, d->fmt, a->last);
		}
		break;
	}
	*p++ = '}';
	fwrite(buf, 1, (size_t)(p - buf), t->f);
	t->metrics++;
}

/* --keys: account one line for @p key (0..keys - 1). */
static void
truth_key_add(struct truth *t, uint32_t key)
{
	assert(key < t->keys);
	if (t->key_count[key]++ == 0)
		t->key_seen[t->n_seen++] = key;
}

/* Write one key's group; its canonical tags are its only tag, so key order is sorted order. */
static void
truth_key_write(struct truth *t, uint32_t key, uint32_t count)
{
	char buf[256];
	char *p = buf;

	p += sprintf(p, "%s{\"window_start\":%" PRIu64 ",\"window_end\":%" PRIu64
		     ",\"name\":\"" GEN_KEY_NAME,
		     t->metrics > 0 ? ",\n" : "", t->ws, t->ws + t->window_ns);
	if (t->key_in_name) {
		PUT_LIT(&p, ".k");
		put_uint(&p, key, GEN_KEY_WIDTH);
		PUT_LIT(&p, "\",\"type\":\"c\",\"tags\":{},\"count\":");
	} else {
		PUT_LIT(&p, "\",\"type\":\"c\",\"tags\":{\"key\":\"k");
		put_uint(&p, key, GEN_KEY_WIDTH);
		PUT_LIT(&p, "\"},\"count\":");
	}
	put_uint(&p, count, 0);
	PUT_LIT(&p, ",\"sum\":");
	put_uint(&p, count, 0);
	*p++ = '}';
	fwrite(buf, 1, (size_t)(p - buf), t->f);
	t->metrics++;
}

static int
u32_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/*
 * --keys: write the window's keys in key order and forget them. A sparse
 * window sorts the keys it saw; a dense one scans every key, whichever is cheaper.
 */
static void
truth_keys_flush(struct truth *t)
{
	if ((uint64_t)t->n_seen * 16 < t->keys) {
		qsort(t->key_seen, t->n_seen, sizeof(t->key_seen[0]), u32_cmp);
		for (uint32_t i = 0; i < t->n_seen; i++) {
			truth_key_write(t, t->key_seen[i], t->key_count[t->key_seen[i]]);
			t->key_count[t->key_seen[i]] = 0;
		}
	} else {
		for (uint32_t k = 0; k < t->keys; k++) {
			if (t->key_count[k] == 0)
				continue;
			truth_key_write(t, k, t->key_count[k]);
			t->key_count[k] = 0;
		}
	}
	t->n_seen = 0;
}

/* Write the current window's groups in order and forget them. */
static int
truth_window_flush(struct truth *t)
{
	struct truth_sorted *s;

	if (t->keys != 0) {
		if (t->have_ws && t->n_seen > 0)
			truth_keys_flush(t);
		return 0;
	}
	if (!t->have_ws || t->n_aggs == 0)
		return 0;
	for (uint32_t i = 0; i < t->n_aggs; i++)
		if (truth_tags_canon(t, &t->aggs[i]) < 0)
			return -ENOMEM;
	s = malloc((size_t)t->n_aggs * sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n_aggs; i++) {
		s[i].name = metric_defs[t->aggs[i].metric].name;
		s[i].type = metric_defs[t->aggs[i].metric].type;
		s[i].tags = t->arena + t->aggs[i].tags_off;
		s[i].a = &t->aggs[i];
	}
	qsort(s, t->n_aggs, sizeof(*s), truth_sorted_cmp);
	for (uint32_t i = 0; i < t->n_aggs; i++)
		truth_agg_write(t, &s[i]);
	free(s);

	for (uint32_t i = 0; i < t->n_aggs; i++)
		t->agg_slots[t->aggs[i].slot] = 0;
	for (uint32_t i = 0; i < t->n_members; i++)
		t->member_slots[t->members[i].slot] = 0;
	t->n_aggs = 0;
	t->n_members = 0;
	t->arena_len = 0;
	return 0;
}

/* Enter the window that contains @p ts_ns, flushing the previous one. */
static int
truth_window_enter(struct truth *t, uint64_t ts_ns)
{
	uint64_t ws = ts_ns / t->window_ns * t->window_ns;
	int rc;

	if (t->have_ws && ws == t->ws)
		return 0;
	assert(!t->have_ws || ws > t->ws);
	rc = truth_window_flush(t);
	if (rc < 0)
		return rc;
	t->ws = ws;
	t->have_ws = true;
	return 0;
}

static void
truth_destroy(struct truth *t)
{
	if (t == NULL)
		return;
	if (t->f != NULL)
		fclose(t->f);
	free(t->aggs);
	free(t->agg_slots);
	free(t->members);
	free(t->member_slots);
	free(t->arena);
	free(t->key_count);
	free(t->key_seen);
	free(t);
}

static int
truth_open(const struct gen *g, struct truth **ret_truth)
{
	const struct gen_opts *o = &g->o;
	struct truth *t;
	int rc;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->path = o->truth;
	t->window_ns = o->window_ns;
	t->key_in_name = o->key_in_name;
	t->store_w = g->store_w;
	t->sku_w = g->sku_w;
	t->keys = o->keys;
	if (t->keys != 0) {
		t->key_count = calloc(t->keys, sizeof(*t->key_count));
		t->key_seen = malloc((size_t)t->keys * sizeof(*t->key_seen));
		if (t->key_count == NULL || t->key_seen == NULL) {
			rc = -ENOMEM;
			goto err;
		}
	}
	if (slots_grow(&t->agg_slots, &t->agg_mask, 1) < 0 ||
	    slots_grow(&t->member_slots, &t->member_mask, 1) < 0) {
		rc = -ENOMEM;
		goto err;
	}
	t->f = fopen(o->truth, "w");
	if (t->f == NULL) {
		rc = -errno;
		goto err;
	}
	setvbuf(t->f, NULL, _IOFBF, 1u << 20);
	fprintf(t->f,
		"{\"generator\":\"sluice-gen\",\"version\":1,\"format\":\"statsd\""
		",\"seed\":%" PRIu64 ",\"events\":%" PRIu64 ",\"datagrams\":",
		o->seed, o->events);
	t->count_pos = ftello(t->f);
	if (t->count_pos < 0) {
		rc = -errno;
		goto err;
	}
	fprintf(t->f,
		"%*s,\"window_ns\":%" PRIu64 ",\"queues\":%u,\"lines_per_datagram\":%u"
		",\"stores\":%u,\"skus\":%u,\"users\":%u",
		TRUTH_COUNT_WIDTH, "0", o->window_ns, o->queues, o->lines, o->stores, o->skus,
		o->users);
	/* Fields that older readers do not know appear only when their option is used. */
	if (o->keys != 0)
		fprintf(t->f, ",\"keys\":%u", o->keys);
	if (o->udp != NULL || o->dpdk)
		fprintf(t->f, ",\"sink\":\"%s\"", o->udp != NULL ? "udp" : "dpdk");
	if (o->payload_set)
		fprintf(t->f, ",\"payload_max\":%u", o->payload_max);
	if (o->dst_port_set)
		fprintf(t->f, ",\"dst_port\":%u", o->dst_port);
	fprintf(t->f, ",\"zipf\":%.15g,\"rate\":%" PRIu64 ",\"start_ns\":%" PRIu64
		",\n\"metrics\":[\n",
		o->zipf, o->rate, (uint64_t)(o->start * SL_NS_PER_SEC));
	*ret_truth = t;
	return 0;
err:
	truth_destroy(t);
	return rc;
}

/* Flush the last window, patch the datagram count into the header and close. */
static int
truth_close(struct truth *t, uint64_t datagrams)
{
	int rc;

	rc = truth_window_flush(t);
	if (rc < 0)
		return rc;
	fputs("\n]}\n", t->f);
	if (fseeko(t->f, t->count_pos, SEEK_SET) != 0)
		return -errno;
	fprintf(t->f, "%-*" PRIu64, TRUTH_COUNT_WIDTH, datagrams);
	if (fflush(t->f) != 0 || ferror(t->f))
		return errno != 0 ? -errno : -EIO;
	rc = fclose(t->f);
	t->f = NULL;
	return rc != 0 ? -errno : 0;
}

/* A JSON string of a file name (escapes '"', '\\' and control bytes). */
static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned int)(unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *
sink_name(const struct gen_opts *o)
{
	if (o->udp != NULL)
		return "udp";
	if (o->dpdk)
		return "dpdk";
	return o->pcap != NULL ? "pcap" : "none";
}

/*
 * --format json|binary: open the truth file and write its header; the views'
 * rows follow (gen_events.c). The datagram count is patched in at the end.
 */
static int
views_truth_open(struct gen *g)
{
	const struct gen_opts *o = &g->o;
	FILE *f;
	int rc;

	rc = sl_gen_views_create(g->cfg, &g->names, g->max_back_ms * GEN_NS_PER_MS, o->queues,
				 &g->views);
	if (rc < 0)
		return rc;
	f = fopen(o->truth, "w");
	if (f == NULL)
		return -errno;
	g->vt_f = f;
	setvbuf(f, NULL, _IOFBF, 1u << 20);
	fprintf(f, "{\"generator\":\"sluice-gen\",\"version\":1,\"format\":\"%s\",\"seed\":%" PRIu64
		",\"events\":%" PRIu64 ",\"datagrams\":",
		format_names[o->format], o->seed, o->events);
	g->vt_count_pos = ftello(f);
	if (g->vt_count_pos < 0)
		return -errno;
	fprintf(f, "%*s,\"queues\":%u,\"lines_per_datagram\":%u,\"payload_max\":%u"
		",\"stores\":%u,\"skus\":%u,\"users\":%u,\"producers\":%u,\"zipf\":%.15g"
		",\"rate\":%" PRIu64 ",\"start_ns\":%" PRIu64 ",\"dst_port\":%u,\"sink\":\"%s\""
		",\n\"skew_ns\":%" PRIu64 ",\"out_of_order_fraction\":%.17g,\"late_fraction\":%.17g"
		",\"late_by_ns\":%" PRIu64 ",\"ts_offset_ns\":%" PRIu64 ",\"max_back_ns\":%" PRIu64
		",\"config\":",
		TRUTH_COUNT_WIDTH, "0", o->queues, o->lines, o->payload_max, o->stores, o->skus,
		o->users, o->producers, o->zipf, o->rate, (uint64_t)(o->start * SL_NS_PER_SEC),
		o->dst_port, sink_name(o), o->skew_ns, o->ooo, o->late, o->late_by_ns,
		o->ts_offset_ns, (uint64_t)(g->max_back_ms * GEN_NS_PER_MS));
	json_str(f, o->config != NULL ? o->config : "default");
	fputs(",\n", f);
	sl_gen_views_begin(g->views, f);
	return 0;
}

/* Write the remaining windows and the totals, patch the datagram count, close. */
static int
views_truth_close(struct gen *g)
{
	FILE *f = g->vt_f;
	int rc;

	rc = sl_gen_views_end(g->views);
	if (rc < 0)
		return rc;
	fputs("\n}\n", f);
	if (fseeko(f, g->vt_count_pos, SEEK_SET) != 0)
		return -errno;
	fprintf(f, "%-*" PRIu64, TRUTH_COUNT_WIDTH, g->datagrams);
	if (fflush(f) != 0 || ferror(f))
		return errno != 0 ? -errno : -EIO;
	g->vt_f = NULL;
	return fclose(f) != 0 ? -errno : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Live sinks: --udp and the DPDK TX mode */

static bool
gen_live(const struct gen *g)
{
	return g->o.udp != NULL || g->o.dpdk;
}

static void
sleep_s(double s)
{
	struct timespec ts;

	if (!(s > 0))
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/*
 * @p unit_max: the most units one datagram takes (its lines for --udp, 1 for
 * a packet). The bucket holds 10 ms of the rate, at least one datagram and at
 * most one batch, and starts with one datagram's worth.
 */
static void
pacer_init(struct gen_pacer *p, uint64_t rate, uint32_t unit_max)
{
	p->rate = (double)rate;
	p->depth = fmin((double)unit_max * GEN_UDP_BATCH, p->rate * GEN_PACE_DEPTH_S);
	if (p->depth < unit_max)
		p->depth = unit_max;
	p->tokens = unit_max;
	p->last = now_s();
}

/* Take @p units if the bucket holds them. */
static bool
pacer_take(struct gen_pacer *p, uint32_t units)
{
	double t;

	if (p->rate == 0)
		return true;
	t = now_s();
	p->tokens = fmin(p->depth, p->tokens + (t - p->last) * p->rate);
	p->last = t;
	if (p->tokens < units)
		return false;
	p->tokens -= units;
	return true;
}

/* Bring the sent/failed counters up to date. */
static void
net_sync(struct gen *g)
{
#ifdef SL_GEN_HAVE_DPDK
	struct sl_gen_tx_stats st;

	if (g->tx != NULL) {
		sl_gen_tx_stats_get(g->tx, &st);
		g->sent_datagrams = st.sent;
		g->failed_datagrams = st.failed;
		/* Events are counted as generated: at most one burst is still queued. */
		g->sent_events = g->next_event;
	}
#else
	(void)g;
#endif
}

/* One line on stderr per second: rates over the last second, totals. */
static void
net_progress(struct gen *g)
{
	double t, dt;

	if (g->o.quiet)
		return;
	t = now_s();
	dt = t - g->t_progress;
	if (dt < 1.0)
		return;
	net_sync(g);
	fprintf(stderr, "sluice-gen: %.0f s: %.0f events/s, %.0f %s/s; %" PRIu64 "/%" PRIu64
		" events, %" PRIu64 " %s sent",
		t - g->t0, (double)(g->sent_events - g->last_events) / dt,
		(double)(g->sent_datagrams - g->last_datagrams) / dt,
		g->o.dpdk ? "packets" : "datagrams", g->sent_events, g->o.events,
		g->sent_datagrams, g->o.dpdk ? "packets" : "datagrams");
	if (g->o.dpdk)
		fprintf(stderr, ", %" PRIu64 " failed", g->failed_datagrams);
	fputc('\n', stderr);
	g->t_progress = t;
	g->last_events = g->sent_events;
	g->last_datagrams = g->sent_datagrams;
}

/*
 * "HOST:PORT", "[V6]:PORT" -> host and port text; "HOST" and "[V6]" take
 * @p dflt_port. @return the port number, or -EINVAL.
 */
static int
udp_split(const char *arg, char *host, size_t host_len, char *port, size_t port_len,
	  uint16_t dflt_port)
{
	const char *colon, *h = arg;
	size_t hl;
	unsigned long p = dflt_port;
	char *end;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (close == NULL || (close[1] != ':' && close[1] != '\0'))
			return -EINVAL;
		h = arg + 1;
		hl = (size_t)(close - h);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(arg, ':');
		if (colon != NULL && memchr(arg, ':', (size_t)(colon - arg)) != NULL)
			return -EINVAL;   /* an IPv6 address without brackets */
		hl = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
	}
	if (hl == 0 || hl >= host_len)
		return -EINVAL;
	if (colon != NULL) {
		if (colon[1] < '0' || colon[1] > '9')
			return -EINVAL;
		errno = 0;
		p = strtoul(colon + 1, &end, 10);
		if (errno != 0 || *end != '\0' || p == 0 || p > 65535)
			return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, port_len, "%lu", p);
	return (int)p;
}

static int
udp_open(struct gen *g)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256], port[8];
	struct gen_udp *u;
	int sndbuf = GEN_UDP_SNDBUF;
	int rc;

	if (udp_split(g->o.udp, host, sizeof(host), port, sizeof(port), g->o.dst_port) < 0)
		return -EINVAL;   /* parse_args() checked it */
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "sluice-gen: --udp %s: %s\n", g->o.udp, gai_strerror(rc));
		return -EINVAL;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		freeaddrinfo(res);
		return -ENOMEM;
	}
	g->udp = u;
	memcpy(&u->dst, res->ai_addr, res->ai_addrlen);
	u->dst_len = res->ai_addrlen;
	u->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	freeaddrinfo(res);
	if (u->fd < 0) {
		rc = -errno;
		fprintf(stderr, "sluice-gen: --udp %s: socket: %s\n", g->o.udp, strerror(-rc));
		return rc;
	}
	/* A larger send buffer only saves syscalls; a smaller one is fine. */
	if (setsockopt(u->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		(void)setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	for (uint32_t i = 0; i < GEN_UDP_BATCH; i++) {
		u->iov[i].iov_base = u->buf[i];
		u->msgs[i].msg_hdr.msg_name = &u->dst;
		u->msgs[i].msg_hdr.msg_namelen = u->dst_len;
		u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
		u->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

static void
udp_close(struct gen_udp *u)
{
	if (u == NULL)
		return;
	if (u->fd >= 0)
		close(u->fd);
	free(u);
}

/* Send every queued datagram; partial sends are continued. */
static int
udp_flush(struct gen *g)
{
	struct gen_udp *u = g->udp;
	double stalled = 0;
	uint32_t done = 0;
	int r, err;

	while (done < u->n) {
		r = sendmmsg(u->fd, u->msgs + done, u->n - done, 0);
		if (r > 0) {
			for (int i = 0; i < r; i++)
				g->sent_events += u->lines[done + (uint32_t)i];
			g->sent_datagrams += (uint32_t)r;
			done += (uint32_t)r;
			stalled = 0;
			continue;
		}
		err = r < 0 ? errno : EIO;
		if (err == EINTR)
			continue;
		if (err != EAGAIN && err != ENOBUFS) {
			fprintf(stderr, "sluice-gen: sendmmsg to %s: %s\n", g->o.udp, strerror(err));
			g->err_reported = true;
			return -err;
		}
		/* Transient: the device or socket buffer is full. */
		if (stalled == 0) {
			stalled = now_s();
		} else if (now_s() - stalled > GEN_SEND_STALL_S) {
			fprintf(stderr, "sluice-gen: sendmmsg to %s: %s for %.0f s\n", g->o.udp,
				strerror(err), GEN_SEND_STALL_S);
			g->err_reported = true;
			return -err;
		}
		sleep_s(1e-4);
	}
	u->n = 0;
	net_progress(g);
	return 0;
}

static int
net_flush(struct gen *g)
{
	if (g->udp != NULL && g->udp->n > 0)
		return udp_flush(g);
#ifdef SL_GEN_HAVE_DPDK
	if (g->tx != NULL && sl_gen_tx_pending(g->tx) > 0) {
		sl_gen_tx_flush(g->tx);
		net_progress(g);
	}
#endif
	return 0;
}

/* Wait for @p units of the rate, sending what is queued before sleeping. */
static int
net_pace(struct gen *g, uint32_t units)
{
	double wait;
	int rc;

	if (pacer_take(&g->pacer, units))
		return 0;
	rc = net_flush(g);
	if (rc < 0)
		return rc;
	while (!pacer_take(&g->pacer, units)) {
		wait = ((double)units - g->pacer.tokens) / g->pacer.rate;
		/* Sleep when worth it, spin the last 100 us; wake at least every 100 ms. */
		if (wait > 1e-4)
			sleep_s(fmin(wait, 0.1));
		net_progress(g);
	}
	return 0;
}

static int
udp_queue(struct gen *g, const uint8_t *payload, uint32_t len, uint32_t lines)
{
	struct gen_udp *u = g->udp;
	int rc;

	rc = net_pace(g, lines);
	if (rc < 0)
		return rc;
	memcpy(u->buf[u->n], payload, len);
	u->iov[u->n].iov_len = len;
	u->lines[u->n] = lines;
	if (++u->n == GEN_UDP_BATCH)
		return udp_flush(g);
	return 0;
}

#ifdef SL_GEN_HAVE_DPDK
static int
tx_queue(struct gen *g, const uint8_t *frame, uint32_t len)
{
	int rc;

	rc = net_pace(g, 1);
	if (rc < 0)
		return rc;
	/* A frame without an mbuf is counted as failed by gen_tx; carry on. */
	(void)sl_gen_tx_enqueue(g->tx, frame, len);
	if (sl_gen_tx_pending(g->tx) == 0)
		net_progress(g);
	return 0;
}
#endif

/* ---------------------------------------------------------------------------------------- */
/* Workload */

/* Draw one event's lines; returns how many (1..3). Every random draw happens here. */
static uint32_t
event_draw(struct gen *g, struct gen_line *l)
{
	uint64_t kind = sl_rng_below(&g->rng, 100);

	memset(l, 0, GEN_EVENT_LINES_MAX * sizeof(*l));
	if (kind < 40) {
		/* Footfall: the visit and its visitor. Every 4th visit line is sampled. */
		g->visits++;
		l[0].metric = GEN_M_VISIT;
		l[0].v = 100;
		if (g->visits % 4 == 0)
			l[0].rate = (uint8_t)(1 + (g->visits / 4 - 1) % 3);
		l[1].metric = GEN_M_VISITORS;
		l[1].user = (uint32_t)sl_zipf_sample(g->z_user, &g->rng);
		return 2;
	}
	if (kind < 75) {
		/* Amounts log-uniform over [1.00, 500.00]: many small baskets, a long tail. */
		int64_t cents = (int64_t)(100.0 * exp(sl_rng_double(&g->rng) * log(500.0)));
		int64_t ms = (int64_t)(20.0 * exp(sl_rng_double(&g->rng) * log(150.0)));
		uint64_t q = sl_rng_below(&g->rng, 100);

		l[0].metric = GEN_M_BASKET;
		l[0].v = cents < 100 ? 100 : cents > 50000 ? 50000 : cents;
		l[1].metric = GEN_M_SKU_SOLD;
		l[1].sku = (uint32_t)sl_zipf_sample(g->z_sku, &g->rng);
		l[1].v = 100 * (q < 55 ? 1 : q < 80 ? 2 : q < 92 ? 3 : q < 97 ? 4 : 5);
		l[2].metric = GEN_M_LATENCY;
		l[2].v = 100 * (ms < 20 ? 20 : ms > 3000 ? 3000 : ms);
		return 3;
	}
	if (kind < 78) {
		int64_t cents = (int64_t)(100.0 * exp(sl_rng_double(&g->rng) * log(500.0)));

		l[0].metric = GEN_M_REFUND;
		l[0].v = cents < 100 ? 100 : cents > 50000 ? 50000 : cents;
		return 1;
	}
	if (kind < 80) {
		l[0].metric = GEN_M_TILLS;
		l[0].v = 100 * (int64_t)sl_rng_below(&g->rng, 13);
		return 1;
	}
	l[0].metric = GEN_M_HEARTBEAT;
	l[0].v = 100;
	return 1;
}

/* --format json|binary: the event time of the open datagram before the knobs, in ms. */
static uint64_t
dg_base_ms(const struct gen *g)
{
	return g->dg_ts_us / 1000 - g->o.ts_offset_ns / GEN_NS_PER_MS;
}

/* Open a datagram from @p store (the producer, with --producers). */
static int
dgram_open(struct gen *g, uint32_t store)
{
	g->dg_open = true;
	g->dg_store = store;
	g->dg_lines = 0;
	g->dg_len = 0;
	g->dg_ts_us = g->o.start * 1000000;
	if (g->o.rate != 0)   /* --rate 0 exists only for live sinks */
		g->dg_ts_us += g->next_event * 1000000 / g->o.rate;
	if (!g->have_ws || g->dg_ts_us * 1000 / g->o.window_ns * g->o.window_ns != g->last_ws) {
		g->last_ws = g->dg_ts_us * 1000 / g->o.window_ns * g->o.window_ns;
		g->have_ws = true;
		g->windows++;
	}
	if (g->truth != NULL)
		return truth_window_enter(g->truth, g->dg_ts_us * 1000);
	if (g->o.format == GEN_FORMAT_BINARY) {
		int rc = sl_bin_encode_begin(&g->enc, g->frame + SL_UDP4_HDR_LEN, g->o.payload_max,
					     store, ++g->seqs[store - 1]);

		assert(rc == 0);
		(void)rc;
	}
	if (g->views != NULL)
		return sl_gen_views_advance(g->views, dg_base_ms(g) * GEN_NS_PER_MS,
					    g->dg_ts_us * 1000);
	return 0;
}

static int
dgram_close(struct gen *g)
{
	uint64_t n = g->dg_store;
	uint64_t mac = 0x020000000002ULL + n;
	struct sl_udp4_addr a = {
		.dst_mac = { 0x02, 0, 0, 0, 0, 0x01 },
		.src_ip = (10u << 24) | (uint32_t)((1 + (n >> 16)) << 16) | (uint32_t)(n & 0xffff),
		.dst_ip = GEN_DST_IP,
		.src_port = (uint16_t)(GEN_UDP_SRC_PORT_BASE + n % GEN_UDP_SRC_PORT_SPAN),
		.dst_port = g->o.dst_port,
		.ip_id = (uint16_t)g->datagrams,
	};
	uint32_t len;
	int rc = 0;

	assert(g->dg_open && g->dg_lines > 0);
	if (g->o.format == GEN_FORMAT_BINARY)
		g->dg_len = sl_bin_encode_end(&g->enc);
	for (int i = 0; i < 6; i++)
		a.src_mac[i] = (uint8_t)(mac >> (40 - 8 * i));
	if (g->pcaps != NULL) {
		len = sl_udp4_headers_fill(g->frame, &a, g->dg_len);
		rc = sl_pcap_write(g->pcaps[(n - 1) % g->o.queues], g->dg_ts_us, g->frame, len);
	} else if (g->udp != NULL) {
		rc = udp_queue(g, g->frame + SL_UDP4_HDR_LEN, g->dg_len, g->dg_lines);
	}
#ifdef SL_GEN_HAVE_DPDK
	else if (g->tx != NULL) {
		len = sl_udp4_headers_fill(g->frame, &a, g->dg_len);
		rc = tx_queue(g, g->frame, len);
	}
#endif
	g->dg_open = false;
	g->datagrams++;
	return rc;
}

static int
dgram_append(struct gen *g, const struct gen_line *l, const char *text, uint32_t len)
{
	char *payload = (char *)g->frame + SL_UDP4_HDR_LEN;

	assert(g->dg_len + len + 1 <= g->o.payload_max);
	memcpy(payload + g->dg_len, text, len);
	payload[g->dg_len + len] = '\n';
	g->dg_len += len + 1;
	g->dg_lines++;
	g->next_event++;
	if (g->truth != NULL)
		return truth_add(g->truth, l, g->dg_store, payload + g->dg_len - len - 1, len);
	return 0;
}

static uint32_t
store_draw(struct gen *g)
{
	return (uint32_t)sl_zipf_sample(g->z_store, &g->rng);
}

/* Place one event's lines into datagrams (see the model at the top of the file). */
static int
event_place(struct gen *g, const struct gen_line *l, uint32_t n)
{
	char text[GEN_EVENT_LINES_MAX][GEN_LINE_MAX];
	uint32_t len[GEN_EVENT_LINES_MAX];
	uint32_t bytes;
	uint32_t store;
	int rc;

	if (n <= g->o.lines) {
		for (;;) {
			if (!g->dg_open) {
				rc = dgram_open(g, store_draw(g));
				if (rc < 0)
					return rc;
			}
			bytes = 0;
			for (uint32_t i = 0; i < n; i++) {
				len[i] = line_render(g, text[i], &l[i], g->dg_store);
				bytes += len[i] + 1;
			}
			if (g->dg_lines + n <= g->o.lines && g->dg_len + bytes <= g->o.payload_max)
				break;
			assert(g->dg_lines > 0);
			rc = dgram_close(g);
			if (rc < 0)
				return rc;
		}
		for (uint32_t i = 0; i < n; i++) {
			rc = dgram_append(g, &l[i], text[i], len[i]);
			if (rc < 0)
				return rc;
		}
	} else {
		/* More lines than a datagram may hold: continue with the same store. */
		if (g->dg_open) {
			rc = dgram_close(g);
			if (rc < 0)
				return rc;
		}
		store = store_draw(g);
		for (uint32_t i = 0; i < n; i++) {
			if (!g->dg_open) {
				rc = dgram_open(g, store);
				if (rc < 0)
					return rc;
			}
			len[i] = line_render(g, text[i], &l[i], store);
			rc = dgram_append(g, &l[i], text[i], len[i]);
			if (rc < 0)
				return rc;
			if (g->dg_lines == g->o.lines) {
				rc = dgram_close(g);
				if (rc < 0)
					return rc;
			}
		}
	}
	if (g->dg_open && g->dg_lines == g->o.lines)
		return dgram_close(g);
	return 0;
}

static void
progress(struct gen *g)
{
	double t = now_s();

	if (gen_live(g)) {
		net_progress(g);
		return;
	}

	if (t - g->t_progress < 1.0)
		return;
	g->t_progress = t;
	fprintf(stderr, "sluice-gen: %3.0f%% %" PRIu64 "/%" PRIu64 " events, %" PRIu64
		" datagrams, %.1f s\n",
		100.0 * (double)g->next_event / (double)g->o.events, g->next_event, g->o.events,
		g->datagrams, t - g->t0);
}

static int
generate(struct gen *g)
{
	struct gen_line l[GEN_EVENT_LINES_MAX];
	uint32_t n;
	int rc;

	while (g->next_event < g->o.events) {
		n = event_draw(g, l);
		/* Stop exactly at --events, even inside an event. */
		if (n > g->o.events - g->next_event)
			n = (uint32_t)(g->o.events - g->next_event);
		rc = event_place(g, l, n);
		if (rc < 0)
			return rc;
		if (!g->o.quiet && (g->next_event & 0xffff) < n)
			progress(g);
	}
	if (g->dg_open)
		return dgram_close(g);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON lines and binary events */

/*
 * Draw one event (its store only with --producers; otherwise the datagram
 * gives it). Every draw of the events' PRNG for an event happens here.
 */
static void
rev_draw(struct gen *g, struct sl_gen_event *ev)
{
	uint64_t kind = sl_rng_below(&g->rng, 78);
	int64_t cents;

	memset(ev, 0, sizeof(*ev));
	ev->user = (uint32_t)sl_zipf_sample(g->z_user, &g->rng);
	if (kind < 40) {
		ev->kind = SL_GEN_KIND_VISIT;
	} else {
		ev->kind = kind < 75 ? SL_GEN_KIND_PURCHASE : SL_GEN_KIND_REFUND;
		/* Log-uniform over [1.00, 500.00], as the statsd baskets. */
		cents = (int64_t)(100.0 * exp(sl_rng_double(&g->rng) * log(500.0)));
		ev->cents = cents < 100 ? 100 : cents > 50000 ? 50000 : cents;
		ev->sku = (uint32_t)sl_zipf_sample(g->z_sku, &g->rng);
	}
	if (g->o.producers != 0)
		ev->store = store_draw(g);
}

/*
 * The event's time relative to its datagram's base time, in ms, from the time
 * knobs (their own PRNG): +-skew, then out of order (back 1 ms .. late-by) or
 * late (back late-by + 1 ms .. 2 late-by).
 */
static int64_t
time_draw(struct gen *g)
{
	const struct gen_opts *o = &g->o;
	uint64_t skew = o->skew_ns / GEN_NS_PER_MS, by = o->late_by_ns / GEN_NS_PER_MS;
	int64_t d = 0;
	double r;

	if (skew > 0)
		d += (int64_t)sl_rng_below(&g->trng, 2 * skew + 1) - (int64_t)skew;
	if (o->late > 0 || o->ooo > 0) {
		r = sl_rng_double(&g->trng);
		if (r < o->late)
			d -= (int64_t)(by + 1 + sl_rng_below(&g->trng, by));
		else if (r < o->late + o->ooo)
			d -= (int64_t)(1 + sl_rng_below(&g->trng, by));
	}
	return d;
}

/* The source of a new datagram: a store (Zipf), or a producer (uniform) with --producers. */
static uint32_t
source_draw(struct gen *g)
{
	if (g->o.producers != 0)
		return 1 + (uint32_t)sl_rng_below(&g->rng, g->o.producers);
	return store_draw(g);
}

/* Append one event to the open datagram, or to a new one when it does not fit. */
static int
rev_place(struct gen *g, struct sl_gen_event *ev, int64_t dt_ms)
{
	char *payload = (char *)g->frame + SL_UDP4_HDR_LEN;
	char line[SL_GEN_JSON_LINE_MAX + 1];
	uint32_t len;
	int rc;

	for (;;) {
		if (!g->dg_open) {
			rc = dgram_open(g, source_draw(g));
			if (rc < 0)
				return rc;
		}
		if (g->o.producers == 0)
			ev->store = g->dg_store;
		ev->ts_ms = (uint64_t)((int64_t)dg_base_ms(g) + dt_ms);
		if (g->o.format == GEN_FORMAT_JSON) {
			len = sl_gen_event_json(ev, &g->names, line);
			line[len++] = '\n';
			if (g->dg_len + len <= g->o.payload_max) {
				memcpy(payload + g->dg_len, line, len);
				g->dg_len += len;
				break;
			}
		} else {
			rc = sl_gen_event_bin(&g->enc, ev, &g->names, &g->bin);
			if (rc == 0)
				break;
			if (rc != -ENOSPC && rc != -EOVERFLOW)
				return rc;
		}
		/* An empty datagram holds any event: payload_max >= GEN_PAYLOAD_MIN. */
		assert(g->dg_lines > 0);
		rc = dgram_close(g);
		if (rc < 0)
			return rc;
	}
	g->dg_lines++;
	g->next_event++;
	if (g->views != NULL) {
		/*
		 * The queue of the datagram that holds the event: its source's, as
		 * dgram_close() picks the pcap file (the producer with --producers).
		 */
		rc = sl_gen_views_add(g->views, ev, (g->dg_store - 1) % g->o.queues,
				      g->dg_ts_us * 1000);
		if (rc < 0)
			return rc;
	}
	if (g->dg_lines == g->o.lines)
		return dgram_close(g);
	return 0;
}

/* The JSON lines and binary workload (see the top of the file). */
static int
events_generate(struct gen *g)
{
	struct sl_gen_event ev;
	int64_t dt;
	int rc;

	while (g->next_event < g->o.events) {
		rev_draw(g, &ev);
		dt = time_draw(g);
		rc = rev_place(g, &ev, dt);
		if (rc < 0)
			return rc;
		if (!g->o.quiet && (g->next_event & 0xffff) == 0)
			progress(g);
	}
	if (g->dg_open)
		return dgram_close(g);
	return 0;
}

/* --keys: one key in 0..keys - 1, uniform or Zipf (rank 1 is key 0). */
static uint32_t
key_draw(struct gen *g)
{
	if (g->z_key != NULL)
		return (uint32_t)sl_zipf_sample(g->z_key, &g->rng) - 1;
	return (uint32_t)sl_rng_below(&g->rng, g->o.keys);
}

/* The benchmark workload: one counter line per event (see the top of the file). */
static int
keys_generate(struct gen *g)
{
	char *payload = (char *)g->frame + SL_UDP4_HDR_LEN;
	char line[64];
	uint32_t len, key;
	char *p;
	int rc;

	while (g->next_event < g->o.events) {
		key = key_draw(g);
		p = line;
		if (g->o.key_in_name) {
			PUT_LIT(&p, GEN_KEY_NAME ".k");
			put_uint(&p, key, GEN_KEY_WIDTH);
			PUT_LIT(&p, ":1|c");
		} else {
			PUT_LIT(&p, GEN_KEY_LINE);
			put_uint(&p, key, GEN_KEY_WIDTH);
		}
		*p++ = '\n';
		len = (uint32_t)(p - line);
		if (g->dg_open && g->dg_len + len > g->o.payload_max) {
			rc = dgram_close(g);
			if (rc < 0)
				return rc;
		}
		if (!g->dg_open) {
			rc = dgram_open(g, 1 + (uint32_t)sl_rng_below(&g->rng, g->o.stores));
			if (rc < 0)
				return rc;
		}
		memcpy(payload + g->dg_len, line, len);
		g->dg_len += len;
		g->dg_lines++;
		g->next_event++;
		if (g->truth != NULL)
			truth_key_add(g->truth, key);
		if (g->dg_lines == g->o.lines) {
			rc = dgram_close(g);
			if (rc < 0)
				return rc;
		}
		if (!g->o.quiet && (g->next_event & 0xffff) == 0)
			progress(g);
	}
	if (g->dg_open)
		return dgram_close(g);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Command line */

enum {
	OPT_FORMAT = 256,
	OPT_EVENTS,
	OPT_LINES,
	OPT_STORES,
	OPT_SKUS,
	OPT_USERS,
	OPT_ZIPF,
	OPT_SEED,
	OPT_RATE,
	OPT_START,
	OPT_WINDOW,
	OPT_QUEUES,
	OPT_PCAP,
	OPT_TRUTH,
	OPT_KEYS,
	OPT_TRUTH_WINDOW,
	OPT_KEY_STYLE,
	OPT_UDP,
	OPT_PORT,
	OPT_PAYLOAD_MAX,
	OPT_DST_PORT,
	OPT_PRODUCERS,
	OPT_SKEW,
	OPT_OOO,
	OPT_LATE,
	OPT_LATE_BY,
	OPT_TS_OFFSET,
	OPT_CONFIG,
};

static const struct option long_opts[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "events", required_argument, NULL, OPT_EVENTS },
	{ "lines-per-datagram", required_argument, NULL, OPT_LINES },
	{ "stores", required_argument, NULL, OPT_STORES },
	{ "skus", required_argument, NULL, OPT_SKUS },
	{ "users", required_argument, NULL, OPT_USERS },
	{ "zipf", required_argument, NULL, OPT_ZIPF },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "start", required_argument, NULL, OPT_START },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "truth", required_argument, NULL, OPT_TRUTH },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "truth-window", required_argument, NULL, OPT_TRUTH_WINDOW },
	{ "key-style", required_argument, NULL, OPT_KEY_STYLE },
	{ "udp", required_argument, NULL, OPT_UDP },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "payload-max", required_argument, NULL, OPT_PAYLOAD_MAX },
	{ "dst-port", required_argument, NULL, OPT_DST_PORT },
	{ "producers", required_argument, NULL, OPT_PRODUCERS },
	{ "skew", required_argument, NULL, OPT_SKEW },
	{ "out-of-order", required_argument, NULL, OPT_OOO },
	{ "late", required_argument, NULL, OPT_LATE },
	{ "late-by", required_argument, NULL, OPT_LATE_BY },
	{ "ts-offset", required_argument, NULL, OPT_TS_OFFSET },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-gen [OPTION]...\n"
		"       sluice-gen [EAL OPTION]... -- [--port N] [OPTION]...\n"
		"Synthesize a retail workload as statsd lines, JSON lines or sluice binary\n"
		"events in UDP datagrams, write them to pcap file(s) for DPDK's net_pcap vdev,\n"
		"send them to a UDP socket or out of a DPDK port, and write the exact\n"
		"aggregates (ground truth) that sluiced must compute from them.\n"
		"\n"
		"  --format FMT            statsd (default), json or binary. json: one event per\n"
		"                          line, {\"event\":\"purchase\",\"store\":\"s03\",\"sku\":\n"
		"                          \"A-0042\",\"amount\":23.50,\"user\":\"u0042\",\"ts\":MS};\n"
		"                          binary: docs/wire-format.md, the amount in exact\n"
		"                          micro-units\n"
		"  --events N              events (statsd: lines) to generate, 0..%llu\n"
		"                          (default %llu)\n"
		"  --lines-per-datagram M  lines (events) per UDP datagram, 1..%u, fewer when\n"
		"                          the next would pass --payload-max (default %u;\n"
		"                          binary %u)\n"
		"  --payload-max B         largest UDP payload in bytes, %u..%u (default %u;\n"
		"                          binary %u, in DPDK TX mode %u: one mbuf)\n"
		"  --stores S              stores, 1..%u (default %u)\n"
		"  --skus K                SKUs, 1..%u (default %u)\n"
		"  --users U               users, 1..%u (default %u)\n"
		"  --zipf E                Zipf exponent of stores, SKUs and users, 0..%g\n"
		"                          (default %g)\n"
		"  --seed N                PRNG seed, 0..2^64-1 (default %llu)\n"
		"  --rate R                simulated events per second for packet timestamps,\n"
		"                          1..%llu (default %llu); with --udp: events per\n"
		"                          second of real time; in DPDK TX mode: packets per\n"
		"                          second; 0 = as fast as possible (those two only)\n"
		"  --start T               unix seconds of the first packet, 0..%llu\n"
		"                          (default %llu = 2026-01-01T00:00:00Z)\n"
		"  --window D              statsd truth window: 10s, 500ms, 1m, 1h, 250us,\n"
		"                          1000000ns; a bare number is seconds; 1us..24h\n"
		"                          (default 10s); json/binary take the views' windows\n"
		"  --queues Q              RSS queues, 1..%u; with Q > 1, --pcap out.pcap writes\n"
		"                          out.q0.pcap, out.q1.pcap, ... and store (producer) n\n"
		"                          goes to queue (n - 1) %% Q; json/binary: each queue\n"
		"                          has its own watermark in the truth (default %u)\n"
		"  --pcap FILE             write the datagrams to FILE (default: none)\n"
		"  --dst-port P            UDP destination port of the frames, 1..65535 (default:\n"
		"                          statsd 8125; json and binary: the port of that format\n"
		"                          in the configuration, 8127 and 8128 by default)\n"
		"  --truth FILE            write the ground truth JSON to FILE (default: none);\n"
		"                          json/binary: one row per view, window and group of\n"
		"                          the configuration, as 'sluicectl query --json'\n"
		"  --truth-window all      statsd truth as totals: one window [0, 2^63-1) instead\n"
		"                          of --window; required for statsd --truth with --udp\n"
		"                          or DPDK TX, whose receiver windows by arrival time\n"
		"  --keys N                statsd benchmark workload instead of the retail mix:\n"
		"                          every event is 'bench.hits:1|c|#key:kNNNNNNNN', the\n"
		"                          key uniform over N keys (--zipf E > 0: Zipf), N in\n"
		"                          %u..%u; producers are --stores (default %u\n"
		"                          here), drawn uniformly per datagram\n"
		"  --key-style tag|name    with --keys: the key as a DogStatsD tag (default) or\n"
		"                          in the name, 'bench.hits.kNNNNNNNN:1|c', for\n"
		"                          receivers that do not read tags\n"
		"  --udp HOST[:PORT]       send the UDP payloads with sendmmsg to HOST:PORT\n"
		"                          (IPv4, [IPv6] or a name; no PORT: --dst-port's),\n"
		"                          paced at --rate events/s, progress on stderr every\n"
		"                          second (tests use loopback)\n"
		"  --port N                DPDK TX mode: the ethdev port to send on (default 0)\n"
		"  -q, --quiet             no progress or summary on stderr (default: off)\n"
		"  -h, --help              print this help and exit\n"
		"\n"
		"JSON lines and binary only:\n"
		"  --config FILE           the views the truth is computed for, and the default\n"
		"                          --dst-port (default: the built-in retail views,\n"
		"                          'sluicectl config default')\n"
		"  --producers N           N producers, 1..%u, each datagram from one drawn\n"
		"                          uniformly, each event with its own store; binary\n"
		"                          sequence numbers count per producer from 1 (default:\n"
		"                          a datagram is one store's, and the store the producer)\n"
		"  --skew D                add a uniform random -D..+D to every event's ts\n"
		"                          (default 0)\n"
		"  --out-of-order F        fraction 0..1 of events moved back by 1 ms..--late-by\n"
		"                          (default 0)\n"
		"  --late F                fraction 0..1 of events moved back by more than\n"
		"                          --late-by, up to twice it (default 0)\n"
		"  --late-by D             the bound of the two above (default 1m)\n"
		"  --ts-offset D           stamp every event D in the past, as a replay of events\n"
		"                          from that long ago (default 0, at most 366d)\n"
		"Durations (D) are written as in the configuration (10s, 1.5m, 250ms, 1h, 7d; a\n"
		"bare number is seconds), in whole milliseconds, --skew and --late-by at most\n"
		"24h. An event's ts is its datagram's timestamp (ms) minus --ts-offset, then\n"
		"the knobs, drawn from a PRNG of their own: they never change the events\n"
		"otherwise.\n"
		"The json/binary truth: a header (the options, \"view_defs\", \"late_rule\"),\n"
		"\"views\": rows {\"view\", \"window_start\", \"window_end\", \"group\", \"values\",\n"
		"\"late\"} sorted by window end, view (config order) and group, and\n"
		"\"totals\" per view. Values are exact over the events that are not late: sums\n"
		"as exact decimals, avg the correctly rounded mean, last the value of the\n"
		"greatest time (then the greatest value), quantiles the element of rank\n"
		"floor(q (n - 1)) of the sorted values, topk by count then item bytes.\n"
		"Lateness, as sluiced's worker cores judge it: M is the largest event time of\n"
		"the events sent before on the same queue (every event counts; with --queues 1\n"
		"all events share one M; with Q > 1 the truth puts source n's datagrams on\n"
		"queue (n - 1) %% Q, as the pcap files, whatever the sink). An event at time t\n"
		"of an event-time view is late when the end of its slice, floor(t / slide) *\n"
		"slide + slide (a tumbling window's end), + allowed_lateness <= M; it is then\n"
		"late for every window that holds it, in no value and counted once in the\n"
		"view's late total. With keep_late a row's \"late\" counts its late events and a\n"
		"group with only late events has a row of count 0; without, \"late\" is 0 and\n"
		"there is no such row.\n"
		"\n"
		"DPDK TX mode: when the arguments hold '--', those before it go to the EAL and\n"
		"the Ethernet/IPv4/UDP frames (the same as in the pcap) leave through port N in\n"
		"bursts of 32, e.g.\n"
		"  sluice-gen --no-huge -m 256 --no-pci -l 0 --file-prefix gen \\\n"
		"      --vdev net_memif0,role=client,socket=/tmp/memif.sock -- --port 0 \\\n"
		"      --rate 100000 --events 1000000 --truth t.json --truth-window all\n"
		"The port's link must come up within 10 s. --pcap cannot be combined with\n"
		"--udp or DPDK TX. Without --truth no per-key memory is used. With --udp or\n"
		"DPDK TX, json/binary event times are still simulated from --start and --rate\n"
		"(all at --start with --rate 0), so their truth holds, but not for views that\n"
		"window by arrival time.\n"
		"\n"
		"Exit status: 0 on success, 1 on a runtime error (or frames that could not\n"
		"be sent), 2 on a usage error.\n",
		GEN_MAX_EVENTS, GEN_DEF_EVENTS, GEN_MAX_LINES, GEN_DEF_LINES, GEN_DEF_LINES_BIN,
		GEN_PAYLOAD_MIN, GEN_BUF_MAX, GEN_PAYLOAD_MAX, GEN_BUF_MAX, GEN_TX_PAYLOAD_MAX,
		GEN_MAX_STORES, GEN_DEF_STORES, GEN_MAX_SKUS, GEN_DEF_SKUS, GEN_MAX_USERS,
		GEN_DEF_USERS, GEN_MAX_ZIPF, GEN_DEF_ZIPF, GEN_DEF_SEED, GEN_MAX_RATE,
		GEN_DEF_RATE, GEN_MAX_START, GEN_DEF_START, GEN_MAX_QUEUES, GEN_DEF_QUEUES,
		GEN_MIN_KEYS, GEN_MAX_KEYS, GEN_DEF_KEY_STORES, GEN_MAX_PRODUCERS);
}

static int
bad_value(const char *opt, const char *arg, const char *expect)
{
	fprintf(stderr, "sluice-gen: --%s: invalid value '%s' (expected %s)\n", opt, arg, expect);
	return -EINVAL;
}

static int
parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *ret)
{
	char expect[96];
	unsigned long long v;
	char *end;

	snprintf(expect, sizeof(expect), "an integer in %" PRIu64 "..%" PRIu64, min, max);
	if (arg[0] < '0' || arg[0] > '9')
		return bad_value(opt, arg, expect);
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return bad_value(opt, arg, expect);
	*ret = v;
	return 0;
}

static int
parse_u32(const char *opt, const char *arg, uint32_t min, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int rc;

	rc = parse_u64(opt, arg, min, max, &v);
	if (rc == 0)
		*ret = (uint32_t)v;
	return rc;
}

/* "10s", "500ms", "1m", "2h", "250us", "1000ns"; a bare number is seconds. */
static int
parse_window(const char *arg, uint64_t *ret_ns)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{ "", SL_NS_PER_SEC }, { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", SL_NS_PER_SEC }, { "m", 60 * SL_NS_PER_SEC }, { "h", 3600 * SL_NS_PER_SEC },
	};
	const char *expect = "a duration in 1us..24h such as 10s, 500ms, 1m; bare number = seconds";
	unsigned long long v;
	char *end;

	if (arg[0] < '0' || arg[0] > '9')
		return bad_value("window", arg, expect);
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0)
		return bad_value("window", arg, expect);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (v > GEN_MAX_WINDOW_NS / units[i].ns || v * units[i].ns < GEN_MIN_WINDOW_NS)
			return bad_value("window", arg, expect);
		*ret_ns = v * units[i].ns;
		return 0;
	}
	return bad_value("window", arg, expect);
}

static int
usage_error(const char *msg)
{
	fprintf(stderr, "sluice-gen: %s\n", msg);
	return -EINVAL;
}

/* A duration as in the configuration, in whole ms, at most @p max_ns. */
static int
parse_duration_ms(const char *opt, const char *arg, uint64_t max_ns, uint64_t *ret_ns)
{
	char expect[128];
	uint64_t ns;

	snprintf(expect, sizeof(expect), "a duration in whole milliseconds up to %" PRIu64
		 "h, such as 250ms, 10s, 1.5m, 1h", (uint64_t)(max_ns / (3600 * SL_NS_PER_SEC)));
	if (sl_config_duration_parse(arg, &ns) < 0 || ns % GEN_NS_PER_MS != 0 || ns > max_ns)
		return bad_value(opt, arg, expect);
	*ret_ns = ns;
	return 0;
}

static int
parse_fraction(const char *opt, const char *arg, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= 0.0) || !(v <= 1.0))
		return bad_value(opt, arg, "a fraction in 0..1");
	*ret = v;
	return 0;
}

/*
 * The farthest, in ms, that the time knobs move an event before its
 * datagram's base time (its timestamp minus --ts-offset).
 */
static uint64_t
max_back_ms(const struct gen_opts *o)
{
	uint64_t by = o->late_by_ns / GEN_NS_PER_MS;

	return o->skew_ns / GEN_NS_PER_MS + (o->late > 0 ? 2 * by : o->ooo > 0 ? by : 0);
}

/* Options of JSON lines and binary only, with their names. */
static int
check_event_args(struct gen_opts *o)
{
	if (o->format == GEN_FORMAT_STATSD) {
		if (o->config != NULL || o->producers != 0 || o->skew_ns != 0 || o->ooo > 0 ||
		    o->late > 0 || o->late_by_set || o->ts_offset_ns != 0)
			return usage_error("--config, --producers, --skew, --out-of-order, --late, "
					   "--late-by and --ts-offset are for --format json or binary");
		if (!o->payload_set)
			o->payload_max = GEN_PAYLOAD_MAX;
		return 0;
	}
	if (o->keys != 0 || o->key_in_name)
		return usage_error("--keys and --key-style are for --format statsd");
	if (o->window_set || o->truth_all)
		return usage_error("--window and --truth-window are for --format statsd: json and "
				   "binary windows come from the views' configuration (--config)");
	if (!o->lines_set && o->format == GEN_FORMAT_BINARY)
		o->lines = GEN_DEF_LINES_BIN;
	if (!o->payload_set)
		o->payload_max = o->format == GEN_FORMAT_JSON ? GEN_PAYLOAD_MAX :
				 o->dpdk ? GEN_TX_PAYLOAD_MAX : GEN_BUF_MAX;
	if (o->ooo + o->late > 1.0)
		return usage_error("--out-of-order + --late must not exceed 1");
	if ((o->ooo > 0 || o->late > 0) && o->late_by_ns == 0)
		return usage_error("--out-of-order and --late need --late-by of at least 1ms");
	if (o->start * 1000 <= o->ts_offset_ns / GEN_NS_PER_MS + max_back_ms(o))
		return usage_error("--start is too early: --ts-offset, --skew and --late-by would "
				   "stamp events at or before the Unix epoch");
	return 0;
}

/* Checks between options, after they were all read. */
static int
check_args(struct gen_opts *o)
{
	bool live = o->udp != NULL || o->dpdk;
	char host[256], port[8];
	int rc;

	if (o->udp != NULL) {
		rc = udp_split(o->udp, host, sizeof(host), port, sizeof(port), 0);
		if (rc < 0)
			return bad_value("udp", o->udp, "HOST[:PORT] or [IPv6][:PORT], port 1..65535");
		if (rc > 0 && o->dst_port_set && rc != o->dst_port)
			return usage_error("--udp HOST:PORT and --dst-port name different ports");
		if (rc > 0) {
			o->dst_port = (uint16_t)rc;
			o->udp_port_set = true;
		}
	}
	rc = check_event_args(o);
	if (rc < 0)
		return rc;
	if (o->payload_max < GEN_PAYLOAD_MIN || o->payload_max > GEN_BUF_MAX ||
	    (o->dpdk && o->payload_max > GEN_TX_PAYLOAD_MAX))
		return usage_error("--payload-max out of range (768..8972 bytes; at most 2006 in "
				   "DPDK TX mode, one mbuf)");
	if (o->udp != NULL && o->dpdk)
		return usage_error("--udp and the DPDK TX mode ('--' in the arguments) exclude "
				   "each other");
	if (o->port_set && !o->dpdk)
		return usage_error("--port is for the DPDK TX mode: sluice-gen [EAL options] -- "
				   "--port N ...");
	if (o->pcap != NULL && live)
		return usage_error("--pcap cannot be combined with --udp or DPDK TX: pick one sink");
	if (o->rate == 0 && !live)
		return usage_error("--rate 0 (as fast as possible) is for --udp and DPDK TX; pcap "
				   "timestamps need a rate");
	if (o->truth_all && o->window_set)
		return usage_error("--truth-window all and --window exclude each other");
	if (o->truth != NULL && live && !o->truth_all && o->format == GEN_FORMAT_STATSD)
		return usage_error("--truth with --udp or DPDK TX needs --truth-window all: the "
				   "receiver windows by arrival time, which the generator cannot "
				   "know; the truth is then one window of totals [0, 2^63-1)");
	if (o->truth_all)
		o->window_ns = GEN_WINDOW_ALL;
	if (o->keys != 0) {
		if (!o->zipf_set)
			o->zipf = 0.0;
		if (!o->stores_set)
			o->stores = GEN_DEF_KEY_STORES;
	}
	/* The last packet's seconds must fit the 32-bit pcap timestamp. */
	if (o->rate != 0 && o->start + o->events / o->rate + 1 > UINT32_MAX)
		return usage_error("--start/--events/--rate: the last timestamp would not fit a "
				   "32-bit pcap timestamp");
	return 0;
}

/* Returns 0 to run, 1 after --help, a negative errno on a usage error. */
static int
parse_args(int argc, char **argv, struct gen_opts *o, bool dpdk)
{
	uint32_t port;
	char *end;
	int c, rc = 0;

	*o = (struct gen_opts){
		.events = GEN_DEF_EVENTS,
		.lines = GEN_DEF_LINES,
		.stores = GEN_DEF_STORES,
		.skus = GEN_DEF_SKUS,
		.users = GEN_DEF_USERS,
		.zipf = GEN_DEF_ZIPF,
		.seed = GEN_DEF_SEED,
		.rate = GEN_DEF_RATE,
		.start = GEN_DEF_START,
		.window_ns = GEN_DEF_WINDOW_NS,
		.queues = GEN_DEF_QUEUES,
		.dpdk = dpdk,
		.dst_port = GEN_UDP_DST_PORT,
		.late_by_ns = GEN_DEF_LATE_BY_NS,
	};
	while (rc == 0 && (c = getopt_long(argc, argv, "hq", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			rc = -EINVAL;
			for (unsigned int i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
				if (strcmp(optarg, format_names[i]) == 0) {
					o->format = (enum gen_format)i;
					rc = 0;
				}
			}
			if (rc < 0)
				rc = bad_value("format", optarg, "statsd, json or binary");
			break;
		case OPT_EVENTS:
			rc = parse_u64("events", optarg, 0, GEN_MAX_EVENTS, &o->events);
			break;
		case OPT_LINES:
			rc = parse_u32("lines-per-datagram", optarg, 1, GEN_MAX_LINES, &o->lines);
			o->lines_set = true;
			break;
		case OPT_PAYLOAD_MAX:
			rc = parse_u32("payload-max", optarg, GEN_PAYLOAD_MIN, GEN_BUF_MAX,
				       &o->payload_max);
			o->payload_set = true;
			break;
		case OPT_DST_PORT:
			rc = parse_u32("dst-port", optarg, 1, UINT16_MAX, &port);
			o->dst_port = (uint16_t)port;
			o->dst_port_set = true;
			break;
		case OPT_PRODUCERS:
			rc = parse_u32("producers", optarg, 1, GEN_MAX_PRODUCERS, &o->producers);
			break;
		case OPT_SKEW:
			rc = parse_duration_ms("skew", optarg, GEN_MAX_SKEW_NS, &o->skew_ns);
			break;
		case OPT_OOO:
			rc = parse_fraction("out-of-order", optarg, &o->ooo);
			break;
		case OPT_LATE:
			rc = parse_fraction("late", optarg, &o->late);
			break;
		case OPT_LATE_BY:
			rc = parse_duration_ms("late-by", optarg, GEN_MAX_SKEW_NS, &o->late_by_ns);
			o->late_by_set = true;
			break;
		case OPT_TS_OFFSET:
			rc = parse_duration_ms("ts-offset", optarg, GEN_MAX_OFFSET_NS, &o->ts_offset_ns);
			break;
		case OPT_CONFIG:
			o->config = optarg;
			break;
		case OPT_STORES:
			rc = parse_u32("stores", optarg, 1, GEN_MAX_STORES, &o->stores);
			o->stores_set = true;
			break;
		case OPT_SKUS:
			rc = parse_u32("skus", optarg, 1, GEN_MAX_SKUS, &o->skus);
			break;
		case OPT_USERS:
			rc = parse_u32("users", optarg, 1, GEN_MAX_USERS, &o->users);
			break;
		case OPT_ZIPF:
			errno = 0;
			o->zipf = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !(o->zipf >= 0.0) ||
			    !(o->zipf <= GEN_MAX_ZIPF))
				rc = bad_value("zipf", optarg, "a number in 0..5");
			o->zipf_set = true;
			break;
		case OPT_SEED:
			rc = parse_u64("seed", optarg, 0, UINT64_MAX, &o->seed);
			break;
		case OPT_RATE:
			rc = parse_u64("rate", optarg, 0, GEN_MAX_RATE, &o->rate);
			break;
		case OPT_START:
			rc = parse_u64("start", optarg, 0, GEN_MAX_START, &o->start);
			break;
		case OPT_WINDOW:
			rc = parse_window(optarg, &o->window_ns);
			o->window_set = true;
			break;
		case OPT_QUEUES:
			rc = parse_u32("queues", optarg, 1, GEN_MAX_QUEUES, &o->queues);
			break;
		case OPT_PCAP:
			o->pcap = optarg;
			break;
		case OPT_TRUTH:
			o->truth = optarg;
			break;
		case OPT_KEYS:
			rc = parse_u32("keys", optarg, GEN_MIN_KEYS, GEN_MAX_KEYS, &o->keys);
			break;
		case OPT_KEY_STYLE:
			if (strcmp(optarg, "name") == 0)
				o->key_in_name = true;
			else if (strcmp(optarg, "tag") == 0)
				o->key_in_name = false;
			else
				rc = bad_value("key-style", optarg, "tag or name");
			break;
		case OPT_TRUTH_WINDOW:
			if (strcmp(optarg, "all") == 0)
				o->truth_all = true;
			else
				rc = bad_value("truth-window", optarg, "all");
			break;
		case OPT_UDP:
			o->udp = optarg;
			break;
		case OPT_PORT:
			rc = parse_u32("port", optarg, 0, UINT16_MAX, &port);
			o->port = (uint16_t)port;
			o->port_set = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			/* getopt_long already named the option. */
			rc = -EINVAL;
			break;
		}
	}
	if (rc == 0 && optind < argc) {
		fprintf(stderr, "sluice-gen: unexpected argument '%s'\n", argv[optind]);
		rc = -EINVAL;
	}
	if (rc == 0 && o->pcap != NULL && o->pcap[0] == '\0')
		rc = bad_value("pcap", o->pcap, "a file name");
	if (rc == 0 && o->truth != NULL && o->truth[0] == '\0')
		rc = bad_value("truth", o->truth, "a file name");
	if (rc == 0)
		rc = check_args(o);
	if (rc < 0)
		fprintf(stderr, "Try 'sluice-gen --help' for more information.\n");
	return rc;
}

/* "out.pcap" -> "out.q3.pcap"; without an extension "out" -> "out.q3". */
static char *
queue_path(const char *path, uint32_t q)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	size_t stem;
	char *p;

	if (dot == NULL || (slash != NULL && dot < slash) || dot == path ||
	    (slash != NULL && dot == slash + 1))
		dot = path + strlen(path);
	stem = (size_t)(dot - path);
	p = malloc(strlen(path) + 16);
	if (p != NULL)
		sprintf(p, "%.*s.q%u%s", (int)stem, path, q, dot);
	return p;
}

static int
outputs_open(struct gen *g)
{
	int rc;

	if (g->o.pcap != NULL) {
		g->pcaps = calloc(g->o.queues, sizeof(*g->pcaps));
		g->paths = calloc(g->o.queues, sizeof(*g->paths));
		if (g->pcaps == NULL || g->paths == NULL)
			return -ENOMEM;
		for (uint32_t q = 0; q < g->o.queues; q++) {
			if (g->o.queues == 1)
				g->paths[q] = strdup(g->o.pcap);
			else
				g->paths[q] = queue_path(g->o.pcap, q);
			if (g->paths[q] == NULL)
				return -ENOMEM;
			rc = sl_pcap_open(g->paths[q], &g->pcaps[q]);
			if (rc < 0) {
				fprintf(stderr, "sluice-gen: open '%s': %s\n", g->paths[q],
					strerror(-rc));
				return rc;
			}
		}
	}
	if (g->o.truth != NULL) {
		if (g->o.format == GEN_FORMAT_STATSD)
			rc = truth_open(g, &g->truth);
		else
			rc = views_truth_open(g);
		if (rc < 0) {
			fprintf(stderr, "sluice-gen: open '%s': %s\n", g->o.truth, strerror(-rc));
			return rc;
		}
	}
	if (g->o.udp != NULL) {
		rc = udp_open(g);
		if (rc < 0)
			return rc;
		pacer_init(&g->pacer, g->o.rate, g->o.lines);
	}
#ifdef SL_GEN_HAVE_DPDK
	if (g->o.dpdk) {
		char err[256];

		rc = sl_gen_tx_open(g->o.port, GEN_TX_LINK_TIMEOUT_MS, &g->tx, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "sluice-gen: %s\n", err);
			return rc;
		}
		pacer_init(&g->pacer, g->o.rate, 1);
	}
#endif
	return 0;
}

/* Close every output; report the first failure. */
static int
outputs_close(struct gen *g, bool ok)
{
	int rc, ret = 0;

	for (uint32_t q = 0; g->pcaps != NULL && q < g->o.queues; q++) {
		rc = sl_pcap_close(g->pcaps[q]);
		g->pcaps[q] = NULL;
		if (rc < 0 && ret == 0) {
			fprintf(stderr, "sluice-gen: write '%s': %s\n", g->paths[q], strerror(-rc));
			ret = rc;
		}
	}
	if (g->truth != NULL && ok) {
		rc = truth_close(g->truth, g->datagrams);
		if (rc < 0 && ret == 0) {
			fprintf(stderr, "sluice-gen: write '%s': %s\n", g->o.truth, strerror(-rc));
			ret = rc;
		}
	}
	if (g->vt_f != NULL && ok) {
		rc = views_truth_close(g);
		if (rc < 0 && ret == 0) {
			fprintf(stderr, "sluice-gen: write '%s': %s\n", g->o.truth, strerror(-rc));
			ret = rc;
		}
	}
	return ret;
}

/*
 * --format json|binary: load the views' configuration, take the format's UDP
 * port from it, and set up what the events need. Returns 0, or -EINVAL after
 * saying why (a usage error).
 */
static int
events_setup(struct gen *g)
{
	struct gen_opts *o = &g->o;
	enum sl_config_format want;
	struct sl_config_error err;
	const char *yaml;
	bool found = false;
	int rc;

	if (o->format == GEN_FORMAT_STATSD)
		return 0;
	if (o->config != NULL) {
		rc = sl_config_load_file(o->config, &g->cfg, &err);
	} else {
		yaml = sl_config_default_yaml();
		rc = sl_config_load_string(yaml, strlen(yaml), "<built-in default>", &g->cfg, &err);
	}
	if (rc == -EINVAL) {
		fputs("sluice-gen: --config: ", stderr);
		sl_config_error_print(&err, stderr);
		return -EINVAL;
	}
	if (rc < 0) {
		fprintf(stderr, "sluice-gen: --config %s: %s\n", o->config, strerror(-rc));
		return -EINVAL;
	}
	want = o->format == GEN_FORMAT_JSON ? SL_CONFIG_FORMAT_JSON : SL_CONFIG_FORMAT_BINARY;
	for (uint32_t i = 0; !o->dst_port_set && !o->udp_port_set && i < g->cfg->n_inputs; i++) {
		if (g->cfg->inputs[i].format == want && !found) {
			o->dst_port = g->cfg->inputs[i].port;
			found = true;
		}
	}
	if (!o->dst_port_set && !o->udp_port_set && !found) {
		fprintf(stderr, "sluice-gen: the configuration has no %s input: give --dst-port\n",
			format_names[o->format]);
		return -EINVAL;
	}
	if (o->truth != NULL && gen_live(g) && sl_gen_views_have_arrival(g->cfg)) {
		fprintf(stderr, "sluice-gen: --truth with --udp or DPDK TX: a view windows by "
				"arrival time, which the generator cannot know\n");
		return -EINVAL;
	}
	g->names = (struct sl_gen_names){ g->store_w, g->sku_w, g->user_w };
	g->max_back_ms = max_back_ms(o);
	sl_rng_seed(&g->trng, o->seed ^ GEN_TIME_SEED);
	if (o->format == GEN_FORMAT_BINARY) {
		g->seqs = calloc(o->producers != 0 ? o->producers : o->stores, sizeof(*g->seqs));
		if (g->seqs == NULL) {
			fprintf(stderr, "sluice-gen: %s\n", strerror(ENOMEM));
			return -ENOMEM;
		}
	}
	return 0;
}

static void
gen_fini(struct gen *g)
{
	for (uint32_t q = 0; g->paths != NULL && q < g->o.queues; q++)
		free(g->paths[q]);
	free(g->paths);
	free(g->pcaps);
	truth_destroy(g->truth);
	if (g->vt_f != NULL)
		fclose(g->vt_f);
	sl_gen_views_destroy(g->views);
	sl_config_free(g->cfg);
	free(g->seqs);
	udp_close(g->udp);
	sl_zipf_destroy(g->z_store);
	sl_zipf_destroy(g->z_sku);
	sl_zipf_destroy(g->z_user);
	sl_zipf_destroy(g->z_key);
}

/* The last lines on stderr of a live run; returns -EIO when frames were lost. */
static int
net_summary(struct gen *g, double dt)
{
	net_sync(g);
	if (!g->o.quiet && g->o.udp != NULL)
		fprintf(stderr, "sluice-gen: sent %" PRIu64 " events in %" PRIu64 " datagrams to %s"
			", %.2f s (%.0f events/s, %.0f datagrams/s)\n",
			g->sent_events, g->sent_datagrams, g->o.udp, dt,
			dt > 0 ? (double)g->sent_events / dt : 0.0,
			dt > 0 ? (double)g->sent_datagrams / dt : 0.0);
	if (!g->o.quiet && g->o.dpdk)
		fprintf(stderr, "sluice-gen: port %u: %" PRIu64 " packets sent, %" PRIu64 " failed, "
			"%" PRIu64 " events, %.2f s (%.0f packets/s, %.0f events/s)\n",
			g->o.port, g->sent_datagrams, g->failed_datagrams, g->next_event, dt,
			dt > 0 ? (double)g->sent_datagrams / dt : 0.0,
			dt > 0 ? (double)g->next_event / dt : 0.0);
	if (g->failed_datagrams > 0) {
		fprintf(stderr, "sluice-gen: port %u: %" PRIu64 " of %" PRIu64 " packets could not be "
			"sent%s\n", g->o.port, g->failed_datagrams, g->datagrams,
			g->truth != NULL ? "; the truth counts them as sent" : "");
		return -EIO;
	}
	return 0;
}

/* Index of the first "--" in argv, or 0. */
static int
find_dashdash(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct gen g; /* large: holds the frame buffer */
	int dd = find_dashdash(argc, argv);
	int app_argc = argc;
	char **app_argv = argv;
	double dt;
	int rc;

	if (dd > 0) {
		/* DPDK TX mode: EAL arguments before "--", ours after it. */
#ifndef SL_GEN_HAVE_DPDK
		fprintf(stderr, "sluice-gen: built without DPDK: the DPDK TX mode ('[EAL options] -- "
				"options') is not available; use --pcap or --udp\n");
		return 2;
#endif
		app_argc = argc - dd;
		app_argv = argv + dd;
		app_argv[0] = argv[0];
	}
	rc = parse_args(app_argc, app_argv, &g.o, dd > 0);
	if (rc != 0)
		return rc > 0 ? 0 : 2;

	g.store_w = digits(g.o.stores) > 2 ? digits(g.o.stores) : 2;
	g.sku_w = digits(g.o.skus) > 4 ? digits(g.o.skus) : 4;
	g.user_w = digits(g.o.users) > 4 ? digits(g.o.users) : 4;
	if (events_setup(&g) < 0) {
		fprintf(stderr, "Try 'sluice-gen --help' for more information.\n");
		gen_fini(&g);
		return 2;
	}
	sl_rng_seed(&g.rng, g.o.seed);
	if (g.o.keys == 0) {
		g.z_store = sl_zipf_create(g.o.stores, g.o.zipf);
		g.z_sku = sl_zipf_create(g.o.skus, g.o.zipf);
		g.z_user = sl_zipf_create(g.o.users, g.o.zipf);
		if (g.z_store == NULL || g.z_sku == NULL || g.z_user == NULL) {
			fprintf(stderr, "sluice-gen: zipf tables: %s\n", strerror(errno));
			gen_fini(&g);
			return 1;
		}
	} else if (g.o.zipf > 0) {
		g.z_key = sl_zipf_create(g.o.keys, g.o.zipf);
		if (g.z_key == NULL) {
			fprintf(stderr, "sluice-gen: zipf table: %s\n", strerror(errno));
			gen_fini(&g);
			return 1;
		}
	}
#ifdef SL_GEN_HAVE_DPDK
	if (g.o.dpdk) {
		char err[256];

		rc = sl_gen_tx_eal_init(dd, argv, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "sluice-gen: %s\n", err);
			gen_fini(&g);
			return 1;
		}
	}
#endif

	rc = outputs_open(&g);
	g.t0 = now_s();
	g.t_progress = g.t0;
	if (rc == 0) {
		if (g.o.keys != 0)
			rc = keys_generate(&g);
		else if (g.o.format == GEN_FORMAT_STATSD)
			rc = generate(&g);
		else
			rc = events_generate(&g);
		if (rc == 0)
			rc = net_flush(&g);
		if (rc < 0 && !g.err_reported)
			fprintf(stderr, "sluice-gen: generate: %s\n", strerror(-rc));
	}
	dt = now_s() - g.t0;
#ifdef SL_GEN_HAVE_DPDK
	if (g.o.dpdk) {
		net_sync(&g);
		/* Let the peer read the last frames before the link goes down. */
		sl_gen_tx_close(g.tx, rc == 0 ? GEN_TX_DRAIN_MS : 0);
		g.tx = NULL;
	}
#endif
	if (outputs_close(&g, rc == 0) < 0 && rc == 0)
		rc = -EIO;
	if (rc == 0 && gen_live(&g))
		rc = net_summary(&g, dt);
	else if (rc == 0 && !g.o.quiet && g.o.format != GEN_FORMAT_STATSD)
		fprintf(stderr, "sluice-gen: %" PRIu64 " %s events, %" PRIu64 " datagrams, %u file%s, "
			"%.2f s (%.2f M events/s)\n",
			g.next_event, format_names[g.o.format], g.datagrams,
			g.o.pcap != NULL ? g.o.queues : 0, g.o.pcap != NULL && g.o.queues == 1 ? "" : "s",
			dt, dt > 0 ? (double)g.next_event / dt / 1e6 : 0.0);
	else if (rc == 0 && !g.o.quiet)
		fprintf(stderr, "sluice-gen: %" PRIu64 " events, %" PRIu64 " datagrams, %u file%s, "
			"%" PRIu64 " window%s, %.2f s (%.2f M events/s)\n",
			g.next_event, g.datagrams, g.o.pcap != NULL ? g.o.queues : 0,
			g.o.pcap != NULL && g.o.queues == 1 ? "" : "s", g.windows,
			g.windows == 1 ? "" : "s", dt,
			dt > 0 ? (double)g.next_event / dt / 1e6 : 0.0);
	gen_fini(&g);
	return rc == 0 ? 0 : 1;
}
