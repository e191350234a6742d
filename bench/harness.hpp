// The benchmark harness: wall-clock medians of one call, xgrad and its hand-written
// baseline measured interleaved in the same process, pre-drawn id batches, and the JSON
// records bench/report.py merges. Not a statistics package: medians over repeats only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bench {

// Seconds on the monotonic clock.
double now_seconds();

// One way of doing a case's work: `setup` (untimed, e.g. the forward pass before a timed
// backward) then `run` (timed), each given the index of the id batch to use.
struct Contender {
  std::function<void(std::size_t batch)> setup = [](std::size_t) {};
  std::function<void(std::size_t batch)> run;
  std::function<void(std::size_t batch)> teardown = [](std::size_t) {};
};

struct Timing {
  double median_s = 0.0;
  std::size_t reps = 0;
};

struct PairTiming {
  Timing xgrad;
  Timing baseline;
};

struct MeasureOptions {
  double budget_s = 0.2;      // wall time for both contenders together, setup included
  std::size_t min_reps = 20;  // per contender, whatever the budget
  std::size_t warmup = 2;     // untimed calls per contender per round
  std::size_t rounds = 10;    // the contenders alternate this many times
  std::size_t batches = 16;   // rotating id batches
};

// Medians of `run` for each contender, alternating in rounds so that drift on a shared
// machine hits all alike.
std::vector<Timing> measure(const std::vector<const Contender*>& contenders,
                            const MeasureOptions& options);
PairTiming measure_pair(const Contender& xgrad, const Contender& baseline,
                        const MeasureOptions& options);

// Id batches: uniform over [0, V), or Zipf (P(rank k) ~ 1/k over V ranks, ranks mapped to
// rows by a fixed random permutation), as bench/README.md describes.
enum class Distribution { uniform, zipf };
const char* distribution_name(Distribution d);
std::vector<std::vector<std::int32_t>> draw_batches(std::size_t vocab, std::size_t tokens,
                                                    Distribution distribution,
                                                    std::size_t count, std::uint64_t seed);

// One line of the output: a case measured for xgrad and the baseline.
struct Record {
  std::string name;          // e.g. "full V=50000 D=64 T=512 uniform t=1"
  std::string group;         // "embedding", "dense", "lm", ...
  double xgrad_s = 0.0;
  double baseline_s = 0.0;
  std::size_t threads = 1;
  double tokens = 0.0;       // tokens per call, for tokens/s (0 when not meaningful)
  std::string note;          // free text, e.g. unique rows per batch
  double baseline_square_s = 0.0;  // full steps: the baseline that also writes Y^2 out
};

void print_record(const Record& record);
void write_json(const std::string& path, const std::vector<Record>& records);

// Peak resident set (VmHWM) of this process, in bytes.
std::size_t peak_rss_bytes();

}  // namespace bench
