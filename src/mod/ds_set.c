/* ds_set.c: the dispatcher's destination table and its selection algorithms.
 * The table is built on the main thread at load (ds_table_add, ds_table_commit) and never
 * changes shape afterwards, so workers read it without a lock. What does change is per
 * destination (state, failure count: C11 atomics, written by any worker through ds_mark_dst
 * and by the prober thread) and per set (the round-robin and weight cursors: atomic
 * fetch-add). A selection reads each state once and never waits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "mod/dispatcher.h"
#include "proxy/proxy.h"
#include "tp/tp.h"

struct ds_config ds_cfg = {
	.probing_threshold = 3,
	.ping_interval = 0,
	.probing_mode = 0,
	.ping_method = "OPTIONS",
	.ping_from = "sip:dispatcher@localhost",
	.ping_maxfwd = -1,
};

#define DS_MAX_DESTS 4096u
#define DS_WT_SLOTS 100u	/* weight table: one cycle of 100 picks (Kamailio's alg 9) */

static struct ds_dest *dests;	/* ndests, in the order added */
static unsigned ndests, capdests;
static struct ds_set *sets;
static unsigned nsets;

unsigned ds_dest_count(void)
{
	return ndests;
}

struct ds_dest *ds_dest_get(unsigned idx)
{
	return idx < ndests ? &dests[idx] : NULL;
}

static struct ds_set *set_by_id(unsigned id)
{
	unsigned i;

	for (i = 0; i < nsets; i++)
		if (sets[i].id == id)
			return &sets[i];
	return NULL;
}

const struct ds_set *ds_set_find(unsigned id)
{
	return set_by_id(id);
}

static char *dup_str(sy_str s)
{
	char *p = malloc(s.len + 1);

	if (p) {
		if (s.len)
			memcpy(p, s.s, s.len);
		p[s.len] = '\0';
	}
	return p;
}

static void free_dest(struct ds_dest *d)
{
	free((char *)d->uri.s);
	free((char *)d->socket.s);
	free((char *)d->attrs.s);
	free((char *)d->description.s);
}

void ds_table_free(void)
{
	unsigned i;

	for (i = 0; i < ndests; i++)
		free_dest(&dests[i]);
	for (i = 0; i < nsets; i++) {
		free(sets[i].d);
		free(sets[i].rr);
		free(sets[i].wt);
	}
	free(dests);
	free(sets);
	dests = NULL;
	sets = NULL;
	ndests = capdests = nsets = 0;
}

/* where the URI points: proto from scheme/;transport, host/port as written, the address
 * resolved now (numeric, or a name px_dns_add resolves on this, the main, thread) */
int ds_uri_check(sy_str uri, struct sip_uri *u, enum sy_proto *proto, const char **why)
{
	if (sip_uri_parse(uri, u) || (u->scheme != SIP_URI_SIP && u->scheme != SIP_URI_SIPS) ||
	    !u->host.len) {
		*why = "destination is not a sip: or sips: URI with a host";
		return EINVAL;
	}
	*proto = u->scheme == SIP_URI_SIPS ? SY_PROTO_TLS : SY_PROTO_UDP;
	if (u->transport.len) {
		if (sy_str_caseeq_c(u->transport, "tcp"))
			*proto = u->scheme == SIP_URI_SIPS ? SY_PROTO_TLS : SY_PROTO_TCP;
		else if (sy_str_caseeq_c(u->transport, "tls"))
			*proto = SY_PROTO_TLS;
		else if (!sy_str_caseeq_c(u->transport, "udp")) {
			*why = "destination transport must be udp, tcp or tls";
			return EINVAL;
		}
	}
	if (u->port > 65535) {
		*why = "destination port out of range";
		return EINVAL;
	}
	return 0;
}

static int dest_resolve(struct ds_dest *d, const char **why)
{
	struct sip_uri u;
	struct sy_dest r;
	char buf[300];
	int n;

	if (ds_uri_check(d->uri, &u, &d->proto, why))
		return EINVAL;
	d->host = u.host;
	d->port = u.port ? u.port : (d->proto == SY_PROTO_TLS ? 5061 : 5060);
	if (!sy_str_caseeq_c(u.host, "localhost") && u.host.s[0] != '[' &&
	    tp_addr_parse(u.host, d->port, &d->addr) != 0 && px_dns_add(u.host) != 0) {
		*why = "cannot resolve the destination's host name";
		return EHOSTUNREACH;
	}
	/* px_resolve's UDP form: the listen table does not exist yet at load */
	n = snprintf(buf, sizeof(buf), "sip:%.*s:%u", SY_FMT(u.host), d->port);
	if (n <= 0 || (size_t)n >= sizeof(buf) || px_resolve(sy_str_make(buf, (size_t)n), &r)) {
		*why = "cannot resolve the destination";
		return EHOSTUNREACH;
	}
	d->addr = r.addr;
	return 0;
}

int ds_table_add(const struct ds_new *nd, const char **why)
{
	struct ds_dest *d;
	int rc;

	if (ndests >= DS_MAX_DESTS) {
		*why = "more than 4096 destinations";
		return ENOSPC;
	}
	if (ndests == capdests) {
		unsigned nc = capdests ? capdests * 2 : 16;
		struct ds_dest *nv = realloc(dests, nc * sizeof(*nv));

		if (!nv) {
			*why = "out of memory";
			return ENOMEM;
		}
		dests = nv;
		capdests = nc;
	}
	d = &dests[ndests];
	memset(d, 0, sizeof(*d));
	d->idx = ndests;
	d->setid = nd->setid;
	d->weight = nd->weight ? nd->weight : 1;
	d->priority = nd->priority;
	d->lflags = nd->lflags;
	atomic_init(&d->state, nd->state & (DS_ST_INACTIVE | DS_ST_PROBING));
	atomic_init(&d->fails, 0);
	atomic_init(&d->pending, 0);
	atomic_init(&d->inflight, 0);
	d->uri.s = dup_str(nd->uri);
	d->uri.len = nd->uri.len;
	d->socket.s = dup_str(nd->socket);
	d->socket.len = nd->socket.len;
	d->attrs.s = dup_str(nd->attrs);
	d->attrs.len = nd->attrs.len;
	d->description.s = dup_str(nd->description);
	d->description.len = nd->description.len;
	if (!d->uri.s || !d->socket.s || !d->attrs.s || !d->description.s) {
		*why = "out of memory";
		rc = ENOMEM;
		goto out;
	}
	rc = dest_resolve(d, why);
out:
	if (rc)
		free_dest(d);
	else
		ndests++;
	return rc;
}

static struct ds_set *set_get(unsigned id)
{
	struct ds_set *s = set_by_id(id), *nv;

	if (s)
		return s;
	nv = realloc(sets, (nsets + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	sets = nv;
	s = &sets[nsets++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	atomic_init(&s->rr_next, 0);
	atomic_init(&s->wt_next, 0);
	return s;
}

/* the weight table: each destination gets round(100 * w / sum) slots (the largest
 * remainders take the slots rounding left), interleaved so that a short run of picks is
 * already spread (slot k of destination i at position k * 100 / count_i, then the next free) */
static int build_wt(struct ds_set *s)
{
	unsigned cnt[DS_MAX_CAND * 4], i, k, total = 0, sum = 0, nd = s->n;
	unsigned char used[DS_WT_SLOTS];

	if (nd > sizeof(cnt) / sizeof(cnt[0]))
		nd = sizeof(cnt) / sizeof(cnt[0]);
	for (i = 0; i < nd; i++)
		sum += dests[s->d[i]].weight;
	for (i = 0; i < nd; i++) {
		cnt[i] = (unsigned)((unsigned long long)dests[s->d[i]].weight * DS_WT_SLOTS / sum);
		total += cnt[i];
	}
	while (total < DS_WT_SLOTS) {
		/* the destination furthest below its share gets the next slot */
		unsigned best = 0;
		double bd = -1e9;

		for (i = 0; i < nd; i++) {
			double share = (double)dests[s->d[i]].weight * DS_WT_SLOTS / sum;
			double def = share - cnt[i];

			if (def > bd) {
				bd = def;
				best = i;
			}
		}
		cnt[best]++;
		total++;
	}
	s->wt = malloc(DS_WT_SLOTS * sizeof(unsigned));
	if (!s->wt)
		return ENOMEM;
	memset(used, 0, sizeof(used));
	for (i = 0; i < nd; i++)
		for (k = 0; k < cnt[i]; k++) {
			unsigned pos = (unsigned)((unsigned long long)k * DS_WT_SLOTS / cnt[i] + i) %
				       DS_WT_SLOTS;

			while (used[pos])
				pos = (pos + 1) % DS_WT_SLOTS;
			used[pos] = 1;
			s->wt[pos] = s->d[i];
		}
	s->nwt = DS_WT_SLOTS;
	return 0;
}

int ds_table_commit(void)
{
	unsigned i, j;

	for (i = 0; i < nsets; i++) {
		free(sets[i].d);
		free(sets[i].rr);
		free(sets[i].wt);
	}
	free(sets);
	sets = NULL;
	nsets = 0;
	for (i = 0; i < ndests; i++) {
		struct ds_set *s = set_get(dests[i].setid);
		unsigned *nv;

		if (!s)
			return ENOMEM;
		nv = realloc(s->d, (s->n + 1) * sizeof(*nv));
		if (!nv)
			return ENOMEM;
		s->d = nv;
		/* insertion by priority, highest first; equal priorities keep the load order */
		for (j = s->n; j > 0 && dests[s->d[j - 1]].priority < dests[i].priority; j--)
			s->d[j] = s->d[j - 1];
		s->d[j] = i;
		s->n++;
	}
	for (i = 0; i < nsets; i++) {
		struct ds_set *s = &sets[i];
		unsigned total = 0, k, pos = 0;

		for (j = 0; j < s->n; j++)
			total += dests[s->d[j]].weight > 100 ? 100 : dests[s->d[j]].weight;
		s->rr = malloc(total * sizeof(unsigned));
		if (!s->rr)
			return ENOMEM;
		for (j = 0; j < s->n; j++) {
			unsigned w = dests[s->d[j]].weight > 100 ? 100 : dests[s->d[j]].weight;

			for (k = 0; k < w; k++)
				s->rr[pos++] = s->d[j];
		}
		s->nrr = total;
		if (build_wt(s))
			return ENOMEM;
	}
	return 0;
}

/* "[proto:]host[:port]" -> host (IPv6 with []), port (0 when absent) */
static void split_socket(sy_str s, sy_str *host, unsigned *port)
{
	const char *c;
	size_t i;

	for (i = 0; i < s.len && s.s[i] != ':' && s.s[i] != '['; i++)
		;
	if (i < s.len && s.s[i] == ':' && i >= 2 && i <= 3) {
		s.s += i + 1;	/* udp: tcp: tls: ws: wss: */
		s.len -= i + 1;
	}
	*port = 0;
	c = s.len && s.s[0] == '[' ? memchr(s.s, ']', s.len) : NULL;
	c = memchr(c ? c : s.s, ':', s.len - (size_t)((c ? c : s.s) - s.s));
	*host = c ? sy_str_make(s.s, (size_t)(c - s.s)) : s;
	if (c) {
		for (c++; c < s.s + s.len && *c >= '0' && *c <= '9' && *port < 65536; c++)
			*port = *port * 10 + (unsigned)(*c - '0');
	}
}

int ds_table_check(FILE *err)
{
	unsigned i, bad = 0;

	for (i = 0; i < ndests; i++) {
		const struct ds_dest *d = &dests[i];
		struct sy_dest sd;
		const struct tp_listen *l;

		memset(&sd, 0, sizeof(sd));
		sd.proto = d->proto;
		sd.addr = d->addr;
		sd.listen_idx = -1;
		l = tp_listen_pick(&sd);
		if (!l || l->proto != d->proto) {
			if (err)
				fprintf(err, "dispatcher: %.*s (set %u): no listen of its transport\n",
					SY_FMT(d->uri), d->setid);
			bad++;
			continue;
		}
		if (d->socket.len) {
			sy_str host;
			unsigned port;

			split_socket(d->socket, &host, &port);
			if (!tp_listen_match(host, port)) {
				if (err)
					fprintf(err, "dispatcher: %.*s (set %u): socket %.*s is not one of "
						"our listens\n", SY_FMT(d->uri), d->setid,
						SY_FMT(d->socket));
				bad++;
			} else if (!sy_str_caseeq(host, sy_cstr(l->host)) ||
				   (port && port != l->port)) {
				LOG_WARN("dispatcher: %.*s (set %u): socket %.*s is not used, requests "
					 "to it leave from %s:%u (the first listen of its transport)",
					 SY_FMT(d->uri), d->setid, SY_FMT(d->socket), l->host, l->port);
			}
		}
	}
	return bad ? EINVAL : 0;
}

int ds_flags_parse(sy_str s, unsigned *out)
{
	size_t i;

	*out = 0;
	for (i = 0; i < s.len; i++) {
		switch (s.s[i]) {
		case 'f': case 'F': *out |= DS_F_FAILOVER; break;
		case 'u': case 'U': *out |= DS_F_USER; break;
		case 'd': case 'D': *out |= DS_F_DEFAULT; break;
		case ' ': break;
		default: return EINVAL;
		}
	}
	return 0;
}

/* FNV-1a, 32 bits: stable across runs, so a call keeps its destination after a restart too */
uint32_t ds_hash(sy_str s)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < s.len; i++) {
		h ^= (unsigned char)s.s[i];
		h *= 16777619u;
	}
	return h;
}

/* "user@host" of a URI (OpenSIPS hashes those two parts), or the user alone with 'u' */
static uint32_t uri_hash(const struct sip_uri *u, unsigned flags)
{
	uint32_t h;

	if (!u)
		return 0;
	h = ds_hash(u->user);
	if (flags & DS_F_USER)
		return h;
	return h * 31u + ds_hash(u->host);
}

static int usable(unsigned idx)
{
	return atomic_load_explicit(&dests[idx].state, memory_order_relaxed) == 0;
}

/* thread-local xorshift for algorithm 6: no shared state, no lock */
static uint32_t rnd(void)
{
	static _Thread_local uint32_t x;

	if (!x)
		x = (uint32_t)(uintptr_t)&x ^ 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

int ds_select(unsigned setid, int alg, unsigned flags, unsigned max, const struct ds_keys *k,
	      struct ds_failover *f)
{
	struct ds_set *s = set_by_id(setid);
	unsigned n, pos, i, first = 0, dflt = 0, found = 0;
	int have_dflt;

	memset(f, 0, sizeof(*f));
	if (!s || !s->n)
		return ENOENT;
	n = s->n;
	have_dflt = (flags & DS_F_DEFAULT) && n > 1;
	if (have_dflt) {
		dflt = s->d[n - 1];	/* the last one waits until every other failed */
		n--;
	}
	switch (alg) {
	case DS_ALG_CALLID:
		pos = ds_hash(k->callid) % n;
		break;
	case DS_ALG_FROM:
		pos = uri_hash(k->from, flags) % n;
		break;
	case DS_ALG_TO:
		pos = uri_hash(k->to, flags) % n;
		break;
	case DS_ALG_RURI:
		pos = uri_hash(k->ruri, flags) % n;
		break;
	case DS_ALG_AUTHUSER:
		if (k->authuser.len) {
			pos = ds_hash(k->authuser) % n;
			break;
		}
		/* OpenSIPS: no credentials, weighted round robin */
		alg = DS_ALG_RR;
		goto cursor;
	case DS_ALG_RANDOM:
		pos = rnd() % n;
		break;
	case DS_ALG_FIRST:
		pos = 0;
		break;
	case DS_ALG_LOAD: {
		/* the active one with the fewest transactions in flight; ties go round, from a
		 * cursor, so an idle set is used evenly */
		unsigned best = ~0u, start = (unsigned)(atomic_fetch_add_explicit(
				&s->rr_next, 1, memory_order_relaxed) % n);

		pos = start;
		for (i = 0; i < n; i++) {
			unsigned p = (start + i) % n, load;

			if (!usable(s->d[p]))
				continue;
			load = atomic_load_explicit(&dests[s->d[p]].inflight, memory_order_relaxed);
			if (load < best) {
				best = load;
				pos = p;
			}
		}
		break;
	}
	case DS_ALG_RR:
	case DS_ALG_WEIGHT:
	cursor: {
		/* a cursor over the weighted table; an inactive pick moves on to the next slot,
		 * so the active ones share the load in their proportions */
		const unsigned *tab = alg == DS_ALG_RR ? s->rr : s->wt;
		unsigned tn = alg == DS_ALG_RR ? s->nrr : s->nwt, t, idx = 0;
		atomic_ulong *cur = alg == DS_ALG_RR ? &s->rr_next : &s->wt_next;

		for (t = 0; t < tn; t++) {
			idx = tab[atomic_fetch_add_explicit(cur, 1, memory_order_relaxed) % tn];
			if (usable(idx) && !(have_dflt && idx == dflt))
				break;
		}
		pos = 0;
		if (t < tn)
			for (pos = 0; pos < n && s->d[pos] != idx; pos++)
				;
		if (pos >= n)
			pos = 0;
		break;
	}
	default:
		return EINVAL;
	}
	/* the chosen one if active, else the next active one in the set's order (hashes keep
	 * their mapping for every call whose destination is still up) */
	for (i = 0; i < n && !found; i++)
		if (usable(s->d[(pos + i) % n])) {
			first = (pos + i) % n;
			found = 1;
		}
	f->setid = setid;
	f->flags = flags;
	if (found) {
		f->last = s->d[first];
		/* the others in failover order: after the chosen one, wrapping (active only) */
		for (i = 1; i < n && f->n < DS_MAX_CAND; i++) {
			unsigned idx = s->d[(first + i) % n];

			if (usable(idx))
				f->cand[f->n++] = idx;
		}
	} else if (have_dflt && usable(dflt)) {
		f->last = dflt;
		have_dflt = 0;
		found = 1;
	}
	if (!found)
		return EHOSTUNREACH;
	if (have_dflt && usable(dflt) && f->n < DS_MAX_CAND)
		f->cand[f->n++] = dflt;
	if (max && f->n + 1 > max)
		f->n = max - 1;
	return 0;
}

void ds_inflight_add(unsigned idx, int d)
{
	struct ds_dest *x = ds_dest_get(idx);
	unsigned v;

	if (!x)
		return;
	if (d > 0) {
		atomic_fetch_add(&x->inflight, 1);
		return;
	}
	v = atomic_load(&x->inflight);
	while (v && !atomic_compare_exchange_weak(&x->inflight, &v, v - 1))
		;
}

int ds_mark(unsigned idx, char state)
{
	struct ds_dest *d = ds_dest_get(idx);
	unsigned old, want;

	if (!d)
		return -1;
	switch (state) {
	case 'a': case 'A': case '1':
		atomic_store(&d->fails, 0);
		atomic_store(&d->pending, 0);	/* a ping sent before does not count any more */
		want = 0;
		break;
	case 'i': case 'I': case '0':
		want = DS_ST_INACTIVE;
		break;
	case 'p': case 'P': case '2':
		/* OpenSIPS: probing only after probing_threshold marks in a row */
		if (atomic_fetch_add(&d->fails, 1) + 1 < ds_cfg.probing_threshold)
			return 0;
		want = DS_ST_PROBING;
		break;
	default:
		return -1;
	}
	old = atomic_exchange(&d->state, want);
	return old != want;
}

int ds_ping_result(unsigned idx, int ok)
{
	struct ds_dest *d = ds_dest_get(idx);
	unsigned st;

	if (!d)
		return 0;
	if (ok) {
		atomic_store(&d->fails, 0);
		/* only what probing took out comes back; an operator's "inactive" stays (and a
		 * change is reported only when the destination is selectable again) */
		st = atomic_fetch_and(&d->state, ~DS_ST_PROBING);
		return st == DS_ST_PROBING;
	}
	if (atomic_fetch_add(&d->fails, 1) + 1 < ds_cfg.probing_threshold)
		return 0;
	st = atomic_fetch_or(&d->state, DS_ST_PROBING);
	return st == 0;		/* reported when an active one goes out */
}

int ds_set_state(unsigned setid, sy_str uri, char state)
{
	unsigned i;

	for (i = 0; i < ndests; i++)
		if (dests[i].setid == setid && sy_str_eq(dests[i].uri, uri)) {
			if (state == 'p' || state == 'P' || state == '2') {
				/* an explicit order: no threshold */
				atomic_store(&dests[i].state, DS_ST_PROBING);
				return 0;
			}
			return ds_mark(i, state) < 0 ? EINVAL : 0;
		}
	return ENOENT;
}

int ds_in_list(sy_str ip, unsigned port, long set, int active_only, unsigned *setid_out)
{
	struct sy_addr a;
	unsigned i;

	if (tp_addr_parse(ip, port ? port : 5060, &a))
		return 0;
	for (i = 0; i < ndests; i++) {
		const struct ds_dest *d = &dests[i];

		if (set >= 0 && d->setid != (unsigned long)set)
			continue;
		if (active_only && !usable(i))
			continue;
		if (!tp_addr_same_ip(&a, &d->addr))
			continue;
		if (port && tp_addr_port(&d->addr) != port)
			continue;
		if (setid_out)
			*setid_out = d->setid;
		return 1;
	}
	return 0;
}
