// Embed: construction checks, gather and attend.
#include "layers/embed.hpp"

#include <stdexcept>

namespace xgrad::layers {

Embed::Embed(const Scope& scope, std::size_t num_embeddings, std::size_t features, EmbedOptions options)
    : padding_idx_(options.padding_idx) {
  if (num_embeddings == 0 || features == 0) {
    throw std::invalid_argument("Embed: num_embeddings (V) and features (D) must be positive, got V = " +
                                std::to_string(num_embeddings) + ", D = " + std::to_string(features));
  }
  if (padding_idx_ && (*padding_idx_ < 0 || static_cast<std::size_t>(*padding_idx_) >= num_embeddings)) {
    throw std::invalid_argument("Embed: padding_idx " + std::to_string(*padding_idx_) +
                                " is out of range [0, " + std::to_string(num_embeddings) + ")");
  }
  embedding_ = scope.param(options.table_name, options.init, {num_embeddings, features});
}

Embed::Embed(std::size_t num_embeddings, std::size_t features, const Key& key, EmbedOptions options)
    : Embed(Scope(key, options.name), num_embeddings, features, options) {}

Tensor Embed::operator()(Tape& tape, const TokenIds& ids) const {
  return embedding_lookup(tape, embedding_, ids, padding_idx_);
}

Tensor Embed::attend(Tape& tape, const Tensor& query) const {
  return matmul_transposed(tape, query, embedding_);
}

}  // namespace xgrad::layers
