// Linear: y = x @ kernel + bias with kernel (in, out), as Flax's nn.Dense lays it out. On
// the tape it is one `linear` record (core/ops.hpp), or a `matmul` one without a bias.
#pragma once

#include <string>
#include <vector>

#include "core/init/initializers.hpp"
#include "core/ops.hpp"
#include "layers/scope.hpp"

namespace xgrad::layers {

struct LinearOptions {
  Initializer kernel_init = initializers::lecun_normal();  // Flax nn.Dense's default
  Initializer bias_init = initializers::zeros();
  bool use_bias = true;
  // The key bias_init draws from; only matters for a random bias_init (the scope's own key
  // seeds the kernel, and a key seeds one parameter: layers/scope.hpp).
  Key bias_key{};
  // The standalone constructor's path: "<name>.kernel", "<name>.bias".
  std::string name = "linear";
};

class Linear {
 public:
  // "<path>.kernel" drawn from the scope's key, "<path>.bias" (unless use_bias is false) by
  // bias_init from bias_key. Throws std::invalid_argument when in_features or out_features
  // is 0, before anything is drawn.
  Linear(const Scope& scope, std::size_t in_features, std::size_t out_features, LinearOptions options = {});
  // A layer standing alone: the same as Linear(Scope(kernel_key, options.name), in, out, options).
  Linear(std::size_t in_features, std::size_t out_features, const Key& kernel_key, LinearOptions options = {});

  // x (..., in) -> (..., out).
  Tensor operator()(Tape& tape, const Tensor& x) const;

  const Tensor& kernel() const { return kernel_; }
  // Undefined (Tensor::defined() is false) when use_bias is false.
  const Tensor& bias() const { return bias_; }
  std::vector<Tensor> parameters() const;

 private:
  Tensor kernel_;
  Tensor bias_;
};

}  // namespace xgrad::layers
