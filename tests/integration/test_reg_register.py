"""test_reg_register.py: the registrar over the wire (RFC 3261 §10.3): REGISTER/200 with the
bindings and their expires, refresh, unregister, Contact: *, 423 with Min-Expires, stale CSeq,
max_contacts, bad input (non-SIP To, malformed Contact, expires beyond 2^32, thousands of
Contacts) answered 4xx with nothing stored, and the bindings surviving a restart (SQLite)."""
import os
import sqlite3
import tempfile
import time

from harness import Proxy, UdpPeer, make_request, rand_token

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
modparam("registrar", "min_expires", 60)
modparam("registrar", "max_expires", 7200)
modparam("registrar", "max_contacts", 3)
modparam("usrloc", "db_url", "sqlite://{DB}")
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (registered("location")) {
        sl_send_reply(200, "Registered");
        exit;
    }
    sl_send_reply(404, "Not Registered");
}
"""


def db_path():
    d = tempfile.mkdtemp(prefix="sy-reg-")
    return os.path.join(d, "location.db")


def register(ua, px, aor_user, contacts, call_id, cseq, headers=None):
    ruri = "sip:127.0.0.1:%d" % px.port
    req = make_request("REGISTER", ruri, ua.hostport(), call_id=call_id, cseq=cseq,
                       to="<sip:%s@127.0.0.1>" % aor_user, from_="<sip:%s@127.0.0.1>" % aor_user,
                       contact=contacts, headers=headers)
    ua.send(req, addr=px.addr)
    return ua.expect(lambda m: not m.is_request and m.call_id == call_id and m.cseq[0] == cseq)


def bindings(reply):
    """{contact uri: expires} from a 200 to REGISTER"""
    out = {}
    for c in reply.hdrs("Contact"):
        uri = c[c.index("<") + 1:c.index(">")]
        exp = None
        for p in c[c.index(">") + 1:].split(";"):
            if p.strip().lower().startswith("expires="):
                exp = int(p.split("=", 1)[1])
        out[uri] = exp
    return out


def is_registered(ua, px, user):
    cid = rand_token()
    ua.send(make_request("OPTIONS", "sip:%s@127.0.0.1" % user, ua.hostport(), call_id=cid),
            addr=px.addr)
    return ua.expect(lambda m: not m.is_request and m.call_id == cid).status == 200


def test_register_refresh_unregister():
    db = db_path()
    with Proxy(CFG, name="reg-basic", subst={"DB": db}) as px:
        ua = UdpPeer()
        c1 = "<sip:alice@%s>" % ua.hostport()
        r = register(ua, px, "alice", c1, "cid-a", 1, headers=["Expires: 600"])
        assert r.status == 200, r.text
        b = bindings(r)
        assert b == {"sip:alice@%s" % ua.hostport(): 600}, r.text
        assert r.hdr("Date"), r.text
        assert is_registered(ua, px, "alice")

        # refresh: same Call-ID, higher CSeq; the Contact's expires param wins over Expires
        r = register(ua, px, "alice", c1 + ";expires=900", "cid-a", 2, headers=["Expires: 600"])
        assert r.status == 200 and list(bindings(r).values()) == [900], r.text

        # over max_expires: shortened
        r = register(ua, px, "alice", c1, "cid-a", 3, headers=["Expires: 100000"])
        assert list(bindings(r).values()) == [7200], r.text

        # a second device, and a query without Contact lists both
        r = register(ua, px, "alice", "<sip:alice@127.0.0.1:9>", "cid-b", 1)
        assert len(bindings(r)) == 2 and bindings(r)["sip:alice@127.0.0.1:9"] == 3600, r.text
        r = register(ua, px, "alice", None, "cid-q", 1)
        assert r.status == 200 and len(bindings(r)) == 2, r.text

        # stale CSeq (same Call-ID, lower): the request fails, the binding stays
        r = register(ua, px, "alice", c1 + ";expires=0", "cid-a", 2)
        assert r.status == 500, r.text
        # the same CSeq again is a retransmission (stateless save): 200, nothing changes
        r = register(ua, px, "alice", c1 + ";expires=0", "cid-a", 3)
        assert r.status == 200 and len(bindings(r)) == 2, r.text
        r = register(ua, px, "alice", None, "cid-q", 2)
        assert len(bindings(r)) == 2, r.text

        # unregister one
        r = register(ua, px, "alice", c1 + ";expires=0", "cid-a", 4)
        assert r.status == 200 and list(bindings(r)) == ["sip:alice@127.0.0.1:9"], r.text

        # Contact: * needs Expires: 0
        r = register(ua, px, "alice", "*", "cid-s", 1)
        assert r.status == 400, r.text
        r = register(ua, px, "alice", "*", "cid-s", 2, headers=["Expires: 0"])
        assert r.status == 200 and not r.hdrs("Contact"), r.text
        assert not is_registered(ua, px, "alice")
        px.stop()


def test_interval_too_brief_and_limits():
    with Proxy(CFG, name="reg-limits", subst={"DB": db_path()}) as px:
        ua = UdpPeer()
        r = register(ua, px, "bob", "<sip:bob@127.0.0.1:7>", "cid-1", 1, headers=["Expires: 30"])
        assert r.status == 423 and r.hdr("Min-Expires") == "60", r.text
        assert not is_registered(ua, px, "bob")

        # max_contacts 3: the fourth binding is refused and nothing of that request is stored
        r = register(ua, px, "bob", "<sip:bob@127.0.0.1:1>, <sip:bob@127.0.0.1:2>", "cid-2", 1)
        assert r.status == 200, r.text
        r = register(ua, px, "bob", "<sip:bob@127.0.0.1:3>, <sip:bob@127.0.0.1:4>", "cid-3", 1)
        assert r.status == 403, r.text
        r = register(ua, px, "bob", None, "cid-4", 1)
        assert sorted(bindings(r)) == ["sip:bob@127.0.0.1:1", "sip:bob@127.0.0.1:2"], r.text
        px.stop()


def test_bad_input():
    with Proxy(CFG, name="reg-bad", subst={"DB": db_path()}) as px:
        ua = UdpPeer()
        # RFC 4475 §3.3.7 unksm2: a non-SIP To cannot be an AOR here
        ua.send("REGISTER sip:127.0.0.1 SIP/2.0\r\n"
                "To: isbn:2983792873\r\n"
                "From: <http://www.example.com>;tag=3234233\r\n"
                "Call-ID: unksm2.daksdj@hyphenated-host.example.com\r\n"
                "CSeq: 234902 REGISTER\r\n"
                "Max-Forwards: 70\r\n"
                "Via: SIP/2.0/UDP %s;branch=z9hG4bKkdjuw\r\n"
                "Contact: <name:John_Smith>\r\n"
                "l: 0\r\n\r\n" % ua.hostport(), addr=px.addr)
        r = ua.expect(lambda m: not m.is_request)
        assert r.status == 400, r.text

        # a malformed Contact after a good one: 400, the good one not stored
        r = register(ua, px, "carol", "<sip:carol@127.0.0.1:1>, <sip:carol@127.0.0.1:2",
                     "cid-1", 1)
        assert r.status == 400, r.text
        # expires beyond 2^32-1
        r = register(ua, px, "carol", "<sip:carol@127.0.0.1:1>", "cid-2", 1,
                     headers=["Expires: 4294967296"])
        assert r.status == 400, r.text
        r = register(ua, px, "carol", "<sip:carol@127.0.0.1:1>;expires=18446744073709551616",
                     "cid-3", 1)
        assert r.status == 400, r.text
        assert not is_registered(ua, px, "carol")

        # thousands of Contacts: 10,000 cannot fit a datagram (the parser answers 513 to a
        # message over 64 KB), so 2000 in one ~60 KB REGISTER: refused with a 4xx, none stored
        many = ", ".join("<sip:c%d@127.0.0.1:%d>" % (i, 1000 + i) for i in range(2000))
        r = register(ua, px, "carol", many, "cid-4", 1)
        assert 400 <= r.status < 500, r.status
        assert not is_registered(ua, px, "carol")

        # 10,000 Contact values (the shortest URI, "a:b", in 10 fields of 1000 to fit a
        # datagram): a clear 400, nothing stored
        r = register(ua, px, "carol", None, "cid-6", 1,
                     headers=["Contact: " + ",".join(["a:b"] * 1000)] * 10)
        assert r.status == 400, r.text
        assert not is_registered(ua, px, "carol")

        # and the proxy still serves
        r = register(ua, px, "carol", "<sip:carol@127.0.0.1:1>", "cid-5", 1)
        assert r.status == 200, r.text
        px.stop()


def test_bindings_survive_restart():
    db = db_path()
    with Proxy(CFG, name="reg-restart-1", subst={"DB": db}) as px:
        ua = UdpPeer()
        r = register(ua, px, "dave", "<sip:dave@127.0.0.1:5>", "cid-1", 5,
                     headers=["Expires: 3000"])
        assert r.status == 200, r.text
        r = register(ua, px, "erin", "<sip:erin@127.0.0.1:6>", "cid-2", 1)
        r = register(ua, px, "erin", "<sip:erin@127.0.0.1:6>;expires=0", "cid-2", 2)
        assert r.status == 200 and not r.hdrs("Contact"), r.text
        px.stop()
    with Proxy(CFG, name="reg-restart-2", subst={"DB": db}) as px:
        ua = UdpPeer()
        assert is_registered(ua, px, "dave")
        assert not is_registered(ua, px, "erin")
        r = register(ua, px, "dave", None, "cid-9", 1)
        b = bindings(r)
        assert list(b) == ["sip:dave@127.0.0.1:5"] and 2990 <= b["sip:dave@127.0.0.1:5"] <= 3000, r.text
        # the stored Call-ID/CSeq still order requests after the restart
        r = register(ua, px, "dave", "<sip:dave@127.0.0.1:5>;expires=0", "cid-1", 4)
        assert r.status == 500, r.text
        px.stop()


def db_rows(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute("SELECT aor, contact, expires FROM location ORDER BY contact").fetchall()
    finally:
        con.close()


def wait_rows(db, n, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = db_rows(db)
        if len(rows) == n:
            return rows
        time.sleep(0.1)
    return db_rows(db)


def test_write_through_and_purge():
    """every change lands in SQLite (written by the store's thread), and the purge timer takes
    expired bindings out of memory and out of the table"""
    db = db_path()
    cfg = CFG.replace('modparam("registrar", "min_expires", 60)',
                      'modparam("registrar", "min_expires", 1)\n'
                      'modparam("usrloc", "timer_interval", 1)')
    with Proxy(cfg, name="reg-purge", subst={"DB": db}) as px:
        ua = UdpPeer()
        r = register(ua, px, "fred", "<sip:fred@127.0.0.1:1>;expires=2, <sip:fred@127.0.0.1:2>",
                     "cid-1", 1)
        assert r.status == 200, r.text
        rows = wait_rows(db, 2)
        assert [(a, c) for a, c, _ in rows] == [("sip:fred@127.0.0.1", "sip:fred@127.0.0.1:1"),
                                                ("sip:fred@127.0.0.1", "sip:fred@127.0.0.1:2")], rows
        r = register(ua, px, "fred", "<sip:fred@127.0.0.1:2>;expires=0", "cid-1", 2)
        assert r.status == 200 and len(r.hdrs("Contact")) == 1, r.text
        assert [c for _, c, _ in wait_rows(db, 1)] == ["sip:fred@127.0.0.1:1"]
        time.sleep(2.5)
        assert not is_registered(ua, px, "fred")
        assert wait_rows(db, 0) == []
        px.stop()


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
