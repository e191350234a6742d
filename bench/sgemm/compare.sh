#!/usr/bin/env bash
# The sgemm calls of one transformer training step, and how fast OpenBLAS and (when Debian's
# libblis-dev is installed: it is not a dependency) BLIS run them, one thread each:
#   1. shim.c, preloaded into xgrad_bench, records every cblas_sgemm call's shape, count and
#      thread CPU time during the transformer cases (the step's own view of its products);
#   2. replay.cpp, linked once against each library, replays those shapes in a hot loop,
#      the libraries alternating in `rounds` rounds.
# usage: bash bench/sgemm/compare.sh [B=12|B=32 (a part of the case's name)] [rounds]
#        BUILD_DIR (default build-rel) holds a Release build of xgrad_bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build-rel} case=${1:-B=12} rounds=${2:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -shared -fPIC -Wall -Wextra -o "$out/shim.so" bench/sgemm/shim.c -ldl
g++ -O2 -std=c++17 -o "$out/replay_openblas" bench/sgemm/replay.cpp -lopenblas
libs=(openblas)
blis=/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4
if [[ -e $blis ]]; then
  g++ -O2 -std=c++17 -o "$out/replay_blis" bench/sgemm/replay.cpp "$blis" -Wl,-rpath,"$(dirname "$blis")"
  libs+=(blis)
fi
export OPENBLAS_NUM_THREADS=1 BLIS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Debian's BLIS 0.9 does not know Zen 4 and falls back to its slow 'generic' kernels: ask for
# zen3's (arch id 6 in BLIS 0.9's arch_t) unless the caller chose.
export BLIS_ARCH_TYPE=${BLIS_ARCH_TYPE:-6}
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}"
SGEMM_SHIM_OUT="$out/shapes.txt" LD_PRELOAD="$out/shim.so" \
  "$build/bench/xgrad_bench" --only transformer --threads 1 --transformer-steps 20 --transformer-case "$case"
echo "== in the step (thread CPU time per call, every call of the run, the sgemm peak's 512^3 included)"
sort -k2 -g -r "$out/shapes.txt" | awk '{printf "%7d calls %5d x %5d x %5d tA=%d tB=%d beta=%s %8.2f us/call %6.1f GFLOP/s\n",
  $1, $3, $4, $5, $6, $7, $11, 1e6 * $2 / $1, 2 * $3 * $4 * $5 * $1 / $2 / 1e9}'
for r in $(seq "$rounds"); do
  for lib in "${libs[@]}"; do
    "$out/replay_$lib" "$out/shapes.txt" 11 > "$out/replay_${lib}_$r.txt"
    echo "round $r $lib: $(tail -n 1 "$out/replay_${lib}_$r.txt")"
  done
done
echo "== per shape, last round (${libs[*]})"
paste "$out"/replay_*_"$rounds".txt
