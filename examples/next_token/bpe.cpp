// BPE training (incremental pair counts), encoding (merges by rank over a linked list),
// decoding, and the merge list's checkpoint form.
#include "bpe.hpp"

#include <functional>
#include <queue>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace next_token::bpe {
namespace {

std::uint64_t key(std::int32_t left, std::int32_t right) {
  return (std::uint64_t{static_cast<std::uint32_t>(left)} << 32) | static_cast<std::uint32_t>(right);
}

std::string merge_text(std::size_t i, const Merge& m) {
  return "merge " + std::to_string(i) + " (" + std::to_string(m.left) + ", " + std::to_string(m.right) + ")";
}

// The token sequence as a doubly linked list over the original byte positions: a merge
// keeps the left position and kills the right one, so positions stay in text order and
// "first occurrence" is the smallest live position.
struct Sequence {
  std::vector<std::int32_t> token;  // -1: merged into its left neighbour
  std::vector<std::int32_t> prev, next;  // -1: none

  explicit Sequence(const std::string& bytes) : token(bytes.size()), prev(bytes.size()), next(bytes.size()) {
    const auto n = static_cast<std::int32_t>(bytes.size());
    for (std::int32_t i = 0; i < n; ++i) {
      token[static_cast<std::size_t>(i)] = static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
      prev[static_cast<std::size_t>(i)] = i - 1;
      next[static_cast<std::size_t>(i)] = i + 1 < n ? i + 1 : -1;
    }
  }
  std::int32_t tok(std::int32_t p) const { return token[static_cast<std::size_t>(p)]; }
  std::int32_t after(std::int32_t p) const { return next[static_cast<std::size_t>(p)]; }
  std::int32_t before(std::int32_t p) const { return prev[static_cast<std::size_t>(p)]; }
  bool holds(std::int32_t p, std::int32_t left, std::int32_t right) const {
    return tok(p) == left && after(p) != -1 && tok(after(p)) == right;
  }
  // Replaces the pair at p by `id`; returns nothing, the caller has read the neighbours.
  void merge_at(std::int32_t p, std::int32_t id) {
    const std::int32_t q = after(p);
    const std::int32_t r = after(q);
    token[static_cast<std::size_t>(p)] = id;
    token[static_cast<std::size_t>(q)] = -1;
    next[static_cast<std::size_t>(p)] = r;
    if (r != -1) prev[static_cast<std::size_t>(r)] = p;
  }
};

// One distinct adjacent pair during training. Its occurrences are the positions where it
// formed, in increasing order (a pair forms either in the first scan, left to right, or
// during the single merge step that creates its newer id, also left to right; it never
// re-forms once broken). Some are stale; `cursor` skips them, and only moves forward,
// because an existing pair only loses occurrences.
struct PairStats {
  std::int32_t left = 0, right = 0;
  std::int64_t count = 0;
  std::vector<std::int32_t> occurrences;
  std::size_t cursor = 0;
  std::size_t touched = 0;  // the merge step that last created an occurrence (0: the first scan)
};

struct HeapEntry {
  std::int64_t count;
  std::int32_t first;  // position of the first occurrence when pushed
  std::int32_t pair;   // index into the stats
};

// Higher count first; among equal counts, the earlier first occurrence.
struct LowerPriority {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    return a.count != b.count ? a.count < b.count : a.first > b.first;
  }
};

class PairCounter {
 public:
  explicit PairCounter(const Sequence& seq) : seq_(seq) {}

  void add(std::int32_t left, std::int32_t right, std::int32_t position, std::size_t step) {
    const auto [it, inserted] = index_.try_emplace(key(left, right), static_cast<std::int32_t>(stats_.size()));
    if (inserted) {
      stats_.push_back(PairStats{left, right, 0, {}, 0, step});
      touched_.push_back(it->second);
    }
    PairStats& s = stats_[static_cast<std::size_t>(it->second)];
    ++s.count;
    s.occurrences.push_back(position);
    if (s.touched != step) {
      s.touched = step;
      touched_.push_back(it->second);
    }
  }
  void remove(std::int32_t left, std::int32_t right) { --stats_[static_cast<std::size_t>(index_.at(key(left, right)))].count; }

  // Heap entries for every pair that gained occurrences since the last call: pairs that only
  // lost some keep their old entries, which overstate them and are corrected when popped.
  void push_touched() {
    for (const std::int32_t i : touched_) {
      if (stats_[static_cast<std::size_t>(i)].count > 0) heap_.push({stats_[static_cast<std::size_t>(i)].count, first(i), i});
    }
    touched_.clear();
  }

  // The pair to merge next, or -1 when no pair is left.
  std::int32_t best() {
    while (!heap_.empty()) {
      const HeapEntry top = heap_.top();
      const PairStats& s = stats_[static_cast<std::size_t>(top.pair)];
      if (s.count == 0) {
        heap_.pop();
        continue;
      }
      const std::int32_t f = first(top.pair);
      if (s.count == top.count && f == top.first) return top.pair;
      heap_.pop();
      heap_.push({s.count, f, top.pair});
    }
    return -1;
  }

  PairStats& stats(std::int32_t i) { return stats_[static_cast<std::size_t>(i)]; }

 private:
  std::int32_t first(std::int32_t i) {
    PairStats& s = stats_[static_cast<std::size_t>(i)];
    while (s.cursor < s.occurrences.size() && !seq_.holds(s.occurrences[s.cursor], s.left, s.right)) ++s.cursor;
    return s.cursor < s.occurrences.size() ? s.occurrences[s.cursor] : -1;
  }

  const Sequence& seq_;
  std::vector<PairStats> stats_;
  std::unordered_map<std::uint64_t, std::int32_t> index_;
  std::vector<std::int32_t> touched_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, LowerPriority> heap_;
};

}  // namespace

std::string vocab_size_problem(std::size_t vocab_size) {
  if (vocab_size >= kByteTokens && vocab_size <= kMaxVocabSize) return {};
  return "a BPE vocabulary size must be in [" + std::to_string(kByteTokens) + ", " + std::to_string(kMaxVocabSize) +
         "] (the 256 byte values plus the merges), not " + std::to_string(vocab_size);
}

std::vector<Merge> train(const std::string& text, std::size_t vocab_size) {
  if (const std::string problem = vocab_size_problem(vocab_size); !problem.empty()) throw std::invalid_argument("bpe::train: " + problem);
  if (text.size() > static_cast<std::size_t>(INT32_MAX)) {
    throw std::invalid_argument("bpe::train: the text has " + std::to_string(text.size()) + " bytes, more than 2^31 - 1");
  }
  Sequence seq(text);
  PairCounter counter(seq);
  const auto n = static_cast<std::int32_t>(text.size());
  for (std::int32_t p = 0; p + 1 < n; ++p) counter.add(seq.tok(p), seq.tok(p + 1), p, 0);
  counter.push_touched();

  const std::size_t wanted = vocab_size - kByteTokens;
  std::vector<Merge> merges;
  merges.reserve(wanted);
  for (std::size_t step = 1; merges.size() < wanted; ++step) {
    const std::int32_t best = counter.best();
    if (best == -1) {
      throw std::invalid_argument("bpe::train: the text (" + std::to_string(text.size()) + " bytes) is a single token after " +
                                  std::to_string(merges.size()) + " merges, so it allows a vocabulary of at most " +
                                  std::to_string(kByteTokens + merges.size()) + ", not " + std::to_string(vocab_size));
    }
    const std::int32_t a = counter.stats(best).left, b = counter.stats(best).right;
    const auto id = static_cast<std::int32_t>(kByteTokens + merges.size());
    merges.push_back({a, b});
    const std::vector<std::int32_t> occurrences = std::move(counter.stats(best).occurrences);
    for (const std::int32_t p : occurrences) {
      // Left to right, like minbpe's merge(): in "aaa" the pair at 0 merges and the one at 1 is gone.
      if (!seq.holds(p, a, b)) continue;
      const std::int32_t x = seq.before(p), y = seq.after(seq.after(p));
      if (x != -1) {
        counter.remove(seq.tok(x), a);
        counter.add(seq.tok(x), id, x, step);
      }
      if (y != -1) {
        counter.remove(b, seq.tok(y));
        counter.add(id, seq.tok(y), p, step);
      }
      counter.remove(a, b);
      seq.merge_at(p, id);
    }
    counter.stats(best).occurrences.clear();
    counter.push_touched();
  }
  return merges;
}

Tokenizer::Tokenizer(std::vector<Merge> merges) : merges_(std::move(merges)) {
  if (const std::string problem = vocab_size_problem(kByteTokens + merges_.size()); !problem.empty()) {
    throw std::invalid_argument("bpe::Tokenizer: " + std::to_string(merges_.size()) + " merges: " + problem);
  }
  pieces_.reserve(size());
  for (std::size_t b = 0; b < kByteTokens; ++b) pieces_.emplace_back(1, static_cast<char>(b));
  for (std::size_t i = 0; i < merges_.size(); ++i) {
    const Merge& m = merges_[i];
    const auto limit = static_cast<std::int32_t>(kByteTokens + i);
    if (m.left < 0 || m.right < 0 || m.left >= limit || m.right >= limit) {
      throw std::invalid_argument("bpe::Tokenizer: " + merge_text(i, m) + " makes id " + std::to_string(limit) +
                                  " and may only join ids in [0, " + std::to_string(limit) + ")");
    }
    if (!rank_.emplace(key(m.left, m.right), static_cast<std::int32_t>(i)).second) {
      throw std::invalid_argument("bpe::Tokenizer: " + merge_text(i, m) + " repeats merge " +
                                  std::to_string(rank_.at(key(m.left, m.right))));
    }
    pieces_.push_back(pieces_[static_cast<std::size_t>(m.left)] + pieces_[static_cast<std::size_t>(m.right)]);
  }
}

std::vector<std::int32_t> Tokenizer::encode(const std::string& bytes) const {
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) {
    throw std::invalid_argument("bpe::encode: " + std::to_string(bytes.size()) + " bytes, more than 2^31 - 1");
  }
  Sequence seq(bytes);
  const auto rank_of = [&](std::int32_t left, std::int32_t right) {
    const auto found = rank_.find(key(left, right));
    return found == rank_.end() ? -1 : found->second;
  };
  // (rank, position), smallest first. A merge only creates pairs containing its new id, which
  // later merges alone can join, so ranks come out in order and each rank left to right.
  using Entry = std::pair<std::int32_t, std::int32_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  const auto n = static_cast<std::int32_t>(bytes.size());
  for (std::int32_t p = 0; p + 1 < n; ++p) {
    if (const std::int32_t r = rank_of(seq.tok(p), seq.tok(p + 1)); r != -1) heap.push({r, p});
  }
  while (!heap.empty()) {
    const auto [r, p] = heap.top();
    heap.pop();
    const Merge& m = merges_[static_cast<std::size_t>(r)];
    if (!seq.holds(p, m.left, m.right)) continue;  // broken by an earlier merge
    const auto id = static_cast<std::int32_t>(kByteTokens) + r;
    seq.merge_at(p, id);
    const std::int32_t x = seq.before(p), y = seq.after(p);
    if (x != -1) {
      if (const std::int32_t rx = rank_of(seq.tok(x), id); rx != -1) heap.push({rx, x});
    }
    if (y != -1) {
      if (const std::int32_t ry = rank_of(id, seq.tok(y)); ry != -1) heap.push({ry, p});
    }
  }
  std::vector<std::int32_t> ids;
  for (std::int32_t p = n > 0 ? 0 : -1; p != -1; p = seq.after(p)) ids.push_back(seq.tok(p));
  return ids;
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const {
  std::string out;
  for (const std::int32_t id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= size()) {
      throw std::out_of_range("bpe::decode: id " + std::to_string(id) + " is not in [0, " + std::to_string(size()) + ")");
    }
    out += pieces_[static_cast<std::size_t>(id)];
  }
  return out;
}

nlohmann::json merges_to_json(const std::vector<Merge>& merges) {
  nlohmann::json list = nlohmann::json::array();
  for (const Merge& m : merges) list.push_back({m.left, m.right});
  return list;
}

std::vector<Merge> merges_from_json(const nlohmann::json& value) {
  if (!value.is_array()) throw std::invalid_argument("a BPE vocabulary is a list of merges [left, right]");
  if (value.size() > kMaxVocabSize - kByteTokens) {
    throw std::invalid_argument("a BPE vocabulary of " + std::to_string(value.size()) + " merges: " +
                                vocab_size_problem(kByteTokens + value.size()));
  }
  std::vector<Merge> merges;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const nlohmann::json& m = value[i];
    const auto limit = static_cast<std::int64_t>(kByteTokens + i);
    const auto id_ok = [&](const nlohmann::json& v) {
      return v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() < limit;
    };
    if (!m.is_array() || m.size() != 2 || !id_ok(m[0]) || !id_ok(m[1])) {
      throw std::invalid_argument("BPE merge " + std::to_string(i) + " is " + m.dump() + ", not [left, right] with ids in [0, " +
                                  std::to_string(limit) + ")");
    }
    merges.push_back({m[0].get<std::int32_t>(), m[1].get<std::int32_t>()});
  }
  return merges;
}

std::string canonical_text(const std::vector<Merge>& merges) {
  std::string text = "bpe merges\n";
  for (const Merge& m : merges) text += std::to_string(m.left) + " " + std::to_string(m.right) + "\n";
  return text;
}

}  // namespace next_token::bpe
