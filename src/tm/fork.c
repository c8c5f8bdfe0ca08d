/* fork.c: the response context of a forking proxy (RFC 3261 §16.7): when every branch of the
 * current fork is answered, choose the best final reply (6xx first, else the lowest class;
 * within 4xx prefer 401/407/415/420/484; 503 goes down as 500; 401/407 challenges of all
 * branches merged), run the armed failure_route in the request's context (serial forking,
 * t_reply), otherwise send the choice upstream. Also the cancellation of branches (§16.10). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "proxy/proxy.h"
#include "tm/internal.h"

void tm_ctx_from_trans(struct scr_ctx *ctx, struct tm_trans *t, int route_type)
{
	(void)route_type;
	ctx->flags = t->flags;
	ctx->bflags = t->bflags;
	if (t->avps)
		memcpy(ctx->avps, t->avps, sizeof(ctx->avps));
	else
		memset(ctx->avps, 0, sizeof(ctx->avps));
}

/* flags and avps outlive the message: string values are copied into transaction memory */
void tm_ctx_to_trans(const struct scr_ctx *ctx, struct tm_trans *t)
{
	/* only the avps the script names can be set: a script without any costs nothing here */
	unsigned i, n = scr_avp_count(ctx->prog);

	t->flags = ctx->flags;
	t->bflags = ctx->bflags;
	if (!t->avps) {
		for (i = 0; i < n; i++)
			if (ctx->avps[i].is_int || ctx->avps[i].s.len)
				break;
		if (i == n)
			return;	/* none set: nothing to keep */
		t->avps = tm_alloc(t, SCR_MAX_VARS * sizeof(*t->avps));
		if (!t->avps) {
			LOG_ERR("tm: no memory for the avps of %.*s", SY_FMT(t->msg.callid));
			return;
		}
		memset(t->avps, 0, SCR_MAX_VARS * sizeof(*t->avps));
	}
	for (i = 0; i < n; i++) {
		const struct scr_value *v = &ctx->avps[i];
		struct scr_value *o = &t->avps[i];

		if (v->is_int || !v->s.len) {
			*o = *v;
		} else if (v->s.s != o->s.s || v->s.len != o->s.len) {
			char *p = tm_strdup(t, v->s.s, v->s.len);

			o->is_int = 0;
			o->i = v->i;
			o->s = p ? sy_str_make(p, v->s.len) : SY_NULL_STR;
		}
	}
}

void tm_cancel_others(struct tm_trans *t, const struct tm_branch *keep)
{
	unsigned i;

	for (i = 0; i < t->nbr; i++) {
		struct tm_branch *b = t->br[i];

		if (b == keep || b->rcvd_final)
			continue;
		if (!b->done) {
			b->done = 1;
			b->local = 1;
			b->code = 487;
		}
		tm_branch_cancel(b);
	}
}

/* a CANCEL from upstream for t (§16.10): every branch with a provisional is cancelled, the
 * others as soon as one arrives; those count as a local 487 at once */
void tm_cancel_trans(struct tm_trans *t)
{
	unsigned i;

	if (t->final_sent)
		return;
	t->cancelled = 1;
	if (t->nbr == t->first_br) {
		tm_send_local(t, 487, SY_NULL_STR, SY_NULL_STR);
		return;
	}
	for (i = t->first_br; i < t->nbr; i++) {
		struct tm_branch *b = t->br[i];

		if (b->done)
			continue;
		tm_branch_cancel(b);
		if (b->cancel == TM_CAN_PENDING) {
			b->done = 1;
			b->local = 1;
			b->code = 487;
		}
	}
	tm_check_done(t);
}

/* lower is better (§16.7 step 6) */
static int tm_rank(const struct tm_trans *t, const struct tm_branch *b)
{
	unsigned c = b->code;

	if (c >= 600)
		return 0;
	if (b->local)
		/* RFC 4320 §4.2: a non-INVITE timeout is never the answer when there is another */
		return t->mid == SIP_M_INVITE ? (int)(c / 100) * 10 + 5 : 99;
	if (c == 401 || c == 407 || c == 415 || c == 420 || c == 484)
		return 40;
	return (int)(c / 100) * 10 + 1;
}

static struct tm_branch *tm_pick(struct tm_trans *t)
{
	struct tm_branch *best = NULL;
	unsigned i;

	for (i = t->first_br; i < t->nbr; i++)
		if (!best || tm_rank(t, t->br[i]) < tm_rank(t, best))
			best = t->br[i];
	return best;
}

static int tm_parse_scratch(struct sy_arena *a, const char *buf, size_t len, struct sip_msg *m)
{
	struct sip_limits lim;

	memset(m, 0, sizeof(*m));
	m->hdr = sy_arena_alloc(a, TM_MAX_HDRS * sizeof(struct sip_hdr));
	if (!m->hdr)
		return ENOMEM;
	m->hdr_cap = TM_MAX_HDRS;
	sip_limits_default(&lim);
	lim.max_headers = TM_MAX_HDRS;
	if (lim.max_msg < len)
		lim.max_msg = (unsigned)len;
	return sip_msg_parse(m, buf, len, 0, &lim);
}

/* §16.7 step 7: every WWW-/Proxy-Authenticate of the fork's 401/407 replies in one reply */
static int tm_merge_challenges(struct tm_trans *t, const struct tm_branch *best, char **out,
			       size_t *outlen)
{
	struct sy_arena *a = tm_scratch();
	struct sip_msg bm, om;
	struct sip_build bb;
	struct sip_edit *arr;
	unsigned i, cap = 64;
	size_t size;
	int rc, h;

	if ((rc = tm_parse_scratch(a, best->reply, best->reply_len, &bm)))
		return rc;
	arr = sy_arena_alloc(a, cap * sizeof(*arr));
	if (!arr)
		return ENOMEM;
	sip_build_init(&bb, &bm, arr, cap);
	for (i = t->first_br; i < t->nbr; i++) {
		const struct tm_branch *o = t->br[i];

		if (o == best || o->local || !o->reply || (o->code != 401 && o->code != 407))
			continue;
		if (tm_parse_scratch(a, o->reply, o->reply_len, &om))
			continue;
		for (h = 0; h < (int)om.nhdr; h++) {
			if (om.hdr[h].id != SIP_H_WWW_AUTHENTICATE &&
			    om.hdr[h].id != SIP_H_PROXY_AUTHENTICATE)
				continue;
			if ((rc = sip_build_append_hdr(&bb, om.hdr[h].raw)))
				return rc;
		}
	}
	size = sip_build_size(&bb);
	*out = sy_arena_alloc(a, size);
	if (!*out)
		return ENOMEM;
	return sip_build_out(&bb, *out, size, outlen);
}

static void tm_send_best(struct tm_trans *t, struct tm_branch *best)
{
	struct sy_arena *a = tm_scratch();
	size_t mark = a->used, len;
	unsigned code = best->code;
	char *buf;

	if (best->local || !best->reply) {
		if (t->cancelled)
			code = 487;
		if (t->mid != SIP_M_INVITE && code == 408) {
			/* RFC 4320 §4.2: no 408 to a non-INVITE; nothing goes upstream */
			LOG_DBG("tm: %.*s %.*s timed out, no reply upstream", SY_FMT(t->msg.method),
				SY_FMT(t->msg.callid));
			tm_server_silent_end(t);
			return;
		}
		tm_send_local(t, code, SY_NULL_STR, SY_NULL_STR);
		return;
	}
	buf = best->reply;
	len = best->reply_len;
	if (code == 401 || code == 407) {
		if (tm_merge_challenges(t, best, &buf, &len)) {
			buf = best->reply;
			len = best->reply_len;
		}
	} else if (code == 503) {
		/* §16.7 step 6: a 503 would make the client think we are unavailable: 500 */
		const char *eol = memchr(buf, '\n', len);
		const char *line = "SIP/2.0 500 Server Internal Error\r\n";
		size_t ll = strlen(line), rest = eol ? len - (size_t)(eol + 1 - buf) : 0;
		char *nb = eol ? sy_arena_alloc(a, ll + rest) : NULL;

		if (nb) {
			memcpy(nb, line, ll);
			memcpy(nb + ll, eol + 1, rest);
			buf = nb;
			len = ll + rest;
			code = 500;
		}
	}
	tm_send_upstream(t, buf, len, code, 0);
	a->used = mark;
}

/* failure_route in the request's context; 1 when it took over (new branches or a reply) */
static int tm_run_failure(struct tm_trans *t, struct tm_branch *best)
{
	struct sy_arena *a = tm_scratch();
	size_t mark = a->used;
	struct scr_ctx fc;
	struct sip_build eb, saved;
	struct sip_edit *arr;
	unsigned cap = t->nedits + 64, first = t->nbr;
	int idx = t->on_failure;

	t->on_failure = -1;	/* armed for one run; the route may arm it again */
	arr = sy_arena_alloc(a, cap * sizeof(*arr));
	if (!arr) {
		LOG_ERR("tm: no scratch memory for failure_route of %.*s", SY_FMT(t->msg.callid));
		return 0;
	}
	sip_build_init(&eb, &t->msg, arr, cap);
	if (t->nedits) {
		sip_build_init(&saved, &t->msg, t->edits, t->nedits);
		saved.n = t->nedits;
		sip_build_copy(&eb, &saved);
	}
	memset(&fc, 0, sizeof(fc));
	fc.prog = px_prog;
	fc.route_type = SCR_ROUTE_FAILURE;
	fc.msg = &t->msg;
	fc.rcv = &t->rcv;
	fc.edits = &eb;
	fc.arena = a;
	fc.new_ruri = t->ruri;
	fc.reply_code = t->cancelled && best->local ? 487 : best->code;
	fc.branch_idx = (int)best->idx;
	fc.maxfwd_done = t->maxfwd_done;
	fc.host = t;
	tm_ctx_from_trans(&fc, t, SCR_ROUTE_FAILURE);
	t->in_failure = 1;
	scr_run(&fc, SCR_ROUTE_FAILURE, idx);
	t->in_failure = 0;
	tm_ctx_to_trans(&fc, t);
	a->used = mark;
	if (t->final_sent)
		return 1;	/* t_reply() replaced the reply */
	if (t->nbr > first) {
		t->first_br = first;	/* a new serial fork: its replies decide */
		return 1;
	}
	return 0;
}

void tm_check_done(struct tm_trans *t)
{
	struct tm_branch *best;
	unsigned i;

	if (t->final_sent || t->in_failure || t->nbr == t->first_br)
		return;
	for (i = t->first_br; i < t->nbr; i++)
		if (!t->br[i]->done)
			return;
	best = tm_pick(t);
	if (t->on_failure >= 0 && px_prog && tm_run_failure(t, best))
		return;
	tm_send_best(t, best);
}
