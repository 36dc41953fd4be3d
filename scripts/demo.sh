#!/usr/bin/env bash
# The retail demo: install what is missing, build, generate a retail chain's
# traffic with sluice-gen (statsd metrics, and JSON events from the shops'
# tills and phones, some late), replay it through sluiced on two net_pcap
# virtual ports (no NIC, no hugepages), and print the closed windows and the
# views: footfall, sales and popular SKUs per store.
#
# usage: scripts/demo.sh [EVENTS]     (default 300000 events of each kind)
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
echo "== 1b. sluice-gen: $EVENTS JSON events (visit, purchase, refund) for the built-in views;"
echo "       5 % out of order, 0.5 % late by more than the views' 30 s allowed lateness"
build/bench/sluice-gen --format json --events "$EVENTS" --stores 20 --rate 5000 --seed 42 \
	--out-of-order 0.05 --late 0.005 --late-by 30s \
	--pcap "$D/events.pcap" --truth "$D/views-truth.json"

# One capture ordered by time: a core's window clock never goes backwards.
python3 scripts/pcap_merge.py "$D/all.pcap" "$D/retail.pcap" "$D/events.pcap"

echo
echo "== 2. sluiced: replaying both on net_pcap0, 1 worker, statsd windows and the built-in views"
build/dataplane/sluiced -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$PREFIX" \
	--vdev "net_pcap0,rx_pcap=$D/all.pcap" -- \
	--db "$D/db" --ctl-socket "$D/sluiced.sock" --window 10s --exit-when-idle 2 \
	>"$D/sluiced.log" 2>&1 &
SLUICED_PID=$!

# Show the live counters once the replay has finished (before sluiced exits).
prev=-1
for _ in $(seq 1 600); do
	cur=$(build/control/sluicectl --json stats --socket "$D/sluiced.sock" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["received"])' 2>/dev/null || echo -1)
	[ "$cur" -ge $((2 * EVENTS)) ] && break
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
grep -E "received|committed|view '" "$D/sluiced.log" | sed 's/^/   /'

echo
echo "== 3. views: footfall per store, every 10 s window (store s01; sluicectl query footfall)"
build/control/sluicectl query footfall --db "$D/db" --from 2025-12-31T23:58:00Z --to 2026-01-01T01:00:00Z \
	--where store=s01
echo
echo "== 4. views: sales per store over the whole run (windows merged at query time)"
build/control/sluicectl query sales --db "$D/db" --from 2025-12-31T23:58:00Z --to 2026-01-01T01:00:00Z \
	--step all
echo
echo "== 5. views: the 10 most popular SKUs of store s01 over the whole run"
build/control/sluicectl query popular --db "$D/db" --from 2025-12-31T23:58:00Z --to 2026-01-01T01:00:00Z \
	--step all --where store=s01
echo
echo "== 6. views: check every window of every view against sluice-gen's ground truth"
for v in footfall sales popular; do
	build/control/sluicectl query "$v" --db "$D/db" --from 0 --to 4000000000 --json >"$D/view-$v.json"
done
python3 tests/integration/compare_views.py "$D/views-truth.json" "$D"/view-*.json

echo
echo "== 7. statsd: per store, every closed window: transactions, revenue, average basket"
build/control/sluicectl metrics --db "$D/db" --name retail.basket --limit 24
echo "   (... all rows: sluicectl metrics --db $D/db --name retail.basket)"

echo
echo "== 8. statsd: per store, the whole run, by revenue"
build/control/sluicectl metrics --db "$D/db" --name retail.basket --by store --sort sum --limit 10

echo
echo "== 9. statsd: distinct visitors per store, whole run"
build/control/sluicectl metrics --db "$D/db" --name retail.visitors --by store --sort distinct --limit 10

echo
echo "== 10. statsd: per metric type"
build/control/sluicectl metrics --db "$D/db" --summary

echo
echo "== 11. statsd: check against sluice-gen's ground truth"
build/control/sluicectl --json metrics --db "$D/db" >"$D/metrics.json"
python3 tests/integration/compare.py "$D/truth.json" "$D/metrics.json"
echo
echo "Done. The database is in $D/db; try: build/control/sluicectl query --help, or"
echo "  build/control/sluicectl query sales --db $D/db --from 2026-01-01T00:00:00Z --to 2026-01-01T01:00:00Z --step 1m"
