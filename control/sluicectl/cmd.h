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
#define SL_EXIT_USAGE 2   /**< Unknown command or option, bad argument; HTTP 400. */
#define SL_EXIT_NOTFOUND 3 /**< An unknown view; HTTP 404. */

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
extern const struct sl_cmd sl_cmd_live;  /**< cmd_live.c: the open windows of a view. */
extern const struct sl_cmd sl_cmd_watch; /**< cmd_live.c: follow a view's windows. */
extern const struct sl_cmd sl_cmd_health; /**< cmd_health.c: is sluice-ctld ready. */

/** The store directory of the commands that read it: --db, else $SL_CTL_DB_ENV, else this. */
#define SL_CTL_DB_DEFAULT "/var/lib/sluice"
#define SL_CTL_DB_ENV "SLUICE_DB"

/* ---- sluice-ctld over HTTP (remote.c) ---- */

/** sluice-ctld's URL: a --url option, else $SL_CTL_URL_ENV, else this. */
#define SL_CTL_URL_DEFAULT "http://127.0.0.1:8080"
#define SL_CTL_URL_ENV "SLUICE_URL"
/** The bearer token of `config apply`: --token-file, else the file named by this. */
#define SL_CTL_TOKEN_FILE_ENV "SLUICE_TOKEN_FILE"
/** Timeout of one request to sluice-ctld, ms (connect, send, whole response). */
#define SL_CTL_HTTP_TIMEOUT_MS 60000

/** The --url given before the command (main.c), or NULL. */
extern const char *sl_ctl_global_url;

/**
 * Where a command that has a local and a remote form reads from. An explicit
 * --url (the command's @p url_opt or the global one) and the local option
 * (@p local_opt, named @p local_name) exclude each other; without either,
 * $@p local_env (when not NULL and set) picks the local form, else
 * $SL_CTL_URL_ENV the remote one, else the local one.
 *
 * @param[out] ret_url  The URL to use for the remote form, NULL for the local one.
 * @return SL_EXIT_OK or SL_EXIT_USAGE (printed).
 */
int sl_ctl_source(const struct sl_cmd *cmd, const char *url_opt, const char *local_opt,
		  const char *local_name, const char *local_env, const char **ret_url);

/** The URL of a remote-only command: @p url_opt, the global --url, $SL_CTL_URL_ENV, the default. */
const char *sl_ctl_url(const char *url_opt);

struct json_t;
struct sl_http_response;

/**
 * One request to sluice-ctld at @p url (any status is a success here).
 * Failures are printed: a bad URL (SL_EXIT_USAGE), cannot connect, a
 * timeout, a malformed response (SL_EXIT_RUNTIME).
 *
 * @param headers  NULL-terminated "Name: value" lines, or NULL.
 * @param body     Sent with Content-Length when not NULL.
 * @param[out] ret  Set on SL_EXIT_OK; free with sl_http_response_fini().
 * @return an SL_EXIT_* status.
 */
int sl_ctl_http(const char *url, const char *method, const char *target,
		const char *const *headers, const void *body, size_t body_len, int timeout_ms,
		struct sl_http_response *ret);

/**
 * Report a response that is not a 2xx: the "error" of its JSON body (else its
 * text), with the status when the message alone does not say it.
 * @return SL_EXIT_NOTFOUND for 404, SL_EXIT_USAGE for 400, else SL_EXIT_RUNTIME.
 */
int sl_ctl_http_fail(const char *url, const struct sl_http_response *r);

/**
 * GET @p target and parse the JSON of a 2xx response.
 * @param[out] ret  Set on SL_EXIT_OK (json_decref()).
 * @return an SL_EXIT_* status (failures printed, see sl_ctl_http_fail()).
 */
int sl_ctl_http_get_json(const char *url, const char *target, struct json_t **ret);

/**
 * The definition of view @p name from sluice-ctld's GET /v1/views.
 * @param[out] ret  Set on SL_EXIT_OK (a new reference).
 * @return SL_EXIT_OK, SL_EXIT_NOTFOUND (printed, with the registered names) or another status.
 */
int sl_ctl_view_def(const char *url, const char *name, struct json_t **ret);

/* ---- rows of views as tables (rows.c) ---- */

/**
 * "10s" (tumbling) or "1m every 10s" (sliding), from a view definition in
 * the JSON of `views --json`.
 */
void sl_ctl_def_window_text(const struct json_t *def, char *buf, size_t cap);

/**
 * Print rows in the JSON of `query --json` (an array of {"view",
 * "window_start", "window_end", "group", "values", "late"}) as the table
 * `query` prints: WINDOW START (or "FROM .. TO" when @p span), one column per
 * group_by dimension and per aggregate of @p def, then LATE when the view
 * keeps late counts or a row has some. Cells as sl_query_result_cell() writes
 * them.
 * @return SL_EXIT_OK or SL_EXIT_RUNTIME (printed: not rows of that shape, no memory).
 */
int sl_ctl_rows_table(const struct json_t *def, const struct json_t *rows, bool span, FILE *f);

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
