/* arena.h: per-message bump allocator. Reset when the message is done; nothing in it is freed
 * one by one. The hot path takes its scratch memory from here, never from malloc. */
#ifndef SY_ARENA_H
#define SY_ARENA_H

#include <stddef.h>

struct sy_arena {
	char *base;
	size_t cap;
	size_t used;
};

/* base/cap: memory the caller owns (a worker keeps one block for its whole life) */
static inline void sy_arena_init(struct sy_arena *a, void *base, size_t cap)
{
	a->base = base;
	a->cap = cap;
	a->used = 0;
}

static inline void sy_arena_reset(struct sy_arena *a) { a->used = 0; }

/* 16-byte aligned; NULL when the arena is full (callers answer 500/513, never crash) */
static inline void *sy_arena_alloc(struct sy_arena *a, size_t n)
{
	size_t off = (a->used + 15u) & ~(size_t)15u;
	if (off > a->cap || n > a->cap - off)
		return NULL;
	a->used = off + n;
	return a->base + off;
}

#endif
