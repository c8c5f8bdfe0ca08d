/* api.h: what a unit (src/mod/) sees of the script engine.
 * Each unit is one typed table: functions with their parameter types and the route types that
 * may call them, and its modparams. The compiler checks every call against the table once, at
 * load, and compiles the arguments (constants, pseudo-variable templates, regexes, route
 * references); handlers receive arguments already evaluated. No fixup functions. */
#ifndef SCR_API_H
#define SCR_API_H

#include <stdint.h>

#include "core/arena.h"
#include "core/net.h"
#include "core/str.h"
#include "sip/build.h"
#include "sip/msg.h"

/* route types, as a bit mask for scr_fn.routes */
enum scr_route_type {
	SCR_ROUTE_REQUEST = 1 << 0,	/* route, route[x] called from it */
	SCR_ROUTE_ONREPLY = 1 << 1,
	SCR_ROUTE_FAILURE = 1 << 2,
	SCR_ROUTE_BRANCH = 1 << 3,
	SCR_ROUTE_LOCAL = 1 << 4,
	SCR_ROUTE_STARTUP = 1 << 5,
	SCR_ROUTE_TIMER = 1 << 6,
};
#define SCR_ROUTE_ANY 0x7f
#define SCR_ROUTE_REQ_LIKE (SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE | SCR_ROUTE_BRANCH)

enum scr_arg_type {
	SCR_ARG_NONE = 0,
	SCR_ARG_STR,		/* string, pseudo-variables interpolated at run time -> a.s */
	SCR_ARG_INT,		/* integer constant or int-valued expression -> a.i */
	SCR_ARG_STR_OR_INT,	/* either -> a.s and a.i (a.i = atoi) */
	SCR_ARG_REGEX,		/* constant POSIX ERE compiled at load -> a.p (regex_t *) */
	SCR_ARG_PVAR,		/* a writable pseudo-variable -> a.p (struct scr_pvar *) */
	SCR_ARG_FLAG,		/* flag number or name -> a.i */
	SCR_ARG_ROUTE_FAILURE,	/* name of a failure_route[] -> a.i (route index) */
	SCR_ARG_ROUTE_ONREPLY,	/* name of an onreply_route[] -> a.i */
	SCR_ARG_ROUTE_BRANCH,	/* name of a branch_route[] -> a.i */
	SCR_ARG_ROUTE,		/* name of a route[] -> a.i */
};

struct scr_arg {
	sy_str s;
	long i;
	const void *p;
	int given;		/* 0 for an optional argument left out */
};

struct scr_ctx;
struct scr_prog;

/* Handler result, as in OpenSIPS: > 0 true, < 0 false (-1, -2 ... carry meaning), 0 stops the
 * script (like exit). */
typedef int (*scr_fn_handler)(struct scr_ctx *ctx, const struct scr_arg *args);

#define SCR_MAX_ARGS 6
struct scr_fn {
	const char *name;
	unsigned char nmin, nmax;
	enum scr_arg_type args[SCR_MAX_ARGS];
	unsigned routes;	/* enum scr_route_type mask */
	scr_fn_handler fn;
};

enum scr_param_type { SCR_PARAM_INT, SCR_PARAM_STR };
struct scr_modparam {
	const char *name;
	enum scr_param_type type;
	/* called at load; return 0, or an errno with *err set to a static message */
	int (*set)(const struct scr_arg *value, const char **err);
};

struct scr_unit {
	const char *name;		/* as in loadmodule "name.so" and modparam("name", ...) */
	const struct scr_fn *fns;	/* terminated by a row with name == NULL */
	const struct scr_modparam *params;	/* same */
	int (*init)(void);		/* after the script loaded, before workers start; may be NULL */
};

/* the built-in units, in src/mod/units.c; NULL-terminated */
extern const struct scr_unit *const scr_units[];

/* Per-message state the interpreter and the handlers share. The caller (proxy core or tm)
 * fills msg/rcv/edits/arena/route_type/host and the engine the rest. Lives on the worker's
 * stack or arena; nothing here is freed one by one. */
#define SCR_MAX_BRANCHES 12
#define SCR_MAX_VARS 32
struct scr_value {
	int is_int;
	long i;
	sy_str s;		/* arena memory */
};
struct scr_ctx {
	const struct scr_prog *prog;
	int route_type;			/* one enum scr_route_type bit */
	struct sip_msg *msg;		/* request, or the reply in onreply_route */
	const struct sy_rcvinfo *rcv;
	struct sip_build *edits;	/* header/RURI edits the script made */
	struct sy_arena *arena;

	sy_str new_ruri;		/* $ru after assignment; empty = unchanged */
	sy_str dst_uri;			/* $du; empty = none */
	sy_str branches[SCR_MAX_BRANCHES];	/* append_branch()/lookup() extra targets */
	unsigned nbranches;
	sy_str branch_dst[SCR_MAX_BRANCHES];	/* per-branch $du set by lookup() (first Path hop or
						 * the NAT source); empty = the branch URI itself */
	uint64_t flags;			/* setflag/isflag, per transaction */
	uint64_t bflags;
	struct scr_value vars[SCR_MAX_VARS];	/* $var(x), indexed at load */
	struct scr_value avps[SCR_MAX_VARS];	/* $avp(x), copied into the transaction */

	long retcode;			/* $rc / $retcode: the last function or route result */
	unsigned reply_code;		/* $T_reply_code ($rs of the winning reply in failure_route) */
	int branch_idx;			/* $T_branch_idx */
	int dropped;			/* drop executed */
	int exited;			/* exit executed */
	int replied;			/* a local reply was sent (sl/t_reply) */
	int maxfwd_done;		/* mf_process_maxfwd_header() already decremented or added
					 * Max-Forwards in edits: px_forward/tm must not do it again */
	int force_rport;		/* force_rport(): answer to the source port as if the top
					 * Via had ;rport (RFC 3581 §4) */
	unsigned auth_hdr;		/* index + 1 of the credentials header the last
					 * www_authorize/proxy_authorize checked (the first of its
					 * realm), what $au $ad $ar $adu name; 0: none checked */

	void *host;			/* owner's object: the transaction, or NULL (stateless) */
	void *host2;

	void *trace;			/* FILE *: when set, scr_run writes each route entered, each
					 * condition, call (with its arguments and result),
					 * assignment and exit/drop/return there, one line each
					 * (switchyard --trace); NULL on the hot path */
};

/* the effective request URI: new_ruri if set, else the message's */
sy_str scr_ctx_ruri(const struct scr_ctx *ctx);

/* Load and compile a config file. On error returns EINVAL and prints one
 * "file:line:col: message" line per problem to err (a FILE *), and *prog stays NULL. */
int scr_load(const char *path, void *err_file, struct scr_prog **prog);
/* Same from memory (tests, fuzzer): name is what error lines print as the file. */
int scr_load_mem(const char *name, const char *text, size_t len, void *err_file,
		 struct scr_prog **prog);
/* call init() of every unit the script loaded (and core), once, before workers start:
 * 0 or the first unit's error */
int scr_units_init(const struct scr_prog *p);
/* 1 when loadmodule named that unit (core always counts as loaded) */
int scr_unit_loaded(const struct scr_prog *p, const char *unit);
/* the bit a flag name used by the script (setflag(NAT), isflag("NAT")) was given at load, for
 * units whose modparams name flags (usrloc nat_bflag): 0..63, or -1 when the script never
 * uses that name */
int scr_flag_index(const struct scr_prog *p, sy_str name);
void scr_free(struct scr_prog *prog);

/* global parameters the script set (listen, workers, log_level, alias) */
struct scr_listen {
	enum sy_proto proto;
	sy_str host;		/* as written (IP or name) */
	unsigned port;
};
unsigned scr_listen_count(const struct scr_prog *p);
const struct scr_listen *scr_listen_get(const struct scr_prog *p, unsigned i);
long scr_global_int(const struct scr_prog *p, const char *name, long dflt);
sy_str scr_global_str(const struct scr_prog *p, const char *name);
/* aliases for uri==myself (besides the listen addresses) */
int scr_is_myself(const struct scr_prog *p, sy_str host, unsigned port);

/* route lookup: index of a named route of that type, -1 when absent; main routes are index 0
 * ("" name) of SCR_ROUTE_REQUEST and SCR_ROUTE_ONREPLY */
int scr_route_index(const struct scr_prog *p, enum scr_route_type type, sy_str name);
int scr_has_route(const struct scr_prog *p, enum scr_route_type type, int idx);
/* routes of a type (indices 0..n-1; for REQUEST/ONREPLY index 0 may be an absent main route) */
unsigned scr_route_count(const struct scr_prog *p, enum scr_route_type type);
/* how many distinct $avp(name)s p uses: only ctx->avps[0..n) can ever be set (indexes are
 * given at load); SCR_MAX_VARS when p is NULL */
unsigned scr_avp_count(const struct scr_prog *p);
/* The $avp slot named name (the one the script's $avp(name) uses; reserved now when the
 * script has none), for a unit's per-transaction value: tm keeps ctx->avps[slot] for
 * failure_route like any $avp. Main thread, at load (a unit's init). name must outlive p.
 * The slot index, or -1 when all SCR_MAX_VARS are taken. */
int scr_avp_slot(struct scr_prog *p, sy_str name);
/* *ctx as memset(ctx, 0, sizeof(*ctx)) then ctx->prog = p would leave it, but without clearing
 * the $var/$avp slots p never uses (2 KB per message otherwise) */
void scr_ctx_init(struct scr_ctx *ctx, const struct scr_prog *p);
/* Every constant string the script gives to argument argi of function fn (fn == NULL: every
 * constant string assigned to the pseudo-variable named pv, e.g. "$du"), with the file, line
 * and column where it is written; arguments with pseudo-variables are not constant and are not
 * seen. For load-time work on values a worker must not do (DNS). cb's first non-zero return
 * stops the walk and is returned; else 0. */
typedef int (*scr_const_cb)(sy_str value, const char *file, unsigned line, unsigned col,
			    void *arg);
int scr_foreach_const(const struct scr_prog *p, const char *fn, unsigned argi, const char *pv,
		      scr_const_cb cb, void *arg);
/* timer_route[name, secs]: its interval and name (idx < scr_route_count(p, SCR_ROUTE_TIMER)) */
unsigned scr_timer_secs(const struct scr_prog *p, int idx);
sy_str scr_route_name(const struct scr_prog *p, enum scr_route_type type, int idx);

/* Pseudo-variables for handlers that take SCR_ARG_PVAR (a.p): read into out (strings in
 * ctx->arena or the message) and write (the value is copied into ctx->arena). 0, ENOENT (no
 * value: out is an empty string), EROFS (not writable), ENOMEM (arena full), EINVAL. */
struct scr_pvar;
int scr_pvar_get(struct scr_ctx *ctx, const struct scr_pvar *pv, struct scr_value *out);
int scr_pvar_set(struct scr_ctx *ctx, const struct scr_pvar *pv, const struct scr_value *v);

/* Run route idx of the given type on ctx. Returns the route's last result (>0 true, <0 false)
 * or 0 when exit/drop stopped it; ctx->dropped/exited tell which. */
int scr_run(struct scr_ctx *ctx, enum scr_route_type type, int idx);

#endif
