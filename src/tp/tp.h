/* tp.h: the transports. The listen table is filled once at load (before workers start) and is
 * read-only afterwards; each worker then opens its own sockets for every listen (SO_REUSEPORT)
 * on its own loop. Received messages go to the callback set with tp_set_recv(); sending picks
 * the socket or connection from a struct sy_dest. */
#ifndef TP_TP_H
#define TP_TP_H

#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/net.h"
#include "core/str.h"

#define TP_MAX_LISTEN 32

struct tp_listen {
	enum sy_proto proto;
	struct sy_addr addr;		/* bound address */
	char host[64];			/* as advertised in Via/Record-Route: IP, IPv6 with [] */
	unsigned port;
};

/* add a listen (numeric IPv4/IPv6 host, "localhost" or "*"/"0.0.0.0"/"::"); 0, EINVAL,
 * EPROTONOSUPPORT (no such transport built in), ENOSPC */
int tp_listen_add(enum sy_proto proto, sy_str host, unsigned port, int *idx);
unsigned tp_listen_count(void);
const struct tp_listen *tp_listen_get(unsigned idx);
/* the listen to send from for dst: dst->listen_idx when set, else the first listen of the same
 * transport and address family (then of the same transport); NULL when there is none */
const struct tp_listen *tp_listen_pick(const struct sy_dest *dst);
/* is host:port (port 0 = default 5060/5061) one of our listen addresses? 1 or 0 */
int tp_listen_match(sy_str host, unsigned port);
/* forget every listen (tests, shutdown) */
void tp_listen_reset(void);

/* connection limits (config: tcp_connection_lifetime s, tcp_max_connections_per_ip) */
struct tp_tcp_cfg {
	unsigned lifetime_ms;	/* idle timeout; default 120000 */
	unsigned max_per_ip;	/* default 64 */
	size_t max_msg;		/* read buffer bound; default 65535 */
};
void tp_tcp_configure(const struct tp_tcp_cfg *cfg);

/* what the transports deliver: one whole message, buf valid during the call only */
typedef void (*tp_recv_fn)(const struct sy_rcvinfo *rcv, const char *buf, size_t len);
void tp_set_recv(tp_recv_fn fn);

/* per worker, on the worker's thread: open its sockets for every listen on loop l; 0 or errno.
 * tp_worker_fini closes them (and the worker's connections). */
int tp_worker_init(struct sy_loop *l, int idx);
void tp_worker_fini(void);

/* send one message from the calling worker; 0 or errno. UDP: sendto from the worker's socket
 * of the picked listen. TCP: the connection dst->conn_id when it is still open, else any open
 * connection to dst->addr, else a new one (non-blocking connect, data queued until it is up).
 * A connection owned by another worker is written by its owner (the bytes are copied and
 * posted to it). */
int tp_send(const struct sy_dest *dst, const char *buf, size_t len);
/* switchyard --trace: with a hook set, tp_send hands every message to it instead of a socket
 * (its return value is tp_send's), so an offline run shows what would have been sent. NULL
 * (the default) sends for real. Set it before any message is processed. */
typedef int (*tp_send_hook_fn)(const struct sy_dest *dst, const char *buf, size_t len);
void tp_set_send_hook(tp_send_hook_fn fn);

/* addresses */
/* numeric IPv4/IPv6 ("[::1]" accepted) and port -> addr; 0 or EINVAL */
int tp_addr_parse(sy_str host, unsigned port, struct sy_addr *out);
/* "1.2.3.4" / "::1" (no brackets, no port) into buf; length written */
size_t tp_addr_ip(const struct sy_addr *a, char *buf, size_t cap);
unsigned tp_addr_port(const struct sy_addr *a);
/* same IP (port ignored): 1 or 0 */
int tp_addr_same_ip(const struct sy_addr *a, const struct sy_addr *b);
/* multicast or broadcast: never a destination for a relayed message */
int tp_addr_is_bcast(const struct sy_addr *a);

/* internal between udp.c / tcp.c and listen.c */
extern tp_recv_fn tp_recv_cb;
int tp_udp_open(struct sy_loop *l, int worker, unsigned listen_idx, int *fd_out);
void tp_udp_worker_fini(void);	/* frees the worker's receive buffers */
int tp_udp_send(int fd, const struct sy_addr *to, const char *buf, size_t len);
int tp_tcp_worker_init(struct sy_loop *l, int idx);
void tp_tcp_worker_fini(void);
int tp_tcp_send(const struct sy_dest *dst, const struct tp_listen *ls, const char *buf,
		size_t len);

#endif
