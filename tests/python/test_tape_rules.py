"""The tape's rules against misuse, from Python: one backward per tape unless kept, and a
loss must have been recorded on the tape that runs it."""
import numpy as np
import pytest

import xgrad


def square_plus_self(tape, w):
    return xgrad.sum(tape, xgrad.add(tape, xgrad.mul(tape, w, w), w))  # d/dw = 2 w + 1


def test_a_second_backward_raises_and_leaves_the_gradient_as_it_was():
    w = xgrad.Tensor([1.5, -2.0], requires_grad=True)
    tape = xgrad.Tape()
    loss = square_plus_self(tape, w)
    tape.backward(loss)
    np.testing.assert_array_equal(w.grad, [4.0, -3.0])
    with pytest.raises(RuntimeError, match="already run backward"):
        tape.backward(loss)
    np.testing.assert_array_equal(w.grad, [4.0, -3.0])
    assert tape.spent


def test_a_kept_tape_adds_each_gradient_exactly_once_more():
    w = xgrad.Tensor([1.5, -2.0], requires_grad=True)
    tape = xgrad.Tape()
    loss = square_plus_self(tape, w)
    tape.backward(loss, keep_tape=True)
    tape.backward(loss)
    np.testing.assert_array_equal(w.grad, [8.0, -6.0])


def test_backward_of_a_loss_from_another_tape_raises_value_error():
    w = xgrad.Tensor([1.0, 2.0], requires_grad=True)
    first, second = xgrad.Tape(), xgrad.Tape()
    loss = square_plus_self(first, w)
    square_plus_self(second, w)
    with pytest.raises(ValueError, match="was not recorded on this tape"):
        second.backward(loss)
    assert w.grad_kind == "none"
