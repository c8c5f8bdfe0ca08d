/* listen.c: the listen table (filled at load, read-only once workers run), address helpers,
 * per-worker socket set-up and the send dispatch by transport. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <unistd.h>

#include "core/log.h"
#include "tp/tp.h"

static struct tp_listen listens[TP_MAX_LISTEN];
static unsigned nlisten;

tp_recv_fn tp_recv_cb;
static tp_send_hook_fn send_hook;

/* this worker's UDP socket per listen (-1 for other transports) */
static _Thread_local int udp_fd[TP_MAX_LISTEN];
static _Thread_local int udp_open;

void tp_set_recv(tp_recv_fn fn)
{
	tp_recv_cb = fn;
}

void tp_set_send_hook(tp_send_hook_fn fn)
{
	send_hook = fn;
}

/* dotted-quad IPv4 without the copy and NUL that inet_pton needs: 0 or EINVAL */
static int ipv4_parse(sy_str h, uint32_t *out)
{
	uint32_t ip = 0;
	unsigned octet = 0, digits = 0, dots = 0;
	size_t i;

	for (i = 0; i < h.len; i++) {
		char c = h.s[i];

		if (c >= '0' && c <= '9') {
			octet = octet * 10u + (unsigned)(c - '0');
			if (++digits > 3 || octet > 255)
				return EINVAL;
		} else if (c == '.' && digits && dots < 3) {
			ip = ip << 8 | octet;
			octet = digits = 0;
			dots++;
		} else {
			return EINVAL;
		}
	}
	if (dots != 3 || !digits)
		return EINVAL;
	*out = htonl(ip << 8 | octet);
	return 0;
}

int tp_addr_parse(sy_str host, unsigned port, struct sy_addr *out)
{
	char ip[64];
	uint32_t v4;

	if (port > 65535)
		return EINVAL;
	if (host.len >= 2 && host.s[0] == '[' && host.s[host.len - 1] == ']') {
		host.s++;
		host.len -= 2;
	}
	if (host.len == 0 || host.len >= sizeof(ip))
		return EINVAL;
	if (ipv4_parse(host, &v4) == 0) {	/* the common case, on every message */
		memset(out, 0, sizeof(*out));
		out->u.in.sin_family = AF_INET;
		out->u.in.sin_port = htons((uint16_t)port);
		out->u.in.sin_addr.s_addr = v4;
		out->len = sizeof(out->u.in);
		return 0;
	}
	memcpy(ip, host.s, host.len);
	ip[host.len] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, ip, &out->u.in.sin_addr) == 1) {
		out->u.in.sin_family = AF_INET;
		out->u.in.sin_port = htons((uint16_t)port);
		out->len = sizeof(out->u.in);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &out->u.in6.sin6_addr) == 1) {
		out->u.in6.sin6_family = AF_INET6;
		out->u.in6.sin6_port = htons((uint16_t)port);
		out->len = sizeof(out->u.in6);
		return 0;
	}
	return EINVAL;
}

size_t tp_addr_ip(const struct sy_addr *a, char *buf, size_t cap)
{
	const void *src = a->u.sa.sa_family == AF_INET6 ? (const void *)&a->u.in6.sin6_addr
							: (const void *)&a->u.in.sin_addr;

	if (!cap)
		return 0;
	if (a->u.sa.sa_family == AF_INET && cap >= 16) {
		/* hand-formatted: this runs for every request (received=, logs) */
		const unsigned char *b = (const unsigned char *)&a->u.in.sin_addr.s_addr;
		size_t n = 0;
		int i;

		for (i = 0; i < 4; i++) {
			unsigned v = b[i];

			if (v >= 100)
				buf[n++] = (char)('0' + v / 100);
			if (v >= 10)
				buf[n++] = (char)('0' + v / 10 % 10);
			buf[n++] = (char)('0' + v % 10);
			buf[n++] = i < 3 ? '.' : 0;
		}
		return n - 1;
	}
	if (!inet_ntop(a->u.sa.sa_family, src, buf, (socklen_t)cap)) {
		buf[0] = 0;
		return 0;
	}
	return strlen(buf);
}

unsigned tp_addr_port(const struct sy_addr *a)
{
	return a->u.sa.sa_family == AF_INET6 ? ntohs(a->u.in6.sin6_port) : ntohs(a->u.in.sin_port);
}

int tp_addr_same_ip(const struct sy_addr *a, const struct sy_addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return 0;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
	return 0;
}

int tp_addr_is_bcast(const struct sy_addr *a)
{
	if (a->u.sa.sa_family == AF_INET) {
		uint32_t ip = ntohl(a->u.in.sin_addr.s_addr);

		return (ip & 0xf0000000u) == 0xe0000000u || ip == 0xffffffffu;
	}
	if (a->u.sa.sa_family == AF_INET6)
		return a->u.in6.sin6_addr.s6_addr[0] == 0xff;
	return 0;
}

/* a wildcard listen cannot be written in a Via: advertise the first non-loopback address of
 * its family (else the loopback one) */
static void advertise_wildcard(struct tp_listen *ls)
{
	struct ifaddrs *ifs = NULL, *i;
	int fam = ls->addr.u.sa.sa_family;
	struct sy_addr a;
	char ip[INET6_ADDRSTRLEN];

	memset(&a, 0, sizeof(a));
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != fam)
				continue;
			if (fam == AF_INET6 &&
			    IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr))
				continue;
			memcpy(&a.u.ss, i->ifa_addr,
			       fam == AF_INET ? sizeof(a.u.in) : sizeof(a.u.in6));
			if (!(i->ifa_flags & IFF_LOOPBACK))
				break;
		}
		freeifaddrs(ifs);
	}
	if (!a.u.sa.sa_family)
		return;
	tp_addr_ip(&a, ip, sizeof(ip));
	if (fam == AF_INET6)
		snprintf(ls->host, sizeof(ls->host), "[%s]", ip);
	else
		snprintf(ls->host, sizeof(ls->host), "%s", ip);
}

static int is_wildcard(const struct sy_addr *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
	return memcmp(&a->u.in6.sin6_addr, &any6, sizeof(any6)) == 0;
}

int tp_listen_add(enum sy_proto proto, sy_str host, unsigned port, int *idx)
{
	struct tp_listen *ls;
	int rc;

	if (proto != SY_PROTO_UDP && proto != SY_PROTO_TCP)
		return EPROTONOSUPPORT;
	if (nlisten >= TP_MAX_LISTEN)
		return ENOSPC;
	if (port == 0)
		port = 5060;
	ls = &listens[nlisten];
	memset(ls, 0, sizeof(*ls));
	if (sy_str_caseeq_c(host, "localhost"))
		host = SY_STR("127.0.0.1");
	else if (sy_str_eq(host, SY_STR("*")))
		host = SY_STR("0.0.0.0");
	rc = tp_addr_parse(host, port, &ls->addr);
	if (rc)
		return rc;
	ls->proto = proto;
	ls->port = port;
	if (ls->addr.u.sa.sa_family == AF_INET6) {
		char ip[INET6_ADDRSTRLEN];

		tp_addr_ip(&ls->addr, ip, sizeof(ip));
		snprintf(ls->host, sizeof(ls->host), "[%s]", ip);
	} else {
		tp_addr_ip(&ls->addr, ls->host, sizeof(ls->host));
	}
	if (is_wildcard(&ls->addr))
		advertise_wildcard(ls);
	if (idx)
		*idx = (int)nlisten;
	nlisten++;
	return 0;
}

unsigned tp_listen_count(void)
{
	return nlisten;
}

const struct tp_listen *tp_listen_get(unsigned idx)
{
	return idx < nlisten ? &listens[idx] : NULL;
}

void tp_listen_reset(void)
{
	nlisten = 0;
}

const struct tp_listen *tp_listen_pick(const struct sy_dest *dst)
{
	const struct tp_listen *any = NULL;
	enum sy_proto p = dst->proto == SY_PROTO_NONE ? SY_PROTO_UDP : dst->proto;
	unsigned i;

	if (dst->listen_idx >= 0 && (unsigned)dst->listen_idx < nlisten &&
	    listens[dst->listen_idx].proto == p)
		return &listens[dst->listen_idx];
	for (i = 0; i < nlisten; i++) {
		if (listens[i].proto != p)
			continue;
		if (listens[i].addr.u.sa.sa_family == dst->addr.u.sa.sa_family)
			return &listens[i];
		if (!any)
			any = &listens[i];
	}
	return any;
}

int tp_listen_match(sy_str host, unsigned port)
{
	struct sy_addr a;
	unsigned i;

	if (tp_addr_parse(host, 0, &a))
		return 0;
	for (i = 0; i < nlisten; i++) {
		unsigned dflt = listens[i].proto == SY_PROTO_TLS ? 5061 : 5060;

		if ((port ? port : dflt) != listens[i].port)
			continue;
		/* the bound IP, or what a wildcard listen advertises in our Via */
		if (tp_addr_same_ip(&a, &listens[i].addr) ||
		    sy_str_caseeq(host, sy_cstr(listens[i].host)))
			return 1;
	}
	return 0;
}

int tp_worker_init(struct sy_loop *l, int idx)
{
	unsigned i;
	int rc;

	for (i = 0; i < TP_MAX_LISTEN; i++)
		udp_fd[i] = -1;
	udp_open = 1;
	for (i = 0; i < nlisten; i++) {
		if (listens[i].proto != SY_PROTO_UDP)
			continue;
		rc = tp_udp_open(l, idx, i, &udp_fd[i]);
		if (rc)
			goto out;
	}
	rc = tp_tcp_worker_init(l, idx);
out:
	if (rc)
		tp_worker_fini();
	return rc;
}

void tp_worker_fini(void)
{
	struct sy_loop *l = sy_loop_self();
	unsigned i;

	if (!udp_open)
		return;
	for (i = 0; i < TP_MAX_LISTEN; i++) {
		if (udp_fd[i] >= 0) {
			if (l)
				sy_loop_del_fd(l, udp_fd[i]);
			close(udp_fd[i]);
			udp_fd[i] = -1;
		}
	}
	udp_open = 0;
	tp_udp_worker_fini();
	tp_tcp_worker_fini();
}

int tp_send(const struct sy_dest *dst, const char *buf, size_t len)
{
	const struct tp_listen *ls;
	enum sy_proto p = dst->proto == SY_PROTO_NONE ? SY_PROTO_UDP : dst->proto;

	if (tp_addr_is_bcast(&dst->addr))
		return EHOSTUNREACH;
	ls = tp_listen_pick(dst);
	if (!ls)
		return EPROTONOSUPPORT;
	if (send_hook)	/* after the checks a real send makes, so a trace refuses the same */
		return send_hook(dst, buf, len);
	if (p == SY_PROTO_UDP) {
		int fd = udp_open ? udp_fd[ls - listens] : -1;

		if (fd < 0)
			return EBADF;
		return tp_udp_send(fd, &dst->addr, buf, len);
	}
	if (p == SY_PROTO_TCP)
		return tp_tcp_send(dst, ls, buf, len);
	return EPROTONOSUPPORT;
}
