/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * `sluicectl xdp ...`: counters and deny/allow lists of sluice's XDP program,
 * through the maps that sluiced pins under /sys/fs/bpf/sluice/IFNAME/ (see
 * ebpf/loader.h). Needs the same rights as bpf(2) on those pins (root).
 *
 * `stats` needs a running sluiced; the lists can be edited while it is
 * stopped (they stay pinned and the next run takes them over).
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "loader.h"

#define XDP_MAX_IFACES 64
#define XDP_MAX_SOCKETS SL_XDP_MAX_QUEUES

struct xdp_args {
	const char *iface;
	const char *pin_dir;
	bool json;
};

/* The interface to work on: --iface, else the only one pinned. */
static int
pick_iface(const struct xdp_args *a, char *ret_name, size_t cap)
{
	char names[XDP_MAX_IFACES][16];
	char list[256] = "";
	int n;

	if (a->iface != NULL) {
		snprintf(ret_name, cap, "%s", a->iface);
		return SL_EXIT_OK;
	}
	n = sl_xdp_pinned_ifaces(a->pin_dir, names, XDP_MAX_IFACES);
	if (n < 0) {
		sl_ctl_err("cannot read %s: %s", a->pin_dir, strerror(-n));
		return SL_EXIT_RUNTIME;
	}
	if (n == 0) {
		sl_ctl_err("no sluice XDP program: nothing pinned in %s; is sluiced running "
			   "with net_af_xdp,xdp_prog=...? (--pin-dir to look elsewhere)",
			   a->pin_dir);
		return SL_EXIT_RUNTIME;
	}
	if (n > 1) {
		size_t off = 0;

		for (int i = 0; i < n && i < XDP_MAX_IFACES && off < sizeof(list) - 20; i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%.15s",
						i ? ", " : "", names[i]);
		sl_ctl_err("sluice XDP programs on several interfaces (%s): choose one with "
			   "--iface", list);
		return SL_EXIT_USAGE;
	}
	snprintf(ret_name, cap, "%s", names[0]);
	return SL_EXIT_OK;
}

static int
xdp_open(const struct xdp_args *a, bool running, struct sl_xdp **ret_x, char *ifname,
	 size_t cap)
{
	char err[512] = "";
	int rc;

	rc = pick_iface(a, ifname, cap);
	if (rc != SL_EXIT_OK)
		return rc;
	rc = sl_xdp_open_pinned(a->pin_dir, ifname, running, ret_x, err, sizeof(err));
	if (rc < 0) {
		sl_ctl_err("%s", err[0] ? err : strerror(-rc));
		return SL_EXIT_RUNTIME;
	}
	return SL_EXIT_OK;
}

static int
print_json(json_t *j)
{
	char *s;

	if (j == NULL) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	printf("%s\n", s);
	free(s);
	return SL_EXIT_OK;
}

/* ---- stats ---- */

static int
xdp_stats(const struct xdp_args *a)
{
	static const char *const hdr[] = { "COUNTER", "VERDICT", "PACKETS", "BYTES" };
	struct sl_xdp_counter st[SL_XDP_STAT__MAX];
	uint64_t tot[3] = { 0, 0, 0 }; /* redirect, pass, drop */
	struct sl_xdp_socket socks[XDP_MAX_SOCKETS];
	struct sl_xdp_info info;
	struct sl_xdp *x = NULL;
	char ifname[32];
	int rc, nsocks;

	rc = xdp_open(a, true, &x, ifname, sizeof(ifname));
	if (rc != SL_EXIT_OK)
		return rc;
	rc = sl_xdp_stats_read(x, st);
	if (rc == 0)
		rc = sl_xdp_info_get(x, &info);
	/* Sockets are visible only from the interface's network namespace. */
	nsocks = sl_xdp_sockets(x, socks, XDP_MAX_SOCKETS);
	if (nsocks > XDP_MAX_SOCKETS)
		nsocks = XDP_MAX_SOCKETS;
	sl_xdp_close(x);
	if (rc < 0) {
		sl_ctl_err("cannot read the XDP maps of %s: %s", ifname, strerror(-rc));
		return SL_EXIT_RUNTIME;
	}
	for (unsigned int i = 0; i < SL_XDP_STAT__MAX; i++) {
		const char *v = sl_xdp_stat_verdict(i);

		tot[strcmp(v, "redirect") == 0 ? 0 : strcmp(v, "pass") == 0 ? 1 : 2] +=
			st[i].packets;
	}

	if (a->json) {
		json_t *j = json_object(), *c = json_object(), *ports = json_array();

		for (unsigned int i = 0; i < SL_XDP_STAT__MAX; i++)
			json_object_set_new(c, sl_xdp_stat_name(i),
					    json_pack("{s:s,s:I,s:I}", "verdict",
						      sl_xdp_stat_verdict(i), "packets",
						      (json_int_t)st[i].packets, "bytes",
						      (json_int_t)st[i].bytes));
		for (uint32_t i = 0; i < info.n_ports; i++)
			json_array_append_new(ports, json_integer(info.ports[i]));
		json_object_set_new(j, "iface", json_string(ifname));
		json_object_set_new(j, "prog_id", json_integer(info.prog_id));
		json_object_set_new(j, "mode", json_string(info.mode));
		json_object_set_new(j, "ports", ports);
		json_object_set_new(j, "allow_list", json_boolean(info.flags & SL_XDP_F_ALLOW));
		json_object_set_new(j, "redirected", json_integer((json_int_t)tot[0]));
		json_object_set_new(j, "passed", json_integer((json_int_t)tot[1]));
		json_object_set_new(j, "dropped", json_integer((json_int_t)tot[2]));
		json_object_set_new(j, "counters", c);
		if (nsocks >= 0) {
			json_t *sa = json_array();

			for (int i = 0; i < nsocks; i++)
				json_array_append_new(
					sa, json_pack("{s:i,s:i,s:I,s:I,s:I,s:I}", "queue",
						      (int)socks[i].queue, "inode",
						      (int)socks[i].inode, "rx_dropped",
						      (json_int_t)socks[i].rx_dropped, "rx_invalid",
						      (json_int_t)socks[i].rx_invalid, "rx_ring_full",
						      (json_int_t)socks[i].rx_ring_full,
						      "fill_ring_empty",
						      (json_int_t)socks[i].fill_ring_empty));
			json_object_set_new(j, "sockets", sa);
		}
		return print_json(j);
	}

	printf("XDP on %s: program %u%s%s%s, UDP ports", ifname, info.prog_id,
	       info.mode[0] ? " (" : "", info.mode, info.mode[0] ? ")" : "");
	for (uint32_t i = 0; i < info.n_ports; i++)
		printf("%s%u", i ? "," : " ", info.ports[i]);
	printf("%s, allow list %s\n\n", info.n_ports ? "" : " (none)",
	       info.flags & SL_XDP_F_ALLOW ? "on" : "off");
	{
		struct sl_tab tab;
		char p[32], b[32];

		sl_tab_init(&tab, 4, hdr, "llrr");
		for (unsigned int i = 0; i < SL_XDP_STAT__MAX; i++) {
			const char *cells[4] = { sl_xdp_stat_name(i), sl_xdp_stat_verdict(i), p, b };

			snprintf(p, sizeof(p), "%" PRIu64, (uint64_t)st[i].packets);
			snprintf(b, sizeof(b), "%" PRIu64, (uint64_t)st[i].bytes);
			if (sl_tab_add(&tab, cells) != 0) {
				sl_tab_fini(&tab);
				sl_ctl_err("out of memory");
				return SL_EXIT_RUNTIME;
			}
		}
		sl_tab_print(&tab, stdout, "  ");
		sl_tab_fini(&tab);
	}
	printf("\n  redirected to sluiced %" PRIu64 ", passed to the kernel %" PRIu64
	       ", dropped %" PRIu64 "\n", tot[0], tot[1], tot[2]);
	if (nsocks > 0) {
		printf("\nAF_XDP sockets (redirected frames the kernel could not queue)\n");
		for (int i = 0; i < nsocks; i++)
			printf("  queue %u: rx_ring_full %" PRIu64 ", rx_dropped %" PRIu64
			       ", rx_invalid %" PRIu64 ", fill_ring_empty %" PRIu64 "\n",
			       socks[i].queue, (uint64_t)socks[i].rx_ring_full,
			       (uint64_t)socks[i].rx_dropped, (uint64_t)socks[i].rx_invalid,
			       (uint64_t)socks[i].fill_ring_empty);
	}
	return SL_EXIT_OK;
}

/* ---- lists ---- */

struct list_out {
	json_t *json; /* array, with --json */
	struct sl_tab tab;
	int err;
};

static int
list_row(const struct sl_xdp_prefix *p, uint64_t hits, void *arg)
{
	struct list_out *o = arg;
	char s[64], h[32];
	const char *cells[2] = { s, h };

	sl_xdp_prefix_format(p, s, sizeof(s));
	snprintf(h, sizeof(h), "%" PRIu64, hits);
	if (o->json != NULL) {
		if (json_array_append_new(o->json, json_pack("{s:s,s:I}", "prefix", s, "hits",
							     (json_int_t)hits)) != 0)
			o->err = -ENOMEM;
	} else if (sl_tab_add(&o->tab, cells) != 0) {
		o->err = -ENOMEM;
	}
	return o->err;
}

static int
list_print(const struct xdp_args *a, struct sl_xdp *x, enum sl_xdp_list list)
{
	static const char *const hdr[] = { "PREFIX", "HITS" };
	struct list_out o = { 0 };
	int rc;

	if (a->json)
		o.json = json_array();
	else
		sl_tab_init(&o.tab, 2, hdr, "lr");
	rc = sl_xdp_list_walk(x, list, list_row, &o);
	if (rc < 0) {
		json_decref(o.json);
		sl_tab_fini(&o.tab);
		sl_ctl_err("cannot read the list: %s", strerror(-rc));
		return SL_EXIT_RUNTIME;
	}
	if (a->json)
		return print_json(o.json);
	if (o.tab.nrows == 0)
		printf("(empty)\n");
	else
		sl_tab_print(&o.tab, stdout, "");
	sl_tab_fini(&o.tab);
	return SL_EXIT_OK;
}

static int
list_edit(struct sl_xdp *x, enum sl_xdp_list list, bool add, int n, char **cidrs)
{
	const char *lname = list == SL_XDP_LIST_DENY ? "deny" : "allow";
	int status = SL_EXIT_OK;

	for (int i = 0; i < n; i++) {
		struct sl_xdp_prefix p;
		char s[64];
		int rc;

		if (sl_xdp_prefix_parse(cidrs[i], &p) != 0) {
			sl_ctl_err("not an IPv4 or IPv6 address or prefix: '%s'", cidrs[i]);
			status = SL_EXIT_USAGE;
			continue;
		}
		sl_xdp_prefix_format(&p, s, sizeof(s));
		rc = add ? sl_xdp_list_add(x, list, &p) : sl_xdp_list_del(x, list, &p);
		if (rc == -EEXIST) {
			sl_ctl_err("%s is already in the %s list, ignoring", s, lname);
		} else if (rc == -ENOENT) {
			sl_ctl_err("%s is not in the %s list, ignoring", s, lname);
		} else if (rc == -ENOSPC) {
			sl_ctl_err("the %s list is full (%u IPv%u prefixes): %s not added", lname,
				   SL_XDP_MAX_PREFIXES, p.family, s);
			status = SL_EXIT_RUNTIME;
		} else if (rc < 0) {
			sl_ctl_err("%s %s: %s", add ? "add" : "del", s, strerror(-rc));
			status = SL_EXIT_RUNTIME;
		}
	}
	return status;
}

static bool
list_empty(struct sl_xdp *x, enum sl_xdp_list list)
{
	struct list_out o = { 0 };
	static const char *const hdr[] = { "PREFIX", "HITS" };
	bool empty;

	sl_tab_init(&o.tab, 2, hdr, "lr");
	(void)sl_xdp_list_walk(x, list, list_row, &o);
	empty = o.tab.nrows == 0;
	sl_tab_fini(&o.tab);
	return empty;
}

static int
xdp_list(const struct sl_cmd *cmd, const struct xdp_args *a, enum sl_xdp_list list, int argc,
	 char **argv)
{
	const char *verb = argc > 0 ? argv[0] : "list";
	struct sl_xdp *x = NULL;
	char ifname[32];
	int rc;

	if (strcmp(verb, "add") == 0 || strcmp(verb, "del") == 0) {
		if (argc < 2)
			return sl_ctl_usage_err(cmd, "%s: give at least one address or prefix", verb);
	} else if (strcmp(verb, "list") == 0 ||
		   (list == SL_XDP_LIST_ALLOW &&
		    (strcmp(verb, "on") == 0 || strcmp(verb, "off") == 0))) {
		if (argc > 1)
			return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[1]);
	} else {
		return sl_ctl_usage_err(cmd, "unknown %s command '%s'",
					list == SL_XDP_LIST_DENY ? "deny" : "allow", verb);
	}
	rc = xdp_open(a, false, &x, ifname, sizeof(ifname));
	if (rc != SL_EXIT_OK)
		return rc;
	if (strcmp(verb, "list") == 0) {
		rc = list_print(a, x, list);
	} else if (strcmp(verb, "on") == 0 || strcmp(verb, "off") == 0) {
		bool on = strcmp(verb, "on") == 0;

		if (on && list_empty(x, list))
			sl_ctl_err("warning: the allow list of %s is empty: every event datagram "
				   "will be dropped", ifname);
		rc = sl_xdp_allow_set(x, on);
		if (rc < 0) {
			sl_ctl_err("allow %s: %s", verb, strerror(-rc));
			rc = SL_EXIT_RUNTIME;
		}
	} else {
		rc = list_edit(x, list, strcmp(verb, "add") == 0, argc - 1, argv + 1);
	}
	sl_xdp_close(x);
	return rc;
}

/* ---- detach ---- */

static int
xdp_detach(const struct xdp_args *a)
{
	struct sl_xdp *x = NULL, *pins = NULL;
	char ifname[32], err[512] = "";
	int rc;

	rc = pick_iface(a, ifname, sizeof(ifname));
	if (rc != SL_EXIT_OK)
		return rc;
	rc = sl_xdp_adopt(ifname, &x, err, sizeof(err));
	if (rc == -ENOENT) {
		printf("no XDP program on %s\n", ifname);
		return SL_EXIT_OK;
	}
	if (rc < 0) {
		sl_ctl_err("%s%s", err, rc == -EPROTO ? ": not detaching it" : "");
		return SL_EXIT_RUNTIME;
	}
	rc = sl_xdp_users(x);
	if (rc != 0) {
		if (rc > 0)
			sl_ctl_err("the XDP program on %s is in use by %d process(es): is sluiced "
				   "running on it? not detaching", ifname, rc);
		else
			sl_ctl_err("cannot tell whether the XDP program on %s is in use: %s; not "
				   "detaching", ifname, strerror(-rc));
		sl_xdp_close(x);
		return SL_EXIT_RUNTIME;
	}
	rc = sl_xdp_detach(x);
	sl_xdp_close(x);
	if (rc < 0) {
		sl_ctl_err("cannot detach the XDP program from %s: %s", ifname, strerror(-rc));
		return SL_EXIT_RUNTIME;
	}
	/* Its run-time pins are stale now; the lists stay. */
	if (sl_xdp_open_pinned(a->pin_dir, ifname, false, &pins, err, sizeof(err)) == 0)
		sl_xdp_release(pins);
	printf("detached sluice's XDP program from %s\n", ifname);
	return SL_EXIT_OK;
}

/* ---- command ---- */

static int
cmd_xdp(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct xdp_args a = { .json = json, .pin_dir = getenv(SL_XDP_PIN_ENV) };
	const char *sub;
	int c;

	if (a.pin_dir == NULL || a.pin_dir[0] == '\0')
		a.pin_dir = SL_XDP_PIN_ROOT;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			a.iface = optarg;
			break;
		case 'p':
			a.pin_dir = optarg;
			break;
		case 'j':
			a.json = true;
			break;
		case 'h':
			return sl_ctl_cmd_help(cmd);
		default:
			return sl_ctl_opt_err(cmd, c, argv);
		}
	}
	if (optind >= argc)
		return sl_ctl_usage_err(cmd, "missing subcommand (stats, deny, allow or detach)");
	sub = argv[optind];
	if (strcmp(sub, "stats") == 0) {
		if (optind + 1 < argc)
			return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[optind + 1]);
		return xdp_stats(&a);
	}
	if (strcmp(sub, "detach") == 0) {
		if (optind + 1 < argc)
			return sl_ctl_usage_err(cmd, "unexpected argument '%s'", argv[optind + 1]);
		return xdp_detach(&a);
	}
	if (strcmp(sub, "deny") == 0)
		return xdp_list(cmd, &a, SL_XDP_LIST_DENY, argc - optind - 1, argv + optind + 1);
	if (strcmp(sub, "allow") == 0)
		return xdp_list(cmd, &a, SL_XDP_LIST_ALLOW, argc - optind - 1, argv + optind + 1);
	return sl_ctl_usage_err(cmd, "unknown subcommand '%s'", sub);
}

const struct sl_cmd sl_cmd_xdp = {
	.name = "xdp",
	.usage = "xdp stats | deny add|del|list [CIDR...] | allow add|del|list|on|off [CIDR...]"
		 " | detach [--iface IF] [--pin-dir DIR] [--json]",
	.help = "Counters and source lists of sluice's XDP program on an AF_XDP port\n"
		"(sluiced with --vdev net_af_xdp0,iface=IF,xdp_prog=.../sl_xdp.bpf.o).\n"
		"\n"
		"  stats              verdict counters: redirected to sluiced, passed to the\n"
		"                     kernel, dropped; the UDP ports sent to sluiced\n"
		"  deny add CIDR...   drop event datagrams from these sources (10.0.0.0/8,\n"
		"                     2001:db8::/32, or one address)\n"
		"  deny del CIDR...   remove prefixes; deny list: show them with hit counts\n"
		"  allow add|del|list the same for the allow list, which is enforced only\n"
		"  allow on|off       when on: event datagrams from other sources are dropped\n"
		"  detach             remove sluice's program left on IF by a sluiced that did\n"
		"                     not exit cleanly (the next sluiced also does it); it\n"
		"                     refuses while a process uses the program\n"
		"\n"
		"The lists apply to event datagrams only (the UDP ports above); other\n"
		"traffic always goes to the kernel. Lists can be edited while sluiced is\n"
		"stopped: they stay pinned and the next run takes them over.\n"
		"\n"
		"  -i, --iface IF     interface (default: the only one with pins)\n"
		"  -p, --pin-dir DIR  pin directory (default $" SL_XDP_PIN_ENV ", else\n"
		"                     " SL_XDP_PIN_ROOT ")\n"
		"  --json             machine-readable output\n"
		"  -h, --help         show this help\n",
	.handler = cmd_xdp,
};
