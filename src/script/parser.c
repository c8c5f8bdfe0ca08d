/* parser.c: recursive-descent parser of the OpenSIPS 3.x script dialect into the AST of
 * internal.h. Top level: global parameters, loadmodule, modparam and route blocks; inside the
 * blocks: statements and expressions. Pseudo-variables are resolved here (their slots indexed);
 * functions, route references and permissions are left to compile.c.
 * Error recovery: a statement in error is skipped up to its ';' (or past its block), a missing
 * ';' is reported where it belongs and parsing goes on, so one run reports every error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "script/internal.h"

#define MAX_DEPTH 200

struct parser {
	struct scr_lexer lx;
	struct scr_token tok, prev;
	struct scr_prog *p;
	struct scr_diag *d;
	unsigned depth;
};

static void next(struct parser *ps)
{
	ps->prev = ps->tok;
	scr_lex_next(&ps->lx, &ps->tok);
}

static int is_kw(const struct scr_token *t, const char *kw)
{
	return t->t == TK_IDENT && sy_str_eq(t->text, sy_cstr(kw));
}

static void err_tok(struct parser *ps, const struct scr_token *t, const char *what)
{
	if (t->t == TK_ERR)
		return;	/* the lexer already said why */
	if (t->t == TK_EOF)
		scr_diag(ps->d, t->line, t->col, "expected %s, found end of file", what);
	else
		scr_diag(ps->d, t->line, t->col, "expected %s, found '%.*s'", what,
			 SY_FMT(t->text));
}

static int expect(struct parser *ps, enum scr_tok t)
{
	if (ps->tok.t == t) {
		next(ps);
		return 0;
	}
	err_tok(ps, &ps->tok, scr_tok_name(t));
	return EINVAL;
}

static void *node(struct parser *ps, size_t n)
{
	void *x = scr_pool_alloc(&ps->p->pool, n);

	if (!x)
		scr_diag(ps->d, ps->tok.line, ps->tok.col, "out of memory");
	return x;
}

/* skip the rest of a statement in error: up to ';' or past one balanced {} block, stopping
 * before a '}' that closes the enclosing block */
static void sync_stmt(struct parser *ps)
{
	int depth = 0;

	for (;;) {
		switch (ps->tok.t) {
		case TK_EOF:
			return;
		case TK_SEMI:
			next(ps);
			if (depth == 0)
				return;
			break;
		case TK_LBRACE:
			depth++;
			next(ps);
			break;
		case TK_RBRACE:
			if (depth == 0)
				return;
			next(ps);
			if (--depth == 0)
				return;
			break;
		default:
			next(ps);
			break;
		}
	}
}

/* ---- pseudo-variables */

static struct scr_pvar *pvar_of(struct parser *ps, sy_str text, unsigned line, unsigned col)
{
	sy_str name = text, arg = SY_NULL_STR;
	const char *lp;
	struct scr_pvar *pv;
	int rc;

	/* text is "$name" or "$name(arg)" as the lexer validated it */
	lp = memchr(text.s, '(', text.len);
	if (lp) {
		name.len = (size_t)(lp - text.s);
		arg = sy_str_make(lp + 1, text.len - name.len - 2);
	}
	name.s++;
	name.len--;
	pv = node(ps, sizeof(*pv));
	if (!pv)
		return NULL;
	rc = scr_pvar_resolve(ps->p, name, arg, pv);
	if (rc == ENOENT) {
		scr_diag(ps->d, line, col, "unknown pseudo-variable '%.*s'", SY_FMT(text));
		return NULL;
	}
	if (rc == ENOSPC) {
		scr_diag(ps->d, line, col, "too many distinct $var/$avp names (max %d)",
			 SCR_MAX_VARS);
		return NULL;
	}
	if (rc) {
		scr_diag(ps->d, line, col, "bad pseudo-variable '%.*s'", SY_FMT(text));
		return NULL;
	}
	pv->name = text;
	return pv;
}

static int name_char(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* a string literal: constant, or a template when it holds $pvars ("sip:$rU@$rd") */
static struct scr_expr *string_expr(struct parser *ps, const struct scr_token *t)
{
	struct scr_expr *e = node(ps, sizeof(*e));
	sy_str v = t->sval;
	unsigned n = 0, cap = 0;
	size_t i, lit = 0;

	if (!e)
		return NULL;
	e->line = t->line;
	e->col = t->col;
	e->k = EX_STR;
	e->s = v;
	if (!memchr(v.s, '$', v.len))
		return e;
	/* worst case parts: every char a boundary */
	cap = (unsigned)v.len + 1;
	e->parts = node(ps, sizeof(*e->parts) * cap);
	if (!e->parts)
		return NULL;
	for (i = 0; i < v.len;) {
		size_t j;

		if (v.s[i] != '$' || i + 1 >= v.len || !name_char(v.s[i + 1]) ||
		    (v.s[i + 1] >= '0' && v.s[i + 1] <= '9')) {
			i++;
			continue;
		}
		j = i + 1;
		while (j < v.len && name_char(v.s[j]))
			j++;
		if (j < v.len && v.s[j] == '(') {
			const char *rp = memchr(v.s + j, ')', v.len - j);

			if (!rp) {
				scr_diag(ps->d, t->line, t->col + 1 + (unsigned)i,
					 "unterminated pseudo-variable in string");
				return NULL;
			}
			j = (size_t)(rp - v.s) + 1;
		}
		if (i > lit)
			e->parts[n++].lit = sy_str_make(v.s + lit, i - lit);
		e->parts[n].pv = pvar_of(ps, sy_str_make(v.s + i, j - i), t->line,
					 t->col + 1 + (unsigned)i);
		if (!e->parts[n].pv)
			return NULL;
		n++;
		i = lit = j;
	}
	if (lit < v.len)
		e->parts[n++].lit = sy_str_make(v.s + lit, v.len - lit);
	if (n == 1 && !e->parts[0].pv)
		return e;	/* "$" not followed by a name: plain text */
	e->k = EX_TPL;
	e->nparts = n;
	return e;
}

/* ---- expressions: || < && < comparison < | < & < + - < * / < unary < primary */

static struct scr_expr *parse_expr(struct parser *ps);

static struct scr_expr *mk(struct parser *ps, enum scr_expr_kind k, const struct scr_token *t)
{
	struct scr_expr *e = node(ps, sizeof(*e));

	if (e) {
		e->k = k;
		e->line = t->line;
		e->col = t->col;
	}
	return e;
}

/* keywords that read like pseudo-variables (OpenSIPS core: uri, from_uri, method ...) */
static const struct {
	const char *kw, *pv;
} kw_alias[] = {
	{ "uri", "$ru" }, { "from_uri", "$fu" }, { "to_uri", "$tu" }, { "method", "$rm" },
	{ "src_ip", "$si" }, { "src_port", "$sp" }, { "proto", "$proto" }, { "status", "$rs" },
};

/* name of a route reference: route(x), route["x"], t_on_failure(x) */
static int route_name(struct parser *ps, sy_str *name)
{
	if (ps->tok.t == TK_IDENT || ps->tok.t == TK_INT) {
		*name = ps->tok.text;
	} else if (ps->tok.t == TK_STR) {
		*name = ps->tok.sval;
	} else {
		err_tok(ps, &ps->tok, "a route name");
		return EINVAL;
	}
	next(ps);
	return 0;
}

static struct scr_expr *parse_call(struct parser *ps, struct scr_token name)
{
	struct scr_expr *e = mk(ps, EX_CALL, &name);

	if (!e)
		return NULL;
	e->s = name.text;
	next(ps);	/* '(' */
	if (ps->tok.t == TK_RPAREN) {
		next(ps);
		return e;
	}
	for (;;) {
		struct scr_expr *a = parse_expr(ps);

		if (!a)
			return NULL;
		if (e->nargs >= SCR_MAX_ARGS) {
			scr_diag(ps->d, a->line, a->col, "too many arguments to '%.*s'",
				 SY_FMT(name.text));
			return NULL;
		}
		e->args[e->nargs++] = a;
		if (ps->tok.t == TK_COMMA) {
			next(ps);
			continue;
		}
		if (expect(ps, TK_RPAREN))
			return NULL;
		return e;
	}
}

static struct scr_expr *parse_unary(struct parser *ps);

static struct scr_expr *parse_primary(struct parser *ps)
{
	struct scr_token t = ps->tok;
	struct scr_expr *e;

	switch (t.t) {
	case TK_INT:
		next(ps);
		e = mk(ps, EX_INT, &t);
		if (e)
			e->i = t.ival;
		return e;
	case TK_STR:
		next(ps);
		return string_expr(ps, &t);
	case TK_PVAR:
		next(ps);
		e = mk(ps, EX_PVAR, &t);
		if (e && !(e->pv = pvar_of(ps, t.text, t.line, t.col)))
			return NULL;
		return e;
	case TK_LPAREN:
		next(ps);
		e = parse_expr(ps);
		if (!e || expect(ps, TK_RPAREN))
			return NULL;
		return e;
	case TK_IDENT:
		next(ps);
		if (ps->tok.t == TK_LPAREN) {
			if (sy_str_eq(t.text, SY_STR("route"))) {
				e = mk(ps, EX_ROUTE, &t);
				next(ps);
				if (!e || route_name(ps, &e->s))
					return NULL;
				/* route(x, args...) is OpenSIPS 2.x+; not supported here */
				if (expect(ps, TK_RPAREN))
					return NULL;
				return e;
			}
			return parse_call(ps, t);
		}
		if (is_kw(&t, "myself"))
			return mk(ps, EX_MYSELF, &t);
		if (is_kw(&t, "NULL") || is_kw(&t, "null"))
			return mk(ps, EX_NULL, &t);
		for (size_t i = 0; i < sizeof(kw_alias) / sizeof(kw_alias[0]); i++) {
			if (is_kw(&t, kw_alias[i].kw)) {
				e = mk(ps, EX_PVAR, &t);
				if (e && !(e->pv = pvar_of(ps, sy_cstr(kw_alias[i].pv), t.line,
							   t.col)))
					return NULL;
				return e;
			}
		}
		e = mk(ps, EX_IDENT, &t);
		if (e)
			e->s = t.text;
		return e;
	default:
		err_tok(ps, &t, "an expression");
		return NULL;
	}
}

static struct scr_expr *parse_unary(struct parser *ps)
{
	struct scr_token t = ps->tok;
	struct scr_expr *e, *sub;

	if (t.t != TK_NOT && t.t != TK_MINUS)
		return parse_primary(ps);
	if (++ps->depth > MAX_DEPTH) {
		scr_diag(ps->d, t.line, t.col, "expression nested too deeply");
		return NULL;
	}
	next(ps);
	sub = parse_unary(ps);
	ps->depth--;
	if (!sub)
		return NULL;
	if (t.t == TK_MINUS && sub->k == EX_INT) {
		sub->i = -sub->i;
		return sub;
	}
	e = mk(ps, t.t == TK_NOT ? EX_NOT : EX_NEG, &t);
	if (e)
		e->l = sub;
	return e;
}

static int prec(enum scr_tok t)
{
	switch (t) {
	case TK_OR: return 1;
	case TK_AND: return 2;
	case TK_EQ: case TK_NE: case TK_LT: case TK_GT: case TK_LE: case TK_GE:
	case TK_MATCH: case TK_NMATCH: return 3;
	case TK_BOR: return 4;
	case TK_BAND: return 5;
	case TK_PLUS: case TK_MINUS: return 6;
	case TK_MUL: case TK_DIV: case TK_MOD: return 7;
	default: return 0;
	}
}

/* precedence climbing, left associative */
static struct scr_expr *parse_bin(struct parser *ps, int minp)
{
	struct scr_expr *l;

	if (++ps->depth > MAX_DEPTH) {
		scr_diag(ps->d, ps->tok.line, ps->tok.col, "expression nested too deeply");
		return NULL;
	}
	l = parse_unary(ps);
	while (l && prec(ps->tok.t) >= minp) {
		struct scr_token op = ps->tok;
		struct scr_expr *r, *e;

		next(ps);
		r = parse_bin(ps, prec(op.t) + 1);
		if (!r) {
			l = NULL;
			break;
		}
		e = mk(ps, EX_BIN, &op);
		if (!e) {
			l = NULL;
			break;
		}
		e->op = op.t;
		e->l = l;
		e->r = r;
		l = e;
	}
	ps->depth--;
	return l;
}

static struct scr_expr *parse_expr(struct parser *ps)
{
	return parse_bin(ps, 1);
}

/* ---- statements */

static struct scr_stmt *parse_stmt(struct parser *ps);

static struct scr_stmt *mks(struct parser *ps, enum scr_stmt_kind k, const struct scr_token *t)
{
	struct scr_stmt *s = node(ps, sizeof(*s));

	if (s) {
		s->k = k;
		s->line = t->line;
		s->col = t->col;
	}
	return s;
}

/* a simple statement's ';': when missing, say so where it belongs and go on */
static void end_simple(struct parser *ps)
{
	if (ps->tok.t == TK_SEMI) {
		next(ps);
		return;
	}
	if (ps->tok.t == TK_EOF)
		scr_diag(ps->d, ps->prev.eline, ps->prev.ecol, "missing ';' at end of file");
	else if (ps->tok.t != TK_ERR)
		scr_diag(ps->d, ps->prev.eline, ps->prev.ecol, "missing ';' before '%.*s'",
			 SY_FMT(ps->tok.text));
}

/* statements up to '}' (not consumed) or end of file */
static struct scr_stmt *parse_list(struct parser *ps, int in_switch)
{
	struct scr_stmt *head = NULL, **tail = &head;

	while (ps->tok.t != TK_RBRACE && ps->tok.t != TK_EOF) {
		size_t pos = ps->lx.pos;
		struct scr_stmt *s;

		if (in_switch && (is_kw(&ps->tok, "case") || is_kw(&ps->tok, "default"))) {
			struct scr_token t = ps->tok;

			s = mks(ps, is_kw(&t, "case") ? ST_CASE : ST_DEFAULT, &t);
			next(ps);
			if (s && s->k == ST_CASE) {
				s->e = parse_unary(ps);
				if (s->e && s->e->k != EX_INT && s->e->k != EX_STR) {
					scr_diag(ps->d, s->e->line, s->e->col,
						 "case label must be a constant");
					s->e = NULL;
				}
				if (!s->e)
					s = NULL;
			}
			if (s && expect(ps, TK_COLON))
				s = NULL;
			if (!s)
				sync_stmt(ps);
		} else {
			s = parse_stmt(ps);
		}
		if (s) {
			*tail = s;
			tail = &s->next;
		}
		if (ps->lx.pos == pos && ps->tok.t != TK_RBRACE && ps->tok.t != TK_EOF)
			next(ps);	/* always make progress */
		if (ps->d->nerr >= SCR_MAX_ERRORS)
			break;
	}
	return head;
}

static struct scr_stmt *parse_block(struct parser *ps, int in_switch)
{
	struct scr_token t = ps->tok;
	struct scr_stmt *s;

	if (expect(ps, TK_LBRACE))
		return NULL;
	if (++ps->depth > MAX_DEPTH) {
		scr_diag(ps->d, t.line, t.col, "blocks nested too deeply");
		return NULL;
	}
	s = mks(ps, ST_BLOCK, &t);
	if (s)
		s->body = parse_list(ps, in_switch);
	ps->depth--;
	if (ps->tok.t != TK_RBRACE) {
		/* keep what was parsed so the compiler still reports its name errors */
		scr_diag(ps->d, t.line, t.col, "unclosed '{'");
		return s;
	}
	next(ps);
	return s;
}

static struct scr_stmt *parse_body(struct parser *ps)
{
	if (ps->tok.t == TK_LBRACE)
		return parse_block(ps, 0);
	if (++ps->depth > MAX_DEPTH) {
		scr_diag(ps->d, ps->tok.line, ps->tok.col, "statements nested too deeply");
		return NULL;
	}
	struct scr_stmt *s = parse_stmt(ps);

	ps->depth--;
	return s;
}

static struct scr_expr *paren_cond(struct parser *ps)
{
	struct scr_expr *e;

	if (expect(ps, TK_LPAREN))
		return NULL;
	e = parse_expr(ps);
	if (!e || expect(ps, TK_RPAREN))
		return NULL;
	return e;
}

static struct scr_stmt *parse_stmt_inner(struct parser *ps)
{
	struct scr_token t = ps->tok;
	struct scr_stmt *s;

	if (t.t == TK_SEMI) {
		next(ps);
		return NULL;	/* empty statement */
	}
	if (t.t == TK_LBRACE)
		return parse_block(ps, 0);
	if (is_kw(&t, "if")) {
		next(ps);
		s = mks(ps, ST_IF, &t);
		if (!s || !(s->e = paren_cond(ps)))
			return NULL;
		s->body = parse_body(ps);
		if (is_kw(&ps->tok, "else")) {
			next(ps);
			s->alt = parse_body(ps);
		}
		return s;
	}
	if (is_kw(&t, "while")) {
		next(ps);
		s = mks(ps, ST_WHILE, &t);
		if (!s || !(s->e = paren_cond(ps)))
			return NULL;
		s->body = parse_body(ps);
		return s;
	}
	if (is_kw(&t, "switch")) {
		next(ps);
		s = mks(ps, ST_SWITCH, &t);
		if (!s || !(s->e = paren_cond(ps)))
			return NULL;
		struct scr_stmt *b = parse_block(ps, 1);

		if (!b)
			return NULL;
		s->body = b->body;
		return s;
	}
	if (is_kw(&t, "else")) {
		scr_diag(ps->d, t.line, t.col, "'else' without 'if'");
		return NULL;
	}
	if (is_kw(&t, "break") || is_kw(&t, "drop") || is_kw(&t, "exit")) {
		next(ps);
		s = mks(ps, is_kw(&t, "break") ? ST_BREAK : is_kw(&t, "drop") ? ST_DROP : ST_EXIT,
			&t);
		if (s && s->k != ST_BREAK && ps->tok.t == TK_LPAREN) {
			next(ps);	/* exit() / drop() */
			if (expect(ps, TK_RPAREN))
				return NULL;
		}
		end_simple(ps);
		return s;
	}
	if (is_kw(&t, "return")) {
		next(ps);
		s = mks(ps, ST_RETURN, &t);
		if (!s)
			return NULL;
		if (ps->tok.t == TK_LPAREN) {
			next(ps);
			if (ps->tok.t != TK_RPAREN && !(s->e = parse_expr(ps)))
				return NULL;
			if (expect(ps, TK_RPAREN))
				return NULL;
		}
		end_simple(ps);
		return s;
	}
	if (t.t == TK_PVAR) {
		/* assignment, or a pvar used as an expression statement (rare, harmless) */
		struct scr_pvar *pv;

		next(ps);
		if (ps->tok.t != TK_ASSIGN && ps->tok.t != TK_OPASSIGN) {
			err_tok(ps, &ps->tok, "'='");
			return NULL;
		}
		struct scr_token op = ps->tok;

		pv = pvar_of(ps, t.text, t.line, t.col);
		if (!pv)
			return NULL;
		if (!scr_pvar_writable(pv)) {
			scr_diag(ps->d, t.line, t.col, "pseudo-variable '%.*s' is read-only",
				 SY_FMT(t.text));
			return NULL;
		}
		next(ps);
		s = mks(ps, ST_ASSIGN, &t);
		if (!s || !(s->e = parse_expr(ps)))
			return NULL;
		s->pv = pv;
		if (op.t == TK_OPASSIGN) {
			/* $x op= e  ->  $x = $x op e */
			struct scr_expr *l = mk(ps, EX_PVAR, &t), *b = mk(ps, EX_BIN, &op);

			if (!l || !b)
				return NULL;
			l->pv = pv;
			b->op = (enum scr_tok)op.ival;
			b->l = l;
			b->r = s->e;
			s->e = b;
		}
		end_simple(ps);
		return s;
	}
	s = mks(ps, ST_EXPR, &t);
	if (!s || !(s->e = parse_expr(ps)))
		return NULL;
	if (s->e->k == EX_IDENT) {
		/* "t_relay;": a call without parentheses */
		s->e->k = EX_CALL;
	} else if (s->e->k != EX_CALL && s->e->k != EX_ROUTE) {
		scr_diag(ps->d, t.line, t.col, "statement has no effect");
		return NULL;
	}
	end_simple(ps);
	return s;
}

static struct scr_stmt *parse_stmt(struct parser *ps)
{
	unsigned before = ps->d->nerr;
	struct scr_stmt *s = parse_stmt_inner(ps);

	if (!s && ps->d->nerr > before)
		sync_stmt(ps);
	return s;
}

/* ---- top level */

static int route_add(struct parser *ps, unsigned type, sy_str name, const struct scr_token *at,
		     struct scr_route **out)
{
	struct scr_rtable *rt = &ps->p->rt[scr_type_index(type)];
	int main_slot = (type == SCR_ROUTE_REQUEST || type == SCR_ROUTE_ONREPLY);

	/* route[0] / route{} are the same main route */
	if (main_slot && sy_str_eq(name, SY_STR("0")))
		name = SY_NULL_STR;
	for (unsigned i = 0; i < rt->n; i++) {
		if (sy_str_eq(rt->r[i].name, name) && (rt->r[i].line || rt->r[i].body)) {
			scr_diag(ps->d, at->line, at->col,
				 "%s%s%.*s%s already defined at line %u", scr_type_name(type),
				 name.len ? "[" : "", SY_FMT(name), name.len ? "]" : "",
				 rt->r[i].line);
			return EEXIST;
		}
	}
	if (rt->n == rt->cap) {
		unsigned cap = rt->cap ? rt->cap * 2 : 8;
		struct scr_route *r = scr_pool_alloc(&ps->p->pool, cap * sizeof(*r));

		if (!r) {
			scr_diag(ps->d, at->line, at->col, "out of memory");
			return ENOMEM;
		}
		if (rt->n)
			memcpy(r, rt->r, rt->n * sizeof(*r));
		rt->r = r;
		rt->cap = cap;
	}
	/* the main route keeps index 0 */
	if (main_slot && rt->n == 0) {
		rt->n = 1;
		memset(&rt->r[0], 0, sizeof(rt->r[0]));
	}
	struct scr_route *r;

	if (main_slot && name.len == 0) {
		r = &rt->r[0];
	} else {
		r = &rt->r[rt->n++];
		memset(r, 0, sizeof(*r));
	}
	r->name = name;
	r->line = at->line;
	r->col = at->col;
	*out = r;
	return 0;
}

static const struct {
	const char *kw;
	unsigned type;
	int named;	/* 0 never, 1 optional, 2 required */
} route_kw[] = {
	{ "route", SCR_ROUTE_REQUEST, 1 },
	{ "request_route", SCR_ROUTE_REQUEST, 0 },
	{ "onreply_route", SCR_ROUTE_ONREPLY, 1 },
	{ "failure_route", SCR_ROUTE_FAILURE, 2 },
	{ "branch_route", SCR_ROUTE_BRANCH, 2 },
	{ "local_route", SCR_ROUTE_LOCAL, 0 },
	{ "startup_route", SCR_ROUTE_STARTUP, 0 },
	{ "timer_route", SCR_ROUTE_TIMER, 2 },
};

static void parse_route_block(struct parser *ps, unsigned type, int named)
{
	struct scr_token kw = ps->tok;
	sy_str name = SY_NULL_STR;
	long secs = 0;
	struct scr_route *r = NULL;
	struct scr_stmt *b;

	next(ps);
	if (ps->tok.t == TK_LBRACK) {
		next(ps);
		if (route_name(ps, &name))
			goto bad;
		if (type == SCR_ROUTE_TIMER) {
			if (expect(ps, TK_COMMA))
				goto bad;
			if (ps->tok.t != TK_INT || ps->tok.ival <= 0 || ps->tok.ival > 86400) {
				err_tok(ps, &ps->tok, "an interval in seconds (1..86400)");
				goto bad;
			}
			secs = ps->tok.ival;
			next(ps);
		}
		if (expect(ps, TK_RBRACK))
			goto bad;
		if (!named) {
			scr_diag(ps->d, kw.line, kw.col, "%.*s takes no name", SY_FMT(kw.text));
			goto bad;
		}
	} else if (named == 2) {
		scr_diag(ps->d, kw.line, kw.col, "%.*s needs a name: %.*s[name]",
			 SY_FMT(kw.text), SY_FMT(kw.text));
		goto bad;
	}
	if (route_add(ps, type, name, &kw, &r))
		r = NULL;
	b = parse_block(ps, 0);
	if (r && b) {
		r->body = b->body;
		r->secs = (unsigned)secs;
	}
	return;
bad:
	/* skip to the block and over it */
	while (ps->tok.t != TK_LBRACE && ps->tok.t != TK_EOF)
		next(ps);
	if (ps->tok.t == TK_LBRACE)
		parse_block(ps, 0);
}

static void parse_loadmodule(struct parser *ps)
{
	const struct scr_unit *u;
	sy_str n;

	next(ps);
	if (ps->tok.t != TK_STR) {
		err_tok(ps, &ps->tok, "a module file name (\"name.so\")");
		sync_stmt(ps);
		return;
	}
	n = ps->tok.sval;
	/* "path/to/name.so" -> "name" */
	for (size_t i = n.len; i > 0; i--) {
		if (n.s[i - 1] == '/') {
			n.s += i;
			n.len -= i;
			break;
		}
	}
	if (n.len > 3 && memcmp(n.s + n.len - 3, ".so", 3) == 0)
		n.len -= 3;
	u = scr_find_unit(n);
	if (!u) {
		scr_diag(ps->d, ps->tok.line, ps->tok.col, "unknown module '%.*s'", SY_FMT(n));
	} else if (!scr_unit_loaded(ps->p, u->name)) {
		if (ps->p->nloaded < SCR_MAX_UNITS)
			ps->p->loaded[ps->p->nloaded++] = u;
	}
	next(ps);
	if (ps->tok.t == TK_SEMI)
		next(ps);
}

static void parse_modparam(struct parser *ps)
{
	struct scr_token ut, nt, vt;
	const struct scr_unit *u;
	const struct scr_modparam *mp;
	struct scr_arg a;
	const char *emsg = NULL;

	next(ps);
	if (expect(ps, TK_LPAREN))
		goto bad;
	ut = ps->tok;
	if (expect(ps, TK_STR) || expect(ps, TK_COMMA))
		goto bad;
	nt = ps->tok;
	if (expect(ps, TK_STR) || expect(ps, TK_COMMA))
		goto bad;
	vt = ps->tok;
	if (vt.t == TK_MINUS) {
		next(ps);
		if (ps->tok.t != TK_INT) {
			err_tok(ps, &ps->tok, "an integer");
			goto bad;
		}
		vt = ps->tok;
		vt.ival = -vt.ival;
	}
	if (vt.t != TK_STR && vt.t != TK_INT) {
		err_tok(ps, &vt, "a string or integer value");
		goto bad;
	}
	next(ps);
	if (expect(ps, TK_RPAREN))
		goto bad;
	if (ps->tok.t == TK_SEMI)
		next(ps);

	u = scr_find_unit(ut.sval);
	if (!u) {
		scr_diag(ps->d, ut.line, ut.col, "unknown module '%.*s'", SY_FMT(ut.sval));
		return;
	}
	if (!scr_unit_loaded(ps->p, u->name)) {
		scr_diag(ps->d, ut.line, ut.col, "modparam for module '%s' that is not loaded",
			 u->name);
		return;
	}
	for (mp = u->params; mp && mp->name; mp++)
		if (sy_str_eq(nt.sval, sy_cstr(mp->name)))
			break;
	if (!mp || !mp->name) {
		scr_diag(ps->d, nt.line, nt.col, "unknown parameter '%.*s' of module '%s'",
			 SY_FMT(nt.sval), u->name);
		return;
	}
	memset(&a, 0, sizeof(a));
	a.given = 1;
	if (mp->type == SCR_PARAM_INT) {
		if (vt.t == TK_INT) {
			a.i = vt.ival;
		} else {
			char *end;
			char *tmp = scr_pool_strdup(&ps->p->pool, vt.sval.s, vt.sval.len);

			if (!tmp || !vt.sval.len || (a.i = strtol(tmp, &end, 10), *end)) {
				scr_diag(ps->d, vt.line, vt.col,
					 "parameter '%s' of module '%s' must be an integer",
					 mp->name, u->name);
				return;
			}
		}
		a.s = vt.text;
	} else {
		if (vt.t != TK_STR) {
			scr_diag(ps->d, vt.line, vt.col,
				 "parameter '%s' of module '%s' must be a string", mp->name,
				 u->name);
			return;
		}
		/* NUL-terminated copy that lives as long as the program */
		a.s.s = scr_pool_strdup(&ps->p->pool, vt.sval.s, vt.sval.len);
		a.s.len = vt.sval.len;
		if (!a.s.s)
			return;
	}
	if (mp->set && mp->set(&a, &emsg))
		scr_diag(ps->d, vt.line, vt.col, "parameter '%s' of module '%s': %s", mp->name,
			 u->name, emsg ? emsg : "invalid value");
	return;
bad:
	sync_stmt(ps);
}

/* "udp:127.0.0.1:5060", "tcp:[::1]", "127.0.0.1:5080", "example.com" */
static int parse_sockspec(struct parser *ps, sy_str v, int need_proto, struct scr_listen *l)
{
	static const struct {
		const char *n;
		enum sy_proto p;
	} protos[] = {
		{ "udp", SY_PROTO_UDP }, { "tcp", SY_PROTO_TCP }, { "tls", SY_PROTO_TLS },
		{ "ws", SY_PROTO_WS }, { "wss", SY_PROTO_WSS },
	};
	const char *c = memchr(v.s, ':', v.len);

	memset(l, 0, sizeof(*l));
	l->proto = need_proto ? SY_PROTO_UDP : SY_PROTO_NONE;
	if (c && v.s[0] != '[') {
		sy_str pn = sy_str_make(v.s, (size_t)(c - v.s));

		for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
			if (sy_str_caseeq_c(pn, protos[i].n)) {
				l->proto = protos[i].p;
				v.s = c + 1;
				v.len -= pn.len + 1;
				break;
			}
		}
	}
	if (v.len == 0)
		return EINVAL;
	if (v.s[0] == '[') {
		const char *rb = memchr(v.s, ']', v.len);

		if (!rb)
			return EINVAL;
		l->host = sy_str_make(v.s, (size_t)(rb - v.s) + 1);
	} else {
		const char *pc = memchr(v.s, ':', v.len);

		l->host = sy_str_make(v.s, pc ? (size_t)(pc - v.s) : v.len);
	}
	if (l->host.len == 0)
		return EINVAL;
	for (size_t i = 0; i < l->host.len; i++) {
		char ch = l->host.s[i];

		if (ch == ' ' || ch == '\t' || (ch == ':' && l->host.s[0] != '['))
			return EINVAL;
	}
	if (l->host.len < v.len) {
		sy_str ps_ = sy_str_make(l->host.s + l->host.len, v.len - l->host.len);
		long port = 0;

		if (ps_.s[0] != ':' || ps_.len < 2 || ps_.len > 6)
			return EINVAL;
		for (size_t i = 1; i < ps_.len; i++) {
			if (ps_.s[i] < '0' || ps_.s[i] > '9')
				return EINVAL;
			port = port * 10 + (ps_.s[i] - '0');
		}
		if (port < 1 || port > 65535)
			return EINVAL;
		l->port = (unsigned)port;
	}
	l->host.s = scr_pool_strdup(&ps->p->pool, l->host.s, l->host.len);
	return l->host.s ? 0 : ENOMEM;
}

enum gtype { G_INT, G_BOOL, G_STR, G_LISTEN, G_ALIAS };
/* integer globals carry their valid range (min < max): a value outside it is a load error at
 * its file:line:col, never a start-up that fails silently or a counter that wraps */
static const struct {
	const char *name;
	enum gtype t;
	long min, max;
} globals[] = {
	{ "listen", G_LISTEN, 0, 0 }, { "socket", G_LISTEN, 0, 0 }, { "alias", G_ALIAS, 0, 0 },
	/* sy_workers_start() takes 1..256 threads */
	{ "children", G_INT, 1, 256 }, { "workers", G_INT, 1, 256 },
	{ "udp_workers", G_INT, 1, 256 }, { "tcp_workers", G_INT, 1, 256 },
	{ "tcp_children", G_INT, 1, 256 },
	/* OpenSIPS numbering: -3 (ALERT) .. 4 (DBG) */
	{ "log_level", G_INT, -3, 4 }, { "xlog_level", G_INT, -3, 4 },
	{ "port", G_INT, 1, 65535 }, { "debug_mode", G_BOOL, 0, 0 },
	{ "log_stderror", G_BOOL, 0, 0 }, { "stderror_enabled", G_BOOL, 0, 0 },
	{ "syslog_enabled", G_BOOL, 0, 0 }, { "auto_aliases", G_BOOL, 0, 0 },
	{ "dns", G_BOOL, 0, 0 }, { "rev_dns", G_BOOL, 0, 0 },
	{ "server_signature", G_BOOL, 0, 0 }, { "log_facility", G_STR, 0, 0 },
	{ "syslog_facility", G_STR, 0, 0 }, { "log_name", G_STR, 0, 0 },
	{ "mpath", G_STR, 0, 0 }, { "server_header", G_STR, 0, 0 },
	{ "user_agent_header", G_STR, 0, 0 },
	/* seconds, turned into unsigned milliseconds by main */
	{ "tcp_connection_lifetime", G_INT, 1, 86400 },
	{ "tcp_max_connections_per_ip", G_INT, 1, 65535 },
};

static void global_set(struct parser *ps, const char *name, int is_int, long i, sy_str s,
		       const struct scr_token *at)
{
	struct scr_prog *p = ps->p;
	unsigned k;

	for (k = 0; k < p->nglobals; k++)
		if (strcmp(p->globals[k].name, name) == 0)
			break;
	if (k == p->nglobals) {
		if (p->nglobals == SCR_MAX_GLOBALS) {
			scr_diag(ps->d, at->line, at->col, "too many global parameters");
			return;
		}
		p->nglobals++;
	}
	p->globals[k].name = name;
	p->globals[k].is_int = is_int;
	p->globals[k].i = i;
	p->globals[k].s = s;
}

static void parse_global(struct parser *ps)
{
	struct scr_token nt = ps->tok;
	size_t gi;
	unsigned vl, vc;

	for (gi = 0; gi < sizeof(globals) / sizeof(globals[0]); gi++)
		if (is_kw(&nt, globals[gi].name))
			break;
	next(ps);	/* now at '=' */
	if (gi == sizeof(globals) / sizeof(globals[0])) {
		scr_diag(ps->d, nt.line, nt.col, "unknown global parameter '%.*s'",
			 SY_FMT(nt.text));
		sync_stmt(ps);
		return;
	}
	if (globals[gi].t == G_LISTEN || globals[gi].t == G_ALIAS) {
		/* raw rest of line: "udp:127.0.0.1:5060" does not tokenize */
		sy_str v = scr_lex_raw(&ps->lx, &vl, &vc);
		struct scr_listen l;

		next(ps);
		if (ps->tok.t == TK_SEMI)
			next(ps);
		if (globals[gi].t == G_LISTEN && ps->p->nlisten >= SCR_MAX_LISTEN) {
			scr_diag(ps->d, vl, vc, "too many listen sockets (max %d)", SCR_MAX_LISTEN);
			return;
		}
		if (globals[gi].t == G_ALIAS && ps->p->nalias >= SCR_MAX_ALIAS) {
			scr_diag(ps->d, vl, vc, "too many aliases (max %d)", SCR_MAX_ALIAS);
			return;
		}
		if (parse_sockspec(ps, v, globals[gi].t == G_LISTEN, &l)) {
			scr_diag(ps->d, vl, vc, "bad %s value '%.*s' (expected [proto:]host[:port])",
				 globals[gi].name, SY_FMT(v));
			return;
		}
		if (globals[gi].t == G_LISTEN)
			ps->p->listen[ps->p->nlisten++] = l;
		else
			ps->p->alias[ps->p->nalias++] = l;
		return;
	}
	next(ps);	/* past '=' */
	{
		struct scr_token vt = ps->tok, at = ps->tok;	/* at: the '-' of a negative */
		int neg = 0;
		long iv;

		if (vt.t == TK_MINUS) {
			neg = 1;
			next(ps);
			vt = ps->tok;
		}
		switch (globals[gi].t) {
		case G_INT:
			if (vt.t != TK_INT) {
				err_tok(ps, &vt, "an integer");
				sync_stmt(ps);
				return;
			}
			iv = neg ? -vt.ival : vt.ival;
			if (globals[gi].min < globals[gi].max &&
			    (iv < globals[gi].min || iv > globals[gi].max)) {
				scr_diag(ps->d, at.line, at.col, "%s must be %ld..%ld, not %ld",
					 globals[gi].name, globals[gi].min, globals[gi].max, iv);
				sync_stmt(ps);
				return;
			}
			global_set(ps, globals[gi].name, 1, iv, SY_NULL_STR, &nt);
			if (!strcmp(globals[gi].name, "port"))
				ps->p->default_port = vt.ival;
			break;
		case G_BOOL:
			if (vt.t == TK_INT && !neg) {
				global_set(ps, globals[gi].name, 1, vt.ival != 0, SY_NULL_STR, &nt);
			} else if (is_kw(&vt, "yes") || is_kw(&vt, "true") || is_kw(&vt, "on")) {
				global_set(ps, globals[gi].name, 1, 1, SY_NULL_STR, &nt);
			} else if (is_kw(&vt, "no") || is_kw(&vt, "false") || is_kw(&vt, "off")) {
				global_set(ps, globals[gi].name, 1, 0, SY_NULL_STR, &nt);
			} else {
				err_tok(ps, &vt, "yes or no");
				sync_stmt(ps);
				return;
			}
			break;
		default:
			if (vt.t != TK_STR && vt.t != TK_IDENT) {
				err_tok(ps, &vt, "a string");
				sync_stmt(ps);
				return;
			}
			global_set(ps, globals[gi].name, 0, 0,
				   vt.t == TK_STR ? vt.sval : vt.text, &nt);
			break;
		}
		next(ps);
		if (ps->tok.t == TK_SEMI)
			next(ps);
	}
}

void scr_parse(struct scr_prog *p, const char *src, size_t len, struct scr_diag *d)
{
	struct parser ps;

	memset(&ps, 0, sizeof(ps));
	ps.p = p;
	ps.d = d;
	scr_lex_init(&ps.lx, src, len, &p->pool, d);
	next(&ps);
	while (ps.tok.t != TK_EOF && d->nerr < SCR_MAX_ERRORS) {
		size_t pos = ps.lx.pos;
		size_t k;

		if (ps.tok.t == TK_IDENT) {
			for (k = 0; k < sizeof(route_kw) / sizeof(route_kw[0]); k++)
				if (is_kw(&ps.tok, route_kw[k].kw))
					break;
			if (k < sizeof(route_kw) / sizeof(route_kw[0])) {
				parse_route_block(&ps, route_kw[k].type, route_kw[k].named);
				continue;
			}
			if (is_kw(&ps.tok, "error_route") || is_kw(&ps.tok, "event_route") ||
			    is_kw(&ps.tok, "include_file") || is_kw(&ps.tok, "import_file")) {
				/* OpenSIPS constructs with no counterpart here: one clear line,
				 * then skip the block or the statement */
				scr_diag(d, ps.tok.line, ps.tok.col, "'%.*s' is not supported",
					 SY_FMT(ps.tok.text));
				next(&ps);
				while (ps.tok.t != TK_LBRACE && ps.tok.t != TK_EOF &&
				       ps.tok.t != TK_SEMI && ps.tok.t != TK_STR)
					next(&ps);
				if (ps.tok.t == TK_LBRACE)
					parse_block(&ps, 0);
				else if (ps.tok.t != TK_EOF)
					next(&ps);
				if (ps.tok.t == TK_SEMI)
					next(&ps);
				continue;
			}
			if (is_kw(&ps.tok, "loadmodule")) {
				parse_loadmodule(&ps);
				continue;
			}
			if (is_kw(&ps.tok, "modparam")) {
				parse_modparam(&ps);
				continue;
			}
			/* name = value */
			struct scr_lexer save = ps.lx;
			struct scr_diag quiet = { .out = NULL, .file = "" };
			struct scr_token t2;

			save.diag = &quiet;	/* the lookahead must not report twice */
			scr_lex_next(&save, &t2);
			if (t2.t == TK_ASSIGN) {
				parse_global(&ps);
				continue;
			}
			scr_diag(d, ps.tok.line, ps.tok.col, "unexpected '%.*s' at top level",
				 SY_FMT(ps.tok.text));
		} else {
			err_tok(&ps, &ps.tok, "a global parameter, loadmodule, modparam or route");
		}
		sync_stmt(&ps);
		if (ps.tok.t == TK_RBRACE || ps.lx.pos == pos)
			next(&ps);
	}
	/* listen sockets without a port take `port =` or the protocol default */
	for (unsigned i = 0; i < p->nlisten; i++) {
		if (p->listen[i].port)
			continue;
		if (p->default_port)
			p->listen[i].port = (unsigned)p->default_port;
		else
			p->listen[i].port = (p->listen[i].proto == SY_PROTO_TLS ||
					     p->listen[i].proto == SY_PROTO_WSS) ? 5061 : 5060;
	}
}
