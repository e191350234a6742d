// SGD that understands row-sparse gradients: a sparse step writes exactly the rows the
// gradient names, so its cost does not grow with the vocabulary.
// Momentum and weight decay on sparse gradients are lazy: they act only on the rows
// present in the step (a row's velocity does not decay while the row is unused).
#pragma once

#include <vector>

#include "core/tensor.hpp"

namespace xgrad::optim {

struct SGDOptions {
  float momentum = 0.0f;      // v = momentum * v + g; p -= lr * v (PyTorch's convention)
  float weight_decay = 0.0f;  // g += weight_decay * p before the momentum update
};

class SGD {
 public:
  // Throws std::invalid_argument for lr, momentum or weight decay that is negative or not
  // finite, momentum >= 1, or a parameter that does not require a gradient.
  SGD(std::vector<Tensor> parameters, float lr, SGDOptions options = {});

  // One update from the current gradients; parameters with no gradient are left as they are.
  void step();

  // Clears every parameter's gradient; O(rows touched) for row-sparse ones.
  void zero_grad();

  float lr() const { return lr_; }
  void set_lr(float lr);

 private:
  void update_dense(float* values, const float* grad, float* velocity, std::size_t n) const;
  void update_rows(float* values, const RowSparseGrad& sparse, float* velocity) const;

  std::vector<Tensor> parameters_;
  std::vector<Array> velocities_;  // one per parameter when momentum > 0, allocated once
  float lr_;
  SGDOptions options_;
};

}  // namespace xgrad::optim
