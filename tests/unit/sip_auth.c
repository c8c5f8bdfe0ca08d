/* sip_auth.c: credentials parsing (RFC 3261 §22.4, §25.1; RFC 2617 §3.2.2): the RFC's own
 * example, LWS and folding between items, quoted-pairs, other schemes, and the cut-off and
 * ambiguous values that must be refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sip/auth.h"

#define assert_str(x, lit) do { \
		sy_str _x = (x); \
		if (!sy_str_eq(_x, SY_STR(lit))) \
			fail_msg("%s: '%.*s' != '%s'", #x, SY_FMT(_x), lit); \
	} while (0)

static struct sip_auth_cred ok(const char *s)
{
	struct sip_auth_cred c;
	int rc = sip_auth_parse(sy_cstr(s), &c);
	if (rc)
		fail_msg("sip_auth_parse(%s) = %d", s, rc);
	return c;
}

static void bad(const char *s)
{
	struct sip_auth_cred c;
	int rc = sip_auth_parse(sy_cstr(s), &c);
	if (rc != EBADMSG)
		fail_msg("sip_auth_parse(%s) = %d, want EBADMSG", s, rc);
}

static void test_rfc3261_example(void **state)
{
	(void)state;
	/* RFC 3261 §22.4 / §20.7 example, with qop, cnonce and nc from RFC 2617 §3.5 */
	struct sip_auth_cred c = ok("Digest username=\"Alice\", realm=\"atlanta.com\",\r\n"
				    " nonce=\"84a4cc6f3082121f32b42a2187831a9e\",\r\n"
				    " uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001,"
				    " cnonce=\"0a4f113b\", algorithm=MD5, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\","
				    " response=\"7587245234b3434cc3412213e5f113a5\"");
	assert_true(c.digest);
	assert_str(c.scheme, "Digest");
	assert_str(c.username, "Alice");
	assert_str(c.realm, "atlanta.com");
	assert_str(c.nonce, "84a4cc6f3082121f32b42a2187831a9e");
	assert_str(c.uri, "sip:bob@biloxi.com");
	assert_str(c.response, "7587245234b3434cc3412213e5f113a5");
	assert_str(c.algorithm, "MD5");
	assert_str(c.cnonce, "0a4f113b");
	assert_str(c.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
	assert_str(c.qop, "auth");
	assert_str(c.nc, "00000001");
	assert_int_equal(c.nparams, 10);
}

static void test_lws_case_unknown(void **state)
{
	(void)state;
	struct sip_auth_cred c = ok("  dIgEsT\tUSERNAME = \"bob\" ,Realm=\"r\",  foo=bar, baz=\"x,y\","
				    "NONCE=\"n\",URI=\"sip:x\",response=\"r\",qop=\"auth-int\"  ");
	assert_true(c.digest);
	assert_str(c.username, "bob");
	assert_str(c.qop, "auth-int");
	assert_int_equal(c.nparams, 8);
	assert_int_equal(c.algorithm.len, 0);
	assert_null(c.algorithm.s);
}

static void test_quoted_pairs(void **state)
{
	(void)state;
	char buf[32];
	size_t n;
	struct sip_auth_cred c = ok("Digest username=\"a\\\"b\\\\c, d\", realm=\"\", nonce=\"n\","
				    " uri=\"sip:x\", response=\"r\"");
	assert_str(c.username, "a\\\"b\\\\c, d");
	assert_int_equal(sip_auth_unquote(c.username, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "a\"b\\c, d", 8);
	assert_non_null(c.realm.s);	/* present though empty */
	assert_int_equal(c.realm.len, 0);
	assert_int_equal(sip_auth_unquote(c.username, buf, 3, &n), ENOSPC);
}

static void test_other_scheme(void **state)
{
	(void)state;
	struct sip_auth_cred c = ok("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	assert_false(c.digest);
	assert_str(c.scheme, "Basic");
	assert_str(c.params, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	bad("Basic");
	bad("Basic   ");
}

static void test_cut_and_malformed(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"", "   ", "Digest", "Digest ", "Digest username=", "Digest username",
		"Digest username=\"alice", "Digest username=\"alice, realm=\"exa",
		"Digest username=\"ali\\", "Digest username=\"a\", ", "Digest ,username=\"a\"",
		"Digest =\"a\"", "Digest username=\"a\" realm=\"r\"", "Digest username=a\"b\"",
		"Digest\"username=\"a\"", "Digest username=\"a\r\nb\"",
		/* a well-known parameter twice: which one was checked? */
		"Digest username=\"a\", username=\"b\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\"",
		"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", response=\"s\"",
		/* RFC 2617 §3.2.2 MUSTs missing */
		"Digest realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\"",
		"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\"",
		"Digest username=\"a\", realm=\"r\", uri=\"u\", response=\"r\"",
		/* nc is 8LHEX */
		"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", nc=1",
		"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", nc=0000000g",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad(cases[i]);
}

static void test_every_prefix(void **state)
{
	(void)state;
	/* every cut of a good value either fails or (cut at an item boundary) parses to slices that
	 * stay inside the cut: never a read past it */
	static const char full[] = "Digest username=\"al\\\"ice\", realm=\"r\", nonce=\"n\", "
				   "uri=\"sip:bob@b\", response=\"0123\", nc=00000001, qop=auth";
	for (size_t n = 0; n < sizeof(full) - 1; n++) {
		struct sip_auth_cred c;
		sy_str s = sy_str_make(full, n);
		if (sip_auth_parse(s, &c) == 0) {
			sy_str *f[] = { &c.username, &c.realm, &c.nonce, &c.uri, &c.response, &c.qop, &c.nc };
			for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
				assert_true(!f[i]->s || f[i]->s + f[i]->len <= full + n);
		}
	}
	assert_int_equal(sip_auth_parse(sy_str_make(full, sizeof(full) - 1), &(struct sip_auth_cred){0}), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3261_example),
		cmocka_unit_test(test_lws_case_unknown),
		cmocka_unit_test(test_quoted_pairs),
		cmocka_unit_test(test_other_scheme),
		cmocka_unit_test(test_cut_and_malformed),
		cmocka_unit_test(test_every_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
