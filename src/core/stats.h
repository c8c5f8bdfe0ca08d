/* stats.h: the process's counters, read by the management listener (src/mgmt, docs/mgmt.md).
 * Every worker thread owns one struct sy_stats, cache-line aligned, that only it writes: an
 * increment is a relaxed load and store on the worker's own line (no lock, no locked add, no
 * line shared with another writer). Threads that are not workers (main at start-up, helper
 * threads, tests) share one extra block with atomic adds. A reader sums every block with
 * relaxed loads; a reset moves a per-counter base instead of writing the workers' blocks.
 * Each worker also stamps a heartbeat (ms) every time its loop turns, for GET /health. */
#ifndef SY_STATS_H
#define SY_STATS_H

#include <stdint.h>

/* the counters; names on the wire are in src/mgmt/stats.c */
enum sy_stat {
	SY_ST_RCV_REQUESTS,	/* core: requests that parsed */
	SY_ST_RCV_REPLIES,	/* core: replies that parsed */
	SY_ST_FWD_REQUESTS,	/* core: requests forwarded statelessly (forward()) */
	SY_ST_FWD_REPLIES,	/* core: replies relayed statelessly by Via */
	SY_ST_DROP_REQUESTS,	/* core: requests discarded (bad ACK, drop in the route) */
	SY_ST_DROP_REPLIES,	/* core: replies discarded (malformed, not ours, dropped) */
	SY_ST_BAD_MSG,		/* core: messages that did not parse (requests got 400/505/513) */
	SY_ST_SL_1XX,		/* sl: stateless replies sent, by class: 1xx .. 6xx */
	SY_ST_SL_6XX = SY_ST_SL_1XX + 5,
	SY_ST_TM_UAS,		/* tm: server transactions created */
	SY_ST_TM_UAC,		/* tm: client transactions (branches) created */
	SY_ST_TM_RCV_REPLIES,	/* tm: replies matched to a branch */
	SY_ST_TM_RELAYED_1XX,	/* tm: replies relayed upstream, by class */
	SY_ST_TM_RELAYED_6XX = SY_ST_TM_RELAYED_1XX + 5,
	SY_ST_TM_LOCAL_1XX,	/* tm: replies generated locally and sent upstream, by class */
	SY_ST_TM_LOCAL_6XX = SY_ST_TM_LOCAL_1XX + 5,
	SY_ST_TM_FINAL_1XX,	/* tm: transactions by the class of their (first) final reply;
				 * the 1xx slot stays 0 */
	SY_ST_TM_FINAL_6XX = SY_ST_TM_FINAL_1XX + 5,
	SY_ST_TM_LOCAL_408,	/* tm: local 408 (a branch timed out, or t_reply(408)) */
	SY_ST_REG_ACCEPTED,	/* registrar: REGISTERs answered 200 */
	SY_ST_REG_REJECTED,	/* registrar: REGISTERs answered with an error */
	SY_ST_COUNT
};

#define SY_STATS_SLOTS 256	/* worker indexes 0..255 (the loop registry's limit) */

struct sy_stats {
	_Alignas(64) uint64_t v[SY_ST_COUNT];
	uint64_t beat_ms;	/* sy_now_ms() when the loop last turned; 0: never */
	int tid;		/* kernel thread id of the worker (MI ps), 0: no worker */
};

extern struct sy_stats sy_stats_tab[SY_STATS_SLOTS];
extern struct sy_stats sy_stats_shared;
extern _Thread_local struct sy_stats *sy_stats_mine;

/* the hot path: a plain add on the calling worker's own block (other threads: atomic add) */
static inline void sy_stat_add(enum sy_stat s, uint64_t n)
{
	struct sy_stats *st = sy_stats_mine;

	if (st)
		__atomic_store_n(&st->v[s], __atomic_load_n(&st->v[s], __ATOMIC_RELAXED) + n,
				 __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&sy_stats_shared.v[s], n, __ATOMIC_RELAXED);
}

static inline void sy_stat_inc(enum sy_stat s)
{
	sy_stat_add(s, 1);
}

/* base + the class of a status code (1xx -> base, 6xx -> base + 5); codes outside 100..699
 * count nowhere */
static inline void sy_stat_class(enum sy_stat base, unsigned code)
{
	if (code >= 100 && code < 700)
		sy_stat_inc((enum sy_stat)(base + code / 100 - 1));
}

/* the calling thread becomes worker idx's writer (worker start; idx < SY_STATS_SLOTS), or
 * stops being one (idx < 0) */
void sy_stats_bind(int idx);
/* the calling worker's heartbeat: its loop turned at now_ms */
static inline void sy_stats_beat(uint64_t now_ms)
{
	if (sy_stats_mine)
		__atomic_store_n(&sy_stats_mine->beat_ms, now_ms, __ATOMIC_RELAXED);
}

/* readers (any thread): the sum over every block minus the last reset's base */
uint64_t sy_stat_get(enum sy_stat s);
/* make s read 0 from now on (the workers' blocks are not written) */
void sy_stat_reset(enum sy_stat s);
/* worker idx's heartbeat (0: never turned) and thread id (0: none) */
uint64_t sy_stats_beat_of(int idx);
int sy_stats_tid_of(int idx);

/* How long a worker's epoll_wait may sleep at most: -1 (default) waits for fds and timers
 * only; the management listener sets it (at load, before workers start) so an idle loop still
 * turns and stamps its heartbeat. */
extern int sy_worker_max_wait_ms;

#endif
