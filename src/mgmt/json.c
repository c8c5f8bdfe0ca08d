/* json.c: the parser of json.h. Recursive descent over RFC 8259 §2-§8, one token per value
 * and per object key, depth bounded by MGMT_JSON_MAX_DEPTH so hostile nesting cannot exhaust
 * the stack. Strings are checked in full while tokenizing (escapes, surrogate pairs, UTF-8),
 * so a decode later cannot fail on content. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "mgmt/json.h"

struct jp {
	const char *s;
	size_t len, pos;
	struct mgmt_json_tok *t;
	unsigned cap, n;
};

size_t mgmt_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;	/* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0;	/* UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;	/* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;	/* above U+10FFFF */
		return 4;
	}
	return 0;
}

static void ws(struct jp *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static int hex4(const char *s, unsigned *v)
{
	unsigned i, r = 0;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		r <<= 4;
		if (c >= '0' && c <= '9')
			r |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			r |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			r |= (unsigned)(c - 'A' + 10);
		else
			return EBADMSG;
	}
	*v = r;
	return 0;
}

static struct mgmt_json_tok *tok(struct jp *p, enum mgmt_json_type type, size_t start)
{
	struct mgmt_json_tok *t;

	if (p->n >= p->cap)
		return NULL;
	t = &p->t[p->n++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->raw = sy_str_make(p->s + start, 0);
	return t;
}

/* §7: a string starting at the quote at p->pos */
static int string(struct jp *p)
{
	size_t b = ++p->pos;
	struct mgmt_json_tok *t;
	int esc = 0;

	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c == '"')
			break;
		if (c < 0x20)
			return EBADMSG;
		if (c == '\\') {
			char e;

			esc = 1;
			if (p->pos + 1 >= p->len)
				return EBADMSG;
			e = p->s[p->pos + 1];
			if (e == 'u') {
				unsigned u, lo;

				if (p->pos + 6 > p->len || hex4(p->s + p->pos + 2, &u))
					return EBADMSG;
				p->pos += 6;
				if (u >= 0xdc00 && u <= 0xdfff)
					return EBADMSG;	/* a low surrogate alone */
				if (u >= 0xd800 && u <= 0xdbff) {
					if (p->pos + 6 > p->len || p->s[p->pos] != '\\' ||
					    p->s[p->pos + 1] != 'u' || hex4(p->s + p->pos + 2, &lo) ||
					    lo < 0xdc00 || lo > 0xdfff)
						return EBADMSG;
					p->pos += 6;
				}
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == 0)
				return EBADMSG;
			p->pos += 2;
			continue;
		}
		{
			size_t n = mgmt_utf8_len((const unsigned char *)p->s + p->pos,
						 p->len - p->pos);

			if (!n)
				return EBADMSG;
			p->pos += n;
		}
	}
	if (p->pos >= p->len)
		return EBADMSG;
	t = tok(p, MGMT_JSON_STRING, b);
	if (!t)
		return ENOSPC;
	t->raw.len = p->pos - b;
	t->escaped = esc;
	t->end = p->n;
	p->pos++;
	return 0;
}

/* §6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct jp *p)
{
	size_t b = p->pos, d;
	struct mgmt_json_tok *t;

	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos >= p->len)
		return EBADMSG;
	if (p->s[p->pos] == '0') {
		p->pos++;
	} else if (p->s[p->pos] >= '1' && p->s[p->pos] <= '9') {
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	} else {
		return EBADMSG;
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		d = ++p->pos;
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
		if (p->pos == d)
			return EBADMSG;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		d = p->pos;
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
		if (p->pos == d)
			return EBADMSG;
	}
	t = tok(p, MGMT_JSON_NUMBER, b);
	if (!t)
		return ENOSPC;
	t->raw.len = p->pos - b;
	t->end = p->n;
	return 0;
}

static int literal(struct jp *p, const char *lit, enum mgmt_json_type type)
{
	size_t n = strlen(lit);
	struct mgmt_json_tok *t;

	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
		return EBADMSG;
	t = tok(p, type, p->pos);
	if (!t)
		return ENOSPC;
	t->raw.len = n;
	t->end = p->n;
	p->pos += n;
	return 0;
}

static int value(struct jp *p, unsigned depth);

/* §4 objects and §5 arrays: no trailing comma, no missing value */
static int container(struct jp *p, unsigned depth, int obj)
{
	size_t b = p->pos;
	unsigned self = p->n;
	struct mgmt_json_tok *t;
	char close = obj ? '}' : ']';
	int rc;

	if (depth >= MGMT_JSON_MAX_DEPTH)
		return EBADMSG;
	t = tok(p, obj ? MGMT_JSON_OBJECT : MGMT_JSON_ARRAY, b);
	if (!t)
		return ENOSPC;
	p->pos++;
	ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
	} else {
		for (;;) {
			if (obj) {
				ws(p);
				if (p->pos >= p->len || p->s[p->pos] != '"')
					return EBADMSG;
				if ((rc = string(p)) != 0)
					return rc;
				ws(p);
				if (p->pos >= p->len || p->s[p->pos] != ':')
					return EBADMSG;
				p->pos++;
			}
			if ((rc = value(p, depth + 1)) != 0)
				return rc;
			p->t[self].n++;
			ws(p);
			if (p->pos >= p->len)
				return EBADMSG;
			if (p->s[p->pos] == ',') {
				p->pos++;
				continue;
			}
			if (p->s[p->pos] != close)
				return EBADMSG;
			p->pos++;
			break;
		}
	}
	p->t[self].raw.len = p->pos - b;
	p->t[self].end = p->n;
	return 0;
}

static int value(struct jp *p, unsigned depth)
{
	ws(p);
	if (p->pos >= p->len)
		return EBADMSG;
	switch (p->s[p->pos]) {
	case '{': return container(p, depth, 1);
	case '[': return container(p, depth, 0);
	case '"': return string(p);
	case 't': return literal(p, "true", MGMT_JSON_TRUE);
	case 'f': return literal(p, "false", MGMT_JSON_FALSE);
	case 'n': return literal(p, "null", MGMT_JSON_NULL);
	default: return number(p);
	}
}

int mgmt_json_parse(const char *s, size_t len, struct mgmt_json_tok *t, unsigned cap,
		    unsigned *ntok)
{
	struct jp p = { s, len, 0, t, cap, 0 };
	int rc;

	*ntok = 0;
	rc = value(&p, 0);
	if (rc)
		return rc;
	ws(&p);
	if (p.pos != len)
		return EBADMSG;
	*ntok = p.n;
	return 0;
}

unsigned mgmt_json_next(const struct mgmt_json_tok *t, unsigned i, int in_object)
{
	return in_object ? t[i + 1].end : t[i].end;
}

int mgmt_json_str(const struct mgmt_json_tok *t, char *out, size_t cap, size_t *outlen)
{
	size_t i, o = 0;
	const char *s = t->raw.s;

	if (t->type != MGMT_JSON_STRING)
		return EINVAL;
	for (i = 0; i < t->raw.len;) {
		unsigned u, lo;

		if (s[i] != '\\') {
			if (o >= cap)
				return ENOSPC;
			out[o++] = s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'b': u = '\b'; break;
		case 'f': u = '\f'; break;
		case 'n': u = '\n'; break;
		case 'r': u = '\r'; break;
		case 't': u = '\t'; break;
		case 'u':
			hex4(s + i + 2, &u);	/* checked by the parser */
			if (u >= 0xd800 && u <= 0xdbff) {
				hex4(s + i + 8, &lo);
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			i += 4;
			break;
		default: u = (unsigned char)s[i + 1]; break;	/* " \ / */
		}
		i += 2;
		if (u < 0x80) {
			if (o + 1 > cap)
				return ENOSPC;
			out[o++] = (char)u;
		} else if (u < 0x800) {
			if (o + 2 > cap)
				return ENOSPC;
			out[o++] = (char)(0xc0 | (u >> 6));
			out[o++] = (char)(0x80 | (u & 0x3f));
		} else if (u < 0x10000) {
			if (o + 3 > cap)
				return ENOSPC;
			out[o++] = (char)(0xe0 | (u >> 12));
			out[o++] = (char)(0x80 | ((u >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (u & 0x3f));
		} else {
			if (o + 4 > cap)
				return ENOSPC;
			out[o++] = (char)(0xf0 | (u >> 18));
			out[o++] = (char)(0x80 | ((u >> 12) & 0x3f));
			out[o++] = (char)(0x80 | ((u >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (u & 0x3f));
		}
	}
	*outlen = o;
	return 0;
}

int mgmt_json_get(const struct mgmt_json_tok *t, unsigned obj, const char *key)
{
	size_t klen = strlen(key);
	unsigned i, k;

	if (t[obj].type != MGMT_JSON_OBJECT)
		return -1;
	for (k = 0, i = obj + 1; k < t[obj].n; k++, i = mgmt_json_next(t, i, 1)) {
		char buf[128];
		size_t n;

		if (!t[i].escaped) {
			if (t[i].raw.len == klen && memcmp(t[i].raw.s, key, klen) == 0)
				return (int)(i + 1);
		} else if (mgmt_json_str(&t[i], buf, sizeof(buf), &n) == 0 && n == klen &&
			   memcmp(buf, key, klen) == 0) {
			return (int)(i + 1);
		}
	}
	return -1;
}

int mgmt_json_int(const struct mgmt_json_tok *t, long long *v)
{
	long long r = 0;
	size_t i = 0;
	int neg = 0;

	if (t->type != MGMT_JSON_NUMBER)
		return EINVAL;
	if (t->raw.s[0] == '-') {
		neg = 1;
		i = 1;
	}
	for (; i < t->raw.len; i++) {
		int d = t->raw.s[i] - '0';

		if (d < 0 || d > 9)
			return EINVAL;	/* a fraction or an exponent */
		if (r > (LLONG_MAX - d) / 10)
			return EINVAL;
		r = r * 10 + d;
	}
	*v = neg ? -r : r;
	return 0;
}
