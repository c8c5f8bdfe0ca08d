/* str.h: the string slice every layer passes around.
 * A sy_str points into a buffer someone else owns (the received datagram, the arena, the
 * config); it is never NUL-terminated by contract. Copying is the exception, slicing the rule. */
#ifndef SY_STR_H
#define SY_STR_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct sy_str {
	const char *s;
	size_t len;
} sy_str;

#define SY_STR(lit) ((sy_str){ (lit), sizeof(lit) - 1 })
#define SY_NULL_STR ((sy_str){ NULL, 0 })
/* for printf: printf("%.*s", SY_FMT(x)) */
#define SY_FMT(x) (int)(x).len, (x).s

static inline sy_str sy_str_make(const char *s, size_t len)
{
	sy_str r = { s, len };
	return r;
}

static inline sy_str sy_cstr(const char *s)
{
	sy_str r = { s, s ? strlen(s) : 0 };
	return r;
}

static inline int sy_str_eq(sy_str a, sy_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

static inline int sy_str_caseeq(sy_str a, sy_str b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.s, b.s, a.len) == 0);
}

static inline int sy_str_caseeq_c(sy_str a, const char *c)
{
	return sy_str_caseeq(a, sy_cstr(c));
}

#endif
