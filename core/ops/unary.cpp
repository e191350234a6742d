// Unary elementwise ops: neg, exp, log, sqrt, relu, sigmoid, abs (threaded xsimd loops) and
// tanh. Every element goes through the vector code, the last partial batch padded
// (core/detail/simd.hpp): the batch holding an element must not depend on where a thread's
// range starts. Not gelu (core/ops/gelu.cpp), which keeps a value for its backward.
#include <algorithm>
#include <utility>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

using simd::Batch;
using simd::kLanes;
using simd::load_padded;
using simd::store_partial;

// fn(i, count) for the batches of n elements, split across threads.
template <class F>
void for_batches(std::size_t n, std::size_t cost, F&& fn) {
  const std::size_t batches = (n + kLanes - 1) / kLanes;
  parallel::for_range(batches, cost * n, [&](std::size_t first, std::size_t last) {
    for (std::size_t k = first; k < last; ++k) fn(k * kLanes, std::min(kLanes, n - k * kLanes));
  });
}

// y = f(x), and in backward dx (+)= g(dy, x, y), both batch by batch. `cost` is the work
// per element in parallel::for_range's units.
template <class F, class G>
Tensor unary(Tape& tape, const char* name, const Tensor& x, std::size_t cost, F f, G g) {
  const std::size_t n = x.size();
  Array out = uninitialized_array(x.shape());
  const float* xv = x.value().data();
  float* yv = out.data();
  for_batches(n, cost, [&](std::size_t i, std::size_t count) {
    store_partial(f(load_padded(xv + i, count)), yv + i, count);
  });
  return tape.record(name, {x}, std::move(out), [x, n, cost, g](const Array& y, const Array& dy) {
    GradientTarget target(x);
    float* dx = target.data();
    if (!dx) return;
    const bool add = target.add();
    const float *xv = x.value().data(), *yv = y.data(), *d = dy.data();
    for_batches(n, cost, [&](std::size_t i, std::size_t count) {
      Batch v =
          g(load_padded(d + i, count), load_padded(xv + i, count), load_padded(yv + i, count));
      if (add) v += load_padded(dx + i, count);
      store_partial(v, dx + i, count);
    });
    target.commit();
  });
}

const Batch kZero(0.0f), kOne(1.0f);

}  // namespace

Tensor neg(Tape& tape, const Tensor& x) {
  return unary(
      tape, "neg", x, 1, [](const Batch& v) { return -v; },
      [](const Batch& dy, const Batch&, const Batch&) { return -dy; });  // dx += -dy
}

Tensor exp(Tape& tape, const Tensor& x) {
  return unary(
      tape, "exp", x, 8, [](const Batch& v) { return xsimd::exp(v); },
      [](const Batch& dy, const Batch&, const Batch& y) { return dy * y; });  // dx += dy e^x
}

Tensor log(Tape& tape, const Tensor& x) {
  return unary(
      tape, "log", x, 8, [](const Batch& v) { return xsimd::log(v); },
      [](const Batch& dy, const Batch& v, const Batch&) { return dy / v; });  // dx += dy / x
}

Tensor sqrt(Tape& tape, const Tensor& x) {
  return unary(
      tape, "sqrt", x, 2, [](const Batch& v) { return xsimd::sqrt(v); },
      [](const Batch& dy, const Batch&, const Batch& y) { return dy / (Batch(2.0f) * y); });
}

// x <= 0 selects 0, so a NaN (every comparison false) stays NaN.
Tensor relu(Tape& tape, const Tensor& x) {
  return unary(
      tape, "relu", x, 1, [](const Batch& v) { return xsimd::select(v <= kZero, kZero, v); },
      [](const Batch& dy, const Batch&, const Batch& y) { return xsimd::select(y <= kZero, kZero, dy); });
}

// With z = e^-|x| <= 1: 1 / (1 + z) for x >= 0, z / (1 + z) for x < 0.
Tensor sigmoid(Tape& tape, const Tensor& x) {
  return unary(
      tape, "sigmoid", x, 8,
      [](const Batch& v) {
        const Batch z = xsimd::exp(-xsimd::abs(v));
        return xsimd::select(v >= kZero, kOne, z) / (kOne + z);
      },
      [](const Batch& dy, const Batch&, const Batch& y) { return dy * (kOne - y) * y; });
}

Tensor abs(Tape& tape, const Tensor& x) {
  return unary(
      tape, "abs", x, 1, [](const Batch& v) { return xsimd::abs(v); },
      [](const Batch& dy, const Batch& v, const Batch&) {  // dx += dy sign(x), sign(0) = 0
        return xsimd::select(v > kZero, dy, xsimd::select(v < kZero, -dy, kZero));
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
