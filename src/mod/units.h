/* units.h: the script-visible units written with the script engine (core, sl,
 * sipmsgops/textops, maxfwd). Other units declare theirs in their own header (registrar.h ...);
 * src/mod/units.c lists them all in scr_units[]. */
#ifndef MOD_UNITS_H
#define MOD_UNITS_H

#include "script/api.h"

extern const struct scr_unit core_unit;		/* core.c: forward, xlog, flags, branches */
extern const struct scr_unit sl_unit;		/* sl.c: stateless replies */
extern const struct scr_unit signaling_unit;	/* sl.c: send_reply, via tm when stateful */
extern const struct scr_unit sipmsgops_unit;	/* textops.c: header ops, is_method, has_totag */
extern const struct scr_unit textops_unit;	/* textops.c: the header ops, OpenSIPS 1.x name */
extern const struct scr_unit mf_unit;		/* maxfwd.c: Max-Forwards (RFC 3261 §16.6) */

#endif
