/* uri.c: SIP, SIPS and tel URI parsing (RFC 3261 §19.1, §25.1; RFC 3966) and URI equality
 * (RFC 3261 §19.1.4). Zero-copy: every field is a slice of the input, escapes are kept as
 * written and only resolved when comparing. Unknown schemes are kept as scheme + opaque rest
 * so that a proxy can answer 416 instead of 400 (RFC 4475 §3.3.2). */
#include <errno.h>
#include <string.h>

#include "sip/lex.h"
#include "sip/msg.h"

/* user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/" */
static int is_user_char(unsigned char c)
{
	return sip_is_unreserved(c) || (c && strchr("&=+$,;?/", c));
}

static int is_password_char(unsigned char c)
{
	return sip_is_unreserved(c) || (c && strchr("&=+$,", c));
}

/* paramchar = param-unreserved / unreserved / escaped, param-unreserved = [ ] / : & + $;
 * '=' and ';' separate names, values and params */
static int is_param_char(unsigned char c)
{
	return sip_is_unreserved(c) || (c && strchr("[]/:&+$=;", c));
}

/* hnv-unreserved = [ ] / ? : + $; '=' and '&' separate headers */
static int is_header_char(unsigned char c)
{
	return sip_is_unreserved(c) || (c && strchr("[]/?:+$=&", c));
}

/* every octet of s satisfies ok(), '%' only as %HEXHEX */
static int check_escaped(sy_str s, int (*ok)(unsigned char))
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.s[i];
		if (c == '%') {
			if (s.len - i < 3 || !sip_is_hex((unsigned char)s.s[i + 1]) ||
			    !sip_is_hex((unsigned char)s.s[i + 2]))
				return EBADMSG;
			i += 2;
		} else if (!ok(c)) {
			return EBADMSG;
		}
	}
	return 0;
}

static void well_known_params(struct sip_uri *u)
{
	sy_str it = u->params, n, v;
	while (sip_param_next(&it, &n, &v) == 0) {
		switch (n.len) {
		case 2:
			if (sip_name_eq(n.s, "lr", 2))
				u->lr = 1;
			break;
		case 3:
			if (sip_name_eq(n.s, "ttl", 3) && !u->ttl.s)
				u->ttl = v;
			break;
		case 4:
			if (sip_name_eq(n.s, "user", 4) && !u->user_param.s)
				u->user_param = v;
			break;
		case 5:
			if (sip_name_eq(n.s, "maddr", 5) && !u->maddr.s)
				u->maddr = v;
			break;
		case 6:
			if (sip_name_eq(n.s, "method", 6) && !u->method.s)
				u->method = v;
			break;
		case 9:
			if (sip_name_eq(n.s, "transport", 9) && !u->transport.s)
				u->transport = v;
			break;
		}
	}
}

/* sip/sips after "scheme:": [userinfo "@"] hostport *(";" param) ["?" headers] */
static int parse_sip(struct sip_uri *u, const char *p, const char *end)
{
	const char *at = memchr(p, '@', (size_t)(end - p));
	uint64_t port;

	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		u->user = sip_slice(p, colon ? colon : at);
		if (u->user.len == 0 || check_escaped(u->user, is_user_char))
			return EBADMSG;
		if (colon) {
			u->password = sip_slice(colon + 1, at);
			if (check_escaped(u->password, is_password_char))
				return EBADMSG;
		}
		p = at + 1;
	} else {
		u->user = sip_slice(p, p);
	}
	const char *h = sip_scan_host(p, end);
	if (!h)
		return EBADMSG;
	u->host = sip_slice(p, h);
	p = h;
	if (p < end && *p == ':') {
		const char *d = ++p;
		while (p < end && sip_is_digit((unsigned char)*p))
			p++;
		u->port_s = sip_slice(d, p);
		if (sip_parse_uint(u->port_s, 65535, &port))
			return EBADMSG;
		u->port = (unsigned)port;
	}
	if (p < end && *p == ';') {
		const char *ps = ++p;
		while (p < end && *p != '?')
			p++;
		u->params = sip_slice(ps, p);
		if (check_escaped(u->params, is_param_char))
			return EBADMSG;
		well_known_params(u);
	}
	if (p < end && *p == '?') {
		u->headers = sip_slice(p + 1, end);
		if (u->headers.len == 0 || check_escaped(u->headers, is_header_char))
			return EBADMSG;
		p = end;
	}
	return p == end ? 0 : EBADMSG;
}

/* tel: RFC 3966 telephone-subscriber: the number up to the first ';', then params */
static int parse_tel(struct sip_uri *u, const char *p, const char *end)
{
	const char *q = p;
	while (q < end && *q != ';') {
		unsigned char c = (unsigned char)*q;
		if (!sip_is_hex(c) && !strchr("+-.()*#", c))
			return EBADMSG;
		q++;
	}
	if (q == p)
		return EBADMSG;
	u->user = sip_slice(p, q);
	if (q < end) {
		u->params = sip_slice(q + 1, end);
		if (check_escaped(u->params, is_param_char))
			return EBADMSG;
		well_known_params(u);
	}
	return 0;
}

int sip_uri_parse(sy_str s, struct sip_uri *u)
{
	const char *p = s.s, *end = sip_end(s), *q;
	int rc;

	memset(u, 0, sizeof(*u));
	u->raw = s;
	if (s.len == 0 || !sip_is_alpha((unsigned char)*p))
		return EBADMSG;
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	for (q = p + 1; q < end && (sip_is_alnum((unsigned char)*q) || *q == '+' || *q == '-' ||
				    *q == '.'); q++)
		;
	if (q >= end || *q != ':')
		return EBADMSG;
	u->scheme_s = sip_slice(p, q);
	u->opaque = sip_slice(q + 1, end);
	p = q + 1;
	size_t sl = u->scheme_s.len;
	if (sl == 3 && sip_name_eq(u->scheme_s.s, "sip", 3)) {
		u->scheme = SIP_URI_SIP;
		rc = parse_sip(u, p, end);
	} else if (sl == 4 && sip_name_eq(u->scheme_s.s, "sips", 4)) {
		u->scheme = SIP_URI_SIPS;
		rc = parse_sip(u, p, end);
	} else if (sl == 3 && sip_name_eq(u->scheme_s.s, "tel", 3)) {
		u->scheme = SIP_URI_TEL;
		rc = parse_tel(u, p, end);
	} else {
		/* absoluteURI opaque part: any visible ASCII or UTF-8, at least one octet */
		u->scheme = SIP_URI_OTHER;
		rc = u->opaque.len ? 0 : EBADMSG;
		for (q = p; q < end && rc == 0; q++) {
			unsigned char c = (unsigned char)*q;
			if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"')
				rc = EBADMSG;
		}
	}
	return rc;
}

/* next octet of an escaped string, %HEX resolved; -1 at the end */
static int unesc_next(sy_str *s)
{
	if (s->len == 0)
		return -1;
	unsigned char c = (unsigned char)s->s[0];
	if (c == '%' && s->len >= 3 && sip_is_hex((unsigned char)s->s[1]) &&
	    sip_is_hex((unsigned char)s->s[2])) {
		c = (unsigned char)(sip_hexval((unsigned char)s->s[1]) * 16 +
				    sip_hexval((unsigned char)s->s[2]));
		s->s += 3;
		s->len -= 3;
		return c;
	}
	s->s++;
	s->len--;
	return c;
}

static int fold(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int sip_unescaped_eq(sy_str a, sy_str b, int ci)
{
	for (;;) {
		int x = unesc_next(&a), y = unesc_next(&b);
		if (ci) {
			x = fold(x);
			y = fold(y);
		}
		if (x != y)
			return 0;
		if (x < 0)
			return 1;
	}
}

/* §19.1.4: these params must match when present in either URI */
static const char *const strict_params[] = { "user", "ttl", "method", "maddr", "transport" };

static int is_strict_param(sy_str n)
{
	for (size_t i = 0; i < sizeof(strict_params) / sizeof(strict_params[0]); i++)
		if (sy_str_caseeq_c(n, strict_params[i]))
			return 1;
	return 0;
}

static int params_equal(sy_str pa, sy_str pb)
{
	sy_str it, n, v, w;

	for (size_t i = 0; i < sizeof(strict_params) / sizeof(strict_params[0]); i++) {
		sy_str name = sy_cstr(strict_params[i]);
		int ina = sip_param_get(pa, name, &v) == 0;
		int inb = sip_param_get(pb, name, &w) == 0;
		if (ina != inb || (ina && !sip_unescaped_eq(v, w, 1)))
			return 0;
	}
	/* any other parameter appearing in both must match; one side only is ignored. A name
	 * repeated in a list matches when any occurrence on the other side has the same value. */
	it = pa;
	while (sip_param_next(&it, &n, &v) == 0) {
		if (is_strict_param(n))
			continue;
		sy_str jt = pb, n2;
		int seen = 0, same = 0;
		while (!same && sip_param_next(&jt, &n2, &w) == 0) {
			if (sy_str_caseeq(n, n2)) {
				seen = 1;
				same = sip_unescaped_eq(v, w, 1);
			}
		}
		if (seen && !same)
			return 0;
	}
	return 1;
}

/* header components: never ignored, order-free; names case-insensitive, values exact */
static int headers_subset(sy_str ha, sy_str hb)
{
	const char *p = ha.s, *end = sip_end(ha);
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		sy_str n = sip_slice(p, eq ? eq : e), v = eq ? sip_slice(eq + 1, e) : sip_slice(e, e);
		int found = 0;
		const char *q = hb.s, *qend = sip_end(hb);
		while (q < qend && !found) {
			const char *amp2 = memchr(q, '&', (size_t)(qend - q));
			const char *e2 = amp2 ? amp2 : qend;
			const char *eq2 = memchr(q, '=', (size_t)(e2 - q));
			sy_str n2 = sip_slice(q, eq2 ? eq2 : e2);
			sy_str v2 = eq2 ? sip_slice(eq2 + 1, e2) : sip_slice(e2, e2);
			if (sip_unescaped_eq(n, n2, 1) && sip_unescaped_eq(v, v2, 0))
				found = 1;
			q = amp2 ? amp2 + 1 : qend;
		}
		if (!found)
			return 0;
		p = amp ? amp + 1 : end;
	}
	return 1;
}

/* RFC 3966 §4: numbers compare with visual separators ignored */
static int tel_number_eq(sy_str a, sy_str b)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < a.len && strchr("-.()", a.s[i]))
			i++;
		while (j < b.len && strchr("-.()", b.s[j]))
			j++;
		if (i == a.len || j == b.len)
			return i == a.len && j == b.len;
		if (fold((unsigned char)a.s[i]) != fold((unsigned char)b.s[j]))
			return 0;
		i++;
		j++;
	}
}

/* Param and header comparison is quadratic in the number of items; past this many items in
 * either URI (never seen in real traffic, but 4000 fit in one header field) the lists must be
 * identical octet for octet (case-insensitively) instead, so two hostile URIs cannot make one
 * comparison cost milliseconds. */
#define SIP_URI_MAX_CMP_ITEMS 64

static size_t count_items(sy_str s, char sep)
{
	size_t n = s.len ? 1 : 0;
	for (size_t i = 0; i < s.len; i++)
		n += s.s[i] == sep;
	return n;
}

static int too_many(sy_str x, sy_str y, char sep)
{
	return count_items(x, sep) > SIP_URI_MAX_CMP_ITEMS ||
	       count_items(y, sep) > SIP_URI_MAX_CMP_ITEMS;
}

int sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b)
{
	if (a->scheme != b->scheme || a->scheme == SIP_URI_NONE)
		return 0;
	switch (a->scheme) {
	case SIP_URI_OTHER:
		return sy_str_caseeq(a->scheme_s, b->scheme_s) &&
		       sip_unescaped_eq(a->opaque, b->opaque, 0);
	case SIP_URI_TEL:
		if (!tel_number_eq(a->user, b->user))
			return 0;
		if (too_many(a->params, b->params, ';'))
			return sy_str_caseeq(a->params, b->params);
		return params_equal(a->params, b->params) && params_equal(b->params, a->params);
	default:
		break;
	}
	/* userinfo case-sensitive, host case-insensitive, a port is never defaulted */
	if (!sip_unescaped_eq(a->user, b->user, 0) ||
	    !sip_unescaped_eq(a->password, b->password, 0) ||
	    (a->password.len == 0) != (b->password.len == 0) ||
	    !sy_str_caseeq(a->host, b->host) || (a->port_s.len == 0) != (b->port_s.len == 0) ||
	    a->port != b->port)
		return 0;
	if (too_many(a->params, b->params, ';')) {
		if (!sy_str_caseeq(a->params, b->params))
			return 0;
	} else if (!params_equal(a->params, b->params) || !params_equal(b->params, a->params)) {
		return 0;
	}
	if ((a->headers.len == 0) != (b->headers.len == 0))
		return 0;
	if (too_many(a->headers, b->headers, '&'))
		return sy_str_eq(a->headers, b->headers);
	return headers_subset(a->headers, b->headers) && headers_subset(b->headers, a->headers);
}
