// TapeScope: makes a tape the current one for the code that runs inside a block, so that
// operators (a + b, -x, ...) and the tape-less op forms in core/operators.hpp record on it,
// as TensorFlow's GradientTape records what runs inside its `with` block:
//
//   Tape tape;
//   {
//     TapeScope scope(tape);
//     loss = sum(x * w + b);       // recorded on `tape`
//   }
//   tape.backward(loss);
//
// Scopes are per thread and nest: the innermost is current, and leaving it makes the one
// around it current again. They must end in the reverse order they began (as C++ locals
// do). Sugar over the explicit op(tape, ...) forms, never a second engine.
#pragma once

#include <initializer_list>
#include <vector>

#include "core/tape.hpp"
#include "core/tensor.hpp"

namespace xgrad {

class TapeScope {
 public:
  explicit TapeScope(Tape& tape);
  ~TapeScope();
  TapeScope(const TapeScope&) = delete;
  TapeScope& operator=(const TapeScope&) = delete;

 private:
  Tape* previous_;
};

// The innermost scope's tape on this thread, or null outside every scope.
Tape* current_tape();

// The tape an op called without one records on: the current scope's tape; outside every
// scope, a per-thread inference tape when no input requires a gradient (the op is then a
// plain computation). Throws std::logic_error naming the op and the input when an input
// requires a gradient and no scope is open: its gradient would silently be lost.
Tape& tape_for(const char* op, std::initializer_list<const Tensor*> inputs);
Tape& tape_for(const char* op, const std::vector<Tensor>& inputs);

}  // namespace xgrad
