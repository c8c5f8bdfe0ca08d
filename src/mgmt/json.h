/* json.h: the strict, small JSON parser (RFC 8259) behind POST /mi, and the escaping helper
 * its writer uses. Leaf code: the parser tokenizes the caller's buffer into the caller's
 * token array (no allocation, no globals, no logging); a string token keeps its raw escaped
 * bytes and mgmt_json_str() decodes it into a buffer the caller gives. */
#ifndef MGMT_JSON_H
#define MGMT_JSON_H

#include <stddef.h>

#include "core/str.h"

enum mgmt_json_type {
	MGMT_JSON_NULL, MGMT_JSON_FALSE, MGMT_JSON_TRUE, MGMT_JSON_NUMBER, MGMT_JSON_STRING,
	MGMT_JSON_ARRAY, MGMT_JSON_OBJECT,
};

#define MGMT_JSON_MAX_DEPTH 32

struct mgmt_json_tok {
	enum mgmt_json_type type;
	sy_str raw;		/* a string: between the quotes, escapes undecoded; a number or a
				 * literal: its text; a container: from its bracket to its bracket */
	unsigned n;		/* array: elements; object: members (each a key string token
				 * followed by its value's tokens) */
	unsigned end;		/* index of the first token after this value's subtree */
	int escaped;		/* a string holding a backslash */
};

/* Parse s[0..len) as one JSON text (whitespace around it allowed, nothing else).
 * 0 (*ntok tokens, t[0] the top value), EBADMSG (not JSON: bad syntax, invalid UTF-8, a lone
 * surrogate escape, a control character in a string, leading zeros, trailing commas, nesting
 * over MGMT_JSON_MAX_DEPTH), ENOSPC (more than cap tokens). */
int mgmt_json_parse(const char *s, size_t len, struct mgmt_json_tok *t, unsigned cap,
		    unsigned *ntok);

/* the value of member key in object t[obj], or -1 (not an object, no such key); the first
 * one when a key repeats */
int mgmt_json_get(const struct mgmt_json_tok *t, unsigned obj, const char *key);
/* index of the element after element i of a container (i = obj + 1 is the first; for an
 * object, i is a key and the result the next key) */
unsigned mgmt_json_next(const struct mgmt_json_tok *t, unsigned i, int in_object);
/* decode string token t into out (UTF-8, not NUL-terminated): 0, EINVAL (not a string),
 * ENOSPC (out too small) */
int mgmt_json_str(const struct mgmt_json_tok *t, char *out, size_t cap, size_t *outlen);
/* an integral number token that fits a long long: 0, or EINVAL */
int mgmt_json_int(const struct mgmt_json_tok *t, long long *v);

/* length (1..4) of the well-formed UTF-8 sequence at s[0..n) (RFC 3629 §4: no overlongs, no
 * surrogates, nothing above U+10FFFF), 0 when it is not one */
size_t mgmt_utf8_len(const unsigned char *s, size_t n);

#endif
