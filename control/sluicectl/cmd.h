/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTL_CMD_H
#define SL_CTL_CMD_H

/**
 * @file
 * sluicectl command table and the small helpers the commands share.
 *
 * Each command lives in its own cmd_<name>.c and exports one struct sl_cmd
 * that carries its usage and help text next to the handler. main.c only
 * parses the global options, finds the command and calls it. Handlers parse
 * their own options and print; they keep no state between calls.
 *
 * Threading: single-threaded process.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Exit status of the process (and return value of every handler). */
#define SL_EXIT_OK 0
#define SL_EXIT_RUNTIME 1 /**< Cannot connect, cannot open the database, bad reply. */
#define SL_EXIT_USAGE 2   /**< Unknown command or option, bad argument. */

struct sl_cmd;

/**
 * A command handler.
 *
 * @param cmd   Its own table entry (for usage messages).
 * @param argc,argv  Arguments; argv[0] is the command name. Parse with
 *                   getopt_long() after setting optind = 0.
 * @param json  True when --json was given before the command.
 * @return an SL_EXIT_* status.
 */
typedef int (*sl_cmd_fn)(const struct sl_cmd *cmd, int argc, char **argv, bool json);

struct sl_cmd {
	const char *name;  /**< "stats" */
	const char *usage; /**< "stats [--socket PATH] [--json]" */
	const char *help;  /**< One paragraph, then one line per option; ends with '\n'. */
	sl_cmd_fn handler;
};

extern const struct sl_cmd sl_cmd_stats;
extern const struct sl_cmd sl_cmd_metrics;
extern const struct sl_cmd sl_cmd_config;
extern const struct sl_cmd sl_cmd_xdp; /**< Only with SL_HAVE_XDP (ebpf feature). */
extern const struct sl_cmd sl_cmd_query; /**< cmd_query.c: rows of a stored view. */
extern const struct sl_cmd sl_cmd_views; /**< cmd_query.c: the registered views. */

/** The store directory of the commands that read it: --db, else $SL_CTL_DB_ENV, else this. */
#define SL_CTL_DB_DEFAULT "/var/lib/sluice"
#define SL_CTL_DB_ENV "SLUICE_DB"

/** Print "sluicectl: <message>\n" on stderr. */
void sl_ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * Print "sluicectl: <message>" and the usage of @p cmd on stderr.
 * @return SL_EXIT_USAGE.
 */
int sl_ctl_usage_err(const struct sl_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Print the usage and help of @p cmd on stdout. @return SL_EXIT_OK. */
int sl_ctl_cmd_help(const struct sl_cmd *cmd);

/**
 * Report a getopt_long() failure (it must run with a leading ':' in optstring
 * and opterr = 0): unknown option or missing argument.
 * @return SL_EXIT_USAGE.
 */
int sl_ctl_opt_err(const struct sl_cmd *cmd, int c, char **argv);

/** Flush stdout and report a write error. @return @p rc, or SL_EXIT_RUNTIME on error. */
int sl_ctl_finish(int rc);

/**
 * Format a time in ns since the epoch as UTC "2026-01-01 00:00:10", with
 * ".123456789"-style fraction (trailing zeros trimmed) when not a whole second.
 */
void sl_ctl_fmt_time(uint64_t ns, char *buf, size_t cap);

/* ---- aligned text tables ---- */

/** Columns of a table: `query` has a start, 4 dimensions, 16 aggregates and late. */
#define SL_TAB_COLS_MAX 24

/**
 * A text table: rows are copied into one arena, column widths are kept up to
 * date, sl_tab_print() aligns them. Widths count UTF-8 characters, not bytes
 * ("±" is one column). Owned by its creator (init/fini).
 */
struct sl_tab {
	unsigned int ncols;
	const char *const *hdr; /**< Column titles. */
	const char *align;      /**< Per column: 'l' or 'r'. */
	size_t width[SL_TAB_COLS_MAX];
	size_t nrows;
	size_t rows_cap;
	size_t *cells; /**< nrows * ncols offsets into arena. */
	char *arena;
	size_t arena_len;
	size_t arena_cap;
};

/** Prepare an empty table. @p hdr and @p align must outlive it. */
void sl_tab_init(struct sl_tab *t, unsigned int ncols, const char *const *hdr,
		 const char *align);

/** Append a row of @c ncols strings (NULL = empty cell). @return 0 or -ENOMEM. */
int sl_tab_add(struct sl_tab *t, const char *const *cells);

/** Print the header and every row, each line prefixed by @p indent. */
void sl_tab_print(const struct sl_tab *t, FILE *f, const char *indent);

/** Free the rows. */
void sl_tab_fini(struct sl_tab *t);

#endif /* SL_CTL_CMD_H */
