/* mgmt_stats.c: the per-worker counters (core/stats.h) and what the management listener
 * makes of them: four threads bound to worker slots plus unbound threads increment at once
 * and the reader's sum is exact, a reset makes a counter read 0 without writing the workers'
 * blocks, status classes land in the right slot, the MI get_statistics/reset_statistics
 * selections ("all", "group:", "group:name", bare names), the JSON-RPC error codes, and the
 * Prometheus text (HELP/TYPE per metric, counters ending in _total). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/loop.h"
#include "core/stats.h"
#include "mgmt/mgmt.h"

#define PER_THREAD 200000

static void *bound(void *arg)
{
	int i;

	sy_stats_bind((int)(intptr_t)arg);
	for (i = 0; i < PER_THREAD; i++)
		sy_stat_inc(SY_ST_RCV_REQUESTS);
	sy_stats_bind(-1);
	return NULL;
}

static void *unbound(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < PER_THREAD; i++)
		sy_stat_inc(SY_ST_RCV_REQUESTS);
	return NULL;
}

static void test_sum_across_threads(void **state)
{
	pthread_t th[6];
	uint64_t before = sy_stat_get(SY_ST_RCV_REQUESTS);
	intptr_t i;

	(void)state;
	assert_int_equal(sizeof(struct sy_stats) % 64, 0);	/* no line shared by two workers */
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, bound, (void *)i);
	for (i = 4; i < 6; i++)
		pthread_create(&th[i], NULL, unbound, NULL);
	for (i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	assert_true(sy_stat_get(SY_ST_RCV_REQUESTS) - before == 6ull * PER_THREAD);
	for (i = 0; i < 4; i++)
		assert_true(sy_stats_tab[i].v[SY_ST_RCV_REQUESTS] >= PER_THREAD);
	/* a reset reads 0 and counts on from there */
	sy_stat_reset(SY_ST_RCV_REQUESTS);
	assert_true(sy_stat_get(SY_ST_RCV_REQUESTS) == 0);
	sy_stat_inc(SY_ST_RCV_REQUESTS);
	assert_true(sy_stat_get(SY_ST_RCV_REQUESTS) == 1);
}

static void test_classes(void **state)
{
	(void)state;
	sy_stat_class(SY_ST_SL_1XX, 100);
	sy_stat_class(SY_ST_SL_1XX, 404);
	sy_stat_class(SY_ST_SL_1XX, 699);
	sy_stat_class(SY_ST_SL_1XX, 99);	/* nowhere */
	sy_stat_class(SY_ST_SL_1XX, 700);	/* nowhere */
	assert_true(sy_stat_get(SY_ST_SL_1XX) == 1);
	assert_true(sy_stat_get(SY_ST_SL_1XX + 3) == 1);
	assert_true(sy_stat_get(SY_ST_SL_6XX) == 1);
	assert_true(sy_stat_get(SY_ST_TM_UAS) == 0);	/* the next enum after 6xx untouched */
}

/* the MI answer for one request body, NUL-terminated in a static buffer */
static const char *mi(const char *req)
{
	static char out[16384];
	struct mgmt_buf b;
	int rc;

	mgmt_buf_init(&b, 1 << 20);
	rc = mgmt_mi_handle(req, strlen(req), &b);
	snprintf(out, sizeof(out), "%s%.*s", rc == ENODATA ? "(none)" : "", (int)b.len,
		 b.s ? b.s : "");
	mgmt_buf_free(&b);
	return out;
}

static void test_mi_statistics(void **state)
{
	unsigned char sel[MGMT_STAT_MAX];
	const char *r;

	(void)state;
	memset(sel, 0, sizeof(sel));
	assert_int_equal(mgmt_stat_select(SY_STR("tm:"), sel), 0);
	assert_int_equal(mgmt_stat_select(SY_STR("nope:"), sel), ENOENT);
	assert_int_equal(mgmt_stat_select(SY_STR("core:nope"), sel), ENOENT);
	assert_int_equal(mgmt_stat_select(SY_STR("rcv_requests"), sel), 0);

	sy_stat_reset(SY_ST_FWD_REQUESTS);
	sy_stat_add(SY_ST_FWD_REQUESTS, 7);
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"get_statistics\","
	       "\"params\":{\"statistics\":[\"core:fwd_requests\",\"sl:\"]},\"id\":3}");
	assert_non_null(strstr(r, "\"core:fwd_requests\":7"));
	assert_non_null(strstr(r, "\"sl:sent_replies\":3"));	/* the three of test_classes */
	assert_non_null(strstr(r, "\"sl:sent_err_replies\":2"));
	assert_null(strstr(r, "\"tm:"));
	assert_non_null(strstr(r, "\"id\":3}"));
	/* positional forms, opensips-cli style */
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"get_statistics\",\"params\":[[\"fwd_requests\"]],"
	       "\"id\":\"x\"}");
	assert_string_equal(r, "{\"jsonrpc\":\"2.0\",\"result\":{\"core:fwd_requests\":7},"
			       "\"id\":\"x\"}");
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"get_statistics\",\"params\":[\"all\"],\"id\":1}");
	assert_non_null(strstr(r, "\"tm:inuse_transactions\":0"));
	assert_non_null(strstr(r, "\"usrloc:location-contacts\":0"));
	/* reset: a counter, yes; a gauge named alone, no; a group skips its gauges */
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"reset_statistics\","
	       "\"params\":{\"statistics\":[\"core:fwd_requests\"]},\"id\":1}");
	assert_string_equal(r, "{\"jsonrpc\":\"2.0\",\"result\":\"OK\",\"id\":1}");
	assert_true(sy_stat_get(SY_ST_FWD_REQUESTS) == 0);
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"reset_statistics\","
	       "\"params\":{\"statistics\":[\"tm:inuse_transactions\"]},\"id\":1}");
	assert_non_null(strstr(r, "\"code\":-32602"));
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"reset_statistics\","
	       "\"params\":{\"statistics\":[\"sl:\"]},\"id\":1}");
	assert_non_null(strstr(r, "\"result\":\"OK\""));
	assert_true(sy_stat_get(SY_ST_SL_1XX + 3) == 0);
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"list_statistics\",\"params\":[\"tm:inuse_transactions\","
	       "\"core:rcv_replies\"],\"id\":1}");
	assert_string_equal(r, "{\"jsonrpc\":\"2.0\",\"result\":{\"core:rcv_replies\":\"incremental\","
			       "\"tm:inuse_transactions\":\"non-incremental\"},\"id\":1}");
	sy_stat_inc(SY_ST_TM_UAC);
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"reset_all_statistics\",\"id\":1}");
	assert_non_null(strstr(r, "\"result\":\"OK\""));
	assert_true(sy_stat_get(SY_ST_TM_UAC) == 0);
}

static void test_mi_errors(void **state)
{
	const char *r;

	(void)state;
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":");
	assert_string_equal(r, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,"
			       "\"message\":\"Parse error\"},\"id\":null}");
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"no_such\",\"id\":5}");
	assert_string_equal(r, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,"
			       "\"message\":\"Method not found\"},\"id\":5}");
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"get_statistics\",\"params\":{\"statistics\":"
	       "[\"core:nope\"]},\"id\":5}");
	assert_non_null(strstr(r, "\"code\":-32602"));
	assert_non_null(strstr(r, "unknown statistic: core:nope"));
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"get_statistics\",\"id\":5}");
	assert_non_null(strstr(r, "\"code\":-32602"));
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"uptime\",\"params\":[1],\"id\":5}");
	assert_non_null(strstr(r, "\"code\":-32602"));
	r = mi("{\"jsonrpc\":\"1.0\",\"method\":\"uptime\",\"id\":5}");
	assert_non_null(strstr(r, "\"code\":-32600"));
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":7,\"id\":5}");
	assert_non_null(strstr(r, "\"code\":-32600"));
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"uptime\",\"id\":{}}");
	assert_non_null(strstr(r, "\"code\":-32600"));
	r = mi("[{\"jsonrpc\":\"2.0\",\"method\":\"uptime\",\"id\":1}]");
	assert_non_null(strstr(r, "\"code\":-32600"));
	r = mi("\"uptime\"");
	assert_non_null(strstr(r, "\"code\":-32600"));
	/* a notification runs and gets no answer */
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"no_such\"}");
	assert_string_equal(r, "(none)");
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"which\",\"id\":\"w\"}");
	assert_non_null(strstr(r, "\"ul_dump\""));
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":null}");
	assert_non_null(strstr(r, "\"Server\":\"switchyard"));
	assert_non_null(strstr(r, "\"id\":null}"));
	r = mi("{\"jsonrpc\":\"2.0\",\"method\":\"ul_dump\",\"id\":1}");
	assert_string_equal(r, "{\"jsonrpc\":\"2.0\",\"result\":{\"Domains\":[{\"name\":"
			       "\"location\",\"hash_size\":32768,\"AORs\":[]}]},\"id\":1}");
}

static void test_metrics_text(void **state)
{
	struct mgmt_buf b;
	const char *p;

	(void)state;
	sy_stat_reset(SY_ST_BAD_MSG);
	sy_stat_add(SY_ST_BAD_MSG, 4);
	mgmt_buf_init(&b, 1 << 20);
	mgmt_metrics(&b, "sy", NULL, 1000);
	mgmt_buf_put(&b, "", 1);
	assert_int_equal(b.err, 0);
	p = b.s;
	assert_non_null(strstr(p, "# HELP sy_core_bad_msg_hdr_total "));
	assert_non_null(strstr(p, "# TYPE sy_core_bad_msg_hdr_total counter\n"
				  "sy_core_bad_msg_hdr_total 4\n"));
	assert_non_null(strstr(p, "# TYPE sy_tm_inuse_transactions gauge\n"
				  "sy_tm_inuse_transactions 0\n"));
	assert_non_null(strstr(p, "sy_usrloc_location_contacts 0\n"));	/* '-' -> '_' */
	assert_non_null(strstr(p, "# TYPE sy_tm_2xx_transactions_total counter\n"));
	assert_null(strstr(p, "location-"));
	mgmt_buf_free(&b);
	/* a selection (modparam prometheus statistics): only those, no prefix */
	{
		unsigned char sel[MGMT_STAT_MAX];

		memset(sel, 0, sizeof(sel));
		assert_int_equal(mgmt_stat_select(SY_STR("core:bad_msg_hdr"), sel), 0);
		mgmt_buf_init(&b, 1 << 20);
		mgmt_metrics(&b, "", sel, 1000);
		mgmt_buf_put(&b, "", 1);
		assert_non_null(strstr(b.s, "\ncore_bad_msg_hdr_total 4\n"));
		assert_null(strstr(b.s, "rcv_requests"));
		mgmt_buf_free(&b);
	}
}

/* /health: 200 while every worker's heartbeat is recent, 503 when one is stale or never came */
static void test_health(void **state)
{
	struct sy_loop *l0 = sy_loop_new(0), *l1 = sy_loop_new(1);
	struct mgmt_buf b;

	(void)state;
	assert_non_null(l0);
	assert_non_null(l1);
	assert_int_equal(sy_worker_count(), 2);
	sy_stats_tab[0].beat_ms = 10000;
	sy_stats_tab[1].beat_ms = 9000;
	mgmt_buf_init(&b, 4096);
	assert_int_equal(mgmt_health(&b, 10500, 3000), 200);
	mgmt_buf_put(&b, "", 1);
	assert_string_equal(b.s, "{\"workers\":[{\"id\":0,\"heartbeat_age_ms\":500,\"ok\":true},"
			    "{\"id\":1,\"heartbeat_age_ms\":1500,\"ok\":true}],\"status\":\"ok\"}\n");
	b.len = 0;
	sy_stats_tab[1].beat_ms = 5000;	/* worker 1 stuck for 5.5 s */
	assert_int_equal(mgmt_health(&b, 10500, 3000), 503);
	mgmt_buf_put(&b, "", 1);
	assert_non_null(strstr(b.s, "{\"id\":1,\"heartbeat_age_ms\":5500,\"ok\":false}"));
	assert_non_null(strstr(b.s, "\"status\":\"unhealthy\""));
	b.len = 0;
	sy_stats_tab[1].beat_ms = 0;	/* never turned */
	assert_int_equal(mgmt_health(&b, 10500, 3000), 503);
	mgmt_buf_put(&b, "", 1);
	assert_non_null(strstr(b.s, "\"heartbeat_age_ms\":null"));
	mgmt_buf_free(&b);
	sy_loop_free(l1);
	sy_loop_free(l0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum_across_threads),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_mi_statistics),
		cmocka_unit_test(test_mi_errors),
		cmocka_unit_test(test_metrics_text),
		cmocka_unit_test(test_health),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
