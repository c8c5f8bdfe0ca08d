/* script_regex.c: scr_regex_check, the bound put on script regexes before glibc's regcomp
 * (src/script/regex.c). What operators write must pass and compile; stacked repetition and
 * nested counted repetition that would make regcomp take exponential time or memory must be
 * refused at the right offset. */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "script/internal.h"

static int check(const char *pat, size_t *off, const char **why)
{
	return scr_regex_check(sy_str_make(pat, strlen(pat)), SCR_REGEX_MAX_ATOMS, off, why);
}

static void t_accepts_what_configs_use(void **state)
{
	static const char *ok[] = {
		"^sip:[0-9]{3,15}@", "(INVITE|BYE|CANCEL)", "^[[:alpha:]]+$", "\\.example\\.com$",
		"[]a]", "[^]a]{1,64}", "a{2,}", "^(sip|sips):[^@]{1,64}@(ex|ey)\\.com$", "(a*)*",
		"^4[0-9][0-9]$", "[[.-.]x]", "x{0,255}", "((ab){10}){10}", "", "|", "()",
	};
	size_t off;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		regex_t re;

		assert_int_equal(check(ok[i], &off, &why), 0);
		assert_int_equal(regcomp(&re, ok[i], REG_EXTENDED | REG_NOSUB | REG_ICASE), 0);
		regfree(&re);
	}
}

static void t_refuses_stacked_repetition(void **state)
{
	static const struct { const char *pat; size_t off; } bad[] = {
		{ "^sip:++++a", 6 }, { "a**", 2 }, { ".*?", 2 }, { "x{2}{3}", 4 }, { "a+{2}", 2 },
		{ "(ab)*+", 5 },
	};
	size_t off;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(check(bad[i].pat, &off, &why), EINVAL);
		assert_int_equal(off, bad[i].off);
		assert_non_null(strstr(why, "in a row"));
	}
}

static void t_refuses_blow_up(void **state)
{
	size_t off;
	const char *why = NULL;
	char deep[80];

	(void)state;
	assert_int_equal(check("(a{100}){300}", &off, &why), EINVAL);
	assert_int_equal(off, 8);
	assert_non_null(strstr(why, "too many"));
	assert_int_equal(check("((a{30}){30}){30}", &off, &why), EINVAL);
	assert_int_equal(check("a{1000,}b{1000}", &off, &why), 0);	/* 2002: linear is fine */
	assert_int_equal(check("(x{9}y{9}){999}", &off, &why), 0);	/* 17,982 */
	assert_int_equal(check("(x{9}y{9}){1200}", &off, &why), EINVAL);	/* 21,600 */
	memset(deep, '(', 40);
	deep[40] = 'a';
	memset(deep + 41, ')', 38);
	deep[79] = '\0';
	assert_int_equal(check(deep, &off, &why), EINVAL);
	assert_non_null(strstr(why, "deep"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_accepts_what_configs_use),
		cmocka_unit_test(t_refuses_stacked_repetition),
		cmocka_unit_test(t_refuses_blow_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
