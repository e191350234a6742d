// SGD that understands row-sparse gradients: a sparse step writes exactly the rows the
// gradient names, so its cost does not grow with the vocabulary.
// Momentum and weight decay on sparse gradients are lazy: they act only on the rows
// present in the step (a row's velocity does not decay while the row is unused).
#pragma once

#include <cstdint>
#include <vector>

#include "optim/optimizer.hpp"

namespace xgrad::optim {

struct SGDOptions {
  float momentum = 0.0f;      // v = momentum * v + g; p -= lr * v (PyTorch's convention)
  float weight_decay = 0.0f;  // g += weight_decay * p before the momentum update
};

class SGD : public Optimizer {
 public:
  // Throws std::invalid_argument for lr, momentum or weight decay that is negative or not
  // finite, momentum >= 1, or a parameter that does not require a gradient.
  SGD(std::vector<Tensor> parameters, float lr, SGDOptions options = {});

  // One update from the current gradients; parameters with no gradient are left as they are.
  void step() override;

  // Clears every parameter's gradient; O(rows touched) for row-sparse ones.
  void zero_grad() override;

  float lr() const override { return lr_; }
  void set_lr(float lr) override;

  // kind "sgd", step = step() calls so far, and with momentum > 0 one array
  // "<name>.velocity" per parameter in parameter order (copies). Names are needed only then:
  // with momentum, state() and load_state() throw std::invalid_argument when a parameter's
  // name is empty or used twice (construction does not, so SGD without a checkpoint keeps
  // accepting any names).
  OptimizerState state() const override;
  // Copies into the velocities already allocated.
  void load_state(const OptimizerState& state) override;

  std::uint64_t steps() const { return step_; }

 private:
  void update_dense(float* values, const float* grad, float* velocity, std::size_t n) const;
  void update_rows(float* values, const RowSparseGrad& sparse, float* velocity) const;

  std::vector<Tensor> parameters_;
  std::vector<Array> velocities_;  // one per parameter when momentum > 0, allocated once
  float lr_;
  SGDOptions options_;
  std::uint64_t step_ = 0;
};

}  // namespace xgrad::optim
