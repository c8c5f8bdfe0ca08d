/* fuzz_mgmt_json.c: the strict JSON parser and the MI on arbitrary bytes. A text that parses
 * has a consistent token tree, each string decodes to valid UTF-8 no longer than its raw
 * form and survives the writer's escaping unchanged; the MI answers every input that is not
 * a notification with a JSON-RPC object that itself parses. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/json.h"
#include "mgmt/mgmt.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

static void check_string(const struct mgmt_json_tok *t)
{
	char *d = malloc(t->raw.len + 1), *d2;
	size_t n, n2, i;
	struct mgmt_buf b;
	struct mgmt_json_tok t2[2];
	unsigned nt;

	CHECK(d != NULL);
	CHECK(mgmt_json_str(t, d, t->raw.len, &n) == 0 && n <= t->raw.len);
	for (i = 0; i < n;) {
		size_t k = mgmt_utf8_len((const unsigned char *)d + i, n - i);

		CHECK(k > 0);
		i += k;
	}
	mgmt_buf_init(&b, 1 << 24);
	mgmt_buf_json_str(&b, sy_str_make(d, n));
	CHECK(b.err == 0);
	CHECK(mgmt_json_parse(b.s, b.len, t2, 2, &nt) == 0 && nt == 1);
	d2 = malloc(t2[0].raw.len + 1);
	CHECK(d2 != NULL);
	CHECK(mgmt_json_str(&t2[0], d2, t2[0].raw.len, &n2) == 0);
	CHECK(n2 == n && memcmp(d, d2, n) == 0);
	free(d2);
	free(d);
	mgmt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	unsigned cap = (unsigned)(size + 1), n, i;	/* a token per byte at most */
	struct mgmt_json_tok *t = malloc(cap * sizeof(*t));
	struct mgmt_buf out;
	int rc;

	CHECK(t != NULL);
	rc = mgmt_json_parse(s, size, t, cap, &n);
	CHECK(rc == 0 || rc == EBADMSG);	/* the cap is always enough */
	if (rc == 0)	/* the MI's cap (len / 2 + 2) holds any valid text */
		CHECK(n <= size / 2 + 2);
	if (rc == 0) {
		CHECK(n >= 1 && t[0].end == n);
		for (i = 0; i < n; i++) {
			CHECK(t[i].end > i && t[i].end <= n);
			CHECK(t[i].raw.s >= s && t[i].raw.s + t[i].raw.len <= s + size);
			if (t[i].type == MGMT_JSON_STRING)
				check_string(&t[i]);
		}
	}
	free(t);
	mgmt_buf_init(&out, 1 << 24);
	rc = mgmt_mi_handle(s, size, &out);
	if (rc != ENODATA) {
		struct mgmt_json_tok *t2 = malloc((out.len / 2 + 2) * sizeof(*t2));

		CHECK(rc == 0 && t2 != NULL && out.err == 0);
		CHECK(mgmt_json_parse(out.s, out.len, t2, (unsigned)(out.len / 2 + 2), &n) == 0);
		CHECK(t2[0].type == MGMT_JSON_OBJECT);
		CHECK(mgmt_json_get(t2, 0, "result") >= 0 || mgmt_json_get(t2, 0, "error") >= 0);
		free(t2);
	}
	mgmt_buf_free(&out);
	return 0;
}
