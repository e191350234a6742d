// CausalSelfAttention: GPT-2's attention sublayer. x (B, T, C) -> Linear "qkv" (C, 3C) ->
// the causal_self_attention op (H heads) -> Linear "proj" (C, C) -> dropout. The softmax and
// the head split live in the op (core/ops.hpp); this class owns the two projections.
// Optional dropout on the attention weights too (attention_dropout, inside the op), as
// nanoGPT's attn_dropout.
#pragma once

#include <cstdint>
#include <string>

#include "core/init/initializers.hpp"
#include "core/ops.hpp"
#include "layers/common.hpp"
#include "layers/linear.hpp"
#include "layers/scope.hpp"

namespace xgrad::layers {

// The fold_in constant of the attention weights' dropout key (the output's uses dropout_key
// itself).
constexpr std::uint32_t kAttentionDropoutStream = 1;

struct CausalSelfAttentionOptions {
  // GPT-2's: normal(0.02) for qkv; TransformerBlock passes normal(0.02 / sqrt(2 L)) for proj,
  // the projection that writes into the residual stream.
  Initializer qkv_init = initializers::normal(0.02f);
  Initializer proj_init = initializers::normal(0.02f);
  bool use_bias = true;  // zeros biases in both projections; false: none (nanoGPT's bias=False)
  float dropout = 0.0f;  // on the output, training only
  // On the attention weights A (B, H, T, T), training only; its mask is drawn from
  // fold_in(dropout_key, kAttentionDropoutStream), so the output's mask stays as it was.
  float attention_dropout = 0.0f;
};

class CausalSelfAttention {
 public:
  // embed_dim C split into `heads` heads; the projections are scope.child("qkv") and
  // scope.child("proj"). Throws std::invalid_argument for C or heads 0, heads not dividing
  // C, or dropout or attention_dropout outside [0, 1), before anything is drawn.
  CausalSelfAttention(const Scope& scope, std::size_t embed_dim, std::size_t heads,
                      CausalSelfAttentionOptions options = {});

  // x (B, T, C) -> (B, T, C). Dropout (rate > 0) applies only when `training` is true and
  // the tape is a training tape; the output's mask is drawn from dropout_key, the attention
  // weights' from fold_in(dropout_key, kAttentionDropoutStream).
  Tensor operator()(Tape& tape, const Tensor& x, const Key& dropout_key, bool training = true) const;

  const Linear& qkv() const { return qkv_; }
  const Linear& proj() const { return proj_; }
  std::size_t heads() const { return heads_; }
  float dropout_rate() const { return dropout_; }
  float attention_dropout_rate() const { return attention_dropout_; }

 private:
  Linear qkv_;
  Linear proj_;
  std::size_t heads_;
  float dropout_;
  float attention_dropout_;
};

}  // namespace xgrad::layers
