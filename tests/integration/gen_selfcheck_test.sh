#!/usr/bin/env bash
# sluice-gen's ground truth, checked by an independent re-parse of its pcaps
# (gen_selfcheck.py), for one queue and an RSS-like split, and determinism:
# statsd, JSON lines and binary (the views of the built-in config), with the
# event-time knobs, a replay an hour in the past, and --producers.
set -u
. "$(dirname "$0")/lib.sh"

CHECK="$SL_SRC/tests/integration/gen_selfcheck.py"

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

# JSON lines, one queue, every time knob (sales and popular have no lateness,
# so out-of-order events across a window boundary are late there).
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
echo "gen_selfcheck: ok"
