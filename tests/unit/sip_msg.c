/* sip_msg.c: parser details beyond the RFC 4475 set: header index and compact forms, folding,
 * the always-parsed fields, numeric limits, error codes and reasons, limits, stream mode, and
 * the typed Via / name-addr parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sip/build.h"
#include "sip/msg.h"

static struct sip_hdr H[128];
static struct sip_msg M;

static int parse(const char *s)
{
	M.hdr = H;
	M.hdr_cap = 128;
	return sip_msg_parse(&M, s, strlen(s), 0, NULL);
}

#define assert_str(x, lit) do { \
		sy_str _x = (x); \
		if (!sy_str_eq(_x, SY_STR(lit))) \
			fail_msg("%s: '%.*s' != '%s'", #x, SY_FMT(_x), lit); \
	} while (0)

#define HDRS_OK "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\n" \
	"Call-ID: x@y\r\nCSeq: 1 OPTIONS\r\n"

static void test_index_and_compact(void **state)
{
	(void)state;
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\n"
			       "v: SIP/2.0/UDP h1;branch=z9hG4bK1\r\n"
			       "t: <sip:a@b>\r\nf: \"Al\" <sip:c@d>;tag=9\r\ni: cid\r\nCSeq: 7 OPTIONS\r\n"
			       "m: <sip:c@h>\r\nl: 0\r\nk: path\r\nc: text/plain\r\ns: hi\r\no: ev\r\n"
			       "X-Custom: 1\r\nVia: SIP/2.0/TCP h2\r\nx-custom: 2\r\ne: gzip\r\n"
			       "Content-Encoding: br\r\n\r\n"), 0);
	assert_int_equal(M.is_request, 1);
	assert_int_equal(M.mid, SIP_M_OPTIONS);
	assert_int_equal(M.first[SIP_H_VIA], 0);
	assert_int_equal(M.first[SIP_H_TO], 1);
	assert_int_equal(M.first[SIP_H_FROM], 2);
	assert_int_equal(M.first[SIP_H_CALL_ID], 3);
	assert_int_equal(M.first[SIP_H_CONTACT], 5);
	assert_int_equal(M.first[SIP_H_CONTENT_LENGTH], 6);
	assert_int_equal(M.first[SIP_H_SUPPORTED], 7);
	assert_int_equal(M.first[SIP_H_CONTENT_TYPE], 8);
	assert_int_equal(M.first[SIP_H_SUBJECT], 9);
	assert_int_equal(M.first[SIP_H_EVENT], 10);
	assert_int_equal(M.first[SIP_H_ROUTE], -1);
	assert_int_equal(sip_hdr_next(&M, SIP_H_VIA, 1), 12);
	assert_int_equal(sip_hdr_next(&M, SIP_H_VIA, 13), -1);
	assert_int_equal(sip_hdr_next_name(&M, SY_STR("X-CUSTOM"), 0), 11);
	assert_int_equal(sip_hdr_next_name(&M, SY_STR("x-custom"), 12), 13);
	assert_int_equal(sip_hdr_next_name(&M, SY_STR("via"), 1), 12);
	assert_int_equal(sip_hdr_next_name(&M, SY_STR("Content-Encoding"), 0), 14);
	assert_int_equal(sip_hdr_next_name(&M, SY_STR("e"), 15), 15);
	assert_int_equal(sip_hdr_next_name(&M, SY_STR("Nope"), 0), -1);
	assert_str(M.hdr[0].name, "v");
	assert_str(M.hdr[0].raw, "v: SIP/2.0/UDP h1;branch=z9hG4bK1\r\n");
	assert_str(M.callid, "cid");
	assert_int_equal(M.cseq, 7);
	assert_str(M.from.display, "\"Al\"");
	assert_str(M.from.tag, "9");
	assert_int_equal(M.clen, 0);
	assert_int_equal(M.maxfwd, -1);
	assert_int_equal(sip_hdr_id_of(SY_STR("cOnTeNt-LeNgTh")), SIP_H_CONTENT_LENGTH);
	assert_int_equal(sip_hdr_id_of(SY_STR("L")), SIP_H_CONTENT_LENGTH);
	assert_int_equal(sip_hdr_id_of(SY_STR("Contacts")), SIP_H_OTHER);
	assert_int_equal(sip_method_id(SY_STR("INVITE")), SIP_M_INVITE);
	assert_int_equal(sip_method_id(SY_STR("invite")), SIP_M_OTHER);
}

static void test_hdr_id_of_all(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum sip_hdr_id id;
	} names[] = {
		{ "Via", SIP_H_VIA }, { "From", SIP_H_FROM }, { "To", SIP_H_TO },
		{ "Call-ID", SIP_H_CALL_ID }, { "CSeq", SIP_H_CSEQ },
		{ "Max-Forwards", SIP_H_MAX_FORWARDS }, { "Contact", SIP_H_CONTACT },
		{ "Route", SIP_H_ROUTE }, { "Record-Route", SIP_H_RECORD_ROUTE },
		{ "Content-Length", SIP_H_CONTENT_LENGTH }, { "Content-Type", SIP_H_CONTENT_TYPE },
		{ "Expires", SIP_H_EXPIRES }, { "Min-Expires", SIP_H_MIN_EXPIRES },
		{ "Require", SIP_H_REQUIRE }, { "Proxy-Require", SIP_H_PROXY_REQUIRE },
		{ "Supported", SIP_H_SUPPORTED }, { "Unsupported", SIP_H_UNSUPPORTED },
		{ "Authorization", SIP_H_AUTHORIZATION },
		{ "Proxy-Authorization", SIP_H_PROXY_AUTHORIZATION },
		{ "WWW-Authenticate", SIP_H_WWW_AUTHENTICATE },
		{ "Proxy-Authenticate", SIP_H_PROXY_AUTHENTICATE }, { "Path", SIP_H_PATH },
		{ "User-Agent", SIP_H_USER_AGENT }, { "Server", SIP_H_SERVER },
		{ "Retry-After", SIP_H_RETRY_AFTER }, { "Allow", SIP_H_ALLOW },
		{ "Event", SIP_H_EVENT }, { "Date", SIP_H_DATE }, { "Subject", SIP_H_SUBJECT },
		{ "v", SIP_H_VIA }, { "f", SIP_H_FROM }, { "t", SIP_H_TO }, { "i", SIP_H_CALL_ID },
		{ "m", SIP_H_CONTACT }, { "l", SIP_H_CONTENT_LENGTH }, { "c", SIP_H_CONTENT_TYPE },
		{ "k", SIP_H_SUPPORTED }, { "s", SIP_H_SUBJECT }, { "o", SIP_H_EVENT },
		{ "e", SIP_H_OTHER }, { "x", SIP_H_OTHER }, { "Vias", SIP_H_OTHER },
		{ "Content_Length", SIP_H_OTHER }, { "Content\rLength", SIP_H_OTHER },
		{ "Allow-Events", SIP_H_OTHER }, { "", SIP_H_OTHER },
	};
	char up[64], low[64];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i].name);
		for (size_t k = 0; k <= n; k++) {
			char c = names[i].name[k];
			up[k] = (char)((c >= 'a' && c <= 'z') ? c - 32 : c);
			low[k] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
		}
		if (sip_hdr_id_of(sy_cstr(names[i].name)) != names[i].id ||
		    sip_hdr_id_of(sy_cstr(up)) != names[i].id ||
		    sip_hdr_id_of(sy_cstr(low)) != names[i].id)
			fail_msg("'%s' does not map to %d", names[i].name, (int)names[i].id);
		/* a one-octet-shorter or longer name is another header */
		if (n > 2 && names[i].id != SIP_H_OTHER)
			assert_int_equal(sip_hdr_id_of(sy_str_make(names[i].name, n - 1)), SIP_H_OTHER);
	}
	static const char *const methods[] = { "", "INVITE", "ACK", "BYE", "CANCEL", "REGISTER",
		"OPTIONS", "INFO", "UPDATE", "PRACK", "SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER",
		"PUBLISH" };
	for (int i = 1; i <= SIP_M_PUBLISH; i++)
		assert_int_equal(sip_method_id(sy_cstr(methods[i])), i);
	assert_int_equal(sip_method_id(SY_STR("INVITEX")), SIP_M_OTHER);
}

static void test_folding_and_body(void **state)
{
	(void)state;
	assert_int_equal(parse("INVITE sip:a@b SIP/2.0\r\n"
			       "Via: SIP/2.0/UDP h\r\n  ;branch=z9hG4bKf\r\n\t;rport\r\n"
			       "To: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\n"
			       "CSeq:\r\n 0009\r\n  INVITE\r\nMax-Forwards: 0068\r\n"
			       "Subject:   \r\nContent-Length  :   5  \r\n\r\nhello, and more"), 0);
	assert_str(M.via1.branch, "z9hG4bKf");
	assert_int_equal(M.via1.rport, 0);
	assert_int_equal(M.cseq, 9);
	assert_str(M.cseq_method, "INVITE");
	assert_int_equal(M.cseq_mid, SIP_M_INVITE);
	assert_int_equal(M.maxfwd, 68);
	int s = M.first[SIP_H_SUBJECT];
	assert_true(s >= 0);
	assert_int_equal(M.hdr[s].body.len, 0);
	assert_int_equal(M.clen, 5);
	assert_str(M.body, "hello");
	assert_int_equal(M.len, (size_t)(M.body.s + 5 - M.buf));
	assert_int_equal(M.buf[M.hdr_end], '\r');
	assert_int_equal(M.buf[M.hdr_end + 2], 'h');
}

static void test_response(void **state)
{
	(void)state;
	assert_int_equal(parse("SIP/2.0 180 Ringing here\r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(M.is_request, 0);
	assert_int_equal(M.status, 180);
	assert_str(M.reason, "Ringing here");
	assert_int_equal(M.clen, -1);
	assert_int_equal(sip_validate_response(&M), 0);
	assert_int_equal(parse("SIP/2.0 699 \r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(M.reason.len, 0);
	assert_int_equal(parse("SIP/2.0 100\r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(M.status, 100);
	/* "SIP/" is an ABNF literal: any case, the slash exactly */
	assert_int_equal(parse("sIp/2.0 100 x\r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(M.is_request, 0);
	assert_int_equal(parse("OPTIONS sip:a@b sip/2.0\r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(parse("OPTIONS sip:a@b SIP\x0f" "2.0\r\n" HDRS_OK "\r\n"), EBADMSG);
	assert_int_equal(M.err_code, 400);
}

/* a reply's From/To URIs are parsed on demand; a request's at once (and checked) */
/* Call-IDs made of the edge octets 0x21 and 0x7e, longer than two words, are good */
static void test_callid_edges(void **state)
{
	(void)state;
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: !~!~!~!~!~!~!~!~!~!~@!~\r\n\r\n"), 0);
	assert_str(M.callid, "!~!~!~!~!~!~!~!~!~!~@!~");
}

static void test_reply_uri_on_demand(void **state)
{
	struct sip_uri tmp;
	const struct sip_uri *u;

	(void)state;
	assert_int_equal(parse("SIP/2.0 200 OK\r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(M.from.uri_unparsed, 1);
	assert_int_equal(M.from.uri.scheme, SIP_URI_NONE);
	assert_str(M.from.tag, "1");
	u = sip_nameaddr_uri(&M.from, &tmp);
	assert_ptr_equal(u, &tmp);
	assert_str(u->user, "c");
	assert_str(u->host, "d");
	u = sip_nameaddr_uri(&M.to, &tmp);
	assert_non_null(u);
	assert_str(u->host, "b");
	/* a reply with an unparsable From URI is still parsed (only its tag is read) ... */
	assert_int_equal(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			       "To: <sip:a@b>\r\nFrom: <sip:c@[bad>;tag=1\r\nCall-ID: x@y\r\n"
			       "CSeq: 1 OPTIONS\r\n\r\n"), 0);
	assert_null(sip_nameaddr_uri(&M.from, &tmp));
	/* ... a request with one is not */
	assert_int_equal(parse("OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			       "To: <sip:a@b>\r\nFrom: <sip:c@[bad>;tag=1\r\nCall-ID: x@y\r\n"
			       "CSeq: 1 OPTIONS\r\n\r\n"), EBADMSG);
	assert_int_equal(M.err_code, 400);
	assert_int_equal(parse("OPTIONS sip:x@y SIP/2.0\r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(M.from.uri_unparsed, 0);
	assert_ptr_equal(sip_nameaddr_uri(&M.from, &tmp), &M.from.uri);
	assert_str(M.from.uri.host, "d");
}

struct bad {
	const char *msg;
	int rc;
	unsigned code;
	const char *why;
};

static void test_errors(void **state)
{
	(void)state;
	static const struct bad bad[] = {
		{ "", EBADMSG, 0, "Bad Start Line" },
		{ "\r\n\r\n", EBADMSG, 0, "Bad Start Line" },
		{ "garbage\r\n\r\n", EBADMSG, 0, "Bad Start Line" },
		{ "INVITE sip:a@b SIP/2.0", EBADMSG, 0, "Bad Start Line" },
		{ "SIP/2.0 4294967301 Huge\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Status Code" },
		{ "SIP/2.0 099 Low\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Status Code" },
		{ "SIP/2.0 700 High\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Status Code" },
		{ "SIP/2.0 20 Short\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Status Code" },
		{ "SIP/2.0 2000 Long\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Status Code" },
		{ "SIP/2.x 200 OK\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Status Line" },
		{ "INVITE  sip:a@b SIP/2.0\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Request Line" },
		{ "INVITE sip:a@b SIP/2.0 \r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Request Line" },
		{ "INVITE <sip:a@b> SIP/2.0\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Request-URI" },
		{ "INV@TE sip:a@b SIP/2.0\r\n" HDRS_OK "\r\n", EBADMSG, 400, "Bad Method" },
		{ "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK, EBADMSG, 400, "Missing Header End" },
		{ "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "Bad Name: x\r\n\r\n", EBADMSG, 400, "Bad Header Name" },
		{ "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "X: a\nY: b\r\n\r\n", EBADMSG, 400, "Bad Line End" },
		{ "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "X: a\rY: b\r\n\r\n", EBADMSG, 400, "Bad Line End" },
		{ "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "CSeq: 2 OPTIONS\r\n\r\n", EBADMSG, 400, "Multiple CSeq Values" },
		{ "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "t: <sip:z@b>\r\n\r\n", EBADMSG, 400, "Multiple To Values" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;;\r\nTo: <sip:a@b>\r\n\r\n", EBADMSG, 400, "Bad Via" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h,\r\nTo: <sip:a@b>\r\n\r\n", EBADMSG, 400, "Bad Via" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nVia:\r\n\r\n", EBADMSG, 400, "Bad Via" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;rport=70000\r\n\r\n", EBADMSG, 400, "Bad Via" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>, <sip:c@d>\r\n\r\n", EBADMSG, 400, "Bad To" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nFrom: \"x <sip:a@b>\r\n\r\n", EBADMSG, 400, "Bad From" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nFrom: *\r\n\r\n", EBADMSG, 400, "Bad From" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: a b\r\n\r\n", EBADMSG, 400, "Bad Call-ID" },
		/* the word-at-a-time scan: a bad octet in the first, second word and the tail */
		{ "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 0123\x7f" "567890abcdef\r\n\r\n", EBADMSG, 400,
		  "Bad Call-ID" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 01234567890a\x80" "cdef@x\r\n\r\n", EBADMSG,
		  400, "Bad Call-ID" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 01234567~~~~~~~~\x01@x\r\n\r\n", EBADMSG, 400,
		  "Bad Call-ID" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 0123456\t89abcdef0123\r\n\r\n", EBADMSG, 400,
		  "Bad Call-ID" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nCSeq: 4294967296 OPTIONS\r\n\r\n", EBADMSG, 400, "Bad CSeq" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1\r\n\r\n", EBADMSG, 400, "Bad CSeq" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1OPTIONS\r\n\r\n", EBADMSG, 400, "Bad CSeq" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nCSeq: -1 OPTIONS\r\n\r\n", EBADMSG, 400, "Bad CSeq" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: 256\r\n\r\n", EBADMSG, 400, "Bad Max-Forwards" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: ten\r\n\r\n", EBADMSG, 400, "Bad Max-Forwards" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", EBADMSG, 400, "Bad Content-Length" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1e3\r\n\r\n", EBADMSG, 400, "Bad Content-Length" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n", EBADMSG, 400, "Bad Content-Length" },
		{ "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nabc", EBADMSG, 400, "Content-Length Too Large" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].msg);
		if (rc != bad[i].rc || M.err_code != bad[i].code || !M.err_reason ||
		    strcmp(M.err_reason, bad[i].why))
			fail_msg("case %zu: rc %d code %u '%s', expected %d %u '%s'", i, rc, M.err_code,
				 M.err_reason ? M.err_reason : "(null)", bad[i].rc, bad[i].code, bad[i].why);
	}
}

static void test_limits(void **state)
{
	(void)state;
	char buf[8192];
	struct sip_limits lim;
	struct sip_hdr h[4];
	struct sip_msg m = { .hdr = h, .hdr_cap = 4 };
	const char *msg = "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "\r\n";

	assert_int_equal(sip_msg_parse(&m, msg, strlen(msg), 0, NULL), EMSGSIZE);
	assert_int_equal(m.err_code, 400);
	assert_string_equal(m.err_reason, "Too Many Headers");

	sip_limits_default(&lim);
	assert_int_equal(lim.max_headers, 128);
	assert_int_equal(lim.max_msg, 65535);
	lim.max_msg = 20;
	M.hdr = H;
	M.hdr_cap = 128;
	assert_int_equal(sip_msg_parse(&M, msg, strlen(msg), 0, &lim), EMSGSIZE);
	assert_int_equal(M.err_code, 513);

	sip_limits_default(&lim);
	lim.max_line = 30;
	assert_int_equal(sip_msg_parse(&M, msg, strlen(msg), 0, &lim), EMSGSIZE);
	assert_string_equal(M.err_reason, "Header Too Long");

	sip_limits_default(&lim);
	lim.max_via = 2;
	int n = snprintf(buf, sizeof(buf), "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a, SIP/2.0/UDP b\r\n"
			 "Via: SIP/2.0/UDP c\r\n\r\n");
	assert_int_equal(sip_msg_parse(&M, buf, (size_t)n, 0, &lim), EMSGSIZE);
	assert_string_equal(M.err_reason, "Too Many Via Values");
	lim.max_via = 3;
	assert_int_equal(sip_msg_parse(&M, buf, (size_t)n, 0, &lim), 0);

	sip_limits_default(&lim);
	lim.max_contacts = 2;
	n = snprintf(buf, sizeof(buf), "REGISTER sip:b SIP/2.0\r\nContact: <sip:a@b>, \"x,y\" <sip:c@d>\r\n"
		     "m: <sip:e@f>\r\n\r\n");
	assert_int_equal(sip_msg_parse(&M, buf, (size_t)n, 0, &lim), EMSGSIZE);
	assert_string_equal(M.err_reason, "Too Many Contacts");
	lim.max_contacts = 3;
	assert_int_equal(sip_msg_parse(&M, buf, (size_t)n, 0, &lim), 0);
}

static void test_stream_mode(void **state)
{
	(void)state;
	const char *nocl = "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "\r\n";
	M.hdr = H;
	M.hdr_cap = 128;
	assert_int_equal(sip_msg_parse(&M, nocl, strlen(nocl), 1, NULL), EBADMSG);
	assert_string_equal(M.err_reason, "Missing Content-Length");
	const char *cl = "OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "l: 2\r\n\r\nab";
	assert_int_equal(sip_msg_parse(&M, cl, strlen(cl), 1, NULL), 0);
	assert_str(M.body, "ab");
	/* leading CRLFs are skipped (RFC 3261 §7.5) and offsets are relative to the start line */
	const char *lead = "\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "\r\n";
	assert_int_equal(parse(lead), 0);
	assert_ptr_equal(M.buf, lead + 4);
	assert_int_equal(M.len, strlen(lead) - 4);
}

static void test_via(void **state)
{
	(void)state;
	struct sip_via v;
	sy_str rest;
	sy_str s = SY_STR(" SIP / 2.0 / TCP [2001:db8::9]:5071 ; branch = z9hG4bKx;received=2001:db8::1;"
			  "rport=5072;maddr=224.2.0.1;ttl=16;x=\"q,v\" ,\r\n SIP/2.0/UDP h2");
	assert_int_equal(sip_via_parse(s, &v, &rest), 0);
	assert_str(v.proto, "SIP / 2.0 / TCP");
	assert_str(v.transport, "TCP");
	assert_str(v.host, "[2001:db8::9]");
	assert_int_equal(v.port, 5071);
	assert_str(v.branch, "z9hG4bKx");
	assert_str(v.received, "2001:db8::1");
	assert_int_equal(v.rport, 5072);
	assert_str(v.maddr, "224.2.0.1");
	assert_str(v.ttl, "16");
	assert_str(v.raw, "SIP / 2.0 / TCP [2001:db8::9]:5071 ; branch = z9hG4bKx;received=2001:db8::1;"
			  "rport=5072;maddr=224.2.0.1;ttl=16;x=\"q,v\"");
	assert_str(rest, "SIP/2.0/UDP h2");
	assert_int_equal(sip_via_parse(rest, &v, &rest), 0);
	assert_str(v.host, "h2");
	assert_int_equal(v.port, 0);
	assert_int_equal(v.rport, -1);
	assert_int_equal(v.branch.len, 0);
	assert_int_equal(rest.len, 0);

	static const char *const bad[] = {
		"", "SIP/2.0/UDP", "SIP/2.0 UDP h", "SIP/2.0/UDP h;", "SIP/2.0/UDP h;=x",
		"SIP/2.0/UDP h;branch=", "SIP/2.0/UDP h:", "SIP/2.0/UDP h:70000", "SIP/2.0/UDP h;ttl=256",
		"SIP/2.0/UDP h;rport=0", "SIP/2.0/UDP h,", "SIP/2.0/UDP h,,SIP/2.0/UDP g", "SIP/2.0/UDP h x",
		"SIP/2.0/UDPh", "SIP/2.0/UDP [::1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sip_via_parse(sy_cstr(bad[i]), &v, &rest) != EBADMSG)
			fail_msg("via '%s' accepted", bad[i]);
}

static void test_nameaddr(void **state)
{
	(void)state;
	struct sip_nameaddr na;
	sy_str rest;

	assert_int_equal(sip_nameaddr_parse(SY_STR("\"J \\\"R\\\"\" <sip:j@x;lr>;tag=a;expires=60;q=0.5, <sip:k@y>"),
					    &na, &rest), 0);
	assert_str(na.display, "\"J \\\"R\\\"\"");
	assert_str(na.uri_s, "sip:j@x;lr");
	assert_int_equal(na.uri.lr, 1);
	assert_int_equal(na.bracketed, 1);
	assert_str(na.tag, "a");
	assert_str(na.expires, "60");
	assert_str(na.q, "0.5");
	assert_str(na.params, "tag=a;expires=60;q=0.5");
	assert_str(rest, "<sip:k@y>");

	/* bare addr-spec: ';' params are header params (§20.10, RFC 4475 §3.3.12) */
	assert_int_equal(sip_nameaddr_parse(SY_STR("sip:+19725552222@gw1.example.net;unknownparam"), &na, &rest), 0);
	assert_int_equal(na.bracketed, 0);
	assert_str(na.uri_s, "sip:+19725552222@gw1.example.net");
	assert_str(na.params, "unknownparam");
	assert_int_equal(na.uri.params.len, 0);

	/* bare with ';' in the user part */
	assert_int_equal(sip_nameaddr_parse(SY_STR("sip:user;par=u%40ex@example.com;tag=3"), &na, &rest), 0);
	assert_str(na.uri.user, "user;par=u%40ex");
	assert_str(na.tag, "3");

	/* token display name, no LWS before < (RFC 4475 §3.1.1.6) */
	assert_int_equal(sip_nameaddr_parse(SY_STR("Joe  Bloggs<sip:j@b>"), &na, &rest), 0);
	assert_str(na.display, "Joe  Bloggs");
	assert_int_equal(sip_nameaddr_parse(SY_STR("\"caller\"<sip:caller@example.com>;tag=323"), &na, &rest), 0);
	assert_str(na.display, "\"caller\"");

	assert_int_equal(sip_nameaddr_parse(SY_STR(" * "), &na, &rest), 0);
	assert_int_equal(na.star, 1);
	assert_int_equal(sip_nameaddr_parse(SY_STR("<isbn:2983792873>"), &na, &rest), 0);
	assert_int_equal(na.uri.scheme, SIP_URI_OTHER);

	static const char *const bad[] = {
		"", "\"open <sip:a@b>", "Bell, Alexander <sip:a@b>", "< sip:a@b >", "<sip:a@b",
		"sip:a@b?Route=x", "<sip:a@b>;", "<sip:a@b>;;", "<sip:a@b>;tag=", "<sip:a@b> x",
		"*, <sip:a@b>", "<sip:a@b>,", "x\"y\" <sip:a@b>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sip_nameaddr_parse(sy_cstr(bad[i]), &na, &rest) != EBADMSG)
			fail_msg("name-addr '%s' accepted", bad[i]);
}

static void test_list_next(void **state)
{
	(void)state;
	sy_str rest = SY_STR(" a , \"b,c\" <sip:d,e@f> ,,g "), item;
	assert_int_equal(sip_list_next(rest, &item, &rest), 0);
	assert_str(item, "a");
	assert_int_equal(sip_list_next(rest, &item, &rest), 0);
	assert_str(item, "\"b,c\" <sip:d,e@f>");
	assert_int_equal(sip_list_next(rest, &item, &rest), 0);
	assert_int_equal(item.len, 0);
	assert_int_equal(sip_list_next(rest, &item, &rest), 0);
	assert_str(item, "g");
	assert_int_equal(sip_list_next(rest, &item, &rest), ENOENT);
}

static const char *const SUP[] = { "path", NULL };

static unsigned validate(const char *msg, struct sip_verdict *v)
{
	int rc = parse(msg);
	if (rc)
		fail_msg("parse failed: %s", M.err_reason);
	return sip_validate_request(&M, SUP, v) ? v->code : 0;
}

static void test_validate(void **state)
{
	(void)state;
	struct sip_verdict v;
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "\r\n", &v), 0);
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.1\r\n" HDRS_OK "\r\n", &v), 505);
	assert_int_equal(validate("OPTIONS mailto:a@b SIP/2.0\r\n" HDRS_OK "\r\n", &v), 416);
	assert_int_equal(validate("OPTIONS tel:+123 SIP/2.0\r\n" HDRS_OK "\r\n", &v), 0);
	assert_int_equal(validate("INVITE sip:a@b SIP/2.0\r\n" HDRS_OK "\r\n", &v), 400);
	assert_string_equal(v.reason, "CSeq Method Mismatch");
	assert_int_equal(validate("FOO sip:a@b SIP/2.0\r\n" HDRS_OK "\r\n", &v), 501);
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\n"
				  "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", &v), 400);
	assert_string_equal(v.reason, "Missing From");
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\nFrom: <sip:a@b>\r\n"
				  "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", &v), 400);
	assert_string_equal(v.reason, "Missing Via");
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "Contact: <sip:a@b>;;\r\n\r\n", &v), 400);
	assert_string_equal(v.reason, "Bad Contact");
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "Contact: *\r\n\r\n", &v), 400);
	assert_int_equal(validate("REGISTER sip:b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
				  "To: <sip:a@b>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n"
				  "Contact: *\r\nExpires: 0\r\n\r\n", &v), 0);
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "Max-Forwards: 0\r\n\r\n", &v), 0);
	assert_int_equal(validate("OPTIONS sip:a@b?x=y SIP/2.0\r\n" HDRS_OK "\r\n", &v), 400);
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK "Proxy-Require: path\r\n\r\n", &v), 0);
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\n" HDRS_OK
				  "Proxy-Require: path, foo,path , bar\r\nRequire: baz\r\n\r\n", &v), 420);
	assert_str(v.unsupported, "foo,path , bar");
	assert_int_equal(validate("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK\r\n"
				  "To: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x@y\r\nCSeq: 1 OPTIONS\r\n\r\n",
				  &v), 400);
	/* responses */
	assert_int_equal(parse("SIP/2.0 200 OK\r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(sip_validate_response(&M), 0);
	assert_int_equal(sip_validate_request(&M, SUP, &v), EBADMSG);
	assert_int_equal(parse("SIP/3.0 200 OK\r\n" HDRS_OK "\r\n"), 0);
	assert_int_equal(sip_validate_response(&M), EBADMSG);
	assert_int_equal(parse("SIP/2.0 200 OK\r\nTo: <sip:a@b>\r\n\r\n"), 0);
	assert_int_equal(sip_validate_response(&M), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_and_compact),
		cmocka_unit_test(test_hdr_id_of_all),
		cmocka_unit_test(test_folding_and_body),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_reply_uri_on_demand),
		cmocka_unit_test(test_callid_edges),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_stream_mode),
		cmocka_unit_test(test_via),
		cmocka_unit_test(test_nameaddr),
		cmocka_unit_test(test_list_next),
		cmocka_unit_test(test_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
