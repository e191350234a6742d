// Specification of the LayerNorm layer (the op itself is specified in tests/core).
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/test_support.hpp"

using namespace xgrad;
using layers::LayerNorm;
using layers::LayerNormOptions;
using layers::Scope;

TEST_CASE("LayerNorm starts as torch.nn.LayerNorm: weight ones, bias zeros, eps 1e-5, named parameters",
          "[layers][layer_norm]") {
  const LayerNorm norm(Scope(Key{}, "h0.ln1"), 3);
  CHECK(norm.weight().name() == "h0.ln1.weight");
  CHECK(norm.bias().name() == "h0.ln1.bias");
  CHECK((norm.weight().value() == Array{1, 1, 1}));
  CHECK((norm.bias().value() == Array{0, 0, 0}));
  CHECK(norm.weight().requires_grad());
  CHECK(norm.eps() == 1e-5f);
  CHECK(norm.parameters().size() == 2);
}

TEST_CASE("LayerNorm normalises each row over the last axis, then scales and shifts", "[layers][layer_norm]") {
  const LayerNorm norm(Scope(Key{}, "ln"), 4);
  norm.weight().mutable_value() = Array{1, 2, 1, 1};
  norm.bias().mutable_value() = Array{0, 0, 0, 10};
  Tape tape;
  const Array y = norm(tape, Tensor(Array{{1, 2, 3, 4}, {-2, -2, 2, 2}})).value();
  // Row 0: mean 2.5, biased variance 1.25; row 1: mean 0, variance 4.
  const double r0 = 1.0 / std::sqrt(1.25 + 1e-5), r1 = 1.0 / std::sqrt(4.0 + 1e-5);
  const double expected[2][4] = {{-1.5 * r0, 2 * -0.5 * r0, 0.5 * r0, 1.5 * r0 + 10},
                                 {-2 * r1, 2 * -2 * r1, 2 * r1, 2 * r1 + 10}};
  REQUIRE(shape_of(y) == Shape{2, 4});
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 4; ++j) CHECK(y(i, j) == Approx(expected[i][j]).margin(1e-6));
  }
}

TEST_CASE("LayerNorm gradients for input, weight and bias match finite differences", "[layers][layer_norm]") {
  const LayerNorm norm(Scope(Key{}, "ln"), 5);
  norm.weight().mutable_value() = testing::hashed_values({5}, 1) + 1.0f;
  norm.bias().mutable_value() = testing::hashed_values({5}, 2);
  const Tensor x = Tensor::parameter(testing::hashed_values({2, 3, 5}, 3) * 2.0f, "x");
  const GradientCheckResult result = check_gradients(
      [&](Tape& tape, const std::vector<Tensor>& in) { return norm(tape, in[0]); },
      {x, norm.weight(), norm.bias()});
  INFO(result.worst);
  CHECK(result.ok);
  CHECK(result.elements_checked == 30 + 5 + 5);
}

TEST_CASE("LayerNorm with no features or a non-positive eps is refused", "[layers][layer_norm]") {
  CHECK_THROWS_AS(LayerNorm(Scope(Key{}, "ln"), 0), std::invalid_argument);
  LayerNormOptions options;
  options.eps = 0.0f;
  CHECK_THROWS_AS(LayerNorm(Scope(Key{}, "ln"), 4, options), std::invalid_argument);
  options.eps = std::nanf("");
  CHECK_THROWS_AS(LayerNorm(Scope(Key{}, "ln"), 4, options), std::invalid_argument);
}

TEST_CASE("LayerNorm without bias registers only its weight and shifts by nothing", "[layers][layer_norm]") {
  const Scope scope(Key{}, "ln_f");
  LayerNormOptions options;
  options.use_bias = false;
  const LayerNorm norm(scope, 2, options);
  CHECK(scope.names() == std::vector<std::string>{"ln_f.weight"});
  CHECK_FALSE(norm.has_bias());
  CHECK(norm.parameters().size() == 1);
  Tape tape;
  const Tensor x = Tensor::parameter(Array{{1, 3}}, "x");
  const Tensor y = norm(tape, x);
  // mean 2, variance 1: (x - 2) / sqrt(1 + 1e-5).
  CHECK(y.value()(0, 0) == Approx(-1.0 / std::sqrt(1.0 + 1e-5)).margin(1e-6));
  CHECK(y.value()(0, 1) == Approx(1.0 / std::sqrt(1.0 + 1e-5)).margin(1e-6));
  tape.backward(sum(tape, y));
  CHECK(norm.bias().grad().empty());
  CHECK_FALSE(norm.weight().grad().empty());
}
