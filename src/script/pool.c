/* pool.c: load-time memory of a compiled script. The AST, strings and regexes built while
 * loading come from chunks owned by the program and are released together by scr_free(), so a
 * load that fails half way leaks nothing. Also the diagnostics printer. Never used per message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "script/internal.h"

#define CHUNK_SIZE 16384

struct scr_chunk {
	struct scr_chunk *next;
	size_t cap, used;
	max_align_t data[];
};

struct scr_rx {
	struct scr_rx *next;
	int compiled;
	regex_t re;
};

void *scr_pool_alloc(struct scr_pool *p, size_t n)
{
	struct scr_chunk *c = p->head;
	size_t off;

	n = (n + 15u) & ~(size_t)15u;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = p->head;
		p->head = c;
	}
	off = c->used;
	c->used += n;
	memset((char *)c->data + off, 0, n);
	return (char *)c->data + off;
}

char *scr_pool_strdup(struct scr_pool *p, const char *s, size_t len)
{
	char *d = scr_pool_alloc(p, len + 1);

	if (!d)
		return NULL;
	if (len)
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

regex_t *scr_pool_regex(struct scr_pool *p)
{
	struct scr_rx *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->next = p->rx;
	p->rx = x;
	return &x->re;
}

void scr_pool_regex_ok(struct scr_pool *p, regex_t *r)
{
	struct scr_rx *x;

	for (x = p->rx; x; x = x->next)
		if (&x->re == r)
			x->compiled = 1;
}

void scr_pool_free(struct scr_pool *p)
{
	struct scr_chunk *c, *cn;
	struct scr_rx *x, *xn;

	for (x = p->rx; x; x = xn) {
		xn = x->next;
		if (x->compiled)
			regfree(&x->re);
		free(x);
	}
	for (c = p->head; c; c = cn) {
		cn = c->next;
		free(c);
	}
	p->head = NULL;
	p->rx = NULL;
}

struct scr_dmsg {
	unsigned line, col, seq;
	char *text;
};

void scr_diag(struct scr_diag *d, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;
	char buf[512];
	struct scr_dmsg *m;

	d->nerr++;
	if (!d->out || d->nerr > SCR_MAX_ERRORS)
		return;
	if (d->nerr == SCR_MAX_ERRORS) {
		d->over_line = line;
		d->over_col = col;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		unsigned cap = d->cap ? d->cap * 2 : 16;
		struct scr_dmsg *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			goto direct;
		d->v = v;
		d->cap = cap;
	}
	m = &d->v[d->n];
	m->text = strdup(buf);
	if (!m->text)
		goto direct;
	m->line = line;
	m->col = col;
	m->seq = d->n++;
	return;
direct:
	/* no memory to hold it: print it now, out of order but not lost */
	fprintf(d->out, "%s:%u:%u: %s\n", d->file, line, col, buf);
}

static int dmsg_cmp(const void *a, const void *b)
{
	const struct scr_dmsg *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void scr_diag_flush(struct scr_diag *d)
{
	if (d->n)
		qsort(d->v, d->n, sizeof(*d->v), dmsg_cmp);
	for (unsigned i = 0; i < d->n; i++) {
		fprintf(d->out, "%s:%u:%u: %s\n", d->file, d->v[i].line, d->v[i].col,
			d->v[i].text);
		free(d->v[i].text);
	}
	if (d->over_line && d->out)
		fprintf(d->out, "%s:%u:%u: too many errors, giving up reporting\n", d->file,
			d->over_line, d->over_col);
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
	d->over_line = 0;
}
