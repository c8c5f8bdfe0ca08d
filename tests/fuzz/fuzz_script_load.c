/* fuzz_script_load.c: any bytes through scr_load_mem(): lexer, parser and compiler must never
 * crash, hang or leak, whatever the script. Errors go to /dev/null. The units are a small
 * table of this file's own (the target links script+sip+core only), with every argument type
 * so the compiler's argument paths are reached. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "script/api.h"

static int f_any(struct scr_ctx *c, const struct scr_arg *a)
{
	(void)c;
	(void)a;
	return 1;
}

static int p_any(const struct scr_arg *v, const char **err)
{
	(void)v;
	(void)err;
	return 0;
}

static const struct scr_fn core_fns[] = {
	{ "xlog", 1, 2, { SCR_ARG_STR, SCR_ARG_STR }, SCR_ROUTE_ANY, f_any },
	{ "sl_send_reply", 2, 2, { SCR_ARG_INT, SCR_ARG_STR }, SCR_ROUTE_REQUEST, f_any },
	{ "is_method", 1, 1, { SCR_ARG_STR_OR_INT }, SCR_ROUTE_ANY, f_any },
	{ "match", 1, 1, { SCR_ARG_REGEX }, SCR_ROUTE_ANY, f_any },
	{ "into", 1, 1, { SCR_ARG_PVAR }, SCR_ROUTE_ANY, f_any },
	{ "setflag", 1, 1, { SCR_ARG_FLAG }, SCR_ROUTE_ANY, f_any },
	{ "t_on_failure", 1, 1, { SCR_ARG_ROUTE_FAILURE }, SCR_ROUTE_REQUEST, f_any },
	{ "t_on_reply", 1, 1, { SCR_ARG_ROUTE_ONREPLY }, SCR_ROUTE_REQUEST, f_any },
	{ "t_on_branch", 1, 1, { SCR_ARG_ROUTE_BRANCH }, SCR_ROUTE_REQUEST, f_any },
	{ "go", 1, 1, { SCR_ARG_ROUTE }, SCR_ROUTE_ANY, f_any },
	{ NULL, 0, 0, { 0 }, 0, NULL },
};
static const struct scr_modparam mp[] = {
	{ "i", SCR_PARAM_INT, p_any },
	{ "s", SCR_PARAM_STR, p_any },
	{ NULL, 0, NULL },
};
static const struct scr_unit core_u = { "core", core_fns, NULL, NULL };
static const struct scr_unit m_u = { "maxfwd", NULL, mp, NULL };
const struct scr_unit *const scr_units[] = { &core_u, &m_u, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct scr_prog *p = NULL;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (scr_load_mem("fuzz.cfg", (const char *)data, size, devnull, &p) == 0)
		scr_free(p);
	return 0;
}
