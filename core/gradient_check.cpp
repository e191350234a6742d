// check_gradients: analytic (tape) vs central finite differences, element by element or
// along random directions.
#include "core/gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>

#include "core/errors.hpp"

namespace xgrad {
namespace {

void require_option(bool valid, const char* name, double value, const char* rule) {
  if (valid) return;
  std::ostringstream message;
  message << "check_gradients: option " << name << " must be " << rule << ", got " << value;
  throw std::invalid_argument(message.str());
}

void validate(const GradientCheckOptions& options) {
  // NaN fails every comparison below, so each rule also refuses it.
  require_option(std::isfinite(options.step) && options.step > 0.0, "step", options.step, "finite and > 0");
  require_option(std::isfinite(options.absolute_tolerance) && options.absolute_tolerance >= 0.0,
                 "absolute_tolerance", options.absolute_tolerance, "finite and >= 0");
  require_option(std::isfinite(options.relative_tolerance) && options.relative_tolerance >= 0.0,
                 "relative_tolerance", options.relative_tolerance, "finite and >= 0");
  if (options.mode == GradientCheckMode::directional) {
    require_option(std::isfinite(options.directional_step) && options.directional_step > 0.0, "directional_step",
                   options.directional_step, "finite and > 0");
    require_option(options.directions >= 1, "directions", static_cast<double>(options.directions), ">= 1");
  }
}

void clear_gradients(const std::vector<Tensor>& inputs) {
  for (const Tensor& input : inputs) input.mutable_grad().clear();
}

// A snapshot of the inputs' values, written back on every exit (an exception from f, a
// Python KeyboardInterrupt among them, leaves the perturbed element or direction in place
// otherwise), with the gradients cleared.
class RestoreInputs {
 public:
  explicit RestoreInputs(const std::vector<Tensor>& inputs) : inputs_(inputs) {
    saved_.reserve(inputs.size());
    for (const Tensor& input : inputs) saved_.push_back(input.value());
  }
  RestoreInputs(const RestoreInputs&) = delete;
  RestoreInputs& operator=(const RestoreInputs&) = delete;
  ~RestoreInputs() {
    try {
      restore_values();
      clear_gradients(inputs_);
    } catch (...) {  // only an allocation for a value f resized could throw here
    }
  }

  const Array& saved(std::size_t k) const { return saved_[k]; }

  void restore_values() const {
    for (std::size_t k = 0; k < inputs_.size(); ++k) {
      Array& value = inputs_[k].mutable_value();
      // Into the same buffer when possible: NumPy views of the value point at it.
      if (shape_of(value) == shape_of(saved_[k])) {
        if (value.size() > 0) std::memcpy(value.data(), saved_[k].data(), value.size() * sizeof(float));
      } else {
        value = saved_[k];
      }
    }
  }

 private:
  const std::vector<Tensor>& inputs_;
  std::vector<Array> saved_;
};

// L(x) = sum_i w_i f(x)_i on an inference tape, refusing an output whose shape is not the
// first call's (the weights would be read against a buffer of another length).
class WeightedSum {
 public:
  WeightedSum(const CheckedFunction& f, const std::vector<Tensor>& inputs, const Array& weights)
      : f_(f), inputs_(inputs), weights_(weights) {}

  template <class Where>
  double operator()(const Where& where) const {
    Tape tape(Tape::Mode::inference);
    const Tensor output = f_(tape, inputs_);
    if (!output.defined() || output.shape() != shape_of(weights_)) {
      throw ShapeError("check_gradients: f returned shape " +
                       (output.defined() ? shape_string(output.shape()) : std::string("(undefined)")) +
                       " at " + where() + ", but " + shape_string(shape_of(weights_)) +
                       " at the first call; the output's shape must not depend on the inputs' values");
    }
    double total = 0.0;
    const float* y = output.value().data();
    for (std::size_t i = 0; i < weights_.size(); ++i) total += static_cast<double>(weights_.data()[i]) * y[i];
    return total;
  }

 private:
  const CheckedFunction& f_;
  const std::vector<Tensor>& inputs_;
  const Array& weights_;
};

// Folds comparisons into a result: the pass rule, the worst comparison, and the 2-norms
// for the relative error. A non-finite comparison or a vanished step fails and counts as
// an infinite error, so the first of them stays the worst.
class Tally {
 public:
  Tally(GradientCheckResult& result, const GradientCheckOptions& options) : result_(result), options_(options) {}

  // `typical` is the size below which |numeric| does not shrink the relative tolerance.
  template <class Label>
  void compare(double analytic, double numeric, bool step_vanished, const Label& label, double typical = 0.0) {
    double error = std::abs(analytic - numeric);
    const bool finite = std::isfinite(error);
    if (!finite || step_vanished) {
      result_.ok = false;
      if (!invalid_) {
        invalid_ = true;
        result_.max_abs_error = std::numeric_limits<double>::infinity();
        std::ostringstream worst;
        worst << label() << ": analytic " << analytic << ", numeric " << numeric;
        if (step_vanished) {
          worst << " (the step vanished in float32 at this value: use a larger step or rescale the input)";
        } else {
          worst << " (not finite)";
        }
        result_.worst = worst.str();
      }
      return;
    }
    if (error > options_.absolute_tolerance + options_.relative_tolerance * std::max(std::abs(numeric), typical)) {
      result_.ok = false;
    }
    difference_squared_ += error * error;
    analytic_squared_ += analytic * analytic;
    numeric_squared_ += numeric * numeric;
    if (!invalid_ && error >= result_.max_abs_error) {
      result_.max_abs_error = error;
      std::ostringstream worst;
      worst << label() << ": analytic " << analytic << ", numeric " << numeric;
      result_.worst = worst.str();
    }
  }

  void finish() const {
    if (invalid_) {
      result_.relative_error = std::numeric_limits<double>::infinity();
      return;
    }
    const double scale = std::sqrt(std::max(analytic_squared_, numeric_squared_));
    result_.relative_error = scale == 0.0 ? 0.0 : std::sqrt(difference_squared_) / scale;
  }

 private:
  GradientCheckResult& result_;
  const GradientCheckOptions& options_;
  bool invalid_ = false;
  double difference_squared_ = 0.0, analytic_squared_ = 0.0, numeric_squared_ = 0.0;
};

void check_elementwise(const std::vector<Tensor>& inputs, const std::vector<Array>& analytic,
                       const WeightedSum& weighted_sum, const GradientCheckOptions& options,
                       GradientCheckResult& result) {
  Tally tally(result, options);
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    for (std::size_t i = 0; i < inputs[k].size(); ++i) {
      // The value is looked up per call, not kept as a pointer, in case f reallocated it.
      const auto element = [&] { return inputs[k].mutable_value().data() + i; };
      const float original = *element();
      const float plus = static_cast<float>(original + options.step);
      const float minus = static_cast<float>(original - options.step);
      const auto where = [&](const char* sign) {
        return "input " + std::to_string(k) + " element " + std::to_string(i) + " " + sign + "step";
      };
      *element() = plus;
      const double f_plus = weighted_sum([&] { return where("+"); });
      *element() = minus;
      const double f_minus = weighted_sum([&] { return where("-"); });
      *element() = original;
      // Divide by the step actually taken in float32, not the requested one.
      const double taken = static_cast<double>(plus) - minus;
      const double numeric = (f_plus - f_minus) / taken;
      ++result.elements_checked;
      tally.compare(analytic[k].data()[i], numeric, taken == 0.0, [&] {
        return "input " + std::to_string(k) + " element " + std::to_string(i);
      });
    }
  }
  tally.finish();
}

// Along s / sqrt(n) for random signs s over the n checked elements, with the step
// h * sqrt(n) along it (h = directional_step): every element moves by +-h, so float32
// resolves the difference as in the elementwise check, where a unit step h along the
// direction would move each element by only h / sqrt(n). The analytic side uses the
// displacement actually taken in float32, element by element.
void check_directional(const std::vector<Tensor>& inputs, const std::vector<Array>& analytic,
                       const WeightedSum& weighted_sum, const RestoreInputs& originals,
                       const GradientCheckOptions& options, std::mt19937& generator,
                       GradientCheckResult& result) {
  std::size_t n = 0;
  for (const Tensor& input : inputs) n += input.requires_grad() ? input.size() : 0;
  result.elements_checked = n;
  Tally tally(result, options);
  if (n == 0) {
    tally.finish();
    return;
  }
  // <grad, u> has the gradient's root mean square as its typical size: a direction that
  // happens to be nearly orthogonal to the gradient is not held to a tighter absolute error.
  double squares = 0.0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    for (std::size_t i = 0; i < analytic[k].size(); ++i) squares += static_cast<double>(analytic[k].data()[i]) * analytic[k].data()[i];
  }
  const double typical = std::sqrt(squares / static_cast<double>(n));
  const double h = options.directional_step;
  const double scale = 2.0 * h * std::sqrt(static_cast<double>(n));  // twice the step along the unit direction
  std::vector<std::vector<signed char>> signs(inputs.size());
  for (std::size_t d = 0; d < options.directions; ++d) {
    double along = 0.0;  // <grad, x_plus - x_minus>
    double moved = 0.0;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      if (!inputs[k].requires_grad()) continue;
      const Array& x = originals.saved(k);
      signs[k].resize(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) {
        signs[k][i] = (generator() >> 31) ? 1 : -1;  // the raw bits, the same on every library
        const float plus = static_cast<float>(x.data()[i] + h * signs[k][i]);
        const float minus = static_cast<float>(x.data()[i] - h * signs[k][i]);
        along += static_cast<double>(analytic[k].data()[i]) * (static_cast<double>(plus) - minus);
        moved += std::abs(static_cast<double>(plus) - minus);
      }
    }
    const auto move = [&](double sign) {
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        if (!inputs[k].requires_grad()) continue;
        const Array& x = originals.saved(k);
        float* values = inputs[k].mutable_value().data();
        for (std::size_t i = 0; i < x.size(); ++i) {
          values[i] = static_cast<float>(x.data()[i] + sign * h * signs[k][i]);
        }
      }
    };
    const auto where = [d](const char* sign) { return "direction " + std::to_string(d) + " " + sign + "step"; };
    move(+1.0);
    const double f_plus = weighted_sum([&] { return where("+"); });
    move(-1.0);
    const double f_minus = weighted_sum([&] { return where("-"); });
    originals.restore_values();
    ++result.directions_checked;
    tally.compare(along / scale, (f_plus - f_minus) / scale, moved == 0.0, [&] {
      return "direction " + std::to_string(d) + " (a random unit direction over " + std::to_string(n) +
             " elements)";
    }, typical);
  }
  tally.finish();
}

}  // namespace

GradientCheckResult check_gradients(const CheckedFunction& f, const std::vector<Tensor>& inputs,
                                    const GradientCheckOptions& options) {
  validate(options);
  clear_gradients(inputs);
  const RestoreInputs originals(inputs);

  Tape tape;
  const Tensor output = f(tape, inputs);
  if (!output.defined()) throw std::invalid_argument("check_gradients: f returned an undefined tensor");
  Array weights = Array::from_shape(output.shape());
  std::mt19937 generator(options.seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& w : weights) w = uniform(generator);
  tape.backward(output, weights);

  std::vector<Array> analytic;
  for (const Tensor& input : inputs) analytic.push_back(input.grad().to_dense());
  clear_gradients(inputs);

  const WeightedSum weighted_sum(f, inputs, weights);
  GradientCheckResult result;
  if (options.mode == GradientCheckMode::directional) {
    check_directional(inputs, analytic, weighted_sum, originals, options, generator, result);
  } else {
    check_elementwise(inputs, analytic, weighted_sum, options, result);
  }
  return result;
}

}  // namespace xgrad
