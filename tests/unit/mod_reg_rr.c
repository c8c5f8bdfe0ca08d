/* mod_reg_rr.c: record-routing and loose routing on parsed requests: single and double
 * Record-Route, preset, and every §16.4 / §16.12 case of loose_route() (our Route values
 * removed, loose and strict next hops, strict previous hop, malformed Route). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "mod/nathelper.h"
#include "mod/rr.h"
#include "sip/build.h"
#include "sip/msg.h"
#include "tp/tp.h"

static char arena_mem[64 * 1024];
static struct sy_arena arena;
static struct sy_rcvinfo rcv;
static char buf[8192];
static struct sip_hdr hdr[64];
static struct sip_msg m;
static struct sip_edit edits[32];
static struct sip_build build;
static struct scr_ctx ctx;
static char out[8192];

static int setup_all(void **state)
{
	(void)state;
	tp_listen_reset();
	assert_int_equal(tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), 17000, NULL), 0);
	assert_int_equal(tp_listen_add(SY_PROTO_TCP, SY_STR("127.0.0.1"), 17001, NULL), 0);
	assert_int_equal(tp_listen_add(SY_PROTO_UDP, SY_STR("::1"), 17002, NULL), 0);
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	tp_listen_reset();
	return 0;
}

static void mk(const char *ruri, const char *extra)
{
	struct sip_limits lim;
	int n = snprintf(buf, sizeof(buf),
			 "INVITE %s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.168.1.5:5062;branch=z9hG4bK1\r\n"
			 "Max-Forwards: 70\r\n"
			 "To: <sip:bob@example.com>\r\n"
			 "From: <sip:alice@example.com>;tag=1\r\n"
			 "Call-ID: rr-1\r\n"
			 "CSeq: 1 INVITE\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n", ruri, extra);

	sip_limits_default(&lim);
	memset(&m, 0, sizeof(m));
	m.hdr = hdr;
	m.hdr_cap = 64;
	assert_int_equal(sip_msg_parse(&m, buf, (size_t)n, 0, &lim), 0);
	sy_arena_init(&arena, arena_mem, sizeof(arena_mem));
	memset(&rcv, 0, sizeof(rcv));
	rcv.proto = SY_PROTO_UDP;
	rcv.listen_idx = 0;
	rcv.src.u.in.sin_family = AF_INET;
	rcv.src.u.in.sin_port = htons(40000);
	inet_pton(AF_INET, "192.0.2.10", &rcv.src.u.in.sin_addr);
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = &m;
	ctx.rcv = &rcv;
	ctx.arena = &arena;
	ctx.route_type = SCR_ROUTE_REQUEST;
	sip_build_init(&build, &m, edits, 32);
	ctx.edits = &build;
}

static const char *result(void)
{
	size_t len;

	assert_int_equal(sip_build_out(&build, out, sizeof(out) - 1, &len), 0);
	out[len] = '\0';
	return out;
}

static int count_of(const char *hay, const char *needle)
{
	int c = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		c++;
	return c;
}

static void test_record_route_single(void **state)
{
	(void)state;
	mk("sip:bob@10.0.0.9:5060", "Record-Route: <sip:up.example.net;lr>\r\n");
	assert_int_equal(rr_record_route(&ctx, SY_NULL_STR), 0);
	result();
	assert_int_equal(count_of(out, "Record-Route: <sip:127.0.0.1:17000;lr>\r\n"), 1);
	/* ours above the existing one */
	assert_true(strstr(out, "Record-Route: <sip:127.0.0.1:17000;lr>") <
		    strstr(out, "Record-Route: <sip:up.example.net;lr>"));
	assert_int_equal(count_of(out, "Record-Route:"), 2);

	mk("sip:bob@10.0.0.9", "");
	assert_int_equal(rr_record_route(&ctx, SY_STR(";ftag=1")), 0);
	assert_non_null(strstr(result(), "Record-Route: <sip:127.0.0.1:17000;lr;ftag=1>\r\n"));
	assert_int_equal(rr_record_route(&ctx, SY_STR("bad")), EINVAL);
}

static void test_record_route_ipv6(void **state)
{
	(void)state;
	mk("sip:bob@[::1]:5070", "");
	rcv.listen_idx = 2;
	assert_int_equal(rr_record_route(&ctx, SY_NULL_STR), 0);
	assert_non_null(strstr(result(), "Record-Route: <sip:[::1]:17002;lr>\r\n"));
	assert_true(rr_is_myself(SY_STR("[::1]"), 17002));
	mk("sip:bob@[::1]:5070", "Route: <sip:[::1]:17002;lr>, <sip:[::1]:5090;lr>\r\n");
	assert_int_equal(rr_loose_route(&ctx), 1);
	assert_true(sy_str_eq(ctx.dst_uri, SY_STR("sip:[::1]:5090;lr")));
}

static void test_record_route_double(void **state)
{
	const char *tcp_rr = "Record-Route: <sip:127.0.0.1:17001;transport=tcp;lr>\r\n";
	const char *udp_rr = "Record-Route: <sip:127.0.0.1:17000;lr>\r\n";

	(void)state;
	/* UDP in, TCP out: two entries, the outgoing leg's on top */
	mk("sip:bob@10.0.0.9:5070;transport=tcp", "");
	assert_int_equal(rr_record_route(&ctx, SY_NULL_STR), 0);
	result();
	assert_non_null(strstr(out, tcp_rr));
	assert_non_null(strstr(out, udp_rr));
	assert_true(strstr(out, tcp_rr) < strstr(out, udp_rr));

	/* the $du decides when set */
	mk("sip:bob@10.0.0.9", "");
	ctx.dst_uri = SY_STR("sip:10.0.0.1:5090;transport=tcp");
	assert_int_equal(rr_record_route(&ctx, SY_NULL_STR), 0);
	assert_int_equal(count_of(result(), "Record-Route:"), 2);
}

static void test_record_route_preset(void **state)
{
	(void)state;
	mk("sip:bob@10.0.0.9", "");
	assert_int_equal(rr_record_route_preset(&ctx, SY_STR("203.0.113.1:5060"), SY_NULL_STR), 0);
	assert_non_null(strstr(result(), "Record-Route: <sip:203.0.113.1:5060;lr>\r\n"));
	mk("sip:bob@10.0.0.9", "");
	assert_int_equal(rr_record_route_preset(&ctx, SY_STR("sip:a.example;transport=tcp"),
						SY_STR("b.example")), 0);
	result();
	assert_true(strstr(out, "<sip:a.example;transport=tcp;lr>") <
		    strstr(out, "<sip:b.example;lr>"));
}

static void test_loose_route_none(void **state)
{
	(void)state;
	mk("sip:bob@10.0.0.9", "");
	assert_int_equal(rr_loose_route(&ctx), -1);
	assert_int_equal(ctx.dst_uri.len, 0);
	assert_int_equal(build.n, 0);
}

static void test_loose_route_ours_then_next(void **state)
{
	(void)state;
	mk("sip:bob@10.0.0.9", "Route: <sip:127.0.0.1:17000;lr>, <sip:10.0.0.5;lr>\r\n");
	assert_int_equal(rr_loose_route(&ctx), 1);
	assert_true(sy_str_eq(ctx.dst_uri, SY_STR("sip:10.0.0.5;lr")));
	assert_int_equal(ctx.new_ruri.len, 0);
	result();
	assert_non_null(strstr(out, "Route: <sip:10.0.0.5;lr>\r\n"));
	assert_null(strstr(out, "17000"));

	/* double record-route: our two values (both transports), in separate fields */
	mk("sip:bob@10.0.0.9", "Route: <sip:127.0.0.1:17001;transport=tcp;lr>\r\n"
	   "Route: <sip:127.0.0.1:17000;lr>\r\nRoute: <sip:10.0.0.5;lr>, <sip:10.0.0.6;lr>\r\n");
	assert_int_equal(rr_loose_route(&ctx), 1);
	assert_true(sy_str_eq(ctx.dst_uri, SY_STR("sip:10.0.0.5;lr")));
	result();
	assert_int_equal(count_of(out, "Route:"), 1);
	assert_non_null(strstr(out, "Route: <sip:10.0.0.5;lr>, <sip:10.0.0.6;lr>\r\n"));

	/* only ours: processed, nothing left, the R-URI is the target */
	mk("sip:bob@10.0.0.9", "Route: <sip:127.0.0.1:17000;lr>\r\n");
	assert_int_equal(rr_loose_route(&ctx), 1);
	assert_int_equal(ctx.dst_uri.len, 0);
	assert_null(strstr(result(), "Route:"));

	/* first value not ours: sent there, nothing removed */
	mk("sip:bob@10.0.0.9", "Route: <sip:10.0.0.5;lr>\r\n");
	assert_int_equal(rr_loose_route(&ctx), 1);
	assert_true(sy_str_eq(ctx.dst_uri, SY_STR("sip:10.0.0.5;lr")));
	assert_non_null(strstr(result(), "Route: <sip:10.0.0.5;lr>\r\n"));
}

static void test_loose_route_strict_prev_hop(void **state)
{
	(void)state;
	/* a strict router before us put our RR URI in the R-URI and the target last in Route */
	mk("sip:127.0.0.1:17000;lr", "Route: <sip:10.0.0.5;lr>, <sip:bob@10.0.0.9:5062>\r\n");
	assert_int_equal(rr_loose_route(&ctx), 1);
	assert_true(sy_str_eq(ctx.new_ruri, SY_STR("sip:bob@10.0.0.9:5062")));
	assert_true(sy_str_eq(ctx.dst_uri, SY_STR("sip:10.0.0.5;lr")));
	result();
	assert_non_null(strstr(out, "Route: <sip:10.0.0.5;lr>\r\n"));
	assert_null(strstr(out, "Route: <sip:10.0.0.5;lr>, "));
}

static void test_loose_route_preloaded_to_us(void **state)
{
	(void)state;
	/* a request for the proxy itself through a preloaded Route (outbound proxy): not the
	 * strict-router case (no ;lr in the R-URI), our Route just goes */
	mk("sip:127.0.0.1:17000", "Route: <sip:127.0.0.1:17000;lr>\r\n");
	assert_int_equal(rr_loose_route(&ctx), 1);
	assert_int_equal(ctx.new_ruri.len, 0);
	assert_int_equal(ctx.dst_uri.len, 0);
	assert_null(strstr(result(), "Route:"));
}

static void test_loose_route_strict_next_hop(void **state)
{
	(void)state;
	/* §16.6 step 6: the next hop has no ;lr: it becomes the R-URI, the R-URI goes last */
	mk("sip:bob@10.0.0.9", "Route: <sip:127.0.0.1:17000;lr>, <sip:10.0.0.5>, <sip:10.0.0.7;lr>\r\n");
	assert_int_equal(rr_loose_route(&ctx), 1);
	assert_true(sy_str_eq(ctx.new_ruri, SY_STR("sip:10.0.0.5")));
	assert_int_equal(ctx.dst_uri.len, 0);
	result();
	assert_non_null(strstr(out, "Route: <sip:10.0.0.7;lr>\r\n"));
	assert_non_null(strstr(out, "Route: <sip:bob@10.0.0.9>\r\n"));
	assert_true(strstr(out, "<sip:10.0.0.7;lr>") < strstr(out, "<sip:bob@10.0.0.9>"));
}

static void test_loose_route_malformed(void **state)
{
	(void)state;
	mk("sip:bob@10.0.0.9", "Route: <sip:10.0.0.5;lr\r\n");
	assert_int_equal(rr_loose_route(&ctx), -1);
	assert_int_equal(build.n, 0);
}

static void test_myself(void **state)
{
	(void)state;
	assert_true(rr_is_myself(SY_STR("127.0.0.1"), 17000));
	assert_true(rr_is_myself(SY_STR("127.0.0.1"), 17001));
	assert_false(rr_is_myself(SY_STR("127.0.0.1"), 5060));
	assert_false(rr_is_myself(SY_STR("10.0.0.1"), 17000));
}

static void test_nat_helpers(void **state)
{
	(void)state;
	assert_true(nh_is_private(SY_STR("10.1.2.3")));
	assert_true(nh_is_private(SY_STR("172.31.0.1")));
	assert_false(nh_is_private(SY_STR("172.32.0.1")));
	assert_true(nh_is_private(SY_STR("192.168.0.1")));
	assert_true(nh_is_private(SY_STR("100.64.0.1")));
	assert_false(nh_is_private(SY_STR("100.128.0.1")));
	assert_true(nh_is_private(SY_STR("[fd00::1]")));
	assert_false(nh_is_private(SY_STR("[2001:db8::1]")));
	assert_false(nh_is_private(SY_STR("example.com")));

	/* Via 192.168.1.5:5062 from 192.0.2.10:40000 */
	mk("sip:bob@10.0.0.9", "Contact: <sip:alice@192.168.1.5:5062>\r\n");
	assert_int_equal(nh_uac_test(&ctx, NH_T_CONTACT_PRIVATE), 1);
	assert_int_equal(nh_uac_test(&ctx, NH_T_VIA_RECEIVED), 1);
	assert_int_equal(nh_uac_test(&ctx, NH_T_VIA_PRIVATE), 1);
	assert_int_equal(nh_uac_test(&ctx, NH_T_VIA_PORT), 1);
	assert_int_equal(nh_uac_test(&ctx, NH_T_SDP_PRIVATE), -1);
	assert_int_equal(nh_fix_contact(&ctx), 0);
	assert_non_null(strstr(result(), "Contact: <sip:alice@192.0.2.10:40000>\r\n"));

	/* a UA that is not behind NAT passes every test */
	mk("sip:bob@10.0.0.9", "Contact: <sip:alice@192.0.2.10:40000>\r\n");
	m.via1.host = SY_STR("192.0.2.10");
	m.via1.port = 40000;
	assert_int_equal(nh_uac_test(&ctx, 1 | 2 | 4 | 8 | 16), -1);

	/* SDP c= lines (RFC 4566 §5.7): the address is written without brackets in IP6 too */
	m.body = SY_STR("v=0\r\nc=IN IP4 192.168.0.7\r\n");
	assert_int_equal(nh_uac_test(&ctx, NH_T_SDP_PRIVATE), 1);
	m.body = SY_STR("v=0\r\nc=IN IP4 192.0.2.7/127\r\n");
	assert_int_equal(nh_uac_test(&ctx, NH_T_SDP_PRIVATE), -1);
	m.body = SY_STR("v=0\r\nc=IN IP6 fd00::7\r\n");
	assert_int_equal(nh_uac_test(&ctx, NH_T_SDP_PRIVATE), 1);
	m.body = SY_STR("v=0\r\nc=IN IP6 2001:db8::7\r\n");
	assert_int_equal(nh_uac_test(&ctx, NH_T_SDP_PRIVATE), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_route_single),
		cmocka_unit_test(test_record_route_double),
		cmocka_unit_test(test_record_route_ipv6),
		cmocka_unit_test(test_record_route_preset),
		cmocka_unit_test(test_loose_route_none),
		cmocka_unit_test(test_loose_route_ours_then_next),
		cmocka_unit_test(test_loose_route_strict_prev_hop),
		cmocka_unit_test(test_loose_route_preloaded_to_us),
		cmocka_unit_test(test_loose_route_strict_next_hop),
		cmocka_unit_test(test_loose_route_malformed),
		cmocka_unit_test(test_myself),
		cmocka_unit_test(test_nat_helpers),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
