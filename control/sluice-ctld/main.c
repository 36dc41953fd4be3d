/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */

/**
 * @file
 * sluice-ctld: the control-plane daemon. It never touches the dataplane's
 * memory: it asks sluiced over its control socket and reads the LMDB store
 * read-only, so nothing it serves can stall a poll-mode core. It serves the
 * HTTP API of docs/api.md: health, stats and Prometheus metrics, the stored
 * views and their event streams, the open windows, the configuration, and
 * the dashboard's static files.
 *
 * Threading: main() parses the options, starts the server and waits for
 * SIGINT/SIGTERM; libmicrohttpd's thread pool serves the requests and one
 * more thread feeds the event streams (see http.h, sse.h).
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"

#define SL_CTLD_DB_DEFAULT "/var/lib/sluice"
#define SL_CTLD_SOCK_DEFAULT "/run/sluice/sluiced.sock"
#define SL_CTLD_LISTEN_DEFAULT "127.0.0.1:8080"
#ifndef SL_WEB_ROOT_DEFAULT
#define SL_WEB_ROOT_DEFAULT "/usr/share/sluice/web"
#endif
/** Largest token file read, bytes. */
#define SL_CTLD_TOKEN_MAX 4096
/** Most connections --max-connections accepts. */
#define SL_CTLD_CONN_MAX 10000
#define SL_STR(x) SL_STR_(x)
#define SL_STR_(x) #x

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-ctld [--db DIR] [--dataplane-socket PATH] [--listen ADDR:PORT]\n"
		"                   [--web-root DIR] [--token-file FILE] [--max-connections N]\n"
		"                   [--max-sse N]\n"
		"\n"
		"Serve sluice's HTTP API (docs/api.md): GET /healthz, /v1/stats, /metrics\n"
		"(Prometheus text format), /v1/metrics (stored statsd windows), /v1/views,\n"
		"/v1/views/NAME (rows as `sluicectl query --json`), /v1/views/NAME/live (the\n"
		"open windows), /v1/views/NAME/stream (server-sent events, one per complete\n"
		"window), GET and PUT /v1/config, and the dashboard at / and /assets/.\n"
		"\n"
		"  -d, --db DIR                 store directory, opened read-only (default\n"
		"                               " SL_CTLD_DB_DEFAULT "; retried until it exists)\n"
		"  -s, --dataplane-socket PATH  sluiced's control socket (default\n"
		"                               " SL_CTLD_SOCK_DEFAULT ")\n"
		"  -l, --listen ADDR:PORT       address to serve on (default " SL_CTLD_LISTEN_DEFAULT
		");\n"
		"                               IPv6 as [ADDR]:PORT; port 0 picks a free one\n"
		"  -w, --web-root DIR           the dashboard's files: DIR/index.html and\n"
		"                               DIR/assets/ (default " SL_WEB_ROOT_DEFAULT ")\n"
		"  -t, --token-file FILE        the bearer token PUT /v1/config requires: the\n"
		"                               file holds one word (white space around it is\n"
		"                               ignored); without it, changes are refused (403).\n"
		"                               Refused at start when the file is empty or group\n"
		"                               or others have any access to it\n"
		"  -c, --max-connections N      HTTP connections served at once, 1.."
		SL_STR(SL_CTLD_CONN_MAX) "\n"
		"                               (default " SL_STR(SL_CTLD_CONN_DEFAULT)
		"); over: 503 (16 more: closed at once)\n"
		"  -e, --max-sse N              event streams open at once, 0..--max-connections\n"
		"                               (default " SL_STR(SL_CTLD_SSE_DEFAULT)
		"); over: 503\n"
		"  -h, --help                   show this help\n"
		"\n"
		"Prints \"listening on ADDR:PORT\" on stderr once it serves. Exit status: 0 after\n"
		"SIGINT or SIGTERM, 1 when it cannot listen, 2 on a usage error (also an\n"
		"unusable token file).\n");
}

/** --max-connections, --max-sse: an integer in [lo, hi]. @return 0 or -EINVAL. */
static int
parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned int *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < lo || v > hi)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

/**
 * Read the bearer token from @p path: a regular file that only its owner may
 * access, holding one line of printable ASCII (surrounding white space
 * ignored). On failure say why on stderr.
 * @param[out] ret  malloc()ed token.
 * @return 0 or -1.
 */
static int
token_load(const char *path, char **ret)
{
	char buf[SL_CTLD_TOKEN_MAX + 1];
	const char *why = NULL;
	struct stat st;
	size_t a = 0, b;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "sluice-ctld: --token-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		why = "not a regular file";
	else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		why = "group or others have access to it (chmod 600)";
	else if (st.st_size > SL_CTLD_TOKEN_MAX)
		why = "longer than " SL_STR(SL_CTLD_TOKEN_MAX) " bytes";
	n = why == NULL ? read(fd, buf, SL_CTLD_TOKEN_MAX) : 0;
	close(fd);
	if (why == NULL && n < 0)
		why = strerror(errno);
	if (why == NULL) {
		b = (size_t)n;
		while (a < b && isspace((unsigned char)buf[a]))
			a++;
		while (b > a && isspace((unsigned char)buf[b - 1]))
			b--;
		if (a == b)
			why = "empty";
		for (size_t i = a; i < b && why == NULL; i++) {
			if (buf[i] <= ' ' || buf[i] > '~')
				why = "the token must be one word of printable ASCII";
		}
	}
	if (why != NULL) {
		fprintf(stderr, "sluice-ctld: --token-file %s: %s\n", path, why);
		return -1;
	}
	buf[b] = '\0';
	*ret = strdup(buf + a);
	return *ret != NULL ? 0 : -1;
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
		{ "web-root", required_argument, NULL, 'w' },
		{ "token-file", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'c' },
		{ "max-sse", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_ctld c = {
		.db = SL_CTLD_DB_DEFAULT,
		.dp_sock = SL_CTLD_SOCK_DEFAULT,
		.web_root = SL_WEB_ROOT_DEFAULT,
		.max_conns = SL_CTLD_CONN_DEFAULT,
		.max_sse = SL_CTLD_SSE_DEFAULT,
	};
	const char *listen = SL_CTLD_LISTEN_DEFAULT, *token_file = NULL;
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN] = "";
	uint16_t port;
	sigset_t set;
	int opt, sig;

	while ((opt = getopt_long(argc, argv, "d:s:l:w:t:c:e:h", opts, NULL)) != -1) {
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
		case 'w':
			c.web_root = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, 1, SL_CTLD_CONN_MAX, &c.max_conns) < 0) {
				fprintf(stderr,
					"sluice-ctld: --max-connections '%s': expected 1.."
					SL_STR(SL_CTLD_CONN_MAX) "\n", optarg);
				return 2;
			}
			break;
		case 'e':
			if (parse_uint(optarg, 0, SL_CTLD_CONN_MAX, &c.max_sse) < 0) {
				fprintf(stderr, "sluice-ctld: --max-sse '%s': expected a count\n",
					optarg);
				return 2;
			}
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
	if (c.db[0] == '\0' || c.dp_sock[0] == '\0' || c.web_root[0] == '\0') {
		fprintf(stderr, "sluice-ctld: empty --db, --dataplane-socket or --web-root\n");
		return 2;
	}
	if (c.max_sse > c.max_conns) {
		fprintf(stderr, "sluice-ctld: --max-sse %u is over --max-connections %u\n",
			c.max_sse, c.max_conns);
		return 2;
	}
	if (token_file != NULL && token_load(token_file, &c.token) < 0)
		return 2;
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
		free(c.token);
		return 1;
	}
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
	fprintf(stderr,
		"sluice-ctld: listening on %s%s%s:%u (db %s, dataplane %s, web %s, changes %s)\n",
		ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "",
		port, c.db, c.dp_sock, c.web_root, c.token != NULL ? "with a token" : "disabled");
	do {
		if (sigwait(&set, &sig) != 0)
			break;
	} while (sig != SIGINT && sig != SIGTERM);
	sl_ctld_http_stop(&c);
	free(c.token);
	return 0;
}
