// Tape: the explicit record of the ops of one forward pass, replayed in reverse by
// backward(). Parameters live outside the tape and outlive it; a new tape per training
// step is the normal use. An inference tape records nothing, so evaluation and sampling
// allocate no gradients. Not a graph optimiser: records run exactly as written.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace xgrad {

class Tape {
 public:
  enum class Mode {
    training,   // ops whose inputs require a gradient are recorded
    inference,  // nothing is recorded; every output requires no gradient
  };

  // An op's backward function: given the op's output value y and the gradient dy of the
  // loss with respect to it (dense, y's shape), it adds each input's share into that
  // input's gradient (accumulating, never assigning; see core/op.hpp).
  using Backward = std::function<void(const Array& y, const Array& dy)>;

  // One op as it ran.
  struct Record {
    std::string op;
    std::vector<Tensor> inputs;
    Tensor output;
    Backward backward;
    // Extra detail for printing, e.g. how many table rows a gather's gradient touches;
    // empty when the op has nothing to add.
    std::function<std::string()> detail;
  };

  explicit Tape(Mode mode = Mode::training) : mode_(mode) {}
  // One tape owns its records: copying one would replay the same backward twice.
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;
  Tape(Tape&&) = default;
  Tape& operator=(Tape&&) = default;

  Mode mode() const { return mode_; }

  // Whether an op on these inputs will be recorded: a training tape and at least one input
  // that requires a gradient. An op asks before computing what only its backward needs.
  template <class... Tensors>
  bool needs_gradient(const Tensors&... inputs) const {
    return mode_ == Mode::training && (inputs.requires_grad() || ...);
  }

  // The op API's one call (core/op.hpp): returns a tensor holding `output` and, when any
  // input requires a gradient on a training tape, records how to push its gradient back.
  Tensor record(std::string op, std::vector<Tensor> inputs, Array output, Backward backward,
                std::function<std::string()> detail = {});

  // Seeds d(loss)/d(loss) = 1 and runs every record in reverse. `loss` must hold exactly
  // one element and be the output of a record on this tape (or a parameter).
  void backward(const Tensor& loss);

  // The same with an explicit seed gradient of output's shape (a vector-Jacobian product).
  void backward(const Tensor& output, const Array& seed);

  std::size_t size() const { return records_.size(); }
  const Record& operator[](std::size_t i) const { return records_[i]; }

 private:
  void run_records();
  Mode mode_;
  std::vector<Record> records_;
};

// One line per record: index, op, input shapes -> output shape, the output's gradient
// norm (after backward), and the record's detail.
std::ostream& operator<<(std::ostream& out, const Tape& tape);

}  // namespace xgrad
