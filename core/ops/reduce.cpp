// Reductions to a scalar (sum, mean) and reshape.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/ops.hpp"
#include "core/ops/op_support.hpp"

namespace xgrad {

using namespace ops_support;

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

// out = scale * sum(x), accumulated in double; dX += scale * dout.
Tensor scaled_sum(Tape& tape, const char* op, const Tensor& x, double scale) {
  const double total = blocked_sum(x.value().data(), x.size(), block_sum);
  Array out = new_array(Shape{});
  out() = static_cast<float>(total * scale);
  Tensor output = make_output(std::move(out), x.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, output, scale] {  // one number for every element, never written out here
    x.mutable_grad().add_uniform(static_cast<float>(scalar_output_grad(output) * scale));
  };
  tape.record({op, {x}, output, std::move(backward), {}});
  return output;
}

}  // namespace

Tensor sum(Tape& tape, const Tensor& x) { return scaled_sum(tape, "sum", x, 1.0); }

Tensor mean(Tape& tape, const Tensor& x) {
  if (x.size() == 0) require_shape(false, "mean", "the mean of no elements is undefined", x.shape());
  return scaled_sum(tape, "mean", x, 1.0 / static_cast<double>(x.size()));
}

// mean(x^2) in one pass, without writing x^2 out: the loss a squared-error objective needs.
// dX += dout * 2 x / n, passed back unwritten as a multiple of x
// (Tensor::add_scaled_value_to_grad): when x is gathered rows, the embedding backward reads
// x itself and no dX is written.
Tensor mean_square(Tape& tape, const Tensor& x) {
  if (x.size() == 0) {
    require_shape(false, "mean_square", "the mean of no elements is undefined", x.shape());
  }
  const double scale = 1.0 / static_cast<double>(x.size());
  Array out = new_array(Shape{});
  out() = static_cast<float>(blocked_sum(x.value().data(), x.size(), block_sum_of_squares) * scale);
  Tensor output = make_output(std::move(out), x.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, output, scale] {
    const float factor = static_cast<float>(2.0 * scalar_output_grad(output) * scale);
    x.add_scaled_value_to_grad(factor, "mean_square");
  };
  tape.record({"mean_square", {x}, output, std::move(backward), {}});
  return output;
}

Tensor reshape(Tape& tape, const Tensor& x, const Shape& shape) {
  if (element_count(shape) != x.size()) {
    throw ShapeError("reshape: cannot reshape " + shape_string(x.shape()) + " to " +
                     shape_string(shape) + ": element counts differ");
  }
  Array out = new_array(shape);
  const float* src = x.value().data();
  float* dst = out.data();
  parallel::for_range(x.size(), x.size(), [&](std::size_t begin, std::size_t end) {
    std::memcpy(dst + begin, src + begin, (end - begin) * sizeof(float));
  });
  Tensor output = make_output(std::move(out), x.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, output] {  // same elements, same order: dX += dY
    with_output_grad(output, [&](auto dout) {
      accumulate(x, [&](std::size_t i) { return dout[i]; });
    });
  };
  tape.record({"reshape", {x}, output, std::move(backward), {}});
  return output;
}

}  // namespace xgrad
