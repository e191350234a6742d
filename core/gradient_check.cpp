// check_gradients: analytic (tape) vs central finite differences.
#include "core/gradient_check.hpp"

#include <cmath>
#include <random>
#include <sstream>

namespace xgrad {
namespace {

double weighted_sum(const Tensor& output, const Array& weights) {
  double total = 0.0;
  const float* y = output.value().data();
  for (std::size_t i = 0; i < weights.size(); ++i) total += static_cast<double>(weights.data()[i]) * y[i];
  return total;
}

void clear_gradients(const std::vector<Tensor>& inputs) {
  for (const Tensor& input : inputs) input.mutable_grad().clear();
}

}  // namespace

GradientCheckResult check_gradients(const CheckedFunction& f, const std::vector<Tensor>& inputs,
                                    const GradientCheckOptions& options) {
  clear_gradients(inputs);
  Tape tape;
  const Tensor output = f(tape, inputs);
  Array weights = Array::from_shape(output.shape());
  std::mt19937 generator(options.seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& w : weights) w = uniform(generator);
  tape.backward(output, weights);

  std::vector<Array> analytic;
  for (const Tensor& input : inputs) analytic.push_back(input.grad().to_dense());
  clear_gradients(inputs);

  GradientCheckResult result;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    float* values = inputs[k].mutable_value().data();
    for (std::size_t i = 0; i < inputs[k].size(); ++i) {
      const float original = values[i];
      const float plus = static_cast<float>(original + options.step);
      const float minus = static_cast<float>(original - options.step);
      values[i] = plus;
      Tape plus_tape(Tape::Mode::inference);
      const double f_plus = weighted_sum(f(plus_tape, inputs), weights);
      values[i] = minus;
      Tape minus_tape(Tape::Mode::inference);
      const double f_minus = weighted_sum(f(minus_tape, inputs), weights);
      values[i] = original;
      // Divide by the step actually taken in float32, not the requested one.
      const double numeric = (f_plus - f_minus) / (static_cast<double>(plus) - minus);
      const double exact = analytic[k].data()[i];
      const double error = std::abs(exact - numeric);
      ++result.elements_checked;
      if (error > options.absolute_tolerance + options.relative_tolerance * std::abs(numeric)) {
        result.ok = false;
      }
      if (error >= result.max_abs_error) {
        result.max_abs_error = error;
        std::ostringstream worst;
        worst << "input " << k << " element " << i << ": analytic " << exact << ", numeric "
              << numeric;
        result.worst = worst.str();
      }
    }
  }
  clear_gradients(inputs);
  return result;
}

}  // namespace xgrad
