"""test_core_forward.py: forward() and t_relay() with a destination string, OpenSIPS style
("udp:host:port", "host:port", "[::1]:port") or a SIP URI, and Max-Forwards (RFC 3261 §16.3
step 3): a request out of hops is answered 483 before any routing, so even a destination that
cannot be resolved does not turn it into silence."""
import re
import socket

from harness import Proxy, UdpPeer, check_config, make_request

NAME = socket.gethostname()     # this machine's name: resolvable (test_by_name checks it)

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "tm.so"
loadmodule "sipmsgops.so"
route {
  $var(bad) = "no-such-host.invalid:5060";
  if ($rU == "noname") { forward("udp:$var(bad)"); exit; }
  if ($rU == "noname-du") { $du = "sip:" + $var(bad); forward(); exit; }
  if ($rU == "tm-noname") { t_relay("udp:$var(bad)"); exit; }
  if ($rU == "byname") { forward("udp:{NAME}:{PEER}"); exit; }
  if ($rU == "plain") { forward("127.0.0.1:{PEER}"); exit; }
  if ($rU == "tm") { t_relay("UDP:127.0.0.1:{PEER}"); exit; }
  forward("udp:127.0.0.1:{PEER}");
}
"""


def test_483_before_resolving():
    peer = UdpPeer()
    with Proxy(CFG, subst={"PEER": peer.port, "NAME": NAME}) as px:
        ua = UdpPeer(target=px.addr)
        for user in ("noname", "noname-du", "tm-noname", "x"):
            ua.send(make_request("OPTIONS", "sip:%s@example.com" % user, ua.hostport(),
                                 max_forwards=0))
            rep = ua.expect(lambda m: not m.is_request)
            assert rep.status == 483, (user, rep.status)
        peer.expect_nothing(0.3)


def test_destination_forms():
    peer = UdpPeer()
    with Proxy(CFG, subst={"PEER": peer.port, "NAME": NAME}) as px:
        ua = UdpPeer(target=px.addr)
        for user in ("plain", "tm", "x"):
            ua.send(make_request("OPTIONS", "sip:%s@example.com" % user, ua.hostport()))
            req = peer.expect("OPTIONS")
            assert req.ruri == "sip:%s@example.com" % user
            assert req.hdr("Max-Forwards") == "69"
            peer.reply(req, 200)
            ua.expect(200)
        # a name known only at run time was never resolved: nothing leaves, one line says why
        ua.send(make_request("OPTIONS", "sip:noname@example.com", ua.hostport()))
        peer.expect_nothing(0.3)
        err = px.stop()
        assert "no-such-host.invalid" in err, err[-2000:]


def test_by_name():
    # a constant destination is a host name: resolved at load, relayed by the worker
    assert socket.gethostbyname(NAME), NAME
    peer = UdpPeer()
    with Proxy(CFG, subst={"PEER": peer.port, "NAME": NAME}) as px:
        ua = UdpPeer(target=px.addr)
        ua.send(make_request("OPTIONS", "sip:byname@example.com", ua.hostport()))
        req = peer.expect("OPTIONS")
        peer.reply(req, 200)
        ua.expect(200)


def test_unresolvable_constant_is_a_load_error():
    for line in ('forward("udp:no-such-host.invalid:5060");',
                 '$du = "sip:x@no-such-host.invalid"; forward();',
                 'forward("sip:no-such-host.invalid;transport=tcp");'):
        cfg = "listen = udp:127.0.0.1:{PORT}\nroute {\n  %s\n}\n" % line
        rc, out, path = check_config(cfg)
        assert rc != 0, out
        assert re.search(r"%s:3:\d+: cannot resolve host name 'no-such-host.invalid'" %
                         re.escape(path), out), out


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
