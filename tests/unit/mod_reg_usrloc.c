/* mod_reg_usrloc.c: the location table on its own: the MI walks (ul_dump, ul_show_contact),
 * ul_remove_aor, ul_stats, and concurrent writers and readers on shared AORs with the SQLite
 * write-through, after which memory and the reloaded database agree exactly. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mod/usrloc.h"

static int64_t fake_now = 5000;
static int64_t fake_clock(void) { return fake_now; }

static struct ul_change mkch(const char *contact, const char *callid, uint32_t cseq, int64_t exp)
{
	struct ul_change c;

	memset(&c, 0, sizeof(c));
	c.b.contact = sy_cstr(contact);
	c.b.callid = sy_cstr(callid);
	c.b.cseq = cseq;
	c.b.expires = exp;
	c.b.q = -1;
	c.b.listen_idx = -1;
	c.remove = exp <= fake_now;
	return c;
}

static int count_cb(const struct store_binding *b, void *arg)
{
	(void)b;
	(*(unsigned *)arg)++;
	return 0;
}

static void test_walks_and_remove(void **state)
{
	struct ul_change ch[2];
	unsigned n = 0;
	unsigned long aors, contacts;

	(void)state;
	ul_set_clock(fake_clock);
	assert_int_equal(ul_init(NULL), 0);
	ch[0] = mkch("sip:a@1.1.1.1", "c1", 1, fake_now + 100);
	ch[1] = mkch("sip:a@1.1.1.2", "c1", 1, fake_now + 100);
	assert_int_equal(ul_update(SY_STR("sip:a@x"), ch, 2, 0, SY_STR("c1"), 1, 0, NULL, NULL,
				   NULL), 0);
	ch[0] = mkch("sip:b@1.1.1.1", "c2", 1, fake_now + 10);
	assert_int_equal(ul_update(SY_STR("sip:b@x"), ch, 1, 0, SY_STR("c2"), 1, 0, NULL, NULL,
				   NULL), 0);
	assert_int_equal(ul_dump(count_cb, &n), 0);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(ul_show_contact(SY_STR("sip:a@x"), count_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ul_show_contact(SY_STR("sip:zz@x"), count_cb, &n), ENOENT);
	ul_stats(&aors, &contacts);
	assert_int_equal(aors, 2);
	assert_int_equal(contacts, 3);

	/* expired ones are skipped by the walks before the purge takes them */
	fake_now += 10;
	n = 0;
	assert_int_equal(ul_dump(count_cb, &n), 0);
	assert_int_equal(n, 2);

	assert_int_equal(ul_remove_aor(SY_STR("sip:a@x")), 0);
	assert_int_equal(ul_remove_aor(SY_STR("sip:a@x")), ENOENT);
	n = 0;
	assert_int_equal(ul_dump(count_cb, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ul_update(SY_STR(""), NULL, 0, 0, SY_STR("c"), 1, 0, NULL, NULL, NULL),
			 EINVAL);
	ul_destroy();
	ul_set_clock(NULL);
}

#define WRITERS 4
#define READERS 3
#define AORS 16
#define ROUNDS 1500

static atomic_int stop_readers;

static void *writer(void *arg)
{
	long id = (long)arg;
	char contact[64], callid[32], aor[32];
	unsigned r;

	snprintf(callid, sizeof(callid), "w%ld", id);
	for (r = 1; r <= ROUNDS; r++) {
		struct ul_change c;
		unsigned k = (r * 7 + (unsigned)id) % AORS;

		snprintf(aor, sizeof(aor), "sip:u%u@x", k);
		snprintf(contact, sizeof(contact), "sip:u%u@10.0.%ld.1", k, id);
		/* every third round removes, the others add or refresh */
		c = mkch(contact, callid, r, r % 3 == 0 ? 0 : fake_now + 1000);
		if (ul_update(sy_cstr(aor), &c, 1, 0, sy_cstr(callid), r, 0, NULL, NULL, NULL) != 0)
			return (void *)1;
	}
	return NULL;
}

static void *reader(void *arg)
{
	static __thread char mem[16384];
	struct sy_arena a;
	unsigned long hits = 0;

	(void)arg;
	do {	/* at least one full pass, however early the writers finish */
		unsigned k;

		for (k = 0; k < AORS; k++) {
			char aor[32];
			struct store_binding *v;
			unsigned n, i;

			snprintf(aor, sizeof(aor), "sip:u%u@x", k);
			sy_arena_init(&a, mem, sizeof(mem));
			if (ul_get(sy_cstr(aor), &a, &v, &n) == 0) {
				for (i = 0; i < n; i++)
					if (strncmp(v[i].contact.s, "sip:u", 5) != 0 || v[i].cseq == 0)
						return (void *)1;
				hits++;
			}
		}
	} while (!atomic_load(&stop_readers));
	return hits ? NULL : (void *)2;
}

static int snapshot_cb(const struct store_binding *b, void *arg)
{
	char (*rows)[96] = arg;
	unsigned i;

	for (i = 0; rows[i][0]; i++)
		;
	snprintf(rows[i], 96, "%.*s|%.*s|%u", SY_FMT(b->aor), SY_FMT(b->contact), b->cseq);
	return 0;
}

static int cmp_rows(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_concurrent_with_store(void **state)
{
	pthread_t w[WRITERS], r[READERS];
	static char before[AORS * WRITERS + 1][96], after[AORS * WRITERS + 1][96];
	char path[64], url[96], p2[96];
	void *rv;
	long i;
	unsigned nb = 0, na = 0;

	(void)state;
	ul_set_clock(fake_clock);
	snprintf(path, sizeof(path), "/tmp/sy-ul-test-%d.db", (int)getpid());
	snprintf(url, sizeof(url), "sqlite://%s", path);
	unlink(path);
	assert_int_equal(ul_init(url), 0);
	atomic_store(&stop_readers, 0);
	for (i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, reader, NULL), 0);
	for (i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&w[i], NULL, writer, (void *)i), 0);
	for (i = 0; i < WRITERS; i++) {
		assert_int_equal(pthread_join(w[i], &rv), 0);
		assert_null(rv);
	}
	atomic_store(&stop_readers, 1);
	for (i = 0; i < READERS; i++) {
		assert_int_equal(pthread_join(r[i], &rv), 0);
		assert_null(rv);
	}
	memset(before, 0, sizeof(before));
	assert_int_equal(ul_dump(snapshot_cb, before), 0);
	assert_int_equal(ul_flush(), 0);
	ul_destroy();

	/* what the writer thread put on disk is exactly what was in memory */
	assert_int_equal(ul_init(url), 0);
	memset(after, 0, sizeof(after));
	assert_int_equal(ul_dump(snapshot_cb, after), 0);
	while (before[nb][0])
		nb++;
	while (after[na][0])
		na++;
	assert_true(nb > 0);
	assert_int_equal(na, nb);
	qsort(before, nb, sizeof(before[0]), cmp_rows);
	qsort(after, na, sizeof(after[0]), cmp_rows);
	for (i = 0; i < (long)nb; i++)
		assert_string_equal(before[i], after[i]);
	ul_destroy();
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	ul_set_clock(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walks_and_remove),
		cmocka_unit_test(test_concurrent_with_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
