// Specification of blocked products: the output of a large product is cut into blocks fixed
// by its shape, the blocks (transposed operands and accumulated gradients included) add up
// to the right product, and 2 threads give the same bits as 1.
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "core/detail/gemm_blocks.hpp"
#include "core/detail/parallel.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using gemm_blocks::blocks_for;
using testing::bit_equal;
using testing::hashed_values;

namespace {

// x (rows, inner) @ w (inner, cols), or @ w^T with w (cols, inner).
struct Product {
  bool transposed;
  std::size_t rows, inner, cols;
};

// Each shape cuts all three of its products (X@W, dX, dW) into blocks, in different ways,
// with M and N not multiples of any block size.
const Product kProducts[] = {
    {false, 2100, 70, 300},   // X@W, dY@W^T: 8 row blocks; X^T@dY: 2 column blocks
    {true, 2100, 40, 300},    // X@W^T, dY@W: 8 row blocks; dY^T@X: 2 row blocks of a stored dY^T
    {false, 200, 64, 1000},   // X@W: 2 column blocks; dY@W^T: 2 row blocks; X^T@dY: 2 column blocks
    {true, 200, 64, 1000},    // X@W^T: 2 column blocks of a stored W^T; dY^T@X: 2 row blocks
};

struct Results {
  Array out, dx, dw;
};

// Forward and two backward passes over separate tapes: the second accumulates (beta = 1), so
// the gradients are twice one pass's.
Results run(const Product& p) {
  const Tensor x(hashed_values({p.rows, p.inner}, 1), true);
  const Shape w_shape = p.transposed ? Shape{p.cols, p.inner} : Shape{p.inner, p.cols};
  const Tensor w(hashed_values(w_shape, 2), true);
  const Array seed = hashed_values({p.rows, p.cols}, 3);
  Results r;
  for (int pass = 0; pass < 2; ++pass) {
    Tape tape;
    const Tensor y = p.transposed ? matmul_transposed(tape, x, w) : matmul(tape, x, w);
    tape.backward(y, seed);
    r.out = y.value();
  }
  r.dx = x.grad().dense();
  r.dw = w.grad().dense();
  return r;
}

// A strided operand of the double-precision reference: element (i, l) is data[i * row + l * col].
struct Strided {
  const float* data;
  std::size_t row, col;
  double operator()(std::size_t i, std::size_t l) const { return data[i * row + l * col]; }
};

// Largest |got - scale * A@B| over the element's tolerance, 2e-6 * scale * sum |A(i,l) B(l,j)|
// (float rounding of the sum is far below that; a block at a wrong offset is far above it).
double worst_error(const Array& got, double scale, Strided a, Strided b, std::size_t m,
                   std::size_t n, std::size_t k) {
  REQUIRE(got.size() == m * n);
  double worst = 0.0;
  std::vector<double> sum(n), magnitude(n);
  for (std::size_t i = 0; i < m; ++i) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(magnitude.begin(), magnitude.end(), 0.0);
    for (std::size_t l = 0; l < k; ++l) {
      const double a_il = a(i, l);
      for (std::size_t j = 0; j < n; ++j) {
        sum[j] += a_il * b(l, j);
        magnitude[j] += std::fabs(a_il * b(l, j));
      }
    }
    for (std::size_t j = 0; j < n; ++j) {
      const double error = std::fabs(got.data()[i * n + j] - scale * sum[j]);
      worst = std::max(worst, error / (2e-6 * scale * magnitude[j] + 1e-30));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("Products are cut into blocks fixed by their shape", "[core][ops][matmul]") {
  // The bigram LM (T=4096, D=64, V=5000): tall outputs by rows of 256, the wide dW in two.
  for (const auto& tall : {blocks_for(4096, 5000, 64), blocks_for(4096, 64, 5000)}) {
    CHECK(tall.by_rows);
    CHECK(tall.count == 16);
    CHECK(tall.edge(1) == 256);
  }
  const gemm_blocks::Blocks wide = blocks_for(64, 5000, 4096);
  CHECK_FALSE(wide.by_rows);
  CHECK(wide.count == 2);
  CHECK(wide.edge(1) == 2496);
  // The example MLP: its ~100 us products in two, its ~20 us ones whole.
  CHECK(blocks_for(128, 256, 192).count == 2);
  CHECK(blocks_for(128, 192, 48).count == 1);
  // The shapes the tests below use are cut, all three products of each.
  for (const Product& p : kProducts) {
    INFO("x (" << p.rows << ", " << p.inner << "), w with " << p.cols << " outputs");
    CHECK(blocks_for(p.rows, p.cols, p.inner).count >= 2);
    CHECK(blocks_for(p.rows, p.inner, p.cols).count >= 2);
    const std::size_t w_rows = p.transposed ? p.cols : p.inner;
    CHECK(blocks_for(w_rows, p.transposed ? p.inner : p.cols, p.rows).count >= 2);
  }
}

TEST_CASE("Blocks cover the output once, in a power-of-two count with tile-aligned inner edges",
          "[core][ops][matmul]") {
  const std::size_t sizes[] = {1, 17, 31, 32, 33, 100, 511, 512, 513, 1000, 4097, 70000};
  for (std::size_t m : sizes) {
    for (std::size_t n : sizes) {
      for (std::size_t k : {std::size_t{1}, std::size_t{64}, std::size_t{5000}}) {
        const gemm_blocks::Blocks b = blocks_for(m, n, k);
        INFO("M " << m << ", N " << n << ", K " << k);
        CHECK(b.length == (b.by_rows ? m : n));
        CHECK((b.count & (b.count - 1)) == 0);
        CHECK(b.edge(0) == 0);
        CHECK(b.edge(b.count) == b.length);
        for (std::size_t i = 0; i < b.count; ++i) {
          CHECK(b.edge(i) < b.edge(i + 1));
          if (i > 0) CHECK(b.edge(i) % gemm_blocks::kTile == 0);
        }
      }
    }
  }
}

TEST_CASE("Blocked products and their accumulated gradients match a double-precision reference",
          "[core][ops][matmul]") {
  for (const Product& p : kProducts) {
    INFO((p.transposed ? "matmul_transposed" : "matmul") << ": x (" << p.rows << ", " << p.inner
                                                          << "), w with " << p.cols << " outputs");
    const Results r = run(p);
    const Array x = hashed_values({p.rows, p.inner}, 1);
    const Array w = hashed_values(p.transposed ? Shape{p.cols, p.inner} : Shape{p.inner, p.cols}, 2);
    const Array seed = hashed_values({p.rows, p.cols}, 3);
    const std::size_t m = p.rows, k = p.inner, n = p.cols;
    // W(k, j) as stored, and read the other way round for dY @ W^T.
    const Strided w_kj = p.transposed ? Strided{w.data(), 1, k} : Strided{w.data(), n, 1};
    const Strided w_jk = p.transposed ? Strided{w.data(), k, 1} : Strided{w.data(), 1, n};
    CHECK(worst_error(r.out, 1.0, {x.data(), k, 1}, w_kj, m, n, k) <= 1.0);  // X @ W
    CHECK(worst_error(r.dx, 2.0, {seed.data(), n, 1}, w_jk, m, k, n) <= 1.0);  // dY @ W^T
    if (p.transposed) {
      CHECK(worst_error(r.dw, 2.0, {seed.data(), 1, n}, {x.data(), k, 1}, n, k, m) <= 1.0);  // dY^T @ X
    } else {
      CHECK(worst_error(r.dw, 2.0, {x.data(), 1, k}, {seed.data(), n, 1}, k, n, m) <= 1.0);  // X^T @ dY
    }
  }
}

TEST_CASE("Blocked products and their gradients are bit-identical with 1 and 2 threads",
          "[core][ops][matmul][threads]") {
  for (const Product& p : kProducts) {
    INFO((p.transposed ? "matmul_transposed" : "matmul") << ": x (" << p.rows << ", " << p.inner
                                                          << "), w with " << p.cols << " outputs");
    set_num_threads(1);
    const Results one = run(p);
    set_num_threads(2);
    const std::size_t regions_before = parallel_regions_run();
    const Results two = run(p);
    const std::size_t regions = parallel_regions_run() - regions_before;
    set_num_threads(1);
    CHECK(regions >= 6);  // two passes of three products, each split between the threads
    CHECK(bit_equal(one.out, two.out));
    CHECK(bit_equal(one.dx, two.dx));
    CHECK(bit_equal(one.dw, two.dw));
  }
}
