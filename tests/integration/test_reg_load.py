"""test_reg_load.py: 2000 registrations of distinct users from SIPp at 400/s into a proxy with
two workers (so saves run concurrently on the sharded table and the store's queue), then every
binding is found by lookup-side checks and is on disk."""
import os
import sqlite3
import tempfile
import time

from harness import Proxy, UdpPeer, free_port, make_request, rand_token, sipp

TIMEOUT = 120
N = 2000

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
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


def test_concurrent_registrations():
    db = os.path.join(tempfile.mkdtemp(prefix="sy-regload-"), "location.db")
    with Proxy(CFG, name="reg-load", workers=2, subst={"DB": db}) as px:
        res = sipp(["-sf", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "scenarios", "uac_register.xml"),
                    "127.0.0.1:%d" % px.port, "-i", "127.0.0.1", "-p", free_port(),
                    "-r", 400, "-m", N, "-timeout", "60s", "-timeout_error"], timeout=90)
        assert res.rc == 0 and res.count("SuccessfulCall") == N, res.dump()
        ua = UdpPeer()
        for i in (1, N // 2, N):
            cid = rand_token()
            ua.send(make_request("OPTIONS", "sip:u%d@127.0.0.1" % i, ua.hostport(), call_id=cid),
                    addr=px.addr)
            r = ua.expect(lambda m: not m.is_request and m.call_id == cid)
            assert r.status == 200, "u%d: %s" % (i, r.text)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
            rows = con.execute("SELECT COUNT(DISTINCT aor) FROM location").fetchone()[0]
            con.close()
            if rows == N:
                break
            time.sleep(0.2)
        assert rows == N, "%d of %d AORs on disk" % (rows, N)
        px.stop()


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
