"""test_core_drops.py: what the proxy may not answer still leaves one precise log line. An ACK
is never answered (RFC 3261 §17.1.1.3), so an ACK that fails the §16.3 checks is dropped, and
the log must say which one and why; a reply whose next Via names a host we cannot resolve
(no DNS at run time) still reaches the client by the received= we added.
"""
from harness import Proxy, UdpPeer, make_request

CFG = """listen = udp:127.0.0.1:{PORT}
route { forward("udp:127.0.0.1:{PEER}"); }
"""


def test_bad_ack_logged():
    peer = UdpPeer()
    with Proxy(CFG, subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        ack = make_request("ACK", "sip:bob@example.com", ua.hostport(), call_id="badack-1")
        ack = ack.replace("CSeq: 1 ACK", "CSeq: 1 INVITE")
        assert "CSeq: 1 INVITE" in ack
        ua.send(ack)
        ua.expect_nothing(0.3)
        peer.expect_nothing(0.1)
        err = px.stop()
        lines = [l for l in err.splitlines() if "badack-1" in l]
        assert len(lines) == 1 and "dropped ACK" in lines[0] and "CSeq" in lines[0], err[-2000:]


def test_reply_to_via_host_name():
    # sent-by is a name we cannot resolve (no DNS at run time): the received= the proxy put
    # on the Via (§18.2.1) is where the reply goes (§18.2.2), no name lookup needed
    peer = UdpPeer()
    with Proxy(CFG, subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        ua.send(make_request("OPTIONS", "sip:bob@example.com", "client.invalid:%d" % ua.port,
                             call_id="vianame-1"))
        req = peer.expect("OPTIONS")
        assert ";received=127.0.0.1" in req.hdrs("Via")[1], req.hdrs("Via")
        peer.reply(req, 200)
        rep = ua.expect(200)
        assert rep.hdrs("Via")[0].startswith("SIP/2.0/UDP client.invalid:")
        assert not px.log_lines(), px.log_lines()


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
