/* registrar.c: the "registrar" unit: save() (RFC 3261 §10.3), lookup(), registered() and
 * serial forking by q (t_load_contacts/t_next_contacts, §16.6). REGISTER validation happens
 * completely before the location table is touched, and ul_update() applies all of a request's
 * changes or none, so a bad Contact in the middle of a list stores nothing. Path (RFC 3327) is
 * stored and turned back into Route headers at lookup; RFC 5626 instance/reg-id are kept and
 * used to match bindings. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/stats.h"
#include "mod/nathelper.h"
#include "mod/registrar.h"
#include "mod/usrloc.h"
#include "proxy/proxy.h"
#include "sip/build.h"

struct reg_config reg_cfg = {
	.default_expires = 3600,
	.min_expires = 60,
	.max_expires = 0,
	.max_contacts = 0,
	.default_q = 0,
};

/* longest AOR / Contact URI / Path we store: beyond is abuse, answered 400 */
#define REG_MAX_URI 1024u
#define REG_MAX_PATH 2048u

/* ---- small arena string builder */
struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_init(struct sbuf *b, struct sy_arena *a, size_t cap)
{
	b->p = sy_arena_alloc(a, cap);
	b->len = 0;
	b->cap = b->p ? cap : 0;
	b->err = b->p ? 0 : ENOMEM;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (n > b->cap - b->len) {
		b->err = ENOSPC;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_str(struct sbuf *b, sy_str s)
{
	sb_put(b, s.s, s.len);
}

static void sb_cstr(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_fmt(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->err = ENOSPC;
		return;
	}
	b->len += (size_t)n;
}

static sy_str sb_done(const struct sbuf *b)
{
	return sy_str_make(b->p, b->len);
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int reg_aor_canon(const struct sip_uri *u, struct sy_arena *a, sy_str *aor)
{
	struct sbuf b;
	size_t i;

	if ((u->scheme != SIP_URI_SIP && u->scheme != SIP_URI_SIPS) || u->host.len == 0)
		return EINVAL;
	sb_init(&b, a, 4 + u->user.len + 1 + u->host.len);
	sb_cstr(&b, "sip:");
	/* §10.3 step 5: escaped characters converted to their unescaped form; the user part
	 * stays case-sensitive */
	for (i = 0; i < u->user.len; i++) {
		char c = u->user.s[i];

		if (c == '%' && i + 2 < u->user.len && hexv(u->user.s[i + 1]) >= 0 &&
		    hexv(u->user.s[i + 2]) >= 0) {
			c = (char)(hexv(u->user.s[i + 1]) * 16 + hexv(u->user.s[i + 2]));
			i += 2;
		}
		sb_put(&b, &c, 1);
	}
	if (u->user.len)
		sb_cstr(&b, "@");
	/* hosts compare case-insensitively (§19.1.4): store them in one case */
	for (i = 0; i < u->host.len; i++) {
		char c = u->host.s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		sb_put(&b, &c, 1);
	}
	if (b.err)
		return ENOMEM;
	*aor = sb_done(&b);
	return 0;
}

static void set_reply(struct reg_reply *rep, unsigned code, const char *reason)
{
	rep->code = code;
	rep->reason = reason;
	rep->hdrs = SY_NULL_STR;
}

/* RFC 3261 §20.10 qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ] -> 0..1000 */
static int parse_q(sy_str s, int *q)
{
	int v, scale = 100;
	size_t i;

	if (s.len == 0 || (s.s[0] != '0' && s.s[0] != '1'))
		return EINVAL;
	v = (s.s[0] - '0') * 1000;
	if (s.len == 1)
		goto out;
	if (s.s[1] != '.' || s.len > 5)
		return EINVAL;
	for (i = 2; i < s.len; i++, scale /= 10) {
		if (s.s[i] < '0' || s.s[i] > '9')
			return EINVAL;
		v += (s.s[i] - '0') * scale;
	}
	if (v > 1000)
		return EINVAL;
out:
	*q = v;
	return 0;
}

/* methods from an Allow value or a ;methods="A,B" Contact param (RFC 3840 §9) */
static uint32_t methods_mask(sy_str list)
{
	uint32_t mask = 0;
	sy_str item, rest;

	if (list.len >= 2 && list.s[0] == '"' && list.s[list.len - 1] == '"')
		list = sy_str_make(list.s + 1, list.len - 2);
	while (list.len && sip_list_next(list, &item, &rest) == 0) {
		enum sip_method mid = sip_method_id(item);

		if (mid != SIP_M_OTHER)
			mask |= 1u << mid;
		list = rest;
	}
	return mask;
}

/* "sip:IP:PORT[;transport=x]": where the REGISTER came from (§18.2.1 received/rport) */
static int source_uri(const struct sy_rcvinfo *rcv, struct sy_arena *a, sy_str *out)
{
	char ip[64];
	unsigned port = 0;
	struct sbuf b;
	const char *tr = NULL;

	*out = SY_NULL_STR;
	if (!rcv || nh_addr_str(&rcv->src, ip, sizeof(ip), &port) != 0)
		return 0;
	switch (rcv->proto) {
	case SY_PROTO_TCP: tr = "tcp"; break;
	case SY_PROTO_TLS: tr = "tls"; break;
	case SY_PROTO_WS: tr = "ws"; break;
	case SY_PROTO_WSS: tr = "wss"; break;
	default: break;
	}
	sb_init(&b, a, 96);
	sb_fmt(&b, "sip:%s:%u", ip, port);
	if (tr)
		sb_fmt(&b, ";transport=%s", tr);
	if (b.err)
		return ENOMEM;
	*out = sb_done(&b);
	return 0;
}

/* every value of every header with id, joined by ", " into the arena */
static int join_hdrs(const struct sip_msg *m, enum sip_hdr_id id, size_t max,
		     struct sy_arena *a, sy_str *out)
{
	size_t total = 0;
	struct sbuf b;
	int i;

	*out = SY_NULL_STR;
	for (i = sip_hdr_next(m, id, 0); i >= 0; i = sip_hdr_next(m, id, i + 1))
		total += m->hdr[i].body.len + 2;
	if (total == 0)
		return 0;
	if (total > max)
		return E2BIG;
	sb_init(&b, a, total);
	for (i = sip_hdr_next(m, id, 0); i >= 0; i = sip_hdr_next(m, id, i + 1)) {
		if (m->hdr[i].body.len == 0)
			continue;
		if (b.len)
			sb_cstr(&b, ", ");
		sb_str(&b, m->hdr[i].body);
	}
	if (b.err)
		return ENOMEM;
	*out = sb_done(&b);
	return 0;
}

/* the 200 OK of §10.3 step 8: every current binding with its remaining time, the stored Path
 * echoed (RFC 3327 §5.3), and a Date */
static int ok_headers(const struct store_binding *v, unsigned n, sy_str path, int64_t now,
		      struct sy_arena *a, sy_str *out)
{
	struct sbuf b;
	size_t cap = 128 + path.len;
	unsigned i;
	char date[64];
	time_t t = (time_t)now;
	struct tm tmv;

	for (i = 0; i < n; i++)
		cap += v[i].contact.len + v[i].instance.len + 80;
	sb_init(&b, a, cap);
	for (i = 0; i < n; i++) {
		int64_t left = v[i].expires - now;

		sb_cstr(&b, "Contact: <");
		sb_str(&b, v[i].contact);
		sb_fmt(&b, ">;expires=%" PRId64, left > 0 ? left : 0);
		if (v[i].q >= 0)
			sb_fmt(&b, ";q=%d.%03d", v[i].q / 1000, v[i].q % 1000);
		if (v[i].instance.len) {
			sb_cstr(&b, ";+sip.instance=");
			sb_str(&b, v[i].instance);
		}
		if (v[i].reg_id)
			sb_fmt(&b, ";reg-id=%" PRIu32, v[i].reg_id);
		sb_cstr(&b, "\r\n");
	}
	if (path.len) {
		sb_cstr(&b, "Path: ");
		sb_str(&b, path);
		sb_cstr(&b, "\r\n");
	}
	if (gmtime_r(&t, &tmv) && strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tmv))
		sb_fmt(&b, "Date: %s\r\n", date);
	if (b.err)
		return ENOMEM;
	*out = sb_done(&b);
	return 0;
}

static int check_require(const struct sip_msg *m, struct sy_arena *a, struct reg_reply *rep)
{
	struct sbuf b;
	int idx, n = 0;

	if (sip_hdr_next(m, SIP_H_REQUIRE, 0) < 0)
		return 0;
	sb_init(&b, a, 1024);
	sb_cstr(&b, "Unsupported: ");
	for (idx = sip_hdr_next(m, SIP_H_REQUIRE, 0); idx >= 0;
	     idx = sip_hdr_next(m, SIP_H_REQUIRE, idx + 1)) {
		sy_str rest = m->hdr[idx].body, item;

		while (rest.len && sip_list_next(rest, &item, &rest) == 0) {
			if (!item.len || sy_str_caseeq_c(item, "path"))
				continue;
			if (n++)
				sb_cstr(&b, ", ");
			sb_str(&b, item);
		}
	}
	if (!n)
		return 0;
	sb_cstr(&b, "\r\n");
	set_reply(rep, 420, "Bad Extension");
	if (!b.err)
		rep->hdrs = sb_done(&b);
	return EOPNOTSUPP;
}

int reg_save_msg(const struct sip_msg *m, const struct sy_rcvinfo *rcv, int nat,
		 unsigned max_contacts, struct sy_arena *a, struct reg_reply *rep)
{
	struct sip_nameaddr *na = NULL;
	struct ul_change *ch = NULL;
	struct store_binding *cur = NULL;
	unsigned n = 0, ncur = 0, i;
	int star = 0, have_hexp = 0, idx, err;
	uint64_t hexp = 0;
	sy_str aor, path, received, ua = SY_NULL_STR;
	uint32_t allow = 0;
	int64_t now = ul_now();

	set_reply(rep, 500, "Server Internal Error");
	if (!m->is_request || m->mid != SIP_M_REGISTER) {
		set_reply(rep, 0, NULL);	/* a script error: nothing to answer */
		return EINVAL;
	}
	/* §10.3 step 5: the AOR is the To URI; only sip/sips can be bound here (RFC 4475
	 * §3.3.7 unksm2: isbn: in To) */
	if ((err = reg_aor_canon(&m->to.uri, a, &aor)) != 0) {
		if (err == EINVAL) {
			set_reply(rep, 400, "Bad To URI");
			return EBADMSG;
		}
		return ENOMEM;
	}
	if (aor.len > REG_MAX_URI) {
		set_reply(rep, 400, "AOR Too Long");
		return EBADMSG;
	}

	/* §10.3 step 2 / §8.2.2.3: a Require naming an extension we do not do is refused with
	 * the unknown tags listed; Path (RFC 3327) is the one we implement */
	if ((err = check_require(m, a, rep)) != 0)
		return err;

	idx = sip_hdr_next(m, SIP_H_EXPIRES, 0);
	if (idx >= 0) {
		/* delta-seconds is at most 2^32-1 (§20.19); a bigger or non-numeric one is refused
		 * rather than guessed at */
		if (sip_parse_uint(m->hdr[idx].body, 0xffffffffu, &hexp) != 0) {
			set_reply(rep, 400, "Invalid Expires");
			return EBADMSG;
		}
		have_hexp = 1;
	}

	na = sy_arena_alloc(a, REG_MAX_REQ_CONTACTS * sizeof(*na));
	if (!na)
		return ENOMEM;
	for (idx = sip_hdr_next(m, SIP_H_CONTACT, 0); idx >= 0;
	     idx = sip_hdr_next(m, SIP_H_CONTACT, idx + 1)) {
		sy_str rest = m->hdr[idx].body;

		do {
			if (n == REG_MAX_REQ_CONTACTS) {
				set_reply(rep, 400, "Too Many Contacts");
				return EBADMSG;
			}
			if (sip_nameaddr_parse(rest, &na[n], &rest) != 0) {
				set_reply(rep, 400, "Bad Contact");
				return EBADMSG;
			}
			if (na[n].star)
				star = 1;
			n++;
		} while (rest.len);
	}
	/* §10.3 step 6: "*" only alone and only with Expires: 0 */
	if (star && (n != 1 || !have_hexp || hexp != 0)) {
		set_reply(rep, 400, "Invalid Contact *");
		return EBADMSG;
	}

	if ((err = join_hdrs(m, SIP_H_PATH, REG_MAX_PATH, a, &path)) != 0) {
		if (err == E2BIG) {
			set_reply(rep, 400, "Path Too Long");
			return EBADMSG;
		}
		return ENOMEM;
	}
	{
		/* the Path becomes Route headers and a $du at lookup: only well-formed SIP URIs
		 * go in (RFC 3327 §4: Path values are name-addrs of SIP URIs) */
		sy_str rest = path;
		struct sip_nameaddr pn;

		while (rest.len) {
			if (sip_nameaddr_parse(rest, &pn, &rest) != 0 || pn.star ||
			    (pn.uri.scheme != SIP_URI_SIP && pn.uri.scheme != SIP_URI_SIPS)) {
				set_reply(rep, 400, "Bad Path");
				return EBADMSG;
			}
		}
	}
	idx = sip_hdr_next(m, SIP_H_ALLOW, 0);
	if (idx >= 0) {
		sy_str allow_all;

		if (join_hdrs(m, SIP_H_ALLOW, 4096, a, &allow_all) == 0)
			allow = methods_mask(allow_all);
	}
	idx = sip_hdr_next(m, SIP_H_USER_AGENT, 0);
	if (idx >= 0)
		ua = m->hdr[idx].body.len > 255 ? sy_str_make(m->hdr[idx].body.s, 255) :
						   m->hdr[idx].body;
	if ((err = source_uri(rcv, a, &received)) != 0)
		return ENOMEM;

	ch = n && !star ? sy_arena_alloc(a, n * sizeof(*ch)) : NULL;
	if (n && !star && !ch)
		return ENOMEM;
	for (i = 0; !star && i < n; i++) {
		struct store_binding *b = &ch[i].b;
		uint64_t e;
		sy_str v;

		memset(&ch[i], 0, sizeof(ch[i]));
		if (na[i].uri.scheme != SIP_URI_SIP && na[i].uri.scheme != SIP_URI_SIPS) {
			set_reply(rep, 400, "Unsupported Contact URI");
			return EBADMSG;
		}
		if (na[i].uri_s.len > REG_MAX_URI) {
			set_reply(rep, 400, "Contact Too Long");
			return EBADMSG;
		}
		/* §10.3 step 7: the expires param, else the Expires header, else our default */
		if (na[i].expires.len) {
			if (sip_parse_uint(na[i].expires, 0xffffffffu, &e) != 0) {
				set_reply(rep, 400, "Invalid Expires");
				return EBADMSG;
			}
		} else if (sip_param_get(na[i].params, SY_STR("expires"), &v) == 0) {
			set_reply(rep, 400, "Invalid Expires");	/* "expires" with no value */
			return EBADMSG;
		} else {
			e = have_hexp ? hexp : reg_cfg.default_expires;
		}
		if (e > 0 && e < reg_cfg.min_expires) {
			struct sbuf mb;

			/* §10.3 step 7 / §21.4.17: tell the UA the shortest we accept */
			set_reply(rep, 423, "Interval Too Brief");
			sb_init(&mb, a, 40);
			sb_fmt(&mb, "Min-Expires: %u\r\n", reg_cfg.min_expires);
			if (!mb.err)
				rep->hdrs = sb_done(&mb);
			return ERANGE;
		}
		if (reg_cfg.max_expires && e > reg_cfg.max_expires)
			e = reg_cfg.max_expires;
		b->q = -1;
		if (na[i].q.len && parse_q(na[i].q, &b->q) != 0) {
			set_reply(rep, 400, "Invalid q");
			return EBADMSG;
		}
		if (sip_param_get(na[i].params, SY_STR("+sip.instance"), &v) == 0 && v.len) {
			if (v.len > 256) {
				set_reply(rep, 400, "Bad +sip.instance");
				return EBADMSG;
			}
			b->instance = v;
		}
		if (sip_param_get(na[i].params, SY_STR("reg-id"), &v) == 0) {
			uint64_t r;

			/* RFC 5626 §4.2: reg-id = 1*10DIGIT, 1..2^31-1 */
			if (sip_parse_uint(v, 0x7fffffffu, &r) != 0 || r == 0) {
				set_reply(rep, 400, "Bad reg-id");
				return EBADMSG;
			}
			b->reg_id = (uint32_t)r;
		}
		b->methods = allow;
		if (sip_param_get(na[i].params, SY_STR("methods"), &v) == 0 && v.len)
			b->methods = methods_mask(v);
		b->contact = na[i].uri_s;
		b->callid = m->callid;
		b->cseq = m->cseq;
		b->expires = now + (int64_t)e;
		b->received = received;
		b->path = path;
		b->user_agent = ua;
		b->flags = nat ? STORE_FL_NAT : 0;
		b->proto = rcv ? (int)rcv->proto : 0;
		b->conn_id = rcv ? rcv->conn_id : 0;
		b->listen_idx = rcv ? rcv->listen_idx : -1;
		b->last_modified = now;
		ch[i].remove = e == 0;
	}

	err = ul_update(aor, ch, star ? 0 : n, star, m->callid, m->cseq,
			max_contacts ? max_contacts : reg_cfg.max_contacts, a, &cur, &ncur);
	switch (err) {
	case 0:
		break;
	case EPROTO:
		/* §10.3 steps 6-7: an older or repeated request for a binding of the same Call-ID
		 * aborts the update and "the request fails": 500, as when a commit fails */
		set_reply(rep, 500, "Stale CSeq");
		return EPROTO;
	case EDQUOT:
		set_reply(rep, 403, "Too Many Registered Contacts");
		return EDQUOT;
	default:
		set_reply(rep, 500, "Server Internal Error");
		return err;
	}
	set_reply(rep, 200, "OK");
	if (ok_headers(cur, ncur, path, now, a, &rep->hdrs) != 0) {
		/* the bindings are in; a reply we cannot fit says so rather than lying */
		set_reply(rep, 500, "Reply Too Large");
		return ENOMEM;
	}
	return 0;
}

/* ---- lookup */

static int target_cmp(const void *x, const void *y)
{
	const struct store_binding *a = x, *b = y;
	int qa = a->q >= 0 ? a->q : reg_cfg.default_q;
	int qb = b->q >= 0 ? b->q : reg_cfg.default_q;

	if (qa != qb)
		return qa > qb ? -1 : 1;
	if (a->last_modified != b->last_modified)
		return a->last_modified > b->last_modified ? -1 : 1;
	return 0;
}

static int accepts(const struct store_binding *b, enum sip_method mid)
{
	if (!b->methods)
		return 1;
	return mid != SIP_M_OTHER && (b->methods & (1u << mid)) != 0;
}

/* where to send a binding's requests: the first Path hop (RFC 3327 §5.3), else the NAT
 * source, else nowhere special */
static sy_str dst_of(const struct store_binding *b)
{
	struct sip_nameaddr na;
	sy_str rest;

	if (b->path.len && sip_nameaddr_parse(b->path, &na, &rest) == 0)
		return na.uri_s;
	if ((b->flags & STORE_FL_NAT) && b->received.len)
		return b->received;
	return SY_NULL_STR;
}

static int aor_of(struct scr_ctx *ctx, sy_str given, sy_str *aor)
{
	struct sip_uri u;
	sy_str s = given.len ? given : scr_ctx_ruri(ctx);

	if (sip_uri_parse(s, &u) != 0)
		return EINVAL;
	return reg_aor_canon(&u, ctx->arena, aor);
}

/* make targets t[0..n) the request's destinations: t[0] the R-URI, the rest branches */
static int set_targets(struct scr_ctx *ctx, const struct store_binding *t, unsigned n)
{
	unsigned i;
	int bit;

	ctx->new_ruri = t[0].contact;
	ctx->dst_uri = dst_of(&t[0]);
	if ((t[0].flags & STORE_FL_NAT) && (bit = ul_nat_bflag()) >= 0)
		ctx->bflags |= (uint64_t)1 << bit;	/* as OpenSIPS: the script sees isbflagset(NAT) */
	if (t[0].path.len) {
		/* RFC 3327 §5.3: the stored Path becomes the route set, ahead of any Route */
		struct sbuf b;

		sb_init(&b, ctx->arena, t[0].path.len + 10);
		sb_cstr(&b, "Route: ");
		sb_str(&b, t[0].path);
		sb_cstr(&b, "\r\n");
		if (b.err || !ctx->edits || sip_build_prepend_hdr(ctx->edits, sb_done(&b)) != 0)
			return ENOSPC;
	}
	for (i = 1; i < n; i++) {
		/* the Route edit is message-wide: a branch behind another Path cannot share it */
		if (!sy_str_eq(t[i].path, t[0].path)) {
			LOG_WARN("lookup: %.*s left out: its Path differs from the first target's",
				 SY_FMT(t[i].contact));
			continue;
		}
		if (ctx->nbranches >= SCR_MAX_BRANCHES) {
			LOG_WARN("lookup: more than %u targets, %.*s left out", SCR_MAX_BRANCHES + 1,
				 SY_FMT(t[i].contact));
			continue;
		}
		ctx->branches[ctx->nbranches] = t[i].contact;
		ctx->branch_dst[ctx->nbranches] = dst_of(&t[i]);
		ctx->nbranches++;
	}
	return 0;
}

/* the unexpired bindings of the request's AOR that accept its method, best first */
static int targets_of(struct scr_ctx *ctx, sy_str given, struct store_binding **t, unsigned *n)
{
	struct store_binding *v;
	unsigned nv, i, k = 0;
	sy_str aor;
	int err;

	if (aor_of(ctx, given, &aor) != 0)
		return -1;
	err = ul_get(aor, ctx->arena, &v, &nv);
	if (err == ENOENT)
		return -1;
	if (err)
		return -3;
	for (i = 0; i < nv; i++)
		if (accepts(&v[i], ctx->msg ? ctx->msg->mid : SIP_M_OTHER))
			v[k++] = v[i];
	if (k == 0)
		return -2;
	qsort(v, k, sizeof(*v), target_cmp);
	*t = v;
	*n = k;
	return 1;
}

int reg_lookup(struct scr_ctx *ctx, sy_str aor, unsigned flags)
{
	struct store_binding *t;
	unsigned n;
	int rc = targets_of(ctx, aor, &t, &n);

	if (rc != 1)
		return rc;
	if (flags & REG_LOOKUP_NO_BRANCHES)
		n = 1;
	return set_targets(ctx, t, n) == 0 ? 1 : -3;
}

int reg_registered(struct scr_ctx *ctx, sy_str aor)
{
	struct store_binding *v;
	unsigned n;
	sy_str key;

	if (aor_of(ctx, aor, &key) != 0)
		return -1;
	return ul_get(key, ctx->arena, &v, &n) == 0 ? 1 : -1;
}

/* ---- serial forking: per-transaction lists of q groups.
 * A hash table keyed by (Call-ID, CSeq, From tag): the failure_route of the same transaction
 * finds its entry. An entry goes when its last group is taken; one whose call was answered
 * before that lingers until SERIAL_TTL, and is swept lazily (its bucket on every visit, the
 * whole table every SERIAL_SWEEP loads). SERIAL_MAX bounds the memory. */
#define SERIAL_BUCKETS 1024u
#define SERIAL_MAX 65536u
#define SERIAL_TTL 600		/* s: a few fr_inv_timeout rounds of failure_route */
#define SERIAL_SWEEP 1024u

struct serial {
	struct serial *next;
	int64_t born;
	uint32_t hash;
	unsigned n, next_idx;
	struct store_binding *t;	/* n targets, strings after them in this block */
	size_t key_len;
	char key[];			/* callid \n cseq \n fromtag */
};

static struct serial *serial_tab[SERIAL_BUCKETS];
static unsigned serial_count, serial_loads;
static pthread_mutex_t serial_mu = PTHREAD_MUTEX_INITIALIZER;

static int serial_key(const struct scr_ctx *ctx, char *buf, size_t cap, size_t *len)
{
	const struct sip_msg *m = ctx->msg;
	int k;

	if (!m)
		return EINVAL;
	k = snprintf(buf, cap, "%.*s\n%" PRIu32 "\n%.*s", SY_FMT(m->callid), m->cseq,
		     SY_FMT(m->from.tag));
	if (k < 0 || (size_t)k >= cap)
		return ENOSPC;
	*len = (size_t)k;
	return 0;
}

static uint32_t serial_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h;
}

/* unlink and free the entries of one bucket that are expired (or match key); serial_mu held */
static void serial_sweep_bucket(unsigned b, int64_t now, const char *key, size_t klen)
{
	struct serial **pp = &serial_tab[b];

	while (*pp) {
		struct serial *x = *pp;

		if (now - x->born > SERIAL_TTL ||
		    (key && x->key_len == klen && memcmp(x->key, key, klen) == 0)) {
			*pp = x->next;
			free(x);
			serial_count--;
		} else {
			pp = &x->next;
		}
	}
}

static struct serial **serial_find(const char *key, size_t len, uint32_t h)
{
	struct serial **pp = &serial_tab[h % SERIAL_BUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->key_len == len && memcmp((*pp)->key, key, len) == 0)
			return pp;
	return NULL;
}

int reg_load_contacts(struct scr_ctx *ctx)
{
	struct store_binding *t;
	struct serial *s;
	unsigned n, i, bkt;
	size_t sz, klen;
	char key[1024], *q;
	int64_t now = ul_now();
	struct sip_uri u;
	uint32_t h;
	sy_str aor;

	/* the request's own R-URI: lookup() may already have replaced $ru by a contact */
	if (!ctx->msg || sip_uri_parse(ctx->msg->ruri, &u) != 0 ||
	    reg_aor_canon(&u, ctx->arena, &aor) != 0)
		return -1;
	if (targets_of(ctx, aor, &t, &n) != 1)
		return -1;
	if (serial_key(ctx, key, sizeof(key), &klen) != 0)
		return -1;
	/* header, key, up to 15 bytes to align the targets, targets, their strings */
	sz = sizeof(*s) + klen + 15 + n * sizeof(*t);
	for (i = 0; i < n; i++)
		sz += t[i].contact.len + t[i].path.len + t[i].received.len;
	/* loading a serial fork is once per call, not per message: one malloc for all of it */
	s = malloc(sz);
	if (!s)
		return -1;
	h = serial_hash(key, klen);
	s->next = NULL;
	s->born = now;
	s->hash = h;
	s->n = n;
	s->next_idx = 0;
	s->key_len = klen;
	memcpy(s->key, key, klen);
	s->t = (struct store_binding *)(((uintptr_t)(s->key + klen) + 15u) & ~(uintptr_t)15u);
	q = (char *)&s->t[n];
	for (i = 0; i < n; i++) {
		memset(&s->t[i], 0, sizeof(s->t[i]));
		s->t[i].q = t[i].q;
		s->t[i].flags = t[i].flags;
		s->t[i].last_modified = t[i].last_modified;
		s->t[i].contact = sy_str_make(q, t[i].contact.len);
		memcpy(q, t[i].contact.s, t[i].contact.len);
		q += t[i].contact.len;
		s->t[i].path = sy_str_make(q, t[i].path.len);
		if (t[i].path.len)
			memcpy(q, t[i].path.s, t[i].path.len);
		q += t[i].path.len;
		s->t[i].received = sy_str_make(q, t[i].received.len);
		if (t[i].received.len)
			memcpy(q, t[i].received.s, t[i].received.len);
		q += t[i].received.len;
	}

	pthread_mutex_lock(&serial_mu);
	bkt = h % SERIAL_BUCKETS;
	/* a reload for the same transaction replaces the old list */
	serial_sweep_bucket(bkt, now, key, klen);
	if (++serial_loads % SERIAL_SWEEP == 0)
		for (i = 0; i < SERIAL_BUCKETS; i++)
			serial_sweep_bucket(i, now, NULL, 0);
	if (serial_count >= SERIAL_MAX) {
		pthread_mutex_unlock(&serial_mu);
		LOG_ERR("t_load_contacts: %u serial forks in progress, no room for another",
			SERIAL_MAX);
		free(s);
		return -1;
	}
	s->next = serial_tab[bkt];
	serial_tab[bkt] = s;
	serial_count++;
	pthread_mutex_unlock(&serial_mu);
	/* what lookup() set up is replaced by the groups: t_next_contacts() starts them */
	ctx->nbranches = 0;
	return 1;
}

int reg_next_contacts(struct scr_ctx *ctx)
{
	struct serial **pp, *s;
	struct store_binding *grp;
	unsigned i, k, first;
	size_t klen;
	char key[1024];
	int q0, done;

	if (serial_key(ctx, key, sizeof(key), &klen) != 0)
		return -1;
	pthread_mutex_lock(&serial_mu);
	pp = serial_find(key, klen, serial_hash(key, klen));
	if (!pp) {
		pthread_mutex_unlock(&serial_mu);
		return -1;
	}
	s = *pp;
	first = s->next_idx;
	q0 = s->t[first].q >= 0 ? s->t[first].q : reg_cfg.default_q;
	while (s->next_idx < s->n &&
	       (s->t[s->next_idx].q >= 0 ? s->t[s->next_idx].q : reg_cfg.default_q) == q0)
		s->next_idx++;
	k = s->next_idx - first;
	/* copy the group into the arena: the entry may be freed right after */
	grp = sy_arena_alloc(ctx->arena, k * sizeof(*grp));
	for (i = 0; grp && i < k; i++) {
		const struct store_binding *b = &s->t[first + i];
		char *p = sy_arena_alloc(ctx->arena, b->contact.len + b->path.len +
						     b->received.len + 1);

		if (!p) {
			grp = NULL;
			break;
		}
		grp[i] = *b;
		memcpy(p, b->contact.s, b->contact.len);
		grp[i].contact = sy_str_make(p, b->contact.len);
		p += b->contact.len;
		if (b->path.len)
			memcpy(p, b->path.s, b->path.len);
		grp[i].path = sy_str_make(p, b->path.len);
		p += b->path.len;
		if (b->received.len)
			memcpy(p, b->received.s, b->received.len);
		grp[i].received = sy_str_make(p, b->received.len);
	}
	done = s->next_idx >= s->n;
	if (done) {
		*pp = s->next;
		free(s);
		serial_count--;
	}
	pthread_mutex_unlock(&serial_mu);
	if (!grp) {
		LOG_ERR("t_next_contacts: message arena full");
		return -1;
	}
	ctx->nbranches = 0;
	return set_targets(ctx, grp, k) == 0 ? 1 : -1;
}

/* ---- script handlers */

static unsigned flag_max_contacts(sy_str flags)
{
	size_t i;

	for (i = 0; i < flags.len; i++) {
		if (flags.s[i] == 'c') {
			unsigned v = 0;

			for (i++; i < flags.len && flags.s[i] >= '0' && flags.s[i] <= '9'; i++)
				v = v * 10 + (unsigned)(flags.s[i] - '0');
			return v;
		}
	}
	return 0;
}

static int flag_has(sy_str flags, char f)
{
	return flags.len && memchr(flags.s, f, flags.len) != NULL;
}

static int check_table(const struct scr_arg *args)
{
	if (!sy_str_eq(args[0].s, SY_STR("location"))) {
		LOG_ERR("registrar: unknown table \"%.*s\" (only \"location\")", SY_FMT(args[0].s));
		return -1;
	}
	return 0;
}

static int fn_save(struct scr_ctx *ctx, const struct scr_arg *args)
{
	struct reg_reply rep;
	sy_str flags = args[1].given ? args[1].s : SY_NULL_STR;
	int err, nat, bit;

	if (check_table(args) != 0)
		return -1;
	nat = nh_take_nat_mark(ctx);
	if ((bit = ul_nat_bflag()) >= 0 && ((ctx->bflags | ctx->flags) >> bit) & 1)
		nat = 1;
	err = reg_save_msg(ctx->msg, ctx->rcv, nat, flag_max_contacts(flags), ctx->arena, &rep);
	if (rep.code == 0) {
		LOG_ERR("save: called on a %.*s, not a REGISTER", SY_FMT(ctx->msg->method));
		return -1;
	}
	sy_stat_inc(rep.code < 300 ? SY_ST_REG_ACCEPTED : SY_ST_REG_REJECTED);
	if (err && err != EBADMSG && err != ERANGE && err != EDQUOT && err != EOPNOTSUPP)
		LOG_ERR("save: %.*s: %u %s", SY_FMT(ctx->msg->to.uri_s), rep.code, rep.reason);
	if (!flag_has(flags, 'r')) {
		if (px_reply(ctx, rep.code, sy_cstr(rep.reason), rep.hdrs) != 0)
			LOG_ERR("save: could not send the %u reply", rep.code);
		ctx->replied = 1;
	}
	return err ? -1 : 1;
}

static int fn_lookup(struct scr_ctx *ctx, const struct scr_arg *args)
{
	unsigned flags = 0;

	if (check_table(args) != 0)
		return -3;
	if (args[1].given && flag_has(args[1].s, 'b'))
		flags |= REG_LOOKUP_NO_BRANCHES;
	return reg_lookup(ctx, args[2].given ? args[2].s : SY_NULL_STR, flags);
}

static int fn_registered(struct scr_ctx *ctx, const struct scr_arg *args)
{
	if (check_table(args) != 0)
		return -1;
	return reg_registered(ctx, args[1].given ? args[1].s : SY_NULL_STR);
}

static int fn_load_contacts(struct scr_ctx *ctx, const struct scr_arg *args)
{
	(void)args;
	return reg_load_contacts(ctx);
}

static int fn_next_contacts(struct scr_ctx *ctx, const struct scr_arg *args)
{
	(void)args;
	return reg_next_contacts(ctx);
}

static int set_uint(const struct scr_arg *v, const char **err, unsigned *dst, long max)
{
	if (v->i < 0 || v->i > max) {
		*err = "value out of range";
		return EINVAL;
	}
	*dst = (unsigned)v->i;
	return 0;
}

static int p_default_expires(const struct scr_arg *v, const char **err)
{
	return set_uint(v, err, &reg_cfg.default_expires, 0xffffffffL);
}

static int p_min_expires(const struct scr_arg *v, const char **err)
{
	return set_uint(v, err, &reg_cfg.min_expires, 0xffffffffL);
}

static int p_max_expires(const struct scr_arg *v, const char **err)
{
	return set_uint(v, err, &reg_cfg.max_expires, 0xffffffffL);
}

static int p_max_contacts(const struct scr_arg *v, const char **err)
{
	return set_uint(v, err, &reg_cfg.max_contacts, 100000);
}

static int p_default_q(const struct scr_arg *v, const char **err)
{
	if (v->i < 0 || v->i > 1000) {
		*err = "default_q is 0..1000 (q * 1000)";
		return EINVAL;
	}
	reg_cfg.default_q = (int)v->i;
	return 0;
}

static int reg_unit_init(void)
{
	/* registrar works without loadmodule "usrloc" too (memory only, default purge) */
	return ul_start();
}

static const struct scr_fn reg_fns[] = {
	{ "save", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_REQUEST, fn_save },
	{ "lookup", 1, 3, { SCR_ARG_STR, SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_REQ_LIKE,
	  fn_lookup },
	{ "registered", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_ANY, fn_registered },
	{ "is_registered", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_ANY, fn_registered },
	{ "t_load_contacts", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE,
	  fn_load_contacts },
	{ "t_next_contacts", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE,
	  fn_next_contacts },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

static const struct scr_modparam reg_params[] = {
	{ "default_expires", SCR_PARAM_INT, p_default_expires },
	{ "min_expires", SCR_PARAM_INT, p_min_expires },
	{ "max_expires", SCR_PARAM_INT, p_max_expires },
	{ "max_contacts", SCR_PARAM_INT, p_max_contacts },
	{ "default_q", SCR_PARAM_INT, p_default_q },
	{ NULL, SCR_PARAM_INT, NULL },
};

const struct scr_unit reg_unit = {
	.name = "registrar",
	.fns = reg_fns,
	.params = reg_params,
	.init = reg_unit_init,
};
