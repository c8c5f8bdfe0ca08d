/* usrloc.h: the location service (RFC 3261 §10.3): address-of-record -> bindings.
 * An in-memory table split in UL_SHARDS shards, each behind its own reader/writer lock, so
 * lookups from all workers run in parallel and a REGISTER locks one shard for the time of a
 * few pointer swaps. With a db_url every change is written through to the store (store.h) by
 * its helper thread; at init the table is loaded back from it. See docs/registrar.md. */
#ifndef MOD_USRLOC_H
#define MOD_USRLOC_H

#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"
#include "script/api.h"
#include "store/store.h"

#define UL_SHARDS 64u

/* the "usrloc" script unit: modparam("usrloc", "db_url" | "cachedb_url" | "timer_interval", ...) */
extern const struct scr_unit ul_unit;

/* Unix seconds; tests replace the clock (NULL restores time()) */
int64_t ul_now(void);
void ul_set_clock(int64_t (*now_fn)(void));

/* Set up the table; with db_url (NULL or "" = memory only) open the store and load the
 * unexpired bindings from it. 0, EINVAL (bad url), EIO, ENOMEM. Idempotent after success. */
int ul_init(const char *db_url);
/* What the units' init does: ul_init() with modparam db_url, then the purge timer with
 * modparam timer_interval. registrar and usrloc both call it (either may be loaded alone, and
 * the modparams are all set before any init runs). 0 or an errno. */
int ul_start(void);
/* modparam("usrloc", "nat_bflag", "NAT"): the flag bit (0..63) that marks a NATed REGISTER
 * (in the script's flags or branch flags at save()) and that lookup() sets in ctx->bflags for
 * a NATed contact; -1 when not configured */
int ul_nat_bflag(void);
/* Free everything, close the store after flushing it (tests; shutdown). */
void ul_destroy(void);
/* Start the purge thread: every interval_s seconds drop expired bindings (and their rows).
 * 0 or an errno; stopped by ul_destroy(). */
int ul_start_timer(unsigned interval_s);
/* Drop every binding with expires <= now now; returns how many went. */
unsigned ul_purge(int64_t now);
/* Wait for the store's writer to catch up (tests): 0 or EIO */
int ul_flush(void);

/* One Contact of a REGISTER, already validated by the registrar. b.aor is ignored (the aor
 * argument of ul_update is used); b.expires is absolute; remove = the Contact asked for
 * expires 0. */
struct ul_change {
	struct store_binding b;
	int remove;
};

/* Apply one REGISTER's changes to aor atomically (§10.3 steps 6-7): all or nothing.
 * star: "Contact: *" with Expires: 0 (ch/n unused; callid/cseq from the request).
 * max_contacts: 0 = unlimited. On success, when out is not NULL, the resulting bindings are
 * copied into arena a (*out, *nout; owned by the arena).
 * A binding with the request's Call-ID and CSeq is left untouched (a retransmission of the
 * request that set it). Returns 0; EPROTO when a binding with the same Call-ID has a higher
 * CSeq than the request's (the request fails, §10.3 step 7: answer 500); EDQUOT when more than max_contacts would remain;
 * EAGAIN when the store is too far behind; ENOMEM (heap or arena). */
int ul_update(sy_str aor, const struct ul_change *ch, unsigned n, int star, sy_str callid,
	      uint32_t cseq, unsigned max_contacts, struct sy_arena *a,
	      struct store_binding **out, unsigned *nout);

/* The unexpired bindings of aor, copied into a, in the table's order (most recently added
 * last). 0, ENOENT (none), ENOMEM (arena full). */
int ul_get(sy_str aor, struct sy_arena *a, struct store_binding **out, unsigned *nout);

/* Make aor's bindings exactly b[0..n) (n 0: none), without writing them to the store: the
 * shared store's subscriber hands over what another node wrote. Connection id and listen
 * index are reset (they were the other node's). 0, EINVAL, ENOMEM (the table unchanged). */
int ul_replace_aor(sy_str aor, const struct store_binding *b, unsigned n);

/* Remove every binding of aor (MI ul_rm): 0 or ENOENT */
int ul_remove_aor(sy_str aor);

/* MI helpers (ul_dump, ul_show_contact) as plain C: cb runs under the shard's read lock, once
 * per unexpired binding; strings are valid during the call only; a non-zero return stops the
 * walk and is returned. ul_show_contact: ENOENT when aor has no binding. */
typedef int (*ul_walk_cb)(const struct store_binding *b, void *arg);
int ul_dump(ul_walk_cb cb, void *arg);
int ul_show_contact(sy_str aor, ul_walk_cb cb, void *arg);
/* counts for metrics: AORs and bindings in the table (expired ones not yet purged included) */
void ul_stats(unsigned long *aors, unsigned long *contacts);

#endif
