/* core.c: the "core" unit, available without loadmodule: forward() (stateless relay,
 * RFC 3261 §16.6 via px_forward), xlog(), message flags (setflag/isflag/resetflag) and branch
 * flags, append_branch() for parallel forking targets, force_rport() (RFC 3581 §4), and
 * is_myself(). */
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "mod/units.h"
#include "proxy/proxy.h"

/* forward() / forward("udp:host:port") / forward("sip:host;transport=tcp") */
static int core_forward(struct scr_ctx *ctx, const struct scr_arg *a)
{
	int rc;

	if (!a[0].given || !a[0].s.len)
		rc = px_forward(ctx, NULL);	/* $du, else the R-URI */
	else
		rc = px_forward_to(ctx, a[0].s);	/* "proto:host:port" or a SIP URI */
	return rc ? -1 : 1;
}

static int log_level_of(sy_str s, int *lvl)
{
	static const struct {
		const char *n;
		int l;
	} levels[] = {
		{ "L_ALERT", SY_L_ALERT }, { "L_CRIT", SY_L_CRIT }, { "L_ERR", SY_L_ERR },
		{ "L_WARN", SY_L_WARN }, { "L_NOTICE", SY_L_NOTICE }, { "L_INFO", SY_L_INFO },
		{ "L_DBG", SY_L_DBG },
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (sy_str_caseeq_c(s, levels[i].n)) {
			*lvl = levels[i].l;
			return 0;
		}
	}
	return EINVAL;
}

/* xlog([level,] fmt): fmt arrives with its pseudo-variables already expanded */
static int core_xlog(struct scr_ctx *ctx, const struct scr_arg *a)
{
	int lvl = SY_L_ERR;
	sy_str msg = a[0].s;

	(void)ctx;
	if (a[1].given) {
		if (log_level_of(a[0].s, &lvl)) {
			LOG_ERR("xlog(): unknown level '%.*s'", SY_FMT(a[0].s));
			lvl = SY_L_ERR;
		}
		msg = a[1].s;
	}
	/* sy_log ends the line itself */
	while (msg.len && (msg.s[msg.len - 1] == '\n' || msg.s[msg.len - 1] == '\r'))
		msg.len--;
	if (sy_log_level >= lvl)
		sy_log(lvl, "%.*s", SY_FMT(msg));
	return 1;
}

static int core_setflag(struct scr_ctx *ctx, const struct scr_arg *a)
{
	ctx->flags |= (uint64_t)1 << a[0].i;
	return 1;
}

static int core_resetflag(struct scr_ctx *ctx, const struct scr_arg *a)
{
	ctx->flags &= ~((uint64_t)1 << a[0].i);
	return 1;
}

static int core_isflag(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return (ctx->flags >> a[0].i) & 1 ? 1 : -1;
}

static int core_setbflag(struct scr_ctx *ctx, const struct scr_arg *a)
{
	ctx->bflags |= (uint64_t)1 << a[0].i;
	return 1;
}

static int core_resetbflag(struct scr_ctx *ctx, const struct scr_arg *a)
{
	ctx->bflags &= ~((uint64_t)1 << a[0].i);
	return 1;
}

static int core_isbflag(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return (ctx->bflags >> a[0].i) & 1 ? 1 : -1;
}

/* append_branch([uri]): one more target for t_relay (RFC 3261 §16.5 parallel forking);
 * without an argument the current R-URI */
static int core_append_branch(struct scr_ctx *ctx, const struct scr_arg *a)
{
	sy_str uri = a[0].given && a[0].s.len ? a[0].s : scr_ctx_ruri(ctx);
	char *d;

	if (!uri.len)
		return -1;
	if (ctx->nbranches >= SCR_MAX_BRANCHES) {
		LOG_ERR("append_branch(): more than %d branches", SCR_MAX_BRANCHES);
		return -1;
	}
	d = sy_arena_alloc(ctx->arena, uri.len);
	if (!d) {
		LOG_ERR("append_branch(): message arena full");
		return -1;
	}
	memcpy(d, uri.s, uri.len);
	ctx->branch_dst[ctx->nbranches] = SY_NULL_STR;	/* a lookup() $du of this slot is stale */
	ctx->branches[ctx->nbranches++] = sy_str_make(d, uri.len);
	return 1;
}

static int core_force_rport(struct scr_ctx *ctx, const struct scr_arg *a)
{
	(void)a;
	ctx->force_rport = 1;
	return 1;
}

/* is_myself("$rd") / is_myself("sip:host:port") */
static int core_is_myself(struct scr_ctx *ctx, const struct scr_arg *a)
{
	struct sip_uri u;
	sy_str s = a[0].s;

	if (!ctx->prog || !s.len)
		return -1;
	if (memchr(s.s, ':', s.len) && s.s[0] != '[' && sip_uri_parse(s, &u) == 0 && u.host.len)
		return scr_is_myself(ctx->prog, u.host,
				     u.port ? u.port : u.scheme == SIP_URI_SIPS ? 5061 : 5060)
			       ? 1 : -1;
	return scr_is_myself(ctx->prog, s, 0) ? 1 : -1;
}

#define R_REQ (SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE | SCR_ROUTE_BRANCH)
static const struct scr_fn core_fns[] = {
	{ "forward", 0, 1, { SCR_ARG_STR }, SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE, core_forward },
	{ "xlog", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_ANY, core_xlog },
	{ "setflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, core_setflag },
	{ "resetflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, core_resetflag },
	{ "isflagset", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, core_isflag },
	{ "isflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, core_isflag },
	{ "setbflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, core_setbflag },
	{ "resetbflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, core_resetbflag },
	{ "isbflagset", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, core_isbflag },
	{ "append_branch", 0, 1, { SCR_ARG_STR }, SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE,
	  core_append_branch },
	{ "force_rport", 0, 0, { SCR_ARG_NONE }, R_REQ | SCR_ROUTE_ONREPLY, core_force_rport },
	{ "is_myself", 1, 1, { SCR_ARG_STR }, SCR_ROUTE_ANY, core_is_myself },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

const struct scr_unit core_unit = { "core", core_fns, NULL, NULL };
