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

Then the cost of one Python operator: `a * b` on two 0-d tensors that require a gradient,
inside a `with xgrad.Tape()` block (so each call records an op), timed the same way with a
fresh tape per loop (issue 20: under 3 us). --operators-only times just that, without the
C++ benchmark binary.

usage: bench/python_call_bench.py [--build DIR] [--rounds N] [--json FILE] [--operators-only]
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
OPERATOR_TARGET_S = 3e-6  # issue 20: a scalar operator call under 3 us

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


def operator_per_call(xgrad):
    """Median per-call time of `a * b` (0-d, requiring gradients) recorded on a tape."""
    a = xgrad.Tensor(1.5, requires_grad=True)
    b = xgrad.Tensor(-2.0, requires_grad=True)

    def loop(calls):
        with xgrad.Tape():
            start = time.perf_counter()
            for _ in range(calls):
                a * b
            return time.perf_counter() - start

    calls = 1
    while loop(calls) < MIN_LOOP_S:
        calls *= 2
    return statistics.median(loop(calls) / calls for _ in range(LOOPS))


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
    parser.add_argument("--operators-only", action="store_true", help="time only the `a * b` operator call")
    args = parser.parse_args()

    sys.path.insert(0, os.path.join(args.build, "python"))
    import numpy
    import xgrad  # from the build tree named by --build

    operator_s = statistics.median(operator_per_call(xgrad) for _ in range(args.rounds))
    print(f"python_call_bench: a * b on 0-d tensors inside a tape: {operator_s * 1e6:.2f} us per call "
          f"(median over {args.rounds} rounds), {'met' if operator_s < OPERATOR_TARGET_S else 'MISSED'} "
          f"(under {OPERATOR_TARGET_S * 1e6:.0f} us)")
    operator_record = {"case": "a * b, 0-d, inside a tape", "python": "a * b", "python_s": operator_s}
    if args.operators_only:
        if args.json:
            with open(args.json, "w") as f:
                json.dump([operator_record], f, indent=2)
                f.write("\n")
        return

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
    records = [operator_record]
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
