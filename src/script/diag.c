/* diag.c: load-time diagnostics. Every problem found while loading a script becomes one
 * "file:line:col: message" line; they are held and printed sorted by position when the load
 * ends, because the parser and the compiler find them in different orders. At most
 * SCR_MAX_ERRORS are kept, then one notice says reporting stopped. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/internal.h"

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
