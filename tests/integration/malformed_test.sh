#!/usr/bin/env bash
# Malformed input through the real dataplane: every rejection is counted under
# its reason, valid lines in the same datagrams are still aggregated exactly,
# and received == aggregated + sum(drops) holds.
set -u
. "$(dirname "$0")/lib.sh"

[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
python3 "$SL_SRC/tests/integration/malformed_pcap.py" "$T" || fail "malformed_pcap.py"

run_sluiced exact "-l 0-1" "net_pcap0,rx_pcap=$T/exact.pcap" --exit-when-idle 1.5
wait_socket exact
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["received"])' "$T/exact.json")
wait_received exact "$want"
# The same counters through DPDK telemetry (dpdk-telemetry.py, /sluice/stats).
if command -v dpdk-telemetry.py >/dev/null 2>&1; then
	echo /sluice/stats | dpdk-telemetry.py -f "$PREFIX" 2>/dev/null | python3 -c '
import json, sys
want = int(sys.argv[1])
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{") and "/sluice/stats" in line:
        d = json.loads(line)["/sluice/stats"]
        assert d["received"] == want, d
        assert d["received"] == d["aggregated"] + sum(v for k, v in d.items() if k.startswith("drop_")), d
        sys.exit(0)
sys.exit("no /sluice/stats reply")' "$want" || fail "telemetry /sluice/stats"
fi
wait_exit exact
"$SLUICECTL" --json metrics --db "$T/exact/db" >"$T/exact/metrics.json" || fail "sluicectl metrics"
python3 - "$T/exact.json" "$T/exact/stats.json" "$T/exact/metrics.json" <<'PY' || fail "exact"
import json, sys
from decimal import Decimal
want = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
rows = json.load(open(sys.argv[3]), parse_float=Decimal)
errs = []
for reason, n in s["drops"].items():
    if n != want["drops"].get(reason, 0):
        errs.append(f"drops[{reason}] = {n}, expected {want['drops'].get(reason, 0)}")
for k in ("received", "aggregated"):
    if s[k] != want[k]:
        errs.append(f"{k} = {s[k]}, expected {want[k]}")
if s["packets"]["received"] != want["packets"]:
    errs.append(f"packets = {s['packets']['received']}, expected {want['packets']}")
if s["received"] != s["aggregated"] + sum(s["drops"].values()):
    errs.append("received != aggregated + sum(drops)")
got = {}
for r in rows:
    g = got.setdefault(r["name"], {"count": 0, "sum": Decimal(0)})
    g["count"] += r["count"]
    g["sum"] += r["sum"]
for name, m in want["metrics"].items():
    if name not in got or got[name]["count"] != m["count"] or got[name]["sum"] != Decimal(m["sum"]):
        errs.append(f"{name}: got {got.get(name)}, expected {m}")
extra = set(got) - set(want["metrics"])
if extra:
    errs.append(f"unexpected metrics: {sorted(extra)}")
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY

run_sluiced fuzz "-l 0-1" "net_pcap0,rx_pcap=$T/fuzz.pcap" --exit-when-idle 1.5
wait_socket fuzz
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["received"])' "$T/fuzz.json")
wait_received fuzz "$want"
wait_exit fuzz
python3 - "$T/fuzz.json" "$T/fuzz/stats.json" <<'PY' || fail "fuzz"
import json, sys
want = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
assert s["received"] == want["received"], (s["received"], want["received"])
assert s["packets"]["received"] == want["packets"], (s["packets"], want["packets"])
assert s["received"] == s["aggregated"] + sum(s["drops"].values()), s
assert s["aggregated"] > 0 and sum(s["drops"].values()) > 0, s
PY
echo "malformed: ok"
