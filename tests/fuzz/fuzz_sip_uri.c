/* fuzz_sip_uri.c: URI parsing and equality on arbitrary bytes. The input is split at the
 * first NUL into two URIs: each that parses must equal itself, equality must be symmetric,
 * and a URI must never be equal to one of a different scheme. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/msg.h"

/* a violated property: say which one, then crash so the fuzzer keeps the input */
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, 0, size);
	sy_str a = sy_str_make(s, nul ? (size_t)(nul - s) : size);
	sy_str b = nul ? sy_str_make(nul + 1, size - a.len - 1) : a;
	struct sip_uri ua, ub;
	int pa = sip_uri_parse(a, &ua) == 0;
	int pb = sip_uri_parse(b, &ub) == 0;

	CHECK(!(pa && !sip_uri_equal(&ua, &ua)));
	if (pa && pb) {
		int ab = sip_uri_equal(&ua, &ub), ba = sip_uri_equal(&ub, &ua);
		CHECK(!(ab != ba));
		CHECK(!(ab && ua.scheme != ub.scheme));
	}
	if (pa) {
		sy_str it = ua.params, n, v;
		while (sip_param_next(&it, &n, &v) == 0)
			CHECK(!(n.s < a.s || n.s + n.len > a.s + a.len));
	}
	return 0;
}
