// Specification of the Tape: reverse replay, accumulation, seeds and printing.
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;

TEST_CASE("A tensor used twice receives the sum of both gradients", "[core][tape]") {
  Tape tape;
  const Tensor x = Tensor::parameter(Array{1.0f, 2.0f, 3.0f}, "x");
  const Tensor y = sum(tape, mul(tape, x, x));  // d/dx sum(x*x) = 2x
  tape.backward(y);
  CHECK((x.grad().dense() == Array{2.0f, 4.0f, 6.0f}));
}

TEST_CASE("Backward runs records in reverse order", "[core][tape]") {
  Tape tape;
  const Tensor x = Tensor::parameter(Array{0.5f}, "x");
  const Tensor y = tanh(tape, x);
  const Tensor z = mean(tape, y);
  REQUIRE(tape.size() == 2);
  CHECK(tape[0].op == "tanh");
  CHECK(tape[1].op == "mean");
  tape.backward(z);
  const float t = std::tanh(0.5f);
  CHECK(x.grad().dense()(0) == Approx(1.0f - t * t));
}

TEST_CASE("Parameter gradients accumulate across tapes until cleared", "[core][tape]") {
  const Tensor x = Tensor::parameter(Array{1.0f, 1.0f}, "x");
  for (int step = 0; step < 2; ++step) {
    Tape tape;
    tape.backward(sum(tape, x));
  }
  CHECK((x.grad().dense() == Array{2.0f, 2.0f}));
  x.mutable_grad().clear();
  CHECK(x.grad().empty());
}

TEST_CASE("Backward of a non-scalar output needs a seed of its shape", "[core][tape]") {
  Tape tape;
  const Tensor x = Tensor::parameter(Array{1.0f, 2.0f}, "x");
  const Tensor y = tanh(tape, x);
  CHECK_THROWS_AS(tape.backward(y), ShapeError);
  CHECK_THROWS_AS(tape.backward(y, Array{1.0f}), ShapeError);
  tape.backward(y, Array{1.0f, 0.0f});
  CHECK(x.grad().dense()(1) == 0.0f);
}

TEST_CASE("Ops on tensors that need no gradient record nothing", "[core][tape]") {
  Tape tape;
  const Tensor x(Array{1.0f, 2.0f});
  const Tensor y = tanh(tape, x);
  CHECK(tape.size() == 0);
  CHECK_FALSE(y.requires_grad());
  CHECK_THROWS_AS(tape.backward(sum(tape, y)), std::invalid_argument);
}

TEST_CASE("A printed tape shows op, shapes, gradient norm and rows touched", "[core][tape]") {
  Tape tape;
  const Tensor table = Tensor::parameter(testing::hashed_values({5000, 4}), "table");
  const Tensor rows = embedding_lookup(tape, table, TokenIds{7, 7, 42});
  tape.backward(sum(tape, rows));
  std::ostringstream printed;
  printed << tape;
  CHECK_THAT(printed.str(), Contains("0: embedding_lookup (5000, 4) -> (3, 4)"));
  CHECK_THAT(printed.str(), Contains("table gradient touches 2 of 5000 rows"));
  CHECK_THAT(printed.str(), Contains("1: sum (3, 4) -> ()  |grad| = 1"));
}

TEST_CASE("A tape can be moved but not copied", "[core][tape]") {
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<Tape>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<Tape>);
  Tape tape;
  const Tensor x = Tensor::parameter(Array{1.0f, 2.0f}, "x");
  const Tensor y = sum(tape, x);
  Tape moved = std::move(tape);
  REQUIRE(moved.size() == 1);
  moved.backward(y);
  CHECK((x.grad().dense() == Array{1.0f, 1.0f}));
}

TEST_CASE("An inference tape records nothing, even for inputs that require a gradient",
          "[core][tape]") {
  Tape tape(Tape::Mode::inference);
  const Tensor table = Tensor::parameter(testing::hashed_values({10, 4}), "table");
  const Tensor w = Tensor::parameter(testing::hashed_values({4, 10}, 1), "w");
  const Tensor loss =
      softmax_cross_entropy(tape, matmul(tape, embedding_lookup(tape, table, TokenIds{1, 3}), w),
                            TokenIds{3, 1});
  CHECK(tape.size() == 0);
  CHECK_FALSE(loss.requires_grad());
  CHECK(std::isfinite(loss.value()()));
  CHECK_THROWS_AS(tape.backward(loss), std::invalid_argument);
  CHECK(table.grad().empty());
  CHECK(w.grad().empty());
}

TEST_CASE("An inference tape computes the same values as a training tape", "[core][tape]") {
  const Tensor table = Tensor::parameter(testing::hashed_values({10, 4}), "table");
  const Tensor w = Tensor::parameter(testing::hashed_values({4, 10}, 1), "w");
  auto loss_on = [&](Tape& tape) {
    const Tensor logits = matmul(tape, tanh(tape, embedding_lookup(tape, table, TokenIds{1, 3, 1})), w);
    return softmax_cross_entropy(tape, logits, TokenIds{3, 1, 0}).value()();
  };
  Tape training, inference(Tape::Mode::inference);
  CHECK(loss_on(training) == loss_on(inference));
  CHECK(training.size() == 4);
}

TEST_CASE("Ops on a training tape record only when an input requires a gradient", "[core][tape]") {
  Tape tape;
  const Tensor constant(Array{1.0f, 2.0f});
  const Tensor x = Tensor::parameter(Array{3.0f, 4.0f}, "x");
  CHECK_FALSE(tape.needs_gradient(constant));
  CHECK(tape.needs_gradient(constant, x));
  add(tape, constant, constant);
  CHECK(tape.size() == 0);
  add(tape, constant, x);
  CHECK(tape.size() == 1);
  Tape inference(Tape::Mode::inference);
  CHECK_FALSE(inference.needs_gradient(x));
}
