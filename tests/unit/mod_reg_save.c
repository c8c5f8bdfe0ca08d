/* mod_reg_save.c: the registrar on parsed messages: save() per RFC 3261 §10.3 (add, refresh,
 * remove, "*", expires rules, 423, CSeq ordering, max_contacts, bad input storing nothing),
 * Path and NAT source kept, RFC 5626 instance/reg-id matching, lookup()/registered() and the
 * q-ordered serial groups, persistence across a restart, purge of expired bindings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "mod/nathelper.h"
#include "mod/registrar.h"
#include "mod/usrloc.h"
#include "sip/build.h"
#include "sip/msg.h"

static int64_t fake_now = 1000000;
static int64_t fake_clock(void) { return fake_now; }

static char arena_mem[256 * 1024];
static struct sy_arena arena;
static struct sy_rcvinfo rcv;

/* a parsed message that stays valid for the test: buffer and header array are static */
struct pmsg {
	char buf[65536];
	struct sip_hdr hdr[512];
	struct sip_msg m;
};
static struct pmsg pm, pm2;

static void parse_into(struct pmsg *p, const char *text)
{
	struct sip_limits lim;
	size_t len = strlen(text);

	sip_limits_default(&lim);
	lim.max_headers = 512;
	lim.max_contacts = 100000;
	lim.max_line = 65535;
	assert_true(len < sizeof(p->buf));
	memcpy(p->buf, text, len);
	memset(&p->m, 0, sizeof(p->m));
	p->m.hdr = p->hdr;
	p->m.hdr_cap = 512;
	assert_int_equal(sip_msg_parse(&p->m, p->buf, len, 0, &lim), 0);
}

static char txt[65536];

/* REGISTER for alice with the given Call-ID, CSeq and extra header lines */
static const char *reg(const char *callid, unsigned cseq, const char *hdrs)
{
	snprintf(txt, sizeof(txt),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%u\r\n"
		 "Max-Forwards: 70\r\n"
		 "To: <sip:alice@Example.COM>\r\n"
		 "From: <sip:alice@example.com>;tag=1\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: %u REGISTER\r\n"
		 "%s"
		 "Content-Length: 0\r\n\r\n", cseq, callid, cseq, hdrs);
	return txt;
}

static int save(const char *text, struct reg_reply *rep)
{
	parse_into(&pm, text);
	sy_arena_reset(&arena);
	return reg_save_msg(&pm.m, &rcv, 0, 0, &arena, rep);
}

static int save_nat(const char *text, struct reg_reply *rep)
{
	parse_into(&pm, text);
	sy_arena_reset(&arena);
	return reg_save_msg(&pm.m, &rcv, 1, 0, &arena, rep);
}

static unsigned count(const char *aor)
{
	static char mem[65536];
	struct sy_arena a;
	struct store_binding *v;
	unsigned n;

	sy_arena_init(&a, mem, sizeof(mem));
	if (ul_get(sy_cstr(aor), &a, &v, &n) != 0)
		return 0;
	return n;
}

static int hdrs_have(const struct reg_reply *rep, const char *needle)
{
	char b[8192];

	snprintf(b, sizeof(b), "%.*s", SY_FMT(rep->hdrs));
	return strstr(b, needle) != NULL;
}

static int setup(void **state)
{
	(void)state;
	fake_now = 1000000;
	ul_set_clock(fake_clock);
	sy_arena_init(&arena, arena_mem, sizeof(arena_mem));
	memset(&rcv, 0, sizeof(rcv));
	rcv.proto = SY_PROTO_UDP;
	rcv.src.u.in.sin_family = AF_INET;
	rcv.src.u.in.sin_port = htons(40000);
	inet_pton(AF_INET, "192.0.2.10", &rcv.src.u.in.sin_addr);
	rcv.src.len = sizeof(struct sockaddr_in);
	rcv.listen_idx = 0;
	reg_cfg.default_expires = 3600;
	reg_cfg.min_expires = 60;
	reg_cfg.max_expires = 0;
	reg_cfg.max_contacts = 0;
	reg_cfg.default_q = 0;
	assert_int_equal(ul_init(NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ul_destroy();
	return 0;
}

static void test_aor_canon(void **state)
{
	struct sip_uri u;
	sy_str aor;

	(void)state;
	sy_arena_reset(&arena);
	assert_int_equal(sip_uri_parse(SY_STR("sips:Al%69ce@EXAMPLE.com:5061;transport=tcp"), &u), 0);
	assert_int_equal(reg_aor_canon(&u, &arena, &aor), 0);
	assert_true(sy_str_eq(aor, SY_STR("sip:Alice@example.com")));
	assert_int_equal(sip_uri_parse(SY_STR("tel:+1234"), &u), 0);
	assert_int_equal(reg_aor_canon(&u, &arena, &aor), EINVAL);
}

static void test_add_refresh_remove(void **state)
{
	struct reg_reply rep;

	(void)state;
	/* add: Expires header applies */
	assert_int_equal(save(reg("c1", 1, "Contact: <sip:alice@10.0.0.1:5062>\r\nExpires: 120\r\n"),
			      &rep), 0);
	assert_int_equal(rep.code, 200);
	assert_true(hdrs_have(&rep, "Contact: <sip:alice@10.0.0.1:5062>;expires=120\r\n"));
	assert_true(hdrs_have(&rep, "Date: "));
	assert_int_equal(count("sip:alice@example.com"), 1);

	/* refresh, same Call-ID, higher CSeq; the param beats the header */
	fake_now += 30;
	assert_int_equal(save(reg("c1", 2, "Contact: <sip:alice@10.0.0.1:5062>;expires=300\r\n"
				  "Expires: 120\r\n"), &rep), 0);
	assert_true(hdrs_have(&rep, ";expires=300\r\n"));
	assert_int_equal(count("sip:alice@example.com"), 1);

	/* a second contact without any expires: the default */
	assert_int_equal(save(reg("c2", 1, "Contact: sip:alice@10.0.0.2\r\n"), &rep), 0);
	assert_true(hdrs_have(&rep, "<sip:alice@10.0.0.2>;expires=3600\r\n"));
	assert_true(hdrs_have(&rep, "<sip:alice@10.0.0.1:5062>;expires=300\r\n"));
	assert_int_equal(count("sip:alice@example.com"), 2);

	/* fetch (no Contact) lists both and changes nothing */
	assert_int_equal(save(reg("c3", 1, ""), &rep), 0);
	assert_int_equal(rep.code, 200);
	assert_int_equal(count("sip:alice@example.com"), 2);

	/* remove one with expires=0: URI comparison, so case of the host does not matter */
	assert_int_equal(save(reg("c1", 3, "Contact: <sip:alice@10.0.0.1:5062>;expires=0\r\n"),
			      &rep), 0);
	assert_int_equal(rep.code, 200);
	assert_false(hdrs_have(&rep, "10.0.0.1:5062"));
	assert_int_equal(count("sip:alice@example.com"), 1);

	/* Contact: * with Expires: 0 clears the AOR */
	assert_int_equal(save(reg("c9", 1, "Contact: *\r\nExpires: 0\r\n"), &rep), 0);
	assert_int_equal(rep.code, 200);
	assert_int_equal(count("sip:alice@example.com"), 0);
}

static void test_star_rules(void **state)
{
	struct reg_reply rep;

	(void)state;
	assert_int_equal(save(reg("s1", 5, "Contact: <sip:a@10.0.0.1>\r\n"), &rep), 0);
	/* no Expires, or non-zero, or with another Contact: 400, nothing removed */
	assert_int_equal(save(reg("s2", 1, "Contact: *\r\n"), &rep), EBADMSG);
	assert_int_equal(rep.code, 400);
	assert_int_equal(save(reg("s2", 1, "Contact: *\r\nExpires: 10\r\n"), &rep), EBADMSG);
	assert_int_equal(save(reg("s2", 1, "Contact: *, <sip:b@h>\r\nExpires: 0\r\n"), &rep),
			 EBADMSG);
	assert_int_equal(count("sip:alice@example.com"), 1);
	/* same Call-ID with a lower CSeq: the request fails (§10.3 step 6) */
	assert_int_equal(save(reg("s1", 4, "Contact: *\r\nExpires: 0\r\n"), &rep), EPROTO);
	assert_int_equal(rep.code, 500);
	assert_int_equal(count("sip:alice@example.com"), 1);
	/* the equal one is the request that set the binding: left alone, 200 */
	assert_int_equal(save(reg("s1", 5, "Contact: *\r\nExpires: 0\r\n"), &rep), 0);
	assert_int_equal(count("sip:alice@example.com"), 1);
	assert_int_equal(save(reg("s1", 6, "Contact: *\r\nExpires: 0\r\n"), &rep), 0);
	assert_int_equal(count("sip:alice@example.com"), 0);
}

static void test_cseq_order(void **state)
{
	struct reg_reply rep;

	(void)state;
	assert_int_equal(save(reg("k1", 10, "Contact: <sip:a@10.0.0.1>\r\n"), &rep), 0);
	/* lower CSeq with the same Call-ID: 500, binding untouched */
	assert_int_equal(save(reg("k1", 9, "Contact: <sip:a@10.0.0.1>;expires=0\r\n"), &rep),
			 EPROTO);
	assert_int_equal(rep.code, 500);
	assert_int_equal(count("sip:alice@example.com"), 1);
	/* equal: a retransmission of the request that set it (no transaction absorbed it):
	 * 200 again, nothing changes, whatever it says */
	assert_int_equal(save(reg("k1", 10, "Contact: <sip:a@10.0.0.1>;expires=0\r\n"), &rep), 0);
	assert_int_equal(rep.code, 200);
	assert_true(hdrs_have(&rep, "<sip:a@10.0.0.1>;expires=3600"));
	assert_int_equal(count("sip:alice@example.com"), 1);
	/* a different Call-ID may update whatever its CSeq */
	assert_int_equal(save(reg("k2", 1, "Contact: <sip:a@10.0.0.1>;expires=600\r\n"), &rep), 0);
	assert_true(hdrs_have(&rep, ";expires=600"));
}

static void test_expires_limits(void **state)
{
	struct reg_reply rep;

	(void)state;
	assert_int_equal(save(reg("e1", 1, "Contact: <sip:a@10.0.0.1>;expires=30\r\n"), &rep),
			 ERANGE);
	assert_int_equal(rep.code, 423);
	assert_true(hdrs_have(&rep, "Min-Expires: 60\r\n"));
	assert_int_equal(count("sip:alice@example.com"), 0);

	reg_cfg.max_expires = 900;
	assert_int_equal(save(reg("e1", 2, "Contact: <sip:a@10.0.0.1>\r\nExpires: 7200\r\n"), &rep),
			 0);
	assert_true(hdrs_have(&rep, ";expires=900\r\n"));

	/* beyond 2^32-1 in either place: 400 */
	assert_int_equal(save(reg("e1", 3, "Contact: <sip:a@10.0.0.1>\r\nExpires: 4294967296\r\n"),
			      &rep), EBADMSG);
	assert_int_equal(rep.code, 400);
	assert_int_equal(save(reg("e1", 3, "Contact: <sip:a@10.0.0.1>;expires=99999999999\r\n"),
			      &rep), EBADMSG);
	assert_int_equal(save(reg("e1", 3, "Contact: <sip:a@10.0.0.1>\r\nExpires: soon\r\n"),
			      &rep), EBADMSG);
}

static void test_bad_input_stores_nothing(void **state)
{
	struct reg_reply rep;
	char many[64 * 40 + 64];
	size_t off = 0;
	unsigned i;

	(void)state;
	/* a good Contact, then a broken one: 400 and the good one is not stored */
	assert_int_equal(save(reg("b1", 1, "Contact: <sip:a@10.0.0.1>, <sip:b@10.0.0.2\r\n"),
			      &rep), EBADMSG);
	assert_int_equal(rep.code, 400);
	assert_int_equal(count("sip:alice@example.com"), 0);
	assert_int_equal(save(reg("b1", 1, "Contact: <sip:a@10.0.0.1>;q=2\r\n"), &rep), EBADMSG);
	assert_int_equal(save(reg("b1", 1, "Contact: <mailto:a@example.com>\r\n"), &rep), EBADMSG);
	assert_int_equal(save(reg("b1", 1, "Contact: <sip:a@10.0.0.1>\r\nPath: <sip:e;lr\r\n"),
			      &rep), EBADMSG);
	assert_int_equal(save(reg("b1", 1, "Contact: <sip:a@10.0.0.1>\r\nPath: <tel:+1>\r\n"),
			      &rep), EBADMSG);
	assert_int_equal(count("sip:alice@example.com"), 0);

	/* more Contacts than one request may carry */
	for (i = 0; i < REG_MAX_REQ_CONTACTS + 1; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "Contact: <sip:u%u@h>\r\n", i);
	assert_int_equal(save(reg("b2", 1, many), &rep), EBADMSG);
	assert_int_equal(rep.code, 400);
	assert_int_equal(count("sip:alice@example.com"), 0);
}

static void test_require(void **state)
{
	struct reg_reply rep;

	(void)state;
	/* §10.3 step 2: an extension we do not implement is refused and named */
	assert_int_equal(save(reg("q1", 1, "Contact: <sip:a@10.0.0.1>\r\nRequire: path, foo\r\n"
				  "Require: bar\r\n"), &rep), EOPNOTSUPP);
	assert_int_equal(rep.code, 420);
	assert_true(hdrs_have(&rep, "Unsupported: foo, bar\r\n"));
	assert_int_equal(count("sip:alice@example.com"), 0);
	assert_int_equal(save(reg("q1", 2, "Contact: <sip:a@10.0.0.1>\r\nRequire: path\r\n"
				  "Path: <sip:e.example;lr>\r\n"), &rep), 0);
	assert_int_equal(count("sip:alice@example.com"), 1);
}

static void test_non_sip_to(void **state)
{
	struct reg_reply rep;
	FILE *f = fopen("../shared/testdata/rfc4475/unksm2.dat", "rb");
	static char buf[4096];
	size_t n;

	(void)state;
	if (!f)
		f = fopen("/work/shared/testdata/rfc4475/unksm2.dat", "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_int_equal(save(buf, &rep), EBADMSG);
	assert_int_equal(rep.code, 400);
}

static void test_max_contacts(void **state)
{
	struct reg_reply rep;

	(void)state;
	reg_cfg.max_contacts = 2;
	assert_int_equal(save(reg("m1", 1, "Contact: <sip:a@1.1.1.1>, <sip:a@1.1.1.2>\r\n"), &rep), 0);
	assert_int_equal(save(reg("m2", 1, "Contact: <sip:a@1.1.1.3>\r\n"), &rep), EDQUOT);
	assert_int_equal(rep.code, 403);
	assert_int_equal(count("sip:alice@example.com"), 2);
	/* replacing one by another in one request stays within the limit */
	assert_int_equal(save(reg("m2", 2, "Contact: <sip:a@1.1.1.1>;expires=0, <sip:a@1.1.1.3>\r\n"),
			      &rep), 0);
	assert_int_equal(count("sip:alice@example.com"), 2);
	/* the flag overrides the modparam */
	parse_into(&pm, reg("m3", 1, "Contact: <sip:a@1.1.1.4>\r\n"));
	assert_int_equal(reg_save_msg(&pm.m, &rcv, 0, 3, &arena, &rep), 0);
	assert_int_equal(count("sip:alice@example.com"), 3);
}

static void test_instance_reg_id(void **state)
{
	struct reg_reply rep;
	static char mem[8192];
	struct sy_arena a;
	struct store_binding *v;
	unsigned n;

	(void)state;
	assert_int_equal(save(reg("i1", 1, "Contact: <sip:a@10.0.0.1:1111;transport=tcp>"
				  ";+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\""
				  ";reg-id=1\r\n"), &rep), 0);
	assert_true(hdrs_have(&rep, ";+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\""
			      ";reg-id=1\r\n"));
	/* new flow after a reboot: new Call-ID, new port, same instance + reg-id: replaced */
	assert_int_equal(save(reg("i2", 1, "Contact: <sip:a@10.0.0.1:2222;transport=tcp>"
				  ";+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\""
				  ";reg-id=1\r\n"), &rep), 0);
	sy_arena_init(&a, mem, sizeof(mem));
	assert_int_equal(ul_get(SY_STR("sip:alice@example.com"), &a, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_true(sy_str_eq(v[0].contact, SY_STR("sip:a@10.0.0.1:2222;transport=tcp")));
	assert_int_equal(v[0].reg_id, 1);
	assert_int_equal(save(reg("i2", 2, "Contact: <sip:a@h>;reg-id=0\r\n"), &rep), EBADMSG);
}

/* a request context for lookup() */
static struct sip_edit edits[32];
static struct sip_build build;
static struct scr_ctx ctx;

static void mkctx(const char *text)
{
	parse_into(&pm2, text);
	sy_arena_reset(&arena);
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = &pm2.m;
	ctx.rcv = &rcv;
	ctx.arena = &arena;
	ctx.route_type = SCR_ROUTE_REQUEST;
	sip_build_init(&build, &pm2.m, edits, 32);
	ctx.edits = &build;
}

static const char *req(const char *method, const char *ruri)
{
	snprintf(txt, sizeof(txt),
		 "%s %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKx\r\n"
		 "Max-Forwards: 70\r\n"
		 "To: <sip:alice@example.com>\r\n"
		 "From: <sip:bob@example.com>;tag=99\r\n"
		 "Call-ID: inv-1\r\n"
		 "CSeq: 7 %s\r\n"
		 "Content-Length: 0\r\n\r\n", method, ruri, method);
	return txt;
}

static void test_lookup(void **state)
{
	struct reg_reply rep;

	(void)state;
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), -1);
	assert_int_equal(reg_registered(&ctx, SY_NULL_STR), -1);

	/* one contact: R-URI rewritten, no $du */
	assert_int_equal(save(reg("l1", 1, "Contact: <sip:alice@10.0.0.1:5062>\r\n"), &rep), 0);
	mkctx(req("INVITE", "sip:alice@EXAMPLE.com:5060;user=phone"));
	assert_int_equal(reg_registered(&ctx, SY_NULL_STR), 1);
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
	assert_true(sy_str_eq(ctx.new_ruri, SY_STR("sip:alice@10.0.0.1:5062")));
	assert_int_equal(ctx.dst_uri.len, 0);
	assert_int_equal(ctx.nbranches, 0);
	/* registered() reads the R-URI, which is now the contact */
	assert_int_equal(reg_registered(&ctx, SY_NULL_STR), -1);

	/* three, with q: best q is the R-URI, the others branches in q order */
	assert_int_equal(save(reg("l2", 1, "Contact: <sip:alice@10.0.0.2>;q=0.9\r\n"), &rep), 0);
	fake_now++;
	assert_int_equal(save(reg("l3", 1, "Contact: <sip:alice@10.0.0.3>;q=0.5\r\n"), &rep), 0);
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
	assert_true(sy_str_eq(ctx.new_ruri, SY_STR("sip:alice@10.0.0.2")));
	assert_int_equal(ctx.nbranches, 2);
	assert_true(sy_str_eq(ctx.branches[0], SY_STR("sip:alice@10.0.0.3")));
	assert_true(sy_str_eq(ctx.branches[1], SY_STR("sip:alice@10.0.0.1:5062")));

	/* "b": the best one only */
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, REG_LOOKUP_NO_BRANCHES), 1);
	assert_true(sy_str_eq(ctx.new_ruri, SY_STR("sip:alice@10.0.0.2")));
	assert_int_equal(ctx.nbranches, 0);

	/* explicit AOR argument */
	mkctx(req("INVITE", "sip:nobody@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_STR("sip:alice@example.com"), 0), 1);
}

static void test_lookup_methods(void **state)
{
	struct reg_reply rep;

	(void)state;
	assert_int_equal(save(reg("lm", 1, "Contact: <sip:alice@10.0.0.1>;methods=\"INVITE,BYE\"\r\n"),
			      &rep), 0);
	mkctx(req("MESSAGE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), -2);
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
	/* Allow of the REGISTER when the Contact has no methods param */
	assert_int_equal(save(reg("lm", 2, "Contact: <sip:alice@10.0.0.1>\r\n"
				  "Allow: INVITE, ACK, CANCEL, BYE\r\n"), &rep), 0);
	mkctx(req("MESSAGE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), -2);
	mkctx(req("BYE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
}

static void test_path_and_nat(void **state)
{
	struct reg_reply rep;
	char out[4096];
	size_t olen;

	(void)state;
	assert_int_equal(save(reg("p1", 1, "Path: <sip:edge1.example.net;lr>\r\n"
				  "Path: <sip:edge2.example.net;lr>\r\n"
				  "Contact: <sip:alice@10.0.0.1:5062>\r\n"), &rep), 0);
	assert_true(hdrs_have(&rep, "Path: <sip:edge1.example.net;lr>, <sip:edge2.example.net;lr>\r\n"));
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
	assert_true(sy_str_eq(ctx.dst_uri, SY_STR("sip:edge1.example.net;lr")));
	assert_int_equal(sip_build_out(&build, out, sizeof(out), &olen), 0);
	out[olen] = '\0';
	assert_non_null(strstr(out, "Route: <sip:edge1.example.net;lr>, <sip:edge2.example.net;lr>\r\n"));

}

static void test_nat_received(void **state)
{
	struct reg_reply rep;

	(void)state;
	assert_int_equal(save_nat(reg("n1", 1, "Contact: <sip:alice@192.168.1.20:5062>;q=0.9\r\n"), &rep),
			 0);
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
	assert_true(sy_str_eq(ctx.new_ruri, SY_STR("sip:alice@192.168.1.20:5062")));
	assert_true(sy_str_eq(ctx.dst_uri, SY_STR("sip:192.0.2.10:40000")));
	/* a second, non-NATed contact as a branch has no $du of its own */
	assert_int_equal(save(reg("n2", 1, "Contact: <sip:alice@198.51.100.1>;q=0.1\r\n"), &rep), 0);
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
	assert_int_equal(ctx.nbranches, 1);
	assert_true(sy_str_eq(ctx.branches[0], SY_STR("sip:alice@198.51.100.1")));
	assert_int_equal(ctx.branch_dst[0].len, 0);
}

static void test_serial_groups(void **state)
{
	struct reg_reply rep;

	(void)state;
	assert_int_equal(save(reg("g1", 1, "Contact: <sip:a@10.0.0.1>;q=1.0, <sip:a@10.0.0.2>;q=1.0,"
				  " <sip:a@10.0.0.3>;q=0.5\r\n"), &rep), 0);
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
	assert_int_equal(reg_load_contacts(&ctx), 1);
	assert_int_equal(reg_next_contacts(&ctx), 1);
	assert_int_equal(ctx.nbranches, 1);	/* the two q=1.0 in parallel */
	assert_true(sy_str_eq(ctx.new_ruri, SY_STR("sip:a@10.0.0.1")) ||
		    sy_str_eq(ctx.new_ruri, SY_STR("sip:a@10.0.0.2")));
	/* failure_route of the same transaction: same Call-ID/CSeq/From tag */
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_next_contacts(&ctx), 1);
	assert_true(sy_str_eq(ctx.new_ruri, SY_STR("sip:a@10.0.0.3")));
	assert_int_equal(ctx.nbranches, 0);
	assert_int_equal(reg_next_contacts(&ctx), -1);
	assert_int_equal(reg_next_contacts(&ctx), -1);
}

static void test_expiry_and_purge(void **state)
{
	struct reg_reply rep;

	(void)state;
	assert_int_equal(save(reg("x1", 1, "Contact: <sip:a@10.0.0.1>;expires=100\r\n"), &rep), 0);
	assert_int_equal(save(reg("x2", 1, "Contact: <sip:a@10.0.0.2>;expires=1000\r\n"), &rep), 0);
	fake_now += 100;	/* the first is gone at once for lookups, before any purge */
	assert_int_equal(count("sip:alice@example.com"), 1);
	assert_int_equal(ul_purge(fake_now), 1);
	fake_now += 1000;
	assert_int_equal(count("sip:alice@example.com"), 0);
	assert_int_equal(ul_purge(fake_now), 1);
	assert_int_equal(ul_purge(fake_now), 0);
}

static void test_restart(void **state)
{
	struct reg_reply rep;
	char path[64], url[96], p2[96];

	(void)state;
	ul_destroy();
	snprintf(path, sizeof(path), "/tmp/sy-reg-test-%d.db", (int)getpid());
	snprintf(url, sizeof(url), "sqlite://%s", path);
	unlink(path);
	assert_int_equal(ul_init(url), 0);
	assert_int_equal(save(reg("r1", 1, "Contact: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>\r\n"), &rep), 0);
	assert_int_equal(save(reg("r1", 2, "Contact: <sip:a@10.0.0.2>;expires=0\r\n"), &rep), 0);
	assert_int_equal(save_nat(reg("r2", 1, "Contact: <sip:a@10.0.0.3>;expires=100\r\n"
				      "Path: <sip:p.example.net;lr>\r\n"), &rep), 0);
	assert_int_equal(ul_flush(), 0);
	ul_destroy();

	assert_int_equal(ul_init(url), 0);
	assert_int_equal(count("sip:alice@example.com"), 2);
	mkctx(req("INVITE", "sip:alice@example.com"));
	assert_int_equal(reg_lookup(&ctx, SY_NULL_STR, 0), 1);
	/* r1 (default expires) and r2 (Path) differ in Path: only the first target is used */
	/* the Call-ID/CSeq survived too: a stale repeat still fails */
	assert_int_equal(save(reg("r1", 0, "Contact: <sip:a@10.0.0.1>\r\n"), &rep), EPROTO);
	fake_now += 200;
	assert_int_equal(ul_purge(fake_now), 1);
	assert_int_equal(ul_flush(), 0);
	ul_destroy();
	assert_int_equal(ul_init(url), 0);
	assert_int_equal(count("sip:alice@example.com"), 1);
	ul_destroy();
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	assert_int_equal(ul_init(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_aor_canon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_refresh_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_star_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cseq_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expires_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_require, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_sip_to, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_contacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_instance_reg_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_and_nat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nat_received, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_and_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
