// Specification of next_token checkpoints: a save/load round trip is bit-exact, resuming
// continues the step count, every kind of damaged checkpoint is a clear error that changes
// nothing, and NumPy reads the saved table (skipped with a WARN when numpy is missing).
// Issue 12: a diverged run saves nothing (case 1), NaN and inf are neither saved nor loaded
// unasked, manifest numbers are range-checked and the vocabulary checksummed (case 8), FIFOs
// are refused (case 9) and manifest bytes are escaped in messages (case 10). Kills and full
// disks: test_checkpoint_kills.cpp.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>

#include "checkpoint.hpp"
#include "language_model.hpp"
#include "tests/examples/next_token/checkpoint_test_support.hpp"
#include "tests/examples/next_token/next_token_support.hpp"
#include "tests/test_support.hpp"
#include "core/io/npy.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

TEST_CASE("A checkpoint round trip restores every parameter bit for bit", "[next_token][checkpoint]") {
  TempDir dir("roundtrip");
  const auto saved = scrambled_model(11);
  save_checkpoint(dir.file("ckpt"), *saved, words40(), 1234, 99);

  for (const char* name : {"embed.embedding.npy", "hidden.kernel.npy", "hidden.bias.npy", "output.kernel.npy",
                           "output.bias.npy", "manifest.json"}) {
    INFO(name);
    CHECK(fs::exists(dir.path / "ckpt" / name));
  }
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path / "ckpt")) ++files;
  CHECK(files == 6);  // no temporary file left behind

  const CheckpointInfo info = read_checkpoint_info(dir.file("ckpt"));
  CHECK(info.spec.kind == ModelKind::mlp);
  CHECK(info.spec.mlp == small_config());
  CHECK(info.step == 1234);
  CHECK(info.seed == 99);
  CHECK(info.vocabulary.word_list() == words40().word_list());

  const auto loaded = make_model(info.spec, 5);  // different initial values...
  REQUIRE_FALSE(same_bits(values_of(*loaded), values_of(*saved)));
  load_parameters(dir.file("ckpt"), *loaded);
  CHECK(same_bits(values_of(*loaded), values_of(*saved)));  // ...replaced by the saved bits
}

TEST_CASE("A word vocabulary travels with its checkpoint", "[next_token][checkpoint]") {
  TempDir dir("words");
  ModelConfig config = small_config();
  const Vocabulary words = Vocabulary::words({"<unk>", "the", "LORD", ","});
  config.vocab = words.size();
  const auto model = mlp(config, 0);
  save_checkpoint(dir.file("ckpt"), *model, words, 3, 0);
  const CheckpointInfo info = read_checkpoint_info(dir.file("ckpt"));
  CHECK(info.vocabulary.kind() == TokenKind::word);
  CHECK(info.vocabulary.word_list() == words.word_list());
}

TEST_CASE("Damaged checkpoints are clear errors and change nothing", "[next_token][checkpoint]") {
  TempDir dir("damaged");
  const std::string ckpt = dir.file("ckpt");
  const auto saved = scrambled_model(3);
  const auto target = scrambled_model(50);
  const std::vector<xgrad::Array> before = values_of(*target);
  const auto fresh = [&] {
    fs::remove_all(ckpt);
    save_checkpoint(ckpt, *saved, words40(), 10, 0);
  };
  const auto expect_error = [&](const char* message) {
    CHECK_THROWS_AS(load_parameters(ckpt, *target), CheckpointError);
    CHECK_THROWS_WITH(load_parameters(ckpt, *target), Contains(message));
    CHECK(same_bits(values_of(*target), before));
  };

  SECTION("missing directory") {
    CHECK_THROWS_WITH(read_checkpoint_info(dir.file("nope")), Contains("no such directory"));
  }
  SECTION("missing manifest") {
    fresh();
    fs::remove(fs::path(ckpt) / "manifest.json");
    CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("manifest.json is missing"));
    expect_error("manifest.json is missing");
  }
  SECTION("manifest that is not JSON") {
    fresh();
    write_text(ckpt + "/manifest.json", "{ not json");
    CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("not valid JSON"));
  }
  SECTION("manifest of something else") {
    fresh();
    write_text(ckpt + "/manifest.json", "{\"format\": \"other\"}");
    CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("not a next_token checkpoint"));
    write_text(ckpt + "/manifest.json", "[1, 2]");
    CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("not a next_token checkpoint"));
    nlohmann::json m = {{"format", "xgrad next_token checkpoint"}, {"version", "one"}};
    write_text(ckpt + "/manifest.json", m.dump());
    CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("manifest version \"one\""));
  }
  SECTION("manifest with a mistyped field") {
    fresh();
    nlohmann::json m = read_json(ckpt + "/manifest.json");
    m["model"]["context"] = "three";
    write_text(ckpt + "/manifest.json", m.dump());
    CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("\"context\" is \"three\", not a whole number"));
    m["model"]["context"] = 2;
    m["model"]["tie"] = "no";
    write_text(ckpt + "/manifest.json", m.dump());
    CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("missing or mistyped field"));
  }
  SECTION("missing parameter file") {
    fresh();
    fs::remove(fs::path(ckpt) / "hidden.kernel.npy");
    expect_error("is missing hidden.kernel.npy");
  }
  SECTION("wrong shape") {
    fresh();
    xgrad::npy::save(ckpt + "/output.bias.npy", xgrad::testing::hashed_values({41}));
    expect_error("has shape (41,), expected (40,)");
  }
  SECTION("wrong dtype") {
    fresh();
    // A float64 (40,) array as NumPy writes it: same header layout, '<f8', 320 bytes of data.
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (40,), }";
    while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
    dict += '\n';
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(dict.size());
    bytes += '\0';
    write_text(ckpt + "/output.bias.npy", bytes + dict + std::string(320, '\0'));
    expect_error("dtype is '<f8', expected '<f4'");
  }
  SECTION("truncated file") {
    fresh();
    const std::string path = ckpt + "/embed.embedding.npy";
    const std::string bytes = read_text(path);
    write_text(path, bytes.substr(0, bytes.size() - 7));
    expect_error("truncated file");
  }
  SECTION("a file from another save (what an interrupted save leaves)") {
    fresh();
    xgrad::npy::save(ckpt + "/hidden.bias.npy", xgrad::testing::hashed_values({7}, 777));
    expect_error("does not match the checksum");
  }
  SECTION("a model of another shape") {
    fresh();
    ModelConfig other = small_config();
    other.hidden = 9;
    const auto wrong = mlp(other, 0);
    CHECK_THROWS_WITH(load_parameters(ckpt, *wrong), Contains("expected (10, 9)"));
  }
}

TEST_CASE("Saving then loading gives the same losses to the bit, and resumed steps continue", "[next_token][checkpoint][cli]") {
  TempDir dir("cli");
  const std::string ckpt = dir.file("ckpt");
  const CliResult first = run_cli(small_run({"--save", ckpt, "--json", dir.file("first.json")}));
  INFO(first.out << first.err);
  REQUIRE(first.code == kExitOk);
  const nlohmann::json a = read_json(dir.file("first.json"));
  CHECK(read_json(ckpt + "/manifest.json")["step"] == 60);

  // Evaluate the loaded model without training: exactly the losses the first run ended with.
  const CliResult eval = run_cli(small_run({"--load", ckpt, "--steps", "0", "--json", dir.file("eval.json")}));
  INFO(eval.out << eval.err);
  REQUIRE(eval.code == kExitOk);
  const nlohmann::json b = read_json(dir.file("eval.json"));
  CHECK(b["initial_loss"] == a["val_loss"]);
  CHECK(b["val_loss"] == a["val_loss"]);
  CHECK(b["final_loss"] == a["final_loss"]);
  CHECK(b["learning_check"] == "not applied");
  CHECK(b["rows_changed"] == 0);

  // Resume: 20 more steps, saved over the same directory.
  const CliResult resumed = run_cli(small_run({"--load", ckpt, "--steps", "20", "--save", ckpt, "--json", dir.file("r.json")}));
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.code == kExitOk);
  const nlohmann::json r = read_json(dir.file("r.json"));
  CHECK(r["first_step"] == 60);
  CHECK(r["last_step"] == 80);
  CHECK(read_json(ckpt + "/manifest.json")["step"] == 80);
  CHECK(r["initial_loss"] == a["val_loss"]);
}

TEST_CASE("Loading refuses conflicting model flags and damaged checkpoints", "[next_token][checkpoint][cli]") {
  TempDir dir("cli_errors");
  const std::string ckpt = dir.file("ckpt");
  REQUIRE(run_cli(small_run({"--save", ckpt, "--quiet"})).code == kExitOk);

  const CliResult conflict = run_cli(small_run({"--load", ckpt, "--context", "4"}));
  CHECK(conflict.code == kExitUsage);
  CHECK_THAT(conflict.err, Contains("--context 4 conflicts with the checkpoint"));
  const CliResult vocab = run_cli(small_run({"--load", ckpt, "--vocab-size", "10"}));
  CHECK(vocab.code == kExitUsage);
  // The same flag with the checkpoint's own value is fine.
  CHECK(run_cli(small_run({"--load", ckpt, "--context", "3", "--steps", "0"})).code == kExitOk);

  const CliResult missing = run_cli(small_run({"--load", dir.file("nope")}));
  CHECK(missing.code == kExitError);
  CHECK_THAT(missing.err, Contains("no such directory"));
  xgrad::npy::save(ckpt + "/embed.embedding.npy", xgrad::testing::hashed_values({256, 8}));
  const CliResult shape = run_cli(small_run({"--load", ckpt}));
  CHECK(shape.code == kExitError);
  CHECK_THAT(shape.err, Contains("embed.embedding.npy: has shape (256, 8), expected (256, 16)"));
}

TEST_CASE("NumPy reads a saved table: dtype, shape and checksum match the manifest",
          "[next_token][checkpoint][numpy]") {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    WARN("skipped: /usr/bin/python3 cannot import numpy (apt-get install python3-numpy)");
    return;
  }
  TempDir dir("numpy");
  const std::string ckpt = dir.file("ckpt");
  const auto saved = scrambled_model(21);
  save_checkpoint(ckpt, *saved, words40(), 1, 0);
  // NumPy loads every parameter, checks it against the manifest (shape, dtype, FNV-1a of its
  // bytes), and writes the table back out; we read that copy and compare bits.
  const std::string script =
      "import json, sys, numpy as np\n"
      "d = sys.argv[1]\n"
      "m = json.load(open(d + '/manifest.json'))\n"
      "for p in m['parameters']:\n"
      "    a = np.load(d + '/' + p['file'])\n"
      "    assert a.dtype == np.float32 and list(a.shape) == p['shape'], (p['name'], a.dtype, a.shape)\n"
      "    h = 0xcbf29ce484222325\n"
      "    for b in a.tobytes():\n"
      "        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff\n"
      "    assert '%016x' % h == p['fnv1a64'], p['name']\n"
      "np.save(d + '/copy.npy', np.load(d + '/embed.embedding.npy'))\n";
  write_text(dir.file("check.py"), script);
  REQUIRE(std::system(("/usr/bin/python3 " + dir.file("check.py") + " " + ckpt).c_str()) == 0);
  CHECK(xgrad::testing::bit_equal(xgrad::npy::load(ckpt + "/copy.npy"), saved->token_table().value()));
}

TEST_CASE("A resumed run that diverges exits 3 and leaves the checkpoint it loaded untouched",
          "[next_token][checkpoint][cli]") {
  TempDir dir("diverged");
  const std::string ckpt = dir.file("ckpt");
  REQUIRE(run_cli(small_run({"--save", ckpt, "--quiet"})).code == kExitOk);
  std::map<std::string, std::string> before;
  for (const auto& entry : fs::directory_iterator(ckpt)) before[entry.path().string()] = read_text(entry.path().string());

  const CliResult r = run_cli(small_run({"--load", ckpt, "--lr", "1000", "--lr-final", "1000", "--steps", "50",
                                         "--batch-size", "256", "--save", ckpt, "--json", dir.file("run.json")}));
  CHECK(r.code == kExitCheckFailed);
  CHECK_THAT(r.out, Contains("DIVERGED"));
  CHECK_THAT(r.err, Contains("training diverged, so the model is not saved"));
  CHECK(read_json(dir.file("run.json"))["diverged"] == true);
  std::map<std::string, std::string> after;
  for (const auto& entry : fs::directory_iterator(ckpt)) after[entry.path().string()] = read_text(entry.path().string());
  CHECK(after == before);
}

TEST_CASE("Saving parameters that hold NaN or inf is refused and leaves the old checkpoint", "[next_token][checkpoint]") {
  TempDir dir("save_nan");
  const std::string ckpt = dir.file("ckpt");
  const auto good = scrambled_model(7);
  save_checkpoint(ckpt, *good, words40(), 1, 0);
  const auto bad = scrambled_model(8);
  bad->parameters()[1].tensor.mutable_value().data()[17] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(save_checkpoint(ckpt, *bad, words40(), 2, 0),
                    Contains("not saving a checkpoint") && Contains("hidden.kernel holds nan at element 17"));
  const auto loaded = mlp(small_config(), 0);
  load_parameters(ckpt, *loaded);
  CHECK(same_bits(values_of(*loaded), values_of(*good)));
}

TEST_CASE("A checkpoint holding NaN or inf loads only when asked to", "[next_token][checkpoint][cli]") {
  TempDir dir("load_nan");
  const std::string ckpt = dir.file("ckpt");
  REQUIRE(run_cli(small_run({"--save", ckpt, "--quiet"})).code == kExitOk);
  // Replace the output bias by one holding inf, with a manifest that vouches for it.
  xgrad::Array bias = xgrad::npy::load(ckpt + "/output.bias.npy");
  bias.data()[3] = std::numeric_limits<float>::infinity();
  xgrad::npy::save(ckpt + "/output.bias.npy", bias);
  nlohmann::json m = read_json(ckpt + "/manifest.json");
  for (nlohmann::json& p : m["parameters"]) {
    if (p["name"] == "output.bias") p["fnv1a64"] = checksum(bias);
  }
  write_text(ckpt + "/manifest.json", m.dump());

  const CliResult refused = run_cli(small_run({"--load", ckpt, "--steps", "0"}));
  CHECK(refused.code == kExitError);
  CHECK_THAT(refused.err, Contains("output.bias holds inf at element 3") && Contains("--allow-non-finite"));
  const CliResult allowed = run_cli(small_run({"--load", ckpt, "--steps", "0", "--allow-non-finite", "--quiet"}));
  CHECK(allowed.code == kExitCheckFailed);  // loaded, and its loss is not finite
  CHECK_THAT(allowed.out, Contains("the validation loss is not a finite number"));
  CHECK(allowed.err.empty());
}

TEST_CASE("Manifest numbers are range-checked before the model is built", "[next_token][checkpoint]") {
  TempDir dir("ranges");
  const std::string ckpt = dir.file("ckpt");
  save_checkpoint(ckpt, *scrambled_model(1), words40(), 10, 0);
  const nlohmann::json good = read_json(ckpt + "/manifest.json");
  const auto expect = [&](const nlohmann::json& manifest, const std::string& message) {
    write_text(ckpt + "/manifest.json", manifest.dump());
    CHECK_THROWS_AS(read_checkpoint_info(ckpt), CheckpointError);
    CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains(message));
  };
  nlohmann::json m = good;
  m["model"]["hidden"] = 1000000;
  expect(m, "\"hidden\" is 1000000, out of range [0, 16384]");
  m = good;
  m["step"] = -5;
  expect(m, "\"step\" is -5, out of range [0, ");
  m = good;
  m["step"] = 1e30;
  expect(m, "\"step\" is 1e+30, not a whole number");
  m = good;
  m["seed"] = 4294967296ull;
  expect(m, "\"seed\" is 4294967296, out of range [0, 4294967295]");
  m = good;
  m["model"].erase("vocab");
  expect(m, "missing field \"vocab\"");
}

TEST_CASE("A vocabulary edited by hand is refused by its checksum", "[next_token][checkpoint]") {
  TempDir dir("vocab_sum");
  const std::string ckpt = dir.file("ckpt");
  save_checkpoint(ckpt, *scrambled_model(1), words40(), 10, 0);
  nlohmann::json m = read_json(ckpt + "/manifest.json");
  std::swap(m["vocabulary"][3], m["vocabulary"][4]);  // two swapped words would decode wrongly
  write_text(ckpt + "/manifest.json", m.dump());
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("the vocabulary does not match its checksum"));
}

TEST_CASE("A FIFO in place of a manifest or a parameter file is refused instead of blocking",
          "[next_token][checkpoint]") {
  TempDir dir("fifo");
  const std::string ckpt = dir.file("ckpt");
  const auto saved = scrambled_model(2);
  save_checkpoint(ckpt, *saved, words40(), 10, 0);
  fs::remove(ckpt + "/hidden.bias.npy");
  REQUIRE(::mkfifo((ckpt + "/hidden.bias.npy").c_str(), 0600) == 0);
  const auto target = mlp(small_config(), 0);
  CHECK_THROWS_WITH(load_parameters(ckpt, *target), Contains("hidden.bias.npy: is not a regular file"));
  fs::remove(ckpt + "/manifest.json");
  REQUIRE(::mkfifo((ckpt + "/manifest.json").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("manifest.json: is not a regular file"));
}

TEST_CASE("Bytes from a manifest that are not printable are escaped in messages", "[next_token][checkpoint]") {
  TempDir dir("escape");
  const std::string ckpt = dir.file("ckpt");
  save_checkpoint(ckpt, *scrambled_model(3), words40(), 10, 0);
  nlohmann::json m = read_json(ckpt + "/manifest.json");
  m["model"]["tokens"] = std::string("by\0te\x1b[2J", 9);  // a NUL, and an escape that clears the screen
  write_text(ckpt + "/manifest.json", m.dump());
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("unknown token kind \"by\\x00te\\x1B[2J\""));
}

TEST_CASE("A transformer checkpoint keeps attention_dropout, and one saved without the field loads it as 0",
          "[next_token][checkpoint]") {
  TempDir dir("attention_dropout");
  const std::string ckpt = dir.file("ckpt");
  ModelSpec spec;
  spec.kind = ModelKind::transformer;
  spec.transformer.context = 8;
  spec.transformer.embed_dim = 16;
  spec.transformer.layers = 1;
  spec.transformer.heads = 2;
  spec.transformer.dropout = 0.2f;
  spec.transformer.attention_dropout = 0.15f;
  save_checkpoint(ckpt, *make_model(spec, 3), Vocabulary::bytes(), 10, 0);
  CHECK(read_checkpoint_info(ckpt).spec.transformer == spec.transformer);

  nlohmann::json m = read_json(ckpt + "/manifest.json");
  CHECK(m["model"]["attention_dropout"].get<double>() == Approx(0.15));
  m["model"].erase("attention_dropout");  // as a checkpoint from before the option
  write_text(ckpt + "/manifest.json", m.dump());
  const CheckpointInfo old = read_checkpoint_info(ckpt);
  CHECK(old.spec.transformer.attention_dropout == 0.0f);
  CHECK(old.spec.transformer.dropout == 0.2f);

  m["model"]["attention_dropout"] = 1.5;
  write_text(ckpt + "/manifest.json", m.dump());
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("\"attention_dropout\" is 1.5, not a number in [0"));
  m["model"]["attention_dropout"] = "0.1";
  write_text(ckpt + "/manifest.json", m.dump());
  CHECK_THROWS_AS(read_checkpoint_info(ckpt), CheckpointError);
}

TEST_CASE("The attention dropout flag is saved with the model and restored by --load", "[next_token][checkpoint][cli]") {
  TempDir dir("attention_dropout_cli");
  const std::string ckpt = dir.file("ckpt");
  const std::vector<std::string> tiny{"--model", "transformer", "--context", "8", "--embed-dim", "16", "--layers", "1",
                                      "--heads", "2", "--batch-size", "4", "--warmup", "3", "--eval-every", "0",
                                      "--eval-windows", "20", "--samples", "0"};
  std::vector<std::string> save = tiny;
  for (const char* flag : {"--steps", "6", "--attention-dropout", "0.1", "--save", ckpt.c_str(), "--quiet"}) save.push_back(flag);
  const CliResult saved = run_cli(small_run(save));
  INFO(saved.out << saved.err);
  REQUIRE((saved.code == kExitOk || saved.code == kExitCheckFailed));
  CHECK(read_checkpoint_info(ckpt).spec.transformer.attention_dropout == 0.1f);

  const CliResult loaded = run_cli(small_run({"--load", ckpt, "--steps", "0", "--json", dir.file("run.json")}));
  INFO(loaded.out << loaded.err);
  REQUIRE(loaded.code == kExitOk);
  CHECK_THAT(loaded.out, Contains("attention dropout 0.1"));
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK(j["model"]["attention_dropout"] == 0.1);
}

TEST_CASE("A manifest whose model sizes multiply past the parameter bound is refused before a model is built",
          "[next_token][checkpoint]") {
  TempDir dir("parameter_bound");
  const std::string ckpt = dir.file("ckpt");
  save_checkpoint(ckpt, *scrambled_model(1), words40(), 10, 0);
  nlohmann::json m = read_json(ckpt + "/manifest.json");
  // Each size within its own range: 1024 x 4096 table, 64 x 4096 -> 16384 hidden layer,
  // 16384 x 1024 output: 4194304 + 4294967296 + 16384 + 16777216 + 1024 parameters.
  m["model"]["vocab"] = 1024;
  m["model"]["context"] = 64;
  m["model"]["embed_dim"] = 4096;
  m["model"]["hidden"] = 16384;
  write_text(ckpt + "/manifest.json", m.dump());
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt),
                    Contains("has 4315956224 parameters, more than the largest next_token builds (2147483648)"));
}
