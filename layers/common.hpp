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
// std::invalid_argument naming `who` unless heads > 0 divides embed_dim > 0.
inline void check_heads(std::size_t embed_dim, std::size_t heads, const std::string& who) {
  if (embed_dim == 0 || heads == 0 || embed_dim % heads != 0) {
    throw std::invalid_argument(who + ": heads (" + std::to_string(heads) + ") must be positive and divide embed_dim (" +
                                std::to_string(embed_dim) + ")");
  }
}

inline LinearOptions projection_options(const Initializer& kernel_init, bool use_bias) {
  LinearOptions options;
  options.kernel_init = kernel_init;
  options.use_bias = use_bias;
  return options;
}

}  // namespace xgrad::layers
