/* proxy.c: the receive path above the transports: parse into the worker's arena, answer what
 * cannot be processed (§8.2.6, §16.3), mark the top Via (§18.2.1), give tm its chance, then run
 * the script on requests; replies not claimed by tm go back statelessly by Via (§18.2.2,
 * RFC 3581 §4). Nothing here mallocs: per-message memory is the arena, reset per message. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/stats.h"
#include "core/worker.h"
#include "proxy/fmt.h"
#include "proxy/proxy.h"
#include "tp/tp.h"

#define PX_MAX_EDITS 64

struct scr_prog *px_prog;
struct px_tm_hooks px_tm;
struct sip_limits px_limits;
static int limits_set;

/* option tags we accept in Proxy-Require (§16.3 step 6): none */
static const char *const px_supported[] = { NULL };

int px_init(void)
{
	if (!limits_set) {
		sip_limits_default(&px_limits);
		limits_set = 1;
	}
	tp_set_recv(px_recv);
	return 0;
}

/* a message that failed to parse: answer a request with the code the parser chose (§8.2.6:
 * stateless, to where it came from), drop anything else with one log line */
static void bad_message(const struct sip_msg *m, const struct sy_rcvinfo *rcv, struct sy_arena *a)
{
	char ip[64];
	char *out;
	size_t cap, outlen;
	struct sy_dest d;
	int rc;

	tp_addr_ip(&rcv->src, ip, sizeof(ip));
	if (!m->is_request || !m->err_code || m->mid == SIP_M_ACK) {
		LOG_NOTICE("dropped malformed message from %s:%u (%s at offset %zu)", ip,
			   tp_addr_port(&rcv->src), m->err_reason ? m->err_reason : "no start line",
			   m->err_off);
		return;
	}
	cap = m->len + 512;
	out = sy_arena_alloc(a, cap);
	rc = out ? sip_reply_build(m, m->err_code,
				   sy_cstr(m->err_reason ? m->err_reason
							 : sip_reason_phrase(m->err_code)),
				   SY_STR("sy0badmsg"), SY_NULL_STR, SY_NULL_STR, SY_NULL_STR, out,
				   cap, &outlen)
		 : ENOMEM;
	if (!rc) {
		memset(&d, 0, sizeof(d));
		d.proto = rcv->proto;
		d.addr = rcv->src;
		d.listen_idx = rcv->listen_idx;
		d.conn_id = rcv->conn_id;
		rc = tp_send(&d, out, outlen);
	}
	LOG_NOTICE("malformed request from %s:%u (%s at offset %zu): %s %u", ip,
		   tp_addr_port(&rcv->src), m->err_reason ? m->err_reason : "?", m->err_off,
		   rc ? "could not answer" : "answered", m->err_code);
}

static void request_in(struct scr_ctx *ctx)
{
	struct sip_msg *m = ctx->msg;
	struct sip_verdict v;
	int rc;

	memset(&v, 0, sizeof(v));
	if (sip_validate_request(m, px_supported, &v)) {
		char hdr[512];
		int n = 0;

		if (m->mid == SIP_M_ACK) {
			/* never answered (§17.1.1.3), nothing to relay either: say why it went */
			char ip[64];

			tp_addr_ip(&ctx->rcv->src, ip, sizeof(ip));
			sy_stat_inc(SY_ST_DROP_REQUESTS);
			LOG_NOTICE("dropped ACK from %s:%u (Call-ID %.*s): %u %s", ip,
				   tp_addr_port(&ctx->rcv->src), SY_FMT(m->callid),
				   v.code ? v.code : 400, v.reason ? v.reason : "Bad Request");
			return;
		}
		if (v.code == 420 && v.unsupported.len)
			n = snprintf(hdr, sizeof(hdr), "Unsupported: %.*s\r\n",
				     (int)(v.unsupported.len > 400 ? 400 : v.unsupported.len),
				     v.unsupported.s);
		px_reply(ctx, v.code ? v.code : 400, sy_cstr(v.reason),
			 sy_str_make(hdr, n > 0 ? (size_t)n : 0));
		return;
	}
	rc = px_via_received(m, ctx->rcv, 0, ctx->edits, ctx->arena);
	if (rc) {
		LOG_ERR("request %.*s (Call-ID %.*s): cannot mark the Via: %s", SY_FMT(m->method),
			SY_FMT(m->callid), strerror(rc));
		px_reply(ctx, 500, SY_STR("Server Internal Error"), SY_NULL_STR);
		return;
	}
	if (px_tm.request_in && px_tm.request_in(ctx))
		return;
	if (!px_prog)
		return;
	/* OpenSIPS semantics: a request the route neither relays nor answers is dropped */
	scr_run(ctx, SCR_ROUTE_REQUEST, 0);
	if (ctx->dropped)
		sy_stat_inc(SY_ST_DROP_REQUESTS);
	if (px_tm.request_done)
		px_tm.request_done(ctx);	/* tm checks itself whether it relayed or replied */
}

/* the via-parm after the top one: the rest of the first Via field, or the next Via field */
static int second_via(const struct sip_msg *m, struct sip_via *v2)
{
	int i = m->first[SIP_H_VIA];
	sy_str rest;
	struct sip_via v1;

	if (i < 0 || sip_via_parse(m->hdr[i].body, &v1, &rest))
		return EBADMSG;
	if (rest.len)
		return sip_via_parse(rest, v2, &rest);
	i = sip_hdr_next(m, SIP_H_VIA, i + 1);
	if (i < 0)
		return ENOENT;
	return sip_via_parse(m->hdr[i].body, v2, &rest);
}

static enum sy_proto via_proto(sy_str t)
{
	if (sy_str_caseeq_c(t, "UDP"))
		return SY_PROTO_UDP;
	if (sy_str_caseeq_c(t, "TCP"))
		return SY_PROTO_TCP;
	if (sy_str_caseeq_c(t, "TLS"))
		return SY_PROTO_TLS;
	if (sy_str_caseeq_c(t, "WS"))
		return SY_PROTO_WS;
	if (sy_str_caseeq_c(t, "WSS"))
		return SY_PROTO_WSS;
	return SY_PROTO_NONE;
}

/* §18.2.2 / RFC 3581 §4: where a response goes by its (new) top Via */
static int via_dest(const struct sip_via *v, struct sy_dest *d)
{
	unsigned port = v->port ? v->port : 5060;
	sy_str host = v->host;

	memset(d, 0, sizeof(d[0]));
	d->listen_idx = -1;
	d->proto = via_proto(v->transport);
	if (d->proto == SY_PROTO_NONE)
		return EPROTONOSUPPORT;
	if (v->maddr.len)
		host = v->maddr;
	else if (v->received.len)
		host = v->received;
	if (v->rport > 0 && !v->maddr.len)
		port = (unsigned)v->rport;
	if (tp_addr_parse(host, port, &d->addr) == 0)
		return 0;
	{
		/* a host name in sent-by: only names resolved at load (no DNS here) */
		char uri[300];
		struct px_buf b = { uri, 0, sizeof(uri) };
		enum sy_proto p = d->proto;
		int rc;

		px_puts(&b, "sip:");
		px_put(&b, host);
		px_puts(&b, ":");
		px_put_uint(&b, port);
		if (!px_buf_ok(&b))
			return EINVAL;
		rc = px_resolve(sy_str_make(uri, b.len), d);
		d->proto = p;
		return rc;
	}
}

static void reply_in(struct scr_ctx *ctx)
{
	struct sip_msg *m = ctx->msg;
	struct sip_via v2;
	struct sy_dest d;
	char *out;
	size_t cap, outlen;
	int rc;

	if (sip_validate_response(m)) {
		sy_stat_inc(SY_ST_DROP_REPLIES);
		LOG_NOTICE("dropped malformed %u reply (Call-ID %.*s)", m->status, SY_FMT(m->callid));
		return;
	}
	if (px_tm.reply_in && px_tm.reply_in(ctx))
		return;
	/* stateless: the top Via must be ours (§16.7 step 3), else the reply is not for us */
	if (!tp_listen_match(m->via1.host, m->via1.port) &&
	    !(px_prog && scr_is_myself(px_prog, m->via1.host, m->via1.port))) {
		sy_stat_inc(SY_ST_DROP_REPLIES);
		LOG_NOTICE("dropped %u reply: top Via %.*s:%u is not ours", m->status,
			   SY_FMT(m->via1.host), m->via1.port);
		return;
	}
	rc = second_via(m, &v2);
	if (rc) {
		/* a reply to a request we originated ourselves: nothing to relay it to */
		LOG_DBG("%u reply has no second Via, consumed", m->status);
		return;
	}
	if (px_prog && scr_has_route(px_prog, SCR_ROUTE_ONREPLY, 0)) {
		ctx->route_type = SCR_ROUTE_ONREPLY;
		scr_run(ctx, SCR_ROUTE_ONREPLY, 0);
		if (ctx->dropped) {
			sy_stat_inc(SY_ST_DROP_REPLIES);
			return;
		}
	}
	rc = via_dest(&v2, &d);
	if (rc == 0 && tp_addr_is_bcast(&d.addr))
		rc = EADDRNOTAVAIL;
	if (rc) {
		sy_stat_inc(SY_ST_DROP_REPLIES);
		LOG_NOTICE("dropped %u reply: no usable destination in Via %.*s (%s)", m->status,
			   SY_FMT(v2.raw), strerror(rc));
		return;
	}
	if (d.proto != SY_PROTO_UDP) {
		/* our Via may name the connection the request came on: reply on it (§18.2.2) */
		sy_str cid;
		uint64_t id = 0;
		size_t i;

		if (sip_param_get(m->via1.params, SY_STR(PX_VIA_CONN_PARAM), &cid) == 0 &&
		    cid.len && cid.len <= 16) {
			for (i = 0; i < cid.len; i++) {
				char c = cid.s[i];
				unsigned v = c >= '0' && c <= '9' ? (unsigned)(c - '0')
					   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;

				if (v > 15) {
					id = 0;
					break;
				}
				id = id << 4 | v;
			}
			d.conn_id = id;
		}
	}
	rc = sip_build_remove_via1(ctx->edits);
	cap = rc ? 0 : sip_build_size(ctx->edits);
	out = rc ? NULL : sy_arena_alloc(ctx->arena, cap);
	if (!out || sip_build_out(ctx->edits, out, cap, &outlen)) {
		LOG_ERR("dropped %u reply (Call-ID %.*s): cannot build it", m->status,
			SY_FMT(m->callid));
		return;
	}
	if (px_send(&d, out, outlen) == 0)
		sy_stat_inc(SY_ST_FWD_REPLIES);
}

void px_recv(const struct sy_rcvinfo *rcv, const char *buf, size_t len)
{
	struct sy_arena *a = sy_worker_arena();
	struct sip_msg m;
	struct sip_build b;
	struct sip_edit *e;
	struct scr_ctx ctx;
	int rc;

	if (!a) {
		LOG_ERR("no arena for this thread: message dropped");
		return;
	}
	if (!limits_set)
		px_init();
	sy_arena_reset(a);
	/* no memset of m: sip_msg_parse clears it first, keeping only hdr and hdr_cap */
	m.hdr = sy_arena_alloc(a, sizeof(*m.hdr) * px_limits.max_headers);
	e = sy_arena_alloc(a, sizeof(*e) * PX_MAX_EDITS);
	if (!m.hdr || !e) {
		LOG_ERR("arena too small for %u headers: message dropped", px_limits.max_headers);
		return;
	}
	m.hdr_cap = px_limits.max_headers;
	rc = sip_msg_parse(&m, buf, len, rcv->proto != SY_PROTO_UDP, &px_limits);
	if (rc) {
		sy_stat_inc(SY_ST_BAD_MSG);
		bad_message(&m, rcv, a);
		return;
	}
	sip_build_init(&b, &m, e, PX_MAX_EDITS);
	scr_ctx_init(&ctx, px_prog);	/* clears only the $var/$avp slots the script uses */
	ctx.msg = &m;
	ctx.rcv = rcv;
	ctx.edits = &b;
	ctx.arena = a;
	ctx.branch_idx = -1;
	ctx.trace = px_trace_out;	/* NULL except under switchyard --trace */
	sy_stat_inc(m.is_request ? SY_ST_RCV_REQUESTS : SY_ST_RCV_REPLIES);
	if (m.is_request) {
		ctx.route_type = SCR_ROUTE_REQUEST;
		request_in(&ctx);
	} else {
		ctx.route_type = SCR_ROUTE_ONREPLY;
		reply_in(&ctx);
	}
	sy_arena_reset(a);
}
