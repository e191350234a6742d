#!/usr/bin/python3
"""One training step of the default GPT (L=2, H=4, C=128, T=64, B=32, V=256, biases, untied, no
dropout) driven from Python against the same step in C++, as a ratio in one run (issue 20:
Python within 1.15x of C++).

The step is bench/transformer_bench.cpp's, written with xgrad's Python API: a new tape,
xgrad.nn.GPT.logits, softmax_cross_entropy over (B, T) targets, backward, clip_grad_norm at
1.0, an xgrad.optim.AdamW step over gpt.parameter_groups(0.1) (lr 3e-3, betas 0.9/0.99) and
zero_grad, on 8 batches of random ids taken in turn. The C++ side is
`xgrad_bench --only transformer --transformer-case "L=2 H=4 C=128 T=64 B=32"` (the median
step of its own warmed-up rounds), run as a subprocess between the Python rounds, so drift on
a shared machine hits both; each round's ratio is Python's median step over C++'s, and the
median over the rounds is reported. Both sides use the same thread count (--threads, xgrad's
pool; OpenBLAS single-threaded, as xgrad_bench runs it).

usage: bench/python_gpt_bench.py [--build DIR] [--rounds N] [--steps N] [--threads N] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
TARGET = 1.15  # issue 20: a step driven from Python within 1.15x of C++'s
CASE = "L=2 H=4 C=128 T=64 B=32"


def python_step(xgrad, seed=21):
    gpt = xgrad.nn.GPT(xgrad.nn.GPTConfig(vocab=256, context=64, layers=2, heads=4, embed_dim=128), 0)
    optimizer = xgrad.optim.AdamW(gpt.parameter_groups(0.1), lr=3e-3, betas=(0.9, 0.99))
    parameters = gpt.tensors()
    rng = __import__("numpy").random.default_rng(seed)
    windows = [rng.integers(0, 256, size=(32, 65)) for _ in range(8)]
    batches = [(w[:, :-1].copy(), w[:, 1:].copy()) for w in windows]

    def step(k):
        inputs, targets = batches[k % len(batches)]
        with xgrad.Tape():
            loss = xgrad.softmax_cross_entropy(gpt.logits(inputs), targets)
        loss.backward()
        xgrad.optim.clip_grad_norm(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        return loss

    return step


def time_python(step, steps, start):
    seconds = []
    for k in range(start, start + steps):
        t0 = time.perf_counter()
        step(k)
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds)


def time_cpp(bench, threads, steps):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "records.json"
        run = subprocess.run([str(bench), "--only", "transformer", "--transformer-case", CASE, "--threads", str(threads),
                              "--transformer-steps", str(steps), "--json", str(out)], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"python_gpt_bench: {bench} failed:\n{run.stdout}{run.stderr}")
        records = [r for r in json.loads(out.read_text()) if CASE in r["case"]]
        if len(records) != 1:
            sys.exit(f"python_gpt_bench: {bench} reported {len(records)} records for {CASE!r}:\n{run.stdout}")
        return records[0]["xgrad_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", type=Path, default=REPO / "build")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="timed Python steps per round (and xgrad_bench's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    sys.path.insert(0, str(args.build / "python"))
    import xgrad

    bench = args.build / "bench" / "xgrad_bench"
    if not bench.exists():
        sys.exit(f"python_gpt_bench: {bench} not found: build it with -DXGRAD_BUILD_BENCH=ON")
    xgrad.set_num_threads(args.threads)
    step = python_step(xgrad)
    for k in range(3):  # warmup: first-touch allocations, AdamW's moments
        step(k)
    rounds, done = [], 3
    for r in range(args.rounds):
        py = time_python(step, args.steps, done)
        done += args.steps
        cpp = time_cpp(bench, args.threads, args.steps)
        rounds.append({"python_s": py, "cpp_s": cpp, "ratio": py / cpp})
        print(f"round {r + 1}: Python {py * 1e3:8.2f} ms   C++ {cpp * 1e3:8.2f} ms   ratio {py / cpp:.3f}")
    ratio = statistics.median(x["ratio"] for x in rounds)
    python_s = statistics.median(x["python_s"] for x in rounds)
    cpp_s = statistics.median(x["cpp_s"] for x in rounds)
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"transformer {CASE} t={args.threads}: Python {python_s * 1e3:.2f} ms, C++ {cpp_s * 1e3:.2f} ms per step; "
          f"median ratio {ratio:.3f} ({verdict}: <= {TARGET}x)")
    if args.json:
        args.json.write_text(json.dumps({"case": f"transformer {CASE} t={args.threads}", "python_s": python_s,
                                         "cpp_s": cpp_s, "ratio": ratio, "rounds": rounds}, indent=1))


if __name__ == "__main__":
    main()
