"""test_core_config.py: the command line contract of DESIGN.md §1. `switchyard -c -f FILE`
checks a config and exits 0, or 1 with one "file:line:col: message" line per problem (the
operator's editor jumps there); -V prints the version. A check never starts listening."""
import os
import re
import socket
import subprocess

import tempfile

from harness import (REPO, Proxy, TcpPeer, UdpPeer, check_config, enter_netns, free_port,
                     make_request, sy_bin)

TIMEOUT = 120

GOOD = """listen = udp:127.0.0.1:{PORT}
route {
    forward("udp:127.0.0.1:9");
}
"""


def error_lines(out, path):
    """(line, col, message) of every "path:line:col: message" line."""
    pat = re.compile(r"^%s:(\d+):(\d+): (.+)$" % re.escape(path), re.M)
    return [(int(a), int(b), c) for a, b, c in pat.findall(out)]


def check_bad(cfg, want_lines, what):
    rc, out, path = check_config(cfg)
    errs = error_lines(out, path)
    assert rc == 1, "%s: -c must exit 1, got %s; output:\n%s" % (what, rc, out)
    assert errs, "%s: no '%s:line:col: message' line in the output:\n%s" % (what, path, out)
    assert any(l in want_lines for l, _, _ in errs), \
        "%s: error reported at line(s) %s, expected one of %s:\n%s" % (
            what, [l for l, _, _ in errs], want_lines, out)
    assert all(c >= 1 for _, c, _ in errs), "%s: columns start at 1:\n%s" % (what, out)
    return errs


def test_default_config_checks():
    cfg = os.path.join(REPO, "etc", "switchyard.cfg")
    assert os.path.exists(cfg), "etc/switchyard.cfg is missing"
    p = subprocess.run([sy_bin(), "-c", "-f", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60, cwd=REPO)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0, "-c -f etc/switchyard.cfg exited %d:\n%s" % (p.returncode, out)
    assert not error_lines(out, cfg) and not error_lines(out, "etc/switchyard.cfg"), out


def test_shipped_config_runs():
    # what `make run` starts, unmodified: on 127.0.0.1:5060 (UDP and TCP), so in a private
    # network namespace, and in a scratch directory for its relative database path
    enter_netns()
    with open(os.path.join(REPO, "etc", "switchyard.cfg")) as f:
        cfg = f.read()
    scratch = tempfile.mkdtemp(prefix="sy-run-")
    os.makedirs(os.path.join(scratch, "build"))
    with Proxy(cfg, name="shipped", workers=None, cwd=scratch) as px:
        assert px.port == 5060 and px.tcpport == 5060, (px.port, px.tcpport)
        ua = UdpPeer(target=px.addr)
        ua.send(make_request("OPTIONS", "sip:nobody@127.0.0.1", ua.hostport(), max_forwards=0))
        assert ua.expect(lambda m: m.status is not None).status in (483, 200)
        c = TcpPeer(connect=px.tcpaddr)
        c.send(make_request("OPTIONS", "sip:nobody@127.0.0.1", c.hostport(), transport="TCP",
                            max_forwards=0))
        assert c.expect(lambda m: m.status is not None).status in (483, 200)


def test_minimal_config_checks():
    rc, out, path = check_config(GOOD)
    assert rc == 0, "a minimal forward() config fails -c (%s):\n%s" % (rc, out)
    assert not error_lines(out, path), out


def test_check_does_not_listen():
    # -c on a config whose port is taken still exits 0: checking must not bind
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        rc, out, _ = check_config(GOOD, subst={"PORT": s.getsockname()[1]})
    finally:
        s.close()
    assert rc == 0, "-c exited %s with the listen port in use:\n%s" % (rc, out)


def test_unknown_function():
    errs = check_bad("""listen = udp:127.0.0.1:{PORT}
route {
    no_such_function_here("x");
    forward("udp:127.0.0.1:9");
}
""", [3], "unknown function")
    assert any("no_such_function_here" in m for _, _, m in errs), \
        "the message should name the unknown function: %r" % errs


def test_missing_semicolon():
    # the error is at the end of line 3 or at the token that follows (line 4)
    check_bad("""listen = udp:127.0.0.1:{PORT}
route {
    forward("udp:127.0.0.1:9")
    exit;
}
""", [3, 4], "missing ';'")


def test_undefined_route():
    errs = check_bad("""listen = udp:127.0.0.1:{PORT}
route {
    forward("udp:127.0.0.1:9");
    route(nowhere_to_be_found);
}
route[somewhere] {
    exit;
}
""", [4], "undefined route")
    assert any("nowhere_to_be_found" in m for _, _, m in errs), \
        "the message should name the route: %r" % errs


def test_every_problem_reported():
    # two independent compile errors: one line each (DESIGN.md §1: "1 with file:line:col:
    # message lines"), so the operator fixes both in one round
    rc, out, path = check_config("""listen = udp:127.0.0.1:{PORT}
route {
    first_unknown_fn();
    forward("udp:127.0.0.1:9");
    second_unknown_fn();
}
""")
    lines = sorted(l for l, _, _ in error_lines(out, path))
    assert rc == 1 and lines == [3, 5], "want errors at lines 3 and 5, got %s (rc %s):\n%s" % (
        lines, rc, out)


def test_missing_file():
    missing = "/nonexistent/sy-%d.cfg" % free_port()
    p = subprocess.run([sy_bin(), "-c", "-f", missing], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 1, "missing config: exit %d:\n%s" % (p.returncode, out)
    assert missing in out, "the error should name the file:\n%s" % out


def test_version():
    p = subprocess.run([sy_bin(), "-V"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0, "-V exited %d:\n%s" % (p.returncode, out)
    assert re.search(r"switchyard\S*\s+v?\d+\.\d+", out, re.I), "-V printed %r" % out


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
