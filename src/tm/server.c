/* server.c: the server transaction (RFC 3261 §17.2): creation from a request (copied once
 * into transaction memory and parsed there), where replies go (§18.2.2, RFC 3581), local
 * replies (§8.2.6), every reply sent upstream stored to answer retransmissions, and the
 * timers G, H, I, J plus the wait after a 2xx (RFC 6026 Accepted, bounded by wt_timer). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/stats.h"
#include "core/worker.h"
#include "proxy/fmt.h"
#include "proxy/proxy.h"
#include "tp/tp.h"
#include "tm/internal.h"

struct tm_config tm_cfg = {
	.t1_ms = 500, .t2_ms = 4000, .t4_ms = 5000, .fr_ms = 5000, .fr_inv_ms = 120000,
	.wt_ms = 0, .max_transactions = 0, .retry_after = 5,
};

/* scratch memory for building messages: the worker's per-message arena; users take a mark
 * (a->used) and restore it, so a message being processed keeps its own allocations */
struct sy_arena *tm_scratch(void)
{
	return sy_worker_arena();
}

static unsigned tm_64t1(void)
{
	return 64u * tm_cfg.t1_ms;
}

static void tm_addr_set_port(struct sy_addr *a, unsigned port)
{
	if (a->u.sa.sa_family == AF_INET)
		a->u.in.sin_port = htons((uint16_t)port);
	else if (a->u.sa.sa_family == AF_INET6)
		a->u.in6.sin6_port = htons((uint16_t)port);
}

/* §18.2.2: reliable transports answer on the connection; UDP to the source address, and to
 * the sent-by port unless the client asked for rport (RFC 3581 §4). Local replies get
 * ;received (§18.2.1) and the rport value, as px_reply() gives them. */
static int tm_upstream(struct tm_trans *t, const struct scr_ctx *ctx)
{
	const struct sip_via *v = &t->msg.via1;
	struct sy_arena *a = tm_scratch();
	size_t mark = a->used, size, n;
	struct sip_limits lim;
	struct sip_build b;
	struct sip_edit e[2];
	struct sy_addr sb;
	char ip[64], *copy;
	int rc = 0;

	t->up.proto = t->rcv.proto;
	t->up.addr = t->rcv.src;
	t->up.listen_idx = t->rcv.listen_idx;
	t->up.conn_id = t->rcv.conn_id;
	t->lmsg = &t->msg;
	if (!tm_reliable(t->rcv.proto) && v->rport < 0 && !ctx->force_rport)
		tm_addr_set_port(&t->up.addr, v->port ? v->port : 5060);
	if (v->rport == 0 || (v->rport < 0 && ctx->force_rport)) {
		sip_build_init(&b, &t->msg, e, 2);
		rc = px_via_received(&t->msg, &t->rcv, ctx->force_rport, &b, a);
		size = rc ? 0 : sip_build_size(&b);
		copy = rc ? NULL : tm_alloc(t, size);
		t->lmsg = tm_alloc(t, sizeof(*t->lmsg));
		if (!rc && (!copy || !t->lmsg))
			rc = ENOMEM;
		if (!rc)
			rc = sip_build_out(&b, copy, size, &size);
		if (!rc) {
			memset(t->lmsg, 0, sizeof(*t->lmsg));
			t->lmsg->hdr = tm_alloc(t, t->msg.hdr_cap * sizeof(struct sip_hdr));
			t->lmsg->hdr_cap = t->msg.hdr_cap;
			sip_limits_default(&lim);
			lim.max_headers = t->msg.hdr_cap;
			if (lim.max_msg < size)
				lim.max_msg = (unsigned)size;
			rc = t->lmsg->hdr ? sip_msg_parse(t->lmsg, copy, size, 0, &lim) : ENOMEM;
		}
		if (rc)
			t->lmsg = &t->msg;
	} else if (v->raw.len && !v->received.len &&
		   (tp_addr_parse(v->host, 0, &sb) || !tp_addr_same_ip(&sb, &t->rcv.src))) {
		n = tp_addr_ip(&t->rcv.src, ip, sizeof(ip));
		t->via_params_len = (size_t)snprintf(t->via_params, sizeof(t->via_params),
						     ";received=%.*s", (int)n, ip);
		if (t->via_params_len >= sizeof(t->via_params))
			t->via_params_len = 0;
	}
	a->used = mark;
	return rc;
}

static void tm_s_orphan_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_trans *t = arg;

	(void)tmr;
	if (t->final_sent || t->nbr)
		return;	/* relayed or answered: its own timers end it */
	LOG_NOTICE("tm: %.*s %.*s was neither relayed nor answered by the script: dropped",
		   SY_FMT(t->msg.method), SY_FMT(t->msg.callid));
	t->sstate = TM_S_TERMINATED;
	tm_maybe_free(t);
}

/* Admission under max_transactions. A request that starts something new (no To tag) is refused
 * at the limit; a request inside a dialog (To tag: BYE, re-INVITE, UPDATE ...) may go on to twice
 * the limit. Without that reserve, new INVITEs arriving faster than slots free up take every
 * slot, the BYEs of calls already admitted get 503 and almost no call completes (measured: 3 of
 * 60,000 calls completed at five times capacity). Finishing admitted calls is what frees the proxy; RFC 6357
 * §3.2 and RFC 7339 make the same choice (reject new sessions before established ones).
 * Zombies (zombie.c) do not count: they only absorb retransmissions until Timer J/K ends, hold
 * ~0.5-0.9 KB and no branch, and counting them let the 32 s of Timer J of each admitted BYE
 * lock new calls out long after the load was gone. Their number is bounded by the admitted
 * rate times 64*T1.
 * Refusals are logged once a second per worker with their count, not once each: under
 * overload a line per refusal would itself be the load. */
static int tm_over_limit(const struct sip_msg *m)
{
	static _Thread_local uint64_t last_log;
	static _Thread_local unsigned refused;
	unsigned lim = tm_cfg.max_transactions, n;
	uint64_t now;

	if (!lim)
		return 0;
	n = tm_count_full();
	if (n < lim || (m->to.tag.len && n < 2 * lim))
		return 0;
	refused++;
	now = sy_now_ms();
	if (now - last_log >= 1000) {
		LOG_WARN("tm: %u transactions, limit reached: 503 to %u request(s) since the last "
			 "such line, latest %.*s", n, refused, SY_FMT(m->callid));
		last_log = now;
		refused = 0;
	}
	return 1;
}

int tm_trans_create(struct scr_ctx *ctx, struct tm_trans **out)
{
	const struct sip_msg *m = ctx->msg;
	struct tm_table *tb = tm_table();
	struct tm_trans *t;
	unsigned cap;
	int rc;

	if (m->mid == SIP_M_ACK || m->mid == SIP_M_CANCEL || !m->is_request)
		return EINVAL;
	if (tm_over_limit(m)) {
		char ra[48];
		int n = snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", tm_cfg.retry_after);

		px_reply(ctx, 503, SY_STR("Service Unavailable"), sy_str_make(ra, (size_t)n));
		ctx->replied = 1;
		return EBUSY;
	}
	t = tm_trans_new();
	if (!t)
		goto nomem;
	cap = m->nhdr + 1;
	t->req = tm_strdup(t, m->buf, m->len);
	t->msg.hdr = tm_alloc(t, cap * sizeof(struct sip_hdr));
	if (!t->req || !t->msg.hdr)
		goto nomem;
	t->req_len = m->len;
	/* the copy holds the same bytes: move the parsed message onto it instead of parsing
	 * again (a second parse cost as much as the whole route) */
	rc = sip_msg_rebase(&t->msg, m, t->req, t->msg.hdr, cap);
	if (rc) {
		LOG_ERR("tm: cannot move the request onto its copy (%d): %.*s", rc,
			SY_FMT(m->callid));
		tm_trans_free(t);
		return rc;
	}
	t->mid = m->mid;
	t->rfc2543 = !(m->via1.branch.len > 7 && memcmp(m->via1.branch.s, "z9hG4bK", 7) == 0);
	if (ctx->rcv)
		t->rcv = *ctx->rcv;
	if (tm_upstream(t, ctx))
		LOG_WARN("tm: cannot mark the Via for local replies of %.*s", SY_FMT(m->callid));
	/* the tag px_reply would give: the 200 to a CANCEL, answered without the transaction
	 * (zombie or stateless), then carries the same To tag as our 487 (§9.2) */
	px_reply_tag(m, t->to_tag);
	t->to_tag_len = PX_REPLY_TAG_LEN;
	t->to_tag[t->to_tag_len] = '\0';
	t->fr_ms = tm_cfg.fr_ms;
	t->fr_inv_ms = tm_cfg.fr_inv_ms;
	if (tb->pend_ctx == ctx && tb->pend_msg == ctx->msg) {
		t->on_reply = tb->pend_reply;
		t->on_failure = tb->pend_failure;
		t->on_branch = tb->pend_branch;
		if (tb->pend_fr_ms)
			t->fr_ms = tb->pend_fr_ms;
		if (tb->pend_fr_inv_ms)
			t->fr_inv_ms = tb->pend_fr_inv_ms;
	}
	t->flags = ctx->flags;
	t->sstate = TM_S_TRYING;
	tm_hash_insert(t);
	sy_stat_inc(SY_ST_TM_UAS);
	/* the route that created it relays or answers before it ends; if it did neither (e.g.
	 * t_newtran() then a stateless reply), this guard ends the transaction */
	sy_timer_start(tm_loop(), &t->s_end, tm_64t1(), tm_s_orphan_cb, t);
	ctx->host = t;
	/* §16.2 / §17.2.1: an INVITE is answered 100 at once so the client stops retransmitting */
	if (t->mid == SIP_M_INVITE)
		tm_send_local(t, 100, SY_STR("Trying"), SY_NULL_STR);
	*out = t;
	return 0;
nomem:
	LOG_ERR("tm: out of memory for a transaction: %.*s", SY_FMT(m->callid));
	if (t)
		tm_trans_free(t);
	return ENOMEM;
}

static void tm_server_final(struct tm_trans *t, unsigned code);

int tm_send_local(struct tm_trans *t, unsigned code, sy_str reason, sy_str extra)
{
	struct sy_arena *a = tm_scratch();
	size_t mark, cap, len = 0;
	char *buf;
	int rc, built = 0;

	if (!reason.len)
		reason = sy_cstr(sip_reason_phrase(code));
	if (!a) {
		rc = ENOMEM;
		goto fail;
	}
	mark = a->used;
	cap = t->req_len + extra.len + t->to_tag_len + t->via_params_len + reason.len + 256;
	buf = sy_arena_alloc(a, cap);
	rc = buf ? 0 : ENOMEM;
	if (!rc)
		rc = sip_reply_build(t->lmsg, code, reason,
			     code > 100 ? sy_str_make(t->to_tag, t->to_tag_len) : SY_NULL_STR,
			     sy_str_make(t->via_params, t->via_params_len), extra, SY_NULL_STR, buf,
			     cap, &len);
	if (!rc) {
		built = 1;
		rc = tm_send_upstream(t, buf, len, code, 1);
	}
	a->used = mark;
	if (built)
		return rc;
fail:
	/* the reply could not be made: the transaction still ends as if it had been sent */
	LOG_ERR("tm: cannot build a local %u for %.*s (%d)", code, SY_FMT(t->msg.callid), rc);
	if (code >= 200)
		tm_server_final(t, code);
	return rc;
}

static void tm_s_retr_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_trans *t = arg;

	(void)tmr;
	if (t->sstate != TM_S_COMPLETED)
		return;
	/* Timer G: the final reply again, T1 doubling up to T2 (§17.2.1) */
	tm_send(&t->up, t->last, t->last_len);
	t->s_retr_ms *= 2;
	if (t->s_retr_ms > tm_cfg.t2_ms)
		t->s_retr_ms = tm_cfg.t2_ms;
	sy_timer_start(tm_loop(), &t->s_retr, t->s_retr_ms, tm_s_retr_cb, t);
}

static void tm_s_end_cb(struct sy_timer *tmr, void *arg)
{
	struct tm_trans *t = arg;

	(void)tmr;
	/* H (no ACK came), I, J, or the end of the Accepted wait: the server side is over */
	if (t->sstate == TM_S_COMPLETED && t->mid == SIP_M_INVITE)
		LOG_DBG("tm: no ACK for %u (Timer H): %.*s", t->last_code, SY_FMT(t->msg.callid));
	sy_timer_stop(tm_loop(), &t->s_retr);
	t->sstate = TM_S_TERMINATED;
	tm_maybe_free(t);
}

static unsigned tm_wait_ms(void)
{
	return tm_cfg.wt_ms ? tm_cfg.wt_ms : 5000;
}

/* the server side after a final reply went (or should have gone) upstream */
static void tm_server_final(struct tm_trans *t, unsigned code)
{
	struct sy_loop *lp = tm_loop();

	t->final_sent = 1;
	if (t->mid == SIP_M_INVITE && code < 300) {
		/* a 2xx ends the INVITE server transaction (§17.2.1); we stay a little (RFC 6026
		 * Accepted) to relay the 2xx of other branches and absorb retransmissions */
		t->relayed_2xx = 1;
		sy_timer_stop(lp, &t->s_retr);
		if (t->sstate != TM_S_ACCEPTED) {
			t->sstate = TM_S_ACCEPTED;
			sy_timer_start(lp, &t->s_end, tm_wait_ms(), tm_s_end_cb, t);
		}
	} else if (t->mid == SIP_M_INVITE) {
		if (t->sstate == TM_S_COMPLETED || t->sstate == TM_S_CONFIRMED ||
		    t->sstate == TM_S_ACCEPTED)
			return;
		t->sstate = TM_S_COMPLETED;
		if (!tm_reliable(t->up.proto) && t->last_len) {
			t->s_retr_ms = tm_cfg.t1_ms;
			sy_timer_start(lp, &t->s_retr, t->s_retr_ms, tm_s_retr_cb, t);
		}
		sy_timer_start(lp, &t->s_end, tm_64t1(), tm_s_end_cb, t);	/* H */
	} else {
		t->sstate = TM_S_COMPLETED;
		/* J: 64*T1 on UDP to absorb retransmissions, 0 on reliable transports */
		sy_timer_start(lp, &t->s_end, tm_reliable(t->up.proto) ? 0 : tm_64t1(),
			       tm_s_end_cb, t);
	}
}

int tm_send_upstream(struct tm_trans *t, const char *buf, size_t len, unsigned code, int local)
{
	int rc;

	if (len > t->last_cap) {
		char *p = tm_alloc(t, len + 64);

		if (p) {
			t->last = p;
			t->last_cap = len + 64;
		}
	}
	if (len <= t->last_cap) {
		memcpy(t->last, buf, len);
		t->last_len = len;
	} else {
		/* no memory to keep it: sent once, retransmissions get nothing */
		LOG_ERR("tm: no memory to keep the %u for %.*s", code, SY_FMT(t->msg.callid));
		t->last_len = 0;
	}
	sy_stat_class(local ? SY_ST_TM_LOCAL_1XX : SY_ST_TM_RELAYED_1XX, code);
	if (local && code == 408)
		sy_stat_inc(SY_ST_TM_LOCAL_408);
	if (code >= 200 && !t->final_sent)
		sy_stat_class(SY_ST_TM_FINAL_1XX, code);
	t->last_code = code;
	t->last_local = local;
	t->any_local |= local;
	t->any_relayed |= !local;
	rc = tm_send(&t->up, buf, len);
	if (code < 200) {
		if (t->sstate == TM_S_TRYING)
			t->sstate = TM_S_PROCEEDING;
		return rc;
	}
	tm_server_final(t, code);
	return rc;
}

/* the ACK for our non-2xx final arrived: Confirmed, Timer I (§17.2.1) */
void tm_server_ack(struct tm_trans *t)
{
	struct sy_loop *lp = tm_loop();

	if (t->sstate != TM_S_COMPLETED)
		return;
	sy_timer_stop(lp, &t->s_retr);
	t->sstate = TM_S_CONFIRMED;
	sy_timer_start(lp, &t->s_end, tm_reliable(t->up.proto) ? 0 : tm_cfg.t4_ms, tm_s_end_cb, t);
}

/* RFC 4320 §4.2: a non-INVITE that got no reply at all ends without a word upstream */
void tm_server_silent_end(struct tm_trans *t)
{
	tm_server_stop(t);
	t->final_sent = 1;
	t->sstate = TM_S_TERMINATED;
}

void tm_server_stop(struct tm_trans *t)
{
	struct sy_loop *lp = tm_loop();

	if (!lp)
		return;
	sy_timer_stop(lp, &t->s_retr);
	sy_timer_stop(lp, &t->s_end);
}
