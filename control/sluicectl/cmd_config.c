/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * `sluicectl config`: check a configuration file, show it in canonical form,
 * print the built-in default. Everything is done by dataplane/config.c, the
 * same code sluiced loads its configuration with; this file only parses
 * arguments and prints.
 */

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"

static int
config_check(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	json_t *arr = NULL;
	int rc = SL_EXIT_OK;

	if (argc < 1)
		return sl_ctl_usage_err(cmd, "config check: missing FILE");
	if (json && (arr = json_array()) == NULL) {
		sl_ctl_err("out of memory");
		return SL_EXIT_RUNTIME;
	}
	for (int i = 0; i < argc; i++) {
		struct sl_config_error err;
		struct sl_config *cfg = NULL;
		json_t *o = NULL;

		if (sl_config_load_file(argv[i], &cfg, &err) != 0) {
			if (json)
				o = json_pack("{s:s, s:b, s:i, s:i, s:s}", "file", err.file, "ok", 0,
					      "line", (int)err.line, "column", (int)err.column,
					      "error", err.msg);
			else
				sl_config_error_print(&err, stderr);
			rc = SL_EXIT_RUNTIME;
		} else {
			const char *name = strcmp(argv[i], "-") == 0 ? "<stdin>" : argv[i];

			if (json)
				o = json_pack("{s:s, s:b, s:i, s:i}", "file", name, "ok", 1, "views",
					      (int)cfg->n_views, "inputs", (int)cfg->n_inputs);
			else
				printf("%s: ok (%u view%s, %u input%s)\n", name, cfg->n_views,
				       cfg->n_views == 1 ? "" : "s", cfg->n_inputs,
				       cfg->n_inputs == 1 ? "" : "s");
			sl_config_free(cfg);
		}
		if (json && (o == NULL || json_array_append_new(arr, o) != 0)) {
			sl_ctl_err("out of memory");
			json_decref(arr);
			return SL_EXIT_RUNTIME;
		}
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(arr);
	}
	return rc;
}

static int
config_show(const struct sl_cmd *cmd, int argc, char **argv)
{
	struct sl_config_error err;
	struct sl_config *cfg;
	int rc;

	if (argc > 1)
		return sl_ctl_usage_err(cmd, "config show: unexpected argument '%s'", argv[1]);
	if (argc == 1)
		rc = sl_config_load_file(argv[0], &cfg, &err);
	else
		rc = sl_config_load_string(sl_config_default_yaml(),
					   strlen(sl_config_default_yaml()), "<default>", &cfg,
					   &err);
	if (rc != 0) {
		sl_config_error_print(&err, stderr);
		return SL_EXIT_RUNTIME;
	}
	rc = sl_config_dump(cfg, stdout);
	sl_config_free(cfg);
	return rc == 0 ? SL_EXIT_OK : SL_EXIT_RUNTIME;
}

static int
cmd_config(const struct sl_cmd *cmd, int argc, char **argv, bool json)
{
	char **args = argv + 1; /* the operands, compacted in place */
	const char *sub;
	int n = 0;

	/*
	 * Options may come anywhere; "-" alone is standard input, "--" ends
	 * options. Operands move down over the options: args[n] <= argv[i] always.
	 */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				args[n++] = argv[i];
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return sl_ctl_cmd_help(cmd);
		if (strcmp(a, "--json") == 0)
			json = true;
		else if (a[0] == '-' && a[1] != '\0')
			return sl_ctl_usage_err(cmd, "unknown option '%s'", a);
		else
			args[n++] = argv[i];
	}
	if (n == 0)
		return sl_ctl_usage_err(cmd, "missing subcommand (check, show or default)");
	sub = args[0];
	if (strcmp(sub, "check") == 0)
		return config_check(cmd, n - 1, args + 1, json);
	if (json)
		return sl_ctl_usage_err(cmd, "config %s: --json is not supported", sub);
	if (strcmp(sub, "show") == 0)
		return config_show(cmd, n - 1, args + 1);
	if (strcmp(sub, "default") == 0) {
		if (n > 1)
			return sl_ctl_usage_err(cmd, "config default: unexpected argument '%s'",
						args[1]);
		fputs(sl_config_default_yaml(), stdout);
		return SL_EXIT_OK;
	}
	return sl_ctl_usage_err(cmd, "unknown subcommand 'config %s'", sub);
}

const struct sl_cmd sl_cmd_config = {
	.name = "config",
	.usage = "config check FILE... | config show [FILE] | config default",
	.help = "Validate and print configuration files (YAML, docs/configuration.md).\n"
		"\n"
		"  check FILE...  validate each FILE ('-' reads standard input): prints\n"
		"                 'FILE: ok (N views, M inputs)', or 'FILE:LINE:COL: message'\n"
		"                 on stderr and exits 1\n"
		"  show [FILE]    print FILE (default: the built-in configuration) in\n"
		"                 canonical form, every default written out\n"
		"  default        print the built-in default configuration\n"
		"  --json         check only: one JSON array of {file, ok, views, inputs}\n"
		"                 or {file, ok, line, column, error}\n"
		"  -h, --help     show this help\n",
	.handler = cmd_config,
};
