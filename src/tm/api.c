/* api.c: what the proxy core (px_tm hooks) and the tm script unit call: requests in (owner
 * hand-off, retransmissions absorbed with the last reply, ACK to a non-2xx absorbed, CANCEL
 * answered 200 and applied), replies in (matched by our branch id in O(1)), t_relay, t_reply,
 * t_newtran and the small queries, and the SIGUSR1 "stats: tm_active=N" line. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/stats.h"
#include "proxy/proxy.h"
#include "tm/internal.h"

static void tm_pend_reset(struct tm_table *tb, const struct scr_ctx *ctx)
{
	tb->pend_ctx = ctx;
	tb->pend_msg = ctx ? ctx->msg : NULL;
	tb->pend_reply = tb->pend_failure = tb->pend_branch = -1;
	tb->pend_fr_ms = tb->pend_fr_inv_ms = 0;
}

/* the pending arms for ctx (t_on_* before t_relay created the transaction) */
static struct tm_table *tm_pend(const struct scr_ctx *ctx)
{
	struct tm_table *tb = tm_table();

	if (tb && (tb->pend_ctx != ctx || tb->pend_msg != ctx->msg))
		tm_pend_reset(tb, ctx);
	return tb;
}

int tm_request_in(struct scr_ctx *ctx)
{
	struct sip_msg *m = ctx->msg;
	struct tm_table *tb = tm_table();
	struct tm_trans *t;
	int owner, handled;

	if (!tb)
		return 0;
	owner = tm_owner_of(m);
	if (owner >= 0 && owner != sy_worker_self() && ctx->rcv &&
	    !tm_handoff(owner, ctx->rcv, m->buf, m->len)) {
		sy_stat_add(SY_ST_RCV_REQUESTS, UINT64_MAX);	/* the owner counts it again */
		return 1;
	}
	tm_pend_reset(tb, ctx);
	if (m->mid == SIP_M_CANCEL) {
		/* §9.2 / §16.10: matched like the INVITE; answered 200 hop by hop */
		t = tm_lookup(m, SIP_M_INVITE);
		if (!t)
			return tm_zombie_request(ctx, &handled) ? 0 : handled;
		px_reply(ctx, 200, SY_STR("OK"), SY_NULL_STR);
		ctx->replied = 1;
		tm_cancel_trans(t);
		tm_maybe_free(t);
		return 1;
	}
	if (m->mid == SIP_M_ACK) {
		/* §17.2.1: the ACK to our non-2xx final ends here; an ACK to a 2xx is a request of
		 * its own, for the script */
		t = tm_lookup(m, SIP_M_INVITE);
		if (!t)
			return tm_zombie_request(ctx, &handled) ? 0 : handled;
		if (t->relayed_2xx || !t->final_sent)
			return 0;
		tm_server_ack(t);
		tm_maybe_free(t);	/* Confirmed: only Timer I (and D) left, it may shrink */
		return 1;
	}
	t = tm_lookup(m, m->mid);
	if (!t)
		return tm_zombie_request(ctx, &handled) ? 0 : handled;
	/* a retransmission: answered with the last reply, if any (§17.2.1, §17.2.2) */
	if (t->last_len)
		tm_send(&t->up, t->last, t->last_len);
	return 1;
}

int tm_reply_in(struct scr_ctx *ctx)
{
	struct sip_msg *r = ctx->msg;
	struct tm_trans *t;
	struct tm_branch *b;
	unsigned slot, idx;
	uint32_t gen;
	int w, handled;

	if (tm_branch_parse(r->via1.branch, &w, &slot, &gen, &idx))
		return 0;
	if (w != sy_worker_self() && sy_worker_count() > 1 && ctx->rcv &&
	    !tm_handoff(w, ctx->rcv, r->buf, r->len)) {
		sy_stat_add(SY_ST_RCV_REPLIES, UINT64_MAX);	/* the owner counts it again */
		return 1;
	}
	t = tm_by_slot(slot, gen);
	if (!t && !tm_zombie_reply(ctx, slot, gen, idx, &handled))
		return handled;	/* the transaction only waits: its compact record answers */
	if (!t || idx >= t->nbr) {
		/* transaction gone: a late 2xx still goes upstream (statelessly, by Via), the rest
		 * has nobody waiting for it */
		if (r->status >= 200 && r->status < 300)
			return 0;
		LOG_DBG("tm: late %u for a finished transaction dropped (%.*s)", r->status,
			SY_FMT(r->callid));
		return 1;
	}
	b = t->br[idx];
	if (r->cseq_mid == SIP_M_CANCEL) {
		if (b->cancel == TM_CAN_SENT && r->status >= 200) {
			sy_timer_stop(tm_loop(), &b->c_retr);
			sy_timer_stop(tm_loop(), &b->c_end);
			b->cancel = TM_CAN_DONE;
		}
		tm_maybe_free(t);
		return 1;
	}
	if (r->cseq_mid != t->mid || (t->mid == SIP_M_OTHER &&
				      !sy_str_eq(r->cseq_method, t->msg.method))) {
		LOG_NOTICE("tm: %u reply with CSeq method %.*s on a %.*s branch dropped (%.*s)",
			   r->status, SY_FMT(r->cseq_method), SY_FMT(t->msg.method),
			   SY_FMT(r->callid));
		return 1;
	}
	sy_stat_inc(SY_ST_TM_RCV_REPLIES);
	tm_on_reply(ctx, t, b);
	tm_maybe_free(t);
	return 1;
}

void tm_request_done(struct scr_ctx *ctx)
{
	struct tm_table *tb = tm_table();
	struct tm_trans *t = ctx->host;

	if (tb && tb->pend_ctx == ctx)
		tm_pend_reset(tb, NULL);
	if (!t || ctx->route_type != SCR_ROUTE_REQUEST)
		return;
	if (t->final_sent || t->nbr > 0) {
		/* answered by the script (t_reply): in J or the Accepted wait now, nothing left
		 * but absorbing retransmissions */
		if (!tm_compact(t))
			ctx->host = NULL;
		return;
	}
	/* a transaction the script neither relayed nor answered: forget it, so that a
	 * retransmission runs the script again */
	LOG_DBG("tm: %.*s left without relay or reply", SY_FMT(t->msg.callid));
	tm_trans_free(t);
	ctx->host = NULL;
}

int tm_newtran(struct scr_ctx *ctx)
{
	struct tm_trans *t;

	if (ctx->host)
		return 0;
	return tm_trans_create(ctx, &t);
}

int tm_relay(struct scr_ctx *ctx, const struct sy_dest *force)
{
	struct sip_msg *m = ctx->msg;
	struct tm_trans *t = ctx->host;
	int rc;

	if (ctx->route_type == SCR_ROUTE_FAILURE)
		return t ? tm_fork(t, ctx, force) : EINVAL;
	if (m->mid == SIP_M_ACK)
		return px_forward(ctx, force);	/* ACK to a 2xx: end to end, stateless */
	if (m->mid == SIP_M_CANCEL) {
		t = tm_lookup(m, SIP_M_INVITE);
		if (!t && tm_zombie_match(m, SIP_M_INVITE)) {
			/* its INVITE has its final reply already: answered, nothing to cancel */
			px_reply(ctx, 200, SY_STR("OK"), SY_NULL_STR);
			ctx->replied = 1;
			return 0;
		}
		if (!t)
			return px_forward(ctx, force);	/* matches nothing: stateless */
		px_reply(ctx, 200, SY_STR("OK"), SY_NULL_STR);
		ctx->replied = 1;
		tm_cancel_trans(t);
		return 0;
	}
	if (!ctx->maxfwd_done && m->maxfwd == 0) {
		/* §16.3 step 3: out of hops, answered here as px_forward() does */
		return px_reply(ctx, 483, SY_STR("Too Many Hops"), SY_NULL_STR);
	}
	if (!t && (rc = tm_trans_create(ctx, &t)))
		return rc;
	rc = tm_fork(t, ctx, force);
	if (rc && !t->nbr && !t->final_sent) {
		/* nothing went out: no transaction either, the script answers (sl_reply_error) */
		tm_trans_free(t);
		ctx->host = NULL;
	}
	return rc;
}

int tm_reply(struct scr_ctx *ctx, unsigned code, sy_str reason)
{
	return tm_reply_hdrs(ctx, code, reason, SY_NULL_STR);
}

int tm_reply_hdrs(struct scr_ctx *ctx, unsigned code, sy_str reason, sy_str hdrs)
{
	struct tm_trans *t = ctx->host;
	int rc;

	if (code < 100 || code > 699)
		return EINVAL;
	if (!t) {
		if (ctx->route_type != SCR_ROUTE_REQUEST)
			return EINVAL;
		if ((rc = tm_trans_create(ctx, &t)))
			return rc;
	}
	if (t->final_sent)
		return EALREADY;
	rc = tm_send_local(t, code, reason, hdrs);
	ctx->replied = 1;
	if (code >= 200)
		tm_cancel_others(t, NULL);
	return rc;
}

int tm_check_trans(struct scr_ctx *ctx)
{
	const struct sip_msg *m = ctx->msg;
	enum sip_method want;

	if (ctx->host)
		return 1;
	if (!m->is_request)
		return 0;
	want = m->mid == SIP_M_ACK || m->mid == SIP_M_CANCEL ? SIP_M_INVITE : m->mid;
	return tm_lookup(m, want) != NULL || tm_zombie_match(m, want);
}

void tm_arm(struct scr_ctx *ctx, enum tm_route which, int idx)
{
	struct tm_trans *t = ctx->host;
	struct tm_table *tb;
	int *slot;

	if (t) {
		slot = which == TM_ROUTE_REPLY ? &t->on_reply :
		       which == TM_ROUTE_FAILURE ? &t->on_failure : &t->on_branch;
	} else {
		tb = tm_pend(ctx);
		if (!tb)
			return;
		slot = which == TM_ROUTE_REPLY ? &tb->pend_reply :
		       which == TM_ROUTE_FAILURE ? &tb->pend_failure : &tb->pend_branch;
	}
	*slot = idx;
}

void tm_set_fr(struct scr_ctx *ctx, unsigned fr_inv_ms, unsigned fr_ms)
{
	struct tm_trans *t = ctx->host;
	struct tm_table *tb;

	if (t) {
		if (fr_inv_ms)
			t->fr_inv_ms = fr_inv_ms;
		if (fr_ms)
			t->fr_ms = fr_ms;
		return;
	}
	tb = tm_pend(ctx);
	if (!tb)
		return;
	if (fr_inv_ms)
		tb->pend_fr_inv_ms = fr_inv_ms;
	if (fr_ms)
		tb->pend_fr_ms = fr_ms;
}

int tm_was_cancelled(const struct scr_ctx *ctx)
{
	const struct tm_trans *t = ctx->host;

	return t && t->cancelled;
}

int tm_local_replied(const struct scr_ctx *ctx, sy_str mode)
{
	const struct tm_trans *t = ctx->host;

	if (!t)
		return 0;
	if (sy_str_caseeq_c(mode, "all"))
		return t->any_local && !t->any_relayed;
	if (sy_str_caseeq_c(mode, "last"))
		return t->last_len && t->last_local;
	if (sy_str_caseeq_c(mode, "any"))
		return t->any_local;
	if (sy_str_caseeq_c(mode, "branch"))
		return ctx->branch_idx >= 0 && (unsigned)ctx->branch_idx < t->nbr &&
		       t->br[ctx->branch_idx]->local;
	return 0;
}

/* async-signal-safe: append the decimal v at buf + n, return the new length */
static size_t tm_put_uint(char *buf, size_t n, unsigned v)
{
	char num[16];
	size_t k = 0;

	do {
		num[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && k < sizeof(num));
	while (k)
		buf[n++] = num[--k];
	return n;
}

/* async-signal-safe: one write(2) of "stats: tm_active=N tm_full=M\n" (every transaction
 * alive, zombies included; and the full ones, which max_transactions limits) */
static void tm_sigusr1(int sig)
{
	char buf[64];
	const char *pre = "stats: tm_active=", *mid = " tm_full=";
	unsigned all = tm_count(), full = tm_count_full();
	size_t n = 0;
	int saved = errno;

	(void)sig;
	while (*pre)
		buf[n++] = *pre++;
	n = tm_put_uint(buf, n, all);
	while (*mid)
		buf[n++] = *mid++;
	n = tm_put_uint(buf, n, full);
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
		errno = saved;
	errno = saved;
}

int tm_install(void)
{
	struct sigaction sa;

	tm_table_global_init();
	px_tm.request_in = tm_request_in;
	px_tm.reply_in = tm_reply_in;
	px_tm.request_done = tm_request_done;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tm_sigusr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		return errno;
	return 0;
}
