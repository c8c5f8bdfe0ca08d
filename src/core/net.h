/* net.h: transport-neutral addresses, shared by tp (which fills them), script ($si, $sp, $proto)
 * and tm (where a branch goes). Only plain data lives here. */
#ifndef SY_NET_H
#define SY_NET_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/str.h"

enum sy_proto { SY_PROTO_NONE = 0, SY_PROTO_UDP, SY_PROTO_TCP, SY_PROTO_TLS, SY_PROTO_WS,
		SY_PROTO_WSS };

struct sy_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

/* where a message came from: filled by tp, read by everyone above */
struct sy_rcvinfo {
	enum sy_proto proto;
	struct sy_addr src;	/* peer */
	struct sy_addr dst;	/* our local address it arrived on */
	int listen_idx;		/* index of the `listen =` socket */
	uint64_t conn_id;	/* stream transports: the connection (0 for UDP) */
	int worker;		/* worker thread that received it */
};

/* where to send: proto + address, optionally pinned to a connection or listen socket */
struct sy_dest {
	enum sy_proto proto;
	struct sy_addr addr;
	int listen_idx;		/* -1: choose by address family */
	uint64_t conn_id;	/* 0: reuse any connection to addr, or open one */
};

#endif
