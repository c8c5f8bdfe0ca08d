/* reply.c: local replies built from a request (RFC 3261 §8.2.6.2): the Via fields in order,
 * From, To (with a To tag added for final replies and 1xx other than 100), Call-ID and CSeq
 * are copied, then the caller's extra header fields, Content-Length and the body. Values are
 * copied as received (folding included), so nothing the client sent is re-interpreted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/build.h"

struct writer {
	char *out;
	size_t cap, len;
	int full;
};

static void put(struct writer *w, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (w->full || n > w->cap - w->len) {
		w->full = 1;
		return;
	}
	memcpy(w->out + w->len, s, n);
	w->len += n;
}

static void puts_str(struct writer *w, sy_str s)
{
	put(w, s.s, s.len);
}

static void put_c(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

/* decimal, by hand: every local reply has a status code and a Content-Length */
static void put_uint(struct writer *w, size_t v)
{
	char tmp[24];
	size_t n = 0;

	do
		tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10u);
	while ((v /= 10u) && n < sizeof(tmp));
	put(w, tmp + sizeof(tmp) - n, n);
}

static void put_hdr(struct writer *w, const char *name, sy_str value)
{
	put_c(w, name);
	puts_str(w, value);
	put(w, "\r\n", 2);
}

/* the topmost via-parm as received, minus a bare ";rport" when via1_params brings
 * "rport=<port>" (RFC 3581 §4: the server fills in the value, it does not add a second one) */
static void put_via_raw(struct writer *w, const struct sip_via *via, sy_str via1_params)
{
	sy_str it = via1_params, n, val;
	int adds_rport = 0;

	while (sip_param_next(&it, &n, &val) == 0)
		if (sy_str_caseeq_c(n, "rport"))
			adds_rport = 1;
	if (adds_rport && via->rport == 0) {
		it = via->params;
		while (sip_param_next(&it, &n, &val) == 0) {
			if (!sy_str_caseeq_c(n, "rport") || val.len)
				continue;
			const char *semi = n.s;
			while (semi > via->raw.s && *semi != ';')
				semi--;
			put(w, via->raw.s, (size_t)(semi - via->raw.s));
			put(w, n.s + n.len, (size_t)(via->raw.s + via->raw.len - (n.s + n.len)));
			return;
		}
	}
	puts_str(w, via->raw);
}

int sip_reply_build(const struct sip_msg *req, unsigned code, sy_str reason, sy_str to_tag,
		    sy_str via1_params, sy_str extra_hdrs, sy_str body, char *out, size_t cap,
		    size_t *outlen)
{
	struct writer w = { out, cap, 0, 0 };
	int i;

	if (code < 100 || code > 699)
		return EINVAL;
	if (reason.len == 0)
		reason = sy_cstr(sip_reason_phrase(code));
	put_c(&w, "SIP/2.0 ");
	put_uint(&w, code);
	put(&w, " ", 1);
	puts_str(&w, reason);
	put(&w, "\r\n", 2);

	int first = 1;
	for (i = sip_hdr_next(req, SIP_H_VIA, 0); i >= 0; i = sip_hdr_next(req, SIP_H_VIA, i + 1)) {
		sy_str v = req->hdr[i].body;
		if (first && via1_params.len) {
			/* the parameters go on the topmost via-parm; any others in the same field
			 * follow as a field of their own (§7.3.1: same meaning) */
			struct sip_via via;
			sy_str rest;
			if (sip_via_parse(v, &via, &rest) == 0) {
				put_c(&w, "Via: ");
				put_via_raw(&w, &via, via1_params);
				puts_str(&w, via1_params);
				put(&w, "\r\n", 2);
				if (rest.len)
					put_hdr(&w, "Via: ", rest);
				first = 0;
				continue;
			}
		}
		first = 0;
		put_hdr(&w, "Via: ", v);
	}
	if ((i = req->first[SIP_H_FROM]) >= 0)
		put_hdr(&w, "From: ", req->hdr[i].body);
	if ((i = req->first[SIP_H_TO]) >= 0) {
		put_c(&w, "To: ");
		puts_str(&w, req->hdr[i].body);
		if (code > 100 && to_tag.len && req->to.tag.len == 0) {
			put_c(&w, ";tag=");
			puts_str(&w, to_tag);
		}
		put(&w, "\r\n", 2);
	}
	if ((i = req->first[SIP_H_CALL_ID]) >= 0)
		put_hdr(&w, "Call-ID: ", req->hdr[i].body);
	if ((i = req->first[SIP_H_CSEQ]) >= 0)
		put_hdr(&w, "CSeq: ", req->hdr[i].body);
	puts_str(&w, extra_hdrs);
	put_c(&w, "Content-Length: ");
	put_uint(&w, body.len);
	put(&w, "\r\n\r\n", 4);
	puts_str(&w, body);
	if (w.full)
		return ENOSPC;
	*outlen = w.len;
	return 0;
}

struct reason {
	unsigned short code;
	const char *text;
};

/* RFC 3261 §21 and the IANA registry's later additions */
static const struct reason reasons[] = {
	{ 100, "Trying" }, { 180, "Ringing" }, { 181, "Call Is Being Forwarded" },
	{ 182, "Queued" }, { 183, "Session Progress" }, { 199, "Early Dialog Terminated" },
	{ 200, "OK" }, { 202, "Accepted" }, { 204, "No Notification" },
	{ 300, "Multiple Choices" }, { 301, "Moved Permanently" }, { 302, "Moved Temporarily" },
	{ 305, "Use Proxy" }, { 380, "Alternative Service" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 402, "Payment Required" },
	{ 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" }, { 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" }, { 410, "Gone" }, { 412, "Conditional Request Failed" },
	{ 413, "Request Entity Too Large" }, { 414, "Request-URI Too Long" },
	{ 415, "Unsupported Media Type" }, { 416, "Unsupported URI Scheme" },
	{ 417, "Unknown Resource-Priority" }, { 420, "Bad Extension" },
	{ 421, "Extension Required" }, { 422, "Session Interval Too Small" },
	{ 423, "Interval Too Brief" }, { 428, "Use Identity Header" },
	{ 429, "Provide Referrer Identity" }, { 430, "Flow Failed" },
	{ 433, "Anonymity Disallowed" }, { 436, "Bad Identity-Info" },
	{ 437, "Unsupported Certificate" }, { 438, "Invalid Identity Header" },
	{ 439, "First Hop Lacks Outbound Support" }, { 440, "Max-Breadth Exceeded" },
	{ 469, "Bad Info Package" }, { 470, "Consent Needed" },
	{ 480, "Temporarily Unavailable" }, { 481, "Call/Transaction Does Not Exist" },
	{ 482, "Loop Detected" }, { 483, "Too Many Hops" }, { 484, "Address Incomplete" },
	{ 485, "Ambiguous" }, { 486, "Busy Here" }, { 487, "Request Terminated" },
	{ 488, "Not Acceptable Here" }, { 489, "Bad Event" }, { 491, "Request Pending" },
	{ 493, "Undecipherable" }, { 494, "Security Agreement Required" },
	{ 500, "Server Internal Error" }, { 501, "Not Implemented" }, { 502, "Bad Gateway" },
	{ 503, "Service Unavailable" }, { 504, "Server Time-out" },
	{ 505, "Version Not Supported" }, { 513, "Message Too Large" },
	{ 555, "Push Notification Service Not Supported" }, { 580, "Precondition Failure" },
	{ 600, "Busy Everywhere" }, { 603, "Decline" }, { 604, "Does Not Exist Anywhere" },
	{ 606, "Not Acceptable" }, { 607, "Unwanted" }, { 608, "Rejected" },
};

const char *sip_reason_phrase(unsigned code)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].text;
	return "";
}
