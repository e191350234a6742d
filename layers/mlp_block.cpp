// MLPBlock: construction and the forward call.
#include "layers/mlp_block.hpp"

#include <stdexcept>

namespace xgrad::layers {
namespace {

// Runs before the first member is built, so a bad config draws nothing.
const Scope& checked(const Scope& scope, std::size_t embed_dim, float dropout) {
  if (embed_dim == 0) throw std::invalid_argument("MLPBlock " + scope.path() + ": embed_dim must be positive");
  check_dropout_rate(dropout, "MLPBlock " + scope.path());
  return scope;
}

}  // namespace

MLPBlock::MLPBlock(const Scope& scope, std::size_t embed_dim, MLPBlockOptions options)
    : fc_(checked(scope, embed_dim, options.dropout).child("fc"), embed_dim, 4 * embed_dim,
          projection_options(options.fc_init, options.use_bias)),
      proj_(scope.child("proj"), 4 * embed_dim, embed_dim, projection_options(options.proj_init, options.use_bias)),
      dropout_(options.dropout) {}

Tensor MLPBlock::operator()(Tape& tape, const Tensor& x, const Key& dropout_key, bool training) const {
  Tensor y = proj_(tape, gelu(tape, fc_(tape, x)));
  if (!training || dropout_ == 0.0f) return y;
  return dropout(tape, y, dropout_, dropout_key);
}

}  // namespace xgrad::layers
