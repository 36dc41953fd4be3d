/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * sluice-kbase: the kernel-socket baseline.
 *
 * What a receiver built from sluice's own code looks like when it takes
 * datagrams from the kernel instead of from a DPDK queue: the same statsd
 * parser (sl_statsd_next_line / sl_statsd_parse_line), the same window table
 * (sl_agg_table_update), the same tumbling wall-clock windows aligned to the
 * Unix epoch, and the same LMDB records (one durable write transaction per
 * window, view 0, canonical group key -> sl_agg_state_serialize() bytes, sets
 * as an sl_agg_set built from the table's member hashes), so that
 * `sluicectl metrics` reads its database exactly like sluiced's.
 *
 * The difference is the path in: one UDP socket, recvmmsg() in batches of
 * SL_KB_BATCH into buffers allocated once at start. Everything runs on one
 * thread ("one core"): receive, parse, aggregate, and, when a batch arrives
 * after the open window's end (or the receive timeout notices the wall clock
 * passed it), the commit of the closed window, inline. A kernel-path receiver
 * that wanted to overlap the commit with receiving would need a second table
 * and a second thread, i.e. a second core: sluiced does that with its storage
 * thread. Here the socket buffer (--rcvbuf) absorbs arrivals during a commit;
 * what it cannot absorb the kernel drops and counts (socket_drops).
 *
 * Accounting, as in sluiced: an event is a statsd line of a received datagram
 * (or a whole datagram rejected before parsing, e.g. truncated: "oversize"),
 * and received == aggregated + sum(drops). Datagrams the kernel dropped before
 * we read them (socket buffer full) are reported apart as socket_drops: they
 * are datagrams, not events, and their lines are unknown.
 *
 * Single-threaded; everything belongs to main(). The only asynchronous
 * writer is the signal handler, which sets a flag.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sluice/common.h>

#include "agg.h"
#include "config.h"
#include "parse.h"
#include "store.h"

/** Datagrams per recvmmsg() call. */
#define SL_KB_BATCH 64
/** Receive buffer per datagram: the largest UDP payload fits. */
#define SL_KB_DGRAM_MAX 65536
/** Longest the receive loop blocks, so windows close and idleness is seen on time. */
#define SL_KB_POLL_NS (100 * 1000000ULL)

struct kb_conf {
	const char *listen;
	const char *db;
	const char *stats_json;
	uint64_t window_ns;
	uint64_t exit_when_idle_ns;
	uint64_t map_size;
	uint64_t rcvbuf;
	int cpu;
	struct sl_agg_limits lim;
};

/** Counters; plain integers, main thread only. */
struct kb_stats {
	uint64_t packets;       /**< Datagrams read from the socket. */
	uint64_t bytes;
	uint64_t received;      /**< Events: lines + datagrams rejected whole. */
	uint64_t aggregated;
	uint64_t drops[SL_DROP__MAX];
	uint64_t socket_drops;  /**< Datagrams the kernel dropped (SO_RXQ_OVFL). */
	uint64_t windows_committed;
	uint64_t records_written;
	uint64_t commit_errors;
	uint64_t records_lost;
	uint64_t commit_ns;     /**< Time spent committing, total. */
	uint64_t commit_ns_max;
};

/** One record being serialized: offsets into the value buffer until the walk ends. */
struct kb_rec {
	const uint8_t *key;
	uint32_t key_len;
	uint32_t val_len;
	size_t val_off;
};

/** The committer: buffers sized at start, grown only for set values. */
struct kb_commit {
	struct sl_store *store;
	uint64_t *scratch;       /* member hashes for sl_agg_table_walk() */
	uint32_t scratch_cap;
	struct kb_rec *recs;     /* max_groups entries */
	struct sl_store_rec *srecs;
	uint32_t n;
	uint8_t *vals;
	size_t vals_cap;
	size_t vals_len;
	int oom;
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
		"Usage: sluice-kbase [options]\n"
		"\n"
		"The kernel-socket baseline: sluice's statsd parser, window tables and LMDB\n"
		"commit behind recvmmsg() on one UDP socket, on one thread. Its database reads\n"
		"with `sluicectl metrics --db DIR` like sluiced's.\n"
		"\n"
		"Options:\n"
		"  --listen ADDR:PORT      UDP address to bind, IPv4 or [IPv6]:PORT\n"
		"                          (default 127.0.0.1:8125)\n"
		"  --db DIR                LMDB directory (default ./kbase-db)\n"
		"  --window DURATION       window length: 10s, 500ms, 1m, ... (default 10s)\n"
		"  --exit-when-idle SECS   after SECS without datagrams, commit the open window\n"
		"                          and exit 0 (default 0: never). SIGINT/SIGTERM do the same\n"
		"  --max-groups N          group keys per window (default 16384)\n"
		"  --max-set-members N     distinct set members per window (default 65536)\n"
		"  --map-size BYTES        LMDB map size, suffixes K M G (default 1G)\n"
		"  --rcvbuf BYTES          socket receive buffer, suffixes K M G (default 8M;\n"
		"                          SO_RCVBUFFORCE as root, else capped by net.core.rmem_max)\n"
		"  --cpu N                 pin the process to CPU N\n"
		"  --stats-json FILE       at exit, write the counters as JSON to FILE\n"
		"  -h, --help              this help\n");
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
parse_args(int argc, char **argv, struct kb_conf *c)
{
	enum { O_LISTEN = 256, O_DB, O_WINDOW, O_IDLE, O_GROUPS, O_MEMBERS, O_MAP, O_RCVBUF,
	       O_CPU, O_STATS };
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "db", required_argument, NULL, O_DB },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "exit-when-idle", required_argument, NULL, O_IDLE },
		{ "max-groups", required_argument, NULL, O_GROUPS },
		{ "max-set-members", required_argument, NULL, O_MEMBERS },
		{ "map-size", required_argument, NULL, O_MAP },
		{ "rcvbuf", required_argument, NULL, O_RCVBUF },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "stats-json", required_argument, NULL, O_STATS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *bad = NULL;
		double secs;
		char *end;

		switch (opt) {
		case O_LISTEN:
			c->listen = optarg;
			break;
		case O_DB:
			c->db = optarg;
			break;
		case O_WINDOW:
			if (parse_duration(optarg, &c->window_ns) != 0)
				bad = "--window: expected a duration from 1ms to 24h such as 10s, 500ms, 1m";
			break;
		case O_IDLE:
			errno = 0;
			secs = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || secs < 0 || secs > 86400)
				bad = "--exit-when-idle: expected seconds from 0 to 86400";
			else
				c->exit_when_idle_ns = (uint64_t)(secs * 1e9);
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
		case O_RCVBUF:
			if (sl_config_size_parse(optarg, 4096, 1u << 30, &v) != 0)
				bad = "--rcvbuf: expected 4K..1G";
			else
				c->rcvbuf = v;
			break;
		case O_CPU:
			if (sl_config_size_parse(optarg, 0, CPU_SETSIZE - 1, &v) != 0)
				bad = "--cpu: expected a CPU number";
			else
				c->cpu = (int)v;
			break;
		case O_STATS:
			c->stats_json = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (bad != NULL) {
			fprintf(stderr, "sluice-kbase: %s (got '%s')\n", bad, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-kbase: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	/* Same key storage as sluiced gives a core. */
	c->lim.key_bytes = c->lim.max_groups * 64u < SL_KEY_MAX ? SL_KEY_MAX
								: c->lim.max_groups * 64u;
	return 0;
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- socket ---- */

/** Bind a UDP socket to "ADDR:PORT" or "[ADDR6]:PORT". @return fd or -1 (logged). */
static int
kb_socket_open(const struct kb_conf *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char host[256];
	const char *port, *colon;
	struct timeval tv = { 0, (long)(SL_KB_POLL_NS / 1000) };
	int fd = -1, one = 1, rc, sz;
	socklen_t sl = sizeof(sz);

	if (c->listen[0] == '[') {
		const char *rb = strchr(c->listen, ']');

		if (rb == NULL || rb[1] != ':' || (size_t)(rb - c->listen - 1) >= sizeof(host))
			goto bad_addr;
		memcpy(host, c->listen + 1, (size_t)(rb - c->listen - 1));
		host[rb - c->listen - 1] = '\0';
		port = rb + 2;
	} else {
		colon = strrchr(c->listen, ':');
		if (colon == NULL || (size_t)(colon - c->listen) >= sizeof(host))
			goto bad_addr;
		memcpy(host, c->listen, (size_t)(colon - c->listen));
		host[colon - c->listen] = '\0';
		port = colon + 1;
	}
	if (port[0] == '\0')
		goto bad_addr;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "sluice-kbase: --listen %s: %s\n", c->listen, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "sluice-kbase: socket(): %s\n", strerror(errno));
		goto err;
	}
	/* As root, SO_RCVBUFFORCE goes past net.core.rmem_max; else the kernel caps it. */
	sz = c->rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)c->rcvbuf;
	if (geteuid() != 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) != 0)
			fprintf(stderr, "sluice-kbase: setsockopt(SO_RCVBUF): %s, ignoring\n",
				strerror(errno));
	/* The kernel's drop counter of this socket comes with each datagram. */
	if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) != 0)
		fprintf(stderr, "sluice-kbase: setsockopt(SO_RXQ_OVFL): %s, ignoring\n",
			strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		fprintf(stderr, "sluice-kbase: setsockopt(SO_RCVTIMEO): %s\n", strerror(errno));
		goto err;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		fprintf(stderr, "sluice-kbase: bind(%s): %s\n", c->listen, strerror(errno));
		goto err;
	}
	{
		struct sockaddr_storage ss;
		socklen_t al = sizeof(ss);
		char h[NI_MAXHOST] = "?", p[NI_MAXSERV] = "?";

		/* The bound address, so that port 0 (any free port) is usable. */
		if (getsockname(fd, (struct sockaddr *)&ss, &al) == 0)
			(void)getnameinfo((struct sockaddr *)&ss, al, h, sizeof(h), p, sizeof(p),
					  NI_NUMERICHOST | NI_NUMERICSERV);
		if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, &sl) != 0)
			sz = -1;
		fprintf(stderr, "sluice-kbase: listening on %s%s%s:%s, SO_RCVBUF %d bytes\n",
			ss.ss_family == AF_INET6 ? "[" : "", h, ss.ss_family == AF_INET6 ? "]" : "", p,
			sz);
	}
	freeaddrinfo(ai);
	return fd;

bad_addr:
	fprintf(stderr, "sluice-kbase: --listen: expected ADDR:PORT or [ADDR6]:PORT (got '%s')\n",
		c->listen);
	return -1;
err:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

/*
 * The kernel's drop count for our socket from /proc/net/udp{,6}: the last
 * column of the line whose inode is the socket's. Returns 0 when not found.
 */
static uint64_t
proc_udp_drops(int fd)
{
	static const char *const files[] = { "/proc/net/udp", "/proc/net/udp6" };
	struct stat st;
	char line[512];

	if (fstat(fd, &st) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "r");

		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned long long inode, drops;
			char *tok, *save = NULL, *fields[16];
			int n = 0;

			for (tok = strtok_r(line, " \t\n", &save); tok != NULL && n < 16;
			     tok = strtok_r(NULL, " \t\n", &save))
				fields[n++] = tok;
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref ptr drops */
			if (n < 13 || sscanf(fields[9], "%llu", &inode) != 1 ||
			    inode != (unsigned long long)st.st_ino)
				continue;
			if (sscanf(fields[12], "%llu", &drops) == 1) {
				fclose(f);
				return drops;
			}
		}
		fclose(f);
	}
	return 0;
}

/* ---- commit ---- */

static int
commit_init(struct kb_commit *k, struct sl_store *store, const struct sl_agg_limits *lim)
{
	memset(k, 0, sizeof(*k));
	k->store = store;
	k->scratch_cap = lim->max_set_members;
	k->scratch = malloc((size_t)k->scratch_cap * sizeof(*k->scratch));
	k->recs = malloc((size_t)lim->max_groups * sizeof(*k->recs));
	k->srecs = malloc((size_t)lim->max_groups * sizeof(*k->srecs));
	/* Room for every group's header; sets grow it when they come. */
	k->vals_cap = (size_t)lim->max_groups * SL_AGG_SER_HDR;
	k->vals = malloc(k->vals_cap);
	if (k->scratch == NULL || k->recs == NULL || k->srecs == NULL || k->vals == NULL)
		return -ENOMEM;
	return 0;
}

static void
commit_fini(struct kb_commit *k)
{
	free(k->scratch);
	free(k->recs);
	free(k->srecs);
	free(k->vals);
}

static uint8_t *
vals_reserve(struct kb_commit *k, size_t len)
{
	if (k->vals_len + len > k->vals_cap) {
		size_t cap = k->vals_cap * 2;
		uint8_t *nv;

		while (cap < k->vals_len + len)
			cap *= 2;
		nv = realloc(k->vals, cap);
		if (nv == NULL)
			return NULL;
		k->vals = nv;
		k->vals_cap = cap;
	}
	return k->vals + k->vals_len;
}

/* sl_agg_table_walk() callback: serialize one group as sluiced's storage thread does. */
static void
commit_group(const uint8_t *key, uint32_t key_len, uint8_t type, const struct sl_agg_state *st,
	     const uint64_t *members, uint32_t n_members, void *arg)
{
	struct kb_commit *k = arg;
	struct sl_agg_set *set = NULL;
	struct kb_rec *r = &k->recs[k->n];
	uint8_t *out;

	if (type == SL_METRIC_SET) {
		set = sl_agg_set_create();
		if (set == NULL || sl_agg_set_add(set, members, n_members) != 0) {
			k->oom = 1;
			sl_agg_set_destroy(set);
			return;
		}
	}
	out = vals_reserve(k, sl_agg_state_serialized_size(set));
	if (out == NULL) {
		k->oom = 1;
	} else {
		r->key = key;
		r->key_len = key_len;
		r->val_off = k->vals_len;
		r->val_len = (uint32_t)sl_agg_state_serialize(type, st, set, out);
		k->vals_len += r->val_len;
		k->n++;
	}
	sl_agg_set_destroy(set);
}

/** Commit the table's window in one LMDB write transaction, then empty the table. */
static void
commit_table(struct kb_commit *k, struct sl_agg_table *t, struct kb_stats *s)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), dt, start, end;
	uint32_t core, groups = sl_agg_table_count(t);
	int rc = -ENOMEM;

	if (groups == 0)
		return;
	sl_agg_table_get_window(t, &start, &end, &core);
	k->n = 0;
	k->vals_len = 0;
	k->oom = 0;
	sl_agg_table_walk(t, k->scratch, k->scratch_cap, commit_group, k);
	if (!k->oom) {
		for (uint32_t i = 0; i < k->n; i++) {
			k->srecs[i].key = k->recs[i].key;
			k->srecs[i].key_len = k->recs[i].key_len;
			k->srecs[i].val = k->vals + k->recs[i].val_off;
			k->srecs[i].val_len = k->recs[i].val_len;
		}
		rc = sl_store_put_window(k->store, 0, start, end, k->srecs, k->n);
	}
	if (rc == 0) {
		s->windows_committed++;
		s->records_written += k->n;
	} else {
		fprintf(stderr, "sluice-kbase: commit of window %" PRIu64 " (%u records) failed: %s%s\n",
			start, groups, rc == -ENOMEM ? strerror(ENOMEM) : sl_store_strerror(k->store),
			k->oom ? " (out of memory serializing)" : "");
		s->commit_errors++;
		s->records_lost += groups;
	}
	sl_agg_table_reset(t);
	dt = clock_ns(CLOCK_MONOTONIC) - t0;
	s->commit_ns += dt;
	if (dt > s->commit_ns_max)
		s->commit_ns_max = dt;
}

/* ---- stats ---- */

static int
stats_write(const char *path, const struct kb_stats *s, uint64_t elapsed_ns)
{
	FILE *f = fopen(path, "w");
	uint64_t dsum = 0;

	if (f == NULL)
		return -errno;
	fprintf(f, "{\"received\":%" PRIu64 ",\"aggregated\":%" PRIu64 ",\"drops\":{", s->received,
		s->aggregated);
	for (unsigned int r = 0; r < SL_DROP__MAX; r++) {
		fprintf(f, "%s\"%s\":%" PRIu64, r ? "," : "", sl_drop_reason_name(r), s->drops[r]);
		dsum += s->drops[r];
	}
	fprintf(f,
		"},\"drops_total\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"socket_drops\":%" PRIu64 ",\"windows_committed\":%" PRIu64
		",\"records_written\":%" PRIu64 ",\"commit_errors\":%" PRIu64
		",\"records_lost\":%" PRIu64 ",\"commit_ns_total\":%" PRIu64
		",\"commit_ns_max\":%" PRIu64 ",\"elapsed_ns\":%" PRIu64 "}\n",
		dsum, s->packets, s->bytes, s->socket_drops, s->windows_committed,
		s->records_written, s->commit_errors, s->records_lost, s->commit_ns,
		s->commit_ns_max, elapsed_ns);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

/* ---- receive loop ---- */

/** Everything the loop touches, allocated once before the first datagram. */
struct kb_rx {
	struct mmsghdr msgs[SL_KB_BATCH];
	struct iovec iov[SL_KB_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	} ctl[SL_KB_BATCH];
	uint8_t *data; /* SL_KB_BATCH * SL_KB_DGRAM_MAX */
};

/* Parse and aggregate one datagram at time @p t (the sluiced worker's handle_datagram). */
static inline void
handle_datagram(struct sl_agg_table *t, const uint8_t *pl, uint32_t plen, uint64_t now,
		struct kb_stats *s)
{
	struct sl_statsd_event ev;
	const uint8_t *line;
	uint32_t off = 0, ll;

	while (sl_statsd_next_line(pl, plen, &off, &line, &ll)) {
		unsigned int rc = sl_statsd_parse_line(line, ll, &ev);

		s->received++;
		if (rc == SL_DROP__MAX)
			rc = sl_agg_table_update(t, &ev, now);
		if (rc == SL_DROP__MAX)
			s->aggregated++;
		else
			s->drops[rc]++;
	}
}

int
main(int argc, char **argv)
{
	struct kb_conf conf = {
		.listen = "127.0.0.1:8125",
		.db = "kbase-db",
		.window_ns = 10 * SL_NS_PER_SEC,
		.rcvbuf = 8u << 20,
		.cpu = -1,
		.lim = { .max_groups = 16384, .max_set_members = 65536 },
	};
	struct kb_stats st = { 0 };
	struct kb_commit kc = { 0 };
	struct kb_rx *rx = NULL;
	struct sl_store *store = NULL;
	struct sl_agg_table *table = NULL;
	void *tmem = NULL;
	struct sigaction sa;
	uint64_t t_start, last_rx, wall = 0, win_end = 0;
	size_t tsz;
	int fd = -1, rc, exit_code = 1;

	if (parse_args(argc, argv, &conf) != 0)
		return 2;
	if (conf.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(conf.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			fprintf(stderr, "sluice-kbase: sched_setaffinity(cpu %d): %s\n", conf.cpu,
				strerror(errno));
			return 1;
		}
	}

	tsz = sl_agg_table_memsize(&conf.lim);
	if (tsz == 0 || posix_memalign(&tmem, 64, tsz) != 0) {
		fprintf(stderr, "sluice-kbase: cannot allocate a window table of %zu bytes\n", tsz);
		goto out;
	}
	table = sl_agg_table_init(tmem, &conf.lim);
	rx = calloc(1, sizeof(*rx));
	if (rx != NULL)
		rx->data = malloc((size_t)SL_KB_BATCH * SL_KB_DGRAM_MAX);
	if (table == NULL || rx == NULL || rx->data == NULL) {
		fprintf(stderr, "sluice-kbase: out of memory\n");
		goto out;
	}
	rc = sl_store_open(conf.db, conf.map_size, 0, &store);
	if (rc != 0) {
		fprintf(stderr, "sluice-kbase: cannot open the store in %s: %s\n", conf.db,
			sl_store_strerror(NULL));
		goto out;
	}
	if (commit_init(&kc, store, &conf.lim) != 0) {
		fprintf(stderr, "sluice-kbase: out of memory\n");
		goto out;
	}
	fd = kb_socket_open(&conf);
	if (fd < 0)
		goto out;

	/* No SA_RESTART: a signal ends a blocked recvmmsg() at once. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (unsigned int i = 0; i < SL_KB_BATCH; i++) {
		rx->iov[i].iov_base = rx->data + (size_t)i * SL_KB_DGRAM_MAX;
		rx->iov[i].iov_len = SL_KB_DGRAM_MAX;
		rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
		rx->msgs[i].msg_hdr.msg_iovlen = 1;
		rx->msgs[i].msg_hdr.msg_control = rx->ctl[i].buf;
	}

	t_start = clock_ns(CLOCK_MONOTONIC);
	last_rx = t_start;
	while (!got_signal) {
		uint64_t now, mono;
		int n;

		for (unsigned int i = 0; i < SL_KB_BATCH; i++)
			rx->msgs[i].msg_hdr.msg_controllen = sizeof(rx->ctl[i].buf);
		/* Blocks for the first datagram (up to SO_RCVTIMEO), then takes what is queued. */
		n = recvmmsg(fd, rx->msgs, SL_KB_BATCH, MSG_WAITFORONE, NULL);

		/* The wall clock, once per batch, never backwards (as a sluiced worker). */
		now = clock_ns(CLOCK_REALTIME);
		if (now < wall)
			now = wall;
		wall = now;
		if (now >= win_end) {
			/* The closed window is committed before anything of the new one. */
			commit_table(&kc, table, &st);
			win_end = now - now % conf.window_ns + conf.window_ns;
			sl_agg_table_set_window(table, win_end - conf.window_ns, win_end, 0);
		}

		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				fprintf(stderr, "sluice-kbase: recvmmsg(): %s\n", strerror(errno));
				break;
			}
			mono = clock_ns(CLOCK_MONOTONIC);
			if (conf.exit_when_idle_ns > 0 && mono - last_rx >= conf.exit_when_idle_ns) {
				fprintf(stderr, "sluice-kbase: idle for %.1f s, closing the window\n",
					(double)conf.exit_when_idle_ns / 1e9);
				break;
			}
			continue;
		}
		if (conf.exit_when_idle_ns > 0)
			last_rx = clock_ns(CLOCK_MONOTONIC);

		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &rx->msgs[i].msg_hdr;
			uint32_t len = rx->msgs[i].msg_len;

			st.packets++;
			st.bytes += len;
			if (mh->msg_controllen > 0) {
				struct cmsghdr *cm;

				for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
					uint32_t d;

					if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_RXQ_OVFL)
						continue;
					memcpy(&d, CMSG_DATA(cm), sizeof(d));
					if (d > st.socket_drops)
						st.socket_drops = d;
				}
			}
			if (mh->msg_flags & MSG_TRUNC) {
				st.received++;
				st.drops[SL_DROP_OVERSIZE]++;
				continue;
			}
			handle_datagram(table, rx->iov[i].iov_base, len, now, &st);
		}
	}
	if (got_signal)
		fprintf(stderr, "sluice-kbase: signal %d, closing the window\n", (int)got_signal);

	commit_table(&kc, table, &st);
	{
		/* Drops after the last datagram we read show only in /proc. */
		uint64_t pd = proc_udp_drops(fd);

		if (pd > st.socket_drops)
			st.socket_drops = pd;
	}
	{
		uint64_t dsum = 0, elapsed = clock_ns(CLOCK_MONOTONIC) - t_start;

		for (unsigned int r = 0; r < SL_DROP__MAX; r++)
			dsum += st.drops[r];
		fprintf(stderr,
			"sluice-kbase: received %" PRIu64 " events in %" PRIu64
			" datagrams, aggregated %" PRIu64 ", dropped %" PRIu64 ", socket drops %" PRIu64
			", committed %" PRIu64 " windows (%" PRIu64 " records), %" PRIu64
			" commit errors\n",
			st.received, st.packets, st.aggregated, dsum, st.socket_drops,
			st.windows_committed, st.records_written, st.commit_errors);
		if (conf.stats_json != NULL) {
			rc = stats_write(conf.stats_json, &st, elapsed);
			if (rc != 0) {
				fprintf(stderr, "sluice-kbase: cannot write %s: %s\n", conf.stats_json,
					strerror(-rc));
				goto out;
			}
		}
	}
	exit_code = st.commit_errors > 0 ? 1 : 0;
out:
	if (fd >= 0)
		close(fd);
	commit_fini(&kc);
	sl_store_close(store);
	if (rx != NULL)
		free(rx->data);
	free(rx);
	free(tmem);
	return exit_code;
}
