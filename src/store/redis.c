/* redis.c: the Redis back end of the location store (store.h), for several nodes sharing one
 * location table. Layout: one hash per AOR, key "sy:ul:<aor>", one field per contact URI whose
 * value is the encoded binding (store_binding_encode); the key expires at the latest binding's
 * expiry, so Redis cleans what every node forgot. Each change is PUBLISHed on "sy:ul" as
 * "<node id> <aor>".
 * Threads (none is a worker, so each may block on its own hiredis connection):
 *  - the writer applies each queued job (one REGISTER's ops) in one MULTI/EXEC with its
 *    PUBLISH; while Redis is unreachable jobs stay queued (up to a bound, then dropped) and are
 *    applied in order once it is back; one log line per outage.
 *  - the subscriber (store_watch) receives "sy:ul", re-reads (HGETALL) each AOR another node
 *    changed and hands the whole set to usrloc; after every (re)connection it walks every key
 *    (SCAN) the same way, so what was missed while disconnected converges. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/backend.h"

#define KEY_PFX "sy:ul:"
#define CHANNEL "sy:ul"
/* jobs kept while Redis is unreachable: past this, new ones are dropped (memory stays bounded;
 * the in-memory table still has them and the other nodes get them at the UA's next refresh) */
#define RD_MAX_QUEUED 65536u
#define RD_BACKOFF_MIN_MS 100
#define RD_BACKOFF_MAX_MS 2000
/* local writes per AOR hash slot, so the subscriber does not replace an AOR with a Redis state
 * older than what this node just saved (see read_aor) */
#define RD_SLOTS 4096u

struct store_redis {
	char host[256];
	int port, db;
	char node[17];		/* this process's id in change messages (hex, random) */

	struct store_jobq q;	/* jobq.c; its head stays queued until applied or dropped */
	pthread_cond_t cv_sleep;	/* backoff waits (with q.mu), broadcast at stop */
	int stop;
	int w_down;		/* the writer's outage: logged once, until it is back */
	int q_full;		/* the queue-full drop was logged for this outage */
	unsigned long dropped;
	uint32_t touched[RD_SLOTS];	/* jobs ever submitted for an AOR of the slot */
	uint32_t pending[RD_SLOTS];	/* of those, not yet applied or dropped */

	pthread_t wthr, sthr;
	int wthr_started, sthr_started;
	redisContext *wc;	/* writer thread only */

	store_aor_cb cb;
	void *cb_arg;
	int sub_fd;		/* the subscriber's socket (under mu), -1: none; store_redis_close
				 * shuts it down to end a blocking read */
};

int store_redis_url(const char *url, char *host, size_t hostcap, int *port, int *db,
		    const char **why)
{
	const char *p, *h, *e;
	size_t hl;
	long v;
	char *end;

	*port = 6379;
	*db = 0;
	if (!url || strncmp(url, "redis://", 8) != 0) {
		*why = "redis url must be redis://host[:port][/db]";
		return EINVAL;
	}
	h = url + 8;
	if (strpbrk(h, "@? \t")) {
		*why = "redis url: only redis://host[:port][/db] (no user, password or options)";
		return EINVAL;
	}
	for (p = h; *p && *p != ':' && *p != '/'; p++)
		;
	hl = (size_t)(p - h);
	if (hl == 0 || hl >= hostcap) {
		*why = "redis url: the host is missing or too long";
		return EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (*p == ':') {
		e = p + 1;
		if (*e < '0' || *e > '9') {
			*why = "redis url: bad port";
			return EINVAL;
		}
		v = strtol(e, &end, 10);
		if (v < 1 || v > 65535 || (*end != '\0' && *end != '/')) {
			*why = "redis url: port must be 1..65535";
			return EINVAL;
		}
		*port = (int)v;
		p = end;
	}
	if (*p == '/' && p[1] != '\0') {
		e = p + 1;
		if (*e < '0' || *e > '9') {
			*why = "redis url: the database must be a number";
			return EINVAL;
		}
		v = strtol(e, &end, 10);
		if (v < 0 || v > 65535 || *end != '\0') {
			*why = "redis url: the database must be a number 0..65535";
			return EINVAL;
		}
		*db = (int)v;
	} else if (*p == '/') {
		/* "redis://host/" : db 0 */
	} else if (*p != '\0') {
		*why = "redis url must be redis://host[:port][/db]";
		return EINVAL;
	}
	return 0;
}

/* ---- connections */

static void ms_sleep_or_stop(struct store_redis *st, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->q.mu);
	if (!st->stop)
		pthread_cond_timedwait(&st->cv_sleep, &st->q.mu, &ts);
	pthread_mutex_unlock(&st->q.mu);
}

static int stopping(struct store_redis *st)
{
	int s;

	pthread_mutex_lock(&st->q.mu);
	s = st->stop;
	pthread_mutex_unlock(&st->q.mu);
	return s;
}

/* a connection with the database selected, or NULL (*why: the reason, for the outage line) */
static redisContext *rd_connect(struct store_redis *st, char *why, size_t whylen)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout(st->host, st->port, tv);
	redisReply *r;

	if (!c || c->err) {
		snprintf(why, whylen, "%s", c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	/* commands get an answer within 5 s or the connection counts as down */
	tv.tv_sec = 5;
	redisSetTimeout(c, tv);
	/* EXPIREAT ... NX / GT (the key's life follows its latest binding) came with Redis 7.0;
	 * an older server would refuse every write's transaction */
	r = redisCommand(c, "INFO server");
	if (!r || r->type != REDIS_REPLY_STRING) {
		snprintf(why, whylen, "INFO: %s", r && r->type == REDIS_REPLY_ERROR ? r->str :
			 c->errstr);
		freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	{
		const char *v = strstr(r->str, "redis_version:");

		if (!v || atoi(v + 14) < 7) {
			snprintf(why, whylen, "Redis 7.0 or later needed, server has %.*s",
				 v ? (int)strcspn(v + 14, "\r\n") : 10, v ? v + 14 : "no version");
			freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
	}
	freeReplyObject(r);
	if (st->db) {
		r = redisCommand(c, "SELECT %d", st->db);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "SELECT %d: %s", st->db,
				 r ? r->str : c->errstr);
			freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

static unsigned slot_of(const char *s, size_t n)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (n--) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h % RD_SLOTS;
}

/* mark (+1) or unmark (-1) the AORs of job j as written locally; under st->q.mu */
static void mark_job(struct store_redis *st, const struct store_job *j, int add)
{
	unsigned i, k;

	for (i = 0; i < j->n; i++) {
		if (j->ops[i].kind == STORE_OP_PURGE)
			continue;
		k = slot_of(j->ops[i].b.aor.s, j->ops[i].b.aor.len);
		if (add) {
			st->touched[k]++;
			st->pending[k]++;
		} else {
			st->pending[k]--;
		}
	}
}

static int key_of(sy_str aor, char **out, size_t *len)
{
	char *k = malloc(sizeof(KEY_PFX) + aor.len);

	if (!k)
		return ENOMEM;
	memcpy(k, KEY_PFX, sizeof(KEY_PFX) - 1);
	memcpy(k + sizeof(KEY_PFX) - 1, aor.s, aor.len);
	*out = k;
	*len = sizeof(KEY_PFX) - 1 + aor.len;
	return 0;
}

/* ---- the writer */

/* the pipeline of one job: MULTI, per op HSET/HDEL/DEL (+ EXPIREAT), a PUBLISH per AOR, EXEC.
 * Returns the number of commands appended, or -1 (out of memory). */
static int append_job(struct store_redis *st, redisContext *c, const struct store_job *j,
		      char **bufs, unsigned nbufs)
{
	unsigned i, nb = 0;
	int ncmd = 0;

	redisAppendCommand(c, "MULTI");
	ncmd++;
	for (i = 0; i < j->n; i++) {
		const struct store_op *op = &j->ops[i];
		const struct store_binding *b = &op->b;
		char *key, *enc, ts[24];
		size_t klen, elen;
		const char *av[5];
		size_t al[5];

		if (op->kind == STORE_OP_PURGE)
			continue;	/* Redis expires the keys itself */
		if (nb + 2 > nbufs || key_of(b->aor, &key, &klen) != 0)
			return -1;
		bufs[nb++] = key;
		switch (op->kind) {
		case STORE_OP_UPSERT:
			elen = store_binding_enc_len(b);
			enc = malloc(elen);
			if (!enc)
				return -1;
			bufs[nb++] = enc;
			elen = store_binding_encode(b, enc, elen);
			av[0] = "HSET"; al[0] = 4;
			av[1] = key; al[1] = klen;
			av[2] = b->contact.s; al[2] = b->contact.len;
			av[3] = enc; al[3] = elen;
			redisAppendCommandArgv(c, 4, av, al);
			ncmd++;
			/* the key lives as long as its latest binding: NX sets a first expiry, GT
			 * only ever extends it (Redis 7). A shortened or removed binding leaves the
			 * key a little longer than needed; readers skip expired fields. */
			snprintf(ts, sizeof(ts), "%lld", (long long)b->expires);
			av[0] = "EXPIREAT"; al[0] = 8;
			av[2] = ts; al[2] = strlen(ts);
			av[3] = "NX"; al[3] = 2;
			redisAppendCommandArgv(c, 4, av, al);
			av[3] = "GT";
			redisAppendCommandArgv(c, 4, av, al);
			ncmd += 2;
			break;
		case STORE_OP_DELETE:
			av[0] = "HDEL"; al[0] = 4;
			av[1] = key; al[1] = klen;
			av[2] = b->contact.s; al[2] = b->contact.len;
			redisAppendCommandArgv(c, 3, av, al);
			ncmd++;
			break;
		case STORE_OP_DELETE_AOR:
			av[0] = "DEL"; al[0] = 3;
			av[1] = key; al[1] = klen;
			redisAppendCommandArgv(c, 2, av, al);
			ncmd++;
			break;
		case STORE_OP_PURGE:
			break;
		}
		/* one message per AOR of the job (a job is one REGISTER: one AOR) */
		if (i == 0 || !sy_str_eq(j->ops[i - 1].b.aor, b->aor)) {
			char *msg = malloc(sizeof(st->node) + 1 + b->aor.len);

			if (!msg || nb + 1 > nbufs) {
				free(msg);
				return -1;
			}
			bufs[nb++] = msg;
			memcpy(msg, st->node, strlen(st->node));
			msg[strlen(st->node)] = ' ';
			memcpy(msg + strlen(st->node) + 1, b->aor.s, b->aor.len);
			av[0] = "PUBLISH"; al[0] = 7;
			av[1] = CHANNEL; al[1] = sizeof(CHANNEL) - 1;
			av[2] = msg; al[2] = strlen(st->node) + 1 + b->aor.len;
			redisAppendCommandArgv(c, 3, av, al);
			ncmd++;
		}
	}
	redisAppendCommand(c, "EXEC");
	return ncmd + 1;
}

/* 0 applied; EIO: the connection failed (the job stays queued and is sent again: every
 * command of a job is idempotent, so a transaction that did run before the connection broke
 * does no harm when repeated); EPROTO: Redis refused it (dropped, logged) */
static int apply_job(struct store_redis *st, const struct store_job *j)
{
	unsigned nbufs = j->n * 3 + 1, i;
	char **bufs = calloc(nbufs, sizeof(*bufs));
	char why[256];
	int ncmd, k, err = 0;
	redisReply *r = NULL;

	if (!bufs)
		return EPROTO;
	if (!st->wc) {
		st->wc = rd_connect(st, why, sizeof(why));
		if (!st->wc) {
			if (!st->w_down)
				LOG_ERR("usrloc: redis %s:%d unreachable (%s): location writes wait "
					"for it (this node keeps serving from memory)", st->host,
					st->port, why);
			st->w_down = 1;
			err = EIO;
			goto out;
		}
	}
	ncmd = append_job(st, st->wc, j, bufs, nbufs);
	if (ncmd < 0) {
		/* the commands already appended are unsent; a fresh connection drops them */
		redisFree(st->wc);
		st->wc = NULL;
		LOG_ERR("usrloc: redis write of %.*s dropped: out of memory", SY_FMT(j->ops[0].b.aor));
		err = EPROTO;
		goto out;
	}
	for (k = 0; k < ncmd; k++) {
		freeReplyObject(r);
		r = NULL;
		if (redisGetReply(st->wc, (void **)&r) != REDIS_OK || !r) {
			if (!st->w_down)
				LOG_ERR("usrloc: redis %s:%d connection lost (%s): location writes "
					"wait for it", st->host, st->port, st->wc->errstr);
			st->w_down = 1;
			redisFree(st->wc);
			st->wc = NULL;
			err = EIO;
			goto out;
		}
	}
	/* the last reply is EXEC's: an array (one reply per command, an error among them when
	 * one failed, e.g. a key of that name that is not a hash), or an error when the
	 * transaction was refused whole */
	if (r->type != REDIS_REPLY_ARRAY) {
		LOG_ERR("usrloc: redis refused the write of %.*s: %s", SY_FMT(j->ops[0].b.aor),
			r->type == REDIS_REPLY_ERROR ? r->str : "transaction aborted");
		err = EPROTO;
	} else {
		for (i = 0; i < r->elements; i++)
			if (r->element[i]->type == REDIS_REPLY_ERROR) {
				LOG_ERR("usrloc: redis refused part of the write of %.*s: %s",
					SY_FMT(j->ops[0].b.aor), r->element[i]->str);
				err = EPROTO;
				break;
			}
	}
	if (st->w_down) {
		LOG_NOTICE("usrloc: redis %s:%d is back, queued location writes follow",
			   st->host, st->port);
		st->w_down = 0;
	}
out:
	freeReplyObject(r);
	for (i = 0; i < nbufs; i++)
		free(bufs[i]);
	free(bufs);
	return err;
}

static void *writer_main(void *arg)
{
	struct store_redis *st = arg;
	unsigned backoff = RD_BACKOFF_MIN_MS;

	pthread_mutex_lock(&st->q.mu);
	for (;;) {
		struct store_job *j;
		int err, stop;

		while (!st->q.head && !st->stop)
			pthread_cond_wait(&st->q.cv_work, &st->q.mu);
		if (!st->q.head)
			break;
		j = st->q.head;	/* only this thread unlinks: j stays valid unlocked */
		stop = st->stop;
		pthread_mutex_unlock(&st->q.mu);

		/* shutting down with Redis away: what is left is dropped, not retried */
		err = stop && st->w_down ? EIO : apply_job(st, j);
		if (err == EIO && !stop) {
			ms_sleep_or_stop(st, backoff);
			backoff = backoff * 2 > RD_BACKOFF_MAX_MS ? RD_BACKOFF_MAX_MS : backoff * 2;
			pthread_mutex_lock(&st->q.mu);
			continue;
		}
		backoff = RD_BACKOFF_MIN_MS;
		pthread_mutex_lock(&st->q.mu);
		if (err == EIO)
			st->dropped++;	/* shutting down with Redis unreachable */
		if (err)
			st->q.failed = 1;
		st->q.head = j->next;
		if (!st->q.head)
			st->q.tail = NULL;
		mark_job(st, j, 0);
		st->q.queued--;
		st->q.applied++;
		if (st->q.head == NULL && st->dropped && stop) {
			LOG_ERR("usrloc: redis unreachable at shutdown: %lu location writes not "
				"stored", st->dropped);
			st->dropped = 0;
		}
		pthread_cond_broadcast(&st->q.cv_done);
		free(j);
	}
	pthread_mutex_unlock(&st->q.mu);
	return NULL;
}

/* ---- reading an AOR, the start-up load and the subscriber */

/* HGETALL of key (an AOR's hash) on c; cb with the unexpired bindings decoded (n may be 0).
 * Fields that do not decode are skipped with one line each. 0, EIO (connection), ENOMEM or
 * cb's code. */
static int read_aor(struct store_redis *st, redisContext *c, const char *key, size_t klen,
		    int64_t now, store_aor_cb cb, void *arg)
{
	const char *av[2] = { "HGETALL", key };
	size_t al[2] = { 7, klen };
	redisReply *r = NULL;
	struct store_binding *v = NULL;
	sy_str aor = sy_str_make(key + sizeof(KEY_PFX) - 1, klen - (sizeof(KEY_PFX) - 1));
	unsigned n = 0, k = slot_of(aor.s, aor.len), tries;
	size_t i;
	int err = 0;

	/* With st (the subscriber): the state read must include every write this node made to
	 * the AOR, else the replacement would undo a REGISTER this node just answered. So the read
	 * counts only when no local write to its slot was pending at the end and none was queued
	 * since before it; otherwise wait for the writer and read again. */
	for (tries = 0;; tries++) {
		uint32_t t0 = 0;
		int stale = 0;

		if (st) {
			pthread_mutex_lock(&st->q.mu);
			t0 = st->touched[k];
			pthread_mutex_unlock(&st->q.mu);
		}
		r = redisCommandArgv(c, 2, av, al);
		if (!r)
			return EIO;
		if (!st)
			break;
		pthread_mutex_lock(&st->q.mu);
		stale = st->pending[k] || st->touched[k] != t0;
		if (stale && tries < 10) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			while (st->pending[k] && !st->stop &&
			       pthread_cond_timedwait(&st->q.cv_done, &st->q.mu, &ts) == 0)
				;
		}
		pthread_mutex_unlock(&st->q.mu);
		if (!stale)
			break;
		freeReplyObject(r);
		r = NULL;
		if (tries >= 10 || stopping(st))
			return 0;	/* Redis away for the writer: its write comes later */
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		/* a key of ours that is not a hash: not something a node wrote */
		LOG_WARN("usrloc: redis key %.*s is not a location hash, ignored", (int)klen, key);
		goto out;
	}
	if (r->elements && !(v = calloc(r->elements / 2 + 1, sizeof(*v)))) {
		err = ENOMEM;
		goto out;
	}
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *val = r->element[i + 1];
		struct store_binding *b = &v[n];

		if (val->type != REDIS_REPLY_STRING ||
		    store_binding_decode(val->str, val->len, b) != 0 || !sy_str_eq(b->aor, aor)) {
			LOG_WARN("usrloc: redis %.*s: a contact that does not decode, ignored",
				 (int)klen, key);
			continue;
		}
		if (b->expires > now)
			n++;
	}
	err = cb(aor, v, n, arg);
out:
	free(v);
	freeReplyObject(r);
	return err;
}

/* every "sy:ul:*" key through SCAN (never KEYS: a large table would stall Redis), each read
 * with read_aor */
static int scan_all(struct store_redis *st, redisContext *c, int64_t now, store_aor_cb cb,
		    void *arg)
{
	char cursor[32] = "0";
	int err = 0;

	do {
		redisReply *r = redisCommand(c, "SCAN %s MATCH " KEY_PFX "* COUNT 500", cursor);
		size_t i;

		if (!r)
			return EIO;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (i = 0; i < r->element[1]->elements && !err; i++) {
			const redisReply *k = r->element[1]->element[i];

			if (k->type == REDIS_REPLY_STRING)
				err = read_aor(st, c, k->str, k->len, now, cb, arg);
		}
		freeReplyObject(r);
	} while (!err && strcmp(cursor, "0") != 0);
	return err;
}

struct load_arg {
	store_load_cb cb;
	void *arg;
};

static int load_aor(sy_str aor, const struct store_binding *b, unsigned n, void *arg)
{
	struct load_arg *la = arg;
	unsigned i;
	int err;

	(void)aor;
	for (i = 0; i < n; i++)
		if ((err = la->cb(&b[i], la->arg)) != 0)
			return err;
	return 0;
}

int store_redis_load(struct store_redis *st, int64_t now, store_load_cb cb, void *arg)
{
	struct load_arg la = { cb, arg };
	char why[256];
	redisContext *c;
	int err;

	if (!st || !cb)
		return EINVAL;
	c = rd_connect(st, why, sizeof(why));
	if (!c) {
		/* not fatal: the node starts empty and the subscriber loads everything once Redis
		 * answers (store_watch) */
		LOG_ERR("usrloc: redis %s:%d unreachable at start (%s): starting with an empty "
			"location table, loaded when it is back", st->host, st->port, why);
		return 0;
	}
	err = scan_all(NULL, c, now, load_aor, &la);
	if (err == EIO) {
		LOG_ERR("usrloc: redis %s:%d: start-up load failed (%s); the rest comes when the "
			"subscriber connects", st->host, st->port, c->err ? c->errstr : "bad reply");
		err = 0;
	}
	redisFree(c);
	return err;
}

/* "<node> <aor>" from another node: re-read that AOR */
static int on_message(struct store_redis *st, redisContext *cc, const redisReply *r)
{
	const redisReply *m;
	const char *sp;
	char *key;
	size_t klen, nl = strlen(st->node);
	int err;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message"))
		return 0;	/* subscribe confirmations */
	m = r->element[2];
	if (m->type != REDIS_REPLY_STRING)
		return 0;
	sp = memchr(m->str, ' ', m->len);
	if (!sp || sp == m->str || (size_t)(sp + 1 - m->str) >= m->len) {
		LOG_WARN("usrloc: redis: malformed change message on " CHANNEL " ignored");
		return 0;
	}
	if ((size_t)(sp - m->str) == nl && memcmp(m->str, st->node, nl) == 0)
		return 0;	/* our own write: memory already has it */
	if ((err = key_of(sy_str_make(sp + 1, m->len - (size_t)(sp + 1 - m->str)), &key,
			  &klen)) != 0)
		return err;
	err = read_aor(st, cc, key, klen, (int64_t)time(NULL), st->cb, st->cb_arg);
	free(key);
	return err;
}

static void *subscriber_main(void *arg)
{
	struct store_redis *st = arg;
	unsigned backoff = RD_BACKOFF_MIN_MS;
	int down = 0;
	char why[256];

	while (!stopping(st)) {
		redisContext *sc = rd_connect(st, why, sizeof(why)), *cc = NULL;
		redisReply *r = NULL;

		if (sc) {
			r = redisCommand(sc, "SUBSCRIBE " CHANNEL);
			if (!r || r->type == REDIS_REPLY_ERROR) {
				snprintf(why, sizeof(why), "SUBSCRIBE: %s", r ? r->str : sc->errstr);
				freeReplyObject(r);
				redisFree(sc);
				sc = NULL;
			} else {
				freeReplyObject(r);
			}
		}
		if (sc)
			cc = rd_connect(st, why, sizeof(why));
		if (!sc || !cc) {
			if (!down)
				LOG_ERR("usrloc: redis %s:%d unreachable (%s): changes of other nodes "
					"arrive once it is back", st->host, st->port, why);
			down = 1;
			redisFree(sc);
			ms_sleep_or_stop(st, backoff);
			backoff = backoff * 2 > RD_BACKOFF_MAX_MS ? RD_BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		backoff = RD_BACKOFF_MIN_MS;
		/* blocking reads from now on: store_redis_close shuts the socket down */
		redisSetTimeout(sc, (struct timeval){ 0, 0 });
		pthread_mutex_lock(&st->q.mu);
		st->sub_fd = st->stop ? -1 : sc->fd;
		pthread_mutex_unlock(&st->q.mu);
		/* subscribed first, then everything read: a change made in between is read twice
		 * rather than missed */
		if (scan_all(st, cc, (int64_t)time(NULL), st->cb, st->cb_arg) == 0) {
			if (down)
				LOG_NOTICE("usrloc: redis %s:%d is back, location table re-read",
					   st->host, st->port);
			down = 0;
			while (!stopping(st)) {
				r = NULL;
				if (redisGetReply(sc, (void **)&r) != REDIS_OK || !r)
					break;
				if (on_message(st, cc, r) == EIO) {
					freeReplyObject(r);
					break;
				}
				freeReplyObject(r);
			}
		}
		pthread_mutex_lock(&st->q.mu);
		st->sub_fd = -1;
		pthread_mutex_unlock(&st->q.mu);
		if (!stopping(st) && !down) {
			LOG_ERR("usrloc: redis %s:%d connection lost: changes of other nodes arrive "
				"once it is back", st->host, st->port);
			down = 1;
		}
		redisFree(sc);
		redisFree(cc);
		ms_sleep_or_stop(st, RD_BACKOFF_MIN_MS);
	}
	return NULL;
}

/* ---- lifecycle and the writer's queue */

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	/* the main thread takes SIGTERM/SIGINT with sigwait: helpers never get a signal */
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc ? EAGAIN : 0;
}

int store_redis_open(const char *url, struct store_redis **out)
{
	struct store_redis *st;
	const char *why;
	unsigned char rnd[8];
	unsigned i;
	int err;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return ENOMEM;
	store_jobq_init(&st->q);
	pthread_cond_init(&st->cv_sleep, NULL);
	st->sub_fd = -1;
	if ((err = store_redis_url(url, st->host, sizeof(st->host), &st->port, &st->db,
				   &why)) != 0) {
		LOG_ERR("usrloc: %s: %s", url ? url : "(null)", why);
		goto out;
	}
	/* the node id only has to differ between nodes: 64 random bits */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

		memcpy(rnd, &x, sizeof(rnd));
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(st->node + 2 * i, 3, "%02x", rnd[i]);
	if ((err = start_thread(&st->wthr, writer_main, st)) != 0)
		goto out;
	st->wthr_started = 1;
	*out = st;
	st = NULL;
out:
	store_redis_close(st);
	return err;
}

void store_redis_close(struct store_redis *st)
{
	struct store_job *j, *n;

	if (!st)
		return;
	pthread_mutex_lock(&st->q.mu);
	st->stop = 1;
	if (st->sub_fd >= 0)
		shutdown(st->sub_fd, SHUT_RDWR);
	pthread_cond_broadcast(&st->q.cv_work);
	pthread_cond_broadcast(&st->cv_sleep);
	pthread_mutex_unlock(&st->q.mu);
	if (st->sthr_started)
		pthread_join(st->sthr, NULL);
	if (st->wthr_started)
		pthread_join(st->wthr, NULL);
	for (j = st->q.head; j; j = n) {
		n = j->next;
		free(j);
	}
	redisFree(st->wc);
	pthread_cond_destroy(&st->cv_sleep);
	store_jobq_destroy(&st->q);
	free(st);
}

int store_redis_watch(struct store_redis *st, store_aor_cb cb, void *arg)
{
	int err;

	if (!st || !cb || st->sthr_started)
		return EINVAL;
	st->cb = cb;
	st->cb_arg = arg;
	if ((err = start_thread(&st->sthr, subscriber_main, st)) != 0)
		return err;
	st->sthr_started = 1;
	return 0;
}

int store_redis_submit(struct store_redis *st, const struct store_op *ops, unsigned n)
{
	struct store_job *j;
	unsigned i;

	if (!st || (n && !ops))
		return EINVAL;
	/* a purge has nothing to do here: Redis expires the keys itself */
	for (i = 0; i < n && ops[i].kind == STORE_OP_PURGE; i++)
		;
	if (i == n)
		return 0;
	if (store_job_new(ops, n, &j))
		return ENOMEM;

	pthread_mutex_lock(&st->q.mu);
	if (st->q.queued >= RD_MAX_QUEUED) {
		/* Redis has been away long enough to fill the queue: this node keeps serving
		 * from memory; the other nodes get the binding at its next refresh */
		if (!st->q_full)
			LOG_ERR("usrloc: redis %s:%d away and %u writes queued: further location "
				"writes are not shared until it is back", st->host, st->port,
				st->q.queued);
		st->q_full = 1;
		pthread_mutex_unlock(&st->q.mu);
		free(j);
		return 0;
	}
	st->q_full = 0;
	mark_job(st, j, 1);
	store_jobq_append(&st->q, j);
	pthread_mutex_unlock(&st->q.mu);
	return 0;
}

int store_redis_flush(struct store_redis *st)
{
	return st ? store_jobq_flush(&st->q) : EINVAL;
}

static int count_aor(sy_str aor, const struct store_binding *b, unsigned n, void *arg)
{
	(void)aor;
	(void)b;
	*(unsigned long *)arg += n;
	return 0;
}

int store_redis_count(struct store_redis *st, unsigned long *out)
{
	char why[256];
	redisContext *c;
	int err;

	if (!st || !out)
		return EINVAL;
	*out = 0;
	c = rd_connect(st, why, sizeof(why));
	if (!c)
		return EIO;
	err = scan_all(NULL, c, INT64_MIN, count_aor, out);
	redisFree(c);
	return err ? EIO : 0;
}
