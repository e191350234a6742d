"""Ops written in Python: a Function subclass and the raw Tape.record / accumulate_grad form,
checked by central differences (xgrad.check_gradients) and by hand-computed values."""
import numpy as np
import pytest

import xgrad


class Cube(xgrad.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        return 3 * x ** 2 * dy


class WeightedProduct(xgrad.Function):
    """out = a * b * c with c a constant: two gradients and a None."""

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.a, ctx.b, ctx.c = a, b, c
        return a * b * c

    @staticmethod
    def backward(ctx, dy):
        return dy * ctx.b * ctx.c, dy * ctx.a * ctx.c, None


def test_a_function_computes_its_forward_and_records_one_op_named_after_the_class():
    x = xgrad.Tensor([1.0, -2.0], requires_grad=True)
    with xgrad.Tape() as tape:
        y = Cube.apply(x)
    np.testing.assert_array_equal(y.value, [1.0, -8.0])
    assert [op for op, _, _, _ in tape.records()] == ["Cube"]


def test_a_functions_backward_feeds_the_inputs_gradients():
    x = xgrad.Tensor([1.0, -2.0], requires_grad=True)
    with xgrad.Tape():
        loss = (Cube.apply(x) * 2).sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 24.0])  # 2 * 3x^2


def test_a_function_passes_check_gradients_by_central_differences():
    x = xgrad.Tensor(np.linspace(-1.5, 1.5, 7), requires_grad=True)
    result = xgrad.check_gradients(lambda tape, xs: Cube.apply(xs[0], tape=tape), [x])
    assert result.ok and result.elements_checked == 7, result


def test_a_function_with_several_inputs_and_a_constant_passes_check_gradients():
    rng = np.random.default_rng(5)
    a = xgrad.Tensor(rng.uniform(-1, 1, (2, 3)), requires_grad=True)
    b = xgrad.Tensor(rng.uniform(-1, 1, (2, 3)), requires_grad=True)
    c = rng.uniform(-1, 1, (2, 3)).astype(np.float32)
    result = xgrad.check_gradients(lambda tape, xs: WeightedProduct.apply(xs[0], xs[1], c, tape=tape), [a, b])
    assert result.ok and result.elements_checked == 12, result


def test_an_input_used_twice_gets_both_shares():
    x = xgrad.Tensor(2.0, requires_grad=True)
    with xgrad.Tape():
        y = WeightedProduct.apply(x, x, 1.0)  # x^2
    y.backward()
    assert x.grad == 4.0


def test_a_gradient_of_the_wrong_shape_is_a_value_error_naming_both_shapes():
    class Wrong(xgrad.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, dy):
            return dy[:1]

    x = xgrad.Tensor([1.0, 2.0], requires_grad=True, name="x")
    with xgrad.Tape():
        y = Wrong.apply(x)
    with pytest.raises(ValueError, match=r"the gradient contribution for 'x' has shape \(1,\), its value \(2,\)"):
        y.backward(np.ones(2, np.float32))


def test_a_backward_returning_the_wrong_number_of_gradients_is_a_value_error():
    class TooMany(xgrad.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, dy):
            return dy, dy

    x = xgrad.Tensor(1.0, requires_grad=True)
    with xgrad.Tape():
        y = TooMany.apply(x)
    with pytest.raises(ValueError, match="TooMany.backward returned 2 gradients for 1 inputs"):
        y.backward()


def test_tape_record_with_accumulate_grad_defines_an_op():
    x = xgrad.Tensor([0.5, -1.0], requires_grad=True)

    def square(tape, x):
        def backward(y, dy):
            xgrad.accumulate_grad(x, 2 * x.value * dy)  # d(x^2)/dx = 2x
        return tape.record("square", [x], x.value ** 2, backward)

    tape = xgrad.Tape()
    y = xgrad.sum(tape, square(tape, x))
    tape.backward(y)
    np.testing.assert_array_equal(x.grad, [1.0, -2.0])
    assert xgrad.check_gradients(lambda t, xs: square(t, xs[0]), [x]).ok


def test_record_on_the_current_tape_inside_a_with_block():
    x = xgrad.Tensor([3.0], requires_grad=True)
    with xgrad.Tape() as tape:
        y = xgrad.record("triple", [x], x.value * 3, lambda y, dy: xgrad.accumulate_grad(x, 3 * dy))
    assert len(tape) == 1
    y.backward(np.ones(1, np.float32))
    np.testing.assert_array_equal(x.grad, [3.0])


def test_a_backward_that_is_not_callable_is_a_type_error():
    with pytest.raises(TypeError, match="record: backward must be callable"):
        xgrad.Tape().record("op", [xgrad.Tensor(1.0, requires_grad=True)], 1.0, 42)
