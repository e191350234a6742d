// Specification of the next_token command line, driven in-process through run(): help,
// every kind of bad flag (exit 2, nothing run), bad corpora (exit 1), the closing checks
// (exit 0 or 3), output modes, --json and --plot, and bit-for-bit reproducibility.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/threads.hpp"
#include "tests/examples/next_token/next_token_support.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace fs = std::filesystem;

TEST_CASE("The help documents every flag with its default and exits 0", "[next_token][cli]") {
  const CliResult r = run_cli({"--help"});
  CHECK(r.code == kExitOk);
  // Each flag's entry starts a line of the help; its default is in that entry.
  const std::pair<const char*, const char*> flags[] = {
      {"--corpus", "genesis_kjv.txt"}, {"--tokens", "=byte"},        {"--vocab-size", "=2000"},
      {"--model", "=mlp"},
      {"--context", "=3 (mlp), 64 (transformer)"},                   {"--embed-dim", "=16 (mlp), 128 (transformer)"},
      {"--hidden", "=192"},            {"--tie", "default: off"},   {"--no-bias", "default: off"},
      {"--config", "default: none"},
      {"--layers", "=4"},              {"--heads", "=4"},            {"--dropout", "=0.2"},
      {"--attention-dropout", "=0.2"},
      {"--steps", "=8000 (mlp), 6000 (transformer)"},                {"--batch-size", "=256 (mlp), 32 (transformer)"},
      {"--optimizer", "=sgd (mlp), adamw (transformer)"},            {"--schedule", "=linear (mlp), cosine (transformer)"},
      {"--lr", "=1 (mlp), 0.003 (transformer)"},                     {"--lr-final", "=0.05 (mlp), 0.0003 (transformer)"},
      {"--warmup", "=0 (mlp), 100 (transformer)"},                   {"--schedule-steps", "=0"},
      {"--momentum", "=0"},            {"--weight-decay", "=0 (mlp), 0.3 (transformer)"},
      {"--clip", "=0 (mlp), 1 (transformer)"},                       {"--validation-fraction", "=0.1"},
      {"--eval-every", "=1000 (mlp), 500 (transformer)"},            {"--eval-windows", "=20000 (mlp), 512 (transformer)"},
      {"--eval-batches", "=0"},        {"--seed", "=0"},
      {"--threads", "=1 (mlp), 2 or the CPUs there are (transformer)"},           {"--samples", "=3"},          {"--sample-length", "=0"},
      {"--temperature", "=0.8"},       {"--prompt", "default:"},     {"--json", "default: none"},
      {"--plot", "default: none"},     {"--save", "default: none"},  {"--load", "default: none"},
      {"--allow-non-finite", "default: off"}, {"-q,--quiet", "default: off"},
      {"--graph", "default: none"},    {"--stats", "default: off"},
  };
  std::size_t entries = 0;
  for (const auto& [flag, default_text] : flags) {
    INFO(flag);
    const std::size_t at = r.out.find("\n  " + std::string(flag) + " ");
    REQUIRE(at != std::string::npos);
    const std::size_t next = r.out.find("\n  -", at + 1);
    CHECK(r.out.substr(at, next - at).find(default_text) != std::string::npos);
    ++entries;
  }
  // No flag goes undocumented here: the help has exactly these entries plus --help.
  std::size_t listed = 0;
  for (std::size_t at = r.out.find("\n  -"); at != std::string::npos; at = r.out.find("\n  -", at + 1)) ++listed;
  CHECK(listed == entries + 1);
  CHECK_THAT(r.out, Contains("Exit status"));
}

TEST_CASE("Unknown flags, stray arguments and bad values are usage errors (exit 2)", "[next_token][cli]") {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"extra.txt"}, "extra.txt"},
      {{"--context", "0"}, "--context"},
      {{"--context", "65"}, "--context"},
      {{"--context", "three"}, "--context"},
      {{"--steps", "-1"}, "--steps"},
      {{"--batch-size", "0"}, "--batch-size"},
      {{"--lr", "0"}, "--lr"},
      {{"--lr", "nan"}, "--lr"},
      {{"--lr", "inf"}, "--lr"},
      {{"--lr", "1", "--lr", "2"}, "--lr"},
      {{"--momentum", "1"}, "--momentum"},
      {{"--weight-decay", "-0.1"}, "--weight-decay"},
      {{"--temperature", "-1"}, "--temperature"},
      {{"--tokens", "letters"}, "--tokens"},
      {{"--seed", "-1"}, "--seed"},
      {{"--seed", "4294967296"}, "--seed"},
      {{"--validation-fraction", "0.9"}, "--validation-fraction"},
      {{"--vocab-size", "1", "--tokens", "word"}, "--vocab-size"},
      {{"--vocab-size", "100"}, "--vocab-size applies to --tokens word or bpe only"},
      {{"--json"}, "--json"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args.front() << (args.size() > 1 ? " " + args[1] : std::string()));
    const CliResult r = run_cli(args);
    CHECK(r.code == kExitUsage);
    CHECK_THAT(r.err, StartsWith("next_token: ") && Contains(message));
    CHECK(r.out.empty());  // nothing was run
  }
}

TEST_CASE("Output paths are checked before training", "[next_token][cli]") {
  TempDir dir("paths");
  write_text(dir.file("a_file"), "x");
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--json", dir.file("missing/run.json")}, "does not exist"},
      {{"--json", dir.path.string()}, "is a directory"},
      {{"--save", dir.file("a_file")}, "exists and is not a directory"},
      {{"--plot", dir.file("a_file")}, "exists and is not a directory"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args.front());
    const CliResult r = run_cli(args);
    CHECK(r.code == kExitUsage);
    CHECK_THAT(r.err, Contains(message));
    CHECK(r.out.empty());
  }
}

TEST_CASE("Bad corpora are clear errors (exit 1)", "[next_token][cli]") {
  TempDir dir("corpora");
  write_text(dir.file("empty.txt"), "");
  write_text(dir.file("short.txt"), "abc");
  write_text(dir.file("latin1.txt"), "Na\xEFve text in Latin-1\n");
  write_text(dir.file("binary.bin"), std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  const std::pair<std::string, const char*> cases[] = {
      {dir.file("missing.txt"), "cannot read corpus"},
      {dir.path.string(), "is a directory"},
      {dir.file("empty.txt"), "is empty"},
      {dir.file("short.txt"), "is too short: 3 tokens"},
      {dir.file("latin1.txt"), "is not valid UTF-8: byte 0xEF at byte offset 2"},
      {dir.file("binary.bin"), "byte 0x89 at byte offset 0"},
  };
  for (const auto& [path, message] : cases) {
    INFO(path);
    const CliResult r = run_cli({"--corpus", path, "--quiet"});
    CHECK(r.code == kExitError);
    CHECK_THAT(r.err, Contains("next_token: ") && Contains(message));
  }
  const CliResult words = run_cli({"--corpus", dir.file("short.txt"), "--tokens", "word"});
  CHECK(words.code == kExitError);
  CHECK_THAT(words.err, Contains("too short: 1 tokens"));
}

TEST_CASE("A short run learns, passes the row check and reports it in --json", "[next_token][cli]") {
  TempDir dir("json");
  const CliResult r = run_cli(small_run({"--json", dir.file("run.json")}));
  INFO(r.out << r.err);
  REQUIRE(r.code == kExitOk);
  CHECK_THAT(r.out, Contains("row check passed") && Contains("learning check passed"));
  const nlohmann::json j = read_json(dir.file("run.json"));
  for (const char* key : {"steps", "tokens", "initial_loss", "final_loss", "val_loss", "vocab", "rows_seen", "rows_changed",
                          "unseen_rows_identical", "tokens_per_second", "seed"}) {
    INFO(key);
    CHECK(j.contains(key));
  }
  CHECK(j["steps"] == 60);
  CHECK(j["tokens"] == 60 * 64);
  CHECK(j["vocab"] == 256);
  CHECK(j["unseen_rows_identical"] == true);
  CHECK(j["rows_changed"].get<int>() + j["rows_seen_unchanged"].get<int>() == j["rows_seen"].get<int>());
  CHECK(j["rows_seen"].get<int>() + j["rows_never_seen"].get<int>() == 256);
  CHECK(j["rows_never_seen"].get<int>() > 150);  // Genesis is ASCII: no byte >= 128 is ever fed
  CHECK(j["val_loss"].get<double>() < 0.9 * j["initial_loss"].get<double>());
  CHECK(j["tokens_per_second"].get<double>() > 0);
  CHECK(j["samples"].size() == 1);
}

TEST_CASE("Two runs with one seed give identical JSON apart from timings, and another seed differs",
          "[next_token][cli][reproducible]") {
  TempDir dir("repro");
  const auto args = [&](const char* seed, const char* name) {
    return small_run({"--seed", seed, "--json", dir.file(name), "--samples", "2", "--quiet"});
  };
  REQUIRE(run_cli(args("7", "a.json")).code == kExitOk);
  REQUIRE(run_cli(args("7", "b.json")).code == kExitOk);
  REQUIRE(run_cli(args("8", "c.json")).code == kExitOk);
  const nlohmann::json a = without_timings(read_json(dir.file("a.json")));
  const nlohmann::json b = without_timings(read_json(dir.file("b.json")));
  const nlohmann::json c = without_timings(read_json(dir.file("c.json")));
  CHECK(a.dump() == b.dump());  // every loss to the last bit, every sample, every count
  CHECK(a["val_loss"] != c["val_loss"]);
  CHECK(a["samples"] != c["samples"]);
}

TEST_CASE("Momentum and weight decay stay lazy on the table: never-fed rows are untouched",
          "[next_token][cli]") {
  TempDir dir("lazy");
  const CliResult r = run_cli(small_run({"--momentum", "0.9", "--weight-decay", "0.001", "--lr", "0.1", "--json",
                                         dir.file("run.json")}));
  INFO(r.out << r.err);
  CHECK(r.code == kExitOk);
  CHECK_THAT(r.out, Contains("stay lazy") && Contains("momentum") && Contains("weight decay"));
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK(j["unseen_rows_identical"] == true);
  CHECK(j["rows_never_seen_changed"] == 0);
}

TEST_CASE("With --tie every row moves, and the tool says why instead of claiming sparsity", "[next_token][cli]") {
  TempDir dir("tie");
  const CliResult r = run_cli(small_run({"--tie", "--json", dir.file("run.json")}));
  INFO(r.out << r.err);
  CHECK(r.code == kExitOk);
  CHECK_THAT(r.out, Contains("Embed.attend gives every row a gradient"));
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK(j["unseen_rows_identical"] == false);
  CHECK(j["row_check_kind"] == "dense (tied output layer)");
  CHECK(j["rows_changed"].get<int>() > j["rows_seen"].get<int>());
}

TEST_CASE("Word tokens: V capped by --vocab-size, unknown words counted", "[next_token][cli]") {
  TempDir dir("words");
  const CliResult r = run_cli(small_run({"--tokens", "word", "--vocab-size", "300", "--json", dir.file("run.json")}));
  INFO(r.out << r.err);
  CHECK(r.code == kExitOk);
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK(j["vocab"] == 300);
  CHECK(j["model"]["tokens"] == "word");
  CHECK(j["corpus"]["unknown_tokens"].get<int>() > 0);
  CHECK(j["unseen_rows_identical"] == true);
}

TEST_CASE("The bigram model is --context 1 --hidden 0", "[next_token][cli]") {
  const CliResult r = run_cli(small_run({"--context", "1", "--hidden", "0"}));
  CHECK(r.code == kExitOk);
  CHECK_THAT(r.out, Contains("model: Embed(256, 16) x1 -> Dense 256;"));
}

TEST_CASE("A run that does not learn exits 3 and says so", "[next_token][cli]") {
  const CliResult r = run_cli(small_run({"--steps", "2", "--lr", "0.000001"}));
  CHECK(r.code == kExitCheckFailed);
  CHECK_THAT(r.out, Contains("row check passed") && Contains("learning check FAILED"));
}

TEST_CASE("Output modes: log lines, a progress line on a terminal, --quiet", "[next_token][cli]") {
  const CliResult log = run_cli(small_run({"--eval-every", "20"}));
  CHECK(log.code == kExitOk);
  CHECK_THAT(log.out, Contains("step 0 (before training)") && Contains("step 20  train") && Contains("samples"));
  CHECK(log.out.find('\r') == std::string::npos);

  const CliResult terminal = run_cli(small_run({"--eval-every", "20"}), /*interactive=*/true);
  CHECK(terminal.code == kExitOk);
  CHECK_THAT(terminal.out, Contains("\r\033[Kstep ") && Contains("ETA"));

  const CliResult quiet = run_cli(small_run({"--quiet"}));
  CHECK(quiet.code == kExitOk);
  CHECK(quiet.out.find("step ") == std::string::npos);
  CHECK(quiet.out.find("samples") == std::string::npos);
  CHECK_THAT(quiet.out, Contains("row check passed"));
}

TEST_CASE("Samples start from --prompt, which needs at least C tokens", "[next_token][cli]") {
  TempDir dir("prompt");
  const CliResult r = run_cli(small_run({"--prompt", "And God", "--temperature", "0", "--json", dir.file("run.json")}));
  CHECK(r.code == kExitOk);
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK_THAT(j["samples"][0].get<std::string>(), StartsWith("And God"));
  CHECK(j["samples"][0].get<std::string>().size() == 7 + 16);
  const CliResult short_prompt = run_cli(small_run({"--prompt", "An"}));
  CHECK(short_prompt.code == kExitUsage);
  CHECK_THAT(short_prompt.err, Contains("--prompt \"An\" has 2 tokens"));
}

TEST_CASE("Plots: loss curves and the embedding map as SVG", "[next_token][cli][plot]") {
  TempDir dir("plot");
  const CliResult r = run_cli(small_run({"--plot", dir.file("plots")}));
  CHECK(r.code == kExitOk);
  const std::string loss = read_text(dir.file("plots/loss.svg"));
  const std::string rows = read_text(dir.file("plots/embedding_rows.svg"));
  CHECK_THAT(loss, StartsWith("<svg ") && Contains("validation loss") && Contains("</svg>"));
  CHECK_THAT(rows, StartsWith("<svg ") && Contains("never fed") && Contains("bit-identical") && Contains("</svg>"));
  CHECK_THAT(rows, Contains("-255: never fed"));  // the flat block of non-ASCII bytes is named
}

TEST_CASE("Whole-number flags are decimal: --seed 010 is seed 10, and 0x10 or 1e3 say what is wrong",
          "[next_token][cli][numbers]") {
  TempDir dir("decimal");
  const CliResult r = run_cli(small_run({"--seed", "010", "--steps", "0", "--samples", "0", "--quiet", "--json",
                                         dir.file("run.json")}));
  REQUIRE(r.code == kExitOk);
  CHECK(read_json(dir.file("run.json"))["seed"] == 10);
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--seed", "0x10"}, "--seed: 0x10 is not a whole number"},
      {{"--steps", "1e3"}, "--steps: 1e3 is not a whole number"},
      {{"--batch-size", "+5"}, "--batch-size: +5 is not a whole number"},
      {{"--steps", "100000001"}, "--steps: 100000001 is out of range [0, 100000000]"},
      {{"--seed", "99999999999999999999"}, "--seed: 99999999999999999999 is out of range [0, 4294967295]"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args[0] << " " << args[1]);
    const CliResult bad = run_cli(args);
    CHECK(bad.code == kExitUsage);
    CHECK_THAT(bad.err, Contains(message));
  }
}

TEST_CASE("A FIFO as --corpus is refused instead of blocking", "[next_token][cli]") {
  TempDir dir("fifo_corpus");
  REQUIRE(::mkfifo(dir.file("pipe").c_str(), 0600) == 0);
  const CliResult r = run_cli({"--corpus", dir.file("pipe"), "--quiet"});
  CHECK(r.code == kExitError);
  CHECK_THAT(r.err, Contains("it is not a regular file"));
}

TEST_CASE("Bytes that are not printable are escaped in messages", "[next_token][cli]") {
  TempDir dir("escape_cli");
  const std::string path = dir.file("\x1b[31mred\x7f.txt");
  const CliResult r = run_cli({"--corpus", path, "--quiet"});
  CHECK(r.code == kExitError);
  CHECK_THAT(r.err, Contains("\\x1B[31mred\\x7F.txt"));
  CHECK(r.err.find('\x1b') == std::string::npos);
  const CliResult flag = run_cli({"--tokens", "\x1b]0;title\x07"});
  CHECK(flag.code == kExitUsage);
  CHECK(flag.err.find('\x1b') == std::string::npos);
}

TEST_CASE("A model too large for the machine is refused with its size in bytes before it is built",
          "[next_token][cli]") {
  const CliResult r = run_cli({"--context", "64", "--embed-dim", "4096", "--hidden", "16384", "--quiet"});
  CHECK(r.code == kExitUsage);
  CHECK_THAT(r.err, Contains("needs ") && Contains(" bytes (") && Contains("more than the") &&
                        Contains("this machine can allocate"));
  CHECK(r.out.empty());
}

TEST_CASE("A write error on the output stream is an error with a message, not a silent success", "[next_token][cli]") {
  std::ostream broken(nullptr);  // every write fails, as on a full disk or a closed stdout
  std::ostringstream err;
  const int code = run(small_run({"--steps", "0", "--samples", "0"}), broken, err);
  CHECK(code == kExitError);
  CHECK_THAT(err.str(), Contains("cannot write to the standard output"));
}

namespace {

// A transformer small enough to train for a few steps in well under a second.
std::vector<std::string> tiny_transformer(const std::vector<std::string>& more = {}) {
  std::vector<std::string> args{"--model", "transformer", "--context", "8", "--embed-dim", "16", "--layers", "1",
                                "--heads", "2", "--batch-size", "8", "--warmup", "5", "--eval-windows", "40",
                                "--lr", "0.01"};
  args.insert(args.end(), more.begin(), more.end());
  return small_run(args);
}

}  // namespace

TEST_CASE("Model and optimizer flags that do not fit together are usage errors", "[next_token][cli]") {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--layers", "2"}, "--layers applies to --model transformer only"},
      {{"--dropout", "0.1"}, "--dropout applies to --model transformer only"},
      {{"--attention-dropout", "0.1"}, "--attention-dropout applies to --model transformer only"},
      {{"--model", "transformer", "--attention-dropout", "0.95"}, "--attention-dropout"},
      {{"--model", "transformer", "--attention-dropout", "-0.1"}, "--attention-dropout"},
      {{"--model", "transformer", "--attention-dropout", "nan"}, "--attention-dropout"},
      {{"--model", "transformer", "--hidden", "10"}, "--hidden applies to --model mlp only"},
      {{"--model", "mlp", "--no-bias"}, "--no-bias applies to --model transformer only"},
      {{"--model", "transformer", "--heads", "3"}, "--heads 3 does not divide --embed-dim 128"},
      {{"--optimizer", "adamw", "--momentum", "0.9"}, "--momentum applies to --optimizer sgd only"},
      {{"--warmup", "10"}, "--warmup applies to --schedule cosine only"},
      {{"--model", "transformer", "--steps", "50"}, "--warmup 100 leaves nothing of the schedule's 50 steps"},
      {{"--model", "transformer", "--lr-final", "0.01"}, "is above --lr"},
      {{"--context", "65"}, "more than the MLP's largest window (64)"},
      {{"--model", "gpt"}, "--model"},
      {{"--optimizer", "adam"}, "--optimizer"},
      {{"--clip", "-1"}, "--clip"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args.front() << " " << args[1]);
    const CliResult r = run_cli(args);
    CHECK(r.code == kExitUsage);
    CHECK_THAT(r.err, Contains(message));
    CHECK(r.out.empty());
  }
}

TEST_CASE("The progress line and the log show the gradient norm, and --json adds model, optimizer and grad_norm",
          "[next_token][cli]") {
  TempDir dir("grad_norm");
  const CliResult terminal = run_cli(small_run({"--eval-every", "20"}), /*interactive=*/true);
  CHECK(terminal.code == kExitOk);
  CHECK_THAT(terminal.out, Contains("  grad norm "));
  const CliResult r = run_cli(small_run({"--clip", "0.5", "--json", dir.file("run.json"), "--eval-every", "30"}));
  INFO(r.out << r.err);
  REQUIRE(r.code == kExitOk);
  CHECK_THAT(r.out, Contains("step 30  train") && Contains("grad norm"));
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK(j["model"]["kind"] == "mlp");
  CHECK(j["optimizer"]["kind"] == "sgd");
  CHECK(j["optimizer"]["clip"] == 0.5);
  // The norm reported is the one before clipping: an MLP early in training has norms above 0.5.
  CHECK(j["grad_norm"].get<double>() > 0.0);
  CHECK(std::isfinite(j["grad_norm"].get<double>()));
}

TEST_CASE("A transformer trains with AdamW, learns, and leaves never-fed rows of its untied table bit-identical",
          "[next_token][cli][transformer]") {
  TempDir dir("transformer");
  const CliResult r = run_cli(tiny_transformer({"--steps", "40", "--json", dir.file("run.json")}));
  INFO(r.out << r.err);
  REQUIRE(r.code == kExitOk);
  CHECK_THAT(r.out, Contains("AdamW is lazy on the token table") && Contains("row check passed") &&
                        Contains("learning check passed"));
  CHECK_THAT(r.out, Contains("training: 40 steps of 8 windows x 8 tokens, AdamW lr 0.01 -> 0.001 (warmup 5, cosine"));
  const nlohmann::json j = read_json(dir.file("run.json"));
  CHECK(j["model"]["kind"] == "transformer");
  CHECK(j["model"]["blocks"] == 1);
  CHECK(j["optimizer"]["kind"] == "adamw");
  CHECK(j["optimizer"]["weight_decay"] == 0.3);  // decay is on, and lazy: the unfed rows still hold
  CHECK(j["tokens"] == 40 * 8 * 8);               // every position of every window is predicted
  CHECK(j["rows_never_seen"].get<int>() > 150);
  CHECK(j["unseen_rows_identical"] == true);
  CHECK(j["rows_never_seen_changed"] == 0);
  CHECK(j["samples"].size() == 1);
}

TEST_CASE("A --threads count more than the system lets start is a usage error, not an abort, and the process goes on",
          "[next_token][cli][threads]") {
  // In a child under an address-space limit that leaves room for a few threads' stacks, not 255.
  xgrad::set_num_threads(1);  // a pool's workers would not be in the child
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (rlim_t{256} << 20);
    const rlimit address_space{limit, limit};
    if (::setrlimit(RLIMIT_AS, &address_space) != 0) ::_exit(20);
    const CliResult r = run_cli({"--threads", "256", "--steps", "0", "--samples", "0", "--eval-windows", "20", "--quiet"});
    if (r.code != kExitUsage) ::_exit(21);
    if (r.err.find("next_token: --threads 256: xgrad::set_num_threads(256): the system refused thread") != 0) ::_exit(22);
    if (r.err.find("the thread count stays as it was") == std::string::npos) ::_exit(23);
    if (xgrad::num_threads() != 1) ::_exit(24);
    xgrad::set_num_threads(2);  // fewer threads still start
    ::_exit(xgrad::num_threads() == 2 ? 0 : 25);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO("the child ended with status " << status << " (exit code: 2x as in the test, signal: aborted)");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
