/* fuzz_store_binding.c: the decoder of a binding as kept in Redis (store_binding_decode),
 * which reads what any client able to write to the shared Redis put there. Whatever decodes
 * must point only inside the input, keep its numbers in range, and encode to bytes that
 * decode to the same binding and encode again to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* a violated property: say which one, then crash so the fuzzer keeps the input */
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

static int inside(sy_str v, const char *p, size_t n)
{
	return v.len == 0 || (v.s >= p && v.s + v.len <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct store_binding b, c;
	size_t cap, n;
	char *buf;

	if (store_binding_decode(p, size, &b) != 0)
		return 0;
	CHECK(inside(b.aor, p, size) && inside(b.contact, p, size) &&
	      inside(b.received, p, size) && inside(b.path, p, size) &&
	      inside(b.callid, p, size) && inside(b.user_agent, p, size) &&
	      inside(b.instance, p, size));
	CHECK(b.q >= -1 && b.q <= 1000 && b.proto >= 0 && b.proto <= 255);
	CHECK(b.conn_id == 0 && b.listen_idx == -1);
	cap = store_binding_enc_len(&b);
	buf = malloc(cap);
	if (!buf)
		return 0;
	n = store_binding_encode(&b, buf, cap);
	/* "-0" or leading zeros decode but are not what the encoder writes: the same binding in
	 * other bytes, so the check is field by field */
	CHECK(n > 0);
	CHECK(store_binding_decode(buf, n, &c) == 0);
	CHECK(c.cseq == b.cseq && c.reg_id == b.reg_id && c.expires == b.expires &&
	      c.q == b.q && c.methods == b.methods && c.flags == b.flags && c.proto == b.proto &&
	      c.last_modified == b.last_modified);
	CHECK(sy_str_eq(c.aor, b.aor) && sy_str_eq(c.contact, b.contact) &&
	      sy_str_eq(c.received, b.received) && sy_str_eq(c.path, b.path) &&
	      sy_str_eq(c.callid, b.callid) && sy_str_eq(c.user_agent, b.user_agent) &&
	      sy_str_eq(c.instance, b.instance));
	/* the encoder's output is canonical: the same bytes again */
	{
		char *again = malloc(cap);

		if (again) {
			CHECK(store_binding_encode(&c, again, cap) == n && memcmp(again, buf, n) == 0);
			free(again);
		}
	}
	free(buf);
	return 0;
}
