// libFuzzer target: the BPE merge list of a checkpoint (its "vocabulary" field). Any JSON
// either gives merges that build a tokenizer, or throws std::invalid_argument. Merges it
// accepts survive a round trip through the checkpoint's form, the vocabulary has 256 + one
// id per merge, and text encodes to ids inside it that decode back to the same bytes.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpe.hpp"
#include "corpus.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::exception&) {
    return 0;  // not JSON: the manifest parser refuses it before the merges (fuzz_manifest)
  }
  std::vector<next_token::bpe::Merge> merges;
  next_token::Vocabulary vocabulary;
  try {
    merges = next_token::bpe::merges_from_json(value);
    vocabulary = next_token::Vocabulary::bpe(merges);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (vocabulary.size() != 256 + merges.size()) fuzz::contract_broken("Vocabulary::bpe", "size is not 256 + merges");
  const std::vector<next_token::bpe::Merge> again =
      next_token::bpe::merges_from_json(next_token::bpe::merges_to_json(merges));
  if (next_token::bpe::canonical_text(again) != next_token::bpe::canonical_text(merges)) {
    fuzz::contract_broken("merges_to_json", "the round trip changed the merges");
  }
  const std::string text = bytes.substr(0, std::min<std::size_t>(bytes.size(), 256));
  const std::vector<std::int32_t> ids = vocabulary.encode(text);
  for (const std::int32_t id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= vocabulary.size()) fuzz::contract_broken("encode", "id outside V");
  }
  if (vocabulary.decode(ids) != text) fuzz::contract_broken("bpe", "decode(encode(t)) != t");
  return 0;
}
