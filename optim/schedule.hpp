// Learning-rate schedules: the rate for a step number, computed in double and rounded to
// float. The training loop calls optimizer.set_lr(schedule.lr(step)) before each step;
// schedules hold no state, so a resumed run only needs its step number.
#pragma once

#include <cstddef>

namespace xgrad::optim {

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual float lr(std::size_t step) const = 0;  // step counts from 0

 protected:
  Schedule() = default;
  Schedule(const Schedule&) = default;
  Schedule& operator=(const Schedule&) = default;
};

// The same rate at every step. Throws std::invalid_argument unless lr is finite and >= 0.
class ConstantSchedule : public Schedule {
 public:
  explicit ConstantSchedule(float lr);
  float lr(std::size_t step) const override;

 private:
  float lr_;
};

// lr_start at step 0, straight down (or up) to lr_end at step total_steps, lr_end after:
// lr(s) = lr_start + (lr_end - lr_start) * min(s, total_steps) / total_steps.
// Throws std::invalid_argument unless both rates are finite and >= 0 and total_steps >= 1.
class LinearDecaySchedule : public Schedule {
 public:
  LinearDecaySchedule(float lr_start, float lr_end, std::size_t total_steps);
  float lr(std::size_t step) const override;

 private:
  float lr_start_, lr_end_;
  std::size_t total_steps_;
};

// nanoGPT's get_lr (train.py), with warmup_steps = warmup_iters, total_steps = lr_decay_iters:
//   s <  warmup_steps:                lr_max * (s + 1) / (warmup_steps + 1)
//   warmup_steps <= s <= total_steps: lr_min + 0.5 * (1 + cos(pi * r)) * (lr_max - lr_min),
//                                     r = (s - warmup_steps) / (total_steps - warmup_steps)
//   s >  total_steps:                 lr_min
// so lr_max at s = warmup_steps and lr_min from s = total_steps on. Throws
// std::invalid_argument unless 0 <= lr_min <= lr_max (finite) and warmup_steps < total_steps.
class WarmupCosineSchedule : public Schedule {
 public:
  WarmupCosineSchedule(float lr_max, std::size_t warmup_steps, std::size_t total_steps,
                       float lr_min);
  float lr(std::size_t step) const override;

 private:
  float lr_max_;
  std::size_t warmup_steps_, total_steps_;
  float lr_min_;
};

}  // namespace xgrad::optim
