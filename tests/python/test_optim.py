"""xgrad.optim from Python: the schedules' formulas, state() / load_state() round trips, and
errors that name the argument and the value. (Against PyTorch: test_optim_torch.py.)"""
import math

import numpy as np
import pytest

import xgrad

optim = xgrad.optim


def f32(x):
    """What the C++ side holds for a Python float argument."""
    return float(np.float32(x))


def model():
    w = xgrad.Tensor.parameter([[0.5, -1.25], [2.0, 0.0]], "w")
    b = xgrad.Tensor.parameter([0.1, -0.2], "b")
    return w, b


def backward(w, b, x):
    tape = xgrad.Tape()
    tape.backward(xgrad.mean_square(tape, xgrad.tanh(tape, xgrad.add_bias(tape, xgrad.matmul(tape, xgrad.Tensor(x), w), b))))


INPUTS = [np.array([[1.0, -2.0]]), np.array([[0.5, 0.25]]), np.array([[-1.5, 1.0]])]


def test_sgd_is_the_same_class_in_xgrad_and_xgrad_optim():
    assert optim.SGD is xgrad.SGD


def test_the_linear_schedule_goes_straight_from_start_to_end_then_stays():
    schedule = optim.LinearDecaySchedule(0.1, 0.02, 4)
    start, end = f32(0.1), f32(0.02)
    expected = [start + (end - start) * min(s, 4) / 4 for s in range(7)]
    assert [schedule(s) for s in range(7)] == [f32(e) for e in expected]
    assert schedule.lr(2) == schedule(2)


def test_the_warmup_cosine_schedule_is_nanogpts_get_lr():
    lr_max, lr_min, warmup, total = f32(6e-4), f32(6e-5), 3, 10

    def get_lr(it):  # nanoGPT's train.py, in double
        if it < warmup:
            return lr_max * (it + 1) / (warmup + 1)
        if it > total:
            return lr_min
        ratio = (it - warmup) / (total - warmup)
        return lr_min + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr_max - lr_min)

    schedule = optim.WarmupCosineSchedule(6e-4, 3, 10, 6e-5)
    assert [schedule(s) for s in range(13)] == [f32(get_lr(s)) for s in range(13)]
    assert schedule(warmup) == lr_max and schedule(total) == lr_min


def test_a_schedule_sets_the_optimisers_learning_rate():
    w, b = model()
    adamw = optim.AdamW([w, b], lr=1.0)
    schedule = optim.WarmupCosineSchedule(1.0, 1, 5, 0.1)
    adamw.lr = schedule(0)
    assert adamw.lr == 0.5


def test_adamw_state_round_trip_continues_with_the_same_bits():
    w, b = model()
    first = optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}], lr=0.05)
    for x in INPUTS[:2]:
        backward(w, b, x)
        first.step()
        first.zero_grad()
    state = first.state()
    assert state["kind"] == "adamw" and state["step"] == 2
    assert list(state["arrays"]) == ["w.exp_avg", "w.exp_avg_sq", "b.exp_avg", "b.exp_avg_sq"]

    # A resumed run: fresh parameters with the saved values, a fresh optimiser, the state.
    w2 = xgrad.Tensor.parameter(w.value.copy(), "w")
    b2 = xgrad.Tensor.parameter(b.value.copy(), "b")
    resumed = optim.AdamW([{"params": [w2], "weight_decay": 0.1}, {"params": [b2], "weight_decay": 0.0}], lr=0.05)
    resumed.load_state({k: v for k, v in state.items()})
    assert resumed.steps == 2
    for params, opt in (((w, b), first), ((w2, b2), resumed)):
        backward(*params, INPUTS[2])
        opt.step()
    np.testing.assert_array_equal(w2.value, w.value)
    np.testing.assert_array_equal(b2.value, b.value)


def test_adamw_without_its_state_takes_a_different_third_step():
    # The round trip above can fail: a resumed optimiser that ignored the state (bias
    # correction from t = 1, zero moments) lands elsewhere.
    w, b = model()
    first = optim.AdamW([w, b], lr=0.05)
    for x in INPUTS[:2]:
        backward(w, b, x)
        first.step()
        first.zero_grad()
    w2 = xgrad.Tensor.parameter(w.value.copy(), "w")
    b2 = xgrad.Tensor.parameter(b.value.copy(), "b")
    fresh = optim.AdamW([w2, b2], lr=0.05)
    for params, opt in (((w, b), first), ((w2, b2), fresh)):
        backward(*params, INPUTS[2])
        opt.step()
    assert not np.array_equal(w2.value, w.value)


def test_sgd_with_momentum_state_round_trip_continues_with_the_same_bits():
    w, b = model()
    first = optim.SGD([w, b], lr=0.1, momentum=0.9)
    backward(w, b, INPUTS[0])
    first.step()
    first.zero_grad()
    state = first.state()
    assert state["kind"] == "sgd" and state["step"] == 1 and list(state["arrays"]) == ["w.velocity", "b.velocity"]
    w2 = xgrad.Tensor.parameter(w.value.copy(), "w")
    b2 = xgrad.Tensor.parameter(b.value.copy(), "b")
    resumed = optim.SGD([w2, b2], lr=0.1, momentum=0.9)
    resumed.load_state(state)
    for params, opt in (((w, b), first), ((w2, b2), resumed)):
        backward(*params, INPUTS[1])
        opt.step()
    np.testing.assert_array_equal(w2.value, w.value)
    np.testing.assert_array_equal(b2.value, b.value)


def test_a_state_is_a_copy_that_later_steps_do_not_change():
    w, b = model()
    adamw = optim.AdamW([w, b], lr=0.05)
    backward(w, b, INPUTS[0])
    adamw.step()
    state = adamw.state()
    saved = state["arrays"]["w.exp_avg"].copy()
    adamw.step()
    np.testing.assert_array_equal(state["arrays"]["w.exp_avg"], saved)


def test_loading_a_state_with_a_missing_array_names_it_and_changes_nothing():
    w, b = model()
    adamw = optim.AdamW([w, b], lr=0.05)
    backward(w, b, INPUTS[0])
    adamw.step()
    before = adamw.state()
    broken = adamw.state()
    broken["step"] = 7
    broken["arrays"]["w.exp_avg"] = np.ones((2, 2))
    del broken["arrays"]["b.exp_avg_sq"]
    with pytest.raises(ValueError, match="AdamW::load_state: state has no array 'b.exp_avg_sq'"):
        adamw.load_state(broken)
    after = adamw.state()
    assert after["step"] == before["step"]
    for name, array in before["arrays"].items():
        np.testing.assert_array_equal(after["arrays"][name], array)


def test_loading_another_optimisers_state_names_both_kinds():
    w, b = model()
    with pytest.raises(ValueError, match="kind 'sgd', expected 'adamw'"):
        optim.AdamW([w, b], lr=0.05).load_state(optim.SGD([w, b], lr=0.1).state())


@pytest.mark.parametrize("state, error, words", [
    ([1, 2], TypeError, "AdamW.load_state: state must be a dict as state() returns, got [1, 2]"),
    ({"kind": "adamw", "step": 0}, ValueError, "AdamW.load_state: state has no 'arrays'"),
    ({"kind": "adamw", "step": -1, "arrays": {}}, ValueError, "state['step'] must be >= 0, got -1"),
    ({"kind": "adamw", "step": 1.5, "arrays": {}}, TypeError, "state['step'] must be an integer, got 1.5"),
    ({"kind": "adamw", "step": 0, "arrays": {"w.exp_avg": "x"}}, ValueError,
     "state['arrays']['w.exp_avg'] must be an array of numbers"),
])
def test_a_malformed_state_is_refused_naming_the_part(state, error, words):
    w, b = model()
    with pytest.raises(error) as raised:
        optim.AdamW([w, b], lr=0.05).load_state(state)
    assert words in str(raised.value)


@pytest.mark.parametrize("make, error, words", [
    (lambda w, b: optim.AdamW([w, b], lr="0.1"), TypeError, "AdamW: lr must be a real number, got '0.1'"),
    (lambda w, b: optim.AdamW([w, b], lr=-0.5), ValueError, "AdamW: lr must be finite and >= 0, got -0.5"),
    (lambda w, b: optim.AdamW([w, b], lr=1e39), ValueError, "AdamW: lr 1e+39 does not fit float32"),
    (lambda w, b: optim.AdamW([w, b], lr=0.1, betas=(0.9, 1.0)), ValueError, "AdamW: beta2 must be in [0, 1), got 1"),
    (lambda w, b: optim.AdamW([w, b], lr=0.1, betas=0.9), TypeError, "AdamW: betas must be a pair (beta1, beta2), got 0.9"),
    (lambda w, b: optim.AdamW([w, b], lr=0.1, eps=float("nan")), ValueError, "AdamW: eps must be finite and >= 0, got nan"),
    (lambda w, b: optim.AdamW([w, 3.0], lr=0.1), TypeError, "AdamW: params[1] must be an xgrad.Tensor, got 3.0"),
    (lambda w, b: optim.AdamW(w, lr=0.1), TypeError, "AdamW: params must be a list of xgrad.Tensor"),
    (lambda w, b: optim.AdamW([w, b, w], lr=0.1), ValueError, "AdamW: params 0 and 2 are the same tensor ('w')"),
    (lambda w, b: optim.AdamW([{"params": [w]}, {"params": [b], "lr": 0.1}], lr=0.1), ValueError,
     "AdamW: params[1] has the key 'lr': a group sets only 'params' and 'weight_decay'"),
    (lambda w, b: optim.AdamW([{"params": [w]}, b], lr=0.1), TypeError, "AdamW: params[1] must be a dict"),
    (lambda w, b: optim.AdamW([{"params": [w], "weight_decay": -1.0}], lr=0.1), ValueError,
     "AdamW: weight_decay of group 0 must be finite and >= 0, got -1"),
    (lambda w, b: optim.AdamW([{"params": [w]}, {"params": [w]}], lr=0.1), ValueError,
     "AdamW: parameters (over all groups) 0 and 1 are the same tensor ('w')"),
    (lambda w, b: optim.AdamW([xgrad.Tensor([1.0], name="c")], lr=0.1), ValueError,
     "AdamW: parameter 0 ('c') does not require a gradient"),
    (lambda w, b: optim.clip_grad_norm([w, b], 0.0), ValueError, "clip_grad_norm: max_norm must be finite and > 0, got 0"),
    (lambda w, b: optim.clip_grad_norm([w, None], 1.0), TypeError,
     "clip_grad_norm: parameters[1] must be an xgrad.Tensor, got None"),
    (lambda w, b: optim.LinearDecaySchedule(0.1, 0.0, 0), ValueError, "LinearDecaySchedule: total_steps must be >= 1"),
    (lambda w, b: optim.LinearDecaySchedule(0.1, 0.0, 2.5), TypeError,
     "LinearDecaySchedule: total_steps must be an integer, got 2.5"),
    (lambda w, b: optim.WarmupCosineSchedule(1.0, 10, 10, 0.1), ValueError,
     "WarmupCosineSchedule: warmup_steps (10) must be < total_steps (10)"),
    (lambda w, b: optim.WarmupCosineSchedule(1.0, 1, 10, 2.0), ValueError,
     "WarmupCosineSchedule: lr_min (2.000000) must not exceed lr_max (1.000000)"),
    (lambda w, b: optim.ConstantSchedule(0.1)(-1), ValueError, "step must be >= 0, got -1"),
])
def test_a_bad_argument_is_named_with_its_value(make, error, words):
    w, b = model()
    with pytest.raises(error) as raised:
        make(w, b)
    assert words in str(raised.value)


def test_setting_a_bad_learning_rate_keeps_the_old_one():
    w, b = model()
    adamw = optim.AdamW([w, b], lr=0.5)
    with pytest.raises(ValueError, match="AdamW: lr must be finite and >= 0, got inf"):
        adamw.lr = float("inf")
    assert adamw.lr == 0.5


def test_every_public_name_of_xgrad_optim_has_a_docstring():
    names = [n for n in dir(optim) if not n.startswith("_")]
    assert {"SGD", "AdamW", "clip_grad_norm", "ConstantSchedule", "LinearDecaySchedule",
            "WarmupCosineSchedule", "Schedule"} <= set(names)
    for name in names:
        assert getattr(optim, name).__doc__, name
    assert "nanoGPT's get_lr" in optim.WarmupCosineSchedule.__doc__
    assert "row-sparse" in optim.AdamW.__doc__ and "'<name>.exp_avg'" in optim.AdamW.state.__doc__
