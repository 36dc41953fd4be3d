#!/usr/bin/env python3
"""Compare `sluicectl --json metrics` output with sluice-gen's ground truth.

usage: compare.py TRUTH.json METRICS.json [STATS.json]

Counts, distinct counts and sums must be exactly equal (sums compared as
decimals), min/max/last exactly equal as doubles. Every window and group of the
truth must be present and nothing else. With STATS.json (sluicectl --json
stats), also checks received == aggregated + sum(drops) and that every
generated event was received and aggregated.
"""
import json
import sys
from decimal import Decimal


def key(row):
    tags = tuple(sorted(row.get("tags", {}).items()))
    return (row["window_start"], row["window_end"], row["name"], row["type"], tags)


def main():
    truth = json.load(open(sys.argv[1]), parse_float=Decimal)
    got = json.load(open(sys.argv[2]), parse_float=Decimal)
    errors = []
    want = {key(r): r for r in truth["metrics"]}
    have = {}
    for r in got:
        k = key(r)
        if k in have:
            errors.append(f"duplicate row {k}")
        have[k] = r
    for k in sorted(set(want) - set(have)):
        errors.append(f"missing: {k}")
    for k in sorted(set(have) - set(want)):
        errors.append(f"unexpected: {k}")
    checked = 0
    for k in sorted(set(want) & set(have)):
        w, h = want[k], have[k]
        for field in ("count", "sum", "min", "max", "last", "distinct"):
            if field not in w:
                continue
            if field not in h:
                errors.append(f"{k}: no field {field}")
                continue
            if field in ("min", "max", "last"):
                ok = float(w[field]) == float(h[field])
            else:
                ok = Decimal(w[field]) == Decimal(h[field])
            checked += 1
            if not ok:
                errors.append(f"{k}: {field} = {h[field]}, truth {w[field]}")
    if len(sys.argv) > 3:
        s = json.load(open(sys.argv[3]))
        drops = sum(s["drops"].values())
        if s["received"] != s["aggregated"] + drops:
            errors.append(f"stats: received {s['received']} != aggregated {s['aggregated']}"
                          f" + drops {drops}")
        if s["received"] != truth["events"] or s["aggregated"] != truth["events"]:
            errors.append(f"stats: received {s['received']}, aggregated {s['aggregated']},"
                          f" generated {truth['events']}")
        if s["packets"]["received"] != truth["datagrams"]:
            errors.append(f"stats: {s['packets']['received']} packets,"
                          f" generated {truth['datagrams']}")
        for c in s["cores"]:
            cd = sum(c["drops"].values())
            if c["received"] != c["aggregated"] + cd:
                errors.append(f"core {c['lcore']}: received != aggregated + drops")
    if errors:
        for e in errors[:40]:
            print(e, file=sys.stderr)
        print(f"{len(errors)} difference(s)", file=sys.stderr)
        return 1
    print(f"compare: {len(want)} groups in {len({k[0] for k in want})} windows,"
          f" {checked} values equal to the ground truth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
