/* mgmt_http.c: the management listener's HTTP/1.1 request parser (RFC 9112): a request cut
 * at every byte is incomplete until its last byte, pipelined requests are split exactly, and
 * oversized heads and bodies, unknown or malformed methods, bare LF, obs-fold, whitespace
 * before the colon, a missing Host, chunked or doubly framed bodies, a POST without a length
 * and other HTTP versions each get their own error (the listener's status code). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mgmt/http.h"

static const struct mgmt_http_limits LIM = { 512, 64 };

static const char POST[] =
	"POST /mi?x=1 HTTP/1.1\r\n"
	"Host: 127.0.0.1:8888\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 10\r\n"
	"\r\n"
	"0123456789";

static int parse(const char *s, struct mgmt_http_req *r)
{
	return mgmt_http_parse(s, strlen(s), &LIM, r);
}

static void test_post_complete(void **state)
{
	struct mgmt_http_req r;

	(void)state;
	assert_int_equal(parse(POST, &r), 0);
	assert_int_equal(r.method, MGMT_HTTP_POST);
	assert_int_equal(r.path.len, 3);
	assert_memory_equal(r.path.s, "/mi", 3);
	assert_int_equal(r.query.len, 3);
	assert_memory_equal(r.query.s, "x=1", 3);
	assert_int_equal(r.minor, 1);
	assert_int_equal(r.keep_alive, 1);
	assert_int_equal(r.body.len, 10);
	assert_memory_equal(r.body.s, "0123456789", 10);
	assert_int_equal(r.len, strlen(POST));
	assert_int_equal(r.content_type.len, strlen("application/json"));
}

static void test_every_split(void **state)
{
	size_t len = strlen(POST), head = strstr(POST, "\r\n\r\n") + 4 - POST, cut;
	struct mgmt_http_req r;

	(void)state;
	for (cut = 0; cut < len; cut++) {
		int rc = mgmt_http_parse(POST, cut, &LIM, &r);

		if (cut < head && rc != EAGAIN)
			fail_msg("cut %zu: %d, want EAGAIN", cut, rc);
		if (cut >= head && rc != EINPROGRESS)
			fail_msg("cut %zu: %d, want EINPROGRESS", cut, rc);
	}
	assert_int_equal(mgmt_http_parse(POST, len, &LIM, &r), 0);
}

static void test_pipelining(void **state)
{
	char buf[1024];
	struct mgmt_http_req r;
	size_t off = 0, len;
	int n = snprintf(buf, sizeof(buf), "%s%s%s", POST,
			 "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n",
			 "HEAD /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /");

	(void)state;
	len = (size_t)n;
	assert_int_equal(mgmt_http_parse(buf, len, &LIM, &r), 0);
	assert_int_equal(r.method, MGMT_HTTP_POST);
	off += r.len;
	assert_int_equal(mgmt_http_parse(buf + off, len - off, &LIM, &r), 0);
	assert_int_equal(r.method, MGMT_HTTP_GET);
	assert_int_equal(r.body.len, 0);
	assert_memory_equal(r.path.s, "/metrics", 8);
	off += r.len;
	assert_int_equal(mgmt_http_parse(buf + off, len - off, &LIM, &r), 0);
	assert_int_equal(r.method, MGMT_HTTP_HEAD);
	assert_int_equal(r.keep_alive, 0);
	off += r.len;
	assert_int_equal(mgmt_http_parse(buf + off, len - off, &LIM, &r), EAGAIN);
}

static void test_oversize(void **state)
{
	char buf[2048];
	struct mgmt_http_req r;

	(void)state;
	/* a head over max_head: complete or not, 431 */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "GET / HTTP/1.1\r\nHost: h\r\nX-Long: ");
	memset(buf + strlen(buf), 'a', 600);
	assert_int_equal(mgmt_http_parse(buf, strlen(buf), &LIM, &r), E2BIG);
	strcat(buf, "\r\n\r\n");
	assert_int_equal(mgmt_http_parse(buf, strlen(buf), &LIM, &r), E2BIG);
	/* a request line alone over the limit */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "GET /");
	memset(buf + 5, 'b', 700);
	assert_int_equal(mgmt_http_parse(buf, strlen(buf), &LIM, &r), E2BIG);
	/* a body over max_body: 413 at once, before it is sent */
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n", &r),
			 EMSGSIZE);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nContent-Length: "
			       "99999999999999999999999\r\n\r\n", &r), EMSGSIZE);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nContent-Length: 64\r\n\r\n", &r),
			 EINPROGRESS);
}

static void test_methods(void **state)
{
	struct mgmt_http_req r;

	(void)state;
	assert_int_equal(parse("PUT /mi HTTP/1.1\r\nHost: h\r\n\r\n", &r), ENOTSUP);
	assert_int_equal(parse("DELETE /mi HTTP/1.1\r\nHost: h\r\n\r\n", &r), ENOTSUP);
	/* methods are case-sensitive (RFC 9110 §9.1) */
	assert_int_equal(parse("get / HTTP/1.1\r\nHost: h\r\n\r\n", &r), ENOTSUP);
	assert_int_equal(parse("G(ET / HTTP/1.1\r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET * HTTP/1.1\r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", &r), EBADMSG);
}

static void test_framing_errors(void **state)
{
	struct mgmt_http_req r;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\nHost: h\n\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost : h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\n: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &r), EBADMSG);	/* no Host */
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n", &r), EPROTONOSUPPORT);
	assert_int_equal(parse("GET / HTTP/0.9\r\nHost: h\r\n\r\n", &r), EPROTONOSUPPORT);
	assert_int_equal(parse("GET / http/1.1\r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.10\r\nHost: h\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &r), ENOTSUP);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &r), EBADMSG);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
			       "Content-Length: 2\r\n\r\nab", &r), EBADMSG);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
			       "Content-Length: 1\r\n\r\na", &r), 0);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", &r),
			 EBADMSG);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", &r),
			 EBADMSG);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\n\r\n", &r), ENODATA);
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nExpect: x\r\n"
			       "Content-Length: 1\r\n\r\n", &r), EBADMSG);
}

static void test_details(void **state)
{
	struct mgmt_http_req r;

	(void)state;
	/* HTTP/1.0: no Host needed, closes unless keep-alive */
	assert_int_equal(parse("GET /health HTTP/1.0\r\n\r\n", &r), 0);
	assert_int_equal(r.minor, 0);
	assert_int_equal(r.keep_alive, 0);
	assert_int_equal(parse("GET /health HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), 0);
	assert_int_equal(r.keep_alive, 1);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", &r),
			 0);
	assert_int_equal(r.keep_alive, 0);
	/* leading empty lines are skipped and counted (RFC 9112 §2.2) */
	assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	assert_int_equal(r.len, strlen("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"));
	/* 100-continue: the head alone is EINPROGRESS with the flag */
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
			       "Content-Length: 2\r\n\r\n", &r), EINPROGRESS);
	assert_int_equal(r.expect_continue, 1);
	/* a body on a GET is read and ignored: the next request starts after it */
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxyGET", &r),
			 0);
	assert_int_equal(r.len, strlen("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy"));
	/* header names are case-insensitive; OWS around values is trimmed */
	assert_int_equal(parse("POST /mi HTTP/1.1\r\nhOsT: h\r\ncontent-length:\t3 \r\n\r\nabc",
			       &r), 0);
	assert_int_equal(r.body.len, 3);
	assert_string_equal(mgmt_http_reason(431), "Request Header Fields Too Large");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_complete),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_framing_errors),
		cmocka_unit_test(test_details),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
