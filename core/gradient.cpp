// Gradient: dense / row-sparse accumulation with shape checks.
#include "core/gradient.hpp"

#include <cmath>
#include <stdexcept>

#include "core/errors.hpp"

namespace xgrad {

Gradient::Gradient(Shape value_shape) : shape_(std::move(value_shape)) {
  if (shape_.size() == 2) sparse_ = RowSparseGrad(shape_[0], shape_[1]);
}

const Array& Gradient::dense() const {
  if (kind_ != Kind::dense) throw std::logic_error("Gradient::dense: the gradient is not dense");
  return dense_;
}

const RowSparseGrad& Gradient::row_sparse() const {
  if (kind_ != Kind::row_sparse) {
    throw std::logic_error("Gradient::row_sparse: the gradient is not row-sparse");
  }
  return sparse_;
}

Array& Gradient::dense_for_accumulate() {
  if (kind_ == Kind::dense) return dense_;
  if (!dense_allocated_) {
    dense_ = Array::from_shape(shape_);
    dense_allocated_ = true;
  }
  dense_.fill(0.0f);
  if (kind_ == Kind::row_sparse) {
    sparse_.add_to(dense_.data());
    sparse_.clear();
  }
  kind_ = Kind::dense;
  return dense_;
}

void Gradient::add_dense(const Array& contribution, const char* op) {
  if (shape_of(contribution) != shape_) {
    throw ShapeError(std::string(op) + ": gradient of shape " +
                     shape_string(shape_of(contribution)) + " does not match value of shape " +
                     shape_string(shape_));
  }
  Array& dense = dense_for_accumulate();
  float* dst = dense.data();
  const float* src = contribution.data();
  for (std::size_t i = 0, n = dense.size(); i < n; ++i) dst[i] += src[i];
}

float* Gradient::accumulate_row(std::int32_t row) {
  if (shape_.size() != 2) {
    throw ShapeError("Gradient::accumulate_row: value of shape " + shape_string(shape_) +
                     " is not a (rows, width) table");
  }
  if (kind_ == Kind::dense) return dense_.data() + static_cast<std::size_t>(row) * shape_[1];
  kind_ = Kind::row_sparse;
  return sparse_.accumulate_row(row);
}

void Gradient::add(const Gradient& other) {
  if (other.shape_ != shape_) {
    throw ShapeError("Gradient::add: shapes differ: " + shape_string(shape_) + " vs " +
                     shape_string(other.shape_));
  }
  switch (other.kind_) {
    case Kind::none:
      return;
    case Kind::dense:
      add_dense(other.dense_, "Gradient::add");
      return;
    case Kind::row_sparse:
      if (kind_ == Kind::dense) {
        other.sparse_.add_to(dense_.data());
      } else {
        kind_ = Kind::row_sparse;
        sparse_.add(other.sparse_);
      }
      return;
  }
}

Array Gradient::to_dense() const {
  switch (kind_) {
    case Kind::dense:
      return dense_;
    case Kind::row_sparse:
      return sparse_.to_dense();
    case Kind::none:
      break;
  }
  return zeros_array(shape_);
}

double Gradient::norm() const {
  double sum = 0.0;
  auto add_squares = [&sum](const float* values, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(values[i]) * values[i];
  };
  if (kind_ == Kind::dense) add_squares(dense_.data(), dense_.size());
  if (kind_ == Kind::row_sparse) {
    add_squares(sparse_.row_values(0), sparse_.rows().size() * sparse_.row_width());
  }
  return std::sqrt(sum);
}

void Gradient::clear() {
  if (kind_ == Kind::row_sparse) sparse_.clear();
  kind_ = Kind::none;
}

}  // namespace xgrad
