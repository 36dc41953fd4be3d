#!/usr/bin/env bash
# sluice-ctld's views API against sluiced runs on one store, checked against
# sluice-gen's truth and against sluicectl (docs/api.md):
#  - three captures A, B, C (JSON events, out of order and late, five minutes
#    apart) replayed by three sluiced runs on the same --db;
#  - /v1/views and /v1/views/NAME (with from, to, step, where) equal
#    `sluicectl views|query --json` byte for byte and the truth (compare_views.py);
#  - streams: opened after A with ?from=0 (A's history, then B's windows live),
#    and one without a position (B's windows only); closed before C, reopened
#    with Last-Event-ID: together every complete window exactly once, in order,
#    with the rows of the truth;
#  - /live during B (its open windows, equal to the truth), GET and PUT
#    /v1/config (403 without --token-file, 401, 413, 400 with the line, 200, then
#    the new view shows), --max-sse, the static files and path traversal, and
#    the refusal counters in /metrics (promtool check metrics).
set -u
. "$(dirname "$0")/lib.sh"

SLUICE_CTLD=$SL_BUILD/control/sluice-ctld
COMPARE="$SL_SRC/tests/integration/compare_views.py"
[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
[ -x "$SLUICE_CTLD" ] || { echo "sluice-ctld not built (libmicrohttpd-dev missing)"; exit 77; }

CTLD_PIDS=()
SSE_PID=
stop_all() {
	[ -n "$SSE_PID" ] && kill "$SSE_PID" 2>/dev/null && wait "$SSE_PID" 2>/dev/null
	for p in "${CTLD_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
}
trap 'stop_all; cleanup' EXIT

# start_ctld NAME ARGS...: start sluice-ctld on a free port; sets PORT.
start_ctld() {
	local name=$1
	shift
	"$SLUICE_CTLD" --db "$T/v/db" --dataplane-socket "$T/v/ctl.sock" --listen 127.0.0.1:0 \
		"$@" 2>"$T/ctld-$name.log" &
	CTLD_PIDS+=($!)
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/ctld-$name.log")
		[ -n "$PORT" ] && return 0
		kill -0 "${CTLD_PIDS[-1]}" 2>/dev/null || { cat "$T/ctld-$name.log" >&2; fail "sluice-ctld $name exited"; }
		sleep 0.05
	done
	fail "sluice-ctld $name did not start listening"
}

# --- inputs ----------------------------------------------------------------------------
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
EOF
VIEWS="footfall sales popular sales_sliding"
START=1767225600
for run in A:0:3 B:300:4 C:600:5; do
	IFS=: read -r name off seed <<<"$run"
	"$SLUICE_GEN" --format json --events 30000 --rate 1000 --stores 8 --skus 100 --users 2000 \
		--seed "$seed" --start $((START + off)) --out-of-order 0.05 --late 0.01 --late-by 30s \
		--config "$T/views.yaml" --pcap "$T/$name.pcap" --truth "$T/$name.truth.json" --quiet ||
		fail "sluice-gen $name"
done

# Tokens: a good one, one others can read, an empty one.
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"
chmod 600 "$T/token"
TOKEN=$(cat "$T/token")
cp "$T/token" "$T/token.open"
chmod 644 "$T/token.open"
: >"$T/token.empty"
chmod 600 "$T/token.empty"
for bad in token.open token.empty; do
	rc=0
	"$SLUICE_CTLD" --db "$T/v/db" --listen 127.0.0.1:0 --token-file "$T/$bad" \
		2>"$T/$bad.log" || rc=$?
	[ "$rc" -eq 2 ] && grep -q "token-file" "$T/$bad.log" ||
		{ cat "$T/$bad.log" >&2; fail "sluice-ctld started with $bad (exit $rc)"; }
done
"$SLUICE_CTLD" --help >"$T/help.txt" || fail "sluice-ctld --help"
for opt in --db --dataplane-socket --listen --web-root --token-file --max-connections \
	--max-sse --help; do
	grep -q -- "$opt" "$T/help.txt" || fail "--help does not list $opt"
done

# A private dashboard: two files, a subfolder, a symlink out of it.
mkdir -p "$T/web/assets/vendor"
echo '<!doctype html><title>t</title>' >"$T/web/index.html"
echo 'console.log(1);' >"$T/web/assets/app.js"
echo 'body{}' >"$T/web/assets/vendor/x.css"
echo '<svg xmlns="http://www.w3.org/2000/svg"/>' >"$T/web/assets/logo.svg"
echo secret >"$T/secret.txt"
ln -s "$T/secret.txt" "$T/web/assets/link.js"

mkdir -p "$T/v"
start_ctld main
URL=http://127.0.0.1:$PORT
start_ctld tok --token-file "$T/token" --max-sse 1 --web-root "$T/web"
TURL=http://127.0.0.1:$PORT

start_ctld lim --max-connections 2 --max-sse 0
LURL=http://127.0.0.1:$PORT

# --- the HTTP helpers, the stream client and checker -----------------------------------
cat >"$T/h.py" <<'PY'
import json, urllib.request, urllib.error


def req(url, method="GET", body=None, headers=None, timeout=20):
    r = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def err(url, status, *args, **kw):
    st, hd, body = req(url, *args, **kw)
    assert st == status, (url, st, status, body[:300])
    j = json.loads(body)
    assert j["status"] == status and isinstance(j["error"], str), j
    return j["error"]


def prom(text):
    out = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out
PY

# sse.py URL OUT NAME=PATH[@LAST_EVENT_ID] ...: one thread per stream, every event
# appended to OUT as a JSON line, until killed.
cat >"$T/sse.py" <<'PY'
import json, sys, threading, urllib.request

url, out = sys.argv[1], sys.argv[2]
lock = threading.Lock()
f = open(out, "a")


def put(obj):
    with lock:
        f.write(json.dumps(obj) + "\n")
        f.flush()


def run(name, path, last):
    try:
        r = urllib.request.Request(url + path)
        if last:
            r.add_header("Last-Event-ID", last)
        resp = urllib.request.urlopen(r, timeout=60)
        assert resp.status == 200, resp.status
        assert resp.headers["Content-Type"] == "text/event-stream", resp.headers
        put({"stream": name, "connected": True})
        ev = {}
        for raw in resp:
            line = raw.decode().rstrip("\n")
            if line == "":
                if "data" in ev:
                    put({"stream": name, "id": ev.get("id"), "event": ev.get("event"),
                         "data": json.loads(ev["data"])})
                ev = {}
            elif line.startswith(":"):
                continue
            else:
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                ev[k] = ev["data"] + "\n" + v if k == "data" and "data" in ev else v
        put({"stream": name, "ended": True})
    except Exception as e:  # reported, and fails the checks
        put({"stream": name, "error": repr(e)})


for spec in sys.argv[3:]:
    name, path = spec.split("=", 1)
    path, _, last = path.partition("@")
    threading.Thread(target=run, args=(name, path, last), daemon=True).start()
threading.Event().wait()
PY

# ssechk.py: what the streams must have received.
#   connected OUT N                      wait until N streams are connected
#   wait|check OUT SPEC.json             wait for / check the SPEC
# SPEC: {"streams": {NAME: {"view": V, "truths": [...], "before": [...]}}, "compare": CMP}
# A stream must receive, in order and once, the windows of its view in its truths that
# are complete (start <= last slice + slide - size, the last slice being the truths'
# newest) and, for "before" truths, were not complete yet when it connected; windows
# holding only late rows may be missing (their late counts are written after the
# stream passed them). check also compares every event's rows with the truth.
cat >"$T/ssechk.py" <<'PY'
import importlib.util, json, subprocess, sys, time

spec_cv = importlib.util.spec_from_file_location("cv", sys.argv[-1])
cv = importlib.util.module_from_spec(spec_cv)
spec_cv.loader.exec_module(cv)
args = sys.argv[1:-1]


def lines(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.endswith("\n")]
    except FileNotFoundError:  # the client has not started yet
        return []


def windows(truths, view):
    rows = [r for t in truths for r in json.load(open(t))["views"] if r["view"] == view]
    if not rows:
        return {}, 0
    vd = [d for d in json.load(open(truths[0]))["view_defs"] if d["view"] == view][0]
    size, slide = vd["window_size_ns"], vd["window_slide_ns"]
    upto = max(r["window_end"] for r in rows) - 2 * size + slide
    by = {}
    for r in rows:
        if r["window_start"] <= upto:
            by.setdefault(r["window_start"], []).append(r)
    return by, upto


def expect(s):
    by, upto = windows(s["truths"], s["view"])
    if s.get("before"):
        _, b_upto = windows(s["before"], s["view"])
        by = {w: rs for w, rs in by.items() if w > b_upto}
    need = {w for w, rs in by.items() if not all(cv.only_late(r) for r in rs)}
    return by, need


def state(out, spec):
    evs = [e for e in lines(out) if "data" in e or "error" in e or "ended" in e]
    got, bad = {}, []
    for e in evs:
        if "data" not in e:
            bad.append(f"stream {e['stream']}: {e}")
            continue
        got.setdefault(e["stream"], []).append(e)
    return got, bad


def missing(out, spec):
    got, bad = state(out, spec)
    miss = {}
    for name, s in spec["streams"].items():
        _, need = expect(s)
        have = {int(e["id"]) for e in got.get(name, [])}
        if need - have:
            miss[name] = sorted(need - have)
    return miss, bad


cmd, out = args[0], args[1]
if cmd == "connected":
    n = int(args[2])
    deadline = time.time() + 20
    while time.time() < deadline:
        ls = lines(out)
        if sum(1 for e in ls if e.get("connected")) >= n:
            sys.exit(0)
        if any("error" in e for e in ls):
            break
        time.sleep(0.05)
    print("streams did not connect:", lines(out), file=sys.stderr)
    sys.exit(1)

spec = json.load(open(args[2]))
if cmd == "wait":
    deadline = time.time() + float(spec.get("timeout", 20))
    while True:
        miss, bad = missing(out, spec)
        if bad:
            print("stream errors:", bad, file=sys.stderr)
            sys.exit(1)
        if not miss:
            sys.exit(0)
        if time.time() > deadline:
            print("windows never received:", miss, file=sys.stderr)
            sys.exit(1)
        time.sleep(0.1)

# check: every stream got its windows once, in order, with the truth's rows.
errors = []
allgot = {}
for o in out.split(","):
    got, bad = state(o, spec)
    errors += bad
    for name, evs in got.items():
        allgot.setdefault(name, []).extend(evs)
rows = {}
for name, s in spec["streams"].items():
    by, need = expect(s)
    evs = allgot.get(name, [])
    ids = [int(e["id"]) for e in evs]
    if ids != sorted(set(ids)):
        errors.append(f"{name}: windows not once and in order: {ids}")
    if not need <= set(ids) <= set(by):
        errors.append(f"{name}: missing {sorted(need - set(ids))}, "
                      f"unexpected {sorted(set(ids) - set(by))}")
    for e in evs:
        d = e["data"]
        if e["event"] != "window" or d["view"] != s["view"] or d["window_start"] != int(e["id"]):
            errors.append(f"{name}: bad event {e['event']} {e['id']} {str(d)[:200]}")
        for r in d["rows"]:
            if (r["view"], r["window_start"], r["window_end"]) != \
                    (d["view"], d["window_start"], d["window_end"]):
                errors.append(f"{name}: row of another window in {e['id']}: {r}")
        rows.setdefault(s["view"], {})[d["window_start"]] = d["rows"]
    # The truth of the windows received, for compare_views.py.
    truth = json.load(open(s["truths"][0]))
    truth["views"] = [r for rs in by.values() for r in rs if r["window_start"] in set(ids)]
    json.dump(truth, open(f"{o}.{name}.truth.json", "w"))
    json.dump([r for w in sorted(rows.get(s["view"], {})) for r in rows[s["view"]][w]],
              open(f"{o}.{name}.rows.json", "w"))
    cmp = subprocess.run([sys.executable, sys.argv[-1], "--ignore-late", "--views", s["view"],
                          f"{o}.{name}.truth.json", f"{o}.{name}.rows.json"],
                         capture_output=True, text=True)
    if cmp.returncode != 0:
        errors.append(f"{name}: rows differ from the truth:\n{cmp.stdout}{cmp.stderr}")
    print(f"ssechk: {name}: {len(ids)} windows once and in order "
          f"({len(need)} required, {len(by)} possible)")
if errors:
    print("\n".join(errors[:20]), file=sys.stderr)
    sys.exit(1)
json.dump(rows, open(spec["rows_out"], "w"))
PY

# --- before sluiced: no store, no dataplane --------------------------------------------
python3 - "$T" "$URL" "$TURL" "$TOKEN" "$LURL" <<'PY' || fail "before sluiced"
import sys
sys.path.insert(0, sys.argv[1])
from h import req, err
T, url, turl, tok = sys.argv[1:5]
auth = {"Authorization": "Bearer " + tok}
assert "cannot open store" in err(url + "/v1/views", 503)
err(url + "/v1/views/sales", 503)
err(url + "/v1/views/sales/stream", 503)
assert "dataplane unreachable" in err(url + "/v1/views/sales/live", 503)
err(url + "/v1/config", 503)
# Local validation comes first: a broken configuration is a 400 even now.
bad = b"version: 1\nviews:\n  - name: x\n    agregates: [count]\n"
e = err(turl + "/v1/config", 400, "PUT", bad, auth)
assert e.startswith("<request>:4:") and "agregates" in e, e
err(turl + "/v1/config", 503, "PUT", open(T + "/views.yaml", "rb").read(), auth)
err(url + "/v1/config", 403, "PUT", bad, auth)
err(url + "/v1/views/sales/nope", 404)
err(url + "/v1/views/NOT-a-name", 404)
err(url + "/v1/views", 405, "POST", b"x")

# --max-connections 2: a third connection gets a 503 (and is closed), until one leaves.
import http.client, time
lurl = sys.argv[5]
host = lurl[len("http://"):]
conns = []
for _ in range(2):
    c = http.client.HTTPConnection(host, timeout=10)
    c.request("GET", "/nope")
    r = c.getresponse()
    r.read()
    assert r.status == 404, r.status
    conns.append(c)
assert "--max-connections" in err(lurl + "/nope", 503)
# --max-sse 0: no stream at all.
conns.pop().close()
for _ in range(50):
    st, hd, body = req(lurl + "/v1/views/sales/stream")
    if b"max-connections" not in body:
        break
    time.sleep(0.1)
assert st == 503 and b"max-sse" in body, (st, body)
for c in conns:
    c.close()
PY

# --- run A: its store through the API equals sluicectl and the truth -------------------
run_sluiced v "-l 0-1" "net_pcap0,rx_pcap=$T/A.pcap" --config "$T/views.yaml" --exit-when-idle 2
wait_socket v
wait_received v 30000
wait_exit v
grep -q "views: committed .* 0 commit errors" "$T/v/log" || { cat "$T/v/log" >&2; fail "A: commits failed"; }

"$SLUICECTL" views --db "$T/v/db" --json >"$T/cli.views.json" || fail "sluicectl views"
Q=(--db "$T/v/db" --json)
for v in $VIEWS; do
	"$SLUICECTL" query "$v" "${Q[@]}" --from 0 --to 4000000000 >"$T/cli.$v.json" || fail "query $v"
done
"$SLUICECTL" query sales "${Q[@]}" --from 2026-01-01T00:00:00Z --to 1767225630 --step 1m \
	>"$T/cli.step.json" || fail "query --step 1m"
"$SLUICECTL" query sales_sliding "${Q[@]}" --from 0 --to 4000000000 --step all \
	--where event=purchase --where store=s02 >"$T/cli.all.json" || fail "query --step all"
"$SLUICECTL" query sales "${Q[@]}" >"$T/cli.default.json" || fail "query (default range)"
python3 - "$T" "$URL" "$VIEWS" <<'PY' || fail "A: the API differs from sluicectl"
import json, sys
sys.path.insert(0, sys.argv[1])
from h import req, err
T, url, views = sys.argv[1], sys.argv[2], sys.argv[3].split()
def same(path, file):
    st, hd, body = req(url + path)
    want = open(f"{T}/{file}", "rb").read()
    assert st == 200 and hd["Content-Type"] == "application/json", (path, st, body[:200])
    assert body == want, (path, "differs from sluicectl", len(body), len(want))
    return json.loads(body)
assert len(same("/v1/views", "cli.views.json")) == 4
for v in views:
    assert len(same(f"/v1/views/{v}?from=0&to=4000000000", f"cli.{v}.json")) > 0
    open(f"{T}/api.{v}.json", "wb").write(req(url + f"/v1/views/{v}?from=0&to=4000000000")[2])
assert same("/v1/views/sales?from=2026-01-01T00:00:00Z&to=1767225630&step=1m", "cli.step.json")
assert same("/v1/views/sales_sliding?from=0&to=4000000000&step=all&where=event%3Dpurchase"
            "&where=store=s02", "cli.all.json")
same("/v1/views/sales", "cli.default.json")
e = err(url + "/v1/views/nope", 404)
assert "sales_sliding" in e, e
assert "not a multiple" in err(url + "/v1/views/sales?step=7s", 400)
assert "not a dimension" in err(url + "/v1/views/sales?where=sku=A-1", 400)
err(url + "/v1/views/sales?where=store", 400)
err(url + "/v1/views/sales?from=yesterday", 400)
err(url + "/v1/views/sales?form=0", 400)
err(url + "/v1/views/sales?from=now&to=-1h", 400)
err(url + "/v1/views/sales/stream?last_event_id=abc", 400)
PY
python3 "$COMPARE" "$T/A.truth.json" "$T"/api.*.json || fail "A: /v1/views/NAME differs from the truth"

# --- streams: A's history and B live ----------------------------------------------------
STREAMS=()
for v in $VIEWS; do STREAMS+=("$v=/v1/views/$v/stream?from=0"); done
STREAMS+=("now=/v1/views/sales/stream")
python3 "$T/sse.py" "$URL" "$T/sse1.jsonl" "${STREAMS[@]}" &
SSE_PID=$!
python3 "$T/ssechk.py" connected "$T/sse1.jsonl" 5 "$COMPARE" || fail "streams did not open"
spec() { # spec FILE TRUTHS: the four ?from=0 streams, plus "now" after A
	python3 - "$T" "$1" "$2" "$VIEWS" <<'PY'
import json, sys
T, out, truths, views = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split()
s = {v: {"view": v, "truths": [f"{T}/{t}.truth.json" for t in truths]} for v in views}
if "B" in truths:
    s["now"] = {"view": "sales", "truths": [f"{T}/{t}.truth.json" for t in truths if t != "A"],
                "before": [f"{T}/A.truth.json"]}
json.dump({"streams": s, "timeout": 20, "rows_out": f"{T}/sse.rows.json"}, open(out, "w"))
PY
}
spec "$T/spec.A.json" A
python3 "$T/ssechk.py" wait "$T/sse1.jsonl" "$T/spec.A.json" "$COMPARE" || fail "A's windows not streamed"

# --idle-flush 5s: B's last slices stay open long enough for live.
run_sluiced v "-l 0-1" "net_pcap0,rx_pcap=$T/B.pcap" --config "$T/views.yaml" --exit-when-idle 10 \
	--idle-flush 5s
wait_socket v
wait_received v 30000
# While B's last windows are open: live, config, limits, static files, metrics.
python3 - "$T" "$URL" "$TURL" "$TOKEN" <<'PY' || fail "while B runs"
import json, sys, time, urllib.request
sys.path.insert(0, sys.argv[1])
from h import req, err, prom
T, url, turl, tok = sys.argv[1:5]
auth = {"Authorization": "Bearer " + tok}

# live: the open windows of B, rows as query's
st, hd, body = req(url + "/v1/views/sales/live")
assert st == 200 and hd["Content-Type"] == "application/json", (st, body[:200])
live = json.loads(body)
assert live, "no open window while B runs"
for r in live:
    assert list(r) == ["view", "window_start", "window_end", "group", "values", "late"], r
json.dump(live, open(T + "/live.json", "w"))
truth = json.load(open(T + "/B.truth.json"))
open_w = {r["window_start"] for r in live}
truth["views"] = [r for r in truth["views"] if r["view"] == "sales" and r["window_start"] in open_w]
json.dump(truth, open(T + "/live.truth.json", "w"))
assert "unknown view" in err(url + "/v1/views/nope/live", 404)

# GET /v1/config: the running YAML
st, hd, body = req(url + "/v1/config")
assert st == 200 and hd["Content-Type"].startswith("text/yaml"), (st, hd)
assert b"name: sales_sliding" in body, body[:300]
# PUT /v1/config: 403 without a token file, 401, 413, 400, then 200
yaml = open(T + "/views.yaml", "rb").read()
new = yaml + b"""  - name: extra
    group_by: [store]
    window: {size: 10s}
    allowed_lateness: 30s
    aggregates: [count]
"""
err(url + "/v1/config", 403, "PUT", new, auth)
assert err(turl + "/v1/config", 401, "PUT", new) == "missing bearer token"
err(turl + "/v1/config", 401, "PUT", new, {"Authorization": "Bearer x" + tok})
err(turl + "/v1/config", 401, "PUT", new, {"Authorization": "Basic " + tok})
err(turl + "/v1/config", 413, "PUT", b"#" * (1024 * 1024 + 1), auth)
broken = new.replace(b"aggregates: [count]\n", b"aggregates: [count, \"nope(x)\"]\n")
e = err(turl + "/v1/config", 400, "PUT", broken, auth)
line = yaml.count(b"\n") + 5
assert e.startswith(f"<request>:{line}:"), (e, line)
st, hd, body = req(turl + "/v1/config", "PUT", new, auth)
assert st == 200, (st, body)
reply = json.loads(body)
assert reply["ok"] is True and reply["added"] == ["extra"] and reply["removed"] == [], reply
assert "sales" in reply["kept"], reply
st, hd, body = req(url + "/v1/config")
assert st == 200 and b"name: extra" in body, body[-400:]
assert any(v["view"] == "extra" for v in json.loads(req(url + "/v1/views")[2]))
# Valid YAML that sluiced cannot run (more open slices than a view has slots): 409.
slots = new.replace(b"window: {size: 10s}\n    allowed_lateness: 30s\n    aggregates: [count]",
                    b"window: {size: 1s}\n    allowed_lateness: 5m\n    aggregates: [count]")
assert slots != new
e = err(turl + "/v1/config", 409, "PUT", slots, auth)
assert "extra" in e, e

# --max-sse 1: the second stream is refused; the slot comes back when the first leaves.
first = urllib.request.urlopen(turl + "/v1/views/sales/stream", timeout=10)
assert first.status == 200
assert "too many streams" in err(turl + "/v1/views/popular/stream", 503)
first.close()
for _ in range(50):
    try:
        s2 = urllib.request.urlopen(turl + "/v1/views/popular/stream", timeout=10)
        s2.close()
        break
    except urllib.error.HTTPError as e:
        assert e.code == 503
        time.sleep(0.1)
else:
    raise AssertionError("the stream slot was not freed")

# Static files, and nothing outside the web root.
for path, ct in (("/", "text/html"), ("/index.html", "text/html"),
                 ("/assets/app.js", "text/javascript"), ("/assets/vendor/x.css", "text/css"),
                 ("/assets/logo.svg", "image/svg+xml")):
    st, hd, body = req(turl + path)
    assert st == 200 and hd["Content-Type"].startswith(ct), (path, st, hd["Content-Type"])
for path in ("/assets/../index.html", "/assets/%2e%2e/%2e%2e/secret.txt", "/assets/..%2fsecret.txt",
             "/assets/vendor/../app.js", "/assets/vendor", "/assets/", "/assets/.x",
             "/assets/link.js", "/assets//app.js", "/../secret.txt", "/assets/%00.js"):
    st, hd, body = req(turl + path)
    assert st in (400, 404) and b"secret" not in body, (path, st, body[:100])
PY
python3 "$COMPARE" --views sales "$T/live.truth.json" "$T/live.json" ||
	fail "/live rows differ from the truth"

# /metrics while B runs: per-view counters equal the stats; promtool accepts it.
python3 - "$T" "$URL" <<'PY' || fail "metrics while B runs"
import json, sys
sys.path.insert(0, sys.argv[1])
from h import req, prom
T, url = sys.argv[1:3]
# The stats first: the poll counters only grow (the view counters hold still now).
s = json.loads(req(url + "/v1/stats")[2])
st, hd, body = req(url + "/metrics")
assert st == 200, st
open(T + "/metrics.txt", "wb").write(body)
m = prom(body)
assert s["views"], s
for v in s["views"]:
    n = v["name"]
    for o in ("aggregated", "late", "dropped"):
        assert m[f'sluice_view_events_total{{view="{n}",outcome="{o}"}}'] == v[o], (n, o)
    assert m[f'sluice_view_matched_events_total{{view="{n}"}}'] == v["matched"]
    assert f'sluice_view_late_unattributed_total{{view="{n}"}}' in m
    assert f'sluice_view_overflow_events_total{{view="{n}"}}' in m
    if n != "extra":
        assert f'sluice_view_last_slice_timestamp_seconds{{view="{n}"}}' in m, n
assert m["sluice_view_slices_committed_total"] > 0
for c in s["cores"]:
    if "polls" in c:
        busy = m[f'sluice_core_polls_total{{lcore="{c["lcore"]}",result="busy"}}']
        empty = m[f'sluice_core_polls_total{{lcore="{c["lcore"]}",result="empty"}}']
        assert busy > 0 and empty >= 0 and busy + empty >= c["polls"], (busy, empty, c)
assert m["sluice_ctld_streams"] == 5, m["sluice_ctld_streams"]
assert m['sluice_ctld_refused_total{reason="store_unavailable"}'] >= 3
PY
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$T/metrics.txt" || fail "promtool check metrics"
fi
wait_exit v

# Everything of A and B streamed; then the client leaves, C is committed meanwhile.
spec "$T/spec.B.json" A,B
python3 "$T/ssechk.py" wait "$T/sse1.jsonl" "$T/spec.B.json" "$COMPARE" || fail "B's windows not streamed"
sleep 0.5 # a duplicate would show up by now
kill "$SSE_PID"
wait "$SSE_PID" 2>/dev/null
SSE_PID=

run_sluiced v "-l 0-1" "net_pcap0,rx_pcap=$T/C.pcap" --config "$T/views.yaml" --exit-when-idle 2
wait_socket v
wait_received v 30000
wait_exit v

# Reconnect with the last id seen: header for three, the query parameter for one.
STREAMS=()
for v in $VIEWS; do
	last=$(python3 -c '
import json, sys
ids = [int(e["id"]) for e in map(json.loads, open(sys.argv[1])) if e.get("stream") == sys.argv[2] and "id" in e]
print(max(ids))' "$T/sse1.jsonl" "$v") || fail "no event of $v before C"
	if [ "$v" = popular ]; then
		STREAMS+=("$v=/v1/views/$v/stream?last_event_id=$last")
	else
		STREAMS+=("$v=/v1/views/$v/stream@$last")
	fi
done
python3 "$T/sse.py" "$URL" "$T/sse2.jsonl" "${STREAMS[@]}" &
SSE_PID=$!
spec "$T/spec.C.json" A,B,C
python3 - "$T/spec.C.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
del s["streams"]["now"]  # closed for good before C
json.dump(s, open(sys.argv[1], "w"))
PY
cat "$T/sse1.jsonl" >"$T/sse.all.jsonl"
python3 "$T/ssechk.py" connected "$T/sse2.jsonl" 4 "$COMPARE" || fail "streams did not reopen"
# Wait on both sessions together: the first holds A and B, the second the rest.
for _ in $(seq 1 200); do
	cat "$T/sse1.jsonl" "$T/sse2.jsonl" >"$T/sse.all.jsonl"
	python3 "$T/ssechk.py" wait "$T/sse.all.jsonl" "$T/spec.C.json" "$COMPARE" 2>/dev/null && break
	sleep 0.1
done
sleep 0.5
kill "$SSE_PID"
wait "$SSE_PID" 2>/dev/null
SSE_PID=
python3 "$T/ssechk.py" check "$T/sse1.jsonl,$T/sse2.jsonl" "$T/spec.C.json" "$COMPARE" ||
	fail "the streams differ from the truth"
python3 - "$T/sse2.jsonl" "$T/sse1.jsonl" <<'PY' || fail "the reconnection resent windows"
import json, sys
second = [json.loads(l) for l in open(sys.argv[1])]
first = [json.loads(l) for l in open(sys.argv[2])]
for name in {e["stream"] for e in second}:
    a = {e["id"] for e in first if e.get("stream") == name and "id" in e}
    b = {e["id"] for e in second if e.get("stream") == name and "id" in e}
    assert b and not a & b, (name, sorted(a & b))
PY
# The "now" stream saw B's windows and none of A's.
python3 - "$T/sse1.jsonl" "$T/A.truth.json" <<'PY' || fail "the stream without a position"
import json, sys
now = [int(e["id"]) for e in map(json.loads, open(sys.argv[1])) if e.get("stream") == "now" and "id" in e]
a = {r["window_start"] for r in json.load(open(sys.argv[2]))["views"] if r["view"] == "sales"}
assert now and not set(now) & a, (now, sorted(a))
PY

# The streamed rows are the stored ones (late counts aside: amended after they were sent).
python3 - "$T" "$URL" "$VIEWS" <<'PY' || fail "streamed rows differ from /v1/views/NAME"
import json, sys
sys.path.insert(0, sys.argv[1])
from h import req
T, url, views = sys.argv[1], sys.argv[2], sys.argv[3].split()
streamed = json.load(open(T + "/sse.rows.json"))
def only_late(r):  # as compare_views.py: late events and no value
    return r["late"] > 0 and all(v in (0, None, [], {}) for k, v in r["values"].items()
                                 if not k.endswith("_error"))
strip = lambda rows: sorted(json.dumps({k: v for k, v in r.items() if k != "late"}, sort_keys=True)
                            for r in rows if not only_late(r))
for v in views:
    stored = json.loads(req(url + f"/v1/views/{v}?from=0&to=4000000000")[2])
    for w, rows in streamed[v].items():
        want = [r for r in stored if r["window_start"] == int(w)]
        assert strip(rows) == strip(want), (v, w, len(rows), len(want))
PY

# Refusals counted by reason, and promtool accepts both expositions.
python3 - "$T" "$URL" "$TURL" <<'PY' || fail "refusal counters"
import sys
sys.path.insert(0, sys.argv[1])
from h import req, prom
T, url, turl = sys.argv[1:4]
for u, name, want in ((url, "main", {"forbidden": 2, "not_found": 4, "bad_request": 7,
                                     "method_not_allowed": 1, "store_unavailable": 3,
                                     "dataplane_unavailable": 2}),
                      (turl, "tok", {"unauthorized": 3, "body_too_large": 1, "bad_request": 2,
                                     "sse_limit": 1, "not_found": 11,
                                     "dataplane_unavailable": 1})):
    st, hd, body = req(u + "/metrics")
    open(f"{T}/metrics.{name}.txt", "wb").write(body)
    m = prom(body)
    for reason, n in want.items():
        got = m[f'sluice_ctld_refused_total{{reason="{reason}"}}']
        assert got >= n, (name, reason, got, n)
    assert m["sluice_ctld_requests_total"] > sum(want.values())
    assert m["sluice_dataplane_up"] == 0
PY
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$T/metrics.main.txt" || fail "promtool (main)"
	promtool check metrics <"$T/metrics.tok.txt" || fail "promtool (tok)"
else
	echo "promtool not installed: expositions not checked by it"
fi
echo "ctld_views: ok"
