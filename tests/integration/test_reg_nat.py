"""test_reg_nat.py: a UA behind NAT registers a private Contact; the proxy stores where the
REGISTER really came from (fix_nated_register) and relays calls to that source, not to the
private address; fix_nated_contact() rewrites a NATed caller's Contact to its source.
Runs in a private network namespace with only `lo` up, so a relay to the private address
cannot reach anything (it fails there) and no packet ever leaves the machine."""
from harness import Proxy, UdpPeer, enter_netns, make_request, rand_token

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
loadmodule "nathelper.so"
route {
    if (is_method("REGISTER")) {
        if (nat_uac_test(1)) {
            fix_nated_register();
        }
        save("location");
        exit;
    }
    if (nat_uac_test(1)) {
        fix_nated_contact();
    }
    record_route();
    if (!lookup("location")) {
        sl_send_reply(404, "Not Found");
        exit;
    }
    t_relay();
}
onreply_route {
    if (nat_uac_test(1)) {
        fix_nated_contact();
    }
}
"""


def test_nated_contact_reached_at_source():
    enter_netns()
    with Proxy(CFG, name="reg-nat") as px:
        bob, alice = UdpPeer(), UdpPeer()
        cid = rand_token()
        # bob's UA believes it is 192.168.1.20:5062; its packets come from 127.0.0.1:<port>
        bob.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.port, "192.168.1.20:5062",
                              call_id=cid, to="<sip:bob@127.0.0.1>",
                              from_="<sip:bob@127.0.0.1>",
                              contact="<sip:bob@192.168.1.20:5062>"), addr=px.addr)
        r = bob.expect(lambda m: not m.is_request and m.call_id == cid)
        assert r.status == 200, r.text

        # alice is NATed too: her Contact is private, the proxy fixes it to her source
        req = make_request("INVITE", "sip:bob@127.0.0.1", "10.1.1.1:5060",
                           to="<sip:bob@127.0.0.1>", contact="<sip:alice@10.1.1.1:5060>")
        alice.send(req, addr=px.addr)
        inv = bob.expect("INVITE", timeout=3)
        assert inv.ruri == "sip:bob@192.168.1.20:5062", inv.text
        assert inv.hdr("Contact") == "<sip:alice@%s>" % alice.hostport(), inv.text
        bob.reply(inv, 200, headers=["Contact: <sip:bob@192.168.1.20:5062>"])
        ok = alice.expect(200)
        assert ok.call_id == inv.call_id
        # the callee's private Contact in the reply is fixed too (onreply_route)
        assert ok.hdr("Contact") == "<sip:bob@%s>" % bob.hostport(), ok.text
        px.stop()


def test_without_fix_the_private_address_is_used():
    """the control: without fix_nated_register() the binding has no NAT source, the relay goes
    to the private address, which nothing in this namespace answers"""
    enter_netns()
    cfg = CFG.replace("fix_nated_register();", "")
    with Proxy(cfg, name="reg-nat-control") as px:
        bob, alice = UdpPeer(), UdpPeer()
        cid = rand_token()
        bob.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.port, "192.168.1.20:5062",
                              call_id=cid, to="<sip:bob@127.0.0.1>",
                              from_="<sip:bob@127.0.0.1>",
                              contact="<sip:bob@192.168.1.20:5062>"), addr=px.addr)
        assert bob.expect(lambda m: not m.is_request and m.call_id == cid).status == 200
        alice.send(make_request("INVITE", "sip:bob@127.0.0.1", alice.hostport(),
                                to="<sip:bob@127.0.0.1>"), addr=px.addr)
        bob.expect_nothing(1.0, what="INVITE")
        px.kill()


def test_two_nated_contacts_ring_in_parallel():
    """each branch of a parallel fork goes to its own binding's NAT source ($du per branch)"""
    enter_netns()
    with Proxy(CFG, name="reg-nat-fork") as px:
        ua1, ua2, alice = UdpPeer(), UdpPeer(), UdpPeer()
        for i, ua in enumerate((ua1, ua2)):
            cid = rand_token()
            ua.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.port, "192.168.1.%d:5062" % (20 + i),
                                 call_id=cid, to="<sip:bob@127.0.0.1>", from_="<sip:bob@127.0.0.1>",
                                 contact="<sip:bob@192.168.1.%d:5062>" % (20 + i)), addr=px.addr)
            assert ua.expect(lambda m: not m.is_request and m.call_id == cid).status == 200
        alice.send(make_request("INVITE", "sip:bob@127.0.0.1", alice.hostport(),
                                to="<sip:bob@127.0.0.1>"), addr=px.addr)
        i1 = ua1.expect("INVITE", timeout=3)
        i2 = ua2.expect("INVITE", timeout=3)
        assert i1.ruri == "sip:bob@192.168.1.20:5062", i1.text
        assert i2.ruri == "sip:bob@192.168.1.21:5062", i2.text
        ua1.reply(i1, 486)
        ua2.reply(i2, 200, headers=["Contact: <sip:bob@192.168.1.21:5062>"])
        assert alice.expect(200).call_id == i2.call_id
        px.stop()


CFG_BFLAG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "tm.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
loadmodule "nathelper.so"
modparam("usrloc", "nat_bflag", "NAT")
route {
    if (is_method("REGISTER")) {
        if (nat_uac_test(1)) {
            setbflag("NAT");
        }
        save("location");
        exit;
    }
    if (!lookup("location")) {
        sl_send_reply(404, "Not Found");
        exit;
    }
    if (isbflagset("NAT")) {
        append_hf("X-NAT: yes\\r\\n");
    }
    t_relay();
}
"""


def test_nat_bflag_as_opensips():
    """the OpenSIPS way: modparam("usrloc", "nat_bflag", "NAT") and setbflag(NAT) on the
    REGISTER mark the binding; lookup() sends to the source and sets the flag again"""
    enter_netns()
    with Proxy(CFG_BFLAG, name="reg-nat-bflag") as px:
        bob, alice = UdpPeer(), UdpPeer()
        cid = rand_token()
        bob.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.port, "192.168.1.20:5062",
                              call_id=cid, to="<sip:bob@127.0.0.1>", from_="<sip:bob@127.0.0.1>",
                              contact="<sip:bob@192.168.1.20:5062>"), addr=px.addr)
        assert bob.expect(lambda m: not m.is_request and m.call_id == cid).status == 200
        alice.send(make_request("INVITE", "sip:bob@127.0.0.1", alice.hostport(),
                                to="<sip:bob@127.0.0.1>"), addr=px.addr)
        inv = bob.expect("INVITE", timeout=3)
        assert inv.ruri == "sip:bob@192.168.1.20:5062" and inv.hdr("X-NAT") == "yes", inv.text
        bob.reply(inv, 486)
        assert alice.expect(lambda m: not m.is_request and m.status >= 300).status == 486
        px.stop()


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
