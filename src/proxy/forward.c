/* forward.c: stateless forwarding (RFC 3261 §16.6 steps 3, 8, 10, §16.11): Max-Forwards, our
 * Via with a branch derived from the request, and sending to $du / the given destination / the
 * Request-URI. Retransmissions of a request get the same branch, and so does a CANCEL of an
 * INVITE (same top Via branch), as §16.11 asks of a stateless proxy. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/stats.h"
#include "proxy/fmt.h"
#include "proxy/proxy.h"
#include "tp/tp.h"

static const char *proto_name(enum sy_proto p)
{
	switch (p) {
	case SY_PROTO_TCP: return "TCP";
	case SY_PROTO_TLS: return "TLS";
	case SY_PROTO_WS: return "WS";
	case SY_PROTO_WSS: return "WSS";
	default: return "UDP";
	}
}

int px_via_line(const struct sy_dest *dst, sy_str branch, char *buf, size_t cap, size_t *len)
{
	const struct tp_listen *ls = tp_listen_pick(dst);
	struct px_buf b = { buf, 0, cap };

	if (!ls)
		return EPROTONOSUPPORT;
	px_puts(&b, "Via: SIP/2.0/");
	px_puts(&b, proto_name(ls->proto));
	px_puts(&b, " ");
	px_puts(&b, ls->host);
	px_puts(&b, ":");
	px_put_uint(&b, ls->port);
	px_puts(&b, ";branch=");
	px_put(&b, branch);
	px_puts(&b, "\r\n");
	if (!px_buf_ok(&b))
		return ENOSPC;
	*len = b.len;
	return 0;
}

/* §16.11: z9hG4bK + hash of the incoming branch when it has the magic cookie, else of the
 * RFC 2543 transaction fields (To tag, From tag, Call-ID, Request-URI, top Via, CSeq number) */
static sy_str stateless_branch(const struct sip_msg *m, const struct sy_rcvinfo *rcv,
			       char out[64])
{
	struct px_buf b = { out, 0, 64 };
	sy_str p[6];
	unsigned n;
	char cseq[12];
	struct px_buf cb = { cseq, 0, sizeof(cseq) };

	if (m->via1.branch.len > 7 && memcmp(m->via1.branch.s, "z9hG4bK", 7) == 0) {
		p[0] = m->via1.branch;
		p[1] = m->via1.host;	/* branches are unique per sent-by only */
		n = 2;
	} else {
		px_put_uint(&cb, m->cseq);
		p[0] = m->to.tag;
		p[1] = m->from.tag;
		p[2] = m->callid;
		p[3] = m->ruri;
		p[4] = m->via1.raw;
		p[5] = sy_str_make(cseq, cb.len);
		n = 6;
	}
	px_puts(&b, "z9hG4bKsl");
	px_put_hex64(&b, px_hash(p, n));
	/* a request that came on a connection: name it in our Via, so the stateless reply can go
	 * back on that same connection (§18.2.2) and not to the sent-by port, where a client
	 * behind NAT or with an ephemeral port does not listen */
	if (rcv && rcv->conn_id) {
		px_puts(&b, ";" PX_VIA_CONN_PARAM "=");
		px_put_hex64(&b, rcv->conn_id);
	}
	return sy_str_make(out, b.len);
}

/* force_rport() ran after the receive path marked the Via: add what RFC 3581 §4 adds for a
 * client that asked for rport (rport=, and received= if it was not added already) */
static int forced_rport(struct scr_ctx *ctx, struct sip_build *b)
{
	const struct sip_msg *m = ctx->msg;
	struct sy_addr sb;
	struct px_buf pb;
	char ip[64], *s;
	size_t end = (size_t)(m->via1.raw.s + m->via1.raw.len - m->buf);
	size_t iplen;

	if (!ctx->force_rport || m->via1.rport >= 0 || !m->via1.raw.len || !ctx->rcv)
		return 0;
	s = sy_arena_alloc(ctx->arena, 96);
	if (!s)
		return ENOMEM;
	iplen = tp_addr_ip(&ctx->rcv->src, ip, sizeof(ip));
	pb.s = s;
	pb.len = 0;
	pb.cap = 96;
	px_puts(&pb, ";rport=");
	px_put_uint(&pb, tp_addr_port(&ctx->rcv->src));
	/* the receive path added received= unless sent-by already was the source IP */
	if (!m->via1.received.len && tp_addr_parse(m->via1.host, 0, &sb) == 0 &&
	    tp_addr_same_ip(&sb, &ctx->rcv->src)) {
		px_puts(&pb, ";received=");
		px_put(&pb, sy_str_make(ip, iplen));
	}
	if (!px_buf_ok(&pb))
		return ENOSPC;
	return sip_build_replace(b, end, 0, sy_str_make(s, pb.len));
}

int px_out_of_hops(const struct scr_ctx *ctx)
{
	return ctx->msg && ctx->msg->is_request && !ctx->maxfwd_done && ctx->msg->maxfwd == 0;
}

int px_forward_to(struct scr_ctx *ctx, sy_str dest)
{
	struct sy_dest d;
	int rc;

	if (!ctx->msg || !ctx->msg->is_request)
		return EINVAL;
	if (px_out_of_hops(ctx))
		return px_reply(ctx, 483, SY_STR("Too Many Hops"), SY_NULL_STR);
	rc = px_dest_parse(ctx->arena, dest, &d);
	if (rc) {
		LOG_NOTICE("cannot forward %.*s to %.*s: %s", SY_FMT(ctx->msg->method),
			   SY_FMT(dest), strerror(rc));
		return rc;
	}
	return px_forward(ctx, &d);
}

int px_forward(struct scr_ctx *ctx, const struct sy_dest *dst)
{
	struct sip_msg *m = ctx->msg;
	struct sip_build b;
	struct sip_edit *e;
	struct sy_dest d;
	char branch[64], *via, *mf = NULL, *out;
	size_t vialen, cap, outlen;
	unsigned ecap;
	int rc;

	if (!m || !m->is_request)
		return EINVAL;
	/* §16.3 step 3 / §16.6 step 3: a request that has run out of hops is answered 483, before
	 * any routing (an unresolvable $du must not turn it into silence) */
	if (px_out_of_hops(ctx))
		return px_reply(ctx, 483, SY_STR("Too Many Hops"), SY_NULL_STR);
	if (dst) {
		d = *dst;
	} else {
		sy_str uri = ctx->dst_uri.len ? ctx->dst_uri : scr_ctx_ruri(ctx);

		rc = px_resolve(uri, &d);
		if (rc) {
			LOG_NOTICE("cannot forward %.*s to %.*s: %s", SY_FMT(m->method), SY_FMT(uri),
				   strerror(rc));
			return rc;
		}
	}
	if (tp_addr_is_bcast(&d.addr)) {
		LOG_NOTICE("not forwarding %.*s to a broadcast/multicast address", SY_FMT(m->method));
		return EHOSTUNREACH;
	}
	ecap = (ctx->edits ? ctx->edits->n : 0) + 5;
	e = sy_arena_alloc(ctx->arena, sizeof(*e) * ecap);
	via = sy_arena_alloc(ctx->arena, 256);
	if (!e || !via)
		return ENOMEM;
	sip_build_init(&b, m, e, ecap);
	if (ctx->edits && (rc = sip_build_copy(&b, ctx->edits)))
		goto out;
	if (ctx->new_ruri.len && !sip_build_ruri_edited(&b) && (rc = sip_build_set_ruri(&b, ctx->new_ruri)))
		goto out;
	if ((rc = forced_rport(ctx, &b)))
		goto out;
	if (!ctx->maxfwd_done) {
		if (m->maxfwd < 0) {
			rc = sip_build_append_hdr(&b, SY_STR("Max-Forwards: 70\r\n"));
		} else {
			const struct sip_hdr *h = &m->hdr[m->first[SIP_H_MAX_FORWARDS]];
			struct px_buf mb;

			mf = sy_arena_alloc(ctx->arena, 12);
			if (!mf) {
				rc = ENOMEM;
				goto out;
			}
			mb.s = mf;
			mb.len = 0;
			mb.cap = 12;
			px_put_uint(&mb, (uint64_t)(m->maxfwd - 1));
			rc = sip_build_replace(&b, (size_t)(h->body.s - m->buf), h->body.len,
					       sy_str_make(mf, mb.len));
		}
		if (rc)
			goto out;
	}
	rc = px_via_line(&d, stateless_branch(m, ctx->rcv, branch), via, 256, &vialen);
	if (rc)
		goto out;
	rc = sip_build_prepend_hdr(&b, sy_str_make(via, vialen));
	if (rc)
		goto out;
	cap = sip_build_size(&b);
	out = sy_arena_alloc(ctx->arena, cap);
	if (!out) {
		rc = ENOMEM;
		goto out;
	}
	rc = sip_build_out(&b, out, cap, &outlen);
	if (rc)
		goto out;
	rc = px_send(&d, out, outlen);	/* logs its own failure */
	if (!rc)
		sy_stat_inc(SY_ST_FWD_REQUESTS);
	return rc;
out:
	if (rc && rc != EHOSTUNREACH)
		LOG_ERR("cannot forward %.*s (Call-ID %.*s): %s", SY_FMT(m->method),
			SY_FMT(m->callid), strerror(rc));
	return rc;
}
