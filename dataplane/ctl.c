/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#define MAX_CLIENTS 16
#define REQ_MAX (SL_CTL_REQ_MAX + 2) /* the line, its '\n' and a NUL */
#define REPLY_MAX (1u << 20)

struct client {
	int fd;
	uint32_t len;
	char *buf;   /* REQ_MAX bytes, allocated at the first connection of the slot */
};

struct sl_ctl {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct sl_ctl_cmd *cmds;
	void *arg;
	struct client clients[MAX_CLIENTS];
	char *reply;
	gid_t group;     /* peers of this primary group are allowed too; (gid_t)-1: none */
};

static int
mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
sl_ctl_open(const char *path, const struct sl_ctl_cmd *cmds, void *arg, struct sl_ctl **ret_ctl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sl_ctl *c;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fd = -1;
	c->group = (gid_t)-1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->reply = malloc(REPLY_MAX);
	if (c->reply == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->cmds = cmds;
	c->arg = arg;
	rc = mkdir_parent(path);
	if (rc < 0)
		goto err;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		rc = -errno;
		goto err;
	}
	/* A socket file left by a crashed run: replace it only if nobody listens. */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		rc = -EADDRINUSE;
		goto err;
	}
	close(c->fd);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		rc = -errno;
		goto err;
	}
	(void)unlink(path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0660) != 0 ||
	    listen(c->fd, 8) != 0) {
		rc = -errno;
		goto err;
	}
	*ret_ctl = c;
	return 0;
err:
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->path[0] = '\0';
	sl_ctl_close(c);
	return rc;
}

int
sl_ctl_set_group(struct sl_ctl *c, gid_t gid)
{
	if (chown(c->path, (uid_t)-1, gid) != 0)
		return -errno;
	c->group = gid;
	return 0;
}

/* Is @p gid among the supplementary groups of process @p pid (/proc/PID/status)? */
static int
pid_in_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *p = line + 7, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == gid)
				found = 1;
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

static int
peer_allowed(const struct sl_ctl *c, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return 0;
	if (cr.uid == 0 || cr.uid == geteuid() || cr.gid == getegid())
		return 1;
	/* --ctl-group: its members, by primary or supplementary group. */
	return c->group != (gid_t)-1 && (cr.gid == c->group || pid_in_group(cr.pid, c->group));
}

static void
client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
}

static void
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (poll(&p, 1, 1000) <= 0)
				return;
			continue;
		}
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void
handle_request(struct sl_ctl *c, struct client *cl, char *line)
{
	const char *args = "";
	char *sp;
	int n = -1;

	while (*line == ' ')
		line++;
	sp = strchr(line, ' ');
	if (sp != NULL) {
		*sp = '\0';
		args = sp + 1;
	}
	if (strcmp(line, "help") == 0) {
		int off = snprintf(c->reply, REPLY_MAX, "{\"commands\":[");

		for (const struct sl_ctl_cmd *cmd = c->cmds; cmd->name != NULL; cmd++)
			off += snprintf(c->reply + off, REPLY_MAX - off, "%s{\"name\":\"%s\",\"help\":\"%s\"}",
					cmd == c->cmds ? "" : ",", cmd->name, cmd->help);
		n = off + snprintf(c->reply + off, REPLY_MAX - off, "]}");
	} else {
		for (const struct sl_ctl_cmd *cmd = c->cmds; cmd->name != NULL; cmd++)
			if (strcmp(cmd->name, line) == 0) {
				n = cmd->fn(line, args, c->reply, REPLY_MAX - 1, c->arg);
				if (n < 0)
					n = snprintf(c->reply, REPLY_MAX,
						     "{\"error\":\"reply too large\"}");
				goto send;
			}
		n = snprintf(c->reply, REPLY_MAX,
			     "{\"error\":\"unknown command '%.64s' (try 'help')\"}", line);
	}
send:
	c->reply[n++] = '\n';
	send_all(cl->fd, c->reply, (size_t)n);
}

static void
client_read(struct sl_ctl *c, struct client *cl)
{
	ssize_t n = recv(cl->fd, cl->buf + cl->len, REQ_MAX - 1 - cl->len, 0);
	char *nl;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(cl);
		return;
	}
	cl->len += (uint32_t)n;
	cl->buf[cl->len] = '\0';
	while ((nl = strchr(cl->buf, '\n')) != NULL) {
		uint32_t used = (uint32_t)(nl - cl->buf) + 1;

		*nl = '\0';
		if (nl > cl->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		handle_request(c, cl, cl->buf);
		memmove(cl->buf, cl->buf + used, cl->len - used + 1);
		cl->len -= used;
	}
	if (cl->len >= REQ_MAX - 1) {
		static const char msg[] = "{\"error\":\"request too long\"}\n";

		send_all(cl->fd, msg, sizeof(msg) - 1);
		client_close(cl);
	}
}

void
sl_ctl_poll(struct sl_ctl *c, int timeout_ms)
{
	struct pollfd pfd[MAX_CLIENTS + 1];
	int idx[MAX_CLIENTS + 1];
	int n = 0;

	pfd[n].fd = c->fd;
	pfd[n].events = POLLIN;
	idx[n++] = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0) {
			pfd[n].fd = c->clients[i].fd;
			pfd[n].events = POLLIN;
			idx[n++] = i;
		}
	if (poll(pfd, (nfds_t)n, timeout_ms) <= 0)
		return;
	for (int k = 1; k < n; k++)
		if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
			client_read(c, &c->clients[idx[k]]);
	if (pfd[0].revents & POLLIN) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		int slot = -1;

		if (fd < 0)
			return;
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (c->clients[i].fd < 0) {
				slot = i;
				break;
			}
		if (slot >= 0 && c->clients[slot].buf == NULL)
			c->clients[slot].buf = malloc(REQ_MAX);
		if (slot < 0 || !peer_allowed(c, fd) || c->clients[slot].buf == NULL) {
			static const char busy[] = "{\"error\":\"too many clients\"}\n";
			static const char denied[] = "{\"error\":\"permission denied\"}\n";

			if (slot < 0)
				send_all(fd, busy, sizeof(busy) - 1);
			else
				send_all(fd, denied, sizeof(denied) - 1);
			close(fd);
			return;
		}
		c->clients[slot].fd = fd;
		c->clients[slot].len = 0;
	}
}

void
sl_ctl_close(struct sl_ctl *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		client_close(&c->clients[i]);
		free(c->clients[i].buf);
	}
	if (c->fd >= 0) {
		close(c->fd);
		if (c->path[0] != '\0')
			unlink(c->path);
	}
	free(c->reply);
	free(c);
}
