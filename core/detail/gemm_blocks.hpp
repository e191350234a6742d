// How a matrix product's output C (M, N) is cut into blocks that threads share. The cut
// depends on the shape alone, never on the thread count: every thread count then makes the
// same sgemm calls on the same sub-problems and gets the same bits. Internal to core/ops/.
#pragma once

#include <algorithm>
#include <cstddef>

namespace xgrad::gemm_blocks {

// A product with fewer multiply-adds than two blocks of this stays whole: smaller blocks
// cost more in waking a thread than they save.
inline constexpr std::size_t kMinBlockMacs = std::size_t{1} << 20;
// Rows per block of a tall C: the block size that ran best in the bigram LM's products
// (bench/RESULTS.md), a little faster than the whole product even at one thread.
inline constexpr std::size_t kRowBlock = 256;
// Inner block edges fall on multiples of sgemm's kernel tile.
inline constexpr std::size_t kTile = 16;

// `count` blocks of C's rows (by_rows) or columns; block i is [edge(i), edge(i + 1)).
struct Blocks {
  bool by_rows = true;
  std::size_t count = 1;
  std::size_t length = 0;  // M when by rows, else N

  std::size_t edge(std::size_t i) const {
    return i == count ? length : i * length / count / kTile * kTile;
  }
};

inline std::size_t floor_power_of_two(std::size_t n) {
  std::size_t p = 1;
  while (p <= n / 2) p *= 2;
  return p;
}

// A tall C (M >= 512) goes in row blocks of about kRowBlock rows, a power-of-two count of them
// so that two threads get equal halves. Anything else goes in two blocks along C's longer side:
// more, narrower column blocks ran slower than the whole product.
inline Blocks blocks_for(std::size_t m, std::size_t n, std::size_t k) {
  // m*n, m*k and n*k are sizes of arrays in memory, so m*n*k cannot overflow.
  const std::size_t most = m * n * k / kMinBlockMacs;
  if (most < 2) return {true, 1, m};
  if (m >= 2 * kRowBlock) return {true, floor_power_of_two(std::min(m / kRowBlock, most)), m};
  const bool by_rows = m >= n;
  const std::size_t length = by_rows ? m : n;
  if (length < 2 * kTile) return {true, 1, m};
  return {by_rows, 2, length};
}

}  // namespace xgrad::gemm_blocks
