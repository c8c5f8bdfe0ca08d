/* ds_probe.c: the dispatcher's prober. tm has no API for a request the proxy originates
 * itself (its client side only forks received requests), so the pings do not go through tm:
 * one helper thread owns a UDP socket per address family, bound to the IP of our first UDP
 * listen of that family (or ds_probing_sock) on a port of its own, sends an OPTIONS
 * (ds_ping_method) to every destination that is probing (all of them with
 * ds_probing_mode 1, and list_file flag 8 ones always) every ds_ping_interval seconds, and
 * reads the replies on the same socket: they come back to it by the Via sent-by/rport, never
 * to a worker. A ping still unanswered when the next round starts counted as failed
 * (one ping interval is its timeout; RFC 3261 §17.1.2.2 Timer F is longer, but a gateway that
 * does not answer an OPTIONS within the interval is not one to send calls to). A 200, or any
 * code in options_reply_codes, from the destination's IP, is a success (ds_ping_result).
 * Workers are never involved: the only thing shared is each destination's atomic state.
 * A TCP destination is pinged on a connection of its own, opened, written and read by this
 * thread one destination after the other (at most DS_TCP_WAIT_MS each: this thread may wait,
 * a worker never does); a refused or timed-out connect is a failed ping at once. TLS
 * destinations are not pinged. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* SHA256_* rather than EVP/HMAC(): on this helper thread EVP and RAND leave per-thread
 * OpenSSL state that nothing frees when the thread ends (ASan reports it at exit); the
 * low-level functions keep their context on the stack (as auth_digest.c does) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include "core/log.h"
#include "mod/dispatcher.h"
#include "tp/tp.h"

#define DS_BRANCH_PFX "z9hG4bKdsp."
#define DS_MAC_HEX 16	/* 64 bits of HMAC-SHA256 in the branch */

static atomic_uint ping_seq;
static pthread_t thr;
static int started;
static int wake_fd[2] = { -1, -1 };
static atomic_int stopping;	/* ds_probe_stop(): a round in progress ends at once */
static int sock[2] = { -1, -1 };		/* IPv4, IPv6 */
static struct sy_addr local[2];

static int family_slot(const struct sy_addr *a)
{
	return a->u.sa.sa_family == AF_INET6 ? 1 : 0;
}

static int eligible(const struct ds_dest *d)
{
	unsigned st = atomic_load(&d->state);

	if (d->proto != SY_PROTO_UDP && d->proto != SY_PROTO_TCP)
		return 0;
	return (st & DS_ST_PROBING) || ds_cfg.probing_mode == 1 || (d->lflags & DS_LF_PING);
}

/* The ping's branch carries a MAC of (idx, seq) under a random per-process key: idx and seq
 * alone are guessable (seq counts up by one per ping, so a destination that sees its own
 * pings knows the others'), and a reply is accepted from any port of the destination's IP,
 * so without it any host behind that IP, or anyone able to spoof it over UDP, could answer
 * for a destination it is not. The key is made once, on first use (the prober thread, or a
 * test); RFC 3261 §8.1.1.7 only asks the branch to be unique and start with the cookie. */
static unsigned char mac_key[32];
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;
static int mac_ok;

static void mac_init(void)
{
	mac_ok = getrandom(mac_key, sizeof(mac_key), 0) == (ssize_t)sizeof(mac_key);
}

/* HMAC-SHA256 (RFC 2104) of idx | seq, its first DS_MAC_HEX / 2 octets in hex */
static int branch_mac(unsigned idx, unsigned seq, char *out)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char msg[8], pad[64], md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	unsigned i;
	int ok;

	pthread_once(&mac_once, mac_init);
	if (!mac_ok)
		return EIO;
	for (i = 0; i < 4; i++) {
		msg[i] = (unsigned char)(idx >> (24 - 8 * i));
		msg[4 + i] = (unsigned char)(seq >> (24 - 8 * i));
	}
	for (i = 0; i < 64; i++)
		pad[i] = (unsigned char)((i < sizeof(mac_key) ? mac_key[i] : 0) ^ 0x36);
	ok = SHA256_Init(&c) && SHA256_Update(&c, pad, 64) && SHA256_Update(&c, msg, 8) &&
	     SHA256_Final(md, &c);
	for (i = 0; i < 64; i++)
		pad[i] = (unsigned char)((i < sizeof(mac_key) ? mac_key[i] : 0) ^ 0x5c);
	ok = ok && SHA256_Init(&c) && SHA256_Update(&c, pad, 64) &&
	     SHA256_Update(&c, md, sizeof(md)) && SHA256_Final(md, &c);
	OPENSSL_cleanse(pad, sizeof(pad));
	if (!ok)
		return EIO;
	for (i = 0; i < DS_MAC_HEX / 2; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	return 0;
}

int ds_probe_branch(unsigned idx, unsigned seq, char *buf, size_t cap)
{
	char mac[DS_MAC_HEX];
	int n;

	if (branch_mac(idx, seq, mac))
		return EIO;
	n = snprintf(buf, cap, DS_BRANCH_PFX "%u.%u.%.*s", idx, seq, DS_MAC_HEX, mac);
	return n > 0 && (size_t)n < cap ? 0 : ENOSPC;
}

/* the Via sent-by of a local address: IP ([v6]) and port */
static int hostport(const struct sy_addr *a, char *buf, size_t cap)
{
	char ip[64];
	size_t n = tp_addr_ip(a, ip, sizeof(ip));
	int k;

	ip[n < sizeof(ip) ? n : sizeof(ip) - 1] = '\0';
	k = snprintf(buf, cap, a->u.sa.sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		     tp_addr_port(a));
	return k > 0 && (size_t)k < cap ? 0 : ENOSPC;
}

static void log_change(const struct ds_dest *d, int ok)
{
	if (ok)
		LOG_NOTICE("dispatcher: %.*s (set %u) answers pings again: active", SY_FMT(d->uri),
			   d->setid);
	else
		LOG_NOTICE("dispatcher: %.*s (set %u) failed %u pings in a row: inactive (probing)",
			   SY_FMT(d->uri), d->setid, ds_cfg.probing_threshold);
}

/* the ping to d as it leaves from la over transport ("UDP", "TCP") into buf; the destination
 * now waits for that sequence number (d->pending) */
static int build_ping(const struct sy_addr *la, struct ds_dest *d, const char *transport,
		      char *buf, size_t cap, size_t *len)
{
	char hp[80], br[64];
	unsigned seq = atomic_fetch_add(&ping_seq, 1) + 1;
	int n;

	if (!seq)
		seq = atomic_fetch_add(&ping_seq, 1) + 1;	/* 0 means "none pending" */
	if (hostport(la, hp, sizeof(hp)) || ds_probe_branch(d->idx, seq, br, sizeof(br)))
		return ENOSPC;
	n = snprintf(buf, cap,
		     "%s %.*s SIP/2.0\r\n"
		     "Via: SIP/2.0/%s %s;branch=%s;rport\r\n"
		     "Max-Forwards: %d\r\n"
		     "From: <%s>;tag=dsp%u\r\n"
		     "To: <%.*s>\r\n"
		     "Call-ID: dsp.%u.%u@%s\r\n"
		     "CSeq: %u %s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     ds_cfg.ping_method, SY_FMT(d->uri), transport, hp, br,
		     ds_cfg.ping_maxfwd >= 0 ? ds_cfg.ping_maxfwd : 70, ds_cfg.ping_from, seq,
		     SY_FMT(d->uri), d->idx, seq, hp, seq, ds_cfg.ping_method);
	if (n <= 0 || (size_t)n >= cap)
		return ENOSPC;
	*len = (size_t)n;
	atomic_store(&d->pending, seq);
	return 0;
}

static int send_ping(int fd, const struct sy_addr *la, struct ds_dest *d)
{
	char buf[1024];
	size_t len;
	int rc = build_ping(la, d, "UDP", buf, sizeof(buf), &len);

	if (rc)
		return rc;
	if (sendto(fd, buf, len, 0, &d->addr.u.sa, d->addr.len) < 0)
		return errno;
	return 0;
}

#define DS_TCP_WAIT_MS 1000u

static uint64_t now_ms(void);

static int wait_left(uint64_t deadline)
{
	uint64_t now = now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/* fd ready for events before the deadline: 1; timed out, or ds_probe_stop() woke us: 0. A
 * round of TCP pings waits up to DS_TCP_WAIT_MS per destination, so without the wake-up a
 * SIGTERM waited for every silent TCP gateway in turn before the process could exit */
static int tcp_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd p[2] = { { fd, events, 0 }, { wake_fd[0], POLLIN, 0 } };

	if (poll(p, 2, wait_left(deadline)) < 1 || p[1].revents)
		return 0;
	return p[0].revents != 0;
}

/* one ping over a connection of its own: connect, send, read replies (framed, RFC 3261
 * §18.3) until the final one or the deadline. A connect that fails counts at once; a ping
 * sent but unanswered stays pending and counts at the next round, as over UDP. */
static void tcp_ping(struct ds_dest *d)
{
	char out[1024], in[4096];
	struct sip_limits lim;
	struct sip_framer fr;
	struct sy_addr la;
	uint64_t wait = (uint64_t)ds_cfg.ping_interval * 500u, deadline;
	size_t len, got = 0, mlen;
	socklen_t sl = sizeof(int);
	int fd, err = 0, ka, rc = EAGAIN, sent = 0;

	deadline = now_ms() + (wait < DS_TCP_WAIT_MS ? wait : DS_TCP_WAIT_MS);
	fd = socket(d->addr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, &d->addr.u.sa, d->addr.len) < 0 && errno != EINPROGRESS)
		goto out;
	if (!tcp_wait(fd, POLLOUT, deadline) ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err)
		goto out;
	la.len = sizeof(la.u.ss);
	if (getsockname(fd, &la.u.sa, &la.len) ||
	    build_ping(&la, d, "TCP", out, sizeof(out), &len) ||
	    send(fd, out, len, MSG_NOSIGNAL) != (ssize_t)len)
		goto out;
	sent = 1;
	sip_limits_default(&lim);
	lim.max_msg = sizeof(in);
	sip_framer_reset(&fr);
	while (got < sizeof(in) && atomic_load(&d->pending) != 0) {
		ssize_t r;

		if (!tcp_wait(fd, POLLIN, deadline))
			break;
		r = recv(fd, in + got, sizeof(in) - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		while ((rc = sip_frame(&fr, in, got, &lim, &mlen, &ka)) == 0) {
			if (!ka)
				ds_probe_reply(in, mlen, NULL);	/* our connection to d */
			memmove(in, in + mlen, got - mlen);
			got -= mlen;
			sip_framer_reset(&fr);
		}
		if (rc != EAGAIN)
			break;
	}
out:
	close(fd);
	if (!sent && ds_ping_result(d->idx, 0))
		log_change(d, 0);
}

int ds_probe_round(int fd, const struct sy_addr *la)
{
	unsigned i, n = ds_dest_count();

	for (i = 0; i < n && !atomic_load(&stopping); i++) {
		struct ds_dest *d = ds_dest_get(i);
		int f = family_slot(&d->addr);

		if (!eligible(d))
			continue;
		/* the previous ping got no final reply within one interval: a failure */
		if (atomic_exchange(&d->pending, 0) && ds_ping_result(i, 0))
			log_change(d, 0);
		if (fd >= 0) {
			/* a test round on the caller's socket: UDP only */
			if (family_slot(la) == f && d->proto == SY_PROTO_UDP)
				send_ping(fd, la, d);
		} else if (d->proto == SY_PROTO_TCP) {
			tcp_ping(d);
		} else if (sock[f] >= 0) {
			send_ping(sock[f], &local[f], d);
		}
	}
	return 0;
}

/* "z9hG4bKdsp.<idx>.<seq>.<mac>" -> idx, seq when the MAC is the one we made for them */
static int parse_branch(sy_str b, unsigned *idx, unsigned *seq)
{
	size_t i = sizeof(DS_BRANCH_PFX) - 1;
	unsigned long v[2] = { 0, 0 };
	char mac[DS_MAC_HEX];
	int k;

	if (b.len <= i || strncmp(b.s, DS_BRANCH_PFX, i) != 0)
		return EINVAL;
	for (k = 0; k < 2; k++) {
		size_t start = i;

		while (i < b.len && b.s[i] >= '0' && b.s[i] <= '9' && i - start < 10)
			v[k] = v[k] * 10 + (unsigned long)(b.s[i++] - '0');
		if (i == start || v[k] > 0xffffffffUL)
			return EINVAL;
		if (i >= b.len || b.s[i++] != '.')
			return EINVAL;
	}
	if (b.len - i != DS_MAC_HEX || branch_mac((unsigned)v[0], (unsigned)v[1], mac) ||
	    CRYPTO_memcmp(mac, b.s + i, DS_MAC_HEX) != 0)
		return EINVAL;
	*idx = (unsigned)v[0];
	*seq = (unsigned)v[1];
	return 0;
}

int ds_probe_reply(const char *buf, size_t len, const struct sy_addr *from)
{
	struct sip_hdr hdr[64];
	struct sip_limits lim;
	struct sip_msg m;
	struct ds_dest *d;
	unsigned idx, seq, i, ok;
	unsigned exp;

	sip_limits_default(&lim);
	lim.max_headers = 64;
	m.hdr = hdr;
	m.hdr_cap = 64;
	if (sip_msg_parse(&m, buf, len, 0, &lim) || m.is_request ||
	    parse_branch(m.via1.branch, &idx, &seq) || !(d = ds_dest_get(idx)))
		return 0;
	if (!sy_str_eq(m.cseq_method, sy_cstr(ds_cfg.ping_method)) || m.cseq != seq)
		return 0;
	/* only the destination itself may answer for it (any port: some answer from another) */
	if (from && !tp_addr_same_ip(from, &d->addr))
		return 0;
	if (m.status < 200)
		return 1;	/* provisional: the final one decides */
	exp = seq;
	if (!atomic_compare_exchange_strong(&d->pending, &exp, 0))
		return 1;	/* late, or a retransmission: that ping was already counted */
	ok = m.status == 200;
	for (i = 0; !ok && i < ds_cfg.nreply_codes; i++)
		ok = m.status == ds_cfg.reply_codes[i];
	if (ds_ping_result(idx, (int)ok))
		log_change(d, (int)ok);
	return 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *probe_main(void *arg)
{
	struct sy_addr from;
	char buf[4096];
	uint64_t next = now_ms() + (uint64_t)ds_cfg.ping_interval * 1000u;

	(void)arg;
	/* the first round one interval after start-up: the workers are up by then */
	for (;;) {
		struct pollfd p[3];
		uint64_t now = now_ms();
		int k, np = 0;

		if (now >= next) {
			ds_probe_round(-1, NULL);
			/* timed from the round's end: a round slowed by TCP destinations (up to
			 * 1 s each) can outlast the interval, and timed from its start the rounds
			 * then ran back to back, never reading the UDP answers below */
			next = now_ms() + (uint64_t)ds_cfg.ping_interval * 1000u;
			continue;
		}
		p[np].fd = wake_fd[0];
		p[np++].events = POLLIN;
		for (k = 0; k < 2; k++)
			if (sock[k] >= 0) {
				p[np].fd = sock[k];
				p[np++].events = POLLIN;
			}
		if (poll(p, (nfds_t)np, (int)(next - now)) < 0) {
			if (errno == EINTR)
				continue;
			LOG_ERR("dispatcher: prober stopped: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[0].revents)
			return NULL;	/* ds_probe_stop() */
		for (k = 1; k < np; k++) {
			ssize_t r;

			if (!(p[k].revents & POLLIN))
				continue;
			from.len = sizeof(from.u.ss);
			r = recvfrom(p[k].fd, buf, sizeof(buf), MSG_DONTWAIT, &from.u.sa, &from.len);
			if (r > 0)
				ds_probe_reply(buf, (size_t)r, &from);
		}
	}
	return NULL;
}

/* the address the pings of one family leave from: ds_probing_sock, else the first UDP listen
 * of that family, on a port of our own */
static int open_sock(int fam, const struct sy_addr *want)
{
	const struct tp_listen *l = NULL;
	struct sy_addr a;
	unsigned i;
	int fd;

	memset(&a, 0, sizeof(a));
	if (want) {
		a = *want;
	} else {
		for (i = 0; i < tp_listen_count(); i++) {
			const struct tp_listen *x = tp_listen_get(i);

			if (x->proto == SY_PROTO_UDP && x->addr.u.sa.sa_family == fam) {
				l = x;
				break;
			}
		}
		if (l) {
			a = l->addr;
		} else {
			a.u.sa.sa_family = (sa_family_t)fam;
			a.len = fam == AF_INET6 ? sizeof(a.u.in6) : sizeof(a.u.in);
		}
	}
	if (fam == AF_INET6)
		a.u.in6.sin6_port = 0;
	else
		a.u.in.sin_port = 0;
	fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, &a.u.sa, a.len) < 0) {
		close(fd);
		return -1;
	}
	a.len = sizeof(a.u.ss);
	if (getsockname(fd, &a.u.sa, &a.len) < 0) {
		close(fd);
		return -1;
	}
	local[fam == AF_INET6 ? 1 : 0] = a;
	return fd;
}

int ds_probe_start(void)
{
	struct sy_addr want, *wp = NULL;
	sigset_t all, old;
	unsigned i, need[2] = { 0, 0 };
	int rc;

	if (started || !ds_cfg.ping_interval)
		return 0;
	for (i = 0; i < ds_dest_count(); i++) {
		const struct ds_dest *d = ds_dest_get(i);

		if (d->proto == SY_PROTO_UDP)
			need[family_slot(&d->addr)] = 1;
		else if (d->proto != SY_PROTO_TCP)
			LOG_WARN("dispatcher: %.*s is TLS: it is never pinged", SY_FMT(d->uri));
	}
	if (ds_cfg.probing_sock[0]) {
		sy_str s = sy_cstr(ds_cfg.probing_sock), host;
		const char *colon;

		if (s.len > 4 && strncasecmp(s.s, "udp:", 4) == 0) {
			s.s += 4;
			s.len -= 4;
		}
		/* [v6]:port, v4:port, or an address alone; the port is ours to pick */
		colon = s.s[0] == '[' ? memchr(s.s, ']', s.len) : memchr(s.s, ':', s.len);
		if (s.s[0] == '[' && colon)
			colon = (size_t)(colon - s.s) + 1 < s.len ? colon + 1 : NULL;
		host = colon ? sy_str_make(s.s, (size_t)(colon - s.s)) : s;
		if (tp_addr_parse(host, 0, &want)) {
			LOG_ERR("dispatcher: ds_probing_sock \"%s\" is not [udp:]IP[:port]",
				ds_cfg.probing_sock);
			return EINVAL;
		}
		wp = &want;
	}
	for (i = 0; i < 2; i++) {
		int fam = i ? AF_INET6 : AF_INET;

		if (!need[i])
			continue;
		sock[i] = open_sock(fam, wp && wp->u.sa.sa_family == fam ? wp : NULL);
		if (sock[i] < 0) {
			LOG_ERR("dispatcher: cannot open the probing socket: %s", strerror(errno));
			ds_probe_stop();
			return EADDRNOTAVAIL;
		}
	}
	if (pipe(wake_fd) < 0) {
		ds_probe_stop();
		return errno;
	}
	/* signals belong to the main thread's sigwait, never to this helper */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&thr, NULL, probe_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		ds_probe_stop();
		return EAGAIN;
	}
	started = 1;
	return 0;
}

void ds_probe_stop(void)
{
	int i;

	if (started) {
		ssize_t w;

		atomic_store(&stopping, 1);
		w = write(wake_fd[1], "x", 1);
		(void)w;
		pthread_join(thr, NULL);
		started = 0;
		atomic_store(&stopping, 0);
	}
	for (i = 0; i < 2; i++) {
		if (wake_fd[i] >= 0)
			close(wake_fd[i]);
		if (sock[i] >= 0)
			close(sock[i]);
		wake_fd[i] = sock[i] = -1;
	}
}
