// How a run shows itself while it trains: on a terminal, one progress line redrawn in place
// (step, batch loss, gradient norm, tokens/s, ETA) with a persistent line per loss measurement; otherwise
// plain log lines, one per measurement; with --quiet, nothing.
#pragma once

#include <chrono>
#include <iosfwd>

#include "train.hpp"

namespace next_token {

class ProgressPrinter : public TrainObserver {
 public:
  enum class Mode { terminal, log, quiet };
  ProgressPrinter(std::ostream& out, Mode mode) : out_(out), mode_(mode) {}

  void on_step(std::size_t done, std::size_t total, float loss, float grad_norm, double tokens_per_second,
               double eta) override;
  void on_eval(const CurvePoint& point, std::size_t done, std::size_t total, float grad_norm,
               double tokens_per_second, double eta) override;
  // Ends a progress line still on the screen.
  void finish();
  // From now on each measurement also shows its losses in bits per byte of `split`'s text.
  void show_bits_per_byte(const Split& split);

 private:
  void clear_line();
  std::ostream& out_;
  Mode mode_;
  bool line_open_ = false;
  std::size_t train_tokens_ = 0, train_bytes_ = 0, validation_tokens_ = 0, validation_bytes_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace next_token
