/* dispatcher.c: the "dispatcher" script unit, OpenSIPS 3.x names and argument shapes:
 * ds_select_dst/ds_select_domain(set, alg [, flags [, max_res | partition [, max_res]]]),
 * ds_next_dst/ds_next_domain([partition]), ds_mark_dst([state [, partition]]),
 * ds_is_in_list(ip, port [, set [, partition [, active_only]]]), ds_count(set, filter, var).
 * Only the "default" partition exists. A selection leaves its failover record (ds_list.c) in
 * an $avp slot the unit reserves at load: tm copies $avps into the transaction and back into
 * failure_route, which is how OpenSIPS carries the same list (its dst_avp). Nothing here
 * allocates: $du points at the table's load-time URI, the record and a rewritten R-URI go
 * into the message arena. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "mod/dispatcher.h"
#include "proxy/proxy.h"
#include "sip/auth.h"
#include "tm/tm.h"

static char *list_file, *db_url, *table_name, *attrs_avp;
static int fo_slot = -1, attrs_slot = -1;
static int loaded;

/* the record's $avp name: a character the script's $avp(...) names never have */
static const char fo_name[] = "ds:failover";

static int set_str(char **dst, const struct scr_arg *v, const char **err)
{
	char *s = malloc(v->s.len + 1);

	if (!s) {
		*err = "out of memory";
		return ENOMEM;
	}
	memcpy(s, v->s.s, v->s.len);
	s[v->s.len] = '\0';
	free(*dst);
	*dst = s;
	return 0;
}

static int p_list_file(const struct scr_arg *v, const char **err)
{
	int rc = set_str(&list_file, v, err);

	/* the file's syntax now, so that `switchyard -c` reports its bad lines too (their
	 * file:line come first); the destinations are resolved and added at init */
	if (!rc && ds_check_list(list_file, stderr)) {
		*err = "the list_file has errors (the lines above)";
		rc = EINVAL;
	}
	return rc;
}

static int p_db_url(const struct scr_arg *v, const char **err)
{
	if (v->s.len < 10 || strncmp(v->s.s, "sqlite://", 9) != 0) {
		*err = "db_url must be sqlite:///absolute/path or sqlite://relative/path";
		return EINVAL;
	}
	return set_str(&db_url, v, err);
}

static int p_table_name(const struct scr_arg *v, const char **err)
{
	return set_str(&table_name, v, err);
}

static int p_attrs_avp(const struct scr_arg *v, const char **err)
{
	/* "$avp(name)": the slot is the script's own $avp(name) */
	if (v->s.len < 7 || strncmp(v->s.s, "$avp(", 5) != 0 || v->s.s[v->s.len - 1] != ')') {
		*err = "attrs_avp must be written $avp(name)";
		return EINVAL;
	}
	{
		struct scr_arg inner = *v;

		inner.s = sy_str_make(v->s.s + 5, v->s.len - 6);
		return set_str(&attrs_avp, &inner, err);
	}
}

static int p_uint(const struct scr_arg *v, const char **err, unsigned *out, long lo, long hi)
{
	if (v->i < lo || v->i > hi) {
		*err = "out of range";
		return EINVAL;
	}
	*out = (unsigned)v->i;
	return 0;
}

static int p_ping_interval(const struct scr_arg *v, const char **err)
{
	return p_uint(v, err, &ds_cfg.ping_interval, 0, 86400);
}

static int p_threshold(const struct scr_arg *v, const char **err)
{
	return p_uint(v, err, &ds_cfg.probing_threshold, 1, 1000);
}

static int p_probing_mode(const struct scr_arg *v, const char **err)
{
	return p_uint(v, err, &ds_cfg.probing_mode, 0, 1);
}

static int p_ping_maxfwd(const struct scr_arg *v, const char **err)
{
	unsigned m;
	int rc = p_uint(v, err, &m, 0, 255);

	if (!rc)
		ds_cfg.ping_maxfwd = (int)m;
	return rc;
}

static int p_copy(char *dst, size_t cap, const struct scr_arg *v, const char **err)
{
	if (v->s.len >= cap || !v->s.len) {
		*err = "empty or too long";
		return EINVAL;
	}
	memcpy(dst, v->s.s, v->s.len);
	dst[v->s.len] = '\0';
	return 0;
}

static int p_ping_method(const struct scr_arg *v, const char **err)
{
	size_t i;

	for (i = 0; i < v->s.len; i++)
		if (v->s.s[i] < 'A' || v->s.s[i] > 'Z') {
			*err = "a method name in capitals (OPTIONS, INFO ...)";
			return EINVAL;
		}
	return p_copy(ds_cfg.ping_method, sizeof(ds_cfg.ping_method), v, err);
}

static int p_ping_from(const struct scr_arg *v, const char **err)
{
	struct sip_uri u;

	if (sip_uri_parse(v->s, &u) || (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS)) {
		*err = "ds_ping_from must be a sip: URI";
		return EINVAL;
	}
	return p_copy(ds_cfg.ping_from, sizeof(ds_cfg.ping_from), v, err);
}

static int p_probing_sock(const struct scr_arg *v, const char **err)
{
	return p_copy(ds_cfg.probing_sock, sizeof(ds_cfg.probing_sock), v, err);
}

/* "501, 403" */
static int p_reply_codes(const struct scr_arg *v, const char **err)
{
	size_t i = 0;

	ds_cfg.nreply_codes = 0;
	while (i < v->s.len) {
		unsigned c = 0, nd = 0;

		while (i < v->s.len && (v->s.s[i] == ' ' || v->s.s[i] == ','))
			i++;
		while (i < v->s.len && v->s.s[i] >= '0' && v->s.s[i] <= '9' && nd < 4) {
			c = c * 10 + (unsigned)(v->s.s[i++] - '0');
			nd++;
		}
		if (!nd && i >= v->s.len)
			break;
		if (nd != 3 || c < 100 || c > 699 ||
		    (i < v->s.len && v->s.s[i] != ',' && v->s.s[i] != ' ') ||
		    ds_cfg.nreply_codes >= sizeof(ds_cfg.reply_codes) / sizeof(unsigned)) {
			*err = "options_reply_codes: up to 16 codes 100..699, comma-separated";
			return EINVAL;
		}
		ds_cfg.reply_codes[ds_cfg.nreply_codes++] = c;
	}
	return 0;
}

/* ---- the failover record in the context's reserved $avp */

static int fo_get(struct scr_ctx *ctx, struct ds_failover *f)
{
	const struct scr_value *v;

	if (fo_slot < 0)
		return ENOENT;
	v = &ctx->avps[fo_slot];
	if (v->is_int || !v->s.len)
		return ENOENT;
	if (ds_failover_decode(v->s, f)) {
		LOG_ERR("dispatcher: the failover record of Call-ID %.*s is damaged",
			ctx->msg ? (int)ctx->msg->callid.len : 0, ctx->msg ? ctx->msg->callid.s : "");
		return EINVAL;
	}
	return 0;
}

/* the record if there is a good one, without a word otherwise */
static int fo_get_quiet(const struct scr_ctx *ctx, struct ds_failover *f)
{
	const struct scr_value *v;

	if (fo_slot < 0)
		return ENOENT;
	v = &ctx->avps[fo_slot];
	if (v->is_int || !v->s.len)
		return ENOENT;
	return ds_failover_decode(v->s, f);
}

static int fo_put(struct scr_ctx *ctx, const struct ds_failover *f)
{
	char tmp[DS_MAX_CAND * 11 + 40], *p;
	size_t len;

	if (fo_slot < 0 || ds_failover_encode(f, tmp, sizeof(tmp), &len))
		return ENOSPC;
	p = sy_arena_alloc(ctx->arena, len);
	if (!p)
		return ENOMEM;
	memcpy(p, tmp, len);
	ctx->avps[fo_slot].is_int = 0;
	ctx->avps[fo_slot].s = sy_str_make(p, len);
	return 0;
}

/* tm_trans_hook: a transaction whose record names a destination starts or ends relaying */
static void ds_trans_hook(const struct scr_value *avps, int start)
{
	struct ds_failover f;

	if (fo_slot < 0 || !avps || avps[fo_slot].is_int || !avps[fo_slot].s.len ||
	    ds_failover_decode(avps[fo_slot].s, &f))
		return;
	ds_inflight_add(f.last, start ? 1 : -1);
}

/* failure_route moved the transaction from the record's old destination (had_old) to
 * new_last: tm saw the start with the old record and will see the end with the new one */
static void moved(const struct scr_ctx *ctx, int had_old, unsigned old_last, unsigned new_last)
{
	if (ctx->route_type != SCR_ROUTE_FAILURE || !ctx->host)
		return;
	if (had_old)
		ds_inflight_add(old_last, -1);
	ds_inflight_add(new_last, 1);
}

/* the R-URI with its host:port replaced by d's (ds_select_domain), into the arena */
static int set_domain(struct scr_ctx *ctx, const struct ds_dest *d)
{
	sy_str ru = scr_ctx_ruri(ctx);
	struct sip_uri u;
	const char *hs, *he;
	char *p;
	size_t n, hl = d->host.len + 7;

	if (sip_uri_parse(ru, &u) || !u.host.len)
		return EINVAL;
	hs = u.host.s;
	he = u.port_s.len ? u.port_s.s + u.port_s.len : u.host.s + u.host.len;
	p = sy_arena_alloc(ctx->arena, ru.len + hl);
	if (!p)
		return ENOMEM;
	n = (size_t)(hs - ru.s);
	memcpy(p, ru.s, n);
	memcpy(p + n, d->host.s, d->host.len);
	n += d->host.len;
	{
		char port[8];
		int k = snprintf(port, sizeof(port), ":%u", d->port);

		memcpy(p + n, port, (size_t)k);
		n += (size_t)k;
	}
	memcpy(p + n, he, (size_t)(ru.s + ru.len - he));
	n += (size_t)(ru.s + ru.len - he);
	ctx->new_ruri = sy_str_make(p, n);
	return 0;
}

/* point the request at destination idx: $du, or the R-URI's host:port */
static int use_dest(struct scr_ctx *ctx, unsigned idx, int domain)
{
	const struct ds_dest *d = ds_dest_get(idx);

	if (!d)
		return EINVAL;
	if (attrs_slot >= 0) {
		ctx->avps[attrs_slot].is_int = 0;
		ctx->avps[attrs_slot].s = d->attrs;
	}
	if (domain)
		return set_domain(ctx, d);
	ctx->dst_uri = d->uri;	/* load-time memory: lives as long as the table */
	return 0;
}

/* the digest username of the request's credentials, as written (alg 5): Proxy-Authorization
 * first, then Authorization (OpenSIPS looks at both); empty when none parses */
static sy_str auth_user(const struct sip_msg *m)
{
	static const enum sip_hdr_id ids[] = { SIP_H_PROXY_AUTHORIZATION, SIP_H_AUTHORIZATION };
	struct sip_auth_cred c;
	unsigned k;
	int h;

	for (k = 0; k < 2; k++)
		for (h = sip_hdr_next(m, ids[k], 0); h >= 0; h = sip_hdr_next(m, ids[k], h + 1))
			if (sip_auth_parse(m->hdr[h].body, &c) == 0 && c.digest && c.username.len)
				return c.username;
	return SY_NULL_STR;
}

static int do_select(struct scr_ctx *ctx, const struct scr_arg *a, int domain)
{
	struct ds_failover f;
	struct ds_keys k;
	struct sip_uri ft, tt, ru;
	unsigned flags = 0, max = 0;
	int rc;

	if (a[0].i < 0 || a[0].i > 0x7fffffffL)
		return -1;
	if (a[2].given && a[2].s.len && a[2].s.s[0] >= '0' && a[2].s.s[0] <= '9') {
		/* Kamailio's third argument is the limit; OpenSIPS flags are letters */
		max = a[2].i > 0 ? (unsigned)a[2].i : 0;
		flags = DS_F_FAILOVER;	/* Kamailio keeps the others for ds_next_dst() */
	} else if (a[2].given && ds_flags_parse(a[2].s, &flags)) {
		LOG_ERR("ds_select: unknown flag in \"%.*s\" (f, u, d)", SY_FMT(a[2].s));
		return -1;
	}
	if (a[3].given && a[3].s.len) {
		/* OpenSIPS 3.x: the 4th is the partition; a number there is max_res (Kamailio's
		 * limit, as the 1.x/2.x "flags M max" form) */
		if (a[3].s.s[0] >= '0' && a[3].s.s[0] <= '9') {
			max = a[3].i > 0 ? (unsigned)a[3].i : 0;
		} else if (!sy_str_eq(a[3].s, SY_STR("default"))) {
			LOG_ERR("ds_select: partition \"%.*s\": only \"default\" exists",
				SY_FMT(a[3].s));
			return -1;
		}
	}
	if (a[4].given)
		max = a[4].i > 0 ? (unsigned)a[4].i : 0;
	/* only what the algorithm hashes is looked at (no URI parse for round robin) */
	memset(&k, 0, sizeof(k));
	switch (a[1].i) {
	case DS_ALG_CALLID: k.callid = ctx->msg->callid; break;
	case DS_ALG_FROM: k.from = sip_nameaddr_uri(&ctx->msg->from, &ft); break;
	case DS_ALG_TO: k.to = sip_nameaddr_uri(&ctx->msg->to, &tt); break;
	case DS_ALG_RURI: k.ruri = sip_uri_parse(scr_ctx_ruri(ctx), &ru) ? NULL : &ru; break;
	case DS_ALG_AUTHUSER: k.authuser = auth_user(ctx->msg); break;
	default: break;
	}
	rc = a[1].i < 0 || a[1].i > 100 ? EINVAL
	     : ds_select((unsigned)a[0].i, (int)a[1].i, flags | (domain ? DS_F_DOMAIN : 0), max,
			 &k, &f);
	if (rc == EINVAL) {
		LOG_ERR("ds_select: algorithm %ld is not one of 0 1 2 3 4 5 6 8 9 10", a[1].i);
		return -1;
	}
	if (rc == ENOENT) {
		LOG_ERR("ds_select: no destination set %ld", a[0].i);
		return -1;
	}
	if (rc)
		return -1;	/* every destination of the set is down: the script decides */
	if (!(flags & DS_F_FAILOVER))
		f.n = 0;	/* the record still names the one in use, for ds_mark_dst() */
	{
		struct ds_failover old;
		int had_old;

		memset(&old, 0, sizeof(old));
		had_old = fo_get_quiet(ctx, &old) == 0;

		if ((rc = use_dest(ctx, f.last, domain)) || (rc = fo_put(ctx, &f))) {
			LOG_ERR("ds_select: %s", strerror(rc));
			return -1;
		}
		moved(ctx, had_old, old.last, f.last);
	}
	return 1;
}

static int w_ds_select_dst(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return do_select(ctx, a, 0);
}

static int w_ds_select_domain(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return do_select(ctx, a, 1);
}

static int check_partition(const struct scr_arg *a)
{
	if (a->given && a->s.len && !sy_str_eq(a->s, SY_STR("default"))) {
		LOG_ERR("dispatcher: partition \"%.*s\": only \"default\" exists", SY_FMT(a->s));
		return -1;
	}
	return 0;
}

/* the next candidate still active, in the order the selection stored */
static int do_next(struct scr_ctx *ctx, const struct scr_arg *a, int domain)
{
	struct ds_failover f;
	unsigned i, old_last;
	int rc;

	if (check_partition(&a[0]) || fo_get(ctx, &f))
		return -1;
	for (i = 0; i < f.n; i++) {
		const struct ds_dest *d = ds_dest_get(f.cand[i]);

		if (d && atomic_load(&d->state) == 0)
			break;
	}
	if (i >= f.n)
		return -1;
	old_last = f.last;
	f.last = f.cand[i];
	memmove(f.cand, f.cand + i + 1, (f.n - i - 1) * sizeof(f.cand[0]));
	f.n -= i + 1;
	if ((rc = use_dest(ctx, f.last, domain)) || (rc = fo_put(ctx, &f))) {
		LOG_ERR("ds_next: %s", strerror(rc));
		return -1;
	}
	moved(ctx, 1, old_last, f.last);
	return 1;
}

static int w_ds_next_dst(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return do_next(ctx, a, 0);
}

static int w_ds_next_domain(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return do_next(ctx, a, 1);
}

static int w_ds_mark_dst(struct scr_ctx *ctx, const struct scr_arg *a)
{
	struct ds_failover f;
	char st = 'i';

	if (a[0].given && a[0].s.len) {
		if (a[0].s.len != 1 || !strchr("aAiIpP012", a[0].s.s[0])) {
			LOG_ERR("ds_mark_dst: state \"%.*s\" is not a, i or p", SY_FMT(a[0].s));
			return -1;
		}
		st = a[0].s.s[0];
	}
	if (check_partition(&a[1]) || fo_get(ctx, &f))
		return -1;
	if (ds_mark(f.last, st) > 0) {
		const struct ds_dest *d = ds_dest_get(f.last);

		LOG_NOTICE("dispatcher: %.*s (set %u) marked %s by the script", SY_FMT(d->uri),
			   d->setid, st == 'a' || st == 'A' || st == '1' ? "active"
				     : st == 'i' || st == 'I' || st == '0' ? "inactive" : "probing");
	}
	return 1;
}

static int w_ds_is_in_list(struct scr_ctx *ctx, const struct scr_arg *a)
{
	sy_str ip = a[0].s;
	long set = a[2].given ? a[2].i : -1;

	(void)ctx;
	if (check_partition(&a[3]))
		return -1;
	if (ip.len > 2 && ip.s[0] == '[' && ip.s[ip.len - 1] == ']')
		ip = sy_str_make(ip.s + 1, ip.len - 2);
	if (a[1].i < 0 || a[1].i > 65535)
		return -1;
	return ds_in_list(ip, (unsigned)a[1].i, set, a[4].given && a[4].i, NULL) ? 1 : -1;
}

static int w_ds_count(struct scr_ctx *ctx, const struct scr_arg *a)
{
	const struct ds_set *s = ds_set_find(a[0].i >= 0 ? (unsigned)a[0].i : 0xffffffffu);
	unsigned want = 0, i, cnt = 0;
	struct scr_value v;
	size_t k;

	if (check_partition(&a[3]))
		return -1;
	for (k = 0; k < a[1].s.len; k++) {
		char c = a[1].s.s[k];

		if (c == 'a' || c == 'A' || c == '1')
			want |= 1;
		else if (c == 'i' || c == 'I' || c == '0')
			want |= 2;
		else if (c == 'p' || c == 'P' || c == '2')
			want |= 4;
		else {
			LOG_ERR("ds_count: filter \"%.*s\" is not made of a, i, p", SY_FMT(a[1].s));
			return -1;
		}
	}
	if (!s)
		return -1;
	for (i = 0; i < s->n; i++) {
		unsigned st = atomic_load(&ds_dest_get(s->d[i])->state);
		unsigned cls = st & DS_ST_PROBING ? 4 : st & DS_ST_INACTIVE ? 2 : 1;

		if (want & cls)
			cnt++;
	}
	memset(&v, 0, sizeof(v));
	v.is_int = 1;
	v.i = cnt;
	if (scr_pvar_set(ctx, (const struct scr_pvar *)a[2].p, &v))
		return -1;
	return cnt ? 1 : -1;
}

#define DS_SEL (SCR_ROUTE_REQUEST | SCR_ROUTE_BRANCH | SCR_ROUTE_FAILURE)
#define DS_NEXT (SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE)

static const struct scr_fn ds_fns[] = {
	{ "ds_select_dst", 2, 5, { SCR_ARG_INT, SCR_ARG_INT, SCR_ARG_STR_OR_INT,
				   SCR_ARG_STR_OR_INT, SCR_ARG_INT }, DS_SEL, w_ds_select_dst },
	{ "ds_select_domain", 2, 5, { SCR_ARG_INT, SCR_ARG_INT, SCR_ARG_STR_OR_INT,
				      SCR_ARG_STR_OR_INT, SCR_ARG_INT }, DS_SEL, w_ds_select_domain },
	{ "ds_next_dst", 0, 1, { SCR_ARG_STR }, DS_NEXT, w_ds_next_dst },
	{ "ds_next_domain", 0, 1, { SCR_ARG_STR }, DS_NEXT, w_ds_next_domain },
	{ "ds_mark_dst", 0, 2, { SCR_ARG_STR, SCR_ARG_STR }, DS_NEXT, w_ds_mark_dst },
	{ "ds_is_in_list", 2, 5, { SCR_ARG_STR, SCR_ARG_STR_OR_INT, SCR_ARG_INT, SCR_ARG_STR,
				   SCR_ARG_INT }, DS_SEL | SCR_ROUTE_ONREPLY, w_ds_is_in_list },
	{ "ds_count", 3, 4, { SCR_ARG_INT, SCR_ARG_STR, SCR_ARG_PVAR, SCR_ARG_STR },
	  SCR_ROUTE_ANY, w_ds_count },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};

static const struct scr_modparam ds_params[] = {
	{ "list_file", SCR_PARAM_STR, p_list_file },
	{ "db_url", SCR_PARAM_STR, p_db_url },
	{ "table_name", SCR_PARAM_STR, p_table_name },
	{ "attrs_avp", SCR_PARAM_STR, p_attrs_avp },
	{ "ds_ping_interval", SCR_PARAM_INT, p_ping_interval },
	{ "ds_probing_threshold", SCR_PARAM_INT, p_threshold },
	{ "ds_probing_threshhold", SCR_PARAM_INT, p_threshold },	/* OpenSIPS < 3 spelling */
	{ "ds_probing_mode", SCR_PARAM_INT, p_probing_mode },
	{ "ds_ping_method", SCR_PARAM_STR, p_ping_method },
	{ "ds_ping_from", SCR_PARAM_STR, p_ping_from },
	{ "ds_ping_maxfwd", SCR_PARAM_INT, p_ping_maxfwd },
	{ "ds_probing_sock", SCR_PARAM_STR, p_probing_sock },
	{ "options_reply_codes", SCR_PARAM_STR, p_reply_codes },
	{ NULL, SCR_PARAM_INT, NULL },
};

static void ds_fini(void)
{
	tm_trans_hook = NULL;
	ds_probe_stop();
	ds_table_free();
	loaded = 0;
}

static int ds_unit_init(void)
{
	static int hooked;
	int rc = 0;

	if (loaded)
		return 0;
	if (!list_file && !db_url) {
		LOG_ERR("dispatcher: neither db_url nor list_file is set: no destinations");
		return EINVAL;
	}
	fo_slot = scr_avp_slot(px_prog, sy_str_make(fo_name, sizeof(fo_name) - 1));
	if (attrs_avp)
		attrs_slot = scr_avp_slot(px_prog, sy_cstr(attrs_avp));
	if (fo_slot < 0 || (attrs_avp && attrs_slot < 0)) {
		LOG_ERR("dispatcher: the script uses all %d $avp names: none left for the "
			"failover list", SCR_MAX_VARS);
		return ENOSPC;
	}
	if (list_file)
		rc = ds_load_list(list_file, stderr);
	if (db_url) {
		int r = ds_load_db(db_url, table_name ? table_name : "dispatcher", stderr);

		if (!rc)
			rc = r;
	}
	if (!rc && (rc = ds_table_commit()) != 0)
		LOG_ERR("dispatcher: out of memory building the sets");
	if (!rc)
		rc = ds_table_check(stderr);
	if (!rc && !ds_dest_count()) {
		LOG_ERR("dispatcher: no destination loaded");
		rc = EINVAL;
	}
	if (!rc)
		rc = ds_probe_start();
	if (!rc)
		tm_trans_hook = ds_trans_hook;	/* algorithm 10's counts */
	if (!hooked) {
		atexit(ds_fini);
		hooked = 1;
	}
	if (rc) {
		ds_table_free();
		return rc;
	}
	loaded = 1;
	LOG_INFO("dispatcher: %u destinations loaded", ds_dest_count());
	return 0;
}

const struct scr_unit ds_unit = {
	.name = "dispatcher",
	.fns = ds_fns,
	.params = ds_params,
	.init = ds_unit_init,
};
