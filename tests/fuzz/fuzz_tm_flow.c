/* fuzz_tm_flow.c: the transaction layer driven by an input "program": each op either feeds a
 * request from upstream (INVITE/OPTIONS/ACK/CANCEL/BYE over a few branches and Call-IDs, RFC
 * 3261 and RFC 2543 style, relayed to one or two branches), a reply from downstream to any
 * request tm sent (any code, retransmissions included), raw bytes as a message, or advances
 * the fake clock. Timers are tiny so that, at the end of every input, a long advance must
 * leave no transaction alive (tm_count() == 0), else abort(): a transaction leak is a bug. */
#define TMP_NAME "fuzz_tm_flow"
#define TMP_RURI_USER(p) ((void)(p), "bob")
#include "tm_program.h"

const struct scr_unit *const scr_units[] = { NULL };

static void init_once(void)
{
	if (loop)
		return;
	tmp_start();
	tm_cfg.t1_ms = 2;
	tm_cfg.t2_ms = 8;
	tm_cfg.t4_ms = 10;
	tm_cfg.max_transactions = 16;
	tmp_finish();
}

/* parse text as px_recv would and hand it to tm; a new request is relayed */
static void feed(const char *text, size_t len, unsigned from_port, unsigned nbranch)
{
	static const char *const no_tags[] = { NULL };
	static struct sip_hdr h[64];
	struct sip_verdict verdict;
	static struct sip_edit e[16];
	struct sip_limits lim;
	struct sip_msg m;
	struct sip_build b;
	struct scr_ctx ctx;
	struct sy_rcvinfo rcv;

	sy_arena_reset(sy_worker_arena());	/* px_recv does it per message */
	memset(&m, 0, sizeof(m));
	m.hdr = h;
	m.hdr_cap = 64;
	sip_limits_default(&lim);
	lim.max_headers = 64;
	if (sip_msg_parse(&m, text, len, 0, &lim))
		return;
	if (m.is_request ? sip_validate_request(&m, no_tags, &verdict) : sip_validate_response(&m))
		return;
	sip_build_init(&b, &m, e, 16);
	memset(&rcv, 0, sizeof(rcv));
	rcv.proto = SY_PROTO_UDP;
	rcv.src.u.in.sin_family = AF_INET;
	rcv.src.u.in.sin_port = htons((uint16_t)from_port);
	rcv.src.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rcv.src.len = sizeof(struct sockaddr_in);
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = &m;
	ctx.rcv = &rcv;
	ctx.edits = &b;
	ctx.arena = sy_worker_arena();
	ctx.branch_idx = -1;
	if (!m.is_request) {
		ctx.route_type = SCR_ROUTE_ONREPLY;
		tm_reply_in(&ctx);
		return;
	}
	ctx.route_type = SCR_ROUTE_REQUEST;
	if (tm_request_in(&ctx))
		return;
	if (m.mid == SIP_M_ACK || m.mid == SIP_M_CANCEL)
		return;	/* the script would forward them statelessly */
	ctx.dst_uri = SY_STR("sip:127.0.0.1:16200");
	if (nbranch) {
		ctx.branches[0] = SY_STR("sip:x@127.0.0.1:16201");
		ctx.nbranches = 1;
	}
	tm_relay(&ctx, NULL);
	tm_request_done(&ctx);
}
