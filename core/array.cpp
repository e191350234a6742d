// Small helpers on Array and Shape used across xgrad.
#include "core/array.hpp"

#include <limits>
#include <sstream>
#include <string>

#include "core/detail/buffer_pool.hpp"
#include "core/errors.hpp"

namespace xgrad {

std::size_t element_count(const Shape& shape) {
  std::size_t n = 1;
  for (std::size_t extent : shape) {
    if (extent != 0 && n > std::numeric_limits<std::size_t>::max() / extent) {
      throw ShapeError("shape " + shape_string(shape) + " has more elements than fit in memory");
    }
    n *= extent;
  }
  return n;
}

std::size_t normalize_axis(const char* op, std::int64_t axis, const Shape& shape) {
  const auto rank = static_cast<std::int64_t>(shape.size());
  if (axis < -rank || axis >= rank) {
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for a " +
                     std::to_string(rank) + "-D input (shape " + shape_string(shape) + ")");
  }
  return static_cast<std::size_t>(axis < 0 ? axis + rank : axis);
}

std::string shape_string(const Shape& shape) {
  std::ostringstream out;
  out << '(';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) out << ',';
  out << ')';
  return out.str();
}

Shape shape_of(const Array& array) { return Shape(array.shape().begin(), array.shape().end()); }

Array zeros_array(const Shape& shape) {
  Array result = Array::from_shape(shape);
  result.fill(0.0f);
  return result;
}

Array uninitialized_array(const Shape& shape) { return buffer_pool::take(shape); }

void release_cached_buffers() { buffer_pool::release_all(); }

}  // namespace xgrad
