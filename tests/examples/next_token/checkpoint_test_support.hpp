// Models and comparisons for the checkpoint tests: a small configuration, a word vocabulary
// to go with it, models with distinct parameters, and bit-for-bit comparison of parameters.
#pragma once

#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "language_model.hpp"
#include "tests/test_support.hpp"

namespace next_token::testing {

inline ModelConfig small_config() {
  ModelConfig config;
  config.vocab = 40;
  config.context = 2;
  config.embed_dim = 5;
  config.hidden = 7;
  return config;
}

// A word vocabulary of V = 40 entries, to go with small_config().
inline Vocabulary words40() {
  std::vector<std::string> words{"<unk>"};
  for (int i = 1; i < 40; ++i) words.push_back("w" + std::to_string(i));
  return Vocabulary::words(words);
}

inline ModelSpec mlp_spec(const ModelConfig& config = small_config()) {
  ModelSpec spec;
  spec.mlp = config;
  return spec;
}

// The MLP behind the LanguageModel interface, as checkpoints see it.
inline std::unique_ptr<LanguageModel> mlp(const ModelConfig& config = small_config(), std::int64_t seed = 0) {
  return make_model(mlp_spec(config), seed);
}

// A model whose parameters are all distinct from a fresh one's.
inline std::unique_ptr<LanguageModel> scrambled_model(std::uint32_t salt, const ModelConfig& config = small_config()) {
  std::unique_ptr<LanguageModel> model = mlp(config, 1);
  for (const LanguageModel::Parameter& p : model->parameters()) {
    p.tensor.mutable_value() = xgrad::testing::hashed_values(p.tensor.shape(), salt++);
  }
  return model;
}

inline std::vector<xgrad::Array> values_of(const LanguageModel& model) {
  std::vector<xgrad::Array> out;
  for (const LanguageModel::Parameter& p : model.parameters()) out.push_back(p.tensor.value());
  return out;
}

inline bool same_bits(const std::vector<xgrad::Array>& a, const std::vector<xgrad::Array>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!xgrad::testing::bit_equal(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace next_token::testing
