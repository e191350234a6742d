#!/usr/bin/python3
"""What one training step of micrograd's moons demo costs from Python (issue 20: under 1 ms),
and one scalar operator call (under 3 us), each with PyTorch's same work in the same run.

The step is examples/python/moons.py's train_step: 100 points through the 2-16-16-1 relu
MLP on a new tape, the hinge loss plus L2 regularisation and the accuracy, backward, and an
xgrad.optim.SGD step. PyTorch's twin does the same in float32 (torch.optim.SGD, the same
initial weights); before timing, both run micrograd's 100 steps from the same start and the
largest relative difference of their losses is printed, to show that they compute the same
thing. The step is timed in parts (forward, backward with zero_grad, the SGD update) with
time.perf_counter around each of `--repeats` consecutive steps; the median per part and per
whole step is taken in each round, xgrad and PyTorch alternate over `--rounds` rounds (so
drift on a shared machine hits both), and the median over the rounds is reported.

The operator call is bench/python_call_bench.py's: `a * b` on two 0-d tensors that require a
gradient, inside `with xgrad.Tape()`; PyTorch's is the same with autograd recording.
Both libraries run on one thread (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)).
Without torch it says so and times xgrad alone.

usage: bench/python_moons_bench.py [--build DIR] [--rounds N] [--repeats N] [--json FILE]
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
STEP_TARGET_S = 1e-3      # issue 20: one moons step under 1 ms
OPERATOR_TARGET_S = 3e-6  # issue 20: a scalar operator call under 3 us
PARTS = ("forward", "backward", "update", "step")


def xgrad_setup(moons, xgrad):
    X, y, model = moons.data_and_model()
    optimizer = xgrad.optim.SGD(model.parameters(), lr=1.0)
    schedule = xgrad.optim.LinearDecaySchedule(1.0, 0.1, moons.STEPS)
    params = model.parameters()

    def step(k):
        t0 = time.perf_counter()
        with xgrad.Tape():
            loss, _accuracy = moons.loss_and_accuracy(model, X, y)
        t1 = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.lr = schedule(k % moons.STEPS)
        optimizer.step()
        t3 = time.perf_counter()
        return (t1 - t0, t2 - t1, t3 - t2, t3 - t0), loss.item()

    return step, [p.numpy() for p in params]


def torch_setup(moons, torch, initial):
    X, y, _ = moons.data_and_model()
    X, y = torch.tensor(X.numpy()), torch.tensor(y.numpy())
    params = [torch.tensor(p, requires_grad=True) for p in initial]
    optimizer = torch.optim.SGD(params, lr=1.0)

    def loss_and_accuracy():
        h = X
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k < len(params) - 2:
                h = h.relu()
        data_loss = (1 - y * h).relu().mean()
        reg_loss = moons.ALPHA * sum((p * p).sum() for p in params)
        accuracy = ((y > 0) == (h > 0)).float().mean().item()
        return data_loss + reg_loss, accuracy

    def step(k):
        t0 = time.perf_counter()
        loss, _accuracy = loss_and_accuracy()
        t1 = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.param_groups[0]["lr"] = 1.0 - 0.9 * (k % moons.STEPS) / moons.STEPS
        optimizer.step()
        t3 = time.perf_counter()
        return (t1 - t0, t2 - t1, t3 - t2, t3 - t0), loss.item()

    return step


def round_medians(step, start, repeats):
    samples = [step(start + i)[0] for i in range(repeats)]
    return [statistics.median(s[p] for s in samples) for p in range(len(PARTS))]


def torch_operator_per_call(torch, loops, min_loop_s):
    a = torch.tensor(1.5, requires_grad=True)
    b = torch.tensor(-2.0, requires_grad=True)

    def loop(calls):
        start = time.perf_counter()
        for _ in range(calls):
            a * b
        return time.perf_counter() - start

    calls = 1
    while loop(calls) < min_loop_s:
        calls *= 2
    return statistics.median(loop(calls) / calls for _ in range(loops))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=str(REPO / "build"), help="the CMake build directory (default: build)")
    parser.add_argument("--rounds", type=int, default=5, help="xgrad and PyTorch alternate this many times")
    parser.add_argument("--repeats", type=int, default=301, help="steps timed per library per round")
    parser.add_argument("--json", help="also write the records to FILE")
    args = parser.parse_args()

    sys.path.insert(0, os.path.join(args.build, "python"))
    sys.path.insert(0, str(REPO / "examples" / "python"))
    sys.path.insert(0, str(REPO / "bench"))
    import xgrad  # from the build tree named by --build
    import moons
    import python_call_bench
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
        print("python_moons_bench: PyTorch is not installed; timing xgrad alone")

    xgrad_step, initial = xgrad_setup(moons, xgrad)
    if torch:
        torch_step = torch_setup(moons, torch, initial)
        worst = 0.0
        for k in range(moons.STEPS):  # micrograd's run from the same start, in both libraries
            x_loss, t_loss = xgrad_step(k)[1], torch_step(k)[1]
            worst = max(worst, abs(x_loss - t_loss) / abs(t_loss))
        print(f"python_moons_bench: micrograd's 100 steps from the same start: losses differ by at most "
              f"{worst:.1e} relative between xgrad and PyTorch")

    medians = {"xgrad": [], "torch": []}
    start = moons.STEPS
    for _ in range(args.rounds):
        medians["xgrad"].append(round_medians(xgrad_step, start, args.repeats))
        if torch:
            medians["torch"].append(round_medians(torch_step, start, args.repeats))
        start += args.repeats
    result = {lib: [statistics.median(r[p] for r in rounds) for p in range(len(PARTS))]
              for lib, rounds in medians.items() if rounds}

    operator = {"xgrad": statistics.median(python_call_bench.operator_per_call(xgrad) for _ in range(args.rounds))}
    if torch:
        operator["torch"] = statistics.median(
            torch_operator_per_call(torch, python_call_bench.LOOPS, python_call_bench.MIN_LOOP_S)
            for _ in range(args.rounds))

    print(f"python_moons_bench: medians over {args.rounds} rounds (each the median of {args.repeats} steps), "
          f"1 thread, load average {os.getloadavg()[0]:.1f}")
    print(f"{'moons step (100 points, 2-16-16-1)':<36} {'xgrad':>10} {'PyTorch':>10} {'xgrad/PyTorch':>14}")
    for p, part in enumerate(PARTS):
        x = result["xgrad"][p]
        t = result["torch"][p] if torch else float("nan")
        print(f"  {part:<34} {x * 1e6:7.1f} us {t * 1e6:7.1f} us {x / t:13.2f}x")
    step_s = result["xgrad"][PARTS.index("step")]
    print(f"  one step {'met' if step_s < STEP_TARGET_S else 'MISSED'} (under {STEP_TARGET_S * 1e3:.0f} ms)")
    t = operator.get("torch", float("nan"))
    print(f"{'a * b, 0-d, recorded':<36} {operator['xgrad'] * 1e6:7.2f} us {t * 1e6:7.2f} us "
          f"{operator['xgrad'] / t:13.2f}x")
    print(f"  one call {'met' if operator['xgrad'] < OPERATOR_TARGET_S else 'MISSED'} "
          f"(under {OPERATOR_TARGET_S * 1e6:.0f} us)")

    if args.json:
        records = [{"case": f"moons {part}", "xgrad_s": result["xgrad"][p],
                    "torch_s": result["torch"][p] if torch else None} for p, part in enumerate(PARTS)]
        records.append({"case": "a * b, 0-d, recorded", "xgrad_s": operator["xgrad"], "torch_s": operator.get("torch")})
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
