"""test_mgmt_ds.py: the dispatcher's MI commands on the wire (docs/mgmt.md, docs/dispatcher.md):
ds_list shows the sets and each destination's state in OpenSIPS 3.x's shape (with `full`:
weight, priority, attrs, description); ds_set_state takes a destination out and puts it back,
and the round robin of the running proxy follows at once (which peer the INVITEs reach);
an unknown destination is 404, a bad state or missing params -32602."""
from harness import Proxy, UdpPeer, free_port
from test_ds_balance import HEAD, ROUTE, final, invite, route_one, write_list
from test_mgmt_http import mi

TIMEOUT = 60

HTTPD = """loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", {HTTP})
"""


def states(port):
    r = mi(port, "ds_list")
    assert "result" in r, r
    parts = r["result"]["PARTITIONS"]
    assert [p["name"] for p in parts] == ["default"], parts
    return {(s["id"], d["URI"]): d["state"] for s in parts[0]["SETS"] for d in s["Destinations"]}


def reached(ua, px, gws, n, done):
    """n new INVITEs through the proxy, each answered 486 (an ACK to a 2xx would go through
    the route and take a round-robin turn of its own); which peer index each reached"""
    got = []
    for _ in range(n):
        req = invite(ua, px)
        ua.send(req, px.addr)
        i, _ = route_one(gws, 486, done)
        final(ua, req, 486)
        got.append(i)
    return got


def test_ds_list_and_set_state():
    gws = [UdpPeer(), UdpPeer()]
    uris = ["sip:127.0.0.1:%d" % g.port for g in gws]
    lst = write_list(["1 %s 0 0 weight=1;x=y" % uris[0], "1 %s" % uris[1],
                      "7 sip:127.0.0.1:%d 1" % (gws[1].port + 1)])
    http = free_port("tcp")
    cfg = HEAD + HTTPD + 'modparam("dispatcher", "list_file", "%s")\n' % lst + \
        ROUTE.replace("ALG", "4")
    with Proxy(cfg, name="mgmt-ds", subst={"HTTP": http}) as px:
        ua = UdpPeer(target=px.addr)
        done = set()
        assert states(http) == {(1, uris[0]): "Active", (1, uris[1]): "Active",
                                (7, "sip:127.0.0.1:%d" % (gws[1].port + 1)): "Inactive"}
        full = mi(http, "ds_list", {"full": 1})["result"]["PARTITIONS"][0]["SETS"][0]
        d0 = full["Destinations"][0]
        assert d0["attr"] == "weight=1;x=y" and d0["description"] == "", d0
        assert "weight" in d0 and "priority" in d0, d0
        got = reached(ua, px, gws, 4, done)
        assert sorted(got) == [0, 0, 1, 1], got

        # out: every call goes to the other one, at once
        r = mi(http, "ds_set_state", {"state": "i", "group": 1, "address": uris[0]})
        assert r.get("result") == "OK", r
        assert states(http)[(1, uris[0])] == "Inactive"
        assert reached(ua, px, gws, 4, done) == [1, 1, 1, 1]

        # back (positional params, address without "sip:")
        r = mi(http, "ds_set_state", ["a", 1, uris[0][4:]])
        assert r.get("result") == "OK", r
        assert states(http)[(1, uris[0])] == "Active"
        assert sorted(reached(ua, px, gws, 4, done)) == [0, 0, 1, 1]

        r = mi(http, "ds_set_state", {"state": "i", "group": 2, "address": uris[0]})
        assert r["error"]["code"] == 404, r
        r = mi(http, "ds_set_state", {"state": "x", "group": 1, "address": uris[0]})
        assert r["error"]["code"] == -32602, r
        r = mi(http, "ds_set_state", {"state": "i", "address": uris[0]})
        assert r["error"]["code"] == -32602, r
        r = mi(http, "ds_list", {"full": "yes"})
        assert r["error"]["code"] == -32602, r


if __name__ == "__main__":
    from harness import run_module
    run_module(globals())
