// Specification of next_token's data side and row check: text checks, byte and word
// vocabularies, the split, the batch sampler, and the row check computed from tables.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "corpus.hpp"
#include "model.hpp"
#include "report.hpp"
#include "tests/test_support.hpp"
#include "core/flax/flax.hpp"

using namespace next_token;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::string temp_file(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::temp_directory_path() / ("xgrad_nt_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

}  // namespace

TEST_CASE("Corpus text must be valid UTF-8 without control bytes", "[next_token][corpus]") {
  CHECK_NOTHROW(check_text("In the beginning\tGod\r\n\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\f", "t"));
  const std::pair<std::string, const char*> bad[] = {
      {std::string("ab\0cd", 5), "control byte 0x00 at byte offset 2"},
      {"abc\x1b[0m", "control byte 0x1B at byte offset 3"},
      {"a\x7f", "control byte 0x7F at byte offset 1"},
      {"caf\xE9", "byte 0xE9 at byte offset 3"},             // Latin-1, not UTF-8
      {"x\xC0\x80", "byte 0xC0 at byte offset 1"},           // overlong NUL
      {"x\xED\xA0\x80", "byte 0xED at byte offset 1"},       // a UTF-16 surrogate
      {"x\xF4\x90\x80\x80", "byte 0xF4 at byte offset 1"},   // past U+10FFFF
      {"ok\xE2\x82", "byte 0xE2 at byte offset 2"},          // cut short
      {"\x80", "byte 0x80 at byte offset 0"},                // a lone continuation byte
  };
  for (const auto& [text, message] : bad) {
    INFO(message);
    CHECK_THROWS_AS(check_text(text, "t"), CorpusError);
    CHECK_THROWS_WITH(check_text(text, "t"), Contains(message));
  }
}

TEST_CASE("read_corpus refuses missing, empty, directory and binary files", "[next_token][corpus]") {
  CHECK_THROWS_WITH(read_corpus("/no/such/corpus.txt"), Contains("cannot read corpus /no/such/corpus.txt"));
  CHECK_THROWS_WITH(read_corpus(fs::temp_directory_path().string()), Contains("it is a directory"));
  const std::string empty = temp_file("empty.txt", "");
  CHECK_THROWS_WITH(read_corpus(empty), Contains("is empty"));
  const std::string binary = temp_file("binary.bin", std::string("\x7f" "ELF\x02\x01\x01\0\0", 9));
  CHECK_THROWS_WITH(read_corpus(binary), Contains("is not text"));
  const std::string good = temp_file("good.txt", "hello\n");
  CHECK(read_corpus(good) == "hello\n");
  fs::remove(empty);
  fs::remove(binary);
  fs::remove(good);
}

TEST_CASE("Words split on whitespace with punctuation as tokens of its own", "[next_token][corpus]") {
  CHECK(split_words("And God said, Let there be light: and there was light.") ==
        std::vector<std::string>{"And", "God", "said", ",", "Let", "there", "be", "light", ":", "and", "there", "was",
                                 "light", "."});
  CHECK(split_words("  the LORD's (Abram's) caf\xC3\xA9\n\n") ==
        std::vector<std::string>{"the", "LORD's", "(", "Abram's", ")", "caf\xC3\xA9"});
  CHECK(split_words(" \n\t").empty());
}

TEST_CASE("Byte vocabulary: V = 256, ids are byte values, round trip", "[next_token][corpus]") {
  const Vocabulary v = Vocabulary::bytes();
  CHECK(v.size() == 256);
  const std::string text = "Ab \n\xC3\xA9";
  const std::vector<std::int32_t> ids = v.encode(text);
  CHECK(ids == std::vector<std::int32_t>{65, 98, 32, 10, 0xC3, 0xA9});
  CHECK(v.decode(ids) == text);
  CHECK(v.label(65) == "A");
  CHECK(v.label(32) == "space");
  CHECK(v.label(10) == "\\n");
  CHECK(v.label(200) == "0xC8");
}

TEST_CASE("Word vocabulary keeps the most frequent words, ties in byte order, <unk> = 0", "[next_token][corpus]") {
  const std::string text = "b a c a b a d e e";  // a:3, b:2, e:2, c:1, d:1
  const Vocabulary all = Vocabulary::words_from_text(text, 100);
  CHECK(all.word_list() == std::vector<std::string>{"<unk>", "a", "b", "e", "c", "d"});
  const Vocabulary capped = Vocabulary::words_from_text(text, 3);
  CHECK(capped.size() == 3);
  CHECK(capped.word_list() == std::vector<std::string>{"<unk>", "a", "b"});
  CHECK(capped.encode("a e b zebra") == std::vector<std::int32_t>{1, 0, 2, 0});
  CHECK(capped.label(0) == "<unk>");
  CHECK_THROWS_AS(Vocabulary::words({"a", "<unk>"}), std::invalid_argument);
  CHECK_THROWS_AS(Vocabulary::words({"<unk>", "a", "a"}), std::invalid_argument);
  CHECK_THROWS_AS(Vocabulary::words_from_text(text, 1), std::invalid_argument);
}

TEST_CASE("Word decoding puts no space before closing punctuation", "[next_token][corpus]") {
  const Vocabulary v = Vocabulary::words({"<unk>", "And", "God", "said", ",", "(", "light", ")", "."});
  CHECK(v.decode({1, 2, 3, 4, 5, 6, 7, 8}) == "And God said, (light).");
}

TEST_CASE("The split keeps the tail for validation and refuses a corpus too short for a window",
          "[next_token][corpus]") {
  std::vector<std::int32_t> tokens(100);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>(i);
  const Split split = split_tokens(tokens, 0.1, 3, "c");
  CHECK(split.train.size() == 90);
  CHECK(split.validation.front() == 90);
  CHECK_THROWS_WITH(split_tokens(std::vector<std::int32_t>(10, 1), 0.1, 3, "tiny.txt"),
                    Contains("corpus tiny.txt is too short: 10 tokens") && Contains("context of 3"));
  CHECK_NOTHROW(split_tokens(std::vector<std::int32_t>(8, 1), 0.5, 3, "c"));
  CHECK_THROWS_AS(split_tokens(std::vector<std::int32_t>(7, 1), 0.5, 3, "c"), CorpusError);
}

TEST_CASE("Rng is SplitMix64: the same numbers everywhere", "[next_token][corpus]") {
  Rng rng(0);
  CHECK(rng.next() == 0xE220A8397B1DCDAFull);  // SplitMix64's published first outputs for seed 0
  CHECK(rng.next() == 0x6E789E6AA1B965F4ull);
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) CHECK(a.below(7) == b.below(7));
  Rng c(1);
  for (int i = 0; i < 1000; ++i) {
    const double u = c.uniform();
    REQUIRE((u >= 0.0 && u < 1.0));
    REQUIRE(c.below(3) < 3);
  }
  CHECK(stream_seed(0, 1) != stream_seed(0, 2));
  CHECK(stream_seed(0, 1, 0) != stream_seed(0, 1, 1));
}

TEST_CASE("A batch window is the C tokens before its target", "[next_token][corpus]") {
  std::vector<std::int32_t> tokens(50);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>(i);
  Rng rng(3);
  std::vector<std::int64_t> contexts, targets;
  sample_batch(tokens, 4, 64, rng, contexts, targets);
  REQUIRE(contexts.size() == 64 * 4);
  for (std::size_t b = 0; b < 64; ++b) {
    CHECK(targets[b] >= 4);
    for (std::size_t c = 0; c < 4; ++c) CHECK(contexts[b * 4 + c] == targets[b] - 4 + static_cast<std::int64_t>(c));
  }
}

TEST_CASE("Evaluation windows are spread evenly, all of them when there are few", "[next_token][corpus]") {
  CHECK(evaluation_positions(10, 3, 100) == std::vector<std::size_t>{3, 4, 5, 6, 7, 8, 9});
  CHECK(evaluation_positions(103, 3, 4) == std::vector<std::size_t>{3, 28, 53, 78});
  CHECK(evaluation_positions(3, 3, 4).empty());
}

TEST_CASE("The row check is computed from the tables and catches a never-fed row that moved",
          "[next_token][report]") {
  const xgrad::Array before = xgrad::testing::hashed_values({6, 3});
  xgrad::Array after = before;
  after(1, 0) += 0.5f;  // fed and moved
  after(4, 2) += 0.5f;  // fed and moved
  std::vector<std::uint8_t> seen{0, 1, 0, 1, 1, 0};
  RowCheck ok = check_rows(before, after, seen, false);
  CHECK(ok.passed);
  CHECK(ok.rows_seen == 3);
  CHECK(ok.rows_changed == 2);
  CHECK(ok.seen_unchanged == 1);  // row 3 was fed but did not move
  CHECK(ok.rows_never_seen == 3);
  CHECK(ok.unseen_rows_identical);
  CHECK(ok.movement[1] == Approx(0.5));

  after(5, 1) = std::nextafter(before(5, 1), 10.0f);   // one ulp in a never-fed row
  const RowCheck bad = check_rows(before, after, seen, false);
  CHECK_FALSE(bad.passed);
  CHECK_FALSE(bad.unseen_rows_identical);
  CHECK(bad.unseen_changed == 1);
  const std::vector<std::string> lines = explain_rows(bad, TrainOptions{});
  CHECK_THAT(lines.back(), Contains("FAILED") && Contains("ids 5"));

  const RowCheck tied = check_rows(before, after, seen, true);  // dense gradient: reported, not enforced
  CHECK(tied.passed);
  CHECK_THAT(explain_rows(tied, TrainOptions{}).front(), Contains("--tie"));
}

TEST_CASE("The model is the context-window MLP, tied or not, with Flax-named parameters",
          "[next_token][model]") {
  ModelConfig config;
  config.vocab = 30;
  config.context = 3;
  config.embed_dim = 4;
  config.hidden = 8;
  const Model model(config, 0);
  std::vector<std::string> names, flax;
  for (const Model::Parameter& p : model.parameters()) {
    names.push_back(p.name);
    flax.push_back(p.flax_path);
  }
  CHECK(names == std::vector<std::string>{"embed.embedding", "hidden.kernel", "hidden.bias", "output.kernel", "output.bias"});
  CHECK(flax == std::vector<std::string>{"Embed_0/embedding", "Dense_0/kernel", "Dense_0/bias", "Dense_1/kernel", "Dense_1/bias"});
  CHECK(model.parameter_count() == 30 * 4 + 12 * 8 + 8 + 8 * 30 + 30);
  CHECK(describe(config) == "Embed(30, 4) x3 -> concat 12 -> Dense 8 -> tanh -> Dense 30");
  // The table is Flax's nn.Embed table for its path: N(0, 1/D) from param_key(root, {"Embed_0"}).
  const xgrad::Array expected = xgrad::initializers::flax_embed_default()(
      xgrad::flax::param_key(xgrad::random::prng_key(0), {"Embed_0"}, 1), {30, 4});
  CHECK(xgrad::testing::bit_equal(model.embed().embedding().value(), expected));

  xgrad::Tape tape;
  const xgrad::Tensor logits = model.logits(tape, xgrad::TokenIds({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(logits.shape() == xgrad::Shape{2, 30});

  config.tie = true;
  const Model tied(config, 0);
  CHECK(tied.parameters().back().name == "project.bias");
  CHECK(describe(config) == "Embed(30, 4) x3 -> concat 12 -> Dense 8 -> tanh -> Dense 4 -> Embed.attend 30 (tied)");
  xgrad::Tape tape2;
  CHECK(tied.logits(tape2, xgrad::TokenIds({1, 2, 3}, {1, 3})).shape() == xgrad::Shape{1, 30});

  config.context = 1;
  config.hidden = 0;
  const Model bigram(config, 0);  // the tied bigram: logits = E[prev] @ E^T, no other parameter
  CHECK(bigram.parameters().size() == 1);
}

namespace {

// Bytes this process has read so far (read(2) and the like), from /proc/self/io.
std::uint64_t bytes_read_so_far() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  FAIL("no rchar in /proc/self/io");
  return 0;
}

// A file of `size` NUL bytes that takes no disk space (a hole).
std::string sparse_file(const std::string& name, std::uint64_t size) {
  const std::string path = temp_file(name, "");
  fs::resize_file(path, size);
  return path;
}

}  // namespace

TEST_CASE("A corpus larger than the documented bound is refused before any of it is read", "[next_token][corpus]") {
  const std::string path = sparse_file("huge.txt", (std::uint64_t{2} << 30));  // 2 GiB of NUL bytes
  const std::uint64_t before = bytes_read_so_far();
  CHECK_THROWS_WITH(read_corpus(path), Contains("corpus " + path + " is 2147483648 bytes") &&
                                           Contains("more than the largest corpus (1073741824 bytes"));
  CHECK(bytes_read_so_far() - before < 4096);
  fs::remove(path);
}

TEST_CASE("A corpus's first bad byte is reported before the rest of the file is read", "[next_token][corpus]") {
  const std::string path = sparse_file("nul.txt", std::uint64_t{256} << 20);  // 256 MiB of NUL bytes
  const std::uint64_t before = bytes_read_so_far();
  CHECK_THROWS_WITH(read_corpus(path), Contains("control byte 0x00 at byte offset 0"));
  CHECK(bytes_read_so_far() - before <= (std::uint64_t{1} << 20) + 4096);  // one block
  fs::remove(path);
}

TEST_CASE("Characters across the corpus reader's blocks are whole, and bad bytes past the first block are found",
          "[next_token][corpus]") {
  const std::size_t block = std::size_t{1} << 20;
  // U+00E9 (C3 A9) and U+1F600 (F0 9F 98 80) each straddling a block boundary.
  std::string text(block - 1, 'a');
  text += "\xC3\xA9";
  text += std::string(block - 3, 'b');
  text += "\xF0\x9F\x98\x80";
  text += "end of the text\n";
  const std::string good = temp_file("straddle.txt", text);
  CHECK(read_corpus(good) == text);
  text[2 * block + 7] = '\x01';
  const std::string bad = temp_file("late_bad.txt", text);
  CHECK_THROWS_WITH(read_corpus(bad), Contains("control byte 0x01 at byte offset " + std::to_string(2 * block + 7)));
  text[2 * block + 7] = 'c';
  text.pop_back();
  text.back() = '\xC3';  // a character cut off by the end of the file
  const std::string cut = temp_file("cut.txt", text);
  CHECK_THROWS_WITH(read_corpus(cut), Contains("byte 0xC3 at byte offset " + std::to_string(text.size() - 1)));
  fs::remove(good);
  fs::remove(bad);
  fs::remove(cut);
}
