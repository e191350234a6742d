// Fused softmax cross-entropy over integer targets, mean over tokens.
// Shapes: logits (..., V) flattened to Z (T, V); targets (...) with T ids in [0, V).
// The forward pass writes the logits' gradient for an upstream gradient of 1, so the
// usual backward (from tape.backward(loss)) takes that buffer over without touching it.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop

#include "core/ops.hpp"
#include "core/ops/op_support.hpp"

namespace xgrad {

using namespace ops_support;

namespace {

using Batch = xsimd::batch<float>;
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

// sum_v exp(z[v] - m), writing each exp to e[v] when e is not null.
float exp_sum(const float* z, float m, float* e, std::size_t n) {
  Batch lanes(0.0f);
  const Batch shift(m);
  std::size_t v = 0;
  for (; v + kLanes <= n; v += kLanes) {
    const Batch x = xsimd::exp(Batch::load_unaligned(z + v) - shift);
    if (e) x.store_unaligned(e + v);
    lanes += x;
  }
  float s = xsimd::hadd(lanes);
  for (; v < n; ++v) {
    const float x = std::exp(z[v] - m);
    if (e) e[v] = x;
    s += x;
  }
  return s;
}

// Row t of dZ for an upstream gradient of 1: (softmax(z_t) - onehot(target_t)) / T, from
// the row's maximum m and scale = 1 / (T * sum exp(z_t - m)).
void gradient_row(const float* z, float m, float scale, std::int32_t target, float inv_tokens,
                  float* dz, std::size_t n) {
  exp_sum(z, m, dz, n);
  for (std::size_t v = 0; v < n; ++v) dz[v] *= scale;
  dz[target] -= inv_tokens;
}

// The forward pass's dZ buffer, shared by the backward closure: given to the logits'
// gradient by the first backward, or back to the pool when the closure dies.
struct Scratch {
  Array array = Array::from_shape(Array::shape_type{0});  // no allocation until used
  bool held = false;
  ~Scratch() {
    if (held) buffer_pool::give_back(array);
  }
};

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
  const bool needs_grad = logits.requires_grad();

  // loss_t = logsumexp(z_t) - z_t[target], logsumexp = m + log(sum exp(z - m)), m = max z_t.
  auto dz = std::make_shared<Scratch>();
  if (needs_grad) {
    dz->array = new_array(ls);
    dz->held = true;
  }
  std::vector<float> row_max_of(tokens), scale_of(tokens);
  std::vector<double> row_loss(tokens);
  const float inv_tokens = 1.0f / static_cast<float>(tokens);
  const float* z = logits.value().data();
  const std::int32_t* target = targets.data();
  float* d = needs_grad ? dz->array.data() : nullptr;
  parallel::for_range(tokens, 4 * tokens * vocab, [&](std::size_t first, std::size_t last) {
    for (std::size_t t = first; t < last; ++t) {
      const float* row = z + t * vocab;
      const float m = row_max(row, vocab);
      float* drow = d ? d + t * vocab : nullptr;
      const float s = exp_sum(row, m, drow, vocab);
      row_loss[t] = static_cast<double>(m + std::log(s)) - row[target[t]];
      const float scale = inv_tokens / s;
      row_max_of[t] = m;
      scale_of[t] = scale;
      if (!drow) continue;
      for (std::size_t v = 0; v < vocab; ++v) drow[v] *= scale;
      drow[target[t]] -= inv_tokens;
    }
  });
  double total = 0.0;
  for (double l : row_loss) total += l;
  Array out = new_array(Shape{});
  out() = static_cast<float>(total / static_cast<double>(tokens));
  Tensor output = make_output(std::move(out), needs_grad);
  if (!output.requires_grad()) return output;

  // dZ[t, v] += dL * (softmax(z_t)[v] - [v == target_t]) / T: the buffer above times dL.
  // Taken over as the gradient when that is empty and dL is 1; rebuilt if taken already
  // (a second backward over the same tape).
  auto backward = [logits, output, dz, ids = IdsCopy(targets), row_max_of = std::move(row_max_of),
                   scale_of = std::move(scale_of), vocab, inv_tokens] {
    const float upstream = scalar_output_grad(output);
    if (!dz->held) {
      dz->array = new_array(logits.shape());
      dz->held = true;
      const float* z = logits.value().data();
      float* d = dz->array.data();
      parallel::for_range(ids.size(), 4 * ids.size() * vocab, [&](std::size_t first, std::size_t last) {
        for (std::size_t t = first; t < last; ++t) {
          gradient_row(z + t * vocab, row_max_of[t], scale_of[t], ids[t], inv_tokens, d + t * vocab, vocab);
        }
      });
    }
    if (upstream == 1.0f && logits.grad().empty()) {
      dz->held = false;
      logits.mutable_grad().adopt_dense(std::move(dz->array), "softmax_cross_entropy");
      return;
    }
    const float* d = dz->array.data();
    accumulate(logits, [&](std::size_t i) { return upstream * d[i]; });
  };
  tape.record({"softmax_cross_entropy", {logits}, output, std::move(backward), {}});
  return output;
}

}  // namespace xgrad
