// --stats: the health of a training run, as makemore's part 3 plots it. At each measured
// step, per parameter: the gradient's norm and log10 of the update-to-data ratio,
// std(update) / std(value) over the whole tensor (the guide line is about -3: much lower
// learns slowly, much higher is unstable); and the share of tanh units with |t| > 0.97
// (saturated: their gradient is nearly zero). --plot draws them as stats.svg.
// Not a profiler: a measurement copies every parameter once.
#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "xgrad.hpp"

namespace next_token {

struct StatsSeries {
  std::vector<std::string> names;                 // parameters
  std::vector<std::size_t> steps;                 // measured steps (steps done in this run)
  std::vector<std::vector<double>> grad_norm;     // [parameter][measurement]
  std::vector<std::vector<double>> log10_update;  // [parameter][measurement]; NaN when std(value) is 0
  std::vector<double> tanh_saturated;             // [measurement], share in [0, 1]; NaN without tanh
};

class StatsRecorder {
 public:
  // Measures step 1 and every `every`-th step.
  StatsRecorder(std::vector<std::pair<std::string, xgrad::Tensor>> parameters, std::size_t every);

  // After backward, before the update: gradient norms, tanh saturation, the values kept.
  void before_update(std::size_t done, const xgrad::Tape& tape);
  // After the update of step `done`: the update-to-data ratios.
  void after_update(std::size_t done);

  const StatsSeries& series() const { return series_; }

 private:
  std::vector<std::pair<std::string, xgrad::Tensor>> parameters_;
  std::size_t every_;
  std::size_t pending_ = 0;  // the step whose values are kept, 0 for none
  std::vector<xgrad::Array> before_;
  StatsSeries series_;
};

// A table: one line per parameter, a few of the measured steps across.
void print_stats(std::ostream& out, const StatsSeries& series);

// Three panels (gradient norms, log10 update/data with the -3 guide, tanh saturation).
std::string stats_svg(const StatsSeries& series, const std::string& title);

}  // namespace next_token
