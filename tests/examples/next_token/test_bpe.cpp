// Specification of next_token's byte-level BPE (bpe.hpp) and of losses in bits per byte:
// minbpe's merges on a hand-worked string, its tie rule, agreement with a literal
// transcription of minbpe's train() and encode() on random texts, round trips of any bytes,
// size checks, the vocabulary in a checkpoint (and a tampered one refused), the split's byte
// counts, and the bits-per-byte conversion.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "bpe.hpp"
#include "checkpoint.hpp"
#include "corpus.hpp"
#include "tests/examples/next_token/checkpoint_test_support.hpp"
#include "tests/examples/next_token/next_token_support.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;
using bpe::Merge;

namespace {

// minbpe's BasicTokenizer, line for line: get_stats fills a dict in sequence order, max()
// returns the first pair of highest count, merge() replaces left to right. Recounts the
// whole sequence per merge, which is fine for the short texts here.
using Pair = std::pair<std::int32_t, std::int32_t>;

std::vector<std::pair<Pair, int>> get_stats(const std::vector<std::int32_t>& ids) {
  std::vector<std::pair<Pair, int>> counts;  // in insertion order, like a Python dict
  std::map<Pair, std::size_t> where;
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
    const Pair p{ids[i], ids[i + 1]};
    const auto found = where.find(p);
    if (found == where.end()) {
      where[p] = counts.size();
      counts.push_back({p, 1});
    } else {
      ++counts[found->second].second;
    }
  }
  return counts;
}

std::vector<std::int32_t> merge(const std::vector<std::int32_t>& ids, Pair pair, std::int32_t idx) {
  std::vector<std::int32_t> out;
  for (std::size_t i = 0; i < ids.size();) {
    if (i + 1 < ids.size() && ids[i] == pair.first && ids[i + 1] == pair.second) {
      out.push_back(idx);
      i += 2;
    } else {
      out.push_back(ids[i++]);
    }
  }
  return out;
}

std::vector<std::int32_t> byte_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::vector<Merge> minbpe_train(const std::string& text, std::size_t vocab_size) {
  std::vector<std::int32_t> ids = byte_ids(text);
  std::vector<Merge> merges;
  for (std::size_t i = 0; i < vocab_size - 256; ++i) {
    const auto stats = get_stats(ids);
    if (stats.empty()) break;
    auto best = stats.front();
    for (const auto& s : stats) {
      if (s.second > best.second) best = s;  // strict: the first of equal counts stays
    }
    merges.push_back({best.first.first, best.first.second});
    ids = merge(ids, best.first, static_cast<std::int32_t>(256 + i));
  }
  return merges;
}

std::vector<std::int32_t> minbpe_encode(const std::string& text, const std::vector<Merge>& merges) {
  std::map<Pair, std::int32_t> rank;
  for (std::size_t i = 0; i < merges.size(); ++i) rank[{merges[i].left, merges[i].right}] = static_cast<std::int32_t>(i);
  std::vector<std::int32_t> ids = byte_ids(text);
  while (ids.size() >= 2) {
    const auto stats = get_stats(ids);
    std::int32_t best = -1;
    Pair pair;
    for (const auto& s : stats) {
      const auto found = rank.find(s.first);
      if (found != rank.end() && (best == -1 || found->second < best)) {
        best = found->second;
        pair = s.first;
      }
    }
    if (best == -1) break;
    ids = merge(ids, pair, 256 + best);
  }
  return ids;
}

// Texts over a few letters, so pairs repeat, tie and overlap ("aaa") often.
std::string random_text(Rng& rng, std::size_t length, std::size_t letters) {
  std::string text;
  for (std::size_t i = 0; i < length; ++i) text += static_cast<char>('a' + rng.below(letters));
  return text;
}

}  // namespace

TEST_CASE("BPE training on aaabdaaabac makes minbpe's merges, worked by hand", "[next_token][bpe]") {
  // a = 97, b = 98, c = 99, d = 100.
  // 1. pairs aa x4 (overlapping: aaab has two), ab x2, bd, da, ba, ac x1: (97, 97) -> 256.
  //    Left to right "aaa" becomes [256, 97]: 256 97 98 100 256 97 98 97 99.
  // 2. (256, 97) x2 and (97, 98) x2 tie; (256, 97) occurs first: -> 257: 257 98 100 257 98 97 99.
  // 3. (257, 98) x2 -> 258: 258 100 258 97 99 (minbpe's README encodes the text to exactly this).
  // 4. every pair once; the first, (258, 100) -> 259: 259 258 97 99.
  // 5. (259, 258) -> 260; 6. (260, 97) -> 261; 7. (261, 99) -> 262: the text is one token.
  const std::vector<Merge> merges = bpe::train("aaabdaaabac", 256 + 7);
  CHECK(merges == std::vector<Merge>{{97, 97}, {256, 97}, {257, 98}, {258, 100}, {259, 258}, {260, 97}, {261, 99}});
  const bpe::Tokenizer three(std::vector<Merge>(merges.begin(), merges.begin() + 3));
  CHECK(three.encode("aaabdaaabac") == std::vector<std::int32_t>{258, 100, 258, 97, 99});
  CHECK(three.piece(258) == "aaab");
  CHECK(bpe::Tokenizer(merges).encode("aaabdaaabac") == std::vector<std::int32_t>{262});
}

TEST_CASE("BPE ties go to the pair whose first occurrence comes first", "[next_token][bpe]") {
  // "cdcdabab": cd x2 (first at 0) and ab x2 (first at 4); dc, da, ba once. The rule picks
  // (99, 100), where "smallest ids" would pick (97, 98) and "last seen" (97, 98) too.
  CHECK(bpe::train("cdcdabab", 257) == std::vector<Merge>{{99, 100}});
  CHECK(bpe::train("ababcdcd", 257) == std::vector<Merge>{{97, 98}});
  // The rule looks at the current sequence, not where a pair first appeared in the text.
  // "ccbcbcccbc" (c = 99, b = 98): cc, cb, bc x3 each, cc first (at 0) -> 256. Left to right
  // that leaves 256 b c b 256 c b c: bc x2 (first at byte 2) and cb x2 (first now at byte 3:
  // its occurrence at byte 1 went into 256) tie, and bc wins, though cb was seen first.
  CHECK(bpe::train("ccbcbcccbc", 258) == std::vector<Merge>{{99, 99}, {98, 99}});
}

TEST_CASE("BPE training agrees with a literal transcription of minbpe on random texts", "[next_token][bpe]") {
  Rng rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    const std::size_t letters = 2 + static_cast<std::size_t>(trial % 4);
    const std::string text = random_text(rng, 50 + rng.below(250), letters);
    const std::size_t vocab = 256 + 1 + rng.below(30);
    const std::vector<Merge> reference = minbpe_train(text, vocab);
    INFO("trial " << trial << " text " << text << " vocab " << vocab);
    if (reference.size() < vocab - 256) {  // the text ran out of pairs
      CHECK_THROWS_AS(bpe::train(text, vocab), std::invalid_argument);
      continue;
    }
    const std::vector<Merge> merges = bpe::train(text, vocab);
    REQUIRE(merges == reference);
    const bpe::Tokenizer tokenizer(merges);
    const std::string other = random_text(rng, 80, letters + 1);  // includes a letter never trained on
    CHECK(tokenizer.encode(text) == minbpe_encode(text, merges));
    CHECK(tokenizer.encode(other) == minbpe_encode(other, merges));
  }
}

TEST_CASE("BPE encode then decode returns any bytes, invalid UTF-8 and unseen bytes included", "[next_token][bpe]") {
  const bpe::Tokenizer tokenizer(bpe::train("aaabdaaabac", 256 + 5));
  const char raw[] = "\0\xff\xc0\x80 aaab\xe2\x82 zz\naaabdaaabac";
  const std::string bytes(raw, sizeof raw - 1);
  const std::vector<std::int32_t> ids = tokenizer.encode(bytes);
  CHECK(tokenizer.decode(ids) == bytes);
  CHECK(ids.front() == 0);     // a byte never seen in training is its own id
  CHECK(ids[1] == 0xff);
  CHECK(ids.size() < bytes.size());  // the trained pieces were used
  CHECK(tokenizer.encode("").empty());
  CHECK(tokenizer.encode("\x80") == std::vector<std::int32_t>{0x80});
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  CHECK(tokenizer.decode(tokenizer.encode(all + all)) == all + all);
  CHECK_THROWS_WITH(tokenizer.decode({261}), Contains("id 261 is not in [0, 261)"));
  CHECK_THROWS_AS(tokenizer.decode({-1}), std::out_of_range);
}

TEST_CASE("BPE vocabulary sizes below 256, above the limit or past what the text allows are refused", "[next_token][bpe]") {
  CHECK_THROWS_WITH(bpe::train("abc", 255), Contains("must be in [256, 65536]") && Contains("not 255"));
  CHECK_THROWS_WITH(bpe::train("abc", 0), Contains("not 0"));
  CHECK_THROWS_WITH(bpe::train("abc", 65537), Contains("not 65537"));
  CHECK(bpe::train("abc", 256).empty());
  // The worked example is one token after 7 merges (see the first test case).
  CHECK_THROWS_WITH(bpe::train("aaabdaaabac", 264), Contains("single token after 7 merges") && Contains("at most 263"));
  CHECK_THROWS_WITH(Vocabulary::bpe_from_text("a", 257), Contains("at most 256"));
  CHECK(bpe::vocab_size_problem(256).empty());
  CHECK(bpe::vocab_size_problem(65536).empty());
}

TEST_CASE("A BPE merge list is checked: ids must exist before they are joined, no pair twice", "[next_token][bpe]") {
  CHECK_NOTHROW(bpe::Tokenizer({{97, 97}, {256, 97}}));
  CHECK_THROWS_WITH(bpe::Tokenizer({{97, 256}}), Contains("merge 0 (97, 256) makes id 256") && Contains("[0, 256)"));
  CHECK_THROWS_WITH(bpe::Tokenizer({{-1, 3}}), Contains("merge 0 (-1, 3)"));
  CHECK_THROWS_WITH(bpe::Tokenizer({{97, 98}, {97, 98}}), Contains("merge 1 (97, 98) repeats merge 0"));
  CHECK(bpe::merges_from_json(nlohmann::json::parse("[[97, 97], [256, 98]]")) == std::vector<Merge>{{97, 97}, {256, 98}});
  for (const char* bad : {"{}", "[[97]]", "[[97, \"b\"]]", "[[97, 256]]", "[[97, 1.5]]", "[[97, -1]]"}) {
    INFO(bad);
    CHECK_THROWS_AS(bpe::merges_from_json(nlohmann::json::parse(bad)), std::invalid_argument);
  }
}

TEST_CASE("A BPE vocabulary labels its pieces and decodes to text", "[next_token][bpe][corpus]") {
  const Vocabulary v = Vocabulary::bpe({{'t', 'h'}, {256, 'e'}, {257, ' '}, {'\n', 'A'}});
  CHECK(v.kind() == TokenKind::bpe);
  CHECK(std::string(token_kind_name(v.kind())) == "bpe");
  CHECK(v.size() == 260);
  CHECK(v.encode("the the\nAt") == std::vector<std::int32_t>{258, 257, 259, 't'});
  CHECK(v.decode({258, 257, 259, 't'}) == "the the\nAt");
  CHECK(v.label(258) == "the\xE2\x90\xA3");  // U+2423 shows the space
  CHECK(v.label(259) == "\\nA");
  CHECK(v.label('e') == "e");
}

TEST_CASE("A BPE vocabulary travels with its checkpoint", "[next_token][bpe][checkpoint]") {
  TempDir dir("bpe");
  const Vocabulary vocabulary = Vocabulary::bpe_from_text("aaabdaaabac", 256 + 6);
  ModelConfig config = small_config();
  config.vocab = vocabulary.size();
  save_checkpoint(dir.file("ckpt"), *mlp(config), vocabulary, 3, 0);
  const nlohmann::json manifest = read_json(dir.file("ckpt/manifest.json"));
  CHECK(manifest["model"]["tokens"] == "bpe");
  CHECK(manifest["vocabulary"] == nlohmann::json::parse("[[97,97],[256,97],[257,98],[258,100],[259,258],[260,97]]"));
  const CheckpointInfo info = read_checkpoint_info(dir.file("ckpt"));
  CHECK(info.vocabulary.kind() == TokenKind::bpe);
  CHECK(info.vocabulary.merges() == vocabulary.merges());
  CHECK(info.vocabulary.encode("aaabdaaabac") == vocabulary.encode("aaabdaaabac"));
  CHECK(checksum(info.vocabulary) == checksum(vocabulary));
  CHECK(checksum(vocabulary) != checksum(Vocabulary::bpe_from_text("aaabdaaabac", 256 + 5)));
  CHECK(checksum(Vocabulary::bpe({})) != checksum(Vocabulary::bytes()));  // the same ids, another kind
}

TEST_CASE("A tampered BPE merge list in a manifest is refused", "[next_token][bpe][checkpoint]") {
  TempDir dir("bpe_tampered");
  const std::string ckpt = dir.file("ckpt");
  const Vocabulary vocabulary = Vocabulary::bpe({{'a', 'b'}, {'c', 'd'}, {256, 257}});
  ModelConfig config = small_config();
  config.vocab = vocabulary.size();
  save_checkpoint(ckpt, *mlp(config), vocabulary, 1, 0);
  const nlohmann::json saved = read_json(ckpt + "/manifest.json");
  const auto with_vocabulary = [&](const nlohmann::json& merges) {
    nlohmann::json m = saved;
    m["vocabulary"] = merges;
    write_text(ckpt + "/manifest.json", m.dump());
  };
  with_vocabulary(nlohmann::json::parse("[[97, 98], [100, 99], [256, 257]]"));  // a valid list, edited
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("does not match its checksum"));
  with_vocabulary(nlohmann::json::parse("[[97, 98], [99, 100], [256, 999]]"));
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("bad vocabulary") && Contains("BPE merge 2"));
  with_vocabulary(nlohmann::json::parse("[[97, 98], [99, 100]]"));
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("the vocabulary has 258 entries but the model's V is 259"));
  with_vocabulary("bytes 0-255");
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("bad vocabulary"));
  with_vocabulary(saved["vocabulary"]);
  CHECK(read_checkpoint_info(ckpt).vocabulary.merges() == vocabulary.merges());
}

TEST_CASE("Bits per byte: nats per token times tokens per byte over ln 2", "[next_token][corpus]") {
  // 2 nats per token, 300 tokens for 1000 bytes: 2 * 0.3 / 0.693147... = 0.865617...
  CHECK(bits_per_byte(2.0, 300, 1000) == Approx(0.8656170245333781).epsilon(1e-12));
  // Byte tokens: a uniform guess over 256 values is ln 256 nats, 8 bits.
  CHECK(bits_per_byte(std::log(256.0), 1000, 1000) == Approx(8.0).epsilon(1e-12));
  CHECK(bits_per_byte(std::log(2.0), 7, 7) == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("The split counts the bytes of text behind each part", "[next_token][corpus]") {
  // 20 bytes, validation fraction 0.25: 5 bytes validate.
  const std::string text = "In the beginning God";
  const Split bytes = split_corpus(text, Vocabulary::bytes(), 0.25, 2, "t");
  CHECK(bytes.train.size() == 15);
  CHECK(bytes.train_bytes == 15);
  CHECK(bytes.validation_bytes == 5);
  // 4 words, 0.5: "In the" train, "beginning God" validates; its part starts at the word,
  // byte 7, so the space before it counts with the train part.
  const Split words = split_corpus(text, Vocabulary::words_from_text(text, 10), 0.5, 1, "t");
  CHECK(words.train.size() == 2);
  CHECK(words.train_bytes == 7);
  CHECK(words.validation_bytes == 13);
  // BPE: the text is cut at byte 15 ("In the beginnin" | "g God") and each part encoded alone.
  const Vocabulary pieces = Vocabulary::bpe({{'i', 'n'}, {256, 'g'}});
  const Split cut = split_corpus(text, pieces, 0.25, 1, "t");
  CHECK(cut.train_bytes == 15);
  CHECK(cut.validation_bytes == 5);
  CHECK(pieces.decode(cut.train) == "In the beginnin");
  CHECK(pieces.decode(cut.validation) == "g God");
  CHECK(cut.train.size() == 13);  // "beginnin" is b e g 256 n 256: 15 bytes - 2 merges
  // The cut moves past a character's continuation bytes: "ab\xC3\xA9" + 4 bytes, 0.5 -> byte 4.
  CHECK(bpe_training_bytes("ab\xC3\xA9xyz!", 0.5) == 4);
  CHECK(bpe_training_bytes("abc\xC3\xA9xyz", 0.5) == 5);
}

namespace {

// A text of a few thousand bytes whose words repeat, so BPE finds pairs to merge.
std::string sentences(std::size_t count) {
  const char* words[] = {"And", "God", "said", "let", "there", "be", "light", "and", "the", "earth", "was"};
  Rng rng(3);
  std::string text;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t n = 3 + rng.below(6);
    for (std::size_t w = 0; w < n; ++w) text += std::string(w ? " " : "") + words[rng.below(11)];
    text += ".\n";
  }
  return text;
}

}  // namespace

TEST_CASE("next_token --tokens bpe trains on the training split, reports bits per byte and reloads", "[next_token][bpe][cli]") {
  TempDir dir("bpe_cli");
  const std::string text = sentences(400);
  write_text(dir.file("corpus.txt"), text);
  const CliResult run = run_cli(small_run({"--corpus", dir.file("corpus.txt"), "--tokens", "bpe", "--vocab-size", "300",
                                           "--save", dir.file("ckpt"), "--json", dir.file("run.json")}));
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK_THAT(run.out, Contains("bpe tokens (V = 300)") && Contains("bits/byte") && Contains("loss (bits per byte of text)"));
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK(j["model"]["tokens"] == "bpe");
  CHECK(j["vocab"] == 300);
  const nlohmann::json& corpus = j["corpus"];
  const std::size_t cut = bpe_training_bytes(text, 0.1);
  CHECK(corpus["train_bytes"] == cut);
  CHECK(corpus["validation_bytes"] == text.size() - cut);
  const double tokens_per_byte = corpus["validation_tokens"].get<double>() / corpus["validation_bytes"].get<double>();
  CHECK(tokens_per_byte < 0.9);  // merges made tokens longer than a byte
  CHECK(j["val_bits_per_byte"].get<double>() ==
        Approx(j["val_loss"].get<double>() * tokens_per_byte / std::log(2.0)).epsilon(1e-12));
  // The vocabulary is minbpe's on the training bytes alone.
  const CheckpointInfo info = read_checkpoint_info(dir.file("ckpt"));
  CHECK(info.vocabulary.merges() == bpe::train(text.substr(0, cut), 300));
  const CliResult loaded = run_cli(small_run({"--corpus", dir.file("corpus.txt"), "--load", dir.file("ckpt"), "--steps", "0",
                                              "--json", dir.file("loaded.json")}));
  REQUIRE(loaded.code == 0);
  const nlohmann::json l = read_json(dir.file("loaded.json"));
  CHECK(l["model"]["tokens"] == "bpe");
  CHECK(l["val_loss"] == j["val_loss"]);  // the same vocabulary, so the same tokens and windows
  CHECK(l["val_bits_per_byte"] == j["val_bits_per_byte"]);
}

TEST_CASE("next_token with byte tokens reports bits per byte as nats over ln 2", "[next_token][cli]") {
  TempDir dir("bytes_bpb");
  write_text(dir.file("corpus.txt"), sentences(200));
  const CliResult run = run_cli(small_run({"--corpus", dir.file("corpus.txt"), "--json", dir.file("run.json")}));
  REQUIRE(run.code == 0);
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK(j["val_bits_per_byte"].get<double>() == Approx(j["val_loss"].get<double>() / std::log(2.0)).epsilon(1e-12));
  CHECK(j["final_bits_per_byte"].get<double>() == Approx(j["final_loss"].get<double>() / std::log(2.0)).epsilon(1e-12));
  CHECK(j["curve"][0]["validation_bits_per_byte"].get<double>() ==
        Approx(j["curve"][0]["validation"].get<double>() / std::log(2.0)).epsilon(1e-12));
}

TEST_CASE("next_token refuses a BPE vocabulary size it cannot train", "[next_token][bpe][cli]") {
  TempDir dir("bpe_sizes");
  write_text(dir.file("corpus.txt"), "In the beginning God created the heaven and the earth.\n");
  for (const char* size : {"255", "70000"}) {
    const CliResult r = run_cli({"--corpus", dir.file("corpus.txt"), "--tokens", "bpe", "--vocab-size", size, "--context", "1"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Contains("must be in [256, 65536]"));
  }
  const CliResult r = run_cli({"--corpus", dir.file("corpus.txt"), "--tokens", "bpe", "--vocab-size", "400", "--context", "1"});
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("is a single token after"));
}
