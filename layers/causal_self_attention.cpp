// CausalSelfAttention: construction checks, the projections' scopes, and the forward call.
#include "layers/causal_self_attention.hpp"

#include <stdexcept>

namespace xgrad::layers {

namespace {

// Runs before the first member is built, so a bad config draws nothing.
const Scope& checked(const Scope& scope, std::size_t embed_dim, std::size_t heads,
                     const CausalSelfAttentionOptions& options) {
  const std::string who = "CausalSelfAttention " + scope.path();
  check_heads(embed_dim, heads, who);
  check_dropout_rate(options.dropout, who);
  check_dropout_rate(options.attention_dropout, who, "attention_dropout");
  return scope;
}

}  // namespace

CausalSelfAttention::CausalSelfAttention(const Scope& scope, std::size_t embed_dim, std::size_t heads,
                                         CausalSelfAttentionOptions options)
    : qkv_(checked(scope, embed_dim, heads, options).child("qkv"), embed_dim, 3 * embed_dim,
           projection_options(options.qkv_init, options.use_bias)),
      proj_(scope.child("proj"), embed_dim, embed_dim, projection_options(options.proj_init, options.use_bias)),
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

}  // namespace xgrad::layers
