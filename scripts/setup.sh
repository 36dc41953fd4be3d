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
	chromium
)
# The dashboard test drives chromium with node; node may come from elsewhere
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

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

# npm packages, pinned: uPlot vendored into the dashboard (web/assets/vendor/, not
# committed) and playwright-core for tests/integration/dashboard.mjs
# (tests/node_modules/, not committed). playwright never downloads a browser: the
# test drives Debian's /usr/bin/chromium.
UPLOT_VERSION=1.6.32
PLAYWRIGHT_VERSION=1.61.1
VENDOR=web/assets/vendor
if [ "$(cat "$VENDOR/uplot.version" 2>/dev/null)" != "$UPLOT_VERSION" ]; then
	echo "setup: vendoring uplot@$UPLOT_VERSION into $VENDOR"
	tmp=$(mktemp -d)
	npm pack --silent --pack-destination "$tmp" "uplot@$UPLOT_VERSION" >/dev/null
	tar -xzf "$tmp/uplot-$UPLOT_VERSION.tgz" -C "$tmp" \
		package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE
	mkdir -p "$VENDOR"
	cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$VENDOR/"
	cp "$tmp/package/LICENSE" "$VENDOR/uPlot.LICENSE"
	echo "$UPLOT_VERSION" >"$VENDOR/uplot.version"
	rm -rf "$tmp"
fi
if [ "$(node -p 'require("./tests/node_modules/playwright-core/package.json").version' 2>/dev/null)" \
	!= "$PLAYWRIGHT_VERSION" ]; then
	echo "setup: installing playwright-core@$PLAYWRIGHT_VERSION into tests/node_modules"
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-save --no-audit --no-fund \
		--prefix tests "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built sluiced, sluicectl, sluice-gen in ./build"
