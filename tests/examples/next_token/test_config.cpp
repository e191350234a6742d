// Specification of one run's configuration: --config FILE (TOML, CLI11's reader) under the
// flags on the command line, a key that names no flag refused, the resolved configuration in
// --json and the checkpoint, and the shipped config files.
#include <catch2/catch.hpp>

#include <sstream>

#include "checkpoint.hpp"
#include "flags.hpp"
#include "language_model.hpp"
#include "tests/examples/next_token/next_token_support.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;

namespace {

const std::string kConfigs = std::string(XGRAD_EXAMPLES_DIR) + "/next_token/configs/";

// The plan for `args` (after the program name), without building or training anything.
Plan plan_of(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"next_token"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  return plan_run(static_cast<int>(argv.size()), argv.data(), out, err);
}

// A JSON object of flag values as the lines of a TOML file (JSON strings are TOML strings).
std::string as_toml(const nlohmann::json& config) {
  std::string text;
  for (const auto& [key, value] : config.items()) text += key + " = " + value.dump() + "\n";
  return text;
}

}  // namespace

TEST_CASE("A --config file sets flags and a flag on the command line overrides its key", "[next_token][config]") {
  TempDir dir("config");
  write_text(dir.file("run.toml"), "model = \"transformer\"\nsteps = 7\nwarmup = 2\nlr = 0.01\nlayers = 3\n");
  const Plan from_file = plan_of({"--config", dir.file("run.toml")});
  CHECK(from_file.config.spec.kind == ModelKind::transformer);
  CHECK(from_file.config.train.steps == 7);
  CHECK(from_file.config.train.lr == 0.01f);
  CHECK(from_file.config.spec.transformer.layers == 3);
  // Derived as from the flag: only lr given, so lr-final is a tenth of it (the transformer's shape).
  CHECK(from_file.config.train.lr_final == Approx(0.001));

  const Plan overridden = plan_of({"--config", dir.file("run.toml"), "--steps", "9", "--layers", "1"});
  CHECK(overridden.config.train.steps == 9);
  CHECK(overridden.config.spec.transformer.layers == 1);
  CHECK(overridden.config.train.lr == 0.01f);  // not on the command line: the file's
}

TEST_CASE("A --config key that names no flag is a usage error naming the key", "[next_token][config]") {
  TempDir dir("config_bad_key");
  write_text(dir.file("typo.toml"), "steps = 3\nlr_final = 0.1\n");
  const CliResult r = run_cli({"--config", dir.file("typo.toml")});
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Contains("--config " + dir.file("typo.toml") + ": \"lr_final\" is not a flag"));
  CHECK(r.out.empty());
}

TEST_CASE("A --config value is checked as the flag's value is", "[next_token][config]") {
  TempDir dir("config_bad_value");
  write_text(dir.file("bad.toml"), "steps = -3\n");
  const CliResult r = run_cli({"--config", dir.file("bad.toml")});
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Contains("--steps") && Contains("-3"));
}

TEST_CASE("A --config file that cannot be read is a file error (exit 1)", "[next_token][config]") {
  TempDir dir("config_missing");
  const CliResult r = run_cli({"--config", dir.file("missing.toml")});
  CHECK(r.code == kExitError);
  CHECK_THAT(r.err, Contains("--config") && Contains("missing.toml"));
}

TEST_CASE("The resolved configuration is written into --json and the checkpoint", "[next_token][config]") {
  TempDir dir("config_json");
  const CliResult r = run_cli(small_run({"--lr", "0.5", "--json", dir.file("run.json"), "--save", dir.file("ckpt"), "-q"}));
  REQUIRE(r.code == kExitOk);
  const nlohmann::json config = read_json(dir.file("run.json"))["config"];
  CHECK(config["steps"] == 60);          // from the command line
  CHECK(config["batch-size"] == 64);
  CHECK(config["lr"] == 0.5);
  CHECK(config["lr-final"] == 0.025);    // derived: the MLP's 1 -> 0.05 shape for --lr 0.5
  CHECK(config["model"] == "mlp");       // defaults, written out
  CHECK(config["hidden"] == 192);
  CHECK(config["optimizer"] == "sgd");
  CHECK(config["tokens"] == "byte");
  CHECK_FALSE(config.contains("vocab-size"));  // bytes have no size to choose
  CHECK(read_json(dir.file("ckpt") + "/manifest.json")["run"]["config"] == config);
}

TEST_CASE("A run's resolved configuration, written back as a --config file, plans the same run",
          "[next_token][config]") {
  TempDir dir("config_round_trip");
  const Plan first = plan_of({"--model", "transformer", "--layers", "3", "--lr", "0.002", "--tokens", "word",
                              "--vocab-size", "300", "--dropout", "0.1", "--prompt", "In the \"beginning\""});
  const nlohmann::json resolved = config_json(first.config);
  write_text(dir.file("resolved.toml"), as_toml(resolved));
  const Plan second = plan_of({"--config", dir.file("resolved.toml")});
  CHECK(config_json(second.config) == resolved);
  CHECK(second.config.prompt == "In the \"beginning\"");
}

TEST_CASE("genesis_defaults.toml is the default transformer run written out", "[next_token][config]") {
  const std::string genesis = std::string(XGRAD_EXAMPLES_DIR) + "/data/genesis_kjv.txt";
  const Plan from_file = plan_of({"--config", kConfigs + "genesis_defaults.toml", "--corpus", genesis});
  const Plan from_flags = plan_of({"--model", "transformer", "--corpus", genesis});
  CHECK(config_json(from_file.config) == config_json(from_flags.config));
}

TEST_CASE("shakespeare_char_cpu.toml is nanoGPT's CPU recipe flag for flag", "[next_token][config]") {
  const nlohmann::json c = config_json(plan_of({"--config", kConfigs + "shakespeare_char_cpu.toml"}).config);
  // nanoGPT's README command line over config/train_shakespeare_char.py and train.py.
  CHECK(c["corpus"] == "examples/data/tiny_shakespeare.txt");
  CHECK(c["tokens"] == "char");
  CHECK(c["validation-fraction"] == 0.1);
  CHECK(c["model"] == "transformer");
  CHECK(c["context"] == 64);          // --block_size=64
  CHECK(c["batch-size"] == 12);       // --batch_size=12
  CHECK(c["layers"] == 4);            // --n_layer=4
  CHECK(c["heads"] == 4);             // --n_head=4
  CHECK(c["embed-dim"] == 128);       // --n_embd=128
  CHECK(c["steps"] == 2000);          // --max_iters=2000
  CHECK(c["schedule-steps"] == 2000); // --lr_decay_iters=2000
  CHECK(c["dropout"] == 0.0);         // --dropout=0.0
  CHECK(c["attention-dropout"] == 0.0);
  CHECK(c["eval-batches"] == 20);     // --eval_iters=20
  CHECK_FALSE(c.contains("eval-windows"));
  CHECK(c["eval-every"] == 250);      // eval_interval
  CHECK(c["optimizer"] == "adamw");
  CHECK(c["schedule"] == "cosine");   // decay_lr
  CHECK(c["lr"] == 1e-3);             // learning_rate
  CHECK(c["lr-final"] == 1e-4);       // min_lr
  CHECK(c["warmup"] == 100);          // warmup_iters
  CHECK(c["weight-decay"] == 0.1);
  CHECK(c["clip"] == 1.0);            // grad_clip
  CHECK(c["no-bias"] == true);        // bias = False
  CHECK(c["tie"] == true);            // lm_head.weight = wte.weight
  CHECK(c["seed"] == 1337);
}

TEST_CASE("The recipe runs on Tiny Shakespeare's 65 characters, tied and without biases",
          "[next_token][config]") {
  TempDir dir("recipe");
  const std::string recipe = kConfigs + "shakespeare_char_cpu.toml";
  const std::string corpus = std::string(XGRAD_EXAMPLES_DIR) + "/data/tiny_shakespeare.txt";
  const CliResult r = run_cli({"--config", recipe, "--corpus", corpus, "--steps", "3",
                               "--warmup", "1", "--eval-batches", "1", "--samples", "0", "-q", "--json",
                               dir.file("run.json")});
  CHECK((r.code == kExitOk || r.code == kExitCheckFailed));
  const nlohmann::json summary = read_json(dir.file("run.json"));
  CHECK(summary["vocab"] == 65);  // nanoGPT's prepare.py: "vocab size: 65"
  CHECK(summary["model"]["tokens"] == "char");
  CHECK(summary["corpus"]["bytes"] == 1115394);
  CHECK(summary["steps"] == 3);
  // nanoGPT's model of this recipe: wte 65 x 128, wpe 64 x 128, 4 blocks of 12 x 128^2
  // weights and two 128-wide norm weights, ln_f; no biases, no separate head.
  CHECK(summary["model"]["parameters"] == 65 * 128 + 64 * 128 + 4 * (12 * 128 * 128 + 2 * 128) + 128);
  CHECK(summary["model"]["bias"] == false);
  CHECK(summary["model"]["tie"] == true);
}

TEST_CASE("The size bound's parameter count is the built GPT's, with and without biases and tying",
          "[next_token][config]") {
  for (const bool bias : {true, false}) {
    for (const bool tie : {true, false}) {
      ModelSpec spec;
      spec.kind = ModelKind::transformer;
      spec.transformer.vocab = 65;
      spec.transformer.context = 8;
      spec.transformer.layers = 2;
      spec.transformer.heads = 2;
      spec.transformer.embed_dim = 16;
      spec.transformer.bias = bias;
      spec.transformer.tie = tie;
      CAPTURE(bias, tie);
      CHECK(parameter_count(spec) == static_cast<long double>(make_model(spec, 0)->parameter_count()));
    }
  }
}
