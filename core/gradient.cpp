// Gradient: the three states and how contributions move between them.
#include "core/gradient.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/detail/buffer_pool.hpp"
#include "core/detail/parallel.hpp"
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

Array& Gradient::dense_buffer() {
  if (kind_ == Kind::dense) return dense_;
  dense_ = uninitialized_array(shape_);
  dense_.fill(0.0f);
  if (kind_ == Kind::row_sparse) {
    sparse_.add_to(dense_.data());
    sparse_.clear();
  }
  kind_ = Kind::dense;
  return dense_;
}

void Gradient::add(Array contribution) {
  if (contribution.dimension() != shape_.size() ||
      !std::equal(shape_.begin(), shape_.end(), contribution.shape().begin())) {
    throw ShapeError("gradient of shape " + shape_string(shape_of(contribution)) +
                     " does not match its value's shape " + shape_string(shape_));
  }
  if (kind_ == Kind::none) {
    dense_ = std::move(contribution);
    kind_ = Kind::dense;
    return;
  }
  Array& dst = dense_buffer();
  const float* src = contribution.data();
  float* out = dst.data();
  for (std::size_t i = 0; i < dst.size(); ++i) out[i] += src[i];
  buffer_pool::give_back(contribution);
}

void Gradient::require_table(const char* who) const {
  if (shape_.size() != 2) {
    throw ShapeError(std::string(who) + ": value of shape " + shape_string(shape_) +
                     " is not a (rows, width) table");
  }
}

void Gradient::scatter_add_rows(const std::int32_t* rows, std::size_t count, const float* values,
                                std::optional<std::int32_t> skip) {
  require_table("Gradient::scatter_add_rows");
  if (kind_ != Kind::dense) {
    kind_ = Kind::row_sparse;
    sparse_.scatter_add(rows, count, values, skip);
    return;
  }
  const std::size_t width = shape_[1];
  for (std::size_t t = 0; t < count; ++t) {
    if (skip && rows[t] == *skip) continue;
    float* dst = dense_.data() + static_cast<std::size_t>(rows[t]) * width;
    const float* src = values + t * width;
    for (std::size_t j = 0; j < width; ++j) dst[j] += src[j];
  }
}

void Gradient::add(const Gradient& other) {
  if (other.shape_ != shape_) {
    throw ShapeError("Gradient::add: shapes differ: " + shape_string(shape_) + " vs " +
                     shape_string(other.shape_));
  }
  switch (other.kind_) {
    case Kind::none:
      return;
    case Kind::dense: {
      if (kind_ == Kind::none) {  // a copy becomes the gradient
        Array copy = uninitialized_array(shape_);
        std::copy(other.dense_.begin(), other.dense_.end(), copy.begin());
        dense_ = std::move(copy);
        kind_ = Kind::dense;
        return;
      }
      Array& dst = dense_buffer();  // added in place: no copy of other first
      const float* src = other.dense_.data();
      for (std::size_t i = 0; i < dst.size(); ++i) dst.data()[i] += src[i];
      return;
    }
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

void Gradient::scale(float factor) {
  if (kind_ == Kind::row_sparse) sparse_.scale(factor);
  if (kind_ != Kind::dense) return;
  float* values = dense_.data();
  parallel::for_range(dense_.size(), dense_.size(), [=](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) values[i] *= factor;
  });
}

void Gradient::clear() {
  if (kind_ == Kind::row_sparse) sparse_.clear();
  if (kind_ == Kind::dense) buffer_pool::give_back(dense_);
  kind_ = Kind::none;
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
  const float* values = nullptr;
  std::size_t n = 0;
  if (kind_ == Kind::dense) {
    values = dense_.data();
    n = dense_.size();
  } else if (kind_ == Kind::row_sparse && !sparse_.empty()) {
    values = sparse_.row_values(0);
    n = sparse_.rows().size() * sparse_.row_width();
  }
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(values[i]) * values[i];
  return std::sqrt(sum);
}

}  // namespace xgrad
