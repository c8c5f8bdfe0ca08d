/* fuzz_sip_auth.c: Authorization / Proxy-Authorization credentials (sip_auth_parse) on
 * arbitrary bytes. Properties: every slice it returns lies inside the input; a Digest value
 * that parses has the RFC 2617 §3.2.2 MUST parameters; unquoting never writes more than the
 * slice holds and never needs more room than the slice's length. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/auth.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

static int inside(sy_str v, const char *s, size_t n)
{
	return !v.s || (v.s >= s && v.s + v.len <= s + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct sip_auth_cred c;
	char buf[256];
	size_t n;

	if (sip_auth_parse(sy_str_make(s, size), &c) != 0)
		return 0;
	sy_str *f[] = { &c.scheme, &c.params, &c.username, &c.realm, &c.nonce, &c.uri, &c.response,
			&c.algorithm, &c.cnonce, &c.opaque, &c.qop, &c.nc };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		CHECK(inside(*f[i], s, size));
		if (f[i]->s && f[i]->len <= sizeof(buf)) {
			CHECK(sip_auth_unquote(*f[i], buf, sizeof(buf), &n) == 0);
			CHECK(n <= f[i]->len);
		}
	}
	CHECK(c.scheme.len > 0);
	if (c.digest)
		CHECK(c.username.s && c.realm.s && c.nonce.s && c.uri.s && c.response.s);
	return 0;
}
