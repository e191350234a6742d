#include "models/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace xgrad::models {

std::size_t sample_token(const float* z, std::size_t vocab, double temperature, double u,
                         std::vector<double>& weights) {
  if (vocab == 0) throw std::invalid_argument("sample_token: vocab must be positive");
  if (!(std::isfinite(temperature) && temperature >= 0.0)) {
    throw std::invalid_argument("sample_token: temperature must be finite and >= 0, got " +
                                std::to_string(temperature));
  }
  if (!(u >= 0.0 && u < 1.0)) {
    throw std::invalid_argument("sample_token: u must lie in [0, 1), got " + std::to_string(u));
  }
  const std::size_t best = static_cast<std::size_t>(std::max_element(z, z + vocab) - z);
  if (temperature == 0.0) return best;
  if (weights.size() < vocab) weights.resize(vocab);
  double total = 0.0;
  for (std::size_t v = 0; v < vocab; ++v) {
    weights[v] = std::exp((static_cast<double>(z[v]) - z[best]) / temperature);
    total += weights[v];
  }
  double left = u * total;
  for (std::size_t v = 0; v < vocab; ++v) {
    if (left < weights[v]) return v;
    left -= weights[v];
  }
  return best;
}

}  // namespace xgrad::models
