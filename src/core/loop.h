/* loop.h: the per-worker event loop (epoll) and its timing wheel.
 * Every worker thread owns one loop; fds and timers registered on a loop are touched only by
 * that worker. Cross-worker work goes through sy_worker_post() (the inbox). */
#ifndef SY_LOOP_H
#define SY_LOOP_H

#include <stdint.h>

struct sy_loop;
struct sy_timer;

typedef void (*sy_fd_cb)(struct sy_loop *l, int fd, uint32_t events, void *arg);
typedef void (*sy_timer_cb)(struct sy_timer *t, void *arg);

/* an intrusive timer: embed it in the object it times (transaction, connection) */
struct sy_timer {
	struct sy_timer *next, *prev;	/* wheel slot list; NULL when not armed */
	uint64_t expires;		/* absolute ms (sy_now_ms clock) */
	sy_timer_cb cb;
	void *arg;
};

/* monotonic milliseconds, cached once per loop iteration */
uint64_t sy_now_ms(void);

/* arm (or re-arm) t to fire after ms; disarm; both O(1) */
void sy_timer_start(struct sy_loop *l, struct sy_timer *t, uint64_t ms, sy_timer_cb cb, void *arg);
void sy_timer_stop(struct sy_loop *l, struct sy_timer *t);
static inline int sy_timer_armed(const struct sy_timer *t) { return t->prev != 0; }

/* register an fd for EPOLLIN (and EPOLLOUT when asked); return 0 or errno */
int sy_loop_add_fd(struct sy_loop *l, int fd, uint32_t events, sy_fd_cb cb, void *arg);
int sy_loop_mod_fd(struct sy_loop *l, int fd, uint32_t events, sy_fd_cb cb, void *arg);
void sy_loop_del_fd(struct sy_loop *l, int fd);

/* create/destroy a loop for the calling thread (workers do this at start; tests too) */
struct sy_loop *sy_loop_new(int worker_idx);
void sy_loop_free(struct sy_loop *l);
/* one epoll wait (timeout bounded by the next timer) plus due timers and inbox items */
int sy_loop_run_once(struct sy_loop *l, int max_wait_ms);

/* tests: replace the clock (NULL restores CLOCK_MONOTONIC) and fire every timer due at now */
void sy_clock_set(uint64_t (*now_fn)(void));
void sy_loop_fire_timers(struct sy_loop *l);

/* the loop of the calling worker thread (NULL outside workers) and its index */
struct sy_loop *sy_loop_self(void);
int sy_worker_self(void);
int sy_worker_count(void);

/* run fn(arg) on worker w's thread, in order of posting; 0 or ENOMEM/EINVAL */
int sy_worker_post(int w, void (*fn)(void *arg), void *arg);
/* The same without an allocation: the caller embeds a struct sy_post in the object it hands
 * over (set fn/arg, leave the rest to the loop); it must stay valid until fn has run, and fn
 * may free it. 0 or EINVAL (no such worker). */
struct sy_post {
	struct sy_post *next;
	void (*fn)(void *arg);
	void *arg;
	int loop_owned;		/* set by sy_worker_post: the loop frees it after fn */
};
int sy_worker_post_item(int w, struct sy_post *item);
/* wake worker w's loop (a no-op post), e.g. after setting a flag it checks; 0 or EINVAL/ENOMEM */
int sy_loop_wake(int w);

#endif
