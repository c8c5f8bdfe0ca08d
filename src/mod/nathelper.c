/* nathelper.c: the "nathelper" unit: help UAs behind NAT (RFC 3581 reasoning, OpenSIPS
 * function names). fix_nated_contact() rewrites the Contact to the address the request really
 * came from; fix_nated_register() makes save() store that source as the binding's way in;
 * nat_uac_test() tells whether a request looks NATed. A UA's own view of its address (Contact,
 * Via sent-by, SDP c=) is what NAT breaks, so every test compares it with the packet source. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mod/nathelper.h"
#include "proxy/fmt.h"
#include "sip/build.h"
#include "sip/msg.h"

int nh_addr_str(const struct sy_addr *a, char *buf, size_t cap, unsigned *port)
{
	if (cap < INET6_ADDRSTRLEN + 2)
		return ENOSPC;
	if (a->u.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->u.in.sin_addr, buf, (socklen_t)cap);
		*port = ntohs(a->u.in.sin_port);
		return 0;
	}
	if (a->u.sa.sa_family == AF_INET6) {
		buf[0] = '[';
		inet_ntop(AF_INET6, &a->u.in6.sin6_addr, buf + 1, (socklen_t)cap - 2);
		strcat(buf, "]");
		*port = ntohs(a->u.in6.sin6_port);
		return 0;
	}
	return EAFNOSUPPORT;
}

int nh_is_private(sy_str host)
{
	char buf[64];
	struct in_addr a4;
	struct in6_addr a6;

	if (host.len == 0 || host.len >= sizeof(buf))
		return 0;
	if (host.s[0] == '[') {
		if (host.len < 3 || host.s[host.len - 1] != ']')
			return 0;
		memcpy(buf, host.s + 1, host.len - 2);
		buf[host.len - 2] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return 0;
		return (a6.s6_addr[0] & 0xfe) == 0xfc;	/* fc00::/7, RFC 4193 */
	}
	memcpy(buf, host.s, host.len);
	buf[host.len] = '\0';
	if (inet_pton(AF_INET, buf, &a4) != 1)
		return 0;
	{
		uint32_t ip = ntohl(a4.s_addr);

		return (ip >> 24) == 10 || (ip >> 20) == 0xac1 || (ip >> 16) == 0xc0a8 ||
		       (ip >> 22) == (100u << 2 | 1u);	/* 100.64/10, RFC 6598 */
	}
}

/* host of a Via or URI equals the source IP (IPv6 compared in binary: forms vary) */
static int host_is_src(sy_str host, const struct sy_addr *src)
{
	char buf[64];
	unsigned port;

	if (nh_addr_str(src, buf, sizeof(buf), &port) != 0)
		return 0;
	if (src->u.sa.sa_family == AF_INET6 && host.len > 2 && host.s[0] == '[' &&
	    host.len - 2 < sizeof(buf)) {
		char h[64];
		struct in6_addr a;

		memcpy(h, host.s + 1, host.len - 2);
		h[host.len - 2] = '\0';
		return inet_pton(AF_INET6, h, &a) == 1 &&
		       memcmp(&a, &src->u.in6.sin6_addr, sizeof(a)) == 0;
	}
	return sy_str_caseeq_c(host, buf);
}

static int first_contact(const struct sip_msg *m, struct sip_nameaddr *na)
{
	int idx = sip_hdr_next(m, SIP_H_CONTACT, 0);
	sy_str rest;

	if (idx < 0)
		return ENOENT;
	if (sip_nameaddr_parse(m->hdr[idx].body, na, &rest) != 0 || na->star)
		return EBADMSG;
	return 0;
}

/* RFC 4566 §5.7 "c=IN IP4 addr" lines of the body */
static int sdp_private(const struct sip_msg *m)
{
	const char *p = m->body.s, *end = m->body.s + m->body.len;

	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;

		if (le - p > 9 && (memcmp(p, "c=IN IP4 ", 9) == 0 || memcmp(p, "c=IN IP6 ", 9) == 0)) {
			const char *a = p + 9, *e = a;
			char v6[48];

			while (e < le && *e != '/' && *e != '\r' && *e != ' ')
				e++;
			if (p[7] == '6' && (size_t)(e - a) + 2 <= sizeof(v6)) {
				/* SDP writes IPv6 bare; nh_is_private() takes the URI form [addr] */
				v6[0] = '[';
				memcpy(v6 + 1, a, (size_t)(e - a));
				v6[e - a + 1] = ']';
				if (nh_is_private(sy_str_make(v6, (size_t)(e - a) + 2)))
					return 1;
			} else if (p[7] == '4' && nh_is_private(sy_str_make(a, (size_t)(e - a)))) {
				return 1;
			}
		}
		p = eol ? eol + 1 : NULL;
	}
	return 0;
}

int nh_uac_test(const struct scr_ctx *ctx, unsigned flags)
{
	const struct sip_msg *m = ctx->msg;
	const struct sy_addr *src = ctx->rcv ? &ctx->rcv->src : NULL;
	struct sip_nameaddr na;

	if (!m)
		return -1;
	if ((flags & NH_T_CONTACT_PRIVATE) && first_contact(m, &na) == 0 &&
	    nh_is_private(na.uri.host))
		return 1;
	if ((flags & NH_T_VIA_RECEIVED) && src && m->is_request && !host_is_src(m->via1.host, src))
		return 1;
	if ((flags & NH_T_VIA_PRIVATE) && m->is_request && nh_is_private(m->via1.host))
		return 1;
	if ((flags & NH_T_SDP_PRIVATE) && sdp_private(m))
		return 1;
	if ((flags & NH_T_VIA_PORT) && src && m->is_request) {
		char buf[64];
		unsigned sport, vport = m->via1.port ? m->via1.port : 5060;

		if (nh_addr_str(src, buf, sizeof(buf), &sport) == 0 && sport != vport)
			return 1;
	}
	return -1;
}

int nh_fix_contact(struct scr_ctx *ctx)
{
	const struct sip_msg *m = ctx->msg;
	struct sip_nameaddr na;
	char ip[64], *out;
	unsigned port;
	size_t off, end, n;
	int err;

	if (!m || !ctx->edits)
		return EINVAL;
	if ((err = first_contact(m, &na)) != 0)
		return err;
	if (!ctx->rcv || nh_addr_str(&ctx->rcv->src, ip, sizeof(ip), &port) != 0 ||
	    na.uri.host.len == 0)
		return EBADMSG;
	/* host[:port] of the Contact URI, in place */
	off = (size_t)(na.uri.host.s - m->buf);
	end = na.uri.port_s.len ? (size_t)(na.uri.port_s.s + na.uri.port_s.len - m->buf) :
				  off + na.uri.host.len;
	out = sy_arena_alloc(ctx->arena, sizeof(ip) + 8);
	if (!out)
		return ENOMEM;
	{
		/* by hand, not snprintf: NATed requests come through here one by one */
		struct px_buf b = { out, 0, sizeof(ip) + 8 };

		px_puts(&b, ip);
		px_puts(&b, ":");
		px_put_uint(&b, port);
		if (!px_buf_ok(&b))
			return ENOSPC;
		n = b.len;
	}
	return sip_build_replace(ctx->edits, off, end - off, sy_str_make(out, n));
}

/* the mark: one per worker thread, naming the message by its buffer, Call-ID and CSeq. A
 * mark left by a message that never reached save() can only match a later REGISTER that
 * reuses the same buffer with the same CSeq; storing its source then is still right, since
 * the source is where it really is. */
struct nat_mark {
	const struct sip_msg *m;
	const char *buf;
	const char *callid;
	uint32_t cseq;
};
static _Thread_local struct nat_mark mark;

void nh_mark_nat(const struct scr_ctx *ctx)
{
	mark.m = ctx->msg;
	mark.buf = ctx->msg ? ctx->msg->buf : NULL;
	mark.callid = ctx->msg ? ctx->msg->callid.s : NULL;
	mark.cseq = ctx->msg ? ctx->msg->cseq : 0;
}

int nh_take_nat_mark(const struct scr_ctx *ctx)
{
	int hit = ctx->msg && mark.m == ctx->msg && mark.buf == ctx->msg->buf &&
		  mark.callid == ctx->msg->callid.s && mark.cseq == ctx->msg->cseq;

	memset(&mark, 0, sizeof(mark));
	return hit;
}

/* ---- script functions */

static int fn_fix_nated_contact(struct scr_ctx *ctx, const struct scr_arg *args)
{
	(void)args;
	return nh_fix_contact(ctx) == 0 ? 1 : -1;
}

static int fn_fix_nated_register(struct scr_ctx *ctx, const struct scr_arg *args)
{
	(void)args;
	if (!ctx->msg || ctx->msg->mid != SIP_M_REGISTER)
		return -1;
	nh_mark_nat(ctx);
	return 1;
}

static int fn_nat_uac_test(struct scr_ctx *ctx, const struct scr_arg *args)
{
	return nh_uac_test(ctx, (unsigned)args[0].i);
}

static const struct scr_fn nh_fns[] = {
	{ "fix_nated_contact", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQ_LIKE | SCR_ROUTE_ONREPLY,
	  fn_fix_nated_contact },
	{ "fix_nated_register", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST, fn_fix_nated_register },
	{ "nat_uac_test", 1, 1, { SCR_ARG_INT }, SCR_ROUTE_REQ_LIKE | SCR_ROUTE_ONREPLY,
	  fn_nat_uac_test },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

static const struct scr_modparam nh_params[] = {
	{ NULL, SCR_PARAM_INT, NULL },
};

const struct scr_unit nh_unit = {
	.name = "nathelper",
	.fns = nh_fns,
	.params = nh_params,
	.init = NULL,
};
