/* sip_build.c: the edit list round trip: parse -> edit -> serialise -> parse again, checking
 * the edited fields and that everything else came through untouched. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sip/build.h"
#include "sip/msg.h"

static const char INVITE[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
	"Max-Forwards: 70\r\n"
	"To: Bob <sip:bob@biloxi.example.com>\r\n"
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 4\r\n"
	"\r\n"
	"v=0\n";

static const char REPLY2VIA[] =
	"SIP/2.0 200 OK\r\n"
	"v: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1 ,\r\n"
	" SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
	"Via: SIP/2.0/UDP third.example.com;branch=z9hG4bK3\r\n"
	"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

struct fx {
	struct sip_hdr h1[64], h2[64];
	struct sip_msg m, m2;
	struct sip_edit e[32];
	struct sip_build b;
	char out[4096];
	size_t outlen;
};
static struct fx F;

static void parse(struct sip_msg *m, struct sip_hdr *h, const char *buf, size_t len)
{
	m->hdr = h;
	m->hdr_cap = 64;
	int rc = sip_msg_parse(m, buf, len, 0, NULL);
	if (rc)
		fail_msg("parse: %d %u %s\n%.*s", rc, m->err_code, m->err_reason, (int)len, buf);
}

static void start(const char *msg)
{
	memset(&F, 0, sizeof(F));
	parse(&F.m, F.h1, msg, strlen(msg));
	sip_build_init(&F.b, &F.m, F.e, 32);
}

/* serialise, check the size prediction, parse the result again into F.m2 */
static void finish(void)
{
	size_t sz = sip_build_size(&F.b);
	assert_int_equal(sip_build_out(&F.b, F.out, sizeof(F.out), &F.outlen), 0);
	assert_int_equal(sz, F.outlen);
	if (sz > 0) {
		size_t dummy;
		assert_int_equal(sip_build_out(&F.b, F.out, sz - 1, &dummy), ENOSPC);
	}
	parse(&F.m2, F.h2, F.out, F.outlen);
}

static int has(const char *needle)
{
	return memmem(F.out, F.outlen, needle, strlen(needle)) != NULL;
}

static void test_no_edits(void **state)
{
	(void)state;
	start(INVITE);
	finish();
	assert_int_equal(F.outlen, strlen(INVITE));
	assert_memory_equal(F.out, INVITE, F.outlen);
}

static void test_set_ruri(void **state)
{
	(void)state;
	start(INVITE);
	assert_false(sip_build_ruri_edited(&F.b));
	/* a header edit is not a Request-URI edit */
	assert_int_equal(sip_build_append_hdr(&F.b, SY_STR("X-A: 1\r\n")), 0);
	assert_false(sip_build_ruri_edited(&F.b));
	start(INVITE);
	assert_int_equal(sip_build_set_ruri(&F.b, SY_STR("sip:bob@192.0.2.4:5062;transport=tcp")), 0);
	assert_true(sip_build_ruri_edited(&F.b));
	finish();
	assert_true(sy_str_eq(F.m2.ruri, SY_STR("sip:bob@192.0.2.4:5062;transport=tcp")));
	assert_int_equal(F.m2.ruri_p.port, 5062);
	assert_int_equal(F.m2.nhdr, F.m.nhdr);
	assert_true(sy_str_eq(F.m2.body, SY_STR("v=0\n")));
}

static void test_append_prepend_remove(void **state)
{
	(void)state;
	start(INVITE);
	int mf = F.m.first[SIP_H_MAX_FORWARDS];
	assert_int_equal(sip_build_prepend_hdr(&F.b, SY_STR("Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew\r\n")), 0);
	assert_int_equal(sip_build_prepend_hdr(&F.b, SY_STR("Record-Route: <sip:proxy.example.com;lr>\r\n")), 0);
	assert_int_equal(sip_build_append_hdr(&F.b, SY_STR("X-One: 1\r\n")), 0);
	assert_int_equal(sip_build_append_hdr(&F.b, SY_STR("X-Two: 2\r\n")), 0);
	assert_int_equal(sip_build_remove_hdr(&F.b, (unsigned)mf), 0);
	assert_int_equal(sip_build_append_hdr(&F.b, SY_STR("Max-Forwards: 69\r\n")), 0);
	assert_int_equal(sip_build_remove_hdr(&F.b, 1000), EINVAL);
	finish();
	assert_int_equal(F.m2.nhdr, F.m.nhdr + 4);
	/* prepends at one place keep their order: the Via first, then Record-Route */
	assert_int_equal(F.m2.hdr[0].id, SIP_H_VIA);
	assert_int_equal(F.m2.hdr[1].id, SIP_H_RECORD_ROUTE);
	assert_true(sy_str_eq(F.m2.via1.branch, SY_STR("z9hG4bKnew")));
	assert_int_equal(F.m2.maxfwd, 69);
	unsigned n = F.m2.nhdr;
	assert_true(sy_str_eq(F.m2.hdr[n - 3].name, SY_STR("X-One")));
	assert_true(sy_str_eq(F.m2.hdr[n - 2].name, SY_STR("X-Two")));
	assert_true(sy_str_eq(F.m2.hdr[n - 1].name, SY_STR("Max-Forwards")));
	assert_true(sy_str_eq(F.m2.body, SY_STR("v=0\n")));
	assert_int_equal(sip_hdr_next_name(&F.m2, SY_STR("x-two"), 0), (int)n - 2);
}

static void test_remove_via1_single(void **state)
{
	(void)state;
	start(INVITE);
	assert_int_equal(sip_build_remove_via1(&F.b), 0);
	finish();
	assert_int_equal(F.m2.first[SIP_H_VIA], -1);
	assert_int_equal(F.m2.nhdr, F.m.nhdr - 1);
	assert_false(has("Via"));
}

static void test_remove_via1_multi(void **state)
{
	(void)state;
	start(REPLY2VIA);
	assert_int_equal(sip_build_remove_via1(&F.b), 0);
	finish();
	assert_int_equal(F.m2.nhdr, F.m.nhdr);
	assert_true(sy_str_eq(F.m2.via1.host, SY_STR("pc33.atlanta.example.com")));
	assert_true(sy_str_eq(F.m2.via1.received, SY_STR("192.0.2.1")));
	assert_false(has("proxy.example.com"));
	/* remove again on the result: now the field holds one value and goes entirely */
	struct sip_msg m3;
	struct sip_hdr h3[64];
	struct sip_edit e3[4];
	struct sip_build b3;
	char out3[4096];
	size_t n3;
	static char copy[4096];
	memcpy(copy, F.out, F.outlen);
	parse(&m3, h3, copy, F.outlen);
	sip_build_init(&b3, &m3, e3, 4);
	assert_int_equal(sip_build_remove_via1(&b3), 0);
	assert_int_equal(sip_build_out(&b3, out3, sizeof(out3), &n3), 0);
	parse(&F.m2, F.h2, out3, n3);
	assert_int_equal(F.m2.nhdr, F.m.nhdr - 1);
	assert_true(sy_str_eq(F.m2.via1.host, SY_STR("third.example.com")));
}

static void test_set_body(void **state)
{
	(void)state;
	static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";
	start(INVITE);
	assert_int_equal(sip_build_set_body(&F.b, SY_STR(sdp), SY_STR("application/sdp")), 0);
	finish();
	assert_int_equal(F.m2.clen, (long)strlen(sdp));
	assert_true(sy_str_eq(F.m2.body, SY_STR(sdp)));
	assert_int_equal(F.outlen, (size_t)(F.m2.body.s - F.out) + strlen(sdp));

	/* removing the body drops Content-Type and writes Content-Length: 0 */
	start(INVITE);
	assert_int_equal(sip_build_set_body(&F.b, SY_NULL_STR, SY_NULL_STR), 0);
	finish();
	assert_int_equal(F.m2.clen, 0);
	assert_int_equal(F.m2.body.len, 0);
	assert_int_equal(F.m2.first[SIP_H_CONTENT_TYPE], -1);

	/* a message without Content-Length (RFC 2543 style datagram) gets one */
	static const char nocl[] =
		"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\n"
		"From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\nold body";
	start(nocl);
	assert_int_equal(F.m.clen, -1);
	assert_int_equal(sip_build_set_body(&F.b, SY_STR("new"), SY_STR("text/plain")), 0);
	finish();
	assert_int_equal(F.m2.clen, 3);
	assert_true(sy_str_eq(F.m2.body, SY_STR("new")));
	int ct = F.m2.first[SIP_H_CONTENT_TYPE];
	assert_true(ct >= 0);
	assert_true(sy_str_eq(F.m2.hdr[ct].body, SY_STR("text/plain")));
}

static void test_copy_and_limits(void **state)
{
	(void)state;
	struct sip_edit e2[32], small[1];
	struct sip_build b2, bs;
	start(INVITE);
	assert_int_equal(sip_build_set_body(&F.b, SY_STR("hello"), SY_NULL_STR), 0);
	assert_int_equal(sip_build_append_hdr(&F.b, SY_STR("X-A: a\r\n")), 0);
	sip_build_init(&b2, &F.m, e2, 32);
	assert_int_equal(sip_build_copy(&b2, &F.b), 0);
	assert_int_equal(sip_build_append_hdr(&b2, SY_STR("X-B: b\r\n")), 0);
	/* the copy owns its Content-Length text: clobber the source's */
	memset(F.b.clen_buf, '9', sizeof(F.b.clen_buf) - 1);
	F.b = b2;
	finish();
	assert_int_equal(F.m2.clen, 5);
	assert_true(has("X-A: a\r\nX-B: b\r\n"));

	sip_build_init(&bs, &F.m, small, 1);
	assert_int_equal(sip_build_copy(&bs, &b2), ENOSPC);
	assert_int_equal(sip_build_append_hdr(&bs, SY_STR("X: 1\r\n")), 0);
	assert_int_equal(sip_build_append_hdr(&bs, SY_STR("X: 2\r\n")), ENOSPC);
	assert_int_equal(sip_build_replace(&bs, F.m.len + 1, 0, SY_NULL_STR), EINVAL);
}

static void test_trailing_octets_dropped(void **state)
{
	(void)state;
	static const char dbl[] =
		"REGISTER sip:example.com SIP/2.0\r\nTo: <sip:a@b>\r\nFrom: <sip:a@b>;tag=1\r\n"
		"Call-ID: x\r\nCSeq: 1 REGISTER\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		"Content-Length: 0\r\n\r\n\r\nINVITE sip:x@y SIP/2.0\r\n\r\n";
	start(dbl);
	assert_int_equal(sip_build_append_hdr(&F.b, SY_STR("X: 1\r\n")), 0);
	finish();
	assert_false(has("INVITE"));
	assert_int_equal(F.m2.len, F.outlen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_edits),
		cmocka_unit_test(test_set_ruri),
		cmocka_unit_test(test_append_prepend_remove),
		cmocka_unit_test(test_remove_via1_single),
		cmocka_unit_test(test_remove_via1_multi),
		cmocka_unit_test(test_set_body),
		cmocka_unit_test(test_copy_and_limits),
		cmocka_unit_test(test_trailing_octets_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
