#!/usr/bin/env bash
# The dashboard (web/) in headless chromium against a live pipeline. sluice-gen
# sends JSON events stamped with the wall clock (--start now, one event per
# packet, so the DPDK TX rate in packets/s is the event-time rate) into sluiced
# over memif; the retail views with 2 s windows and 1 s of lateness close a
# window every 2 s while the page is open. sluice-ctld serves web/ and the API.
# dashboard.mjs waits for a window of every view to arrive over the stream and be
# drawn, checks the table against /v1/views/... for the same windows and the
# pipeline panel against /v1/stats, and saves $SL_BUILD/dashboard.png.
# Skips (77) only without node or chromium, which scripts/setup.sh installs.
set -u
. "$(dirname "$0")/lib.sh"

SLUICE_CTLD=${SLUICE_CTLD:-$SL_BUILD/control/sluice-ctld}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
[ -x "$SLUICE_CTLD" ] || { echo "sluice-ctld not built (libmicrohttpd-dev missing)"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "node is missing: run scripts/setup.sh"; exit 77; }
[ -x "$CHROMIUM" ] || { echo "$CHROMIUM is missing: run scripts/setup.sh"; exit 77; }
[ -f "$SL_SRC/tests/node_modules/playwright-core/package.json" ] ||
	fail "playwright-core is not in tests/node_modules: run scripts/setup.sh"
[ -f "$SL_SRC/web/assets/vendor/uPlot.iife.min.js" ] ||
	fail "uPlot is not vendored in web/assets/vendor: run scripts/setup.sh"
"$SLUICE_CTLD" --help 2>&1 | grep -q -- --web-root || fail "sluice-ctld has no --web-root"

RATE=400             # events (= packets) per second
GEN_PREFIX="sl-gen-$$-$RANDOM"
GEN_PID=
CTLD_PID=
stop() {
	# stop PID: TERM, then wait for it (both are children of this shell).
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null
		wait "$1" 2>/dev/null
	fi
}
trap 'stop "$GEN_PID"; stop "$CTLD_PID"; cleanup; rm -rf "/var/run/dpdk/$GEN_PREFIX"' EXIT

"$SLUICECTL" config default |
	sed -e 's/window: {size: 10s}/window: {size: 2s}/' \
		-e 's/allowed_lateness: 30s/allowed_lateness: 1s/' >"$T/views.yaml"
"$SLUICECTL" config check "$T/views.yaml" >/dev/null || fail "test config does not load"
grep -q 'size: 2s' "$T/views.yaml" || fail "the default views changed: fix the sed above"

run_sluiced d "-l 0-1" "net_memif0,role=server,socket=$T/memif.sock" --config "$T/views.yaml"
wait_socket d

"$SLUICE_CTLD" --db "$T/d/db" --dataplane-socket "$T/d/ctl.sock" --listen 127.0.0.1:0 \
	--web-root "$SL_SRC/web" 2>"$T/ctld.log" &
CTLD_PID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/ctld.log")
	[ -n "$PORT" ] && break
	kill -0 "$CTLD_PID" 2>/dev/null || { cat "$T/ctld.log" >&2; fail "sluice-ctld exited"; }
	sleep 0.05
done
[ -n "$PORT" ] || fail "sluice-ctld did not start listening"
URL=http://127.0.0.1:$PORT

# Three minutes of events at most; the test needs well under one.
timeout 300 "$SLUICE_GEN" -l 0 --no-huge -m 256 --no-pci --file-prefix "$GEN_PREFIX" \
	--log-level=lib.eal:warning --vdev "net_memif0,role=client,socket=$T/memif.sock" -- \
	--port 0 --format json --lines-per-datagram 1 --rate $RATE --events $((RATE * 180)) \
	--start "$(date +%s)" --stores 8 --skus 200 --users 3000 --seed 7 \
	>"$T/gen.log" 2>&1 &
GEN_PID=$!

# The page needs committed windows to start from and live ones to wait for.
for _ in $(seq 1 300); do
	"$SLUICECTL" query sales --db "$T/d/db" --from -1h --json 2>/dev/null | grep -q window_start && break
	kill -0 "$GEN_PID" 2>/dev/null || { cat "$T/gen.log" >&2; fail "sluice-gen exited"; }
	sleep 0.1
done
"$SLUICECTL" query sales --db "$T/d/db" --from -1h --json 2>/dev/null | grep -q window_start ||
	{ cat "$T/gen.log" "$T/d/log" >&2; fail "no sales window committed within 30 s"; }

node "$SL_SRC/tests/integration/dashboard.mjs" "$URL" "$SL_BUILD/dashboard.png" $RATE ||
	{ tail -20 "$T/ctld.log" >&2; fail "dashboard (screenshot: $SL_BUILD/dashboard.png)"; }
kill -0 "$GEN_PID" 2>/dev/null || { cat "$T/gen.log" >&2; fail "sluice-gen stopped early"; }
echo "dashboard: ok"
