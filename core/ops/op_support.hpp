// Helpers the op implementations share: 2-D views over contiguous float buffers, pooled
// output arrays, recycled id copies, shape checks, and accumulation into gradients that
// skips zero-filling a fresh one. Internal to core/ops/.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/detail/buffer_pool.hpp"
#include "core/errors.hpp"
#include "core/detail/parallel.hpp"
#include "core/tape.hpp"
#include "core/tensor.hpp"
#include "core/token_ids.hpp"

namespace xgrad::ops_support {

// A (rows, cols) row-major view over `data`, without copying; what BLAS calls take.
inline auto matrix_view(float* data, std::size_t rows, std::size_t cols) {
  const std::array<std::size_t, 2> shape{rows, cols};
  return xt::adapt(data, rows * cols, xt::no_ownership(), shape);
}
inline auto matrix_view(const float* data, std::size_t rows, std::size_t cols) {
  return matrix_view(const_cast<float*>(data), rows, cols);  // read-only use by the caller
}

// An op's output array, contents unspecified: every op writes all of it. Comes from the
// buffer pool, so a training loop does not fault in fresh pages every step.
inline Array new_array(const Shape& shape) { return buffer_pool::take(shape); }
inline Array new_array(const Array::shape_type& shape) { return buffer_pool::take_shape(shape); }
inline Array new_array_like(const Array& like) { return buffer_pool::take_like(like); }

// The ids a backward closure needs after the caller's TokenIds is gone: a copy whose
// vector is recycled between steps, so a step does not malloc and free O(T) bytes.
class IdsCopy {
 public:
  explicit IdsCopy(const TokenIds& ids) : ids_(recycled()) {
    ids_.assign(ids.data(), ids.data() + ids.size());
  }
  IdsCopy(const IdsCopy& other) : ids_(recycled()) { ids_ = other.ids_; }
  IdsCopy(IdsCopy&& other) noexcept : ids_(std::move(other.ids_)) {}
  IdsCopy& operator=(const IdsCopy&) = delete;
  ~IdsCopy() {
    if (ids_.capacity() == 0) return;  // moved from
    Freelist& f = freelist();
    std::lock_guard<buffer_pool::SpinLock> lock(f.mutex);
    if (f.vectors.size() < 64) f.vectors.push_back(std::move(ids_));
  }
  const std::int32_t* data() const { return ids_.data(); }
  std::size_t size() const { return ids_.size(); }
  std::int32_t operator[](std::size_t i) const { return ids_[i]; }

 private:
  struct Freelist {
    buffer_pool::SpinLock mutex;
    std::vector<std::vector<std::int32_t>> vectors;
  };
  static Freelist& freelist() {
    static Freelist* instance = new Freelist();  // never destroyed: closures may outlive main()
    return *instance;
  }
  static std::vector<std::int32_t> recycled() {
    Freelist& f = freelist();
    std::lock_guard<buffer_pool::SpinLock> lock(f.mutex);
    if (f.vectors.empty()) return {};
    std::vector<std::int32_t> v = std::move(f.vectors.back());
    f.vectors.pop_back();
    return v;
  }
  std::vector<std::int32_t> ids_;
};

// The output tensor of an op: requires a gradient when any input does.
inline Tensor make_output(Array&& value, bool requires_grad) {
  return Tensor(std::move(value), requires_grad);
}

// Throws ShapeError "<op>: <what> (got <shape>)" unless ok.
inline void require_shape(bool ok, const char* op, const std::string& what, const Shape& got) {
  if (!ok) throw ShapeError(std::string(op) + ": " + what + " (got " + shape_string(got) + ")");
}

// Throws ShapeError naming both shapes unless they are equal.
inline void require_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  const auto& as = a.value().shape();
  const auto& bs = b.value().shape();
  if (as.size() != bs.size() || !std::equal(as.begin(), as.end(), bs.begin())) {
    throw ShapeError(std::string(op) + ": shapes differ: " + shape_string(a.shape()) + " vs " +
                     shape_string(b.shape()));
  }
}

// The gradient of an op's output as its backward reads it: dense, row-major. (A row-sparse
// output gradient, from gathering rows of a computed table, is densified first.)
inline const float* output_grad(const Tensor& output) {
  return output.mutable_grad().dense_for_accumulate().data();
}

// The upstream gradient of a one-element output (a loss), without writing out a buffer.
inline float scalar_output_grad(const Tensor& output) {
  if (auto value = output.grad().uniform_value()) return *value;
  return output_grad(output)[0];
}

// An output gradient read element by element: the same number everywhere (what sum and
// mean pass back, never written out) or a dense buffer.
struct UniformGrad {
  float value;
  float operator[](std::size_t) const { return value; }
};
struct DenseGrad {
  const float* data;
  float operator[](std::size_t i) const { return data[i]; }
};

// f(dY) with dY a UniformGrad or a DenseGrad: one loop compiled for each.
template <class F>
void with_output_grad(const Tensor& output, F f) {
  if (auto value = output.grad().uniform_value()) {
    f(UniformGrad{*value});
  } else {
    f(DenseGrad{output_grad(output)});
  }
}

// dst[i] += src[i] for i < n: how most backward functions accumulate.
inline void add_into(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] += src[i];
}

// grad(x)[i] += contribution(i) for every element, split across threads for large x.
// A gradient that held nothing is written as 0 + contribution(i) in one pass: the same
// bits as zero-filling and then adding.
template <class F>
void accumulate(const Tensor& x, F contribution) {
  bool fresh = false;
  float* dx = x.mutable_grad().dense_accumulator(fresh);
  const std::size_t n = x.size();
  parallel::for_range(n, n, [&](std::size_t begin, std::size_t end) {
    if (fresh) {
      for (std::size_t i = begin; i < end; ++i) dx[i] = 0.0f + contribution(i);
    } else {
      for (std::size_t i = begin; i < end; ++i) dx[i] += contribution(i);
    }
  });
}

// out[i] = f(i) for i < n, split across threads for large n.
template <class F>
void fill_elementwise(float* out, std::size_t n, F f) {
  parallel::for_range(n, n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = f(i);
  });
}

}  // namespace xgrad::ops_support
