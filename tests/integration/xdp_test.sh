#!/usr/bin/env bash
# AF_XDP end to end, on a veth pair between two network namespaces:
#   ns A: xa 10.77.0.1 fd77::1  <- sluiced, net_af_xdp with sluice's XDP program
#   ns B: xb 10.77.0.2 fd77::2 (+ .3 .4, ::3)  <- sluice-gen --udp, ping, TCP, UDP
# Event datagrams reach sluiced, everything else the kernel of ns A (ping, a TCP
# connection and UDP to another port keep working); denied and not-allowed
# sources are dropped and counted at XDP; aggregates equal the ground truth;
# sluiced's received + XDP drops == sent. Both namespaces, the bpffs holding
# the pins and the processes go away on exit, whatever happens.
# Needs root; exits 77 (skip) with the reason when the machine cannot do it.
set -u
. "$(dirname "$0")/lib.sh"

skip() {
	echo "SKIP: $*"
	exit 77
}

SL_XDP_OBJ=${SL_XDP_OBJ:-$SL_BUILD/ebpf/sl_xdp.bpf.o}
[ -x "$SLUICED" ] || skip "sluiced not built"
[ -f "$SL_XDP_OBJ" ] || skip "sl_xdp.bpf.o not built (meson -Debpf=enabled)"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, BPF, AF_XDP)"
for c in ip python3 ping mount; do
	command -v "$c" >/dev/null || skip "$c not installed"
done
python3 -c 'import socket; socket.socket(44, socket.SOCK_RAW).close()' 2>/dev/null ||
	skip "no AF_XDP sockets in this kernel"
BPFTOOL=$(command -v bpftool || echo /usr/sbin/bpftool)
if [ -x "$BPFTOOL" ] && ! "$BPFTOOL" prog show >/dev/null 2>&1; then
	skip "bpf() is not permitted here"
fi

NSA="slxdp-$$-a"
NSB="slxdp-$$-b"
PINS=$T/bpf
SERVER_PIDS=()
xdp_cleanup() {
	for p in "${SERVER_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$SLUICED_PID" ] && kill -0 "$SLUICED_PID" 2>/dev/null; then
		kill -TERM "$SLUICED_PID" 2>/dev/null
		wait "$SLUICED_PID" 2>/dev/null
	fi
	SLUICED_PID=
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	mountpoint -q "$PINS" 2>/dev/null && umount "$PINS"
	cleanup
}
trap xdp_cleanup EXIT

# Foreground only: a backgrounded shell function would be a subshell, and $!
# its pid; background processes run as `ip netns exec` (which execs them).
A() { ip netns exec "$NSA" "$@"; }
B() { ip netns exec "$NSB" "$@"; }
CTL() { A "$SLUICECTL" "$@" --pin-dir "$PINS/sluice"; }

# ---- network ----
ip netns add "$NSA" 2>/dev/null || skip "cannot create network namespaces"
ip netns add "$NSB" || fail "ip netns add $NSB"
ip link add xa netns "$NSA" type veth peer name xb netns "$NSB" || fail "veth pair"
A ip addr add 10.77.0.1/24 dev xa
A ip addr add fd77::1/64 dev xa nodad
B ip addr add 10.77.0.2/24 dev xb
B ip addr add 10.77.0.3/24 dev xb
B ip addr add 10.77.0.4/24 dev xb
B ip addr add fd77::2/64 dev xb nodad
B ip addr add fd77::3/64 dev xb nodad
for ns in "$NSA" "$NSB"; do
	ip -n "$ns" link set lo up
done
A ip link set xa up
B ip link set xb up
mkdir -p "$PINS"
mount -t bpf bpf "$PINS" 2>/dev/null || skip "cannot mount a bpf filesystem"

# ---- sluiced on xa ----
mkdir -p "$T/a"
ip netns exec "$NSA" "$SLUICED" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$PREFIX" \
	--vdev "net_af_xdp0,iface=xa,xdp_prog=$SL_XDP_OBJ" --log-level=sluice.*:info -- \
	--db "$T/a/db" --ctl-socket "$T/a/ctl.sock" --idle-sleep 100 --window 10s \
	--xdp-pin-dir "$PINS/sluice" >"$T/a/log" 2>&1 &
SLUICED_PID=$!
for _ in $(seq 1 100); do
	"$SLUICECTL" stats --socket "$T/a/ctl.sock" --json >/dev/null 2>&1 && break
	if ! kill -0 "$SLUICED_PID" 2>/dev/null; then
		grep -qE "failed to parse device|Driver cannot attach" "$T/a/log" &&
			skip "DPDK has no net_af_xdp PMD"
		cat "$T/a/log" >&2
		fail "sluiced exited early"
	fi
	sleep 0.1
done
grep -q "XDP sends UDP port(s) 8125,8127,8128 to sluiced, maps pinned" "$T/a/log" ||
	{ cat "$T/a/log" >&2; fail "sluiced did not set up its XDP program"; }
A ip link show dev xa | grep -q "prog/xdp" || fail "no XDP program on xa"
for m in prog xsks_map sl_xdp_stats sl_xdp_ports sl_xdp_deny4 sl_xdp_allow6 sl_xdp_conf; do
	[ -e "$PINS/sluice/xa/$m" ] || fail "$m not pinned"
done
CTL xdp deny add 10.77.0.3 fd77::3/128 || fail "xdp deny add"

# ---- kernel-side services in ns A: TCP (HTTP) and UDP on port 9999 ----
mkdir -p "$T/www"
echo "sluice-xdp-ok" >"$T/www/index.txt"
ip netns exec "$NSA" python3 -m http.server 8080 --bind 10.77.0.1 --directory "$T/www" >/dev/null 2>&1 &
SERVER_PIDS+=($!)
ip netns exec "$NSA" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.0.1", 9999))
n = 0
while True:
    s.recv(2048)
    n += 1
    open(sys.argv[1], "w").write(str(n))
' "$T/udp9999.count" &
SERVER_PIDS+=($!)

# ---- traffic from ns B ----
# Ping first: it also resolves ARP/ND before the bursts.
B ping -c 3 -i 0.2 -W 2 10.77.0.1 >"$T/ping4" 2>&1 || { cat "$T/ping4" >&2; fail "IPv4 ping"; }
B ping -6 -c 3 -i 0.2 -W 2 fd77::1 >"$T/ping6" 2>&1 || { cat "$T/ping6" >&2; fail "IPv6 ping"; }
body=
for _ in $(seq 1 50); do
	body=$(B python3 -c 'import urllib.request; print(urllib.request.urlopen("http://10.77.0.1:8080/index.txt", timeout=2).read().decode().strip())' 2>/dev/null) && break
	sleep 0.1
done
[ "$body" = "sluice-xdp-ok" ] || fail "TCP connection through XDP: got '$body'"

EVENTS=3000
B "$SLUICE_GEN" --udp 10.77.0.1:8125 --events $EVENTS --lines-per-datagram 5 --seed 3 \
	--stores 6 --skus 40 --users 300 --rate 20000 --truth "$T/truth.json" --truth-window all \
	--quiet || fail "sluice-gen --udp"

# send.py SRC DST PORT N NAME: N one-line datagrams "NAME:1|c" from SRC.
cat >"$T/send.py" <<'PY'
import socket, sys, time
src, dst, port, n, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((src, 0))
for i in range(n):
    s.sendto(("%s:1|c" % name).encode(), (dst, port))
    if i % 10 == 9:
        time.sleep(0.002)
PY
V6=50 D4=40 D6=30 U=20 NA=25 AL=10
B python3 "$T/send.py" fd77::2 fd77::1 8125 $V6 xdp.v6 || fail "IPv6 sender"
B python3 "$T/send.py" 10.77.0.3 10.77.0.1 8125 $D4 xdp.denied || fail "denied IPv4 sender"
B python3 "$T/send.py" fd77::3 fd77::1 8125 $D6 xdp.denied || fail "denied IPv6 sender"
B python3 "$T/send.py" 10.77.0.2 10.77.0.1 9999 $U other.port || fail "UDP 9999 sender"
CTL xdp allow add 10.77.0.2 fd77::2 || fail "xdp allow add"
CTL xdp allow on || fail "xdp allow on"
B python3 "$T/send.py" 10.77.0.4 10.77.0.1 8125 $NA xdp.not_allowed || fail "not-allowed sender"
B python3 "$T/send.py" 10.77.0.2 10.77.0.1 8125 $AL xdp.allowed || fail "allowed sender"
CTL xdp allow off || fail "xdp allow off"

GEN_DGRAMS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["datagrams"])' "$T/truth.json")
wait_received a $((EVENTS + V6 + AL))
for _ in $(seq 1 50); do
	[ "$(cat "$T/udp9999.count" 2>/dev/null)" = "$U" ] && break
	sleep 0.1
done
[ "$(cat "$T/udp9999.count" 2>/dev/null)" = "$U" ] ||
	fail "UDP to port 9999: the kernel socket got $(cat "$T/udp9999.count" 2>/dev/null) of $U"

CTL --json xdp stats >"$T/xdp.json" || fail "sluicectl xdp stats"
CTL --json xdp deny list >"$T/deny.json" || fail "sluicectl xdp deny list"
"$SLUICECTL" --json stats --socket "$T/a/ctl.sock" >"$T/a/stats.json" || fail "sluicectl stats"
python3 - "$T/xdp.json" "$T/deny.json" "$T/a/stats.json" $EVENTS "$GEN_DGRAMS" \
	$V6 $D4 $D6 $U $NA $AL <<'PY' || fail "XDP counters or accounting"
import json, sys
x, deny, st = (json.load(open(f)) for f in sys.argv[1:4])
events, gen_dgrams, v6, d4, d6, u, na, al = map(int, sys.argv[4:12])
c = {k: v["packets"] for k, v in x["counters"].items()}
err = []
def want(what, got, exp):
    if got != exp:
        err.append(f"{what}: {got}, expected {exp}")
sent_events = events + v6 + al + d4 + d6 + na
sent_dgrams = gen_dgrams + v6 + al + d4 + d6 + na
want("ports", x["ports"], [8125, 8127, 8128])
want("redirect", c["redirect"], gen_dgrams + v6 + al)
want("deny", c["deny"], d4 + d6)
want("not_allowed", c["not_allowed"], na)
want("no_socket", c["no_socket"], 0)
want("dropped", x["dropped"], d4 + d6 + na)
if c["other_port"] < u:
    err.append(f"other_port {c['other_port']} < {u}")
if c["not_udp"] < 6 + 4:   # 6 echo requests, a TCP handshake and request at least
    err.append(f"not_udp {c['not_udp']}: pings and TCP not seen")
want("sluiced packets", st["packets"]["received"], c["redirect"])
want("received + XDP drops", st["received"] + x["dropped"], sent_events)
want("packets + XDP drops", st["packets"]["received"] + x["dropped"], sent_dgrams)
want("aggregated", st["aggregated"], events + v6 + al)
want("received == aggregated + drops", st["received"], st["aggregated"] + sum(st["drops"].values()))
hits = {e["prefix"]: e["hits"] for e in deny}
want("deny hits", hits, {"10.77.0.3/32": d4, "fd77::3/128": d6})
if err:
    print("\n".join(err), file=sys.stderr)
    sys.exit(1)
print(f"xdp: {c['redirect']} redirected, {x['dropped']} dropped at XDP, "
      f"{x['passed']} passed to the kernel; received + drops == {sent_events} sent")
PY

# ---- stop; the aggregates against the ground truth ----
kill -TERM "$SLUICED_PID"
wait_exit a
"$SLUICECTL" --json metrics --db "$T/a/db" >"$T/a/metrics.json" || fail "sluicectl metrics"
python3 - "$T/truth.json" "$T/a/metrics.json" $V6 $AL <<'PY' || fail "aggregates differ from the ground truth"
import json, sys
from decimal import Decimal
truth = json.load(open(sys.argv[1]), parse_float=Decimal)
rows = json.load(open(sys.argv[2]), parse_float=Decimal)
v6, al = int(sys.argv[3]), int(sys.argv[4])
key = lambda r: (r["name"], r["type"], tuple(sorted(r.get("tags", {}).items())))
want = {key(r): r for r in truth["metrics"]}
want[("xdp.v6", "c", ())] = {"count": v6, "sum": Decimal(v6)}
want[("xdp.allowed", "c", ())] = {"count": al, "sum": Decimal(al)}
tot = {}
for r in rows:
    t = tot.setdefault(key(r), {"count": 0, "sum": Decimal(0), "min": None, "max": None,
                                "distinct": []})
    t["count"] += r["count"]
    if "sum" in r:
        t["sum"] += Decimal(str(r["sum"]))
    for f, pick in (("min", min), ("max", max)):
        if r.get(f) is not None:
            t[f] = r[f] if t[f] is None else pick(t[f], r[f])
    if "distinct" in r:
        t["distinct"].append(r["distinct"])
err = [f"missing {k}" for k in sorted(set(want) - set(tot))]
err += [f"unexpected {k}" for k in sorted(set(tot) - set(want))]
for k in sorted(set(want) & set(tot)):
    w, h = want[k], tot[k]
    if h["count"] != w["count"]:
        err.append(f"{k}: count {h['count']}, truth {w['count']}")
    if "sum" in w and h["sum"] != Decimal(str(w["sum"])):
        err.append(f"{k}: sum {h['sum']}, truth {w['sum']}")
    for f in ("min", "max"):
        if f in w and float(h[f]) != float(w[f]):
            err.append(f"{k}: {f} {h[f]}, truth {w[f]}")
    if "distinct" in w and h["distinct"]:
        # Distinct counts do not add over windows; each window is exact here.
        if max(h["distinct"]) > w["distinct"] or sum(h["distinct"]) < w["distinct"]:
            err.append(f"{k}: distinct per window {h['distinct']}, truth {w['distinct']}")
if err:
    print("\n".join(err[:40]), file=sys.stderr)
    sys.exit(1)
print(f"compare: {len(want)} groups equal to what was sent")
PY

# ---- after exit: program detached, run-time pins gone, lists kept ----
A ip link show dev xa | grep -q "prog/xdp" && fail "XDP program still on xa after exit"
for m in prog xsks_map sl_xdp_stats sl_xdp_ports; do
	[ -e "$PINS/sluice/xa/$m" ] && fail "$m still pinned after exit"
done
CTL xdp stats >"$T/stats.out" 2>&1 && fail "xdp stats succeeded without sluiced"
grep -q "no sluice XDP program on xa" "$T/stats.out" || { cat "$T/stats.out" >&2; fail "xdp stats error message"; }
CTL xdp deny list | grep -q "10.77.0.3/32" || fail "deny list not kept after exit"
echo "xdp: ok"
