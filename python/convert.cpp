#include "python/convert.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace xgrad::python {

std::vector<Tensor> tensors_of(const std::vector<PyTensor>& tensors) {
  std::vector<Tensor> out;
  out.reserve(tensors.size());
  for (const PyTensor& t : tensors) out.push_back(t.tensor);
  return out;
}

std::vector<PyTensor> leaves_of(const std::vector<Tensor>& tensors) {
  std::vector<PyTensor> out;
  out.reserve(tensors.size());
  for (const Tensor& t : tensors) out.push_back(leaf(t));
  return out;
}

namespace {

// repr(value), cut short: a message names the value, not a megabyte of it.
std::string short_repr(const py::handle& value) {
  std::string text;
  try {
    text = py::repr(value).cast<std::string>();
  } catch (const std::exception&) {
    // repr() itself can fail (NumPy's, for a string array holding an invalid code point:
    // a SystemError), which must not replace the error being reported.
    PyErr_Clear();
    text = std::string("<") + Py_TYPE(value.ptr())->tp_name + " whose repr() fails>";
  }
  constexpr std::size_t limit = 80;
  if (text.size() > limit) text = text.substr(0, limit - 3) + "...";
  return text;
}

}  // namespace

namespace {

// "(1, 2)" for flat index 5 of shape (2, 3).
std::string unravel(std::size_t flat, const py::array& a) {
  std::vector<std::size_t> index(static_cast<std::size_t>(a.ndim()));
  for (std::size_t k = index.size(); k-- > 0;) {
    const auto extent = static_cast<std::size_t>(a.shape(static_cast<py::ssize_t>(k)));
    index[k] = flat % extent;
    flat /= extent;
  }
  std::string out = "(";
  for (std::size_t k = 0; k < index.size(); ++k) out += (k ? ", " : "") + std::to_string(index[k]);
  return out + (index.size() == 1 ? ",)" : ")");
}

// A finite float64 (or wider) number beyond float32's range would become inf: refused
// before the cast, so that neither a silent inf nor NumPy's overflow warning happens.
void require_fits_float32(const py::array& numbers, const py::handle& value, const std::string& what) {
  if (numbers.dtype().kind() != 'f' || numbers.itemsize() <= 4) return;
  const auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(numbers);
  // An array viewing a buffer at an odd offset (np.frombuffer(b, offset=1)) is C-contiguous
  // float64 yet not 8-byte aligned, and ensure() hands it back as it is: read by memcpy.
  const auto* bytes = reinterpret_cast<const unsigned char*>(d.data());
  for (py::ssize_t i = 0; i < d.size(); ++i) {
    double element;
    std::memcpy(&element, bytes + static_cast<std::size_t>(i) * sizeof(double), sizeof(double));
    if (std::isfinite(element) && std::isinf(static_cast<float>(element))) {
      throw py::value_error(what + " " + short_repr(value) + ": element " +
                            unravel(static_cast<std::size_t>(i), numbers) + " = " +
                            py::repr(py::float_(element)).cast<std::string>() +
                            " overflows float32 (largest finite 3.4028235e+38)");
    }
  }
}

}  // namespace

Array array_from(const py::handle& value, const std::string& what) {
  py::object converted;
  try {
    converted = py::module_::import("numpy").attr("asarray")(value);
  } catch (py::error_already_set& e) {
    const std::string reason = py::str(e.value()).cast<std::string>();
    if (e.matches(PyExc_ValueError) || e.matches(PyExc_TypeError)) {
      throw py::value_error(what + " " + short_repr(value) + " is not an array of numbers: " + reason);
    }
    throw;  // KeyboardInterrupt, MemoryError, an exception from the object's __array__
  }
  const py::array numbers = converted;
  const char kind = numbers.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
    throw py::value_error(what + " must be an array of numbers (bool, int or float), got " + short_repr(value) +
                          " (dtype " + py::str(numbers.dtype()).cast<std::string>() + ")");
  }
  require_fits_float32(numbers, value, what);
  const auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(numbers);
  if (!a) throw py::value_error(what + " " + short_repr(value) + " cannot be converted to float32");
  Shape shape(a.shape(), a.shape() + a.ndim());
  Array out = Array::from_shape(shape);
  if (a.size() > 0) std::memcpy(out.data(), a.data(), sizeof(float) * static_cast<std::size_t>(a.size()));
  return out;
}

std::string path_from(const py::handle& path, const std::string& what) {
  py::object fs_path;
  try {
    fs_path = py::module_::import("os").attr("fspath")(path);
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    throw py::type_error(what + " must be a str, bytes or os.PathLike, got " + short_repr(path));
  }
  const std::string bytes = fs_path.cast<std::string>();
  if (bytes.find('\0') != std::string::npos) {
    throw py::value_error(what + " " + short_repr(fs_path) + " contains a NUL byte, which no file name can hold");
  }
  return bytes;
}

void require_distinct(const std::vector<PyTensor>& tensors, const std::string& what) {
  for (std::size_t j = 1; j < tensors.size(); ++j) {
    for (std::size_t i = 0; i < j; ++i) {
      if (tensors[i].tensor.same_node(tensors[j].tensor)) {
        const std::string& name = tensors[j].tensor.name();
        throw py::value_error(what + " " + std::to_string(i) + " and " + std::to_string(j) + " are the same tensor" +
                              (name.empty() ? std::string() : " ('" + name + "')") +
                              "; list each once, or it is updated twice per step");
      }
    }
  }
}

py::array_t<float> to_numpy(Array&& array) {
  auto* owned = new Array(std::move(array));
  py::capsule owner(owned, [](void* p) { delete static_cast<Array*>(p); });
  return py::array_t<float>(shape_of(*owned), owned->data(), owner);
}

py::array_t<float> to_numpy(std::vector<float>&& values) {
  auto* owned = new std::vector<float>(std::move(values));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>(owned->size(), owned->data(), owner);
}

py::array_t<float> copy_to_numpy(const float* data, const Shape& shape) {
  py::array_t<float> out(shape);
  if (out.size() > 0) std::memcpy(out.mutable_data(), data, sizeof(float) * static_cast<std::size_t>(out.size()));
  return out;
}

py::array_t<float> value_view(const PyTensor& t) {
  const Array& value = t.tensor.value();
  auto* keep = new Tensor(t.tensor);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  py::array_t<float> view(shape_of(value), value.data(), owner);
  // The base is a capsule, not an array, so NumPy refuses to make the view writable again.
  if (t.read_only()) view.attr("setflags")(py::arg("write") = false);
  return view;
}

namespace {

// A flat list or tuple of Python ints, read item by item: numpy.asarray spends about 25 ns an
// item inferring a dtype, most of a 512-id call's overhead. Anything else (bools, floats,
// NumPy scalars, nested sequences, ints beyond 64 bits) returns false and goes through
// NumPy, whose dtype rules then decide, as they did for every input before.
bool read_flat_ints(const py::handle& ids, std::vector<double>& out) {
  PyObject* seq = ids.ptr();
  if (!PyList_CheckExact(seq) && !PyTuple_CheckExact(seq)) return false;
  // Reading an exact int runs no Python code, so the sequence cannot change under the loop.
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  PyObject** items = PySequence_Fast_ITEMS(seq);
  out.resize(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (!PyLong_CheckExact(items[i])) return false;
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(items[i], &overflow);
    if (overflow != 0) return false;
    out[static_cast<std::size_t>(i)] = static_cast<double>(v);
  }
  return true;
}

}  // namespace

std::vector<double> ids_as_doubles(const py::handle& ids, Shape* shape) {
  std::vector<double> flat;
  if (read_flat_ints(ids, flat)) {
    if (shape) *shape = {flat.size()};
    return flat;
  }
  const py::array a = py::module_::import("numpy").attr("asarray")(ids);
  const char kind = a.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
    throw py::type_error("token ids must be numbers, got an array of dtype " +
                         py::str(a.dtype()).cast<std::string>());
  }
  if (shape) shape->assign(a.shape(), a.shape() + a.ndim());
  const auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  return std::vector<double>(d.data(), d.data() + d.size());
}

TokenIds token_ids_from(const py::handle& ids) {
  Shape shape;
  std::vector<double> values = ids_as_doubles(ids, &shape);
  if (shape.empty()) shape = {values.size()};
  return TokenIds::from_floats(values, shape);
}

std::int64_t int64_from(const py::handle& value, const char* what) {
  const py::int_ as_int(py::reinterpret_borrow<py::object>(value));  // int(value)
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(as_int.ptr(), &overflow);
  if (overflow != 0) {
    throw py::value_error(std::string(what) + " " + py::repr(as_int).cast<std::string>() +
                          " does not fit in a 64-bit integer");
  }
  return static_cast<std::int64_t>(v);
}

std::size_t size_from(const py::handle& value, const char* what) {
  const std::int64_t v = int64_from(value, what);
  if (v < 0) throw py::value_error(std::string(what) + " must be non-negative, got " + std::to_string(v));
  return static_cast<std::size_t>(v);
}

random::Layout layout_from(const std::optional<std::string>& name) {
  return maybe_layout_from(name).value_or(random::default_layout());
}

std::optional<random::Layout> maybe_layout_from(const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  if (*name == "partitionable") return random::Layout::partitionable;
  if (*name == "legacy") return random::Layout::legacy;
  throw py::value_error("prng layout must be 'partitionable' or 'legacy', got '" + *name + "'");
}

flax::IdsPolicy ids_policy_from(const std::string& name) {
  if (name == "strict") return flax::IdsPolicy::strict;
  if (name == "flax") return flax::IdsPolicy::flax;
  throw py::value_error("ids_policy must be 'strict' or 'flax', got '" + name + "'");
}

}  // namespace xgrad::python
