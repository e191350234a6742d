// The gradient a tensor accumulates during backward, in one of three states: nothing yet,
// dense (an array of the value's shape), or row-sparse (a (V, D) table's gradient that
// names only the rows it received). Accumulation rules: sparse + sparse stays sparse
// (rows merge); anything + dense is dense. Zeroing is the optimiser's (or user's) call:
// clear().
#pragma once

#include <cstdint>
#include <optional>

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

  // The dense gradient; throws std::logic_error unless kind() is dense.
  const Array& dense() const;
  // The row-sparse gradient; throws std::logic_error unless kind() is row_sparse.
  const RowSparseGrad& row_sparse() const;

  // The dense array to add into with +=: zeros when the gradient held nothing, and a
  // row-sparse gradient is written out into it first.
  Array& dense_buffer();

  // grad += contribution, an array of the value's shape (ShapeError otherwise). When the
  // gradient holds nothing the array becomes it as it is, without a copy or a pass.
  void add(Array contribution);

  // grad[rows[t], :] += values[t, :] for every t < count whose row is not `skip`, for a
  // (V, D) value (values is (count, D)). Stays row-sparse unless the gradient is already
  // dense. Rows are trusted to lie in [0, V); repeated rows sum in order of t, with the
  // same bits at any thread count.
  void scatter_add_rows(const std::int32_t* rows, std::size_t count, const float* values,
                        std::optional<std::int32_t> skip = std::nullopt);

  // grad += other (same shape), following the accumulation rules.
  void add(const Gradient& other);

  // Every stored value *= factor, in place (gradient clipping): the dense buffer, or the
  // row-sparse gradient's stored rows (O(rows touched)); nothing when empty. Elementwise,
  // so the same bits at any thread count.
  void scale(float factor);

  // Back to "nothing yet". Row-sparse: O(rows touched), keeping its row index for the next
  // step. Dense: the buffer goes back to uninitialized_array's cache.
  void clear();

  // The gradient as a dense array of the value's shape (zeros when empty): for inspection
  // and tests, O(size).
  Array to_dense() const;

  // Euclidean norm of the stored values (0 when empty), summed in double.
  double norm() const;

 private:
  void require_table(const char* who) const;

  Shape shape_;
  Kind kind_ = Kind::none;
  Array dense_ = Array::from_shape(Array::shape_type{0});  // allocates nothing
  RowSparseGrad sparse_;
};

}  // namespace xgrad
