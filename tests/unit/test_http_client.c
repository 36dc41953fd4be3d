/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/*
 * control/lib/http_client.c against a tiny HTTP server on a thread of this
 * process (127.0.0.1, a free port): Content-Length, chunked and
 * close-delimited bodies, every response also written one byte per send();
 * server-sent events split across reads and across chunks; and the errors:
 * refused, timed out, malformed, truncated, too large, bad URLs.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "sl_test.h"

/* ---- the server ---- */

struct srv {
	int lfd;
	char url[64];
	pthread_t th;
	const char *resp; /* written after the request was read */
	size_t resp_len;  /* 0: strlen(resp) */
	size_t piece;	  /* bytes per send() (0: all at once) */
	int delay_ms;	  /* between pieces */
	bool no_reply;	  /* read the request, then wait for the client to go */
	bool hold;	  /* after the response, wait for the client to go */
	char req[16384];  /* the request as received */
	size_t req_len;
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* The request: headers, then Content-Length bytes of body. */
static void
srv_read_request(struct srv *s, int fd)
{
	size_t want = SIZE_MAX;

	while (s->req_len < sizeof(s->req) - 1 && s->req_len < want) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *end;

		if (poll(&pfd, 1, 5000) <= 0)
			return;
		n = recv(fd, s->req + s->req_len, sizeof(s->req) - 1 - s->req_len, 0);
		if (n <= 0)
			return;
		s->req_len += (size_t)n;
		s->req[s->req_len] = '\0';
		end = strstr(s->req, "\r\n\r\n");
		if (end != NULL && want == SIZE_MAX) {
			const char *cl = strstr(s->req, "Content-Length: ");

			want = (size_t)(end + 4 - s->req);
			if (cl != NULL && cl < end)
				want += strtoul(cl + 16, NULL, 10);
		}
	}
}

/* Until the client closes (or 5 s). */
static void
srv_wait_close(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char b[256];

	while (poll(&pfd, 1, 5000) > 0 && recv(fd, b, sizeof(b), 0) > 0)
		;
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
	size_t len = s->resp_len ? s->resp_len : (s->resp ? strlen(s->resp) : 0);
	int fd, one = 1;

	if (poll(&pfd, 1, 5000) <= 0)
		return NULL;
	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	srv_read_request(s, fd);
	if (s->no_reply)
		srv_wait_close(fd);
	for (size_t off = 0; off < len;) {
		size_t n = s->piece && s->piece < len - off ? s->piece : len - off;

		if (send(fd, s->resp + off, n, MSG_NOSIGNAL) < 0)
			break;
		off += n;
		if (s->delay_ms > 0 && off < len)
			sleep_ms(s->delay_ms);
	}
	if (s->hold)
		srv_wait_close(fd);
	shutdown(fd, SHUT_WR);
	/* Let the client read everything before the socket goes (no RST). */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&pfd, 1, 2000) > 0) {
		char b[256];

		if (recv(fd, b, sizeof(b), 0) <= 0)
			break;
	}
	close(fd);
	return NULL;
}

#define SRV_NO_REPLY 1u
#define SRV_HOLD     2u

/** Listen on a free loopback port and serve one connection with @p resp. */
static int
srv_start(struct srv *s, const char *resp, size_t piece, int delay_ms, unsigned int flags)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->resp = resp;
	s->piece = piece;
	s->delay_ms = delay_ms;
	s->no_reply = flags & SRV_NO_REPLY;
	s->hold = flags & SRV_HOLD;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(s->lfd, 4) != 0 || getsockname(s->lfd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	return pthread_create(&s->th, NULL, srv_main, s) == 0 ? 0 : -1;
}

static void
srv_stop(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/** GET @p target from a server answering @p resp in pieces of @p piece bytes. */
static int
fetch(const char *resp, size_t piece, const char *target, size_t max_body,
      struct sl_http_response *r, struct sl_http_error *err, struct srv *s)
{
	struct sl_http_request req = { .method = "GET", .target = target, .timeout_ms = 5000 };
	struct sl_http_url u;
	int rc;

	if (srv_start(s, resp, piece, 0, 0) != 0)
		return -EIO;
	rc = sl_http_url_parse(s->url, &u, err);
	if (rc == 0)
		rc = sl_http_fetch(&u, &req, max_body, r, err);
	srv_stop(s);
	return rc;
}

/* ---- bodies ---- */

static const char resp_length[] = "HTTP/1.1 200 OK\r\n"
				  "Content-Type: application/json\r\n"
				  "content-length:   11  \r\n"
				  "\r\n"
				  "hello world";

static const char resp_chunked[] = "HTTP/1.1 200 OK\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "Content-Type: text/plain\r\n"
				   "\r\n"
				   "5;name=value\r\n"
				   "hello\r\n"
				   "1\r\n"
				   " \r\n"
				   "A  \r\n"
				   "0123456789\r\n"
				   "0\r\n"
				   "X-Trailer: yes\r\n"
				   "\r\n";

static const char resp_close[] = "HTTP/1.0 200 OK\r\n"
				 "\r\n"
				 "until the end";

SL_TEST(content_length_body)
{
	struct sl_http_response r;
	struct sl_http_error err;
	struct srv s;

	for (size_t piece = 0; piece <= 3; piece++) {
		SL_ASSERT_OK(fetch(resp_length, piece, "/v1/x?a=1", 0, &r, &err, &s));
		SL_ASSERT_EQ(r.status, 200);
		SL_ASSERT_STR_EQ(r.content_type, "application/json");
		SL_ASSERT_EQ(r.body_len, 11);
		SL_ASSERT_STR_EQ(r.body, "hello world");
		sl_http_response_fini(&r);
		SL_ASSERT(strncmp(s.req, "GET /v1/x?a=1 HTTP/1.1\r\n", 24) == 0);
		SL_ASSERT_NOT_NULL(strstr(s.req, "\r\nHost: 127.0.0.1:"));
		SL_ASSERT_NOT_NULL(strstr(s.req, "\r\nConnection: close\r\n"));
		SL_ASSERT_NULL(strstr(s.req, "Content-Length"));
	}
	return SL_TEST_PASS;
}

SL_TEST(chunked_body)
{
	struct sl_http_response r;
	struct sl_http_error err;
	struct srv s;

	for (size_t piece = 0; piece <= 3; piece++) {
		SL_ASSERT_OK(fetch(resp_chunked, piece, "/", 0, &r, &err, &s));
		SL_ASSERT_EQ(r.status, 200);
		SL_ASSERT_STR_EQ(r.content_type, "text/plain");
		SL_ASSERT_STR_EQ(r.body, "hello 0123456789");
		SL_ASSERT_EQ(r.body_len, 16);
		sl_http_response_fini(&r);
	}
	return SL_TEST_PASS;
}

SL_TEST(close_delimited_body)
{
	struct sl_http_response r;
	struct sl_http_error err;
	struct srv s;

	for (size_t piece = 0; piece <= 1; piece++) {
		SL_ASSERT_OK(fetch(resp_close, piece, "/", 0, &r, &err, &s));
		SL_ASSERT_EQ(r.status, 200);
		SL_ASSERT_STR_EQ(r.content_type, "");
		SL_ASSERT_STR_EQ(r.body, "until the end");
		sl_http_response_fini(&r);
	}
	return SL_TEST_PASS;
}

SL_TEST(error_status_and_empty_bodies)
{
	struct sl_http_response r;
	struct sl_http_error err;
	struct srv s;

	SL_ASSERT_OK(
		fetch("HTTP/1.1 404 Not Found\r\nContent-Length: 17\r\n\r\n{\"error\":\"nope\"}\n",
		      0, "/", 0, &r, &err, &s));
	SL_ASSERT_EQ(r.status, 404);
	SL_ASSERT_STR_EQ(r.body, "{\"error\":\"nope\"}\n");
	sl_http_response_fini(&r);
	/* 204 has no body whatever follows; 100 Continue is skipped. */
	SL_ASSERT_OK(fetch("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 2, "/",
			   0, &r, &err, &s));
	SL_ASSERT_EQ(r.status, 204);
	SL_ASSERT_EQ(r.body_len, 0);
	SL_ASSERT_STR_EQ(r.body, "");
	sl_http_response_fini(&r);
	SL_ASSERT_OK(
		fetch("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, "/", 0, &r, &err, &s));
	SL_ASSERT_EQ(r.body_len, 0);
	sl_http_response_fini(&r);
	return SL_TEST_PASS;
}

SL_TEST(put_sends_headers_and_body)
{
	static const char *const hdrs[] = { "Authorization: Bearer s3cret",
					    "Content-Type: text/yaml", NULL };
	struct sl_http_request req = { .method = "PUT",
				       .target = "/v1/config",
				       .headers = hdrs,
				       .body = "version: 1\n",
				       .body_len = 11,
				       .timeout_ms = 5000 };
	struct sl_http_response r;
	struct sl_http_error err;
	struct sl_http_url u;
	struct srv s;
	char *body;

	SL_ASSERT_OK(srv_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", 0,
			       0, 0));
	/* The URL's path is a prefix of every target; trailing slashes go. */
	strcat(s.url, "/base//");
	SL_ASSERT_OK(sl_http_url_parse(s.url, &u, &err));
	SL_ASSERT_OK(sl_http_fetch(&u, &req, 0, &r, &err));
	srv_stop(&s);
	SL_ASSERT_EQ(r.status, 200);
	SL_ASSERT_STR_EQ(r.body, "{\"ok\":true}");
	sl_http_response_fini(&r);
	SL_ASSERT(strncmp(s.req, "PUT /base/v1/config HTTP/1.1\r\n", 30) == 0);
	SL_ASSERT_NOT_NULL(strstr(s.req, "\r\nAuthorization: Bearer s3cret\r\n"));
	SL_ASSERT_NOT_NULL(strstr(s.req, "\r\nContent-Type: text/yaml\r\n"));
	SL_ASSERT_NOT_NULL(strstr(s.req, "\r\nContent-Length: 11\r\n"));
	body = strstr(s.req, "\r\n\r\n");
	SL_ASSERT_NOT_NULL(body);
	SL_ASSERT_STR_EQ(body + 4, "version: 1\n");
	return SL_TEST_PASS;
}

SL_TEST(streaming_read_and_headers)
{
	struct sl_http_request req = { .method = "GET", .target = "/s", .timeout_ms = 5000 };
	struct sl_http_conn *c = NULL;
	struct sl_http_error err;
	struct sl_http_url u;
	struct srv s;
	char buf[4], all[64];
	size_t len = 0;
	ssize_t n;

	SL_ASSERT_OK(srv_start(&s, resp_chunked, 7, 2, 0));
	SL_ASSERT_OK(sl_http_url_parse(s.url, &u, &err));
	SL_ASSERT_OK(sl_http_open(&u, &req, &c, &err));
	SL_ASSERT_EQ(sl_http_conn_status(c), 200);
	SL_ASSERT_STR_EQ(sl_http_conn_header(c, "content-type"), "text/plain");
	SL_ASSERT_STR_EQ(sl_http_conn_header(c, "TRANSFER-ENCODING"), "chunked");
	SL_ASSERT_NULL(sl_http_conn_header(c, "Content-Length"));
	/* A small buffer: the body comes out in pieces no bigger than it. */
	while ((n = sl_http_conn_read(c, buf, sizeof(buf), 5000, &err)) > 0) {
		SL_ASSERT(n <= (ssize_t)sizeof(buf));
		memcpy(all + len, buf, (size_t)n);
		len += (size_t)n;
	}
	SL_ASSERT_EQ(n, 0);
	all[len] = '\0';
	SL_ASSERT_STR_EQ(all, "hello 0123456789");
	/* After the end, the end again. */
	SL_ASSERT_EQ(sl_http_conn_read(c, buf, sizeof(buf), 5000, &err), 0);
	sl_http_close(c);
	srv_stop(&s);
	sl_http_close(NULL);
	return SL_TEST_PASS;
}

/* ---- server-sent events ---- */

struct events {
	unsigned int n;
	char id[8][32];
	char type[8][32];
	char data[8][128];
	int stop_at; /* return 1 from the callback at this event (0: never) */
};

static int
on_event(const struct sl_sse_event *ev, void *arg)
{
	struct events *e = arg;

	if (e->n < 8) {
		snprintf(e->id[e->n], sizeof(e->id[0]), "%s", ev->id);
		snprintf(e->type[e->n], sizeof(e->type[0]), "%s", ev->event);
		snprintf(e->data[e->n], sizeof(e->data[0]), "%s", ev->data);
		if (strlen(ev->data) != ev->data_len)
			snprintf(e->data[e->n], sizeof(e->data[0]), "<length mismatch>");
	}
	e->n++;
	return e->stop_at > 0 && e->n == (unsigned int)e->stop_at ? 1 : 0;
}

/* Comments, an event without data, CRLF, CR and LF line ends, multi-line data. */
static const char sse_text[] = "\xef\xbb\xbf: keepalive\n"
			       "\n"
			       "retry: 2500\n"
			       "id: 10\n"
			       "event: window\n"
			       "data: {\"a\":1}\n"
			       "\n"
			       "id: 20\r\n"
			       "event: window\r\n"
			       "data: line1\r\n"
			       "data:line2\r\n"
			       "data\r\n"
			       "\r\n"
			       ": keepalive\r"
			       "\r"
			       "id: 30\r"
			       "\r"
			       "data: no type\r"
			       "unknown: field\r"
			       "\r"
			       "data: unterminated";

static int
check_sse(const struct events *e, const struct sl_sse_parser *p)
{
	SL_ASSERT_EQ(e->n, 3);
	SL_ASSERT_STR_EQ(e->id[0], "10");
	SL_ASSERT_STR_EQ(e->type[0], "window");
	SL_ASSERT_STR_EQ(e->data[0], "{\"a\":1}");
	SL_ASSERT_STR_EQ(e->id[1], "20");
	SL_ASSERT_STR_EQ(e->data[1], "line1\nline2\n");
	SL_ASSERT_STR_EQ(e->id[2], "30");
	SL_ASSERT_STR_EQ(e->type[2], "message");
	SL_ASSERT_STR_EQ(e->data[2], "no type");
	SL_ASSERT_STR_EQ(sl_sse_parser_last_id(p), "30");
	SL_ASSERT_EQ(sl_sse_parser_retry_ms(p), 2500);
	return SL_TEST_PASS;
}

SL_TEST(sse_parser_every_split)
{
	const size_t len = sizeof(sse_text) - 1;

	/* Every split into two feeds, and every split into three. */
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j += (i % 7) + 1) {
			struct sl_sse_parser *p = sl_sse_parser_create(0);
			struct events e = { 0 };

			SL_ASSERT_NOT_NULL(p);
			SL_ASSERT_OK(sl_sse_parser_feed(p, sse_text, i, on_event, &e));
			SL_ASSERT_OK(sl_sse_parser_feed(p, sse_text + i, j - i, on_event, &e));
			SL_ASSERT_OK(sl_sse_parser_feed(p, sse_text + j, len - j, on_event, &e));
			if (check_sse(&e, p) != SL_TEST_PASS) {
				sl_sse_parser_destroy(p);
				SL_FAILF("split at %zu, %zu", i, j);
			}
			sl_sse_parser_destroy(p);
		}
	}
	return SL_TEST_PASS;
}

SL_TEST(sse_parser_stop_limit_reset)
{
	struct sl_sse_parser *p = sl_sse_parser_create(16);
	struct events e = { .stop_at = 1 };

	SL_ASSERT_NOT_NULL(p);
	/* The callback's non-zero return stops the feed; the rest of the buffer is dropped. */
	SL_ASSERT_EQ(sl_sse_parser_feed(p, "data: a\n\ndata: b\n\n", 18, on_event, &e), 1);
	SL_ASSERT_EQ(e.n, 1);
	/* A reset forgets a partial event but keeps the id. */
	SL_ASSERT_OK(sl_sse_parser_feed(p, "id: 7\ndata: x\n", 14, on_event, &e));
	sl_sse_parser_reset(p);
	SL_ASSERT_OK(sl_sse_parser_feed(p, "\ndata: y\n\n", 10, on_event, &e));
	SL_ASSERT_EQ(e.n, 2);
	SL_ASSERT_STR_EQ(e.data[1], "y");
	SL_ASSERT_STR_EQ(e.id[1], "7");
	/* Over the limit: a line, then the data of one event. */
	SL_ASSERT_EQ(sl_sse_parser_feed(p, "data: 0123456789abcdef\n", 23, on_event, &e),
		     -EMSGSIZE);
	sl_sse_parser_reset(p);
	SL_ASSERT_EQ(
		sl_sse_parser_feed(p, "data: 0123456789\ndata: 0123456789\n", 34, on_event, &e),
		-EMSGSIZE);
	sl_sse_parser_destroy(p);
	sl_sse_parser_destroy(NULL);
	return SL_TEST_PASS;
}

/* The stream over HTTP: chunked, chunks cut mid-line, sent a few bytes at a time. */
SL_TEST(sse_over_http_split_reads)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "\r\n"
				   "d\r\n: keepalive\n\n\r\n"
				   "9\r\nid: 10\nda\r\n"
				   "1a\r\nta: {\"a\":1}\nevent: window\n\r\n"
				   "1\r\n\n\r\n"
				   "12\r\nid: 20\ndata: two\n\n\r\n"
				   "0\r\n\r\n";
	struct sl_http_request req = { .method = "GET",
				       .target = "/v1/views/v/stream",
				       .timeout_ms = 5000 };
	static const char *const hdrs[] = { "Accept: text/event-stream", "Last-Event-ID: 5", NULL };
	struct sl_sse_parser *p = sl_sse_parser_create(0);
	struct sl_http_conn *c = NULL;
	struct events e = { 0 };
	struct sl_http_error err;
	struct sl_http_url u;
	unsigned int reads = 0;
	struct srv s;
	char buf[8];
	ssize_t n;

	SL_ASSERT_NOT_NULL(p);
	req.headers = hdrs;
	SL_ASSERT_OK(srv_start(&s, resp, 5, 1, 0));
	SL_ASSERT_OK(sl_http_url_parse(s.url, &u, &err));
	SL_ASSERT_OK(sl_http_open(&u, &req, &c, &err));
	SL_ASSERT_STR_EQ(sl_http_conn_header(c, "Content-Type"), "text/event-stream");
	while ((n = sl_http_conn_read(c, buf, sizeof(buf), 5000, &err)) > 0) {
		SL_ASSERT_OK(sl_sse_parser_feed(p, buf, (size_t)n, on_event, &e));
		reads++;
	}
	SL_ASSERT_EQ(n, 0);
	sl_http_close(c);
	srv_stop(&s);
	SL_ASSERT(reads > 10);
	SL_ASSERT_EQ(e.n, 2);
	SL_ASSERT_STR_EQ(e.id[0], "10");
	SL_ASSERT_STR_EQ(e.type[0], "window");
	SL_ASSERT_STR_EQ(e.data[0], "{\"a\":1}");
	SL_ASSERT_STR_EQ(e.id[1], "20");
	SL_ASSERT_STR_EQ(e.data[1], "two");
	SL_ASSERT_NOT_NULL(strstr(s.req, "\r\nLast-Event-ID: 5\r\n"));
	sl_sse_parser_destroy(p);
	return SL_TEST_PASS;
}

/* ---- errors ---- */

SL_TEST(connection_refused)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sl_http_request req = { .method = "GET", .target = "/", .timeout_ms = 2000 };
	socklen_t len = sizeof(sa);
	struct sl_http_response r;
	struct sl_http_error err;
	struct sl_http_url u;
	char url[64];
	int fd;

	/* A port that was free a moment ago, with nobody listening. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	SL_ASSERT(fd >= 0);
	SL_ASSERT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	SL_ASSERT_OK(getsockname(fd, (struct sockaddr *)&sa, &len));
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(sa.sin_port));
	SL_ASSERT_OK(sl_http_url_parse(url, &u, &err));
	SL_ASSERT_EQ(sl_http_fetch(&u, &req, 0, &r, &err), -ECONNREFUSED);
	SL_ASSERT_NOT_NULL(strstr(err.msg, "Connection refused"));
	SL_ASSERT_NOT_NULL(strstr(err.msg, "127.0.0.1:"));
	return SL_TEST_PASS;
}

SL_TEST(timeout_without_reply)
{
	struct sl_http_request req = { .method = "GET", .target = "/", .timeout_ms = 200 };
	struct sl_http_response r;
	struct sl_http_error err;
	struct sl_http_url u;
	struct srv s;

	SL_ASSERT_OK(srv_start(&s, NULL, 0, 0, SRV_NO_REPLY));
	SL_ASSERT_OK(sl_http_url_parse(s.url, &u, &err));
	SL_ASSERT_EQ(sl_http_fetch(&u, &req, 0, &r, &err), -ETIMEDOUT);
	SL_ASSERT_NOT_NULL(strstr(err.msg, "timeout"));
	srv_stop(&s);
	return SL_TEST_PASS;
}

SL_TEST(idle_read_timeout)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
	struct sl_http_request req = { .method = "GET", .target = "/", .timeout_ms = 2000 };
	struct sl_http_conn *c = NULL;
	struct sl_http_error err;
	struct sl_http_url u;
	struct srv s;
	char buf[16];

	/* Headers, then nothing: the server waits for the client to close. */
	SL_ASSERT_OK(srv_start(&s, resp, 0, 0, SRV_HOLD));
	SL_ASSERT_OK(sl_http_url_parse(s.url, &u, &err));
	SL_ASSERT_OK(sl_http_open(&u, &req, &c, &err));
	SL_ASSERT_EQ(sl_http_conn_read(c, buf, sizeof(buf), 100, &err), -ETIMEDOUT);
	SL_ASSERT_NOT_NULL(strstr(err.msg, "no data within 100 ms"));
	sl_http_close(c);
	srv_stop(&s);
	return SL_TEST_PASS;
}

/* Each of these responses is an -EPROTO (or -EMSGSIZE) with a message. */
SL_TEST(malformed_responses)
{
	static const struct {
		const char *resp;
		int rc;
		const char *msg;
	} cases[] = {
		{ "", -EPROTO, "without a response" },
		{ "FOO 200 OK\r\n\r\n", -EPROTO, "not an HTTP response" },
		{ "HTTP/1.1 20 OK\r\n\r\n", -EPROTO, "not an HTTP response" },
		{ "HTTP/1.1 200 OK\r\nContent-Len", -EPROTO, "in the response headers" },
		{ "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", -EPROTO, "malformed header" },
		{ "HTTP/1.1 200 OK\r\n folded\r\n\r\n", -EPROTO, "malformed header" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", -EPROTO, "Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", -EPROTO,
		  "Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabc", -EPROTO, "after 3 of 4" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EPROTO,
		  "chunk size" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
		  -EPROTO, "longer than its size" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", -EPROTO,
		  "inside a chunked body" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", -EMSGSIZE, "larger than 4" },
		{ "HTTP/1.1 200 OK\r\n\r\nhello", -EMSGSIZE, "larger than 4" },
	};
	struct sl_http_response r;
	struct sl_http_error err;
	struct srv s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err.msg[0] = '\0';
		if (fetch(cases[i].resp, 0, "/", 4, &r, &err, &s) != cases[i].rc ||
		    strstr(err.msg, cases[i].msg) == NULL)
			SL_FAILF("case %zu: '%s'", i, err.msg);
	}
	return SL_TEST_PASS;
}

SL_TEST(header_block_too_large)
{
	size_t len = SL_HTTP_HEAD_MAX + 100;
	char *resp = malloc(len + 1);
	struct sl_http_response r;
	struct sl_http_error err;
	struct srv s;
	int rc;

	SL_ASSERT_NOT_NULL(resp);
	memset(resp, 'a', len);
	memcpy(resp, "HTTP/1.1 200 OK\r\nX: ", 20);
	memcpy(resp + len - 4, "\r\n\r\n", 4);
	resp[len] = '\0';
	rc = fetch(resp, 0, "/", 0, &r, &err, &s);
	free(resp);
	SL_ASSERT_EQ(rc, -EMSGSIZE);
	SL_ASSERT_NOT_NULL(strstr(err.msg, "headers larger than"));
	return SL_TEST_PASS;
}

SL_TEST(url_parse)
{
	struct sl_http_error err;
	struct sl_http_url u;

	SL_ASSERT_OK(sl_http_url_parse("http://127.0.0.1:8080", &u, &err));
	SL_ASSERT_STR_EQ(u.host, "127.0.0.1");
	SL_ASSERT_STR_EQ(u.port, "8080");
	SL_ASSERT_STR_EQ(u.authority, "127.0.0.1:8080");
	SL_ASSERT_STR_EQ(u.prefix, "");
	SL_ASSERT_OK(sl_http_url_parse("HTTP://localhost/", &u, &err));
	SL_ASSERT_STR_EQ(u.host, "localhost");
	SL_ASSERT_STR_EQ(u.port, "80");
	SL_ASSERT_STR_EQ(u.prefix, "");
	SL_ASSERT_OK(sl_http_url_parse("http://[::1]:9/api/sluice/", &u, &err));
	SL_ASSERT_STR_EQ(u.host, "::1");
	SL_ASSERT_STR_EQ(u.authority, "[::1]:9");
	SL_ASSERT_STR_EQ(u.prefix, "/api/sluice");

	SL_ASSERT_EQ(sl_http_url_parse("https://x", &u, &err), -EPROTONOSUPPORT);
	SL_ASSERT_NOT_NULL(strstr(err.msg, "only http://"));
	SL_ASSERT_EQ(sl_http_url_parse("ftp://x", &u, &err), -EPROTONOSUPPORT);
	SL_ASSERT_EQ(sl_http_url_parse("127.0.0.1:8080", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://:80", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://h:0", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://h:65536", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://h:80x", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://h:", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://[::1", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://u@h/", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://h/a?b", &u, &err), -EINVAL);
	SL_ASSERT_EQ(sl_http_url_parse("http://h/a#b", &u, &err), -EINVAL);
	return SL_TEST_PASS;
}

SL_TEST(resolve_failure)
{
	struct sl_http_request req = { .method = "GET", .target = "/", .timeout_ms = 2000 };
	struct sl_http_response r;
	struct sl_http_error err;
	struct sl_http_url u;

	/* .invalid never resolves (RFC 2606). */
	SL_ASSERT_OK(sl_http_url_parse("http://no-such-host.invalid:8080", &u, &err));
	SL_ASSERT_EQ(sl_http_fetch(&u, &req, 0, &r, &err), -EHOSTUNREACH);
	SL_ASSERT_NOT_NULL(strstr(err.msg, "cannot resolve 'no-such-host.invalid'"));
	return SL_TEST_PASS;
}

SL_TEST(bad_request_line)
{
	struct sl_http_request req = { .method = "GET", .target = "/a b", .timeout_ms = 100 };
	struct sl_http_response r;
	struct sl_http_error err;
	struct sl_http_url u;

	SL_ASSERT_OK(sl_http_url_parse("http://127.0.0.1:1", &u, &err));
	SL_ASSERT_EQ(sl_http_fetch(&u, &req, 0, &r, &err), -EINVAL);
	req.target = "relative";
	SL_ASSERT_EQ(sl_http_fetch(&u, &req, 0, &r, &err), -EINVAL);
	return SL_TEST_PASS;
}

SL_TEST(escape)
{
	char buf[64];

	SL_ASSERT_EQ(sl_http_escape("a-b_c.d~e", buf, sizeof(buf)), 9);
	SL_ASSERT_STR_EQ(buf, "a-b_c.d~e");
	SL_ASSERT_EQ(sl_http_escape("store=s 01&x/\xc3\xa9+", buf, sizeof(buf)), 30);
	SL_ASSERT_STR_EQ(buf, "store%3Ds%2001%26x%2F%C3%A9%2B");
	/* Cut: whole escapes only, NUL-terminated; the full length is still returned. */
	SL_ASSERT_EQ(sl_http_escape("ab=c", buf, 5), 6);
	SL_ASSERT_STR_EQ(buf, "ab");
	SL_ASSERT_EQ(sl_http_escape("abc", buf, 0), 3);
	return SL_TEST_PASS;
}

SL_TEST_MAIN()
