/* store.h: persistent back end of the location service (usrloc): SQLite embedded
 * (src/store/sqlite.c) or Redis shared between nodes (src/store/redis.c), chosen by the url.
 * The in-memory table (src/mod/usrloc.c) is the authority; the store is a write-through copy
 * that lets bindings survive a restart (and, with Redis, reach the other nodes). Writes never block the caller: store_submit() copies the
 * operations into a job and a helper thread applies each job in one SQLite transaction, so one
 * REGISTER's changes land whole or not at all. Reads (store_load) are synchronous and meant for
 * start-up only. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdint.h>

#include "core/str.h"

/* One contact bound to an address-of-record (RFC 3261 §10.3): the row the store keeps and the
 * view usrloc hands out. Strings point into memory owned by whoever filled the struct. */
struct store_binding {
	sy_str aor;		/* canonical "sip:user@domain" (§10.3 step 5) */
	sy_str contact;		/* Contact URI as registered */
	sy_str received;	/* source of the REGISTER, "sip:IP:PORT[;transport=x]" */
	sy_str path;		/* Path values in order, comma-joined (RFC 3327 §5.3) */
	sy_str callid;
	sy_str user_agent;
	sy_str instance;	/* +sip.instance value as written (RFC 5626 §4.2), or empty */
	uint32_t cseq;
	uint32_t reg_id;	/* reg-id (RFC 5626), 0 when absent */
	int64_t expires;	/* absolute, Unix seconds */
	int q;			/* 0..1000 (q * 1000), -1 when the Contact gave none */
	uint32_t methods;	/* bit (1u << enum sip_method) per accepted method; 0 = all */
	uint32_t flags;		/* STORE_FL_* */
	int proto;		/* enum sy_proto the REGISTER arrived on */
	int64_t last_modified;	/* Unix seconds */
	/* memory only (not persisted: meaningless after a restart) */
	uint64_t conn_id;	/* stream connection of the REGISTER (0: none) */
	int listen_idx;		/* listen socket it arrived on (-1: unknown) */
};

#define STORE_FL_NAT 0x1u	/* fix_nated_register(): reach the contact at `received` */

enum store_op_kind {
	STORE_OP_UPSERT,	/* insert or replace the row (aor, contact) from b */
	STORE_OP_DELETE,	/* delete the row (b.aor, b.contact) */
	STORE_OP_DELETE_AOR,	/* delete every row of b.aor */
	STORE_OP_PURGE,		/* delete every row with expires <= b.expires */
};

/* The bytes the string fields of b take, and a copy of src into *dst with every string
 * re-pointed into p, packed in field order (p needs store_binding_strs_len(src) bytes; the
 * return value is p past them). Neither allocates: the caller owns p (malloc'd job, contact
 * record or arena). */
size_t store_binding_strs_len(const struct store_binding *b);
char *store_binding_copy(struct store_binding *dst, const struct store_binding *src, char *p);

struct store_op {
	enum store_op_kind kind;
	struct store_binding b;
};

/* The value a binding is kept as in Redis (a hash field per contact): every field, numbers in
 * decimal, strings length-prefixed so any byte may appear in them. store_binding_enc_len() is
 * an upper bound of the encoding's size; store_binding_encode() writes it into buf (cap bytes)
 * and returns its length, 0 when cap is too small. store_binding_decode() is the zero-copy
 * inverse (strings point into p; conn_id 0, listen_idx -1): 0, or EBADMSG for anything that is
 * not exactly one encoding. Leaf code: no allocation, no logging. */
size_t store_binding_enc_len(const struct store_binding *b);
size_t store_binding_encode(const struct store_binding *b, char *buf, size_t cap);
int store_binding_decode(const char *p, size_t len, struct store_binding *out);

struct store;

/* Is url one store_open() accepts? 0, or EINVAL with *why set to a one-line reason (for the
 * modparam's file:line:col error at load). */
int store_url_check(const char *url, const char **why);

/* Open the store named by url and start its writer thread:
 * "sqlite:///abs/path.db" or "sqlite://relative/path.db" (file and table created when needed);
 * "redis://host[:port][/db]" (port 6379 and db 0 by default; an unreachable server is not an
 * error: writes wait for it, see store_watch).
 * 0, EINVAL (bad url), EIO (SQLite could not open or create it), ENOMEM. *out owned by the
 * caller, released by store_close(). */
int store_open(const char *url, struct store **out);

/* Flush pending writes, stop the writer thread, close the database. NULL is accepted. */
void store_close(struct store *st);

/* Start-up read: cb is called once per row with expires > now (strings valid during the call
 * only); a non-zero return from cb stops the walk and is returned. 0, EIO or cb's code. */
typedef int (*store_load_cb)(const struct store_binding *b, void *arg);
int store_load(struct store *st, int64_t now, store_load_cb cb, void *arg);

/* Queue ops[0..n) as one job, applied in one SQLite transaction by the writer thread. Copies
 * everything; never blocks on SQLite. 0, ENOMEM, EAGAIN (queue over its bound: the back end is
 * not keeping up), EINVAL. A failure to apply a job later is logged in one line. */
int store_submit(struct store *st, const struct store_op *ops, unsigned n);

/* Wait until every job submitted so far is applied (tests, shutdown); with Redis away that is
 * until it is back. Returns 0, or EIO when some job failed since the last store_flush(). */
int store_flush(struct store *st);

/* Number of rows in the table (tests and ul_dump); 0 or EIO. */
int store_count(struct store *st, unsigned long *out);

/* Changes made by other nodes (Redis): cb gets an AOR's whole current binding set (n may be
 * 0: the AOR has none left) each time another node changed it, and every AOR of the store
 * after each (re)connection, so a node that missed messages converges. It runs on the store's
 * subscriber thread (never a worker); strings are valid during the call only. Call once,
 * after store_load. SQLite: nothing to watch, 0. Otherwise 0 or ENOMEM/EAGAIN. */
typedef int (*store_aor_cb)(sy_str aor, const struct store_binding *b, unsigned n, void *arg);
int store_watch(struct store *st, store_aor_cb cb, void *arg);

#endif
