"""test_core_garbage.py: bad input never costs service. Garbage, truncated, empty and huge
datagrams and byte streams go to a forward()ing proxy; afterwards a good request is still relayed,
the process is alive and it stops cleanly (no sanitizer report). Over TCP: a connection that
sends half a message and stalls does not hold up another one, the stalled message completes when
the rest arrives, framing survives pipelining and byte-by-byte delivery, and the reply to a TCP
request comes back on the connection the request came in on (RFC 3261 §18.2.2)."""
import random
import socket
import time

from harness import Proxy, TcpPeer, UdpPeer, free_port, make_request

TIMEOUT = 180

CFG = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
route {
    forward("udp:127.0.0.1:{PEER}");
}
"""

CFG_TCP_OUT = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
route {
    forward("tcp:127.0.0.1:{PEER}");
}
"""

SDP = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"
SDP_BYTES = SDP.replace("\n", "\r\n").encode()


def good_invite(hp, transport="UDP", **kw):
    return make_request("INVITE", "sip:bob@example.com", hp, transport=transport, body=SDP,
                        **kw).encode()


def still_relays(px, peer, tag):
    """A fresh, valid OPTIONS goes through (retried: the proxy may still be chewing on a burst
    of garbage, and UDP may drop)."""
    ua = UdpPeer(target=px.addr)
    ruri = "sip:%s@example.com" % tag
    req = make_request("OPTIONS", ruri, ua.hostport())
    for _ in range(3):
        ua.send(req)
        try:
            return peer.expect(lambda m: m.ruri == ruri, 2)
        except AssertionError:
            assert px.alive(), "switchyard died:\n" + px.stderr_text()[-3000:]
    return peer.expect(lambda m: m.ruri == ruri, 3)


def garbage_datagrams():
    rnd = random.Random(4475)
    inv = good_invite("127.0.0.1:9")
    out = [
        b"",
        b"\r\n",
        b"\r\n\r\n",
        b"\x00" * 64,
        bytes(rnd.randrange(256) for _ in range(1400)),
        b"\xff\xfe" * 700,
        b"INVITE",
        b"INVITE sip:a@b SIP/2.0",
        b"INVITE sip:a@b SIP/2.0\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"SIP/2.0 99999999999999999999 Huge\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\n\r\n",
        b"SIP/2.0\r\n\r\n",
        b" \r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nno colon in this header line\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia:\r\nFrom:\r\nTo:\r\nCall-ID:\r\nCSeq:\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 18446744073709551617\r\n\r\nx",
        b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\nx",
        b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: " + b"SIP/2.0/UDP 1.2.3.4," * 2000 + b"\r\n\r\n",
        b"OPTIONS " + b"sip:" + b"a" * 60000 + b"@b SIP/2.0\r\n\r\n",
        b"A" * 65000,
        # a big message that is only headers of one value: longer than any sane limit
        b"OPTIONS sip:a@b SIP/2.0\r\nSubject: " + b"s" * 64000 + b"\r\n\r\n",
    ]
    # a valid INVITE cut everywhere interesting: inside the start line, a header name, a
    # value, the blank line and the body (Content-Length then exceeds the datagram: §18.3)
    hdr_end = len(inv) - len(SDP_BYTES)
    for cut in (1, 7, 20, 40, 60, 100, 150, hdr_end - 3, hdr_end - 1, hdr_end, hdr_end + 10,
                len(inv) - 1):
        out.append(inv[:cut])
    return out


def test_udp_garbage_then_good():
    peer = UdpPeer()
    with Proxy(CFG, name="garbage", subst={"PEER": peer.port}) as px:
        junk = UdpPeer(target=px.addr)
        for d in garbage_datagrams():
            junk.send(d)
            time.sleep(0.01)
        got = still_relays(px, peer, "after-garbage")
        assert got.hdrs("Via")[0].startswith("SIP/2.0/UDP 127.0.0.1:%d" % px.port)
        # no garbage (none of it is a complete valid request) was relayed
        relayed = [m for _, m in peer.log if m is not got and not isinstance(m, str)]
        bad = [m for m in relayed if m.ruri != got.ruri]
        assert not bad, "garbage was forwarded:\n%s" % bad[0].dump()[:2000]


def test_udp_bad_input_answered_or_logged_once():
    # the project's rule for bad input: a SIP error reply or one precise log line, never
    # silence and never a flood; CRLF keep-alives and empty datagrams are not bad input
    peer = UdpPeer()
    with Proxy(CFG, name="badlog", subst={"PEER": peer.port}) as px:
        junk = UdpPeer(target=px.addr)
        problems = []
        for d in garbage_datagrams():
            before = len(px.stderr_text().split("\n"))
            junk.drain()
            junk.send(d)
            end = time.monotonic() + (0.3 if not d.strip() else 2.0)
            replies, lines = [], []
            while time.monotonic() < end:
                m = junk.recv(0.05)
                if m is not None:
                    replies.append(m)
                lines = px.stderr_text().split("\n")[before - 1:-1]
                if d.strip() and (replies or lines):
                    time.sleep(0.1)         # let a second line or reply show itself
                    lines = px.stderr_text().split("\n")[before - 1:-1]
                    replies += junk.drain()
                    break
            what = repr(d[:60]) + ("... (%d bytes)" % len(d) if len(d) > 60 else "")
            if not d.strip():
                if replies:
                    problems.append("%s: keep-alive answered %r" % (what, replies[0]))
                continue
            if not replies and not lines:
                problems.append("%s: neither answered nor logged" % what)
            if len(lines) > 1:
                problems.append("%s: %d log lines:\n    %s" % (what, len(lines), "\n    ".join(lines)))
            if any(r.status is None or r.status < 400 for r in replies):
                problems.append("%s: answered with %r" % (what, [r.start for r in replies]))
        assert not problems, "bad input handling:\n" + "\n".join(problems)


def test_udp_mutations_then_good():
    # a blind wire fuzz: 3000 seeded mutations of a valid INVITE as fast as possible
    rnd = random.Random(3261)
    base = bytearray(good_invite("127.0.0.1:9"))
    peer = UdpPeer()
    with Proxy(CFG, name="mutate", subst={"PEER": peer.port}) as px:
        junk = UdpPeer(target=px.addr)
        for i in range(3000):
            b = bytearray(base)
            for _ in range(rnd.randrange(1, 6)):
                if len(b) < 2:
                    break
                op = rnd.randrange(4)
                pos = rnd.randrange(len(b))
                if op == 0:
                    b[pos] = rnd.randrange(256)
                elif op == 1:
                    del b[pos:pos + rnd.randrange(1, 40)]
                elif op == 2:
                    b[pos:pos] = bytes(rnd.choice(b":;,<>\"\\ \r\n\t%0123456789") for _ in range(rnd.randrange(1, 8)))
                else:
                    b = b[:pos]
            junk.send(bytes(b))
            if i % 100 == 99:
                time.sleep(0.02)       # let the proxy's socket buffer drain
        still_relays(px, peer, "after-mutations")


def test_udp_max_size_valid_request():
    # a valid request close to the UDP maximum: relayed intact or refused with a reply
    # (513 Message Too Large, §18.1.1 / §21.5.14), never a crash or a truncated copy
    peer = UdpPeer()
    with Proxy(CFG, name="bigudp", subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        big = "x" * 60000
        ua.send(make_request("OPTIONS", "sip:big@example.com", ua.hostport(),
                             headers=[("X-Big", big)]))
        deadline = time.monotonic() + 3
        outcome = None
        while time.monotonic() < deadline and outcome is None:
            m = peer.recv(0.05)
            if m is not None:
                assert m.hdr("X-Big") == big, "big header truncated/changed on the way"
                outcome = "relayed"
            r = ua.recv(0.05)
            if r is not None and r.status and r.status >= 400:
                outcome = "refused %d" % r.status
        assert outcome, "a 60 KB request was neither relayed nor refused"
        still_relays(px, peer, "after-big")


def test_tcp_half_message_stalls_alone():
    peer = UdpPeer()
    with Proxy(CFG, name="halftcp", subst={"PEER": peer.port}) as px:
        a = TcpPeer(connect=px.tcpaddr)
        inv = good_invite(a.hostport(), transport="TCP")
        half = len(inv) // 2
        a.send(inv[:half])
        time.sleep(0.3)
        b = TcpPeer(connect=px.tcpaddr)
        ruri = "sip:other-connection@example.com"
        b.send(make_request("OPTIONS", ruri, b.hostport(), transport="TCP"))
        peer.expect(lambda m: m.ruri == ruri, 2)
        peer.expect_nothing(0.2, what="INVITE")
        a.send(inv[half:])
        got = peer.expect("INVITE", 3)
        assert got.body_bytes == SDP_BYTES, "body changed: %r" % got.body


def test_tcp_framing_pipelined_and_trickled():
    peer = UdpPeer()
    with Proxy(CFG, name="framing", subst={"PEER": peer.port}) as px:
        c = TcpPeer(connect=px.tcpaddr)
        c.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hp = c.hostport()
        # three requests in one write, with CRLF keep-alives between them (RFC 5626 §4.4.1)
        reqs = [make_request("OPTIONS", "sip:pipe%d@example.com" % i, hp, transport="TCP",
                             body="b%d" % i, headers=[("Content-Type", "text/plain")]).encode()
                for i in range(3)]
        c.send(reqs[0] + b"\r\n\r\n" + reqs[1] + reqs[2])
        for i in range(3):
            m = peer.expect(lambda m, i=i: m.ruri == "sip:pipe%d@example.com" % i, 3)
            assert m.body == "b%d" % i, "pipelined body %d framed wrong: %r" % (i, m.body)
        # one request a few bytes at a time
        inv = good_invite(hp, transport="TCP")
        for i in range(0, len(inv), 7):
            c.send(inv[i:i + 7])
            time.sleep(0.002)
        got = peer.expect("INVITE", 3)
        assert got.body_bytes == SDP_BYTES


def test_tcp_garbage_connections():
    peer = UdpPeer()
    rnd = random.Random(793)
    with Proxy(CFG, name="tcpgarbage", subst={"PEER": peer.port}) as px:
        streams = [
            bytes(rnd.randrange(256) for _ in range(8192)),
            b"\r\n" * 5000,
            b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 999999999\r\n\r\nabc",
            b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\n" + b"X-Long: " + b"y" * 200000,   # never-ending header
            b"OPTIONS sip:a@b SIP/2.0\r\n\r\n" * 50,
        ]
        for s in streams:
            c = TcpPeer(connect=px.tcpaddr)
            c.conn.settimeout(5)
            try:
                c.send(s)
            except OSError:
                pass            # the proxy may close on us mid-write: that is allowed
            time.sleep(0.05)
            c.close()
        # and a connection that opens and closes without a byte
        socket.create_connection(px.tcpaddr).close()
        assert px.alive()
        ok = TcpPeer(connect=px.tcpaddr)
        ruri = "sip:after-tcp-garbage@example.com"
        ok.send(make_request("OPTIONS", ruri, ok.hostport(), transport="TCP"))
        peer.expect(lambda m: m.ruri == ruri, 3)


def test_tcp_reply_on_same_connection():
    # the client's Via names a port where nothing listens: only the connection the request
    # came on can carry the reply back (RFC 3261 §18.2.2)
    peer = UdpPeer()
    dead = free_port("tcp")
    with Proxy(CFG, name="tcpreply", subst={"PEER": peer.port}) as px:
        c = TcpPeer(connect=px.tcpaddr)
        c.send(make_request("OPTIONS", "sip:reply@example.com", "127.0.0.1:%d" % dead,
                            transport="TCP"))
        req = peer.expect("OPTIONS", 3)
        peer.reply(req, 200, headers=[("X-Marker", "back-on-the-same-connection")])
        r = c.expect(200, 3)
        assert r.hdr("X-Marker") == "back-on-the-same-connection"
        assert len(r.hdrs("Via")) == 1, "our Via must be removed: %r" % r.hdrs("Via")
        assert r.hdrs("Via")[0].startswith("SIP/2.0/TCP 127.0.0.1:%d" % dead)


def test_tcp_to_tcp_reply_path():
    # forwarded over TCP: the next hop answers on the connection the proxy opened, and the
    # reply goes back to the client on its own connection
    peer = TcpPeer()
    with Proxy(CFG_TCP_OUT, name="tcp2tcp", subst={"PEER": peer.port}) as px:
        c = TcpPeer(connect=px.tcpaddr)
        inv = good_invite(c.hostport(), transport="TCP")
        c.send(inv)
        req = peer.expect("INVITE", 3)
        assert req.hdrs("Via")[0].startswith("SIP/2.0/TCP "), req.hdrs("Via")[0]
        assert req.body_bytes == SDP_BYTES
        peer.reply(req, 180)
        peer.reply(req, 486)
        c.expect(180, 3)
        c.expect(486, 3)
        # the next request to the same hop reuses the connection (DESIGN.md §2, tp)
        ruri = "sip:second@example.com"
        c.send(make_request("OPTIONS", ruri, c.hostport(), transport="TCP"))
        peer.expect(lambda m: m.ruri == ruri, 3)
        assert len(peer.conns) == 1, "%d connections to the next hop for two requests" % len(
            peer.conns)


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
