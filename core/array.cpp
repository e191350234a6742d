// Small helpers on Array and Shape used across xgrad.
#include "core/array.hpp"

#include <sstream>

namespace xgrad {

std::size_t element_count(const Shape& shape) {
  std::size_t n = 1;
  for (std::size_t extent : shape) n *= extent;
  return n;
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

}  // namespace xgrad
