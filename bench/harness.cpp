// Timing, id batches and output of the benchmark harness.
#include "harness.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <stdexcept>
#include <time.h>

namespace bench {

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

namespace {

double median(std::vector<double> samples) {
  if (samples.empty()) return 0.0;
  const std::size_t mid = samples.size() / 2;
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(mid), samples.end());
  if (samples.size() % 2) return samples[mid];
  const double upper = samples[mid];
  return 0.5 * (upper + *std::max_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(mid)));
}

// One timed call with its untimed setup and teardown; returns the timed seconds.
double timed_call(const Contender& c, std::size_t batch) {
  c.setup(batch);
  const double start = now_seconds();
  c.run(batch);
  const double elapsed = now_seconds() - start;
  c.teardown(batch);
  return elapsed;
}

}  // namespace

std::vector<Timing> measure(const std::vector<const Contender*>& contenders,
                            const MeasureOptions& options) {
  const std::size_t n = contenders.size();
  std::vector<std::vector<double>> samples(n);
  std::vector<std::size_t> batch(n, 0);
  const double round_budget = options.budget_s / static_cast<double>(options.rounds * n);
  const std::size_t round_min = (options.min_reps + options.rounds - 1) / options.rounds;
  for (std::size_t round = 0; round < options.rounds; ++round) {
    for (std::size_t k = 0; k < n; ++k) {
      const Contender& c = *contenders[k];
      for (std::size_t w = 0; w < options.warmup; ++w) timed_call(c, batch[k]++ % options.batches);
      const double start = now_seconds();
      std::size_t reps = 0;
      while (reps < round_min || now_seconds() - start < round_budget) {
        samples[k].push_back(timed_call(c, batch[k]++ % options.batches));
        ++reps;
      }
    }
  }
  std::vector<Timing> result;
  for (const auto& s : samples) result.push_back({median(s), s.size()});
  return result;
}

PairTiming measure_pair(const Contender& xgrad, const Contender& baseline,
                        const MeasureOptions& options) {
  const std::vector<Timing> t = measure({&xgrad, &baseline}, options);
  return {t[0], t[1]};
}

const char* distribution_name(Distribution d) {
  return d == Distribution::uniform ? "uniform" : "zipf";
}

std::vector<std::vector<std::int32_t>> draw_batches(std::size_t vocab, std::size_t tokens,
                                                    Distribution distribution,
                                                    std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::int32_t>> batches(count, std::vector<std::int32_t>(tokens));
  if (distribution == Distribution::uniform) {
    std::uniform_int_distribution<std::int32_t> pick(0, static_cast<std::int32_t>(vocab - 1));
    for (auto& b : batches) for (auto& id : b) id = pick(rng);
    return batches;
  }
  // Zipf: inverse-CDF sampling over ranks 1..V, then a fixed permutation rank -> row.
  std::vector<double> cdf(vocab);
  double total = 0.0;
  for (std::size_t k = 0; k < vocab; ++k) cdf[k] = (total += 1.0 / static_cast<double>(k + 1));
  std::vector<std::int32_t> row_of_rank(vocab);
  std::iota(row_of_rank.begin(), row_of_rank.end(), 0);
  std::shuffle(row_of_rank.begin(), row_of_rank.end(), rng);
  std::uniform_real_distribution<double> u(0.0, total);
  for (auto& b : batches) {
    for (auto& id : b) {
      const auto rank = std::upper_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin();
      id = row_of_rank[static_cast<std::size_t>(std::min<std::ptrdiff_t>(rank, static_cast<std::ptrdiff_t>(vocab - 1)))];
    }
  }
  return batches;
}

namespace {

std::string format_seconds(double s) {
  char text[32];
  if (s >= 1.0) std::snprintf(text, sizeof text, "%.3f s", s);
  else if (s >= 1e-3) std::snprintf(text, sizeof text, "%.3f ms", s * 1e3);
  else std::snprintf(text, sizeof text, "%.2f us", s * 1e6);
  return text;
}

}  // namespace

void print_record(const Record& r) {
  const double ratio = r.baseline_s > 0 ? r.xgrad_s / r.baseline_s : 0.0;
  std::printf("%-48s xgrad %11s  baseline %11s  xgrad/baseline %5.2f", r.name.c_str(),
              format_seconds(r.xgrad_s).c_str(), format_seconds(r.baseline_s).c_str(), ratio);
  if (r.tokens > 0) std::printf("  %9.0f tok/s", r.tokens / r.xgrad_s);
  if (r.baseline_square_s > 0) {
    std::printf("  (baseline writing Y^2 %s, xgrad/it %.2f)", format_seconds(r.baseline_square_s).c_str(),
                r.xgrad_s / r.baseline_square_s);
  }
  if (!r.note.empty()) std::printf("  %s", r.note.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

void write_json(const std::string& path, const std::vector<Record>& records) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << "[\n";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    char numbers[256];
    std::snprintf(numbers, sizeof numbers,
                  "\"xgrad_s\": %.9g, \"baseline_s\": %.9g, \"ratio_vs_baseline\": %.6g, "
                  "\"threads\": %zu, \"tokens\": %.0f, \"baseline_square_s\": %.9g",
                  r.xgrad_s, r.baseline_s, r.baseline_s > 0 ? r.xgrad_s / r.baseline_s : 0.0,
                  r.threads, r.tokens, r.baseline_square_s);
    out << "  {\"case\": \"" << r.name << "\", \"group\": \"" << r.group << "\", " << numbers
        << ", \"note\": \"" << r.note << "\"}" << (i + 1 < records.size() ? "," : "") << "\n";
  }
  out << "]\n";
}

std::size_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

}  // namespace bench
