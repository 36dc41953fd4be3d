/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * sluicectl: command-line client of sluiced, of sluice-ctld (HTTP) and of the
 * window store.
 *
 * main() parses the global options (--json, --url, --help, --version), looks
 * the command up in the table and hands it the rest of the arguments. Everything
 * a command does lives in its cmd_<name>.c; this file also holds the few
 * helpers they share (error messages, time formatting, aligned tables).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sluice/common.h>

#include "cmd.h"

#ifndef SL_VERSION
#define SL_VERSION "unknown"
#endif

static const struct sl_cmd *const cmds[] = {
	&sl_cmd_stats,
	&sl_cmd_metrics,
	&sl_cmd_config,
	&sl_cmd_views,
	&sl_cmd_query,
	&sl_cmd_live,
	&sl_cmd_watch,
	&sl_cmd_health,
#ifdef SL_HAVE_XDP
	&sl_cmd_xdp, /* cmd_xdp.c: built with the ebpf feature */
#endif
	NULL,
};

void
sl_ctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("sluicectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
sl_ctl_usage_err(const struct sl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("sluicectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: sluicectl %s\n", cmd->usage);
	fprintf(stderr, "Try 'sluicectl %s --help' for more information.\n", cmd->name);
	return SL_EXIT_USAGE;
}

int
sl_ctl_cmd_help(const struct sl_cmd *cmd)
{
	printf("usage: sluicectl %s\n\n%s", cmd->usage, cmd->help);
	return SL_EXIT_OK;
}

int
sl_ctl_opt_err(const struct sl_cmd *cmd, int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return sl_ctl_usage_err(cmd, "option '%s' requires an argument", arg);
	return sl_ctl_usage_err(cmd, "unknown option '%s'", arg);
}

int
sl_ctl_finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		sl_ctl_err("cannot write output: %s", strerror(errno));
		return SL_EXIT_RUNTIME;
	}
	return rc;
}

void
sl_ctl_fmt_time(uint64_t ns, char *buf, size_t cap)
{
	time_t sec = (time_t)(ns / SL_NS_PER_SEC);
	uint32_t frac = (uint32_t)(ns % SL_NS_PER_SEC);
	struct tm tm;
	size_t n;

	if (gmtime_r(&sec, &tm) == NULL) {
		snprintf(buf, cap, "%" PRIu64 "ns", ns);
		return;
	}
	n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
	if (frac != 0 && n < cap) {
		int w = 9;

		while (frac % 10 == 0) {
			frac /= 10;
			w--;
		}
		snprintf(buf + n, cap - n, ".%0*" PRIu32, w, frac);
	}
}

/* ---- tables ---- */

/** Columns @p s takes on a terminal: its UTF-8 characters (continuation bytes do not count). */
static size_t
disp_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

void
sl_tab_init(struct sl_tab *t, unsigned int ncols, const char *const *hdr, const char *align)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < SL_TAB_COLS_MAX ? ncols : SL_TAB_COLS_MAX;
	t->hdr = hdr;
	t->align = align;
	for (unsigned int i = 0; i < t->ncols; i++)
		t->width[i] = disp_width(hdr[i]);
}

/** Grow @p p (capacity *cap elements) to hold @p need: the new block, or NULL (p intact). */
static void *
grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return p;
	while (ncap < need)
		ncap *= 2;
	np = realloc(p, ncap * elem);
	if (np != NULL)
		*cap = ncap;
	return np;
}

int
sl_tab_add(struct sl_tab *t, const char *const *cells)
{
	size_t bytes = 0;
	size_t *row;
	void *p;

	for (unsigned int i = 0; i < t->ncols; i++)
		bytes += (cells[i] ? strlen(cells[i]) : 0) + 1;
	p = grow(t->arena, &t->arena_cap, t->arena_len + bytes, 1);
	if (p == NULL)
		return -ENOMEM;
	t->arena = p;
	p = grow(t->cells, &t->rows_cap, t->nrows + 1, t->ncols * sizeof(size_t));
	if (p == NULL)
		return -ENOMEM;
	t->cells = p;

	row = &t->cells[t->nrows * t->ncols];
	for (unsigned int i = 0; i < t->ncols; i++) {
		const char *s = cells[i] ? cells[i] : "";
		size_t len = strlen(s), w = disp_width(s);

		row[i] = t->arena_len;
		memcpy(t->arena + t->arena_len, s, len + 1);
		t->arena_len += len + 1;
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
	return 0;
}

static void
tab_line(const struct sl_tab *t, FILE *f, const char *indent, const char *const *cells)
{
	unsigned int last = t->ncols - 1;

	/* Trailing empty cells would only add blanks at the end of the line. */
	while (last > 0 && cells[last][0] == '\0')
		last--;
	fputs(indent, f);
	for (unsigned int i = 0; i <= last; i++) {
		/* Pad by characters, not bytes: printf's widths count bytes. */
		int pad = (int)(t->width[i] - disp_width(cells[i]));

		if (i > 0)
			fputs("  ", f);
		if (t->align[i] == 'r')
			fprintf(f, "%*s%s", pad, "", cells[i]);
		else if (i == last)
			fputs(cells[i], f);
		else
			fprintf(f, "%s%*s", cells[i], pad, "");
	}
	fputc('\n', f);
}

void
sl_tab_print(const struct sl_tab *t, FILE *f, const char *indent)
{
	const char *cells[SL_TAB_COLS_MAX];

	if (t->ncols == 0)
		return;
	tab_line(t, f, indent, t->hdr);
	for (size_t r = 0; r < t->nrows; r++) {
		for (unsigned int i = 0; i < t->ncols; i++)
			cells[i] = t->arena + t->cells[r * t->ncols + i];
		tab_line(t, f, indent, cells);
	}
}

void
sl_tab_fini(struct sl_tab *t)
{
	free(t->cells);
	free(t->arena);
	t->cells = NULL;
	t->arena = NULL;
	t->nrows = t->rows_cap = t->arena_len = t->arena_cap = 0;
}

/* ---- main ---- */

static void
usage(FILE *f)
{
	fputs("usage: sluicectl [--json] [--url URL] COMMAND [OPTIONS]\n\nCommands:\n", f);
	for (unsigned int i = 0; cmds[i] != NULL; i++)
		fprintf(f, "  %s\n", cmds[i]->usage);
	fputs("  help [COMMAND]\n", f);
}

static int
help_all(void)
{
	usage(stdout);
	fputs("\nGlobal options:\n"
	      "  --json         print machine-readable JSON (also accepted after COMMAND)\n"
	      "  --url URL      sluice-ctld's URL (also accepted after COMMAND); default\n"
	      "                 $" SL_CTL_URL_ENV ", else " SL_CTL_URL_DEFAULT "\n"
	      "  -h, --help     show this help; 'sluicectl COMMAND --help' shows one command\n"
	      "  --version      print the version\n"
	      "\nWhere commands read from:\n"
	      "  live, watch, health, config apply   sluice-ctld only (--url)\n"
	      "  views, query   --url: sluice-ctld; --db DIR: the store, read directly. Without\n"
	      "                 either: $" SL_CTL_DB_ENV " (the store), else $" SL_CTL_URL_ENV
	      " (sluice-ctld),\n"
	      "                 else the store at " SL_CTL_DB_DEFAULT ".\n"
	      "  stats          --url: sluice-ctld; --socket PATH: sluiced's socket. Without\n"
	      "                 either: $SLUICE_CTL_SOCKET, else $" SL_CTL_URL_ENV
	      ", else the socket.\n"
	      "  config show    FILE: that file; --url or $" SL_CTL_URL_ENV
	      ": the running configuration;\n"
	      "                 neither: the built-in one.\n"
	      "  metrics        the store only (--db, $" SL_CTL_DB_ENV ").\n"
	      "  A --url and --db (or --socket, or FILE) on one command is a usage error.\n"
	      "\nEnvironment: " SL_CTL_URL_ENV " (sluice-ctld), SLUICE_CTL_SOCKET (stats socket),\n"
	      SL_CTL_DB_ENV " (the store of metrics, views and query), " SL_CTL_TOKEN_FILE_ENV
	      " (config\napply's token).\n"
	      "Exit status: 0 success, 1 runtime error (also sluice-ctld unreachable or failing,\n"
	      "not ready for health), 2 usage error (also HTTP 400), 3 not found (an unknown\n"
	      "view, HTTP 404). docs/cli.md has the details.\n",
	      stdout);
	return SL_EXIT_OK;
}

static const struct sl_cmd *
cmd_find(const char *name)
{
	for (unsigned int i = 0; cmds[i] != NULL; i++) {
		if (strcmp(cmds[i]->name, name) == 0)
			return cmds[i];
	}
	return NULL;
}

static int
usage_err(const char *fmt, const char *arg)
{
	fputs("sluicectl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	usage(stderr);
	fputs("Try 'sluicectl --help' for more information.\n", stderr);
	return SL_EXIT_USAGE;
}

static int
cmd_help(int argc, char **argv)
{
	const struct sl_cmd *cmd;

	if (argc < 2)
		return help_all();
	if (argc > 2)
		return usage_err("help: unexpected argument '%s'", argv[2]);
	cmd = cmd_find(argv[1]);
	if (cmd == NULL)
		return usage_err("help: unknown command '%s'", argv[1]);
	return sl_ctl_cmd_help(cmd);
}

int
main(int argc, char **argv)
{
	const struct sl_cmd *cmd;
	bool json = false;
	int i;

	/* Global options come before the command; the command parses the rest. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--url") == 0) {
			if (i + 1 >= argc)
				return usage_err("option '%s' requires an argument", a);
			sl_ctl_global_url = argv[++i];
		} else if (strncmp(a, "--url=", 6) == 0) {
			sl_ctl_global_url = a + 6;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			return sl_ctl_finish(help_all());
		} else if (strcmp(a, "--version") == 0) {
			printf("sluicectl %s\n", SL_VERSION);
			return sl_ctl_finish(SL_EXIT_OK);
		} else {
			return usage_err("unknown option '%s'", a);
		}
	}
	if (i >= argc) {
		fputs("sluicectl: missing command\n", stderr);
		usage(stderr);
		return SL_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0)
		return sl_ctl_finish(cmd_help(argc - i, argv + i));

	cmd = cmd_find(argv[i]);
	if (cmd == NULL)
		return usage_err("unknown command '%s'", argv[i]);
	return sl_ctl_finish(cmd->handler(cmd, argc - i, argv + i, json));
}
