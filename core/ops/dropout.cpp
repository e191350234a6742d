// Inverted dropout with a mask drawn from jax.random.uniform (core/init/random.hpp), so a
// seeded run repeats bit for bit. The forward draws the words block by block and compares
// uniform's float of each with 1 - rate where it writes the output (no float array of
// uniforms), and keeps the mask, one bool per element, for the backward instead of drawing
// it again. Not a source of randomness of its own: the key is the caller's.
#include <memory>
#include <stdexcept>
#include <string>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/detail/threefry.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

using random::detail::Words;
using simd::Batch;
using Kept = xsimd::batch_bool<float>;
using simd::kLanes;

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
  const random::Layout layout = random::default_layout();  // the one uniform(key, shape) uses
  const std::uint64_t words = random::detail::word_count(x.shape(), layout, "dropout");
  // bool, not a byte type, so that xsimd stores and loads a batch's mask directly.
  std::shared_ptr<bool[]> mask(tape.needs_gradient(x) ? new bool[n] : nullptr);
  Array out = uninitialized_array(x.shape());
  const float* xv = x.value().data();
  float* y = out.data();
  bool* m = mask.get();
  // u is uniform(key, shape)'s element: with minval 0 and maxval 1 its last step,
  // fma(f, 1, 0) floored at 0, is f itself. A select, not a product with the mask, as Flax
  // writes it: a dropped inf or NaN gives 0. Subtraction, division and comparison round
  // the same in a vector as alone, so a block's scalar tail gives the vector loop's bits.
  auto block = [&](std::size_t first, const std::uint32_t* w, std::size_t count) {
    const Batch keep_b(keep), zero(0.0f);
    const float* xs = xv + first;
    float* ys = y + first;
    bool* ms = m ? m + first : nullptr;
    std::size_t k = 0;
    for (; k + kLanes <= count; k += kLanes) {
      const Kept kept = random::detail::unit_floats(Words::load_unaligned(w + k)) < keep_b;
      xsimd::select(kept, Batch::load_unaligned(xs + k) / keep_b, zero).store_unaligned(ys + k);
      if (ms) kept.store_unaligned(ms + k);
    }
    for (; k < count; ++k) {
      const bool kept = random::detail::unit_float(w[k]) < keep;
      ys[k] = kept ? xs[k] / keep : 0.0f;
      if (ms) ms[k] = kept;
    }
  };
  random::detail::draw_words(key, words, layout, block);

  // dX (+)= mask ? dY / (1 - rate) : 0.
  auto backward = [x, keep, n, mask = std::move(mask)](const Array&, const Array& dy) {
    GradientTarget target(x);
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
