#!/usr/bin/env python3
"""make_regress.py: writes the regression messages of tests/data/regress/ (one .dat per message,
byte for byte what goes on the wire) and copies them as seeds into the fuzz corpora
(tests/fuzz/corpus/fuzz_sip_msg, fuzz_sip_build, fuzz_sip_frame; fuzz_sip_auth gets the
credentials alone). Each message reproduces a class of parser bug reported against other SIP
servers (Content-Length arithmetic, header-name matching, tag/branch sizes, digest credentials,
list explosions, huge lines, out-of-range status codes, truncation inside a token, a quoted
string or an escape). The files are committed; rerun after editing: python3 make_regress.py.

Names: <class>_<case>.dat; resp_*.dat are responses, sent back by the next hop in the wire
test. The *_big messages (over 64 KiB: TCP only, a UDP datagram holds 65,507 octets) are not
written out; tests/integration/test_rel_regress.py imports messages() for them."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CORPUS = os.path.join(REPO, "tests", "fuzz", "corpus")

SDP = (b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 0\r\n")

AUTH = (b'Digest username="alice", realm="example.com", nonce="6f1c\\"x\\\\y", '
        b'uri="sip:bob@example.com", response="0123456789abcdef0123456789abcdef", '
        b'algorithm=MD5, cnonce="0a4f113b", opaque="5ccc069c", qop=auth, nc=00000001')

# every header the proxy parses or may parse, in the order of a normal INVITE
HEADERS = [
    (b"Via", b"SIP/2.0/UDP 192.0.2.1:5999;branch=z9hG4bK-regress;rport"),
    (b"Max-Forwards", b"70"),
    (b"From", b'"Alice \\"A\\" Smith" <sip:alice%40home@example.com;user=phone>;tag=f1a9'),
    (b"To", b"<sip:bob@example.com>"),
    (b"Call-ID", b"regress-1@192.0.2.1"),
    (b"CSeq", b"1 INVITE"),
    (b"Contact", b'"A" <sip:alice@192.0.2.1:5999;transport=udp>;expires=60;q=0.5'),
    (b"Record-Route", b"<sip:rr.example.com;lr>"),
    (b"Authorization", AUTH),
    (b"Proxy-Authorization", AUTH),
    (b"Expires", b"60"),
    (b"Supported", b"replaces, timer"),
    (b"Allow", b"INVITE, ACK, CANCEL, BYE"),
    (b"Subject", b"regress"),
    (b"User-Agent", b"regress/1.0"),
    (b"Content-Type", b"application/sdp"),
]


def msg(start=b"INVITE sip:bob@example.com SIP/2.0", headers=None, body=SDP, cl=True,
        extra=None, replace=None):
    """Start line, headers (replace: {name: value or None to drop}), extra raw lines appended,
    then Content-Length (cl=True: correct; bytes: written as given; None: left out) and body."""
    hs = []
    for n, v in (headers if headers is not None else HEADERS):
        if replace and n in replace:
            if replace[n] is None:
                continue
            v = replace[n]
        hs.append(n + b": " + v)
    hs += extra or []
    if cl is True:
        hs.append(b"Content-Length: %d" % len(body))
    elif cl is not None:
        hs.append(b"Content-Length: " + cl)
    return start + b"\r\n" + b"\r\n".join(hs) + b"\r\n\r\n" + body


def many(name, n, value_fn, per_line):
    """n values of header name, per_line values per header line (1: one header each)."""
    lines, cur = [], []
    for i in range(n):
        cur.append(value_fn(i))
        if len(cur) == per_line:
            lines.append(name + b": " + b", ".join(cur))
            cur = []
    if cur:
        lines.append(name + b": " + b", ".join(cur))
    return lines


def via(i):
    return b"SIP/2.0/UDP 10.%d.%d.%d:5060;branch=z9hG4bK%06d" % (i >> 16 & 255, i >> 8 & 255, i & 255, i)


def contact(i):
    return b"<sip:u%d@10.0.%d.%d>" % (i, i >> 8 & 255, i & 255)


def messages():
    m = {}
    # ---- Content-Length (RFC 3261 §20.14, §18.3)
    m["cl_negative"] = msg(cl=b"-1")
    m["cl_negative_zero"] = msg(cl=b"-0")
    m["cl_overflow32"] = msg(cl=b"4294967296")
    m["cl_overflow64"] = msg(cl=b"18446744073709551617")
    m["cl_overflow_long"] = msg(cl=b"9" * 400)
    m["cl_plus"] = msg(cl=b"+10")
    m["cl_hex"] = msg(cl=b"0x10")
    m["cl_space_inside"] = msg(cl=b"1 0")
    m["cl_empty"] = msg(cl=b"")
    m["cl_dup_differ"] = msg(cl=b"%d" % len(SDP), extra=[b"l: 3"])
    m["cl_dup_same"] = msg(cl=b"%d" % len(SDP), extra=[b"Content-Length: %d" % len(SDP)])
    m["cl_list"] = msg(cl=b"%d, 3" % len(SDP))
    m["cl_beyond_datagram"] = msg(cl=b"%d" % (len(SDP) + 500))
    m["cl_beyond_buffer"] = msg(cl=b"70000")
    m["cl_beyond_max"] = msg(cl=b"4294967295")
    m["cl_short"] = msg(cl=b"5")
    # ---- header names (RFC 3261 §7.3.1: HCOLON = *( SP / HTAB ) ":" SWS)
    m["hname_ws_before_colon"] = msg(replace={b"To": None}, extra=[b"To \t: <sip:bob@example.com>"])
    m["hname_ctl_via"] = msg(extra=[b"Via\x0b: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKevil"])
    m["hname_nul_cl"] = msg(cl=b"%d" % len(SDP), extra=[b"Content-Length\x00: 3"])
    m["hname_ctl_to"] = msg(replace={b"To": None}, extra=[b"To\x01: <sip:bob@example.com>"])
    m["hname_space_inside"] = msg(extra=[b"Call ID: other@192.0.2.1"])
    m["hname_empty"] = msg(extra=[b": no-name"])
    m["hname_no_colon"] = msg(extra=[b"X-NoColon value"])
    m["hname_high_octet"] = msg(extra=[b"Via\xc0\x80: SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKevil"])
    m["hname_ws_before_name"] = msg(extra=[b" Via: SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKfold"])
    # ---- To/From tags
    m["to_dup_empty_tag"] = msg(extra=[b"To: <sip:bob@example.com>;tag="])
    m["to_empty_tag"] = msg(replace={b"To": b"<sip:bob@example.com>;tag="})
    m["from_empty_tag"] = msg(replace={b"From": b"<sip:alice@example.com>;tag="})
    m["from_no_tag"] = msg(replace={b"From": b"<sip:alice@example.com>"})
    m["tag_huge"] = msg(replace={b"From": b"<sip:alice@example.com>;tag=" + b"t" * 7000})
    m["to_tag_huge"] = msg(replace={b"To": b"<sip:bob@example.com>;tag=" + b"T" * 7000})
    m["tag_dup"] = msg(replace={b"From": b"<sip:alice@example.com>;tag=a;tag=b"})
    # ---- Via branch
    m["branch_empty"] = msg(replace={b"Via": b"SIP/2.0/UDP 192.0.2.1:5999;branch=;rport"})
    m["branch_magic_only"] = msg(replace={b"Via": b"SIP/2.0/UDP 192.0.2.1:5999;branch=z9hG4bK;rport"})
    m["branch_huge"] = msg(replace={b"Via": b"SIP/2.0/UDP 192.0.2.1:5999;rport;branch=z9hG4bK" +
                                    b"b" * 7000})
    m["branch_dup"] = msg(replace={b"Via": b"SIP/2.0/UDP 192.0.2.1:5999;branch=z9hG4bKa;branch=z9hG4bKb"})
    m["via_port_overflow"] = msg(replace={b"Via": b"SIP/2.0/UDP 192.0.2.1:4294967297;branch=z9hG4bKp"})
    m["via_rport_overflow"] = msg(replace={b"Via": b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp;rport=99999999999"})
    # ---- Authorization cut short (RFC 3261 §25.1, RFC 2617 §3.2.2)
    m["auth_cut_after_eq"] = msg(replace={b"Authorization": b"Digest username="})
    m["auth_cut_in_quote"] = msg(replace={b"Authorization": b'Digest username="alice, realm="exa'})
    m["auth_cut_after_backslash"] = msg(replace={b"Authorization": b'Digest username="ali\\'})
    m["auth_scheme_only"] = msg(replace={b"Authorization": b"Digest"})
    m["auth_empty"] = msg(replace={b"Authorization": b""})
    m["auth_commas"] = msg(replace={b"Authorization": b"Digest ,,,,=,=\"\",username"})
    m["auth_huge_param"] = msg(replace={b"Authorization": b'Digest username="' + b"u" * 7000 + b'"'})
    # ---- lists: many Via / Contact values
    m["via_1400_udp"] = msg(extra=many(b"Via", 1400, via, 1))
    m["via_1400_one_line"] = msg(extra=many(b"Via", 150, via, 150))
    m["contact_1400_udp"] = msg(replace={b"Contact": None}, extra=many(b"Contact", 1400, contact, 1))
    m["contact_list_line"] = msg(replace={b"Contact": None}, extra=many(b"m", 300, contact, 300))
    m["via_10000_big"] = msg(extra=many(b"Via", 10000, via, 1))
    m["contact_10000_big"] = msg(replace={b"Contact": None}, extra=many(b"Contact", 10000, contact, 1))
    m["via_10000_one_line_big"] = msg(extra=many(b"v", 10000, via, 10000))
    # ---- huge lines
    m["line_64k_big"] = msg(extra=[b"X-Long: " + b"a" * 65536])
    m["line_63k"] = msg(extra=[b"X-Long: " + b"a" * 63000])
    m["line_9k_folded"] = msg(extra=[b"X-Fold: a" + b"\r\n b" * 3000])
    m["ruri_huge"] = msg(start=b"INVITE sip:" + b"b" * 9000 + b"@example.com SIP/2.0")
    # ---- status codes above 699 (RFC 3261 §7.2, §21: 100-699)
    resp_h = [(n, v) for n, v in HEADERS if n in (b"Via", b"From", b"To", b"Call-ID", b"CSeq")]
    for code in (b"700", b"999", b"1000", b"65736", b"4294967496", b"099", b"-200", b"2OO"):
        m["resp_status_" + code.decode()] = msg(start=b"SIP/2.0 " + code + b" Weird", headers=resp_h,
                                                body=b"")
    return m


def truncations():
    """A full INVITE cut inside every header: right after the name, after the colon, inside
    the first token, inside a quoted string, right after a backslash, inside a %HEX escape.
    Each cut twice: the bytes end there (stream: incomplete; datagram: no end of headers), and
    the line ends there followed by the end of the header section."""
    base = msg()
    out = {}
    head = base[:base.index(b"\r\n\r\n")]
    pos = 0
    for line in head.split(b"\r\n"):
        start = pos
        pos += len(line) + 2
        if start == 0:
            name = "startline"
            colon = line.index(b" ")
        elif b":" in line:
            name = line.split(b":", 1)[0].decode("latin-1").strip().lower().replace("-", "")
            colon = start + line.index(b":")
        else:
            continue
        cuts = {"name": start + max(1, (colon - start) // 2), "colon": colon + 1,
                "token": colon + 3}
        q = line.find(b'"')
        if q >= 0:
            cuts["quote"] = start + q + 2
        bs = line.find(b"\\")
        if bs >= 0:
            cuts["escape"] = start + bs + 1
        pc = line.find(b"%")
        if pc >= 0:
            cuts["pct"] = start + pc + 2
        sc = line.find(b";")
        if sc >= 0:
            cuts["param"] = start + sc + 2
        for what, at in cuts.items():
            cut = base[:at]
            out["trunc_%s_%s_raw" % (name, what)] = cut
            out["trunc_%s_%s_end" % (name, what)] = cut + b"\r\n\r\n"
    return out


def auth_seeds():
    """Credentials alone for the fuzz_sip_auth corpus."""
    return {
        "full": AUTH,
        "basic": b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "cut_eq": b"Digest username=",
        "cut_quote": b'Digest username="alice, realm="exa',
        "cut_backslash": b'Digest username="ali\\',
        "lws": b'Digest   username = "a"\r\n ,realm= "r" , nonce="n",uri="sip:x",response="r"',
        "unknown_params": b'Digest username="a", foo=bar, baz="q\\"x", nonce="n"',
    }


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    allm = dict(messages())
    allm.update(truncations())
    for n, data in sorted(allm.items()):
        if n.endswith("_big"):
            continue        # 0.5 MiB each: the wire test builds them from messages()
        write(os.path.join(HERE, n + ".dat"), data)
        # the fuzz drivers read at most 64 KiB (make fuzz -max_len=65536)
        if len(data) <= 65536:
            for target in ("fuzz_sip_msg", "fuzz_sip_build", "fuzz_sip_frame"):
                write(os.path.join(CORPUS, target, "regress-" + n), data)
    for n, data in auth_seeds().items():
        write(os.path.join(CORPUS, "fuzz_sip_auth", "regress-" + n), data)
    print("%d messages" % len(allm))


if __name__ == "__main__":
    main()
