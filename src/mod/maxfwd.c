/* maxfwd.c: the "maxfwd" unit: mf_process_maxfwd_header(max) does the Max-Forwards step of
 * RFC 3261 §16.6 item 3 in the script, so the script can answer 483 itself (§16.3 item 2):
 * absent -> add "Max-Forwards: max" and return 1; 0 -> return -1 (no edit); otherwise
 * decrement it (capped at the max_limit modparam) and return 1. It sets ctx->maxfwd_done so
 * px_forward/tm do not decrement a second time. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "mod/units.h"
#include "proxy/fmt.h"

static long mf_max_limit = 256;	/* OpenSIPS default */

static int mf_process(struct scr_ctx *ctx, const struct scr_arg *a)
{
	const struct sip_msg *m = ctx->msg;
	char *buf;
	long v;
	int rc;

	if (!m || !m->is_request || !ctx->edits)
		return -1;
	if (m->maxfwd == 0)
		return -1;
	if (ctx->maxfwd_done)
		return 1;	/* called twice: the edit is already there */
	if (a[0].i < 1 || a[0].i > 255) {
		LOG_ERR("mf_process_maxfwd_header(%ld): max must be 1..255", a[0].i);
		return -1;
	}
	buf = sy_arena_alloc(ctx->arena, 40);
	if (!buf) {
		LOG_ERR("mf_process_maxfwd_header(): message arena full");
		return -1;
	}
	if (m->maxfwd < 0) {
		struct px_buf b = { buf, 0, 40 };

		px_puts(&b, "Max-Forwards: ");
		px_put_uint(&b, (uint64_t)a[0].i);
		px_puts(&b, "\r\n");
		rc = sip_build_append_hdr(ctx->edits, sy_str_make(buf, b.len));
	} else {
		int h = m->first[SIP_H_MAX_FORWARDS];
		const struct sip_hdr *hd;

		if (h < 0)
			return -1;
		hd = &m->hdr[h];
		v = m->maxfwd > mf_max_limit ? mf_max_limit : m->maxfwd;
		struct px_buf b = { buf, 0, 40 };

		/* by hand, not snprintf: every relayed request comes through here */
		px_put_uint(&b, (uint64_t)(v - 1));
		rc = sip_build_replace(ctx->edits, (size_t)(hd->body.s - m->buf), hd->body.len,
				       sy_str_make(buf, b.len));
	}
	if (rc) {
		LOG_ERR("mf_process_maxfwd_header(): cannot edit: %s", strerror(rc));
		return -1;
	}
	ctx->maxfwd_done = 1;
	return 1;
}

static int mf_set_max_limit(const struct scr_arg *v, const char **err)
{
	if (v->i < 1 || v->i > 256) {
		*err = "must be 1..256";
		return EINVAL;
	}
	mf_max_limit = v->i;
	return 0;
}

static const struct scr_fn mf_fns[] = {
	{ "mf_process_maxfwd_header", 1, 1, { SCR_ARG_INT }, SCR_ROUTE_REQUEST, mf_process },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

static const struct scr_modparam mf_params[] = {
	{ "max_limit", SCR_PARAM_INT, mf_set_max_limit },
	{ NULL, SCR_PARAM_INT, NULL },
};

const struct scr_unit mf_unit = { "maxfwd", mf_fns, mf_params, NULL };
