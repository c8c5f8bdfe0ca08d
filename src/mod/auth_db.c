/* auth_db.c: the users www_authorize/proxy_authorize check against, and the "auth_db" unit's
 * modparams. A worker never touches SQLite: the subscriber tables the script names are read
 * into an immutable in-memory snapshot at start, and a helper thread re-reads them when the
 * file changes (checked every reload_interval seconds), then publishes the new snapshot with
 * one atomic pointer exchange.
 * Readers never block and never take a lock. A lookup announces itself on one of two atomic
 * reader counters (picked by a phase number), reads the current pointer, copies the row out
 * and leaves. The publisher, after the exchange, flips the phase and waits for the old
 * phase's counter to drain, twice (once per counter): a reader that could still hold the old
 * snapshot announced itself before the exchange, on one of the two counters, so after both
 * drained nobody can, and it is freed (the two-phase grace period of userspace RCU). New
 * readers always go to the counter not being waited for, so the wait ends. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "mod/auth.h"
#include "store/subscriber.h"

#define AUTH_DB_MAX_TABLES 8
#define AUTH_DB_TABLE_NAME 64

struct auth_db_config auth_db_cfg = {
	.db_url = NULL,
	.calculate_ha1 = 0,
	.use_domain = 0,
	.user_column = NULL,
	.domain_column = NULL,
	.password_column = NULL,
	.hash_column_sha256 = NULL,
	.reload_interval = 1,
};

/* column defaults of OpenSIPS 3.x auth_db */
static const char *col_or(const char *v, const char *dflt)
{
	return v ? v : dflt;
}

struct snap_user {
	uint32_t hash;
	uint32_t next;		/* index + 1 of the next user in the bucket, 0 = end */
	uint32_t off;		/* username, domain, password, ha1_sha256 packed in strings */
	uint16_t ulen, dlen, plen, slen;
};

struct snap_table {
	char name[AUTH_DB_TABLE_NAME];
	unsigned nusers, ucap, nbuckets;
	uint32_t *buckets;	/* index + 1 of the first user, 0 = empty */
	struct snap_user *users;
	char *strings;
	size_t slen, scap;
	unsigned skipped;	/* rows left out (too long) */
};

struct snap {
	unsigned ntables;
	struct snap_table t[AUTH_DB_MAX_TABLES];
};

static _Atomic(struct snap *) cur_snap;
static atomic_ulong read_phase;
static atomic_long readers[2];
static atomic_ulong snap_gen;
static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;

/* the tables to keep (names the script gives www_authorize/proxy_authorize) */
static char table_names[AUTH_DB_MAX_TABLES][AUTH_DB_TABLE_NAME];
static unsigned ntable_names;

static pthread_t watch_thr;
static int watch_started, watch_stop;
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;

static uint32_t user_hash(sy_str u)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < u.len; i++) {
		h ^= (unsigned char)u.s[i];
		h *= 16777619u;
	}
	return h;
}

static void snap_free(struct snap *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->ntables; i++) {
		free(s->t[i].buckets);
		free(s->t[i].users);
		free(s->t[i].strings);
	}
	free(s);
}

static int put_str(struct snap_table *t, sy_str v)
{
	if (t->slen + v.len > t->scap) {
		size_t cap = t->scap ? t->scap * 2 : 4096;
		char *p;

		while (cap < t->slen + v.len)
			cap *= 2;
		if (!(p = realloc(t->strings, cap)))
			return ENOMEM;
		t->strings = p;
		t->scap = cap;
	}
	if (v.len)
		memcpy(t->strings + t->slen, v.s, v.len);
	t->slen += v.len;
	return 0;
}

static int row_cb(const struct store_subscriber *row, void *arg)
{
	struct snap_table *t = arg;
	struct snap_user *u;
	int err;

	if (!row->username.len)
		return 0;
	if (row->username.len > AUTH_USER_MAX || row->domain.len > 255 ||
	    row->password.len > AUTH_PASS_MAX || row->ha1_sha256.len > AUTH_HEX_MAX ||
	    t->slen > UINT32_MAX - 1024) {
		if (!t->skipped++)
			LOG_WARN("auth_db: %s: user '%.*s' left out: a value is too long",
				 t->name, SY_FMT(row->username));
		return 0;
	}
	if (t->nusers == t->ucap) {
		unsigned cap = t->ucap ? t->ucap * 2 : 64;
		struct snap_user *p = cap > t->ucap ? realloc(t->users, cap * sizeof(*p)) : NULL;

		if (!p)
			return ENOMEM;
		t->users = p;
		t->ucap = cap;
	}
	u = &t->users[t->nusers];
	u->hash = user_hash(row->username);
	u->next = 0;
	u->off = (uint32_t)t->slen;
	u->ulen = (uint16_t)row->username.len;
	u->dlen = (uint16_t)row->domain.len;
	u->plen = (uint16_t)row->password.len;
	u->slen = (uint16_t)row->ha1_sha256.len;
	if ((err = put_str(t, row->username)) || (err = put_str(t, row->domain)) ||
	    (err = put_str(t, row->password)) || (err = put_str(t, row->ha1_sha256)))
		return err;
	t->nusers++;
	return 0;
}

static int index_table(struct snap_table *t)
{
	unsigned nb = 16;

	while (nb < t->nusers * 2u && nb < (1u << 24))
		nb *= 2;
	t->nbuckets = nb;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->buckets)
		return ENOMEM;
	/* insert in reverse so that a chain lists rows in table order: the first row of a
	 * username wins, as the first row of OpenSIPS' query does */
	for (unsigned i = t->nusers; i-- > 0;) {
		uint32_t b = t->users[i].hash & (nb - 1);

		t->users[i].next = t->buckets[b];
		t->buckets[b] = i + 1;
	}
	return 0;
}

static void publish(struct snap *n)
{
	struct snap *old;

	pthread_mutex_lock(&pub_mu);
	old = atomic_exchange(&cur_snap, n);
	for (int k = 0; k < 2; k++) {
		unsigned long ph = atomic_fetch_add(&read_phase, 1);

		while (atomic_load(&readers[ph & 1]) != 0) {
			struct timespec ts = { 0, 100000 };

			nanosleep(&ts, NULL);
		}
	}
	atomic_fetch_add(&snap_gen, 1);
	pthread_mutex_unlock(&pub_mu);
	snap_free(old);
}

unsigned long auth_db_generation(void)
{
	return atomic_load(&snap_gen);
}

int auth_db_reload(void)
{
	struct store_sub_columns cols;
	struct snap *n = calloc(1, sizeof(*n));
	int rc = 0, err;

	if (!n)
		return ENOMEM;
	cols.user = col_or(auth_db_cfg.user_column, "username");
	cols.domain = col_or(auth_db_cfg.domain_column, "domain");
	cols.password = col_or(auth_db_cfg.password_column, "ha1");
	cols.ha1_sha256 = col_or(auth_db_cfg.hash_column_sha256, "ha1_sha256");
	for (unsigned i = 0; i < ntable_names; i++) {
		struct snap_table *t = &n->t[n->ntables++];

		memcpy(t->name, table_names[i], sizeof(t->name));
		cols.table = t->name;
		err = auth_db_cfg.db_url ? store_subscriber_read(auth_db_cfg.db_url, &cols, row_cb, t)
					 : ENOENT;
		if (err == ENOMEM)
			goto nomem;
		if (err) {
			/* a table we cannot read is published empty: every user unknown (-1) */
			free(t->users);
			free(t->strings);
			t->users = NULL;
			t->strings = NULL;
			t->nusers = t->ucap = 0;
			t->slen = t->scap = 0;
			if (!rc)
				rc = err;
		}
		if (index_table(t) != 0)
			goto nomem;
	}
	publish(n);
	return rc;
nomem:
	LOG_ERR("auth_db: out of memory reloading the users: the previous ones stay");
	snap_free(n);
	return ENOMEM;
}

int auth_db_lookup(sy_str table, sy_str user, sy_str realm, struct auth_cred_row *row)
{
	unsigned long ph = atomic_load(&read_phase);
	const struct snap *s;
	const struct snap_table *t = NULL;
	uint32_t h = user_hash(user), i;
	int rc = ENOENT;

	atomic_fetch_add(&readers[ph & 1], 1);
	s = atomic_load(&cur_snap);
	for (unsigned k = 0; s && k < s->ntables; k++)
		if (sy_str_eq(table, sy_cstr(s->t[k].name)))
			t = &s->t[k];
	if (!t) {
		rc = ESRCH;
		goto out;
	}
	for (i = t->buckets[h & (t->nbuckets - 1)]; i; i = t->users[i - 1].next) {
		const struct snap_user *u = &t->users[i - 1];
		const char *p = t->strings + u->off;

		if (u->hash != h || !sy_str_eq(sy_str_make(p, u->ulen), user))
			continue;
		/* use_domain: the domain column must be the realm (hosts compare ignoring case,
		 * RFC 3261 §19.1.4) */
		if (auth_db_cfg.use_domain && !sy_str_caseeq(sy_str_make(p + u->ulen, u->dlen), realm))
			continue;
		p += u->ulen + u->dlen;
		memcpy(row->password, p, u->plen);
		row->password_len = u->plen;
		memcpy(row->ha1_sha256, p + u->plen, u->slen);
		row->ha1_sha256_len = u->slen;
		rc = 0;
		break;
	}
out:
	atomic_fetch_sub(&readers[ph & 1], 1);
	return rc;
}

/* ---- the watcher */

struct file_sig {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static void file_sig(const char *path, struct file_sig *out)
{
	struct stat sb;

	memset(out, 0, sizeof(*out));
	if (stat(path, &sb) != 0)
		return;
	out->exists = 1;
	out->dev = sb.st_dev;
	out->ino = sb.st_ino;
	out->size = sb.st_size;
	out->mtime = sb.st_mtim;
}

static int sig_eq(const struct file_sig *a, const struct file_sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* the database file and its WAL: a write in WAL mode changes only the -wal file until a
 * checkpoint */
static void db_sigs(struct file_sig sig[2])
{
	char wal[4096];
	const char *path = auth_db_cfg.db_url + 9;	/* after "sqlite://" */

	file_sig(path, &sig[0]);
	if (snprintf(wal, sizeof(wal), "%s-wal", path) < (int)sizeof(wal))
		file_sig(wal, &sig[1]);
	else
		memset(&sig[1], 0, sizeof(sig[1]));
}

/* the files as they were just before the first load: a change between that load and the
 * watcher's first look is still seen */
static struct file_sig start_sigs[2];

static void *watch_main(void *arg)
{
	struct file_sig last[2], now[2];

	(void)arg;
	memcpy(last, start_sigs, sizeof(last));
	pthread_mutex_lock(&watch_mu);
	while (!watch_stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += auth_db_cfg.reload_interval;
		pthread_cond_timedwait(&watch_cv, &watch_mu, &ts);
		if (watch_stop)
			break;
		pthread_mutex_unlock(&watch_mu);
		db_sigs(now);
		if (!sig_eq(&now[0], &last[0]) || !sig_eq(&now[1], &last[1])) {
			int rc;

			memcpy(last, now, sizeof(last));
			rc = auth_db_reload();
			if (rc == 0)
				LOG_NOTICE("auth_db: users reloaded from %s", auth_db_cfg.db_url);
			else if (rc == ENOENT && !now[0].exists)
				LOG_WARN("auth_db: %s is gone: every user is unknown",
					 auth_db_cfg.db_url);
		}
		pthread_mutex_lock(&watch_mu);
	}
	pthread_mutex_unlock(&watch_mu);
	return NULL;
}

void auth_db_stop(void)
{
	if (watch_started) {
		pthread_mutex_lock(&watch_mu);
		watch_stop = 1;
		pthread_cond_signal(&watch_cv);
		pthread_mutex_unlock(&watch_mu);
		pthread_join(watch_thr, NULL);
		watch_started = 0;
	}
	pthread_mutex_lock(&pub_mu);
	snap_free(atomic_exchange(&cur_snap, NULL));
	pthread_mutex_unlock(&pub_mu);
	ntable_names = 0;
}

int auth_db_start(const sy_str *tables, unsigned ntables)
{
	static int exit_hooked;
	sigset_t all, old;
	int rc;

	for (unsigned i = 0; i < ntables; i++) {
		unsigned k;

		for (k = 0; k < ntable_names; k++)
			if (sy_str_eq(tables[i], sy_cstr(table_names[k])))
				break;
		if (k < ntable_names)
			continue;
		if (ntable_names == AUTH_DB_MAX_TABLES || tables[i].len >= AUTH_DB_TABLE_NAME ||
		    !store_sql_ident_ok(tables[i].s, tables[i].len)) {
			LOG_ERR("auth_db: table \"%.*s\": not a usable table name (or more than %d)",
				SY_FMT(tables[i]), AUTH_DB_MAX_TABLES);
			return EINVAL;
		}
		memcpy(table_names[ntable_names], tables[i].s, tables[i].len);
		table_names[ntable_names][tables[i].len] = '\0';
		ntable_names++;
	}
	if (auth_db_cfg.db_url)
		db_sigs(start_sigs);
	rc = auth_db_reload();
	if (rc == ENOENT)
		LOG_WARN("auth_db: %s: no such file: every user is unknown until it appears",
			 auth_db_cfg.db_url ? auth_db_cfg.db_url : "(no db_url)");
	else if (rc == EIO)
		LOG_WARN("auth_db: %s: users table not readable: every user is unknown until it is",
			 auth_db_cfg.db_url);
	else if (rc)
		return rc;
	if (!exit_hooked) {
		atexit(auth_db_stop);
		exit_hooked = 1;
	}
	if (watch_started || !auth_db_cfg.db_url)
		return 0;
	watch_stop = 0;
	/* signals belong to the main thread's sigwait */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&watch_thr, NULL, watch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return EAGAIN;
	watch_started = 1;
	return 0;
}
