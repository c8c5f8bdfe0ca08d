/* worker.c: starts the worker threads, each with its own loop and arena, and stops them.
 * Start-up is synchronous: sy_workers_start() returns once every worker has run its init
 * (opened its sockets) or one failed, so the process either serves on every listen or exits.
 * Stop: a flag every loop checks after each iteration, plus a wake-up post to each loop. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/stats.h"
#include "core/worker.h"

struct worker {
	pthread_t th;
	int idx;
	int started;
};

static struct worker *workers;
static int nstarted;
static volatile int stop_flag;

static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cv = PTHREAD_COND_INITIALIZER;
static int nready, first_err;

static sy_worker_init_fn w_init;
static sy_worker_fini_fn w_fini;
static void *w_arg;

static _Thread_local struct sy_arena *tl_arena;

int sy_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

struct sy_arena *sy_worker_arena(void)
{
	if (!tl_arena) {
		struct sy_arena *a = malloc(sizeof(*a) + SY_ARENA_SIZE);

		if (!a)
			return NULL;
		sy_arena_init(a, a + 1, SY_ARENA_SIZE);
		tl_arena = a;
	}
	return tl_arena;
}

void sy_worker_arena_free(void)
{
	free(tl_arena);
	tl_arena = NULL;
}

static void report_ready(int err)
{
	pthread_mutex_lock(&start_mu);
	nready++;
	if (err && !first_err)
		first_err = err;
	pthread_cond_broadcast(&start_cv);
	pthread_mutex_unlock(&start_mu);
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct sy_loop *l = sy_loop_new(w->idx);
	int rc = l ? 0 : ENOMEM;

	if (!rc && !sy_worker_arena())
		rc = ENOMEM;
	sy_stats_bind(w->idx);	/* this thread writes counter block idx (core/stats.h) */
	if (!rc && w_init)
		rc = w_init(l, w->idx, w_arg);
	report_ready(rc);
	if (!rc) {
		/* wait for the others: a failed start stops everyone before any traffic */
		pthread_mutex_lock(&start_mu);
		while (nready < nstarted && !stop_flag)
			pthread_cond_wait(&start_cv, &start_mu);
		pthread_mutex_unlock(&start_mu);
		while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
			/* no periodic wake-up (unless the management listener asked for one, so
			 * that the heartbeat of an idle loop stays fresh): timers bound the wait,
			 * a stop wakes us by the inbox */
			int e;

			sy_stats_beat(sy_now_ms());
			e = sy_loop_run_once(l, sy_worker_max_wait_ms);

			if (e) {
				LOG_ERR("worker %d: event loop failed: %s", w->idx, strerror(e));
				break;
			}
		}
		if (w_fini)
			w_fini(l, w->idx, w_arg);
	}
	sy_stats_bind(-1);
	sy_loop_free(l);
	sy_worker_arena_free();
	return NULL;
}

static void stop_and_join(void)
{
	int i;

	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&start_mu);
	pthread_cond_broadcast(&start_cv);
	pthread_mutex_unlock(&start_mu);
	for (i = 0; i < nstarted; i++)
		sy_loop_wake(workers[i].idx);
	for (i = 0; i < nstarted; i++)
		pthread_join(workers[i].th, NULL);
	free(workers);
	workers = NULL;
	nstarted = 0;
}

int sy_workers_start(int n, sy_worker_init_fn init, sy_worker_fini_fn fini, void *arg)
{
	int i, rc = 0;

	if (n <= 0)
		n = sy_cpu_count();
	if (n > 256)
		return EINVAL;
	workers = calloc((size_t)n, sizeof(*workers));
	if (!workers)
		return ENOMEM;
	w_init = init;
	w_fini = fini;
	w_arg = arg;
	stop_flag = 0;
	nready = 0;
	first_err = 0;
	pthread_mutex_lock(&start_mu);
	for (i = 0; i < n; i++) {
		workers[i].idx = i;
		rc = pthread_create(&workers[i].th, NULL, worker_main, &workers[i]);
		if (rc)
			break;
		nstarted++;
	}
	/* workers wait for nready == nstarted, so a failed pthread_create leaves no one waiting */
	pthread_cond_broadcast(&start_cv);
	while (nready < nstarted)
		pthread_cond_wait(&start_cv, &start_mu);
	if (!rc)
		rc = first_err;
	pthread_mutex_unlock(&start_mu);
	if (rc) {
		LOG_ERR("cannot start %d workers: %s", n, strerror(rc));
		stop_and_join();
	}
	return rc;
}

void sy_workers_stop(void)
{
	if (workers)
		stop_and_join();
}
