/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * sluiced: the dataplane. `sluiced [EAL args] -- [app args]`.
 *
 * Lcores: the main lcore serves the control socket and watches for idleness
 * and signals; every other EAL lcore is a worker; the storage thread (merge +
 * LMDB writer) is a control thread. See docs/architecture.md.
 */

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include <sluice/common.h>

#include "agg.h"
#include "config.h"
#include "ctl.h"
#include "merge.h"
#include "port.h"
#include "rules.h"
#include "store.h"
#include "view.h"
#include "vmerge.h"
#include "vwin.h"
#include "worker.h"
#ifdef SL_HAVE_XDP /* --- XDP (ebpf/loader.h): sluice's program on net_af_xdp ports --- */
#include <net/if.h>

#include "loader.h"
#endif

RTE_LOG_REGISTER(sl_logtype_main, sluice.dp.main, INFO);
#define MAIN_LOG(level, ...) rte_log(RTE_LOG_##level, sl_logtype_main, "sluiced: " __VA_ARGS__)

#define DEFAULT_DB "/var/lib/sluice"
#define DEFAULT_SOCKET "/run/sluice/sluiced.sock"
#define DEFAULT_XDP_PIN_DIR "/sys/fs/bpf/sluice"
/* Live snapshots: per worker buffer (address space), largest group state. */
#define LIVE_BUF_BYTES (256ull << 20)
#define LIVE_BLOCK_MAX (4u << 20)
/* Slice-table rings per worker: every table of the worker fits. */
#define VRING_SIZE 16384u

struct app_conf {
	const char *config_path;  /* NULL: the built-in default */
	const char *db;
	const char *ctl_socket;
	const char *ctl_group;    /* NULL: the daemon's own group only */
	uint64_t window_ns;
	uint64_t exit_when_idle_ns;
	uint64_t idle_flush_ns;   /* 0: min(window, 1 s) */
	uint64_t map_size;
	uint16_t udp_port;        /* --statsd-port; 0: the config's */
	enum sl_time_mode time_mode;
	uint32_t idle_sleep_us;
	uint32_t n_mbufs;
	const char *xdp_pin_dir; /* XDP: maps pinned here, per interface */
	struct sl_agg_limits lim;
};

/* A view slice table: mmap()ed, so that only the groups used take memory. */
struct vtab_mem {
	void *p;
	size_t len;
};

struct app {
	struct app_conf conf;
	struct sl_config *cfg;
	struct sl_config_input inputs[SL_CONFIG_INPUTS_MAX]; /* cfg's, --statsd-port applied */
	uint32_t n_inputs;
	struct sl_view_plan **plans;      /* cfg->n_views */
	struct sl_vmerge_view *vviews;    /* cfg->n_views */
	uint32_t *vslot;                  /* cfg->n_views: each view's slot (vwin.h) */
	struct sl_vmerge *vmerge;
	struct vtab_mem *vtabs;
	uint32_t n_vtabs;
	uint32_t cap_vtabs;
	uint32_t n_slots;                 /* view slots given out (reloads add) */
	struct sl_view_plan **all_plans;  /* every plan created: freed at exit */
	uint32_t n_all_plans, cap_all_plans;
	struct sl_config **retired;       /* configurations replaced by config_apply */
	uint32_t n_retired, cap_retired;
	char cfg_source[256];             /* the file, "built-in default" or "config_apply" */
	struct sl_rules *rules;           /* cfg's compiled rules (NULL: none) */
	struct sl_worker *workers;
	unsigned int n_workers;
	struct sl_merge *merge;
	struct sl_store *store;
#ifdef SL_HAVE_XDP
	struct sl_xdp *xdp[RTE_MAX_ETHPORTS]; /* XDP: one per net_af_xdp port running sl_xdp */
#endif
	uint64_t start_ns;
};

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: sluiced [EAL options] -- [options]\n"
		"\n"
		"The sluice dataplane: receives statsd/DogStatsD, JSON lines and sluice binary\n"
		"datagrams on every DPDK port, aggregates them per core into windows (statsd\n"
		"metrics) and the configured views, and commits closed windows to LMDB.\n"
		"\n"
		"EAL options (see DPDK's documentation), for example:\n"
		"  -l 0-2                  main lcore 0 (control), workers on lcores 1 and 2\n"
		"  --no-huge -m 512        run without hugepages\n"
		"  --no-pci --vdev net_pcap0,rx_pcap=FILE[,rx_pcap=FILE2]  replay pcap files\n"
		"  --file-prefix NAME      run beside other DPDK processes\n"
		"\n"
		"Options:\n"
		"  --config FILE           inputs, limits, retention and views (YAML,\n"
		"                          docs/configuration.md; default: the built-in retail\n"
		"                          views, 'sluicectl config default')\n"
		"  --db DIR                LMDB directory (default %s)\n"
		"  --window DURATION       statsd window length: 10s, 500ms, 1m, ... (default 10s)\n"
		"  --ctl-socket PATH       control socket, mode 0660 (default %s)\n"
		"  --ctl-group GROUP       give the control socket to GROUP and let its members\n"
		"                          in (peers are checked with SO_PEERCRED; default: root,\n"
		"                          the daemon's user and group only)\n"
		"  --idle-flush DURATION   a core without packets for DURATION hands over its open\n"
		"                          windows and view slices, so it holds no commit back\n"
		"                          (default: min(window, 1s))\n"
		"  --exit-when-idle SECS   after SECS without packets, commit every open window\n"
		"                          and exit 0 (default 0: never). SIGINT/SIGTERM do the same\n"
		"  --statsd-port PORT      UDP destination port of statsd traffic (default: the\n"
		"                          config's statsd input, 8125)\n"
		"  --time MODE             auto|rx|wall: window time from the port's RX timestamp\n"
		"                          (pcap capture time) or the wall clock (default auto:\n"
		"                          RX timestamp when the port gives one)\n"
		"  --max-groups N          group keys per core per window (default 16384)\n"
		"  --max-set-members N     distinct set members per core per window (default 65536)\n"
		"  --map-size BYTES        LMDB map size, suffixes K M G (default 1G)\n"
		"  --idle-sleep USEC       sleep USEC after 256 empty polls (default 0: busy poll)\n"
		"  --mbufs N               mbufs per NUMA socket (default 8191; net_pcap with\n"
		"                          infinite_rx=1 needs more than the file has packets)\n"
		"  --xdp-pin-dir DIR       net_af_xdp ports with xdp_prog=sl_xdp.bpf.o: pin the\n"
		"                          XDP maps in DIR/IFNAME for sluicectl xdp\n"
		"                          (default %s)\n"
		"  -h, --help              this help\n",
		DEFAULT_DB, DEFAULT_SOCKET, DEFAULT_XDP_PIN_DIR);
}

/* A window length: sl_config_duration_parse() syntax, from 1 ms to 24 h. */
static int
parse_duration(const char *s, uint64_t *ret_ns)
{
	uint64_t ns;
	int rc = sl_config_duration_parse(s, &ns);

	if (rc != 0)
		return rc;
	if (ns < 1000000 || ns > 86400 * SL_NS_PER_SEC)
		return -ERANGE;
	*ret_ns = ns;
	return 0;
}


static int
parse_args(int argc, char **argv, struct app_conf *c)
{
	enum { O_IDLE_FLUSH = 253, O_CTL_GROUP = 254, O_CONFIG = 255, O_DB = 256, O_WINDOW, O_SOCK, O_IDLE, O_PORT, O_TIME, O_GROUPS, O_MEMBERS,
	       O_MAP, O_SLEEP, O_MBUFS, O_XDP_PIN };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "ctl-group", required_argument, NULL, O_CTL_GROUP },
		{ "idle-flush", required_argument, NULL, O_IDLE_FLUSH },
		{ "db", required_argument, NULL, O_DB },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "ctl-socket", required_argument, NULL, O_SOCK },
		{ "exit-when-idle", required_argument, NULL, O_IDLE },
		{ "statsd-port", required_argument, NULL, O_PORT },
		{ "time", required_argument, NULL, O_TIME },
		{ "max-groups", required_argument, NULL, O_GROUPS },
		{ "max-set-members", required_argument, NULL, O_MEMBERS },
		{ "map-size", required_argument, NULL, O_MAP },
		{ "idle-sleep", required_argument, NULL, O_SLEEP },
		{ "mbufs", required_argument, NULL, O_MBUFS },
		{ "xdp-pin-dir", required_argument, NULL, O_XDP_PIN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *bad = NULL;
		double secs;
		char *end;

		switch (opt) {
		case O_CONFIG:
			c->config_path = optarg;
			break;
		case O_CTL_GROUP:
			c->ctl_group = optarg;
			break;
		case O_IDLE_FLUSH:
			if (parse_duration(optarg, &c->idle_flush_ns) != 0)
				bad = "--idle-flush: expected a duration from 1ms to 24h such as 1s, 500ms";
			break;
		case O_DB:
			c->db = optarg;
			break;
		case O_WINDOW:
			if (parse_duration(optarg, &c->window_ns) != 0)
				bad = "--window: expected a duration from 1ms to 24h such as 10s, 500ms, 1m";
			break;
		case O_SOCK:
			c->ctl_socket = optarg;
			break;
		case O_IDLE:
			errno = 0;
			secs = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || secs < 0 || secs > 86400)
				bad = "--exit-when-idle: expected seconds from 0 to 86400";
			else
				c->exit_when_idle_ns = (uint64_t)(secs * 1e9);
			break;
		case O_PORT:
			if (sl_config_size_parse(optarg, 1, 65535, &v) != 0)
				bad = "--statsd-port: expected 1..65535";
			else
				c->udp_port = (uint16_t)v;
			break;
		case O_TIME:
			if (strcmp(optarg, "auto") == 0)
				c->time_mode = SL_TIME_AUTO;
			else if (strcmp(optarg, "rx") == 0)
				c->time_mode = SL_TIME_RX;
			else if (strcmp(optarg, "wall") == 0)
				c->time_mode = SL_TIME_WALL;
			else
				bad = "--time: expected auto, rx or wall";
			break;
		case O_GROUPS:
			if (sl_config_size_parse(optarg, 1, 1u << 24, &v) != 0)
				bad = "--max-groups: expected 1..16777216";
			else
				c->lim.max_groups = (uint32_t)v;
			break;
		case O_MEMBERS:
			if (sl_config_size_parse(optarg, 1, 1u << 26, &v) != 0)
				bad = "--max-set-members: expected 1..67108864";
			else
				c->lim.max_set_members = (uint32_t)v;
			break;
		case O_MAP:
			if (sl_config_size_parse(optarg, 1u << 20, 1ull << 40, &v) != 0)
				bad = "--map-size: expected 1M..1024G";
			else
				c->map_size = v;
			break;
		case O_SLEEP:
			if (sl_config_size_parse(optarg, 0, 1000000, &v) != 0)
				bad = "--idle-sleep: expected 0..1000000 microseconds";
			else
				c->idle_sleep_us = (uint32_t)v;
			break;
		case O_MBUFS:
			if (sl_config_size_parse(optarg, 1023, 1u << 26, &v) != 0)
				bad = "--mbufs: expected 1023..67108864";
			else
				c->n_mbufs = (uint32_t)v;
			break;
		case O_XDP_PIN:
			c->xdp_pin_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (bad != NULL) {
			fprintf(stderr, "sluiced: %s (got '%s')\n", bad, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluiced: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	c->lim.key_bytes = c->lim.max_groups * 64u < SL_KEY_MAX ? SL_KEY_MAX
								: c->lim.max_groups * 64u;
	return 0;
}

/* --help works without EAL arguments and without starting the EAL. */
static void
early_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(0);
		}
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- control requests ---- */

struct jbuf {
	char *p;
	size_t cap;
	size_t len;
	int overflow;
};

__attribute__((format(printf, 2, 3))) static void
jb(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->overflow = 1;
	else
		b->len += (size_t)n;
}

static void
jb_drops(struct jbuf *b, const uint64_t *drops)
{
	jb(b, "{");
	for (unsigned int r = 0; r < SL_DROP__MAX; r++)
		jb(b, "%s\"%s\":%" PRIu64, r ? "," : "", sl_drop_reason_name(r), drops[r]);
	jb(b, "}");
}

/* ,"views":[...] per view (summed over cores) and ,"views_storage":{...}. */
static void
jb_views(struct app *app, struct jbuf *b)
{
	struct sl_vmerge_stats vs = { 0 };

	jb(b, ",\"views\":[");
	for (uint32_t i = 0; app->cfg != NULL && app->vmerge != NULL && i < app->cfg->n_views; i++) {
		struct sl_vwin_stats s = { 0 };

		for (unsigned int k = 0; k < app->n_workers; k++)
			sl_vwin_stats_read(&app->workers[k].vpub[app->vslot[i]], &s);
		jb(b, "%s{\"name\":\"%s\",\"id\":%u,\"matched\":%" PRIu64 ",\"aggregated\":%" PRIu64
		   ",\"late\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"overflow_events\":%" PRIu64
		   ",\"missing_field_events\":%" PRIu64 ",\"slices_closed\":%" PRIu64
		   ",\"slices_forced\":%" PRIu64 ",\"late_unattributed\":%" PRIu64 "}",
		   i ? "," : "", app->cfg->views[i].name, app->vviews[i].id, s.matched, s.aggregated,
		   s.late, s.dropped, s.overflow_events, s.missing_field_events, s.slices_closed,
		   s.slices_forced, s.late_unattributed);
	}
	if (app->vmerge != NULL)
		sl_vmerge_stats_read(app->vmerge, &vs);
	jb(b, "],\"views_storage\":{\"slices_committed\":%" PRIu64 ",\"slices_amended\":%" PRIu64
	   ",\"records_written\":%" PRIu64 ",\"commit_errors\":%" PRIu64 ",\"records_lost\":%" PRIu64
	   ",\"merge_errors\":%" PRIu64 ",\"late_notes\":%" PRIu64 ",\"late_updates\":%" PRIu64
	   ",\"retention_deleted\":%" PRIu64
	   ",\"pending\":%" PRIu64 ",\"last_commit_ns\":%" PRIu64 "}", vs.slices_committed,
	   vs.slices_amended, vs.records_written, vs.commit_errors, vs.records_lost, vs.merge_errors,
	   vs.late_notes, vs.late_updates, vs.retention_deleted, vs.pending, vs.last_commit_ns);
}

static int
cmd_stats(const char *cmd, const char *args, char *out, size_t cap, void *arg)
{
	struct app *app = arg;
	struct sl_dp_stats tot = { 0 };
	struct sl_merge_stats ms = { 0 };
	struct jbuf b = { out, cap, 0, 0 };
	uint64_t port_missed = 0, port_nombuf = 0;
	uint16_t port;

	(void)cmd;
	(void)args;
	for (unsigned int i = 0; i < app->n_workers; i++)
		sl_worker_stats_read(&app->workers[i], &tot);
	/* Packets the NIC could not deliver are counted as dropped events too. */
	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_stats es;

		if (rte_eth_stats_get(port, &es) == 0) {
			port_missed += es.imissed;
			port_nombuf += es.rx_nombuf;
		}
	}
	tot.drops[SL_DROP_NIC_MISSED] += port_missed;
	tot.drops[SL_DROP_NO_MBUF] += port_nombuf;
	tot.received += port_missed + port_nombuf;
	if (app->merge != NULL)
		sl_merge_stats_read(app->merge, &ms);

	jb(&b, "{\"version\":\"%s\",\"uptime_ns\":%" PRIu64 ",\"window_ns\":%" PRIu64, SL_VERSION,
	   mono_ns() - app->start_ns, app->conf.window_ns);
	jb(&b, ",\"received\":%" PRIu64 ",\"aggregated\":%" PRIu64 ",\"drops\":", tot.received,
	   tot.aggregated);
	jb_drops(&b, tot.drops);
	jb(&b, ",\"packets\":{\"received\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"bytes\":%" PRIu64
	   "}", tot.packets, tot.accepted, tot.bytes);
	{
		uint64_t hits = 0;

		for (unsigned int i = 0; app->rules != NULL && i < app->n_workers; i++)
			for (uint32_t k = 0; k < app->workers[i].n_rules; k++)
				hits += __atomic_load_n(&app->workers[i].rule_hits[k], __ATOMIC_RELAXED);
		jb(&b, ",\"rules\":{\"count\":%u,\"hits\":%" PRIu64 ",\"matches_capped\":%" PRIu64 "}",
		   app->rules != NULL ? sl_rules_count(app->rules) : 0, hits, tot.rule_matches_capped);
	}
	jb(&b, ",\"producers\":{\"seen\":%" PRIu64 ",\"lost_datagrams\":%" PRIu64
	   ",\"reordered_datagrams\":%" PRIu64 ",\"untracked_datagrams\":%" PRIu64 "}",
	   tot.producers.producers, tot.producers.lost, tot.producers.reordered,
	   tot.producers.untracked);
	jb(&b, ",\"cores\":[");
	for (unsigned int i = 0; i < app->n_workers; i++) {
		const struct sl_worker *w = &app->workers[i];
		struct sl_dp_stats s = { 0 };

		sl_worker_stats_read(w, &s);
		jb(&b, "%s{\"lcore\":%u,\"socket\":%u,\"queues\":[", i ? "," : "", w->lcore,
		   w->socket);
		for (unsigned int q = 0; q < w->n_rxq; q++)
			jb(&b, "%s\"%u:%u\"", q ? "," : "", w->rxq[q].port, w->rxq[q].queue);
		jb(&b, "],\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"received\":%" PRIu64
		   ",\"aggregated\":%" PRIu64 ",\"rotations\":%" PRIu64 ",\"rx_paused\":%" PRIu64
		   ",\"polls\":%" PRIu64 ",\"polls_empty\":%" PRIu64 ",\"drops\":", s.packets,
		   s.bytes, s.received, s.aggregated, s.rotations, s.rx_paused, s.polls,
		   s.polls_empty);
		jb_drops(&b, s.drops);
		jb(&b, "}");
	}
	jb(&b, "],\"ports\":[");
	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_stats es = { 0 };
		struct rte_eth_dev_info info;
		char name[RTE_ETH_NAME_MAX_LEN] = "";

		(void)rte_eth_stats_get(port, &es);
		rte_eth_dev_get_name_by_port(port, name);
		if (rte_eth_dev_info_get(port, &info) != 0)
			memset(&info, 0, sizeof(info));
		jb(&b, "%s{\"port\":%u,\"name\":\"%s\",\"rx_queues\":%u,\"ipackets\":%" PRIu64
		   ",\"imissed\":%" PRIu64 ",\"rx_nombuf\":%" PRIu64 ",\"ierrors\":%" PRIu64 "}",
		   port ? "," : "", port, name, info.nb_rx_queues, es.ipackets, es.imissed,
		   es.rx_nombuf, es.ierrors);
	}
	jb(&b, "],\"storage\":{\"windows_committed\":%" PRIu64 ",\"windows_amended\":%" PRIu64
	   ",\"records_written\":%" PRIu64 ",\"commit_errors\":%" PRIu64 ",\"records_lost\":%" PRIu64
	   ",\"pending_windows\":%" PRIu64 ",\"last_commit_ns\":%" PRIu64 ",\"partials\":%" PRIu64
	   ",\"busy_ns\":%" PRIu64 ",\"commit_us_log2\":[", ms.windows_committed,
	   ms.windows_amended, ms.records_written, ms.commit_errors, ms.records_lost,
	   ms.pending_windows, ms.last_commit_ns, ms.partials, ms.busy_ns);
	for (unsigned int i = 0; i < SL_MERGE_HIST_BUCKETS; i++)
		jb(&b, "%s%" PRIu64, i ? "," : "", ms.commit_us_log2[i]);
	jb(&b, "]}");
	jb_views(app, &b);
	jb(&b, "}");
	return b.overflow ? -1 : (int)b.len;
}

/* ---- live: the open slices of a view, merged across cores ---- */

struct live_rec {
	uint64_t start, end;
	const uint8_t *key;
	uint32_t key_len;
	const uint8_t *val;
	uint32_t val_len;
	const uint8_t *members; /* per aggregate: u32 n, n u64 */
	uint32_t members_len;
};

static int
live_rec_cmp(const void *a, const void *b)
{
	const struct live_rec *x = a, *y = b;
	uint32_t n;
	int c;

	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	n = x->key_len < y->key_len ? x->key_len : y->key_len;
	c = memcmp(x->key, y->key, n);
	if (c != 0)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static uint32_t
rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Split one worker's snapshot into records. @return records, or -1 when malformed. */
static int64_t
live_parse(const uint8_t *p, uint64_t len, uint32_t n_aggs, struct live_rec *out, size_t cap,
	   size_t n)
{
	uint64_t off = 0;

	while (off < len) {
		struct live_rec r;
		uint64_t moff;

		if (len - off < 20 || n == cap)
			return -1;
		memcpy(&r.start, p + off, 8);
		memcpy(&r.end, p + off + 8, 8);
		r.key_len = rd32(p + off + 16);
		off += 20;
		if (len - off < (uint64_t)r.key_len + 4)
			return -1;
		r.key = p + off;
		off += r.key_len;
		r.val_len = rd32(p + off);
		off += 4;
		if (len - off < r.val_len)
			return -1;
		r.val = p + off;
		off += r.val_len;
		moff = off;
		for (uint32_t i = 0; i < n_aggs; i++) {
			uint32_t m;

			if (len - off < 4)
				return -1;
			m = rd32(p + off);
			off += 4;
			if (len - off < (uint64_t)m * 8)
				return -1;
			off += (uint64_t)m * 8;
		}
		r.members = p + moff;
		r.members_len = (uint32_t)(off - moff);
		out[n++] = r;
	}
	return (int64_t)n;
}

static void
json_bytes(FILE *f, const uint8_t *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(f, "\\%c", s[i]);
		else if (s[i] < 0x20)
			fprintf(f, "\\u%04x", s[i]);
		else
			fputc(s[i], f);
	}
	fputc('"', f);
}

/* Write one merged row: {"view", "window_start", "window_end", "group", "values", "late"}. */
static int
live_row(FILE *f, bool first, const struct sl_config_view *cv, const struct sl_view_plan *plan,
	 const struct live_rec *r, void *block, struct sl_agg_set **sets)
{
	struct sl_view_key k;

	if (sl_view_key_decode(r->key, r->key_len, &k) != 0)
		return 0;
	fprintf(f, "%s{\"view\":", first ? "" : ",");
	json_bytes(f, (const uint8_t *)cv->name, strlen(cv->name));
	fprintf(f, ",\"window_start\":%" PRIu64 ",\"window_end\":%" PRIu64 ",\"group\":{",
		r->start, r->end);
	for (uint32_t d = 0; d < k.n_dims && d < cv->n_group_by; d++) {
		if (d > 0)
			fputc(',', f);
		json_bytes(f, (const uint8_t *)cv->group_by[d], strlen(cv->group_by[d]));
		fputc(':', f);
		json_bytes(f, k.dims[d].p, k.dims[d].len);
	}
	fputs("},\"values\":", f);
	if (sl_view_state_finalize_json(plan, block, sets, f) != 0)
		return -EIO;
	fputs(",\"late\":0}", f);
	return 1;
}

static int
cmd_live(const char *cmd, const char *args, char *out, size_t cap, void *arg)
{
	struct app *app = arg;
	const struct sl_config_view *cv = NULL;
	const struct sl_view_plan *plan = NULL;
	struct sl_agg_set *sets[SL_CONFIG_AGGS_MAX] = { 0 };
	struct live_rec *recs = NULL;
	static uint32_t seq;
	uint64_t deadline;
	uint8_t *block = NULL, *tmp = NULL;
	size_t n = 0, rcap = 0, gs;
	uint32_t slot = 0, n_aggs;
	bool first = true;
	FILE *f = NULL;
	int rc = -1;

	(void)cmd;
	for (uint32_t i = 0; app->cfg != NULL && i < app->cfg->n_views; i++)
		if (strcmp(app->cfg->views[i].name, args) == 0) {
			cv = &app->cfg->views[i];
			plan = app->plans[i];
			slot = app->vslot[i];
		}
	if (cv == NULL || app->workers == NULL || app->workers[0].live_buf == NULL)
		return snprintf(out, cap, "{\"error\":\"unknown view '%.64s'\"}", args);
	/* Ask every running worker, then wait (bounded) for their snapshots. */
	seq++;
	for (unsigned int i = 0; i < app->n_workers; i++) {
		__atomic_store_n(&app->workers[i].live_view, slot, __ATOMIC_RELEASE);
		__atomic_store_n(&app->workers[i].live_req, seq, __ATOMIC_RELEASE);
	}
	deadline = mono_ns() + 500000000ull;
	for (unsigned int i = 0; i < app->n_workers; i++)
		while (__atomic_load_n(&app->workers[i].running, __ATOMIC_ACQUIRE) &&
		       __atomic_load_n(&app->workers[i].live_ack, __ATOMIC_ACQUIRE) != seq) {
			struct timespec ts = { 0, 200000 };

			if (mono_ns() > deadline)
				return snprintf(out, cap, "{\"error\":\"worker %u did not answer\"}", i);
			nanosleep(&ts, NULL);
		}
	n_aggs = sl_view_plan_n_aggs(plan);
	gs = sl_view_plan_group_size(plan);
	for (unsigned int i = 0; i < app->n_workers; i++) {
		const struct sl_worker *w = &app->workers[i];
		int64_t got;

		if (w->live_ack != seq)
			continue; /* stopped */
		if (w->live_truncated)
			return snprintf(out, cap, "{\"error\":\"the open window of '%s' is larger "
					"than a live snapshot (%llu MiB per core)\"}", cv->name,
					(unsigned long long)(w->live_cap >> 20));
		if (n + w->live_len / 20 + 1 > rcap) {
			size_t nc = n + w->live_len / 20 + 1;
			struct live_rec *nr = realloc(recs, nc * sizeof(*nr));

			if (nr == NULL)
				goto out;
			recs = nr;
			rcap = nc;
		}
		got = live_parse(w->live_buf, w->live_len, n_aggs, recs, rcap, n);
		if (got < 0)
			goto out;
		n = (size_t)got;
	}
	qsort(recs, n, sizeof(*recs), live_rec_cmp);
	block = aligned_alloc(64, (gs + 63) & ~(size_t)63);
	tmp = aligned_alloc(64, (gs + 63) & ~(size_t)63);
	f = fmemopen(out, cap, "w");
	if (block == NULL || tmp == NULL || f == NULL)
		goto out;
	fputc('[', f);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		sl_view_state_init(plan, block);
		/* Merge the cores' parts of one (slice, group). */
		for (; j < n && live_rec_cmp(&recs[i], &recs[j]) == 0; j++) {
			const uint8_t *m = recs[j].members;

			if (sl_view_state_deserialize(plan, recs[j].val, recs[j].val_len, tmp, NULL) != 0 ||
			    sl_view_state_merge(plan, block, NULL, tmp, NULL) != 0)
				goto out;
			for (uint32_t a = 0; a < n_aggs; a++) {
				uint32_t cnt = rd32(m);
				uint64_t hs[256];

				m += 4;
				if (cnt > 0 && sets[a] == NULL && (sets[a] = sl_agg_set_create()) == NULL)
					goto out;
				for (uint32_t k = 0; k < cnt;) {
					uint32_t step = cnt - k < 256 ? cnt - k : 256;

					memcpy(hs, m + (size_t)k * 8, (size_t)step * 8);
					if (sl_agg_set_add(sets[a], hs, step) != 0)
						goto out;
					k += step;
				}
				m += (size_t)cnt * 8;
			}
		}
		for (uint32_t a = 0; a < n_aggs; a++)
			if (sets[a] != NULL)
				((struct sl_view_distinct *)sl_view_state_slot(plan, block, a))->n =
					sl_agg_set_count(sets[a]);
		if (live_row(f, first, cv, plan, &recs[i], block, sets) < 0)
			goto out;
		first = false;
		for (uint32_t a = 0; a < n_aggs; a++) {
			sl_agg_set_destroy(sets[a]);
			sets[a] = NULL;
		}
		i = j;
	}
	fputc(']', f);
	fflush(f);
	if (!ferror(f) && ftell(f) < (long)cap)
		rc = (int)ftell(f);
out:
	for (uint32_t a = 0; a < SL_CONFIG_AGGS_MAX; a++)
		sl_agg_set_destroy(sets[a]);
	if (f != NULL)
		fclose(f);
	free(recs);
	free(block);
	free(tmp);
	return rc;
}

/* ---- configuration: show, apply (hot reload) ---- */


/* Write @p s as a JSON string into @p f. */
static void
json_text(FILE *f, const char *s, size_t len)
{
	json_bytes(f, (const uint8_t *)s, len);
}

/*
 * Decode the JSON string literal at @p s (the whole argument) into a new
 * NUL-terminated buffer. @return 0, -EINVAL, -ENOMEM.
 */
static int
json_unquote(const char *s, char **ret, size_t *ret_len)
{
	size_t n = strlen(s), o = 0;
	char *out;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -EINVAL;
	out = malloc(n);
	if (out == NULL)
		return -ENOMEM;
	for (size_t i = 1; i < n - 1; i++) {
		unsigned int cp = 0;

		if (s[i] != '\\') {
			if ((unsigned char)s[i] < 0x20 || s[i] == '"')
				goto bad;
			out[o++] = s[i];
			continue;
		}
		if (++i >= n - 1)
			goto bad;
		switch (s[i]) {
		case '"': case '\\': case '/':
			out[o++] = s[i];
			continue;
		case 'b': out[o++] = '\b'; continue;
		case 'f': out[o++] = '\f'; continue;
		case 'n': out[o++] = '\n'; continue;
		case 'r': out[o++] = '\r'; continue;
		case 't': out[o++] = '\t'; continue;
		case 'u':
			break;
		default:
			goto bad;
		}
		for (int k = 0; k < 4; k++) {
			char c = ++i < n - 1 ? s[i] : 0;

			cp <<= 4;
			if (c >= '0' && c <= '9')
				cp |= (unsigned int)(c - '0');
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				cp |= (unsigned int)((c | 0x20) - 'a' + 10);
			else
				goto bad;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair */
			unsigned int lo = 0;

			if (i + 6 >= n - 1 || s[i + 1] != '\\' || s[i + 2] != 'u')
				goto bad;
			i += 2;
			for (int k = 0; k < 4; k++) {
				char c = s[++i];

				lo <<= 4;
				if (c >= '0' && c <= '9')
					lo |= (unsigned int)(c - '0');
				else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
					lo |= (unsigned int)((c | 0x20) - 'a' + 10);
				else
					goto bad;
			}
			if (lo < 0xdc00 || lo > 0xdfff)
				goto bad;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			goto bad;
		}
		if (cp == 0)
			goto bad;
		if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (cp < 0x800) {
			out[o++] = (char)(0xc0 | cp >> 6);
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out[o++] = (char)(0xe0 | cp >> 12);
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | cp >> 18);
			out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
bad:
	free(out);
	return -EINVAL;
}

static int
cmd_config_show(const char *cmd, const char *args, char *out, size_t cap, void *arg)
{
	struct app *app = arg;
	char *text = NULL;
	size_t len = 0;
	FILE *m, *f;
	int n = -1;

	(void)cmd;
	(void)args;
	m = open_memstream(&text, &len);
	if (m == NULL)
		return -1;
	if (sl_config_dump(app->cfg, m) != 0) {
		fclose(m);
		free(text);
		return -1;
	}
	fclose(m);
	f = fmemopen(out, cap, "w");
	if (f != NULL) {
		fputs("{\"yaml\":", f);
		json_text(f, text, len);
		fputs(",\"source\":", f);
		json_text(f, app->cfg_source, strlen(app->cfg_source));
		fputc('}', f);
		fflush(f);
		if (!ferror(f) && ftell(f) < (long)cap)
			n = (int)ftell(f);
		fclose(f);
	}
	free(text);
	return n;
}

/* A view's own text: the canonical dump of @p cfg's view @p i alone, without rules. */
static char *
view_text(const struct sl_config *cfg, uint32_t i, size_t *len)
{
	struct sl_config one = *cfg;
	char *buf = NULL;
	FILE *f;

	one.views = &cfg->views[i];
	one.n_views = 1;
	one.rules = NULL;
	one.n_rules = 0;
	f = open_memstream(&buf, len);
	if (f == NULL)
		return NULL;
	if (sl_config_dump(&one, f) != 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/*
 * Is view @p ia of the running config @p ca unchanged as view @p ib of @p cb?
 * Same text (the rules behind its tags may change: a new rule set is hot
 * swapped under running views), same set-member limit, and the same tag
 * numbers (its plan holds them as a bit mask).
 */
static bool
view_unchanged(const struct sl_config *ca, uint32_t ia, const struct sl_config *cb, uint32_t ib)
{
	const struct sl_config_view *a = &ca->views[ia];
	char *ta, *tb;
	size_t la = 0, lb = 0;
	bool same;

	if (strcmp(a->name, cb->views[ib].name) != 0 ||
	    ca->limits.max_set_members != cb->limits.max_set_members)
		return false;
	for (uint32_t c = 0; c < a->n_where; c++) {
		if (strcmp(a->where[c].dim, "tags") != 0)
			continue;
		for (uint32_t k = 0; k < ca->n_tags; k++)
			if (sl_config_tag_index(cb, ca->tags[k]) != (int)k)
				return false;
	}
	ta = view_text(ca, ia, &la);
	tb = view_text(cb, ib, &lb);
	same = ta != NULL && tb != NULL && la == lb && memcmp(ta, tb, la) == 0;
	free(ta);
	free(tb);
	return same;
}

/* What the storage thread does for a reload: register the new views, add their slots. */
struct reload_store {
	struct app *app;
	struct sl_config *cfg;
	const uint32_t *idx;       /* new views: their index in cfg */
	struct sl_vmerge_view *vv; /* their merge views (ids filled here) */
	uint32_t n;
};

static int view_register_one(struct app *app, const struct sl_config *cfg, uint32_t i,
			     uint32_t *ret_id);
static int vview_setup(struct app *app, const struct sl_config *cfg, struct sl_worker *w,
		       const struct sl_config_view *cv, const struct sl_view_plan *plan,
		       uint32_t slot, struct sl_vwin_view *vv, bool log);
static int plan_keep(struct app *app, struct sl_view_plan *p);
static int retire_cfg(struct app *app, struct sl_config *cfg);

static int
reload_on_storage(void *arg)
{
	struct reload_store *r = arg;

	for (uint32_t k = 0; k < r->n; k++) {
		int rc = view_register_one(r->app, r->cfg, r->idx[k], &r->vv[k].id);

		if (rc != 0)
			return rc;
	}
	return sl_vmerge_add_views(r->app->vmerge, r->vv, r->n);
}

static int
cmd_config_apply(const char *cmd, const char *args, char *out, size_t cap, void *arg)
{
	struct app *app = arg;
	struct sl_config *cfg = NULL, *old = app->cfg;
	struct sl_config_error err;
	struct sl_view_plan **plans = NULL;
	struct sl_vmerge_view *vv = NULL, *nvv = NULL;
	struct sl_worker_reload *wr = NULL;
	uint32_t *idx = NULL, *slot = NULL, n_new = 0;
	int32_t *from = NULL, *rfrom = NULL;
	struct sl_rules *nrules = NULL;
	bool all_acked = true;
	char *yaml = NULL, msg[512];
	size_t len;
	FILE *f = NULL;
	int rc, n = -1;

	(void)cmd;
	if (app->vmerge == NULL || app->merge == NULL)
		return snprintf(out, cap, "{\"ok\":false,\"error\":\"not running\"}");
	rc = json_unquote(args, &yaml, &len);
	if (rc != 0)
		return snprintf(out, cap, "{\"ok\":false,\"error\":\"%s\"}",
				rc == -ENOMEM ? "out of memory"
					      : "expected the YAML text as one JSON string");
	rc = sl_config_load_string(yaml, len, "<config_apply>", &cfg, &err);
	free(yaml);
	if (rc != 0) {
		FILE *e = fmemopen(msg, sizeof(msg), "w");

		if (e != NULL) {
			sl_config_error_print(&err, e);
			fclose(e);
		}
		msg[sizeof(msg) - 1] = '\0';
		msg[strcspn(msg, "\n")] = '\0';
		f = fmemopen(out, cap, "w");
		if (f == NULL)
			return -1;
		fputs("{\"ok\":false,\"error\":", f);
		json_text(f, msg, strlen(msg));
		fputc('}', f);
		goto reply;
	}
	plans = calloc(cfg->n_views + 1, sizeof(*plans));
	nvv = calloc(cfg->n_views + 1, sizeof(*nvv));
	vv = calloc(cfg->n_views + 1, sizeof(*vv));
	idx = calloc(cfg->n_views + 1, sizeof(*idx));
	slot = calloc(cfg->n_views + 1, sizeof(*slot));
	from = calloc(cfg->n_views + 1, sizeof(*from));
	wr = calloc(app->n_workers, sizeof(*wr));
	if (plans == NULL || nvv == NULL || vv == NULL || idx == NULL || slot == NULL ||
	    from == NULL || wr == NULL) {
		snprintf(msg, sizeof(msg), "out of memory");
		goto refuse;
	}
	/* Kept views keep their plan and slot; the others get new ones. */
	for (uint32_t i = 0; i < cfg->n_views; i++) {
		const struct sl_config_view *v = &cfg->views[i];

		from[i] = -1;
		for (uint32_t j = 0; j < old->n_views; j++)
			if (view_unchanged(old, j, cfg, i))
				from[i] = (int32_t)j;
		if (from[i] >= 0) {
			plans[i] = app->plans[from[i]];
			slot[i] = app->vslot[from[i]];
			nvv[i] = app->vviews[from[i]];
			continue;
		}
		rc = sl_view_plan_create(v, &(struct sl_view_plan_params){ .cfg = cfg }, &plans[i]);
		if (rc != 0 || sl_view_plan_group_size(plans[i]) > LIVE_BLOCK_MAX ||
		    sl_vwin_slots_needed(v->window_slide_ns, v->allowed_lateness_ns) >
			    SL_VWIN_SLOTS_MAX) {
			snprintf(msg, sizeof(msg), "view '%s' cannot run: %s", v->name,
				 rc != 0 ? strerror(-rc) : "state or lateness too large");
			sl_view_plan_destroy(plans[i]); /* not in idx[] yet */
			goto refuse;
		}
		if (app->n_slots + n_new >= SL_VIEW_SLOTS_MAX) {
			snprintf(msg, sizeof(msg), "no view slot left (%u over this process's life): "
				 "restart sluiced", SL_VIEW_SLOTS_MAX);
			sl_view_plan_destroy(plans[i]);
			goto refuse;
		}
		slot[i] = app->n_slots + n_new;
		vv[n_new].plan = plans[i];
		vv[n_new].slide_ns = v->window_slide_ns;
		vv[n_new].retention_ns = v->retention_ns;
		idx[n_new++] = i;
	}
	/* The new rule set; the hit counts of unchanged rules carry over. */
	if (cfg->n_rules > 0 && sl_rules_compile(cfg, &nrules, msg, sizeof(msg)) != 0)
		goto refuse;
	rfrom = calloc(cfg->n_rules + 1, sizeof(*rfrom));
	if (rfrom == NULL) {
		snprintf(msg, sizeof(msg), "out of memory");
		goto refuse;
	}
	for (uint32_t i = 0; i < cfg->n_rules; i++) {
		const struct sl_config_rule *a = &cfg->rules[i];

		rfrom[i] = -1;
		for (uint32_t j = 0; app->rules != NULL && j < old->n_rules; j++) {
			const struct sl_config_rule *b = &old->rules[j];

			if (strcmp(a->id, b->id) == 0 && strcmp(a->pattern, b->pattern) == 0 &&
			    a->flags == b->flags && a->action == b->action && a->on_raw == b->on_raw &&
			    (a->on_raw || strcmp(a->on, b->on) == 0))
				rfrom[i] = (int32_t)j;
		}
	}
	/* Per worker: the new views array, new views with their tables. */
	for (unsigned int wi = 0; wi < app->n_workers; wi++) {
		struct sl_worker *w = &app->workers[wi];

		wr[wi].rules = nrules;
		wr[wi].rule_from = rfrom;
		if (nrules != NULL &&
		    ((wr[wi].rule_hits = calloc(cfg->n_rules, sizeof(uint64_t))) == NULL ||
		     sl_rules_scratch_alloc(nrules, &wr[wi].rules_scratch) != 0)) {
			snprintf(msg, sizeof(msg), "out of memory for the rules");
			goto refuse;
		}

		wr[wi].v = rte_zmalloc_socket("sl_vwin", sizeof(*wr[wi].v) * (cfg->n_views + 1),
					      RTE_CACHE_LINE_SIZE, (int)w->socket);
		if (wr[wi].v == NULL) {
			snprintf(msg, sizeof(msg), "out of memory");
			goto refuse;
		}
		wr[wi].n_views = cfg->n_views;
		for (uint32_t i = 0; i < cfg->n_views; i++) {
			wr[wi].from[i] = from[i];
			if (from[i] < 0 &&
			    vview_setup(app, cfg, w, &cfg->views[i], plans[i], slot[i], &wr[wi].v[i],
					wi == 0) != 0) {
				snprintf(msg, sizeof(msg), "cannot set up view '%s' (see the log)",
					 cfg->views[i].name);
				goto refuse;
			}
		}
		wr[wi].n_inputs = (uint16_t)cfg->n_inputs;
		for (uint32_t k = 0; k < cfg->n_inputs; k++) {
			wr[wi].in_port[k] = cfg->inputs[k].port;
			wr[wi].in_format[k] = (uint8_t)cfg->inputs[k].format;
		}
	}
	/* The storage thread registers the new views before any worker uses them. */
	{
		struct reload_store *rs = calloc(1, sizeof(*rs));

		if (rs == NULL) {
			snprintf(msg, sizeof(msg), "out of memory");
			goto refuse;
		}
		*rs = (struct reload_store){ app, cfg, idx, vv, n_new };
		rc = sl_merge_call(app->merge, reload_on_storage, rs, 5000);
		if (rc == -ETIMEDOUT) {
			/* It may still run: rs, cfg, plans and vv stay allocated for it. */
			MAIN_LOG(ERR, "config_apply: the storage thread did not answer\n");
			f = fmemopen(out, cap, "w");
			if (f == NULL)
				return -1;
			fputs("{\"ok\":false,\"error\":\"the storage thread did not answer\"}", f);
			goto reply;
		}
		free(rs);
		if (rc != 0) {
			snprintf(msg, sizeof(msg), "cannot register the new views: %s", strerror(-rc));
			goto refuse;
		}
	}
	for (uint32_t k = 0; k < n_new; k++)
		nvv[idx[k]] = vv[k];
	app->n_slots += n_new;
	/* Swap every worker between two polls; wait for all. */
	for (unsigned int wi = 0; wi < app->n_workers; wi++) {
		struct sl_worker *w = &app->workers[wi];

		wr[wi].old = w->vw.v;
		wr[wi].old_scratch = w->rules_scratch;
		wr[wi].old_hits = w->rule_hits;
		w->reload = &wr[wi];
		__atomic_store_n(&w->reload_seq, w->reload_seq + 1, __ATOMIC_RELEASE);
	}
	for (unsigned int wi = 0; wi < app->n_workers; wi++) {
		struct sl_worker *w = &app->workers[wi];

		while (__atomic_load_n(&w->running, __ATOMIC_ACQUIRE) &&
		       __atomic_load_n(&w->reload_ack, __ATOMIC_ACQUIRE) != w->reload_seq) {
			struct timespec ts = { 0, 200000 };

			nanosleep(&ts, NULL);
		}
		/* The worker no longer reads its old array, scratch and counters. */
		if (__atomic_load_n(&w->reload_ack, __ATOMIC_ACQUIRE) == w->reload_seq) {
			rte_free(wr[wi].old);
			sl_rules_scratch_free(wr[wi].old_scratch);
			free(wr[wi].old_hits);
		} else {
			all_acked = false;
		}
	}
	f = fmemopen(out, cap, "w");
	if (f == NULL)
		return -1;
	fputs("{\"ok\":true,\"kept\":[", f);
	n = 0;
	for (uint32_t i = 0; i < cfg->n_views; i++)
		if (from[i] >= 0) {
			fputs(n++ ? "," : "", f);
			json_text(f, cfg->views[i].name, strlen(cfg->views[i].name));
		}
	fputs("],\"added\":[", f);
	n = 0;
	for (uint32_t k = 0; k < n_new; k++) {
		fputs(n++ ? "," : "", f);
		json_text(f, cfg->views[idx[k]].name, strlen(cfg->views[idx[k]].name));
	}
	fputs("],\"removed\":[", f);
	n = 0;
	for (uint32_t j = 0; j < old->n_views; j++) {
		bool kept = false;

		for (uint32_t i = 0; i < cfg->n_views; i++)
			kept |= from[i] == (int32_t)j;
		if (!kept) {
			fputs(n++ ? "," : "", f);
			json_text(f, old->views[j].name, strlen(old->views[j].name));
		}
	}
	fputs("]}", f);
	MAIN_LOG(INFO, "configuration applied: %u view(s), %u new\n", cfg->n_views, n_new);
	/* Plans live until exit (all_plans): pending slices may still use them. */
	if (retire_cfg(app, old) != 0)
		MAIN_LOG(WARNING, "config_apply: the previous configuration is not freed\n");
	for (uint32_t k = 0; k < n_new; k++)
		(void)plan_keep(app, plans[idx[k]]);
	free(app->plans);
	free(app->vviews);
	free(app->vslot);
	/* The old rule set: every worker moved on (else it stays, a stopped worker may hold it). */
	if (all_acked)
		sl_rules_free(app->rules);
	app->rules = nrules;
	app->cfg = cfg;
	app->plans = plans;
	app->vviews = nvv;
	app->vslot = slot;
	app->n_inputs = cfg->n_inputs;
	memcpy(app->inputs, cfg->inputs, cfg->n_inputs * sizeof(cfg->inputs[0]));
	snprintf(app->cfg_source, sizeof(app->cfg_source), "config_apply");
	free(wr);
	free(idx);
	free(vv);
	free(from);
	if (all_acked)
		free(rfrom); /* else a worker still to swap reads it */
	goto reply;
refuse:
	/* Nothing changed in the workers; tables mapped for new views stay listed in vtabs. */
	for (unsigned int wi = 0; wr != NULL && wi < app->n_workers; wi++) {
		rte_free(wr[wi].v);
		sl_rules_scratch_free(wr[wi].rules_scratch);
		free(wr[wi].rule_hits);
	}
	sl_rules_free(nrules);
	free(rfrom);
	for (uint32_t k = 0; plans != NULL && k < n_new; k++)
		sl_view_plan_destroy(plans[idx[k]]);
	free(plans);
	free(nvv);
	free(vv);
	free(idx);
	free(slot);
	free(from);
	free(wr);
	sl_config_free(cfg);
	f = fmemopen(out, cap, "w");
	if (f == NULL)
		return -1;
	fputs("{\"ok\":false,\"error\":", f);
	json_text(f, msg, strlen(msg));
	fputc('}', f);
reply:
	fflush(f);
	n = !ferror(f) && ftell(f) < (long)cap ? (int)ftell(f) : -1;
	fclose(f);
	return n;
}

/* Per-rule hit counts over every worker: {"rules":[{"id","action","on","tag","hits"}...]}. */
static int
cmd_rules(const char *cmd, const char *args, char *out, size_t cap, void *arg)
{
	struct app *app = arg;
	const struct sl_config *cfg = app->cfg;
	FILE *f = fmemopen(out, cap, "w");
	int n = -1;

	(void)cmd;
	(void)args;
	if (f == NULL)
		return -1;
	fputs("{\"rules\":[", f);
	for (uint32_t k = 0; cfg != NULL && app->rules != NULL && k < cfg->n_rules; k++) {
		const struct sl_config_rule *r = &cfg->rules[k];
		uint64_t hits = 0;

		for (unsigned int i = 0; i < app->n_workers; i++)
			if (k < app->workers[i].n_rules)
				hits += __atomic_load_n(&app->workers[i].rule_hits[k], __ATOMIC_RELAXED);
		fputs(k ? ",{\"id\":" : "{\"id\":", f);
		json_text(f, r->id, strlen(r->id));
		fprintf(f, ",\"action\":\"%s\",\"on\":", sl_config_rule_action_name(r->action));
		json_text(f, r->on_raw ? "raw" : r->on, strlen(r->on_raw ? "raw" : r->on));
		if (r->tag != NULL) {
			fputs(",\"tag\":", f);
			json_text(f, r->tag, strlen(r->tag));
		}
		fprintf(f, ",\"hits\":%" PRIu64 "}", hits);
	}
	fputs("]}", f);
	fflush(f);
	if (!ferror(f) && ftell(f) < (long)cap)
		n = (int)ftell(f);
	fclose(f);
	return n;
}

static int
cmd_ping(const char *cmd, const char *args, char *out, size_t cap, void *arg)
{
	(void)cmd;
	(void)args;
	(void)arg;
	return snprintf(out, cap, "{\"ok\":true,\"version\":\"%s\"}", SL_VERSION);
}

static const struct sl_ctl_cmd ctl_cmds[] = {
	{ "stats", "per-core counters: received, aggregated, drops by reason", cmd_stats },
	{ "ping", "liveness check", cmd_ping },
	{ "rules", "per-rule hit counts (summed over cores)", cmd_rules },
	{ "live", "live VIEW: the open windows of a view, merged across cores (query rows)", cmd_live },
	{ "config_show", "the running configuration: {\"yaml\", \"source\"}", cmd_config_show },
	{ "config_apply", "config_apply \"YAML\": validate and hot-reload views and inputs",
	  cmd_config_apply },
	{ NULL, NULL, NULL },
};

/* ---- DPDK telemetry: dpdk-telemetry.py shows /sluice/stats ---- */

static struct app *volatile tel_app;

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct app *app = tel_app;
	struct sl_dp_stats tot = { 0 };
	struct sl_merge_stats ms = { 0 };
	char name[64];

	(void)cmd;
	(void)params;
	if (app == NULL)
		return -EAGAIN;
	for (unsigned int i = 0; i < app->n_workers; i++)
		sl_worker_stats_read(&app->workers[i], &tot);
	if (app->merge != NULL)
		sl_merge_stats_read(app->merge, &ms);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "received", tot.received);
	rte_tel_data_add_dict_u64(d, "aggregated", tot.aggregated);
	rte_tel_data_add_dict_u64(d, "packets", tot.packets);
	rte_tel_data_add_dict_u64(d, "accepted", tot.accepted);
	rte_tel_data_add_dict_u64(d, "windows_committed", ms.windows_committed);
	rte_tel_data_add_dict_u64(d, "commit_errors", ms.commit_errors);
	for (unsigned int r = 0; r < SL_DROP__MAX; r++) {
		snprintf(name, sizeof(name), "drop_%s", sl_drop_reason_name(r));
		rte_tel_data_add_dict_u64(d, name, tot.drops[r]);
	}
	return 0;
}

/* ---- setup ---- */

static int
ptr_push(void ***arr, uint32_t *n, uint32_t *cap, void *p)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 16;
		void **na = realloc(*arr, c * sizeof(*na));

		if (na == NULL)
			return -ENOMEM;
		*arr = na;
		*cap = c;
	}
	(*arr)[(*n)++] = p;
	return 0;
}

static int
plan_keep(struct app *app, struct sl_view_plan *p)
{
	return ptr_push((void ***)&app->all_plans, &app->n_all_plans, &app->cap_all_plans, p);
}

static int
retire_cfg(struct app *app, struct sl_config *cfg)
{
	return ptr_push((void ***)&app->retired, &app->n_retired, &app->cap_retired, cfg);
}

/* Load the configuration (or the built-in one) and apply --statsd-port. */
static int
config_setup(struct app *app)
{
	struct sl_config_error err;
	struct sl_config *cfg;
	uint32_t k;
	int rc;

	if (app->conf.config_path != NULL)
		rc = sl_config_load_file(app->conf.config_path, &app->cfg, &err);
	else
		rc = sl_config_load_string(sl_config_default_yaml(), strlen(sl_config_default_yaml()),
					   "<built-in default>", &app->cfg, &err);
	if (rc != 0) {
		fputs("sluiced: ", stderr);
		sl_config_error_print(&err, stderr);
		return -EINVAL;
	}
	cfg = app->cfg;
	snprintf(app->cfg_source, sizeof(app->cfg_source), "%s",
		 app->conf.config_path != NULL ? app->conf.config_path : "built-in default");
	app->n_inputs = cfg->n_inputs;
	memcpy(app->inputs, cfg->inputs, cfg->n_inputs * sizeof(cfg->inputs[0]));
	if (app->conf.udp_port != 0) {
		for (k = 0; k < app->n_inputs; k++)
			if (app->inputs[k].port == app->conf.udp_port &&
			    app->inputs[k].format != SL_CONFIG_FORMAT_STATSD) {
				fprintf(stderr, "sluiced: --statsd-port %u is the %s input of the "
					"configuration\n", app->conf.udp_port,
					sl_config_format_name(app->inputs[k].format));
				return -EINVAL;
			}
		for (k = 0; k < app->n_inputs; k++)
			if (app->inputs[k].format == SL_CONFIG_FORMAT_STATSD)
				break;
		if (k == app->n_inputs) {
			if (app->n_inputs == SL_CONFIG_INPUTS_MAX) {
				fprintf(stderr, "sluiced: --statsd-port: the configuration already "
					"has %u inputs\n", SL_CONFIG_INPUTS_MAX);
				return -EINVAL;
			}
			app->n_inputs++;
			app->inputs[k].format = SL_CONFIG_FORMAT_STATSD;
		}
		app->inputs[k].port = app->conf.udp_port;
	}
	if (cfg->n_rules > 0) {
		char msg[512];

		rc = sl_rules_compile(cfg, &app->rules, msg, sizeof(msg));
		if (rc != 0) {
			fprintf(stderr, "sluiced: %s\n", msg);
			return rc;
		}
	}
	app->plans = calloc(cfg->n_views ? cfg->n_views : 1, sizeof(*app->plans));
	app->vviews = calloc(cfg->n_views ? cfg->n_views : 1, sizeof(*app->vviews));
	app->vslot = calloc(cfg->n_views ? cfg->n_views : 1, sizeof(*app->vslot));
	if (app->plans == NULL || app->vviews == NULL || app->vslot == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < cfg->n_views; i++)
		app->vslot[i] = i;
	for (uint32_t i = 0; i < cfg->n_views; i++) {
		const struct sl_config_view *v = &cfg->views[i];

		rc = sl_view_plan_create(v, &(struct sl_view_plan_params){ .cfg = cfg },
					 &app->plans[i]);
		if (rc != 0) {
			fprintf(stderr, "sluiced: view '%s': %s\n", v->name, strerror(-rc));
			return rc;
		}
		if (plan_keep(app, app->plans[i]) != 0) {
			sl_view_plan_destroy(app->plans[i]);
			app->plans[i] = NULL;
			return -ENOMEM;
		}
		if (sl_vwin_slots_needed(v->window_slide_ns, v->allowed_lateness_ns) >
		    SL_VWIN_SLOTS_MAX) {
			fprintf(stderr, "sluiced: view '%s': allowed_lateness is more than %u "
				"slides: raise the slide or lower the lateness\n", v->name,
				SL_VWIN_SLOTS_MAX - 2);
			return -EINVAL;
		}
		if (sl_view_plan_group_size(app->plans[i]) > LIVE_BLOCK_MAX) {
			fprintf(stderr, "sluiced: view '%s': a group's state takes %zu bytes, more "
				"than %u: fewer or smaller sketches\n", v->name,
				sl_view_plan_group_size(app->plans[i]), LIVE_BLOCK_MAX);
			return -EINVAL;
		}
		app->vviews[i].plan = app->plans[i];
		app->vviews[i].slide_ns = v->window_slide_ns;
		app->vviews[i].retention_ns = v->retention_ns;
	}
	return 0;
}

/*
 * The definition text of view @p i: a configuration holding only that view
 * and the rules that define the tags it filters on.
 */
static char *
view_def(const struct sl_config *cfg, uint32_t i, size_t *len)
{
	char *buf = NULL;
	FILE *f;

	f = open_memstream(&buf, len);
	if (f == NULL)
		return NULL;
	if (sl_config_dump_view(cfg, i, f) != 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* Can records written with view @p a be read and merged with the plan of @p b? */
static bool
view_compatible(const struct sl_config_view *a, const struct sl_config_view *b)
{
	if (a->n_group_by != b->n_group_by || a->n_aggs != b->n_aggs ||
	    a->window_slide_ns != b->window_slide_ns)
		return false;
	for (uint32_t i = 0; i < a->n_group_by; i++)
		if (strcmp(a->group_by[i], b->group_by[i]) != 0)
			return false;
	for (uint32_t i = 0; i < a->n_aggs; i++) {
		const struct sl_config_agg *x = &a->aggs[i], *y = &b->aggs[i];

		if (x->kind != y->kind || x->k != y->k || x->n_quantiles != y->n_quantiles ||
		    (x->field == NULL) != (y->field == NULL) ||
		    (x->field != NULL && strcmp(x->field, y->field) != 0) ||
		    memcmp(x->quantiles, y->quantiles, sizeof(x->quantiles)) != 0)
			return false;
	}
	return true;
}

static int
view_register_one(struct app *app, const struct sl_config *cfg, uint32_t i, uint32_t *ret_id)
{
	const struct sl_config_view *v = &cfg->views[i];
	struct sl_config *old = NULL;
	char *def, *olddef = NULL;
	size_t len, oldlen = 0;
	bool fresh = true;
	uint32_t id;
	int rc;

	def = view_def(cfg, i, &len);
	if (def == NULL)
		return -ENOMEM;
	rc = sl_store_view_lookup(app->store, v->name, &id, &olddef, &oldlen);
	if (rc == 0 && sl_config_load_string(olddef, oldlen, "stored view", &old, NULL) == 0 &&
	    old->n_views == 1)
		fresh = !view_compatible(&old->views[0], v);
	if (rc == 0 && fresh)
		MAIN_LOG(WARNING, "view '%s' changed its group_by, slide or aggregates: its records "
			 "start under a new id (the old ones stay)\n", v->name);
	sl_config_free(old);
	if (rc == 0 && !fresh && oldlen == len && memcmp(olddef, def, len) == 0)
		rc = 0; /* unchanged */
	else
		rc = sl_store_view_define(app->store, v->name, def, len, fresh, &id);
	free(olddef);
	free(def);
	if (rc != 0) {
		MAIN_LOG(ERR, "cannot register view '%s' in the database: %s (%s)\n", v->name,
			 strerror(-rc), sl_store_strerror(app->store));
		return rc;
	}
	*ret_id = id;
	return 0;
}

/*
 * Give every view its record id: the registered one when the stored
 * definition is compatible (its text is updated), a new one otherwise.
 */
static int
views_register(struct app *app)
{
	for (uint32_t i = 0; i < app->cfg->n_views; i++) {
		int rc = view_register_one(app, app->cfg, i, &app->vviews[i].id);

		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Per worker: the views' windows, slice tables (mmap()ed) and rings. */
static int
vtab_add(struct app *app, void *p, size_t len)
{
	if (app->n_vtabs == app->cap_vtabs) {
		uint32_t cap = app->cap_vtabs ? app->cap_vtabs * 2 : 256;
		struct vtab_mem *nv = realloc(app->vtabs, cap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		app->vtabs = nv;
		app->cap_vtabs = cap;
	}
	app->vtabs[app->n_vtabs].p = p;
	app->vtabs[app->n_vtabs++].len = len;
	return 0;
}

/*
 * Set up view @p cv (plan @p plan, slot @p slot) for worker @p w in @p vv:
 * windows, and its slice tables (mmap()ed: only the groups used take memory).
 */
static int
vview_setup(struct app *app, const struct sl_config *cfg, struct sl_worker *w,
	    const struct sl_config_view *cv, const struct sl_view_plan *plan, uint32_t slot,
	    struct sl_vwin_view *vv, bool log)
{
	struct sl_view_limits lim;
	bool distinct = false;
	uint32_t n_tabs;
	size_t sz;

	for (uint32_t a = 0; a < cv->n_aggs; a++)
		distinct |= cv->aggs[a].kind == SL_CONFIG_AGG_DISTINCT;
	lim.max_groups = cv->max_groups;
	lim.max_set_members = distinct ? cfg->limits.max_set_members : 0;
	lim.key_bytes = 0;
	sz = sl_view_table_memsize(plan, &lim);
	if (sz == 0 || sl_vwin_view_init(vv, plan, cv->window_slide_ns, cv->allowed_lateness_ns,
					 cv->time == SL_CONFIG_TIME_ARRIVAL, cv->keep_late) != 0) {
		MAIN_LOG(ERR, "view '%s': bad limits\n", cv->name);
		return -EINVAL;
	}
	vv->view_slot = slot;
	n_tabs = vv->n_slots + 4;
	if (w->n_vtabs + n_tabs >= VRING_SIZE) {
		MAIN_LOG(ERR, "view '%s': worker %u would hold more than %u slice tables\n",
			 cv->name, w->idx, VRING_SIZE - 1);
		return -ENOSPC;
	}
	if (log)
		MAIN_LOG(INFO, "view '%s' (slot %u): %u slice tables per worker, %.1f MiB each at "
			 "most (memory is taken as groups are used)\n", cv->name, slot, n_tabs,
			 (double)sz / (1 << 20));
	for (uint32_t k = 0; k < n_tabs; k++) {
		void *mem = mmap(NULL, sz, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (mem == MAP_FAILED) {
			MAIN_LOG(ERR, "view '%s': cannot map %zu bytes for a slice table: %s\n",
				 cv->name, sz, strerror(errno));
			return -ENOMEM;
		}
		if (vtab_add(app, mem, sz) != 0) {
			munmap(mem, sz);
			return -ENOMEM;
		}
		(void)sl_vwin_give(&(struct sl_vwin){ .n_views = 1, .v = vv }, 0,
				   sl_view_table_init(mem, plan, &lim));
		w->n_vtabs++;
	}
	return 0;
}

/* Per worker: the views' windows, slice tables, rings and live buffers. */
static int
views_setup(struct app *app)
{
	const struct sl_config *cfg = app->cfg;

	for (unsigned int wi = 0; wi < app->n_workers; wi++) {
		struct sl_worker *w = &app->workers[wi];
		char name[RTE_RING_NAMESIZE];

		w->vw.v = rte_zmalloc_socket("sl_vwin", sizeof(*w->vw.v) * (cfg->n_views + 1),
					     RTE_CACHE_LINE_SIZE, (int)w->socket);
		w->vpub = rte_zmalloc_socket("sl_vpub", sizeof(*w->vpub) * SL_VIEW_SLOTS_MAX,
					     RTE_CACHE_LINE_SIZE, (int)w->socket);
		for (uint32_t k = 0; w->vpub != NULL && k < SL_VIEW_SLOTS_MAX; k++)
			w->vpub[k].done_before = UINT64_MAX;
		w->vw.pub = w->vpub;
		snprintf(name, sizeof(name), "sl_vto_store_%u", wi);
		w->vto_store = rte_ring_create(name, VRING_SIZE, (int)w->socket,
					       RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "sl_vfrom_store_%u", wi);
		w->vfrom_store = rte_ring_create(name, VRING_SIZE, (int)w->socket,
						 RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "sl_late_%u", wi);
		w->late_ring = rte_ring_create_elem(name, sizeof(struct sl_vwin_note), SL_LATE_RING,
						    (int)w->socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->vw.v == NULL || w->vpub == NULL || w->vto_store == NULL ||
		    w->vfrom_store == NULL || w->late_ring == NULL) {
			MAIN_LOG(ERR, "cannot allocate the views of worker %u: %s\n", wi,
				 rte_strerror(rte_errno));
			return -ENOMEM;
		}
		if (app->rules != NULL) {
			w->n_rules = sl_rules_count(app->rules);
			w->rule_hits = calloc(w->n_rules, sizeof(*w->rule_hits));
			if (w->rule_hits == NULL ||
			    sl_rules_scratch_alloc(app->rules, &w->rules_scratch) != 0) {
				MAIN_LOG(ERR, "cannot allocate the rules scratch of worker %u\n", wi);
				return -ENOMEM;
			}
			w->rules = app->rules;
		}
		w->producers = rte_zmalloc_socket("sl_producers", sizeof(*w->producers),
						  RTE_CACHE_LINE_SIZE, (int)w->socket);
		if (w->producers == NULL)
			return -ENOMEM;
		sl_producers_init(w->producers);
		/* Live snapshots (ctl "live"): address space only until used. */
		w->live_cap = LIVE_BUF_BYTES;
		w->live_buf = mmap(NULL, w->live_cap, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		w->live_members_cap = SL_CONFIG_MAX_SET_MEMBERS_MAX;
		w->live_members = mmap(NULL, (size_t)w->live_members_cap * sizeof(uint64_t),
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		w->live_block = aligned_alloc(64, LIVE_BLOCK_MAX);
		if (w->live_buf == MAP_FAILED || w->live_members == MAP_FAILED ||
		    w->live_block == NULL) {
			w->live_buf = NULL;
			w->live_members = NULL;
			MAIN_LOG(ERR, "cannot allocate the live snapshot buffers of worker %u\n", wi);
			return -ENOMEM;
		}
		w->vw.n_views = cfg->n_views;
		for (uint32_t i = 0; i < cfg->n_views; i++) {
			int rc = vview_setup(app, cfg, w, &cfg->views[i], app->plans[i], app->vslot[i],
					     &w->vw.v[i], wi == 0);

			if (rc != 0)
				return rc;
		}
	}
	app->n_slots = cfg->n_views;
	app->vmerge = sl_vmerge_create(app->store, app->vviews, cfg->n_views,
				       cfg->limits.max_set_members);
	if (app->vmerge == NULL)
		return -ENOMEM;
	return 0;
}

static void
views_free(struct app *app)
{
	sl_vmerge_destroy(app->vmerge);
	for (uint32_t i = 0; i < app->n_vtabs; i++)
		munmap(app->vtabs[i].p, app->vtabs[i].len);
	free(app->vtabs);
	for (unsigned int i = 0; app->workers != NULL && i < app->n_workers; i++) {
		if (app->workers[i].live_buf != NULL)
			munmap(app->workers[i].live_buf, app->workers[i].live_cap);
		if (app->workers[i].live_members != NULL)
			munmap(app->workers[i].live_members,
			       (size_t)app->workers[i].live_members_cap * sizeof(uint64_t));
		free(app->workers[i].live_block);
		rte_ring_free(app->workers[i].vto_store);
		rte_ring_free(app->workers[i].vfrom_store);
		rte_ring_free(app->workers[i].late_ring);
		rte_free(app->workers[i].vw.v);
		rte_free(app->workers[i].vpub);
		rte_free(app->workers[i].producers);
		sl_rules_scratch_free(app->workers[i].rules_scratch);
		free(app->workers[i].rule_hits);
	}
	sl_rules_free(app->rules);
	for (uint32_t i = 0; i < app->n_all_plans; i++)
		sl_view_plan_destroy(app->all_plans[i]);
	free(app->all_plans);
	for (uint32_t i = 0; i < app->n_retired; i++)
		sl_config_free(app->retired[i]);
	free(app->retired);
	free(app->plans);
	free(app->vviews);
	free(app->vslot);
	sl_config_free(app->cfg);
}

static int
workers_setup(struct app *app)
{
	size_t tsz = sl_agg_table_memsize(&app->conf.lim);
	unsigned int lcore, i = 0;

	app->n_workers = rte_lcore_count() - 1;
	if (app->n_workers == 0) {
		MAIN_LOG(ERR, "no worker lcore: give the EAL at least two, e.g. -l 0-1 "
			      "(or --lcores 0@0,1@1,2@0,3@1 for more workers than CPUs)\n");
		return -EINVAL;
	}
	if (app->n_workers > SL_MAX_WORKERS) {
		MAIN_LOG(ERR, "%u worker lcores, at most %u\n", app->n_workers, SL_MAX_WORKERS);
		return -EINVAL;
	}
	if (tsz == 0) {
		MAIN_LOG(ERR, "bad table limits\n");
		return -EINVAL;
	}
	app->workers = rte_zmalloc("sl_workers", sizeof(struct sl_worker) * app->n_workers,
				   RTE_CACHE_LINE_SIZE);
	if (app->workers == NULL)
		return -ENOMEM;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct sl_worker *w = &app->workers[i];
		char name[RTE_RING_NAMESIZE];

		w->lcore = lcore;
		w->idx = i;
		w->socket = rte_lcore_to_socket_id(lcore);
		if (w->socket == (unsigned int)SOCKET_ID_ANY)
			w->socket = 0;
		w->n_inputs = (uint16_t)app->n_inputs;
		for (uint32_t k = 0; k < app->n_inputs; k++) {
			w->in_port[k] = app->inputs[k].port;
			w->in_format[k] = (uint8_t)app->inputs[k].format;
		}
		w->window_ns = app->conf.window_ns;
		w->idle_flush_ns = app->conf.idle_flush_ns != 0 ? app->conf.idle_flush_ns
				   : app->conf.window_ns < SL_NS_PER_SEC ? app->conf.window_ns
									 : SL_NS_PER_SEC;
		w->idle_sleep_us = app->conf.idle_sleep_us;
		w->time_mode = app->conf.time_mode;
		w->idle = 1;
		snprintf(name, sizeof(name), "sl_to_store_%u", i);
		w->to_store = rte_ring_create(name, SL_TABLES_PER_WORKER * 2, (int)w->socket,
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "sl_from_store_%u", i);
		w->from_store = rte_ring_create(name, SL_TABLES_PER_WORKER * 2, (int)w->socket,
						RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->to_store == NULL || w->from_store == NULL) {
			MAIN_LOG(ERR, "rte_ring_create(%s): %s\n", name, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		for (unsigned int k = 0; k < SL_TABLES_PER_WORKER; k++) {
			void *mem = rte_zmalloc_socket("sl_agg_table", tsz, RTE_CACHE_LINE_SIZE,
						       (int)w->socket);
			struct sl_agg_table *t;

			if (mem == NULL) {
				MAIN_LOG(ERR, "cannot allocate %zu bytes for a window table on "
					      "socket %u: lower --max-groups/--max-set-members or "
					      "give the EAL more memory (-m)\n", tsz, w->socket);
				return -ENOMEM;
			}
			t = sl_agg_table_init(mem, &app->conf.lim);
			if (k == 0)
				w->cur = t;
			else if (k == 1)
				w->spare = t;
			else
				(void)rte_ring_sp_enqueue(w->from_store, t);
		}
		i++;
	}
	return 0;
}

static void
workers_free(struct app *app)
{
	if (app->workers == NULL)
		return;
	for (unsigned int i = 0; i < app->n_workers; i++) {
		struct sl_worker *w = &app->workers[i];
		void *t = NULL;

		rte_free(w->cur);
		rte_free(w->spare);
		while (w->from_store != NULL && rte_ring_dequeue(w->from_store, &t) == 0)
			rte_free(t);
		while (w->to_store != NULL && rte_ring_dequeue(w->to_store, &t) == 0)
			rte_free(t);
		rte_ring_free(w->to_store);
		rte_ring_free(w->from_store);
	}
	rte_free(app->workers);
	app->workers = NULL;
}

static uint64_t
total_packets(const struct app *app)
{
	struct sl_dp_stats s = { 0 };

	for (unsigned int i = 0; i < app->n_workers; i++)
		sl_worker_stats_read(&app->workers[i], &s);
	return s.packets;
}

/* ---- XDP ---- */

/*
 * Every net_af_xdp port whose PMD loaded sluice's program (xdp_prog=): open
 * the program's maps, send the statsd port to the AF_XDP sockets (until then
 * the program passes everything to the kernel) and pin the maps for
 * sluicectl. A port running another program is left alone, with a warning;
 * a pin failure only costs sluicectl its view.
 */
static int
xdp_setup(struct app *app)
{
#ifdef SL_HAVE_XDP
	uint16_t port;

	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_dev_info info;
		char ifname[IF_NAMESIZE], err[512];
		int rc;

		if (rte_eth_dev_info_get(port, &info) != 0 || info.driver_name == NULL ||
		    strcmp(info.driver_name, "net_af_xdp") != 0)
			continue;
		if (info.if_index == 0 || if_indextoname(info.if_index, ifname) == NULL) {
			MAIN_LOG(WARNING, "port %u: no kernel interface, XDP not set up, ignoring\n",
				 port);
			continue;
		}
		rc = sl_xdp_adopt(ifname, &app->xdp[port], err, sizeof(err));
		if (rc == -EPROTO || rc == -ENOENT) {
			MAIN_LOG(WARNING, "port %u: %s; every packet goes to sluiced, ignoring\n",
				 port, err);
			continue;
		}
		if (rc == 0) {
			for (uint32_t k = 0; rc == 0 && k < app->n_inputs; k++)
				rc = sl_xdp_port_add(app->xdp[port], app->inputs[k].port);
			if (rc < 0)
				snprintf(err, sizeof(err), "cannot set the XDP UDP ports: %s",
					 strerror(-rc));
		}
		if (rc < 0) {
			MAIN_LOG(ERR, "port %u (%s): %s\n", port, ifname, err);
			return rc;
		}
		rc = sl_xdp_pin(app->xdp[port], app->conf.xdp_pin_dir, err, sizeof(err));
		if (rc < 0)
			MAIN_LOG(WARNING, "port %u (%s): %s; sluicectl xdp will not see it, "
				 "ignoring\n", port, ifname, err);
		{
			char list[SL_CONFIG_INPUTS_MAX * 6 + 1] = "";
			size_t off = 0;

			for (uint32_t k = 0; k < app->n_inputs; k++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u",
							k ? "," : "", app->inputs[k].port);
			MAIN_LOG(INFO, "port %u (%s): XDP sends UDP port(s) %s to sluiced%s%s\n",
				 port, ifname, list, rc == 0 ? ", maps pinned in " : "",
				 rc == 0 ? app->conf.xdp_pin_dir : "");
		}
	}
#else
	uint16_t port;

	(void)app;
	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(port, &info) == 0 && info.driver_name != NULL &&
		    strcmp(info.driver_name, "net_af_xdp") == 0)
			MAIN_LOG(WARNING, "port %u: sluiced was built without eBPF support: with "
				 "xdp_prog=sl_xdp.bpf.o no datagram reaches it\n", port);
	}
#endif
	return 0;
}

/*
 * Before the ports start: a net_af_xdp interface that still runs sluice's
 * program, left by a sluiced that did not exit cleanly, would make the PMD
 * fail (it attaches only where no program is). When no process holds the
 * program's maps open, nobody uses it: remove it. Otherwise another process
 * (another sluiced?) owns the interface: refuse.
 */
static int
xdp_precheck(void)
{
#ifdef SL_HAVE_XDP
	uint16_t port;

	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_dev_info info;
		char ifname[IF_NAMESIZE];
		struct sl_xdp *x = NULL;
		int n, rc;

		if (rte_eth_dev_info_get(port, &info) != 0 || info.driver_name == NULL ||
		    strcmp(info.driver_name, "net_af_xdp") != 0 || info.if_index == 0 ||
		    if_indextoname(info.if_index, ifname) == NULL ||
		    sl_xdp_adopt(ifname, &x, NULL, 0) != 0)
			continue;
		n = sl_xdp_users(x);
		rc = n == 0 ? sl_xdp_detach(x) : -EBUSY;
		sl_xdp_close(x);
		if (rc == 0) {
			MAIN_LOG(WARNING, "%s: removed sluice's XDP program left by a sluiced that "
				 "did not exit cleanly\n", ifname);
			continue;
		}
		if (n > 0)
			MAIN_LOG(ERR, "%s runs sluice's XDP program for %d other process(es): is "
				 "another sluiced running on it?\n", ifname, n);
		else
			MAIN_LOG(ERR, "%s still runs sluice's XDP program, left by a sluiced that "
				 "did not exit cleanly: remove it with 'sluicectl xdp detach --iface "
				 "%s' (or ip link set dev %s xdp off)\n", ifname, ifname, ifname);
		return -EBUSY;
	}
#endif
	return 0;
}

/* Unpin what only lives while sluiced runs (the lists stay for the next run). */
static void
xdp_release(struct app *app)
{
#ifdef SL_HAVE_XDP
	for (unsigned int i = 0; i < RTE_MAX_ETHPORTS; i++) {
		sl_xdp_release(app->xdp[i]);
		app->xdp[i] = NULL;
	}
#else
	(void)app;
#endif
}

int
main(int argc, char **argv)
{
	struct app app = {
		.conf = {
			.db = DEFAULT_DB,
			.ctl_socket = DEFAULT_SOCKET,
			.window_ns = 10 * SL_NS_PER_SEC,
			.udp_port = 0,
			.time_mode = SL_TIME_AUTO,
			.lim = { .max_groups = 16384, .max_set_members = 65536 },
			.xdp_pin_dir = DEFAULT_XDP_PIN_DIR,
		},
	};
	struct sl_port_conf pconf = { .nb_rxd = 1024 };
	struct sl_ctl *ctl = NULL;
	pthread_t storage_tid;
	bool storage_started = false;
	uint64_t last_pkts = 0, last_change;
	char err[256] = "";
	int rc, ret, exit_code = 1;
	unsigned int lcore;

	early_help(argc, argv);
	/*
	 * The storage thread allocates and frees tens of megabytes per window
	 * (merge maps, serialized records). Keep that memory in the heap instead
	 * of mmap/munmap per window: unmapping costs TLB shootdowns on every CPU,
	 * including the workers'.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 30);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "sluiced: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	argv[0] = (char *)"sluiced";
	if (parse_args(argc, argv, &app.conf) != 0) {
		rte_eal_cleanup();
		return 2;
	}
	app.start_ns = mono_ns();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (config_setup(&app) != 0) {
		exit_code = 2;
		goto out;
	}
	if (workers_setup(&app) != 0)
		goto out;
	pconf.n_mbufs = app.conf.n_mbufs;
	if (xdp_precheck() != 0)
		goto out;
	rc = sl_port_setup_all(&pconf, app.workers, app.n_workers, err, sizeof(err));
	if (rc < 0) {
		MAIN_LOG(ERR, "%s\n", err);
		goto out;
	}
	if (xdp_setup(&app) != 0)
		goto out;
	rc = sl_store_open(app.conf.db, app.conf.map_size, 0, &app.store);
	if (rc != 0) {
		MAIN_LOG(ERR, "cannot open the database in %s: %s%s\n", app.conf.db, strerror(-rc),
			 rc == -EPROTO ? " (written by an incompatible version of sluice)" : "");
		goto out;
	}
	app.merge = sl_merge_create(app.workers, app.n_workers, app.store,
				    app.conf.lim.max_set_members);
	if (app.merge == NULL) {
		MAIN_LOG(ERR, "cannot create the storage state: %s\n", strerror(errno));
		goto out;
	}
	if (views_register(&app) != 0 || views_setup(&app) != 0) {
		MAIN_LOG(ERR, "cannot set up the views\n");
		goto out;
	}
	sl_merge_set_views(app.merge, app.vmerge);
	rc = sl_ctl_open(app.conf.ctl_socket, ctl_cmds, &app, &ctl);
	if (rc != 0) {
		MAIN_LOG(ERR, "cannot listen on %s: %s\n", app.conf.ctl_socket, strerror(-rc));
		goto out;
	}
	if (app.conf.ctl_group != NULL) {
		struct group *gr = getgrnam(app.conf.ctl_group);

		rc = gr == NULL ? -ENOENT : sl_ctl_set_group(ctl, gr->gr_gid);
		if (rc != 0) {
			MAIN_LOG(ERR, "--ctl-group %s: %s\n", app.conf.ctl_group,
				 gr == NULL ? "no such group" : strerror(-rc));
			goto out;
		}
	}

	for (unsigned int i = 0; i < app.n_workers; i++)
		app.workers[i].running = 1;
	rc = rte_ctrl_thread_create(&storage_tid, "sl-storage", NULL, sl_merge_thread, app.merge);
	if (rc != 0) {
		MAIN_LOG(ERR, "cannot start the storage thread: %s\n", strerror(rc));
		goto out;
	}
	storage_started = true;
	tel_app = &app;
	(void)rte_telemetry_register_cmd("/sluice/stats", tel_stats,
					 "sluice totals: received, aggregated, drops by reason");
	for (unsigned int i = 0; i < app.n_workers; i++)
		rte_eal_remote_launch(sl_worker_main, &app.workers[i], app.workers[i].lcore);
	MAIN_LOG(INFO, "%u worker(s), window %" PRIu64 " ms, db %s, control socket %s\n",
		 app.n_workers, app.conf.window_ns / 1000000, app.conf.db, app.conf.ctl_socket);

	last_change = mono_ns();
	while (!got_signal) {
		uint64_t now, pkts;

		sl_ctl_poll(ctl, 100);
		now = mono_ns();
		pkts = total_packets(&app);
		if (pkts != last_pkts) {
			last_pkts = pkts;
			last_change = now;
		}
		if (app.conf.exit_when_idle_ns > 0 && now - last_change >= app.conf.exit_when_idle_ns) {
			MAIN_LOG(INFO, "idle for %.1f s, closing every window\n",
				 (double)app.conf.exit_when_idle_ns / 1e9);
			break;
		}
	}
	if (got_signal)
		MAIN_LOG(INFO, "signal %d, closing every window\n", (int)got_signal);
	exit_code = 0;

out:
	sl_force_quit = 1;
	RTE_LCORE_FOREACH_WORKER(lcore)
		rte_eal_wait_lcore(lcore);
	if (storage_started) {
		/* Keep answering requests while the last windows are written. */
		while (pthread_tryjoin_np(storage_tid, NULL) != 0) {
			if (ctl != NULL) {
				sl_ctl_poll(ctl, 10);
			} else {
				struct timespec ts = { 0, 10000000 };

				nanosleep(&ts, NULL);
			}
		}
		{
			struct sl_merge_stats ms;
			struct sl_dp_stats s = { 0 };

			sl_merge_stats_read(app.merge, &ms);
			for (unsigned int i = 0; i < app.n_workers; i++)
				sl_worker_stats_read(&app.workers[i], &s);
			MAIN_LOG(INFO, "received %" PRIu64 " events in %" PRIu64 " packets, aggregated %"
				 PRIu64 ", committed %" PRIu64 " windows (%" PRIu64 " records), %"
				 PRIu64 " commit errors\n", s.received, s.packets, s.aggregated,
				 ms.windows_committed, ms.records_written, ms.commit_errors);
			if (ms.commit_errors > 0)
				exit_code = 1;
			for (uint32_t i = 0; app.vmerge != NULL && i < app.cfg->n_views; i++) {
				struct sl_vwin_stats vs = { 0 };

				for (unsigned int k = 0; k < app.n_workers; k++)
					sl_vwin_stats_read(&app.workers[k].vpub[app.vslot[i]],
							   &vs);
				MAIN_LOG(INFO, "view '%s': matched %" PRIu64 ", aggregated %" PRIu64
					 ", late %" PRIu64 ", dropped %" PRIu64 ", overflow %" PRIu64
					 "\n", app.cfg->views[i].name, vs.matched, vs.aggregated,
					 vs.late, vs.dropped, vs.overflow_events);
			}
			if (app.vmerge != NULL) {
				struct sl_vmerge_stats vm;

				sl_vmerge_stats_read(app.vmerge, &vm);
				MAIN_LOG(INFO, "views: committed %" PRIu64 " slices (%" PRIu64
					 " amended, %" PRIu64 " late count updates, %" PRIu64
					 " records), %" PRIu64 " commit errors\n", vm.slices_committed,
					 vm.slices_amended, vm.late_updates, vm.records_written,
					 vm.commit_errors);
				if (vm.commit_errors > 0)
					exit_code = 1;
			}
		}
	}
	tel_app = NULL;
	sl_ctl_close(ctl);
	sl_merge_destroy(app.merge);
	xdp_release(&app);
	sl_port_close_all();
	views_free(&app);
	sl_store_close(app.store);
	workers_free(&app);
	rte_eal_cleanup();
	return exit_code;
}
