/* mgmt.h: the management listener (docs/mgmt.md): JSON-RPC MI at POST /mi, Prometheus text at
 * GET /metrics, GET /health, on its own thread with its own epoll (never a worker's: an MI
 * command may take a read lock of the location table or a slow client may hold a
 * connection, and a worker must never wait for either). The script units "httpd",
 * "mi_http" and "prometheus" configure it the OpenSIPS way. Also the pieces the unit tests and
 * the fuzz targets reach: the output buffer, the statistics table, the MI dispatcher. */
#ifndef MGMT_MGMT_H
#define MGMT_MGMT_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "script/api.h"

/* the script units (src/mod/units.c lists them) */
extern const struct scr_unit mgmt_httpd_unit;
extern const struct scr_unit mgmt_mi_http_unit;
extern const struct scr_unit mgmt_prometheus_unit;

/* ---- buf.c: a growing output buffer (the management thread's, not the hot path's). A
 * failed growth or passing max sets err and later writes do nothing. */
struct mgmt_buf {
	char *s;
	size_t len, cap, max;
	int err;		/* ENOMEM or EMSGSIZE once something did not fit */
};
void mgmt_buf_init(struct mgmt_buf *b, size_t max);
void mgmt_buf_free(struct mgmt_buf *b);
void mgmt_buf_put(struct mgmt_buf *b, const char *s, size_t n);
void mgmt_buf_puts(struct mgmt_buf *b, const char *s);
void mgmt_buf_printf(struct mgmt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s as a JSON string, quotes included (RFC 8259 §7); bytes that are not UTF-8 become U+FFFD */
void mgmt_buf_json_str(struct mgmt_buf *b, sy_str s);

/* ---- stats.c: the statistics the MI and /metrics show */
struct mgmt_stat {
	const char *group;	/* "core", "sl", "tm", "usrloc", "registrar" */
	const char *name;	/* OpenSIPS name: "rcv_requests", "UAS_transactions" */
	const char *help;
	int gauge;		/* 0: counter (resettable), 1: gauge (a current value) */
	int first, n;		/* counter: the sum of enum sy_stat first .. first + n - 1 */
	uint64_t (*fn)(void);	/* gauge: its current value */
};
#define MGMT_STAT_MAX 64	/* rows of the table at most (selection arrays) */
unsigned mgmt_stat_count(void);
const struct mgmt_stat *mgmt_stat_at(unsigned i);
uint64_t mgmt_stat_value(const struct mgmt_stat *st);
/* a counter reads 0 from now on (its parts, for a sum); EPERM for a gauge */
int mgmt_stat_reset(const struct mgmt_stat *st);
/* Select statistics by an MI name: "all", "group:" (every one of the group), "group:name",
 * or a bare "name" (every group's). Sets sel[i] for table row i; 0, or ENOENT (none). */
int mgmt_stat_select(sy_str name, unsigned char *sel);
/* the Prometheus text format 0.0.4 of the statistics sel marks (NULL: all), names
 * <prefix>_<group>_<name> (counters with _total), plus the workers' heartbeat ages at now_ms */
void mgmt_metrics(struct mgmt_buf *b, const char *prefix, const unsigned char *sel,
		  uint64_t now_ms);
/* GET /health: 200 when every worker's loop turned within max_age_ms of now_ms, else 503;
 * a JSON body with each worker's heartbeat age */
unsigned mgmt_health(struct mgmt_buf *b, uint64_t now_ms, uint64_t max_age_ms);

/* ---- mi.c: one JSON-RPC 2.0 request body in, the response body out. 0 with *out filled,
 * or ENODATA for a notification (no "id": no response body, HTTP 204). */
int mgmt_mi_handle(const char *body, size_t len, struct mgmt_buf *out);
/* what MI uptime/ps report: set by the listener at start */
void mgmt_mi_set_info(int64_t start_time, int httpd_tid, const char *httpd_addr);

/* ---- server.c */
/* set before the units' init (switchyard --trace): httpd's init then starts nothing */
extern int mgmt_offline;
/* start the listener thread on ip:port (the httpd unit's init does this); 0 or errno */
int mgmt_start(void);
/* stop it and close every connection (at exit; tests) */
void mgmt_stop(void);

#endif
