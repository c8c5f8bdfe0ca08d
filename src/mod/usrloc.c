/* usrloc.c: the location table behind save()/lookup() (RFC 3261 §10.3, RFC 5626 §6).
 * AOR -> record -> list of contacts, hashed into UL_SHARDS shards with one pthread rwlock each.
 * A REGISTER's changes are planned against the current list, checked (Call-ID/CSeq ordering,
 * max_contacts), written to the store's queue and only then made visible: a failed step leaves
 * the table as it was (§10.3: "committed if and only if all binding updates and additions
 * succeed"). Every contact is one malloc holding its strings; readers copy into their arena. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "mod/usrloc.h"
#include "proxy/proxy.h"
#include "sip/msg.h"

#define UL_BUCKETS 512u		/* per shard: 32768 chains in all */

struct ul_contact {
	struct ul_contact *next;
	struct store_binding b;	/* strings point into data[] */
	char data[];
};

struct ul_record {
	struct ul_record *next;
	uint32_t hash;
	struct ul_contact *contacts;	/* oldest first */
	size_t aor_len;
	char aor[];
};

struct ul_shard {
	pthread_rwlock_t lock;
	struct ul_record *bucket[UL_BUCKETS];
};

static struct ul_shard *shards;	/* UL_SHARDS of them; NULL before ul_init */
static struct store *ul_store;
static int64_t (*clock_fn)(void);

static pthread_t timer_thr;
static int timer_started;
static unsigned timer_interval;
static pthread_mutex_t timer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cv = PTHREAD_COND_INITIALIZER;
static int timer_stop;
static int exit_hooked;

int64_t ul_now(void)
{
	return clock_fn ? clock_fn() : (int64_t)time(NULL);
}

void ul_set_clock(int64_t (*now_fn)(void))
{
	clock_fn = now_fn;
}

static uint32_t hash_aor(sy_str aor)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = 0; i < aor.len; i++) {
		h ^= (unsigned char)aor.s[i];
		h *= 16777619u;
	}
	return h;
}

static struct ul_shard *shard_of(uint32_t h)
{
	return &shards[h % UL_SHARDS];
}

static struct ul_record **find_rec(struct ul_shard *sh, uint32_t h, sy_str aor)
{
	struct ul_record **pp = &sh->bucket[(h / UL_SHARDS) % UL_BUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->aor_len == aor.len &&
		    memcmp((*pp)->aor, aor.s, aor.len) == 0)
			return pp;
	return pp;
}

static struct ul_contact *contact_new(const struct store_binding *b, sy_str aor)
{
	struct store_binding t = *b;
	struct ul_contact *c;

	t.aor = aor;
	c = malloc(sizeof(*c) + store_binding_strs_len(&t));
	if (!c)
		return NULL;
	c->next = NULL;
	store_binding_copy(&c->b, &t, c->data);
	return c;
}

/* arena copy of a binding (readers outside the lock) */
static int arena_copy(struct sy_arena *a, const struct store_binding *s, struct store_binding *d)
{
	char *p = sy_arena_alloc(a, store_binding_strs_len(s) + 1);

	if (!p)
		return ENOMEM;
	store_binding_copy(d, s, p);
	return 0;
}

static int copy_out(const struct ul_record *r, int64_t now, struct sy_arena *a,
		    struct store_binding **out, unsigned *nout)
{
	const struct ul_contact *c;
	unsigned n = 0, i = 0;
	struct store_binding *v;

	for (c = r ? r->contacts : NULL; c; c = c->next)
		if (c->b.expires > now)
			n++;
	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	v = sy_arena_alloc(a, n * sizeof(*v));
	if (!v)
		return ENOMEM;
	for (c = r->contacts; c; c = c->next) {
		if (c->b.expires <= now)
			continue;
		if (arena_copy(a, &c->b, &v[i]) != 0)
			return ENOMEM;
		i++;
	}
	*out = v;
	*nout = n;
	return 0;
}

static void free_record(struct ul_record *r);

static int load_one(const struct store_binding *b, void *arg)
{
	struct ul_shard *sh;
	struct ul_record **pp, *r;
	struct ul_contact *c, **tail;
	uint32_t h = hash_aor(b->aor);

	(void)arg;
	sh = shard_of(h);
	pp = find_rec(sh, h, b->aor);
	if (!*pp) {
		r = calloc(1, sizeof(*r) + b->aor.len);
		if (!r)
			return ENOMEM;
		r->hash = h;
		r->aor_len = b->aor.len;
		memcpy(r->aor, b->aor.s, b->aor.len);
		*pp = r;
	}
	r = *pp;
	c = contact_new(b, sy_str_make(r->aor, r->aor_len));
	if (!c)
		return ENOMEM;
	for (tail = &r->contacts; *tail; tail = &(*tail)->next)
		;
	*tail = c;
	return 0;
}

/* by last_modified, oldest first: the table's order (most recently added last) */
static int cmp_modified(const void *a, const void *b)
{
	const struct store_binding *x = a, *y = b;

	return (x->last_modified > y->last_modified) - (x->last_modified < y->last_modified);
}

int ul_replace_aor(sy_str aor, const struct store_binding *b, unsigned n)
{
	struct ul_shard *sh;
	struct ul_record **pp, *fresh = NULL, *old = NULL;
	struct ul_contact **tail;
	struct store_binding *v = NULL;
	uint32_t h = hash_aor(aor);
	unsigned i;
	int err = 0;

	if (!shards || !aor.len || (n && !b))
		return EINVAL;
	/* everything is built before the lock: the shard is held only for the swap */
	if (n) {
		v = malloc((size_t)n * sizeof(*v));
		fresh = calloc(1, sizeof(*fresh) + aor.len);
		if (!v || !fresh) {
			err = ENOMEM;
			goto out;
		}
		memcpy(v, b, (size_t)n * sizeof(*v));
		qsort(v, n, sizeof(*v), cmp_modified);
		fresh->hash = h;
		fresh->aor_len = aor.len;
		memcpy(fresh->aor, aor.s, aor.len);
		tail = &fresh->contacts;
		for (i = 0; i < n; i++) {
			struct ul_contact *c = contact_new(&v[i], sy_str_make(fresh->aor,
									     fresh->aor_len));
			if (!c) {
				err = ENOMEM;
				goto out;
			}
			/* the connection and the socket were the other node's */
			c->b.conn_id = 0;
			c->b.listen_idx = -1;
			*tail = c;
			tail = &c->next;
		}
	}
	sh = shard_of(h);
	pthread_rwlock_wrlock(&sh->lock);
	pp = find_rec(sh, h, aor);
	old = *pp;
	if (fresh) {
		fresh->next = old ? old->next : NULL;
		*pp = fresh;
		fresh = NULL;
	} else if (old) {
		*pp = old->next;
	}
	pthread_rwlock_unlock(&sh->lock);
out:
	if (old)
		free_record(old);
	if (fresh)
		free_record(fresh);
	free(v);
	return err;
}

static int replace_cb(sy_str aor, const struct store_binding *b, unsigned n, void *arg)
{
	int err;

	(void)arg;
	if ((err = ul_replace_aor(aor, b, n)) != 0)
		LOG_ERR("usrloc: bindings of %.*s from the shared store not applied: %s",
			SY_FMT(aor), strerror(err));
	return 0;
}

int ul_init(const char *db_url)
{
	unsigned i;
	int err = 0;

	/* registrar and usrloc both call this at load, in either order: the table once, the
	 * store when a db_url comes */
	if (!exit_hooked) {
		/* at exit (after main joined the workers) the writer queue is flushed: the last
		 * REGISTERs before a restart must be on disk */
		atexit(ul_destroy);
		exit_hooked = 1;
	}
	if (!shards) {
		shards = calloc(UL_SHARDS, sizeof(*shards));
		if (!shards)
			return ENOMEM;
		for (i = 0; i < UL_SHARDS; i++)
			pthread_rwlock_init(&shards[i].lock, NULL);
	}
	if (db_url && *db_url && !ul_store) {
		if ((err = store_open(db_url, &ul_store)) != 0)
			goto out;
		/* before workers start: nothing else touches the table, and the load adds to
		 * what memory-only saves may hold (none in practice) */
		if ((err = store_load(ul_store, ul_now(), load_one, NULL)) != 0)
			goto out;
		/* a shared store (Redis): other nodes' changes replace AORs from now on */
		if ((err = store_watch(ul_store, replace_cb, NULL)) != 0)
			goto out;
	}
out:
	if (err) {
		LOG_ERR("usrloc: cannot use %s: %s", db_url, strerror(err));
		ul_destroy();
	}
	return err;
}

static void free_record(struct ul_record *r)
{
	struct ul_contact *c, *n;

	for (c = r->contacts; c; c = n) {
		n = c->next;
		free(c);
	}
	free(r);
}

void ul_destroy(void)
{
	unsigned i, j;

	if (timer_started) {
		pthread_mutex_lock(&timer_mu);
		timer_stop = 1;
		pthread_cond_signal(&timer_cv);
		pthread_mutex_unlock(&timer_mu);
		pthread_join(timer_thr, NULL);
		timer_started = 0;
		timer_stop = 0;
	}
	store_close(ul_store);
	ul_store = NULL;
	if (!shards)
		return;
	for (i = 0; i < UL_SHARDS; i++) {
		for (j = 0; j < UL_BUCKETS; j++) {
			struct ul_record *r, *n;

			for (r = shards[i].bucket[j]; r; r = n) {
				n = r->next;
				free_record(r);
			}
		}
		pthread_rwlock_destroy(&shards[i].lock);
	}
	free(shards);
	shards = NULL;
}

int ul_flush(void)
{
	return ul_store ? store_flush(ul_store) : 0;
}

/* contact equality for §10.3 step 7: RFC 5626 §6 instance + reg-id when both carry them,
 * else §19.1.4 URI comparison (bytes when a URI does not parse) */
static int same_binding(const struct store_binding *a, const struct store_binding *b)
{
	struct sip_uri ua, ub;

	if (a->instance.len && b->instance.len && a->reg_id && b->reg_id)
		return a->reg_id == b->reg_id && sy_str_eq(a->instance, b->instance);
	if (sip_uri_parse(a->contact, &ua) == 0 && sip_uri_parse(b->contact, &ub) == 0)
		return sip_uri_equal(&ua, &ub);
	return sy_str_eq(a->contact, b->contact);
}

/* planning slot: an existing contact and/or the change that replaces it */
struct slot {
	struct ul_contact *old;		/* NULL for an addition */
	const struct ul_change *ch;	/* NULL: kept unchanged */
	struct ul_contact *fresh;	/* built for ch when it is not a removal */
	int drop;			/* the binding goes away */
};

int ul_update(sy_str aor, const struct ul_change *ch, unsigned n, int star, sy_str callid,
	      uint32_t cseq, unsigned max_contacts, struct sy_arena *a,
	      struct store_binding **out, unsigned *nout)
{
	struct ul_shard *sh;
	struct ul_record **pp, *r, *newrec = NULL;
	struct ul_contact *c, **tail;
	struct slot *sl = NULL;
	struct store_op *ops = NULL;
	unsigned nold = 0, ns, i, j, nops = 0, remain = 0;
	uint32_t h = hash_aor(aor);
	int64_t now = ul_now();
	int err = 0, locked = 0;

	if (!shards || !aor.len || (n && !ch))
		return EINVAL;
	sh = shard_of(h);
	pthread_rwlock_wrlock(&sh->lock);
	locked = 1;
	pp = find_rec(sh, h, aor);
	r = *pp;
	for (c = r ? r->contacts : NULL; c; c = c->next)
		nold++;
	sl = calloc((size_t)nold + n + 1, sizeof(*sl));
	/* worst case: every old one deleted (expired or replaced) + every change written */
	ops = calloc((size_t)nold * 2 + n + 1, sizeof(*ops));
	if (!sl || !ops) {
		err = ENOMEM;
		goto out;
	}
	ns = 0;
	for (c = r ? r->contacts : NULL; c; c = c->next) {
		sl[ns].old = c;
		/* expired but not yet purged: gone for every purpose (§10.2.1.1) */
		sl[ns].drop = c->b.expires <= now;
		ns++;
	}

	if (star) {
		/* §10.3 step 6: a binding with the same Call-ID is removed only when the request's
		 * CSeq is higher, else the whole request fails */
		for (i = 0; i < ns; i++) {
			if (sl[i].drop)
				continue;
			if (sy_str_eq(sl[i].old->b.callid, callid) && cseq <= sl[i].old->b.cseq) {
				if (cseq == sl[i].old->b.cseq)
					continue;	/* a retransmission: see below */
				err = EPROTO;
				goto out;
			}
			sl[i].drop = 1;
		}
	}

	for (j = 0; !star && j < n; j++) {
		const struct ul_change *x = &ch[j];
		struct slot *m = NULL;

		for (i = 0; i < ns; i++) {
			const struct store_binding *cur;

			if (sl[i].drop && !sl[i].ch)
				continue;
			cur = sl[i].ch ? &sl[i].ch->b : &sl[i].old->b;
			if (same_binding(cur, &x->b)) {
				m = &sl[i];
				break;
			}
		}
		if (!m) {
			if (x->remove)
				continue;	/* removing what is not bound is a no-op */
			m = &sl[ns++];
		} else if (!m->ch && sy_str_eq(m->old->b.callid, x->b.callid) &&
			   x->b.cseq <= m->old->b.cseq) {
			/* the binding was last set by this very request: a UDP retransmission that
			 * no transaction absorbed (save() replies statelessly). Leave it as it is and
			 * answer 200 again, as the transaction layer would have. */
			if (x->b.cseq == m->old->b.cseq)
				continue;
			/* §10.3 step 7: same Call-ID, lower CSeq: abort, the request fails */
			err = EPROTO;
			goto out;
		}
		/* the same contact twice in one request: the last one wins */
		m->ch = x;
		m->drop = x->remove;
	}

	for (i = 0; i < ns; i++)
		if (!sl[i].drop)
			remain++;
	if (max_contacts && remain > max_contacts) {
		err = EDQUOT;
		goto out;
	}

	/* build the new contacts before anything becomes visible */
	if (!r && remain) {
		newrec = calloc(1, sizeof(*newrec) + aor.len);
		if (!newrec) {
			err = ENOMEM;
			goto out;
		}
		newrec->hash = h;
		newrec->aor_len = aor.len;
		memcpy(newrec->aor, aor.s, aor.len);
	}
	for (i = 0; i < ns; i++) {
		struct ul_record *owner = r ? r : newrec;

		if (sl[i].drop || !sl[i].ch)
			continue;
		sl[i].fresh = contact_new(&sl[i].ch->b, sy_str_make(owner->aor, owner->aor_len));
		if (!sl[i].fresh) {
			err = ENOMEM;
			goto out;
		}
		sl[i].fresh->b.last_modified = now;
	}

	/* the store job: deletions of what goes (or changes its key), upserts of what is new */
	for (i = 0; i < ns; i++) {
		if (sl[i].old && (sl[i].drop ||
				  (sl[i].fresh && !sy_str_eq(sl[i].old->b.contact,
							     sl[i].fresh->b.contact)))) {
			ops[nops].kind = STORE_OP_DELETE;
			ops[nops].b = sl[i].old->b;
			nops++;
		}
		if (sl[i].fresh) {
			ops[nops].kind = STORE_OP_UPSERT;
			ops[nops].b = sl[i].fresh->b;
			nops++;
		}
	}
	if (ul_store && nops && (err = store_submit(ul_store, ops, nops)) != 0) {
		LOG_ERR("usrloc: store refused the update of %.*s: %s", SY_FMT(aor), strerror(err));
		goto out;
	}

	/* commit: relink the list in slot order (kept ones keep their place, new ones last) */
	if (!r)
		r = newrec;
	newrec = NULL;
	if (r) {
		tail = &r->contacts;
		for (i = 0; i < ns; i++) {
			struct ul_contact *keep = sl[i].fresh ? sl[i].fresh :
						  (!sl[i].drop ? sl[i].old : NULL);
			if (sl[i].old && sl[i].old != keep)
				free(sl[i].old);
			sl[i].old = NULL;
			sl[i].fresh = NULL;
			if (keep) {
				*tail = keep;
				tail = &keep->next;
			}
		}
		*tail = NULL;
		if (!r->contacts) {
			struct ul_record **q = find_rec(sh, h, aor);

			if (*q == r)
				*q = r->next;
			free(r);
			r = NULL;
		} else if (!*pp) {
			*pp = r;
		}
	}
	if (out)
		err = copy_out(r, now, a, out, nout);
out:
	if (sl) {
		for (i = 0; i < (unsigned)((size_t)nold + n + 1); i++)
			free(sl[i].fresh);
	}
	if (locked)
		pthread_rwlock_unlock(&sh->lock);
	free(newrec);
	free(sl);
	free(ops);
	return err;
}

int ul_get(sy_str aor, struct sy_arena *a, struct store_binding **out, unsigned *nout)
{
	struct ul_shard *sh;
	struct ul_record *r;
	uint32_t h = hash_aor(aor);
	int err;

	*out = NULL;
	*nout = 0;
	if (!shards)
		return ENOENT;
	sh = shard_of(h);
	pthread_rwlock_rdlock(&sh->lock);
	r = *find_rec(sh, h, aor);
	err = copy_out(r, ul_now(), a, out, nout);
	pthread_rwlock_unlock(&sh->lock);
	if (!err && *nout == 0)
		err = ENOENT;
	return err;
}

int ul_remove_aor(sy_str aor)
{
	struct ul_shard *sh;
	struct ul_record **pp, *r;
	struct store_op op;
	uint32_t h = hash_aor(aor);

	if (!shards)
		return ENOENT;
	sh = shard_of(h);
	pthread_rwlock_wrlock(&sh->lock);
	pp = find_rec(sh, h, aor);
	r = *pp;
	if (r)
		*pp = r->next;
	pthread_rwlock_unlock(&sh->lock);
	if (!r)
		return ENOENT;
	if (ul_store) {
		memset(&op, 0, sizeof(op));
		op.kind = STORE_OP_DELETE_AOR;
		op.b.aor = aor;
		if (store_submit(ul_store, &op, 1) != 0)
			LOG_ERR("usrloc: store refused removing %.*s", SY_FMT(aor));
	}
	free_record(r);
	return 0;
}

unsigned ul_purge(int64_t now)
{
	unsigned i, j, gone = 0;

	if (!shards)
		return 0;
	for (i = 0; i < UL_SHARDS; i++) {
		pthread_rwlock_wrlock(&shards[i].lock);
		for (j = 0; j < UL_BUCKETS; j++) {
			struct ul_record **pp = &shards[i].bucket[j];

			while (*pp) {
				struct ul_record *r = *pp;
				struct ul_contact **cp = &r->contacts;

				while (*cp) {
					struct ul_contact *c = *cp;

					if (c->b.expires <= now) {
						*cp = c->next;
						free(c);
						gone++;
					} else {
						cp = &c->next;
					}
				}
				if (!r->contacts) {
					*pp = r->next;
					free(r);
				} else {
					pp = &r->next;
				}
			}
		}
		pthread_rwlock_unlock(&shards[i].lock);
	}
	/* the rows follow in one statement, whatever the table held (also rows of bindings
	 * replaced while the store was behind) */
	if (ul_store) {
		struct store_op op;

		memset(&op, 0, sizeof(op));
		op.kind = STORE_OP_PURGE;
		op.b.expires = now;
		if (store_submit(ul_store, &op, 1) != 0)
			LOG_ERR("usrloc: store refused the purge of expired bindings");
	}
	return gone;
}

static void *timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&timer_mu);
	while (!timer_stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += timer_interval;
		pthread_cond_timedwait(&timer_cv, &timer_mu, &ts);
		if (timer_stop)
			break;
		pthread_mutex_unlock(&timer_mu);
		ul_purge(ul_now());
		pthread_mutex_lock(&timer_mu);
	}
	pthread_mutex_unlock(&timer_mu);
	return NULL;
}

int ul_start_timer(unsigned interval_s)
{
	sigset_t all, old;
	int rc;

	if (timer_started || !interval_s)
		return 0;
	timer_interval = interval_s;
	timer_stop = 0;
	/* signals belong to the main thread's sigwait, never to this helper */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&timer_thr, NULL, timer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return EAGAIN;
	timer_started = 1;
	return 0;
}

static int walk_rec(const struct ul_record *r, int64_t now, ul_walk_cb cb, void *arg)
{
	const struct ul_contact *c;
	int err;

	for (c = r->contacts; c; c = c->next)
		if (c->b.expires > now && (err = cb(&c->b, arg)) != 0)
			return err;
	return 0;
}

int ul_dump(ul_walk_cb cb, void *arg)
{
	int64_t now = ul_now();
	unsigned i, j;
	int err = 0;

	if (!shards)
		return 0;
	for (i = 0; i < UL_SHARDS && !err; i++) {
		pthread_rwlock_rdlock(&shards[i].lock);
		for (j = 0; j < UL_BUCKETS && !err; j++) {
			const struct ul_record *r;

			for (r = shards[i].bucket[j]; r && !err; r = r->next)
				err = walk_rec(r, now, cb, arg);
		}
		pthread_rwlock_unlock(&shards[i].lock);
	}
	return err;
}

int ul_show_contact(sy_str aor, ul_walk_cb cb, void *arg)
{
	struct ul_shard *sh;
	const struct ul_record *r;
	uint32_t h = hash_aor(aor);
	int err = ENOENT;

	if (!shards)
		return ENOENT;
	sh = shard_of(h);
	pthread_rwlock_rdlock(&sh->lock);
	r = *find_rec(sh, h, aor);
	if (r)
		err = walk_rec(r, ul_now(), cb, arg);
	pthread_rwlock_unlock(&sh->lock);
	return err;
}

void ul_stats(unsigned long *aors, unsigned long *contacts)
{
	unsigned i, j;

	*aors = *contacts = 0;
	if (!shards)
		return;
	for (i = 0; i < UL_SHARDS; i++) {
		pthread_rwlock_rdlock(&shards[i].lock);
		for (j = 0; j < UL_BUCKETS; j++) {
			const struct ul_record *r;
			const struct ul_contact *c;

			for (r = shards[i].bucket[j]; r; r = r->next) {
				(*aors)++;
				for (c = r->contacts; c; c = c->next)
					(*contacts)++;
			}
		}
		pthread_rwlock_unlock(&shards[i].lock);
	}
}

/* ---- the "usrloc" script unit: only modparams; its functions are the registrar's */

static char *db_url_param;
static long timer_interval_param = 60;
static char *nat_bflag_param;
static int nat_bflag = -1;

int ul_nat_bflag(void)
{
	return nat_bflag;
}

static int set_db_url(const struct scr_arg *v, const char **err)
{
	char *s = malloc(v->s.len + 1);

	if (!s) {
		*err = "out of memory";
		return ENOMEM;
	}
	memcpy(s, v->s.s, v->s.len);
	s[v->s.len] = '\0';
	if (store_url_check(s, err) != 0) {
		free(s);
		return EINVAL;
	}
	free(db_url_param);
	db_url_param = s;
	return 0;
}

static int set_nat_bflag(const struct scr_arg *v, const char **err)
{
	char *s = malloc(v->s.len + 1);

	if (!s) {
		*err = "out of memory";
		return ENOMEM;
	}
	memcpy(s, v->s.s, v->s.len);
	s[v->s.len] = '\0';
	free(nat_bflag_param);
	nat_bflag_param = s;
	return 0;
}

static int set_timer_interval(const struct scr_arg *v, const char **err)
{
	if (v->i < 1 || v->i > 86400) {
		*err = "timer_interval must be 1..86400 seconds";
		return EINVAL;
	}
	timer_interval_param = v->i;
	return 0;
}

int ul_start(void)
{
	int err = ul_init(db_url_param);

	/* OpenSIPS' NAT marker: the flag the script sets on a NATed REGISTER (setbflag(NAT))
	 * and that lookup() sets again for a NATed contact */
	if (nat_bflag_param && nat_bflag < 0) {
		nat_bflag = scr_flag_index(px_prog, sy_cstr(nat_bflag_param));
		if (nat_bflag < 0)
			LOG_WARN("usrloc: nat_bflag \"%s\" is not a flag the script uses",
				 nat_bflag_param);
	}

	if (!err)
		err = ul_start_timer((unsigned)timer_interval_param);
	return err;
}

static int ul_unit_init(void)
{
	return ul_start();
}

static const struct scr_fn ul_fns[] = {
	{ .name = NULL },
};

static const struct scr_modparam ul_params[] = {
	{ "db_url", SCR_PARAM_STR, set_db_url },
	/* OpenSIPS 3.x names the shared (NoSQL) location back end cachedb_url */
	{ "cachedb_url", SCR_PARAM_STR, set_db_url },
	{ "timer_interval", SCR_PARAM_INT, set_timer_interval },
	{ "nat_bflag", SCR_PARAM_STR, set_nat_bflag },
	{ NULL, SCR_PARAM_INT, NULL },
};

const struct scr_unit ul_unit = {
	.name = "usrloc",
	.fns = ul_fns,
	.params = ul_params,
	.init = ul_unit_init,
};
