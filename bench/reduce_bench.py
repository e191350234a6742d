#!/usr/bin/env python3
"""sum and softmax over the last axis of (32, 64, 256): xgrad's op, a hand-written C++ loop
and NumPy, medians per call and their ratios in one table (bench/RESULTS.md).

Runs build/bench/reduce_bench (xgrad and the loop, interleaved in one process) and NumPy in
this process, alternating for --rounds rounds; each figure is the median of the rounds'
medians. A measurement, not a test.

usage: /usr/bin/python3 bench/reduce_bench.py [--binary build/bench/reduce_bench]
       [--rounds 3] [--threads 1]
"""
import argparse
import json
import statistics
import subprocess
import timeit

import numpy as np


def numpy_medians(x, repeat):
    def softmax():
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    out = {}
    for name, fn in (("sum", lambda: x.sum(-1)), ("softmax", softmax)):
        fn()
        out[name] = statistics.median(timeit.repeat(fn, number=1, repeat=repeat))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/bench/reduce_bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per op per round in C++")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.uniform(-4.0, 4.0, size=(32, 64, 256)).astype(np.float32)
    runs = {"sum": [], "softmax": []}
    for _ in range(args.rounds):
        lines = subprocess.run([args.binary, "--threads", str(args.threads), "--budget", str(args.budget)],
                               check=True, capture_output=True, text=True).stdout.splitlines()
        numpy = numpy_medians(x, repeat=300)
        for line in lines:
            record = json.loads(line)
            record["numpy_s"] = numpy[record["op"]]
            runs[record["op"]].append(record)

    print(f"(32, 64, 256) over the last axis, {args.threads} thread(s) for xgrad, "
          f"median of {args.rounds} rounds' medians; numpy {np.__version__}")
    print("| op | xgrad | hand-written loop | NumPy | xgrad / loop (target <= 1.25) "
          "| NumPy / xgrad (target > 1) | max abs xgrad - loop |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for op, records in runs.items():
        xg = statistics.median(r["xgrad_s"] for r in records)
        loop = statistics.median(r["loop_s"] for r in records)
        npy = statistics.median(r["numpy_s"] for r in records)
        diff = max(r["max_abs_difference"] for r in records)
        print(f"| {op} | {xg * 1e6:.1f} us | {loop * 1e6:.1f} us | {npy * 1e6:.1f} us "
              f"| {xg / loop:.2f}x | {npy / xg:.2f}x | {diff:.3g} |")


if __name__ == "__main__":
    main()
