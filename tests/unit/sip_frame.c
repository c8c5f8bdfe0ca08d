/* sip_frame.c: stream framing (RFC 3261 §18.3): a message split at every byte position is
 * framed exactly once with the right length, keep-alive CRLFs (RFC 5626 §4.4.1) are reported
 * on their own, and missing / negative / non-numeric / repeated Content-Length or oversized
 * input is a framing error that closes the connection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sip/msg.h"

static const char MSG[] =
	"INVITE sip:bob@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/TCP pc33.example.com;branch=z9hG4bK776asdhds\r\n"
	"To: <sip:bob@example.com>\r\n"
	"From: <sip:alice@example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710\r\n"
	"CSeq: 314159 INVITE\r\n"
	"l:\r\n 10\r\n"
	"\r\n"
	"0123456789";

/* feed buf in steps of `step` bytes, as a connection would; returns what it framed */
static int feed(const char *buf, size_t len, size_t step, size_t *msglen, int *ka)
{
	struct sip_framer f;
	sip_framer_reset(&f);
	for (size_t have = step < len ? step : len;; have = have + step < len ? have + step : len) {
		int rc = sip_frame(&f, buf, have, NULL, msglen, ka);
		if (rc != EAGAIN || have == len)
			return rc;
	}
}

static void test_every_split(void **state)
{
	(void)state;
	size_t len = strlen(MSG), n;
	int ka;
	for (size_t cut = 1; cut <= len; cut++) {
		struct sip_framer f;
		sip_framer_reset(&f);
		int rc = sip_frame(&f, MSG, cut, NULL, &n, &ka);
		if (cut < len) {
			if (rc != EAGAIN)
				fail_msg("cut %zu: %d", cut, rc);
			rc = sip_frame(&f, MSG, len, NULL, &n, &ka);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(n, len);
		assert_int_equal(ka, 0);
	}
	/* byte by byte */
	assert_int_equal(feed(MSG, len, 1, &n, &ka), 0);
	assert_int_equal(n, len);
}

static void test_pipelined(void **state)
{
	(void)state;
	char two[1024];
	size_t len = strlen(MSG), n;
	int ka;
	struct sip_framer f;
	memcpy(two, MSG, len);
	memcpy(two + len, MSG, len);
	sip_framer_reset(&f);
	assert_int_equal(sip_frame(&f, two, 2 * len, NULL, &n, &ka), 0);
	assert_int_equal(n, len);
	/* the framer resets itself after a message: the next call starts at the next one */
	assert_int_equal(sip_frame(&f, two + len, len - 1, NULL, &n, &ka), EAGAIN);
	assert_int_equal(sip_frame(&f, two + len, len, NULL, &n, &ka), 0);
	assert_int_equal(n, len);

	/* the framed bytes parse as one stream message */
	struct sip_hdr h[16];
	struct sip_msg m = { .hdr = h, .hdr_cap = 16 };
	assert_int_equal(sip_msg_parse(&m, two, n, 1, NULL), 0);
	assert_int_equal(m.clen, 10);
	assert_int_equal(m.len, len);
}

static void test_keepalive(void **state)
{
	(void)state;
	struct sip_framer f;
	size_t n;
	int ka;
	sip_framer_reset(&f);
	assert_int_equal(sip_frame(&f, "\r\n\r\n", 4, NULL, &n, &ka), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ka, 1);
	assert_int_equal(sip_frame(&f, "\r", 1, NULL, &n, &ka), EAGAIN);
	assert_int_equal(sip_frame(&f, "\r\nINV", 5, NULL, &n, &ka), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ka, 1);
	assert_int_equal(sip_frame(&f, "INV", 3, NULL, &n, &ka), EAGAIN);
	assert_int_equal(ka, 0);
	assert_int_equal(sip_frame(&f, "", 0, NULL, &n, &ka), EAGAIN);
}

static void expect_bad(const char *cl_line)
{
	char buf[1024];
	size_t n;
	int ka;
	int len = snprintf(buf, sizeof(buf),
			   "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n%s\r\nabc", cl_line);
	struct sip_framer f;
	sip_framer_reset(&f);
	int rc = sip_frame(&f, buf, (size_t)len, NULL, &n, &ka);
	if (rc != EBADMSG)
		fail_msg("'%s': %d", cl_line, rc);
}

static void test_bad_clen(void **state)
{
	(void)state;
	expect_bad("");	/* missing */
	expect_bad("Content-Length: -999\r\n");
	expect_bad("Content-Length: abc\r\n");
	expect_bad("Content-Length: \r\n");
	expect_bad("Content-Length: 3\r\nl: 4\r\n");
	expect_bad("Content-Length: 3\r\nContent-Length: 3\r\n");
	expect_bad("Content-Length: 99999999999999999999999\r\n");
	expect_bad("Content-Length: 70000\r\n");	/* over max_msg */
	expect_bad("Content-Length 3\r\n");
}

static void test_limits(void **state)
{
	(void)state;
	static char big[70000];
	struct sip_framer f;
	struct sip_limits lim;
	size_t n;
	int ka;
	memset(big, 'a', sizeof(big));
	memcpy(big, "OPTIONS sip:a@b SIP/2.0\r\nX: ", 28);
	sip_framer_reset(&f);
	assert_int_equal(sip_frame(&f, big, 1000, NULL, &n, &ka), EAGAIN);
	assert_int_equal(sip_frame(&f, big, sizeof(big), NULL, &n, &ka), EBADMSG);

	sip_limits_default(&lim);
	lim.max_msg = 100;
	sip_framer_reset(&f);
	assert_int_equal(sip_frame(&f, MSG, strlen(MSG), &lim, &n, &ka), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_bad_clen),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
