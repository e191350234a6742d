// How values cross between NumPy and xgrad in the Python module: arrays, token ids,
// integers the problem's Python signature casts with int(), layouts and id policies.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "core/flax/flax.hpp"
#include "xgrad.hpp"

namespace xgrad::python {

namespace py = pybind11;

// A Tensor as Python sees it. An op's recorded output is read-only from Python: its
// backward may read that value (tanh's does), so writing it would change the gradient.
// `tape` is a weak reference to the Python Tape that recorded it (None for a leaf or an
// unrecorded output), so loss.backward() finds its tape without keeping it alive: a strong
// one would make a cycle through a Python-written op's backward that captures its inputs.
struct PyTensor {
  Tensor tensor;
  bool op_output = false;
  py::object tape;
  bool read_only() const { return op_output && tensor.requires_grad(); }
};

// The output of an op run on `tape`; remembers the Python tape when the op was recorded.
PyTensor op_result(Tensor t, Tape& tape);
inline PyTensor leaf(Tensor t) { return PyTensor{std::move(t), false, py::object()}; }

// The tape an op without an explicit one records on: the innermost `with xgrad.Tape()`
// block's on this thread; outside every block, a per-thread inference tape when no input
// requires a gradient. RuntimeError naming the op and the input otherwise.
Tape& tape_for_py(const char* op, std::initializer_list<const Tensor*> inputs);
Tape& tape_for_py(const char* op, const std::vector<Tensor>& inputs);
// The innermost open `with` block's Python Tape on this thread, or None.
py::object current_py_tape();
std::vector<Tensor> tensors_of(const std::vector<PyTensor>& tensors);
std::vector<PyTensor> leaves_of(const std::vector<Tensor>& tensors);

// Any array-like of numbers (bool, int, float) as a float32 Array (a copy: xgrad owns its
// buffers). ValueError naming the argument (`what`) and the value for anything else
// (strings, None, objects, complex numbers, a ragged list) and for a finite number that
// overflows float32.
Array array_from(const py::handle& value, const std::string& what);
// An Array handed to NumPy without a copy; the NumPy array owns it from then on.
py::array_t<float> to_numpy(Array&& array);
py::array_t<float> to_numpy(std::vector<float>&& values);
// A copy, for buffers xgrad may reuse or free (gradients).
py::array_t<float> copy_to_numpy(const float* data, const Shape& shape);
// A zero-copy view of the tensor's value that keeps the tensor alive; read-only when
// writing would break the engine (PyTensor::read_only).
py::array_t<float> value_view(const PyTensor& t);

// Any numeric array-like (a list, a NumPy array, an object with __array__) flattened to
// doubles, so the library's validator judges every id; non-numeric dtypes are a TypeError.
std::vector<double> ids_as_doubles(const py::handle& ids, Shape* shape = nullptr);
TokenIds token_ids_from(const py::handle& ids);

// os.fspath(path) as a byte string for the C++ library: TypeError for what is not a path,
// ValueError for a NUL byte (the C library would cut the name there).
std::string path_from(const py::handle& path, const std::string& what);

// ValueError ("<what> <i> and <j> are the same tensor") when a tensor is listed twice: an
// optimiser would update it twice per step.
void require_distinct(const std::vector<PyTensor>& tensors, const std::string& what);

// int(value) as the problem's Python function casts it, checked to fit.
std::int64_t int64_from(const py::handle& value, const char* what);
std::size_t size_from(const py::handle& value, const char* what);

// "partitionable" / "legacy"; None is random::default_layout().
random::Layout layout_from(const std::optional<std::string>& name);
std::optional<random::Layout> maybe_layout_from(const std::optional<std::string>& name);
flax::IdsPolicy ids_policy_from(const std::string& name);

}  // namespace xgrad::python
