"""test_ds_probe.py: the dispatcher's prober through the real binary: OPTIONS pings every
ds_ping_interval; a destination that stays silent for ds_probing_threshold pings is taken out
(calls go to the next one), and comes back when it answers again; options_reply_codes counts
as an answer; TCP destinations are pinged on connections of their own."""
import os
import re
import socket
import tempfile
import threading
import time

from harness import Proxy, TcpPeer, UdpPeer, build_reply, make_ack, make_request, via_target

TIMEOUT = 120

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "tm.so"
loadmodule "maxfwd.so"
loadmodule "dispatcher.so"
modparam("tm", "fr_timeout", 1)
modparam("tm", "T1_timer", 100)
modparam("tm", "wt_timer", 1)
modparam("dispatcher", "list_file", "{LIST}")
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_threshold", 2)
modparam("dispatcher", "ds_probing_mode", MODE)
modparam("dispatcher", "ds_ping_from", "sip:prober@lb.example")
modparam("dispatcher", "options_reply_codes", "404")
route {
	if (!mf_process_maxfwd_header(10)) {
		sl_send_reply(483, "Too Many Hops");
		exit;
	}
	if (!ds_select_dst(1, 8)) {
		send_reply(503, "No Destination");
		exit;
	}
	t_relay();
}
"""


class Gateway:
    """a UDP peer that answers pings with self.code (None: silent) and keeps the INVITEs"""

    def __init__(self):
        self.peer = UdpPeer()
        self.code = None
        self.forge = None   # called with each ping: sends whatever else it likes
        self.pings = []
        self.invites = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            m = self.peer.recv(timeout=0.1)
            if m is None or not m.is_request:
                continue
            if m.method == "OPTIONS":
                self.pings.append((time.monotonic(), m))
                if self.code:
                    self.peer.reply(m, self.code)
                if self.forge:
                    self.forge(m)
            elif m.method == "INVITE":
                if all(i.call_id != m.call_id for i in self.invites):
                    self.invites.append(m)
                    self.peer.reply(m, 486)

    def stop(self):
        self._stop = True
        self._t.join()


def write_list(lines):
    d = tempfile.mkdtemp(prefix="sy-ds-")
    p = os.path.join(d, "dispatcher.list")
    with open(p, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return p


def wait_log(px, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in px.stderr_text():
            return True
        time.sleep(0.1)
    raise AssertionError("no log line %r in:\n%s" % (text, px.stderr_text()))


def call(px, ua):
    req = make_request("INVITE", "sip:bob@example.com", ua.hostport())
    ua.send(req)
    r = ua.expect(lambda m: m.status >= 200, timeout=4)
    if r.status != 503:
        ua.send(make_ack(req, r))
    return req, r


def test_silent_destination_out_then_back():
    a, b = Gateway(), Gateway()
    b.code = 200
    lst = write_list(["1 sip:127.0.0.1:%d 0 20" % a.peer.port,
                      "1 sip:127.0.0.1:%d 0 10" % b.peer.port])
    try:
        with Proxy(CFG.replace("MODE", "1"), subst={"LIST": lst}) as px:
            ua = UdpPeer(target=px.addr)
            # before any ping failed, a (priority 20) takes the call
            call(px, ua)
            assert len(a.invites) == 1 and not b.invites
            # a never answers: out after 2 unanswered pings (about 3 intervals)
            wait_log(px, "sip:127.0.0.1:%d (set 1) failed 2 pings in a row" % a.peer.port, 8)
            call(px, ua)
            assert len(a.invites) == 1 and len(b.invites) == 1, (a.invites, b.invites)
            # the pings a got are well formed and come from the prober's own socket
            t0, p = a.pings[0]
            assert p.ruri == "sip:127.0.0.1:%d" % a.peer.port
            assert p.hdr("From").startswith("<sip:prober@lb.example>;tag=")
            assert p.hdrs("Via")[0].startswith("SIP/2.0/UDP 127.0.0.1:")
            assert "rport" in p.hdrs("Via")[0]
            assert p.hdr("Max-Forwards") == "70"
            assert p.cseq[1] == "OPTIONS"
            gaps = [a.pings[i + 1][0] - a.pings[i][0] for i in range(len(a.pings) - 1)]
            assert gaps and all(0.7 < g < 1.6 for g in gaps), gaps
            # b answered every ping: never taken out
            assert "127.0.0.1:%d (set 1) failed" % b.peer.port not in px.stderr_text()
            # a answers again (404 is in options_reply_codes): back in at the next ping
            a.code = 404
            wait_log(px, "sip:127.0.0.1:%d (set 1) answers pings again" % a.peer.port, 4)
            call(px, ua)
            assert len(a.invites) == 2, a.invites
            px.wait_stat("tm_active", 0)
    finally:
        a.stop()
        b.stop()


def test_mode0_pings_only_probing_ones():
    a, b, c = Gateway(), Gateway(), Gateway()
    # a starts probing (list flag 2): not used, pinged; b and c active: not pinged in mode 0
    lst = write_list(["1 sip:127.0.0.1:%d 2 20" % a.peer.port,
                      "1 sip:127.0.0.1:%d 0 10" % b.peer.port,
                      "1 sip:127.0.0.1:%d;transport=tcp 0 0" % c.peer.port])
    cfg = CFG.replace("MODE", "0").replace("listen = udp:127.0.0.1:{PORT}",
                                           "listen = udp:127.0.0.1:{PORT}\n"
                                           "listen = tcp:127.0.0.1:{TCPPORT}")
    try:
        with Proxy(cfg, subst={"LIST": lst}) as px:
            ua = UdpPeer(target=px.addr)
            call(px, ua)
            assert len(b.invites) == 1 and not a.invites
            time.sleep(2.5)
            assert len(a.pings) >= 2, a.pings
            assert not b.pings and not c.pings
            a.code = 200
            wait_log(px, "sip:127.0.0.1:%d (set 1) answers pings again" % a.peer.port, 4)
            call(px, ua)
            assert len(a.invites) == 1
            # active now, so mode 0 stops pinging it
            n = len(a.pings)
            time.sleep(2.2)
            assert len(a.pings) <= n + 1, (n, len(a.pings))
            px.wait_stat("tm_active", 0)
    finally:
        for g in (a, b, c):
            g.stop()


def test_tcp_destinations_pinged_over_tcp():
    gw = TcpPeer()
    dead = TcpPeer()
    dead_port = dead.port
    dead.close()            # nothing listens there: every connect is refused
    lst = write_list(["1 sip:127.0.0.1:%d;transport=tcp 0 20" % dead_port,
                      "1 sip:127.0.0.1:%d;transport=tcp 0 10" % gw.port])
    cfg = CFG.replace("MODE", "1").replace("listen = udp:127.0.0.1:{PORT}",
                                           "listen = udp:127.0.0.1:{PORT}\n"
                                           "listen = tcp:127.0.0.1:{TCPPORT}")
    with Proxy(cfg, subst={"LIST": lst}) as px:
        # the live gateway gets TCP pings and answers them: it stays in
        for _ in range(3):
            p = gw.expect("OPTIONS", timeout=3)
            assert p.hdrs("Via")[0].startswith("SIP/2.0/TCP 127.0.0.1:"), p.hdrs("Via")[0]
            gw.reply(p, 200)
        # the refused one is out after 2 rounds
        wait_log(px, "sip:127.0.0.1:%d;transport=tcp (set 1) failed 2 pings" % dead_port, 4)
        assert "127.0.0.1:%d;transport=tcp (set 1) failed" % gw.port not in px.stderr_text()
        # so a call goes to the live one (alg 8 would take the dead one first)
        ua = UdpPeer(target=px.addr)
        req = make_request("INVITE", "sip:bob@example.com", ua.hostport())
        ua.send(req)
        inv = gw.expect("INVITE", timeout=3)
        gw.reply(inv, 486)
        r = ua.expect(486, timeout=3)
        ua.send(make_ack(req, r))
        px.wait_stat("tm_active", 0)


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())


def test_reply_for_another_destination_not_taken():
    """A gateway sees its own pings, so it knows the sequence numbers of the others' (one
    ping per destination per round, counted up by one) and shares their IP here: it answers
    a 200 for the silent destination pinged just before it, with that destination's index
    and sequence number in the branch and CSeq. Before the branch carried a MAC, the prober
    took it, and a dead gateway stayed in (or came back) on a stranger's word."""
    a, b = Gateway(), Gateway()
    b.code = 200
    forged = []

    def forge(ping):
        mb = re.search(r"branch=z9hG4bKdsp\.(\d+)\.(\d+)", ping.hdrs("Via")[0])
        idx, seq = int(mb.group(1)), int(mb.group(2))
        assert idx == 1
        text = build_reply(ping, 200)
        text = re.sub(r"branch=z9hG4bKdsp\.1\.%d" % seq, "branch=z9hG4bKdsp.0.%d" % (seq - 1),
                      text)
        text = re.sub(r"CSeq: %d OPTIONS" % seq, "CSeq: %d OPTIONS" % (seq - 1), text)
        b.peer.send(text, via_target(ping.hdrs("Via")[0]) or ping.src)
        forged.append(text)

    b.forge = forge
    lst = write_list(["1 sip:127.0.0.1:%d 0 20" % a.peer.port,
                      "1 sip:127.0.0.1:%d 0 10" % b.peer.port])
    try:
        with Proxy(CFG.replace("MODE", "1"), subst={"LIST": lst}) as px:
            ua = UdpPeer(target=px.addr)
            wait_log(px, "sip:127.0.0.1:%d (set 1) failed 2 pings in a row" % a.peer.port, 8)
            assert len(forged) >= 2, forged
            call(px, ua)
            assert not a.invites and len(b.invites) == 1, (a.invites, b.invites)
            time.sleep(1.5)
            assert "127.0.0.1:%d (set 1) answers pings again" % a.peer.port \
                not in px.stderr_text()
            px.wait_stat("tm_active", 0)
    finally:
        a.stop()
        b.stop()


def test_exit_not_held_by_silent_tcp_gateways():
    """Each TCP ping waits up to 1 s for its answer, one destination after the other; a
    SIGTERM during such a round must not wait for the rest of it. Before, the prober only
    looked at its stop pipe between rounds, and a round of 6 silent gateways (6 s) is longer
    than the interval (2 s), so rounds ran back to back and the process never exited (the
    harness killed it after 15 s)."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    port = lsock.getsockname()[1]
    accepted = []

    def accept_all():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            accepted.append((time.monotonic(), c))   # read nothing, answer nothing

    threading.Thread(target=accept_all, daemon=True).start()
    lst = write_list(["%d sip:127.0.0.1:%d;transport=tcp 0 0" % (s, port) for s in range(1, 7)])
    cfg = CFG.replace("MODE", "1").replace(
        "listen = udp:127.0.0.1:{PORT}",
        "listen = udp:127.0.0.1:{PORT}\nlisten = tcp:127.0.0.1:{TCPPORT}").replace(
        '"ds_ping_interval", 1', '"ds_ping_interval", 2')
    try:
        px = Proxy(cfg, subst={"LIST": lst})
        deadline = time.monotonic() + 6
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert accepted, "the prober never connected"
        time.sleep(0.3)   # the round is at its first silent gateway
        t0 = time.monotonic()
        px.stop()
        took = time.monotonic() - t0
        assert len(accepted) < 6, "the round ended before the stop: %d pings" % len(accepted)
        assert took < 2.5, "exit took %.1f s after SIGTERM" % took
    finally:
        lsock.close()
        for _, c in accepted:
            c.close()


def test_udp_answers_read_when_tcp_rounds_are_slow():
    """Three silent TCP gateways make a round last 1.5 s (0.5 s each with a 1 s interval).
    The next round was timed from the start of the previous one, so rounds ran back to
    back, the UDP socket was never read, and a UDP gateway answering every ping was taken
    out as silent. Its answers must count."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    port = lsock.getsockname()[1]
    gw = Gateway()
    gw.code = 200
    lst = write_list(["1 sip:127.0.0.1:%d 0 0" % gw.peer.port] +
                     ["%d sip:127.0.0.1:%d;transport=tcp 0 0" % (s, port) for s in range(2, 5)])
    cfg = CFG.replace("MODE", "1").replace(
        "listen = udp:127.0.0.1:{PORT}",
        "listen = udp:127.0.0.1:{PORT}\nlisten = tcp:127.0.0.1:{TCPPORT}")
    try:
        with Proxy(cfg, subst={"LIST": lst}) as px:
            deadline = time.monotonic() + 10
            while len(gw.pings) < 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(gw.pings) >= 4, gw.pings
            time.sleep(1)
            assert "127.0.0.1:%d (set 1) failed" % gw.peer.port not in px.stderr_text(), \
                px.stderr_text()
    finally:
        gw.stop()
        lsock.close()
