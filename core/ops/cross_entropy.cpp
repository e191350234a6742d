// Softmax cross-entropy over integer targets, mean over the tokens not ignored.
// Shapes: logits (..., V) flattened to Z (T, V); targets (...) with T ids in [0, V), or
// equal to ignore_index (which may lie outside [0, V), as PyTorch's default -100 does).
// The forward pass keeps each row's maximum and exp-sum (O(T)) when it records; the
// backward pass computes the logits' gradient from them.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/detail/parallel.hpp"
#include "core/detail/rows.hpp"
#include "core/detail/simd.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

using simd::Batch;
using simd::kLanes;

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

// Throws as TokenIds::check_range does unless every id lies in [0, V) or is `ignored`.
void check_targets(const TokenIds& targets, std::size_t vocab,
                   std::optional<std::int32_t> ignored) {
  const char* who = "softmax_cross_entropy";
  if (!ignored || (*ignored >= 0 && static_cast<std::size_t>(*ignored) < vocab)) {
    targets.check_range(vocab, who);  // an ignore_index in [0, V) is a valid id already
    return;
  }
  if (targets.size() == 0) targets.check_range(vocab, who);  // throws: no ids
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const std::int32_t id = targets[i];
    if (id != *ignored && (id < 0 || static_cast<std::size_t>(id) >= vocab)) {
      throw TokenIdOutOfRange(std::string(who) + ": token id " + std::to_string(id) +
                              " at position " + targets.position_string(i) +
                              " is out of range [0, " + std::to_string(vocab) +
                              ") and is not the ignore_index " + std::to_string(*ignored));
    }
  }
}

}  // namespace

Tensor softmax_cross_entropy(Tape& tape, const Tensor& logits, const TokenIds& targets,
                             std::optional<std::int32_t> ignore_index) {
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
  check_targets(targets, vocab, ignore_index);
  const bool keep_rows = tape.needs_gradient(logits);
  // An ignored token is one whose target equals ignore_index; it adds no loss, does not
  // count in the mean and gets a zero gradient row.
  const std::int32_t* target = targets.data();
  std::size_t counted = tokens;
  if (ignore_index) {
    counted -= static_cast<std::size_t>(std::count(target, target + tokens, *ignore_index));
  }

  // loss_t = logsumexp(z_t) - z_t[target], logsumexp = m + log(sum exp(z - m)), m = max z_t.
  std::vector<float> row_max_of(keep_rows ? tokens : 0), exp_sum_of(keep_rows ? tokens : 0);
  std::vector<double> row_loss(tokens);
  const float* z = logits.value().data();
  parallel::for_range(tokens, 4 * tokens * vocab, [&](std::size_t first, std::size_t last) {
    for (std::size_t t = first; t < last; ++t) {
      if (ignore_index && target[t] == *ignore_index) {
        row_loss[t] = 0.0;
        continue;
      }
      const float* row = z + t * vocab;
      const float m = rows::max_of(row, vocab);
      const float s = rows::exp_sum(row, m, nullptr, vocab);
      row_loss[t] = static_cast<double>(m + std::log(s)) - row[target[t]];
      if (!keep_rows) continue;
      row_max_of[t] = m;
      exp_sum_of[t] = s;
    }
  });
  double total = 0.0;
  for (double l : row_loss) total += l;
  Array out = Array::from_shape(Array::shape_type{});
  // With every token ignored the mean is 0 / 0: NaN, as PyTorch (1.13) returns.
  out() = counted ? static_cast<float>(total / static_cast<double>(counted))
                  : std::numeric_limits<float>::quiet_NaN();

  // dZ[t, v] += dL / T * (softmax(z_t)[v] - [v == target_t]), one pass over Z, with T the
  // count of tokens not ignored; an ignored token's row gets nothing.
  auto backward = [logits, targets, row_max_of = std::move(row_max_of),
                   exp_sum_of = std::move(exp_sum_of), vocab, ignore_index,
                   counted](const Array&, const Array& dy) {
    const std::size_t tokens = targets.size();
    const float upstream_per_token = counted ? dy() / static_cast<float>(counted) : 0.0f;
    GradientTarget target(logits);
    float* d = target.data();
    if (!d) return;
    const bool add = target.add();
    const float* z = logits.value().data();
    parallel::for_range(tokens, 4 * tokens * vocab, [&](std::size_t first, std::size_t last) {
      for (std::size_t t = first; t < last; ++t) {
        if (ignore_index && targets[t] == *ignore_index) {
          if (!add) std::fill_n(d + t * vocab, vocab, 0.0f);
          continue;
        }
        gradient_row(z + t * vocab, row_max_of[t], upstream_per_token / exp_sum_of[t],
                     targets[t], upstream_per_token, d + t * vocab, vocab, add);
      }
    });
    target.commit();
  };
  return tape.record("softmax_cross_entropy", {logits}, std::move(out), std::move(backward));
}

}  // namespace xgrad
