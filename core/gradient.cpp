// Gradient: dense / row-sparse accumulation with shape checks.
#include "core/gradient.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/detail/buffer_pool.hpp"
#include "core/errors.hpp"
#include "core/detail/parallel.hpp"

namespace xgrad {

Gradient::Gradient(Shape value_shape) : shape_(std::move(value_shape)) {
  if (shape_.size() == 2) sparse_ = RowSparseGrad(shape_[0], shape_[1]);
}

Gradient::~Gradient() { release_storage(); }

Gradient::Gradient(const Gradient& other)
    : shape_((other.write_out(), other.shape_)),
      kind_(other.kind_),
      dense_(other.dense_),
      dense_allocated_(other.dense_allocated_),
      uniform_pending_(other.uniform_pending_),
      uniform_value_(other.uniform_value_),
      sparse_(other.sparse_) {}

Gradient& Gradient::operator=(const Gradient& other) {
  if (this != &other) *this = Gradient(other);
  return *this;
}

void Gradient::release_storage() {
  clear();
  if (!dense_allocated_) return;
  buffer_pool::give_back(dense_);
  dense_ = empty_array();
  dense_allocated_ = false;
}

const Array& Gradient::dense() const {
  if (kind_ != Kind::dense) throw std::logic_error("Gradient::dense: the gradient is not dense");
  write_out();
  return dense_;
}

const RowSparseGrad& Gradient::row_sparse() const {
  if (kind_ != Kind::row_sparse) {
    throw std::logic_error("Gradient::row_sparse: the gradient is not row-sparse");
  }
  return sparse_;
}

float* Gradient::dense_buffer() const {
  if (!dense_allocated_) {
    dense_ = buffer_pool::take(shape_);
    dense_allocated_ = true;
  }
  return dense_.data();
}

void Gradient::write_out() const {
  if (uniform_pending_) {
    float* data = dense_buffer();
    const float value = uniform_value_;
    const std::size_t n = dense_.size();
    parallel::for_range(n, n, [&](std::size_t begin, std::size_t end) {
      std::fill(data + begin, data + end, value);
    });
    uniform_pending_ = false;
  }
  if (scaled_source_) {
    float* data = dense_buffer();
    const float* source = scaled_source_;
    const float factor = scaled_factor_;
    const std::size_t n = dense_.size();
    parallel::for_range(n, n, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) data[i] = 0.0f + factor * source[i];
    });
    scaled_source_ = nullptr;
  }
}

Array& Gradient::dense_for_accumulate() {
  bool fresh = false;
  float* data = dense_accumulator(fresh);
  if (fresh) std::fill(data, data + dense_.size(), 0.0f);
  return dense_;
}

float* Gradient::dense_accumulator(bool& fresh) {
  fresh = kind_ == Kind::none;
  if (kind_ == Kind::dense) {
    write_out();
    return dense_.data();
  }
  dense_buffer();
  if (kind_ == Kind::row_sparse) {
    dense_.fill(0.0f);
    sparse_.add_to(dense_.data());
    sparse_.clear();
  }
  kind_ = Kind::dense;
  return dense_.data();
}

void Gradient::add_dense(const Array& contribution, const char* op) {
  require_same_shape(contribution, op);
  bool fresh = false;
  float* dst = dense_accumulator(fresh);
  const float* src = contribution.data();
  const std::size_t n = dense_.size();
  parallel::for_range(n, n, [&](std::size_t begin, std::size_t end) {
    if (fresh) {
      for (std::size_t i = begin; i < end; ++i) dst[i] = 0.0f + src[i];
    } else {
      for (std::size_t i = begin; i < end; ++i) dst[i] += src[i];
    }
  });
}

void Gradient::adopt_dense(Array&& contribution, const char* op) {
  require_same_shape(contribution, op);
  if (kind_ != Kind::none) {
    add_dense(contribution, op);
    return;
  }
  if (dense_allocated_) buffer_pool::give_back(dense_);
  dense_ = std::move(contribution);
  dense_allocated_ = true;
  kind_ = Kind::dense;
}

void Gradient::add_uniform(float value) {
  if (kind_ == Kind::none) {  // the bits zeros + value would give
    kind_ = Kind::dense;
    uniform_pending_ = true;
    uniform_value_ = 0.0f + value;
    return;
  }
  if (uniform_pending_) {
    uniform_value_ += value;
    return;
  }
  float* data = dense_for_accumulate().data();
  const std::size_t n = dense_.size();
  parallel::for_range(n, n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) data[i] += value;
  });
}

std::optional<float> Gradient::uniform_value() const {
  if (uniform_pending_) return uniform_value_;
  return std::nullopt;
}

void Gradient::add_scaled(const Array& source, float factor, const char* op) {
  require_same_shape(source, op);
  if (kind_ == Kind::none) {
    kind_ = Kind::dense;
    scaled_source_ = source.data();
    scaled_factor_ = factor;
    return;
  }
  float* data = dense_for_accumulate().data();
  const float* src = source.data();
  const std::size_t n = dense_.size();
  parallel::for_range(n, n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) data[i] += factor * src[i];
  });
}

std::optional<Gradient::Scaled> Gradient::scaled_value() const {
  if (scaled_source_) return Scaled{scaled_source_, scaled_factor_};
  return std::nullopt;
}

void Gradient::require_same_shape(const Array& contribution, const char* op) const {
  if (contribution.dimension() != shape_.size() ||
      !std::equal(shape_.begin(), shape_.end(), contribution.shape().begin())) {
    throw ShapeError(std::string(op) + ": gradient of shape " +
                     shape_string(shape_of(contribution)) + " does not match value of shape " +
                     shape_string(shape_));
  }
}

void Gradient::require_table(const char* who) const {
  if (shape_.size() != 2) {
    throw ShapeError(std::string(who) + ": value of shape " + shape_string(shape_) +
                     " is not a (rows, width) table");
  }
}

float* Gradient::accumulate_row(std::int32_t row) {
  require_table("Gradient::accumulate_row");
  if (kind_ == Kind::dense) {
    write_out();
    return dense_.data() + static_cast<std::size_t>(row) * shape_[1];
  }
  kind_ = Kind::row_sparse;
  return sparse_.accumulate_row(row);
}

void Gradient::scatter_add_rows(const std::int32_t* rows, std::size_t count, const float* values,
                                std::optional<std::int32_t> skip, float scale) {
  require_table("Gradient::scatter_add_rows");
  if (kind_ != Kind::dense) {
    kind_ = Kind::row_sparse;
    sparse_.scatter_add(rows, count, values, skip, scale);
    return;
  }
  write_out();
  const std::size_t width = shape_[1];
  for (std::size_t t = 0; t < count; ++t) {
    if (skip && rows[t] == *skip) continue;
    float* dst = dense_.data() + static_cast<std::size_t>(rows[t]) * width;
    const float* src = values + t * width;
    for (std::size_t j = 0; j < width; ++j) dst[j] += scale * src[j];
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
    case Kind::dense:
      add_dense(other.dense(), "Gradient::add");
      return;
    case Kind::row_sparse:
      if (kind_ == Kind::dense) {
        write_out();
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
      return dense();
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
  if (kind_ == Kind::dense) {
    const Array& values = dense();  // writes out a pending uniform value first
    add_squares(values.data(), values.size());
  }
  if (kind_ == Kind::row_sparse) {
    add_squares(sparse_.row_values(0), sparse_.rows().size() * sparse_.row_width());
  }
  return std::sqrt(sum);
}

void Gradient::clear() {
  if (kind_ == Kind::row_sparse) sparse_.clear();
  kind_ = Kind::none;
  uniform_pending_ = false;
  scaled_source_ = nullptr;
}

}  // namespace xgrad
