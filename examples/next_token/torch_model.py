#!/usr/bin/python3
"""A next_token checkpoint as a PyTorch model, for users who outgrow xgrad.

Reads a checkpoint directory (`next_token --save DIR`: manifest.json and one .npy per
parameter, Flax's layout, kernels (in, out)) with NumPy and json only, builds the same
context-window MLP from torch.nn (Embedding, Linear with the kernels transposed, tanh;
Embed.attend as the embedding's transpose when the manifest says "tie"), rebuilds the
validation split and the evaluation windows exactly as next_token does (corpus.cpp:
Vocabulary::encode, split_tokens, evaluation_positions) and prints the validation loss in
nats per token, which equals the `val_loss` of that run's --json summary.

usage: torch_model.py DIR [--corpus FILE] [--validation-fraction F] [--eval-windows N]

--validation-fraction and --eval-windows are not in the manifest: pass what the run was
given (defaults: next_token's own, 0.1 and 20000). The corpus defaults to the one the
manifest records, as the run named it.

    from torch_model import NextTokenMLP
    model = NextTokenMLP.from_checkpoint("ckpt")   # an nn.Module to fine-tune in PyTorch
"""
import argparse
import json
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FORMAT, VERSIONS = "xgrad next_token checkpoint", (2, 3)
EVAL_CHUNK = 1024  # windows per forward pass, as kEvalChunk in train.cpp

# corpus.cpp's split_words on the UTF-8 bytes: runs of word characters (ASCII letters and
# digits, apostrophes, every byte of a non-ASCII character), and each other non-space
# character alone.
WORD_CHARS = rb"A-Za-z0-9'\x80-\xff"
WORDS = re.compile(rb"[" + WORD_CHARS + rb"]+|[^" + WORD_CHARS + rb" \t\n\r\f\v]")


class CheckpointError(Exception):
    pass


def read_checkpoint(directory):
    """The manifest and {parameter name: float32 array}, each checked against the manifest."""
    path = os.path.join(directory, "manifest.json")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from e
    if manifest.get("format") != FORMAT or manifest.get("version") not in VERSIONS:
        raise CheckpointError(f"{path}: not a version 2 or 3 next_token checkpoint manifest")
    if manifest["model"].get("kind", "mlp") != "mlp":
        raise CheckpointError(f"{path}: holds a {manifest['model']['kind']} model; this script rebuilds the MLP")
    arrays = {}
    for entry in manifest["parameters"]:
        try:
            array = np.load(os.path.join(directory, entry["file"]), allow_pickle=False)
        except (OSError, ValueError) as e:
            raise CheckpointError(f"cannot load parameter {entry['name']}: {e}") from e
        if array.dtype != np.float32 or list(array.shape) != entry["shape"]:
            raise CheckpointError(f"{entry['file']}: {array.dtype} {list(array.shape)}, the manifest says "
                                  f"{entry['dtype']} {entry['shape']}")
        arrays[entry["name"]] = array
    return manifest, arrays


class NextTokenMLP(nn.Module):
    """model.hpp's Model: ids (B, C) -> Embedding -> concatenate (B, C*D) -> Linear (B, H)
    -> tanh -> Linear (B, V) logits; with tie, -> Linear (B, D) -> the embedding's transpose.
    hidden = 0 drops the Linear + tanh; the tied bigram (C = 1, H = 0) has no Linear at all.
    Submodules are named as the checkpoint's parameters (embed, hidden, output or project)."""

    def __init__(self, vocab, context, embed_dim, hidden, tie):
        super().__init__()
        self.context, self.tie = context, tie
        self.embed = nn.Embedding(vocab, embed_dim)
        width = context * embed_dim
        self.hidden = nn.Linear(width, hidden) if hidden > 0 else None
        width = hidden if hidden > 0 else width
        self.output = nn.Linear(width, vocab) if not tie else None
        self.project = nn.Linear(width, embed_dim) if tie and (width != embed_dim or hidden > 0) else None

    def forward(self, contexts):
        x = self.embed(contexts).reshape(contexts.shape[0], -1)
        if self.hidden is not None:
            x = torch.tanh(self.hidden(x))
        if not self.tie:
            return self.output(x)
        if self.project is not None:
            x = self.project(x)
        return x @ self.embed.weight.T

    @classmethod
    def from_checkpoint(cls, directory):
        return cls.from_arrays(*read_checkpoint(directory))

    @classmethod
    def from_arrays(cls, manifest, arrays):
        m = manifest["model"]
        model = cls(m["vocab"], m["context"], m["embed_dim"], m["hidden"], m["tie"])
        names = {"embed.embedding": "embed.weight"}  # checkpoint name -> state_dict key
        for layer in ("hidden", "output", "project"):
            if getattr(model, layer) is not None:
                names.update({layer + ".kernel": layer + ".weight", layer + ".bias": layer + ".bias"})
        if set(names) != set(arrays):
            raise CheckpointError(f"the checkpoint holds {sorted(arrays)}, {m['layers']} needs {sorted(names)}")
        # Flax's Dense keeps kernel (in, out); nn.Linear keeps weight (out, in).
        state = {key: arrays[name].T if name.endswith(".kernel") else arrays[name] for name, key in names.items()}
        model.load_state_dict({key: torch.from_numpy(np.ascontiguousarray(v)) for key, v in state.items()})
        return model


def encode(text, manifest):
    """Vocabulary::encode: byte values, character ids (the manifest's characters in order), or
    word ids with 0 for <unk>."""
    if manifest["model"]["tokens"] == "byte":
        return np.frombuffer(text, dtype=np.uint8).astype(np.int64)
    if manifest["model"]["tokens"] == "char":
        index = {c: i for i, c in enumerate(manifest["vocabulary"])}
        return np.array([index[c] for c in text.decode("utf-8")], dtype=np.int64)
    index = {word.encode("utf-8"): i for i, word in enumerate(manifest["vocabulary"])}
    return np.array([index.get(w, 0) for w in WORDS.findall(text)], dtype=np.int64)


def validation_tokens(tokens, validation_fraction, context):
    """split_tokens's tail: round(N * fraction) tokens, rounded half up in double precision."""
    n = len(tokens)
    validation = int(n * validation_fraction + 0.5)
    train = n - min(validation, n)
    if train < context + 1 or n - train < context + 1:
        raise CheckpointError(f"{n} tokens are too few for a context of {context} in both parts")
    return tokens[train:]


def evaluation_positions(tokens, context, max_windows):
    """Targets' indices of up to max_windows windows spread evenly over the stream."""
    windows = max(tokens - context, 0)
    count = min(windows, max_windows)
    return [context + k * windows // count for k in range(count)]


@torch.no_grad()
def mean_loss(model, tokens, positions):
    """train.cpp's evaluate: float32 cross-entropy per chunk, the chunks' means weighted in double."""
    targets = torch.from_numpy(tokens[positions])
    offsets = np.arange(-model.context, 0)
    total = 0.0
    for first in range(0, len(positions), EVAL_CHUNK):
        chunk = np.asarray(positions[first:first + EVAL_CHUNK])
        contexts = torch.from_numpy(tokens[chunk[:, None] + offsets])
        loss = F.cross_entropy(model(contexts), targets[first:first + len(chunk)])
        total += float(loss) * len(chunk)
    return total / len(positions) if positions else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", metavar="DIR", help="a next_token --save directory")
    parser.add_argument("--corpus", help="the corpus the run trained on (default: the manifest's run.corpus)")
    parser.add_argument("--validation-fraction", type=float, default=0.1, help="as given to next_token (default 0.1)")
    parser.add_argument("--eval-windows", type=int, default=20000, help="as given to next_token (default 20000)")
    args = parser.parse_args(argv)
    try:
        manifest, arrays = read_checkpoint(args.checkpoint)
        model = NextTokenMLP.from_arrays(manifest, arrays)
        corpus = args.corpus or manifest.get("run", {}).get("corpus")
        if not corpus:
            raise CheckpointError("the manifest names no corpus: pass --corpus")
        try:
            with open(corpus, "rb") as f:
                text = f.read()
        except OSError as e:
            raise CheckpointError(f"cannot read corpus {corpus} ({e}); pass --corpus") from e
        context = manifest["model"]["context"]
        tokens = validation_tokens(encode(text, manifest), args.validation_fraction, context)
        positions = evaluation_positions(len(tokens), context, args.eval_windows)
        loss = mean_loss(model.eval(), tokens, positions)
    except CheckpointError as e:
        sys.exit(f"torch_model.py: {e}")
    print(f"model: {manifest['model']['layers']}, step {manifest['step']}, in PyTorch {torch.__version__}")
    print(f"validation loss {loss:.6f} nats per token "
          f"({len(positions)} windows of {len(tokens)} validation tokens)")


if __name__ == "__main__":
    main()
