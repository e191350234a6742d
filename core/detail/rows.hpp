// Reductions over one contiguous row of floats, shared by softmax, log_softmax and the
// softmax cross-entropy: one function, so the three ops take a row's maximum and its sum of
// exponentials with the same bits. Internal to core/ops/.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "core/detail/simd.hpp"

namespace xgrad::rows {

// max of x[0, n); -inf for n = 0.
inline float max_of(const float* x, std::size_t n) {
  using simd::Batch, simd::kLanes;
  float m = -std::numeric_limits<float>::infinity();
  std::size_t i = 0;
  if (n >= kLanes) {
    Batch lanes = Batch::load_unaligned(x);
    for (i = kLanes; i + kLanes <= n; i += kLanes) lanes = xsimd::max(lanes, Batch::load_unaligned(x + i));
    alignas(64) float spill[kLanes];
    lanes.store_aligned(spill);
    for (float v : spill) m = std::max(m, v);  // std::max keeps m over a NaN lane
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// sum of exp(x[i] - m) over x[0, n), in kLanes float lanes then the tail; the terms are also
// written to e[0, n) unless e is null.
inline float exp_sum(const float* x, float m, float* e, std::size_t n) {
  using simd::Batch, simd::kLanes;
  const Batch shift(m);
  Batch lanes(0.0f);
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const Batch v = xsimd::exp(Batch::load_unaligned(x + i) - shift);
    if (e) v.store_unaligned(e + i);
    lanes += v;
  }
  float s = xsimd::hadd(lanes);
  for (; i < n; ++i) {
    const float v = std::exp(x[i] - m);
    if (e) e[i] = v;
    s += v;
  }
  return s;
}

}  // namespace xgrad::rows
