// TransformerBlock: GPT-2's pre-norm block, x + attn(ln1(x)), then x + mlp(ln2(x)), with
// GPT-2's initialisation: kernels normal(0.02), the two projections into the residual stream
// (attn.proj, mlp.proj) normal(0.02 / sqrt(2 L)) for a model of L blocks, biases zeros,
// LayerNorm weights ones. Its sublayers are the scope's children "ln1", "attn", "ln2", "mlp",
// so each kernel's key and name follow its path ("h0.attn.qkv.kernel") and the same key
// gives the same block.
#pragma once

#include "layers/causal_self_attention.hpp"
#include "layers/layer_norm.hpp"
#include "layers/mlp_block.hpp"
#include "layers/scope.hpp"

namespace xgrad::layers {

struct TransformerBlockOptions {
  // L, the number of blocks in the model: the residual projections' stddev is
  // init_stddev / sqrt(2 L) (two residual additions per block).
  std::size_t layers = 1;
  float init_stddev = 0.02f;
  bool use_bias = true;  // false: no bias in any Linear or LayerNorm (nanoGPT's bias=False)
  float dropout = 0.0f;  // on both sublayers' outputs, training only
  float attention_dropout = 0.0f;  // on the attention weights, training only
};

class TransformerBlock {
 public:
  // Parameters in the order ln1, attn (qkv, proj), ln2, mlp (fc, proj). Throws
  // std::invalid_argument for C, heads or layers 0, heads not dividing C, a stddev that is
  // not positive and finite, or dropout or attention_dropout outside [0, 1), before anything
  // is drawn.
  TransformerBlock(const Scope& scope, std::size_t embed_dim, std::size_t heads, TransformerBlockOptions options = {});

  // x (B, T, C) -> (B, T, C). The two dropouts draw from keys folded out of dropout_key
  // (0 for attention, 1 for the MLP; the attention weights' from the attention's, see
  // CausalSelfAttention); they apply only when `training` and on a training tape.
  Tensor operator()(Tape& tape, const Tensor& x, const Key& dropout_key, bool training = true) const;

  const LayerNorm& ln1() const { return ln1_; }
  const CausalSelfAttention& attn() const { return attn_; }
  const LayerNorm& ln2() const { return ln2_; }
  const MLPBlock& mlp() const { return mlp_; }

 private:
  LayerNorm ln1_;
  CausalSelfAttention attn_;
  LayerNorm ln2_;
  MLPBlock mlp_;
};

}  // namespace xgrad::layers
