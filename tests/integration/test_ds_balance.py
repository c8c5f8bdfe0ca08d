"""test_ds_balance.py: the dispatcher unit through the real binary, on the wire: round robin
over three UAS peers, failover in failure_route with ds_next_dst (503 and silence), the
marks it leaves, hash over Call-ID keeping a call's requests on one destination, the SQLite
table, ds_is_in_list, load errors with file:line, and etc/dispatcher.cfg passing -c."""
import os
import sqlite3
import tempfile
import time

from harness import (Proxy, UdpPeer, check_config, make_ack, make_request, rand_token, REPO, sipp_uac,
                     sipp_uas, sy_bin)

TIMEOUT = 120

HEAD = """listen = udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "tm.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"
loadmodule "dispatcher.so"
modparam("tm", "fr_timeout", 1)
modparam("tm", "T1_timer", 100)
modparam("tm", "wt_timer", 1)
"""

ROUTE = """
route {
	if (!mf_process_maxfwd_header(10)) {
		sl_send_reply(483, "Too Many Hops");
		exit;
	}
	if (!ds_select_dst(1, ALG, "f")) {
		send_reply(503, "No Destination");
		exit;
	}
	t_on_failure("fo");
	t_relay();
}
failure_route[fo] {
	if (t_check_status("503|408")) {
		ds_mark_dst("p");
		if (ds_next_dst()) {
			t_on_failure("fo");
			t_relay();
			exit;
		}
	}
}
"""


def write_list(lines):
    d = tempfile.mkdtemp(prefix="sy-ds-")
    p = os.path.join(d, "dispatcher.list")
    with open(p, "w") as f:
        f.write("# test destinations\n" + "".join(l + "\n" for l in lines))
    return p


def peers(n):
    return [UdpPeer() for _ in range(n)]


def cfg(list_path, alg, extra=""):
    return (HEAD + 'modparam("dispatcher", "list_file", "%s")\n' % list_path + extra +
            ROUTE.replace("ALG", str(alg)))


def invite(ua, px, call_id=None, branch=None):
    return make_request("INVITE", "sip:bob@example.com", ua.hostport(), call_id=call_id,
                        branch=branch)


def final(ua, req, code, timeout=3):
    """the final reply code to req reaches ua; ACK it (RFC 3261 §17.1.1.3) so that the
    transaction ends without waiting for Timer H"""
    cid = req.split("Call-ID: ", 1)[1].split("\r\n", 1)[0]
    r = ua.expect(lambda m: m.status == code and m.call_id == cid, timeout=timeout)
    ua.send(make_ack(req, r))
    return r


def route_one(gws, code, done, timeout=3.0):
    """the peer the next new INVITE reached (retransmissions and INVITEs of calls in done are
    skipped); it answers code. Returns (peer index, request)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i, g in enumerate(gws):
            m = g.recv(timeout=0.02)
            if m is None or not m.is_request or m.method != "INVITE" or m.call_id in done:
                continue
            done.add(m.call_id)
            g.reply(m, code)
            return i, m
    raise AssertionError("no INVITE reached any destination")


def test_round_robin_spreads_evenly():
    gws = peers(3)
    lst = write_list(["1 sip:127.0.0.1:%d" % g.port for g in gws])
    with Proxy(cfg(lst, 4)) as px:
        ua = UdpPeer(target=px.addr)
        seen, done = {}, set()
        for _ in range(30):
            req = invite(ua, px)
            ua.send(req)
            # the next INVITE goes out only after this one was answered: the spread is the
            # algorithm's, not the timing's
            i, _m = route_one(gws, 486, done)
            seen[i] = seen.get(i, 0) + 1
            final(ua, req, 486)
        assert seen == {0: 10, 1: 10, 2: 10}, seen
        px.wait_stat("tm_active", 0)


def test_failover_503_then_silence_then_200():
    a, b, c = peers(3)
    # priorities 30/20/10: algorithm 8 takes a, then b, then c
    lst = write_list(["1 sip:127.0.0.1:%d 0 30" % a.port, "1 sip:127.0.0.1:%d 0 20" % b.port,
                      "1 sip:127.0.0.1:%d 0 10" % c.port])
    extra = 'modparam("dispatcher", "ds_probing_threshold", 1)\n'
    with Proxy(cfg(lst, 8, extra)) as px:
        ua = UdpPeer(target=px.addr)
        req = invite(ua, px)
        ua.send(req)
        ua.expect(100)
        ra = a.expect("INVITE")
        a.reply(ra, 503)
        a.expect("ACK")
        b.expect("INVITE")          # b stays silent: fr_timeout (1 s) makes it a 408
        rc = c.expect("INVITE", timeout=4)
        c.reply(rc, 200)
        ok = ua.expect(200, timeout=3)
        assert ok.call_id == ra.call_id
        # a and b were marked probing (threshold 1): the next call goes to c at once
        req2 = invite(ua, px)
        ua.send(req2)
        rc2 = c.expect(lambda m: m.method == "INVITE" and m.call_id != ra.call_id, timeout=2)
        a.expect_nothing(0.3, "INVITE")
        b.expect_nothing(0.1, lambda m: m.method == "INVITE" and m.call_id != ra.call_id)
        c.reply(rc2, 486)
        final(ua, req2, 486)
        px.wait_stat("tm_active", 0)
        assert any("marked probing" in l for l in px.stderr_text().splitlines())


def test_all_down_failover_ends_with_final_reply():
    a, b = peers(2)
    lst = write_list(["1 sip:127.0.0.1:%d" % a.port, "1 sip:127.0.0.1:%d" % b.port])
    with Proxy(cfg(lst, 8, 'modparam("dispatcher", "ds_probing_threshold", 1)\n')) as px:
        ua = UdpPeer(target=px.addr)
        req = invite(ua, px)
        ua.send(req)
        a.reply(a.expect("INVITE"), 503)
        b.reply(b.expect("INVITE"), 503)
        # the best reply of the last fork goes down; a 503 is sent as 500 (§16.7 step 6)
        final(ua, req, 500)
        # every destination is probing now: ds_select_dst fails, the script answers 503
        ua.send(invite(ua, px))
        ua.expect(503)
        a.expect_nothing(0.2, "INVITE")
        px.wait_stat("tm_active", 0)


def test_hash_callid_keeps_a_call_on_one_destination():
    gws = peers(3)
    lst = write_list(["1 sip:127.0.0.1:%d" % g.port for g in gws])
    with Proxy(cfg(lst, 0)) as px:
        ua = UdpPeer(target=px.addr)
        where, done = {}, set()
        for n in range(12):
            cid = "call-%d-%s" % (n, rand_token(6))
            for rep in range(2):
                # a new request of the same call each time (a re-INVITE's new branch)
                req = invite(ua, px, call_id=cid)
                ua.send(req)
                i, m = route_one(gws, 486, done)
                done.discard(cid)
                assert m.call_id == cid
                assert where.setdefault(cid, i) == i, (cid, where[cid], i)
                final(ua, req, 486)
                time.sleep(0.05)
                for g in gws:
                    g.drain()
        assert len(where) == 12
        assert len(set(where.values())) >= 2, where   # 12 calls do not all hash alike
        # a retransmission of an INVITE still open is absorbed by tm; the branch it already
        # has is the one its destination keeps (the proxy retransmits there, nowhere else)
        cid = "retr-" + rand_token(6)
        req = invite(ua, px, call_id=cid)
        ua.send(req)
        first = None
        deadline = time.monotonic() + 3
        while first is None and time.monotonic() < deadline:
            for i, g in enumerate(gws):
                m = g.recv(timeout=0.02)
                if m is not None and m.method == "INVITE" and m.call_id == cid:
                    first = (i, m)
                    break
        assert first is not None
        ua.send(req)
        ua.expect(100)
        for i, g in enumerate(gws):
            if i != first[0]:
                g.expect_nothing(0.3, lambda m: m.method == "INVITE" and m.call_id == cid)
        gws[first[0]].reply(first[1], 486)
        ua.expect(486, timeout=3)
        px.wait_stat("tm_active", 0)


def test_sqlite_table_opensips_schema():
    gws = peers(2)
    d = tempfile.mkdtemp(prefix="sy-ds-")
    db = os.path.join(d, "ds.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE dispatcher (id INTEGER PRIMARY KEY AUTOINCREMENT, setid INTEGER"
                " DEFAULT 0 NOT NULL, destination CHAR(192) DEFAULT '' NOT NULL, socket"
                " CHAR(128), state INTEGER DEFAULT 0 NOT NULL, probe_mode INTEGER DEFAULT 0"
                " NOT NULL, weight CHAR(64) DEFAULT 1 NOT NULL, priority INTEGER DEFAULT 0"
                " NOT NULL, attrs CHAR(128), description CHAR(64))")
    for g in gws:
        con.execute("INSERT INTO dispatcher (setid, destination, weight, attrs, description)"
                    " VALUES (1, ?, '1', 'a', 'gw')", ("sip:127.0.0.1:%d" % g.port,))
    # an inactive one (state 1) is never chosen
    dead = UdpPeer()
    con.execute("INSERT INTO dispatcher (setid, destination, state) VALUES (1, ?, 1)",
                ("sip:127.0.0.1:%d" % dead.port,))
    con.commit()
    con.close()
    text = (HEAD + 'modparam("dispatcher", "db_url", "sqlite://%s")\n' % db +
            ROUTE.replace("ALG", "4"))
    with Proxy(text) as px:
        ua = UdpPeer(target=px.addr)
        seen, done = {}, set()
        for _ in range(6):
            req = invite(ua, px)
            ua.send(req)
            i, _m = route_one(gws, 486, done)
            seen[i] = seen.get(i, 0) + 1
            final(ua, req, 486)
        assert seen == {0: 3, 1: 3}, seen
        dead.expect_nothing(0.2, "INVITE")


def test_is_in_list_and_count():
    gw = UdpPeer()
    lst = write_list(["2 sip:127.0.0.1:%d" % gw.port, "2 sip:127.0.0.1:1 1"])
    text = HEAD + 'modparam("dispatcher", "list_file", "%s")\n' % lst + """
route {
	if (!mf_process_maxfwd_header(10)) {
		sl_send_reply(483, "Too Many Hops");
		exit;
	}
	ds_count(2, "a", $var(up));
	ds_count(2, "i", $var(down));
	if (ds_is_in_list("$si", "$sp", 2)) {
		sl_send_reply(200, "From Gateway $var(up) $var(down)");
		exit;
	}
	if (ds_is_in_list("$si", "0")) {
		sl_send_reply(202, "Known Host");
		exit;
	}
	sl_send_reply(403, "Not A Gateway");
}
"""
    with Proxy(text) as px:
        gw.target = px.addr
        gw.send(make_request("OPTIONS", "sip:x@example.com", gw.hostport()))
        r = gw.expect(200)
        assert r.reason == "From Gateway 1 1", r.reason
        ua = UdpPeer(target=px.addr)
        # same IP, other port: not the gateway with a port, known with port 0
        ua.send(make_request("OPTIONS", "sip:x@example.com", ua.hostport()))
        ua.expect(202)


def test_bad_list_line_is_a_load_error_with_its_line():
    lst = write_list(["1 sip:127.0.0.1:5090", "1 sip:127.0.0.1:5091 x", "one sip:1.2.3.4"])
    px = Proxy(cfg(lst, 4), ready=False)
    try:
        rc = px.proc.wait(timeout=20)
    finally:
        if px.alive():
            px.kill()
    err = px.stderr_text()
    assert rc == 1, (rc, err)
    assert "%s:3: flags must be a number" % lst in err, err
    assert "%s:4: set id must be a number" % lst in err, err
    # switchyard -c finds them too (the syntax; names are resolved when it starts)
    rc, out, path = check_config(cfg(lst, 4))
    assert rc == 1, out
    assert "%s:3: flags must be a number" % lst in out, out
    assert "the list_file has errors" in out, out


def test_missing_set_and_unknown_algorithm():
    g = UdpPeer()
    lst = write_list(["1 sip:127.0.0.1:%d" % g.port])
    text = HEAD + 'modparam("dispatcher", "list_file", "%s")\n' % lst + """
route {
	if (!mf_process_maxfwd_header(10)) {
		sl_send_reply(483, "Too Many Hops");
		exit;
	}
	if ($rU == "noset" && !ds_select_dst(7, 4)) {
		sl_send_reply(503, "No Set");
		exit;
	}
	if ($rU == "noalg" && !ds_select_dst(1, 7)) {
		sl_send_reply(503, "No Alg");
		exit;
	}
	sl_send_reply(200, "OK");
}
"""
    with Proxy(text) as px:
        ua = UdpPeer(target=px.addr)
        ua.send(make_request("OPTIONS", "sip:noset@example.com", ua.hostport()))
        assert ua.expect(503).reason == "No Set"
        ua.send(make_request("OPTIONS", "sip:noalg@example.com", ua.hostport()))
        assert ua.expect(503).reason == "No Alg"
        err = px.stop()
        assert "no destination set 7" in err and "algorithm 7" in err, err


def test_example_config_checks():
    import subprocess
    p = subprocess.run([sy_bin(), "-c", "-f", os.path.join(REPO, "etc/dispatcher.cfg")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    # and its list file loads (every line valid): the same config on a free port, run
    with open(os.path.join(REPO, "etc/dispatcher.cfg")) as f:
        text = f.read().replace("udp:127.0.0.1:5060", "udp:127.0.0.1:{PORT}")
    text = text.replace('"etc/dispatcher.list"', '"%s"' % os.path.join(REPO, "etc/dispatcher.list"))
    with Proxy(text, workers=None) as px:
        ua = UdpPeer(target=px.addr)
        ua.send(make_request("OPTIONS", "sip:127.0.0.1:%d" % px.port, ua.hostport()))
        ua.expect(200)
        assert "dispatcher: 5 destinations loaded" in px.stderr_text()


def test_select_domain_next_domain_and_attrs():
    a, b = peers(2)
    lst = write_list(["1 sip:127.0.0.1:%d 0 20 weight=1;name=alpha" % a.port,
                      "1 sip:127.0.0.1:%d 0 10 name=beta" % b.port])
    text = HEAD + 'modparam("dispatcher", "list_file", "%s")\n' % lst + """
modparam("dispatcher", "attrs_avp", "$avp(gw)")
route {
	if (!mf_process_maxfwd_header(10)) {
		sl_send_reply(483, "Too Many Hops");
		exit;
	}
	if (!ds_select_domain(1, 8, "f", "default")) {
		send_reply(503, "No Destination");
		exit;
	}
	append_hf("X-GW: $avp(gw)\\r\\n");
	t_on_failure("fo");
	t_relay();
}
failure_route[fo] {
	if (t_check_status("486") && ds_next_domain()) {
		append_hf("X-GW2: $avp(gw)\\r\\n");
		t_relay();
	}
}
"""
    with Proxy(text) as px:
        ua = UdpPeer(target=px.addr)
        req = make_request("INVITE", "sip:bob@example.com:5999;user=phone", ua.hostport())
        ua.send(req)
        ra = a.expect("INVITE")
        # the R-URI's host:port is the destination's, user and parameters kept; no $du
        assert ra.ruri == "sip:bob@127.0.0.1:%d;user=phone" % a.port, ra.ruri
        assert ra.hdr("X-GW") == "weight=1;name=alpha", ra.hdr("X-GW")
        a.reply(ra, 486)
        rb = b.expect("INVITE", timeout=3)
        assert rb.ruri == "sip:bob@127.0.0.1:%d;user=phone" % b.port, rb.ruri
        assert rb.hdr("X-GW2") == "name=beta", rb.hdr("X-GW2")
        b.reply(rb, 486)
        final(ua, req, 486)
        px.wait_stat("tm_active", 0)


def bad_db_start(rows):
    """start on a dispatcher table of rows (id, setid, destination, socket, state): the
    start-up must fail; returns stderr"""
    d = tempfile.mkdtemp(prefix="sy-ds-")
    db = os.path.join(d, "ds.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE dispatcher (id INTEGER PRIMARY KEY, setid INTEGER, destination"
                " TEXT, socket TEXT, state INTEGER, weight TEXT, priority INTEGER, attrs TEXT,"
                " description TEXT)")
    for r in rows:
        con.execute("INSERT INTO dispatcher VALUES (?, ?, ?, ?, ?, '1', 0, '', '')", r)
    con.commit()
    con.close()
    text = (HEAD + 'modparam("dispatcher", "db_url", "sqlite://%s")\n' % db +
            ROUTE.replace("ALG", "4"))
    px = Proxy(text, ready=False)
    try:
        rc = px.proc.wait(timeout=20)
    finally:
        if px.alive():
            px.kill()
    err = px.stderr_text()
    assert rc == 1, (rc, err)
    return err


def test_bad_table_rows_stop_the_start():
    ok = (1, 1, "sip:127.0.0.1:7001", None, 0)
    err = bad_db_start([ok, (3, 1, "sip:127.0.0.1:7003", None, 7)])
    assert "table dispatcher row id 3: state must be 0 (active), 1 (inactive) or 2" in err, err
    err = bad_db_start([ok, (2, 1, "sip:127.0.0.1:7002", "udp:127.0.0.9:5999", 0)])
    assert "sip:127.0.0.1:7002 (set 1): socket udp:127.0.0.9:5999 is not one of our" in err, err
    err = bad_db_start([ok, (4, 1, "sip:127.0.0.1:7004;transport=tcp", None, 0)])
    assert "sip:127.0.0.1:7004;transport=tcp (set 1): no listen of its transport" in err, err
    err = bad_db_start([ok, (5, 1, "sip:gw.invalid", None, 0)])
    assert "row id 5: cannot resolve the destination's host name" in err, err

def test_sipp_calls_spread_over_three_uas_with_two_workers():
    """30 SIPp calls (INVITE, 180, 200, ACK, BYE through the Record-Route) at 10 calls/s over
    3 SIPp UAS, 2 workers: round robin gives each exactly 10"""
    uas = [sipp_uas("uas_180_200", calls=10) for _ in range(3)]
    try:
        lst = write_list(["1 sip:127.0.0.1:%d" % u.port for u in uas])
        text = (HEAD + 'loadmodule "rr.so"\nmodparam("dispatcher", "list_file", "%s")\n' % lst +
                """
route {
	if (!mf_process_maxfwd_header(10)) {
		sl_send_reply(483, "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		if (loose_route())
			t_relay();
		exit;
	}
	record_route();
	if (!ds_select_dst(1, 4)) {
		send_reply(503, "No Destination");
		exit;
	}
	t_relay();
}
""")
        with Proxy(text, workers=2) as px:
            res = sipp_uac("uac_invite_bye", px.addr, calls=30, rate=10, timeout=60)
            assert res.rc == 0 and res.count("SuccessfulCall") == 30, res.dump()
            for u in uas:
                r = u.wait(15)
                assert r.rc == 0 and r.count("SuccessfulCall") == 10, r.dump()
            assert not px.log_lines(), px.log_lines()
    finally:
        for u in uas:
            u.kill()


def test_hash_auth_username():
    gws = peers(3)
    lst = write_list(["1 sip:127.0.0.1:%d" % g.port for g in gws])
    with Proxy(cfg(lst, 5)) as px:
        ua = UdpPeer(target=px.addr)
        where, done = {}, set()
        # an order round robin would not keep per user
        for user in ("alice", "alice", "bob", "carol", "bob", "alice", "carol", "carol", "bob"):
            cred = ('Digest username="%s", realm="example.com", nonce="abc", '
                    'uri="sip:bob@example.com", response="0123456789abcdef0123456789abcdef"'
                    % user)
            req = make_request("INVITE", "sip:bob@example.com", ua.hostport(),
                               headers=["Proxy-Authorization: " + cred])
            ua.send(req)
            i, m = route_one(gws, 486, done)
            assert ('username="%s"' % user) in m.hdr("Proxy-Authorization")
            assert where.setdefault(user, i) == i, (user, where[user], i)
            final(ua, req, 486)
        assert len(where) == 3
        px.wait_stat("tm_active", 0)


def test_config_errors_at_their_line():
    rc, out, path = check_config("""listen = udp:127.0.0.1:{PORT}
loadmodule "dispatcher.so"
modparam("dispatcher", "ds_probing_mode", 5)
modparam("dispatcher", "db_url", "mysql://x")
modparam("dispatcher", "options_reply_codes", "20, 404")
modparam("dispatcher", "attrs_avp", "gw")
route {
	ds_select_dst("x", 4);
	ds_mark_dst("i", "default", 3);
}
onreply_route {
	ds_next_dst();
}
""")
    assert rc == 1, out
    for want in ("%s:3:43: parameter 'ds_probing_mode' of module 'dispatcher': out of range",
                 "%s:4:34: parameter 'db_url' of module 'dispatcher': db_url must be sqlite:",
                 "%s:5:47: parameter 'options_reply_codes' of module 'dispatcher'",
                 "%s:6:37: parameter 'attrs_avp' of module 'dispatcher': attrs_avp must be",
                 "%s:8:16: argument 1 of 'ds_select_dst' must be an integer",
                 "%s:9:2: function 'ds_mark_dst' takes 0 to 2 arguments, got 3",
                 "%s:12:2: function 'ds_next_dst' is not allowed in onreply_route"):
        assert want % path in out, (want % path, out)


def test_kamailio_limit_argument():
    a, b, c = peers(3)
    lst = write_list(["1 sip:127.0.0.1:%d 0 30" % a.port, "1 sip:127.0.0.1:%d 0 20" % b.port,
                      "1 sip:127.0.0.1:%d 0 10" % c.port])
    # Kamailio's ds_select_dst(set, alg, limit): two destinations at most, failover kept
    text = cfg(lst, 8).replace('ds_select_dst(1, 8, "f")', 'ds_select_dst("1", "8", "2")')
    with Proxy(text) as px:
        ua = UdpPeer(target=px.addr)
        req = invite(ua, px)
        ua.send(req)
        a.reply(a.expect("INVITE"), 503)
        b.reply(b.expect("INVITE", timeout=3), 503)
        final(ua, req, 500)
        c.expect_nothing(0.3, "INVITE")
        px.wait_stat("tm_active", 0)


def test_least_in_flight():
    gws = peers(2)
    lst = write_list(["1 sip:127.0.0.1:%d" % g.port for g in gws])
    with Proxy(cfg(lst, 10)) as px:
        ua = UdpPeer(target=px.addr)

        def new_call():
            req = invite(ua, px)
            ua.send(req)
            cid = req.split("Call-ID: ", 1)[1].split("\r\n", 1)[0]
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                for i, g in enumerate(gws):
                    m = g.recv(timeout=0.02)
                    if m is not None and m.method == "INVITE" and m.call_id == cid:
                        g.reply(m, 180)
                        return req, i, m
            raise AssertionError("INVITE not relayed")

        calls = [new_call()]             # both idle: either one
        calls.append(new_call())         # the first has one in flight: the other one
        assert calls[1][1] != calls[0][1], calls
        calls.append(new_call())         # one each: either; that one, p, has two now
        p = calls[2][1]
        # p's two calls end: p has none in flight, the other still one. Without the end
        # being counted p would stay at two and the next call would go to the other.
        for req, i, m in [c for c in calls if c[1] == p]:
            gws[i].reply(m, 486)
            final(ua, req, 486)
        time.sleep(1.5)                  # the transactions end (wt_timer 1 s)
        calls = [c for c in calls if c[1] != p]
        calls.append(new_call())
        assert calls[-1][1] == p, (p, calls[-1][1])
        for req, i, m in calls:
            gws[i].reply(m, 486)
            final(ua, req, 486)
        px.wait_stat("tm_active", 0)


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
