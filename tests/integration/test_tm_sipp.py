"""test_tm_sipp.py: whole calls through the transaction-stateful path (etc/bench.cfg's route,
t_relay, record_route, loose_route, Max-Forwards), SIPp uac -> switchyard -> SIPp uas:
INVITE/100/180/200/ACK/BYE/200 at 50 calls/s over UDP and TCP with one and two workers (the
owner hand-off must keep every call's messages in order), then busy (486, the proxy ACKs it,
the caller's ACK is absorbed) and cancelled calls (CANCEL before the answer, 487). Every call
must succeed and no transaction may be left afterwards."""
import time

from harness import Proxy, SippProc, free_port, sipp, sipp_uac, sipp_uas

TIMEOUT = 180
CALLS = 200
RATE = 50

CFG = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"
modparam("tm", "T1_timer", 50)
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
            $du = "sip:127.0.0.1:{UAS};transport=%(tr)s";
        }
        if (!t_relay()) {
            sl_reply_error();
        }
        exit;
    }
    if (is_method("INVITE")) {
        record_route();
    }
    $du = "sip:127.0.0.1:{UAS};transport=%(tr)s";
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}
"""


def no_tm_left(px, timeout=10):
    end = time.monotonic() + timeout
    while True:
        n = px.stats().get("tm_active")
        if n == 0:
            return
        assert time.monotonic() < end, "transactions left: tm_active=%s" % n
        time.sleep(0.3)


def run_calls(transport, workers):
    tflag = ["-t", "t1"] if transport == "tcp" else ["-t", "u1"]
    uas_port = free_port("both")
    uas = SippProc(["-sn", "uas", "-i", "127.0.0.1", "-p", uas_port, "-m", CALLS,
                    "-timeout", "90s"] + tflag)
    try:
        with Proxy(CFG % {"tr": transport}, name="tm-%s-%d" % (transport, workers),
                   workers=workers, subst={"UAS": uas_port}) as px:
            dst = "127.0.0.1:%d" % (px.tcpport if transport == "tcp" else px.port)
            uac = sipp(["-sn", "uac", dst, "-i", "127.0.0.1", "-p", free_port("both"),
                        "-r", RATE, "-m", CALLS, "-timeout", "60s", "-timeout_error",
                        "-max_recv_loops", 10000] + tflag, timeout=90)
            ok, failed = uac.count("SuccessfulCall"), uac.count("FailedCall")
            assert uac.rc == 0 and ok == CALLS and failed == 0, \
                "uac via switchyard (%s, %d workers): %d ok, %s failed, rc %s\n%s" % (
                    transport, workers, ok or 0, failed, uac.rc, uac.dump())
            res = uas.wait(20)
            assert res.count("SuccessfulCall") == CALLS, "uas saw %s of %d calls:\n%s" % (
                res.count("SuccessfulCall"), CALLS, res.dump())
            no_tm_left(px)
    finally:
        uas.kill()


def test_tm_calls_udp():
    run_calls("udp", 1)


def test_tm_calls_tcp():
    run_calls("tcp", 1)


def test_tm_calls_udp_2_workers():
    run_calls("udp", 2)


def test_tm_calls_tcp_2_workers():
    run_calls("tcp", 2)


def failing_calls(uas_scn, uac_scn, n=20):
    uas = sipp_uas(uas_scn, calls=n)
    try:
        with Proxy(CFG % {"tr": "udp"}, name="tm-" + uac_scn, workers=2,
                   subst={"UAS": uas.port}) as px:
            res = sipp_uac(uac_scn, px.addr, calls=n, rate=20)
            assert res.rc == 0 and res.count("SuccessfulCall") == n, res.dump()
            no_tm_left(px)
    finally:
        uas.kill()


def test_tm_busy_calls():
    failing_calls("uas_486", "uac_486")


def test_tm_cancelled_calls():
    failing_calls("uas_180_cancel", "uac_cancel")


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
