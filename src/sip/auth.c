/* auth.c: credentials parser for Authorization and Proxy-Authorization (RFC 3261 §22.4 and the
 * §25.1 grammar, which takes RFC 2617 §3.2.2's digest-response). Leaf code: slices into the
 * value, no allocation. The rules that matter for a proxy that checks credentials: a value is
 * one token or one quoted-string, never a mix; a well-known parameter counts once (two
 * usernames would let the check and the accounting read different ones); a cut-off value is an
 * error, not a shorter value. */
#include <errno.h>

#include "sip/auth.h"
#include "sip/lex.h"

/* the well-known dig-resp names and where their value goes */
static sy_str *known_slot(struct sip_auth_cred *c, sy_str n)
{
	static const struct { const char *name; size_t off; } tab[] = {
		{ "username", offsetof(struct sip_auth_cred, username) },
		{ "realm", offsetof(struct sip_auth_cred, realm) },
		{ "nonce", offsetof(struct sip_auth_cred, nonce) },
		{ "uri", offsetof(struct sip_auth_cred, uri) },
		{ "response", offsetof(struct sip_auth_cred, response) },
		{ "algorithm", offsetof(struct sip_auth_cred, algorithm) },
		{ "cnonce", offsetof(struct sip_auth_cred, cnonce) },
		{ "opaque", offsetof(struct sip_auth_cred, opaque) },
		{ "qop", offsetof(struct sip_auth_cred, qop) },
		{ "nc", offsetof(struct sip_auth_cred, nc) },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (n.len == strlen(tab[i].name) && sip_caseeq_n(n.s, tab[i].name, n.len))
			return (sy_str *)(void *)((char *)c + tab[i].off);
	return NULL;
}

/* one dig-resp at p: name SWS "=" SWS (token / quoted-string). *name, *val (quotes stripped;
 * "" is an empty value, an empty token is no value at all); *pp moves past the value */
static int parse_item(const char **pp, const char *end, sy_str *name, sy_str *val)
{
	const char *p = *pp, *q;

	q = p;
	while (q < end && sip_is_token((unsigned char)*q))
		q++;
	if (q == p)
		return EBADMSG;
	*name = sip_slice(p, q);
	p = sip_skip_lws(q, end);
	if (p >= end || *p != '=')
		return EBADMSG;
	p = sip_skip_lws(p + 1, end);
	if (p < end && *p == '"') {
		q = sip_skip_quoted(p, end);
		if (!q)
			return EBADMSG;
		*val = sip_slice(p + 1, q - 1);
	} else {
		q = p;
		while (q < end && sip_is_token((unsigned char)*q))
			q++;
		if (q == p)
			return EBADMSG;
		*val = sip_slice(p, q);
	}
	*pp = q;
	return 0;
}

int sip_auth_parse(sy_str s, struct sip_auth_cred *c)
{
	const char *p = s.s, *end = sip_end(s), *q;
	int rc = EBADMSG;

	memset(c, 0, sizeof(*c));
	if (!p)
		goto out;
	p = sip_skip_lws(p, end);
	end = sip_rtrim_lws(p, end);
	q = p;
	while (q < end && sip_is_token((unsigned char)*q))
		q++;
	if (q == p)
		goto out;
	c->scheme = sip_slice(p, q);
	c->digest = c->scheme.len == 6 && sip_caseeq_n(p, "digest", 6);
	/* the scheme is followed by LWS (§25.1 credentials: "Digest" LWS digest-response) */
	if (q < end && !sip_is_wsp((unsigned char)*q) && *q != '\r')
		goto out;
	p = sip_skip_lws(q, end);
	c->params = sip_slice(p, end);
	if (!c->digest) {
		/* other-response: kept whole for the unit that knows the scheme */
		rc = c->params.len ? 0 : EBADMSG;
		goto out;
	}
	for (;;) {
		sy_str n, v, *slot;
		if (parse_item(&p, end, &n, &v))
			goto out;
		c->nparams++;
		slot = known_slot(c, n);
		if (slot) {
			if (slot->s)
				goto out;	/* a well-known parameter twice */
			*slot = v;	/* never NULL, even for "": marks the slot as seen */
		}
		p = sip_skip_lws(p, end);
		if (p >= end)
			break;
		if (*p != ',')
			goto out;
		p = sip_skip_lws(p + 1, end);
		if (p >= end)
			goto out;	/* a trailing comma: the value was cut */
	}
	if (c->nc.s) {
		if (c->nc.len != 8)
			goto out;
		for (size_t i = 0; i < 8; i++)
			if (!sip_is_hex((unsigned char)c->nc.s[i]))
				goto out;
	}
	if (!c->username.s || !c->realm.s || !c->nonce.s || !c->uri.s || !c->response.s)
		goto out;
	rc = 0;
out:
	return rc;
}

int sip_auth_unquote(sy_str v, char *out, size_t cap, size_t *len)
{
	size_t n = 0;
	for (size_t i = 0; i < v.len; i++) {
		char ch = v.s[i];
		if (ch == '\\' && i + 1 < v.len)
			ch = v.s[++i];
		if (n >= cap)
			return ENOSPC;
		out[n++] = ch;
	}
	*len = n;
	return 0;
}
