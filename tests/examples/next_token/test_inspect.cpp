// Specification of next_token --graph and --stats: the first step's graph as DOT (and SVG
// through Graphviz when installed), the tied table's two contributions in it, and the
// training-health measurements (gradient norms, update-to-data ratios, tanh saturation).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "stats.hpp"
#include "tests/examples/next_token/next_token_support.hpp"

using namespace next_token;
using namespace next_token::testing;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

bool dot_installed() { return std::system("dot -V > /dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("next_token --graph writes the first training step's graph as DOT, and SVG when dot is installed",
          "[next_token][inspect]") {
  TempDir dir("graph");
  const CliResult r = run_cli(small_run({"--graph", dir.file("step.svg")}));
  INFO(r.out << r.err);
  CHECK(r.code == kExitOk);
  const std::string dot = read_text(dir.file("step.dot"));
  CHECK_THAT(dot, Contains("digraph xgrad {") && Contains("#0 embedding_lookup") &&
                      Contains("#5 softmax_cross_entropy") && Contains("training step 1"));
  CHECK_THAT(dot, Contains("embed.embedding (256, 16)") && Contains(" of 256 rows"));
  CHECK_THAT(r.out, Contains("graph of step 1: " + dir.file("step.dot")));
  if (dot_installed()) {
    CHECK_THAT(read_text(dir.file("step.svg")), Contains("<svg") && Contains("embedding_lookup"));
  } else {
    WARN("Graphviz's dot is not installed: only the .dot was checked");
    CHECK_FALSE(fs::exists(dir.file("step.svg")));
    CHECK_THAT(r.out, Contains("dot is not installed"));
  }
}

TEST_CASE("next_token --graph with --tie draws the table's gather and attend contributions apart",
          "[next_token][inspect]") {
  TempDir dir("graph_tie");
  const CliResult r = run_cli(small_run({"--tie", "--graph", dir.file("tied")}));
  INFO(r.out << r.err);
  CHECK(r.code == kExitOk);
  const std::string dot = read_text(dir.file("tied.dot"));
  // p0 is the table, read by the gather (rows) and by attend's matmul_transposed (dense).
  std::size_t rows = 0, dense = 0;
  std::istringstream lines(dot);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  p0 -> ", 0) != 0) continue;
    rows += line.find("label=\"rows: ") != std::string::npos;
    dense += line.find("label=\"dense |g| ") != std::string::npos;
  }
  CHECK(rows == 1);
  CHECK(dense == 1);
  CHECK_THAT(dot, Contains("matmul_transposed"));
}

TEST_CASE("next_token --stats prints each parameter's gradient norm and update ratio, and tanh saturation",
          "[next_token][inspect]") {
  TempDir dir("stats");
  const CliResult r = run_cli(small_run({"--stats", "--plot", dir.file("plots")}));
  INFO(r.out << r.err);
  CHECK(r.code == kExitOk);
  CHECK_THAT(r.out, Contains("stats: |gradient| and log10(update/data) per parameter"));
  for (const char* name : {"embed.embedding", "hidden.kernel", "hidden.bias", "output.kernel", "output.bias",
                           "tanh |t|>0.97"}) {
    CHECK_THAT(r.out, Contains(std::string("\n") + name));
  }
  const std::string svg = read_text(dir.file("plots/stats.svg"));
  CHECK_THAT(svg, Contains("<svg") && Contains("hidden.kernel") && Contains("dashed: -3"));
  CHECK_THAT(r.out, Contains("stats plot: " + dir.file("plots/stats.svg")));
}

TEST_CASE("The stats recorder measures hand-computed norms, update ratios and saturation",
          "[next_token][inspect]") {
  using xgrad::Array;
  const xgrad::Tensor w = xgrad::Tensor::parameter(Array{1.0f, 2.0f, 3.0f, 4.0f}, "w");
  xgrad::Tape tape;
  // tanh(w * s) with s = {0, 1, -1, 0.1}: of its inputs {0, 2, -3, 0.4} only -3 saturates
  // (tanh 3 = 0.995; tanh 2 = 0.964 is below 0.97): one saturated unit of four.
  const xgrad::Tensor s(Array{0.0f, 1.0f, -1.0f, 0.1f});
  tape.backward(xgrad::sum(tape, xgrad::mul(tape, xgrad::tanh(tape, xgrad::mul(tape, w, s)), s)));
  StatsRecorder recorder({{"w", w}}, 10);
  recorder.before_update(1, tape);
  w.mutable_value() -= Array{0.0f, 0.0f, 0.0f, 0.02f};  // an update of std 0.02 * sqrt(3) / 4
  recorder.after_update(1);
  recorder.before_update(5, tape);  // not a measured step (neither 1 nor a multiple of 10)
  const StatsSeries& series = recorder.series();
  REQUIRE(series.steps == std::vector<std::size_t>{1});
  CHECK(series.grad_norm[0][0] == Approx(w.grad().norm()));
  const double update_std = 0.02 * std::sqrt(3.0) / 4.0;
  const double data_std = std::sqrt(1.25);  // values {1, 2, 3, 4}
  CHECK(series.log10_update[0][0] == Approx(std::log10(update_std / data_std)).epsilon(1e-4));
  CHECK(series.tanh_saturated[0] == 0.25);
}
