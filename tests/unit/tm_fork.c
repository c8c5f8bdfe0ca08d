/* tm_fork.c: the response context of a forking proxy (RFC 3261 §16.7, §16.10) on a fake
 * clock: two parallel branches (16200 and 16201), the choice of the final reply (lowest class,
 * preferred 4xx, received before local, 503 -> 500, 401/407 challenges merged), 6xx and 2xx
 * cancelling the other branches, every 2xx relayed, 100 not relayed, CANCEL from upstream on a
 * fork, and a non-INVITE fork where a timed-out branch never becomes the answer (RFC 4320). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_wire.h"

#define B_PORT 16201
static const char *const second[] = { "sip:bob@127.0.0.1:16201" };

/* an INVITE forked to DOWN_PORT and B_PORT; *a, *b: indexes of the two requests in sent[] */
static void fork2(const char *method, const char *branch, int *a, int *b)
{
	char req[1024];

	assert_int_equal(relay_fork(request(req, method, branch, branch, NULL), second, 1), 0);
	*a = find(DOWN_PORT, method, 0);
	*b = find(B_PORT, method, 0);
	assert_true(*a >= 0 && *b >= 0);
}

static unsigned finals_up(void)
{
	unsigned k, n = 0;

	for (k = 0; k < nsent; k++)
		n += sent[k].port == UP_PORT && strncmp(sent[k].buf, "SIP/2.0 1", 9) != 0;
	return n;
}

static void test_lowest_class_wins(void **state)
{
	int a, b;

	(void)state;
	fork2("INVITE", "z9hG4bKf1", &a, &b);
	assert_int_equal(reply_to((unsigned)a, 503, "ta"), 1);
	assert_int_equal(finals_up(), 0);	/* waits for every branch */
	assert_int_equal(reply_to((unsigned)b, 404, "tb"), 1);
	assert_int_equal(finals_up(), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 404"), 1);
	assert_int_equal(count(DOWN_PORT, "ACK "), 1);
	assert_int_equal(count(B_PORT, "ACK "), 1);
	advance(40000);
	assert_int_equal(tm_count(), 0);
}

static void test_503_becomes_500(void **state)
{
	int a, b, k;

	(void)state;
	fork2("INVITE", "z9hG4bKf2", &a, &b);
	assert_int_equal(reply_to((unsigned)a, 503, "ta"), 1);
	assert_int_equal(reply_to((unsigned)b, 503, "tb"), 1);
	k = find(UP_PORT, "SIP/2.0 5", 0);
	assert_true(k >= 0);
	assert_true(starts((unsigned)k, "SIP/2.0 500 "));
	/* the rest of the reply is the downstream one (its To tag), our Via gone */
	assert_non_null(strstr(sent[k].buf, ";tag=ta"));
	assert_null(strstr(sent[k].buf, "z9hG4bKsy"));
}

static void test_401_407_merged(void **state)
{
	int a, b, k;

	(void)state;
	fork2("INVITE", "z9hG4bKf3", &a, &b);
	assert_int_equal(reply_hdrs((unsigned)a, 407, "ta",
				    "Proxy-Authenticate: Digest realm=\"a\", nonce=\"1\"\r\n"), 1);
	assert_int_equal(reply_hdrs((unsigned)b, 401, "tb",
				    "WWW-Authenticate: Digest realm=\"b\", nonce=\"2\"\r\n"), 1);
	assert_int_equal(finals_up(), 1);
	k = find(UP_PORT, "SIP/2.0 40", 0);
	assert_true(k >= 0);
	assert_non_null(strstr(sent[k].buf, "Proxy-Authenticate: Digest realm=\"a\""));
	assert_non_null(strstr(sent[k].buf, "WWW-Authenticate: Digest realm=\"b\""));
}

static void test_preferred_4xx(void **state)
{
	int a, b;

	(void)state;
	fork2("INVITE", "z9hG4bKf4", &a, &b);
	assert_int_equal(reply_to((unsigned)a, 404, "ta"), 1);
	assert_int_equal(reply_to((unsigned)b, 484, "tb"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 484"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 404"), 0);
}

static void test_6xx_ends_fork_and_cancels(void **state)
{
	int a, b;

	(void)state;
	fork2("INVITE", "z9hG4bKf5", &a, &b);
	assert_int_equal(reply_to((unsigned)a, 100, NULL), 1);
	assert_int_equal(reply_to((unsigned)b, 180, "tb"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 180"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 100"), 1);	/* ours only: 100 not relayed */
	assert_int_equal(reply_to((unsigned)a, 603, "ta"), 1);
	/* at once, without waiting for B, which gets a CANCEL */
	assert_int_equal(count(UP_PORT, "SIP/2.0 603"), 1);
	assert_int_equal(count(B_PORT, "CANCEL "), 1);
	assert_int_equal(reply_to((unsigned)b, 487, "tb"), 1);
	assert_int_equal(count(B_PORT, "ACK "), 1);
	assert_int_equal(finals_up(), 1);
	advance(40000);
	assert_int_equal(tm_count(), 0);
}

static void test_2xx_relayed_and_cancels_others(void **state)
{
	int a, b;

	(void)state;
	fork2("INVITE", "z9hG4bKf6", &a, &b);
	assert_int_equal(reply_to((unsigned)a, 180, "ta"), 1);
	assert_int_equal(reply_to((unsigned)b, 200, "tb"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 1);
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 1);
	assert_int_equal(reply_to((unsigned)a, 200, "ta"), 1);
	/* every 2xx goes upstream (§16.7 step 5), even after the CANCEL */
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 2);
	/* and a retransmitted 2xx too */
	assert_int_equal(reply_to((unsigned)b, 200, "tb"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 3);
	advance(40000);
	assert_int_equal(tm_count(), 0);
}

static void test_upstream_cancel_on_fork(void **state)
{
	char can[1024];
	int a, b;

	(void)state;
	fork2("INVITE", "z9hG4bKf7", &a, &b);
	assert_int_equal(reply_to((unsigned)a, 180, "ta"), 1);
	assert_int_equal(relay(request(can, "CANCEL", "z9hG4bKf7", "z9hG4bKf7", NULL)), 1);
	/* A had a provisional: CANCEL now; B had none: held, counts as 487 already */
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 1);
	assert_int_equal(count(B_PORT, "CANCEL "), 0);
	assert_int_equal(finals_up(), 0);
	assert_int_equal(reply_to((unsigned)a, 487, "ta"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 487"), 1);
	assert_non_null(strstr(sent[find(UP_PORT, "SIP/2.0 487", 0)].buf, ";tag=ta"));
	/* B wakes up: it gets its CANCEL, its 180 goes nowhere */
	assert_int_equal(reply_to((unsigned)b, 180, "tb"), 1);
	assert_int_equal(count(B_PORT, "CANCEL "), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 180"), 1);
	assert_int_equal(reply_to((unsigned)b, 487, "tb"), 1);
	assert_int_equal(finals_up(), 1);
	advance(40000);
	assert_int_equal(tm_count(), 0);
}

static void test_received_beats_local_timeout(void **state)
{
	int a, b;

	(void)state;
	tm_cfg.fr_ms = 2000;
	fork2("INVITE", "z9hG4bKf8", &a, &b);
	assert_int_equal(reply_to((unsigned)a, 486, "ta"), 1);
	advance(1999);
	assert_int_equal(finals_up(), 0);
	advance(1);
	/* B timed out (a local 408); A's received 486 is the answer */
	assert_int_equal(count(UP_PORT, "SIP/2.0 486"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 408"), 0);
}

static void test_non_invite_timeout_never_the_answer(void **state)
{
	int a, b;

	(void)state;
	tm_cfg.fr_ms = 2000;
	fork2("OPTIONS", "z9hG4bKf9", &a, &b);
	assert_int_equal(reply_to((unsigned)a, 500, "ta"), 1);
	advance(2000);
	assert_int_equal(count(UP_PORT, "SIP/2.0 500"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 408"), 0);
	advance(40000);
	assert_int_equal(tm_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lowest_class_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_503_becomes_500, setup, teardown),
		cmocka_unit_test_setup_teardown(test_401_407_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preferred_4xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_6xx_ends_fork_and_cancels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_2xx_relayed_and_cancels_others, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_upstream_cancel_on_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_received_beats_local_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_invite_timeout_never_the_answer, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
