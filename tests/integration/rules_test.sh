#!/usr/bin/env bash
# Hyperscan rules end to end.
# 1. A rule set (tag on the raw line, count on the raw line and on the event
#    name, drop on a field) over a sluice-gen JSON capture: per-rule hit
#    counts, the dropped events and a tag-filtered view equal a reference
#    computed here with Python's re over the same lines; dropped events are in
#    no view; received = aggregated + drops exactly.
# 2. Hot swap: while paced traffic flows (DPDK TX over memif), two rule sets
#    are applied alternately 20 times. Both define tags t and u on the same
#    stores (s01-s03 in A, s04-s06 in B); an event classified half by A and
#    half by B would have t without u: per window and store, the views on t
#    and on u must count the same. Accounting stays exact, a broken pattern
#    is refused with the rule id and Hyperscan's message while the running
#    set stays, and sluiced's memory does not grow across the swaps.
set -u
. "$(dirname "$0")/lib.sh"

[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
GEN_PREFIX="sl-gen-$$-$RANDOM"
trap 'cleanup; rm -rf "/var/run/dpdk/$GEN_PREFIX"' EXIT

cat >"$T/ctl.py" <<'PY'
import json, socket, sys
def call(path, line):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf)
if __name__ == "__main__":
    path, cmd = sys.argv[1], sys.argv[2]
    if cmd == "config_apply":
        print(json.dumps(call(path, "config_apply " + json.dumps(open(sys.argv[3]).read()))))
    else:
        print(json.dumps(call(path, " ".join(sys.argv[2:]))))
PY

# ---- 1. rules against a reference matcher ------------------------------------------------
"$SLUICECTL" config default >"$T/r.yaml" || fail "config default"
cat >>"$T/r.yaml" <<'EOF'
  - name: vip_sales
    where: {event: purchase, tags: vip}
    group_by: [store]
    window: {size: 10s}
    aggregates: [count, "sum(amount)"]
  - name: all_purchases
    where: {event: purchase}
    group_by: [store]
    window: {size: 10s}
    aggregates: [count]
rules:
  - id: vip_store
    pattern: '"store":"s0[1-3]"'
    on: raw
    action: tag
    tag: vip
  - id: big_basket
    pattern: '"amount":[4-9][0-9]{2}\.'
    on: raw
    action: count
  - id: test_sku
    pattern: 'A-00(1|2)[0-9]'
    on: sku
    action: drop
  - id: visit_name
    pattern: 'VISIT'
    flags: [caseless]
    on: event
    action: count
  - id: user_seven
    pattern: '^u0*7[0-9]$'
    on: user
    action: count
EOF
"$SLUICECTL" config check "$T/r.yaml" >/dev/null || fail "rules config does not load"
"$SLUICE_GEN" --format json --events 60000 --stores 12 --skus 300 --users 2000 --seed 21 --rate 2000 \
	--config "$T/r.yaml" --pcap "$T/r.pcap" --quiet || fail "sluice-gen"
run_sluiced r "-l 0-1" "net_pcap0,rx_pcap=$T/r.pcap" --config "$T/r.yaml" --exit-when-idle 2
wait_socket r
wait_received r 60000
"$SLUICECTL" stats rules --socket "$T/r/ctl.sock" --json >"$T/r/rules.json" || fail "stats rules"
"$SLUICECTL" stats rules --socket "$T/r/ctl.sock" >"$T/r/rules.txt" || fail "stats rules (table)"
grep -q "^vip_store  *tag  *raw  *vip  *[0-9]" "$T/r/rules.txt" || { cat "$T/r/rules.txt" >&2; fail "stats rules table"; }
wait_exit r
for v in vip_sales all_purchases; do
	"$SLUICECTL" query "$v" --db "$T/r/db" --from 0 --to 4000000000 --json >"$T/r/$v.json" ||
		fail "query $v"
done
python3 - "$T/r.pcap" "$T/r" <<'PY' || fail "rules differ from the reference matcher"
import json, re, struct, sys
from collections import Counter, defaultdict
from decimal import Decimal

pcap, d = sys.argv[1], sys.argv[2]
raw_rules = {"vip_store": re.compile(r'"store":"s0[1-3]"'),
             "big_basket": re.compile(r'"amount":[4-9][0-9]{2}\.')}
field_rules = {"test_sku": ("sku", re.compile(r"A-00(1|2)[0-9]")),
               "visit_name": ("event", re.compile(r"VISIT", re.I)),
               "user_seven": ("user", re.compile(r"^u0*7[0-9]$"))}
hits, dropped = Counter(), 0
vip = defaultdict(lambda: [0, Decimal(0)])
purchases = Counter()
with open(pcap, "rb") as f:
    f.read(24)
    while True:
        h = f.read(16)
        if len(h) < 16:
            break
        n = struct.unpack("<I", h[8:12])[0]
        frame = f.read(n)
        payload = frame[14 + 20 + 8:]
        for line in payload.split(b"\n"):
            if not line:
                continue
            text = line.decode()
            ev = json.loads(text, parse_float=Decimal)
            for rid, rx in raw_rules.items():
                hits[rid] += bool(rx.search(text))
            for rid, (field, rx) in field_rules.items():
                v = ev.get(field)
                hits[rid] += isinstance(v, str) and bool(rx.search(v))
            if isinstance(ev.get("sku"), str) and field_rules["test_sku"][1].search(ev["sku"]):
                dropped += 1
                continue
            w = ev["ts"] // 10000 * 10**10
            if ev["event"] == "purchase":
                purchases[(w, ev["store"])] += 1
                if raw_rules["vip_store"].search(text):
                    vip[(w, ev["store"])][0] += 1
                    vip[(w, ev["store"])][1] += ev["amount"]
got_hits = {r["id"]: r["hits"] for r in json.load(open(f"{d}/rules.json"))["rules"]}
assert got_hits == dict(hits), (got_hits, dict(hits))
assert all(hits[r] > 0 for r in hits), hits
s = json.load(open(f"{d}/stats.json"))
assert s["drops"]["rule_drop"] == dropped > 0, (s["drops"]["rule_drop"], dropped)
assert s["received"] == s["aggregated"] + sum(s["drops"].values()), s
assert s["rules"]["count"] == 5 and s["rules"]["hits"] == sum(hits.values()), s["rules"]
rows = json.load(open(f"{d}/vip_sales.json"), parse_float=Decimal)
got = {(r["window_start"], r["group"]["store"]): [r["values"]["count"], Decimal(str(r["values"]["sum(amount)"]))] for r in rows}
assert got == dict(vip), (len(got), len(vip))
rows = json.load(open(f"{d}/all_purchases.json"))
got = {(r["window_start"], r["group"]["store"]): r["values"]["count"] for r in rows}
assert got == dict(purchases), (len(got), len(purchases))
print(f"rules: {sum(hits.values())} hits over 5 rules, {dropped} dropped, "
      f"{len(vip)} vip rows equal to the reference")
PY

# ---- 2. hot swap, 20 times, while traffic flows --------------------------------------------
mkset() { # mkset FILE STORES
	"$SLUICECTL" config default >"$1"
	cat >>"$1" <<EOF
  - name: tagged_t
    where: {tags: t}
    group_by: [store]
    window: {size: 2s}
    aggregates: [count]
  - name: tagged_u
    where: {tags: u}
    group_by: [store]
    window: {size: 2s}
    aggregates: [count]
rules:
  - id: rule_t
    pattern: '"store":"s0[$2]"'
    on: raw
    action: tag
    tag: t
  - id: rule_u
    pattern: '^s0[$2]\$'
    on: store
    action: tag
    tag: u
EOF
}
mkset "$T/a.yaml" 1-3
mkset "$T/b.yaml" 4-6
sed -e 's/s0\[1-3\]"/s0[1-3"/' "$T/a.yaml" >"$T/bad.yaml" # an unbalanced class
run_sluiced s "-l 0-1" "net_memif0,role=server,socket=$T/memif.sock" \
	--config "$T/a.yaml" --time wall --exit-when-idle 3
wait_socket s
SOCK="$T/s/ctl.sock"
timeout 120 "$SLUICE_GEN" -l 0 --no-huge -m 256 --no-pci --file-prefix "$GEN_PREFIX" \
	--log-level=lib.eal:warning --vdev "net_memif0,role=client,socket=$T/memif.sock" -- \
	--port 0 --format json --rate 300 --events 60000 --seed 5 --stores 8 \
	--start "$(date +%s)" >"$T/gen.log" 2>&1 &
GEN_PID=$!
sleep 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SLUICED_PID/status"; }
for i in $(seq 1 20); do
	f="$T/a.yaml"
	[ $((i % 2)) -eq 1 ] && f="$T/b.yaml"
	python3 "$T/ctl.py" "$SOCK" config_apply "$f" >"$T/apply.json" || fail "config_apply $i"
	grep -q '"ok": true' "$T/apply.json" || { cat "$T/apply.json" >&2; fail "swap $i refused"; }
	grep -q '"added": \[\]' "$T/apply.json" || { cat "$T/apply.json" >&2; fail "swap $i changed views"; }
	[ "$i" -eq 5 ] && RSS5=$(rss)
	if [ "$i" -eq 10 ]; then
		python3 "$T/ctl.py" "$SOCK" config_apply "$T/bad.yaml" >"$T/bad.json" || fail "bad apply"
		python3 - "$T/bad.json" <<'PY' || fail "a bad pattern was not refused with the rule id and Hyperscan's message"
import json, sys
r = json.load(open(sys.argv[1]))
assert not r["ok"] and "rule_t" in r["error"] and "Hyperscan" in r["error"], r
PY
	fi
	sleep 0.3
done
RSS20=$(rss)
wait "$GEN_PID" || { cat "$T/gen.log" >&2; fail "sluice-gen"; }
wait_received s 60000
# Per-rule hits in sluice-ctld's /metrics (when it is built), checked by promtool.
CTLD=$SL_BUILD/control/sluice-ctld
if [ -x "$CTLD" ]; then
	"$CTLD" --db "$T/s/db" --dataplane-socket "$SOCK" --listen 127.0.0.1:0 2>"$T/ctld.log" &
	CTLD_PID=$!
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/ctld.log")
		[ -n "$PORT" ] && break
		sleep 0.05
	done
	[ -n "$PORT" ] || { kill "$CTLD_PID"; fail "sluice-ctld did not start"; }
	python3 - "http://127.0.0.1:$PORT/metrics" "$SOCK" "$T/ctl.py" >"$T/metrics.txt" <<'PY' ||
import json, sys, urllib.request
sys.path.insert(0, sys.argv[3].rsplit("/", 1)[0])
from ctl import call
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
print(text, end="")
want = {r["id"]: r["hits"] for r in call(sys.argv[2], "rules")["rules"]}
got = {}
for line in text.splitlines():
    if line.startswith("sluice_rule_hits_total{"):
        rule = line.split('rule="', 1)[1].split('"', 1)[0]
        got[rule] = int(line.rsplit(" ", 1)[1])
assert got == want and set(got) == {"rule_t", "rule_u"}, (got, want)
PY
		{ kill "$CTLD_PID"; fail "per-rule hits in /metrics"; }
	kill "$CTLD_PID"
	wait "$CTLD_PID" 2>/dev/null
	if command -v promtool >/dev/null; then
		promtool check metrics <"$T/metrics.txt" >/dev/null 2>&1 ||
			{ promtool check metrics <"$T/metrics.txt"; fail "promtool rejects /metrics"; }
	fi
fi
python3 "$T/ctl.py" "$SOCK" config_show >"$T/show.json" || fail "config_show"
grep -q 's0\[1-3\]' "$T/show.json" || fail "the last good set (A) is not the running one"
wait_exit s
# Under AddressSanitizer (SL_SANITIZED=1) freed memory sits in its quarantine:
# there LeakSanitizer at exit (wait_exit checks the exit status) is the check.
if [ -z "${SL_SANITIZED:-}" ]; then
	[ $((RSS20 - RSS5)) -lt 16384 ] || fail "sluiced grew by $((RSS20 - RSS5)) KiB over 15 swaps"
fi
for v in tagged_t tagged_u; do
	"$SLUICECTL" query "$v" --db "$T/s/db" --from 0 --to 4000000000 --json >"$T/s/$v.json" ||
		fail "query $v"
done
python3 - "$T/s" <<'PY' || fail "an event was classified by parts of two rule sets"
import json, sys
d = sys.argv[1]
t = {(r["window_start"], r["group"]["store"]): r["values"]["count"] for r in json.load(open(f"{d}/tagged_t.json"))}
u = {(r["window_start"], r["group"]["store"]): r["values"]["count"] for r in json.load(open(f"{d}/tagged_u.json"))}
assert t == u, [(k, t.get(k), u.get(k)) for k in set(t) | set(u) if t.get(k) != u.get(k)][:5]
stores = {k[1] for k in t}
assert stores & {"s01", "s02", "s03"} and stores & {"s04", "s05", "s06"}, stores
s = json.load(open(f"{d}/stats.json"))
assert s["received"] == 60000 and s["received"] == s["aggregated"] + sum(s["drops"].values()), s
print(f"rules: 20 swaps, {sum(t.values())} tagged events in {len(t)} (window, store) cells, "
      f"each by one whole rule set")
PY
echo "rules: ok"
