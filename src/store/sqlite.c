/* sqlite.c: the SQLite back end of the location store (store.h).
 * Two connections to one WAL-mode database: the writer thread owns one and applies queued jobs,
 * each in one transaction; the other serves the synchronous start-up reads. WAL lets the reader
 * see committed rows while the writer works. Workers only ever touch the queue (a mutex held for
 * a pointer swap), so a slow disk never stalls SIP processing. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "store/backend.h"

/* past this many queued jobs the back end is declared behind and store_submit() says EAGAIN:
 * memory stays bounded and the registrar answers 500 rather than lying about persistence */
#define STORE_MAX_QUEUED 65536u

struct store_sqlite {
	sqlite3 *rd;		/* start-up reads, store_count */
	sqlite3 *wr;		/* writer thread only */
	sqlite3_stmt *ins, *del, *del_aor, *purge;
	pthread_t thr;
	int thr_started;
	struct store_jobq q;	/* jobq.c */
	int stop;
	pthread_mutex_t rd_mu;	/* the read connection is shared by callers of load/count */
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS location ("
	" aor TEXT NOT NULL, contact TEXT NOT NULL, received TEXT NOT NULL DEFAULT '',"
	" path TEXT NOT NULL DEFAULT '', callid TEXT NOT NULL DEFAULT '',"
	" user_agent TEXT NOT NULL DEFAULT '', instance TEXT NOT NULL DEFAULT '',"
	" cseq INTEGER NOT NULL DEFAULT 0, reg_id INTEGER NOT NULL DEFAULT 0,"
	" expires INTEGER NOT NULL, q INTEGER NOT NULL DEFAULT -1,"
	" methods INTEGER NOT NULL DEFAULT 0, flags INTEGER NOT NULL DEFAULT 0,"
	" proto INTEGER NOT NULL DEFAULT 0, last_modified INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (aor, contact));"
	"CREATE INDEX IF NOT EXISTS location_expires ON location(expires);";

/* "sqlite:///abs" -> "/abs", "sqlite://rel" -> "rel" */
static int url_path(const char *url, const char **path)
{
	static const char pfx[] = "sqlite://";

	if (!url || strncmp(url, pfx, sizeof(pfx) - 1) != 0 || url[sizeof(pfx) - 1] == '\0')
		return EINVAL;
	*path = url + sizeof(pfx) - 1;
	return 0;
}

/* create the directories above path (mkdir -p of its dirname): a fresh install or a build
 * tree without the database's directory still starts */
static void make_parent_dirs(const char *path)
{
	char buf[4096];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf))
		return;
	memcpy(buf, path, n + 1);
	for (i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return;
		buf[i] = '/';
	}
}

static int open_conn(const char *path, sqlite3 **db)
{
	int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		LOG_ERR("store: cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "no memory");
		sqlite3_close(*db);
		*db = NULL;
		return EIO;
	}
	/* the writer waits for the reader's short locks instead of failing at once */
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		LOG_ERR("store: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return EIO;
	}
	return 0;
}

static void bind_str(sqlite3_stmt *s, int i, sy_str v)
{
	sqlite3_bind_text(s, i, v.s ? v.s : "", (int)v.len, SQLITE_STATIC);
}

static int run_stmt(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : EIO;
}

static int apply_op(struct store_sqlite *st, const struct store_op *op)
{
	const struct store_binding *b = &op->b;
	sqlite3_stmt *s;

	switch (op->kind) {
	case STORE_OP_UPSERT:
		s = st->ins;
		bind_str(s, 1, b->aor);
		bind_str(s, 2, b->contact);
		bind_str(s, 3, b->received);
		bind_str(s, 4, b->path);
		bind_str(s, 5, b->callid);
		bind_str(s, 6, b->user_agent);
		bind_str(s, 7, b->instance);
		sqlite3_bind_int64(s, 8, b->cseq);
		sqlite3_bind_int64(s, 9, b->reg_id);
		sqlite3_bind_int64(s, 10, b->expires);
		sqlite3_bind_int(s, 11, b->q);
		sqlite3_bind_int64(s, 12, b->methods);
		sqlite3_bind_int64(s, 13, b->flags);
		sqlite3_bind_int(s, 14, b->proto);
		sqlite3_bind_int64(s, 15, b->last_modified);
		return run_stmt(s);
	case STORE_OP_DELETE:
		s = st->del;
		bind_str(s, 1, b->aor);
		bind_str(s, 2, b->contact);
		return run_stmt(s);
	case STORE_OP_DELETE_AOR:
		s = st->del_aor;
		bind_str(s, 1, b->aor);
		return run_stmt(s);
	case STORE_OP_PURGE:
		s = st->purge;
		sqlite3_bind_int64(s, 1, b->expires);
		return run_stmt(s);
	}
	return EINVAL;
}

/* one job, one transaction: all of a REGISTER's changes or none */
static int apply_job(struct store_sqlite *st, const struct store_job *j)
{
	unsigned i;
	int err;

	if ((err = exec(st->wr, "BEGIN IMMEDIATE")) != 0)
		return err;
	for (i = 0; i < j->n; i++) {
		if ((err = apply_op(st, &j->ops[i])) != 0) {
			LOG_ERR("store: write of %.*s failed: %s", SY_FMT(j->ops[i].b.aor),
				sqlite3_errmsg(st->wr));
			exec(st->wr, "ROLLBACK");
			return err;
		}
	}
	return exec(st->wr, "COMMIT");
}

static void *writer_main(void *arg)
{
	struct store_sqlite *st = arg;
	struct store_job *batch, *j;

	pthread_mutex_lock(&st->q.mu);
	for (;;) {
		while (!st->q.head && !st->stop)
			pthread_cond_wait(&st->q.cv_work, &st->q.mu);
		if (!st->q.head && st->stop)
			break;
		batch = st->q.head;
		st->q.head = st->q.tail = NULL;
		st->q.queued = 0;
		pthread_mutex_unlock(&st->q.mu);

		while ((j = batch) != NULL) {
			int err = apply_job(st, j);

			batch = j->next;
			free(j);
			pthread_mutex_lock(&st->q.mu);
			st->q.applied++;
			if (err)
				st->q.failed = 1;
			pthread_cond_broadcast(&st->q.cv_done);
			pthread_mutex_unlock(&st->q.mu);
		}
		pthread_mutex_lock(&st->q.mu);
	}
	pthread_mutex_unlock(&st->q.mu);
	return NULL;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK) {
		LOG_ERR("store: prepare %s: %s", sql, sqlite3_errmsg(db));
		return EIO;
	}
	return 0;
}

int store_sqlite_open(const char *url, struct store_sqlite **out)
{
	struct store_sqlite *st = NULL;
	const char *path;
	int err;

	*out = NULL;
	if ((err = url_path(url, &path)) != 0)
		return err;
	st = calloc(1, sizeof(*st));
	if (!st)
		return ENOMEM;
	store_jobq_init(&st->q);
	pthread_mutex_init(&st->rd_mu, NULL);

	make_parent_dirs(path);
	if ((err = open_conn(path, &st->wr)) != 0)
		goto out;
	/* WAL: the reader and the writer do not block each other; NORMAL sync is durable across
	 * a process crash, which is the failure that matters for a registrar restart */
	if ((err = exec(st->wr, "PRAGMA journal_mode=WAL")) != 0 ||
	    (err = exec(st->wr, "PRAGMA synchronous=NORMAL")) != 0 ||
	    (err = exec(st->wr, schema)) != 0)
		goto out;
	if ((err = open_conn(path, &st->rd)) != 0)
		goto out;
	if ((err = prepare(st->wr, "INSERT OR REPLACE INTO location (aor, contact, received, path,"
			   " callid, user_agent, instance, cseq, reg_id, expires, q, methods, flags,"
			   " proto, last_modified) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			   &st->ins)) != 0 ||
	    (err = prepare(st->wr, "DELETE FROM location WHERE aor = ? AND contact = ?",
			   &st->del)) != 0 ||
	    (err = prepare(st->wr, "DELETE FROM location WHERE aor = ?", &st->del_aor)) != 0 ||
	    (err = prepare(st->wr, "DELETE FROM location WHERE expires <= ?", &st->purge)) != 0)
		goto out;
	{
		/* the process takes SIGTERM/SIGINT with sigwait in the main thread: a helper thread
		 * must never be the one a signal is delivered to */
		sigset_t all, old;
		int rc;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&st->thr, NULL, writer_main, st);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			err = ENOMEM;
			goto out;
		}
	}
	st->thr_started = 1;
	*out = st;
	st = NULL;
out:
	store_sqlite_close(st);
	return err;
}

void store_sqlite_close(struct store_sqlite *st)
{
	if (!st)
		return;
	if (st->thr_started) {
		pthread_mutex_lock(&st->q.mu);
		st->stop = 1;
		pthread_cond_signal(&st->q.cv_work);
		pthread_mutex_unlock(&st->q.mu);
		pthread_join(st->thr, NULL);
	}
	sqlite3_finalize(st->ins);
	sqlite3_finalize(st->del);
	sqlite3_finalize(st->del_aor);
	sqlite3_finalize(st->purge);
	sqlite3_close(st->wr);
	sqlite3_close(st->rd);
	store_jobq_destroy(&st->q);
	pthread_mutex_destroy(&st->rd_mu);
	free(st);
}

int store_sqlite_submit(struct store_sqlite *st, const struct store_op *ops, unsigned n)
{
	struct store_job *j;

	if (!st || (n && !ops))
		return EINVAL;
	if (n == 0)
		return 0;
	if (store_job_new(ops, n, &j))
		return ENOMEM;

	pthread_mutex_lock(&st->q.mu);
	if (st->q.queued >= STORE_MAX_QUEUED) {
		pthread_mutex_unlock(&st->q.mu);
		free(j);
		return EAGAIN;
	}
	store_jobq_append(&st->q, j);
	pthread_mutex_unlock(&st->q.mu);
	return 0;
}

int store_sqlite_flush(struct store_sqlite *st)
{
	return st ? store_jobq_flush(&st->q) : EINVAL;
}

static sy_str col_str(sqlite3_stmt *s, int i)
{
	sy_str r;

	r.s = (const char *)sqlite3_column_text(s, i);
	r.len = (size_t)sqlite3_column_bytes(s, i);
	if (!r.s) {
		r.s = "";
		r.len = 0;
	}
	return r;
}

int store_sqlite_load(struct store_sqlite *st, int64_t now, store_load_cb cb, void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc, err = 0;

	if (!st || !cb)
		return EINVAL;
	pthread_mutex_lock(&st->rd_mu);
	if ((err = prepare(st->rd, "SELECT aor, contact, received, path, callid, user_agent,"
			   " instance, cseq, reg_id, expires, q, methods, flags, proto,"
			   " last_modified FROM location WHERE expires > ?"
			   " ORDER BY aor, last_modified", &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_binding b;

		memset(&b, 0, sizeof(b));
		b.aor = col_str(s, 0);
		b.contact = col_str(s, 1);
		b.received = col_str(s, 2);
		b.path = col_str(s, 3);
		b.callid = col_str(s, 4);
		b.user_agent = col_str(s, 5);
		b.instance = col_str(s, 6);
		b.cseq = (uint32_t)sqlite3_column_int64(s, 7);
		b.reg_id = (uint32_t)sqlite3_column_int64(s, 8);
		b.expires = sqlite3_column_int64(s, 9);
		b.q = sqlite3_column_int(s, 10);
		b.methods = (uint32_t)sqlite3_column_int64(s, 11);
		b.flags = (uint32_t)sqlite3_column_int64(s, 12);
		b.proto = sqlite3_column_int(s, 13);
		b.last_modified = sqlite3_column_int64(s, 14);
		b.listen_idx = -1;
		if ((err = cb(&b, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		LOG_ERR("store: load failed: %s", sqlite3_errmsg(st->rd));
		err = EIO;
	}
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->rd_mu);
	return err;
}

int store_sqlite_count(struct store_sqlite *st, unsigned long *out)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!st || !out)
		return EINVAL;
	pthread_mutex_lock(&st->rd_mu);
	if ((err = prepare(st->rd, "SELECT COUNT(*) FROM location", &s)) != 0)
		goto out;
	if (sqlite3_step(s) == SQLITE_ROW)
		*out = (unsigned long)sqlite3_column_int64(s, 0);
	else
		err = EIO;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->rd_mu);
	return err;
}
