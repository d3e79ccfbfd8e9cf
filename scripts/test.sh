#!/bin/sh
# Installs what is missing, builds trendd with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test: unit (Check), integration
# (the real daemon against local fixture servers) and browser (headless
# Chromium). Then builds it again with clang, with the same sanitizers, and
# runs the unit tests once more: clang checks things GCC does not (pointer
# arithmetic that overflows) and evaluates a call's arguments in another
# order. Extra arguments go to ctest (e.g. -L unit) and skip the clang run.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug
cmake --build build-test -j"$(nproc)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
(cd build-test && ctest --output-on-failure --timeout 900 "$@")
[ $# -eq 0 ] || exit 0
cmake -S . -B build-test-clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug
cmake --build build-test-clang -j"$(nproc)"
cd build-test-clang
ctest --output-on-failure --timeout 900 -L unit
