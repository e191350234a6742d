// MLPBlock: GPT-2's feed-forward sublayer. x (..., C) -> Linear "fc" (C, 4C) -> gelu (tanh
// approximation) -> Linear "proj" (4C, C) -> dropout.
#pragma once

#include "core/init/initializers.hpp"
#include "core/ops.hpp"
#include "layers/common.hpp"
#include "layers/linear.hpp"
#include "layers/scope.hpp"

namespace xgrad::layers {

struct MLPBlockOptions {
  // GPT-2's: normal(0.02) for fc; TransformerBlock passes normal(0.02 / sqrt(2 L)) for proj,
  // the projection that writes into the residual stream.
  Initializer fc_init = initializers::normal(0.02f);
  Initializer proj_init = initializers::normal(0.02f);
  bool use_bias = true;  // zeros biases in both projections; false: none
  float dropout = 0.0f;  // on the output, training only
};

class MLPBlock {
 public:
  // Hidden width 4C; the projections are scope.child("fc") and scope.child("proj"). Throws
  // std::invalid_argument for C = 0 or dropout outside [0, 1), before anything is drawn.
  MLPBlock(const Scope& scope, std::size_t embed_dim, MLPBlockOptions options = {});

  // x (..., C) -> (..., C). Dropout as in CausalSelfAttention: only when `training` and on
  // a training tape, with its mask drawn from dropout_key.
  Tensor operator()(Tape& tape, const Tensor& x, const Key& dropout_key, bool training = true) const;

  const Linear& fc() const { return fc_; }
  const Linear& proj() const { return proj_; }
  float dropout_rate() const { return dropout_; }

 private:
  Linear fc_;
  Linear proj_;
  float dropout_;
};

}  // namespace xgrad::layers
