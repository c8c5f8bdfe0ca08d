/* fuzz_mgmt_http.c: the management listener's HTTP request parser on arbitrary bytes. A
 * complete request must lie inside the input with its slices inside it, parse the same when
 * cut to its own length, and never be complete when cut inside its head; every verdict is
 * one of the documented codes. The input is also parsed at every offset a pipelined stream
 * would reach. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/http.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

static int inside(const char *b, size_t n, sy_str s)
{
	return s.len == 0 || (s.s >= b && s.s + s.len <= b + n);
}

static void one(const char *b, size_t n, const struct mgmt_http_limits *lim, size_t *used)
{
	struct mgmt_http_req r, r2;
	int rc = mgmt_http_parse(b, n, lim, &r);

	*used = 0;
	CHECK(rc == 0 || rc == EAGAIN || rc == EINPROGRESS || rc == EBADMSG || rc == ENODATA ||
	      rc == E2BIG || rc == EMSGSIZE || rc == ENOTSUP || rc == EPROTONOSUPPORT);
	if (rc != 0)
		return;
	CHECK(r.len <= n && r.head_len <= r.len && r.head_len <= lim->max_head);
	CHECK(r.body.len <= lim->max_body && r.len == r.head_len + r.body.len);
	CHECK(inside(b, n, r.path) && inside(b, n, r.query) && inside(b, n, r.body) &&
	      inside(b, n, r.content_type));
	CHECK(r.path.len >= 1 && r.path.s[0] == '/');
	CHECK(mgmt_http_parse(b, r.len, lim, &r2) == 0 && r2.len == r.len);
	CHECK(mgmt_http_parse(b, r.head_len - 1, lim, &r2) != 0);
	*used = r.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mgmt_http_limits lim = { 1024, 256 };
	const char *b = (const char *)data;
	size_t off = 0, used;

	do {
		one(b + off, size - off, &lim, &used);
		off += used;
	} while (used && off < size);
	return 0;
}
