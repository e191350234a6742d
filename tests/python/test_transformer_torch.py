"""The library GPT (models/gpt.hpp), as next_token trains it, against the same model written in
PyTorch, the Block of bench/torch_transformer.py (nn.LayerNorm, gelu tanh, masked softmax):
tests/examples/next_token/dump_transformer_for_torch.cpp writes a tiny model's parameters,
ids, logits, loss and gradients as .npy; here they are loaded into PyTorch and recomputed.
Skipped without python3-torch, or without the dump program (CTest passes it as
XGRAD_TRANSFORMER_DUMP)."""
import math
import os
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (Debian: python3-torch)")
DUMP = os.environ.get("XGRAD_TRANSFORMER_DUMP")
pytestmark = pytest.mark.skipif(
    not DUMP, reason="XGRAD_TRANSFORMER_DUMP (path of the dump_transformer_for_torch program) is not set; CTest sets it")

V, T, L, H, C = 11, 5, 2, 2, 8
F = torch.nn.functional


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(C), torch.nn.LayerNorm(C)
        self.qkv, self.proj = torch.nn.Linear(C, 3 * C), torch.nn.Linear(C, C)
        self.fc, self.out = torch.nn.Linear(C, 4 * C), torch.nn.Linear(4 * C, C)

    def forward(self, x):
        B, S, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = [t.view(B, S, H, C // H).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        att = att.masked_fill(torch.tril(torch.ones(S, S)) == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        x = x + self.proj(y.transpose(1, 2).contiguous().view(B, S, C))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(V, C), torch.nn.Embedding(T, C)
        self.blocks = torch.nn.ModuleList([Block() for _ in range(L)])
        self.lnf = torch.nn.LayerNorm(C)
        self.head = torch.nn.Linear(C, V, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.lnf(x))


def torch_parameters(model):
    """xgrad's parameter name -> (the torch tensor, whether xgrad stores it transposed)."""
    out = {"wte": (model.wte.weight, False), "wpe": (model.wpe.weight, False),
           "ln_f.weight": (model.lnf.weight, False), "ln_f.bias": (model.lnf.bias, False),
           "head.kernel": (model.head.weight, True)}
    for i, b in enumerate(model.blocks):
        for ours, theirs in (("ln1", b.ln1), ("ln2", b.ln2)):
            out[f"h{i}.{ours}.weight"] = (theirs.weight, False)
            out[f"h{i}.{ours}.bias"] = (theirs.bias, False)
        for ours, theirs in (("attn.qkv", b.qkv), ("attn.proj", b.proj), ("mlp.fc", b.fc), ("mlp.proj", b.out)):
            out[f"h{i}.{ours}.kernel"] = (theirs.weight, True)  # Linear kernel (in, out) = weight^T
            out[f"h{i}.{ours}.bias"] = (theirs.bias, False)
    return out


@pytest.fixture(scope="module")
def step(tmp_path_factory):
    """(xgrad's arrays by file stem, the torch model with xgrad's parameters after backward, its logits, loss)."""
    directory = tmp_path_factory.mktemp("transformer")
    run = subprocess.run([DUMP, str(directory)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    ours = {path.stem: np.load(path) for path in directory.glob("*.npy")}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = GPT()
        parameters = torch_parameters(model)
        assert sorted(parameters) == sorted(name[len("param_"):] for name in ours if name.startswith("param_"))
        with torch.no_grad():
            for name, (tensor, transposed) in parameters.items():
                value = ours["param_" + name]
                tensor.copy_(torch.from_numpy(value.T.copy() if transposed else value))
        ids = torch.from_numpy(ours["ids"].astype(np.int64))
        targets = torch.from_numpy(ours["targets"].astype(np.int64))
        logits = model(ids)
        loss = F.cross_entropy(logits.view(-1, V), targets.view(-1))
        loss.backward()
    finally:
        torch.set_num_threads(threads)
    return ours, parameters, logits.detach().numpy(), loss.item()


def test_the_tiny_gpt_gives_torchs_logits_and_loss(step):
    ours, _, logits, loss = step
    assert ours["logits"].shape == (2, T, V)
    np.testing.assert_allclose(ours["logits"], logits, rtol=0, atol=1e-5)
    assert float(ours["loss"]) == pytest.approx(loss, abs=1e-5)


def test_the_tiny_gpt_gives_torchs_gradient_for_every_parameter(step):
    ours, parameters, _, _ = step
    for name, (tensor, transposed) in parameters.items():
        theirs = tensor.grad.numpy()
        np.testing.assert_allclose(ours["grad_" + name], theirs.T if transposed else theirs, rtol=0, atol=1e-4,
                                   err_msg=name)
