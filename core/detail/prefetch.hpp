// Software prefetch of random table rows, and when it pays, for the gather, the sparse
// SGD update and the scatter's slot lookups. Not a general memory API.
#pragma once

#include <cstddef>

namespace xgrad::prefetch {

// Rows (or tokens) ahead of use at which to ask for the next row: the distance that ran
// best for D = 64..256 in the gather and scatter benchmarks.
inline constexpr std::size_t kDistance = 8;

// Asks for the cache lines of `bytes` bytes at `p`; for_write when they will be written.
inline void row(const void* p, std::size_t bytes, bool for_write = false) {
  const char* c = static_cast<const char*>(p);
  for (std::size_t k = 0; k < bytes; k += 64) {
    if (for_write) {
      __builtin_prefetch(c + k, 1);
    } else {
      __builtin_prefetch(c + k, 0);
    }
  }
}

// Whether prefetching pays for `rows` random rows of `width` floats: it pays for wide rows
// or long batches, but costs time on short batches of narrow rows, whose misses are TLB
// misses that a prefetch does not hide (see bench/RESULTS.md).
inline bool pays(std::size_t rows, std::size_t width) { return width >= 128 || rows >= 2048; }

}  // namespace xgrad::prefetch
