"""Python gets the library's standard for bad input: the right exception type and a message
naming the argument and the value (never pybind11's "Internal error"), nothing cut off
silently, nothing done twice."""
import numpy as np
import pytest

import xgrad


@pytest.mark.parametrize("value, error, words", [
    ("abc", ValueError, "value must be an array of numbers (bool, int or float), got 'abc' (dtype <U3)"),
    (None, ValueError, "value must be an array of numbers (bool, int or float), got None (dtype object)"),
    ([1 + 2j], ValueError, "value must be an array of numbers (bool, int or float), got [(1+2j)] (dtype complex128)"),
    ({"a": 1}, ValueError, "value must be an array of numbers (bool, int or float), got {'a': 1} (dtype object)"),
    ([[1.0, 2.0], [3.0]], ValueError, "value [[1.0, 2.0], [3.0]] is not an array of numbers"),
])
def test_a_value_that_is_not_an_array_of_numbers_is_named_in_the_error(value, error, words):
    for make in (lambda: xgrad.Tensor(value), lambda: xgrad.Tensor.parameter(value, "p")):
        with pytest.raises(error) as raised:
            make()
        assert words in str(raised.value)
        assert "Internal error" not in str(raised.value)


def test_a_bad_backward_seed_is_named_in_the_error():
    x = xgrad.Tensor.parameter([1.0, 2.0], "x")
    tape = xgrad.Tape()
    y = xgrad.tanh(tape, x)
    with pytest.raises(ValueError, match="seed must be an array of numbers"):
        tape.backward(y, "abc")


def test_a_bad_array_to_save_is_named_in_the_error(tmp_path):
    with pytest.raises(ValueError, match=r"array \[\[1\], \[2, 3\]\] is not an array of numbers"):
        xgrad.npy.save(tmp_path / "a.npy", [[1], [2, 3]])
    assert list(tmp_path.iterdir()) == []


def test_numbers_of_every_kind_still_convert():
    assert xgrad.Tensor([True, False]).value.tolist() == [1.0, 0.0]
    assert xgrad.Tensor(np.arange(3, dtype=np.int64)).value.dtype == np.float32
    assert xgrad.Tensor(2.5).shape == ()


@pytest.mark.parametrize("path", ["a\0b.npy", b"a\0b.npy"])
def test_a_nul_byte_in_a_path_is_a_value_error_not_a_shorter_name(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="path .* contains a NUL byte"):
        xgrad.npy.save(path, np.zeros(2))
    with pytest.raises(ValueError, match="contains a NUL byte"):
        xgrad.npy.load(path)
    assert list(tmp_path.iterdir()) == []  # before the fix, the file "a" was written


def test_a_path_that_is_not_a_path_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="path must be a str, bytes or os.PathLike, got 3"):
        xgrad.npy.load(3)


def test_a_parameter_listed_twice_in_sgd_is_a_value_error():
    p = xgrad.Tensor.parameter([1.0, 2.0], "p")
    q = xgrad.Tensor.parameter([3.0], "q")
    with pytest.raises(ValueError, match=r"SGD: parameters 0 and 2 are the same tensor \('p'\)"):
        xgrad.SGD([p, q, p], lr=0.1)


def test_two_parameters_with_equal_values_are_not_the_same_tensor():
    p = xgrad.Tensor.parameter([1.0], "p")
    other = xgrad.Tensor.parameter([1.0], "p")
    tape = xgrad.Tape()
    tape.backward(xgrad.sum(tape, xgrad.add(tape, p, other)))
    xgrad.SGD([p, other], lr=0.5).step()
    assert p.value.tolist() == [0.5] and other.value.tolist() == [0.5]
