// The gradient a tensor accumulates during backward: nothing yet, dense, or row-sparse.
// Accumulation rules (DESIGN.md): sparse + sparse stays sparse; anything + dense is dense.
// Not responsible for deciding when to zero: the optimiser (or the user) calls clear().
#pragma once

#include <cstdint>

#include "core/array.hpp"
#include "core/row_sparse_grad.hpp"

namespace xgrad {

class Gradient {
 public:
  enum class Kind { none, dense, row_sparse };

  Gradient() = default;
  // A gradient for a value of this shape, holding nothing yet.
  explicit Gradient(Shape value_shape);

  Kind kind() const { return kind_; }
  bool empty() const { return kind_ == Kind::none; }
  const Shape& shape() const { return shape_; }

  // The dense gradient (kind() == dense).
  const Array& dense() const;
  // The row-sparse gradient (kind() == row_sparse).
  const RowSparseGrad& row_sparse() const;

  // grad += contribution. Throws ShapeError naming `op` if shapes differ.
  void add_dense(const Array& contribution, const char* op);

  // The dense buffer to accumulate into with +=, e.g. as a BLAS beta = 1 output.
  // Creates it as zeros, or densifies a row-sparse gradient first.
  Array& dense_for_accumulate();

  // The D floats of row `row` to accumulate into, for a rank-2 (V, D) value: a slot of
  // the row-sparse gradient, or the row of the dense one if the gradient is dense.
  float* accumulate_row(std::int32_t row);

  // grad += other, following the accumulation rules.
  void add(const Gradient& other);

  // The gradient as a dense array of the value's shape (zeros when empty): for
  // inspection and tests, O(size).
  Array to_dense() const;

  // Euclidean norm of the gradient (0 when empty), computed in double.
  double norm() const;

  // Back to "nothing yet". Sparse: O(rows touched). Dense: the buffer is kept (and
  // zeroed on next use) so a training loop does not allocate it again.
  void clear();

 private:
  Shape shape_;
  Kind kind_ = Kind::none;
  Array dense_;
  bool dense_allocated_ = false;
  RowSparseGrad sparse_;
};

}  // namespace xgrad
