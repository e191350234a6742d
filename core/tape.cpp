// Tape: recording and reverse replay.
#include "core/tape.hpp"

#include <algorithm>
#include <ostream>
#include <stdexcept>

#include "core/errors.hpp"

namespace xgrad {
namespace {

void require_gradient_flows(const Tensor& output) {
  if (!output.requires_grad()) {
    throw std::invalid_argument(
        "Tape::backward: the output does not depend on any tensor that requires a gradient"
        " (or was computed on an inference tape)");
  }
}

}  // namespace

Tensor Tape::record(std::string op, std::vector<Tensor> inputs, Array output, Backward backward,
                    std::function<std::string()> detail) {
  const bool recorded = mode_ == Mode::training &&
                        std::any_of(inputs.begin(), inputs.end(),
                                    [](const Tensor& input) { return input.requires_grad(); });
  Tensor result(std::move(output), recorded);
  if (recorded) {
    // A step's tape holds at least a few records: starting with room for some spares the
    // first reallocations, each of which moves every record.
    if (records_.capacity() == 0) records_.reserve(8);
    records_.push_back({std::move(op), std::move(inputs), result, std::move(backward), std::move(detail)});
  }
  return result;
}

std::size_t Tape::begin_backward(const Tensor& output, BackwardOptions options) {
  require_gradient_flows(output);
  if (spent_) {
    throw std::logic_error(
        "Tape::backward: this tape has already run backward; pass keep_tape = true to the "
        "backward before to run another, or record the next step on a new tape");
  }
  // The output is almost always the last record: search from the end.
  std::size_t index = records_.size();
  while (index > 0 && !records_[index - 1].output.same_node(output)) --index;
  if (index == 0) {
    const std::string name = output.name().empty() ? "the output" : "'" + output.name() + "'";
    throw std::invalid_argument("Tape::backward: " + name +
                                " was not recorded on this tape (it is a parameter or input, or "
                                "the output of an op recorded on another tape)");
  }
  // Intermediate gradients belong to one backward pass: a previous pass on a kept tape
  // would otherwise be seeded into the records again.
  for (const Record& record : records_) record.output.mutable_grad().clear();
  spent_ = !options.keep_tape;
  return index - 1;
}

void Tape::backward(const Tensor& loss, BackwardOptions options) {
  if (loss.size() != 1) {
    throw ShapeError("Tape::backward: the loss must hold one element, got shape " +
                     shape_string(loss.shape()) + "; pass a seed gradient for other outputs");
  }
  const std::size_t last = begin_backward(loss, options);
  Array one = Array::from_shape(loss.shape());
  one.fill(1.0f);  // d(loss)/d(loss)
  loss.mutable_grad().add(std::move(one));
  run_records(last);
}

void Tape::backward(const Tensor& output, const Array& seed, BackwardOptions options) {
  if (shape_of(seed) != output.shape()) {
    throw ShapeError("Tape::backward (seed): the seed has shape " + shape_string(shape_of(seed)) +
                     ", the output " + shape_string(output.shape()));
  }
  const std::size_t last = begin_backward(output, options);
  // A copy from the buffer cache: a large seed would otherwise fault in fresh pages.
  Array copy = uninitialized_array(output.shape());
  std::copy(seed.begin(), seed.end(), copy.begin());
  output.mutable_grad().add(std::move(copy));
  run_records(last);
}

void Tape::run_records(std::size_t last) {
  for (std::size_t i = last + 1; i-- > 0;) {
    Record& record = records_[i];
    Gradient& grad = record.output.mutable_grad();
    if (grad.empty()) continue;  // nothing flowed into this op
    try {
      record.backward(record.output.value(), grad.dense_buffer());
    } catch (const ShapeError& e) {
      throw ShapeError(record.op + " backward: " + e.what());
    }
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
