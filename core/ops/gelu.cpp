// gelu, GPT-2's tanh approximation, elementwise. With u = beta (x + kappa x^3), the identity
// (1 + tanh(u)) / 2 = sigmoid(2u) = 1 / (1 + e^(-2u)) gives y = x s, s = sigmoid(2u): one exp
// and one division per element, where tanh costs an exp, a division and a polynomial with a
// select; and no cancellation near t = -1. The forward keeps s of every element for the
// backward (one array of x's size: evaluating it again cost more than reading it back).
// Not the exact erf gelu.
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
constexpr float kBeta = 0.7978845608f;  // sqrt(2 / pi)
constexpr float kKappa = 0.044715f;

// s = sigmoid(2 beta (x + kappa x^3)) = (1 + tanh(beta (x + kappa x^3))) / 2. For x -> -inf
// the exp overflows to inf and s is 0, as the limit.
Batch sigmoid_of(const Batch& x) {
  const Batch minus_two_u = Batch(-2.0f * kBeta) * (x + Batch(kKappa) * (x * x * x));
  return Batch(1.0f) / (Batch(1.0f) + xsimd::exp(minus_two_u));
}

// dy/dx = s + x s (1 - s) 2 beta (1 + 3 kappa x^2): (1 + t)/2 + x/2 (1 - t^2) beta (1 + 3 kappa
// x^2) with (1 + t) = 2 s and (1 - t^2) = 4 s (1 - s).
Batch gelu_slope(const Batch& x, const Batch& s) {
  const Batch one(1.0f);
  const Batch x2 = x * x;
  return s + x * s * (one - s) * (Batch(2.0f * kBeta) * (one + Batch(3.0f * kKappa) * x2));
}

}  // namespace

Tensor gelu(Tape& tape, const Tensor& x) {
  const std::size_t n = x.size();
  const std::size_t batches = (n + kLanes - 1) / kLanes;
  Array out = uninitialized_array(x.shape());
  // Kept only when a backward will run: an inference step writes no s.
  const bool keep = tape.needs_gradient(x);
  Array sigmoids = keep ? uninitialized_array(x.shape()) : Array::from_shape(Array::shape_type{0});
  const float* xv = x.value().data();
  float* y = out.data();
  float* sv = keep ? sigmoids.data() : nullptr;
  parallel::for_range(batches, 16 * n, [&](std::size_t first, std::size_t last) {
    for (std::size_t k = first; k < last; ++k) {
      const std::size_t i = k * kLanes, count = std::min(kLanes, n - i);
      const Batch xb = load_padded(xv + i, count);
      const Batch sb = sigmoid_of(xb);
      store_partial(xb * sb, y + i, count);
      if (sv) store_partial(sb, sv + i, count);
    }
  });

  // dX (+)= dY * gelu'(X), one pass over X, s and dY.
  auto backward = [x, n, batches, sigmoids = std::move(sigmoids)](const Array&, const Array& dy) {
    GradientTarget target(x);
    float* dx = target.data();
    if (!dx) return;
    const bool add = target.add();
    const float* xv = x.value().data();
    const float* sv = sigmoids.data();
    const float* d = dy.data();
    parallel::for_range(batches, 8 * n, [&](std::size_t first, std::size_t last) {
      for (std::size_t k = first; k < last; ++k) {
        const std::size_t i = k * kLanes, count = std::min(kLanes, n - i);
        Batch v = load_padded(d + i, count) *
                  gelu_slope(load_padded(xv + i, count), load_padded(sv + i, count));
        if (add) v += load_padded(dx + i, count);
        store_partial(v, dx + i, count);
      }
    });
    target.commit();
  };
  return tape.record("gelu", {x}, std::move(out), std::move(backward));
}

}  // namespace xgrad
