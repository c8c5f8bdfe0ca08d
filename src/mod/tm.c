/* tm.c: the "tm" unit, the script face of the transaction layer (src/tm), with OpenSIPS names
 * and semantics: t_relay([proxy]), t_reply(code, reason), t_newtran, t_check_trans,
 * t_on_reply/t_on_failure/t_on_branch, t_check_status, t_was_cancelled, t_local_replied,
 * t_set_fr; modparams fr_timeout/fr_inv_timeout/wt_timer (s), T1_timer/T2_timer/T4_timer (ms),
 * max_transactions. $T_reply_code and $T_branch_idx are ctx->reply_code / ctx->branch_idx. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "mod/tm.h"
#include "proxy/fmt.h"
#include "proxy/proxy.h"
#include "tm/tm.h"

static int w_t_relay(struct scr_ctx *ctx, const struct scr_arg *a)
{
	struct sy_dest d, *force = NULL;
	int rc;

	if (a[0].given && a[0].s.len) {
		rc = px_dest_parse(ctx->arena, a[0].s, &d);
		if (rc && px_out_of_hops(ctx) && ctx->msg->mid != SIP_M_CANCEL) {
			/* §16.3 step 3 comes before routing: 483 even to a bad destination */
			return px_reply(ctx, 483, SY_STR("Too Many Hops"), SY_NULL_STR) ? -1 : 1;
		}
		if (rc) {
			LOG_ERR("t_relay(\"%.*s\"): bad destination (%s)", SY_FMT(a[0].s),
				strerror(rc));
			return -1;
		}
		force = &d;
	}
	rc = tm_relay(ctx, force);
	if (rc == EBUSY)
		return 0;	/* overloaded: 503 sent, the script stops here */
	return rc ? -1 : 1;
}

static int w_t_reply(struct scr_ctx *ctx, const struct scr_arg *a)
{
	int rc = tm_reply(ctx, (unsigned)a[0].i, a[1].s);

	if (rc == EBUSY)
		return 0;
	if (rc)
		LOG_ERR("t_reply(%ld): %s", a[0].i, strerror(rc));
	return rc ? -1 : 1;
}

static int w_t_newtran(struct scr_ctx *ctx, const struct scr_arg *a)
{
	int rc;

	(void)a;
	rc = tm_newtran(ctx);
	if (rc == EBUSY)
		return 0;
	return rc ? -1 : 1;
}

static int w_t_check_trans(struct scr_ctx *ctx, const struct scr_arg *a)
{
	(void)a;
	return tm_check_trans(ctx) ? 1 : -1;
}

static int w_t_on_reply(struct scr_ctx *ctx, const struct scr_arg *a)
{
	tm_arm(ctx, TM_ROUTE_REPLY, (int)a[0].i);
	return 1;
}

static int w_t_on_failure(struct scr_ctx *ctx, const struct scr_arg *a)
{
	tm_arm(ctx, TM_ROUTE_FAILURE, (int)a[0].i);
	return 1;
}

static int w_t_on_branch(struct scr_ctx *ctx, const struct scr_arg *a)
{
	tm_arm(ctx, TM_ROUTE_BRANCH, (int)a[0].i);
	return 1;
}

static int w_t_check_status(struct scr_ctx *ctx, const struct scr_arg *a)
{
	char code[16];
	unsigned c = ctx->reply_code;

	if (!c && ctx->msg && !ctx->msg->is_request)
		c = ctx->msg->status;
	if (!c || !a[0].p)
		return -1;
	{
		/* by hand, not snprintf: onreply routes test the status of every reply */
		struct px_buf b = { code, 0, sizeof(code) - 1 };

		px_put_uint(&b, c);
		code[b.len] = '\0';
	}
	return regexec((const regex_t *)a[0].p, code, 0, NULL, 0) == 0 ? 1 : -1;
}

static int w_t_was_cancelled(struct scr_ctx *ctx, const struct scr_arg *a)
{
	(void)a;
	return tm_was_cancelled(ctx) ? 1 : -1;
}

static int w_t_local_replied(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return tm_local_replied(ctx, a[0].s) ? 1 : -1;
}

static int w_t_set_fr(struct scr_ctx *ctx, const struct scr_arg *a)
{
	/* OpenSIPS: seconds */
	if (a[0].i < 0 || (a[1].given && a[1].i < 0))
		return -1;
	tm_set_fr(ctx, (unsigned)a[0].i * 1000u, a[1].given ? (unsigned)a[1].i * 1000u : 0);
	return 1;
}

#define TM_REQ (SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE)
#define TM_ANY_TM (SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE | SCR_ROUTE_ONREPLY | SCR_ROUTE_BRANCH)

static const struct scr_fn tm_fns[] = {
	{ "t_relay", 0, 1, { SCR_ARG_STR }, TM_REQ, w_t_relay },
	{ "t_reply", 2, 2, { SCR_ARG_STR_OR_INT, SCR_ARG_STR }, TM_REQ, w_t_reply },
	{ "t_newtran", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST, w_t_newtran },
	{ "t_check_trans", 0, 0, { SCR_ARG_NONE }, TM_ANY_TM, w_t_check_trans },
	{ "t_on_reply", 1, 1, { SCR_ARG_ROUTE_ONREPLY }, TM_REQ | SCR_ROUTE_BRANCH, w_t_on_reply },
	{ "t_on_failure", 1, 1, { SCR_ARG_ROUTE_FAILURE }, TM_REQ | SCR_ROUTE_BRANCH,
	  w_t_on_failure },
	{ "t_on_branch", 1, 1, { SCR_ARG_ROUTE_BRANCH }, TM_REQ, w_t_on_branch },
	{ "t_check_status", 1, 1, { SCR_ARG_REGEX }, TM_ANY_TM, w_t_check_status },
	{ "t_was_cancelled", 0, 0, { SCR_ARG_NONE }, TM_ANY_TM, w_t_was_cancelled },
	{ "t_local_replied", 1, 1, { SCR_ARG_STR }, TM_REQ | SCR_ROUTE_ONREPLY, w_t_local_replied },
	{ "t_set_fr", 1, 2, { SCR_ARG_INT, SCR_ARG_INT }, TM_ANY_TM, w_t_set_fr },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

static int tm_param_ms(const struct scr_arg *v, const char **err, unsigned *out, long mult,
		       long min)
{
	if (v->i < min || v->i > 86400000L / mult) {
		*err = "out of range";
		return EINVAL;
	}
	*out = (unsigned)(v->i * mult);
	return 0;
}

static int p_fr_timeout(const struct scr_arg *v, const char **err)
{
	return tm_param_ms(v, err, &tm_cfg.fr_ms, 1000, 1);
}

static int p_fr_inv_timeout(const struct scr_arg *v, const char **err)
{
	return tm_param_ms(v, err, &tm_cfg.fr_inv_ms, 1000, 1);
}

static int p_wt_timer(const struct scr_arg *v, const char **err)
{
	return tm_param_ms(v, err, &tm_cfg.wt_ms, 1000, 1);
}

static int p_t1(const struct scr_arg *v, const char **err)
{
	return tm_param_ms(v, err, &tm_cfg.t1_ms, 1, 1);
}

static int p_t2(const struct scr_arg *v, const char **err)
{
	return tm_param_ms(v, err, &tm_cfg.t2_ms, 1, 1);
}

static int p_t4(const struct scr_arg *v, const char **err)
{
	return tm_param_ms(v, err, &tm_cfg.t4_ms, 1, 1);
}

static int p_max_transactions(const struct scr_arg *v, const char **err)
{
	return tm_param_ms(v, err, &tm_cfg.max_transactions, 1, 0);
}

static const struct scr_modparam tm_params[] = {
	{ "fr_timeout", SCR_PARAM_INT, p_fr_timeout },
	{ "fr_inv_timeout", SCR_PARAM_INT, p_fr_inv_timeout },
	{ "wt_timer", SCR_PARAM_INT, p_wt_timer },
	{ "T1_timer", SCR_PARAM_INT, p_t1 },
	{ "T2_timer", SCR_PARAM_INT, p_t2 },
	{ "T4_timer", SCR_PARAM_INT, p_t4 },
	{ "max_transactions", SCR_PARAM_INT, p_max_transactions },
	{ NULL, SCR_PARAM_INT, NULL },
};

static int tm_unit_init(void)
{
	return tm_install();
}

const struct scr_unit tm_unit = {
	.name = "tm",
	.fns = tm_fns,
	.params = tm_params,
	.init = tm_unit_init,
};
