// RowSparseGrad: scatter-add into unique rows without touching V x D memory.
#include "core/row_sparse_grad.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace xgrad {

RowSparseGrad::RowSparseGrad(std::size_t num_rows, std::size_t row_width)
    : num_rows_(num_rows), row_width_(row_width) {}

float* RowSparseGrad::accumulate_row(std::int32_t row) {
  if (slot_of_row_.empty()) slot_of_row_.assign(num_rows_, -1);
  std::int32_t& slot = slot_of_row_[static_cast<std::size_t>(row)];
  if (slot < 0) {
    slot = static_cast<std::int32_t>(rows_.size());
    rows_.push_back(row);
    values_.resize(values_.size() + row_width_, 0.0f);
  }
  return values_.data() + static_cast<std::size_t>(slot) * row_width_;
}

void RowSparseGrad::add(const RowSparseGrad& other) {
  if (other.num_rows_ != num_rows_ || other.row_width_ != row_width_) {
    throw ShapeError("RowSparseGrad::add: shapes differ: (" + std::to_string(num_rows_) + ", " +
                     std::to_string(row_width_) + ") vs (" + std::to_string(other.num_rows_) +
                     ", " + std::to_string(other.row_width_) + ")");
  }
  for (std::size_t i = 0; i < other.rows_.size(); ++i) {
    float* dst = accumulate_row(other.rows_[i]);
    const float* src = other.row_values(i);
    for (std::size_t j = 0; j < row_width_; ++j) dst[j] += src[j];
  }
}

void RowSparseGrad::add_to(float* dense) const {
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    float* dst = dense + static_cast<std::size_t>(rows_[i]) * row_width_;
    const float* src = row_values(i);
    for (std::size_t j = 0; j < row_width_; ++j) dst[j] += src[j];
  }
}

void RowSparseGrad::clear() {
  for (std::int32_t row : rows_) slot_of_row_[static_cast<std::size_t>(row)] = -1;
  rows_.clear();
  values_.clear();
}

Array RowSparseGrad::to_dense() const {
  Array dense = zeros_array({num_rows_, row_width_});
  add_to(dense.data());
  return dense;
}

}  // namespace xgrad
