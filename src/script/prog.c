/* prog.c: loading a script (file or memory) into a compiled program, and the accessors the
 * rest of the proxy uses: listen sockets, global parameters, aliases for uri==myself, route
 * lookup, unit initialisation. The program is immutable once loaded; workers share it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/internal.h"

#define MAX_SCRIPT (16u << 20)

int scr_type_index(unsigned type_bit)
{
	for (int i = 0; i < SCR_NTYPES; i++)
		if (type_bit == (1u << i))
			return i;
	return 0;
}

const char *scr_type_name(unsigned type_bit)
{
	switch (type_bit) {
	case SCR_ROUTE_REQUEST: return "route";
	case SCR_ROUTE_ONREPLY: return "onreply_route";
	case SCR_ROUTE_FAILURE: return "failure_route";
	case SCR_ROUTE_BRANCH: return "branch_route";
	case SCR_ROUTE_LOCAL: return "local_route";
	case SCR_ROUTE_STARTUP: return "startup_route";
	case SCR_ROUTE_TIMER: return "timer_route";
	default: return "route";
	}
}

void scr_free(struct scr_prog *prog)
{
	if (!prog)
		return;
	scr_pool_free(&prog->pool);
	free(prog);
}

int scr_load_mem(const char *name, const char *text, size_t len, void *err_file,
		 struct scr_prog **prog)
{
	struct scr_diag d = { .out = err_file, .file = name ? name : "<script>" };
	struct scr_prog *p;
	char *src;
	int rc = 0;

	*prog = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		scr_diag(&d, 1, 1, "out of memory");
		return ENOMEM;
	}
	/* the AST slices the source, so the program keeps its own copy */
	src = scr_pool_strdup(&p->pool, text ? text : "", text ? len : 0);
	if (!src) {
		scr_diag(&d, 1, 1, "out of memory");
		rc = ENOMEM;
		goto out;
	}
	p->file = scr_pool_strdup(&p->pool, d.file, strlen(d.file));
	if (!p->file) {
		scr_diag(&d, 1, 1, "out of memory");
		rc = ENOMEM;
		goto out;
	}
	scr_parse(p, src, text ? len : 0, &d);
	/* compile even after parse errors, so name errors show in the same run */
	scr_compile(p, &d);
	if (d.nerr)
		rc = EINVAL;
out:
	scr_diag_flush(&d);
	if (rc) {
		scr_free(p);
		return rc;
	}
	*prog = p;
	return 0;
}

int scr_load(const char *path, void *err_file, struct scr_prog **prog)
{
	struct scr_diag d = { .out = err_file, .file = path };
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*prog = NULL;
	f = fopen(path, "rb");
	if (!f) {
		rc = errno;
		scr_diag(&d, 1, 1, "cannot open: %s", strerror(rc));
		scr_diag_flush(&d);
		return EINVAL;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > MAX_SCRIPT + 1) {
				scr_diag(&d, 1, 1, "file larger than %u bytes", MAX_SCRIPT);
				rc = EINVAL;
				goto out;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				scr_diag(&d, 1, 1, "out of memory");
				rc = ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				scr_diag(&d, 1, 1, "read error");
				rc = EIO;
				goto out;
			}
			break;
		}
	}
	rc = scr_load_mem(path, buf, len, err_file, prog);
out:
	scr_diag_flush(&d);
	free(buf);
	fclose(f);
	return rc;
}

unsigned scr_listen_count(const struct scr_prog *p)
{
	return p ? p->nlisten : 0;
}

const struct scr_listen *scr_listen_get(const struct scr_prog *p, unsigned i)
{
	return p && i < p->nlisten ? &p->listen[i] : NULL;
}

static const struct scr_global *global_find(const struct scr_prog *p, const char *name)
{
	for (unsigned i = 0; p && i < p->nglobals; i++)
		if (strcmp(p->globals[i].name, name) == 0)
			return &p->globals[i];
	return NULL;
}

long scr_global_int(const struct scr_prog *p, const char *name, long dflt)
{
	const struct scr_global *g = global_find(p, name);

	/* OpenSIPS spells the worker count several ways */
	if (!g && strcmp(name, "workers") == 0) {
		g = global_find(p, "children");
		if (!g)
			g = global_find(p, "udp_workers");
	}
	if (!g && strcmp(name, "children") == 0) {
		g = global_find(p, "workers");
		if (!g)
			g = global_find(p, "udp_workers");
	}
	return g && g->is_int ? g->i : dflt;
}

sy_str scr_global_str(const struct scr_prog *p, const char *name)
{
	const struct scr_global *g = global_find(p, name);

	return g && !g->is_int ? g->s : SY_NULL_STR;
}

static int host_match(sy_str a, sy_str b)
{
	/* "[::1]" and "::1" name the same IPv6 host */
	if (a.len > 2 && a.s[0] == '[') {
		a.s++;
		a.len -= 2;
	}
	if (b.len > 2 && b.s[0] == '[') {
		b.s++;
		b.len -= 2;
	}
	return sy_str_caseeq(a, b);
}

int scr_is_myself(const struct scr_prog *p, sy_str host, unsigned port)
{
	if (!p || !host.len)
		return 0;
	for (unsigned i = 0; i < p->nlisten; i++)
		if (host_match(p->listen[i].host, host) && (!port || port == p->listen[i].port))
			return 1;
	for (unsigned i = 0; i < p->nalias; i++)
		if (host_match(p->alias[i].host, host) &&
		    (!port || !p->alias[i].port || port == p->alias[i].port))
			return 1;
	return 0;
}

int scr_route_index(const struct scr_prog *p, enum scr_route_type type, sy_str name)
{
	const struct scr_rtable *rt;

	if (!p)
		return -1;
	rt = &p->rt[scr_type_index(type)];
	for (unsigned i = 0; i < rt->n; i++)
		if ((rt->r[i].line || rt->r[i].body) && sy_str_eq(rt->r[i].name, name))
			return (int)i;
	return -1;
}

int scr_has_route(const struct scr_prog *p, enum scr_route_type type, int idx)
{
	const struct scr_rtable *rt;

	if (!p || idx < 0)
		return 0;
	rt = &p->rt[scr_type_index(type)];
	return (unsigned)idx < rt->n && (rt->r[idx].line || rt->r[idx].body);
}

unsigned scr_route_count(const struct scr_prog *p, enum scr_route_type type)
{
	return p ? p->rt[scr_type_index(type)].n : 0;
}

unsigned scr_avp_count(const struct scr_prog *p)
{
	if (!p)
		return SCR_MAX_VARS;
	return p->navps < SCR_MAX_VARS ? p->navps : SCR_MAX_VARS;
}

void scr_ctx_init(struct scr_ctx *ctx, const struct scr_prog *p)
{
	unsigned nv = p ? (p->nvars < SCR_MAX_VARS ? p->nvars : SCR_MAX_VARS) : SCR_MAX_VARS;
	unsigned na = scr_avp_count(p);

	/* the two arrays sit together; everything before and after them is cleared whole */
	_Static_assert(offsetof(struct scr_ctx, avps) ==
		       offsetof(struct scr_ctx, vars) + sizeof(ctx->vars), "vars, avps adjacent");
	_Static_assert(offsetof(struct scr_ctx, retcode) ==
		       offsetof(struct scr_ctx, avps) + sizeof(ctx->avps), "avps, retcode adjacent");
	memset(ctx, 0, offsetof(struct scr_ctx, vars));
	memset(ctx->vars, 0, nv * sizeof(ctx->vars[0]));
	memset(ctx->avps, 0, na * sizeof(ctx->avps[0]));
	memset(&ctx->retcode, 0, sizeof(*ctx) - offsetof(struct scr_ctx, retcode));
	ctx->prog = p;
}

unsigned scr_timer_secs(const struct scr_prog *p, int idx)
{
	if (!scr_has_route(p, SCR_ROUTE_TIMER, idx))
		return 0;
	return p->rt[scr_type_index(SCR_ROUTE_TIMER)].r[idx].secs;
}

struct const_walk {
	const struct scr_prog *p;
	const char *fn, *pv;
	unsigned argi;
	scr_const_cb cb;
	void *arg;
};

static int walk_expr(const struct const_walk *w, const struct scr_expr *e)
{
	unsigned i;
	int rc;

	if (!e)
		return 0;
	if (e->k == EX_CALL && w->fn && e->fn && strcmp(e->fn->name, w->fn) == 0 &&
	    w->argi < e->nargs && e->cargs && e->cargs[w->argi].k == CA_CONST &&
	    e->cargs[w->argi].a.given && e->cargs[w->argi].a.s.len) {
		const struct scr_expr *a = e->args[w->argi] ? e->args[w->argi] : e;

		if ((rc = w->cb(e->cargs[w->argi].a.s, w->p->file, a->line, a->col, w->arg)))
			return rc;
	}
	if ((rc = walk_expr(w, e->l)) || (rc = walk_expr(w, e->r)))
		return rc;
	for (i = 0; e->k == EX_CALL && i < e->nargs; i++)
		if ((rc = walk_expr(w, e->args[i])))
			return rc;
	return 0;
}

static int walk_stmts(const struct const_walk *w, const struct scr_stmt *s)
{
	int rc;

	for (; s; s = s->next) {
		if (s->k == ST_ASSIGN && !w->fn && w->pv && s->pv && s->e && s->e->k == EX_STR &&
		    sy_str_eq(s->pv->name, sy_cstr(w->pv)) && s->e->s.len &&
		    (rc = w->cb(s->e->s, w->p->file, s->e->line, s->e->col, w->arg)))
			return rc;
		if ((rc = walk_expr(w, s->e)) || (rc = walk_stmts(w, s->body)) ||
		    (rc = walk_stmts(w, s->alt)))
			return rc;
	}
	return 0;
}

int scr_foreach_const(const struct scr_prog *p, const char *fn, unsigned argi, const char *pv,
		      scr_const_cb cb, void *arg)
{
	struct const_walk w = { p, fn, pv, argi, cb, arg };
	unsigned t, i;
	int rc;

	if (!p || !cb)
		return 0;
	for (t = 0; t < SCR_NTYPES; t++)
		for (i = 0; i < p->rt[t].n; i++)
			if ((rc = walk_stmts(&w, p->rt[t].r[i].body)))
				return rc;
	return 0;
}

sy_str scr_route_name(const struct scr_prog *p, enum scr_route_type type, int idx)
{
	if (!scr_has_route(p, type, idx))
		return SY_NULL_STR;
	return p->rt[scr_type_index(type)].r[idx].name;
}

int scr_flag_index(const struct scr_prog *p, sy_str name)
{
	for (unsigned i = 0; p && i < p->nflags; i++)
		if (sy_str_eq(p->flag_names[i], name))
			return (int)i;
	return -1;
}

int scr_units_init(const struct scr_prog *p)
{
	for (const struct scr_unit *const *u = scr_units; *u; u++) {
		int rc;

		if (!(*u)->init || !scr_unit_loaded(p, (*u)->name))
			continue;
		rc = (*u)->init();
		if (rc)
			return rc;
	}
	return 0;
}
