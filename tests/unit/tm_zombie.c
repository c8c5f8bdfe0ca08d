/* tm_zombie.c: transactions that only wait (Timer J, K, D, I, the Accepted wait) shrink to a
 * compact record (src/tm/zombie.c). On a fake clock, no sockets: after the compaction a
 * retransmitted request still gets the last reply (§17.2.1, §17.2.2), a retransmitted final
 * from downstream is swallowed (K) or ACKed again (D, §17.1.1.2), a retransmitted 2xx of an
 * INVITE still goes upstream; the full transaction and its memory blocks are back in the
 * free lists, and the record ends when the last timer of the transaction would have fired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_wire.h"

static unsigned free_trans(void)
{
	const struct tm_trans *t;
	unsigned n = 0;

	for (t = tm_table()->free; t; t = t->next_free)
		n++;
	return n;
}

static unsigned free_blocks(void)
{
	const struct tm_block *bk;
	unsigned n = 0, c;

	for (c = 0; c < 2; c++)
		for (bk = tm_table()->blocks[c]; bk; bk = bk->next)
			n++;
	return n;
}

static unsigned free_zombies(void)
{
	const struct tm_zombie *z;
	unsigned n = 0, c;

	for (c = 0; c < TM_ZCLASSES; c++)
		for (z = tm_table()->zfree[c]; z; z = z->hnext)
			n++;
	return n;
}

/* the request text tm sent for sent[k], to build an upstream retransmission of our reply */
static const char *last_up(const char *prefix)
{
	unsigned n = count(UP_PORT, prefix);

	return n ? sent[find(UP_PORT, prefix, n - 1)].buf : "";
}

static void test_bye_in_j_and_k(void **state)
{
	char req[1024], first200[2048];
	unsigned ft, fb, up, down;
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "BYE", "z9hG4bKz1", "c-z1@x", ";tag=tt")), 0);
	k = find(DOWN_PORT, "BYE ", 0);
	ft = free_trans();
	fb = free_blocks();
	assert_int_equal(reply_to((unsigned)k, 200, "tt"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 1);
	strcpy(first200, last_up("SIP/2.0 200"));
	/* J (server) and K (branch) are all that is left: the full transaction is back in the
	 * pool, its blocks in the free lists, a zombie holds its place */
	assert_int_equal(tm_count(), 1);
	assert_int_equal(tm_table()->nzombies, 1);
	assert_int_equal(free_trans(), ft + 1);
	assert_true(free_blocks() > fb);
	/* a retransmitted 200 from downstream while K runs: swallowed, nothing anywhere */
	advance(1000);
	up = count(UP_PORT, "");
	down = count(DOWN_PORT, "");
	assert_int_equal(reply_to((unsigned)k, 200, "tt"), 1);
	assert_int_equal(count(UP_PORT, ""), up);
	assert_int_equal(count(DOWN_PORT, ""), down);
	/* a retransmitted BYE in J: the same 200 again, byte for byte, and no new branch */
	advance(9000);
	assert_int_equal(relay(req), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 2);
	assert_string_equal(last_up("SIP/2.0 200"), first200);
	assert_int_equal(count(DOWN_PORT, "BYE "), 1);
	/* after K the final is still swallowed (the transaction lives on in J) */
	assert_int_equal(reply_to((unsigned)k, 200, "tt"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 2);
	/* J is 64*T1 from the 200: the record ends then, into its free list */
	advance(32000 - 10000 - 1);
	assert_int_equal(tm_count(), 1);
	assert_int_equal(relay(req), 1);
	advance(1);
	assert_int_equal(tm_count(), 0);
	assert_int_equal(tm_table()->nzombies, 0);
	assert_int_equal(free_zombies(), 1);
	/* gone now: a late 200 is left to the stateless path, the BYE is a new request */
	assert_int_equal(reply_to((unsigned)k, 200, "tt"), 0);
	assert_int_equal(relay(req), 0);
	assert_int_equal(count(DOWN_PORT, "BYE "), 2);
	/* and its zombie is reused for the next one */
	assert_int_equal(reply_to((unsigned)find(DOWN_PORT, "BYE ", 1), 200, "tt"), 1);
	assert_int_equal(free_zombies(), 0);
}

static void test_invite_486_d_and_i(void **state)
{
	char req[1024], ack[1024];
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKz2", "c-z2@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(reply_to((unsigned)k, 180, "td"), 1);
	assert_int_equal(reply_to((unsigned)k, 486, "td"), 1);
	assert_int_equal(count(DOWN_PORT, "ACK "), 1);
	/* Completed with Timer G: waiting for the ACK is work, no compaction yet */
	assert_int_equal(tm_table()->nzombies, 0);
	sprintf(ack,
		"ACK sip:bob@127.0.0.1:%d SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKz2\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=ft1\r\n"
		"To: <sip:bob@127.0.0.1>;tag=td\r\nCall-ID: c-z2@x\r\nCSeq: 7 ACK\r\n"
		"Content-Length: 0\r\n\r\n", DOWN_PORT, UP_PORT);
	advance(100);
	assert_int_equal(relay(ack), 1);
	/* Confirmed (I) and the branch in D: compacted */
	assert_int_equal(tm_table()->nzombies, 1);
	assert_int_equal(tm_count(), 1);
	/* a retransmitted 486: our ACK again downstream, nothing upstream (Timer D) */
	advance(1000);
	assert_int_equal(reply_to((unsigned)k, 486, "td"), 1);
	assert_int_equal(count(DOWN_PORT, "ACK "), 2);
	assert_string_equal(sent[find(DOWN_PORT, "ACK ", 1)].buf,
			    sent[find(DOWN_PORT, "ACK ", 0)].buf);
	assert_int_equal(count(UP_PORT, "SIP/2.0 486"), 1);
	/* the ACK again is absorbed, a retransmitted INVITE gets the 486 */
	assert_int_equal(relay(ack), 1);
	assert_int_equal(relay(req), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 486"), 2);
	assert_int_equal(count(DOWN_PORT, "INVITE "), 1);
	/* D (32 s from the 486) outlasts I (T4): the record lives until then */
	advance(32000 - 1100 - 2);
	assert_int_equal(tm_count(), 1);
	advance(2);
	assert_int_equal(tm_count(), 0);
	assert_int_equal(free_zombies(), 1);
}

static void test_invite_2xx_accepted(void **state)
{
	static struct in ack;
	char req[1024], text[1024];
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "INVITE", "z9hG4bKz3", "c-z3@x", NULL)), 0);
	k = find(DOWN_PORT, "INVITE ", 0);
	assert_int_equal(reply_to((unsigned)k, 200, "ta"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 1);
	/* Accepted (RFC 6026): the only branch is answered, so nothing but waiting is left */
	assert_int_equal(tm_table()->nzombies, 1);
	/* a retransmitted 2xx from the callee is relayed again, our Via off (§16.7 step 4) */
	assert_int_equal(reply_to((unsigned)k, 200, "ta"), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 2);
	assert_null(strstr(last_up("SIP/2.0 200"), "z9hG4bKsy"));
	assert_non_null(strstr(last_up("SIP/2.0 200"), "branch=z9hG4bKz3"));
	/* a retransmitted INVITE gets the 200 again and is not relayed */
	assert_int_equal(relay(req), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), 3);
	assert_int_equal(count(DOWN_PORT, "INVITE "), 1);
	/* the ACK to the 2xx is not ours: it goes to the script (0) */
	sprintf(text,
		"ACK sip:bob@127.0.0.1:%d SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKz3\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=ft1\r\n"
		"To: <sip:bob@127.0.0.1>;tag=ta\r\nCall-ID: c-z3@x\r\nCSeq: 7 ACK\r\n"
		"Content-Length: 0\r\n\r\n", DOWN_PORT, UP_PORT);
	in_parse(&ack, text, UP_PORT);
	assert_int_equal(tm_request_in(&ack.ctx), 0);
	assert_int_equal(tm_check_trans(&ack.ctx), 1);
	/* the wait after a 2xx is wt_timer (5 s) */
	advance(5000 - 1);
	assert_int_equal(tm_count(), 1);
	advance(1);
	assert_int_equal(tm_count(), 0);
}

static void test_local_reply_compacted(void **state)
{
	static struct in im;
	char req[1024];
	unsigned ft;

	(void)state;
	ft = free_trans();
	request(req, "MESSAGE", "z9hG4bKz4", "c-z4@x", NULL);
	in_parse(&im, req, UP_PORT);
	assert_int_equal(tm_request_in(&im.ctx), 0);
	assert_int_equal(tm_reply(&im.ctx, 404, SY_STR("Not Here")), 0);
	assert_int_equal(count(UP_PORT, "SIP/2.0 404 Not Here"), 1);
	/* still a full transaction while the route runs (ctx->host) ... */
	assert_int_equal(tm_table()->nzombies, 0);
	tm_request_done(&im.ctx);
	/* ... and a zombie in J once it is over */
	assert_null(im.ctx.host);
	assert_int_equal(tm_table()->nzombies, 1);
	assert_true(free_trans() >= ft);
	advance(20000);
	assert_int_equal(relay(req), 1);
	assert_int_equal(count(UP_PORT, "SIP/2.0 404 Not Here"), 2);
	advance(12000);
	assert_int_equal(tm_count(), 0);
}

static void test_worker_fini_frees_zombies(void **state)
{
	char req[1024];
	int k;

	(void)state;
	assert_int_equal(relay(request(req, "OPTIONS", "z9hG4bKz5", "c-z5@x", NULL)), 0);
	k = find(DOWN_PORT, "OPTIONS ", 0);
	assert_int_equal(reply_to((unsigned)k, 200, "to"), 1);
	assert_int_equal(tm_table()->nzombies, 1);
	assert_int_equal(tm_count(), 1);
	/* teardown's tm_worker_fini frees it (the sanitizer build checks for leaks) */
	tm_worker_fini();
	assert_int_equal(tm_count(), 0);
}

static void test_many_zombies_one_slot(void **state)
{
	char req[100][512], br[32], cid[32];
	unsigned i, up;
	int k[100];

	(void)state;
	/* one after the other: each BYE is compacted at its 200, so the next one gets the same
	 * pool slot with the next generation; every zombie must still be told apart */
	for (i = 0; i < 100; i++) {
		sprintf(br, "z9hG4bKm%u", i);
		sprintf(cid, "c-m%u@x", i);
		assert_int_equal(relay(request(req[i], "BYE", br, cid, ";tag=tm")), 0);
		k[i] = find(DOWN_PORT, "BYE ", i);
		assert_int_equal(reply_to((unsigned)k[i], 200, "tm"), 1);
	}
	assert_int_equal(tm_table()->nzombies, 100);
	assert_int_equal(tm_count(), 100);
	assert_int_equal(free_trans(), TM_CHUNK);	/* one full transaction at a time */
	up = count(UP_PORT, "SIP/2.0 200");
	for (i = 0; i < 100; i++) {
		/* swallowed by its own zombie (not left to the stateless path: 0) */
		assert_int_equal(reply_to((unsigned)k[i], 200, "tm"), 1);
		assert_int_equal(relay(req[i]), 1);
		sprintf(cid, "Call-ID: c-m%u@x", i);
		assert_non_null(strstr(last_up("SIP/2.0 200"), cid));
	}
	assert_int_equal(count(UP_PORT, "SIP/2.0 200"), up + 100);
	assert_int_equal(count(DOWN_PORT, "BYE "), 100);
	advance(32000);
	assert_int_equal(tm_count(), 0);
	assert_int_equal(free_zombies(), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bye_in_j_and_k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invite_486_d_and_i, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invite_2xx_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_reply_compacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_fini_frees_zombies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_zombies_one_slot, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
