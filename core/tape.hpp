// Tape: the explicit record of the ops of one forward pass, replayed in reverse by
// backward(). Parameters live outside the tape and outlive it; a new tape per training
// step is the normal use. Not a graph optimiser: records run exactly as written.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace xgrad {

class Tape {
 public:
  // One op as it ran: its name, inputs, output, and how to push the output's gradient
  // back into the inputs (accumulating, never assigning).
  struct Record {
    std::string op;
    std::vector<Tensor> inputs;
    Tensor output;
    std::function<void()> backward;
    // Optional extra detail for printing, e.g. how many table rows a gather's gradient
    // touches; empty when the op has nothing to add.
    std::function<std::string()> detail;
  };

  Tape() = default;
  // Releases the records; their buffers go to core/buffer_pool.hpp for the next step.
  ~Tape();
  Tape(const Tape&) = default;
  Tape(Tape&&) = default;
  Tape& operator=(const Tape&) = default;
  Tape& operator=(Tape&&) = default;

  // Appends a record. Ops call this; users rarely do.
  void record(Record record);

  // Seeds d(loss)/d(loss) = 1 and runs every record in reverse. `loss` must hold exactly
  // one element and be the output of a record on this tape (or a parameter).
  void backward(const Tensor& loss);

  // The same with an explicit seed gradient of output's shape (a vector-Jacobian product).
  void backward(const Tensor& output, const Array& seed);

  std::size_t size() const { return records_.size(); }
  const Record& operator[](std::size_t i) const { return records_[i]; }

 private:
  void run_records();
  std::vector<Record> records_;
};

// One line per record: index, op, input shapes -> output shape, the output's gradient
// norm (after backward), and the record's detail.
std::ostream& operator<<(std::ostream& out, const Tape& tape);

}  // namespace xgrad
