// LayerNorm: normalisation over the last axis with a trainable scale and shift, as
// torch.nn.LayerNorm(C) lays it out (weight ones, bias zeros, eps 1e-5). The arithmetic is
// the layer_norm op's (core/ops.hpp); this class only owns the two parameters.
#pragma once

#include <string>
#include <vector>

#include "core/ops.hpp"

namespace xgrad::layers {

struct LayerNormOptions {
  float eps = 1e-5f;
  // Parameter name prefix: "<name>.weight", "<name>.bias".
  std::string name = "ln";
};

class LayerNorm {
 public:
  // Throws std::invalid_argument when features is 0 or eps is not positive and finite.
  explicit LayerNorm(std::size_t features, LayerNormOptions options = {});

  // x (..., C) -> (..., C).
  Tensor operator()(Tape& tape, const Tensor& x) const;

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  float eps() const { return eps_; }
  std::size_t features() const { return weight_.shape()[0]; }
  std::vector<Tensor> parameters() const { return {weight_, bias_}; }

 private:
  Tensor weight_;
  Tensor bias_;
  float eps_;
};

}  // namespace xgrad::layers
