/* stats.c: the counter blocks of core/stats.h and their reader side. Writers never lock; the
 * reader sums relaxed loads (a 64-bit load is atomic on the targets we build for, so a sum
 * may miss an increment in flight, never tear one). Resets keep a base per counter under a
 * mutex, because only readers (the management thread, tests) ever touch it. */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/stats.h"

struct sy_stats sy_stats_tab[SY_STATS_SLOTS];
struct sy_stats sy_stats_shared;
_Thread_local struct sy_stats *sy_stats_mine;
int sy_worker_max_wait_ms = -1;

static uint64_t base[SY_ST_COUNT];
static pthread_mutex_t base_mu = PTHREAD_MUTEX_INITIALIZER;

void sy_stats_bind(int idx)
{
	if (idx < 0 || idx >= SY_STATS_SLOTS) {
		if (sy_stats_mine)
			__atomic_store_n(&sy_stats_mine->tid, 0, __ATOMIC_RELAXED);
		sy_stats_mine = NULL;
		return;
	}
	sy_stats_mine = &sy_stats_tab[idx];
	__atomic_store_n(&sy_stats_mine->tid, (int)syscall(SYS_gettid), __ATOMIC_RELAXED);
}

static uint64_t sum(enum sy_stat s)
{
	uint64_t n = __atomic_load_n(&sy_stats_shared.v[s], __ATOMIC_RELAXED);
	unsigned i;

	for (i = 0; i < SY_STATS_SLOTS; i++)
		n += __atomic_load_n(&sy_stats_tab[i].v[s], __ATOMIC_RELAXED);
	return n;
}

uint64_t sy_stat_get(enum sy_stat s)
{
	uint64_t n, b;

	if ((unsigned)s >= SY_ST_COUNT)
		return 0;
	n = sum(s);
	pthread_mutex_lock(&base_mu);
	b = base[s];
	pthread_mutex_unlock(&base_mu);
	/* counters only grow, so n >= b; a sum racing a reset can be a little behind it */
	return n >= b ? n - b : 0;
}

void sy_stat_reset(enum sy_stat s)
{
	if ((unsigned)s >= SY_ST_COUNT)
		return;
	pthread_mutex_lock(&base_mu);
	base[s] = sum(s);
	pthread_mutex_unlock(&base_mu);
}

uint64_t sy_stats_beat_of(int idx)
{
	if (idx < 0 || idx >= SY_STATS_SLOTS)
		return 0;
	return __atomic_load_n(&sy_stats_tab[idx].beat_ms, __ATOMIC_RELAXED);
}

int sy_stats_tid_of(int idx)
{
	if (idx < 0 || idx >= SY_STATS_SLOTS)
		return 0;
	return __atomic_load_n(&sy_stats_tab[idx].tid, __ATOMIC_RELAXED);
}
