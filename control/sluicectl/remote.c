/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * What the commands that talk to sluice-ctld share: which source a command
 * reads (a --url, a local option, the environment), one request with its
 * errors reported once, the mapping of HTTP statuses to exit statuses, and
 * the lookup of a view's definition. The HTTP itself is control/lib/http_client.c.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "http_client.h"

const char *sl_ctl_global_url;

static const char *
env(const char *name)
{
	const char *v = name ? getenv(name) : NULL;

	return v != NULL && v[0] != '\0' ? v : NULL;
}

const char *
sl_ctl_url(const char *url_opt)
{
	if (url_opt != NULL)
		return url_opt;
	if (sl_ctl_global_url != NULL)
		return sl_ctl_global_url;
	if (env(SL_CTL_URL_ENV) != NULL)
		return env(SL_CTL_URL_ENV);
	return SL_CTL_URL_DEFAULT;
}

int
sl_ctl_source(const struct sl_cmd *cmd, const char *url_opt, const char *local_opt,
	      const char *local_name, const char *local_env, const char **ret_url)
{
	const char *url = url_opt ? url_opt : sl_ctl_global_url;

	if (url != NULL && local_opt != NULL)
		return sl_ctl_usage_err(cmd, "--url and %s exclude each other", local_name);
	if (url != NULL) {
		*ret_url = url;
		return SL_EXIT_OK;
	}
	if (local_opt != NULL || env(local_env) != NULL) {
		*ret_url = NULL;
		return SL_EXIT_OK;
	}
	*ret_url = env(SL_CTL_URL_ENV);
	return SL_EXIT_OK;
}

int
sl_ctl_http(const char *url, const char *method, const char *target, const char *const *headers,
	    const void *body, size_t body_len, int timeout_ms, struct sl_http_response *ret)
{
	struct sl_http_request req = { .method = method,
				       .target = target,
				       .headers = headers,
				       .body = body,
				       .body_len = body_len,
				       .timeout_ms = timeout_ms };
	struct sl_http_error err;
	struct sl_http_url u;
	int rc;

	rc = sl_http_url_parse(url, &u, &err);
	if (rc < 0) {
		sl_ctl_err("bad --url: %s", err.msg);
		return SL_EXIT_USAGE;
	}
	/* A query result can be large: the row limits of the server bound it, not this. */
	rc = sl_http_fetch(&u, &req, (size_t)4 << 30, ret, &err);
	if (rc == 0)
		return SL_EXIT_OK;
	if (rc == -ECONNREFUSED || rc == -EHOSTUNREACH)
		sl_ctl_err("cannot reach sluice-ctld at %s: %s (is sluice-ctld running? see --url "
			   "or $" SL_CTL_URL_ENV ")",
			   url, err.msg);
	else if (rc == -ENOMEM)
		sl_ctl_err("out of memory");
	else
		sl_ctl_err("%s %s%s: %s", method, url, target, err.msg);
	return SL_EXIT_RUNTIME;
}

int
sl_ctl_http_fail(const char *url, const struct sl_http_response *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "error"));
	int rc = r->status == 404   ? SL_EXIT_NOTFOUND
		 : r->status == 400 ? SL_EXIT_USAGE
				    : SL_EXIT_RUNTIME;
	size_t len;

	if (msg != NULL && (r->status == 400 || r->status == 404)) {
		/* The server's own words, as the local form would print them. */
		sl_ctl_err("%s", msg);
	} else if (msg != NULL) {
		sl_ctl_err("sluice-ctld at %s: %s (HTTP %d)", url, msg, r->status);
	} else {
		/* Not our JSON (a proxy?): the first line of the body, if it is text. */
		len = strcspn(r->body, "\r\n");
		if (len > 200)
			len = 200;
		sl_ctl_err("sluice-ctld at %s: HTTP %d%s%.*s", url, r->status, len ? ": " : "",
			   (int)len, r->body);
	}
	json_decref(j);
	return rc;
}

int
sl_ctl_http_get_json(const char *url, const char *target, json_t **ret)
{
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	struct sl_http_response r;
	json_error_t jerr;
	json_t *j;
	int rc;

	rc = sl_ctl_http(url, "GET", target, hdrs, NULL, 0, SL_CTL_HTTP_TIMEOUT_MS, &r);
	if (rc != SL_EXIT_OK)
		return rc;
	if (r.status < 200 || r.status > 299) {
		rc = sl_ctl_http_fail(url, &r);
		sl_http_response_fini(&r);
		return rc;
	}
	j = json_loadb(r.body, r.body_len, 0, &jerr);
	sl_http_response_fini(&r);
	if (j == NULL) {
		sl_ctl_err("malformed reply to GET %s%s: %s (line %d)", url, target, jerr.text,
			   jerr.line);
		return SL_EXIT_RUNTIME;
	}
	*ret = j;
	return SL_EXIT_OK;
}

int
sl_ctl_view_def(const char *url, const char *name, json_t **ret)
{
	char names[512] = "";
	size_t i, off = 0;
	json_t *views, *v;
	int rc;

	rc = sl_ctl_http_get_json(url, "/v1/views", &views);
	if (rc != SL_EXIT_OK)
		return rc;
	if (!json_is_array(views)) {
		sl_ctl_err("malformed reply to GET %s/v1/views: not an array", url);
		json_decref(views);
		return SL_EXIT_RUNTIME;
	}
	json_array_foreach(views, i, v) {
		const char *n = json_string_value(json_object_get(v, "view"));

		if (n == NULL)
			continue;
		if (strcmp(n, name) == 0) {
			const char *why = json_string_value(json_object_get(v, "error"));

			if (why != NULL) {
				sl_ctl_err("view '%s': %s", name, why);
				json_decref(views);
				return SL_EXIT_RUNTIME;
			}
			*ret = json_incref(v);
			json_decref(views);
			return SL_EXIT_OK;
		}
		if (off < sizeof(names))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						off ? ", " : "", n);
	}
	json_decref(views);
	if (off == 0)
		sl_ctl_err("unknown view '%s' (no views registered)", name);
	else
		sl_ctl_err("unknown view '%s' (registered: %s)", name, names);
	return SL_EXIT_NOTFOUND;
}
