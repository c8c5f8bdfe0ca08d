/* rr.c: the "rr" unit: Record-Route insertion (RFC 3261 §16.6 step 4) and Route processing
 * (§16.4, §16.12). Every change is an edit in ctx->edits, so the original bytes are copied once
 * when the request is sent; a failure part-way rolls the edit list back to where it was. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "mod/rr.h"
#include "proxy/fmt.h"
#include "proxy/proxy.h"
#include "sip/build.h"
#include "sip/msg.h"
#include "tp/tp.h"

#define RR_MAX_ROUTES 32	/* Route values looked at; more is a loop or an attack */

int rr_is_myself(sy_str host, unsigned port)
{
	if (tp_listen_match(host, port))
		return 1;
	/* aliases (and listens as the script wrote them); a URI without a port means 5060 */
	return scr_is_myself(px_prog, host, port ? port : 5060);
}

static const char *proto_param(enum sy_proto p)
{
	switch (p) {
	case SY_PROTO_TCP: return ";transport=tcp";
	case SY_PROTO_TLS: return ";transport=tls";
	case SY_PROTO_WS: return ";transport=ws";
	case SY_PROTO_WSS: return ";transport=wss";
	default: return "";
	}
}

/* "Record-Route: <sip:HOST:PORT[;transport=x];lr[params]>\r\n" into the arena */
static int rr_line(struct scr_ctx *ctx, const struct tp_listen *ls, sy_str params, sy_str *out)
{
	size_t cap = 64 + sizeof(ls->host) + params.len;
	char *p = sy_arena_alloc(ctx->arena, cap);
	struct px_buf b = { p, 0, cap };

	if (!p)
		return ENOMEM;
	/* by hand, not snprintf: every record-routed request builds one or two */
	px_puts(&b, "Record-Route: <sip:");
	px_puts(&b, ls->host);
	px_puts(&b, ":");
	px_put_uint(&b, ls->port);
	px_puts(&b, proto_param(ls->proto));
	px_puts(&b, ";lr");
	px_put(&b, params);
	px_puts(&b, ">\r\n");
	if (b.len >= cap)
		return ENOSPC;
	*out = sy_str_make(p, b.len);
	return 0;
}

int rr_record_route(struct scr_ctx *ctx, sy_str params)
{
	const struct tp_listen *in, *outl = NULL;
	struct sy_dest d;
	sy_str l1, l2 = SY_NULL_STR, target;
	unsigned mark;
	int err;

	if (!ctx->rcv || ctx->rcv->listen_idx < 0 || !ctx->edits ||
	    !(in = tp_listen_get((unsigned)ctx->rcv->listen_idx)))
		return EINVAL;
	if (params.len && params.s[0] != ';') {
		LOG_ERR("record_route(): parameters must start with ';'");
		return EINVAL;
	}
	/* the next hop as known now: another transport there means the two legs see us at
	 * different addresses, and each must get the one it can reach */
	target = ctx->dst_uri.len ? ctx->dst_uri : scr_ctx_ruri(ctx);
	if (px_resolve(target, &d) == 0 && d.proto != in->proto) {
		d.listen_idx = -1;
		outl = tp_listen_pick(&d);
	}
	if ((err = rr_line(ctx, in, params, &l1)) != 0)
		return err;
	if (outl && (err = rr_line(ctx, outl, params, &l2)) != 0)
		return err;
	mark = ctx->edits->n;
	/* prepended lines keep the order they were added: the outgoing leg's entry on top */
	if ((l2.len && (err = sip_build_prepend_hdr(ctx->edits, l2)) != 0) ||
	    (err = sip_build_prepend_hdr(ctx->edits, l1)) != 0) {
		ctx->edits->n = mark;
		return err;
	}
	return 0;
}

int rr_record_route_preset(struct scr_ctx *ctx, sy_str addr, sy_str addr2)
{
	sy_str a[2] = { addr, addr2 };
	sy_str lines[2] = { SY_NULL_STR, SY_NULL_STR };
	unsigned i, mark;
	int err = 0;

	if (!ctx->edits || !addr.len)
		return EINVAL;
	for (i = 0; i < 2; i++) {
		size_t cap;
		char *p;
		int n;
		int has_scheme;

		if (!a[i].len)
			continue;
		has_scheme = (a[i].len > 4 && strncasecmp(a[i].s, "sip:", 4) == 0) ||
			     (a[i].len > 5 && strncasecmp(a[i].s, "sips:", 5) == 0);
		cap = a[i].len + 40;
		if (!(p = sy_arena_alloc(ctx->arena, cap)))
			return ENOMEM;
		n = snprintf(p, cap, "Record-Route: <%s%.*s;lr>\r\n", has_scheme ? "" : "sip:",
			     SY_FMT(a[i]));
		if (n < 0 || (size_t)n >= cap)
			return ENOSPC;
		lines[i] = sy_str_make(p, (size_t)n);
	}
	mark = ctx->edits->n;
	for (i = 0; i < 2 && !err; i++)
		if (lines[i].len)
			err = sip_build_prepend_hdr(ctx->edits, lines[i]);
	if (err)
		ctx->edits->n = mark;
	return err;
}

/* one Route value and where it sits */
struct rval {
	int hdr;			/* index in m->hdr */
	sy_str raw;			/* the value (name-addr + params) */
	struct sip_nameaddr na;
	int drop;
};

static int collect_routes(const struct sip_msg *m, struct rval *v, unsigned *n)
{
	int idx;

	*n = 0;
	for (idx = sip_hdr_next(m, SIP_H_ROUTE, 0); idx >= 0;
	     idx = sip_hdr_next(m, SIP_H_ROUTE, idx + 1)) {
		sy_str rest = m->hdr[idx].body;

		while (rest.len) {
			if (*n == RR_MAX_ROUTES)
				return E2BIG;
			memset(&v[*n], 0, sizeof(v[*n]));
			if (sip_nameaddr_parse(rest, &v[*n].na, &rest) != 0 || v[*n].na.star)
				return EBADMSG;
			v[*n].hdr = idx;
			v[*n].raw = v[*n].na.raw;
			(*n)++;
		}
	}
	return 0;
}

/* delete the values marked drop: whole fields when all their values go, otherwise the value
 * with the comma that joins it to a kept neighbour (ranges never overlap) */
static int apply_drops(struct sip_build *b, const struct sip_msg *m, struct rval *v, unsigned n)
{
	unsigned i = 0;
	int err;

	while (i < n) {
		unsigned j = i, k, all = 1, last_kept = n;

		while (j < n && v[j].hdr == v[i].hdr)
			j++;
		for (k = i; k < j; k++) {
			if (!v[k].drop)
				all = 0;
			else
				continue;
			last_kept = k;
		}
		if (all) {
			if ((err = sip_build_remove_hdr(b, (unsigned)v[i].hdr)) != 0)
				return err;
		} else {
			for (k = i; k < j; k++) {
				size_t from, to;

				if (!v[k].drop)
					continue;
				if (k < last_kept) {
					from = (size_t)(v[k].raw.s - m->buf);
					to = (size_t)(v[k + 1].raw.s - m->buf);
				} else {
					from = (size_t)(v[k - 1].raw.s + v[k - 1].raw.len - m->buf);
					to = (size_t)(v[k].raw.s + v[k].raw.len - m->buf);
				}
				if ((err = sip_build_replace(b, from, to - from, SY_NULL_STR)) != 0)
					return err;
			}
		}
		i = j;
	}
	return 0;
}

static int ours(const struct sip_uri *u)
{
	return (u->scheme == SIP_URI_SIP || u->scheme == SIP_URI_SIPS) &&
	       rr_is_myself(u->host, u->port);
}

int rr_loose_route(struct scr_ctx *ctx)
{
	struct sip_msg *m = ctx->msg;
	struct rval v[RR_MAX_ROUTES];
	unsigned n, total, first, mark;
	struct sip_uri ru;
	sy_str ruri;
	int err;

	if (!m || !m->is_request || !ctx->edits)
		return -1;
	if ((err = collect_routes(m, v, &n)) != 0) {
		LOG_NOTICE("loose_route: %s Route header in %.*s, ignored",
			   err == E2BIG ? "over-long" : "malformed", SY_FMT(m->callid));
		return -1;
	}
	if (n == 0)
		return -1;
	total = n;
	mark = ctx->edits->n;
	ruri = scr_ctx_ruri(ctx);

	/* §16.4: a Request-URI we put in a Record-Route (ours, no user part, and the ;lr every
	 * URI we record carries) means the previous hop was a strict router: the real target is
	 * the last Route value. A request for the proxy itself (REGISTER sip:proxy) has no ;lr. */
	if (sip_uri_parse(ruri, &ru) == 0 && ours(&ru) && ru.user.len == 0 && ru.lr) {
		ctx->new_ruri = v[n - 1].na.uri_s;
		v[n - 1].drop = 1;
		n--;	/* consumed: not a hop for what follows */
	}
	/* §16.4: our own values on top go (two of them after double record-routing) */
	for (first = 0; first < n && ours(&v[first].na.uri); first++)
		v[first].drop = 1;

	if (first < n) {
		if (v[first].na.uri.lr) {
			/* §16.6 step 6/7: loose next hop: it is where we send, the R-URI stays */
			ctx->dst_uri = v[first].na.uri_s;
		} else {
			/* §16.6 step 6 / §16.12: a strict router next: it becomes the R-URI and
			 * the R-URI goes to the end of the route set */
			size_t cap = ruri.len + 16;
			char *p = sy_arena_alloc(ctx->arena, cap);
			int k;

			if (!p)
				goto fail;
			k = snprintf(p, cap, "Route: <%.*s>\r\n", SY_FMT(ruri));
			if (k < 0 || (size_t)k >= cap)
				goto fail;
			ctx->new_ruri = v[first].na.uri_s;
			ctx->dst_uri = SY_NULL_STR;
			v[first].drop = 1;
			if (sip_build_append_hdr(ctx->edits, sy_str_make(p, (size_t)k)) != 0)
				goto fail;
		}
	}
	if (apply_drops(ctx->edits, m, v, total) != 0)
		goto fail;
	return 1;
fail:
	ctx->edits->n = mark;
	LOG_ERR("loose_route: no room to edit %.*s", SY_FMT(m->callid));
	return -3;
}

/* ---- script functions */

static int fn_record_route(struct scr_ctx *ctx, const struct scr_arg *a)
{
	int err = rr_record_route(ctx, a[0].given ? a[0].s : SY_NULL_STR);

	if (err)
		LOG_ERR("record_route(): cannot add the header: %s", strerror(err));
	return err ? -1 : 1;
}

static int fn_record_route_preset(struct scr_ctx *ctx, const struct scr_arg *a)
{
	int err = rr_record_route_preset(ctx, a[0].s, a[1].given ? a[1].s : SY_NULL_STR);

	if (err)
		LOG_ERR("record_route_preset(): cannot add the header: %s", strerror(err));
	return err ? -1 : 1;
}

static int fn_loose_route(struct scr_ctx *ctx, const struct scr_arg *a)
{
	(void)a;
	return rr_loose_route(ctx);
}

static const struct scr_fn rr_fns[] = {
	{ "record_route", 0, 1, { SCR_ARG_STR }, SCR_ROUTE_REQUEST | SCR_ROUTE_BRANCH |
	  SCR_ROUTE_FAILURE, fn_record_route },
	{ "record_route_preset", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_REQUEST |
	  SCR_ROUTE_BRANCH | SCR_ROUTE_FAILURE, fn_record_route_preset },
	{ "loose_route", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST, fn_loose_route },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

static const struct scr_modparam rr_params[] = {
	{ NULL, SCR_PARAM_INT, NULL },
};

const struct scr_unit rr_unit = {
	.name = "rr",
	.fns = rr_fns,
	.params = rr_params,
	.init = NULL,
};
