// Tape: recording and reverse replay.
#include "core/tape.hpp"

#include <ostream>
#include <stdexcept>

#include "core/detail/buffer_pool.hpp"
#include "core/errors.hpp"

namespace xgrad {

Tape::~Tape() {
  records_.clear();
  buffer_pool::end_of_step();
}

void Tape::record(Record record) {
  if (records_.capacity() == 0) records_.reserve(4);  // one small block for a short tape
  records_.push_back(std::move(record));
}

void Tape::backward(const Tensor& loss) {
  if (loss.size() != 1) {
    throw ShapeError("Tape::backward: the loss must hold one element, got shape " +
                     shape_string(loss.shape()) + "; pass a seed gradient for other outputs");
  }
  if (!loss.requires_grad()) {
    throw std::invalid_argument(
        "Tape::backward: the output does not depend on any tensor that requires a gradient");
  }
  loss.mutable_grad().add_uniform(1.0f);  // d(loss)/d(loss) = 1
  run_records();
}

void Tape::backward(const Tensor& output, const Array& seed) {
  if (!output.requires_grad()) {
    throw std::invalid_argument(
        "Tape::backward: the output does not depend on any tensor that requires a gradient");
  }
  output.mutable_grad().add_dense(seed, "Tape::backward (seed)");
  run_records();
}

void Tape::run_records() {
  for (auto record = records_.rbegin(); record != records_.rend(); ++record) {
    if (record->output.grad().empty()) continue;  // nothing flowed into this op
    record->backward();
  }
}

std::ostream& operator<<(std::ostream& out, const Tape& tape) {
  for (std::size_t i = 0; i < tape.size(); ++i) {
    const Tape::Record& record = tape[i];
    out << i << ": " << record.op << ' ';
    for (std::size_t k = 0; k < record.inputs.size(); ++k) {
      out << (k ? ", " : "") << shape_string(record.inputs[k].shape());
    }
    out << " -> " << shape_string(record.output.shape());
    out << "  |grad| = " << record.output.grad().norm();
    if (record.detail) out << "  " << record.detail();
    out << '\n';
  }
  return out;
}

}  // namespace xgrad
