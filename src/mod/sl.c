/* sl.c: the "sl" unit: stateless local replies (RFC 3261 §8.2.6, sent per §18.2.2 by
 * px_reply). sl_send_reply(code, reason); sl_reply_error() answers 500. An ACK is never
 * answered (§17.1.1.3: ACK has no response).
 * Also the "signaling" unit of OpenSIPS 3.x: send_reply(code, reason) answers through the
 * transaction when the request has one (so retransmissions get the same reply, §17.2) and
 * statelessly otherwise. */
#include "core/log.h"
#include "mod/units.h"
#include "proxy/proxy.h"
#include "tm/tm.h"

static int sl_send(struct scr_ctx *ctx, long code, sy_str reason)
{
	int rc;

	if (!ctx->msg || !ctx->msg->is_request)
		return -1;
	if (ctx->msg->mid == SIP_M_ACK)
		return -1;
	if (code < 100 || code > 699) {
		LOG_ERR("sl_send_reply(): bad status code %ld", code);
		return -1;
	}
	rc = px_reply(ctx, (unsigned)code, reason, SY_NULL_STR);
	if (rc)
		return -1;
	ctx->replied = 1;
	return 1;
}

static int sl_send_reply(struct scr_ctx *ctx, const struct scr_arg *a)
{
	sy_str reason = a[1].s;

	if (!reason.len)
		reason = sy_cstr(sip_reason_phrase((unsigned)a[0].i));
	return sl_send(ctx, a[0].i, reason);
}

static int sl_reply_error(struct scr_ctx *ctx, const struct scr_arg *a)
{
	(void)a;
	return sl_send(ctx, 500, SY_STR("Server Internal Error"));
}

static int sig_send_reply(struct scr_ctx *ctx, const struct scr_arg *a)
{
	sy_str reason = a[1].s;
	int rc;

	if (!ctx->host)
		return sl_send_reply(ctx, a);
	if (!reason.len)
		reason = sy_cstr(sip_reason_phrase((unsigned)a[0].i));
	if (a[0].i < 100 || a[0].i > 699) {
		LOG_ERR("send_reply(): bad status code %ld", a[0].i);
		return -1;
	}
	rc = tm_reply(ctx, (unsigned)a[0].i, reason);
	if (rc)
		return -1;
	ctx->replied = 1;
	return 1;
}

static const struct scr_fn sig_fns[] = {
	{ "send_reply", 2, 2, { SCR_ARG_INT, SCR_ARG_STR },
	  SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE, sig_send_reply },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

const struct scr_unit signaling_unit = { "signaling", sig_fns, NULL, NULL };

static const struct scr_fn sl_fns[] = {
	{ "sl_send_reply", 2, 2, { SCR_ARG_INT, SCR_ARG_STR }, SCR_ROUTE_REQUEST,
	  sl_send_reply },
	{ "sl_reply_error", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST, sl_reply_error },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

const struct scr_unit sl_unit = { "sl", sl_fns, NULL, NULL };
