// The one place xsimd is included from, for the hand-vectorised loops (gather, softmax):
// GCC 12 reports false positives inside its AVX-512 intrinsics after inlining, silenced
// here only. Also the helpers that send a row's last, partial batch through the same vector
// code as the full ones: xsimd's exp and libm's differ in the last bit, so an element's bits
// must not depend on where a loop, a row or a thread's range ends.
#pragma once

#include <algorithm>
#include <cstddef>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop

namespace xgrad::simd {

// A vector of floats of the width the build targets (8 with AVX2).
using Batch = xsimd::batch<float>;
using Mask = xsimd::batch_bool<float>;
inline constexpr std::size_t kLanes = Batch::size;

// p[0, count) in the first lanes, `pad` in the others (count <= kLanes); reads nothing
// beyond p + count.
inline Batch load_padded(const float* p, std::size_t count, float pad = 0.0f) {
  if (count == kLanes) return Batch::load_unaligned(p);
  alignas(64) float lanes[kLanes];
  std::fill(lanes, lanes + kLanes, pad);
  std::copy(p, p + count, lanes);
  return Batch::load_aligned(lanes);
}

// The first `count` lanes of v into p[0, count) (count <= kLanes); writes nothing beyond.
inline void store_partial(const Batch& v, float* p, std::size_t count) {
  if (count == kLanes) return v.store_unaligned(p);
  alignas(64) float lanes[kLanes];
  v.store_aligned(lanes);
  std::copy(lanes, lanes + count, p);
}

// Lanes [0, count) set: for a row whose memory runs on past its last element, the partial
// batch is loaded whole and its extra lanes selected away, with no copy.
inline Mask first_lanes(std::size_t count) {
  static_assert(kLanes <= 16, "first_lanes' index table holds 16 lanes");
  alignas(64) static constexpr float kIndex[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                   8, 9, 10, 11, 12, 13, 14, 15};
  return Batch::load_aligned(kIndex) < Batch(static_cast<float>(count));
}

}  // namespace xgrad::simd
