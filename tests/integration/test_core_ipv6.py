"""test_core_ipv6.py: the stateless path over IPv6 loopback (::1): listens on [::1], forward()
to an IPv6 next hop, our Via with a bracketed reference (RFC 3261 §25.1, RFC 5118 §4.5), and
the reply relayed back by Via, over UDP and TCP."""
import re

from harness import LOCAL6, Proxy, TcpPeer, UdpPeer, make_request

TIMEOUT = 60

CFG = """listen = udp:[::1]:{PORT}
listen = tcp:[::1]:{TCPPORT}
route {
    forward("%s:[::1]:{PEER}");
}
"""


def check_via(req, proto, port):
    top = req.hdrs("Via")[0]
    assert re.match(r"SIP/2\.0/%s \[::1\]:%d;" % (proto, port), top), "our Via: %r" % top


def test_ipv6_udp():
    peer = UdpPeer(host=LOCAL6)
    with Proxy(CFG % "udp", name="v6udp", subst={"PEER": peer.port}) as px:
        assert px.addr == (LOCAL6, px.port), px.addr
        ua = UdpPeer(host=LOCAL6, target=px.addr)
        ua.send(make_request("OPTIONS", "sip:v6@[2001:db8::1]", ua.hostport()))
        req = peer.expect("OPTIONS", 3)
        check_via(req, "UDP", px.port)
        assert req.ruri == "sip:v6@[2001:db8::1]", req.ruri
        peer.reply(req, 200)
        r = ua.expect(200, 3)
        assert len(r.hdrs("Via")) == 1 and ua.hostport() in r.hdrs("Via")[0], r.hdrs("Via")


def test_ipv6_tcp():
    peer = TcpPeer(host=LOCAL6)
    with Proxy(CFG % "tcp", name="v6tcp", subst={"PEER": peer.port}) as px:
        c = TcpPeer(connect=px.tcpaddr)
        c.send(make_request("OPTIONS", "sip:v6@[2001:db8::1]", c.hostport(), transport="TCP"))
        req = peer.expect("OPTIONS", 3)
        check_via(req, "TCP", px.tcpport)     # sent-by: the TCP listen
        peer.reply(req, 200)
        r = c.expect(200, 3)
        assert len(r.hdrs("Via")) == 1, r.hdrs("Via")


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
