/* compile.c: the load-time pass over the parsed AST. Resolves every function against the unit
 * tables (src/mod/units.c), checks argument count and types and compiles the arguments
 * (constants converted once, regexes compiled with regcomp, route references turned into
 * indices, flag names numbered), resolves route(x), and checks route permissions: a function
 * must allow every route type its route runs in, and a route[x] runs in every type of route
 * that reaches it through route(x) calls (computed to a fixpoint). All problems are reported,
 * one line each. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "script/internal.h"

const struct scr_unit *scr_find_unit(sy_str name)
{
	for (const struct scr_unit *const *u = scr_units; *u; u++)
		if (sy_str_eq(name, sy_cstr((*u)->name)))
			return *u;
	return NULL;
}

int scr_unit_loaded(const struct scr_prog *p, const char *unit)
{
	if (strcmp(unit, "core") == 0)
		return 1;
	for (unsigned i = 0; i < p->nloaded; i++)
		if (strcmp(p->loaded[i]->name, unit) == 0)
			return 1;
	return 0;
}

static const struct scr_fn *fn_in(const struct scr_unit *u, sy_str name)
{
	for (const struct scr_fn *f = u->fns; f && f->name; f++)
		if (sy_str_eq(name, sy_cstr(f->name)))
			return f;
	return NULL;
}

const struct scr_fn *scr_find_fn(const struct scr_prog *p, sy_str name,
				 const struct scr_unit **unit)
{
	const struct scr_fn *f;

	for (const struct scr_unit *const *u = scr_units; *u; u++) {
		if (!scr_unit_loaded(p, (*u)->name))
			continue;
		if ((f = fn_in(*u, name))) {
			if (unit)
				*unit = *u;
			return f;
		}
	}
	return NULL;
}

/* a unit that has the function but was not loaded, for a helpful message */
static const struct scr_unit *fn_unit_unloaded(sy_str name)
{
	for (const struct scr_unit *const *u = scr_units; *u; u++)
		if (fn_in(*u, name))
			return *u;
	return NULL;
}

struct site {
	const struct scr_expr *call;
	unsigned type;		/* route type bit of the route it is written in */
	unsigned idx;
};

struct comp {
	struct scr_prog *p;
	struct scr_diag *d;
	unsigned type;		/* current route */
	unsigned idx;
	unsigned loops;		/* enclosing while/switch count */
	struct site *sites;
	unsigned nsites, capsites;
	int oom;
};

static void add_site(struct comp *c, const struct scr_expr *call)
{
	if (c->nsites == c->capsites) {
		unsigned cap = c->capsites ? c->capsites * 2 : 64;
		struct site *s = realloc(c->sites, cap * sizeof(*s));

		if (!s) {
			c->oom = 1;
			return;
		}
		c->sites = s;
		c->capsites = cap;
	}
	c->sites[c->nsites].call = call;
	c->sites[c->nsites].type = c->type;
	c->sites[c->nsites].idx = c->idx;
	c->nsites++;
}

static void add_edge(struct comp *c, unsigned to)
{
	struct scr_route *r = &c->p->rt[scr_type_index(c->type)].r[c->idx];

	for (unsigned i = 0; i < r->ncalls; i++)
		if (r->calls[i] == to)
			return;
	if (r->ncalls == r->capcalls) {
		unsigned cap = r->capcalls ? r->capcalls * 2 : 4;
		unsigned *n = scr_pool_alloc(&c->p->pool, cap * sizeof(*n));

		if (!n) {
			c->oom = 1;
			return;
		}
		if (r->ncalls)
			memcpy(n, r->calls, r->ncalls * sizeof(*n));
		r->calls = n;
		r->capcalls = cap;
	}
	r->calls[r->ncalls++] = to;
}

static int route_lookup(const struct scr_prog *p, unsigned type, sy_str name)
{
	const struct scr_rtable *rt = &p->rt[scr_type_index(type)];

	for (unsigned i = 0; i < rt->n; i++)
		if ((rt->r[i].line || rt->r[i].body) && sy_str_eq(rt->r[i].name, name))
			return (int)i;
	return -1;
}

static int regex_compile(struct comp *c, sy_str pat, unsigned line, unsigned col,
			 regex_t **out)
{
	char *z = scr_pool_strdup(&c->p->pool, pat.s, pat.len);
	regex_t *re = scr_pool_regex(&c->p->pool);
	int rc;

	size_t off;
	const char *why;

	if (!z || !re) {
		c->oom = 1;
		return ENOMEM;
	}
	/* glibc's regcomp would take time and memory exponential in some patterns: refuse them
	 * with the column where they go wrong (regex.c) */
	if (scr_regex_check(pat, SCR_REGEX_MAX_ATOMS, &off, &why)) {
		scr_diag(c->d, line, col, "bad regular expression '%.*s' at offset %zu: %s",
			 SY_FMT(pat), off, why);
		return EINVAL;
	}
	/* OpenSIPS compiles script regexes extended and case-insensitive */
	rc = regcomp(re, z, REG_EXTENDED | REG_NOSUB | REG_ICASE);
	if (rc) {
		char msg[128];

		regerror(rc, re, msg, sizeof(msg));
		scr_diag(c->d, line, col, "bad regular expression '%.*s': %s", SY_FMT(pat), msg);
		return EINVAL;
	}
	scr_pool_regex_ok(&c->p->pool, re);
	*out = re;
	return 0;
}

static int flag_index(struct comp *c, sy_str name)
{
	struct scr_prog *p = c->p;

	for (unsigned i = 0; i < p->nflags; i++)
		if (sy_str_eq(p->flag_names[i], name))
			return (int)i;
	if (p->nflags >= SCR_MAX_FLAGS)
		return -1;
	p->flag_names[p->nflags] = name;
	return (int)p->nflags++;
}

static const char *arg_kind(enum scr_arg_type t)
{
	switch (t) {
	case SCR_ARG_INT: return "an integer";
	case SCR_ARG_REGEX: return "a constant regular expression";
	case SCR_ARG_PVAR: return "a writable pseudo-variable";
	case SCR_ARG_FLAG: return "a flag number or name";
	case SCR_ARG_ROUTE_FAILURE: return "a failure_route name";
	case SCR_ARG_ROUTE_ONREPLY: return "an onreply_route name";
	case SCR_ARG_ROUTE_BRANCH: return "a branch_route name";
	case SCR_ARG_ROUTE: return "a route name";
	default: return "a string";
	}
}

static void walk_expr(struct comp *c, struct scr_expr *e);

static int compile_arg(struct comp *c, const struct scr_expr *call, unsigned i,
		       struct scr_expr *a, struct scr_carg *ca)
{
	enum scr_arg_type t = call->fn->args[i];
	long v;
	char *end;

	ca->type = t;
	ca->k = CA_CONST;
	ca->a.given = 1;
	switch (t) {
	case SCR_ARG_STR:
	case SCR_ARG_STR_OR_INT:
	case SCR_ARG_INT:
		if (a->k == EX_IDENT || a->k == EX_MYSELF)
			goto bad;
		if (a->k == EX_INT) {
			char buf[24];
			int n = snprintf(buf, sizeof(buf), "%ld", a->i);

			ca->a.i = a->i;
			ca->a.s.s = scr_pool_strdup(&c->p->pool, buf, (size_t)n);
			ca->a.s.len = (size_t)n;
			if (!ca->a.s.s)
				c->oom = 1;
			return 0;
		}
		if (a->k == EX_STR || a->k == EX_NULL) {
			ca->a.s = a->k == EX_STR ? a->s : SY_STR("");
			if (t == SCR_ARG_STR)
				return 0;
			char *z = scr_pool_strdup(&c->p->pool, ca->a.s.s, ca->a.s.len);

			if (!z) {
				c->oom = 1;
				return ENOMEM;
			}
			v = strtol(z, &end, 10);
			if (t == SCR_ARG_INT && (!*z || *end))
				goto bad;
			ca->a.i = (!*z || *end) ? 0 : v;
			return 0;
		}
		walk_expr(c, a);
		ca->k = CA_EXPR;
		ca->e = a;
		return 0;
	case SCR_ARG_REGEX:
		if (a->k != EX_STR)
			goto bad;
		ca->a.s = a->s;
		return regex_compile(c, a->s, a->line, a->col, (regex_t **)&ca->a.p);
	case SCR_ARG_PVAR:
		if (a->k != EX_PVAR || !scr_pvar_writable(a->pv))
			goto bad;
		ca->a.p = a->pv;
		ca->a.s = a->pv->name;
		return 0;
	case SCR_ARG_FLAG:
		if (a->k == EX_INT) {
			if (a->i < 0 || a->i >= SCR_MAX_FLAGS) {
				scr_diag(c->d, a->line, a->col, "flag %ld out of range 0..%d", a->i,
					 SCR_MAX_FLAGS - 1);
				return EINVAL;
			}
			ca->a.i = a->i;
			return 0;
		}
		if (a->k != EX_STR && a->k != EX_IDENT)
			goto bad;
		ca->a.s = a->s;
		{
			char *z = scr_pool_strdup(&c->p->pool, a->s.s, a->s.len);

			if (z && *z && (v = strtol(z, &end, 10), !*end)) {
				if (v < 0 || v >= SCR_MAX_FLAGS) {
					scr_diag(c->d, a->line, a->col, "flag %ld out of range 0..%d",
						 v, SCR_MAX_FLAGS - 1);
					return EINVAL;
				}
				ca->a.i = v;
				return 0;
			}
		}
		v = flag_index(c, a->s);
		if (v < 0) {
			scr_diag(c->d, a->line, a->col, "too many flag names (max %d)",
				 SCR_MAX_FLAGS);
			return EINVAL;
		}
		ca->a.i = v;
		return 0;
	case SCR_ARG_ROUTE_FAILURE:
	case SCR_ARG_ROUTE_ONREPLY:
	case SCR_ARG_ROUTE_BRANCH:
	case SCR_ARG_ROUTE: {
		unsigned type = t == SCR_ARG_ROUTE_FAILURE ? SCR_ROUTE_FAILURE :
				t == SCR_ARG_ROUTE_ONREPLY ? SCR_ROUTE_ONREPLY :
				t == SCR_ARG_ROUTE_BRANCH ? SCR_ROUTE_BRANCH : SCR_ROUTE_REQUEST;
		sy_str name;
		int idx;

		if (a->k == EX_STR || a->k == EX_IDENT) {
			name = a->s;
		} else if (a->k == EX_INT) {
			char buf[24];
			int n = snprintf(buf, sizeof(buf), "%ld", a->i);

			name.s = scr_pool_strdup(&c->p->pool, buf, (size_t)n);
			name.len = (size_t)n;
			if (!name.s) {
				c->oom = 1;
				return ENOMEM;
			}
		} else {
			goto bad;
		}
		idx = route_lookup(c->p, type, name);
		if (idx < 0) {
			scr_diag(c->d, a->line, a->col, "%s[%.*s] is not defined",
				 scr_type_name(type), SY_FMT(name));
			return EINVAL;
		}
		if (type == SCR_ROUTE_REQUEST)
			add_edge(c, (unsigned)idx);
		ca->a.s = name;
		ca->a.i = idx;
		return 0;
	}
	case SCR_ARG_NONE:
		break;
	}
bad:
	scr_diag(c->d, a->line, a->col, "argument %u of '%.*s' must be %s", i + 1,
		 SY_FMT(call->s), arg_kind(t));
	return EINVAL;
}

static void compile_call(struct comp *c, struct scr_expr *e)
{
	const struct scr_unit *u;

	e->fn = scr_find_fn(c->p, e->s, &u);
	if (!e->fn) {
		const struct scr_unit *nu = fn_unit_unloaded(e->s);

		if (nu)
			scr_diag(c->d, e->line, e->col,
				 "function '%.*s' needs loadmodule \"%s.so\"", SY_FMT(e->s),
				 nu->name);
		else
			scr_diag(c->d, e->line, e->col, "unknown function '%.*s'", SY_FMT(e->s));
		/* still check what the arguments hold */
		for (unsigned i = 0; i < e->nargs; i++)
			if (e->args[i]->k != EX_IDENT)
				walk_expr(c, e->args[i]);
		return;
	}
	if (e->nargs < e->fn->nmin || e->nargs > e->fn->nmax) {
		if (e->fn->nmin == e->fn->nmax)
			scr_diag(c->d, e->line, e->col, "function '%.*s' takes %u argument%s, got %u",
				 SY_FMT(e->s), e->fn->nmin, e->fn->nmin == 1 ? "" : "s", e->nargs);
		else
			scr_diag(c->d, e->line, e->col,
				 "function '%.*s' takes %u to %u arguments, got %u", SY_FMT(e->s),
				 e->fn->nmin, e->fn->nmax, e->nargs);
		return;
	}
	if (e->nargs) {
		e->cargs = scr_pool_alloc(&c->p->pool, e->nargs * sizeof(*e->cargs));
		if (!e->cargs) {
			c->oom = 1;
			return;
		}
	}
	for (unsigned i = 0; i < e->nargs; i++)
		compile_arg(c, e, i, e->args[i], &e->cargs[i]);
	add_site(c, e);
}

static void walk_expr(struct comp *c, struct scr_expr *e)
{
	int idx;

	switch (e->k) {
	case EX_CALL:
		compile_call(c, e);
		return;
	case EX_ROUTE:
		idx = e->s.len ? route_lookup(c->p, SCR_ROUTE_REQUEST, e->s) : -1;
		if (idx <= 0) {
			scr_diag(c->d, e->line, e->col, "route[%.*s] is not defined", SY_FMT(e->s));
			return;
		}
		e->i = idx;
		add_edge(c, (unsigned)idx);
		return;
	case EX_IDENT:
		scr_diag(c->d, e->line, e->col, "unknown name '%.*s'", SY_FMT(e->s));
		return;
	case EX_MYSELF:
		scr_diag(c->d, e->line, e->col, "'myself' can only be compared with == or !=");
		return;
	case EX_NOT:
	case EX_NEG:
		walk_expr(c, e->l);
		return;
	case EX_BIN:
		break;
	default:
		return;
	}
	if (e->op == TK_EQ || e->op == TK_NE) {
		if (e->l->k == EX_MYSELF && e->r->k == EX_MYSELF) {
			scr_diag(c->d, e->line, e->col, "'myself' compared with itself");
			return;
		}
		if (e->l->k != EX_MYSELF)
			walk_expr(c, e->l);
		if (e->r->k != EX_MYSELF)
			walk_expr(c, e->r);
		return;
	}
	walk_expr(c, e->l);
	if (e->op == TK_MATCH || e->op == TK_NMATCH) {
		if (e->r->k != EX_STR) {
			scr_diag(c->d, e->r->line, e->r->col,
				 "right side of '%s' must be a constant regular expression",
				 e->op == TK_MATCH ? "=~" : "!~");
			return;
		}
		regex_compile(c, e->r->s, e->r->line, e->r->col, &e->rx);
		return;
	}
	walk_expr(c, e->r);
}

static void walk_stmts(struct comp *c, struct scr_stmt *s)
{
	for (; s; s = s->next) {
		switch (s->k) {
		case ST_EXPR:
		case ST_ASSIGN:
		case ST_RETURN:
			if (s->e)
				walk_expr(c, s->e);
			break;
		case ST_IF:
			walk_expr(c, s->e);
			walk_stmts(c, s->body);
			walk_stmts(c, s->alt);
			break;
		case ST_WHILE:
		case ST_SWITCH:
			walk_expr(c, s->e);
			c->loops++;
			walk_stmts(c, s->body);
			c->loops--;
			break;
		case ST_BLOCK:
			walk_stmts(c, s->body);
			break;
		case ST_BREAK:
			if (!c->loops)
				scr_diag(c->d, s->line, s->col, "'break' outside switch or while");
			break;
		default:
			break;
		}
	}
}

static unsigned route_mask(const struct scr_prog *p, unsigned type, unsigned idx)
{
	return type == SCR_ROUTE_REQUEST ? p->rt[0].r[idx].mask : type;
}

void scr_compile(struct scr_prog *p, struct scr_diag *d)
{
	struct comp c;
	struct scr_rtable *req = &p->rt[scr_type_index(SCR_ROUTE_REQUEST)];
	int changed;

	memset(&c, 0, sizeof(c));
	c.p = p;
	c.d = d;
	for (unsigned ti = 0; ti < SCR_NTYPES; ti++) {
		c.type = 1u << ti;
		for (unsigned i = 0; i < p->rt[ti].n; i++) {
			c.idx = i;
			c.loops = 0;
			walk_stmts(&c, p->rt[ti].r[i].body);
		}
	}

	/* which route types each route[x] runs in: its callers', to a fixpoint */
	if (req->n)
		req->r[0].mask = SCR_ROUTE_REQUEST;
	do {
		changed = 0;
		for (unsigned ti = 0; ti < SCR_NTYPES; ti++) {
			unsigned type = 1u << ti;

			for (unsigned i = 0; i < p->rt[ti].n; i++) {
				const struct scr_route *r = &p->rt[ti].r[i];
				unsigned m = route_mask(p, type, i);

				for (unsigned k = 0; k < r->ncalls; k++) {
					struct scr_route *to = &req->r[r->calls[k]];

					if ((to->mask | m) != to->mask) {
						to->mask |= m;
						changed = 1;
					}
				}
			}
		}
	} while (changed);
	for (unsigned i = 1; i < req->n; i++)
		if (!req->r[i].mask)
			req->r[i].mask = SCR_ROUTE_REQUEST;	/* not called: checked as request */

	for (unsigned k = 0; k < c.nsites; k++) {
		const struct site *s = &c.sites[k];
		unsigned m = route_mask(p, s->type, s->idx);
		unsigned bad = m & ~s->call->fn->routes;

		for (unsigned b = 0; b < SCR_NTYPES; b++) {
			unsigned bit = 1u << b;

			if (!(bad & bit))
				continue;
			if (s->type == SCR_ROUTE_REQUEST && s->idx > 0 && bit != SCR_ROUTE_REQUEST)
				scr_diag(d, s->call->line, s->call->col,
					 "function '%.*s' is not allowed in %s (route[%.*s] is "
					 "called from one)", SY_FMT(s->call->s), scr_type_name(bit),
					 SY_FMT(req->r[s->idx].name));
			else
				scr_diag(d, s->call->line, s->call->col,
					 "function '%.*s' is not allowed in %s", SY_FMT(s->call->s),
					 scr_type_name(bit));
		}
	}
	if (c.oom)
		scr_diag(d, 1, 1, "out of memory while compiling");
	free(c.sites);
}
