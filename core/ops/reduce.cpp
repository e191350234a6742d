// Reductions to a scalar (sum, mean, mean_square) and reshape.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/detail/parallel.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

// Sum of n floats in double: 16 independent lanes (four vectors of four doubles, so four
// add chains in flight instead of one), added in a fixed order at the end.
double block_sum(const float* x, std::size_t n) {
  double lane[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t k = 0; k < 16; ++k) lane[k] += static_cast<double>(x[i + k]);
  }
  double total = 0.0;
  for (double l : lane) total += l;
  for (; i < n; ++i) total += static_cast<double>(x[i]);
  return total;
}

// Sum of squares of n floats in double, in 16 lanes as block_sum.
double block_sum_of_squares(const float* x, std::size_t n) {
  double lane[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t k = 0; k < 16; ++k) {
      const double v = x[i + k];
      lane[k] += v * v;
    }
  }
  double total = 0.0;
  for (double l : lane) total += l;
  for (; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  return total;
}

// The sum of sum_block over fixed blocks of x: blocks may run on any thread, their sums
// are added in block order, so the result does not depend on the thread count.
double blocked_sum(const float* x, std::size_t n, double (*sum_block)(const float*, std::size_t)) {
  constexpr std::size_t kBlock = std::size_t{1} << 16;
  if (n <= kBlock) return sum_block(x, n);
  std::vector<double> partial((n + kBlock - 1) / kBlock);
  parallel::for_range(partial.size(), n, [&](std::size_t first, std::size_t last) {
    for (std::size_t b = first; b < last; ++b) {
      partial[b] = sum_block(x + b * kBlock, std::min(kBlock, n - b * kBlock));
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

Array scalar(double value) {
  Array out = Array::from_shape(Array::shape_type{});
  out() = static_cast<float>(value);
  return out;
}

// out = scale * sum(x), accumulated in double; dX += scale * dout at every element.
Tensor scaled_sum(Tape& tape, const char* op, const Tensor& x, double scale) {
  const double total = blocked_sum(x.value().data(), x.size(), block_sum);
  return tape.record(op, {x}, scalar(total * scale), [x, scale](const Array&, const Array& dy) {
    if (!x.requires_grad()) return;
    Array each = uninitialized_array(x.shape());
    each.fill(static_cast<float>(dy() * scale));
    x.mutable_grad().add(std::move(each));
  });
}

}  // namespace

Tensor sum(Tape& tape, const Tensor& x) { return scaled_sum(tape, "sum", x, 1.0); }

Tensor mean(Tape& tape, const Tensor& x) {
  require_shape(x.size() > 0, "mean", "the mean of no elements is undefined", x.shape());
  return scaled_sum(tape, "mean", x, 1.0 / static_cast<double>(x.size()));
}

// mean(x^2) in one pass, without writing x^2 out. dX += dout * 2 x / n.
Tensor mean_square(Tape& tape, const Tensor& x) {
  require_shape(x.size() > 0, "mean_square", "the mean of no elements is undefined", x.shape());
  const double scale = 1.0 / static_cast<double>(x.size());
  const double total = blocked_sum(x.value().data(), x.size(), block_sum_of_squares);
  return tape.record("mean_square", {x}, scalar(total * scale),
                     [x, scale](const Array&, const Array& dy) {
                       const float factor = static_cast<float>(2.0 * dy() * scale);
                       accumulate_grad(x, factor * x.value());
                     });
}

}  // namespace xgrad
