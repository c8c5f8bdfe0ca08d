/* script_run.c: the interpreter on parsed messages: pseudo-variable reads and writes,
 * templates, flags, if/switch/while (and its bound), route()/return values, exit/drop and the
 * "function returned 0 stops the script" rule, regex and myself comparisons. */
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

#include "script/api.h"

/* ---- test units: record what the script did */
static char rec_buf[4096];
static size_t rec_len;
static unsigned ncalls;

static void rec_add(sy_str s)
{
	if (rec_len + s.len + 1 < sizeof(rec_buf)) {
		memcpy(rec_buf + rec_len, s.s, s.len);
		rec_len += s.len;
		rec_buf[rec_len++] = '|';
		rec_buf[rec_len] = '\0';
	}
}

static int f_rec(struct scr_ctx *c, const struct scr_arg *a) { (void)c; rec_add(a[0].s); return 1; }
static int f_ret(struct scr_ctx *c, const struct scr_arg *a) { (void)c; ncalls++; return (int)a[0].i; }
static int f_count(struct scr_ctx *c, const struct scr_arg *a) { (void)c; (void)a; return (int)++ncalls; }
static int f_setflag(struct scr_ctx *c, const struct scr_arg *a) { c->flags |= 1ull << a[0].i; return 1; }
static int f_isflag(struct scr_ctx *c, const struct scr_arg *a) { return (c->flags >> a[0].i) & 1 ? 1 : -1; }
static int f_isflag0(struct scr_ctx *c, const struct scr_arg *a) { (void)a; return c->flags & 1 ? 1 : -1; }
static int f_into(struct scr_ctx *c, const struct scr_arg *a)
{
	struct scr_value v = { 0, 0, SY_STR("filled") };

	return scr_pvar_set(c, a[0].p, &v) == 0 ? 1 : -1;
}
static int f_failroute(struct scr_ctx *c, const struct scr_arg *a)
{
	c->host2 = (void *)(intptr_t)(a[0].i + 100);
	return 1;
}

static const struct scr_fn core_fns[] = {
	{ "rec", 1, 1, { SCR_ARG_STR }, SCR_ROUTE_ANY, f_rec },
	{ "is_m", 0, 0, { 0 }, SCR_ROUTE_ANY, f_isflag0 },
	{ "ret", 1, 1, { SCR_ARG_INT }, SCR_ROUTE_ANY, f_ret },
	{ "count", 0, 0, { 0 }, SCR_ROUTE_ANY, f_count },
	{ "setflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, f_setflag },
	{ "isflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, f_isflag },
	{ "into", 1, 1, { SCR_ARG_PVAR }, SCR_ROUTE_ANY, f_into },
	{ "t_on_failure", 1, 1, { SCR_ARG_ROUTE_FAILURE }, SCR_ROUTE_ANY, f_failroute },
	{ NULL, 0, 0, { 0 }, 0, NULL },
};
static const struct scr_unit core_u = { "core", core_fns, NULL, NULL };
const struct scr_unit *const scr_units[] = { &core_u, NULL };

/* ---- fixture */
static const char INVITE[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
	"Max-Forwards: 70\r\n"
	"To: Bob <sip:bob@biloxi.example.com>\r\n"
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
	"User-Agent: softphone/1.0\r\n"
	"X-Custom: hello world\r\n"
	"X-N: 999999999999999999\r\n"
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

struct fx {
	struct sip_hdr hdr[32];
	struct sip_msg m;
	struct sip_edit e[32];
	struct sip_build b;
	struct sy_rcvinfo rcv;
	struct sy_arena arena;
	char mem[65536];
	struct scr_ctx ctx;
	struct scr_prog *prog;
};
static struct fx F;

static void setup_msg(const char *msg)
{
	memset(&F, 0, sizeof(F));
	rec_len = 0;
	rec_buf[0] = '\0';
	ncalls = 0;
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
	F.rcv.src.len = sizeof(struct sockaddr_in);
	F.rcv.dst.u.in.sin_family = AF_INET;
	F.rcv.dst.u.in.sin_port = htons(5060);
	inet_pton(AF_INET, "198.51.100.1", &F.rcv.dst.u.in.sin_addr);
	F.ctx.msg = &F.m;
	F.ctx.rcv = &F.rcv;
	F.ctx.edits = &F.b;
	F.ctx.arena = &F.arena;
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

/* run the main request route of script on INVITE; returns scr_run's result */
static int run(const char *script)
{
	int rc;

	setup_msg(INVITE);
	load(script);
	rc = scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
	return rc;
}

static void done(void)
{
	scr_free(F.prog);
	F.prog = NULL;
}

static void expect_rec(const char *want)
{
	if (strcmp(rec_buf, want) != 0)
		fail_msg("recorded\n  %s\nwanted\n  %s", rec_buf, want);
}

/* ---- tests */

static void test_pvar_reads(void **st)
{
	(void)st;
	run("route {\n"
	    "  rec($rm); rec($ru); rec($rU); rec($rd); rec($fu); rec($fU); rec($fd); rec($ft);\n"
	    "  rec($tu); rec($tU); rec($td); rec($ci); rec($cs); rec($ua); rec($hdr(x-custom));\n"
	    "  rec($si); rec($sp); rec($src_ip); rec($proto); rec($T_reply_code);\n"
	    "  rec(\"[$tt]\"); rec(\"[$rp]\"); rec(\"[$du]\"); rec(\"[$hdr(Nope)]\");\n"
	    "  rec(\"sip:$rU@$rd;x=$cs\"); rec(method); rec(uri);\n"
	    "  $ru = \"sip:new@n.example\"; rec(\"$ou $oU $od [$op] $ru\");\n"
	    "  rec(\"[$rb] $cl $ct [$cT] $fn [$tn] $rv $Ri:$Rp\");\n"
	    "}\n");
	expect_rec("INVITE|sip:bob@biloxi.example.com|bob|biloxi.example.com|"
		   "sip:alice@atlanta.example.com|alice|atlanta.example.com|1928301774|"
		   "sip:bob@biloxi.example.com|bob|biloxi.example.com|"
		   "a84b4c76e66710@pc33.atlanta.example.com|314159|softphone/1.0|hello world|"
		   "192.0.2.7|5062|192.0.2.7|udp|0|[]|[]|[]|[]|"
		   "sip:bob@biloxi.example.com;x=314159|INVITE|sip:bob@biloxi.example.com|"
		   "sip:bob@biloxi.example.com bob biloxi.example.com [] sip:new@n.example|"
		   "[] 0 <sip:alice@pc33.atlanta.example.com> [] Alice [Bob] SIP/2.0 "
		   "198.51.100.1:5060|");
	done();
}

static void test_pvar_writes(void **st)
{
	(void)st;
	run("route {\n"
	    "  $rU = \"carol\"; rec($ru);\n"
	    "  $rd = \"example.org\"; rec($ru);\n"
	    "  $rp = 5080; rec($ru); rec($rp);\n"
	    "  $rp = \"\"; rec($ru);\n"
	    "  $rU = \"\"; rec($ru);\n"
	    "  $rU = \"dave\"; rec($ru);\n"
	    "  $ru = \"sip:eve@h.example;transport=tcp\"; rec($rU); rec($rd);\n"
	    "  $du = \"sip:10.0.0.1:5090\"; rec($du);\n"
	    "  $var(a) = 5; $var(a) = $var(a) + 1; rec($var(a));\n"
	    "  $var(s) = \"x\" + $var(a) + \"y\"; rec($var(s));\n"
	    "  $var(n) = (2 + 3) * 4 - 10 / 5; rec($var(n));\n"
	    "  $var(b) = 6 & 3 | 8; rec($var(b));\n"
	    "  $var(c) := 17 % 5; $var(c) += 10; $var(c) *= 3; $var(c) -= 1; $var(c) /= 2;\n"
	    "  $var(c) %= 7; $var(c) |= 8; $var(c) &= 12; rec($var(c));\n"
	    "  $var(t) = \"a\"; $var(t) += \"b$rU\"; rec($var(t));\n"
	    "  $avp(k) = \"val-$ci\"; rec($avp(k));\n"
	    "  into($var(z)); rec($var(z));\n"
	    "  $var(a) = NULL; rec(\"[$var(a)]\");\n"
	    "}\n");
	expect_rec("sip:carol@biloxi.example.com|sip:carol@example.org|sip:carol@example.org:5080|"
		   "5080|sip:carol@example.org|sip:example.org|sip:dave@example.org|eve|h.example|"
		   "sip:10.0.0.1:5090|6|x6y|18|10|8|abeve|val-a84b4c76e66710@pc33.atlanta.example.com|"
		   "filled|[]|");
	assert_true(sy_str_eq(scr_ctx_ruri(&F.ctx), SY_STR("sip:eve@h.example;transport=tcp")));
	assert_true(sy_str_eq(F.ctx.dst_uri, SY_STR("sip:10.0.0.1:5090")));
	/* nothing written into the message itself: the R-URI change is the sender's to apply */
	assert_int_equal(F.b.n, 0);
	done();
}

static void test_if_else_and_logic(void **st)
{
	(void)st;
	run("route {\n"
	    "  if ($rm == \"INVITE\") rec(\"a\"); else rec(\"b\");\n"
	    "  if ($rm != \"INVITE\") { rec(\"c\"); } else if ($cs > 100) { rec(\"d\"); } else { rec(\"e\"); }\n"
	    "  if (ret(-1) && rec(\"no\")) rec(\"no2\");\n"
	    "  if (ret(1) || rec(\"no3\")) rec(\"f\");\n"
	    "  if (!ret(-1)) rec(\"g\");\n"
	    "  if (ret(2) > 1) rec(\"h\");\n"
	    "  if ($cs == \"314159\") rec(\"i\");\n"
	    "  if (\"abc\" < \"abd\" && 3 >= 3 && 2 <= 1 || 1) rec(\"j\");\n"
	    "  if ($tt == NULL && $ft != NULL && $du == NULL) rec(\"k\");\n"
	    "  if ($rm =~ \"^inv\") rec(\"l\");\n"
	    "  if ($rm !~ \"^REG\") rec(\"m\");\n"
	    "  if ($hdr(X-Custom) =~ \"wor\") rec(\"n\");\n"
	    "  if (-$cs < 0) rec(\"o\");\n"
	    "}\n");
	expect_rec("a|d|f|g|h|i|j|k|l|m|n|o|");
	assert_int_equal(ncalls, 4);
	done();
}

static void test_flags(void **st)
{
	(void)st;
	run("route {\n"
	    "  if (isflag(3)) rec(\"early\");\n"
	    "  setflag(3); setflag(NAT); setflag(\"NAT\"); setflag(OTHER);\n"
	    "  if (isflag(3)) rec(\"three\");\n"
	    "  if (isflag(NAT)) rec(\"nat\");\n"
	    "  if (isflag(\"UNSET\")) rec(\"bad\");\n"
	    "}\n");
	expect_rec("three|nat|");
	/* 3 numeric, NAT and OTHER named: three distinct bits */
	assert_int_equal(__builtin_popcountll(F.ctx.flags), 3);
	assert_true(F.ctx.flags & (1u << 3));
	/* names get bits at load, in order of first use, numbers are kept as they are */
	assert_int_equal(scr_flag_index(F.prog, SY_STR("NAT")), 0);
	assert_int_equal(scr_flag_index(F.prog, SY_STR("OTHER")), 1);
	assert_int_equal(scr_flag_index(F.prog, SY_STR("UNSET")), 2);
	assert_int_equal(scr_flag_index(F.prog, SY_STR("NOPE")), -1);
	assert_true(F.ctx.flags & 1);
	done();
}

static void test_switch(void **st)
{
	(void)st;
	/* value 1 falls through into case 2 */
	run("route { $var(k) = 1; switch ($var(k)) { case 1: rec(\"one\");\n"
	    " case 2: rec(\"two\"); break; case \"x\": rec(\"ex\"); break; default: rec(\"d\"); }\n"
	    " rec(\"after\"); }\n");
	expect_rec("one|two|after|");
	done();
	run("route { $var(k) = \"x\"; switch ($var(k)) { case 1: rec(\"one\"); break;\n"
	    " case \"x\": rec(\"ex\"); break; default: rec(\"d\"); } rec(\"after\"); }\n");
	expect_rec("ex|after|");
	done();
	run("route { switch ($rm) { case \"BYE\": rec(\"bye\"); break; default: rec(\"d\"); }\n"
	    " switch ($rm) { case \"BYE\": rec(\"bye\"); } rec(\"end\"); }\n");
	expect_rec("d|end|");
	done();
}

static void test_while_and_bound(void **st)
{
	(void)st;
	run("route { $var(i) = 0; $var(sum) = 0;\n"
	    " while ($var(i) < 5) { $var(i) = $var(i) + 1; $var(sum) = $var(sum) + $var(i);\n"
	    "   if ($var(i) == 4) break; }\n"
	    " rec($var(sum)); rec($var(i)); }\n");
	expect_rec("10|4|");
	done();
	/* an endless loop is cut at 10000 iterations and the route goes on */
	run("route { while (1) { count(); } rec(\"after\"); }\n");
	assert_int_equal(ncalls, 10000);
	expect_rec("after|");
	done();
	/* nested loops: the whole run is bounded too, and the script stops */
	assert_int_equal(run("route { while (1) { while (1) { count(); } } rec(\"no\"); }\n"), 0);
	assert_true(ncalls < 100000);
	assert_true(F.ctx.exited);
	expect_rec("");
	done();
}

/* integer overflow is undefined behaviour in C (UBSan aborts on it): a value from the message
 * or a doubling loop must give one log line and 0, like a division by zero, not a crash */
static void test_arith_overflow(void **st)
{
	(void)st;
	run("route { $var(a) = 9223372036854775807 + 1; rec($var(a));\n"
	    " $var(b) = 0 - 9223372036854775807 - 2; rec($var(b));\n"
	    " $var(c) = 999999999999999999 * 999999999999999999; rec($var(c));\n"
	    " $var(d) = $hdr(X-N) * 100000; rec($var(d));\n"
	    " $var(m) = 0 - 9223372036854775807 - 1; $var(e) = 0 - $var(m); rec($var(e));\n"
	    " $var(f) = -$var(m); rec($var(f));\n"
	    " $var(g) = $var(m) * -1; rec($var(g));\n"
	    " $var(y) = 1; $var(i) = 0;\n"
	    " while ($var(y) > 0) { $var(y) = $var(y) * 2; $var(i) = $var(i) + 1; }\n"
	    " rec($var(i)); rec(3 * 4 - 5);\n"
	    " rec($var(m)); rec(0 - 42); rec(\"n=\" + 0); rec(9223372036854775807); }\n");
	expect_rec("0|0|0|0|0|0|0|63|7|-9223372036854775808|-42|n=0|9223372036854775807|");
	done();
}

static void test_routes_and_return(void **st)
{
	(void)st;
	int rc;

	rc = run("route {\n"
		 "  if (route(neg)) rec(\"neg-true\"); else rec(\"neg-false\");\n"
		 "  if (route(pos)) rec(\"pos-true\");\n"
		 "  $var(r) = route(seven); rec($var(r));\n"
		 "  route(last);\n"
		 "  rec(\"back\");\n"
		 "  return(-3);\n"
		 "  rec(\"unreached\");\n"
		 "}\n"
		 "route[neg] { return(-2); }\n"
		 "route[pos] { rec(\"in-pos\"); }\n"
		 "route[seven] { return(7); }\n"
		 "route[last] { ret(-5); }\n");
	expect_rec("neg-false|in-pos|pos-true|7|back|");
	assert_int_equal(rc, -3);
	assert_false(F.ctx.exited);
	done();

	/* $rc / $retcode: the last function or route result */
	run("route { ret(-4); rec($rc); route(seven); rec($retcode); count();\n"
	    " switch ($rc) { case 2: rec(\"two\"); break; default: rec(\"other\"); }\n"
	    " rec($rc); }\n"
	    "route[seven] { return(7); }\n");
	/* every call sets it, rec() included */
	expect_rec("-4|7|two|1|");
	done();

	/* the last function result is the route's result */
	rc = run("route { ret(-4); }\n");
	assert_int_equal(rc, -4);
	done();
	/* return(0) and exit stop everything */
	rc = run("route { route(z); rec(\"no\"); }\nroute[z] { return(0); }\n");
	assert_int_equal(rc, 0);
	assert_true(F.ctx.exited);
	expect_rec("");
	done();
	rc = run("route { route(z); rec(\"no\"); }\nroute[z] { rec(\"z\"); exit; }\n");
	assert_int_equal(rc, 0);
	assert_true(F.ctx.exited);
	expect_rec("z|");
	done();
	rc = run("route { rec(\"a\"); drop; rec(\"no\"); }\n");
	assert_int_equal(rc, 0);
	assert_true(F.ctx.dropped);
	assert_false(F.ctx.exited);
	done();
	/* a function returning 0 stops the script, like exit */
	rc = run("route { rec(\"a\"); if (ret(0)) rec(\"no\"); rec(\"no2\"); }\n");
	assert_int_equal(rc, 0);
	assert_true(F.ctx.exited);
	expect_rec("a|");
	done();
	/* route calls fanning out (2^20 here) are bounded too */
	rc = run("route { route(a); }\n"
		 "route[a] { route(b); route(b); }\nroute[b] { route(c); route(c); }\n"
		 "route[c] { route(d); route(d); }\nroute[d] { route(e); route(e); }\n"
		 "route[e] { route(f); route(f); }\nroute[f] { route(g); route(g); }\n"
		 "route[g] { route(h); route(h); }\nroute[h] { route(i); route(i); }\n"
		 "route[i] { route(j); route(j); }\nroute[j] { route(k); route(k); }\n"
		 "route[k] { route(l); route(l); }\nroute[l] { route(m); route(m); }\n"
		 "route[m] { route(n); route(n); }\nroute[n] { route(o); route(o); }\n"
		 "route[o] { route(p); route(p); }\nroute[p] { route(q); route(q); }\n"
		 "route[q] { route(r); route(r); }\nroute[r] { route(s); route(s); }\n"
		 "route[s] { route(t); route(t); }\nroute[t] { count(); count(); }\n");
	assert_int_equal(rc, 0);
	assert_true(F.ctx.exited);
	assert_true(ncalls > 1000 && ncalls < 200000);
	done();
	/* recursion is cut, not a crash */
	rc = run("route { route(r); }\nroute[r] { count(); route(r); }\n");
	assert_int_equal(rc, 0);
	assert_int_equal(ncalls, 63);
	done();
}

static void test_myself(void **st)
{
	(void)st;
	run("listen = udp:biloxi.example.com:5060\n"
	    "alias = other.example\n"
	    "route {\n"
	    "  if (uri == myself) rec(\"uri\");\n"
	    "  if ($rd == myself) rec(\"rd\");\n"
	    "  if ($fd == myself) rec(\"no\");\n"
	    "  if ($fu != myself) rec(\"fu-not\");\n"
	    "  $ru = \"sip:x@biloxi.example.com:5070\";\n"
	    "  if (uri == myself) rec(\"no2\");\n"
	    "  $ru = \"sip:x@OTHER.example:5070\";\n"
	    "  if (myself == uri) rec(\"alias\");\n"
	    "}\n");
	expect_rec("uri|rd|fu-not|alias|");
	done();
}

static void test_route_arg_and_reply_route(void **st)
{
	(void)st;
	int rc;

	setup_msg(INVITE);
	load("route { t_on_failure(\"f2\"); }\n"
	     "failure_route[f1] { rec(\"f1\"); }\n"
	     "failure_route[f2] { rec(\"f2 $T_reply_code\"); }\n"
	     "onreply_route { rec(\"$rs $rr $rm $tt\"); if (status =~ \"^4\") rec(\"4xx\"); }\n");
	rc = scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
	assert_int_equal(rc, 1);
	/* the handler got the failure_route index of f2 */
	assert_int_equal((intptr_t)F.ctx.host2,
			 100 + scr_route_index(F.prog, SCR_ROUTE_FAILURE, SY_STR("f2")));
	F.ctx.reply_code = 408;
	scr_run(&F.ctx, SCR_ROUTE_FAILURE, (int)((intptr_t)F.ctx.host2 - 100));
	expect_rec("f2 408|");
	/* a missing route is refused, not run */
	assert_int_equal(scr_run(&F.ctx, SCR_ROUTE_BRANCH, 0), -1);
	struct scr_prog *p = F.prog;

	setup_msg(REPLY);
	F.prog = p;
	F.ctx.prog = p;
	rc = scr_run(&F.ctx, SCR_ROUTE_ONREPLY, 0);
	expect_rec("486 Busy Here INVITE a6c85cf|4xx|");
	done();
}

static void test_no_message(void **st)
{
	(void)st;
	/* startup/timer routes run without a message: reads are empty, nothing crashes */
	setup_msg(INVITE);
	load("startup_route { rec(\"[$rm][$ru][$hdr(X)][$si]\"); $rU = \"x\"; rec(\"[$ru]\"); }\n");
	F.ctx.msg = NULL;
	F.ctx.rcv = NULL;
	assert_int_equal(scr_run(&F.ctx, SCR_ROUTE_STARTUP, 0), 1);
	expect_rec("[][][][]|[]|");
	done();
}

static void test_arena_full(void **st)
{
	(void)st;
	setup_msg(INVITE);
	load("route { $var(a) = \"$ci$ci$ci$ci\"; rec(\"[$var(a)]\"); }\n");
	F.arena.cap = 64;	/* far too small: strings come out empty, logged, no crash */
	scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
	done();
}

/* ctx->trace: each route, condition, call, assignment and exit, indented by depth */
static void test_trace(void **st)
{
	(void)st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	setup_msg(INVITE);
	load("route {\n"
	     "  if (is_m()) rec(\"x\");\n"
	     "  $var(a) = \"v-$rU\";\n"
	     "  route(sub);\n"
	     "}\n"
	     "route[sub] {\n"
	     "  setflag(NAT); ret(\"3\");\n"
	     "  exit;\n"
	     "}\n");
	F.ctx.trace = f;
	scr_run(&F.ctx, SCR_ROUTE_REQUEST, 0);
	fclose(f);
	assert_string_equal(buf,
			    "route (t.cfg:1)\n"
			    "  2:7: is_m() = -1\n"
			    "  2:3: if: false\n"
			    "  3:3: $var(a) = \"v-bob\"\n"
			    "  route[sub] (t.cfg:6)\n"
			    "    7:3: setflag(NAT) = 1\n"
			    "    7:17: ret(3) = 3\n"
			    "    8:3: exit\n");
	free(buf);
	done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvar_reads),
		cmocka_unit_test(test_pvar_writes),
		cmocka_unit_test(test_if_else_and_logic),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_while_and_bound),
		cmocka_unit_test(test_arith_overflow),
		cmocka_unit_test(test_routes_and_return),
		cmocka_unit_test(test_myself),
		cmocka_unit_test(test_route_arg_and_reply_route),
		cmocka_unit_test(test_no_message),
		cmocka_unit_test(test_arena_full),
		cmocka_unit_test(test_trace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
