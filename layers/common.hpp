// What the transformer layers share: the key a layer hands to each child, and the check of a
// dropout rate at construction. Not a module system: two small functions.
#pragma once

#include <stdexcept>
#include <string>

#include "core/init/random.hpp"

namespace xgrad::layers {

// fold_in(key, hash(name)) (Flax's fold-in of a static name), so a parameter's key depends
// only on the model key and the parameter's path, never on creation order.
Key child_key(const Key& key, const std::string& name);

// std::invalid_argument naming `who` unless 0 <= rate < 1 (NaN included).
inline void check_dropout_rate(float rate, const std::string& who) {
  if (!(rate >= 0.0f && rate < 1.0f)) {
    throw std::invalid_argument(who + ": dropout must lie in [0, 1), got " + std::to_string(rate));
  }
}

}  // namespace xgrad::layers
