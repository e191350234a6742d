// TapeScope: the per-thread stack of current tapes.
#include "core/tape_scope.hpp"

#include <stdexcept>
#include <string>

namespace xgrad {
namespace {

thread_local Tape* current = nullptr;

}  // namespace

TapeScope::TapeScope(Tape& tape) : previous_(current), tape_(&tape) { current = &tape; }

TapeScope::~TapeScope() { current = previous_; }

Tape* current_tape() { return current; }

Tape& tape_for(const char* op, std::initializer_list<const Tensor*> inputs) {
  if (current) return *current;
  for (const Tensor* input : inputs) {
    if (input->requires_grad()) {
      const std::string name = input->name().empty() ? "an input" : "'" + input->name() + "'";
      throw std::logic_error(std::string(op) + ": " + name +
                             " requires a gradient but no tape is in scope: open a "
                             "TapeScope(tape) around the computation, or call " +
                             op + "(tape, ...)");
    }
  }
  thread_local Tape constants(Tape::Mode::inference);
  return constants;
}

}  // namespace xgrad
