// Elementwise ops: add_bias (broadcast over leading axes), add, mul, tanh.
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
  Array out = x.value();
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = out.data() + r * width;
    const float* b = bias.value().data();
    for (std::size_t j = 0; j < width; ++j) row[j] += b[j];
  }
  Tensor output = make_output(std::move(out), x.requires_grad() || bias.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, bias, output, rows, width] {
    const float* dout = output_grad(output);
    if (x.requires_grad()) {  // dX += dY
      add_into(x.mutable_grad().dense_for_accumulate().data(), dout, rows * width);
    }
    if (bias.requires_grad()) {  // db[j] += sum_r dY[r, j]
      float* db = bias.mutable_grad().dense_for_accumulate().data();
      for (std::size_t r = 0; r < rows; ++r) add_into(db, dout + r * width, width);
    }
  };
  tape.record({"add_bias", {x, bias}, output, backward, {}});
  return output;
}

Tensor add(Tape& tape, const Tensor& a, const Tensor& b) {
  require_same_shape("add", a, b);
  Tensor output = make_output(a.value() + b.value(), a.requires_grad() || b.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [a, b, output] {  // da += dY, db += dY
    const float* dout = output_grad(output);
    for (const Tensor& input : {a, b}) {
      if (!input.requires_grad()) continue;
      add_into(input.mutable_grad().dense_for_accumulate().data(), dout, input.size());
    }
  };
  tape.record({"add", {a, b}, output, backward, {}});
  return output;
}

Tensor mul(Tape& tape, const Tensor& a, const Tensor& b) {
  require_same_shape("mul", a, b);
  Tensor output = make_output(a.value() * b.value(), a.requires_grad() || b.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [a, b, output] {  // da += dY * b, db += dY * a
    const float* dout = output_grad(output);
    const std::size_t n = a.size();
    if (a.requires_grad()) {
      float* da = a.mutable_grad().dense_for_accumulate().data();
      const float* bv = b.value().data();
      for (std::size_t i = 0; i < n; ++i) da[i] += dout[i] * bv[i];
    }
    if (b.requires_grad()) {
      float* db = b.mutable_grad().dense_for_accumulate().data();
      const float* av = a.value().data();
      for (std::size_t i = 0; i < n; ++i) db[i] += dout[i] * av[i];
    }
  };
  tape.record({"mul", {a, b}, output, backward, {}});
  return output;
}

Tensor tanh(Tape& tape, const Tensor& x) {
  Tensor output = make_output(xt::tanh(x.value()), x.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, output] {  // dX += dY * (1 - Y^2)
    const float* dout = output_grad(output);
    const float* y = output.value().data();
    float* dx = x.mutable_grad().dense_for_accumulate().data();
    for (std::size_t i = 0, n = x.size(); i < n; ++i) dx[i] += dout[i] * (1.0f - y[i] * y[i]);
  };
  tape.record({"tanh", {x}, output, backward, {}});
  return output;
}

}  // namespace xgrad
