/* buf.c: the management thread's output buffer (mgmt.h): HTTP responses, JSON, Prometheus
 * text. It grows by doubling up to a cap, so a huge ul_dump fails as one clear error
 * instead of exhausting memory. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/json.h"
#include "mgmt/mgmt.h"

void mgmt_buf_init(struct mgmt_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void mgmt_buf_free(struct mgmt_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

static int grow(struct mgmt_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->err)
		return b->err;
	if (b->len + need <= b->cap)
		return 0;
	if (b->len + need > b->max) {
		b->err = EMSGSIZE;
		return b->err;
	}
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + need)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	p = realloc(b->s, cap);
	if (!p) {
		b->err = ENOMEM;
		return b->err;
	}
	b->s = p;
	b->cap = cap;
	return 0;
}

void mgmt_buf_put(struct mgmt_buf *b, const char *s, size_t n)
{
	if (n == 0 || grow(b, n))
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
}

void mgmt_buf_puts(struct mgmt_buf *b, const char *s)
{
	mgmt_buf_put(b, s, strlen(s));
}

void mgmt_buf_printf(struct mgmt_buf *b, const char *fmt, ...)
{
	va_list ap;
	char tmp[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		mgmt_buf_put(b, tmp, (size_t)n);
		return;
	}
	if (grow(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void mgmt_buf_json_str(struct mgmt_buf *b, sy_str s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s.s;
	size_t i = 0, run = 0;

	mgmt_buf_put(b, "\"", 1);
	while (i < s.len) {
		unsigned char c = p[i];
		size_t n = c < 0x80 ? 1 : mgmt_utf8_len(p + i, s.len - i);

		if (c >= 0x20 && c != '"' && c != '\\' && n) {
			i += n;
			run += n;
			continue;
		}
		mgmt_buf_put(b, (const char *)p + i - run, run);
		run = 0;
		if (!n) {
			mgmt_buf_puts(b, "\\ufffd");
		} else if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			mgmt_buf_put(b, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			mgmt_buf_put(b, e, 6);
		}
		i++;
	}
	mgmt_buf_put(b, (const char *)p + i - run, run);
	mgmt_buf_put(b, "\"", 1);
}
