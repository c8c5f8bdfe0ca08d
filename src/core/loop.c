/* loop.c: the per-worker event loop: epoll for fds, a hashed timing wheel (1 ms ticks) for
 * timers, and the inbox through which other threads hand work to this loop's worker.
 *
 * Timing wheel: SY_WHEEL_SLOTS slots of one millisecond; a timer lives in slot
 * (expires % SY_WHEEL_SLOTS), so start/stop are O(1) list operations. A timer more than one
 * revolution away stays in its slot and is skipped until the revolution it is due in. Ticks are
 * processed in order, so timers fire in order of expiry (FIFO within one millisecond).
 *
 * Inbox: a mutex-protected FIFO plus an eventfd. The mutex is held only to link or unlink items
 * (never while running them); a post to an empty queue writes the eventfd, which wakes the
 * owner's epoll_wait. See docs/internals.md. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"

#define SY_WHEEL_SLOTS 4096u	/* power of two: 4 s per revolution */
#define SY_WHEEL_MASK (SY_WHEEL_SLOTS - 1u)
#define SY_MAX_WORKERS 256
#define SY_EPOLL_BATCH 64
#define SY_TIMER_SCAN 256	/* slots looked ahead to bound epoll_wait */

struct fd_ent {
	sy_fd_cb cb;
	void *arg;
};

struct sy_loop {
	int epfd;
	int evfd;		/* inbox wake-up */
	int worker_idx;
	struct fd_ent *fds;	/* indexed by fd; grown when an fd is added */
	int nfds;

	uint64_t tick;		/* last ms whose slot was processed */
	unsigned ntimers;	/* armed timers */
	struct sy_timer slot[SY_WHEEL_SLOTS];	/* circular list heads */
	/* one bit per non-empty slot: the wheel jumps over empty milliseconds instead of
	 * visiting each (at low traffic most of the loop's work was walking empty slots) */
	uint64_t occ[SY_WHEEL_SLOTS / 64];

	pthread_mutex_t inbox_mu;
	struct sy_post *in_head, *in_tail;
};

static uint64_t (*clock_fn)(void);
static _Thread_local uint64_t now_cache;	/* refreshed after every epoll_wait */
static _Thread_local struct sy_loop *self_loop;
static _Thread_local int self_idx = -1;

/* registry of worker loops for sy_worker_post(): written under reg_mu when a loop is created or
 * freed, read lock-free (atomic loads) by posters */
static struct sy_loop *loops[SY_MAX_WORKERS];
static int nworkers;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sy_now_ms(void)
{
	if (clock_fn)
		return clock_fn();
	return now_cache ? now_cache : mono_ms();
}

void sy_clock_set(uint64_t (*now_fn)(void))
{
	clock_fn = now_fn;
	now_cache = 0;
}

static void refresh_now(void)
{
	now_cache = clock_fn ? clock_fn() : mono_ms();
}

/* ---- timers */

static void list_unlink(struct sy_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

static void list_append(struct sy_timer *head, struct sy_timer *t)
{
	t->prev = head->prev;
	t->next = head;
	head->prev->next = t;
	head->prev = t;
}

static void occ_set(struct sy_loop *l, unsigned idx)
{
	l->occ[idx >> 6] |= 1ull << (idx & 63u);
}

/* after a timer left the list at head: clear the slot's bit if that emptied it */
static void occ_update(struct sy_loop *l, const struct sy_timer *head)
{
	if (head->next == head && head >= l->slot && head < l->slot + SY_WHEEL_SLOTS) {
		unsigned idx = (unsigned)(head - l->slot);

		l->occ[idx >> 6] &= ~(1ull << (idx & 63u));
	}
}

/* smallest k in 1..maxd whose slot (from + k) is non-empty, 0 when none */
static uint64_t next_occ(const struct sy_loop *l, uint64_t from, uint64_t maxd)
{
	uint64_t k = 1;

	if (maxd > SY_WHEEL_SLOTS)
		maxd = SY_WHEEL_SLOTS;
	while (k <= maxd) {
		unsigned idx = (unsigned)((from + k) & SY_WHEEL_MASK);
		uint64_t w = l->occ[idx >> 6] >> (idx & 63u);

		if (w) {
			k += (uint64_t)__builtin_ctzll(w);
			return k <= maxd ? k : 0;
		}
		k += 64u - (idx & 63u);
	}
	return 0;
}

void sy_timer_start(struct sy_loop *l, struct sy_timer *t, uint64_t ms, sy_timer_cb cb, void *arg)
{
	uint64_t at;

	if (sy_timer_armed(t))
		sy_timer_stop(l, t);
	t->expires = sy_now_ms() + ms;
	t->cb = cb;
	t->arg = arg;
	/* a slot at or before the current tick is not visited again this revolution */
	at = t->expires > l->tick ? t->expires : l->tick + 1;
	list_append(&l->slot[at & SY_WHEEL_MASK], t);
	occ_set(l, (unsigned)(at & SY_WHEEL_MASK));
	l->ntimers++;
}

void sy_timer_stop(struct sy_loop *l, struct sy_timer *t)
{
	const struct sy_timer *prev;

	if (!sy_timer_armed(t))
		return;
	prev = t->prev;
	list_unlink(t);
	occ_update(l, prev);
	l->ntimers--;
}

/* fire every timer due at `now`, tick by tick so that they fire in order of expiry */
static void fire_due(struct sy_loop *l, uint64_t now)
{
	struct sy_timer due;

	if (now < l->tick) {	/* only a test clock goes backwards */
		l->tick = now;
		return;
	}
	if (l->ntimers == 0) {
		l->tick = now;
		return;
	}
	while (l->tick < now && l->ntimers) {
		struct sy_timer *head, *t, *next;
		/* the next non-empty slot: the ticks in between have nothing to fire */
		uint64_t k = next_occ(l, l->tick, now - l->tick), tick;

		if (!k) {
			l->tick = now;
			break;
		}
		tick = l->tick + k;
		l->tick = tick;
		head = &l->slot[tick & SY_WHEEL_MASK];
		if (head->next == head)
			continue;
		/* move what is due to a private list first: callbacks may start or stop any timer */
		due.next = due.prev = &due;
		for (t = head->next; t != head; t = next) {
			next = t->next;
			if (t->expires <= tick) {
				list_unlink(t);
				list_append(&due, t);
			}
		}
		occ_update(l, head);
		while (due.next != &due) {
			t = due.next;
			list_unlink(t);
			l->ntimers--;
			t->cb(t, t->arg);
		}
	}
	if (l->ntimers == 0)
		l->tick = now;
}

void sy_loop_fire_timers(struct sy_loop *l)
{
	refresh_now();
	fire_due(l, sy_now_ms());
}

/* ms until the first non-empty slot (a lower bound of the next expiry), capped */
static int next_timer_ms(const struct sy_loop *l, int cap)
{
	int i, lim;

	if (l->ntimers == 0)
		return cap;
	lim = cap < 0 || cap > SY_TIMER_SCAN ? SY_TIMER_SCAN : cap;
	i = (int)next_occ(l, l->tick, (uint64_t)lim);
	if (!i)
		i = lim + 1;
	/* the wait starts from `now`, which may already be ahead of tick */
	{
		uint64_t now = sy_now_ms();
		uint64_t at = l->tick + (uint64_t)i;

		return at <= now ? 0 : (int)(at - now);
	}
}

/* ---- fds */

static int fd_slot(struct sy_loop *l, int fd)
{
	if (fd < 0)
		return EINVAL;
	if (fd >= l->nfds) {
		int n = l->nfds ? l->nfds : 64;
		struct fd_ent *f;

		while (n <= fd)
			n *= 2;
		f = realloc(l->fds, (size_t)n * sizeof(*f));
		if (!f)
			return ENOMEM;
		memset(f + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*f));
		l->fds = f;
		l->nfds = n;
	}
	return 0;
}

static int fd_ctl(struct sy_loop *l, int op, int fd, uint32_t events, sy_fd_cb cb, void *arg)
{
	struct epoll_event ev;
	int rc = fd_slot(l, fd);

	if (rc)
		return rc;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.fd = fd;
	if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
		return errno;
	l->fds[fd].cb = cb;
	l->fds[fd].arg = arg;
	return 0;
}

int sy_loop_add_fd(struct sy_loop *l, int fd, uint32_t events, sy_fd_cb cb, void *arg)
{
	return fd_ctl(l, EPOLL_CTL_ADD, fd, events, cb, arg);
}

int sy_loop_mod_fd(struct sy_loop *l, int fd, uint32_t events, sy_fd_cb cb, void *arg)
{
	return fd_ctl(l, EPOLL_CTL_MOD, fd, events, cb, arg);
}

void sy_loop_del_fd(struct sy_loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].cb = NULL;
	l->fds[fd].arg = NULL;
}

/* ---- inbox */

static void inbox_run(struct sy_loop *l)
{
	struct sy_post *it, *next;
	uint64_t v;

	if (read(l->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		LOG_ERR("loop %d: inbox eventfd read: %s", l->worker_idx, strerror(errno));
	pthread_mutex_lock(&l->inbox_mu);
	it = l->in_head;
	l->in_head = l->in_tail = NULL;
	pthread_mutex_unlock(&l->inbox_mu);
	for (; it; it = next) {
		int owned = it->loop_owned;

		next = it->next;	/* fn may free an embedded item */
		it->fn(it->arg);
		if (owned)
			free(it);
	}
}

static void inbox_cb(struct sy_loop *l, int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	inbox_run(l);
}

int sy_worker_post_item(int w, struct sy_post *it)
{
	struct sy_loop *l;
	int was_empty;
	uint64_t one = 1;

	if (w < 0 || w >= SY_MAX_WORKERS || !it || !it->fn)
		return EINVAL;
	l = __atomic_load_n(&loops[w], __ATOMIC_ACQUIRE);
	if (!l)
		return EINVAL;
	it->next = NULL;
	pthread_mutex_lock(&l->inbox_mu);
	was_empty = l->in_head == NULL;
	if (l->in_tail)
		l->in_tail->next = it;
	else
		l->in_head = it;
	l->in_tail = it;
	pthread_mutex_unlock(&l->inbox_mu);
	/* the owner empties the whole queue per wake-up, so one write per empty->non-empty edge */
	if (was_empty && write(l->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		LOG_ERR("worker_post %d: eventfd write: %s", w, strerror(errno));
	return 0;
}

int sy_worker_post(int w, void (*fn)(void *arg), void *arg)
{
	struct sy_post *it;
	int rc;

	if (w < 0 || w >= SY_MAX_WORKERS || !fn)
		return EINVAL;
	if (!__atomic_load_n(&loops[w], __ATOMIC_ACQUIRE))
		return EINVAL;
	it = malloc(sizeof(*it));
	if (!it)
		return ENOMEM;
	it->fn = fn;
	it->arg = arg;
	it->loop_owned = 1;
	rc = sy_worker_post_item(w, it);
	if (rc)
		free(it);
	return rc;
}

/* ---- loop */

struct sy_loop *sy_loop_new(int worker_idx)
{
	struct sy_loop *l = calloc(1, sizeof(*l));
	unsigned i;

	if (!l)
		return NULL;
	l->worker_idx = worker_idx;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	for (i = 0; i < SY_WHEEL_SLOTS; i++)
		l->slot[i].next = l->slot[i].prev = &l->slot[i];
	pthread_mutex_init(&l->inbox_mu, NULL);
	if (l->epfd < 0 || l->evfd < 0 || sy_loop_add_fd(l, l->evfd, EPOLLIN, inbox_cb, NULL)) {
		LOG_ERR("loop %d: cannot create epoll/eventfd: %s", worker_idx, strerror(errno));
		sy_loop_free(l);
		return NULL;
	}
	l->tick = sy_now_ms();
	self_loop = l;
	self_idx = worker_idx;
	if (worker_idx >= 0 && worker_idx < SY_MAX_WORKERS) {
		pthread_mutex_lock(&reg_mu);
		__atomic_store_n(&loops[worker_idx], l, __ATOMIC_RELEASE);
		if (worker_idx >= nworkers)
			__atomic_store_n(&nworkers, worker_idx + 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&reg_mu);
	}
	return l;
}

void sy_loop_free(struct sy_loop *l)
{
	struct sy_post *it, *next;

	if (!l)
		return;
	if (l->worker_idx >= 0 && l->worker_idx < SY_MAX_WORKERS) {
		pthread_mutex_lock(&reg_mu);
		if (loops[l->worker_idx] == l)
			__atomic_store_n(&loops[l->worker_idx], NULL, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&reg_mu);
	}
	/* items posted but never run: their arg belongs to the poster's protocol; free the links
	 * the loop allocated */
	for (it = l->in_head; it; it = next) {
		next = it->next;
		if (it->loop_owned)
			free(it);
	}
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->evfd >= 0)
		close(l->evfd);
	pthread_mutex_destroy(&l->inbox_mu);
	free(l->fds);
	if (self_loop == l) {
		self_loop = NULL;
		self_idx = -1;
	}
	free(l);
}

int sy_loop_run_once(struct sy_loop *l, int max_wait_ms)
{
	struct epoll_event ev[SY_EPOLL_BATCH];
	int n, i, wait;

	/* the clock read after the previous wait is recent enough here: one read per iteration */
	if (!now_cache)
		refresh_now();
	fire_due(l, sy_now_ms());
	wait = next_timer_ms(l, max_wait_ms);
	n = epoll_wait(l->epfd, ev, SY_EPOLL_BATCH, wait);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return errno;
	}
	refresh_now();
	for (i = 0; i < n; i++) {
		int fd = ev[i].data.fd;

		if (fd < l->nfds && l->fds[fd].cb)
			l->fds[fd].cb(l, fd, ev[i].events, l->fds[fd].arg);
	}
	fire_due(l, sy_now_ms());
	return 0;
}

/* wake the loop from any thread (e.g. to make it notice a stop flag): a no-op post */
static void noop(void *arg)
{
	(void)arg;
}

int sy_loop_wake(int w)
{
	return sy_worker_post(w, noop, NULL);
}

struct sy_loop *sy_loop_self(void)
{
	return self_loop;
}

int sy_worker_self(void)
{
	return self_idx;
}

int sy_worker_count(void)
{
	return __atomic_load_n(&nworkers, __ATOMIC_ACQUIRE);
}
