// Matrix products through OpenBLAS sgemm, into preallocated outputs, cut into fixed blocks
// of the output that xgrad's threads share (core/ops/gemm_blocks.hpp), and linear, the
// product with a bias added in the same pass.
// Shapes: x (..., K) flattened to X (M, K); w (K, N) or, transposed, (N, K); b (N,);
// out (..., N).
#include <cblas.h>

#include <algorithm>
#include <limits>

#include "core/detail/gemm_blocks.hpp"
#include "core/detail/parallel.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

// C (M, N) = op(A) @ op(B) + beta * C on row-major buffers; op(A) is (M, K), op(B) is (K, N).
struct Gemm {
  const float* a;
  std::size_t lda;
  bool transpose_a;
  const float* b;
  std::size_t ldb;
  bool transpose_b;
  float* c;
  std::size_t m, n, k;
  float beta;

  // Rows [first, last) of C: rows of op(A), which are columns of a stored A^T (K, M).
  void rows(std::size_t first, std::size_t last) const {
    sgemm(transpose_a ? a + first : a + first * lda, b, c + first * n, last - first, n);
  }
  // Columns [first, last) of C: columns of op(B), which are rows of a stored B^T (N, K).
  void cols(std::size_t first, std::size_t last) const {
    sgemm(a, transpose_b ? b + first * ldb : b + first, c + first, m, last - first);
  }
  // Always the full K: splitting the sum would change its rounding.
  void sgemm(const float* a_part, const float* b_part, float* c_part, std::size_t rows,
             std::size_t cols) const {
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                transpose_b ? CblasTrans : CblasNoTrans, blas_int(rows), blas_int(cols), blas_int(k),
                1.0f, a_part, blas_int(lda), b_part, blas_int(ldb), beta, c_part, blas_int(n));
  }
  // product_shape has checked that every size fits.
  static blasint blas_int(std::size_t n) { return static_cast<blasint>(n); }
};

// C (M, N) = op(A) @ op(B) + beta * C, A stored (a_rows, a_cols) and B (b_rows, b_cols).
// The same blocks in the same calls whatever the thread count; threads only share them out.
void gemm(const float* a, std::size_t a_rows, std::size_t a_cols, bool transpose_a,
          const float* b, std::size_t b_rows, std::size_t b_cols, bool transpose_b, float* c,
          float beta) {
  const Gemm g{a, a_cols, transpose_a, b, b_cols, transpose_b, c,
               transpose_a ? a_cols : a_rows, transpose_b ? b_rows : b_cols,
               transpose_a ? a_rows : a_cols, beta};
  parallel::keep_blas_single_threaded();  // OpenBLAS's own threads would change the bits
  const gemm_blocks::Blocks blocks = gemm_blocks::blocks_for(g.m, g.n, g.k);
  // About 16 cached multiply-adds per unit of kMinWork's memory-bound work: a product cut in
  // blocks has at least 2^21 of them, enough to wake a worker for.
  const std::size_t work = g.m * g.n * g.k / 16;
  parallel::for_range(blocks.count, work, [&](std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) {
      if (blocks.by_rows) {
        g.rows(blocks.edge(i), blocks.edge(i + 1));
      } else {
        g.cols(blocks.edge(i), blocks.edge(i + 1));
      }
    }
  });
}

struct ProductShape {
  std::size_t rows;   // M: every leading index of x
  std::size_t inner;  // K
  std::size_t cols;   // N
  Shape out;
};

// Checks x (..., K) against w and works out M, K, N; w is (K, N), or (N, K) when transposed.
ProductShape product_shape(const char* op, const Tensor& x, const Tensor& w, bool transpose_w) {
  const Shape xs = x.shape();
  const Shape ws = w.shape();
  require_shape(!xs.empty(), op, "x must have at least one axis", xs);
  require_shape(ws.size() == 2, op, "w must be a matrix", ws);
  const std::size_t inner = xs.back();
  const std::size_t w_inner = transpose_w ? ws[1] : ws[0];
  if (inner != w_inner) {
    throw ShapeError(std::string(op) + ": inner dimensions differ: x is " + shape_string(xs) +
                     ", w is " + shape_string(ws));
  }
  ProductShape p{x.size() / (inner ? inner : 1), inner, transpose_w ? ws[0] : ws[1], xs};
  // BLAS rejects zero leading dimensions; an empty product is almost surely a caller's bug.
  if (p.rows == 0 || p.inner == 0 || p.cols == 0) {
    throw ShapeError(std::string(op) + ": empty operand: x is " + shape_string(xs) + ", w is " +
                     shape_string(ws));
  }
  const auto int_max = static_cast<std::size_t>(std::numeric_limits<int>::max());
  if (std::max({p.rows, p.inner, p.cols}) > int_max) {  // cblas_sgemm takes int sizes
    throw ShapeError(std::string(op) + ": a dimension exceeds BLAS's int: x is " + shape_string(xs) +
                     ", w is " + shape_string(ws));
  }
  p.out.back() = p.cols;
  return p;
}

// grad(target) += op(A) @ op(B) through gemm: into a fresh array (beta = 0) that becomes
// the gradient when it held nothing, else straight into it (beta = 1).
void accumulate_product(const Tensor& target, const float* a, std::size_t a_rows,
                        std::size_t a_cols, bool transpose_a, const float* b, std::size_t b_rows,
                        std::size_t b_cols, bool transpose_b) {
  if (!target.requires_grad()) return;
  Gradient& grad = target.mutable_grad();
  if (grad.empty()) {
    Array fresh = uninitialized_array(target.shape());
    gemm(a, a_rows, a_cols, transpose_a, b, b_rows, b_cols, transpose_b, fresh.data(), 0.0f);
    grad.add(std::move(fresh));
  } else {
    gemm(a, a_rows, a_cols, transpose_a, b, b_rows, b_cols, transpose_b,
         grad.dense_buffer().data(), 1.0f);
  }
}

Tensor product(Tape& tape, const char* op, const Tensor& x, const Tensor& w, bool transpose_w) {
  const ProductShape p = product_shape(op, x, w, transpose_w);
  const Shape ws = w.shape();
  Array out = uninitialized_array(p.out);
  gemm(x.value().data(), p.rows, p.inner, false, w.value().data(), ws[0], ws[1], transpose_w,
       out.data(), 0.0f);

  auto backward = [x, w, p, ws, transpose_w](const Array&, const Array& dy) {
    // dX (M, K) += dY (M, N) @ W^T, or @ W when W is stored (N, K).
    accumulate_product(x, dy.data(), p.rows, p.cols, false, w.value().data(), ws[0], ws[1],
                       !transpose_w);
    if (transpose_w) {  // dW (N, K) += dY^T @ X
      accumulate_product(w, dy.data(), p.rows, p.cols, true, x.value().data(), p.rows, p.inner,
                         false);
    } else {  // dW (K, N) += X^T @ dY
      accumulate_product(w, x.value().data(), p.rows, p.inner, true, dy.data(), p.rows, p.cols,
                         false);
    }
  };
  return tape.record(op, {x, w}, std::move(out), std::move(backward));
}

}  // namespace

Tensor matmul(Tape& tape, const Tensor& x, const Tensor& w) {
  return product(tape, "matmul", x, w, false);
}

Tensor matmul_transposed(Tape& tape, const Tensor& x, const Tensor& w) {
  return product(tape, "matmul_transposed", x, w, true);
}

// Y (M, N) = b in every row, then += X @ W by sgemm with beta = 1: no zero-filling pass in
// OpenBLAS and no second pass over Y for the bias. The bits can differ from matmul then
// add_bias in the last place: when OpenBLAS splits K into blocks it adds each block's
// partial sum to C in turn, so here the bias joins the first partial sum instead of the
// finished one (with K in one block, both round b + X @ W once).
Tensor linear(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& b) {
  const ProductShape p = product_shape("linear", x, w, false);
  const Shape bs = b.shape();
  if (bs.size() != 1 || bs[0] != p.cols) {
    throw ShapeError("linear: bias must be (N,) for w (K, N): w is " + shape_string(w.shape()) +
                     ", bias is " + shape_string(bs));
  }
  Array out = uninitialized_array(p.out);
  const float* bv = b.value().data();
  float* y = out.data();
  parallel::for_range(p.rows, p.rows * p.cols, [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) std::copy(bv, bv + p.cols, y + r * p.cols);
  });
  gemm(x.value().data(), p.rows, p.inner, false, w.value().data(), p.inner, p.cols, false, y,
       1.0f);

  auto backward = [x, w, b, p](const Array&, const Array& dy) {
    // dX (M, K) += dY (M, N) @ W^T, dW (K, N) += X^T @ dY.
    accumulate_product(x, dy.data(), p.rows, p.cols, false, w.value().data(), p.inner, p.cols,
                       true);
    accumulate_product(w, x.value().data(), p.rows, p.inner, true, dy.data(), p.rows, p.cols,
                       false);
    if (!b.requires_grad()) return;
    // db[j] += sum_r dY[r, j]: columns split across threads, each summing its rows in order
    // from zero (as add_bias does), so the bits do not depend on the thread count.
    Array db = zeros_array({p.cols});
    float* sums = db.data();
    const float* d = dy.data();
    parallel::for_range(p.cols, p.rows * p.cols, [&](std::size_t first, std::size_t last) {
      for (std::size_t r = 0; r < p.rows; ++r) {
        const float* dy_row = d + r * p.cols;
        for (std::size_t j = first; j < last; ++j) sums[j] += dy_row[j];
      }
    });
    accumulate_grad(b, db);
  };
  return tape.record("linear", {x, w, b}, std::move(out), std::move(backward));
}

}  // namespace xgrad
