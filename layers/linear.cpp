// Linear: construction and forward.
#include "layers/linear.hpp"

#include <stdexcept>

namespace xgrad::layers {
namespace {

Tensor make_parameter(const Initializer& init, const Key& key, const Shape& shape,
                      const std::string& name) {
  Array value = init(key, shape);
  if (shape_of(value) != shape) {
    throw ShapeError("Linear: the initializer of " + name + " returned shape " +
                     shape_string(shape_of(value)) + ", expected " + shape_string(shape));
  }
  return Tensor::parameter(std::move(value), name);
}

}  // namespace

Linear::Linear(std::size_t in_features, std::size_t out_features, const Key& kernel_key,
               LinearOptions options) {
  if (in_features == 0 || out_features == 0) {
    throw std::invalid_argument("Linear: in_features and out_features must be positive, got " +
                                std::to_string(in_features) + " and " +
                                std::to_string(out_features));
  }
  kernel_ = make_parameter(options.kernel_init, kernel_key, {in_features, out_features},
                           options.name + ".kernel");
  if (options.use_bias) {
    bias_ = make_parameter(options.bias_init, options.bias_key, {out_features},
                           options.name + ".bias");
  }
}

Tensor Linear::operator()(Tape& tape, const Tensor& x) const {
  // The fused op saves a pass over y each way; see core/ops.hpp's linear for its bits.
  return bias_.defined() ? linear(tape, x, kernel_, bias_) : matmul(tape, x, kernel_);
}

std::vector<Tensor> Linear::parameters() const {
  if (bias_.defined()) return {kernel_, bias_};
  return {kernel_};
}

}  // namespace xgrad::layers
