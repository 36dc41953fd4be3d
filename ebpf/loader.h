/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_EBPF_LOADER_H
#define SL_EBPF_LOADER_H

/**
 * @file
 * User-space side of sluice's XDP program (sl_xdp.bpf.c): find it, pin its
 * maps, set its UDP ports, read its counters, edit its deny/allow lists.
 * The only file that includes libbpf.
 *
 * Three ways to get a handle:
 * - sl_xdp_adopt(): sluiced, after DPDK's net_af_xdp PMD has loaded and
 *   attached the object (devarg xdp_prog=) and inserted its AF_XDP sockets.
 *   The handle finds the program attached to the interface and its maps by
 *   name. sl_xdp_pin() then pins the maps under PIN_ROOT/IFNAME/.
 * - sl_xdp_open_pinned(): sluicectl, from those pins.
 * - sl_xdp_load(): the unit tests; loads the object embedded at build time
 *   (bpftool skeleton) without attaching it, for sl_xdp_test_run().
 *
 * Pins: `prog`, `xsks_map`, `sl_xdp_ports` and `sl_xdp_stats` exist while
 * sluiced runs (sl_xdp_release() removes them). The lists and the flags
 * (`sl_xdp_deny4/6`, `sl_xdp_allow4/6`, `sl_xdp_conf`) stay pinned after
 * sluiced exits, and the next sl_xdp_pin() on the same interface copies their
 * entries into the new program's maps: lists survive a restart.
 *
 * Errors: functions return 0 or a negative errno and, where they take
 * @c err, a one-line explanation for the user. Nothing is logged.
 *
 * Threading: a handle is used by one thread at a time. The program itself
 * reads the maps concurrently; every update is a single map operation.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_xdp.h"

/** Default pin root; sluiced --xdp-pin-dir and sluicectl --pin-dir change it. */
#define SL_XDP_PIN_ROOT "/sys/fs/bpf/sluice"
/** Environment variable that overrides the default pin root for sluicectl. */
#define SL_XDP_PIN_ENV "SLUICE_XDP_PIN_DIR"

struct sl_xdp; /**< Opaque: file descriptors of one program and its maps. */

enum sl_xdp_list {
	SL_XDP_LIST_DENY,
	SL_XDP_LIST_ALLOW,
	SL_XDP_LIST__MAX,
};

/** An IPv4 or IPv6 prefix, address in network order, host bits zero. */
struct sl_xdp_prefix {
	uint8_t family; /**< 4 or 6 */
	uint8_t len;    /**< 0..32 or 0..128 */
	uint8_t addr[16];
};

/** What sl_xdp_info() reports. */
struct sl_xdp_info {
	uint32_t prog_id;    /**< Kernel id of the program (0 if unknown). */
	uint32_t ifindex;    /**< 0 when not known (opened from pins in another netns). */
	const char *mode;    /**< "native", "generic", "offload", "" (unknown). */
	uint32_t flags;      /**< sl_xdp_conf flags (SL_XDP_F_*). */
	uint32_t n_ports;    /**< Entries written to @c ports. */
	uint16_t ports[SL_XDP_MAX_PORTS];
};

/**
 * Find sluice's program attached to @p ifname (in this network namespace) and
 * open its maps.
 *
 * @return 0; -ENODEV (no such interface); -ENOENT (no XDP program attached);
 *         -EPROTO (the attached program is not sluice's: no sl_xdp_stats map,
 *         e.g. the PMD ran without xdp_prog=); -EPERM; other -errno.
 */
int sl_xdp_adopt(const char *ifname, struct sl_xdp **ret_xdp, char *err, size_t err_len);

/** One AF_XDP socket bound to the interface (from sock_diag, this network namespace). */
struct sl_xdp_socket {
	uint32_t queue;           /**< RX queue it is bound to. */
	uint32_t inode;           /**< Socket inode (ss --xdp shows it). */
	uint64_t rx_dropped;      /**< Dropped by the kernel (e.g. no room for the frame). */
	uint64_t rx_invalid;      /**< Invalid descriptors. */
	uint64_t rx_ring_full;    /**< Dropped: the socket's RX ring was full (sluiced too slow). */
	uint64_t fill_ring_empty; /**< Times the fill ring had no buffer. */
};

/**
 * The AF_XDP sockets bound to the interface of @p x, up to @p cap of them.
 * @return how many are bound (may exceed @p cap), or -errno.
 */
int sl_xdp_sockets(struct sl_xdp *x, struct sl_xdp_socket *ret_socks, unsigned int cap);

/**
 * How many other processes hold the program's xsks_map open: DPDK's PMD does
 * for as long as its port exists, so 0 means that nobody uses the program (a
 * sluiced that died without cleaning up). Reads /proc/PID/fdinfo.
 * @return the number of processes (this one excluded), or -errno.
 */
int sl_xdp_users(struct sl_xdp *x);

/**
 * Detach the program of @p x (from sl_xdp_adopt()) from its interface, if it
 * is still the one attached. For a program left behind by a sluiced that did
 * not exit cleanly: DPDK's PMD will not attach over it.
 * @return 0, or -errno (-EBUSY: another program is attached now).
 */
int sl_xdp_detach(struct sl_xdp *x);

/**
 * Pin the program and its maps under @p pin_root/IFNAME/ (created), copying
 * the entries of lists left pinned by a previous run into this program's maps.
 * @p pin_root must be on a bpf filesystem.
 */
int sl_xdp_pin(struct sl_xdp *x, const char *pin_root, char *err, size_t err_len);

/**
 * Open the maps pinned for @p ifname under @p pin_root.
 *
 * @param running  True: the program must be running (stats, ports); fails
 *                 with -ESRCH when only the lists of a stopped sluiced are
 *                 pinned, or when the pinned program is no longer attached to
 *                 the interface. False: the lists and flags are enough.
 * @return 0; -ENOENT (nothing pinned for @p ifname); -ESRCH; other -errno.
 */
int sl_xdp_open_pinned(const char *pin_root, const char *ifname, bool running,
		       struct sl_xdp **ret_xdp, char *err, size_t err_len);

/**
 * The interfaces that have pins under @p pin_root, sorted, written to
 * @p names (each IF_NAMESIZE bytes).
 * @return how many were found (may exceed @p cap; only @p cap are written), or -errno.
 */
int sl_xdp_pinned_ifaces(const char *pin_root, char (*names)[16], unsigned int cap);

/**
 * Load the embedded program and create its maps, without attaching it (for
 * sl_xdp_test_run()).
 * @return 0, or -errno (-EPERM without CAP_BPF/CAP_SYS_ADMIN).
 */
int sl_xdp_load(struct sl_xdp **ret_xdp, char *err, size_t err_len);

/**
 * Run the program once on @p frame (BPF_PROG_TEST_RUN).
 * @param[out] ret_action  XDP_PASS, XDP_DROP, XDP_REDIRECT, ...
 */
int sl_xdp_test_run(struct sl_xdp *x, const void *frame, uint32_t len, uint32_t *ret_action);

/** Add (or, with sl_xdp_port_del, remove) a UDP destination port sent to sluice. */
int sl_xdp_port_add(struct sl_xdp *x, uint16_t port);
int sl_xdp_port_del(struct sl_xdp *x, uint16_t port);

/** Counters summed over CPUs, indexed by enum sl_xdp_stat. */
int sl_xdp_stats_read(struct sl_xdp *x, struct sl_xdp_counter ret_stats[SL_XDP_STAT__MAX]);

/** Name of a counter ("redirect") and its verdict ("pass", "drop", "redirect"). */
const char *sl_xdp_stat_name(unsigned int stat);
const char *sl_xdp_stat_verdict(unsigned int stat);

/** Program id, attach mode, flags and ports. */
int sl_xdp_info_get(struct sl_xdp *x, struct sl_xdp_info *ret_info);

/** Set or clear SL_XDP_F_ALLOW (enforce the allow list). */
int sl_xdp_allow_set(struct sl_xdp *x, bool on);

/**
 * Parse "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128).
 * Host bits beyond the prefix length are cleared.
 * @return 0, or -EINVAL.
 */
int sl_xdp_prefix_parse(const char *s, struct sl_xdp_prefix *ret_prefix);

/** Format @p p as "10.0.0.0/8". @p cap should be at least 64. */
void sl_xdp_prefix_format(const struct sl_xdp_prefix *p, char *buf, size_t cap);

/**
 * Add a prefix to a list (-EEXIST if present; -ENOSPC when the trie is full),
 * or remove it (-ENOENT if absent).
 */
int sl_xdp_list_add(struct sl_xdp *x, enum sl_xdp_list list, const struct sl_xdp_prefix *p);
int sl_xdp_list_del(struct sl_xdp *x, enum sl_xdp_list list, const struct sl_xdp_prefix *p);

/** Called for each entry of a list with its hit counter; a non-zero return stops the walk. */
typedef int (*sl_xdp_list_fn)(const struct sl_xdp_prefix *p, uint64_t hits, void *arg);

/** Walk a list, IPv4 entries first. @return 0, the callback's non-zero value, or -errno. */
int sl_xdp_list_walk(struct sl_xdp *x, enum sl_xdp_list list, sl_xdp_list_fn fn, void *arg);

/**
 * Remove the run-time pins (program, xsks_map, ports, stats) and close the
 * handle; the lists stay pinned for the next run. NULL is a no-op.
 */
void sl_xdp_release(struct sl_xdp *x);

/** Close the handle; pins are left as they are. NULL is a no-op. */
void sl_xdp_close(struct sl_xdp *x);

#endif /* SL_EBPF_LOADER_H */
