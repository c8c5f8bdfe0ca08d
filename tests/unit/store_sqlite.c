/* store_sqlite.c: the SQLite location store: round trip, atomic jobs, reload after a restart
 * (close + open of the same file), purge of expired rows, bad URLs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

static char dbpath[64];
static char dburl[96];

static int setup(void **state)
{
	(void)state;
	snprintf(dbpath, sizeof(dbpath), "/tmp/sy-store-test-%d.db", (int)getpid());
	snprintf(dburl, sizeof(dburl), "sqlite://%s", dbpath);
	unlink(dbpath);
	return 0;
}

static int teardown(void **state)
{
	char p[96];

	(void)state;
	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	return 0;
}

static struct store_binding mk(const char *aor, const char *contact, int64_t expires)
{
	struct store_binding b;

	memset(&b, 0, sizeof(b));
	b.aor = sy_cstr(aor);
	b.contact = sy_cstr(contact);
	b.received = sy_cstr("sip:192.0.2.7:40000");
	b.path = sy_cstr("<sip:edge.example.com;lr>");
	b.callid = sy_cstr("cid-1@host");
	b.user_agent = sy_cstr("ua/1.0");
	b.instance = sy_cstr("\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"");
	b.cseq = 42;
	b.reg_id = 1;
	b.expires = expires;
	b.q = 500;
	b.methods = 0x6;
	b.flags = STORE_FL_NAT;
	b.proto = 1;
	b.last_modified = 1000;
	b.listen_idx = -1;
	return b;
}

struct seen {
	unsigned n;
	char aor[8][64];
	char contact[8][64];
	struct store_binding last;
	char last_path[64], last_inst[80], last_rcv[64];
};

static int collect(const struct store_binding *b, void *arg)
{
	struct seen *s = arg;

	if (s->n >= 8)
		return ENOSPC;
	snprintf(s->aor[s->n], 64, "%.*s", SY_FMT(b->aor));
	snprintf(s->contact[s->n], 64, "%.*s", SY_FMT(b->contact));
	s->last = *b;
	snprintf(s->last_path, sizeof(s->last_path), "%.*s", SY_FMT(b->path));
	snprintf(s->last_inst, sizeof(s->last_inst), "%.*s", SY_FMT(b->instance));
	snprintf(s->last_rcv, sizeof(s->last_rcv), "%.*s", SY_FMT(b->received));
	s->n++;
	return 0;
}

/* the deep copy the write queue and usrloc share: every string re-pointed into the buffer,
 * packed in field order, the scalars kept */
static void test_binding_copy(void **state)
{
	struct store_binding s, d;
	char buf[64];
	char *end;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.aor = SY_STR("sip:a@x");
	s.contact = SY_STR("sip:a@1.2.3.4");
	s.callid = SY_STR("c1");
	s.instance = SY_STR("<urn:1>");
	s.cseq = 7;
	s.expires = 1234;
	s.q = 500;
	assert_int_equal(store_binding_strs_len(&s), 7 + 13 + 2 + 7);
	memset(buf, '#', sizeof(buf));
	end = store_binding_copy(&d, &s, buf);
	assert_ptr_equal(end, buf + 29);
	assert_memory_equal(buf, "sip:a@xsip:a@1.2.3.4c1<urn:1>#", 30);
	assert_ptr_equal(d.aor.s, buf);
	assert_ptr_equal(d.instance.s, buf + 22);
	assert_true(sy_str_eq(d.contact, s.contact) && d.contact.s != s.contact.s);
	assert_int_equal(d.received.len, 0);
	assert_int_equal(d.path.len, 0);
	assert_int_equal(d.cseq, 7);
	assert_int_equal(d.expires, 1234);
	assert_int_equal(d.q, 500);
}

static void test_bad_url(void **state)
{
	struct store *st = (struct store *)1;

	(void)state;
	assert_int_equal(store_open("mysql://x", &st), EINVAL);
	assert_null(st);
	assert_int_equal(store_open("sqlite://", &st), EINVAL);
	assert_int_equal(store_open(NULL, &st), EINVAL);
	/* a directory that cannot be made (a file is in the way) */
	assert_int_equal(store_open("sqlite:///dev/null/x/y.db", &st), EIO);
	assert_null(st);
}

static void test_creates_parent_dirs(void **state)
{
	struct store *st;
	char dir[64], url[128], p[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sy-store-dir-%d", (int)getpid());
	snprintf(url, sizeof(url), "sqlite://%s/a/b/loc.db", dir);
	assert_int_equal(store_open(url, &st), 0);
	store_close(st);
	snprintf(p, sizeof(p), "%s/a/b/loc.db", dir);
	assert_int_equal(access(p, F_OK), 0);
	unlink(p);
	snprintf(p, sizeof(p), "%s/a/b", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/a", dir);
	rmdir(p);
	rmdir(dir);
}

static void test_round_trip_and_restart(void **state)
{
	struct store *st;
	struct store_op ops[2];
	struct seen s;
	unsigned long cnt = 0;

	(void)state;
	assert_int_equal(store_open(dburl, &st), 0);
	ops[0].kind = STORE_OP_UPSERT;
	ops[0].b = mk("sip:alice@example.com", "sip:alice@10.0.0.1:5062", 5000);
	ops[1].kind = STORE_OP_UPSERT;
	ops[1].b = mk("sip:bob@example.com", "sip:bob@10.0.0.2", 5000);
	assert_int_equal(store_submit(st, ops, 2), 0);
	assert_int_equal(store_flush(st), 0);
	assert_int_equal(store_count(st, &cnt), 0);
	assert_int_equal(cnt, 2);

	/* replace (same aor+contact) keeps one row with the new values */
	ops[0].b.cseq = 43;
	ops[0].b.expires = 6000;
	assert_int_equal(store_submit(st, ops, 1), 0);
	store_close(st);	/* close flushes */

	/* "restart": a fresh handle on the same file sees everything */
	assert_int_equal(store_open(dburl, &st), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_load(st, 100, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.aor[0], "sip:alice@example.com");
	assert_string_equal(s.contact[0], "sip:alice@10.0.0.1:5062");
	assert_string_equal(s.aor[1], "sip:bob@example.com");

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_load(st, 5500, collect, &s), 0);	/* bob expired at 5000 */
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last.cseq, 43);
	assert_int_equal(s.last.expires, 6000);
	assert_int_equal(s.last.q, 500);
	assert_int_equal(s.last.reg_id, 1);
	assert_int_equal(s.last.methods, 0x6);
	assert_int_equal(s.last.flags, STORE_FL_NAT);
	assert_int_equal(s.last.proto, 1);
	assert_string_equal(s.last_path, "<sip:edge.example.com;lr>");
	assert_string_equal(s.last_inst, "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"");
	assert_string_equal(s.last_rcv, "sip:192.0.2.7:40000");
	store_close(st);
}

static void test_delete_and_purge(void **state)
{
	struct store *st;
	struct store_op ops[4];
	unsigned long cnt = 0;

	(void)state;
	assert_int_equal(store_open(dburl, &st), 0);
	ops[0].kind = STORE_OP_UPSERT;
	ops[0].b = mk("sip:a@x", "sip:a1@h", 100);
	ops[1].kind = STORE_OP_UPSERT;
	ops[1].b = mk("sip:a@x", "sip:a2@h", 200);
	ops[2].kind = STORE_OP_UPSERT;
	ops[2].b = mk("sip:b@x", "sip:b1@h", 300);
	ops[3].kind = STORE_OP_UPSERT;
	ops[3].b = mk("sip:c@x", "sip:c1@h", 400);
	assert_int_equal(store_submit(st, ops, 4), 0);

	ops[0].kind = STORE_OP_DELETE;	/* one contact */
	ops[0].b = mk("sip:a@x", "sip:a2@h", 0);
	ops[1].kind = STORE_OP_DELETE_AOR;
	ops[1].b = mk("sip:c@x", "", 0);
	assert_int_equal(store_submit(st, ops, 2), 0);
	assert_int_equal(store_flush(st), 0);
	assert_int_equal(store_count(st, &cnt), 0);
	assert_int_equal(cnt, 2);	/* a1, b1 */

	ops[0].kind = STORE_OP_PURGE;
	ops[0].b = mk("", "", 100);	/* expires <= 100 goes */
	assert_int_equal(store_submit(st, ops, 1), 0);
	assert_int_equal(store_flush(st), 0);
	assert_int_equal(store_count(st, &cnt), 0);
	assert_int_equal(cnt, 1);	/* b1 */
	store_close(st);
}

static int stop_at_first(const struct store_binding *b, void *arg)
{
	(void)b;
	(*(int *)arg)++;
	return EINTR;
}

static void test_load_cb_stops(void **state)
{
	struct store *st;
	struct store_op ops[2];
	int calls = 0;

	(void)state;
	assert_int_equal(store_open(dburl, &st), 0);
	ops[0].kind = STORE_OP_UPSERT;
	ops[0].b = mk("sip:a@x", "sip:1@h", 1000);
	ops[1].kind = STORE_OP_UPSERT;
	ops[1].b = mk("sip:a@x", "sip:2@h", 1000);
	assert_int_equal(store_submit(st, ops, 2), 0);
	assert_int_equal(store_flush(st), 0);
	assert_int_equal(store_load(st, 0, stop_at_first, &calls), EINTR);
	assert_int_equal(calls, 1);
	assert_int_equal(store_submit(st, NULL, 1), EINVAL);
	assert_int_equal(store_submit(st, ops, 0), 0);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_copy),
		cmocka_unit_test_setup_teardown(test_bad_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_creates_parent_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_cb_stops, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
