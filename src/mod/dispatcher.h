/* dispatcher.h: the "dispatcher" unit (load balancing, OpenSIPS 3.x names): destination sets
 * loaded at start from Kamailio's list_file and/or OpenSIPS' `dispatcher` SQLite table, the
 * selection algorithms behind ds_select_dst()/ds_select_domain(), failover with
 * ds_next_dst()/ds_next_domain(), destination state (ds_mark_dst(), the prober) and
 * ds_is_in_list(). The set table is immutable once workers run; only each destination's state
 * and failure count and each set's round-robin counters change, as C11 atomics.
 * Files: ds_list.c (leaf parsers: a list_file line, the failover record), ds_set.c (the table,
 * the algorithms, states), ds_load.c (list_file and SQLite at load), ds_probe.c (OPTIONS
 * pings on a helper thread), dispatcher.c (the script unit). docs/dispatcher.md. */
#ifndef MOD_DISPATCHER_H
#define MOD_DISPATCHER_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "core/arena.h"
#include "core/net.h"
#include "core/str.h"
#include "script/api.h"
#include "sip/msg.h"

extern const struct scr_unit ds_unit;

/* ---- ds_list.c: leaf parsers (no malloc, no globals, no logging; slices into the input) */

/* One list_file line (Kamailio format): "setid destination [flags [priority [attrs]]]", fields
 * separated by blanks, '#' starts a comment. flags: 1 inactive, 2 probing, 8 always pinged
 * (Kamailio's keep-alive bit); attrs is opaque except "weight=N" (Kamailio's weight attribute).
 * 0 with *out filled, ENOENT (blank or comment line), EINVAL with *why set to a static text. */
struct ds_line {
	unsigned setid;
	sy_str uri;
	unsigned flags;
	int priority;
	sy_str attrs;
	unsigned weight;	/* from attrs "weight=N", else 1 */
};
int ds_parse_line(sy_str line, struct ds_line *out, const char **why);

/* The failover record a selection leaves in the transaction (an $avp the unit reserves, so tm
 * keeps it for failure_route): the set, the select flags, the destination in use and the
 * candidates still untried, as destination indexes. Encoded as text
 * "<set>;<flags>;<last>;<i1>,<i2>,...". */
#define DS_MAX_CAND 32
struct ds_failover {
	unsigned setid;
	unsigned flags;		/* DS_F_* */
	unsigned last;		/* destination in use */
	unsigned n;		/* candidates left */
	unsigned cand[DS_MAX_CAND];
};
/* into buf (cap bytes): 0 with *len, or ENOSPC */
int ds_failover_encode(const struct ds_failover *f, char *buf, size_t cap, size_t *len);
/* 0, or EINVAL for anything that is not exactly what encode writes */
int ds_failover_decode(sy_str s, struct ds_failover *f);

/* ---- ds_set.c: the table */

/* destination state bits; 0 = active. A destination is selected only when active. */
#define DS_ST_INACTIVE 0x1u	/* ds_mark_dst("i"), state 1 in the table */
#define DS_ST_PROBING 0x2u	/* pinged until it answers; ds_mark_dst("p"), state 2 */
/* load flags */
#define DS_LF_PING 0x8u		/* always pinged (list_file flag 8) */

struct ds_dest {
	unsigned idx;		/* in the whole table */
	unsigned setid;
	sy_str uri;		/* as configured ($du) */
	sy_str host;		/* of uri; IPv6 with [] */
	unsigned port;		/* of uri, 5060/5061 when absent */
	enum sy_proto proto;
	struct sy_addr addr;	/* resolved at load */
	sy_str socket, attrs, description;
	unsigned weight;
	int priority;
	unsigned lflags;	/* DS_LF_* */
	atomic_uint state;	/* DS_ST_* */
	atomic_uint fails;	/* failed pings (or ds_mark_dst("p") calls) in a row */
	atomic_uint pending;	/* prober: sequence number of the unanswered ping, 0 none */
	atomic_uint inflight;	/* transactions relayed to it and not ended (algorithm 10) */
};

struct ds_set {
	unsigned id;
	unsigned n;
	unsigned *d;		/* destination indexes, by priority (highest first), then order */
	unsigned *rr;		/* weighted round robin: each index weight times in a row */
	unsigned nrr;
	unsigned *wt;		/* weight distribution: indexes spread over one cycle */
	unsigned nwt;
	atomic_ulong rr_next, wt_next;
};

/* What a load adds, before ds_table_commit() publishes it. Strings are copied. */
struct ds_new {
	unsigned setid;
	sy_str uri, socket, attrs, description;
	unsigned state;		/* DS_ST_* */
	unsigned weight;	/* 0 is taken as 1 */
	int priority;
	unsigned lflags;
};
/* add one destination to the table being built (main thread, at load): the URI must be a
 * sip:/sips: URI whose host is an IP or a name that resolves now. 0, or EINVAL/EHOSTUNREACH/
 * ENOMEM/ENOSPC with *why (static text) */
int ds_table_add(const struct ds_new *nd, const char **why);
/* a destination URI's syntax (sip:/sips:, a host, transport udp/tcp/tls, port): 0 with *u and
 * *proto, or EINVAL with *why. No DNS. */
int ds_uri_check(sy_str uri, struct sip_uri *u, enum sy_proto *proto, const char **why);
/* build the sets from everything added (sorted, round-robin and weight tables); 0 or ENOMEM */
int ds_table_commit(void);
/* once the listens exist (the unit's init): every destination has a listen of its transport
 * and its socket column names one of ours. "dispatcher: ..." lines on err; 0 or EINVAL. A
 * socket other than the one relaying picks (the first listen of the transport and family)
 * is logged as not used. */
int ds_table_check(FILE *err);
/* drop the table (tests, exit) */
void ds_table_free(void);

unsigned ds_dest_count(void);
struct ds_dest *ds_dest_get(unsigned idx);
const struct ds_set *ds_set_find(unsigned id);

/* selection flags (ds_select_dst's third argument) */
#define DS_F_FAILOVER 0x1u	/* 'f': keep the other candidates for ds_next_dst() */
#define DS_F_USER 0x2u		/* 'u': hash the URI's user part only */
#define DS_F_DEFAULT 0x4u	/* 'd': the set's last destination only as the last resort */
#define DS_F_DOMAIN 0x8u	/* chosen by ds_select_domain (ds_next_* and mark know it) */
/* "fud..." -> DS_F_*; 0 or EINVAL (unknown letter) */
int ds_flags_parse(sy_str s, unsigned *out);

/* algorithms (ds_select_dst's second argument) */
enum ds_alg {
	DS_ALG_CALLID = 0, DS_ALG_FROM = 1, DS_ALG_TO = 2, DS_ALG_RURI = 3, DS_ALG_RR = 4,
	DS_ALG_AUTHUSER = 5, DS_ALG_RANDOM = 6, DS_ALG_FIRST = 8, DS_ALG_WEIGHT = 9,
	DS_ALG_LOAD = 10,
};

/* What a selection hashes (algorithms 0-3 and 5); the message's values in production, any
 * strings in tests. */
struct ds_keys {
	sy_str callid;
	sy_str authuser;	/* digest username of the credentials (alg 5); empty: none */
	const struct sip_uri *from, *to, *ruri;
};
/* Choose from set setid: candidates in order of use (the chosen one first, then the others
 * in failover order, at most max of them, max 0 = all) into f. 0, ENOENT (no such set),
 * EHOSTUNREACH (no active destination), EINVAL (unknown algorithm). */
int ds_select(unsigned setid, int alg, unsigned flags, unsigned max, const struct ds_keys *k,
	      struct ds_failover *f);
/* hash of a key as the algorithms use it (stable across runs and builds) */
uint32_t ds_hash(sy_str s);

/* algorithm 10's count: d = +1 when a transaction carrying idx as the destination in use
 * starts relaying (or failure_route moves on to idx), -1 when it ends (or moves away); never
 * below 0 */
void ds_inflight_add(unsigned idx, int d);

/* state changes: any thread. ds_mark: 'a' active, 'i' inactive, 'p' probing (counted: set
 * after probing_threshold calls). 1 when the state changed, 0 not, -1 bad idx. */
int ds_mark(unsigned idx, char state);
/* a ping's result: ok clears the failure count and the probing bit (an operator's inactive
 * bit stays); a failure counts and at probing_threshold in a row sets the probing bit (out of
 * selection, still pinged). 1 when the destination became selectable (ok) or stopped being
 * selectable (failure), else 0. */
int ds_ping_result(unsigned idx, int ok);
/* ds_set_state as OpenSIPS' MI command: state 'a'/'i'/'p' of uri in set setid. 0, ENOENT */
int ds_set_state(unsigned setid, sy_str uri, char state);
/* ds_is_in_list: ip (no brackets) and port (0: any) against set (-1: every set); active_only.
 * 1 (*setid_out set to the matching set when not NULL) or 0 */
int ds_in_list(sy_str ip, unsigned port, long set, int active_only, unsigned *setid_out);

/* modparams read by ds_set.c/ds_probe.c; set at load, read-only once workers run */
struct ds_config {
	unsigned probing_threshold;	/* ds_probing_threshold, default 1 (OpenSIPS 3.x) */
	unsigned ping_interval;		/* ds_ping_interval seconds; 0: no probing */
	unsigned probing_mode;		/* ds_probing_mode: 0 probing ones only, 1 all */
	unsigned reply_codes[16];	/* options_reply_codes (besides 200) */
	unsigned nreply_codes;
	char ping_method[32];		/* ds_ping_method */
	char ping_from[256];		/* ds_ping_from */
	int ping_maxfwd;		/* ds_ping_maxfwd, -1: 70 */
	char probing_sock[128];		/* ds_probing_sock "[udp:]ip[:port]", "" none */
};
extern struct ds_config ds_cfg;

/* ---- ds_load.c (main thread, at load): every problem is one "file:line: message" line on
 * err (a FILE *) and the call fails with EINVAL */
int ds_load_list(const char *path, FILE *err);
/* the same file's syntax only (fields and URIs, no DNS, nothing added): what `switchyard -c`
 * can check, since the units' init does not run there */
int ds_check_list(const char *path, FILE *err);
/* url "sqlite:///abs" or "sqlite://rel"; table with OpenSIPS' columns (setid, destination,
 * socket, state, weight, priority, attrs, description; a missing optional column is taken
 * as its default) */
int ds_load_db(const char *url, const char *table, FILE *err);

/* ---- ds_probe.c: the prober thread (started by the unit's init when ds_ping_interval > 0);
 * 0 or errno. Stopped and joined at exit. */
int ds_probe_start(void);
void ds_probe_stop(void);
/* the Via branch of ping (idx, seq): "z9hG4bKdsp.<idx>.<seq>.<mac>", mac 16 hex digits of
 * HMAC-SHA256 under a random per-process key, so a reply cannot be made without having seen
 * that ping. 0, ENOSPC or EIO (no randomness) */
int ds_probe_branch(unsigned idx, unsigned seq, char *buf, size_t cap);
/* one round without the thread (tests): send pings, count the unanswered ones as failed */
int ds_probe_round(int fd, const struct sy_addr *local);
/* a reply received by the prober from `from` (NULL: on our own connection to the
 * destination, or a test): 1 matched one of our pings, 0 not (also when it does not come
 * from the pinged destination's IP) */
int ds_probe_reply(const char *buf, size_t len, const struct sy_addr *from);

#endif
