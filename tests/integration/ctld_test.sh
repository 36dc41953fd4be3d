#!/usr/bin/env bash
# sluice-ctld against a live sluiced: /healthz, /v1/stats, /metrics (checked by
# promtool when installed, else by a parser of the text format) while sluiced
# runs; after it exits, /healthz turns 503 and /v1/metrics equals
# `sluicectl --json metrics` byte for byte. Unknown paths 404, other methods 405,
# each counted in sluice_ctld_refused_total; connections are kept alive. The
# views API, streams, config and limits: ctld_views_test.sh.
set -u
. "$(dirname "$0")/lib.sh"

SLUICE_CTLD=$SL_BUILD/control/sluice-ctld
[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
[ -x "$SLUICE_CTLD" ] || { echo "sluice-ctld not built (libmicrohttpd-dev missing)"; exit 77; }

CTLD_PID=
stop_ctld() {
	if [ -n "$CTLD_PID" ] && kill -0 "$CTLD_PID" 2>/dev/null; then
		kill -TERM "$CTLD_PID" 2>/dev/null
		wait "$CTLD_PID" 2>/dev/null
	fi
	CTLD_PID=
}
trap 'stop_ctld; cleanup' EXIT

EVENTS=20000
"$SLUICE_GEN" --format statsd --events $EVENTS --lines-per-datagram 8 --seed 11 \
	--stores 5 --skus 50 --users 300 --rate 2000 --window 2s \
	--pcap "$T/ctld.pcap" --truth "$T/truth.json" --quiet || fail "sluice-gen"

# sluice-ctld first: it must cope with neither the store nor the dataplane there yet.
mkdir -p "$T/c"
"$SLUICE_CTLD" --db "$T/c/db" --dataplane-socket "$T/c/ctl.sock" --listen 127.0.0.1:0 \
	2>"$T/ctld.log" &
CTLD_PID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/ctld.log")
	[ -n "$PORT" ] && break
	kill -0 "$CTLD_PID" 2>/dev/null || { cat "$T/ctld.log" >&2; fail "sluice-ctld exited"; }
	sleep 0.05
done
[ -n "$PORT" ] || fail "sluice-ctld did not start listening"
URL=http://127.0.0.1:$PORT

python3 - "$URL" <<'PY' || fail "before sluiced"
import json, sys, urllib.request, urllib.error
url = sys.argv[1]
def get(path, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url + path, method=method)) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
st, body = get("/healthz")
assert st == 503 and json.loads(body)["dataplane"] is False, (st, body)
st, body = get("/v1/stats")
assert st == 503 and "error" in json.loads(body), (st, body)
st, body = get("/nope")
assert st == 404 and json.loads(body)["status"] == 404, (st, body)
st, body = get("/v1/stats", "POST")
assert st == 405, (st, body)
st, body = get("/v1/metrics?from=abc")
assert st == 400, (st, body)
# Refusals are counted by reason.
st, body = get("/metrics")
m = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in body.decode().splitlines()
     if l and not l.startswith("#")}
for reason, n in (("not_found", 1), ("method_not_allowed", 1), ("bad_request", 1),
                  ("dataplane_unavailable", 1)):
    assert m['sluice_ctld_refused_total{reason="%s"}' % reason] == n, (reason, m)
assert m["sluice_ctld_requests_total"] >= 6 and m["sluice_ctld_connections"] >= 1, m
# Keep-alive: two requests, errors included, on one connection.
import http.client
c = http.client.HTTPConnection(url[len("http://"):], timeout=10)
for path in ("/nope", "/v1/stats", "/healthz"):
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    assert r.status in (404, 503) and r.getheader("Connection") != "close", (path, r.status)
c.close()
PY

run_sluiced c "-l 0-1" "net_pcap0,rx_pcap=$T/ctld.pcap" --window 2s --exit-when-idle 6
wait_socket c

# While sluiced runs: everything received, then the endpoints agree.
python3 - "$URL" "$EVENTS" "$T/metrics.txt" <<'PY' || fail "while sluiced runs"
import json, sys, time, urllib.request, urllib.error
url, want, prom_out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def get(path):
    try:
        with urllib.request.urlopen(url + path, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()
deadline = time.time() + 60
while True:
    st, ct, body = get("/v1/stats")
    assert st == 200 and ct == "application/json", (st, ct, body)
    s = json.loads(body)
    if s["received"] >= want or time.time() > deadline:
        break
    time.sleep(0.1)
assert s["received"] == want, ("received", s["received"], want)
assert s["received"] == s["aggregated"] + sum(s["drops"].values()), s
st, ct, body = get("/healthz")
h = json.loads(body)
assert st == 200 and h["status"] == "ok" and h["dataplane"] and h["committing"], (st, body)
st, ct, prom = get("/metrics")
assert st == 200 and ct.startswith("text/plain; version=0.0.4"), (st, ct)
open(prom_out, "wb").write(prom)
# Parse the exposition: families declared once, samples after their TYPE.
import re
types, samples = {}, {}
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')
for line in prom.decode().splitlines():
    if line.startswith("# HELP "):
        continue
    if line.startswith("# TYPE "):
        _, _, name, typ = line.split(" ", 3)
        assert name not in types, ("family twice", name)
        assert typ in ("counter", "gauge", "histogram"), line
        types[name] = typ
        continue
    m = line_re.match(line)
    assert m, ("bad line", line)
    name, labels, val = m.group(1), m.group(2) or "", m.group(3)
    base = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
    assert base in types, ("sample without TYPE", line)
    if types[base] == "counter":
        assert name.endswith("_total"), name
    float(val)
    samples[name + labels] = float(val)
assert samples["sluice_events_received_total"] == s["received"], samples
assert samples["sluice_events_aggregated_total"] == s["aggregated"]
for reason, n in s["drops"].items():
    assert samples['sluice_drops_total{reason="%s"}' % reason] == n, reason
for c in s["cores"]:
    assert samples['sluice_core_packets_total{lcore="%d"}' % c["lcore"]] == c["packets"]
assert samples["sluice_windows_committed_total"] == s["storage"]["windows_committed"]
assert samples['sluice_commit_duration_seconds_bucket{le="+Inf"}'] == \
    sum(s["storage"]["commit_us_log2"]) == samples["sluice_commit_duration_seconds_count"]
assert samples["sluice_dataplane_up"] == 1
assert any(k.startswith("sluice_build_info{") for k in samples)
for k in ("sluice_lmdb_map_size_bytes", "sluice_lmdb_used_bytes", "sluice_lmdb_records"):
    assert k in samples, k
assert any(k.startswith("sluice_port_rx_packets_total{") for k in samples)
# Poll efficiency per core, when sluiced counts polls.
for c in s["cores"]:
    if "polls" in c:
        busy = samples['sluice_core_polls_total{lcore="%d",result="busy"}' % c["lcore"]]
        empty = samples['sluice_core_polls_total{lcore="%d",result="empty"}' % c["lcore"]]
        assert busy > 0 and busy + empty >= c["polls"], (busy, empty, c["polls"])
assert samples['sluice_ctld_refused_total{reason="not_found"}'] == 2
PY
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$T/metrics.txt" || fail "promtool check metrics"
else
	echo "promtool not installed: checked with the built-in parser only"
fi

wait_exit c
"$SLUICECTL" --json metrics --db "$T/c/db" >"$T/sluicectl.json" || fail "sluicectl metrics"
"$SLUICECTL" --json metrics --db "$T/c/db" --name 'retail.*' --from 1 --to 9999999999 \
	>"$T/sluicectl-filtered.json" || fail "sluicectl metrics --name"
python3 - "$URL" "$T/sluicectl.json" "$T/sluicectl-filtered.json" <<'PY' || fail "after sluiced exited"
import json, sys, urllib.request, urllib.error
url = sys.argv[1]
def get(path):
    try:
        with urllib.request.urlopen(url + path, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
st, body = get("/healthz")
h = json.loads(body)
assert st == 503 and h["dataplane"] is False and h["status"] != "ok", (st, body)
st, body = get("/metrics")
assert st == 200 and b"sluice_dataplane_up 0\n" in body, (st, body[:200])
want = open(sys.argv[2], "rb").read()
st, body = get("/v1/metrics")
assert st == 200 and body == want, ("differs from sluicectl", st, len(body), len(want))
assert len(json.loads(body)) > 0
want = open(sys.argv[3], "rb").read()
st, body = get("/v1/metrics?name=retail.*&from=1&to=9999999999")
assert st == 200 and body == want, ("filtered differs from sluicectl", st, len(body), len(want))
PY
stop_ctld
echo "ctld: ok"
