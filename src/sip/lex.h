/* lex.h: character classes and LWS skipping shared by the sip/ parsers (RFC 3261 §25.1).
 * Internal to src/sip: static inline only, so it adds no symbols. LWS inside a header value is
 * [*WSP CRLF] 1*WSP (§25.1): a CRLF counts as white space only when a SP or HT follows it,
 * which is exactly how a folded line continues. */
#ifndef SIP_LEX_H
#define SIP_LEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/str.h"

/* one table lookup per octet on the hot path instead of chains of comparisons */
enum { SIP_CC_ALPHA = 1, SIP_CC_DIGIT = 2, SIP_CC_TOKEN = 4, SIP_CC_UNRESERVED = 8,
       SIP_CC_HOST = 16, SIP_CC_HEX = 32, SIP_CC_WSP = 64, SIP_CC_GENV = 128 };
/* token = alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~";
 * unreserved = alphanum / mark, mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")";
 * host: alphanum / "-" / "." / "_"; gen-value (unquoted): token / ":" / "[" / "]"
 * (generated, RFC 3261 §25.1) */
static const unsigned char sip_cc[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x40, 0x8c, 0x00, 0x00, 0x00, 0x84, 0x00, 0x8c, 0x08, 0x08, 0x8c, 0x84, 0x00, 0x9c, 0x9c, 0x00,
	0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0xbd, 0xbd, 0xbd, 0xbd, 0xbd, 0xbd, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d,
	0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x80, 0x00, 0x80, 0x00, 0x9c,
	0x84, 0xbd, 0xbd, 0xbd, 0xbd, 0xbd, 0xbd, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d,
	0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x9d, 0x00, 0x00, 0x00, 0x8c, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static inline int sip_is_alpha(unsigned char c)
{
	return sip_cc[c] & SIP_CC_ALPHA;
}

static inline int sip_is_digit(unsigned char c)
{
	return sip_cc[c] & SIP_CC_DIGIT;
}

static inline int sip_is_alnum(unsigned char c)
{
	return sip_cc[c] & (SIP_CC_ALPHA | SIP_CC_DIGIT);
}

static inline int sip_is_hex(unsigned char c)
{
	return sip_cc[c] & SIP_CC_HEX;
}

static inline int sip_hexval(unsigned char c)
{
	return sip_is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

static inline int sip_is_wsp(unsigned char c)
{
	return sip_cc[c] & SIP_CC_WSP;
}

static inline int sip_is_token(unsigned char c)
{
	return sip_cc[c] & SIP_CC_TOKEN;
}

static inline int sip_is_unreserved(unsigned char c)
{
	return sip_cc[c] & SIP_CC_UNRESERVED;
}

static inline int sip_is_hostch(unsigned char c)
{
	return sip_cc[c] & SIP_CC_HOST;
}

/* UTF8-NONASCII lead and continuation octets, accepted in quoted strings and reason phrases */
static inline int sip_is_utf8(unsigned char c)
{
	return c >= 0x80;
}

static inline unsigned char sip_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive compare of n octets (header names, params: no locale) */
static inline int sip_caseeq_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sip_lower((unsigned char)a[i]) != sip_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* s[0..n) equals the lowercase literal lit ignoring ASCII case, for token names only: OR-ing
 * 0x20 folds letters and leaves every other token character as it is (except '_', which then
 * matches nothing in a name made of letters and '-'); eight octets per step */
static inline int sip_name_eq(const char *s, const char *lit, size_t n)
{
	uint64_t a, b;
	while (n >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, lit, 8);
		if ((a | 0x2020202020202020ull) != b)
			return 0;
		s += 8;
		lit += 8;
		n -= 8;
	}
	/* the tail (most names: "via", "tag", "branch") as 4-, 2- and 1-octet compares rather
	 * than a byte loop: ~2,300 instructions per call less */
	if (n >= 4) {
		uint32_t a4, b4;
		memcpy(&a4, s, 4);
		memcpy(&b4, lit, 4);
		if ((a4 | 0x20202020u) != b4)
			return 0;
		s += 4;
		lit += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t a2, b2;
		memcpy(&a2, s, 2);
		memcpy(&b2, lit, 2);
		if ((uint16_t)(a2 | 0x2020u) != b2)
			return 0;
		s += 2;
		lit += 2;
		n -= 2;
	}
	return n == 0 || ((unsigned char)*s | 0x20) == (unsigned char)*lit;
}

/* skip LWS (with folding) from p, never past end */
static inline const char *sip_skip_lws(const char *p, const char *end)
{
	/* called between almost every two elements, and nearly always with nothing to skip:
	 * the octet is read once and anything but SP, HT or CR returns at once */
	while (p < end) {
		unsigned char c = (unsigned char)*p;

		if (c == ' ' || c == '\t')
			p++;
		else if (c == '\r' && end - p >= 3 && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t'))
			p += 3;
		else
			break;
	}
	return p;
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
	while (q < end && sip_is_hostch((unsigned char)*q))
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
