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

  // What a backward pass may do with the tape afterwards.
  struct BackwardOptions {
    // Allow one more backward on this tape (PyTorch's retain_graph). Without it a second
    // backward is an error: every record's saved state would push its gradient again.
    bool keep_tape = false;
  };

  // Seeds d(loss)/d(loss) = 1 and runs, in reverse, the records up to the one that made
  // `loss`. `loss` must hold exactly one element (ShapeError otherwise: use the seeded form)
  // and be the output of a record on this tape (std::invalid_argument otherwise, e.g. a loss
  // recorded on another tape, or a parameter). The gradients of this tape's intermediate
  // outputs are cleared first, so a second loss on a kept tape gets only its own gradient;
  // they stay readable afterwards (printing a tape shows them). Parameters and tensors from
  // outside the tape accumulate, as always. A second backward on one tape throws
  // std::logic_error unless the one before passed keep_tape; then each parameter receives
  // its gradient exactly once more.
  void backward(const Tensor& loss, BackwardOptions options);
  void backward(const Tensor& loss) { backward(loss, BackwardOptions{}); }

  // The same with an explicit seed gradient of output's shape (a vector-Jacobian product).
  void backward(const Tensor& output, const Array& seed, BackwardOptions options);
  void backward(const Tensor& output, const Array& seed) { backward(output, seed, BackwardOptions{}); }

  // Whether a backward has run and the tape refuses another (no keep_tape was asked).
  bool spent() const { return spent_; }

  std::size_t size() const { return records_.size(); }
  const Record& operator[](std::size_t i) const { return records_[i]; }

 private:
  // Checks the rules above and returns the index of the record that made `output`.
  std::size_t begin_backward(const Tensor& output, BackwardOptions options);
  void run_records(std::size_t last);
  Mode mode_;
  bool spent_ = false;
  std::vector<Record> records_;
};

// One line per record: index, op, input shapes -> output shape, the output's gradient
// norm (after backward), and the record's detail.
std::ostream& operator<<(std::ostream& out, const Tape& tape);

}  // namespace xgrad
