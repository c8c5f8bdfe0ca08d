/* tm.h: the "tm" script unit (src/mod/tm.c): t_relay, t_reply and friends over src/tm. */
#ifndef MOD_TM_H
#define MOD_TM_H

#include "script/api.h"

extern const struct scr_unit tm_unit;

#endif
