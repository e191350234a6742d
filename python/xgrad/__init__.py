"""xgrad: a small reverse-mode autodiff library whose token embedding has row-sparse
gradients, and Flax's token_embed_forward bit for bit. Values are float32, ids int32.

The compiled engine is the extension xgrad._xgrad; this package re-exports it and adds the
parts written in Python (python/xgrad/*.py), so `import xgrad` is the only import needed."""
import sys as _sys

from . import _xgrad
from ._xgrad import *  # noqa: F401,F403  (the engine's public names)
from ._xgrad import flax, npy  # noqa: F401  (submodules defined by the extension)

# `import xgrad.npy` and `from xgrad.flax import embed_table` work like real submodules.
_sys.modules[__name__ + ".flax"] = flax
_sys.modules[__name__ + ".npy"] = npy
