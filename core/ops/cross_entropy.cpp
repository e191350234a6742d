// Softmax cross-entropy over integer targets, mean over tokens.
// Shapes: logits (..., V) flattened to Z (T, V); targets (...) with T ids in [0, V).
// The forward pass keeps each row's maximum and exp-sum (O(T)) when it records; the
// backward pass computes the logits' gradient from them.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

using simd::Batch;
constexpr std::size_t kLanes = Batch::size;

float row_max(const float* z, std::size_t n) {
  float m = -std::numeric_limits<float>::infinity();
  std::size_t v = 0;
  if (n >= kLanes) {
    Batch lanes = Batch::load_unaligned(z);
    for (v = kLanes; v + kLanes <= n; v += kLanes) lanes = xsimd::max(lanes, Batch::load_unaligned(z + v));
    alignas(64) float spill[kLanes];
    lanes.store_aligned(spill);
    for (float x : spill) m = std::max(m, x);
  }
  for (; v < n; ++v) m = std::max(m, z[v]);
  return m;
}

// sum_v exp(z[v] - m).
float exp_sum(const float* z, float m, std::size_t n) {
  Batch lanes(0.0f);
  const Batch shift(m);
  std::size_t v = 0;
  for (; v + kLanes <= n; v += kLanes) lanes += xsimd::exp(Batch::load_unaligned(z + v) - shift);
  float s = xsimd::hadd(lanes);
  for (; v < n; ++v) s += std::exp(z[v] - m);
  return s;
}

// dz[v] (+)= scale * exp(z[v] - m), then dz[target] -= upstream / T: row t of
// dL/dZ = upstream / T * (softmax(z_t) - onehot(target_t)), with scale = upstream / (T * s_t).
// `add` says whether dz already holds a gradient to add to.
void gradient_row(const float* z, float m, float scale, std::int32_t target, float upstream_per_token,
                  float* dz, std::size_t n, bool add) {
  const Batch shift(m);
  const Batch factor(scale);
  std::size_t v = 0;
  for (; v + kLanes <= n; v += kLanes) {
    Batch g = factor * xsimd::exp(Batch::load_unaligned(z + v) - shift);
    if (add) g += Batch::load_unaligned(dz + v);
    g.store_unaligned(dz + v);
  }
  for (; v < n; ++v) {
    const float g = scale * std::exp(z[v] - m);
    dz[v] = add ? dz[v] + g : g;
  }
  dz[target] -= upstream_per_token;
}

}  // namespace

Tensor softmax_cross_entropy(Tape& tape, const Tensor& logits, const TokenIds& targets) {
  const Shape ls = logits.shape();
  Shape expected = targets.shape();
  require_shape(!ls.empty(), "softmax_cross_entropy", "logits must be (..., V)", ls);
  expected.push_back(ls.back());
  if (ls != expected) {
    throw ShapeError("softmax_cross_entropy: logits " + shape_string(ls) +
                     " do not match targets " + shape_string(targets.shape()) +
                     ": expected logits " + shape_string(expected));
  }
  const std::size_t vocab = ls.back();
  const std::size_t tokens = targets.size();
  targets.check_range(vocab, "softmax_cross_entropy");
  const bool keep_rows = tape.needs_gradient(logits);

  // loss_t = logsumexp(z_t) - z_t[target], logsumexp = m + log(sum exp(z - m)), m = max z_t.
  std::vector<float> row_max_of(keep_rows ? tokens : 0), exp_sum_of(keep_rows ? tokens : 0);
  std::vector<double> row_loss(tokens);
  const float* z = logits.value().data();
  const std::int32_t* target = targets.data();
  parallel::for_range(tokens, 4 * tokens * vocab, [&](std::size_t first, std::size_t last) {
    for (std::size_t t = first; t < last; ++t) {
      const float* row = z + t * vocab;
      const float m = row_max(row, vocab);
      const float s = exp_sum(row, m, vocab);
      row_loss[t] = static_cast<double>(m + std::log(s)) - row[target[t]];
      if (!keep_rows) continue;
      row_max_of[t] = m;
      exp_sum_of[t] = s;
    }
  });
  double total = 0.0;
  for (double l : row_loss) total += l;
  Array out = Array::from_shape(Array::shape_type{});
  out() = static_cast<float>(total / static_cast<double>(tokens));

  // dZ[t, v] += dL / T * (softmax(z_t)[v] - [v == target_t]), one pass over Z.
  auto backward = [logits, targets, row_max_of = std::move(row_max_of),
                   exp_sum_of = std::move(exp_sum_of), vocab](const Array&, const Array& dy) {
    const std::size_t tokens = targets.size();
    const float upstream_per_token = dy() / static_cast<float>(tokens);
    Gradient& grad = logits.mutable_grad();
    const bool add = !grad.empty();
    Array fresh = add ? Array::from_shape(Array::shape_type{0}) : uninitialized_array(logits.shape());
    float* d = add ? grad.dense_buffer().data() : fresh.data();
    const float* z = logits.value().data();
    parallel::for_range(tokens, 4 * tokens * vocab, [&](std::size_t first, std::size_t last) {
      for (std::size_t t = first; t < last; ++t) {
        gradient_row(z + t * vocab, row_max_of[t], upstream_per_token / exp_sum_of[t],
                     targets[t], upstream_per_token, d + t * vocab, vocab, add);
      }
    });
    if (!add) grad.add(std::move(fresh));
  };
  return tape.record("softmax_cross_entropy", {logits}, std::move(out), std::move(backward));
}

}  // namespace xgrad
