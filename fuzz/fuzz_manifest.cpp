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
    const next_token::ModelConfig& c = info.config;
    const bool within = c.vocab >= lim::kMinVocab && c.vocab <= lim::kMaxVocab && c.context >= 1 &&
                        c.context <= lim::kMaxContext && c.embed_dim >= 1 && c.embed_dim <= lim::kMaxEmbedDim &&
                        c.hidden <= lim::kMaxHidden && info.seed <= lim::kMaxSeed &&
                        info.vocabulary.size() == c.vocab;
    if (!within) fuzz::contract_broken("parse_checkpoint_info", "accepted a configuration outside the limits");
  } catch (const next_token::CheckpointError&) {
  }
  return 0;
}
