// Specification of the tape's rules against misuse: one backward per tape unless kept,
// a loss must come from this tape, and a long chain runs backward without recursion.
#include <catch2/catch.hpp>

#include "testing/catch_matchers.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using xgrad::testing::MessageContains;

namespace {

// loss = sum(w * w + w): dloss/dw = 2 w + 1.
Tensor square_plus_self(Tape& tape, const Tensor& w) {
  return sum(tape, add(tape, mul(tape, w, w), w));
}

}  // namespace

TEST_CASE("A second backward on one tape is an error and leaves the gradients as they were",
          "[core][tape][rules]") {
  const Tensor w = Tensor::parameter(Array{1.5f, -2.0f}, "w");
  Tape tape;
  const Tensor loss = square_plus_self(tape, w);
  tape.backward(loss);
  const Array once = w.grad().dense();
  CHECK((once == Array{4.0f, -3.0f}));
  CHECK(tape.spent());
  CHECK_THROWS_MATCHES(tape.backward(loss), std::logic_error, MessageContains("already run backward"));
  CHECK((w.grad().dense() == once));
}

TEST_CASE("A kept tape runs backward again and adds each parameter's gradient exactly once more",
          "[core][tape][rules]") {
  const Tensor w = Tensor::parameter(Array{1.5f, -2.0f}, "w");
  Tape tape;
  const Tensor loss = square_plus_self(tape, w);
  tape.backward(loss, Tape::BackwardOptions{/*keep_tape=*/true});
  CHECK_FALSE(tape.spent());
  tape.backward(loss);
  CHECK((w.grad().dense() == Array{8.0f, -6.0f}));  // 2 * (2 w + 1)
  CHECK(tape.spent());
  CHECK_THROWS_AS(tape.backward(loss), std::logic_error);
}

TEST_CASE("A second loss on a kept tape gets only its own gradient", "[core][tape][rules]") {
  const Tensor w = Tensor::parameter(Array{0.5f, -0.75f}, "w");
  Tape tape;
  const Tensor h = mul(tape, w, w);
  const Tensor first = sum(tape, h);               // d/dw = 2 w
  const Tensor second = sum(tape, tanh(tape, h));  // d/dw = (1 - tanh(w^2)^2) 2 w
  tape.backward(first, Tape::BackwardOptions{true});
  w.mutable_grad().clear();
  tape.backward(second);
  for (std::size_t i = 0; i < 2; ++i) {
    const double x = w.value()(i);
    const double t = std::tanh(x * x);
    CHECK(w.grad().dense()(i) == Approx((1 - t * t) * 2 * x).epsilon(1e-5));
  }
}

TEST_CASE("Backward of a loss recorded on another tape names the problem", "[core][tape][rules]") {
  const Tensor w = Tensor::parameter(Array{1.0f, 2.0f}, "w");
  Tape first, second;
  const Tensor loss = square_plus_self(first, w);
  square_plus_self(second, w);
  CHECK_THROWS_MATCHES(second.backward(loss), std::invalid_argument,
                       MessageContains("was not recorded on this tape"));
  CHECK(w.grad().empty());
  CHECK_FALSE(second.spent());  // a refused call changes nothing
  first.backward(loss);
  CHECK((w.grad().dense() == Array{3.0f, 5.0f}));
}

TEST_CASE("Backward of a parameter itself is refused with its name", "[core][tape][rules]") {
  const Tensor w = Tensor::parameter(Array{1.0f}, "w");
  Tape tape;
  CHECK_THROWS_MATCHES(tape.backward(w), std::invalid_argument,
                       MessageContains("'w' was not recorded on this tape"));
}

TEST_CASE("Backward of a non-scalar without a seed says to pass one", "[core][tape][rules]") {
  const Tensor w = Tensor::parameter(Array{1.0f, 2.0f}, "w");
  Tape tape;
  const Tensor y = tanh(tape, w);
  CHECK_THROWS_MATCHES(tape.backward(y), ShapeError, MessageContains("pass a seed gradient"));
  CHECK_THROWS_MATCHES(tape.backward(y, Array{1.0f, 2.0f, 3.0f}), ShapeError,
                       MessageContains("the seed has shape (3,), the output (2,)"));
  CHECK_FALSE(tape.spent());
  tape.backward(y, Array{1.0f, 1.0f});
  CHECK(w.grad().dense()(0) == Approx(1.0 - std::pow(std::tanh(1.0), 2)));
}

TEST_CASE("Backward runs only the records up to the loss", "[core][tape][rules]") {
  const Tensor w = Tensor::parameter(Array{2.0f}, "w");
  Tape tape;
  const Tensor loss = sum(tape, w);
  const Tensor later = sum(tape, mul(tape, w, w));  // recorded after the loss: not part of it
  tape.backward(loss);
  CHECK((w.grad().dense() == Array{1.0f}));
  CHECK(later.grad().empty());
}

TEST_CASE("A chain of 100000 records runs backward and is destroyed without deep recursion",
          "[core][tape][rules]") {
  const Tensor w = Tensor::parameter(Array{0.5f}, "w");
  const Tensor one(Array{1.0f});
  {
    Tape tape;
    Tensor x = w;
    for (int i = 0; i < 100000; ++i) x = mul(tape, x, one);  // d x / d w = 1 at every link
    const Tensor loss = sum(tape, x);
    REQUIRE(tape.size() == 100001);
    tape.backward(loss);
  }
  CHECK((w.grad().dense() == Array{1.0f}));
}
