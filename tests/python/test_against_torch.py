"""xgrad against PyTorch on the same data (Debian's python3-torch; skipped without it)."""
import numpy as np
import pytest

import xgrad

torch = pytest.importorskip("torch", reason="torch not installed (Debian: python3-torch)")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


VOCAB, DIM, PAD = 11, 4, 3
IDS = np.array([5, 3, 0, 5, 10, 3, 5, 7])  # repeated ids and the padding id, twice


def embed_pair():
    ours = xgrad.Embed(VOCAB, DIM, xgrad.prng_key(2), padding_idx=PAD)
    theirs = torch.nn.Embedding(VOCAB, DIM, padding_idx=PAD, sparse=True)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.embedding.value.copy()))
    return ours, theirs


def weighted_sum_backward(ours, theirs, weights):
    tape = xgrad.Tape()
    y = ours(tape, IDS)
    tape.backward(xgrad.sum(tape, xgrad.mul(tape, y, xgrad.Tensor(weights))))
    y_torch = theirs(torch.from_numpy(IDS))
    (y_torch * torch.from_numpy(weights)).sum().backward()
    return y, y_torch


def test_embed_forward_equals_torch_embedding_bit_for_bit():
    ours, theirs = embed_pair()
    weights = np.random.default_rng(0).standard_normal((len(IDS), DIM)).astype(np.float32)
    y, y_torch = weighted_sum_backward(ours, theirs, weights)
    np.testing.assert_array_equal(y.value, y_torch.detach().numpy())


def test_embed_row_sparse_gradient_equals_torch_sparse_gradient():
    ours, theirs = embed_pair()
    weights = np.random.default_rng(1).standard_normal((len(IDS), DIM)).astype(np.float32)
    weighted_sum_backward(ours, theirs, weights)
    rows, values = ours.embedding.row_sparse_grad
    grad = theirs.weight.grad
    assert grad.is_sparse
    grad = grad.coalesce()
    torch_rows = grad.indices()[0].numpy()
    torch_values = grad.values().numpy()
    # The padding id sends nothing in either; torch keeps its rows sorted, xgrad in order
    # of first appearance.
    assert PAD not in rows
    theirs_by_row = {int(r): v for r, v in zip(torch_rows, torch_values) if int(r) != PAD or v.any()}
    assert sorted(theirs_by_row) == sorted(rows.tolist()) == [0, 5, 7, 10]
    for row, value in zip(rows, values):
        np.testing.assert_allclose(value, theirs_by_row[int(row)], rtol=1e-6, atol=0)


CONTEXT, HIDDEN, BATCH, LR = 3, 8, 6, 0.5


def test_one_sgd_step_of_the_mlp_gives_torchs_parameters():
    root = xgrad.prng_key(0)
    embed = xgrad.Embed(VOCAB, DIM, xgrad.fold_in(root, 0))
    hidden = xgrad.Linear(CONTEXT * DIM, HIDDEN, xgrad.fold_in(root, 1), name="hidden",
                          bias_init=xgrad.initializers.normal(0.1), bias_key=xgrad.fold_in(root, 3))
    output = xgrad.Linear(HIDDEN, VOCAB, xgrad.fold_in(root, 2), name="output")
    rng = np.random.default_rng(3)
    inputs = rng.integers(0, VOCAB, size=(BATCH, CONTEXT))
    targets = rng.integers(0, VOCAB, size=BATCH)

    t_embed = torch.nn.Embedding(VOCAB, DIM, sparse=True)
    t_hidden = torch.nn.Linear(CONTEXT * DIM, HIDDEN)
    t_output = torch.nn.Linear(HIDDEN, VOCAB)
    with torch.no_grad():
        t_embed.weight.copy_(torch.from_numpy(embed.embedding.value.copy()))
        for layer, t_layer in ((hidden, t_hidden), (output, t_output)):
            t_layer.weight.copy_(torch.from_numpy(layer.kernel.value.T.copy()))
            t_layer.bias.copy_(torch.from_numpy(layer.bias.value.copy()))

    parameters = embed.parameters() + hidden.parameters() + output.parameters()
    tape = xgrad.Tape()
    x = xgrad.reshape(tape, embed(tape, inputs), (BATCH, CONTEXT * DIM))
    loss = xgrad.softmax_cross_entropy(tape, output(tape, xgrad.tanh(tape, hidden(tape, x))), targets)
    tape.backward(loss)
    xgrad.SGD(parameters, lr=LR).step()

    t_modules = (t_embed, t_hidden, t_output)
    t_x = t_embed(torch.from_numpy(inputs)).reshape(BATCH, CONTEXT * DIM)
    t_loss = torch.nn.functional.cross_entropy(t_output(torch.tanh(t_hidden(t_x))), torch.from_numpy(targets))
    t_loss.backward()
    torch.optim.SGD([p for m in t_modules for p in m.parameters()], lr=LR).step()

    np.testing.assert_allclose(loss.value, t_loss.item(), rtol=1e-6)
    np.testing.assert_allclose(embed.embedding.value, t_embed.weight.detach().numpy(), rtol=1e-6)
    for layer, t_layer in ((hidden, t_hidden), (output, t_output)):
        np.testing.assert_allclose(layer.kernel.value, t_layer.weight.detach().numpy().T, rtol=1e-6)
        np.testing.assert_allclose(layer.bias.value, t_layer.bias.detach().numpy(), rtol=1e-6)
