/* script_opensips_default.c: the OpenSIPS 3.x default (residential) script, as shipped, in
 * tests/data/opensips-default.cfg. With the units built so far it must parse completely and
 * report exactly: each module not built in as "unknown module" (at its loadmodule and every
 * modparam), and each function not built in as "unknown function 'x'" at its line:col;
 * nothing else, and no crash. When a unit (tm, rr, registrar ...) is added, its lines leave
 * the expected list below.
 * The built-in units come from src/mod directly; the proxy calls they make are stubbed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mod/core.c"
#include "mod/maxfwd.c"
#include "mod/sl.c"
#include "mod/textops.c"

struct scr_prog *px_prog;
struct px_tm_hooks px_tm;
int px_resolve(sy_str uri, struct sy_dest *out) { (void)uri; (void)out; return EHOSTUNREACH; }
int px_forward(struct scr_ctx *ctx, const struct sy_dest *dst) { (void)ctx; (void)dst; return 0; }
int px_forward_to(struct scr_ctx *ctx, sy_str dest) { (void)ctx; (void)dest; return 0; }
int px_reply(struct scr_ctx *ctx, unsigned code, sy_str reason, sy_str extra)
{
	(void)ctx; (void)code; (void)reason; (void)extra;
	return 0;
}
int tm_reply(struct scr_ctx *ctx, unsigned code, sy_str reason)
{
	(void)ctx; (void)code; (void)reason;
	return 0;
}

static const struct scr_unit proto_udp_u = { "proto_udp", NULL, NULL, NULL };

/* stubs with the OpenSIPS signatures of what is not built yet (second test only) */
static int stub(struct scr_ctx *c, const struct scr_arg *a) { (void)c; (void)a; return 1; }
#define RQ SCR_ROUTE_REQUEST
#define RQF (SCR_ROUTE_REQUEST | SCR_ROUTE_FAILURE)
static const struct scr_fn stub_fns[] = {
	{ "x_t_reply", 2, 2, { SCR_ARG_INT, SCR_ARG_STR }, RQF, stub },
	{ "x_t_relay", 0, 2, { SCR_ARG_STR, SCR_ARG_STR }, RQF, stub },
	{ "x_t_check_trans", 0, 0, { 0 }, RQ, stub },
	{ "x_t_was_cancelled", 0, 0, { 0 }, SCR_ROUTE_FAILURE, stub },
	{ "x_loose_route", 0, 0, { 0 }, RQ, stub },
	{ "x_record_route", 0, 1, { SCR_ARG_STR }, RQ, stub },
	{ "x_do_accounting", 1, 3, { SCR_ARG_STR, SCR_ARG_STR, SCR_ARG_STR }, RQF, stub },
	{ "x_save", 1, 3, { SCR_ARG_STR, SCR_ARG_STR, SCR_ARG_STR }, RQ, stub },
	{ "x_lookup", 1, 3, { SCR_ARG_STR, SCR_ARG_STR, SCR_ARG_STR }, RQF, stub },
	{ "x_t_on_branch", 1, 1, { SCR_ARG_ROUTE_BRANCH }, RQF, stub },
	{ "x_t_on_reply", 1, 1, { SCR_ARG_ROUTE_ONREPLY }, RQF, stub },
	{ "x_t_on_failure", 1, 1, { SCR_ARG_ROUTE_FAILURE }, RQF, stub },
	{ NULL, 0, 0, { 0 }, 0, NULL },
};
static const struct scr_unit stub_u = { "core", stub_fns, NULL, NULL };

const struct scr_unit *const scr_units[] = {
	&core_unit, &sl_unit, &signaling_unit, &sipmsgops_unit, &textops_unit, &mf_unit, &proto_udp_u, &stub_u,
	NULL,
};

#ifndef DATA_DIR
#define DATA_DIR "tests/data"
#endif

static const struct {
	unsigned line, col;
	const char *msg;
} expected[] = {
	{ 54, 12, "unknown module 'tm'" },
	{ 55, 10, "unknown module 'tm'" },
	{ 56, 10, "unknown module 'tm'" },
	{ 57, 10, "unknown module 'tm'" },
	{ 58, 10, "unknown module 'tm'" },
	{ 61, 12, "unknown module 'rr'" },
	{ 63, 10, "unknown module 'rr'" },
	{ 72, 12, "unknown module 'mi_fifo'" },
	{ 73, 10, "unknown module 'mi_fifo'" },
	{ 74, 10, "unknown module 'mi_fifo'" },
	{ 77, 12, "unknown module 'usrloc'" },
	{ 78, 10, "unknown module 'usrloc'" },
	{ 79, 10, "unknown module 'usrloc'" },
	{ 82, 12, "unknown module 'registrar'" },
	{ 83, 10, "unknown module 'registrar'" },
	{ 88, 12, "unknown module 'acc'" },
	{ 90, 10, "unknown module 'acc'" },
	{ 91, 10, "unknown module 'acc'" },
	{ 95, 10, "unknown module 'acc'" },
	/* request route */
	{ 113, 28, "unknown function 't_check_trans'" },
	{ 114, 4, "unknown function 't_relay'" },
	{ 120, 9, "unknown function 'loose_route'" },
	{ 129, 4, "unknown function 'do_accounting'" },
	{ 140, 7, "unknown function 't_check_trans'" },
	{ 141, 4, "unknown function 't_relay'" },
	{ 146, 2, "unknown function 't_check_trans'" },
	{ 164, 6, "unknown function 'loose_route'" },
	{ 174, 3, "unknown function 'record_route'" },
	{ 179, 3, "unknown function 'do_accounting'" },
	{ 198, 8, "unknown function 'save'" },
	{ 211, 7, "unknown function 'lookup'" },
	{ 212, 3, "unknown function 't_reply'" },
	{ 217, 2, "unknown function 'do_accounting'" },
	/* route[relay] */
	{ 225, 3, "unknown function 't_on_branch'" },
	{ 226, 3, "unknown function 't_on_reply'" },
	{ 227, 3, "unknown function 't_on_failure'" },
	{ 230, 7, "unknown function 't_relay'" },
	/* failure_route[missed_call] */
	{ 250, 6, "unknown function 't_was_cancelled'" },
};

static void test_default_script(void **st)
{
	(void)st;
	const char *path = DATA_DIR "/opensips-default.cfg";
	char *out = NULL, *want = NULL;
	size_t outlen = 0, wantlen = 0;
	FILE *err = open_memstream(&out, &outlen);
	FILE *w = open_memstream(&want, &wantlen);
	struct scr_prog *p = NULL;
	int rc;

	assert_non_null(err);
	rc = scr_load(path, err, &p);
	fclose(err);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		fprintf(w, "%s:%u:%u: %s\n", path, expected[i].line, expected[i].col,
			expected[i].msg);
	fclose(w);
	if (strcmp(out, want) != 0)
		fail_msg("got:\n%s\nwanted:\n%s", out, want);
	assert_int_equal(rc, EINVAL);
	assert_null(p);
	free(out);
	free(want);
}

/* The same script with the unknown modules' lines blanked and every missing function renamed
 * to a stub of the same signature ("t_relay" -> "x_t_relay") loads cleanly: everything else in
 * it (globals, socket, expressions, blocks, route references such as
 * t_on_failure("missed_call"), the built-in functions and their argument types) is
 * understood. */
static void test_default_script_rest_loads(void **st)
{
	(void)st;
	const char *path = DATA_DIR "/opensips-default.cfg";
	FILE *f = fopen(path, "r");
	char line[512];
	char *text = NULL, *out = NULL;
	size_t tlen = 0, olen = 0;
	FILE *t = open_memstream(&text, &tlen), *err;
	struct scr_prog *p = NULL;
	unsigned n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		size_t i;

		n++;
		for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
			if (expected[i].line == n)
				break;
		if (i == sizeof(expected) / sizeof(expected[0])) {
			fputs(line, t);
		} else if (strncmp(expected[i].msg, "unknown module", 14) == 0) {
			fputs("\n", t);
		} else {
			unsigned c = expected[i].col - 1;

			fprintf(t, "%.*sx_%s", (int)c, line, line + c);
		}
	}
	fclose(f);
	fclose(t);
	err = open_memstream(&out, &olen);
	scr_load_mem("rest.cfg", text, tlen, err, &p);
	fclose(err);
	if (*out)
		fail_msg("unexpected errors:\n%s", out);
	assert_non_null(p);
	assert_int_equal(scr_listen_count(p), 1);
	assert_int_equal(scr_global_int(p, "workers", 0), 4);
	assert_int_equal(scr_global_int(p, "log_level", 0), 3);
	assert_true(scr_route_index(p, SCR_ROUTE_REQUEST, SY_STR("relay")) > 0);
	assert_int_equal(scr_route_index(p, SCR_ROUTE_FAILURE, SY_STR("missed_call")), 0);
	assert_int_equal(scr_route_index(p, SCR_ROUTE_BRANCH, SY_STR("per_branch_ops")), 0);
	assert_int_equal(scr_route_index(p, SCR_ROUTE_ONREPLY, SY_STR("handle_nat")), 1);
	scr_free(p);
	free(text);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_script),
		cmocka_unit_test(test_default_script_rest_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
