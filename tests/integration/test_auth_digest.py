"""test_auth_digest.py: digest authentication through the real binary (auth + auth_db units):
REGISTER challenged with 401 and accepted with the right password (binding stored), refused with
a wrong one, and with another user's credentials ($au != $tU); INVITE challenged with 407, relayed once authorized, its credentials consumed
(credentials for another realm kept); an expired nonce gets stale=true; SHA-256 (RFC 7616 /
RFC 8760); OpenSIPS' return codes; the users table reloaded when the file changes; a missing
database file does not stop the proxy. The client side of every digest is computed here with
hashlib, independently of the proxy's code."""
import hashlib
import os
import re
import sqlite3
import tempfile
import time

from harness import Proxy, UdpPeer, make_request, rand_token

SCHEMA = """CREATE TABLE IF NOT EXISTS subscriber (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username CHAR(64) NOT NULL DEFAULT '', domain CHAR(64) NOT NULL DEFAULT '',
  password CHAR(25) NOT NULL DEFAULT '', email_address CHAR(64) NOT NULL DEFAULT '',
  ha1 CHAR(64) NOT NULL DEFAULT '', ha1_sha256 CHAR(64) NOT NULL DEFAULT '',
  ha1_sha512t256 CHAR(64) NOT NULL DEFAULT '', rpid CHAR(64) DEFAULT NULL,
  CONSTRAINT account_idx UNIQUE (username, domain))"""

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("auth_db", "db_url", "sqlite://{DB}")
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
modparam("auth", "nonce_expire", {EXPIRE})

route {
	if (is_method("REGISTER")) {
		if (!www_authorize("", "subscriber")) {
			www_challenge("", "auth", "{ALGS}");
			exit;
		}
		# OpenSIPS' residential check: one registers only one's own AOR
		if ($au != $tU) {
			sl_send_reply(403, "Forbidden auth ID $au realm $ar");
			exit;
		}
		save("location");
		exit;
	}
	if (is_method("INVITE")) {
		if (!proxy_authorize("", "subscriber")) {
			proxy_challenge("", "auth", "{ALGS}");
			exit;
		}
		consume_credentials();
		if (!lookup("location")) {
			sl_send_reply(404, "Not Found");
			exit;
		}
		t_relay();
		exit;
	}
	if (is_method("MESSAGE")) {
		# the credentials' fields as the script sees them
		sl_send_reply(403, "au=$au ad=$ad ar=$ar adu=$adu");
		exit;
	}
	if (is_method("OPTIONS")) {
		# OpenSIPS return codes, made visible: -4 no credentials, -3 stale, -2 password,
		# -1 user, -5 anything else
		www_authorize("", "subscriber");
		sl_send_reply(403, "rc $rc");
		exit;
	}
}
"""


def make_db(users=(("alice", "127.0.0.1", "alicepw"), ("bob", "127.0.0.1", "bobpw"))):
    d = tempfile.mkdtemp(prefix="sy-auth-")
    path = os.path.join(d, "users.db")
    add_users(path, users)
    return path


def add_users(path, users):
    db = sqlite3.connect(path)
    db.execute(SCHEMA)
    for u, dom, pw in users:
        db.execute("INSERT OR REPLACE INTO subscriber (username, domain, password, ha1, ha1_sha256)"
                   " VALUES (?, ?, ?, ?, ?)",
                   (u, dom, pw, hashlib.md5(("%s:%s:%s" % (u, dom, pw)).encode()).hexdigest(),
                    hashlib.sha256(("%s:%s:%s" % (u, dom, pw)).encode()).hexdigest()))
    db.commit()
    db.close()


def proxy(db, expire=30, algs="MD5", **kw):
    return Proxy(CFG, subst={"DB": db, "EXPIRE": expire, "ALGS": algs}, **kw)


def challenge_params(value):
    """Digest realm="x", nonce="y", ... -> dict (keys lower-cased, quotes removed)."""
    assert value.startswith("Digest "), value
    out = {}
    for m in re.finditer(r'([A-Za-z-]+)\s*=\s*("([^"]*)"|[^,\s]+)', value[7:]):
        out[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return out


def H(alg, s):
    f = hashlib.sha256 if alg == "SHA-256" else hashlib.md5
    return f(s.encode()).hexdigest()


def credentials(ch, user, password, method, uri, cnonce="0a4f113b", nc="00000001",
                username=None, realm=None, nonce=None, qop=True):
    """RFC 7616 §3.4.1 request-digest for challenge params ch, as a credentials value."""
    alg = ch.get("algorithm", "MD5")
    realm = realm if realm is not None else ch["realm"]
    nonce = nonce if nonce is not None else ch["nonce"]
    ha1 = H(alg, "%s:%s:%s" % (user, realm, password))
    ha2 = H(alg, "%s:%s" % (method, uri))
    if qop:
        resp = H(alg, "%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
        extra = ', qop=auth, nc=%s, cnonce="%s"' % (nc, cnonce)
    else:
        resp = H(alg, "%s:%s:%s" % (ha1, nonce, ha2))
        extra = ""
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
            'algorithm=%s%s' % (username or user, realm, nonce, uri, resp, alg, extra))


class Ua:
    """One user agent: REGISTER / INVITE with a fresh branch each time, same Call-ID."""

    def __init__(self, px, user):
        self.px, self.user = px, user
        self.peer = UdpPeer()
        self.cid = rand_token() + "@auth"
        self.cseq = 0

    def register(self, auth=None, hdr="Authorization"):
        self.cseq += 1
        ruri = "sip:127.0.0.1:%d" % self.px.port
        headers = ["%s: %s" % (hdr, auth)] if auth else []
        self.peer.send(make_request("REGISTER", ruri, self.peer.hostport(), call_id=self.cid,
                                    cseq=self.cseq, to="<sip:%s@127.0.0.1>" % self.user,
                                    from_="<sip:%s@127.0.0.1>" % self.user,
                                    contact="<sip:%s@%s>" % (self.user, self.peer.hostport()),
                                    headers=headers), addr=self.px.addr)
        return self.final()

    def invite(self, to, headers=()):
        self.cseq += 1
        ruri = "sip:%s@127.0.0.1:%d" % (to, self.px.port)
        self.peer.send(make_request("INVITE", ruri, self.peer.hostport(), call_id=self.cid,
                                    cseq=self.cseq, to="<sip:%s@127.0.0.1>" % to,
                                    from_="<sip:%s@127.0.0.1>" % self.user,
                                    headers=list(headers)), addr=self.px.addr)
        return ruri

    def options(self, headers=()):
        self.cseq += 1
        ruri = "sip:127.0.0.1:%d" % self.px.port
        self.peer.send(make_request("OPTIONS", ruri, self.peer.hostport(), call_id=self.cid,
                                    cseq=self.cseq, to="<sip:%s@127.0.0.1>" % self.user,
                                    from_="<sip:%s@127.0.0.1>" % self.user,
                                    headers=list(headers)), addr=self.px.addr)
        return self.final()

    def final(self):
        cseq = self.cseq
        return self.peer.expect(lambda m: not m.is_request and m.status >= 200 and
                                m.cseq[0] == cseq)


def register_ruri(px):
    return "sip:127.0.0.1:%d" % px.port


def test_register_401_then_200_and_binding_stored():
    db = make_db()
    with proxy(db) as px:
        ua = Ua(px, "alice")
        r = ua.register()
        assert r.status == 401, r.text
        chs = r.hdrs("WWW-Authenticate")
        assert len(chs) == 1, r.text
        ch = challenge_params(r.hdr("WWW-Authenticate"))
        # realm "" = the To domain of a REGISTER (OpenSIPS)
        assert ch["realm"] == "127.0.0.1" and ch["qop"] == "auth" and ch["algorithm"] == "MD5", ch
        assert "stale" not in ch, ch
        ok = ua.register(credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert ok.status == 200, ok.text
        assert any(ua.peer.hostport() in c for c in ok.hdrs("Contact")), ok.text

        # the binding is there: a call to alice (bob authenticates) reaches alice's contact
        bob = Ua(px, "bob")
        uri = bob.invite("alice")
        r = bob.peer.expect(407)
        pch = challenge_params(r.hdr("Proxy-Authenticate"))
        assert pch["realm"] == "127.0.0.1", pch   # From domain for non-REGISTER
        bob.invite("alice", ["Proxy-Authorization: " +
                             credentials(pch, "bob", "bobpw", "INVITE", uri)])
        inv = ua.peer.expect("INVITE")
        assert inv.ruri == "sip:alice@%s" % ua.peer.hostport(), inv.text
        assert not inv.hdrs("Proxy-Authorization"), "consume_credentials(): " + inv.text
        ua.peer.reply(inv, 486)
        assert bob.peer.expect(lambda m: not m.is_request and m.status >= 200).status == 486
        assert px.log_lines() == [], px.log_lines()


def test_own_aor_only_au_checked():
    """$au / $ar read the credentials: alice's valid credentials do not register bob."""
    db = make_db()
    with proxy(db) as px:
        ua = Ua(px, "bob")
        ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
        r = ua.register(credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert r.status == 403 and r.reason == "Forbidden auth ID alice realm 127.0.0.1", r.text


def test_wrong_password_gets_401_again_not_200():
    db = make_db()
    with proxy(db) as px:
        ua = Ua(px, "alice")
        ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
        r = ua.register(credentials(ch, "alice", "guess", "REGISTER", register_ruri(px)))
        assert r.status == 401, r.text
        assert "stale" not in challenge_params(r.hdr("WWW-Authenticate"))
        # an unknown user too; and nothing was bound: a call to alice finds no contact
        ch = challenge_params(r.hdr("WWW-Authenticate"))
        mallory = Ua(px, "mallory")
        r = mallory.register(credentials(ch, "mallory", "x", "REGISTER", register_ruri(px)))
        assert r.status == 401, r.text
        bob = Ua(px, "bob")
        uri = bob.invite("alice")
        pch = challenge_params(bob.peer.expect(407).hdr("Proxy-Authenticate"))
        bob.invite("alice", ["Proxy-Authorization: " +
                             credentials(pch, "bob", "bobpw", "INVITE", uri)])
        assert bob.final().status == 404
        notices = px.log_lines("NOTICE")
        assert any("wrong password" in l and "'alice'" in l for l in notices), notices
        assert any("no such user" in l and "'mallory'" in l for l in notices), notices


def test_invite_407_then_relayed_credentials_for_other_realm_kept():
    db = make_db()
    with proxy(db) as px:
        alice = Ua(px, "alice")
        ch = challenge_params(alice.register().hdr("WWW-Authenticate"))
        assert alice.register(credentials(ch, "alice", "alicepw", "REGISTER",
                                          register_ruri(px))).status == 200
        bob = Ua(px, "bob")
        uri = bob.invite("alice")
        r = bob.peer.expect(407)
        assert r.reason == "Proxy Authentication Required", r.text
        pch = challenge_params(r.hdr("Proxy-Authenticate"))
        other = ('Digest username="bob", realm="gw.example.net", nonce="abc", uri="%s", '
                 'response="0123456789abcdef0123456789abcdef"' % uri)
        bob.invite("alice", ["Proxy-Authorization: " + other,
                             "Proxy-Authorization: " +
                             credentials(pch, "bob", "bobpw", "INVITE", uri)])
        inv = alice.peer.expect("INVITE")
        pa = inv.hdrs("Proxy-Authorization")
        # RFC 3261 §22.3: only our realm's credentials are consumed
        assert len(pa) == 1 and "gw.example.net" in pa[0], inv.text
        alice.peer.reply(inv, 486)
        bob.peer.expect(486)


def test_stale_nonce_gets_stale_true_then_works():
    db = make_db()
    with proxy(db, expire=1) as px:
        ua = Ua(px, "alice")
        ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
        time.sleep(2.2)
        r = ua.register(credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert r.status == 401, r.text
        ch2 = challenge_params(r.hdr("WWW-Authenticate"))
        assert ch2.get("stale") == "true", r.text
        assert ch2["nonce"] != ch["nonce"]
        r = ua.register(credentials(ch2, "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert r.status == 200, r.text


def test_au_names_the_credentials_that_were_checked():
    """$au must name the user www_authorize checked. It read the first Authorization header
    that parsed, whatever its realm, while www_authorize checks the first one of its realm:
    alice put a junk header for another realm naming bob first and her own good credentials
    second, passed the residential $au == $tU check and registered bob's AOR to herself."""
    db = make_db()
    with proxy(db) as px:
        ua = Ua(px, "bob")          # To/From bob: the AOR alice is after
        ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
        ruri = register_ruri(px)
        junk = ('Digest username="bob", realm="other.example", nonce="0", uri="%s", '
                'response="0"' % ruri)
        mine = credentials(ch, "alice", "alicepw", "REGISTER", ruri)
        ua.cseq += 1
        ua.peer.send(make_request("REGISTER", ruri, ua.peer.hostport(), call_id=ua.cid,
                                  cseq=ua.cseq, to="<sip:bob@127.0.0.1>",
                                  from_="<sip:bob@127.0.0.1>",
                                  contact="<sip:evil@%s>" % ua.peer.hostport(),
                                  headers=["Authorization: " + junk,
                                           "Authorization: " + mine]), addr=px.addr)
        r = ua.final()
        assert r.status == 403 and "auth ID alice" in r.reason, r.text
        # the same credentials for her own AOR still work
        alice = Ua(px, "alice")
        ch = challenge_params(alice.register().hdr("WWW-Authenticate"))
        r = alice.register(credentials(ch, "alice", "alicepw", "REGISTER", ruri))
        assert r.status == 200, r.text


def test_stale_true_only_for_the_right_password():
    """RFC 7616 §3.3: stale=true tells the UA to retry with the same credentials without
    asking its user, so it is for a right response on an expired nonce only (OpenSIPS sets it
    after the check, in post_auth). A wrong password on an expired nonce got stale=true (the
    UA retried the wrong password silently) and www_authorize said -3 instead of -2."""
    db = make_db()
    with proxy(db, expire=1) as px:
        ua = Ua(px, "alice")
        ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
        time.sleep(2.2)
        r = ua.register(credentials(ch, "alice", "wrong", "REGISTER", register_ruri(px)))
        assert r.status == 401, r.text
        assert "stale" not in r.hdr("WWW-Authenticate"), r.text
        ruri = register_ruri(px)
        assert ua.options(["Authorization: " + credentials(ch, "alice", "wrong", "OPTIONS",
                                                           ruri)]).reason == "rc -2"
        assert ua.options(["Authorization: " + credentials(ch, "nobody", "x", "OPTIONS",
                                                           ruri)]).reason == "rc -1"
        assert ua.options(["Authorization: " + credentials(ch, "alice", "alicepw", "OPTIONS",
                                                           ruri)]).reason == "rc -3"


def test_mangled_nonce_and_other_uri_refused():
    db = make_db()
    with proxy(db) as px:
        ua = Ua(px, "alice")
        ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
        n = ch["nonce"]
        bad = n[:20] + ("0" if n[20] != "0" else "1") + n[21:]
        # a correct digest over a nonce we did not make: refused, and no stale=true
        r = ua.register(credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px),
                                    nonce=bad))
        assert r.status == 401 and "stale" not in r.hdr("WWW-Authenticate"), r.text
        # credentials computed for another Request-URI (RFC 2617 §3.2.2.5)
        r = ua.register(credentials(ch, "alice", "alicepw", "REGISTER", "sip:elsewhere.example"))
        assert r.status == 401, r.text
        # credentials for another realm are not ours: no credentials, challenged
        r = ua.register(credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px),
                                    realm="other.example"))
        assert r.status == 401, r.text
        notices = "\n".join(px.log_lines("NOTICE"))
        assert "nonce not made by us" in notices and "uri does not name" in notices, notices


def test_sha256_preferred_and_accepted():
    db = make_db()
    with proxy(db, algs="SHA-256,MD5") as px:
        ua = Ua(px, "alice")
        r = ua.register()
        chs = [challenge_params(v) for n, v in r.headers if n.lower() == "www-authenticate"]
        assert [c["algorithm"] for c in chs] == ["SHA-256", "MD5"], r.text
        assert len(chs[0]["nonce"]) == len(chs[1]["nonce"]) and chs[0]["nonce"] != chs[1]["nonce"]
        ok = ua.register(credentials(chs[0], "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert ok.status == 200, ok.text
        # the MD5 nonce answered with SHA-256 is refused: each nonce is bound to its algorithm
        sha_on_md5 = dict(chs[1], algorithm="SHA-256")
        r = ua.register(credentials(sha_on_md5, "alice", "alicepw", "REGISTER",
                                    register_ruri(px)))
        assert r.status == 401, r.text
        # the MD5 one still works for MD5-only clients
        ok = ua.register(credentials(chs[1], "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert ok.status == 200, ok.text


def test_return_codes_as_opensips():
    db = make_db()
    with proxy(db, expire=1) as px:
        ua = Ua(px, "alice")
        ruri = register_ruri(px)
        assert ua.options().reason == "rc -4"
        ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
        good = credentials(ch, "alice", "alicepw", "OPTIONS", ruri)
        assert ua.options(["Authorization: " + good]).reason == "rc 1"
        assert ua.options(["Authorization: " + credentials(ch, "alice", "x", "OPTIONS",
                                                           ruri)]).reason == "rc -2"
        assert ua.options(["Authorization: " + credentials(ch, "nobody", "x", "OPTIONS",
                                                           ruri)]).reason == "rc -1"
        assert ua.options(["Authorization: " + credentials(ch, "alice", "alicepw", "OPTIONS",
                                                           ruri, qop=False)]).reason == "rc -5"
        # a missing response= does not parse: 400 Bad Credentials, as OpenSIPS answers
        broken = 'Digest username="alice", realm="127.0.0.1", nonce="%s", uri="%s"' % (
            ch["nonce"], ruri)
        ua.cseq += 1
        ua.peer.send(make_request("OPTIONS", ruri, ua.peer.hostport(), call_id=ua.cid,
                                  cseq=ua.cseq, headers=["Authorization: " + broken]),
                     addr=px.addr)
        r = ua.peer.expect(400)
        assert r.reason == "Bad Credentials", r.text
        time.sleep(2.2)
        assert ua.options(["Authorization: " + good]).reason == "rc -3"


def test_users_reloaded_when_the_file_changes():
    db = make_db(users=[("alice", "127.0.0.1", "alicepw")])
    with proxy(db) as px:
        carol = Ua(px, "carol")
        ch = challenge_params(carol.register().hdr("WWW-Authenticate"))
        r = carol.register(credentials(ch, "carol", "carolpw", "REGISTER", register_ruri(px)))
        assert r.status == 401, r.text
        add_users(db, [("carol", "127.0.0.1", "carolpw")])
        deadline = time.time() + 10
        while True:
            ch = challenge_params(r.hdr("WWW-Authenticate"))
            r = carol.register(credentials(ch, "carol", "carolpw", "REGISTER",
                                           register_ruri(px)))
            if r.status == 200 or time.time() > deadline:
                break
            time.sleep(0.3)
        assert r.status == 200, r.text
        assert any("users reloaded" in l for l in px.log_lines("NOTICE")), px.stderr_text()


def test_missing_database_starts_and_every_user_is_unknown():
    d = tempfile.mkdtemp(prefix="sy-auth-")
    db = os.path.join(d, "absent.db")
    with proxy(db) as px:
        ua = Ua(px, "alice")
        ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
        r = ua.register(credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert r.status == 401, r.text
        warn = [l for l in px.log_lines("WARNING") if "auth_db" in l]
        assert len(warn) == 1 and "no such file" in warn[0], px.stderr_text()
        assert not os.path.exists(db), "auth_db must not create the users database"
        # the file appears: users are known without a restart
        add_users(db, [("alice", "127.0.0.1", "alicepw")])
        deadline = time.time() + 10
        while r.status != 200 and time.time() < deadline:
            time.sleep(0.3)
            ch = challenge_params(r.hdr("WWW-Authenticate"))
            r = ua.register(credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert r.status == 200, r.text


def test_stored_ha1_without_plain_password():
    """calculate_ha1 = 0 (OpenSIPS' default): the ha1 / ha1_sha256 columns are used and the
    plain password column may be empty."""
    d = tempfile.mkdtemp(prefix="sy-auth-")
    db = os.path.join(d, "users.db")
    add_users(db, [("alice", "127.0.0.1", "alicepw")])
    c = sqlite3.connect(db)
    c.execute("UPDATE subscriber SET password = ''")
    c.commit()
    c.close()
    cfg = CFG.replace('modparam("auth_db", "calculate_ha1", 1)\n'
                      'modparam("auth_db", "password_column", "password")\n', "")
    with Proxy(cfg, subst={"DB": db, "EXPIRE": 30, "ALGS": "SHA-256,MD5"}) as px:
        for i in (0, 1):
            ua = Ua(px, "alice")
            r = ua.register()
            chs = [challenge_params(v) for n, v in r.headers if n.lower() == "www-authenticate"]
            ok = ua.register(credentials(chs[i], "alice", "alicepw", "REGISTER",
                                         register_ruri(px)))
            assert ok.status == 200, (chs[i]["algorithm"], ok.text)


def test_challenge_through_the_transaction():
    """after t_newtran() the 401 is the transaction's reply: a retransmitted REGISTER gets the
    very same 401 (same nonce) back from tm, without running the script again (RFC 3261
    §17.2.1 / §17.2.2)"""
    db = make_db()
    cfg = CFG.replace('\tif (is_method("REGISTER")) {\n\t\tif (!www_authorize(',
                      '\tif (is_method("REGISTER")) {\n\t\tt_newtran();\n\t\tif (!www_authorize(')
    assert "t_newtran" in cfg
    with Proxy(cfg, subst={"DB": db, "EXPIRE": 30, "ALGS": "MD5"}) as px:
        ua = UdpPeer()
        req = make_request("REGISTER", register_ruri(px), ua.hostport(),
                           to="<sip:alice@127.0.0.1>", from_="<sip:alice@127.0.0.1>",
                           contact="<sip:alice@%s>" % ua.hostport())
        ua.send(req, addr=px.addr)
        first = ua.expect(401)
        ua.send(req, addr=px.addr)
        again = ua.expect(401)
        assert again.hdr("WWW-Authenticate") == first.hdr("WWW-Authenticate"), again.text
        assert again.to_tag == first.to_tag
        ch = challenge_params(first.hdr("WWW-Authenticate"))
        ua2 = Ua(px, "alice")
        ok = ua2.register(credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px)))
        assert ok.status == 200, ok.text


def test_nonce_count_refuses_replays():
    """modparam("auth", "nonce_count", 1): the same credentials twice are a replay (401
    again), the next nc on the same nonce is fine; without it the replay passes"""
    db = make_db()
    for on in (1, 0):
        cfg = CFG.replace('modparam("auth", "nonce_expire", {EXPIRE})',
                          'modparam("auth", "nonce_expire", {EXPIRE})\n'
                          'modparam("auth", "nonce_count", %d)' % on)
        with Proxy(cfg, subst={"DB": db, "EXPIRE": 30, "ALGS": "MD5"}) as px:
            ua = Ua(px, "alice")
            ch = challenge_params(ua.register().hdr("WWW-Authenticate"))
            cred1 = credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px))
            assert ua.register(cred1).status == 200
            r = ua.register(cred1)
            assert r.status == (401 if on else 200), r.text
            cred2 = credentials(ch, "alice", "alicepw", "REGISTER", register_ruri(px),
                                nc="00000002")
            assert ua.register(cred2).status == 200
            if on:
                assert any("replay" in l for l in px.log_lines("NOTICE")), px.stderr_text()


def test_credential_pseudo_variables():
    """$au $ad $ar $adu read Proxy-Authorization for a MESSAGE (Authorization for REGISTER),
    quoted-pairs resolved, the username split at '@'"""
    db = make_db()
    with proxy(db) as px:
        ua = Ua(px, "carol")
        ua.cseq += 1
        ruri = "sip:bob@127.0.0.1:%d" % px.port
        cred = ('Digest username="carol@example.net", realm="r\\"x", nonce="n", '
                'uri="%s", response="00"' % ruri)
        ua.peer.send(make_request("MESSAGE", ruri, ua.peer.hostport(), call_id=ua.cid,
                                  cseq=ua.cseq, headers=["Authorization: Digest username=\"no\", "
                                                         "realm=\"no\", nonce=\"n\", uri=\"u\", "
                                                         "response=\"0\"",
                                                         "Proxy-Authorization: " + cred]),
                     addr=px.addr)
        r = ua.final()
        assert r.reason == 'au=carol ad=example.net ar=r"x adu=%s' % ruri, r.text


def test_docs_add_user_line_works():
    """the sqlite3 line docs/auth.md gives operators creates a user the default settings
    (calculate_ha1 = 0, HA1 columns) accept, with MD5 and with SHA-256"""
    import shutil
    import subprocess
    from harness import REPO
    if not shutil.which("sqlite3"):
        print("sqlite3 (the command line tool) not installed: nothing to run")
        return
    with open(os.path.join(REPO, "docs", "auth.md")) as f:
        line = [l for l in f.read().split("\n") if l.startswith("U=alice D=127.0.0.1 P=")]
    assert len(line) == 1, "docs/auth.md: the add-user line moved"
    d = tempfile.mkdtemp(prefix="sy-auth-")
    db = os.path.join(d, "users.db")
    cmd = line[0].replace("build/users.db", db)
    for user, pw in (("alice", "secret"), ("bob", "it's \"quoted\"")):
        c = cmd.replace("U=alice", "U=%s" % user).replace("P='secret'",
                                                          "P='%s'" % pw.replace("'", "'\\''"))
        subprocess.run(["bash", "-c", c], check=True)
    cfg = CFG.replace('modparam("auth_db", "calculate_ha1", 1)\n'
                      'modparam("auth_db", "password_column", "password")\n', "")
    with Proxy(cfg, subst={"DB": db, "EXPIRE": 30, "ALGS": "SHA-256,MD5"}) as px:
        for user, pw in (("alice", "secret"), ("bob", "it's \"quoted\"")):
            for i in (0, 1):
                ua = Ua(px, user)
                r = ua.register()
                chs = [challenge_params(v) for n, v in r.headers
                       if n.lower() == "www-authenticate"]
                ok = ua.register(credentials(chs[i], user, pw, "REGISTER", register_ruri(px)))
                assert ok.status == 200, (user, chs[i]["algorithm"], ok.text)


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
