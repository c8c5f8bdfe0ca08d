/* fuzz_tm_flow.c: the transaction layer driven by an input "program": each op either feeds a
 * request from upstream (INVITE/OPTIONS/ACK/CANCEL/BYE over a few branches and Call-IDs, RFC
 * 3261 and RFC 2543 style, relayed to one or two branches), a reply from downstream to any
 * request tm sent (any code, retransmissions included), raw bytes as a message, or advances
 * the fake clock. Timers are tiny so that, at the end of every input, a long advance must
 * leave no transaction alive (tm_count() == 0), else abort(): a transaction leak is a bug. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "proxy/proxy.h"
#include "tm/internal.h"
#include "tp/tp.h"

const struct scr_unit *const scr_units[] = { NULL };

#define NSENT 64

static uint64_t now_ms = 1000;
static struct sy_loop *loop;
static char sent[NSENT][2048];
static size_t sent_len[NSENT];
static unsigned nsent;

static uint64_t fake_clock(void)
{
	return now_ms;
}

/* keep what tm sends downstream (requests): the replies are made from them */
static int cap_send(const struct sy_dest *d, const char *buf, size_t len)
{
	unsigned k = nsent % NSENT;

	(void)d;
	if (len >= 4 && memcmp(buf, "SIP/", 4) == 0)
		return 0;
	if (len > sizeof(sent[0]))
		len = sizeof(sent[0]);
	memcpy(sent[k], buf, len);
	sent_len[k] = len;
	nsent++;
	return 0;
}

static void init_once(void)
{
	int idx;

	if (loop)
		return;
	sy_clock_set(fake_clock);
	loop = sy_loop_new(0);
	tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), 16000, &idx);
	tm_send_fn = cap_send;
	tm_cfg.t1_ms = 2;
	tm_cfg.t2_ms = 8;
	tm_cfg.t4_ms = 10;
	tm_cfg.fr_ms = 60;
	tm_cfg.fr_inv_ms = 90;
	tm_cfg.wt_ms = 20;
	tm_cfg.max_transactions = 16;
	sy_log_level = -10;	/* quiet */
}

static void advance(unsigned ms)
{
	while (ms--) {
		now_ms++;
		sy_loop_fire_timers(loop);
	}
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

static const char *const methods[] = { "INVITE", "OPTIONS", "ACK", "CANCEL", "BYE" };
static const unsigned codes[] = { 100, 180, 183, 200, 202, 302, 401, 407, 404, 486, 487, 408,
				  500, 503, 600, 603 };

static void op_request(const uint8_t *p)
{
	char text[1024];
	const char *method = methods[p[0] % 5];
	int n;

	n = snprintf(text, sizeof(text),
		     "%s sip:bob@127.0.0.1:16200 SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:16100;branch=%s%u%s\r\n"
		     "Max-Forwards: %u\r\nFrom: <sip:a@x>;tag=f\r\nTo: <sip:b@x>%s\r\n"
		     "Call-ID: c%u\r\nCSeq: %u %s\r\nContent-Length: 0\r\n\r\n",
		     method, p[1] & 1 ? "z9hG4bKfz" : "old", p[1] >> 1 & 3,
		     p[1] & 8 ? ";rport" : "", p[2] & 1 ? 70 : 0, p[2] & 2 ? ";tag=t" : "",
		     p[1] >> 1 & 3, 1 + (p[2] >> 2 & 1), method);
	feed(text, (size_t)n, 16100, p[2] & 8);
}

static void op_reply(const uint8_t *p)
{
	static struct sip_hdr h[64];
	struct sip_limits lim;
	struct sip_msg m;
	char text[4096];
	unsigned k, i, code;
	size_t n = 0;

	if (!nsent)
		return;
	k = (nsent - 1 - p[0] % (nsent < NSENT ? nsent : NSENT)) % NSENT;
	code = codes[p[1] % (sizeof(codes) / sizeof(codes[0]))];
	memset(&m, 0, sizeof(m));
	m.hdr = h;
	m.hdr_cap = 64;
	sip_limits_default(&lim);
	if (sip_msg_parse(&m, sent[k], sent_len[k], 0, &lim) || !m.is_request)
		return;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "SIP/2.0 %u X\r\n", code);
	for (i = 0; i < m.nhdr && n < sizeof(text) - 200; i++) {
		const struct sip_hdr *hh = &m.hdr[i];

		if (hh->id == SIP_H_VIA || hh->id == SIP_H_FROM || hh->id == SIP_H_CALL_ID ||
		    hh->id == SIP_H_CSEQ)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%.*s", SY_FMT(hh->raw));
		else if (hh->id == SIP_H_TO)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "To: %.*s%s\r\n",
					      SY_FMT(hh->body), code > 100 && !m.to.tag.len ?
					      (p[1] & 0x80 ? ";tag=u" : ";tag=v") : "");
	}
	if (code == 401 || code == 407)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s: Digest realm=\"r\"\r\n",
				      code == 401 ? "WWW-Authenticate" : "Proxy-Authenticate");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "Content-Length: 0\r\n\r\n");
	if (n < sizeof(text))
		feed(text, n, p[1] & 0x40 ? 16201 : 16200, 0);
}

/* what is left, for the report */
static void dump_left(void)
{
	struct tm_table *tb = tm_table();
	unsigned c, i, j;

	for (c = 0; c < tb->nchunks; c++)
		for (i = 0; i < TM_CHUNK; i++) {
			struct tm_trans *t = &tb->chunks[c][i];

			if (!t->in_use)
				continue;
			fprintf(stderr, "t %.*s %.*s sstate %d final %d nbr %u first %u canc %d "
				"s_end %d s_retr %d\n", SY_FMT(t->msg.method), SY_FMT(t->msg.callid),
				t->sstate, t->final_sent, t->nbr, t->first_br, t->cancelled,
				sy_timer_armed(&t->s_end), sy_timer_armed(&t->s_retr));
			for (j = 0; j < t->nbr; j++) {
				struct tm_branch *b = t->br[j];

				fprintf(stderr, "  b%u state %d cancel %d done %d code %u rcvd %u "
					"cw %d timers %d%d%d%d%d\n", j, b->state, b->cancel, b->done,
					b->code, b->rcvd_final, b->cancel_wait,
					sy_timer_armed(&b->t_retr), sy_timer_armed(&b->t_fr),
					sy_timer_armed(&b->t_end), sy_timer_armed(&b->c_retr),
					sy_timer_armed(&b->c_end));
			}
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;

	init_once();
	nsent = 0;
	while (i + 2 <= size) {
		static const size_t need[4] = { 4, 3, 2, 2 };
		const uint8_t *p = data + i + 1;

		if (i + need[data[i] % 4] > size)
			break;
		switch (data[i] % 4) {
		case 0:
			op_request(p);
			i += 4;
			break;
		case 1:
			op_reply(p);
			i += 3;
			break;
		case 2:
			advance(p[0] % 64);
			i += 2;
			break;
		default: {
			size_t len = p[0];

			if (i + 2 + len > size)
				len = size - i - 2;
			feed((const char *)data + i + 2, len, 16200, 0);
			i += 2 + len;
			break;
		}
		}
	}
	/* every transaction ends by itself: the longest chain is a few 64*T1 + fr + wt */
	advance(2000);
	if (tm_count() != 0) {
		fprintf(stderr, "fuzz_tm_flow: %u transactions left\n", tm_count());
		dump_left();
		abort();
	}
	return 0;
}
