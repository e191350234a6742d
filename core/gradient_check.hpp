// A finite-difference gradient checker users can call from their own tests: it compares
// the tape's gradients of a function against central differences. Not a benchmark and
// not fast: the elementwise mode evaluates the function twice per input element, the
// directional mode twice per direction.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/tape.hpp"
#include "core/tensor.hpp"

namespace xgrad {

enum class GradientCheckMode {
  // Every element of every input that requires a gradient, one at a time: finds a single
  // wrong element, costs 2 evaluations per element (O(size^2) for an O(size) function).
  elementwise,
  // JAX's check_grads: <grad, u> for a few random unit directions u over all those
  // elements at once, against the central difference along u. Costs 2 evaluations per
  // direction, so it suits large inputs; it finds a wrong formula, not one wrong element
  // among millions (that changes <grad, u> by about its error / sqrt(size)).
  directional,
};

struct GradientCheckOptions {
  double step = 1e-2;            // h in (f(x + h) - f(x - h)) / 2h; finite and > 0
  double absolute_tolerance = 1e-3;  // finite and >= 0
  double relative_tolerance = 1e-2;  // finite and >= 0
  unsigned seed = 1;             // for the random output weights and directions
  GradientCheckMode mode = GradientCheckMode::elementwise;
  std::size_t directions = 3;    // directional mode: how many random directions; >= 1
  // Directional mode's step instead of `step`: every element moves by +-directional_step
  // at once, so an output summing K inputs moves about sqrt(K) times as far as in the
  // elementwise check; a smaller step keeps it in the range where curvature is negligible
  // (docs/testing.md measures it). Finite and > 0.
  double directional_step = 3e-3;
};

struct GradientCheckResult {
  bool ok = true;
  // Input elements compared (elementwise) or spanned by the directions (directional).
  std::size_t elements_checked = 0;
  std::size_t directions_checked = 0;  // 0 in elementwise mode
  double max_abs_error = 0.0;
  // |analytic - numeric| / max(|analytic|, |numeric|) over all comparisons as vectors
  // (2-norms): the gradient (elementwise) or the directional derivatives (directional).
  // 0 when both are 0; infinity when a comparison was not finite.
  double relative_error = 0.0;
  // The worst comparison, e.g. "input 0 element 5: analytic 0.25, numeric 0.2500012" or
  // "direction 1: analytic ..., numeric ..."; a non-finite value or a step lost to float32
  // rounding says so here. Empty when nothing was checked.
  std::string worst;
};

// Builds the computation on the given tape from the inputs and returns its output. The
// tape lives only for the call: f must not keep a reference to it (outputs may be kept).
using CheckedFunction = std::function<Tensor(Tape& tape, const std::vector<Tensor>& inputs)>;

// Checks d/dx of L(x) = sum_i w_i * f(x)_i for fixed pseudo-random weights w in [-1, 1],
// for every input that requires a gradient (see GradientCheckMode). The weighted sum and
// the differences are formed in double; f itself computes in float32, so the default step
// and tolerances suit values of order 1. A comparison passes when
// |analytic - numeric| <= absolute_tolerance + relative_tolerance * |numeric| (directional
// mode: * max(|numeric|, the gradient's root mean square), the latter being the typical
// size of <grad, u>); one that is not finite (NaN or inf gradient or value) or whose step
// vanished in float32 fails.
// Throws std::invalid_argument naming an invalid option and its value before calling f,
// and ShapeError when f's output shape differs between calls. On every path, exceptions
// from f included (they propagate), the inputs' values are restored bit for bit and their
// gradients are cleared (as they also are before the check).
GradientCheckResult check_gradients(const CheckedFunction& f, const std::vector<Tensor>& inputs,
                                    const GradientCheckOptions& options = {});

}  // namespace xgrad
