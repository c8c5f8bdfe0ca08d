/* rr.h: record-routing and loose routing (RFC 3261 §16.4, §16.6 steps 4 and 6, §16.12), the
 * "rr" script unit: record_route(), record_route_preset(), loose_route(). */
#ifndef MOD_RR_H
#define MOD_RR_H

#include "core/str.h"
#include "script/api.h"

extern const struct scr_unit rr_unit;

/* is host:port one of our addresses (listen sockets, aliases)? port 0 = the default port */
int rr_is_myself(sy_str host, unsigned port);

/* record_route([params]): Record-Route: <sip:IP:PORT[;transport=x];lr[params]> for the socket
 * the request came in on; when the next hop (the $du or R-URI at this point) is reached over
 * another transport, a second one for the outgoing socket goes on top (double
 * record-routing). Header edits in ctx->edits. 0, EINVAL (no listen for the socket), ENOSPC,
 * ENOMEM. */
int rr_record_route(struct scr_ctx *ctx, sy_str params);

/* record_route_preset(addr[, addr2]): Record-Route: <sip:addr;lr> (addr2: a second one
 * below it, for scripts that double record-route by hand). 0, EINVAL, ENOSPC, ENOMEM. */
int rr_record_route_preset(struct scr_ctx *ctx, sy_str addr, sy_str addr2);

/* loose_route(): §16.4 route information preprocessing. A Request-URI of ours without a user
 * part and with ;lr (a strict-routing previous hop put our Record-Route URI there) is replaced
 * by the last Route value; the top Route values that are ours are removed; the next one
 * becomes $du, or, when it is a strict router (no ;lr), the Request-URI, with the old
 * Request-URI appended as the last Route (§16.6 step 6). Returns 1 when the request carried Route values (processed;
 * with only ours the request then goes to its R-URI), -1 when it had none, -3 on an edit or
 * arena error (the message is left as it was). */
int rr_loose_route(struct scr_ctx *ctx);

#endif
