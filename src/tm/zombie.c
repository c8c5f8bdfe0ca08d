/* zombie.c: compact records of transactions that have nothing left to do but wait. Most live
 * transactions of a busy proxy sit in Timer J (64*T1 = 32 s for every non-INVITE over UDP,
 * RFC 3261 §17.2.2), K, D, I or the wait after a 2xx (RFC 6026 Accepted); there RFC 3261
 * only asks to absorb retransmissions: a server transaction answers a retransmitted request
 * with its last reply (§17.2.1, §17.2.2) and a client transaction swallows a retransmitted
 * final (ACKing a non-2xx again, §17.1.1.2). The full transaction (the parsed request, edits,
 * branch buffers, stored replies: ~6 KB) goes back to the free lists and a record of a few
 * hundred bytes keeps its slot and generation (our branch ids), its §17.2.3 key, the last
 * reply and our ACKs, until the last of its timers would have fired. Matching behaves as the
 * full transaction did; only RFC 3261 (magic cookie) transactions are compacted. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proxy/proxy.h"
#include "tm/internal.h"

#define TM_ZMASK ((1u << TM_HASH_BITS) - 1)

static size_t tm_align8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

static int tm_zdest_pack(struct tm_zdest *z, const struct sy_dest *d)
{
	int fam = d->addr.u.sa.sa_family;

	if (fam != AF_INET && fam != AF_INET6)
		return EAFNOSUPPORT;
	memset(z, 0, sizeof(*z));
	z->conn_id = d->conn_id;
	memcpy(&z->a, &d->addr.u, fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(z->a));
	z->alen = (uint32_t)d->addr.len;
	z->listen_idx = (int16_t)d->listen_idx;
	z->proto = (uint8_t)d->proto;
	return 0;
}

static void tm_zdest_unpack(struct sy_dest *d, const struct tm_zdest *z)
{
	memset(d, 0, sizeof(*d));
	d->conn_id = z->conn_id;
	memcpy(&d->addr.u, &z->a, sizeof(z->a));
	d->addr.len = (socklen_t)z->alen;
	d->listen_idx = z->listen_idx;
	d->proto = (enum sy_proto)z->proto;
}

static const char *tm_z_branch(const struct tm_zombie *z)
{
	return z->data;
}

static const char *tm_z_host(const struct tm_zombie *z)
{
	return z->data + z->branch_len;
}

static const char *tm_z_method(const struct tm_zombie *z)
{
	return z->data + z->branch_len + z->host_len;
}

static const char *tm_z_last(const struct tm_zombie *z)
{
	return z->data + z->branch_len + z->host_len + z->method_len;
}

/* offset of the first tm_zack record from the start of the zombie */
static size_t tm_z_acks_off(size_t branch, size_t host, size_t method, size_t last)
{
	return tm_align8(offsetof(struct tm_zombie, data) + branch + host + method + last);
}

static const struct tm_zack *tm_z_ack(const struct tm_zombie *z, unsigned idx)
{
	size_t off = tm_z_acks_off(z->branch_len, z->host_len, z->method_len, z->last_len);
	unsigned i;

	for (i = 0; i < z->nacks; i++) {
		const struct tm_zack *k = (const struct tm_zack *)((const char *)z + off);

		if (k->idx == idx)
			return k;
		off += tm_align8(sizeof(*k) + k->len);
	}
	return NULL;
}

/* the by-slot chains hash slot and generation: the pool hands the slot of a transaction that
 * was just compacted to the next one, so thousands of zombies share a few slot numbers */
static unsigned tm_z_slot_idx(unsigned slot, uint32_t gen)
{
	return ((slot * 2654435761u) ^ (gen * 40503u)) & TM_ZMASK;
}

static void tm_z_unlink(struct tm_table *tb, struct tm_zombie *z)
{
	struct tm_zombie **pp;

	for (pp = &tb->zbucket[z->hash & TM_ZMASK]; *pp; pp = &(*pp)->hnext)
		if (*pp == z) {
			*pp = z->hnext;
			break;
		}
	for (pp = &tb->zslot[tm_z_slot_idx(z->slot, z->gen)]; *pp; pp = &(*pp)->snext)
		if (*pp == z) {
			*pp = z->snext;
			break;
		}
}

static void tm_z_end_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_zombie *z = arg;
	struct tm_table *tb = tm_table();

	(void)tmr;
	/* the last timer of the transaction: it ends now, as the full one would have */
	tm_z_unlink(tb, z);
	z->hnext = tb->zfree[z->cls];
	tb->zfree[z->cls] = z;
	tb->nzombies--;
	tm_count_add(-1);
	tm_zombie_count_add(-1);
}

int tm_compact(struct tm_trans *t)
{
	struct tm_table *tb = tm_table();
	const struct sip_via *v = &t->msg.via1;
	uint64_t deadline = 0, now;
	size_t size, off;
	unsigned i, c, nacks = 0;
	struct tm_zombie *z;
	struct tm_zdest up;
	unsigned slot;
	uint32_t gen, hash;
	char *p;

	if (!tb || !tm_loop() || !t->in_use || t->in_failure || !t->final_sent || t->rfc2543 ||
	    !tm_is_3261(&t->msg) || tm_zdest_pack(&up, &t->up))
		return EAGAIN;
	switch (t->sstate) {
	case TM_S_COMPLETED:
		if (t->mid == SIP_M_INVITE)
			return EAGAIN;	/* Timer G/H: still retransmitting, waiting for the ACK */
		break;
	case TM_S_CONFIRMED:
	case TM_S_ACCEPTED:
	case TM_S_TERMINATED:
		break;
	default:
		return EAGAIN;
	}
	if (sy_timer_armed(&t->s_retr))
		return EAGAIN;
	if (sy_timer_armed(&t->s_end))
		deadline = t->s_end.expires;
	size = tm_z_acks_off(v->branch.len, v->host.len, t->msg.method.len, t->last_len);
	for (i = 0; i < t->nbr; i++) {
		const struct tm_branch *b = t->br[i];

		/* only branches that got their final reply: one still running, cancelled or timed
		 * out without a reply may still have work (a late reply, our CANCEL) */
		if (!b->rcvd_final || b->cancel == TM_CAN_SENT || sy_timer_armed(&b->t_retr) ||
		    sy_timer_armed(&b->t_fr) || sy_timer_armed(&b->c_retr) ||
		    sy_timer_armed(&b->c_end))
			return EAGAIN;
		if (sy_timer_armed(&b->t_end) && b->t_end.expires > deadline)
			deadline = b->t_end.expires;
		if (b->ack) {
			nacks++;
			size += tm_align8(sizeof(struct tm_zack) + b->ack_len);
		}
	}
	if (!deadline)
		return EAGAIN;	/* no timer left: tm_maybe_free ends it, not us */
	c = (unsigned)((size + TM_ZGRAIN - 1) / TM_ZGRAIN) - 1;
	if (c >= TM_ZCLASSES)
		return EAGAIN;	/* a big last reply or ACK: the full transaction is as good */
	z = tb->zfree[c];
	if (z) {
		tb->zfree[c] = z->hnext;
	} else {
		z = malloc((size_t)(c + 1) * TM_ZGRAIN);
		if (!z)
			return EAGAIN;
	}
	memset(z, 0, offsetof(struct tm_zombie, data));
	z->cls = (uint8_t)c;
	z->up = up;
	z->mid = (uint8_t)t->mid;
	z->relayed_2xx = (uint8_t)t->relayed_2xx;
	z->nbr = (uint8_t)t->nbr;
	z->nacks = (uint8_t)nacks;
	z->via_port = (uint16_t)tm_via_port(v);
	z->branch_len = (uint16_t)v->branch.len;
	z->host_len = (uint16_t)v->host.len;
	z->method_len = (uint16_t)t->msg.method.len;
	z->last_len = (uint32_t)t->last_len;
	p = z->data;
	memcpy(p, v->branch.s, v->branch.len);
	p += v->branch.len;
	memcpy(p, v->host.s, v->host.len);
	p += v->host.len;
	memcpy(p, t->msg.method.s, t->msg.method.len);
	p += t->msg.method.len;
	if (t->last_len)
		memcpy(p, t->last, t->last_len);
	off = tm_z_acks_off(z->branch_len, z->host_len, z->method_len, z->last_len);
	for (i = 0; i < t->nbr; i++) {
		const struct tm_branch *b = t->br[i];
		struct tm_zack *k;

		if (!b->ack)
			continue;
		k = (struct tm_zack *)((char *)z + off);
		if (tm_zdest_pack(&k->dst, &b->dst))
			memset(&k->dst, 0, sizeof(k->dst));	/* kept, never sent: as before */
		k->idx = (uint8_t)b->idx;
		k->len = (uint32_t)b->ack_len;
		memcpy((char *)(k + 1), b->ack, b->ack_len);
		off += tm_align8(sizeof(*k) + b->ack_len);
	}
	hash = t->hash;
	slot = t->slot;
	gen = t->gen;
	/* the full transaction goes back to the pools; it is still alive as the zombie */
	tm_trans_free(t);
	tm_count_add(1);
	tm_zombie_count_add(1);
	z->hash = hash;
	z->slot = slot;
	z->gen = gen;
	z->hnext = tb->zbucket[hash & TM_ZMASK];
	tb->zbucket[hash & TM_ZMASK] = z;
	z->snext = tb->zslot[tm_z_slot_idx(slot, gen)];
	tb->zslot[tm_z_slot_idx(slot, gen)] = z;
	tb->nzombies++;
	now = sy_now_ms();
	sy_timer_start(tm_loop(), &z->end, deadline > now ? deadline - now : 0, tm_z_end_cb, z);
	return 0;
}

/* §17.2.3 as tm_match does it for RFC 3261 requests */
static struct tm_zombie *tm_z_lookup(const struct sip_msg *m, enum sip_method want)
{
	struct tm_table *tb = tm_table();
	struct tm_zombie *z;
	uint32_t h;

	if (!tb || !tb->nzombies || !tm_is_3261(m))
		return NULL;
	h = tm_key_hash(m);
	for (z = tb->zbucket[h & TM_ZMASK]; z; z = z->hnext) {
		if (z->hash != h || z->mid != want)
			continue;
		if (want == SIP_M_OTHER &&
		    !sy_str_eq(sy_str_make(tm_z_method(z), z->method_len), m->method))
			continue;
		if (sy_str_eq(sy_str_make(tm_z_branch(z), z->branch_len), m->via1.branch) &&
		    sy_str_caseeq(sy_str_make(tm_z_host(z), z->host_len), m->via1.host) &&
		    z->via_port == tm_via_port(&m->via1))
			return z;
	}
	return NULL;
}

int tm_zombie_match(const struct sip_msg *m, enum sip_method want)
{
	return tm_z_lookup(m, want) != NULL;
}

int tm_zombie_request(struct scr_ctx *ctx, int *handled)
{
	const struct sip_msg *m = ctx->msg;
	struct tm_zombie *z;
	struct sy_dest d;

	if (m->mid == SIP_M_CANCEL) {
		/* the INVITE already has its final reply: the CANCEL is answered and changes
		 * nothing (§9.2) */
		if (!(z = tm_z_lookup(m, SIP_M_INVITE)))
			return ENOENT;
		px_reply(ctx, 200, SY_STR("OK"), SY_NULL_STR);
		ctx->replied = 1;
		*handled = 1;
		return 0;
	}
	if (m->mid == SIP_M_ACK) {
		/* the ACK to our non-2xx ends here (Confirmed: nothing more to do); the ACK to a
		 * 2xx is a request of its own, for the script */
		if (!(z = tm_z_lookup(m, SIP_M_INVITE)))
			return ENOENT;
		*handled = !z->relayed_2xx;
		return 0;
	}
	if (!(z = tm_z_lookup(m, m->mid)))
		return ENOENT;
	/* a retransmission: the last reply again (§17.2.1, §17.2.2) */
	if (z->last_len) {
		tm_zdest_unpack(&d, &z->up);
		tm_send(&d, tm_z_last(z), z->last_len);
	}
	*handled = 1;
	return 0;
}

/* a retransmitted 2xx of an INVITE branch goes upstream again (§16.7 step 4), our Via off */
static void tm_z_relay(struct scr_ctx *ctx, const struct tm_zombie *z)
{
	struct sy_arena *a = tm_scratch();
	size_t mark, size, len;
	struct sip_edit *arr;
	struct sip_build bb;
	struct sy_dest d;
	unsigned cap = (ctx->edits ? ctx->edits->n : 0) + 4;
	char *out;
	int rc = ENOMEM;

	if (!a)
		goto log;
	mark = a->used;
	arr = sy_arena_alloc(a, cap * sizeof(*arr));
	if (!arr)
		goto out;
	sip_build_init(&bb, ctx->msg, arr, cap);
	if (ctx->edits && ctx->edits->m == ctx->msg && (rc = sip_build_copy(&bb, ctx->edits)))
		goto out;
	if ((rc = sip_build_remove_via1(&bb)))
		goto out;
	size = sip_build_size(&bb);
	rc = ENOMEM;
	if (!(out = sy_arena_alloc(a, size)) || (rc = sip_build_out(&bb, out, size, &len)))
		goto out;
	tm_zdest_unpack(&d, &z->up);
	tm_send(&d, out, len);
out:
	a->used = mark;
log:
	if (rc)
		LOG_ERR("tm: cannot relay %u for %.*s (%d)", ctx->msg->status,
			SY_FMT(ctx->msg->callid), rc);
}

int tm_zombie_reply(struct scr_ctx *ctx, unsigned slot, uint32_t gen, unsigned idx,
		    int *handled)
{
	struct tm_table *tb = tm_table();
	const struct sip_msg *r = ctx->msg;
	const struct tm_zack *k;
	struct tm_zombie *z;
	struct sy_dest d;

	if (!tb || !tb->nzombies)
		return ENOENT;
	for (z = tb->zslot[tm_z_slot_idx(slot, gen)]; z; z = z->snext)
		if (z->slot == slot && z->gen == gen)
			break;
	if (!z)
		return ENOENT;
	*handled = 1;
	if (idx >= z->nbr) {
		/* as for a transaction that is gone: a 2xx is left to the stateless path */
		if (r->status >= 200 && r->status < 300)
			*handled = 0;
		return 0;
	}
	if (r->cseq_mid == SIP_M_CANCEL || r->status < 200)
		return 0;	/* the 200 to our CANCEL, a late provisional: nothing left to do */
	if (r->cseq_mid != z->mid ||
	    (z->mid == SIP_M_OTHER &&
	     !sy_str_eq(r->cseq_method, sy_str_make(tm_z_method(z), z->method_len)))) {
		LOG_NOTICE("tm: %u reply with CSeq method %.*s on a %.*s branch dropped (%.*s)",
			   r->status, SY_FMT(r->cseq_method), (int)z->method_len, tm_z_method(z),
			   SY_FMT(r->callid));
		return 0;
	}
	if (z->mid != SIP_M_INVITE)
		return 0;	/* Timer K: the retransmitted final is swallowed (§17.1.2.2) */
	if (r->status >= 300) {
		/* Timer D: the retransmitted non-2xx is ACKed again (§17.1.1.2) */
		if ((k = tm_z_ack(z, idx)) != NULL && k->dst.proto) {
			tm_zdest_unpack(&d, &k->dst);
			tm_send(&d, (const char *)(k + 1), k->len);
		}
		return 0;
	}
	tm_z_relay(ctx, z);
	return 0;
}

void tm_zombie_fini(struct tm_table *tb)
{
	struct sy_loop *lp = tm_loop();
	struct tm_zombie *z, *next;
	unsigned i;

	for (i = 0; i <= TM_ZMASK; i++) {
		for (z = tb->zbucket[i]; z; z = next) {
			next = z->hnext;
			if (lp)
				sy_timer_stop(lp, &z->end);
			free(z);
			tm_count_add(-1);
			tm_zombie_count_add(-1);
		}
		tb->zbucket[i] = NULL;
		tb->zslot[i] = NULL;
	}
	tb->nzombies = 0;
	for (i = 0; i < TM_ZCLASSES; i++) {
		for (z = tb->zfree[i]; z; z = next) {
			next = z->hnext;
			free(z);
		}
		tb->zfree[i] = NULL;
	}
}
