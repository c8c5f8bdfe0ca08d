"""test_reg_default_cfg.py: etc/switchyard.cfg as shipped (only its ports and database paths
replaced) is a working residential proxy: users register after a digest challenge (401, a
wrong password gets 401 again, another user's credentials 403), call each other through the
proxy after a 407 (record-routed, credentials consumed, BYE along the route set), an unknown
user gets 404, a REGISTER for another domain 403, a stranger may call our users but not relay
elsewhere, and the bindings are still there after a restart."""
import hashlib
import os
import re
import sqlite3
import tempfile

from harness import REPO, Proxy, UdpPeer, make_request, rand_token

PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret"}


def default_cfg(db, users_db):
    with open(os.path.join(REPO, "etc", "switchyard.cfg")) as f:
        cfg = f.read()
    cfg = cfg.replace("listen = udp:127.0.0.1:5060", "listen = udp:127.0.0.1:{PORT}")
    cfg = cfg.replace("listen = tcp:127.0.0.1:5060", "listen = tcp:127.0.0.1:{TCPPORT}")
    cfg, n = re.subn(r'modparam\("usrloc", "db_url", "[^"]*"\)',
                     'modparam("usrloc", "db_url", "sqlite://%s")' % db, cfg)
    cfg, n2 = re.subn(r'modparam\("auth_db", "db_url", "[^"]*"\)',
                      'modparam("auth_db", "db_url", "sqlite://%s")' % users_db, cfg)
    assert n == 1 and n2 == 1 and "{PORT}" in cfg and "{TCPPORT}" in cfg, \
        "etc/switchyard.cfg changed shape"
    return cfg


def make_users(path):
    """the subscriber table as docs/auth.md creates it, HA1 only (calculate_ha1 = 0)"""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE subscriber (id INTEGER PRIMARY KEY AUTOINCREMENT,"
               " username CHAR(64) NOT NULL DEFAULT '', domain CHAR(64) NOT NULL DEFAULT '',"
               " password CHAR(25) NOT NULL DEFAULT '', ha1 CHAR(64) NOT NULL DEFAULT '',"
               " ha1_sha256 CHAR(64) NOT NULL DEFAULT '', UNIQUE (username, domain))")
    for u, pw in PASSWORDS.items():
        a1 = ("%s:127.0.0.1:%s" % (u, pw)).encode()
        db.execute("INSERT INTO subscriber (username, domain, ha1, ha1_sha256) VALUES (?,?,?,?)",
                   (u, "127.0.0.1", hashlib.md5(a1).hexdigest(), hashlib.sha256(a1).hexdigest()))
    db.commit()
    db.close()


def digest(challenge, user, password, method, uri):
    """credentials answering a WWW-/Proxy-Authenticate value (RFC 7616 §3.4, qop=auth)"""
    p = dict((m.group(1).lower(), m.group(3) if m.group(3) is not None else m.group(2))
             for m in re.finditer(r'([A-Za-z-]+)="?(([^",]*))"?', challenge[7:]))
    h = hashlib.sha256 if p.get("algorithm") == "SHA-256" else hashlib.md5
    H = lambda s: h(s.encode()).hexdigest()
    ha1 = H("%s:%s:%s" % (user, p["realm"], password))
    resp = H("%s:%s:00000001:c0ffee:auth:%s" % (ha1, p["nonce"], H("%s:%s" % (method, uri))))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
            'algorithm=%s, qop=auth, nc=00000001, cnonce="c0ffee"'
            % (user, p["realm"], p["nonce"], uri, resp, p.get("algorithm", "MD5")))


def register(ua, px, user, domain="127.0.0.1", password=None, auth_user=None):
    """REGISTER, answering a 401 once with the user's password: the final reply"""
    cid = rand_token()
    ruri = "sip:%s:%d" % (domain, px.port)
    auth = []
    for cseq in (1, 2):
        ua.send(make_request("REGISTER", ruri, ua.hostport(), call_id=cid, cseq=cseq,
                             to="<sip:%s@%s>" % (user, domain),
                             from_="<sip:%s@%s>" % (user, domain),
                             contact="<sip:%s@%s>" % (user, ua.hostport()), headers=auth),
                addr=px.addr)
        r = ua.expect(lambda m: not m.is_request and m.call_id == cid and m.cseq[0] == cseq)
        if r.status != 401 or cseq == 2:
            return r
        who = auth_user or user
        pw = password if password is not None else PASSWORDS.get(who, "")
        auth = ["Authorization: " + digest(r.hdr("WWW-Authenticate"), who, pw, "REGISTER",
                                           ruri)]
    return r


def invite(ua, px, ruri, from_user, to, password=None, cid=None):
    """INVITE, answering a 407 once (ACK for it, new CSeq with credentials): the request
    sent last, as text"""
    cid = cid or rand_token()
    extra = []
    for cseq in (1, 2):
        req = make_request("INVITE", ruri, ua.hostport(), call_id=cid, cseq=cseq, to=to,
                           from_="<sip:%s@127.0.0.1>" % from_user, headers=extra)
        ua.send(req, addr=px.addr)
        if cseq == 2:
            return req
        r = ua.expect(lambda m: not m.is_request and m.call_id == cid and m.status != 100)
        if r.status != 407:
            return req
        pw = password if password is not None else PASSWORDS[from_user]
        extra = ["Proxy-Authorization: " + digest(r.hdr("Proxy-Authenticate"), from_user, pw,
                                                  "INVITE", ruri)]
    return req


def test_residential_call_between_registered_users():
    d = tempfile.mkdtemp(prefix="sy-defcfg-")
    db, users = os.path.join(d, "location.db"), os.path.join(d, "users.db")
    make_users(users)
    cfg = default_cfg(db, users)
    with Proxy(cfg, name="reg-default", workers=None) as px:
        alice, bob = UdpPeer(), UdpPeer()
        assert register(alice, px, "alice", password="wrong").status == 401
        assert register(alice, px, "alice").status == 200
        # alice's credentials do not register bob
        assert register(alice, px, "bob", auth_user="alice").status == 403
        assert register(bob, px, "bob").status == 200
        assert register(bob, px, "bob", domain="example.org").status == 403

        cid = rand_token()
        # the R-URI names the proxy's port: `uri == myself` takes a missing port as 5060
        invite(alice, px, "sip:bob@127.0.0.1:%d" % px.port, "alice", "<sip:bob@127.0.0.1>",
               cid=cid)
        inv = bob.expect("INVITE")
        assert inv.ruri == "sip:bob@%s" % bob.hostport(), inv.text
        assert inv.hdrs("Record-Route"), inv.text
        assert not inv.hdrs("Proxy-Authorization"), "credentials not consumed: " + inv.text
        bob.reply(inv, 180)
        bob.reply(inv, 200, headers=["Contact: <sip:bob@%s>" % bob.hostport()])
        alice.expect(180)
        ok = alice.expect(200)
        rr = ok.hdrs("Record-Route")
        lines = ["BYE sip:bob@%s SIP/2.0" % bob.hostport(),
                 "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport" % (alice.hostport(), rand_token()),
                 "Max-Forwards: 70", "From: %s" % ok.hdr("From"), "To: %s" % ok.hdr("To"),
                 "Call-ID: %s" % cid, "CSeq: 3 BYE", "Route: %s" % ", ".join(reversed(rr)),
                 "Content-Length: 0"]
        alice.send("\r\n".join(lines) + "\r\n\r\n", addr=px.addr)
        bye = bob.expect("BYE")
        bob.reply(bye, 200)
        assert alice.expect(200).cseq == (3, "BYE")

        invite(alice, px, "sip:nobody@127.0.0.1:%d" % px.port, "alice",
               "<sip:nobody@127.0.0.1>")
        assert alice.expect(lambda m: not m.is_request and m.status >= 200).status == 404

        # a stranger (From another domain) reaches our users unchallenged, but relays nowhere
        carol = UdpPeer()
        carol.send(make_request("INVITE", "sip:bob@127.0.0.1:%d" % px.port, carol.hostport(),
                                to="<sip:bob@127.0.0.1>", from_="<sip:carol@example.net>"),
                   addr=px.addr)
        inv = bob.expect("INVITE")
        bob.reply(inv, 486)
        assert carol.expect(lambda m: not m.is_request and m.status >= 200).status == 486
        carol.send(make_request("INVITE", "sip:dave@example.com", carol.hostport(),
                                from_="<sip:carol@example.net>"), addr=px.addr)
        r = carol.expect(lambda m: not m.is_request and m.status >= 200)
        assert (r.status, r.reason) == (403, "Relay Forbidden"), r.text
        px.stop()

    bob_port = bob.port
    bob.close()
    with Proxy(cfg, name="reg-default-2", workers=None) as px:
        # bob's binding was loaded from the database: his contact gets the call
        alice, bob = UdpPeer(), UdpPeer(port=bob_port)
        invite(alice, px, "sip:bob@127.0.0.1:%d" % px.port, "alice", "<sip:bob@127.0.0.1>")
        inv = bob.expect("INVITE")
        bob.reply(inv, 486)
        assert alice.expect(lambda m: not m.is_request and m.status >= 200).status == 486
        px.stop()


def test_without_users_database_everyone_is_challenged():
    """make run on a fresh tree: no users.db yet. The proxy starts (one warning), every
    REGISTER is challenged and none succeeds, and nothing creates the file."""
    d = tempfile.mkdtemp(prefix="sy-defcfg-")
    users = os.path.join(d, "users.db")
    with Proxy(default_cfg(os.path.join(d, "location.db"), users), name="reg-default-nousers",
               workers=None) as px:
        alice = UdpPeer()
        assert register(alice, px, "alice").status == 401
        warn = [l for l in px.stderr_text().split("\n") if "auth_db" in l]
        assert len(warn) == 1 and "no such file" in warn[0], px.stderr_text()
        assert not os.path.exists(users)
        px.stop()

if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
