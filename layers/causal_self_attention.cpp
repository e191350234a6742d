// CausalSelfAttention: construction checks, keys per child, and the forward call.
#include "layers/causal_self_attention.hpp"

#include <stdexcept>

namespace xgrad::layers {

namespace {

LinearOptions projection(const Initializer& init, const std::string& name) {
  LinearOptions options;
  options.kernel_init = init;
  options.name = name;  // the bias stays zeros, so its key is never drawn from
  return options;
}

// Runs before the first member is built, so a bad config draws nothing.
std::size_t checked_embed_dim(std::size_t embed_dim, std::size_t heads, float dropout, const std::string& name) {
  if (embed_dim == 0 || heads == 0 || embed_dim % heads != 0) {
    throw std::invalid_argument("CausalSelfAttention " + name + ": heads (" + std::to_string(heads) +
                                ") must be positive and divide embed_dim (" + std::to_string(embed_dim) + ")");
  }
  check_dropout_rate(dropout, "CausalSelfAttention " + name);
  return embed_dim;
}

}  // namespace

CausalSelfAttention::CausalSelfAttention(std::size_t embed_dim, std::size_t heads, const Key& key,
                                         CausalSelfAttentionOptions options)
    : qkv_(checked_embed_dim(embed_dim, heads, options.dropout, options.name), 3 * embed_dim,
           child_key(key, "qkv"), projection(options.qkv_init, options.name + ".qkv")),
      proj_(embed_dim, embed_dim, child_key(key, "proj"), projection(options.proj_init, options.name + ".proj")),
      heads_(heads),
      dropout_(options.dropout) {}

Tensor CausalSelfAttention::operator()(Tape& tape, const Tensor& x, const Key& dropout_key,
                                       bool training) const {
  Tensor y = proj_(tape, causal_self_attention(tape, qkv_(tape, x), heads_));
  if (!training || dropout_ == 0.0f) return y;
  return dropout(tape, y, dropout_, dropout_key);
}

std::vector<Tensor> CausalSelfAttention::parameters() const {
  return {qkv_.kernel(), qkv_.bias(), proj_.kernel(), proj_.bias()};
}

}  // namespace xgrad::layers
