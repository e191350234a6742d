// clip_grad_norm: a double sum of squares over the stored gradient values, then a scale.
#include "optim/clip.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace xgrad::optim {
namespace {

// Eight running sums, element i into sum i % 8, added up in a fixed order at the end: one
// sequential sum waits on each addition's latency; eight independent ones let the compiler
// vectorise, and the order of additions is still fixed by n alone.
double sum_of_squares(const float* values, std::size_t n) {
  constexpr std::size_t kWays = 8;
  double sums[kWays] = {};
  std::size_t i = 0;
  for (; i + kWays <= n; i += kWays) {
    for (std::size_t j = 0; j < kWays; ++j) {
      const double v = values[i + j];
      sums[j] += v * v;
    }
  }
  for (std::size_t j = 0; i < n; ++i, ++j) sums[j] += static_cast<double>(values[i]) * values[i];
  return ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
}

}  // namespace

float clip_grad_norm(const std::vector<Tensor>& parameters, float max_norm) {
  if (!std::isfinite(max_norm) || !(max_norm > 0.0f)) {
    throw std::invalid_argument("clip_grad_norm: max_norm must be finite and > 0, got " +
                                std::to_string(max_norm));
  }
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    if (!parameters[k].defined()) {
      throw std::invalid_argument("clip_grad_norm: parameter " + std::to_string(k) +
                                  " is an empty tensor handle");
    }
  }
  // Per-parameter sums added in the list's order, so the order of additions is fixed by the
  // list and the shapes alone.
  double total = 0.0;
  for (const Tensor& p : parameters) {
    const Gradient& g = p.grad();
    if (g.kind() == Gradient::Kind::dense) {
      total += sum_of_squares(g.dense().data(), g.dense().size());
    } else if (g.kind() == Gradient::Kind::row_sparse && !g.row_sparse().empty()) {
      const RowSparseGrad& sparse = g.row_sparse();
      total += sum_of_squares(sparse.row_values(0), sparse.rows().size() * sparse.row_width());
    }
  }
  const double norm = std::sqrt(total);
  if (std::isfinite(norm) && norm > static_cast<double>(max_norm)) {
    const float factor = static_cast<float>(static_cast<double>(max_norm) / (norm + 1e-6));
    for (const Tensor& p : parameters) p.mutable_grad().scale(factor);
  }
  return static_cast<float>(norm);
}

}  // namespace xgrad::optim
