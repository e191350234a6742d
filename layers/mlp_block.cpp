// MLPBlock: construction and the forward call.
#include "layers/mlp_block.hpp"

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
std::size_t checked_embed_dim(std::size_t embed_dim, float dropout, const std::string& name) {
  if (embed_dim == 0) throw std::invalid_argument("MLPBlock " + name + ": embed_dim must be positive");
  check_dropout_rate(dropout, "MLPBlock " + name);
  return embed_dim;
}

}  // namespace

MLPBlock::MLPBlock(std::size_t embed_dim, const Key& key, MLPBlockOptions options)
    : fc_(checked_embed_dim(embed_dim, options.dropout, options.name), 4 * embed_dim, child_key(key, "fc"),
          projection(options.fc_init, options.name + ".fc")),
      proj_(4 * embed_dim, embed_dim, child_key(key, "proj"), projection(options.proj_init, options.name + ".proj")),
      dropout_(options.dropout) {}

Tensor MLPBlock::operator()(Tape& tape, const Tensor& x, const Key& dropout_key, bool training) const {
  Tensor y = proj_(tape, gelu(tape, fc_(tape, x)));
  if (!training || dropout_ == 0.0f) return y;
  return dropout(tape, y, dropout_, dropout_key);
}

std::vector<Tensor> MLPBlock::parameters() const {
  return {fc_.kernel(), fc_.bias(), proj_.kernel(), proj_.bias()};
}

}  // namespace xgrad::layers
