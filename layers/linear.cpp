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
  Tensor y = matmul(tape, x, kernel_);
  return bias_.defined() ? add_bias(tape, y, bias_) : y;
}

std::vector<Tensor> Linear::parameters() const {
  if (bias_.defined()) return {kernel_, bias_};
  return {kernel_};
}

}  // namespace xgrad::layers
