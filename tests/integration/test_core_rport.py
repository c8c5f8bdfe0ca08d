"""test_core_rport.py: where stateless replies go and what the Via says (RFC 3261 §18.2.1,
§18.2.2, RFC 3581 §4): force_rport() on a client that did not ask for rport, both for a relayed
request (the reply must come back to the source port, not the sent-by port) and for a local
reply; received= for a sent-by that is not the source IP; a local reply's To tag is the same
for a retransmission."""
import re

from harness import Proxy, UdpPeer, make_request

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
route {
  if ($rU == "local") { force_rport(); sl_send_reply(404, "Not Here"); exit; }
  if ($rU == "plain") { sl_send_reply(486, "Busy"); exit; }
  force_rport();
  forward("udp:127.0.0.1:{PEER}");
}
"""


def no_rport(text):
    """the harness always asks for rport; these tests need a client that does not"""
    out = text.replace(";rport", "", 1)
    assert ";rport" not in out.split("\r\n")[1]
    return out


def test_force_rport_relayed():
    peer = UdpPeer()
    with Proxy(CFG, subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        # sent-by names port 9 (discard): only rport brings the reply back to ua
        ua.send(no_rport(make_request("OPTIONS", "sip:bob@example.com", "127.0.0.1:9")))
        req = peer.expect("OPTIONS")
        via2 = req.hdrs("Via")[1]
        assert ";rport=%d" % ua.port in via2, via2
        # RFC 3581 §4: with rport, received is added even when it equals sent-by
        assert ";received=127.0.0.1" in via2, via2
        peer.reply(req, 200)
        rep = ua.expect(200)
        assert rep.hdrs("Via") == [via2]


def test_force_rport_local_reply():
    with Proxy(CFG, subst={"PEER": 9}) as px:
        ua = UdpPeer(target=px.addr)
        ua.send(no_rport(make_request("OPTIONS", "sip:local@example.com", "127.0.0.1:9")))
        rep = ua.expect(404)
        via = rep.hdrs("Via")[0]
        assert ";rport=%d" % ua.port in via, via
        assert ";received=127.0.0.1" in via, via


def test_received_and_to_tag_of_local_reply():
    with Proxy(CFG, subst={"PEER": 9}) as px:
        ua = UdpPeer(target=px.addr)
        # no rport, sent-by another IP: the reply goes to the source IP, sent-by port (§18.2.2)
        req = no_rport(make_request("INVITE", "sip:plain@example.com",
                                    "192.0.2.7:%d" % ua.port))
        ua.send(req)
        r1 = ua.expect(486)
        assert r1.hdrs("Via")[0].endswith(";received=127.0.0.1"), r1.hdrs("Via")
        assert re.fullmatch(r"[0-9a-f]{16}", r1.to_tag or ""), r1.hdr("To")
        ua.send(req)	# a retransmission gets the same To tag
        r2 = ua.expect(486)
        assert r2.to_tag == r1.to_tag


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
