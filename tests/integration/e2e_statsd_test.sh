#!/usr/bin/env bash
# End to end: sluice-gen traffic -> sluiced (1 worker, then 3 workers on an
# RSS-like split) -> LMDB -> sluicectl. Every aggregate must equal the
# generator's ground truth exactly, and received == aggregated + drops.
set -u
. "$(dirname "$0")/lib.sh"

[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }

EVENTS=60000
"$SLUICE_GEN" --format statsd --events $EVENTS --lines-per-datagram 8 --seed 7 \
	--stores 12 --skus 300 --users 2000 --rate 2000 --window 10s \
	--pcap "$T/one.pcap" --truth "$T/truth1.json" --quiet || fail "sluice-gen (1 queue)"
"$SLUICE_GEN" --format statsd --events $EVENTS --lines-per-datagram 8 --seed 7 \
	--stores 12 --skus 300 --users 2000 --rate 2000 --window 10s \
	--pcap "$T/three.pcap" --queues 3 --truth "$T/truth3.json" --quiet || fail "sluice-gen (3 queues)"
python3 - "$T/truth1.json" "$T/truth3.json" <<'PY' || fail "truth differs between 1 and 3 queues"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["metrics"] == b["metrics"] and a["events"] == b["events"]
PY

check_run() {
	local name=$1 truth=$2
	"$SLUICECTL" --json metrics --db "$T/$name/db" >"$T/$name/metrics.json" ||
		fail "$name: sluicectl metrics"
	python3 "$SL_SRC/tests/integration/compare.py" "$truth" "$T/$name/metrics.json" \
		"$T/$name/stats.json" || fail "$name: aggregates differ from the ground truth"
}

# 1 worker, 1 queue.
run_sluiced w1 "-l 0-1" "net_pcap0,rx_pcap=$T/one.pcap" --window 10s --exit-when-idle 2
wait_socket w1
wait_received w1 $EVENTS
wait_exit w1
check_run w1 "$T/truth1.json"

# 3 workers on 2 CPUs, the pcap split per queue as RSS would.
run_sluiced w3 "--lcores 0@0,1@1,2@0,3@1" \
	"net_pcap0,rx_pcap=$T/three.q0.pcap,rx_pcap=$T/three.q1.pcap,rx_pcap=$T/three.q2.pcap" \
	--window 10s --exit-when-idle 2
wait_socket w3
wait_received w3 $EVENTS
wait_exit w3
python3 - "$T/w3/stats.json" <<'PY' || fail "w3: the three workers did not all receive traffic"
import json, sys
s = json.load(open(sys.argv[1]))
assert len(s["cores"]) == 3, s["cores"]
assert all(c["received"] > 0 for c in s["cores"]), [c["received"] for c in s["cores"]]
PY
check_run w3 "$T/truth3.json"
echo "e2e_statsd: ok"
