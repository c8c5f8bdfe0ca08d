/* tm_program.h: the input "program" shared by fuzz_tm_flow.c (tm alone) and fuzz_mod_tm.c (the
 * whole receive path with script units): ops feed a request from upstream (INVITE/OPTIONS/ACK/
 * CANCEL/BYE over a few branches and Call-IDs, RFC 3261 and RFC 2543 style), a reply from
 * downstream to any request tm sent (any code, retransmissions included), raw bytes as a
 * message, or advance the fake clock; at the end a long advance must leave no transaction
 * alive (tm_count() == 0), else abort(). The including target defines TMP_NAME,
 * TMP_RURI_USER(p) (the Request-URI user for op bytes p), init_once() and feed(). */
#ifndef FUZZ_TM_PROGRAM_H
#define FUZZ_TM_PROGRAM_H

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

static void init_once(void);
/* one message into the code under test, as if from 127.0.0.1:from_port; nbranch asks for a
 * second branch where the target decides that itself */
static void feed(const char *text, size_t len, unsigned from_port, unsigned nbranch);

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

/* the part of init_once() both targets share: quiet log, fake clock, one loop, one UDP listen,
 * tm sending into sent[], and timer values short enough that every chain ends within the final
 * advance (T1/T2/T4 and the limits are set by the caller: modparams or tm_cfg) */
static void tmp_start(void)
{
	int idx;

	sy_log_level = -10;	/* quiet */
	sy_clock_set(fake_clock);
	loop = sy_loop_new(0);
	tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), 16000, &idx);
}

static void tmp_finish(void)
{
	tm_send_fn = cap_send;
	tm_cfg.fr_ms = 60;
	tm_cfg.fr_inv_ms = 90;
	tm_cfg.wt_ms = 20;
}

static void advance(unsigned ms)
{
	while (ms--) {
		now_ms++;
		sy_loop_fire_timers(loop);
	}
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
		     "%s sip:%s@127.0.0.1:16200 SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:16100;branch=%s%u%s\r\n"
		     "Max-Forwards: %u\r\nFrom: <sip:a@x>;tag=f\r\nTo: <sip:b@x>%s\r\n"
		     "Call-ID: c%u\r\nCSeq: %u %s\r\nContent-Length: 0\r\n\r\n",
		     method, TMP_RURI_USER(p), p[1] & 1 ? "z9hG4bKfz" : "old", p[1] >> 1 & 3,
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
		fprintf(stderr, TMP_NAME ": %u transactions left\n", tm_count());
		dump_left();
		abort();
	}
	return 0;
}

#endif
