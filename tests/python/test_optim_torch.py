"""xgrad.optim against PyTorch: AdamW with parameter groups and clip_grad_norm over three
steps, given the same gradients (Debian's python3-torch; a skip fails CI, see conftest.py)."""
import numpy as np
import pytest

import xgrad

torch = pytest.importorskip("torch", reason="torch not installed (Debian: python3-torch)")

VOCAB, DIM, OUT = 10, 4, 3
IDS = np.array([3, 1, 3, 7])  # the same rows every step, 3 twice: rows 1, 3, 7 of 10
TARGETS = np.array([0, 2, 1, 2])
USED_ROWS = [3, 1, 7]  # the row-sparse gradient's rows, in order of first appearance
LR, BETAS, EPS = 0.05, (0.8, 0.95), 1e-6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_model():
    embed = xgrad.Embed(VOCAB, DIM, xgrad.prng_key(4))
    linear = xgrad.Linear(DIM, OUT, xgrad.prng_key(5), bias_init=lambda key, shape: np.full(shape, 0.25))
    return embed, linear


def backward(embed, linear):
    """The gradients of one forward pass: a row-sparse table gradient and two dense ones."""
    tape = xgrad.Tape()
    hidden = xgrad.tanh(tape, embed(tape, IDS))
    loss = xgrad.softmax_cross_entropy(tape, linear(tape, hidden), TARGETS)
    tape.backward(loss)
    rows, values = embed.embedding.row_sparse_grad
    np.testing.assert_array_equal(rows, USED_ROWS)
    return values, linear.kernel.grad, linear.bias.grad


def torch_twin(embed, linear):
    """The used rows of the table (a lazy row-sparse step touches only them, and they are the
    same rows every step, so it is a dense AdamW on those rows), the kernel and the bias."""
    return [torch.nn.Parameter(torch.from_numpy(a.copy()))
            for a in (embed.embedding.value[USED_ROWS], linear.kernel.value, linear.bias.value)]


def assert_close(mine, other, step=None):
    # Not bit for bit: PyTorch's own float32 step is not one formula per element. Its
    # vectorised add_(g, alpha) is a fused multiply-add on each 8-lane chunk and a separate
    # multiply and add on the tail, so two equal elements can differ by an ulp depending on
    # where they sit. xgrad rounds every operation (PyTorch's scalar path: the same bits on
    # tensors under 8 elements, tests/optim/test_adamw.cpp). A wrong formula is off by far more.
    np.testing.assert_allclose(mine, other.detach().numpy(), rtol=1e-6, atol=1e-7, err_msg=f"step {step}")


def set_grads(twin, grads):
    for p, g in zip(twin, grads):
        p.grad = torch.from_numpy(np.array(g, dtype=np.float32))


def test_adamw_with_parameter_groups_equals_torch_adamw_over_three_steps():
    embed, linear = small_model()
    untouched = np.delete(embed.embedding.value, USED_ROWS, axis=0).copy()
    twin = torch_twin(embed, linear)
    ours = xgrad.optim.AdamW([{"params": [embed.embedding, linear.kernel], "weight_decay": 0.1},
                              {"params": [linear.bias], "weight_decay": 0.0}],
                             lr=LR, betas=BETAS, eps=EPS)
    theirs = torch.optim.AdamW([{"params": twin[:2], "weight_decay": 0.1}, {"params": twin[2:], "weight_decay": 0.0}],
                               lr=LR, betas=BETAS, eps=EPS)
    for step in range(3):
        set_grads(twin, backward(embed, linear))
        ours.step()
        ours.zero_grad()
        theirs.step()
        assert_close(embed.embedding.value[USED_ROWS], twin[0], step)
        assert_close(linear.kernel.value, twin[1], step)
        assert_close(linear.bias.value, twin[2], step)
    np.testing.assert_array_equal(np.delete(embed.embedding.value, USED_ROWS, axis=0), untouched)
    assert ours.steps == 3


def test_adamw_without_groups_decays_only_matrices_as_nanogpt_does():
    embed, linear = small_model()
    twin = torch_twin(embed, linear)
    ours = xgrad.optim.AdamW([embed.embedding, linear.kernel, linear.bias], lr=LR, betas=BETAS, eps=EPS,
                             weight_decay=0.2)
    theirs = torch.optim.AdamW([{"params": twin[:2], "weight_decay": 0.2}, {"params": twin[2:], "weight_decay": 0.0}],
                               lr=LR, betas=BETAS, eps=EPS)
    assert [ours.weight_decay(i) for i in range(3)] == [pytest.approx(0.2), pytest.approx(0.2), 0.0]
    for _ in range(3):
        set_grads(twin, backward(embed, linear))
        ours.step()
        ours.zero_grad()
        theirs.step()
    for mine, other in zip((embed.embedding.value[USED_ROWS], linear.kernel.value, linear.bias.value), twin):
        assert_close(mine, other)


def test_clipping_then_adamw_equals_torch_over_three_steps():
    embed, linear = small_model()
    parameters = [embed.embedding, linear.kernel, linear.bias]
    twin = torch_twin(embed, linear)
    ours = xgrad.optim.AdamW(parameters, lr=LR, betas=BETAS, eps=EPS)
    theirs = torch.optim.AdamW([{"params": twin[:2], "weight_decay": 0.01}, {"params": twin[2:], "weight_decay": 0.0}],
                               lr=LR, betas=BETAS, eps=EPS)
    max_norm = 0.3
    for step in range(3):
        set_grads(twin, backward(embed, linear))
        norm = xgrad.optim.clip_grad_norm(parameters, max_norm)
        torch_norm = torch.nn.utils.clip_grad_norm_(twin, max_norm)
        assert norm > max_norm, "the test must clip"
        # xgrad sums in double, PyTorch takes a float32 norm of float32 norms: the same to
        # float32 rounding, and the clipped gradients to a few ulps.
        assert norm == pytest.approx(torch_norm.item(), rel=1e-6)
        for mine, other in zip(backward_grads_now(embed, linear), twin):
            np.testing.assert_allclose(mine, other.grad.numpy(), rtol=1e-6, atol=1e-9, err_msg=f"step {step}")
        ours.step()
        ours.zero_grad()
        theirs.step()
        for mine, other in zip((embed.embedding.value[USED_ROWS], linear.kernel.value, linear.bias.value), twin):
            assert_close(mine, other, step)


def backward_grads_now(embed, linear):
    """The stored (possibly clipped) gradients, without running another backward."""
    rows, values = embed.embedding.row_sparse_grad
    np.testing.assert_array_equal(rows, USED_ROWS)
    return values, linear.kernel.grad, linear.bias.grad


def test_clip_grad_norm_counts_a_row_sparse_gradient_by_its_rows_as_torch_counts_the_dense_one():
    embed, linear = small_model()
    backward(embed, linear)
    dense = [torch.from_numpy(embed.embedding.dense_grad()), torch.from_numpy(linear.kernel.grad),
             torch.from_numpy(linear.bias.grad)]
    twin = [torch.nn.Parameter(torch.zeros_like(g)) for g in dense]
    for p, g in zip(twin, dense):
        p.grad = g.clone()
    norm = xgrad.optim.clip_grad_norm([embed.embedding, linear.kernel, linear.bias], 0.1)
    assert norm == pytest.approx(torch.nn.utils.clip_grad_norm_(twin, 0.1).item(), rel=1e-6)
    np.testing.assert_allclose(embed.embedding.dense_grad(), twin[0].grad.numpy(), rtol=1e-6, atol=1e-9)
    assert embed.embedding.grad_kind == "row_sparse"


def test_clip_grad_norm_below_max_norm_changes_nothing_as_in_torch():
    embed, linear = small_model()
    grads = [np.array(g, copy=True) for g in backward(embed, linear)]
    twin = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, g in zip(twin, grads):
        p.grad = torch.from_numpy(g.copy())
    norm = xgrad.optim.clip_grad_norm([embed.embedding, linear.kernel, linear.bias], 1e3)
    assert norm == pytest.approx(torch.nn.utils.clip_grad_norm_(twin, 1e3).item(), rel=1e-6)
    for mine, before in zip(backward_grads_now(embed, linear), grads):
        np.testing.assert_array_equal(mine, before)
