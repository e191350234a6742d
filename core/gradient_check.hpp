// A finite-difference gradient checker users can call from their own tests: it compares
// the tape's gradients of a function against central differences. Not a benchmark and
// not fast: it evaluates the function twice per input element.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tape.hpp"
#include "core/tensor.hpp"

namespace xgrad {

struct GradientCheckOptions {
  double step = 1e-2;            // h in (f(x + h) - f(x - h)) / 2h
  double absolute_tolerance = 1e-3;
  double relative_tolerance = 1e-2;
  unsigned seed = 1;             // for the random output weights (see check_gradients)
};

struct GradientCheckResult {
  bool ok = true;
  std::size_t elements_checked = 0;
  double max_abs_error = 0.0;
  // The worst element, e.g. "input 0 element 5: analytic 0.25, numeric 0.2500012";
  // empty when nothing was checked.
  std::string worst;
};

// Builds the computation on the given tape from the inputs and returns its output.
using CheckedFunction = std::function<Tensor(Tape& tape, const std::vector<Tensor>& inputs)>;

// Checks d/dx of L(x) = sum_i w_i * f(x)_i for fixed pseudo-random weights w in [-1, 1],
// for every element of every input that requires a gradient. The weighted sum and the
// differences are formed in double; f itself computes in float32, so the default step and
// tolerances suit values of order 1. An element passes when
// |analytic - numeric| <= absolute_tolerance + relative_tolerance * |numeric|.
// The inputs' values are restored bit for bit; their gradients are cleared before and after.
GradientCheckResult check_gradients(const CheckedFunction& f, const std::vector<Tensor>& inputs,
                                    const GradientCheckOptions& options = {});

}  // namespace xgrad
