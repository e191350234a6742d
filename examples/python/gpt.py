#!/usr/bin/python3
"""next_token's GPT trained from Python on the shipped Genesis text, byte tokens (V = 256): the
same run as `next_token --model transformer` for the same flags, step for step.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/gpt.py --steps 30 --warmup 5 --eval-every 10

Everything the C++ tool does is written here over xgrad's Python API, in train.cpp's order:
the split (the last --validation-fraction of the bytes validates), batches of B windows drawn
with the tool's SplitMix64 stream (stream_seed(seed, 1)), the dropout key of step s
fold_in(fold_in(prng_key(seed), 3), s), AdamW (betas 0.9/0.99, eps 1e-8, weight decay on the
2-D weights) on the warmup-cosine schedule, clipping of the global gradient norm, and the
losses on --eval-windows evenly spaced windows of each split, measured before the first
step, every --eval-every steps (and at 1/8, 1/4 and 1/2 of it early on) and after the last.
The losses are the tool's bit for bit (tests/python/test_example_gpt.py compares them with
`next_token --json`). Not covered: --eval-batches, other token kinds, checkpoints.
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np

import xgrad
from xgrad import nn

CORPUS = Path(__file__).resolve().parents[1] / "data" / "genesis_kjv.txt"
MASK = (1 << 64) - 1
BATCH_STREAM, DROPOUT_STREAM = 1, 3  # train.hpp's stream purposes
EVAL_PREDICTIONS = 4096              # predicted tokens per forward pass when measuring a loss


def mix(z):
    """SplitMix64's finaliser (corpus.cpp)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream_seed(seed, purpose, offset=0):
    return mix((mix(seed ^ mix((purpose + 0x632BE59BD9B4E019) & MASK)) + offset) & MASK)


class Rng:
    """next_token's Rng: SplitMix64, below() unbiased by rejection."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        return mix(self.state)

    def below(self, bound):
        threshold = (1 << 64) % bound
        while True:
            r = self.next()
            if r >= threshold:
                return r % bound


def windows(tokens, ends, context):
    """Inputs (n, T) = tokens[e - T, e) and targets (n, T) = tokens[e - T + 1, e + 1)."""
    inputs = np.stack([tokens[e - context:e] for e in ends])
    targets = np.stack([tokens[e + 1 - context:e + 1] for e in ends])
    return inputs, targets


def evaluation_positions(n, context, max_windows):
    count = min(n - context, max_windows)
    return [context + k * (n - context) // count for k in range(count)]


def evaluate(gpt, tokens, positions):
    """The mean loss over every token predicted by the windows ending at `positions`, in chunks of
    4096 predictions, each chunk's float32 mean weighted in double (train.cpp's evaluate)."""
    context, vocab = gpt.config.context, gpt.config.vocab
    chunk = max(1, EVAL_PREDICTIONS // context)
    total = 0.0
    for first in range(0, len(positions), chunk):
        ends = positions[first:first + chunk]
        inputs, targets = windows(tokens, ends, context)
        with xgrad.Tape(inference=True):
            logits = gpt.logits(inputs, training=False).reshape(-1, vocab)
            total += float(xgrad.softmax_cross_entropy(logits, targets.reshape(-1)).item()) * len(ends)
    return total / len(positions)


def is_eval_step(done, every):
    if every == 0:
        return False
    return done % every == 0 or (every >= 8 and done < every and done in (every // 8, every // 4, every // 2))


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--validation-fraction", type=float, default=0.1)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--embed-dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--attention-dropout", type=float, default=0.2)
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--tie", action="store_true")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default: 3e-3")
    p.add_argument("--lr-final", type=float, default=None, help="default: 3e-4, or a tenth of a given --lr (the tool's)")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--eval-windows", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="xgrad's threads (the losses do not depend on it)")
    p.add_argument("--samples", type=int, default=1, help="texts generated at the end (gpt.generate)")
    p.add_argument("--json", type=Path, help="write the curve, batch losses and last gradient norm here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.lr_final is None:  # flags.cpp's rule, in float32 as it computes it
        args.lr_final = 3e-4 if args.lr is None else float(np.float32(args.lr) * (np.float32(3e-4) / np.float32(3e-3)))
    if args.lr is None:
        args.lr = 3e-3
    return args


def train(args, log=print):
    xgrad.set_num_threads(args.threads)
    tokens = np.frombuffer(args.corpus.read_bytes(), dtype=np.uint8).astype(np.int64)
    held_out = int(len(tokens) * args.validation_fraction + 0.5)
    train_part, validation = tokens[:len(tokens) - held_out], tokens[len(tokens) - held_out:]
    T, B = args.context, args.batch_size

    config = nn.GPTConfig(vocab=256, context=T, layers=args.layers, heads=args.heads, embed_dim=args.embed_dim,
                          dropout=args.dropout, attention_dropout=args.attention_dropout, bias=not args.no_bias,
                          tie=args.tie)
    gpt = nn.GPT(config, args.seed)
    parameters = gpt.tensors()
    optimizer = xgrad.optim.AdamW(gpt.parameter_groups(args.weight_decay), lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    schedule = xgrad.optim.WarmupCosineSchedule(args.lr, args.warmup, max(args.steps, args.warmup + 1), args.lr_final)
    dropout_root = xgrad.fold_in(xgrad.prng_key(args.seed), DROPOUT_STREAM)
    sampler = Rng(stream_seed(args.seed, BATCH_STREAM, 0))
    train_windows = len(train_part) - T
    fixed = (evaluation_positions(len(train_part), T, args.eval_windows),
             evaluation_positions(len(validation), T, args.eval_windows))

    def measure(step):
        point = {"step": step, "train": evaluate(gpt, train_part, fixed[0]),
                 "validation": evaluate(gpt, validation, fixed[1])}
        log(f"step {step:5d}  train {point['train']:.4f}  validation {point['validation']:.4f}")
        return point

    curve, batch_losses, grad_norm, done = [measure(0)], [], 0.0, 0
    for step in range(args.steps):
        ends = [T + sampler.below(train_windows) for _ in range(B)]
        inputs, targets = windows(train_part, ends, T)
        optimizer.lr = schedule(step)
        with xgrad.Tape():
            logits = gpt.logits(inputs, xgrad.fold_in(dropout_root, step)).reshape(-1, 256)
            loss = xgrad.softmax_cross_entropy(logits, targets.reshape(-1))
        value = loss.item()
        batch_losses.append(value)
        if not math.isfinite(value):
            log(f"step {step + 1}: the loss is {value}; stopping")
            break
        loss.backward()
        grad_norm = xgrad.optim.clip_grad_norm(parameters, args.clip) if args.clip > 0 else math.sqrt(
            sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in parameters))
        optimizer.step()
        optimizer.zero_grad()
        done += 1
        if step + 1 == args.steps or is_eval_step(step + 1, args.eval_every):
            curve.append(measure(step + 1))
    if curve[-1]["step"] != done:  # diverged: the losses where it stopped
        curve.append(measure(done))
    return gpt, {"curve": curve, "batch_losses": batch_losses, "grad_norm": grad_norm}


def main(argv=None):
    args = parse(argv)
    log = (lambda *_: None) if args.quiet else print
    gpt, result = train(args, log)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    for k in range(args.samples):
        ids = gpt.generate(list(b"And God said"), 120, temperature=0.8, key=xgrad.prng_key(k))
        log(repr(bytes(ids).decode("utf-8", errors="replace")))
    return result


if __name__ == "__main__":
    main()
