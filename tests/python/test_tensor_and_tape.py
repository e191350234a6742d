"""The Python contract of Tensor and Tape: construction, `with` blocks (nested, per thread,
inference), operators outside a tape, backward from the tape or the loss, and the type of
.grad. Expected values are worked out by hand in each test."""
import threading

import numpy as np
import pytest

import xgrad


@pytest.mark.parametrize("value, shape", [
    (2.5, ()), (3, ()), (True, ()), ([1.0, 2.0], (2,)), ([[1, 2], [3, 4]], (2, 2)),
    (np.arange(6.0).reshape(2, 3), (2, 3)), (np.float64(1.5), ()), (np.array(7, dtype=np.int64), ()),
])
def test_a_tensor_is_made_from_a_number_a_list_or_an_array_like(value, shape):
    t = xgrad.Tensor(value)
    assert t.shape == shape and t.value.dtype == np.float32
    np.testing.assert_array_equal(t.value, np.asarray(value, dtype=np.float32))
    assert not t.requires_grad and t.name == ""


def test_a_tensor_takes_requires_grad_and_name():
    t = xgrad.Tensor([1.0], requires_grad=True, name="w")
    assert t.requires_grad and t.name == "w"


@pytest.mark.parametrize("value, words", [
    (1e40, "element () = 1e+40 overflows float32"),
    (np.array([1.0, -1e39]), "element (1,) = -1e+39 overflows float32"),
    ([[0.0, 0.0], [0.0, 4e38]], "element (1, 1) = 4e+38 overflows float32"),
])
def test_a_value_that_overflows_float32_is_a_value_error_naming_it(value, words):
    with pytest.raises(ValueError) as raised:
        xgrad.Tensor(value)
    assert words in str(raised.value)


def test_infinity_itself_is_kept_as_the_user_wrote_it():
    assert np.isinf(xgrad.Tensor([np.inf]).value[0])


@pytest.mark.parametrize("value", ["abc", ["a", "b"], None, [1 + 2j], object()])
def test_a_non_numeric_value_is_a_value_error_naming_it(value):
    with pytest.raises(ValueError, match="value .*(must be an array of numbers|is not an array of numbers)"):
        xgrad.Tensor(value)


def test_a_with_block_makes_its_tape_current_and_records_the_operators():
    x = xgrad.Tensor([1.0, 2.0], requires_grad=True)
    assert xgrad.current_tape() is None
    with xgrad.Tape() as tape:
        assert xgrad.current_tape() is tape
        y = (x * 3 + 1).sum()
    assert xgrad.current_tape() is None
    assert [op for op, _, _, _ in tape.records()] == ["mul", "add", "sum"]
    tape.backward(y)
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_with_blocks_nest_and_the_innermost_is_current():
    x = xgrad.Tensor(2.0, requires_grad=True)
    with xgrad.Tape() as outer:
        a = x * x
        with xgrad.Tape() as inner:
            assert xgrad.current_tape() is inner
            b = x * 5
        assert xgrad.current_tape() is outer
        c = a + 1
    assert len(outer) == 2 and len(inner) == 1
    inner.backward(b)
    assert x.grad == 5.0
    x.clear_grad()
    outer.backward(c)
    assert x.grad == 4.0


def test_each_thread_has_its_own_current_tape():
    x = xgrad.Tensor(1.0, requires_grad=True)
    seen = {}

    def other_thread():
        seen["tape"] = xgrad.current_tape()
        try:
            x * 2
        except RuntimeError as error:
            seen["error"] = str(error)

    with xgrad.Tape():
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert seen["tape"] is None
    assert "no tape is recording" in seen["error"]


def test_an_inference_tape_records_nothing_and_its_outputs_need_no_gradient():
    x = xgrad.Tensor([1.0, -1.0], requires_grad=True)
    with xgrad.Tape(inference=True) as tape:
        y = (x * 2).relu()
    assert len(tape) == 0 and not y.requires_grad
    np.testing.assert_array_equal(y.value, [2.0, 0.0])


def test_an_operator_on_a_tensor_requiring_a_gradient_outside_a_tape_is_a_runtime_error():
    w = xgrad.Tensor([1.0], requires_grad=True, name="w")
    with pytest.raises(RuntimeError) as raised:
        w * 2
    assert str(raised.value) == ("mul: 'w' requires a gradient but no tape is recording: compute inside "
                                 "`with xgrad.Tape() as tape:`, or call xgrad.mul(tape, ...)")


def test_operators_on_constants_outside_a_tape_compute_plain_values():
    a = xgrad.Tensor([1.0, 2.0])
    np.testing.assert_array_equal((a * 2 + 1).value, [3.0, 5.0])
    np.testing.assert_array_equal((2 ** a).value, [2.0, 4.0])


def test_loss_backward_runs_on_the_tape_that_recorded_it_even_after_the_block():
    x = xgrad.Tensor([1.0, 2.0], requires_grad=True)
    with xgrad.Tape():
        loss = (x * x).sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_loss_backward_works_with_an_explicit_tape():
    x = xgrad.Tensor([3.0], requires_grad=True)
    tape = xgrad.Tape()
    loss = xgrad.sum(tape, xgrad.mul(tape, x, x))
    loss.backward()
    np.testing.assert_array_equal(x.grad, [6.0])


def test_backward_of_a_tensor_no_tape_recorded_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="not recorded on a tape that still exists"):
        xgrad.Tensor(1.0).backward()


def test_a_second_backward_is_a_runtime_error_unless_the_tape_was_kept():
    x = xgrad.Tensor(1.0, requires_grad=True)
    with xgrad.Tape():
        y = x * 3
    y.backward(keep_tape=True)
    y.backward()
    assert x.grad == 6.0
    with pytest.raises(RuntimeError):
        y.backward()


def test_leaving_blocks_out_of_order_is_a_runtime_error():
    first, second = xgrad.Tape(), xgrad.Tape()
    first.__enter__()
    second.__enter__()
    with pytest.raises(RuntimeError, match="not the innermost open one"):
        first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    first.__exit__(None, None, None)
    assert xgrad.current_tape() is None


def test_dense_grad_is_always_an_array_of_the_values_shape():
    w = xgrad.Tensor(np.ones((2, 3)), requires_grad=True)
    before = w.grad
    assert isinstance(before, np.ndarray) and before.shape == (2, 3) and not before.any()
    assert w.grad_kind == "none" and w.row_sparse_grad is None
    with xgrad.Tape():
        loss = (w * 2).sum()
    loss.backward()
    assert isinstance(w.grad, np.ndarray) and w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad, np.full((2, 3), 2.0))
    assert w.grad_kind == "dense" and w.row_sparse_grad is None


def test_a_row_sparse_gradient_keeps_its_rows_and_values_under_row_sparse_grad():
    table = xgrad.Tensor.parameter(np.arange(10.0).reshape(5, 2), "table")
    with xgrad.Tape():
        loss = xgrad.embedding_lookup(table, [3, 1, 3]).sum()
    loss.backward()
    assert table.grad_kind == "row_sparse"
    rows, values = table.row_sparse_grad
    assert isinstance(table.row_sparse_grad, xgrad.RowSparseGrad)
    np.testing.assert_array_equal(rows, [3, 1])
    np.testing.assert_array_equal(values, [[2.0, 2.0], [1.0, 1.0]])
    # .grad is the same type as ever: the dense array of the table's shape.
    np.testing.assert_array_equal(table.grad, [[0, 0], [1, 1], [0, 0], [2, 2], [0, 0]])


def test_item_gives_the_one_element_and_refuses_more():
    assert xgrad.Tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match=r"item\(\): the tensor has shape \(2,\) \(2 elements\)"):
        xgrad.Tensor([1.0, 2.0]).item()


@pytest.mark.parametrize("index, words", [
    (3, "index 3 is out of bounds for axis 0 with size 3"),
    ((0, -5), "index -5 is out of bounds for axis 1 with size 4"),
    ((0, 0, 0), "too many indices for tensor: tensor is 2-dimensional, but 3 were indexed"),
    (None, "does not add axes"),
])
def test_a_bad_index_is_an_index_error_as_in_numpy(index, words):
    with pytest.raises(IndexError, match=words.replace("(", r"\(").replace(")", r"\)")):
        xgrad.Tensor(np.zeros((3, 4)))[index]


def test_iterating_a_tensor_yields_its_rows_and_stops():
    rows = [row.value.tolist() for row in xgrad.Tensor([[1.0, 2.0], [3.0, 4.0]])]
    assert rows == [[1.0, 2.0], [3.0, 4.0]]


def test_a_shape_mismatch_is_a_value_error_naming_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        xgrad.Tensor(np.zeros((2, 3))) + xgrad.Tensor(np.zeros(4))


def test_a_number_that_overflows_float32_in_an_operator_is_a_value_error():
    with pytest.raises(ValueError, match=r"mul: the number 1e\+40 overflows float32"):
        xgrad.Tensor(1.0) * 1e40


def test_numpy_scalars_on_the_left_give_tensors():
    x = xgrad.Tensor([1.0, 2.0])
    y = np.float32(3) * x
    assert isinstance(y, xgrad.Tensor)
    np.testing.assert_array_equal(y.value, [3.0, 6.0])


def test_the_explicit_tape_forms_record_on_the_named_tape_inside_a_block():
    x = xgrad.Tensor(2.0, requires_grad=True)
    explicit = xgrad.Tape()
    with xgrad.Tape() as scoped:
        y = xgrad.mul(explicit, x, x)
    assert len(explicit) == 1 and len(scoped) == 0
    y.backward()
    assert x.grad == 4.0


def test_a_float64_array_at_an_odd_offset_is_read_and_checked_like_any_other():
    # np.frombuffer at offset 1: C-contiguous float64 that is not 8-byte aligned (the
    # fuzz_convert finding; reading it as double* was undefined behaviour).
    raw = b"\0" + np.array([1.5, -2.0], dtype=np.float64).tobytes()
    unaligned = np.frombuffer(raw, dtype=np.float64, offset=1)
    assert not unaligned.flags.aligned
    assert xgrad.Tensor(unaligned).value.tolist() == [1.5, -2.0]
    too_big = np.frombuffer(b"\0" + np.array([1.0, 1e40], dtype=np.float64).tobytes(), dtype=np.float64, offset=1)
    with pytest.raises(ValueError, match=r"element \(1,\) = 1e\+40 overflows float32"):
        xgrad.Tensor(too_big)
