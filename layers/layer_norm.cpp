// LayerNorm: construction checks and the forward call.
#include "layers/layer_norm.hpp"

#include <cmath>
#include <stdexcept>

namespace xgrad::layers {

LayerNorm::LayerNorm(const Scope& scope, std::size_t features, LayerNormOptions options) : eps_(options.eps) {
  if (features == 0) throw std::invalid_argument("LayerNorm " + scope.path() + ": features must be positive");
  if (!(std::isfinite(options.eps) && options.eps > 0.0f)) {
    throw std::invalid_argument("LayerNorm " + scope.path() + ": eps must be positive and finite, got " +
                                std::to_string(options.eps));
  }
  Array ones = zeros_array({features});
  ones.fill(1.0f);
  weight_ = scope.param("weight", std::move(ones));
  bias_ = options.use_bias ? scope.param("bias", zeros_array({features})) : Tensor(zeros_array({features}));
}

Tensor LayerNorm::operator()(Tape& tape, const Tensor& x) const {
  return layer_norm(tape, x, weight_, bias_, eps_);
}

std::vector<Tensor> LayerNorm::parameters() const {
  if (has_bias()) return {weight_, bias_};
  return {weight_};
}

}  // namespace xgrad::layers
