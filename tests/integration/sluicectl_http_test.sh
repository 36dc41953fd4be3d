#!/usr/bin/env bash
# sluicectl through sluice-ctld (--url) against a live sluiced replaying a
# sluice-gen JSON capture: health (ready, not ready, unreachable), stats
# (received = the truth's events, the poll columns), live, watch (windows as
# they are committed; --from history; a restart of sluice-ctld resumed with
# Last-Event-ID, nothing twice; Ctrl-C exits 0), config show/apply (no token,
# a wrong one, a broken file with its line, a good one: kept/added/removed),
# then, after sluiced exited, `query`/`views` with --url equal the same
# commands with --db byte for byte (JSON and tables), and the exit codes of an
# unknown view (3) and a bad step (2).
set -u
. "$(dirname "$0")/lib.sh"

SLUICE_CTLD=$SL_BUILD/control/sluice-ctld
[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
[ -x "$SLUICE_CTLD" ] || { echo "sluice-ctld not built (libmicrohttpd-dev missing)"; exit 77; }
"$SLUICE_CTLD" --help | grep -q -- --token-file || { echo "sluice-ctld without --token-file"; exit 77; }

CTLD_PID=
WATCH_PIDS=()
stop_ctld() {
	if [ -n "$CTLD_PID" ] && kill -0 "$CTLD_PID" 2>/dev/null; then
		kill -TERM "$CTLD_PID" 2>/dev/null
		wait "$CTLD_PID" 2>/dev/null
	fi
	CTLD_PID=
}
stop_all() {
	for p in "${WATCH_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	stop_ctld
	cleanup
}
trap stop_all EXIT

# start_ctld NAME LISTEN [ARGS...]: sluice-ctld on the store and socket of
# sluiced run "s"; sets PORT and URL from its "listening on" line.
start_ctld() {
	local name=$1 listen=$2
	shift 2
	"$SLUICE_CTLD" --db "$T/s/db" --dataplane-socket "$T/s/ctl.sock" --listen "$listen" "$@" \
		2>"$T/$name.log" &
	CTLD_PID=$!
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$name.log")
		[ -n "$PORT" ] && break
		kill -0 "$CTLD_PID" 2>/dev/null || { cat "$T/$name.log" >&2; fail "sluice-ctld $name exited"; }
		sleep 0.05
	done
	[ -n "$PORT" ] || fail "sluice-ctld $name did not start listening"
	URL=http://127.0.0.1:$PORT
}

# A port where nothing listens.
DEAD=http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

EVENTS=30000
mkdir -p "$T/s"
"$SLUICECTL" config default >"$T/views.yaml" || fail "config default"
"$SLUICE_GEN" --format json --events $EVENTS --stores 6 --skus 200 --users 3000 --rate 1000 \
	--seed 5 --config "$T/views.yaml" --pcap "$T/s.pcap" --truth "$T/truth.json" --quiet ||
	fail "sluice-gen"
umask 077
printf 's3cret-token\n' >"$T/token"
printf 'wrong\n' >"$T/wrong"

# ---- sluice-ctld before sluiced: not ready; a dead URL: unreachable ----
start_ctld a 127.0.0.1:0 --token-file "$T/token"
out=$("$SLUICECTL" health --url "$URL"); rc=$?
[ $rc -eq 1 ] || fail "health without sluiced: exit $rc, want 1 ($out)"
echo "$out" | grep -q "^not ready: " || fail "health without sluiced: $out"
"$SLUICECTL" health --url "$DEAD" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "health of a dead URL: exit $rc, want 1"
grep -q "cannot reach sluice-ctld" "$T/err" || fail "health of a dead URL: $(cat "$T/err")"
"$SLUICECTL" health --url "https://127.0.0.1:1" 2>/dev/null; [ $? -eq 2 ] || fail "https URL: want 2"
"$SLUICECTL" views --url "$DEAD" 2>/dev/null; [ $? -eq 1 ] || fail "views of a dead URL: want 1"
"$SLUICECTL" query sales --url "$URL" --db "$T/s/db" 2>/dev/null; [ $? -eq 2 ] ||
	fail "--url with --db: want 2"

# ---- while sluiced runs ----
# --idle-flush 10s: the replay's last slices stay open long enough for live.
run_sluiced s "-l 0-1" "net_pcap0,rx_pcap=$T/s.pcap" --config "$T/views.yaml" --exit-when-idle 25 \
	--idle-flush 10s
wait_socket s
# The views are registered at start: a watch of new windows can begin.
for _ in $(seq 1 100); do
	"$SLUICECTL" views --url "$URL" --json 2>/dev/null | grep -q '"view":"sales"' && break
	sleep 0.1
done
"$SLUICECTL" --url "$URL" watch sales --json --duration 120s >"$T/watch_new.out" 2>"$T/watch_new.err" &
WATCH_NEW=$!
WATCH_PIDS+=("$WATCH_NEW")
wait_received s $EVENTS

"$SLUICECTL" stats --url "$URL" --json >"$T/stats.json" || fail "stats --url"
python3 - "$T/stats.json" "$T/truth.json" <<'PY' || fail "stats --url: counts"
import json, sys
s, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert s["received"] == t["events"], (s["received"], t["events"])
assert s["received"] == s["aggregated"] + sum(s["drops"].values()), s
PY
"$SLUICECTL" stats --url "$URL" >"$T/stats.txt" || fail "stats --url (table)"
grep -q "^  received  *$EVENTS$" "$T/stats.txt" || fail "stats table: $(cat "$T/stats.txt")"
if grep -q '"polls"' "$T/stats.json"; then
	grep -qE "^ +LCORE .* POLLS +EMPTY +BUSY$" "$T/stats.txt" || fail "no poll columns: $(cat "$T/stats.txt")"
	grep -qE "^ +[0-9]+ .* [0-9.]+%$" "$T/stats.txt" || fail "no BUSY %: $(cat "$T/stats.txt")"
fi
# The socket still works, and both sources together are a usage error.
"$SLUICECTL" stats --socket "$T/s/ctl.sock" --json >/dev/null || fail "stats --socket"
"$SLUICECTL" stats --socket "$T/s/ctl.sock" --url "$URL" 2>/dev/null; [ $? -eq 2 ] ||
	fail "stats --socket --url: want 2"

out=$("$SLUICECTL" health --url "$URL"); rc=$?
[ $rc -eq 0 ] || fail "health while sluiced runs: exit $rc ($out)"
echo "$out" | grep -q "^ready$" || fail "health: $out"
"$SLUICECTL" health --url "$URL" --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["status"] == "ok"' ||
	fail "health --json"

# The open windows: the last ones of the replay wait for their lateness.
"$SLUICECTL" live sales --url "$URL" --json >"$T/live.json" || fail "live --json"
python3 - "$T/live.json" <<'PY' || fail "live: rows"
import json, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list) and rows, rows
assert all(r["view"] == "sales" and r["values"]["count"] >= 0 for r in rows), rows[:2]
PY
"$SLUICECTL" live sales --url "$URL" >"$T/live.txt" || fail "live (table)"
grep -q "^view sales (id [0-9]*): window 10s, event time; open windows: [1-9][0-9]* rows\?$" \
	"$T/live.txt" || fail "live table: $(head -3 "$T/live.txt")"
grep -q "^WINDOW START  *STORE  *count  *sum(amount)" "$T/live.txt" || fail "live header: $(sed -n 2p "$T/live.txt")"
"$SLUICECTL" live nosuch --url "$URL" 2>/dev/null; [ $? -eq 3 ] || fail "live of an unknown view: want 3"

# config: the running one; apply without a token, a wrong one, a broken file, a good one.
"$SLUICECTL" config show --url "$URL" >"$T/running.yaml" || fail "config show --url"
grep -q "name: sales" "$T/running.yaml" || fail "config show --url: $(head "$T/running.yaml")"
"$SLUICECTL" config show "$T/views.yaml" --url "$URL" 2>/dev/null; [ $? -eq 2 ] ||
	fail "config show FILE --url: want 2"
sed -e '/^  - name: popular/,$d' "$T/views.yaml" >"$T/new.yaml"
cat >>"$T/new.yaml" <<'EOF'
  - name: extra
    where: {event: visit}
    window: {size: 10s}
    aggregates: [count]
EOF
"$SLUICECTL" config check "$T/new.yaml" >/dev/null || fail "new.yaml does not check"
"$SLUICECTL" config apply "$T/new.yaml" --url "$URL" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "HTTP 401" "$T/err" && grep -q -- "--token-file" "$T/err" ||
	fail "apply without a token: exit $rc: $(cat "$T/err")"
"$SLUICECTL" config apply "$T/new.yaml" --url "$URL" --token-file "$T/wrong" >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && grep -q "HTTP 401" "$T/err" || fail "apply with a wrong token: exit $rc: $(cat "$T/err")"
BAD=$SL_SRC/tests/data/config/bad-slide.yaml
"$SLUICECTL" config apply "$BAD" --url "$URL" --token-file "$T/token" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "apply of a broken file: exit $rc, want 1"
grep -q "^$BAD:5:[0-9]*: " "$T/err" || fail "apply of a broken file: no line 5: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "apply of a broken file printed: $(cat "$T/out")"
SLUICE_TOKEN_FILE=$T/token "$SLUICECTL" config apply "$T/new.yaml" --url "$URL" >"$T/apply.txt" 2>"$T/err" ||
	fail "config apply: $(cat "$T/err")"
grep -q "^$T/new.yaml: applied$" "$T/apply.txt" || fail "apply: $(cat "$T/apply.txt")"
grep -qE "^  kept +(footfall, sales|sales, footfall)$" "$T/apply.txt" || fail "apply kept: $(cat "$T/apply.txt")"
grep -qE "^  added +extra$" "$T/apply.txt" || fail "apply added: $(cat "$T/apply.txt")"
grep -qE "^  removed +popular$" "$T/apply.txt" || fail "apply removed: $(cat "$T/apply.txt")"
"$SLUICECTL" config show --url "$URL" | grep -q "name: extra" || fail "config show after apply"
# The same again: everything kept (--json: the reply).
"$SLUICECTL" --json config apply "$T/new.yaml" --url "$URL" --token-file "$T/token" >"$T/apply.json" ||
	fail "config apply --json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] and r["added"] == [] and r["removed"] == [] and sorted(r["kept"]) == ["extra","footfall","sales"], r' \
	"$T/apply.json" || fail "apply --json: $(cat "$T/apply.json")"

wait_exit s

# ---- after sluiced exited ----
out=$("$SLUICECTL" health --url "$URL"); rc=$?
[ $rc -eq 1 ] || fail "health after sluiced exited: exit $rc"
echo "$out" | grep -q "^not ready: " || fail "health after exit: $out"
echo "$out" | grep -q "^  dataplane   down$" || fail "health parts: $out"

# The windows committed after the watch connected (the last ones, at exit): then Ctrl-C.
for _ in $(seq 1 100); do
	[ -s "$T/watch_new.out" ] && break
	sleep 0.1
done
sleep 1
kill -INT "$WATCH_NEW"
wait "$WATCH_NEW"; rc=$?
[ $rc -eq 0 ] || fail "watch after SIGINT: exit $rc: $(cat "$T/watch_new.err")"
[ -s "$T/watch_new.out" ] || fail "watch: no window committed after it connected: $(cat "$T/watch_new.err")"

# query and views: --url equals --db, byte for byte.
R=(--from 0 --to 4000000000)
for v in footfall sales popular; do
	for args in "" "--step all" "--step 30s" "--where store=s01"; do
		# shellcheck disable=SC2086
		"$SLUICECTL" query $v "${R[@]}" $args --db "$T/s/db" --json >"$T/db.json" ||
			fail "query $v $args --db"
		# shellcheck disable=SC2086
		"$SLUICECTL" --url "$URL" query $v "${R[@]}" $args --json >"$T/url.json" ||
			fail "query $v $args --url"
		cmp -s "$T/db.json" "$T/url.json" || fail "query $v $args --json: --url differs from --db"
		# shellcheck disable=SC2086
		"$SLUICECTL" query $v "${R[@]}" $args --db "$T/s/db" >"$T/db.txt" || fail "query $v table --db"
		# shellcheck disable=SC2086
		"$SLUICECTL" query $v "${R[@]}" $args --url "$URL" >"$T/url.txt" || fail "query $v table --url"
		cmp -s "$T/db.txt" "$T/url.txt" ||
			fail "query $v $args table: --url differs from --db: $(diff "$T/db.txt" "$T/url.txt" | head -5)"
	done
done
python3 - "$T/db.json" <<'PY' || fail "the compared rows are empty"
import json, sys
assert json.load(open(sys.argv[1])), "no rows"
PY
"$SLUICECTL" views --db "$T/s/db" --json >"$T/db.json" || fail "views --db"
"$SLUICECTL" views --url "$URL" --json >"$T/url.json" || fail "views --url"
cmp -s "$T/db.json" "$T/url.json" || fail "views --json: --url differs from --db"
"$SLUICECTL" views --db "$T/s/db" >"$T/db.txt" || fail "views table --db"
SLUICE_URL=$URL "$SLUICECTL" views >"$T/url.txt" || fail "views table via \$SLUICE_URL"
cmp -s "$T/db.txt" "$T/url.txt" || fail "views table: --url differs from --db"
grep -q "^extra " "$T/url.txt" || fail "views: the applied view is not registered"
# Exit codes: an unknown view is 3, a bad step 2, both ways.
"$SLUICECTL" query nosuch --url "$URL" 2>"$T/err"; rc=$?
[ $rc -eq 3 ] || fail "query nosuch --url: exit $rc, want 3"
grep -q "sales" "$T/err" || fail "unknown view: no list of views: $(cat "$T/err")"
"$SLUICECTL" query nosuch --db "$T/s/db" 2>/dev/null; rc=$?
[ $rc -eq 3 ] || fail "query nosuch --db: exit $rc, want 3"
"$SLUICECTL" query sales --step 7s --url "$URL" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "query --step 7s --url: exit $rc, want 2"
"$SLUICECTL" query sales --step 7s --db "$T/s/db" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "query --step 7s --db: exit $rc, want 2"
"$SLUICECTL" watch nosuch --url "$URL" 2>/dev/null; [ $? -eq 3 ] || fail "watch nosuch: want 3"

# watch --from: the stored windows of sales, each once, in order, as query has them.
"$SLUICECTL" query sales "${R[@]}" --db "$T/s/db" --json >"$T/sales.json" || fail "query sales"
NWIN=$(python3 -c 'import json,sys; print(len({r["window_start"] for r in json.load(open(sys.argv[1]))}))' "$T/sales.json")
[ "$NWIN" -ge 3 ] || fail "only $NWIN windows of sales"
timeout 30 "$SLUICECTL" watch sales --url "$URL" --from 0 --count "$NWIN" --json >"$T/watch.out" ||
	fail "watch --from 0 --count $NWIN: exit $?"
python3 - "$T/watch.out" "$T/sales.json" "$T/watch_new.out" <<'PY' || fail "watch --from: windows differ from query"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
rows = json.load(open(sys.argv[2]))
wins = [json.loads(l) for l in lines]
starts = [w["window_start"] for w in wins]
assert starts == sorted(set(starts)), ("not in order or twice", starts)
want = {}
for r in rows:
    want.setdefault(r["window_start"], []).append(r)
assert starts == sorted(want), (starts, sorted(want))
for w in wins:
    assert w["view"] == "sales", w
    assert w["rows"] == want[w["window_start"]], w["window_start"]
# The watch of new windows got some of them, each once.
new = [json.loads(l) for l in open(sys.argv[3]).read().splitlines()]
ns = [w["window_start"] for w in new]
assert ns and ns == sorted(set(ns)) and set(ns) <= set(want), ns
PY
timeout 30 "$SLUICECTL" watch sales --url "$URL" --from 0 --count 2 >"$T/watch.txt" ||
	fail "watch (table)"
[ "$(grep -c "^view sales (id [0-9]*): window 10s, event time; .* \.\. .*: [0-9]* rows\?$" "$T/watch.txt")" -eq 2 ] ||
	fail "watch table: $(head -5 "$T/watch.txt")"

# A restart of sluice-ctld: the watch reconnects with Last-Event-ID and gets nothing twice.
"$SLUICECTL" watch sales --url "$URL" --from 0 --json >"$T/watch_rs.out" 2>"$T/watch_rs.err" &
WATCH_RS=$!
WATCH_PIDS+=("$WATCH_RS")
for _ in $(seq 1 100); do
	[ "$(wc -l <"$T/watch_rs.out")" -ge "$NWIN" ] && break
	sleep 0.1
done
[ "$(wc -l <"$T/watch_rs.out")" -eq "$NWIN" ] || fail "watch before the restart: $(wc -l <"$T/watch_rs.out") windows"
stop_ctld
start_ctld b "127.0.0.1:$PORT"
for _ in $(seq 1 100); do
	grep -q "reconnecting" "$T/watch_rs.err" && break
	sleep 0.1
done
grep -q "reconnecting in .* after window [0-9]" "$T/watch_rs.err" || fail "watch did not reconnect: $(cat "$T/watch_rs.err")"
sleep 3
kill -0 "$WATCH_RS" 2>/dev/null || fail "watch ended after the restart: $(cat "$T/watch_rs.err")"
kill -TERM "$WATCH_RS"
wait "$WATCH_RS"; rc=$?
[ $rc -eq 0 ] || fail "watch after SIGTERM: exit $rc"
[ "$(wc -l <"$T/watch_rs.out")" -eq "$NWIN" ] || fail "windows twice after the reconnect"

# sluice-ctld without a token file refuses changes (403).
"$SLUICECTL" config apply "$T/new.yaml" --url "$URL" --token-file "$T/token" >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && grep -q "HTTP 403" "$T/err" || fail "apply without a server token: exit $rc: $(cat "$T/err")"
stop_ctld
echo "sluicectl_http: ok"
