/* fmt.h: appending to a bounded buffer without printf, for strings built on every message
 * (Via lines, branches, Max-Forwards, received/rport values). Each call appends when there is
 * room and always advances the length, so one check at the end (len < cap) tells truncation. */
#ifndef PX_FMT_H
#define PX_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/str.h"

struct px_buf {
	char *s;
	size_t len, cap;
};

static inline void px_put(struct px_buf *b, sy_str x)
{
	/* an absent value is (NULL, 0): memcpy must not see its NULL */
	if (x.len && b->len + x.len <= b->cap)
		memcpy(b->s + b->len, x.s, x.len);
	b->len += x.len;
}

static inline void px_puts(struct px_buf *b, const char *c)
{
	px_put(b, sy_cstr(c));
}

static inline void px_put_uint(struct px_buf *b, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do
		tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10u);
	while ((v /= 10u) && n < sizeof(tmp));
	px_put(b, sy_str_make(tmp + sizeof(tmp) - n, n));
}

/* 16 lower-case hex digits */
static inline void px_put_hex64(struct px_buf *b, uint64_t v)
{
	static const char hx[] = "0123456789abcdef";
	char tmp[16];
	int i;

	for (i = 15; i >= 0; i--, v >>= 4)
		tmp[i] = hx[v & 15u];
	px_put(b, sy_str_make(tmp, 16));
}

/* lower-case hex without leading zeros ("%x"); width 8 pads with zeros to 8 digits ("%08x") */
static inline void px_put_hex(struct px_buf *b, uint32_t v, int width)
{
	static const char hx[] = "0123456789abcdef";
	char tmp[8];
	int n = 0;

	do
		tmp[7 - n++] = hx[v & 15u];
	while ((v >>= 4) && n < 8);
	while (n < width && n < 8)
		tmp[7 - n++] = '0';
	px_put(b, sy_str_make(tmp + 8 - n, (size_t)n));
}

/* 1 when everything fitted */
static inline int px_buf_ok(const struct px_buf *b)
{
	return b->len <= b->cap;
}

#endif
