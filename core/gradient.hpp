// The gradient a tensor accumulates during backward: nothing yet, dense, or row-sparse.
// Accumulation rules (DESIGN.md): sparse + sparse stays sparse; anything + dense is dense.
// Not responsible for deciding when to zero: the optimiser (or the user) calls clear().
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
  // Hands a dense buffer to core/buffer_pool.hpp for the next step to reuse.
  ~Gradient();
  // A copy writes out a pending scaled value first: the copy must not depend on a tensor's
  // value that may change later.
  Gradient(const Gradient& other);
  Gradient(Gradient&&) = default;
  Gradient& operator=(const Gradient& other);
  Gradient& operator=(Gradient&&) = default;

  Kind kind() const { return kind_; }
  bool empty() const { return kind_ == Kind::none; }
  const Shape& shape() const { return shape_; }

  // The dense gradient (kind() == dense). Writes out a pending uniform or scaled value
  // first, so it is not safe to call from two threads at once on the same gradient.
  const Array& dense() const;
  // The row-sparse gradient (kind() == row_sparse).
  const RowSparseGrad& row_sparse() const;

  // grad += contribution. Throws ShapeError naming `op` if shapes differ.
  void add_dense(const Array& contribution, const char* op);
  // grad += value at every element. A gradient that held nothing becomes dense without
  // writing the value out: the buffer is filled only when someone reads it (as PyTorch's
  // mean backward returns an expanded view). What sum and mean pass back.
  void add_uniform(float value);
  // For ops' backward functions: the value of every element when the gradient is dense
  // and that value has not been written out yet (so dY[i] can be read as one number).
  std::optional<float> uniform_value() const;
  // For ops' backward functions: the gradient as factor * source when it is dense and has
  // not been written out yet (see Tensor::add_scaled_value_to_grad).
  struct Scaled {
    const float* source;
    float factor;
  };
  std::optional<Scaled> scaled_value() const;
  // Writes a pending uniform or scaled value into the dense buffer (nothing otherwise).
  void write_out() const;

  // The same, except that when the gradient holds nothing `contribution` becomes it, moved
  // in without a copy. For ops' backward functions; the caller guarantees it holds no -0.0f
  // (adding that to zeros would have given +0.0f).
  void adopt_dense(Array&& contribution, const char* op);

  // The dense buffer to accumulate into with +=, e.g. as a BLAS beta = 1 output.
  // Creates it as zeros, or densifies a row-sparse gradient first.
  Array& dense_for_accumulate();

  // The same without zeroing a gradient that holds nothing: then `fresh` is set and the
  // caller must write every element as 0.0f + contribution, which gives the bits that
  // accumulating into zeros would, in one pass instead of two. For ops' backward functions.
  float* dense_accumulator(bool& fresh);

  // The D floats of row `row` to accumulate into, for a rank-2 (V, D) value: a slot of
  // the row-sparse gradient, or the row of the dense one if the gradient is dense.
  float* accumulate_row(std::int32_t row);

  // grad[rows[t], :] += scale * values[t, :] for every t < count whose row is not `skip`,
  // for a rank-2 (V, D) value: row-sparse unless the gradient is already dense. Rows are
  // trusted to lie in [0, V); repeated rows sum in order of t, whatever the thread count.
  // Each product scale * values[t, j] is rounded before it is added, so the bits equal
  // scattering values written out as scale * values (and scale = 1 adds values as given).
  void scatter_add_rows(const std::int32_t* rows, std::size_t count, const float* values,
                        std::optional<std::int32_t> skip = std::nullopt, float scale = 1.0f);

  // grad += other, following the accumulation rules.
  void add(const Gradient& other);

  // The gradient as a dense array of the value's shape (zeros when empty): for
  // inspection and tests, O(size).
  Array to_dense() const;

  // Euclidean norm of the gradient (0 when empty), computed in double.
  double norm() const;

  // Back to "nothing yet", handing the dense buffer to core/buffer_pool.hpp now rather
  // than when the gradient is destroyed (see Tensor's node for why the order matters).
  void release_storage();

  // Back to "nothing yet". Sparse: O(rows touched). Dense: the buffer is kept (and
  // zeroed on next use) so a training loop does not allocate it again.
  void clear();

 private:
  // grad += factor * source, where `source` is the value of the tensor this gradient
  // belongs to: only Tensor::add_scaled_value_to_grad calls it, which guarantees that.
  // A gradient that held nothing becomes dense without writing anything.
  friend class Tensor;
  void add_scaled(const Array& source, float factor, const char* op);

  void require_same_shape(const Array& contribution, const char* op) const;
  void require_table(const char* who) const;
  // The dense buffer, taken from the pool if none is held yet.
  float* dense_buffer() const;
  // An array with no elements: unlike a default xarray (a scalar), it allocates nothing.
  static Array empty_array() { return Array::from_shape(Array::shape_type{0}); }

  Shape shape_;
  Kind kind_ = Kind::none;
  // The dense buffer; mutable so that const readers can write out a pending uniform value.
  mutable Array dense_ = empty_array();
  mutable bool dense_allocated_ = false;
  // kind_ == dense and every element is uniform_value_, not yet written into dense_.
  mutable bool uniform_pending_ = false;
  float uniform_value_ = 0.0f;
  // kind_ == dense and the gradient is scaled_factor_ * scaled_source_[i], not yet written.
  mutable const float* scaled_source_ = nullptr;
  float scaled_factor_ = 0.0f;
  RowSparseGrad sparse_;
};

}  // namespace xgrad
