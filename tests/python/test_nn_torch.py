"""xgrad.nn's layers against PyTorch in float64, built from the same weights: LayerNorm,
CausalSelfAttention, MLPBlock and TransformerBlock, forward and the gradient of every
parameter and of the input, with and without biases. The block's twin is
bench/torch_transformer.py's Block (the one bench/torch_bench.py times); the attention and
MLP twins are written here from nanoGPT's formulas. With dropout on, the twin applies the
masks xgrad's keys give (uniform(key, shape) < 1 - rate, from the keys TransformerBlock
documents), so the check covers where each dropout sits and which key draws it."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import xgrad
from xgrad import nn

torch = pytest.importorskip("torch", reason="torch not installed (Debian: python3-torch)")
F = torch.nn.functional
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from torch_transformer import Block  # noqa: E402  (the PyTorch block bench/torch_bench.py times)

B, T, C, H = 2, 5, 8, 2


def close(ours, theirs, name):
    """float32 xgrad against float64 PyTorch: within 1e-5 of the reference's scale."""
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * scale, err_msg=name)


def randomize(root, seed):
    """Gives every parameter values of order 1 (LayerNorm weights around 1), so that every path
    contributes visibly; returns {name: float64 torch tensor with requires_grad}."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, p in root.parameters():
        value = rng.normal(0, 0.3, p.shape).astype(np.float32)
        if name.endswith(".weight"):  # LayerNorm's (Linear's are ".kernel")
            value += 1
        p.value[...] = value
        out[name] = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    return out


def torch_input(seed, shape=(B, T, C)):
    value = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    return xgrad.Tensor(value, requires_grad=True, name="x"), torch.tensor(value, dtype=torch.float64,
                                                                          requires_grad=True)


def run_both(layer_call, torch_call, root, theirs, x, tx, seed=0):
    """loss = sum(y * w) for a fixed random w on both sides; compares y, dx and every parameter's gradient."""
    with xgrad.Tape():
        y = layer_call(x)
        w = np.random.default_rng(seed + 100).normal(size=y.shape).astype(np.float32)
        loss = (y * xgrad.Tensor(w)).sum()
    loss.backward()
    ty = torch_call(tx)
    (ty * torch.tensor(w, dtype=torch.float64)).sum().backward()
    close(y.value, ty, "output")
    close(x.grad, tx.grad, "x.grad")
    for name, p in root.parameters():
        close(p.grad, theirs[name].grad, name + ".grad")
    return y


def linear(theirs, path, x):
    bias = theirs.get(path + ".bias")
    y = x @ theirs[path + ".kernel"]
    return y if bias is None else y + bias


def layer_norm(theirs, path, x):
    return F.layer_norm(x, (x.shape[-1],), theirs[path + ".weight"], theirs.get(path + ".bias"), eps=1e-5)


def attention(theirs, path, x, weights_mask=None, keep=1.0):
    """nanoGPT's CausalSelfAttention; weights_mask (B, H, T, T) drops attention weights."""
    b, t, c = x.shape
    q, k, v = linear(theirs, path + ".qkv", x).split(c, dim=2)
    q, k, v = [z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v)]
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // H))
    att = F.softmax(att.masked_fill(torch.ones(t, t, dtype=torch.bool).tril().logical_not(), float("-inf")), dim=-1)
    if weights_mask is not None:
        att = att * weights_mask / keep
    y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
    return linear(theirs, path + ".proj", y)


def mlp(theirs, path, x):
    return linear(theirs, path + ".proj", F.gelu(linear(theirs, path + ".fc", x), approximate="tanh"))


def test_layer_norm_gives_torchs_output_and_gradients():
    root = nn.Scope(0)
    norm = nn.LayerNorm(root.child("ln"), C)
    theirs = randomize(root, 1)
    x, tx = torch_input(2, (3, 4, C))
    run_both(norm, lambda t: layer_norm(theirs, "ln", t), root, theirs, x, tx)


def test_layer_norm_without_bias_gives_torchs_output_and_gradients():
    root = nn.Scope(0)
    norm = nn.LayerNorm(root.child("ln"), C, use_bias=False, eps=1e-3)
    theirs = randomize(root, 3)
    x, tx = torch_input(4, (6, C))
    run_both(norm, lambda t: F.layer_norm(t, (C,), theirs["ln.weight"], None, eps=1e-3), root, theirs, x, tx)


def test_causal_self_attention_gives_torchs_output_and_gradients():
    root = nn.Scope(0)
    attn = nn.CausalSelfAttention(root.child("attn"), C, H)
    theirs = randomize(root, 5)
    x, tx = torch_input(6)
    run_both(attn, lambda t: attention(theirs, "attn", t), root, theirs, x, tx)


def test_causal_self_attention_without_biases_gives_torchs_output_and_gradients():
    root = nn.Scope(0)
    attn = nn.CausalSelfAttention(root.child("attn"), C, H, use_bias=False)
    assert root.names() == ["attn.qkv.kernel", "attn.proj.kernel"]
    theirs = randomize(root, 7)
    x, tx = torch_input(8)
    run_both(attn, lambda t: attention(theirs, "attn", t), root, theirs, x, tx)


def test_mlp_block_gives_torchs_output_and_gradients():
    root = nn.Scope(0)
    block = nn.MLPBlock(root.child("mlp"), C)
    theirs = randomize(root, 9)
    x, tx = torch_input(10)
    run_both(block, lambda t: mlp(theirs, "mlp", t), root, theirs, x, tx)


def twin_of(theirs, prefix):
    """bench/torch_transformer.py's Block in float64 holding these parameters (its Linear
    weight is xgrad's kernel transposed; its MLP projection is called `out`)."""
    twin = Block(C, H, dropout=0.0).double()
    pairs = {"ln1": twin.ln1, "ln2": twin.ln2, "attn.qkv": twin.qkv, "attn.proj": twin.proj, "mlp.fc": twin.fc,
             "mlp.proj": twin.out}
    with torch.no_grad():
        for path, module in pairs.items():
            weight = theirs[f"{prefix}.{path}.kernel"].T if path.count(".") else theirs[f"{prefix}.{path}.weight"]
            module.weight.copy_(weight)
            module.bias.copy_(theirs[f"{prefix}.{path}.bias"])
    return twin, pairs


def test_transformer_block_gives_the_torch_blocks_output_and_every_gradient():
    root = nn.Scope(3)
    block = nn.TransformerBlock(root.child("h0"), C, H, layers=2)
    theirs = randomize(root, 11)
    twin, pairs = twin_of(theirs, "h0")
    x, tx = torch_input(12)
    with xgrad.Tape():
        y = block(x)
        w = np.random.default_rng(13).normal(size=y.shape).astype(np.float32)
        (y * xgrad.Tensor(w)).sum().backward()
    ty = twin(tx)
    (ty * torch.tensor(w, dtype=torch.float64)).sum().backward()
    close(y.value, ty, "output")
    close(x.grad, tx.grad, "x.grad")
    grads = dict(root.parameters())
    for path, module in pairs.items():
        kernel = f"h0.{path}.kernel" in grads
        close(grads[f"h0.{path}.{'kernel' if kernel else 'weight'}"].grad,
              module.weight.grad.T if kernel else module.weight.grad, f"h0.{path} weight")
        close(grads[f"h0.{path}.bias"].grad, module.bias.grad, f"h0.{path}.bias")
    assert len(grads) == 12


def test_two_stacked_blocks_without_biases_give_torchs_output_and_gradients():
    root = nn.Scope(4)
    blocks = [nn.TransformerBlock(root.child(f"h{i}"), C, H, layers=2, use_bias=False) for i in range(2)]
    assert not any(name.endswith(".bias") for name in root.names())
    theirs = randomize(root, 14)

    def twin(t):
        for i in range(2):
            t = t + attention(theirs, f"h{i}.attn", layer_norm(theirs, f"h{i}.ln1", t))
            t = t + mlp(theirs, f"h{i}.mlp", layer_norm(theirs, f"h{i}.ln2", t))
        return t

    def ours(t):
        for b in blocks:
            t = b(t)
        return t

    x, tx = torch_input(15)
    run_both(ours, twin, root, theirs, x, tx)


def test_transformer_block_dropout_draws_its_masks_from_the_documented_keys():
    """attention output: fold_in(key, 0); attention weights: fold_in(fold_in(key, 0), 1);
    MLP output: fold_in(key, 1); each mask uniform(k, shape) < 1 - rate, as Flax's Dropout."""
    rate, attention_rate, key = 0.3, 0.2, xgrad.prng_key(21)
    root = nn.Scope(5)
    block = nn.TransformerBlock(root.child("h0"), C, H, layers=2, dropout=rate, attention_dropout=attention_rate)
    theirs = randomize(root, 16)

    def mask(k, shape, r):
        keep = np.float32(1) - np.float32(r)
        return torch.tensor(xgrad.uniform(k, shape) < keep, dtype=torch.float64), float(keep)

    attention_key = xgrad.fold_in(key, 0)
    out_mask, out_keep = mask(attention_key, (B, T, C), rate)
    weights_mask, weights_keep = mask(xgrad.fold_in(attention_key, 1), (B, H, T, T), attention_rate)
    mlp_mask, _ = mask(xgrad.fold_in(key, 1), (B, T, C), rate)
    assert 0 < out_mask.mean() < 1 and 0 < weights_mask.mean() < 1

    def twin(t):
        a = attention(theirs, "h0.attn", layer_norm(theirs, "h0.ln1", t), weights_mask, weights_keep)
        t = t + a * out_mask / out_keep
        return t + mlp(theirs, "h0.mlp", layer_norm(theirs, "h0.ln2", t)) * mlp_mask / out_keep

    x, tx = torch_input(17)
    run_both(lambda t: block(t, key), twin, root, theirs, x, tx)
