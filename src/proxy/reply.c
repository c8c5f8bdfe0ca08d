/* reply.c: local stateless replies (RFC 3261 §8.2.6) and where replies go (§18.2.2, RFC 3581),
 * plus the received/rport edit of §18.2.1 that forwarded copies and replies share. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/stats.h"
#include "proxy/fmt.h"
#include "proxy/proxy.h"
#include "tp/tp.h"

uint64_t px_hash(const sy_str *parts, unsigned n)
{
	uint64_t h = 14695981039346656037ull;
	unsigned i;
	size_t j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < parts[i].len; j++)
			h = (h ^ (unsigned char)parts[i].s[j]) * 1099511628211ull;
		h = (h ^ 0xffu) * 1099511628211ull;	/* separator: ("ab","c") != ("a","bc") */
	}
	return h;
}

int px_send(const struct sy_dest *dst, const char *buf, size_t len)
{
	int rc = tp_send(dst, buf, len);

	if (rc) {
		char ip[64];

		tp_addr_ip(&dst->addr, ip, sizeof(ip));
		LOG_NOTICE("send to %s:%u failed: %s", ip, tp_addr_port(&dst->addr), strerror(rc));
	}
	return rc;
}

/* offset just after the name of a flag param `name` in the top Via's params, or 0 */
static size_t via_flag_end(const struct sip_msg *m, sy_str name)
{
	sy_str it = m->via1.params, pn, pv;

	while (sip_param_next(&it, &pn, &pv) == 0)
		if (sy_str_caseeq(pn, name) && pv.len == 0)
			return (size_t)(pn.s + pn.len - m->buf);
	return 0;
}

/* insert prefix + port (the "=5062" of a bare ";rport", or a whole ";rport=5062") at off */
static int put_rport(struct sip_build *b, struct sy_arena *a, size_t off, const char *prefix,
		     unsigned port)
{
	char *s = sy_arena_alloc(a, 16);
	struct px_buf pb = { s, 0, 16 };

	if (!s)
		return ENOMEM;
	px_puts(&pb, prefix);
	px_put_uint(&pb, port);
	return sip_build_replace(b, off, 0, sy_str_make(s, pb.len));
}

int px_via_received(const struct sip_msg *m, const struct sy_rcvinfo *rcv, int force_rport,
		    struct sip_build *b, struct sy_arena *a)
{
	const struct sip_via *v = &m->via1;
	struct sy_addr sent_by;
	char ip[64], *s;
	size_t iplen, end;
	int rc, need_received;

	if (!v->raw.len)
		return 0;
	end = (size_t)(v->raw.s + v->raw.len - m->buf);
	/* RFC 3581 §4: with rport the server MUST add received, even when it equals sent-by */
	need_received = v->rport == 0 || (v->rport < 0 && force_rport) ||
			tp_addr_parse(v->host, 0, &sent_by) || !tp_addr_same_ip(&sent_by, &rcv->src);
	if (v->rport == 0) {
		size_t off = via_flag_end(m, SY_STR("rport"));

		if (off && (rc = put_rport(b, a, off, "=", tp_addr_port(&rcv->src))) != 0)
			return rc;
	} else if (v->rport < 0 && force_rport) {
		/* force_rport(): behave as if the client had asked for rport */
		rc = put_rport(b, a, end, ";rport=", tp_addr_port(&rcv->src));
		if (rc)
			return rc;
	}
	if (!need_received)
		return 0;
	/* formatted only now: most requests come from their sent-by address and need nothing */
	iplen = tp_addr_ip(&rcv->src, ip, sizeof(ip));
	if (v->received.len) {
		/* a stale received= from an earlier hop: correct its value in place */
		if (sy_str_eq(v->received, sy_str_make(ip, iplen)))
			return 0;
		s = sy_arena_alloc(a, iplen);
		if (!s)
			return ENOMEM;
		memcpy(s, ip, iplen);
		return sip_build_replace(b, (size_t)(v->received.s - m->buf), v->received.len,
					 sy_str_make(s, iplen));
	}
	s = sy_arena_alloc(a, iplen + 10);
	if (!s)
		return ENOMEM;
	memcpy(s, ";received=", 10);
	memcpy(s + 10, ip, iplen);
	return sip_build_replace(b, end, 0, sy_str_make(s, iplen + 10));
}

/* §18.2.2 for a request received as ctx->rcv: the same connection for streams; over UDP the
 * maddr, else the source IP (received) and the rport/source port or sent-by port */
static void reply_dest(const struct scr_ctx *ctx, struct sy_dest *d)
{
	const struct sip_via *v = &ctx->msg->via1;
	unsigned port = v->port ? v->port : 5060;

	memset(d, 0, sizeof(*d));
	d->proto = ctx->rcv->proto;
	d->listen_idx = ctx->rcv->listen_idx;
	d->conn_id = ctx->rcv->conn_id;
	d->addr = ctx->rcv->src;
	if (d->proto != SY_PROTO_UDP)
		return;
	if (v->maddr.len && tp_addr_parse(v->maddr, port, &d->addr) == 0 &&
	    !tp_addr_is_bcast(&d->addr))
		return;
	d->addr = ctx->rcv->src;
	if (v->rport < 0 && !ctx->force_rport) {
		if (d->addr.u.sa.sa_family == AF_INET6)
			d->addr.u.in6.sin6_port = htons((uint16_t)port);
		else
			d->addr.u.in.sin_port = htons((uint16_t)port);
	}
}

void px_reply_tag(const struct sip_msg *req, char tag[PX_REPLY_TAG_LEN])
{
	/* Call-ID, From tag and top Via branch: a retransmission gets the same tag, and so does a
	 * CANCEL of the request (it copies all three, §9.1), as §9.2 asks of the 200 to a CANCEL
	 * and the 487 to its INVITE */
	sy_str parts[3] = { req->callid, req->from.tag, req->via1.branch };
	struct px_buf tb = { tag, 0, PX_REPLY_TAG_LEN };

	px_put_hex64(&tb, px_hash(parts, 3));
}

int px_reply(struct scr_ctx *ctx, unsigned code, sy_str reason, sy_str extra_hdrs)
{
	const struct sip_msg *req = ctx->msg;
	struct sip_msg *em = NULL;
	struct sy_dest d;
	char vp[96], totag[20], *out;
	size_t vplen = 0, outlen, cap;
	int rc;

	if (!req || !req->is_request || req->mid == SIP_M_ACK)
		return EINVAL;	/* §17.1.1.3: an ACK is never answered */
	if (!reason.len)
		reason = sy_cstr(sip_reason_phrase(code));
	px_reply_tag(req, totag);

	if (req->via1.rport == 0 || (req->via1.rport < 0 && ctx->force_rport)) {
		/* ";rport" needs a value spliced in place (RFC 3581 §4): apply the Via edit to a
		 * copy of the request and answer that copy */
		struct sip_edit e[2];
		struct sip_build b;
		struct sip_hdr *h;
		char *copy;
		size_t clen;

		sip_build_init(&b, req, e, 2);
		rc = px_via_received(req, ctx->rcv, ctx->force_rport, &b, ctx->arena);
		if (rc)
			goto out;
		clen = sip_build_size(&b);
		copy = sy_arena_alloc(ctx->arena, clen);
		em = sy_arena_alloc(ctx->arena, sizeof(*em));
		h = sy_arena_alloc(ctx->arena, sizeof(*h) * px_limits.max_headers);
		if (!copy || !em || !h) {
			rc = ENOMEM;
			goto out;
		}
		rc = sip_build_out(&b, copy, clen, &clen);
		if (rc)
			goto out;
		memset(em, 0, sizeof(*em));
		em->hdr = h;
		em->hdr_cap = px_limits.max_headers;
		rc = sip_msg_parse(em, copy, clen, ctx->rcv->proto != SY_PROTO_UDP, &px_limits);
		if (rc)
			goto out;
		req = em;
	} else {
		struct sy_addr sb;
		char ip[64];
		size_t iplen = tp_addr_ip(&ctx->rcv->src, ip, sizeof(ip));

		if (req->via1.raw.len && !req->via1.received.len &&
		    (tp_addr_parse(req->via1.host, 0, &sb) || !tp_addr_same_ip(&sb, &ctx->rcv->src)))
		{
			struct px_buf vb = { vp, 0, sizeof(vp) };

			px_puts(&vb, ";received=");
			px_put(&vb, sy_str_make(ip, iplen));
			vplen = px_buf_ok(&vb) ? vb.len : 0;
		}
	}
	cap = req->len + extra_hdrs.len + 512;
	out = sy_arena_alloc(ctx->arena, cap);
	if (!out) {
		rc = ENOMEM;
		goto out;
	}
	rc = sip_reply_build(req, code, reason, sy_str_make(totag, PX_REPLY_TAG_LEN), sy_str_make(vp, vplen),
			     extra_hdrs, SY_NULL_STR, out, cap, &outlen);
	if (rc)
		goto out;
	reply_dest(ctx, &d);
	rc = px_send(&d, out, outlen);
	if (!rc) {
		ctx->replied = 1;
		sy_stat_class(SY_ST_SL_1XX, code);
	}
out:
	if (rc && rc != EHOSTUNREACH)
		LOG_ERR("cannot send local reply %u to %.*s (Call-ID %.*s): %s", code,
			SY_FMT(ctx->msg->method), SY_FMT(ctx->msg->callid), strerror(rc));
	return rc;
}
