/* tp_transport.c: the transports on loopback (ports 150xx): UDP receive with the right
 * rcvinfo and send back; TCP framing across partial reads, two messages in one segment, reply
 * on the same connection, outgoing connection reuse, oversized message closes, per-IP cap,
 * idle timeout; address helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/worker.h"
#include "tp/tp.h"

#define PORT_UDP 15010
#define PORT_TCP 15011
#define PORT_PEER 15012

static struct sy_loop *loop;
static struct sy_rcvinfo last_ri;
static char last_msg[70000];
static size_t last_len;
static int nrecv;

static void on_recv(const struct sy_rcvinfo *rcv, const char *buf, size_t len)
{
	last_ri = *rcv;
	memcpy(last_msg, buf, len);
	last_len = len;
	nrecv++;
}

static const char req[] = "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n"
			  "Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK1\r\n"
			  "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody";

static int setup(void **state)
{
	struct tp_tcp_cfg cfg = { 0, 3, 4096 };

	(void)state;
	tp_listen_reset();
	if (tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), PORT_UDP, NULL) ||
	    tp_listen_add(SY_PROTO_TCP, SY_STR("localhost"), PORT_TCP, NULL))
		return -1;
	tp_tcp_configure(&cfg);
	tp_set_recv(on_recv);
	loop = sy_loop_new(0);
	nrecv = 0;
	return loop && tp_worker_init(loop, 0) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tp_worker_fini();
	sy_loop_free(loop);
	sy_worker_arena_free();
	sy_clock_set(NULL);
	return 0;
}

static void spin(int until_nrecv)
{
	int i;

	for (i = 0; i < 50 && nrecv < until_nrecv; i++)
		sy_loop_run_once(loop, 20);
}

static void run_a_bit(void)
{
	int i;

	for (i = 0; i < 5; i++)
		sy_loop_run_once(loop, 10);
}

static void test_addr(void **state)
{
	struct sy_addr a, b;
	char ip[64];

	(void)state;
	assert_int_equal(tp_addr_parse(SY_STR("[::1]"), 5060, &a), 0);
	assert_int_equal(a.u.sa.sa_family, AF_INET6);
	assert_int_equal(tp_addr_port(&a), 5060);
	tp_addr_ip(&a, ip, sizeof(ip));
	assert_string_equal(ip, "::1");
	assert_int_equal(tp_addr_parse(SY_STR("example.com"), 1, &a), EINVAL);
	assert_int_equal(tp_addr_parse(SY_STR("10.0.0.1"), 70000, &a), EINVAL);
	assert_int_equal(tp_addr_parse(SY_STR("224.0.0.1"), 1, &a), 0);
	assert_true(tp_addr_is_bcast(&a));
	assert_int_equal(tp_addr_parse(SY_STR("255.255.255.255"), 1, &a), 0);
	assert_true(tp_addr_is_bcast(&a));
	assert_int_equal(tp_addr_parse(SY_STR("ff02::1"), 1, &a), 0);
	assert_true(tp_addr_is_bcast(&a));
	assert_int_equal(tp_addr_parse(SY_STR("10.0.0.1"), 1, &a), 0);
	assert_false(tp_addr_is_bcast(&a));
	assert_int_equal(tp_addr_parse(SY_STR("10.0.0.1"), 2, &b), 0);
	assert_true(tp_addr_same_ip(&a, &b));
	assert_true(tp_listen_match(SY_STR("127.0.0.1"), PORT_UDP));
	assert_false(tp_listen_match(SY_STR("127.0.0.1"), 5060));
	assert_false(tp_listen_match(SY_STR("127.0.0.2"), PORT_UDP));
	assert_int_equal(tp_listen_add(SY_PROTO_UDP, SY_STR("nohost"), 1, NULL), EINVAL);
	/* a wildcard listen advertises a real address, never 0.0.0.0, in Via */
	{
		int w;

		assert_int_equal(tp_listen_add(SY_PROTO_UDP, SY_STR("*"), 15019, &w), 0);
		assert_string_not_equal(tp_listen_get((unsigned)w)->host, "0.0.0.0");
		assert_int_equal(tp_addr_parse(sy_cstr(tp_listen_get((unsigned)w)->host), 1, &a), 0);
		/* and a reply to that Via is recognised as ours */
		assert_true(tp_listen_match(sy_cstr(tp_listen_get((unsigned)w)->host), 15019));
	}
	assert_int_equal(tp_listen_add(SY_PROTO_WS, SY_STR("127.0.0.1"), 1, NULL), EPROTONOSUPPORT);
}

static int udp_peer(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(PORT_PEER);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_udp(void **state)
{
	struct sockaddr_in to;
	struct sy_dest d;
	char buf[100];
	int fd = udp_peer();
	ssize_t n;

	(void)state;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(PORT_UDP);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(fd, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
	assert_int_equal(sendto(fd, "world!", 6, 0, (struct sockaddr *)&to, sizeof(to)), 6);
	spin(2);
	assert_int_equal(nrecv, 2);
	assert_int_equal(last_len, 6);
	assert_memory_equal(last_msg, "world!", 6);
	assert_int_equal(last_ri.proto, SY_PROTO_UDP);
	assert_int_equal(last_ri.conn_id, 0);
	assert_int_equal(last_ri.listen_idx, 0);
	assert_int_equal(tp_addr_port(&last_ri.src), PORT_PEER);
	assert_int_equal(tp_addr_port(&last_ri.dst), PORT_UDP);

	memset(&d, 0, sizeof(d));
	d.proto = SY_PROTO_UDP;
	d.listen_idx = -1;
	d.addr = last_ri.src;
	assert_int_equal(tp_send(&d, "back", 4), 0);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "back", 4);
	/* never to a broadcast address */
	assert_int_equal(tp_addr_parse(SY_STR("255.255.255.255"), 9, &d.addr), 0);
	assert_int_equal(tp_send(&d, "x", 1), EHOSTUNREACH);
	close(fd);
}

static int tcp_client(void)
{
	struct sockaddr_in to;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(PORT_TCP);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	return fd;
}

static int closed_by_peer(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b[16];

	if (poll(&p, 1, 200) != 1)
		return 0;
	return recv(fd, b, sizeof(b), MSG_DONTWAIT) <= 0;	/* FIN, or RST when data was unread */
}

static void test_tcp_framing_and_reply(void **state)
{
	int fd = tcp_client();
	size_t half = sizeof(req) / 2;
	char two[4 + 2 * sizeof(req)], buf[64];
	struct sy_dest d;
	uint64_t id;

	(void)state;
	assert_int_equal(send(fd, req, half, 0), (ssize_t)half);
	run_a_bit();
	assert_int_equal(nrecv, 0);	/* half a message: nothing delivered yet */
	assert_int_equal(send(fd, req + half, sizeof(req) - 1 - half, 0),
			 (ssize_t)(sizeof(req) - 1 - half));
	spin(1);
	assert_int_equal(nrecv, 1);
	assert_int_equal(last_len, sizeof(req) - 1);
	assert_memory_equal(last_msg, req, sizeof(req) - 1);
	assert_int_equal(last_ri.proto, SY_PROTO_TCP);
	assert_int_equal(last_ri.listen_idx, 1);
	assert_true(last_ri.conn_id != 0);
	id = last_ri.conn_id;

	/* keep-alive CRLFs then two messages in one segment */
	memcpy(two, "\r\n\r\n", 4);
	memcpy(two + 4, req, sizeof(req) - 1);
	memcpy(two + 4 + sizeof(req) - 1, req, sizeof(req) - 1);
	assert_int_equal(send(fd, two, 4 + 2 * (sizeof(req) - 1), 0),
			 (ssize_t)(4 + 2 * (sizeof(req) - 1)));
	spin(3);
	assert_int_equal(nrecv, 3);
	assert_int_equal(last_ri.conn_id, id);

	/* a reply goes back on the same connection (§18.2.2) */
	memset(&d, 0, sizeof(d));
	d.proto = SY_PROTO_TCP;
	d.listen_idx = last_ri.listen_idx;
	d.conn_id = id;
	d.addr = last_ri.src;
	assert_int_equal(tp_send(&d, "SIP/2.0 200 OK\r\n", 16), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 16);
	assert_memory_equal(buf, "SIP/2.0 200 OK\r\n", 16);
	close(fd);
	run_a_bit();
}

static void test_tcp_oversized_closes(void **state)
{
	static char big[6000];
	int fd = tcp_client();

	(void)state;
	/* header section larger than the 4096-byte read buffer: framing error, connection closed */
	memset(big, 'a', sizeof(big));
	memcpy(big, "OPTIONS sip:x SIP/2.0\r\nX: ", 26);
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	run_a_bit();
	run_a_bit();
	assert_true(closed_by_peer(fd));
	assert_int_equal(nrecv, 0);
	close(fd);
}

static void test_tcp_per_ip_cap(void **state)
{
	int fd[4], i;

	(void)state;
	for (i = 0; i < 4; i++) {
		fd[i] = tcp_client();
		run_a_bit();
	}
	/* the cap is 3: the fourth is refused (closed at once), the first three stay */
	assert_true(closed_by_peer(fd[3]));
	assert_false(closed_by_peer(fd[0]));
	for (i = 0; i < 4; i++)
		close(fd[i]);
	run_a_bit();
	/* closed connections no longer count */
	fd[0] = tcp_client();
	run_a_bit();
	assert_false(closed_by_peer(fd[0]));
	close(fd[0]);
	run_a_bit();
}

/* accept without blocking: the fd, or -1 when nobody is waiting */
static int fcntl_nonblock_accept(int lfd)
{
	struct pollfd p = { lfd, POLLIN, 0 };
	int fd;

	if (poll(&p, 1, 50) != 1)
		return -1;
	fd = accept(lfd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? fd : -1;
}

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

static void test_tcp_idle_timeout(void **state)
{
	int fd;

	(void)state;
	fake_now = sy_now_ms();
	sy_clock_set(fake_clock);
	fd = tcp_client();
	run_a_bit();
	fake_now += 119000;
	sy_loop_fire_timers(loop);
	assert_false(closed_by_peer(fd));
	fake_now += 2000;
	sy_loop_fire_timers(loop);
	assert_true(closed_by_peer(fd));
	close(fd);
	sy_clock_set(NULL);
}

static void test_tcp_outgoing_reuse(void **state)
{
	struct sockaddr_in sa;
	struct sy_dest d;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1, cfd;
	char buf[64];

	(void)state;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(PORT_PEER);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	memset(&d, 0, sizeof(d));
	d.proto = SY_PROTO_TCP;
	d.listen_idx = -1;
	assert_int_equal(tp_addr_parse(SY_STR("127.0.0.1"), PORT_PEER, &d.addr), 0);
	assert_int_equal(tp_send(&d, "one;", 4), 0);	/* queued until connected */
	assert_int_equal(tp_send(&d, "two;", 4), 0);	/* same connection, in order */
	run_a_bit();
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	run_a_bit();
	assert_int_equal(recv(cfd, buf, 8, MSG_WAITALL), 8);
	assert_memory_equal(buf, "one;two;", 8);
	assert_int_equal(tp_send(&d, "three", 5), 0);
	assert_int_equal(recv(cfd, buf, 5, MSG_WAITALL), 5);
	/* no second connection was opened */
	assert_int_equal(fcntl_nonblock_accept(lfd), -1);
	/* the peer answers on that connection: delivered with the outgoing connection's id */
	assert_int_equal(send(cfd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
	spin(1);
	assert_int_equal(nrecv, 1);
	assert_true(last_ri.conn_id != 0);
	close(cfd);
	close(lfd);
	run_a_bit();
}

static void test_udp_ipv6(void **state)
{
	struct sockaddr_in6 me, to;
	struct sy_dest d;
	char buf[16];
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), one = 1, idx = -1;

	(void)state;
	/* a v6 listen added after the worker started opens on the next tp_worker_init */
	assert_int_equal(tp_listen_add(SY_PROTO_UDP, SY_STR("[::1]"), PORT_UDP + 3, &idx), 0);
	assert_string_equal(tp_listen_get((unsigned)idx)->host, "[::1]");
	tp_worker_fini();
	assert_int_equal(tp_worker_init(loop, 0), 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	memset(&me, 0, sizeof(me));
	me.sin6_family = AF_INET6;
	me.sin6_addr = in6addr_loopback;
	me.sin6_port = htons(PORT_PEER + 3);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	to = me;
	to.sin6_port = htons(PORT_UDP + 3);
	assert_int_equal(sendto(fd, "v6", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
	spin(1);
	assert_int_equal(nrecv, 1);
	assert_int_equal(last_ri.src.u.sa.sa_family, AF_INET6);
	assert_int_equal(last_ri.listen_idx, idx);
	/* an IPv6 destination is sent from the IPv6 listen */
	memset(&d, 0, sizeof(d));
	d.proto = SY_PROTO_UDP;
	d.listen_idx = -1;
	d.addr = last_ri.src;
	assert_ptr_equal(tp_listen_pick(&d), tp_listen_get((unsigned)idx));
	assert_int_equal(tp_send(&d, "back6", 5), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "back6", 5);
	close(fd);
}

static void test_tcp_ipv6(void **state)
{
	struct sockaddr_in6 to;
	struct sy_dest d;
	char buf[32];
	int fd = socket(AF_INET6, SOCK_STREAM, 0), idx = -1;

	(void)state;
	assert_int_equal(tp_listen_add(SY_PROTO_TCP, SY_STR("::1"), PORT_TCP + 3, &idx), 0);
	tp_worker_fini();
	assert_int_equal(tp_worker_init(loop, 0), 0);
	memset(&to, 0, sizeof(to));
	to.sin6_family = AF_INET6;
	to.sin6_addr = in6addr_loopback;
	to.sin6_port = htons(PORT_TCP + 3);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
	spin(1);
	assert_int_equal(nrecv, 1);
	assert_int_equal(last_ri.proto, SY_PROTO_TCP);
	assert_int_equal(last_ri.src.u.sa.sa_family, AF_INET6);
	assert_int_equal(last_ri.listen_idx, idx);
	memset(&d, 0, sizeof(d));
	d.proto = SY_PROTO_TCP;
	d.listen_idx = idx;
	d.conn_id = last_ri.conn_id;
	d.addr = last_ri.src;
	assert_int_equal(tp_send(&d, "SIP/2.0 200 OK\r\n", 16), 0);
	assert_int_equal(recv(fd, buf, 16, MSG_WAITALL), 16);
	assert_memory_equal(buf, "SIP/2.0 200 OK\r\n", 16);
	close(fd);
	run_a_bit();
}

/* ---- ordering with several workers: each worker echoes what it reads back to the sender */
static void echo_recv(const struct sy_rcvinfo *rcv, const char *buf, size_t len)
{
	struct sy_dest d;

	memset(&d, 0, sizeof(d));
	d.proto = SY_PROTO_UDP;
	d.listen_idx = rcv->listen_idx;
	d.addr = rcv->src;
	tp_send(&d, buf, len);
}

static int w_init(struct sy_loop *l, int idx, void *arg)
{
	(void)arg;
	return tp_worker_init(l, idx);
}

static void w_fini(struct sy_loop *l, int idx, void *arg)
{
	(void)l;
	(void)idx;
	(void)arg;
	tp_worker_fini();
}

static void test_udp_order_with_workers(void **state)
{
	struct sockaddr_in to;
	int fd[4], i, k, rcvbuf = 1 << 20;
	char buf[32];

	(void)state;
	tp_listen_reset();
	assert_int_equal(tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), PORT_UDP + 5, NULL), 0);
	tp_set_recv(echo_recv);
	assert_int_equal(sy_workers_start(3, w_init, w_fini, NULL), 0);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(PORT_UDP + 5);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* several peers (different source ports, so spread over the workers' sockets), each
	 * sending a numbered burst: every peer gets its own burst back in order */
	for (k = 0; k < 4; k++) {
		fd[k] = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(fd[k], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	}
	for (i = 0; i < 300; i++)
		for (k = 0; k < 4; k++) {
			int n = snprintf(buf, sizeof(buf), "%d", i);

			assert_int_equal(sendto(fd[k], buf, (size_t)n, 0, (struct sockaddr *)&to,
						sizeof(to)), n);
		}
	for (k = 0; k < 4; k++) {
		for (i = 0; i < 300; i++) {
			struct pollfd p = { fd[k], POLLIN, 0 };
			ssize_t n;

			assert_int_equal(poll(&p, 1, 2000), 1);
			n = recv(fd[k], buf, sizeof(buf) - 1, 0);
			assert_true(n > 0);
			buf[n] = 0;
			assert_int_equal(atoi(buf), i);
		}
		close(fd[k]);
	}
	sy_workers_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_framing_and_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_oversized_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_per_ip_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_outgoing_reuse, setup, teardown),
		cmocka_unit_test(test_udp_order_with_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
