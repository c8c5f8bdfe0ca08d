/* proxy.h: the message path above the transports: receive -> parse -> validate -> (tm) ->
 * script -> send. Owns the stateless operations (forward(), local replies, replies routed back
 * by Via) that the sl/core units and tm build on. */
#ifndef PX_PROXY_H
#define PX_PROXY_H

#include "core/net.h"
#include "core/str.h"
#include "core/arena.h"
#include "core/loop.h"
#include "script/api.h"
#include "sip/build.h"
#include "sip/msg.h"

/* the compiled script every worker runs (immutable once workers start) */
extern struct scr_prog *px_prog;

/* entry point from the transports: one whole message (a datagram or a framed stream message);
 * buf is valid only during the call */
void px_recv(const struct sy_rcvinfo *rcv, const char *buf, size_t len);

/* Hooks the tm unit installs at init; NULL when tm is not loaded.
 * request_in: called after validation, before the request route. Returns 1 when tm consumed
 * the request (retransmission absorbed, ACK to a non-2xx, CANCEL handled), 0 to run the script.
 * reply_in: returns 1 when the reply matched a client transaction (tm relays it), 0 otherwise
 * (the core relays it statelessly by Via). */
struct px_tm_hooks {
	int (*request_in)(struct scr_ctx *ctx);
	int (*reply_in)(struct scr_ctx *ctx);
	/* after every run of the request route (whether it relayed, replied or neither):
	 * tm drops a transaction nobody relayed or answered and resets per-message state */
	void (*request_done)(struct scr_ctx *ctx);
};
extern struct px_tm_hooks px_tm;

/* Resolve a SIP URI to a destination (numeric hosts and names known at load; RFC 3263 subset:
 * ;transport, sips -> TLS, default port 5060/5061). 0, EINVAL (bad URI), EHOSTUNREACH. */
int px_resolve(sy_str uri, struct sy_dest *out);

/* A script destination: a SIP URI ("sip:", "sips:") or the OpenSIPS form [proto:]host[:port]
 * (proto udp tcp tls ws wss, any case; IPv6 as [addr]) resolved like px_resolve (no DNS). The
 * URI made from the OpenSIPS form lives in arena a. 0, EINVAL, ENOMEM, EHOSTUNREACH. */
int px_dest_parse(struct sy_arena *a, sy_str dest, struct sy_dest *out);

/* send bytes to a destination from the calling worker: 0 or errno (logged once) */
int px_send(const struct sy_dest *dst, const char *buf, size_t len);

/* a local stateless reply to ctx->msg (RFC 3261 §8.2.6, received/rport added to the Via), sent
 * per §18.2.2: 0 or errno */
int px_reply(struct scr_ctx *ctx, unsigned code, sy_str reason, sy_str extra_hdrs);
/* The To tag of every local reply to req, stateless or from tm: 16 hex digits, no NUL. */
#define PX_REPLY_TAG_LEN 16
void px_reply_tag(const struct sip_msg *req, char tag[PX_REPLY_TAG_LEN]);

/* stateless forward of ctx->msg with ctx->edits: our Via on top (branch derived from the
 * request per §16.11 so retransmissions map the same), Max-Forwards decremented, sent to dst
 * (or $du, or the R-URI). 0 or errno */
int px_forward(struct scr_ctx *ctx, const struct sy_dest *dst);
/* forward("dest"): 483 first when out of hops (§16.3 step 3 comes before routing, so a
 * destination that cannot be resolved does not silence it), then px_dest_parse + px_forward.
 * 0 or errno (logged) */
int px_forward_to(struct scr_ctx *ctx, sy_str dest);
/* a request that must not be relayed (Max-Forwards: 0 and no mf_process_maxfwd_header()):
 * 1, else 0; the relaying code answers it 483 */
int px_out_of_hops(const struct scr_ctx *ctx);

/* Via param in our stateless Via naming the connection the request came on (hex conn_id) */
#define PX_VIA_CONN_PARAM "sycid"

/* the Via header line we put on requests we send: "Via: SIP/2.0/UDP host:port;branch=...\r\n",
 * written into buf; 0 or ENOSPC */
int px_via_line(const struct sy_dest *dst, sy_str branch, char *buf, size_t cap, size_t *len);

/* ---- set-up (main thread, before workers start) */

/* limits for parsing, tp receive callback: call once after px_prog is loaded; 0 or errno */
int px_init(void);
/* resolve a host name now (getaddrinfo) and remember it for px_resolve, which never does DNS
 * itself: call at load for every name a config may route to. 0 or EHOSTUNREACH */
int px_dns_add(sy_str name);
/* px_dns_add for every host name written as a constant destination in the script (forward()
 * and t_relay() arguments, "$du = ..." strings): 0, or EHOSTUNREACH after one
 * "file:line:col: cannot resolve host name 'x'" line on err_file (a FILE *, may be NULL) */
int px_dns_add_script(const struct scr_prog *p, void *err_file);
/* forget the names (shutdown, tests) */
void px_dns_reset(void);

/* startup_route, once (main thread, before the workers start) */
void px_run_startup(void);
/* timer_route[name, secs]: arm them on loop l (worker 0 only); 0 or ENOMEM. _stop disarms and
 * frees them on the same thread. */
int px_timer_routes_start(struct sy_loop *l);
void px_timer_routes_stop(void);

/* the parse limits every worker uses (sip_limits_default unless the config changed them) */
extern struct sip_limits px_limits;

/* deterministic tags/branches: FNV-1a over the given slices, written as 16 hex digits */
uint64_t px_hash(const sy_str *parts, unsigned n);

/* RFC 3261 §18.2.1 / RFC 3581 §4: add received= and fill rport= in the top Via of request m
 * received as rcv, as edits in b (strings in arena a). 0, ENOSPC, ENOMEM */
int px_via_received(const struct sip_msg *m, const struct sy_rcvinfo *rcv, int force_rport,
		    struct sip_build *b, struct sy_arena *a);

/* ---- switchyard --trace (trace.c): one message offline through px_recv */

/* the FILE * a trace goes to (NULL: none, the normal case): px_recv puts it in ctx->trace */
extern void *px_trace_out;
/* print to out (a FILE *) instead of sending: "--> udp:IP:PORT (N bytes)" and the bytes, for
 * every message any layer would send (tp_set_send_hook); the script trace goes there too.
 * NULL restores real sending. Main thread, before any message. */
void px_trace_start(void *out);
/* Read one captured message from path ("-" = stdin) into *buf (malloc'd, the caller frees).
 * A file with no CR at all has its LFs turned into CRLF and its Content-Length set to the
 * body's converted length (trailing empty lines are not a body). 0, an errno of fopen/read,
 * ENODATA (empty), EFBIG (over 1 MB), ENOMEM */
int px_trace_read(const char *path, char **buf, size_t *len);
/* "udp:IP:PORT" (tcp/tls/ws/wss; IPv6 as [::1]:PORT) -> where the message came from ($si $sp
 * $proto), received on our first listen of that transport. 0, EINVAL (bad spec), ENOENT
 * (no listen of that transport: call after the listens are added) */
int px_trace_source(const char *spec, struct sy_rcvinfo *out);
/* Print "<-- SRC (N bytes): start line", then run buf through px_recv as received from rcv on
 * the calling thread (its loop and arena must exist; timers armed are not run). When the
 * message does not parse, a "parse error: reason at offset N" line comes first, then what
 * the proxy answers. 0, EBADMSG (did not parse), ENOMEM */
int px_trace_message(const struct sy_rcvinfo *rcv, const char *buf, size_t len);

#endif
