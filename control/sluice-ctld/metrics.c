/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * Prometheus exposition and stored windows as JSON (see metrics.h).
 *
 * The windows JSON is written by control/lib/record_json.c, the emitter of
 * `sluicectl --json metrics` too; the integration test ctld_test.sh compares
 * the two byte for byte.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <stdlib.h>

#include <sluice/common.h>

#include "http.h"
#include "metrics.h"
#include "record_json.h"

/* ---- Prometheus text format 0.0.4 ---- */

/** Buckets of the stats' "commit_us_log2" (sluiced's SL_MERGE_HIST_BUCKETS). */
#define SL_CTLD_HIST_MAX 64

static bool
ju64(const json_t *j, uint64_t *ret_v)
{
	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*ret_v = (uint64_t)json_integer_value(j);
		return true;
	}
	if (json_is_real(j) && json_real_value(j) >= 0 && json_real_value(j) < 0x1p64) {
		*ret_v = (uint64_t)json_real_value(j);
		return true;
	}
	return false;
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/** A label value, escaped as the format requires (\\, \" and \n). */
static void
label_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/** "name value\n" from @p obj's @p key; nothing when it is absent. */
static void
one(FILE *f, const char *name, const char *type, const char *help, const json_t *obj,
    const char *key)
{
	uint64_t v;

	if (!ju64(json_object_get(obj, key), &v))
		return;
	family(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/** One family with a sample per element of the array @p arr, labelled by its @p id_key. */
static void
per_elem(FILE *f, const char *name, const char *type, const char *help, json_t *arr,
	 const char *id_key, const char *label, const char *key)
{
	bool any = false;
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		uint64_t id, v;

		if (!ju64(json_object_get(e, id_key), &id) || !ju64(json_object_get(e, key), &v))
			continue;
		if (!any)
			family(f, name, type, help);
		any = true;
		fprintf(f, "%s{%s=\"%" PRIu64 "\"} %" PRIu64 "\n", name, label, id, v);
	}
}

static void
drops(FILE *f, json_t *root)
{
	json_t *d = json_object_get(root, "drops"), *cores = json_object_get(root, "cores"), *v, *c;
	const char *reason;
	size_t i;

	if (json_is_object(d)) {
		family(f, "sluice_drops_total", "counter",
		       "Events dropped, by reason (received = aggregated + sum of drops).");
		json_object_foreach(d, reason, v) {
			uint64_t n;

			if (!ju64(v, &n))
				continue;
			fputs("sluice_drops_total{reason=", f);
			label_value(f, reason);
			fprintf(f, "} %" PRIu64 "\n", n);
		}
	}
	if (!json_is_array(cores))
		return;
	family(f, "sluice_core_drops_total", "counter", "Events dropped per worker lcore, by reason.");
	json_array_foreach(cores, i, c) {
		uint64_t lcore;

		if (!ju64(json_object_get(c, "lcore"), &lcore) ||
		    !json_is_object(json_object_get(c, "drops")))
			continue;
		json_object_foreach(json_object_get(c, "drops"), reason, v) {
			uint64_t n;

			if (!ju64(v, &n))
				continue;
			fprintf(f, "sluice_core_drops_total{lcore=\"%" PRIu64 "\",reason=", lcore);
			label_value(f, reason);
			fprintf(f, "} %" PRIu64 "\n", n);
		}
	}
}

static void
ports(FILE *f, json_t *root)
{
	static const struct {
		const char *key, *name, *type, *help;
	} m[] = {
		{ "rx_queues", "sluice_port_rx_queues", "gauge", "RX queues configured on the port." },
		{ "ipackets", "sluice_port_rx_packets_total", "counter",
		  "Packets received by the port (NIC counter)." },
		{ "imissed", "sluice_port_rx_missed_total", "counter",
		  "Packets the port dropped for lack of RX descriptors." },
		{ "rx_nombuf", "sluice_port_rx_nombuf_total", "counter",
		  "Packets the port dropped for lack of mbufs." },
		{ "ierrors", "sluice_port_rx_errors_total", "counter", "Erroneous received packets." },
	};
	json_t *arr = json_object_get(root, "ports"), *p;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return;
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		family(f, m[k].name, m[k].type, m[k].help);
		json_array_foreach(arr, i, p) {
			const char *pname = json_string_value(json_object_get(p, "name"));
			uint64_t id, v;

			if (!ju64(json_object_get(p, "port"), &id) ||
			    !ju64(json_object_get(p, m[k].key), &v))
				continue;
			fprintf(f, "%s{port=\"%" PRIu64 "\",name=", m[k].name, id);
			label_value(f, pname ? pname : "");
			fprintf(f, "} %" PRIu64 "\n", v);
		}
	}
}

/*
 * sluiced counts a commit taking `us` microseconds in bucket b, the number of
 * halvings that bring us down to at most 1: bucket b holds us < 2^(b+1), so
 * its upper bound is 2^(b+1) us; the last bucket also holds everything longer
 * and maps to +Inf only. Prometheus wants a _sum: the log2 buckets keep no
 * exact durations, so _sum adds each bucket's midpoint (1 us for bucket 0,
 * 1.5 * 2^b us above): an estimate within a factor of 1.5.
 */
static void
commit_histogram(FILE *f, json_t *st)
{
	json_t *h = json_object_get(st, "commit_us_log2"), *v;
	uint64_t b[SL_CTLD_HIST_MAX], cum = 0;
	double sum_s = 0;
	size_t n = 0, i;

	if (!json_is_array(h) || json_array_size(h) == 0 || json_array_size(h) > SL_CTLD_HIST_MAX)
		return;
	json_array_foreach(h, i, v) {
		if (!ju64(v, &b[n]))
			return;
		n++;
	}
	family(f, "sluice_commit_duration_seconds", "histogram",
	       "Duration of window commits to LMDB (log2 buckets; _sum from bucket midpoints).");
	for (i = 0; i < n; i++) {
		cum += b[i];
		sum_s += (double)b[i] * (i == 0 ? 1e-6 : 1.5e-6 * ldexp(1.0, (int)i));
		if (i + 1 < n)
			fprintf(f, "sluice_commit_duration_seconds_bucket{le=\"%.9g\"} %" PRIu64 "\n",
				ldexp(1e-6, (int)i + 1), cum);
	}
	fprintf(f, "sluice_commit_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	fprintf(f, "sluice_commit_duration_seconds_sum %.9g\n", sum_s);
	fprintf(f, "sluice_commit_duration_seconds_count %" PRIu64 "\n", cum);
}

static void
storage(FILE *f, json_t *root)
{
	json_t *st = json_object_get(root, "storage");
	uint64_t v;

	if (!json_is_object(st))
		return;
	one(f, "sluice_windows_committed_total", "counter", "Windows committed to the store.", st,
	    "windows_committed");
	one(f, "sluice_windows_amended_total", "counter",
	    "Committed windows amended by late partials.", st, "windows_amended");
	one(f, "sluice_records_written_total", "counter", "Records written to the store.", st,
	    "records_written");
	one(f, "sluice_commit_errors_total", "counter", "Window commits that failed.", st,
	    "commit_errors");
	one(f, "sluice_records_lost_total", "counter", "Records lost with failed commits.", st,
	    "records_lost");
	one(f, "sluice_pending_windows", "gauge", "Closed windows waiting to be committed.", st,
	    "pending_windows");
	one(f, "sluice_merge_partials_total", "counter",
	    "Per-core partial tables merged by the storage thread.", st, "partials");
	if (ju64(json_object_get(st, "last_commit_ns"), &v)) {
		family(f, "sluice_last_commit_duration_seconds", "gauge",
		       "Duration of the last window commit.");
		fprintf(f, "sluice_last_commit_duration_seconds %.9g\n", (double)v / 1e9);
	}
	if (ju64(json_object_get(st, "busy_ns"), &v)) {
		family(f, "sluice_storage_busy_seconds_total", "counter",
		       "Time the storage thread spent merging and committing.");
		fprintf(f, "sluice_storage_busy_seconds_total %.9g\n", (double)v / 1e9);
	}
	commit_histogram(f, st);
}

/*
 * Worker polls by result: busy (the poll returned packets) and empty, from
 * the cores' "polls" and "polls_empty"; poll efficiency is busy / polls.
 * Nothing when sluiced does not count polls.
 */
static void
core_polls(FILE *f, json_t *cores)
{
	bool any = false;
	json_t *c;
	size_t i;

	json_array_foreach(cores, i, c) {
		uint64_t lcore, polls, empty;

		if (!ju64(json_object_get(c, "lcore"), &lcore) ||
		    !ju64(json_object_get(c, "polls"), &polls) ||
		    !ju64(json_object_get(c, "polls_empty"), &empty))
			continue;
		if (!any)
			family(f, "sluice_core_polls_total", "counter",
			       "RX polls per worker lcore, by result: busy (packets received) or "
			       "empty.");
		any = true;
		fprintf(f,
			"sluice_core_polls_total{lcore=\"%" PRIu64 "\",result=\"busy\"} %" PRIu64
			"\n"
			"sluice_core_polls_total{lcore=\"%" PRIu64 "\",result=\"empty\"} %" PRIu64
			"\n",
			lcore, polls >= empty ? polls - empty : 0, lcore, empty);
	}
}

/** One family with a sample per view of @p views, labelled view="name". */
static void
per_view(FILE *f, const char *name, const char *type, const char *help, json_t *views,
	 const char *key)
{
	bool any = false;
	json_t *v;
	size_t i;

	json_array_foreach(views, i, v) {
		const char *vname = json_string_value(json_object_get(v, "name"));
		uint64_t n;

		if (vname == NULL || !ju64(json_object_get(v, key), &n))
			continue;
		if (!any)
			family(f, name, type, help);
		any = true;
		fprintf(f, "%s{view=", name);
		label_value(f, vname);
		fprintf(f, "} %" PRIu64 "\n", n);
	}
}

/* The views of the configuration: per-view counters, summed over cores, and their storage. */
static void
views(FILE *f, json_t *root)
{
	static const char *const outcomes[] = { "aggregated", "late", "dropped" };
	json_t *arr = json_object_get(root, "views"), *st = json_object_get(root, "views_storage");
	uint64_t v;
	size_t i;
	json_t *e;

	if (json_is_array(arr) && json_array_size(arr) > 0) {
		family(f, "sluice_view_events_total", "counter",
		       "Events matched by a view, by outcome: aggregated, late (not aggregated) or "
		       "dropped.");
		json_array_foreach(arr, i, e) {
			const char *vname = json_string_value(json_object_get(e, "name"));

			for (size_t k = 0; vname != NULL && k < 3; k++) {
				if (!ju64(json_object_get(e, outcomes[k]), &v))
					continue;
				fputs("sluice_view_events_total{view=", f);
				label_value(f, vname);
				fprintf(f, ",outcome=\"%s\"} %" PRIu64 "\n", outcomes[k], v);
			}
		}
		per_view(f, "sluice_view_matched_events_total", "counter",
			 "Events that passed the view's where filter.", arr, "matched");
		per_view(f, "sluice_view_overflow_events_total", "counter",
			 "Events of a view that found its group table full (max_groups).", arr,
			 "overflow_events");
		per_view(f, "sluice_view_missing_field_events_total", "counter",
			 "Events of a view that lacked a field an aggregate reads.", arr,
			 "missing_field_events");
		per_view(f, "sluice_view_slices_closed_total", "counter",
			 "Slices of a view closed by the watermark, summed over cores.", arr,
			 "slices_closed");
		per_view(f, "sluice_view_slices_forced_total", "counter",
			 "Slices of a view closed early (no free slot), summed over cores.", arr,
			 "slices_forced");
		per_view(f, "sluice_view_late_unattributed_total", "counter",
			 "Late events of a view counted in the total but in no window (keep_late).",
			 arr, "late_unattributed");
	}
	if (!json_is_object(st))
		return;
	one(f, "sluice_view_slices_committed_total", "counter",
	    "View slices committed to the store.", st, "slices_committed");
	one(f, "sluice_view_slices_amended_total", "counter",
	    "Committed view slices written again with late partials.", st, "slices_amended");
	one(f, "sluice_view_records_written_total", "counter", "View records written to the store.",
	    st, "records_written");
	one(f, "sluice_view_commit_errors_total", "counter", "View slice commits that failed.", st,
	    "commit_errors");
	one(f, "sluice_view_records_lost_total", "counter",
	    "View records lost with failed commits.", st, "records_lost");
	one(f, "sluice_view_merge_errors_total", "counter",
	    "View groups that could not be merged (out of memory).", st, "merge_errors");
	one(f, "sluice_view_late_notes_total", "counter",
	    "Late-event notes received by the storage thread.", st, "late_notes");
	one(f, "sluice_view_late_updates_total", "counter",
	    "Writes of late counts alone to committed slices.", st, "late_updates");
	one(f, "sluice_view_retention_deleted_records_total", "counter",
	    "View records deleted by retention.", st, "retention_deleted");
	one(f, "sluice_view_pending_slices", "gauge", "View slices merged, not yet committed.", st,
	    "pending");
	if (ju64(json_object_get(st, "last_commit_ns"), &v)) {
		family(f, "sluice_view_last_commit_duration_seconds", "gauge",
		       "Duration of the last view slice commit.");
		fprintf(f, "sluice_view_last_commit_duration_seconds %.9g\n", (double)v / 1e9);
	}
}

/* Upstream loss, from the binary format's per-producer sequence numbers. */
static void
producers(FILE *f, json_t *root)
{
	json_t *p = json_object_get(root, "producers");

	if (!json_is_object(p))
		return;
	one(f, "sluice_producers_seen", "gauge",
	    "Producers (binary format) whose sequence numbers sluiced tracks.", p, "seen");
	/* A gap filled by a late datagram is taken back: a gauge, not a counter. */
	one(f, "sluice_producer_lost_datagrams", "gauge",
	    "Datagrams missing from producers' sequences (gaps not filled later).", p,
	    "lost_datagrams");
	one(f, "sluice_producer_reordered_datagrams_total", "counter",
	    "Datagrams that arrived after a later one of the same producer.", p,
	    "reordered_datagrams");
	one(f, "sluice_producer_untracked_datagrams_total", "counter",
	    "Datagrams of producers beyond those tracked (loss not measured).", p,
	    "untracked_datagrams");
}

void
sl_ctld_prom_write(FILE *f, json_t *stats, const struct sl_store_info *info)
{
	const char *version = json_string_value(json_object_get(stats, "version"));
	json_t *cores = json_object_get(stats, "cores"), *pk = json_object_get(stats, "packets");
	uint64_t v;

	family(f, "sluice_build_info", "gauge", "Build of sluice-ctld and of the sluiced it talks to.");
	fputs("sluice_build_info{component=\"ctld\",version=", f);
	label_value(f, SL_VERSION);
	fputs("} 1\n", f);
	if (version != NULL) {
		fputs("sluice_build_info{component=\"sluiced\",version=", f);
		label_value(f, version);
		fputs("} 1\n", f);
	}
	family(f, "sluice_dataplane_up", "gauge", "1 when sluiced answered on its control socket.");
	fprintf(f, "sluice_dataplane_up %d\n", stats != NULL);
	if (stats != NULL) {
		if (ju64(json_object_get(stats, "uptime_ns"), &v)) {
			family(f, "sluice_uptime_seconds", "gauge", "Time since sluiced started.");
			fprintf(f, "sluice_uptime_seconds %.9g\n", (double)v / 1e9);
		}
		if (ju64(json_object_get(stats, "window_ns"), &v)) {
			family(f, "sluice_window_seconds", "gauge", "Aggregation window length.");
			fprintf(f, "sluice_window_seconds %.9g\n", (double)v / 1e9);
		}
		one(f, "sluice_events_received_total", "counter", "Events received (statsd lines).",
		    stats, "received");
		one(f, "sluice_events_aggregated_total", "counter", "Events aggregated into windows.",
		    stats, "aggregated");
		drops(f, stats);
		one(f, "sluice_packets_received_total", "counter", "Packets received by the workers.",
		    pk, "received");
		one(f, "sluice_packets_accepted_total", "counter",
		    "Packets accepted as statsd datagrams.", pk, "accepted");
		one(f, "sluice_received_bytes_total", "counter", "Bytes of packets received.", pk,
		    "bytes");
		if (json_is_array(cores)) {
			per_elem(f, "sluice_core_packets_total", "counter",
				 "Packets received per worker lcore.", cores, "lcore", "lcore",
				 "packets");
			per_elem(f, "sluice_core_received_bytes_total", "counter",
				 "Bytes received per worker lcore.", cores, "lcore", "lcore", "bytes");
			per_elem(f, "sluice_core_events_received_total", "counter",
				 "Events received per worker lcore.", cores, "lcore", "lcore",
				 "received");
			per_elem(f, "sluice_core_events_aggregated_total", "counter",
				 "Events aggregated per worker lcore.", cores, "lcore", "lcore",
				 "aggregated");
			per_elem(f, "sluice_core_window_rotations_total", "counter",
				 "Window rotations per worker lcore.", cores, "lcore", "lcore",
				 "rotations");
			per_elem(f, "sluice_core_rx_paused_total", "counter",
				 "Times a worker paused RX for backpressure.", cores, "lcore",
				 "lcore", "rx_paused");
			core_polls(f, cores);
		}
		producers(f, stats);
		ports(f, stats);
		storage(f, stats);
		views(f, stats);
	}
	if (info != NULL) {
		family(f, "sluice_lmdb_map_size_bytes", "gauge", "LMDB map size.");
		fprintf(f, "sluice_lmdb_map_size_bytes %" PRIu64 "\n", info->map_size);
		family(f, "sluice_lmdb_used_bytes", "gauge", "LMDB pages in use, in bytes.");
		fprintf(f, "sluice_lmdb_used_bytes %" PRIu64 "\n", info->used_bytes);
		family(f, "sluice_lmdb_records", "gauge", "Records in the store's windows table.");
		fprintf(f, "sluice_lmdb_records %" PRIu64 "\n", info->records);
	}
}

/* ---- the store's views and sluice-ctld's own counters ---- */

struct view_ids {
	char (*names)[SL_STORE_VIEW_NAME_MAX + 1];
	uint32_t *ids;
	size_t n, cap;
};

static int
view_collect(const char *name, uint32_t id, const char *def, size_t len, void *arg)
{
	struct view_ids *v = arg;

	(void)def;
	(void)len;
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		void *a = realloc(v->names, cap * sizeof(*v->names));

		if (a == NULL)
			return 1;
		v->names = a;
		a = realloc(v->ids, cap * sizeof(*v->ids));
		if (a == NULL)
			return 1;
		v->ids = a;
		v->cap = cap;
	}
	snprintf(v->names[v->n], sizeof(v->names[v->n]), "%s", name);
	v->ids[v->n++] = id;
	return 0;
}

void
sl_ctld_prom_rules(FILE *f, json_t *rules, json_t *stats)
{
	json_t *arr = rules != NULL ? json_object_get(rules, "rules") : NULL;
	json_t *sum = stats != NULL ? json_object_get(stats, "rules") : NULL;
	size_t i;
	json_t *r;

	if (json_is_object(sum)) {
		one(f, "sluice_rules", "gauge", "Rules in the running rule set.", sum, "count");
		one(f, "sluice_rule_matches_capped_total", "counter",
		    "Events whose rule scan stopped at limits.max_matches_per_event.", sum,
		    "matches_capped");
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return;
	family(f, "sluice_rule_hits_total", "counter",
	       "Events a rule matched (at most once per event), summed over cores.");
	json_array_foreach(arr, i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		const char *act = json_string_value(json_object_get(r, "action"));
		json_t *h = json_object_get(r, "hits");

		if (id == NULL || act == NULL || !json_is_integer(h))
			continue;
		fputs("sluice_rule_hits_total{rule=", f);
		label_value(f, id);
		fputs(",action=", f);
		label_value(f, act);
		fprintf(f, "} %" JSON_INTEGER_FORMAT "\n", json_integer_value(h));
	}
}

void
sl_ctld_prom_store_views(FILE *f, struct sl_store *s)
{
	struct view_ids v = { 0 };
	bool any = false;

	/* Names first (one read transaction), then each view's meta record. */
	if (sl_store_view_list(s, view_collect, &v) == 0) {
		for (size_t i = 0; i < v.n; i++) {
			uint64_t start;

			if (sl_store_last_window(s, v.ids[i], &start) < 0)
				continue;
			if (!any)
				family(f, "sluice_view_last_slice_timestamp_seconds", "gauge",
				       "Start of the newest slice of the view committed to the "
				       "store (unix time).");
			any = true;
			fputs("sluice_view_last_slice_timestamp_seconds{view=", f);
			label_value(f, v.names[i]);
			fprintf(f, "} %.9g\n", (double)start / 1e9);
		}
	}
	free(v.names);
	free(v.ids);
}

static uint64_t
ld(uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void
sl_ctld_prom_ctld(FILE *f, struct sl_ctld *c)
{
	family(f, "sluice_ctld_requests_total", "counter", "HTTP requests sluice-ctld received.");
	fprintf(f, "sluice_ctld_requests_total %" PRIu64 "\n", ld(&c->cnt.requests));
	family(f, "sluice_ctld_refused_total", "counter",
	       "HTTP requests sluice-ctld answered with an error, by reason.");
	for (unsigned int r = 0; r < SL_CTLD_REFUSED__MAX; r++)
		fprintf(f, "sluice_ctld_refused_total{reason=\"%s\"} %" PRIu64 "\n",
			sl_ctld_refusal_name(r), ld(&c->cnt.refused[r]));
	family(f, "sluice_ctld_connections", "gauge", "Open HTTP connections.");
	fprintf(f, "sluice_ctld_connections %" PRIu64 "\n", ld(&c->cnt.connections));
	family(f, "sluice_ctld_connections_limit", "gauge",
	       "Most HTTP connections served (--max-connections).");
	fprintf(f, "sluice_ctld_connections_limit %u\n", c->max_conns);
	family(f, "sluice_ctld_streams", "gauge", "Open event streams (SSE).");
	fprintf(f, "sluice_ctld_streams %" PRIu64 "\n", ld(&c->cnt.sse_clients));
	family(f, "sluice_ctld_streams_limit", "gauge", "Most event streams open (--max-sse).");
	fprintf(f, "sluice_ctld_streams_limit %u\n", c->max_sse);
	family(f, "sluice_ctld_stream_events_total", "counter",
	       "Window events queued to event streams.");
	fprintf(f, "sluice_ctld_stream_events_total %" PRIu64 "\n", ld(&c->cnt.sse_events));
}

/* ---- stored windows as JSON (the format of sluicectl --json metrics) ---- */

struct win_ctx {
	FILE *f;
	struct sl_ctl_name_filter nf;
	uint64_t matched;
	uint64_t skipped;
	int err;
};

static int
win_visit(uint32_t view, uint64_t start_ns, uint64_t end_ns, const uint8_t *key, uint32_t key_len,
	  const uint8_t *val, uint32_t val_len, void *arg)
{
	struct win_ctx *c = arg;
	struct sl_ctl_record rec = { .start_ns = start_ns, .end_ns = end_ns };
	int rc;

	(void)view;
	rc = sl_ctl_record_decode(&c->nf, key, key_len, val, val_len, &rec, NULL);
	if (rc == -EINVAL) {
		c->skipped++;
		return 0;
	}
	if (rc < 0) {
		c->err = rc;
		return 1;
	}
	if (rc == 0)
		return 0;
	sl_ctl_record_json(c->f, c->matched == 0, &rec, NULL, NULL);
	c->matched++;
	return 0;
}

int
sl_ctld_windows_json(FILE *f, struct sl_store *s, uint64_t from_ns, uint64_t to_ns,
		     const char *name, uint64_t *ret_skipped)
{
	struct win_ctx c = { .f = f };
	int rc;

	sl_ctl_name_filter_init(&c.nf, name);
	fputc('[', f);
	rc = sl_store_scan(s, 0, from_ns, to_ns, win_visit, &c);
	if (c.err < 0)
		rc = c.err;
	fputs("]\n", f);
	*ret_skipped = c.skipped;
	return rc < 0 ? rc : 0;
}
