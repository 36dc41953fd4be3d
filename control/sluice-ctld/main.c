/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * sluice-ctld: the control-plane daemon. It never touches the dataplane's
 * memory: it asks sluiced over its control socket and reads the LMDB store
 * read-only, so nothing it serves can stall a poll-mode core. This first slice
 * serves GET /healthz, /v1/stats, /metrics (Prometheus) and /v1/metrics.
 *
 * Threading: main() waits for SIGINT/SIGTERM; libmicrohttpd's one internal
 * thread serves every request (see http.h).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define SL_CTLD_DB_DEFAULT "/var/lib/sluice"
#define SL_CTLD_SOCK_DEFAULT "/run/sluice/sluiced.sock"
#define SL_CTLD_LISTEN_DEFAULT "127.0.0.1:8080"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-ctld [--db DIR] [--dataplane-socket PATH] [--listen ADDR:PORT]\n"
		"\n"
		"Serve sluice's HTTP API: GET /healthz, /v1/stats, /metrics (Prometheus text\n"
		"format) and /v1/metrics?from=&to=&name= (stored windows, as\n"
		"`sluicectl --json metrics`).\n"
		"\n"
		"  -d, --db DIR                 store directory, opened read-only (default\n"
		"                               " SL_CTLD_DB_DEFAULT "; retried until it exists)\n"
		"  -s, --dataplane-socket PATH  sluiced's control socket (default\n"
		"                               " SL_CTLD_SOCK_DEFAULT ")\n"
		"  -l, --listen ADDR:PORT       address to serve on (default " SL_CTLD_LISTEN_DEFAULT
		");\n"
		"                               IPv6 as [ADDR]:PORT; port 0 picks a free one\n"
		"  -h, --help                   show this help\n"
		"\n"
		"Prints \"listening on ADDR:PORT\" on stderr once it serves.\n");
}

/** "1.2.3.4:80" or "[::1]:80" into @p ss. @return 0 or -EINVAL. */
static int
parse_listen(const char *arg, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon, *h = arg;
	size_t hlen;
	unsigned long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		h = arg + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(arg, ':');
		if (colon == NULL)
			return -EINVAL;
		hlen = (size_t)(colon - arg);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port > 65535)
		return -EINVAL;
	if (arg[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -EINVAL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "dataplane-socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_ctld c = { .db = SL_CTLD_DB_DEFAULT, .dp_sock = SL_CTLD_SOCK_DEFAULT };
	const char *listen = SL_CTLD_LISTEN_DEFAULT;
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN] = "";
	uint16_t port;
	sigset_t set;
	int opt, sig;

	while ((opt = getopt_long(argc, argv, "d:s:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			c.db = optarg;
			break;
		case 's':
			c.dp_sock = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-ctld: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (c.db[0] == '\0' || c.dp_sock[0] == '\0') {
		fprintf(stderr, "sluice-ctld: empty --db or --dataplane-socket\n");
		return 2;
	}
	if (parse_listen(listen, &ss) < 0) {
		fprintf(stderr, "sluice-ctld: --listen '%s': expected ADDR:PORT or [ADDR]:PORT\n",
			listen);
		return 2;
	}

	/* Block the signals before libmicrohttpd's thread starts: only main takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (sl_ctld_http_start(&c, (struct sockaddr *)&ss, &port) < 0) {
		fprintf(stderr, "sluice-ctld: cannot listen on %s\n", listen);
		return 1;
	}
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
	fprintf(stderr, "sluice-ctld: listening on %s%s%s:%u (db %s, dataplane %s)\n",
		ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "",
		port, c.db, c.dp_sock);
	do {
		if (sigwait(&set, &sig) != 0)
			break;
	} while (sig != SIGINT && sig != SIGTERM);
	sl_ctld_http_stop(&c);
	return 0;
}
