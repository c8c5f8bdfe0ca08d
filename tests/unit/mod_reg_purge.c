/* mod_reg_purge.c: the location table in steady state (the soak's REGISTER pattern: every
 * request a new AOR, every binding left to expire). Round after round of fresh AORs written
 * through to SQLite, expired and purged must leave the table empty and the heap where the first
 * round left it: nothing per removed binding (record, contact, Call-ID/CSeq, store job) may
 * stay behind. Live bytes come from the allocator (mallinfo2, or ASan's own count under
 * -fsanitize=address, where mallinfo reports nothing). */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__)
/* from the sanitizer runtime (sanitizer/allocator_interface.h, not installed with gcc here) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "mod/usrloc.h"

#define ROUND_AORS 2000u
#define ROUNDS 6u

static int64_t fake_now = 100000;
static int64_t fake_clock(void) { return fake_now; }

static size_t live_bytes(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

static int count_cb(const struct store_binding *b, void *arg)
{
	(void)b;
	(*(unsigned *)arg)++;
	return 0;
}

/* ROUND_AORS REGISTERs for AORs never seen before, each with its own Call-ID, living 600 s */
static void register_round(unsigned round)
{
	char aor[64], contact[96], callid[64];
	struct ul_change ch;
	unsigned i;

	for (i = 0; i < ROUND_AORS; i++) {
		unsigned u = round * ROUND_AORS + i;

		snprintf(aor, sizeof(aor), "sip:u%u@127.0.0.1", u);
		snprintf(contact, sizeof(contact), "sip:u%u@127.0.0.1:5999;transport=udp", u);
		snprintf(callid, sizeof(callid), "%u-4242@127.0.0.1", u);
		memset(&ch, 0, sizeof(ch));
		ch.b.contact = sy_cstr(contact);
		ch.b.callid = sy_cstr(callid);
		ch.b.user_agent = SY_STR("soak");
		ch.b.received = SY_STR("sip:127.0.0.1:5999");
		ch.b.cseq = 1;
		ch.b.expires = fake_now + 600;
		ch.b.q = -1;
		ch.b.listen_idx = -1;
		assert_int_equal(ul_update(sy_cstr(aor), &ch, 1, 0, ch.b.callid, 1, 0, NULL, NULL,
					   NULL), 0);
	}
}

/* one soak period: register, expire, purge, let the writer catch up */
static void cycle(unsigned round)
{
	unsigned long aors, contacts;
	unsigned n = 0;

	register_round(round);
	ul_stats(&aors, &contacts);
	assert_int_equal(aors, ROUND_AORS);
	assert_int_equal(contacts, ROUND_AORS);
	fake_now += 601;
	assert_int_equal(ul_purge(fake_now), ROUND_AORS);
	assert_int_equal(ul_flush(), 0);
	ul_stats(&aors, &contacts);
	assert_int_equal(aors, 0);
	assert_int_equal(contacts, 0);
	assert_int_equal(ul_dump(count_cb, &n), 0);
	assert_int_equal(n, 0);
}

static void test_purge_returns_heap(void **state)
{
	char dir[] = "/tmp/sy-ulpurge-XXXXXX", url[128], path[96], p2[128];
	size_t base, now_b, worst = 0;
	unsigned r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/loc.db", dir);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	ul_set_clock(fake_clock);
	assert_int_equal(ul_init(url), 0);

	/* round 0 warms the pools: SQLite's statement and page caches, the writer's job list */
	cycle(0);
	base = live_bytes();
	for (r = 1; r <= ROUNDS; r++) {
		cycle(r);
		now_b = live_bytes();
		if (now_b > base && now_b - base > worst)
			worst = now_b - base;
	}
	/* ROUNDS * ROUND_AORS = 12000 bindings went through; a leak of even 8 bytes per binding
	 * would show 96 KB. Allow 32 KB for SQLite's lookaside and page-cache slack. */
	if (worst > 32u * 1024u)
		fail_msg("live heap grew by %zu bytes over %u purge rounds of %u AORs", worst,
			 ROUNDS, ROUND_AORS);

	ul_destroy();
	ul_set_clock(NULL);
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_purge_returns_heap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
