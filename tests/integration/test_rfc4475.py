"""test_rfc4475.py: the RFC 4475 torture messages on the wire. Each message of the corpus
(../shared/testdata/rfc4475, env SY_RFC4475_DIR overrides) goes, byte for byte, to a proxy whose
script forward()s every request to a scripted peer; manifest.tsv's proxy_expected column is
checked on what crosses the wire:

  ACCEPT           the peer receives the request, our Via on top, Max-Forwards decremented
                   (RFC 3261 §16.6), body intact; a response (unreason, noreason) is a stray one
                   whose Via is not ours: nothing comes back and nothing is forwarded (§18.1.2).
  REJECT_xxx       the sender gets that code (either code for _OR_ ones), nothing is forwarded;
                   _OR_LIBERAL / _OR_RFC2543_MATCH / ACCEPT_OR_400 may instead be forwarded,
                   then with a clean request line (no extra SP, no <> around the URI, no
                   ?headers).
  DROP             nothing forwarded, nothing back.

Over UDP every message is one datagram; the corpus' Vias name hosts like example.com, so an
RFC 3261 §18.2.2 reply goes to 127.0.0.1 (received) at the Via's port, 5060 mostly. So the test
runs in a private network namespace (harness.enter_netns) where it can listen on those ports
without touching the benchmark's, and where nothing can leave the machine; a reply counts for
"the sender gets it" whether it arrives at the sending socket (symmetric, RFC 3581) or at the
Via's port. Over TCP: one connection per message, replies on that connection; clerr (Content-
Length beyond the data) and baddn (no empty line after the headers): nothing forwarded while
the connection waits for the rest; ncl and mcl01
(unrecoverable framing): the proxy closes the connection. Over both transports the proxy holds
no more descriptors after the corpus than before it (/proc/PID/fd).
"""
import os
import re
import time

from harness import (REPO, Msg, Proxy, TcpPeer, UdpPeer, enter_netns, make_request,
                     via_target)

TIMEOUT = 300

CFG = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
route {
    forward("udp:127.0.0.1:{PEER}");
}
"""

WAIT = 3.0        # how long a reply or a forward may take (ASan build, 2 busy cores)
QUIET = 0.7       # how long "nothing happens" is watched


def corpus_dir():
    return os.environ.get("SY_RFC4475_DIR") or os.path.normpath(
        os.path.join(REPO, "..", "shared", "testdata", "rfc4475"))


def manifest():
    d = corpus_dir()
    rows = []
    with open(os.path.join(d, "manifest.tsv"), encoding="utf-8") as f:
        keys = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                r = dict(zip(keys, line.rstrip("\n").split("\t")))
                with open(os.path.join(d, r["file"]), "rb") as g:
                    r["data"] = g.read()
                rows.append(r)
    assert len(rows) >= 49, "manifest.tsv lists %d messages, RFC 4475 has 49" % len(rows)
    return rows


class Verdict:
    """proxy_expected parsed: codes allowed back, whether forwarding is required/allowed."""

    def __init__(self, text, kind):
        toks = text.split("_")
        self.text = text
        self.response = kind == "response"
        self.codes = [int(t) for t in toks if t.isdigit()]
        self.drop = text == "DROP" or (self.response and text == "ACCEPT")
        self.must_forward = text == "ACCEPT" and not self.response
        self.may_forward = self.must_forward or toks[0] == "ACCEPT" or "LIBERAL" in toks or \
            "RFC2543" in toks
        self.close_tcp = "CLOSE" in toks and "TCP" in toks
        self.udp_only_reply = text.endswith("_UDP")


def start_line_method(data):
    return data.split(b" ", 1)[0].decode("latin-1")


def orig_body(data):
    """The body as RFC 3261 §18.3 frames it: Content-Length bytes when given, else the rest."""
    m = Msg(data)
    cl = m.hdr("Content-Length")
    body = m.body_bytes
    if cl is not None and cl.strip().isdigit():
        body = body[:int(cl.strip())]
    return body


def check_forwarded(name, data, fwd, px, transport):
    """What RFC 3261 §16.6 asks of a forwarded request, checked on the copy the peer got."""
    orig = Msg(data)
    problems = []
    vias = fwd.hdrs("Via")
    if not vias or not re.match(r"SIP/2\.0/UDP 127\.0\.0\.1:%d\s*;" % px.port, vias[0]):
        problems.append("top Via is not ours (SIP/2.0/UDP 127.0.0.1:%d;...): %r" %
                        (px.port, vias[:1]))
    if len(vias) != len(orig.hdrs("Via")) + 1:
        problems.append("%d Via values forwarded, %d received + ours expected" %
                        (len(vias), len(orig.hdrs("Via"))))
    if not vias or not (fwd.branch or "").startswith("z9hG4bK") or len(fwd.branch) <= 7:
        problems.append("our branch is not an RFC 3261 one: %r" % fwd.branch)
    if not re.fullmatch(r"\S+ \S+ SIP/2\.0", fwd.start):
        problems.append("request line not clean: %r" % fwd.start)
    if fwd.ruri and fwd.ruri.startswith("<"):
        problems.append("Request-URI keeps its <>: %r" % fwd.ruri)
    if name == "escruri.dat" and "?" in (fwd.ruri or ""):
        problems.append("Request-URI keeps its ?headers: %r" % fwd.ruri)
    if len(fwd.hdrs("Route")) > len(orig.hdrs("Route")):
        problems.append("a Route header appeared: %r" % fwd.hdrs("Route"))
    omf = (orig.hdr("Max-Forwards") or "").strip()
    fmf = (fwd.hdr("Max-Forwards") or "").strip()
    if omf.isdigit():
        if fmf != str(int(omf) - 1):
            problems.append("Max-Forwards %r forwarded as %r (want %d)" % (omf, fmf, int(omf) - 1))
    elif not fmf.isdigit() or not 0 < int(fmf) <= 70:
        problems.append("no usable Max-Forwards added (RFC 3261 §16.6 step 3): %r" % fmf)
    want_body = b"" if name == "dblreq.dat" else orig_body(data)
    if name == "inv2543.dat" and transport == "tcp":
        want_body = None        # no Content-Length on a stream: 0 or the rest, both defensible
    if want_body is not None and fwd.body_bytes != want_body:
        problems.append("body changed: %d bytes forwarded, %d expected" %
                        (len(fwd.body_bytes), len(want_body)))
    if name == "dblreq.dat" and b"joe@example.com" in fwd.raw:
        problems.append("the trailing octets after Content-Length 0 were forwarded")
    if name == "wsinv.dat":
        v = fwd.hdr("UnknownHeaderWithUnusualValue")
        if v != ";;,,;;,;":
            problems.append("UnknownHeaderWithUnusualValue not forwarded unchanged: %r" % v)
    if problems:
        raise AssertionError("%s (%s): forwarded request wrong:\n  %s\n--- forwarded:\n%s" %
                             (name, transport, "\n  ".join(problems), fwd.dump()))


class Wire:
    """The sender's socket plus listeners on the corpus' Via ports: all share one queue."""

    def __init__(self, rows):
        self.sender = UdpPeer()
        ports = {5060, 5061}
        for r in rows:
            t = via_target(Msg(r["data"]).hdr("Via"))
            if t and t[1] != self.sender.port:
                ports.add(t[1])
        self.collectors = []
        for p in sorted(ports):
            c = UdpPeer(port=p)
            c.q, c.log, c._lock = self.sender.q, self.sender.log, self.sender._lock
            self.collectors.append(c)

def wait_either(peer, back, mine, timeout):
    """First of: this message forwarded to the peer, or a reply back to the sender."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = peer.recv(0.02)
        if m is not None and mine(m):
            return "forwarded", m
        m = back.recv(0.02)
        if m is not None and m.status is not None:
            return "reply", m
    return None, None


def judge(r, px, peer, back, transport, conn_peer=None):
    """Check one message's outcome; back is the queue replies arrive on."""
    name, v = r["file"], Verdict(r["proxy_expected"], r["kind"])
    where = "%s (%s, %s)" % (name, transport, v.text)
    orig = Msg(r["data"])
    method = start_line_method(r["data"])

    def mine(m):
        # this message's forwarded copy: on a stream, dblreq's trailing INVITE is a message of
        # its own, and a late copy of an earlier message must not count for this one
        return m.is_request and m.method == method and \
            (orig.call_id is None or m.call_id == orig.call_id)

    mark = len(peer.log)
    forwarded = lambda: [m for _, m in peer.log[mark:] if isinstance(m, Msg) and mine(m)]
    if v.drop:
        peer.expect_nothing(QUIET)
        back.expect_nothing(0.05)
        return
    if transport == "tcp" and v.close_tcp:
        closed = conn_peer.wait_closed(WAIT + 2)
        got = forwarded()
        assert not got, "%s: forwarded a request with broken framing:\n%s" % (where, got[0].dump())
        assert closed, "%s: framing is unrecoverable, the proxy must close the connection\n%s" % (
            where, conn_peer.dump_log())
        return
    if transport == "tcp" and (v.udp_only_reply or b"\r\n\r\n" not in r["data"]):
        # clerr: the stream waits for 9999 body bytes; baddn has no empty line after its
        # headers, which ends a datagram but not a stream message: either way the request is
        # incomplete and must not go anywhere
        peer.expect_nothing(WAIT, what=mine)
        return
    what, m = wait_either(peer, back, mine, WAIT)
    if name == "inv2543.dat" and transport == "tcp":
        # no Content-Length on a stream violates §18.3's MUST and leaves the body's end
        # unknowable: forwarding, a 400 or closing the connection are all fair
        if (what == "reply" and m.status == 400) or (what is None and conn_peer.wait_closed(0.1)):
            return
    if what is None:
        raise AssertionError("%s: neither forwarded nor answered in %.0fs\n%s\n%s" %
                             (where, WAIT, peer.dump_log(), back.dump_log()))
    if what == "forwarded":
        assert v.may_forward, "%s: must not be forwarded (expected %s), got:\n%s" % (
            where, v.codes, m.dump())
        check_forwarded(name, r["data"], m, px, transport)
        return
    assert v.codes and m.status in v.codes, "%s: answered %d, expected %s\n%s" % (
        where, m.status, v.codes or "forwarding", m.dump())
    peer.expect_nothing(0.2, what=mine)


def fd_count(px):
    """Descriptors open in the proxy (/proc/PID/fd): a leak shows as growth over the corpus."""
    return len(os.listdir("/proc/%d/fd" % px.proc.pid))


def run_corpus(transport):
    enter_netns()
    rows = manifest()
    peer = UdpPeer()
    with Proxy(CFG, name="rfc4475", subst={"PEER": peer.port}) as px:
        wire = Wire(rows)
        failures = []
        fd0 = fd_count(px)
        for r in rows:
            time.sleep(0.05)        # let stragglers of the previous message land, then forget
            peer.drain()
            wire.sender.drain()
            conn = None
            try:
                if transport == "udp":
                    wire.sender.send(r["data"], px.addr)
                    judge(r, px, peer, wire.sender, "udp")
                else:
                    conn = TcpPeer(connect=px.tcpaddr)
                    conn.send(r["data"])
                    judge(r, px, peer, conn, "tcp", conn_peer=conn)
            except AssertionError as e:
                failures.append(str(e))
            finally:
                if conn:
                    conn.close()
            assert px.alive(), "switchyard died on %s over %s" % (r["file"], transport)
        # after all that, an ordinary request still goes through
        ua = UdpPeer(target=px.addr)
        ua.send(make_request("OPTIONS", "sip:after@example.com", ua.hostport()))
        got = peer.expect(lambda m: m.method == "OPTIONS" and "after@" in (m.ruri or ""), WAIT)
        assert got.hdrs("Via")[0].startswith("SIP/2.0/UDP 127.0.0.1:%d" % px.port)
        # every connection of the corpus is closed by now: none may stay open in the proxy
        n = fd_count(px)
        end = time.monotonic() + 5
        while n > fd0 and time.monotonic() < end:
            time.sleep(0.1)
            n = fd_count(px)
        if n > fd0:
            failures.append("descriptor leak over %s: %d open before the corpus, %d after" %
                            (transport, fd0, n))
        if failures:
            raise AssertionError("%d of %d RFC 4475 messages handled wrong over %s:\n\n%s" %
                                 (len(failures), len(rows), transport, "\n\n".join(failures)))


def test_rfc4475_udp():
    run_corpus("udp")


def test_rfc4475_tcp():
    run_corpus("tcp")


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
