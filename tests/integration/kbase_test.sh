#!/usr/bin/env bash
# sluice-kbase (the kernel-socket baseline) end to end: known statsd datagrams
# over loopback UDP -> recvmmsg -> sluice's parser and tables -> LMDB ->
# sluicectl. Totals per group over all windows must equal what was sent,
# exactly; received == aggregated + sum(drops), with every malformed line under
# its reason. Then the same with SIGTERM instead of --exit-when-idle.
set -u
. "$(dirname "$0")/lib.sh"

SLUICE_KBASE=$SL_BUILD/bench/sluice-kbase
[ -x "$SLUICE_KBASE" ] || { echo "sluice-kbase not built"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
KBASE_PID=
trap 'if [ -n "$KBASE_PID" ]; then kill -TERM "$KBASE_PID" 2>/dev/null; wait "$KBASE_PID" 2>/dev/null; fi; cleanup' EXIT

# The sender: deterministic datagrams at a modest rate (no loss on loopback),
# and the expected totals per group and the expected stats in $2.
cat >"$T/send.py" <<'PY'
import json, random, socket, sys, time
from decimal import Decimal

port, out, n_dgrams, pause = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
rng = random.Random(11)
stores = ["store:s%02d" % i for i in range(8)]
groups = {}   # (name, type, tags) -> expected state
stats = {"received": 0, "aggregated": 0, "packets": 0,
         "drops": {"no_colon": 0, "bad_value": 0, "bad_type": 0, "empty_line": 0}}

def tagset(tags):
    return tuple(sorted(tuple(t.split(":", 1)) if ":" in t else (t, "") for t in tags))

def add(name, typ, tags, value=None, rate=None, member=None):
    g = groups.setdefault((name, typ, tagset(tags)),
                          {"count": 0, "sum": Decimal(0), "min": None, "max": None,
                           "last": None, "members": set()})
    g["count"] += 1
    if typ == "c":
        g["sum"] += Decimal(value) / Decimal(rate or "1")
    elif typ == "s":
        g["members"].add(member)
    else:
        v = Decimal(value)
        if typ != "g":
            g["sum"] += v
        g["min"] = v if g["min"] is None else min(g["min"], v)
        g["max"] = v if g["max"] is None else max(g["max"], v)
        if typ == "g":
            g["last"] = v

def line():
    k = rng.randrange(100)
    st = rng.choice(stores)
    extra = ["channel:pos", "region:emea"]
    rng.shuffle(extra)
    tags = [st] + extra[:rng.randrange(3)]
    rng.shuffle(tags)   # tag order must not matter
    t = "|#" + ",".join(tags)
    if k < 30:
        v = "%d.%02d" % (rng.randrange(1, 500), rng.randrange(100))
        rate = rng.choice([None, "0.5", "0.25", "0.1"])
        add("retail.revenue", "c", tags, v, rate)
        return "retail.revenue:%s|c%s%s" % (v, "|@" + rate if rate else "", t)
    if k < 45:
        add("retail.txn", "c", tags, "1")
        return "retail.txn:1|c" + t
    if k < 65:
        v = "%d.%03d" % (rng.randrange(1, 3000), rng.randrange(1000))
        typ = rng.choice(["ms", "h", "d"])
        add("retail.latency", typ, [st], v)
        return "retail.latency:%s|%s|#%s" % (v, typ, st)
    if k < 75:
        v = "%d" % rng.randrange(-50, 50)
        add("retail.queue", "g", [st], v)
        return "retail.queue:%s|g|#%s" % (v, st)
    if k < 95:
        m = "u-%d" % rng.randrange(3000)
        add("retail.footfall", "s", [st], member=m)
        return "retail.footfall:%s|s|#%s" % (m, st)
    bad = rng.choice(["no_colon", "bad_value", "bad_type"])
    stats["drops"][bad] += 1
    stats["aggregated"] -= 1
    return {"no_colon": "garbage line", "bad_value": "x.y:abc|c",
            "bad_type": "x.y:1|q"}[bad]

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n_dgrams):
    lines = [line() for _ in range(rng.randrange(1, 21))]
    if i % 97 == 5:
        # An empty line before others is an event, rejected as empty_line.
        lines.insert(0, "")
        stats["drops"]["empty_line"] += 1
        stats["aggregated"] -= 1
    payload = ("\n".join(lines) + ("\n" if i % 2 else "")).encode()
    stats["received"] += len(lines)
    stats["aggregated"] += len(lines)
    stats["packets"] += 1
    sock.sendto(payload, ("127.0.0.1", port))
    if i % 20 == 19:
        time.sleep(pause)

exp = []
for (name, typ, tags), g in groups.items():
    exp.append({"name": name, "type": typ, "tags": [list(t) for t in tags],
                "count": g["count"], "sum": str(g["sum"]),
                "min": None if g["min"] is None else str(g["min"]),
                "max": None if g["max"] is None else str(g["max"]),
                "last": None if g["last"] is None else str(g["last"]),
                "distinct": len(g["members"])})
json.dump({"groups": exp, "stats": stats}, open(out, "w"))
print("sent %d events in %d datagrams, %d groups" % (stats["received"], n_dgrams, len(exp)))
PY

# Totals over windows per group (sluicectl --json metrics) against the sender's.
cat >"$T/check.py" <<'PY'
import json, sys
from decimal import Decimal

exp = json.load(open(sys.argv[1]))
rows = json.load(open(sys.argv[2]), parse_float=Decimal)
st = json.load(open(sys.argv[3]))
errors = []

tot = {}
for r in rows:
    k = (r["name"], r["type"], tuple(sorted(r["tags"].items())))
    t = tot.setdefault(k, {"count": 0, "sum": Decimal(0), "min": None, "max": None,
                           "last": None, "last_ws": -1, "distinct": [], "windows": 0})
    t["count"] += r["count"]
    t["windows"] += 1
    if "sum" in r:
        t["sum"] += Decimal(str(r["sum"]))
    if r.get("min") is not None:
        v = float(r["min"])
        t["min"] = v if t["min"] is None else min(t["min"], v)
    if r.get("max") is not None:
        v = float(r["max"])
        t["max"] = v if t["max"] is None else max(t["max"], v)
    if "last" in r and r["window_start"] > t["last_ws"]:
        t["last"], t["last_ws"] = float(r["last"]), r["window_start"]
    if "distinct" in r:
        t["distinct"].append(r["distinct"])

want = {(g["name"], g["type"], tuple(tuple(x) for x in g["tags"])): g for g in exp["groups"]}
for k in sorted(set(want) - set(tot)):
    errors.append(f"missing group {k}")
for k in sorted(set(tot) - set(want)):
    errors.append(f"unexpected group {k}")
for k in sorted(set(want) & set(tot)):
    w, h = want[k], tot[k]
    if h["count"] != w["count"]:
        errors.append(f"{k}: count {h['count']}, sent {w['count']}")
    if w["type"] in ("c", "ms", "h", "d") and h["sum"] != Decimal(w["sum"]):
        errors.append(f"{k}: sum {h['sum']}, sent {w['sum']}")
    for f in ("min", "max", "last"):
        # Doubles: the value sent, read as a double, exactly.
        if w[f] is not None and (h[f] is None or h[f] != float(w[f])):
            errors.append(f"{k}: {f} {h[f]}, sent {w[f]}")
    if w["type"] == "s":
        # Distinct counts do not add over windows; each window is exact here.
        if max(h["distinct"]) > w["distinct"] or sum(h["distinct"]) < w["distinct"]:
            errors.append(f"{k}: distinct per window {h['distinct']}, sent {w['distinct']}")

es = exp["stats"]
drops = sum(st["drops"].values())
if st["received"] != st["aggregated"] + drops:
    errors.append(f"stats: received {st['received']} != aggregated {st['aggregated']} + drops {drops}")
for f in ("received", "aggregated", "packets"):
    if st[f] != es[f]:
        errors.append(f"stats: {f} {st[f]}, sent {es[f]}")
for reason, n in st["drops"].items():
    if n != es["drops"].get(reason, 0):
        errors.append(f"stats: drops[{reason}] {n}, sent {es['drops'].get(reason, 0)}")
if st["socket_drops"] != 0:
    errors.append(f"stats: {st['socket_drops']} datagrams dropped by the kernel")
windows = len({r["window_start"] for r in rows})
if st["windows_committed"] != windows:
    errors.append(f"stats: windows_committed {st['windows_committed']}, {windows} in LMDB")
if len(sys.argv) > 4 and windows < int(sys.argv[4]):
    errors.append(f"only {windows} window(s), expected at least {sys.argv[4]}")
if errors:
    for e in errors[:40]:
        print(e, file=sys.stderr)
    sys.exit(1)
print(f"check: {len(want)} groups over {windows} window(s) equal to what was sent")
PY

free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_kbase NAME [OPTIONS...]: start sluice-kbase on a free port, wait until bound.
start_kbase() {
	local name=$1
	shift
	mkdir -p "$T/$name"
	PORT=$(free_port)
	"$SLUICE_KBASE" --listen "127.0.0.1:$PORT" --db "$T/$name/db" \
		--stats-json "$T/$name/stats.json" "$@" >"$T/$name/log" 2>&1 &
	KBASE_PID=$!
	for _ in $(seq 1 100); do
		grep -q "listening on" "$T/$name/log" && return 0
		kill -0 "$KBASE_PID" 2>/dev/null || { cat "$T/$name/log" >&2; fail "$name: sluice-kbase exited early"; }
		sleep 0.05
	done
	cat "$T/$name/log" >&2
	fail "$name: sluice-kbase did not bind"
}

wait_kbase() {
	local rc=0
	wait "$KBASE_PID" || rc=$?
	KBASE_PID=
	[ "$rc" -eq 0 ] || { cat "$T/$1/log" >&2; fail "$1: sluice-kbase exited with $rc"; }
}

check() {
	local name=$1
	shift
	"$SLUICECTL" --json metrics --db "$T/$name/db" >"$T/$name/metrics.json" ||
		fail "$name: sluicectl metrics"
	python3 "$T/check.py" "$T/$name/expect.json" "$T/$name/metrics.json" \
		"$T/$name/stats.json" "$@" || { cat "$T/$name/log" >&2; fail "$name: totals differ"; }
}

# 1. About 1.5 s of traffic in 500 ms windows, exit when idle.
start_kbase idle --window 500ms --exit-when-idle 1
python3 "$T/send.py" "$PORT" "$T/idle/expect.json" 3000 0.01 || fail "sender"
wait_kbase idle
check idle 2

# 2. SIGTERM commits the open window and exits 0.
start_kbase term --window 1m
python3 "$T/send.py" "$PORT" "$T/term/expect.json" 200 0.005 || fail "sender"
sleep 0.5
kill -TERM "$KBASE_PID"
wait_kbase term
check term
echo "kbase: ok"
