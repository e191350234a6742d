// The optimiser and schedule factories.
#include "optimizer_choice.hpp"

#include <algorithm>

#include "optim/adamw.hpp"
#include "optim/sgd.hpp"

namespace next_token {

using namespace xgrad;

const char* optimizer_kind_name(OptimizerKind kind) { return kind == OptimizerKind::sgd ? "sgd" : "adamw"; }
const char* schedule_kind_name(ScheduleKind kind) { return kind == ScheduleKind::linear ? "linear" : "cosine"; }

std::unique_ptr<optim::Optimizer> make_optimizer(const std::vector<Tensor>& parameters, const TrainOptions& o) {
  if (o.optimizer == OptimizerKind::sgd) {
    optim::SGDOptions options;
    options.momentum = o.momentum;
    options.weight_decay = o.weight_decay;
    return std::make_unique<optim::SGD>(parameters, o.lr, options);
  }
  optim::AdamWOptions options;
  options.beta1 = o.beta1;
  options.beta2 = o.beta2;
  options.eps = o.eps;
  options.weight_decay = o.weight_decay;
  return std::make_unique<optim::AdamW>(parameters, o.lr, options);
}

std::unique_ptr<optim::Schedule> make_schedule(const TrainOptions& o) {
  // A run of no steps still gets a valid schedule (it is never asked for a rate).
  const std::size_t total = std::max(o.total_schedule_steps(), o.warmup + 1);
  if (o.schedule == ScheduleKind::linear) return std::make_unique<optim::LinearDecaySchedule>(o.lr, o.lr_final, total);
  return std::make_unique<optim::WarmupCosineSchedule>(o.lr, o.warmup, total, o.lr_final);
}

}  // namespace next_token
