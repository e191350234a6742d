// Byte-level BPE for next_token, minbpe's BasicTokenizer (karpathy/minbpe): start from the
// 256 byte values and repeatedly merge the most frequent adjacent pair into a new token.
// Not GPT-2's tokenizer: no regex pre-split, no special tokens; any byte string encodes.
// Shapes: N bytes of text, M merges, V = 256 + M ids; merge i makes id 256 + i.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace next_token::bpe {

constexpr std::size_t kByteTokens = 256;
// Bounds what a flag or a manifest may ask for; far more than a toy corpus supports.
constexpr std::size_t kMaxVocabSize = std::size_t{1} << 16;

struct Merge {
  std::int32_t left = 0, right = 0;
  bool operator==(const Merge& o) const { return left == o.left && right == o.right; }
};

// Empty when 256 <= vocab_size <= kMaxVocabSize, otherwise why not.
std::string vocab_size_problem(std::size_t vocab_size);

// The vocab_size - 256 merges minbpe's BasicTokenizer.train(text, vocab_size) makes, in order.
// Ties: of the pairs with the highest count, the one whose first occurrence in the current
// token sequence comes first, which is what minbpe's max() over a dict filled in sequence
// order picks. Counts are updated incrementally (a linked list of tokens and a lazy max-heap
// of pairs), not recounted per merge. Throws std::invalid_argument for a bad vocab_size, or
// when the text becomes a single token before vocab_size is reached.
std::vector<Merge> train(const std::string& text, std::size_t vocab_size);

// A vocabulary of merges: encodes any bytes, decodes any valid ids.
class Tokenizer {
 public:
  Tokenizer() = default;  // no merges: V = 256, ids are byte values
  // Throws std::invalid_argument naming the merge unless merge i joins ids below 256 + i
  // and no pair is merged twice.
  explicit Tokenizer(std::vector<Merge> merges);

  std::size_t size() const { return kByteTokens + merges_.size(); }
  const std::vector<Merge>& merges() const { return merges_; }
  const std::string& piece(std::int32_t id) const { return pieces_.at(static_cast<std::size_t>(id)); }

  // Bytes -> ids: merges applied in rank order, each left to right (minbpe's encode).
  std::vector<std::int32_t> encode(const std::string& bytes) const;
  // Ids -> bytes (the concatenated pieces). Throws std::out_of_range for an id >= size().
  std::string decode(const std::vector<std::int32_t>& ids) const;

 private:
  std::vector<Merge> merges_;
  std::unordered_map<std::uint64_t, std::int32_t> rank_;  // pair key -> merge index
  std::vector<std::string> pieces_;                       // id -> its bytes
};

// The checkpoint's form of a merge list: [[left, right], ...], and back (throws
// std::invalid_argument for anything but such a list of valid merges).
nlohmann::json merges_to_json(const std::vector<Merge>& merges);
std::vector<Merge> merges_from_json(const nlohmann::json& value);
// The text a checksum covers: "bpe merges\n" then "left right\n" per merge.
std::string canonical_text(const std::vector<Merge>& merges);

}  // namespace next_token::bpe
