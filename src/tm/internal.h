/* internal.h: the transaction and branch objects and the per-worker table, shared by the
 * files of src/tm only. A transaction (struct tm_trans) is the server transaction of one
 * request plus the client transactions (struct tm_branch) it forked, i.e. the "response
 * context" of RFC 3261 §16.7. All of it is owned by one worker thread. */
#ifndef TM_INTERNAL_H
#define TM_INTERNAL_H

#include <stdint.h>

#include "core/loop.h"
#include "core/net.h"
#include "script/api.h"
#include "sip/build.h"
#include "sip/msg.h"
#include "tm/tm.h"

#define TM_MAX_BRANCHES 16	/* parallel + serial branches of one transaction */
#define TM_BLOCK_SMALL 2048	/* transaction memory comes in pooled blocks of these sizes; */
#define TM_BLOCK_LARGE 8192	/* a message bigger than that gets a block of its own */
#define TM_CHUNK 256		/* transactions/branches allocated per pool growth */
#define TM_HASH_BITS 14
#define TM_MAX_HDRS 160
#define TM_BRANCH_PREFIX "z9hG4bKsy"

/* server transaction states, RFC 3261 §17.2.1/§17.2.2 (+ RFC 6026 Accepted) */
enum tm_sstate { TM_S_TRYING, TM_S_PROCEEDING, TM_S_COMPLETED, TM_S_CONFIRMED, TM_S_ACCEPTED,
		 TM_S_TERMINATED };
/* client transaction states, §17.1.1/§17.1.2 */
enum tm_cstate { TM_C_CALLING, TM_C_PROCEEDING, TM_C_COMPLETED, TM_C_TERMINATED };
/* CANCEL of one branch, §9.1 */
enum tm_cancel { TM_CAN_NONE, TM_CAN_PENDING, TM_CAN_SENT, TM_CAN_DONE };

/* transaction memory: a chain of blocks, all released with the transaction */
enum tm_block_class { TM_BK_SMALL, TM_BK_LARGE, TM_BK_ALONE };
struct tm_block {
	struct tm_block *next;
	size_t cap, used;
	size_t cls;		/* enum tm_block_class (a size_t so that data[] is 8-byte aligned) */
	char data[];
};

struct tm_trans;

/* A transaction that only waits (server in J, I or the Accepted wait; branches in K or D)
 * is "compacted" into a zombie (zombie.c): what RFC 3261 still needs to absorb
 * retransmissions, a few hundred bytes instead of the ~6 KB of the full transaction. Server
 * side (§17.2.3 key): branch, sent-by host and port, method, and the last reply sent upstream
 * (resent to a retransmitted request, §17.2.1/§17.2.2). Client side (§17.1.1.2/§17.1.2.2):
 * slot+generation of our branch ids, so that a retransmitted final is swallowed (a 2xx of
 * an INVITE relayed, a non-2xx ACKed again with the ACK kept here). */
#define TM_ZGRAIN 64		/* zombie sizes: multiples of 64 bytes up to 2 KB (a 200 to a */
#define TM_ZCLASSES 32		/* BYE takes ~500, one with SDP ~900: tight classes, no waste) */
struct tm_zdest {		/* a struct sy_dest without the sockaddr_storage padding */
	uint64_t conn_id;
	struct sockaddr_in6 a;	/* large enough for AF_INET too */
	uint32_t alen;
	int16_t listen_idx;
	uint8_t proto;
};
struct tm_zack {		/* our ACK to a non-2xx on one INVITE branch (Timer D) */
	struct tm_zdest dst;
	uint32_t len;
	uint8_t idx;
};
struct tm_zombie {
	struct tm_zombie *hnext;	/* request matching chain (same hash as tm_trans) */
	struct tm_zombie *snext;	/* by-slot chain (replies on our branches) */
	struct sy_timer end;		/* the last of the timers the transaction still ran */
	struct tm_zdest up;
	uint32_t hash, gen;
	unsigned slot;
	uint32_t last_len;
	uint16_t branch_len, host_len, method_len, via_port;
	uint8_t mid, relayed_2xx, nbr, nacks, cls;
	char data[];		/* branch, host, method, last reply; then the tm_zack records */
};

struct tm_branch {
	struct tm_trans *t;
	struct tm_branch *next_free;
	unsigned idx;
	enum tm_cstate state;
	enum tm_cancel cancel;
	struct sy_dest dst;
	char *req;		/* the request as sent (our Via on top): retransmissions, CANCEL, ACK */
	size_t req_len;
	unsigned last_code;	/* highest status received so far, 0 none */
	unsigned code;		/* final status for the choice of §16.7 (received or local) */
	unsigned rcvd_final;	/* status of the final reply received, 0 none yet */
	int done;		/* counts as answered for the choice */
	int local;		/* code is a local one (timeout/cancel), no reply buffer */
	int cancel_wait;	/* fr timer now waits for the final reply after our CANCEL */
	char *reply;		/* final reply as it would be relayed (our Via removed) */
	size_t reply_len;
	char *ack;		/* our ACK to a non-2xx final, re-sent on its retransmissions */
	size_t ack_len;
	char *cbuf;		/* our CANCEL */
	size_t clen;
	uint64_t retr_ms, c_retr_ms;
	struct sy_timer t_retr;	/* A / E */
	struct sy_timer t_fr;	/* B / F / fr_timeout / Timer C / wait after CANCEL */
	struct sy_timer t_end;	/* D / K */
	struct sy_timer c_retr;	/* CANCEL: E */
	struct sy_timer c_end;	/* CANCEL: F */
};

struct tm_trans {
	unsigned slot;		/* index in the worker's pool, encoded in our branches */
	uint32_t gen;		/* bumped on every reuse of the slot */
	int in_use;
	struct tm_trans *hnext;	/* hash chain */
	struct tm_trans *next_free;
	uint32_t hash;
	struct tm_block *mem;

	/* the request as received, parsed once from our copy */
	char *req;
	size_t req_len;
	struct sip_msg msg;
	struct sip_msg *lmsg;	/* what local replies copy Via..CSeq from: msg, or a copy with
				 * ;rport=<port> spliced into the top Via (RFC 3581 §4) */
	enum sip_method mid;
	int rfc2543;		/* no magic cookie: §17.2.3 fallback matching */
	struct sy_rcvinfo rcv;
	struct sy_dest up;	/* where replies go (§18.2.2) */
	char via_params[96];	/* ";received=..;rport=.." for local replies */
	size_t via_params_len;
	char to_tag[24];
	size_t to_tag_len;

	/* what the request route decided: edits (ins copied here), $ru */
	struct sip_edit *edits;
	unsigned nedits;
	sy_str ruri;

	/* server side */
	enum tm_sstate sstate;
	char *last;		/* last reply sent upstream (retransmissions answered with it) */
	size_t last_len, last_cap;
	unsigned last_code;
	int last_local;
	int any_local, any_relayed, final_sent, relayed_2xx;
	struct sy_timer s_retr;	/* G */
	struct sy_timer s_end;	/* H / I / J / L */
	uint64_t s_retr_ms;

	/* client side */
	struct tm_branch *br[TM_MAX_BRANCHES];
	unsigned nbr;
	unsigned first_br;	/* branches of the current fork (after the last failure_route) */
	int cancelled;
	int in_failure;
	int maxfwd_done;	/* the script already decremented Max-Forwards in its edits */
	int hooked;		/* tm_trans_hook saw its start: it sees its end too */

	/* script state kept across routes */
	int on_reply, on_failure, on_branch;
	uint64_t flags, bflags;
	struct scr_value *avps;	/* SCR_MAX_VARS values, allocated when the script sets one */
	unsigned fr_ms, fr_inv_ms;
};

/* per-worker state */
struct tm_table {
	struct tm_trans **chunks;
	unsigned nchunks;
	struct tm_trans *free;
	struct tm_branch **bchunks;
	unsigned nbchunks;
	struct tm_branch *bfree;
	struct tm_block *blocks[2];	/* free small and large blocks */
	struct tm_trans *bucket[1u << TM_HASH_BITS];
	struct tm_zombie *zbucket[1u << TM_HASH_BITS];	/* zombies by request key */
	struct tm_zombie *zslot[1u << TM_HASH_BITS];	/* zombies by slot */
	struct tm_zombie *zfree[TM_ZCLASSES];		/* free zombies of each size */
	unsigned nzombies;
	/* armed before the transaction exists (t_on_* then t_relay) */
	const struct scr_ctx *pend_ctx;
	const struct sip_msg *pend_msg;
	int pend_reply, pend_failure, pend_branch;
	unsigned pend_fr_ms, pend_fr_inv_ms;
};

/* table.c */
struct tm_table *tm_table(void);
uint32_t tm_hash(sy_str s);
int tm_owner_of(const struct sip_msg *m);
struct tm_trans *tm_trans_new(void);
void tm_trans_free(struct tm_trans *t);
struct tm_branch *tm_branch_new(struct tm_trans *t);
void *tm_alloc(struct tm_trans *t, size_t n);
char *tm_strdup(struct tm_trans *t, const char *s, size_t n);
void tm_hash_insert(struct tm_trans *t);
struct tm_trans *tm_lookup(const struct sip_msg *m, enum sip_method want);
struct tm_trans *tm_by_slot(unsigned slot, uint32_t gen);
int tm_branch_id(const struct tm_trans *t, unsigned idx, char *buf, size_t cap, size_t *len);
int tm_branch_parse(sy_str branch, int *worker, unsigned *slot, uint32_t *gen, unsigned *idx);
void tm_count_add(int d);
/* zombies among tm_count(), and the full transactions (what max_transactions limits) */
void tm_zombie_count_add(int d);
unsigned tm_count_full(void);
void tm_table_global_init(void);
void tm_branch_discard(struct tm_branch *b);
int tm_handoff(int owner, const struct sy_rcvinfo *rcv, const char *buf, size_t len);
void tm_maybe_free(struct tm_trans *t);
int tm_send(const struct sy_dest *dst, const char *buf, size_t len);
struct sy_loop *tm_loop(void);
int tm_reliable(enum sy_proto p);
int tm_is_3261(const struct sip_msg *m);
uint32_t tm_key_hash(const struct sip_msg *m);
unsigned tm_via_port(const struct sip_via *v);

/* server.c */
int tm_trans_create(struct scr_ctx *ctx, struct tm_trans **out);
int tm_send_local(struct tm_trans *t, unsigned code, sy_str reason, sy_str extra);
int tm_send_upstream(struct tm_trans *t, const char *buf, size_t len, unsigned code, int local);
void tm_server_stop(struct tm_trans *t);
void tm_server_ack(struct tm_trans *t);
void tm_server_silent_end(struct tm_trans *t);
struct sy_arena *tm_scratch(void);

/* client.c */
int tm_fork(struct tm_trans *t, struct scr_ctx *ctx, const struct sy_dest *force);
void tm_branch_cancel(struct tm_branch *b);
void tm_branch_stop(struct tm_branch *b);
int tm_branch_alive(const struct tm_branch *b);
int tm_on_reply(struct scr_ctx *ctx, struct tm_trans *t, struct tm_branch *b);

/* zombie.c: compact records of transactions that only wait */
/* compact t if nothing but waiting is left: 0 (t is gone, the zombie holds its place) or
 * EAGAIN (still has work, or the record would not fit: t stays as it is) */
int tm_compact(struct tm_trans *t);
/* a request matching a zombie: 0 and *handled (what tm_request_in returns: 1 absorbed, 0 an
 * ACK to a 2xx, for the script), or ENOENT (no zombie matches) */
int tm_zombie_request(struct scr_ctx *ctx, int *handled);
/* 1 when m matches a zombie (want: INVITE for ACK and CANCEL, else m's method) */
int tm_zombie_match(const struct sip_msg *m, enum sip_method want);
/* a reply whose branch id names (slot, gen, idx): 0 and *handled (what tm_reply_in returns),
 * or ENOENT (no zombie has that slot and generation) */
int tm_zombie_reply(struct scr_ctx *ctx, unsigned slot, uint32_t gen, unsigned idx,
		    int *handled);
void tm_zombie_fini(struct tm_table *tb);

/* fork.c: the response context */
void tm_cancel_others(struct tm_trans *t, const struct tm_branch *keep);
void tm_cancel_trans(struct tm_trans *t);
void tm_check_done(struct tm_trans *t);
void tm_ctx_from_trans(struct scr_ctx *ctx, struct tm_trans *t, int route_type);
void tm_ctx_to_trans(const struct scr_ctx *ctx, struct tm_trans *t);

#endif
