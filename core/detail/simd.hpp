// The one place xsimd is included from, for the hand-vectorised loops (gather, softmax):
// GCC 12 reports false positives inside its AVX-512 intrinsics after inlining, silenced
// here only.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop

namespace xgrad::simd {

// A vector of floats of the width the build targets (8 with AVX2).
using Batch = xsimd::batch<float>;

}  // namespace xgrad::simd
