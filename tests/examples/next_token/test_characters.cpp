// Specification of next_token's character tokens (--tokens char): the vocabulary is the
// text's distinct code points in code point order, as nanoGPT's prepare.py builds it with
// sorted(set(text)); it round-trips, is saved in the checkpoint, and a character outside it
// is a clear error naming it.
#include <catch2/catch.hpp>

#include "checkpoint.hpp"
#include "corpus.hpp"
#include "tests/examples/next_token/next_token_support.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;

namespace {

// e-acute U+00E9 (2 bytes), the euro sign U+20AC (3), a grinning face U+1F600 (4).
const std::string kE = "\xC3\xA9", kEuro = "\xE2\x82\xAC", kFace = "\xF0\x9F\x98\x80";

}  // namespace

TEST_CASE("A character vocabulary is the text's distinct code points in code point order", "[next_token][char]") {
  const Vocabulary v = Vocabulary::characters_from_text("baca\n" + kFace + kE + "!" + kEuro + "b" + kE);
  // By hand: U+000A, U+0021, U+0061 a, U+0062 b, U+0063 c, U+00E9, U+20AC, U+1F600.
  const std::vector<std::string> expected{"\n", "!", "a", "b", "c", kE, kEuro, kFace};
  CHECK(v.kind() == TokenKind::character);
  CHECK(v.size() == 8);
  CHECK(v.character_list() == expected);
  CHECK(v.encode("cab\n" + kFace + kE) == std::vector<std::int32_t>{4, 2, 3, 0, 7, 5});
  CHECK(v.newline_id() == 0);
  CHECK(v.label(1) == "!");
  CHECK(v.label(0) == "\\n");
  CHECK(v.label(6) == kEuro);
}

TEST_CASE("Character tokens decode to the text they encode", "[next_token][char]") {
  const std::string text = "ROMEO:\nBut, soft! what light " + kE + kEuro + kFace + " through yonder window breaks?\n";
  const Vocabulary v = Vocabulary::characters_from_text(text);
  const std::vector<std::int32_t> ids = v.encode(text);
  CHECK(ids.size() == text.size() - 1 - 2 - 3);  // one id a character: the 2-, 3- and 4-byte ones are one each
  CHECK(v.decode(ids) == text);
}

TEST_CASE("A character outside the vocabulary does not encode, and the message names it", "[next_token][char]") {
  const Vocabulary v = Vocabulary::characters_from_text("abc");
  try {
    v.encode("ab" + kE + "z");
    FAIL("encoded a character outside the vocabulary");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(e.what(), Contains("'" + kE + "' (U+00E9) at byte offset 2") && Contains("3 characters"));
  }
  CHECK_THROWS_WITH(v.encode("a\nb"), Contains("'\\n' (U+000A) at byte offset 1"));
}

TEST_CASE("A saved character list must be single code points in increasing order", "[next_token][char]") {
  CHECK_THROWS_WITH(Vocabulary::characters({"a", "bc"}), Contains("character 1") && Contains("not one UTF-8 code point"));
  CHECK_THROWS_WITH(Vocabulary::characters({"b", "a"}), Contains("character 1 ('a' (U+0061))"));
  CHECK_THROWS_WITH(Vocabulary::characters({"a", "a"}), Contains("not after the one before it"));
  CHECK_THROWS_AS(Vocabulary::characters({"\xC3"}), std::invalid_argument);  // a cut sequence
  CHECK(Vocabulary::characters({"\n", "a", kE}).size() == 3);
}

TEST_CASE("Character tokens count each split's bytes for bits per byte", "[next_token][char]") {
  // 10 characters, 15 bytes: the first half (5 e-acutes) trains, the second (5 a's) validates.
  const std::string text = kE + kE + kE + kE + kE + "aaaaa";
  const Split split = split_corpus(text, Vocabulary::characters_from_text(text), 0.5, 1, "t");
  CHECK(split.train == std::vector<std::int32_t>(5, 1));
  CHECK(split.validation == std::vector<std::int32_t>(5, 0));
  CHECK(split.train_bytes == 10);
  CHECK(split.validation_bytes == 5);
}

TEST_CASE("next_token --tokens char saves its characters, and after loading refuses characters outside them",
          "[next_token][char]") {
  TempDir dir("char_tokens");
  std::string text;
  for (int i = 0; i < 40; ++i) text += "to be, or not to be: that is the question.\n";
  write_text(dir.file("hamlet.txt"), text);
  const CliResult trained = run_cli(small_run({"--corpus", dir.file("hamlet.txt"), "--tokens", "char", "--context", "2",
                                               "--json", dir.file("run.json"), "--save", dir.file("ckpt"), "-q"}));
  REQUIRE(trained.code == kExitOk);
  // By hand: newline, space, comma, full stop, colon, then a b e h i n o q r s t u.
  const std::vector<std::string> expected{"\n", " ", ",", ".", ":", "a", "b", "e", "h",
                                          "i",  "n", "o", "q", "r", "s", "t", "u"};
  const nlohmann::json manifest = read_json(dir.file("ckpt") + "/manifest.json");
  CHECK(manifest["model"]["tokens"] == "char");
  CHECK(manifest["vocabulary"].get<std::vector<std::string>>() == expected);
  CHECK(read_json(dir.file("run.json"))["vocab"] == 17);
  CHECK(read_checkpoint_info(dir.file("ckpt")).vocabulary.character_list() == expected);

  const CliResult sampled = run_cli({"--load", dir.file("ckpt"), "--corpus", dir.file("hamlet.txt"), "--steps", "0",
                                     "--samples", "1", "--prompt", "to be"});
  CHECK(sampled.code == kExitOk);
  const CliResult prompt = run_cli({"--load", dir.file("ckpt"), "--corpus", dir.file("hamlet.txt"), "--steps", "0",
                                    "--prompt", "to die"});
  CHECK(prompt.code == kExitUsage);
  CHECK_THAT(prompt.err, Contains("--prompt: the character 'd' (U+0064) at byte offset 3 is not in the vocabulary"));
  write_text(dir.file("other.txt"), text + "Ay, there's the rub\n");
  const CliResult corpus = run_cli({"--load", dir.file("ckpt"), "--corpus", dir.file("other.txt"), "--steps", "0"});
  CHECK(corpus.code == kExitError);
  CHECK_THAT(corpus.err, Contains("other.txt: the character 'A' (U+0041) at byte offset " + std::to_string(text.size())));
}
