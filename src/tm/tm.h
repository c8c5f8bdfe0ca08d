/* tm.h: the transaction layer and stateful proxy core (RFC 3261 §16, §17).
 * What the script unit (src/mod/tm.c), the proxy core (through px_tm hooks) and tests call.
 * Transactions live in per-worker tables (no locks); every function here runs on the worker
 * that owns the transaction: tm_request_in/tm_reply_in hand a message read by another worker
 * to its owner first. */
#ifndef TM_TM_H
#define TM_TM_H

#include <stddef.h>
#include <stdint.h>

#include "core/net.h"
#include "core/str.h"
#include "script/api.h"

/* timer values and limits; set by modparams at load, read-only once workers run */
struct tm_config {
	unsigned t1_ms;		/* RFC 3261 T1, default 500 */
	unsigned t2_ms;		/* T2, default 4000 */
	unsigned t4_ms;		/* T4, default 5000 */
	unsigned fr_ms;		/* fr_timeout: a branch with no reply at all, default 5 s (OpenSIPS) */
	unsigned fr_inv_ms;	/* fr_inv_timeout: proxy Timer C after a provisional, 120 s */
	unsigned wt_ms;		/* wt_timer: Timer D when set (0: RFC 32 s) */
	unsigned max_transactions;	/* beyond it new requests get 503 (0: no limit) */
	unsigned retry_after;	/* seconds in the overload 503's Retry-After */
};
extern struct tm_config tm_cfg;

/* which armed route */
enum tm_route { TM_ROUTE_REPLY, TM_ROUTE_FAILURE, TM_ROUTE_BRANCH };

/* ---- proxy-core hooks (px_tm): see src/proxy/proxy.h */
int tm_request_in(struct scr_ctx *ctx);
int tm_reply_in(struct scr_ctx *ctx);
void tm_request_done(struct scr_ctx *ctx);
/* install the hooks above into px_tm and the SIGUSR1 statistics line; 0 or errno */
int tm_install(void);

/* ---- script operations. ctx is a request (or failure_route) context. */
/* create the server transaction for ctx->msg if none yet (100 Trying for INVITE).
 * 0, EBUSY (overloaded: 503 already sent, ctx->replied set), EINVAL (ACK, CANCEL), ENOMEM */
int tm_newtran(struct scr_ctx *ctx);
/* t_relay(): one branch per destination ($du or R-URI, plus ctx->branches), to force when
 * given (all branches). ACK and a CANCEL matching nothing are forwarded statelessly.
 * 0 (at least one branch sent), EBUSY (overloaded, replied), ECANCELED (transaction
 * cancelled: no new branch), EHOSTUNREACH/EINVAL/ENOSPC/ENOMEM (nothing sent) */
int tm_relay(struct scr_ctx *ctx, const struct sy_dest *force);
/* t_reply(): a local reply sent statefully (creates the transaction in a request route).
 * 0, EBUSY, EINVAL (code), EALREADY (a final reply already went upstream), ENOMEM */
int tm_reply(struct scr_ctx *ctx, unsigned code, sy_str reason);
/* the same with extra header lines ("Name: value\r\n" ...), e.g. a challenge's
 * WWW-Authenticate (the auth unit) */
int tm_reply_hdrs(struct scr_ctx *ctx, unsigned code, sy_str reason, sy_str hdrs);
/* t_check_trans(): 1 when ctx belongs to a transaction (or the request matches one), 0 not */
int tm_check_trans(struct scr_ctx *ctx);
/* t_on_reply/t_on_failure/t_on_branch: arm route idx (-1 disarms) for ctx's transaction
 * (or the one t_relay will create) */
void tm_arm(struct scr_ctx *ctx, enum tm_route which, int idx);
/* t_set_fr(): per-transaction fr_inv_timeout / fr_timeout in ms (0 keeps the default) */
void tm_set_fr(struct scr_ctx *ctx, unsigned fr_inv_ms, unsigned fr_ms);
/* t_was_cancelled(): 1 when a CANCEL arrived for ctx's transaction */
int tm_was_cancelled(const struct scr_ctx *ctx);
/* t_local_replied(): mode "all" (every reply sent upstream was local), "last" (the last one
 * was), "branch" (the last reply of the current branch was a local timeout), "any" */
int tm_local_replied(const struct scr_ctx *ctx, sy_str mode);

/* For units that count transactions in flight by what the script stored in $avps (the
 * dispatcher's algorithm 10): called on the owner worker with the transaction's $avp slots
 * (NULL when none is set), start = 1 once when the transaction first relays (its $avps just
 * saved), start = 0 once when it ends (freed, or compacted to a zombie). Set before workers
 * start; NULL: none. */
extern void (*tm_trans_hook)(const struct scr_value *avps, int start);

/* transactions alive in the whole process (all workers) */
unsigned tm_count(void);

/* How tm sends (px_send by default). Tests replace it to see what crossed the "wire". */
extern int (*tm_send_fn)(const struct sy_dest *dst, const char *buf, size_t len);

/* free every transaction of the calling worker (worker shutdown, tests) */
void tm_worker_fini(void);

/* switchyard --trace (summary.c): what the calling worker's table holds: transactions in
 * use, their branches still waiting for a final reply, and the zombies that only absorb
 * retransmissions. With file (a FILE *) set, also one line per transaction and per branch
 * ("tm:   INVITE sip:.. (Call-ID ..): server Proceeding, last reply 100 (local)"). */
struct tm_summary {
	unsigned trans, branches, zombies;
};
void tm_summary(struct tm_summary *out, void *file);

#endif
