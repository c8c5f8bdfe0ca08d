"""test_tm_flows.py: the transaction-stateful proxy on the wire (RFC 3261 §16, §17, RFC 4320):
a scripted UAC and one or two scripted UAS peers on loopback around switchyard running t_relay,
one config per case, asserting what crossed the wire and, at the end of every case, that no
transaction is left (SIGUSR1 -> "stats: tm_active=0"). Timers are small (T1 50 ms, T2 200 ms,
T4 100 ms, wt_timer 1 s) so that each case takes a few seconds."""
import time

from harness import (Proxy, TcpPeer, UdpPeer, check_config, make_ack, make_cancel,
                     make_request)

TIMEOUT = 60

HEAD = """listen = udp:127.0.0.1:{PORT}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "sipmsgops.so"
modparam("tm", "T1_timer", 50)
modparam("tm", "T2_timer", 200)
modparam("tm", "T4_timer", 100)
modparam("tm", "wt_timer", 1)
modparam("tm", "fr_timeout", %(fr)d)
modparam("tm", "fr_inv_timeout", %(fr_inv)d)
%(params)s
route {
    if (has_totag()) {
        # in-dialog (ACK to a 2xx, BYE): relayed to the callee end to end
        $du = "sip:127.0.0.1:{PEER}";
        t_relay();
        exit;
    }
%(route)s
}
%(routes)s
"""

RELAY = """    $du = "sip:127.0.0.1:{PEER}";
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
"""


def cfg(route=RELAY, routes="", params="", fr=3, fr_inv=5):
    return HEAD % {"route": route, "routes": routes, "params": params, "fr": fr,
                   "fr_inv": fr_inv}


class Call:
    """One proxy + UAC + peers. peer = the callee at {PEER}, peer2 at {PEER2}."""

    def __init__(self, config, name):
        self.peer = UdpPeer()
        self.peer2 = UdpPeer()
        self.uac = UdpPeer()
        self.px = Proxy(config, name=name, subst={"PEER": self.peer.port,
                                                  "PEER2": self.peer2.port})
        self.uac.target = self.px.addr

    def invite(self, ruri=None, method="INVITE", headers=None):
        ruri = ruri or "sip:bob@127.0.0.1:%d" % self.peer.port
        req = make_request(method, ruri, self.uac.hostport(), headers=headers)
        self.uac.send(req)
        return req

    def no_tm_left(self, timeout=8):
        end = time.monotonic() + timeout
        while True:
            n = self.px.stats().get("tm_active")
            if n == 0:
                return
            assert time.monotonic() < end, "transactions left: tm_active=%s\n%s" % (
                n, self.px.stderr_text()[-2000:])
            time.sleep(0.3)

    def __enter__(self):
        self.px.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            return self.px.__exit__(*exc)
        finally:
            for p in (self.peer, self.peer2, self.uac):
                p.close()


def test_100_and_replies_relayed_by_default():
    with Call(cfg(), "tm-default") as c:
        req = c.invite()
        c.uac.expect(100, timeout=1)
        inv = c.peer.expect("INVITE")
        assert inv.hdr("Max-Forwards") == "69"
        assert len(inv.hdrs("Via")) == 2 and inv.branch.startswith("z9hG4bK")
        c.peer.reply(inv, 100)
        c.peer.reply(inv, 180)
        r180 = c.uac.expect(180)
        assert len(r180.hdrs("Via")) == 1, "our Via must be removed:\n" + r180.dump()
        c.peer.reply(inv, 200)
        r200 = c.uac.expect(200)
        # 100 from the peer is not forwarded (§16.7 step 5): only our own one arrived
        assert sum(1 for _, m in c.uac.log if m.status == 100) == 1
        # ACK for the 2xx is a new request, relayed end to end (statelessly by the script)
        ack = make_request("ACK", inv.ruri, c.uac.hostport(), call_id=r200.call_id,
                           from_tag=r200.from_tag, to="<%s>;tag=%s" % (inv.ruri,
                                                                                  r200.to_tag))
        c.uac.send(ack)
        got = c.peer.expect("ACK")
        assert got.to_tag == r200.to_tag
        c.no_tm_left()


def test_100_trying_at_once_and_retransmission_absorbed():
    with Call(cfg(), "tm-retrans") as c:
        req = c.invite()
        c.uac.expect(100, timeout=0.5)
        inv = c.peer.expect("INVITE")
        # the UAC retransmits: answered with the last reply (100), not relayed again
        c.uac.send(req)
        c.uac.expect(100, timeout=0.5)
        c.peer.reply(inv, 180)
        c.uac.expect(180)
        time.sleep(0.2)
        c.peer.drain()
        c.uac.send(req)
        c.uac.expect(180, timeout=0.5)
        c.peer.expect_nothing(0.4, "INVITE")
        c.peer.reply(inv, 486)
        r = c.uac.expect(486)
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


def test_non_invite_no_100_and_final_retransmitted():
    with Call(cfg(), "tm-noninv") as c:
        req = c.invite(method="MESSAGE")
        msg = c.peer.expect("MESSAGE")
        c.peer.reply(msg, 202)
        c.uac.expect(202)
        assert not any(m.status == 100 for _, m in c.uac.log), "100 to a non-INVITE"
        time.sleep(0.1)
        c.peer.drain()
        c.uac.send(req)
        c.uac.expect(202, timeout=0.5)      # Completed: the final again (§17.2.2)
        c.peer.expect_nothing(0.3, "MESSAGE")
        c.no_tm_left()


def test_onreply_route_header_in_relayed_replies_incl_408():
    routes = """onreply_route[r] {
    append_hf("X-Onreply: $T_reply_code\\r\\n");
}"""
    route = '    t_on_reply("r");\n' + RELAY
    with Call(cfg(route, routes), "tm-onreply") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 180)
        r = c.uac.expect(180)
        assert r.hdr("X-Onreply") == "180", r.dump()
        c.peer.reply(inv, 408)
        r = c.uac.expect(408)
        assert r.hdr("X-Onreply") == "408", r.dump()
        ack = c.peer.expect("ACK")             # we ACK the non-2xx downstream ourselves
        assert ack.branch == inv.branch
        c.uac.send(make_ack(req, r))
        c.peer.expect_nothing(0.3, "ACK")      # the UAC's ACK is absorbed
        c.no_tm_left()


def test_onreply_route_drops_provisional():
    routes = """onreply_route[r] {
    if (t_check_status("180")) {
        drop;
    }
}"""
    route = '    t_on_reply("r");\n' + RELAY
    with Call(cfg(route, routes), "tm-drop") as c:
        c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 180)
        c.peer.reply(inv, 183)
        c.uac.expect(183)
        c.peer.reply(inv, 200)
        c.uac.expect(200)
        assert not any(m.status == 180 for _, m in c.uac.log), "dropped 180 was relayed"
        c.no_tm_left()


def test_failure_route_serial_fork_header_only_in_new_branch():
    routes = """failure_route[f] {
    if (t_check_status("486")) {
        append_hf("X-Failover: yes\\r\\n");
        $du = "sip:127.0.0.1:{PEER2}";
        t_relay();
    }
}"""
    route = '    t_on_failure("f");\n' + RELAY
    with Call(cfg(route, routes), "tm-serial") as c:
        c.invite()
        inv1 = c.peer.expect("INVITE")
        assert inv1.hdr("X-Failover") is None
        c.peer.reply(inv1, 486)
        c.peer.expect("ACK")
        inv2 = c.peer2.expect("INVITE")
        assert inv2.hdr("X-Failover") == "yes", inv2.dump()
        assert inv2.branch != inv1.branch
        c.peer2.reply(inv2, 180)
        c.peer2.reply(inv2, 200)
        r = c.uac.expect(200)
        assert r.hdr("X-Failover") is None
        assert not any(m.status == 486 for _, m in c.uac.log), "486 went downstream"
        c.no_tm_left()


def test_failure_route_t_reply_replaces_reply():
    routes = """failure_route[f] {
    t_reply(480, "Gone Fishing");
}"""
    route = '    t_on_failure("f");\n' + RELAY
    with Call(cfg(route, routes), "tm-freply") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 404)
        r = c.uac.expect(480)
        assert r.reason == "Gone Fishing" and r.to_tag
        c.uac.expect_nothing(0.3, 404)
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


def test_timeout_gives_408_and_runs_failure_route():
    routes = """failure_route[f] {
    if (t_check_status("408") && t_local_replied("all")) {
        t_reply(504, "Timeout Seen");
    }
}"""
    route = '    t_on_failure("f");\n' + RELAY
    with Call(cfg(route, routes, fr=1), "tm-timeout") as c:
        req = c.invite()
        c.peer.expect("INVITE")
        t0 = time.monotonic()
        r = c.uac.expect(504, timeout=3)
        assert 0.8 < time.monotonic() - t0 < 2.0
        # the INVITE was retransmitted with Timer A (50, 100, 200, 400 ms ...)
        times = [t for t, m in c.peer.log if m.method == "INVITE"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(times) >= 4, times
        assert 0.03 < gaps[0] < 0.09 and 0.07 < gaps[1] < 0.15 and 0.15 < gaps[2] < 0.3, gaps
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


def test_timeout_without_failure_route_is_local_408():
    with Call(cfg(fr=1), "tm-timeout408") as c:
        req = c.invite()
        c.peer.expect("INVITE")
        r = c.uac.expect(408, timeout=3)
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


def test_non_invite_timeout_sends_nothing_upstream():
    with Call(cfg(fr=1), "tm-4320") as c:
        c.invite(method="OPTIONS")
        c.peer.expect("OPTIONS")
        # RFC 4320 §4.2: no 408 for a non-INVITE; the transaction just ends
        c.uac.expect_nothing(2.0)
        times = [t for t, m in c.peer.log if m.method == "OPTIONS"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Timer E: 50, 100, 200, then T2 (200) ms
        assert len(gaps) >= 4 and 0.03 < gaps[0] < 0.09 and 0.15 < gaps[3] < 0.3, gaps
        c.no_tm_left()


FORK = """    $ru = "sip:bob@127.0.0.1:{PEER}";
    append_branch("sip:bob@127.0.0.1:{PEER2}");
    t_relay();
    exit;
"""


def test_parallel_6xx_cancels_others():
    with Call(cfg(FORK), "tm-6xx") as c:
        req = c.invite()
        a = c.peer.expect("INVITE")
        b = c.peer2.expect("INVITE")
        c.peer.reply(a, 180)
        c.peer2.reply(b, 180)
        c.peer.reply(a, 603)
        can = c.peer2.expect("CANCEL")
        assert can.branch == b.branch and can.cseq == (b.cseq[0], "CANCEL")
        c.peer2.reply(can, 200)
        c.peer2.reply(b, 487)
        r = c.uac.expect(603)
        c.peer2.expect("ACK")
        c.uac.send(make_ack(req, r))
        c.uac.expect_nothing(0.3, 487)
        c.no_tm_left()


def test_parallel_2xx_cancels_others():
    with Call(cfg(FORK), "tm-2xx") as c:
        c.invite()
        a = c.peer.expect("INVITE")
        b = c.peer2.expect("INVITE")
        c.peer.reply(a, 180)
        c.peer2.reply(b, 180)
        c.peer2.reply(b, 200)
        c.uac.expect(200)
        can = c.peer.expect("CANCEL")
        c.peer.reply(can, 200)
        c.peer.reply(a, 487)
        c.peer.expect("ACK")
        c.uac.expect_nothing(0.3, 487)
        c.no_tm_left()


def test_parallel_every_2xx_relayed():
    with Call(cfg(FORK), "tm-2x2xx") as c:
        c.invite()
        a = c.peer.expect("INVITE")
        b = c.peer2.expect("INVITE")
        c.peer.reply(a, 200)
        c.peer2.reply(b, 200)
        c.uac.expect(200)
        c.uac.expect(200)
        c.no_tm_left()


def test_parallel_503_becomes_500_and_lowest_class_wins():
    with Call(cfg(FORK), "tm-503") as c:
        req = c.invite()
        a = c.peer.expect("INVITE")
        b = c.peer2.expect("INVITE")
        c.peer.reply(a, 503)
        c.peer2.reply(b, 503)
        r = c.uac.expect(500)
        c.uac.send(make_ack(req, r))
    with Call(cfg(FORK), "tm-class") as c:
        req = c.invite()
        a = c.peer.expect("INVITE")
        b = c.peer2.expect("INVITE")
        c.peer.reply(a, 503)
        c.peer2.reply(b, 404)
        r = c.uac.expect(404)
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


def test_parallel_401_407_challenges_merged():
    with Call(cfg(FORK), "tm-auth") as c:
        req = c.invite()
        a = c.peer.expect("INVITE")
        b = c.peer2.expect("INVITE")
        c.peer.reply(a, 401, headers=[("WWW-Authenticate", 'Digest realm="a", nonce="1"')])
        c.peer2.reply(b, 407, headers=[("Proxy-Authenticate", 'Digest realm="b", nonce="2"')])
        r = c.uac.expect(lambda m: m.status in (401, 407))
        assert r.hdr("WWW-Authenticate") and 'realm="a"' in r.hdr("WWW-Authenticate"), r.dump()
        assert r.hdr("Proxy-Authenticate") and 'realm="b"' in r.hdr("Proxy-Authenticate"), \
            r.dump()
        c.uac.send(make_ack(req, r))
        time.sleep(0.3)
        # one reply (Timer G may have repeated it before our ACK), never the other branch's
        finals = [m for _, m in c.uac.log if m.status in (401, 407)]
        assert all(m.raw == r.raw for m in finals), [m.dump() for m in finals]
        c.no_tm_left()


def test_cancel_after_provisional():
    with Call(cfg(), "tm-cancel") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 180)
        c.uac.expect(180)
        c.uac.send(make_cancel(req))
        ok = c.uac.expect(lambda m: m.status == 200 and m.cseq[1] == "CANCEL")
        assert ok.call_id == inv.call_id
        can = c.peer.expect("CANCEL")
        assert can.branch == inv.branch
        c.peer.reply(can, 200)
        c.peer.reply(inv, 487)
        r = c.uac.expect(487)
        ack = c.peer.expect("ACK")
        assert ack.branch == inv.branch
        c.uac.send(make_ack(req, r))
        c.peer.expect_nothing(0.3, "ACK")
        c.no_tm_left()


def test_cancel_before_provisional_held_then_local_487():
    with Call(cfg(), "tm-cancel-held") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.uac.send(make_cancel(req))
        ok = c.uac.expect(lambda m: m.status == 200 and m.cseq[1] == "CANCEL")
        r = c.uac.expect(487)                       # local: the branch never answered
        # §9.2: the 200 to the CANCEL and the reply to the INVITE carry the same To tag
        assert ok.to_tag and ok.to_tag == r.to_tag, (ok.to_tag, r.to_tag)
        c.peer.expect_nothing(0.2, "CANCEL")        # held until a provisional
        c.peer.reply(inv, 180)
        can = c.peer.expect("CANCEL")
        c.peer.reply(can, 200)
        c.peer.reply(inv, 487)
        c.peer.expect("ACK")
        c.uac.send(make_ack(req, r))
        c.uac.expect_nothing(0.3, 180)
        c.no_tm_left()


def test_cancel_matching_nothing_relayed_statelessly():
    route = """    if (is_method("CANCEL")) {
        $du = "sip:127.0.0.1:{PEER}";
        t_relay();
        exit;
    }
""" + RELAY
    with Call(cfg(route), "tm-cancel-sl") as c:
        req = make_request("INVITE", "sip:bob@127.0.0.1:%d" % c.peer.port, c.uac.hostport())
        c.uac.send(make_cancel(req))
        can = c.peer.expect("CANCEL")
        assert len(can.hdrs("Via")) == 2
        c.uac.expect_nothing(0.3, lambda m: m.status == 200)
        c.no_tm_left()


def test_2xx_crossing_cancel_is_relayed():
    with Call(cfg(), "tm-cross") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 180)
        c.uac.send(make_cancel(req))
        c.uac.expect(lambda m: m.status == 200 and m.cseq[1] == "CANCEL")
        c.peer.expect("CANCEL")
        c.peer.reply(inv, 200)                      # the callee answered first
        r = c.uac.expect(lambda m: m.status == 200 and m.cseq[1] == "INVITE")
        assert r.to_tag
        c.no_tm_left()


def test_2xx_after_timer_c_is_relayed():
    with Call(cfg(fr_inv=1), "tm-timerc") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 180)
        c.uac.expect(180)
        t0 = time.monotonic()
        can = c.peer.expect("CANCEL", timeout=3)   # Timer C fired: CANCEL downstream
        assert 0.8 < time.monotonic() - t0 < 2.0
        r = c.uac.expect(408)
        c.uac.send(make_ack(req, r))
        c.peer.reply(can, 200)
        c.peer.reply(inv, 200)                      # too late for the UAC, relayed anyway
        c.uac.expect(lambda m: m.status == 200 and m.cseq[1] == "INVITE")
        c.no_tm_left()


def test_overload_503_with_retry_after():
    with Call(cfg(params='modparam("tm", "max_transactions", 1)'), "tm-overload") as c:
        c.invite()
        inv = c.peer.expect("INVITE")
        c.uac.expect(100)
        req2 = make_request("INVITE", "sip:carol@127.0.0.1:%d" % c.peer.port,
                            c.uac.hostport())
        c.uac.send(req2)
        r = c.uac.expect(503)
        assert r.hdr("Retry-After"), r.dump()
        c.peer.expect_nothing(0.2, lambda m: m.method == "INVITE" and m.ruri.startswith(
            "sip:carol"))
        c.peer.reply(inv, 200)                      # the existing one goes on
        c.uac.expect(lambda m: m.status == 200 and m.call_id == inv.call_id)
        c.no_tm_left()


def test_two_workers_hand_off_to_owner():
    """Transactions live on one worker; whatever worker reads a retransmission, CANCEL or
    reply hands it to the owner. Several calls so that both workers own some."""
    c = Call.__new__(Call)
    c.peer, c.peer2, c.uac = UdpPeer(), UdpPeer(), UdpPeer()
    c.px = Proxy(cfg(), name="tm-2w", workers=2, subst={"PEER": c.peer.port,
                                                         "PEER2": c.peer2.port})
    c.uac.target = c.px.addr
    with c:
        reqs = [c.invite() for _ in range(8)]
        invs = {}
        for _ in reqs:
            m = c.peer.expect("INVITE")
            invs[m.call_id] = m
        for req in reqs:
            c.uac.send(req)                         # retransmissions: absorbed
        for m in invs.values():
            c.peer.reply(m, 180)
        for i, req in enumerate(reqs):
            if i % 2:
                c.uac.send(make_cancel(req))
        time.sleep(0.5)
        for i, req in enumerate(reqs):
            m = invs[[l for l in req.split("\r\n") if l.startswith("Call-ID")][0][9:]]
            if i % 2:
                can = c.peer.expect(lambda x, cid=m.call_id: x.method == "CANCEL" and
                                    x.call_id == cid)
                c.peer.reply(can, 200)
                c.peer.reply(m, 487)
            else:
                c.peer.reply(m, 200)
        time.sleep(0.5)
        finals = {}
        for _, m in c.uac.log:
            if m.status and m.status >= 200 and m.cseq[1] == "INVITE":
                finals.setdefault(m.call_id, set()).add(m.status)
        for i, req in enumerate(reqs):
            cid = [l for l in req.split("\r\n") if l.startswith("Call-ID")][0][9:]
            assert finals.get(cid) == ({487} if i % 2 else {200}), (i, finals.get(cid))
            if i % 2:
                r = [m for _, m in c.uac.log if m.call_id == cid and m.status == 487][0]
                c.uac.send(make_ack(req, r))
        for cid in invs:
            branches = {m.branch for _, m in c.peer.log if m.method == "INVITE" and
                        m.call_id == cid}
            assert len(branches) == 1, "one client transaction per call: %r" % branches
        c.no_tm_left()


def test_branch_route_edits_one_branch_and_drops():
    routes = """branch_route[b] {
    if ($ru =~ "carol") {
        drop;
    }
    append_hf("X-Idx: $T_branch_idx\\r\\n");
}"""
    route = """    t_on_branch("b");
    $ru = "sip:bob@127.0.0.1:{PEER}";
    append_branch("sip:carol@127.0.0.1:{PEER2}");
    append_branch("sip:dave@127.0.0.1:{PEER2}");
    t_relay();
    exit;
"""
    with Call(cfg(route, routes), "tm-branch") as c:
        c.invite()
        a = c.peer.expect("INVITE")
        d = c.peer2.expect("INVITE")
        assert a.ruri.startswith("sip:bob@") and a.hdrs("X-Idx") == ["0"], a.dump()
        assert d.ruri.startswith("sip:dave@") and d.hdrs("X-Idx") == ["1"], d.dump()
        c.peer2.expect_nothing(0.3, lambda m: m.method == "INVITE" and "carol" in m.ruri)
        c.peer.reply(a, 200)
        c.uac.expect(200)
        c.peer2.reply(d, 180)
        can = c.peer2.expect("CANCEL")
        c.peer2.reply(can, 200)
        c.peer2.reply(d, 487)
        c.no_tm_left()


def test_t_set_fr_overrides_timer_c():
    route = '    t_set_fr(1);\n' + RELAY
    with Call(cfg(route, fr_inv=30), "tm-setfr") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 180)
        t0 = time.monotonic()
        r = c.uac.expect(408, timeout=3)
        assert 0.8 < time.monotonic() - t0 < 2.0
        can = c.peer.expect("CANCEL")
        c.peer.reply(can, 200)
        c.peer.reply(inv, 487)
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


TCP_HEAD = """listen = tcp:127.0.0.1:{TCPPORT}
"""


def test_tcp_both_sides_no_retransmissions():
    route = """    $du = "sip:127.0.0.1:{TPEER};transport=tcp";
    t_relay();
    exit;
"""
    callee = TcpPeer()
    config = cfg(route).replace("route {", TCP_HEAD + "route {", 1)
    px = Proxy(config, name="tm-tcp", subst={"PEER": 1, "PEER2": 1, "TPEER": callee.port})
    with px:
        uac = TcpPeer(connect=px.tcpaddr)
        try:
            req = make_request("INVITE", "sip:bob@127.0.0.1:%d" % callee.port,
                               uac.hostport(), transport="TCP")
            uac.send(req)
            uac.expect(100)
            inv = callee.expect("INVITE")
            assert "SIP/2.0/TCP" in inv.hdr("Via"), inv.dump()
            callee.reply(inv, 486)
            r = uac.expect(486)
            ack = callee.expect("ACK")
            assert ack.branch == inv.branch
            time.sleep(0.4)
            # reliable transports: no Timer A/G retransmissions
            assert sum(1 for _, m in callee.log if getattr(m, "method", None) == "INVITE") == 1
            assert sum(1 for _, m in uac.log if getattr(m, "status", None) == 486) == 1
            uac.send(make_ack(req, r))
            end = time.monotonic() + 5
            while px.stats().get("tm_active") != 0:
                assert time.monotonic() < end, "transactions left"
                time.sleep(0.2)
        finally:
            uac.close()
            callee.close()


def test_t_newtran_then_stateless_reply_leaves_no_transaction():
    route = """    t_newtran();
    sl_send_reply(404, "Nobody");
    exit;
"""
    with Call(cfg(route), "tm-orphan") as c:
        req = c.invite()
        c.uac.expect(100)
        r = c.uac.expect(404)
        c.uac.send(make_ack(req, r))
        c.no_tm_left(timeout=1)                     # gone when the route ended
        c.uac.send(req)                             # so a retransmission runs the script again
        c.uac.expect(404)


def test_t_relay_to_given_proxy():
    route = """    t_relay("udp:127.0.0.1:{PEER2}");
    exit;
"""
    with Call(cfg(route), "tm-proxyarg") as c:
        c.invite()                                  # R-URI names PEER
        inv = c.peer2.expect("INVITE")
        assert inv.ruri.endswith(":%d" % c.peer.port), inv.ruri
        c.peer.expect_nothing(0.2, "INVITE")
        c.peer2.reply(inv, 200)
        c.uac.expect(200)
        c.no_tm_left()


def test_global_then_named_onreply_route():
    routes = """onreply_route {
    append_hf("X-Global: $T_reply_code\\r\\n");
}
onreply_route[r] {
    append_hf("X-Named: $T_reply_code\\r\\n");
}"""
    route = '    t_on_reply("r");\n' + RELAY
    with Call(cfg(route, routes), "tm-onreply2") as c:
        c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 200)
        r = c.uac.expect(200)
        names = [n.lower() for n, _ in r.headers if n.lower().startswith("x-")]
        assert names == ["x-global", "x-named"], r.dump()
        c.no_tm_left()


def test_failure_route_that_does_nothing_lets_reply_through():
    routes = """failure_route[f] {
    if (t_check_status("486")) {
        t_reply(500, "Not This One");
    }
}"""
    route = '    t_on_failure("f");\n' + RELAY
    with Call(cfg(route, routes), "tm-fnoop") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 404)
        r = c.uac.expect(404)
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


def test_failure_route_sees_cancel():
    routes = """failure_route[f] {
    if (t_was_cancelled()) {
        t_reply(487, "Cancelled Here");
        exit;
    }
    $du = "sip:127.0.0.1:{PEER2}";
    t_relay();
}"""
    route = '    t_on_failure("f");\n' + RELAY
    with Call(cfg(route, routes), "tm-fcancel") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 180)
        c.uac.send(make_cancel(req))
        can = c.peer.expect("CANCEL")
        c.peer.reply(can, 200)
        c.peer.reply(inv, 487)
        r = c.uac.expect(487)
        assert r.reason == "Cancelled Here", r.dump()
        c.peer2.expect_nothing(0.3, "INVITE")
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


def test_failure_route_appended_branch_only():
    routes = """failure_route[f] {
    append_branch("sip:carol@127.0.0.1:{PEER2}");
    t_relay();
}"""
    route = '    t_on_failure("f");\n' + RELAY
    with Call(cfg(route, routes), "tm-fappend") as c:
        c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 480)
        c.peer.expect("ACK")
        inv2 = c.peer2.expect("INVITE")
        assert inv2.ruri.startswith("sip:carol@"), inv2.dump()
        # the R-URI was not changed: it is not tried again
        c.peer.expect_nothing(0.3, lambda m: m.method == "INVITE" and m.branch != inv.branch)
        c.peer2.reply(inv2, 200)
        c.uac.expect(200)
        c.no_tm_left()


def test_flags_and_avps_live_in_the_transaction():
    routes = """onreply_route[r] {
    if (isflagset(3)) {
        append_hf("X-Flag: 3\\r\\n");
    }
}
failure_route[f] {
    t_reply(480, "$avp(why)");
}"""
    route = """    setflag(3);
    $avp(why) = "Kept " + "Across";
    t_on_reply("r");
    t_on_failure("f");
""" + RELAY
    with Call(cfg(route, routes), "tm-flags") as c:
        req = c.invite()
        inv = c.peer.expect("INVITE")
        c.peer.reply(inv, 180)
        r = c.uac.expect(180)
        assert r.hdr("X-Flag") == "3", r.dump()
        c.peer.reply(inv, 404)
        r = c.uac.expect(480)
        assert r.reason == "Kept Across", r.dump()
        c.uac.send(make_ack(req, r))
        c.no_tm_left()


def test_tm_config_errors_at_load():
    rc, out, _ = check_config("""loadmodule "tm.so"
modparam("tm", "T1_timer", 0)
modparam("tm", "fr_timeout", "x")
route {
    t_on_failure("nope");
    t_relay();
}
onreply_route[r] {
    t_relay();
}
""")
    assert rc == 1, out
    assert ":2:" in out and "T1_timer" in out and "out of range" in out, out
    assert ":3:" in out and "fr_timeout" in out, out
    assert ":5:" in out and "nope" in out, out
    assert ":9:" in out and "t_relay" in out, out     # not allowed in onreply_route


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
