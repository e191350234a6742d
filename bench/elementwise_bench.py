#!/usr/bin/python3
"""Broadcast add and mul of (32, 64, 128) with (128,), (32, 64, 1) and (32, 64, 128): runs
xgrad_elementwise_bench (xgrad's op on an inference tape and a hand-written loop) and times
NumPy's `a + b` (a new array) and `np.add(a, b, out=out)` in this process, then prints one
table with the ratios and the targets (within 1.25x of the loop, faster than NumPy).
Medians over repeats. Not a test.

    /usr/bin/python3 bench/elementwise_bench.py --build build [--repeats 400]
"""
import argparse
import subprocess
import time

import numpy as np


def numpy_median_us(fn, repeats):
    for _ in range(20):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - start) / 1000.0)
    times.sort()
    return times[len(times) // 2]


def filled(shape, scale):
    # The same values as the C++ side: scale * (i % 97) - 1.
    n = int(np.prod(shape)) if shape else 1
    return (scale * (np.arange(n) % 97).astype(np.float32) - 1.0).astype(np.float32).reshape(shape)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--repeats", type=int, default=400)
    args = parser.parse_args()
    exe = f"{args.build}/bench/xgrad_elementwise_bench"
    lines = subprocess.run([exe, "--repeats", str(args.repeats)], check=True, capture_output=True,
                           text=True).stdout.strip().splitlines()
    a = filled((32, 64, 128), 0.02)
    header = (f"{'case':<28}{'xgrad t=1':>11}{'xgrad t=2':>11}{'loop':>9}{'np new':>9}{'np out=':>9}"
              f"{'x/loop':>8}{'x/np new':>10}{'x/np out':>10}")
    print(header)
    print("(microseconds, medians; ratios of xgrad at 1 thread)")
    verdicts = []
    for line in lines:
        op, shape, x1, x2, loop = line.split("\t")
        x1, x2, loop = float(x1), float(x2), float(loop)
        dims = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
        b = filled(dims, 0.03)
        ufunc = np.add if op == "add" else np.multiply
        out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.float32)
        new_us = numpy_median_us(lambda: ufunc(a, b), args.repeats)
        out_us = numpy_median_us(lambda: ufunc(a, b, out=out), args.repeats)
        case = f"{op} (32, 64, 128) {shape}"
        print(f"{case:<28}{x1:>11.2f}{x2:>11.2f}{loop:>9.2f}{new_us:>9.2f}{out_us:>9.2f}"
              f"{x1 / loop:>8.2f}{x1 / new_us:>10.2f}{x1 / out_us:>10.2f}")
        verdicts.append((case, x1 / loop <= 1.25, x1 < new_us and x1 < out_us))
    print()
    for case, near_loop, beats_numpy in verdicts:
        print(f"{case:<28} within 1.25x of the loop: {'met' if near_loop else 'MISSED'}; "
              f"faster than NumPy (new and out=): {'met' if beats_numpy else 'MISSED'}")


if __name__ == "__main__":
    main()
