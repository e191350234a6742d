// Reductions to a scalar (sum, mean) and reshape.
#include <numeric>

#include "core/ops.hpp"
#include "core/ops/op_support.hpp"

namespace xgrad {

using namespace ops_support;

namespace {

// out = scale * sum(x), accumulated in double; dX += scale * dout.
Tensor scaled_sum(Tape& tape, const char* op, const Tensor& x, double scale) {
  const float* values = x.value().data();
  const double total = std::accumulate(values, values + x.size(), 0.0);
  Array out = Array::from_shape(Shape{});
  out() = static_cast<float>(total * scale);
  Tensor output = make_output(std::move(out), x.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, output, scale] {
    const float d = static_cast<float>(output_grad(output)[0] * scale);
    float* dx = x.mutable_grad().dense_for_accumulate().data();
    for (std::size_t i = 0, n = x.size(); i < n; ++i) dx[i] += d;
  };
  tape.record({op, {x}, output, backward, {}});
  return output;
}

}  // namespace

Tensor sum(Tape& tape, const Tensor& x) { return scaled_sum(tape, "sum", x, 1.0); }

Tensor mean(Tape& tape, const Tensor& x) {
  require_shape(x.size() > 0, "mean", "the mean of no elements is undefined", x.shape());
  return scaled_sum(tape, "mean", x, 1.0 / static_cast<double>(x.size()));
}

Tensor reshape(Tape& tape, const Tensor& x, const Shape& shape) {
  if (element_count(shape) != x.size()) {
    throw ShapeError("reshape: cannot reshape " + shape_string(x.shape()) + " to " +
                     shape_string(shape) + ": element counts differ");
  }
  Array out = x.value();
  out.reshape(shape);
  Tensor output = make_output(std::move(out), x.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, output] {  // same elements, same order: dX += dY
    add_into(x.mutable_grad().dense_for_accumulate().data(), output_grad(output), x.size());
  };
  tape.record({"reshape", {x}, output, backward, {}});
  return output;
}

}  // namespace xgrad
