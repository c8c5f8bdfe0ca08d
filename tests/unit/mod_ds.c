/* mod_ds.c: the dispatcher's logic without a network: the list_file line parser, the failover
 * record codec, each algorithm's choice, hash stability, the weight distribution over many
 * picks, failover order (ds_next_dst's candidates), state changes from ds_mark_dst and from
 * ping results, ds_is_in_list, and the prober's reply matching. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "mod/dispatcher.h"
#include "tp/tp.h"

static void add(unsigned set, const char *uri, unsigned weight, int prio)
{
	struct ds_new nd;
	const char *why = NULL;

	memset(&nd, 0, sizeof(nd));
	nd.setid = set;
	nd.uri = sy_cstr(uri);
	nd.weight = weight;
	nd.priority = prio;
	assert_int_equal(ds_table_add(&nd, &why), 0);
}

/* set 1: three equal destinations; set 2: weights 10/30/60; set 3: priorities 5/20/10 */
static int setup(void **state)
{
	(void)state;
	ds_cfg.probing_threshold = 3;
	add(1, "sip:10.0.0.1:5060", 1, 0);
	add(1, "sip:10.0.0.2:5060", 1, 0);
	add(1, "sip:10.0.0.3:5060", 1, 0);
	add(2, "sip:10.0.1.1", 10, 0);
	add(2, "sip:10.0.1.2", 30, 0);
	add(2, "sip:10.0.1.3", 60, 0);
	add(3, "sip:10.0.2.1:5070", 1, 5);
	add(3, "sip:10.0.2.2:5071;transport=tcp", 1, 20);
	add(3, "sip:[::1]:5072", 1, 10);
	assert_int_equal(ds_table_commit(), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ds_table_free();
	return 0;
}

/* every destination active again after a test that changed states */
static void reset_states(void)
{
	unsigned i;

	for (i = 0; i < ds_dest_count(); i++) {
		atomic_store(&ds_dest_get(i)->state, 0);
		atomic_store(&ds_dest_get(i)->fails, 0);
		atomic_store(&ds_dest_get(i)->pending, 0);
		atomic_store(&ds_dest_get(i)->inflight, 0);
	}
}

static unsigned pick(unsigned set, int alg, unsigned flags, const struct ds_keys *k)
{
	struct ds_failover f;

	assert_int_equal(ds_select(set, alg, flags, 0, k, &f), 0);
	return f.last;
}

static void test_parse_line(void **state)
{
	struct ds_line l;
	const char *why = NULL;

	(void)state;
	assert_int_equal(ds_parse_line(SY_STR("2 sip:1.2.3.4:5080 3 -7 weight=40;duid=x\n"), &l,
				       &why), 0);
	assert_int_equal(l.setid, 2);
	assert_true(sy_str_eq(l.uri, SY_STR("sip:1.2.3.4:5080")));
	assert_int_equal(l.flags, 3);
	assert_int_equal(l.priority, -7);
	assert_int_equal(l.weight, 40);
	assert_true(sy_str_eq(l.attrs, SY_STR("weight=40;duid=x")));
	assert_int_equal(ds_parse_line(SY_STR("1\tsip:a.example # gw\r\n"), &l, &why), 0);
	assert_int_equal(l.weight, 1);
	assert_int_equal(l.flags, 0);
	assert_int_equal(ds_parse_line(SY_STR("   # comment"), &l, &why), ENOENT);
	assert_int_equal(ds_parse_line(SY_STR(""), &l, &why), ENOENT);
	assert_int_equal(ds_parse_line(SY_STR("x sip:a"), &l, &why), EINVAL);
	assert_string_equal(why, "set id must be a number");
	assert_int_equal(ds_parse_line(SY_STR("1"), &l, &why), EINVAL);
	assert_int_equal(ds_parse_line(SY_STR("1 sip:a 1x"), &l, &why), EINVAL);
	assert_int_equal(ds_parse_line(SY_STR("1 sip:a 0 p"), &l, &why), EINVAL);
	assert_int_equal(ds_parse_line(SY_STR("1 sip:a 0 0 weight=x"), &l, &why), EINVAL);
	assert_int_equal(ds_parse_line(SY_STR("1 sip:a 0 0 a b"), &l, &why), EINVAL);
	assert_int_equal(ds_parse_line(SY_STR("99999999999 sip:a"), &l, &why), EINVAL);
}

static void test_failover_codec(void **state)
{
	struct ds_failover f, g;
	char buf[512];
	size_t len;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.setid = 4000000000u;
	f.flags = DS_F_FAILOVER | DS_F_DOMAIN;
	f.last = 7;
	f.n = 3;
	f.cand[0] = 2;
	f.cand[1] = 0;
	f.cand[2] = 4095;
	assert_int_equal(ds_failover_encode(&f, buf, sizeof(buf), &len), 0);
	assert_int_equal(ds_failover_decode(sy_str_make(buf, len), &g), 0);
	assert_memory_equal(&f, &g, sizeof(f));
	assert_int_equal(ds_failover_encode(&f, buf, 8, &len), ENOSPC);
	/* anything the encoder would not write is refused */
	assert_int_equal(ds_failover_decode(SY_STR("1;1;2"), &g), EINVAL);
	assert_int_equal(ds_failover_decode(SY_STR("1;1;2;3"), &g), EINVAL);
	assert_int_equal(ds_failover_decode(SY_STR("1;x;2;"), &g), EINVAL);
	assert_int_equal(ds_failover_decode(SY_STR(";;;"), &g), EINVAL);
	assert_int_equal(ds_failover_decode(SY_STR("1;1;2;,"), &g), EINVAL);
	assert_int_equal(ds_failover_decode(SY_STR("1;1;2;3,"), &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(ds_failover_decode(SY_NULL_STR, &g), EINVAL);
}

static void test_hash_callid_stable(void **state)
{
	struct ds_keys k;
	unsigned hits[3] = { 0, 0, 0 }, i;
	char cid[32];

	(void)state;
	reset_states();
	memset(&k, 0, sizeof(k));
	/* the same Call-ID always lands on the same destination, in this run and any other:
	 * FNV-1a of "abc@host" is fixed */
	k.callid = SY_STR("abc@host");
	assert_int_equal(ds_hash(k.callid), 0x088155cbu);
	for (i = 0; i < 10; i++)
		assert_int_equal(pick(1, DS_ALG_CALLID, 0, &k), ds_hash(k.callid) % 3);
	/* and different Call-IDs spread */
	for (i = 0; i < 300; i++) {
		snprintf(cid, sizeof(cid), "call-%u@10.1.1.1", i);
		k.callid = sy_cstr(cid);
		hits[pick(1, DS_ALG_CALLID, 0, &k)]++;
	}
	for (i = 0; i < 3; i++)
		assert_in_range(hits[i], 60, 140);
	/* a destination going down moves only its own calls: the others keep theirs */
	k.callid = SY_STR("abc@host");
	{
		unsigned mine = pick(1, DS_ALG_CALLID, 0, &k), other = (mine + 1) % 3, moved;

		assert_int_equal(ds_mark(other, 'i'), 1);
		assert_int_equal(pick(1, DS_ALG_CALLID, 0, &k), mine);
		assert_int_equal(ds_mark(mine, 'i'), 1);
		moved = pick(1, DS_ALG_CALLID, 0, &k);
		assert_int_not_equal(moved, mine);
		assert_int_not_equal(moved, other);
	}
	reset_states();
}

static void test_hash_uris(void **state)
{
	struct sip_uri a, b, c;
	struct ds_keys k;

	(void)state;
	reset_states();
	assert_int_equal(sip_uri_parse(SY_STR("sip:alice@a.example"), &a), 0);
	assert_int_equal(sip_uri_parse(SY_STR("sip:alice@b.example;x=1"), &b), 0);
	assert_int_equal(sip_uri_parse(SY_STR("sip:bob@a.example"), &c), 0);
	memset(&k, 0, sizeof(k));
	k.from = &a;
	k.to = &c;
	k.ruri = &b;
	/* 1 hashes From, 2 To, 3 the R-URI: each stable; 'u' ignores the host */
	assert_int_equal(pick(1, DS_ALG_FROM, 0, &k), pick(1, DS_ALG_FROM, 0, &k));
	assert_int_equal(pick(1, DS_ALG_TO, 0, &k), pick(1, DS_ALG_TO, 0, &k));
	assert_int_equal(pick(1, DS_ALG_FROM, DS_F_USER, &k), ds_hash(SY_STR("alice")) % 3);
	k.from = &b;	/* same user, other host */
	assert_int_equal(pick(1, DS_ALG_FROM, DS_F_USER, &k), ds_hash(SY_STR("alice")) % 3);
	assert_int_equal(pick(1, DS_ALG_RURI, DS_F_USER, &k), ds_hash(SY_STR("alice")) % 3);
}

static void test_auth_user_hash(void **state)
{
	struct ds_keys k;
	unsigned a, b;

	(void)state;
	reset_states();
	memset(&k, 0, sizeof(k));
	k.authuser = SY_STR("alice");
	assert_int_equal(pick(1, DS_ALG_AUTHUSER, 0, &k), ds_hash(SY_STR("alice")) % 3);
	/* without credentials: round robin (OpenSIPS), so two picks differ */
	k.authuser = SY_NULL_STR;
	a = pick(1, DS_ALG_AUTHUSER, 0, &k);
	b = pick(1, DS_ALG_AUTHUSER, 0, &k);
	assert_int_not_equal(a, b);
}

static void test_least_in_flight(void **state)
{
	unsigned a, b;

	(void)state;
	reset_states();
	ds_inflight_add(0, 1);
	ds_inflight_add(0, 1);
	ds_inflight_add(2, 1);
	/* {2, 0, 1}: the idle one, whatever the cursor */
	assert_int_equal(pick(1, DS_ALG_LOAD, 0, NULL), 1);
	assert_int_equal(pick(1, DS_ALG_LOAD, 0, NULL), 1);
	ds_inflight_add(1, 1);
	ds_inflight_add(1, 1);
	/* {2, 2, 1} */
	assert_int_equal(pick(1, DS_ALG_LOAD, 0, NULL), 2);
	/* the least loaded one down: the next least */
	ds_mark(2, 'i');
	a = pick(1, DS_ALG_LOAD, 0, NULL);
	assert_true(a == 0 || a == 1);
	reset_states();
	/* counts never go below 0; ties go round */
	ds_inflight_add(0, -1);
	assert_int_equal(atomic_load(&ds_dest_get(0)->inflight), 0);
	ds_inflight_add(0, -1);
	ds_inflight_add(0, 1);
	assert_int_equal(atomic_load(&ds_dest_get(0)->inflight), 1);
	ds_inflight_add(0, -1);
	a = pick(1, DS_ALG_LOAD, 0, NULL);
	b = pick(1, DS_ALG_LOAD, 0, NULL);
	assert_int_not_equal(a, b);
}

static void test_round_robin_even(void **state)
{
	unsigned hits[3] = { 0, 0, 0 }, i, prev = 99, cur;

	(void)state;
	reset_states();
	for (i = 0; i < 300; i++) {
		cur = pick(1, DS_ALG_RR, 0, NULL);
		assert_int_not_equal(cur, prev);	/* weights 1: never twice in a row */
		prev = cur;
		hits[cur]++;
	}
	assert_int_equal(hits[0], 100);
	assert_int_equal(hits[1], 100);
	assert_int_equal(hits[2], 100);
	/* one down: the other two share the load evenly */
	ds_mark(1, 'i');
	hits[0] = hits[1] = hits[2] = 0;
	for (i = 0; i < 200; i++)
		hits[pick(1, DS_ALG_RR, 0, NULL)]++;
	assert_int_equal(hits[1], 0);
	assert_in_range(hits[0], 99, 101);
	assert_in_range(hits[2], 99, 101);
	reset_states();
}

static void test_weighted_round_robin(void **state)
{
	unsigned hits[9] = { 0 }, i;

	(void)state;
	reset_states();
	/* OpenSIPS alg 4: a destination's weight is how many times in a row it is chosen (100
	 * picks = one cycle of 10 + 30 + 60) */
	for (i = 0; i < 1000; i++)
		hits[pick(2, DS_ALG_RR, 0, NULL)]++;
	assert_int_equal(hits[3], 100);
	assert_int_equal(hits[4], 300);
	assert_int_equal(hits[5], 600);
}

static void test_weight_distribution(void **state)
{
	unsigned hits[9] = { 0 }, i, run = 0, maxrun = 0, prev = 99, cur;

	(void)state;
	reset_states();
	/* alg 9: over N picks each destination's share is its weight's, within 1% */
	for (i = 0; i < 10000; i++) {
		cur = pick(2, DS_ALG_WEIGHT, 0, NULL);
		hits[cur]++;
		run = cur == prev ? run + 1 : 1;
		if (run > maxrun)
			maxrun = run;
		prev = cur;
	}
	assert_in_range(hits[3], 900, 1100);
	assert_in_range(hits[4], 2900, 3100);
	assert_in_range(hits[5], 5900, 6100);
	/* interleaved, not in blocks like alg 4 */
	assert_true(maxrun <= 4);
	/* a weight-60 destination down: the others keep their 1:3 ratio */
	ds_mark(5, 'i');
	hits[3] = hits[4] = hits[5] = 0;
	for (i = 0; i < 4000; i++)
		hits[pick(2, DS_ALG_WEIGHT, 0, NULL)]++;
	assert_int_equal(hits[5], 0);
	assert_in_range(hits[3], 900, 1100);
	assert_in_range(hits[4], 2900, 3100);
	reset_states();
}

static void test_priority_and_failover_order(void **state)
{
	struct ds_failover f;
	struct ds_keys k;

	(void)state;
	reset_states();
	memset(&k, 0, sizeof(k));
	/* set 3 by priority: 7 (20), 8 (10), 6 (5) */
	assert_int_equal(ds_select(3, DS_ALG_FIRST, DS_F_FAILOVER, 0, &k, &f), 0);
	assert_int_equal(f.last, 7);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.cand[0], 8);
	assert_int_equal(f.cand[1], 6);
	/* max_results 2: the chosen one and one more */
	assert_int_equal(ds_select(3, DS_ALG_FIRST, DS_F_FAILOVER, 2, &k, &f), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.cand[0], 8);
	/* the inactive ones are neither chosen nor candidates */
	ds_mark(7, 'i');
	assert_int_equal(ds_select(3, DS_ALG_FIRST, DS_F_FAILOVER, 0, &k, &f), 0);
	assert_int_equal(f.last, 8);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.cand[0], 6);
	/* hashes: the others follow the chosen one in set order, wrapping */
	reset_states();
	k.callid = SY_STR("abc@host");
	assert_int_equal(ds_select(1, DS_ALG_CALLID, DS_F_FAILOVER, 0, &k, &f), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.cand[0], (f.last + 1) % 3);
	assert_int_equal(f.cand[1], (f.last + 2) % 3);
	/* 'd': the set's last destination only as the last resort */
	assert_int_equal(ds_select(3, DS_ALG_FIRST, DS_F_FAILOVER | DS_F_DEFAULT, 0, &k, &f), 0);
	assert_int_equal(f.last, 7);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.cand[0], 8);
	assert_int_equal(f.cand[1], 6);
	ds_mark(7, 'i');
	ds_mark(8, 'i');
	assert_int_equal(ds_select(3, DS_ALG_FIRST, DS_F_DEFAULT, 0, &k, &f), 0);
	assert_int_equal(f.last, 6);
	assert_int_equal(f.n, 0);
	ds_mark(6, 'i');
	assert_int_equal(ds_select(3, DS_ALG_FIRST, 0, 0, &k, &f), EHOSTUNREACH);
	assert_int_equal(ds_select(42, DS_ALG_FIRST, 0, 0, &k, &f), ENOENT);
	assert_int_equal(ds_select(3, 7, 0, 0, &k, &f), EINVAL);
	reset_states();
}

static void test_states(void **state)
{
	struct ds_dest *d = ds_dest_get(0);

	(void)state;
	reset_states();
	ds_cfg.probing_threshold = 3;
	/* ds_mark_dst("p") counts: probing only at the threshold */
	assert_int_equal(ds_mark(0, 'p'), 0);
	assert_int_equal(ds_mark(0, 'p'), 0);
	assert_int_equal(atomic_load(&d->state), 0);
	assert_int_equal(ds_mark(0, 'p'), 1);
	assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
	assert_int_equal(ds_mark(0, 'a'), 1);
	assert_int_equal(atomic_load(&d->state), 0);
	assert_int_equal(ds_mark(0, 'i'), 1);
	assert_int_equal(ds_mark(0, 'i'), 0);
	assert_int_equal(ds_mark(0, 'x'), -1);
	assert_int_equal(ds_mark(999, 'a'), -1);
	/* pings: threshold failures in a row make it probing; one success brings it back */
	reset_states();
	assert_int_equal(ds_ping_result(0, 0), 0);
	assert_int_equal(ds_ping_result(0, 0), 0);
	assert_int_equal(ds_ping_result(0, 1), 0);	/* a success resets the count */
	assert_int_equal(ds_ping_result(0, 0), 0);
	assert_int_equal(ds_ping_result(0, 0), 0);
	assert_int_equal(ds_ping_result(0, 0), 1);
	assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
	assert_int_equal(ds_ping_result(0, 0), 0);	/* already probing: no new change */
	assert_int_equal(ds_ping_result(0, 1), 1);
	assert_int_equal(atomic_load(&d->state), 0);
	/* an operator's "inactive" is not undone by a ping, and failures on it report nothing */
	ds_mark(0, 'i');
	assert_int_equal(ds_ping_result(0, 1), 0);
	assert_int_equal(atomic_load(&d->state), DS_ST_INACTIVE);
	assert_int_equal(ds_ping_result(0, 0), 0);
	assert_int_equal(ds_ping_result(0, 0), 0);
	assert_int_equal(ds_ping_result(0, 0), 0);
	assert_int_equal(atomic_load(&d->state), DS_ST_INACTIVE | DS_ST_PROBING);
	assert_int_equal(ds_ping_result(0, 1), 0);
	assert_int_equal(atomic_load(&d->state), DS_ST_INACTIVE);
	/* ds_set_state by URI, as the MI command */
	assert_int_equal(ds_set_state(1, SY_STR("sip:10.0.0.1:5060"), 'a'), 0);
	assert_int_equal(atomic_load(&d->state), 0);
	assert_int_equal(ds_set_state(1, SY_STR("sip:10.0.0.1:5060"), 'p'), 0);
	assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
	assert_int_equal(ds_set_state(2, SY_STR("sip:10.0.0.1:5060"), 'a'), ENOENT);
	reset_states();
}

static void test_in_list(void **state)
{
	unsigned set = 0;

	(void)state;
	reset_states();
	assert_int_equal(ds_in_list(SY_STR("10.0.0.2"), 5060, -1, 0, &set), 1);
	assert_int_equal(set, 1);
	assert_int_equal(ds_in_list(SY_STR("10.0.0.2"), 5061, -1, 0, NULL), 0);
	assert_int_equal(ds_in_list(SY_STR("10.0.0.2"), 0, -1, 0, NULL), 1);
	assert_int_equal(ds_in_list(SY_STR("10.0.0.2"), 5060, 2, 0, NULL), 0);
	assert_int_equal(ds_in_list(SY_STR("10.0.2.2"), 5071, 3, 0, NULL), 1);
	assert_int_equal(ds_in_list(SY_STR("::1"), 5072, 3, 0, NULL), 1);
	assert_int_equal(ds_in_list(SY_STR("[::1]"), 5072, 3, 0, NULL), 1);
	assert_int_equal(ds_in_list(SY_STR("not-an-ip"), 0, -1, 0, NULL), 0);
	ds_mark(1, 'i');
	assert_int_equal(ds_in_list(SY_STR("10.0.0.2"), 5060, 1, 1, NULL), 0);
	assert_int_equal(ds_in_list(SY_STR("10.0.0.2"), 5060, 1, 0, NULL), 1);
	reset_states();
}

static void test_table_add_errors(void **state)
{
	struct ds_new nd;
	const char *why = NULL;

	(void)state;
	memset(&nd, 0, sizeof(nd));
	nd.setid = 9;
	nd.uri = SY_STR("tel:+123");
	assert_int_equal(ds_table_add(&nd, &why), EINVAL);
	nd.uri = SY_STR("sip:1.2.3.4;transport=sctp");
	assert_int_equal(ds_table_add(&nd, &why), EINVAL);
	nd.uri = SY_STR("sip:no-such-host.invalid");
	assert_int_equal(ds_table_add(&nd, &why), EHOSTUNREACH);
	assert_null(ds_set_find(9));
}

static void test_flags(void **state)
{
	unsigned f;

	(void)state;
	assert_int_equal(ds_flags_parse(SY_STR("fUd"), &f), 0);
	assert_int_equal(f, DS_F_FAILOVER | DS_F_USER | DS_F_DEFAULT);
	assert_int_equal(ds_flags_parse(SY_STR("fx"), &f), EINVAL);
}

/* a reply to ping (idx, seq): the prober's matching by branch, CSeq and pending sequence */
static size_t reply_br(char *buf, size_t cap, unsigned code, const char *branch, unsigned idx,
		       unsigned seq, const char *method)
{
	int n = snprintf(buf, cap,
			 "SIP/2.0 %u X\r\n"
			 "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=%s;rport=4000\r\n"
			 "From: <sip:dispatcher@localhost>;tag=a\r\nTo: <sip:x>;tag=b\r\n"
			 "Call-ID: dsp.%u.%u@127.0.0.1:4000\r\nCSeq: %u %s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 code, branch, idx, seq, seq, method);
	return (size_t)n;
}

/* as the destination would answer: the branch of our ping (idx, seq) */
static size_t reply(char *buf, size_t cap, unsigned code, unsigned idx, unsigned seq,
		    const char *method)
{
	char br[64];

	assert_int_equal(ds_probe_branch(idx, seq, br, sizeof(br)), 0);
	return reply_br(buf, cap, code, br, idx, seq, method);
}

static void test_probe_replies(void **state)
{
	struct ds_dest *d = ds_dest_get(2);
	char buf[1024];
	size_t n;

	(void)state;
	reset_states();
	ds_cfg.probing_threshold = 1;
	ds_cfg.nreply_codes = 1;
	ds_cfg.reply_codes[0] = 404;
	atomic_store(&d->state, DS_ST_PROBING);
	atomic_store(&d->pending, 77);
	/* an earlier ping's late answer, another method, a provisional: nothing changes */
	n = reply(buf, sizeof(buf), 200, 2, 76, "OPTIONS");
	assert_int_equal(ds_probe_reply(buf, n, NULL), 1);
	assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
	n = reply(buf, sizeof(buf), 200, 2, 77, "INFO");
	assert_int_equal(ds_probe_reply(buf, n, NULL), 0);
	n = reply(buf, sizeof(buf), 100, 2, 77, "OPTIONS");
	assert_int_equal(ds_probe_reply(buf, n, NULL), 1);
	assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
	/* 404 is in options_reply_codes: active */
	n = reply(buf, sizeof(buf), 404, 2, 77, "OPTIONS");
	assert_int_equal(ds_probe_reply(buf, n, NULL), 1);
	assert_int_equal(atomic_load(&d->state), 0);
	assert_int_equal(atomic_load(&d->pending), 0);
	/* a 503 is a failure: probing again (threshold 1) */
	atomic_store(&d->pending, 78);
	n = reply(buf, sizeof(buf), 503, 2, 78, "OPTIONS");
	assert_int_equal(ds_probe_reply(buf, n, NULL), 1);
	assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
	/* a retransmitted 200 of the answered ping changes nothing */
	n = reply(buf, sizeof(buf), 200, 2, 78, "OPTIONS");
	assert_int_equal(ds_probe_reply(buf, n, NULL), 1);
	assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
	/* from another host than the destination: not taken */
	{
		struct sy_addr other;

		assert_int_equal(tp_addr_parse(SY_STR("10.9.9.9"), 5060, &other), 0);
		atomic_store(&d->pending, 79);
		n = reply(buf, sizeof(buf), 200, 2, 79, "OPTIONS");
		assert_int_equal(ds_probe_reply(buf, n, &other), 0);
		assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
		assert_int_equal(tp_addr_parse(SY_STR("10.0.0.3"), 7777, &other), 0);
		assert_int_equal(ds_probe_reply(buf, n, &other), 1);
		assert_int_equal(atomic_load(&d->state), 0);
	}
	/* a branch made up from a guessed idx and seq (a destination seeing its own pings knows
	 * the sequence numbers of the others'), without or with a wrong MAC: not taken */
	{
		char br[64];

		atomic_store(&d->state, DS_ST_PROBING);
		atomic_store(&d->pending, 80);
		n = reply_br(buf, sizeof(buf), 200, "z9hG4bKdsp.2.80", 2, 80, "OPTIONS");
		assert_int_equal(ds_probe_reply(buf, n, NULL), 0);
		assert_int_equal(ds_probe_branch(2, 81, br, sizeof(br)), 0);
		memcpy(br + strlen("z9hG4bKdsp.2.8"), "0", 1);	/* 81's MAC on 80 */
		n = reply_br(buf, sizeof(buf), 200, br, 2, 80, "OPTIONS");
		assert_int_equal(ds_probe_reply(buf, n, NULL), 0);
		assert_int_equal(atomic_load(&d->state), DS_ST_PROBING);
		assert_int_equal(atomic_load(&d->pending), 80);
		n = reply(buf, sizeof(buf), 200, 2, 80, "OPTIONS");
		assert_int_equal(ds_probe_reply(buf, n, NULL), 1);
		assert_int_equal(atomic_load(&d->state), 0);
	}
	/* not ours */
	assert_int_equal(ds_probe_reply("garbage", 7, NULL), 0);
	n = reply(buf, sizeof(buf), 200, 999, 1, "OPTIONS");
	assert_int_equal(ds_probe_reply(buf, n, NULL), 0);
	ds_cfg.nreply_codes = 0;
	ds_cfg.probing_threshold = 3;
	reset_states();
}

static void test_probe_round_on_the_wire(void **state)
{
	struct sy_addr la;
	struct ds_dest *d = ds_dest_get(0);
	unsigned i;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	(void)state;
	reset_states();
	ds_cfg.probing_threshold = 2;
	ds_cfg.probing_mode = 0;
	assert_true(fd >= 0);
	memset(&la, 0, sizeof(la));
	la.u.in.sin_family = AF_INET;
	la.u.in.sin_addr.s_addr = htonl(0x7f000001);
	la.len = sizeof(la.u.in);
	assert_int_equal(bind(fd, &la.u.sa, la.len), 0);
	la.len = sizeof(la.u.ss);
	assert_int_equal(getsockname(fd, &la.u.sa, &la.len), 0);
	/* only the probing one is pinged (mode 0); each round without an answer is a failure */
	atomic_store(&d->state, DS_ST_PROBING);
	ds_probe_round(fd, &la);
	assert_int_not_equal(atomic_load(&d->pending), 0);
	for (i = 1; i < ds_dest_count(); i++)
		assert_int_equal(atomic_load(&ds_dest_get(i)->pending), 0);
	ds_probe_round(fd, &la);
	assert_int_equal(atomic_load(&d->fails), 1);
	/* mode 1: every UDP destination; an active one missing 2 in a row is probing */
	ds_cfg.probing_mode = 1;
	ds_probe_round(fd, &la);
	ds_probe_round(fd, &la);
	ds_probe_round(fd, &la);
	assert_int_equal(atomic_load(&ds_dest_get(1)->state), DS_ST_PROBING);
	/* a test round on a given UDP socket leaves the TCP destination alone */
	assert_int_equal(atomic_load(&ds_dest_get(7)->pending), 0);
	ds_cfg.probing_mode = 0;
	ds_cfg.probing_threshold = 3;
	close(fd);
	reset_states();
}

static void test_check_listens(void **state)
{
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	tp_listen_reset();
	assert_int_equal(tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), 5999, NULL), 0);
	/* the ;transport=tcp destination of set 3 has no listen to leave from */
	assert_int_equal(ds_table_check(devnull), EINVAL);
	assert_int_equal(tp_listen_add(SY_PROTO_TCP, SY_STR("127.0.0.1"), 5999, NULL), 0);
	assert_int_equal(ds_table_check(devnull), 0);
	tp_listen_reset();
	fclose(devnull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_failover_codec),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_hash_callid_stable),
		cmocka_unit_test(test_hash_uris),
		cmocka_unit_test(test_auth_user_hash),
		cmocka_unit_test(test_least_in_flight),
		cmocka_unit_test(test_round_robin_even),
		cmocka_unit_test(test_weighted_round_robin),
		cmocka_unit_test(test_weight_distribution),
		cmocka_unit_test(test_priority_and_failover_order),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_in_list),
		cmocka_unit_test(test_table_add_errors),
		cmocka_unit_test(test_check_listens),
		cmocka_unit_test(test_probe_replies),
		cmocka_unit_test(test_probe_round_on_the_wire),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
