/* values.c: typed header value parsers: Via (RFC 3261 §20.42, §18.2.1, RFC 3581), name-addr /
 * addr-spec with header params (§20.10, §20.20, §20.39, §25.1), generic params, comma lists
 * and bounded decimal numbers. Each parser takes one value of a comma-separated list and hands
 * back what follows the comma, so callers walk lists without copying. LWS, including folded
 * lines, is allowed wherever §25.1 puts SWS/LWS. */
#include <errno.h>
#include <string.h>

#include "sip/lex.h"
#include "sip/msg.h"

int sip_parse_uint(sy_str s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (s.len == 0)
		return EINVAL;
	if (s.len <= 19) {
		/* ports, CSeq, lengths: 19 digits cannot overflow 64 bits, no check per step */
		for (size_t i = 0; i < s.len; i++) {
			unsigned d = (unsigned)(unsigned char)s.s[i] - '0';
			if (d > 9)
				return EINVAL;
			v = v * 10 + d;
		}
		if (v > max)
			return ERANGE;
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.s[i];
		if (!sip_is_digit(c))
			return EINVAL;
		unsigned d = c - '0';
		/* 19 digits cannot overflow 64 bits; beyond that, check before each step */
		if (i >= 19 && (d > max || v > (max - d) / 10))
			return ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return ERANGE;
	*out = v;
	return 0;
}

/* gen-value = token / host / quoted-string: the end of a value at p, or NULL */
static const char *scan_gen_value(const char *p, const char *end)
{
	const char *q = p;
	if (q < end && *q == '"')
		return sip_skip_quoted(q, end);
	/* branch ids and tags (the longest values on every message) four octets per test */
	while (end - q >= 4 && (sip_cc[(unsigned char)q[0]] & sip_cc[(unsigned char)q[1]] &
				 sip_cc[(unsigned char)q[2]] & sip_cc[(unsigned char)q[3]] &
				 SIP_CC_GENV))
		q += 4;
	while (q < end && (sip_cc[(unsigned char)*q] & SIP_CC_GENV))
		q++;
	return q == p ? NULL : q;
}

int sip_param_next(sy_str *iter, sy_str *name, sy_str *value)
{
	const char *p = iter->s, *end = sip_end(*iter), *q;

	for (;;) {
		p = sip_skip_lws(p, end);
		if (p >= end) {
			*iter = sip_slice(end, end);
			return ENOENT;
		}
		if (*p != ';')
			break;
		p++;
	}
	/* URI params may hold any paramchar in a name; stop at the separators */
	for (q = p; q < end && *q != ';' && *q != '=' && *q != ',' && !sip_is_wsp((unsigned char)*q) &&
		    *q != '\r'; q++)
		;
	*name = sip_slice(p, q);
	p = sip_skip_lws(q, end);
	if (p < end && *p == '=') {
		p = sip_skip_lws(p + 1, end);
		if (p < end && *p == '"') {
			q = sip_skip_quoted(p, end);
			if (!q)
				q = end;
		} else {
			for (q = p; q < end && *q != ';' && *q != ',' &&
				    !sip_is_wsp((unsigned char)*q) && *q != '\r'; q++)
				;
		}
		*value = sip_slice(p, q);
		p = q;
	} else {
		*value = sip_slice(q, q);
	}
	/* skip anything malformed up to the next ';' so iteration always advances */
	while (p < end && *p != ';')
		p++;
	*iter = sip_slice(p, end);
	return 0;
}

int sip_param_get(sy_str params, sy_str name, sy_str *value)
{
	sy_str n, v;
	while (sip_param_next(&params, &n, &v) == 0) {
		if (sy_str_caseeq(n, name)) {
			*value = v;
			return 0;
		}
	}
	return ENOENT;
}

int sip_list_next(sy_str s, sy_str *item, sy_str *rest)
{
	const char *p = s.s, *end = sip_end(s), *q;
	int angle = 0;

	p = sip_skip_lws(p, end);
	if (p >= end)
		return ENOENT;
	for (q = p; q < end; q++) {
		if (*q == '"') {
			const char *e = sip_skip_quoted(q, end);
			if (!e) {
				q = end;
				break;
			}
			q = e - 1;
		} else if (*q == '<') {
			angle = 1;
		} else if (*q == '>') {
			angle = 0;
		} else if (*q == ',' && !angle) {
			break;
		}
	}
	*item = sip_slice(p, sip_rtrim_lws(p, q));
	*rest = q < end ? sip_slice(q + 1, end) : sip_slice(end, end);
	return 0;
}

/* a well-known param the caller wants while the list is parsed (name in lowercase): *out gets
 * its value (a non-NULL zero-length slice for a flag), first occurrence wins */
struct hp_want {
	const char *name;
	size_t len;
	sy_str *out;
};

/* *( SEMI generic-param ) from *pp: strict (no empty names or values), LWS allowed around ';'
 * and '='. *params gets the list without the leading ';', *pp the end of the last param. */
static int parse_hparams(const char **pp, const char *end, sy_str *params,
			 const struct hp_want *want, unsigned nwant)
{
	const char *p = *pp, *start = NULL, *last = NULL, *q;

	for (;;) {
		q = sip_skip_lws(p, end);
		if (q >= end || *q != ';')
			break;
		q = sip_skip_lws(q + 1, end);
		if (!start)
			start = q;
		const char *n = q;
		while (q < end && sip_is_token((unsigned char)*q))
			q++;
		if (q == n)
			return EBADMSG;
		sy_str name = sip_slice(n, q), val = sip_slice(q, q);
		last = q;
		const char *e = sip_skip_lws(q, end);
		if (e < end && *e == '=') {
			e = sip_skip_lws(e + 1, end);
			q = scan_gen_value(e, end);
			if (!q)
				return EBADMSG;
			val = sip_slice(e, q);
			last = q;
		}
		for (unsigned k = 0; k < nwant; k++) {
			if (name.len == want[k].len && !want[k].out->s &&
			    sip_name_eq(name.s, want[k].name, name.len)) {
				*want[k].out = val;
				break;
			}
		}
		p = last;
	}
	*params = start ? sip_slice(start, last) : sip_slice(p, p);
	*pp = p;
	return 0;
}

/* after one list value ends at p: end of input or ',' followed by another value */
static int list_rest(const char *p, const char *end, sy_str *rest)
{
	p = sip_skip_lws(p, end);
	if (p >= end) {
		*rest = sip_slice(end, end);
		return 0;
	}
	if (*p != ',')
		return EBADMSG;
	p = sip_skip_lws(p + 1, end);
	if (p >= end || *p == ',')
		return EBADMSG;	/* stray ',' (RFC 4475 §3.1.2.1) */
	*rest = sip_slice(p, end);
	return 0;
}

static const char *scan_token(const char *p, const char *end)
{
	while (p < end && sip_is_token((unsigned char)*p))
		p++;
	return p;
}

int sip_via_parse(sy_str s, struct sip_via *v, sy_str *rest)
{
	const char *p = s.s, *end = sip_end(s), *q, *start;
	uint64_t n;

	memset(v, 0, sizeof(*v));
	v->rport = -1;
	p = start = sip_skip_lws(p, end);
	/* sent-protocol = protocol-name SLASH protocol-version SLASH transport, SLASH = SWS "/" SWS;
	 * what every client sends, "SIP/2.0/UDP" with no LWS, is taken in one compare */
	if (end - p > 8 && memcmp(p, "SIP/2.0/", 8) == 0 && (q = scan_token(p + 8, end)) != p + 8) {
		v->transport = sip_slice(p + 8, q);
		v->proto = sip_slice(start, q);
		p = q;
	} else {
		for (int part = 0; part < 3; part++) {
			q = scan_token(p, end);
			if (q == p)
				return EBADMSG;
			if (part == 2) {
				v->transport = sip_slice(p, q);
				v->proto = sip_slice(start, q);
				p = q;
				break;
			}
			p = sip_skip_lws(q, end);
			if (p >= end || *p != '/')
				return EBADMSG;
			p = sip_skip_lws(p + 1, end);
		}
	}
	/* LWS sent-by */
	q = sip_skip_lws(p, end);
	if (q == p)
		return EBADMSG;
	p = q;
	q = sip_scan_host(p, end);
	if (!q)
		return EBADMSG;
	v->host = sip_slice(p, q);
	p = q;
	q = sip_skip_lws(p, end);
	if (q < end && *q == ':') {
		const char *d = sip_skip_lws(q + 1, end);
		q = d;
		while (q < end && sip_is_digit((unsigned char)*q))
			q++;
		if (sip_parse_uint(sip_slice(d, q), 65535, &n))
			return EBADMSG;
		v->port = (unsigned)n;
		p = q;
	}
	sy_str rport = SY_NULL_STR;
	const struct hp_want want[] = {
		{ "branch", 6, &v->branch }, { "received", 8, &v->received },
		{ "maddr", 5, &v->maddr }, { "ttl", 3, &v->ttl }, { "rport", 5, &rport },
	};
	if (parse_hparams(&p, end, &v->params, want, 5))
		return EBADMSG;
	v->raw = sip_slice(start, p);
	if (v->ttl.s && sip_parse_uint(v->ttl, 255, &n))
		return EBADMSG;
	if (rport.s) {
		/* RFC 3581 §3: a flag in a request, the source port in what we relay back */
		if (rport.len == 0)
			v->rport = 0;
		else if (sip_parse_uint(rport, 65535, &n) || n == 0)
			return EBADMSG;
		else
			v->rport = (int)n;
	}
	return list_rest(p, end, rest);
}

/* parse_uri 0: the URI's extent is found (uri_s) but not parsed: uri_unparsed is set */
static int nameaddr_parse(sy_str s, struct sip_nameaddr *na, sy_str *rest, int parse_uri)
{
	const char *p = s.s, *end = sip_end(s), *q, *start;

	memset(na, 0, sizeof(*na));
	p = start = sip_skip_lws(p, end);
	if (p >= end)
		return EBADMSG;
	if (*p == '*') {
		/* Contact: * (§20.10), only on its own */
		na->star = 1;
		na->raw = sip_slice(p, p + 1);
		if (sip_skip_lws(p + 1, end) != end)
			return EBADMSG;
		*rest = sip_slice(end, end);
		return 0;
	}
	if (*p == '"') {
		q = sip_skip_quoted(p, end);
		if (!q)
			return EBADMSG;	/* unterminated quote (RFC 4475 §3.1.2.6) */
		na->display = sip_slice(p, q);
		q = sip_skip_lws(q, end);
		if (q >= end || *q != '<')
			return EBADMSG;
	} else {
		/* display-name = *(token LWS): look ahead for '<' to tell it from an addr-spec */
		q = p;
		for (;;) {
			const char *t = scan_token(q, end);
			const char *l = sip_skip_lws(t, end);
			if (l == q)
				break;
			q = l;
		}
		if (q < end && *q == '<')
			na->display = sip_slice(p, sip_rtrim_lws(p, q));
		else
			q = NULL;
	}
	if (q) {
		const char *gt = memchr(q + 1, '>', (size_t)(end - q - 1));
		if (!gt)
			return EBADMSG;
		na->uri_s = sip_slice(q + 1, gt);
		na->bracketed = 1;
		p = gt + 1;
	} else {
		/* bare addr-spec: its ';' params belong to the header (§20.10); a URI with ',' '?'
		 * or header-param-looking ';' parts must be in <> */
		const char *te = p;
		while (te < end && *te != ',' && !sip_is_wsp((unsigned char)*te) && *te != '\r')
			te++;
		if (memchr(p, '?', (size_t)(te - p)))
			return EBADMSG;
		const char *at = memchr(p, '@', (size_t)(te - p));
		const char *from = at ? at : p;
		const char *semi = memchr(from, ';', (size_t)(te - from));
		na->uri_s = sip_slice(p, semi ? semi : te);
		p = semi ? semi : te;
	}
	if (!parse_uri)
		na->uri_unparsed = 1;
	else if (sip_uri_parse(na->uri_s, &na->uri))
		return EBADMSG;
	const struct hp_want want[] = {
		{ "tag", 3, &na->tag }, { "expires", 7, &na->expires }, { "q", 1, &na->q },
	};
	if (parse_hparams(&p, end, &na->params, want, 3))
		return EBADMSG;
	na->raw = sip_slice(start, p);
	return list_rest(p, end, rest);
}

int sip_nameaddr_parse(sy_str s, struct sip_nameaddr *na, sy_str *rest)
{
	return nameaddr_parse(s, na, rest, 1);
}

int sip_nameaddr_parse_nouri(sy_str s, struct sip_nameaddr *na, sy_str *rest)
{
	return nameaddr_parse(s, na, rest, 0);
}

const struct sip_uri *sip_nameaddr_uri(const struct sip_nameaddr *na, struct sip_uri *tmp)
{
	if (!na->uri_unparsed)
		return &na->uri;
	return sip_uri_parse(na->uri_s, tmp) ? NULL : tmp;
}
