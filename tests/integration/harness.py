"""harness.py: the integration-test harness (python3 stdlib only). A test starts the real binary
with a config of its own, talks SIP to it from scripted peers on 127.0.0.1 and asserts what
crossed the wire.

Binary: env SY_BIN (tests/run.py sets it to the ASan+UBSan build), else build/asan/switchyard,
else build/switchyard, relative to the repo root.

Proxy(cfg_text, name=None, workers=1, env=None, subst=None, args=(), ready=True, cwd=REPO)
    Placeholders {PORT}, {TCPPORT}, {PORT2}, {TCPPORT2} ... become free ports (a UDP port for
    PORT*, a TCP one for TCPPORT*); any other {NAME} is taken from subst (e.g.
    subst={"PEER": peer.port}). A `workers = N` line is prepended unless the cfg sets
    workers/children (workers=None: leave the cfg alone). The cfg is written to a temp dir and
    SY_BIN -f cfg started in cwd; readiness: an OPTIONS with Max-Forwards: 0 gets a reply (483
    expected) on the first UDP listen (else the first TCP one).
    Attributes: .port .tcpport (first UDP / TCP listen, placeholders or literal) .addr .tcpaddr
    ((host, port)) .ports (placeholder -> port) .cfg_path .cfg_text .proc.
    Methods: .stop() (SIGTERM, waits, asserts exit 0 and no sanitizer report in stderr,
    returns stderr text), .kill(), .alive(), .stderr_text(), .log_lines(*levels) (stderr lines
    at ERROR or worse, or at the levels named), .stats() (SIGUSR1, waits for a new
    "stats: k=v ..." stderr line, returns a dict, ints converted), .wait_stat(key="tm_active",
    want=0, timeout=40) (polls stats() until it holds), context manager (stops on exit; on an
    exception it prints the stderr tail and kills).
check_config(cfg_text, args=("-c",), subst=None) -> (rc, stdout+stderr, cfg path).

UdpPeer(port=0, target=None, host=LOCAL), TcpPeer(connect=None, port=0, host=LOCAL)
    Peers read in a background thread; every message lands in .log as (monotonic time, Msg) and
    in a queue that recv()/expect() consume. TcpPeer(connect=(host, port)) opens one connection
    to the proxy; TcpPeer() listens (.port) and accepts the proxy's connections (.conns).
    host=LOCAL6 ("::1") for IPv6.
    .send(text_or_bytes, addr=None, auto_cl=False, conn=None): str gets \\n -> \\r\\n; bytes are
        sent raw. auto_cl fixes Content-Length. addr defaults to .target (UdpPeer) / the
        connection (TcpPeer: the connected one, or the last accepted one, or conn=).
    .recv(timeout=2) -> Msg or None; .drain() -> the queued messages
    .expect(what, timeout=2) -> Msg: what is a status code (int), a method (str), or a
        predicate(Msg) -> bool; messages that do not match are skipped (they stay in .log). On
        timeout raises AssertionError with a dump of everything received.
    .expect_nothing(t=0.5, what=None): AssertionError if a message (matching what) arrives.
    .reply(req, code, reason="", headers=None, body="", to_tag=AUTO) -> the reply text sent:
        Vias, From, To (+ tag on > 100), Call-ID, CSeq copied, Record-Route on dialog-creating
        replies; UDP: sent to the top Via's sent-by (received/rport honoured); TCP: back on the
        connection the request came on.
    .hostport() "127.0.0.1:port" ("[::1]:port"), .addr, .port, .close(), .dump_log();
    TcpPeer.wait_closed(timeout) -> bool (the proxy closed the connection).
free_port(kind="udp"|"tcp"|"both"), wait_bound(port, transport) (a socket is bound there,
    read from /proc/net), hostport(host, port), new_branch(), rand_token().

Msg(raw): .raw (bytes) .text .is_request .method .ruri .version .status .reason .hdr(name)
    (first value, compact forms understood) .hdrs(name) (all values; list headers like Via,
    Route, Record-Route, Contact split at commas outside quotes/<>) .headers [(name, value)]
    .body (str, latin-1) .body_bytes .call_id .cseq (num, method) .from_tag .to_tag .branch
    (top Via) .src (addr) .conn (TCP connection it came on) .time; param(value, name).

make_request(method, ruri, via_host_port, branch=None, from_tag=None, call_id=None, cseq=1,
             headers=None, body="", transport="UDP", max_forwards=70, to=None, from_=None,
             contact=None) -> str (CRLF lines, correct Content-Length)
make_ack(req, reply) / make_cancel(req): the ACK for a non-2xx final reply and the CANCEL of a
    request (same branch, RFC 3261 §17.1.1.3 / §9.1).

sipp(args, timeout=60, cwd=None) -> SippResult(rc, stats, out, err): runs sipp to the end in a
    temp dir (-trace_stat added; stats is the last row of its CSV: "SuccessfulCall(C)" ...;
    .count("SuccessfulCall"), .dump()). Scenario files: pass scenario(name) to -sf.
SippProc(args): the same in the background (.wait(timeout) -> SippResult, .kill()), for a uas.
sipp_uas(scn="uas_180_200", calls=1, transport="udp", port=None, args=()) -> SippProc with
    .port/.hostport; sipp_uac(scn, target, calls=1, rate=10, transport="udp", args=(),
    timeout=60) -> SippResult. scn: a file of scenarios/ (uas_180_200, uas_486, uas_silent,
    uas_180_cancel, uac_invite_bye, uac_486, uac_408, uac_cancel) or a sipp built-in (uac, uas).
scenario(name) -> path of tests/integration/scenarios/<name>.xml

enter_netns(): move this test process into a private network namespace with only `lo` up
    (root, or unprivileged user namespaces). There every port is ours, 5060 included, and
    nothing can leave the machine. Call it first thing in a test; each test is its own process.

run_module(globals()): `if __name__ == "__main__"` helper: runs the file's test_* functions (or
    those named in argv) and prints "N passed, N failed".
"""
import atexit
import ctypes
import errno
import fcntl
import os
import queue
import random
import re
import select
import signal
import socket
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = os.path.join(HERE, "scenarios")
LOCAL = "127.0.0.1"
LOCAL6 = "::1"
RESERVED_PORTS = {5060, 5070, 5080}   # the benchmark's; never used outside a private netns

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sy_bin():
    b = os.environ.get("SY_BIN")
    if b:
        return b if os.path.isabs(b) else os.path.join(REPO, b)
    for c in ("build/asan/switchyard", "build/switchyard"):
        p = os.path.join(REPO, c)
        if os.path.exists(p):
            return p
    return os.path.join(REPO, "build/switchyard")


def rand_token(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def new_branch():
    return "z9hG4bK" + rand_token(16)


# ---------------------------------------------------------------- ports

_given_ports = set()


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def hostport(host, port):
    """host:port as SIP writes it (RFC 3261 §25.1: IPv6 references in brackets)."""
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def free_port(kind="udp", host=LOCAL):
    """A port the kernel says is free now for kind 'udp', 'tcp' or 'both'; never one of the
    reserved ones, never one this process handed out before."""
    for _ in range(200):
        socks = []
        try:
            s = socket.socket(family(host), socket.SOCK_DGRAM if kind != "tcp" else socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
            port = s.getsockname()[1]
            if kind == "both":
                t = socket.socket(family(host), socket.SOCK_STREAM)
                socks.append(t)
                t.bind((host, port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        if port not in RESERVED_PORTS and port not in _given_ports:
            _given_ports.add(port)
            return port
    raise RuntimeError("no free %s port" % kind)


# ---------------------------------------------------------------- messages

COMPACT = {"i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
           "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
           "v": "via", "r": "refer-to", "b": "referred-by", "o": "event", "u": "allow-events",
           "x": "session-expires", "a": "accept-contact", "j": "reject-contact",
           "d": "request-disposition", "y": "identity", "n": "identity-info"}
LIST_HDRS = {"via", "route", "record-route", "contact", "proxy-require", "require", "supported",
             "unsupported", "allow", "path"}

REASONS = {100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
           183: "Session Progress", 200: "OK", 202: "Accepted", 301: "Moved Permanently",
           302: "Moved Temporarily", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 407: "Proxy Authentication Required",
           408: "Request Timeout", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme",
           420: "Bad Extension", 480: "Temporarily Unavailable",
           481: "Call/Transaction Does Not Exist", 483: "Too Many Hops", 484: "Address Incomplete",
           486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
           500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable",
           504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
           600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere"}


def hname(name):
    n = name.strip().lower()
    return COMPACT.get(n, n)


def split_list(value):
    """Split a header value at commas outside quotes and <>."""
    out, cur, q, ang, esc = [], [], False, 0, False
    for ch in value:
        if esc:
            cur.append(ch)
            esc = False
            continue
        if q and ch == "\\":
            esc = True
        elif ch == '"':
            q = not q
        elif not q and ch == "<":
            ang += 1
        elif not q and ch == ">" and ang:
            ang -= 1
        elif ch == "," and not q and not ang:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return [v for v in out if v]


def param(value, name):
    """The value of ;name=... in a header value (outside <>), '' for a flag param, None if
    absent."""
    if value is None:
        return None
    v = value
    if ">" in v:
        v = v[v.rindex(">") + 1:]
    for p in v.split(";")[1:]:
        k, _, val = p.partition("=")
        if k.strip().lower() == name.lower():
            return val.strip()
    return None


class Msg:
    def __init__(self, raw, src=None, conn=None, t=None):
        self.raw = bytes(raw)
        self.src = src
        self.conn = conn
        self.time = time.monotonic() if t is None else t
        self.text = self.raw.decode("latin-1")
        head, sep, body = self.text.partition("\r\n\r\n")
        if not sep:
            head, sep, body = self.text.partition("\n\n")
        self.body = body
        self.body_bytes = body.encode("latin-1")
        lines = re.split(r"\r?\n", head)
        while lines and lines[0] == "":
            lines.pop(0)
        self.start = lines[0] if lines else ""
        self.method = self.ruri = self.version = self.reason = None
        self.status = None
        parts = self.start.split(" ", 2)
        if self.start.upper().startswith("SIP/") and len(parts) >= 2 and parts[1].isdigit():
            self.version = parts[0]
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
        elif len(parts) == 3:
            self.method, self.ruri, self.version = parts
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            n, c, v = line.partition(":")
            if c:
                self.headers.append((n.strip(), v.strip()))

    @property
    def is_request(self):
        return self.method is not None

    def hdrs(self, name):
        key = hname(name)
        out = []
        for n, v in self.headers:
            if hname(n) == key:
                if key in LIST_HDRS and v.strip() != "*":
                    out.extend(split_list(v))
                else:
                    out.append(v)
        return out

    def hdr(self, name):
        key = hname(name)
        for n, v in self.headers:
            if hname(n) == key:
                if key in LIST_HDRS and v.strip() != "*":
                    vals = split_list(v)
                    return vals[0] if vals else v
                return v
        return None

    @property
    def call_id(self):
        return self.hdr("Call-ID")

    @property
    def cseq(self):
        v = self.hdr("CSeq") or ""
        p = v.split()
        try:
            return (int(p[0]), p[1] if len(p) > 1 else "")
        except (ValueError, IndexError):
            return (None, "")

    @property
    def from_tag(self):
        return param(self.hdr("From"), "tag")

    @property
    def to_tag(self):
        return param(self.hdr("To"), "tag")

    @property
    def branch(self):
        return param(self.hdr("Via"), "branch")

    def __repr__(self):
        return "<Msg %s>" % self.start

    def dump(self):
        return self.text.replace("\r\n", "\n")


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def fix_content_length(data):
    """Set Content-Length to the body's byte length (adds the header if absent)."""
    sep = data.find(b"\r\n\r\n")
    if sep < 0:
        return data
    head, body = data[:sep], data[sep + 4:]
    lines = head.split(b"\r\n")
    out, found = [], False
    for ln in lines:
        n = ln.split(b":", 1)[0].strip().lower()
        if n in (b"content-length", b"l") and b":" in ln:
            if not found:
                out.append(b"Content-Length: %d" % len(body))
            found = True
            continue
        out.append(ln)
    if not found:
        out.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(out) + b"\r\n\r\n" + body


def to_bytes(text_or_bytes, auto_cl=False):
    if isinstance(text_or_bytes, (bytes, bytearray)):
        data = bytes(text_or_bytes)
    else:
        data = crlf(text_or_bytes).encode("utf-8")
    return fix_content_length(data) if auto_cl else data


def _hdr_lines(headers):
    if not headers:
        return []
    if isinstance(headers, dict):
        headers = list(headers.items())
    out = []
    for h in headers:
        if isinstance(h, str):
            out.append(h)
        else:
            out.append("%s: %s" % (h[0], h[1]))
    return out


def make_request(method, ruri, via_host_port, branch=None, from_tag=None, call_id=None, cseq=1,
                 headers=None, body="", transport="UDP", max_forwards=70, to=None, from_=None,
                 contact=None):
    """A well-formed request (RFC 3261 §8.1.1). max_forwards=None leaves the header out."""
    branch = branch or new_branch()
    from_tag = from_tag or rand_token(8)
    call_id = call_id or rand_token(16) + "@" + via_host_port.rsplit(":", 1)[0].strip("[]")
    lines = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/%s %s;branch=%s;rport" % (transport, via_host_port, branch)]
    if max_forwards is not None:
        lines.append("Max-Forwards: %d" % max_forwards)
    lines += ["From: %s;tag=%s" % (from_ or "<sip:alice@%s>" % via_host_port, from_tag),
              "To: %s" % (to or "<%s>" % ruri),
              "Call-ID: %s" % call_id,
              "CSeq: %d %s" % (cseq, method)]
    if contact is not None:
        lines.append("Contact: %s" % contact)
    elif method in ("INVITE", "SUBSCRIBE", "REFER"):
        lines.append("Contact: <sip:alice@%s>" % via_host_port)
    lines += _hdr_lines(headers)
    if body and not any(l.lower().startswith(("content-type:", "c:")) for l in _hdr_lines(headers)):
        lines.append("Content-Type: application/sdp")
    b = crlf(body) if body else ""
    lines.append("Content-Length: %d" % len(b.encode("utf-8")))
    return "\r\n".join(lines) + "\r\n\r\n" + b


def _copy(req, name):
    return ["%s: %s" % (n, v) for n, v in req.headers if hname(n) == hname(name)]


def make_ack(req, reply):
    """ACK for a non-2xx final reply (RFC 3261 §17.1.1.3): same branch and Request-URI, To from
    the reply, Route copied."""
    req = req if isinstance(req, Msg) else Msg(to_bytes(req))
    reply = reply if isinstance(reply, Msg) else Msg(to_bytes(reply))
    lines = ["ACK %s SIP/2.0" % req.ruri, "Via: %s" % req.hdr("Via")]
    lines += _copy(req, "Route")
    lines += ["Max-Forwards: 70", "From: %s" % req.hdr("From"), "To: %s" % reply.hdr("To"),
              "Call-ID: %s" % req.call_id, "CSeq: %d ACK" % req.cseq[0], "Content-Length: 0"]
    return "\r\n".join(lines) + "\r\n\r\n"


def make_cancel(req):
    """CANCEL of a request (RFC 3261 §9.1): same Request-URI, top Via, From, To, Call-ID and
    CSeq number, Route copied."""
    req = req if isinstance(req, Msg) else Msg(to_bytes(req))
    lines = ["CANCEL %s SIP/2.0" % req.ruri, "Via: %s" % req.hdr("Via")]
    lines += _copy(req, "Route")
    lines += ["Max-Forwards: 70", "From: %s" % req.hdr("From"), "To: %s" % req.hdr("To"),
              "Call-ID: %s" % req.call_id, "CSeq: %d CANCEL" % req.cseq[0], "Content-Length: 0"]
    return "\r\n".join(lines) + "\r\n\r\n"


AUTO = object()


def build_reply(req, code, reason="", headers=None, body="", to_tag=AUTO):
    """Response text to req per RFC 3261 §8.2.6: every Via in order, From, To (a tag added on
    codes above 100 unless to_tag is None or the To has one), Call-ID, CSeq; Record-Route copied
    into dialog-creating replies (§12.1.1)."""
    reason = reason or REASONS.get(code, "Unknown")
    lines = ["SIP/2.0 %d %s" % (code, reason)]
    lines += _copy(req, "Via")
    lines.append("From: %s" % req.hdr("From"))
    to = req.hdr("To") or ""
    if code > 100 and to_tag is not None and param(to, "tag") is None:
        to += ";tag=%s" % (rand_token(8) if to_tag is AUTO else to_tag)
    lines.append("To: %s" % to)
    lines.append("Call-ID: %s" % req.call_id)
    lines.append("CSeq: %s" % req.hdr("CSeq"))
    if req.method in ("INVITE", "SUBSCRIBE") and 100 < code < 300:
        lines += _copy(req, "Record-Route")
    extra = _hdr_lines(headers)
    lines += extra
    if code < 300 and 100 < code and req.method == "INVITE" and \
            not any(l.lower().startswith(("contact:", "m:")) for l in extra):
        lines.append("Contact: <sip:uas@%s>" % LOCAL)
    b = crlf(body) if body else ""
    if b and not any(l.lower().startswith(("content-type:", "c:")) for l in extra):
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(b.encode("utf-8")))
    return "\r\n".join(lines) + "\r\n\r\n" + b


def via_target(via):
    """Where a response to this Via value goes (RFC 3261 §18.2.2, RFC 3581 rport)."""
    m = re.match(r"\s*SIP\s*/\s*2\.0\s*/\s*(\w+)\s+([^;\s]+)", via or "", re.I)
    if not m:
        return None
    sent_by = m.group(2)
    if sent_by.startswith("["):
        host, _, rest = sent_by[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = sent_by.partition(":")
    rec = param(via, "received")
    rport = param(via, "rport")
    host = rec or host
    port = int(rport) if rport else int(port) if port.isdigit() else 5060
    return (host, port)


# ---------------------------------------------------------------- peers

_open_peers = []


class _Peer:
    def __init__(self):
        self.q = queue.Queue()
        self.log = []              # [(monotonic time, Msg or event string)]
        self._stop = False
        self._lock = threading.Lock()
        _open_peers.append(self)

    def _got(self, msg):
        with self._lock:
            self.log.append((msg.time, msg))
        self.q.put(msg)

    def _event(self, text):
        with self._lock:
            self.log.append((time.monotonic(), text))

    host = LOCAL

    def hostport(self):
        return hostport(self.host, self.port)

    @property
    def addr(self):
        return (self.host, self.port)

    def recv(self, timeout=2):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.q.get_nowait())
            except queue.Empty:
                return out

    @staticmethod
    def _pred(what):
        if what is None:
            return lambda m: True
        if callable(what):
            return what
        if isinstance(what, int):
            return lambda m: m.status == what
        if isinstance(what, str):
            return lambda m: m.method == what
        raise TypeError("expect: status int, method str or predicate")

    def dump_log(self):
        t0 = self.log[0][0] if self.log else 0
        out = ["%s on port %d received %d item(s):" % (type(self).__name__, self.port, len(self.log))]
        for t, m in self.log:
            if isinstance(m, Msg):
                out.append("--- +%.3fs from %s\n%s" % (t - t0, m.src, m.dump()))
            else:
                out.append("--- +%.3fs %s" % (t - t0, m))
        return "\n".join(out)

    def expect(self, what=None, timeout=2):
        pred = self._pred(what)
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            m = self.recv(max(left, 0)) if left > 0 else None
            if m is None:
                raise AssertionError("expected %s within %.1fs, got none\n%s" %
                                     (_describe(what), timeout, self.dump_log()))
            if pred(m):
                return m

    def expect_nothing(self, t=0.5, what=None):
        pred = self._pred(what)
        end = time.monotonic() + t
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            m = self.recv(left)
            if m is not None and pred(m):
                raise AssertionError("expected nothing%s for %.1fs, got %r\n%s" %
                                     ("" if what is None else " matching " + _describe(what), t, m,
                                      self.dump_log()))

    def close(self):
        self._stop = True


def _describe(what):
    if what is None:
        return "any message"
    if isinstance(what, int):
        return "a %d reply" % what
    if isinstance(what, str):
        return "a %s request" % what
    return getattr(what, "__name__", "a matching message")


class UdpPeer(_Peer):
    """A UDP endpoint on 127.0.0.1 (port 0: the kernel picks)."""

    def __init__(self, port=0, target=None, host=LOCAL):
        super().__init__()
        self.host = host
        self.sock = socket.socket(family(host), socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.target = target
        self._th = threading.Thread(target=self._reader, daemon=True)
        self._th.start()

    def _reader(self):
        while not self._stop:
            try:
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if not r:
                    continue
                data, src = self.sock.recvfrom(65536)
            except (OSError, ValueError):
                return
            self._got(Msg(data, src=src))

    def send(self, text_or_bytes, addr=None, auto_cl=False):
        addr = addr or self.target
        assert addr, "UdpPeer.send: no address"
        data = to_bytes(text_or_bytes, auto_cl)
        self.sock.sendto(data, addr)
        return data

    def reply(self, req, code, reason="", headers=None, body="", to_tag=AUTO, addr=None):
        text = build_reply(req, code, reason, headers, body, to_tag)
        self.send(text, addr or via_target(req.hdr("Via")) or req.src)
        return text

    def close(self):
        super().close()
        try:
            self.sock.close()
        except OSError:
            pass


def split_stream(buf):
    """Frame SIP messages out of a TCP byte buffer (RFC 3261 §18.3: Content-Length, 0 when
    absent). Returns (messages, rest). Leading CRLFs (keep-alives, RFC 5626) are skipped."""
    out = []
    while True:
        while buf[:2] == b"\r\n":
            buf = buf[2:]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end].decode("latin-1")
        m = re.search(r"^(?:content-length|l)[ \t]*:[ \t]*(\d+)", head, re.I | re.M)
        cl = int(m.group(1)) if m else 0
        total = end + 4 + cl
        if len(buf) < total:
            return out, buf
        out.append(buf[:total])
        buf = buf[total:]


class TcpPeer(_Peer):
    """TcpPeer(connect=(host, port)): one connection to the proxy. TcpPeer(): listens on
    127.0.0.1 (.port) and accepts the proxy's connections. Either way every framed message goes
    to the queue with .conn set to its socket."""

    def __init__(self, connect=None, port=0, timeout=3, host=LOCAL):
        super().__init__()
        self.host = connect[0] if connect else host
        self.conns = []
        self.closed = set()        # sockets the remote side closed
        self.listener = None
        self.conn = None
        if connect:
            s = socket.create_connection(connect, timeout=timeout)
            s.settimeout(None)
            self.conn = s
            self.conns.append(s)
            self.port = s.getsockname()[1]
        else:
            self.listener = socket.socket(family(host), socket.SOCK_STREAM)
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind((host, port))
            self.listener.listen(16)
            self.port = self.listener.getsockname()[1]
        self._bufs = {}
        self._th = threading.Thread(target=self._reader, daemon=True)
        self._th.start()

    def _reader(self):
        while not self._stop:
            rs = [c for c in self.conns if c not in self.closed]
            if self.listener:
                rs.append(self.listener)
            try:
                r, _, _ = select.select(rs, [], [], 0.1)
            except (OSError, ValueError):
                if self._stop:
                    return
                time.sleep(0.05)
                continue
            for s in r:
                if s is self.listener:
                    try:
                        c, a = s.accept()
                    except OSError:
                        continue
                    self.conns.append(c)
                    self.conn = c
                    self._event("accepted connection from %s" % hostport(a[0], a[1]))
                    continue
                try:
                    data = s.recv(65536)
                except OSError as e:
                    data = b""
                    self._event("recv error %s" % e)
                if not data:
                    self.closed.add(s)
                    self._event("connection closed by remote")
                    continue
                buf = self._bufs.get(s, b"") + data
                msgs, rest = split_stream(buf)
                self._bufs[s] = rest
                try:
                    src = s.getpeername()
                except OSError:
                    src = None
                for m in msgs:
                    self._got(Msg(m, src=src, conn=s))

    def send(self, text_or_bytes, addr=None, auto_cl=False, conn=None):
        c = conn or self.conn
        if addr is not None and conn is None:
            c = socket.create_connection(addr, timeout=3)
            c.settimeout(None)
            self.conns.append(c)
            self.conn = c
        assert c is not None, "TcpPeer.send: no connection"
        data = to_bytes(text_or_bytes, auto_cl)
        c.sendall(data)
        return data

    def reply(self, req, code, reason="", headers=None, body="", to_tag=AUTO):
        text = build_reply(req, code, reason, headers, body, to_tag)
        self.send(text, conn=req.conn)
        return text

    def wait_closed(self, timeout=5, conn=None):
        c = conn or self.conn
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if c in self.closed:
                return True
            time.sleep(0.02)
        return c in self.closed

    def close(self):
        super().close()
        for c in self.conns + ([self.listener] if self.listener else []):
            try:
                c.close()
            except OSError:
                pass


# ---------------------------------------------------------------- the proxy

_running = []


def _cleanup():
    for p in list(_running):
        p.kill()
    for peer in list(_open_peers):
        peer.close()


atexit.register(_cleanup)

PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")


class ProxyError(AssertionError):
    pass


class Proxy:
    def __init__(self, cfg_text, name=None, workers=1, env=None, subst=None, args=(), ready=True,
                 ready_timeout=15, cwd=REPO):
        self.name = name or "sy"
        self.ports = {}
        subst = dict(subst or {})

        def sub(m):
            k = m.group(1)
            if k in subst:
                return str(subst[k])
            if re.fullmatch(r"TCPPORT\d*", k) or re.fullmatch(r"PORT\d*", k):
                if k not in self.ports:
                    self.ports[k] = free_port("tcp" if k.startswith("TCP") else "udp")
                return str(self.ports[k])
            raise KeyError("cfg placeholder {%s} has no value (pass subst=)" % k)

        cfg = PLACEHOLDER.sub(sub, cfg_text)
        if workers is not None and not re.search(r"^\s*(workers|children)\s*=", cfg, re.M):
            cfg = "workers = %d\n" % workers + cfg
        self.cfg_text = cfg
        # the first udp/tcp listen of the final text (placeholders or literal ports)
        listens = [(t, h.strip("[]"), int(p)) for t, h, p in re.findall(
            r"^\s*listen\s*=\s*(udp|tcp):(\[[^\]]*\]|[^:\s]+):(\d+)", cfg, re.M)]
        udp = next(((h, p) for t, h, p in listens if t == "udp"), None)
        tcp = next(((h, p) for t, h, p in listens if t == "tcp"), None)
        self.port = udp[1] if udp else None
        self.tcpport = tcp[1] if tcp else None
        self.addr = udp if udp else None                # (host, port) of the first UDP listen
        self.tcpaddr = tcp if tcp else None
        self.dir = tempfile.mkdtemp(prefix="sy-%s-" % self.name)
        self.cfg_path = os.path.join(self.dir, self.name + ".cfg")
        with open(self.cfg_path, "w") as f:
            f.write(cfg)
        self._err_path = os.path.join(self.dir, "stderr")
        self._out_path = os.path.join(self.dir, "stdout")
        self._err = open(self._err_path, "wb")
        self._out = open(self._out_path, "wb")
        penv = dict(os.environ)
        penv.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        penv.update(env or {})
        self.argv = [sy_bin()] + list(args) + ["-f", self.cfg_path]
        self.proc = subprocess.Popen(self.argv, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=penv, cwd=cwd)
        self.stopped = False
        _running.append(self)
        if ready:
            try:
                self.wait_ready(ready_timeout)
            except BaseException:
                self.kill()
                raise

    # ------------------------------------------------------------ lifecycle
    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        with open(self._err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout_text(self):
        with open(self._out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_lines(self, *levels):
        """stderr lines logged at these levels ("ERROR", "WARNING", ...; default ERROR and
        worse): a clean run of good traffic has none."""
        levels = levels or ("ALERT", "CRIT", "ERROR")
        return [l for l in self.stderr_text().split("\n") if l.split(":", 1)[0] in levels]

    def _tail(self, n=60):
        lines = self.stderr_text().rstrip("\n").split("\n")
        return "\n".join(lines[-n:])

    def wait_ready(self, timeout=15):
        """Readiness: OPTIONS with Max-Forwards: 0 gets a reply (RFC 3261 §16.3 step 3: 483;
        §11 lets a proxy answer an OPTIONS itself)."""
        end = time.monotonic() + timeout
        if self.port:
            probe, kind, target = UdpPeer(host=LOCAL6 if ":" in self.addr[0] else LOCAL), "udp", self.addr
        elif self.tcpport:
            probe, kind, target = None, "tcp", self.tcpaddr
        else:
            raise ProxyError("Proxy: cfg has no {PORT} or {TCPPORT} listen to probe")
        try:
            while time.monotonic() < end:
                if not self.alive():
                    raise ProxyError("switchyard exited with %s before it was ready:\n%s" %
                                     (self.proc.returncode, self._tail()))
                if kind == "tcp":
                    try:
                        probe = TcpPeer(connect=target, timeout=1)
                    except OSError:
                        time.sleep(0.1)
                        continue
                hp = probe.hostport()
                probe.send(make_request("OPTIONS", "sip:ping@%s" % hostport(*target), hp,
                                        max_forwards=0, transport=kind.upper()), target)
                m = probe.recv(0.3)
                if kind == "tcp":
                    probe.close()
                if m is not None and m.status is not None:
                    return m.status
            raise ProxyError("switchyard not ready after %.0fs (no reply to OPTIONS with "
                             "Max-Forwards: 0 on %s %s:%d):\n%s" % (timeout, kind, target[0],
                                                                    target[1], self._tail()))
        finally:
            if probe is not None:
                probe.close()

    def stop(self, timeout=15, check=True):
        """SIGTERM, wait, assert a clean exit 0 without sanitizer reports; returns stderr."""
        if self.stopped:
            return self.stderr_text()
        self.stopped = True
        if self in _running:
            _running.remove(self)
        rc = self.proc.poll()
        was_dead = rc is not None
        if not was_dead:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close_files()
                if check:
                    raise ProxyError("switchyard did not exit %ds after SIGTERM:\n%s" %
                                     (timeout, self._tail()))
                return self.stderr_text()
        self._close_files()
        err = self.stderr_text()
        if check:
            bad = [m for m in SANITIZER_MARKS if m in err]
            if bad:
                raise ProxyError("sanitizer report (%s) in switchyard stderr:\n%s" %
                                 (", ".join(bad), err[-12000:]))
            if was_dead:
                raise ProxyError("switchyard had already exited (%s) before stop():\n%s" %
                                 (rc, self._tail()))
            if rc != 0:
                raise ProxyError("switchyard exited %s after SIGTERM:\n%s" % (rc, self._tail()))
        return err

    def kill(self):
        if self in _running:
            _running.remove(self)
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()

    def _close_files(self):
        for f in (self._err, self._out):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.stop()
        else:
            sys.stderr.write("---- switchyard stderr (tail) ----\n%s\n----\n" % self._tail())
            self.kill()
        return False

    # ------------------------------------------------------------ introspection
    STATS_RE = re.compile(r"stats:\s*(.*)$")

    def stats(self, timeout=5):
        """SIGUSR1 -> the new `stats: key=value ...` line on stderr as a dict."""
        def complete_stats_lines():
            # the last element after split is a partial line (or ""): never parse it
            return [l for l in self.stderr_text().split("\n")[:-1] if self.STATS_RE.search(l)]
        before = len(complete_stats_lines())
        self.proc.send_signal(signal.SIGUSR1)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = complete_stats_lines()
            if len(lines) > before:
                d = {}
                for kv in self.STATS_RE.search(lines[before]).group(1).split():
                    k, _, v = kv.partition("=")
                    try:
                        d[k] = int(v)
                    except ValueError:
                        d[k] = v
                return d
            if not self.alive():
                break
            time.sleep(0.05)
        raise ProxyError("no new 'stats:' line on stderr %.0fs after SIGUSR1:\n%s" %
                         (timeout, self._tail()))

    def wait_stat(self, key="tm_active", want=0, timeout=40, every=0.5):
        """Poll stats() until stats[key] == want (e.g. no transaction left once timers J/K/D
        ran out); returns the stats, or raises with the last ones seen."""
        end = time.monotonic() + timeout
        last = None
        while True:
            last = self.stats()
            if last.get(key) == want:
                return last
            if time.monotonic() >= end:
                raise ProxyError("stats %s stayed %r, want %r after %.0fs: %r" %
                                 (key, last.get(key), want, timeout, last))
            time.sleep(every)


def check_config(cfg_text, args=("-c",), subst=None, timeout=30):
    """Run SY_BIN -c -f <cfg> on cfg_text (placeholders as for Proxy, ports not bound).
    Returns (rc, output, path) where output is stdout + stderr."""
    d = tempfile.mkdtemp(prefix="sy-cfg-")
    path = os.path.join(d, "check.cfg")
    subst = dict(subst or {})
    cfg = PLACEHOLDER.sub(lambda m: str(subst[m.group(1)]) if m.group(1) in subst
                          else str(free_port()), cfg_text)
    with open(path, "w") as f:
        f.write(cfg)
    p = subprocess.run([sy_bin()] + list(args) + ["-f", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=timeout, cwd=REPO)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace"), path


# ---------------------------------------------------------------- SIPp

def scenario(name):
    return os.path.join(SCENARIOS, name if name.endswith(".xml") else name + ".xml")


class SippResult:
    def __init__(self, rc, stats, out, err):
        self.rc, self.stats, self.out, self.err = rc, stats, out, err

    def count(self, key):
        """A cumulative counter of the stat file, e.g. count("SuccessfulCall")."""
        v = self.stats.get(key + "(C)", self.stats.get(key))
        try:
            return int(v)
        except (TypeError, ValueError):
            return None

    def __repr__(self):
        return "<sipp rc=%s ok=%s failed=%s>" % (self.rc, self.count("SuccessfulCall"),
                                                 self.count("FailedCall"))

    def dump(self):
        return "sipp rc=%s\nstats=%s\nstdout:\n%s\nstderr:\n%s" % (
            self.rc, {k: v for k, v in self.stats.items() if k.endswith("(C)")},
            self.out[-4000:], self.err[-4000:])


def _sipp_argv(args, d):
    stf = os.path.join(d, "stat.csv")
    argv = ["sipp"] + [str(a) for a in args]
    if "-trace_stat" not in argv:
        argv += ["-trace_stat", "-stf", stf, "-fd", "1"]
    if "-trace_err" not in argv:
        argv += ["-trace_err", "-error_file", os.path.join(d, "errors.log")]
    return argv, stf


def _parse_stf(path):
    try:
        with open(path, encoding="latin-1") as f:
            rows = [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return {}
    if len(rows) < 2:
        return {}
    keys = rows[0].split(";")
    vals = rows[-1].split(";")
    return dict(zip(keys, vals))


class SippProc:
    """sipp in the background (e.g. a uas); output goes to files in a temp dir."""

    def __init__(self, args, cwd=None):
        self.dir = tempfile.mkdtemp(prefix="sy-sipp-")
        cwd = cwd or self.dir       # sipp's own trace files (-trace_msg ...) land there
        self.argv, self.stf = _sipp_argv(args, self.dir)
        self._o = open(os.path.join(self.dir, "out"), "wb")
        self._e = open(os.path.join(self.dir, "err"), "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self._o, stderr=self._e,
                                     stdin=subprocess.DEVNULL, cwd=cwd)
        _running.append(self)

    def _result(self, rc):
        self._o.close()
        self._e.close()
        rd = lambda n: open(os.path.join(self.dir, n), "rb").read().decode("utf-8", "replace")
        err = rd("err")
        try:
            err += rd("errors.log")
        except OSError:
            pass
        return SippResult(rc, _parse_stf(self.stf), rd("out"), err)

    def wait(self, timeout=60):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        if self in _running:
            _running.remove(self)
        return self._result(rc)

    def kill(self):
        if self in _running:
            _running.remove(self)
        if self.proc.poll() is None:
            # SIGUSR1 makes sipp dump its stats and exit cleanly; SIGKILL if it lingers
            self.proc.send_signal(signal.SIGUSR1)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.kill()
        return self._result(self.proc.returncode)


def sipp(args, timeout=60, cwd=None):
    """Run sipp to its end; SippResult with rc None on timeout (sipp killed)."""
    return SippProc(args, cwd=cwd).wait(timeout)


def _scn_args(scn):
    # a built-in (uac, uas ...) or a file of scenarios/ (name with or without .xml)
    if os.path.exists(scenario(scn)):
        return ["-sf", scenario(scn)]
    return ["-sn", scn]


def _tflag(transport):
    return ["-t", "t1" if transport.lower() == "tcp" else "u1"]


def port_bound(port, transport="udp"):
    """True when some socket of this network namespace is bound to 127.0.0.1:port (UDP) or
    listens there (TCP), read from /proc/net (no probe traffic)."""
    want = "0100007F:%04X" % port
    name = "tcp" if transport.lower() == "tcp" else "udp"
    try:
        with open("/proc/net/" + name) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == want and (name == "udp" or fields[3] == "0A"):   # 0A: LISTEN
                    return True
    except OSError:
        pass
    return False


def wait_bound(port, transport="udp", timeout=5, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if port_bound(port, transport):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def sipp_uas(scn="uas_180_200", calls=1, transport="udp", port=None, args=()):
    """A SIPp callee in the background on 127.0.0.1:.port (UDP and TCP free). It exits after
    `calls` calls; .wait(t) -> SippResult. Scenario files: uas_180_200, uas_486, uas_silent
    (-d ms of silence via args), uas_180_cancel."""
    port = port or free_port("both")
    p = SippProc(_scn_args(scn) + ["-i", LOCAL, "-p", port, "-m", calls] + _tflag(transport) +
                 list(args))
    p.port = port
    p.hostport = "%s:%d" % (LOCAL, port)
    # a caller started before the callee listens would fail to connect (TCP) or lose its
    # first INVITE to an ICMP error (UDP)
    if not wait_bound(port, transport, proc=p.proc):
        res = p.stop()
        raise AssertionError("sipp uas did not bind %s port %d:\n%s" % (transport, port, res.dump()))
    return p


def sipp_uac(scn, target, calls=1, rate=10, transport="udp", args=(), timeout=60):
    """A SIPp caller to target (host, port) until `calls` calls ended; SippResult. Scenario
    files: uac_invite_bye (follows Record-Route), uac_486, uac_408, uac_cancel (-d ms ringing
    before the CANCEL). rc 0 and count("SuccessfulCall") == calls mean every call went as
    scripted."""
    dst = "%s:%d" % tuple(target)
    return sipp(_scn_args(scn) + [dst, "-i", LOCAL, "-p", free_port("both"), "-m", calls,
                                  "-r", rate, "-timeout", "%ds" % max(timeout - 5, 5),
                                  "-timeout_error"] + _tflag(transport) + list(args),
                timeout=timeout)


# ---------------------------------------------------------------- network namespace

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def enter_netns():
    """Private network namespace for this process (threads started before keep the old one:
    call this first). Raises OSError if neither root nor user namespaces allow it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        if e != errno.EPERM:
            raise OSError(e, "unshare(CLONE_NEWNET)")
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "unshare(CLONE_NEWUSER|CLONE_NEWNET)")
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write("0 %d 1" % uid)
        with open("/proc/self/gid_map", "w") as f:
            f.write("0 %d 1" % gid)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))
    finally:
        s.close()
    _given_ports.clear()
    # the reserved ports are ours in here; keep the ephemeral allocator away from them anyway


# ---------------------------------------------------------------- running a file directly

def run_module(g, argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or sorted(
        n for n in g if n.startswith("test_") and callable(g[n]))
    npass = nfail = 0
    for n in names:
        t0 = time.monotonic()
        try:
            g[n]()
            npass += 1
            print("ok   %s (%.1fs)" % (n, time.monotonic() - t0))
        except Exception:
            nfail += 1
            print("FAIL %s (%.1fs)" % (n, time.monotonic() - t0))
            traceback.print_exc()
        finally:
            _cleanup()
            _open_peers.clear()
    print("%d passed, %d failed" % (npass, nfail))
    sys.exit(1 if nfail or not npass else 0)
