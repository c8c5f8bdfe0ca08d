/* fuzz_script_run.c: any script that loads is run: its main request route and every other
 * route on a fixed INVITE (onreply routes on a reply), with a small arena so exhaustion paths
 * run too. Nothing may crash, read out of bounds or hang (loops and route calls are bounded
 * per message). Units are this file's own; logging is silenced. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "script/api.h"

static int f_ret(struct scr_ctx *c, const struct scr_arg *a)
{
	(void)c;
	return a[0].i > 0 ? 1 : a[0].i < 0 ? -1 : 1;	/* never 0: keep running */
}

static int f_str(struct scr_ctx *c, const struct scr_arg *a)
{
	(void)c;
	return a[0].s.len ? 1 : -1;
}

static int f_into(struct scr_ctx *c, const struct scr_arg *a)
{
	struct scr_value v = { 0, 0, SY_STR("sip:x@y") };

	return scr_pvar_set(c, a[0].p, &v) == 0 ? 1 : -1;
}

static int f_match(struct scr_ctx *c, const struct scr_arg *a)
{
	(void)c;
	return a[0].p ? 1 : -1;
}

static int f_hdr(struct scr_ctx *c, const struct scr_arg *a)
{
	if (!c->edits)
		return -1;
	return sip_build_append_hdr(c->edits, a[0].s) == 0 ? 1 : -1;
}

static const struct scr_fn core_fns[] = {
	{ "xlog", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_ANY, f_str },
	{ "ret", 1, 1, { SCR_ARG_INT }, SCR_ROUTE_ANY, f_ret },
	{ "is_method", 1, 1, { SCR_ARG_STR_OR_INT }, SCR_ROUTE_ANY, f_str },
	{ "match", 1, 1, { SCR_ARG_REGEX }, SCR_ROUTE_ANY, f_match },
	{ "into", 1, 1, { SCR_ARG_PVAR }, SCR_ROUTE_ANY, f_into },
	{ "append_hf", 1, 1, { SCR_ARG_STR }, SCR_ROUTE_ANY, f_hdr },
	{ "setflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, f_ret },
	{ "t_on_failure", 1, 1, { SCR_ARG_ROUTE_FAILURE }, SCR_ROUTE_ANY, f_ret },
	{ "go", 1, 1, { SCR_ARG_ROUTE }, SCR_ROUTE_ANY, f_ret },
	{ NULL, 0, 0, { 0 }, 0, NULL },
};
static const struct scr_unit core_u = { "core", core_fns, NULL, NULL };
const struct scr_unit *const scr_units[] = { &core_u, NULL };

static const char INVITE[] =
	"INVITE sip:bob@biloxi.example.com:5070;transport=tcp SIP/2.0\r\n"
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
	"Max-Forwards: 70\r\n"
	"To: Bob <sip:bob@biloxi.example.com>\r\n"
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"X-Custom: hello\r\n"
	"Content-Length: 0\r\n"
	"\r\n";
static const char REPLY[] =
	"SIP/2.0 486 Busy Here\r\n"
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
	"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static void run_all(struct scr_prog *p, const char *msg, unsigned types)
{
	static char mem[8192];
	struct sip_hdr hdr[32];
	struct sip_msg m;
	struct sip_edit e[16];
	struct sip_build b;
	struct sy_arena arena;
	struct sy_rcvinfo rcv;
	struct scr_ctx ctx;

	memset(&m, 0, sizeof(m));
	m.hdr = hdr;
	m.hdr_cap = 32;
	if (sip_msg_parse(&m, msg, strlen(msg), 0, NULL))
		return;
	memset(&rcv, 0, sizeof(rcv));
	rcv.proto = SY_PROTO_UDP;
	for (unsigned t = 0; t < 7; t++) {
		if (!(types & (1u << t)))
			continue;
		for (unsigned i = 0; i < scr_route_count(p, 1u << t); i++) {
			memset(&ctx, 0, sizeof(ctx));
			sip_build_init(&b, &m, e, 16);
			sy_arena_init(&arena, mem, sizeof(mem));
			ctx.prog = p;
			ctx.msg = &m;
			ctx.rcv = &rcv;
			ctx.edits = &b;
			ctx.arena = &arena;
			scr_run(&ctx, 1u << t, (int)i);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scr_prog *p = NULL;

	sy_log_level = SY_L_ALERT - 1;
	if (scr_load_mem("fuzz.cfg", (const char *)data, size, NULL, &p))
		return 0;
	run_all(p, INVITE, SCR_ROUTE_ANY & ~SCR_ROUTE_ONREPLY);
	run_all(p, REPLY, SCR_ROUTE_ONREPLY);
	scr_free(p);
	return 0;
}
