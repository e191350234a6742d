// AdamW (PyTorch 1.13's torch.optim.AdamW, float32) for dense and row-sparse gradients.
// A row-sparse gradient's step is lazy, as torch.optim.SparseAdam's: only the stored rows'
// values, moments and weight decay change, so its cost follows the rows, not V x D.
#pragma once

#include <cstdint>
#include <vector>

#include "optim/optimizer.hpp"

namespace xgrad::optim {

struct AdamWOptions {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.01f;  // PyTorch's defaults
};

struct ParameterGroup {
  std::vector<Tensor> parameters;
  float weight_decay;
};

// One step t (t = 1, 2, ...) on each element, in this order (torch.optim.AdamW):
//   p  = p * (1 - lr * wd)                       decoupled weight decay, first
//   m  = beta1 * m + (1 - beta1) * g
//   v  = beta2 * v + (1 - beta2) * g * g
//   p  = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The element arithmetic is float32, in PyTorch's operation order. The scalars (1 - lr * wd,
// 1 - beta, the bias corrections, lr / bc1, sqrt(bc2)) are computed in double and rounded
// once to float, as PyTorch does with its Python-float hyper-parameters; each float option
// is read as the shortest decimal that rounds to it (0.9f as the double 0.9), so options
// written as decimals give PyTorch's bits on its scalar path (tests/optim/test_adamw.cpp
// checks three steps on 6 elements). PyTorch 1.13's vectorised add_(g, alpha) fuses a
// multiply-add in each 8-element chunk but not in the tail, so on larger tensors PyTorch
// differs from itself by an ulp with position, and from xgrad within 1e-6 relative
// (tests/python/test_optim_torch.py).
//
// The step count t is the optimiser's: the number of step() calls so far, this one included,
// the same for every parameter (it is OptimizerState::step). A parameter with no gradient
// in a step is left as it is, values and moments, but the count still advances, so its next
// update uses the later t. (PyTorch and SparseAdam count per parameter, steps in which it had
// a gradient; the two agree whenever every parameter has a gradient at every step.) A
// row-sparse gradient's rows use the same t: a row unused for a while is not caught up.
class AdamW : public Optimizer {
 public:
  // Weight decay options.weight_decay on parameters with 2 or more dimensions only
  // (nanoGPT's rule); 1-D and scalar ones (biases, norms) get none.
  AdamW(std::vector<Tensor> parameters, float lr, AdamWOptions options = {});
  // Each group's weight_decay for all of its parameters, whatever their rank;
  // options.weight_decay is not used.
  AdamW(std::vector<ParameterGroup> groups, float lr, AdamWOptions options = {});
  // Both throw std::invalid_argument for an lr, eps or weight decay that is negative or not
  // finite, a beta outside [0, 1), a parameter that does not require a gradient, and a
  // parameter name that is empty or used twice (names key the state). Moments (two arrays
  // of each parameter's shape) are allocated here, once.

  void step() override;
  // Clears every parameter's gradient; O(rows touched) for row-sparse ones.
  void zero_grad() override;
  float lr() const override { return lr_; }
  void set_lr(float lr) override;

  // kind "adamw", step = step() calls so far, arrays "<name>.exp_avg" and
  // "<name>.exp_avg_sq" per parameter in parameter order (copies).
  OptimizerState state() const override;
  // Also rejects a negative exp_avg_sq. Copies into the moments already allocated.
  void load_state(const OptimizerState& state) override;

  std::uint64_t steps() const { return step_; }
  // The weight decay parameter `index` (in construction order) gets.
  float weight_decay(std::size_t index) const;

 private:
  struct Slot {
    Tensor parameter;
    float weight_decay;
    Array exp_avg;     // m, the parameter's shape
    Array exp_avg_sq;  // v, the parameter's shape
  };
  void add(const Tensor& parameter, float weight_decay);
  void validate_options() const;

  std::vector<Slot> slots_;
  float lr_;
  AdamWOptions options_;
  std::uint64_t step_ = 0;
};

}  // namespace xgrad::optim
