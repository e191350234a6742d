// libFuzzer target: the next_token checkpoint manifest parser. Any text either gives a
// configuration inside next_token's limits or throws CheckpointError.
#include <cstdint>
#include <string>

#include "checkpoint.hpp"
#include "fuzz_input.hpp"
#include "limits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const next_token::CheckpointInfo info = next_token::parse_checkpoint_info(text, "manifest.json");
    namespace lim = next_token::limits;
    const bool vocab_ok = info.spec.vocab() >= static_cast<std::size_t>(lim::kMinVocab) &&
                          info.spec.vocab() <= static_cast<std::size_t>(lim::kMaxVocab) &&
                          info.vocabulary.size() == info.spec.vocab() && info.seed <= lim::kMaxSeed;
    bool within = vocab_ok;
    if (info.spec.kind == next_token::ModelKind::mlp) {
      const next_token::ModelConfig& c = info.spec.mlp;
      within = within && c.context >= 1 && c.context <= static_cast<std::size_t>(lim::kMaxContext) &&
               c.embed_dim >= 1 && c.embed_dim <= static_cast<std::size_t>(lim::kMaxEmbedDim) &&
               c.hidden <= static_cast<std::size_t>(lim::kMaxHidden);
    } else {
      const next_token::TransformerConfig& c = info.spec.transformer;
      within = within && c.context >= 1 && c.context <= static_cast<std::size_t>(lim::kMaxBlock) &&
               c.layers >= 1 && c.layers <= static_cast<std::size_t>(lim::kMaxLayers) && c.heads >= 1 &&
               c.heads <= static_cast<std::size_t>(lim::kMaxHeads) && c.embed_dim >= 1 &&
               c.embed_dim <= static_cast<std::size_t>(lim::kMaxEmbedDim) && c.embed_dim % c.heads == 0 &&
               c.dropout >= 0.0f && c.dropout < 1.0f && c.attention_dropout >= 0.0f && c.attention_dropout < 1.0f;
    }
    if (!within) fuzz::contract_broken("parse_checkpoint_info", "accepted a configuration outside the limits");
  } catch (const next_token::CheckpointError&) {
  }
  return 0;
}
