/* summary.c: what the calling worker's transaction table holds, for `switchyard --trace`,
 * which runs one message offline and never runs the timers: the transactions the message
 * left behind (RFC 3261 §17 states), their branches still waiting for a final reply, and the
 * zombies kept only to absorb retransmissions (zombie.c). Not on the hot path. */
#include <stdio.h>

#include "tm/internal.h"
#include "tp/tp.h"

static const char *const sstate_name[] = { "Trying", "Proceeding", "Completed", "Confirmed",
					   "Accepted", "Terminated" };
static const char *const cstate_name[] = { "Calling", "Proceeding", "Completed",
					   "Terminated" };

static const char *proto_name(enum sy_proto p)
{
	switch (p) {
	case SY_PROTO_TCP: return "tcp";
	case SY_PROTO_TLS: return "tls";
	case SY_PROTO_WS: return "ws";
	case SY_PROTO_WSS: return "wss";
	default: return "udp";
	}
}

static void describe(FILE *f, const struct tm_trans *t)
{
	unsigned i;

	fprintf(f, "tm:   %.*s %.*s (Call-ID %.*s): server %s", SY_FMT(t->msg.method),
		SY_FMT(t->msg.ruri), SY_FMT(t->msg.callid),
		t->sstate <= TM_S_TERMINATED ? sstate_name[t->sstate] : "?");
	if (t->last_code)
		fprintf(f, ", last reply %u%s", t->last_code, t->last_local ? " (local)" : "");
	fputc('\n', f);
	for (i = 0; i < t->nbr; i++) {
		const struct tm_branch *b = t->br[i];
		char ip[64];

		if (!b)
			continue;
		tp_addr_ip(&b->dst.addr, ip, sizeof(ip));
		fprintf(f, "tm:     branch %u %s -> %s:%s%s%s:%u%s\n", b->idx,
			b->state <= TM_C_TERMINATED ? cstate_name[b->state] : "?",
			proto_name(b->dst.proto), b->dst.addr.u.sa.sa_family == AF_INET6 ? "[" : "",
			ip, b->dst.addr.u.sa.sa_family == AF_INET6 ? "]" : "",
			tp_addr_port(&b->dst.addr), b->done ? ", answered" : ", waiting");
	}
}

void tm_summary(struct tm_summary *out, void *file)
{
	struct tm_table *tb = tm_table();
	unsigned c, i, k;

	out->trans = out->branches = out->zombies = 0;
	if (!tb)
		return;
	for (c = 0; c < tb->nchunks; c++)
		for (i = 0; i < TM_CHUNK; i++) {
			const struct tm_trans *t = &tb->chunks[c][i];

			if (!t->in_use)
				continue;
			out->trans++;
			for (k = 0; k < t->nbr; k++)
				if (t->br[k] && !t->br[k]->done)
					out->branches++;
			if (file)
				describe(file, t);
		}
	out->zombies = tb->nzombies;
}
