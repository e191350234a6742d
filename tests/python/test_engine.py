"""The engine from Python: tensors and their views, tapes, ops, layers, SGD, the gradient
checker, the PRNG, initializers and .npy files."""
import numpy as np
import pytest

import xgrad


def make_embed(vocab=5, dim=3, **kwargs):
    return xgrad.Embed(vocab, dim, xgrad.flax.param_key(xgrad.prng_key(0)), **kwargs)


def test_a_parameters_value_is_a_writable_zero_copy_view():
    p = xgrad.Tensor.parameter(np.zeros((2, 3)), "p")
    view = p.value
    view[1, 2] = 4.0
    assert p.value[1, 2] == 4.0 and np.shares_memory(view, p.value)


def test_a_view_keeps_its_tensor_alive():
    view = xgrad.Tensor(np.arange(6.0).reshape(2, 3)).value
    np.testing.assert_array_equal(view, np.arange(6.0).reshape(2, 3))


def test_a_view_of_the_table_sees_an_sgd_step():
    embed = make_embed()
    table = embed.embedding.value
    before = table.copy()
    tape = xgrad.Tape()
    tape.backward(xgrad.sum(tape, embed(tape, [3])))
    xgrad.SGD(embed.parameters(), lr=0.5).step()
    np.testing.assert_array_equal(table[3], before[3] - 0.5)
    np.testing.assert_array_equal(np.delete(table, 3, axis=0), np.delete(before, 3, axis=0))


def test_a_recorded_op_output_is_read_only_and_cannot_be_made_writable():
    x = xgrad.Tensor([0.5, -1.0], requires_grad=True)
    tape = xgrad.Tape()
    y = xgrad.tanh(tape, x)
    assert not y.value.flags.writeable
    with pytest.raises(ValueError):
        y.value[0] = 1.0
    with pytest.raises(ValueError):
        y.value.setflags(write=True)


def test_an_inference_output_is_writable():
    x = xgrad.Tensor([0.5, -1.0], requires_grad=True)
    y = xgrad.tanh(xgrad.Tape(inference=True), x)
    assert y.value.flags.writeable and not y.requires_grad


def test_a_tensor_copies_its_initial_value_as_float32():
    source = np.array([1.0, 2.0])
    t = xgrad.Tensor(source)
    source[0] = 9.0
    assert t.value.dtype == np.float32 and t.value[0] == 1.0


def test_a_gradient_is_a_copy_that_outlives_zero_grad():
    w = xgrad.Tensor.parameter([1.0, 2.0], "w")
    tape = xgrad.Tape()
    tape.backward(xgrad.mean_square(tape, w))
    grad = w.grad
    sgd = xgrad.SGD([w], lr=0.1)
    sgd.zero_grad()
    np.testing.assert_allclose(grad, [1.0, 2.0])
    assert w.grad_kind == "none"
    np.testing.assert_array_equal(w.grad, np.zeros(w.shape, np.float32))


def test_a_gathered_tables_gradient_is_rows_and_values():
    embed = make_embed(padding_idx=1)
    tape = xgrad.Tape()
    y = embed(tape, [4, 1, 0, 4])
    weights = xgrad.Tensor(np.arange(12.0).reshape(4, 3))
    tape.backward(xgrad.sum(tape, xgrad.mul(tape, y, weights)))
    rows, values = embed.embedding.row_sparse_grad
    assert embed.embedding.grad_kind == "row_sparse"
    np.testing.assert_array_equal(rows, [4, 0])
    np.testing.assert_array_equal(values, [[9.0, 11.0, 13.0], [6.0, 7.0, 8.0]])


def test_embed_draws_flaxs_table():
    np.testing.assert_array_equal(make_embed().embedding.value, xgrad.flax.embed_table(0, 5, 3))


def test_embed_takes_two_dimensional_ids():
    y = make_embed()(xgrad.Tape(), np.array([[0, 1], [2, 3]]))
    assert y.shape == (2, 2, 3)


def test_embed_refuses_an_out_of_range_id_with_an_index_error_naming_the_table():
    with pytest.raises(IndexError, match=r"embed\.embedding: token id 5 at position 2 is out of range \[0, 5\)"):
        make_embed()(xgrad.Tape(), [0, 1, 5])


def test_a_shape_mismatch_is_a_value_error_naming_the_op():
    tape = xgrad.Tape()
    with pytest.raises(xgrad.ShapeError, match="matmul") as info:
        xgrad.matmul(tape, xgrad.Tensor(np.ones((2, 3))), xgrad.Tensor(np.ones((4, 5))))
    assert isinstance(info.value, ValueError)


def test_printing_a_tape_shows_each_record_and_the_rows_touched():
    embed = make_embed()
    tape = xgrad.Tape()
    tape.backward(xgrad.sum(tape, embed(tape, [0, 0, 2])))
    assert len(tape) == 2
    assert str(tape).splitlines()[0].startswith("0: embedding_lookup (5, 3) -> (3, 3)")
    assert "table gradient touches 2 of 5 rows" in str(tape)


def test_an_inference_tape_records_nothing():
    tape = xgrad.Tape(xgrad.Tape.Mode.inference)
    make_embed()(tape, [0, 1])
    assert len(tape) == 0 and tape.mode == xgrad.Tape.Mode.inference


def test_backward_with_a_seed_is_a_vector_jacobian_product():
    x = xgrad.Tensor([1.0, 2.0], requires_grad=True)
    tape = xgrad.Tape()
    tape.backward(xgrad.mul(tape, x, x), seed=[1.0, 10.0])
    np.testing.assert_array_equal(x.grad, [2.0, 40.0])


def test_linear_computes_x_at_kernel_plus_bias():
    layer = xgrad.Linear(3, 2, xgrad.prng_key(1), bias_init=xgrad.initializers.ones())
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    y = layer(xgrad.Tape(), xgrad.Tensor(x))
    np.testing.assert_allclose(y.value, x @ layer.kernel.value + 1.0, rtol=1e-6)


def test_the_linear_op_matches_matmul_then_add_bias_forward_and_backward():
    rng = np.random.default_rng(0)
    x = xgrad.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = xgrad.Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    b = xgrad.Tensor(rng.standard_normal(5), requires_grad=True)
    tape = xgrad.Tape()
    y = xgrad.linear(tape, x, w, b)
    np.testing.assert_allclose(y.value, x.value @ w.value + b.value, rtol=1e-6)
    tape.backward(xgrad.sum(tape, y))
    np.testing.assert_allclose(x.grad, np.ones((4, 5)) @ w.value.T, rtol=1e-6)
    np.testing.assert_allclose(w.grad, x.value.T @ np.ones((4, 5)), rtol=1e-6)
    np.testing.assert_array_equal(b.grad, np.full(5, 4.0))


def test_a_linear_without_bias_has_one_parameter():
    layer = xgrad.Linear(3, 2, xgrad.prng_key(1), use_bias=False)
    assert layer.bias is None and [p.name for p in layer.parameters()] == ["linear.kernel"]


def test_sgd_refuses_a_negative_learning_rate():
    with pytest.raises(ValueError):
        xgrad.SGD(make_embed().parameters(), lr=-1.0)


def test_sgd_learning_rate_can_be_changed():
    sgd = xgrad.SGD(make_embed().parameters(), lr=0.5)
    sgd.lr = 0.25
    assert sgd.lr == 0.25


def test_check_gradients_passes_a_python_built_function():
    x = xgrad.Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    w = xgrad.Tensor(np.linspace(0.5, -0.5, 12).reshape(3, 4), requires_grad=True)
    result = xgrad.check_gradients(lambda tape, xs: xgrad.tanh(tape, xgrad.matmul(tape, xs[0], xs[1])), [x, w])
    assert result.ok and result.elements_checked == 18


def test_check_gradients_catches_a_gradient_the_tape_cannot_see():
    x = xgrad.Tensor([0.3, -0.2], requires_grad=True)
    # x * copy(x): the copy is a constant to the tape, so backward gives x, not 2x.
    result = xgrad.check_gradients(lambda tape, xs: xgrad.mul(tape, xs[0], xgrad.Tensor(xs[0].value)), [x])
    assert not result.ok and result.worst.startswith("input 0 element")


def test_check_gradients_wants_a_tensor_back():
    with pytest.raises(TypeError, match="must return an xgrad.Tensor"):
        xgrad.check_gradients(lambda tape, xs: 1.0, [xgrad.Tensor([1.0], requires_grad=True)])


def test_the_prng_matches_jaxs_published_keys():
    # jax.random.split(PRNGKey(0)) and fold_in(PRNGKey(0), 1), partitionable layout.
    key = xgrad.prng_key(0)
    assert xgrad.split(key) == [xgrad.Key(1797259609, 2579123966), xgrad.Key(928981903, 3453687069)]
    assert xgrad.fold_in(key, 1) == xgrad.Key(928981903, 3453687069)


def test_normal_and_uniform_have_the_requested_shape_and_range():
    key = xgrad.prng_key(3)
    assert xgrad.normal(key, (4, 5)).shape == (4, 5)
    u = xgrad.uniform(key, (1000,), minval=2.0, maxval=3.0, layout="legacy")
    assert u.dtype == np.float32 and u.min() >= 2.0 and u.max() < 3.0


def test_the_flax_embed_initializer_is_the_tables_draw():
    init = xgrad.initializers.flax_embed_default()
    key = xgrad.flax.param_key(xgrad.prng_key(0))
    np.testing.assert_array_equal(init(key, (5, 3)), xgrad.flax.embed_table(0, 5, 3))


def test_a_python_callable_can_initialise_a_layer():
    embed = xgrad.Embed(4, 2, xgrad.prng_key(0), init=lambda key, shape: np.full(shape, 0.5))
    np.testing.assert_array_equal(embed.embedding.value, np.full((4, 2), 0.5))


def test_npy_files_round_trip_through_numpy(tmp_path):
    table = make_embed().embedding.value
    xgrad.npy.save(tmp_path / "t.npy", table)
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), table)
    np.save(tmp_path / "n.npy", table)
    np.testing.assert_array_equal(xgrad.npy.load(tmp_path / "n.npy", shape=(5, 3)), table)


def test_loading_a_file_of_another_shape_is_an_npy_error(tmp_path):
    np.save(tmp_path / "n.npy", np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(xgrad.npy.NpyError, match="n.npy") as info:
        xgrad.npy.load(tmp_path / "n.npy", shape=(5, 3))
    assert isinstance(info.value, OSError)


def test_docstrings_carry_the_headers_words():
    assert "row-sparse gradient" in xgrad.Embed.__doc__
    assert "Flax" in xgrad.token_embed_forward.__doc__
