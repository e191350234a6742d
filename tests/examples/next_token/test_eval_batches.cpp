// Specification of --eval-batches N: losses measured as nanoGPT's estimate_loss measures them
// (N random batches of B windows per split, drawn afresh for each measurement) instead of on
// the default evenly spaced windows. It changes what is measured, never what is trained, and
// its numbers are as reproducible as the rest of a run.
#include <catch2/catch.hpp>

#include "tests/examples/next_token/next_token_support.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;

namespace {

// A tiny MLP on the shipped corpus, a few steps, plus `more`.
std::vector<std::string> tiny(const std::vector<std::string>& more) {
  std::vector<std::string> args{"--context", "2", "--embed-dim", "4", "--hidden", "8", "--batch-size", "16",
                                "--lr", "0.1", "--samples", "0", "--quiet"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

bool finished(const CliResult& r) { return r.code == kExitOk || r.code == kExitCheckFailed; }

}  // namespace

TEST_CASE("Random evaluation batches (--eval-batches) change what is measured, not what is trained", "[next_token][eval]") {
  TempDir dir("eval_batches_training");
  const CliResult fixed = run_cli(tiny({"--steps", "8", "--eval-every", "4", "--json", dir.file("fixed.json"),
                                        "--save", dir.file("fixed")}));
  const CliResult random = run_cli(tiny({"--steps", "8", "--eval-every", "4", "--eval-batches", "3", "--json",
                                         dir.file("random.json"), "--save", dir.file("random")}));
  REQUIRE(finished(fixed));
  REQUIRE(finished(random));
  for (const char* file : {"embed.embedding.npy", "hidden.kernel.npy", "output.kernel.npy"}) {
    INFO(file);
    const std::string saved = read_text(dir.file("fixed") + "/" + file);
    REQUIRE_FALSE(saved.empty());
    CHECK(saved == read_text(dir.file("random") + "/" + file));
  }
  const nlohmann::json a = read_json(dir.file("fixed.json")), b = read_json(dir.file("random.json"));
  CHECK(a["grad_norm"] == b["grad_norm"]);
  CHECK(b["config"]["eval-batches"] == 3);
  CHECK(b["training"]["eval_batches"] == 3);
  // 3 x 16 random windows against the fixed 20000: the same model, other numbers.
  CHECK(a["curve"][0]["validation"] != b["curve"][0]["validation"]);
  CHECK(std::abs(a["curve"][0]["validation"].get<double>() - b["curve"][0]["validation"].get<double>()) < 0.1);
}

TEST_CASE("Random evaluation batches measure the same at any thread count and after a resume as in one unbroken run",
          "[next_token][eval]") {
  TempDir dir("eval_batches_resume");
  const std::vector<std::string> eval{"--eval-every", "4", "--eval-batches", "3"};
  const auto args = [&](std::vector<std::string> more) {
    more.insert(more.end(), eval.begin(), eval.end());
    return more;
  };
  const CliResult whole = run_cli(tiny(args({"--steps", "8", "--json", dir.file("whole.json")})));
  const CliResult first = run_cli(tiny(args({"--steps", "4", "--schedule-steps", "8", "--json", dir.file("first.json"),
                                             "--save", dir.file("ckpt")})));
  REQUIRE(finished(whole));
  REQUIRE(finished(first));
  const CliResult second = run_cli(args({"--load", dir.file("ckpt"), "--steps", "4", "--threads", "2", "--samples", "0",
                                         "--quiet", "--json", dir.file("second.json")}));
  REQUIRE(finished(second));
  const nlohmann::json w = read_json(dir.file("whole.json"))["curve"];
  const nlohmann::json a = read_json(dir.file("first.json"))["curve"];
  const nlohmann::json b = read_json(dir.file("second.json"))["curve"];
  CHECK(a.back() == w[w.size() - 2]);  // step 4
  CHECK(b.back() == w.back());         // step 8
  CHECK(b.back()["step"] == 8);
}

TEST_CASE("Giving --eval-windows and --eval-batches together is a usage error", "[next_token][eval]") {
  const CliResult r = run_cli({"--eval-windows", "100", "--eval-batches", "2"});
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Contains("--eval-windows and --eval-batches are two ways to measure a loss"));
  CHECK(r.out.empty());
}
