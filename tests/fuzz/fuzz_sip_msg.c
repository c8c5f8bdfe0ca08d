/* fuzz_sip_msg.c: the message parser on arbitrary bytes, as a datagram and as a stream
 * message; on success: validation, every header through its typed parser, agreement with the
 * stream framer and stream parser, Request-URI equality with itself, and a local reply built
 * from a request must parse as a response. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/build.h"
#include "sip/msg.h"

/* a violated property: say which one, then crash so the fuzzer keeps the input */
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

static const char *const supported[] = { "path", "outbound", "100rel", NULL };

static void walk(const struct sip_msg *m)
{
	for (unsigned i = 0; i < m->nhdr; i++) {
		const struct sip_hdr *h = &m->hdr[i];
		sy_str rest = h->body, item, it, n, v;
		struct sip_via via;
		struct sip_nameaddr na;
		uint64_t u;
		switch (h->id) {
		case SIP_H_VIA:
			while (rest.len && sip_via_parse(rest, &via, &rest) == 0) {
				it = via.params;
				while (sip_param_next(&it, &n, &v) == 0)
					;
			}
			break;
		case SIP_H_FROM: case SIP_H_TO: case SIP_H_CONTACT: case SIP_H_ROUTE:
		case SIP_H_RECORD_ROUTE: case SIP_H_PATH:
			while (rest.len && sip_nameaddr_parse(rest, &na, &rest) == 0) {
				CHECK(!(!na.star && !sip_uri_equal(&na.uri, &na.uri) &&
				    na.uri.scheme != SIP_URI_NONE));
				(void)sip_param_get(na.params, SY_STR("tag"), &v);
			}
			break;
		case SIP_H_EXPIRES: case SIP_H_MIN_EXPIRES:
			(void)sip_parse_uint(h->body, UINT32_MAX, &u);
			break;
		default:
			while (sip_list_next(rest, &item, &rest) == 0)
				;
		}
		(void)sip_hdr_next_name(m, h->name, (int)i);
	}
}

/* a datagram that parsed with a Content-Length frames to the same length on a stream and
 * parses there to the same header index (a repeated Content-Length is a framing error there) */
static void stream_agrees(const struct sip_msg *m)
{
	static struct sip_hdr sh[128];
	struct sip_msg s = { .hdr = sh, .hdr_cap = 128 };
	struct sip_framer f;
	size_t n;
	int ka;
	int dup = sip_hdr_next(m, SIP_H_CONTENT_LENGTH, m->first[SIP_H_CONTENT_LENGTH] + 1) >= 0;

	sip_framer_reset(&f);
	int rc = sip_frame(&f, m->buf, m->len, NULL, &n, &ka);
	CHECK(dup ? rc == EBADMSG : (rc == 0 && n == m->len && !ka));
	CHECK(sip_msg_parse(&s, m->buf, m->len, 1, NULL) == 0);
	CHECK(s.len == m->len && s.nhdr == m->nhdr && s.clen == m->clen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_hdr hdr[128];
	static char out[70000];
	struct sip_msg m = { .hdr = hdr, .hdr_cap = 128 };
	struct sip_verdict v;
	const char *buf = (const char *)data;
	size_t outlen;

	for (int stream = 0; stream < 2; stream++) {
		if (sip_msg_parse(&m, buf, size, stream, NULL) != 0) {
			CHECK(!(m.err_reason == NULL));	/* a failure always says why */
			continue;
		}
		CHECK(!(m.len > size || m.body.s + m.body.len > buf + size));
		walk(&m);
		if (!stream && m.clen >= 0)
			stream_agrees(&m);
		if (!m.is_request) {
			(void)sip_validate_response(&m);
			continue;
		}
		CHECK(!(!sip_uri_equal(&m.ruri_p, &m.ruri_p)));
		if (sip_validate_request(&m, supported, &v) == 0) {
			/* a reply to an accepted request must itself be a valid response */
			static struct sip_hdr rh[128];
			struct sip_msg r = { .hdr = rh, .hdr_cap = 128 };
			struct sip_limits lim;
			sip_limits_default(&lim);
			lim.max_msg = sizeof(out);
			CHECK(sip_reply_build(&m, 404, SY_NULL_STR, SY_STR("tt"),
					      SY_STR(";received=192.0.2.1"), SY_NULL_STR, SY_NULL_STR,
					      out, sizeof(out), &outlen) == 0);
			CHECK(!(sip_msg_parse(&r, out, outlen, 0, &lim) != 0 ||
			    sip_validate_response(&r) != 0));
		} else {
			CHECK(v.code >= 400 && v.code <= 599 && v.reason);
		}
	}
	return 0;
}
