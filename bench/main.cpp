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
#include "embedding_bench.hpp"
#include "xgrad.hpp"

namespace {

void usage() {
  std::puts(
      "usage: xgrad_bench [--threads N] [--json FILE] [--quick] [--only SUITES] [--budget SECONDS]\n"
      "                   [--vocabs V,V,..] [--widths D,..] [--tokens T,..] [--no-dense]\n"
      "       xgrad_bench --rss        peak memory of the V=1,000,000 D=256 sparse step\n"
      "SUITES: comma-separated from check,embedding,overhead,lm (default: all)");
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

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::BenchOptions options;
    std::string json, only = "check,embedding,overhead,lm";
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
    if (wanted("embedding")) bench::run_embedding_benchmarks(options, records);
    if (!json.empty()) bench::write_json(json, records);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "xgrad_bench: %s\n", error.what());
    return 1;
  }
}
