// Specification of the Linear layer.
#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using layers::Linear;
using layers::LinearOptions;

namespace {
LinearOptions fixed_options() {
  LinearOptions options;
  options.kernel_init = [](const Key&, const Shape&) { return Array{{1, 2, 3}, {4, 5, 6}}; };
  options.bias_init = [](const Key&, const Shape&) { return Array{10, 20, 30}; };
  return options;
}
}  // namespace

TEST_CASE("Linear computes x @ kernel + bias with kernel (in, out)", "[layers][linear]") {
  const Linear linear(2, 3, Key{}, fixed_options());
  Tape tape;
  CHECK((linear(tape, Tensor(Array{{1, 1}})).value() == Array{{15, 27, 39}}));
  CHECK(linear.kernel().name() == "linear.kernel");
  CHECK(linear.bias().name() == "linear.bias");
}

TEST_CASE("Linear without bias has only a kernel", "[layers][linear]") {
  LinearOptions options = fixed_options();
  options.use_bias = false;
  const Linear linear(2, 3, Key{}, options);
  CHECK_FALSE(linear.bias().defined());
  CHECK(linear.parameters().size() == 1);
  Tape tape;
  CHECK((linear(tape, Tensor(Array{{1, 0}})).value() == Array{{1, 2, 3}}));
}

TEST_CASE("Linear gradients match finite differences", "[layers][linear]") {
  LinearOptions options;
  options.kernel_init = testing::hashed_init();
  options.bias_init = testing::hashed_init();
  const Linear linear(4, 3, Key{0, 7}, options);
  const Tensor x = Tensor::parameter(testing::hashed_values({2, 4}, 3), "x");
  const GradientCheckResult result = check_gradients(
      [&](Tape& tape, const std::vector<Tensor>& in) { return tanh(tape, linear(tape, in[0])); },
      {x, linear.kernel(), linear.bias()});
  INFO(result.worst);
  CHECK(result.ok);
}

TEST_CASE("Linear with a zero dimension is refused", "[layers][linear]") {
  CHECK_THROWS_AS(Linear(0, 3, Key{}), std::invalid_argument);
  CHECK_THROWS_AS(Linear(3, 0, Key{}), std::invalid_argument);
}

TEST_CASE("Linear from a scope draws its kernel from the scope's key and registers kernel and bias",
          "[layers][linear][scope]") {
  const layers::Scope root(random::prng_key(4));
  LinearOptions options;
  options.kernel_init = initializers::normal(1.0f);
  const Linear head(root.child("head"), 3, 2, options);
  CHECK(root.names() == std::vector<std::string>{"head.kernel", "head.bias"});
  CHECK(testing::bit_equal(head.kernel().value(), random::normal(root.child("head").key(), {3, 2})));
  // The standalone form is the same layer at a root of its own with the key it is handed.
  options.name = "head";
  const Linear alone(3, 2, root.child("head").key(), options);
  CHECK(alone.kernel().name() == "head.kernel");
  CHECK(testing::bit_equal(alone.kernel().value(), head.kernel().value()));
}
