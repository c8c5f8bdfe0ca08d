"""test_core_forward.py: forward() and t_relay() with a destination string, OpenSIPS style
("udp:host:port", "host:port", "[::1]:port") or a SIP URI, and Max-Forwards (RFC 3261 §16.3
step 3): a request out of hops is answered 483 before any routing, so even a destination that
cannot be resolved does not turn it into silence."""
from harness import Proxy, UdpPeer, make_request

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "tm.so"
loadmodule "sipmsgops.so"
route {
  if ($rU == "noname") { forward("udp:no-such-host.invalid:5060"); exit; }
  if ($rU == "noname-du") { $du = "sip:no-such-host.invalid:5060"; forward(); exit; }
  if ($rU == "tm-noname") { t_relay("udp:no-such-host.invalid:5060"); exit; }
  if ($rU == "plain") { forward("127.0.0.1:{PEER}"); exit; }
  if ($rU == "tm") { t_relay("UDP:127.0.0.1:{PEER}"); exit; }
  forward("udp:127.0.0.1:{PEER}");
}
"""


def test_483_before_resolving():
    peer = UdpPeer()
    with Proxy(CFG, subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        for user in ("noname", "noname-du", "tm-noname", "x"):
            ua.send(make_request("OPTIONS", "sip:%s@example.com" % user, ua.hostport(),
                                 max_forwards=0))
            rep = ua.expect(lambda m: not m.is_request)
            assert rep.status == 483, (user, rep.status)
        peer.expect_nothing(0.3)


def test_destination_forms():
    peer = UdpPeer()
    with Proxy(CFG, subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        for user in ("plain", "tm", "x"):
            ua.send(make_request("OPTIONS", "sip:%s@example.com" % user, ua.hostport()))
            req = peer.expect("OPTIONS")
            assert req.ruri == "sip:%s@example.com" % user
            assert req.hdr("Max-Forwards") == "69"
            peer.reply(req, 200)
            ua.expect(200)
        # a name that was never resolved: no request leaves, one line says why
        ua.send(make_request("OPTIONS", "sip:noname@example.com", ua.hostport()))
        peer.expect_nothing(0.3)
        err = px.stop()
        assert "no-such-host.invalid" in err, err[-2000:]


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
