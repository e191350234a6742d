#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for a
# bounded time on a copy of its seed corpus (fuzz/corpus/NAME, which stays as committed).
# A crash, a leak (but in fuzz_convert, see below), a timeout or an out-of-memory stops the run with a non-zero status; the
# input that caused it is left as build-fuzz/crashes/NAME-crash-... to reproduce it with
#   build-fuzz/fuzz/NAME build-fuzz/crashes/NAME-crash-...
# Usage: fuzz/run.sh [SECONDS_PER_TARGET (default 30)] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_npy fuzz_token_ids fuzz_manifest fuzz_id_list fuzz_corpus fuzz_bpe_merges fuzz_convert)

# -Wno-unknown-warning-option: the headers silence GCC-only warnings by name.
# -g1: line tables, all a crash's stack trace needs; full -g's variables only slow the build.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1"
flags+=" -Wno-unknown-warning-option"
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
  -DXGRAD_BUILD_FUZZ=ON -DXGRAD_BUILD_TESTS=OFF -DXGRAD_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-fuzz -j2 --target "${targets[@]}"

mkdir -p build-fuzz/crashes
status=0
for target in "${targets[@]}"; do
  work=build-fuzz/corpus/$target
  mkdir -p "$work"
  log=build-fuzz/$target.log
  echo "+ $target for ${seconds} s"
  # fuzz_convert embeds CPython, whose objects are reachable only through memory the leak
  # checker does not scan (its frame stack and arenas are mmap'd): every input would be
  # reported as a leak. Its other checks stay.
  leaks=1
  [ "$target" != fuzz_convert ] || leaks=0
  if ASAN_OPTIONS=detect_leaks=$leaks UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "build-fuzz/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
       -artifact_prefix="build-fuzz/crashes/$target-" -print_final_stats=1 \
       "$work" "fuzz/corpus/$target" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "  $target: $runs executions in ${seconds} s, no crash"
  else
    echo "  $target: FAILED (the last lines of $log follow)"
    tail -n 40 "$log"
    status=1
  fi
done
exit $status
