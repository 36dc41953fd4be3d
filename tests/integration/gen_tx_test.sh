#!/usr/bin/env bash
# sluice-gen's live sinks, checked against its own ground truth (--truth-window all:
# one window of totals, since a live receiver windows by arrival time).
# 1. --udp: a Python receiver on 127.0.0.1 must get exactly the datagrams, events and
#    per-group counts and sums of the truth (--keys workload, paced with --rate).
# 2. DPDK TX: sluice-gen as a memif client (--no-huge) sends the retail workload to
#    sluiced as the memif server (--time wall); sluiced must have received exactly
#    what was sent, and per group the counts, sums, min, max and last merged over
#    its stored windows must equal the truth.
set -u
. "$(dirname "$0")/lib.sh"

[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }

GEN_PREFIX="sl-gen-$$-$RANDOM"
RECV_PID=
trap 'cleanup; [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null; rm -rf "/var/run/dpdk/$GEN_PREFIX"' EXIT

# Per-group totals of statsd lines, the way sluiced aggregates them, into JSON rows.
cat >"$T/totals.py" <<'PY'
from decimal import Decimal


def add_line(tot, line):
    parts = line.split("|")
    name, value = parts[0].split(":", 1)
    mtype, rate, tags = parts[1], None, ""
    for f in parts[2:]:
        if f.startswith("@"):
            rate = Decimal(f[1:])
        elif f.startswith("#"):
            tags = ",".join(sorted(f[1:].split(",")))
    a = tot.setdefault((name, mtype, tags), {"count": 0, "sum": Decimal(0)})
    a["count"] += 1
    if mtype == "c":
        a["sum"] += Decimal(value) / rate if rate else Decimal(value)
    elif mtype in ("ms", "h", "d"):
        a["sum"] += Decimal(value)


def truth_key(m):
    return (m["name"], m["type"], ",".join(sorted(f"{k}:{v}" for k, v in m["tags"].items())))
PY

# --- 1. --udp to loopback --------------------------------------------------------------
cat >"$T/recv.py" <<'PY'
import json, socket, sys
sys.path.insert(0, sys.argv[1])
from totals import add_line

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)   # SO_RCVBUFFORCE (root)
except OSError:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
s.bind(("127.0.0.1", 0))
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
tot, datagrams, lines = {}, 0, 0
s.settimeout(30)                 # until the first datagram
try:
    while True:
        d = s.recv(65535)
        s.settimeout(2)          # then until the sender has been quiet for 2 s
        datagrams += 1
        for line in d.decode().rstrip("\n").split("\n"):
            lines += 1
            add_line(tot, line)
except socket.timeout:
    pass
json.dump({"datagrams": datagrams, "lines": lines,
           "groups": [[list(k), v["count"], str(v["sum"])] for k, v in tot.items()]},
          open(sys.argv[3], "w"))
PY
python3 "$T/recv.py" "$T" "$T/udp.port" "$T/udp.json" &
RECV_PID=$!
for _ in $(seq 1 100); do [ -s "$T/udp.port" ] && break; sleep 0.1; done
[ -s "$T/udp.port" ] || fail "the UDP receiver did not start"
"$SLUICE_GEN" --udp "127.0.0.1:$(cat "$T/udp.port")" --rate 100000 --events 30000 \
	--keys 2000 --zipf 1.1 --lines-per-datagram 16 --seed 5 \
	--truth "$T/udp_truth.json" --truth-window all 2>"$T/udp_gen.log" ||
	{ cat "$T/udp_gen.log" >&2; fail "sluice-gen --udp"; }
grep -q "sent 30000 events in" "$T/udp_gen.log" || { cat "$T/udp_gen.log" >&2; fail "no summary"; }
wait "$RECV_PID" || fail "the UDP receiver failed"
RECV_PID=
python3 - "$T" "$T/udp_truth.json" "$T/udp.json" <<'PY' || fail "--udp: received != truth"
import json, sys
from decimal import Decimal
sys.path.insert(0, sys.argv[1])
from totals import truth_key
truth = json.load(open(sys.argv[2]), parse_float=Decimal)
got = json.load(open(sys.argv[3]))
assert (got["datagrams"], got["lines"]) == (truth["datagrams"], truth["events"]), \
    (got["datagrams"], got["lines"], truth["datagrams"], truth["events"])
have = {tuple(k): (c, Decimal(s)) for k, c, s in got["groups"]}
want = {truth_key(m): (m["count"], Decimal(m["sum"])) for m in truth["metrics"]}
assert all(m["window_start"] == 0 and m["window_end"] == 2**63 - 1 for m in truth["metrics"])
assert have == want, [k for k in set(have) | set(want) if have.get(k) != want.get(k)][:10]
print(f"gen_tx: --udp: {got['datagrams']} datagrams, {got['lines']} events, "
      f"{len(want)} groups equal to the truth")
PY

# --- 2. DPDK TX into sluiced over memif ----------------------------------------------
EVENTS=20000
run_sluiced tx "-l 0-1" "net_memif0,role=server,socket=$T/memif.sock" \
	--time wall --window 1h --exit-when-idle 3
wait_socket tx
# The client waits up to 10 s for the memif link (sluice-gen polls the link state).
if ! timeout 120 "$SLUICE_GEN" -l 0 --no-huge -m 256 --no-pci --file-prefix "$GEN_PREFIX" \
	--log-level=lib.eal:warning --vdev "net_memif0,role=client,socket=$T/memif.sock" -- \
	--port 0 --rate 20000 --events $EVENTS --seed 9 --stores 12 --skus 300 --users 2000 \
	--truth "$T/tx_truth.json" --truth-window all >"$T/tx_gen.log" 2>&1; then
	cat "$T/tx_gen.log" >&2
	cat "$T/tx/log" >&2
	fail "sluice-gen in DPDK TX mode"
fi
grep -q "packets sent, 0 failed" "$T/tx_gen.log" || { cat "$T/tx_gen.log" >&2; fail "no TX summary"; }
wait_received tx $EVENTS
wait_exit tx
"$SLUICECTL" --json metrics --db "$T/tx/db" >"$T/tx/metrics.json" || fail "sluicectl metrics"
python3 - "$T" "$T/tx_truth.json" "$T/tx/metrics.json" "$T/tx/stats.json" <<'PY' ||
import json, sys
from decimal import Decimal
sys.path.insert(0, sys.argv[1])
from totals import truth_key
truth = json.load(open(sys.argv[2]), parse_float=Decimal)
rows = json.load(open(sys.argv[3]), parse_float=Decimal)
stats = json.load(open(sys.argv[4]))
errors = []
drops = sum(stats["drops"].values())
if not (stats["received"] == stats["aggregated"] == truth["events"] and drops == 0):
    errors.append(f"stats: received {stats['received']}, aggregated {stats['aggregated']},"
                  f" drops {drops}, sent {truth['events']} events")
if stats["packets"]["received"] != truth["datagrams"]:
    errors.append(f"stats: {stats['packets']['received']} packets received,"
                  f" {truth['datagrams']} sent")
# Merge the stored windows per group: count and sum add up, min and max are the
# extremes, last is the newest window's (one worker, one queue: arrival order is send
# order). distinct (sets) cannot be merged from stored numbers, so it is compared only
# when everything landed in one window; otherwise it is skipped.
windows = sorted({r["window_start"] for r in rows})
tot = {}
for r in sorted(rows, key=lambda r: r["window_start"]):
    a = tot.setdefault(truth_key(r), {"count": 0, "sum": Decimal(0)})
    a["count"] += r["count"]
    if "sum" in r:
        a["sum"] += Decimal(r["sum"])
    for f, pick in (("min", min), ("max", max)):
        if f in r:
            a[f] = pick(a[f], Decimal(r[f])) if f in a else Decimal(r[f])
    if "last" in r:
        a["last"] = Decimal(r["last"])
    if "distinct" in r:
        a["distinct"] = a.get("distinct", 0) + r["distinct"]
want = {truth_key(m): m for m in truth["metrics"]}
for k in sorted(set(want) ^ set(tot)):
    errors.append(f"group {k}: {'missing' if k in want else 'unexpected'}")
checked = 0
for k in sorted(set(want) & set(tot)):
    for f in ("count", "sum", "min", "max", "last", "distinct"):
        if f not in want[k] or (f == "distinct" and len(windows) > 1):
            continue
        checked += 1
        # min, max, last: equal as doubles (the texts may differ in their last digits)
        conv = float if f in ("min", "max", "last") else Decimal
        if f not in tot[k] or conv(want[k][f]) != conv(tot[k][f]):
            errors.append(f"group {k}: {f} = {tot[k].get(f)}, truth {want[k][f]}")
if errors:
    print("\n".join(errors[:40]), file=sys.stderr)
    sys.exit(1)
print(f"gen_tx: DPDK TX: {truth['datagrams']} packets, {truth['events']} events, {len(want)}"
      f" groups in {len(windows)} window(s), {checked} values equal to the truth"
      f"{'' if len(windows) == 1 else ' (distinct skipped: several windows)'}")
PY
	fail "DPDK TX: sluiced's totals differ from the truth"
echo "gen_tx: ok"
