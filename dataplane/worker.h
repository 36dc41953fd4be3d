/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_DP_WORKER_H
#define SL_DP_WORKER_H

/**
 * @file
 * Worker lcores: poll RX queues, decode Ethernet/IP/UDP, parse statsd lines,
 * aggregate into the core's open window table, and hand closed windows to the
 * storage thread.
 *
 * Ownership: a struct sl_worker is written by its own lcore only, except the
 * fields marked otherwise. A window table belongs to the worker while it is
 * w->cur or w->spare; enqueueing it on w->to_store gives it to the storage
 * thread, which gives it back (reset) on w->from_store. Both rings are SPSC.
 *
 * The per-packet path takes no lock, calls no malloc, makes no syscall and
 * logs nothing. Counters are accumulated in a local struct per burst and
 * published once per burst with relaxed atomic stores (single writer); readers
 * use relaxed loads.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ring.h>

#include <sluice/common.h>

#include "agg.h"
#include "producers.h"
#include "rules.h"
#include "vwin.h"

#define SL_MAX_WORKERS 64
#define SL_MAX_QUEUES_PER_WORKER 16
#define SL_RX_BURST 32
#define SL_TABLES_PER_WORKER 4
/** Largest frame read (a maximal UDP datagram); larger: SL_DROP_OVERSIZE. */
#define SL_JUMBO_MAX 65536
/** Events applied to the window table together (see sl_agg_table_prepare()). */
#define SL_BATCH 64
/** UDP inputs (destination port -> format), as config.h's SL_CONFIG_INPUTS_MAX. */
#define SL_MAX_INPUTS 16
/** Late notes in flight per worker (ring of struct sl_vwin_note). */
#define SL_LATE_RING 4096

/** Per-core counters. Single writer (the worker), read with relaxed loads. */
struct sl_dp_stats {
	uint64_t packets;      /**< Packets taken from the RX queues. */
	uint64_t bytes;
	uint64_t accepted;     /**< Packets whose payload reached a parser. */
	uint64_t received;     /**< Events: lines in accepted packets + rejected packets. */
	uint64_t aggregated;   /**< Events that updated a window table. */
	uint64_t drops[SL_DROP__MAX];
	uint64_t rotations;    /**< Window tables handed to storage. */
	uint64_t rx_paused;    /**< Polls skipped because no free table was available. */
	uint64_t polls;        /**< Loop iterations that polled the RX queues... */
	uint64_t polls_empty;  /**< ... and found nothing (poll efficiency: 1 - empty / polls). */
	struct sl_producers_stats producers; /**< Binary producers' sequence numbers. */
	uint64_t rule_matches_capped; /**< Events whose rule scan stopped at max_matches_per_event. */
};

/** How a worker tells time. */
enum sl_time_mode {
	SL_TIME_AUTO,  /**< RX timestamp when the port gives one, else the wall clock. */
	SL_TIME_RX,    /**< RX timestamp only (e.g. net_pcap capture time). */
	SL_TIME_WALL,  /**< Wall clock read once per burst. */
};

struct sl_rxq {
	uint16_t port;
	uint16_t queue;
};

/**
 * A configuration reload for one worker, prepared by main (worker.c applies
 * it between two polls): the new views array with new views set up (tables
 * given, view_slot set) and, for each view kept from the running set, its
 * index there in @c from (its state is moved over), and the new inputs.
 */
struct sl_worker_reload {
	struct sl_vwin_view *old;   /**< main only: the array it replaces */
	struct sl_vwin_view *v;
	uint32_t n_views;
	int32_t from[SL_VIEW_SLOTS_MAX > 256 ? 256 : SL_VIEW_SLOTS_MAX]; /**< -1: a new view. */
	uint16_t n_inputs;
	uint16_t in_port[SL_MAX_INPUTS];
	uint8_t in_format[SL_MAX_INPUTS];
	/* The rule set (NULL: none), this worker's scratch and hit counters for it. */
	const struct sl_rules *rules;
	struct sl_rules_scratch *rules_scratch;
	uint64_t *rule_hits;
	const int32_t *rule_from;   /**< Per new rule: the running rule it continues, or -1. */
	/* main only: what the swap retired, freed once the worker acknowledged. */
	struct sl_rules_scratch *old_scratch;
	uint64_t *old_hits;
};

struct __rte_cache_aligned sl_worker {
	/* Set up by main before launch, then read-only. */
	unsigned int lcore;
	unsigned int idx;          /**< 0..n_workers-1 */
	unsigned int socket;
	uint16_t n_rxq;
	struct sl_rxq rxq[SL_MAX_QUEUES_PER_WORKER];
	uint16_t n_inputs;
	uint16_t in_port[SL_MAX_INPUTS];   /**< UDP destination ports... */
	uint8_t in_format[SL_MAX_INPUTS];  /**< ... and their formats (enum sl_config_format). */
	uint64_t window_ns;
	uint64_t idle_flush_ns;    /**< RX-time mode: hand over a quiet core's window. */
	uint32_t idle_sleep_us;    /**< Sleep after many empty polls (0: busy poll). */
	enum sl_time_mode time_mode;
	struct rte_ring *to_store;   /**< SPSC worker -> storage: closed tables. */
	struct rte_ring *from_store; /**< SPSC storage -> worker: empty tables. */
	struct rte_ring *vto_store;  /**< SPSC worker -> storage: closed view slice tables. */
	struct rte_ring *vfrom_store;/**< SPSC storage -> worker: empty view slice tables. */
	struct rte_ring *late_ring;  /**< SPSC worker -> storage: struct sl_vwin_note. */
	/**
	 * Views: vw.v[] (vw.n_views entries) is set up by main; the struct is
	 * worker-private except the published fields of each view (vwin.h).
	 */
	struct sl_vwin vw;
	struct sl_vwin_pub *vpub;    /**< SL_VIEW_SLOTS_MAX entries: what vw publishes per view slot. */
	/*
	 * Live snapshots: main asks (live_view, then live_req = a new sequence
	 * number, release); between two polls the worker serializes the open
	 * slices of that view slot into live_buf and acknowledges (live_ack =
	 * live_req, release). Records: u64 start, u64 end, u32 key_len, key,
	 * u32 val_len, state (sl_view_state_serialize() without sets), then per
	 * aggregate u32 n and n u64 member hashes (distinct() only, else 0).
	 */
	struct sl_worker_reload *reload; /**< main: wo (before reload_seq)  worker: ro */
	uint32_t reload_seq;         /**< main: wo  worker: ro */
	uint32_t reload_ack;         /**< worker: wo  main: ro: the reload was applied */
	uint32_t live_req;           /**< main: wo  worker: ro */
	uint32_t live_view;          /**< main: wo  worker: ro (before live_req) */
	uint32_t live_ack;           /**< worker: wo  main: ro */
	uint32_t live_truncated;     /**< worker: wo: the snapshot did not fit */
	uint64_t live_len;           /**< worker: wo: bytes of the snapshot */
	uint8_t *live_buf;           /**< live_cap bytes, mmap()ed by main */
	uint64_t live_cap;
	uint8_t *live_block;         /**< Scratch: a copy of one group's state */
	uint64_t *live_members;      /**< Scratch: live_members_cap member hashes */
	uint32_t live_members_cap;
	uint32_t n_vtabs;            /**< main only: view tables given to this worker */

	/* Worker-private: rw by this lcore only. */
	struct sl_agg_table *cur;  /**< Open window, owned. */
	struct sl_agg_table *spare;/**< Next table, owned (may be NULL). */
	uint64_t clock_ns;         /**< Latest time seen by this core. */
	uint64_t win_start;
	uint64_t win_end;
	/** Linear copy of a datagram that arrived in several segments. */
	uint8_t jumbo[SL_JUMBO_MAX];
	/*
	 * Events parsed and hashed but not yet applied (batched so their cache
	 * misses overlap). Their spans point into this burst's mbufs or into
	 * jumbo: the batch is applied before either is reused.
	 */
	uint64_t vdrops[SL_DROP__MAX]; /**< JSON/binary drops of the current burst. */
	struct sl_producers *producers; /**< Binary producers' sequences (main allocates). */
	/*
	 * Rules (rules.h): the compiled set is shared and read-only, the scratch
	 * and the per-rule hit counters are this worker's (hits: written by the
	 * worker, read by main with relaxed loads). Swapped by a reload.
	 */
	const struct sl_rules *rules;
	struct sl_rules_scratch *rules_scratch;
	uint64_t *rule_hits;
	uint32_t n_rules;
	uint64_t rules_capped;         /**< Private count, published in stats. */
	uint64_t last_view_wall;       /**< Wall time of the latest JSON/binary datagram. */
	uint32_t batch_n;
	uint64_t batch_t[SL_BATCH];
	struct sl_statsd_event batch_ev[SL_BATCH];
	struct sl_agg_prep batch_prep[SL_BATCH];

	/* Cross-thread, one writer each (access with __atomic_*). */
	struct sl_dp_stats stats;  /**< worker: wo (relaxed)   others: ro */
	uint64_t done_before;      /**< worker: wo (release)   storage: ro (acquire).
				    *   Every window starting before it was handed over. */
	uint32_t idle;             /**< worker: wo  storage: ro. 1 = no open data. */
	uint32_t running;          /**< worker: wo  main: ro. */
	uint32_t vidle;            /**< worker: wo (release)  storage: ro. 1 = no view slice held:
				    *   its views' done_before do not hold commits back. */
};

/** Ask every worker to flush and exit. Written by main, read by workers. */
extern volatile int sl_force_quit;

/** lcore entry point; @p arg is the struct sl_worker. */
int sl_worker_main(void *arg);

/** Sum of one worker's counters into @p acc (relaxed loads). */
void sl_worker_stats_read(const struct sl_worker *w, struct sl_dp_stats *acc);

#endif /* SL_DP_WORKER_H */
