#!/usr/bin/env bash
# sluice-ctld's /metrics scraped by a real Prometheus server: sluiced replays a
# statsd capture and a JSON-lines capture (one queue each) and keeps running;
# `promtool check metrics` accepts the exposition; a Prometheus started on a
# temporary config scrapes sluice-ctld every second, and its HTTP query API
# must return the received-events counter equal to the number of events sent
# (the generators' truth, also `sluicectl stats --json`'s received), every
# drop reason equal to sluiced's, and the per-view series equal to the
# truth and to the views' counters. Then every query of
# docs/grafana-dashboard.json must run on that Prometheus and every metric it
# names must be one sluice-ctld exports. Skips (77) without prometheus.
set -u
. "$(dirname "$0")/lib.sh"

SLUICE_CTLD=$SL_BUILD/control/sluice-ctld
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
[ -x "$SLUICE_CTLD" ] || { echo "sluice-ctld not built (libmicrohttpd-dev missing)"; exit 77; }
[ -x "$PROMETHEUS" ] || { echo "prometheus not installed (apt-get install prometheus)"; exit 77; }
[ -x "$PROMTOOL" ] || fail "$PROMETHEUS is installed but $PROMTOOL is not"

CTLD_PID=
PROM_PID=
stop_pid() {
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null
		wait "$1" 2>/dev/null
	fi
}
# Prometheus and sluice-ctld first: sluiced must not outlive the test either
# way, and cleanup (lib.sh) removes $T, Prometheus's TSDB included.
trap 'stop_pid "$PROM_PID"; stop_pid "$CTLD_PID"; cleanup' EXIT

STATSD_EVENTS=20000
JSON_EVENTS=5000
"$SLUICE_GEN" --format statsd --events $STATSD_EVENTS --lines-per-datagram 8 --seed 11 \
	--stores 5 --skus 50 --users 300 --rate 2000 --window 2s \
	--pcap "$T/statsd.pcap" --truth "$T/statsd.truth.json" --quiet || fail "sluice-gen statsd"
"$SLUICE_GEN" --format json --events $JSON_EVENTS --seed 12 \
	--stores 5 --skus 50 --users 300 --rate 1000 \
	--pcap "$T/json.pcap" --truth "$T/json.truth.json" --quiet || fail "sluice-gen json"

# No --exit-when-idle: sluiced stays up after the replay, as in production,
# and is stopped by cleanup.
run_sluiced p "-l 0-1" "net_pcap0,rx_pcap=$T/statsd.pcap,rx_pcap=$T/json.pcap" --window 2s
wait_socket p
wait_received p $((STATSD_EVENTS + JSON_EVENTS))

"$SLUICE_CTLD" --db "$T/p/db" --dataplane-socket "$T/p/ctl.sock" --listen 127.0.0.1:0 \
	2>"$T/ctld.log" &
CTLD_PID=$!
CTLD_PORT=
for _ in $(seq 1 100); do
	CTLD_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/ctld.log")
	[ -n "$CTLD_PORT" ] && break
	kill -0 "$CTLD_PID" 2>/dev/null || { cat "$T/ctld.log" >&2; fail "sluice-ctld exited"; }
	sleep 0.05
done
[ -n "$CTLD_PORT" ] || fail "sluice-ctld did not start listening"

python3 - "http://127.0.0.1:$CTLD_PORT/metrics" "$T/metrics.txt" <<'PY' || fail "GET /metrics"
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    assert r.status == 200, r.status
    open(sys.argv[2], "wb").write(r.read())
PY
"$PROMTOOL" check metrics <"$T/metrics.txt" || fail "promtool check metrics"

# A free loopback port for Prometheus (the tiny race with another process
# taking it in between is caught below: Prometheus then exits).
PROM_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/prom/data"
cat >"$T/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ['127.0.0.1:$CTLD_PORT']
EOF
"$PROMTOOL" check config "$T/prom/prometheus.yml" >/dev/null || fail "promtool check config"
"$PROMETHEUS" --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$T/prom/log" 2>&1 &
PROM_PID=$!

"$SLUICECTL" stats --socket "$T/p/ctl.sock" --json >"$T/stats.json" || fail "sluicectl stats"
python3 - "http://127.0.0.1:$PROM_PORT" "$PROM_PID" "$T/stats.json" "$T/metrics.txt" \
	"$T/statsd.truth.json" "$T/json.truth.json" "$SL_SRC" <<'PY' || { cat "$T/prom/log" >&2; fail "prometheus"; }
import json, os, sys, time, urllib.parse, urllib.request

url, pid = sys.argv[1], int(sys.argv[2])
stats = json.load(open(sys.argv[3]))
exposition = open(sys.argv[4]).read()
truths = [json.load(open(f)) for f in sys.argv[5:7]]
src = sys.argv[7]
sent = sum(t["events"] for t in truths)
deadline = time.time() + 30

def alive():
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False

def api(path):
    with urllib.request.urlopen(url + path, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]

def query(q):
    """Instant query: {labels without __name__: float value}."""
    res = api("/api/v1/query?" + urllib.parse.urlencode({"query": q}))["result"]
    return {tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__")):
            float(s["value"][1]) for s in res}

# 1. Prometheus answers and its target is up.
while True:
    assert alive(), "prometheus exited"
    try:
        targets = api("/api/v1/targets")["activeTargets"]
        if targets and all(t["health"] == "up" for t in targets):
            break
        why = [(t["health"], t["lastError"]) for t in targets]
    except (OSError, ValueError) as e:
        why = e
    assert time.time() < deadline, ("target not up", why)
    time.sleep(0.2)
assert len(targets) == 1 and targets[0]["labels"]["job"] == "sluice", targets

# 2. The received-events counter equals the events sent. sluiced received
# them all before the first scrape, so the first sample already holds them.
assert stats["received"] == sent, ("sluicectl stats received", stats["received"], sent)
while True:
    got = query("sluice_events_received_total")
    if got:
        break
    assert time.time() < deadline, "no sample of sluice_events_received_total"
    time.sleep(0.2)
assert len(got) == 1, got
(received,) = got.values()
assert received == sent, ("sluice_events_received_total", received, sent)
(aggregated,) = query("sluice_events_aggregated_total").values()
assert aggregated == stats["aggregated"], (aggregated, stats["aggregated"])

# 3. Drops by reason: one series per reason, equal to sluiced's; the JSON
# events that match no view are the nonzero one ("filtered").
drops = {dict(k)["reason"]: v for k, v in query("sluice_drops_total").items()}
assert drops == {r: float(n) for r, n in stats["drops"].items()}, (drops, stats["drops"])
assert drops.get("filtered", 0) > 0, drops
assert received == aggregated + sum(drops.values()), (received, aggregated, drops)
# rate() needs two scrapes; nothing new arrives, so it is 0.
while True:
    rate = query('sum(rate(sluice_drops_total{reason="filtered"}[1m]))')
    if rate:
        break
    assert time.time() < deadline, "rate() over sluice_drops_total never had two samples"
    time.sleep(0.2)
assert list(rate.values()) == [0.0], rate

# 4. Per view (the built-in retail views see the JSON events): matched
# equals the truth's events per view; every outcome of
# sluice_view_events_total and the overflow counter equal the view's counters
# in sluicectl stats.
views = {v["name"]: v for v in stats["views"]}
vtruth = {t["view"]: t for t in truths[1]["totals"]}
assert set(views) == set(vtruth), (sorted(views), sorted(vtruth))
matched = {dict(k)["view"]: v for k, v in query("sluice_view_matched_events_total").items()}
assert matched == {n: float(t["events"]) for n, t in vtruth.items()}, (matched, vtruth)
series = query("sluice_view_events_total")
for name in vtruth:
    mine = {dict(k)["outcome"]: v for k, v in series.items() if dict(k)["view"] == name}
    assert set(mine) == {"aggregated", "late", "dropped"}, (name, mine)
    for outcome, v in mine.items():
        assert v == views[name][outcome], (name, outcome, v, views[name][outcome])
    assert mine["aggregated"] == vtruth[name]["events"], (name, mine)
overflow = {dict(k)["view"]: v for k, v in query("sluice_view_overflow_events_total").items()}
assert overflow == {n: float(views[n]["overflow_events"]) for n in vtruth}, overflow
print("prometheus: received %d == sent %d; %d drop reasons; %d views" %
      (received, sent, len(drops), len(vtruth)))

# 5. docs/grafana-dashboard.json: every query is valid PromQL that Prometheus
# runs, and every sluice_* name it uses is exported by sluice-ctld (in this
# exposition, or declared in its sources when it only shows up under other
# conditions: views configured, requests refused).
import glob, re
dash = json.load(open(os.path.join(src, "docs/grafana-dashboard.json")))
assert dash["schemaVersion"] >= 36 and dash["__inputs"][0]["name"] == "DS_PROMETHEUS", dash.keys()
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
exprs = [t["expr"] for p in panels(dash["panels"]) for t in p.get("targets", [])]
exprs += [v["definition"] for v in dash["templating"]["list"] if v["type"] == "query"]
assert len(exprs) > 10, exprs
ctld_src = "".join(open(f).read() for f in glob.glob(os.path.join(src, "control/sluice-ctld/*.c")))
exported = set(re.findall(r"^(sluice_[a-z0-9_]+)", exposition, re.M))
unknown = set()
for e in exprs:
    m = re.fullmatch(r"label_values\((.*), *[a-z_]+\)", e)
    q = (m.group(1) if m else e).replace("$__rate_interval", "4s").replace("$job", ".*")
    q = q.replace("$instance", ".*")
    api("/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    for name in re.findall(r"\bsluice_[a-z0-9_]+", e):
        base = re.sub(r"_bucket$", "", name)
        if base not in exported and '"%s"' % base not in ctld_src:
            unknown.add(name)
assert not unknown, ("dashboard uses metrics sluice-ctld does not export", sorted(unknown))
print("dashboard: %d queries valid, every metric exported" % len(exprs))
PY

stop_pid "$PROM_PID"
PROM_PID=
stop_pid "$CTLD_PID"
CTLD_PID=
rm -rf "$T/prom"
echo "prometheus: ok"
