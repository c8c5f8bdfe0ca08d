/* backend.h: the two back ends behind store.h, each with the same operations (store.c picks
 * one by the url's scheme). Internal to src/store. */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include <pthread.h>
#include <stdint.h>

#include "store/store.h"

/* jobq.c: one REGISTER's operations, copied (strings follow ops[]), queued for a writer */
struct store_job {
	struct store_job *next;
	unsigned n;
	struct store_op ops[];
};
/* a copy of ops[0..n) in one allocation (free() it): 0 or ENOMEM */
int store_job_new(const struct store_op *ops, unsigned n, struct store_job **out);

/* the queue between submitters and one writer thread: mu guards everything below it */
struct store_jobq {
	pthread_mutex_t mu;
	pthread_cond_t cv_work;		/* signalled when a job is appended */
	pthread_cond_t cv_done;		/* broadcast by the writer when applied moves */
	struct store_job *head, *tail;
	unsigned queued;
	uint64_t submitted, applied;	/* job counters, for store_jobq_flush */
	int failed;			/* a job failed or was dropped since the last flush */
};
void store_jobq_init(struct store_jobq *q);
void store_jobq_destroy(struct store_jobq *q);
/* with q->mu held: link j at the tail, count it, wake the writer */
void store_jobq_append(struct store_jobq *q, struct store_job *j);
/* wait until every job submitted so far was applied or dropped: 0, or EIO if one failed */
int store_jobq_flush(struct store_jobq *q);

struct store_sqlite;
int store_sqlite_open(const char *url, struct store_sqlite **out);
void store_sqlite_close(struct store_sqlite *st);
int store_sqlite_load(struct store_sqlite *st, int64_t now, store_load_cb cb, void *arg);
int store_sqlite_submit(struct store_sqlite *st, const struct store_op *ops, unsigned n);
int store_sqlite_flush(struct store_sqlite *st);
int store_sqlite_count(struct store_sqlite *st, unsigned long *out);

/* "redis://host[:port][/db]": host (NUL-terminated, at most hostcap - 1 bytes), port, db.
 * 0 or EINVAL with *why set. */
int store_redis_url(const char *url, char *host, size_t hostcap, int *port, int *db,
		    const char **why);

struct store_redis;
int store_redis_open(const char *url, struct store_redis **out);
void store_redis_close(struct store_redis *st);
int store_redis_load(struct store_redis *st, int64_t now, store_load_cb cb, void *arg);
int store_redis_submit(struct store_redis *st, const struct store_op *ops, unsigned n);
int store_redis_flush(struct store_redis *st);
int store_redis_count(struct store_redis *st, unsigned long *out);
int store_redis_watch(struct store_redis *st, store_aor_cb cb, void *arg);

#endif
