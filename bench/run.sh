#!/usr/bin/env bash
# Builds and runs the benchmarks: xgrad and its hand-written baseline at 1 and 2 threads,
# the same cases in PyTorch when python3-torch is installed (nothing is installed here),
# the peak-memory check of the 1 GB table, one merged table, and the per-call cost of the
# Python module's token_embed_forward over the C++ function (bench/README.md).
# usage: bash bench/run.sh [--json FILE] [--quick] [--threads "1 2"]
#        BUILD_DIR (default build) picks the CMake build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
json="" quick="" threads="1 2"
while [[ $# -gt 0 ]]; do
  case $1 in
    --json) json=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: bash bench/run.sh [--json FILE] [--quick] [--threads \"1 2\"]" >&2; exit 2 ;;
  esac
done

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target xgrad_bench > /dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (the numbers assume an otherwise idle machine)"
# OpenBLAS 0.3.21 does not know every new CPU model: on some Xeons its detection falls back to
# the SSE3 "Prescott" kernels, 2.5x slower at sgemm, for xgrad and PyTorch alike (both load the
# same libopenblas). Unless the caller chose a core, pick the one the CPU's flags allow, for
# both sides, and say so.
if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  if [[ $flags == *avx512_bf16* ]]; then export OPENBLAS_CORETYPE=Cooperlake
  elif [[ $flags == *avx512f* ]]; then export OPENBLAS_CORETYPE=SkylakeX
  elif [[ $flags == *avx2* ]]; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
echo "OpenBLAS core: ${OPENBLAS_CORETYPE:-auto-detected} (OPENBLAS_CORETYPE; bench/README.md)"

xgrad_args=() torch_args=()
if [[ -n $quick ]]; then
  xgrad_args=(--quick) torch_args=(--vocabs 1000,1000000 --widths 64 --budget 0.05)
fi
have_torch=1
/usr/bin/python3 -c "import torch" 2> /dev/null || have_torch=0
for t in $threads; do
  echo "== xgrad and baseline, $t thread(s)"
  OPENBLAS_NUM_THREADS=1 "$build/bench/xgrad_bench" --threads "$t" --json "$out/xgrad_t$t.json" "${xgrad_args[@]}"
  if [[ $have_torch == 1 ]]; then
    echo "== PyTorch, $t thread(s)"
    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t \
      /usr/bin/python3 bench/torch_bench.py --threads "$t" --json "$out/torch_t$t.json" "${torch_args[@]}"
  else
    echo "== PyTorch: skipped: torch not installed (apt-get install python3-torch)"
  fi
done
if [[ -z $quick ]]; then
  echo "== peak memory of the sparse step on a 1 GB table"
  /usr/bin/time -f "rss: /usr/bin/time maximum resident set %M KiB" \
    env OPENBLAS_NUM_THREADS=1 "$build/bench/xgrad_bench" --rss
fi
echo "== merged (x/base = xgrad time / baseline time; torch/x = how many times faster than PyTorch)"
/usr/bin/python3 bench/report.py "$out"/*.json ${json:+--json "$json"}
echo "== token_embed_forward per call: from Python, and the C++ function it wraps"
targets=$(cmake --build "$build" --target help)  # no pipe into grep -q: pipefail would trip on its early exit
if [[ $targets == *xgrad_python* ]]; then
  cmake --build "$build" -j2 --target xgrad_python > /dev/null
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/python_call_bench.py --build "$build"
else
  echo "skipped: the Python module is not configured (pybind11-dev, python3-dev: scripts/setup.sh)"
fi
