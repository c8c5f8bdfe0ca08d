/* mgmt_json.c: the strict JSON parser of POST /mi (RFC 8259) and the JSON string writer:
 * token trees, member lookup (escaped keys too), string decoding with surrogate pairs,
 * integers, and every kind of malformed input rejected (trailing commas, leading zeros, lone
 * surrogates, control characters, invalid UTF-8, nesting deeper than the limit, garbage after
 * the value); the writer's output parses back to the same bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mgmt/json.h"
#include "mgmt/mgmt.h"

static struct mgmt_json_tok T[256];

static int parse(const char *s, unsigned *n)
{
	return mgmt_json_parse(s, strlen(s), T, 256, n);
}

static void test_tree(void **state)
{
	const char *s = " {\"jsonrpc\":\"2.0\",\"method\":\"get_statistics\","
			"\"params\":{\"statistics\":[\"core:\",\"tm:\"]},\"id\":17} ";
	unsigned n;
	int p, l, id;

	(void)state;
	assert_int_equal(parse(s, &n), 0);
	assert_int_equal(T[0].type, MGMT_JSON_OBJECT);
	assert_int_equal(T[0].n, 4);
	assert_int_equal(T[0].end, n);
	p = mgmt_json_get(T, 0, "params");
	assert_true(p > 0);
	assert_int_equal(T[p].type, MGMT_JSON_OBJECT);
	l = mgmt_json_get(T, (unsigned)p, "statistics");
	assert_int_equal(T[l].type, MGMT_JSON_ARRAY);
	assert_int_equal(T[l].n, 2);
	assert_int_equal(T[l + 1].raw.len, 5);
	assert_memory_equal(T[l + 1].raw.s, "core:", 5);
	assert_int_equal(mgmt_json_next(T, (unsigned)l + 1, 0), (unsigned)l + 2);
	id = mgmt_json_get(T, 0, "id");
	{
		long long v;

		assert_int_equal(mgmt_json_int(&T[id], &v), 0);
		assert_int_equal(v, 17);
	}
	assert_int_equal(mgmt_json_get(T, 0, "nope"), -1);
	assert_int_equal(mgmt_json_get(T, (unsigned)l, "x"), -1);	/* not an object */
}

static void test_strings(void **state)
{
	char out[64];
	size_t n;
	unsigned nt;
	int v;

	(void)state;
	assert_int_equal(parse("{\"k\\u0065y\":\"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\"}", &nt),
			 0);
	v = mgmt_json_get(T, 0, "key");	/* an escaped key still matches */
	assert_true(v > 0);
	assert_int_equal(mgmt_json_str(&T[v], out, sizeof(out), &n), 0);
	assert_int_equal(n, strlen("a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80"));
	assert_memory_equal(out, "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80", n);
	assert_int_equal(mgmt_json_str(&T[v], out, 4, &n), ENOSPC);
	assert_int_equal(mgmt_json_str(&T[0], out, sizeof(out), &n), EINVAL);
	/* raw UTF-8 passes */
	assert_int_equal(parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", &nt), 0);
}

static void test_numbers(void **state)
{
	unsigned n;
	long long v;

	(void)state;
	assert_int_equal(parse("[0,-0,1.5,-2e10,3E+2,4e-1,9223372036854775807]", &n), 0);
	assert_int_equal(mgmt_json_int(&T[7], &v), 0);
	assert_true(v == 9223372036854775807LL);
	assert_int_equal(mgmt_json_int(&T[3], &v), EINVAL);
	assert_int_equal(parse("[9223372036854775808]", &n), 0);
	assert_int_equal(mgmt_json_int(&T[1], &v), EINVAL);
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "[1,]", "{\"a\":1,}", "[,1]", "{\"a\" 1}", "{a:1}", "{'a':1}",
		"01", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "Infinity", "tru", "nul",
		"\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
		"\"a\x01\"", "\"\t\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
		"\"\xff\"", "\"\xe2\x82\"", "1 2", "{} x", "[1]]", "{\"a\":}", "[1 2]",
	};
	unsigned i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &n) != EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	/* an embedded NUL is a control character in a string and garbage elsewhere */
	assert_int_equal(mgmt_json_parse("\"a\0\"", 4, T, 256, &n), EBADMSG);
	assert_int_equal(mgmt_json_parse("1\0", 2, T, 256, &n), EBADMSG);
}

static void test_depth_and_space(void **state)
{
	char deep[200];
	unsigned n, i;

	(void)state;
	for (i = 0; i < MGMT_JSON_MAX_DEPTH; i++)
		deep[i] = '[';
	for (i = 0; i < MGMT_JSON_MAX_DEPTH; i++)
		deep[MGMT_JSON_MAX_DEPTH + i] = ']';
	deep[2 * MGMT_JSON_MAX_DEPTH] = '\0';
	assert_int_equal(parse(deep, &n), 0);
	memmove(deep + 1, deep, strlen(deep) + 1);
	deep[0] = '[';
	strcat(deep, "]");
	assert_int_equal(parse(deep, &n), EBADMSG);
	assert_int_equal(mgmt_json_parse("[1,2,3]", 7, T, 3, &n), ENOSPC);
	assert_int_equal(mgmt_json_parse("[1,2,3]", 7, T, 4, &n), 0);
}

static void test_writer_roundtrip(void **state)
{
	static const char in[] = "q\"b\\s\x01\n\x7f\xc3\xa9\xff end";
	struct mgmt_buf b;
	char out[64];
	size_t n;
	unsigned nt;

	(void)state;
	mgmt_buf_init(&b, 1024);
	mgmt_buf_json_str(&b, sy_str_make(in, sizeof(in) - 1));
	assert_int_equal(b.err, 0);
	/* the invalid 0xff became U+FFFD, the rest is back byte for byte */
	assert_int_equal(mgmt_json_parse(b.s, b.len, T, 256, &nt), 0);
	assert_int_equal(mgmt_json_str(&T[0], out, sizeof(out), &n), 0);
	assert_int_equal(n, strlen("q\"b\\s\x01\n\x7f\xc3\xa9\xef\xbf\xbd end"));
	assert_memory_equal(out, "q\"b\\s\x01\n\x7f\xc3\xa9\xef\xbf\xbd end", n);
	mgmt_buf_free(&b);
	/* the cap: later writes are refused and the error sticks */
	mgmt_buf_init(&b, 8);
	mgmt_buf_puts(&b, "12345");
	mgmt_buf_puts(&b, "6789");
	assert_int_equal(b.err, EMSGSIZE);
	assert_int_equal(b.len, 5);
	mgmt_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_depth_and_space),
		cmocka_unit_test(test_writer_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
