#!/usr/bin/env bash
# sluice-gen's ground truth, checked by an independent re-parse of its pcaps
# (gen_selfcheck.py), for one queue and an RSS-like split, and determinism:
# statsd, JSON lines and binary (the views of the built-in config, and a config
# of sliding windows with and without keep_late, lateness per queue), with the
# event-time knobs, a replay an hour in the past, and --producers. Then the
# comparator of query rows with the truth (compare_views.py) is itself checked:
# a truth against itself passes, perturbed copies fail.
set -u
. "$(dirname "$0")/lib.sh"

CHECK="$SL_SRC/tests/integration/gen_selfcheck.py"
COMPARE="$SL_SRC/tests/integration/compare_views.py"

"$SLUICE_GEN" --events 20000 --lines-per-datagram 1 --seed 3 --window 1s --rate 5000 \
	--pcap "$T/a.pcap" --truth "$T/a.json" --quiet || fail "sluice-gen a"
python3 "$CHECK" --truth "$T/a.json" "$T/a.pcap" || fail "a"
"$SLUICE_GEN" --events 30000 --lines-per-datagram 20 --seed 4 --queues 3 --window 2s \
	--pcap "$T/b.pcap" --truth "$T/b.json" --quiet || fail "sluice-gen b"
python3 "$CHECK" --truth "$T/b.json" \
	"$T/b.q0.pcap" "$T/b.q1.pcap" "$T/b.q2.pcap" || fail "b"
"$SLUICE_GEN" --events 20000 --lines-per-datagram 1 --seed 3 --window 1s --rate 5000 \
	--pcap "$T/c.pcap" --truth "$T/c.json" --quiet || fail "sluice-gen c"
cmp -s "$T/a.pcap" "$T/c.pcap" && cmp -s "$T/a.json" "$T/c.json" || fail "same seed, different output"

# JSON lines, one queue, every time knob (events moved back by more than
# --late-by are late in every view, all three having 30s of lateness).
J="--format json --events 30000 --seed 8 --rate 3000 --skew 1500ms --out-of-order 0.2"
J="$J --late 0.05 --late-by 40s"
"$SLUICE_GEN" $J --pcap "$T/j.pcap" --truth "$T/j.json" --quiet || fail "sluice-gen j"
python3 "$CHECK" --truth "$T/j.json" "$T/j.pcap" || fail "j"
"$SLUICE_GEN" $J --pcap "$T/j2.pcap" --truth "$T/j2.json" --quiet || fail "sluice-gen j2"
cmp -s "$T/j.pcap" "$T/j2.pcap" && cmp -s "$T/j.json" "$T/j2.json" || fail "json: same seed, different output"

# The same events replayed as if from an hour ago: the same rows, an hour earlier.
"$SLUICE_GEN" $J --ts-offset 1h --pcap "$T/r.pcap" --truth "$T/r.json" --quiet || fail "sluice-gen r"
python3 "$CHECK" --truth "$T/r.json" "$T/r.pcap" || fail "r"
python3 - "$T/j.json" "$T/r.json" <<'EOF' || fail "replay an hour back differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for r in b["views"]:
    r["window_start"] += 3600 * 10**9
    r["window_end"] += 3600 * 10**9
assert a["views"] == b["views"] and a["totals"] == b["totals"], "rows differ"
assert sum(t["late"] for t in a["totals"]) > 0, "no late event"
EOF

# Binary, three queues (one file per queue), knobs, 32 events per datagram.
B="--format binary --events 40000 --seed 7 --queues 3 --rate 4000 --skew 2s"
B="$B --out-of-order 0.1 --late 0.02 --late-by 45s"
"$SLUICE_GEN" $B --pcap "$T/bin.pcap" --truth "$T/bin.json" --quiet || fail "sluice-gen bin"
python3 "$CHECK" --truth "$T/bin.json" "$T/bin.q0.pcap" "$T/bin.q1.pcap" "$T/bin.q2.pcap" ||
	fail "bin"

# Binary with producers (per-producer sequence numbers, a store per event).
"$SLUICE_GEN" --format binary --events 20000 --seed 9 --producers 5 --queues 2 \
	--lines-per-datagram 16 --pcap "$T/p.pcap" --truth "$T/p.json" --quiet || fail "sluice-gen p"
python3 "$CHECK" --truth "$T/p.json" "$T/p.q0.pcap" "$T/p.q1.pcap" || fail "p"

# A config of its own: sliding windows with lateness with and without keep_late,
# a tumbling view without lateness, an arrival-time view; three queues of seven
# producers, so that each queue's watermark and the slice rule decide lateness.
cat >"$T/v.yaml" <<'EOF'
version: 1
views:
  - name: slide_drop
    where: {event: purchase}
    group_by: [store]
    window: {size: 30s, slide: 10s}
    allowed_lateness: 5s
    aggregates: [count, "sum(amount)", "avg(amount)", "min(amount)", "max(amount)",
                 "last(amount)", "topk(sku, 3)"]
  - name: slide_keep
    where: {event: [visit, refund]}
    group_by: [event, store]
    window: {size: 20s, slide: 5s}
    allowed_lateness: 2s
    keep_late: true
    aggregates: [count, "distinct(user)", "quantiles(amount, [0.5])"]
  - name: tumble_drop
    where: {event: purchase}
    window: {size: 10s}
    aggregates: [count, "sum(amount)", "avg(amount)", "min(amount)", "max(amount)",
                 "last(amount)", "distinct(user)", "topk(store, 2)"]
  - name: arrival
    time: arrival
    window: {size: 5s}
    aggregates: [count]
EOF
V="--format binary --config $T/v.yaml --events 30000 --seed 21 --producers 7 --queues 3"
V="$V --rate 300 --skew 3s --out-of-order 0.2 --late 0.03 --late-by 20s"
"$SLUICE_GEN" $V --pcap "$T/v.pcap" --truth "$T/v.json" --quiet || fail "sluice-gen v"
python3 "$CHECK" --truth "$T/v.json" "$T/v.q0.pcap" "$T/v.q1.pcap" "$T/v.q2.pcap" || fail "v"
python3 - "$T/v.json" <<'EOF' || fail "v: the truth does not exercise the late rules"
import json, sys
t = json.load(open(sys.argv[1]))
late = {x["view"]: x["late"] for x in t["totals"]}
rows = {}
for r in t["views"]:
    rows.setdefault(r["view"], []).append(r)
assert late["slide_drop"] > 0 and late["slide_keep"] > 0 and late["arrival"] == 0, late
assert all(r["late"] == 0 and r["values"]["count"] > 0 for r in rows["slide_drop"])
assert any(r["late"] > 0 and r["values"]["count"] == 0 for r in rows["slide_keep"])
EOF

# The same events as JSON and as binary (same datagram packing): the same rows.
S="--events 20000 --seed 12 --lines-per-datagram 8 --payload-max 1400 --skew 500ms --late 0.01"
"$SLUICE_GEN" --format json $S --pcap "$T/sj.pcap" --truth "$T/sj.json" --quiet || fail "sluice-gen sj"
"$SLUICE_GEN" --format binary $S --pcap "$T/sb.pcap" --truth "$T/sb.json" --quiet || fail "sluice-gen sb"
python3 "$CHECK" --truth "$T/sb.json" "$T/sb.pcap" || fail "sb"
python3 - "$T/sj.json" "$T/sb.json" <<'EOF' || fail "json and binary truths differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["views"] == b["views"] and a["datagrams"] == b["datagrams"]
EOF

# A live sink's truth is the pcap's: event times are simulated from --start and --rate.
"$SLUICE_GEN" --format json --events 5000 --seed 13 --rate 100000 --udp 127.0.0.1:9 \
	--truth "$T/u.json" --quiet || fail "sluice-gen u"
"$SLUICE_GEN" --format json --events 5000 --seed 13 --rate 100000 --dst-port 9 \
	--pcap "$T/u.pcap" --truth "$T/u2.json" --quiet || fail "sluice-gen u2"
python3 - "$T/u.json" "$T/u2.json" <<'EOF' || fail "udp and pcap truths differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["sink"] == "udp" and b["sink"] == "pcap" and a["dst_port"] == b["dst_port"] == 9
assert a["views"] == b["views"] and a["datagrams"] == b["datagrams"]
EOF

# compare_views.py, the comparator of `sluicectl query --json` rows with a truth:
# each truth against itself and receiver-like rows within the stated bounds pass;
# every kind of perturbation fails.
python3 - "$COMPARE" "$T" <<'EOF' || fail "compare_views.py"
import copy, json, subprocess, sys
from decimal import Decimal

cmp_py, tdir = sys.argv[1], sys.argv[2]
n_files = 0


def load(path):
    return json.load(open(path), parse_float=Decimal)


def dump(o):
    """JSON with Decimals written as they were read (json cannot)."""
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dump(v) for k, v in o.items()) + "}"
    if isinstance(o, list):
        return "[" + ",".join(dump(v) for v in o) + "]"
    return json.dumps(o)


def write(obj):
    global n_files
    n_files += 1
    path = f"{tdir}/cmp{n_files}.json"
    with open(path, "w") as f:
        f.write(dump(obj))
    return path


def expect(ok, what, truth, queries, *opts):
    paths = [q if isinstance(q, str) else write(q) for q in queries]
    p = subprocess.run([sys.executable, cmp_py, truth, *paths, *opts], capture_output=True,
                       text=True)
    good = p.returncode == 0 and p.stdout.startswith("compare_views: OK: ")
    bad = p.returncode == 1 and "compare_views: FAIL: " in p.stderr
    if not (good if ok else bad):
        sys.exit(f"compare_views: {what}: expected {'OK' if ok else 'FAIL'}, got exit "
                 f"{p.returncode}\n{p.stdout}{p.stderr}")


def first(rows, view, pred=lambda r: True):
    return next(r for r in rows if r["view"] == view and pred(r))


def with_values(r):
    return r["values"].get("count", 1) > 0


J, V = f"{tdir}/j.json", f"{tdir}/v.json"
tj, tv = load(J), load(V)

# Passes: itself (as a file, as an array, per view in several files), a subset.
expect(True, "truth vs itself", J, [J])
expect(True, "truth vs its rows", V, [tv["views"]])
expect(True, "one file per view", V,
       [[r for r in tv["views"] if r["view"] == d["view"]] for d in tv["view_defs"]])
expect(True, "--views", J, [[r for r in tj["views"] if r["view"] != "footfall"]],
       "--views", "sales,popular")

# Receiver-like rows within the stated bounds: quantiles within alpha, avg within
# 1e-12, top-k counts over-estimated with their error, the k-th tied item replaced.
q = copy.deepcopy(tj["views"])
for r in q:
    v = r["values"]
    if r["view"] == "sales" and v["count"] > 0:
        v["quantiles(amount)"] = {k: x * Decimal("1.009") for k, x in
                                  v["quantiles(amount)"].items()}
        v["quantiles(amount)_error"] = Decimal("0.01")
        v["avg(amount)"] = Decimal(repr(float(v["avg(amount)"]) * (1 + 1e-13)))
    if r["view"] == "footfall":
        v["distinct(user)_error"] = Decimal("0.008125")
    if r["view"] == "popular":
        items = v["topk(sku,10)"]
        for it in items:
            it["count"] += 2
            it["error"] = 3
        if len(items) == 10:
            kth = items.pop()["count"] - 2
            items.append({"item": "A-99999", "count": kth + 1, "error": 1})
expect(True, "within the bounds", J, [q])

# Failures, one perturbation each.
def perturbed(doc, view, change, pred=with_values):
    rows = copy.deepcopy(doc["views"])
    change(first(rows, view, pred))
    return rows


def setv(key, f):
    def change(r):
        r["values"][key] = f(r["values"][key])
    return change


def has_sales(r):
    return r["values"]["count"] > 1 and r["values"]["min(amount)"] != r["values"]["max(amount)"]


def has_top(r):
    """A full top-k list whose first count is above the k-th."""
    x = r["values"]["topk(sku,10)"]
    return len(x) == 10 and x[0]["count"] > x[-1]["count"]


cases = [
    ("count + 1", "sales", setv("count", lambda x: x + 1)),
    ("sum + 0.01", "sales", setv("sum(amount)", lambda x: x + Decimal("0.01"))),
    ("min", "sales", lambda r: r["values"].update({"min(amount)": r["values"]["max(amount)"]})),
    ("last", "sales", setv("last(amount)", lambda x: x + Decimal("0.01"))),
    ("avg 1e-9", "sales", setv("avg(amount)", lambda x: x * Decimal("1.000000001"))),
    ("quantile out of alpha", "sales", lambda r: r["values"].update(
        {"quantiles(amount)": {k: x * Decimal("1.02") for k, x in
                               r["values"]["quantiles(amount)"].items()},
         "quantiles(amount)_error": Decimal("0.01")})),
    ("quantile without bound", "sales",
     lambda r: r["values"].update({"quantiles(amount)_error": None})),
    ("distinct + 1", "footfall", setv("distinct(user)", lambda x: x + 1)),
    ("top item missing", "popular", setv("topk(sku,10)", lambda x: x[1:])),
    ("top-k count under the truth", "popular",
     setv("topk(sku,10)", lambda x: [dict(x[0], count=x[0]["count"] - 1)] + x[1:])),
    ("top-k unlisted item over the k-th", "popular",
     setv("topk(sku,10)", lambda x: x[:-1] + [{"item": "A-99999", "count": x[0]["count"],
                                               "error": 0}])),
    ("late + 1", "sales", lambda r: r.update(late=r["late"] + 1)),
    ("value missing", "sales", lambda r: r["values"].pop("max(amount)")),
    ("value added", "sales", lambda r: r["values"].update({"sum(x)": 1})),
    ("group changed", "sales", lambda r: r.update(group={"store": "s999"})),
    ("window moved", "sales", lambda r: r.update(window_start=r["window_start"] + 1)),
]
preds = {"sales": has_sales, "popular": has_top, "footfall": with_values}
for what, view, change in cases:
    expect(False, what, J, [perturbed(tj, view, change, preds[view])])
rows = copy.deepcopy(tj["views"])
expect(False, "a row missing", J, [rows[:7] + rows[8:]])
expect(False, "a row twice", J, [rows + rows[:1]])
expect(False, "a view missing", J, [[r for r in rows if r["view"] != "popular"]])
expect(False, "an unknown view", J, [rows + [dict(rows[0], view="nosuch")]])

# distinct over 4096: within 2 %.
big = copy.deepcopy(tj)
first(big["views"], "footfall")["values"]["distinct(user)"] = 10000
big_path = write(big)
for got, ok in ((10150, True), (10300, False), (9850, True), (9700, False)):
    q = copy.deepcopy(big["views"])
    first(q, "footfall")["values"]["distinct(user)"] = got
    expect(ok, f"distinct {got} of 10000", big_path, [q])

# --ignore-late: rows without late and without their only-late rows.
assert any(r["late"] > 0 and r["values"]["count"] == 0 for r in tv["views"])
q = [dict(r, late=0) for r in tv["views"] if r["late"] == 0 or r["values"]["count"] > 0]
expect(True, "--ignore-late", V, [q], "--ignore-late")
expect(False, "late ignored without --ignore-late", V, [q])


# --merged: per view and group, one row spanning all of the truth's windows.
def merge(doc, view):
    vd = next(d for d in doc["view_defs"] if d["view"] == view)
    rows = [r for r in doc["views"] if r["view"] == view]
    size = vd["window_size_ns"]
    # Whole windows from the first (sliding: the last ones may stick out of the span).
    start = min(r["window_start"] for r in rows)
    span = (start, start + (max(r["window_end"] for r in rows) - start) // size * size)
    groups = {}
    for r in sorted(rows, key=lambda r: r["window_start"]):
        if (r["window_start"] - span[0]) % size or r["window_end"] > span[1]:
            continue
        groups.setdefault(json.dumps(r["group"], sort_keys=True), []).append(r)
    out = []
    for parts in groups.values():
        vals = {}
        for a in vd["aggregates"]:
            key, kind = a["key"], a["kind"]
            xs = [p["values"][key] for p in parts]
            nn = [x for x in xs if x is not None]
            if kind == "count":
                vals[key] = sum(xs)
            elif kind in ("sum", "min", "max", "last"):
                f = {"sum": sum, "min": min, "max": max, "last": lambda v: v[-1]}[kind]
                vals[key] = f(nn) if nn else None
            elif kind == "avg":   # purchases only: every event has an amount
                n = sum(p["values"]["count"] for p in parts)
                s = sum(p["values"]["sum(amount)"] or 0 for p in parts)
                vals[key] = Decimal(repr(float(s / n))) if n else None
            elif kind == "distinct":
                vals[key] = max(xs)
                vals[key + "_error"] = Decimal("0.008125")
            elif kind == "topk":
                lists = [{i["item"]: i["count"] for i in x} for x in xs]
                kths = [min(l.values()) if len(l) >= a["k"] else 0 for l in lists]
                items = set().union(*lists)
                lo = {i: sum(l.get(i, 0) for l in lists) for i in items}
                hi = {i: sum(l.get(i, k) for l, k in zip(lists, kths)) for i in items}
                best = sorted(items, key=lambda i: -hi[i])[:a["k"]]
                vals[key] = [{"item": i, "count": hi[i], "error": hi[i] - lo[i]} for i in best]
            elif kind == "quantiles":
                vals[key] = nn[0] if nn else None
                if nn:
                    vals[key + "_error"] = Decimal("0.01")
        out.append({"view": view, "window_start": span[0], "window_end": span[1],
                    "group": parts[0]["group"], "values": vals,
                    "late": sum(p["late"] for p in parts)})
    return out


m = merge(tj, "sales") + merge(tj, "popular") + merge(tj, "footfall")
expect(True, "--merged", J, [m], "--merged")
mc = copy.deepcopy(m)
next(r for r in mc if r["view"] == "sales")["values"]["count"] += 1
expect(False, "--merged count + 1", J, [mc], "--merged")
expect(False, "--merged group missing", J, [m[1:]], "--merged")
expect(False, "--merged late", J, [[dict(r, late=r["late"] + 1) for r in m]], "--merged")
mv = merge(tv, "slide_drop") + merge(tv, "tumble_drop")
expect(True, "--merged sliding", V, [mv], "--merged", "--views", "slide_drop,tumble_drop")
expect(False, "--merged sum", V,
       [[dict(r, values=dict(r["values"], **{"sum(amount)": r["values"]["sum(amount)"] + 1}))
         for r in mv]], "--merged", "--views", "slide_drop,tumble_drop")
print(f"compare_views: self-test ok ({n_files} files)")
EOF
echo "gen_selfcheck: ok"
