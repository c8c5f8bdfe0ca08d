/* sip_uri.c: URI parsing (RFC 3261 §19.1, §25.1; RFC 3966) and the §19.1.4 equality rules,
 * with the RFC's own equal / not-equal examples. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sip/msg.h"

static struct sip_uri parse_ok(const char *s)
{
	struct sip_uri u;
	int rc = sip_uri_parse(sy_cstr(s), &u);
	if (rc)
		fail_msg("sip_uri_parse(%s) = %d", s, rc);
	return u;
}

#define assert_str(x, lit) do { \
		sy_str _x = (x); \
		if (!sy_str_eq(_x, SY_STR(lit))) \
			fail_msg("%s: '%.*s' != '%s'", #x, SY_FMT(_x), lit); \
	} while (0)

static void test_parse_full(void **state)
{
	(void)state;
	struct sip_uri u = parse_ok("sips:alice:secret@Atlanta.COM:5061;transport=tcp;lr;"
				    "maddr=239.255.255.1;ttl=15;user=phone;method=INVITE;x=y?subject=hi&a=b");
	assert_int_equal(u.scheme, SIP_URI_SIPS);
	assert_str(u.scheme_s, "sips");
	assert_str(u.user, "alice");
	assert_str(u.password, "secret");
	assert_str(u.host, "Atlanta.COM");
	assert_str(u.port_s, "5061");
	assert_int_equal(u.port, 5061);
	assert_str(u.transport, "tcp");
	assert_str(u.maddr, "239.255.255.1");
	assert_str(u.ttl, "15");
	assert_str(u.user_param, "phone");
	assert_str(u.method, "INVITE");
	assert_int_equal(u.lr, 1);
	assert_str(u.params, "transport=tcp;lr;maddr=239.255.255.1;ttl=15;user=phone;method=INVITE;x=y");
	assert_str(u.headers, "subject=hi&a=b");
}

static void test_parse_variants(void **state)
{
	(void)state;
	struct sip_uri u = parse_ok("sip:example.com");
	assert_int_equal(u.scheme, SIP_URI_SIP);
	assert_int_equal(u.user.len, 0);
	assert_str(u.host, "example.com");
	assert_int_equal(u.port, 0);
	assert_int_equal(u.lr, 0);

	u = parse_ok("sip:[2001:db8::10]:5070;lr");
	assert_str(u.host, "[2001:db8::10]");
	assert_int_equal(u.port, 5070);
	assert_int_equal(u.lr, 1);

	/* RFC 4475 §3.1.1.9: ';' and escaped '@' belong to the user part */
	u = parse_ok("sip:user;par=u%40example.net@example.com");
	assert_str(u.user, "user;par=u%40example.net");
	assert_str(u.host, "example.com");
	assert_int_equal(u.params.len, 0);

	/* RFC 4475 §3.1.1.2: unusual but legal user and password characters */
	u = parse_ok("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
	assert_str(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
	assert_str(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	assert_str(u.host, "example.com");

	u = parse_ok("tel:+1-201-555-0123;phone-context=example.com");
	assert_int_equal(u.scheme, SIP_URI_TEL);
	assert_str(u.user, "+1-201-555-0123");
	assert_str(u.params, "phone-context=example.com");

	u = parse_ok("isbn:2983792873");
	assert_int_equal(u.scheme, SIP_URI_OTHER);
	assert_str(u.scheme_s, "isbn");
	assert_str(u.opaque, "2983792873");

	u = parse_ok("SIP:ALICE@AtLanTa.CoM;Transport=udp");
	assert_int_equal(u.scheme, SIP_URI_SIP);
	assert_str(u.transport, "udp");
}

static void test_parse_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "sip:", "sip:@example.com", "sip:user@", "sip:host:99999", "sip:host:",
		"sip:host:5x", "<sip:host>", "sip:us er@host", "sip:user@ho st", "sip:%4@host",
		"sip:user@host;a b", "sip:host?", "sip:[2001:db8::1", "sip:[]", "tel:", "tel:12a;x=%g1",
		"1sip:host", "sip:user@host>", "mailto:", "x:a b", "sip:host;p=%zz", "sip:a@b@c",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sip_uri u;
		if (sip_uri_parse(sy_cstr(bad[i]), &u) != EBADMSG)
			fail_msg("'%s' accepted", bad[i]);
	}
}

static int eq(const char *a, const char *b)
{
	struct sip_uri ua = parse_ok(a), ub = parse_ok(b);
	int r = sip_uri_equal(&ua, &ub);
	/* equality is symmetric */
	assert_int_equal(r, sip_uri_equal(&ub, &ua));
	return r;
}

/* RFC 3261 §19.1.4, the equivalent pairs */
static void test_equal_rfc(void **state)
{
	(void)state;
	assert_true(eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
	assert_true(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
	assert_true(eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
	assert_true(eq("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"));
	assert_true(eq("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
		       "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
	assert_true(eq("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
		       "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
}

/* RFC 3261 §19.1.4, the non-equivalent pairs */
static void test_not_equal_rfc(void **state)
{
	(void)state;
	assert_false(eq("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
	assert_false(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
	assert_false(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
	assert_false(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
	assert_false(eq("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
	assert_false(eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
	/* and the "not transitive" example: both equal the bare one, not each other */
	assert_false(eq("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
}

static void test_equal_more(void **state)
{
	(void)state;
	assert_false(eq("sip:alice@a.com", "sips:alice@a.com"));
	assert_false(eq("sip:alice@a.com", "sip:alice:pw@a.com"));
	assert_false(eq("sip:a.com;user=phone", "sip:a.com"));
	assert_false(eq("sip:a.com;ttl=1", "sip:a.com"));
	assert_false(eq("sip:a.com;maddr=1.2.3.4", "sip:a.com;maddr=1.2.3.5"));
	assert_false(eq("sip:a.com;method=INVITE", "sip:a.com"));
	assert_true(eq("sip:a.com;lr", "sip:a.com"));
	assert_true(eq("sip:a.com;x=%41", "sip:a.com;x=a"));
	/* escapes are resolved once, never recursively (RFC 4475 §3.1.1.3) */
	assert_false(eq("sip:value%2541@a.com", "sip:valueA@a.com"));
	assert_true(eq("sip:value%2541@a.com", "sip:value%25%34%31@a.com"));
	/* an escaped NUL is a byte like any other (RFC 4475 §3.1.1.4) */
	assert_false(eq("sip:null-%00-null@a.com", "sip:null-%00@a.com"));
	assert_false(eq("sip:a.com?x=1", "sip:a.com?x=1&y=2"));
	assert_true(eq("tel:+1-201-555-0123", "tel:+12015550123"));
	assert_false(eq("tel:+12015550123", "tel:+12015550124"));
	assert_true(eq("isbn:123", "ISBN:123"));
	assert_false(eq("isbn:123", "sip:123@a.com"));
}

/* hostile URIs with thousands of params compare in linear time, as whole param lists */
static void test_equal_many_params(void **state)
{
	(void)state;
	static char a[8192], b[8192];
	size_t n = (size_t)snprintf(a, sizeof(a), "sip:x@h");
	while (n < 8000)
		n += (size_t)snprintf(a + n, sizeof(a) - n, ";p%zu=v", n);
	memcpy(b, a, n + 1);
	struct sip_uri ua = parse_ok(a), ub = parse_ok(b);
	assert_true(sip_uri_equal(&ua, &ub));
	b[n - 1] = 'w';
	ub = parse_ok(b);
	assert_false(sip_uri_equal(&ua, &ub));
	/* up to the cap the order does not matter */
	assert_true(eq("sip:x@h;a=1;b=2;c=3", "sip:x@h;c=3;b=2;a=1"));
}

static void test_param_get(void **state)
{
	(void)state;
	sy_str v;
	sy_str p = SY_STR("tag = abc ; lr;\r\n q=0.5;x=\"a;b\"");
	assert_int_equal(sip_param_get(p, SY_STR("TAG"), &v), 0);
	assert_str(v, "abc");
	assert_int_equal(sip_param_get(p, SY_STR("lr"), &v), 0);
	assert_int_equal(v.len, 0);
	assert_int_equal(sip_param_get(p, SY_STR("q"), &v), 0);
	assert_str(v, "0.5");
	assert_int_equal(sip_param_get(p, SY_STR("x"), &v), 0);
	assert_str(v, "\"a;b\"");
	assert_int_equal(sip_param_get(p, SY_STR("b\""), &v), ENOENT);
	assert_int_equal(sip_param_get(p, SY_STR("nope"), &v), ENOENT);
	assert_int_equal(sip_param_get(SY_STR(""), SY_STR("x"), &v), ENOENT);
}

static void test_parse_uint(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(sip_parse_uint(SY_STR("0068"), 255, &v), 0);
	assert_int_equal(v, 68);
	assert_int_equal(sip_parse_uint(SY_STR("255"), 255, &v), 0);
	assert_int_equal(sip_parse_uint(SY_STR("256"), 255, &v), ERANGE);
	assert_int_equal(sip_parse_uint(SY_STR("4294967295"), UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(sip_parse_uint(SY_STR("4294967296"), UINT32_MAX, &v), ERANGE);
	assert_int_equal(sip_parse_uint(SY_STR("18446744073709551615"), UINT64_MAX, &v), 0);
	assert_int_equal(sip_parse_uint(SY_STR("18446744073709551616"), UINT64_MAX, &v), ERANGE);
	assert_int_equal(sip_parse_uint(SY_STR("99999999999999999999999"), UINT64_MAX, &v), ERANGE);
	assert_int_equal(sip_parse_uint(SY_STR(""), 10, &v), EINVAL);
	assert_int_equal(sip_parse_uint(SY_STR("-1"), 10, &v), EINVAL);
	assert_int_equal(sip_parse_uint(SY_STR("1 "), 10, &v), EINVAL);
	assert_int_equal(sip_parse_uint(SY_STR("7"), 5, &v), ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_variants),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_equal_rfc),
		cmocka_unit_test(test_not_equal_rfc),
		cmocka_unit_test(test_equal_more),
		cmocka_unit_test(test_equal_many_params),
		cmocka_unit_test(test_param_get),
		cmocka_unit_test(test_parse_uint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
