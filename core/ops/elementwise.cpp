// Elementwise ops: add_bias (broadcast over leading axes), add, mul, tanh.
// add_bias runs on large logits, so its loops are split across threads where every element
// is computed the same way whichever thread computes it; the others are xtensor expressions.
#include "core/detail/parallel.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {

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
  Array out = uninitialized_array(xs);
  const float* xv = x.value().data();
  const float* b = bias.value().data();
  float* y = out.data();
  parallel::for_range(rows, rows * width, [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      for (std::size_t j = 0; j < width; ++j) y[r * width + j] = xv[r * width + j] + b[j];
    }
  });

  // dX += dY and db[j] += sum_r dY[r, j] in one pass over dY (it is as large as the logits):
  // columns split across threads, each summing its rows in order.
  auto backward = [x, bias, rows, width](const Array&, const Array& dy) {
    // A first contribution is written into a fresh array that becomes the gradient.
    const bool assign = x.requires_grad() && x.grad().empty();
    Array fresh_dx = assign ? uninitialized_array(x.shape()) : Array::from_shape(Array::shape_type{0});
    float* dx = assign ? fresh_dx.data()
                       : x.requires_grad() ? x.mutable_grad().dense_buffer().data() : nullptr;
    Array db = bias.requires_grad() ? zeros_array({width}) : Array::from_shape(Array::shape_type{0});
    float* sums = bias.requires_grad() ? db.data() : nullptr;
    const float* d = dy.data();
    parallel::for_range(width, rows * width, [&](std::size_t first, std::size_t last) {
      for (std::size_t r = 0; r < rows; ++r) {
        const float* dy_row = d + r * width;
        if (dx) {
          float* dx_row = dx + r * width;
          for (std::size_t j = first; j < last; ++j) dx_row[j] = assign ? dy_row[j] : dx_row[j] + dy_row[j];
        }
        if (sums) {
          for (std::size_t j = first; j < last; ++j) sums[j] += dy_row[j];
        }
      }
    });
    if (assign) x.mutable_grad().add(std::move(fresh_dx));
    if (sums) accumulate_grad(bias, db);
  };
  return tape.record("add_bias", {x, bias}, std::move(out), std::move(backward));
}

Tensor add(Tape& tape, const Tensor& a, const Tensor& b) {
  require_same_shape("add", a, b);
  Array out = uninitialized_array(a.shape());
  xt::noalias(out) = a.value() + b.value();
  return tape.record("add", {a, b}, std::move(out), [a, b](const Array&, const Array& dy) {
    accumulate_grad(a, dy);  // da += dY
    accumulate_grad(b, dy);  // db += dY
  });
}

Tensor mul(Tape& tape, const Tensor& a, const Tensor& b) {
  require_same_shape("mul", a, b);
  Array out = uninitialized_array(a.shape());
  xt::noalias(out) = a.value() * b.value();
  return tape.record("mul", {a, b}, std::move(out), [a, b](const Array&, const Array& dy) {
    accumulate_grad(a, dy * b.value());  // da += dY * b
    accumulate_grad(b, dy * a.value());  // db += dY * a
  });
}

Tensor tanh(Tape& tape, const Tensor& x) {
  Array out = uninitialized_array(x.shape());
  xt::noalias(out) = xt::tanh(x.value());
  return tape.record("tanh", {x}, std::move(out), [x](const Array& y, const Array& dy) {
    accumulate_grad(x, dy * (1.0f - y * y));  // dX += dY * (1 - Y^2)
  });
}

}  // namespace xgrad
