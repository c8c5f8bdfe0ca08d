/* auth_digest.c: the arithmetic of digest authentication: HA1 and request-digest of RFC 2617
 * §3.2.2.1 and RFC 7616 §3.4 (MD5, and SHA-256 from RFC 7616 / RFC 8760), and the stateless
 * nonces the challenges carry.
 * OpenSSL does the hashing, through its MD5_* and SHA256_* functions on contexts that live on
 * the stack. Not through EVP: OpenSSL 3.0's EVP_DigestInit_ex frees and re-creates the
 * provider's context on every call, even on a context reused for the same EVP_MD (measured:
 * about 4 mallocs per checked request with per-thread contexts; 3.0.19 here), and a worker
 * must not allocate per message. tests/unit/mod_auth.c counts OpenSSL's allocations to hold
 * us to zero. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* MD5_Init/SHA256_Init are deprecated in OpenSSL 3 in favour of EVP, but EVP cannot hash
 * without allocating there (see above); they are the same implementations */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "mod/auth.h"

/* a digest context on the caller's stack */
struct md {
	enum auth_alg alg;
	union {
		MD5_CTX md5;
		SHA256_CTX sha256;
	} u;
};

static int md_init(struct md *m, enum auth_alg alg)
{
	m->alg = alg;
	return alg == AUTH_ALG_SHA256 ? SHA256_Init(&m->u.sha256) : MD5_Init(&m->u.md5);
}

static int md_update(struct md *m, const void *p, size_t n)
{
	return m->alg == AUTH_ALG_SHA256 ? SHA256_Update(&m->u.sha256, p, n)
					 : MD5_Update(&m->u.md5, p, n);
}

/* out: 16 or 32 octets */
static int md_final(struct md *m, unsigned char *out)
{
	int rc = m->alg == AUTH_ALG_SHA256 ? SHA256_Final(out, &m->u.sha256)
					   : MD5_Final(out, &m->u.md5);

	OPENSSL_cleanse(&m->u, sizeof(m->u));
	return rc;
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
}

size_t auth_alg_hexlen(enum auth_alg alg)
{
	return alg == AUTH_ALG_SHA256 ? 64 : 32;
}

const char *auth_alg_name(enum auth_alg alg)
{
	return alg == AUTH_ALG_SHA256 ? "SHA-256" : "MD5";
}

int auth_alg_parse(sy_str s, enum auth_alg *alg)
{
	/* RFC 7616 §3.3: algorithm names are case-insensitive tokens */
	if (!s.len || sy_str_caseeq_c(s, "MD5")) {
		*alg = AUTH_ALG_MD5;
		return 0;
	}
	if (sy_str_caseeq_c(s, "SHA-256")) {
		*alg = AUTH_ALG_SHA256;
		return 0;
	}
	return EPROTONOSUPPORT;
}

int auth_hash_hex(enum auth_alg alg, const sy_str *p, unsigned n, char *out)
{
	unsigned char dig[32];
	struct md m;

	if (md_init(&m, alg) != 1)
		return EIO;
	for (unsigned i = 0; i < n; i++) {
		if (i && md_update(&m, ":", 1) != 1)
			return EIO;
		if (p[i].len && md_update(&m, p[i].s, p[i].len) != 1)
			return EIO;
	}
	if (md_final(&m, dig) != 1)
		return EIO;
	to_hex(dig, auth_alg_hexlen(alg) / 2, out);
	return 0;
}

int auth_ha1(enum auth_alg alg, sy_str user, sy_str realm, sy_str password, char *out)
{
	sy_str p[3] = { user, realm, password };

	return auth_hash_hex(alg, p, 3, out);
}

int auth_response(enum auth_alg alg, sy_str ha1, sy_str nonce, sy_str nc, sy_str cnonce,
		  sy_str qop, sy_str method, sy_str uri, char *out)
{
	char ha2[AUTH_HEX_MAX];
	sy_str p[6];
	sy_str a2[2] = { method, uri };
	int rc;

	/* A2 = Method ":" request-uri for qop "auth" or none (RFC 7616 §3.4.3); auth-int would
	 * hash the body too and is never offered */
	if (qop.len && !sy_str_caseeq_c(qop, "auth"))
		return EINVAL;
	if ((rc = auth_hash_hex(alg, a2, 2, ha2)) != 0)
		return rc;
	p[0] = ha1;
	p[1] = nonce;
	if (qop.len) {
		p[2] = nc;
		p[3] = cnonce;
		p[4] = qop;
		p[5] = sy_str_make(ha2, auth_alg_hexlen(alg));
		return auth_hash_hex(alg, p, 6, out);
	}
	p[2] = sy_str_make(ha2, auth_alg_hexlen(alg));
	return auth_hash_hex(alg, p, 3, out);
}

/* ---- nonces */

#define NONCE_BODY 13		/* expiry[8] flags[1] serial[4] */
#define NONCE_MAC 16
#define NONCE_RAW (NONCE_BODY + NONCE_MAC)

static atomic_uint nonce_serial;

/* HMAC-SHA256 (RFC 2104) of body | realm under secret, on the stack */
static int nonce_mac(const unsigned char *secret, const unsigned char *body, sy_str realm,
		     unsigned char *mac)
{
	unsigned char pad[64], inner[32];
	struct md m;
	int i;

	for (i = 0; i < 64; i++)
		pad[i] = (unsigned char)((i < AUTH_SECRET_LEN ? secret[i] : 0) ^ 0x36);
	if (md_init(&m, AUTH_ALG_SHA256) != 1 || md_update(&m, pad, 64) != 1 ||
	    md_update(&m, body, NONCE_BODY) != 1 ||
	    (realm.len && md_update(&m, realm.s, realm.len) != 1) || md_final(&m, inner) != 1)
		return EIO;
	for (i = 0; i < 64; i++)
		pad[i] = (unsigned char)((i < AUTH_SECRET_LEN ? secret[i] : 0) ^ 0x5c);
	if (md_init(&m, AUTH_ALG_SHA256) != 1 || md_update(&m, pad, 64) != 1 ||
	    md_update(&m, inner, 32) != 1 || md_final(&m, inner) != 1)
		return EIO;
	memcpy(mac, inner, NONCE_MAC);
	OPENSSL_cleanse(pad, sizeof(pad));
	return 0;
}

int auth_nonce_make(const unsigned char *secret, int64_t expires, unsigned flags, sy_str realm,
		    char *out)
{
	unsigned char raw[NONCE_RAW];
	uint64_t e = (uint64_t)expires;
	uint32_t serial = atomic_fetch_add_explicit(&nonce_serial, 1, memory_order_relaxed);
	int i, rc;

	for (i = 0; i < 8; i++)
		raw[i] = (unsigned char)(e >> (56 - 8 * i));
	raw[8] = (unsigned char)flags;
	/* the serial makes every challenge's nonce different within one second (RFC 7616
	 * §3.3: "uniquely generated each time a 401 response is made") */
	for (i = 0; i < 4; i++)
		raw[9 + i] = (unsigned char)(serial >> (24 - 8 * i));
	if ((rc = nonce_mac(secret, raw, realm, raw + NONCE_BODY)) != 0)
		return rc;
	to_hex(raw, NONCE_RAW, out);
	return 0;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int auth_nonce_check(const unsigned char *secret, sy_str nonce, sy_str realm, int64_t now,
		     unsigned *flags)
{
	unsigned char raw[NONCE_RAW], mac[NONCE_MAC];
	uint64_t e = 0;
	int i;

	if (nonce.len != AUTH_NONCE_LEN)
		return EBADMSG;
	for (i = 0; i < NONCE_RAW; i++) {
		int hi = unhex(nonce.s[2 * i]), lo = unhex(nonce.s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return EBADMSG;
		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	if (nonce_mac(secret, raw, realm, mac) != 0)
		return EBADMSG;
	if (CRYPTO_memcmp(mac, raw + NONCE_BODY, NONCE_MAC) != 0)
		return EBADMSG;
	for (i = 0; i < 8; i++)
		e = e << 8 | raw[i];
	*flags = raw[8];
	/* the expiry was signed with the rest: only our clock decides staleness */
	if ((int64_t)e < now)
		return ETIMEDOUT;
	return 0;
}
