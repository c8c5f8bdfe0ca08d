/* sip_reply.c: local replies (RFC 3261 §8.2.6): every Via in order with the received/rport
 * params on the topmost one, From, To with a tag only when needed, Call-ID, CSeq, extra
 * fields, Content-Length and body; the reply parses and validates as a response. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sip/build.h"
#include "sip/msg.h"

static const char REQ[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"v: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1;rport, SIP/2.0/UDP pc33.example.com;branch=z9hG4bKa\r\n"
	"Via: SIP/2.0/TCP third.example.com\r\n ;branch=z9hG4bK3\r\n"
	"Max-Forwards: 70\r\n"
	"t: Bob <sip:bob@biloxi.example.com>\r\n"
	"f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
	"i: a84b4c76e66710\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static struct sip_hdr hq[32], hr[32];
static struct sip_msg q, r;
static char out[2048];
static size_t outlen;

static void parse_req(const char *s)
{
	q.hdr = hq;
	q.hdr_cap = 32;
	assert_int_equal(sip_msg_parse(&q, s, strlen(s), 0, NULL), 0);
}

static void parse_reply(void)
{
	r.hdr = hr;
	r.hdr_cap = 32;
	int rc = sip_msg_parse(&r, out, outlen, 0, NULL);
	if (rc)
		fail_msg("reply does not parse (%s):\n%.*s", r.err_reason, (int)outlen, out);
	assert_int_equal(sip_validate_response(&r), 0);
}

static void test_reply_fields(void **state)
{
	(void)state;
	parse_req(REQ);
	assert_int_equal(sip_reply_build(&q, 486, SY_NULL_STR, SY_STR("xyz"),
					 SY_STR(";received=192.0.2.9;rport=5062"),
					 SY_STR("Retry-After: 30\r\n"), SY_NULL_STR, out, sizeof(out),
					 &outlen), 0);
	parse_reply();
	assert_int_equal(r.status, 486);
	assert_true(sy_str_eq(r.reason, SY_STR("Busy Here")));
	assert_true(sy_str_eq(r.via1.host, SY_STR("proxy.example.com")));
	assert_true(sy_str_eq(r.via1.received, SY_STR("192.0.2.9")));
	assert_int_equal(r.via1.rport, 5062);
	/* the request's bare ";rport" is replaced, not repeated */
	assert_null(memmem(out, outlen, "rport;", 6));
	assert_non_null(memmem(out, outlen, "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1;received=192.0.2.9;rport=5062\r\n", 83));
	/* all three via-parms, in order */
	const char *hosts[] = { "proxy.example.com", "pc33.example.com", "third.example.com" };
	unsigned k = 0;
	for (int i = sip_hdr_next(&r, SIP_H_VIA, 0); i >= 0; i = sip_hdr_next(&r, SIP_H_VIA, i + 1)) {
		sy_str rest = r.hdr[i].body;
		struct sip_via v;
		while (rest.len) {
			assert_int_equal(sip_via_parse(rest, &v, &rest), 0);
			assert_true(k < 3);
			assert_true(sy_str_eq(v.host, sy_cstr(hosts[k])));
			k++;
		}
	}
	assert_int_equal(k, 3);
	assert_true(sy_str_eq(r.to.tag, SY_STR("xyz")));
	assert_true(sy_str_eq(r.from.tag, SY_STR("1928301774")));
	assert_true(sy_str_eq(r.callid, SY_STR("a84b4c76e66710")));
	assert_int_equal(r.cseq, 314159);
	assert_int_equal(r.cseq_mid, SIP_M_INVITE);
	assert_int_equal(r.clen, 0);
	assert_true(sip_hdr_next_name(&r, SY_STR("Retry-After"), 0) >= 0);
}

static void test_reply_tags_and_body(void **state)
{
	(void)state;
	parse_req(REQ);
	/* 100 Trying never carries a To tag */
	assert_int_equal(sip_reply_build(&q, 100, SY_NULL_STR, SY_STR("xyz"), SY_NULL_STR,
					 SY_NULL_STR, SY_NULL_STR, out, sizeof(out), &outlen), 0);
	parse_reply();
	assert_int_equal(r.to.tag.len, 0);
	assert_true(sy_str_eq(r.reason, SY_STR("Trying")));

	/* an existing To tag (in-dialog request) is kept, never doubled */
	static const char indlg[] =
		"BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=old\r\n"
		"From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 2 BYE\r\n\r\n";
	parse_req(indlg);
	assert_int_equal(sip_reply_build(&q, 200, SY_STR("Fine"), SY_STR("new"), SY_NULL_STR,
					 SY_NULL_STR, SY_STR("hello"), out, sizeof(out), &outlen), 0);
	parse_reply();
	assert_true(sy_str_eq(r.to.tag, SY_STR("old")));
	assert_true(sy_str_eq(r.reason, SY_STR("Fine")));
	assert_true(sy_str_eq(r.body, SY_STR("hello")));
	assert_int_equal(r.clen, 5);
}

static void test_reply_nospace(void **state)
{
	(void)state;
	size_t n;
	parse_req(REQ);
	assert_int_equal(sip_reply_build(&q, 404, SY_NULL_STR, SY_STR("t"), SY_NULL_STR, SY_NULL_STR,
					 SY_NULL_STR, out, sizeof(out), &outlen), 0);
	for (size_t cap = 0; cap < outlen; cap += 7)
		assert_int_equal(sip_reply_build(&q, 404, SY_NULL_STR, SY_STR("t"), SY_NULL_STR,
						 SY_NULL_STR, SY_NULL_STR, out, cap, &n), ENOSPC);
}

static void test_reason_phrase(void **state)
{
	(void)state;
	assert_string_equal(sip_reason_phrase(200), "OK");
	assert_string_equal(sip_reason_phrase(420), "Bad Extension");
	assert_string_equal(sip_reason_phrase(483), "Too Many Hops");
	assert_string_equal(sip_reason_phrase(505), "Version Not Supported");
	assert_string_equal(sip_reason_phrase(299), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_fields),
		cmocka_unit_test(test_reply_tags_and_body),
		cmocka_unit_test(test_reply_nospace),
		cmocka_unit_test(test_reason_phrase),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
