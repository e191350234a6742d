// Matrix products through xtensor-blas to OpenBLAS sgemm, into preallocated outputs.
// Shapes: x (..., K) flattened to X (M, K); w (K, N) or, transposed, (N, K); out (..., N).
#include "core/ops.hpp"
#include "core/parallel.hpp"
#include "core/ops/op_support.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xtensor-blas/xblas.hpp>
#pragma GCC diagnostic pop

namespace xgrad {

using namespace ops_support;

namespace {

// C (M, N) = alpha * op(A) @ op(B) + beta * C on raw row-major buffers.
void gemm(const float* a, std::size_t a_rows, std::size_t a_cols, bool transpose_a,
          const float* b, std::size_t b_rows, std::size_t b_cols, bool transpose_b, float* c,
          float beta) {
  const std::size_t m = transpose_a ? a_cols : a_rows;
  const std::size_t n = transpose_b ? b_rows : b_cols;
  auto a_view = matrix_view(a, a_rows, a_cols);
  auto b_view = matrix_view(b, b_rows, b_cols);
  auto c_view = matrix_view(c, m, n);
  parallel::keep_blas_single_threaded();  // bit-identical results whatever the core count
  xt::blas::gemm(a_view, b_view, c_view, transpose_a, transpose_b, 1.0f, beta);
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
  p.out.back() = p.cols;
  return p;
}

Tensor product(Tape& tape, const char* op, const Tensor& x, const Tensor& w, bool transpose_w) {
  const ProductShape p = product_shape(op, x, w, transpose_w);
  const Shape ws = w.shape();
  Array out = new_array(p.out);
  gemm(x.value().data(), p.rows, p.inner, false, w.value().data(), ws[0], ws[1], transpose_w,
       out.data(), 0.0f);
  Tensor output = make_output(std::move(out), x.requires_grad() || w.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [x, w, output, p, ws, transpose_w] {
    const float* dout = output_grad(output);
    if (x.requires_grad()) {
      // dX (M, K) += dY (M, N) @ W^T, or @ W when W is stored (N, K).
      float* dx = x.mutable_grad().dense_for_accumulate().data();
      gemm(dout, p.rows, p.cols, false, w.value().data(), ws[0], ws[1], !transpose_w, dx, 1.0f);
    }
    if (w.requires_grad()) {
      float* dw = w.mutable_grad().dense_for_accumulate().data();
      if (transpose_w) {
        // dW (N, K) += dY^T @ X
        gemm(dout, p.rows, p.cols, true, x.value().data(), p.rows, p.inner, false, dw, 1.0f);
      } else {
        // dW (K, N) += X^T @ dY
        gemm(x.value().data(), p.rows, p.inner, true, dout, p.rows, p.cols, false, dw, 1.0f);
      }
    }
  };
  tape.record({op, {x, w}, output, std::move(backward), {}});
  return output;
}

}  // namespace

Tensor matmul(Tape& tape, const Tensor& x, const Tensor& w) {
  return product(tape, "matmul", x, w, false);
}

Tensor matmul_transposed(Tape& tape, const Tensor& x, const Tensor& w) {
  return product(tape, "matmul_transposed", x, w, true);
}

}  // namespace xgrad
