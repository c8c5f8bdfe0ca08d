/* tm_wire.h: shared by the tm unit tests: a fake clock and loop, messages parsed and fed to
 * the tm hooks the way px_recv does, and every message tm sends captured with its time and
 * destination port. Static functions only (each test binary includes it once). */
#ifndef TESTS_TM_WIRE_H
#define TESTS_TM_WIRE_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/loop.h"
#include "core/worker.h"
#include "proxy/proxy.h"
#include "tm/internal.h"
#include "tp/tp.h"

/* no script in these tests: an empty unit table for the script library */
const struct scr_unit *const scr_units[] = { NULL };

#define UP_PORT 16100	/* the UAC (upstream) */
#define DOWN_PORT 16200	/* the next hop */
#define OUR_PORT 16000

static uint64_t now_ms;
static uint64_t fake_clock(void)
{
	return now_ms;
}

struct sent {
	unsigned port;
	uint64_t at;
	char buf[2048];
	size_t len;
};
static struct sent sent[512];
static unsigned nsent;

static int cap_send(const struct sy_dest *d, const char *buf, size_t len)
{
	struct sent *s;

	if (nsent >= sizeof(sent) / sizeof(sent[0]))
		return ENOSPC;
	s = &sent[nsent++];
	s->port = ntohs(d->addr.u.in.sin_port);
	s->at = now_ms;
	s->len = len < sizeof(s->buf) - 1 ? len : sizeof(s->buf) - 1;
	memcpy(s->buf, buf, s->len);
	s->buf[s->len] = 0;
	return 0;
}

static struct sy_loop *loop;
static const struct tm_config defaults = {
	.t1_ms = 500, .t2_ms = 4000, .t4_ms = 5000, .fr_ms = 1000000, .fr_inv_ms = 1000000,
	.wt_ms = 0, .max_transactions = 0, .retry_after = 5,
};

static int setup(void **state)
{
	int idx;

	(void)state;
	now_ms = 100000;
	sy_clock_set(fake_clock);
	loop = sy_loop_new(0);
	assert_non_null(loop);
	tp_listen_reset();
	assert_int_equal(tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), OUR_PORT, &idx), 0);
	tm_send_fn = cap_send;
	tm_cfg = defaults;
	nsent = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tm_worker_fini();
	sy_loop_free(loop);
	sy_clock_set(NULL);
	return 0;
}

static void advance(uint64_t ms)
{
	while (ms--) {
		now_ms++;
		sy_loop_fire_timers(loop);
	}
}

/* ---- messages in */

struct in {
	char buf[4096];
	struct sip_msg m;
	struct sip_hdr h[64];
	struct sip_edit e[16];
	struct sip_build b;
	struct scr_ctx ctx;
	struct sy_rcvinfo rcv;
};

static void in_parse(struct in *im, const char *text, unsigned from_port)
{
	struct sip_limits lim;
	size_t len = strlen(text);

	memset(im, 0, sizeof(*im));
	memcpy(im->buf, text, len);
	im->m.hdr = im->h;
	im->m.hdr_cap = 64;
	sip_limits_default(&lim);
	assert_int_equal(sip_msg_parse(&im->m, im->buf, len, 0, &lim), 0);
	sip_build_init(&im->b, &im->m, im->e, 16);
	im->rcv.proto = SY_PROTO_UDP;
	im->rcv.src.u.in.sin_family = AF_INET;
	im->rcv.src.u.in.sin_port = htons((uint16_t)from_port);
	im->rcv.src.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	im->rcv.src.len = sizeof(struct sockaddr_in);
	im->rcv.listen_idx = 0;
	im->ctx.msg = &im->m;
	im->ctx.rcv = &im->rcv;
	im->ctx.edits = &im->b;
	im->ctx.arena = sy_worker_arena();
	im->ctx.branch_idx = -1;
	im->ctx.route_type = im->m.is_request ? SCR_ROUTE_REQUEST : SCR_ROUTE_ONREPLY;
}

static char *request(char *out, const char *method, const char *branch, const char *callid,
		     const char *extra)
{
	sprintf(out,
		"%s sip:bob@127.0.0.1:%d SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@127.0.0.1>;tag=ft1\r\n"
		"To: <sip:bob@127.0.0.1>%s\r\n"
		"Call-ID: %s\r\n"
		"CSeq: 7 %s\r\n"
		"Content-Length: 0\r\n\r\n",
		method, DOWN_PORT, UP_PORT, branch, extra ? extra : "", callid,
		method);
	return out;
}

/* a request from upstream through request_in and (when new) t_relay: to DOWN_PORT, plus the
 * extra branch URIs given (parallel forking). 1 absorbed, 0 relayed, -errno */
static int relay_fork(const char *text, const char *const *extra, unsigned nextra)
{
	static struct in im;
	unsigned i;
	int rc;

	in_parse(&im, text, UP_PORT);
	rc = tm_request_in(&im.ctx);
	if (rc)
		return 1;
	im.ctx.dst_uri = SY_STR("sip:127.0.0.1:16200");
	for (i = 0; i < nextra; i++)
		im.ctx.branches[i] = sy_cstr(extra[i]);
	im.ctx.nbranches = nextra;
	rc = tm_relay(&im.ctx, NULL);
	tm_request_done(&im.ctx);
	return rc ? -rc : 0;
}

static int relay(const char *text)
{
	return relay_fork(text, NULL, 0);
}

/* a reply from downstream to the request sent[k], extra header lines added */
static int reply_hdrs(unsigned k, unsigned code, const char *to_tag, const char *extra)
{
	static struct in req, rep;
	char text[4096];
	size_t n = 0;
	unsigned i;

	in_parse(&req, sent[k].buf, OUR_PORT);
	n += (size_t)sprintf(text + n, "SIP/2.0 %u %s\r\n", code, sip_reason_phrase(code));
	for (i = 0; i < req.m.nhdr; i++) {
		const struct sip_hdr *h = &req.m.hdr[i];

		if (h->id == SIP_H_VIA || h->id == SIP_H_FROM || h->id == SIP_H_CALL_ID ||
		    h->id == SIP_H_CSEQ)
			n += (size_t)sprintf(text + n, "%.*s", SY_FMT(h->raw));
		else if (h->id == SIP_H_TO)
			n += (size_t)sprintf(text + n, "To: %.*s%s%s\r\n", SY_FMT(h->body),
					     code > 100 ? ";tag=" : "", code > 100 ? to_tag : "");
	}
	n += (size_t)sprintf(text + n, "%sContent-Length: 0\r\n\r\n", extra ? extra : "");
	in_parse(&rep, text, sent[k].port);
	return tm_reply_in(&rep.ctx);
}

static int reply_to(unsigned k, unsigned code, const char *to_tag)
{
	return reply_hdrs(k, code, to_tag, NULL);
}

/* ---- what went out */

static int starts(unsigned k, const char *prefix)
{
	return k < nsent && strncmp(sent[k].buf, prefix, strlen(prefix)) == 0;
}

/* index of the n-th (0-based) message sent to port starting with prefix, or -1 */
static int find(unsigned port, const char *prefix, unsigned nth)
{
	unsigned k;

	for (k = 0; k < nsent; k++)
		if (sent[k].port == port && starts(k, prefix) && nth-- == 0)
			return (int)k;
	return -1;
}

static unsigned count(unsigned port, const char *prefix)
{
	unsigned k, n = 0;

	for (k = 0; k < nsent; k++)
		n += sent[k].port == port && starts(k, prefix);
	return n;
}


#endif
