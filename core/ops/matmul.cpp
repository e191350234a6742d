// Matrix products through OpenBLAS sgemm, into preallocated outputs, cut into fixed blocks
// of the output that xgrad's threads share (core/detail/gemm_blocks.hpp), and linear, the
// product with a bias added in the same pass.
// Shapes: x (..., K) flattened to X (M, K); w (K, N) or, transposed, (N, K); b (N,);
// out (..., N). Batched (w with batch axes): x (..., M, K), w (..., K, N) or (..., N, K),
// batch axes broadcast, out (..., M, N), one sgemm per output matrix.
#include <cblas.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "core/broadcasting.hpp"
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

// x's leading axes flattened into rows, w one matrix stored (K, N), or (N, K) when transposed.
Tensor product(Tape& tape, const char* op, const Tensor& x, const Tensor& w, const ProductShape& p,
               bool transpose_w) {
  const Shape ws = transpose_w ? Shape{p.cols, p.inner} : Shape{p.inner, p.cols};
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

// One operand of a batched product: matrix i of it starts at data + i * rows * cols and is
// stored (rows, cols), read transposed or not; index[p] is the matrix that term p reads.
struct Stack {
  const float* data;
  const std::vector<std::size_t>& index;
  std::size_t rows, cols;
  bool transpose;

  const float* matrix(std::size_t p) const { return data + index[p] * rows * cols; }
  std::size_t op_rows() const { return transpose ? cols : rows; }
  std::size_t op_cols() const { return transpose ? rows : cols; }
};

// C[c_index[p]] = op(A[p]) @ op(B[p]) summed over the terms p that share a C matrix, in
// increasing p, onto what C held when `add` (else the first term overwrites it). One C matrix
// is one thread's: its terms run there in order, each a single-threaded sgemm over the whole
// of it. With one C matrix the threads share its fixed blocks instead (gemm), term by term.
// Either way the calls depend on the shapes alone, so the bits do not depend on the threads.
void grouped_gemm(const Stack& a, const Stack& b, float* c, const std::vector<std::size_t>& c_index,
                  std::size_t c_count, bool add) {
  const std::size_t m = a.op_rows(), k = a.op_cols(), n = b.op_cols();
  const std::size_t terms = c_index.size();
  if (c_count == 1) {
    for (std::size_t p = 0; p < terms; ++p) {
      gemm(a.matrix(p), a.rows, a.cols, a.transpose, b.matrix(p), b.rows, b.cols, b.transpose, c,
           p == 0 && !add ? 0.0f : 1.0f);
    }
    return;
  }
  // The terms of each C matrix in increasing p (a counting sort by c_index).
  std::vector<std::size_t> start(c_count + 1, 0), order(terms);
  for (std::size_t p = 0; p < terms; ++p) ++start[c_index[p] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::size_t> next(start.begin(), start.end() - 1);
  for (std::size_t p = 0; p < terms; ++p) order[next[c_index[p]]++] = p;

  parallel::keep_blas_single_threaded();
  const auto i = [](std::size_t v) { return static_cast<blasint>(v); };
  parallel::for_range(c_count, terms * m * n * k / 16, [&](std::size_t first, std::size_t last) {
    for (std::size_t g = first; g < last; ++g) {
      for (std::size_t t = start[g]; t < start[g + 1]; ++t) {
        const std::size_t p = order[t];
        cblas_sgemm(CblasRowMajor, a.transpose ? CblasTrans : CblasNoTrans,
                    b.transpose ? CblasTrans : CblasNoTrans, i(m), i(n), i(k), 1.0f, a.matrix(p),
                    i(a.cols), b.matrix(p), i(b.cols), t == start[g] && !add ? 0.0f : 1.0f,
                    c + g * m * n, i(n));
      }
    }
  });
}

// Which matrix of x and of w each output matrix p multiplies, batch axes broadcast.
struct BatchPlan {
  Shape out;
  std::size_t m, k, n;  // x[p] (M, K), op(w[p]) (K, N)
  std::size_t x_count, w_count;
  std::vector<std::size_t> x_index, w_index, out_index;  // out_index[p] = p
};

// NumPy's matmul shapes: a 1-D x is a row (1, K) and a 1-D w a column (K, 1), the axis
// dropped from the output; the axes before the last two are batch axes and broadcast.
BatchPlan batch_plan(const char* op, const Tensor& x, const Tensor& w, bool transpose_w) {
  const Shape xs = x.shape();
  const Shape ws = w.shape();
  const auto both = [&] { return ": x is " + shape_string(xs) + ", w is " + shape_string(ws); };
  require_shape(!xs.empty(), op, "x must have at least one axis", xs);
  require_shape(transpose_w ? ws.size() >= 2 : !ws.empty(), op,
                transpose_w ? "w must have at least two axes" : "w must have at least one axis", ws);
  const Shape xm = xs.size() == 1 ? Shape{1, xs[0]} : xs;
  const Shape wm = ws.size() == 1 ? Shape{ws[0], 1} : ws;
  BatchPlan plan;
  plan.m = xm[xm.size() - 2];
  plan.k = xm.back();
  const std::size_t w_k = transpose_w ? wm.back() : wm[wm.size() - 2];
  plan.n = transpose_w ? wm[wm.size() - 2] : wm.back();
  if (plan.k != w_k) throw ShapeError(std::string(op) + ": inner dimensions differ" + both());

  const Shape xb(xm.begin(), xm.end() - 2), wb(wm.begin(), wm.end() - 2);
  Shape batch(std::max(xb.size(), wb.size()));
  for (std::size_t j = 1; j <= batch.size(); ++j) {  // j counts batch axes from the last one
    const std::size_t ex = j <= xb.size() ? xb[xb.size() - j] : 1;
    const std::size_t ew = j <= wb.size() ? wb[wb.size() - j] : 1;
    if (ex != ew && ex != 1 && ew != 1) {
      throw ShapeError(std::string(op) + ": batch axes do not broadcast" + both() + " (batch axis -" +
                       std::to_string(j) + ": " + std::to_string(ex) + " vs " + std::to_string(ew) +
                       ")");
    }
    batch[batch.size() - j] = ex == 1 ? ew : ex;
  }
  const auto count = [](const Shape& s) {
    return std::accumulate(s.begin(), s.end(), std::size_t{1}, std::multiplies<>());
  };
  const std::size_t matrices = count(batch);
  if (matrices == 0 || plan.m == 0 || plan.k == 0 || plan.n == 0) {
    throw ShapeError(std::string(op) + ": empty operand" + both());
  }
  const auto int_max = static_cast<std::size_t>(std::numeric_limits<int>::max());
  if (std::max({plan.m * matrices, plan.k, plan.n}) > int_max) {  // the flattened path's rows too
    throw ShapeError(std::string(op) + ": a dimension exceeds BLAS's int" + both());
  }
  plan.x_count = count(xb);
  plan.w_count = count(wb);
  const std::vector<std::size_t> x_strides = broadcast_strides(xb, batch);
  const std::vector<std::size_t> w_strides = broadcast_strides(wb, batch);
  std::vector<std::size_t> at(batch.size(), 0);  // the batch index of p, counted up in row-major order
  std::size_t xi = 0, wi = 0;
  for (std::size_t p = 0; p < matrices; ++p) {
    plan.x_index.push_back(xi);
    plan.w_index.push_back(wi);
    plan.out_index.push_back(p);
    for (std::size_t axis = batch.size(); axis-- > 0;) {
      xi += x_strides[axis];
      wi += w_strides[axis];
      if (++at[axis] < batch[axis]) break;
      xi -= x_strides[axis] * batch[axis];
      wi -= w_strides[axis] * batch[axis];
      at[axis] = 0;
    }
  }
  plan.out = batch;
  if (xs.size() > 1) plan.out.push_back(plan.m);
  if (ws.size() > 1) plan.out.push_back(plan.n);
  return plan;
}

Tensor batched_product(Tape& tape, const char* op, const Tensor& x, const Tensor& w,
                       bool transpose_w) {
  BatchPlan plan = batch_plan(op, x, w, transpose_w);
  const std::size_t m = plan.m, k = plan.k, n = plan.n;
  // One matrix of w for all of x's (which then broadcasts over nothing): x's rows flattened,
  // one product, as a 2-D w.
  if (plan.w_count == 1) {
    return product(tape, op, x, w, ProductShape{plan.x_count * m, k, n, plan.out}, transpose_w);
  }
  const std::size_t w_rows = transpose_w ? n : k, w_cols = transpose_w ? k : n;
  Array out = uninitialized_array(plan.out);
  grouped_gemm(Stack{x.value().data(), plan.x_index, m, k, false},
               Stack{w.value().data(), plan.w_index, w_rows, w_cols, transpose_w}, out.data(),
               plan.out_index, plan.out_index.size(), false);

  auto backward = [x, w, plan = std::move(plan), w_rows, w_cols, transpose_w](const Array&,
                                                                               const Array& dy) {
    const std::size_t m = plan.m, k = plan.k, n = plan.n;
    const Stack dys{dy.data(), plan.out_index, m, n, false};
    GradientTarget dx(x);
    if (float* d = dx.data()) {  // dx[x_index[p]] += dy[p] @ op(w[p])^T
      grouped_gemm(dys, Stack{w.value().data(), plan.w_index, w_rows, w_cols, !transpose_w}, d,
                   plan.x_index, plan.x_count, dx.add());
      dx.commit();
    }
    GradientTarget dw(w);  // after dx's commit: x and w may be one tensor
    if (float* d = dw.data()) {
      const float* xv = x.value().data();
      if (transpose_w) {  // dw[w_index[p]] (N, K) += dy[p]^T @ x[p]
        grouped_gemm(Stack{dy.data(), plan.out_index, m, n, true},
                     Stack{xv, plan.x_index, m, k, false}, d, plan.w_index, plan.w_count, dw.add());
      } else {  // dw[w_index[p]] (K, N) += x[p]^T @ dy[p]
        grouped_gemm(Stack{xv, plan.x_index, m, k, true}, dys, d, plan.w_index, plan.w_count,
                     dw.add());
      }
      dw.commit();
    }
  };
  return tape.record(op, {x, w}, std::move(out), std::move(backward));
}

}  // namespace

Tensor matmul(Tape& tape, const Tensor& x, const Tensor& w) {
  if (w.shape().size() == 2) {  // the flattened product, as before batching
    return product(tape, "matmul", x, w, product_shape("matmul", x, w, false), false);
  }
  return batched_product(tape, "matmul", x, w, false);
}

Tensor matmul_transposed(Tape& tape, const Tensor& x, const Tensor& w) {
  if (w.shape().size() == 2) {
    return product(tape, "matmul_transposed", x, w, product_shape("matmul_transposed", x, w, true),
                   true);
  }
  return batched_product(tape, "matmul_transposed", x, w, true);
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
