#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The sluice authors
"""Independent check of sluice-gen's output.

Re-parses the pcap file(s) from scratch (pcap records, Ethernet, IPv4, UDP,
statsd lines), recomputes every aggregate of the ground truth with Decimal
arithmetic and Python sets, and asserts that the truth file says exactly the
same. It also checks the framing rules sluice-gen promises: valid IPv4 header
checksum, DF, TTL 64, valid UDP checksum (or 0), one store per datagram, each
store on exactly one queue ((n - 1) % Q), payload <= 1400 bytes ending in
'\\n', at most lines_per_datagram lines, timestamps equal to
start + floor(first_line_index * 1e6 / rate) microseconds.

Usage: gen_selfcheck.py --truth TRUTH.json PCAP [PCAP...]
With --queues Q > 1, pass the Q files in queue order (out.q0.pcap first).
Exit status 0 when everything matches, 1 on a mismatch, 2 on a usage error.
Standard library only.
"""

import argparse
import json
import struct
import sys
from decimal import Decimal

PAYLOAD_MAX = 1400
SAMPLE_RATES = {"0.5", "0.25", "0.1"}
TYPES = {"c", "g", "ms", "h", "d", "s"}
FIELDS = {
    "c": {"count", "sum"},
    "g": {"count", "min", "max", "last"},
    "ms": {"count", "sum", "min", "max"},
    "h": {"count", "sum", "min", "max"},
    "d": {"count", "sum", "min", "max"},
    "s": {"count", "distinct"},
}
COMMON = {"window_start", "window_end", "name", "type", "tags"}


class Mismatch(Exception):
    pass


def fail(msg):
    raise Mismatch(msg)


def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def read_pcap(path):
    """Yield (ts_us, frame) for every record of a classic microsecond pcap."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        fail(f"{path}: shorter than a pcap header")
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        e = "<"
    elif magic == 0xD4C3B2A1:
        e = ">"
    else:
        fail(f"{path}: bad magic {magic:#x} (want microsecond classic pcap)")
    _, vmaj, vmin, _, _, snaplen, linktype = struct.unpack(e + "IHHiIII", data[:24])
    if (vmaj, vmin) != (2, 4) or linktype != 1 or snaplen != 65535:
        fail(f"{path}: header v{vmaj}.{vmin} snaplen {snaplen} linktype {linktype}")
    off = 24
    while off < len(data):
        if off + 16 > len(data):
            fail(f"{path}: truncated record header at offset {off}")
        sec, usec, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        if usec >= 1000000 or incl != orig or off + incl > len(data):
            fail(f"{path}: bad record at offset {off - 16}")
        yield sec * 1000000 + usec, data[off:off + incl]
        off += incl


def parse_frame(path, idx, frame):
    """Return (store, ip_id, payload) of one sluice-gen frame, checking every header."""
    where = f"{path} packet #{idx}"
    if len(frame) < 42:
        fail(f"{where}: frame too short ({len(frame)})")
    dst, src, ethertype = frame[0:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
    if dst != bytes.fromhex("020000000001") or ethertype != 0x0800:
        fail(f"{where}: bad Ethernet dst {dst.hex()} or type {ethertype:#x}")
    ip = frame[14:34]
    ver_ihl, _, tot, ip_id, frag, ttl, proto = struct.unpack("!BBHHHBB", ip[:10])
    if ver_ihl != 0x45 or tot != len(frame) - 14 or frag != 0x4000 or ttl != 64 or proto != 17:
        fail(f"{where}: bad IPv4 header {ip.hex()}")
    if csum16(ip) != 0xFFFF:
        fail(f"{where}: bad IPv4 header checksum")
    if ip[16:20] != bytes([10, 0, 0, 1]) or ip[12] != 10 or ip[13] < 1:
        fail(f"{where}: bad IPv4 addresses {ip[12:20].hex()}")
    store = ((ip[13] - 1) << 16) | (ip[14] << 8) | ip[15]
    if int.from_bytes(src, "big") != 0x020000000002 + store:
        fail(f"{where}: Ethernet src {src.hex()} does not match store {store}")
    udp = frame[34:42]
    sport, dport, ulen, ucsum = struct.unpack("!HHHH", udp)
    payload = frame[42:]
    if sport != 40000 + store % 25536 or dport != 8125 or ulen != 8 + len(payload):
        fail(f"{where}: bad UDP header {udp.hex()} for store {store}")
    if ucsum != 0:
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
        if csum16(pseudo + frame[34:]) != 0xFFFF:
            fail(f"{where}: bad UDP checksum")
    return store, ip_id, payload


def parse_line(where, line):
    """statsd line -> (name, type, value text, rate text or None, [(k, v)...])."""
    parts = line.split("|")
    if len(parts) < 2 or ":" not in parts[0]:
        fail(f"{where}: malformed line {line!r}")
    name, value = parts[0].split(":", 1)
    mtype = parts[1]
    if mtype not in TYPES or not name or not value:
        fail(f"{where}: bad name/type/value in {line!r}")
    rate, tags = None, []
    for field in parts[2:]:
        if field.startswith("@") and rate is None:
            rate = field[1:]
            if rate not in SAMPLE_RATES:
                fail(f"{where}: unexpected sample rate in {line!r}")
        elif field.startswith("#") and not tags:
            for tag in field[1:].split(","):
                if ":" not in tag:
                    fail(f"{where}: tag without ':' in {line!r}")
                tags.append(tuple(tag.split(":", 1)))
        else:
            fail(f"{where}: unexpected field {field!r} in {line!r}")
    if len({k for k, _ in tags}) != len(tags):
        fail(f"{where}: repeated tag key in {line!r}")
    return name, mtype, value, rate, tags


def load_datagrams(paths, queues):
    """Merge the files back into generation order (timestamp, then the IP id sequence)."""
    streams = []
    for q, path in enumerate(paths):
        pkts = []
        last_ts = -1
        for i, (ts, frame) in enumerate(read_pcap(path)):
            store, ip_id, payload = parse_frame(path, i, frame)
            if ts < last_ts:
                fail(f"{path} packet #{i}: timestamp goes backwards")
            last_ts = ts
            if queues > 1 and (store - 1) % queues != q:
                fail(f"{path} packet #{i}: store {store} belongs to queue {(store - 1) % queues}")
            pkts.append((ts, ip_id, store, payload, f"{path} packet #{i}"))
        streams.append(pkts)
    heads = [0] * len(streams)
    merged = []
    total = sum(len(s) for s in streams)
    while len(merged) < total:
        want = len(merged) & 0xFFFF
        cands = [q for q in range(len(streams)) if heads[q] < len(streams[q])]
        tmin = min(streams[q][heads[q]][0] for q in cands)
        pick = [q for q in cands if streams[q][heads[q]][:2] == (tmin, want)]
        if len(pick) != 1:
            fail(f"cannot restore global order at datagram {len(merged)} (IP id {want})")
        merged.append(streams[pick[0]][heads[pick[0]]])
        heads[pick[0]] += 1
    return merged


def recompute(datagrams, truth):
    window_ns = int(truth["window_ns"])
    start_us = int(truth["start_ns"]) // 1000 if "start_ns" in truth else None
    rate = int(truth["rate"]) if "rate" in truth else None
    max_lines = int(truth.get("lines_per_datagram", 200))
    aggs = {}
    events = 0
    for ts, _, store, payload, where in datagrams:
        if start_us is not None and rate is not None:
            want = start_us + events * 1000000 // rate
            if ts != want:
                fail(f"{where}: timestamp {ts} us, expected {want} for first line #{events}")
        if len(payload) > PAYLOAD_MAX or not payload.endswith(b"\n"):
            fail(f"{where}: payload of {len(payload)} bytes, or no trailing newline")
        lines = payload[:-1].decode("ascii").split("\n")
        if not 1 <= len(lines) <= max_lines:
            fail(f"{where}: {len(lines)} lines (limit {max_lines})")
        ws = ts * 1000 // window_ns * window_ns
        for line in lines:
            name, mtype, value, rate_text, tags = parse_line(where, line)
            events += 1
            tagd = dict(tags)
            if "store" in tagd and int(tagd["store"][1:]) != store:
                fail(f"{where}: line {line!r} in a datagram from store {store}")
            canon = ",".join(sorted(f"{k}:{v}" for k, v in tags))
            key = (ws, name, mtype, canon)
            a = aggs.get(key)
            if a is None:
                a = aggs[key] = {"tags": tagd, "count": 0, "sum": Decimal(0), "set": set(),
                                 "min": None, "max": None, "last": None}
            a["count"] += 1
            if mtype == "s":
                a["set"].add(value)
                continue
            v = Decimal(value)
            if mtype == "c":
                a["sum"] += v / Decimal(rate_text) if rate_text else v
                continue
            if rate_text:
                fail(f"{where}: sample rate on a {mtype} line {line!r}")
            a["sum"] += v
            if a["min"] is None or v < Decimal(a["min"]):
                a["min"] = value
            if a["max"] is None or v > Decimal(a["max"]):
                a["max"] = value
            a["last"] = value
    return aggs, events


def compare(aggs, truth):
    window_ns = int(truth["window_ns"])
    metrics = truth["metrics"]
    errors = []
    seen = set()
    prev = None
    for i, m in enumerate(metrics):
        mtype = m.get("type")
        if mtype not in FIELDS or set(m) != COMMON | FIELDS[mtype]:
            errors.append(f"metrics[{i}]: unexpected fields {sorted(m)}")
            continue
        ws = int(m["window_start"])
        canon = ",".join(sorted(f"{k}:{v}" for k, v in m["tags"].items()))
        key = (ws, m["name"], mtype, canon)
        if prev is not None and not prev < key:
            errors.append(f"metrics[{i}]: not sorted after {prev}")
        prev = key
        if int(m["window_end"]) != ws + window_ns or ws % window_ns:
            errors.append(f"metrics[{i}]: bad window [{ws}, {m['window_end']})")
        seen.add(key)
        a = aggs.get(key)
        if a is None:
            errors.append(f"metrics[{i}]: {key} is not in the pcap")
            continue
        exp = {"count": a["count"]}
        if mtype == "s":
            exp["distinct"] = len(a["set"])
        if mtype in ("c", "ms", "h", "d"):
            exp["sum"] = a["sum"]
        for f in ("count", "distinct", "sum"):
            if f in exp and Decimal(m[f]) != exp[f]:
                errors.append(f"{key}: {f} is {m[f]}, expected {exp[f]}")
        for f in ("min", "max", "last"):
            if f in FIELDS[mtype] and float(m[f]) != float(a[f]):
                errors.append(f"{key}: {f} is {m[f]}, expected float({a[f]})")
    for key in sorted(set(aggs) - seen):
        errors.append(f"{key}: in the pcap but missing from the truth")
    return errors


def main():
    ap = argparse.ArgumentParser(description="Check sluice-gen pcap(s) against its truth file.")
    ap.add_argument("--truth", required=True, help="ground truth JSON written by sluice-gen")
    ap.add_argument("pcaps", nargs="+", help="pcap file(s), in queue order")
    args = ap.parse_args()

    try:
        with open(args.truth) as f:
            truth = json.load(f, parse_float=Decimal)
        if truth.get("generator") != "sluice-gen" or truth.get("version") != 1:
            fail("truth: not a sluice-gen version 1 file")
        queues = int(truth["queues"])
        if len(args.pcaps) != queues:
            fail(f"truth says {queues} queue(s) but {len(args.pcaps)} pcap file(s) were given")
        datagrams = load_datagrams(args.pcaps, queues)
        aggs, events = recompute(datagrams, truth)
        if events != int(truth["events"]) or len(datagrams) != int(truth["datagrams"]):
            fail(f"pcap has {events} events in {len(datagrams)} datagrams, truth says "
                 f"{truth['events']} in {truth['datagrams']}")
        stores = {d[2] for d in datagrams}
        errors = compare(aggs, truth)
        if errors:
            for e in errors[:20]:
                print(f"gen_selfcheck: {e}", file=sys.stderr)
            fail(f"{len(errors)} mismatch(es) between the pcap and the truth")
    except Mismatch as e:
        print(f"gen_selfcheck: FAIL: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as e:
        print(f"gen_selfcheck: FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    windows = len({k[0] for k in aggs})
    print(f"gen_selfcheck: OK: {events} events, {len(datagrams)} datagrams in {queues} file(s), "
          f"{len(truth['metrics'])} metrics in {windows} window(s), "
          f"{len(stores)} stores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
