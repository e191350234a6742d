// TapeScope: the per-thread stack of current tapes.
#include "core/tape_scope.hpp"

#include <stdexcept>
#include <string>

namespace xgrad {
namespace {

thread_local Tape* current = nullptr;

}  // namespace

TapeScope::TapeScope(Tape& tape) : previous_(current) { current = &tape; }

TapeScope::~TapeScope() { current = previous_; }

Tape* current_tape() { return current; }

namespace {

template <class Inputs, class Get>
Tape& tape_for_inputs(const char* op, const Inputs& inputs, Get get) {
  if (current) return *current;
  for (const auto& input : inputs) {
    const Tensor& x = get(input);
    if (x.requires_grad()) {
      const std::string name = x.name().empty() ? "an input" : "'" + x.name() + "'";
      throw std::logic_error(std::string(op) + ": " + name +
                             " requires a gradient but no tape is in scope: open a "
                             "TapeScope(tape) around the computation, or call " +
                             op + "(tape, ...)");
    }
  }
  thread_local Tape constants(Tape::Mode::inference);
  return constants;
}

}  // namespace

Tape& tape_for(const char* op, std::initializer_list<const Tensor*> inputs) {
  return tape_for_inputs(op, inputs, [](const Tensor* x) -> const Tensor& { return *x; });
}

Tape& tape_for(const char* op, const std::vector<Tensor>& inputs) {
  return tape_for_inputs(op, inputs, [](const Tensor& x) -> const Tensor& { return x; });
}

}  // namespace xgrad
