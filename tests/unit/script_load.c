/* script_load.c: loading and compiling scripts: what loads (globals, listen sockets, routes,
 * modparams) and the exact "file:line:col: message" line for each kind of config error.
 * Links only script+sip+core, so the units are this file's own test units. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "script/api.h"

/* ---- test units */
static long last_ip;
static int t_true(struct scr_ctx *c, const struct scr_arg *a) { (void)c; (void)a; return 1; }

static int set_ip(const struct scr_arg *v, const char **err)
{
	if (v->i < 0) {
		*err = "must not be negative";
		return EINVAL;
	}
	last_ip = v->i;
	return 0;
}

static const struct scr_fn core_fns[] = {
	{ "ok", 0, 0, { 0 }, SCR_ROUTE_ANY, t_true },
	{ "req_only", 0, 0, { 0 }, SCR_ROUTE_REQUEST, t_true },
	{ "two", 1, 2, { SCR_ARG_STR, SCR_ARG_INT }, SCR_ROUTE_ANY, t_true },
	{ "t_on_failure", 1, 1, { SCR_ARG_ROUTE_FAILURE }, SCR_ROUTE_REQUEST, t_true },
	{ "t_on_reply", 1, 1, { SCR_ARG_ROUTE_ONREPLY }, SCR_ROUTE_REQUEST, t_true },
	{ "match", 1, 1, { SCR_ARG_REGEX }, SCR_ROUTE_ANY, t_true },
	{ "into", 1, 1, { SCR_ARG_PVAR }, SCR_ROUTE_ANY, t_true },
	{ "setflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, t_true },
	{ NULL, 0, 0, { 0 }, 0, NULL },
};
static const struct scr_fn x_fns[] = {
	{ "x_fn", 0, 0, { 0 }, SCR_ROUTE_ANY, t_true },
	{ NULL, 0, 0, { 0 }, 0, NULL },
};
static const struct scr_modparam x_params[] = {
	{ "ip", SCR_PARAM_INT, set_ip },
	{ "sp", SCR_PARAM_STR, NULL },
	{ NULL, 0, NULL },
};
static const struct scr_unit core_u = { "core", core_fns, NULL, NULL };
static const struct scr_unit x_u = { "xmod", x_fns, x_params, NULL };
const struct scr_unit *const scr_units[] = { &core_u, &x_u, NULL };

/* ---- helpers */

/* load text; returns the error output (malloc'd, "" when none) and the rc */
static char *load(const char *text, int *rc, struct scr_prog **prog)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct scr_prog *p = NULL;

	assert_non_null(f);
	*rc = scr_load_mem("t.cfg", text, strlen(text), f, &p);
	fclose(f);
	if (prog)
		*prog = p;
	else
		scr_free(p);
	return buf;
}

static void expect_errors(const char *text, const char *want)
{
	int rc;
	char *out = load(text, &rc, NULL);

	if (strcmp(out, want) != 0)
		fail_msg("script:\n%s\nwanted:\n%sgot:\n%s", text, want, out);
	assert_int_equal(rc, EINVAL);
	free(out);
}

static struct scr_prog *expect_ok(const char *text)
{
	int rc;
	struct scr_prog *p;
	char *out = load(text, &rc, &p);

	if (rc || *out)
		fail_msg("script:\n%s\nunexpected errors (rc %d):\n%s", text, rc, out);
	free(out);
	assert_non_null(p);
	return p;
}

/* ---- what loads */

static void test_globals_and_listen(void **st)
{
	(void)st;
	struct scr_prog *p = expect_ok(
		"# comment\n"
		"/* block\n comment */\n"
		"log_level = 4\n"
		"children = 3;\n"
		"auto_aliases = no\n"
		"listen = udp:127.0.0.1:5066   # trailing comment\n"
		"listen = tcp:[::1]:5067\n"
		"socket = tls:example.com\n"
		"listen = 127.0.0.2\n"
		"alias = sip.example.org\n"
		"mpath = \"/usr/lib\"\n"
		"route { exit; }\n");
	const struct scr_listen *l;

	assert_int_equal(scr_global_int(p, "log_level", 0), 4);
	assert_int_equal(scr_global_int(p, "workers", 8), 3);
	assert_int_equal(scr_global_int(p, "auto_aliases", 7), 0);
	assert_int_equal(scr_global_int(p, "nope", 7), 7);
	assert_true(sy_str_eq(scr_global_str(p, "mpath"), SY_STR("/usr/lib")));
	assert_int_equal(scr_listen_count(p), 4);
	l = scr_listen_get(p, 0);
	assert_int_equal(l->proto, SY_PROTO_UDP);
	assert_true(sy_str_eq(l->host, SY_STR("127.0.0.1")));
	assert_int_equal(l->port, 5066);
	l = scr_listen_get(p, 1);
	assert_int_equal(l->proto, SY_PROTO_TCP);
	assert_true(sy_str_eq(l->host, SY_STR("[::1]")));
	assert_int_equal(l->port, 5067);
	l = scr_listen_get(p, 2);
	assert_int_equal(l->proto, SY_PROTO_TLS);
	assert_int_equal(l->port, 5061);
	l = scr_listen_get(p, 3);
	assert_int_equal(l->proto, SY_PROTO_UDP);
	assert_int_equal(l->port, 5060);
	assert_null(scr_listen_get(p, 4));

	assert_true(scr_is_myself(p, SY_STR("127.0.0.1"), 5066));
	assert_true(scr_is_myself(p, SY_STR("127.0.0.1"), 0));
	assert_false(scr_is_myself(p, SY_STR("127.0.0.1"), 5060));
	assert_true(scr_is_myself(p, SY_STR("::1"), 5067));
	assert_true(scr_is_myself(p, SY_STR("SIP.example.org"), 9999));
	assert_false(scr_is_myself(p, SY_STR("example.org"), 0));
	scr_free(p);
}

static void test_routes_and_lookup(void **st)
{
	(void)st;
	struct scr_prog *p = expect_ok(
		"route { route(a); t_on_failure(\"fail\"); t_on_reply(nat); }\n"
		"route[a] { ok(); }\n"
		"route[b] { return(2); }\n"
		"failure_route[fail] { ok(); }\n"
		"onreply_route { ok(); }\n"
		"onreply_route[nat] { ok(); }\n"
		"branch_route[br] { ok(); }\n"
		"startup_route { ok(); }\n"
		"local_route { ok(); }\n"
		"timer_route[tick, 30] { ok(); }\n");

	assert_int_equal(scr_route_index(p, SCR_ROUTE_REQUEST, SY_STR("")), 0);
	assert_true(scr_route_index(p, SCR_ROUTE_REQUEST, SY_STR("a")) > 0);
	assert_true(scr_route_index(p, SCR_ROUTE_REQUEST, SY_STR("b")) > 0);
	assert_int_equal(scr_route_index(p, SCR_ROUTE_REQUEST, SY_STR("zz")), -1);
	assert_int_equal(scr_route_index(p, SCR_ROUTE_FAILURE, SY_STR("fail")), 0);
	assert_int_equal(scr_route_index(p, SCR_ROUTE_ONREPLY, SY_STR("")), 0);
	assert_int_equal(scr_route_index(p, SCR_ROUTE_ONREPLY, SY_STR("nat")), 1);
	assert_int_equal(scr_route_index(p, SCR_ROUTE_BRANCH, SY_STR("br")), 0);
	assert_true(scr_has_route(p, SCR_ROUTE_STARTUP, 0));
	assert_true(scr_has_route(p, SCR_ROUTE_LOCAL, 0));
	assert_false(scr_has_route(p, SCR_ROUTE_LOCAL, 1));
	assert_int_equal(scr_route_count(p, SCR_ROUTE_TIMER), 1);
	assert_int_equal(scr_timer_secs(p, 0), 30);
	assert_true(sy_str_eq(scr_route_name(p, SCR_ROUTE_TIMER, 0), SY_STR("tick")));
	scr_free(p);

	/* no main route: index 0 of REQUEST is absent */
	p = expect_ok("route[x] { ok(); }\n");
	assert_false(scr_has_route(p, SCR_ROUTE_REQUEST, 0));
	assert_true(scr_has_route(p, SCR_ROUTE_REQUEST, 1));
	scr_free(p);
}

static void test_modparam_ok(void **st)
{
	(void)st;
	struct scr_prog *p = expect_ok(
		"loadmodule \"/usr/lib/opensips/modules/xmod.so\"\n"
		"modparam(\"xmod\", \"ip\", 42)\n"
		"modparam(\"xmod\", \"sp\", \"text\")\n"
		"route { x_fn(); }\n");

	assert_int_equal(last_ip, 42);
	assert_true(scr_unit_loaded(p, "xmod"));
	assert_true(scr_unit_loaded(p, "core"));
	scr_free(p);
}

static void test_empty_and_comments_only(void **st)
{
	(void)st;
	scr_free(expect_ok(""));
	scr_free(expect_ok("# nothing\n/* at all */\n"));
}

/* ---- golden errors, one kind each */

static void test_err_unknown_function(void **st)
{
	(void)st;
	expect_errors("route {\n    foo();\n}\n", "t.cfg:2:5: unknown function 'foo'\n");
}

static void test_err_needs_loadmodule(void **st)
{
	(void)st;
	expect_errors("route {\n\tx_fn();\n}\n",
		      "t.cfg:2:2: function 'x_fn' needs loadmodule \"xmod.so\"\n");
}

static void test_err_not_allowed_in_route(void **st)
{
	(void)st;
	expect_errors("onreply_route {\n  req_only();\n}\n",
		      "t.cfg:2:3: function 'req_only' is not allowed in onreply_route\n");
	/* reached through route(x) from a failure_route */
	expect_errors("route { route(r); }\n"
		      "failure_route[f] { route(r); }\n"
		      "route[r] {\n  req_only();\n}\n",
		      "t.cfg:4:3: function 'req_only' is not allowed in failure_route "
		      "(route[r] is called from one)\n");
	/* and through two levels */
	expect_errors("onreply_route[o] { route(r1); }\n"
		      "route[r1] { route(r2); }\n"
		      "route[r2] { req_only(); }\n",
		      "t.cfg:3:13: function 'req_only' is not allowed in onreply_route "
		      "(route[r2] is called from one)\n");
}

static void test_err_undefined_route(void **st)
{
	(void)st;
	expect_errors("route {\n  route(nowhere);\n}\n",
		      "t.cfg:2:3: route[nowhere] is not defined\n");
}

static void test_err_undefined_failure_route(void **st)
{
	(void)st;
	expect_errors("route {\n  t_on_failure(\"missed\");\n}\nfailure_route[other] { ok(); }\n",
		      "t.cfg:2:16: failure_route[missed] is not defined\n");
	expect_errors("route { t_on_reply(\"r\"); }\n",
		      "t.cfg:1:20: onreply_route[r] is not defined\n");
}

static void test_err_arg_count_and_type(void **st)
{
	(void)st;
	expect_errors("route {\n  two();\n}\n",
		      "t.cfg:2:3: function 'two' takes 1 to 2 arguments, got 0\n");
	expect_errors("route { ok(1); }\n", "t.cfg:1:9: function 'ok' takes 0 arguments, got 1\n");
	expect_errors("route {\n  two(\"a\", \"b\");\n}\n",
		      "t.cfg:2:12: argument 2 of 'two' must be an integer\n");
	expect_errors("route { into(\"x\"); }\n",
		      "t.cfg:1:14: argument 1 of 'into' must be a writable pseudo-variable\n");
	expect_errors("route { into($ci); }\n",
		      "t.cfg:1:14: argument 1 of 'into' must be a writable pseudo-variable\n");
	expect_errors("route { two(bare); }\n",
		      "t.cfg:1:13: argument 1 of 'two' must be a string\n");
	expect_errors("route { setflag(64); }\n", "t.cfg:1:17: flag 64 out of range 0..63\n");
}

static void test_err_missing_semicolon(void **st)
{
	(void)st;
	expect_errors("route {\n  ok()\n  ok();\n}\n", "t.cfg:2:7: missing ';' before 'ok'\n");
	expect_errors("route {\n  $var(a) = 1\n}\n", "t.cfg:2:14: missing ';' before '}'\n");
}

static void test_err_unterminated_string(void **st)
{
	(void)st;
	expect_errors("route {\n  two(\"abc);\n  ok();\n}\n",
		      "t.cfg:2:7: unterminated string\n");
}

static void test_err_bad_regex(void **st)
{
	(void)st;
	int rc;
	char *out = load("route {\n  if ($rU =~ \"(ab\") { ok(); }\n}\n", &rc, NULL);

	assert_int_equal(rc, EINVAL);
	assert_true(strncmp(out, "t.cfg:2:14: bad regular expression '(ab': ", 42) == 0);
	free(out);
	out = load("route { match(\"a[\"); }\n", &rc, NULL);
	assert_true(strncmp(out, "t.cfg:1:15: bad regular expression 'a[': ", 40) == 0);
	free(out);
	expect_errors("route { if ($rU =~ $var(x)) { ok(); } }\n",
		      "t.cfg:1:20: right side of '=~' must be a constant regular expression\n");
}

static void test_err_loadmodule_modparam(void **st)
{
	(void)st;
	expect_errors("loadmodule \"nosuch.so\"\nroute { ok(); }\n",
		      "t.cfg:1:12: unknown module 'nosuch'\n");
	expect_errors("loadmodule \"xmod.so\"\nmodparam(\"xmod\", \"nope\", 1)\n",
		      "t.cfg:2:18: unknown parameter 'nope' of module 'xmod'\n");
	expect_errors("modparam(\"nosuch\", \"p\", 1)\n", "t.cfg:1:10: unknown module 'nosuch'\n");
	expect_errors("modparam(\"xmod\", \"ip\", 1)\n",
		      "t.cfg:1:10: modparam for module 'xmod' that is not loaded\n");
	expect_errors("loadmodule \"xmod.so\"\nmodparam(\"xmod\", \"ip\", \"abc\")\n",
		      "t.cfg:2:24: parameter 'ip' of module 'xmod' must be an integer\n");
	expect_errors("loadmodule \"xmod.so\"\nmodparam(\"xmod\", \"sp\", 5)\n",
		      "t.cfg:2:24: parameter 'sp' of module 'xmod' must be a string\n");
	expect_errors("loadmodule \"xmod.so\"\nmodparam(\"xmod\", \"ip\", -3)\n",
		      "t.cfg:2:25: parameter 'ip' of module 'xmod': must not be negative\n");
}

static void test_err_globals(void **st)
{
	(void)st;
	expect_errors("bogus = 1\n", "t.cfg:1:1: unknown global parameter 'bogus'\n");
	expect_errors("listen = udp:127.0.0.1:99999\n",
		      "t.cfg:1:10: bad listen value 'udp:127.0.0.1:99999' (expected "
		      "[proto:]host[:port])\n");
	expect_errors("children = abc\n", "t.cfg:1:12: expected an integer, found 'abc'\n");
	/* out-of-range numbers used to load: 0/-1 workers logged "running: -1 workers",
	 * 100000 made start-up fail without a word, a negative lifetime wrapped to days */
	expect_errors("children = 0\n", "t.cfg:1:12: children must be 1..256, not 0\n");
	expect_errors("workers = -1\n", "t.cfg:1:11: workers must be 1..256, not -1\n");
	expect_errors("children = 100000\n",
		      "t.cfg:1:12: children must be 1..256, not 100000\n");
	expect_errors("tcp_connection_lifetime = -5\n",
		      "t.cfg:1:27: tcp_connection_lifetime must be 1..86400, not -5\n");
	expect_errors("tcp_max_connections_per_ip = 0\n",
		      "t.cfg:1:30: tcp_max_connections_per_ip must be 1..65535, not 0\n");
	expect_errors("log_level = 9\n", "t.cfg:1:13: log_level must be -3..4, not 9\n");
	expect_errors("port = 70000\n", "t.cfg:1:8: port must be 1..65535, not 70000\n");
	expect_errors("#!define X 1\nroute { ok(); }\n",
		      "t.cfg:1:1: preprocessor directives ('#!') are not supported\n");
}

static void test_err_misc(void **st)
{
	(void)st;
	expect_errors("route { ok(); }\nroute { ok(); }\n",
		      "t.cfg:2:1: route already defined at line 1\n");
	expect_errors("failure_route { ok(); }\n",
		      "t.cfg:1:1: failure_route needs a name: failure_route[name]\n");
	expect_errors("route { break; }\n", "t.cfg:1:9: 'break' outside switch or while\n");
	expect_errors("route { $ci = 1; }\n", "t.cfg:1:9: pseudo-variable '$ci' is read-only\n");
	expect_errors("route { $nope = 1; }\n", "t.cfg:1:9: unknown pseudo-variable '$nope'\n");
	expect_errors("route { xlog(\"a $bad b\"); }\n",
		      "t.cfg:1:17: unknown pseudo-variable '$bad'\n");
	expect_errors("route {\n  ok();\n", "t.cfg:1:7: unclosed '{'\n");
	expect_errors("route { if (ok() { ok(); } }\n",
		      "t.cfg:1:18: expected ')', found '{'\n");
	expect_errors("route { 1 + 2; }\n", "t.cfg:1:9: statement has no effect\n");
	expect_errors("route { if (nope) { ok(); } }\n", "t.cfg:1:13: unknown name 'nope'\n");
	expect_errors("route { @ }\n", "t.cfg:1:9: unexpected character '@'\n");
	expect_errors("event_route[E_UL_CONTACT_INSERT] {\n  ok();\n}\ninclude_file \"x.cfg\"\n"
		      "error_route { exit; }\nroute { ok(); }\n",
		      "t.cfg:1:1: 'event_route' is not supported\n"
		      "t.cfg:4:1: 'include_file' is not supported\n"
		      "t.cfg:5:1: 'error_route' is not supported\n");
}

/* several errors in one file: all reported, in line order (parse and name errors mixed) */
static void test_err_many(void **st)
{
	(void)st;
	expect_errors("route {\n"
		      "  foo();\n"
		      "  ok()\n"
		      "  bar(1);\n"
		      "  route(none);\n"
		      "}\n",
		      "t.cfg:2:3: unknown function 'foo'\n"
		      "t.cfg:3:7: missing ';' before 'bar'\n"
		      "t.cfg:4:3: unknown function 'bar'\n"
		      "t.cfg:5:3: route[none] is not defined\n");
}

static void test_file_load(void **st)
{
	(void)st;
	char path[] = "/tmp/script_load_XXXXXX";
	int fd = mkstemp(path);
	FILE *f, *err;
	struct scr_prog *p = NULL;
	char *buf = NULL;
	size_t len = 0;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("route {\n  foo();\n}\n", f);
	fclose(f);
	err = open_memstream(&buf, &len);
	assert_int_equal(scr_load(path, err, &p), EINVAL);
	fclose(err);
	assert_null(p);
	assert_non_null(strstr(buf, ":2:3: unknown function 'foo'\n"));
	assert_true(strncmp(buf, path, strlen(path)) == 0);
	free(buf);
	unlink(path);

	buf = NULL;
	err = open_memstream(&buf, &len);
	assert_int_not_equal(scr_load("/nonexistent/x.cfg", err, &p), 0);
	fclose(err);
	assert_non_null(strstr(buf, "/nonexistent/x.cfg:1:1: cannot open"));
	free(buf);
}

/* a flood of errors stops at a cap, with one notice last */
static void test_err_cap(void **st)
{
	(void)st;
	char text[8192] = "route {\n";
	int rc;
	char *out;
	unsigned lines = 0;

	for (int i = 0; i < 150; i++)
		strcat(text, " nope();\n");
	strcat(text, "}\n");
	out = load(text, &rc, NULL);
	assert_int_equal(rc, EINVAL);
	for (char *c = out; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 100);
	assert_non_null(strstr(out, "t.cfg:2:2: unknown function 'nope'\n"));
	assert_non_null(strstr(out, "t.cfg:101:2: too many errors, giving up reporting\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_globals_and_listen),
		cmocka_unit_test(test_routes_and_lookup),
		cmocka_unit_test(test_modparam_ok),
		cmocka_unit_test(test_empty_and_comments_only),
		cmocka_unit_test(test_err_unknown_function),
		cmocka_unit_test(test_err_needs_loadmodule),
		cmocka_unit_test(test_err_not_allowed_in_route),
		cmocka_unit_test(test_err_undefined_route),
		cmocka_unit_test(test_err_undefined_failure_route),
		cmocka_unit_test(test_err_arg_count_and_type),
		cmocka_unit_test(test_err_missing_semicolon),
		cmocka_unit_test(test_err_unterminated_string),
		cmocka_unit_test(test_err_bad_regex),
		cmocka_unit_test(test_err_loadmodule_modparam),
		cmocka_unit_test(test_err_globals),
		cmocka_unit_test(test_err_misc),
		cmocka_unit_test(test_err_many),
		cmocka_unit_test(test_err_cap),
		cmocka_unit_test(test_file_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
