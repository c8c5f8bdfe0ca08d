/* switchyard-ctl.c: the command-line client of the management listener (docs/mgmt.md). It
 * POSTs one JSON-RPC 2.0 request with an OpenSIPS MI command to http://HOST:PORT/mi and
 * prints the result, indented; exit status 0 on a result, 1 on an error (JSON-RPC error, HTTP
 * error, no connection), 2 on a usage error.
 *
 *   switchyard-ctl [-s HOST:PORT] [-r ROOT] [-t SECS] COMMAND [PARAMS]
 *   PARAMS: one JSON object or array ('{"statistics":["all"]}'), or k=v pairs (an object;
 *   a v that is JSON stays JSON, else it is a string), or plain words (an array of strings,
 *   as opensips-cli passes them: switchyard-ctl get_statistics core: tm:) */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mgmt/json.h"

#define MAX_REPLY (64u << 20)

static void usage(FILE *f)
{
	fprintf(f, "usage: switchyard-ctl [-s HOST:PORT] [-r ROOT] [-t SECS] COMMAND [PARAMS]\n"
		   "  -s  the httpd address (default 127.0.0.1:8888; [::1]:8888 for IPv6)\n"
		   "  -r  the mi_http root (default mi)\n"
		   "  -t  timeout in seconds (default 5)\n"
		   "  PARAMS: a JSON object or array, or k=v pairs, or words (an array)\n"
		   "  e.g. switchyard-ctl get_statistics core: tm:inuse_transactions\n"
		   "       switchyard-ctl which\n");
}

/* a growing string (this is a one-shot client: malloc failures end it) */
struct out {
	char *s;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 4096;
		char *p;

		while (cap < o->len + n + 1)
			cap *= 2;
		p = realloc(o->s, cap);
		if (!p) {
			fprintf(stderr, "switchyard-ctl: out of memory\n");
			exit(1);
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_jstr(struct out *o, const char *s)
{
	put(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[8];

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			put(o, e, 2);
		} else if (c < 0x20) {
			snprintf(e, sizeof(e), "\\u%04x", c);
			put(o, e, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

static int is_json(const char *s)
{
	struct mgmt_json_tok t[256];
	unsigned n;

	return mgmt_json_parse(s, strlen(s), t, 256, &n) == 0;
}

/* the JSON text of the params, or NULL for none; exits 2 on bad JSON */
static char *build_params(int argc, char **argv)
{
	struct out o = { 0 };
	int i, kv = 0;

	if (argc == 0)
		return NULL;
	if (argc == 1 && (argv[0][0] == '{' || argv[0][0] == '[')) {
		if (!is_json(argv[0])) {
			fprintf(stderr, "switchyard-ctl: the params are not valid JSON\n");
			exit(2);
		}
		puts_(&o, argv[0]);
		return o.s;
	}
	for (i = 0; i < argc; i++)
		kv += strchr(argv[i], '=') != NULL && argv[i][0] != '=';
	if (kv == argc) {
		puts_(&o, "{");
		for (i = 0; i < argc; i++) {
			char *eq = strchr(argv[i], '=');

			*eq = '\0';
			if (i)
				puts_(&o, ",");
			put_jstr(&o, argv[i]);
			puts_(&o, ":");
			if (is_json(eq + 1))
				puts_(&o, eq + 1);
			else
				put_jstr(&o, eq + 1);
		}
		puts_(&o, "}");
		return o.s;
	}
	puts_(&o, "[");
	for (i = 0; i < argc; i++) {
		if (i)
			puts_(&o, ",");
		put_jstr(&o, argv[i]);
	}
	puts_(&o, "]");
	return o.s;
}

static int dial(const char *server, int timeout_s)
{
	char host[256], *port;
	struct addrinfo hints, *ai, *p;
	struct timeval tv = { timeout_s, 0 };
	int fd = -1, rc;

	if (snprintf(host, sizeof(host), "%s", server) >= (int)sizeof(host))
		return -1;
	if (host[0] == '[') {
		char *end = strchr(host, ']');

		if (!end || end[1] != ':')
			return -1;
		*end = '\0';
		port = end + 2;
		memmove(host, host + 1, strlen(host + 1) + 1);
	} else {
		port = strrchr(host, ':');
		if (!port)
			return -1;
		*port++ = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		fprintf(stderr, "switchyard-ctl: %s: %s\n", server, gai_strerror(rc));
		return -1;
	}
	for (p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		fprintf(stderr, "switchyard-ctl: cannot connect to %s: %s\n", server,
			strerror(errno));
	return fd;
}

/* print JSON text indented by two spaces per level */
static void pretty(const char *s, size_t n)
{
	int depth = 0, instr = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (instr) {
			putchar(c);
			if (c == '\\' && i + 1 < n)
				putchar(s[++i]);
			else if (c == '"')
				instr = 0;
			continue;
		}
		switch (c) {
		case '"':
			instr = 1;
			putchar(c);
			break;
		case '{': case '[':
			if (i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
				putchar(c);
				putchar(s[++i]);
				break;
			}
			printf("%c\n%*s", c, 2 * ++depth, "");
			break;
		case '}': case ']':
			printf("\n%*s%c", 2 * --depth, "", c);
			break;
		case ',':
			printf(",\n%*s", 2 * depth, "");
			break;
		case ':':
			printf(": ");
			break;
		case ' ': case '\t': case '\n': case '\r':
			break;
		default:
			putchar(c);
		}
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	const char *server = "127.0.0.1:8888", *root = "mi";
	int opt, timeout_s = 5, fd, code = 0, ret = 1;
	char *params, *hdr_end, *body;
	struct out req = { 0 }, http = { 0 }, resp = { 0 };
	struct mgmt_json_tok *t = NULL;
	unsigned ntok;
	size_t blen;
	int r, e;

	while ((opt = getopt(argc, argv, "s:r:t:h")) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'r': root = optarg[0] == '/' ? optarg + 1 : optarg; break;
		case 't': timeout_s = atoi(optarg) > 0 ? atoi(optarg) : 5; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	params = build_params(argc - optind - 1, argv + optind + 1);
	puts_(&req, "{\"jsonrpc\":\"2.0\",\"method\":");
	put_jstr(&req, argv[optind]);
	if (params) {
		puts_(&req, ",\"params\":");
		puts_(&req, params);
	}
	puts_(&req, ",\"id\":1}");
	{
		char head[512];
		int n = snprintf(head, sizeof(head),
				 "POST /%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n", root, server,
				 req.len);

		if (n < 0 || (size_t)n >= sizeof(head)) {
			fprintf(stderr, "switchyard-ctl: server or root too long\n");
			goto out;
		}
		put(&http, head, (size_t)n);
		put(&http, req.s, req.len);
	}
	fd = dial(server, timeout_s);
	if (fd < 0)
		goto out;
	{
		size_t off = 0;

		while (off < http.len) {
			ssize_t n = send(fd, http.s + off, http.len - off, MSG_NOSIGNAL);

			if (n <= 0) {
				fprintf(stderr, "switchyard-ctl: send: %s\n", strerror(errno));
				close(fd);
				goto out;
			}
			off += (size_t)n;
		}
	}
	for (;;) {
		char buf[16384];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			break;
		if (n < 0) {
			fprintf(stderr, "switchyard-ctl: no complete answer from %s: %s\n", server,
				errno == EAGAIN ? "timed out" : strerror(errno));
			close(fd);
			goto out;
		}
		if (resp.len + (size_t)n > MAX_REPLY) {
			fprintf(stderr, "switchyard-ctl: answer larger than %u bytes\n", MAX_REPLY);
			close(fd);
			goto out;
		}
		put(&resp, buf, (size_t)n);
	}
	close(fd);
	if (!resp.s || sscanf(resp.s, "HTTP/1.%*d %d", &code) != 1 ||
	    !(hdr_end = strstr(resp.s, "\r\n\r\n"))) {
		fprintf(stderr, "switchyard-ctl: not an HTTP answer from %s\n", server);
		goto out;
	}
	body = hdr_end + 4;
	blen = resp.len - (size_t)(body - resp.s);
	if (code == 204) {
		ret = 0;
		goto out;
	}
	if (code != 200) {
		fprintf(stderr, "switchyard-ctl: HTTP %d: %.*s\n", code, (int)blen, body);
		goto out;
	}
	t = malloc((blen / 2 + 2) * sizeof(*t));
	if (!t || mgmt_json_parse(body, blen, t, (unsigned)(blen / 2 + 2), &ntok) ||
	    t[0].type != MGMT_JSON_OBJECT) {
		fprintf(stderr, "switchyard-ctl: the answer is not JSON-RPC: %.*s\n", (int)blen,
			body);
		goto out;
	}
	r = mgmt_json_get(t, 0, "result");
	e = mgmt_json_get(t, 0, "error");
	if (r >= 0) {
		pretty(t[r].type == MGMT_JSON_STRING ? t[r].raw.s - 1 : t[r].raw.s,
		       t[r].type == MGMT_JSON_STRING ? t[r].raw.len + 2 : t[r].raw.len);
		ret = 0;
	} else if (e >= 0 && t[e].type == MGMT_JSON_OBJECT) {
		int c = mgmt_json_get(t, (unsigned)e, "code");
		int m = mgmt_json_get(t, (unsigned)e, "message");
		char msg[512];
		size_t mlen = 0;

		if (m < 0 || mgmt_json_str(&t[m], msg, sizeof(msg), &mlen))
			mlen = 0;
		fprintf(stderr, "switchyard-ctl: error %.*s: %.*s\n",
			c >= 0 ? (int)t[c].raw.len : 1, c >= 0 ? t[c].raw.s : "?", (int)mlen, msg);
	} else {
		fprintf(stderr, "switchyard-ctl: the answer is not JSON-RPC: %.*s\n", (int)blen,
			body);
	}
out:
	free(params);
	free(req.s);
	free(http.s);
	free(resp.s);
	free(t);
	return ret;
}
