// The value types every part of xgrad shares: a float32 array and its shape.
// Not a tensor with gradients: see core/tensor.hpp for that.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/xtensor.hpp"

namespace xgrad {

// An evaluated, row-major float32 array of any rank. Nodes always hold one of
// these, never a lazy xtensor expression (those keep references to temporaries).
using Array = xt::xarray<float>;

using Shape = std::vector<std::size_t>;

// Number of elements of a shape (1 for a scalar, shape {}).
std::size_t element_count(const Shape& shape);

// "(3, 4)": how shapes appear in error messages and printed tapes.
std::string shape_string(const Shape& shape);

// The shape of an array as a Shape.
Shape shape_of(const Array& array);

// A zero-filled array of the given shape.
Array zeros_array(const Shape& shape);

}  // namespace xgrad
