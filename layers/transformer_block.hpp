// TransformerBlock: GPT-2's pre-norm block, x + attn(ln1(x)), then x + mlp(ln2(x)), with
// GPT-2's initialisation: kernels normal(0.02), the two projections into the residual stream
// (attn.proj, mlp.proj) normal(0.02 / sqrt(2 L)) for a model of L blocks, biases zeros,
// LayerNorm weights ones. Each kernel is drawn from a key folded out of the block's key by
// its path ("attn" then "qkv", ...), so the same key gives the same block.
#pragma once

#include <string>
#include <vector>

#include "layers/causal_self_attention.hpp"
#include "layers/layer_norm.hpp"
#include "layers/mlp_block.hpp"

namespace xgrad::layers {

struct TransformerBlockOptions {
  // L, the number of blocks in the model: the residual projections' stddev is
  // init_stddev / sqrt(2 L) (two residual additions per block).
  std::size_t layers = 1;
  float init_stddev = 0.02f;
  float dropout = 0.0f;  // on both sublayers' outputs, training only
  float attention_dropout = 0.0f;  // on the attention weights, training only
  // Parameter name prefix: "<name>.ln1.weight", "<name>.attn.qkv.kernel", ...
  std::string name = "h0";
};

class TransformerBlock {
 public:
  // Throws std::invalid_argument for C, heads or layers 0, heads not dividing C, a stddev
  // that is not positive and finite, or dropout or attention_dropout outside [0, 1).
  TransformerBlock(std::size_t embed_dim, std::size_t heads, const Key& key,
                   TransformerBlockOptions options = {});

  // x (B, T, C) -> (B, T, C). The two dropouts draw from keys folded out of dropout_key
  // (0 for attention, 1 for the MLP; the attention weights' from the attention's, see
  // CausalSelfAttention); they apply only when `training` and on a training tape.
  Tensor operator()(Tape& tape, const Tensor& x, const Key& dropout_key, bool training = true) const;

  const LayerNorm& ln1() const { return ln1_; }
  const CausalSelfAttention& attn() const { return attn_; }
  const LayerNorm& ln2() const { return ln2_; }
  const MLPBlock& mlp() const { return mlp_; }
  // ln1, attn, ln2, mlp, in that order.
  std::vector<Tensor> parameters() const;

 private:
  LayerNorm ln1_;
  CausalSelfAttention attn_;
  LayerNorm ln2_;
  MLPBlock mlp_;
};

}  // namespace xgrad::layers
