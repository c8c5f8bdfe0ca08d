"""test_rel_sipvicious.py: the SIPVicious scanners (Debian package sipvicious) at full speed
against a registrar/proxy on 127.0.0.1: svmap (OPTIONS sweep), svwar (extension enumeration
with REGISTER, INVITE and OPTIONS over a short range) and svcrack (password guessing over a
short range) against digest authentication (auth + auth_db): svcrack must find nothing for a
user whose password is outside its range, and must find the weak password of another (so the
crack really ran against our digest check). Bounded: short ranges, a timeout per tool. None
may crash the proxy: it still answers and registers afterwards, and stops cleanly (no
sanitizer report). Runs in a private
network namespace, so the scanners cannot reach anything but the proxy. Skipped (passes with a
note) when the package is not installed."""
import hashlib
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time

from harness import Proxy, UdpPeer, enter_netns, make_request

TIMEOUT = 180

CFG = """listen = udp:127.0.0.1:{PORT}
listen = tcp:127.0.0.1:{TCPPORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("usrloc", "db_url", "sqlite://{DB}")
modparam("auth_db", "db_url", "sqlite://{USERS}")
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
route {
    if (is_method("REGISTER")) {
        if (!www_authorize("", "subscriber")) {
            www_challenge("", "auth");
            exit;
        }
        if ($au != $tU) {
            sl_send_reply(403, "Forbidden auth ID");
            exit;
        }
        save("location");
        exit;
    }
    if (is_method("OPTIONS")) {
        sl_send_reply(200, "OK");
        exit;
    }
    if (registered("location")) {
        sl_send_reply(486, "Busy Here");
        exit;
    }
    sl_send_reply(404, "Not Found");
}
"""


def tool(argv, timeout=60):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


# 100's password is outside svcrack's numeric range, 101's inside it (svcrack paces itself
# to about 3 tries a second: short ranges); "after" registers
# between the runs
USERS = (("100", "s3cret-not-a-number"), ("101", "277"), ("after", "after-pw"))


def make_users(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE subscriber (username TEXT, domain TEXT, password TEXT)")
    for u, pw in USERS:
        db.execute("INSERT INTO subscriber VALUES (?, '127.0.0.1', ?)", (u, pw))
    db.commit()
    db.close()


def still_serves(px):
    ua = UdpPeer(target=px.addr)
    ua.send(make_request("OPTIONS", "sip:ping@127.0.0.1:%d" % px.port, ua.hostport()))
    assert ua.expect(200, 5).status == 200
    ruri = "sip:127.0.0.1:%d" % px.port
    cid = "after-%f" % time.time()
    auth = []
    for cseq in (1, 2):
        ua.send(make_request("REGISTER", ruri, ua.hostport(), call_id=cid, cseq=cseq,
                             to="<sip:after@127.0.0.1>", from_="<sip:after@127.0.0.1>",
                             contact="<sip:after@%s>" % ua.hostport(),
                             headers=["Expires: 60"] + auth))
        r = ua.expect(lambda m: not m.is_request and m.cseq[0] == cseq, 5)
        if cseq == 1:
            assert r.status == 401, r.text
            nonce = r.hdr("WWW-Authenticate").split('nonce="')[1].split('"')[0]
            md5 = lambda x: hashlib.md5(x.encode()).hexdigest()
            resp = md5("%s:%s:00000001:c1:auth:%s" % (md5("after:127.0.0.1:after-pw"), nonce,
                                                      md5("REGISTER:" + ruri)))
            auth = ['Authorization: Digest username="after", realm="127.0.0.1", nonce="%s", '
                    'uri="%s", response="%s", qop=auth, nc=00000001, cnonce="c1"'
                    % (nonce, ruri, resp)]
    assert r.status == 200, r.text


def test_sipvicious_scanners():
    if not shutil.which("svmap"):
        print("sipvicious not installed (apt-get install sipvicious): nothing to run")
        return
    enter_netns()
    d = tempfile.mkdtemp(prefix="sy-sv-")
    db, users = d + "/loc.db", d + "/users.db"
    make_users(users)
    with Proxy(CFG, name="rel-sipvicious", subst={"DB": db, "USERS": users}) as px:
        p = str(px.port)
        runs = [
            ["svmap", "-p", p, "-t", "0.2", "127.0.0.1"],
            ["svmap", "-p", p, "-m", "INVITE", "-t", "0.2", "127.0.0.1"],
            ["svwar", "-p", p, "-e", "100-130", "-m", "REGISTER", "-t", "0.2", "127.0.0.1"],
            ["svwar", "-p", p, "-e", "100-130", "-m", "INVITE", "-t", "0.2", "127.0.0.1"],
            ["svwar", "-p", p, "-e", "100-130", "-m", "OPTIONS", "-t", "0.2", "127.0.0.1"],
            ["svcrack", "-p", p, "-u", "100", "-r", "1-60", "-t", "0.2", "127.0.0.1"],
            ["svcrack", "-p", p, "-u", "101", "-r", "250-300", "-t", "0.2", "127.0.0.1"],
        ]
        cracked = {}
        for argv in runs:
            t0 = time.monotonic()
            try:
                rc, out = tool(argv, 40 if argv[0] == "svcrack" else 25)
            except subprocess.TimeoutExpired:
                rc, out = None, "(timed out: the tool waits on silence; the proxy is checked anyway)"
            assert px.alive(), "switchyard died under %s:\n%s\n%s" % (" ".join(argv), out[-2000:],
                                                                      px.stderr_text()[-3000:])
            print("%s: rc %s, %.1fs" % (" ".join(argv[:1] + argv[3:5]), rc, time.monotonic() - t0))
            if argv[0] == "svcrack":
                cracked[argv[4]] = out
            still_serves(px)
        # the digest check holds: nothing for 100, and svcrack's own digests are right (it
        # finds 101's weak password, so the run was not just a stream of rejected garbage)
        assert "found nothing" in cracked["100"] and "s3cret" not in cracked["100"], \
            cracked["100"][-2000:]
        assert re.search(r"\b101\b.*\b277\b", cracked["101"]), cracked["101"][-2000:]
        # svmap found it: the proxy answered the sweep
        rc, out = tool(["svmap", "-p", p, "-t", "0.5", "127.0.0.1"])
        assert "127.0.0.1:%s" % p in out, "svmap did not see the proxy answer:\n" + out[-2000:]


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
