// Fused softmax cross-entropy over integer targets, mean over tokens.
// Shapes: logits (..., V) flattened to (T, V); targets (...) with T ids in [0, V).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops.hpp"
#include "core/ops/op_support.hpp"

namespace xgrad {

using namespace ops_support;

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

  // loss_t = logsumexp(z_t) - z_t[target], with logsumexp = m + log(sum exp(z - m)), m = max z_t.
  // The per-token logsumexp is kept: backward recomputes softmax from it instead of
  // storing a (T, V) probability table.
  std::vector<float> logsumexp(tokens);
  double total = 0.0;
  const float* z = logits.value().data();
  for (std::size_t t = 0; t < tokens; ++t) {
    const float* row = z + t * vocab;
    const float m = *std::max_element(row, row + vocab);
    float s = 0.0f;
    for (std::size_t v = 0; v < vocab; ++v) s += std::exp(row[v] - m);
    logsumexp[t] = m + std::log(s);
    total += static_cast<double>(logsumexp[t]) - row[targets[t]];
  }
  Array out = Array::from_shape(Shape{});
  out() = static_cast<float>(total / static_cast<double>(tokens));
  Tensor output = make_output(std::move(out), logits.requires_grad());
  if (!output.requires_grad()) return output;

  auto backward = [logits, targets, output, logsumexp = std::move(logsumexp), vocab, tokens] {
    // dZ[t, v] += dL / T * (exp(z[t, v] - logsumexp_t) - [v == target_t])
    const float scale = output_grad(output)[0] / static_cast<float>(tokens);
    const float* z = logits.value().data();
    float* dz = logits.mutable_grad().dense_for_accumulate().data();
    for (std::size_t t = 0; t < tokens; ++t) {
      const float* row = z + t * vocab;
      float* drow = dz + t * vocab;
      for (std::size_t v = 0; v < vocab; ++v) drow[v] += scale * std::exp(row[v] - logsumexp[t]);
      drow[targets[t]] -= scale;
    }
  };
  tape.record({"softmax_cross_entropy", {logits}, output, backward, {}});
  return output;
}

}  // namespace xgrad
