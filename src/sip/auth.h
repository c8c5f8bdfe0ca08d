/* auth.h: Authorization / Proxy-Authorization credentials (RFC 3261 §22.4, §25.1; RFC 2617
 * §3.2.2 digest-response). Leaf code like the rest of src/sip: zero-copy slices into the
 * header value, no globals, no logging, no malloc. */
#ifndef SIP_AUTH_H
#define SIP_AUTH_H

#include <stddef.h>

#include "core/str.h"

/* One credentials value. Digest: every well-known dig-resp is a slice of its value without the
 * quotes (escapes kept as written: sip_auth_unquote() resolves them); empty when absent.
 * params is the whole parameter list (Digest) or the token68 / auth-param text of another
 * scheme, which is not parsed further. */
struct sip_auth_cred {
	sy_str scheme;		/* "Digest", "Basic" ... as written */
	int digest;		/* scheme is Digest (case-insensitive) */
	sy_str params;
	sy_str username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc;
	unsigned nparams;	/* Digest: dig-resp items, unknown auth-params included */
};

/* Parse a credentials header value (the header body). Digest: every dig-resp is
 * name = token / quoted-string (RFC 2617 lets clients quote qop and algorithm, some do), items
 * separated by commas with LWS around; unknown auth-params are skipped; a well-known parameter
 * given twice, an empty name, a missing '=' or value, an unterminated quoted string, a bad
 * quoted-pair, nc that is not 8 hex digits, or a missing username, realm, nonce, uri or
 * response (RFC 2617 §3.2.2 MUSTs) is EBADMSG. Returns 0 or EBADMSG. */
int sip_auth_parse(sy_str s, struct sip_auth_cred *c);

/* Copy a parameter value with its quoted-pairs resolved (RFC 3261 §25.1 quoted-pair) into
 * out[0..cap): 0 and *len, ENOSPC when it does not fit. */
int sip_auth_unquote(sy_str v, char *out, size_t cap, size_t *len);

#endif
