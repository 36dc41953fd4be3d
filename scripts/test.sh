#!/usr/bin/env bash
# Install what is missing, build, and run every suite:
#   build/       unit, dataplane and integration suites (the real binaries)
#   build-asan/  unit suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#   build-dpasan/ sluiced itself under ASan + UBSan + LeakSanitizer, for the
#                views, hot-reload, rules (20 hot swaps) and HTTP API tests
#   build-fuzz/  the libFuzzer targets for a bounded time (clang)
# Ends with one line "N passed, N failed, N skipped" over all of them and exits
# non-zero when anything failed.
#
# usage: scripts/test.sh            (SL_FUZZ_SECONDS=60 by default)
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${SL_FUZZ_SECONDS:-60}

scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Ddataplane=disabled -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi
if [ ! -f build-dpasan/build.ninja ]; then
	meson setup build-dpasan -Db_sanitize=address,undefined -Db_lundef=false \
		-Debpf=disabled >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Ddataplane=disabled -Dfuzz=enabled \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dfuzz_seconds="$FUZZ_SECONDS" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
else
	meson configure build-fuzz -Dfuzz_seconds="$FUZZ_SECONDS" >/dev/null
fi

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1

run_suite() {
	local dir=$1
	shift
	echo "== meson test -C $dir $*"
	meson test -C "$dir" --print-errorlogs "$@"
	count_log "$dir/meson-logs/testlog.json"
}

passed=0 failed=0 skipped=0
count_log() {
	local p f s
	read -r p f s < <(python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
	) || { p=0; f=1; s=0; }
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

ninja -C build-asan >/dev/null && ninja -C build-fuzz >/dev/null &&
	ninja -C build-dpasan >/dev/null || failed=$((failed + 1))
run_suite build --suite unit --suite dataplane
run_suite build-asan --suite unit
# sluiced sanitized: freed memory sits in ASan's quarantine, so the tests
# check LeakSanitizer's exit status and the logs instead of the RSS.
SL_SANITIZED=1 run_suite build-dpasan views reload rules ctld_views
run_suite build-fuzz --suite fuzz

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
