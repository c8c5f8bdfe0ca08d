/* pvar.c: pseudo-variables ($ru, $fU, $hdr(Name), $var(x) ...): name resolution at load and
 * reads/writes at run time. Reads slice the parsed message (struct sip_msg) or the context;
 * anything built (numbers, addresses, rewritten URIs) goes to ctx->arena, never malloc.
 * Writing $rU/$rd/$rp splices the effective Request-URI (RFC 3261 §19.1.1 layout
 * sip:user:password@host:port;params?headers) into a new string held in ctx->new_ruri; the
 * sender applies it to the request line. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "script/internal.h"
#include "sip/auth.h"

static const struct {
	const char *name;
	enum scr_pv_kind kind;
	int arg;	/* 1: takes (arg) */
	int writable;
} pv_table[] = {
	{ "ru", PV_RU, 0, 1 }, { "rU", PV_RUSER, 0, 1 }, { "rd", PV_RD, 0, 1 },
	{ "rp", PV_RP, 0, 1 }, { "du", PV_DU, 0, 1 }, { "rm", PV_RM, 0, 0 },
	{ "rs", PV_RS, 0, 0 }, { "rr", PV_RR, 0, 0 }, { "si", PV_SI, 0, 0 },
	{ "src_ip", PV_SI, 0, 0 }, { "sp", PV_SP, 0, 0 }, { "fu", PV_FU, 0, 0 },
	{ "fU", PV_FUSER, 0, 0 }, { "fd", PV_FD, 0, 0 }, { "ft", PV_FT, 0, 0 },
	{ "tu", PV_TU, 0, 0 }, { "tU", PV_TUSER, 0, 0 }, { "td", PV_TD, 0, 0 },
	{ "tt", PV_TT, 0, 0 }, { "ci", PV_CI, 0, 0 }, { "cs", PV_CS, 0, 0 },
	{ "ua", PV_UA, 0, 0 }, { "hdr", PV_HDR, 1, 0 }, { "var", PV_VAR, 1, 1 },
	{ "avp", PV_AVP, 1, 1 }, { "proto", PV_PROTO, 0, 0 }, { "pr", PV_PROTO, 0, 0 },
	{ "time", PV_TIME, 0, 0 }, { "Ts", PV_TIME, 0, 0 },
	{ "T_reply_code", PV_T_REPLY_CODE, 0, 0 }, { "T_branch_idx", PV_T_BRANCH_IDX, 0, 0 },
	{ "mb", PV_MB, 0, 0 }, { "ml", PV_ML, 0, 0 }, { "branch", PV_BRANCH_URI, 1, 0 },
	{ "rc", PV_RETCODE, 0, 0 }, { "retcode", PV_RETCODE, 0, 0 },
	{ "ou", PV_OU, 0, 0 }, { "oU", PV_OUSER, 0, 0 }, { "od", PV_OD, 0, 0 },
	{ "op", PV_OP, 0, 0 }, { "rb", PV_RB, 0, 0 }, { "cl", PV_CL, 0, 0 },
	{ "ct", PV_CT, 0, 0 }, { "cT", PV_CTYPE, 0, 0 }, { "fn", PV_FN, 0, 0 },
	{ "tn", PV_TN, 0, 0 }, { "Ri", PV_RI, 0, 0 }, { "Rp", PV_RP_LOCAL, 0, 0 },
	{ "rv", PV_RV, 0, 0 }, { "au", PV_AU, 0, 0 }, { "ad", PV_AD, 0, 0 },
	{ "ar", PV_AR, 0, 0 }, { "adu", PV_ADU, 0, 0 },
};

static int slot(sy_str *names, unsigned *n, sy_str name)
{
	for (unsigned i = 0; i < *n; i++)
		if (sy_str_eq(names[i], name))
			return (int)i;
	if (*n >= SCR_MAX_VARS)
		return -1;
	names[*n] = name;
	return (int)(*n)++;
}

int scr_pvar_resolve(struct scr_prog *p, sy_str name, sy_str arg, struct scr_pvar *pv)
{
	size_t i;

	for (i = 0; i < sizeof(pv_table) / sizeof(pv_table[0]); i++)
		if (sy_str_eq(name, sy_cstr(pv_table[i].name)))
			break;
	if (i == sizeof(pv_table) / sizeof(pv_table[0]))
		return ENOENT;
	if (pv_table[i].arg != (arg.s != NULL))
		return EINVAL;
	if (arg.s && arg.len == 0)
		return EINVAL;
	pv->kind = pv_table[i].kind;
	pv->arg = arg;
	pv->idx = -1;
	switch (pv->kind) {
	case PV_VAR:
		pv->idx = slot(p->var_names, &p->nvars, arg);
		return pv->idx < 0 ? ENOSPC : 0;
	case PV_AVP:
		pv->idx = slot(p->avp_names, &p->navps, arg);
		return pv->idx < 0 ? ENOSPC : 0;
	case PV_BRANCH_URI:
		if (sy_str_eq(arg, SY_STR("count")))
			pv->kind = PV_BRANCH_COUNT;
		else if (!sy_str_eq(arg, SY_STR("uri")))
			return EINVAL;
		return 0;
	default:
		return 0;
	}
}

int scr_avp_slot(struct scr_prog *p, sy_str name)
{
	return p && name.len ? slot(p->avp_names, &p->navps, name) : -1;
}

int scr_pvar_writable(const struct scr_pvar *pv)
{
	switch (pv->kind) {
	case PV_RU: case PV_RUSER: case PV_RD: case PV_RP: case PV_DU: case PV_VAR: case PV_AVP:
		return 1;
	default:
		return 0;
	}
}

sy_str scr_ctx_ruri(const struct scr_ctx *ctx)
{
	if (ctx->new_ruri.len)
		return ctx->new_ruri;
	if (ctx->msg && ctx->msg->is_request)
		return ctx->msg->ruri;
	return SY_NULL_STR;
}

/* the effective R-URI parsed: the message's own parse, or a parse of the rewritten one */
static int ruri_parsed(const struct scr_ctx *ctx, struct sip_uri *u)
{
	if (ctx->new_ruri.len)
		return sip_uri_parse(ctx->new_ruri, u);
	if (!ctx->msg || !ctx->msg->is_request)
		return ENOENT;
	*u = ctx->msg->ruri_p;
	return 0;
}

/* a reply's From/To URI is parsed only when the script asks for it (sip_nameaddr_uri); the
 * parts point into the message, so the stack copy may go */
static sy_str na_uri_user(const struct sip_nameaddr *na)
{
	struct sip_uri tmp;
	const struct sip_uri *u = sip_nameaddr_uri(na, &tmp);

	return u && u->user.len ? u->user : SY_NULL_STR;
}

static sy_str na_uri_host(const struct sip_nameaddr *na)
{
	struct sip_uri tmp;
	const struct sip_uri *u = sip_nameaddr_uri(na, &tmp);

	return u ? u->host : SY_NULL_STR;
}

static int set_str(struct scr_value *out, sy_str s)
{
	out->is_int = 0;
	out->i = 0;
	out->s = s;
	return s.s ? 0 : ENOENT;
}

static int set_int(struct scr_value *out, long i)
{
	out->is_int = 1;
	out->i = i;
	out->s = SY_NULL_STR;
	return 0;
}

static const char *proto_name(enum sy_proto p)
{
	switch (p) {
	case SY_PROTO_UDP: return "udp";
	case SY_PROTO_TCP: return "tcp";
	case SY_PROTO_TLS: return "tls";
	case SY_PROTO_WS: return "ws";
	case SY_PROTO_WSS: return "wss";
	default: return "";
	}
}

/* $au $ad $ar $adu: user part, domain part (after '@') of the digest username, realm and
 * uri of the request's credentials: those www_authorize/proxy_authorize checked when one ran
 * (ctx->auth_hdr; a check like $au == $tU must be about the credentials that passed, not
 * about a header of another realm put before them), else as OpenSIPS reads them:
 * Authorization for REGISTER and PUBLISH, Proxy-Authorization otherwise (RFC 3261 §22.2,
 * §22.3), the first Digest one that parses. Quoted-pairs are resolved into the arena. */
static int auth_attr(struct scr_ctx *ctx, const struct sip_msg *m, enum scr_pv_kind k,
		     struct scr_value *out)
{
	enum sip_hdr_id id = m->mid == SIP_M_REGISTER || m->mid == SIP_M_PUBLISH ?
				     SIP_H_AUTHORIZATION : SIP_H_PROXY_AUTHORIZATION;
	struct sip_auth_cred c;
	sy_str v;
	char *buf, *at;
	size_t n;
	int h;

	if (!m->is_request)
		return ENOENT;
	if (ctx->auth_hdr && ctx->auth_hdr <= m->nhdr &&
	    sip_auth_parse(m->hdr[ctx->auth_hdr - 1].body, &c) == 0 && c.digest) {
		h = (int)ctx->auth_hdr - 1;
	} else {
		for (h = sip_hdr_next(m, id, 0); h >= 0; h = sip_hdr_next(m, id, h + 1))
			if (sip_auth_parse(m->hdr[h].body, &c) == 0 && c.digest)
				break;
		if (h < 0)
			return ENOENT;
	}
	v = k == PV_AR ? c.realm : k == PV_ADU ? c.uri : c.username;
	buf = sy_arena_alloc(ctx->arena, v.len + 1);
	if (!buf || sip_auth_unquote(v, buf, v.len + 1, &n) != 0)
		return ENOMEM;
	at = k == PV_AU || k == PV_AD ? memchr(buf, '@', n) : NULL;
	if (k == PV_AD)
		return at ? set_str(out, sy_str_make(at + 1, n - (size_t)(at + 1 - buf))) : ENOENT;
	if (at)
		n = (size_t)(at - buf);
	return set_str(out, sy_str_make(buf, n));
}

int scr_pvar_get(struct scr_ctx *ctx, const struct scr_pvar *pv, struct scr_value *out)
{
	const struct sip_msg *m = ctx->msg;
	struct sip_uri u;
	int h;

	set_str(out, SY_NULL_STR);
	switch (pv->kind) {
	case PV_RU:
		return set_str(out, scr_ctx_ruri(ctx));
	case PV_RUSER:
	case PV_RD:
	case PV_RP:
		if (ruri_parsed(ctx, &u))
			return ENOENT;
		if (pv->kind == PV_RUSER)
			return set_str(out, u.user.len ? u.user : SY_NULL_STR);
		if (pv->kind == PV_RD)
			return set_str(out, u.host);
		return u.port ? set_int(out, (long)u.port) : ENOENT;
	case PV_DU:
		return set_str(out, ctx->dst_uri.len ? ctx->dst_uri : SY_NULL_STR);
	case PV_VAR:
	case PV_AVP: {
		const struct scr_value *v =
			pv->kind == PV_VAR ? &ctx->vars[pv->idx] : &ctx->avps[pv->idx];

		*out = *v;
		return (v->is_int || v->s.s) ? 0 : ENOENT;
	}
	case PV_SI:
	case PV_SP:
	case PV_RI:
	case PV_RP_LOCAL: {
		char buf[INET6_ADDRSTRLEN];
		const struct sy_addr *a;
		int port = pv->kind == PV_SP || pv->kind == PV_RP_LOCAL;

		if (!ctx->rcv)
			return ENOENT;
		/* $si/$sp: the peer; $Ri/$Rp: our address it arrived on */
		a = pv->kind == PV_SI || pv->kind == PV_SP ? &ctx->rcv->src : &ctx->rcv->dst;
		if (a->u.sa.sa_family == AF_INET) {
			if (port)
				return set_int(out, ntohs(a->u.in.sin_port));
			inet_ntop(AF_INET, &a->u.in.sin_addr, buf, sizeof(buf));
		} else if (a->u.sa.sa_family == AF_INET6) {
			if (port)
				return set_int(out, ntohs(a->u.in6.sin6_port));
			inet_ntop(AF_INET6, &a->u.in6.sin6_addr, buf, sizeof(buf));
		} else {
			return ENOENT;
		}
		out->s = scr_arena_dup(ctx, buf, strlen(buf));
		return out->s.s ? 0 : ENOMEM;
	}
	case PV_PROTO:
		if (!ctx->rcv)
			return ENOENT;
		return set_str(out, sy_cstr(proto_name(ctx->rcv->proto)));
	case PV_TIME:
		return set_int(out, (long)time(NULL));
	case PV_T_REPLY_CODE:
		return set_int(out, (long)ctx->reply_code);
	case PV_T_BRANCH_IDX:
		return set_int(out, ctx->branch_idx);
	case PV_BRANCH_URI:
		return ctx->nbranches ? set_str(out, ctx->branches[0]) : ENOENT;
	case PV_BRANCH_COUNT:
		return set_int(out, (long)ctx->nbranches);
	case PV_RETCODE:
		return set_int(out, ctx->retcode);
	default:
		break;
	}
	/* the rest read the message */
	if (!m)
		return ENOENT;
	switch (pv->kind) {
	case PV_RM:
		return set_str(out, m->is_request ? m->method : m->cseq_method);
	case PV_RS:
		return m->is_request ? ENOENT : set_int(out, (long)m->status);
	case PV_RR:
		return m->is_request ? ENOENT : set_str(out, m->reason);
	case PV_FU: return set_str(out, m->from.uri_s);
	case PV_FUSER: return set_str(out, na_uri_user(&m->from));
	case PV_FD: return set_str(out, na_uri_host(&m->from));
	case PV_FT: return set_str(out, m->from.tag.len ? m->from.tag : SY_NULL_STR);
	case PV_TU: return set_str(out, m->to.uri_s);
	case PV_TUSER: return set_str(out, na_uri_user(&m->to));
	case PV_TD: return set_str(out, na_uri_host(&m->to));
	case PV_TT: return set_str(out, m->to.tag.len ? m->to.tag : SY_NULL_STR);
	case PV_CI: return set_str(out, m->callid);
	case PV_CS: return set_int(out, (long)m->cseq);
	case PV_MB: return set_str(out, sy_str_make(m->buf, m->len));
	case PV_ML: return set_int(out, (long)m->len);
	case PV_OU: return m->is_request ? set_str(out, m->ruri) : ENOENT;
	case PV_OUSER:
		return m->is_request && m->ruri_p.user.len ? set_str(out, m->ruri_p.user) : ENOENT;
	case PV_OD: return m->is_request ? set_str(out, m->ruri_p.host) : ENOENT;
	case PV_OP: return m->is_request && m->ruri_p.port ? set_int(out, m->ruri_p.port) : ENOENT;
	case PV_RB: return set_str(out, m->body.s ? m->body : SY_STR(""));
	case PV_CL: return set_int(out, (long)m->body.len);
	case PV_FN: return m->from.display.len ? set_str(out, m->from.display) : ENOENT;
	case PV_TN: return m->to.display.len ? set_str(out, m->to.display) : ENOENT;
	case PV_RV: return m->is_request ? set_str(out, m->version) : ENOENT;
	case PV_CT:
		h = sip_hdr_next(m, SIP_H_CONTACT, 0);
		return h < 0 ? ENOENT : set_str(out, m->hdr[h].body);
	case PV_CTYPE:
		h = sip_hdr_next(m, SIP_H_CONTENT_TYPE, 0);
		return h < 0 ? ENOENT : set_str(out, m->hdr[h].body);
	case PV_UA:
		h = sip_hdr_next(m, SIP_H_USER_AGENT, 0);
		return h < 0 ? ENOENT : set_str(out, m->hdr[h].body);
	case PV_HDR:
		h = sip_hdr_next_name(m, pv->arg, 0);
		return h < 0 ? ENOENT : set_str(out, m->hdr[h].body);
	case PV_AU: case PV_AD: case PV_AR: case PV_ADU:
		return auth_attr(ctx, m, pv->kind, out);
	default:
		return ENOENT;
	}
}

/* the value as a string; numbers formatted into the arena */
static sy_str value_str(struct scr_ctx *ctx, const struct scr_value *v)
{
	if (v->is_int)
		return scr_int_str(ctx, v->i);
	return v->s;
}

/* new = raw[0..a) + mid + raw[b..) */
static int splice(struct scr_ctx *ctx, sy_str raw, size_t a, size_t b, sy_str pre, sy_str mid,
		  sy_str post)
{
	size_t n = a + pre.len + mid.len + post.len + (raw.len - b);
	char *d = sy_arena_alloc(ctx->arena, n ? n : 1);
	size_t o = 0;

	if (!d)
		return ENOMEM;
	memcpy(d + o, raw.s, a);
	o += a;
	if (pre.len)
		memcpy(d + o, pre.s, pre.len);
	o += pre.len;
	if (mid.len)
		memcpy(d + o, mid.s, mid.len);
	o += mid.len;
	if (post.len)
		memcpy(d + o, post.s, post.len);
	o += post.len;
	memcpy(d + o, raw.s + b, raw.len - b);
	ctx->new_ruri = sy_str_make(d, n);
	return 0;
}

static size_t off_in(sy_str raw, sy_str part)
{
	return (size_t)(part.s - raw.s);
}

static int set_ruri_part(struct scr_ctx *ctx, enum scr_pv_kind kind, sy_str v)
{
	struct sip_uri u;
	sy_str raw;
	size_t hs;

	if (ruri_parsed(ctx, &u) || !u.host.len || !u.raw.s)
		return EINVAL;
	raw = u.raw;
	hs = off_in(raw, u.host);
	switch (kind) {
	case PV_RUSER:
		if (u.user.len) {
			size_t us = off_in(raw, u.user);

			if (v.len == 0)	/* drop the whole userinfo with its '@' */
				return splice(ctx, raw, us, hs, SY_NULL_STR, SY_NULL_STR,
					      SY_NULL_STR);
			return splice(ctx, raw, us, us + u.user.len, SY_NULL_STR, v, SY_NULL_STR);
		}
		if (v.len == 0)
			return 0;
		return splice(ctx, raw, hs, hs, SY_NULL_STR, v, SY_STR("@"));
	case PV_RD:
		if (v.len == 0)
			return EINVAL;
		return splice(ctx, raw, hs, hs + u.host.len, SY_NULL_STR, v, SY_NULL_STR);
	default: /* PV_RP */
		if (u.port_s.len) {
			size_t ps = off_in(raw, u.port_s);

			if (v.len == 0)
				return splice(ctx, raw, ps - 1, ps + u.port_s.len, SY_NULL_STR,
					      SY_NULL_STR, SY_NULL_STR);
			return splice(ctx, raw, ps, ps + u.port_s.len, SY_NULL_STR, v,
				      SY_NULL_STR);
		}
		if (v.len == 0)
			return 0;
		return splice(ctx, raw, hs + u.host.len, hs + u.host.len, SY_STR(":"), v,
			      SY_NULL_STR);
	}
}

int scr_pvar_set(struct scr_ctx *ctx, const struct scr_pvar *pv, const struct scr_value *v)
{
	sy_str s;

	switch (pv->kind) {
	case PV_VAR:
	case PV_AVP: {
		struct scr_value *dst =
			pv->kind == PV_VAR ? &ctx->vars[pv->idx] : &ctx->avps[pv->idx];

		if (v->is_int) {
			set_int(dst, v->i);
			return 0;
		}
		dst->is_int = 0;
		dst->i = 0;
		if (!v->s.s) {	/* NULL: unset */
			dst->s = SY_NULL_STR;
			return 0;
		}
		dst->s = scr_arena_dup(ctx, v->s.s, v->s.len);
		return dst->s.s ? 0 : ENOMEM;
	}
	case PV_RU:
	case PV_DU:
		s = value_str(ctx, v);
		if (v->is_int && !s.s)
			return ENOMEM;
		if (s.len) {
			s = scr_arena_dup(ctx, s.s, s.len);
			if (!s.s)
				return ENOMEM;
		}
		if (pv->kind == PV_DU) {
			ctx->dst_uri = s.len ? s : SY_NULL_STR;
			return 0;
		}
		if (!s.len)
			return EINVAL;	/* a request always has a Request-URI */
		ctx->new_ruri = s;
		return 0;
	case PV_RUSER:
	case PV_RD:
	case PV_RP:
		s = value_str(ctx, v);
		if (v->is_int && !s.s)
			return ENOMEM;
		return set_ruri_part(ctx, pv->kind, s);
	default:
		return EROFS;
	}
}
