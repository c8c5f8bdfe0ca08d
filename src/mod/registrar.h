/* registrar.h: REGISTER processing (RFC 3261 §10.3, RFC 3327 Path, RFC 5626 basics) and the
 * location lookups of the "registrar" script unit: save(), lookup(), registered(),
 * t_load_contacts(), t_next_contacts(). The logic is callable on a parsed message without a
 * network (unit tests, --trace); the script handlers add the reply sending. */
#ifndef MOD_REGISTRAR_H
#define MOD_REGISTRAR_H

#include <stdint.h>

#include "core/arena.h"
#include "core/net.h"
#include "core/str.h"
#include "script/api.h"
#include "sip/msg.h"

extern const struct scr_unit reg_unit;

/* modparam("registrar", ...) values; set at load, read-only after */
struct reg_config {
	unsigned default_expires;	/* no expires param nor Expires header: 3600 */
	unsigned min_expires;		/* below it (and not 0): 423 with Min-Expires; 60 */
	unsigned max_expires;		/* above it: shortened (§10.3 step 7); 0 = no bound */
	unsigned max_contacts;		/* bindings per AOR; 0 = unlimited */
	int default_q;			/* q of a Contact without ;q for ordering (0..1000): 0 */
};
extern struct reg_config reg_cfg;

/* most Contact values one REGISTER may carry (a request with more gets 400) */
#define REG_MAX_REQ_CONTACTS 64u

/* Canonical AOR of a URI (§10.3 step 5): "sip:" unescaped-user "@" lower-case-host, with the
 * port, password and every parameter removed (sips: also maps to sip:). Into arena a.
 * 0, EINVAL (not a sip/sips URI, or no host), ENOMEM. */
int reg_aor_canon(const struct sip_uri *u, struct sy_arena *a, sy_str *aor);

/* The reply save() owes: code, reason (static) and extra header lines (arena). */
struct reg_reply {
	unsigned code;
	const char *reason;
	sy_str hdrs;		/* e.g. "Contact: <...>;expires=3600\r\n" lines, or Min-Expires */
};

/* save() flags */
#define REG_SAVE_NO_REPLY 0x1u	/* "r": update only, the script replies */

/* Process REGISTER m from rcv (§10.3 steps 5-8) against the location table. nat: store the
 * source as the NAT-reachable address (fix_nated_register()). max_contacts overrides
 * reg_cfg.max_contacts when non-zero. Always fills rep (200 with the current bindings, or
 * 400/403/420/423/500) and returns 0 when the bindings were updated, else an errno matching
 * the reply (EBADMSG 400, EDQUOT 403, EOPNOTSUPP 420 with Unsupported, ERANGE 423,
 * EPROTO/ENOMEM/EAGAIN 500). */
int reg_save_msg(const struct sip_msg *m, const struct sy_rcvinfo *rcv, int nat,
		 unsigned max_contacts, struct sy_arena *a, struct reg_reply *rep);

/* lookup() on a request context: the AOR is aor when not empty, else the effective R-URI's.
 * Targets with a Path get the Route headers (prepended into ctx->edits) and $du of the first
 * Path URI; NATed ones $du = received. One target -> ctx->new_ruri (+ dst_uri); several ->
 * new_ruri + ctx->branches (parallel; ordered by q, then most recent).
 * Returns 1 found, -1 no binding, -2 bindings but none accepts the request's method,
 * -3 internal error (arena/edits full, bad R-URI). flags: REG_LOOKUP_NO_BRANCHES ("b"):
 * only the best target, no branches. */
#define REG_LOOKUP_NO_BRANCHES 0x1u
int reg_lookup(struct scr_ctx *ctx, sy_str aor, unsigned flags);

/* registered(): 1 when aor (or the R-URI's AOR) has an unexpired binding, else -1 */
int reg_registered(struct scr_ctx *ctx, sy_str aor);

/* Serial forking by q (RFC 3261 §16.6 step 1, Kamailio's t_load_contacts/t_next_contacts):
 * load keeps the request AOR's bindings grouped by decreasing q for this transaction (keyed by
 * Call-ID, CSeq number and From tag); next puts the next group into new_ruri/branches.
 * load: 1 loaded, -1 nothing to load. next: 1 a group was set, -1 none left. */
int reg_load_contacts(struct scr_ctx *ctx);
int reg_next_contacts(struct scr_ctx *ctx);

#endif
