// Specification of TapeScope and the operators that record on its tape.
#include <thread>

#include <catch2/catch.hpp>

#include "core/operators.hpp"
#include "testing/catch_matchers.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using xgrad::testing::MessageContains;

TEST_CASE("Operators inside a TapeScope record on its tape", "[core][tape_scope]") {
  const Tensor w = Tensor::parameter(Array{2.0f, 3.0f}, "w");
  const Tensor x(Array{5.0f, 7.0f});
  Tape tape;
  Tensor loss;
  {
    TapeScope scope(tape);
    loss = sum(w * x + w);
  }
  REQUIRE(tape.size() == 3);
  CHECK(tape[0].op == "mul");
  tape.backward(loss);
  CHECK((w.grad().dense() == Array{6.0f, 8.0f}));  // x + 1
}

TEST_CASE("Scopes nest and the innermost tape is current", "[core][tape_scope]") {
  const Tensor w = Tensor::parameter(Array{1.0f}, "w");
  Tape outer, inner;
  TapeScope outer_scope(outer);
  CHECK(current_tape() == &outer);
  {
    TapeScope inner_scope(inner);
    CHECK(current_tape() == &inner);
    const Tensor y = w * w;
    CHECK(inner.size() == 1);
  }
  CHECK(current_tape() == &outer);
  const Tensor z = w + w;
  CHECK(outer.size() == 1);
  CHECK(inner.size() == 1);
}

TEST_CASE("An operator on a tensor that requires a gradient outside every scope is an error",
          "[core][tape_scope]") {
  REQUIRE(current_tape() == nullptr);
  const Tensor w = Tensor::parameter(Array{1.0f}, "w");
  CHECK_THROWS_MATCHES(w * w, std::logic_error,
                       MessageContains("mul: 'w' requires a gradient but no tape is in scope"));
}

TEST_CASE("Operators on constants outside every scope compute plain values", "[core][tape_scope]") {
  REQUIRE(current_tape() == nullptr);
  const Tensor a(Array{1.0f, 2.0f}), b(Array{3.0f, 4.0f});
  const Tensor c = a * b + a;
  CHECK((c.value() == Array{4.0f, 10.0f}));
  CHECK_FALSE(c.requires_grad());
}

TEST_CASE("A scope is current only on the thread that opened it", "[core][tape_scope]") {
  Tape tape;
  TapeScope scope(tape);
  Tape* seen = &tape;
  std::thread other([&] { seen = current_tape(); });
  other.join();
  CHECK(seen == nullptr);
  CHECK(current_tape() == &tape);
}
