#!/usr/bin/env python3
"""soak.py: a steady mixed load for SOAK_SECONDS (default 1800, `make stress`) against the
binary under test (SY_BIN, the ASan+UBSan build): REGISTERs, calls (INVITE/180/200/ACK/BYE
through t_relay and record_route), cancelled calls (CANCEL after the 180, 487) and forked calls
(two branches: one busy, one answering), all SIPp, in a private network namespace.

Every SAMPLE seconds the proxy's RSS (VmRSS), open descriptors (/proc/PID/fd) and
transactions (stats tm_active) are recorded. Pass: no sanitizer report (Proxy.stop), the proxy
alive throughout, at most 1% of each kind of call failed, and over the last two thirds of the
run (the last 20 minutes of 30) the descriptor count does not move by more than 2 and the RSS
grows by less than max(8 MB, 5%). ASan's quarantine is capped (quarantine_size_mb=2) so that
its fill-up (16 MB took 150 s) is not mistaken for a leak. Bindings live 600 s (what
scenarios/uac_register.xml asks and checks), so the location table reaches its steady size
after 10 minutes: a run shorter than 15 minutes sees it grow inside the window.

    SY_BIN=build/asan/switchyard SOAK_SECONDS=180 python3 tests/stress/soak.py
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from harness import Proxy, SippProc, enter_netns, free_port, run_module, scenario  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "1800"))
SAMPLE = int(os.environ.get("SOAK_SAMPLE", "10"))
RATES = {"register": 10, "call": 10, "cancel": 3, "fork": 3}

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"
loadmodule "registrar.so"
loadmodule "usrloc.so"
modparam("tm", "wt_timer", 1)
modparam("usrloc", "db_url", "sqlite://{DB}")
route {
    if (!mf_process_maxfwd_header(10)) {
        sl_send_reply(483, "Too Many Hops");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (has_totag()) {
        loose_route();
        if (!t_relay()) {
            sl_reply_error();
        }
        exit;
    }
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    record_route();
    if ($rU == "cancel") {
        $du = "sip:127.0.0.1:{UAS_CANCEL}";
    } else if ($rU == "fork") {
        $ru = "sip:fork@127.0.0.1:{UAS_FORK_OK}";
        append_branch("sip:fork@127.0.0.1:{UAS_FORK_BUSY}");
    } else {
        $du = "sip:127.0.0.1:{UAS_CALL}";
    }
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}
"""


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def uas(scn, port, extra=()):
    return SippProc(["-sf", scenario(scn), "-i", "127.0.0.1", "-p", port, "-t", "u1",
                     "-timeout", "%ds" % (SECONDS + 120)] + list(extra))


def uac(scn_args, target, service, rate, extra=()):
    n = rate * SECONDS
    return SippProc(scn_args + [target, "-i", "127.0.0.1", "-p", free_port("both"), "-t", "u1",
                                "-s", service, "-r", rate, "-m", n, "-max_recv_loops", 10000,
                                "-timeout", "%ds" % (SECONDS + 90)] + list(extra))


def test_soak():
    enter_netns()
    ports = {k: free_port("both") for k in ("UAS_CALL", "UAS_CANCEL", "UAS_FORK_OK", "UAS_FORK_BUSY")}
    db = os.path.join(tempfile.mkdtemp(prefix="sy-soak-"), "loc.db")
    callees = [uas("uas_180_200", ports["UAS_CALL"]),
               uas("uas_180_cancel", ports["UAS_CANCEL"]),
               uas("uas_180_200", ports["UAS_FORK_OK"], ["-d", "200"]),
               uas("uas_486", ports["UAS_FORK_BUSY"])]
    asan = os.environ.get("ASAN_OPTIONS", "detect_leaks=1")
    env = {"ASAN_OPTIONS": asan + ":quarantine_size_mb=2"}
    samples = []
    try:
        with Proxy(CFG, name="soak", subst=dict(ports, DB=db), env=env) as px:
            target = "127.0.0.1:%d" % px.port
            callers = {
                "register": uac(["-sf", scenario("uac_register")], target, "reg",
                                RATES["register"]),
                "call": uac(["-sf", scenario("uac_invite_bye")], target, "call", RATES["call"]),
                "cancel": uac(["-sf", scenario("uac_cancel")], target, "cancel", RATES["cancel"],
                              ["-d", "300"]),
                "fork": uac(["-sf", scenario("uac_invite_bye")], target, "fork", RATES["fork"]),
            }
            t0 = time.monotonic()
            while time.monotonic() - t0 < SECONDS:
                assert px.alive(), "switchyard died after %.0fs:\n%s" % (
                    time.monotonic() - t0, px.stderr_text()[-4000:])
                st = px.stats()
                samples.append((time.monotonic() - t0, rss_mb(px.proc.pid), fds(px.proc.pid),
                                st.get("tm_active")))
                print("t=%5.0fs rss=%.1fMB fds=%d tm_active=%s" % samples[-1], flush=True)
                time.sleep(SAMPLE)
            results = {k: p.wait(120) for k, p in callers.items()}
            bad = []
            for k, r in results.items():
                ok, failed = r.count("SuccessfulCall") or 0, r.count("FailedCall") or 0
                print("%s: %d ok, %d failed" % (k, ok, failed))
                if failed > (ok + failed) // 100 or ok == 0:
                    bad.append("%s: %d ok, %d failed\n%s" % (k, ok, failed, r.dump()[-3000:]))
            window = [s for s in samples if s[0] >= SECONDS / 3.0]
            assert len(window) >= 3, "too few samples: %r" % samples
            fd_lo, fd_hi = min(s[2] for s in window), max(s[2] for s in window)
            if fd_hi - fd_lo > 2:
                bad.append("descriptors moved %d..%d over the last two thirds" % (fd_lo, fd_hi))
            r0, r1 = window[0][1], max(s[1] for s in window)
            if r1 - r0 > max(8.0, r0 * 0.05):
                bad.append("RSS grew %.1f -> %.1f MB over the last two thirds" % (r0, r1))
            assert not bad, "\n\n".join(bad)
    finally:
        for c in callees:
            c.kill()


if __name__ == "__main__":
    run_module(globals())
