/* build.c: the edit list. Changes to a received message are recorded as byte-range
 * replacements against its buffer and spliced in when it is serialised, so forwarding copies
 * the original bytes once and never re-prints header fields (RFC 3261 §16.6 allows only the
 * changes a proxy makes; everything else goes out as it came in). The list stays sorted by
 * offset, stable for equal offsets, so inserts at one place keep the order they were made in.
 * Only m->len bytes are ever copied: trailing octets of a datagram are never forwarded
 * (RFC 3261 §18.3, RFC 4475 §3.1.1.8). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/build.h"
#include "sip/lex.h"

void sip_build_init(struct sip_build *b, const struct sip_msg *m, struct sip_edit *e,
		    unsigned cap)
{
	b->m = m;
	b->e = e;
	b->n = 0;
	b->cap = cap;
	b->clen_buf[0] = '\0';
}

int sip_build_replace(struct sip_build *b, size_t off, size_t del, sy_str ins)
{
	unsigned i;

	if (off > b->m->len || del > b->m->len - off || ins.len > UINT32_MAX)
		return EINVAL;
	if (b->n >= b->cap)
		return ENOSPC;
	for (i = b->n; i > 0 && b->e[i - 1].off > off; i--)
		b->e[i] = b->e[i - 1];
	b->e[i].off = (uint32_t)off;
	b->e[i].del = (uint32_t)del;
	b->e[i].ins = ins;
	b->n++;
	return 0;
}

int sip_build_copy(struct sip_build *dst, const struct sip_build *src)
{
	/* offsets only mean something against the same message or a byte-identical copy of it
	 * (a transaction's own parsed copy of the request) */
	if (dst->m != src->m && dst->m->len != src->m->len)
		return EINVAL;
	if (dst->cap - dst->n < src->n)
		return ENOSPC;
	memcpy(dst->clen_buf, src->clen_buf, sizeof(dst->clen_buf));
	for (unsigned i = 0; i < src->n; i++) {
		sy_str ins = src->e[i].ins;
		/* the Content-Length text lives in the build itself: point at our copy */
		if (ins.s >= src->clen_buf && ins.s < src->clen_buf + sizeof(src->clen_buf))
			ins.s = dst->clen_buf + (ins.s - src->clen_buf);
		int rc = sip_build_replace(dst, src->e[i].off, src->e[i].del, ins);
		if (rc)
			return rc;
	}
	return 0;
}

static size_t off_of(const struct sip_build *b, const char *p)
{
	return (size_t)(p - b->m->buf);
}

int sip_build_set_ruri(struct sip_build *b, sy_str uri)
{
	if (!b->m->is_request || b->m->ruri.len == 0 || uri.len == 0)
		return EINVAL;
	return sip_build_replace(b, off_of(b, b->m->ruri.s), b->m->ruri.len, uri);
}

int sip_build_ruri_edited(const struct sip_build *b)
{
	size_t off;
	unsigned i;

	if (!b->m->is_request || b->m->ruri.len == 0)
		return 0;
	off = off_of(b, b->m->ruri.s);
	for (i = 0; i < b->n; i++)
		if (b->e[i].off == off && b->e[i].del == b->m->ruri.len)
			return 1;
	return 0;
}

int sip_build_append_hdr(struct sip_build *b, sy_str line)
{
	return sip_build_replace(b, b->m->hdr_end, 0, line);
}

int sip_build_prepend_hdr(struct sip_build *b, sy_str line)
{
	size_t off = b->m->nhdr ? off_of(b, b->m->hdr[0].raw.s) : b->m->hdr_end;
	return sip_build_replace(b, off, 0, line);
}

int sip_build_remove_hdr(struct sip_build *b, unsigned idx)
{
	if (idx >= b->m->nhdr)
		return EINVAL;
	const struct sip_hdr *h = &b->m->hdr[idx];
	return sip_build_replace(b, off_of(b, h->raw.s), h->raw.len, SY_NULL_STR);
}

int sip_build_remove_via1(struct sip_build *b)
{
	struct sip_via v;
	sy_str rest;
	int i = b->m->first[SIP_H_VIA];

	if (i < 0)
		return EINVAL;
	const struct sip_hdr *h = &b->m->hdr[i];
	const struct sip_via *v1 = &b->m->via1;
	const char *be = h->body.s + h->body.len;
	if (v1->raw.len && v1->raw.s >= h->body.s && v1->raw.s + v1->raw.len <= be) {
		/* the parser already split off the topmost via-parm (m->via1, always from this
		 * field): what follows it is LWS then the end, or ',' and the next via-parm
		 * (sip_msg_parse checked that), so no second parse of the field is needed */
		const char *p = sip_skip_lws(v1->raw.s + v1->raw.len, be);
		if (p >= be)
			return sip_build_remove_hdr(b, (unsigned)i);
		if (*p != ',')
			return EINVAL;
		p = sip_skip_lws(p + 1, be);
		return sip_build_replace(b, off_of(b, h->body.s), (size_t)(p - h->body.s),
					 SY_NULL_STR);
	}
	if (sip_via_parse(h->body, &v, &rest))
		return EINVAL;
	if (rest.len == 0)
		return sip_build_remove_hdr(b, (unsigned)i);
	/* several via-parms in the field: cut the first one and its comma */
	return sip_build_replace(b, off_of(b, h->body.s), (size_t)(rest.s - h->body.s),
				 SY_NULL_STR);
}

/* is the field at index i already deleted by an edit? */
static int removed(const struct sip_build *b, int i)
{
	size_t off = off_of(b, b->m->hdr[i].raw.s);
	for (unsigned k = 0; k < b->n; k++)
		if (b->e[k].off <= off && off < (size_t)b->e[k].off + b->e[k].del)
			return 1;
	return 0;
}

/* the first field with id that no edit removed, or -1 */
static int live_first(const struct sip_build *b, enum sip_hdr_id id)
{
	int i;
	for (i = sip_hdr_next(b->m, id, 0); i >= 0; i = sip_hdr_next(b->m, id, i + 1))
		if (!removed(b, i))
			return i;
	return -1;
}

int sip_build_set_body(struct sip_build *b, sy_str body, sy_str content_type)
{
	const struct sip_msg *m = b->m;
	int rc, i;

	size_t boff = m->body.s ? off_of(b, m->body.s) : m->hdr_end + 2;
	if (boff > m->len)
		boff = m->len;
	if ((rc = sip_build_replace(b, boff, m->body.len, body)))
		return rc;

	snprintf(b->clen_buf, sizeof(b->clen_buf), "%zu", body.len);
	sy_str clen = sy_cstr(b->clen_buf);
	i = live_first(b, SIP_H_CONTENT_LENGTH);
	if (i >= 0) {
		const struct sip_hdr *h = &m->hdr[i];
		if ((rc = sip_build_replace(b, off_of(b, h->body.s), h->body.len, clen)))
			return rc;
		/* repeats carrying the same value would now disagree with it */
		for (i = sip_hdr_next(m, SIP_H_CONTENT_LENGTH, i + 1); i >= 0;
		     i = sip_hdr_next(m, SIP_H_CONTENT_LENGTH, i + 1))
			if (!removed(b, i) && (rc = sip_build_remove_hdr(b, (unsigned)i)))
				return rc;
	} else {
		if ((rc = sip_build_append_hdr(b, SY_STR("Content-Length: "))) ||
		    (rc = sip_build_append_hdr(b, clen)) ||
		    (rc = sip_build_append_hdr(b, SY_STR("\r\n"))))
			return rc;
	}

	i = live_first(b, SIP_H_CONTENT_TYPE);
	if (content_type.len) {
		if (i >= 0) {
			const struct sip_hdr *h = &m->hdr[i];
			rc = sip_build_replace(b, off_of(b, h->body.s), h->body.len, content_type);
		} else if (!(rc = sip_build_append_hdr(b, SY_STR("Content-Type: "))) &&
			   !(rc = sip_build_append_hdr(b, content_type))) {
			rc = sip_build_append_hdr(b, SY_STR("\r\n"));
		}
		return rc;
	}
	if (body.len == 0) {
		/* no body, no type (RFC 3261 §20.15) */
		for (; i >= 0; i = sip_hdr_next(m, SIP_H_CONTENT_TYPE, i + 1))
			if (!removed(b, i) && (rc = sip_build_remove_hdr(b, (unsigned)i)))
				return rc;
	}
	return 0;
}

/* splice the edits into the original: out NULL only measures. An edit that falls strictly
 * inside bytes an earlier edit deleted (e.g. a Content-Length update inside a removed field)
 * is dropped; edits at the very offset where a deletion starts still insert. */
static size_t walk(const struct sip_build *b, char *out)
{
	const char *src = b->m->buf;
	size_t pos = 0, dstart = 0, w = 0;

	for (unsigned i = 0; i < b->n; i++) {
		const struct sip_edit *e = &b->e[i];
		size_t eend = (size_t)e->off + e->del;
		if (e->off > pos) {
			if (out)
				memcpy(out + w, src + pos, e->off - pos);
			w += e->off - pos;
			pos = e->off;
		}
		if (e->off == pos) {
			dstart = pos;
		} else if (e->off != dstart) {
			if (eend > pos)
				pos = eend;
			continue;
		}
		if (e->ins.len) {
			if (out)
				memcpy(out + w, e->ins.s, e->ins.len);
			w += e->ins.len;
		}
		if (eend > pos)
			pos = eend;
	}
	if (b->m->len > pos) {
		if (out)
			memcpy(out + w, src + pos, b->m->len - pos);
		w += b->m->len - pos;
	}
	return w;
}

size_t sip_build_size(const struct sip_build *b)
{
	return walk(b, NULL);
}

int sip_build_out(const struct sip_build *b, char *out, size_t cap, size_t *outlen)
{
	size_t n = walk(b, NULL);
	if (n > cap)
		return ENOSPC;
	walk(b, out);
	*outlen = n;
	return 0;
}
