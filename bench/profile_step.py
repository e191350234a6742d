#!/usr/bin/python3
"""Where one training step of xgrad_bench's transformer cases spends its time: samples the
running step with `perf record -e cpu-clock --call-graph dwarf` (a timer, since this VM
has no hardware counters; nothing is added to xgrad's code) and charges each sample to the
innermost op on its stack, split into the op's sgemm calls (OpenBLAS, its packing and the
zero-fill of beta = 0 included) and the op's own loops. Samples before --delay ms (start-up,
the sgemm peak, warm-up pages) are not taken.
usage: /usr/bin/python3 bench/profile_step.py [--build build-rel] [--threads 1] [--case B=12] [--steps 60]"""
import argparse
import collections
import os
import re
import subprocess
import tempfile

# Innermost match wins; a frame is a symbol name. Order matters within one frame only.
CATEGORIES = [
    ("attention", re.compile(r"causal_self_attention|anonymous namespace\)::attention|attend")),
    ("layer_norm", re.compile(r"layer_norm")),
    ("gelu", re.compile(r"gelu")),
    ("softmax cross-entropy", re.compile(r"softmax_cross_entropy")),
    ("embedding (gather, scatter)", re.compile(r"embedding_lookup|scatter_add_rows|RowSparse|row_sparse")),
    ("residual add, + wpe", re.compile(r"AddOp|add_broadcast|for_each_piece")),
    ("clip_grad_norm", re.compile(r"clip_grad_norm")),
    ("AdamW step", re.compile(r"optim::")),
    ("products: linear, matmul, head", re.compile(r"xgrad::matmul|xgrad::linear|matmul_transposed|accumulate_product|"
                                                  r"anonymous namespace\)::product|anonymous namespace\)::gemm")),
    ("gradient accumulation", re.compile(r"xgrad::Gradient::")),
    ("tape, buffers, frees", re.compile(r"xgrad::Tape|buffer_pool|Tensor::Node|~Tape|run_records")),
]


def classify(stack):
    """stack: [(symbol, dso)] innermost first -> (category, in_sgemm)."""
    in_blas = False
    for symbol, dso in stack:
        if "openblas" in dso or "blis" in dso or symbol.startswith("cblas_sgemm"):
            in_blas = True
        for name, pattern in CATEGORIES:
            if pattern.search(symbol):
                return name, in_blas
        if symbol.startswith("bench::") and "run_one" in symbol:
            break
    return "other", in_blas


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build-rel")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--case", default="B=12", help="a part of the transformer case's name")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--delay", type=int, default=2000, help="ms before sampling starts")
    p.add_argument("--freq", type=int, default=1000)
    a = p.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        run = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(a.freq), "-D", str(a.delay),
                              "--call-graph", "dwarf,32768", "-o", data, "--",
                              os.path.join(a.build, "bench", "xgrad_bench"), "--only", "transformer", "--threads",
                              str(a.threads), "--transformer-steps", str(a.steps), "--transformer-case", a.case],
                             env=env, capture_output=True, text=True, check=True)
        print("".join(line + "\n" for line in run.stdout.splitlines() if line.startswith("transformer")), end="")
        script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym,dso"], capture_output=True,
                                text=True, check=True).stdout
    counts = collections.Counter()
    total = 0
    for sample in script.split("\n\n"):
        lines = [l.strip() for l in sample.strip().splitlines()]
        if len(lines) < 2:
            continue
        stack = []
        for l in lines[1:]:
            m = re.match(r"[0-9a-f]+ (.*) \((.*)\)$", l)
            if m:
                stack.append((m.group(1), m.group(2)))
        if not any(s.startswith("bench::") and "run_one" in s for s, _ in stack) and \
                not any("parallel" in s and "worker" in s.lower() for s, _ in stack):
            if not any(s.startswith("xgrad::") for s, _ in stack):
                continue  # not the step (start-up, the sgemm peak), or an idle worker
        name, blas = classify(stack)
        counts[(name, blas)] += 1
        total += 1
    rows = collections.defaultdict(lambda: [0, 0])
    for (name, blas), n in counts.items():
        rows[name][0 if blas else 1] += n
    print(f"{'where':<32} {'share':>6} {'in sgemm':>9} {'own loops':>10}   ({total} samples, {a.threads} thread(s))")
    for name, (blas, own) in sorted(rows.items(), key=lambda kv: -sum(kv[1])):
        print(f"{name:<32} {100 * (blas + own) / total:5.1f}% {100 * blas / total:8.1f}% {100 * own / total:9.1f}%")
    blas = sum(v[0] for v in rows.values())
    print(f"{'all sgemm':<32} {100 * blas / total:5.1f}%")


if __name__ == "__main__":
    main()
