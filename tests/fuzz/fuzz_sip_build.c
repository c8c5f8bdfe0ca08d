/* fuzz_sip_build.c: parse -> edits -> serialise -> parse again. The first input byte picks the
 * edits, the rest is the message. Whatever parsed must still parse after the edits a proxy
 * makes (new top Via, Record-Route, Request-URI, removed headers, removed top Via, new body),
 * with the Content-Length matching the new body and sip_build_size predicting the output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/build.h"
#include "sip/msg.h"

/* a violated property: say which one, then crash so the fuzzer keeps the input */
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_hdr h1[128], h2[160];
	static char out[80000];
	struct sip_msg m = { .hdr = h1, .hdr_cap = 128 };
	struct sip_msg m2 = { .hdr = h2, .hdr_cap = 160 };
	struct sip_edit e[64];
	struct sip_build b, b2, *bo = &b;
	static struct sip_edit e2[80];
	struct sip_limits lim;
	size_t outlen;

	if (size < 1)
		return 0;
	unsigned ops = data[0];
	const char *buf = (const char *)data + 1;
	size--;
	if (sip_msg_parse(&m, buf, size, 0, NULL) != 0)
		return 0;
	sip_build_init(&b, &m, e, 64);
	if ((ops & 1) && m.is_request)
		CHECK(sip_build_set_ruri(&b, SY_STR("sip:new@192.0.2.7:5072;transport=tcp")) == 0);
	if (ops & 2)
		CHECK(sip_build_prepend_hdr(&b, SY_STR("Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfz\r\n")) == 0);
	if (ops & 4)
		CHECK(sip_build_append_hdr(&b, SY_STR("Record-Route: <sip:192.0.2.1;lr>\r\n")) == 0);
	CHECK(!((ops & 8) && m.nhdr && sip_build_remove_hdr(&b, (ops >> 4) % m.nhdr)));
	CHECK(!((ops & 16) && m.first[SIP_H_VIA] >= 0 && sip_build_remove_via1(&b)));
	int body = (ops & 32) != 0;
	CHECK(!(body && sip_build_set_body(&b, SY_STR("v=0\r\n"), SY_STR("application/sdp"))));
	if (ops & 64) {
		/* a branch: request edits copied, then its own */
		sip_build_init(&b2, &m, e2, 80);
		CHECK(!(sip_build_copy(&b2, &b) || sip_build_append_hdr(&b2, SY_STR("X-Branch: 1\r\n"))));
		bo = &b2;
	}
	size_t sz = sip_build_size(bo);
	CHECK(!(sip_build_out(bo, out, sizeof(out), &outlen) != 0 || outlen != sz));
	sip_limits_default(&lim);
	lim.max_msg = sizeof(out);
	lim.max_headers = 160;
	lim.max_via = 80;
	CHECK(!(sip_msg_parse(&m2, out, outlen, 0, &lim) != 0));
	CHECK(!(body && (m2.clen != 5 || !sy_str_eq(m2.body, SY_STR("v=0\r\n")))));
	return 0;
}
