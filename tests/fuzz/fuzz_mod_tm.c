/* fuzz_mod_tm.c: the whole stateful path, px_recv -> tm -> the real script units, driven by an
 * input "program" as in fuzz_tm_flow.c (requests from upstream, replies from downstream to
 * anything tm sent, raw messages, time), with a script that arms onreply/failure/branch
 * routes, drops a provisional, forks in parallel and serially, replies from failure_route and
 * checks t_was_cancelled. At the end of every input, a long advance must leave no transaction
 * alive (tm_count() == 0), else abort(). */
#define TMP_NAME "fuzz_mod_tm"
/* a Request-URI user "drop" makes branch_route[b] drop the branch */
#define TMP_RURI_USER(p) ((p)[2] & 16 ? "drop" : "bob")
#include "script/api.h"
#include "tm_program.h"

static const char script[] =
	"loadmodule \"tm.so\"\n"
	"loadmodule \"sl.so\"\n"
	"loadmodule \"sipmsgops.so\"\n"
	"modparam(\"tm\", \"T1_timer\", 2)\n"
	"modparam(\"tm\", \"T2_timer\", 8)\n"
	"modparam(\"tm\", \"T4_timer\", 10)\n"
	"modparam(\"tm\", \"max_transactions\", 16)\n"
	"route {\n"
	"  if (is_method(\"CANCEL\")) { if (t_check_trans()) { t_relay(); } exit; }\n"
	"  if (has_totag() || is_method(\"ACK\")) { $du = \"sip:127.0.0.1:16200\"; t_relay(); exit; }\n"
	"  t_on_reply(\"r\"); t_on_failure(\"f\"); t_on_branch(\"b\");\n"
	"  $du = \"sip:127.0.0.1:16200\";\n"
	"  if ($ci =~ \"1\") { append_branch(\"sip:y@127.0.0.1:16201\"); }\n"
	"  if (!t_relay()) { sl_reply_error(); }\n"
	"}\n"
	"onreply_route { append_hf(\"X-G: $T_reply_code\\r\\n\"); }\n"
	"onreply_route[r] { if (t_check_status(\"183\")) { drop; } }\n"
	"branch_route[b] { append_hf(\"X-B: $T_branch_idx\\r\\n\"); if ($ru =~ \"drop\") { drop; } }\n"
	"failure_route[f] {\n"
	"  if (t_was_cancelled()) { exit; }\n"
	"  if (t_check_status(\"486\")) { append_hf(\"X-F: 1\\r\\n\"); $du = \"sip:127.0.0.1:16201\"; t_on_failure(\"f\"); t_relay(); exit; }\n"
	"  if (t_check_status(\"404\")) { t_reply(480, \"Gone\"); exit; }\n"
	"  if (t_check_status(\"408\") && t_local_replied(\"all\")) { t_reply(504, \"Late\"); }\n"
	"}\n";

static void init_once(void)
{
	if (loop)
		return;
	tmp_start();
	/* T1/T2/T4 and max_transactions come from the script's modparams */
	if (scr_load_mem("fuzz.cfg", script, sizeof(script) - 1, stderr, &px_prog) ||
	    px_init() || scr_units_init(px_prog))
		abort();
	tmp_finish();
}

/* the message through the whole receive path; nbranch is decided by the script (Call-ID) */
static void feed(const char *text, size_t len, unsigned from_port, unsigned nbranch)
{
	struct sy_rcvinfo rcv;

	(void)nbranch;
	memset(&rcv, 0, sizeof(rcv));
	rcv.proto = SY_PROTO_UDP;
	rcv.src.u.in.sin_family = AF_INET;
	rcv.src.u.in.sin_port = htons((uint16_t)from_port);
	rcv.src.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rcv.src.len = sizeof(struct sockaddr_in);
	rcv.listen_idx = 0;
	px_recv(&rcv, text, len);
}
