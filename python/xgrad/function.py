"""Ops written in Python: subclass Function with a forward and a backward over NumPy arrays.
Sugar over Tape.record and accumulate_grad (the one way ops are written, core/op.hpp); for
teaching and for trying an op before writing it in C++, not for speed (each call crosses into
Python twice)."""
from ._xgrad import Tensor, accumulate_grad, record


class Context:
    """What forward leaves for backward: attributes set freely, or save_for_backward(*arrays)
    and .saved."""

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Function:
    """An op whose forward and backward are Python functions over NumPy arrays.

        class Cube(xgrad.Function):
            @staticmethod
            def forward(ctx, x):            # x: the input's value, a float32 array
                ctx.save_for_backward(x)
                return x ** 3
            @staticmethod
            def backward(ctx, dy):          # dy: the output's gradient, the output's shape
                (x,) = ctx.saved
                return 3 * x ** 2 * dy      # one gradient per input (None: no gradient)

        with xgrad.Tape() as tape:
            y = Cube.apply(x)               # or Cube.apply(x, tape=tape) without a with block

    apply() records one op named after the class. Inputs may be Tensors or array-likes
    (constants). backward returns one array per input, of that input's shape, or None for an
    input that gets no gradient; each is added into the input's gradient with
    xgrad.accumulate_grad (a wrong shape is a ValueError naming both shapes)."""

    @staticmethod
    def forward(ctx, *values):
        raise NotImplementedError("a Function subclass defines forward(ctx, *values) -> array")

    @staticmethod
    def backward(ctx, dy):
        raise NotImplementedError("a Function subclass defines backward(ctx, dy) -> one gradient per input")

    @classmethod
    def apply(cls, *inputs, tape=None):
        tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
        ctx = Context()
        value = cls.forward(ctx, *[t.value for t in tensors])
        name = cls.__name__

        def backward(y, dy):
            grads = cls.backward(ctx, dy)
            if not isinstance(grads, (tuple, list)):
                grads = (grads,)
            if len(grads) != len(tensors):
                raise ValueError(f"{name}.backward returned {len(grads)} gradients for {len(tensors)} inputs")
            for t, g in zip(tensors, grads):
                if g is not None:
                    accumulate_grad(t, g)

        if tape is None:
            return record(name, tensors, value, backward)
        return record(tape, name, tensors, value, backward)
