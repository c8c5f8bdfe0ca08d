"""test_core_scenarios.py: the SIPp scenarios of scenarios/ that other tests build on (the tm and
registrar tests pair them through the proxy) are themselves right: each uac/uas pair completes
every call back to back, over UDP and TCP, and then through a stateless forward() proxy, where
the CANCEL and the ACK for a non-2xx must reach the callee by the same stateless path
(RFC 3261 §16.11: the branch does not depend on the method)."""
from harness import LOCAL, Proxy, sipp_uac, sipp_uas

TIMEOUT = 180
CALLS = 10

PAIRS = [("uac_invite_bye", "uas_180_200", []),
         ("uac_486", "uas_486", []),
         ("uac_cancel", "uas_180_cancel", ["-d", "200"])]

CFG = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
route {
    forward("%s:127.0.0.1:{UAS}");
}
"""


def run_pair(uac, uas, extra, transport, via_proxy):
    callee = sipp_uas(uas, calls=CALLS, transport=transport)
    try:
        if via_proxy:
            with Proxy(CFG % transport, name="scn-" + uac, subst={"UAS": callee.port}) as px:
                target = px.tcpaddr if transport == "tcp" else px.addr
                res = sipp_uac(uac, target, calls=CALLS, rate=20, transport=transport,
                               args=extra, timeout=40)
                assert not px.log_lines(), "errors logged on good traffic:\n" + "\n".join(
                    px.log_lines()[:20])
        else:
            res = sipp_uac(uac, (LOCAL, callee.port), calls=CALLS, rate=20, transport=transport,
                           args=extra, timeout=40)
        where = "%s -> %s%s over %s" % (uac, "switchyard -> " if via_proxy else "", uas, transport)
        assert res.rc == 0 and res.count("SuccessfulCall") == CALLS, "%s: %r\n%s" % (
            where, res, res.dump())
        u = callee.wait(15)
        assert u.rc == 0 and u.count("SuccessfulCall") == CALLS, "%s: callee %r\n%s" % (
            where, u, u.dump())
    finally:
        callee.kill()


def test_pairs_direct_udp():
    for uac, uas, extra in PAIRS:
        run_pair(uac, uas, extra, "udp", False)


def test_pairs_direct_tcp():
    for uac, uas, extra in PAIRS:
        run_pair(uac, uas, extra, "tcp", False)


def test_pairs_through_stateless_proxy_udp():
    for uac, uas, extra in PAIRS:
        run_pair(uac, uas, extra, "udp", True)


def test_pairs_through_stateless_proxy_tcp():
    for uac, uas, extra in PAIRS:
        run_pair(uac, uas, extra, "tcp", True)


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
