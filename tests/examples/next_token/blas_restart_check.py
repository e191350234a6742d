#!/usr/bin/python3
"""next_token restarts itself with OPENBLAS_CORETYPE set when OpenBLAS chose its Prescott
fallback on a CPU with AVX2 or AVX-512 (examples/next_token/main.cpp), and leaves a core the
caller chose alone. Usage: blas_restart_check.py NEXT_TOKEN"""
import json, os, subprocess, sys, tempfile

exe = sys.argv[1]
base = {k: v for k, v in os.environ.items()
        if k not in ("OPENBLAS_CORETYPE", "XGRAD_BLAS_CORE_CHOSEN", "XGRAD_NO_BLAS_RESTART")}


def run(extra_env):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "summary.json")
        r = subprocess.run([exe, "--steps", "200", "--eval-windows", "500", "--samples", "0", "--json", path],
                           env={**base, **extra_env}, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            sys.exit(f"next_token failed ({r.returncode}):\n{r.stderr}")
        with open(path) as f:
            return json.load(f)["blas_core"], r.stderr


detected, _ = run({"XGRAD_NO_BLAS_RESTART": "1"})  # OpenBLAS's own choice
chosen, notes = run({})
flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
print(f"detected {detected}; run without the variable: {chosen}")
if detected == "Prescott" and ("avx2" in flags or "avx512f" in flags):
    expected = "Cooperlake" if "avx512_bf16" in flags else "SkylakeX" if "avx512f" in flags else "Haswell"
    assert chosen == expected, f"expected a restart with {expected}, got {chosen}"
    assert f"restarted with OPENBLAS_CORETYPE={expected}" in notes, notes
else:
    assert chosen == detected, f"no restart expected, got {chosen} (detected {detected})"
    assert "restarted with" not in notes, notes
kept, _ = run({"OPENBLAS_CORETYPE": "Prescott"})
assert kept == "Prescott", f"a core the caller chose must be kept, got {kept}"
print("ok")
