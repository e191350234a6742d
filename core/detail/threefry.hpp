// The vectorised threefry2x32 behind core/init/random.cpp's draws, and the driver that
// splits a draw across xgrad's threads. Internal (core/detail is not installed): random.cpp,
// dropout and the tests use it. The scalar random::threefry2x32 stays the reference.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/init/random.hpp"

namespace xgrad::random::detail {

// uint32 lanes, as many as simd::Batch has floats (8 with AVX2), so a batch of words
// becomes a batch of floats by a bit cast.
using Words = xsimd::batch<std::uint32_t>;
static_assert(Words::size == simd::Batch::size, "a batch of words must bit-cast to a batch of floats");

// Words [first, first + count) of the partitionable layout: word i is y0 ^ y1 of
// threefry2x32(key, hi32(i), lo32(i)). Any first, so counters may cross 2^32.
void partitionable_words(const Key& key, std::uint64_t first, std::size_t count, std::uint32_t* out);

// Pairs [first, first + count) of the legacy layout of n words, m = ceil(n / 2): pair j
// hashes (j, j + m), or (j, 0) when j + m == n (odd n); y0 goes to words[k] (word j) and
// y1 to partners[k] (word j + m, unused for that last pair). Needs first + count <= m.
void legacy_pairs(const Key& key, std::uint64_t n, std::uint64_t first, std::size_t count,
                  std::uint32_t* words, std::uint32_t* partners);

// The number of words of a draw of `shape`, throwing what random_bits throws for it.
std::uint64_t word_count(const Shape& shape, Layout layout, const char* caller);

// uniform()'s value in [0, 1) from a word: the top 23 bits as a float in [1, 2), minus 1.
// (uniform's last step, fma(f, 1, 0) floored at 0, leaves it as it is.)
inline float unit_float(std::uint32_t w) {
  const std::uint32_t one_to_two = (w >> 9) | 0x3F800000u;
  float f;
  std::memcpy(&f, &one_to_two, sizeof f);
  return f - 1.0f;
}
inline simd::Batch unit_floats(const Words& w) {
  return xsimd::bitwise_cast<simd::Batch>((w >> 9) | Words(0x3F800000u)) - simd::Batch(1.0f);
}

// Words a block hands to the sink at most: small enough to stay in L1 next to the output.
inline constexpr std::size_t kBlockWords = 256;
// A word costs about as much as this many memory-bound float operations (parallel::kMinWork).
inline constexpr std::size_t kWorkPerWord = 8;

// sink(first, words, count) with words [first, first + count) of a draw of n words, for
// every word once, on xgrad's threads (so concurrently, on disjoint ranges). n comes from
// word_count. Each word depends only on its index and n, so the result does not depend on
// the thread count or on where the blocks are cut.
template <class Sink>
void draw_words(const Key& key, std::uint64_t n, Layout layout, Sink&& sink) {
  const bool legacy = layout == Layout::legacy;
  const std::uint64_t m = (n + 1) / 2;
  // The legacy layout is cut by pairs: pair j gives words j and j + m.
  const auto units = static_cast<std::size_t>(legacy ? m : n);
  parallel::for_range(units, units * kWorkPerWord, [&](std::size_t begin, std::size_t end) {
    std::uint32_t words[kBlockWords];
    std::uint32_t partners[kBlockWords];
    for (std::size_t i = begin; i < end; i += kBlockWords) {
      const std::size_t len = std::min(kBlockWords, end - i);
      if (!legacy) {
        partitionable_words(key, i, len, words);
        sink(std::size_t{i}, static_cast<const std::uint32_t*>(words), len);
        continue;
      }
      legacy_pairs(key, n, i, len, words, partners);
      sink(std::size_t{i}, static_cast<const std::uint32_t*>(words), len);
      // i + m <= n for every pair; the odd n's last pair has no partner word.
      const auto real_partners = static_cast<std::size_t>(std::min<std::uint64_t>(len, n - (i + m)));
      if (real_partners > 0) {
        sink(static_cast<std::size_t>(i + m), static_cast<const std::uint32_t*>(partners), real_partners);
      }
    }
  });
}

}  // namespace xgrad::random::detail
