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
    records_.push_back({std::move(op), std::move(inputs), result, std::move(backward), std::move(detail)});
  }
  return result;
}

void Tape::backward(const Tensor& loss) {
  if (loss.size() != 1) {
    throw ShapeError("Tape::backward: the loss must hold one element, got shape " +
                     shape_string(loss.shape()) + "; pass a seed gradient for other outputs");
  }
  require_gradient_flows(loss);
  Array one = Array::from_shape(loss.shape());
  one.fill(1.0f);  // d(loss)/d(loss)
  loss.mutable_grad().add(std::move(one));
  run_records();
}

void Tape::backward(const Tensor& output, const Array& seed) {
  require_gradient_flows(output);
  try {
    output.mutable_grad().add(seed);
  } catch (const ShapeError& e) {
    throw ShapeError(std::string("Tape::backward (seed): ") + e.what());
  }
  run_records();
}

void Tape::run_records() {
  for (auto record = records_.rbegin(); record != records_.rend(); ++record) {
    Gradient& grad = record->output.mutable_grad();
    if (grad.empty()) continue;  // nothing flowed into this op
    try {
      record->backward(record->output.value(), grad.dense_buffer());
    } catch (const ShapeError& e) {
      throw ShapeError(record->op + " backward: " + e.what());
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
