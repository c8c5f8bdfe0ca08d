/* routes.c: the script routes that no message triggers: startup_route (once, on the main
 * thread before the workers start) and timer_route[name, secs] (on worker 0, every secs
 * seconds, on that worker's timing wheel). They run with no message (ctx->msg == NULL). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/worker.h"
#include "proxy/proxy.h"

struct px_timer_route {
	struct sy_timer t;
	struct sy_loop *l;
	int idx;
	unsigned secs;
};
static struct px_timer_route *troutes;
static unsigned ntroutes;

static void run_route(enum scr_route_type type, int idx)
{
	struct sy_arena *a = sy_worker_arena();
	struct scr_ctx ctx;

	if (!a) {
		LOG_ERR("no arena to run %s route %d", type == SCR_ROUTE_TIMER ? "timer" : "startup",
			idx);
		return;
	}
	sy_arena_reset(a);
	memset(&ctx, 0, sizeof(ctx));
	ctx.prog = px_prog;
	ctx.route_type = (int)type;
	ctx.arena = a;
	ctx.branch_idx = -1;
	ctx.trace = px_trace_out;	/* switchyard --trace shows startup_route too */
	scr_run(&ctx, type, idx);
	sy_arena_reset(a);
}

void px_run_startup(void)
{
	if (px_prog && scr_has_route(px_prog, SCR_ROUTE_STARTUP, 0))
		run_route(SCR_ROUTE_STARTUP, 0);
}

static void timer_fired(struct sy_timer *t, void *arg)
{
	struct px_timer_route *tr = arg;

	(void)t;
	/* re-arm first: the interval does not drift by the route's own run time */
	sy_timer_start(tr->l, &tr->t, (uint64_t)tr->secs * 1000u, timer_fired, tr);
	run_route(SCR_ROUTE_TIMER, tr->idx);
}

int px_timer_routes_start(struct sy_loop *l)
{
	unsigned i, n = px_prog ? scr_route_count(px_prog, SCR_ROUTE_TIMER) : 0;

	if (!n)
		return 0;
	troutes = calloc(n, sizeof(*troutes));
	if (!troutes)
		return ENOMEM;
	ntroutes = n;
	for (i = 0; i < n; i++) {
		struct px_timer_route *tr = &troutes[i];

		tr->l = l;
		tr->idx = (int)i;
		tr->secs = scr_timer_secs(px_prog, (int)i);
		if (!scr_has_route(px_prog, SCR_ROUTE_TIMER, (int)i) || tr->secs == 0)
			continue;
		sy_timer_start(l, &tr->t, (uint64_t)tr->secs * 1000u, timer_fired, tr);
	}
	return 0;
}

void px_timer_routes_stop(void)
{
	unsigned i;

	for (i = 0; i < ntroutes; i++)
		if (troutes[i].l)
			sy_timer_stop(troutes[i].l, &troutes[i].t);
	free(troutes);
	troutes = NULL;
	ntroutes = 0;
}
