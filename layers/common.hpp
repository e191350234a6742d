// What the transformer layers share: the check of a dropout rate at construction and the
// options of their projections. Not a module system: two small functions.
#pragma once

#include <stdexcept>
#include <string>

#include "core/init/initializers.hpp"
#include "layers/linear.hpp"

namespace xgrad::layers {

// std::invalid_argument naming `who` and `what` unless 0 <= rate < 1 (NaN included).
inline void check_dropout_rate(float rate, const std::string& who, const std::string& what = "dropout") {
  if (!(rate >= 0.0f && rate < 1.0f)) {
    throw std::invalid_argument(who + ": " + what + " must lie in [0, 1), got " + std::to_string(rate));
  }
}

// A projection's Linear options: this kernel initializer, a zeros bias or none.
inline LinearOptions projection_options(const Initializer& kernel_init, bool use_bias) {
  LinearOptions options;
  options.kernel_init = kernel_init;
  options.use_bias = use_bias;
  return options;
}

}  // namespace xgrad::layers
