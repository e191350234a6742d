// Progress line (terminal) and log lines (pipes, files).
#include "progress.hpp"

#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>

namespace next_token {
namespace {

std::string format(const char* pattern, double a) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, a);
  return buffer;
}

std::string duration(double seconds) {
  if (!(seconds >= 0.0) || seconds > 1e7) return "?";
  const long s = std::lround(seconds);
  if (s < 60) return std::to_string(s) + " s";
  return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
}

std::string rate(double tokens_per_second) {
  if (tokens_per_second >= 1e6) return format("%.2fM tok/s", tokens_per_second / 1e6);
  if (tokens_per_second >= 1e3) return format("%.1fk tok/s", tokens_per_second / 1e3);
  return format("%.0f tok/s", tokens_per_second);
}

}  // namespace

void ProgressPrinter::clear_line() {
  if (line_open_) out_ << "\r\033[K";
  line_open_ = false;
}

void ProgressPrinter::on_step(std::size_t done, std::size_t total, float loss, float grad_norm,
                              double tokens_per_second, double eta) {
  if (mode_ != Mode::terminal) return;
  const auto now = std::chrono::steady_clock::now();
  if (done != total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  out_ << "\r\033[Kstep " << done << "/" << total << "  batch loss " << format("%.3f", loss) << "  grad norm "
       << format("%.3f", grad_norm) << "  " << rate(tokens_per_second) << "  ETA " << duration(eta) << std::flush;
  line_open_ = true;
}

void ProgressPrinter::on_eval(const CurvePoint& point, std::size_t done, std::size_t total, float grad_norm,
                              double tokens_per_second, double eta) {
  if (mode_ == Mode::quiet) return;
  clear_line();
  out_ << "step " << point.step << (done == 0 ? " (before training)" : "") << "  train " << format("%.3f", point.train)
       << "  validation " << format("%.3f", point.validation);
  if (train_bytes_ > 0 && validation_bytes_ > 0) {
    out_ << " (" << format("%.3f", bits_per_byte(point.train, train_tokens_, train_bytes_)) << " / "
         << format("%.3f", bits_per_byte(point.validation, validation_tokens_, validation_bytes_)) << " bits/byte)";
  }
  if (done > 0) out_ << "  grad norm " << format("%.3f", grad_norm) << "  " << rate(tokens_per_second);
  if (done > 0 && done < total) out_ << "  ETA " << duration(eta);
  out_ << std::endl;
}

void ProgressPrinter::show_bits_per_byte(const Split& split) {
  train_tokens_ = split.train.size();
  train_bytes_ = split.train_bytes;
  validation_tokens_ = split.validation.size();
  validation_bytes_ = split.validation_bytes;
}

void ProgressPrinter::finish() {
  if (mode_ == Mode::terminal) clear_line();
  out_ << std::flush;
}

}  // namespace next_token
