/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * sluice-microbench: nanoseconds per operation of the per-event code
 * (libsl_core: the statsd parser, group keys, the window table, aggregate
 * states, distinct sets, the LMDB value format), one benchmark at a time.
 *
 * Method. Each benchmark has a setup (not timed) and a loop of N operations
 * timed with clock_gettime(CLOCK_MONOTONIC). N starts small and grows until
 * one timed run lasts at least the target time (0.2 s, --quick 0.02 s); that
 * run is reported. --iterations N runs exactly N operations once (the smoke
 * test uses it). Results feed a volatile sink so the compiler cannot drop the
 * work; the library is a separate static archive built without LTO, so its
 * calls are not inlined into the loops either.
 *
 * What an "op" is: one call of the named function, except where the name says
 * "per_line" or "per_member" (one line of a datagram, one member hash of a
 * batch). The agg_update_* benchmarks time sl_agg_table_update() on one hot
 * group, i.e. key build + hash + lookup + the state update of that type:
 * state_update() itself is static in agg.c.
 *
 * Single-threaded; everything belongs to main().
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/common.h>

#include "agg.h"
#include "parse.h"

static volatile uint64_t sink;

struct mb_opts {
	double target_s;
	uint64_t iterations; /* 0: auto-scale */
	bool json;
	bool list;
	const char *filter;
};

/** A benchmark: setup (untimed, may be NULL), run N ops and return a checksum, teardown. */
struct mb_bench {
	const char *name;
	int (*setup)(void);
	uint64_t (*run)(uint64_t n);
	void (*teardown)(void);
	uint32_t ops_per_call; /* ops per unit of n (per_line, per_member), default 1 */
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void
parse_or_die(const char *line, struct sl_statsd_event *ev)
{
	if (sl_statsd_parse_line((const uint8_t *)line, (uint32_t)strlen(line), ev) !=
	    SL_DROP__MAX) {
		fprintf(stderr, "sluice-microbench: corpus line rejected: %s\n", line);
		exit(1);
	}
}

/* ---- statsd parser ---- */

static const char line_counter[] = "retail.txn.count:1|c|#store:s017,region:emea,channel:pos";
static const char line_timer[] = "retail.checkout.latency:238.75|ms|@0.5|#store:s017,lane:4";
static const char line_set[] = "retail.footfall:u-00412977|s|#store:s017";
static const char line_gauge[] = "retail.queue.length:7|g|#store:s017,lane:4";

static uint64_t
parse_one(const char *line, uint64_t n)
{
	struct sl_statsd_event ev;
	uint32_t len = (uint32_t)strlen(line);
	uint64_t acc = 0;

	for (uint64_t i = 0; i < n; i++) {
		acc += sl_statsd_parse_line((const uint8_t *)line, len, &ev);
		acc += ev.name.len + ev.n_tags;
	}
	return acc;
}

static uint64_t
run_parse_counter(uint64_t n)
{
	return parse_one(line_counter, n);
}

static uint64_t
run_parse_timer(uint64_t n)
{
	return parse_one(line_timer, n);
}

static uint64_t
run_parse_set(uint64_t n)
{
	return parse_one(line_set, n);
}

static uint64_t
run_parse_gauge(uint64_t n)
{
	return parse_one(line_gauge, n);
}

/* A 20-line datagram as a POS terminal would send it: a mix of the four kinds. */
#define DGRAM_LINES 20
static char dgram[4096];
static uint32_t dgram_len;

static int
setup_dgram(void)
{
	static const char *const kinds[] = {
		"retail.txn.count:1|c|#store:s%03u,region:emea,channel:pos\n",
		"retail.txn.amount:%u.95|c|#store:s017,currency:eur\n",
		"retail.checkout.latency:2%u.5|ms|@0.5|#store:s017,lane:4\n",
		"retail.footfall:u-%08u|s|#store:s017\n",
		"retail.queue.length:%u|g|#store:s017,lane:4\n",
	};
	int off = 0;

	for (unsigned int i = 0; i < DGRAM_LINES; i++)
		off += snprintf(dgram + off, sizeof(dgram) - (size_t)off, kinds[i % 5], i * 37 + 3);
	dgram_len = (uint32_t)off;
	return 0;
}

static uint64_t
run_parse_dgram(uint64_t n)
{
	struct sl_statsd_event ev;
	uint64_t acc = 0;

	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *line;
		uint32_t off = 0, ll;

		while (sl_statsd_next_line((const uint8_t *)dgram, dgram_len, &off, &line, &ll))
			acc += sl_statsd_parse_line(line, ll, &ev) + ev.name.len;
	}
	return acc;
}

/* ---- keys and hashing ---- */

static struct sl_statsd_event ev_key;

static int
setup_key(void)
{
	/* Tags out of order, so the build sorts them. */
	parse_or_die("retail.txn.amount:12.5|c|#store:s017,region:emea,channel:pos,currency:eur",
		     &ev_key);
	return 0;
}

static uint64_t
run_key_build(uint64_t n)
{
	uint8_t key[SL_KEY_MAX];
	uint64_t acc = 0;

	for (uint64_t i = 0; i < n; i++) {
		acc += sl_agg_key_build(&ev_key, key);
		acc += key[i & 31];
	}
	return acc;
}

static uint64_t
run_hash64(uint64_t n)
{
	static const char k[] = "retail.txn.amount|store:s017|region:emea";
	uint64_t acc = 0;

	for (uint64_t i = 0; i < n; i++)
		acc += sl_hash64(k, 32, i);
	return acc;
}

/* ---- window table with many keys ---- */

static void *tab_mem;
static struct sl_agg_table *tab;
static char *tab_names;      /* n_keys names of TAB_NAME_LEN bytes */
static uint32_t tab_keys;
static uint32_t tab_stride;  /* coprime to tab_keys: visits every key, far apart */
static struct sl_statsd_event tab_ev;
#define TAB_NAME_LEN 16

static int
table_alloc(uint32_t max_groups, uint32_t max_set_members)
{
	struct sl_agg_limits lim = { .max_groups = max_groups, .max_set_members = max_set_members };
	size_t sz;

	lim.key_bytes = max_groups * 64u < SL_KEY_MAX ? SL_KEY_MAX : max_groups * 64u;
	sz = sl_agg_table_memsize(&lim);
	if (sz == 0 || posix_memalign(&tab_mem, 64, sz) != 0)
		return -ENOMEM;
	tab = sl_agg_table_init(tab_mem, &lim);
	return tab == NULL ? -EINVAL : 0;
}

static void
table_free(void)
{
	free(tab_mem);
	free(tab_names);
	tab_mem = NULL;
	tab = NULL;
	tab_names = NULL;
}

static int
setup_table_keys(uint32_t keys)
{
	uint64_t now = 1;

	if (table_alloc(keys, 16) != 0)
		return -ENOMEM;
	tab_keys = keys;
	tab_stride = 7919; /* prime, and neither key count is a multiple of it */
	tab_names = malloc((size_t)keys * TAB_NAME_LEN);
	if (tab_names == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < keys; i++)
		snprintf(tab_names + (size_t)i * TAB_NAME_LEN, TAB_NAME_LEN, "bench.m%08u", i);
	parse_or_die("bench.m00000000:1|c|#store:s017,region:emea", &tab_ev);
	/* Insert every key first: the timed loop measures a full table's updates. */
	for (uint32_t i = 0; i < keys; i++) {
		tab_ev.name.p = (const uint8_t *)tab_names + (size_t)i * TAB_NAME_LEN;
		if (sl_agg_table_update(tab, &tab_ev, now++) != SL_DROP__MAX)
			return -ENOSPC;
	}
	return 0;
}

static int
setup_table_10k(void)
{
	return setup_table_keys(10000);
}

static int
setup_table_1m(void)
{
	return setup_table_keys(1000000);
}

static uint64_t
run_table_keys(uint64_t n)
{
	uint64_t acc = 0;
	uint32_t k = 0;

	for (uint64_t i = 0; i < n; i++) {
		tab_ev.name.p = (const uint8_t *)tab_names + (size_t)k * TAB_NAME_LEN;
		acc += sl_agg_table_update(tab, &tab_ev, i);
		k += tab_stride;
		if (k >= tab_keys)
			k -= tab_keys;
	}
	return acc + sl_agg_table_count(tab);
}

/* ---- one hot group per state type ---- */

static struct sl_statsd_event hot_ev;
#define SET_POOL 4096
static char set_pool_text[SET_POOL][16];

static int
setup_hot(const char *line)
{
	if (table_alloc(1024, 2 * SET_POOL) != 0)
		return -ENOMEM;
	parse_or_die(line, &hot_ev);
	return 0;
}

static int
setup_counter_exact(void)
{
	return setup_hot("retail.txn.amount:12.95|c|#store:s017,currency:eur");
}

static int
setup_counter_float(void)
{
	/* Rate 0.3 does not divide 1: value/rate goes to the double. */
	return setup_hot("retail.txn.amount:12.95|c|@0.3|#store:s017,currency:eur");
}

static int
setup_gauge(void)
{
	return setup_hot(line_gauge);
}

static int
setup_timer(void)
{
	return setup_hot(line_timer);
}

static int
setup_set(void)
{
	uint64_t s = 42;

	for (unsigned int i = 0; i < SET_POOL; i++) {
		snprintf(set_pool_text[i], sizeof(set_pool_text[i]), "u-%08u",
			 (unsigned int)(splitmix64(&s) % 100000000u));
	}
	return setup_hot(line_set);
}

static uint64_t
run_hot(uint64_t n)
{
	uint64_t acc = 0;

	for (uint64_t i = 0; i < n; i++)
		acc += sl_agg_table_update(tab, &hot_ev, i);
	return acc + sl_agg_table_count(tab);
}

static uint64_t
run_hot_set(uint64_t n)
{
	uint64_t acc = 0;

	/* Members cycle through a pool: after the first pass, most are already seen. */
	for (uint64_t i = 0; i < n; i++) {
		hot_ev.member.p = (const uint8_t *)set_pool_text[i & (SET_POOL - 1)];
		hot_ev.member.len = 10;
		acc += sl_agg_table_update(tab, &hot_ev, i);
	}
	return acc + sl_agg_table_members(tab);
}

static void
teardown_table(void)
{
	table_free();
}

/* ---- states ---- */

#define STATES 64
static struct sl_agg_state states[STATES];

static int
setup_states(void)
{
	uint64_t s = 7;

	for (unsigned int i = 0; i < STATES; i++) {
		sl_agg_state_init(&states[i]);
		states[i].count = 1 + splitmix64(&s) % 100;
		states[i].sum_fixed = (__int128)(splitmix64(&s) % 1000000000);
		states[i].sum_float = (double)(splitmix64(&s) % 1000) / 7.0;
		states[i].min = (double)(splitmix64(&s) % 1000);
		states[i].max = states[i].min + 50;
		states[i].last = states[i].min + 1;
		states[i].last_ns = splitmix64(&s) % 1000000;
	}
	return 0;
}

static uint64_t
run_state_merge(uint64_t n)
{
	struct sl_agg_state dst;

	sl_agg_state_init(&dst);
	for (uint64_t i = 0; i < n; i++)
		sl_agg_state_merge(&dst, &states[i & (STATES - 1)]);
	return dst.count + (uint64_t)dst.max;
}

/* ---- distinct sets ---- */

#define SET_BATCH 1024
static uint64_t set_hashes[8 * SET_BATCH];
static struct sl_agg_set *hll_set;

static int
setup_set_hashes(void)
{
	uint64_t s = 99;

	for (unsigned int i = 0; i < 8 * SET_BATCH; i++)
		set_hashes[i] = splitmix64(&s);
	return 0;
}

/* One op = one member: a new exact set gets a batch of 1024 distinct hashes in one call. */
static uint64_t
run_set_add_exact(uint64_t n)
{
	uint64_t acc = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct sl_agg_set *set = sl_agg_set_create();

		if (set == NULL || sl_agg_set_add(set, set_hashes + (i & 7) * SET_BATCH,
						  SET_BATCH) != 0)
			exit(1);
		acc += sl_agg_set_count(set);
		sl_agg_set_destroy(set);
	}
	return acc;
}

static int
setup_hll(void)
{
	setup_set_hashes();
	hll_set = sl_agg_set_create();
	/* More than SL_SET_EXACT_MAX members: the set becomes a HyperLogLog. */
	if (hll_set == NULL || sl_agg_set_add(hll_set, set_hashes, 8 * SET_BATCH) != 0 ||
	    sl_agg_set_is_exact(hll_set))
		return -EINVAL;
	return 0;
}

static void
teardown_hll(void)
{
	sl_agg_set_destroy(hll_set);
	hll_set = NULL;
}

/* One op = one member hash added to a HyperLogLog, in batches of 1024. */
static uint64_t
run_set_add_hll(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (sl_agg_set_add(hll_set, set_hashes + (i & 7) * SET_BATCH, SET_BATCH) != 0)
			exit(1);
	return sl_agg_set_is_exact(hll_set);
}

/* ---- serialization ---- */

static uint8_t ser_buf[SL_AGG_SER_HDR + SL_HLL_REGS];
static size_t ser_len;
static struct sl_agg_set *ser_set;
#define SER_SET_MEMBERS 256

static int
setup_ser_timer(void)
{
	setup_states();
	ser_len = sl_agg_state_serialize(SL_METRIC_TIMER, &states[3], NULL, ser_buf);
	return 0;
}

static int
setup_ser_set(void)
{
	setup_states();
	setup_set_hashes();
	ser_set = sl_agg_set_create();
	if (ser_set == NULL || sl_agg_set_add(ser_set, set_hashes, SER_SET_MEMBERS) != 0)
		return -ENOMEM;
	ser_len = sl_agg_state_serialize(SL_METRIC_SET, &states[3], ser_set, ser_buf);
	return 0;
}

static void
teardown_ser_set(void)
{
	sl_agg_set_destroy(ser_set);
	ser_set = NULL;
}

static uint64_t
run_serialize_timer(uint64_t n)
{
	uint64_t acc = 0;

	for (uint64_t i = 0; i < n; i++) {
		acc += sl_agg_state_serialize(SL_METRIC_TIMER, &states[i & (STATES - 1)], NULL,
					      ser_buf);
		acc += ser_buf[8];
	}
	return acc;
}

static uint64_t
run_deserialize_timer(uint64_t n)
{
	struct sl_agg_state st;
	uint64_t acc = 0;
	uint8_t type;

	for (uint64_t i = 0; i < n; i++) {
		acc += (uint64_t)sl_agg_state_deserialize(ser_buf, ser_len, &type, &st, NULL);
		acc += st.count + type;
	}
	return acc;
}

static uint64_t
run_serialize_set(uint64_t n)
{
	uint64_t acc = 0;

	for (uint64_t i = 0; i < n; i++) {
		acc += sl_agg_state_serialize(SL_METRIC_SET, &states[i & (STATES - 1)], ser_set,
					      ser_buf);
		acc += ser_buf[8];
	}
	return acc;
}

static uint64_t
run_deserialize_set(uint64_t n)
{
	struct sl_agg_state st;
	uint64_t acc = 0;
	uint8_t type;

	for (uint64_t i = 0; i < n; i++) {
		struct sl_agg_set *set = NULL;

		acc += (uint64_t)sl_agg_state_deserialize(ser_buf, ser_len, &type, &st, &set);
		acc += st.distinct;
		sl_agg_set_destroy(set);
	}
	return acc;
}

/* ---- the list ---- */

static const struct mb_bench benches[] = {
	{ "parse_line_counter_tags", NULL, run_parse_counter, NULL, 1 },
	{ "parse_line_timer_rate_tags", NULL, run_parse_timer, NULL, 1 },
	{ "parse_line_set", NULL, run_parse_set, NULL, 1 },
	{ "parse_line_gauge", NULL, run_parse_gauge, NULL, 1 },
	{ "parse_datagram20_per_line", setup_dgram, run_parse_dgram, NULL, DGRAM_LINES },
	{ "hash64_32B", NULL, run_hash64, NULL, 1 },
	{ "agg_key_build_4tags", setup_key, run_key_build, NULL, 1 },
	{ "agg_table_update_10k_keys", setup_table_10k, run_table_keys, teardown_table, 1 },
	{ "agg_table_update_1M_keys", setup_table_1m, run_table_keys, teardown_table, 1 },
	{ "agg_update_counter_exact", setup_counter_exact, run_hot, teardown_table, 1 },
	{ "agg_update_counter_float_rate", setup_counter_float, run_hot, teardown_table, 1 },
	{ "agg_update_gauge", setup_gauge, run_hot, teardown_table, 1 },
	{ "agg_update_timer", setup_timer, run_hot, teardown_table, 1 },
	{ "agg_update_set_member", setup_set, run_hot_set, teardown_table, 1 },
	{ "agg_state_merge", setup_states, run_state_merge, NULL, 1 },
	{ "agg_set_add_exact_per_member", setup_set_hashes, run_set_add_exact, NULL, SET_BATCH },
	{ "agg_set_add_hll_per_member", setup_hll, run_set_add_hll, teardown_hll, SET_BATCH },
	{ "agg_state_serialize_timer", setup_ser_timer, run_serialize_timer, NULL, 1 },
	{ "agg_state_deserialize_timer", setup_ser_timer, run_deserialize_timer, NULL, 1 },
	{ "agg_state_serialize_set256", setup_ser_set, run_serialize_set, teardown_ser_set, 1 },
	{ "agg_state_deserialize_set256", setup_ser_set, run_deserialize_set, teardown_ser_set, 1 },
};
#define N_BENCHES (sizeof(benches) / sizeof(benches[0]))

struct mb_result {
	uint64_t ops;
	uint64_t ns;
};

static void
bench_measure(const struct mb_bench *b, const struct mb_opts *o, struct mb_result *ret)
{
	uint64_t n = o->iterations > 0 ? o->iterations : 1, t0, dt;
	uint64_t target = (uint64_t)(o->target_s * 1e9);

	/* Units of n: a datagram is 20 ops, a set batch 1024. */
	if (o->iterations > 0 && b->ops_per_call > 1)
		n = (o->iterations + b->ops_per_call - 1) / b->ops_per_call;
	for (;;) {
		t0 = mono_ns();
		sink += b->run(n);
		dt = mono_ns() - t0;
		if (o->iterations > 0 || dt >= target)
			break;
		/* Aim 20 % past the target; grow at least 2x, at most 100x per round. */
		{
			double f = dt > 0 ? (double)target * 1.2 / (double)dt : 100.0;

			f = f < 2.0 ? 2.0 : f > 100.0 ? 100.0 : f;
			n = (uint64_t)((double)n * f) + 1;
		}
	}
	ret->ops = n * b->ops_per_call;
	ret->ns = dt;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-microbench [options]\n"
		"\n"
		"Nanoseconds per operation of sluice's per-event code (parser, keys, window\n"
		"table, aggregate states, distinct sets, serialization), one at a time.\n"
		"\n"
		"Options:\n"
		"  --quick            about 0.02 s per benchmark instead of 0.2 s\n"
		"  --iterations N     run exactly N operations per benchmark, once\n"
		"  --filter TEXT      only benchmarks whose name contains TEXT\n"
		"  --json             print a JSON array of {\"name\",\"ns_per_op\",\"ops\",\"ops_per_s\"}\n"
		"  --list             print the benchmark names and exit\n"
		"  -h, --help         this help\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "filter", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mb_opts o = { .target_s = 0.2 };
	bool first = true;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'q':
			o.target_s = 0.02;
			break;
		case 'n':
			errno = 0;
			o.iterations = strtoull(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
			    o.iterations == 0) {
				fprintf(stderr, "sluice-microbench: --iterations: expected N >= 1 "
						"(got '%s')\n", optarg);
				return 2;
			}
			break;
		case 'f':
			o.filter = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'l':
			o.list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-microbench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	if (o.json)
		fputs("[", stdout);
	else if (!o.list)
		printf("%-32s %10s %10s %12s\n", "benchmark", "ns/op", "Mops/s", "ops");
	for (size_t i = 0; i < N_BENCHES; i++) {
		const struct mb_bench *b = &benches[i];
		struct mb_result r;
		double ns_op, mops;

		if (o.filter != NULL && strstr(b->name, o.filter) == NULL)
			continue;
		if (o.list) {
			puts(b->name);
			continue;
		}
		if (b->setup != NULL && b->setup() != 0) {
			fprintf(stderr, "sluice-microbench: %s: setup failed\n", b->name);
			return 1;
		}
		bench_measure(b, &o, &r);
		if (b->teardown != NULL)
			b->teardown();
		ns_op = (double)r.ns / (double)r.ops;
		mops = ns_op > 0 ? 1e3 / ns_op : 0;
		if (o.json) {
			printf("%s\n{\"name\":\"%s\",\"ns_per_op\":%.3f,\"ops\":%" PRIu64
			       ",\"ops_per_s\":%.0f}", first ? "" : ",", b->name, ns_op, r.ops,
			       mops * 1e6);
		} else {
			printf("%-32s %10.2f %10.2f %12" PRIu64 "\n", b->name, ns_op, mops, r.ops);
		}
		fflush(stdout);
		first = false;
	}
	if (o.json)
		fputs("\n]\n", stdout);
	return 0;
}
