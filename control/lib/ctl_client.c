/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * Request/reply on sluiced's control socket (see ctl_client.h).
 */

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_client.h"

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
remaining_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

int64_t
sl_ctl_deadline(int timeout_ms)
{
	return now_ms() + timeout_ms;
}

int
sl_ctl_connect(const char *path, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (rc == 0)
			return fd;
		/* A unix listener with a full backlog says EAGAIN: retry until the deadline. */
		if (errno == EAGAIN && remaining_ms(deadline) > 0) {
			poll(NULL, 0, 10);
			continue;
		}
		if (errno == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			socklen_t len = sizeof(rc);

			if (poll(&pfd, 1, remaining_ms(deadline)) <= 0) {
				errno = ETIMEDOUT;
				break;
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) < 0)
				break;
			if (rc == 0)
				return fd;
			errno = rc;
		}
		break;
	}
	rc = -errno;
	close(fd);
	return rc;
}

int
sl_ctl_send(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&pfd, 1, remaining_ms(deadline)) <= 0)
			return -ETIMEDOUT;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
sl_ctl_recv_line(int fd, int64_t deadline, char **ret_buf, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1), *nl = NULL;
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	while (nl == NULL) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (len == cap) {
			char *nbuf;

			/* Room for SL_CTL_REPLY_MAX bytes and the '\n'. */
			if (cap > SL_CTL_REPLY_MAX) {
				rc = -EMSGSIZE;
				goto fail;
			}
			cap = cap * 2 < SL_CTL_REPLY_MAX + 1 ? cap * 2 : SL_CTL_REPLY_MAX + 1;
			nbuf = realloc(buf, cap + 1);
			if (nbuf == NULL) {
				rc = -ENOMEM;
				goto fail;
			}
			buf = nbuf;
		}
		rc = poll(&pfd, 1, remaining_ms(deadline));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			rc = rc == 0 ? -ETIMEDOUT : -errno;
			goto fail;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (nl != NULL) {
		len = (size_t)(nl - buf);
	} else if (len == 0) {
		rc = -ENODATA;
		goto fail;
	}
	if (len > SL_CTL_REPLY_MAX) {
		rc = -EMSGSIZE;
		goto fail;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
fail:
	free(buf);
	return rc;
}

int
sl_ctl_call(const char *path, const char *req, int timeout_ms, char **ret_buf, size_t *ret_len)
{
	int64_t deadline = sl_ctl_deadline(timeout_ms);
	int fd, rc;

	fd = sl_ctl_connect(path, deadline);
	if (fd < 0)
		return fd;
	rc = sl_ctl_send(fd, req, strlen(req), deadline);
	if (rc == 0)
		rc = sl_ctl_recv_line(fd, deadline, ret_buf, ret_len);
	close(fd);
	return rc;
}
