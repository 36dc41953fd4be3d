# Shared helpers for the integration tests (sourced, not run).
# Environment from meson: SL_BUILD (build dir), SL_SRC (source dir).
# Exit codes: 0 pass, 1 fail, 77 skip.

SL_BUILD=${SL_BUILD:-$(pwd)/build}
SL_SRC=${SL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SLUICED=$SL_BUILD/dataplane/sluiced
SLUICECTL=$SL_BUILD/control/sluicectl
SLUICE_GEN=$SL_BUILD/bench/sluice-gen

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# A private work dir and a unique DPDK file prefix, both removed on exit
# (SL_KEEP_LOGS=1: the work dir is copied to /tmp/kept-logs first, to debug).
T=$(mktemp -d /tmp/sluice-test.XXXXXX)
PREFIX="sl-test-$$-$RANDOM"
SLUICED_PID=
cleanup() {
	[ -n "${SL_KEEP_LOGS:-}" ] && cp -r "$T" /tmp/kept-logs 2>/dev/null
	if [ -n "$SLUICED_PID" ] && kill -0 "$SLUICED_PID" 2>/dev/null; then
		kill -TERM "$SLUICED_PID" 2>/dev/null
		wait "$SLUICED_PID" 2>/dev/null
	fi
	rm -rf "$T" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

# run_sluiced NAME EAL_LCORES VDEV_ARGS [APP ARGS...]: start sluiced in the
# background with a private db, socket and log under $T/NAME.
run_sluiced() {
	local name=$1 lcores=$2 vdev=$3
	shift 3
	mkdir -p "$T/$name"
	"$SLUICED" $lcores --no-huge -m 512 --no-pci --file-prefix "$PREFIX" --vdev "$vdev" \
		--log-level=sluice.*:info -- \
		--db "$T/$name/db" --ctl-socket "$T/$name/ctl.sock" --idle-sleep 100 "$@" \
		>"$T/$name/log" 2>&1 &
	SLUICED_PID=$!
}

# wait_socket NAME: wait until sluiced answers on its control socket.
wait_socket() {
	for _ in $(seq 1 200); do
		"$SLUICECTL" stats --socket "$T/$1/ctl.sock" --json >/dev/null 2>&1 && return 0
		kill -0 "$SLUICED_PID" 2>/dev/null || { cat "$T/$1/log" >&2; fail "sluiced exited early"; }
		sleep 0.1
	done
	cat "$T/$1/log" >&2
	fail "sluiced did not open its control socket"
}

# wait_received NAME N: poll stats until N events were received; save the last
# stats JSON in $T/NAME/stats.json.
wait_received() {
	local name=$1 want=$2 got=0
	for _ in $(seq 1 600); do
		"$SLUICECTL" stats --socket "$T/$name/ctl.sock" --json >"$T/$name/stats.json" 2>/dev/null || true
		got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["received"])' \
			"$T/$name/stats.json" 2>/dev/null || echo 0)
		[ "$got" -ge "$want" ] && return 0
		sleep 0.1
	done
	cat "$T/$name/log" >&2
	fail "$name: received $got events, expected $want"
}

# wait_exit NAME: wait for sluiced to exit by itself, check it exited 0.
wait_exit() {
	local rc=0
	wait "$SLUICED_PID" || rc=$?
	SLUICED_PID=
	[ "$rc" -eq 0 ] || { cat "$T/$1/log" >&2; fail "$1: sluiced exited with $rc"; }
	# A sanitized build (scripts/test.sh's build-dpasan) reports here.
	! grep -q "runtime error:\|AddressSanitizer\|LeakSanitizer" "$T/$1/log" ||
		{ cat "$T/$1/log" >&2; fail "$1: sanitizer report in sluiced's log"; }
}
