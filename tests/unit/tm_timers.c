/* tm_timers.c: the transaction state machines of RFC 3261 §17 on a fake clock, no sockets:
 * requests and replies are parsed and fed to the tm hooks the way px_recv does, and every
 * message tm sends is captured (tm_send_fn) with its time. Checked: the retransmission
 * schedules (A: 0.5/1/2/4/8/16 s, E: 0.5/1/2/4/4 s, T2 in Proceeding, G), timers B and F at
 * 64*T1, H, D 32 s, K = T4, J = 64*T1, proxy Timer C, retransmissions answered with the last
 * reply, ACK to a non-2xx absorbed and re-sent downstream, CANCEL held until a provisional,
 * RFC 2543 matching, branch ids, overload, and that every transaction ends (tm_count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_wire.h"

static uint64_t t0;

/* ---- tests */

static void test_invite_timer_a_and_b(void **state)
{
	char req[1024];
	static const uint64_t at[] = { 0, 500, 1500, 3500, 7500, 15500, 31500 };
	unsigned i;

	(void)state;
	t0 = now_ms;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKa1", "c-a@x", NULL)), 0);
	/* 100 Trying upstream at once (§16.2 / §17.2.1), the INVITE downstream */
	assert_true(starts(0, "SIP/2.0 100 Trying"));
	assert_int_equal(sent[0].port, UP_PORT);
	assert_int_equal(find(DOWN_PORT, "INVITE ", 0), 1);
	assert_int_equal(tm_count(), 1);
	advance(32000 - 1);
	/* Timer A: 0.5, 1, 2, 4, 8, 16 s (doubling, §17.1.1.2) */
	assert_int_equal(count(DOWN_PORT, "INVITE "), 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(sent[find(DOWN_PORT, "INVITE ", i)].at - t0, at[i]);
	assert_int_equal(count(UP_PORT, "SIP/2.0 408"), 0);
	advance(1);
	/* Timer B (64*T1): the branch counts as 408, which goes upstream */
	assert_int_equal(count(UP_PORT, "SIP/2.0 408"), 1);
	assert_int_equal(sent[find(UP_PORT, "SIP/2.0 408", 0)].at - t0, 32000);
	/* no ACK: G retransmits the 408 until H, then the transaction is gone */
	advance(32000 + 10);
	assert_true(count(UP_PORT, "SIP/2.0 408") > 5);
	assert_int_equal(tm_count(), 0);
}

static void test_non_invite_timer_e_f_no_408(void **state)
{
	char req[1024];
	static const uint64_t at[] = { 0, 500, 1500, 3500, 7500, 11500, 15500 };
	unsigned i;

	(void)state;
	t0 = now_ms;
	assert_int_equal(relay(request(req, "OPTIONS", "z9hG4bKe1", "c-e@x", NULL)), 0);
	assert_int_equal(count(UP_PORT, "SIP/2.0 100"), 0);	/* no 100 to a non-INVITE */
	advance(32000 - 1);
	/* Timer E: 0.5, 1, 2, 4, then T2 = 4 s */
	for (i = 0; i < 7; i++)
		assert_int_equal(sent[find(DOWN_PORT, "OPTIONS ", i)].at - t0, at[i]);
	assert_int_equal(tm_count(), 1);
	advance(1);
	/* Timer F: nothing upstream (RFC 4320 §4.2) and the transaction ends */
	assert_int_equal(count(UP_PORT, "SIP/2.0"), 0);
	assert_int_equal(tm_count(), 0);
}

static void test_non_invite_proceeding_t2_then_k_and_j(void **state)
{
	char req[1024];
	unsigned before;
	int k;

	(void)state;
	t0 = now_ms;
	assert_int_equal(relay(request(req, "MESSAGE", "z9hG4bKk1", "c-k@x", NULL)), 0);
	k = find(DOWN_PORT, "MESSAGE ", 0);
	advance(100);
	assert_int_equal(reply_to((unsigned)k, 180, "tt"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 180"), 1);
	before = count(DOWN_PORT, "MESSAGE ");
	advance(400);	/* E was armed for +500 before the 180 */
	assert_int_equal(count(DOWN_PORT, "MESSAGE "), before + 1);
	/* in Proceeding E fires at T2 (§17.1.2.2) */
	advance(3999);
	assert_int_equal(count(DOWN_PORT, "MESSAGE "), before + 1);
	advance(1);
	assert_int_equal(count(DOWN_PORT, "MESSAGE "), before + 2);
	assert_int_equal(sent[find(DOWN_PORT, "MESSAGE ", before + 1)].at - t0, 4500);
	assert_int_equal(reply_to((unsigned)k, 200, "tt"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 1);
	/* a retransmission of the request is answered with the 200 again (Completed) */
	assert_int_equal(relay(req), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 2);
	/* K = T4 (5 s) on the branch, J = 64*T1 (32 s) on the server side */
	advance(31000);
	assert_int_equal(tm_count(), 1);
	advance(1100);
	assert_int_equal(tm_count(), 0);
}

static void test_invite_486_ack_timer_g_d(void **state)
{
	char req[1024], ack[1024];
	unsigned n486;
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKg1", "c-g@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(reply_to((unsigned)k, 180, "tg"), 1);
	t0 = now_ms;
	assert_int_equal(reply_to((unsigned)k, 486, "tg"), 1);
	/* relayed upstream, ACKed downstream on the same branch (§17.1.1.3) */
	assert_int_equal(count(UP_PORT, "SIP/2.0 486"), 1);
	assert_int_equal(count(DOWN_PORT, "ACK "), 1);
	assert_non_null(strstr(sent[find(DOWN_PORT, "ACK ", 0)].buf, "CSeq: 7 ACK"));
	assert_non_null(strstr(sent[find(DOWN_PORT, "ACK ", 0)].buf, "To: <sip:bob@127.0.0.1>;tag=tg"));
	/* Timer G: the 486 again at 0.5, 1.5, 3.5 s while no ACK comes */
	advance(3600);
	assert_int_equal(count(UP_PORT, "SIP/2.0 486"), 4);
	assert_int_equal(sent[find(UP_PORT, "SIP/2.0 486", 1)].at - t0, 500);
	assert_int_equal(sent[find(UP_PORT, "SIP/2.0 486", 3)].at - t0, 3500);
	/* a retransmitted 486 from downstream: our ACK again, nothing upstream (Timer D) */
	assert_int_equal(reply_to((unsigned)k, 486, "tg"), 1);
	assert_int_equal(count(DOWN_PORT, "ACK "), 2);
	assert_int_equal(count(UP_PORT, "SIP/2.0 486"), 4);
	/* the UAC's ACK ends the retransmissions and is not relayed */
	sprintf(ack,
		"ACK sip:bob@127.0.0.1:%d SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKg1\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=ft1\r\n"
		"To: <sip:bob@127.0.0.1>;tag=tg\r\nCall-ID: c-g@x\r\nCSeq: 7 ACK\r\n"
		"Content-Length: 0\r\n\r\n", DOWN_PORT, UP_PORT);
	assert_int_equal(relay(ack), 1);
	n486 = count(UP_PORT, "SIP/2.0 486");
	advance(10000);
	assert_int_equal(count(UP_PORT, "SIP/2.0 486"), n486);
	assert_int_equal(count(DOWN_PORT, "ACK "), 2);
	/* Timer D (32 s) keeps the branch to absorb 486 retransmissions */
	assert_int_equal(tm_count(), 1);
	advance(32000 - 13600 + 10);
	assert_int_equal(tm_count(), 0);
}

static void test_timer_c_cancel_and_late_2xx(void **state)
{
	char req[1024];
	int k;

	(void)state;
	tm_cfg.fr_inv_ms = 10000;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKc1", "c-c@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	advance(200);
	assert_int_equal(reply_to((unsigned)k, 180, "tc"), 1);
	t0 = now_ms;
	advance(5000);
	/* Timer C restarts on each provisional (§16.6 step 11) */
	assert_int_equal(reply_to((unsigned)k, 183, "tc"), 1);
	advance(9999);
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 0);
	advance(1);
	/* fired: CANCEL downstream (§16.8), 408 upstream */
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 1);
	assert_non_null(strstr(sent[find(DOWN_PORT, "CANCEL ", 0)].buf, "CSeq: 7 CANCEL"));
	assert_non_null(strstr(sent[find(DOWN_PORT, "CANCEL ", 0)].buf, "branch=z9hG4bKsy"));
	assert_int_equal(count(UP_PORT, "SIP/2.0 408"), 1);
	/* a 2xx arriving now still goes upstream */
	assert_int_equal(reply_to((unsigned)k, 200, "tc"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 1);
	advance(70000);
	assert_int_equal(tm_count(), 0);
}

static void test_retransmission_answered_with_last_reply(void **state)
{
	char req[1024];
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKr1", "c-r@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(relay(req), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 100"), 2);
	assert_int_equal(reply_to((unsigned)k, 180, "tr"), 1);
	assert_int_equal(relay(req), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 180"), 2);
	/* never relayed twice */
	assert_int_equal(count(DOWN_PORT, "INVITE "), 1);
	assert_int_equal(reply_to((unsigned)k, 200, "tr"), 1);
	advance(6000);	/* wt_timer default 5 s after the 2xx */
	assert_int_equal(tm_count(), 0);
}

static void test_cancel_held_until_provisional(void **state)
{
	char req[1024], can[1024];
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKh1", "c-h@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(relay(request(can, "CANCEL", "z9hG4bKh1", "c-h@x", NULL)), 1);
	/* (the 200 to the CANCEL goes out by px_reply) no branch answered: a local 487 */
	assert_int_equal(count(UP_PORT, "SIP/2.0 487"), 1);
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 0);
	assert_int_equal(reply_to((unsigned)k, 180, "th"), 1);
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 180"), 0);
	assert_int_equal(reply_to((unsigned)k, 487, "th"), 1);
	assert_int_equal(count(DOWN_PORT, "ACK "), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 487"), 1);
	advance(70000);
	assert_int_equal(tm_count(), 0);
}

static void test_rfc2543_matching(void **state)
{
	char req[1024], ack[1024];
	int k;

	(void)state;
	/* no magic cookie: matched on Request-URI, tags, Call-ID, CSeq and top Via (§17.2.3) */
	assert_int_equal(relay(request(req, "INVITE", "old1", "c-2543@x", NULL)), 0);
	assert_int_equal(relay(req), 1);
	assert_int_equal(count(DOWN_PORT, "INVITE "), 1);
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(reply_to((unsigned)k, 404, "t4"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 404"), 1);
	assert_int_equal(relay(request(ack, "ACK", "old1", "c-2543@x", ";tag=t4")), 1);
	/* another Call-ID is another transaction */
	assert_int_equal(relay(request(req, "INVITE", "old1", "c-2543-b@x", NULL)), 0);
	assert_int_equal(count(DOWN_PORT, "INVITE "), 2);
	advance(70000);
	assert_int_equal(tm_count(), 0);
}

static void test_branch_id_roundtrip(void **state)
{
	struct tm_trans *t;
	char id[96];
	size_t len;
	int w;
	unsigned slot, idx;
	uint32_t gen;

	(void)state;
	t = tm_trans_new();
	assert_non_null(t);
	assert_int_equal(tm_branch_id(t, 3, id, sizeof(id), &len), 0);
	assert_int_equal(strncmp(id, "z9hG4bK", 7), 0);
	assert_int_equal(tm_branch_parse(sy_str_make(id, len), &w, &slot, &gen, &idx), 0);
	assert_int_equal(w, 0);
	assert_int_equal(slot, t->slot);
	assert_int_equal(gen, t->gen);
	assert_int_equal(idx, 3);
	assert_ptr_equal(tm_by_slot(slot, gen), t);
	assert_null(tm_by_slot(slot, gen + 1));
	/* not ours, or damaged */
	assert_int_equal(tm_branch_parse(SY_STR("z9hG4bKabc"), &w, &slot, &gen, &idx), ENOENT);
	id[len - 1] = 'x';
	assert_int_equal(tm_branch_parse(sy_str_make(id, len), &w, &slot, &gen, &idx), ENOENT);
	assert_int_equal(tm_branch_parse(sy_str_make(id, len - 2), &w, &slot, &gen, &idx),
			 ENOENT);
	tm_trans_free(t);
	assert_null(tm_by_slot(slot, gen));
	assert_int_equal(tm_count(), 0);
}

static void test_overload_503(void **state)
{
	char req[1024];

	(void)state;
	tm_cfg.max_transactions = 1;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKo1", "c-o1@x", NULL)), 0);
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKo2", "c-o2@x", NULL)), -EBUSY);
	assert_int_equal(count(UP_PORT, "SIP/2.0 503"), 0);	/* px_reply, not tm_send_fn */
	assert_int_equal(count(DOWN_PORT, "INVITE "), 1);
	assert_int_equal(tm_count(), 1);
	advance(70000);
	assert_int_equal(tm_count(), 0);
}

static void test_stale_reply_not_ours(void **state)
{
	char req[1024];
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKs1", "c-s@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(reply_to((unsigned)k, 200, "ts"), 1);
	advance(6000);
	assert_int_equal(tm_count(), 0);
	/* a 2xx retransmission after the transaction: left to the stateless path (0), a late
	 * non-2xx is absorbed (1) */
	assert_int_equal(reply_to((unsigned)k, 200, "ts"), 0);
	assert_int_equal(reply_to((unsigned)k, 486, "ts"), 1);
}

static void test_no_scratch_memory_still_ends(void **state)
{
	struct sy_arena *a = sy_worker_arena();
	char req[1024];
	size_t used;
	int k;

	(void)state;
	tm_cfg.fr_inv_ms = 1000;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKm1", "c-m@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(reply_to((unsigned)k, 180, "tm"), 1);
	/* Timer C fires with no scratch memory: neither the CANCEL nor the local 408 can be
	 * built (each logged); the transaction must end all the same */
	used = a->used;
	a->used = a->cap;
	advance(1000);
	a->used = used;
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 0);
	assert_int_equal(count(UP_PORT, "SIP/2.0 408"), 0);
	advance(70000);
	assert_int_equal(tm_count(), 0);
}

static void test_late_provisional_after_timeout_is_cancelled(void **state)
{
	char req[1024];
	int k;

	(void)state;
	tm_cfg.fr_ms = 2000;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKl1", "c-l@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	advance(2000);
	assert_int_equal(count(UP_PORT, "SIP/2.0 408"), 1);
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 0);	/* nothing to cancel yet */
	/* the callee wakes up and rings: it must be stopped, the 180 goes nowhere */
	assert_int_equal(reply_to((unsigned)k, 180, "tl"), 1);
	assert_int_equal(count(DOWN_PORT, "CANCEL "), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 180"), 0);
	assert_int_equal(reply_to((unsigned)k, 487, "tl"), 1);
	assert_int_equal(count(DOWN_PORT, "ACK "), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 487"), 0);
	advance(70000);
	assert_int_equal(tm_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_invite_timer_a_and_b, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_invite_timer_e_f_no_408, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_invite_proceeding_t2_then_k_and_j, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_invite_486_ack_timer_g_d, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_c_cancel_and_late_2xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmission_answered_with_last_reply, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel_held_until_provisional, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc2543_matching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_branch_id_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overload_503, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_reply_not_ours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_scratch_memory_still_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_provisional_after_timeout_is_cancelled,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
