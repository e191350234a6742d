// CausalSelfAttention: GPT-2's attention sublayer. x (B, T, C) -> Linear "qkv" (C, 3C) ->
// the causal_self_attention op (H heads) -> Linear "proj" (C, C) -> dropout. The softmax and
// the head split live in the op (core/ops.hpp); this class owns the two projections.
// No dropout on the attention weights (the op has none), only on the output.
#pragma once

#include <string>
#include <vector>

#include "core/init/initializers.hpp"
#include "core/ops.hpp"
#include "layers/common.hpp"
#include "layers/linear.hpp"

namespace xgrad::layers {

struct CausalSelfAttentionOptions {
  // GPT-2's: normal(0.02) for qkv; TransformerBlock passes normal(0.02 / sqrt(2 L)) for proj,
  // the projection that writes into the residual stream.
  Initializer qkv_init = initializers::normal(0.02f);
  Initializer proj_init = initializers::normal(0.02f);
  float dropout = 0.0f;  // on the output, training only
  // Parameter name prefix: "<name>.qkv.kernel", "<name>.qkv.bias", "<name>.proj.kernel", ...
  std::string name = "attn";
};

class CausalSelfAttention {
 public:
  // embed_dim C split into `heads` heads. The kernels are drawn from keys folded out of
  // `key` by their names ("qkv", "proj"); the biases are zeros. Throws std::invalid_argument
  // for C or heads 0, heads not dividing C, or dropout outside [0, 1).
  CausalSelfAttention(std::size_t embed_dim, std::size_t heads, const Key& key,
                      CausalSelfAttentionOptions options = {});

  // x (B, T, C) -> (B, T, C). Dropout (rate > 0) applies only when `training` is true and
  // the tape is a training tape; its mask is drawn from dropout_key.
  Tensor operator()(Tape& tape, const Tensor& x, const Key& dropout_key, bool training = true) const;

  const Linear& qkv() const { return qkv_; }
  const Linear& proj() const { return proj_; }
  std::size_t heads() const { return heads_; }
  float dropout_rate() const { return dropout_; }
  std::vector<Tensor> parameters() const;

 private:
  Linear qkv_;
  Linear proj_;
  std::size_t heads_;
  float dropout_;
};

}  // namespace xgrad::layers
