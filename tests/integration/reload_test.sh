#!/usr/bin/env bash
# Hot reload: sluice-gen sends JSON events in real time (DPDK TX over memif) to
# sluiced running views A = {footfall, sales, popular}; meanwhile the control
# socket's config_apply switches to B = {footfall, sales, sales_by_sku} (popular
# removed, sales_by_sku added), a broken config is refused whole, and B is
# applied again 10 times (no change). Then: received = aggregated + drops
# exactly; footfall and sales (kept) equal the truth in every window, as if
# nothing happened; popular's windows before its removal equal the truth;
# sales_by_sku starts at a window boundary and every window it stored equals
# the truth; `live` answers during the run.
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

run_sluiced r "-l 0-1" "net_memif0,role=server,socket=$T/memif.sock" \
	--config "$T/a.yaml" --time wall --exit-when-idle 3
wait_socket r
SOCK="$T/r/ctl.sock"
# 40 datagrams/s of 10 events for 8 s, event time = now.
timeout 120 "$SLUICE_GEN" -l 0 --no-huge -m 256 --no-pci --file-prefix "$GEN_PREFIX" \
	--log-level=lib.eal:warning --vdev "net_memif0,role=client,socket=$T/memif.sock" -- \
	--port 0 --format json --rate 40 --events 3200 --seed 5 --stores 6 --skus 50 \
	--start "$(date +%s)" --config "$T/union.yaml" --truth "$T/truth.json" \
	>"$T/gen.log" 2>&1 &
GEN_PID=$!
sleep 3
python3 "$T/ctl.py" "$SOCK" live sales >"$T/live.json" || fail "live"
python3 - "$T/live.json" <<'PY' || fail "live: no open window of sales"
import json, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list) and rows and all(r["view"] == "sales" and r["values"]["count"] > 0 for r in rows), rows
PY
python3 "$T/ctl.py" "$SOCK" config_apply "$T/b.yaml" >"$T/apply.json" || fail "config_apply"
python3 - "$T/apply.json" <<'PY' || fail "config_apply reply"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["kept"] == ["footfall", "sales"] and r["added"] == ["sales_by_sku"] \
    and r["removed"] == ["popular"], r
PY
python3 "$T/ctl.py" "$SOCK" config_apply "$T/broken.yaml" >"$T/broken.json" || fail "config_apply (broken)"
python3 - "$T/broken.json" <<'PY' || fail "a broken configuration was not refused with its line"
import json, sys
r = json.load(open(sys.argv[1]))
assert not r["ok"] and "windw" in r["error"] and ":" in r["error"], r
line = int(r["error"].split(":")[1])
assert line > 10, r
PY
for _ in $(seq 1 10); do
	python3 "$T/ctl.py" "$SOCK" config_apply "$T/b.yaml" >"$T/again.json" || fail "config_apply (again)"
	grep -q '"added": \[\]' "$T/again.json" || { cat "$T/again.json" >&2; fail "re-applying B changed views"; }
done
python3 "$T/ctl.py" "$SOCK" config_show >"$T/show.json" || fail "config_show"
grep -q "sales_by_sku" "$T/show.json" || fail "config_show does not show B"
wait "$GEN_PID" || { cat "$T/gen.log" >&2; fail "sluice-gen"; }
wait_received r 3200
wait_exit r

python3 - "$T/r/stats.json" <<'PY' || fail "accounting"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["received"] == 3200 and s["received"] == s["aggregated"] + sum(s["drops"].values()), s
PY
for v in footfall sales popular sales_by_sku; do
	"$SLUICECTL" query "$v" --db "$T/r/db" --from 0 --to 4000000000 --json >"$T/$v.json" ||
		fail "query $v"
done
python3 "$COMPARE" --views footfall,sales "$T/truth.json" "$T/footfall.json" "$T/sales.json" ||
	fail "kept views differ from the truth"
python3 - "$T/truth.json" "$T/popular.json" "$T/sales_by_sku.json" "$T" <<'PY' || fail "removed/added views"
import json, sys
full = json.load(open(sys.argv[1]))
truth = full["views"]
pop, sku, t = json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), sys.argv[4]
# popular: every window but the last stored one (cut by the removal) equals the truth.
last = max(r["window_start"] for r in pop)
keep = [r for r in pop if r["window_start"] < last]
assert keep, "popular stored no complete window before its removal"
json.dump(keep, open(f"{t}/pop_keep.json", "w"))
tp = [r for r in truth if r["view"] == "popular" and r["window_start"] < last]
json.dump(dict(full, views=tp), open(f"{t}/pop_truth.json", "w"))
# sales_by_sku: from its first stored window on, equal to the truth.
first = min(r["window_start"] for r in sku)
assert first % 2_000_000_000 == 0
ts = [r for r in truth if r["view"] == "sales_by_sku" and r["window_start"] >= first]
assert len({r["window_start"] for r in ts}) >= 2, "sales_by_sku ran for less than 2 windows"
json.dump(dict(full, views=ts), open(f"{t}/sku_truth.json", "w"))
PY
python3 "$COMPARE" --views popular "$T/pop_truth.json" "$T/pop_keep.json" ||
	fail "popular before its removal differs from the truth"
python3 "$COMPARE" --views sales_by_sku "$T/sku_truth.json" "$T/sales_by_sku.json" ||
	fail "sales_by_sku after its addition differs from the truth"
echo "reload: ok"
