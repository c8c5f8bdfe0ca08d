/* units.c: every unit the script can use, built in. The compiler (src/script/compile.c) looks
 * functions and modparams up here; `loadmodule "x.so"` only marks unit x as used by the
 * script (an unknown x is a load error), and "core" is always there.
 *
 * Adding a unit: write src/mod/<name>.c with one `const struct scr_unit <prefix>_unit` (its
 * function table: argument types and allowed route types; its modparams; an optional init),
 * declare it in the unit's header, include that header below and add one line to scr_units[].
 * A function name may appear in several units only with the same handler (textops and
 * sipmsgops both offer append_hf): the first loaded unit listed wins. */
#include <stddef.h>

#include "mgmt/mgmt.h"
#include "mod/auth.h"
#include "mod/dispatcher.h"
#include "mod/nathelper.h"
#include "mod/registrar.h"
#include "mod/rr.h"
#include "mod/tm.h"
#include "mod/units.h"
#include "mod/usrloc.h"

/* Transports are built into the core; these names exist so OpenSIPS scripts that load them
 * (loadmodule "proto_udp.so") load unchanged. */
static const struct scr_unit proto_udp_unit = { "proto_udp", NULL, NULL, NULL };
static const struct scr_unit proto_tcp_unit = { "proto_tcp", NULL, NULL, NULL };
static const struct scr_unit proto_tls_unit = { "proto_tls", NULL, NULL, NULL };
static const struct scr_unit proto_ws_unit = { "proto_ws", NULL, NULL, NULL };
static const struct scr_unit proto_wss_unit = { "proto_wss", NULL, NULL, NULL };

const struct scr_unit *const scr_units[] = {
	&core_unit,
	&sl_unit,
	&signaling_unit,
	&sipmsgops_unit,
	&textops_unit,
	&mf_unit,
	&proto_udp_unit,
	&proto_tcp_unit,
	&proto_tls_unit,
	&proto_ws_unit,
	&proto_wss_unit,
	&reg_unit,
	&ul_unit,
	&nh_unit,
	&rr_unit,
	&tm_unit,
	&ds_unit,
	&auth_unit,
	&auth_db_unit,
	&mgmt_httpd_unit,	/* after usrloc: its exit hook must run first */
	&mgmt_mi_http_unit,
	&mgmt_prometheus_unit,
	/* tm, rr, registrar, usrloc, nathelper ...: add their lines here */
	NULL,
};
