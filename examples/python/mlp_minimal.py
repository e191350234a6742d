#!/usr/bin/python3
"""The whole training loop of a small byte-level language model on one screen, in Python:
Embed -> concatenate -> Linear -> tanh -> Linear -> softmax cross-entropy, plain SGD
(examples/next_token_minimal.cpp, the same model and keys; batches from NumPy's generator).
Usage: PYTHONPATH=build/python python3 examples/python/mlp_minimal.py [corpus.txt] [steps]
Exits 1 unless the validation loss fell clearly and every embedding row that no batch fed is
bit-identical to its initial value."""
import sys
from pathlib import Path

import numpy as np

import xgrad

VOCAB = 256  # one token per byte value
CONTEXT, EMBED, HIDDEN, BATCH = 3, 16, 64, 64
DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "data" / "genesis_kjv.txt"


class Model:
    def __init__(self, root):
        self.embed = xgrad.Embed(VOCAB, EMBED, xgrad.fold_in(root, 0))
        self.hidden = xgrad.Linear(CONTEXT * EMBED, HIDDEN, xgrad.fold_in(root, 1))
        self.output = xgrad.Linear(HIDDEN, VOCAB, xgrad.fold_in(root, 2))

    def logits(self, tape, contexts):  # (B, C) ids -> (B, V); the layers take the tape, methods find it
        x = self.embed(tape, contexts).reshape(len(contexts), CONTEXT * EMBED)
        return self.output(tape, self.hidden(tape, x).tanh())

    def parameters(self):
        return self.embed.parameters() + self.hidden.parameters() + self.output.parameters()


def windows(data, starts):
    """CONTEXT bytes from each start as context (B, C), the byte after as target (B,)."""
    return data[starts[:, None] + np.arange(CONTEXT)], data[starts + CONTEXT]


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    data = np.frombuffer(path.read_bytes(), dtype=np.uint8).astype(np.int32)
    if len(data) < 100 * CONTEXT:
        sys.exit(f"mlp_minimal: cannot read a corpus from {path}")
    # The first 90% of the bytes train; the tail, text the model never sees, validates.
    split = len(data) // 10 * 9
    train, validation = data[:split], data[split:]

    model = Model(xgrad.prng_key(0))
    sgd = xgrad.SGD(model.parameters(), lr=1.0)

    # A fixed set of validation windows, evaluated on an inference tape: no record, no gradient.
    eval_contexts, eval_targets = windows(validation, np.arange(0, len(validation) - CONTEXT, 7))

    def validation_loss():
        with xgrad.Tape(inference=True) as tape:
            return xgrad.softmax_cross_entropy(model.logits(tape, eval_contexts), eval_targets).item()

    table = model.embed.embedding
    initial_table = table.value.copy()
    fed = np.zeros(VOCAB, dtype=bool)
    rng = np.random.default_rng(0)
    initial_loss = validation_loss()
    print(f"step     0  validation loss {initial_loss:.3f}")
    for step in range(1, steps + 1):
        contexts, targets = windows(train, rng.integers(0, len(train) - CONTEXT, BATCH))
        fed[contexts] = True

        with xgrad.Tape() as tape:  # a new tape per step
            loss = xgrad.softmax_cross_entropy(model.logits(tape, contexts), targets)
        loss.backward()
        sgd.step()  # the embedding's gradient is row-sparse: only the fed rows are written
        sgd.zero_grad()
        if step % 100 == 0 or step == steps:
            print(f"step {step:5d}  batch loss {loss.item():.3f}  validation loss {validation_loss():.3f}")

    # Byte for byte: a never-fed row that moved by one ulp is a bug, not rounding.
    moved = (table.value != initial_table).any(axis=1)
    unfed_moved = int((moved & ~fed).sum())
    print(f"embedding rows moved: {moved.sum()}, rows fed: {fed.sum()} of {VOCAB}; "
          f"never-fed rows that moved: {unfed_moved}")
    final_loss = validation_loss()
    ok = final_loss < 0.9 * initial_loss and unfed_moved == 0
    print(f"validation loss {initial_loss:.3f} -> {final_loss:.3f}: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
