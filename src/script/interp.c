/* interp.c: the interpreter: scr_run() walks the compiled AST of one route for one message.
 * Runs on every message, so it allocates only from ctx->arena and keeps its state on the stack.
 * OpenSIPS semantics: a function result > 0 is true, < 0 false, 0 stops the script (as exit);
 * return(n) ends the current route with n (return(0) stops the script); route(x) yields the
 * called route's result; while loops are bounded so a bad script cannot hang a worker. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "script/internal.h"

#define WHILE_MAX 10000		/* iterations of one while loop */
#define STEPS_MAX 100000	/* loop iterations + route calls in one scr_run */
#define ROUTE_DEPTH_MAX 64

enum flow { F_NEXT, F_BREAK, F_RETURN, F_STOP };

struct run {
	struct scr_ctx *ctx;
	long last;	/* result of the last function call / route, for return without value */
	long ret;	/* value of return(n) */
	unsigned depth;
	unsigned long steps;
};

sy_str scr_arena_dup(struct scr_ctx *ctx, const char *s, size_t len)
{
	char *d = sy_arena_alloc(ctx->arena, len + 1);

	if (!d) {
		LOG_ERR("script: message arena full (%zu bytes wanted)", len + 1);
		return SY_NULL_STR;
	}
	if (len)
		memcpy(d, s, len);
	d[len] = '\0';
	return sy_str_make(d, len);
}

sy_str scr_int_str(struct scr_ctx *ctx, long v)
{
	/* by hand, not snprintf: every integer used as a string (concatenation, $var in a
	 * header value) comes through here */
	char buf[24];
	size_t n = sizeof(buf);
	unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;

	do
		buf[--n] = (char)('0' + u % 10u);
	while ((u /= 10u) != 0);
	if (v < 0)
		buf[--n] = '-';
	return scr_arena_dup(ctx, buf + n, sizeof(buf) - n);
}

/* a string that is a whole decimal integer (optional '-') */
static int str_int(sy_str s, long *out)
{
	long v = 0;
	size_t i = 0;
	int neg = 0;

	if (s.len && s.s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i >= s.len || s.len - i > 18)
		return EINVAL;
	for (; i < s.len; i++) {
		if (s.s[i] < '0' || s.s[i] > '9')
			return EINVAL;
		v = v * 10 + (s.s[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static int val_int(const struct scr_value *v, long *out)
{
	if (v->is_int) {
		*out = v->i;
		return 0;
	}
	return str_int(v->s, out);
}

static sy_str val_str(struct scr_ctx *ctx, const struct scr_value *v)
{
	return v->is_int ? scr_int_str(ctx, v->i) : v->s;
}

static void mk_int(struct scr_value *v, long i)
{
	v->is_int = 1;
	v->i = i;
	v->s = SY_NULL_STR;
}

/* x + - * y: signed overflow is undefined behaviour (and a sanitizer abort), and operands can
 * come from the message ($hdr, $ct ...): one log line and 0, as for a division by zero */
static long arith(unsigned line, enum scr_tok op, long x, long y)
{
	long r;
	int ovf;

	if (op == TK_PLUS)
		ovf = __builtin_add_overflow(x, y, &r);
	else if (op == TK_MINUS)
		ovf = __builtin_sub_overflow(x, y, &r);
	else
		ovf = __builtin_mul_overflow(x, y, &r);
	if (!ovf)
		return r;
	LOG_ERR("script: line %u: integer overflow", line);
	return 0;
}

static void mk_str(struct scr_value *v, sy_str s)
{
	v->is_int = 0;
	v->i = 0;
	v->s = s;
}

static int run_route(struct run *r, unsigned type, int idx, long *result);

/* --trace output: one line per action, indented by route depth */
static void trace(const struct run *r, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void trace(const struct run *r, unsigned line, unsigned col, const char *fmt, ...)
{
	FILE *f = r->ctx->trace;
	va_list ap;

	fprintf(f, "%*s%u:%u: ", (int)(2 * r->depth), "", line, col);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static void trace_value(FILE *f, const struct scr_value *v)
{
	if (v->is_int)
		fprintf(f, "%ld", v->i);
	else if (!v->s.s)
		fputs("NULL", f);
	else
		fprintf(f, "\"%.*s\"", SY_FMT(v->s));
}
static int eval(struct run *r, const struct scr_expr *e, struct scr_value *out);

static int truth(const struct scr_expr *e, const struct scr_value *v)
{
	if (v->is_int)
		return (e->k == EX_CALL || e->k == EX_ROUTE) ? v->i > 0 : v->i != 0;
	return v->s.len > 0;
}

/* uri == myself: a URI compares by host and port (default 5060/5061), a bare host by host */
static int is_myself(struct scr_ctx *ctx, const struct scr_value *v)
{
	struct sip_uri u;
	sy_str s;

	if (v->is_int || !v->s.len || !ctx->prog)
		return 0;
	s = v->s;
	if (memchr(s.s, ':', s.len) && s.s[0] != '[' && sip_uri_parse(s, &u) == 0 && u.host.len) {
		unsigned port = u.port ? u.port : (u.scheme == SIP_URI_SIPS ? 5061 : 5060);

		return scr_is_myself(ctx->prog, u.host, port);
	}
	return scr_is_myself(ctx->prog, s, 0);
}

static int compare(struct scr_ctx *ctx, enum scr_tok op, const struct scr_value *a,
		   const struct scr_value *b)
{
	long x, y;
	int c;

	if ((a->is_int || b->is_int) && val_int(a, &x) == 0 && val_int(b, &y) == 0) {
		c = x < y ? -1 : x > y;
	} else {
		sy_str s = val_str(ctx, a), t = val_str(ctx, b);
		size_t n = s.len < t.len ? s.len : t.len;

		c = n ? memcmp(s.s, t.s, n) : 0;
		if (c == 0)
			c = s.len < t.len ? -1 : s.len > t.len;
	}
	switch (op) {
	case TK_EQ: return c == 0;
	case TK_NE: return c != 0;
	case TK_LT: return c < 0;
	case TK_GT: return c > 0;
	case TK_LE: return c <= 0;
	default: return c >= 0;
	}
}

static int eval_tpl(struct run *r, const struct scr_expr *e, struct scr_value *out)
{
	struct scr_ctx *ctx = r->ctx;
	sy_str *vals = sy_arena_alloc(ctx->arena, e->nparts * sizeof(*vals));
	size_t total = 0, o = 0;
	char *d;

	mk_str(out, SY_STR(""));
	if (!vals) {
		LOG_ERR("script: message arena full expanding a string");
		return 0;
	}
	for (unsigned i = 0; i < e->nparts; i++) {
		if (e->parts[i].pv) {
			struct scr_value v;

			/* an unset pseudo-variable expands to nothing */
			if (scr_pvar_get(ctx, e->parts[i].pv, &v) == 0)
				vals[i] = val_str(ctx, &v);
			else
				vals[i] = SY_NULL_STR;
		} else {
			vals[i] = e->parts[i].lit;
		}
		total += vals[i].len;
	}
	d = sy_arena_alloc(ctx->arena, total + 1);
	if (!d) {
		LOG_ERR("script: message arena full expanding a string");
		return 0;
	}
	for (unsigned i = 0; i < e->nparts; i++) {
		if (vals[i].len)
			memcpy(d + o, vals[i].s, vals[i].len);
		o += vals[i].len;
	}
	d[o] = '\0';
	mk_str(out, sy_str_make(d, o));
	return 0;
}

static int eval_call(struct run *r, const struct scr_expr *e, struct scr_value *out)
{
	struct scr_ctx *ctx = r->ctx;
	struct scr_arg args[SCR_MAX_ARGS];
	const struct scr_fn *fn = e->fn;
	int ret;

	memset(args, 0, sizeof(args));
	for (unsigned i = 0; i < e->nargs; i++) {
		const struct scr_carg *ca = &e->cargs[i];
		struct scr_value v;

		if (ca->k == CA_CONST) {
			args[i] = ca->a;
			continue;
		}
		if (eval(r, ca->e, &v))
			return 1;
		args[i].given = 1;
		if (ca->type == SCR_ARG_INT) {
			if (val_int(&v, &args[i].i)) {
				LOG_ERR("script: %.*s(): argument %u is not an integer",
					SY_FMT(e->s), i + 1);
				mk_int(out, -1);
				return 0;
			}
		} else {
			args[i].s = val_str(ctx, &v);
			if (!args[i].s.s)
				args[i].s = SY_STR("");
			if (ca->type == SCR_ARG_STR_OR_INT && val_int(&v, &args[i].i))
				args[i].i = 0;
		}
	}
	ret = fn->fn(ctx, args);
	if (ctx->trace) {
		FILE *f = ctx->trace;

		fprintf(f, "%*s%u:%u: %s(", (int)(2 * r->depth), "", e->line, e->col, fn->name);
		for (unsigned i = 0; i < e->nargs; i++) {
			enum scr_arg_type t = e->cargs[i].type;

			if (i)
				fputs(", ", f);
			if (t == SCR_ARG_INT || t == SCR_ARG_FLAG || t == SCR_ARG_ROUTE_FAILURE ||
			    t == SCR_ARG_ROUTE_ONREPLY || t == SCR_ARG_ROUTE_BRANCH ||
			    t == SCR_ARG_ROUTE) {
				if (args[i].s.len)
					fprintf(f, "%.*s", SY_FMT(args[i].s));
				else
					fprintf(f, "%ld", args[i].i);
			} else {
				fprintf(f, "\"%.*s\"", SY_FMT(args[i].s));
			}
		}
		fprintf(f, ") = %d\n", ret);
	}
	mk_int(out, ret);
	r->last = ret;
	ctx->retcode = ret;
	if (ret == 0 || ctx->dropped || ctx->exited) {
		if (!ctx->dropped)
			ctx->exited = 1;
		return 1;
	}
	return 0;
}

static int eval_match(struct run *r, const struct scr_expr *e, const struct scr_value *l)
{
	sy_str s = val_str(r->ctx, l);
	sy_str z;

	if (!s.s)
		s = SY_STR("");
	z = scr_arena_dup(r->ctx, s.s, s.len);	/* regexec wants a C string */
	if (!z.s)
		return 0;
	return regexec(e->rx, z.s, 0, NULL, 0) == 0;
}

/* 0, or 1 when the script must stop (a function returned 0, exit/drop in a called route) */
static int eval(struct run *r, const struct scr_expr *e, struct scr_value *out)
{
	struct scr_value a, b;
	long x, y;

	switch (e->k) {
	case EX_INT:
		mk_int(out, e->i);
		return 0;
	case EX_STR:
	case EX_IDENT:
		mk_str(out, e->s);
		return 0;
	case EX_NULL:
	case EX_MYSELF:
		mk_str(out, SY_NULL_STR);
		return 0;
	case EX_TPL:
		return eval_tpl(r, e, out);
	case EX_PVAR:
		if (scr_pvar_get(r->ctx, e->pv, out))
			mk_str(out, SY_NULL_STR);
		return 0;
	case EX_CALL:
		return eval_call(r, e, out);
	case EX_ROUTE: {
		long res;

		if (run_route(r, SCR_ROUTE_REQUEST, (int)e->i, &res))
			return 1;
		r->last = res;
		r->ctx->retcode = res;
		mk_int(out, res);
		return 0;
	}
	case EX_NOT:
		if (eval(r, e->l, &a))
			return 1;
		mk_int(out, !truth(e->l, &a));
		return 0;
	case EX_NEG:
		if (eval(r, e->l, &a))
			return 1;
		if (val_int(&a, &x) || x == LONG_MIN) {
			if (x == LONG_MIN)
				LOG_ERR("script: line %u: integer overflow", e->line);
			x = 0;
		}
		mk_int(out, -x);
		return 0;
	case EX_BIN:
		break;
	}
	if (e->op == TK_AND || e->op == TK_OR) {
		if (eval(r, e->l, &a))
			return 1;
		int t = truth(e->l, &a);

		if ((e->op == TK_AND && !t) || (e->op == TK_OR && t)) {
			mk_int(out, t);
			return 0;
		}
		if (eval(r, e->r, &b))
			return 1;
		mk_int(out, truth(e->r, &b));
		return 0;
	}
	if (eval(r, e->l, &a))
		return 1;
	if (e->op == TK_MATCH || e->op == TK_NMATCH) {
		int m = eval_match(r, e, &a);

		mk_int(out, e->op == TK_MATCH ? m : !m);
		return 0;
	}
	if ((e->op == TK_EQ || e->op == TK_NE) &&
	    (e->r->k == EX_MYSELF || e->l->k == EX_MYSELF)) {
		if (e->l->k == EX_MYSELF && eval(r, e->r, &a))
			return 1;
		int m = is_myself(r->ctx, &a);

		mk_int(out, e->op == TK_EQ ? m : !m);
		return 0;
	}
	if (eval(r, e->r, &b))
		return 1;
	switch (e->op) {
	case TK_EQ: case TK_NE:
		if (e->r->k == EX_NULL || e->l->k == EX_NULL) {
			/* $x == NULL: unset or empty */
			const struct scr_value *v = e->r->k == EX_NULL ? &a : &b;
			int null = !v->is_int && v->s.len == 0;

			mk_int(out, e->op == TK_EQ ? null : !null);
			return 0;
		}
		/* fall through */
	case TK_LT: case TK_GT: case TK_LE: case TK_GE:
		mk_int(out, compare(r->ctx, e->op, &a, &b));
		return 0;
	case TK_PLUS:
		if (val_int(&a, &x) == 0 && val_int(&b, &y) == 0 && (a.is_int || b.is_int)) {
			mk_int(out, arith(e->line, e->op, x, y));
		} else {
			sy_str s = val_str(r->ctx, &a), t = val_str(r->ctx, &b);
			char *d = sy_arena_alloc(r->ctx->arena, s.len + t.len + 1);

			if (!d) {
				LOG_ERR("script: message arena full concatenating strings");
				mk_str(out, SY_STR(""));
				return 0;
			}
			if (s.len)
				memcpy(d, s.s, s.len);
			if (t.len)
				memcpy(d + s.len, t.s, t.len);
			d[s.len + t.len] = '\0';
			mk_str(out, sy_str_make(d, s.len + t.len));
		}
		return 0;
	default:
		break;
	}
	if (val_int(&a, &x) || val_int(&b, &y)) {
		LOG_ERR("script: line %u: arithmetic on a non-number", e->line);
		mk_int(out, 0);
		return 0;
	}
	switch (e->op) {
	case TK_MINUS: case TK_MUL: mk_int(out, arith(e->line, e->op, x, y)); break;
	case TK_DIV:
		if (y == 0 || (x == LONG_MIN && y == -1)) {
			LOG_ERR("script: line %u: division by zero", e->line);
			mk_int(out, 0);
		} else {
			mk_int(out, x / y);
		}
		break;
	case TK_MOD:
		if (y == 0 || y == -1) {
			if (y == 0)
				LOG_ERR("script: line %u: modulo by zero", e->line);
			mk_int(out, 0);
		} else {
			mk_int(out, x % y);
		}
		break;
	case TK_BOR: mk_int(out, x | y); break;
	case TK_BAND: mk_int(out, x & y); break;
	default: mk_int(out, 0); break;
	}
	return 0;
}

static enum flow exec_list(struct run *r, const struct scr_stmt *s);

static enum flow exec(struct run *r, const struct scr_stmt *s)
{
	struct scr_value v;
	enum flow f;

	switch (s->k) {
	case ST_EXPR:
		return eval(r, s->e, &v) ? F_STOP : F_NEXT;
	case ST_IF:
		if (eval(r, s->e, &v))
			return F_STOP;
		if (r->ctx->trace)
			trace(r, s->line, s->col, "if: %s", truth(s->e, &v) ? "true" : "false");
		if (truth(s->e, &v))
			return s->body ? exec(r, s->body) : F_NEXT;
		return s->alt ? exec(r, s->alt) : F_NEXT;
	case ST_BLOCK:
		return exec_list(r, s->body);
	case ST_WHILE:
		for (unsigned n = 0;; n++) {
			if (n == WHILE_MAX) {
				LOG_ERR("script: line %u: while loop stopped after %d iterations",
					s->line, WHILE_MAX);
				return F_NEXT;
			}
			if (++r->steps > STEPS_MAX) {
				/* nested loops multiply: bound the whole run, not only each loop */
				LOG_ERR("script: line %u: more than %d loop iterations for one "
					"message, script stopped", s->line, STEPS_MAX);
				r->ctx->exited = 1;
				return F_STOP;
			}
			if (eval(r, s->e, &v))
				return F_STOP;
			if (!truth(s->e, &v))
				return F_NEXT;
			f = s->body ? exec(r, s->body) : F_NEXT;
			if (f == F_BREAK)
				return F_NEXT;
			if (f != F_NEXT)
				return f;
		}
	case ST_SWITCH: {
		const struct scr_stmt *c, *start = NULL, *dflt = NULL;

		if (eval(r, s->e, &v))
			return F_STOP;
		for (c = s->body; c && !start; c = c->next) {
			struct scr_value cv;

			if (c->k == ST_DEFAULT && !dflt)
				dflt = c;
			if (c->k != ST_CASE)
				continue;
			if (c->e->k == EX_INT)
				mk_int(&cv, c->e->i);
			else
				mk_str(&cv, c->e->s);
			if (compare(r->ctx, TK_EQ, &v, &cv))
				start = c;
		}
		if (!start)
			start = dflt;
		f = start ? exec_list(r, start) : F_NEXT;
		return f == F_BREAK ? F_NEXT : f;
	}
	case ST_CASE:
	case ST_DEFAULT:
		return F_NEXT;	/* labels: fall through as in C */
	case ST_ASSIGN: {
		int rc;

		if (eval(r, s->e, &v))
			return F_STOP;
		if (r->ctx->trace) {
			fprintf(r->ctx->trace, "%*s%u:%u: %.*s = ", (int)(2 * r->depth), "", s->line,
				s->col, SY_FMT(s->pv->name));
			trace_value(r->ctx->trace, &v);
			fputc('\n', r->ctx->trace);
		}
		rc = scr_pvar_set(r->ctx, s->pv, &v);
		if (rc)
			LOG_ERR("script: line %u: cannot assign %.*s: %s", s->line,
				SY_FMT(s->pv->name), strerror(rc));
		return F_NEXT;
	}
	case ST_RETURN:
		if (s->e) {
			long x;

			if (eval(r, s->e, &v))
				return F_STOP;
			if (val_int(&v, &x))
				x = truth(s->e, &v) ? 1 : -1;
			r->ret = x;
		} else {
			r->ret = 1;
		}
		if (r->ctx->trace)
			trace(r, s->line, s->col, "return(%ld)", r->ret);
		if (r->ret == 0) {
			r->ctx->exited = 1;
			return F_STOP;
		}
		return F_RETURN;
	case ST_EXIT:
		if (r->ctx->trace)
			trace(r, s->line, s->col, "exit");
		r->ctx->exited = 1;
		return F_STOP;
	case ST_DROP:
		if (r->ctx->trace)
			trace(r, s->line, s->col, "drop");
		r->ctx->dropped = 1;
		return F_STOP;
	case ST_BREAK:
		return F_BREAK;
	}
	return F_NEXT;
}

static enum flow exec_list(struct run *r, const struct scr_stmt *s)
{
	for (; s; s = s->next) {
		enum flow f = exec(r, s);

		if (f != F_NEXT)
			return f;
	}
	return F_NEXT;
}

/* 0 with *result, or 1 when the script stopped */
static int run_route(struct run *r, unsigned type, int idx, long *result)
{
	const struct scr_prog *p = r->ctx->prog;
	const struct scr_route *rt = &p->rt[scr_type_index(type)].r[idx];
	enum flow f;

	if (++r->steps > STEPS_MAX) {
		/* route(x) twice in each of k routes runs 2^k times: bound calls like loops */
		LOG_ERR("script: more than %d loop iterations and route calls for one message, "
			"script stopped", STEPS_MAX);
		r->ctx->exited = 1;
		return 1;
	}
	if (r->depth >= ROUTE_DEPTH_MAX) {
		LOG_ERR("script: route calls nested deeper than %d (recursion?), stopping",
			ROUTE_DEPTH_MAX);
		r->ctx->exited = 1;
		return 1;
	}
	if (r->ctx->trace)
		fprintf(r->ctx->trace, "%*s%s%s%.*s%s (%s:%u)\n", (int)(2 * r->depth), "",
			scr_type_name(type), rt->name.len ? "[" : "", SY_FMT(rt->name),
			rt->name.len ? "]" : "", p->file ? p->file : "", rt->line);
	r->depth++;
	r->last = 1;
	f = exec_list(r, rt->body);
	r->depth--;
	if (f == F_STOP)
		return 1;
	*result = f == F_RETURN ? r->ret : r->last;
	return 0;
}

int scr_run(struct scr_ctx *ctx, enum scr_route_type type, int idx)
{
	struct run r;
	long res;

	if (!ctx->prog || !scr_has_route(ctx->prog, type, idx))
		return -1;
	if (!ctx->arena) {
		/* every value the script builds lives there: a caller bug, said once per run */
		LOG_ERR("script: scr_run without a message arena");
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	ctx->route_type = (int)type;
	if (run_route(&r, type, idx, &res))
		return 0;
	return res == 0 ? 1 : (int)(res > INT_MAX ? INT_MAX : res < INT_MIN ? INT_MIN : res);
}
