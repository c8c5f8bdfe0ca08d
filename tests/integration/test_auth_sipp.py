"""test_auth_sipp.py: SIPp's own digest implementation ([authentication] in a scenario) against
the auth units: N registrations at 20/s through two workers, each answering its 401 (MD5,
qop=auth) with SIPp's credentials; all get 200 with the binding. A second run with a wrong
password gets no 200 at all, and one log line per attempt."""
import os
import sqlite3
import tempfile

from harness import Proxy, free_port, scenario, sipp

N = 40

CFG = """listen = udp:127.0.0.1:{PORT}
workers = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
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
	sl_send_reply(404, "Not Found");
}
"""


def setup(d):
    users = os.path.join(d, "users.db")
    db = sqlite3.connect(users)
    db.execute("CREATE TABLE subscriber (username TEXT, domain TEXT, password TEXT)")
    db.execute("INSERT INTO subscriber VALUES ('sippuser', '127.0.0.1', 'sipp-secret')")
    db.commit()
    db.close()
    return users


def run(px, password):
    return sipp(["-sf", scenario("uac_register_auth"), "127.0.0.1:%d" % px.port,
                 "-i", "127.0.0.1", "-p", free_port(), "-s", "sippuser", "-au", "sippuser",
                 "-ap", password, "-r", 20, "-m", N, "-timeout", "30s", "-timeout_error",
                 "-recv_timeout", "3000"], timeout=60)


def test_sipp_registers_with_digest():
    d = tempfile.mkdtemp(prefix="sy-auth-sipp-")
    users = setup(d)
    with Proxy(CFG, name="auth-sipp", workers=None, subst={"USERS": users}) as px:
        res = run(px, "sipp-secret")
        assert res.rc == 0 and res.count("SuccessfulCall") == N, res.dump()
        assert px.log_lines() == [], px.log_lines()


def test_sipp_wrong_passwords_never_200():
    d = tempfile.mkdtemp(prefix="sy-auth-sipp-")
    users = setup(d)
    with Proxy(CFG, name="auth-sipp-wrong", workers=None, subst={"USERS": users}) as px:
        res = run(px, "sipp-secreT")
        assert res.count("SuccessfulCall") == 0 and res.count("FailedCall") == N, res.dump()
        wrong = [l for l in px.log_lines("NOTICE") if "wrong password" in l]
        assert len(wrong) == N, px.stderr_text()[-3000:]


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
