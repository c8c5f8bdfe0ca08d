/* textops.c: header operations. The "sipmsgops" unit has them all as in OpenSIPS 3.x:
 * append_hf, remove_hf, is_present_hf, is_method, has_totag; the older "textops" unit name
 * offers the header functions it held in OpenSIPS 1.x/2.x (append_hf, remove_hf,
 * is_present_hf), so either loadmodule line works for them. Changes go into ctx->edits (sip_build), the message bytes are never
 * touched. Header names compare case-insensitively, compact forms included (RFC 3261 §7.3.1,
 * §7.3.3); method names are case-sensitive (§7.1). */
#include <string.h>

#include "core/log.h"
#include "mod/units.h"

/* append_hf("X-Foo: bar\r\n" [, "After-This"]) */
static int tx_append_hf(struct scr_ctx *ctx, const struct scr_arg *a)
{
	const struct sip_msg *m = ctx->msg;
	sy_str line = a[0].s;
	int rc;

	if (!m || !ctx->edits || !line.len)
		return -1;
	if (line.len < 2 || line.s[line.len - 2] != '\r' || line.s[line.len - 1] != '\n') {
		/* the script forgot the CRLF: a header line must end with one (§7.3) */
		char *d = sy_arena_alloc(ctx->arena, line.len + 2);

		if (!d) {
			LOG_ERR("append_hf(): message arena full");
			return -1;
		}
		memcpy(d, line.s, line.len);
		memcpy(d + line.len, "\r\n", 2);
		line = sy_str_make(d, line.len + 2);
	}
	if (a[1].given) {
		int h = sip_hdr_next_name(m, a[1].s, 0);
		const struct sip_hdr *hd;

		if (h < 0)
			return -1;
		hd = &m->hdr[h];
		rc = sip_build_replace(ctx->edits, (size_t)(hd->raw.s + hd->raw.len - m->buf), 0,
				       line);
	} else {
		rc = sip_build_append_hdr(ctx->edits, line);
	}
	if (rc) {
		LOG_ERR("append_hf(): cannot add header: %s", strerror(rc));
		return -1;
	}
	return 1;
}

/* remove_hf("Name"): every field of that name; true when at least one went */
static int tx_remove_hf(struct scr_ctx *ctx, const struct scr_arg *a)
{
	const struct sip_msg *m = ctx->msg;
	int h, n = 0;

	if (!m || !ctx->edits)
		return -1;
	for (h = sip_hdr_next_name(m, a[0].s, 0); h >= 0; h = sip_hdr_next_name(m, a[0].s, h + 1)) {
		int rc = sip_build_remove_hdr(ctx->edits, (unsigned)h);

		if (rc) {
			LOG_ERR("remove_hf(): cannot remove header: %s", strerror(rc));
			return -1;
		}
		n++;
	}
	return n ? n : -1;
}

static int tx_is_present_hf(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return ctx->msg && sip_hdr_next_name(ctx->msg, a[0].s, 0) >= 0 ? 1 : -1;
}

/* is_method("INVITE|REGISTER"): the request's method, or a reply's CSeq method */
static int tx_is_method(struct scr_ctx *ctx, const struct scr_arg *a)
{
	const struct sip_msg *m = ctx->msg;
	sy_str list = a[0].s, meth;

	if (!m)
		return -1;
	meth = m->is_request ? m->method : m->cseq_method;
	while (list.len) {
		const char *bar = memchr(list.s, '|', list.len);
		sy_str one = sy_str_make(list.s, bar ? (size_t)(bar - list.s) : list.len);

		if (sy_str_eq(one, meth))
			return 1;
		if (!bar)
			break;
		list.s = bar + 1;
		list.len -= one.len + 1;
	}
	return -1;
}

/* has_totag(): an in-dialog request (RFC 3261 §12.2) */
static int tx_has_totag(struct scr_ctx *ctx, const struct scr_arg *a)
{
	(void)a;
	return ctx->msg && ctx->msg->to.tag.len ? 1 : -1;
}

#define R_MSG (SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE | SCR_ROUTE_BRANCH | SCR_ROUTE_ONREPLY | \
	       SCR_ROUTE_LOCAL)
static const struct scr_fn tx_fns[] = {
	{ "append_hf", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, R_MSG, tx_append_hf },
	{ "remove_hf", 1, 1, { SCR_ARG_STR }, R_MSG, tx_remove_hf },
	{ "is_present_hf", 1, 1, { SCR_ARG_STR }, R_MSG, tx_is_present_hf },
	{ "is_method", 1, 1, { SCR_ARG_STR }, R_MSG, tx_is_method },
	{ "has_totag", 0, 0, { SCR_ARG_NONE }, R_MSG, tx_has_totag },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

/* the first three rows of tx_fns */
static const struct scr_fn textops_fns[] = {
	{ "append_hf", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, R_MSG, tx_append_hf },
	{ "remove_hf", 1, 1, { SCR_ARG_STR }, R_MSG, tx_remove_hf },
	{ "is_present_hf", 1, 1, { SCR_ARG_STR }, R_MSG, tx_is_present_hf },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

const struct scr_unit sipmsgops_unit = { "sipmsgops", tx_fns, NULL, NULL };
const struct scr_unit textops_unit = { "textops", textops_fns, NULL, NULL };
