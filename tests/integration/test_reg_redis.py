"""test_reg_redis.py: several Switchyard nodes sharing one location table through a real
redis-server (usrloc db_url redis://): a REGISTER through node A lets an INVITE through node B
reach the contact; an unregister through B removes the binding on A; a node started later
loads the binding from Redis; with Redis killed and restarted, what A registered meanwhile
reaches B after the reconnect; a bad redis URL is a load error at file:line:col."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import Proxy, UdpPeer, check_config, free_port, make_request, rand_token

TIMEOUT = 120

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "tm.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
modparam("registrar", "min_expires", 60)
modparam("usrloc", "{PARAM}", "redis://127.0.0.1:{RPORT}/{RDB}")
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (is_method("OPTIONS")) {
        if (registered("location")) {
            sl_send_reply(200, "Registered");
        } else {
            sl_send_reply(404, "Not Registered");
        }
        exit;
    }
    if (!lookup("location")) {
        sl_send_reply(404, "Not Found");
        exit;
    }
    t_relay();
}
"""


class Redis:
    """A redis-server of the test's own: free port, no persistence, killed at the end."""

    def __init__(self, port=None):
        self.port = port or free_port("tcp")
        self.dir = tempfile.mkdtemp(prefix="sy-redis-")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.cmd("PING") == "+PONG":
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start on %d" % self.port)

    def cmd(self, *args):
        """One command over RESP; the first line of the answer (enough for the checks)."""
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            return None
        try:
            req = "*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a)
                                                   for a in args)
            s.sendall(req.encode())
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode("utf-8", "replace").split("\r\n")[0]
        except OSError:
            return None
        finally:
            s.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def node(rd, name, db=0, param="db_url"):
    return Proxy(CFG, name=name, subst={"RPORT": rd.port, "RDB": db, "PARAM": param})


def register(ua, px, user, contact_peer, expires=600, call_id=None, cseq=1):
    cid = call_id or rand_token()
    c = "<sip:%s@%s>" % (user, contact_peer.hostport())
    ua.send(make_request("REGISTER", "sip:127.0.0.1:%d" % px.port, ua.hostport(), call_id=cid,
                         cseq=cseq, to="<sip:%s@127.0.0.1>" % user,
                         from_="<sip:%s@127.0.0.1>" % user, contact=c,
                         headers=["Expires: %d" % expires]), addr=px.addr)
    r = ua.expect(lambda m: not m.is_request and m.call_id == cid)
    assert r.status == 200, r.text
    return cid


def registered(ua, px, user):
    cid = rand_token()
    ua.send(make_request("OPTIONS", "sip:%s@127.0.0.1" % user, ua.hostport(), call_id=cid),
            addr=px.addr)
    return ua.expect(lambda m: not m.is_request and m.call_id == cid).status == 200


def wait_for(pred, timeout=8):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def invite_reaches(caller, px, user, callee):
    """INVITE sip:user@127.0.0.1 through px arrives at callee (which answers 486)"""
    cid = rand_token()
    caller.send(make_request("INVITE", "sip:%s@127.0.0.1" % user, caller.hostport(),
                             call_id=cid), addr=px.addr)
    inv = callee.expect(lambda m: m.is_request and m.method == "INVITE" and m.call_id == cid,
                        timeout=3)
    assert inv.text.split(" ", 2)[1] == "sip:%s@%s" % (user, callee.hostport()), inv.text
    callee.reply(inv, 486, "Busy Here")
    r = caller.expect(lambda m: not m.is_request and m.call_id == cid and m.status >= 200)
    assert r.status == 486, r.text


def clean_stop(*nodes):
    for px in nodes:
        px.stop()
        assert not px.log_lines(), px.stderr_text()


def test_register_on_a_invite_through_b_unregister_on_b():
    with Redis() as rd:
        a = node(rd, "rd-a")
        b = node(rd, "rd-b")
        ua, alice = UdpPeer(), UdpPeer()
        cid = register(ua, a, "alice", alice)
        # the hash in Redis holds the binding (one field per contact)
        assert wait_for(lambda: rd.cmd("HLEN", "sy:ul:sip:alice@127.0.0.1") == ":1")
        assert wait_for(lambda: registered(ua, b, "alice"))
        invite_reaches(UdpPeer(), b, "alice", alice)
        # the key expires with the binding
        ttl = int(rd.cmd("TTL", "sy:ul:sip:alice@127.0.0.1")[1:])
        assert 500 < ttl <= 600, ttl
        # unregister through B (same Call-ID, higher CSeq: B has A's binding in memory)
        register(ua, b, "alice", alice, expires=0, call_id=cid, cseq=2)
        assert wait_for(lambda: not registered(ua, a, "alice"))
        assert rd.cmd("EXISTS", "sy:ul:sip:alice@127.0.0.1") == ":0"
        # an unknown AOR is still 404 on both
        assert not registered(ua, a, "nobody") and not registered(ua, b, "nobody")
        clean_stop(a, b)


def test_late_node_loads_from_redis():
    with Redis() as rd:
        # OpenSIPS' name for the shared back end, and a database other than 0
        a = node(rd, "rd-a", db=3, param="cachedb_url")
        ua, bob = UdpPeer(), UdpPeer()
        register(ua, a, "bob", bob)
        clean_stop(a)   # A's writer flushes at exit: the binding is in Redis
        c = node(rd, "rd-c", db=3, param="cachedb_url")
        assert registered(ua, c, "bob")
        invite_reaches(UdpPeer(), c, "bob", bob)
        # a node on another database sees nothing
        d = node(rd, "rd-d", db=4)
        assert not registered(ua, d, "bob")
        clean_stop(c, d)


def test_redis_restart_converges():
    with Redis() as rd:
        a = node(rd, "rd-a")
        b = node(rd, "rd-b")
        ua, carol, dave = UdpPeer(), UdpPeer(), UdpPeer()
        register(ua, a, "carol", carol)
        assert wait_for(lambda: registered(ua, b, "carol"))
        rd.kill()
        # Redis away: both nodes keep serving from memory, A still registers (200)
        register(ua, a, "dave", dave)
        assert registered(ua, a, "dave")
        invite_reaches(UdpPeer(), b, "carol", carol)
        time.sleep(1)
        assert not registered(ua, b, "dave")
        rd.start()
        # A's queued write lands, B's subscriber reconnects and re-reads: dave reaches B
        assert wait_for(lambda: registered(ua, b, "dave"), timeout=15)
        invite_reaches(UdpPeer(), b, "dave", dave)
        a.stop()
        b.stop()
        for px in (a, b):
            errs = px.log_lines()
            # one line per outage and direction, not one per REGISTER
            assert 1 <= len(errs) <= 2, px.stderr_text()
            assert all("redis" in e for e in errs), errs


def test_garbage_in_redis_is_skipped():
    """Redis is shared: what another client wrote there must not stop or crash a node."""
    with Redis() as rd:
        ua, erin = UdpPeer(), UdpPeer()
        assert rd.cmd("HSET", "sy:ul:sip:eve@127.0.0.1", "sip:eve@192.0.2.1",
                      "1;1;0;99999999999;0;0;0;1;0;5:ab") == ":1"
        assert rd.cmd("SET", "sy:ul:sip:str@127.0.0.1", "not a hash") == "+OK"
        a = node(rd, "rd-a")
        b = node(rd, "rd-b")
        assert not registered(ua, a, "eve")
        # a change message in a bad shape, and one for an AOR that holds garbage (sent again
        # until both subscribers, which start with the node, have it)
        assert wait_for(lambda: rd.cmd("PUBLISH", "sy:ul", "nospace") == ":2")
        assert rd.cmd("PUBLISH", "sy:ul", "other sip:eve@127.0.0.1") == ":2"
        # the nodes still share what a node writes
        register(ua, a, "erin", erin)
        assert wait_for(lambda: registered(ua, b, "erin"))
        assert not registered(ua, b, "eve")
        # a REGISTER for the AOR whose key is not a hash: answered from memory (200), Redis
        # refuses that part, one error line
        register(ua, a, "str", erin)
        assert registered(ua, a, "str")
        a.stop()
        errs = a.log_lines()
        assert len(errs) == 1 and "refused part of the write of sip:str@127.0.0.1" in errs[0], \
            a.stderr_text()
        for px in (a, b):
            px.stop()
            assert px is a or not px.log_lines(), px.stderr_text()
            warn = px.log_lines("WARNING")
            assert any("does not decode" in w for w in warn), px.stderr_text()
            assert any("not a location hash" in w for w in warn), px.stderr_text()


def test_bad_redis_url_is_a_load_error():
    bad = {
        "redis://": "host",
        "redis://127.0.0.1:0": "port",
        "redis://127.0.0.1:99999": "port",
        "redis://127.0.0.1:6379/x": "database",
        "redis://user:pw@127.0.0.1": "no user",
        "mysql://127.0.0.1/x": "db_url must be",
    }
    for url, why in bad.items():
        cfg = CFG.replace('"redis://127.0.0.1:{RPORT}/{RDB}"', '"%s"' % url)
        rc, out, path = check_config(cfg, subst={"PARAM": "db_url"})
        assert rc != 0, (url, out)
        line = next(i + 1 for i, l in enumerate(cfg.split("\n")) if url in l)
        assert "%s:%d:" % (os.path.basename(path), line) in out or \
            "%s:%d:" % (path, line) in out, (url, out)
        assert why in out, (url, out)
