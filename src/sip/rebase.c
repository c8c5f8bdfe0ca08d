/* rebase.c: move a parsed message onto a byte-identical copy of its buffer. A transaction
 * keeps its own copy of the request; re-parsing that copy would repeat the whole parse (about
 * a third of a proxied request's cost) to get slices that differ only by where the copy lives.
 * Here every slice that points into the old buffer is shifted by the distance between the two
 * buffers; slices pointing elsewhere (static text, NULL for absent values) are kept. Leaf code. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sip/msg.h"

struct rb {
	uintptr_t lo, span;	/* old buffer [lo, lo + span] (the end itself: empty slices there) */
	const char *nbuf;
};

/* one unsigned compare per slice (about 120 per request): a NULL or a pointer below lo wraps
 * to more than span */
static void rb_str(const struct rb *r, sy_str *s)
{
	uintptr_t d = (uintptr_t)s->s - r->lo;

	if (d <= r->span)
		s->s = r->nbuf + d;
}

static void rb_uri(const struct rb *r, struct sip_uri *u)
{
	sy_str *f[] = { &u->raw, &u->scheme_s, &u->user, &u->password, &u->host, &u->port_s,
			&u->params, &u->headers, &u->transport, &u->user_param, &u->maddr,
			&u->ttl, &u->method, &u->opaque };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		rb_str(r, f[i]);
}

static void rb_nameaddr(const struct rb *r, struct sip_nameaddr *na)
{
	sy_str *f[] = { &na->raw, &na->display, &na->uri_s, &na->params, &na->tag,
			&na->expires, &na->q };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		rb_str(r, f[i]);
	rb_uri(r, &na->uri);
}

int sip_msg_rebase(struct sip_msg *dst, const struct sip_msg *src, const char *nbuf,
		   struct sip_hdr *hdr, unsigned hdr_cap)
{
	struct rb r = { (uintptr_t)src->buf, src->len, nbuf };

	if (!src->buf || !nbuf || !hdr || hdr_cap < src->nhdr)
		return EINVAL;
	memcpy(dst, src, sizeof(*dst));
	dst->buf = nbuf;
	dst->hdr = hdr;
	dst->hdr_cap = hdr_cap;
	memcpy(hdr, src->hdr, src->nhdr * sizeof(*hdr));
	for (unsigned i = 0; i < src->nhdr; i++) {
		rb_str(&r, &hdr[i].name);
		rb_str(&r, &hdr[i].body);
		rb_str(&r, &hdr[i].raw);
	}
	rb_str(&r, &dst->start_line);
	rb_str(&r, &dst->method);
	rb_str(&r, &dst->ruri);
	rb_uri(&r, &dst->ruri_p);
	rb_str(&r, &dst->version);
	rb_str(&r, &dst->reason);
	rb_str(&r, &dst->body);
	{
		struct sip_via *v = &dst->via1;
		sy_str *f[] = { &v->raw, &v->proto, &v->transport, &v->host, &v->params,
				&v->branch, &v->received, &v->maddr, &v->ttl };

		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			rb_str(&r, f[i]);
	}
	rb_nameaddr(&r, &dst->from);
	rb_nameaddr(&r, &dst->to);
	rb_str(&r, &dst->callid);
	rb_str(&r, &dst->cseq_method);
	return 0;
}
