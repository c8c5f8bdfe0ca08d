/* validate.c: the request checks a proxy makes before any routing (RFC 3261 §16.3, §8.2.1-3)
 * and the sanity check on responses before they are relayed (§16.7, §18.1.2). The parser
 * already rejected what cannot be framed or indexed; here the message is judged as SIP:
 * version, mandatory fields, CSeq method, every Via and Contact value, Max-Forwards,
 * Request-URI scheme and Proxy-Require. Max-Forwards 0 is the forwarding code's decision (483,
 * or answering OPTIONS itself), not a validity matter. */
#include <errno.h>
#include <string.h>

#include "sip/build.h"
#include "sip/lex.h"

static int verdict(struct sip_verdict *v, unsigned code, const char *reason)
{
	v->code = code;
	v->reason = reason;
	return EBADMSG;
}

static int is_supported(sy_str tok, const char *const *supported)
{
	for (; supported && *supported; supported++)
		if (sy_str_caseeq_c(tok, *supported))
			return 1;
	return 0;
}

/* mandatory for every request (§8.1.1) */
static const struct {
	enum sip_hdr_id id;
	const char *why;
} mandatory[] = {
	{ SIP_H_TO, "Missing To" }, { SIP_H_FROM, "Missing From" },
	{ SIP_H_CALL_ID, "Missing Call-ID" }, { SIP_H_CSEQ, "Missing CSeq" },
	{ SIP_H_VIA, "Missing Via" },
};

int sip_validate_request(const struct sip_msg *m, const char *const *supported,
			 struct sip_verdict *v)
{
	sy_str rest, item;
	uint64_t n;
	int i;

	memset(v, 0, sizeof(*v));
	if (!m->is_request)
		return verdict(v, 400, "Not A Request");
	if (!sy_str_caseeq_c(m->version, "SIP/2.0"))
		return verdict(v, 505, "Version Not Supported");
	for (size_t k = 0; k < sizeof(mandatory) / sizeof(mandatory[0]); k++)
		if (m->first[mandatory[k].id] < 0)
			return verdict(v, 400, mandatory[k].why);
	if (!sy_str_eq(m->method, m->cseq_method)) {
		/* an unknown method whose CSeq disagrees: 501 is the more useful answer
		 * (RFC 4475 §3.1.2.18) */
		if (m->mid == SIP_M_OTHER)
			return verdict(v, 501, "Not Implemented");
		return verdict(v, 400, "CSeq Method Mismatch");
	}
	/* RFC 4475 §3.2.1: a branch that is only the magic cookie identifies nothing; we answer
	 * 400 rather than fall back to RFC 2543 matching on it */
	if (m->via1.branch.len == 7 && memcmp(m->via1.branch.s, "z9hG4bK", 7) == 0)
		return verdict(v, 400, "Bad Via Branch");
	/* the parser checked every via-parm; the Contact values are checked here (§20.10) */
	unsigned ncontact = 0, star = 0;
	for (i = sip_hdr_next(m, SIP_H_CONTACT, 0); i >= 0;
	     i = sip_hdr_next(m, SIP_H_CONTACT, i + 1)) {
		struct sip_nameaddr na;
		rest = m->hdr[i].body;
		if (rest.len == 0)
			return verdict(v, 400, "Bad Contact");
		while (rest.len) {
			if (sip_nameaddr_parse(rest, &na, &rest))
				return verdict(v, 400, "Bad Contact");
			ncontact++;
			star += (unsigned)na.star;
		}
	}
	if (star && (ncontact > 1 || m->mid != SIP_M_REGISTER))
		return verdict(v, 400, "Bad Contact");
	if ((i = m->first[SIP_H_MAX_FORWARDS]) >= 0 && sip_parse_uint(m->hdr[i].body, 255, &n))
		return verdict(v, 400, "Bad Max-Forwards");
	if (m->ruri_p.scheme != SIP_URI_SIP && m->ruri_p.scheme != SIP_URI_SIPS &&
	    m->ruri_p.scheme != SIP_URI_TEL)
		return verdict(v, 416, "Unsupported URI Scheme");
	/* headers are not allowed in a Request-URI (§19.1.5; RFC 4475 §3.1.2.11) */
	if (m->ruri_p.headers.len)
		return verdict(v, 400, "Bad Request-URI");
	/* §16.3 step 5: Proxy-Require tokens we do not support: 420 listing them; the slice runs
	 * from the first unsupported token to the last one of the same field */
	for (i = sip_hdr_next(m, SIP_H_PROXY_REQUIRE, 0); i >= 0;
	     i = sip_hdr_next(m, SIP_H_PROXY_REQUIRE, i + 1)) {
		const char *a = NULL, *b = NULL;
		rest = m->hdr[i].body;
		while (sip_list_next(rest, &item, &rest) == 0) {
			if (item.len == 0)
				continue;
			if (!is_supported(item, supported)) {
				if (!a)
					a = item.s;
				b = item.s + item.len;
			}
		}
		if (a) {
			v->unsupported = sip_slice(a, b);
			return verdict(v, 420, "Bad Extension");
		}
	}
	return 0;
}

int sip_validate_response(const struct sip_msg *m)
{
	if (m->is_request || !sy_str_caseeq_c(m->version, "SIP/2.0"))
		return EBADMSG;
	if (m->status < 100 || m->status > 699)
		return EBADMSG;
	for (size_t k = 0; k < sizeof(mandatory) / sizeof(mandatory[0]); k++)
		if (m->first[mandatory[k].id] < 0)
			return EBADMSG;
	return 0;
}
