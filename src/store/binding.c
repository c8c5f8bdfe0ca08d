/* binding.c: deep copies of a struct store_binding whose string fields must outlive the
 * caller's buffers: the store's write queue (a job copied once per REGISTER) and usrloc's
 * in-memory contacts and arena views use the same layout, the strings packed one after the
 * other behind the struct's owner. Also the binding's encoded form, the value of its field in
 * the Redis hash of its AOR (store/redis.c), written by one node and parsed by the others. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"

size_t store_binding_strs_len(const struct store_binding *b)
{
	return b->aor.len + b->contact.len + b->received.len + b->path.len + b->callid.len +
	       b->user_agent.len + b->instance.len;
}

static sy_str put_str(char **p, sy_str v)
{
	sy_str r = { *p, v.len };

	if (v.len)
		memcpy(*p, v.s, v.len);
	*p += v.len;
	return r;
}

char *store_binding_copy(struct store_binding *dst, const struct store_binding *src, char *p)
{
	*dst = *src;
	dst->aor = put_str(&p, src->aor);
	dst->contact = put_str(&p, src->contact);
	dst->received = put_str(&p, src->received);
	dst->path = put_str(&p, src->path);
	dst->callid = put_str(&p, src->callid);
	dst->user_agent = put_str(&p, src->user_agent);
	dst->instance = put_str(&p, src->instance);
	return p;
}

/* Encoding, version 1:
 *   "1;" cseq ';' reg_id ';' expires ';' q ';' methods ';' flags ';' proto ';' last_modified ';'
 *   then aor, contact, received, path, callid, user_agent, instance, each "<len>:<bytes>".
 * Numbers in decimal (expires, q, proto, last_modified may be negative). Length prefixes rather
 * than separators: a Path or a User-Agent may hold any byte, ';' and NUL included. */
#define ENC_NUMS 8
#define ENC_STRS 7
#define ENC_NUM_MAX 21		/* "-9223372036854775808" + ';' */

static void enc_fields(const struct store_binding *b, int64_t num[ENC_NUMS], sy_str str[ENC_STRS])
{
	num[0] = b->cseq;
	num[1] = b->reg_id;
	num[2] = b->expires;
	num[3] = b->q;
	num[4] = b->methods;
	num[5] = b->flags;
	num[6] = b->proto;
	num[7] = b->last_modified;
	str[0] = b->aor;
	str[1] = b->contact;
	str[2] = b->received;
	str[3] = b->path;
	str[4] = b->callid;
	str[5] = b->user_agent;
	str[6] = b->instance;
}

size_t store_binding_enc_len(const struct store_binding *b)
{
	return 2 + ENC_NUMS * ENC_NUM_MAX + ENC_STRS * ENC_NUM_MAX + store_binding_strs_len(b);
}

size_t store_binding_encode(const struct store_binding *b, char *buf, size_t cap)
{
	int64_t num[ENC_NUMS];
	sy_str str[ENC_STRS];
	size_t off = 0;
	int i, k;

	enc_fields(b, num, str);
	if (cap < store_binding_enc_len(b))
		return 0;
	buf[off++] = '1';
	buf[off++] = ';';
	for (i = 0; i < ENC_NUMS; i++) {
		k = snprintf(buf + off, cap - off, "%lld;", (long long)num[i]);
		off += (size_t)k;
	}
	for (i = 0; i < ENC_STRS; i++) {
		k = snprintf(buf + off, cap - off, "%zu:", str[i].len);
		off += (size_t)k;
		if (str[i].len)
			memcpy(buf + off, str[i].s, str[i].len);
		off += str[i].len;
	}
	return off;
}

/* a decimal integer in [lo, hi] ended by term; *pp moves past term */
static int dec_num(const char **pp, const char *end, char term, int64_t lo, int64_t hi,
		   int64_t *out)
{
	const char *p = *pp;
	int neg = 0, digits = 0;
	uint64_t v = 0, lim;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
	for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (lim - d) / 10u)
			return EBADMSG;
		v = v * 10u + d;
	}
	if (!digits || digits > 19 || p >= end || *p != term)
		return EBADMSG;
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	if (*out < lo || *out > hi)
		return EBADMSG;
	*pp = p + 1;
	return 0;
}

int store_binding_decode(const char *p, size_t len, struct store_binding *out)
{
	static const struct { int64_t lo, hi; } range[ENC_NUMS] = {
		{ 0, UINT32_MAX }, { 0, UINT32_MAX }, { INT64_MIN, INT64_MAX }, { -1, 1000 },
		{ 0, UINT32_MAX }, { 0, UINT32_MAX }, { 0, 255 }, { INT64_MIN, INT64_MAX },
	};
	const char *end = p + len;
	int64_t num[ENC_NUMS];
	sy_str str[ENC_STRS];
	int i;

	if (!p || len < 2 || p[0] != '1' || p[1] != ';')
		return EBADMSG;
	p += 2;
	for (i = 0; i < ENC_NUMS; i++)
		if (dec_num(&p, end, ';', range[i].lo, range[i].hi, &num[i]) != 0)
			return EBADMSG;
	for (i = 0; i < ENC_STRS; i++) {
		int64_t n;

		if (dec_num(&p, end, ':', 0, INT64_MAX, &n) != 0 || (uint64_t)n > (size_t)(end - p))
			return EBADMSG;
		str[i] = sy_str_make(p, (size_t)n);
		p += n;
	}
	if (p != end)
		return EBADMSG;
	memset(out, 0, sizeof(*out));
	out->cseq = (uint32_t)num[0];
	out->reg_id = (uint32_t)num[1];
	out->expires = num[2];
	out->q = (int)num[3];
	out->methods = (uint32_t)num[4];
	out->flags = (uint32_t)num[5];
	out->proto = (int)num[6];
	out->last_modified = num[7];
	out->aor = str[0];
	out->contact = str[1];
	out->received = str[2];
	out->path = str[3];
	out->callid = str[4];
	out->user_agent = str[5];
	out->instance = str[6];
	out->listen_idx = -1;
	return 0;
}
