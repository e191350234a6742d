"""xgrad.nn.GPT and GPTConfig: the library GPT (models/gpt.hpp) from Python. Its parameters
are checked against the checkpoint `next_token --model transformer --steps 0 --save` writes
for the same seed (names and bits), its logits and every gradient against PyTorch's twin
(bench/torch_transformer.py's GPT) in float64 holding the same weights, generate against a
sampler written here from the documented rule, and the messages of a bad argument."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xgrad
from xgrad import nn

NEXT_TOKEN = os.environ.get("XGRAD_NEXT_TOKEN")
torch = pytest.importorskip("torch", reason="torch not installed (Debian: python3-torch)")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import torch_transformer  # noqa: E402  (the PyTorch twin of models/gpt.hpp)

V, T, L, H, C = 11, 6, 2, 2, 8


def small(seed=0, **options):
    return nn.GPT(nn.GPTConfig(vocab=V, context=T, layers=L, heads=H, embed_dim=C, **options), seed)


def ids_of(seed, shape=(3, T)):
    return np.random.default_rng(seed).integers(0, V, size=shape)


# ---- Parameters: next_token's, bit for bit ----

@pytest.mark.skipif(not NEXT_TOKEN, reason="XGRAD_NEXT_TOKEN (path of build/examples/next_token) is not set; "
                    "CTest sets it")
@pytest.mark.parametrize("flags", [[], ["--tie", "--no-bias"]], ids=["untied", "tied-no-bias"])
def test_a_gpt_has_the_names_and_bits_of_the_parameters_next_token_saves_for_the_same_seed(tmp_path, flags):
    seed = 7
    run = subprocess.run(
        [NEXT_TOKEN, "--model", "transformer", "--steps", "0", "--layers", "2", "--heads", "2", "--embed-dim", "16",
         "--context", "8", "--eval-windows", "1", "--samples", "0", "--quiet", "--seed", str(seed),
         "--save", str(tmp_path / "ckpt")] + flags, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    config = nn.GPTConfig(vocab=256, context=8, layers=2, heads=2, embed_dim=16, tie="--tie" in flags,
                          bias="--no-bias" not in flags)
    gpt = nn.GPT(config, seed)
    manifest = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())
    assert gpt.names() == [p["name"] for p in manifest["parameters"]]
    for name, tensor in gpt.parameters():
        assert tensor.name == name
        np.testing.assert_array_equal(tensor.value, np.load(tmp_path / "ckpt" / f"{name}.npy"), err_msg=name)


def test_parameters_follow_the_documented_order_without_head_when_tied_and_without_biases_without_bias():
    names = small().names()
    assert names[:5] == ["wte", "wpe", "h0.ln1.weight", "h0.ln1.bias", "h0.attn.qkv.kernel"]
    assert names[-3:] == ["ln_f.weight", "ln_f.bias", "head.kernel"] and len(names) == 2 + 12 * L + 3
    lean = small(tie=True, bias=False)
    assert lean.names()[-1] == "ln_f.weight" and not any(n.endswith("bias") for n in lean.names())
    assert lean.head is None and small().head.kernel.name == "head.kernel"
    assert [t.name for t in small().tensors()] == names and small().size == sum(t.size for t in small().tensors())


def test_a_gpt_is_its_seeds_the_same_seed_gives_the_same_values_and_another_seed_others():
    a, b, c = small(3), small(3), small(4)
    for (name, x), (_, y), (_, z) in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(x.value, y.value, err_msg=name)
    assert not np.array_equal(a.parameters()[0][1].value, c.parameters()[0][1].value)


# ---- Logits and gradients against PyTorch's twin ----

def twin_of(gpt, bias, tie):
    """torch_transformer.GPT in float64 holding gpt's values (a torch Linear's weight is the kernel
    transposed; the twin calls the MLP's projection `out`)."""
    twin = torch_transformer.GPT(L, C, H, T, vocab=V, bias=bias, tie=tie).double()
    values = {name: t.value for name, t in gpt.parameters()}
    mapping = {"wte.weight": "wte", "wpe.weight": "wpe", "ln_f.weight": "ln_f.weight", "ln_f.bias": "ln_f.bias",
               "head.weight": "head.kernel"}
    for i in range(L):
        for ours, theirs in (("ln1", "ln1"), ("ln2", "ln2"), ("attn.qkv", "qkv"), ("attn.proj", "proj"),
                             ("mlp.fc", "fc"), ("mlp.proj", "out")):
            kind = ("weight", "bias") if ours.startswith("ln") else ("kernel", "bias")
            mapping[f"blocks.{i}.{theirs}.weight"] = f"h{i}.{ours}.{kind[0]}"
            mapping[f"blocks.{i}.{theirs}.bias"] = f"h{i}.{ours}.bias"
    named = dict(twin.named_parameters())
    assert set(named) == {k for k, v in mapping.items() if v in values}
    with torch.no_grad():
        for theirs, p in named.items():
            value = values[mapping[theirs]]
            p.copy_(torch.tensor(value.T if mapping[theirs].endswith("kernel") else value, dtype=torch.float64))
    return twin, named, mapping


def twin_logits(twin, ids):
    x = twin.wte(ids) + twin.wpe(torch.arange(ids.shape[1]))
    for block in twin.blocks:
        x = block(x)
    return twin.head(twin.ln_f(x))


def randomize(gpt, seed):
    """Values of order 1 (LayerNorm weights around 1) so that every path contributes visibly."""
    rng = np.random.default_rng(seed)
    for name, p in gpt.parameters():
        p.value[...] = rng.normal(0, 0.3, p.shape).astype(np.float32) + (1 if name.endswith(".weight") else 0)


@pytest.mark.parametrize("bias,tie", [(True, False), (False, False), (True, True), (False, True)],
                         ids=["bias", "no-bias", "tied", "tied-no-bias"])
def test_logits_and_every_gradient_match_the_pytorch_twin_in_float64(bias, tie):
    gpt = small(1, bias=bias, tie=tie)
    randomize(gpt, 2)
    twin, named, mapping = twin_of(gpt, bias, tie)
    ids = ids_of(3)
    w = np.random.default_rng(4).normal(size=(3, T, V)).astype(np.float32)
    with xgrad.Tape():
        logits = gpt.logits(ids)
        (logits * xgrad.Tensor(w)).sum().backward()
    theirs = twin_logits(twin, torch.tensor(ids))
    (theirs * torch.tensor(w, dtype=torch.float64)).sum().backward()
    theirs = theirs.detach().numpy()
    np.testing.assert_allclose(logits.value, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())
    grads = {name: t.grad for name, t in gpt.parameters()}
    for name, p in named.items():
        ref = p.grad.numpy().T if mapping[name].endswith("kernel") else p.grad.numpy()
        np.testing.assert_allclose(grads[mapping[name]], ref, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ref).max()),
                                   err_msg=name)


def test_logits_on_the_current_tape_and_on_an_explicit_tape_are_the_same_bits():
    gpt = small(2)
    ids = ids_of(5, (2, 4))
    with xgrad.Tape():
        current = gpt.logits(ids).numpy()
    explicit = gpt.logits(xgrad.Tape(), ids).numpy()
    assert current.shape == (2, 4, V)
    np.testing.assert_array_equal(current, explicit)


def test_next_logits_are_the_last_positions_logits():
    gpt = small(2)
    ids = ids_of(6, (3, 5))
    with xgrad.Tape(inference=True):
        full = gpt.logits(ids).numpy()
        last = gpt.next_logits(ids).numpy()
    assert last.shape == (3, V)
    np.testing.assert_allclose(last, full[:, -1], rtol=1e-6, atol=1e-6)


def test_dropout_draws_from_the_key_and_training_false_or_an_inference_tape_draws_nothing():
    gpt = small(2, dropout=0.3, attention_dropout=0.2)
    plain = small(2)
    ids = ids_of(7)
    with xgrad.Tape():
        a = gpt.logits(ids, xgrad.prng_key(1)).numpy()
        b = gpt.logits(ids, xgrad.prng_key(1)).numpy()
        c = gpt.logits(ids, xgrad.prng_key(2)).numpy()
        off = gpt.logits(ids, training=False).numpy()
        reference = plain.logits(ids).numpy()
    with xgrad.Tape(inference=True):
        inference = gpt.logits(ids).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, off)
    np.testing.assert_array_equal(off, reference)
    np.testing.assert_array_equal(inference, reference)


# ---- generate ----

def reference_generate(gpt, prompt, new_tokens, temperature, key):
    """The documented rule written here: the last `context` ids, the last position's logits,
    argmax at temperature 0, else the first id whose running sum of exp((z - max) / t) passes
    u * total with u = uniform(fold_in(key, k))."""
    ids = list(prompt)
    for k in range(new_tokens):
        with xgrad.Tape(inference=True):
            z = gpt.logits(np.array([ids[-T:]])).numpy()[0, -1].astype(np.float64)
        best = int(np.argmax(z))
        if temperature == 0:
            ids.append(best)
            continue
        weights = np.exp((z - z[best]) / temperature)
        u = float(xgrad.random.uniform(xgrad.fold_in(key, k), ())) * weights.sum()
        pick = best
        for v, weight in enumerate(weights):
            if u < weight:
                pick = v
                break
            u -= weight
        ids.append(pick)
    return ids


def test_generate_at_temperature_zero_appends_the_most_likely_id_each_time_from_the_last_context_ids():
    gpt = small(3)
    prompt = [1, 2, 3, 4, 5, 6, 7, 8]  # longer than the context: cropped, as nanoGPT's
    out = gpt.generate(prompt, 5, temperature=0.0)
    assert out[:8] == prompt and len(out) == 13
    assert out == reference_generate(gpt, prompt, 5, 0.0, None)


def test_generate_draws_the_kth_token_from_fold_in_of_the_key_so_a_key_repeats_its_text():
    gpt = small(3)
    randomize(gpt, 8)  # a peaked distribution would hide the draw
    key = xgrad.prng_key(9)
    out = gpt.generate(np.array([0, 5]), 12, temperature=1.5, key=key)
    assert out == reference_generate(gpt, [0, 5], 12, 1.5, key)
    assert out == gpt.generate([0, 5], 12, 1.5, key)
    assert gpt.generate([0, 5], 12, 1.5, 9) == out  # an int seed is prng_key(seed)


def test_generate_refuses_an_empty_prompt_a_bad_temperature_and_an_id_outside_the_vocabulary():
    gpt = small(3)
    with pytest.raises(ValueError, match="prompt is empty"):
        gpt.generate([], 3)
    with pytest.raises(ValueError, match="temperature must be finite and >= 0"):
        gpt.generate([1], 3, temperature=-1.0)
    with pytest.raises(IndexError, match="out of range"):
        gpt.generate([1, V], 3)
    with pytest.raises(TypeError, match="GPT.generate: new_tokens must be an int, got 2.5"):
        gpt.generate([1], 2.5)


# ---- parameter_groups and training ----

def test_parameter_groups_decay_the_2d_weights_only_in_the_form_adamw_accepts():
    gpt = small(4)
    decay, rest = gpt.parameter_groups(0.1)
    assert decay["weight_decay"] == pytest.approx(0.1) and rest["weight_decay"] == 0.0
    assert [t.name for t in decay["params"]] == [n for n, t in gpt.parameters() if t.ndim == 2]
    assert [t.name for t in rest["params"]] == [n for n, t in gpt.parameters() if t.ndim != 2]
    optimizer = xgrad.optim.AdamW(gpt.parameter_groups(0.1), lr=1e-2, betas=(0.9, 0.99))
    ids = ids_of(10, (4, T + 1))
    losses = []
    for _ in range(5):
        with xgrad.Tape():
            loss = xgrad.softmax_cross_entropy(gpt.logits(ids[:, :-1]), ids[:, 1:])
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0]


# ---- Messages ----

def test_gpt_config_keeps_its_keyword_arguments_and_refuses_positional_ones():
    config = nn.GPTConfig(vocab=3, context=4, layers=1, heads=1, embed_dim=2, dropout=0.1, bias=False, tie=True)
    assert (config.vocab, config.context, config.layers, config.heads, config.embed_dim) == (3, 4, 1, 1, 2)
    assert config.dropout == pytest.approx(0.1) and config.attention_dropout == 0 and not config.bias and config.tie
    assert nn.GPTConfig() == nn.GPTConfig(vocab=256, context=64, layers=2, heads=4, embed_dim=128)
    assert "embed_dim=128" in repr(nn.GPTConfig())
    with pytest.raises(TypeError):
        nn.GPTConfig(256)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"vocab": 2.5}, TypeError, "GPTConfig: vocab must be an int, got 2.5"),
    ({"layers": True}, TypeError, "GPTConfig: layers must be an int, got True"),
    ({"context": 0}, ValueError, "GPTConfig: context must be positive, got 0"),
    ({"heads": -1}, ValueError, "GPTConfig: heads must be positive, got -1"),
    ({"heads": 3}, ValueError, "GPTConfig: heads 3 must divide embed_dim 128"),
    ({"dropout": 1.0}, ValueError, r"GPTConfig: dropout must lie in \[0, 1\), got 1"),
    ({"attention_dropout": "0.1"}, TypeError, "GPTConfig: attention_dropout must be a number, got '0.1'"),
    ({"tie": 1}, TypeError, "GPTConfig: tie must be True or False, got 1"),
])
def test_a_bad_gpt_config_argument_is_an_error_naming_the_argument_and_the_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        nn.GPTConfig(**kwargs)


def test_a_gpt_refuses_a_config_that_is_not_a_gpt_config_and_a_seed_that_is_not_an_int():
    with pytest.raises(TypeError):
        nn.GPT({"vocab": 5}, 0)
    with pytest.raises(TypeError, match="GPT: seed must be an int, got 1.5"):
        nn.GPT(nn.GPTConfig(), 1.5)


def test_a_gpt_call_outside_a_tape_without_a_dropout_key_or_with_bad_ids_says_what_is_wrong():
    gpt = small(5, dropout=0.1)
    with pytest.raises(RuntimeError, match="GPT: no tape is recording"):
        gpt.logits(ids_of(1))
    with xgrad.Tape():
        with pytest.raises(ValueError, match="GPT: dropout_key is None, but dropout 0.1"):
            gpt.logits(ids_of(1))
        with pytest.raises(ValueError, match="context"):
            gpt.logits(ids_of(1, (2, T + 1)), training=False)
        with pytest.raises(IndexError, match="out of range"):
            gpt.logits([[0, V]], training=False)
