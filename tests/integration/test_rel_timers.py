"""test_rel_timers.py: the transaction timers, read from what crosses the wire (a python peer
records the receive time of every datagram; tolerance +-100 ms on 127.0.0.1, ASan build):

  - an INVITE relayed statefully over UDP to a silent next hop is retransmitted at T1, 2*T1,
    4*T1, 8*T1 after the first send (RFC 3261 §17.1.1.2 Timer A: 0.5/1/2/4 s apart with the
    default T1 of 500 ms), and when fr_timeout (the OpenSIPS name for the no-final-reply timer,
    Timer B capped) expires the caller gets 408 at that moment (§16.8), after which nothing more
    goes to the next hop;
  - a non-2xx final reply relayed upstream over UDP is retransmitted to the caller at T1, 2*T1 ...
    (§17.2.1 Timer G) until the caller's ACK arrives, and not once after it; the next hop gets
    the proxy's own ACK (§17.1.1.3);
  - no transaction is left afterwards (stats tm_active)."""
import time

from harness import Proxy, UdpPeer, make_ack, make_request

TIMEOUT = 90
TOL = 0.1
FR = 9          # fr_timeout in seconds: long enough to see the 4 s gap after the 2 s one

CFG = """listen = udp:127.0.0.1:{PORT}
loadmodule "tm.so"
modparam("tm", "fr_timeout", %d)
modparam("tm", "wt_timer", 1)
route {
    t_relay("udp:127.0.0.1:{PEER}");
    exit;
}
""" % FR


def no_tm_left(px, timeout=10):
    end = time.monotonic() + timeout
    while True:
        n = px.stats().get("tm_active")
        if n == 0:
            return
        assert time.monotonic() < end, "transactions left: tm_active=%s" % n
        time.sleep(0.3)


def gaps(times):
    return [round(b - a, 3) for a, b in zip(times, times[1:])]


def test_invite_retransmissions_and_408():
    peer = UdpPeer()
    with Proxy(CFG, name="rel-timer-a", subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        req = make_request("INVITE", "sip:silent@example.com", ua.hostport())
        ua.send(req)
        ua.expect(100, 3)
        first = peer.expect("INVITE", 3)
        br = first.branch
        t0 = first.time
        # collect every copy until the 408 comes back
        fin = ua.expect(lambda m: m.status is not None and m.status >= 200, FR + 3)
        copies = [m.time for _, m in peer.log if getattr(m, "method", None) == "INVITE" and
                  m.branch == br]
        want = [0.5, 1.0, 2.0, 4.0]
        got = gaps(copies)
        assert len(got) >= 4 and all(abs(g - w) <= TOL for g, w in zip(got, want)), \
            "INVITE retransmission gaps %s, want %s +-%.1f (Timer A, T1=500 ms)" % (got, want, TOL)
        # after 8*T1 the next gap would be 8 s (no cap for INVITE, §17.1.1.2): none before FR
        assert len(got) == 4, "more copies than Timer A allows before %d s: gaps %s" % (FR, got)
        assert fin.status == 408, "caller got %d, want 408 (§16.8)" % fin.status
        waited = fin.time - t0
        assert abs(waited - FR) <= 0.3, "408 after %.2fs, fr_timeout is %d s" % (waited, FR)
        ua.send(make_ack(req, fin))
        mark = len(peer.log)
        time.sleep(1.5)
        later = [m for _, m in peer.log[mark:] if getattr(m, "method", None) == "INVITE"]
        assert not later, "INVITE sent after the transaction timed out"
        no_tm_left(px)


def test_final_reply_retransmitted_until_ack():
    peer = UdpPeer()
    with Proxy(CFG, name="rel-timer-g", subst={"PEER": peer.port}) as px:
        ua = UdpPeer(target=px.addr)
        req = make_request("INVITE", "sip:busy@example.com", ua.hostport())
        ua.send(req)
        fwd = peer.expect("INVITE", 3)
        peer.reply(fwd, 486)
        peer.expect("ACK", 3)       # the proxy ACKs the 486 itself (§17.1.1.3)
        # no ACK from the caller yet: the 486 comes again at T1, then 2*T1 later
        r1 = ua.expect(486, 3)
        r2 = ua.expect(486, 2)
        r3 = ua.expect(486, 3)
        got = gaps([r1.time, r2.time, r3.time])
        assert abs(got[0] - 0.5) <= TOL and abs(got[1] - 1.0) <= TOL, \
            "486 retransmission gaps %s, want [0.5, 1.0] +-%.1f (Timer G)" % (got, TOL)
        ua.send(make_ack(req, r1))
        # the next one was due 2 s after r3: none may come now
        ua.expect_nothing(3.0, what=486)
        # the proxy's ACK went to the next hop once per 486 it got; the caller's ACK is absorbed
        acks = [m for _, m in peer.log if getattr(m, "method", None) == "ACK"]
        assert len(acks) == 1, "%d ACKs reached the next hop, want 1 (hop by hop)" % len(acks)
        no_tm_left(px)


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
