#!/usr/bin/env bash
# The retail demo: install what is missing, build, generate a retail chain's
# statsd traffic with sluice-gen, replay it through sluiced on a net_pcap
# virtual port (no NIC, no hugepages), and print the closed windows.
#
# usage: scripts/demo.sh [EVENTS]     (default 300000 events, 30 s of traffic)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-300000}
D=.sluice-demo
PREFIX="sluice-demo-$$"

scripts/setup.sh

rm -rf "$D"
mkdir -p "$D"
SLUICED_PID=
cleanup() {
	[ -n "$SLUICED_PID" ] && kill "$SLUICED_PID" 2>/dev/null || true
	rm -rf "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

echo
echo "== 1. sluice-gen: $EVENTS retail events from 20 stores as statsd lines (10 per datagram)"
build/bench/sluice-gen --format statsd --events "$EVENTS" --lines-per-datagram 10 \
	--stores 20 --rate 10000 --window 10s --seed 42 \
	--pcap "$D/retail.pcap" --truth "$D/truth.json"

echo
echo "== 2. sluiced: replaying $D/retail.pcap on net_pcap0, 1 worker, 10 s windows"
build/dataplane/sluiced -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$PREFIX" \
	--vdev "net_pcap0,rx_pcap=$D/retail.pcap" -- \
	--db "$D/db" --ctl-socket "$D/sluiced.sock" --window 10s --exit-when-idle 2 \
	>"$D/sluiced.log" 2>&1 &
SLUICED_PID=$!

# Show the live counters once the replay has finished (before sluiced exits).
prev=-1
for _ in $(seq 1 600); do
	cur=$(build/control/sluicectl --json stats --socket "$D/sluiced.sock" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["received"])' 2>/dev/null || echo -1)
	if [ "$cur" -gt 0 ] && [ "$cur" = "$prev" ]; then
		break
	fi
	prev=$cur
	kill -0 "$SLUICED_PID" 2>/dev/null || break
	sleep 0.3
done
build/control/sluicectl stats --socket "$D/sluiced.sock" || true
wait "$SLUICED_PID"
SLUICED_PID=
grep -E "received|committed" "$D/sluiced.log" | sed 's/^/   /'

echo
echo "== 3. per store, every closed window: transactions, revenue, average basket"
build/control/sluicectl metrics --db "$D/db" --name retail.basket --limit 24
echo "   (... all rows: sluicectl metrics --db $D/db --name retail.basket)"

echo
echo "== 4. per store, the whole run (windows merged at query time), by revenue"
build/control/sluicectl metrics --db "$D/db" --name retail.basket --by store --sort sum --limit 10

echo
echo "== 5. footfall: distinct visitors per store, whole run"
build/control/sluicectl metrics --db "$D/db" --name retail.visitors --by store --sort distinct --limit 10

echo
echo "== 6. per metric type"
build/control/sluicectl metrics --db "$D/db" --summary

echo
echo "== 7. check against sluice-gen's ground truth"
build/control/sluicectl --json metrics --db "$D/db" >"$D/metrics.json"
python3 tests/integration/compare.py "$D/truth.json" "$D/metrics.json"
echo
echo "Done. The database is in $D/db; try: build/control/sluicectl metrics --db $D/db --help"
