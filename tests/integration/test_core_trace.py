"""test_core_trace.py: `switchyard --trace MSG -f FILE` (DESIGN.md §1): one captured message
runs offline through the real receive path and the script; stdout shows each route and call
of the script and every message that would have been sent ("--> udp:IP:PORT (N bytes)" then
exactly those bytes), then what tm is left holding. Nothing is sent and no socket is opened:
the shipped configs' port 5060/5080 appear only as text here."""
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile

from harness import REPO, Msg, sy_bin

TIMEOUT = 60

BENCH = os.path.join(REPO, "etc", "bench.cfg")
SEND_RE = re.compile(rb"^--> (\w+):(\[[^\]]+\]|[^:\s]+):(\d+) \((\d+) bytes\)\n", re.M)

SDP = ("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
       "m=audio 4000 RTP/AVP 0\n")


def invite(max_forwards=70, content_length=None, body=SDP):
    """an INVITE with LF line ends, as a capture pasted into an editor would be"""
    return ("INVITE sip:bob@127.0.0.1:5080 SIP/2.0\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-tr1;rport\n"
            "Max-Forwards: %d\n"
            "From: <sip:alice@127.0.0.1>;tag=a1\n"
            "To: <sip:bob@127.0.0.1>\n"
            "Call-ID: trace-1@test\n"
            "CSeq: 1 INVITE\n"
            "Contact: <sip:alice@127.0.0.1:5062>\n"
            "Content-Type: application/sdp\n"
            "Content-Length: %d\n\n%s" % (max_forwards,
                                          len(body) if content_length is None
                                          else content_length, body))


def trace(msg, cfg=BENCH, args=(), cwd=REPO):
    """run --trace on msg (str or bytes, written to a temp file; "-" in args feeds stdin
    instead); returns (rc, stdout bytes, stderr text, [(proto, host, port, Msg)])"""
    data = msg.encode() if isinstance(msg, str) else msg
    d = tempfile.mkdtemp(prefix="sy-trace-")
    try:
        path = os.path.join(d, "msg.sip")
        with open(path, "wb") as f:
            f.write(data)
        stdin = None
        if "-" in args:
            argv = [sy_bin(), "--trace", "-"] + [a for a in args if a != "-"] + ["-f", cfg]
            stdin = data
        else:
            argv = [sy_bin(), "--trace", path] + list(args) + ["-f", cfg]
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30, cwd=cwd)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    err = p.stderr.decode("utf-8", "replace")
    for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert mark not in err, "sanitizer report:\n" + err
    return p.returncode, p.stdout, err, sends(p.stdout)


def sends(out):
    """every "--> proto:host:port (N bytes)" block: the N bytes after the line, parsed"""
    res = []
    for m in SEND_RE.finditer(out):
        n = int(m.group(4))
        raw = out[m.end():m.end() + n]
        assert len(raw) == n, "send block shorter than its %d bytes:\n%r" % (n, out)
        res.append((m.group(1).decode(), m.group(2).decode(), int(m.group(3)), Msg(raw)))
    return res


def text(out):
    return out.decode("utf-8", "replace")


def test_invite_through_bench_cfg():
    rc, out, err, sent = trace(invite(content_length=999))
    o = text(out)
    assert rc == 0, "rc %d\n%s\n%s" % (rc, o, err)
    # the input line, the main route and the calls that decided, with their results
    assert o.startswith("<-- udp:127.0.0.1:5062 ("), o
    assert re.search(r"^route \(.*bench\.cfg:\d+\)$", o, re.M), o
    assert re.search(r"^  \d+:\d+: mf_process_maxfwd_header\(10\) = 1$", o, re.M), o
    assert re.search(r"^\s+\d+:\d+: record_route\(\) = 1$", o, re.M), o
    assert re.search(r'^\s+\d+:\d+: \$du = "sip:127\.0\.0\.1:5080"$', o, re.M), o
    assert re.search(r"^\s+\d+:\d+: t_relay\(\) = 1$", o, re.M), o
    assert re.search(r"^\s+\d+:\d+: exit$", o, re.M), o
    assert len(sent) == 2, "expected the 100 Trying and the INVITE:\n" + o
    # 100 Trying at once (§17.2.1), back to the source with received/rport (RFC 3581)
    proto, host, port, trying = sent[0]
    assert (proto, host, port) == ("udp", "127.0.0.1", 5062), sent[0][:3]
    assert trying.status == 100, trying.raw
    assert "rport=5062" in trying.hdr("Via"), trying.raw
    # the INVITE to $du with our Via on top, Record-Route, Max-Forwards decremented (§16.6)
    proto, host, port, fwd = sent[1]
    assert (proto, host, port) == ("udp", "127.0.0.1", 5080), sent[1][:3]
    assert fwd.method == "INVITE" and fwd.ruri == "sip:bob@127.0.0.1:5080", fwd.raw
    vias = fwd.hdrs("Via")
    assert len(vias) == 2, vias
    assert vias[0].startswith("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK"), vias
    assert "branch=z9hG4bK-tr1" in vias[1] and "received" not in vias[0], vias
    assert fwd.hdrs("Record-Route") == ["<sip:127.0.0.1:5060;lr>"], fwd.raw
    assert fwd.hdr("Max-Forwards") == "69", fwd.raw
    # the LF-only capture was turned into CRLF and its wrong Content-Length fixed
    assert b"\r\n\r\nv=0\r\n" in fwd.raw and b"\n\n" not in fwd.raw.replace(b"\r\n", b""), \
        fwd.raw
    assert int(fwd.hdr("Content-Length")) == len(fwd.body_bytes) == len(SDP.replace("\n",
                                                                                    "\r\n"))
    # timers never ran: the transaction and its branch are still there
    assert re.search(r"^tm: 1 transaction, 1 branch pending$", o, re.M), o
    assert re.search(r"^tm: .*INVITE sip:bob@127\.0\.0\.1:5080 .*Proceeding", o, re.M), o


def test_send_lines_follow_order_of_actions():
    # the 100 goes out when tm creates the transaction, inside t_relay: before its trace
    # line (calls are printed with their result), after the $du assignment
    rc, out, err, sent = trace(invite())
    o = text(out)
    assert rc == 0, o + err
    assert o.index('$du = "sip:127.0.0.1:5080"') < o.index("--> udp:127.0.0.1:5062") < \
        o.index("--> udp:127.0.0.1:5080") < o.index("t_relay() = 1"), o


def test_options_max_forwards_0_gets_483():
    opt = ("OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-tr2\r\n"
           "Max-Forwards: 0\r\n"
           "From: <sip:alice@127.0.0.1>;tag=a2\r\n"
           "To: <sip:bob@127.0.0.1>\r\n"
           "Call-ID: trace-2@test\r\n"
           "CSeq: 7 OPTIONS\r\n"
           "Content-Length: 0\r\n\r\n")
    rc, out, err, sent = trace(opt)
    o = text(out)
    assert rc == 0, o + err
    assert re.search(r"^  \d+:\d+: mf_process_maxfwd_header\(10\) = -1$", o, re.M), o
    assert re.search(r'^\s+\d+:\d+: sl_send_reply\(483, "Too Many Hops"\) = 1$', o, re.M), o
    assert "t_relay" not in o, o
    assert len(sent) == 1, o
    proto, host, port, r = sent[0]
    assert (proto, host, port) == ("udp", "127.0.0.1", 5062), sent[0][:3]
    assert r.status == 483 and r.cseq == (7, "OPTIONS") and r.to_tag, r.raw
    assert re.search(r"^tm: 0 transactions, 0 branches pending$", o, re.M), o


def test_garbage_fails_with_reason():
    rc, out, err, sent = trace(b"\x01\x02 this is not SIP \xff\r\n\r\n")
    o = text(out)
    assert rc == 1, "garbage must exit 1, got %d\n%s" % (rc, o)
    assert re.search(r"^parse error: .+ at offset \d+", o, re.M), o
    assert "does not parse" in err, err
    assert "route (" not in o, o


def test_malformed_request_shows_the_400():
    bad = invite().replace("CSeq: 1 INVITE", "CSeq: x INVITE")
    rc, out, err, sent = trace(bad)
    o = text(out)
    assert rc == 1, o
    assert re.search(r"^parse error: Bad CSeq at offset \d+$", o, re.M), o
    assert len(sent) == 1 and sent[0][3].status == 400, o
    assert sent[0][:3] == ("udp", "127.0.0.1", 5062), sent[0][:3]
    assert "route (" not in o, o


def test_unreadable_file():
    p = subprocess.run([sy_bin(), "--trace", "/nonexistent/msg.sip", "-f", BENCH],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 1, (p.returncode, err)
    assert "/nonexistent/msg.sip: No such file or directory" in err, err
    assert p.stdout == b"", p.stdout


def test_stdin_and_src():
    # "-" reads stdin; --src sets $si/$sp: the 100 goes to the received/rport address
    rc, out, err, sent = trace(invite().replace("\n", "\r\n"),
                               args=("-", "--src", "udp:10.9.8.7:5999"))
    o = text(out)
    assert rc == 0, o + err
    assert o.startswith("<-- udp:10.9.8.7:5999 ("), o
    assert sent[0][:3] == ("udp", "10.9.8.7", 5999), sent[0][:3]
    assert "received=10.9.8.7" in sent[1][3].hdrs("Via")[1], sent[1][3].raw
    # a capture with CRs is taken byte for byte: its Content-Length (counted on the LF body
    # here, so 6 short) is not "fixed"
    assert int(sent[1][3].hdr("Content-Length")) == len(SDP), sent[1][3].raw


def test_bad_src():
    rc, out, err, _ = trace(invite(), args=("--src", "udp:nowhere"))
    assert rc == 2 and "--src udp:nowhere" in err, (rc, err)
    rc, out, err, _ = trace(invite(), args=("--src", "tcp:127.0.0.1:5062"))
    assert rc == 1 and "no listen of that transport" in err, (rc, err)


def test_register_through_default_cfg_saves():
    d = tempfile.mkdtemp(prefix="sy-trace-reg-")
    try:
        db = os.path.join(d, "location.db")
        with open(os.path.join(REPO, "etc", "switchyard.cfg")) as f:
            cfg = f.read()
        assert '"sqlite://build/location.db"' in cfg, "db_url of etc/switchyard.cfg moved"
        cfg = cfg.replace('"sqlite://build/location.db"', '"sqlite://%s"' % db)
        # the default config authenticates REGISTER (docs/auth.md): a users table, and a fixed
        # secret so that the nonce of the first trace's 401 is still good in the second
        users = os.path.join(d, "users.db")
        cfg = cfg.replace('"sqlite://build/users.db"', '"sqlite://%s"' % users)
        cfg += '\nmodparam("auth", "secret", "trace-test-secret-0123456789")\n'
        u = sqlite3.connect(users)
        u.execute("CREATE TABLE subscriber (username TEXT, domain TEXT, password TEXT,"
                  " ha1 TEXT, ha1_sha256 TEXT)")
        u.execute("INSERT INTO subscriber VALUES ('alice', '127.0.0.1', '', ?, '')",
                  (hashlib.md5(b"alice:127.0.0.1:pw").hexdigest(),))
        u.commit()
        u.close()
        path = os.path.join(d, "switchyard.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        reg = ("REGISTER sip:127.0.0.1 SIP/2.0\n"
               "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-tr3\n"
               "Max-Forwards: 70\n"
               "From: <sip:alice@127.0.0.1>;tag=r1\n"
               "To: <sip:alice@127.0.0.1>\n"
               "Call-ID: trace-3@test\n"
               "CSeq: 1 REGISTER\n"
               "Contact: <sip:alice@127.0.0.1:5062>\n"
               "Expires: 600\n"
               "%s"
               "Content-Length: 0\n\n")
        rc, out, err, sent = trace(reg % "", cfg=path, cwd=d)
        assert rc == 0 and len(sent) == 1 and sent[0][3].status == 401, text(out) + err
        nonce = re.search(r'nonce="([^"]+)"', sent[0][3].hdr("WWW-Authenticate")).group(1)
        md5 = lambda x: hashlib.md5(x.encode()).hexdigest()
        resp = md5("%s:%s:00000001:c1:auth:%s" % (md5("alice:127.0.0.1:pw"), nonce,
                                                  md5("REGISTER:sip:127.0.0.1")))
        rc, out, err, sent = trace(reg % (
            'Authorization: Digest username="alice", realm="127.0.0.1", nonce="%s", '
            'uri="sip:127.0.0.1", response="%s", qop=auth, nc=00000001, cnonce="c1"\n'
            % (nonce, resp)), cfg=path, cwd=d)
        o = text(out)
        assert rc == 0, o + err
        assert re.search(r"^route \(.*switchyard\.cfg:\d+\)$", o, re.M), o
        assert re.search(r'^\s+\d+:\d+: is_method\("REGISTER"\) = 1$', o, re.M), o
        assert re.search(r'^\s+\d+:\d+: save\("location"\) = 1$', o, re.M), o
        assert len(sent) == 1, o
        proto, host, port, r = sent[0]
        assert (proto, host, port) == ("udp", "127.0.0.1", 5062), sent[0][:3]
        assert r.status == 200 and r.cseq == (1, "REGISTER"), r.raw
        assert any("<sip:alice@127.0.0.1:5062>" in c and "expires=600" in c
                   for c in r.hdrs("Contact")), r.raw
        # the store is used as configured: the binding is on disk when the trace exits
        rows = sqlite3.connect(db).execute("SELECT * FROM location").fetchall()
        assert any("sip:alice@127.0.0.1:5062" in [str(x) for x in row] for row in rows), rows
        # and loaded back by the next trace: a call to alice goes to her contact
        # (from another domain: a call to our user that the default config does not challenge)
        inv = ("INVITE sip:alice@127.0.0.1 SIP/2.0\n"
               "Via: SIP/2.0/UDP 127.0.0.1:5064;branch=z9hG4bK-tr4;rport\n"
               "Max-Forwards: 70\n"
               "From: <sip:bob@example.net>;tag=b4\n"
               "To: <sip:alice@127.0.0.1>\n"
               "Call-ID: trace-4@test\n"
               "CSeq: 1 INVITE\n"
               "Content-Length: 0\n\n")
        rc, out, err, sent = trace(inv, cfg=path, cwd=d, args=("--src", "udp:127.0.0.1:5064"))
        o = text(out)
        assert rc == 0, o + err
        assert re.search(r'^\s+\d+:\d+: lookup\("location"\) = 1$', o, re.M), o
        assert [(p_, h, pt) for p_, h, pt, _ in sent] == [("udp", "127.0.0.1", 5064),
                                                          ("udp", "127.0.0.1", 5062)], o
        assert sent[0][3].status == 100, o
        assert sent[1][3].ruri == "sip:alice@127.0.0.1:5062", sent[1][3].raw
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_startup_route_traced_and_src_needs_trace():
    d = tempfile.mkdtemp(prefix="sy-trace-st-")
    try:
        cfg = os.path.join(d, "st.cfg")
        with open(cfg, "w") as f:
            f.write('listen = udp:127.0.0.1:5060\nloadmodule "sl.so"\n'
                    'startup_route {\n\t$var(boot) = 1;\n}\n'
                    'route {\n\tsl_send_reply(404, "Nope");\n}\n')
        rc, out, err, sent = trace(invite(), cfg=cfg)
        o = text(out)
        assert rc == 0, o + err
        # startup_route runs first (as before the workers start), then the message
        assert re.match(r"startup_route \(.*st\.cfg:3\)\n  4:2: \$var\(boot\) = 1\n<-- ", o), o
        assert [m.status for _, _, _, m in sent] == [404], o
        assert "tm:" not in o, "no tm summary without tm loaded:\n" + o
        p = subprocess.run([sy_bin(), "--src", "udp:127.0.0.1:5062", "-f", cfg],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 2 and b"usage" in p.stderr, (p.returncode, p.stderr)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
