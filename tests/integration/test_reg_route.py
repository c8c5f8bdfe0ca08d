"""test_reg_route.py: calls to registered users through registrar + tm + rr: an INVITE to a
registered AOR reaches the contact, record-routed, and the ACK/BYE/re-INVITE of the dialog follow
the Record-Route set (loose_route); two contacts ring in parallel and the first 200 wins (the
other branch gets CANCEL); q-values fork serially from a failure_route
(t_load_contacts/t_next_contacts); an unknown AOR gets 404."""
from harness import Proxy, TcpPeer, UdpPeer, enter_netns, make_request, rand_token

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            t_relay();
            exit;
        }
        if (is_method("ACK")) {
            exit;
        }
        sl_send_reply(404, "Not Here");
        exit;
    }
    if (is_method("CANCEL")) {
        t_relay();
        exit;
    }
    record_route();
    if (!lookup("location")) {
        sl_send_reply(404, "Not Found");
        exit;
    }
    %s
}
failure_route[serial] {
    if (t_next_contacts()) {
        t_on_failure("serial");
        t_relay();
    }
}
"""

PARALLEL = "t_relay();"
SERIAL = """t_load_contacts();
    t_next_contacts();
    t_on_failure("serial");
    t_relay();"""


def register(ua, px, user, contact, q=None):
    cid = rand_token()
    c = "<sip:%s@%s>" % (user, contact.hostport()) + (";q=%s" % q if q else "")
    ua.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.port, ua.hostport(), call_id=cid,
                         to="<sip:%s@127.0.0.1>" % user, from_="<sip:%s@127.0.0.1>" % user,
                         contact=c), addr=px.addr)
    r = ua.expect(lambda m: not m.is_request and m.call_id == cid)
    assert r.status == 200, r.text


def invite(caller, px, user, call_id):
    req = make_request("INVITE", "sip:%s@127.0.0.1" % user, caller.hostport(), call_id=call_id,
                       to="<sip:%s@127.0.0.1>" % user, from_="<sip:alice@127.0.0.1>")
    caller.send(req, addr=px.addr)
    return req


def in_dialog(method, caller, px, ok, cseq, call_id):
    """a request of the caller's dialog: R-URI = remote target, Route = the reversed
    Record-Route set (RFC 3261 §12.2.1.1)"""
    routes = list(reversed(ok.hdrs("Record-Route")))
    target = ok.hdr("Contact")
    target = target[target.index("<") + 1:target.index(">")]
    lines = ["%s %s SIP/2.0" % (method, target),
             "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport" % (caller.hostport(), rand_token(12)),
             "Max-Forwards: 70",
             "From: %s" % ok.hdr("From"), "To: %s" % ok.hdr("To"),
             "Call-ID: %s" % call_id, "CSeq: %d %s" % (cseq, method)]
    if routes:
        lines.append("Route: %s" % ", ".join(routes))
    if method == "INVITE":
        lines.append("Contact: <sip:alice@%s>" % caller.hostport())
    lines.append("Content-Length: 0")
    caller.send("\r\n".join(lines) + "\r\n\r\n", addr=px.addr)


def test_call_follows_record_route():
    with Proxy(CFG % PARALLEL, name="reg-rr") as px:
        bob, alice = UdpPeer(), UdpPeer()
        register(bob, px, "bob", bob)
        cid = rand_token()
        invite(alice, px, "bob", cid)
        inv = bob.expect("INVITE")
        assert inv.ruri == "sip:bob@%s" % bob.hostport(), inv.text
        rr = inv.hdrs("Record-Route")
        assert rr and ("127.0.0.1:%d" % px.port) in rr[0] and ";lr" in rr[0], inv.text
        bob.reply(inv, 180)
        bob.reply(inv, 200, headers=["Contact: <sip:bob@%s>" % bob.hostport()])
        alice.expect(180)
        ok = alice.expect(200)
        assert ok.hdrs("Record-Route") == rr, ok.text

        # ACK, re-INVITE and BYE go through the proxy by the route set and reach bob
        in_dialog("ACK", alice, px, ok, 1, cid)
        ack = bob.expect("ACK")
        assert ack.ruri == "sip:bob@%s" % bob.hostport() and not ack.hdrs("Route"), ack.text
        in_dialog("INVITE", alice, px, ok, 2, cid)
        reinv = bob.expect("INVITE")
        assert not reinv.hdrs("Route"), reinv.text
        bob.reply(reinv, 200, headers=["Contact: <sip:bob@%s>" % bob.hostport()])
        assert alice.expect(200).cseq == (2, "INVITE")
        in_dialog("BYE", alice, px, ok, 3, cid)
        bye = bob.expect("BYE")
        assert bye.call_id == cid, bye.text
        bob.reply(bye, 200)
        assert alice.expect(200).cseq == (3, "BYE")

        # nobody registered as carol
        invite(alice, px, "carol", rand_token())
        assert alice.expect(lambda m: not m.is_request and m.status >= 200).status == 404
        px.stop()


def test_parallel_first_200_wins():
    with Proxy(CFG % PARALLEL, name="reg-fork") as px:
        ua1, ua2, alice = UdpPeer(), UdpPeer(), UdpPeer()
        register(ua1, px, "bob", ua1)
        register(ua2, px, "bob", ua2)
        cid = rand_token()
        invite(alice, px, "bob", cid)
        i1, i2 = ua1.expect("INVITE"), ua2.expect("INVITE")
        ua1.reply(i1, 180)
        ua2.reply(i2, 180)
        ua2.reply(i2, 200, headers=["Contact: <sip:bob@%s>" % ua2.hostport()])
        ok = alice.expect(200)
        assert ok.hdr("Contact") == "<sip:bob@%s>" % ua2.hostport(), ok.text
        cancel = ua1.expect("CANCEL")
        assert cancel.branch == i1.branch, cancel.text
        ua1.reply(cancel, 200)
        ua1.reply(i1, 487)
        ua1.expect("ACK")
        alice.expect_nothing(0.5, what=lambda m: not m.is_request and m.status == 487)
        px.stop()


def test_serial_by_q():
    with Proxy(CFG % SERIAL, name="reg-serial") as px:
        hi, lo, alice = UdpPeer(), UdpPeer(), UdpPeer()
        register(hi, px, "bob", hi, q="1.0")
        register(lo, px, "bob", lo, q="0.5")
        invite(alice, px, "bob", rand_token())
        i1 = hi.expect("INVITE")
        lo.expect_nothing(0.3, what="INVITE")
        hi.reply(i1, 486)
        hi.expect("ACK")
        i2 = lo.expect("INVITE")
        assert i2.ruri == "sip:bob@%s" % lo.hostport(), i2.text
        lo.reply(i2, 200, headers=["Contact: <sip:bob@%s>" % lo.hostport()])
        ok = alice.expect(200)
        assert ok.hdr("Contact") == "<sip:bob@%s>" % lo.hostport(), ok.text

        # both busy: the best final reply comes back once the list is exhausted
        invite(alice, px, "bob", rand_token())
        hi.reply(hi.expect("INVITE"), 486)
        lo.reply(lo.expect("INVITE"), 603)
        r = alice.expect(lambda m: not m.is_request and m.status >= 300)
        assert r.status in (486, 603), r.text
        px.stop()


def test_path_is_the_route_to_the_contact():
    """RFC 3327: a REGISTER that came through an edge proxy carries Path; the INVITE for the
    AOR goes to that edge (its $du) with the Path as Route, the R-URI is the contact. The
    contact is a non-local address: in a private netns, so a wrong relay reaches nothing."""
    enter_netns()
    with Proxy(CFG % PARALLEL, name="reg-path") as px:
        edge, alice = UdpPeer(), UdpPeer()
        cid = rand_token()
        path = "<sip:%s;lr>" % edge.hostport()
        edge.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.port, edge.hostport(),
                               call_id=cid, to="<sip:bob@127.0.0.1>", from_="<sip:bob@127.0.0.1>",
                               contact="<sip:bob@192.0.2.55:5062>", headers=["Path: " + path]),
                  addr=px.addr)
        r = edge.expect(lambda m: not m.is_request and m.call_id == cid)
        assert r.status == 200 and r.hdr("Path") == path, r.text
        invite(alice, px, "bob", rand_token())
        inv = edge.expect("INVITE")
        assert inv.ruri == "sip:bob@192.0.2.55:5062", inv.text
        assert inv.hdrs("Route") == [path], inv.text
        edge.reply(inv, 486)
        assert alice.expect(lambda m: not m.is_request and m.status >= 300).status == 486
        px.stop()


CFG_TCP = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            t_relay();
        }
        exit;
    }
    if (!lookup("location")) {
        sl_send_reply(404, "Not Found");
        exit;
    }
    record_route();
    t_relay();
}
"""


def test_tcp_callee_double_record_route():
    """bob registered over TCP, alice calls over UDP: the INVITE reaches bob on his
    connection with two Record-Route entries (TCP leg on top), and the BYE routed back over
    UDP by alice's route set crosses both and reaches bob over TCP"""
    with Proxy(CFG_TCP, name="reg-tcp") as px:
        bob = TcpPeer(connect=px.tcpaddr)
        alice = UdpPeer()
        cid = rand_token()
        bob.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.tcpport, bob.hostport(),
                              call_id=cid, transport="TCP", to="<sip:bob@127.0.0.1>",
                              from_="<sip:bob@127.0.0.1>",
                              contact="<sip:bob@%s;transport=tcp>" % bob.hostport()))
        assert bob.expect(lambda m: not m.is_request and m.call_id == cid).status == 200
        cid = rand_token()
        invite(alice, px, "bob", cid)
        inv = bob.expect("INVITE")
        rr = inv.hdrs("Record-Route")
        assert len(rr) == 2, inv.text
        assert "transport=tcp" in rr[0] and str(px.tcpport) in rr[0], inv.text
        assert "transport" not in rr[1] and str(px.port) in rr[1], inv.text
        bob.reply(inv, 200, headers=["Contact: <sip:bob@%s;transport=tcp>" % bob.hostport()])
        ok = alice.expect(200)
        assert ok.hdrs("Record-Route") == rr, ok.text
        in_dialog("ACK", alice, px, ok, 1, cid)
        bob.expect("ACK")
        in_dialog("BYE", alice, px, ok, 2, cid)
        bye = bob.expect("BYE")
        assert not bye.hdrs("Route"), bye.text
        bob.reply(bye, 200)
        assert alice.expect(200).cseq == (2, "BYE")
        px.stop()


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
