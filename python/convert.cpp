#include "python/convert.hpp"

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

Array array_from(const py::handle& value) {
  const auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
  if (!a) throw py::error_already_set();
  Shape shape(a.shape(), a.shape() + a.ndim());
  Array out = Array::from_shape(shape);
  if (a.size() > 0) std::memcpy(out.data(), a.data(), sizeof(float) * static_cast<std::size_t>(a.size()));
  return out;
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

std::vector<double> ids_as_doubles(const py::handle& ids, Shape* shape) {
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
