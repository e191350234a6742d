// The gradient checker must catch a wrong gradient, or every op test above proves nothing.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/op.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;

namespace {

// y = 3x on the forward pass, but a backward that claims dy/dx = 2.
Tensor wrong_triple(Tape& tape, const Tensor& x) {
  Array y = x.value() * 3.0f;
  return tape.record("wrong_triple", {x}, std::move(y), [x](const Array&, const Array& dy) {
    accumulate_grad(x, dy * 2.0f);
  });
}

}  // namespace

TEST_CASE("check_gradients reports a backward that is wrong", "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(Array{0.5f, -1.0f}, "x");
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return wrong_triple(tape, in[0]); }, {x});
  CHECK_FALSE(result.ok);
  CHECK(result.elements_checked == 2);
  CHECK(result.max_abs_error > 0.1);
}

TEST_CASE("check_gradients restores the inputs bit for bit and clears their gradients",
          "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(testing::hashed_values({3, 2}), "x");
  const Array before = x.value();
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return tanh(tape, in[0]); }, {x});
  CHECK(result.ok);
  CHECK(testing::bit_equal(x.value(), before));
  CHECK(x.grad().empty());
}

namespace {

using Catch::Matchers::Contains;

// y = x on the forward pass; the backward multiplies dy by `factor` (NaN for a NaN gradient).
Tensor scaled_identity(Tape& tape, const Tensor& x, float factor) {
  Array y = x.value();
  return tape.record("scaled_identity", {x}, std::move(y), [x, factor](const Array&, const Array& dy) {
    accumulate_grad(x, dy * factor);
  });
}

// y = x^3 with the usual backward 3 x^2 dy, or a deliberately wrong 2 x^2 dy.
Tensor cube(Tape& tape, const Tensor& x, float derivative_factor) {
  Array y = x.value() * x.value() * x.value();
  return tape.record("cube", {x}, std::move(y), [x, derivative_factor](const Array&, const Array& dy) {
    accumulate_grad(x, derivative_factor * x.value() * x.value() * dy);
  });
}

GradientCheckOptions directional(std::size_t directions = 3) {
  GradientCheckOptions options;
  options.mode = GradientCheckMode::directional;
  options.directions = directions;
  return options;
}

const CheckedFunction tanh_of_first = [](Tape& tape, const std::vector<Tensor>& in) {
  return tanh(tape, in[0]);
};

}  // namespace

TEST_CASE("check_gradients restores every input bit for bit when the function throws midway",
          "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(testing::hashed_values({4}, 1), "x");
  const Tensor w = Tensor::parameter(testing::hashed_values({4}, 2), "w");
  const Array x_before = x.value();
  const Array w_before = w.value();
  int calls = 0;
  const CheckedFunction f = [&calls](Tape& tape, const std::vector<Tensor>& in) {
    // Call 1 is the taped one; 2 and 3 perturb x[0] up and down; call 7 has x[2] raised.
    if (++calls == 7) throw std::runtime_error("interrupted");
    return mul(tape, in[0], in[1]);
  };
  CHECK_THROWS_WITH(check_gradients(f, {x, w}), "interrupted");
  CHECK(calls == 7);
  CHECK(testing::bit_equal(x.value(), x_before));
  CHECK(testing::bit_equal(w.value(), w_before));
  CHECK(x.grad().empty());
  CHECK(w.grad().empty());
}

TEST_CASE("check_gradients refuses an output whose shape changes between calls",
          "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(testing::hashed_values({64}), "x");
  const Array before = x.value();
  int calls = 0;
  // The first call returns all 64 elements, later ones a single element: reading 64
  // weights against it would run past its buffer.
  const CheckedFunction f = [&calls](Tape& tape, const std::vector<Tensor>& in) {
    return ++calls == 1 ? tanh(tape, in[0]) : sum(tape, in[0]);
  };
  CHECK_THROWS_AS(check_gradients(f, {x}), ShapeError);
  calls = 0;
  CHECK_THROWS_WITH(check_gradients(f, {x}), Contains("(64,)") && Contains("()"));
  CHECK(testing::bit_equal(x.value(), before));
}

TEST_CASE("check_gradients fails a NaN gradient instead of reporting ok", "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(Array{0.5f, -1.0f}, "x");
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) {
        return scaled_identity(tape, in[0], std::numeric_limits<float>::quiet_NaN());
      },
      {x});
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.worst, Contains("not finite"));
  CHECK(std::isinf(result.max_abs_error));
  CHECK(std::isinf(result.relative_error));
}

TEST_CASE("check_gradients fails a NaN or infinite value instead of reporting ok", "[core][gradient_check]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const float bad : {nan, inf}) {
    const Tensor x = Tensor::parameter(Array{0.5f, bad}, "x");
    const GradientCheckResult result = check_gradients(
        [](Tape& tape, const std::vector<Tensor>& in) { return scaled_identity(tape, in[0], 1.0f); }, {x});
    CHECK_FALSE(result.ok);
    // The bad element poisons every difference, so the first element already fails.
    CHECK_THAT(result.worst, Contains("not finite"));
  }
}

TEST_CASE("check_gradients fails when the step vanishes in float32 at the input's magnitude",
          "[core][gradient_check]") {
  // float32 spacing at 1e6 is 0.0625: x +- 0.01 rounds back to x, numeric would be 0/0.
  const Tensor x = Tensor::parameter(Array{1.0e6f}, "x");
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return scaled_identity(tape, in[0], 1.0f); }, {x});
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.worst, Contains("step"));
}

TEST_CASE("check_gradients refuses a step that is zero, negative, infinite or NaN, naming it",
          "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(Array{0.5f}, "x");
  for (const double step : {0.0, -1e-2, std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::quiet_NaN()}) {
    GradientCheckOptions options;
    options.step = step;
    CHECK_THROWS_AS(check_gradients(tanh_of_first, {x}, options), std::invalid_argument);
    CHECK_THROWS_WITH(check_gradients(tanh_of_first, {x}, options), Contains("step"));
  }
  GradientCheckOptions zero;
  zero.step = 0.0;
  CHECK_THROWS_WITH(check_gradients(tanh_of_first, {x}, zero), Contains("got 0"));
}

TEST_CASE("check_gradients refuses a tolerance that is negative or NaN, naming it", "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(Array{0.5f}, "x");
  for (const double bad : {-1e-3, std::numeric_limits<double>::quiet_NaN()}) {
    GradientCheckOptions absolute;
    absolute.absolute_tolerance = bad;
    CHECK_THROWS_WITH(check_gradients(tanh_of_first, {x}, absolute), Contains("absolute_tolerance"));
    GradientCheckOptions relative;
    relative.relative_tolerance = bad;
    CHECK_THROWS_WITH(check_gradients(tanh_of_first, {x}, relative), Contains("relative_tolerance"));
  }
  GradientCheckOptions negative;
  negative.relative_tolerance = -0.5;
  CHECK_THROWS_WITH(check_gradients(tanh_of_first, {x}, negative), Contains("-0.5"));
}

TEST_CASE("check_gradients reports the relative error of the whole gradient", "[core][gradient_check]") {
  // Analytic 2 against numeric 3 on both elements: |2 - 3| * sqrt(2) / (3 * sqrt(2)) = 1/3.
  const Tensor x = Tensor::parameter(Array{0.5f, -1.0f}, "x");
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return wrong_triple(tape, in[0]); }, {x});
  CHECK(result.relative_error == Approx(1.0 / 3.0).epsilon(1e-4));
  const GradientCheckResult right = check_gradients(tanh_of_first, {x});
  CHECK(right.ok);
  CHECK(right.relative_error < 1e-4);
}

TEST_CASE("check_gradients in directional mode passes a correct op on a large input",
          "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(testing::hashed_values({512, 512}, 5), "x");
  const Tensor w = Tensor::parameter(testing::hashed_values({512, 512}, 6), "w");
  const Array before = x.value();
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return tanh(tape, mul(tape, in[0], in[1])); },
      {x, w}, directional(4));
  CHECK(result.ok);
  CHECK(result.directions_checked == 4);
  CHECK(result.elements_checked == 2 * 512 * 512);
  CHECK(result.relative_error < 1e-3);
  CHECK(testing::bit_equal(x.value(), before));
  CHECK(x.grad().empty());
}

TEST_CASE("check_gradients in directional mode reports a wrong backward written as a user op",
          "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(testing::hashed_values({256, 256}, 7), "x");
  const GradientCheckResult right = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return cube(tape, in[0], 3.0f); }, {x}, directional());
  CHECK(right.ok);
  const GradientCheckResult wrong = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return cube(tape, in[0], 2.0f); }, {x}, directional());
  CHECK_FALSE(wrong.ok);
  // <2 x^2 w, u> against <3 x^2 w, u>: off by a third of the numeric value.
  CHECK(wrong.relative_error == Approx(1.0 / 3.0).epsilon(1e-2));
  CHECK_THAT(wrong.worst, Contains("direction"));
}

TEST_CASE("check_gradients in directional mode fails a NaN gradient", "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(testing::hashed_values({1000}, 8), "x");
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) {
        return scaled_identity(tape, in[0], std::numeric_limits<float>::quiet_NaN());
      },
      {x}, directional());
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.worst, Contains("not finite"));
}

TEST_CASE("check_gradients refuses zero directions or a bad directional step in directional mode",
          "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(Array{0.5f}, "x");
  CHECK_THROWS_WITH(check_gradients(tanh_of_first, {x}, directional(0)), Contains("directions must be >= 1, got 0"));
  for (const double step : {0.0, -1e-3, std::numeric_limits<double>::quiet_NaN()}) {
    GradientCheckOptions options = directional();
    options.directional_step = step;
    CHECK_THROWS_AS(check_gradients(tanh_of_first, {x}, options), std::invalid_argument);
    CHECK_THROWS_WITH(check_gradients(tanh_of_first, {x}, options), Contains("directional_step must be finite and > 0"));
  }
}

TEST_CASE("check_gradients in directional mode restores the inputs when the function throws",
          "[core][gradient_check]") {
  const Tensor x = Tensor::parameter(testing::hashed_values({300}, 9), "x");
  const Array before = x.value();
  int calls = 0;
  const CheckedFunction f = [&calls](Tape& tape, const std::vector<Tensor>& in) {
    if (++calls == 2) throw std::runtime_error("interrupted");  // x moved along direction 0
    return tanh(tape, in[0]);
  };
  CHECK_THROWS_WITH(check_gradients(f, {x}, directional()), "interrupted");
  CHECK(testing::bit_equal(x.value(), before));
  CHECK(x.grad().empty());
}
