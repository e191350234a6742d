// Corpus reading and checking, byte, word, BPE and character vocabularies, the split, bits per byte, and
// batch sampling.
#include "corpus.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "common/memory.hpp"
#include "core/io/message_text.hpp"

namespace next_token {
namespace {

std::string hex_byte(unsigned char byte) {
  const char* digits = "0123456789ABCDEF";
  return std::string("0x") + digits[byte >> 4] + digits[byte & 0xF];
}

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool is_word_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

// SplitMix64's finaliser: a good 64-bit mix.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Calls visit(start, length) for each word token of split_words, in order.
template <typename Visit>
void for_each_word(const std::string& text, Visit visit) {
  std::size_t start = 0, length = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (is_word_char(c)) {
      if (length++ == 0) start = i;
      continue;
    }
    if (length > 0) visit(start, length);
    length = 0;
    if (!is_space(c)) visit(i, std::size_t{1});  // punctuation is a token of its own
  }
  if (length > 0) visit(start, length);
}

// Calls visit(start, length) for each UTF-8 character of `text` (checked text: a byte that
// starts no valid sequence is passed as one).
template <class Visit>
void for_each_character(const std::string& text, Visit visit) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = std::max<std::size_t>(1, xgrad::io::utf8_sequence_length(text, i));
    visit(i, length);
    i += length;
  }
}

// "'e' (U+0065)", "'\\n' (U+000A)": a character as messages show it.
std::string code_point_name(const std::string& c) {
  std::uint32_t code = static_cast<unsigned char>(c[0]);
  if (c.size() > 1) {
    code &= 0xFFu >> (c.size() + 1);
    for (std::size_t k = 1; k < c.size(); ++k) code = (code << 6) | (static_cast<unsigned char>(c[k]) & 0x3Fu);
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(code));
  const std::string shown = c == "\n" ? "\\n" : c == "\t" ? "\\t" : xgrad::io::printable_bytes(c);
  return "'" + shown + "' (" + hex + ")";
}

}  // namespace

// ---------------------------------------------------------------- reading and checking

namespace {

// Checks text[from, ...) as check_text does and returns where it stopped: the end when
// `complete`, else before the last 3 bytes, where a character may go on past what is read.
std::size_t check_text_from(const std::string& text, std::size_t i, bool complete, const std::string& name) {
  const std::size_t end = complete ? text.size() : text.size() < 3 ? 0 : text.size() - 3;
  while (i < end) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') {
      throw CorpusError("corpus " + name + " is not text: control byte " + hex_byte(c) + " at byte offset " +
                        std::to_string(i) + " (a binary file?)");
    }
    if (c == 0x7F) {
      throw CorpusError("corpus " + name + " is not text: control byte 0x7F at byte offset " + std::to_string(i));
    }
    const std::size_t length = xgrad::io::utf8_sequence_length(text, i);
    if (length == 0) {
      throw CorpusError("corpus " + name + " is not valid UTF-8: byte " + hex_byte(c) + " at byte offset " +
                        std::to_string(i) + " does not start a valid UTF-8 character");
    }
    i += length;
  }
  return i;
}

std::string size_text(std::uintmax_t bytes) { return examples::byte_count(static_cast<long double>(bytes)); }

// Closes a file descriptor at scope exit.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void check_text(const std::string& text, const std::string& name) { check_text_from(text, 0, true, name); }

std::string read_corpus(const std::string& path) {
  // Opened first and then checked, so the file checked is the file read. O_NONBLOCK: a FIFO
  // must not block the open; it is refused below.
  const FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0) {
    throw CorpusError("cannot read corpus " + path + ": " + (errno == ENOENT ? std::string("no such file") : std::strerror(errno)));
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) throw CorpusError("cannot read corpus " + path + ": " + std::strerror(errno));
  if (S_ISDIR(info.st_mode)) throw CorpusError("cannot read corpus " + path + ": it is a directory");
  // A FIFO or a device would block the read, or never end.
  if (!S_ISREG(info.st_mode)) {
    throw CorpusError("cannot read corpus " + path + ": it is not a regular file (a FIFO or a device?)");
  }
  const auto size = static_cast<std::uintmax_t>(info.st_size);
  if (size > kMaxCorpusBytes) {
    throw CorpusError("corpus " + path + " is " + size_text(size) + ", more than the largest corpus (" +
                      size_text(kMaxCorpusBytes) + ")");
  }
  // The text, and its token ids as int32 twice over (the stream and the split).
  const std::string too_large = examples::allocation_problem("corpus " + path, static_cast<long double>(size) * 9);
  if (!too_large.empty()) throw CorpusError("cannot read " + too_large);
  // Read and checked a block at a time: the first bad byte is reported once its block is
  // read, not after the whole file.
  constexpr std::size_t kBlock = std::size_t{1} << 20;
  std::string text;
  text.reserve(static_cast<std::size_t>(size));
  std::size_t checked = 0;
  for (;;) {
    if (text.size() >= kMaxCorpusBytes + 1) {  // the file grew while it was read
      throw CorpusError("corpus " + path + " is more than the largest corpus (" + size_text(kMaxCorpusBytes) + ")");
    }
    const std::size_t before = text.size();
    // Up to the size fstat gave and one byte more (to see the end, or growth), a block at most.
    std::size_t want = std::min<std::size_t>(kBlock, kMaxCorpusBytes + 1 - before);
    want = std::min<std::size_t>(want, before < size ? static_cast<std::size_t>(size) - before + 1 : 4096);
    text.resize(before + want);
    const ssize_t n = ::read(file.fd, &text[before], want);
    if (n < 0) {
      text.resize(before);
      if (errno == EINTR) continue;
      throw CorpusError("cannot read corpus " + path + ": " + std::strerror(errno));
    }
    text.resize(before + static_cast<std::size_t>(n));
    if (n == 0) break;
    checked = check_text_from(text, checked, false, path);
  }
  if (text.empty()) throw CorpusError("corpus " + path + " is empty");
  check_text_from(text, checked, true, path);
  return text;
}

const char* token_kind_name(TokenKind kind) {
  return kind == TokenKind::byte ? "byte" : kind == TokenKind::word ? "word" : kind == TokenKind::bpe ? "bpe" : "char";
}

// ---------------------------------------------------------------- words

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  for_each_word(text, [&](std::size_t start, std::size_t length) { words.push_back(text.substr(start, length)); });
  return words;
}

Vocabulary Vocabulary::bytes() { return Vocabulary(); }

Vocabulary Vocabulary::words_from_text(const std::string& text, std::size_t max_size) {
  if (max_size < 2) throw std::invalid_argument("Vocabulary: a word vocabulary needs room for <unk> and a word");
  std::unordered_map<std::string, std::size_t> counts;
  for (std::string& w : split_words(text)) ++counts[std::move(w)];
  std::vector<std::pair<std::string, std::size_t>> ranked(counts.begin(), counts.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> words{kUnknown};
  for (std::size_t i = 0; i < ranked.size() && words.size() < max_size; ++i) {
    if (ranked[i].first != kUnknown) words.push_back(ranked[i].first);
  }
  return Vocabulary::words(std::move(words));
}

Vocabulary Vocabulary::words(std::vector<std::string> words) {
  if (words.empty() || words[0] != kUnknown) {
    throw std::invalid_argument(std::string("Vocabulary: the word list must start with ") + kUnknown);
  }
  Vocabulary v;
  v.kind_ = TokenKind::word;
  std::unordered_set<std::string> unique;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    const bool spaced = std::any_of(w.begin(), w.end(), [](char c) { return is_space(static_cast<unsigned char>(c)); });
    if (w.empty() || spaced || !unique.insert(w).second) {
      throw std::invalid_argument("Vocabulary: word " + std::to_string(i) + " (\"" + w +
                                  "\") is empty, contains a space, or repeats an earlier word");
    }
  }
  v.words_ = std::move(words);
  return v;
}

Vocabulary Vocabulary::bpe_from_text(const std::string& text, std::size_t vocab_size) {
  return Vocabulary::bpe(bpe::train(text, vocab_size));
}

Vocabulary Vocabulary::bpe(std::vector<bpe::Merge> merges) {
  Vocabulary v;
  v.kind_ = TokenKind::bpe;
  v.bpe_ = bpe::Tokenizer(std::move(merges));
  return v;
}

// ---------------------------------------------------------------- characters

Vocabulary Vocabulary::characters_from_text(const std::string& text) {
  std::unordered_set<std::string> seen;
  for_each_character(text, [&](std::size_t at, std::size_t length) { seen.insert(text.substr(at, length)); });
  // UTF-8's byte order is code point order.
  std::vector<std::string> sorted(seen.begin(), seen.end());
  std::sort(sorted.begin(), sorted.end());
  return Vocabulary::characters(std::move(sorted));
}

Vocabulary Vocabulary::characters(std::vector<std::string> characters) {
  Vocabulary v;
  v.kind_ = TokenKind::character;
  for (std::size_t i = 0; i < characters.size(); ++i) {
    const std::string& c = characters[i];
    if (c.empty() || xgrad::io::utf8_sequence_length(c, 0) != c.size()) {
      throw std::invalid_argument("Vocabulary: character " + std::to_string(i) + " (\"" + xgrad::io::printable_bytes(c) +
                                  "\") is not one UTF-8 code point");
    }
    if (i > 0 && !(characters[i - 1] < c)) {
      throw std::invalid_argument("Vocabulary: character " + std::to_string(i) + " (" + code_point_name(c) +
                                  ") is not after the one before it in code point order");
    }
    v.character_ids_.emplace(c, static_cast<std::int32_t>(i));
  }
  v.characters_ = std::move(characters);
  return v;
}

std::optional<std::int32_t> Vocabulary::newline_id() const {
  if (kind_ == TokenKind::byte) return '\n';
  if (kind_ != TokenKind::character) return std::nullopt;
  const auto found = character_ids_.find("\n");
  return found == character_ids_.end() ? std::nullopt : std::optional<std::int32_t>(found->second);
}

std::vector<std::int32_t> Vocabulary::encode(const std::string& text) const {
  std::vector<std::int32_t> ids;
  if (kind_ == TokenKind::bpe) return bpe_.encode(text);
  if (kind_ == TokenKind::character) {
    for_each_character(text, [&](std::size_t at, std::size_t length) {
      const auto found = character_ids_.find(text.substr(at, length));
      if (found == character_ids_.end()) {
        throw std::invalid_argument("the character " + code_point_name(text.substr(at, length)) + " at byte offset " +
                                    std::to_string(at) + " is not in the vocabulary (its " +
                                    std::to_string(characters_.size()) + " characters)");
      }
      ids.push_back(found->second);
    });
    return ids;
  }
  if (kind_ == TokenKind::byte) {
    ids.reserve(text.size());
    for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
    return ids;
  }
  std::unordered_map<std::string, std::int32_t> index;
  for (std::size_t i = 0; i < words_.size(); ++i) index.emplace(words_[i], static_cast<std::int32_t>(i));
  for (const std::string& w : split_words(text)) {
    const auto found = index.find(w);
    ids.push_back(found == index.end() ? 0 : found->second);
  }
  return ids;
}

std::string Vocabulary::decode(const std::vector<std::int32_t>& ids) const {
  if (kind_ == TokenKind::bpe) return bpe_.decode(ids);
  std::string out;
  if (kind_ == TokenKind::byte) {
    for (const std::int32_t id : ids) out += static_cast<char>(static_cast<unsigned char>(id));
    return out;
  }
  if (kind_ == TokenKind::character) {
    for (const std::int32_t id : ids) out += characters_.at(static_cast<std::size_t>(id));
    return out;
  }
  bool glue_next = true;  // no space at the start or after an opening bracket
  for (const std::int32_t id : ids) {
    const std::string& w = words_.at(static_cast<std::size_t>(id));
    const bool closing = w.size() == 1 && std::strchr(",.;:?!)]}", w[0]) != nullptr;
    if (!glue_next && !closing) out += ' ';
    out += w;
    glue_next = w.size() == 1 && std::strchr("([{", w[0]) != nullptr;
  }
  return out;
}

std::string Vocabulary::label(std::int32_t id) const {
  if (kind_ == TokenKind::word) return words_.at(static_cast<std::size_t>(id));
  if (kind_ == TokenKind::character) {
    const std::string& c = characters_.at(static_cast<std::size_t>(id));
    if (c.size() > 1) return c;  // past ASCII: the character itself
    id = static_cast<unsigned char>(c[0]);  // ASCII: as its byte
  }
  if (kind_ == TokenKind::bpe && id >= 256) {
    std::string out;
    for (const char ch : bpe_.piece(id)) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == ' ') out += "\u2423";
      else if (c == '\n') out += "\\n";
      else if (c == '\t') out += "\\t";
      else if (c > 0x20 && c < 0x7F) out += ch;
      else out += "\\x" + hex_byte(c).substr(2);
    }
    return out;
  }
  const auto c = static_cast<unsigned char>(id);
  if (c == ' ') return "space";
  if (c == '\n') return "\\n";
  if (c == '\t') return "\\t";
  if (c > 0x20 && c < 0x7F) return std::string(1, static_cast<char>(c));
  return hex_byte(c);
}

// ---------------------------------------------------------------- split and batches

std::size_t window_count(std::size_t tokens, std::size_t context) {
  return tokens > context ? tokens - context : 0;
}

Split split_tokens(const std::vector<std::int32_t>& tokens, double validation_fraction, std::size_t context,
                   const std::string& name) {
  const std::size_t n = tokens.size();
  const auto validation = static_cast<std::size_t>(static_cast<double>(n) * validation_fraction + 0.5);
  const std::size_t train = n - std::min(validation, n);
  if (train < context + 1 || n - train < context + 1) {
    const double needed = static_cast<double>(context + 1) / std::min(validation_fraction, 1.0 - validation_fraction);
    throw CorpusError("corpus " + name + " is too short: " + std::to_string(n) + " tokens, but a context of " +
                      std::to_string(context) + " needs at least " + std::to_string(context + 1) +
                      " tokens in both the train and the validation part (about " +
                      std::to_string(static_cast<std::size_t>(needed) + 1) + " tokens in all)");
  }
  Split split;
  split.train.assign(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(train));
  split.validation.assign(tokens.begin() + static_cast<std::ptrdiff_t>(train), tokens.end());
  return split;
}

std::size_t bpe_training_bytes(const std::string& text, double validation_fraction) {
  const std::size_t n = text.size();
  const auto validation = static_cast<std::size_t>(static_cast<double>(n) * validation_fraction + 0.5);
  std::size_t cut = n - std::min(validation, n);
  while (cut < n && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) ++cut;  // not inside a character
  return cut;
}

Split split_corpus(const std::string& text, const Vocabulary& vocabulary, double validation_fraction,
                   std::size_t context, const std::string& name) {
  if (vocabulary.kind() == TokenKind::bpe) {
    const std::size_t cut = bpe_training_bytes(text, validation_fraction);
    std::vector<std::int32_t> tokens = vocabulary.encode(text.substr(0, cut));  // the train part
    const std::vector<std::int32_t> tail = vocabulary.encode(text.substr(cut));
    if (tokens.size() < context + 1 || tail.size() < context + 1) {
      throw CorpusError("corpus " + name + " is too short: " + std::to_string(tokens.size()) + " train and " +
                        std::to_string(tail.size()) + " validation BPE tokens, but a context of " +
                        std::to_string(context) + " needs at least " + std::to_string(context + 1) + " in each");
    }
    Split split;
    split.train = std::move(tokens);
    split.validation = tail;
    split.train_bytes = cut;
    split.validation_bytes = text.size() - cut;
    return split;
  }
  std::vector<std::int32_t> tokens;
  try {
    tokens = vocabulary.encode(text);
  } catch (const std::invalid_argument& e) {  // a character vocabulary from another text
    throw CorpusError("corpus " + name + ": " + e.what());
  }
  Split split = split_tokens(tokens, validation_fraction, context, name);
  if (vocabulary.kind() == TokenKind::byte) {
    split.train_bytes = split.train.size();
  } else if (vocabulary.kind() == TokenKind::character) {
    std::size_t k = 0, start = text.size();
    for_each_character(text, [&](std::size_t at, std::size_t) {
      if (k++ == split.train.size()) start = at;
    });
    split.train_bytes = start;
  } else {
    std::size_t k = 0, start = text.size();
    for_each_word(text, [&](std::size_t at, std::size_t) {
      if (k++ == split.train.size()) start = at;
    });
    split.train_bytes = start;
  }
  split.validation_bytes = text.size() - split.train_bytes;
  return split;
}

double bits_per_byte(double nats_per_token, std::size_t tokens, std::size_t bytes) {
  return nats_per_token * static_cast<double>(tokens) / static_cast<double>(bytes) / std::log(2.0);
}

std::uint64_t Rng::next() {
  state_ += 0x9E3779B97F4A7C15ull;
  return mix(state_);
}

std::uint64_t Rng::below(std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound: reject below it
  while (true) {
    const std::uint64_t r = next();
    if (r >= threshold) return r % bound;
  }
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t purpose, std::uint64_t offset) {
  return mix(mix(seed ^ mix(purpose + 0x632BE59BD9B4E019ull)) + offset);
}

void sample_batch(const std::vector<std::int32_t>& tokens, std::size_t context, std::size_t batch, Rng& rng,
                  std::vector<std::int64_t>& contexts, std::vector<std::int64_t>& targets) {
  const std::size_t windows = window_count(tokens.size(), context);
  contexts.resize(batch * context);
  targets.resize(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    const std::size_t target = context + static_cast<std::size_t>(rng.below(windows));
    for (std::size_t c = 0; c < context; ++c) contexts[b * context + c] = tokens[target - context + c];
    targets[b] = tokens[target];
  }
}

std::vector<std::size_t> evaluation_positions(std::size_t tokens, std::size_t context, std::size_t max_windows) {
  const std::size_t windows = window_count(tokens, context);
  const std::size_t count = std::min(windows, max_windows);
  std::vector<std::size_t> positions(count);
  for (std::size_t k = 0; k < count; ++k) {
    positions[k] = context + k * windows / count;  // k * windows < 2^64 for any corpus that fits in memory
  }
  return positions;
}

}  // namespace next_token
