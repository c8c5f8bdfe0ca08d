/* proxy_path.c: the stateless proxy path in-process on loopback (ports 1503x): a test unit
 * table gives the script fwd() -> px_forward and reply() -> px_reply; a UDP "client" and
 * "next hop" socket check what crosses the wire: our Via and its stable §16.11 branch,
 * received/rport (§18.2.1, RFC 3581), Max-Forwards, 483, 400 for a malformed request, 420 with
 * Unsupported, replies relayed by Via without our Via, onreply_route drop, foreign Via and
 * broadcast destinations dropped, px_resolve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/worker.h"
#include "proxy/proxy.h"
#include "tp/tp.h"

#define P_PROXY 15030
#define P_HOP 15031
#define P_CLIENT 15032

static int t_fwd(struct scr_ctx *ctx, const struct scr_arg *a)
{
	(void)a;
	return px_forward(ctx, NULL) ? -1 : 1;
}

static int t_reply(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return px_reply(ctx, (unsigned)a[0].i, a[1].s, SY_NULL_STR) ? -1 : 1;
}

static const struct scr_fn t_fns[] = {
	{ "fwd", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST, t_fwd },
	{ "reply", 2, 2, { SCR_ARG_INT, SCR_ARG_STR }, SCR_ROUTE_REQUEST, t_reply },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};
static const struct scr_modparam t_params[] = { { NULL, SCR_PARAM_INT, NULL } };
static const struct scr_unit t_unit = { "core", t_fns, t_params, NULL };
const struct scr_unit *const scr_units[] = { &t_unit, NULL };

static const char script[] =
	"listen = udp:127.0.0.1:15030\n"
	"route {\n"
	"  if ($rm == \"MESSAGE\") { reply(488, \"Not Here\"); exit; }\n"
	"  $du = \"sip:127.0.0.1:15031\";\n"
	"  fwd();\n"
	"}\n"
	"onreply_route {\n"
	"  if ($rs == 183) { drop; }\n"
	"}\n";

static struct sy_loop *loop;
static int hop_fd, cli_fd;

static int bound_udp(unsigned port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int setup(void **state)
{
	(void)state;
	if (scr_load_mem("test.cfg", script, sizeof(script) - 1, stderr, &px_prog) || !px_prog)
		return -1;
	tp_listen_reset();
	if (tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), P_PROXY, NULL) ||
	    tp_listen_add(SY_PROTO_TCP, SY_STR("127.0.0.1"), P_PROXY, NULL) || px_init())
		return -1;
	loop = sy_loop_new(0);
	hop_fd = bound_udp(P_HOP);
	cli_fd = bound_udp(P_CLIENT);
	return loop && hop_fd >= 0 && cli_fd >= 0 && tp_worker_init(loop, 0) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tp_worker_fini();
	sy_loop_free(loop);
	close(hop_fd);
	close(cli_fd);
	scr_free(px_prog);
	px_prog = NULL;
	sy_worker_arena_free();
	return 0;
}

/* send from fd to the proxy, run the loop, and read what arrives on `on` (0 if nothing) */
static size_t exchange(int fd, const char *msg, int on, char *out, size_t cap)
{
	struct sockaddr_in to;
	struct pollfd p = { on, POLLIN, 0 };
	ssize_t n;
	int i;

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(P_PROXY);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof(to)) > 0);
	for (i = 0; i < 5; i++)
		sy_loop_run_once(loop, 10);
	if (poll(&p, 1, 100) != 1)
		return 0;
	n = recv(on, out, cap - 1, 0);
	assert_true(n > 0);
	out[n] = 0;
	return (size_t)n;
}

static const char invite[] =
	"INVITE sip:bob@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKabc;rport\r\n"
	"Max-Forwards: 20\r\n"
	"From: <sip:alice@example.com>;tag=f1\r\n"
	"To: <sip:bob@example.com>\r\n"
	"Call-ID: c1@example.com\r\n"
	"CSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n";

static void branch_of_top_via(const char *msg, char *out, size_t cap)
{
	const char *b = strstr(msg, "branch=");
	size_t n;

	assert_non_null(b);
	b += 7;
	n = strcspn(b, ";\r\n ");
	assert_true(n < cap);
	memcpy(out, b, n);
	out[n] = 0;
}

static void test_forward(void **state)
{
	char buf[4096], b1[64], b2[64];

	(void)state;
	assert_true(exchange(cli_fd, invite, hop_fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "INVITE sip:bob@example.com SIP/2.0\r\n"));
	/* our Via on top, then the client's with received and the filled rport */
	assert_non_null(strstr(buf, "\r\nVia: SIP/2.0/UDP 127.0.0.1:15030;branch=z9hG4bK"));
	assert_true(strstr(buf, "Via: SIP/2.0/UDP 127.0.0.1:15030") <
		    strstr(buf, "Via: SIP/2.0/UDP 10.1.1.1:5062"));
	assert_non_null(strstr(buf, "10.1.1.1:5062;branch=z9hG4bKabc;rport=15032;received=127.0.0.1"));
	assert_non_null(strstr(buf, "\r\nMax-Forwards: 19\r\n"));
	branch_of_top_via(buf, b1, sizeof(b1));
	/* a retransmission gets the same branch (§16.11) */
	assert_true(exchange(cli_fd, invite, hop_fd, buf, sizeof(buf)) > 0);
	branch_of_top_via(buf, b2, sizeof(b2));
	assert_string_equal(b1, b2);
	assert_true(strncmp(b1, "z9hG4bK", 7) == 0);
}

static void test_no_maxfwd_and_plain_via(void **state)
{
	char buf[4096];
	static const char req[] =
		"OPTIONS sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:15032;branch=z9hG4bKnomf\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: c2@example.com\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n\r\n";

	(void)state;
	assert_true(exchange(cli_fd, req, hop_fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\r\nMax-Forwards: 70\r\n"));
	/* sent-by is the source IP and no rport: the Via is left as it was */
	assert_non_null(strstr(buf, "127.0.0.1:15032;branch=z9hG4bKnomf\r\n"));
}

static void test_483(void **state)
{
	char buf[4096];
	static const char probe[] =
		"OPTIONS sip:127.0.0.1:15030 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:15032;branch=z9hG4bKprobe\r\n"
		"Max-Forwards: 0\r\n"
		"From: <sip:probe@x>;tag=p\r\n"
		"To: <sip:127.0.0.1:15030>\r\n"
		"Call-ID: probe\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n\r\n";

	(void)state;
	assert_true(exchange(cli_fd, probe, cli_fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "SIP/2.0 483 ", 12) == 0);
	assert_non_null(strstr(buf, "branch=z9hG4bKprobe"));
	assert_non_null(strstr(buf, "To: <sip:127.0.0.1:15030>;tag="));
}

static void test_local_reply_rport(void **state)
{
	char buf[4096];
	static const char msg[] =
		"MESSAGE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.9.9.9:5099;rport;branch=z9hG4bKmsg\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: m1\r\n"
		"CSeq: 1 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n";

	(void)state;
	/* sent-by says 10.9.9.9:5099 but rport sends the reply to the source (RFC 3581 §4) */
	assert_true(exchange(cli_fd, msg, cli_fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "SIP/2.0 488 Not Here\r\n", 22) == 0);
	assert_non_null(strstr(buf, "10.9.9.9:5099;rport=15032;branch=z9hG4bKmsg;received=127.0.0.1"));
}

static void test_bad_request_400(void **state)
{
	char buf[4096];
	static const char bad[] =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:15032;branch=z9hG4bKbad\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: bad1\r\n"
		"CSeq: notanumber INVITE\r\n"
		"Content-Length: 0\r\n\r\n";

	(void)state;
	assert_true(exchange(cli_fd, bad, cli_fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "SIP/2.0 400 ", 12) == 0);
	/* and nothing went to the next hop */
	{
		struct pollfd p = { hop_fd, POLLIN, 0 };

		assert_int_equal(poll(&p, 1, 50), 0);
	}
}

static void test_420(void **state)
{
	char buf[4096];
	static const char req[] =
		"OPTIONS sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:15032;branch=z9hG4bK420\r\n"
		"Max-Forwards: 70\r\n"
		"Proxy-Require: foo\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: r420\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n\r\n";

	(void)state;
	assert_true(exchange(cli_fd, req, cli_fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "SIP/2.0 420 ", 12) == 0);
	assert_non_null(strstr(buf, "\r\nUnsupported: foo\r\n"));
}

static void reply_with(char *out, size_t cap, unsigned code, const char *top_via,
		       const char *second_via)
{
	snprintf(out, cap,
		 "SIP/2.0 %u Whatever\r\n"
		 "Via: %s\r\n"
		 "Via: %s\r\n"
		 "From: <sip:alice@example.com>;tag=f1\r\n"
		 "To: <sip:bob@example.com>;tag=t1\r\n"
		 "Call-ID: c1@example.com\r\n"
		 "CSeq: 1 INVITE\r\n"
		 "Content-Length: 0\r\n\r\n",
		 code, top_via, second_via);
}

static void test_reply_relay(void **state)
{
	char rep[1024], buf[4096];
	struct pollfd p = { cli_fd, POLLIN, 0 };

	(void)state;
	/* received + rport in the client's Via: the reply goes to 127.0.0.1:15032 */
	reply_with(rep, sizeof(rep), 200, "SIP/2.0/UDP 127.0.0.1:15030;branch=z9hG4bKslx",
		   "SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKabc;rport=15032;received=127.0.0.1");
	assert_true(exchange(hop_fd, rep, cli_fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "SIP/2.0 200 Whatever\r\nVia: SIP/2.0/UDP 10.1.1.1:5062;", 52) ==
		    0);
	assert_null(strstr(buf, "15030"));	/* our Via is gone */

	/* onreply_route drops the 183 */
	reply_with(rep, sizeof(rep), 183, "SIP/2.0/UDP 127.0.0.1:15030;branch=z9hG4bKslx",
		   "SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKabc;rport=15032;received=127.0.0.1");
	assert_int_equal(exchange(hop_fd, rep, cli_fd, buf, sizeof(buf)), 0);

	/* a top Via that is not ours: not relayed */
	reply_with(rep, sizeof(rep), 200, "SIP/2.0/UDP 127.0.0.9:15030;branch=z9hG4bKslx",
		   "SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKabc;rport=15032;received=127.0.0.1");
	assert_int_equal(exchange(hop_fd, rep, cli_fd, buf, sizeof(buf)), 0);

	/* never to a broadcast address */
	reply_with(rep, sizeof(rep), 200, "SIP/2.0/UDP 127.0.0.1:15030;branch=z9hG4bKslx",
		   "SIP/2.0/UDP 255.255.255.255:15032;branch=z9hG4bKabc");
	assert_int_equal(exchange(hop_fd, rep, cli_fd, buf, sizeof(buf)), 0);
	assert_int_equal(poll(&p, 1, 20), 0);
}

static void test_resolve(void **state)
{
	struct sy_dest d;

	(void)state;
	assert_int_equal(px_resolve(SY_STR("sip:127.0.0.1"), &d), 0);
	assert_int_equal(d.proto, SY_PROTO_UDP);
	assert_int_equal(tp_addr_port(&d.addr), 5060);
	assert_int_equal(px_resolve(SY_STR("sip:u@[::1]:5070;transport=udp"), &d), 0);
	assert_int_equal(d.addr.u.sa.sa_family, AF_INET6);
	assert_int_equal(tp_addr_port(&d.addr), 5070);
	assert_int_equal(px_resolve(SY_STR("sip:localhost:7"), &d), 0);
	assert_int_equal(tp_addr_port(&d.addr), 7);
	assert_int_equal(px_resolve(SY_STR("sip:127.0.0.1;transport=tcp"), &d), 0);
	assert_int_equal(d.proto, SY_PROTO_TCP);
	/* no TLS listen in this test */
	assert_int_equal(px_resolve(SY_STR("sips:127.0.0.1"), &d), EPROTONOSUPPORT);
	assert_int_equal(px_resolve(SY_STR("sip:127.0.0.1;transport=tls"), &d), EPROTONOSUPPORT);
	/* names only when registered at load: no DNS here */
	assert_int_equal(px_resolve(SY_STR("sip:unknown.invalid"), &d), EHOSTUNREACH);
	assert_int_equal(px_resolve(SY_STR("tel:+123"), &d), EINVAL);
	assert_int_equal(px_resolve(SY_STR("garbage"), &d), EINVAL);
}

/* forward()/t_relay() destinations: OpenSIPS [proto:]host[:port] or a SIP URI */
static void test_dest_parse(void **state)
{
	char mem[1024];
	struct sy_arena a;
	struct sy_dest d;

	(void)state;
	sy_arena_init(&a, mem, sizeof(mem));
	assert_int_equal(px_dest_parse(&a, SY_STR("udp:127.0.0.1:5070"), &d), 0);
	assert_int_equal(d.proto, SY_PROTO_UDP);
	assert_int_equal(tp_addr_port(&d.addr), 5070);
	assert_int_equal(px_dest_parse(&a, SY_STR("TCP:127.0.0.1:5071"), &d), 0);
	assert_int_equal(d.proto, SY_PROTO_TCP);
	assert_int_equal(tp_addr_port(&d.addr), 5071);
	assert_int_equal(px_dest_parse(&a, SY_STR("127.0.0.1:5072"), &d), 0);
	assert_int_equal(d.proto, SY_PROTO_UDP);
	assert_int_equal(tp_addr_port(&d.addr), 5072);
	assert_int_equal(px_dest_parse(&a, SY_STR("[::1]:5073"), &d), 0);
	assert_int_equal(d.addr.u.sa.sa_family, AF_INET6);
	assert_int_equal(tp_addr_port(&d.addr), 5073);
	assert_int_equal(px_dest_parse(&a, SY_STR("udp:[::1]"), &d), 0);
	assert_int_equal(tp_addr_port(&d.addr), 5060);
	assert_int_equal(px_dest_parse(&a, SY_STR("sip:u@127.0.0.1:5074;transport=tcp"), &d), 0);
	assert_int_equal(d.proto, SY_PROTO_TCP);
	assert_int_equal(tp_addr_port(&d.addr), 5074);
	assert_int_equal(px_dest_parse(&a, SY_STR("udp:name.invalid:5060"), &d), EHOSTUNREACH);
	assert_int_equal(px_dest_parse(&a, SY_STR("udp:"), &d), EINVAL);
	assert_int_equal(px_dest_parse(&a, SY_NULL_STR, &d), EINVAL);
	assert_int_equal(px_dest_parse(&a, SY_STR("tls:127.0.0.1"), &d), EPROTONOSUPPORT);
}

/* a request over TCP relayed to a UDP next hop: the reply goes back on the client's
 * connection, although its Via names a port nobody listens on (§18.2.2) */
static void test_tcp_reply_same_connection(void **state)
{
	static const char req[] =
		"OPTIONS sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 10.1.1.1:5999;branch=z9hG4bKtcp1\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: tcp1\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n\r\n";
	struct sockaddr_in to;
	struct pollfd p;
	char buf[4096], rep[1024], ourvia[256];
	const char *v, *e;
	int fd = socket(AF_INET, SOCK_STREAM, 0), i;
	ssize_t n;

	(void)state;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(P_PROXY);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
	for (i = 0; i < 10; i++)
		sy_loop_run_once(loop, 10);
	p.fd = hop_fd;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 200), 1);
	n = recv(hop_fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = 0;
	v = strstr(buf, "Via: SIP/2.0/UDP 127.0.0.1:15030;branch=");
	assert_non_null(v);
	assert_non_null(strstr(v, ";" PX_VIA_CONN_PARAM "="));
	e = strstr(v, "\r\n");
	assert_true(e - v - 5 < (long)sizeof(ourvia));
	memcpy(ourvia, v + 5, (size_t)(e - v - 5));
	ourvia[e - v - 5] = 0;
	reply_with(rep, sizeof(rep), 200, ourvia,
		   "SIP/2.0/TCP 10.1.1.1:5999;branch=z9hG4bKtcp1;received=127.0.0.1");
	/* the hop answers over UDP; the client reads it on its TCP connection */
	assert_int_equal(exchange(hop_fd, rep, fd, buf, sizeof(buf)) > 0, 1);
	assert_true(strncmp(buf, "SIP/2.0 200 Whatever\r\nVia: SIP/2.0/TCP 10.1.1.1:5999;", 52) == 0);
	close(fd);
	for (i = 0; i < 3; i++)
		sy_loop_run_once(loop, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_no_maxfwd_and_plain_via),
		cmocka_unit_test(test_483),
		cmocka_unit_test(test_local_reply_rport),
		cmocka_unit_test(test_bad_request_400),
		cmocka_unit_test(test_420),
		cmocka_unit_test(test_reply_relay),
		cmocka_unit_test(test_tcp_reply_same_connection),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_dest_parse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
