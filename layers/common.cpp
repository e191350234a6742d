// The child key of the transformer layers, through Flax's static fold-in (kept out of the
// header so xgrad.hpp does not pull in core/flax).
#include "layers/common.hpp"

#include "core/flax/flax.hpp"

namespace xgrad::layers {

Key child_key(const Key& key, const std::string& name) { return flax::fold_in_static(key, {name}); }

}  // namespace xgrad::layers
