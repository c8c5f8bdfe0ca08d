/* auth.h: digest authentication (RFC 3261 §22, RFC 2617, RFC 7616 / RFC 8760 SHA-256): the
 * "auth" unit (challenges, consume_credentials), the "auth_db" unit (www_authorize,
 * proxy_authorize against an in-memory copy of an OpenSIPS-style subscriber table) and the
 * pieces they are built from, callable without a network for the unit tests:
 *   auth_digest.c  digests (OpenSSL's MD5/SHA-256 on stack contexts: nothing allocated),
 *                  stateless nonces (expiry + HMAC-SHA256), response verification;
 *   auth_nc.c      nonce-count replay window (optional, bounded, lock-free);
 *   auth_db.c      the users snapshot, reloaded off the workers, swapped atomically;
 *   auth.c         the script units. */
#ifndef MOD_AUTH_H
#define MOD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "script/api.h"
#include "sip/auth.h"

extern const struct scr_unit auth_unit;
extern const struct scr_unit auth_db_unit;

/* ---- digests (auth_digest.c) */

enum auth_alg { AUTH_ALG_MD5 = 0, AUTH_ALG_SHA256 = 1 };

#define AUTH_HEX_MAX 64		/* SHA-256 in hex; MD5 takes 32 */

/* hex length of alg's digest: 32 or 64 */
size_t auth_alg_hexlen(enum auth_alg alg);
/* "MD5" / "SHA-256" */
const char *auth_alg_name(enum auth_alg alg);
/* the algorithm a credentials' algorithm= names (absent = MD5, RFC 2617 §3.2.2): 0, or
 * EPROTONOSUPPORT (MD5-sess, SHA-512-256 ... which we never offer) */
int auth_alg_parse(sy_str s, enum auth_alg *alg);

/* H(p[0] ":" p[1] ":" ... p[n-1]) as lowercase hex into out (auth_alg_hexlen(alg) chars, no
 * NUL). The context is on the stack: nothing allocated.
 * 0 or EIO (OpenSSL failed) */
int auth_hash_hex(enum auth_alg alg, const sy_str *p, unsigned n, char *out);
/* HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2) */
int auth_ha1(enum auth_alg alg, sy_str user, sy_str realm, sy_str password, char *out);

/* The request-digest of RFC 7616 §3.4.1 / RFC 2617 §3.2.2.1: with qop "auth",
 * H(HA1:nonce:nc:cnonce:qop:H(method:uri)); without qop, H(HA1:nonce:H(method:uri)).
 * ha1 is hex. 0, EINVAL (qop other than "auth" or empty), EIO */
int auth_response(enum auth_alg alg, sy_str ha1, sy_str nonce, sy_str nc, sy_str cnonce,
		  sy_str qop, sy_str method, sy_str uri, char *out);

/* ---- stateless nonces (auth_digest.c), as Kamailio's auth module makes them:
 * hex(expiry[8] | flags[1] | serial[4] | HMAC-SHA256(secret, those 13 octets | realm)[:16]).
 * Anyone may read the expiry; nobody without the secret can make or stretch one, and one
 * made for another realm does not verify. */
#define AUTH_NONCE_LEN 58
#define AUTH_SECRET_LEN 32

#define AUTH_NF_QOP 0x01u	/* the challenge offered qop="auth": the answer must use it */
#define AUTH_NF_SHA256 0x02u	/* the challenge was for algorithm SHA-256 */

/* out gets AUTH_NONCE_LEN chars (no NUL). 0 or EIO */
int auth_nonce_make(const unsigned char *secret, int64_t expires, unsigned flags, sy_str realm,
		    char *out);
/* 0 (fresh, *flags set), ETIMEDOUT (made by us for this realm, expired: stale=true),
 * EBADMSG (not ours, mangled, or for another realm) */
int auth_nonce_check(const unsigned char *secret, sy_str nonce, sy_str realm, int64_t now,
		     unsigned *flags);

/* ---- nonce-count replay window (auth_nc.c), modparam("auth", "nonce_count", 1) */

#define AUTH_NC_SLOTS 65536u	/* live nonces tracked: challenges per nonce_expire */

/* allocate the window (512 KB): 0 or ENOMEM. Until then auth_nc_check says 0 (off). */
int auth_nc_init(void);
void auth_nc_reset(void);
/* Record nc (8 hex digits) for a nonce auth_nonce_check accepted: 0 (above the highest
 * seen for it, now the highest), EALREADY (not above: a replay), ENOSPC (a newer nonce took
 * its slot: too old to tell, refuse it), EINVAL (not a nonce / nc). Lock-free. */
int auth_nc_check(sy_str nonce, sy_str nc);

/* ---- users (auth_db.c) */

/* the longest column values kept; longer rows are left out at load with a log line */
#define AUTH_USER_MAX 128
#define AUTH_PASS_MAX 128

/* one subscriber as a lookup returns it (copied out of the snapshot) */
struct auth_cred_row {
	char password[AUTH_PASS_MAX];	/* plain password (calculate_ha1) or the MD5 HA1 */
	size_t password_len;
	char ha1_sha256[AUTH_HEX_MAX];	/* stored SHA-256 HA1 (calculate_ha1 = 0) */
	size_t ha1_sha256_len;
};

/* auth_db configuration: modparams, read-only once workers run */
struct auth_db_config {
	char *db_url;		/* "sqlite://path"; NULL: no database, every user unknown */
	int calculate_ha1;	/* 1: password column is plain text; 0: it holds HA1 (OpenSIPS) */
	int use_domain;		/* 1: the domain column must equal the realm */
	char *user_column, *domain_column, *password_column, *hash_column_sha256;
	unsigned reload_interval;	/* s between looks at the file for changes */
};
extern struct auth_db_config auth_db_cfg;

/* Load table (or re-load it) from auth_db_cfg.db_url now, on the calling thread, and publish
 * the new snapshot: what the helper thread does when the file changes. 0, ENOENT (no file:
 * the table is published empty), EIO (SQLite error or no such table: published empty), ENOMEM
 * (the old snapshot stays) */
int auth_db_reload(void);
/* Start the helper thread that watches the file (reload_interval) and the first load
 * of the tables named; idempotent. 0 or errno */
int auth_db_start(const sy_str *tables, unsigned ntables);
/* Stop the helper thread and free every snapshot (exit, tests) */
void auth_db_stop(void);
/* Find user (and realm when use_domain) in table: 0 and *row, ENOENT (no such user),
 * ESRCH (no such table loaded). Never blocks: reads the current snapshot. */
int auth_db_lookup(sy_str table, sy_str user, sy_str realm, struct auth_cred_row *row);
/* snapshot generation (tests: wait for a reload): bumped by every publish */
unsigned long auth_db_generation(void);

/* ---- the check itself (auth.c) */

/* OpenSIPS return codes of www_authorize / proxy_authorize */
enum auth_result {
	AUTH_OK = 1,
	AUTH_INVALID_USER = -1,
	AUTH_INVALID_PASSWORD = -2,
	AUTH_STALE_NONCE = -3,
	AUTH_NO_CREDENTIALS = -4,
	AUTH_ERROR = -5,
};

/* Verify credentials c (already parsed, realm matched) of a request with method and Request-URI
 * ruri against the user table, at time now. Returns an enum auth_result; *why (static text)
 * says what was wrong for the log line. */
int auth_check_cred(const struct sip_auth_cred *c, sy_str realm, sy_str method, sy_str ruri,
		    sy_str table, int64_t now, const char **why);

/* the auth unit's secret and nonce lifetime (modparams "secret", "nonce_expire") */
extern unsigned char auth_secret[AUTH_SECRET_LEN];
extern unsigned auth_nonce_expire;
/* tests: replace the clock (NULL: time()) */
void auth_set_clock(int64_t (*now_fn)(void));
int64_t auth_now(void);

#endif
