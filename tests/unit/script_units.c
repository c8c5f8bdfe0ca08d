/* script_units.c: the units written with the engine (src/mod core, sl, sipmsgops/textops,
 * maxfwd) driven through scripts on parsed messages, and etc/switchyard.cfg end to end. The
 * unit sources are compiled in here and the proxy calls they make (px_forward, px_resolve,
 * px_reply) are recorded by stubs, so this runs on script+sip+core only. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mod/core.c"
#include "mod/maxfwd.c"
#include "mod/sl.c"
#include "mod/textops.c"

/* ---- proxy stubs: what the units asked for */
static struct {
	unsigned nreply, code;
	char reason[64];
	unsigned nforward;
	int forward_dst_null;
	char resolved[128];
	int resolve_rc;
} px;

struct scr_prog *px_prog;
struct px_tm_hooks px_tm;

int px_resolve(sy_str uri, struct sy_dest *out)
{
	snprintf(px.resolved, sizeof(px.resolved), "%.*s", SY_FMT(uri));
	memset(out, 0, sizeof(*out));
	out->proto = SY_PROTO_UDP;
	return px.resolve_rc;
}

int px_forward(struct scr_ctx *ctx, const struct sy_dest *dst)
{
	(void)ctx;
	px.nforward++;
	px.forward_dst_null = dst == NULL;
	return 0;
}

/* forward("dest"): the string as the unit passed it (the proxy's own parsing of the
 * "proto:host:port" forms is tested in proxy_path.c) */
int px_forward_to(struct scr_ctx *ctx, sy_str dest)
{
	static const struct sy_dest d;

	snprintf(px.resolved, sizeof(px.resolved), "%.*s", SY_FMT(dest));
	if (px.resolve_rc)
		return px.resolve_rc;
	return px_forward(ctx, &d);
}

int px_reply(struct scr_ctx *ctx, unsigned code, sy_str reason, sy_str extra)
{
	(void)ctx;
	(void)extra;
	px.nreply++;
	px.code = code;
	snprintf(px.reason, sizeof(px.reason), "%.*s", SY_FMT(reason));
	return 0;
}

static unsigned tm_replies;
int tm_reply(struct scr_ctx *ctx, unsigned code, sy_str reason)
{
	(void)ctx;
	(void)reason;
	tm_replies++;
	px.code = code;
	return 0;
}

static const struct scr_unit proto_udp_u = { "proto_udp", NULL, NULL, NULL };
static const struct scr_unit proto_tcp_u = { "proto_tcp", NULL, NULL, NULL };
const struct scr_unit *const scr_units[] = {
	&core_unit, &sl_unit, &signaling_unit, &sipmsgops_unit, &textops_unit, &mf_unit, &proto_udp_u,
	&proto_tcp_u, NULL,
};

/* ---- fixture */
#define MSG(first, maxfwd, extra)                                              \
	first "\r\n"                                                           \
	"Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK776asdhds\r\n"          \
	maxfwd                                                                 \
	"To: Bob <sip:bob@biloxi.example.com>\r\n"                             \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"       \
	"Call-ID: a84b4c76e66710@pc33\r\n"                                     \
	"CSeq: 314159 INVITE\r\n"                                              \
	"X-Custom: one\r\n"                                                    \
	extra                                                                  \
	"x-custom: two\r\n"                                                    \
	"Content-Length: 0\r\n"                                                \
	"\r\n"

struct fx {
	struct sip_hdr hdr[32];
	struct sip_msg m;
	struct sip_edit e[32];
	struct sip_build b;
	struct sy_rcvinfo rcv;
	struct sy_arena arena;
	char mem[16384];
	char out[4096];
	struct scr_ctx ctx;
	struct scr_prog *prog;
};
static struct fx F;

static void setup(const char *msg)
{
	struct scr_prog *keep = F.prog;

	memset(&F, 0, sizeof(F));
	memset(&px, 0, sizeof(px));
	F.prog = keep;
	F.m.hdr = F.hdr;
	F.m.hdr_cap = 32;
	if (sip_msg_parse(&F.m, msg, strlen(msg), 0, NULL))
		fail_msg("parse failed: %u %s", F.m.err_code, F.m.err_reason);
	sip_build_init(&F.b, &F.m, F.e, 32);
	sy_arena_init(&F.arena, F.mem, sizeof(F.mem));
	F.rcv.proto = SY_PROTO_UDP;
	F.rcv.src.u.in.sin_family = AF_INET;
	F.rcv.src.u.in.sin_port = htons(5062);
	inet_pton(AF_INET, "192.0.2.7", &F.rcv.src.u.in.sin_addr);
	F.ctx.msg = &F.m;
	F.ctx.rcv = &F.rcv;
	F.ctx.edits = &F.b;
	F.ctx.arena = &F.arena;
	F.ctx.prog = F.prog;
}

static void load(const char *script)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = scr_load_mem("t.cfg", script, strlen(script), f, &F.prog);

	fclose(f);
	if (rc)
		fail_msg("load failed:\n%s", buf);
	free(buf);
	F.ctx.prog = F.prog;
}

static int run(const char *msg, const char *script)
{
	setup(msg);
	load(script);
	return scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
}

/* the message as it would be sent, edits applied */
static const char *built(void)
{
	size_t n;

	assert_int_equal(sip_build_out(&F.b, F.out, sizeof(F.out) - 1, &n), 0);
	F.out[n] = '\0';
	return F.out;
}

static void done(void)
{
	scr_free(F.prog);
	F.prog = NULL;
}

static const char INV70[] = MSG("INVITE sip:bob@biloxi.example.com SIP/2.0",
				"Max-Forwards: 70\r\n", "");
static const char INV0[] = MSG("INVITE sip:bob@biloxi.example.com SIP/2.0",
			       "Max-Forwards: 0\r\n", "");
static const char INVNONE[] = MSG("INVITE sip:bob@biloxi.example.com SIP/2.0", "", "");
static const char INV200[] = MSG("INVITE sip:bob@biloxi.example.com SIP/2.0",
				 "Max-Forwards: 200\r\n", "");

#define MF_SCRIPT                                                      \
	"loadmodule \"maxfwd.so\"\nloadmodule \"sl.so\"\n"             \
	"route { if (!mf_process_maxfwd_header(10)) {\n"               \
	"  sl_send_reply(483, \"Too Many Hops\"); exit; } }\n"

static void test_maxfwd(void **st)
{
	(void)st;
	assert_int_equal(run(INV70, MF_SCRIPT), 1);
	assert_true(F.ctx.maxfwd_done);
	assert_non_null(strstr(built(), "\r\nMax-Forwards: 69\r\n"));
	assert_int_equal(px.nreply, 0);
	done();

	assert_int_equal(run(INVNONE, MF_SCRIPT), 1);
	assert_true(F.ctx.maxfwd_done);
	assert_non_null(strstr(built(), "\r\nMax-Forwards: 10\r\n"));
	done();

	assert_int_equal(run(INV0, MF_SCRIPT), 0);
	assert_int_equal(px.nreply, 1);
	assert_int_equal(px.code, 483);
	assert_string_equal(px.reason, "Too Many Hops");
	assert_false(F.ctx.maxfwd_done);
	assert_int_equal(F.b.n, 0);
	assert_true(F.ctx.replied);
	done();

	/* values above max_limit are capped before the decrement */
	run(INV200, "loadmodule \"maxfwd.so\"\nmodparam(\"maxfwd\", \"max_limit\", 70)\n"
		    "route { mf_process_maxfwd_header(10); mf_process_maxfwd_header(10); }\n");
	assert_non_null(strstr(built(), "\r\nMax-Forwards: 69\r\n"));
	assert_int_equal(F.b.n, 1);	/* the second call adds nothing */
	done();

	/* a bad max_limit is a load error */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct scr_prog *p = NULL;
		const char *s = "loadmodule \"maxfwd.so\"\nmodparam(\"maxfwd\", \"max_limit\", 0)\n";

		assert_int_equal(scr_load_mem("t.cfg", s, strlen(s), f, &p), EINVAL);
		fclose(f);
		assert_string_equal(buf, "t.cfg:2:33: parameter 'max_limit' of module 'maxfwd': "
					 "must be 1..256\n");
		free(buf);
		mf_max_limit = 256;
	}
}

static void test_textops(void **st)
{
	(void)st;
	const char *out;

	run(INV70, "loadmodule \"sipmsgops.so\"\n"
		   "route {\n"
		   "  append_hf(\"X-A: 1\\r\\n\");\n"
		   "  append_hf(\"X-B: $rU\");\n"
		   "  append_hf(\"X-After-To: y\\r\\n\", \"To\");\n"
		   "  if (remove_hf(\"X-Custom\")) append_hf(\"X-Removed: yes\\r\\n\");\n"
		   "  if (!remove_hf(\"X-None\")) append_hf(\"X-Nothing: yes\\r\\n\");\n"
		   "}\n");
	out = built();
	assert_null(strstr(out, "X-Custom"));
	assert_null(strstr(out, "x-custom"));
	assert_non_null(strstr(out, "To: Bob <sip:bob@biloxi.example.com>\r\nX-After-To: y\r\n"));
	/* appended after the last header field, in call order */
	assert_non_null(strstr(out, "Content-Length: 0\r\nX-A: 1\r\nX-B: bob\r\n"
				    "X-Removed: yes\r\nX-Nothing: yes\r\n\r\n"));
	done();

	/* textops (the older name) has the header functions only; is_method and has_totag are
	 * sipmsgops', as in OpenSIPS */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct scr_prog *p = NULL;
		const char *s = "loadmodule \"textops.so\"\n"
				"route { append_hf(\"X: y\"); if (has_totag()) exit; }\n";

		assert_int_equal(scr_load_mem("t.cfg", s, strlen(s), f, &p), EINVAL);
		fclose(f);
		assert_string_equal(buf, "t.cfg:2:32: function 'has_totag' needs loadmodule "
					 "\"sipmsgops.so\"\n");
		free(buf);
	}
	run(INV70, "loadmodule \"textops.so\"\nloadmodule \"sipmsgops.so\"\n"
		   "route {\n"
		   "  if (is_present_hf(\"x-CUSTOM\")) xlog(\"L_DBG\", \"present\");\n"
		   "  else exit;\n"
		   "  if (is_present_hf(\"X-None\")) exit;\n"
		   "  if (!is_method(\"INVITE|REGISTER\")) exit;\n"
		   "  if (is_method(\"invite\")) exit;\n"
		   "  if (is_method(\"REGISTER|BYE\")) exit;\n"
		   "  if (has_totag()) exit;\n"
		   "  return(5);\n"
		   "}\n");
	assert_int_equal(scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0), 5);
	done();
}

static void test_sl(void **st)
{
	(void)st;
	assert_int_equal(run(INV70, "loadmodule \"sl.so\"\n"
				    "route { sl_send_reply(\"404\", \"Not $rU\"); }\n"), 1);
	assert_int_equal(px.code, 404);
	assert_string_equal(px.reason, "Not bob");
	assert_true(F.ctx.replied);
	done();

	run(INV70, "loadmodule \"sl.so\"\nroute { $var(c) = 480; sl_send_reply($var(c), \"\"); }\n");
	assert_int_equal(px.code, 480);
	assert_string_equal(px.reason, "Temporarily Unavailable");
	done();

	run(INV70, "loadmodule \"sl.so\"\nroute { sl_reply_error(); }\n");
	assert_int_equal(px.code, 500);
	done();

	/* bad codes and ACKs get no reply */
	assert_int_equal(run(INV70, "loadmodule \"sl.so\"\n"
				    "route { if (!sl_send_reply(99, \"x\")) return(-7); }\n"), -7);
	assert_int_equal(px.nreply, 0);
	done();
	run(MSG("ACK sip:bob@biloxi.example.com SIP/2.0", "Max-Forwards: 70\r\n", ""),
	    "loadmodule \"sl.so\"\nroute { sl_send_reply(200, \"OK\"); }\n");
	assert_int_equal(px.nreply, 0);
	done();

	/* send_reply(): stateless without a transaction, through tm with one */
	tm_replies = 0;
	run(INV70, "loadmodule \"signaling.so\"\nroute { send_reply(403, \"Forbidden\"); }\n");
	assert_int_equal(px.nreply, 1);
	assert_int_equal(px.code, 403);
	assert_int_equal(tm_replies, 0);
	done();
	setup(INV70);
	load("loadmodule \"signaling.so\"\nroute { send_reply(404, \"\"); }\n");
	F.ctx.host = &F;	/* a transaction */
	scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
	assert_int_equal(px.nreply, 0);
	assert_int_equal(tm_replies, 1);
	assert_int_equal(px.code, 404);
	assert_true(F.ctx.replied);
	done();

	/* request route only: a load error in an onreply_route */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct scr_prog *p = NULL;
		const char *s = "loadmodule \"sl.so\"\nonreply_route { sl_send_reply(200, \"OK\"); }\n";

		assert_int_equal(scr_load_mem("t.cfg", s, strlen(s), f, &p), EINVAL);
		fclose(f);
		assert_string_equal(buf, "t.cfg:2:17: function 'sl_send_reply' is not allowed in "
					 "onreply_route\n");
		free(buf);
	}
}

/* scr_foreach_const: the constant destinations a script routes to, where they are written */
static char seen[512];
static int collect(sy_str v, const char *file, unsigned line, unsigned col, void *arg)
{
	size_t n = strlen(seen);

	(void)arg;
	snprintf(seen + n, sizeof(seen) - n, "%s:%u:%u:%.*s|", file, line, col, SY_FMT(v));
	return 0;
}

static int stop_at_b(sy_str v, const char *file, unsigned line, unsigned col, void *arg)
{
	(void)file;
	(void)line;
	(void)col;
	(*(int *)arg)++;
	return sy_str_eq(v, SY_STR("udp:b.example")) ? 42 : 0;
}

static void test_foreach_const(void **st)
{
	int n = 0;

	(void)st;
	setup(INV70);
	load("route {\n"
	     "  if ($rU == \"a\") { forward(\"udp:a.example:5070\"); exit; }\n"
	     "  $var(d) = \"udp:not.constant\"; forward(\"$var(d)\");\n"
	     "  $du = \"sip:du.example\"; $ru = \"sip:u@ru.example\"; $du = $var(d);\n"
	     "  route(r); forward();\n"
	     "}\n"
	     "route[r] { while (1) { forward(\"udp:b.example\"); } }\n");
	seen[0] = '\0';
	assert_int_equal(scr_foreach_const(F.prog, "forward", 0, NULL, collect, NULL), 0);
	assert_string_equal(seen, "t.cfg:2:29:udp:a.example:5070|t.cfg:7:32:udp:b.example|");
	seen[0] = '\0';
	assert_int_equal(scr_foreach_const(F.prog, NULL, 0, "$du", collect, NULL), 0);
	assert_string_equal(seen, "t.cfg:4:9:sip:du.example|");
	seen[0] = '\0';
	assert_int_equal(scr_foreach_const(F.prog, NULL, 0, "$ru", collect, NULL), 0);
	assert_string_equal(seen, "t.cfg:4:33:sip:u@ru.example|");
	/* the callback's first non-zero answer ends the walk */
	assert_int_equal(scr_foreach_const(F.prog, "forward", 0, NULL, stop_at_b, &n), 42);
	assert_int_equal(n, 2);
	done();
}

static void test_core(void **st)
{
	(void)st;
	run(INV70, "route { forward(); }\n");
	assert_int_equal(px.nforward, 1);
	assert_true(px.forward_dst_null);
	done();

	run(INV70, "route { forward(\"udp:10.0.0.1:5070\"); }\n");
	assert_int_equal(px.nforward, 1);
	assert_false(px.forward_dst_null);
	assert_string_equal(px.resolved, "udp:10.0.0.1:5070");
	done();

	run(INV70, "route { forward(\"sip:$rU@10.0.0.2\"); }\n");
	assert_string_equal(px.resolved, "sip:bob@10.0.0.2");
	done();

	run(INV70, "route { forward(\"10.0.0.3:5090\"); }\n");
	assert_string_equal(px.resolved, "10.0.0.3:5090");
	done();

	setup(INV70);
	px.resolve_rc = EHOSTUNREACH;
	load("route { if (!forward(\"udp:nowhere.invalid\")) return(-9); }\n");
	assert_int_equal(scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0), -9);
	assert_int_equal(px.nforward, 0);
	done();

	run(INV70, "route { append_branch(); append_branch(\"sip:carol@c.example\");\n"
		   " $ru = \"sip:dave@d.example\"; append_branch(); force_rport();\n"
		   " setflag(1); if (isflag(1)) resetflag(1); if (isflag(1)) exit;\n"
		   " setbflag(2); if (!isbflagset(2)) exit; xlog(\"L_DBG\", \"done $ru\\n\"); }\n");
	assert_int_equal(F.ctx.nbranches, 3);
	assert_true(sy_str_eq(F.ctx.branches[0], SY_STR("sip:bob@biloxi.example.com")));
	assert_true(sy_str_eq(F.ctx.branches[1], SY_STR("sip:carol@c.example")));
	assert_true(sy_str_eq(F.ctx.branches[2], SY_STR("sip:dave@d.example")));
	assert_true(F.ctx.force_rport);
	assert_int_equal(F.ctx.flags, 0);
	assert_int_equal(F.ctx.bflags, 4);
	done();

	run(INV70, "listen = udp:biloxi.example.com:5060\n"
		   "route { if (!is_myself(\"$rd\")) exit; if (is_myself(\"$fd\")) exit;\n"
		   " if (!is_myself(\"sip:x@biloxi.example.com\")) exit;\n"
		   " if (is_myself(\"sip:x@biloxi.example.com:5070\")) exit; return(3); }\n");
	assert_int_equal(scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0), 3);
	done();
}

/* The first etc/switchyard.cfg (a stateless proxy; the shipped one has since become a
 * registrar using tm/rr/usrloc, tested by their owners): it does what its comments say. */
static const char STATELESS_CFG[] =
	"listen = udp:127.0.0.1:5060\n"
	"listen = tcp:127.0.0.1:5060\n"
	"loadmodule \"sl.so\"\nloadmodule \"maxfwd.so\"\nloadmodule \"sipmsgops.so\"\n"
	"modparam(\"maxfwd\", \"max_limit\", 70)\n"
	"route {\n"
	"	if (!mf_process_maxfwd_header(70)) {\n"
	"		sl_send_reply(483, \"Too Many Hops\");\n"
	"		exit;\n"
	"	}\n"
	"	if (is_method(\"OPTIONS\") && $rU == NULL && uri == myself) {\n"
	"		sl_send_reply(200, \"OK\");\n"
	"		exit;\n"
	"	}\n"
	"	if (is_method(\"ACK\") && uri == myself && $rU == NULL) {\n"
	"		exit;\n"
	"	}\n"
	"	if (!forward()) {\n"
	"		sl_reply_error();\n"
	"	}\n"
	"	exit;\n"
	"}\n";

static void test_stateless_config(void **st)
{
	(void)st;
	load(STATELESS_CFG);
	assert_int_equal(scr_listen_count(F.prog), 2);
	assert_int_equal(scr_listen_get(F.prog, 0)->port, 5060);
	assert_int_equal(scr_listen_get(F.prog, 1)->proto, SY_PROTO_TCP);

	/* OPTIONS to the proxy itself: 200 here */
	setup(MSG("OPTIONS sip:127.0.0.1:5060 SIP/2.0", "Max-Forwards: 70\r\n", ""));
	assert_int_equal(scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0), 0);
	assert_int_equal(px.nreply, 1);
	assert_int_equal(px.code, 200);
	assert_int_equal(px.nforward, 0);

	/* Max-Forwards 0: 483 */
	setup(INV0);
	scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
	assert_int_equal(px.code, 483);
	assert_int_equal(px.nforward, 0);

	/* anything else: forwarded, with Max-Forwards already decremented */
	setup(INV70);
	scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
	assert_int_equal(px.nreply, 0);
	assert_int_equal(px.nforward, 1);
	assert_true(F.ctx.maxfwd_done);

	/* OPTIONS for someone else is forwarded too */
	setup(MSG("OPTIONS sip:bob@biloxi.example.com SIP/2.0", "Max-Forwards: 70\r\n", ""));
	scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
	assert_int_equal(px.nforward, 1);
	assert_int_equal(px.nreply, 0);
	done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maxfwd),
		cmocka_unit_test(test_textops),
		cmocka_unit_test(test_sl),
		cmocka_unit_test(test_foreach_const),
		cmocka_unit_test(test_core),
		cmocka_unit_test(test_stateless_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
