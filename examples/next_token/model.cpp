// The context-window MLP: construction with Flax's parameter keys, and the forward pass.
#include "model.hpp"

#include <stdexcept>
#include "core/flax/flax.hpp"

namespace next_token {

using namespace xgrad;

namespace {

// Flax names child modules by class and creation order within the parent: Dense_0, Dense_1.
layers::Linear make_dense(std::size_t in, std::size_t out, const Key& root, std::size_t index,
                          const std::string& name, std::string& flax_name) {
  flax_name = "Dense_" + std::to_string(index);
  layers::LinearOptions options;
  options.name = name;  // the bias is zeros, so its key (rng call 2) is never drawn from
  return layers::Linear(in, out, flax::param_key(root, {flax_name}, 1), options);
}

layers::Embed make_embed(const ModelConfig& config, const Key& root) {
  if (config.vocab == 0 || config.context == 0 || config.embed_dim == 0) {
    throw std::invalid_argument("Model: vocab, context and embed_dim must be positive");
  }
  layers::EmbedOptions options;
  options.name = "embed";
  return layers::Embed(config.vocab, config.embed_dim, flax::param_key(root, {"Embed_0"}, 1), options);
}

}  // namespace

std::string describe(const ModelConfig& c) {
  std::string out = "Embed(" + std::to_string(c.vocab) + ", " + std::to_string(c.embed_dim) + ") x" +
                    std::to_string(c.context);
  std::size_t width = c.context * c.embed_dim;
  if (c.context > 1) out += " -> concat " + std::to_string(width);
  if (c.hidden > 0) {
    out += " -> Dense " + std::to_string(c.hidden) + " -> tanh";
    width = c.hidden;
  }
  if (!c.tie) return out + " -> Dense " + std::to_string(c.vocab);
  if (c.context > 1 || c.hidden > 0) out += " -> Dense " + std::to_string(c.embed_dim);
  return out + " -> Embed.attend " + std::to_string(c.vocab) + " (tied)";
}

Model::Model(const ModelConfig& config, std::int64_t seed)
    : config_(config), embed_(make_embed(config, random::prng_key(seed))) {
  const Key root = random::prng_key(seed);
  std::size_t width = config.context * config.embed_dim;
  std::size_t dense_index = 0;
  if (config.hidden > 0) {
    hidden_ = make_dense(width, config.hidden, root, dense_index++, "hidden", hidden_flax_);
    width = config.hidden;
  }
  if (!config.tie) {
    output_ = make_dense(width, config.vocab, root, dense_index++, "output", output_flax_);
  } else if (width != config.embed_dim || config.hidden > 0) {
    // A query of width D for Embed.attend; skipped only for the tied bigram (C = 1, H = 0).
    output_ = make_dense(width, config.embed_dim, root, dense_index++, "project", output_flax_);
  }
}

Tensor Model::logits(Tape& tape, const TokenIds& contexts) const {
  const std::size_t batch = contexts.shape().at(0);
  Tensor x = embed_(tape, contexts);                                            // (B, C, D)
  x = reshape(tape, x, {batch, config_.context * config_.embed_dim});           // (B, C*D)
  if (hidden_) x = tanh(tape, (*hidden_)(tape, x));                             // (B, H)
  if (!config_.tie) return (*output_)(tape, x);                                 // (B, V)
  if (output_) x = (*output_)(tape, x);                                         // (B, D)
  return embed_.attend(tape, x);                                                // (B, V)
}

std::vector<Model::Parameter> Model::parameters() const {
  std::vector<Parameter> out{{embed_.embedding().name(), "Embed_0/embedding", embed_.embedding()}};
  const auto add = [&](const std::optional<layers::Linear>& layer, const std::string& flax) {
    if (!layer) return;
    out.push_back({layer->kernel().name(), flax + "/kernel", layer->kernel()});
    if (layer->bias().defined()) out.push_back({layer->bias().name(), flax + "/bias", layer->bias()});
  };
  add(hidden_, hidden_flax_);
  add(output_, output_flax_);
  return out;
}

std::vector<Tensor> Model::tensors() const {
  std::vector<Tensor> out;
  for (const Parameter& p : parameters()) out.push_back(p.tensor);
  return out;
}

std::size_t Model::parameter_count() const {
  std::size_t n = 0;
  for (const Parameter& p : parameters()) n += p.tensor.size();
  return n;
}

}  // namespace next_token
