/* server.c: the management listener's thread and the script units that configure it.
 * One thread with its own epoll: the listen socket, an eventfd to stop it, and up to
 * MAX_CONNS connections. It never touches a worker's loop; what it reads is the per-worker
 * counters and heartbeats (core/stats.h), tm's atomic count and the location table under its
 * read locks (docs/internals.md). A connection gets conn_timeout seconds from its opening, or
 * from its previous answer, to complete its next request, however slowly it trickles: a slow
 * or garbage client costs one slot here and nothing to SIP. HTTP/1.1 keep-alive and pipelining: the
 * requests in the buffer are answered in order, the next parsed once the previous response
 * has left. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/stats.h"
#include "mgmt/http.h"
#include "mgmt/mgmt.h"
#include "proxy/proxy.h"

#define MAX_CONNS 32
#define MAX_HEAD 8192
#define MAX_RESPONSE (16u << 20)	/* a larger ul_dump is an MI error */
#define HEALTH_MAX_AGE_MS 3000	/* a worker loop silent longer is unhealthy */
#define BEAT_MS 1000		/* an idle worker loop turns at least this often */

/* modparams (set at load, read-only once the thread runs) */
static char p_ip[64] = "127.0.0.1";
static long p_port = 8888;
static long p_conn_timeout = 30;
static long p_post_buf_size = 1024;
static char p_mi_root[64] = "mi";
static char p_prom_root[64] = "metrics";
static char p_prom_prefix[64] = "switchyard";
static unsigned char p_prom_sel[MGMT_STAT_MAX];	/* modparam statistics; all when none set */
static int p_prom_sel_set;

struct conn {
	int fd;
	char *in;
	size_t inlen;
	struct mgmt_buf out;
	size_t outoff;
	uint64_t deadline;	/* ms: the request must be answered by then */
	int close_after;	/* close once out is written */
	int sent_continue;
};

static struct conn conns[MAX_CONNS];
static int lfd = -1, efd = -1, evfd = -1;
static pthread_t thr;
static int running, exit_hooked;
int mgmt_offline;
static char listen_addr[80];
/* which handlers the script loaded, read from px_prog at start: main frees px_prog before the
 * exit hooks stop this thread, so the thread never reads it */
static int mi_on, prom_on;

/* ---- configuration */

static int set_str(char *dst, size_t cap, const struct scr_arg *v, const char **err)
{
	if (v->s.len == 0 || v->s.len >= cap) {
		*err = "value empty or too long";
		return EINVAL;
	}
	memcpy(dst, v->s.s, v->s.len);
	dst[v->s.len] = '\0';
	return 0;
}

static int set_ip(const struct scr_arg *v, const char **err)
{
	struct in6_addr a6;
	struct in_addr a4;
	int rc = set_str(p_ip, sizeof(p_ip), v, err);

	if (!rc && inet_pton(AF_INET, p_ip, &a4) != 1 && inet_pton(AF_INET6, p_ip, &a6) != 1) {
		*err = "httpd ip must be an IPv4 or IPv6 address";
		return EINVAL;
	}
	return rc;
}

static int set_port(const struct scr_arg *v, const char **err)
{
	if (v->i < 1 || v->i > 65535) {
		*err = "httpd port must be 1..65535";
		return EINVAL;
	}
	p_port = v->i;
	return 0;
}

static int set_conn_timeout(const struct scr_arg *v, const char **err)
{
	if (v->i < 1 || v->i > 3600) {
		*err = "conn_timeout must be 1..3600 seconds";
		return EINVAL;
	}
	p_conn_timeout = v->i;
	return 0;
}

static int set_post_buf_size(const struct scr_arg *v, const char **err)
{
	if (v->i < 64 || v->i > (1L << 20)) {
		*err = "post_buf_size must be 64..1048576 bytes";
		return EINVAL;
	}
	p_post_buf_size = v->i;
	return 0;
}

/* OpenSIPS writes roots without the slash ("mi"); a leading one is accepted too */
static int set_root(char *dst, size_t cap, const struct scr_arg *v, const char **err)
{
	struct scr_arg a = *v;
	size_t i;

	while (a.s.len && a.s.s[0] == '/') {
		a.s.s++;
		a.s.len--;
	}
	for (i = 0; i < a.s.len; i++)
		if ((unsigned char)a.s.s[i] <= 0x20 || a.s.s[i] == '?' || a.s.s[i] == '#' ||
		    (unsigned char)a.s.s[i] >= 0x7f) {
			*err = "root must be a plain URL path";
			return EINVAL;
		}
	return set_str(dst, cap, &a, err);
}

static int set_mi_root(const struct scr_arg *v, const char **err)
{
	return set_root(p_mi_root, sizeof(p_mi_root), v, err);
}

static int set_prom_root(const struct scr_arg *v, const char **err)
{
	return set_root(p_prom_root, sizeof(p_prom_root), v, err);
}

static int set_prom_prefix(const struct scr_arg *v, const char **err)
{
	size_t i;

	for (i = 0; i < v->s.len; i++) {
		char c = v->s.s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (i && c >= '0' && c <= '9'))) {
			*err = "prefix must be a Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)";
			return EINVAL;
		}
	}
	if (v->s.len == 0) {
		p_prom_prefix[0] = '\0';
		return 0;
	}
	return set_str(p_prom_prefix, sizeof(p_prom_prefix), v, err);
}

/* modparam("prometheus", "statistics", "core: tm:inuse_transactions"): names as the MI takes
 * them, separated by spaces; several lines add up. OpenSIPS exports nothing without it; we
 * export everything (docs/mgmt.md). */
static int set_prom_stats(const struct scr_arg *v, const char **err)
{
	size_t i = 0;

	while (i < v->s.len) {
		size_t b;

		while (i < v->s.len && (v->s.s[i] == ' ' || v->s.s[i] == '\t'))
			i++;
		b = i;
		while (i < v->s.len && v->s.s[i] != ' ' && v->s.s[i] != '\t')
			i++;
		if (i > b && mgmt_stat_select(sy_str_make(v->s.s + b, i - b), p_prom_sel)) {
			*err = "unknown statistic (see docs/mgmt.md for the names)";
			return EINVAL;
		}
	}
	p_prom_sel_set = 1;
	return 0;
}

/* ---- connections */

static uint64_t now_ms(void)
{
	return sy_now_ms();	/* this thread has no loop: a fresh CLOCK_MONOTONIC read */
}

static void conn_close(struct conn *c)
{
	epoll_ctl(efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	mgmt_buf_free(&c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int path_is(sy_str path, const char *root)
{
	size_t n = strlen(root);

	return path.len == n + 1 && path.s[0] == '/' && memcmp(path.s + 1, root, n) == 0;
}

/* queue one response: status line, headers, body (not for HEAD) */
static void respond(struct conn *c, unsigned code, const char *ctype, const char *extra,
		    const struct mgmt_buf *body, int head_only)
{
	size_t blen = body ? body->len : 0;

	mgmt_buf_printf(&c->out, "HTTP/1.1 %u %s\r\n", code, mgmt_http_reason(code));
	if (code != 204) {
		mgmt_buf_printf(&c->out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
				ctype ? ctype : "text/plain; charset=utf-8", blen);
	}
	mgmt_buf_puts(&c->out, "Cache-Control: no-store\r\n");
	if (extra)
		mgmt_buf_puts(&c->out, extra);
	if (c->close_after)
		mgmt_buf_puts(&c->out, "Connection: close\r\n");
	mgmt_buf_puts(&c->out, "\r\n");
	if (body && !head_only)
		mgmt_buf_put(&c->out, body->s, body->len);
}

/* head_only: the request was a HEAD, whose answer has no content (RFC 9110 §9.3.2: a
 * keep-alive client would read the text as the start of the next response) */
static void respond_text(struct conn *c, unsigned code, const char *text, const char *extra,
			 int head_only)
{
	struct mgmt_buf b;

	mgmt_buf_init(&b, 4096);
	mgmt_buf_printf(&b, "%u %s%s%s\n", code, mgmt_http_reason(code), text ? ": " : "",
			text ? text : "");
	respond(c, code, NULL, extra, &b, head_only);
	mgmt_buf_free(&b);
}

static void handle(struct conn *c, const struct mgmt_http_req *r)
{
	int head = r->method == MGMT_HTTP_HEAD;
	struct mgmt_buf body;
	unsigned code;

	mgmt_buf_init(&body, MAX_RESPONSE);
	if (mi_on && path_is(r->path, p_mi_root)) {
		sy_str ct = r->content_type;
		size_t n = 0;

		if (r->method != MGMT_HTTP_POST) {
			respond_text(c, 405, "use POST", "Allow: POST\r\n", head);
			goto out;
		}
		while (n < ct.len && ct.s[n] != ';' && ct.s[n] != ' ')
			n++;
		if (!sy_str_caseeq_c(sy_str_make(ct.s, n), "application/json")) {
			respond_text(c, 415, "the body must be application/json", NULL, head);
			goto out;
		}
		if (mgmt_mi_handle(r->body.s, r->body.len, &body) == ENODATA)
			respond(c, 204, NULL, NULL, NULL, 0);
		else if (body.err)
			respond_text(c, 500, "out of memory", NULL, head);
		else
			respond(c, 200, "application/json", NULL, &body, 0);
	} else if (prom_on && path_is(r->path, p_prom_root)) {
		if (r->method == MGMT_HTTP_POST) {
			respond_text(c, 405, "use GET", "Allow: GET, HEAD\r\n", head);
			goto out;
		}
		mgmt_metrics(&body, p_prom_prefix, p_prom_sel_set ? p_prom_sel : NULL, now_ms());
		if (body.err)
			respond_text(c, 500, "out of memory", NULL, head);
		else
			respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, &body,
				head);
	} else if (path_is(r->path, "health")) {
		if (r->method == MGMT_HTTP_POST) {
			respond_text(c, 405, "use GET", "Allow: GET, HEAD\r\n", head);
			goto out;
		}
		code = mgmt_health(&body, now_ms(), HEALTH_MAX_AGE_MS);
		respond(c, code, "application/json", NULL, &body, head);
	} else {
		respond_text(c, 404, NULL, NULL, head);
	}
out:
	mgmt_buf_free(&body);
}

/* write what is queued; 0 (all sent or would block), or -1 (connection gone) */
static int conn_flush(struct conn *c)
{
	while (c->outoff < c->out.len) {
		ssize_t n = send(c->fd, c->out.s + c->outoff, c->out.len - c->outoff,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* no reading meanwhile: the next request waits for this response */
				struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

				epoll_ctl(efd, EPOLL_CTL_MOD, c->fd, &ev);
				return 0;
			}
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->outoff += (size_t)n;
	}
	c->out.len = c->outoff = 0;
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		epoll_ctl(efd, EPOLL_CTL_MOD, c->fd, &ev);
	}
	return c->close_after ? -1 : 0;
}

static unsigned status_of(int rc)
{
	switch (rc) {
	case ENODATA: return 411;
	case E2BIG: return 431;
	case EMSGSIZE: return 413;
	case ENOTSUP: return 501;
	case EPROTONOSUPPORT: return 505;
	default: return 400;
	}
}

/* answer every complete request in the buffer, in order, while nothing is queued */
static void conn_process(struct conn *c)
{
	struct mgmt_http_limits lim = { MAX_HEAD, (size_t)p_post_buf_size };

	while (c->out.len == 0 && !c->close_after && c->inlen) {
		struct mgmt_http_req r;
		int rc = mgmt_http_parse(c->in, c->inlen, &lim, &r);

		if (rc == EAGAIN)
			return;
		if (rc == EINPROGRESS) {
			if (r.expect_continue && !c->sent_continue) {
				mgmt_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
				c->sent_continue = 1;
			}
			return;
		}
		if (rc) {
			/* the framing is lost: answer and close (RFC 9112 §9.6) */
			c->close_after = 1;
			respond_text(c, status_of(rc), NULL, NULL,
				     r.method == MGMT_HTTP_HEAD);
			return;
		}
		c->close_after = !r.keep_alive;
		handle(c, &r);
		memmove(c->in, c->in + r.len, c->inlen - r.len);
		c->inlen -= r.len;
		c->sent_continue = 0;
		/* the next request gets its own time */
		c->deadline = now_ms() + (uint64_t)p_conn_timeout * 1000u;
	}
}

/* answer and send while requests are complete and the socket takes the bytes: 0, or -1 when
 * the connection is to be closed */
static int pump(struct conn *c)
{
	for (;;) {
		conn_process(c);
		if (c->out.err)
			return -1;	/* an answer that could not be queued: give up the connection */
		if (c->out.len == 0)
			return 0;
		if (conn_flush(c) < 0)
			return -1;
		if (c->out.len)
			return 0;	/* blocked: EPOLLOUT resumes */
	}
}

static void conn_readable(struct conn *c)
{
	size_t cap = MAX_HEAD + (size_t)p_post_buf_size;

	for (;;) {
		ssize_t n;

		if (c->inlen >= cap) {
			/* head and body limits together fit the buffer, so a full one holds a
			 * complete request (or the parser's error) unless a response is pending */
			if (pump(c) < 0) {
				conn_close(c);
				return;
			}
			if (c->inlen >= cap || c->out.len)
				return;
			continue;
		}
		n = recv(c->fd, c->in + c->inlen, cap - c->inlen, 0);
		if (n == 0) {
			/* the peer finished sending: answer what is complete, then close */
			if (pump(c) < 0 || c->out.len == 0) {
				conn_close(c);
				return;
			}
			c->close_after = 1;
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c);
			return;
		}
		c->inlen += (size_t)n;
		if (pump(c) < 0) {
			conn_close(c);
			return;
		}
		if (c->out.len)
			return;	/* blocked on writing */
	}
	if (c->out.len && conn_flush(c) < 0)
		conn_close(c);
}

static void accept_all(void)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i;
		struct epoll_event ev;
		struct conn *c = NULL;

		if (fd < 0)
			return;
		for (i = 0; i < MAX_CONNS && !c; i++)
			if (conns[i].fd < 0)
				c = &conns[i];
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
						   "Content-Length: 0\r\nConnection: close\r\n\r\n";

			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				LOG_DBG("httpd: 503 to a connection over the limit not sent");
			close(fd);
			continue;
		}
		c->in = malloc(MAX_HEAD + (size_t)p_post_buf_size);
		if (!c->in) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->inlen = 0;
		mgmt_buf_init(&c->out, MAX_RESPONSE + 4096);
		c->deadline = now_ms() + (uint64_t)p_conn_timeout * 1000u;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev) < 0)
			conn_close(c);
	}
}

static void expire(uint64_t now)
{
	int i;

	for (i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &conns[i];

		if (c->fd < 0 || now < c->deadline)
			continue;
		if (c->out.len == 0 && c->inlen) {
			/* a request begun and not finished in time: 408 (RFC 9110 §15.5.9) */
			c->close_after = 1;
			respond_text(c, 408, NULL, NULL, 0);
			if (conn_flush(c) < 0 || c->out.len) {
				conn_close(c);
				continue;
			}
		}
		conn_close(c);
	}
}

static void *thread_main(void *arg)
{
	(void)arg;
	mgmt_mi_set_info((int64_t)time(NULL), (int)syscall(SYS_gettid), listen_addr);
	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(efd, ev, 16, 250), i;

		if (n < 0 && errno != EINTR) {
			LOG_ERR("httpd: epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			if (c == NULL) {
				accept_all();
			} else if (c == (struct conn *)&evfd) {
				return NULL;
			} else if (c->fd >= 0) {
				if (ev[i].events & EPOLLOUT) {
					if (conn_flush(c) < 0 || (!c->out.len && pump(c) < 0)) {
						conn_close(c);
						continue;
					}
				}
				if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					conn_readable(c);
			}
		}
		expire(now_ms());
	}
	return NULL;
}

void mgmt_stop(void)
{
	int i;
	uint64_t one = 1;

	if (running) {
		if (write(evfd, &one, sizeof(one)) < 0)
			LOG_ERR("httpd: cannot wake the listener thread: %s", strerror(errno));
		pthread_join(thr, NULL);
		running = 0;
	}
	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0 && conns[i].in)
			conn_close(&conns[i]);
	if (lfd >= 0)
		close(lfd);
	if (efd >= 0)
		close(efd);
	if (evfd >= 0)
		close(evfd);
	lfd = efd = evfd = -1;
}

int mgmt_start(void)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct epoll_event ev;
	sigset_t all, old;
	char addr[80];
	int one = 1, rc, i;

	if (running)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (strchr(p_ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p_port);
		inet_pton(AF_INET6, p_ip, &a->sin6_addr);
		sl = sizeof(*a);
		snprintf(addr, sizeof(addr), "[%s]:%ld", p_ip, p_port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p_port);
		inet_pton(AF_INET, p_ip, &a->sin_addr);
		sl = sizeof(*a);
		snprintf(addr, sizeof(addr), "%s:%ld", p_ip, p_port);
	}
	for (i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		rc = errno;
		goto fail;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 64) < 0) {
		rc = errno;
		goto fail;
	}
	efd = epoll_create1(EPOLL_CLOEXEC);
	evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0 || evfd < 0) {
		rc = errno;
		goto fail;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		rc = errno;
		goto fail;
	}
	ev.data.ptr = &evfd;	/* a tag no connection can have */
	if (epoll_ctl(efd, EPOLL_CTL_ADD, evfd, &ev) < 0) {
		rc = errno;
		goto fail;
	}
	snprintf(listen_addr, sizeof(listen_addr), "%s", addr);
	mi_on = scr_unit_loaded(px_prog, "mi_http");
	prom_on = scr_unit_loaded(px_prog, "prometheus");
	mgmt_mi_set_info((int64_t)time(NULL), 0, addr);
	/* the thread takes no signal: the main thread's sigwait must get SIGTERM/SIGINT */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&thr, NULL, thread_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto fail;
	running = 1;
	/* every worker loop turns at least once a second, so /health sees a fresh heartbeat
	 * even when there is no traffic (written before the workers start) */
	sy_worker_max_wait_ms = BEAT_MS;
	LOG_NOTICE("httpd: listening on http://%s/ (%s%s%s%s%s%s/health)", addr,
		   mi_on ? "/" : "", mi_on ? p_mi_root : "", mi_on ? " " : "",
		   prom_on ? "/" : "", prom_on ? p_prom_root : "", prom_on ? " " : "");
	return 0;
fail:
	LOG_ERR("httpd: cannot listen on %s: %s", addr, strerror(rc));
	mgmt_stop();
	return rc;
}

static void at_exit(void)
{
	mgmt_stop();
}

static int httpd_init(void)
{
	int rc;

	if (mgmt_offline)
		return 0;
	rc = mgmt_start();

	/* stopped at exit after main joined the workers; registered after usrloc's own exit
	 * hook (units init in scr_units[] order), so it runs first: no MI reads a table being
	 * freed */
	if (!rc && !exit_hooked) {
		atexit(at_exit);
		exit_hooked = 1;
	}
	return rc;
}

static const struct scr_fn no_fns[] = {
	{ .name = NULL },
};

static const struct scr_modparam httpd_params[] = {
	{ "ip", SCR_PARAM_STR, set_ip },
	{ "port", SCR_PARAM_INT, set_port },
	{ "conn_timeout", SCR_PARAM_INT, set_conn_timeout },
	{ "post_buf_size", SCR_PARAM_INT, set_post_buf_size },
	{ NULL, SCR_PARAM_INT, NULL },
};

static const struct scr_modparam mi_http_params[] = {
	{ "root", SCR_PARAM_STR, set_mi_root },
	{ NULL, SCR_PARAM_INT, NULL },
};

static const struct scr_modparam prom_params[] = {
	{ "root", SCR_PARAM_STR, set_prom_root },
	{ "prefix", SCR_PARAM_STR, set_prom_prefix },
	{ "statistics", SCR_PARAM_STR, set_prom_stats },
	{ NULL, SCR_PARAM_INT, NULL },
};

const struct scr_unit mgmt_httpd_unit = {
	.name = "httpd",
	.fns = no_fns,
	.params = httpd_params,
	.init = httpd_init,
};

/* as in OpenSIPS, mi_http and prometheus are handlers on httpd's server */
static int needs_httpd(const char *unit)
{
	if (scr_unit_loaded(px_prog, "httpd"))
		return 0;
	LOG_ERR("%s: needs loadmodule \"httpd.so\" (it serves the HTTP requests)", unit);
	return EINVAL;
}

static int mi_http_init(void)
{
	return needs_httpd("mi_http");
}

static int prom_init(void)
{
	return needs_httpd("prometheus");
}

const struct scr_unit mgmt_mi_http_unit = {
	.name = "mi_http",
	.fns = no_fns,
	.params = mi_http_params,
	.init = mi_http_init,
};

const struct scr_unit mgmt_prometheus_unit = {
	.name = "prometheus",
	.fns = no_fns,
	.params = prom_params,
	.init = prom_init,
};
