#!/usr/bin/env bash
# Access control.
# - sluiced's control socket (0660, SO_PEERCRED): a process of another uid and
#   gid that can open the socket file (through a supplementary group) is
#   refused by the peer check; the same process is let in once sluiced runs
#   with --ctl-group of that group; root is let in.
# - sluice-ctld: a mutating request without a token or with a wrong one gets
#   401 and changes nothing (the running configuration is the same after);
#   a body over 1 MiB gets 413; with --max-sse N the (N+1)th stream gets 503
#   while the first N keep working; every refusal is counted in /metrics.
set -u
. "$(dirname "$0")/lib.sh"

[ -x "$SLUICED" ] || { echo "sluiced not built"; exit 77; }
CTLD=$SL_BUILD/control/sluice-ctld
[ -x "$CTLD" ] || { echo "sluice-ctld not built"; exit 77; }
command -v setpriv >/dev/null || { echo "setpriv (util-linux) missing"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (to act as another user)"; exit 77; }
NOBODY=65534

cat >"$T/peer.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(f"connect: {e.strerror}")
    sys.exit(0)
try:
    s.sendall(b"ping\n")
except BrokenPipeError:
    pass  # refused: the reply is already in our buffer
buf = b""
while not buf.endswith(b"\n"):
    try:
        c = s.recv(4096)
    except ConnectionResetError:
        break
    if not c:
        break
    buf += c
print(buf.decode().strip() or "closed")
PY
chmod 755 "$T"
"$SLUICE_GEN" --format json --events 20000 --pcap "$T/a.pcap" --quiet || fail "sluice-gen"

# As uid/gid nobody with the socket's group (0) as a supplementary group: the file
# mode lets it connect, the peer check must not.
as_nobody() {
	setpriv --reuid=$NOBODY --regid=$NOBODY --groups=0 /usr/bin/python3 "$T/peer.py" "$1"
}
run_sluiced a "-l 0-1" "net_pcap0,rx_pcap=$T/a.pcap" --exit-when-idle 60
wait_socket a
chmod 755 "$T/a"
out=$(as_nobody "$T/a/ctl.sock")
[ "$out" = '{"error":"permission denied"}' ] || fail "another uid/gid was not refused: $out"
out=$(python3 "$T/peer.py" "$T/a/ctl.sock")
case "$out" in *'"ok":true'*) ;; *) fail "root was refused: $out" ;; esac
kill -TERM "$SLUICED_PID"
wait_exit a

# --ctl-group root: its members (here by a supplementary group) are let in.
run_sluiced b "-l 0-1" "net_pcap0,rx_pcap=$T/a.pcap" --exit-when-idle 60 --ctl-group root
wait_socket b
chmod 755 "$T/b"
out=$(as_nobody "$T/b/ctl.sock")
case "$out" in *'"ok":true'*) ;; *) fail "a member of --ctl-group was refused: $out" ;; esac
out=$(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups /usr/bin/python3 "$T/peer.py" "$T/b/ctl.sock")
case "$out" in "connect: Permission denied" | '{"error":"permission denied"}') ;;
	*) fail "a non-member was let in: $out" ;; esac

# sluice-ctld: token, body size, stream limit.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"
chmod 600 "$T/token"
"$CTLD" --db "$T/b/db" --dataplane-socket "$T/b/ctl.sock" --listen 127.0.0.1:0 \
	--token-file "$T/token" --max-sse 3 2>"$T/ctld.log" &
CTLD_PID=$!
trap 'kill "$CTLD_PID" 2>/dev/null; cleanup' EXIT
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/ctld.log")
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "$PORT" ] || fail "sluice-ctld did not start"
"$SLUICECTL" config default >"$T/new.yaml"
cat >>"$T/new.yaml" <<'EOF'
  - name: extra
    group_by: [store]
    window: {size: 10s}
    aggregates: [count]
EOF
python3 - "http://127.0.0.1:$PORT" "$(cat "$T/token")" "$T/new.yaml" <<'PY' || fail "sluice-ctld access control"
import http.client, json, sys, time, urllib.error, urllib.request
url, tok, new = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().encode()

def call(method, path, body=None, headers=None):
    r = urllib.request.Request(url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=10) as f:
            return f.status, f.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

before = call("GET", "/v1/config")
assert before[0] == 200, before
for hdr in ({}, {"Authorization": "Bearer wrong" + tok}, {"Authorization": "Basic " + tok}):
    st, body = call("PUT", "/v1/config", new, hdr)
    assert st == 401 and "error" in json.loads(body), (st, body)
assert call("GET", "/v1/config") == before, "a refused PUT changed the configuration"
st, body = call("PUT", "/v1/config", b"x" * ((1 << 20) + 1), {"Authorization": "Bearer " + tok})
assert st == 413, (st, body[:200])
assert call("GET", "/v1/config") == before

# Streams: 3 allowed, the 4th refused cleanly, the first 3 still alive.
conns = []
for i in range(3):
    c = http.client.HTTPConnection(url.split("//")[1], timeout=10)
    c.request("GET", "/v1/views/sales/stream?from=0")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream"), r.status
    conns.append((c, r))
st, body = call("GET", "/v1/views/sales/stream")
assert st == 503 and "error" in json.loads(body), (st, body)
for c, r in conns:
    line = r.fp.readline()
    assert line, "a stream died when another was refused"
    c.close()
time.sleep(0.5)
# With the 3 closed, a new stream is accepted again.
c = http.client.HTTPConnection(url.split("//")[1], timeout=10)
c.request("GET", "/v1/views/sales/stream?from=0")
assert c.getresponse().status == 200
c.close()

# A valid token applies (and GET shows it), so the refusals above were about access.
st, body = call("PUT", "/v1/config", new, {"Authorization": "Bearer " + tok})
assert st == 200 and json.loads(body)["ok"], (st, body)
assert b"name: extra" in call("GET", "/v1/config")[1]

prom = call("GET", "/metrics")[1].decode()
refused = {}
for line in prom.splitlines():
    if line.startswith("sluice_ctld_refused_total{"):
        reason = line.split('reason="', 1)[1].split('"', 1)[0]
        refused[reason] = int(float(line.rsplit(" ", 1)[1]))
assert refused["unauthorized"] == 3 and refused["body_too_large"] == 1 \
    and refused["sse_limit"] == 1, refused
print("access: ctld refusals counted:", refused)
PY
kill "$CTLD_PID"
wait "$CTLD_PID" 2>/dev/null
kill -TERM "$SLUICED_PID"
wait_exit b
echo "access: ok"
