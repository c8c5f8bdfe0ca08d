/* store_redis.c: the Redis location store's logic: the binding encoding (round trip of every
 * field with odd bytes and extreme numbers, refusal of anything that is not exactly one
 * encoding), URL checks, and the store against a real redis-server started on a free port:
 * submit + flush + load + count, a second store's subscriber seeing the first one's changes
 * (and not its own). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

static const char odd_path[] = "<sip:p1;lr>,<sip:p2\0;x=\"a;b:c\">";
static const char odd_ua[] = "UA 1:2;3\r\n\xff\xfe\x00end";

static struct store_binding full_binding(void)
{
	struct store_binding b;

	memset(&b, 0, sizeof(b));
	b.aor = sy_cstr("sip:alice@example.com");
	b.contact = sy_cstr("sip:alice@192.0.2.1:5062;transport=tcp;ob");
	b.received = sy_cstr("sip:198.51.100.7:40000;transport=tcp");
	b.path = sy_str_make(odd_path, sizeof(odd_path) - 1);
	b.callid = sy_cstr("12:34;56@host");
	b.user_agent = sy_str_make(odd_ua, sizeof(odd_ua) - 1);
	b.instance = sy_cstr("\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"");
	b.cseq = UINT32_MAX;
	b.reg_id = 7;
	b.expires = INT64_MIN;
	b.q = -1;
	b.methods = 0x80000001u;
	b.flags = STORE_FL_NAT;
	b.proto = 2;
	b.last_modified = INT64_MAX;
	b.conn_id = 99;		/* memory only: not encoded */
	b.listen_idx = 3;
	return b;
}

static void assert_same(const struct store_binding *a, const struct store_binding *b)
{
	assert_true(sy_str_eq(a->aor, b->aor));
	assert_true(sy_str_eq(a->contact, b->contact));
	assert_true(sy_str_eq(a->received, b->received));
	assert_true(sy_str_eq(a->path, b->path));
	assert_true(sy_str_eq(a->callid, b->callid));
	assert_true(sy_str_eq(a->user_agent, b->user_agent));
	assert_true(sy_str_eq(a->instance, b->instance));
	assert_int_equal(a->cseq, b->cseq);
	assert_int_equal(a->reg_id, b->reg_id);
	assert_true(a->expires == b->expires);
	assert_int_equal(a->q, b->q);
	assert_int_equal(a->methods, b->methods);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->proto, b->proto);
	assert_true(a->last_modified == b->last_modified);
}

static void test_round_trip(void **state)
{
	struct store_binding b = full_binding(), d;
	size_t cap = store_binding_enc_len(&b), n;
	char *buf = malloc(cap);

	(void)state;
	assert_non_null(buf);
	n = store_binding_encode(&b, buf, cap);
	assert_true(n > 0 && n <= cap);
	assert_int_equal(store_binding_decode(buf, n, &d), 0);
	assert_same(&b, &d);
	assert_true(d.conn_id == 0);
	assert_int_equal(d.listen_idx, -1);
	/* strings point into the buffer: zero copy */
	assert_true(d.path.s >= buf && d.path.s < buf + n);

	/* the other extremes, and every string empty */
	memset(&b, 0, sizeof(b));
	b.expires = INT64_MAX;
	b.last_modified = INT64_MIN;
	b.q = 1000;
	b.cseq = 0;
	n = store_binding_encode(&b, buf, cap);
	assert_true(n > 0);
	assert_int_equal(store_binding_decode(buf, n, &d), 0);
	assert_same(&b, &d);

	/* too small a buffer: 0, nothing claimed */
	b = full_binding();
	assert_int_equal(store_binding_encode(&b, buf, 10), 0);
	free(buf);
}

static void test_decode_refuses(void **state)
{
	struct store_binding b = full_binding(), d;
	size_t cap = store_binding_enc_len(&b), n, i;
	char *buf = malloc(cap + 1);
	static const char *bad[] = {
		"",
		"1",
		"2;1;0;0;0;0;0;0;0;0:0:0:0:0:0:0:",			/* unknown version */
		"1;1;0;0;0;0;0;0;0;0:0:0:0:0:0:",			/* one string short */
		"1;1;0;0;0;0;0;0;0;0:0:0:0:0:0:0:0:x",			/* trailing byte */
		"1;4294967296;0;0;0;0;0;0;0;0:0:0:0:0:0:0:",		/* cseq over 32 bits */
		"1;1;0;0;1001;0;0;0;0;0:0:0:0:0:0:0:",			/* q over 1000 */
		"1;1;0;0;-2;0;0;0;0;0:0:0:0:0:0:0:",			/* q under -1 */
		"1;1;0;9223372036854775808;0;0;0;0;0;0:0:0:0:0:0:0:",	/* expires overflows */
		"1;-1;0;0;0;0;0;0;0;0:0:0:0:0:0:0:",			/* negative cseq */
		"1;1;0;0;0;0;0;0;0;5:ab:0:0:0:0:0:0:",			/* length past the end */
		"1;1;0;0;0;0;0;0;0;99999999999999999999:0:0:0:0:0:0:",	/* length overflows */
		"1;;0;0;0;0;0;0;0;0:0:0:0:0:0:0:",			/* empty number */
		"1;1;0;0;0;0;0;256;0;0:0:0:0:0:0:0:",			/* proto out of range */
		"1;1 ;0;0;0;0;0;0;0;0:0:0:0:0:0:0:",			/* junk in a number */
	};

	(void)state;
	/* the reference: a well-formed minimal one decodes */
	assert_int_equal(store_binding_decode("1;1;0;0;0;0;0;0;0;0:0:0:0:0:0:0:", 32, &d), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(store_binding_decode(bad[i], strlen(bad[i]), &d), EBADMSG);
	/* every proper prefix of a real encoding is refused, and one byte more too */
	assert_non_null(buf);
	n = store_binding_encode(&b, buf, cap);
	for (i = 0; i < n; i++)
		assert_int_equal(store_binding_decode(buf, i, &d), EBADMSG);
	buf[n] = 'x';
	assert_int_equal(store_binding_decode(buf, n + 1, &d), EBADMSG);
	free(buf);
}

static void test_urls(void **state)
{
	const char *why = NULL;
	static const char *good[] = {
		"redis://127.0.0.1", "redis://127.0.0.1:6380", "redis://localhost:6379/2",
		"redis://h/", "sqlite:///tmp/x.db", "sqlite://rel.db",
	};
	static const char *bad[] = {
		"redis://", "redis://:6379", "redis://h:0", "redis://h:65536", "redis://h:x",
		"redis://h:1/x", "redis://h:1/-1", "redis://u:p@h", "redis://h?x=1", "redis://h:1x",
		"sqlite://", "mysql://h/db", "",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(store_url_check(good[i], &why), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(store_url_check(bad[i], &why), EINVAL);
		assert_non_null(why);
	}
}

/* ---- against a real redis-server */

static pid_t redis_pid;
static int redis_port;
static char redis_dir[64];

static int free_tcp_port(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), p;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &l) != 0)
		p = -1;
	else
		p = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return p;
}

static int port_open(int port)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static int redis_up(void **state)
{
	char port[16];
	int i;

	(void)state;
	redis_port = free_tcp_port();
	snprintf(redis_dir, sizeof(redis_dir), "/tmp/sy-redis-unit-%d", (int)getpid());
	mkdir(redis_dir, 0700);
	snprintf(port, sizeof(port), "%d", redis_port);
	redis_pid = fork();
	if (redis_pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--dir", redis_dir, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && !port_open(redis_port); i++)
		usleep(20000);
	return port_open(redis_port) ? 0 : -1;
}

static int redis_down(void **state)
{
	(void)state;
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
	}
	rmdir(redis_dir);
	return 0;
}

struct seen {
	int calls;
	unsigned last_n;
	char aor[64];
	char contact[64];
};

static int collect(const struct store_binding *b, void *arg)
{
	struct store_binding *out = arg;

	/* the strings die with the call: keep the numbers and check the strings here */
	assert_true(sy_str_eq(b->aor, sy_cstr("sip:bob@example.com")));
	*out = *b;
	out->aor = out->contact = out->received = out->path = sy_str_make("", 0);
	out->callid = out->user_agent = out->instance = sy_str_make("", 0);
	return 0;
}

static int on_aor(sy_str aor, const struct store_binding *b, unsigned n, void *arg)
{
	struct seen *s = arg;

	/* the subscriber's thread; the test thread polls calls */
	snprintf(s->aor, sizeof(s->aor), "%.*s", SY_FMT(aor));
	s->contact[0] = '\0';
	if (n)
		snprintf(s->contact, sizeof(s->contact), "%.*s", SY_FMT(b[0].contact));
	s->last_n = n;
	__atomic_add_fetch(&s->calls, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int wait_calls(struct seen *s, int n)
{
	int i;

	for (i = 0; i < 300 && __atomic_load_n(&s->calls, __ATOMIC_SEQ_CST) < n; i++)
		usleep(10000);
	return __atomic_load_n(&s->calls, __ATOMIC_SEQ_CST);
}

static void test_live(void **state)
{
	char url[64];
	struct store *a = NULL, *b = NULL;
	struct store_op op;
	struct store_binding got;
	struct seen sb = { 0 }, sa = { 0 };
	unsigned long count = 0;
	int base;

	(void)state;
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/5", redis_port);
	assert_int_equal(store_open(url, &a), 0);
	assert_int_equal(store_open(url, &b), 0);
	assert_int_equal(store_watch(a, on_aor, &sa), 0);
	assert_int_equal(store_watch(b, on_aor, &sb), 0);
	/* each subscriber's first pass over an empty store: no AOR */
	usleep(300000);
	base = sb.calls;
	assert_int_equal(base, 0);

	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_UPSERT;
	op.b = full_binding();
	op.b.aor = sy_cstr("sip:bob@example.com");
	op.b.contact = sy_cstr("sip:bob@192.0.2.9");
	op.b.expires = (int64_t)time(NULL) + 300;
	assert_int_equal(store_submit(a, &op, 1), 0);
	assert_int_equal(store_flush(a), 0);

	/* b's subscriber gets it, a's does not (its own write) */
	assert_int_equal(wait_calls(&sb, 1), 1);
	assert_string_equal(sb.aor, "sip:bob@example.com");
	assert_string_equal(sb.contact, "sip:bob@192.0.2.9");
	assert_int_equal(sb.last_n, 1);
	usleep(200000);
	assert_int_equal(sa.calls, 0);

	/* the start-up read sees it with every number intact */
	memset(&got, 0, sizeof(got));
	assert_int_equal(store_load(b, (int64_t)time(NULL), collect, &got), 0);
	assert_int_equal(got.cseq, UINT32_MAX);
	assert_int_equal(got.methods, 0x80000001u);
	assert_true(got.expires == op.b.expires);
	assert_int_equal(store_count(b, &count), 0);
	assert_int_equal(count, 1);
	/* a load with "now" past the expiry skips it */
	memset(&got, 0, sizeof(got));
	assert_int_equal(store_load(b, op.b.expires, collect, &got), 0);
	assert_int_equal(got.cseq, 0);

	/* a purge has nothing to do in Redis (keys expire), a removal reaches b as "none left" */
	op.kind = STORE_OP_PURGE;
	assert_int_equal(store_submit(a, &op, 1), 0);
	op.kind = STORE_OP_DELETE;
	assert_int_equal(store_submit(a, &op, 1), 0);
	assert_int_equal(store_flush(a), 0);
	assert_int_equal(wait_calls(&sb, 2), 2);
	assert_int_equal(sb.last_n, 0);
	assert_int_equal(store_count(b, &count), 0);
	assert_int_equal(count, 0);

	/* MI ul_rm's whole-AOR removal: the key goes, b hears of it */
	op.kind = STORE_OP_UPSERT;
	assert_int_equal(store_submit(a, &op, 1), 0);
	op.kind = STORE_OP_DELETE_AOR;
	assert_int_equal(store_submit(a, &op, 1), 0);
	assert_int_equal(store_flush(a), 0);
	assert_int_equal(wait_calls(&sb, 4), 4);
	assert_int_equal(sb.last_n, 0);
	assert_int_equal(store_count(b, &count), 0);
	assert_int_equal(count, 0);

	store_close(a);
	store_close(b);
}

static void test_unreachable(void **state)
{
	char url[64];
	struct store *st = NULL;
	struct store_binding got;
	struct store_op op;
	int port = free_tcp_port();

	(void)state;
	/* nothing listens there: open and load still succeed (the node starts from memory),
	 * writes queue, close drops them without hanging */
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
	assert_int_equal(store_open(url, &st), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(store_load(st, 0, collect, &got), 0);
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_UPSERT;
	op.b = full_binding();
	op.b.aor = sy_cstr("sip:bob@example.com");
	assert_int_equal(store_submit(st, &op, 1), 0);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_unreachable),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_live),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed + cmocka_run_group_tests(live, redis_up, redis_down);
}
