// Builds the optimiser and the learning-rate schedule a TrainOptions asks for, so the CLI,
// training and checkpoints agree on them: SGD (momentum and weight decay lazy on row-sparse
// gradients) or AdamW (lazy on them too, decoupled decay on 2-D weights only); a linear
// decay, or linear warmup then a half cosine (nanoGPT's), over the planned run.
#pragma once

#include <memory>
#include <vector>

#include "optim/optimizer.hpp"
#include "optim/schedule.hpp"
#include "train.hpp"

namespace next_token {

const char* optimizer_kind_name(OptimizerKind kind);  // "sgd" or "adamw"
const char* schedule_kind_name(ScheduleKind kind);    // "linear" or "cosine"

// Throws std::invalid_argument for hyperparameters the optimiser refuses.
std::unique_ptr<xgrad::optim::Optimizer> make_optimizer(const std::vector<xgrad::Tensor>& parameters,
                                                        const TrainOptions& options);

// lr(step) for steps counted from the model's first step ever, spanning total_schedule_steps().
std::unique_ptr<xgrad::optim::Schedule> make_schedule(const TrainOptions& options);

}  // namespace next_token
