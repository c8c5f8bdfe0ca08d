/* worker.h: the worker threads. Each worker owns one sy_loop, one per-message arena and the
 * sockets its init callback opens; it runs until sy_workers_stop(). */
#ifndef SY_WORKER_H
#define SY_WORKER_H

#include "core/arena.h"
#include "core/loop.h"

#define SY_ARENA_SIZE (256u * 1024u)	/* per-message scratch of one worker */

/* per-worker set-up on the worker's own thread, before it serves: 0 or errno (start fails) */
typedef int (*sy_worker_init_fn)(struct sy_loop *l, int idx, void *arg);
/* per-worker tear-down on the worker's thread after its loop stopped; may be NULL */
typedef void (*sy_worker_fini_fn)(struct sy_loop *l, int idx, void *arg);

/* Start n workers (n <= 0: number of online CPUs) and wait until every init returned.
 * 0, or the first init's errno (then every started worker has been stopped and joined). */
int sy_workers_start(int n, sy_worker_init_fn init, sy_worker_fini_fn fini, void *arg);
/* ask every worker to stop (any thread; not from a signal handler) and wait for them */
void sy_workers_stop(void);
/* the number of online CPUs (at least 1) */
int sy_cpu_count(void);

/* the calling thread's per-message arena (allocated on first use, SY_ARENA_SIZE); NULL only
 * when that first allocation fails. Reset it when a message is done. */
struct sy_arena *sy_worker_arena(void);
/* free the calling thread's arena (thread exit) */
void sy_worker_arena_free(void);

#endif
