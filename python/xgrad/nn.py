"""xgrad.nn: layers built from a Scope, as in C++ (layers/*.hpp), so names, keys and the
parameter list come from one object and a model built here has the C++ model's parameters,
bit for bit:

    root = xgrad.nn.Scope(seed)                                  # or Scope(xgrad.Key)
    block = xgrad.nn.TransformerBlock(root.child("h0"), C, heads, layers=L)
    head = xgrad.nn.Linear(root.child("head"), C, V, use_bias=False)
    with xgrad.Tape():
        logits = head(block(x))                                  # or head(tape, x) without a block
    root.parameters()                                            # [("h0.ln1.weight", Tensor), ...]

Scope, LayerNorm, CausalSelfAttention, MLPBlock and TransformerBlock are the C++ classes;
Embed and Linear are xgrad.Embed and xgrad.Linear (one class each, with a standalone and a
scope constructor); Dropout is written here over the xgrad.dropout op. GPT and GPTConfig are
models/gpt.hpp's model, the one `next_token --model transformer` trains. Every layer call has
the ops' two forms: layer(x, ...) records on the innermost `with xgrad.Tape()` block's tape,
layer(tape, x, ...) on the tape it is given. docs/python.md has the guide."""
from numbers import Real

from ._xgrad import Embed, Key, Linear, Tape, Tensor, current_tape
from ._xgrad import dropout as _dropout
from ._xgrad._nn import GPT, CausalSelfAttention, GPTConfig, LayerNorm, MLPBlock, Scope, TransformerBlock

__all__ = ["Scope", "Embed", "Linear", "LayerNorm", "CausalSelfAttention", "MLPBlock", "TransformerBlock",
           "Dropout", "GPTConfig", "GPT"]

for _cls in (Scope, LayerNorm, CausalSelfAttention, MLPBlock, TransformerBlock, GPTConfig, GPT):
    _cls.__module__ = __name__
del _cls

_NO_KEY = Key(0, 0)  # what an undrawn dropout is handed: an inference tape draws nothing


class Dropout:
    """Inverted dropout as a layer, Flax's nn.Dropout(rate): y = mask ? x / (1 - rate) : 0 with
    mask = uniform(key, x.shape) < 1 - rate (the xgrad.dropout op, core/ops.hpp).

    Dropout(rate): TypeError for a rate that is not a number, ValueError unless 0 <= rate < 1.
    drop(x, key=None, training=True) on the current `with` block's tape, drop(tape, x, ...) on
    a given one. x itself, with nothing recorded, when training is False, rate is 0 or the
    tape is an inference tape; otherwise key (an xgrad.Key, a new one each step) is required."""

    def __init__(self, rate):
        if isinstance(rate, bool) or not isinstance(rate, Real):
            raise TypeError(f"Dropout: rate must be a number, got {rate!r}")
        if not 0 <= rate < 1:  # NaN fails too
            raise ValueError(f"Dropout: rate must lie in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def __call__(self, *args, key=None, training=True):
        tape = None
        if args and isinstance(args[0], Tape):
            tape, args = args[0], args[1:]
        if len(args) == 2 and key is None:
            x, key = args
        elif len(args) == 1:
            (x,) = args
        else:
            raise TypeError("Dropout: call drop(x, key=None, training=True) or drop(tape, x, key=None, "
                            f"training=True), got {len(args)} positional arguments after the tape")
        if not isinstance(x, Tensor):
            raise TypeError(f"Dropout: x must be an xgrad.Tensor, got {x!r}")
        if not isinstance(training, bool):
            raise TypeError(f"Dropout: training must be True or False, got {training!r}")
        if not training or self.rate == 0.0:
            return x
        if key is None:
            target = tape if tape is not None else current_tape()
            if target is not None and target.mode == Tape.Mode.training:
                raise ValueError(f"Dropout: key is None, but dropout {self.rate} is drawn when training on a "
                                 "training tape: pass an xgrad.Key, a new one each step (xgrad.fold_in(key, "
                                 "step)), or training=False")
            key = _NO_KEY  # an inference tape, or no tape at all: nothing is drawn
        return _dropout(x, self.rate, key) if tape is None else _dropout(tape, x, self.rate, key)

    def __repr__(self):
        return f"Dropout(rate={self.rate})"

