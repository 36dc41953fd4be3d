/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * The worker loop. Everything below sl_worker_main() runs on a worker lcore
 * and follows the rules in worker.h: no locks, no allocation, no syscalls
 * (but the optional nanosleep on an idle queue, never with packets pending),
 * no logging per packet.
 */

#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>
#include <rte_udp.h>

#include "binfmt.h"
#include "config.h"
#include "json.h"
#include "parse.h"
#include "worker.h"

RTE_LOG_REGISTER(sl_logtype_worker, sluice.dp.worker, INFO);
#define WORKER_LOG(level, ...) \
	rte_log(RTE_LOG_##level, sl_logtype_worker, "worker: " __VA_ARGS__)

volatile int sl_force_quit;

#define EMPTY_POLLS_BEFORE_SLEEP 256

/* Wall clock from the TSC: calibrated once per worker, read once per burst. */
struct wall_clock {
	uint64_t base_tsc;
	uint64_t base_ns;
	double ns_per_cycle;
};

static void
wall_clock_init(struct wall_clock *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	c->base_tsc = rte_rdtsc();
	c->base_ns = (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
	c->ns_per_cycle = 1e9 / (double)rte_get_tsc_hz();
}

static inline uint64_t
wall_clock_now(const struct wall_clock *c)
{
	return c->base_ns + (uint64_t)((double)(rte_rdtsc() - c->base_tsc) * c->ns_per_cycle);
}

static inline void
count_drop(struct sl_worker *w, unsigned int reason)
{
	uint64_t *d = &w->stats.drops[reason];

	__atomic_store_n(d, *d + 1, __ATOMIC_RELAXED);
}

static inline void
stat_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

/*
 * Give the open table to the storage thread and take the spare. Fails, and
 * changes nothing, when no spare table is available.
 */
static bool
handover(struct sl_worker *w)
{
	if (w->spare == NULL && rte_ring_sc_dequeue(w->from_store, (void **)&w->spare) != 0)
		return false;
	/* to_store holds every table of this worker, so it cannot be full. */
	if (rte_ring_sp_enqueue(w->to_store, w->cur) != 0)
		return false;
	w->cur = w->spare;
	w->spare = NULL;
	(void)rte_ring_sc_dequeue(w->from_store, (void **)&w->spare);
	stat_add(&w->stats.rotations, 1);
	return true;
}

/* Move to the window that contains @p t. */
static bool
rotate(struct sl_worker *w, uint64_t t)
{
	uint64_t start = t - t % w->window_ns;

	if (sl_agg_table_count(w->cur) > 0 && !handover(w))
		return false;
	w->win_start = start;
	w->win_end = start + w->window_ns;
	sl_agg_table_set_window(w->cur, w->win_start, w->win_end, w->idx);
	/* Release: the table enqueued above is visible before the new bound. */
	__atomic_store_n(&w->done_before, start, __ATOMIC_RELEASE);
	return true;
}

/*
 * Decode Ethernet (one optional VLAN tag) / IPv4 or IPv6 / UDP and find the
 * payload. Returns SL_DROP__MAX when the datagram is for one of the worker's
 * inputs, whose format goes to @p ret_format.
 */
static inline unsigned int
decode_udp(const struct sl_worker *w, const uint8_t *p, uint32_t len, unsigned int *ret_format,
	   const uint8_t **ret_payload, uint32_t *ret_len)
{
	const struct rte_udp_hdr *udp;
	uint32_t off = sizeof(struct rte_ether_hdr);
	uint16_t type, ulen;

	if (len < off)
		return SL_DROP_BAD_HEADER;
	type = rte_be_to_cpu_16(((const struct rte_ether_hdr *)p)->ether_type);
	if (type == RTE_ETHER_TYPE_VLAN) {
		if (len < off + 4)
			return SL_DROP_BAD_HEADER;
		type = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
		off += 4;
	}
	if (type == RTE_ETHER_TYPE_IPV4) {
		const struct rte_ipv4_hdr *ip = (const void *)(p + off);
		uint32_t ihl, tot;

		if (len < off + sizeof(*ip))
			return SL_DROP_BAD_HEADER;
		ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
		tot = rte_be_to_cpu_16(ip->total_length);
		if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip) || tot < ihl ||
		    off + tot > len)
			return SL_DROP_BAD_HEADER;
		if (ip->next_proto_id != IPPROTO_UDP)
			return SL_DROP_NOT_UDP;
		if (rte_be_to_cpu_16(ip->fragment_offset) &
		    (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
			return SL_DROP_IP_FRAGMENT;
		len = off + tot; /* ignore Ethernet padding */
		off += ihl;
	} else if (type == RTE_ETHER_TYPE_IPV6) {
		const struct rte_ipv6_hdr *ip6 = (const void *)(p + off);

		if (len < off + sizeof(*ip6))
			return SL_DROP_BAD_HEADER;
		if (ip6->proto != IPPROTO_UDP)
			return SL_DROP_NOT_UDP;
		if (off + sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len) > len)
			return SL_DROP_BAD_HEADER;
		len = off + sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len);
		off += sizeof(*ip6);
	} else {
		return SL_DROP_NOT_IP;
	}
	if (len < off + sizeof(*udp))
		return SL_DROP_BAD_HEADER;
	udp = (const void *)(p + off);
	ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (ulen < sizeof(*udp) || off + ulen > len)
		return SL_DROP_BAD_HEADER;
	{
		uint16_t port = rte_be_to_cpu_16(udp->dst_port);
		uint16_t i = 0;

		while (i < w->n_inputs && w->in_port[i] != port)
			i++;
		if (i == w->n_inputs)
			return SL_DROP_UNKNOWN_PORT;
		*ret_format = w->in_format[i];
	}
	*ret_payload = p + off + sizeof(*udp);
	*ret_len = ulen - (uint32_t)sizeof(*udp);
	return SL_DROP__MAX;
}

struct burst_acc {
	bool views;       /* a JSON/binary datagram was seen */
	uint64_t received;
	uint64_t aggregated;
	uint64_t accepted;
	uint64_t bytes;
};

/* Apply the batched events to the open table: prefetch every group, then update. */
static inline void
batch_flush(struct sl_worker *w, struct burst_acc *acc)
{
	uint32_t n = w->batch_n;

	for (uint32_t i = 0; i < n; i++)
		sl_agg_table_prefetch_group(w->cur, &w->batch_prep[i]);
	for (uint32_t i = 0; i < n; i++) {
		unsigned int rc = sl_agg_table_update_prepared(w->cur, &w->batch_ev[i],
							       &w->batch_prep[i], w->batch_t[i]);

		if (rc == SL_DROP__MAX)
			acc->aggregated++;
		else
			count_drop(w, rc);
	}
	w->batch_n = 0;
}

static inline void
handle_datagram(struct sl_worker *w, const uint8_t *pl, uint32_t plen, uint64_t t, bool table_ok,
		struct burst_acc *acc)
{
	const uint8_t *line;
	uint32_t off = 0, ll;

	while (sl_statsd_next_line(pl, plen, &off, &line, &ll)) {
		struct sl_statsd_event *ev = &w->batch_ev[w->batch_n];
		unsigned int rc = sl_statsd_parse_line(line, ll, ev);

		acc->received++;
		if (rc == SL_DROP__MAX && w->rules != NULL) {
			struct sl_rules_result res;

			sl_rules_apply(w->rules, w->rules_scratch, NULL, line, ll, w->rule_hits, &res);
			w->rules_capped += res.capped;
			if (res.drop)
				rc = SL_DROP_RULE_DROP;
		}
		if (rc == SL_DROP__MAX && !table_ok)
			rc = SL_DROP_NO_TABLE;
		if (rc == SL_DROP__MAX)
			rc = sl_agg_table_prepare(w->cur, ev, &w->batch_prep[w->batch_n]);
		if (rc != SL_DROP__MAX) {
			count_drop(w, rc);
			continue;
		}
		w->batch_t[w->batch_n++] = t;
		if (w->batch_n == SL_BATCH)
			batch_flush(w, acc);
	}
}

/* vwin callbacks: a closed slice table and late notes leave through rings. */
static bool
view_handover(void *arg, uint32_t view, struct sl_view_table *t)
{
	struct sl_worker *w = arg;

	(void)view;
	/* vto_store holds every view table of this worker, so it cannot be full. */
	return rte_ring_sp_enqueue(w->vto_store, t) == 0;
}

static uint32_t
view_late(void *arg, const struct sl_vwin_note *notes, uint32_t n)
{
	struct sl_worker *w = arg;

	return rte_ring_sp_enqueue_burst_elem(w->late_ring, notes, sizeof(*notes), n, NULL);
}

/*
 * Take back the empty slice tables the storage thread returned. Returns false
 * when a view is short of tables: the caller waits instead of dropping.
 */
static bool
views_refill(struct sl_worker *w)
{
	void *tabs[16];
	unsigned int n;
	bool ok = true;

	while ((n = rte_ring_sc_dequeue_burst(w->vfrom_store, tabs, RTE_DIM(tabs), NULL)) > 0)
		for (unsigned int i = 0; i < n; i++) {
			const struct sl_view_plan *p = sl_view_table_plan(tabs[i]);

			for (uint32_t v = 0; v < w->vw.n_views; v++)
				if (w->vw.v[v].plan == p) {
					(void)sl_vwin_give(&w->vw, v, tabs[i]);
					break;
				}
		}
	for (uint32_t v = 0; v < w->vw.n_views; v++)
		if (w->vw.v[v].n_free < 2)
			ok = false;
	return ok;
}

/* Hand over every open slice; idle once nothing is held. */
static void
views_flush(struct sl_worker *w)
{
	sl_vwin_flush(&w->vw);
	sl_vwin_publish(&w->vw);
	if (sl_vwin_open(&w->vw) == 0)
		__atomic_store_n(&w->vidle, 1, __ATOMIC_RELEASE);
}

/* ---- live snapshots (worker.h): off the packet path, between two polls ---- */

struct live_ctx {
	struct sl_worker *w;
	const struct sl_view_plan *plan;
	uint64_t start, end;
	uint64_t off;
	bool full;
};

static bool
live_put(struct live_ctx *c, const void *p, uint64_t len)
{
	if (c->full || c->off + len > c->w->live_cap) {
		c->full = true;
		return false;
	}
	if (len == 0)
		return true; /* p may be NULL */
	memcpy(c->w->live_buf + c->off, p, len);
	c->off += len;
	return true;
}

static void
live_group(const uint8_t *key, uint32_t key_len, void *state, const uint64_t *const *members,
	   const uint32_t *n_members, void *arg)
{
	struct live_ctx *c = arg;
	struct sl_worker *w = c->w;
	size_t gs = sl_view_plan_group_size(c->plan), n;
	uint64_t mark = c->off;
	uint32_t len32;

	if (c->full)
		return;
	/* Serialize a copy: serializing sorts top-k entries in place. */
	memcpy(w->live_block, state, gs);
	(void)live_put(c, &c->start, 8);
	(void)live_put(c, &c->end, 8);
	(void)live_put(c, &key_len, 4);
	(void)live_put(c, key, key_len);
	if (c->full || c->off + 4 > w->live_cap) {
		c->full = true;
		c->off = mark;
		return;
	}
	n = sl_view_state_serialize(c->plan, w->live_block, NULL, w->live_buf + c->off + 4,
				    w->live_cap - c->off - 4);
	if (n == 0) {
		c->full = true;
		c->off = mark;
		return;
	}
	len32 = (uint32_t)n;
	memcpy(w->live_buf + c->off, &len32, 4);
	c->off += 4 + n;
	for (uint32_t i = 0; i < sl_view_plan_n_aggs(c->plan); i++) {
		uint32_t m = members[i] != NULL ? n_members[i] : 0;

		(void)live_put(c, &m, 4);
		(void)live_put(c, members[i], (uint64_t)m * 8);
	}
	if (c->full)
		c->off = mark;
}

static void
live_snapshot(struct sl_worker *w, uint32_t req)
{
	uint32_t slot = __atomic_load_n(&w->live_view, __ATOMIC_ACQUIRE);
	struct live_ctx c = { .w = w };

	for (uint32_t vi = 0; vi < w->vw.n_views && w->live_buf != NULL; vi++) {
		struct sl_vwin_view *v = &w->vw.v[vi];

		if (v->view_slot != slot)
			continue;
		c.plan = v->plan;
		for (uint32_t k = 0; k < v->n_slots; k++) {
			uint32_t core;

			if (v->slot[k] == NULL)
				continue;
			sl_view_table_get_window(v->slot[k], &c.start, &c.end, &core);
			sl_view_table_walk(v->slot[k], w->live_members, w->live_members_cap,
					   live_group, &c);
		}
	}
	w->live_len = c.off;
	w->live_truncated = c.full;
	__atomic_store_n(&w->live_ack, req, __ATOMIC_RELEASE);
}

/* ---- configuration reload (worker.h): between two polls ---- */

static void
apply_reload(struct sl_worker *w, const struct sl_worker_reload *r)
{
	bool kept[256] = { false };

	for (uint32_t k = 0; k < r->n_views; k++)
		if (r->from[k] >= 0)
			kept[r->from[k]] = true;
	for (uint32_t vi = 0; vi < w->vw.n_views; vi++)
		if (!kept[vi])
			sl_vwin_view_retire(&w->vw, vi);
	for (uint32_t k = 0; k < r->n_views; k++) {
		struct sl_vwin_view *v = &r->v[k];

		if (r->from[k] >= 0) {
			*v = w->vw.v[r->from[k]];
			continue;
		}
		/* A new view starts at the next slice boundary of this core's clock. */
		if (v->arrival)
			v->min_start = w->vw.clock == 0 ? 0 : (w->vw.clock / v->slide + 1) * v->slide;
		else
			v->min_start = w->vw.max_ts == 0 ? 0 : (w->vw.max_ts / v->slide + 1) * v->slide;
	}
	w->vw.v = r->v;
	w->vw.n_views = r->n_views;
	/* The new rule set: hit counts of the rules it keeps carry over. */
	for (uint32_t i = 0; r->rules != NULL && i < sl_rules_count(r->rules); i++)
		r->rule_hits[i] = r->rule_from[i] >= 0 && w->rule_hits != NULL
					  ? __atomic_load_n(&w->rule_hits[r->rule_from[i]], __ATOMIC_RELAXED)
					  : 0;
	w->rules = r->rules;
	w->rules_scratch = r->rules_scratch;
	__atomic_store_n(&w->rule_hits, r->rule_hits, __ATOMIC_RELEASE);
	__atomic_store_n(&w->n_rules, r->rules != NULL ? sl_rules_count(r->rules) : 0,
			 __ATOMIC_RELEASE);
	w->n_inputs = r->n_inputs;
	memcpy(w->in_port, r->in_port, sizeof(w->in_port));
	memcpy(w->in_format, r->in_format, sizeof(w->in_format));
	sl_vwin_publish(&w->vw);
	if (sl_vwin_open(&w->vw) == 0)
		__atomic_store_n(&w->vidle, 1, __ATOMIC_RELEASE);
}

struct ev_ctx {
	struct sl_worker *w;
	struct burst_acc *acc;
	uint64_t t;
};

static void
on_event(const struct sl_event *ev, void *arg)
{
	struct ev_ctx *c = arg;
	struct sl_worker *w = c->w;
	unsigned int rc;

	if (w->rules != NULL) {
		struct sl_rules_result res;

		sl_rules_apply(w->rules, w->rules_scratch, ev, ev->raw.p, ev->raw.len, w->rule_hits,
			       &res);
		w->rules_capped += res.capped;
		if (res.drop) {
			w->vdrops[SL_DROP_RULE_DROP]++;
			return;
		}
		/* The event is the parser's scratch for this call: tagging it is safe. */
		((struct sl_event *)(uintptr_t)ev)->tags = res.tags;
	}
	rc = sl_vwin_event(&w->vw, ev, c->t);

	if (rc == SL_DROP__MAX)
		c->acc->aggregated++;
	else
		c->w->vdrops[rc]++;
}

/* A JSON lines or binary datagram: every event goes to the views (vwin.h). */
static inline void
handle_events(struct sl_worker *w, unsigned int format, const uint8_t *pl, uint32_t plen,
	      uint64_t t, uint64_t wall, struct burst_acc *acc)
{
	struct ev_ctx c = { w, acc, t };

	if (w->vidle)
		__atomic_store_n(&w->vidle, 0, __ATOMIC_RELEASE);
	w->last_view_wall = wall;
	acc->views = true;
	if (format == SL_CONFIG_FORMAT_JSON) {
		acc->received += sl_json_parse_datagram(pl, plen, w->vdrops, on_event, &c);
	} else {
		struct sl_bin_header h;

		h.version = 0; /* written only for an accepted header */
		acc->received += sl_bin_parse_datagram(pl, plen, w->vdrops, on_event, &c, &h);
		if (h.version != 0 && w->producers != NULL)
			sl_producers_seen(w->producers, h.producer, h.seq);
	}
}

static void
handle_burst(struct sl_worker *w, struct rte_mbuf **pkts, uint16_t n, uint64_t wall,
	     int ts_off, uint64_t ts_flag)
{
	struct burst_acc acc = { 0 };

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *pl = NULL;
		uint32_t plen = 0;
		unsigned int rc, format = SL_CONFIG_FORMAT_STATSD;
		uint64_t t = wall;
		bool table_ok = true;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		acc.bytes += m->pkt_len;
		if (w->time_mode != SL_TIME_WALL && ts_off >= 0 && (m->ol_flags & ts_flag)) {
			t = *RTE_MBUF_DYNFIELD(m, ts_off, uint64_t *);
			/* Drivers differ: microseconds (net_pcap) or nanoseconds. */
			if (t < 100000000000000000ULL)
				t *= 1000;
		}
		if (t < w->clock_ns)
			t = w->clock_ns;
		w->clock_ns = t;
		if (t >= w->win_end) {
			batch_flush(w, &acc); /* the batch belongs to the closing window */
			table_ok = rotate(w, t);
		}

		if (likely(m->nb_segs == 1)) {
			rc = decode_udp(w, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
					&format, &pl, &plen);
		} else if (m->pkt_len <= SL_JUMBO_MAX) {
			/* A jumbo datagram in chained mbufs: copy it out once, no allocation. */
			const uint8_t *p;

			batch_flush(w, &acc); /* batched spans may point into jumbo */
			p = rte_pktmbuf_read(m, 0, m->pkt_len, w->jumbo);

			rc = p == NULL ? SL_DROP_BAD_HEADER
				       : decode_udp(w, p, m->pkt_len, &format, &pl, &plen);
		} else {
			rc = SL_DROP_OVERSIZE;
		}
		if (rc != SL_DROP__MAX) {
			acc.received++;
			count_drop(w, rc);
			continue;
		}
		acc.accepted++;
		if (format == SL_CONFIG_FORMAT_STATSD) {
			handle_datagram(w, pl, plen, t, table_ok, &acc);
		} else {
			sl_vwin_tick(&w->vw, t);
			handle_events(w, format, pl, plen, t, wall, &acc);
		}
	}
	batch_flush(w, &acc); /* before the mbufs the spans point into are freed */
	rte_pktmbuf_free_bulk(pkts, n);
	if (w->rules != NULL)
		__atomic_store_n(&w->stats.rule_matches_capped, w->rules_capped, __ATOMIC_RELAXED);
	if (acc.views) {
		for (unsigned int r = 0; r < SL_DROP__MAX; r++)
			if (w->vdrops[r] != 0) {
				stat_add(&w->stats.drops[r], w->vdrops[r]);
				w->vdrops[r] = 0;
			}
		sl_vwin_publish(&w->vw);
		if (w->producers != NULL) {
			const struct sl_producers_stats *p = &w->producers->stats;

			__atomic_store_n(&w->stats.producers.lost, p->lost, __ATOMIC_RELAXED);
			__atomic_store_n(&w->stats.producers.reordered, p->reordered, __ATOMIC_RELAXED);
			__atomic_store_n(&w->stats.producers.untracked, p->untracked, __ATOMIC_RELAXED);
			__atomic_store_n(&w->stats.producers.producers, p->producers, __ATOMIC_RELAXED);
		}
	}

	stat_add(&w->stats.packets, n);
	stat_add(&w->stats.bytes, acc.bytes);
	stat_add(&w->stats.accepted, acc.accepted);
	stat_add(&w->stats.received, acc.received);
	stat_add(&w->stats.aggregated, acc.aggregated);
}

int
sl_worker_main(void *arg)
{
	struct sl_worker *w = arg;
	struct rte_mbuf *pkts[SL_RX_BURST];
	struct wall_clock wc;
	uint64_t ts_flag = 0, last_rx_wall, wall, polls = 0, polls_empty = 0;
	uint32_t empty_polls = 0;
	bool rx_clock = false;
	int ts_off, ts_bit;

	ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	ts_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
	if (ts_bit >= 0)
		ts_flag = 1ULL << ts_bit;
	else
		ts_off = -1;

	wall_clock_init(&wc);
	wall = wall_clock_now(&wc);
	last_rx_wall = wall;
	w->last_view_wall = wall;
	w->vw.handover = view_handover;
	w->vw.late = view_late;
	w->vw.arg = w;
	w->vw.core = w->idx;
	__atomic_store_n(&w->vidle, 1, __ATOMIC_RELEASE);
	w->clock_ns = 0;
	w->win_start = 0;
	w->win_end = 0; /* the first packet (or tick) opens a window */
	__atomic_store_n(&w->idle, 1, __ATOMIC_RELEASE);
	WORKER_LOG(INFO, "lcore %u (socket %u) polls %u queue(s)\n", w->lcore, w->socket,
		   w->n_rxq);

	while (!sl_force_quit) {
		uint16_t total = 0;

		wall = wall_clock_now(&wc);
		/* Wall-clock windows close on time even when no packet comes. */
		if (!rx_clock && w->time_mode != SL_TIME_RX && w->win_end != 0 &&
		    wall >= w->win_end && wall >= w->clock_ns)
			(void)rotate(w, wall);

		{
			uint32_t req = __atomic_load_n(&w->live_req, __ATOMIC_ACQUIRE);

			if (req != w->live_ack)
				live_snapshot(w, req);
			req = __atomic_load_n(&w->reload_seq, __ATOMIC_ACQUIRE);
			if (req != w->reload_ack) {
				apply_reload(w, w->reload);
				__atomic_store_n(&w->reload_ack, req, __ATOMIC_RELEASE);
			}
		}
		/* Arrival-time view slices close on time too. */
		if (!rx_clock && w->time_mode != SL_TIME_RX && w->vw.n_views > 0)
			sl_vwin_tick(&w->vw, wall);
		/* A quiet core hands its view slices over (later parts amend them). */
		if (!w->vidle && wall - w->last_view_wall > w->idle_flush_ns)
			views_flush(w);
		/* Never start a burst short of tables: wait for the storage thread. */
		if (w->vw.n_views > 0 && !views_refill(w)) {
			stat_add(&w->stats.rx_paused, 1);
			rte_pause();
			continue;
		}
		if (w->spare == NULL)
			(void)rte_ring_sc_dequeue(w->from_store, (void **)&w->spare);
		if (w->spare == NULL && sl_agg_table_count(w->cur) > 0) {
			stat_add(&w->stats.rx_paused, 1);
			rte_pause();
			continue;
		}

		for (uint16_t q = 0; q < w->n_rxq; q++) {
			uint16_t n = rte_eth_rx_burst(w->rxq[q].port, w->rxq[q].queue, pkts,
						      SL_RX_BURST);

			if (n == 0)
				continue;
			if (total == 0 && w->idle)
				__atomic_store_n(&w->idle, 0, __ATOMIC_RELEASE);
			if (w->time_mode != SL_TIME_WALL && ts_off >= 0)
				rx_clock = (pkts[0]->ol_flags & ts_flag) != 0;
			handle_burst(w, pkts, n, wall, ts_off, ts_flag);
			total += n;
		}
		/* Published every 64 polls (single writer, relaxed). */
		polls++;
		if (total == 0)
			polls_empty++;
		if ((polls & 63) == 0) {
			__atomic_store_n(&w->stats.polls, polls, __ATOMIC_RELAXED);
			__atomic_store_n(&w->stats.polls_empty, polls_empty, __ATOMIC_RELAXED);
		}
		if (total > 0) {
			last_rx_wall = wall;
			empty_polls = 0;
			continue;
		}

		/*
		 * A quiet core must not hold windows open: after idle_flush_ns
		 * without packets it hands over what it has and says so.
		 */
		if ((rx_clock || w->time_mode == SL_TIME_RX) && !w->idle &&
		    wall - last_rx_wall > w->idle_flush_ns) {
			if (sl_agg_table_count(w->cur) == 0 || handover(w)) {
				sl_agg_table_set_window(w->cur, w->win_start, w->win_end, w->idx);
				__atomic_store_n(&w->idle, 1, __ATOMIC_RELEASE);
			}
		}
		if (w->idle_sleep_us > 0 && ++empty_polls > EMPTY_POLLS_BEFORE_SLEEP) {
			struct timespec ts = { 0, (long)w->idle_sleep_us * 1000 };

			nanosleep(&ts, NULL);
		} else {
			rte_pause();
		}
	}

	/* Shutdown: hand over every view slice, then the open window. */
	views_flush(w);
	__atomic_store_n(&w->vidle, 1, __ATOMIC_RELEASE);
	if (sl_agg_table_count(w->cur) > 0 && rte_ring_sp_enqueue(w->to_store, w->cur) == 0) {
		stat_add(&w->stats.rotations, 1);
		w->cur = NULL;
	}
	__atomic_store_n(&w->done_before, UINT64_MAX, __ATOMIC_RELEASE);
	__atomic_store_n(&w->running, 0, __ATOMIC_RELEASE);
	WORKER_LOG(INFO, "lcore %u stopped\n", w->lcore);
	return 0;
}

void
sl_worker_stats_read(const struct sl_worker *w, struct sl_dp_stats *acc)
{
	const struct sl_dp_stats *s = &w->stats;

	acc->packets += __atomic_load_n(&s->packets, __ATOMIC_RELAXED);
	acc->bytes += __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
	acc->accepted += __atomic_load_n(&s->accepted, __ATOMIC_RELAXED);
	acc->received += __atomic_load_n(&s->received, __ATOMIC_RELAXED);
	acc->aggregated += __atomic_load_n(&s->aggregated, __ATOMIC_RELAXED);
	acc->rotations += __atomic_load_n(&s->rotations, __ATOMIC_RELAXED);
	acc->rx_paused += __atomic_load_n(&s->rx_paused, __ATOMIC_RELAXED);
	acc->polls += __atomic_load_n(&s->polls, __ATOMIC_RELAXED);
	acc->polls_empty += __atomic_load_n(&s->polls_empty, __ATOMIC_RELAXED);
	acc->rule_matches_capped += __atomic_load_n(&s->rule_matches_capped, __ATOMIC_RELAXED);
	acc->producers.lost += __atomic_load_n(&s->producers.lost, __ATOMIC_RELAXED);
	acc->producers.reordered += __atomic_load_n(&s->producers.reordered, __ATOMIC_RELAXED);
	acc->producers.untracked += __atomic_load_n(&s->producers.untracked, __ATOMIC_RELAXED);
	acc->producers.producers += __atomic_load_n(&s->producers.producers, __ATOMIC_RELAXED);
	for (unsigned int r = 0; r < SL_DROP__MAX; r++)
		acc->drops[r] += __atomic_load_n(&s->drops[r], __ATOMIC_RELAXED);
}
