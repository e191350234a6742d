// The three schedules' formulas and their argument checks.
#include "optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace xgrad::optim {
namespace {

constexpr double kPi = 3.14159265358979323846;

void require_rate(float lr, const char* schedule, const char* what) {
  if (!std::isfinite(lr) || lr < 0.0f) {
    throw std::invalid_argument(std::string(schedule) + ": " + what +
                                " must be finite and >= 0, got " + std::to_string(lr));
  }
}

}  // namespace

ConstantSchedule::ConstantSchedule(float lr) : lr_(lr) {
  require_rate(lr, "ConstantSchedule", "lr");
}

float ConstantSchedule::lr(std::size_t) const { return lr_; }

LinearDecaySchedule::LinearDecaySchedule(float lr_start, float lr_end, std::size_t total_steps)
    : lr_start_(lr_start), lr_end_(lr_end), total_steps_(total_steps) {
  require_rate(lr_start, "LinearDecaySchedule", "lr_start");
  require_rate(lr_end, "LinearDecaySchedule", "lr_end");
  if (total_steps == 0) throw std::invalid_argument("LinearDecaySchedule: total_steps must be >= 1");
}

float LinearDecaySchedule::lr(std::size_t step) const {
  const double fraction =
      static_cast<double>(std::min(step, total_steps_)) / static_cast<double>(total_steps_);
  const double start = lr_start_, end = lr_end_;
  return static_cast<float>(start + (end - start) * fraction);
}

WarmupCosineSchedule::WarmupCosineSchedule(float lr_max, std::size_t warmup_steps,
                                           std::size_t total_steps, float lr_min)
    : lr_max_(lr_max), warmup_steps_(warmup_steps), total_steps_(total_steps), lr_min_(lr_min) {
  require_rate(lr_max, "WarmupCosineSchedule", "lr_max");
  require_rate(lr_min, "WarmupCosineSchedule", "lr_min");
  if (lr_min > lr_max) {
    throw std::invalid_argument("WarmupCosineSchedule: lr_min (" + std::to_string(lr_min) +
                                ") must not exceed lr_max (" + std::to_string(lr_max) + ")");
  }
  if (warmup_steps >= total_steps) {
    throw std::invalid_argument("WarmupCosineSchedule: warmup_steps (" +
                                std::to_string(warmup_steps) + ") must be < total_steps (" +
                                std::to_string(total_steps) + ")");
  }
}

float WarmupCosineSchedule::lr(std::size_t step) const {
  const double lr_max = lr_max_, lr_min = lr_min_;
  if (step < warmup_steps_) {
    return static_cast<float>(lr_max * static_cast<double>(step + 1) /
                              static_cast<double>(warmup_steps_ + 1));
  }
  if (step > total_steps_) return lr_min_;
  const double ratio = static_cast<double>(step - warmup_steps_) /
                       static_cast<double>(total_steps_ - warmup_steps_);
  const double coeff = 0.5 * (1.0 + std::cos(kPi * ratio));
  return static_cast<float>(lr_min + coeff * (lr_max - lr_min));
}

}  // namespace xgrad::optim
