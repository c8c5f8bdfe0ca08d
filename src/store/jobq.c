/* jobq.c: the write queue both back ends hand to their writer thread (sqlite.c, redis.c).
 * A job is one REGISTER's operations copied into one allocation, so the worker that submits it
 * never waits for the store; the writer takes jobs in order, and store_flush() waits until
 * everything submitted before it was applied (or dropped). The lock protects the list and the
 * counters; what a back end does with a job stays in the back end. */
#include <errno.h>
#include <stdlib.h>

#include "store/backend.h"

int store_job_new(const struct store_op *ops, unsigned n, struct store_job **out)
{
	struct store_job *j;
	size_t sz = sizeof(*j) + (size_t)n * sizeof(j->ops[0]);
	unsigned i;
	char *p;

	for (i = 0; i < n; i++)
		sz += store_binding_strs_len(&ops[i].b);
	j = malloc(sz);
	if (!j)
		return ENOMEM;
	j->next = NULL;
	j->n = n;
	p = (char *)&j->ops[n];
	for (i = 0; i < n; i++) {
		j->ops[i] = ops[i];
		p = store_binding_copy(&j->ops[i].b, &ops[i].b, p);
	}
	*out = j;
	return 0;
}

void store_jobq_init(struct store_jobq *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv_work, NULL);
	pthread_cond_init(&q->cv_done, NULL);
	q->head = q->tail = NULL;
	q->queued = 0;
	q->submitted = q->applied = 0;
	q->failed = 0;
}

void store_jobq_destroy(struct store_jobq *q)
{
	pthread_cond_destroy(&q->cv_work);
	pthread_cond_destroy(&q->cv_done);
	pthread_mutex_destroy(&q->mu);
}

void store_jobq_append(struct store_jobq *q, struct store_job *j)
{
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->queued++;
	q->submitted++;
	pthread_cond_signal(&q->cv_work);
}

int store_jobq_flush(struct store_jobq *q)
{
	uint64_t target;
	int failed;

	pthread_mutex_lock(&q->mu);
	target = q->submitted;
	while (q->applied < target)
		pthread_cond_wait(&q->cv_done, &q->mu);
	failed = q->failed;
	q->failed = 0;
	pthread_mutex_unlock(&q->mu);
	return failed ? EIO : 0;
}
