// Inverted dropout with a mask drawn from jax.random.uniform (core/init/random.hpp), so a
// seeded run repeats bit for bit. The forward keeps the mask, one bool per element, for the
// backward instead of drawing it again. Not a source of randomness of its own: the key is
// the caller's.
#include <memory>
#include <stdexcept>
#include <string>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"
#include "core/ops/gradient_target.hpp"

namespace xgrad {
namespace {

using simd::Batch;
using Kept = xsimd::batch_bool<float>;
constexpr std::size_t kLanes = Batch::size;

}  // namespace

// Y = mask ? X / keep : 0, mask = uniform(key, X.shape) < keep, keep = 1 - rate: Flax's
// nn.Dropout (jax.random.bernoulli(key, keep) is uniform < keep), so the same key drops the
// same elements as the Flax twin.
Tensor dropout(Tape& tape, const Tensor& x, float rate, const random::Key& key) {
  if (!(rate >= 0.0f && rate < 1.0f)) {
    throw std::invalid_argument("dropout: rate must be in [0, 1) (got " + std::to_string(rate) +
                                ")");
  }
  if (rate == 0.0f || tape.mode() == Tape::Mode::inference) return x;
  const std::size_t n = x.size();
  const float keep = 1.0f - rate;
  const Array u = random::uniform(key, x.shape());
  // bool, not a byte type, so that xsimd stores and loads a batch's mask directly.
  std::shared_ptr<bool[]> mask(tape.needs_gradient(x) ? new bool[n] : nullptr);
  Array out = uninitialized_array(x.shape());
  const float* uv = u.data();
  const float* xv = x.value().data();
  float* y = out.data();
  bool* m = mask.get();
  // A select, not a product with the mask, as Flax writes it: a dropped inf or NaN gives 0.
  // Division and comparison round the same in a vector as alone, so the scalar tail of a
  // thread's range gives the same bits as the vector loop would.
  parallel::for_range(n, n, [&](std::size_t first, std::size_t last) {
    const Batch keep_b(keep), zero(0.0f);
    std::size_t i = first;
    for (; i + kLanes <= last; i += kLanes) {
      const Kept kept = Batch::load_unaligned(uv + i) < keep_b;
      xsimd::select(kept, Batch::load_unaligned(xv + i) / keep_b, zero).store_unaligned(y + i);
      if (m) kept.store_unaligned(m + i);
    }
    for (; i < last; ++i) {
      const bool kept = uv[i] < keep;
      y[i] = kept ? xv[i] / keep : 0.0f;
      if (m) m[i] = kept;
    }
  });

  // dX (+)= mask ? dY / (1 - rate) : 0.
  auto backward = [x, keep, n, mask = std::move(mask)](const Array&, const Array& dy) {
    ops_detail::GradientTarget target(x);
    float* dx = target.data();
    if (!dx) return;
    const bool add = target.add();
    const float* d = dy.data();
    const bool* m = mask.get();
    parallel::for_range(n, n, [&](std::size_t first, std::size_t last) {
      const Batch keep_b(keep), zero(0.0f);
      std::size_t i = first;
      for (; i + kLanes <= last; i += kLanes) {
        Batch v = xsimd::select(Kept::load_unaligned(m + i), Batch::load_unaligned(d + i) / keep_b,
                                zero);
        if (add) v += Batch::load_unaligned(dx + i);
        v.store_unaligned(dx + i);
      }
      for (; i < last; ++i) {
        const float v = m[i] ? d[i] / keep : 0.0f;
        dx[i] = add ? dx[i] + v : v;
      }
    });
    target.commit();
  };
  return tape.record("dropout", {x}, std::move(out), std::move(backward));
}

}  // namespace xgrad
