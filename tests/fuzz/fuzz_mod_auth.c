/* fuzz_mod_auth.c: the digest check on arbitrary credentials. The input is an Authorization
 * value; "@N" in it becomes a nonce this proxy really made (fresh, for realm example.org, the
 * flags taken from the byte after it), "@X" an expired one, and "@R" the response a correct
 * client would send for the fields as parsed, so the fuzzer gets past the MAC and into the
 * qop/algorithm/user/response logic. Checks: the verdict is one of the documented codes; 1
 * only for alice with her password's digest over a fresh nonce of ours, her realm and the
 * Request-URI; nonces round-trip and any input as a nonce gives 0/ETIMEDOUT/EBADMSG. The users
 * table is a real SQLite file loaded once. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "mod/auth.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

#define NOW 1700000000
#define REALM "example.org"
#define RURI "sip:example.org"

static int64_t fake_clock(void) { return NOW; }

static char url[300], path[256];

static void cleanup(void)
{
	auth_db_stop();
	unlink(path);
}

static void setup(void)
{
	static const sy_str tables[] = { SY_STR("subscriber") };
	sqlite3 *db;

	snprintf(path, sizeof(path), "/tmp/sy-fuzz-auth-%d.db", (int)getpid());
	unlink(path);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE subscriber (username TEXT, domain TEXT, password TEXT);"
			   "INSERT INTO subscriber VALUES ('alice', 'example.org', 'pw');",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	auth_db_cfg.db_url = url;
	auth_db_cfg.calculate_ha1 = 1;
	auth_db_cfg.password_column = "password";
	memcpy(auth_secret, "fuzz-secret-fuzz-secret-fuzz-sec", AUTH_SECRET_LEN);
	auth_set_clock(fake_clock);
	CHECK(auth_db_start(tables, 1) == 0);
	atexit(cleanup);
}

/* the response a client knowing alice's password would compute for c */
static int client_response(const struct sip_auth_cred *c, char *out, size_t *len)
{
	char ha1[AUTH_HEX_MAX], ub[256], rb[256], cb[256], urib[512];
	size_t ul, rl, cl = 0, url_len;
	enum auth_alg alg;

	if (auth_alg_parse(c->algorithm, &alg) != 0 ||
	    sip_auth_unquote(c->username, ub, sizeof(ub), &ul) ||
	    sip_auth_unquote(c->realm, rb, sizeof(rb), &rl) ||
	    sip_auth_unquote(c->cnonce, cb, sizeof(cb), &cl) ||
	    sip_auth_unquote(c->uri, urib, sizeof(urib), &url_len))
		return -1;
	if (auth_ha1(alg, sy_str_make(ub, ul), sy_str_make(rb, rl), SY_STR("pw"), ha1) ||
	    auth_response(alg, sy_str_make(ha1, auth_alg_hexlen(alg)), c->nonce, c->nc,
			  sy_str_make(cb, cl), c->qop, SY_STR("REGISTER"),
			  sy_str_make(urib, url_len), out))
		return -1;
	*len = auth_alg_hexlen(alg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char buf[4096], buf2[4096];
	struct sip_auth_cred c;
	const char *why;
	size_t n = 0, i, resp_off = 0;
	unsigned flags;
	int rc, want_resp = 0;

	if (!ready) {
		setup();
		ready = 1;
	}
	/* any input as a nonce */
	rc = auth_nonce_check(auth_secret, sy_str_make((const char *)data, size), SY_STR(REALM),
			      NOW, &flags);
	CHECK(rc == 0 || rc == ETIMEDOUT || rc == EBADMSG);
	CHECK(rc == EBADMSG || size == AUTH_NONCE_LEN);

	for (i = 0; i < size && n + AUTH_NONCE_LEN < sizeof(buf); i++) {
		if (data[i] == '@' && i + 1 < size && (data[i + 1] == 'N' || data[i + 1] == 'X')) {
			unsigned f = i + 2 < size ? data[i + 2] & 3u : 0;
			int64_t exp = data[i + 1] == 'N' ? NOW + 30 : NOW - 1;

			CHECK(auth_nonce_make(auth_secret, exp, f, SY_STR(REALM), buf + n) == 0);
			rc = auth_nonce_check(auth_secret, sy_str_make(buf + n, AUTH_NONCE_LEN),
					      SY_STR(REALM), NOW, &flags);
			CHECK(data[i + 1] == 'N' ? rc == 0 && flags == f : rc == ETIMEDOUT);
			n += AUTH_NONCE_LEN;
			i += i + 2 < size ? 2 : 1;
			continue;
		}
		if (data[i] == '@' && i + 1 < size && data[i + 1] == 'R' && !want_resp &&
		    n + AUTH_HEX_MAX < sizeof(buf)) {
			/* a placeholder that parses like a response, replaced after parsing */
			memset(buf + n, 'f', AUTH_HEX_MAX);
			resp_off = n;
			n += AUTH_HEX_MAX;
			want_resp = 1;
			i++;
			continue;
		}
		buf[n++] = (char)data[i];
	}
	if (sip_auth_parse(sy_str_make(buf, n), &c) != 0 || !c.digest)
		return 0;
	if (want_resp) {
		/* put the right response where the placeholder is, and parse again */
		char resp[AUTH_HEX_MAX];
		size_t rl;

		if (client_response(&c, resp, &rl) != 0)
			return 0;
		memcpy(buf2, buf, resp_off);
		memcpy(buf2 + resp_off, resp, rl);
		memcpy(buf2 + resp_off + rl, buf + resp_off + AUTH_HEX_MAX, n - resp_off - AUTH_HEX_MAX);
		if (sip_auth_parse(sy_str_make(buf2, n - AUTH_HEX_MAX + rl), &c) != 0)
			return 0;
	}
	rc = auth_check_cred(&c, SY_STR(REALM), SY_STR("REGISTER"), SY_STR(RURI),
			     SY_STR("subscriber"), NOW, &why);
	CHECK(rc == AUTH_OK || rc == AUTH_INVALID_USER || rc == AUTH_INVALID_PASSWORD ||
	      rc == AUTH_STALE_NONCE || rc == AUTH_ERROR);
	CHECK(why != NULL);
	if (rc == AUTH_OK) {
		char ub[256], resp[AUTH_HEX_MAX];
		size_t ul, rl;

		CHECK(sip_auth_unquote(c.username, ub, sizeof(ub), &ul) == 0);
		CHECK(ul == 5 && memcmp(ub, "alice", 5) == 0);
		CHECK(auth_nonce_check(auth_secret, c.nonce, SY_STR(REALM), NOW, &flags) == 0);
		CHECK(client_response(&c, resp, &rl) == 0 && c.response.len == rl);
		for (i = 0; i < rl; i++)
			CHECK((c.response.s[i] | 0x20) == resp[i]);
	}
	return 0;
}
