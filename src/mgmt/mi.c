/* mi.c: the JSON-RPC 2.0 side of POST /mi (https://www.jsonrpc.org/specification) with
 * OpenSIPS 3.x MI command names and result shapes: uptime, version, which, get_statistics,
 * reset_statistics, list_statistics, reset_all_statistics, ul_dump, ul_show_contact, ul_rm,
 * ps, ds_list, ds_set_state. One request object per body; errors are JSON-RPC error objects (-32700 parse error,
 * -32600 invalid request, -32601 method not found, -32602 invalid params, -32603 internal
 * error; 404 "AOR not found" as OpenSIPS). Runs on the management thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/stats.h"
#include "core/version.h"
#include "mgmt/json.h"
#include "mgmt/mgmt.h"
#include "mod/dispatcher.h"
#include "mod/usrloc.h"

#define E_PARSE (-32700)
#define E_REQUEST (-32600)
#define E_METHOD (-32601)
#define E_PARAMS (-32602)
#define E_INTERNAL (-32603)

static int64_t start_time;
static int mgmt_tid;
static char mgmt_addr[80];

void mgmt_mi_set_info(int64_t t, int tid, const char *addr)
{
	start_time = t;
	mgmt_tid = tid;
	snprintf(mgmt_addr, sizeof(mgmt_addr), "%s", addr ? addr : "");
}

/* a command: params is the index of the params token or -1 (none); writes the result value
 * to out and returns 0, or returns a JSON-RPC error code with *msg set */
struct mi_cmd {
	const char *name;
	int (*fn)(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		  const char **msg);
};

static int no_params(const struct mgmt_json_tok *t, int params, const char **msg)
{
	if (params >= 0 && t[params].n != 0) {
		*msg = "this command takes no parameters";
		return E_PARAMS;
	}
	return 0;
}

static void put_time(struct mgmt_buf *b, const char *key, time_t v, int comma)
{
	struct tm tmv;
	char s[64];

	localtime_r(&v, &tmv);
	strftime(s, sizeof(s), "%a %b %e %H:%M:%S %Y", &tmv);
	mgmt_buf_printf(b, "%s\"%s\":", comma ? "," : "", key);
	mgmt_buf_json_str(b, sy_cstr(s));
}

static int mi_uptime(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		     const char **msg)
{
	time_t now = time(NULL);
	int rc = no_params(t, params, msg);

	if (rc)
		return rc;
	mgmt_buf_puts(out, "{");
	put_time(out, "Now", now, 0);
	put_time(out, "Up since", (time_t)start_time, 1);
	mgmt_buf_printf(out, ",\"Up time\":\"%lld [sec]\"}", (long long)(now - start_time));
	return 0;
}

static int mi_version(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		      const char **msg)
{
	int rc = no_params(t, params, msg);

	if (rc)
		return rc;
	mgmt_buf_puts(out, "{\"Server\":");
	mgmt_buf_json_str(out, SY_STR(SY_VERSION));
	mgmt_buf_puts(out, "}");
	return 0;
}

static int mi_which(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		    const char **msg);

static int mi_ps(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		 const char **msg)
{
	int rc = no_params(t, params, msg), w, n = sy_worker_count(), id = 0;

	if (rc)
		return rc;
	mgmt_buf_printf(out, "{\"Processes\":[{\"ID\":%d,\"PID\":%d,\"Type\":\"main\"}", id++,
			(int)getpid());
	for (w = 0; w < n; w++)
		mgmt_buf_printf(out, ",{\"ID\":%d,\"PID\":%d,\"Type\":\"SIP worker %d\"}", id++,
				sy_stats_tid_of(w), w);
	mgmt_buf_printf(out, ",{\"ID\":%d,\"PID\":%d,\"Type\":", id, mgmt_tid);
	{
		char type[128];

		snprintf(type, sizeof(type), "HTTPD %s", mgmt_addr);
		mgmt_buf_json_str(out, sy_cstr(type));
	}
	mgmt_buf_puts(out, "}]}");
	return 0;
}

/* the statistic names of get_statistics/reset_statistics: params {"statistics": [names]}
 * (OpenSIPS' named form), or positional: [[names]] or [name, ...] */
static int stat_names(const struct mgmt_json_tok *t, int params, unsigned char *sel,
		      int resettable, const char **msg)
{
	unsigned i, k, cnt = 0;
	int list = -1;

	if (params < 0) {
		*msg = "missing parameter: statistics";
		return E_PARAMS;
	}
	if (t[params].type == MGMT_JSON_OBJECT) {
		list = mgmt_json_get(t, (unsigned)params, "statistics");
		if (list < 0 || t[params].n != 1) {
			*msg = list < 0 ? "missing parameter: statistics" : "unknown parameter";
			return E_PARAMS;
		}
	} else if (t[params].n == 1 && t[params + 1].type == MGMT_JSON_ARRAY) {
		list = params + 1;
	} else {
		list = params;
	}
	if (t[list].type == MGMT_JSON_STRING) {
		i = (unsigned)list;
		k = 1;
	} else if (t[list].type == MGMT_JSON_ARRAY) {
		i = (unsigned)list + 1;
		k = t[list].n;
	} else {
		*msg = "statistics must be an array of names";
		return E_PARAMS;
	}
	for (; cnt < k; cnt++, i = t[i].end) {
		static char err[160];
		unsigned char one[MGMT_STAT_MAX];
		char name[128];
		size_t n;
		unsigned j;
		int wide;

		if (t[i].type != MGMT_JSON_STRING || mgmt_json_str(&t[i], name, sizeof(name), &n)) {
			*msg = "statistics must be an array of names";
			return E_PARAMS;
		}
		memset(one, 0, sizeof(one));
		if (mgmt_stat_select(sy_str_make(name, n), one)) {
			snprintf(err, sizeof(err), "unknown statistic: %.*s", (int)n, name);
			*msg = err;
			return E_PARAMS;
		}
		/* reset: "all" and "group:" pass over gauges, a gauge named alone is an error */
		wide = (n == 3 && memcmp(name, "all", 3) == 0) || name[n - 1] == ':';
		for (j = 0; j < mgmt_stat_count(); j++) {
			if (one[j] && resettable && mgmt_stat_at(j)->gauge) {
				if (wide)
					continue;
				snprintf(err, sizeof(err), "statistic %.*s is not resettable",
					 (int)n, name);
				*msg = err;
				return E_PARAMS;
			}
			sel[j] |= one[j];
		}
	}
	if (k == 0) {
		*msg = "no statistic named";
		return E_PARAMS;
	}
	return 0;
}

static int mi_get_statistics(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
			     const char **msg)
{
	unsigned char sel[MGMT_STAT_MAX];
	unsigned i;
	int rc, first = 1;

	memset(sel, 0, sizeof(sel));
	rc = stat_names(t, params, sel, 0, msg);
	if (rc)
		return rc;
	mgmt_buf_puts(out, "{");
	for (i = 0; i < mgmt_stat_count(); i++) {
		const struct mgmt_stat *st = mgmt_stat_at(i);

		if (!sel[i])
			continue;
		mgmt_buf_printf(out, "%s\"%s:%s\":%llu", first ? "" : ",", st->group, st->name,
				(unsigned long long)mgmt_stat_value(st));
		first = 0;
	}
	mgmt_buf_puts(out, "}");
	return 0;
}

static int mi_reset_statistics(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
			       const char **msg)
{
	unsigned char sel[MGMT_STAT_MAX];
	unsigned i;
	int rc;

	memset(sel, 0, sizeof(sel));
	rc = stat_names(t, params, sel, 1, msg);
	if (rc)
		return rc;
	for (i = 0; i < mgmt_stat_count(); i++)
		if (sel[i])
			mgmt_stat_reset(mgmt_stat_at(i));
	mgmt_buf_puts(out, "\"OK\"");
	return 0;
}

/* list_statistics: every name with its kind, as OpenSIPS 3.x: counters are "incremental",
 * gauges "non-incremental"; params as get_statistics, none = all */
static int mi_list_statistics(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
			      const char **msg)
{
	unsigned char sel[MGMT_STAT_MAX];
	unsigned i;
	int first = 1, rc = 0;

	memset(sel, 0, sizeof(sel));
	if (params < 0 || t[params].n == 0)
		memset(sel, 1, sizeof(sel));
	else
		rc = stat_names(t, params, sel, 0, msg);
	if (rc)
		return rc;
	mgmt_buf_puts(out, "{");
	for (i = 0; i < mgmt_stat_count(); i++) {
		const struct mgmt_stat *st = mgmt_stat_at(i);

		if (!sel[i])
			continue;
		mgmt_buf_printf(out, "%s\"%s:%s\":\"%s\"", first ? "" : ",", st->group, st->name,
				st->gauge ? "non-incremental" : "incremental");
		first = 0;
	}
	mgmt_buf_puts(out, "}");
	return 0;
}

/* reset_all_statistics: every counter (gauges are current values) */
static int mi_reset_all_statistics(const struct mgmt_json_tok *t, int params,
				   struct mgmt_buf *out, const char **msg)
{
	unsigned i;
	int rc = no_params(t, params, msg);

	if (rc)
		return rc;
	for (i = 0; i < mgmt_stat_count(); i++)
		mgmt_stat_reset(mgmt_stat_at(i));
	mgmt_buf_puts(out, "\"OK\"");
	return 0;
}

/* ul_dump: the walk hands bindings record by record, so a new AOR starts a new entry */
struct dump_ctx {
	struct mgmt_buf *out;
	char *aor;		/* the AOR of the open entry (malloc'd copy), NULL before the first */
	size_t aor_len, aor_cap;
	int64_t now;
	int err;
	int first;		/* no contact written yet in the open entry */
	int one_aor;		/* ul_show_contact: aor is the caller's key, one entry only */
};

static void kv_str(struct mgmt_buf *b, const char *k, sy_str v, int comma)
{
	mgmt_buf_printf(b, "%s\"%s\":", comma ? "," : "", k);
	mgmt_buf_json_str(b, v);
}

static int dump_one(const struct store_binding *b, void *arg)
{
	struct dump_ctx *d = arg;
	struct mgmt_buf *o = d->out;

	if (!d->one_aor &&
	    (!d->aor || d->aor_len != b->aor.len || memcmp(d->aor, b->aor.s, b->aor.len) != 0)) {
		int first = d->aor == NULL;

		if (b->aor.len > d->aor_cap) {
			char *p = realloc(d->aor, b->aor.len + 1);

			if (!p) {
				d->err = ENOMEM;
				return ENOMEM;
			}
			d->aor = p;
			d->aor_cap = b->aor.len ? b->aor.len : 1;
		}
		mgmt_buf_puts(o, first ? "" : "]},");
		memcpy(d->aor, b->aor.s, b->aor.len);
		d->aor_len = b->aor.len;
		mgmt_buf_puts(o, "{");
		kv_str(o, "AOR", b->aor, 0);
		mgmt_buf_puts(o, ",\"Contacts\":[");
	} else if (!d->first) {
		mgmt_buf_puts(o, ",");
	}
	d->first = 0;
	mgmt_buf_puts(o, "{");
	kv_str(o, "Contact", b->contact, 0);
	mgmt_buf_printf(o, ",\"Expires\":%lld", (long long)(b->expires - d->now));
	if (b->q >= 0)
		mgmt_buf_printf(o, ",\"Q\":\"%d.%03d\"", b->q / 1000, b->q % 1000);
	else
		mgmt_buf_puts(o, ",\"Q\":\"\"");
	kv_str(o, "Callid", b->callid, 1);
	mgmt_buf_printf(o, ",\"Cseq\":%u", b->cseq);
	kv_str(o, "User-agent", b->user_agent, 1);
	kv_str(o, "Received", b->received, 1);
	kv_str(o, "Path", b->path, 1);
	kv_str(o, "SIP_instance", b->instance, 1);
	mgmt_buf_printf(o, ",\"Reg-Id\":%u,\"Flags\":%u,\"Methods\":%u,\"Last-Modified\":%lld}",
			b->reg_id, b->flags, b->methods, (long long)b->last_modified);
	return o->err;
}

static int mi_ul_dump(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		      const char **msg)
{
	struct dump_ctx d;
	int rc = no_params(t, params, msg);

	if (rc)
		return rc;
	memset(&d, 0, sizeof(d));
	d.out = out;
	d.now = ul_now();
	mgmt_buf_printf(out, "{\"Domains\":[{\"name\":\"location\",\"hash_size\":%u,\"AORs\":[",
			UL_SHARDS * 512u);
	rc = ul_dump(dump_one, &d);
	if (d.aor)
		mgmt_buf_puts(out, "]}");
	free(d.aor);
	if (rc) {
		*msg = rc == EMSGSIZE ? "the location table is too large for one response"
				      : "out of memory";
		return E_INTERNAL;
	}
	mgmt_buf_puts(out, "]}]}");
	return 0;
}

/* ul_show_contact / ul_rm params, OpenSIPS 3.x: {"table_name": "location", "aor": ...} or
 * ["location", aor]; an AOR written without a scheme ("alice@example.com") gets "sip:" as the
 * table keys canonical AORs (RFC 3261 §10.3 step 5) */
static int aor_param(const struct mgmt_json_tok *t, int params, char *aor, size_t cap,
		     size_t *len, const char **msg)
{
	int tb = -1, a = -1;
	char table[32];
	size_t n;

	if (params >= 0 && t[params].type == MGMT_JSON_OBJECT) {
		tb = mgmt_json_get(t, (unsigned)params, "table_name");
		a = mgmt_json_get(t, (unsigned)params, "aor");
	} else if (params >= 0 && t[params].n == 2) {
		tb = params + 1;
		a = (int)t[tb].end;
	}
	if (tb < 0 || a < 0 || mgmt_json_str(&t[tb], table, sizeof(table), &n) ||
	    mgmt_json_str(&t[a], aor + 4, cap - 4, len)) {
		*msg = "expected params table_name and aor (strings)";
		return E_PARAMS;
	}
	if (n != 8 || memcmp(table, "location", 8) != 0) {
		*msg = "unknown table (only \"location\")";
		return E_PARAMS;
	}
	if ((*len >= 4 && memcmp(aor + 4, "sip:", 4) == 0) ||
	    (*len >= 5 && memcmp(aor + 4, "sips:", 5) == 0)) {
		memmove(aor, aor + 4, *len);
	} else {
		memcpy(aor, "sip:", 4);
		*len += 4;
	}
	return 0;
}

static int mi_ul_show_contact(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
			      const char **msg)
{
	struct dump_ctx d;
	char aor[512];
	size_t n;
	int rc = aor_param(t, params, aor, sizeof(aor), &n, msg);

	if (rc)
		return rc;
	memset(&d, 0, sizeof(d));
	d.out = out;
	d.now = ul_now();
	d.one_aor = 1;	/* the entry is open already: contacts only */
	mgmt_buf_puts(out, "{\"Contacts\":[");
	d.first = 1;
	rc = ul_show_contact(sy_str_make(aor, n), dump_one, &d);
	if (rc == ENOENT || (!rc && d.first)) {
		*msg = "AOR not found";
		return 404;	/* OpenSIPS' MI error code for it */
	}
	if (rc) {
		*msg = "out of memory";
		return E_INTERNAL;
	}
	mgmt_buf_puts(out, "]}");
	return 0;
}

static int mi_ul_rm(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		    const char **msg)
{
	char aor[512];
	size_t n;
	int rc = aor_param(t, params, aor, sizeof(aor), &n, msg);

	if (rc)
		return rc;
	if (ul_remove_aor(sy_str_make(aor, n)) != 0) {
		*msg = "AOR not found";
		return 404;
	}
	mgmt_buf_puts(out, "\"OK\"");
	return 0;
}

/* ---- dispatcher. The destination table is immutable after load and each state is an
 * atomic (docs/internals.md), so the management thread reads it without a lock. */

static const char *ds_state_name(unsigned st)
{
	return st & DS_ST_INACTIVE ? "Inactive" : st & DS_ST_PROBING ? "Probing" : "Active";
}

/* ds_list [full]: OpenSIPS 3.x's shape, one "default" partition, sets in the order their
 * first destination was loaded */
static int mi_ds_list(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		      const char **msg)
{
	unsigned n = ds_dest_count(), i, j, k;
	int full = 0, f = -1, firstset = 1;

	if (params >= 0 && t[params].n != 0) {
		long long v = 0;

		if (t[params].type == MGMT_JSON_OBJECT)
			f = mgmt_json_get(t, (unsigned)params, "full");
		else if (t[params].n == 1)
			f = params + 1;
		if (f < 0 || (t[f].type != MGMT_JSON_TRUE && t[f].type != MGMT_JSON_FALSE &&
			      mgmt_json_int(&t[f], &v))) {
			*msg = "expected the optional param full (number or boolean)";
			return E_PARAMS;
		}
		full = t[f].type == MGMT_JSON_TRUE || v != 0;
	}
	mgmt_buf_puts(out, "{\"PARTITIONS\":[{\"name\":\"default\",\"SETS\":[");
	for (i = 0; i < n; i++) {
		const struct ds_dest *d = ds_dest_get(i);
		int first = 1;

		for (j = 0; j < i && ds_dest_get(j)->setid != d->setid; j++)
			;
		if (j < i)
			continue;	/* this set was written already */
		mgmt_buf_printf(out, "%s{\"id\":%u,\"Destinations\":[", firstset ? "" : ",",
				d->setid);
		firstset = 0;
		for (k = i; k < n; k++) {
			const struct ds_dest *e = ds_dest_get(k);

			if (e->setid != d->setid)
				continue;
			mgmt_buf_puts(out, first ? "{" : ",{");
			first = 0;
			kv_str(out, "URI", e->uri, 0);
			mgmt_buf_printf(out, ",\"state\":\"%s\"",
					ds_state_name(atomic_load(&e->state)));
			if (full) {
				mgmt_buf_printf(out, ",\"weight\":%u,\"priority\":%d", e->weight,
						e->priority);
				kv_str(out, "socket", e->socket, 1);
				kv_str(out, "attr", e->attrs, 1);
				kv_str(out, "description", e->description, 1);
			}
			mgmt_buf_puts(out, "}");
		}
		mgmt_buf_puts(out, "]}");
	}
	mgmt_buf_puts(out, "]}]}");
	return 0;
}

/* ds_set_state state group address [partition]: state a/i/p (as ds_mark_dst), the address as
 * in the table, with or without "sip:" */
static int mi_ds_set_state(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
			   const char **msg)
{
	int ts = -1, tg = -1, ta = -1, tp = -1;
	char state[4], addr[256], part[32];
	size_t ns, na, np;
	long long group;
	int rc;

	if (params >= 0 && t[params].type == MGMT_JSON_OBJECT) {
		ts = mgmt_json_get(t, (unsigned)params, "state");
		tg = mgmt_json_get(t, (unsigned)params, "group");
		ta = mgmt_json_get(t, (unsigned)params, "address");
		tp = mgmt_json_get(t, (unsigned)params, "partition");
	} else if (params >= 0 && (t[params].n == 3 || t[params].n == 4)) {
		ts = params + 1;
		tg = (int)t[ts].end;
		ta = (int)t[tg].end;
		if (t[params].n == 4)
			tp = (int)t[ta].end;
	}
	if (ts < 0 || tg < 0 || ta < 0 || mgmt_json_str(&t[ts], state, sizeof(state), &ns) ||
	    ns != 1 || mgmt_json_int(&t[tg], &group) || group < 0 || group > 0xffffffffLL ||
	    mgmt_json_str(&t[ta], addr + 4, sizeof(addr) - 4, &na)) {
		*msg = "expected params state (a, i or p), group (number) and address (string)";
		return E_PARAMS;
	}
	if (tp >= 0 && (mgmt_json_str(&t[tp], part, sizeof(part), &np) || np != 7 ||
			memcmp(part, "default", 7) != 0)) {
		*msg = "unknown partition (only \"default\")";
		return E_PARAMS;
	}
	if (!strchr("aAiIpP", state[0]) || !state[0]) {
		*msg = "state must be a, i or p";
		return E_PARAMS;
	}
	if (na >= 4 && (memcmp(addr + 4, "sip:", 4) == 0 || memcmp(addr + 4, "sips", 4) == 0)) {
		memmove(addr, addr + 4, na);
	} else {
		memcpy(addr, "sip:", 4);
		na += 4;
	}
	rc = ds_set_state((unsigned)group, sy_str_make(addr, na), state[0]);
	if (rc == ENOENT) {
		*msg = "destination not found";
		return 404;
	}
	if (rc) {
		*msg = "state not changed";
		return E_INTERNAL;
	}
	mgmt_buf_puts(out, "\"OK\"");
	return 0;
}

static const struct mi_cmd cmds[] = {
	{ "ds_list", mi_ds_list },
	{ "ds_set_state", mi_ds_set_state },
	{ "get_statistics", mi_get_statistics },
	{ "list_statistics", mi_list_statistics },
	{ "ps", mi_ps },
	{ "reset_all_statistics", mi_reset_all_statistics },
	{ "reset_statistics", mi_reset_statistics },
	{ "ul_dump", mi_ul_dump },
	{ "ul_rm", mi_ul_rm },
	{ "ul_show_contact", mi_ul_show_contact },
	{ "uptime", mi_uptime },
	{ "version", mi_version },
	{ "which", mi_which },
	{ NULL, NULL },
};

static int mi_which(const struct mgmt_json_tok *t, int params, struct mgmt_buf *out,
		    const char **msg)
{
	const struct mi_cmd *c;
	int rc = no_params(t, params, msg);

	if (rc)
		return rc;
	mgmt_buf_puts(out, "[");
	for (c = cmds; c->name; c++)
		mgmt_buf_printf(out, "%s\"%s\"", c == cmds ? "" : ",", c->name);
	mgmt_buf_puts(out, "]");
	return 0;
}

static void put_error(struct mgmt_buf *out, int code, const char *msg, sy_str id)
{
	mgmt_buf_printf(out, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":", code);
	mgmt_buf_json_str(out, sy_cstr(msg));
	mgmt_buf_puts(out, "},\"id\":");
	mgmt_buf_put(out, id.s, id.len);
	mgmt_buf_puts(out, "}");
}

int mgmt_mi_handle(const char *body, size_t len, struct mgmt_buf *out)
{
	/* a valid text has at most one token per two bytes ("1," or "[]"), so running out of
	 * tokens means the text is not JSON (e.g. "[[[[[[]": one token per byte, unclosed) */
	unsigned cap = (unsigned)(len / 2 + 2), ntok;
	struct mgmt_json_tok *t = malloc(cap * sizeof(*t));
	sy_str id = SY_STR("null");
	const struct mi_cmd *c;
	const char *msg = NULL;
	struct mgmt_buf res;
	char name[64];
	size_t nlen;
	int rc, m, p, i, ver, notify = 0;

	mgmt_buf_init(&res, out->max);
	if (!t) {
		put_error(out, E_INTERNAL, "out of memory", id);
		return 0;
	}
	rc = mgmt_json_parse(body, len, t, cap, &ntok);
	if (rc) {
		put_error(out, E_PARSE, "Parse error", id);
		goto out;
	}
	if (t[0].type == MGMT_JSON_ARRAY) {
		put_error(out, E_REQUEST, "batch requests are not supported", id);
		goto out;
	}
	if (t[0].type != MGMT_JSON_OBJECT) {
		put_error(out, E_REQUEST, "Invalid Request: not an object", id);
		goto out;
	}
	i = mgmt_json_get(t, 0, "id");
	if (i >= 0) {
		if (t[i].type != MGMT_JSON_STRING && t[i].type != MGMT_JSON_NUMBER &&
		    t[i].type != MGMT_JSON_NULL) {
			put_error(out, E_REQUEST, "Invalid Request: bad id", id);
			goto out;
		}
		/* the raw text of a string token lies between its quotes */
		id = t[i].type == MGMT_JSON_STRING ? sy_str_make(t[i].raw.s - 1, t[i].raw.len + 2)
						   : t[i].raw;
	} else {
		notify = 1;
	}
	ver = mgmt_json_get(t, 0, "jsonrpc");
	m = mgmt_json_get(t, 0, "method");
	p = mgmt_json_get(t, 0, "params");
	if (ver < 0 || t[ver].type != MGMT_JSON_STRING || t[ver].raw.len != 3 ||
	    memcmp(t[ver].raw.s, "2.0", 3) != 0) {
		put_error(out, E_REQUEST, "Invalid Request: jsonrpc must be \"2.0\"", id);
		goto out;
	}
	if (m < 0 || t[m].type != MGMT_JSON_STRING) {
		put_error(out, E_REQUEST, "Invalid Request: method must be a string", id);
		goto out;
	}
	if (p >= 0 && t[p].type != MGMT_JSON_OBJECT && t[p].type != MGMT_JSON_ARRAY) {
		put_error(out, E_REQUEST, "Invalid Request: params must be an object or array", id);
		goto out;
	}
	c = NULL;
	if (mgmt_json_str(&t[m], name, sizeof(name), &nlen) == 0)
		for (c = cmds; c->name; c++)
			if (strlen(c->name) == nlen && memcmp(c->name, name, nlen) == 0)
				break;
	if (!c || !c->name) {
		put_error(out, E_METHOD, "Method not found", id);
		goto out;
	}
	rc = c->fn(t, p, &res, &msg);
	if (!rc && res.err) {
		rc = E_INTERNAL;
		msg = res.err == EMSGSIZE ? "response too large" : "out of memory";
	}
	if (rc) {
		put_error(out, rc, msg ? msg : "error", id);
		goto out;
	}
	mgmt_buf_puts(out, "{\"jsonrpc\":\"2.0\",\"result\":");
	mgmt_buf_put(out, res.s, res.len);
	mgmt_buf_puts(out, ",\"id\":");
	mgmt_buf_put(out, id.s, id.len);
	mgmt_buf_puts(out, "}");
out:
	mgmt_buf_free(&res);
	free(t);
	/* JSON-RPC §4.1: a notification gets no response, even an error (a parse error has no
	 * id to tell, so it is answered) */
	if (notify) {
		out->len = 0;
		return ENODATA;
	}
	return 0;
}
