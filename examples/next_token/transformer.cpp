// The toy GPT: construction with a key per parameter path, and the forward pass.
#include "transformer.hpp"

#include <sstream>
#include <stdexcept>

namespace next_token {

using namespace xgrad;

namespace {

constexpr float kInitStddev = 0.02f;  // GPT-2's

// Runs before the first member is built, so a bad config draws nothing.
const TransformerConfig& checked(const TransformerConfig& c) {
  if (c.vocab == 0 || c.context == 0 || c.layers == 0 || c.heads == 0 || c.embed_dim == 0) {
    throw std::invalid_argument("Transformer: vocab, context, layers, heads and embed_dim must be positive, got V = " +
                                std::to_string(c.vocab) + ", T = " + std::to_string(c.context) +
                                ", L = " + std::to_string(c.layers) + ", H = " + std::to_string(c.heads) +
                                ", C = " + std::to_string(c.embed_dim));
  }
  if (c.embed_dim % c.heads != 0) {
    throw std::invalid_argument("Transformer: heads (" + std::to_string(c.heads) + ") must divide embed_dim (" +
                                std::to_string(c.embed_dim) + ")");
  }
  layers::check_dropout_rate(c.dropout, "Transformer");
  if (!(c.attention_dropout >= 0.0f && c.attention_dropout < 1.0f)) {
    throw std::invalid_argument("Transformer: attention_dropout must lie in [0, 1), got " +
                                std::to_string(c.attention_dropout));
  }
  return c;
}

layers::Embed make_embed(const layers::Scope& scope, std::size_t rows, std::size_t width) {
  layers::EmbedOptions options;
  options.init = initializers::normal(kInitStddev);
  options.table_name = "";  // the table is the scope: "wte"
  return layers::Embed(scope, rows, width, options);
}

std::vector<layers::TransformerBlock> make_blocks(const TransformerConfig& c, const layers::Scope& root) {
  layers::TransformerBlockOptions options;
  options.layers = c.layers;
  options.init_stddev = kInitStddev;
  options.dropout = c.dropout;
  options.attention_dropout = c.attention_dropout;
  std::vector<layers::TransformerBlock> blocks;
  blocks.reserve(c.layers);
  for (std::size_t i = 0; i < c.layers; ++i) blocks.emplace_back(root.child("h" + std::to_string(i)), c.embed_dim, c.heads, options);
  return blocks;
}

layers::LinearOptions head_options() {
  layers::LinearOptions options;
  options.kernel_init = initializers::normal(kInitStddev);
  options.use_bias = false;
  return options;
}

TokenIds positions(std::size_t count) {
  std::vector<std::int64_t> ids(count);
  for (std::size_t t = 0; t < count; ++t) ids[t] = static_cast<std::int64_t>(t);
  return TokenIds(ids);
}

}  // namespace

std::string describe(const TransformerConfig& c) {
  const std::string C = std::to_string(c.embed_dim);
  std::string out = "GPT: wte(" + std::to_string(c.vocab) + ", " + C + ") + wpe(" + std::to_string(c.context) +
                    ", " + C + ") -> " + std::to_string(c.layers) + " x [ln -> attention " +
                    std::to_string(c.heads) + " heads -> ln -> MLP " + std::to_string(4 * c.embed_dim) +
                    "] -> ln_f -> Dense " + std::to_string(c.vocab);
  // Six significant digits: 0.2f prints as 0.2.
  const auto rate = [](float r) {
    std::ostringstream text;
    text << r;
    return text.str();
  };
  if (c.dropout > 0.0f) out += ", dropout " + rate(c.dropout);
  if (c.attention_dropout > 0.0f) out += ", attention dropout " + rate(c.attention_dropout);
  return out;
}

Transformer::Transformer(const TransformerConfig& config, std::int64_t seed)
    : config_(checked(config)),
      scope_(random::prng_key(seed)),
      wte_(make_embed(scope_.child("wte"), config.vocab, config.embed_dim)),
      wpe_(make_embed(scope_.child("wpe"), config.context, config.embed_dim)),
      blocks_(make_blocks(config, scope_)),
      ln_f_(scope_.child("ln_f"), config.embed_dim),
      head_(scope_.child("head"), config.embed_dim, config.vocab, head_options()),
      positions_(positions(config.context)) {}

Tensor Transformer::logits(Tape& tape, const TokenIds& ids, const Key& dropout_key) const {
  const Shape& shape = ids.shape();
  if (shape.size() != 2 || shape[0] == 0 || shape[1] == 0 || shape[1] > config_.context) {
    throw ShapeError("Transformer: ids must be (B, T) with B >= 1 and 1 <= T <= context " +
                     std::to_string(config_.context) + ", got " + shape_string(shape));
  }
  const std::size_t T = shape[1];
  Tensor x = wte_(tape, ids);                                                        // (B, T, C)
  x = add_broadcast(tape, x, wpe_(tape, T == config_.context ? positions_ : positions(T)));  // + (T, C)
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    x = blocks_[i](tape, x, random::fold_in(dropout_key, static_cast<std::uint32_t>(i)));
  }
  return head_(tape, ln_f_(tape, x));                                                // (B, T, V)
}

std::vector<Transformer::Parameter> Transformer::parameters() const {
  std::vector<Parameter> out;
  for (const layers::NamedParameter& p : scope_.parameters()) out.push_back({p.name, p.tensor});
  return out;
}

std::vector<Tensor> Transformer::tensors() const {
  std::vector<Tensor> out;
  for (const Parameter& p : parameters()) out.push_back(p.tensor);
  return out;
}

std::size_t Transformer::parameter_count() const {
  std::size_t n = 0;
  for (const Parameter& p : parameters()) n += p.tensor.size();
  return n;
}

}  // namespace next_token
