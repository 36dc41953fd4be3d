#!/usr/bin/env bash
# sluice-gen's ground truth, checked by an independent re-parse of its pcaps
# (gen_selfcheck.py), for one queue and an RSS-like split, and determinism.
set -u
. "$(dirname "$0")/lib.sh"

"$SLUICE_GEN" --events 20000 --lines-per-datagram 1 --seed 3 --window 1s --rate 5000 \
	--pcap "$T/a.pcap" --truth "$T/a.json" --quiet || fail "sluice-gen a"
python3 "$SL_SRC/tests/integration/gen_selfcheck.py" --truth "$T/a.json" "$T/a.pcap" || fail "a"
"$SLUICE_GEN" --events 30000 --lines-per-datagram 20 --seed 4 --queues 3 --window 2s \
	--pcap "$T/b.pcap" --truth "$T/b.json" --quiet || fail "sluice-gen b"
python3 "$SL_SRC/tests/integration/gen_selfcheck.py" --truth "$T/b.json" \
	"$T/b.q0.pcap" "$T/b.q1.pcap" "$T/b.q2.pcap" || fail "b"
"$SLUICE_GEN" --events 20000 --lines-per-datagram 1 --seed 3 --window 1s --rate 5000 \
	--pcap "$T/c.pcap" --truth "$T/c.json" --quiet || fail "sluice-gen c"
cmp -s "$T/a.pcap" "$T/c.pcap" && cmp -s "$T/a.json" "$T/c.json" || fail "same seed, different output"
echo "gen_selfcheck: ok"
