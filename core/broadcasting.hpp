// NumPy's broadcasting rules, for ops that take operands of different shapes: the output
// shape of two operands, how to read an operand at an output index, and `unbroadcast`,
// the one place a broadcast operand's gradient is summed back to its own shape (candle's
// sum_keepdim, Flashlight's sumAs). Not an op: nothing here records on a tape.
#pragma once

#include <cstddef>
#include <vector>

#include "core/array.hpp"

namespace xgrad {

// The broadcast shape of a and b (NumPy): align the shapes at their last axes; each pair
// of extents must be equal or contain a 1, and the output takes the larger. Throws
// ShapeError "<op>: shapes (2, 3) and (4,) do not broadcast (axis -1: 3 vs 4)".
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Whether `from` broadcasts to `to` (to = broadcast_shapes(from, to)).
bool broadcasts_to(const Shape& from, const Shape& to);

// Element strides for reading an array of shape `from` as if it had shape `to` (which it
// must broadcast to): one stride per axis of `to`, 0 on the axes that broadcasting adds
// or stretches from 1.
std::vector<std::size_t> broadcast_strides(const Shape& from, const Shape& to);

// The gradient of a broadcast operand: grad (shape `from`, the broadcast output's) summed
// over the axes that broadcasting added or stretched, giving shape `to`. Each output
// element sums its contributions in row-major order of grad, so the bits are fixed by the
// shapes alone. Returns grad itself (shared, no pass) when the shapes are equal. Throws
// ShapeError unless `to` broadcasts to grad's shape.
Array unbroadcast(const Array& grad, const Shape& to);

}  // namespace xgrad
