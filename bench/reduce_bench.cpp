// Per-call cost of sum and softmax over the last axis of (32, 64, 256): xgrad's forward op on
// an inference tape against a hand-written loop into a reused buffer (the same algorithm:
// double lanes for the sum, xsimd exp for the softmax), measured interleaved in this process
// (bench/harness.hpp). Prints one JSON object per line; bench/reduce_bench.py adds NumPy and
// the ratios. A measurement, not a test.
// usage: reduce_bench [--threads N] [--budget SECONDS]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/detail/simd.hpp"
#include "harness.hpp"
#include "xgrad.hpp"

namespace {

using xgrad::Array;
using xgrad::simd::Batch;
constexpr std::size_t kLanes = Batch::size;
constexpr std::size_t kRows = 32 * 64, kWidth = 256;

// Row sums in double, 16 lanes added in lane order, then the tail.
void loop_sum(const float* x, float* out) {
  for (std::size_t r = 0; r < kRows; ++r) {
    const float* row = x + r * kWidth;
    double lane[16] = {};
    std::size_t i = 0;
    for (; i + 16 <= kWidth; i += 16) {
      for (std::size_t k = 0; k < 16; ++k) lane[k] += static_cast<double>(row[i + k]);
    }
    double total = 0.0;
    for (double l : lane) total += l;
    for (; i < kWidth; ++i) total += static_cast<double>(row[i]);
    out[r] = static_cast<float>(total);
  }
}

// Row softmax: maximum, exp(x - max) stored while summed in float lanes, scaled by 1 / sum.
void loop_softmax(const float* x, float* y) {
  for (std::size_t r = 0; r < kRows; ++r) {
    const float* row = x + r * kWidth;
    float* out = y + r * kWidth;
    Batch top = Batch::load_unaligned(row);
    for (std::size_t i = kLanes; i < kWidth; i += kLanes) top = xsimd::max(top, Batch::load_unaligned(row + i));
    alignas(64) float spill[kLanes];
    top.store_aligned(spill);
    float top_value = spill[0];
    for (float v : spill) top_value = std::max(top_value, v);
    const Batch m(top_value);
    Batch sum(0.0f);
    for (std::size_t i = 0; i < kWidth; i += kLanes) {
      const Batch e = xsimd::exp(Batch::load_unaligned(row + i) - m);
      e.store_unaligned(out + i);
      sum += e;
    }
    const Batch scale(1.0f / xsimd::hadd(sum));
    for (std::size_t i = 0; i < kWidth; i += kLanes) (Batch::load_unaligned(out + i) * scale).store_unaligned(out + i);
  }
}

double max_abs_difference(const float* a, const float* b, std::size_t n) {
  double worst = 0.0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 1;
  double budget = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") threads = std::strtoul(argv[i + 1], nullptr, 10);
    else if (flag == "--budget") budget = std::strtod(argv[i + 1], nullptr);
    else {
      std::fprintf(stderr, "usage: reduce_bench [--threads N] [--budget SECONDS]\n");
      return 2;
    }
  }
  xgrad::set_num_threads(threads);
  // Normal values as in logits, from a fixed LCG (no dependence on a library's generator).
  Array xv = Array::from_shape({32, 64, kWidth});
  std::uint64_t state = 12345;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    xv.data()[i] = static_cast<float>(static_cast<double>(state >> 40) / 16777216.0 * 8.0 - 4.0);
  }
  const xgrad::Tensor x(xv);
  Array sum_out = Array::from_shape({32, 64});
  Array softmax_out = Array::from_shape({32, 64, kWidth});

  bench::MeasureOptions options;
  options.budget_s = budget;
  options.min_reps = 200;

  struct Case {
    const char* op;
    bench::Contender xgrad, loop;
    std::function<double()> difference;
  };
  std::vector<Case> cases(2);
  Array kept;  // the op's last output, for the comparison with the loop's
  cases[0].op = "sum";
  cases[0].xgrad.run = [&](std::size_t) {
    xgrad::Tape tape(xgrad::Tape::Mode::inference);
    const xgrad::Tensor y = xgrad::sum(tape, x, {-1});
    (void)y;
  };
  cases[0].loop.run = [&](std::size_t) { loop_sum(xv.data(), sum_out.data()); };
  cases[0].difference = [&] {
    xgrad::Tape tape(xgrad::Tape::Mode::inference);
    kept = xgrad::sum(tape, x, {-1}).value();
    return max_abs_difference(kept.data(), sum_out.data(), sum_out.size());
  };
  cases[1].op = "softmax";
  cases[1].xgrad.run = [&](std::size_t) {
    xgrad::Tape tape(xgrad::Tape::Mode::inference);
    const xgrad::Tensor y = xgrad::softmax(tape, x, -1);
    (void)y;
  };
  cases[1].loop.run = [&](std::size_t) { loop_softmax(xv.data(), softmax_out.data()); };
  cases[1].difference = [&] {
    xgrad::Tape tape(xgrad::Tape::Mode::inference);
    kept = xgrad::softmax(tape, x, -1).value();
    return max_abs_difference(kept.data(), softmax_out.data(), softmax_out.size());
  };
  for (Case& c : cases) {
    const bench::PairTiming t = bench::measure_pair(c.xgrad, c.loop, options);
    std::printf("{\"op\": \"%s\", \"shape\": [32, 64, 256], \"threads\": %zu, \"xgrad_s\": %.9g, "
                "\"loop_s\": %.9g, \"reps\": %zu, \"max_abs_difference\": %.3g}\n",
                c.op, threads, t.xgrad.median_s, t.baseline.median_s, t.xgrad.reps, c.difference());
  }
  return 0;
}
