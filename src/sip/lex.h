/* lex.h: character classes and LWS skipping shared by the sip/ parsers (RFC 3261 §25.1).
 * Internal to src/sip: static inline only, so it adds no symbols. LWS inside a header value is
 * [*WSP CRLF] 1*WSP (§25.1): a CRLF counts as white space only when a SP or HT follows it,
 * which is exactly how a folded line continues. */
#ifndef SIP_LEX_H
#define SIP_LEX_H

#include <stddef.h>

#include "core/str.h"

static inline int sip_is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static inline int sip_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline int sip_is_alnum(unsigned char c)
{
	return sip_is_alpha(c) || sip_is_digit(c);
}

static inline int sip_is_hex(unsigned char c)
{
	return sip_is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static inline int sip_hexval(unsigned char c)
{
	return sip_is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

static inline int sip_is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
static inline int sip_is_token(unsigned char c)
{
	if (sip_is_alnum(c))
		return 1;
	switch (c) {
	case '-': case '.': case '!': case '%': case '*': case '_': case '+': case '`':
	case '\'': case '~':
		return 1;
	}
	return 0;
}

/* mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"; unreserved = alphanum / mark */
static inline int sip_is_unreserved(unsigned char c)
{
	if (sip_is_alnum(c))
		return 1;
	switch (c) {
	case '-': case '_': case '.': case '!': case '~': case '*': case '\'': case '(': case ')':
		return 1;
	}
	return 0;
}

/* UTF8-NONASCII lead and continuation octets, accepted in quoted strings and reason phrases */
static inline int sip_is_utf8(unsigned char c)
{
	return c >= 0x80;
}

/* skip LWS (with folding) from p, never past end */
static inline const char *sip_skip_lws(const char *p, const char *end)
{
	for (;;) {
		if (p < end && sip_is_wsp((unsigned char)*p)) {
			p++;
		} else if (end - p >= 3 && p[0] == '\r' && p[1] == '\n' &&
			   sip_is_wsp((unsigned char)p[2])) {
			p += 3;
		} else {
			return p;
		}
	}
}

/* trim LWS (folding included) at the end of [s, end) */
static inline const char *sip_rtrim_lws(const char *s, const char *end)
{
	while (end > s) {
		unsigned char c = (unsigned char)end[-1];
		if (sip_is_wsp(c) || c == '\r' || c == '\n')
			end--;
		else
			break;
	}
	return end;
}

/* one past the last octet; safe on an empty slice whose pointer is NULL */
static inline const char *sip_end(sy_str s)
{
	return s.len ? s.s + s.len : s.s;
}

static inline sy_str sip_slice(const char *a, const char *b)
{
	sy_str r = { a, (size_t)(b - a) };
	return r;
}

/* host = hostname / IPv4address / IPv6reference (§25.1); '_' accepted for the hostnames seen
 * in the wild. Returns the end of the host at p, or NULL when there is none. */
static inline const char *sip_scan_host(const char *p, const char *end)
{
	const char *q = p;
	if (q < end && *q == '[') {
		q++;
		while (q < end && (sip_is_hex((unsigned char)*q) || *q == ':' || *q == '.'))
			q++;
		if (q >= end || *q != ']' || q == p + 1)
			return NULL;
		return q + 1;
	}
	while (q < end && (sip_is_alnum((unsigned char)*q) || *q == '-' || *q == '.' || *q == '_'))
		q++;
	return q == p ? NULL : q;
}

/* a quoted-string starting at p ('"'): returns the pointer after the closing quote, or NULL
 * when unterminated. quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F) (§25.1). */
static inline const char *sip_skip_quoted(const char *p, const char *end)
{
	p++;
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c == '\\') {
			if (end - p < 2)
				return NULL;
			c = (unsigned char)p[1];
			if (c == '\r' || c == '\n' || c > 0x7f)
				return NULL;
			p += 2;
			continue;
		}
		if (c == '\r') {
			/* only a fold may continue a quoted string */
			if (end - p >= 3 && p[1] == '\n' && sip_is_wsp((unsigned char)p[2])) {
				p += 3;
				continue;
			}
			return NULL;
		}
		if (c < 0x20 && c != '\t')
			return NULL;
		if (c == 0x7f)
			return NULL;
		p++;
	}
	return NULL;
}

#endif
