#!/usr/bin/env python3
"""run.py: the long reliability runs of `make stress` (issue 7), against SY_BIN (the ASan+UBSan
build). Each step runs in its own process; the output ends with "N passed, N failed".

  loss      tests/integration/test_rel_loss.py with 1000 calls (10% UDP loss in a netns)
  capacity  SIPp call rate the proxy completes (>= 99% of calls) in a ramp of 5 s steps
  overload  tests/integration/test_rel_overload.py at five times that rate for 60 s
  soak      tests/stress/soak.py, 30 minutes of mixed load (SOAK_SECONDS overrides)

    SY_BIN=build/asan/switchyard python3 tests/stress/run.py [--only loss,overload,soak]
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
INTEG = os.path.join(REPO, "tests", "integration")
sys.path.insert(0, INTEG)

from harness import Proxy, SippProc, free_port, sipp  # noqa: E402

CAP_CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "sipmsgops.so"
modparam("tm", "wt_timer", 1)
route {
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (has_totag()) {
        loose_route();
        t_relay();
        exit;
    }
    record_route();
    $du = "sip:127.0.0.1:{UAS}";
    t_relay();
    exit;
}
"""


def capacity(step_seconds=5):
    """The highest rate of a doubling ramp (50, 100, 200 ... calls/s) at which at least 99% of
    the calls complete."""
    best = 0
    rate = 50
    while rate <= 6400:
        n = rate * step_seconds
        uas_port = free_port("both")
        uas = SippProc(["-sn", "uas", "-i", "127.0.0.1", "-p", uas_port, "-m", n, "-timeout", "60s"])
        try:
            with Proxy(CAP_CFG, name="capacity", subst={"UAS": uas_port}) as px:
                res = sipp(["-sn", "uac", "127.0.0.1:%d" % px.port, "-i", "127.0.0.1",
                            "-p", free_port("both"), "-r", rate, "-m", n, "-timeout",
                            "%ds" % (step_seconds + 20), "-max_recv_loops", 10000],
                           timeout=step_seconds + 40)
        finally:
            uas.kill()
        ok = res.count("SuccessfulCall") or 0
        print("capacity ramp: %d calls/s -> %d of %d ok" % (rate, ok, n), flush=True)
        if ok < n * 99 // 100:
            break
        best = rate
        rate *= 2
    return best


def step(name, argv, env, timeout):
    t0 = time.monotonic()
    print("== %s: %s" % (name, " ".join(argv)), flush=True)
    try:
        rc = subprocess.run(argv, env=env, cwd=REPO, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        rc = None
    print("== %s: %s (%.0f s)" % (name, "ok" if rc == 0 else "FAILED rc=%s" % rc,
                                  time.monotonic() - t0), flush=True)
    return rc == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="loss,overload,soak")
    a = ap.parse_args()
    only = a.only.split(",")
    env = dict(os.environ)
    results = []
    if "loss" in only:
        e = dict(env, REL_LOSS_CALLS="1000", REL_LOSS_TIMEOUT="900")
        results.append(step("loss", [sys.executable, os.path.join(INTEG, "test_rel_loss.py")], e, 1000))
    if "overload" in only:
        cap = capacity()
        print("measured capacity: %d calls/s" % cap, flush=True)
        if cap == 0:
            results.append(False)
        else:
            e = dict(env, REL_OVERLOAD_RATE=str(5 * cap), REL_OVERLOAD_SECONDS="60",
                     REL_OVERLOAD_MAX_TM=str(cap), REL_OVERLOAD_TIMEOUT="300")
            results.append(step("overload", [sys.executable,
                                             os.path.join(INTEG, "test_rel_overload.py")], e, 400))
    if "soak" in only:
        secs = int(env.get("SOAK_SECONDS", "1800"))
        results.append(step("soak", [sys.executable, os.path.join(HERE, "soak.py")], env, secs + 600))
    npass = sum(1 for r in results if r)
    print("%d passed, %d failed" % (npass, len(results) - npass))
    sys.exit(0 if results and npass == len(results) else 1)


if __name__ == "__main__":
    main()
