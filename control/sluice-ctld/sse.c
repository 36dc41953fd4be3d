/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * The stream hub (see sse.h).
 *
 * A subscriber's position is next_from: the first window start it has not
 * been sent. A window [s, s + S) of a view with size S and slide L is
 * complete once the view's newest committed slice starts at or after its
 * last slice, s + S - L: every window starting at or before
 * upto = last_window + L - S is complete. Each poll sends every subscriber
 * the windows in [next_from, upto] that have rows, in chunks of at most
 * SL_CTLD_SSE_CHUNK windows, and moves next_from past upto. Windows without
 * any row are not sent (nothing tells them from windows that never were).
 *
 * Slices commit in order per view (sluiced's storage thread closes a view's
 * slices in time order), so a window seen complete never gains rows later,
 * except by amendment with late partials, which is not sent again.
 *
 * Lifetime of a subscriber: one reference is held by libmicrohttpd's
 * response (dropped by its free callback, which also unlinks it), one by
 * each poll in progress. Freed when the last goes.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sluice/common.h>

#include "query.h"
#include "sse.h"
#include "store.h"

/** Most windows of one query (a subscriber far behind catches up in steps). */
#define SL_CTLD_SSE_CHUNK 64
/** Most queries per position group and poll. */
#define SL_CTLD_SSE_CHUNKS_PER_POLL 16
/** A subscriber with this many bytes unsent gets no more until it read them. */
#define SL_CTLD_SSE_PENDING_MAX (1u << 20)
/** What a stream starts with: the client's reconnection delay, ms. */
#define SL_CTLD_SSE_HELLO "retry: 2000\n\n"
/** Bytes libmicrohttpd asks the content reader for at most. */
#define SL_CTLD_SSE_BLOCK (32u * 1024)

struct sse_sub {
	struct sse_sub *next;
	struct sl_ctld_sse *hub;
	struct MHD_Connection *conn;
	int fd;                 /* the connection's socket (peeked while suspended) */
	char view[SL_STORE_VIEW_NAME_MAX + 1];
	/* The view as last resolved: id, window size and slide. */
	uint32_t id;
	uint64_t size_ns, slide_ns;
	uint64_t next_from;     /* first window start not sent */
	char *out;              /* unsent bytes: out[off, len) */
	size_t off, len, cap;
	uint64_t last_ns;       /* CLOCK_MONOTONIC of the last bytes queued */
	bool suspended;         /* by the content reader, until the hub resumes it */
	bool closed;            /* end the stream at the next read */
	bool ending;            /* end the stream once out is sent */
	bool gone;              /* libmicrohttpd let go of it (unlinked) */
	unsigned int refs;
};

struct sl_ctld_sse {
	struct sl_ctld *c;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr;
	bool started;
	bool stop;
	struct sse_sub *subs;
	unsigned int n;
	/*
	 * Connections to resume once the lock is released (the hub thread's, or
	 * the stopping thread's after the hub's end): libmicrohttpd is never
	 * called under the hub lock by them, as its own locks may be held by a
	 * pool thread waiting for ours in sub_free_cb(). Room for every
	 * subscriber: each is listed at most once, when it flips from suspended.
	 */
	struct MHD_Connection **wake;
	unsigned int n_wake;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/** Drop a reference (hub lock held). */
static void
sub_put(struct sse_sub *s)
{
	if (--s->refs == 0) {
		free(s->out);
		free(s);
	}
}

/** Queue @p n bytes on @p s (hub lock held). @return false: out of memory. */
static bool
sub_append(struct sse_sub *s, const char *p, size_t n)
{
	if (s->off > 0 && s->off == s->len)
		s->off = s->len = 0;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *b;

		while (cap < s->len + n)
			cap *= 2;
		b = realloc(s->out, cap);
		if (b == NULL)
			return false;
		s->out = b;
		s->cap = cap;
	}
	memcpy(s->out + s->len, p, n);
	s->len += n;
	s->last_ns = mono_ns();
	return true;
}

/** Have @p s resumed by wake_flush() (hub lock held). */
static void
sub_wake(struct sl_ctld_sse *h, struct sse_sub *s)
{
	if (s->suspended) {
		s->suspended = false;
		h->wake[h->n_wake++] = s->conn;
	}
}

/**
 * Resume the connections sub_wake() listed (hub lock released). Each is
 * still suspended in libmicrohttpd, which therefore keeps it.
 */
static void
wake_flush(struct sl_ctld_sse *h)
{
	for (unsigned int i = 0; i < h->n_wake; i++)
		MHD_resume_connection(h->wake[i]);
	h->n_wake = 0;
}

/* ---- libmicrohttpd's side ---- */

static ssize_t
sub_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse_sub *s = cls;
	struct sl_ctld_sse *h = s->hub;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&h->mu);
	if (s->closed) {
		pthread_mutex_unlock(&h->mu);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = s->len - s->off;
	if (n == 0 && s->ending) {
		pthread_mutex_unlock(&h->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (n == 0) {
		/* Nothing to send: park the connection until the hub has something. */
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		pthread_mutex_unlock(&h->mu);
		return 0;
	}
	if (n > max)
		n = max;
	memcpy(buf, s->out + s->off, n);
	s->off += n;
	pthread_mutex_unlock(&h->mu);
	return (ssize_t)n;
}

static void
sub_free_cb(void *cls)
{
	struct sse_sub *s = cls;
	struct sl_ctld_sse *h = s->hub;

	pthread_mutex_lock(&h->mu);
	for (struct sse_sub **pp = &h->subs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->gone = true;
	s->suspended = false;
	h->n--;
	__atomic_fetch_sub(&h->c->cnt.sse_clients, 1, __ATOMIC_RELAXED);
	sub_put(s);
	pthread_mutex_unlock(&h->mu);
}

/* ---- windows into events ---- */

/** First record start of view @p id in [from, to), for store_first(). */
static int
first_cb(uint32_t view, uint64_t start_ns, uint64_t end_ns, const uint8_t *key, uint32_t key_len,
	 const uint8_t *val, uint32_t val_len, void *arg)
{
	(void)view;
	(void)end_ns;
	(void)key;
	(void)key_len;
	(void)val;
	(void)val_len;
	*(uint64_t *)arg = start_ns;
	return 1;
}

/**
 * Write one event per window of @p r, from @p json (what
 * sl_query_result_write_json() wrote for @p r: "[", one row per line, "]").
 * @return events written, or -EPROTO when the text is not one row per line.
 */
static int64_t
events_write(const struct sl_query_result *r, const char *view, const char *json, size_t len,
	     FILE *out)
{
	const size_t n = sl_query_result_count(r);
	const char *p = json + 2, *end = json + len, *nl;
	uint64_t prev = 0;
	int64_t events = 0;
	struct sl_query_row row;

	if (n == 0)
		return 0;
	if (len < 2 || memcmp(json, "[\n", 2) != 0)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		size_t rl;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || nl == p)
			return -EPROTO;
		rl = (size_t)(nl - p);
		if (p[rl - 1] == ',')
			rl--;
		if (rl == 0 || p[0] != '{' || p[rl - 1] != '}')
			return -EPROTO;
		sl_query_result_row(r, i, &row);
		if (i == 0 || row.window_start != prev) {
			if (i > 0)
				fputs("]}\n\n", out);
			fprintf(out,
				"id: %" PRIu64 "\nevent: window\ndata: {\"view\":\"%s\","
				"\"window_start\":%" PRIu64 ",\"window_end\":%" PRIu64
				",\"rows\":[",
				row.window_start, view, row.window_start, row.window_end);
			events++;
		} else {
			fputc(',', out);
		}
		fwrite(p, 1, rl, out);
		prev = row.window_start;
		p = nl + 1;
	}
	fputs("]}\n\n", out);
	return events;
}

/**
 * The events of the complete windows of @p view from @p from on (store lock
 * held): at most SL_CTLD_SSE_CHUNK windows, up to @p upto.
 * @param[out] ret_next  Where the next chunk starts.
 * @return events written to @p out, or -errno (the message in @p why).
 */
static int64_t
chunk(struct sl_store *st, const char *view, uint32_t id, uint64_t size, uint64_t slide,
      uint64_t from, uint64_t upto, FILE *out, uint64_t *ret_next, char *why, size_t cap)
{
	struct sl_query_params p = { .view = view, .step = SL_QUERY_STEP_WINDOW };
	struct sl_query_result *r = NULL;
	struct sl_query_error err;
	uint64_t first = UINT64_MAX, w0;
	char *buf = NULL;
	size_t len = 0;
	int64_t n;
	FILE *f;
	int rc;

	/* Skip the gap: the first slice with records of a window in [from, upto]. */
	rc = sl_store_scan(st, id, from, upto + size - slide + 1, first_cb, &first);
	if (rc < 0) {
		snprintf(why, cap, "store scan: %s", strerror(-rc));
		return rc;
	}
	if (first == UINT64_MAX) {
		*ret_next = upto + 1;
		return 0;
	}
	w0 = first - from > size - slide ? first - (size - slide) : from;
	p.from_ns = w0;
	p.to_ns = upto + 1;
	if ((p.to_ns - w0) / slide > SL_CTLD_SSE_CHUNK)
		p.to_ns = w0 + SL_CTLD_SSE_CHUNK * slide;
	rc = sl_query_run(st, &p, &r, &err);
	if (rc < 0) {
		snprintf(why, cap, "%s", err.msg);
		return rc;
	}
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		sl_query_result_destroy(r);
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	rc = sl_query_result_write_json(r, f);
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		sl_query_result_destroy(r);
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	n = events_write(r, view, buf, len, out);
	free(buf);
	sl_query_result_destroy(r);
	if (n < 0) {
		snprintf(why, cap, "unexpected query output");
		return n;
	}
	*ret_next = p.to_ns;
	return n;
}

/**
 * Resolve @p view (store lock held): id, window size and slide (from an
 * empty query, which loads the definition the records were written with).
 * @return 0, -ENOENT or another -errno (the message in @p why).
 */
static int
resolve(struct sl_store *st, const char *view, uint32_t *ret_id, uint64_t *ret_size,
	uint64_t *ret_slide, char *why, size_t cap)
{
	struct sl_query_params p = {
		.view = view, .from_ns = 0, .to_ns = 1, .step = SL_QUERY_STEP_WINDOW
	};
	const struct sl_config_view *v;
	struct sl_query_result *r;
	struct sl_query_error err;
	int rc;

	rc = sl_query_run(st, &p, &r, &err);
	if (rc < 0) {
		snprintf(why, cap, "%s", err.msg);
		return rc;
	}
	v = sl_query_result_view(r);
	*ret_id = sl_query_result_view_id(r);
	*ret_size = v->window_size_ns;
	*ret_slide = v->window_slide_ns;
	sl_query_result_destroy(r);
	if (*ret_slide == 0 || *ret_size < *ret_slide) {
		snprintf(why, cap, "view '%s': bad window", view);
		return -EPROTO;
	}
	return 0;
}

/** The newest complete window start, given the newest committed slice @p last. */
static bool
complete_upto(uint64_t last, uint64_t size, uint64_t slide, uint64_t *ret)
{
	if (last + slide < size)
		return false;
	*ret = last + slide - size;
	return true;
}

/* ---- the hub ---- */

struct snap {
	struct sse_sub *s;
	const char *view;  /* s->view: stable while referenced */
	uint32_t id;
	uint64_t size, slide;
	uint64_t next_from;
	size_t pending;
	bool skip;         /* too much unsent: no more this poll */
};

static int
snap_cmp(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;
	int d = strcmp(x->view, y->view);

	if (d != 0)
		return d;
	return x->next_from < y->next_from ? -1 : x->next_from > y->next_from;
}

/** Keepalives, and the clients that left while suspended (hub lock held). */
static void
housekeeping(struct sl_ctld_sse *h, uint64_t now)
{
	for (struct sse_sub *s = h->subs; s != NULL; s = s->next) {
		char b;
		ssize_t r;

		if (s->closed)
			continue;
		if (s->suspended && s->fd >= 0) {
			r = recv(s->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
				       errno != EINTR)) {
				s->closed = true;
				sub_wake(h, s);
				continue;
			}
		}
		if (s->off < s->len || now - s->last_ns < SL_CTLD_SSE_KEEPALIVE_S * SL_NS_PER_SEC)
			continue;
		if (sub_append(s, ": keepalive\n\n", 13))
			sub_wake(h, s);
	}
}

/** Give @p text (@p n events) to the snapshot entries [a, b) and move them to @p next. */
static void
deliver(struct sl_ctld_sse *h, struct snap *sn, size_t a, size_t b, const char *text,
	size_t len, int64_t n, uint64_t next)
{
	pthread_mutex_lock(&h->mu);
	for (size_t i = a; i < b; i++) {
		struct sse_sub *s = sn[i].s;

		if (sn[i].skip || s->gone || s->closed || s->next_from != sn[i].next_from)
			continue;
		if (len > 0 && !sub_append(s, text, len)) {
			s->closed = true; /* out of memory: end it rather than skip windows */
			sub_wake(h, s);
			continue;
		}
		s->next_from = next;
		sn[i].next_from = next;
		sn[i].pending += len;
		if (n > 0)
			sl_ctld_count(&h->c->cnt.sse_events, (uint64_t)n);
		if (len > 0)
			sub_wake(h, s);
	}
	pthread_mutex_unlock(&h->mu);
	wake_flush(h);
}

/** End the streams [a, b) after an error comment (their view is gone). */
static void
end_group(struct sl_ctld_sse *h, struct snap *sn, size_t a, size_t b, const char *why)
{
	char line[320];
	int n = snprintf(line, sizeof(line), ": error: %.256s\n\n", why);

	pthread_mutex_lock(&h->mu);
	for (size_t i = a; i < b; i++) {
		struct sse_sub *s = sn[i].s;

		if (s->gone || s->closed)
			continue;
		if (!sub_append(s, line, (size_t)n))
			s->closed = true;
		s->ending = true;
		s->next_from = UINT64_MAX; /* out of every later poll */
		sub_wake(h, s);
	}
	pthread_mutex_unlock(&h->mu);
	wake_flush(h);
}

/** Serve the subscribers [a, b) of one view, sorted by position. */
static void
poll_view(struct sl_ctld_sse *h, struct snap *sn, size_t a, size_t b)
{
	struct sl_ctld *c = h->c;
	uint32_t id = sn[a].id;
	uint64_t size = sn[a].size, slide = sn[a].slide, last, upto;
	struct sl_store *st;
	char why[512];
	int rc;

	if (sl_ctld_store_lock(c, &st, why, sizeof(why)) < 0)
		return;
	/* The name may have been bound to a new id (a changed definition). */
	rc = sl_store_view_lookup(st, sn[a].view, &id, NULL, NULL);
	if (rc == 0 && id != sn[a].id)
		rc = resolve(st, sn[a].view, &id, &size, &slide, why, sizeof(why));
	if (rc == 0)
		rc = sl_store_last_window(st, id, &last);
	sl_ctld_store_release(c, rc);
	if (rc < 0 || !complete_upto(last, size, slide, &upto))
		return; /* nothing committed yet, or the view is gone: wait */
	if (id != sn[a].id) {
		pthread_mutex_lock(&h->mu);
		for (size_t i = a; i < b; i++) {
			sn[i].s->id = sn[i].id = id;
			sn[i].s->size_ns = sn[i].size = size;
			sn[i].s->slide_ns = sn[i].slide = slide;
		}
		pthread_mutex_unlock(&h->mu);
	}

	/* One position group at a time; a group that catches up merges with the next. */
	for (size_t g = a; g < b;) {
		uint64_t from = sn[g].next_from;
		size_t e = g;

		while (e < b && sn[e].next_from == from)
			e++;
		for (unsigned int k = 0; k < SL_CTLD_SSE_CHUNKS_PER_POLL && from <= upto; k++) {
			char *text = NULL;
			size_t len = 0, room = 0;
			uint64_t next = from;
			int64_t n;
			FILE *f;

			for (size_t i = g; i < e; i++) {
				sn[i].skip = sn[i].next_from != from ||
					     sn[i].pending >= SL_CTLD_SSE_PENDING_MAX;
				room += !sn[i].skip;
			}
			if (room == 0)
				break;
			f = open_memstream(&text, &len);
			if (f == NULL)
				break;
			if (sl_ctld_store_lock(c, &st, why, sizeof(why)) < 0) {
				fclose(f);
				free(text);
				break;
			}
			n = chunk(st, sn[g].view, id, size, slide, from, upto, f, &next, why,
				  sizeof(why));
			sl_ctld_store_release(c, n < 0 ? (int)n : 0);
			if (fclose(f) != 0 && n >= 0)
				n = -ENOMEM;
			if (n < 0) {
				free(text);
				fprintf(stderr, "sluice-ctld: stream of '%s': %s\n", sn[g].view,
					why);
				if (n == -ENOENT)
					end_group(h, sn, g, e, why);
				break;
			}
			deliver(h, sn, g, e, text, len, n, next);
			free(text);
			from = next;
		}
		g = e;
	}
}

static void
poll_once(struct sl_ctld_sse *h)
{
	struct snap *sn;
	size_t n = 0, i, j;

	pthread_mutex_lock(&h->mu);
	housekeeping(h, mono_ns());
	sn = h->n > 0 ? calloc(h->n, sizeof(*sn)) : NULL;
	for (struct sse_sub *s = h->subs; s != NULL && sn != NULL; s = s->next) {
		if (s->closed || s->gone || s->next_from == UINT64_MAX)
			continue;
		s->refs++;
		sn[n++] = (struct snap){ s, s->view, s->id, s->size_ns, s->slide_ns, s->next_from,
					 s->len - s->off, false };
	}
	pthread_mutex_unlock(&h->mu);
	wake_flush(h);
	if (n == 0) {
		free(sn);
		return;
	}
	qsort(sn, n, sizeof(*sn), snap_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && strcmp(sn[j].view, sn[i].view) == 0;)
			j++;
		poll_view(h, sn, i, j);
	}
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < n; i++)
		sub_put(sn[i].s);
	pthread_mutex_unlock(&h->mu);
	free(sn);
}

static void *
hub_main(void *arg)
{
	struct sl_ctld_sse *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += SL_CTLD_SSE_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->cv, &h->mu, &ts);
		if (h->stop)
			break;
		pthread_mutex_unlock(&h->mu);
		poll_once(h);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int
sl_ctld_sse_create(struct sl_ctld *c)
{
	struct sl_ctld_sse *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	if (h == NULL)
		return -ENOMEM;
	h->wake = calloc(c->max_sse > 0 ? c->max_sse : 1, sizeof(*h->wake));
	if (h->wake == NULL) {
		free(h);
		return -ENOMEM;
	}
	h->c = c;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	c->sse = h;
	return 0;
}

int
sl_ctld_sse_start(struct sl_ctld *c)
{
	struct sl_ctld_sse *h = c->sse;
	int rc = pthread_create(&h->thr, NULL, hub_main, h);

	if (rc != 0)
		return -rc;
	pthread_setname_np(h->thr, "sl-sse");
	h->started = true;
	return 0;
}

void
sl_ctld_sse_stop(struct sl_ctld *c)
{
	struct sl_ctld_sse *h = c->sse;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->started)
		pthread_join(h->thr, NULL);
	h->started = false;
	pthread_mutex_lock(&h->mu);
	for (struct sse_sub *s = h->subs; s != NULL; s = s->next) {
		s->closed = true;
		sub_wake(h, s);
	}
	pthread_mutex_unlock(&h->mu);
	wake_flush(h);
}

void
sl_ctld_sse_destroy(struct sl_ctld *c)
{
	struct sl_ctld_sse *h = c->sse;

	if (h == NULL)
		return;
	/* libmicrohttpd has freed every response: no subscriber is left. */
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h->wake);
	free(h);
	c->sse = NULL;
}

/* ---- GET /v1/views/{name}/stream ---- */

static int
parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

enum MHD_Result
sl_ctld_sse_serve(struct sl_ctld *c, struct MHD_Connection *conn, const char *view)
{
	struct sl_ctld_sse *h = c->sse;
	const char *lei = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
	const char *from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
	const union MHD_ConnectionInfo *ci;
	struct MHD_Response *r;
	struct sse_sub *s;
	struct sl_store *st;
	uint64_t size, slide, last, upto, next_from = 0, v;
	bool positioned = false;
	enum MHD_Result ret;
	uint32_t id;
	char why[512];
	int rc;

	/* The limit first, before any work (checked again when the stream is added). */
	pthread_mutex_lock(&h->mu);
	rc = h->n >= c->max_sse;
	pthread_mutex_unlock(&h->mu);
	if (rc)
		return sl_ctld_refuse(c, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      SL_CTLD_REFUSED_SSE_LIMIT,
				      "too many streams open (--max-sse)");
	if (lei == NULL)
		lei = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "last_event_id");
	if (lei != NULL && lei[0] != '\0') {
		if (parse_u64(lei, &v) < 0)
			return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST,
					      SL_CTLD_REFUSED_BAD_REQUEST,
					      "Last-Event-ID: expected a window start in ns");
		next_from = v == UINT64_MAX ? v : v + 1;
		positioned = true;
	} else if (from != NULL && from[0] != '\0') {
		rc = sl_query_time_parse(from, sl_query_now_ns(), &next_from);
		if (rc < 0)
			return sl_ctld_refuse(c, conn, MHD_HTTP_BAD_REQUEST,
					      SL_CTLD_REFUSED_BAD_REQUEST,
					      "from: expected RFC 3339, unix seconds, 'now' or "
					      "'-DURATION'");
		positioned = true;
	}

	if (sl_ctld_store_lock(c, &st, why, sizeof(why)) < 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_SERVICE_UNAVAILABLE, SL_CTLD_REFUSED_STORE,
				      why);
	rc = resolve(st, view, &id, &size, &slide, why, sizeof(why));
	if (rc == 0) {
		rc = sl_store_last_window(st, id, &last);
		if (rc == -ENOENT) {
			last = 0;
			rc = 1; /* nothing committed yet */
		}
	}
	sl_ctld_store_unlock(c);
	if (rc == -ENOENT)
		return sl_ctld_refuse(c, conn, MHD_HTTP_NOT_FOUND, SL_CTLD_REFUSED_NOT_FOUND, why);
	if (rc < 0)
		return sl_ctld_refuse(c, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      SL_CTLD_REFUSED_INTERNAL, why);
	/* No position asked: the windows that become complete from now on. */
	if (!positioned && rc == 0 && complete_upto(last, size, slide, &upto))
		next_from = upto + 1;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MHD_NO;
	s->hub = h;
	s->conn = conn;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	s->fd = ci != NULL ? ci->connect_fd : -1;
	snprintf(s->view, sizeof(s->view), "%s", view);
	s->id = id;
	s->size_ns = size;
	s->slide_ns = slide;
	s->next_from = next_from;
	s->refs = 1; /* the response's */

	pthread_mutex_lock(&h->mu);
	if (h->stop || h->n >= c->max_sse) {
		bool stopping = h->stop;

		pthread_mutex_unlock(&h->mu);
		free(s);
		if (stopping)
			return sl_ctld_refuse(c, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					      SL_CTLD_REFUSED_INTERNAL, "shutting down");
		return sl_ctld_refuse(c, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      SL_CTLD_REFUSED_SSE_LIMIT,
				      "too many streams open (--max-sse)");
	}
	if (!sub_append(s, SL_CTLD_SSE_HELLO, sizeof(SL_CTLD_SSE_HELLO) - 1)) {
		pthread_mutex_unlock(&h->mu);
		free(s);
		return MHD_NO;
	}
	s->next = h->subs;
	h->subs = s;
	h->n++;
	__atomic_fetch_add(&c->cnt.sse_clients, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&h->mu);

	/* From here on the free callback owns s: it runs on any failure below too. */
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SL_CTLD_SSE_BLOCK, sub_read, s,
					      sub_free_cb);
	if (r == NULL) {
		sub_free_cb(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
