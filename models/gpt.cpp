// GPT: construction from one scope, the forward pass, generation and AdamW's groups.
#include "models/gpt.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "layers/common.hpp"
#include "models/sampling.hpp"

namespace xgrad::models {
namespace {

constexpr float kInitStddev = 0.02f;  // GPT-2's

// Runs before the first member is built, so a bad config draws nothing.
const GPTConfig& checked(const GPTConfig& c) {
  if (c.vocab == 0 || c.context == 0 || c.layers == 0 || c.heads == 0 || c.embed_dim == 0) {
    throw std::invalid_argument("GPT: vocab, context, layers, heads and embed_dim must be positive, got V = " +
                                std::to_string(c.vocab) + ", T = " + std::to_string(c.context) +
                                ", L = " + std::to_string(c.layers) + ", H = " + std::to_string(c.heads) +
                                ", C = " + std::to_string(c.embed_dim));
  }
  if (c.embed_dim % c.heads != 0) {
    throw std::invalid_argument("GPT: heads (" + std::to_string(c.heads) + ") must divide embed_dim (" +
                                std::to_string(c.embed_dim) + ")");
  }
  layers::check_dropout_rate(c.dropout, "GPT");
  layers::check_dropout_rate(c.attention_dropout, "GPT", "attention_dropout");
  return c;
}

layers::Embed make_embed(const layers::Scope& scope, std::size_t rows, std::size_t width) {
  layers::EmbedOptions options;
  options.init = initializers::normal(kInitStddev);
  options.table_name = "";  // the table is the scope: "wte", as nanoGPT's transformer.wte
  return layers::Embed(scope, rows, width, options);
}

std::vector<layers::TransformerBlock> make_blocks(const GPTConfig& c, const layers::Scope& root) {
  layers::TransformerBlockOptions options;
  options.layers = c.layers;
  options.init_stddev = kInitStddev;
  options.use_bias = c.bias;
  options.dropout = c.dropout;
  options.attention_dropout = c.attention_dropout;
  std::vector<layers::TransformerBlock> blocks;
  blocks.reserve(c.layers);
  for (std::size_t i = 0; i < c.layers; ++i) {
    blocks.emplace_back(root.child("h" + std::to_string(i)), c.embed_dim, c.heads, options);
  }
  return blocks;
}

layers::LayerNormOptions norm_options(bool bias) {
  layers::LayerNormOptions options;
  options.use_bias = bias;
  return options;
}

std::optional<layers::Linear> make_head(const GPTConfig& c, const layers::Scope& root) {
  if (c.tie) return std::nullopt;
  layers::LinearOptions options;
  options.kernel_init = initializers::normal(kInitStddev);
  options.use_bias = false;  // GPT-2's head never has one
  return layers::Linear(root.child("head"), c.embed_dim, c.vocab, options);
}

TokenIds positions(std::size_t count) {
  std::vector<std::int64_t> ids(count);
  for (std::size_t t = 0; t < count; ++t) ids[t] = static_cast<std::int64_t>(t);
  return TokenIds(ids);
}

void check_ids(const TokenIds& ids, std::size_t context) {
  const Shape& shape = ids.shape();
  if (shape.size() != 2 || shape[0] == 0 || shape[1] == 0 || shape[1] > context) {
    throw ShapeError("GPT: ids must be (B, T) with B >= 1 and 1 <= T <= context " + std::to_string(context) +
                     ", got " + shape_string(shape));
  }
}

}  // namespace

std::string describe(const GPTConfig& c) {
  const std::string C = std::to_string(c.embed_dim);
  std::string out = "GPT: wte(" + std::to_string(c.vocab) + ", " + C + ") + wpe(" + std::to_string(c.context) +
                    ", " + C + ") -> " + std::to_string(c.layers) + " x [ln -> attention " +
                    std::to_string(c.heads) + " heads -> ln -> MLP " + std::to_string(4 * c.embed_dim) +
                    "] -> ln_f -> " + (c.tie ? "wte^T " + std::to_string(c.vocab) + " (tied)"
                                             : "Dense " + std::to_string(c.vocab));
  // Six significant digits: 0.2f prints as 0.2.
  const auto rate = [](float r) {
    std::ostringstream text;
    text << r;
    return text.str();
  };
  if (c.dropout > 0.0f) out += ", dropout " + rate(c.dropout);
  if (c.attention_dropout > 0.0f) out += ", attention dropout " + rate(c.attention_dropout);
  if (!c.bias) out += ", no bias";
  return out;
}

GPT::GPT(const GPTConfig& config, std::int64_t seed)
    : config_(checked(config)),
      scope_(random::prng_key(seed)),
      wte_(make_embed(scope_.child("wte"), config.vocab, config.embed_dim)),
      wpe_(make_embed(scope_.child("wpe"), config.context, config.embed_dim)),
      blocks_(make_blocks(config, scope_)),
      ln_f_(scope_.child("ln_f"), config.embed_dim, norm_options(config.bias)),
      head_(make_head(config, scope_)),
      positions_(positions(config.context)) {}

Tensor GPT::hidden(Tape& tape, const TokenIds& ids, const Key& dropout_key, bool training) const {
  check_ids(ids, config_.context);
  const std::size_t T = ids.shape()[1];
  Tensor x = wte_(tape, ids);                                                                 // (B, T, C)
  x = add_broadcast(tape, x, wpe_(tape, T == config_.context ? positions_ : positions(T)));  // + (T, C)
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    x = blocks_[i](tape, x, random::fold_in(dropout_key, static_cast<std::uint32_t>(i)), training);
  }
  return x;
}

Tensor GPT::head_logits(Tape& tape, const Tensor& h) const {
  const Tensor normed = ln_f_(tape, h);
  return head_ ? (*head_)(tape, normed) : wte_.attend(tape, normed);
}

Tensor GPT::logits(Tape& tape, const TokenIds& ids, const Key& dropout_key, bool training) const {
  return head_logits(tape, hidden(tape, ids, dropout_key, training));  // (B, T, V)
}

Tensor GPT::next_logits(Tape& tape, const TokenIds& ids) const {
  const Tensor h = hidden(tape, ids, Key{}, /*training=*/false);
  return head_logits(tape, slice(tape, h, {Slice::all(), Slice::index(-1)}));  // (B, C) -> (B, V)
}

std::vector<std::int64_t> GPT::generate(const std::vector<std::int64_t>& prompt, std::size_t new_tokens,
                                        float temperature, const Key& key) const {
  if (prompt.empty()) throw std::invalid_argument("GPT::generate: the prompt is empty; it needs at least one id");
  if (!(std::isfinite(temperature) && temperature >= 0.0f)) {
    throw std::invalid_argument("GPT::generate: temperature must be finite and >= 0, got " +
                                std::to_string(temperature));
  }
  TokenIds(prompt).check_range(config_.vocab, "GPT::generate prompt");
  const std::size_t V = config_.vocab;
  std::vector<std::int64_t> ids = prompt;
  std::vector<double> weights(V);
  for (std::size_t k = 0; k < new_tokens; ++k) {
    const std::size_t seen = std::min(config_.context, ids.size());
    const std::vector<std::int64_t> window(ids.end() - static_cast<std::ptrdiff_t>(seen), ids.end());
    Tape tape(Tape::Mode::inference);
    const Tensor z_tensor = next_logits(tape, TokenIds(window, {1, seen}));
    const float* z = z_tensor.value().data();
    double u = 0.0;  // greedy decoding draws nothing
    if (temperature > 0.0f) {
      const Key draw = random::fold_in(key, static_cast<std::uint32_t>(k));
      u = static_cast<double>(random::uniform(draw, {})());
    }
    const std::size_t pick = sample_token(z, V, temperature, u, weights);
    ids.push_back(static_cast<std::int64_t>(pick));
  }
  return ids;
}

std::vector<optim::ParameterGroup> GPT::parameter_groups(float weight_decay) const {
  optim::ParameterGroup decay{{}, weight_decay}, no_decay{{}, 0.0f};
  for (const layers::NamedParameter& p : parameters()) {
    (p.tensor.shape().size() >= 2 ? decay : no_decay).parameters.push_back(p.tensor);
  }
  return {decay, no_decay};
}

}  // namespace xgrad::models
