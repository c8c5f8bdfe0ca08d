/* resolve.c: SIP URI -> destination (RFC 3263 subset). Numeric hosts and `localhost` are
 * converted directly; host names must have been resolved at load with px_dns_add(), because a
 * worker never waits for DNS (an unknown name is EHOSTUNREACH and the caller answers 478/500).
 * The name cache is written only before workers start and read-only afterwards: no lock. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "proxy/proxy.h"
#include "tp/tp.h"

#define PX_DNS_MAX 64

struct dns_ent {
	char *name;
	size_t len;
	struct sy_addr addr;	/* port 0 */
};
static struct dns_ent dns[PX_DNS_MAX];
static unsigned ndns;
static unsigned dns_gen;	/* bumped on every change of the name cache */

static const struct dns_ent *dns_find(sy_str host)
{
	unsigned i;

	for (i = 0; i < ndns; i++)
		if (sy_str_caseeq(host, sy_str_make(dns[i].name, dns[i].len)))
			return &dns[i];
	return NULL;
}

int px_dns_add(sy_str name)
{
	struct addrinfo hints, *res = NULL;
	struct dns_ent *e;
	int rc = 0;

	if (dns_find(name))
		return 0;
	if (ndns >= PX_DNS_MAX)
		return ENOSPC;
	e = &dns[ndns];
	memset(e, 0, sizeof(*e));
	e->name = strndup(name.s, name.len);
	if (!e->name)
		return ENOMEM;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(e->name, NULL, &hints, &res) || !res ||
	    res->ai_addrlen > sizeof(e->addr.u.ss)) {
		LOG_ERR("cannot resolve host name '%s'", e->name);
		rc = EHOSTUNREACH;
		goto out;
	}
	memcpy(&e->addr.u.ss, res->ai_addr, res->ai_addrlen);
	e->addr.len = res->ai_addrlen;
	e->len = name.len;
	ndns++;
	dns_gen++;
out:
	if (res)
		freeaddrinfo(res);
	if (rc) {
		free(e->name);
		e->name = NULL;
	}
	return rc;
}

void px_dns_reset(void)
{
	unsigned i;

	for (i = 0; i < ndns; i++)
		free(dns[i].name);
	ndns = 0;
	dns_gen++;
}

/* a script destination as a SIP URI: dest itself, or the OpenSIPS "proto:host:port" made into
 * "sip:host:port;transport=proto" in buf (cap >= dest.len + 16). 0 or EINVAL */
static int dest_uri(sy_str dest, char *buf, size_t cap, sy_str *uri)
{
	static const char *const protos[] = { "udp", "tcp", "tls", "ws", "wss" };
	const char *c;
	sy_str proto = SY_NULL_STR, hp = dest;
	size_t n, i;

	if (dest.len == 0)
		return EINVAL;
	if ((dest.len > 4 && strncasecmp(dest.s, "sip:", 4) == 0) ||
	    (dest.len > 5 && strncasecmp(dest.s, "sips:", 5) == 0)) {
		*uri = dest;
		return 0;
	}
	c = memchr(dest.s, ':', dest.len);
	for (i = 0; c && dest.s[0] != '[' && i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (sy_str_caseeq_c(sy_str_make(dest.s, (size_t)(c - dest.s)), protos[i])) {
			proto = sy_cstr(protos[i]);
			hp = sy_str_make(c + 1, dest.len - (size_t)(c - dest.s) - 1);
			break;
		}
	}
	n = 4 + hp.len + (proto.len ? 11 + proto.len : 0);
	if (hp.len == 0 || n > cap)
		return EINVAL;
	memcpy(buf, "sip:", 4);
	memcpy(buf + 4, hp.s, hp.len);
	if (proto.len) {
		memcpy(buf + 4 + hp.len, ";transport=", 11);
		memcpy(buf + 15 + hp.len, proto.s, proto.len);
	}
	*uri = sy_str_make(buf, n);
	return 0;
}

int px_dest_parse(struct sy_arena *a, sy_str dest, struct sy_dest *out)
{
	size_t cap = dest.len + 16;
	char *buf = sy_arena_alloc(a, cap);
	sy_str uri;
	int rc;

	if (!buf)
		return ENOMEM;
	rc = dest_uri(dest, buf, cap, &uri);
	return rc ? rc : px_resolve(uri, out);
}

/* a constant destination of the script: register its host name now (getaddrinfo), since a
 * worker never resolves; numeric hosts and localhost need nothing */
static int dns_const(sy_str value, const char *file, unsigned line, unsigned col, void *arg)
{
	char buf[1100];
	struct sip_uri u;
	struct sy_addr ad;
	sy_str uri;

	if (dest_uri(value, buf, sizeof(buf), &uri) || sip_uri_parse(uri, &u) || !u.host.len ||
	    tp_addr_parse(u.host, 0, &ad) == 0 || sy_str_caseeq_c(u.host, "localhost"))
		return 0;	/* not a name: px_resolve judges it when it is used */
	if (px_dns_add(u.host) == 0)
		return 0;
	if (arg)
		fprintf(arg, "%s:%u:%u: cannot resolve host name '%.*s'\n", file ? file : "",
			line, col, SY_FMT(u.host));
	return EHOSTUNREACH;
}

int px_dns_add_script(const struct scr_prog *p, void *err_file)
{
	int rc;

	if ((rc = scr_foreach_const(p, "forward", 0, NULL, dns_const, err_file)) ||
	    (rc = scr_foreach_const(p, "t_relay", 0, NULL, dns_const, err_file)) ||
	    (rc = scr_foreach_const(p, NULL, 0, "$du", dns_const, err_file)))
		return rc;
	/* not "$ru = ...": a Request-URI names the target, often a domain reached through $du */
	return 0;
}

static void set_port(struct sy_addr *a, unsigned port)
{
	if (a->u.sa.sa_family == AF_INET6)
		a->u.in6.sin6_port = htons((uint16_t)port);
	else
		a->u.in.sin_port = htons((uint16_t)port);
}

static int has_listen(enum sy_proto p)
{
	unsigned i;

	for (i = 0; i < tp_listen_count(); i++)
		if (tp_listen_get(i)->proto == p)
			return 1;
	return 0;
}

/* The answer for a URI depends only on the URI, the listen table and the name cache, all
 * fixed while workers run; so each worker remembers its last few answers and a script that
 * sets the same $du on every request (or relays to the same next hop) parses it once. Only
 * successes are kept, for URIs up to PX_RCACHE_URI octets. */
#define PX_RCACHE 4
#define PX_RCACHE_URI 128
struct rcache_ent {
	size_t len;	/* 0: empty */
	unsigned dns_gen;	/* the name cache it was resolved with */
	char uri[PX_RCACHE_URI];
	struct sy_dest dst;
};
static _Thread_local struct rcache_ent rcache[PX_RCACHE];
static _Thread_local unsigned rcache_next;

static int px_resolve_uri(sy_str uri, struct sy_dest *out);

int px_resolve(sy_str uri, struct sy_dest *out)
{
	unsigned i;
	int rc;

	for (i = 0; i < PX_RCACHE; i++) {
		const struct rcache_ent *e = &rcache[i];

		if (e->len && e->len == uri.len && e->dns_gen == dns_gen &&
		    memcmp(e->uri, uri.s, uri.len) == 0 &&
		    (e->dst.proto == SY_PROTO_UDP || has_listen(e->dst.proto))) {
			*out = e->dst;
			return 0;
		}
	}
	rc = px_resolve_uri(uri, out);
	if (rc == 0 && uri.len && uri.len <= PX_RCACHE_URI) {
		struct rcache_ent *e = &rcache[rcache_next++ % PX_RCACHE];

		memcpy(e->uri, uri.s, uri.len);
		e->len = uri.len;
		e->dns_gen = dns_gen;
		e->dst = *out;
	}
	return rc;
}

static int px_resolve_uri(sy_str uri, struct sy_dest *out)
{
	struct sip_uri u;
	sy_str host;
	unsigned port;

	if (sip_uri_parse(uri, &u))
		return EINVAL;
	if (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	out->listen_idx = -1;
	out->proto = u.scheme == SIP_URI_SIPS ? SY_PROTO_TLS : SY_PROTO_UDP;
	if (u.transport.len) {
		if (sy_str_caseeq_c(u.transport, "udp"))
			out->proto = u.scheme == SIP_URI_SIPS ? SY_PROTO_TLS : SY_PROTO_UDP;
		else if (sy_str_caseeq_c(u.transport, "tcp"))
			out->proto = u.scheme == SIP_URI_SIPS ? SY_PROTO_TLS : SY_PROTO_TCP;
		else if (sy_str_caseeq_c(u.transport, "tls"))
			out->proto = SY_PROTO_TLS;
		else if (sy_str_caseeq_c(u.transport, "ws"))
			out->proto = SY_PROTO_WS;
		else if (sy_str_caseeq_c(u.transport, "wss"))
			out->proto = SY_PROTO_WSS;
		else
			return EPROTONOSUPPORT;
	}
	if (out->proto != SY_PROTO_UDP && !has_listen(out->proto))
		return EPROTONOSUPPORT;
	/* RFC 3261 §19.1.1: maddr overrides the host for where the request is sent */
	host = u.maddr.len ? u.maddr : u.host;
	port = u.port ? u.port : (out->proto == SY_PROTO_TLS || out->proto == SY_PROTO_WSS ? 5061
											    : 5060);
	if (port > 65535)
		return EINVAL;
	if (sy_str_caseeq_c(host, "localhost"))
		host = SY_STR("127.0.0.1");
	if (tp_addr_parse(host, port, &out->addr) == 0)
		return 0;
	{
		const struct dns_ent *e = dns_find(host);

		if (!e)
			return EHOSTUNREACH;
		out->addr = e->addr;
		set_port(&out->addr, port);
	}
	return 0;
}
