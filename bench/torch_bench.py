#!/usr/bin/python3
"""The PyTorch side of the benchmark: the cases xgrad_bench measures, with the same names,
timed the same way (2 warm-up calls, repeat until a time budget, median of one call,
16 rotating pre-drawn id batches). Run by bench/run.sh once per thread count, with
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to match (torch 1.13 from Debian does not
pass set_num_threads on to OpenBLAS). Installs nothing: without torch it says so and exits 0.
"""
import argparse
import json
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch_bench: skipped: torch not installed (apt-get install python3-torch)")
    sys.exit(0)

LR = 0.01


def median_time(run, setup=None, budget=0.2, min_reps=20, warmup=2, batches=16):
    """Median seconds of run(b) over rotating batches; setup(b) runs untimed before each."""
    samples = []
    b = 0
    start = time.perf_counter()
    for _ in range(warmup):
        if setup:
            setup(b % batches)
        run(b % batches)
        b += 1
    while len(samples) < min_reps or time.perf_counter() - start < budget:
        if setup:
            setup(b % batches)
        t0 = time.perf_counter()
        run(b % batches)
        samples.append(time.perf_counter() - t0)
        b += 1
    return float(np.median(samples))


def draw_batches(vocab, tokens, dist, count, seed):
    rng = np.random.default_rng(seed)
    if dist == "uniform":
        return [torch.from_numpy(rng.integers(0, vocab, tokens)) for _ in range(count)]
    cdf = np.cumsum(1.0 / np.arange(1, vocab + 1))
    row_of_rank = rng.permutation(vocab)
    out = []
    for _ in range(count):
        ranks = np.minimum(np.searchsorted(cdf, rng.uniform(0, cdf[-1], tokens), side="right"), vocab - 1)
        out.append(torch.from_numpy(row_of_rank[ranks]))
    return out


class Records(list):
    """The measured cases, each printed as it is added."""

    def append(self, record):
        print(f"{record[0]:<48} torch {record[1] * 1e6:12.2f} us", flush=True)
        super().append(record)


def name(kernel, v, d, t, dist, threads):
    return f"{kernel} V={v} D={d} T={t} {dist} t={threads}"


def embedding_cases(weight, v, d, t, dist, threads, budget, records, dense):
    ids = draw_batches(v, t, dist, 16, v * 31 + d * 7 + t + (dist == "zipf"))
    dy = torch.full((t, d), 1e-3)
    opt = torch.optim.SGD([weight], lr=LR)
    state = {}

    def fwd(b):
        F.embedding(ids[b], weight, sparse=True)

    records.append((name("fwd", v, d, t, dist, threads), median_time(fwd, budget=budget)))

    def bwd_setup(b):
        weight.grad = None
        state["y"] = F.embedding(ids[b], weight, sparse=True)

    def bwd(b):
        state["y"].backward(dy)

    records.append((name("bwd", v, d, t, dist, threads), median_time(bwd, bwd_setup, budget=budget)))

    def sgd_setup(b):
        bwd_setup(b)
        bwd(b)

    def sgd(b):
        opt.step()

    records.append((name("sgd", v, d, t, dist, threads), median_time(sgd, sgd_setup, budget=budget)))

    def full(b):
        opt.zero_grad()
        loss = F.embedding(ids[b], weight, sparse=True).pow(2).mean()
        loss.backward()
        opt.step()

    records.append((name("full", v, d, t, dist, threads), median_time(full, budget=budget)))
    weight.grad = None
    if dense:
        def dense_step(b):
            opt.zero_grad()
            loss = F.embedding(ids[b], weight, sparse=False).pow(2).mean()
            loss.backward()
            opt.step()

        records.append((name("dense", v, d, t, "uniform", threads),
                        median_time(dense_step, budget=budget, min_reps=6, warmup=1)))
        weight.grad = None


def overhead_case(threads, budget, records):
    weight = torch.nn.Parameter(torch.empty(50000, 64).uniform_(-1, 1))
    ids = draw_batches(50000, 1, "uniform", 16, 1)
    opt = torch.optim.SGD([weight], lr=LR)

    def full(b):
        opt.zero_grad()
        F.embedding(ids[b], weight, sparse=True).pow(2).mean().backward()
        opt.step()

    records.append((name("full", 50000, 64, 1, "uniform", threads), median_time(full, budget=budget, min_reps=1000)))


def lm_cases(threads, records):
    torch.manual_seed(0)
    vocab, width, tokens = 5000, 64, 4096
    embed = torch.nn.Embedding(vocab, width, sparse=True)
    head = torch.nn.Linear(width, vocab)
    opt = torch.optim.SGD(list(embed.parameters()) + list(head.parameters()), lr=0.1)
    inputs = draw_batches(vocab, tokens, "uniform", 4, 11)
    targets = draw_batches(vocab, tokens, "uniform", 4, 12)

    def bigram(b):
        opt.zero_grad()
        F.cross_entropy(head(embed(inputs[b])), targets[b]).backward()
        opt.step()

    seconds = median_time(bigram, budget=3.0, min_reps=8, warmup=1, batches=4)
    records.append((f"lm bigram V={vocab} D={width} T={tokens} t={threads}", seconds))

    vocab, context, width, hidden, batch = 256, 3, 16, 192, 128
    embed = torch.nn.Embedding(vocab, width, sparse=True)
    first = torch.nn.Linear(context * width, hidden)
    second = torch.nn.Linear(hidden, vocab)
    params = list(embed.parameters()) + list(first.parameters()) + list(second.parameters())
    opt = torch.optim.SGD(params, lr=0.1)
    contexts = [x.view(batch, context) for x in draw_batches(vocab, batch * context, "uniform", 16, 11)]
    targets = draw_batches(vocab, batch, "uniform", 16, 12)

    def mlp(b):
        opt.zero_grad()
        x = embed(contexts[b]).view(batch, context * width)
        F.cross_entropy(second(torch.tanh(first(x))), targets[b]).backward()
        opt.step()

    seconds = median_time(mlp, budget=1.0, min_reps=100, warmup=1)
    records.append((f"lm mlp C={context} V={vocab} D={width} H={hidden} B={batch} t={threads}", seconds))


# The default GPT, and nanoGPT's Shakespeare-char CPU recipe (its README's command with
# config/train_shakespeare_char.py: 65 characters, bias = False, the head tied to wte).
TRANSFORMERS = [dict(layers=2, heads=4, width=128, context=64, batch=32, vocab=256, bias=True, tie=False),
                dict(layers=4, heads=4, width=128, context=64, batch=12, vocab=65, bias=False, tie=True)]


def transformer_name(c, threads):
    """As xgrad_bench names the case (bench/transformer_bench.cpp): V, tie and nobias only when
    they differ from the default GPT's."""
    extra = (f" V={c['vocab']}" if c["vocab"] != 256 else "") + (" tie" if c["tie"] else "") + \
        ("" if c["bias"] else " nobias")
    return (f"transformer L={c['layers']} H={c['heads']} C={c['width']} T={c['context']} B={c['batch']}"
            f"{extra} t={threads}")


def transformer_case(threads, records, steps=30):
    """One training step (forward, backward, clipping, AdamW) of each model on random tokens,
    median over `steps` after 3 warm-up steps."""
    import torch_transformer as tt
    for c in TRANSFORMERS:
        torch.manual_seed(0)
        model = tt.GPT(c["layers"], c["width"], c["heads"], c["context"], vocab=c["vocab"], bias=c["bias"],
                       tie=c["tie"])
        opt = tt.optimizer(model, 3e-3)
        g = torch.Generator().manual_seed(1)
        batches = [torch.randint(c["vocab"], (c["batch"], c["context"] + 1), generator=g) for _ in range(8)]

        def step(b):
            tt.train_step(model, opt, batches[b][:, :-1], batches[b][:, 1:])

        seconds = median_time(step, budget=0.0, min_reps=steps, warmup=3, batches=len(batches))
        records.append((transformer_name(c, threads), seconds))


def pin_openmp_team(threads):
    """The method bench/README.md describes: on this VM, unpinned OpenMP regions whose workers have gone
    to sleep stall for whole scheduler ticks (medians of 8 or 12 ms for microseconds of work).
    Pin the main thread to cpu 0 and the OpenMP workers to the next cpus, after OpenBLAS has
    created its own workers (at import), which stay unpinned."""
    before = set(os.listdir("/proc/self/task"))
    torch.ones(1 << 22).add_(1.0).sum()  # starts the OpenMP team
    workers = sorted(set(os.listdir("/proc/self/task")) - before, key=int)
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[0]})
    for k, tid in enumerate(workers[: threads - 1]):
        os.sched_setaffinity(int(tid), {cpus[(k + 1) % len(cpus)]})
    return len(workers)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", required=True)
    parser.add_argument("--budget", type=float, default=0.2)
    parser.add_argument("--vocabs", default="1000,50000,1000000")
    parser.add_argument("--widths", default="64,256")
    parser.add_argument("--tokens", default="512,8192")
    parser.add_argument("--only", default="embedding,overhead,lm,transformer")
    parser.add_argument("--no-dense", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pinned = pin_openmp_team(args.threads) if args.threads > 1 else 0
    print(f"torch_bench: torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
          + (f", OpenMP team pinned ({pinned} worker(s))" if pinned else ""), flush=True)
    records = Records()
    only = args.only.split(",")
    if "overhead" in only:
        overhead_case(args.threads, args.budget, records)
    if "lm" in only:
        lm_cases(args.threads, records)
    if "transformer" in only:
        transformer_case(args.threads, records)
    if "embedding" in only:
        for v in map(int, args.vocabs.split(",")):
            for d in map(int, args.widths.split(",")):
                weight = torch.nn.Parameter(torch.empty(v, d).uniform_(-1, 1))
                for t in map(int, args.tokens.split(",")):
                    for dist in ("uniform", "zipf"):
                        embedding_cases(weight, v, d, t, dist, args.threads, args.budget, records,
                                        dense=(dist == "uniform" and not args.no_dense))
                del weight
    with open(args.json, "w") as out:
        json.dump([{"case": c, "torch_s": s} for c, s in records], out, indent=1)
    print(f"torch_bench: {len(records)} cases written to {args.json}")


if __name__ == "__main__":
    main()
