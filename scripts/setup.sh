#!/usr/bin/env bash
# Installs the Debian packages xgrad builds, tests and benchmarks with, if any is missing.
# Idempotent: when everything is present it only checks and returns (well under a second).
set -euo pipefail

packages=(
  g++ cmake make
  libxtensor-dev libxsimd-dev                       # xsimd is only a Recommends of xtensor
  libopenblas-dev                                   # BLAS for matrix products (sgemm)
  catch2                                            # tests (Catch2 v2)
  graphviz                                          # dot: tape pictures (core/graph_dot) as SVG
  libxtensor-blas-dev                               # the testing kit's dense one-hot oracle (xt::linalg::dot)
  nettle-dev                                        # SHA-1 of xgrad::flax (optional: Flax compatibility)
  libcli11-dev                                      # command-line parsing in examples/
  nlohmann-json3-dev                                # tests read the known-answer vectors (JSON)
  python3-numpy                                     # tests read our .npy files with NumPy
  pybind11-dev python3-dev python3-pytest           # the Python module in python/ and its tests
  python3-torch                                     # the PyTorch cross-checks (tests/python/*torch*): never skipped
  python3-nbclient python3-ipykernel                # notebooks/ run headless (scripts/run_notebooks.py, .ci/run)
  python3-matplotlib                                # the notebooks' plots
  clang libclang-rt-14-dev                          # fuzz/: libFuzzer and its sanitizers (.ci/run)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "xgrad: missing packages: ${missing[*]}" >&2
  echo "xgrad: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "xgrad: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd >/dev/null
