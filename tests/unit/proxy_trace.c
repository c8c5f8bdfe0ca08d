/* proxy_trace.c: the pieces of `switchyard --trace` in src/proxy/trace.c: reading a capture
 * (LF-only files turned into CRLF with Content-Length fixed, CRLF files byte for byte, stdin
 * aside), the --src spec, and one message through px_recv with sends printed instead of sent
 * and the script trace in the same stream. No socket is opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/worker.h"
#include "proxy/proxy.h"
#include "tp/tp.h"

static int t_fwd(struct scr_ctx *ctx, const struct scr_arg *a)
{
	(void)a;
	return px_forward(ctx, NULL) ? -1 : 1;
}

static int t_reply(struct scr_ctx *ctx, const struct scr_arg *a)
{
	return px_reply(ctx, (unsigned)a[0].i, a[1].s, SY_NULL_STR) ? -1 : 1;
}

static const struct scr_fn t_fns[] = {
	{ "fwd", 0, 0, { SCR_ARG_NONE }, SCR_ROUTE_REQUEST, t_fwd },
	{ "reply", 2, 2, { SCR_ARG_INT, SCR_ARG_STR }, SCR_ROUTE_REQUEST, t_reply },
	{ NULL, 0, 0, { SCR_ARG_NONE }, 0, NULL },
};
static const struct scr_modparam t_params[] = { { NULL, SCR_PARAM_INT, NULL } };
static const struct scr_unit t_unit = { "core", t_fns, t_params, NULL };
const struct scr_unit *const scr_units[] = { &t_unit, NULL };

static const char script[] =
	"listen = udp:127.0.0.1:15040\n"
	"route {\n"
	"  if ($rm == \"MESSAGE\") { reply(488, \"Not Here\"); exit; }\n"
	"  $du = \"sip:127.0.0.1:15041\";\n"
	"  fwd();\n"
	"}\n";

static char tmpl[] = "/tmp/sy-proxy-trace-XXXXXX";
static char *dir;

/* write data to a file of the temp dir and read it back through px_trace_read */
static int read_back(const char *data, size_t len, char **out, size_t *outlen)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/msg", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	return px_trace_read(path, out, outlen);
}

static void expect_read(const char *in, const char *want)
{
	char *buf;
	size_t len;

	assert_int_equal(read_back(in, strlen(in), &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
}

static void test_lf_body_gets_crlf_and_length(void **state)
{
	(void)state;
	/* Content-Length said 999; the body is 3 lines of 4 bytes once converted */
	expect_read("MESSAGE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n"
		    "Content-Length: 999\n\nab\ncd\nef\n",
		    "MESSAGE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		    "Content-Length: 12\r\n\r\nab\r\ncd\r\nef\r\n");
	/* compact form (RFC 3261 §7.3.3), value written after one space */
	expect_read("OPTIONS sip:h SIP/2.0\nl:7\n\nx\n", "OPTIONS sip:h SIP/2.0\r\nl: 3\r\n\r\nx\r\n");
	/* a "Content-Length" line in the body is body, not a header */
	expect_read("MESSAGE sip:h SIP/2.0\nContent-Length: 0\n\nContent-Length: 5\n",
		    "MESSAGE sip:h SIP/2.0\r\nContent-Length: 19\r\n\r\nContent-Length: 5\r\n");
}

static void test_lf_edges(void **state)
{
	(void)state;
	/* trailing empty lines are not a body */
	expect_read("OPTIONS sip:h SIP/2.0\nContent-Length: 4\n\n\n\n",
		    "OPTIONS sip:h SIP/2.0\r\nContent-Length: 0\r\n\r\n");
	/* a file that stops after the last header (with or without its line end) */
	expect_read("OPTIONS sip:h SIP/2.0\nContent-Length: 0\n",
		    "OPTIONS sip:h SIP/2.0\r\nContent-Length: 0\r\n\r\n");
	expect_read("OPTIONS sip:h SIP/2.0\nContent-Length: 0",
		    "OPTIONS sip:h SIP/2.0\r\nContent-Length: 0\r\n\r\n");
	/* only the first of two Content-Lengths is fixed: the parser refuses the message, as it
	 * would on the wire */
	expect_read("OPTIONS sip:h SIP/2.0\nContent-Length: 1\nContent-Length: 2\n\n",
		    "OPTIONS sip:h SIP/2.0\r\nContent-Length: 0\r\nContent-Length: 2\r\n\r\n");
}

static void test_crlf_taken_as_is(void **state)
{
	static const char m[] = "OPTIONS sip:h SIP/2.0\r\nContent-Length: 9\r\n\r\nx\ny";
	char *buf;
	size_t len;

	(void)state;
	assert_int_equal(read_back(m, sizeof(m) - 1, &buf, &len), 0);
	assert_int_equal(len, sizeof(m) - 1);
	assert_memory_equal(buf, m, len);
	free(buf);
	assert_int_equal(read_back("", 0, &buf, &len), ENODATA);
	assert_null(buf);
	assert_int_equal(px_trace_read("/nonexistent/sy-trace", &buf, &len), ENOENT);
}

static void test_source_spec(void **state)
{
	struct sy_rcvinfo r;

	(void)state;
	assert_int_equal(px_trace_source("udp:10.1.2.3:5062", &r), 0);
	assert_int_equal(r.proto, SY_PROTO_UDP);
	assert_int_equal(tp_addr_port(&r.src), 5062);
	assert_int_equal(r.listen_idx, 0);
	assert_int_equal(tp_addr_port(&r.dst), 15040);
	assert_int_equal(r.conn_id, 0);
	assert_int_equal(px_trace_source("UDP:[::1]:7", &r), 0);
	assert_int_equal(r.src.u.sa.sa_family, AF_INET6);
	assert_int_equal(px_trace_source("tcp:127.0.0.1:5062", &r), ENOENT);	/* no tcp listen */
	assert_int_equal(px_trace_source("udp:::1:5062", &r), EINVAL);	/* v6 needs [] */
	assert_int_equal(px_trace_source("sctp:1.2.3.4:5", &r), EINVAL);
	assert_int_equal(px_trace_source("udp:1.2.3.4", &r), EINVAL);
	assert_int_equal(px_trace_source("udp:1.2.3.4:0", &r), EINVAL);
	assert_int_equal(px_trace_source("udp:1.2.3.4:65536", &r), EINVAL);
	assert_int_equal(px_trace_source("udp:1.2.3.4:5x", &r), EINVAL);
	assert_int_equal(px_trace_source("udp:host.example:5", &r), EINVAL);
	assert_int_equal(px_trace_source("127.0.0.1", &r), EINVAL);
}

/* run one message with the trace going to a memory stream; the text in *out (free it) */
static int run(const char *msg, char **out)
{
	struct sy_rcvinfo r;
	size_t n;
	FILE *f = open_memstream(out, &n);
	int rc;

	assert_non_null(f);
	assert_int_equal(px_trace_source("udp:127.0.0.1:15042", &r), 0);
	px_trace_start(f);
	rc = px_trace_message(&r, msg, strlen(msg));
	px_trace_start(NULL);
	fclose(f);
	return rc;
}

static const char invite[] =
	"INVITE sip:bob@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:15042;branch=z9hG4bKtr1\r\n"
	"Max-Forwards: 20\r\n"
	"From: <sip:alice@example.com>;tag=f1\r\n"
	"To: <sip:bob@example.com>\r\n"
	"Call-ID: tr1@example.com\r\n"
	"CSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n";

static void test_message_forwarded(void **state)
{
	char *out, *send, *fwd;
	unsigned n = 0;

	(void)state;
	assert_int_equal(run(invite, &out), 0);
	assert_non_null(strstr(out, "<-- udp:127.0.0.1:15042 ("));
	assert_non_null(strstr(out, "INVITE sip:bob@example.com SIP/2.0\n"));
	assert_non_null(strstr(out, "route (test.cfg:2)\n"));
	assert_non_null(strstr(out, "  4:3: $du = \"sip:127.0.0.1:15041\"\n"));
	fwd = strstr(out, "  5:3: fwd() = 1\n");
	assert_non_null(fwd);
	send = strstr(out, "--> udp:127.0.0.1:15041 (");
	assert_non_null(send);
	assert_true(send < fwd);	/* a call's line comes with its result, after its sends */
	assert_non_null(strstr(send, "bytes)\nINVITE sip:bob@example.com SIP/2.0\r\nVia: "
				     "SIP/2.0/UDP 127.0.0.1:15040;branch=z9hG4bK"));
	assert_non_null(strstr(send, "Max-Forwards: 19\r\n"));
	for (send = out; (send = strstr(send, "--> ")); send++)
		n++;
	assert_int_equal(n, 1);
	free(out);
}

static const char message[] =
	"MESSAGE sip:bob@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:15042;branch=z9hG4bKtr2\r\n"
	"Max-Forwards: 20\r\n"
	"From: <sip:alice@example.com>;tag=f2\r\n"
	"To: <sip:bob@example.com>\r\n"
	"Call-ID: tr2@example.com\r\n"
	"CSeq: 1 MESSAGE\r\n"
	"Content-Length: 0\r\n\r\n";

static void test_message_answered_and_refused(void **state)
{
	char *out;

	(void)state;
	/* the script's own reply */
	assert_int_equal(run(message, &out), 0);
	assert_non_null(strstr(out, "--> udp:127.0.0.1:15042 ("));
	assert_non_null(strstr(out, "SIP/2.0 488 Not Here\r\n"));
	assert_non_null(strstr(out, "reply(488, \"Not Here\") = 1\n"));
	assert_null(strstr(out, "fwd()"));
	free(out);
	/* a message that does not parse: the reason, then the 400 the proxy sends, no route */
	assert_int_equal(run("INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:15042;"
			     "branch=z9hG4bKx\r\nCSeq: one INVITE\r\n\r\n", &out), EBADMSG);
	assert_non_null(strstr(out, "parse error: Bad CSeq at offset "));
	assert_non_null(strstr(out, "SIP/2.0 400 Bad CSeq\r\n"));
	assert_null(strstr(out, "route ("));
	free(out);
}

static int setup(void **state)
{
	(void)state;
	dir = mkdtemp(tmpl);
	if (!dir || scr_load_mem("test.cfg", script, sizeof(script) - 1, stderr, &px_prog) ||
	    !px_prog)
		return -1;
	tp_listen_reset();
	return tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), 15040, NULL) || px_init();
}

static int teardown(void **state)
{
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/msg", dir);
	unlink(path);
	rmdir(dir);
	scr_free(px_prog);
	px_prog = NULL;
	tp_listen_reset();
	sy_worker_arena_free();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lf_body_gets_crlf_and_length),
		cmocka_unit_test(test_lf_edges),
		cmocka_unit_test(test_crlf_taken_as_is),
		cmocka_unit_test(test_source_spec),
		cmocka_unit_test(test_message_forwarded),
		cmocka_unit_test(test_message_answered_and_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
