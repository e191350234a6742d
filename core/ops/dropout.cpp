// Inverted dropout with a mask drawn from jax.random.uniform (core/init/random.hpp), so a
// seeded run repeats bit for bit. The forward keeps the mask, one byte per element, for the
// backward instead of drawing it again. Not a source of randomness of its own: the key is
// the caller's.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/detail/parallel.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"
#include "core/ops/gradient_target.hpp"

namespace xgrad {

// Y = mask ? X / (1 - rate) : 0, mask = uniform(key, X.shape) >= rate.
Tensor dropout(Tape& tape, const Tensor& x, float rate, const random::Key& key) {
  if (!(rate >= 0.0f && rate < 1.0f)) {
    throw std::invalid_argument("dropout: rate must be in [0, 1) (got " + std::to_string(rate) +
                                ")");
  }
  if (rate == 0.0f || tape.mode() == Tape::Mode::inference) return x;
  const std::size_t n = x.size();
  const float keep = 1.0f - rate;
  const Array u = random::uniform(key, x.shape());
  // A select, not a product with 0, as Flax writes it: a dropped inf or NaN gives 0.
  std::vector<std::uint8_t> mask(tape.needs_gradient(x) ? n : 0);
  Array out = uninitialized_array(x.shape());
  const float* uv = u.data();
  const float* xv = x.value().data();
  float* y = out.data();
  std::uint8_t* m = mask.empty() ? nullptr : mask.data();
  parallel::for_range(n, n, [&](std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) {
      const bool kept = uv[i] >= rate;
      y[i] = kept ? xv[i] / keep : 0.0f;
      if (m) m[i] = kept;
    }
  });

  // dX (+)= mask ? dY / (1 - rate) : 0.
  auto backward = [x, keep, mask = std::move(mask)](const Array&, const Array& dy) {
    ops_detail::GradientTarget target(x);
    float* dx = target.data();
    if (!dx) return;
    const bool add = target.add();
    const float* d = dy.data();
    const std::uint8_t* m = mask.data();
    parallel::for_range(mask.size(), mask.size(), [&](std::size_t first, std::size_t last) {
      for (std::size_t i = first; i < last; ++i) {
        const float v = m[i] ? d[i] / keep : 0.0f;
        dx[i] = add ? dx[i] + v : v;
      }
    });
    target.commit();
  };
  return tape.record("dropout", {x}, std::move(out), std::move(backward));
}

}  // namespace xgrad
