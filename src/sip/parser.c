/* parser.c: the SIP message parser (RFC 3261 §7, §20, §25). One pass over the start line and
 * the header section builds an index of every header field (zero-copy slices into the caller's
 * buffer, in the caller's array); the fields every proxy needs on every message (Via, From, To,
 * Call-ID, CSeq, Max-Forwards, Content-Length) are then parsed and checked (a reply's
 * From/To URIs only on demand), and the body is framed by Content-Length. On failure err_code/err_reason say which reply a server owes. */
#include <errno.h>
#include <string.h>

#include "sip/lex.h"
#include "sip/msg.h"

void sip_limits_default(struct sip_limits *lim)
{
	lim->max_headers = 128;
	lim->max_line = 8192;
	lim->max_msg = 65535;
	lim->max_via = 64;
	lim->max_contacts = 64;
}

/* compact forms, RFC 3261 §7.3.3 and the registry (RFC 3265, 3515, 3892, 3841, 4028, 4474) */
static const char *const compact_full[26] = {
	['b' - 'a'] = "Referred-By", ['c' - 'a'] = "Content-Type", ['e' - 'a'] = "Content-Encoding",
	['f' - 'a'] = "From", ['i' - 'a'] = "Call-ID", ['k' - 'a'] = "Supported",
	['l' - 'a'] = "Content-Length", ['m' - 'a'] = "Contact", ['o' - 'a'] = "Event",
	['r' - 'a'] = "Refer-To", ['s' - 'a'] = "Subject", ['t' - 'a'] = "To",
	['u' - 'a'] = "Allow-Events", ['v' - 'a'] = "Via", ['x' - 'a'] = "Session-Expires",
	['y' - 'a'] = "Identity",
};

/* the full name for a compact one, else name itself */
static sy_str canonical_name(sy_str name)
{
	if (name.len == 1) {
		unsigned c = (unsigned char)name.s[0] | 0x20;
		if (c >= 'a' && c <= 'z' && compact_full[c - 'a'])
			return sy_cstr(compact_full[c - 'a']);
	}
	return name;
}

/* on the hot path for every field: dispatch on the first letter, then compare lengths */
/* sip_name_eq folds CR onto '-': a name holding a CR (never one the parser indexed) is
 * no known header */
#define HN(lit, hid) \
	if (name.len == sizeof(lit) - 1 && sip_name_eq(name.s, lit, name.len)) \
		return hid
/* the id of a header name made of token characters only (as the parser indexes them) */
static enum sip_hdr_id hdr_id_token(sy_str name)
{
	if (name.len == 0)
		return SIP_H_OTHER;
	unsigned char c0 = sip_lower((unsigned char)name.s[0]);
	if (name.len == 1) {
		switch (c0) {
		case 'c': return SIP_H_CONTENT_TYPE;
		case 'f': return SIP_H_FROM;
		case 'i': return SIP_H_CALL_ID;
		case 'k': return SIP_H_SUPPORTED;
		case 'l': return SIP_H_CONTENT_LENGTH;
		case 'm': return SIP_H_CONTACT;
		case 'o': return SIP_H_EVENT;
		case 's': return SIP_H_SUBJECT;
		case 't': return SIP_H_TO;
		case 'v': return SIP_H_VIA;
		default: return SIP_H_OTHER;
		}
	}
	switch (c0) {
	case 'a':
		HN("allow", SIP_H_ALLOW);
		HN("authorization", SIP_H_AUTHORIZATION);
		break;
	case 'c':
		HN("cseq", SIP_H_CSEQ);
		HN("call-id", SIP_H_CALL_ID);
		HN("contact", SIP_H_CONTACT);
		HN("content-type", SIP_H_CONTENT_TYPE);
		HN("content-length", SIP_H_CONTENT_LENGTH);
		break;
	case 'd':
		HN("date", SIP_H_DATE);
		break;
	case 'e':
		HN("event", SIP_H_EVENT);
		HN("expires", SIP_H_EXPIRES);
		break;
	case 'f':
		HN("from", SIP_H_FROM);
		break;
	case 'm':
		HN("max-forwards", SIP_H_MAX_FORWARDS);
		HN("min-expires", SIP_H_MIN_EXPIRES);
		break;
	case 'p':
		HN("path", SIP_H_PATH);
		HN("proxy-require", SIP_H_PROXY_REQUIRE);
		HN("proxy-authorization", SIP_H_PROXY_AUTHORIZATION);
		HN("proxy-authenticate", SIP_H_PROXY_AUTHENTICATE);
		break;
	case 'r':
		HN("route", SIP_H_ROUTE);
		HN("record-route", SIP_H_RECORD_ROUTE);
		HN("require", SIP_H_REQUIRE);
		HN("retry-after", SIP_H_RETRY_AFTER);
		break;
	case 's':
		HN("server", SIP_H_SERVER);
		HN("subject", SIP_H_SUBJECT);
		HN("supported", SIP_H_SUPPORTED);
		break;
	case 't':
		HN("to", SIP_H_TO);
		break;
	case 'u':
		HN("user-agent", SIP_H_USER_AGENT);
		HN("unsupported", SIP_H_UNSUPPORTED);
		break;
	case 'v':
		HN("via", SIP_H_VIA);
		break;
	case 'w':
		HN("www-authenticate", SIP_H_WWW_AUTHENTICATE);
		break;
	}
	return SIP_H_OTHER;
}
#undef HN

enum sip_hdr_id sip_hdr_id_of(sy_str name)
{
	enum sip_hdr_id id = hdr_id_token(name);

	/* a CR can fold onto '-' in sip_name_eq: such a name is no known header */
	if (id != SIP_H_OTHER && name.len > 1 && memchr(name.s, '\r', name.len))
		return SIP_H_OTHER;
	return id;
}

static const char *const method_names[] = {
	[SIP_M_INVITE] = "INVITE", [SIP_M_ACK] = "ACK", [SIP_M_BYE] = "BYE",
	[SIP_M_CANCEL] = "CANCEL", [SIP_M_REGISTER] = "REGISTER", [SIP_M_OPTIONS] = "OPTIONS",
	[SIP_M_INFO] = "INFO", [SIP_M_UPDATE] = "UPDATE", [SIP_M_PRACK] = "PRACK",
	[SIP_M_SUBSCRIBE] = "SUBSCRIBE", [SIP_M_NOTIFY] = "NOTIFY", [SIP_M_MESSAGE] = "MESSAGE",
	[SIP_M_REFER] = "REFER", [SIP_M_PUBLISH] = "PUBLISH",
};

/* methods are case-sensitive (RFC 3261 §7.1); the first octet picks the one candidate, so
 * each request and CSeq costs one memcmp instead of a strlen and compare per known method */
enum sip_method sip_method_id(sy_str method)
{
	enum sip_method c;

	if (method.len < 3)
		return SIP_M_OTHER;
	switch (method.s[0]) {
	case 'A': c = SIP_M_ACK; break;
	case 'B': c = SIP_M_BYE; break;
	case 'C': c = SIP_M_CANCEL; break;
	case 'I': c = method.s[2] == 'V' ? SIP_M_INVITE : SIP_M_INFO; break;
	case 'M': c = SIP_M_MESSAGE; break;
	case 'N': c = SIP_M_NOTIFY; break;
	case 'O': c = SIP_M_OPTIONS; break;
	case 'P': c = method.s[1] == 'R' ? SIP_M_PRACK : SIP_M_PUBLISH; break;
	case 'R': c = method.s[2] == 'G' ? SIP_M_REGISTER : SIP_M_REFER; break;
	case 'S': c = SIP_M_SUBSCRIBE; break;
	case 'U': c = SIP_M_UPDATE; break;
	default: return SIP_M_OTHER;
	}
	return sy_str_eq(method, sy_cstr(method_names[c])) ? c : SIP_M_OTHER;
}

int sip_hdr_next(const struct sip_msg *m, enum sip_hdr_id id, int start)
{
	if (start < 0)
		start = 0;
	if ((unsigned)id < SIP_H__COUNT && id != SIP_H_OTHER) {
		int f = m->first[id];
		if (f < 0)
			return -1;
		if (start < f)
			start = f;
	}
	for (unsigned i = (unsigned)start; i < m->nhdr; i++)
		if (m->hdr[i].id == id)
			return (int)i;
	return -1;
}

int sip_hdr_next_name(const struct sip_msg *m, sy_str name, int start)
{
	enum sip_hdr_id id = sip_hdr_id_of(name);
	if (id != SIP_H_OTHER)
		return sip_hdr_next(m, id, start);
	name = canonical_name(name);
	for (unsigned i = start < 0 ? 0 : (unsigned)start; i < m->nhdr; i++) {
		if (m->hdr[i].id == SIP_H_OTHER && sy_str_caseeq(canonical_name(m->hdr[i].name), name))
			return (int)i;
	}
	return -1;
}

static int fail(struct sip_msg *m, int rc, unsigned code, const char *why, const char *at)
{
	m->err_code = code;
	m->err_reason = why;
	m->err_off = at ? (size_t)(at - m->buf) : 0;
	return rc;
}

/* "SIP/" in any case at p (4 octets there): the letters folded, the slash as is; inline
 * instead of strncasecmp, which cost ~40 instructions twice per message */
static int is_sip_slash(const char *p)
{
	return sip_name_eq(p, "sip", 3) && p[3] == '/';
}

/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (ABNF literals are case-insensitive) */
static int is_version(sy_str v)
{
	size_t i = 4;
	if (v.len < 7 || !is_sip_slash(v.s))
		return 0;
	if (!sip_is_digit((unsigned char)v.s[i]))
		return 0;
	while (i < v.len && sip_is_digit((unsigned char)v.s[i]))
		i++;
	if (i >= v.len || v.s[i] != '.')
		return 0;
	if (++i >= v.len)
		return 0;
	while (i < v.len && sip_is_digit((unsigned char)v.s[i]))
		i++;
	return i == v.len;
}

/* Request-Line = Method SP Request-URI SP SIP-Version; Status-Line = SIP-Version SP
 * Status-Code SP Reason-Phrase. Exactly one SP between elements (RFC 4475 §3.1.2.9/10: we
 * take the reject option and never propagate stray white space). */
static int parse_start_line(struct sip_msg *m, const char *p, const char *eol)
{
	const char *sp = memchr(p, ' ', (size_t)(eol - p));

	if (!sp)
		return fail(m, EBADMSG, 0, "Bad Start Line", p);
	if (eol - p >= 4 && is_sip_slash(p)) {
		m->is_request = 0;
		m->version = sip_slice(p, sp);
		if (!is_version(m->version))
			return fail(m, EBADMSG, 400, "Bad Status Line", p);
		const char *c = sp + 1, *ce = c;
		while (ce < eol && sip_is_digit((unsigned char)*ce))
			ce++;
		/* Status-Code = 3DIGIT, 100..699: a longer number is rejected before it can wrap */
		if (ce - c != 3 || (ce < eol && *ce != ' ') || *c < '1' || *c > '6')
			return fail(m, EBADMSG, 400, "Bad Status Code", c);
		m->status = (unsigned)((c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0'));
		m->reason = ce < eol ? sip_slice(ce + 1, eol) : sip_slice(eol, eol);
		for (const char *r = m->reason.s; r < eol; r++) {
			unsigned char ch = (unsigned char)*r;
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return fail(m, EBADMSG, 400, "Bad Reason Phrase", r);
		}
		return 0;
	}
	m->is_request = 1;
	m->method = sip_slice(p, sp);
	for (const char *t = p; t < sp; t++)
		if (!sip_is_token((unsigned char)*t))
			return fail(m, EBADMSG, 400, "Bad Method", t);
	if (m->method.len == 0)
		return fail(m, EBADMSG, 0, "Bad Start Line", p);
	m->mid = sip_method_id(m->method);
	const char *u = sp + 1;
	const char *sp2 = memchr(u, ' ', (size_t)(eol - u));
	if (!sp2 || sp2 == u)
		return fail(m, EBADMSG, 400, "Bad Request Line", u);
	m->ruri = sip_slice(u, sp2);
	m->version = sip_slice(sp2 + 1, eol);
	if (!is_version(m->version))
		return fail(m, EBADMSG, 400, "Bad Request Line", sp2 + 1);
	if (sip_uri_parse(m->ruri, &m->ruri_p))
		return fail(m, EBADMSG, 400, "Bad Request-URI", u);
	return 0;
}

/* the header fields that must appear at most once (RFC 3261 §7.3.1; RFC 4475 §3.3.8): a
 * repeat with a different value makes the message ambiguous. NULL for the others. */
static const char *single_why(enum sip_hdr_id id)
{
	switch (id) {
	case SIP_H_CALL_ID: return "Multiple Call-ID Values";
	case SIP_H_FROM: return "Multiple From Values";
	case SIP_H_TO: return "Multiple To Values";
	case SIP_H_CSEQ: return "Multiple CSeq Values";
	case SIP_H_MAX_FORWARDS: return "Multiple Max-Forwards Values";
	case SIP_H_CONTENT_LENGTH: return "Multiple Content-Length Values";
	default: return NULL;
	}
}

static int parse_known(struct sip_msg *m, const struct sip_limits *lim)
{
	const struct sip_hdr *h;
	sy_str rest, item;
	uint64_t n;
	int i;

	/* every via-parm must parse: replies are routed back along them */
	unsigned nvia = 0;
	for (i = sip_hdr_next(m, SIP_H_VIA, 0); i >= 0; i = sip_hdr_next(m, SIP_H_VIA, i + 1)) {
		struct sip_via v;
		rest = m->hdr[i].body;
		if (rest.len == 0)
			return fail(m, EBADMSG, 400, "Bad Via", m->hdr[i].raw.s);
		while (rest.len) {
			if (sip_via_parse(rest, nvia ? &v : &m->via1, &rest))
				return fail(m, EBADMSG, 400, "Bad Via", m->hdr[i].raw.s);
			if (++nvia > lim->max_via)
				return fail(m, EMSGSIZE, 400, "Too Many Via Values", m->hdr[i].raw.s);
		}
	}

	/* a request's From/To are checked in full (RFC 4475 verdicts); of a reply a proxy reads
	 * only the tags (RFC 3261 §17.1.3 matching, §16.7 relaying), so its URIs are parsed only
	 * when something asks (sip_nameaddr_uri): about a third of a reply's parse */
	int (*na_parse)(sy_str, struct sip_nameaddr *, sy_str *) =
		m->is_request ? sip_nameaddr_parse : sip_nameaddr_parse_nouri;
	if ((i = m->first[SIP_H_FROM]) >= 0) {
		h = &m->hdr[i];
		if (na_parse(h->body, &m->from, &rest) || rest.len || m->from.star)
			return fail(m, EBADMSG, 400, "Bad From", h->raw.s);
	}
	if ((i = m->first[SIP_H_TO]) >= 0) {
		h = &m->hdr[i];
		if (na_parse(h->body, &m->to, &rest) || rest.len || m->to.star)
			return fail(m, EBADMSG, 400, "Bad To", h->raw.s);
	}
	if ((i = m->first[SIP_H_CALL_ID]) >= 0) {
		/* callid = word [ "@" word ]: visible characters, no white space */
		h = &m->hdr[i];
		m->callid = h->body;
		if (h->body.len == 0)
			return fail(m, EBADMSG, 400, "Bad Call-ID", h->raw.s);
		size_t k = 0;
		/* eight octets per test (a byte below 0x21 or above 0x7e in the word: the exact
		 * "hasless"/"hasmore" bit tricks); the byte loop below names nothing new */
		for (; k + 8 <= h->body.len; k += 8) {
			const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
			uint64_t w;

			memcpy(&w, h->body.s + k, 8);
			if (((w - ones * 0x21) & ~w & high) || (((w + ones * (127 - 0x7e)) | w) & high))
				break;
		}
		for (; k < h->body.len; k++) {
			unsigned char c = (unsigned char)h->body.s[k];
			if (c <= 0x20 || c >= 0x7f)
				return fail(m, EBADMSG, 400, "Bad Call-ID", h->raw.s);
		}
	}
	if ((i = m->first[SIP_H_CSEQ]) >= 0) {
		/* CSeq = 1*DIGIT LWS Method, the number < 2^32 (§8.1.1.5) */
		h = &m->hdr[i];
		const char *p = h->body.s, *end = p + h->body.len, *q = p;
		while (q < end && sip_is_digit((unsigned char)*q))
			q++;
		if (sip_parse_uint(sip_slice(p, q), UINT32_MAX, &n))
			return fail(m, EBADMSG, 400, "Bad CSeq", h->raw.s);
		m->cseq = (uint32_t)n;
		p = sip_skip_lws(q, end);
		if (p == q)
			return fail(m, EBADMSG, 400, "Bad CSeq", h->raw.s);
		for (q = p; q < end && sip_is_token((unsigned char)*q); q++)
			;
		if (q == p || q != end)
			return fail(m, EBADMSG, 400, "Bad CSeq", h->raw.s);
		m->cseq_method = sip_slice(p, q);
		m->cseq_mid = sip_method_id(m->cseq_method);
	}
	if ((i = m->first[SIP_H_MAX_FORWARDS]) >= 0) {
		h = &m->hdr[i];
		if (sip_parse_uint(h->body, 255, &n))
			return fail(m, EBADMSG, 400, "Bad Max-Forwards", h->raw.s);
		m->maxfwd = (int)n;
	}
	if ((i = m->first[SIP_H_CONTENT_LENGTH]) >= 0) {
		/* never trust it further than the limit: it becomes an offset */
		h = &m->hdr[i];
		if (sip_parse_uint(h->body, lim->max_msg, &n))
			return fail(m, EBADMSG, 400, "Bad Content-Length", h->raw.s);
		m->clen = (long)n;
	}
	/* values are at most one more than the commas of each field: count exactly (quotes and
	 * <> hide commas) only when that bound is over the limit */
	unsigned ncontact = 0;
	for (i = sip_hdr_next(m, SIP_H_CONTACT, 0); i >= 0;
	     i = sip_hdr_next(m, SIP_H_CONTACT, i + 1)) {
		const char *c = m->hdr[i].body.s, *ce = c + m->hdr[i].body.len;
		ncontact++;
		while (c < ce && (c = memchr(c, ',', (size_t)(ce - c)))) {
			ncontact++;
			c++;
		}
	}
	if (ncontact <= lim->max_contacts)
		return 0;
	ncontact = 0;
	for (i = sip_hdr_next(m, SIP_H_CONTACT, 0); i >= 0;
	     i = sip_hdr_next(m, SIP_H_CONTACT, i + 1)) {
		rest = m->hdr[i].body;
		while (sip_list_next(rest, &item, &rest) == 0)
			if (++ncontact > lim->max_contacts)
				return fail(m, EMSGSIZE, 400, "Too Many Contacts", m->hdr[i].raw.s);
	}
	return 0;
}

int sip_msg_parse(struct sip_msg *m, const char *buf, size_t len, int stream,
		  const struct sip_limits *lim)
{
	struct sip_limits dl;
	struct sip_hdr *hdr = m->hdr;
	unsigned cap = m->hdr_cap;
	const char *p, *end, *eol;
	int rc;

	if (!lim) {
		sip_limits_default(&dl);
		lim = &dl;
	}
	memset(m, 0, sizeof(*m));
	m->hdr = hdr;
	m->hdr_cap = cap;
	m->maxfwd = -1;
	m->clen = -1;
	for (int k = 0; k < SIP_H__COUNT; k++)
		m->first[k] = -1;

	/* CRLFs before the start line are ignored (§7.5) */
	while (len >= 2 && buf[0] == '\r' && buf[1] == '\n') {
		buf += 2;
		len -= 2;
	}
	m->buf = buf;
	m->len = len;
	if (len > lim->max_msg)
		return fail(m, EMSGSIZE, 513, "Message Too Large", NULL);
	end = buf + len;
	/* the start line ends at the first CRLF; a bare LF before it means this is not SIP */
	eol = len ? memchr(buf, '\r', len) : NULL;
	if (eol && (eol + 1 >= end || eol[1] != '\n' || memchr(buf, '\n', (size_t)(eol - buf))))
		eol = NULL;
	if (!eol || eol == buf)
		return fail(m, EBADMSG, 0, "Bad Start Line", buf);
	m->start_line = sip_slice(buf, eol);
	if ((rc = parse_start_line(m, buf, eol)))
		return rc;

	/* header fields: name HCOLON value, folded lines continue with SP/HT (§7.3.1) */
	p = eol + 2;
	for (;;) {
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			m->hdr_end = (size_t)(p - buf);
			p += 2;
			break;
		}
		if (p >= end)
			return fail(m, EBADMSG, 400, "Missing Header End", p);
		const char *n = p, *q = p;
		/* octet by octet: four per test was slower here (names are short, 347k -> 428k) */
		while (q < end && sip_is_token((unsigned char)*q))
			q++;
		if (q == n)
			return fail(m, EBADMSG, 400, "Bad Header Name", n);
		sy_str name = sip_slice(n, q);
		while (q < end && sip_is_wsp((unsigned char)*q))
			q++;
		if (q >= end || *q != ':')
			return fail(m, EBADMSG, 400, "Bad Header Name", n);
		const char *v = ++q, *fe = NULL;
		/* the field ends at the first CRLF not followed by SP/HT; a bare CR or LF inside
		 * would be read as a line end by the next hop, so it is refused */
		while (q < end) {
			const char *cr = memchr(q, '\r', (size_t)(end - q));
			const char *lf = memchr(q, '\n', (size_t)((cr ? cr : end) - q));
			if (lf)
				return fail(m, EBADMSG, 400, "Bad Line End", lf);
			if (!cr)
				break;
			if (end - cr < 2 || cr[1] != '\n')
				return fail(m, EBADMSG, 400, "Bad Line End", cr);
			if (end - cr >= 3 && sip_is_wsp((unsigned char)cr[2])) {
				q = cr + 3;
				continue;
			}
			fe = cr;
			break;
		}
		if (!fe)
			return fail(m, EBADMSG, 400, "Missing Header End", n);
		if ((size_t)(fe + 2 - n) > lim->max_line)
			return fail(m, EMSGSIZE, 400, "Header Too Long", n);
		if (m->nhdr >= m->hdr_cap || m->nhdr >= lim->max_headers)
			return fail(m, EMSGSIZE, 400, "Too Many Headers", n);
		struct sip_hdr *h = &m->hdr[m->nhdr];
		h->name = name;
		h->id = hdr_id_token(name);	/* name is token characters: no CR in it */
		v = sip_skip_lws(v, fe);
		h->body = sip_slice(v, sip_rtrim_lws(v, fe));
		h->raw = sip_slice(n, fe + 2);
		if (m->first[h->id] < 0) {
			m->first[h->id] = (int)m->nhdr;
		} else {
			const char *why = single_why(h->id);
			if (why && !sy_str_eq(h->body, m->hdr[m->first[h->id]].body))
				return fail(m, EBADMSG, 400, why, n);
		}
		m->nhdr++;
		p = fe + 2;
	}

	if ((rc = parse_known(m, lim)))
		return rc;

	/* body: Content-Length frames it; in a datagram trailing octets are ignored (§18.3),
	 * without Content-Length the body runs to the end of the datagram */
	size_t avail = (size_t)(end - p);
	if (m->clen >= 0) {
		if ((size_t)m->clen > avail)
			return fail(m, EBADMSG, 400, "Content-Length Too Large", p);
		m->body = sip_slice(p, p + m->clen);
	} else {
		if (stream)
			return fail(m, EBADMSG, 400, "Missing Content-Length", p);
		m->body = sip_slice(p, end);
	}
	m->len = (size_t)(m->body.s + m->body.len - buf);
	return 0;
}
