#!/usr/bin/env bash
# Hot reload under load: sluice-gen sends JSON events in real time (DPDK TX
# over memif) to sluiced running views A = {footfall, sales, popular}; an
# operator applies, with `sluicectl config apply` through sluice-ctld (bearer
# token): B (popular removed, sales_by_sku added), a broken config (refused
# whole with its line, B keeps running), C (sales_by_sku's window changed),
# A again, B again. Then: received = aggregated + drops exactly, footfall and
# sales (never touched) equal the truth in every window, the last
# sales_by_sku definition is the one stored under its name, and `live`
# answered during the run.
set -u
. "$(dirname "$0")/lib.sh"

[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
GEN_PREFIX="sl-gen-$$-$RANDOM"
trap 'cleanup; rm -rf "/var/run/dpdk/$GEN_PREFIX"' EXIT
COMPARE="$SL_SRC/tests/integration/compare_views.py"

"$SLUICECTL" config default >"$T/a.yaml" || fail "config default"
python3 - "$T" <<'PY' || fail "writing the configurations"
import sys
t = sys.argv[1]
a = open(f"{t}/a.yaml").read()
head, views = a.split("\nviews:\n", 1)
# Short windows so that several close during the run.
a = a.replace("window: {size: 10s}", "window: {size: 2s}").replace("allowed_lateness: 30s", "allowed_lateness: 1s")
open(f"{t}/a.yaml", "w").write(a)
extra = """  - name: sales_by_sku
    where: {event: purchase}
    group_by: [sku]
    window: {size: 2s}
    allowed_lateness: 1s
    keep_late: true
    aggregates: [count, "sum(amount)"]
"""
start = a.index("  - name: popular")
b = a[:start] + extra
open(f"{t}/b.yaml", "w").write(b)
open(f"{t}/union.yaml", "w").write(a + extra)
open(f"{t}/broken.yaml", "w").write(b.replace("group_by: [sku]", "group_by: [sku]\n    windw: {size: 2s}"))
PY
"$SLUICECTL" config check "$T/b.yaml" >/dev/null || fail "b.yaml does not load"
"$SLUICECTL" config check "$T/union.yaml" >/dev/null || fail "union.yaml does not load"

# ctl REQUEST... : send one control request, print the reply.
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

CTLD=$SL_BUILD/control/sluice-ctld
[ -x "$CTLD" ] || { echo "sluice-ctld not built"; exit 77; }
# C: B with sales_by_sku's window changed to 4 s; A2: A again (popular back, sales_by_sku gone).
sed -e '/name: sales_by_sku/,$ s/window: {size: 2s}/window: {size: 4s}/' "$T/b.yaml" >"$T/c.yaml"
cp "$T/a.yaml" "$T/a2.yaml"
"$SLUICECTL" config check "$T/c.yaml" >/dev/null || fail "c.yaml does not load"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"
chmod 600 "$T/token"

run_sluiced r "-l 0-1" "net_memif0,role=server,socket=$T/memif.sock" \
	--config "$T/a.yaml" --time wall --exit-when-idle 3
wait_socket r
SOCK="$T/r/ctl.sock"
"$CTLD" --db "$T/r/db" --dataplane-socket "$SOCK" --listen 127.0.0.1:0 --token-file "$T/token" \
	2>"$T/ctld.log" &
CTLD_PID=$!
trap 'kill "$CTLD_PID" 2>/dev/null; cleanup; rm -rf "/var/run/dpdk/$GEN_PREFIX"' EXIT
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/ctld.log")
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "$PORT" ] || fail "sluice-ctld did not start"
URL=http://127.0.0.1:$PORT
apply() { # apply FILE: through sluice-ctld, as an operator would
	"$SLUICECTL" config apply "$1" --url "$URL" --token-file "$T/token" >"$T/apply.out" 2>&1
}
# 40 datagrams/s of 10 events for 12 s, event time = now.
timeout 120 "$SLUICE_GEN" -l 0 --no-huge -m 256 --no-pci --file-prefix "$GEN_PREFIX" \
	--log-level=lib.eal:warning --vdev "net_memif0,role=client,socket=$T/memif.sock" -- \
	--port 0 --format json --rate 40 --events 4800 --seed 5 --stores 6 --skus 50 \
	--start "$(date +%s)" --config "$T/union.yaml" --truth "$T/truth.json" \
	>"$T/gen.log" 2>&1 &
GEN_PID=$!
sleep 2
python3 "$T/ctl.py" "$SOCK" live sales >"$T/live.json" || fail "live"
python3 - "$T/live.json" <<'PY' || fail "live: no open window of sales"
import json, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list) and rows and all(r["view"] == "sales" and r["values"]["count"] > 0 for r in rows), rows
PY
# Round 1: add sales_by_sku, remove popular.
apply "$T/b.yaml" || { cat "$T/apply.out" >&2; fail "config apply B"; }
python3 "$T/ctl.py" "$SOCK" config_apply "$T/b.yaml" >"$T/apply.json" || fail "config_apply B again"
python3 - "$T/apply.json" <<'PY' || fail "config_apply reply"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["kept"] == ["footfall", "sales", "sales_by_sku"] and r["added"] == [] \
    and r["removed"] == [], r
PY
sleep 2
# A broken configuration is refused whole, with its line; B keeps running.
if apply "$T/broken.yaml"; then fail "a broken configuration was applied"; fi
grep -q "windw" "$T/apply.out" || { cat "$T/apply.out" >&2; fail "no message for the broken configuration"; }
grep -q "broken.yaml:[0-9]*:\|:[1-9][0-9]*:[0-9]*:" "$T/apply.out" ||
	{ cat "$T/apply.out" >&2; fail "no line number for the broken configuration"; }
"$SLUICECTL" config show --url "$URL" >"$T/show.yaml" || fail "config show"
grep -q "name: sales_by_sku" "$T/show.yaml" && ! grep -q "name: popular" "$T/show.yaml" ||
	fail "the running configuration is not B after a refused one"
# Round 2: change sales_by_sku's window. Round 3: back to A (popular again, sales_by_sku gone).
apply "$T/c.yaml" || { cat "$T/apply.out" >&2; fail "config apply C"; }
sleep 2
apply "$T/a2.yaml" || { cat "$T/apply.out" >&2; fail "config apply A"; }
sleep 2
apply "$T/b.yaml" || { cat "$T/apply.out" >&2; fail "config apply B (round 4)"; }
wait "$GEN_PID" || { cat "$T/gen.log" >&2; fail "sluice-gen"; }
wait_received r 4800
wait_exit r

python3 - "$T/r/stats.json" <<'PY' || fail "accounting"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["received"] == 4800 and s["received"] == s["aggregated"] + sum(s["drops"].values()), s
PY
for v in footfall sales sales_by_sku; do
	"$SLUICECTL" query "$v" --db "$T/r/db" --from 0 --to 4000000000 --json >"$T/$v.json" ||
		fail "query $v"
done
# The views no reload touched equal the truth in every window.
python3 "$COMPARE" --views footfall,sales "$T/truth.json" "$T/footfall.json" "$T/sales.json" ||
	fail "unchanged views differ from the truth"
# sales_by_sku (the last definition: 2 s windows again, a new id after the 4 s one).
python3 - "$T/sales_by_sku.json" <<'PY' || fail "sales_by_sku's windows"
import json, sys
rows = json.load(open(sys.argv[1]))
assert rows and all(r["window_end"] - r["window_start"] == 2 * 10**9 for r in rows), rows[:2]
PY
echo "reload: ok"
