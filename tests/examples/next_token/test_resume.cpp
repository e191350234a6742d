// Specification of resuming next_token runs: a checkpoint holds the optimiser state and the
// batch sampler's position, so N steps in one run and N/2 + N/2 through --save/--load end
// with the same parameters bit for bit (MLP + SGD with momentum, transformer + AdamW);
// damaged optimiser files are clear errors that change nothing; a version 2 checkpoint
// still loads, as an MLP without training state.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "checkpoint.hpp"
#include "core/io/npy.hpp"
#include "optimizer_choice.hpp"
#include "tests/examples/next_token/checkpoint_test_support.hpp"
#include "tests/examples/next_token/next_token_support.hpp"
#include "tests/test_support.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// Tiny models on the shipped corpus: a few steps take well under a second.
const std::vector<std::string> kTinyMlp{"--context", "2", "--embed-dim", "4", "--hidden", "8", "--batch-size", "16",
                                        "--momentum", "0.9", "--lr", "0.1", "--weight-decay", "0.001"};
const std::vector<std::string> kTinyTransformer{"--model", "transformer", "--context", "8", "--embed-dim", "16",
                                                "--layers", "1", "--heads", "2", "--batch-size", "4",
                                                "--warmup", "3", "--dropout", "0.1"};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  for (const char* flag : {"--eval-every", "0", "--eval-windows", "20", "--samples", "0", "--quiet"}) args.push_back(flag);
  return args;
}

// The run trained and saved: a few steps of a tiny model need not pass the learning check
// (exit 3), but they must pass the row check and not diverge (then nothing is saved).
bool trained(const CliResult& r) {
  return (r.code == kExitOk || r.code == kExitCheckFailed) && r.out.find("row check passed") != std::string::npos &&
         r.out.find("DIVERGED") == std::string::npos;
}

// Every .npy of a checkpoint (parameters and optimiser state), by file name.
std::map<std::string, xgrad::Array> arrays_in(const std::string& dir) {
  std::map<std::string, xgrad::Array> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".npy") out[entry.path().filename().string()] = xgrad::npy::load(entry.path().string());
  }
  return out;
}

bool same_arrays(const std::map<std::string, xgrad::Array>& a, const std::map<std::string, xgrad::Array>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, array] : a) {
    const auto found = b.find(name);
    if (found == b.end() || !xgrad::testing::bit_equal(array, found->second)) return false;
  }
  return true;
}

// Runs `model_flags` for 2k steps at once and as k + k, and returns both checkpoints' arrays.
std::pair<std::map<std::string, xgrad::Array>, std::map<std::string, xgrad::Array>> whole_and_halves(
    const TempDir& dir, const std::vector<std::string>& model_flags, int half) {
  const std::string whole = dir.file("whole"), first = dir.file("first"), second = dir.file("second");
  const std::string steps = std::to_string(2 * half), half_steps = std::to_string(half);
  const CliResult a = run_cli(with(model_flags, {"--steps", steps, "--save", whole}));
  INFO(a.out << a.err);
  REQUIRE(trained(a));
  const CliResult b = run_cli(with(model_flags, {"--steps", half_steps, "--schedule-steps", steps, "--save", first}));
  INFO(b.out << b.err);
  REQUIRE(trained(b));
  // The resumed half takes its model and training settings from the checkpoint.
  const CliResult c = run_cli(with({}, {"--load", first, "--steps", half_steps, "--save", second}));
  INFO(c.out << c.err);
  REQUIRE(trained(c));
  CHECK(read_json(second + "/manifest.json")["step"] == 2 * half);
  return {arrays_in(whole), arrays_in(second)};
}

}  // namespace

TEST_CASE("An MLP trained with SGD momentum for N steps equals N/2 + N/2 through --save and --load, bit for bit",
          "[next_token][resume]") {
  TempDir dir("resume_mlp");
  const auto [whole, halves] = whole_and_halves(dir, kTinyMlp, 6);
  REQUIRE(whole.count("optimizer.1.npy") == 1);  // the velocities are saved...
  bool velocity_nonzero = false;
  for (std::size_t i = 0; i < whole.at("optimizer.1.npy").size(); ++i) velocity_nonzero |= whole.at("optimizer.1.npy").data()[i] != 0.0f;
  CHECK(velocity_nonzero);  // ...and hold something a fresh optimiser would not
  CHECK(same_arrays(whole, halves));
}

TEST_CASE("A transformer trained with AdamW for N steps equals N/2 + N/2 through --save and --load, bit for bit",
          "[next_token][resume]") {
  TempDir dir("resume_transformer");
  const auto [whole, halves] = whole_and_halves(dir, kTinyTransformer, 4);
  const nlohmann::json manifest = read_json(dir.file("second") + "/manifest.json");
  CHECK(manifest["model"]["kind"] == "transformer");
  CHECK(manifest["optimizer"]["kind"] == "adamw");
  CHECK(manifest["optimizer"]["step"] == 8);
  CHECK(manifest["training"]["schedule"] == "cosine");
  CHECK(same_arrays(whole, halves));
}

TEST_CASE("Resuming without the saved batch position would draw other batches: the sampler state matters",
          "[next_token][resume]") {
  TempDir dir("resume_sampler");
  const auto [whole, halves] = whole_and_halves(dir, kTinyMlp, 3);
  REQUIRE(same_arrays(whole, halves));
  // The same second half from a checkpoint whose sampler position was removed.
  const std::string first = dir.file("first");
  nlohmann::json m = read_json(first + "/manifest.json");
  m.erase("sampler");
  write_text(first + "/manifest.json", m.dump());
  const std::string other = dir.file("other");
  REQUIRE(trained(run_cli(with({}, {"--load", first, "--steps", "3", "--save", other}))));
  CHECK_FALSE(same_arrays(whole, arrays_in(other)));
}

TEST_CASE("Missing or damaged optimizer files are clear errors that change neither the model nor the optimizer",
          "[next_token][resume][checkpoint]") {
  TempDir dir("optimizer_damage");
  const std::string ckpt = dir.file("ckpt");
  const auto fresh = [&] {
    fs::remove_all(ckpt);
    REQUIRE(trained(run_cli(with(kTinyMlp, {"--steps", "3", "--save", ckpt}))));
  };
  fresh();
  const CheckpointInfo info = read_checkpoint_info(ckpt);
  REQUIRE(info.has_optimizer_state);
  REQUIRE(info.training);
  const auto model = make_model(info.spec, 7);
  const auto optimizer = make_optimizer(model->tensors(), *info.training);
  const std::vector<xgrad::Array> before = values_of(*model);
  const xgrad::optim::OptimizerState state_before = optimizer->state();
  const auto expect_error = [&](const std::string& message) {
    CHECK_THROWS_AS(load_checkpoint(ckpt, *model, *optimizer), CheckpointError);
    CHECK_THROWS_WITH(load_checkpoint(ckpt, *model, *optimizer), Contains(message));
    CHECK(same_bits(values_of(*model), before));
    const xgrad::optim::OptimizerState state = optimizer->state();
    CHECK(state.step == state_before.step);
    REQUIRE(state.arrays.size() == state_before.arrays.size());
    for (std::size_t i = 0; i < state.arrays.size(); ++i) {
      CHECK(xgrad::testing::bit_equal(state.arrays[i].second, state_before.arrays[i].second));
    }
  };

  SECTION("missing file") {
    fs::remove(ckpt + "/optimizer.2.npy");
    expect_error("is missing optimizer.2.npy");
  }
  SECTION("data that does not match its checksum") {
    const xgrad::Array saved = xgrad::npy::load(ckpt + "/optimizer.0.npy");
    xgrad::npy::save(ckpt + "/optimizer.0.npy", xgrad::testing::hashed_values(xgrad::Shape(saved.shape().begin(), saved.shape().end()), 5));
    expect_error("does not match the checksum");
  }
  SECTION("an array of the wrong shape, vouched for by the manifest") {
    const xgrad::Array wrong = xgrad::testing::hashed_values({3, 3}, 9);
    xgrad::npy::save(ckpt + "/optimizer.1.npy", wrong);
    nlohmann::json m = read_json(ckpt + "/manifest.json");
    m["optimizer"]["arrays"][1]["shape"] = {3, 3};
    m["optimizer"]["arrays"][1]["fnv1a64"] = checksum(wrong);
    write_text(ckpt + "/manifest.json", m.dump());
    expect_error("the optimizer state does not fit this run");
  }
  SECTION("a state of another optimizer") {
    nlohmann::json m = read_json(ckpt + "/manifest.json");
    m["optimizer"]["kind"] = "adamw";
    write_text(ckpt + "/manifest.json", m.dump());
    expect_error("the optimizer state does not fit this run");
  }
  SECTION("the command line reports it and exits 1") {
    fs::remove(ckpt + "/optimizer.0.npy");
    const CliResult r = run_cli(with({}, {"--load", ckpt, "--steps", "1"}));
    CHECK(r.code == kExitError);
    CHECK_THAT(r.err, Contains("is missing optimizer.0.npy"));
  }
}

TEST_CASE("A version 2 checkpoint loads as an MLP with no training state, and says so when training on",
          "[next_token][resume][checkpoint]") {
  TempDir dir("version2");
  const std::string ckpt = dir.file("ckpt");
  REQUIRE(trained(run_cli(with(kTinyMlp, {"--steps", "2", "--save", ckpt}))));
  nlohmann::json m = read_json(ckpt + "/manifest.json");
  m["version"] = 2;
  m["model"].erase("kind");
  for (const char* key : {"training", "sampler", "optimizer"}) m.erase(key);
  write_text(ckpt + "/manifest.json", m.dump());
  const CheckpointInfo info = read_checkpoint_info(ckpt);
  CHECK(info.version == 2);
  CHECK(info.spec.kind == ModelKind::mlp);
  CHECK_FALSE(info.has_optimizer_state);
  CHECK_FALSE(info.sampler_state);
  const CliResult r = run_cli({"--load", ckpt, "--steps", "1", "--eval-windows", "20", "--samples", "0"});
  CHECK(r.code == kExitOk);  // resumed: the learning check does not apply
  CHECK_THAT(r.out, Contains("holds no optimizer state"));

  m["version"] = 1;
  write_text(ckpt + "/manifest.json", m.dump());
  CHECK_THROWS_WITH(read_checkpoint_info(ckpt), Contains("manifest version 1, this program reads 2 to 3"));
}

TEST_CASE("Loading refuses a different --model or an --optimizer the saved state does not belong to",
          "[next_token][resume][cli]") {
  TempDir dir("resume_conflicts");
  const std::string ckpt = dir.file("ckpt");
  REQUIRE(trained(run_cli(with(kTinyMlp, {"--steps", "2", "--save", ckpt}))));
  const CliResult model = run_cli(with({}, {"--load", ckpt, "--model", "transformer"}));
  CHECK(model.code == kExitUsage);
  CHECK_THAT(model.err, Contains("--model transformer conflicts with the checkpoint"));
  const CliResult optimizer = run_cli(with({}, {"--load", ckpt, "--optimizer", "adamw"}));
  CHECK(optimizer.code == kExitUsage);
  CHECK_THAT(optimizer.err, Contains("--optimizer adamw conflicts with the checkpoint"));
}

TEST_CASE("Dropout rates given with --load are used for the run and recorded by its save, never ignored",
          "[next_token][resume][cli]") {
  TempDir dir("resume_dropout");
  const std::string first = dir.file("first"), given = dir.file("given"), kept = dir.file("kept");
  REQUIRE(trained(run_cli(with(kTinyTransformer, {"--steps", "4", "--save", first}))));
  REQUIRE(read_json(first + "/manifest.json")["model"]["dropout"].get<double>() == Approx(0.1));
  REQUIRE(read_json(first + "/manifest.json")["model"]["attention_dropout"].get<double>() == Approx(0.2));  // default
  const CliResult r = run_cli(with({}, {"--load", first, "--steps", "1", "--dropout", "0.3", "--attention-dropout",
                                        "0.05", "--save", given}));
  INFO(r.out << r.err);
  REQUIRE(trained(r));
  const nlohmann::json model = read_json(given + "/manifest.json")["model"];
  CHECK(model["dropout"].get<double>() == Approx(0.3));
  CHECK(model["attention_dropout"].get<double>() == Approx(0.05));
  // Not given: the checkpoint's rates go on.
  REQUIRE(trained(run_cli(with({}, {"--load", first, "--steps", "1", "--save", kept}))));
  CHECK(read_json(kept + "/manifest.json")["model"]["dropout"].get<double>() == Approx(0.1));
  CHECK(read_json(kept + "/manifest.json")["model"]["attention_dropout"].get<double>() == Approx(0.2));
}

TEST_CASE("A transformer checkpoint from before the Scope, whose AdamW state names wte.embedding, resumes",
          "[next_token][resume][checkpoint]") {
  // Before layers were built from a Scope the GPT's tables were tensors named "wte.embedding"
  // and "wpe.embedding", so AdamW's state in such a checkpoint is "wte.embedding.exp_avg", ...
  // Rewriting a fresh checkpoint's names that way gives the older manifest exactly.
  TempDir dir("before_scope");
  const std::string ckpt = dir.file("ckpt"), renamed = dir.file("renamed"), resumed = dir.file("resumed");
  REQUIRE(trained(run_cli(with(kTinyTransformer, {"--steps", "4", "--save", ckpt}))));
  REQUIRE(trained(run_cli(with({}, {"--load", ckpt, "--steps", "1", "--save", resumed}))));
  fs::copy(ckpt, renamed);
  nlohmann::json m = read_json(renamed + "/manifest.json");
  int renamed_entries = 0;
  for (nlohmann::json& entry : m["optimizer"]["arrays"]) {
    std::string name = entry["name"].get<std::string>();
    for (const std::string table : {"wte.", "wpe."}) {
      if (name.rfind(table, 0) == 0) {
        name = table + "embedding." + name.substr(table.size());
        ++renamed_entries;
      }
    }
    entry["name"] = name;
  }
  REQUIRE(renamed_entries == 4);  // two moments of each table
  write_text(renamed + "/manifest.json", m.dump());
  const std::string again = dir.file("again");
  const CliResult r = run_cli(with({}, {"--load", renamed, "--steps", "1", "--save", again}));
  REQUIRE(trained(r));
  CHECK(same_arrays(arrays_in(again), arrays_in(resumed)));
}
