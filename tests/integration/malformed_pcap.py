#!/usr/bin/env python3
"""Write pcaps of malformed traffic for the dataplane, and what sluiced must count.

usage: malformed_pcap.py DIR

DIR/exact.pcap: hand-made packets and lines, each with a known drop reason,
mixed with valid lines; DIR/exact.json: {"drops": {reason: n}, "received": n,
"aggregated": n, "packets": n, "metrics": {name: {"count": n, "sum": "x"}}}.
DIR/fuzz.pcap: every truncation of valid datagrams and seeded binary garbage;
DIR/fuzz.json: {"received": n (lines + whole-packet drops), "packets": n}.
"""
import json
import os
import random
import struct
import sys

TS = 1767225600


def ipv4(proto, payload, frag=0x4000, src=(10, 1, 0, 1)):
    tot = 20 + len(payload)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, 0, frag, 64, proto, 0,
                       bytes(src), bytes([10, 0, 0, 1])) + payload


def udp(payload, dport=8125, sport=40000):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def eth(ethertype, payload, vlan=None):
    hdr = bytes.fromhex("020000000001020000000002")
    if vlan is not None:
        hdr += struct.pack("!HH", 0x8100, vlan)
    return hdr + struct.pack("!H", ethertype) + payload


def ipv6_udp(payload):
    u = udp(payload)
    return struct.pack("!IHBB16s16s", 0x60000000, len(u), 17, 64,
                       b"\xfd" + b"\x00" * 14 + b"\x02", b"\xfd" + b"\x00" * 14 + b"\x01") + u


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", TS, i, len(fr), len(fr)))
            f.write(fr)


def lines_of(payload):
    """Lines as sluice cuts them: split on \\n, a final \\n ends the last line."""
    if not payload:
        return 0
    n = payload.count(b"\n")
    return n if payload.endswith(b"\n") else n + 1


def main():
    out = sys.argv[1]
    drops = {}
    frames = []
    received = aggregated = 0

    def drop(reason, n=1):
        drops[reason] = drops.get(reason, 0) + n

    # Whole packets that never reach the parser: one event each.
    frames.append(eth(0x0806, b"\x00" * 28)); drop("not_ip")
    frames.append(eth(0x0800, ipv4(6, b"\x00" * 20))); drop("not_udp")
    frames.append(eth(0x0800, ipv4(17, udp(b"x:1|c\n", dport=9999)))); drop("unknown_port")
    frames.append(eth(0x0800, ipv4(17, udp(b"x:1|c\n"), frag=0x2000))); drop("ip_fragment")
    frames.append(eth(0x0800, b"\x45\x00\x00")); drop("bad_header")
    received += 5
    # Jumbo datagrams arrive in chained mbufs and are read whole: a 9000-byte
    # line and a 64000-byte line after a valid one, and 4000 valid lines in one
    # 48 KB datagram.
    frames.append(eth(0x0800, ipv4(17, udp(b"big.a:1|c\n" + b"y" * 9000 + b"\n"))))
    frames.append(eth(0x0800, ipv4(17, udp(b"big.a:1|c\n" + b"z" * 64000))))
    drop("line_too_long", 2)
    frames.append(eth(0x0800, ipv4(17, udp(b"big.b:1|c\n" * 4000))))
    received += 4 + 4000
    aggregated += 2 + 4000

    # One datagram: valid lines around one bad line per reason.
    bad = [
        (b"", "empty_line"),
        (b"nocolon", "no_colon"),
        (b":1|c", "bad_name"),
        (b"caf\xe9:1|c", "bad_name"),
        (b"has space:1|c", "bad_name"),
        (b"n" * 201 + b":1|c", "name_too_long"),
        (b"x:1", "no_type"),
        (b"x:1|zz", "bad_type"),
        (b"x:1|cc", "bad_type"),
        (b"x:abc|c", "bad_value"),
        (b"x:1.2.3|c", "bad_value"),
        (b"x:nan|g", "bad_value"),
        (b"x:inf|ms", "bad_value"),
        (b"x:1e400|h", "value_range"),
        (b"x:1e16|c", "value_range"),
        (b"x:1|c|@0", "bad_rate"),
        (b"x:1|c|@1.5", "bad_rate"),
        (b"x:1|c|#", "bad_tags"),
        (b"x:1|c|#" + b",".join(b"t%d:v" % i for i in range(17)), "too_many_tags"),
        (b"x:1|c|#k:" + b"v" * 300, "tag_too_long"),
        (b"x:1|c|Tabc", "bad_timestamp"),
        (b"x:1|c|Q", "bad_field"),
        (b"x:" + b"m" * 300 + b"|s", "member_too_long"),
        (b"\x00\xff\x10\x80garbage", "no_colon"),
    ]
    good = [b"good.count:2|c|#store:s1", b"good.count:3|c|@0.5|#store:s1",
            b"good.basket:23.50|h|#store:s1", b"good.basket:10.25|h|#store:s1"]
    body = []
    for i, (line, reason) in enumerate(bad):
        body.append(good[i % len(good)])
        body.append(line)
        drop(reason)
    payload = b"\n".join(body) + b"\n"
    # Several packets so each stays under one mbuf.
    chunk, size = [], 0
    for ln in body:
        if size + len(ln) + 1 > 1200:
            frames.append(eth(0x0800, ipv4(17, udp(b"\n".join(chunk) + b"\n"))))
            chunk, size = [], 0
        chunk.append(ln)
        size += len(ln) + 1
    frames.append(eth(0x0800, ipv4(17, udp(b"\n".join(chunk) + b"\n"))))
    received += len(body)
    n_good = len(body) - len(bad)
    aggregated += n_good
    # IPv6 and VLAN-tagged datagrams are read too.
    frames.append(eth(0x86DD, ipv6_udp(b"good.v6:1|c\n")))
    frames.append(eth(0x0800, ipv4(17, udp(b"good.vlan:1|c\n")), vlan=7))
    received += 2
    aggregated += 2

    counts = {"good.count": 0, "good.basket": 0}
    sums = {"good.count": 0.0, "good.basket": 0.0}
    for i in range(len(bad)):
        g = good[i % len(good)]
        name, rest = g.split(b":", 1)
        value = float(rest.split(b"|")[0])
        rate = 0.5 if b"@0.5" in g else 1.0
        counts[name.decode()] += 1
        sums[name.decode()] += value / rate
    metrics = {k: {"count": counts[k], "sum": repr(sums[k])} for k in counts}
    metrics["good.v6"] = {"count": 1, "sum": "1"}
    metrics["big.a"] = {"count": 2, "sum": "2"}
    metrics["big.b"] = {"count": 4000, "sum": "4000"}
    metrics["good.vlan"] = {"count": 1, "sum": "1"}
    assert payload  # keep the full datagram text for debugging
    write_pcap(os.path.join(out, "exact.pcap"), frames)
    json.dump({"drops": drops, "received": received, "aggregated": aggregated,
               "packets": len(frames), "metrics": metrics},
              open(os.path.join(out, "exact.json"), "w"), indent=1)

    # Every truncation of valid datagrams, then seeded garbage.
    frames, lines = [], 0
    valid = [b"trunc.a:5|c|#k:v,k2:v2\ntrunc.b:7.25|g|@0.5\ntrunc.c:u1|s|T1767225600\n",
             b"trunc.d:-1.5e2|ms|#a:b|c:abc\r\ntrunc.e:1|d\n"]
    for v in valid:
        for n in range(len(v) + 1):
            frames.append(eth(0x0800, ipv4(17, udp(v[:n]))))
            lines += lines_of(v[:n])
    rnd = random.Random(1234)
    for _ in range(500):
        g = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 1000)))
        if rnd.random() < 0.5:
            g = g.replace(b"\n", b"").join([b"", b":1|c\n"]) * 2
        frames.append(eth(0x0800, ipv4(17, udp(g))))
        lines += lines_of(g)
    write_pcap(os.path.join(out, "fuzz.pcap"), frames)
    json.dump({"received": lines, "packets": len(frames)},
              open(os.path.join(out, "fuzz.json"), "w"))


if __name__ == "__main__":
    main()
