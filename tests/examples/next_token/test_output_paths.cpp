// Specification of next_token's outputs (issue 12, case 4): every output path is checked
// before training (empty, unwritable, one of the inputs, inside the checkpoint being loaded,
// a directory a save would wipe), and the trained model is saved even when a later output
// fails.
#include <catch2/catch.hpp>

#include <filesystem>

#include "tests/examples/next_token/next_token_support.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

TEST_CASE("A --json naming the corpus is refused before training and the corpus is unchanged", "[next_token][paths]") {
  TempDir dir("json_corpus");
  const std::string corpus = dir.file("t.txt");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "In the beginning God created the heaven and the earth.\n";
  write_text(corpus, text);
  const CliResult r = run_cli(small_run({"--corpus", corpus, "--json", corpus}));
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Contains("--json " + corpus + ": is the corpus"));
  CHECK(r.out.empty());
  CHECK(read_text(corpus) == text);
}

TEST_CASE("An output inside the checkpoint being loaded is refused and the checkpoint still loads",
          "[next_token][paths]") {
  TempDir dir("json_in_load");
  const std::string ckpt = dir.file("ckpt");
  REQUIRE(run_cli(small_run({"--save", ckpt, "--quiet"})).code == kExitOk);
  const std::string manifest = read_text(ckpt + "/manifest.json");
  const CliResult json = run_cli(small_run({"--load", ckpt, "--json", ckpt + "/manifest.json"}));
  CHECK(json.code == kExitUsage);
  CHECK_THAT(json.err, Contains("is inside the checkpoint being loaded"));
  const CliResult plot = run_cli(small_run({"--load", ckpt, "--plot", ckpt}));
  CHECK(plot.code == kExitUsage);
  CHECK_THAT(plot.err, Contains("is inside the checkpoint being loaded"));
  CHECK(read_text(ckpt + "/manifest.json") == manifest);
  CHECK(run_cli(small_run({"--load", ckpt, "--steps", "0", "--quiet"})).code == kExitOk);
}

TEST_CASE("Empty paths are usage errors, not runs that save nothing", "[next_token][paths]") {
  for (const char* flag : {"--save", "--json", "--plot", "--load", "--corpus"}) {
    INFO(flag);
    const CliResult r = run_cli(small_run({flag, ""}));
    CHECK(r.code == kExitUsage);
    CHECK_THAT(r.err, Contains(std::string(flag) + " was given an empty path"));
    CHECK(r.out.empty());
  }
}

TEST_CASE("Unwritable output directories are reported before training", "[next_token][paths]") {
  // /sys refuses new files even to root, for whom permission bits do not count.
  REQUIRE(fs::is_directory("/sys"));
  const std::pair<const char*, std::string> cases[] = {
      {"--json", "/sys/next_token_run.json"}, {"--plot", "/sys/next_token_plots"}, {"--save", "/sys/next_token_ckpt"}};
  for (const auto& [flag, path] : cases) {
    INFO(flag);
    const CliResult r = run_cli(small_run({flag, path}));
    CHECK(r.code == kExitUsage);
    CHECK_THAT(r.err, Contains(std::string(flag) + " " + path + ": cannot write in /sys"));
    CHECK(r.out.empty());
  }
}

TEST_CASE("A save into a directory holding other files is refused before training, and the files stay",
          "[next_token][paths]") {
  TempDir dir("foreign");
  fs::create_directories(dir.path / "notes");
  write_text(dir.file("notes/todo.txt"), "keep me");
  const CliResult r = run_cli(small_run({"--save", dir.file("notes")}));
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Contains("holds todo.txt, which is not part of a checkpoint"));
  CHECK(r.out.empty());
  CHECK(read_text(dir.file("notes/todo.txt")) == "keep me");
}

TEST_CASE("Outputs that overlap each other are refused before training", "[next_token][paths]") {
  TempDir dir("overlap");
  const std::string ckpt = dir.file("ckpt");
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--save", ckpt, "--json", ckpt + "/run.json"}, "is inside the --save directory"},
      {{"--save", ckpt + "/", "--json", ckpt + "/./run.json"}, "is inside the --save directory"},
      {{"--save", ckpt, "--plot", ckpt}, "overlaps the --save directory"},
      {{"--save", ckpt, "--plot", ckpt + "/plots"}, "overlaps the --save directory"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args[2]);
    const CliResult r = run_cli(small_run(args));
    CHECK(r.code == kExitUsage);
    CHECK_THAT(r.err, Contains(message));
    CHECK_FALSE(fs::exists(ckpt));
  }
}

TEST_CASE("A failing --plot still leaves the checkpoint and the --json summary written", "[next_token][paths]") {
  TempDir dir("plot_fails");
  fs::create_directories(dir.path / "plots" / "loss.svg");  // a directory where the plot file goes
  const std::string ckpt = dir.file("ckpt");
  const CliResult r =
      run_cli(small_run({"--plot", dir.file("plots"), "--save", ckpt, "--json", dir.file("run.json"), "--quiet"}));
  CHECK(r.code == kExitError);
  CHECK_THAT(r.err, Contains("loss.svg"));
  CHECK(read_json(ckpt + "/manifest.json")["step"] == 60);
  CHECK(read_json(dir.file("run.json"))["steps"] == 60);
}
