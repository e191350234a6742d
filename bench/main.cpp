// xgrad_bench: runs the benchmark suites for one thread count and prints one line per
// case (xgrad, hand-written baseline, ratio); --json writes the records for report.py.
// Usually started by bench/run.sh, which also runs PyTorch and prints the merged table.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <vector>
#include <stdexcept>
#include <string>

#include "baseline_lm.hpp"
#include "core/detail/parallel.hpp"
#include "core/flax/flax.hpp"
#include "embedding_bench.hpp"
#include "xgrad.hpp"

namespace {

void usage() {
  std::puts(
      "usage: xgrad_bench [--threads N] [--json FILE] [--quick] [--only SUITES] [--budget SECONDS]\n"
      "                   [--vocabs V,V,..] [--widths D,..] [--tokens T,..] [--no-dense]\n"
      "                   [--transformer-steps N] [--transformer-case TEXT (a part of the case's name)]\n"
      "       xgrad_bench --rss        peak memory of the V=1,000,000 D=256 sparse step\n"
      "SUITES: comma-separated from check,embedding,overhead,lm,transformer (default: all), and call\n"
      "        (xgrad::flax::token_embed_forward per call, for bench/python_call_bench.py)");
}

std::vector<std::size_t> parse_sizes(const std::string& list) {
  std::vector<std::size_t> sizes;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    sizes.push_back(std::stoul(list.substr(start, comma - start)));
    start = comma + 1;
  }
  return sizes;
}

// Peak resident memory of sparse training steps on a 1 GB table, against the bound the
// issue sets: table + 10% + what T*D needs.
int rss_check() {
  const std::size_t vocab = 1000000, width = 256, tokens = 8192;
  const std::size_t table_bytes = vocab * width * sizeof(float);
  xgrad::Array values = xgrad::Array::from_shape({vocab, width});
  for (std::size_t i = 0; i < values.size(); ++i) values.data()[i] = static_cast<float>(i % 97) * 1e-3f;
  const xgrad::Tensor table = xgrad::Tensor::parameter(std::move(values), "table");
  const std::size_t before = bench::peak_rss_bytes();
  xgrad::optim::SGD sgd({table}, 0.01f);
  const auto batches = bench::draw_batches(vocab, tokens, bench::Distribution::uniform, 8, 3);
  bool sparse = true;
  for (int step = 0; step < 40; ++step) {
    const auto& b = batches[static_cast<std::size_t>(step) % batches.size()];
    xgrad::Tape tape;
    const xgrad::Tensor y =
        xgrad::embedding_lookup(tape, table, xgrad::TokenIds(std::vector<std::int64_t>(b.begin(), b.end())));
    tape.backward(xgrad::mean_square(tape, y));
    sparse = sparse && table.grad().kind() == xgrad::Gradient::Kind::row_sparse;
    sgd.step();
    sgd.zero_grad();
  }
  const std::size_t peak = bench::peak_rss_bytes();
  const std::size_t td_bytes = tokens * width * sizeof(float);
  const double bound = 1.10 * static_cast<double>(table_bytes) + 8.0 * static_cast<double>(td_bytes);
  std::printf("rss: table %.1f MB, T*D %.1f MB, peak RSS after table %.1f MB, peak after 40 steps %.1f MB\n",
              table_bytes / 1e6, td_bytes / 1e6, before / 1e6, peak / 1e6);
  const double extra = static_cast<double>(peak) - static_cast<double>(table_bytes);
  std::printf("rss: peak - table = %.1f MB (%.2f%% of the table, %.1f x T*D); bound table * 1.1 + 8 * T*D = %.1f MB: %s\n",
              extra / 1e6, 100.0 * extra / static_cast<double>(table_bytes),
              extra / static_cast<double>(td_bytes), bound / 1e6, peak <= bound ? "ok" : "EXCEEDED");
  std::printf("rss: table gradient stayed row-sparse: %s\n", sparse ? "yes" : "NO");
  return peak <= bound && sparse ? 0 : 1;
}

// The cases bench/python_call_bench.py times from Python under the same names; the ids of
// the larger one are (7919 k) mod V there too.
struct CallCase {
  std::string name;
  std::vector<double> ids;
  std::size_t vocab, dim;
};

std::vector<CallCase> call_cases() {
  std::vector<double> batch(512);
  for (std::size_t k = 0; k < batch.size(); ++k) batch[k] = static_cast<double>(k * 7919 % 50000);
  return {{"call V=5 D=3 T=3", {0, 2, 1}, 5, 3}, {"call V=50000 D=16 T=512", batch, 50000, 16}};
}

// Per-call time of the C++ function the Python module's token_embed_forward wraps: the
// median over loops of back-to-back calls, each loop at least 2 ms long, because one call
// of the small case is too close to the clock's own cost to time alone. The Python
// script times its side the same way.
void run_call_benchmarks(std::vector<bench::Record>& records) {
  volatile float sink = 0.0f;  // keeps the calls' results alive
  for (const CallCase& c : call_cases()) {
    const auto loop = [&](std::size_t calls) {
      const double start = bench::now_seconds();
      for (std::size_t i = 0; i < calls; ++i) {
        sink = sink + xgrad::flax::token_embed_forward(0, c.ids, c.vocab, c.dim).back();
      }
      return (bench::now_seconds() - start) / static_cast<double>(calls);
    };
    std::size_t calls = 1;
    while (loop(calls) * static_cast<double>(calls) < 2e-3) calls *= 2;
    std::vector<double> per_call(51);
    for (double& t : per_call) t = loop(calls);
    std::nth_element(per_call.begin(), per_call.begin() + 25, per_call.end());
    bench::Record r;
    r.name = c.name;
    r.group = "call";
    r.xgrad_s = per_call[25];
    r.note = "median of 51 loops of " + std::to_string(calls) + " calls";
    std::printf("%-48s C++ per call %11.3f us  (%s)\n", r.name.c_str(), r.xgrad_s * 1e6, r.note.c_str());
    records.push_back(r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::BenchOptions options;
    std::string json, only = "check,embedding,overhead,lm,transformer";
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--threads") options.threads = std::stoul(value());
      else if (arg == "--json") json = value();
      else if (arg == "--only") only = value();
      else if (arg == "--budget") options.measure.budget_s = std::stod(value());
      else if (arg == "--vocabs") options.vocabs = parse_sizes(value());
      else if (arg == "--widths") options.widths = parse_sizes(value());
      else if (arg == "--tokens") options.token_counts = parse_sizes(value());
      else if (arg == "--no-dense") options.dense = false;
      else if (arg == "--transformer-steps") options.transformer_steps = std::stoul(value());
      else if (arg == "--transformer-case") options.transformer_case = value();
      else if (arg == "--quick") {
        options.vocabs = {1000, 1000000};
        options.widths = {64};
        options.measure.budget_s = 0.05;
        options.measure.min_reps = 8;
      } else if (arg == "--rss") return rss_check();
      else if (arg == "--help" || arg == "-h") {
        usage();
        return 0;
      } else {
        usage();
        return 2;
      }
    }
    xgrad::set_num_threads(options.threads);
    std::printf("xgrad_bench: %zu thread(s); medians of one call; ratio = xgrad time / baseline time\n",
                options.threads);
    auto wanted = [&](const char* suite) { return ("," + only + ",").find("," + std::string(suite) + ",") != std::string::npos; };
    std::vector<bench::Record> records;
    if (wanted("check")) {
      bench::check_sparse_step_matches_baseline();
      bench::check_lm_step_matches_baseline();
    }
    if (wanted("overhead")) bench::run_fixed_overhead(options, records);
    if (wanted("lm")) bench::run_lm_benchmarks(options, records);
    if (wanted("transformer")) bench::run_transformer_benchmarks(options, records);
    if (wanted("embedding")) bench::run_embedding_benchmarks(options, records);
    if (wanted("call")) run_call_benchmarks(records);  // not in the default list: run by python_call_bench.py
    if (!json.empty()) bench::write_json(json, records);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "xgrad_bench: %s\n", error.what());
    return 1;
  }
}
