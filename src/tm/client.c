/* client.c: the client transactions, one per branch (RFC 3261 §17.1, proxy side §16.6):
 * building and sending each branch (branch_route, Request-URI, Max-Forwards, our Via), the
 * timers A, B, D, E, F, K and the proxy's Timer C (fr_inv_timeout), CANCEL (§9.1) and the
 * ACK to a non-2xx (§17.1.1.3), and what a reply on a branch does (§16.7). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/stats.h"
#include "proxy/proxy.h"
#include "tm/internal.h"

static unsigned tm_64t1(void)
{
	return 64u * tm_cfg.t1_ms;
}

static unsigned tm_d_ms(void)
{
	/* Timer D: 32 s on unreliable transports (§17.1.1.2) unless wt_timer says otherwise */
	return tm_cfg.wt_ms ? tm_cfg.wt_ms : 32000;
}

int tm_branch_alive(const struct tm_branch *b)
{
	return b->state != TM_C_TERMINATED || b->cancel == TM_CAN_SENT;
}

void tm_branch_stop(struct tm_branch *b)
{
	struct sy_loop *lp = tm_loop();

	if (!lp)
		return;
	sy_timer_stop(lp, &b->t_retr);
	sy_timer_stop(lp, &b->t_fr);
	sy_timer_stop(lp, &b->t_end);
	sy_timer_stop(lp, &b->c_retr);
	sy_timer_stop(lp, &b->c_end);
}

/* ---- ACK and CANCEL built from the request we sent (§9.1, §17.1.1.3): same Request-URI,
 * Call-ID, From, CSeq number, our Via only, the Route set; To from the reply (ACK) or the
 * request (CANCEL) */
static int tm_build_hop(struct tm_branch *b, const char *method, sy_str to_line, char **out,
			size_t *outlen)
{
	struct tm_trans *t = b->t;
	struct sy_arena *a = tm_scratch();
	size_t mark = a->used, cap, n;
	struct sip_limits lim;
	struct sip_msg m;
	char *p;
	int i, rc = ENOMEM;

	memset(&m, 0, sizeof(m));
	m.hdr = sy_arena_alloc(a, TM_MAX_HDRS * sizeof(struct sip_hdr));
	m.hdr_cap = TM_MAX_HDRS;
	if (!m.hdr)
		goto out;
	sip_limits_default(&lim);
	lim.max_headers = TM_MAX_HDRS;
	if (lim.max_msg < b->req_len)
		lim.max_msg = (unsigned)b->req_len;
	rc = sip_msg_parse(&m, b->req, b->req_len, 0, &lim);
	if (rc || m.first[SIP_H_VIA] < 0 || m.first[SIP_H_FROM] < 0 ||
	    m.first[SIP_H_CALL_ID] < 0 || m.first[SIP_H_TO] < 0) {
		rc = EBADMSG;
		goto out;
	}
	if (!to_line.len)
		to_line = m.hdr[m.first[SIP_H_TO]].raw;
	cap = b->req_len + to_line.len + 128;
	p = tm_alloc(t, cap);
	rc = ENOMEM;
	if (!p)
		goto out;
	n = (size_t)snprintf(p, cap, "%s %.*s SIP/2.0\r\n%.*s", method, SY_FMT(m.ruri),
			     SY_FMT(m.hdr[m.first[SIP_H_VIA]].raw));
	for (i = m.first[SIP_H_ROUTE]; i >= 0 && n < cap; i = sip_hdr_next(&m, SIP_H_ROUTE, i + 1))
		n += (size_t)snprintf(p + n, cap - n, "%.*s", SY_FMT(m.hdr[i].raw));
	if (n < cap)
		n += (size_t)snprintf(p + n, cap - n,
				      "%.*s%.*s%.*sCSeq: %u %s\r\nMax-Forwards: 70\r\n"
				      "Content-Length: 0\r\n\r\n",
				      SY_FMT(m.hdr[m.first[SIP_H_FROM]].raw), SY_FMT(to_line),
				      SY_FMT(m.hdr[m.first[SIP_H_CALL_ID]].raw), (unsigned)m.cseq,
				      method);
	rc = ENOSPC;
	if (n >= cap)
		goto out;
	*out = p;
	*outlen = n;
	rc = 0;
out:
	a->used = mark;
	if (rc)
		LOG_ERR("tm: cannot build %s for branch %u of %.*s (%d)", method, b->idx,
			SY_FMT(t->msg.callid), rc);
	return rc;
}

static void tm_c_retr_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_branch *b = arg;

	(void)tmr;
	if (b->cancel != TM_CAN_SENT)
		return;
	tm_send(&b->dst, b->cbuf, b->clen);
	b->c_retr_ms *= 2;
	if (b->c_retr_ms > tm_cfg.t2_ms)
		b->c_retr_ms = tm_cfg.t2_ms;
	sy_timer_start(tm_loop(), &b->c_retr, b->c_retr_ms, tm_c_retr_cb, b);
}

static void tm_c_end_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_branch *b = arg;

	(void)tmr;
	/* Timer F of the CANCEL: nobody answered it */
	sy_timer_stop(tm_loop(), &b->c_retr);
	b->cancel = TM_CAN_DONE;
	tm_maybe_free(b->t);
}

static void tm_fr_cb(struct sy_timer *tmr, void *arg);

/* send the CANCEL now (a provisional arrived); the INVITE then waits up to 64*T1 for its final
 * reply (§16.10: a 487 or a 2xx that crossed the CANCEL) */
static void tm_send_cancel(struct tm_branch *b)
{
	struct sy_loop *lp = tm_loop();

	if (tm_build_hop(b, "CANCEL", SY_NULL_STR, &b->cbuf, &b->clen)) {
		/* logged; the branch still waits its 64*T1 for a final reply, then ends */
		b->cancel = TM_CAN_DONE;
		b->cancel_wait = 1;
		sy_timer_start(lp, &b->t_fr, tm_64t1(), tm_fr_cb, b);
		return;
	}
	b->cancel = TM_CAN_SENT;
	tm_send(&b->dst, b->cbuf, b->clen);
	if (!tm_reliable(b->dst.proto)) {
		b->c_retr_ms = tm_cfg.t1_ms;
		sy_timer_start(lp, &b->c_retr, b->c_retr_ms, tm_c_retr_cb, b);
	}
	sy_timer_start(lp, &b->c_end, tm_64t1(), tm_c_end_cb, b);
	b->cancel_wait = 1;
	sy_timer_start(lp, &b->t_fr, tm_64t1(), tm_fr_cb, b);
}

void tm_branch_cancel(struct tm_branch *b)
{
	/* §9.1: only INVITE branches without a final reply; held until a provisional arrives */
	if (b->t->mid != SIP_M_INVITE || b->cancel != TM_CAN_NONE)
		return;
	if (b->state == TM_C_PROCEEDING)
		tm_send_cancel(b);
	else if (b->state == TM_C_CALLING)
		b->cancel = TM_CAN_PENDING;
}

/* ---- branch timers */

static void tm_retr_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_branch *b = arg;
	struct tm_trans *t = b->t;

	(void)tmr;
	if (b->state == TM_C_CALLING) {
		/* A doubles without bound (B ends it), E doubles up to T2 */
		tm_send(&b->dst, b->req, b->req_len);
		b->retr_ms *= 2;
		if (t->mid != SIP_M_INVITE && b->retr_ms > tm_cfg.t2_ms)
			b->retr_ms = tm_cfg.t2_ms;
	} else if (b->state == TM_C_PROCEEDING && t->mid != SIP_M_INVITE) {
		/* §17.1.2.2: in Proceeding, E fires every T2 */
		tm_send(&b->dst, b->req, b->req_len);
		b->retr_ms = tm_cfg.t2_ms;
	} else {
		return;
	}
	sy_timer_start(tm_loop(), &b->t_retr, b->retr_ms, tm_retr_cb, b);
}

static void tm_fr_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_branch *b = arg;
	struct tm_trans *t = b->t;
	struct sy_loop *lp = tm_loop();

	(void)tmr;
	sy_timer_stop(lp, &b->t_retr);
	if (b->cancel_wait) {
		/* our CANCEL got no final reply on the INVITE within 64*T1: give up the branch */
		b->state = TM_C_TERMINATED;
	} else if (t->mid == SIP_M_INVITE && b->state == TM_C_PROCEEDING) {
		/* Timer C: a provisional came but no final: CANCEL it (§16.8) */
		tm_send_cancel(b);
	} else {
		/* B / F / fr_timeout: nothing at all from this branch */
		b->state = TM_C_TERMINATED;
	}
	if (!b->done) {
		b->done = 1;
		b->local = 1;
		b->code = t->cancelled || b->cancel == TM_CAN_PENDING ? 487 : 408;
	}
	tm_check_done(t);
	tm_maybe_free(t);
}

static void tm_end_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_branch *b = arg;

	(void)tmr;
	b->state = TM_C_TERMINATED;	/* D / K */
	tm_maybe_free(b->t);
}

/* ---- forking */

/* a unit already rewrote the Request-URI in the edit list */
static int tm_ruri_edited(const struct sip_build *b)
{
	size_t off = (size_t)(b->m->ruri.s - b->m->buf);
	unsigned i;

	for (i = 0; i < b->n; i++)
		if (b->e[i].off == off && b->e[i].del == b->m->ruri.len)
			return 1;
	return 0;
}

/* Build and send one branch to uri (du: $du). 0 sent, EAGAIN dropped by branch_route, else
 * errno (nothing sent, logged). */
static int tm_branch_start(struct tm_trans *t, struct scr_ctx *ctx, const struct sip_build *base,
			   sy_str uri, sy_str du, const struct sy_dest *force)
{
	struct sy_arena *a = tm_scratch();
	size_t mark = a->used, vlen = 0, idlen = 0, size;
	struct sy_loop *lp = tm_loop();
	struct tm_branch *b = NULL;
	struct sip_build bb;
	struct sip_edit *arr;
	struct sy_dest dst;
	char id[96], *vline;
	unsigned cap = base->n + 32, fr;
	int rc;

	if (t->nbr >= TM_MAX_BRANCHES) {
		rc = ENOSPC;
		LOG_ERR("tm: more than %d branches for %.*s", TM_MAX_BRANCHES,
			SY_FMT(t->msg.callid));
		goto out;
	}
	rc = ENOMEM;
	b = tm_branch_new(t);
	arr = sy_arena_alloc(a, cap * sizeof(*arr));
	vline = sy_arena_alloc(a, 512);
	if (!b || !arr || !vline)
		goto out;
	sip_build_init(&bb, &t->msg, arr, cap);
	if ((rc = sip_build_copy(&bb, base)))
		goto out;
	if (t->on_branch >= 0 && px_prog) {
		/* branch_route: this branch's $ru/$du/headers only (edits on a private copy) */
		struct scr_ctx bc = *ctx;

		bc.route_type = SCR_ROUTE_BRANCH;
		bc.msg = &t->msg;
		bc.edits = &bb;
		bc.new_ruri = uri;
		bc.dst_uri = du;
		bc.nbranches = 0;
		bc.branch_idx = (int)b->idx;
		bc.host = t;
		bc.dropped = bc.exited = bc.replied = 0;
		scr_run(&bc, SCR_ROUTE_BRANCH, t->on_branch);
		if (bc.dropped) {
			rc = EAGAIN;
			goto out;
		}
		uri = bc.new_ruri.len ? bc.new_ruri : t->msg.ruri;
		du = bc.dst_uri;
	}
	if (force) {
		dst = *force;
	} else if ((rc = px_resolve(du.len ? du : uri, &dst))) {
		LOG_WARN("tm: cannot resolve %.*s (%d) for %.*s", SY_FMT(du.len ? du : uri), rc,
			 SY_FMT(t->msg.callid));
		goto out;
	}
	if (!sy_str_eq(uri, t->msg.ruri) && !tm_ruri_edited(&bb) &&
	    (rc = sip_build_set_ruri(&bb, uri)))
		goto out;
	if (!t->maxfwd_done && !ctx->maxfwd_done) {
		/* §16.6 step 3: decrement Max-Forwards, or add one */
		int mi = t->msg.first[SIP_H_MAX_FORWARDS];

		if (mi >= 0 && t->msg.maxfwd > 0) {
			sy_str body = t->msg.hdr[mi].body;
			char *v = sy_arena_alloc(a, 16);

			rc = ENOMEM;
			if (!v)
				goto out;
			rc = sip_build_replace(&bb, (size_t)(body.s - t->req), body.len,
					       sy_str_make(v, (size_t)snprintf(v, 16, "%d",
									       t->msg.maxfwd - 1)));
		} else if (mi >= 0) {
			LOG_NOTICE("tm: Max-Forwards 0, not relaying %.*s", SY_FMT(t->msg.callid));
			rc = ELOOP;
		} else {
			rc = sip_build_append_hdr(&bb, SY_STR("Max-Forwards: 70\r\n"));
		}
		if (rc)
			goto out;
	}
	if ((rc = tm_branch_id(t, b->idx, id, sizeof(id), &idlen)) ||
	    (rc = px_via_line(&dst, sy_str_make(id, idlen), vline, 512, &vlen)) ||
	    (rc = sip_build_prepend_hdr(&bb, sy_str_make(vline, vlen))))
		goto out;
	size = sip_build_size(&bb);
	rc = ENOMEM;
	b->req = tm_alloc(t, size);
	if (!b->req)
		goto out;
	if ((rc = sip_build_out(&bb, b->req, size, &b->req_len)))
		goto out;
	b->dst = dst;
	if ((rc = tm_send(&dst, b->req, b->req_len))) {
		LOG_WARN("tm: branch %u of %.*s not sent (%d)", b->idx, SY_FMT(t->msg.callid), rc);
		goto out;
	}
	t->br[t->nbr++] = b;
	sy_stat_inc(SY_ST_TM_UAC);
	b->state = TM_C_CALLING;
	if (!tm_reliable(dst.proto)) {
		b->retr_ms = tm_cfg.t1_ms;
		sy_timer_start(lp, &b->t_retr, b->retr_ms, tm_retr_cb, b);
	}
	/* B/F (64*T1) or fr_timeout, whichever is first, until a provisional arrives */
	fr = t->fr_ms < tm_64t1() ? t->fr_ms : tm_64t1();
	sy_timer_start(lp, &b->t_fr, fr, tm_fr_cb, b);
	b = NULL;
	rc = 0;
out:
	if (b)
		tm_branch_discard(b);
	a->used = mark;
	return rc;
}

/* keep the request route's decisions for failure_route: its edits (insertions copied), $ru,
 * flags and avps */
static int tm_save_request(struct tm_trans *t, const struct scr_ctx *ctx)
{
	unsigned i;

	t->maxfwd_done = ctx->maxfwd_done;
	if (ctx->new_ruri.len) {
		char *p = tm_strdup(t, ctx->new_ruri.s, ctx->new_ruri.len);

		if (!p)
			return ENOMEM;
		t->ruri = sy_str_make(p, ctx->new_ruri.len);
	}
	if (ctx->edits && ctx->edits->n) {
		t->edits = tm_alloc(t, ctx->edits->n * sizeof(struct sip_edit));
		if (!t->edits)
			return ENOMEM;
		for (i = 0; i < ctx->edits->n; i++) {
			const struct sip_edit *e = &ctx->edits->e[i];
			char *p = tm_strdup(t, e->ins.s, e->ins.len);

			if (!p)
				return ENOMEM;
			t->edits[i] = *e;
			t->edits[i].ins = sy_str_make(p, e->ins.len);
		}
		t->nedits = ctx->edits->n;
	}
	tm_ctx_to_trans(ctx, t);
	if (tm_trans_hook && !t->hooked) {
		t->hooked = 1;
		tm_trans_hook(t->avps, 1);
	}
	return 0;
}

int tm_fork(struct tm_trans *t, struct scr_ctx *ctx, const struct sy_dest *force)
{
	struct sy_arena *a = tm_scratch();
	size_t mark = a->used;
	struct sip_build base;
	struct sip_edit *arr;
	unsigned cap = (ctx->edits ? ctx->edits->n : 0) + 4, i, sent = 0;
	int rc = 0, r;

	if (t->cancelled)
		return ECANCELED;	/* §16.10: no new branch after a CANCEL */
	if (t->final_sent)
		return EALREADY;
	if (!t->in_failure && t->nbr > 0)
		return EALREADY;	/* relayed once already from the request route */
	arr = sy_arena_alloc(a, cap * sizeof(*arr));
	if (!arr)
		return ENOMEM;
	sip_build_init(&base, &t->msg, arr, cap);
	if (ctx->edits && (rc = sip_build_copy(&base, ctx->edits)))
		goto out;
	if (!t->in_failure && (rc = tm_save_request(t, ctx))) {
		LOG_ERR("tm: out of memory saving %.*s", SY_FMT(t->msg.callid));
		goto out;
	}
	if (t->in_failure)
		tm_ctx_to_trans(ctx, t);
	rc = EHOSTUNREACH;
	/* in failure_route the R-URI branch is tried again only when the route changed $ru or
	 * $du, or added no branch of its own (OpenSIPS "ruri is new") */
	if (!t->in_failure || ctx->dst_uri.len || !ctx->nbranches ||
	    !sy_str_eq(ctx->new_ruri, t->ruri)) {
		r = tm_branch_start(t, ctx, &base, scr_ctx_ruri(ctx), ctx->dst_uri, force);
		if (!r)
			sent++;
		else if (r != EAGAIN)
			rc = r;
	}
	for (i = 0; i < ctx->nbranches && i < SCR_MAX_BRANCHES; i++) {
		r = tm_branch_start(t, ctx, &base, ctx->branches[i], ctx->branch_dst[i], force);
		if (!r)
			sent++;
		else if (r != EAGAIN)
			rc = r;
	}
	if (sent)
		rc = 0;
out:
	a->used = mark;
	return rc;
}

/* ---- replies on a branch */

/* global onreply_route, then the armed one; 1 when a route dropped the reply */
static int tm_run_onreply(struct scr_ctx *ctx, struct tm_trans *t, struct tm_branch *b)
{
	int dropped = 0;

	if (!px_prog)
		return 0;
	ctx->route_type = SCR_ROUTE_ONREPLY;
	ctx->host = t;
	ctx->reply_code = ctx->msg->status;
	ctx->branch_idx = (int)b->idx;
	tm_ctx_from_trans(ctx, t, SCR_ROUTE_ONREPLY);
	if (scr_has_route(px_prog, SCR_ROUTE_ONREPLY, 0)) {
		ctx->dropped = ctx->exited = 0;
		scr_run(ctx, SCR_ROUTE_ONREPLY, 0);
		dropped = ctx->dropped;
	}
	if (!dropped && t->on_reply > 0) {
		ctx->dropped = ctx->exited = 0;
		scr_run(ctx, SCR_ROUTE_ONREPLY, t->on_reply);
		dropped = ctx->dropped;
	}
	tm_ctx_to_trans(ctx, t);
	return dropped;
}

/* the reply as relayed: our Via removed, the onreply_route's edits applied (scratch memory) */
static int tm_reply_out(struct scr_ctx *ctx, char **out, size_t *outlen)
{
	struct sy_arena *a = tm_scratch();
	unsigned cap = (ctx->edits ? ctx->edits->n : 0) + 4;
	struct sip_edit *arr = sy_arena_alloc(a, cap * sizeof(*arr));
	struct sip_build bb;
	size_t size;
	int rc;

	if (!arr)
		return ENOMEM;
	sip_build_init(&bb, ctx->msg, arr, cap);
	if (ctx->edits && ctx->edits->m == ctx->msg && (rc = sip_build_copy(&bb, ctx->edits)))
		return rc;
	if ((rc = sip_build_remove_via1(&bb)))
		return rc;
	size = sip_build_size(&bb);
	*out = sy_arena_alloc(a, size);
	if (!*out)
		return ENOMEM;
	return sip_build_out(&bb, *out, size, outlen);
}

static void tm_on_prov(struct scr_ctx *ctx, struct tm_trans *t, struct tm_branch *b)
{
	struct sy_loop *lp = tm_loop();
	unsigned code = ctx->msg->status;
	char *buf;
	size_t len;

	if (b->state == TM_C_TERMINATED && t->mid == SIP_M_INVITE && !b->rcvd_final &&
	    b->cancel == TM_CAN_NONE) {
		/* the branch timed out before any reply and now rings: stop it (§16.8) */
		tm_send_cancel(b);
		return;
	}
	if (b->state != TM_C_CALLING && b->state != TM_C_PROCEEDING)
		return;
	if (b->state == TM_C_CALLING) {
		b->state = TM_C_PROCEEDING;
		if (t->mid == SIP_M_INVITE)
			sy_timer_stop(lp, &b->t_retr);	/* A stops in Proceeding */
		else
			b->retr_ms = tm_cfg.t2_ms;
	}
	if (code > b->last_code)
		b->last_code = code;
	if (b->cancel == TM_CAN_PENDING)
		tm_send_cancel(b);	/* the CANCEL held until now (§9.1) */
	else if (t->mid == SIP_M_INVITE && !b->cancel_wait)
		/* Timer C, restarted by every provisional (§16.6 step 11) */
		sy_timer_start(lp, &b->t_fr, t->fr_inv_ms, tm_fr_cb, b);
	if (code == 100 || b->done || t->final_sent)
		return;	/* §16.7 step 5: 100 is not forwarded */
	if (tm_run_onreply(ctx, t, b))
		return;	/* dropped */
	if (tm_reply_out(ctx, &buf, &len)) {
		LOG_ERR("tm: cannot relay %u for %.*s", code, SY_FMT(t->msg.callid));
		return;
	}
	tm_send_upstream(t, buf, len, code, 0);
}

static void tm_on_final(struct scr_ctx *ctx, struct tm_trans *t, struct tm_branch *b)
{
	struct sy_loop *lp = tm_loop();
	const struct sip_msg *r = ctx->msg;
	unsigned code = r->status;
	int is2xx = code < 300;
	char *buf;
	size_t len;

	if (b->rcvd_final) {
		/* a retransmitted final: ACK it again, or pass the 2xx on (§17.1.1.2, §16.7) */
		if (t->mid == SIP_M_INVITE && !is2xx && b->ack)
			tm_send(&b->dst, b->ack, b->ack_len);
		else if (t->mid == SIP_M_INVITE && is2xx && !tm_reply_out(ctx, &buf, &len))
			tm_send(&t->up, buf, len);
		return;
	}
	b->rcvd_final = code;
	sy_timer_stop(lp, &b->t_retr);
	sy_timer_stop(lp, &b->t_fr);
	b->cancel_wait = 0;
	if (b->cancel == TM_CAN_PENDING)
		b->cancel = TM_CAN_DONE;
	if (t->mid == SIP_M_INVITE && !is2xx) {
		const struct sip_hdr *to = r->first[SIP_H_TO] >= 0 ? &r->hdr[r->first[SIP_H_TO]] : NULL;

		if (to && !tm_build_hop(b, "ACK", to->raw, &b->ack, &b->ack_len))
			tm_send(&b->dst, b->ack, b->ack_len);
		b->state = TM_C_COMPLETED;
		sy_timer_start(lp, &b->t_end, tm_reliable(b->dst.proto) ? 0 : tm_d_ms(), tm_end_cb, b);
	} else if (t->mid == SIP_M_INVITE) {
		b->state = TM_C_TERMINATED;
	} else {
		b->state = TM_C_COMPLETED;
		sy_timer_start(lp, &b->t_end, tm_reliable(b->dst.proto) ? 0 : tm_cfg.t4_ms,
			       tm_end_cb, b);
	}
	tm_run_onreply(ctx, t, b);	/* a final reply cannot be dropped */
	if (tm_reply_out(ctx, &buf, &len)) {
		LOG_ERR("tm: cannot relay %u for %.*s", code, SY_FMT(t->msg.callid));
		buf = NULL;
		len = 0;
	}
	if (is2xx && (t->mid == SIP_M_INVITE || !t->final_sent)) {
		/* every 2xx goes upstream at once, the other branches are cancelled */
		if (buf)
			tm_send_upstream(t, buf, len, code, 0);
		b->done = 1;
		b->local = 0;
		b->code = code;
		tm_cancel_others(t, b);
		return;
	}
	if (b->done || t->final_sent)
		return;	/* absorbed: the branch was already decided (cancelled, timed out) */
	b->done = 1;
	b->local = 0;
	b->code = code;
	if (buf) {
		b->reply = tm_strdup(t, buf, len);
		b->reply_len = b->reply ? len : 0;
	}
	if (code >= 600)
		tm_cancel_others(t, b);	/* §16.7 step 5: a 6xx ends the fork */
	tm_check_done(t);
}

int tm_on_reply(struct scr_ctx *ctx, struct tm_trans *t, struct tm_branch *b)
{
	unsigned code = ctx->msg->status;

	if (code < 100 || code > 699)
		return EBADMSG;
	if (code < 200)
		tm_on_prov(ctx, t, b);
	else
		tm_on_final(ctx, t, b);
	return 0;
}
