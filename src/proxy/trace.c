/* trace.c: `switchyard --trace MSG -f FILE`: one captured message run offline through the real
 * receive path (px_recv: parse, validate, tm hooks, script) on the calling thread. Sending is
 * redirected (tp_set_send_hook): every message that would have gone out is printed with its
 * destination instead, and px_recv hands the same FILE to the script engine (ctx->trace) so
 * each route, condition and call is printed too. Not on the hot path: plain malloc and stdio. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/worker.h"
#include "proxy/proxy.h"
#include "tp/tp.h"

#define PX_TRACE_MAX (1024u * 1024u)	/* a captured message bigger than this is not SIP */

void *px_trace_out;

static const char *proto_name(enum sy_proto p)
{
	switch (p) {
	case SY_PROTO_TCP: return "tcp";
	case SY_PROTO_TLS: return "tls";
	case SY_PROTO_WS: return "ws";
	case SY_PROTO_WSS: return "wss";
	default: return "udp";
	}
}

/* "udp:1.2.3.4:5060" / "tcp:[::1]:5062" */
static void print_addr(FILE *f, enum sy_proto p, const struct sy_addr *a)
{
	char ip[64];

	tp_addr_ip(a, ip, sizeof(ip));
	if (a->u.sa.sa_family == AF_INET6)
		fprintf(f, "%s:[%s]:%u", proto_name(p), ip, tp_addr_port(a));
	else
		fprintf(f, "%s:%s:%u", proto_name(p), ip, tp_addr_port(a));
}

/* the bytes as they would have crossed the wire, after a line saying where they go */
static int trace_send(const struct sy_dest *dst, const char *buf, size_t len)
{
	FILE *f = px_trace_out;

	if (!f)
		return EBADF;
	fputs("--> ", f);
	print_addr(f, dst->proto, &dst->addr);
	fprintf(f, " (%zu bytes)\n", len);
	fwrite(buf, 1, len, f);
	if (!len || buf[len - 1] != '\n')
		fputc('\n', f);
	fflush(f);
	return 0;
}

void px_trace_start(void *out)
{
	px_trace_out = out;
	tp_set_send_hook(out ? trace_send : NULL);
}

/* a header line "Content-Length: ..." or its compact form "l: ..." (RFC 3261 §7.3.3) */
static int is_clen_line(const char *s, size_t n)
{
	size_t name = 0;

	while (name < n && s[name] != ':' && s[name] != ' ' && s[name] != '\t')
		name++;
	if ((name == 14 && strncasecmp(s, "Content-Length", 14) == 0) ||
	    (name == 1 && (s[0] == 'l' || s[0] == 'L')))
		return 1;
	return 0;
}

/* A capture saved with LF line ends (an editor, a mail, a log): SIP needs CRLF (RFC 3261
 * §7), so every LF becomes CRLF, in the body too (SDP lines end in CRLF as well, RFC 4566
 * §5), and Content-Length is set to the converted body's length. A body of nothing but
 * line ends (trailing empty lines of the file) is dropped; a file that stops right after
 * the headers gets the empty line that ends them. */
static int lf_to_crlf(const char *in, size_t len, char **out, size_t *outlen)
{
	size_t hlen = len, bstart = len, blen = 0, nlf = 0, o = 0, i;
	const char *p, *hend;
	char *buf, num[24];
	int numlen, fixed = 0;

	/* headers: up to the first empty line (or the end); body: after it */
	for (i = 0; i + 1 < len; i++)
		if (in[i] == '\n' && in[i + 1] == '\n') {
			hlen = i;
			bstart = i + 2;
			break;
		}
	if (bstart == len && hlen == len && len && in[len - 1] == '\n')
		hlen = len - 1;
	for (i = bstart; i < len && in[i] == '\n'; i++)
		;
	if (i == len)
		bstart = len;	/* only empty lines after the headers */
	for (i = bstart; i < len; i++)
		blen += in[i] == '\n' ? 2u : 1u;
	for (i = 0; i < len; i++)
		nlf += in[i] == '\n';
	numlen = snprintf(num, sizeof(num), "%zu", blen);
	/* every LF gains a CR; the empty line and the last line's end may be added; the one
	 * Content-Length value rewritten may be longer than it was */
	buf = malloc(len + nlf + 4 + 1 + sizeof(num));
	if (!buf)
		return ENOMEM;
	for (p = in, hend = in + hlen; p < hend;) {
		const char *nl = memchr(p, '\n', (size_t)(hend - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(hend - p);
		const char *colon = memchr(p, ':', n);

		if (p != in && colon && !fixed && is_clen_line(p, n)) {
			/* only the first: a second Content-Length stays for the parser to refuse */
			fixed = 1;
			n = (size_t)(colon - p) + 1;
			memcpy(buf + o, p, n);
			o += n;
			buf[o++] = ' ';
			memcpy(buf + o, num, (size_t)numlen);
			o += (size_t)numlen;
		} else {
			memcpy(buf + o, p, n);
			o += n;
		}
		buf[o++] = '\r';
		buf[o++] = '\n';
		p = nl ? nl + 1 : hend;
	}
	buf[o++] = '\r';	/* the empty line that ends the headers */
	buf[o++] = '\n';
	for (i = bstart; i < len; i++) {
		if (in[i] == '\n')
			buf[o++] = '\r';
		buf[o++] = in[i];
	}
	*out = buf;
	*outlen = o;
	return 0;
}

int px_trace_read(const char *path, char **buf, size_t *len)
{
	FILE *f;
	char *raw = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, is_stdin = strcmp(path, "-") == 0;

	*buf = NULL;
	*len = 0;
	f = is_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return errno ? errno : EIO;
	for (;;) {
		size_t got;

		if (n == cap) {
			char *nr;

			if (cap >= PX_TRACE_MAX) {
				rc = EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 4096;
			nr = realloc(raw, cap);
			if (!nr) {
				rc = ENOMEM;
				goto out;
			}
			raw = nr;
		}
		got = fread(raw + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				rc = EIO;
			break;
		}
	}
	if (n == 0) {
		rc = ENODATA;
		goto out;
	}
	if (!memchr(raw, '\r', n)) {
		rc = lf_to_crlf(raw, n, buf, len);
		goto out;
	}
	*buf = raw;
	*len = n;
	raw = NULL;
out:
	free(raw);
	if (!is_stdin)
		fclose(f);
	return rc;
}

int px_trace_source(const char *spec, struct sy_rcvinfo *out)
{
	const char *colon = strchr(spec, ':'), *hp, *pc;
	sy_str proto, host;
	char *endp;
	unsigned long port;
	unsigned i, n;

	memset(out, 0, sizeof(*out));
	if (!colon)
		return EINVAL;
	proto = sy_str_make(spec, (size_t)(colon - spec));
	if (sy_str_caseeq_c(proto, "udp"))
		out->proto = SY_PROTO_UDP;
	else if (sy_str_caseeq_c(proto, "tcp"))
		out->proto = SY_PROTO_TCP;
	else if (sy_str_caseeq_c(proto, "tls"))
		out->proto = SY_PROTO_TLS;
	else if (sy_str_caseeq_c(proto, "ws"))
		out->proto = SY_PROTO_WS;
	else if (sy_str_caseeq_c(proto, "wss"))
		out->proto = SY_PROTO_WSS;
	else
		return EINVAL;
	hp = colon + 1;
	if (*hp == '[') {	/* IPv6 in brackets, as in a Via sent-by (RFC 3261 §25.1) */
		const char *rb = strchr(hp, ']');

		if (!rb || rb[1] != ':')
			return EINVAL;
		pc = rb + 1;
	} else {
		pc = strrchr(hp, ':');
		if (!pc || memchr(hp, ':', (size_t)(pc - hp)))
			return EINVAL;	/* no port, or IPv6 without brackets */
	}
	host = sy_str_make(hp, (size_t)(pc - hp));
	errno = 0;
	port = strtoul(pc + 1, &endp, 10);
	if (errno || endp == pc + 1 || *endp || port == 0 || port > 65535)
		return EINVAL;
	if (tp_addr_parse(host, (unsigned)port, &out->src))
		return EINVAL;
	/* it arrived on our first listen of that transport (and address family if we have one) */
	out->listen_idx = -1;
	n = tp_listen_count();
	for (i = 0; i < n; i++) {
		const struct tp_listen *l = tp_listen_get(i);

		if (l->proto != out->proto)
			continue;
		if (out->listen_idx < 0 || l->addr.u.sa.sa_family == out->src.u.sa.sa_family) {
			out->listen_idx = (int)i;
			out->dst = l->addr;
			if (l->addr.u.sa.sa_family == out->src.u.sa.sa_family)
				break;
		}
	}
	if (out->listen_idx < 0)
		return ENOENT;
	/* a stream message came on a connection: give it an id as tp would (never 0) */
	out->conn_id = out->proto == SY_PROTO_UDP ? 0 : 1;
	out->worker = 0;
	return 0;
}

int px_trace_message(const struct sy_rcvinfo *rcv, const char *buf, size_t len)
{
	FILE *f = px_trace_out ? px_trace_out : stdout;
	struct sy_arena *a = sy_worker_arena();
	struct sip_msg m;
	size_t i;
	int rc;

	if (!a)
		return ENOMEM;
	/* the start line, at most 200 bytes of it, bytes a terminal would act on shown as '?' */
	fputs("<-- ", f);
	print_addr(f, rcv->proto, &rcv->src);
	fprintf(f, " (%zu bytes): ", len);
	for (i = 0; i < len && i < 200 && buf[i] != '\r' && buf[i] != '\n'; i++)
		fputc(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?', f);
	fputc('\n', f);
	/* parse once here only to report why a message is refused: px_recv parses it again
	 * (and answers it) exactly as a worker would */
	sy_arena_reset(a);
	px_init();
	memset(&m, 0, sizeof(m));
	m.hdr = sy_arena_alloc(a, sizeof(*m.hdr) * px_limits.max_headers);
	if (!m.hdr)
		return ENOMEM;
	m.hdr_cap = px_limits.max_headers;
	rc = sip_msg_parse(&m, buf, len, rcv->proto != SY_PROTO_UDP, &px_limits);
	if (rc)
		fprintf(f, "parse error: %s at offset %zu%s\n",
			m.err_reason ? m.err_reason : "no SIP start line", m.err_off,
			m.err_code && m.is_request && m.mid != SIP_M_ACK ? "" : " (no reply possible)");
	sy_arena_reset(a);
	fflush(f);
	px_recv(rcv, buf, len);
	fflush(f);
	return rc ? EBADMSG : 0;
}
