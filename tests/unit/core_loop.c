/* core_loop.c: the event loop's timing wheel under a fake clock (order, cancel, re-arm, many
 * timers, far timers across wheel revolutions) and the inbox across two threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/worker.h"

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

#define NREC 4096
static int fired[NREC];
static unsigned nfired;

static void rec_cb(struct sy_timer *t, void *arg)
{
	(void)t;
	if (nfired < NREC)
		fired[nfired++] = (int)(intptr_t)arg;
}

static int setup(void **state)
{
	fake_now = 1000000;
	sy_clock_set(fake_clock);
	nfired = 0;
	*state = sy_loop_new(-1);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	sy_loop_free(*state);
	sy_clock_set(NULL);
	return 0;
}

static void advance(struct sy_loop *l, uint64_t ms)
{
	fake_now += ms;
	sy_loop_fire_timers(l);
}

static void test_order(void **state)
{
	struct sy_loop *l = *state;
	struct sy_timer t[4] = { { 0 } };

	sy_timer_start(l, &t[0], 30, rec_cb, (void *)(intptr_t)3);
	sy_timer_start(l, &t[1], 10, rec_cb, (void *)(intptr_t)1);
	sy_timer_start(l, &t[2], 20, rec_cb, (void *)(intptr_t)2);
	sy_timer_start(l, &t[3], 10, rec_cb, (void *)(intptr_t)11);	/* same ms: FIFO */
	assert_true(sy_timer_armed(&t[0]));
	advance(l, 9);
	assert_int_equal(nfired, 0);
	advance(l, 15);	/* one jump over two ms with timers: still in order of expiry */
	assert_int_equal(nfired, 3);
	assert_int_equal(fired[0], 1);
	assert_int_equal(fired[1], 11);
	assert_int_equal(fired[2], 2);
	assert_false(sy_timer_armed(&t[1]));
	assert_true(sy_timer_armed(&t[0]));
	advance(l, 100);
	assert_int_equal(nfired, 4);
	assert_int_equal(fired[3], 3);
	assert_false(sy_timer_armed(&t[0]));
}

static void test_cancel_rearm(void **state)
{
	struct sy_loop *l = *state;
	struct sy_timer a = { 0 }, b = { 0 };

	sy_timer_start(l, &a, 50, rec_cb, (void *)(intptr_t)1);
	sy_timer_start(l, &b, 60, rec_cb, (void *)(intptr_t)2);
	sy_timer_stop(l, &a);
	sy_timer_stop(l, &a);	/* stopping twice is harmless */
	assert_false(sy_timer_armed(&a));
	advance(l, 55);
	assert_int_equal(nfired, 0);
	sy_timer_start(l, &b, 100, rec_cb, (void *)(intptr_t)3);	/* re-arm moves it */
	advance(l, 10);
	assert_int_equal(nfired, 0);
	advance(l, 89);
	assert_int_equal(nfired, 0);
	advance(l, 1);
	assert_int_equal(nfired, 1);
	assert_int_equal(fired[0], 3);
}

/* a callback that re-arms its own timer: periodic */
static int periodic_runs;
static struct sy_loop *periodic_loop;
static void periodic_cb(struct sy_timer *t, void *arg)
{
	(void)arg;
	periodic_runs++;
	if (periodic_runs < 5)
		sy_timer_start(periodic_loop, t, 100, periodic_cb, NULL);
}

static void test_rearm_from_callback(void **state)
{
	struct sy_loop *l = *state;
	struct sy_timer t = { 0 };
	int i;

	periodic_loop = l;
	periodic_runs = 0;
	sy_timer_start(l, &t, 100, periodic_cb, NULL);
	for (i = 0; i < 10; i++)
		advance(l, 100);
	assert_int_equal(periodic_runs, 5);
	assert_false(sy_timer_armed(&t));
}

/* a callback that stops another timer due in the same tick: that one must not fire */
static struct sy_timer *victim;
static void killer_cb(struct sy_timer *t, void *arg)
{
	rec_cb(t, arg);
	sy_timer_stop(periodic_loop, victim);
}

static void test_stop_from_callback(void **state)
{
	struct sy_loop *l = *state;
	struct sy_timer a = { 0 }, b = { 0 };

	periodic_loop = l;
	victim = &b;
	sy_timer_start(l, &a, 5, killer_cb, (void *)(intptr_t)1);
	sy_timer_start(l, &b, 5, rec_cb, (void *)(intptr_t)2);
	advance(l, 5);
	assert_int_equal(nfired, 1);
	assert_int_equal(fired[0], 1);
	assert_false(sy_timer_armed(&b));
}

static void test_many_and_far(void **state)
{
	struct sy_loop *l = *state;
	struct sy_timer *t = calloc(NREC, sizeof(*t));
	unsigned i;

	assert_non_null(t);
	/* spread over several wheel revolutions (the wheel is 4096 ms) */
	for (i = 0; i < NREC; i++)
		sy_timer_start(l, &t[i], (uint64_t)(NREC - i) * 7u, rec_cb, (void *)(intptr_t)i);
	advance(l, 7);
	assert_int_equal(nfired, 1);
	assert_int_equal(fired[0], NREC - 1);
	for (i = 0; i < 100; i++)
		sy_timer_stop(l, &t[i]);	/* the 100 latest */
	advance(l, (uint64_t)NREC * 7u);
	assert_int_equal(nfired, NREC - 100);
	for (i = 1; i < nfired; i++)
		assert_true(fired[i] < fired[i - 1]);	/* strictly in order of expiry */
	free(t);
}

static void test_far_timer_not_early(void **state)
{
	struct sy_loop *l = *state;
	struct sy_timer t = { 0 };

	sy_timer_start(l, &t, 120000, rec_cb, (void *)(intptr_t)7);	/* 29+ revolutions */
	advance(l, 4096);
	advance(l, 4096 * 10);
	advance(l, 119999 - 4096 * 11);
	assert_int_equal(nfired, 0);
	advance(l, 1);
	assert_int_equal(nfired, 1);
}

/* ---- inbox across threads */

struct inbox_test {
	pthread_mutex_t mu;
	int got[1000];
	int n;
	int ready;
	volatile int stop;
};
static struct inbox_test it;

static void on_item(void *arg)
{
	it.got[it.n++] = (int)(intptr_t)arg;	/* runs on the receiving thread only */
}

static void on_stop(void *arg)
{
	(void)arg;
	it.stop = 1;
}

static void *receiver(void *p)
{
	struct sy_loop *l = sy_loop_new(1);

	(void)p;
	pthread_mutex_lock(&it.mu);
	it.ready = 1;
	pthread_mutex_unlock(&it.mu);
	while (!it.stop)
		sy_loop_run_once(l, 1000);
	sy_loop_free(l);
	return NULL;
}

static struct sy_post items[1000];

static void test_inbox_two_threads(void **state)
{
	pthread_t th;
	int i, ready = 0;

	(void)state;
	sy_clock_set(NULL);
	pthread_mutex_init(&it.mu, NULL);
	assert_int_equal(pthread_create(&th, NULL, receiver, NULL), 0);
	while (!ready) {
		pthread_mutex_lock(&it.mu);
		ready = it.ready;
		pthread_mutex_unlock(&it.mu);
		usleep(1000);
	}
	assert_int_equal(sy_worker_post(1, NULL, NULL), EINVAL);
	assert_int_equal(sy_worker_post(77, on_item, NULL), EINVAL);	/* no such worker */
	for (i = 0; i < 1000; i++) {
		if (i % 3 == 0) {	/* every third one without an allocation, same queue */
			items[i].fn = on_item;
			items[i].arg = (void *)(intptr_t)i;
			items[i].loop_owned = 0;
			assert_int_equal(sy_worker_post_item(1, &items[i]), 0);
		} else {
			assert_int_equal(sy_worker_post(1, on_item, (void *)(intptr_t)i), 0);
		}
	}
	assert_int_equal(sy_worker_post(1, on_stop, NULL), 0);
	pthread_join(th, NULL);
	assert_int_equal(it.n, 1000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(it.got[i], i);	/* in order of posting */
	assert_true(sy_worker_count() >= 2);
}

/* ---- worker threads: start, each has its own loop and arena, stop */
static int inits[4];
static int init_cb(struct sy_loop *l, int idx, void *arg)
{
	(void)arg;
	if (l != sy_loop_self() || idx != sy_worker_self() || !sy_worker_arena())
		return EINVAL;
	__atomic_fetch_add(&inits[idx], 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int fail_cb(struct sy_loop *l, int idx, void *arg)
{
	(void)l;
	(void)arg;
	return idx == 1 ? EADDRINUSE : 0;
}

static void test_workers(void **state)
{
	(void)state;
	sy_clock_set(NULL);
	assert_int_equal(sy_workers_start(3, init_cb, NULL, NULL), 0);
	assert_int_equal(inits[0] + inits[1] + inits[2], 3);
	sy_workers_stop();
	assert_int_equal(sy_workers_start(2, fail_cb, NULL, NULL), EADDRINUSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_rearm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rearm_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_and_far, setup, teardown),
		cmocka_unit_test_setup_teardown(test_far_timer_not_early, setup, teardown),
		cmocka_unit_test(test_inbox_two_threads),
		cmocka_unit_test(test_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
