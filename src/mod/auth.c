/* auth.c: the "auth" and "auth_db" script units of OpenSIPS 3.x: www_challenge/proxy_challenge
 * (401/407 with WWW-/Proxy-Authenticate, RFC 3261 §22.1-§22.3, §20.44, §20.27),
 * www_authorize/proxy_authorize (RFC 2617 §3.2.2, RFC 7616 §3.4) with OpenSIPS' return codes,
 * and consume_credentials().
 * Between the authorize and the challenge of one request only one thing is kept, per worker
 * thread: whether the authorize found a right response on an expired nonce (stale=true).
 * consume_credentials removes the credentials whose nonce is ours (a nonce only we can
 * make, RFC 3261 §22.3: credentials for other realms go on downstream). Everything else per
 * request lives on the stack or in the message arena. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "mod/auth.h"
#include "mod/nathelper.h"
#include "proxy/proxy.h"
#include "sip/build.h"
#include "store/subscriber.h"
#include "tm/tm.h"

unsigned char auth_secret[AUTH_SECRET_LEN];
unsigned auth_nonce_expire = 30;	/* s, Kamailio's and OpenSIPS' default */
static int secret_set;
static int nonce_count;	/* modparam: track nc per nonce (auth_nc.c) */
static int64_t (*clock_fn)(void);

void auth_set_clock(int64_t (*now_fn)(void))
{
	clock_fn = now_fn;
}

int64_t auth_now(void)
{
	return clock_fn ? clock_fn() : (int64_t)time(NULL);
}

/* ---- the check */

#define AUTH_VAL_MAX 512	/* longest uri / cnonce / realm value we take */

static int unq(sy_str v, char *buf, size_t cap, sy_str *out)
{
	size_t n;

	if (sip_auth_unquote(v, buf, cap, &n) != 0)
		return ENOSPC;
	*out = sy_str_make(buf, n);
	return 0;
}

/* the credentials' uri names the Request-URI (RFC 2617 §3.2.2.5, RFC 7616 §3.4.6): the same
 * text, or the same SIP URI by the §19.1.4 comparison */
static int uri_matches(sy_str cred_uri, sy_str ruri)
{
	struct sip_uri a, b;

	if (sy_str_eq(cred_uri, ruri))
		return 1;
	return sip_uri_parse(cred_uri, &a) == 0 && sip_uri_parse(ruri, &b) == 0 &&
	       sip_uri_equal(&a, &b);
}

static int is_hex(sy_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		char c = s.s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

static void lower(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] + 32);
}

int auth_check_cred(const struct sip_auth_cred *c, sy_str realm, sy_str method, sy_str ruri,
		    sy_str table, int64_t now, const char **why)
{
	char ubuf[AUTH_USER_MAX], uribuf[AUTH_VAL_MAX], cnbuf[AUTH_VAL_MAX];
	char ha1[AUTH_HEX_MAX], want[AUTH_HEX_MAX], got[AUTH_HEX_MAX];
	struct auth_cred_row row;
	sy_str user, uri, cnonce = SY_NULL_STR, ha1s;
	enum auth_alg alg;
	unsigned flags = 0;
	size_t hl;
	int rc, stale;

	*why = "";
	if (auth_alg_parse(c->algorithm, &alg) != 0) {
		*why = "algorithm not offered";
		return AUTH_ERROR;
	}
	hl = auth_alg_hexlen(alg);
	if (unq(c->uri, uribuf, sizeof(uribuf), &uri) != 0 || !uri_matches(uri, ruri)) {
		*why = "uri does not name the Request-URI";
		return AUTH_ERROR;
	}
	rc = auth_nonce_check(auth_secret, c->nonce, realm, now, &flags);
	if (rc == EBADMSG) {
		*why = "nonce not made by us for this realm";
		return AUTH_ERROR;
	}
	if (((flags & AUTH_NF_SHA256) != 0) != (alg == AUTH_ALG_SHA256)) {
		*why = "algorithm differs from the challenge's";
		return AUTH_ERROR;
	}
	if (c->qop.len) {
		/* RFC 7616 §3.4: qop "auth" needs cnonce and nc; we never offer auth-int */
		if (!sy_str_caseeq_c(c->qop, "auth")) {
			*why = "qop not offered";
			return AUTH_ERROR;
		}
		if (!c->nc.len || !c->cnonce.len ||
		    unq(c->cnonce, cnbuf, sizeof(cnbuf), &cnonce) != 0) {
			*why = "qop=auth without nc or cnonce";
			return AUTH_ERROR;
		}
	} else if (flags & AUTH_NF_QOP) {
		*why = "no qop though the challenge asked for qop=auth";
		return AUTH_ERROR;
	}
	/* an expired nonce is the verdict only once the response proved right (OpenSIPS'
	 * post_auth; RFC 7616 §3.3: stale=true makes the UA retry without asking its user, so
	 * it is for a client that knows the password): a wrong one still says -2 / -1 */
	stale = rc == ETIMEDOUT;
	if (unq(c->username, ubuf, sizeof(ubuf), &user) != 0 || !user.len) {
		*why = "no such user";
		return AUTH_INVALID_USER;
	}
	rc = auth_db_lookup(table, user, realm, &row);
	if (rc == ESRCH) {
		*why = "table not loaded (only tables named as constants are)";
		return AUTH_ERROR;
	}
	if (rc) {
		*why = "no such user";
		return AUTH_INVALID_USER;
	}
	if (auth_db_cfg.calculate_ha1) {
		if (auth_ha1(alg, user, realm, sy_str_make(row.password, row.password_len), ha1))
			goto err;
		ha1s = sy_str_make(ha1, hl);
	} else {
		ha1s = alg == AUTH_ALG_SHA256 ? sy_str_make(row.ha1_sha256, row.ha1_sha256_len)
					      : sy_str_make(row.password, row.password_len);
		if (ha1s.len != hl || !is_hex(ha1s)) {
			*why = alg == AUTH_ALG_SHA256 ? "no SHA-256 HA1 stored for the user"
						      : "the stored HA1 is not an MD5 in hex";
			return AUTH_ERROR;
		}
		memcpy(ha1, ha1s.s, hl);
		lower(ha1, hl);
		ha1s = sy_str_make(ha1, hl);
	}
	if (auth_response(alg, ha1s, c->nonce, c->nc, cnonce, c->qop, method, uri, want))
		goto err;
	OPENSSL_cleanse(&row, sizeof(row));
	OPENSSL_cleanse(ha1, sizeof(ha1));
	if (c->response.len != hl || !is_hex(c->response)) {
		*why = "wrong password";
		return AUTH_INVALID_PASSWORD;
	}
	memcpy(got, c->response.s, hl);
	lower(got, hl);
	if (CRYPTO_memcmp(got, want, hl) != 0) {
		*why = "wrong password";
		return AUTH_INVALID_PASSWORD;
	}
	if (stale) {
		*why = "nonce expired";
		return AUTH_STALE_NONCE;
	}
	/* nonce_count: only credentials that verified move the window, so nobody without the
	 * password can spend a user's nc values */
	if (c->qop.len && (rc = auth_nc_check(c->nonce, c->nc)) != 0) {
		if (rc == ENOSPC) {
			*why = "nonce older than the nc window";
			return AUTH_STALE_NONCE;
		}
		*why = "nc not above the last one accepted for this nonce (replay)";
		return AUTH_ERROR;
	}
	return AUTH_OK;
err:
	OPENSSL_cleanse(&row, sizeof(row));
	*why = "digest computation failed";
	return AUTH_ERROR;
}

/* ---- script side */

/* realm "" = the To domain for REGISTER (it names the user registering), else the From domain
 * (OpenSIPS). A realm goes into a quoted-string of our reply: refuse what would break out */
static int realm_of(const struct scr_ctx *ctx, const struct scr_arg *a, sy_str *realm)
{
	const struct sip_msg *m = ctx->msg;

	if (a->given && a->s.len)
		*realm = a->s;
	else
		*realm = m->mid == SIP_M_REGISTER ? m->to.uri.host : m->from.uri.host;
	if (!realm->len || realm->len > 255)
		return EINVAL;
	for (size_t i = 0; i < realm->len; i++) {
		unsigned char ch = (unsigned char)realm->s[i];

		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			return EINVAL;
	}
	return 0;
}

/* the first Digest credentials of type hid for realm: 0 and *c (and *idx), ENOENT (none),
 * EBADMSG (a credentials header does not parse) */
static int find_cred(const struct sip_msg *m, enum sip_hdr_id hid, sy_str realm,
		     struct sip_auth_cred *c, int *idx)
{
	char rbuf[AUTH_VAL_MAX];
	int i, bad = 0;

	for (i = sip_hdr_next(m, hid, 0); i >= 0; i = sip_hdr_next(m, hid, i + 1)) {
		sy_str r;

		if (sip_auth_parse(m->hdr[i].body, c) != 0) {
			bad = 1;
			continue;
		}
		if (!c->digest || unq(c->realm, rbuf, sizeof(rbuf), &r) != 0)
			continue;
		if (sy_str_eq(r, realm)) {
			*idx = i;
			return 0;
		}
	}
	return bad ? EBADMSG : ENOENT;
}

static int send_local(struct scr_ctx *ctx, unsigned code, sy_str reason, sy_str hdrs)
{
	int rc;

	/* through the transaction when there is one (t_newtran()): a retransmission gets the
	 * same reply (§17.2.1); statelessly otherwise, as OpenSIPS' signaling does */
	if (ctx->host)
		rc = tm_reply_hdrs(ctx, code, reason, hdrs);
	else
		rc = px_reply(ctx, code, reason, hdrs);
	if (rc == 0)
		ctx->replied = 1;
	return rc;
}

/* stale=true (RFC 7616 §3.3: the UA may retry with a new nonce without asking its user) only
 * when this request's www_authorize/proxy_authorize found a right response on an expired
 * nonce, as OpenSIPS' challenge reads the verdict its authorize left on the credentials. A
 * worker runs one request at a time, so the verdict is kept per thread, named by the request
 * (message, Call-ID, CSeq) so that a later request does not inherit it. */
struct stale_mark {
	const struct sip_msg *m;
	const char *callid;
	uint32_t cseq;
	int proxy;
};
static _Thread_local struct stale_mark stale_mark;

static void stale_set(const struct sip_msg *m, int proxy, int stale)
{
	stale_mark.m = stale ? m : NULL;
	stale_mark.callid = m->callid.s;
	stale_mark.cseq = m->cseq;
	stale_mark.proxy = proxy;
}

static int cred_stale(const struct sip_msg *m, int proxy)
{
	return stale_mark.m == m && stale_mark.callid == m->callid.s &&
	       stale_mark.cseq == m->cseq && stale_mark.proxy == proxy;
}

static int do_authorize(struct scr_ctx *ctx, const struct scr_arg *a, int proxy)
{
	const struct sip_msg *m = ctx->msg;
	struct sip_auth_cred c;
	const char *why;
	sy_str realm;
	int idx, rc;

	if (!m || !m->is_request)
		return AUTH_ERROR;
	stale_set(m, proxy, 0);
	ctx->auth_hdr = 0;
	/* RFC 3261 §22.1: ACK and CANCEL cannot be challenged; OpenSIPS lets them pass */
	if (m->mid == SIP_M_ACK || m->mid == SIP_M_CANCEL)
		return AUTH_OK;
	if (realm_of(ctx, &a[0], &realm) != 0) {
		LOG_NOTICE("%s_authorize: no usable realm (Call-ID %.*s)", proxy ? "proxy" : "www",
			   SY_FMT(m->callid));
		return AUTH_ERROR;
	}
	rc = find_cred(m, proxy ? SIP_H_PROXY_AUTHORIZATION : SIP_H_AUTHORIZATION, realm, &c, &idx);
	if (rc == 0)
		ctx->auth_hdr = (unsigned)idx + 1;	/* what $au & co. name from now on */
	if (rc == ENOENT)
		return AUTH_NO_CREDENTIALS;
	if (rc == EBADMSG) {
		/* as OpenSIPS: malformed credentials are answered 400 (RFC 3261 §21.4.1) */
		LOG_NOTICE("%s_authorize: malformed %s header (Call-ID %.*s): 400",
			   proxy ? "proxy" : "www", proxy ? "Proxy-Authorization" : "Authorization",
			   SY_FMT(m->callid));
		if (send_local(ctx, 400, SY_STR("Bad Credentials"), SY_NULL_STR) != 0)
			LOG_ERR("%s_authorize: could not send the 400", proxy ? "proxy" : "www");
		return AUTH_ERROR;
	}
	rc = auth_check_cred(&c, realm, m->method, m->ruri, a[1].s, auth_now(), &why);
	stale_set(m, proxy, rc == AUTH_STALE_NONCE);
	if (rc == AUTH_ERROR || rc == AUTH_INVALID_USER || rc == AUTH_INVALID_PASSWORD) {
		char ip[64] = "?";
		unsigned port = 0;

		if (ctx->rcv)
			nh_addr_str(&ctx->rcv->src, ip, sizeof(ip), &port);
		LOG_NOTICE("%s_authorize: user '%.*s' realm '%.*s' from %s:%u: %s (Call-ID %.*s)",
			   proxy ? "proxy" : "www", SY_FMT(c.username), SY_FMT(realm), ip, port,
			   why, SY_FMT(m->callid));
	}
	return rc;
}

static int fn_www_authorize(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return do_authorize(ctx, a, 0);
}

static int fn_proxy_authorize(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return do_authorize(ctx, a, 1);
}

/* what a challenge offers: qop "auth" or none, and the algorithms in order of preference */
struct chal_opts {
	int qop;
	enum auth_alg alg[2];
	unsigned nalg;
};

static int parse_qop(sy_str s, int *qop)
{
	sy_str item, rest = s;

	/* OpenSIPS 3.x: "auth", "auth-int", "auth,auth-int" or ""; 1.x/2.x scripts pass 1/0 */
	*qop = 0;
	if (!s.len || sy_str_eq(s, SY_STR("0")))
		return 0;
	if (sy_str_eq(s, SY_STR("1"))) {
		*qop = 1;
		return 0;
	}
	while (rest.len && sip_list_next(rest, &item, &rest) == 0) {
		if (sy_str_caseeq_c(item, "auth"))
			*qop = 1;
		else if (!sy_str_caseeq_c(item, "auth-int"))
			return EINVAL;
	}
	/* auth-int alone: we do not hash bodies, so we cannot offer it */
	return *qop ? 0 : EINVAL;
}

static int parse_algs(sy_str s, struct chal_opts *o)
{
	sy_str item, rest = s;
	enum auth_alg alg;

	o->nalg = 0;
	if (!s.len) {
		o->alg[o->nalg++] = AUTH_ALG_MD5;
		return 0;
	}
	while (rest.len && sip_list_next(rest, &item, &rest) == 0) {
		if (!item.len || auth_alg_parse(item, &alg) != 0)
			return EINVAL;
		if (o->nalg == 1 && o->alg[0] == alg)
			continue;
		if (o->nalg == 2)
			return EINVAL;
		o->alg[o->nalg++] = alg;
	}
	return o->nalg ? 0 : EINVAL;
}


/* append v at buf + *len (the caller sized buf for everything it puts) */
static void put(char *buf, size_t *len, sy_str v)
{
	memcpy(buf + *len, v.s, v.len);
	*len += v.len;
}

static int do_challenge(struct scr_ctx *ctx, const struct scr_arg *a, int proxy)
{
	const struct sip_msg *m = ctx->msg;
	const char *name = proxy ? "proxy_challenge" : "www_challenge";
	struct chal_opts o;
	char nonce[AUTH_NONCE_LEN];
	char *buf;
	size_t cap, len = 0;
	sy_str realm;
	unsigned flags;
	int stale;

	if (!m || !m->is_request)
		return -1;
	if (m->mid == SIP_M_ACK || m->mid == SIP_M_CANCEL) {
		LOG_NOTICE("%s: %.*s cannot be challenged (RFC 3261 §22.1)", name,
			   SY_FMT(m->method));
		return -1;
	}
	if (ctx->replied) {
		/* e.g. www_authorize() already answered malformed credentials with 400 */
		return -1;
	}
	if (realm_of(ctx, &a[0], &realm) != 0) {
		LOG_NOTICE("%s: no usable realm (Call-ID %.*s)", name, SY_FMT(m->callid));
		return -1;
	}
	if (parse_qop(a[1].given ? a[1].s : SY_NULL_STR, &o.qop) != 0 ||
	    parse_algs(a[2].given ? a[2].s : SY_NULL_STR, &o) != 0) {
		LOG_ERR("%s: qop \"%.*s\" / algorithms \"%.*s\" not supported", name,
			SY_FMT(a[1].s), SY_FMT(a[2].s));
		return -1;
	}
	stale = cred_stale(m, proxy);
	/* per challenge: realm, nonce and at most 92 octets of fixed text */
	cap = o.nalg * (realm.len + AUTH_NONCE_LEN + 128);
	buf = sy_arena_alloc(ctx->arena, cap);
	if (!buf) {
		LOG_ERR("%s: message arena full", name);
		return -1;
	}
	/* RFC 3261 §22.1/§22.3: one challenge per algorithm, the preferred first (RFC 7616 §3.7);
	 * written piece by piece, no printf per request */
	for (unsigned i = 0; i < o.nalg; i++) {
		flags = (o.qop ? AUTH_NF_QOP : 0) | (o.alg[i] == AUTH_ALG_SHA256 ? AUTH_NF_SHA256 : 0);
		if (auth_nonce_make(auth_secret, auth_now() + auth_nonce_expire, flags, realm,
				    nonce) != 0) {
			LOG_ERR("%s: cannot make a nonce", name);
			return -1;
		}
		put(buf, &len, proxy ? SY_STR("Proxy-Authenticate: Digest realm=\"")
				     : SY_STR("WWW-Authenticate: Digest realm=\""));
		put(buf, &len, realm);
		put(buf, &len, SY_STR("\", nonce=\""));
		put(buf, &len, sy_str_make(nonce, AUTH_NONCE_LEN));
		put(buf, &len, o.qop ? SY_STR("\", qop=\"auth\", algorithm=") : SY_STR("\", algorithm="));
		put(buf, &len, sy_cstr(auth_alg_name(o.alg[i])));
		if (stale)
			put(buf, &len, SY_STR(", stale=true"));
		put(buf, &len, SY_STR("\r\n"));
	}
	if (send_local(ctx, proxy ? 407 : 401,
		       proxy ? SY_STR("Proxy Authentication Required") : SY_STR("Unauthorized"),
		       sy_str_make(buf, len)) != 0) {
		LOG_ERR("%s: could not send the %d", name, proxy ? 407 : 401);
		return -1;
	}
	return 1;
}

static int fn_www_challenge(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return do_challenge(ctx, a, 0);
}

static int fn_proxy_challenge(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return do_challenge(ctx, a, 1);
}

/* consume_credentials(): remove the credentials this proxy asked for (their nonce verifies
 * with our secret, expired or not) so they do not travel on; those for other realms stay
 * (RFC 3261 §22.3). 1 when one went, -1 when there were none. */
static int fn_consume_credentials(struct scr_ctx *ctx, const struct scr_arg *a)
{
	static const enum sip_hdr_id ids[2] = { SIP_H_PROXY_AUTHORIZATION, SIP_H_AUTHORIZATION };
	const struct sip_msg *m = ctx->msg;
	char rbuf[AUTH_VAL_MAX];
	int removed = 0;

	(void)a;
	if (!m || !m->is_request || !ctx->edits)
		return -1;
	for (int k = 0; k < 2; k++) {
		for (int i = sip_hdr_next(m, ids[k], 0); i >= 0; i = sip_hdr_next(m, ids[k], i + 1)) {
			struct sip_auth_cred c;
			unsigned flags;
			sy_str r;
			int rc;

			if (sip_auth_parse(m->hdr[i].body, &c) != 0 || !c.digest ||
			    unq(c.realm, rbuf, sizeof(rbuf), &r) != 0)
				continue;
			rc = auth_nonce_check(auth_secret, c.nonce, r, auth_now(), &flags);
			if (rc != 0 && rc != ETIMEDOUT)
				continue;
			if (sip_build_remove_hdr(ctx->edits, (unsigned)i) != 0) {
				LOG_ERR("consume_credentials: cannot remove the header (edit list full)");
				return -1;
			}
			removed++;
		}
	}
	return removed ? 1 : -1;
}

/* ---- load-time checks and set-up */

struct const_check {
	const char *fn;
	int bad;
};

static int check_qop_const(sy_str v, const char *file, unsigned line, unsigned col, void *arg)
{
	struct const_check *cc = arg;
	int qop;

	if (parse_qop(v, &qop) != 0) {
		fprintf(stderr, "%s:%u:%u: %s: qop \"%.*s\": only \"auth\" (or \"\", \"1\", \"0\") "
			"is offered\n", file, line, col, cc->fn, SY_FMT(v));
		cc->bad = 1;
	}
	return 0;
}

static int check_alg_const(sy_str v, const char *file, unsigned line, unsigned col, void *arg)
{
	struct const_check *cc = arg;
	struct chal_opts o;

	if (parse_algs(v, &o) != 0) {
		fprintf(stderr, "%s:%u:%u: %s: algorithms \"%.*s\": MD5, SHA-256 or both\n", file,
			line, col, cc->fn, SY_FMT(v));
		cc->bad = 1;
	}
	return 0;
}

static void secret_from(sy_str s)
{
	unsigned len = 0;

	/* any length in, 32 octets of key out */
	EVP_Digest(s.s, s.len, auth_secret, &len, EVP_sha256(), NULL);
	secret_set = 1;
}

static int auth_init(void)
{
	static const char *const fns[2] = { "www_challenge", "proxy_challenge" };
	struct const_check cc = { NULL, 0 };

	for (int i = 0; i < 2; i++) {
		cc.fn = fns[i];
		scr_foreach_const(px_prog, fns[i], 1, NULL, check_qop_const, &cc);
		scr_foreach_const(px_prog, fns[i], 2, NULL, check_alg_const, &cc);
	}
	if (cc.bad)
		return EINVAL;
	/* Kamailio's default: a random secret per start; nonces from before a restart are then
	 * refused (-5) and the UA is challenged anew. Set "secret" to keep them valid across
	 * restarts or to share nonces between instances. */
	if (!secret_set && RAND_bytes(auth_secret, sizeof(auth_secret)) != 1) {
		LOG_ERR("auth: no random secret from OpenSSL");
		return EIO;
	}
	secret_set = 1;
	if (nonce_count && auth_nc_init() != 0) {
		LOG_ERR("auth: no memory for the nonce_count window");
		return ENOMEM;
	}
	return 0;
}

static int p_secret(const struct scr_arg *v, const char **err)
{
	if (v->s.len < 16) {
		*err = "secret: at least 16 characters";
		return EINVAL;
	}
	secret_from(v->s);
	return 0;
}

static int p_nonce_count(const struct scr_arg *v, const char **err)
{
	if (v->i != 0 && v->i != 1) {
		*err = "nonce_count: 0 or 1";
		return EINVAL;
	}
	nonce_count = (int)v->i;
	return 0;
}

static int p_nonce_expire(const struct scr_arg *v, const char **err)
{
	if (v->i < 1 || v->i > 3600) {
		*err = "nonce_expire: 1..3600 seconds";
		return EINVAL;
	}
	auth_nonce_expire = (unsigned)v->i;
	return 0;
}

static const struct scr_fn auth_fns[] = {
	{ "www_challenge", 1, 3, { SCR_ARG_STR, SCR_ARG_STR_OR_INT, SCR_ARG_STR },
	  SCR_ROUTE_REQUEST, fn_www_challenge },
	{ "proxy_challenge", 1, 3, { SCR_ARG_STR, SCR_ARG_STR_OR_INT, SCR_ARG_STR },
	  SCR_ROUTE_REQUEST, fn_proxy_challenge },
	{ "consume_credentials", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST,
	  fn_consume_credentials },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

static const struct scr_modparam auth_params[] = {
	{ "secret", SCR_PARAM_STR, p_secret },
	{ "nonce_expire", SCR_PARAM_INT, p_nonce_expire },
	{ "nonce_count", SCR_PARAM_INT, p_nonce_count },
	{ NULL, SCR_PARAM_INT, NULL },
};

const struct scr_unit auth_unit = {
	.name = "auth",
	.fns = auth_fns,
	.params = auth_params,
	.init = auth_init,
};

/* ---- auth_db */

struct table_list {
	sy_str t[8];
	unsigned n;
};

static int add_table(sy_str v, const char *file, unsigned line, unsigned col, void *arg)
{
	struct table_list *tl = arg;

	if (v.len >= 64 || !store_sql_ident_ok(v.s, v.len)) {
		fprintf(stderr, "%s:%u:%u: table \"%.*s\": letters, digits and '_' only\n", file,
			line, col, SY_FMT(v));
		return EINVAL;
	}
	for (unsigned i = 0; i < tl->n; i++)
		if (sy_str_eq(tl->t[i], v))
			return 0;
	if (tl->n == 8) {
		fprintf(stderr, "%s:%u:%u: more than 8 users tables\n", file, line, col);
		return EINVAL;
	}
	tl->t[tl->n++] = v;
	return 0;
}

static int auth_db_init(void)
{
	struct table_list tl = { .n = 0 };
	int rc;

	/* the secret is needed to check nonces even when "auth" is not loaded */
	if (!secret_set && (rc = auth_init()) != 0)
		return rc;
	/* the tables the script names as constants are the ones kept in memory */
	if ((rc = scr_foreach_const(px_prog, "www_authorize", 1, NULL, add_table, &tl)) != 0 ||
	    (rc = scr_foreach_const(px_prog, "proxy_authorize", 1, NULL, add_table, &tl)) != 0)
		return EINVAL;
	return auth_db_start(tl.t, tl.n);
}

static int p_str(const struct scr_arg *v, const char **err, char **dst, int ident)
{
	char *s;

	if (ident && !store_sql_ident_ok(v->s.s, v->s.len)) {
		*err = "a column name: letters, digits and '_' only";
		return EINVAL;
	}
	if (!(s = malloc(v->s.len + 1))) {
		*err = "out of memory";
		return ENOMEM;
	}
	memcpy(s, v->s.s, v->s.len);
	s[v->s.len] = '\0';
	free(*dst);
	*dst = s;
	return 0;
}

static int p_db_url(const struct scr_arg *v, const char **err)
{
	if (v->s.len <= 9 || strncmp(v->s.s, "sqlite://", 9) != 0) {
		*err = "db_url must be sqlite:///absolute/path or sqlite://relative/path";
		return EINVAL;
	}
	return p_str(v, err, &auth_db_cfg.db_url, 0);
}

static int p_user_column(const struct scr_arg *v, const char **err)
{
	return p_str(v, err, &auth_db_cfg.user_column, 1);
}

static int p_domain_column(const struct scr_arg *v, const char **err)
{
	return p_str(v, err, &auth_db_cfg.domain_column, 1);
}

static int p_password_column(const struct scr_arg *v, const char **err)
{
	return p_str(v, err, &auth_db_cfg.password_column, 1);
}

static int p_hash_column_sha256(const struct scr_arg *v, const char **err)
{
	return p_str(v, err, &auth_db_cfg.hash_column_sha256, 1);
}

static int p_bool(const struct scr_arg *v, const char **err, int *dst)
{
	if (v->i != 0 && v->i != 1) {
		*err = "0 or 1";
		return EINVAL;
	}
	*dst = (int)v->i;
	return 0;
}

static int p_calculate_ha1(const struct scr_arg *v, const char **err)
{
	return p_bool(v, err, &auth_db_cfg.calculate_ha1);
}

static int p_use_domain(const struct scr_arg *v, const char **err)
{
	return p_bool(v, err, &auth_db_cfg.use_domain);
}

static int p_reload_interval(const struct scr_arg *v, const char **err)
{
	if (v->i < 1 || v->i > 3600) {
		*err = "reload_interval: 1..3600 seconds";
		return EINVAL;
	}
	auth_db_cfg.reload_interval = (unsigned)v->i;
	return 0;
}

static const struct scr_fn auth_db_fns[] = {
	{ "www_authorize", 2, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_REQUEST,
	  fn_www_authorize },
	{ "proxy_authorize", 2, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_REQUEST,
	  fn_proxy_authorize },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

static const struct scr_modparam auth_db_params[] = {
	{ "db_url", SCR_PARAM_STR, p_db_url },
	{ "calculate_ha1", SCR_PARAM_INT, p_calculate_ha1 },
	{ "use_domain", SCR_PARAM_INT, p_use_domain },
	{ "user_column", SCR_PARAM_STR, p_user_column },
	{ "domain_column", SCR_PARAM_STR, p_domain_column },
	{ "password_column", SCR_PARAM_STR, p_password_column },
	{ "hash_column_sha256", SCR_PARAM_STR, p_hash_column_sha256 },
	{ "reload_interval", SCR_PARAM_INT, p_reload_interval },
	{ NULL, SCR_PARAM_INT, NULL },
};

const struct scr_unit auth_db_unit = {
	.name = "auth_db",
	.fns = auth_db_fns,
	.params = auth_db_params,
	.init = auth_db_init,
};
