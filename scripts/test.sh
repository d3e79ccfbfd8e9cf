#!/bin/sh
# Installs what is missing, builds trendd with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test: unit (Check), integration
# (the real daemon against local fixture servers) and browser (headless
# Chromium). Extra arguments go to ctest (e.g. -L unit).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug
cmake --build build-test -j"$(nproc)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
cd build-test
ctest --output-on-failure --timeout 900 "$@"
