// layer_norm over the last axis, forward and backward fused as llm.c's layernorm_forward /
// layernorm_backward. Shapes: x (..., C) flattened to (N, C) rows, weight (C,), bias (C,).
// The forward keeps mean and rstd per row (2N floats); the backward makes one pass over the
// rows for dx and the sums of dweight and dbias. Not a general normalisation over any axis.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

using simd::Batch;
using simd::kLanes;

// dweight and dbias are summed per block of this many rows, and the blocks' sums are then
// added in block order: the blocks are fixed by N alone, so the bits do not depend on how
// many threads share them out.
constexpr std::size_t kRowBlock = 32;

float sum_of(const float* v, std::size_t n) {
  Batch lanes(0.0f);
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) lanes += Batch::load_unaligned(v + j);
  float s = xsimd::hadd(lanes);
  for (; j < n; ++j) s += v[j];
  return s;
}

// y = (x - mean) * rstd * w + b for one row; returns mean and rstd. The variance is taken
// around the mean (two passes over a row in cache), not as E[x^2] - mean^2, which cancels.
void forward_row(const float* x, const float* w, const float* b, float* y, std::size_t n,
                 float eps, float& mean, float& rstd) {
  const float m = sum_of(x, n) / static_cast<float>(n);
  const Batch mb(m);
  Batch lanes(0.0f);
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const Batch d = Batch::load_unaligned(x + j) - mb;
    lanes += d * d;
  }
  float squares = xsimd::hadd(lanes);
  for (; j < n; ++j) squares += (x[j] - m) * (x[j] - m);
  const float s = 1.0f / std::sqrt(squares / static_cast<float>(n) + eps);
  const Batch sb(s);
  for (j = 0; j + kLanes <= n; j += kLanes) {
    const Batch xhat = (Batch::load_unaligned(x + j) - mb) * sb;
    (xhat * Batch::load_unaligned(w + j) + Batch::load_unaligned(b + j)).store_unaligned(y + j);
  }
  for (; j < n; ++j) y[j] = (x[j] - m) * s * w[j] + b[j];
  mean = m;
  rstd = s;
}

struct BackwardRow {
  const float* x;
  const float* dout;
  float* dx;      // null: x needs no gradient
  float* dw;      // this row's block sums, or null
  float* db;
};

// With xhat = (x - mean) * rstd and g = dout * w:
// dx (+)= rstd * (g - mean(g) - xhat * mean(g * xhat)); dw += dout * xhat; db += dout.
void backward_row(const BackwardRow& r, const float* w, float m, float s, std::size_t n,
                  bool add) {
  const Batch mb(m), sb(s);
  Batch g_lanes(0.0f), gx_lanes(0.0f);
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const Batch xhat = (Batch::load_unaligned(r.x + j) - mb) * sb;
    const Batch g = Batch::load_unaligned(w + j) * Batch::load_unaligned(r.dout + j);
    g_lanes += g;
    gx_lanes += g * xhat;
  }
  float g_sum = xsimd::hadd(g_lanes), gx_sum = xsimd::hadd(gx_lanes);
  const std::size_t tail = j;
  for (; j < n; ++j) {
    const float g = w[j] * r.dout[j];
    g_sum += g;
    gx_sum += g * ((r.x[j] - m) * s);
  }
  const float g_mean = g_sum / static_cast<float>(n), gx_mean = gx_sum / static_cast<float>(n);
  const Batch g_meanb(g_mean), gx_meanb(gx_mean);
  for (j = 0; j < tail; j += kLanes) {
    const Batch xhat = (Batch::load_unaligned(r.x + j) - mb) * sb;
    const Batch d = Batch::load_unaligned(r.dout + j);
    if (r.dx) {
      const Batch g = Batch::load_unaligned(w + j) * d;
      Batch v = (g - g_meanb - xhat * gx_meanb) * sb;
      if (add) v += Batch::load_unaligned(r.dx + j);
      v.store_unaligned(r.dx + j);
    }
    if (r.dw) (Batch::load_unaligned(r.dw + j) + d * xhat).store_unaligned(r.dw + j);
    if (r.db) (Batch::load_unaligned(r.db + j) + d).store_unaligned(r.db + j);
  }
  for (; j < n; ++j) {
    const float xhat = (r.x[j] - m) * s;
    const float d = r.dout[j];
    if (r.dx) {
      const float v = (w[j] * d - g_mean - xhat * gx_mean) * s;
      r.dx[j] = add ? r.dx[j] + v : v;
    }
    if (r.dw) r.dw[j] += d * xhat;
    if (r.db) r.db[j] += d;
  }
}

// out[j] = sum over blocks k, in order, of partial[k * n + j].
Array sum_blocks(const std::vector<float>& partial, std::size_t blocks, std::size_t n) {
  Array out = zeros_array({n});
  float* o = out.data();
  for (std::size_t k = 0; k < blocks; ++k) {
    const float* p = partial.data() + k * n;
    for (std::size_t j = 0; j < n; ++j) o[j] += p[j];
  }
  return out;
}

}  // namespace

Tensor layer_norm(Tape& tape, const Tensor& x, const Tensor& weight, const Tensor& bias,
                  float eps) {
  const Shape xs = x.shape();
  require_shape(!xs.empty(), "layer_norm", "x must be (..., C)", xs);
  const std::size_t width = xs.back();
  require_shape(weight.shape() == Shape{width}, "layer_norm",
                "weight must be (C,) for x " + shape_string(xs), weight.shape());
  require_shape(bias.shape() == Shape{width}, "layer_norm",
                "bias must be (C,) for x " + shape_string(xs), bias.shape());
  if (!(eps >= 0.0f) || !std::isfinite(eps)) {
    throw std::invalid_argument("layer_norm: eps must be finite and >= 0 (got " +
                                std::to_string(eps) + ")");
  }
  const std::size_t rows = width ? x.size() / width : 0;
  const bool keep_rows = tape.needs_gradient(x, weight, bias);
  std::vector<float> mean(rows), rstd(rows);
  Array out = uninitialized_array(xs);
  const float* xv = x.value().data();
  const float* w = weight.value().data();
  const float* b = bias.value().data();
  float* y = out.data();
  parallel::for_range(rows, 4 * rows * width, [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      forward_row(xv + r * width, w, b, y + r * width, width, eps, mean[r], rstd[r]);
    }
  });
  if (!keep_rows) {
    mean = {};
    rstd = {};
  }

  auto backward = [x, weight, bias, mean = std::move(mean), rstd = std::move(rstd), rows,
                   width](const Array&, const Array& dy) {
    GradientTarget dx_target(x);
    const bool add = dx_target.add();
    const std::size_t blocks = (rows + kRowBlock - 1) / kRowBlock;
    std::vector<float> dw_partial(weight.requires_grad() ? blocks * width : 0, 0.0f);
    std::vector<float> db_partial(bias.requires_grad() ? blocks * width : 0, 0.0f);
    const float* xv = x.value().data();
    const float* w = weight.value().data();
    const float* d = dy.data();
    parallel::for_range(blocks, 8 * rows * width, [&](std::size_t first, std::size_t last) {
      for (std::size_t k = first; k < last; ++k) {
        BackwardRow row{};
        row.dw = dw_partial.empty() ? nullptr : dw_partial.data() + k * width;
        row.db = db_partial.empty() ? nullptr : db_partial.data() + k * width;
        for (std::size_t r = k * kRowBlock; r < std::min(rows, (k + 1) * kRowBlock); ++r) {
          row.x = xv + r * width;
          row.dout = d + r * width;
          row.dx = dx_target.data() ? dx_target.data() + r * width : nullptr;
          backward_row(row, w, mean[r], rstd[r], width, add);
        }
      }
    });
    dx_target.commit();
    if (!dw_partial.empty()) accumulate_grad(weight, sum_blocks(dw_partial, blocks, width));
    if (!db_partial.empty()) accumulate_grad(bias, sum_blocks(db_partial, blocks, width));
  };
  return tape.record("layer_norm", {x, weight, bias}, std::move(out), std::move(backward));
}

}  // namespace xgrad
