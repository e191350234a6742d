"""xgrad.nn: Scope and the layers built from it, as in C++ (layers/*.hpp). Names and keys are
checked against values computed here independently (SHA-1 of each path item from hashlib,
folded in with xgrad.random) and against the parameters the C++ next_token tool saves for the
same seed; the layers' arithmetic is checked against PyTorch in test_nn_torch.py."""
import hashlib
import json
import os
import subprocess

import numpy as np
import pytest

import xgrad
from xgrad import nn

NEXT_TOKEN = os.environ.get("XGRAD_NEXT_TOKEN")


def name_hash(name):
    """Flax's _fold_in_static: the first 4 bytes, big-endian, of SHA-1 of the name."""
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big")


def key_of(root, path):
    key = root
    for item in path.split("."):
        key = xgrad.fold_in(key, name_hash(item))
    return key


def normal(key, shape, stddev):
    """jax.nn.initializers.normal(stddev): random.normal(key, shape) * stddev in float32."""
    return xgrad.random.normal(key, shape) * np.float32(stddev)


def block_names(prefix):
    return [f"{prefix}.{n}" for n in ("ln1.weight", "ln1.bias", "attn.qkv.kernel", "attn.qkv.bias",
                                      "attn.proj.kernel", "attn.proj.bias", "ln2.weight", "ln2.bias",
                                      "mlp.fc.kernel", "mlp.fc.bias", "mlp.proj.kernel", "mlp.proj.bias")]


# ---- Scope ----

def test_a_root_scope_from_an_int_seed_has_the_key_prng_key_of_the_seed():
    assert nn.Scope(5).key == xgrad.prng_key(5)
    assert nn.Scope(xgrad.Key(3, 4)).key == xgrad.Key(3, 4)
    assert nn.Scope(5).path == "" and nn.Scope(5, "model").path == "model"


def test_a_child_scope_extends_the_path_and_folds_the_sha1_of_its_name_into_the_key():
    attn = nn.Scope(5).child("h0").child("attn")
    assert attn.path == "h0.attn"
    assert attn.key == key_of(xgrad.prng_key(5), "h0.attn")


def test_scope_parameters_are_name_tensor_pairs_in_creation_order_shared_by_every_child():
    root = nn.Scope(0)
    nn.Linear(root.child("b"), 2, 3)
    nn.LayerNorm(root.child("a"), 3)
    assert root.child("x").names() == ["b.kernel", "b.bias", "a.weight", "a.bias"]
    assert [(name, t.name) for name, t in root.parameters()] == [(n, n) for n in root.names()]
    assert len(root) == root.count == 4 and root.size == 6 + 3 + 3 + 3
    assert [t.name for t in root.tensors()] == root.names()


def test_scope_param_with_a_value_draws_no_key_and_with_an_initializer_draws_the_scopes_key():
    scope = nn.Scope(1).child("layer")
    seen = []
    drawn = scope.param("w", lambda key, shape: (seen.append(key), np.full(shape, 0.5))[1], (2, 2))
    given = scope.param("b", [1.0, 2.0])
    assert seen == [scope.key] and drawn.name == "layer.w" and drawn.requires_grad
    np.testing.assert_array_equal(given.value, [1.0, 2.0])


def test_a_scopes_key_seeds_only_one_random_parameter():
    scope = nn.Scope(1).child("layer")
    scope.param("w", xgrad.initializers.normal(), (2,))
    with pytest.raises(RuntimeError, match="layer.*already drawn"):
        scope.param("v", xgrad.initializers.normal(), (2,))


def test_a_duplicate_parameter_name_or_a_bad_child_name_is_a_value_error():
    scope = nn.Scope(1)
    nn.LayerNorm(scope.child("ln"), 2)
    with pytest.raises(ValueError, match="duplicate parameter name ln.weight"):
        nn.LayerNorm(scope.child("ln"), 2)
    with pytest.raises(ValueError, match='without \'.\', got "a.b"'):
        scope.child("a.b")


def test_scope_param_refuses_an_initializer_that_is_not_callable_or_a_shape_that_is_not_ints():
    scope = nn.Scope(1).child("layer")
    with pytest.raises(TypeError, match="Scope.param: init must be a callable"):
        scope.param("w", 0.5, (2,))
    with pytest.raises(TypeError, match="Scope.param: shape must be a sequence of non-negative ints, got 'ab'"):
        scope.param("w", xgrad.initializers.normal(), "ab")
    assert len(scope) == 0


def test_a_scope_key_that_is_neither_a_key_nor_an_int_is_a_type_error_naming_it():
    for bad in (2.5, "7", True, None):
        with pytest.raises(TypeError, match=f"Scope: key must be an xgrad.Key or an int seed, got {bad!r}"):
            nn.Scope(bad)


# ---- Names and keys as C++ draws them ----

def test_linear_and_embed_from_a_scope_are_the_top_level_classes():
    assert nn.Linear is xgrad.Linear and nn.Embed is xgrad.Embed


def test_a_linear_draws_its_kernel_from_its_scopes_key_and_names_it_by_path():
    root = nn.Scope(3)
    layer = nn.Linear(root.child("head"), 4, 5)
    assert root.names() == ["head.kernel", "head.bias"]
    expected = xgrad.initializers.lecun_normal()(key_of(xgrad.prng_key(3), "head"), (4, 5))
    np.testing.assert_array_equal(layer.kernel.value, expected)
    np.testing.assert_array_equal(layer.bias.value, np.zeros(5))


def test_a_linear_without_bias_has_only_a_kernel():
    root = nn.Scope(3)
    layer = nn.Linear(root.child("head"), 4, 5, use_bias=False)
    assert layer.bias is None and root.names() == ["head.kernel"]
    assert [p.name for p in layer.parameters()] == ["head.kernel"]


def test_an_embed_draws_its_table_from_its_scopes_key_as_flax():
    root = nn.Scope(2)
    embed = nn.Embed(root.child("wte"), 10, 4)
    tied = nn.Embed(root.child("wpe"), 6, 4, init=xgrad.initializers.normal(0.02), table_name="")
    assert root.names() == ["wte.embedding", "wpe"]
    np.testing.assert_array_equal(
        embed.embedding.value, xgrad.initializers.flax_embed_default()(key_of(xgrad.prng_key(2), "wte"), (10, 4)))
    np.testing.assert_array_equal(tied.embedding.value, normal(key_of(xgrad.prng_key(2), "wpe"), (6, 4), 0.02))


def test_a_layer_norm_is_ones_and_zeros_and_draws_no_key():
    root = nn.Scope(0)
    norm = nn.LayerNorm(root.child("ln"), 3, eps=1e-6)
    bare = nn.LayerNorm(root.child("ln2"), 3, use_bias=False)
    np.testing.assert_array_equal(norm.weight.value, np.ones(3))
    np.testing.assert_array_equal(norm.bias.value, np.zeros(3))
    assert norm.eps == pytest.approx(1e-6) and norm.features == 3
    assert bare.bias is None and root.names() == ["ln.weight", "ln.bias", "ln2.weight"]


def test_a_transformer_block_names_and_draws_every_parameter_by_its_path_as_gpt2():
    L, C = 3, 8
    root = nn.Scope(11)
    block = nn.TransformerBlock(root.child("h1"), C, 2, layers=L)
    assert root.names() == block_names("h1")
    assert [p.name for p in block.parameters()] == root.names()
    residual = np.float32(np.float64(np.float32(0.02)) / np.sqrt(2.0 * L))  # float(double(0.02f) / sqrt(2L))
    expected = {"attn.qkv": (C, 3 * C, 0.02), "attn.proj": (C, C, residual),
                "mlp.fc": (C, 4 * C, 0.02), "mlp.proj": (4 * C, C, residual)}
    values = dict(root.parameters())
    for path, (rows, cols, stddev) in expected.items():
        key = key_of(xgrad.prng_key(11), "h1." + path)
        np.testing.assert_array_equal(values[f"h1.{path}.kernel"].value, normal(key, (rows, cols), stddev),
                                      err_msg=path)
        np.testing.assert_array_equal(values[f"h1.{path}.bias"].value, np.zeros(cols))
    assert block.attn.qkv.kernel.name == "h1.attn.qkv.kernel" and block.mlp.proj.bias.name == "h1.mlp.proj.bias"


def test_sublayers_built_alone_in_the_same_scopes_draw_the_blocks_bits():
    L, C = 2, 8
    block_root, parts_root = nn.Scope(4), nn.Scope(4)
    nn.TransformerBlock(block_root.child("h0"), C, 2, layers=L)
    h0 = parts_root.child("h0")
    residual = xgrad.initializers.normal(0.02 / np.sqrt(2 * L))
    nn.LayerNorm(h0.child("ln1"), C)
    nn.CausalSelfAttention(h0.child("attn"), C, 2, proj_init=residual)
    nn.LayerNorm(h0.child("ln2"), C)
    nn.MLPBlock(h0.child("mlp"), C, proj_init=residual)
    assert parts_root.names() == block_root.names()
    for (name, a), (_, b) in zip(block_root.parameters(), parts_root.parameters()):
        np.testing.assert_array_equal(a.value, b.value, err_msg=name)


@pytest.mark.skipif(not NEXT_TOKEN, reason="XGRAD_NEXT_TOKEN (path of build/examples/next_token) is not set; "
                                           "CTest sets it")
def test_the_gpt_built_from_xgrad_nn_has_the_parameters_next_token_saves_for_the_same_seed_bit_for_bit(tmp_path):
    seed, V, T, L, H, C = 5, 256, 8, 2, 2, 16
    run = subprocess.run(
        [NEXT_TOKEN, "--model", "transformer", "--steps", "0", "--layers", str(L), "--heads", str(H),
         "--embed-dim", str(C), "--context", str(T), "--eval-windows", "1", "--samples", "0", "--quiet",
         "--seed", str(seed), "--save", str(tmp_path / "ckpt")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    root = nn.Scope(seed)
    gpt2 = xgrad.initializers.normal(0.02)
    nn.Embed(root.child("wte"), V, C, init=gpt2, table_name="")
    nn.Embed(root.child("wpe"), T, C, init=gpt2, table_name="")
    for i in range(L):
        nn.TransformerBlock(root.child(f"h{i}"), C, H, layers=L)
    nn.LayerNorm(root.child("ln_f"), C)
    nn.Linear(root.child("head"), C, V, use_bias=False, kernel_init=gpt2)
    manifest = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())
    assert root.names() == [p["name"] for p in manifest["parameters"]]
    for name, tensor in root.parameters():
        np.testing.assert_array_equal(tensor.value, np.load(tmp_path / "ckpt" / f"{name}.npy"), err_msg=name)


# ---- Calls: the current tape or an explicit one ----

def small_block(seed=0, **options):
    return nn.TransformerBlock(nn.Scope(seed).child("h0"), 8, 2, layers=2, **options)


def inputs(shape=(2, 3, 8), seed=0):
    return xgrad.Tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True, name="x")


def test_a_layer_called_in_a_with_block_records_on_its_tape_as_the_explicit_call_does():
    block, x = small_block(), inputs()
    with xgrad.Tape() as tape:
        implicit = block(x)
    explicit_tape = xgrad.Tape()
    explicit = block(explicit_tape, x)
    np.testing.assert_array_equal(implicit.value, explicit.value)
    assert len(tape) == len(explicit_tape) > 0


def test_an_explicit_tape_is_used_even_inside_a_with_block():
    norm, x = nn.LayerNorm(nn.Scope(0).child("ln"), 8), inputs()
    other = xgrad.Tape()
    with xgrad.Tape() as current:
        norm(other, x)
    assert len(other) == 1 and len(current) == 0


def test_every_layer_records_on_the_current_tape_and_gets_gradients():
    root = nn.Scope(1)
    embed = nn.Embed(root.child("wte"), 10, 8)
    layers = [nn.LayerNorm(root.child("ln"), 8), nn.CausalSelfAttention(root.child("attn"), 8, 2),
              nn.MLPBlock(root.child("mlp"), 8), small_block(2)]
    head = nn.Linear(root.child("head"), 8, 10)
    with xgrad.Tape():
        x = embed([[1, 2, 3], [4, 5, 6]])
        for layer in layers:
            x = layer(x)
        loss = (head(x) * xgrad.Tensor(np.linspace(-1, 1, 10))).sum() + embed.attend(x).mean()
    loss.backward()
    for name, p in root.parameters():
        assert np.abs(p.grad).sum() > 0, name


def test_a_layer_called_outside_every_tape_is_a_runtime_error_naming_it():
    block, x = small_block(), inputs()
    with pytest.raises(RuntimeError, match=r"TransformerBlock h0: no tape is recording: .*layer\(tape, x\)"):
        block(x)
    with pytest.raises(RuntimeError, match="Linear head: no tape is recording"):
        nn.Linear(nn.Scope(0).child("head"), 8, 2)(x)
    with pytest.raises(RuntimeError, match="Embed wte: no tape is recording"):
        nn.Embed(nn.Scope(0).child("wte"), 4, 2)([1])


def test_an_inference_tape_evaluates_a_layer_without_recording():
    block, x = small_block(dropout=0.5), inputs()
    with xgrad.Tape(inference=True) as tape:
        y = block(x)  # no dropout_key needed: nothing is drawn on an inference tape
    assert len(tape) == 0 and not y.requires_grad
    with xgrad.Tape():
        np.testing.assert_array_equal(y.value, small_block()(x, training=False).value)


# ---- Dropout ----

def test_block_dropout_needs_a_key_only_when_it_is_drawn():
    block, x = small_block(dropout=0.25), inputs()
    with xgrad.Tape():
        with pytest.raises(ValueError, match="TransformerBlock h0: dropout_key is None, but dropout 0.25"):
            block(x)
        off = block(x, training=False)
        first = block(x, xgrad.prng_key(1))
        again = block(x, dropout_key=xgrad.prng_key(1))
        other = block(x, xgrad.prng_key(2))
        plain = small_block()(x)
    np.testing.assert_array_equal(off.value, plain.value)  # dropout changes no parameter
    np.testing.assert_array_equal(first.value, again.value)
    assert not np.array_equal(first.value, other.value) and not np.array_equal(first.value, off.value)


def test_attention_dropout_alone_also_needs_a_key():
    attn, x = nn.CausalSelfAttention(nn.Scope(0).child("attn"), 8, 2, attention_dropout=0.1), inputs()
    with xgrad.Tape(), pytest.raises(ValueError, match=r"dropout 0 \(attention_dropout 0.1\)"):
        attn(x)


def test_the_dropout_layer_is_the_dropout_op_with_its_rate():
    drop, x, key = nn.Dropout(0.5), inputs(), xgrad.prng_key(3)
    with xgrad.Tape():
        y = drop(x, key)
        expected = xgrad.dropout(x, 0.5, key)
    np.testing.assert_array_equal(y.value, expected.value)
    assert set(np.unique(y.value / np.where(x.value == 0, 1, x.value)).round(5)) <= {0.0, 2.0}
    tape = xgrad.Tape()
    np.testing.assert_array_equal(drop(tape, x, key=key).value, expected.value)
    assert len(tape) == 1


def test_the_dropout_layer_is_the_identity_when_not_training_or_on_an_inference_tape():
    drop, x = nn.Dropout(0.5), inputs()
    with xgrad.Tape() as tape:
        assert drop(x, training=False) is x
    with xgrad.Tape(inference=True):
        np.testing.assert_array_equal(drop(x).value, x.value)
    assert len(tape) == 0
    with xgrad.Tape(), pytest.raises(ValueError, match="Dropout: key is None, but dropout 0.5 is drawn"):
        drop(x)


def test_a_bad_dropout_rate_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"Dropout: rate must lie in \[0, 1\), got 1"):
        nn.Dropout(1)
    with pytest.raises(ValueError, match="got nan"):
        nn.Dropout(float("nan"))
    with pytest.raises(TypeError, match="Dropout: rate must be a number, got '0.1'"):
        nn.Dropout("0.1")
    with pytest.raises(TypeError, match="Dropout: x must be an xgrad.Tensor"):
        nn.Dropout(0.1)([1.0, 2.0], xgrad.prng_key(0))


# ---- Bad configurations: the right type, the argument and the value ----

@pytest.mark.parametrize("build, error, message", [
    (lambda s: nn.Linear(s, 2.5, 3), TypeError, "Linear layer: in_features must be an int, got 2.5"),
    (lambda s: nn.Linear(s, 2, "3"), TypeError, "Linear layer: out_features must be an int, got '3'"),
    (lambda s: nn.Linear(s, -1, 3), ValueError, "Linear layer: in_features must be positive, got -1"),
    (lambda s: nn.Linear(s, 0, 3), ValueError, "Linear layer: in_features and out_features must be positive, got 0"),
    (lambda s: nn.Linear(s, 2, 3, use_bias=1), TypeError, "Linear layer: use_bias must be True or False, got 1"),
    (lambda s: nn.Linear(s, 2, 3, kernel_init=0.02), TypeError, "Linear layer: kernel_init must be a callable"),
    (lambda s: nn.Embed(s, True, 3), TypeError, "Embed layer: num_embeddings must be an int, got True"),
    (lambda s: nn.Embed(s, 4, 3, padding_idx=4), ValueError, r"padding_idx 4 is out of range \[0, 4\)"),
    (lambda s: nn.LayerNorm(s, 0), ValueError, "LayerNorm layer: features must be positive"),
    (lambda s: nn.LayerNorm(s, 4, eps=0), ValueError, "LayerNorm layer: eps must be positive and finite, got 0"),
    (lambda s: nn.LayerNorm(s, 4, eps="1e-5"), TypeError, "LayerNorm layer: eps must be a number, got '1e-5'"),
    (lambda s: nn.CausalSelfAttention(s, 8, 3), ValueError,
     r"CausalSelfAttention layer: heads \(3\) must be positive and divide embed_dim \(8\)"),
    (lambda s: nn.CausalSelfAttention(s, 8, 2, attention_dropout=1.0), ValueError,
     r"CausalSelfAttention layer: attention_dropout must lie in \[0, 1\), got 1"),
    (lambda s: nn.MLPBlock(s, 8, dropout=-0.1), ValueError, r"MLPBlock layer: dropout must lie in \[0, 1\), got -0.1"),
    (lambda s: nn.MLPBlock(s, 8, dropout=None), TypeError, "MLPBlock layer: dropout must be a number, got None"),
    (lambda s: nn.TransformerBlock(s, 8, 2, layers=0), ValueError, r"TransformerBlock layer: layers \(L\) must be positive"),
    (lambda s: nn.TransformerBlock(s, 8, 2, init_stddev=float("inf")), ValueError,
     "TransformerBlock layer: init_stddev must be positive and finite, got inf"),
    (lambda s: nn.TransformerBlock(s, 8, 2.0), TypeError, "TransformerBlock layer: heads must be an int, got 2.0"),
])
def test_a_bad_configuration_is_refused_naming_the_layer_the_argument_and_the_value(build, error, message):
    root = nn.Scope(0)
    with pytest.raises(error, match=message):
        build(root.child("layer"))
    assert root.names() == []  # refused before anything was drawn


def test_numpy_integers_are_accepted_as_extents():
    layer = nn.Linear(nn.Scope(0).child("l"), np.int64(3), np.int32(2))
    assert layer.kernel.shape == (3, 2)


def test_every_public_name_of_xgrad_nn_and_of_its_own_classes_has_a_docstring():
    for name in nn.__all__:
        assert (getattr(nn, name).__doc__ or "").strip(), name
    for cls in (nn.Scope, nn.LayerNorm, nn.CausalSelfAttention, nn.MLPBlock, nn.TransformerBlock, nn.Dropout):
        missing = [n for n in dir(cls) if not n.startswith("_") and not (getattr(cls, n).__doc__ or "").strip()]
        assert missing == [], cls.__name__
    assert "Embed(scope, num_embeddings, features" in nn.Embed.__doc__
    assert "Linear(scope, in_features, out_features" in nn.Linear.__doc__
