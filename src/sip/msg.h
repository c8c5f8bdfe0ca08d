/* msg.h: the parsed SIP message: zero-copy slices into the caller's buffer.
 * Leaf code: no globals, no logging, no malloc. The caller provides the header array; every
 * sy_str points into buf. sip_msg_parse() indexes all headers and parses the ones every proxy
 * needs on every message (top Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length);
 * the others are parsed on demand with the sip_*_parse functions. A reply's From/To URIs are
 * left to sip_nameaddr_uri(). RFC 3261 §7, §20, §25. */
#ifndef SIP_MSG_H
#define SIP_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

enum sip_method {
	SIP_M_OTHER = 0, SIP_M_INVITE, SIP_M_ACK, SIP_M_BYE, SIP_M_CANCEL, SIP_M_REGISTER,
	SIP_M_OPTIONS, SIP_M_INFO, SIP_M_UPDATE, SIP_M_PRACK, SIP_M_SUBSCRIBE, SIP_M_NOTIFY,
	SIP_M_MESSAGE, SIP_M_REFER, SIP_M_PUBLISH
};

/* header ids; compact forms (RFC 3261 §7.3.3: i m e l c f s k t v, and o u r b x y) map here */
enum sip_hdr_id {
	SIP_H_OTHER = 0, SIP_H_VIA, SIP_H_FROM, SIP_H_TO, SIP_H_CALL_ID, SIP_H_CSEQ,
	SIP_H_MAX_FORWARDS, SIP_H_CONTACT, SIP_H_ROUTE, SIP_H_RECORD_ROUTE, SIP_H_CONTENT_LENGTH,
	SIP_H_CONTENT_TYPE, SIP_H_EXPIRES, SIP_H_MIN_EXPIRES, SIP_H_REQUIRE, SIP_H_PROXY_REQUIRE,
	SIP_H_SUPPORTED, SIP_H_UNSUPPORTED, SIP_H_AUTHORIZATION, SIP_H_PROXY_AUTHORIZATION,
	SIP_H_WWW_AUTHENTICATE, SIP_H_PROXY_AUTHENTICATE, SIP_H_PATH, SIP_H_USER_AGENT,
	SIP_H_SERVER, SIP_H_RETRY_AFTER, SIP_H_ALLOW, SIP_H_EVENT, SIP_H_DATE, SIP_H_SUBJECT,
	SIP_H__COUNT
};

struct sip_hdr {
	enum sip_hdr_id id;
	sy_str name;	/* as written, e.g. "v" or "Via" */
	sy_str body;	/* value without surrounding LWS; folded lines included as they are */
	sy_str raw;	/* the whole field: name .. CRLF after the last folded line */
};

enum sip_scheme { SIP_URI_NONE = 0, SIP_URI_SIP, SIP_URI_SIPS, SIP_URI_TEL, SIP_URI_OTHER };

/* RFC 3261 §19.1; escapes are kept (compare with sip_uri_equal, which unescapes) */
struct sip_uri {
	enum sip_scheme scheme;
	sy_str raw;		/* the whole URI */
	sy_str scheme_s;
	sy_str user;		/* userinfo user part ("" when absent); tel: the number */
	sy_str password;
	sy_str host;		/* IPv6 references keep their [] */
	sy_str port_s;
	unsigned port;		/* 0 when absent */
	sy_str params;		/* after the first ';' up to '?' (no leading ';') */
	sy_str headers;		/* after '?' */
	sy_str transport, user_param, maddr, ttl, method;	/* well-known params */
	int lr;			/* ;lr present */
	sy_str opaque;		/* SIP_URI_OTHER: everything after "scheme:" */
};

/* one via-parm (RFC 3261 §20.42, §18.2.1, RFC 3581) */
struct sip_via {
	sy_str raw;		/* this via-parm only */
	sy_str proto;		/* "SIP/2.0/UDP" as written */
	sy_str transport;	/* "UDP" */
	sy_str host;		/* sent-by host, [] kept for IPv6 */
	unsigned port;		/* 0 when absent */
	sy_str params;		/* all via-params, no leading ';' */
	sy_str branch, received, maddr, ttl;
	int rport;		/* -1 absent, 0 present without value, else the value */
};

/* name-addr / addr-spec with header params (From, To, Contact, Route, Record-Route, Path) */
struct sip_nameaddr {
	sy_str raw;		/* this value only */
	sy_str display;		/* as written, quotes included; empty when none */
	sy_str uri_s;		/* inside <> or the bare addr-spec */
	struct sip_uri uri;
	int bracketed;		/* written with <> */
	int star;		/* Contact: * */
	sy_str params;		/* header params after the URI (no leading ';') */
	sy_str tag, expires, q;	/* well-known header params (empty when absent) */
	int uri_unparsed;	/* uri not filled in (a reply's From/To): use sip_nameaddr_uri */
};

struct sip_limits {
	unsigned max_headers;	/* header fields (default 128) */
	unsigned max_line;	/* one header field, folded lines included (default 8192) */
	unsigned max_msg;	/* whole message (default 65535) */
	unsigned max_via;	/* via-parms in the message (default 64) */
	unsigned max_contacts;	/* Contact values (default 64) */
};

struct sip_msg {
	const char *buf;
	size_t len;		/* this message only: start line .. end of body */
	int is_request;

	sy_str start_line;	/* without CRLF */
	/* request line */
	sy_str method;
	enum sip_method mid;
	sy_str ruri;
	struct sip_uri ruri_p;	/* parsed Request-URI (scheme SIP_URI_OTHER for unknown ones) */
	sy_str version;		/* "SIP/2.0" */
	/* status line */
	unsigned status;
	sy_str reason;

	struct sip_hdr *hdr;	/* caller's array */
	unsigned nhdr, hdr_cap;
	int first[SIP_H__COUNT];	/* index of the first header of each id, -1 when absent */
	size_t hdr_end;		/* offset of the CRLF that ends the header section */
	sy_str body;

	/* parsed on every message */
	struct sip_via via1;	/* topmost via-parm */
	struct sip_nameaddr from, to;
	sy_str callid;
	uint32_t cseq;
	sy_str cseq_method;
	enum sip_method cseq_mid;
	int maxfwd;		/* -1 absent */
	long clen;		/* -1 absent (datagram: body runs to the end) */

	/* set when parsing fails: the reply a server owes (400, 505, 513) and why */
	unsigned err_code;
	const char *err_reason;	/* static text, e.g. "Bad CSeq" */
	size_t err_off;		/* where in buf the problem was seen */
};

/* Default limits above. */
void sip_limits_default(struct sip_limits *lim);

/* Parse one message from buf[0..len). hdr/hdr_cap must be set by the caller.
 * Datagram (stream=0): the body is framed by Content-Length (trailing octets are ignored,
 * RFC 3261 §18.3; no Content-Length means the rest of the datagram). Stream (stream=1): len must
 * be exactly what sip_frame() returned. Returns 0, EBADMSG (malformed: err_code/err_reason say
 * why; err_code 0 means not even a start line, so no reply is possible), EMSGSIZE (over a limit:
 * err_code 513 or 400). */
int sip_msg_parse(struct sip_msg *m, const char *buf, size_t len, int stream,
		  const struct sip_limits *lim);

/* dst = src moved onto nbuf, a byte-identical copy of src->buf[0..src->len): every slice into
 * the old buffer is shifted, the header index is copied into hdr (hdr_cap >= src->nhdr).
 * Costs a copy of the index instead of a second parse. 0 or EINVAL. */
int sip_msg_rebase(struct sip_msg *dst, const struct sip_msg *src, const char *nbuf,
		   struct sip_hdr *hdr, unsigned hdr_cap);

/* header lookup: index of the next header with id (or name, case-insensitive, compact forms
 * resolved) at or after index start, or -1 */
int sip_hdr_next(const struct sip_msg *m, enum sip_hdr_id id, int start);
int sip_hdr_next_name(const struct sip_msg *m, sy_str name, int start);
enum sip_hdr_id sip_hdr_id_of(sy_str name);
enum sip_method sip_method_id(sy_str method);

/* Typed value parsers: parse one value of a comma-separated list from s; *rest gets what
 * follows the comma (empty at the end). 0 or EBADMSG. */
int sip_via_parse(sy_str s, struct sip_via *v, sy_str *rest);
int sip_nameaddr_parse(sy_str s, struct sip_nameaddr *na, sy_str *rest);
/* the same syntax without parsing the URI itself: uri_s is found, uri stays zero and
 * uri_unparsed is set. sip_msg_parse uses it for a reply's From and To, which a proxy only
 * reads for their tags (matching, RFC 3261 §17.1.3); the URI is parsed when asked for. */
int sip_nameaddr_parse_nouri(sy_str s, struct sip_nameaddr *na, sy_str *rest);
/* the URI of a parsed name-addr: &na->uri, or for one parsed without it, uri_s parsed into
 * *tmp (whose slices point into the message, not into tmp); NULL when it does not parse */
const struct sip_uri *sip_nameaddr_uri(const struct sip_nameaddr *na, struct sip_uri *tmp);
int sip_uri_parse(sy_str s, struct sip_uri *u);
/* RFC 3261 §19.1.4 equality: 1 equal, 0 not */
int sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b);
/* find ;name[=value] in a param list (no leading ';'): 0 and *value ("" for a flag) or ENOENT */
int sip_param_get(sy_str params, sy_str name, sy_str *value);
/* decimal 0..max with no overflow; 0 or ERANGE/EINVAL */
int sip_parse_uint(sy_str s, uint64_t max, uint64_t *out);

/* Iterate a param list (URI or header params, no leading ';', LWS allowed around ';' and '='):
 * 0 with *name and *value (len 0 for a flag, quotes kept on a quoted-string value) and *iter
 * advanced, or ENOENT when the list is exhausted. */
int sip_param_next(sy_str *iter, sy_str *name, sy_str *value);
/* Split a comma-separated header value at the next top-level comma (commas inside quoted
 * strings and <> do not count): 0 with *item (LWS trimmed) and *rest, ENOENT when s is only
 * LWS. An empty item (",,") is returned as a zero-length item. */
int sip_list_next(sy_str s, sy_str *item, sy_str *rest);
/* Compare two escaped strings after unescaping %HEX (RFC 3261 §19.1.4); ci: ASCII case folded.
 * 1 equal, 0 not. */
int sip_unescaped_eq(sy_str a, sy_str b, int ci);

/* Stream framing (TCP/TLS): resumable. Call with the bytes buffered so far (always from the
 * start of the message); returns 0 with *msglen when a whole message is there, EAGAIN when more
 * is needed, EBADMSG on an unrecoverable framing error (missing/negative/duplicate
 * Content-Length, over limits): close the connection. Leading CRLFs (keep-alive, RFC 5626 §4.4.1)
 * are reported with *msglen = their length and *keepalive = 1. */
struct sip_framer {
	size_t scanned;		/* bytes already searched for the end of headers */
	size_t hdr_len;		/* 0 until the header section is complete */
	size_t body_len;
};
void sip_framer_reset(struct sip_framer *f);
int sip_frame(struct sip_framer *f, const char *buf, size_t len, const struct sip_limits *lim,
	      size_t *msglen, int *keepalive);

#endif
