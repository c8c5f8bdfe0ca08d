/* tcp.c: TCP transport (RFC 3261 §18.2.2, §18.3). Each worker has its own SO_REUSEPORT listener
 * per TCP listen, so an accepted connection belongs to the worker that accepted it; outgoing
 * connections belong to the worker that opened them. A connection is read, written, timed out
 * and closed only by its owner. conn_id = (sequence << 8) | owner, so the owner of any
 * connection is known without a lookup; a send for another worker's connection is copied and
 * posted to the owner's inbox.
 * Shared: one mutex-protected table of open connections keyed by peer IP, used to reuse a
 * connection by address and to enforce tcp_max_connections_per_ip. It is touched on connect,
 * accept, close and on sends without a connection id, never per received message.
 * Framing is resumable (sip_frame) over a per-connection read buffer bounded by max_msg. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "sip/msg.h"
#include "tp/tp.h"

#define TCP_WBUF_MAX (1u << 20)	/* queued bytes per connection before we give up on it */
#define GBUCKETS 1024u
#define LBUCKETS 256u

struct tp_conn {
	uint64_t id;
	int fd;
	unsigned listen_idx;
	struct sy_addr peer, local;
	int connecting;		/* non-blocking connect in progress */
	int busy;		/* inside the read handler: close is deferred */
	int closing;
	uint32_t events;	/* what epoll watches now: changed only when it must */
	char *rbuf;
	size_t rlen;
	struct sip_framer fr;
	char *wbuf;
	size_t wlen, woff;
	struct sy_timer idle;
	struct tp_conn *lnext;	/* owner's table */
	struct tp_conn *gnext;	/* shared table (under g_mu) */
};

static struct tp_tcp_cfg cfg = { 120000u, 64u, 65535u };
static struct sip_limits lim;
static uint64_t next_seq = 1;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tp_conn *gtab[GBUCKETS];

struct tcp_listener {
	int fd;
	unsigned listen_idx;
};
static _Thread_local struct tcp_listener lsn[TP_MAX_LISTEN];
static _Thread_local unsigned nlsn;
static _Thread_local struct tp_conn *ltab[LBUCKETS];
static _Thread_local struct sy_loop *my_loop;
static _Thread_local int my_idx = -1;

void tp_tcp_configure(const struct tp_tcp_cfg *c)
{
	if (c->lifetime_ms)
		cfg.lifetime_ms = c->lifetime_ms;
	if (c->max_per_ip)
		cfg.max_per_ip = c->max_per_ip;
	if (c->max_msg)
		cfg.max_msg = c->max_msg;
}

static unsigned ip_hash(const struct sy_addr *a)
{
	const unsigned char *p;
	size_t n, i;
	uint32_t h = 2166136261u;

	if (a->u.sa.sa_family == AF_INET6) {
		p = a->u.in6.sin6_addr.s6_addr;
		n = 16;
	} else {
		p = (const unsigned char *)&a->u.in.sin_addr.s_addr;
		n = 4;
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % GBUCKETS;
}

static int same_addr(const struct sy_addr *a, const struct sy_addr *b)
{
	return tp_addr_same_ip(a, b) && tp_addr_port(a) == tp_addr_port(b);
}

/* register c in the shared table unless its IP is at the cap: 0 or EMFILE */
static int g_insert(struct tp_conn *c)
{
	unsigned h = ip_hash(&c->peer), same = 0;
	struct tp_conn *x;
	int rc = 0;

	pthread_mutex_lock(&g_mu);
	for (x = gtab[h]; x; x = x->gnext)
		if (tp_addr_same_ip(&x->peer, &c->peer))
			same++;
	if (same >= cfg.max_per_ip) {
		rc = EMFILE;
	} else {
		c->gnext = gtab[h];
		gtab[h] = c;
	}
	pthread_mutex_unlock(&g_mu);
	return rc;
}

static void g_remove(struct tp_conn *c)
{
	struct tp_conn **pp;

	pthread_mutex_lock(&g_mu);
	for (pp = &gtab[ip_hash(&c->peer)]; *pp; pp = &(*pp)->gnext) {
		if (*pp == c) {
			*pp = c->gnext;
			break;
		}
	}
	pthread_mutex_unlock(&g_mu);
}

/* id of an open connection to addr (0 when none); only the id leaves the lock */
static uint64_t g_find(const struct sy_addr *addr)
{
	struct tp_conn *x;
	uint64_t id = 0;

	pthread_mutex_lock(&g_mu);
	for (x = gtab[ip_hash(addr)]; x; x = x->gnext) {
		if (same_addr(&x->peer, addr)) {
			id = x->id;
			break;
		}
	}
	pthread_mutex_unlock(&g_mu);
	return id;
}

static struct tp_conn *l_find(uint64_t id)
{
	struct tp_conn *c;

	for (c = ltab[(id >> 8) % LBUCKETS]; c; c = c->lnext)
		if (c->id == id)
			return c;
	return NULL;
}

static void conn_free(struct tp_conn *c)
{
	struct tp_conn **pp;

	sy_timer_stop(my_loop, &c->idle);
	for (pp = &ltab[(c->id >> 8) % LBUCKETS]; *pp; pp = &(*pp)->lnext) {
		if (*pp == c) {
			*pp = c->lnext;
			break;
		}
	}
	g_remove(c);
	if (c->fd >= 0) {
		sy_loop_del_fd(my_loop, c->fd);
		close(c->fd);
	}
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

static void conn_close(struct tp_conn *c)
{
	c->closing = 1;
	if (!c->busy)
		conn_free(c);
}

static void idle_cb(struct sy_timer *t, void *arg)
{
	struct tp_conn *c = arg;

	(void)t;
	LOG_DBG("tcp conn %llu: idle for %u ms, closing", (unsigned long long)c->id,
		cfg.lifetime_ms);
	conn_close(c);
}

static void conn_touch(struct tp_conn *c)
{
	sy_timer_start(my_loop, &c->idle, cfg.lifetime_ms, idle_cb, c);
}

static void conn_io(struct sy_loop *l, int fd, uint32_t events, void *arg);

static struct tp_conn *conn_new(int fd, unsigned listen_idx, const struct sy_addr *peer)
{
	struct tp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->listen_idx = listen_idx;
	c->peer = *peer;
	c->local.len = sizeof(c->local.u.ss);
	if (getsockname(fd, &c->local.u.sa, &c->local.len) < 0)
		c->local = tp_listen_get(listen_idx)->addr;
	c->rbuf = malloc(cfg.max_msg);
	if (!c->rbuf) {
		free(c);
		return NULL;
	}
	c->id = (__atomic_fetch_add(&next_seq, 1, __ATOMIC_RELAXED) << 8) | (uint64_t)my_idx;
	sip_framer_reset(&c->fr);
	return c;
}

/* insert into the tables and the loop; on failure c is freed and fd closed */
static int conn_register(struct tp_conn *c, uint32_t events)
{
	int rc = g_insert(c);

	if (rc) {
		close(c->fd);
		free(c->rbuf);
		free(c);
		return rc;
	}
	c->lnext = ltab[(c->id >> 8) % LBUCKETS];
	ltab[(c->id >> 8) % LBUCKETS] = c;
	c->events = events;
	rc = sy_loop_add_fd(my_loop, c->fd, events, conn_io, c);
	if (rc) {
		conn_free(c);
		return rc;
	}
	conn_touch(c);
	return 0;
}

static void deliver(struct tp_conn *c, const char *buf, size_t len)
{
	struct sy_rcvinfo ri;

	memset(&ri, 0, sizeof(ri));
	ri.proto = SY_PROTO_TCP;
	ri.src = c->peer;
	ri.dst = c->local;
	ri.listen_idx = (int)c->listen_idx;
	ri.conn_id = c->id;
	ri.worker = my_idx;
	if (tp_recv_cb)
		tp_recv_cb(&ri, buf, len);
}

/* frame and deliver every whole message in the read buffer; 0 or EBADMSG */
static int conn_frame(struct tp_conn *c)
{
	size_t used = 0;

	while (used < c->rlen && !c->closing) {
		size_t mlen = 0;
		int ka = 0;
		int rc = sip_frame(&c->fr, c->rbuf + used, c->rlen - used, &lim, &mlen, &ka);

		if (rc == EAGAIN)
			break;
		if (rc || mlen == 0 || mlen > c->rlen - used)
			return EBADMSG;
		if (!ka)
			deliver(c, c->rbuf + used, mlen);
		used += mlen;
		sip_framer_reset(&c->fr);
	}
	if (used) {
		/* the framer restarts from the message start; keep only the unframed tail */
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
		sip_framer_reset(&c->fr);
	}
	if (c->rlen == cfg.max_msg)
		return EBADMSG;	/* a full buffer and still no whole message: over the limit */
	return 0;
}

static void conn_read(struct tp_conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->rbuf + c->rlen, cfg.max_msg - c->rlen);

		if (n == 0) {
			c->closing = 1;
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				LOG_DBG("tcp conn %llu: read: %s", (unsigned long long)c->id,
					strerror(errno));
				c->closing = 1;
			}
			return;
		}
		c->rlen += (size_t)n;
		if (conn_frame(c)) {
			LOG_NOTICE("tcp conn %llu: framing error (bad or oversized message), closing",
				   (unsigned long long)c->id);
			c->closing = 1;
			return;
		}
		if (c->closing)
			return;
	}
}

/* write queued bytes; 0 when all gone or EAGAIN, else errno */
static int conn_flush(struct tp_conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return errno;
		}
		c->woff += (size_t)n;
	}
	c->woff = c->wlen = 0;
	return 0;
}

/* watch EPOLLOUT only while bytes are queued (one epoll_ctl per change, not per event) */
static void conn_watch(struct tp_conn *c)
{
	uint32_t want = EPOLLIN | (c->wlen || c->connecting ? (uint32_t)EPOLLOUT : 0u);

	if (want != c->events && sy_loop_mod_fd(my_loop, c->fd, want, conn_io, c) == 0)
		c->events = want;
}

static void conn_io(struct sy_loop *l, int fd, uint32_t events, void *arg)
{
	struct tp_conn *c = arg;
	int err = 0;

	(void)l;
	(void)fd;
	c->busy = 1;
	if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		socklen_t sl = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		if (err) {
			LOG_NOTICE("tcp conn %llu: connect failed: %s", (unsigned long long)c->id,
				   strerror(err));
			c->closing = 1;
		}
		c->connecting = 0;
	}
	if (!c->closing && (events & EPOLLOUT)) {
		err = conn_flush(c);
		if (err) {
			LOG_NOTICE("tcp conn %llu: write: %s", (unsigned long long)c->id,
				   strerror(err));
			c->closing = 1;
		}
	}
	if (!c->closing && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_read(c);
	c->busy = 0;
	if (c->closing) {
		conn_free(c);
		return;
	}
	conn_watch(c);
	conn_touch(c);
}

static void accept_cb(struct sy_loop *l, int fd, uint32_t events, void *arg)
{
	struct tcp_listener *tl = arg;

	(void)l;
	(void)events;
	for (;;) {
		struct sy_addr peer;
		struct tp_conn *c;
		int one = 1, cfd, rc;

		peer.len = sizeof(peer.u.ss);
		cfd = accept4(fd, &peer.u.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_ERR("tcp accept: %s", strerror(errno));
			return;
		}
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = conn_new(cfd, tl->listen_idx, &peer);
		if (!c) {
			LOG_ERR("tcp accept: out of memory, connection refused");
			close(cfd);
			continue;
		}
		rc = conn_register(c, EPOLLIN);
		if (rc == EMFILE) {
			char ip[64];

			tp_addr_ip(&peer, ip, sizeof(ip));
			LOG_WARN("tcp: %s is at tcp_max_connections_per_ip (%u), connection refused",
				 ip, cfg.max_per_ip);
		} else if (rc) {
			LOG_ERR("tcp accept: %s", strerror(rc));
		}
	}
}

/* queue or write buf on c (owner's thread): 0 or errno (then c is closed) */
static int conn_write(struct tp_conn *c, const char *buf, size_t len)
{
	int rc = 0;

	if (!c->connecting && c->wlen == 0) {
		ssize_t n;

		do
			n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			rc = errno;
			goto out;
		}
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		}
		if (len == 0)
			goto out;
	}
	/* the rest waits for EPOLLOUT, in order after what is already queued */
	if (c->wlen + len > TCP_WBUF_MAX) {
		rc = ENOBUFS;
		goto out;
	}
	{
		char *w = realloc(c->wbuf, c->wlen + len);

		if (!w) {
			rc = ENOMEM;
			goto out;
		}
		c->wbuf = w;
		memcpy(c->wbuf + c->wlen, buf, len);
		c->wlen += len;
	}
	if (!c->busy)
		conn_watch(c);
out:
	if (rc) {
		LOG_NOTICE("tcp conn %llu: send: %s, closing", (unsigned long long)c->id,
			   strerror(rc));
		conn_close(c);
	} else {
		conn_touch(c);
	}
	return rc;
}

static int conn_open(const struct sy_dest *dst, const struct tp_listen *ls, struct tp_conn **out)
{
	int fd, one = 1, rc;
	struct tp_conn *c;

	fd = socket(dst->addr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, &dst->addr.u.sa, dst->addr.len) < 0 && errno != EINPROGRESS) {
		rc = errno;
		close(fd);
		return rc;
	}
	c = conn_new(fd, (unsigned)(ls - tp_listen_get(0)), &dst->addr);
	if (!c) {
		close(fd);
		return ENOMEM;
	}
	c->connecting = 1;
	rc = conn_register(c, EPOLLIN | EPOLLOUT);
	if (rc)
		return rc;
	*out = c;
	return 0;
}

struct tcp_post {
	struct sy_post link;	/* one allocation for the link and the bytes */
	struct sy_dest dst;
	size_t len;
	char buf[];
};

static int send_here(const struct sy_dest *dst, const struct tp_listen *ls, const char *buf,
		     size_t len, int allow_post);

static void post_cb(void *arg)
{
	struct tcp_post *p = arg;
	const struct tp_listen *ls = tp_listen_pick(&p->dst);
	int rc = ls ? send_here(&p->dst, ls, p->buf, p->len, 0) : EPROTONOSUPPORT;

	if (rc)
		LOG_NOTICE("tcp: queued send failed: %s", strerror(rc));
	free(p);
}

static int post_to_owner(uint64_t id, const struct sy_dest *dst, const char *buf, size_t len)
{
	struct tcp_post *p = malloc(sizeof(*p) + len);
	int rc;

	if (!p)
		return ENOMEM;
	p->dst = *dst;
	p->dst.conn_id = id;
	p->len = len;
	memcpy(p->buf, buf, len);
	p->link.fn = post_cb;
	p->link.arg = p;
	p->link.loop_owned = 0;
	rc = sy_worker_post_item((int)(id & 0xffu), &p->link);
	if (rc)
		free(p);
	return rc;
}

static int send_here(const struct sy_dest *dst, const struct tp_listen *ls, const char *buf,
		     size_t len, int allow_post)
{
	struct tp_conn *c = NULL;
	uint64_t id = dst->conn_id;
	int rc;

	if (id) {
		if ((int)(id & 0xffu) != my_idx && allow_post)
			return post_to_owner(id, dst, buf, len);
		c = l_find(id);
	}
	/* §18.2.2: the connection is gone: reuse another one to the same address, or open one */
	if (!c && dst->addr.len) {
		id = g_find(&dst->addr);
		if (id && (int)(id & 0xffu) != my_idx && allow_post)
			return post_to_owner(id, dst, buf, len);
		if (id)
			c = l_find(id);
	}
	if (!c) {
		if (!dst->addr.len)
			return ENOTCONN;
		rc = conn_open(dst, ls, &c);
		if (rc)
			return rc;
	}
	if (c->closing)
		return ENOTCONN;
	return conn_write(c, buf, len);
}

int tp_tcp_send(const struct sy_dest *dst, const struct tp_listen *ls, const char *buf,
		size_t len)
{
	if (!my_loop)
		return EBADF;
	return send_here(dst, ls, buf, len, 1);
}

int tp_tcp_worker_init(struct sy_loop *l, int idx)
{
	unsigned i;
	int rc = 0;

	my_loop = l;
	my_idx = idx;
	nlsn = 0;
	sip_limits_default(&lim);
	if (cfg.max_msg < lim.max_msg)
		lim.max_msg = (unsigned)cfg.max_msg;
	for (i = 0; i < tp_listen_count(); i++) {
		const struct tp_listen *ls = tp_listen_get(i);
		int fd, one = 1;

		if (ls->proto != SY_PROTO_TCP)
			continue;
		fd = socket(ls->addr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return errno;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
		    (ls->addr.u.sa.sa_family == AF_INET6 &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
		    bind(fd, &ls->addr.u.sa, ls->addr.len) < 0 || listen(fd, 256) < 0) {
			rc = errno;
			LOG_ERR("tcp %s:%u: cannot listen: %s", ls->host, ls->port, strerror(rc));
			close(fd);
			return rc;
		}
		lsn[nlsn].fd = fd;
		lsn[nlsn].listen_idx = i;
		rc = sy_loop_add_fd(l, fd, EPOLLIN, accept_cb, &lsn[nlsn]);
		nlsn++;
		if (rc)
			return rc;
	}
	return 0;
}

void tp_tcp_worker_fini(void)
{
	unsigned i;

	for (i = 0; i < nlsn; i++) {
		if (my_loop)
			sy_loop_del_fd(my_loop, lsn[i].fd);
		close(lsn[i].fd);
	}
	nlsn = 0;
	for (i = 0; i < LBUCKETS; i++) {
		while (ltab[i]) {
			ltab[i]->busy = 0;
			conn_free(ltab[i]);
		}
	}
	my_loop = NULL;
	my_idx = -1;
}
