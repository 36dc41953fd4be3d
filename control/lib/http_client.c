/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * HTTP/1.1 client and event-stream parser (see http_client.h).
 *
 * A connection reads through one fixed buffer of SL_HTTP_HEAD_MAX bytes: the
 * status line and headers must fit in it whole, and the body streams through
 * it. The socket is non-blocking; every wait is a poll() against a deadline.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

#ifndef SL_VERSION
#define SL_VERSION "unknown"
#endif

/** A chunk-size line or a trailer line: longer is not a sane server. */
#define HTTP_LINE_MAX	4096
#define SSE_MAX_DEFAULT (16u * 1024 * 1024)

enum body_mode {
	BODY_NONE,    /* HEAD, 1xx, 204, 304 */
	BODY_LENGTH,  /* Content-Length */
	BODY_CHUNKED, /* Transfer-Encoding: chunked */
	BODY_EOF,     /* until the server closes */
};

enum chunk_state {
	CHUNK_SIZE,	/* expecting "HEX[;ext]\r\n" */
	CHUNK_DATA,	/* @c remaining bytes of data */
	CHUNK_DATA_END, /* expecting the "\r\n" after the data */
	CHUNK_TRAILER,	/* trailer lines until an empty one */
};

struct sl_http_conn {
	int fd;
	int status;
	enum body_mode mode;
	enum chunk_state chunk;
	uint64_t remaining; /* BODY_LENGTH: body bytes left; CHUNK_DATA: chunk bytes left */
	uint64_t received;  /* body bytes handed out */
	bool done;	    /* the body ended */
	char *head;	    /* the header lines (names and values point into it) */
	unsigned int n_headers;
	const char *hname[SL_HTTP_HEADERS_MAX];
	const char *hvalue[SL_HTTP_HEADERS_MAX];
	size_t rpos, rend; /* unread bytes are buf[rpos, rend) */
	char buf[SL_HTTP_HEAD_MAX];
};

static void __attribute__((format(printf, 2, 3)))
seterr(struct sl_http_error *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** A deadline @p timeout_ms from now; -1 (none) for a negative timeout. */
static int64_t
deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/** Wait for @p events on @p fd. @return 0, -ETIMEDOUT, -EINTR or -errno. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left = deadline < 0 ? -1 : deadline - now_ms();
	int rc;

	if (deadline >= 0 && left <= 0)
		return -ETIMEDOUT;
	rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	return 0;
}

/* ---- URL ---- */

int
sl_http_url_parse(const char *url, struct sl_http_url *ret, struct sl_http_error *err)
{
	struct sl_http_url u;
	const char *p, *host, *host_end, *port = NULL, *path;
	size_t hlen, plen;
	bool v6 = false;

	memset(&u, 0, sizeof(u));
	if (strncasecmp(url, "http://", 7) != 0) {
		const char *colon = strstr(url, "://");

		if (colon != NULL) {
			seterr(err, "%s: unsupported scheme '%.*s' (only http:// is)", url,
			       (int)(colon - url), url);
			return -EPROTONOSUPPORT;
		}
		seterr(err, "%s: not a URL (expected http://HOST[:PORT])", url);
		return -EINVAL;
	}
	host = url + 7;
	if (*host == '[') {
		host_end = strchr(host, ']');
		if (host_end == NULL) {
			seterr(err, "%s: unterminated '[' in the host", url);
			return -EINVAL;
		}
		host++;
		p = host_end + 1;
		v6 = true;
	} else {
		host_end = host + strcspn(host, ":/?#");
		p = host_end;
	}
	hlen = (size_t)(host_end - host);
	if (hlen == 0 || hlen >= sizeof(u.host)) {
		seterr(err, "%s: %s host", url, hlen == 0 ? "empty" : "too long a");
		return -EINVAL;
	}
	memcpy(u.host, host, hlen);
	for (size_t i = 0; i < hlen; i++) {
		unsigned char ch = (unsigned char)u.host[i];

		if (ch <= 0x20 || ch == 0x7f || ch == '@' || (!v6 && ch == '[')) {
			seterr(err, "%s: bad character in the host", url);
			return -EINVAL;
		}
	}
	if (*p == ':') {
		unsigned long n = 0;
		size_t nd = 0;

		port = ++p;
		while (isdigit((unsigned char)*p) && nd < 6) {
			n = n * 10 + (unsigned long)(*p++ - '0');
			nd++;
		}
		if (nd == 0 || nd > 5 || n == 0 || n > 65535) {
			seterr(err, "%s: bad port", url);
			return -EINVAL;
		}
		snprintf(u.port, sizeof(u.port), "%lu", n);
	} else {
		snprintf(u.port, sizeof(u.port), "80");
	}
	if (*p != '\0' && *p != '/') {
		seterr(err, "%s: unexpected '%c' after the %s", url, *p, port ? "port" : "host");
		return -EINVAL;
	}
	path = p;
	plen = strlen(path);
	if (strpbrk(path, "?# \t\r\n") != NULL) {
		seterr(err, "%s: a query, fragment or blank is not allowed in the URL", url);
		return -EINVAL;
	}
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	if (plen >= sizeof(u.prefix)) {
		seterr(err, "%s: path too long", url);
		return -EINVAL;
	}
	memcpy(u.prefix, path, plen);
	snprintf(u.authority, sizeof(u.authority), v6 ? "[%s]:%s" : "%s:%s", u.host, u.port);
	*ret = u;
	return 0;
}

size_t
sl_http_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0, written = 0;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
		size_t len = plain ? 1 : 3;

		/* Whole escapes only: once one does not fit, nothing more is written. */
		if (written == n && n + len < cap) {
			if (plain) {
				out[n] = (char)ch;
			} else {
				out[n] = '%';
				out[n + 1] = hex[ch >> 4];
				out[n + 2] = hex[ch & 15];
			}
			written += len;
		}
		n += len;
	}
	if (cap > 0)
		out[written] = '\0';
	return n;
}

/* ---- connecting and sending ---- */

/** Connect to one address before @p deadline. @return the fd or -errno. */
static int
connect_addr(const struct addrinfo *ai, int64_t deadline)
{
	socklen_t len = sizeof(int);
	int fd, rc, soerr = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		rc = -errno;
		goto err;
	}
	rc = wait_fd(fd, POLLOUT, deadline);
	if (rc < 0)
		goto err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
		rc = -errno;
		goto err;
	}
	if (soerr != 0) {
		rc = -soerr;
		goto err;
	}
	return fd;
err:
	close(fd);
	return rc;
}

/** Connect to the first address of @p u that answers. @return the fd or -errno. */
static int
connect_url(const struct sl_http_url *u, int64_t deadline, struct sl_http_error *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int rc, fd = -ECONNREFUSED;

	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
		/* AI_ADDRCONFIG hides ::1 when only lo has IPv6: ask again without it. */
		hints.ai_flags = AI_NUMERICSERV;
		rc = getaddrinfo(u->host, u->port, &hints, &res);
	}
	if (rc != 0) {
		seterr(err, "cannot resolve '%s': %s", u->host,
		       rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return rc == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	}
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = connect_addr(ai, deadline);
		if (fd >= 0 || fd == -EINTR || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd == -ETIMEDOUT)
		seterr(err, "connect to %s: timed out", u->authority);
	else if (fd < 0)
		seterr(err, "connect to %s: %s", u->authority, strerror(-fd));
	return fd;
}

/** Send all of @p buf. @return 0 or -errno. */
static int
send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		int rc;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- reading ---- */

/**
 * Read more bytes into the buffer (moving the unread ones to its start when
 * it is full). @return bytes added, 0 at the end of the stream, or -errno
 * (-EMSGSIZE: the buffer is full of unread bytes).
 */
static ssize_t
fill(struct sl_http_conn *c, int64_t deadline)
{
	if (c->rpos == c->rend)
		c->rpos = c->rend = 0;
	if (c->rend == sizeof(c->buf)) {
		if (c->rpos == 0)
			return -EMSGSIZE;
		memmove(c->buf, c->buf + c->rpos, c->rend - c->rpos);
		c->rend -= c->rpos;
		c->rpos = 0;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->rend, sizeof(c->buf) - c->rend, 0);
		int rc;

		if (n >= 0) {
			c->rend += (size_t)n;
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
}

/**
 * Take the next line (without its LF and a CR before it) out of the buffer.
 * @param[out] ret_line  NUL-terminated, valid until the next read.
 * @return 0, -ENODATA (the stream ended first), -EMSGSIZE (longer than
 *         @p max) or -errno.
 */
static int
read_line(struct sl_http_conn *c, size_t max, int64_t deadline, char **ret_line)
{
	size_t scanned = 0;

	for (;;) {
		char *start = c->buf + c->rpos;
		size_t avail = c->rend - c->rpos;
		char *nl = memchr(start + scanned, '\n', avail - scanned);
		ssize_t n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - start);

			if (len > max)
				return -EMSGSIZE;
			*nl = '\0';
			if (len > 0 && nl[-1] == '\r')
				nl[-1] = '\0';
			c->rpos += len + 1;
			*ret_line = start;
			return 0;
		}
		scanned = avail;
		if (scanned > max)
			return -EMSGSIZE;
		n = fill(c, deadline);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ENODATA;
		/* fill() may have moved the unread bytes to the start: scanned still counts them.
		 */
	}
}

static int
parse_status_line(const char *line, int *ret_status)
{
	/* "HTTP/1.1 200 OK": the version, one space, three digits, then a space or the end. */
	if (strncmp(line, "HTTP/", 5) != 0 || !isdigit((unsigned char)line[5]) || line[6] != '.' ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ')
		return -EPROTO;
	for (int i = 9; i < 12; i++)
		if (!isdigit((unsigned char)line[i]))
			return -EPROTO;
	if (line[12] != '\0' && line[12] != ' ')
		return -EPROTO;
	*ret_status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	return *ret_status >= 100 ? 0 : -EPROTO;
}

/** Content-Length: digits only. @return 0 or -EPROTO. */
static int
parse_length(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EPROTO;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) || v > (UINT64_MAX - 9) / 10)
			return -EPROTO;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

/** The last transfer coding of a Transfer-Encoding value is "chunked". */
static bool
te_chunked(const char *v)
{
	const char *last = strrchr(v, ',');
	size_t len;

	last = last ? last + 1 : v;
	while (*last == ' ' || *last == '\t')
		last++;
	len = strcspn(last, " \t;");
	return len == 7 && strncasecmp(last, "chunked", 7) == 0;
}

/**
 * Read the header lines after the status line into c->head and index them.
 * @return 0 or -errno (message in @p err).
 */
static int
read_headers(struct sl_http_conn *c, int64_t deadline, struct sl_http_error *err)
{
	size_t cap = 1024, len = 0, total = 0;
	char *head = malloc(cap), *line;
	unsigned int n = 0;
	int rc;

	if (head == NULL)
		return -ENOMEM;
	/* Copy every line first ("name\0value\0"): the buffer moves while reading. */
	for (;;) {
		char *colon, *v, *end;
		size_t nlen, vlen;

		rc = read_line(c, SL_HTTP_HEAD_MAX, deadline, &line);
		if (rc < 0)
			goto err;
		if (line[0] == '\0')
			break;
		total += strlen(line) + 2;
		if (total > SL_HTTP_HEAD_MAX || n == SL_HTTP_HEADERS_MAX) {
			rc = -EMSGSIZE;
			goto err;
		}
		colon = strchr(line, ':');
		nlen = colon ? (size_t)(colon - line) : 0;
		if (nlen == 0 || strcspn(line, " \t") < nlen) {
			/* No name, a blank in it, or an obsolete folded line. */
			seterr(err, "malformed header line in the response");
			rc = -EPROTO;
			goto err;
		}
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		vlen = (size_t)(end - v);
		if (len + nlen + vlen + 2 > cap) {
			char *nh;

			while (len + nlen + vlen + 2 > cap)
				cap *= 2;
			nh = realloc(head, cap);
			if (nh == NULL) {
				rc = -ENOMEM;
				goto err;
			}
			head = nh;
		}
		memcpy(head + len, line, nlen);
		head[len + nlen] = '\0';
		memcpy(head + len + nlen + 1, v, vlen);
		head[len + nlen + 1 + vlen] = '\0';
		len += nlen + vlen + 2;
		n++;
	}
	free(c->head);
	c->head = head;
	c->n_headers = n;
	for (unsigned int i = 0, off = 0; i < n; i++) {
		c->hname[i] = head + off;
		off += (unsigned int)strlen(head + off) + 1;
		c->hvalue[i] = head + off;
		off += (unsigned int)strlen(head + off) + 1;
	}
	return 0;
err:
	free(head);
	if (rc == -EMSGSIZE)
		seterr(err, "response headers larger than %u bytes or %u fields", SL_HTTP_HEAD_MAX,
		       SL_HTTP_HEADERS_MAX);
	return rc;
}

/** How the body of the response just read is delimited. @return 0 or -EPROTO. */
static int
body_mode(struct sl_http_conn *c, const char *method, struct sl_http_error *err)
{
	const char *te = sl_http_conn_header(c, "Transfer-Encoding");
	bool have_len = false;
	uint64_t len = 0;

	c->done = false;
	if (strcmp(method, "HEAD") == 0 || c->status < 200 || c->status == 204 ||
	    c->status == 304) {
		c->mode = BODY_NONE;
		c->done = true;
		return 0;
	}
	if (te != NULL) {
		/* RFC 9112 6.3: Transfer-Encoding overrides Content-Length. */
		c->mode = te_chunked(te) ? BODY_CHUNKED : BODY_EOF;
		c->chunk = CHUNK_SIZE;
		return 0;
	}
	for (unsigned int i = 0; i < c->n_headers; i++) {
		uint64_t v;

		if (strcasecmp(c->hname[i], "Content-Length") != 0)
			continue;
		if (parse_length(c->hvalue[i], &v) != 0 || (have_len && v != len)) {
			seterr(err, "bad Content-Length '%s' in the response", c->hvalue[i]);
			return -EPROTO;
		}
		have_len = true;
		len = v;
	}
	if (have_len) {
		c->mode = BODY_LENGTH;
		c->remaining = len;
		c->done = len == 0;
	} else {
		c->mode = BODY_EOF;
	}
	return 0;
}

/** The status line and headers of the final response (1xx skipped). */
static int
read_response(struct sl_http_conn *c, const char *method, int64_t deadline,
	      struct sl_http_error *err)
{
	char *line;
	int rc;

	for (;;) {
		rc = read_line(c, SL_HTTP_HEAD_MAX, deadline, &line);
		if (rc == -ENODATA) {
			seterr(err, "the server closed the connection without a response");
			return -EPROTO;
		}
		if (rc < 0)
			goto err;
		rc = parse_status_line(line, &c->status);
		if (rc < 0) {
			seterr(err, "not an HTTP response: '%.60s'", line);
			return rc;
		}
		rc = read_headers(c, deadline, err);
		if (rc == -ENODATA) {
			seterr(err, "the server closed the connection in the response headers");
			return -EPROTO;
		}
		if (rc < 0)
			goto err;
		/* 101 Switching Protocols is final; other 1xx precede the real response. */
		if (c->status >= 200 || c->status == 101)
			break;
	}
	return body_mode(c, method, err);
err:
	if (rc == -ETIMEDOUT)
		seterr(err, "no response within the timeout");
	else if (rc == -EMSGSIZE)
		seterr(err, "response headers larger than %u bytes", SL_HTTP_HEAD_MAX);
	else if (rc != -EPROTO)
		seterr(err, "reading the response: %s", strerror(-rc));
	return rc;
}

int
sl_http_open(const struct sl_http_url *u, const struct sl_http_request *req,
	     struct sl_http_conn **ret, struct sl_http_error *err)
{
	int64_t deadline = deadline_of(req->timeout_ms);
	struct sl_http_conn *c;
	char *head = NULL;
	size_t hlen = 0;
	FILE *f;
	int rc, send_rc;

	if (strchr(req->method, ' ') != NULL || strpbrk(req->target, " \r\n") != NULL ||
	    req->target[0] != '/') {
		seterr(err, "bad request line: %s %s", req->method, req->target);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		seterr(err, "out of memory");
		return -ENOMEM;
	}
	c->fd = -1;
	f = open_memstream(&head, &hlen);
	if (f == NULL) {
		rc = -ENOMEM;
		seterr(err, "out of memory");
		goto err;
	}
	fprintf(f,
		"%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sluice-http/%s\r\n"
		"Connection: close\r\n",
		req->method, u->prefix, req->target, u->authority, SL_VERSION);
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
		fprintf(f, "%s\r\n", *h);
	if (req->body != NULL)
		fprintf(f, "Content-Length: %zu\r\n", req->body_len);
	fputs("\r\n", f);
	if (fclose(f) != 0) {
		rc = -ENOMEM;
		seterr(err, "out of memory");
		goto err;
	}

	c->fd = connect_url(u, deadline, err);
	if (c->fd < 0) {
		rc = c->fd;
		goto err;
	}
	send_rc = send_all(c->fd, head, hlen, deadline);
	if (send_rc == 0 && req->body != NULL)
		send_rc = send_all(c->fd, req->body, req->body_len, deadline);
	if (send_rc == -EINTR || send_rc == -ETIMEDOUT) {
		rc = send_rc;
		seterr(err, "sending the request to %s: %s", u->authority,
		       rc == -EINTR ? "interrupted" : "timed out");
		goto err;
	}
	/* A server may answer (413, 401) and close before reading the whole body. */
	rc = read_response(c, req->method, deadline, err);
	if (rc < 0 && send_rc < 0) {
		rc = send_rc;
		seterr(err, "sending the request to %s: %s", u->authority, strerror(-rc));
	}
	if (rc < 0)
		goto err;
	free(head);
	*ret = c;
	return 0;
err:
	free(head);
	sl_http_close(c);
	return rc;
}

int
sl_http_conn_status(const struct sl_http_conn *c)
{
	return c->status;
}

const char *
sl_http_conn_header(const struct sl_http_conn *c, const char *name)
{
	for (unsigned int i = 0; i < c->n_headers; i++)
		if (strcasecmp(c->hname[i], name) == 0)
			return c->hvalue[i];
	return NULL;
}

/** Copy up to @p want buffered (or newly received) body bytes. */
static ssize_t
take(struct sl_http_conn *c, void *buf, size_t cap, uint64_t want, int64_t deadline)
{
	size_t n;

	if (c->rpos == c->rend) {
		ssize_t got = fill(c, deadline);

		if (got <= 0)
			return got;
	}
	n = c->rend - c->rpos;
	if (n > cap)
		n = cap;
	if (n > want)
		n = (size_t)want;
	memcpy(buf, c->buf + c->rpos, n);
	c->rpos += n;
	c->received += n;
	return (ssize_t)n;
}

/** One step of the chunked framing. @return > 0 bytes, 0 to go on (or done), -errno. */
static ssize_t
chunked_step(struct sl_http_conn *c, void *buf, size_t cap, int64_t deadline,
	     struct sl_http_error *err)
{
	char *line, *end;
	ssize_t n;
	int rc;

	switch (c->chunk) {
	case CHUNK_SIZE:
		rc = read_line(c, HTTP_LINE_MAX, deadline, &line);
		if (rc < 0)
			return rc;
		errno = 0;
		if (!isxdigit((unsigned char)line[0])) {
			seterr(err, "bad chunk size line '%.40s'", line);
			return -EPROTO;
		}
		c->remaining = strtoull(line, &end, 16);
		while (*end == ' ' || *end == '\t')
			end++;
		if (errno != 0 || (*end != '\0' && *end != ';')) {
			seterr(err, "bad chunk size line '%.40s'", line);
			return -EPROTO;
		}
		c->chunk = c->remaining == 0 ? CHUNK_TRAILER : CHUNK_DATA;
		return 0;
	case CHUNK_DATA:
		n = take(c, buf, cap, c->remaining, deadline);
		if (n <= 0)
			return n == 0 ? -ENODATA : n;
		c->remaining -= (uint64_t)n;
		if (c->remaining == 0)
			c->chunk = CHUNK_DATA_END;
		return n;
	case CHUNK_DATA_END:
		rc = read_line(c, HTTP_LINE_MAX, deadline, &line);
		if (rc < 0)
			return rc;
		if (line[0] != '\0') {
			seterr(err, "chunk data longer than its size");
			return -EPROTO;
		}
		c->chunk = CHUNK_SIZE;
		return 0;
	case CHUNK_TRAILER:
		rc = read_line(c, HTTP_LINE_MAX, deadline, &line);
		if (rc < 0)
			return rc;
		if (line[0] == '\0')
			c->done = true;
		return 0;
	}
	return -EPROTO;
}

ssize_t
sl_http_conn_read(struct sl_http_conn *c, void *buf, size_t cap, int timeout_ms,
		  struct sl_http_error *err)
{
	int64_t deadline = deadline_of(timeout_ms);
	ssize_t n = 0;

	if (cap == 0)
		return -EINVAL;
	while (!c->done && n == 0) {
		switch (c->mode) {
		case BODY_NONE:
			c->done = true;
			break;
		case BODY_LENGTH:
			n = take(c, buf, cap, c->remaining, deadline);
			if (n == 0) {
				seterr(err,
				       "the server closed the connection after %" PRIu64
				       " of %" PRIu64 " body bytes",
				       c->received, c->received + c->remaining);
				return -EPROTO;
			}
			if (n > 0) {
				c->remaining -= (uint64_t)n;
				c->done = c->remaining == 0;
			}
			break;
		case BODY_EOF:
			n = take(c, buf, cap, UINT64_MAX, deadline);
			if (n == 0)
				c->done = true;
			break;
		case BODY_CHUNKED:
			n = chunked_step(c, buf, cap, deadline, err);
			if (n == -ENODATA) {
				seterr(err,
				       "the server closed the connection inside a chunked body");
				return -EPROTO;
			}
			if (n == -EMSGSIZE) {
				seterr(err, "chunk framing line longer than %u bytes",
				       HTTP_LINE_MAX);
				return -EPROTO;
			}
			break;
		}
		if (n < 0) {
			if (n == -ETIMEDOUT)
				seterr(err, "no data within %d ms", timeout_ms);
			else if (n == -EINTR)
				seterr(err, "interrupted");
			else if (n != -EPROTO)
				seterr(err, "reading the response: %s", strerror((int)-n));
			return n;
		}
	}
	return n;
}

void
sl_http_close(struct sl_http_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->head);
	free(c);
}

int
sl_http_fetch(const struct sl_http_url *u, const struct sl_http_request *req, size_t max_body,
	      struct sl_http_response *ret, struct sl_http_error *err)
{
	int64_t deadline = deadline_of(req->timeout_ms);
	struct sl_http_response r = { 0 };
	struct sl_http_conn *c = NULL;
	size_t cap = 4096;
	const char *ct;
	int rc;

	if (max_body == 0)
		max_body = SL_HTTP_BODY_MAX_DEFAULT;
	rc = sl_http_open(u, req, &c, err);
	if (rc < 0)
		return rc;
	r.status = c->status;
	ct = sl_http_conn_header(c, "Content-Type");
	r.content_type = strdup(ct ? ct : "");
	/* A known length sizes the buffer once (bounded by max_body). */
	if (c->mode == BODY_LENGTH) {
		if (c->remaining > max_body) {
			rc = -EMSGSIZE;
			goto too_big;
		}
		cap = (size_t)c->remaining + 1;
	}
	r.body = malloc(cap);
	if (r.content_type == NULL || r.body == NULL) {
		rc = -ENOMEM;
		seterr(err, "out of memory");
		goto err;
	}
	for (;;) {
		int left = -1;
		ssize_t n;

		if (deadline >= 0) {
			int64_t l = deadline - now_ms();

			left = l <= 0 ? 0 : l > INT32_MAX ? INT32_MAX : (int)l;
		}
		if (r.body_len + 1 == cap) {
			char *nb;

			if (c->done)
				break;
			/* body_len <= max_body here, so the buffer grows by one byte at least. */
			cap = cap * 2 > max_body + 2 ? max_body + 2 : cap * 2;
			nb = realloc(r.body, cap);
			if (nb == NULL) {
				rc = -ENOMEM;
				seterr(err, "out of memory");
				goto err;
			}
			r.body = nb;
		}
		n = sl_http_conn_read(c, r.body + r.body_len, cap - 1 - r.body_len, left, err);
		if (n < 0) {
			rc = (int)n;
			if (rc == -ETIMEDOUT)
				seterr(err, "the response did not complete within the timeout");
			goto err;
		}
		if (n == 0)
			break;
		r.body_len += (size_t)n;
		if (r.body_len > max_body) {
			rc = -EMSGSIZE;
			goto too_big;
		}
	}
	r.body[r.body_len] = '\0';
	sl_http_close(c);
	*ret = r;
	return 0;
too_big:
	seterr(err, "response body larger than %zu bytes", max_body);
err:
	sl_http_close(c);
	sl_http_response_fini(&r);
	return rc;
}

void
sl_http_response_fini(struct sl_http_response *r)
{
	free(r->content_type);
	free(r->body);
	r->content_type = NULL;
	r->body = NULL;
	r->body_len = 0;
}

/* ---- text/event-stream ---- */

/** A growable byte buffer, always NUL-terminated when allocated. */
struct sse_buf {
	char *p;
	size_t len;
	size_t cap;
};

struct sl_sse_parser {
	size_t max;
	struct sse_buf line;  /* the line being read */
	struct sse_buf data;  /* "data" values of the event, each with a '\n' */
	struct sse_buf event; /* the event type ("" = message) */
	struct sse_buf id;    /* the last event id: kept across events and resets */
	uint64_t retry_ms;
	bool cr;	 /* the last byte was a CR: an LF right after it is the same EOL */
	bool first_line; /* a UTF-8 BOM may start the stream */
};

static int
buf_set(struct sse_buf *b, size_t max, const char *s, size_t len, bool append)
{
	size_t need = (append ? b->len : 0) + len;

	if (need > max)
		return -EMSGSIZE;
	if (need + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *np;

		while (cap < need + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	if (!append)
		b->len = 0;
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

struct sl_sse_parser *
sl_sse_parser_create(size_t max)
{
	struct sl_sse_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->max = max ? max : SSE_MAX_DEFAULT;
	p->first_line = true;
	if (buf_set(&p->id, p->max, "", 0, false) < 0 ||
	    buf_set(&p->event, p->max, "", 0, false) < 0 ||
	    buf_set(&p->data, p->max, "", 0, false) < 0) {
		sl_sse_parser_destroy(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void
sl_sse_parser_destroy(struct sl_sse_parser *p)
{
	if (p == NULL)
		return;
	free(p->line.p);
	free(p->data.p);
	free(p->event.p);
	free(p->id.p);
	free(p);
}

void
sl_sse_parser_reset(struct sl_sse_parser *p)
{
	p->line.len = 0;
	p->data.len = 0;
	p->data.p[0] = '\0';
	p->event.len = 0;
	p->event.p[0] = '\0';
	p->cr = false;
	p->first_line = true;
}

const char *
sl_sse_parser_last_id(const struct sl_sse_parser *p)
{
	return p->id.p;
}

uint64_t
sl_sse_parser_retry_ms(const struct sl_sse_parser *p)
{
	return p->retry_ms;
}

/** One complete line (NUL-terminated in p->line). */
static int
sse_line(struct sl_sse_parser *p, sl_sse_event_fn fn, void *arg)
{
	const char *line = p->line.p ? p->line.p : "";
	size_t len = p->line.len, nlen;
	const char *value;
	int rc = 0;

	if (p->first_line && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		len -= 3;
	}
	p->first_line = false;
	if (len == 0) {
		/* Dispatch: an event without data is no event (the spec), but its id stays. */
		if (p->data.len > 0) {
			struct sl_sse_event ev;

			p->data.p[--p->data.len] = '\0'; /* the last '\n' */
			ev.id = p->id.p;
			ev.event = p->event.len > 0 ? p->event.p : "message";
			ev.data = p->data.p;
			ev.data_len = p->data.len;
			rc = fn(&ev, arg);
		}
		p->data.len = 0;
		p->data.p[0] = '\0';
		p->event.len = 0;
		p->event.p[0] = '\0';
		return rc;
	}
	if (line[0] == ':')
		return 0; /* a comment: the keepalive */
	nlen = strcspn(line, ":");
	if (nlen < len) {
		value = line + nlen + 1;
		if (*value == ' ')
			value++;
	} else {
		value = line + len;
	}
	if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		size_t vlen = len - (size_t)(value - line);

		rc = buf_set(&p->data, p->max, value, vlen, true);
		if (rc == 0)
			rc = buf_set(&p->data, p->max, "\n", 1, true);
	} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		rc = buf_set(&p->event, p->max, value, strlen(value), false);
	} else if (nlen == 2 && memcmp(line, "id", 2) == 0) {
		/* An id with a NUL is ignored (the spec); strlen() would stop there. */
		if (strlen(value) == len - (size_t)(value - line))
			rc = buf_set(&p->id, p->max, value, strlen(value), false);
	} else if (nlen == 5 && memcmp(line, "retry", 5) == 0) {
		uint64_t v = 0;
		const char *s = value;

		for (; isdigit((unsigned char)*s) && v < UINT64_MAX / 10 - 9; s++)
			v = v * 10 + (uint64_t)(*s - '0');
		if (*s == '\0' && s != value)
			p->retry_ms = v;
	}
	return rc;
}

int
sl_sse_parser_feed(struct sl_sse_parser *p, const char *buf, size_t len, sl_sse_event_fn fn,
		   void *arg)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		size_t run;

		if (p->cr && buf[i] == '\n') {
			p->cr = false;
			i++;
			continue;
		}
		p->cr = false;
		if (buf[i] == '\r' || buf[i] == '\n') {
			p->cr = buf[i] == '\r';
			i++;
			if (p->line.p == NULL && (rc = buf_set(&p->line, p->max, "", 0, false)) < 0)
				return rc;
			rc = sse_line(p, fn, arg);
			p->line.len = 0;
			p->line.p[0] = '\0';
			if (rc != 0)
				return rc;
			continue;
		}
		/* The run of bytes up to the next end of line goes into the line at once. */
		for (run = 0; i + run < len && buf[i + run] != '\r' && buf[i + run] != '\n'; run++)
			;
		rc = buf_set(&p->line, p->max, buf + i, run, true);
		if (rc < 0)
			return rc;
		i += run;
	}
	return 0;
}
