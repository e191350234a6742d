#!/usr/bin/python3
"""What calling xgrad.token_embed_forward from Python costs over the C++ function it wraps.

Times `xgrad.token_embed_forward(0, [0, 2, 1], 5, 3)` (the list built in every call, as a
caller writes it) and a batch of 512 ids with V = 50,000, D = 16 (a list, and an int32
array, both built once) with time.perf_counter, and runs `xgrad_bench --only call`, which times
xgrad::flax::token_embed_forward on the same arguments in C++. Both sides take the median
per call over 51 loops of back-to-back calls, each loop at least 2 ms long; the two
alternate in rounds so that drift on a shared machine hits both, and the median over the
rounds is reported. Prints both times, their difference per call, and whether it is under
the issue's 20 us.

usage: bench/python_call_bench.py [--build DIR] [--rounds N] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import timeit
import time

LOOPS = 51          # as run_call_benchmarks in bench/main.cpp
MIN_LOOP_S = 2e-3   # as run_call_benchmarks in bench/main.cpp
TARGET_S = 20e-6    # issue 11: Python adds under 20 us per call

BATCH = [k * 7919 % 50000 for k in range(512)]  # the C++ side draws the same ids
# (what the row shows, the xgrad_bench --only call case it is compared with, the statement)
CASES = [
    ("V=5 D=3 T=3, ids a new list", "call V=5 D=3 T=3", "xgrad.token_embed_forward(0, [0, 2, 1], 5, 3)"),
    ("V=50000 D=16 T=512, ids a list", "call V=50000 D=16 T=512", "xgrad.token_embed_forward(0, BATCH, 50000, 16)"),
    ("V=50000 D=16 T=512, ids int32 array", "call V=50000 D=16 T=512",
     "xgrad.token_embed_forward(0, BATCH_ARRAY, 50000, 16)"),
]


def python_per_call(statement, namespace):
    timer = timeit.Timer(statement, globals=namespace, timer=time.perf_counter)
    calls = 1
    while timer.timeit(calls) < MIN_LOOP_S:
        calls *= 2
    return statistics.median(timer.timeit(calls) / calls for _ in range(LOOPS))


def cpp_per_call(bench_binary):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "call.json")
        subprocess.run([bench_binary, "--only", "call", "--json", path], check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            return {r["case"]: r["xgrad_s"] for r in json.load(f)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build", help="the CMake build directory (default: build)")
    parser.add_argument("--rounds", type=int, default=7, help="C++ and Python alternate this many times")
    parser.add_argument("--json", help="also write the records to FILE")
    args = parser.parse_args()

    sys.path.insert(0, os.path.join(args.build, "python"))
    import numpy
    import xgrad  # from the build tree named by --build

    bench_binary = os.path.join(args.build, "bench", "xgrad_bench")
    namespace = {"xgrad": xgrad, "BATCH": BATCH, "BATCH_ARRAY": numpy.array(BATCH, dtype=numpy.int32)}
    cpp = {cpp_case: [] for _, cpp_case, _ in CASES}
    python = {label: [] for label, _, _ in CASES}
    for _ in range(args.rounds):
        measured = cpp_per_call(bench_binary)
        missing = set(cpp) - set(measured)
        if missing:
            sys.exit(f"python_call_bench: {bench_binary} --only call did not time {sorted(missing)}")
        for cpp_case in cpp:
            cpp[cpp_case].append(measured[cpp_case])
        for label, _, statement in CASES:
            python[label].append(python_per_call(statement, namespace))

    print(f"python_call_bench: per call, median over {args.rounds} rounds of medians over {LOOPS} loops")
    print(f"{'case':<38} {'C++':>11} {'Python':>11} {'Python - C++':>13}  under {TARGET_S * 1e6:.0f} us")
    records = []
    for label, cpp_case, statement in CASES:
        c, p = statistics.median(cpp[cpp_case]), statistics.median(python[label])
        records.append({"case": label, "python": statement, "cpp_s": c, "python_s": p, "overhead_s": p - c})
        print(f"{label:<38} {c * 1e6:8.2f} us {p * 1e6:8.2f} us {(p - c) * 1e6:10.2f} us  "
              f"{'met' if p - c < TARGET_S else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
