/* mod_auth.c: digest authentication logic without a network: the RFC 2617 §3.5 and RFC 7616
 * §3.9.1 worked examples, stateless nonces under a fake clock (expiry, mangling, another
 * realm or secret), auth_check_cred's verdicts against a users table in SQLite (right and
 * wrong password, unknown user, wrong realm, wrong uri, bad nonce, expired nonce, qop and
 * algorithm mismatches, stored HA1), that the check allocates nothing through OpenSSL once
 * warm, and lookups racing snapshot swaps (run under ASan: a snapshot freed too early is a
 * use-after-free report). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "mod/auth.h"

/* ---- OpenSSL allocations counted (CRYPTO_set_mem_functions, before any OpenSSL call) */
static atomic_long ossl_allocs;
static void *c_malloc(size_t n, const char *f, int l)
{
	(void)f;
	(void)l;
	atomic_fetch_add(&ossl_allocs, 1);
	return malloc(n);
}
static void *c_realloc(void *p, size_t n, const char *f, int l)
{
	(void)f;
	(void)l;
	atomic_fetch_add(&ossl_allocs, 1);
	return realloc(p, n);
}
static void c_free(void *p, const char *f, int l)
{
	(void)f;
	(void)l;
	free(p);
}

static int64_t fake_now = 1000000;
static int64_t fake_clock(void) { return fake_now; }

static const unsigned char secret[AUTH_SECRET_LEN] = "0123456789abcdef0123456789abcdef";

/* ---- RFC vectors */

static void test_rfc2617_example(void **state)
{
	char ha1[AUTH_HEX_MAX], out[AUTH_HEX_MAX];

	(void)state;
	/* RFC 2617 §3.5 */
	assert_int_equal(auth_ha1(AUTH_ALG_MD5, SY_STR("Mufasa"), SY_STR("testrealm@host.com"),
				  SY_STR("Circle Of Life"), ha1), 0);
	assert_int_equal(auth_response(AUTH_ALG_MD5, sy_str_make(ha1, 32),
				       SY_STR("dcd98b7102dd2f0e8b11d0f600bfb0c093"), SY_STR("00000001"),
				       SY_STR("0a4f113b"), SY_STR("auth"), SY_STR("GET"),
				       SY_STR("/dir/index.html"), out), 0);
	assert_memory_equal(out, "6629fae49393a05397450978507c4ef1", 32);
}

static void test_rfc7616_example(void **state)
{
	static const char nonce[] = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
	static const char cnonce[] = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
	char ha1[AUTH_HEX_MAX], out[AUTH_HEX_MAX];

	(void)state;
	/* RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5 */
	assert_int_equal(auth_ha1(AUTH_ALG_SHA256, SY_STR("Mufasa"), SY_STR("http-auth@example.org"),
				  SY_STR("Circle of Life"), ha1), 0);
	assert_int_equal(auth_response(AUTH_ALG_SHA256, sy_str_make(ha1, 64), SY_STR(nonce),
				       SY_STR("00000001"), SY_STR(cnonce), SY_STR("auth"),
				       SY_STR("GET"), SY_STR("/dir/index.html"), out), 0);
	assert_memory_equal(out, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
			    64);
	assert_int_equal(auth_ha1(AUTH_ALG_MD5, SY_STR("Mufasa"), SY_STR("http-auth@example.org"),
				  SY_STR("Circle of Life"), ha1), 0);
	assert_int_equal(auth_response(AUTH_ALG_MD5, sy_str_make(ha1, 32), SY_STR(nonce),
				       SY_STR("00000001"), SY_STR(cnonce), SY_STR("auth"),
				       SY_STR("GET"), SY_STR("/dir/index.html"), out), 0);
	assert_memory_equal(out, "8ca523f5e9506fed4657c9700eebdbec", 32);
	/* auth-int is never offered: refused rather than computed wrong */
	assert_int_equal(auth_response(AUTH_ALG_MD5, sy_str_make(ha1, 32), SY_STR(nonce),
				       SY_STR("00000001"), SY_STR(cnonce), SY_STR("auth-int"),
				       SY_STR("GET"), SY_STR("/dir/index.html"), out), EINVAL);
}

static void test_algorithm_names(void **state)
{
	enum auth_alg a;

	(void)state;
	assert_int_equal(auth_alg_parse(SY_NULL_STR, &a), 0);
	assert_int_equal(a, AUTH_ALG_MD5);
	assert_int_equal(auth_alg_parse(SY_STR("md5"), &a), 0);
	assert_int_equal(auth_alg_parse(SY_STR("sha-256"), &a), 0);
	assert_int_equal(a, AUTH_ALG_SHA256);
	assert_int_equal(auth_alg_parse(SY_STR("MD5-sess"), &a), EPROTONOSUPPORT);
	assert_int_equal(auth_alg_parse(SY_STR("SHA-512-256"), &a), EPROTONOSUPPORT);
}

/* ---- nonces */

static void test_nonce_expiry_fake_clock(void **state)
{
	char n[AUTH_NONCE_LEN], n2[AUTH_NONCE_LEN];
	unsigned flags = 0;
	sy_str realm = SY_STR("example.org");

	(void)state;
	assert_int_equal(auth_nonce_make(secret, 1030, AUTH_NF_QOP | AUTH_NF_SHA256, realm, n), 0);
	assert_int_equal(auth_nonce_check(secret, sy_str_make(n, AUTH_NONCE_LEN), realm, 1000,
					  &flags), 0);
	assert_int_equal(flags, AUTH_NF_QOP | AUTH_NF_SHA256);
	/* valid through its expiry second, stale after */
	assert_int_equal(auth_nonce_check(secret, sy_str_make(n, AUTH_NONCE_LEN), realm, 1030,
					  &flags), 0);
	assert_int_equal(auth_nonce_check(secret, sy_str_make(n, AUTH_NONCE_LEN), realm, 1031,
					  &flags), ETIMEDOUT);
	/* two challenges in the same second get different nonces */
	assert_int_equal(auth_nonce_make(secret, 1030, AUTH_NF_QOP | AUTH_NF_SHA256, realm, n2), 0);
	assert_memory_not_equal(n, n2, AUTH_NONCE_LEN);
}

static void test_nonce_mangled(void **state)
{
	char n[AUTH_NONCE_LEN], m[AUTH_NONCE_LEN];
	unsigned char other[AUTH_SECRET_LEN];
	unsigned flags;
	sy_str realm = SY_STR("example.org");

	(void)state;
	assert_int_equal(auth_nonce_make(secret, 2000, 0, realm, n), 0);
	/* every single hex digit changed breaks it: expiry, flags, serial and MAC are signed */
	for (int i = 0; i < AUTH_NONCE_LEN; i++) {
		memcpy(m, n, sizeof(m));
		m[i] = m[i] == '0' ? '1' : '0';
		assert_int_equal(auth_nonce_check(secret, sy_str_make(m, AUTH_NONCE_LEN), realm, 1000,
						  &flags), EBADMSG);
	}
	/* stretching the expiry of an expired nonce does not work either (the MAC covers it) */
	memcpy(m, n, sizeof(m));
	m[15] = 'f';
	assert_int_equal(auth_nonce_check(secret, sy_str_make(m, AUTH_NONCE_LEN), realm, 3000,
					  &flags), EBADMSG);
	memcpy(m, n, sizeof(m));
	m[3] = 'G';
	assert_int_equal(auth_nonce_check(secret, sy_str_make(m, AUTH_NONCE_LEN), realm, 1000,
					  &flags), EBADMSG);
	assert_int_equal(auth_nonce_check(secret, sy_str_make(n, AUTH_NONCE_LEN - 1), realm, 1000,
					  &flags), EBADMSG);
	assert_int_equal(auth_nonce_check(secret, SY_NULL_STR, realm, 1000, &flags), EBADMSG);
	/* another realm, another secret */
	assert_int_equal(auth_nonce_check(secret, sy_str_make(n, AUTH_NONCE_LEN),
					  SY_STR("example.com"), 1000, &flags), EBADMSG);
	memcpy(other, secret, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(auth_nonce_check(other, sy_str_make(n, AUTH_NONCE_LEN), realm, 1000,
					  &flags), EBADMSG);
}

/* ---- the check against a users table */

static char db_path[256];

static void exec_sql(const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static char url[300];

static int setup_db(void **state)
{
	static const sy_str tables[] = { SY_STR("subscriber") };

	(void)state;
	snprintf(db_path, sizeof(db_path), "/tmp/sy-mod-auth-%d.db", (int)getpid());
	unlink(db_path);
	exec_sql("CREATE TABLE subscriber (id INTEGER PRIMARY KEY, username TEXT, domain TEXT,"
		 " password TEXT, ha1 TEXT, ha1_sha256 TEXT);"
		 "INSERT INTO subscriber (username, domain, password, ha1, ha1_sha256) VALUES"
		 " ('alice', 'example.org', 'secret1', '', ''),"
		 " ('bob', 'example.org', '', '', '');");
	snprintf(url, sizeof(url), "sqlite://%s", db_path);
	auth_db_cfg.db_url = url;
	auth_db_cfg.calculate_ha1 = 1;
	auth_db_cfg.password_column = "password";
	memcpy(auth_secret, secret, sizeof(secret));
	auth_set_clock(fake_clock);
	return auth_db_start(tables, 1);
}

static int teardown_db(void **state)
{
	(void)state;
	auth_db_stop();
	auth_db_cfg.db_url = NULL;
	auth_db_cfg.password_column = NULL;
	unlink(db_path);
	return 0;
}

struct credset {
	char buf[1024];
	char nonce[AUTH_NONCE_LEN + 1];
	struct sip_auth_cred c;
};

/* credentials for user/password as a UA would send them after a challenge with flags */
static void make_cred(struct credset *cs, enum auth_alg alg, unsigned flags, const char *user,
		      const char *pw, const char *realm, const char *uri, int qop)
{
	char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
	size_t hl = auth_alg_hexlen(alg);

	assert_int_equal(auth_nonce_make(secret, fake_now + 30, flags, sy_cstr(realm), cs->nonce),
			 0);
	cs->nonce[AUTH_NONCE_LEN] = '\0';
	assert_int_equal(auth_ha1(alg, sy_cstr(user), sy_cstr(realm), sy_cstr(pw), ha1), 0);
	assert_int_equal(auth_response(alg, sy_str_make(ha1, hl), sy_cstr(cs->nonce),
				       SY_STR("00000001"), SY_STR("abcdef"),
				       qop ? SY_STR("auth") : SY_NULL_STR, SY_STR("REGISTER"),
				       sy_cstr(uri), resp), 0);
	snprintf(cs->buf, sizeof(cs->buf),
		 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
		 "response=\"%.*s\", algorithm=%s%s", user, realm, cs->nonce, uri, (int)hl, resp,
		 auth_alg_name(alg), qop ? ", qop=auth, nc=00000001, cnonce=\"abcdef\"" : "");
	assert_int_equal(sip_auth_parse(sy_cstr(cs->buf), &cs->c), 0);
}

static int check(struct credset *cs, const char *realm, const char *ruri)
{
	const char *why;

	return auth_check_cred(&cs->c, sy_cstr(realm), SY_STR("REGISTER"), sy_cstr(ruri),
			       SY_STR("subscriber"), fake_now, &why);
}

#define RURI "sip:example.org"

static void test_check_verdicts(void **state)
{
	struct credset cs;
	char *p;

	(void)state;
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);
	/* the same URI written differently still names the R-URI (§19.1.4) */
	assert_int_equal(check(&cs, "example.org", "sip:EXAMPLE.org"), AUTH_OK);

	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "wrong", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_INVALID_PASSWORD);

	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "carol", "x", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_INVALID_USER);

	/* wrong realm: the nonce was made for another realm */
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "other.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_ERROR);

	/* wrong uri */
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org",
		  "sip:elsewhere.org", 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_ERROR);

	/* bad nonce: one digit changed in the credentials */
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	p = strstr(cs.buf, "nonce=\"") + 7;
	*p = *p == 'a' ? 'b' : 'a';
	assert_int_equal(sip_auth_parse(sy_cstr(cs.buf), &cs.c), 0);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_ERROR);

	/* the nonce asked for qop=auth, the answer has none */
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 0);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_ERROR);
	/* without qop in the challenge, the RFC 2069 form is fine */
	make_cred(&cs, AUTH_ALG_MD5, 0, "alice", "secret1", "example.org", RURI, 0);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);

	/* SHA-256 answer on an MD5 nonce, and the matching one */
	make_cred(&cs, AUTH_ALG_SHA256, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_ERROR);
	make_cred(&cs, AUTH_ALG_SHA256, AUTH_NF_QOP | AUTH_NF_SHA256, "alice", "secret1",
		  "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);

	/* a user with an empty password is not a user with any password */
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "bob", "x", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_INVALID_PASSWORD);

	/* a table the script never named */
	{
		const char *why;

		make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
		assert_int_equal(auth_check_cred(&cs.c, SY_STR("example.org"), SY_STR("REGISTER"),
						 SY_STR(RURI), SY_STR("users2"), fake_now, &why),
				 AUTH_ERROR);
	}
}

static void test_check_stale(void **state)
{
	struct credset cs;

	(void)state;
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	fake_now += 31;
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_STALE_NONCE);
	/* stale is the verdict only for a right response (RFC 7616 §3.3 "stale", OpenSIPS'
	 * post_auth): a wrong password or an unknown user on an expired nonce says so */
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "wrong", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_INVALID_PASSWORD);
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "nobody", "x", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_INVALID_USER);
	fake_now -= 31;
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);
}

static void test_missing_fields_do_not_parse(void **state)
{
	struct sip_auth_cred c;

	(void)state;
	/* RFC 2617 §3.2.2 MUSTs: username, realm, nonce, uri, response */
	assert_int_equal(sip_auth_parse(SY_STR("Digest realm=\"a\", nonce=\"n\", uri=\"u\", "
					       "response=\"r\""), &c), EBADMSG);
	assert_int_equal(sip_auth_parse(SY_STR("Digest username=\"a\", realm=\"a\", uri=\"u\", "
					       "response=\"r\""), &c), EBADMSG);
	assert_int_equal(sip_auth_parse(SY_STR("Digest username=\"a\", realm=\"a\", nonce=\"n\", "
					       "uri=\"u\""), &c), EBADMSG);
}

static void test_qop_without_cnonce(void **state)
{
	struct credset cs;
	char *p;

	(void)state;
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	p = strstr(cs.buf, ", cnonce=");
	*p = '\0';
	assert_int_equal(sip_auth_parse(sy_cstr(cs.buf), &cs.c), 0);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_ERROR);
}

static void test_stored_ha1(void **state)
{
	struct credset cs;
	char ha1[AUTH_HEX_MAX + 1], sha[AUTH_HEX_MAX + 1], sql[512];

	(void)state;
	assert_int_equal(auth_ha1(AUTH_ALG_MD5, SY_STR("dave"), SY_STR("example.org"),
				  SY_STR("pw4"), ha1), 0);
	assert_int_equal(auth_ha1(AUTH_ALG_SHA256, SY_STR("dave"), SY_STR("example.org"),
				  SY_STR("pw4"), sha), 0);
	/* an upper-case stored HA1 works too */
	for (int i = 0; i < 32; i++)
		if (ha1[i] >= 'a')
			ha1[i] = (char)(ha1[i] - 32);
	snprintf(sql, sizeof(sql), "INSERT INTO subscriber (username, domain, password, ha1,"
		 " ha1_sha256) VALUES ('dave', 'example.org', '', '%.32s', '%.64s')", ha1, sha);
	exec_sql(sql);
	auth_db_cfg.calculate_ha1 = 0;
	auth_db_cfg.password_column = "ha1";
	assert_int_equal(auth_db_reload(), 0);
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "dave", "pw4", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);
	make_cred(&cs, AUTH_ALG_SHA256, AUTH_NF_QOP | AUTH_NF_SHA256, "dave", "pw4", "example.org",
		  RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);
	make_cred(&cs, AUTH_ALG_SHA256, AUTH_NF_QOP | AUTH_NF_SHA256, "dave", "pw5", "example.org",
		  RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_INVALID_PASSWORD);
	/* alice has no stored HA1: with calculate_ha1 = 0 she cannot log in */
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_ERROR);
	auth_db_cfg.calculate_ha1 = 1;
	auth_db_cfg.password_column = "password";
	assert_int_equal(auth_db_reload(), 0);
}

static void test_use_domain(void **state)
{
	struct auth_cred_row row;

	(void)state;
	assert_int_equal(auth_db_lookup(SY_STR("subscriber"), SY_STR("alice"), SY_STR("x.org"),
					&row), 0);
	auth_db_cfg.use_domain = 1;
	assert_int_equal(auth_db_lookup(SY_STR("subscriber"), SY_STR("alice"), SY_STR("x.org"),
					&row), ENOENT);
	assert_int_equal(auth_db_lookup(SY_STR("subscriber"), SY_STR("alice"),
					SY_STR("EXAMPLE.org"), &row), 0);
	assert_int_equal(row.password_len, 7);
	assert_memory_equal(row.password, "secret1", 7);
	auth_db_cfg.use_domain = 0;
	/* user names are case-sensitive */
	assert_int_equal(auth_db_lookup(SY_STR("subscriber"), SY_STR("Alice"), SY_NULL_STR, &row),
			 ENOENT);
}

static void test_no_allocation_when_warm(void **state)
{
	struct credset cs;
	long before;

	(void)state;
	make_cred(&cs, AUTH_ALG_SHA256, AUTH_NF_QOP | AUTH_NF_SHA256, "alice", "secret1",
		  "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);	/* warm: this thread's ctx */
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);
	before = atomic_load(&ossl_allocs);
	for (int i = 0; i < 100; i++) {
		char n[AUTH_NONCE_LEN];

		assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);
		assert_int_equal(auth_nonce_make(secret, fake_now + 30, AUTH_NF_QOP,
						 SY_STR("example.org"), n), 0);
	}
	make_cred(&cs, AUTH_ALG_SHA256, AUTH_NF_QOP | AUTH_NF_SHA256, "alice", "secret1",
		  "example.org", RURI, 1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);
	assert_int_equal(atomic_load(&ossl_allocs), before);
}

/* ---- nonce-count window */

/* a nonce string with this expiry and serial (auth_nc_check trusts the MAC was checked) */
static sy_str fake_nonce(char *buf, uint64_t exp, uint32_t serial)
{
	snprintf(buf, AUTH_NONCE_LEN + 1, "%016llx01%08x%032x", (unsigned long long)exp, serial, 0);
	return sy_str_make(buf, AUTH_NONCE_LEN);
}

static void test_nonce_count_window(void **state)
{
	char a[AUTH_NONCE_LEN + 1], b[AUTH_NONCE_LEN + 1];

	(void)state;
	/* off until initialised */
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("00000001")), 0);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("00000001")), 0);
	assert_int_equal(auth_nc_init(), 0);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("00000001")), 0);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("00000001")), EALREADY);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("00000003")), 0);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("00000002")), EALREADY);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("00000000")), EALREADY);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("0000000g")), EINVAL);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("0001")), EINVAL);
	/* another nonce has its own count */
	assert_int_equal(auth_nc_check(fake_nonce(b, 1030, 6), SY_STR("00000001")), 0);
	/* a newer nonce in the same slot (the window went round) takes it; the old one can no
	 * longer be told apart from a replay and is refused */
	assert_int_equal(auth_nc_check(fake_nonce(b, 1031, 5 + AUTH_NC_SLOTS), SY_STR("00000001")),
			 0);
	assert_int_equal(auth_nc_check(fake_nonce(a, 1030, 5), SY_STR("00000004")), ENOSPC);
	/* after a restart with a fixed secret serials start again: the later expiry wins */
	assert_int_equal(auth_nc_check(fake_nonce(a, 2000, 7), SY_STR("00000001")), 0);
	assert_int_equal(auth_nc_check(fake_nonce(b, 2030, 7), SY_STR("00000001")), 0);
	assert_int_equal(auth_nc_check(fake_nonce(a, 2000, 7), SY_STR("00000002")), ENOSPC);
	auth_nc_reset();
}

static void test_nonce_count_in_check(void **state)
{
	struct credset cs;

	(void)state;
	assert_int_equal(auth_nc_init(), 0);
	make_cred(&cs, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "secret1", "example.org", RURI, 1);
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_OK);
	/* the same credentials again: a replay */
	assert_int_equal(check(&cs, "example.org", RURI), AUTH_ERROR);
	/* a wrong password with a high nc does not spend the real user's counts */
	{
		struct credset bad;

		memcpy(&bad, &cs, sizeof(bad));
		make_cred(&bad, AUTH_ALG_MD5, AUTH_NF_QOP, "alice", "wrong", "example.org", RURI, 1);
		assert_int_equal(check(&bad, "example.org", RURI), AUTH_INVALID_PASSWORD);
	}
	auth_nc_reset();
}

/* ---- lookups racing reloads */

static atomic_int stop_readers;
static atomic_long lookups_done;

static void *reader(void *arg)
{
	struct auth_cred_row row;

	(void)arg;
	while (!atomic_load(&stop_readers)) {
		int rc = auth_db_lookup(SY_STR("subscriber"), SY_STR("alice"), SY_NULL_STR, &row);

		if (rc != 0 || row.password_len != 7 || memcmp(row.password, "secret1", 7) != 0)
			abort();
		atomic_fetch_add(&lookups_done, 1);
	}
	return NULL;
}

static void test_lookups_during_reloads(void **state)
{
	pthread_t t[2];
	unsigned long gen0 = auth_db_generation();

	(void)state;
	atomic_store(&stop_readers, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(auth_db_reload(), 0);
	atomic_store(&stop_readers, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_true(auth_db_generation() >= gen0 + 50);
	assert_true(atomic_load(&lookups_done) > 0);
}

static void test_missing_file_and_table(void **state)
{
	struct auth_cred_row row;
	static char bad[300];

	(void)state;
	snprintf(bad, sizeof(bad), "sqlite:///nonexistent-dir-%d/users.db", (int)getpid());
	auth_db_cfg.db_url = bad;
	assert_int_equal(auth_db_reload(), ENOENT);
	/* published empty: every user unknown, the table known */
	assert_int_equal(auth_db_lookup(SY_STR("subscriber"), SY_STR("alice"), SY_NULL_STR, &row),
			 ENOENT);
	assert_int_not_equal(access(bad + 9, F_OK), 0);	/* not created */
	auth_db_cfg.db_url = url;
	exec_sql("ALTER TABLE subscriber RENAME TO subscriber_old");
	assert_int_equal(auth_db_reload(), EIO);
	assert_int_equal(auth_db_lookup(SY_STR("subscriber"), SY_STR("alice"), SY_NULL_STR, &row),
			 ENOENT);
	exec_sql("ALTER TABLE subscriber_old RENAME TO subscriber");
	assert_int_equal(auth_db_reload(), 0);
	assert_int_equal(auth_db_lookup(SY_STR("subscriber"), SY_STR("alice"), SY_NULL_STR, &row),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2617_example),
		cmocka_unit_test(test_rfc7616_example),
		cmocka_unit_test(test_algorithm_names),
		cmocka_unit_test(test_nonce_expiry_fake_clock),
		cmocka_unit_test(test_nonce_mangled),
		cmocka_unit_test(test_check_verdicts),
		cmocka_unit_test(test_check_stale),
		cmocka_unit_test(test_missing_fields_do_not_parse),
		cmocka_unit_test(test_qop_without_cnonce),
		cmocka_unit_test(test_stored_ha1),
		cmocka_unit_test(test_use_domain),
		cmocka_unit_test(test_no_allocation_when_warm),
		cmocka_unit_test(test_nonce_count_window),
		cmocka_unit_test(test_nonce_count_in_check),
		cmocka_unit_test(test_lookups_during_reloads),
		cmocka_unit_test(test_missing_file_and_table),
	};

	if (!CRYPTO_set_mem_functions(c_malloc, c_realloc, c_free))
		return 1;
	return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
