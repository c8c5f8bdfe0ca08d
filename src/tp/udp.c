/* udp.c: UDP transport. Every worker binds its own socket to every UDP listen with
 * SO_REUSEPORT; the kernel then spreads datagrams over the sockets by a hash of the 4-tuple
 * (source IP/port, destination IP/port). All datagrams from one peer address therefore land on
 * one socket, are read by one worker and processed in arrival order: the 180 and the 200 of a
 * call (both from the callee's address) cannot overtake each other inside the proxy, whatever
 * the number of workers. The socket set is fixed at start-up, so the hash-to-socket map does
 * not change while running.
 * Reads are batched with recvmmsg (one syscall per burst); each datagram goes to tp_recv_cb. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "tp/tp.h"

#define UDP_BATCH 16
#define UDP_BUF 65536	/* the largest datagram */

struct udp_sock {
	int fd;
	unsigned listen_idx;
	int worker;
};

/* per-worker receive buffers, allocated at start (not per message) */
struct udp_rx {
	struct mmsghdr msg[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	char buf[UDP_BATCH][UDP_BUF];
};
static _Thread_local struct udp_rx *rx;
static _Thread_local struct udp_sock socks[TP_MAX_LISTEN];

static void udp_read(struct sy_loop *l, int fd, uint32_t events, void *arg)
{
	struct udp_sock *us = arg;
	const struct tp_listen *ls = tp_listen_get(us->listen_idx);
	struct sy_rcvinfo ri;
	int n, i, rounds;

	(void)l;
	(void)events;
	memset(&ri, 0, sizeof(ri));
	ri.proto = SY_PROTO_UDP;
	ri.dst = ls->addr;
	ri.listen_idx = (int)us->listen_idx;
	ri.worker = us->worker;
	/* a bounded number of batches per wake-up keeps timers and other sockets served */
	for (rounds = 0; rounds < 4; rounds++) {
		/* the kernel shortens msg_namelen and may set msg_flags: reset what it wrote */
		for (i = 0; i < UDP_BATCH; i++) {
			rx->msg[i].msg_hdr.msg_namelen = sizeof(rx->from[i]);
			rx->msg[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(fd, rx->msg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				LOG_ERR("udp %s:%u: recvmmsg: %s", ls->host, ls->port, strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			socklen_t fl = rx->msg[i].msg_hdr.msg_namelen;

			if (fl > sizeof(ri.src.u.ss))
				fl = sizeof(ri.src.u.ss);
			memcpy(&ri.src.u.ss, &rx->from[i], fl);
			ri.src.len = fl;
			if (rx->msg[i].msg_len == 0)
				continue;	/* empty datagram: nothing to parse, nothing to answer */
			if (tp_recv_cb)
				tp_recv_cb(&ri, rx->buf[i], rx->msg[i].msg_len);
		}
		if (n < UDP_BATCH)
			return;
	}
}

int tp_udp_open(struct sy_loop *l, int worker, unsigned listen_idx, int *fd_out)
{
	const struct tp_listen *ls = tp_listen_get(listen_idx);
	struct udp_sock *us = &socks[listen_idx];
	int fd, one = 1, rc = 0, rcvbuf = 4 << 20;

	*fd_out = -1;
	if (!rx) {
		int i;

		rx = calloc(1, sizeof(*rx));
		if (!rx)
			return ENOMEM;
		for (i = 0; i < UDP_BATCH; i++) {
			rx->iov[i].iov_base = rx->buf[i];
			rx->iov[i].iov_len = UDP_BUF;
			rx->msg[i].msg_hdr.msg_iov = &rx->iov[i];
			rx->msg[i].msg_hdr.msg_iovlen = 1;
			rx->msg[i].msg_hdr.msg_name = &rx->from[i];
		}
	}
	fd = socket(ls->addr.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (ls->addr.u.sa.sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, &ls->addr.u.sa, ls->addr.len) < 0) {
		rc = errno;
		LOG_ERR("udp %s:%u: cannot bind: %s", ls->host, ls->port, strerror(rc));
		goto out;
	}
	/* absorb bursts while the worker is busy (capped by net.core.rmem_max; best effort) */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	us->fd = fd;
	us->listen_idx = listen_idx;
	us->worker = worker;
	rc = sy_loop_add_fd(l, fd, EPOLLIN, udp_read, us);
out:
	if (rc) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int tp_udp_send(int fd, const struct sy_addr *to, const char *buf, size_t len)
{
	ssize_t n;

	do
		n = sendto(fd, buf, len, MSG_DONTWAIT, &to->u.sa, to->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	return (size_t)n == len ? 0 : EMSGSIZE;
}

void tp_udp_worker_fini(void)
{
	free(rx);
	rx = NULL;
}
