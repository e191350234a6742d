// LayerNorm: construction checks and the forward call.
#include "layers/layer_norm.hpp"

#include <cmath>
#include <stdexcept>

#include "core/init/initializers.hpp"

namespace xgrad::layers {

LayerNorm::LayerNorm(std::size_t features, LayerNormOptions options) : eps_(options.eps) {
  if (features == 0) throw std::invalid_argument("LayerNorm " + options.name + ": features must be positive");
  if (!(std::isfinite(options.eps) && options.eps > 0.0f)) {
    throw std::invalid_argument("LayerNorm " + options.name + ": eps must be positive and finite, got " +
                                std::to_string(options.eps));
  }
  const Shape shape{features};
  weight_ = Tensor::parameter(initializers::ones()(Key{}, shape), options.name + ".weight");
  bias_ = Tensor::parameter(initializers::zeros()(Key{}, shape), options.name + ".bias");
}

Tensor LayerNorm::operator()(Tape& tape, const Tensor& x) const {
  return layer_norm(tape, x, weight_, bias_, eps_);
}

}  // namespace xgrad::layers
