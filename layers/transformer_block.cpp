// TransformerBlock: GPT-2's initialisation scheme and the pre-norm forward pass.
#include "layers/transformer_block.hpp"

#include <cmath>
#include <stdexcept>

namespace xgrad::layers {
namespace {

// Runs before the first member is built, so a bad config draws nothing. The sublayers
// check C, heads and the dropout rates themselves; the first of them (ln1) draws no key
// and registers only after its own checks, so those are checked here too.
const Scope& checked(const Scope& scope, std::size_t embed_dim, std::size_t heads,
                     const TransformerBlockOptions& options) {
  const std::string who = "TransformerBlock " + scope.path();
  if (options.layers == 0) throw std::invalid_argument(who + ": layers (L) must be positive");
  if (!(std::isfinite(options.init_stddev) && options.init_stddev > 0.0f)) {
    throw std::invalid_argument(who + ": init_stddev must be positive and finite, got " +
                                std::to_string(options.init_stddev));
  }
  check_heads(embed_dim, heads, who);
  check_dropout_rate(options.dropout, who);
  check_dropout_rate(options.attention_dropout, who, "attention_dropout");
  return scope;
}

float residual_stddev(const TransformerBlockOptions& options) {
  return static_cast<float>(static_cast<double>(options.init_stddev) /
                            std::sqrt(2.0 * static_cast<double>(options.layers)));
}

CausalSelfAttentionOptions attention_options(const TransformerBlockOptions& options) {
  CausalSelfAttentionOptions out;
  out.qkv_init = initializers::normal(options.init_stddev);
  out.proj_init = initializers::normal(residual_stddev(options));
  out.use_bias = options.use_bias;
  out.dropout = options.dropout;
  out.attention_dropout = options.attention_dropout;
  return out;
}

MLPBlockOptions mlp_options(const TransformerBlockOptions& options) {
  MLPBlockOptions out;
  out.fc_init = initializers::normal(options.init_stddev);
  out.proj_init = initializers::normal(residual_stddev(options));
  out.use_bias = options.use_bias;
  out.dropout = options.dropout;
  return out;
}

LayerNormOptions norm_options(bool use_bias) {
  LayerNormOptions out;
  out.use_bias = use_bias;
  return out;
}

}  // namespace

TransformerBlock::TransformerBlock(const Scope& scope, std::size_t embed_dim, std::size_t heads,
                                   TransformerBlockOptions options)
    : ln1_(checked(scope, embed_dim, heads, options).child("ln1"), embed_dim, norm_options(options.use_bias)),
      attn_(scope.child("attn"), embed_dim, heads, attention_options(options)),
      ln2_(scope.child("ln2"), embed_dim, norm_options(options.use_bias)),
      mlp_(scope.child("mlp"), embed_dim, mlp_options(options)) {}

Tensor TransformerBlock::operator()(Tape& tape, const Tensor& x, const Key& dropout_key,
                                    bool training) const {
  const Tensor h = add(tape, x, attn_(tape, ln1_(tape, x), random::fold_in(dropout_key, 0), training));
  return add(tape, h, mlp_(tape, ln2_(tape, h), random::fold_in(dropout_key, 1), training));
}

}  // namespace xgrad::layers
