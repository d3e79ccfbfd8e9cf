#!/bin/sh
# Installs what trendd needs on Debian 12 (run as root). Idempotent: only
# missing packages are installed.
#   scripts/install-deps.sh          build and run dependencies
#   scripts/install-deps.sh --test   also what the test suite needs
#                                    (Check, clang, Chromium, Node.js,
#                                    npm packages)
set -eu
cd "$(dirname "$0")/.."

pkgs="build-essential cmake pkg-config libwebsockets-dev libcurl4-openssl-dev
libutf8proc-dev libsqlite3-dev sqlite3 libxml2-dev libjansson-dev libjs-chart.js
ca-certificates"
if [ "${1:-}" = "--test" ]; then
	# clang (with its sanitizer runtimes) builds the unit tests a second time
	pkgs="$pkgs check chromium clang libclang-rt-14-dev"
	command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
	command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
fi

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

if [ "${1:-}" = "--test" ]; then
	# Browser and integration tests drive the daemon from Node.js.
	if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules ]; then
		npm ci --prefix tests --no-audit --no-fund
		touch tests/node_modules
	fi
fi
