#!/usr/bin/env python3
"""run.py: the one test runner `make test` calls. Runs, and counts:

  (a) every cmocka unit binary in <asan>/unit/ (CMOCKA_MESSAGE_OUTPUT=stdout; the
      "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" lines are the counts; a binary
      that crashes, times out or exits non-zero without a FAILED line counts one failure more);
  (b) every fuzz replay binary in <asan>/fuzz/ over tests/fuzz/corpus/<name>/ (one test each);
      for (a) and (b) the list comes from tests/unit/*.c and tests/fuzz/fuzz_*.c: a binary that
      is missing or older than its source or a library it links (its build failed; `make test`
      builds with -k so one broken test does not hide the others) is one failed test;
  (c) every `def test_*()` of tests/integration/test_*.py, each in its own python process
      (so a hung proxy or a leaked socket cannot leak into the next test), with a per-test
      timeout (module-level `TIMEOUT = seconds` overrides the default), output captured and
      printed when it fails. SY_BIN points at the binary under test: <asan>/switchyard unless
      the environment already sets it. Independent files run in 2 parallel processes.

Ends with the exact line "N passed, N failed"; exits 1 if anything failed or nothing ran.

  python3 tests/run.py [--build DIR] [--asan DIR] [--only SUBSTR] [--no-unit]
                       [--no-integration] [-j N] [-v]
--only matches a substring of a test's name: unit/<binary>, fuzz/<binary>, <file>.py::<function>.
"""
import argparse
import ast
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTEG = os.path.join(REPO, "tests", "integration")
CORPUS = os.path.join(REPO, "tests", "fuzz", "corpus")

UNIT_TIMEOUT = 300
FUZZ_TIMEOUT = 600
TEST_TIMEOUT = 120
BUDGET = 15 * 60           # the whole suite, on 2 cores

PASSED_RE = re.compile(r"^\[\s*PASSED\s*\]\s+(\d+)\s+test", re.M)
FAILED_RE = re.compile(r"^\[\s*FAILED\s*\]\s+(\d+)\s+test", re.M)


class Tally:
    """Thread-safe pass/fail counts and serialised printing."""

    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.times = []            # (seconds, name): the suite must stay under 15 minutes
        self.verbose = verbose
        self.lock = threading.Lock()

    def report(self, name, npass, nfail, secs, output, why=""):
        with self.lock:
            self.times.append((secs, name))
            self.passed += npass
            self.failed += nfail
            if nfail:
                self.failures.append(name)
                print("FAIL %s (%.1fs)%s" % (name, secs, (": " + why) if why else ""))
                print(indent(output))
            elif self.verbose:
                print("ok   %s (%.1fs, %d passed)" % (name, secs, npass))
                if self.verbose > 1 and output.strip():
                    print(indent(output))
            sys.stdout.flush()


def indent(text, limit=400):
    lines = text.rstrip("\n").split("\n")
    if len(lines) > limit:
        lines = lines[: limit // 4] + ["    ... %d lines cut ..." % (len(lines) - limit)] + lines[-(limit * 3 // 4):]
    return "\n".join("    | " + l for l in lines)


_active = set()            # process groups running now, killed on Ctrl-C
_stopping = threading.Event()


def kill_active():
    _stopping.set()
    for pgid in list(_active):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_capture(cmd, timeout, env=None, cwd=REPO):
    """Run cmd in its own process group (so a timeout kills every child it started, e.g. the
    proxy a test spawned). Returns (rc, output text, seconds); rc is None on timeout."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=env, cwd=cwd, start_new_session=True)
    _active.add(p.pid)
    if _stopping.is_set():          # Ctrl-C raced with the start
        os.killpg(p.pid, signal.SIGKILL)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        rc = None
    # the test's own children (a proxy left running) die with the group
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _active.discard(p.pid)
    return rc, out.decode("utf-8", "replace"), time.monotonic() - t0


def makefile_deps():
    """{layer: [layers its unit tests link]} from the Makefile's LAYERS / DEPS_* lines."""
    try:
        with open(os.path.join(REPO, "Makefile")) as f:
            mk = f.read()
    except OSError:
        return {}
    m = re.search(r"^LAYERS\s*:?=\s*(.*)$", mk, re.M)
    layers = m.group(1).split() if m else []
    deps = {}
    for name, val in re.findall(r"^DEPS_(\w+)\s*:?=\s*(.*)$", mk, re.M):
        deps[name] = layers if "$(LAYERS)" in val else val.split()
    return deps


def stale_reason(binary, source, libs):
    """Why binary cannot be trusted to be this tree's build of source: missing, or older than
    its source or a library it links (make had to relink it and failed). None when fine."""
    if not os.path.exists(binary):
        return "not built (its compile or link failed, see the build output)"
    t = os.path.getmtime(binary)
    for dep in [source] + libs:
        if os.path.exists(dep) and os.path.getmtime(dep) > t:
            return "stale: older than %s (edited since the build, or its rebuild failed)" % \
                os.path.relpath(dep, REPO)
    return None


def expected_binaries(asan):
    """[(name, binary, source, libs)] for every unit test and fuzz target source in the tree,
    so a test whose build failed counts as failed instead of vanishing."""
    deps = makefile_deps()
    out = []
    for kind, d, pat, layer_idx in (("unit", "tests/unit", r"^([a-z]+)_\w+\.c$", 1),
                                    ("fuzz", "tests/fuzz", r"^fuzz_([a-z]+)_\w+\.c$", 1)):
        src_dir = os.path.join(REPO, d)
        if not os.path.isdir(src_dir):
            continue
        for fn in sorted(os.listdir(src_dir)):
            m = re.match(pat, fn)
            if not m:
                continue
            layer = m.group(layer_idx)
            libs = [os.path.join(asan, "lib%s.a" % l) for l in deps.get(layer, [])]
            out.append(("%s/%s" % (kind, fn[:-2]), os.path.join(asan, kind, fn[:-2]),
                        os.path.join(src_dir, fn), libs))
    return out


def rc_text(rc):
    if rc is None:
        return "timed out"
    if rc < 0:
        return "killed by signal %d" % -rc
    return "exit %d" % rc


def run_unit(path, tally):
    name = "unit/" + os.path.basename(path)
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout")
    rc, out, secs = run_capture([path], UNIT_TIMEOUT, env=env)
    npass = sum(int(n) for n in PASSED_RE.findall(out))
    nfail = sum(int(n) for n in FAILED_RE.findall(out))
    why = ""
    if rc != 0 and nfail == 0:
        nfail = 1          # crashed, sanitizer abort, timeout: not a silent pass
        why = rc_text(rc)
    elif rc == 0 and npass == 0 and nfail == 0:
        nfail = 1
        why = "no cmocka summary line"
    tally.report(name, npass, nfail, secs, out, why)


def run_fuzz(path, tally):
    base = os.path.basename(path)
    name = "fuzz/" + base
    corpus = os.path.join(CORPUS, base)
    files = []
    if os.path.isdir(corpus):
        files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus)
                       if os.path.isfile(os.path.join(corpus, f)))
    # argv stays bounded: the replay driver takes files; chunk a large corpus
    rc, out, secs = 0, "", 0.0
    chunks = [files[i:i + 500] for i in range(0, len(files), 500)] or [[]]
    for chunk in chunks:
        rc, o, s = run_capture([path] + chunk, FUZZ_TIMEOUT)
        out += o
        secs += s
        if rc != 0:
            break
    why = "" if rc == 0 else rc_text(rc)
    tally.report(name + " (%d inputs)" % len(files), 0 if rc else 1, 1 if rc else 0, secs, out, why)


def discover_integration():
    """[(file, [(func, timeout)])] from the AST, without importing anything."""
    out = []
    if not os.path.isdir(INTEG):
        return out
    for fn in sorted(os.listdir(INTEG)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        path = os.path.join(INTEG, fn)
        with open(path, encoding="utf-8") as f:
            src = f.read()
        try:
            tree = ast.parse(src, path)
        except SyntaxError as e:
            out.append((fn, [("<syntax>", str(e))]))
            continue
        timeout = TEST_TIMEOUT
        tests = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Name) and node.targets[0].id == "TIMEOUT" and \
                    isinstance(node.value, ast.Constant) and isinstance(node.value.value, (int, float)):
                timeout = node.value.value
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                tests.append(node.name)
        out.append((fn, [(t, timeout) for t in tests]))
    return out


RUNNER = ("import sys, importlib; sys.path.insert(0, %r); "
          "m = importlib.import_module(sys.argv[1]); getattr(m, sys.argv[2])()")


def run_integration_file(fn, tests, tally, env):
    for test, timeout in tests:
        if _stopping.is_set():
            return
        name = "%s::%s" % (fn, test)
        if test == "<syntax>":
            tally.report(name, 0, 1, 0, str(timeout), "syntax error")
            continue
        rc, out, secs = run_capture([sys.executable, "-c", RUNNER % INTEG, fn[:-3], test],
                                    timeout, env=env, cwd=INTEG)
        tally.report(name, 1 if rc == 0 else 0, 0 if rc == 0 else 1, secs, out,
                     "" if rc == 0 else rc_text(rc))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="plain build dir (unused by the tests themselves)")
    ap.add_argument("--asan", default=os.path.join("build", "asan"), help="ASan+UBSan build dir")
    ap.add_argument("--only", default=None, help="run only tests whose name contains this")
    ap.add_argument("--no-unit", action="store_true", help="skip unit and fuzz replay binaries")
    ap.add_argument("--no-integration", action="store_true")
    ap.add_argument("-j", type=int, default=2, help="integration files run in parallel (default 2)")
    ap.add_argument("-v", action="count", default=0, help="list passing tests too (-vv: their output)")
    a = ap.parse_args()

    asan = os.path.abspath(os.path.join(REPO, a.asan)) if not os.path.isabs(a.asan) else a.asan
    tally = Tally(a.v)
    t0 = time.monotonic()
    want = (lambda name: a.only in name) if a.only else (lambda name: True)

    if not a.no_unit:
        # what the tree says should exist, not what happens to lie in the build dir: a test
        # whose build failed counts as failed, a leftover binary of a deleted test is ignored
        for name, binary, source, libs in expected_binaries(asan):
            if not want(name):
                continue
            why = stale_reason(binary, source, libs)
            if why:
                tally.report(name, 0, 1, 0, "", why)
            elif name.startswith("unit/"):
                run_unit(binary, tally)
            else:
                run_fuzz(binary, tally)

    if not a.no_integration and "SY_BIN" not in os.environ:
        sy = os.path.join(asan, "switchyard")
        libs = [os.path.join(asan, f) for f in (os.listdir(asan) if os.path.isdir(asan) else [])
                if f.startswith("lib") and f.endswith(".a")]
        why = stale_reason(sy, os.path.join(REPO, "src", "main.c"), libs)
        if why:
            tally.report("build/switchyard", 0, 1, 0, "", why)

    if not a.no_integration:
        env = dict(os.environ)
        env.setdefault("SY_BIN", os.path.join(asan, "switchyard"))
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        # sanitizer reports must reach the harness's stderr check, and must not hide leaks
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        files = []
        for fn, tests in discover_integration():
            sel = [t for t in tests if want("%s::%s" % (fn, t[0]))]
            if sel:
                files.append((fn, sel))
        # a.j lanes, each taking the next file; daemon threads, so Ctrl-C in the main thread
        # is not held up by a lane waiting for its test
        todo = queue.Queue()
        for f in files:
            todo.put(f)

        def lane():
            while not _stopping.is_set():
                try:
                    fn, tests = todo.get_nowait()
                except queue.Empty:
                    return
                run_integration_file(fn, tests, tally, env)

        lanes = [threading.Thread(target=lane, daemon=True) for _ in range(max(1, a.j))]
        for t in lanes:
            t.start()
        for t in lanes:
            while t.is_alive():
                t.join(0.2)

    if tally.failures:
        print("failed: " + ", ".join(tally.failures))
    total = time.monotonic() - t0
    if a.v or total > BUDGET / 2:
        print("slowest: " + ", ".join("%s %.0fs" % (n, t) for t, n in sorted(tally.times)[-5:][::-1]))
    if total > BUDGET:
        print("warning: the suite took %.0fs, over its %ds budget" % (total, BUDGET))
    print("(%.0fs)" % total)
    print("%d passed, %d failed" % (tally.passed, tally.failed))
    return 1 if tally.failed or tally.passed == 0 else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # the tests run in sessions of their own, so Ctrl-C does not reach them: end them here
        kill_active()
        print("interrupted")
        sys.exit(130)
