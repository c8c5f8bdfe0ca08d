"""test_core_stateless.py: SIPp uac -> switchyard (forward() only) -> SIPp uas, 200 calls at
50 calls/s (INVITE/180/200/ACK/BYE/200), over UDP and over TCP (one connection each side,
sipp -t t1), with one and with two workers. Every call must succeed: a stateless proxy relays
requests by its script and replies by Via (RFC 3261 §16.11, §18.2.2), retransmissions included."""
import os
import time

from harness import LOCAL, Proxy, SippProc, free_port, sipp, sipp_uas, wait_bound

TIMEOUT = 180
CALLS = 200
RATE = 50

CFG = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
route {
    forward("%s:127.0.0.1:{UAS}");
}
"""


def run_calls(transport, workers):
    tflag = ["-t", "t1"] if transport == "tcp" else ["-t", "u1"]
    uas_port = free_port("both")
    uas = SippProc(["-sn", "uas", "-i", "127.0.0.1", "-p", uas_port, "-m", CALLS,
                    "-timeout", "90s"] + tflag)
    try:
        assert wait_bound(uas_port, transport, proc=uas.proc), "sipp uas did not bind port %d" % uas_port
        with Proxy(CFG % transport, name="sl-%s-%d" % (transport, workers), workers=workers,
                   subst={"UAS": uas_port}) as px:
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
            assert not px.log_lines(), "errors logged on good traffic:\n" + "\n".join(
                px.log_lines()[:20])
    finally:
        uas.kill()


def test_stateless_udp():
    run_calls("udp", 1)


def test_stateless_tcp():
    run_calls("tcp", 1)


def test_stateless_udp_2_workers():
    run_calls("udp", 2)


def test_stateless_tcp_2_workers():
    run_calls("tcp", 2)


def test_sigterm_under_load():
    # SIGTERM while calls are in flight, UDP and TCP connections open, 2 workers: exit 0 within
    # the harness' timeout, no sanitizer report, no leak (LeakSanitizer runs at exit)
    for transport in ("udp", "tcp"):
        uas = sipp_uas("uas", calls=100000, transport=transport)
        uac = None
        try:
            with Proxy(CFG % transport, name="term-" + transport, workers=2,
                       subst={"UAS": uas.port}) as px:
                dst = "%s:%d" % (LOCAL, px.tcpport if transport == "tcp" else px.port)
                uac = SippProc(["-sn", "uac", dst, "-i", LOCAL, "-p", free_port("both"),
                                "-r", 100, "-m", 100000, "-d", 2000,
                                "-t", "t1" if transport == "tcp" else "u1"])
                time.sleep(3)
                assert uac.proc.poll() is None, "the caller gave up early:\n" + uac.stop().dump()
                px.stop()
        finally:
            if uac:
                uac.kill()
            uas.kill()


def fd_count(px):
    return len(os.listdir("/proc/%d/fd" % px.proc.pid))


def test_stateless_tcp_connection_per_call():
    # sipp -t tn: every call on a connection of its own, 200 of them opened and closed by the
    # caller; afterwards the proxy holds no more descriptors than before, give or take its
    # connection to the callee
    uas = sipp_uas("uas", calls=CALLS, transport="tcp", args=["-max_socket", 1000])
    try:
        with Proxy(CFG % "tcp", name="sl-tn", subst={"UAS": uas.port}) as px:
            before = fd_count(px)
            uac = sipp(["-sn", "uac", "%s:%d" % (LOCAL, px.tcpport), "-i", LOCAL,
                        "-p", free_port("both"), "-r", RATE, "-m", CALLS, "-t", "tn",
                        "-max_socket", 1000, "-timeout", "60s", "-timeout_error"], timeout=90)
            assert uac.rc == 0 and uac.count("SuccessfulCall") == CALLS, uac.dump()
            res = uas.wait(20)
            assert res.count("SuccessfulCall") == CALLS, res.dump()
            end = time.monotonic() + 10
            while fd_count(px) > before + 2 and time.monotonic() < end:
                time.sleep(0.2)
            assert fd_count(px) <= before + 2, "%d descriptors before, %d after %d connections" % (
                before, fd_count(px), CALLS)
            assert not px.log_lines(), "\n".join(px.log_lines()[:20])
    finally:
        uas.kill()


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
