// The gradient of a (V, D) table that only some rows received: the unique row ids, in
// order of first appearance, and for each the sum of every contribution to that row.
// Not a general sparse matrix: rows are whole and dense, and V x D is never allocated.
#pragma once

#include <cstdint>
#include <vector>

#include "core/array.hpp"

namespace xgrad {

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

  // Sparse + sparse stays sparse: merges other's rows into this one (same V and D).
  void add(const RowSparseGrad& other);

  // dense (V x D, row-major) += this.
  void add_to(float* dense) const;

  // Forgets every row. O(rows touched), keeps capacity so a training step does not allocate.
  void clear();

  // The dense (V, D) equivalent, for inspection and tests: O(V x D).
  Array to_dense() const;

 private:
  std::size_t num_rows_ = 0;
  std::size_t row_width_ = 0;
  std::vector<std::int32_t> rows_;
  std::vector<float> values_;
  // slot_of_row_[r] is r's index in rows_, or -1. O(V) index scratch, allocated on first
  // use and afterwards reset only where touched.
  std::vector<std::int32_t> slot_of_row_;
};

}  // namespace xgrad
