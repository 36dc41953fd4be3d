/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * The user-space side of sl_xdp.bpf.c; see loader.h. The only file that
 * includes libbpf. libbpf >= 1.0 returns negative errno codes from its
 * low-level calls, so they are passed on as they are.
 */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/xdp_diag.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "sl_xdp.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/*
 * The maps: X(enum suffix, name, type, kept: stays pinned after sluiced exits
 * and is carried over to the next program).
 */
#define SL_XDP_MAPS(_)                                                  \
	_(XSKS, SL_XDP_MAP_XSKS, BPF_MAP_TYPE_XSKMAP, false)            \
	_(PORTS, SL_XDP_MAP_PORTS, BPF_MAP_TYPE_HASH, false)            \
	_(STATS, SL_XDP_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, false)    \
	_(CONF, SL_XDP_MAP_CONF, BPF_MAP_TYPE_ARRAY, true)              \
	_(DENY4, SL_XDP_MAP_DENY4, BPF_MAP_TYPE_LPM_TRIE, true)         \
	_(DENY6, SL_XDP_MAP_DENY6, BPF_MAP_TYPE_LPM_TRIE, true)         \
	_(ALLOW4, SL_XDP_MAP_ALLOW4, BPF_MAP_TYPE_LPM_TRIE, true)       \
	_(ALLOW6, SL_XDP_MAP_ALLOW6, BPF_MAP_TYPE_LPM_TRIE, true)

enum map_idx {
#define _(e, name, type, kept) MAP_##e,
	SL_XDP_MAPS(_)
#undef _
	MAP__MAX,
};

static const struct {
	const char *name;
	enum bpf_map_type type;
	bool kept;
} maps[MAP__MAX] = {
#define _(e, n, t, k) [MAP_##e] = { n, t, k },
	SL_XDP_MAPS(_)
#undef _
};

/* The program's own pin name beside the maps. */
#define PIN_PROG "prog"

struct sl_xdp {
	struct sl_xdp_bpf *skel; /* sl_xdp_load() only: owns the fds below */
	int prog_fd;
	uint32_t prog_id;
	int fd[MAP__MAX];
	uint32_t ifindex;
	uint8_t attach_mode; /* XDP_ATTACHED_* */
	char ifname[IF_NAMESIZE];
	char dir[PATH_MAX]; /* our pin directory once sl_xdp_pin() succeeded */
	int ncpus;
};

static const char *const stat_names[SL_XDP_STAT__MAX] = {
#define _(e, label, verdict) [SL_XDP_STAT_##e] = label,
	SL_XDP_STATS(_)
#undef _
};

static const char *const stat_verdicts[SL_XDP_STAT__MAX] = {
#define _(e, label, verdict) [SL_XDP_STAT_##e] = verdict,
	SL_XDP_STATS(_)
#undef _
};

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static struct sl_xdp *
xdp_new(void)
{
	struct sl_xdp *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->prog_fd = -1;
	for (unsigned int i = 0; i < MAP__MAX; i++)
		x->fd[i] = -1;
	x->ncpus = libbpf_num_possible_cpus();
	return x;
}

const char *
sl_xdp_stat_name(unsigned int stat)
{
	return stat < SL_XDP_STAT__MAX ? stat_names[stat] : "?";
}

const char *
sl_xdp_stat_verdict(unsigned int stat)
{
	return stat < SL_XDP_STAT__MAX ? stat_verdicts[stat] : "?";
}

static const char *
mode_name(uint8_t mode)
{
	switch (mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	case XDP_ATTACHED_MULTI:
		return "multi";
	default:
		return "";
	}
}

/* The id of the XDP program attached to @p ifindex (0: none) and its mode. */
static int
attached_prog(uint32_t ifindex, uint32_t *ret_id, uint8_t *ret_mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int rc;

	rc = bpf_xdp_query((int)ifindex, 0, &q);
	if (rc < 0)
		return rc;
	*ret_mode = q.attach_mode;
	if (q.attach_mode == XDP_ATTACHED_MULTI)
		*ret_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	else
		*ret_id = q.prog_id;
	return 0;
}

static int
map_info(int fd, struct bpf_map_info *info)
{
	uint32_t len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len);
}

static int
prog_id_of(int fd, uint32_t *ret_id)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int rc;

	memset(&info, 0, sizeof(info));
	rc = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (rc < 0)
		return rc;
	*ret_id = info.id;
	return 0;
}

/* Open the maps of the program @p x->prog_fd by name. */
static int
open_prog_maps(struct sl_xdp *x, char *err, size_t err_len)
{
	uint32_t ids[32], len;
	struct bpf_prog_info info;
	int rc;

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	len = sizeof(info);
	rc = bpf_obj_get_info_by_fd(x->prog_fd, &info, &len);
	if (rc < 0) {
		set_err(err, err_len, "bpf_obj_get_info_by_fd(prog %u): %s", x->prog_id,
			strerror(-rc));
		return rc;
	}
	if (info.nr_map_ids > sizeof(ids) / sizeof(ids[0]))
		info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	for (uint32_t i = 0; i < info.nr_map_ids; i++) {
		struct bpf_map_info mi;
		int fd = bpf_map_get_fd_by_id(ids[i]);
		bool used = false;

		if (fd < 0)
			continue;
		if (map_info(fd, &mi) == 0) {
			for (unsigned int m = 0; m < MAP__MAX; m++) {
				if (x->fd[m] < 0 && strcmp(mi.name, maps[m].name) == 0 &&
				    mi.type == (uint32_t)maps[m].type) {
					x->fd[m] = fd;
					used = true;
					break;
				}
			}
		}
		if (!used)
			close(fd);
	}
	for (unsigned int m = 0; m < MAP__MAX; m++) {
		if (x->fd[m] < 0) {
			set_err(err, err_len,
				"the XDP program on %s (id %u, %s) is not sluice's: it has no map "
				"%s; give the net_af_xdp PMD xdp_prog=<build>/ebpf/sl_xdp.bpf.o",
				x->ifname, x->prog_id, info.name, maps[m].name);
			return -EPROTO;
		}
	}
	return 0;
}

int
sl_xdp_adopt(const char *ifname, struct sl_xdp **ret_xdp, char *err, size_t err_len)
{
	struct sl_xdp *x;
	int rc;

	if (strlen(ifname) >= IF_NAMESIZE) {
		set_err(err, err_len, "interface name too long: %s", ifname);
		return -EINVAL;
	}
	x = xdp_new();
	if (x == NULL)
		return -ENOMEM;
	strcpy(x->ifname, ifname);
	x->ifindex = if_nametoindex(ifname);
	if (x->ifindex == 0) {
		rc = -ENODEV;
		set_err(err, err_len, "no interface %s in this network namespace", ifname);
		goto err;
	}
	rc = attached_prog(x->ifindex, &x->prog_id, &x->attach_mode);
	if (rc < 0) {
		set_err(err, err_len, "bpf_xdp_query(%s): %s", ifname, strerror(-rc));
		goto err;
	}
	if (x->prog_id == 0) {
		rc = -ENOENT;
		set_err(err, err_len, "no XDP program attached to %s", ifname);
		goto err;
	}
	x->prog_fd = bpf_prog_get_fd_by_id(x->prog_id);
	if (x->prog_fd < 0) {
		rc = x->prog_fd;
		set_err(err, err_len, "bpf_prog_get_fd_by_id(%u): %s", x->prog_id, strerror(-rc));
		goto err;
	}
	rc = open_prog_maps(x, err, err_len);
	if (rc < 0)
		goto err;
	*ret_xdp = x;
	return 0;
err:
	sl_xdp_close(x);
	return rc;
}

/* Fill @p s from the attributes of one xdp_diag_msg. */
static bool
xsk_parse(const struct nlmsghdr *h, uint32_t ifindex, struct sl_xdp_socket *s)
{
	const struct xdp_diag_msg *m = (const void *)((const char *)h + NLMSG_HDRLEN);
	const struct nlattr *a = (const void *)(m + 1);
	int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	bool ours = false;

	memset(s, 0, sizeof(*s));
	s->inode = m->xdiag_ino;
	while (left >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= left) {
		const void *d = (const char *)a + NLA_HDRLEN;
		size_t dlen = a->nla_len - NLA_HDRLEN;

		if ((a->nla_type & NLA_TYPE_MASK) == XDP_DIAG_INFO &&
		    dlen >= sizeof(struct xdp_diag_info)) {
			const struct xdp_diag_info *i = d;

			ours = i->ifindex == ifindex;
			s->queue = i->queue_id;
		} else if ((a->nla_type & NLA_TYPE_MASK) == XDP_DIAG_STATS &&
			   dlen >= sizeof(struct xdp_diag_stats)) {
			const struct xdp_diag_stats *st = d;

			s->rx_dropped = st->n_rx_dropped;
			s->rx_invalid = st->n_rx_invalid;
			s->rx_ring_full = st->n_rx_full;
			s->fill_ring_empty = st->n_fill_ring_empty;
		}
		left -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	return ours;
}

int
sl_xdp_sockets(struct sl_xdp *x, struct sl_xdp_socket *ret_socks, unsigned int cap)
{
	struct {
		struct nlmsghdr h;
		struct xdp_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.r = { .sdiag_family = AF_XDP, .xdiag_show = XDP_SHOW_INFO | XDP_SHOW_STATS },
	};
	char buf[16384] __attribute__((aligned(8)));
	unsigned int n = 0;
	int fd, rc = 0;
	bool done = false;

	if (x->ifindex == 0)
		return -ENODEV;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		rc = -errno;
		goto out;
	}
	while (!done) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		size_t off = 0;

		if (got < 0) {
			rc = -errno;
			goto out;
		}
		if (got == 0)
			break;
		while (off + sizeof(struct nlmsghdr) <= (size_t)got) {
			const struct nlmsghdr *h = (const void *)(buf + off);
			struct sl_xdp_socket s;

			if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > (size_t)got - off) {
				rc = -EPROTO;
				goto out;
			}
			off += NLMSG_ALIGN(h->nlmsg_len);

			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e =
					(const void *)((const char *)h + NLMSG_HDRLEN);

				/* No xsk_diag in this kernel: ENOENT. */
				rc = e->error < 0 ? e->error : -EPROTO;
				goto out;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || !xsk_parse(h, x->ifindex, &s))
				continue;
			if (n < cap)
				ret_socks[n] = s;
			n++;
		}
	}
	rc = (int)n;
out:
	close(fd);
	return rc;
}

/* Does process @p pid hold an fd on the BPF map @p map_id? */
static bool
pid_holds_map(const char *pid, uint32_t map_id)
{
	char path[600], link[64], line[128];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (d == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		ssize_t n;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, "anon_inode:bpf-map") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, de->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned int id;

			if (sscanf(line, "map_id: %u", &id) == 1) {
				found = id == map_id;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

int
sl_xdp_users(struct sl_xdp *x)
{
	struct bpf_map_info mi;
	struct dirent *de;
	char self[16];
	int n = 0, rc;
	DIR *d;

	rc = map_info(x->fd[MAP_XSKS], &mi);
	if (rc < 0)
		return rc;
	snprintf(self, sizeof(self), "%d", (int)getpid());
	d = opendir("/proc");
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || strcmp(de->d_name, self) == 0)
			continue;
		n += pid_holds_map(de->d_name, mi.id);
	}
	closedir(d);
	return n;
}

int
sl_xdp_detach(struct sl_xdp *x)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = x->prog_fd);
	uint32_t flags = XDP_FLAGS_REPLACE;
	int rc;

	if (x->ifindex == 0 || x->prog_fd < 0)
		return -EINVAL;
	if (x->attach_mode == XDP_ATTACHED_SKB)
		flags |= XDP_FLAGS_SKB_MODE;
	else if (x->attach_mode == XDP_ATTACHED_HW)
		flags |= XDP_FLAGS_HW_MODE;
	else
		flags |= XDP_FLAGS_DRV_MODE;
	rc = bpf_xdp_detach((int)x->ifindex, flags, &o);
	/* The kernel says EEXIST when old_prog_fd is no longer the attached program. */
	return rc == -EEXIST ? -EBUSY : rc;
}

/* Is @p path, or its nearest existing ancestor, on a bpf filesystem? */
static int
check_bpffs(const char *path, char *err, size_t err_len)
{
	char p[PATH_MAX];
	struct statfs st;

	snprintf(p, sizeof(p), "%s", path);
	for (;;) {
		char *slash;

		if (statfs(p, &st) == 0)
			break;
		if (errno != ENOENT) {
			set_err(err, err_len, "statfs(%s): %s", p, strerror(errno));
			return -errno;
		}
		slash = strrchr(p, '/');
		if (slash == NULL || slash == p)
			return -ENOENT;
		*slash = '\0';
	}
	if ((unsigned long)st.f_type != BPF_FS_MAGIC) {
		set_err(err, err_len,
			"%s is not on a bpf filesystem: mount one (mount -t bpf bpf /sys/fs/bpf) "
			"or choose another pin directory",
			p);
		return -ENOTSUP;
	}
	return 0;
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Copy every entry of the pinned map @p old_fd into @p new_fd (same layout).
 * Entries that do not fit are dropped: the new map has the same limits.
 */
static void
carry_over(int old_fd, int new_fd)
{
	struct bpf_map_info oi, ni;
	uint8_t key[64], next[64], val[64];
	void *prev = NULL;

	if (map_info(old_fd, &oi) != 0 || map_info(new_fd, &ni) != 0 || oi.id == ni.id ||
	    oi.type != ni.type || oi.key_size != ni.key_size || oi.value_size != ni.value_size ||
	    oi.key_size > sizeof(key) || oi.value_size > sizeof(val))
		return;
	while (bpf_map_get_next_key(old_fd, prev, next) == 0) {
		if (bpf_map_lookup_elem(old_fd, next, val) == 0)
			(void)bpf_map_update_elem(new_fd, next, val, BPF_ANY);
		memcpy(key, next, oi.key_size);
		prev = key;
	}
}

int
sl_xdp_pin(struct sl_xdp *x, const char *pin_root, char *err, size_t err_len)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int rc;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", pin_root, x->ifname) >= sizeof(dir))
		return -ENAMETOOLONG;
	rc = check_bpffs(pin_root, err, err_len);
	if (rc < 0)
		return rc;
	rc = mkdir_p(dir, 0750);
	if (rc < 0) {
		set_err(err, err_len, "mkdir(%s): %s", dir, strerror(-rc));
		return rc;
	}
	for (unsigned int m = 0; m < MAP__MAX; m++) {
		snprintf(path, sizeof(path), "%s/%s", dir, maps[m].name);
		if (maps[m].kept) {
			int old = bpf_obj_get(path);

			if (old >= 0) {
				carry_over(old, x->fd[m]);
				close(old);
			}
		}
		if (unlink(path) != 0 && errno != ENOENT) {
			rc = -errno;
			goto fail;
		}
		rc = bpf_obj_pin(x->fd[m], path);
		if (rc < 0)
			goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PIN_PROG);
	if (unlink(path) != 0 && errno != ENOENT) {
		rc = -errno;
		goto fail;
	}
	rc = bpf_obj_pin(x->prog_fd, path);
	if (rc < 0)
		goto fail;
	strcpy(x->dir, dir);
	return 0;
fail:
	set_err(err, err_len, "pin %s: %s", path, strerror(-rc));
	return rc;
}

int
sl_xdp_open_pinned(const char *pin_root, const char *ifname, bool running,
		   struct sl_xdp **ret_xdp, char *err, size_t err_len)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct stat st;
	struct sl_xdp *x;
	int rc;

	if (strlen(ifname) >= IF_NAMESIZE ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/%s", pin_root, ifname) >= sizeof(dir)) {
		set_err(err, err_len, "interface name too long: %s", ifname);
		return -EINVAL;
	}
	if (stat(dir, &st) != 0) {
		rc = -errno;
		if (rc == -ENOENT)
			set_err(err, err_len,
				"no sluice XDP program on %s (nothing pinned in %s): is sluiced "
				"running with net_af_xdp and xdp_prog=?",
				ifname, dir);
		else
			set_err(err, err_len, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	x = xdp_new();
	if (x == NULL)
		return -ENOMEM;
	strcpy(x->ifname, ifname);
	for (unsigned int m = 0; m < MAP__MAX; m++) {
		snprintf(path, sizeof(path), "%s/%s", dir, maps[m].name);
		x->fd[m] = bpf_obj_get(path);
		if (x->fd[m] < 0 && (maps[m].kept || running)) {
			rc = x->fd[m];
			goto missing;
		}
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PIN_PROG);
	x->prog_fd = bpf_obj_get(path);
	if (x->prog_fd >= 0) {
		(void)prog_id_of(x->prog_fd, &x->prog_id);
	} else if (running) {
		rc = x->prog_fd;
		goto missing;
	}
	/* In this network namespace, the interface must run the pinned program. */
	x->ifindex = if_nametoindex(ifname);
	if (x->ifindex != 0 && x->prog_id != 0) {
		uint32_t id = 0;

		if (attached_prog(x->ifindex, &id, &x->attach_mode) == 0 && id != x->prog_id &&
		    running) {
			rc = -ESRCH;
			set_err(err, err_len,
				"no sluice XDP program on %s: the program pinned in %s (id %u) is "
				"not attached (attached: %u); is sluiced running with net_af_xdp?",
				ifname, dir, x->prog_id, id);
			goto err;
		}
	}
	strcpy(x->dir, dir);
	*ret_xdp = x;
	return 0;
missing:
	if (rc == -ENOENT && running)
		rc = -ESRCH;
	if (rc == -ESRCH)
		set_err(err, err_len,
			"no sluice XDP program on %s: only lists are pinned in %s; is sluiced "
			"running with net_af_xdp?",
			ifname, dir);
	else
		set_err(err, err_len, "%s: %s%s", path, strerror(-rc),
			rc == -EACCES || rc == -EPERM ? " (the pins need root)" : "");
err:
	sl_xdp_close(x);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
sl_xdp_pinned_ifaces(const char *pin_root, char (*names)[16], unsigned int cap)
{
	struct dirent *de;
	unsigned int n = 0;
	DIR *d;

	d = opendir(pin_root);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR ||
		    strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		if (n < cap)
			strcpy(names[n], de->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n < cap ? n : cap, sizeof(names[0]), cmp_names);
	return (int)n;
}

int
sl_xdp_load(struct sl_xdp **ret_xdp, char *err, size_t err_len)
{
	struct sl_xdp *x = xdp_new();
	int rc;

	if (x == NULL)
		return -ENOMEM;
	x->skel = sl_xdp_bpf__open_and_load();
	if (x->skel == NULL) {
		rc = -errno;
		set_err(err, err_len, "cannot load the XDP program: %s%s", strerror(-rc),
			rc == -EPERM ? " (needs root or CAP_BPF + CAP_NET_ADMIN; on kernels "
				       "before 5.11 also a memlock limit, ulimit -l)"
				     : "");
		goto err;
	}
	x->prog_fd = bpf_program__fd(x->skel->progs.sl_xdp_filter);
	(void)prog_id_of(x->prog_fd, &x->prog_id);
	x->fd[MAP_XSKS] = bpf_map__fd(x->skel->maps.xsks_map);
	x->fd[MAP_PORTS] = bpf_map__fd(x->skel->maps.sl_xdp_ports);
	x->fd[MAP_STATS] = bpf_map__fd(x->skel->maps.sl_xdp_stats);
	x->fd[MAP_CONF] = bpf_map__fd(x->skel->maps.sl_xdp_conf);
	x->fd[MAP_DENY4] = bpf_map__fd(x->skel->maps.sl_xdp_deny4);
	x->fd[MAP_DENY6] = bpf_map__fd(x->skel->maps.sl_xdp_deny6);
	x->fd[MAP_ALLOW4] = bpf_map__fd(x->skel->maps.sl_xdp_allow4);
	x->fd[MAP_ALLOW6] = bpf_map__fd(x->skel->maps.sl_xdp_allow6);
	strcpy(x->ifname, "(not attached)");
	*ret_xdp = x;
	return 0;
err:
	sl_xdp_close(x);
	return rc;
}

int
sl_xdp_test_run(struct sl_xdp *x, const void *frame, uint32_t len, uint32_t *ret_action)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = 1);
	int rc;

	rc = bpf_prog_test_run_opts(x->prog_fd, &o);
	if (rc < 0)
		return rc;
	*ret_action = o.retval;
	return 0;
}

int
sl_xdp_port_add(struct sl_xdp *x, uint16_t port)
{
	struct sl_xdp_port v = { 0 };

	return bpf_map_update_elem(x->fd[MAP_PORTS], &port, &v, BPF_ANY);
}

int
sl_xdp_port_del(struct sl_xdp *x, uint16_t port)
{
	return bpf_map_delete_elem(x->fd[MAP_PORTS], &port);
}

int
sl_xdp_stats_read(struct sl_xdp *x, struct sl_xdp_counter ret_stats[SL_XDP_STAT__MAX])
{
	struct sl_xdp_counter *v;
	int rc = 0;

	if (x->ncpus <= 0)
		return x->ncpus < 0 ? x->ncpus : -EINVAL;
	v = calloc((size_t)x->ncpus, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (uint32_t k = 0; k < SL_XDP_STAT__MAX; k++) {
		struct sl_xdp_counter sum = { 0, 0 };

		rc = bpf_map_lookup_elem(x->fd[MAP_STATS], &k, v);
		if (rc < 0)
			break;
		for (int c = 0; c < x->ncpus; c++) {
			sum.packets += v[c].packets;
			sum.bytes += v[c].bytes;
		}
		ret_stats[k] = sum;
	}
	free(v);
	return rc;
}

static int
conf_get(struct sl_xdp *x, struct sl_xdp_conf *ret_conf)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(x->fd[MAP_CONF], &zero, ret_conf);
}

int
sl_xdp_info_get(struct sl_xdp *x, struct sl_xdp_info *ret_info)
{
	struct sl_xdp_conf conf = { 0, 0 };
	uint16_t key, next;
	void *prev = NULL;
	int rc;

	memset(ret_info, 0, sizeof(*ret_info));
	ret_info->prog_id = x->prog_id;
	ret_info->ifindex = x->ifindex;
	ret_info->mode = mode_name(x->attach_mode);
	rc = conf_get(x, &conf);
	if (rc < 0)
		return rc;
	ret_info->flags = conf.flags;
	if (x->fd[MAP_PORTS] < 0)
		return 0;
	while (bpf_map_get_next_key(x->fd[MAP_PORTS], prev, &next) == 0 &&
	       ret_info->n_ports < SL_XDP_MAX_PORTS) {
		ret_info->ports[ret_info->n_ports++] = next;
		key = next;
		prev = &key;
	}
	/* Sorted, for stable output. */
	for (uint32_t i = 1; i < ret_info->n_ports; i++)
		for (uint32_t j = i; j > 0 && ret_info->ports[j - 1] > ret_info->ports[j]; j--) {
			uint16_t t = ret_info->ports[j];

			ret_info->ports[j] = ret_info->ports[j - 1];
			ret_info->ports[j - 1] = t;
		}
	return 0;
}

int
sl_xdp_allow_set(struct sl_xdp *x, bool on)
{
	struct sl_xdp_conf conf = { 0, 0 };
	uint32_t zero = 0;
	int rc;

	rc = conf_get(x, &conf);
	if (rc < 0)
		return rc;
	if (on)
		conf.flags |= SL_XDP_F_ALLOW;
	else
		conf.flags &= ~SL_XDP_F_ALLOW;
	return bpf_map_update_elem(x->fd[MAP_CONF], &zero, &conf, BPF_ANY);
}

int
sl_xdp_prefix_parse(const char *s, struct sl_xdp_prefix *ret_prefix)
{
	struct sl_xdp_prefix p;
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned int max, len;

	memset(&p, 0, sizeof(p));
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, p.addr) == 1) {
		p.family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, p.addr) == 1) {
		p.family = 6;
		max = 128;
	} else {
		return -EINVAL;
	}
	len = max;
	if (slash != NULL) {
		const char *d = slash + 1;

		if (*d == '\0' || strlen(d) > 3)
			return -EINVAL;
		len = 0;
		for (; *d != '\0'; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			len = len * 10 + (unsigned int)(*d - '0');
		}
		if (len > max)
			return -EINVAL;
	}
	p.len = (uint8_t)len;
	for (unsigned int bit = len; bit < max; bit++)
		p.addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	*ret_prefix = p;
	return 0;
}

void
sl_xdp_prefix_format(const struct sl_xdp_prefix *p, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, cap, "%s/%u", a, p->len);
}

/* The trie and key of @p p in @p list. */
static int
lpm_key(struct sl_xdp *x, enum sl_xdp_list list, const struct sl_xdp_prefix *p,
	struct sl_xdp_lpm6 *key, int *ret_fd)
{
	bool v4 = p->family == 4;

	if (list >= SL_XDP_LIST__MAX || (p->family != 4 && p->family != 6))
		return -EINVAL;
	if (list == SL_XDP_LIST_DENY)
		*ret_fd = x->fd[v4 ? MAP_DENY4 : MAP_DENY6];
	else
		*ret_fd = x->fd[v4 ? MAP_ALLOW4 : MAP_ALLOW6];
	/* struct sl_xdp_lpm4 is a prefix of struct sl_xdp_lpm6. */
	memset(key, 0, sizeof(*key));
	key->prefixlen = p->len;
	memcpy(key->addr, p->addr, v4 ? 4 : 16);
	return 0;
}

int
sl_xdp_list_add(struct sl_xdp *x, enum sl_xdp_list list, const struct sl_xdp_prefix *p)
{
	struct sl_xdp_lpm_val v = { 0 };
	struct sl_xdp_lpm6 key;
	int fd, rc;

	rc = lpm_key(x, list, p, &key, &fd);
	if (rc < 0)
		return rc;
	return bpf_map_update_elem(fd, &key, &v, BPF_NOEXIST);
}

int
sl_xdp_list_del(struct sl_xdp *x, enum sl_xdp_list list, const struct sl_xdp_prefix *p)
{
	struct sl_xdp_lpm6 key;
	int fd, rc;

	rc = lpm_key(x, list, p, &key, &fd);
	if (rc < 0)
		return rc;
	return bpf_map_delete_elem(fd, &key);
}

int
sl_xdp_list_walk(struct sl_xdp *x, enum sl_xdp_list list, sl_xdp_list_fn fn, void *arg)
{
	if (list >= SL_XDP_LIST__MAX)
		return -EINVAL;
	for (unsigned int fam = 4; fam <= 6; fam += 2) {
		int fd = x->fd[list == SL_XDP_LIST_DENY ? (fam == 4 ? MAP_DENY4 : MAP_DENY6)
							: (fam == 4 ? MAP_ALLOW4 : MAP_ALLOW6)];
		struct sl_xdp_lpm6 key, next;
		void *prev = NULL;

		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			struct sl_xdp_lpm_val v = { 0 };
			struct sl_xdp_prefix p;
			int rc;

			memset(&p, 0, sizeof(p));
			p.family = (uint8_t)fam;
			p.len = (uint8_t)next.prefixlen;
			memcpy(p.addr, next.addr, fam == 4 ? 4 : 16);
			(void)bpf_map_lookup_elem(fd, &next, &v);
			rc = fn(&p, v.hits, arg);
			if (rc != 0)
				return rc;
			key = next;
			prev = &key;
		}
	}
	return 0;
}

static void
xdp_free(struct sl_xdp *x)
{
	if (x->skel != NULL) {
		/* The skeleton owns the fds. */
		sl_xdp_bpf__destroy(x->skel);
	} else {
		for (unsigned int m = 0; m < MAP__MAX; m++)
			if (x->fd[m] >= 0)
				close(x->fd[m]);
		if (x->prog_fd >= 0)
			close(x->prog_fd);
	}
	free(x);
}

/* The kernel id of the map or program @p fd, 0 if unknown. */
static uint32_t
obj_id(int fd, bool prog)
{
	struct bpf_map_info mi;
	uint32_t id = 0;

	if (prog)
		(void)prog_id_of(fd, &id);
	else if (map_info(fd, &mi) == 0)
		id = mi.id;
	return id;
}

/* Remove the pin @p path if it still is the object @p fd (a newer run may own it). */
static void
unpin_if_ours(const char *path, int fd, bool prog)
{
	int pinned = bpf_obj_get(path);

	if (pinned < 0)
		return;
	if (obj_id(pinned, prog) == obj_id(fd, prog))
		(void)unlink(path);
	close(pinned);
}

void
sl_xdp_release(struct sl_xdp *x)
{
	char path[PATH_MAX + 32];

	if (x == NULL)
		return;
	if (x->dir[0] != '\0') {
		for (unsigned int m = 0; m < MAP__MAX; m++) {
			if (maps[m].kept)
				continue;
			snprintf(path, sizeof(path), "%s/%s", x->dir, maps[m].name);
			unpin_if_ours(path, x->fd[m], false);
		}
		snprintf(path, sizeof(path), "%s/%s", x->dir, PIN_PROG);
		unpin_if_ours(path, x->prog_fd, true);
	}
	xdp_free(x);
}

void
sl_xdp_close(struct sl_xdp *x)
{
	if (x == NULL)
		return;
	xdp_free(x);
}
