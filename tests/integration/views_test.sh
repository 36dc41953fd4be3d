#!/usr/bin/env bash
# Views end to end: sluice-gen JSON lines and binary events (out of order,
# late, a replay stamped an hour in the past) -> sluiced with the retail views
# plus a sliding, an arrival-time and a whole-hour distinct view -> LMDB ->
# `sluicectl query --json`, compared with the generator's truth by
# compare_views.py (exact counts/sums/min/max/last/late, distinct within 2 %,
# quantiles within the sketch's bound, top-k within Space-Saving's). With 1
# worker and with 3 workers (one queue each). Then a query whose step spans
# many stored windows must equal the truth of one window as long as the range.
set -u
. "$(dirname "$0")/lib.sh"

[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
COMPARE="$SL_SRC/tests/integration/compare_views.py"
VIEWS="footfall sales popular sales_sliding arrivals visitors recent"

# The built-in retail views, then three more.
"$SLUICECTL" config default >"$T/views.yaml" || fail "sluicectl config default"
cat >>"$T/views.yaml" <<'EOF'
  - name: sales_sliding
    where: {event: [purchase, refund]}
    group_by: [event, store]
    window: {size: 30s, slide: 10s}
    allowed_lateness: 30s
    keep_late: true
    aggregates: [count, "sum(amount)", "min(amount)", "max(amount)", "avg(amount)",
                 "distinct(user)", "quantiles(amount, [0.5, 0.9])", "topk(sku, 5)"]
  - name: arrivals
    group_by: [event]
    window: {size: 5s}
    time: arrival
    aggregates: [count, "last(amount)"]
  - name: visitors
    where: {event: visit}
    window: {size: 1h}
    allowed_lateness: 30s
    aggregates: [count, "distinct(user)"]
  - name: recent
    group_by: [store]
    window: {size: 10s}
    allowed_lateness: 30s
    aggregates: [count]
    retention: 2m
EOF
"$SLUICECTL" config check "$T/views.yaml" >/dev/null || fail "test config does not load"

GEN_COMMON=(--events 120000 --stores 12 --skus 400 --users 200000 --rate 4000 --seed 11
	--out-of-order 0.05 --late 0.01 --late-by 30s --skew 2s --config "$T/views.yaml" --quiet)

# run_case NAME WORKERS GEN_ARGS...: generate, run, query every view, compare.
run_case() {
	local name=$1 workers=$2 lcores vdev
	shift 2
	local pcap="$T/$name.pcap"
	"$SLUICE_GEN" "${GEN_COMMON[@]}" --queues "$workers" --pcap "$pcap" \
		--truth "$T/$name.truth.json" "$@" || fail "$name: sluice-gen"
	if [ "$workers" -eq 1 ]; then
		lcores="-l 0-1"
		vdev="net_pcap0,rx_pcap=$pcap"
	else
		lcores="--lcores 0@0,1@1,2@0,3@1"
		vdev="net_pcap0,rx_pcap=$T/$name.q0.pcap,rx_pcap=$T/$name.q1.pcap,rx_pcap=$T/$name.q2.pcap"
	fi
	run_sluiced "$name" "$lcores" "$vdev" --config "$T/views.yaml" --exit-when-idle 2
	wait_socket "$name"
	wait_received "$name" 120000
	wait_exit "$name"
	grep -q "views: committed .* 0 commit errors" "$T/$name/log" ||
		{ cat "$T/$name/log" >&2; fail "$name: view commits failed"; }
	local files=()
	for v in $VIEWS; do
		"$SLUICECTL" query "$v" --db "$T/$name/db" --from 0 --to 4000000000 --json \
			>"$T/$name/$v.json" || fail "$name: sluicectl query $v"
		files+=("$T/$name/$v.json")
	done
	python3 "$COMPARE" "$T/$name.truth.json" "${files[@]}" ||
		fail "$name: views differ from the ground truth"
	# Every event accounted for: received = aggregated + drops (late and filtered included),
	# and per view the late totals equal the truth's.
	python3 - "$T/$name/stats.json" "$T/$name.truth.json" "$workers" <<'PY' ||
import json, sys
s = json.load(open(sys.argv[1]))
t = json.load(open(sys.argv[2]))
n = int(sys.argv[3])
assert s["received"] == s["aggregated"] + sum(s["drops"].values()), s
assert s["received"] == t["events"], (s["received"], t["events"])
assert len(s["cores"]) == n and all(c["received"] > 0 for c in s["cores"]), s["cores"]
# Binary: every producer's sequence is complete (nothing lost before sluice).
if t["format"] == "binary":
    p = s["producers"]
    assert p["lost_datagrams"] == 0 and p["untracked_datagrams"] == 0 and p["seen"] > 0, p
    if t.get("producers"):
        assert p["seen"] == t["producers"], (p, t["producers"])
late = {v["view"]: v["late"] for v in t["totals"]}
events = {v["view"]: v["events"] for v in t["totals"]}
for v in s["views"]:
    assert v["late"] == late[v["name"]], (v["name"], v["late"], late[v["name"]])
    assert v["matched"] == events[v["name"]], (v["name"], v["matched"], events[v["name"]])
    assert v["aggregated"] + v["late"] == v["matched"] and v["dropped"] == 0, v
PY
		fail "$name: accounting differs from the truth"
}

run_case json1 1 --format json
python3 - "$T/json1.truth.json" "$T/json1/visitors.json" <<'PY' || fail "json1: the distinct test did not reach HyperLogLog"
import json, sys
t = max(r["values"]["distinct(user)"] for r in json.load(open(sys.argv[1]))["views"] if r["view"] == "visitors")
g = max(r["values"]["distinct(user)"] for r in json.load(open(sys.argv[2])))
assert t > 10000 and abs(g - t) <= 0.02 * t, (t, g)
print(f"views: distinct over an hour: {g} for {t} true (HyperLogLog past 4096)")
PY
run_case json3 3 --format json
run_case bin1 1 --format binary --producers 40
run_case bin3 3 --format binary
# A replay of the same events stamped an hour in the past: the same windows, an hour earlier.
run_case replay 1 --format json --ts-offset 1h
python3 - "$T/json1.truth.json" "$T/replay.truth.json" <<'PY' || fail "replay truth is not the shifted original"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
H = 3600 * 10**9
ev = lambda rows: sorted((r["view"], r["window_start"], json.dumps(r["group"], sort_keys=True))
                         for r in rows if r["view"] != "arrivals")
assert [(v, s - H, g) for v, s, g in ev(a["views"])] == ev(b["views"])
PY

# Merge over a range: the 10 s slices of sales, footfall and popular queried
# with --step 1h equal the truth of 1 h windows over the same events (no late
# events here: out of order by at most 20 s, without skew, inside the 30 s lateness,
# so both configurations agree on every event).
sed -e 's/window: {size: 10s}/window: {size: 1h}/' -e 's/retention: 2m/retention: 2h/' "$T/views.yaml" >"$T/hour.yaml"
"$SLUICE_GEN" "${GEN_COMMON[@]}" --late 0 --skew 0 --late-by 20s --rate 400 --format json --pcap "$T/range.pcap" \
	--truth "$T/range.truth.json" || fail "range: sluice-gen"
"$SLUICE_GEN" "${GEN_COMMON[@]}" --late 0 --skew 0 --late-by 20s --rate 400 --format json --config "$T/hour.yaml" \
	--pcap "$T/range2.pcap" --truth "$T/range.hour.json" || fail "range: sluice-gen (1 h)"
cmp -s "$T/range.pcap" "$T/range2.pcap" || fail "range: the events depend on the config"
run_sluiced range "-l 0-1" "net_pcap0,rx_pcap=$T/range.pcap" --config "$T/views.yaml" \
	--exit-when-idle 2
wait_socket range
wait_received range 120000
wait_exit range
files=()
for v in footfall sales popular; do
	"$SLUICECTL" query "$v" --db "$T/range/db" --from 0 --to 4000000000 --step 1h --json \
		>"$T/range/$v.json" || fail "range: sluicectl query $v --step 1h"
	files+=("$T/range/$v.json")
done
python3 "$COMPARE" --views footfall,sales,popular "$T/range.hour.json" "${files[@]}" ||
	fail "range: a query over many windows differs from the truth over the range"
python3 - "$T/range/sales.json" <<'PY' || fail "range: expected rows merging many slices"
import json, sys
rows = json.load(open(sys.argv[1]))
assert rows and all(r["window_end"] - r["window_start"] == 3600 * 10**9 for r in rows), rows[:2]
PY
# Retention: of the 300 s of "recent", the slices more than 2 min older than the
# newest were deleted; the rest equals the truth.
"$SLUICECTL" query recent --db "$T/range/db" --from 0 --to 4000000000 --json \
	>"$T/range/recent.json" || fail "range: sluicectl query recent"
python3 - "$T/range.truth.json" "$T/range/recent.json" <<'PY' || fail "range: retention"
import json, sys
truth = [r for r in json.load(open(sys.argv[1]))["views"] if r["view"] == "recent"]
got = json.load(open(sys.argv[2]))
newest = max(r["window_end"] for r in truth)
cut = newest - 120 * 10**9
keep = [r for r in truth if r["window_start"] >= cut]
key = lambda r: (r["window_start"], json.dumps(r["group"], sort_keys=True))
assert len(truth) > 2 * len(keep) > 0, (len(truth), len(keep))
assert sorted(map(key, got)) == sorted(map(key, keep)), (len(got), len(keep))
for a, b in zip(sorted(got, key=key), sorted(keep, key=key)):
    assert a["values"]["count"] == b["values"]["count"], (a, b)
PY
echo "views: ok"
