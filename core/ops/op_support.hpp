// Helpers the op implementations share: 2-D views over contiguous float buffers, shape
// checks, and the "does this need a tape record" rule. Internal to core/ops/.
#pragma once

#include <array>
#include <string>

#include "core/errors.hpp"
#include "core/tape.hpp"
#include "core/tensor.hpp"

namespace xgrad::ops_support {

// A (rows, cols) row-major view over `data`, without copying; what BLAS calls take.
inline auto matrix_view(float* data, std::size_t rows, std::size_t cols) {
  const std::array<std::size_t, 2> shape{rows, cols};
  return xt::adapt(data, rows * cols, xt::no_ownership(), shape);
}
inline auto matrix_view(const float* data, std::size_t rows, std::size_t cols) {
  return matrix_view(const_cast<float*>(data), rows, cols);  // read-only use by the caller
}

// The output tensor of an op: requires a gradient when any input does.
inline Tensor make_output(Array value, bool requires_grad) {
  return Tensor(std::move(value), requires_grad);
}

// Throws ShapeError "<op>: <what> (got <shape>)" unless ok.
inline void require_shape(bool ok, const char* op, const std::string& what, const Shape& got) {
  if (!ok) throw ShapeError(std::string(op) + ": " + what + " (got " + shape_string(got) + ")");
}

// Throws ShapeError naming both shapes unless they are equal.
inline void require_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) {
    throw ShapeError(std::string(op) + ": shapes differ: " + shape_string(a.shape()) + " vs " +
                     shape_string(b.shape()));
  }
}

// The gradient of an op's output as its backward reads it: dense, row-major. (A row-sparse
// output gradient, from gathering rows of a computed table, is densified first.)
inline const float* output_grad(const Tensor& output) {
  return output.mutable_grad().dense_for_accumulate().data();
}

// dst[i] += src[i] for i < n: how most backward functions accumulate.
inline void add_into(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace xgrad::ops_support
