/* tm_summary.c: tm_summary(), what `switchyard --trace` prints after the script: the
 * transactions of the calling worker, their branches still waiting for a final reply, the
 * zombies of completed ones, and one line per transaction/branch with its RFC 3261 §17 state.
 * Fake clock, no sockets (tm_wire.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "tm_wire.h"

/* tm_summary's counts, and its description in *text (free it) */
static struct tm_summary summary(char **text)
{
	struct tm_summary s;
	size_t n;
	FILE *f = open_memstream(text, &n);

	assert_non_null(f);
	tm_summary(&s, f);
	fclose(f);
	return s;
}

static void test_empty(void **state)
{
	struct tm_summary s;
	char *text;

	(void)state;
	s = summary(&text);
	assert_int_equal(s.trans, 0);
	assert_int_equal(s.branches, 0);
	assert_int_equal(s.zombies, 0);
	assert_string_equal(text, "");
	free(text);
}

static void test_invite_then_bye(void **state)
{
	char req[1024], *text;
	struct tm_summary s;
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKs1", "c-s1@x", NULL)), 0);
	assert_int_equal(count(UP_PORT, "SIP/2.0 100"), 1);
	s = summary(&text);
	assert_int_equal(s.trans, 1);
	assert_int_equal(s.branches, 1);
	assert_int_equal(s.zombies, 0);
	assert_string_equal(text,
			    "tm:   INVITE sip:bob@127.0.0.1:16200 (Call-ID c-s1@x): server "
			    "Proceeding, last reply 100 (local)\n"
			    "tm:     branch 0 Calling -> udp:127.0.0.1:16200, waiting\n");
	free(text);
	/* a 180: the branch moves on (§17.1.1.2) and still waits for its final reply */
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(reply_to((unsigned)k, 180, "tt"), 1);
	s = summary(&text);
	assert_int_equal(s.branches, 1);
	assert_non_null(strstr(text, "last reply 180\n"));
	assert_non_null(strstr(text, "branch 0 Proceeding -> udp:127.0.0.1:16200, waiting\n"));
	free(text);
	/* a BYE answered 200 from downstream only waits for J/K: a zombie, not a transaction */
	assert_int_equal(relay(request(req, "BYE", "z9hG4bKs2", "c-s2@x", ";tag=tt")), 0);
	assert_int_equal(reply_to((unsigned)find(DOWN_PORT, "BYE ", 0), 200, "tt"), 1);
	s = summary(&text);
	assert_int_equal(s.trans, 1);
	assert_int_equal(s.branches, 1);
	assert_int_equal(s.zombies, 1);
	assert_null(strstr(text, "BYE"));
	free(text);
	/* the INVITE's 486: answered, no branch waits any more */
	assert_int_equal(reply_to((unsigned)k, 486, "tt"), 1);
	s = summary(&text);
	assert_int_equal(s.branches, 0);
	free(text);
}

static void test_fork_counts_every_branch(void **state)
{
	static const char *const extra[] = { "sip:carol@127.0.0.1:16201" };
	char req[1024], *text;
	struct tm_summary s;

	(void)state;
	assert_int_equal(relay_fork(request(req, "INVITE", "z9hG4bKs3", "c-s3@x", NULL), extra, 1),
			 0);
	s = summary(&text);
	assert_int_equal(s.trans, 1);
	assert_int_equal(s.branches, 2);
	assert_non_null(strstr(text, "branch 1 Calling -> udp:127.0.0.1:16201, waiting\n"));
	free(text);
	/* counts only, no FILE; Timer A retransmissions (§17.1.1.2) change nothing that waits */
	advance(600);
	assert_int_equal(count(DOWN_PORT, "INVITE "), 2);	/* the first and one at T1 */
	tm_summary(&s, NULL);
	assert_int_equal(s.trans, 1);
	assert_int_equal(s.branches, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invite_then_bye, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_counts_every_branch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
