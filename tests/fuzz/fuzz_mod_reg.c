/* fuzz_mod_reg.c: the registrar, rr and nathelper on arbitrary messages. A REGISTER goes
 * through save() (memory-only table, reset per input): the answer must be one of the codes
 * save() documents, a 200 must list bindings that parse back, a 423 must carry Min-Expires, and
 * a failed save must leave the table empty; then lookup() of the same AOR must agree with what
 * was stored. Any request also goes through loose_route(), record_route_preset(),
 * nat_uac_test() and fix_nated_contact(), whose edits must serialise. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mod/nathelper.h"
#include "mod/registrar.h"
#include "mod/rr.h"
#include "mod/usrloc.h"
#include "sip/build.h"
#include "sip/msg.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

static char arena_mem[256 * 1024];
static char out[70000];

static void check_ok_reply(sy_str hdrs)
{
	const char *p = hdrs.s, *end = hdrs.s + hdrs.len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		CHECK(eol && eol > p && eol[-1] == '\r');
		if ((size_t)(eol - p) > 9 && memcmp(p, "Contact: ", 9) == 0) {
			struct sip_nameaddr na;
			sy_str rest, v;

			CHECK(sip_nameaddr_parse(sy_str_make(p + 9, (size_t)(eol - 1 - p - 9)), &na,
						 &rest) == 0);
			CHECK(sip_param_get(na.params, SY_STR("expires"), &v) == 0);
		}
		p = eol + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_hdr hdr[128];
	struct sip_limits lim;
	struct sip_msg m;
	struct sy_arena a;
	struct sy_rcvinfo rcv;
	struct reg_reply rep;
	struct sip_edit edits[64];
	struct sip_build b;
	struct scr_ctx ctx;
	size_t olen;
	int err;

	sip_limits_default(&lim);
	memset(&m, 0, sizeof(m));
	m.hdr = hdr;
	m.hdr_cap = 128;
	if (sip_msg_parse(&m, (const char *)data, size, 0, &lim) != 0 || !m.is_request)
		return 0;
	sy_arena_init(&a, arena_mem, sizeof(arena_mem));
	memset(&rcv, 0, sizeof(rcv));
	rcv.proto = SY_PROTO_UDP;
	rcv.listen_idx = -1;
	rcv.src.u.in.sin_family = AF_INET;
	rcv.src.u.in.sin_port = htons(5062);
	inet_pton(AF_INET, "192.0.2.1", &rcv.src.u.in.sin_addr);
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = &m;
	ctx.rcv = &rcv;
	ctx.arena = &a;
	ctx.route_type = SCR_ROUTE_REQUEST;
	sip_build_init(&b, &m, edits, 64);
	ctx.edits = &b;

	if (m.mid == SIP_M_REGISTER) {
		struct store_binding *v;
		unsigned n;
		sy_str aor;
		int stored;

		CHECK(ul_init(NULL) == 0);
		err = reg_save_msg(&m, &rcv, size & 1, 0, &a, &rep);
		CHECK(rep.code == 200 || rep.code == 400 || rep.code == 403 || rep.code == 420 ||
		      rep.code == 423 ||
		      rep.code == 500);
		CHECK((err == 0) == (rep.code == 200));
		if (rep.code == 200)
			check_ok_reply(rep.hdrs);
		if (rep.code == 423)
			CHECK(rep.hdrs.len > 13 && memcmp(rep.hdrs.s, "Min-Expires: ", 13) == 0);
		stored = reg_aor_canon(&m.to.uri, &a, &aor) == 0 &&
			 ul_get(aor, &a, &v, &n) == 0;
		if (err)	/* nothing stored half-way: the table started empty */
			CHECK(!stored);
		if (stored) {
			/* the To URI as a Request-URI finds what was stored */
			ctx.new_ruri = m.to.uri_s;
			CHECK(reg_lookup(&ctx, SY_NULL_STR, 0) != -1);
		}
		ul_destroy();
		sip_build_init(&b, &m, edits, 64);
		ctx.new_ruri = ctx.dst_uri = SY_NULL_STR;
		ctx.nbranches = 0;
	}

	(void)rr_loose_route(&ctx);
	(void)rr_record_route_preset(&ctx, SY_STR("192.0.2.9:5060"), SY_NULL_STR);
	CHECK(nh_uac_test(&ctx, 31) == 1 || nh_uac_test(&ctx, 31) == -1);
	(void)nh_fix_contact(&ctx);
	CHECK(sip_build_out(&b, out, sizeof(out), &olen) == 0 || sip_build_size(&b) > sizeof(out));
	return 0;
}
