#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The sluice authors
"""Independent check of sluice-gen's output.

Re-parses the pcap file(s) from scratch (pcap records, Ethernet, IPv4, UDP,
then statsd lines, JSON lines or the sluice binary format of
docs/wire-format.md), recomputes every aggregate of the ground truth with
Decimal/Fraction arithmetic and Python sets, and asserts that the truth file
says exactly the same. It also checks the framing rules sluice-gen promises:
valid IPv4 header checksum, DF, TTL 64, valid UDP checksum (or 0), the
format's destination port, one source (store, or producer) per datagram,
each source on exactly one queue ((n - 1) % Q), payload <= payload_max
(statsd and JSON: ending in '\\n'), at most lines_per_datagram lines or
events, timestamps equal to start + floor(first_event_index * 1e6 / rate)
microseconds.

JSON and binary: every event has exactly the fields of its kind, in order,
the amount with two decimals (binary: exact micro-units), the store of the
datagram's source (unless --producers), binary sequence numbers 1, 2, ... per
producer; event times within the bounds of the time knobs (and, without
--skew, the late and out-of-order fractions within 6 sigma). The views are
recomputed from the view definitions (the built-in default's are transcribed
below from docs/configuration.md and must match the truth's), with the
lateness rule re-implemented from its statement in the truth ("late_rule":
a watermark per queue, i.e. per pcap file, lateness per slice, keep_late):
per view, window and group the count, sum, avg (correctly rounded double of
the exact mean), min, max, last (greatest time, then greatest value),
quantiles (lower quantile, rank floor(q (n - 1))), distinct, top-k (count
descending, then item bytewise) and late; the rows' order; the totals.

Usage: gen_selfcheck.py --truth TRUTH.json PCAP [PCAP...]
With --queues Q > 1, pass the Q files in queue order (out.q0.pcap first).
Exit status 0 when everything matches, 1 on a mismatch, 2 on a usage error.
Standard library only.
"""

import argparse
import json
import math
import re
import struct
import sys
from collections import Counter
from decimal import Decimal
from fractions import Fraction

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


def parse_frame(path, idx, frame, dst_port=8125):
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
    if sport != 40000 + store % 25536 or dport != dst_port or ulen != 8 + len(payload):
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


def load_datagrams(paths, queues, dst_port=8125):
    """Merge the files back into generation order (timestamp, then the IP id sequence):
    (ts, ip id, source, payload, where, queue: the index of the file it came from)."""
    streams = []
    for q, path in enumerate(paths):
        pkts = []
        last_ts = -1
        for i, (ts, frame) in enumerate(read_pcap(path)):
            store, ip_id, payload = parse_frame(path, i, frame, dst_port)
            if ts < last_ts:
                fail(f"{path} packet #{i}: timestamp goes backwards")
            last_ts = ts
            if queues > 1 and (store - 1) % queues != q:
                fail(f"{path} packet #{i}: store {store} belongs to queue {(store - 1) % queues}")
            pkts.append((ts, ip_id, store, payload, f"{path} packet #{i}", q))
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
    payload_max = int(truth.get("payload_max", PAYLOAD_MAX))
    aggs = {}
    events = 0
    for ts, _, store, payload, where, _ in datagrams:
        if start_us is not None and rate is not None:
            want = start_us + events * 1000000 // rate
            if ts != want:
                fail(f"{where}: timestamp {ts} us, expected {want} for first line #{events}")
        if len(payload) > payload_max or not payload.endswith(b"\n"):
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


# ------------------------------------------------------------------------------------------
# JSON lines and binary events

KINDS = ("visit", "purchase", "refund")
FIELD_ORDER = {
    "visit": ["event", "store", "user", "ts"],
    "purchase": ["event", "store", "sku", "amount", "user", "ts"],
    "refund": ["event", "store", "sku", "amount", "user", "ts"],
}
NS_PER_MS = 1000000


def agg(key, kind, field=None, **extra):
    d = {"key": key, "kind": kind}
    if field is not None:
        d["field"] = field
    d.update(extra)
    return d


def default_view(name, event, lateness_ns, keep_late, max_groups, aggregates):
    return {"view": name, "window_size_ns": 10 * 10**9, "window_slide_ns": 10 * 10**9,
            "time": "event", "allowed_lateness_ns": lateness_ns, "keep_late": keep_late,
            "max_groups": max_groups,
            "where": [{"dim": "event", "op": "eq", "values": [event]}],
            "group_by": ["store"], "aggregates": aggregates}


# The built-in retail views, transcribed from docs/configuration.md (not from the code).
DEFAULT_VIEW_DEFS = [
    default_view("footfall", "visit", 30 * 10**9, True, 10000,
                 [agg("count", "count"), agg("distinct(user)", "distinct", "user")]),
    default_view("sales", "purchase", 30 * 10**9, True, 10000,
                 [agg("count", "count"), agg("sum(amount)", "sum", "amount"),
                  agg("avg(amount)", "avg", "amount"), agg("min(amount)", "min", "amount"),
                  agg("max(amount)", "max", "amount"), agg("last(amount)", "last", "amount"),
                  agg("quantiles(amount)", "quantiles", "amount",
                      quantiles=[Decimal("0.5"), Decimal("0.9"), Decimal("0.99")])]),
    default_view("popular", "purchase", 30 * 10**9, True, 10000,
                 [agg("topk(sku,10)", "topk", "sku", k=10)]),
]


def decimal_text(d):
    """A number as views read it as a dimension: the shortest exact decimal ("23.5", "12")."""
    return format(d.normalize(), "f")


class Event:
    """One event as read back from the wire; amount_text is the amount as a dimension."""
    __slots__ = ("kind", "store", "sku", "amount", "amount_text", "user", "ts_ms")

    def dim(self, name):
        """The event's value of a dimension as text (view.h), None when absent ("event" is
        the name)."""
        if name == "event":
            return self.kind
        if name == "amount":
            return self.amount_text
        if name in ("store", "sku", "user"):
            return getattr(self, name)
        return None


def check_ident(where, text, prefix, width, maximum):
    m = re.fullmatch(re.escape(prefix) + r"([0-9]+)", text or "")
    if not m or len(m.group(1)) != width or not 1 <= int(m.group(1)) <= maximum:
        fail(f"{where}: bad identifier {text!r} (want {prefix} + {width} digits, 1..{maximum})")


def widths(truth):
    return (max(2, len(str(int(truth["stores"])))), max(4, len(str(int(truth["skus"])))),
            max(4, len(str(int(truth["users"])))))


def check_event(where, ev, truth):
    sw, kw, uw = widths(truth)
    if ev.kind not in KINDS:
        fail(f"{where}: unknown event {ev.kind!r}")
    check_ident(where, ev.store, "s", sw, int(truth["stores"]))
    check_ident(where, ev.user, "u", uw, int(truth["users"]))
    if ev.kind == "visit":
        if ev.sku is not None or ev.amount is not None:
            fail(f"{where}: a visit with a sku or an amount")
        return
    check_ident(where, ev.sku, "A-", kw, int(truth["skus"]))
    if ev.amount is None or not Decimal("1.00") <= ev.amount <= Decimal("500.00") \
            or ev.amount.as_tuple().exponent != -2:
        fail(f"{where}: amount {ev.amount!r} not a two-decimal value in 1.00..500.00")


def no_dupes(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in {keys}")
    return pairs


def parse_json_payload(where, payload):
    if not payload.endswith(b"\n"):
        fail(f"{where}: JSON payload without a final newline")
    out = []
    for i, raw in enumerate(payload[:-1].split(b"\n")):
        w = f"{where} line {i}"
        try:
            pairs = json.loads(raw.decode("utf-8"), parse_float=Decimal, object_pairs_hook=no_dupes)
        except ValueError as e:
            fail(f"{w}: not a JSON object: {e}")
        if not isinstance(pairs, list):
            fail(f"{w}: not a flat JSON object")
        d = dict(pairs)
        kind = d.get("event")
        if kind not in FIELD_ORDER or [k for k, _ in pairs] != FIELD_ORDER[kind]:
            fail(f"{w}: fields {[k for k, _ in pairs]} for event {kind!r}")
        ev = Event()
        ev.kind, ev.store, ev.user = kind, d["store"], d["user"]
        ev.sku = d.get("sku")
        ev.amount = d.get("amount")
        if ev.amount is not None:
            if not isinstance(ev.amount, Decimal):
                fail(f"{w}: amount {ev.amount!r} is not a decimal number")
            ev.amount_text = decimal_text(ev.amount)
        else:
            ev.amount_text = None
        if type(d["ts"]) is not int or not 1 <= d["ts"] < 10**13:
            fail(f"{w}: ts {d['ts']!r} is not milliseconds")
        ev.ts_ms = d["ts"]
        if any(not isinstance(d[k], str) for k in ("store", "user") + (("sku",) if ev.sku else ())):
            fail(f"{w}: a string field is not a string")
        out.append(ev)
    return out


def parse_bin_payload(where, payload, seqs, source, producers):
    """The sluice binary format, version 1, per docs/wire-format.md."""
    if len(payload) < 20 or payload[:3] != b"SLB" or payload[3] != 1:
        fail(f"{where}: bad binary header {payload[:20].hex()}")
    flags, count, producer, seq = struct.unpack_from("<HHIQ", payload, 4)
    if flags != 0 or count == 0:
        fail(f"{where}: flags {flags}, count {count}")
    if producer != source:
        fail(f"{where}: producer {producer} in a datagram from source {source}")
    if producers and not 1 <= producer <= producers:
        fail(f"{where}: producer {producer} out of 1..{producers}")
    want = seqs.get(producer, 0) + 1
    if seq != want:
        fail(f"{where}: producer {producer} sequence {seq}, expected {want}")
    seqs[producer] = seq
    off = 20
    out = []
    for i in range(count):
        w = f"{where} event {i}"
        if off + 12 > len(payload):
            fail(f"{w}: truncated")
        length, ts_ns = struct.unpack_from("<HQ", payload, off)
        end = off + length
        if length < 12 or end > len(payload):
            fail(f"{w}: bad length {length}")
        p = off + 10
        nlen = payload[p]
        name = payload[p + 1:p + 1 + nlen].decode("utf-8")
        p += 1 + nlen
        nf = payload[p]
        p += 1
        fields = []
        for _ in range(nf):
            klen = payload[p]
            key = payload[p + 1:p + 1 + klen].decode("utf-8")
            p += 1 + klen
            typ = payload[p]
            p += 1
            if typ == 1:
                slen = payload[p]
                val = payload[p + 1:p + 1 + slen].decode("utf-8")
                p += 1 + slen
            elif typ == 3:
                (micro,) = struct.unpack_from("<q", payload, p)
                p += 8
                val = micro
            else:
                fail(f"{w}: field {key!r} of type {typ} (want 1 string or 3 micro)")
            fields.append((key, typ, val))
        if p != end:
            fail(f"{w}: {end - p} bytes left after the fields")
        off = end
        if name not in FIELD_ORDER or [k for k, _, _ in fields] != FIELD_ORDER[name][1:-1]:
            fail(f"{w}: fields {[k for k, _, _ in fields]} for event {name!r}")
        d = {k: (t, v) for k, t, v in fields}
        ev = Event()
        ev.kind = name
        for k in ("store", "sku", "user"):
            if k in d and d[k][0] != 1:
                fail(f"{w}: {k} is not a string")
        ev.store, ev.user = d["store"][1], d["user"][1]
        ev.sku = d["sku"][1] if "sku" in d else None
        if "amount" in d:
            if d["amount"][0] != 3 or d["amount"][1] % 10000:
                fail(f"{w}: amount {d['amount']} not exact micro-units of cents")
            ev.amount = Decimal(d["amount"][1]).scaleb(-6).quantize(Decimal("0.01"))
            ev.amount_text = decimal_text(ev.amount)
        else:
            ev.amount, ev.amount_text = None, None
        if ts_ns % NS_PER_MS or ts_ns == 0:
            fail(f"{w}: ts {ts_ns} ns is not whole milliseconds")
        ev.ts_ms = ts_ns // NS_PER_MS
        out.append(ev)
    if off != len(payload):
        fail(f"{where}: {len(payload) - off} bytes after the announced events")
    return out


def read_events(datagrams, truth):
    """Every event in send order as (event, arrival ns, queue), with the per-datagram checks."""
    fmt = truth["format"]
    start_us = int(truth["start_ns"]) // 1000
    rate = int(truth["rate"])
    max_lines = int(truth["lines_per_datagram"])
    payload_max = int(truth["payload_max"])
    producers = int(truth["producers"])
    offset_ms = int(truth["ts_offset_ns"]) // NS_PER_MS
    skew_ms = int(truth["skew_ns"]) // NS_PER_MS
    by_ms = int(truth["late_by_ns"]) // NS_PER_MS
    late_f = float(truth["late_fraction"])
    ooo_f = float(truth["out_of_order_fraction"])
    lo = -(skew_ms + (2 * by_ms if late_f > 0 else by_ms if ooo_f > 0 else 0))
    seqs = {}
    out = []
    n_late = n_ooo = 0
    for ts, _, source, payload, where, queue in datagrams:
        if rate:
            want = start_us + len(out) * 1000000 // rate
            if ts != want:
                fail(f"{where}: timestamp {ts} us, expected {want} for first event #{len(out)}")
        if len(payload) > payload_max:
            fail(f"{where}: payload of {len(payload)} bytes over {payload_max}")
        if fmt == "json":
            evs = parse_json_payload(where, payload)
        else:
            evs = parse_bin_payload(where, payload, seqs, source, producers)
        if not 1 <= len(evs) <= max_lines:
            fail(f"{where}: {len(evs)} events (limit {max_lines})")
        base_ms = ts // 1000 - offset_ms
        for i, ev in enumerate(evs):
            w = f"{where} event {i}"
            check_event(w, ev, truth)
            if not producers and int(ev.store[1:]) != source:
                fail(f"{w}: store {ev.store} in a datagram from store {source}")
            d = ev.ts_ms - base_ms
            if not lo <= d <= skew_ms:
                fail(f"{w}: ts {ev.ts_ms} is {d} ms from its datagram's, outside {lo}..{skew_ms}")
            if skew_ms == 0:
                n_late += d < -by_ms
                n_ooo += -by_ms <= d < 0
            out.append((ev, ts * 1000, queue))
    n = len(out)
    if skew_ms == 0 and n:
        for name, got, f in (("late", n_late, late_f), ("out-of-order", n_ooo, ooo_f)):
            sigma = math.sqrt(n * f * (1 - f))
            if abs(got - n * f) > 6 * sigma + 1:
                fail(f"{got} {name} events of {n}, expected about {n * f:.0f} ({f})")
    return out


def where_holds(conds, ev):
    for c in conds:
        v = ev.dim(c["dim"])
        if c["op"] in ("eq", "in"):
            if v is None or v not in c["values"]:
                return False
        elif c["op"] == "exists":
            if v is None:
                return False
        elif c["op"] == "not_exists":
            if v is not None:
                return False
        else:
            fail(f"unknown where op {c['op']!r}")
    return True


def group_sort_key(group):
    return tuple(v.encode() for v in group)


def recompute_views(events, defs):
    """{(view index, window start, group tuple): {"late": n, "recs": [(t, event)]}}.

    The late rule of the truth ("late_rule"), restated: M is the largest event
    time of the events sent before on the same queue (the pcap file the
    datagram is in; one file: all events), every event counting; an event of an
    event-time view is late when the end of its slice [floor(t / slide) * slide,
    + slide) plus allowed_lateness is <= M, and then late for every window that
    holds it (counted once in the view's total). Without keep_late a late event
    shows in no row: the rows' late is 0 and a group with only late events in a
    window has no row.
    """
    acc = {}
    totals = [{"events": 0, "late": 0} for _ in defs]
    m = {}   # queue -> the largest event time of the events sent before on it, ns
    for ev, arrival, queue in events:
        t_ev = ev.ts_ms * NS_PER_MS
        mq = m.get(queue, 0)
        for vi, vd in enumerate(defs):
            if not where_holds(vd["where"], ev):
                continue
            totals[vi]["events"] += 1
            size, slide = int(vd["window_size_ns"]), int(vd["window_slide_ns"])
            lateness = int(vd["allowed_lateness_ns"])
            by_event = vd["time"] == "event"
            keep_late = vd["keep_late"] is True
            t = t_ev if by_event else arrival
            # An absent dimension is empty in a group key (view.h).
            group = tuple(ev.dim(d) or "" for d in vd["group_by"])
            s = t // slide * slide
            late = by_event and s + slide + lateness <= mq
            totals[vi]["late"] += late
            while s >= 0 and s + size > t:
                if late and not keep_late:
                    s -= slide
                    continue
                a = acc.setdefault((vi, s, group), {"late": 0, "recs": []})
                if late:
                    a["late"] += 1
                else:
                    a["recs"].append((t, ev))
                s -= slide
        m[queue] = max(mq, t_ev)
    return acc, totals


def field_values(recs, field):
    """(time, value) of a numeric field among the records: only "amount" is a number."""
    if field != "amount":
        return []
    return [(t, ev.amount) for t, ev in recs if ev.amount is not None]


def expected_values(vd, recs):
    """The values object of a row, in the shape of view.c's (exact: every error 0)."""
    out = {}
    for a in vd["aggregates"]:
        kind, field = a["kind"], a.get("field")
        vals = field_values(recs, field)
        nums = sorted(v for _, v in vals)
        if kind == "count":
            out[a["key"]] = len(recs)
        elif kind == "sum":
            out[a["key"]] = sum(nums, Decimal(0)) if nums else None
        elif kind == "avg":
            out[a["key"]] = float(Fraction(sum(nums, Decimal(0))) / len(nums)) if nums else None
        elif kind == "min":
            out[a["key"]] = nums[0] if nums else None
        elif kind == "max":
            out[a["key"]] = nums[-1] if nums else None
        elif kind == "last":
            out[a["key"]] = max(vals)[1] if vals else None
        elif kind == "quantiles":
            out[a["key"]] = None
            if nums:
                out[a["key"]] = {"%.15g" % float(qq): nums[math.floor(float(qq) * (len(nums) - 1))]
                                 for qq in a["quantiles"]}
                out[a["key"] + "_error"] = 0
        elif kind in ("distinct", "topk"):
            items = [ev.dim(field) for _, ev in recs]
            items = [i for i in items if i is not None]
            if kind == "distinct":
                out[a["key"]] = len(set(items))
                out[a["key"] + "_error"] = 0
            else:
                c = sorted(Counter(items).items(), key=lambda kv: (-kv[1], kv[0].encode()))
                out[a["key"]] = [{"item": k, "count": n, "error": 0} for k, n in c[:int(a["k"])]]
        else:
            fail(f"unknown aggregate kind {kind!r}")
    return out


def same_value(kind, got, want):
    if want is None or got is None:
        return got is None and want is None
    if kind == "avg":
        return float(got) == want
    if kind == "quantiles":
        return list(got) == list(want) and all(Decimal(got[k]) == want[k] for k in want)
    if kind == "topk":
        return got == want
    return type(got) in (int, Decimal) and Decimal(got) == Decimal(want)


def compare_views(acc, totals, truth, defs):
    errors = []
    names = [vd["view"] for vd in defs]
    rows = truth["views"]
    seen = set()
    prev = None
    for i, r in enumerate(rows):
        if set(r) != {"view", "window_start", "window_end", "group", "values", "late"}:
            errors.append(f"views[{i}]: fields {sorted(r)}")
            continue
        if r["view"] not in names:
            errors.append(f"views[{i}]: unknown view {r['view']!r}")
            continue
        vi = names.index(r["view"])
        vd = defs[vi]
        ws = int(r["window_start"])
        if int(r["window_end"]) != ws + int(vd["window_size_ns"]) or ws % int(vd["window_slide_ns"]):
            errors.append(f"views[{i}]: bad window [{ws}, {r['window_end']})")
        if list(r["group"]) != vd["group_by"]:
            errors.append(f"views[{i}]: group {r['group']} for group_by {vd['group_by']}")
            continue
        if not all(isinstance(v, str) for v in r["group"].values()):
            errors.append(f"views[{i}]: group values are not all strings: {r['group']}")
            continue
        group = tuple(r["group"].values())
        order = (int(r["window_end"]), vi, group_sort_key(group))
        if prev is not None and not prev < order:
            errors.append(f"views[{i}]: not sorted after the row before")
        prev = order
        key = (vi, ws, group)
        seen.add(key)
        a = acc.get(key)
        if a is None:
            errors.append(f"views[{i}]: {r['view']} {ws} {group} has no event in the pcap")
            continue
        if int(r["late"]) != a["late"]:
            errors.append(f"{r['view']} {ws} {group}: late {r['late']}, expected {a['late']}")
        want = expected_values(vd, a["recs"])
        if list(r["values"]) != list(want):
            errors.append(f"{r['view']} {ws} {group}: values {list(r['values'])}, "
                          f"expected {list(want)}")
            continue
        kinds = {x["key"]: x["kind"] for x in vd["aggregates"]}
        for k, w in want.items():
            got = r["values"][k]
            if not same_value(kinds.get(k, "count"), got, w):
                errors.append(f"{r['view']} {ws} {group}: {k} is {got}, expected {w}")
    for key in sorted(set(acc) - seen, key=lambda k: (k[0], k[1], group_sort_key(k[2]))):
        errors.append(f"{names[key[0]]} {key[1]} {key[2]}: in the pcap but not in the truth")
    got_totals = truth["totals"]
    for vi, vd in enumerate(defs):
        want = dict(totals[vi], view=vd["view"],
                    rows=sum(1 for k in acc if k[0] == vi))
        if vi >= len(got_totals) or {k: (int(v) if k != "view" else v)
                                     for k, v in got_totals[vi].items()} != want:
            errors.append(f"totals of {vd['view']}: {got_totals[vi] if vi < len(got_totals) else None}"
                          f", expected {want}")
    return errors


def check_events_truth(args, truth):
    queues = int(truth["queues"])
    if len(args.pcaps) != queues:
        fail(f"truth says {queues} queue(s) but {len(args.pcaps)} pcap file(s) were given")
    defs = truth["view_defs"]
    if truth["config"] == "default" and defs != DEFAULT_VIEW_DEFS:
        fail(f"truth's view_defs differ from the built-in default of docs/configuration.md: "
             f"{defs}")
    datagrams = load_datagrams(args.pcaps, queues, int(truth["dst_port"]))
    events = read_events(datagrams, truth)
    if len(events) != int(truth["events"]) or len(datagrams) != int(truth["datagrams"]):
        fail(f"pcap has {len(events)} events in {len(datagrams)} datagrams, truth says "
             f"{truth['events']} in {truth['datagrams']}")
    acc, totals = recompute_views(events, defs)
    errors = compare_views(acc, totals, truth, defs)
    if errors:
        for e in errors[:20]:
            print(f"gen_selfcheck: {e}", file=sys.stderr)
        fail(f"{len(errors)} mismatch(es) between the pcap and the truth")
    late = sum(t["late"] for t in totals)
    print(f"gen_selfcheck: OK: {len(events)} {truth['format']} events, {len(datagrams)} "
          f"datagrams in {queues} file(s), {len(truth['views'])} rows of {len(defs)} views, "
          f"{late} late")
    return 0


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
        if truth.get("format", "statsd") != "statsd":
            return check_events_truth(args, truth)
        queues = int(truth["queues"])
        if len(args.pcaps) != queues:
            fail(f"truth says {queues} queue(s) but {len(args.pcaps)} pcap file(s) were given")
        datagrams = load_datagrams(args.pcaps, queues, int(truth.get("dst_port", 8125)))
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
