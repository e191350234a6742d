// The gradient of a (V, D) table that only some rows received: the unique row ids, in
// order of first appearance, and for each the sum of every contribution to that row.
// Not a general sparse matrix: rows are whole and dense, and V x D is never allocated.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/array.hpp"

namespace xgrad {

// std::allocator that leaves floats uninitialised on resize: new rows are written in full
// before they are read, so zeroing them first would be a wasted pass.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) {}
  template <class U>
  void construct(U* p) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class RowSparseGrad {
 public:
  RowSparseGrad() = default;
  // A gradient for a table of num_rows (V) rows of row_width (D) floats, with no rows yet.
  RowSparseGrad(std::size_t num_rows, std::size_t row_width);

  std::size_t num_rows() const { return num_rows_; }
  std::size_t row_width() const { return row_width_; }

  // The unique row ids that received gradient, in order of first appearance.
  const std::vector<std::int32_t>& rows() const { return rows_; }
  bool empty() const { return rows_.empty(); }

  // The summed gradient of rows()[i]: row_width() floats.
  const float* row_values(std::size_t i) const { return values_.data() + i * row_width_; }

  // (rows().size(), D) view of all summed rows; valid until the next change.
  auto values() const {
    const std::array<std::size_t, 2> shape{rows_.size(), row_width_};
    return xt::adapt(values_.data(), values_.size(), xt::no_ownership(), shape);
  }

  // The D floats to add table row `row` into, zero on first use. The caller has checked
  // 0 <= row < V. Adding the same row twice accumulates, which is what makes repeated
  // token ids correct.
  float* accumulate_row(std::int32_t row);

  // row[rows[t]] += values[t, :] for every t < count whose row is not `skip` (values is
  // (count, D), rows trusted to lie in [0, V)). New rows are written, not zeroed then
  // added; repeated rows sum in order of t. With more than one thread, each owns a range
  // of rows, so the sums are bit-identical for any thread count.
  void scatter_add(const std::int32_t* rows, std::size_t count, const float* values,
                   std::optional<std::int32_t> skip = std::nullopt);

  // Sparse + sparse stays sparse: merges other's rows into this one (same V and D).
  void add(const RowSparseGrad& other);

  // Every stored value *= factor, O(rows touched); rows stay as they are (a row scaled to
  // zero is still stored).
  void scale(float factor);

  // dense (V x D, row-major) += this.
  void add_to(float* dense) const;

  // Forgets every row. O(rows touched), keeps capacity so a training step does not allocate.
  void clear();

  // The dense (V, D) equivalent, for inspection and tests: O(V x D).
  Array to_dense() const;

 private:
  std::size_t num_rows_ = 0;
  std::size_t row_width_ = 0;
  void ensure_slot_index();

  std::vector<std::int32_t> rows_;
  std::vector<float, UninitializedAllocator<float>> values_;
  // slot_of_row_[r] is r's index in rows_, or -1. O(V) index scratch, allocated on first
  // use and afterwards reset only where touched.
  std::vector<std::int32_t> slot_of_row_;
  // scatter_add's scratch: each token's slot, ~slot when the token opens it.
  std::vector<std::int32_t, UninitializedAllocator<std::int32_t>> slot_of_token_;
};

}  // namespace xgrad
