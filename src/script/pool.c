/* pool.c: load-time memory of a compiled script. The AST, strings and regexes built while
 * loading come from chunks owned by the program and are released together by scr_free(), so a
 * load that fails half way leaks nothing. Never used per message. */
#include <stdlib.h>
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
