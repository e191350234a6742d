// TransformerBlock: GPT-2's initialisation scheme and the pre-norm forward pass.
#include "layers/transformer_block.hpp"

#include <cmath>
#include <stdexcept>

namespace xgrad::layers {
namespace {

// Runs before the first member is built, so a bad config draws nothing.
std::size_t checked_embed_dim(std::size_t embed_dim, const TransformerBlockOptions& options) {
  if (options.layers == 0) {
    throw std::invalid_argument("TransformerBlock " + options.name + ": layers (L) must be positive");
  }
  if (!(std::isfinite(options.init_stddev) && options.init_stddev > 0.0f)) {
    throw std::invalid_argument("TransformerBlock " + options.name +
                                ": init_stddev must be positive and finite, got " +
                                std::to_string(options.init_stddev));
  }
  return embed_dim;
}

float residual_stddev(const TransformerBlockOptions& options) {
  return static_cast<float>(static_cast<double>(options.init_stddev) /
                            std::sqrt(2.0 * static_cast<double>(options.layers)));
}

CausalSelfAttentionOptions attention_options(const TransformerBlockOptions& options) {
  CausalSelfAttentionOptions out;
  out.qkv_init = initializers::normal(options.init_stddev);
  out.proj_init = initializers::normal(residual_stddev(options));
  out.dropout = options.dropout;
  out.attention_dropout = options.attention_dropout;
  out.name = options.name + ".attn";
  return out;
}

MLPBlockOptions mlp_options(const TransformerBlockOptions& options) {
  MLPBlockOptions out;
  out.fc_init = initializers::normal(options.init_stddev);
  out.proj_init = initializers::normal(residual_stddev(options));
  out.dropout = options.dropout;
  out.name = options.name + ".mlp";
  return out;
}

LayerNormOptions norm_options(const std::string& name) {
  LayerNormOptions out;
  out.name = name;
  return out;
}

}  // namespace

TransformerBlock::TransformerBlock(std::size_t embed_dim, std::size_t heads, const Key& key,
                                   TransformerBlockOptions options)
    : ln1_(checked_embed_dim(embed_dim, options), norm_options(options.name + ".ln1")),
      attn_(embed_dim, heads, child_key(key, "attn"), attention_options(options)),
      ln2_(embed_dim, norm_options(options.name + ".ln2")),
      mlp_(embed_dim, child_key(key, "mlp"), mlp_options(options)) {}

Tensor TransformerBlock::operator()(Tape& tape, const Tensor& x, const Key& dropout_key,
                                    bool training) const {
  const Tensor h = add(tape, x, attn_(tape, ln1_(tape, x), random::fold_in(dropout_key, 0), training));
  return add(tape, h, mlp_(tape, ln2_(tape, h), random::fold_in(dropout_key, 1), training));
}

std::vector<Tensor> TransformerBlock::parameters() const {
  std::vector<Tensor> out = ln1_.parameters();
  const auto append = [&out](std::vector<Tensor> more) { out.insert(out.end(), more.begin(), more.end()); };
  append(attn_.parameters());
  append(ln2_.parameters());
  append(mlp_.parameters());
  return out;
}

}  // namespace xgrad::layers
