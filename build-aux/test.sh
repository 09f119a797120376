#!/bin/sh
# The whole test suite, as CI runs it: install the dependencies, build with
# warnings as errors and run every test, do the same again in a build with
# AddressSanitizer and UndefinedBehaviorSanitizer, run the threaded tests
# under ThreadSanitizer, then run each libFuzzer target for a minute from
# its seed corpus.
set -eu
cd "$(dirname "$0")/.."

build-aux/install-deps.sh

# A fresh configuration each run, so stale options never leak in.
setup () {
  dir=$1; shift
  if [ -d "$dir" ]; then meson setup --wipe "$dir" "$@"; else meson setup "$dir" "$@"; fi
}

setup _build-test -Dwerror=true -Dbuildtype=debugoptimized
# Every target, not only what the tests link: the install and translation
# tests need the .mo files, which no test target depends on.
ninja -C _build-test
meson test -C _build-test --print-errorlogs --num-processes 2

setup _build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
ninja -C _build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" \
  meson test -C _build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3

# GSlice recycles memory between threads behind ThreadSanitizer's back.
# OpenMP's barriers (libgomp, which oneDNN runs on) are invisible to it
# too: this build multiplies with OpenBLAS.
setup _build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false -Ddnnl=disabled
G_SLICE=always-malloc \
TSAN_OPTIONS=halt_on_error=1:suppressions="$PWD/tests/tsan.supp" \
  meson test -C _build-tsan --suite threads --print-errorlogs --num-processes 2 --timeout-multiplier 3

CC=clang setup _build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false -Ddnnl=disabled
ninja -C _build-fuzz tests/fuzz/fuzz-safetensors tests/fuzz/fuzz-config \
  tests/fuzz/fuzz-tokenizer tests/fuzz/fuzz-image tests/fuzz/fuzz-spm
meson test -C _build-fuzz --no-rebuild --suite fuzz --print-errorlogs --num-processes 2
