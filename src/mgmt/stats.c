/* stats.c: the statistics table the MI (get_statistics, reset_statistics) and GET /metrics
 * show: OpenSIPS group:name pairs over the per-worker counters of core/stats.h, a few sums
 * of them (sl:sent_replies ...) and gauges read when asked (tm:inuse_transactions, the
 * location table's sizes). Prometheus text format 0.0.4 and the health verdict too. */
#include <errno.h>
#include <string.h>

#include "core/loop.h"
#include "core/stats.h"
#include "mgmt/mgmt.h"
#include "mod/usrloc.h"
#include "tm/tm.h"

static uint64_t g_tm_inuse(void)
{
	return tm_count();
}

static uint64_t g_ul_aors(void)
{
	unsigned long a, c;

	ul_stats(&a, &c);
	return a;
}

static uint64_t g_ul_contacts(void)
{
	unsigned long a, c;

	ul_stats(&a, &c);
	return c;
}

#define C(g, n, id, h) { g, n, h, 0, id, 1, NULL }
#define SUM(g, n, id, k, h) { g, n, h, 0, id, k, NULL }
#define G(g, n, f, h) { g, n, h, 1, 0, 0, f }

static const struct mgmt_stat table[] = {
	C("core", "rcv_requests", SY_ST_RCV_REQUESTS, "SIP requests received (that parsed)"),
	C("core", "rcv_replies", SY_ST_RCV_REPLIES, "SIP replies received (that parsed)"),
	C("core", "fwd_requests", SY_ST_FWD_REQUESTS, "Requests forwarded statelessly"),
	C("core", "fwd_replies", SY_ST_FWD_REPLIES, "Replies relayed statelessly by Via"),
	C("core", "drop_requests", SY_ST_DROP_REQUESTS,
	  "Requests discarded (an ACK failing the checks, drop in the route)"),
	C("core", "drop_replies", SY_ST_DROP_REPLIES,
	  "Replies discarded (malformed, not for us, dropped in onreply_route, no destination)"),
	C("core", "bad_msg_hdr", SY_ST_BAD_MSG,
	  "Messages that did not parse (requests among them were answered 400/505/513)"),
	C("sl", "1xx_replies", SY_ST_SL_1XX, "Stateless 1xx replies sent"),
	C("sl", "2xx_replies", SY_ST_SL_1XX + 1, "Stateless 2xx replies sent"),
	C("sl", "3xx_replies", SY_ST_SL_1XX + 2, "Stateless 3xx replies sent"),
	C("sl", "4xx_replies", SY_ST_SL_1XX + 3, "Stateless 4xx replies sent"),
	C("sl", "5xx_replies", SY_ST_SL_1XX + 4, "Stateless 5xx replies sent"),
	C("sl", "6xx_replies", SY_ST_SL_1XX + 5, "Stateless 6xx replies sent"),
	SUM("sl", "sent_replies", SY_ST_SL_1XX, 6, "Stateless replies sent"),
	SUM("sl", "sent_err_replies", SY_ST_SL_1XX + 2, 4, "Stateless 3xx-6xx replies sent"),
	C("tm", "UAS_transactions", SY_ST_TM_UAS, "Server transactions created"),
	C("tm", "UAC_transactions", SY_ST_TM_UAC, "Client transactions (branches) created"),
	G("tm", "inuse_transactions", g_tm_inuse, "Transactions alive now"),
	C("tm", "received_replies", SY_ST_TM_RCV_REPLIES, "Replies matched to a branch"),
	SUM("tm", "relayed_replies", SY_ST_TM_RELAYED_1XX, 6, "Replies relayed upstream"),
	SUM("tm", "local_replies", SY_ST_TM_LOCAL_1XX, 6,
	    "Replies generated locally and sent upstream"),
	C("tm", "relayed_1xx_replies", SY_ST_TM_RELAYED_1XX, "1xx replies relayed upstream"),
	C("tm", "relayed_2xx_replies", SY_ST_TM_RELAYED_1XX + 1, "2xx replies relayed upstream"),
	C("tm", "relayed_3xx_replies", SY_ST_TM_RELAYED_1XX + 2, "3xx replies relayed upstream"),
	C("tm", "relayed_4xx_replies", SY_ST_TM_RELAYED_1XX + 3, "4xx replies relayed upstream"),
	C("tm", "relayed_5xx_replies", SY_ST_TM_RELAYED_1XX + 4, "5xx replies relayed upstream"),
	C("tm", "relayed_6xx_replies", SY_ST_TM_RELAYED_1XX + 5, "6xx replies relayed upstream"),
	C("tm", "local_408_replies", SY_ST_TM_LOCAL_408,
	  "Local 408 replies (a branch timed out, or t_reply(408))"),
	C("tm", "2xx_transactions", SY_ST_TM_FINAL_1XX + 1, "Transactions answered 2xx"),
	C("tm", "3xx_transactions", SY_ST_TM_FINAL_1XX + 2, "Transactions answered 3xx"),
	C("tm", "4xx_transactions", SY_ST_TM_FINAL_1XX + 3, "Transactions answered 4xx"),
	C("tm", "5xx_transactions", SY_ST_TM_FINAL_1XX + 4, "Transactions answered 5xx"),
	C("tm", "6xx_transactions", SY_ST_TM_FINAL_1XX + 5, "Transactions answered 6xx"),
	C("registrar", "accepted_regs", SY_ST_REG_ACCEPTED, "REGISTERs answered 2xx by save()"),
	C("registrar", "rejected_regs", SY_ST_REG_REJECTED,
	  "REGISTERs answered with an error by save()"),
	G("usrloc", "registered_users", g_ul_aors,
	  "Addresses of record in the location table"),
	G("usrloc", "location-users", g_ul_aors, "Addresses of record in the location table"),
	G("usrloc", "location-contacts", g_ul_contacts, "Contacts in the location table"),
};

#define NSTATS (sizeof(table) / sizeof(table[0]))
_Static_assert(NSTATS <= MGMT_STAT_MAX, "MGMT_STAT_MAX too small");

unsigned mgmt_stat_count(void)
{
	return (unsigned)NSTATS;
}

const struct mgmt_stat *mgmt_stat_at(unsigned i)
{
	return i < NSTATS ? &table[i] : NULL;
}

uint64_t mgmt_stat_value(const struct mgmt_stat *st)
{
	uint64_t v = 0;
	int i;

	if (st->gauge)
		return st->fn();
	for (i = 0; i < st->n; i++)
		v += sy_stat_get((enum sy_stat)(st->first + i));
	return v;
}

int mgmt_stat_reset(const struct mgmt_stat *st)
{
	int i;

	if (st->gauge)
		return EPERM;
	for (i = 0; i < st->n; i++)
		sy_stat_reset((enum sy_stat)(st->first + i));
	return 0;
}

int mgmt_stat_select(sy_str name, unsigned char *sel)
{
	const char *colon = memchr(name.s, ':', name.len);
	int found = 0;
	unsigned i;

	if (name.len == 3 && memcmp(name.s, "all", 3) == 0) {
		memset(sel, 1, NSTATS);
		return 0;
	}
	for (i = 0; i < NSTATS; i++) {
		const struct mgmt_stat *st = &table[i];
		sy_str g = sy_cstr(st->group), n = sy_cstr(st->name);
		int hit;

		if (!colon) {
			hit = sy_str_eq(name, n);
		} else {
			sy_str ng = sy_str_make(name.s, (size_t)(colon - name.s));
			sy_str nn = sy_str_make(colon + 1, name.len - ng.len - 1);

			hit = sy_str_eq(ng, g) && (nn.len == 0 || sy_str_eq(nn, n));
		}
		if (hit) {
			sel[i] = 1;
			found = 1;
		}
	}
	return found ? 0 : ENOENT;
}

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*; OpenSIPS' "location-users" becomes
 * "location_users" */
static void put_name(struct mgmt_buf *b, const char *s)
{
	for (; *s; s++) {
		char c = *s;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_';

		mgmt_buf_put(b, ok ? &c : "_", 1);
	}
}

static void put_full(struct mgmt_buf *b, const char *prefix, const struct mgmt_stat *st)
{
	if (*prefix) {
		put_name(b, prefix);
		mgmt_buf_put(b, "_", 1);
	}
	put_name(b, st->group);
	mgmt_buf_put(b, "_", 1);
	put_name(b, st->name);
	if (!st->gauge)
		mgmt_buf_puts(b, "_total");
}

void mgmt_metrics(struct mgmt_buf *b, const char *prefix, const unsigned char *sel,
		  uint64_t now_ms)
{
	unsigned i;
	int w, n = sy_worker_count();

	for (i = 0; i < NSTATS; i++) {
		const struct mgmt_stat *st = &table[i];

		if (sel && !sel[i])
			continue;
		mgmt_buf_puts(b, "# HELP ");
		put_full(b, prefix, st);
		mgmt_buf_printf(b, " %s\n# TYPE ", st->help);
		put_full(b, prefix, st);
		mgmt_buf_puts(b, st->gauge ? " gauge\n" : " counter\n");
		put_full(b, prefix, st);
		mgmt_buf_printf(b, " %llu\n", (unsigned long long)mgmt_stat_value(st));
	}
	mgmt_buf_puts(b, "# HELP ");
	if (*prefix) {
		put_name(b, prefix);
		mgmt_buf_put(b, "_", 1);
	}
	mgmt_buf_puts(b, "worker_heartbeat_age_seconds Seconds since each worker's event loop "
			 "last turned\n# TYPE ");
	if (*prefix) {
		put_name(b, prefix);
		mgmt_buf_put(b, "_", 1);
	}
	mgmt_buf_puts(b, "worker_heartbeat_age_seconds gauge\n");
	for (w = 0; w < n; w++) {
		uint64_t beat = sy_stats_beat_of(w);
		uint64_t age = beat && now_ms > beat ? now_ms - beat : 0;

		if (*prefix) {
			put_name(b, prefix);
			mgmt_buf_put(b, "_", 1);
		}
		mgmt_buf_printf(b, "worker_heartbeat_age_seconds{worker=\"%d\"} %llu.%03llu\n", w,
				(unsigned long long)(age / 1000), (unsigned long long)(age % 1000));
	}
}

unsigned mgmt_health(struct mgmt_buf *b, uint64_t now_ms, uint64_t max_age_ms)
{
	int w, n = sy_worker_count(), ok = n > 0;

	mgmt_buf_puts(b, "{\"workers\":[");
	for (w = 0; w < n; w++) {
		uint64_t beat = sy_stats_beat_of(w);
		uint64_t age = now_ms > beat ? now_ms - beat : 0;
		int alive = beat != 0 && age <= max_age_ms;

		ok &= alive;
		mgmt_buf_printf(b, "%s{\"id\":%d,\"heartbeat_age_ms\":", w ? "," : "", w);
		if (beat)
			mgmt_buf_printf(b, "%llu", (unsigned long long)age);
		else
			mgmt_buf_puts(b, "null");
		mgmt_buf_printf(b, ",\"ok\":%s}", alive ? "true" : "false");
	}
	mgmt_buf_printf(b, "],\"status\":\"%s\"}\n", ok ? "ok" : "unhealthy");
	return ok ? 200 : 503;
}
