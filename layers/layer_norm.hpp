// LayerNorm: normalisation over the last axis with a trainable scale and shift, as
// torch.nn.LayerNorm(C) lays it out (weight ones, bias zeros, eps 1e-5), or without the
// shift (use_bias false: nanoGPT's bias=False). The arithmetic is the layer_norm op's
// (core/ops.hpp); this class only owns the parameters.
#pragma once

#include <vector>

#include "core/ops.hpp"
#include "layers/scope.hpp"

namespace xgrad::layers {

struct LayerNormOptions {
  float eps = 1e-5f;
  // false: no "<path>.bias" parameter; the op adds a constant zero row, which needs no gradient.
  bool use_bias = true;
};

class LayerNorm {
 public:
  // "<path>.weight" (ones) and "<path>.bias" (zeros), given values: no key is drawn.
  // Throws std::invalid_argument when features is 0 or eps is not positive and finite.
  LayerNorm(const Scope& scope, std::size_t features, LayerNormOptions options = {});

  // x (..., C) -> (..., C).
  Tensor operator()(Tape& tape, const Tensor& x) const;

  const Tensor& weight() const { return weight_; }
  // A constant (requires_grad false, not a parameter) when use_bias is false.
  const Tensor& bias() const { return bias_; }
  bool has_bias() const { return bias_.requires_grad(); }
  float eps() const { return eps_; }
  std::size_t features() const { return weight_.shape()[0]; }
  // weight, and bias when it has one.
  std::vector<Tensor> parameters() const;

 private:
  Tensor weight_;
  Tensor bias_;
  float eps_;
};

}  // namespace xgrad::layers
