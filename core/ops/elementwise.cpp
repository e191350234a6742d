// Elementwise ops: add_bias (broadcast over leading axes), add, mul, tanh.
// Outputs come from the buffer pool; loops split across threads only where every element
// is computed the same way whichever thread computes it.
#include "core/ops.hpp"
#include "core/ops/op_support.hpp"

namespace xgrad {

using namespace ops_support;

// Y (M, N) = X (M, N) + b (N,) for every row.
Tensor add_bias(Tape& tape, const Tensor& x, const Tensor& bias) {
  const Shape xs = x.shape();
  const Shape bs = bias.shape();
  if (xs.empty() || bs.size() != 1 || bs[0] != xs.back()) {
    throw ShapeError("add_bias: bias must be (N,) for x (..., N): x is " + shape_string(xs) +
                     ", bias is " + shape_string(bs));
  }
  const std::size_t width = bs[0];
  const std::size_t rows = width ? x.size() / width : 0;
  Array out = new_array_like(x.value());
  const float* xv = x.value().data();
  const float* b = bias.value().data();
  float* y = out.data();
  parallel::for_range(rows, rows * width, [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      for (std::size_t j = 0; j < width; ++j) y[r * width + j] = xv[r * width + j] + b[j];
    }
  });
  Tensor output = make_output(std::move(out), x.requires_grad() || bias.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, bias, output, rows, width] {  // dX += dY, db[j] += sum_r dY[r, j]
    const float* dout = output_grad(output);
    bool fresh = false;
    float* dx = x.requires_grad() ? x.mutable_grad().dense_accumulator(fresh) : nullptr;
    float* db = bias.requires_grad() ? bias.mutable_grad().dense_for_accumulate().data() : nullptr;
    // One pass over dY; columns split across threads, so each db[j] sums rows in order.
    parallel::for_range(width, rows * width, [&](std::size_t first, std::size_t last) {
      for (std::size_t r = 0; r < rows; ++r) {
        const float* dy = dout + r * width;
        if (dx && fresh) {
          for (std::size_t j = first; j < last; ++j) dx[r * width + j] = 0.0f + dy[j];
        } else if (dx) {
          for (std::size_t j = first; j < last; ++j) dx[r * width + j] += dy[j];
        }
        if (db) {
          for (std::size_t j = first; j < last; ++j) db[j] += dy[j];
        }
      }
    });
  };
  tape.record({"add_bias", {x, bias}, output, std::move(backward), {}});
  return output;
}

Tensor add(Tape& tape, const Tensor& a, const Tensor& b) {
  require_same_shape("add", a, b);
  Array out = new_array_like(a.value());
  const float* av = a.value().data();
  const float* bv = b.value().data();
  fill_elementwise(out.data(), out.size(), [&](std::size_t i) { return av[i] + bv[i]; });
  Tensor output = make_output(std::move(out), a.requires_grad() || b.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [a, b, output] {  // da += dY, db += dY
    with_output_grad(output, [&](auto dout) {
      for (const Tensor& input : {a, b}) {
        if (input.requires_grad()) accumulate(input, [&](std::size_t i) { return dout[i]; });
      }
    });
  };
  tape.record({"add", {a, b}, output, std::move(backward), {}});
  return output;
}

Tensor mul(Tape& tape, const Tensor& a, const Tensor& b) {
  require_same_shape("mul", a, b);
  Array out = new_array_like(a.value());
  const float* av = a.value().data();
  const float* bv = b.value().data();
  fill_elementwise(out.data(), out.size(), [&](std::size_t i) { return av[i] * bv[i]; });
  Tensor output = make_output(std::move(out), a.requires_grad() || b.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [a, b, output] {  // da += dY * b, db += dY * a
    const float* av = a.value().data();
    const float* bv = b.value().data();
    with_output_grad(output, [&](auto dout) {
      if (a.same_node(b)) {  // x * x: both terms in one pass, added in the same order
        bool fresh = false;
        float* dx = a.mutable_grad().dense_accumulator(fresh);
        parallel::for_range(a.size(), a.size(), [&](std::size_t begin, std::size_t end) {
          if (fresh) {
            for (std::size_t i = begin; i < end; ++i) dx[i] = (0.0f + dout[i] * av[i]) + dout[i] * av[i];
          } else {
            for (std::size_t i = begin; i < end; ++i) dx[i] = (dx[i] + dout[i] * av[i]) + dout[i] * av[i];
          }
        });
        return;
      }
      if (a.requires_grad()) accumulate(a, [&](std::size_t i) { return dout[i] * bv[i]; });
      if (b.requires_grad()) accumulate(b, [&](std::size_t i) { return dout[i] * av[i]; });
    });
  };
  tape.record({"mul", {a, b}, output, std::move(backward), {}});
  return output;
}

Tensor tanh(Tape& tape, const Tensor& x) {
  Array out = new_array_like(x.value());
  const std::array<std::size_t, 1> flat{x.size()};
  auto y = xt::adapt(out.data(), out.size(), xt::no_ownership(), flat);
  xt::noalias(y) = xt::tanh(xt::adapt(x.value().data(), x.size(), xt::no_ownership(), flat));
  Tensor output = make_output(std::move(out), x.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, output] {  // dX += dY * (1 - Y^2)
    const float* y = output.value().data();
    with_output_grad(output, [&](auto dout) {
      accumulate(x, [&](std::size_t i) { return dout[i] * (1.0f - y[i] * y[i]); });
    });
  };
  tape.record({"tanh", {x}, output, std::move(backward), {}});
  return output;
}

}  // namespace xgrad
