#!/usr/bin/env bash
# Install the Debian 12 packages sluice needs (only the missing ones), then
# configure and build into ./build. Idempotent: a second run installs nothing
# and rebuilds nothing that is up to date.
#
# usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
	build-essential pkg-config meson ninja-build python3 iproute2
	dpdk dpdk-dev libdpdk-dev libpcap-dev
	libhyperscan-dev liblmdb-dev lmdb-utils libjansson-dev libyaml-dev
	clang llvm libclang-rt-14-dev
	libbpf-dev bpftool iputils-ping
	libmicrohttpd-dev prometheus
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing packages and not root: run as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built sluiced, sluicectl, sluice-gen in ./build"
