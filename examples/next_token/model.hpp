// The toy language model: a context-window MLP (Bengio et al. 2003, as in makemore).
//   ids (B, C) -> Embed (B, C, D) -> concatenate (B, C*D) -> Dense (B, H) -> tanh
//              -> Dense (B, V)                      logits, or with tie:
//              -> Dense (B, D) -> Embed.attend (B, V)   the table is the output layer too
// hidden = 0 drops the Dense+tanh (context 1, hidden 0 is the bigram model). Initialised as
// the Flax twin would be: nn.Embed "Embed_0" and nn.Dense "Dense_0", "Dense_1" (in creation
// order) inside one parent module, each parameter drawn from Flax's key for its path.
// Not a general model zoo: it exists to train on the CLI's data and to be inspected.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "xgrad.hpp"

namespace next_token {

struct ModelConfig {
  std::size_t vocab = 256;     // V
  std::size_t context = 3;     // C: ids before the one predicted
  std::size_t embed_dim = 16;  // D
  std::size_t hidden = 192;    // H; 0 means no hidden layer
  bool tie = false;            // logits = Embed.attend(...) instead of a Dense (H, V)

  friend bool operator==(const ModelConfig& a, const ModelConfig& b) {
    return a.vocab == b.vocab && a.context == b.context && a.embed_dim == b.embed_dim &&
           a.hidden == b.hidden && a.tie == b.tie;
  }
};

// "Embed(256, 16) x3 -> concat 48 -> Dense 192 -> tanh -> Dense 256": the layers in one line.
std::string describe(const ModelConfig& config);

class Model {
 public:
  // A trainable parameter, its file-friendly name ("embed.embedding") and its Flax path
  // ("Embed_0/embedding").
  struct Parameter {
    std::string name;
    std::string flax_path;
    xgrad::Tensor tensor;
  };

  // Throws std::invalid_argument for a zero V, C or D.
  Model(const ModelConfig& config, std::int64_t seed);

  const ModelConfig& config() const { return config_; }
  const xgrad::layers::Embed& embed() const { return embed_; }

  // contexts: (B, C) ids -> logits (B, V), recorded on `tape`.
  xgrad::Tensor logits(xgrad::Tape& tape, const xgrad::TokenIds& contexts) const;

  std::vector<Parameter> parameters() const;
  std::vector<xgrad::Tensor> tensors() const;
  std::size_t parameter_count() const;

 private:
  ModelConfig config_;
  xgrad::layers::Embed embed_;
  std::optional<xgrad::layers::Linear> hidden_;   // Dense (C*D, H)
  std::optional<xgrad::layers::Linear> output_;   // Dense (H or C*D, V), or (.., D) with tie
  std::string hidden_flax_, output_flax_;
};

}  // namespace next_token
