// Linear: construction and forward.
#include "layers/linear.hpp"

#include <stdexcept>

#include "core/errors.hpp"

namespace xgrad::layers {

Linear::Linear(const Scope& scope, std::size_t in_features, std::size_t out_features, LinearOptions options) {
  if (in_features == 0 || out_features == 0) {
    throw std::invalid_argument("Linear " + scope.path() + ": in_features and out_features must be positive, got " +
                                std::to_string(in_features) + " and " + std::to_string(out_features));
  }
  if (options.use_bias) {  // drawn first but registered after the kernel, so a bad one leaves the list alone
    Array bias = options.bias_init(options.bias_key, {out_features});
    if (shape_of(bias) != Shape{out_features}) {
      throw ShapeError("Linear: the initializer of " + scope.path() + ".bias returned shape " +
                       shape_string(shape_of(bias)) + ", expected " + shape_string({out_features}));
    }
    kernel_ = scope.param("kernel", options.kernel_init, {in_features, out_features});
    bias_ = scope.param("bias", std::move(bias));
  } else {
    kernel_ = scope.param("kernel", options.kernel_init, {in_features, out_features});
  }
}

Linear::Linear(std::size_t in_features, std::size_t out_features, const Key& kernel_key, LinearOptions options)
    : Linear(Scope(kernel_key, options.name), in_features, out_features, options) {}

Tensor Linear::operator()(Tape& tape, const Tensor& x) const {
  // The fused op saves a pass over y each way; see core/ops.hpp's linear for its bits.
  return bias_.defined() ? linear(tape, x, kernel_, bias_) : matmul(tape, x, kernel_);
}

std::vector<Tensor> Linear::parameters() const {
  if (bias_.defined()) return {kernel_, bias_};
  return {kernel_};
}

}  // namespace xgrad::layers
