// The gradient checker must catch a wrong gradient, or every op test above proves nothing.
#include <catch2/catch.hpp>

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
