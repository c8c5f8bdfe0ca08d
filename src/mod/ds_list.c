/* ds_list.c: the dispatcher's two small parsers, leaf code (no malloc, no globals, no logging;
 * results are slices of the input): one line of Kamailio's list_file, and the failover record
 * the unit keeps in a transaction $avp. The record can be read back from a script-visible
 * value, so its decoder accepts exactly what the encoder writes and nothing else. Both are
 * fuzzed by tests/fuzz/fuzz_mod_ds_list.c. */
#include <errno.h>
#include <string.h>

#include "mod/dispatcher.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* next blank-separated field of *s, stopping at '#' (comment); empty when none */
static sy_str next_field(sy_str *s)
{
	size_t i = 0, b;

	while (i < s->len && is_blank(s->s[i]))
		i++;
	b = i;
	while (i < s->len && !is_blank(s->s[i]) && s->s[i] != '#')
		i++;
	if (i < s->len && s->s[i] == '#' && i == b) {
		/* a comment: the rest of the line is gone */
		s->s += s->len;
		s->len = 0;
		return sy_str_make(NULL, 0);
	}
	{
		sy_str f = sy_str_make(s->s + b, i - b);

		s->s += i;
		s->len -= i;
		return f;
	}
}

/* unsigned decimal up to max; 0 or EINVAL */
static int parse_uint(sy_str s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (!s.len || s.len > 10)
		return EINVAL;
	for (i = 0; i < s.len; i++) {
		if (s.s[i] < '0' || s.s[i] > '9')
			return EINVAL;
		v = v * 10 + (unsigned long)(s.s[i] - '0');
	}
	if (v > max)
		return EINVAL;
	*out = v;
	return 0;
}

static int parse_int(sy_str s, long lim, long *out)
{
	unsigned long v;
	int neg = s.len && s.s[0] == '-';

	if (neg) {
		s.s++;
		s.len--;
	}
	if (parse_uint(s, (unsigned long)lim, &v))
		return EINVAL;
	*out = neg ? -(long)v : (long)v;
	return 0;
}

/* "weight=N" among ';'-separated attrs (Kamailio); 1 when absent */
static int attrs_weight(sy_str a, unsigned *w)
{
	size_t i = 0;

	*w = 1;
	while (i < a.len) {
		size_t b = i;
		unsigned long v;

		while (i < a.len && a.s[i] != ';')
			i++;
		if (i - b > 7 && strncmp(a.s + b, "weight=", 7) == 0) {
			if (parse_uint(sy_str_make(a.s + b + 7, i - b - 7), 100000, &v))
				return EINVAL;
			*w = (unsigned)v;
		}
		i++;
	}
	return 0;
}

int ds_parse_line(sy_str line, struct ds_line *out, const char **why)
{
	sy_str rest = line, f;
	unsigned long v;
	long p;

	memset(out, 0, sizeof(*out));
	out->weight = 1;
	f = next_field(&rest);
	if (!f.len)
		return ENOENT;
	if (parse_uint(f, 0xffffffffUL, &v)) {
		*why = "set id must be a number";
		return EINVAL;
	}
	out->setid = (unsigned)v;
	out->uri = next_field(&rest);
	if (!out->uri.len) {
		*why = "destination missing after the set id";
		return EINVAL;
	}
	f = next_field(&rest);
	if (f.len) {
		if (parse_uint(f, 0xffff, &v)) {
			*why = "flags must be a number";
			return EINVAL;
		}
		out->flags = (unsigned)v;
		f = next_field(&rest);
	}
	if (f.len) {
		if (parse_int(f, 1000000, &p)) {
			*why = "priority must be an integer";
			return EINVAL;
		}
		out->priority = (int)p;
		f = next_field(&rest);
	}
	if (f.len) {
		out->attrs = f;
		if (attrs_weight(f, &out->weight)) {
			*why = "weight= in the attributes must be 0..100000";
			return EINVAL;
		}
		f = next_field(&rest);
	}
	if (f.len) {
		*why = "too many fields (setid destination flags priority attrs)";
		return EINVAL;
	}
	return 0;
}

/* ---- failover record */

static int put_uint(char *buf, size_t cap, size_t *pos, unsigned v)
{
	char tmp[12];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (cap - *pos < n + 1)
		return ENOSPC;
	while (n)
		buf[(*pos)++] = tmp[--n];
	return 0;
}

int ds_failover_encode(const struct ds_failover *f, char *buf, size_t cap, size_t *len)
{
	size_t pos = 0;
	unsigned i;

	if (f->n > DS_MAX_CAND)
		return ENOSPC;
	if (put_uint(buf, cap, &pos, f->setid))
		return ENOSPC;
	buf[pos++] = ';';
	if (put_uint(buf, cap, &pos, f->flags))
		return ENOSPC;
	buf[pos++] = ';';
	if (put_uint(buf, cap, &pos, f->last))
		return ENOSPC;
	buf[pos++] = ';';
	for (i = 0; i < f->n; i++) {
		if (put_uint(buf, cap, &pos, f->cand[i]))
			return ENOSPC;
		buf[pos++] = ',';
	}
	*len = pos;
	return 0;
}

/* a decimal field ending at sep: 0 and *pos past sep, else EINVAL */
static int get_uint(sy_str s, size_t *pos, char sep, unsigned *out)
{
	size_t b = *pos;
	unsigned long v;

	while (*pos < s.len && s.s[*pos] != sep)
		(*pos)++;
	if (*pos >= s.len || parse_uint(sy_str_make(s.s + b, *pos - b), 0xffffffffUL, &v))
		return EINVAL;
	(*pos)++;
	*out = (unsigned)v;
	return 0;
}

int ds_failover_decode(sy_str s, struct ds_failover *f)
{
	size_t pos = 0;

	memset(f, 0, sizeof(*f));
	if (!s.s || get_uint(s, &pos, ';', &f->setid) || get_uint(s, &pos, ';', &f->flags) ||
	    get_uint(s, &pos, ';', &f->last))
		return EINVAL;
	while (pos < s.len) {
		if (f->n >= DS_MAX_CAND || get_uint(s, &pos, ',', &f->cand[f->n]))
			return EINVAL;
		f->n++;
	}
	return 0;
}
