#!/bin/sh
# Installs what is missing, builds trendd and runs the demo: a built-in
# Mastodon-style feed polled over HTTP, with the dashboard on
# http://127.0.0.1:8080 . Extra arguments go to trendd (e.g. --listen).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-release -j"$(nproc)" --target trendd
mkdir -p var
exec build-release/trendd --demo --db var/demo.db "$@"
