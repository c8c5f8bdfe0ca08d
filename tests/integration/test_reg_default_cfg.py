"""test_reg_default_cfg.py: etc/switchyard.cfg as shipped (only its ports and database path
replaced) is a working residential proxy: users register, call each other through the proxy
(record-routed, BYE along the route set), an unknown user gets 404, a REGISTER for another
domain 403, and the bindings are still there after a restart."""
import os
import re
import tempfile

from harness import REPO, Proxy, UdpPeer, make_request, rand_token


def default_cfg(db):
    with open(os.path.join(REPO, "etc", "switchyard.cfg")) as f:
        cfg = f.read()
    cfg = cfg.replace("listen = udp:127.0.0.1:5060", "listen = udp:127.0.0.1:{PORT}")
    cfg = cfg.replace("listen = tcp:127.0.0.1:5060", "listen = tcp:127.0.0.1:{TCPPORT}")
    cfg, n = re.subn(r'modparam\("usrloc", "db_url", "[^"]*"\)',
                     'modparam("usrloc", "db_url", "sqlite://%s")' % db, cfg)
    assert n == 1 and "{PORT}" in cfg and "{TCPPORT}" in cfg, "etc/switchyard.cfg changed shape"
    return cfg


def register(ua, px, user, domain="127.0.0.1"):
    cid = rand_token()
    ua.send(make_request("REGISTER", "sip:%s:%d" % (domain, px.port), ua.hostport(),
                         call_id=cid, to="<sip:%s@%s>" % (user, domain),
                         from_="<sip:%s@%s>" % (user, domain),
                         contact="<sip:%s@%s>" % (user, ua.hostport())), addr=px.addr)
    return ua.expect(lambda m: not m.is_request and m.call_id == cid)


def test_residential_call_between_registered_users():
    db = os.path.join(tempfile.mkdtemp(prefix="sy-defcfg-"), "location.db")
    cfg = default_cfg(db)
    with Proxy(cfg, name="reg-default", workers=None) as px:
        alice, bob = UdpPeer(), UdpPeer()
        assert register(alice, px, "alice").status == 200
        assert register(bob, px, "bob").status == 200
        assert register(bob, px, "bob", domain="example.org").status == 403

        cid = rand_token()
        # the R-URI names the proxy's port: `uri == myself` takes a missing port as 5060
        alice.send(make_request("INVITE", "sip:bob@127.0.0.1:%d" % px.port, alice.hostport(),
                                call_id=cid,
                                to="<sip:bob@127.0.0.1>", from_="<sip:alice@127.0.0.1>"),
                   addr=px.addr)
        inv = bob.expect("INVITE")
        assert inv.ruri == "sip:bob@%s" % bob.hostport(), inv.text
        assert inv.hdrs("Record-Route"), inv.text
        bob.reply(inv, 180)
        bob.reply(inv, 200, headers=["Contact: <sip:bob@%s>" % bob.hostport()])
        alice.expect(180)
        ok = alice.expect(200)
        rr = ok.hdrs("Record-Route")
        lines = ["BYE sip:bob@%s SIP/2.0" % bob.hostport(),
                 "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport" % (alice.hostport(), rand_token()),
                 "Max-Forwards: 70", "From: %s" % ok.hdr("From"), "To: %s" % ok.hdr("To"),
                 "Call-ID: %s" % cid, "CSeq: 2 BYE", "Route: %s" % ", ".join(reversed(rr)),
                 "Content-Length: 0"]
        alice.send("\r\n".join(lines) + "\r\n\r\n", addr=px.addr)
        bye = bob.expect("BYE")
        bob.reply(bye, 200)
        assert alice.expect(200).cseq == (2, "BYE")

        alice.send(make_request("INVITE", "sip:nobody@127.0.0.1:%d" % px.port, alice.hostport(),
                                to="<sip:nobody@127.0.0.1>"), addr=px.addr)
        assert alice.expect(lambda m: not m.is_request and m.status >= 200).status == 404
        px.stop()

    bob_port = bob.port
    bob.close()
    with Proxy(cfg, name="reg-default-2", workers=None) as px:
        # bob's binding was loaded from the database: his contact gets the call
        alice, bob = UdpPeer(), UdpPeer(port=bob_port)
        alice.send(make_request("INVITE", "sip:bob@127.0.0.1:%d" % px.port, alice.hostport(),
                                to="<sip:bob@127.0.0.1>"), addr=px.addr)
        inv = bob.expect("INVITE")
        bob.reply(inv, 486)
        assert alice.expect(lambda m: not m.is_request and m.status >= 200).status == 486
        px.stop()

if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
