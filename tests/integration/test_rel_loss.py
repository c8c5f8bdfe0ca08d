"""test_rel_loss.py: calls through the transaction-stateful proxy (t_relay, record_route,
loose_route) while nftables drops 10% of the UDP datagrams at random, in a private network
namespace made by the test (harness.enter_netns: loopback only, nothing else is touched):

    meta l4proto udp numgen random mod 10 0 drop     (in the input hook: a drop in the output
    hook fails the sender's sendto() with EPERM, a local error the proxy answers 500, not loss)

SIPp caller -> switchyard -> SIPp callee, CALLS calls (REL_LOSS_CALLS overrides: `make stress`
runs 1000). Retransmissions (ours, RFC 3261 §17, and SIPp's) must carry the calls through: every
call has ended when the caller stops (successful or failed, none left hanging), failures are
few and each one is a call whose messages the drop counter accounts for (at most one failed
call per 5 datagrams dropped, and never more than 5% of the calls), no transaction is left
afterwards (stats tm_active) and the proxy stops cleanly under ASan."""
import os
import subprocess
import time

from harness import Proxy, SippProc, enter_netns, free_port, sipp

TIMEOUT = 200     # tests/run.py reads this literal; `make stress` sets REL_LOSS_TIMEOUT
LIMIT = int(os.environ.get("REL_LOSS_TIMEOUT", TIMEOUT))
CALLS = int(os.environ.get("REL_LOSS_CALLS", "200"))
RATE = 40

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"
modparam("tm", "wt_timer", 1)
route {
    if (!mf_process_maxfwd_header(10)) {
        sl_send_reply(483, "Too Many Hops");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (has_totag()) {
        if (!loose_route()) {
            $du = "sip:127.0.0.1:{UAS}";
        }
        if (!t_relay()) {
            sl_reply_error();
        }
        exit;
    }
    if (is_method("INVITE")) {
        record_route();
    }
    $du = "sip:127.0.0.1:{UAS}";
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}
"""

NFT = """table inet rel_loss {
    counter dropped { }
    chain in {
        type filter hook input priority 0; policy accept;
        meta l4proto udp numgen random mod 10 0 counter name dropped drop
    }
}
"""


def nft(*args, stdin=None):
    p = subprocess.run(["nft"] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10)
    assert p.returncode == 0, "nft %s: %s" % (" ".join(args), p.stderr)
    return p.stdout


def dropped():
    out = nft("list", "counter", "inet", "rel_loss", "dropped")
    for tok in out.split("packets")[1:2]:
        return int(tok.split()[0])
    return 0


def no_tm_left(px, timeout):
    end = time.monotonic() + timeout
    while True:
        n = px.stats().get("tm_active")
        if n == 0:
            return
        assert time.monotonic() < end, "transactions left %ds after the calls: tm_active=%s" % (
            timeout, n)
        time.sleep(0.5)


def test_calls_through_10_percent_loss():
    enter_netns()
    nft("-f", "-", stdin=NFT)
    uas_port = free_port("both")
    uas = SippProc(["-sn", "uas", "-i", "127.0.0.1", "-p", uas_port, "-m", CALLS,
                    "-timeout", "%ds" % (LIMIT - 20)])
    try:
        with Proxy(CFG, name="rel-loss", subst={"UAS": uas_port}) as px:
            before = dropped()
            uac = sipp(["-sn", "uac", "127.0.0.1:%d" % px.port, "-i", "127.0.0.1",
                        "-p", free_port("both"), "-r", RATE, "-m", CALLS,
                        "-timeout", "%ds" % (LIMIT - 60), "-max_recv_loops", 10000],
                       timeout=LIMIT - 40)
            ok, failed = uac.count("SuccessfulCall") or 0, uac.count("FailedCall") or 0
            lost = dropped() - before
            assert lost > 0, "nftables dropped nothing: the loss rule is not in effect"
            assert ok + failed == CALLS, "%d calls ended of %d (%d ok, %d failed):\n%s" % (
                ok + failed, CALLS, ok, failed, uac.dump())
            assert failed <= max(1, lost // 5) and failed <= CALLS * 5 // 100, \
                "%d of %d calls failed with %d datagrams dropped:\n%s" % (failed, CALLS, lost,
                                                                          uac.dump())
            # how they failed, from SIPp's counters: only what lost datagrams explain (a
            # request whose every retransmission was dropped, a reply that came too late or
            # out of order), never a send error or a malformed message
            kinds = {k[:-3]: int(v) for k, v in uac.stats.items() if k.startswith("Failed") and
                     k.endswith("(C)") and k != "FailedCall(C)" and v.isdigit() and int(v)}
            local = {k: v for k, v in kinds.items() if k not in (
                "FailedMaxUDPRetrans", "FailedUnexpectedMessage", "FailedTimeoutOnRecv",
                "FailedCallRejected")}
            assert not local, "calls failed for reasons loss does not explain: %s\n%s" % (
                local, uac.dump())
            print("%d calls: %d ok, %d failed %s, %d datagrams dropped" % (CALLS, ok, failed,
                                                                           kinds, lost))
            # Timer H / wt_timer / the callee's last retransmissions: all over within 40 s
            no_tm_left(px, 40)
    finally:
        uas.kill()


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
