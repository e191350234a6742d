// The interface every optimiser implements (step, zero_grad, learning rate, and its state
// for a checkpoint), and the checks they share when a state is loaded. Not a scheduler:
// optim/schedule.hpp computes learning rates, the training loop sets them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/array.hpp"
#include "core/tensor.hpp"

namespace xgrad::optim {

// An optimiser's state for a checkpoint: its step count and named arrays, e.g.
// "<parameter name>.exp_avg", "<parameter name>.exp_avg_sq", "<parameter name>.velocity".
// Tensor::name() is the key, so an optimiser whose state has arrays needs its parameters'
// names to be non-empty and unique (each optimiser says when it checks that).
struct OptimizerState {
  std::string kind;  // "adamw", "sgd"
  std::uint64_t step = 0;
  std::vector<std::pair<std::string, Array>> arrays;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual void zero_grad() = 0;
  virtual float lr() const = 0;
  virtual void set_lr(float lr) = 0;
  virtual OptimizerState state() const = 0;
  // Validates everything (kind, names, shapes, finite values) before changing anything;
  // throws std::invalid_argument naming what was wrong.
  virtual void load_state(const OptimizerState& state) = 0;

 protected:
  Optimizer() = default;
  Optimizer(const Optimizer&) = default;
  Optimizer(Optimizer&&) = default;
  Optimizer& operator=(const Optimizer&) = default;
  Optimizer& operator=(Optimizer&&) = default;
};

namespace detail {

// Throws std::invalid_argument ("<who>: ...") unless every parameter has a non-empty name
// that no other parameter in the list has.
void require_unique_names(const std::vector<Tensor>& parameters, const std::string& who);

// One array an optimiser expects in a state: its name and shape.
struct ExpectedArray {
  std::string name;
  Shape shape;
};

// The arrays of `state` in the order of `expected`, after checking that state.kind is
// `kind`, that every expected name is present exactly once, that there is no other name,
// and that each array has its expected shape and only finite values. Throws
// std::invalid_argument ("<who>: ...") naming the first problem; changes nothing.
std::vector<const Array*> match_state_arrays(const OptimizerState& state, const std::string& kind,
                                             const std::vector<ExpectedArray>& expected,
                                             const std::string& who);

}  // namespace detail
}  // namespace xgrad::optim
