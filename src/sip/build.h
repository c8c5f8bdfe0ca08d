/* build.h: forwarding and local replies without re-serialising the message field by field.
 * An edit list records byte-range replacements against the original buffer; sip_build_out()
 * copies the original once, splicing the edits in offset order. Edits at the same offset are
 * applied in the order they were added. The edit array is the caller's (arena or stack). */
#ifndef SIP_BUILD_H
#define SIP_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "sip/msg.h"

struct sip_edit {
	uint32_t off;	/* offset in m->buf */
	uint32_t del;	/* bytes of the original removed there */
	sy_str ins;	/* bytes inserted there (must outlive sip_build_out) */
};

/* Do not copy a struct sip_build by assignment: set_body's edits point into clen_buf. Use
 * sip_build_copy, which re-points them. */
struct sip_build {
	const struct sip_msg *m;
	struct sip_edit *e;	/* kept sorted by offset, stable for equal offsets */
	unsigned n, cap;
	char clen_buf[24];	/* the Content-Length value written by sip_build_set_body */
};

void sip_build_init(struct sip_build *b, const struct sip_msg *m, struct sip_edit *e,
		    unsigned cap);
/* copy another edit list's edits (branch = request edits + per-branch edits), both built on
 * the same message or byte-identical copies: 0, ENOSPC or EINVAL (lengths differ) */
int sip_build_copy(struct sip_build *dst, const struct sip_build *src);

/* raw edits: 0, ENOSPC (edit array full) or EINVAL (range outside the message) */
int sip_build_replace(struct sip_build *b, size_t off, size_t del, sy_str ins);

/* message edits */
int sip_build_set_ruri(struct sip_build *b, sy_str uri);	/* request line URI */
/* 1 when an edit already replaces the whole request line URI (a unit or the script set it),
 * else 0: forwarding must not add a second replacement at the same offset */
int sip_build_ruri_edited(const struct sip_build *b);
/* line = "Name: value\r\n"; appended after the last header / before the first one */
int sip_build_append_hdr(struct sip_build *b, sy_str line);
int sip_build_prepend_hdr(struct sip_build *b, sy_str line);
int sip_build_remove_hdr(struct sip_build *b, unsigned idx);	/* the whole field */
/* remove the topmost via-parm (a whole Via field if it holds one value): replies going back */
int sip_build_remove_via1(struct sip_build *b);
/* replace the message body and its Content-Length (and Content-Type when content_type is not
 * empty; an empty body with no type drops Content-Type). Call it once, after any removals. */
int sip_build_set_body(struct sip_build *b, sy_str body, sy_str content_type);

/* size of the result, and the result itself: 0, ENOSPC (out too small) */
size_t sip_build_size(const struct sip_build *b);
int sip_build_out(const struct sip_build *b, char *out, size_t cap, size_t *outlen);

/* A local reply to req per RFC 3261 §8.2.6: Via (all, in order; via1_params appended to the
 * first one, e.g. ";received=1.2.3.4;rport=5060"), From, To (+ ";tag=" to_tag when the request
 * has none and code > 100), Call-ID, CSeq, then extra_hdrs (complete lines, may be empty),
 * Content-Length and body. 0 or ENOSPC. */
int sip_reply_build(const struct sip_msg *req, unsigned code, sy_str reason, sy_str to_tag,
		    sy_str via1_params, sy_str extra_hdrs, sy_str body, char *out, size_t cap,
		    size_t *outlen);
/* the standard reason phrase for code ("" when unknown) */
const char *sip_reason_phrase(unsigned code);

/* §16.3 / §8.2 request checks before any script runs. Returns 0 when the request may be
 * processed, else fills code/reason (400, 416, 420, 483 is NOT decided here, 505, 501) and, for
 * 420, *unsupported with the Proxy-Require tokens to list in Unsupported.
 * supported: NULL-terminated option tags this proxy understands. */
struct sip_verdict {
	unsigned code;
	const char *reason;
	sy_str unsupported;	/* slice of the Proxy-Require value(s) to echo (420) */
};
int sip_validate_request(const struct sip_msg *m, const char *const *supported,
			 struct sip_verdict *v);
/* responses: 0 when well formed enough to be relayed, else EBADMSG (drop it) */
int sip_validate_response(const struct sip_msg *m);

#endif
