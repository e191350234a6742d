#!/usr/bin/python3
"""The quality half of the transformer comparison: trains bench/torch_transformer.py's GPT
with next_token's transformer recipe (byte tokens, the last 10% of the corpus held out as
next_token splits it, AdamW lr with linear warmup then cosine decay to a tenth, clipping at
1.0) and prints its validation loss, measured over the whole validation split in
consecutive windows of T + 1 bytes (every position predicted once, mean nats per byte).
Compare with `next_token --model transformer` run with the same flags. nanoGPT's
Shakespeare-char CPU recipe: --tokens char --tie --no-bias --layers 4 --batch-size 12 --lr 1e-3
(--corpus the Tiny Shakespeare text; the vocabulary is its sorted distinct characters).
usage: OMP_NUM_THREADS=1 /usr/bin/python3 bench/transformer_twin.py [--steps 2000] [--layers 2] ..."""
import argparse
import math
import time

import torch

import torch_transformer as tt

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--corpus", default="examples/data/genesis_kjv.txt")
p.add_argument("--steps", type=int, default=2000)
p.add_argument("--layers", type=int, default=2)
p.add_argument("--embed-dim", type=int, default=128)
p.add_argument("--heads", type=int, default=4)
p.add_argument("--context", type=int, default=64)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--lr", type=float, default=3e-3)
p.add_argument("--warmup", type=int, default=100)
p.add_argument("--dropout", type=float, default=0.0)
p.add_argument("--attention-dropout", type=float, default=0.0, help="on softmax(q k^T), as nanoGPT's attn_dropout")
p.add_argument("--tokens", choices=("byte", "char"), default="byte",
               help="char: the corpus's distinct characters, sorted, as nanoGPT's prepare.py")
p.add_argument("--tie", action="store_true", help="the head's weight is the token table (nanoGPT's)")
p.add_argument("--no-bias", action="store_true", help="Linear and LayerNorm without bias (nanoGPT's bias = False)")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

if a.tokens == "char":
    text = open(a.corpus, encoding="utf-8").read()
    index = {ch: i for i, ch in enumerate(sorted(set(text)))}
    data, vocab = torch.tensor([index[ch] for ch in text], dtype=torch.long), len(index)
else:
    data, vocab = torch.tensor(list(open(a.corpus, "rb").read()), dtype=torch.long), 256
n_val = int(len(data) * 0.1 + 0.5)  # next_token's split_tokens rounding
train, val = data[: len(data) - n_val], data[len(data) - n_val:]
model = tt.GPT(a.layers, a.embed_dim, a.heads, a.context, vocab=vocab, dropout=a.dropout,
               attention_dropout=a.attention_dropout, bias=not a.no_bias, tie=a.tie)
opt = tt.optimizer(model, a.lr)
g = torch.Generator().manual_seed(a.seed + 1)


def lr_at(step):  # optim::WarmupCosineSchedule (nanoGPT's get_lr), to lr / 10 at the last step
    if step < a.warmup:
        return a.lr * (step + 1) / (a.warmup + 1)
    progress = min(1.0, (step - a.warmup) / max(1, a.steps - a.warmup))
    return a.lr / 10 + 0.5 * (1 + math.cos(math.pi * progress)) * (a.lr - a.lr / 10)


@torch.no_grad()
def evaluate(src):
    model.eval()
    T = a.context
    windows = (len(src) - 1) // T
    total, count = 0.0, 0
    for start in range(0, windows, 64):
        rows = range(start, min(windows, start + 64))
        x = torch.stack([src[r * T: r * T + T] for r in rows])
        y = torch.stack([src[r * T + 1: r * T + T + 1] for r in rows])
        total += model(x, y).item() * x.numel()
        count += x.numel()
    model.train()
    return total / count


t0 = time.perf_counter()
for step in range(a.steps):
    for group in opt.param_groups:
        group["lr"] = lr_at(step)
    ix = torch.randint(len(train) - a.context - 1, (a.batch_size,), generator=g)
    x = torch.stack([train[i: i + a.context] for i in ix])
    y = torch.stack([train[i + 1: i + 1 + a.context] for i in ix])
    tt.train_step(model, opt, x, y)
seconds = time.perf_counter() - t0
val = evaluate(val)
print(f"torch {torch.__version__} threads={a.threads} L={a.layers} C={a.embed_dim} H={a.heads} T={a.context} "
      f"B={a.batch_size} V={vocab}{' tie' if a.tie else ''}{' nobias' if a.no_bias else ''} lr={a.lr} dropout={a.dropout}"
      f"{f' attention_dropout={a.attention_dropout}' if a.attention_dropout > 0 else ''} steps={a.steps}: val {val:.4f} nats/token "
      f"({val / math.log(2):.4f} bits/token), {a.steps * a.batch_size * a.context / seconds:,.0f} tokens/s")
