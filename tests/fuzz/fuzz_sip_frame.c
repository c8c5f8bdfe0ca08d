/* fuzz_sip_frame.c: stream framing on arbitrary bytes. The first byte is a chunk size; the
 * input is framed once with all bytes present and once fed chunk by chunk: both must find the
 * same messages (resumability; keep-alive CRLFs may come in smaller pieces), every framed length must lie within the input, and each framed
 * message goes through the stream parser. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sip/msg.h"

/* a violated property: say which one, then crash so the fuzzer keeps the input */
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_hdr hdr[128];
	struct sip_framer fa, fb;
	size_t off = 0, step, n1, n2;
	int ka1, ka2;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 32 + 1;
	const char *buf = (const char *)data + 1;
	size--;
	sip_framer_reset(&fa);
	sip_framer_reset(&fb);
	while (off < size) {
		const char *p = buf + off;
		size_t left = size - off;
		int r1 = sip_frame(&fa, p, left, NULL, &n1, &ka1);
		/* incremental: grow the buffered prefix chunk by chunk */
		int r2 = EAGAIN;
		for (size_t have = step < left ? step : left;;
		     have = have + step < left ? have + step : left) {
			r2 = sip_frame(&fb, p, have, NULL, &n2, &ka2);
			if (r2 != EAGAIN || have == left)
				break;
		}
		CHECK(!(r1 != r2));
		if (r1 != 0)
			break;
		/* keep-alive CRLFs may be reported in smaller pieces when they trickle in */
		CHECK(ka1 == ka2 && n1 > 0 && n1 <= left && (ka1 ? n2 <= n1 : n2 == n1));
		if (!ka1) {
			struct sip_msg m = { .hdr = hdr, .hdr_cap = 128 };
			CHECK(!(sip_msg_parse(&m, p, n1, 1, NULL) == 0 && m.len != n1));
		}
		off += n1;
	}
	return 0;
}
