"""xgrad: a small reverse-mode autodiff library whose token embedding has row-sparse
gradients, and Flax's token_embed_forward bit for bit. Values are float32, ids int32.

    import xgrad
    a = xgrad.Tensor(2.0, requires_grad=True)
    b = xgrad.Tensor(-3.0, requires_grad=True)
    with xgrad.Tape() as tape:       # operators and op functions record on `tape`
        c = (a * b + b ** 2).relu()
    c.backward()                      # tape.backward(c)
    a.grad, b.grad                    # NumPy arrays of a's and b's shapes

The compiled engine is the extension xgrad._xgrad; this package re-exports it and adds the
parts written in Python (python/xgrad/*.py), so `import xgrad` is the only import needed.
docs/python.md is the guide."""
import sys as _sys

from . import _xgrad
from ._xgrad import *  # noqa: F401,F403  (the engine's public names)
from ._xgrad import flax, initializers, npy, optim, random  # noqa: F401  (submodules defined by the extension)
from .function import Context, Function  # noqa: F401
from .graph import to_dot, to_svg, write_dot  # noqa: F401
from . import nn  # noqa: F401,E402  (xgrad.nn: Scope and the layers)

# `import xgrad.npy`, `import xgrad.optim` and `from xgrad.flax import embed_table` work like real submodules.
for _name in ("flax", "initializers", "npy", "optim", "random"):
    _sys.modules[__name__ + "." + _name] = getattr(_xgrad, _name)

Tape._repr_svg_ = graph.repr_svg  # noqa: F405  (a tape shows as a picture in Jupyter)
Tape.to_dot = graph.to_dot  # noqa: F405
