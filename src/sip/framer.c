/* framer.c: message framing on stream transports (TCP, TLS): RFC 3261 §18.3 makes
 * Content-Length mandatory there, and a missing, negative, non-numeric or repeated one leaves no
 * way to find the next message, so the connection must be closed (RFC 4475 §3.1.2.3, §3.3.9).
 * Resumable: the state remembers how far the end of the header section was searched, so a
 * message trickling in byte by byte costs O(n) overall. CRLFs between messages are keep-alives
 * (RFC 5626 §4.4.1) and are reported on their own. */
#include <errno.h>
#include <string.h>

#include "sip/lex.h"
#include "sip/msg.h"

void sip_framer_reset(struct sip_framer *f)
{
	memset(f, 0, sizeof(*f));
}

/* Content-Length (or "l") in the header section [buf, buf+hlen): 0 and *clen, or EBADMSG */
static int find_clen(const char *buf, size_t hlen, uint64_t max, uint64_t *clen)
{
	const char *p = memchr(buf, '\n', hlen), *end = buf + hlen;
	int found = 0;

	/* p walks line starts; the start line is skipped */
	while (p && ++p < end) {
		const char *le = p;
		/* end of this field: a CRLF not followed by SP/HT */
		for (;;) {
			le = memchr(le, '\n', (size_t)(end - le));
			if (!le || le + 1 >= end || !sip_is_wsp((unsigned char)le[1]))
				break;
			le++;
		}
		if (!le)
			le = end;
		const char *q = p;
		while (q < le && sip_is_token((unsigned char)*q))
			q++;
		sy_str name = sip_slice(p, q);
		if (sy_str_caseeq_c(name, "Content-Length") || sy_str_caseeq_c(name, "l")) {
			while (q < le && sip_is_wsp((unsigned char)*q))
				q++;
			if (q >= le || *q != ':' || found)
				return EBADMSG;
			const char *v = sip_skip_lws(q + 1, le);
			const char *ve = sip_rtrim_lws(v, le);
			if (sip_parse_uint(sip_slice(v, ve), max, clen))
				return EBADMSG;
			found = 1;
		}
		p = le;
	}
	return found ? 0 : EBADMSG;
}

int sip_frame(struct sip_framer *f, const char *buf, size_t len, const struct sip_limits *lim,
	      size_t *msglen, int *keepalive)
{
	struct sip_limits dl;
	uint64_t clen;

	if (!lim) {
		sip_limits_default(&dl);
		lim = &dl;
	}
	*keepalive = 0;
	if (f->hdr_len == 0) {
		if (f->scanned == 0) {
			size_t k = 0;
			while (k < len && (buf[k] == '\r' || buf[k] == '\n'))
				k++;
			if (k == len && k > 0 && buf[k - 1] == '\r')
				k--;	/* half a CRLF: wait for its LF */
			if (k > 0) {
				*msglen = k;
				*keepalive = 1;
				return 0;
			}
			if (len > 0 && (buf[0] == '\r' || buf[0] == '\n'))
				return EAGAIN;
		}
		size_t from = f->scanned >= 3 ? f->scanned - 3 : 0;
		const char *hit = NULL;
		for (const char *p = buf + from; p + 4 <= buf + len; p++) {
			p = memchr(p, '\r', (size_t)(buf + len - p));
			if (!p || p + 4 > buf + len)
				break;
			if (p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
				hit = p;
				break;
			}
		}
		if (!hit) {
			f->scanned = len;
			return len > lim->max_msg ? EBADMSG : EAGAIN;
		}
		size_t hlen = (size_t)(hit + 4 - buf);
		if (hlen > lim->max_msg || find_clen(buf, hlen, lim->max_msg, &clen) ||
		    hlen + clen > lim->max_msg)
			return EBADMSG;
		f->hdr_len = hlen;
		f->body_len = (size_t)clen;
		f->scanned = hlen;
	}
	if (len < f->hdr_len + f->body_len)
		return EAGAIN;
	*msglen = f->hdr_len + f->body_len;
	sip_framer_reset(f);
	return 0;
}
