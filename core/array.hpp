// The value types every part of xgrad shares: a float32 array and its shape.
// Not a tensor with gradients: see core/tensor.hpp for that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/xtensor.hpp"

namespace xgrad {

// An evaluated, row-major float32 array of any rank. Nodes always hold one of
// these, never a lazy xtensor expression (those keep references to temporaries).
using Array = xt::xarray<float>;

using Shape = std::vector<std::size_t>;

// Axes as NumPy takes them: -1 is the last axis.
using Axes = std::vector<std::int64_t>;

// The axis in [0, rank) that `axis` names, -rank <= axis < rank (NumPy's negative axes).
// Throws ShapeError "<op>: axis 3 is out of range for a 2-D input (shape (2, 3))".
std::size_t normalize_axis(const char* op, std::int64_t axis, const Shape& shape);

// Number of elements of a shape (1 for a scalar, shape {}). Throws ShapeError when the
// count does not fit in std::size_t.
std::size_t element_count(const Shape& shape);

// "(3, 4)": how shapes appear in error messages and printed tapes.
std::string shape_string(const Shape& shape);

// The shape of an array as a Shape.
Shape shape_of(const Array& array);

// A zero-filled array of the given shape.
Array zeros_array(const Shape& shape);

// An array of the given shape whose contents are unspecified, for code that writes every
// element (an op's output, a gradient contribution). A large one reuses the buffer of a
// released tensor value or gradient of the same size, so a training loop does not fault
// in fresh pages every step.
Array uninitialized_array(const Shape& shape);

// Frees the buffers kept for uninitialized_array (they are otherwise kept for reuse).
void release_cached_buffers();

}  // namespace xgrad
