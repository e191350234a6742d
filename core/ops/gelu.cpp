// gelu, GPT-2's tanh approximation, elementwise; the forward keeps t = tanh(...) of every
// element for the backward (one array of x's size: evaluating tanh again cost more than
// reading it back). Formulas as PyTorch's gelu(approximate='tanh') writes them. Not the exact
// erf gelu.
#include <algorithm>
#include <utility>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

using simd::Batch;
constexpr std::size_t kLanes = Batch::size;
constexpr float kBeta = 0.7978845608f;  // sqrt(2 / pi)
constexpr float kKappa = 0.044715f;

// Every element goes through the vector code, the last partial batch through a padded
// copy: xsimd's tanh and libm's differ in the last bit, and the batch holding a given
// element must not depend on where a thread's range starts.
Batch load(const float* p, std::size_t count) {
  if (count == kLanes) return Batch::load_unaligned(p);
  alignas(64) float padded[kLanes] = {};
  std::copy(p, p + count, padded);
  return Batch::load_aligned(padded);
}

void store(const Batch& v, float* p, std::size_t count) {
  if (count == kLanes) return v.store_unaligned(p);
  alignas(64) float padded[kLanes];
  v.store_aligned(padded);
  std::copy(padded, padded + count, p);
}

// t = tanh(beta (x + kappa x^3)).
Batch tanh_of(const Batch& x) {
  return xsimd::tanh(Batch(kBeta) * (x + Batch(kKappa) * (x * x * x)));
}

// y = x/2 * (1 + t).
Batch gelu_of(const Batch& x, const Batch& t) { return Batch(0.5f) * x * (Batch(1.0f) + t); }

// dy/dx = (1 + t)/2 + x/2 (1 - t^2) beta (1 + 3 kappa x^2).
Batch gelu_slope(const Batch& x, const Batch& t) {
  const Batch half(0.5f), one(1.0f), beta(kBeta), kappa(kKappa);
  const Batch x2 = x * x;
  return half * (one + t) + half * x * (one - t * t) * (beta * (one + Batch(3.0f) * kappa * x2));
}

}  // namespace

Tensor gelu(Tape& tape, const Tensor& x) {
  const std::size_t n = x.size();
  const std::size_t batches = (n + kLanes - 1) / kLanes;
  Array out = uninitialized_array(x.shape());
  // Kept only when a backward will run: an inference step writes no t.
  const bool keep = tape.needs_gradient(x);
  Array tanhs = keep ? uninitialized_array(x.shape()) : Array::from_shape(Array::shape_type{0});
  const float* xv = x.value().data();
  float* y = out.data();
  float* tv = keep ? tanhs.data() : nullptr;
  parallel::for_range(batches, 16 * n, [&](std::size_t first, std::size_t last) {
    for (std::size_t k = first; k < last; ++k) {
      const std::size_t i = k * kLanes, count = std::min(kLanes, n - i);
      const Batch xb = load(xv + i, count);
      const Batch t = tanh_of(xb);
      store(gelu_of(xb, t), y + i, count);
      if (tv) store(t, tv + i, count);
    }
  });

  // dX (+)= dY * gelu'(X), one pass over X, t and dY.
  auto backward = [x, n, batches, tanhs = std::move(tanhs)](const Array&, const Array& dy) {
    GradientTarget target(x);
    float* dx = target.data();
    if (!dx) return;
    const bool add = target.add();
    const float* xv = x.value().data();
    const float* tv = tanhs.data();
    const float* d = dy.data();
    parallel::for_range(batches, 8 * n, [&](std::size_t first, std::size_t last) {
      for (std::size_t k = first; k < last; ++k) {
        const std::size_t i = k * kLanes, count = std::min(kLanes, n - i);
        Batch v = load(d + i, count) * gelu_slope(load(xv + i, count), load(tv + i, count));
        if (add) v += load(dx + i, count);
        store(v, dx + i, count);
      }
    });
    target.commit();
  };
  return tape.record("gelu", {x}, std::move(out), std::move(backward));
}

}  // namespace xgrad
