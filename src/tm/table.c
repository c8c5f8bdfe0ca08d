/* table.c: the per-worker transaction table. Typed pools for transactions and branches
 * (grown in chunks, never returned to malloc), transaction memory in pooled blocks, the hash
 * index for matching requests (RFC 3261 §17.2.3 with the RFC 2543 fallback), our branch ids
 * that map replies back to (worker, slot, generation, branch) in O(1), and the hand-off of a
 * message read by another worker to the transaction's owner. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "proxy/fmt.h"
#include "proxy/proxy.h"
#include "tm/internal.h"

static _Thread_local struct tm_table *tl_table;
static pthread_key_t tm_key;
static pthread_once_t tm_key_once = PTHREAD_ONCE_INIT;
static atomic_uint tm_active;
static atomic_uint tm_zombies;	/* of tm_active, how many are zombies (zombie.c) */
static uint32_t tm_salt;

int (*tm_send_fn)(const struct sy_dest *dst, const char *buf, size_t len) = px_send;
void (*tm_trans_hook)(const struct scr_value *avps, int start);

static void tm_table_destroy(struct tm_table *tb);

/* a worker thread that ends frees its table (key destructor), whoever started the thread */
static void tm_key_dtor(void *arg)
{
	tm_table_destroy(arg);
}

static void tm_key_make(void)
{
	pthread_key_create(&tm_key, tm_key_dtor);
}

struct tm_table *tm_table(void)
{
	if (!tl_table) {
		tl_table = calloc(1, sizeof(*tl_table));
		if (!tl_table)
			return NULL;
		tl_table->pend_reply = tl_table->pend_failure = tl_table->pend_branch = -1;
		pthread_once(&tm_key_once, tm_key_make);
		pthread_setspecific(tm_key, tl_table);
	}
	return tl_table;
}

/* a per-process salt in our branch ids, so that replies to a previous run never match */
static void tm_salt_init(void)
{
	struct timespec ts;

	if (tm_salt)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	tm_salt = (uint32_t)ts.tv_nsec ^ ((uint32_t)ts.tv_sec << 7) ^ ((uint32_t)getpid() << 16);
	if (!tm_salt)
		tm_salt = 1;
}

/* called once before workers start (tm_install) so that every worker sees the same salt */
void tm_table_global_init(void)
{
	tm_salt_init();
}

/* Eight octets per step (multiply and xor-shift, the murmur3 finalizer at the end): a branch
 * id or Call-ID (20-60 octets) is hashed once or twice per message, and FNV-1a's one multiply
 * per octet was ~1,000 instructions per call. The value never leaves the process. */
static uint64_t tm_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

uint32_t tm_hash(sy_str s)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ s.len, w;
	size_t i = 0;

	for (; i + 8 <= s.len; i += 8) {
		memcpy(&w, s.s + i, 8);
		h = tm_mix(h, w);
	}
	if (i < s.len) {
		w = 0;
		for (unsigned k = 0; i < s.len; i++, k += 8)
			w |= (uint64_t)(unsigned char)s.s[i] << k;
		h = tm_mix(h, w);
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	return (uint32_t)(h ^ (h >> 32));
}

int tm_is_3261(const struct sip_msg *m)
{
	return m->via1.branch.len > 7 && memcmp(m->via1.branch.s, "z9hG4bK", 7) == 0;
}

uint32_t tm_key_hash(const struct sip_msg *m)
{
	/* §17.2.3: the branch identifies the transaction; RFC 2543 requests only share a Call-ID
	 * with their ACK and CANCEL */
	return tm_is_3261(m) ? tm_hash(m->via1.branch) : tm_hash(m->callid);
}

/* The owner is chosen by Call-ID, which every message of a call carries (the request, its
 * retransmissions, CANCEL, ACK, the in-dialog requests): all of a call's messages then meet on
 * one worker, in the order the reading worker saw them, so an ACK and the BYE after it cannot
 * overtake each other on two workers. Transactions are still matched by branch (§17.2.3). */
int tm_owner_of(const struct sip_msg *m)
{
	int n = sy_worker_count();

	if (n <= 1)
		return sy_worker_self();
	return (int)(tm_hash(m->callid) % (uint32_t)n);
}

struct sy_loop *tm_loop(void)
{
	return sy_loop_self();
}

int tm_reliable(enum sy_proto p)
{
	return p != SY_PROTO_UDP && p != SY_PROTO_NONE;
}

int tm_send(const struct sy_dest *dst, const char *buf, size_t len)
{
	return tm_send_fn(dst, buf, len);
}

void tm_count_add(int d)
{
	if (d > 0)
		atomic_fetch_add(&tm_active, (unsigned)d);
	else
		atomic_fetch_sub(&tm_active, (unsigned)-d);
}

unsigned tm_count(void)
{
	return atomic_load(&tm_active);
}

void tm_zombie_count_add(int d)
{
	if (d > 0)
		atomic_fetch_add(&tm_zombies, (unsigned)d);
	else
		atomic_fetch_sub(&tm_zombies, (unsigned)-d);
}

unsigned tm_count_full(void)
{
	unsigned all = atomic_load(&tm_active), z = atomic_load(&tm_zombies);

	/* two loads, not one snapshot: clamp the race where a zombie is counted before its
	 * transaction is */
	return all > z ? all - z : 0;
}

/* ---- transaction memory */

static struct tm_block *tm_block_get(struct tm_table *tb, size_t need)
{
	static const size_t caps[2] = { TM_BLOCK_SMALL, TM_BLOCK_LARGE };
	struct tm_block *bk;
	size_t cls = need <= TM_BLOCK_SMALL ? TM_BK_SMALL :
		     need <= TM_BLOCK_LARGE ? TM_BK_LARGE : TM_BK_ALONE;

	if (cls != TM_BK_ALONE && tb->blocks[cls]) {
		bk = tb->blocks[cls];
		tb->blocks[cls] = bk->next;
	} else {
		size_t cap = cls == TM_BK_ALONE ? need : caps[cls];

		bk = malloc(sizeof(*bk) + cap);
		if (!bk)
			return NULL;
		bk->cap = cap;
		bk->cls = cls;
	}
	bk->used = 0;
	bk->next = NULL;
	return bk;
}

/* 8-byte aligned memory that lives as long as t; NULL when out of memory */
void *tm_alloc(struct tm_trans *t, size_t n)
{
	struct tm_table *tb = tm_table();
	struct tm_block *bk = t->mem;
	size_t off;

	n = (n + 7u) & ~(size_t)7u;
	if (bk) {
		off = bk->used;
		if (n <= bk->cap - off) {
			bk->used = off + n;
			return bk->data + off;
		}
	}
	bk = tm_block_get(tb, n);
	if (!bk)
		return NULL;
	bk->used = n;
	if (t->mem && bk->cap - n < t->mem->cap - t->mem->used) {
		/* the current block has more room left: it stays the one to fill */
		bk->next = t->mem->next;
		t->mem->next = bk;
	} else {
		bk->next = t->mem;
		t->mem = bk;
	}
	return bk->data;
}

char *tm_strdup(struct tm_trans *t, const char *s, size_t n)
{
	char *p = tm_alloc(t, n ? n : 1);

	if (p && n)
		memcpy(p, s, n);
	return p;
}

static void tm_mem_release(struct tm_table *tb, struct tm_trans *t)
{
	struct tm_block *bk, *next;

	for (bk = t->mem; bk; bk = next) {
		next = bk->next;
		if (bk->cls == TM_BK_ALONE) {
			free(bk);
		} else {
			bk->next = tb->blocks[bk->cls];
			tb->blocks[bk->cls] = bk;
		}
	}
	t->mem = NULL;
}

/* ---- pools */

struct tm_trans *tm_trans_new(void)
{
	struct tm_table *tb = tm_table();
	struct tm_trans *t;
	unsigned slot;
	uint32_t gen;

	if (!tb)
		return NULL;
	if (!tb->free) {
		struct tm_trans **nc, *chunk;
		unsigned i;

		nc = realloc(tb->chunks, (tb->nchunks + 1) * sizeof(*nc));
		if (!nc)
			return NULL;
		tb->chunks = nc;
		chunk = calloc(TM_CHUNK, sizeof(*chunk));
		if (!chunk)
			return NULL;
		tb->chunks[tb->nchunks] = chunk;
		for (i = TM_CHUNK; i-- > 0;) {
			chunk[i].slot = tb->nchunks * TM_CHUNK + i;
			chunk[i].next_free = tb->free;
			tb->free = &chunk[i];
		}
		tb->nchunks++;
	}
	t = tb->free;
	tb->free = t->next_free;
	slot = t->slot;
	gen = t->gen + 1;
	memset(t, 0, sizeof(*t));
	t->slot = slot;
	t->gen = gen;
	t->in_use = 1;
	t->on_reply = t->on_failure = t->on_branch = -1;
	tm_count_add(1);
	return t;
}

struct tm_branch *tm_branch_new(struct tm_trans *t)
{
	struct tm_table *tb = tm_table();
	struct tm_branch *b;

	if (!tb)
		return NULL;
	if (!tb->bfree) {
		struct tm_branch **nc, *chunk;
		unsigned i;

		nc = realloc(tb->bchunks, (tb->nbchunks + 1) * sizeof(*nc));
		if (!nc)
			return NULL;
		tb->bchunks = nc;
		chunk = calloc(TM_CHUNK, sizeof(*chunk));
		if (!chunk)
			return NULL;
		tb->bchunks[tb->nbchunks++] = chunk;
		for (i = 0; i < TM_CHUNK; i++) {
			chunk[i].next_free = tb->bfree;
			tb->bfree = &chunk[i];
		}
	}
	b = tb->bfree;
	tb->bfree = b->next_free;
	memset(b, 0, sizeof(*b));
	b->t = t;
	b->idx = t->nbr;
	return b;
}

static void tm_branch_release(struct tm_table *tb, struct tm_branch *b)
{
	tm_branch_stop(b);
	b->t = NULL;
	b->next_free = tb->bfree;
	tb->bfree = b;
}

/* release one branch that was never committed to t->br[] (send failed, dropped) */
void tm_branch_discard(struct tm_branch *b)
{
	tm_branch_release(tm_table(), b);
}

static void tm_hash_remove(struct tm_table *tb, struct tm_trans *t)
{
	struct tm_trans **pp = &tb->bucket[t->hash & ((1u << TM_HASH_BITS) - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	}
	t->hnext = NULL;
}

void tm_trans_free(struct tm_trans *t)
{
	struct tm_table *tb = tm_table();
	unsigned i;

	if (!t->in_use)
		return;
	if (t->hooked && tm_trans_hook)
		tm_trans_hook(t->avps, 0);
	t->hooked = 0;
	tm_server_stop(t);
	for (i = 0; i < t->nbr; i++)
		tm_branch_release(tb, t->br[i]);
	t->nbr = 0;
	tm_hash_remove(tb, t);
	tm_mem_release(tb, t);
	t->in_use = 0;
	t->next_free = tb->free;
	tb->free = t;
	tm_count_add(-1);
}

/* t ends when nothing is alive; when only waiting is left it shrinks to a zombie */
void tm_maybe_free(struct tm_trans *t)
{
	unsigned i;

	if (!t || !t->in_use || t->in_failure)
		return;
	if (t->sstate == TM_S_TERMINATED) {
		for (i = 0; i < t->nbr; i++)
			if (tm_branch_alive(t->br[i]))
				break;
		if (i == t->nbr) {
			tm_trans_free(t);
			return;
		}
	}
	tm_compact(t);
}

void tm_worker_fini(void)
{
	if (tl_table) {
		pthread_setspecific(tm_key, NULL);
		tm_table_destroy(tl_table);
	}
}

static void tm_table_destroy(struct tm_table *tb)
{
	unsigned c, i;
	struct tm_block *bk, *next;

	if (!tb)
		return;
	tl_table = tb;	/* tm_trans_free works on the calling thread's table */
	for (c = 0; c < tb->nchunks; c++)
		for (i = 0; i < TM_CHUNK; i++)
			if (tb->chunks[c][i].in_use)
				tm_trans_free(&tb->chunks[c][i]);
	tm_zombie_fini(tb);
	for (c = 0; c < tb->nchunks; c++)
		free(tb->chunks[c]);
	for (c = 0; c < tb->nbchunks; c++)
		free(tb->bchunks[c]);
	for (c = 0; c < 2; c++)
		for (bk = tb->blocks[c]; bk; bk = next) {
			next = bk->next;
			free(bk);
		}
	free(tb->chunks);
	free(tb->bchunks);
	free(tb);
	tl_table = NULL;
}

/* ---- matching */

void tm_hash_insert(struct tm_trans *t)
{
	struct tm_table *tb = tm_table();
	unsigned i;

	t->hash = tm_key_hash(&t->msg);
	i = t->hash & ((1u << TM_HASH_BITS) - 1);
	t->hnext = tb->bucket[i];
	tb->bucket[i] = t;
}

unsigned tm_via_port(const struct sip_via *v)
{
	if (v->port)
		return v->port;
	return sy_str_caseeq_c(v->transport, "TLS") ? 5061 : 5060;
}

/* §17.2.3: the request m belongs to t (want: INVITE for ACK and CANCEL, else m's method) */
static int tm_match(const struct tm_trans *t, const struct sip_msg *m, enum sip_method want,
		    int is3261)
{
	const struct sip_msg *o = &t->msg;

	if (t->mid != want || t->rfc2543 == is3261)
		return 0;
	if (want == SIP_M_OTHER && !sy_str_eq(o->method, m->method))
		return 0;
	if (is3261)
		return sy_str_eq(o->via1.branch, m->via1.branch) &&
		       sy_str_caseeq(o->via1.host, m->via1.host) &&
		       tm_via_port(&o->via1) == tm_via_port(&m->via1);
	/* RFC 2543: Request-URI, From tag, Call-ID, CSeq number and top Via; the To tag too except
	 * for the ACK, whose To tag is the one of our reply */
	if (!sy_str_eq(o->callid, m->callid) || o->cseq != m->cseq ||
	    !sy_str_eq(o->from.tag, m->from.tag) || !sy_str_eq(o->via1.raw, m->via1.raw) ||
	    !sy_str_eq(o->ruri, m->ruri))
		return 0;
	if (m->mid != SIP_M_ACK && !sy_str_eq(o->to.tag, m->to.tag))
		return 0;
	return 1;
}

struct tm_trans *tm_lookup(const struct sip_msg *m, enum sip_method want)
{
	struct tm_table *tb = tm_table();
	struct tm_trans *t;
	int is3261 = tm_is_3261(m);
	uint32_t h = tm_key_hash(m);

	if (!tb)
		return NULL;
	for (t = tb->bucket[h & ((1u << TM_HASH_BITS) - 1)]; t; t = t->hnext)
		if (t->hash == h && tm_match(t, m, want, is3261))
			return t;
	return NULL;
}

struct tm_trans *tm_by_slot(unsigned slot, uint32_t gen)
{
	struct tm_table *tb = tm_table();
	struct tm_trans *t;

	if (!tb || slot / TM_CHUNK >= tb->nchunks)
		return NULL;
	t = &tb->chunks[slot / TM_CHUNK][slot % TM_CHUNK];
	return t->in_use && t->gen == gen ? t : NULL;
}

/* our branch: z9hG4bKsy<salt>.<worker>.<slot>.<gen>.<branch>, hex; §16.6 step 8 and §8.1.1.7
 * (unique per branch, magic cookie first) */
int tm_branch_id(const struct tm_trans *t, unsigned idx, char *buf, size_t cap, size_t *len)
{
	int w = sy_worker_self();
	struct px_buf b = { buf, 0, cap };

	tm_salt_init();
	/* by hand, not snprintf: built for every branch of every request */
	px_puts(&b, TM_BRANCH_PREFIX);
	px_put_hex(&b, tm_salt, 8);
	px_puts(&b, ".");
	px_put_hex(&b, w < 0 ? 0 : (uint32_t)w, 0);
	px_puts(&b, ".");
	px_put_hex(&b, t->slot, 0);
	px_puts(&b, ".");
	px_put_hex(&b, t->gen, 0);
	px_puts(&b, ".");
	px_put_hex(&b, idx, 0);
	if (b.len >= cap)	/* room for the NUL snprintf wrote, which callers may rely on */
		return ENOSPC;
	buf[b.len] = '\0';
	*len = b.len;
	return 0;
}

static int tm_hex(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s >= end)
		return EINVAL;
	for (; s < end && *s != '.'; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			return EINVAL;
		v = v * 16 + (uint64_t)d;
		if (v > max)
			return EINVAL;
	}
	if (s == *p)
		return EINVAL;
	*p = s < end ? s + 1 : s;
	*out = v;
	return 0;
}

int tm_branch_parse(sy_str br, int *worker, unsigned *slot, uint32_t *gen, unsigned *idx)
{
	const size_t pl = sizeof(TM_BRANCH_PREFIX) - 1;
	const char *p, *end;
	uint64_t salt, w, s, g, i;

	if (br.len <= pl || memcmp(br.s, TM_BRANCH_PREFIX, pl) != 0)
		return ENOENT;
	p = br.s + pl;
	end = br.s + br.len;
	if (tm_hex(&p, end, 0xffffffffu, &salt) || salt != tm_salt ||
	    tm_hex(&p, end, 0xffff, &w) || tm_hex(&p, end, 0xffffffffu, &s) ||
	    tm_hex(&p, end, 0xffffffffu, &g) || tm_hex(&p, end, TM_MAX_BRANCHES - 1, &i) ||
	    p != end)
		return ENOENT;
	*worker = (int)w;
	*slot = (unsigned)s;
	*gen = (uint32_t)g;
	*idx = (unsigned)i;
	return 0;
}

/* ---- hand-off to the owner worker */

struct tm_handoff_msg {
	struct sy_rcvinfo rcv;
	size_t len;
	char buf[];
};

static void tm_handoff_run(void *arg)
{
	struct tm_handoff_msg *h = arg;

	px_recv(&h->rcv, h->buf, h->len);
	free(h);
}

/* copy the message and post it to owner, which reruns px_recv there: 0, or errno (the caller
 * then handles the message itself) */
int tm_handoff(int owner, const struct sy_rcvinfo *rcv, const char *buf, size_t len)
{
	struct tm_handoff_msg *h = malloc(sizeof(*h) + len);
	int rc;

	if (!h)
		return ENOMEM;
	h->rcv = *rcv;
	h->len = len;
	memcpy(h->buf, buf, len);
	rc = sy_worker_post(owner, tm_handoff_run, h);
	if (rc)
		free(h);
	return rc;
}
