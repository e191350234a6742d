"""The gradient checker from Python cannot crash or lie: a tape the checked function keeps,
an output whose shape changes, NaN and invalid options, and an exception inside the function."""
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import xgrad


def parameter(values, name="x"):
    return xgrad.Tensor.parameter(np.asarray(values, dtype=np.float32), name)


def test_a_tape_the_checked_function_keeps_stays_usable_after_the_check():
    # Run apart: before the fix, using the kept tape read a dead stack frame (a segfault).
    script = textwrap.dedent("""
        import numpy as np
        import xgrad
        kept = []
        x = xgrad.Tensor.parameter(np.array([0.5, -1.0], np.float32), "x")
        def f(tape, xs):
            kept.append(tape)
            return xgrad.tanh(tape, xs[0])
        assert xgrad.check_gradients(f, [x])
        assert len(kept) == 5  # the taped call and 2 per element
        for tape in kept:
            assert len(tape) == 0, str(tape)  # the records went to the checker's tape
            str(tape); repr(tape)
        y = xgrad.sum(kept[0], xgrad.tanh(kept[0], x))
        kept[0].backward(y)
        assert np.allclose(x.grad, 1 - np.tanh(x.value) ** 2)
        print("kept tapes ok")
        """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stdout}{run.stderr}"
    assert "kept tapes ok" in run.stdout


def test_an_output_whose_shape_changes_between_calls_is_a_value_error():
    x = parameter(np.linspace(-1, 1, 64))
    before = x.value.copy()
    calls = []

    def f(tape, xs):
        calls.append(1)
        return xgrad.tanh(tape, xs[0]) if len(calls) == 1 else xgrad.sum(tape, xs[0])

    with pytest.raises(ValueError, match=r"shape \(\) .*but \(64,\) at the first call"):
        xgrad.check_gradients(f, [x])
    assert x.value.tobytes() == before.tobytes()


def test_a_nan_value_fails_the_check_instead_of_passing():
    x = parameter([0.5, float("nan")])
    result = xgrad.check_gradients(lambda tape, xs: xgrad.tanh(tape, xs[0]), [x])
    assert not result.ok
    assert "not finite" in result.worst
    assert math.isinf(result.relative_error)


@pytest.mark.parametrize("mode", ["elementwise", "directional"])
@pytest.mark.parametrize("step", [0.0, -0.01, float("nan"), float("inf")])
def test_a_step_that_is_not_positive_and_finite_is_a_value_error_naming_it(step, mode):
    x = parameter([0.5])
    with pytest.raises(ValueError, match=r"step must be finite and > 0, got"):
        xgrad.check_gradients(lambda tape, xs: xgrad.tanh(tape, xs[0]), [x], step=step, mode=mode)


@pytest.mark.parametrize("option", ["absolute_tolerance", "relative_tolerance"])
@pytest.mark.parametrize("value", [-1e-3, float("nan")])
def test_a_negative_or_nan_tolerance_is_a_value_error_naming_it(option, value):
    x = parameter([0.5])
    with pytest.raises(ValueError, match=rf"{option} must be finite and >= 0, got"):
        xgrad.check_gradients(lambda tape, xs: xgrad.tanh(tape, xs[0]), [x], **{option: value})


def test_a_keyboard_interrupt_inside_the_function_restores_every_input_and_propagates():
    x = parameter(np.linspace(-1, 1, 6), "x")
    w = parameter(np.linspace(2, 3, 6), "w")
    x_before, w_before = x.value.copy(), w.value.copy()
    calls = []

    def f(tape, xs):
        calls.append(1)
        if len(calls) == 4:  # x[1] raised by the step
            raise KeyboardInterrupt
        return xgrad.mul(tape, xs[0], xs[1])

    with pytest.raises(KeyboardInterrupt):
        xgrad.check_gradients(f, [x, w])
    assert len(calls) == 4
    assert x.value.tobytes() == x_before.tobytes()
    assert w.value.tobytes() == w_before.tobytes()
    assert x.grad_kind == "none" and w.grad_kind == "none"


def test_an_exception_in_directional_mode_restores_every_input():
    x = parameter(np.linspace(-1, 1, 100))
    before = x.value.copy()
    calls = []

    def f(tape, xs):
        calls.append(1)
        if len(calls) == 3:  # every element moved down along the first direction
            raise RuntimeError("stop")
        return xgrad.tanh(tape, xs[0])

    with pytest.raises(RuntimeError, match="stop"):
        xgrad.check_gradients(f, [x], mode="directional")
    assert x.value.tobytes() == before.tobytes()


def test_the_directional_mode_passes_a_correct_function_and_reports_its_relative_error():
    rng = np.random.default_rng(0)
    x = parameter(rng.uniform(-1, 1, (300, 200)), "x")
    w = parameter(rng.uniform(-1, 1, (200, 50)) / np.sqrt(200), "w")  # pre-activations of order 1
    result = xgrad.check_gradients(lambda tape, xs: xgrad.tanh(tape, xgrad.matmul(tape, xs[0], xs[1])), [x, w],
                                   mode="directional", directions=4)
    assert result.ok, result
    assert result.directions_checked == 4
    assert result.elements_checked == 300 * 200 + 200 * 50
    assert result.relative_error < 1e-2


def test_the_directional_mode_catches_a_gradient_the_tape_cannot_see():
    x = parameter(np.linspace(0.5, 1.5, 10000))
    # x * (a constant copy of x): the tape sees half of d(x^2)/dx.
    result = xgrad.check_gradients(lambda tape, xs: xgrad.mul(tape, xs[0], xgrad.Tensor(xs[0].value)), [x],
                                   mode="directional")
    assert not result.ok
    assert result.relative_error == pytest.approx(0.5, rel=1e-2)


def test_an_unknown_mode_is_a_value_error():
    with pytest.raises(ValueError, match="mode must be 'elementwise' or 'directional', got 'random'"):
        xgrad.check_gradients(lambda tape, xs: xgrad.tanh(tape, xs[0]), [parameter([0.5])], mode="random")
