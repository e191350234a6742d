// Embed: a trainable (V, D) token table. Forward gathers one row per id; backward
// scatter-adds into a row-sparse gradient, so a step costs what the used rows cost.
// Mirrors Flax's nn.Embed (same default init, same attend), but refuses bad ids instead
// of wrapping negative ones and returning NaN rows for ids >= V.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/init/initializers.hpp"
#include "core/ops.hpp"
#include "layers/scope.hpp"

namespace xgrad::layers {

struct EmbedOptions {
  // Flax's default: N(0, 1/D) via variance_scaling(1, fan_in, normal, out_axis=0).
  Initializer init = initializers::flax_embed_default();
  // Tokens with this id get their row in the output but send no gradient to it.
  // (Unlike PyTorch, the row is not zeroed at init, so the table stays Flax's.)
  std::optional<std::int32_t> padding_idx;
  // The standalone constructor's path: its table is "<name>.embedding".
  std::string name = "embed";
  // The table's name in its scope, "<path>.embedding" as Flax's; empty names the table by
  // the scope's path itself (GPT-2's "wte").
  std::string table_name = "embedding";
};

class Embed {
 public:
  // A table of num_embeddings (V) rows of features (D) floats, drawn by options.init from
  // the scope's key and registered in its list. Throws std::invalid_argument when V or D is
  // 0 or padding_idx is not in [0, V), before anything is drawn.
  Embed(const Scope& scope, std::size_t num_embeddings, std::size_t features, EmbedOptions options = {});
  // A layer standing alone: the same as Embed(Scope(key, options.name), V, D, options).
  Embed(std::size_t num_embeddings, std::size_t features, const Key& key, EmbedOptions options = {});

  // ids (T,) -> (T, D); ids (B, T) -> (B, T, D). Throws TokenIdOutOfRange (naming the
  // table, the position, the id and V) before touching anything.
  Tensor operator()(Tape& tape, const TokenIds& ids) const;

  // query (..., D) @ embedding^T -> (..., V): logits against every token, for weight
  // tying. The table's gradient from attend is dense; with a gather in the same step it
  // receives both contributions.
  Tensor attend(Tape& tape, const Tensor& query) const;

  const Tensor& embedding() const { return embedding_; }
  std::size_t num_embeddings() const { return embedding_.shape()[0]; }
  std::size_t features() const { return embedding_.shape()[1]; }
  std::optional<std::int32_t> padding_idx() const { return padding_idx_; }
  std::vector<Tensor> parameters() const { return {embedding_}; }

 private:
  Tensor embedding_;
  std::optional<std::int32_t> padding_idx_;
};

}  // namespace xgrad::layers
