#!/usr/bin/python3
"""The attention-shaped batched products q @ k^T and att @ v, forward and forward + backward:
xgrad (xgrad_batched_matmul_bench) against NumPy's np.matmul (and PyTorch's torch.matmul
when /usr/bin/python3 can import torch) on the same arrays, at 1 and 2 threads. The sides
alternate over --rounds rounds, each a fresh process (OpenBLAS reads its thread count when
it loads); the table shows the median over rounds of each side's median per call, the
ratios, and the GFLOP/s against one large product's. A measurement, not a test.

    /usr/bin/python3 bench/batched_matmul.py --exe build-bench/bench/xgrad_batched_matmul_bench
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = ["q@k^T fwd", "q@k^T fwd+bwd", "att@v fwd", "att@v fwd+bwd"]
PEAK = "large matmul (2048x1024 @ 1024x1024)"


def hashed(shape, salt):
    """tests/test_support.hpp's hashed_values, in NumPy."""
    import numpy as np
    n = int(np.prod(shape))
    h = np.arange(n, dtype=np.uint32) * np.uint32(2654435761)
    h += np.uint32((salt * 40503 + 12345) & 0xFFFFFFFF)
    h ^= h >> np.uint32(15)
    h *= np.uint32(2246822519)
    h ^= h >> np.uint32(13)
    return ((h % np.uint32(2000)).astype(np.float32) / np.float32(1000.0) - np.float32(1.0)).reshape(shape)


def median_seconds(run, budget, min_reps=15, warmup=3):
    """Median wall and process CPU time per call (as xgrad_batched_matmul_bench measures)."""
    for _ in range(warmup):
        run()
    wall, cpu = [], []
    start = time.perf_counter()
    while len(wall) < min_reps or time.perf_counter() - start < budget:
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(wall), statistics.median(cpu)


def reference_side(side, B, H, T, d, budget):
    """Runs in a child process whose OpenBLAS thread count the parent set; prints JSON lines."""
    import numpy as np
    q, k, v = hashed((B, H, T, d), 1), hashed((B, H, T, d), 2), hashed((B, H, T, d), 3)
    att = hashed((B, H, T, T), 4)
    d_scores, d_out = hashed((B, H, T, T), 5), hashed((B, H, T, d), 6)
    if side == "numpy":
        def qk():
            return np.matmul(q, k.transpose(0, 1, 3, 2))

        def qk_bwd():
            qk()
            np.matmul(d_scores, k)                          # dq = dS @ k
            np.matmul(d_scores.transpose(0, 1, 3, 2), q)    # dk = dS^T @ q

        def av():
            return np.matmul(att, v)

        def av_bwd():
            av()
            np.matmul(d_out, v.transpose(0, 1, 3, 2))       # datt = dO @ v^T
            np.matmul(att.transpose(0, 1, 3, 2), d_out)     # dv = att^T @ dO
        runs = {"q@k^T fwd": qk, "q@k^T fwd+bwd": qk_bwd, "att@v fwd": av, "att@v fwd+bwd": av_bwd}
        checks = {"q@k^T fwd": float(qk().astype(np.float64).sum()),
                  "att@v fwd": float(av().astype(np.float64).sum())}
    else:
        import torch
        torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))
        tq, tk, tv, tatt = (torch.from_numpy(a).requires_grad_() for a in (q, k, v, att))
        ts, to = torch.from_numpy(d_scores), torch.from_numpy(d_out)

        def fwd(f):
            def run():
                with torch.no_grad():
                    return f()
            return run

        def bwd(f, seed, inputs):
            def run():
                for t in inputs:
                    t.grad = None
                f().backward(seed)
            return run
        qk = lambda: torch.matmul(tq, tk.transpose(-1, -2))
        av = lambda: torch.matmul(tatt, tv)
        runs = {"q@k^T fwd": fwd(qk), "q@k^T fwd+bwd": bwd(qk, ts, (tq, tk)),
                "att@v fwd": fwd(av), "att@v fwd+bwd": bwd(av, to, (tatt, tv))}
        checks = {"q@k^T fwd": float(fwd(qk)().double().sum()),
                  "att@v fwd": float(fwd(av)().double().sum())}
    for name, run in runs.items():
        wall, cpu = median_seconds(run, budget)
        print(json.dumps({"case": name, "median_s": wall, "cpu_s": cpu, "checksum": checks.get(name)}),
              flush=True)


def run_child(command, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    lines = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in lines.splitlines() if line.startswith("{")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exe", default="build-bench/bench/xgrad_batched_matmul_bench")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per case per round")
    parser.add_argument("--shape", default="32,4,64,32", help="B,H,T,d")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # internal: numpy or torch child
    args = parser.parse_args()
    B, H, T, d = (int(s) for s in args.shape.split(","))
    if args.side:
        reference_side(args.side, B, H, T, d, args.budget)
        return
    if "OPENBLAS_CORETYPE" not in os.environ:  # as bench/run.sh picks it, for both sides
        flags = open("/proc/cpuinfo").read()
        for flag, core in (("avx512_bf16", "Cooperlake"), ("avx512f", "SkylakeX"), ("avx2", "Haswell")):
            if flag in flags:
                os.environ["OPENBLAS_CORETYPE"] = core
                break
    have_torch = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    sides = ["xgrad", "numpy"] + (["torch"] if have_torch else [])
    flop = 2.0 * B * H * T * T * d
    print(f"B={B} H={H} T={T} d={d}: one product {flop / 1e6:.1f} MFLOP (fwd+bwd: 3 products); "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'auto')}; "
          f"PyTorch: {'yes' if have_torch else 'skipped: torch not installed'}; {args.rounds} rounds")
    for threads in (int(t) for t in args.threads.split(",")):
        results = {side: {} for side in sides}
        checks = {side: {} for side in sides}
        cpus = {side: {} for side in sides}
        for _ in range(args.rounds):
            for side in sides:
                if side == "xgrad":
                    command = [args.exe, "--threads", str(threads), "--B", str(B), "--H", str(H),
                               "--T", str(T), "--d", str(d), "--budget-ms", str(int(args.budget * 1000))]
                else:
                    command = [sys.executable, __file__, "--side", side, "--shape", args.shape,
                               "--budget", str(args.budget)]
                for record in run_child(command, threads):
                    if "case" in record:
                        results[side].setdefault(record["case"], []).append(record["median_s"])
                        cpus[side].setdefault(record["case"], []).append(record["cpu_s"])
                        checks[side][record["case"]] = record.get("checksum")
        med = {side: {c: statistics.median(ts) for c, ts in r.items()} for side, r in results.items()}
        cpu = {side: {c: statistics.median(ts) for c, ts in r.items()} for side, r in cpus.items()}
        big = 2.0 * 2048 * 1024 * 1024
        peak = big / cpu["xgrad"][PEAK] if threads == 1 else big / med["xgrad"][PEAK]
        print(f"\n{threads} thread(s); the large product through xgrad's matmul: {big / med['xgrad'][PEAK] / 1e9:.1f} "
              f"GFLOP/s by wall time, {big / cpu['xgrad'][PEAK] / 1e9:.1f} by CPU time; plain cblas_sgemm "
              f"(1 BLAS thread) {big / cpu['xgrad']['large cblas_sgemm, 1 BLAS thread'] / 1e9:.1f} by CPU time")
        others = [s for s in sides if s != "xgrad"]
        names = {"numpy": "NumPy", "torch": "PyTorch"}
        header = "| case | xgrad wall | xgrad CPU |"
        for side in others:
            header += f" {names[side]} wall | {names[side]} CPU | {names[side]} / xgrad (wall, CPU) |"
        header += " xgrad GFLOP/s (% of the large product's) |"
        print(header)
        print("|" + " --- |" * (header.count("|") - 1))
        for case in CASES:
            x, xc = med["xgrad"][case], cpu["xgrad"][case]
            row = f"| {case} | {x * 1e3:.3f} ms | {xc * 1e3:.3f} ms |"
            for side in others:
                w, c = med[side][case], cpu[side][case]
                row += f" {w * 1e3:.3f} ms | {c * 1e3:.3f} ms | {w / x:.2f}x, {c / xc:.2f}x |"
            f = flop * (3 if "bwd" in case else 1)
            t = xc if threads == 1 else x
            row += f" {f / t / 1e9:.1f} ({100 * f / t / peak:.0f}%) |"
            print(row)
        print("(GFLOP/s from CPU time at 1 thread, from wall time at more; ratios above 1: xgrad faster)")
        for case in ("q@k^T fwd", "att@v fwd"):
            sums = ", ".join(f"{side} {checks[side][case]:.6g}" for side in sides)
            print(f"checksum of {case} output: {sums}")


if __name__ == "__main__":
    main()
