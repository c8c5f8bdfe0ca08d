"""test_rel_regress.py: the regression messages of tests/data/regress/ (make_regress.py: classes
of parser bugs found in other SIP servers) on the wire, over UDP and over TCP, against the
binary under test (the ASan+UBSan one in `make test`). After each bad message a good request
must still be relayed. None may crash the proxy, leak a descriptor (/proc/PID/fd counted before
and after) or make it forward a header it did not parse as what it matched:

  - every Content-Length of a forwarded copy counts the forwarded body, which is the start of
    the original body (RFC 3261 §18.3, §20.14; a repeated Content-Length with one value is
    tolerated, one with two values must not go out);
  - its top Via is ours and below it are exactly the original's Via values (§16.6 step 8);
  - every other header line is one of the original's lines, byte for byte (a proxy forwards
    what it does not understand unchanged, §16.6: it never "repairs" a header into another);
  - Content-Length that is negative, overflows, is duplicated with another value or promises
    more than the datagram holds is never forwarded (§18.3: such a datagram is discarded or
    answered 400);
  - a response with a status code outside 100-699 (§7.2, §21) is never forwarded upstream.

The corpus' Vias name 192.0.2.1 (TEST-NET): the test runs in a private network namespace
(harness.enter_netns), so a reply routed there cannot leave the machine."""
import os
import re
import sys
import time

from harness import (REPO, Msg, Proxy, TcpPeer, UdpPeer, enter_netns, make_request)

sys.path.insert(0, os.path.join(REPO, "tests", "data", "regress"))
import make_regress  # noqa: E402

TIMEOUT = 300

CFG = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
route {
    forward("udp:127.0.0.1:{PEER}");
}
"""

WAIT = 4.0


def corpus():
    """{name: bytes}: the files of tests/data/regress plus the *_big messages."""
    d = os.path.join(REPO, "tests", "data", "regress")
    out = {}
    for fn in sorted(os.listdir(d)):
        if fn.endswith(".dat"):
            with open(os.path.join(d, fn), "rb") as f:
                out[fn[:-4]] = f.read()
    assert len(out) >= 150, "tests/data/regress holds %d messages; run make_regress.py" % len(out)
    for n, data in make_regress.messages().items():
        if n.endswith("_big"):
            out[n] = data
    return out


def fd_count(px):
    return len(os.listdir("/proc/%d/fd" % px.proc.pid))


def fd_settled(px, want, timeout=5):
    """The descriptor count back to want (TCP connections are closed asynchronously)."""
    end = time.monotonic() + timeout
    n = fd_count(px)
    while n != want and time.monotonic() < end:
        time.sleep(0.1)
        n = fd_count(px)
    return n


def head_lines(raw):
    end = raw.find(b"\r\n\r\n")
    head = raw[:end] if end >= 0 else raw
    return head.split(b"\r\n")


def hname_of(line):
    return line.split(b":", 1)[0].strip().lower() if b":" in line else None


RPORT_RECEIVED = re.compile(rb";(?:rport(?:=\d*)?|received=[^;,]*)", re.I)


def via_values(lines, norm=False):
    """Via values of the header lines whose name is exactly Via or v (a name with a control
    character is not a Via), split at commas (no commas inside these test values' quotes).
    norm: without rport/received, which the proxy adds to the one it received (RFC 3581 §4)."""
    out = []
    for ln in lines[1:]:
        if hname_of(ln) in (b"via", b"v"):
            out += [v.strip() for v in ln.split(b":", 1)[1].split(b",") if v.strip()]
    return [RPORT_RECEIVED.sub(b"", v) for v in out] if norm else out


def orig_body(data):
    end = data.find(b"\r\n\r\n")
    return data[end + 4:] if end >= 0 else b""


def check_forwarded(name, data, fwd_raw, px):
    problems = []
    lines = head_lines(fwd_raw)
    orig_lines = set(head_lines(data)[1:])
    body = orig_body(fwd_raw)
    cls = [ln for ln in lines[1:] if hname_of(ln) in (b"content-length", b"l")]
    had_cl = any(hname_of(ln) in (b"content-length", b"l") for ln in head_lines(data)[1:])
    if had_cl and not cls:
        problems.append("the Content-Length was dropped")
    for cl in cls:
        # a repeated one is tolerated only when every copy counts the forwarded body
        if cl.split(b":", 1)[1].strip() != b"%d" % len(body):
            problems.append("Content-Length %r but %d body bytes" % (cl, len(body)))
    if not orig_body(data).startswith(body):
        problems.append("forwarded body is not the start of the original body")
    vias = via_values(lines, True)
    ovias = via_values(head_lines(data), True)
    if not vias or not vias[0].startswith(b"SIP/2.0/UDP 127.0.0.1:%d;" % px.port):
        problems.append("top Via not ours: %r" % vias[:1])
    elif vias[1:] != ovias:
        problems.append("Via values below ours differ from the original's (%d vs %d)" %
                        (len(vias) - 1, len(ovias)))
    for ln in lines[1:]:
        n = hname_of(ln)
        if n in (b"via", b"v", b"content-length", b"l", b"max-forwards"):
            continue
        if ln not in orig_lines:
            problems.append("header line not in the original: %r" % ln[:200])
    if name.startswith(("cl_negative", "cl_overflow", "cl_dup_differ", "cl_beyond", "cl_empty",
                        "cl_plus", "cl_hex", "cl_space", "cl_list")) and name != "cl_negative_zero":
        problems.append("a request with this Content-Length must not be forwarded")
    if problems:
        raise AssertionError("%s: forwarded copy wrong:\n  %s\n--- forwarded (first 3000 bytes):\n%r"
                             % (name, "\n  ".join(problems), fwd_raw[:3000]))


def good_options(hp, tag, transport="UDP"):
    return make_request("OPTIONS", "sip:%s@example.com" % tag, hp, transport=transport)


def relay_check(px, peer, tag, send, settle=0.0, mark=None):
    """send(tag) a good OPTIONS; wait for its forwarded copy (one resend on UDP loss). Returns
    the peer's other messages received before it and up to settle seconds after it (over TCP the
    bad message and the good one travel on different connections, in no fixed order)."""
    ruri = "sip:%s@example.com" % tag
    mark = len(peer.log) if mark is None else mark
    for attempt in range(2):
        send(tag)
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            got = [m for _, m in peer.log[mark:] if isinstance(m, Msg)]
            for i, m in enumerate(got):
                if m.method == "OPTIONS" and m.ruri == ruri:
                    if settle:
                        time.sleep(settle)
                        got = [m for _, m in peer.log[mark:] if isinstance(m, Msg)]
                    return [o for o in got if not (o.method == "OPTIONS" and o.ruri == ruri)]
            time.sleep(0.01)
        assert px.alive(), "switchyard died after %s:\n%s" % (tag, px.stderr_text()[-4000:])
    raise AssertionError("a good request after %s was not relayed\n%s" % (tag, peer.dump_log()[-4000:]))


def run(transport):
    enter_netns()
    msgs = corpus()
    peer = UdpPeer()
    failures = []
    checked = []
    with Proxy(CFG, name="rel-regress-" + transport, subst={"PEER": peer.port}) as px:
        sender = UdpPeer(target=px.addr)
        relay_check(px, peer, "warmup", lambda t: sender.send(good_options(sender.hostport(), t)))
        fd0 = fd_count(px)
        for name, data in msgs.items():
            if name.startswith("resp_"):
                continue
            if transport == "udp" and len(data) > 65507:
                continue
            conn = None
            mark = len(peer.log)
            try:
                if transport == "udp":
                    sender.send(data)
                    before = relay_check(px, peer, "after-" + re.sub("[^a-z0-9]", "-", name),
                                         lambda t: sender.send(good_options(sender.hostport(), t)),
                                         mark=mark)
                else:
                    conn = TcpPeer(connect=px.tcpaddr)
                    try:
                        conn.conn.sendall(data)
                    except OSError:
                        pass        # the proxy may close a connection over its limits mid-send
                    time.sleep(0.05)

                    goods = []

                    def send_tcp(t):
                        c = TcpPeer(connect=px.tcpaddr)
                        goods.append(c)
                        c.send(good_options(c.hostport(), t, "TCP"))
                    try:
                        before = relay_check(px, peer, "after-" + re.sub("[^a-z0-9]", "-", name),
                                             send_tcp, settle=0.05, mark=mark)
                    finally:
                        for c in goods:
                            c.close()
                            c.conn.close()
                for m in before:
                    if m.is_request and m.method == "INVITE":
                        checked.append(name)
                        check_forwarded(name, data, m.raw, px)
            except AssertionError as e:
                failures.append(str(e))
            finally:
                if conn is not None:
                    conn.close()
                    try:
                        conn.conn.close()
                    except OSError:
                        pass
            peer.drain()
            sender.drain()
        # the well-formed ones among them (repeated Content-Length with one value, a space
        # before the colon, an empty tag ...) do go through and were checked
        for must in ("cl_dup_same", "hname_ws_before_colon", "branch_huge", "tag_huge"):
            if must == "cl_dup_same" and transport == "tcp":
                continue    # the stream framer refuses any repeated Content-Length (sip_frame)
            if must not in checked:
                failures.append("%s was not forwarded over %s" % (must, transport))
        # TCP connections the test opened are closed: the proxy must have let go of them all
        n = fd_settled(px, fd0)
        if n > fd0:
            failures.append("descriptor leak: %d open before the corpus, %d after (%s)" %
                            (fd0, n, transport))
        if failures:
            raise AssertionError("%d regression message(s) handled wrong over %s:\n\n%s" %
                                 (len(failures), transport, "\n\n".join(failures)))


def test_regress_udp():
    run("udp")


def test_regress_tcp():
    run("tcp")


STATUS_RE = re.compile(rb"^SIP/2\.0 ([1-6]\d\d) ")


def test_regress_bad_status_not_forwarded():
    """The next hop answers a relayed INVITE with a status outside 100-699: nothing of that goes
    upstream (RFC 3261 §7.2: Status-Code is 3DIGIT, §21 classes 1xx-6xx); a good reply after it
    still does."""
    enter_netns()
    msgs = {n: d for n, d in corpus().items() if n.startswith("resp_status_")}
    assert len(msgs) >= 6
    peer = UdpPeer()
    with Proxy(CFG, name="rel-status", subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        fd0 = fd_count(px)
        for name, data in sorted(msgs.items()):
            req = make_request("INVITE", "sip:bob@example.com", ua.hostport())
            ua.send(req)
            fwd = peer.expect("INVITE", WAIT)
            start = data.split(b"\r\n", 1)[0]
            vias = b"".join(b"Via: " + v + b"\r\n" for v in via_values(head_lines(fwd.raw)))
            rest = [ln for ln in head_lines(data)[1:] if hname_of(ln) not in (b"via", b"call-id",
                                                                             b"from", b"to", b"cseq")]
            resp = (start + b"\r\n" + vias +
                    b"".join(b"%s: %s\r\n" % (h, fwd.hdr(h.decode()).encode())
                             for h in (b"From", b"To", b"Call-ID", b"CSeq")) +
                    b"".join(ln + b"\r\n" for ln in rest) + b"\r\n")
            peer.send(resp, fwd.src)
            peer.reply(fwd, 486)
            got = ua.expect(lambda m: m.status is not None and m.status >= 200, WAIT)
            bad = [m for _, m in ua.log if isinstance(m, Msg) and m.status is not None and
                   not STATUS_RE.match(m.raw)]
            assert not bad, "%s: a reply with status %r went upstream:\n%s" % (
                name, start, bad[0].dump())
            assert got.status == 486, "%s: the good reply after it came back as %s" % (name, got.status)
            ua.drain()
            peer.drain()
        assert fd_settled(px, fd0) <= fd0, "descriptor leak"


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
