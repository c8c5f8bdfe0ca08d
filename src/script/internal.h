/* internal.h: the script engine's private types, shared by its files only.
 * Pipeline: lexer.c (tokens) -> parser.c (AST) -> compile.c (names resolved, arguments and
 * route permissions checked, regexes compiled) -> interp.c (scr_run walks the compiled AST).
 * Everything built at load lives in one scr_pool owned by the scr_prog, freed by scr_free(). */
#ifndef SCR_INTERNAL_H
#define SCR_INTERNAL_H

#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "script/api.h"

/* ---- load-time memory: chunks freed all at once with the program */
struct scr_chunk;
struct scr_rx;
struct scr_pool {
	struct scr_chunk *head;
	struct scr_rx *rx;	/* compiled regexes to regfree() */
};
void *scr_pool_alloc(struct scr_pool *p, size_t n);	/* zeroed; NULL on ENOMEM */
char *scr_pool_strdup(struct scr_pool *p, const char *s, size_t len);	/* NUL-terminated */
regex_t *scr_pool_regex(struct scr_pool *p);	/* registered for regfree when compiled */
void scr_pool_regex_ok(struct scr_pool *p, regex_t *r);
void scr_pool_free(struct scr_pool *p);

/* ---- diagnostics: one "file:line:col: message" line each, printed in line order by
 * scr_diag_flush() (the parser and the compiler find them in different orders) */
#define SCR_MAX_ERRORS 100
struct scr_dmsg;
struct scr_diag {
	FILE *out;
	const char *file;
	unsigned nerr;
	struct scr_dmsg *v;	/* held until flushed */
	unsigned n, cap;
	unsigned over_line, over_col;	/* where reporting stopped (nerr reached the cap) */
};
void scr_diag(struct scr_diag *d, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void scr_diag_flush(struct scr_diag *d);

/* ---- tokens */
enum scr_tok {
	TK_EOF = 0, TK_ERR, TK_IDENT, TK_INT, TK_STR, TK_PVAR,
	TK_LBRACE, TK_RBRACE, TK_LBRACK, TK_RBRACK, TK_LPAREN, TK_RPAREN,
	TK_SEMI, TK_COMMA, TK_COLON, TK_ASSIGN,
	TK_EQ, TK_NE, TK_LT, TK_GT, TK_LE, TK_GE, TK_MATCH, TK_NMATCH,
	TK_AND, TK_OR, TK_NOT, TK_PLUS, TK_MINUS, TK_MUL, TK_DIV, TK_BOR, TK_BAND, TK_MOD,
	TK_OPASSIGN,	/* += -= *= /= %= |= &=: ival holds the operator's token */
};

struct scr_token {
	enum scr_tok t;
	sy_str text;		/* the source slice */
	sy_str sval;		/* TK_STR: unescaped value (pool) */
	long ival;		/* TK_INT */
	unsigned line, col;
	unsigned eline, ecol;	/* just after the token */
};

struct scr_lexer {
	const char *src;
	size_t len, pos;
	unsigned line, col;
	struct scr_pool *pool;
	struct scr_diag *diag;
};
void scr_lex_init(struct scr_lexer *lx, const char *src, size_t len, struct scr_pool *pool,
		  struct scr_diag *diag);
void scr_lex_next(struct scr_lexer *lx, struct scr_token *tk);
/* the rest of the line from the current position (up to '#', ';' or newline), trimmed */
sy_str scr_lex_raw(struct scr_lexer *lx, unsigned *line, unsigned *col);
const char *scr_tok_name(enum scr_tok t);

/* ---- pseudo-variables */
enum scr_pv_kind {
	PV_RU, PV_RUSER, PV_RD, PV_RP, PV_DU, PV_RM, PV_RS, PV_RR, PV_SI, PV_SP,
	PV_FU, PV_FUSER, PV_FD, PV_FT, PV_TU, PV_TUSER, PV_TD, PV_TT, PV_CI, PV_CS, PV_UA,
	PV_HDR, PV_VAR, PV_AVP, PV_PROTO, PV_TIME, PV_T_REPLY_CODE, PV_T_BRANCH_IDX, PV_MB,
	PV_ML, PV_BRANCH_URI, PV_BRANCH_COUNT, PV_RETCODE, PV_OU, PV_OUSER, PV_OD, PV_OP,
	PV_RB, PV_CL, PV_CT, PV_CTYPE, PV_FN, PV_TN, PV_RI, PV_RP_LOCAL, PV_RV,
	PV_AU, PV_AD, PV_AR, PV_ADU,
};
struct scr_pvar {
	enum scr_pv_kind kind;
	sy_str name;		/* as written, "$hdr(X-Foo)" */
	sy_str arg;		/* $hdr(arg), $var(arg) */
	int idx;		/* $var/$avp slot */
};
/* resolve "$name" / "$name(arg)": 0, ENOENT (unknown name), ENOSPC (too many $var/$avp names) */
struct scr_prog;
int scr_pvar_resolve(struct scr_prog *p, sy_str name, sy_str arg, struct scr_pvar *pv);
int scr_pvar_writable(const struct scr_pvar *pv);

/* ---- AST */
enum scr_expr_kind {
	EX_INT, EX_STR, EX_TPL, EX_PVAR, EX_CALL, EX_ROUTE, EX_BIN, EX_NOT, EX_NEG, EX_MYSELF,
	EX_IDENT, EX_NULL,
};
struct scr_tpl_part {
	sy_str lit;		/* literal text, or ... */
	struct scr_pvar *pv;	/* ... a pseudo-variable */
};
struct scr_carg;
struct scr_expr {
	enum scr_expr_kind k;
	unsigned line, col;
	enum scr_tok op;		/* EX_BIN */
	struct scr_expr *l, *r;		/* EX_BIN, EX_NOT/EX_NEG (l) */
	long i;				/* EX_INT; EX_ROUTE: route index */
	sy_str s;			/* EX_STR value, EX_IDENT / EX_CALL / EX_ROUTE name */
	struct scr_tpl_part *parts;	/* EX_TPL */
	unsigned nparts;
	struct scr_pvar *pv;		/* EX_PVAR */
	regex_t *rx;			/* EX_BIN =~ / !~ with a constant pattern */
	/* EX_CALL */
	struct scr_expr *args[SCR_MAX_ARGS + 1];
	unsigned nargs;
	const struct scr_fn *fn;
	struct scr_carg *cargs;
};

/* a compiled function argument */
enum scr_carg_kind { CA_CONST, CA_EXPR };
struct scr_carg {
	enum scr_carg_kind k;
	enum scr_arg_type type;
	struct scr_arg a;	/* CA_CONST: the value */
	struct scr_expr *e;	/* CA_EXPR: evaluated per call */
};

enum scr_stmt_kind {
	ST_EXPR, ST_IF, ST_SWITCH, ST_CASE, ST_DEFAULT, ST_WHILE, ST_ASSIGN, ST_RETURN,
	ST_EXIT, ST_DROP, ST_BREAK, ST_BLOCK,
};
struct scr_stmt {
	enum scr_stmt_kind k;
	unsigned line, col;
	struct scr_stmt *next;
	struct scr_expr *e;		/* condition, value, switch subject, case label */
	struct scr_stmt *body, *alt;	/* if: then/else; while/switch/block: body */
	struct scr_pvar *pv;		/* ST_ASSIGN target */
};

#define SCR_NTYPES 7
struct scr_route {
	sy_str name;		/* "" for the main route of its type */
	unsigned line, col;
	struct scr_stmt *body;
	unsigned secs;		/* timer_route interval */
	unsigned mask;		/* route types it runs in (route[x] reached from several) */
	unsigned *calls;	/* route[] indices it calls through route(x) */
	unsigned ncalls, capcalls;
};
struct scr_rtable {
	struct scr_route *r;
	unsigned n, cap;
};

struct scr_global {
	const char *name;
	int is_int;
	long i;
	sy_str s;
};

#define SCR_MAX_LISTEN 16
#define SCR_MAX_ALIAS 16
#define SCR_MAX_GLOBALS 32
#define SCR_MAX_UNITS 64
#define SCR_MAX_FLAGS 64
struct scr_prog {
	struct scr_pool pool;
	struct scr_rtable rt[SCR_NTYPES];	/* by bit index of enum scr_route_type */
	struct scr_listen listen[SCR_MAX_LISTEN];
	unsigned nlisten;
	struct scr_listen alias[SCR_MAX_ALIAS];
	unsigned nalias;
	struct scr_global globals[SCR_MAX_GLOBALS];
	unsigned nglobals;
	const struct scr_unit *loaded[SCR_MAX_UNITS];
	unsigned nloaded;
	sy_str var_names[SCR_MAX_VARS], avp_names[SCR_MAX_VARS];
	unsigned nvars, navps;
	sy_str flag_names[SCR_MAX_FLAGS];
	unsigned nflags;
	long default_port;
	const char *file;	/* name the script was loaded as (diagnostics, trace) */
};

/* route type bit <-> table index and printable name */
int scr_type_index(unsigned type_bit);
const char *scr_type_name(unsigned type_bit);

/* parser.c: whole file -> prog (routes, globals, loaded units); errors counted in diag */
void scr_parse(struct scr_prog *p, const char *src, size_t len, struct scr_diag *d);
/* compile.c: resolve and check everything parsed */
void scr_compile(struct scr_prog *p, struct scr_diag *d);
/* compile.c: find a function among the loaded units (and core) */
const struct scr_fn *scr_find_fn(const struct scr_prog *p, sy_str name,
				 const struct scr_unit **unit);
const struct scr_unit *scr_find_unit(sy_str name);

/* interp.c: helpers shared with pvar.c */
sy_str scr_arena_dup(struct scr_ctx *ctx, const char *s, size_t len);
sy_str scr_int_str(struct scr_ctx *ctx, long v);

/* regex.c: 0 if regcomp may safely compile pat as an ERE (its estimated atom count, counted
 * repetition expanded, stays within max_atoms and no repetition operators are stacked); else
 * EINVAL with *off the offset in pat where it went wrong and *why a static reason */
#define SCR_REGEX_MAX_ATOMS 20000
int scr_regex_check(sy_str pat, unsigned long max_atoms, size_t *off, const char **why);

#endif
