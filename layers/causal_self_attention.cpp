// CausalSelfAttention: construction checks, keys per child, and the forward call.
#include "layers/causal_self_attention.hpp"

#include <stdexcept>

namespace xgrad::layers {

namespace {

// Runs before the first member is built, so a bad config draws nothing.
std::size_t checked_embed_dim(std::size_t embed_dim, std::size_t heads, const CausalSelfAttentionOptions& options) {
  const std::string& name = options.name;
  if (embed_dim == 0 || heads == 0 || embed_dim % heads != 0) {
    throw std::invalid_argument("CausalSelfAttention " + name + ": heads (" + std::to_string(heads) +
                                ") must be positive and divide embed_dim (" + std::to_string(embed_dim) + ")");
  }
  check_dropout_rate(options.dropout, "CausalSelfAttention " + name);
  if (!(options.attention_dropout >= 0.0f && options.attention_dropout < 1.0f)) {
    throw std::invalid_argument("CausalSelfAttention " + name + ": attention_dropout must lie in [0, 1), got " +
                                std::to_string(options.attention_dropout));
  }
  return embed_dim;
}

}  // namespace

CausalSelfAttention::CausalSelfAttention(std::size_t embed_dim, std::size_t heads, const Key& key,
                                         CausalSelfAttentionOptions options)
    : qkv_(checked_embed_dim(embed_dim, heads, options), 3 * embed_dim,
           child_key(key, "qkv"), projection_options(options.qkv_init, options.name + ".qkv")),
      proj_(embed_dim, embed_dim, child_key(key, "proj"),
            projection_options(options.proj_init, options.name + ".proj")),
      heads_(heads),
      dropout_(options.dropout),
      attention_dropout_(options.attention_dropout) {}

Tensor CausalSelfAttention::operator()(Tape& tape, const Tensor& x, const Key& dropout_key,
                                       bool training) const {
  const float attention_rate = training ? attention_dropout_ : 0.0f;
  Tensor y = proj_(tape, causal_self_attention(tape, qkv_(tape, x), heads_, attention_rate,
                                               random::fold_in(dropout_key, kAttentionDropoutStream)));
  if (!training || dropout_ == 0.0f) return y;
  return dropout(tape, y, dropout_, dropout_key);
}

std::vector<Tensor> CausalSelfAttention::parameters() const {
  return {qkv_.kernel(), qkv_.bias(), proj_.kernel(), proj_.bias()};
}

}  // namespace xgrad::layers
