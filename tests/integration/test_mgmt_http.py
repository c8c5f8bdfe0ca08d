"""test_mgmt_http.py: the management listener on the wire (docs/mgmt.md). switchyard runs
with httpd + mi_http + prometheus on a free TCP port next to its SIP listen; the tests drive
SIP through it (a REGISTER, INVITEs answered 486 by a scripted UAS, OPTIONS answered 200, a
malformed request; forward() and drop statelessly; an INVITE nobody answers, 408) and then read POST /mi get_statistics and GET /metrics, asserting that each
counter moved by exactly what was sent; ul_dump shows the binding; JSON-RPC errors (-32700,
-32601, -32602), HTTP errors (404, 405, 413, 415, 400, 501), pipelining, /health; a client that
holds a half request open or sends garbage does not delay SIP, and is cut at conn_timeout with
a 408; the 33rd connection gets 503; switchyard-ctl end to end; bad httpd modparams are load errors."""
import json
import os
import re
import socket
import subprocess
import time

from harness import (LOCAL, Proxy, UdpPeer, check_config, free_port, make_ack, make_request,
                     rand_token, sy_bin)

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
loadmodule "prometheus.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", {HTTP})
modparam("httpd", "conn_timeout", 2)
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (!t_relay()) {
        sl_reply_error();
    }
}
"""


def http(port, method, path, body=None, ctype="application/json", extra="", timeout=5):
    """one request on its own connection: (status, headers dict, body bytes)"""
    s = socket.create_connection((LOCAL, port), timeout=timeout)
    data = body.encode() if isinstance(body, str) else (body or b"")
    head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n" % (method, path, LOCAL, port)
    if body is not None:
        head += "Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, len(data))
    s.sendall((head + extra + "\r\n").encode() + data)
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    return parse_response(raw)


def parse_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", len(body)))
    return status, hdrs, body[:n]


def mi(port, method, params=None, rid=1):
    req = {"jsonrpc": "2.0", "method": method, "id": rid}
    if params is not None:
        req["params"] = params
    st, _, body = http(port, "POST", "/mi", json.dumps(req))
    assert st == 200, (st, body)
    return json.loads(body)


def stats(port, *names):
    r = mi(port, "get_statistics", {"statistics": list(names) or ["all"]})
    assert "result" in r, r
    return r["result"]


def metrics(port):
    st, hdrs, body = http(port, "GET", "/metrics")
    assert st == 200, st
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4"), hdrs
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return body.decode(), out


def start(name, workers=2):
    port = free_port("tcp")
    return Proxy(CFG, name=name, workers=workers, subst={"HTTP": port}), port


def invite(caller, uas, px, code):
    cid = rand_token()
    inv = make_request("INVITE", "sip:bob@127.0.0.1:%d" % uas.port, caller.hostport(),
                       call_id=cid)
    caller.send(inv, addr=px.addr)
    req = uas.expect(lambda m: m.is_request and m.method == "INVITE" and m.call_id == cid)
    uas.reply(req, code)
    r = caller.expect(lambda m: not m.is_request and m.call_id == cid and m.status >= 200)
    assert r.status == code, r.text
    caller.send(make_ack(inv, r), addr=px.addr)
    uas.expect(lambda m: m.is_request and m.method == "ACK" and m.call_id == cid)


def options(caller, uas, px):
    cid = rand_token()
    caller.send(make_request("OPTIONS", "sip:bob@127.0.0.1:%d" % uas.port, caller.hostport(),
                             call_id=cid), addr=px.addr)
    req = uas.expect(lambda m: m.is_request and m.call_id == cid)
    uas.reply(req, 200)
    r = caller.expect(lambda m: not m.is_request and m.call_id == cid)
    assert r.status == 200, r.text


def register(ua, px, user):
    cid = rand_token()
    ua.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.port, ua.hostport(), call_id=cid,
                         to="<sip:%s@127.0.0.1>" % user, from_="<sip:%s@127.0.0.1>" % user,
                         contact="<sip:%s@%s>" % (user, ua.hostport()),
                         headers=["Expires: 600", "User-Agent: mgmt \"test\""]), addr=px.addr)
    r = ua.expect(lambda m: not m.is_request and m.call_id == cid)
    assert r.status == 200, r.text


def test_counters_move_exactly():
    px, port = start("mgmt-counters")
    with px:
        caller, uas = UdpPeer(), UdpPeer()
        assert mi(port, "reset_statistics", {"statistics": ["all"]})["result"] == "OK"
        s0 = stats(port)
        assert all(v == 0 for k, v in s0.items() if not k.startswith(("usrloc:", "tm:inuse"))), s0
        register(caller, px, "alice")
        for _ in range(3):
            invite(caller, uas, px, 486)
        for _ in range(2):
            options(caller, uas, px)
        # a request that does not parse (CSeq number): 400 from the parser, not the script
        req = make_request("INVITE", "sip:x@127.0.0.1", caller.hostport(), cseq=1)
        caller.send(req.replace("CSeq: 1 INVITE", "CSeq: x INVITE"), addr=px.addr)
        assert caller.expect(400).status == 400
        want = {
            "core:rcv_requests": 1 + 3 * 2 + 2,   # REGISTER, INVITE + ACK each, OPTIONS
            "core:rcv_replies": 3 + 2,
            "core:bad_msg_hdr": 1,
            "core:fwd_requests": 0, "core:fwd_replies": 0,
            "core:drop_requests": 0, "core:drop_replies": 0,
            "sl:2xx_replies": 1, "sl:sent_replies": 1, "sl:sent_err_replies": 0,
            "tm:UAS_transactions": 5, "tm:UAC_transactions": 5,
            "tm:received_replies": 5,
            "tm:relayed_replies": 5, "tm:relayed_4xx_replies": 3, "tm:relayed_2xx_replies": 2,
            "tm:relayed_1xx_replies": 0,
            "tm:local_replies": 3,               # the three 100 Trying
            "tm:local_408_replies": 0,
            "tm:4xx_transactions": 3, "tm:2xx_transactions": 2,
            "registrar:accepted_regs": 1, "registrar:rejected_regs": 0,
            "usrloc:location-contacts": 1, "usrloc:registered_users": 1,
        }
        got = stats(port)
        diff = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        assert not diff, diff
        # a group and a single name
        assert set(stats(port, "registrar:")) == {"registrar:accepted_regs",
                                                  "registrar:rejected_regs"}
        assert stats(port, "core:rcv_replies") == {"core:rcv_replies": 5}
        # the same numbers in Prometheus form
        text, m = metrics(port)
        assert m["switchyard_core_rcv_requests_total"] == want["core:rcv_requests"]
        assert m["switchyard_tm_relayed_4xx_replies_total"] == 3
        assert m["switchyard_usrloc_location_contacts"] == 1
        assert "# TYPE switchyard_core_rcv_requests_total counter" in text
        assert "# TYPE switchyard_tm_inuse_transactions gauge" in text
        for name in re.findall(r"^# TYPE (\S+) counter$", text, re.M):
            assert name.endswith("_total"), name
        assert len(re.findall(r"^# HELP ", text, re.M)) == len(re.findall(r"^# TYPE ", text, re.M))
        assert m['switchyard_worker_heartbeat_age_seconds{worker="1"}'] < 3
        # a reset of one counter leaves the others
        assert mi(port, "reset_statistics", {"statistics": ["core:rcv_replies"]})["result"] == "OK"
        got = stats(port, "core:")
        assert got["core:rcv_replies"] == 0 and got["core:rcv_requests"] == 9, got


def test_ul_dump_show_rm_ps_uptime_which():
    px, port = start("mgmt-ul")
    with px:
        ua = UdpPeer()
        register(ua, px, "carol")
        r = mi(port, "ul_dump")["result"]
        aors = r["Domains"][0]["AORs"]
        assert [a["AOR"] for a in aors] == ["sip:carol@127.0.0.1"], r
        c = aors[0]["Contacts"]
        assert len(c) == 1 and c[0]["Contact"] == "sip:carol@%s" % ua.hostport(), c
        assert 590 <= c[0]["Expires"] <= 600, c
        assert c[0]["User-agent"] == 'mgmt "test"', c
        # one AOR: named or positional, with or without the scheme
        r = mi(port, "ul_show_contact", {"table_name": "location", "aor": "carol@127.0.0.1"})
        assert [x["Contact"] for x in r["result"]["Contacts"]] == [c[0]["Contact"]], r
        r = mi(port, "ul_show_contact", ["location", "sip:carol@127.0.0.1"])
        assert len(r["result"]["Contacts"]) == 1, r
        r = mi(port, "ul_show_contact", ["location", "nobody@127.0.0.1"])
        assert r["error"] == {"code": 404, "message": "AOR not found"}, r
        r = mi(port, "ul_show_contact", ["nolocation", "carol@127.0.0.1"])
        assert r["error"]["code"] == -32602, r
        ps = mi(port, "ps")["result"]["Processes"]
        assert [p["Type"] for p in ps] == ["main", "SIP worker 0", "SIP worker 1",
                                           "HTTPD 127.0.0.1:%d" % port], ps
        assert all(p["PID"] > 0 for p in ps), ps
        up = mi(port, "uptime")["result"]
        assert re.match(r"^\d+ \[sec\]$", up["Up time"]), up
        assert "get_statistics" in mi(port, "which")["result"]
        assert mi(port, "version")["result"]["Server"].startswith("switchyard")
        # ul_rm: gone from the table (and from lookups)
        assert mi(port, "ul_rm", {"table_name": "location", "aor": "carol@127.0.0.1"})[
            "result"] == "OK"
        assert mi(port, "ul_dump")["result"]["Domains"][0]["AORs"] == []
        assert mi(port, "ul_rm", ["location", "carol@127.0.0.1"])["error"]["code"] == 404
        assert stats(port, "usrloc:location-contacts") == {"usrloc:location-contacts": 0}


def test_errors():
    px, port = start("mgmt-errors", workers=1)
    with px:
        st, _, body = http(port, "POST", "/mi", '{"jsonrpc":"2.0","method":"uptime",')
        assert st == 200 and json.loads(body)["error"]["code"] == -32700, body
        assert json.loads(body)["id"] is None
        r = mi(port, "no_such_command", rid="abc")
        assert r["error"]["code"] == -32601 and r["id"] == "abc", r
        r = mi(port, "get_statistics", {"statistics": ["core:nope"]})
        assert r["error"]["code"] == -32602, r
        r = mi(port, "reset_statistics", {"statistics": ["tm:inuse_transactions"]})
        assert r["error"]["code"] == -32602, r
        st, _, body = http(port, "POST", "/mi", '[{"jsonrpc":"2.0","method":"ps","id":1}]')
        assert json.loads(body)["error"]["code"] == -32600, body
        # a notification runs and gets 204
        st, _, body = http(port, "POST", "/mi", '{"jsonrpc":"2.0","method":"ps"}')
        assert st == 204 and body == b"", (st, body)
        assert http(port, "GET", "/nothing")[0] == 404
        st, hdrs, _ = http(port, "GET", "/mi")
        assert st == 405 and hdrs["allow"] == "POST", hdrs
        assert http(port, "POST", "/metrics", "x")[0] == 405
        assert http(port, "POST", "/mi", "{}", ctype="text/plain")[0] == 415
        assert http(port, "POST", "/mi", "x" * 2000)[0] == 413
        assert http(port, "PUT", "/mi", "{}")[0] == 501
        assert http(port, "POST", "/mi", "{}", extra="Transfer-Encoding: chunked\r\n")[0] == 400
        st, _, body = http(port, "GET", "/health")
        assert st == 200 and json.loads(body)["status"] == "ok", body
        st, hdrs, body = http(port, "HEAD", "/health")
        assert st == 200 and body == b"" and int(hdrs["content-length"]) > 0
        # garbage gets 400 and the connection closed
        s = socket.create_connection((LOCAL, port), timeout=5)
        s.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage")
        raw = s.recv(4096)
        assert raw.startswith(b"HTTP/1.1 400 "), raw
        assert s.recv(4096) == b""
        s.close()
        px.stop()


def test_pipelining_keep_alive():
    px, port = start("mgmt-pipe", workers=1)
    with px:
        s = socket.create_connection((LOCAL, port), timeout=5)
        body = '{"jsonrpc":"2.0","method":"version","id":7}'
        req = ("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
               "POST /mi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n%s"
               "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" % (len(body), body))
        # in two writes, the cut inside the second request's body
        cut = req.index(body) + 10
        s.sendall(req[:cut].encode())
        time.sleep(0.2)
        s.sendall(req[cut:].encode())
        raw = b""
        while raw.count(b"HTTP/1.1 ") < 3 or not raw.endswith(b"\n"):
            chunk = s.recv(65536)
            assert chunk, raw
            raw += chunk
        parts = re.split(rb"(?=HTTP/1\.1 \d{3} )", raw)
        codes = [int(p.split()[1]) for p in parts if p]
        assert codes == [200, 200, 404], raw
        assert b'"id":7' in raw
        # still open (keep-alive): one more request on it
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        rest = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 200 "), rest
        s.close()


def test_head_error_answers_carry_no_body():
    """RFC 9110 §9.3.2: no content in the answer to a HEAD. The 404 and 405 answers carried
    their text anyway, so a keep-alive client read it as the start of the next response
    (here the body "404 Not Found" took the place of the /health answer's status line)."""
    px, port = start("mgmt-head", workers=1)
    with px:
        s = socket.create_connection((LOCAL, port), timeout=5)
        s.sendall(b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"HEAD /mi HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
        s.close()
        # three heads without content, then the GET's full answer
        codes = []
        for _ in range(3):
            head, sep, raw = raw.partition(b"\r\n\r\n")
            assert sep and head.startswith(b"HTTP/1.1 "), (head, raw)
            codes.append(int(head.split()[1]))
        assert codes == [404, 405, 200], codes
        st, _, body = parse_response(raw)
        assert st == 200 and b'"status":"ok"' in body, raw


def test_slow_client_does_not_block_sip():
    px, port = start("mgmt-slow", workers=1)
    with px:
        ua = UdpPeer()
        # one client holds half a request, another a request line without its end
        slow = socket.create_connection((LOCAL, port), timeout=10)
        slow.sendall(b"POST /mi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"jsonrpc\":")
        slow2 = socket.create_connection((LOCAL, port), timeout=10)
        slow2.sendall(b"GET /metr")
        t0 = time.monotonic()
        for _ in range(5):
            cid = rand_token()
            ua.send(make_request("OPTIONS", "sip:127.0.0.1:%d" % px.port, ua.hostport(),
                                 call_id=cid, max_forwards=0), addr=px.addr)
            r = ua.expect(lambda m: not m.is_request and m.call_id == cid, timeout=1)
            assert r.status == 483, r.text
        assert time.monotonic() - t0 < 2
        # the listener still serves others meanwhile
        assert http(port, "GET", "/health")[0] == 200
        assert stats(port, "core:rcv_requests")["core:rcv_requests"] >= 5
        # conn_timeout (2 s): the half request gets 408 and is closed
        raw = b""
        while True:
            chunk = slow.recv(4096)
            if not chunk:
                break
            raw += chunk
        assert raw.startswith(b"HTTP/1.1 408 "), raw
        assert time.monotonic() - t0 < 6
        slow.close()
        slow2.close()


def test_connection_limit():
    """32 idle connections fill the listener; the next one gets 503 and SIP is untouched; a
    slot freed is usable again"""
    px, port = start("mgmt-limit", workers=1)
    with px:
        held = [socket.create_connection((LOCAL, port), timeout=5) for _ in range(32)]
        time.sleep(0.3)
        extra = socket.create_connection((LOCAL, port), timeout=5)
        raw = extra.recv(4096)
        assert raw.startswith(b"HTTP/1.1 503 "), raw
        extra.close()
        ua = UdpPeer()
        cid = rand_token()
        ua.send(make_request("OPTIONS", "sip:127.0.0.1:%d" % px.port, ua.hostport(), call_id=cid,
                             max_forwards=0), addr=px.addr)
        assert ua.expect(lambda m: m.call_id == cid, timeout=1).status == 483
        held.pop().close()
        time.sleep(0.3)
        assert http(port, "GET", "/health")[0] == 200
        for h in held:
            h.close()


STATELESS = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "port", {HTTP})
route {
    if (is_method("MESSAGE")) {
        drop;
    }
    forward();
}
"""


def test_stateless_counters():
    """forward() and the stateless reply path: fwd_requests, fwd_replies, drop_requests"""
    port = free_port("tcp")
    with Proxy(STATELESS, name="mgmt-sl", workers=2, subst={"HTTP": port}) as px:
        caller, uas = UdpPeer(), UdpPeer()
        mi(port, "reset_statistics", ["all"])
        for _ in range(4):
            cid = rand_token()
            caller.send(make_request("OPTIONS", "sip:bob@127.0.0.1:%d" % uas.port,
                                     caller.hostport(), call_id=cid), addr=px.addr)
            uas.reply(uas.expect(lambda m: m.is_request and m.call_id == cid), 200)
            caller.expect(lambda m: not m.is_request and m.call_id == cid)
        cid = rand_token()
        caller.send(make_request("MESSAGE", "sip:bob@127.0.0.1:%d" % uas.port,
                                 caller.hostport(), call_id=cid), addr=px.addr)
        uas.expect_nothing(0.3)
        got = stats(port, "core:")
        assert got == {"core:rcv_requests": 5, "core:rcv_replies": 4, "core:fwd_requests": 4,
                       "core:fwd_replies": 4, "core:drop_requests": 1, "core:drop_replies": 0,
                       "core:bad_msg_hdr": 0}, got


def test_prometheus_statistics_param():
    """modparam prometheus statistics: only the named ones are exported, without a prefix"""
    cfg = CFG.replace('modparam("httpd", "conn_timeout", 2)',
                      'modparam("prometheus", "statistics", "core:rcv_requests")\n'
                      'modparam("prometheus", "statistics", "usrloc:")\n'
                      'modparam("prometheus", "prefix", "")')
    port = free_port("tcp")
    with Proxy(cfg, name="mgmt-prom", workers=1, subst={"HTTP": port}):
        text, m = metrics(port)
        names = sorted(k for k in m if not k.startswith("worker_heartbeat"))
        assert names == ["core_rcv_requests_total", "usrloc_location_contacts",
                         "usrloc_location_users", "usrloc_registered_users"], text


def test_local_408():
    """a branch that never answers: tm's local 408 is counted as such"""
    cfg = CFG.replace('loadmodule "httpd.so"', 'modparam("tm", "fr_timeout", 1)\n'
                      'loadmodule "httpd.so"')
    port = free_port("tcp")
    with Proxy(cfg, name="mgmt-408", workers=1, subst={"HTTP": port}) as px:
        caller, silent = UdpPeer(), UdpPeer()
        mi(port, "reset_statistics", ["all"])
        cid = rand_token()
        # an INVITE: a non-INVITE never gets a 408 from a proxy (RFC 4320 §4.1)
        inv = make_request("INVITE", "sip:bob@127.0.0.1:%d" % silent.port, caller.hostport(),
                           call_id=cid)
        caller.send(inv, addr=px.addr)
        r = caller.expect(lambda m: not m.is_request and m.call_id == cid and m.status >= 200,
                          timeout=5)
        assert r.status == 408, r.text
        caller.send(make_ack(inv, r), addr=px.addr)
        got = stats(port, "tm:")
        # the 100 Trying and the 408
        assert got["tm:local_408_replies"] == 1 and got["tm:local_replies"] == 2, got
        assert got["tm:4xx_transactions"] == 1 and got["tm:relayed_replies"] == 0, got
        assert got["tm:UAC_transactions"] == 1 and got["tm:received_replies"] == 0, got


def test_trace_opens_no_port():
    """switchyard --trace is an offline run: with httpd loaded and its port taken by the running
    proxy, the trace still runs"""
    import tempfile
    port = free_port("tcp")
    s = socket.socket()
    s.bind((LOCAL, port))
    s.listen(1)
    d = tempfile.mkdtemp(prefix="sy-mgmt-trace-")
    cfg = os.path.join(d, "t.cfg")
    with open(cfg, "w") as f:
        f.write(CFG.replace("{PORT}", str(free_port("udp"))).replace("{HTTP}", str(port)))
    msg = os.path.join(d, "m.sip")
    with open(msg, "w") as f:
        f.write(make_request("OPTIONS", "sip:127.0.0.1", "127.0.0.1:5062", max_forwards=0))
    try:
        p = subprocess.run([sy_bin(), "--trace", msg, "-f", cfg], capture_output=True, text=True,
                           timeout=60)
    finally:
        s.close()
    assert p.returncode == 0, p.stderr
    assert "483" in p.stdout and "httpd" not in p.stderr, (p.stdout, p.stderr)


def ctl():
    return os.path.join(os.path.dirname(sy_bin()), "switchyard-ctl")


def test_switchyard_ctl():
    px, port = start("mgmt-ctl", workers=1)
    with px:
        ua = UdpPeer()
        register(ua, px, "dave")
        server = "127.0.0.1:%d" % port
        p = subprocess.run([ctl(), "-s", server, "get_statistics", "registrar:", "core:rcv_requests"],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == {"core:rcv_requests": stats(port, "core:rcv_requests")[
            "core:rcv_requests"], "registrar:accepted_regs": 1, "registrar:rejected_regs": 0}, p.stdout
        p = subprocess.run([ctl(), "-s", server, "get_statistics", '{"statistics":["usrloc:"]}'],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0 and json.loads(p.stdout)["usrloc:location-contacts"] == 1, p
        p = subprocess.run([ctl(), "-s", server, "ul_dump"], capture_output=True, text=True,
                           timeout=20)
        assert p.returncode == 0 and "sip:dave@127.0.0.1" in p.stdout, p
        p = subprocess.run([ctl(), "-s", server, "reset_statistics", "statistics=[\"core:\"]"],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0 and p.stdout.strip() == '"OK"', p
        p = subprocess.run([ctl(), "-s", server, "no_such"], capture_output=True, text=True,
                           timeout=20)
        assert p.returncode == 1 and "-32601" in p.stderr, p
        p = subprocess.run([ctl(), "-s", server, "uptime", "{bad"], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 2, p
        dead = free_port("tcp")
        p = subprocess.run([ctl(), "-s", "127.0.0.1:%d" % dead, "uptime"], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 1 and "cannot connect" in p.stderr, p


def test_config_errors():
    port = free_port("tcp")
    for line, what in (('modparam("httpd", "port", 70000)', "1..65535"),
                       ('modparam("httpd", "ip", "localhost")', "IPv4 or IPv6"),
                       ('modparam("prometheus", "prefix", "9x")', "Prometheus name"),
                       ('modparam("httpd", "post_buf_size", 1)', "post_buf_size")):
        cfg = CFG.replace('modparam("httpd", "conn_timeout", 2)', line)
        rc, out, path = check_config(cfg, subst={"HTTP": port})
        assert rc == 1 and re.search(r":\d+:\d+: .*" + re.escape(what), out), (line, out)
    rc, out, path = check_config(CFG.replace('modparam("httpd", "conn_timeout", 2)',
                                             'modparam("prometheus", "statistics", "core: tm:x")'),
                                 subst={"HTTP": port})
    assert rc == 1 and re.search(r":\d+:\d+: .*unknown statistic", out), out
    # mi_http without httpd: refused at start
    cfg = ('listen = udp:127.0.0.1:%d\nloadmodule "mi_http.so"\nroute { drop; }\n'
           % free_port("udp"))
    p = subprocess.run([sy_bin(), "-f", "/dev/stdin"], input=cfg, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1 and "needs loadmodule \"httpd.so\"" in p.stderr, p.stderr
    # the port taken: a clear start-up error
    s = socket.socket()
    s.bind((LOCAL, port))
    s.listen(1)
    cfg = CFG.replace("{PORT}", str(free_port("udp"))).replace("{HTTP}", str(port))
    p = subprocess.run([sy_bin(), "-f", "/dev/stdin"], input=cfg, capture_output=True, text=True,
                       timeout=30)
    s.close()
    assert p.returncode == 1 and "httpd: cannot listen on 127.0.0.1:%d" % port in p.stderr, p.stderr


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
