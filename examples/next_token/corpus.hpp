// The data side of the toy language model: reading and checking a UTF-8 corpus, byte, word,
// byte-level BPE (bpe.hpp) or character tokens, the train/validation split, losses in bits per byte,
// and seeded mini-batches of context windows.
// Not a general tokenizer: words are whitespace-separated with punctuation split off.
// Shapes: N tokens, C context length, B windows per batch; a window is C ids and a target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpe.hpp"

namespace next_token {

// A corpus that cannot be used: missing, empty, not text, too short. The message names the file.
class CorpusError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The largest corpus read_corpus reads: 1 GiB (a toy model's corpus; its token ids take
// 8 bytes a byte more).
constexpr std::size_t kMaxCorpusBytes = std::size_t{1} << 30;

// Reads `path` whole and checks it is UTF-8 text: valid UTF-8 (no overlong forms, surrogates
// or code points past U+10FFFF), and no control bytes other than tab, newline, carriage
// return and form feed. Throws CorpusError naming the file and, for bad bytes, the offset;
// the check runs as the file is read, so a bad byte is reported after at most 1 MiB past it
// is read. A file larger than kMaxCorpusBytes is refused before anything is read.
std::string read_corpus(const std::string& path);

// The same checks on text already in memory; `name` is what messages call it.
void check_text(const std::string& text, const std::string& name);

enum class TokenKind { byte, word, bpe, character };
const char* token_kind_name(TokenKind kind);  // "byte", "word", "bpe" or "char"

// Word tokens: text split on whitespace, then each piece into runs of word characters
// (ASCII letters and digits, apostrophes, and every non-ASCII character) and single
// punctuation characters. "God, the LORD's." -> God , the LORD's .
std::vector<std::string> split_words(const std::string& text);

// Ids <-> tokens. Bytes: V = 256, id = byte value. Words: id 0 is "<unk>" (any word not in
// the vocabulary); ids 1.. are words by falling count, ties in byte order. BPE: ids 0-255 are
// bytes, 256 + i is merge i (bpe.hpp); every byte string encodes, nothing is unknown.
// Characters: the text's distinct code points in code point order, as nanoGPT's
// prepare.py builds them (sorted(set(text))); a character outside them does not encode.
class Vocabulary {
 public:
  static constexpr const char* kUnknown = "<unk>";

  static Vocabulary bytes();
  // The most frequent words of `text`, at most max_size - 1 of them, plus "<unk>" (max_size >= 2).
  static Vocabulary words_from_text(const std::string& text, std::size_t max_size);
  // A saved word list (words[0] must be "<unk>", no duplicates, no empty or spaced words).
  static Vocabulary words(std::vector<std::string> words);
  // minbpe's merges trained on `text` (vocab_size in [256, bpe::kMaxVocabSize]); throws
  // std::invalid_argument for a bad size or a text too short for it.
  static Vocabulary bpe_from_text(const std::string& text, std::size_t vocab_size);
  // A saved merge list (checked as bpe::Tokenizer checks it).
  static Vocabulary bpe(std::vector<bpe::Merge> merges);
  // The distinct characters (UTF-8 code points) of `text`, valid UTF-8, in code point order.
  static Vocabulary characters_from_text(const std::string& text);
  // A saved character list: each entry one code point, in increasing order (so no repeats).
  static Vocabulary characters(std::vector<std::string> characters);

  TokenKind kind() const { return kind_; }
  std::size_t size() const {
    return kind_ == TokenKind::byte   ? 256
           : kind_ == TokenKind::word ? words_.size()
           : kind_ == TokenKind::bpe  ? bpe_.size()
                                      : characters_.size();
  }
  const std::vector<std::string>& word_list() const { return words_; }
  const std::vector<std::string>& character_list() const { return characters_; }
  // The id of "\n" for byte and character tokens that have it (prompts start at lines).
  std::optional<std::int32_t> newline_id() const;
  const std::vector<bpe::Merge>& merges() const { return bpe_.merges(); }

  // Throws std::invalid_argument for a character outside a character vocabulary, naming it,
  // its code point and its byte offset.
  std::vector<std::int32_t> encode(const std::string& text) const;
  // Text for generated ids: bytes as they are; words joined by spaces, with no space before
  // closing punctuation or after opening brackets; BPE ids as the bytes they stand for.
  std::string decode(const std::vector<std::int32_t>& ids) const;
  // A short printable label for one id: "e", "\\n", "0xC3", the word, or a BPE piece with
  // its bytes escaped ("the\u2423" for "the ": U+2423 shows the space).
  std::string label(std::int32_t id) const;

 private:
  TokenKind kind_ = TokenKind::byte;
  std::vector<std::string> words_;
  bpe::Tokenizer bpe_;
  std::vector<std::string> characters_;
  std::unordered_map<std::string, std::int32_t> character_ids_;
};

// The token stream cut in two: the first (1 - validation_fraction) of the tokens train, the
// rest validate (a contiguous tail, so validation text is text the model never trained on).
struct Split {
  std::vector<std::int32_t> train;
  std::vector<std::int32_t> validation;
  // Bytes of the text each part stands for (the denominators of bits per byte); 0 when unknown.
  std::size_t train_bytes = 0, validation_bytes = 0;
};
// Throws CorpusError (naming `name`) unless each part holds at least one window (C + 1 tokens).
// Leaves the byte counts 0: split_corpus knows the text.
Split split_tokens(const std::vector<std::int32_t>& tokens, double validation_fraction,
                   std::size_t context, const std::string& name);

// The first (1 - validation_fraction) of the text's bytes, moved forward to the start of a
// UTF-8 character: what a BPE vocabulary trains on, so validation text stays unseen.
std::size_t bpe_training_bytes(const std::string& text, double validation_fraction);

// The corpus encoded and split, with each part's bytes counted. Byte, word and character tokens: the
// token stream cut as split_tokens cuts it (a word part's bytes run from its first word's
// start, so the whitespace before a word counts with it; a character part's, from its first
// character). Throws CorpusError naming a character the vocabulary lacks. BPE: the text cut at
// bpe_training_bytes and each part encoded on its own, so no token spans the cut.
Split split_corpus(const std::string& text, const Vocabulary& vocabulary, double validation_fraction,
                   std::size_t context, const std::string& name);

// A loss in mean nats per token as bits per byte of text: nats * tokens / bytes / ln 2, with
// tokens / bytes measured on the text the loss was measured on (byte tokens: nats / ln 2).
double bits_per_byte(double nats_per_token, std::size_t tokens, std::size_t bytes);

// Windows of a token stream: for i in [C, N), context tokens[i - C, i) and target tokens[i].
std::size_t window_count(std::size_t tokens, std::size_t context);

// A small counter-based generator (SplitMix64): the same numbers on every platform and
// compiler, which std::uniform_int_distribution does not promise.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  std::uint64_t state() const { return state_; }  // Rng(state()) continues this stream exactly
  std::uint64_t below(std::uint64_t bound);  // uniform in [0, bound), unbiased; bound > 0
  double uniform();                          // uniform in [0, 1), 53 bits

 private:
  std::uint64_t state_;
};

// A seed for one purpose ("batches", "samples", ...) derived from the run's seed, so each
// stream is independent and a run is reproducible bit for bit.
std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t purpose, std::uint64_t offset = 0);

// Fills contexts (B * C ids, row-major (B, C)) and targets (B ids) with B windows drawn
// uniformly, with replacement, from `tokens`.
void sample_batch(const std::vector<std::int32_t>& tokens, std::size_t context, std::size_t batch,
                  Rng& rng, std::vector<std::int64_t>& contexts, std::vector<std::int64_t>& targets);

// The start positions (targets' indices) of up to max_windows windows spread evenly over the
// stream, all of them when there are fewer: the fixed set a loss is measured on.
std::vector<std::size_t> evaluation_positions(std::size_t tokens, std::size_t context,
                                              std::size_t max_windows);

}  // namespace next_token
