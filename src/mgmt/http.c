/* http.c: the HTTP/1.1 request parser of http.h (RFC 9112 §2-§6). One pass over the head,
 * line by line: request line (§3), header fields (§5) with the few the listener needs
 * (Host, Content-Length, Transfer-Encoding, Connection, Expect, Content-Type), then the body
 * by Content-Length (§6.3). No allocation, no globals, no logging. */
#include <errno.h>
#include <string.h>

#include "mgmt/http.h"

/* tchar (RFC 9110 §5.6.2) */
static int is_tchar(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return 1;
	if (c >= 'A' && c <= 'Z')
		return 1;
	if (c >= '0' && c <= '9')
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int ieq(sy_str a, const char *lit)
{
	size_t n = strlen(lit), i;

	if (a.len != n)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a.s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)lit[i])
			return 0;
	}
	return 1;
}

/* does the comma-separated token list v hold tok (case-insensitive)? (§5.6.1) */
static int list_has(sy_str v, const char *tok)
{
	size_t i = 0;

	while (i < v.len) {
		size_t b, e;

		while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t' || v.s[i] == ','))
			i++;
		b = i;
		while (i < v.len && v.s[i] != ',')
			i++;
		e = i;
		while (e > b && (v.s[e - 1] == ' ' || v.s[e - 1] == '\t'))
			e--;
		if (e > b && ieq(sy_str_make(v.s + b, e - b), tok))
			return 1;
	}
	return 0;
}

/* the end of the line starting at p (index of its CR), or -1 when no CRLF yet / EBADMSG on a
 * bare CR or LF (§2.2: we do not accept bare LF) */
static int line_end(const char *buf, size_t len, size_t p, size_t *eol)
{
	size_t i;

	for (i = p; i < len; i++) {
		if (buf[i] == '\n')
			return EBADMSG;
		if (buf[i] == '\r') {
			if (i + 1 >= len)
				return EAGAIN;
			if (buf[i + 1] != '\n')
				return EBADMSG;
			*eol = i;
			return 0;
		}
	}
	return EAGAIN;
}

static int parse_request_line(sy_str l, struct mgmt_http_req *req)
{
	size_t i = 0, b;
	sy_str m, target, ver;

	while (i < l.len && is_tchar((unsigned char)l.s[i]))
		i++;
	if (i == 0 || i >= l.len || l.s[i] != ' ')
		return EBADMSG;
	m = sy_str_make(l.s, i);
	b = ++i;
	while (i < l.len && (unsigned char)l.s[i] > 0x20 && (unsigned char)l.s[i] < 0x7f)
		i++;
	if (i == b || i >= l.len || l.s[i] != ' ')
		return EBADMSG;
	target = sy_str_make(l.s + b, i - b);
	ver = sy_str_make(l.s + i + 1, l.len - i - 1);
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (§2.3) */
	if (ver.len != 8 || memcmp(ver.s, "HTTP/", 5) != 0 || ver.s[5] < '0' || ver.s[5] > '9' ||
	    ver.s[6] != '.' || ver.s[7] < '0' || ver.s[7] > '9')
		return EBADMSG;
	if (ver.s[5] != '1')
		return EPROTONOSUPPORT;
	req->minor = ver.s[7] - '0';
	if (req->minor > 1)
		req->minor = 1;	/* a later 1.x is answered as 1.1 (RFC 9110 §6.2) */
	/* the method token is case-sensitive (RFC 9110 §9.1) */
	if (m.len == 3 && memcmp(m.s, "GET", 3) == 0)
		req->method = MGMT_HTTP_GET;
	else if (m.len == 4 && memcmp(m.s, "HEAD", 4) == 0)
		req->method = MGMT_HTTP_HEAD;
	else if (m.len == 4 && memcmp(m.s, "POST", 4) == 0)
		req->method = MGMT_HTTP_POST;
	else
		return ENOTSUP;
	/* origin-form only (§3.2.1): absolute-form is for proxies, authority/asterisk for
	 * CONNECT/OPTIONS, which we do not implement */
	if (target.s[0] != '/')
		return EBADMSG;
	for (b = 0; b < target.len && target.s[b] != '?'; b++)
		if (target.s[b] == '#')
			return EBADMSG;
	req->path = sy_str_make(target.s, b);
	req->query = b < target.len ? sy_str_make(target.s + b + 1, target.len - b - 1)
				    : sy_str_make(target.s + target.len, 0);
	return 0;
}

int mgmt_http_parse(const char *buf, size_t len, const struct mgmt_http_limits *lim,
		    struct mgmt_http_req *req)
{
	size_t p = 0, eol, cl = 0, hlen;
	int rc, have_cl = 0, te = 0, hosts = 0, conn_close = 0, conn_keep = 0;

	memset(req, 0, sizeof(*req));
	/* §2.2: empty lines before the request line are ignored */
	while (p + 1 < len && buf[p] == '\r' && buf[p + 1] == '\n' && p < lim->max_head)
		p += 2;
	rc = line_end(buf, len, p, &eol);
	if (rc == EAGAIN) {
		/* garbage (a TLS hello, a SIP message on the wrong port) is told at once, not
		 * after the client stops sending: the method so far must be a token */
		size_t i;

		for (i = p; i < len && buf[i] != ' ' && buf[i] != '\r'; i++)
			if (!is_tchar((unsigned char)buf[i]))
				return EBADMSG;
		return len >= lim->max_head ? E2BIG : EAGAIN;
	}
	if (rc)
		return rc;
	if (eol + 2 > lim->max_head)
		return E2BIG;
	rc = parse_request_line(sy_str_make(buf + p, eol - p), req);
	if (rc)
		return rc;
	p = eol + 2;
	for (;;) {
		size_t i, b, e;
		sy_str name, val;

		rc = line_end(buf, len, p, &eol);
		if (rc == EAGAIN)
			return len >= lim->max_head ? E2BIG : EAGAIN;
		if (rc)
			return rc;
		if (eol + 2 > lim->max_head)
			return E2BIG;
		if (eol == p)
			break;	/* the empty line: end of the head */
		/* §5.2: obs-fold (a line starting with SP/HT) is rejected */
		for (i = p; i < eol && is_tchar((unsigned char)buf[i]); i++)
			;
		/* §5.1: no whitespace between the name and the colon */
		if (i == p || i >= eol || buf[i] != ':')
			return EBADMSG;
		name = sy_str_make(buf + p, i - p);
		b = i + 1;
		while (b < eol && (buf[b] == ' ' || buf[b] == '\t'))
			b++;
		e = eol;
		while (e > b && (buf[e - 1] == ' ' || buf[e - 1] == '\t'))
			e--;
		for (i = b; i < e; i++) {
			unsigned char c = (unsigned char)buf[i];

			/* field-value: VCHAR, obs-text, SP, HT; no CTL, no NUL (§5.5) */
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return EBADMSG;
		}
		val = sy_str_make(buf + b, e - b);
		if (ieq(name, "content-length")) {
			size_t v = 0;

			if (!val.len || val.len > 18)
				return val.len ? EMSGSIZE : EBADMSG;
			for (i = 0; i < val.len; i++) {
				if (val.s[i] < '0' || val.s[i] > '9')
					return EBADMSG;
				v = v * 10 + (size_t)(val.s[i] - '0');
			}
			/* §6.3 step 5: differing repeated lengths are an error */
			if (have_cl && v != cl)
				return EBADMSG;
			cl = v;
			have_cl = 1;
		} else if (ieq(name, "transfer-encoding")) {
			te = 1;
		} else if (ieq(name, "host")) {
			hosts++;
		} else if (ieq(name, "connection")) {
			conn_close |= list_has(val, "close");
			conn_keep |= list_has(val, "keep-alive");
		} else if (ieq(name, "expect")) {
			if (!ieq(val, "100-continue"))
				return EBADMSG;	/* RFC 9110 §10.1.1 allows 417; 400 is as clear */
			req->expect_continue = 1;
		} else if (ieq(name, "content-type")) {
			req->content_type = val;
		}
		p = eol + 2;
	}
	hlen = eol + 2;
	/* RFC 9110 §7.2: a 1.1 request has exactly one Host; a 1.0 one may have none */
	if (hosts > 1 || (req->minor == 1 && hosts == 0))
		return EBADMSG;
	/* §6.3 step 3: both framings is a smuggling attempt; chunked we do not implement */
	if (te)
		return have_cl ? EBADMSG : ENOTSUP;
	if (req->method == MGMT_HTTP_POST && !have_cl)
		return ENODATA;
	if (cl > lim->max_body)
		return EMSGSIZE;
	req->keep_alive = req->minor == 1 ? !conn_close : (conn_keep && !conn_close);
	req->head_len = hlen;
	if (len - hlen < cl)
		return EINPROGRESS;
	req->body = sy_str_make(buf + hlen, cl);
	req->len = hlen + cl;
	return 0;
}

const char *mgmt_http_reason(unsigned code)
{
	switch (code) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}
