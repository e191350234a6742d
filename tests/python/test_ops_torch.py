"""Every op, operator and method of the Python surface against PyTorch in float64, forward and
gradient, on random shapes including broadcasting.

Tolerance: xgrad computes in float32, PyTorch here in float64 on the same float32 inputs.
A result passes when max|xgrad - torch| <= 1e-5 * max(|torch|, 1) over the array (relative
1e-5 of the result's largest magnitude): float32 rounds each operation to 6e-8 relative, and
the longest chains here (sums and products of up to ~60 terms, softmax, layer norm) stay
well under 1e-5. The gradient is the vector-Jacobian product with a random seed of the
output's shape (tape.backward(out, seed)), compared the same way for every input."""
import numpy as np
import pytest

import xgrad

torch = pytest.importorskip("torch", reason="torch not installed (Debian: python3-torch)")
F = torch.nn.functional

RELATIVE = 1e-5


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def close(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = np.asarray(ours, dtype=np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    scale = max(float(np.max(np.abs(theirs), initial=0.0)), 1.0)
    error = float(np.max(np.abs(ours - theirs), initial=0.0))
    assert error <= RELATIVE * scale, f"{what}: max error {error:.3g} > {RELATIVE} * {scale:.3g}"


def random_array(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def check(ours_fn, torch_fn, *arrays, seed=0, what=""):
    """ours_fn(*tensors) inside a with block vs torch_fn(*float64 tensors): value and the
    gradient of every input."""
    xs = [xgrad.Tensor(a, requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays)]
    with xgrad.Tape() as tape:
        out = ours_fn(*xs)
    ts = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    ref = torch_fn(*ts)
    close(out.value, ref, f"{what} forward")
    dy = np.random.default_rng(seed + 100).standard_normal(tuple(ref.shape)).astype(np.float32)
    tape.backward(out, dy)
    ref.backward(torch.tensor(dy.astype(np.float64)))
    for i, (x, t) in enumerate(zip(xs, ts)):
        close(x.grad, t.grad, f"{what} gradient of input {i}")


BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((2, 3, 4), (3, 1)),
    ((1, 4), (3, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((5, 1, 3), (1, 4, 1)),
    ((2, 3, 4), (2, 3, 4)),
]

BINARY = {
    # name: (xgrad function, operator form or None, torch function, input ranges)
    "add": (xgrad.add, lambda a, b: a + b, torch.add, (-2, 2), (-2, 2)),
    "sub": (xgrad.sub, lambda a, b: a - b, torch.sub, (-2, 2), (-2, 2)),
    "mul": (xgrad.mul, lambda a, b: a * b, torch.mul, (-2, 2), (-2, 2)),
    "div": (xgrad.div, lambda a, b: a / b, torch.div, (-2, 2), (0.5, 2)),
    "pow": (xgrad.pow, lambda a, b: a ** b, torch.pow, (0.5, 2), (-2, 2)),
    "maximum": (xgrad.maximum, None, torch.maximum, (-2, 2), (-2, 2)),
    "minimum": (xgrad.minimum, None, torch.minimum, (-2, 2), (-2, 2)),
}


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_a_binary_op_function_matches_torch_with_broadcasting(name, shapes):
    ours, _, theirs, range_a, range_b = BINARY[name]
    rng = np.random.default_rng(len(name) * 31 + len(shapes[0]) * 7 + len(shapes[1]))
    a, b = random_array(rng, shapes[0], *range_a), random_array(rng, shapes[1], *range_b)
    check(ours, theirs, a, b, what=f"{name}{shapes}")


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", [n for n in BINARY if BINARY[n][1] is not None])
def test_an_operator_matches_torch_with_broadcasting(name, shapes):
    _, operator, theirs, range_a, range_b = BINARY[name]
    rng = np.random.default_rng(len(name) * 17 + len(shapes[0]) * 5 + len(shapes[1]))
    a, b = random_array(rng, shapes[0], *range_a), random_array(rng, shapes[1], *range_b)
    check(operator, theirs, a, b, what=f"operator {name}{shapes}")


NUMBER_FORMS = [
    ("x + 2.5", lambda x: x + 2.5, lambda x: x + 2.5),
    ("2.5 + x", lambda x: 2.5 + x, lambda x: 2.5 + x),
    ("x - 3", lambda x: x - 3, lambda x: x - 3),
    ("3 - x", lambda x: 3 - x, lambda x: 3 - x),
    ("x * -1.5", lambda x: x * -1.5, lambda x: x * -1.5),
    ("-1.5 * x", lambda x: -1.5 * x, lambda x: -1.5 * x),
    ("x / 4", lambda x: x / 4, lambda x: x / 4),
    ("4 / x", lambda x: 4 / x, lambda x: 4 / x),
    ("x ** 3", lambda x: x ** 3, lambda x: x ** 3),
    ("x ** 0.5", lambda x: x ** 0.5, lambda x: x ** 0.5),
    ("2 ** x", lambda x: 2 ** x, lambda x: 2 ** x),
    ("-x", lambda x: -x, lambda x: -x),
    ("maximum(x, 1)", lambda x: xgrad.maximum(x, 1.0), lambda x: torch.clamp(x, min=1.0)),
    ("minimum(1, x)", lambda x: xgrad.minimum(1.0, x), lambda x: torch.clamp(x, max=1.0)),
    ("x * np.float32(2)", lambda x: x * np.float32(2), lambda x: x * 2),
    ("np.float64(2) * x", lambda x: np.float64(2) * x, lambda x: 2 * x),
    ("x + an array", lambda x: x + np.arange(4, dtype=np.float32), lambda x: x + torch.arange(4.0)),
]


@pytest.mark.parametrize("form", NUMBER_FORMS, ids=[f[0] for f in NUMBER_FORMS])
def test_a_python_number_on_either_side_of_an_operator_matches_torch(form):
    _, ours, theirs = form
    x = random_array(np.random.default_rng(3), (3, 4), 0.5, 2.0)
    check(ours, theirs, x, what=form[0])


UNARY = {
    "neg": (torch.neg, (-2, 2)),
    "exp": (torch.exp, (-3, 3)),
    "log": (torch.log, (0.1, 3)),
    "sqrt": (torch.sqrt, (0.1, 3)),
    "relu": (torch.relu, (-2, 2)),
    "sigmoid": (torch.sigmoid, (-6, 6)),
    "abs": (torch.abs, (-2, 2)),
    "tanh": (torch.tanh, (-3, 3)),
    "gelu": (lambda x: F.gelu(x, approximate="tanh"), (-3, 3)),
    "mean_square": (lambda x: (x * x).mean(), (-2, 2)),
}


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_a_unary_op_function_matches_torch(name, shape):
    theirs, (low, high) = UNARY[name]
    x = random_array(np.random.default_rng(len(name) + len(shape)), shape, low, high)
    check(getattr(xgrad, name), theirs, x, what=f"{name}{shape}")


@pytest.mark.parametrize("name", ["relu", "tanh", "exp", "log", "sigmoid", "sqrt", "abs", "gelu"])
def test_a_unary_method_matches_torch(name):
    theirs, (low, high) = UNARY[name]
    x = random_array(np.random.default_rng(7), (3, 5), low, high)
    check(lambda t: getattr(t, name)(), theirs, x, what=f"x.{name}()")


REDUCTIONS = [(None, False), (None, True), (0, False), (-1, True), ((0, 2), False), ((2, 0), True), (1, False)]


def torch_dims(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return axis if isinstance(axis, tuple) else (axis,)


@pytest.mark.parametrize("axis, keepdims", REDUCTIONS, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "logsumexp"])
def test_a_reduction_matches_torch_as_a_function_and_a_method(name, axis, keepdims):
    def theirs(t):
        dims = torch_dims(axis, t.dim())
        if name == "sum":
            return t.sum(dim=dims, keepdim=keepdims)
        if name == "mean":
            return t.mean(dim=dims, keepdim=keepdims)
        if name == "max":
            return torch.amax(t, dim=dims, keepdim=keepdims)
        return torch.logsumexp(t, dim=dims, keepdim=keepdims)

    x = random_array(np.random.default_rng(11), (2, 3, 4))
    check(lambda t: getattr(xgrad, name)(t, axis=axis, keepdims=keepdims), theirs, x, what=f"xgrad.{name}")
    check(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), theirs, x, what=f"x.{name}")


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax_match_torch_along_any_axis(name, axis):
    theirs = getattr(torch, name)
    x = random_array(np.random.default_rng(13), (3, 4, 5), -4, 4)
    check(lambda t: getattr(xgrad, name)(t, axis=axis), lambda t: theirs(t, dim=axis), x, what=name)
    check(lambda t: getattr(t, name)(axis), lambda t: theirs(t, dim=axis), x, what=f"x.{name}")


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_and_the_at_operator_match_torch(shapes):
    rng = np.random.default_rng(17)
    x, w = random_array(rng, shapes[0]), random_array(rng, shapes[1])
    check(xgrad.matmul, torch.matmul, x, w, what=f"matmul{shapes}")
    check(lambda a, b: a @ b, torch.matmul, x, w, what=f"@{shapes}")


def test_matmul_transposed_linear_add_bias_and_add_broadcast_match_torch():
    rng = np.random.default_rng(19)
    x, w, b = random_array(rng, (2, 3, 4)), random_array(rng, (5, 4)), random_array(rng, (5,))
    check(xgrad.matmul_transposed, lambda a, c: a @ c.T, x, w, what="matmul_transposed")
    w2 = random_array(rng, (4, 5))
    check(xgrad.linear, lambda a, c, d: a @ c + d, x, w2, b, what="linear")
    check(xgrad.add_bias, lambda a, d: a + d, random_array(rng, (2, 3, 5)), b, what="add_bias")
    check(xgrad.add_broadcast, lambda a, r: a + r, random_array(rng, (2, 3, 4)), random_array(rng, (3, 4)),
          what="add_broadcast")


def test_layer_norm_matches_torch():
    rng = np.random.default_rng(23)
    x, w, b = random_array(rng, (2, 3, 8)), random_array(rng, (8,)), random_array(rng, (8,))
    check(lambda a, c, d: xgrad.layer_norm(a, c, d, eps=1e-5),
          lambda a, c, d: F.layer_norm(a, (8,), c, d, eps=1e-5), x, w, b, what="layer_norm")


@pytest.mark.parametrize("ignore_index", [None, 2, -100])
def test_softmax_cross_entropy_matches_torch_with_and_without_ignore_index(ignore_index):
    rng = np.random.default_rng(29)
    logits = random_array(rng, (2, 3, 5), -3, 3)
    targets = np.array([[2, 0, 4], [2, 1, 3]])
    if ignore_index == -100:
        targets[0, 1] = -100
    check(lambda z: xgrad.softmax_cross_entropy(z, targets, ignore_index=ignore_index),
          lambda z: F.cross_entropy(z.reshape(-1, 5), torch.tensor(targets.reshape(-1)),
                                    ignore_index=-100 if ignore_index is None else ignore_index),
          logits, what="softmax_cross_entropy")


def test_embedding_lookup_matches_torch_with_repeats_and_padding():
    rng = np.random.default_rng(31)
    table = random_array(rng, (7, 3))
    ids = np.array([[1, 4, 1], [6, 0, 4]])
    check(lambda t: xgrad.embedding_lookup(t, ids, padding_idx=4),
          lambda t: F.embedding(torch.tensor(ids), t, padding_idx=4), table, what="embedding_lookup")


def torch_causal_attention(qkv, heads):
    batch, steps, three_c = qkv.shape
    c = three_c // 3
    q, k, v = qkv.split(c, dim=-1)

    def split_heads(t):
        return t.reshape(batch, steps, heads, c // heads).transpose(1, 2)

    q, k, v = split_heads(q), split_heads(k), split_heads(v)
    scores = q @ k.transpose(-1, -2) / (c // heads) ** 0.5
    mask = torch.ones(steps, steps, dtype=torch.bool).tril()
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return (weights @ v).transpose(1, 2).reshape(batch, steps, c)


def test_causal_self_attention_matches_torch():
    qkv = random_array(np.random.default_rng(37), (2, 5, 12))
    check(lambda t: xgrad.causal_self_attention(t, 2), lambda t: torch_causal_attention(t, 2), qkv,
          what="causal_self_attention")


SHAPE_OPS = [
    ("reshape(x, (4, -1))", lambda x: xgrad.reshape(x, (4, -1)), lambda x: x.reshape(4, -1)),
    ("x.reshape(2, 2, 6)", lambda x: x.reshape(2, 2, 6), lambda x: x.reshape(2, 2, 6)),
    ("x.reshape((-1,))", lambda x: x.reshape((-1,)), lambda x: x.reshape(-1)),
    ("transpose(x)", xgrad.transpose, lambda x: x.permute(2, 1, 0)),
    ("x.transpose(1, 0, 2)", lambda x: x.transpose(1, 0, 2), lambda x: x.permute(1, 0, 2)),
    ("x.transpose((2, 0, 1))", lambda x: x.transpose((2, 0, 1)), lambda x: x.permute(2, 0, 1)),
    ("x.T", lambda x: x.T, lambda x: x.permute(2, 1, 0)),
    ("permute(x, (0, 2, 1))", lambda x: xgrad.permute(x, (0, 2, 1)), lambda x: x.permute(0, 2, 1)),
    ("x[1]", lambda x: x[1], lambda x: x[1]),
    ("x[:, -1]", lambda x: x[:, -1], lambda x: x[:, -1]),
    ("x[0:2, ::2]", lambda x: x[0:2, ::2], lambda x: x[0:2, ::2]),
    ("x[1:, 1:3, -1]", lambda x: x[1:, 1:3, -1], lambda x: x[1:, 1:3, -1]),
    ("x[..., 0]", lambda x: x[..., 0], lambda x: x[..., 0]),
    ("x[::-1]", lambda x: x[::-1], lambda x: x.flip(0)),
    ("x[[1, 0, 1]]", lambda x: x[[1, 0, 1]], lambda x: x[[1, 0, 1]]),
    ("slice(x, (0, slice(1, 3)))", lambda x: xgrad.slice(x, (0, slice(1, 3))), lambda x: x[0, 1:3]),
    ("broadcast_to(x[0], (2, 3, 4))", lambda x: xgrad.broadcast_to(x[0], (2, 3, 4)),
     lambda x: torch.broadcast_to(x[0], (2, 3, 4))),
    ("take(x, [2, 0, 2], axis=2)", lambda x: xgrad.take(x, [2, 0, 2], axis=2),
     lambda x: x.index_select(2, torch.tensor([2, 0, 2]))),
    ("take(x, [5, 1])", lambda x: xgrad.take(x, [5, 1]), lambda x: x.reshape(-1)[[5, 1]]),
    ("concat([x, x * 2], axis=1)", lambda x: xgrad.concat([x, x * 2], axis=1), lambda x: torch.cat([x, x * 2], 1)),
    ("stack([x, -x], axis=-1)", lambda x: xgrad.stack([x, -x], axis=-1), lambda x: torch.stack([x, -x], -1)),
    ("split(x, 2, axis=2)", lambda x: xgrad.concat(xgrad.split(x, 2, axis=2)[::-1], axis=2),
     lambda x: torch.cat(x.split(2, dim=2)[::-1], 2)),
    ("split_sizes(x, [1, 3], axis=2)", lambda x: xgrad.split_sizes(x, [1, 3], axis=2)[1] * 3,
     lambda x: x.split([1, 3], dim=2)[1] * 3),
]


@pytest.mark.parametrize("op", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_a_shape_op_or_index_matches_torch(op):
    _, ours, theirs = op
    x = random_array(np.random.default_rng(41), (2, 3, 4))
    check(ours, theirs, x, what=op[0])


def test_a_whole_expression_of_operators_and_methods_matches_torch():
    rng = np.random.default_rng(43)
    x, w, b = random_array(rng, (4, 3)), random_array(rng, (3, 5)), random_array(rng, (5,))

    def ours(x, w, b):
        h = (x @ w + b).tanh()
        return ((h ** 2).mean(axis=0) - h.max(axis=0) / 3 + h.T.sum(axis=1) * 0.5).log_softmax().sum()

    def theirs(x, w, b):
        h = torch.tanh(x @ w + b)
        return torch.log_softmax((h ** 2).mean(0) - h.amax(0) / 3 + h.T.sum(1) * 0.5, -1).sum()

    check(ours, theirs, x, w, b, what="expression")


def test_the_explicit_tape_forms_match_the_with_block_forms():
    rng = np.random.default_rng(47)
    a, c = random_array(rng, (3, 4)), random_array(rng, (4,))
    x, y = xgrad.Tensor(a, requires_grad=True), xgrad.Tensor(c, requires_grad=True)
    tape = xgrad.Tape()
    loss = xgrad.sum(tape, xgrad.mul(tape, x, y))
    tape.backward(loss)
    xt, yt = torch.tensor(a.astype(np.float64), requires_grad=True), torch.tensor(c.astype(np.float64), requires_grad=True)
    (xt * yt).sum().backward()
    close(loss.value, (xt * yt).sum(), "explicit forward")
    close(x.grad, xt.grad, "explicit gradient of x")
    close(y.grad, yt.grad, "explicit gradient of y")
