// Specification of the op API (core/op.hpp) as a user meets it: an op defined here, outside
// the library, with Tape::record and accumulate_grad, behaves as the library's own ops do.
#include <catch2/catch.hpp>

#include "core/op.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Message;
using xgrad::testing::hashed_values;

namespace {

// The dot product of each row: a (M, N), b (M, N) -> (M,), y[i] = sum_j a[i, j] * b[i, j].
// da[i, j] += dy[i] * b[i, j], db[i, j] += dy[i] * a[i, j].
Tensor row_dot(Tape& tape, const Tensor& a, const Tensor& b) {
  require_same_shape("row_dot", a, b);
  require_shape(a.shape().size() == 2, "row_dot", "inputs must be (M, N)", a.shape());
  Array y = uninitialized_array({a.shape()[0]});
  xt::noalias(y) = xt::sum(a.value() * b.value(), {1});
  return tape.record("row_dot", {a, b}, std::move(y), [a, b](const Array&, const Array& dy) {
    const auto dy_column = xt::view(dy, xt::all(), xt::newaxis());  // (M, 1), broadcast over N
    accumulate_grad(a, dy_column * b.value());
    accumulate_grad(b, dy_column * a.value());
  });
}

// row_dot with the classic broadcast bug: the backward hands a dy of the output's shape
// (M,) to inputs of shape (M, N), forgetting to broadcast it over the row.
Tensor row_dot_unbroadcast(Tape& tape, const Tensor& a, const Tensor& b) {
  Array y = xt::sum(a.value() * b.value(), {1});
  return tape.record("row_dot_unbroadcast", {a, b}, std::move(y),
                     [a](const Array&, const Array& dy) { accumulate_grad(a, dy); });
}

Tensor param(const Shape& shape, std::uint32_t salt) {
  return Tensor::parameter(hashed_values(shape, salt), "p" + std::to_string(salt));
}

}  // namespace

TEST_CASE("An op defined outside the library computes its values", "[core][user_op]") {
  Tape tape;
  const Tensor a(Array{{1, 2, 3}, {4, 5, 6}});
  const Tensor b(Array{{1, 0, -1}, {2, 2, 2}});
  CHECK((row_dot(tape, a, b).value() == Array{-2, 30}));
}

TEST_CASE("An op defined outside the library checks its input shapes", "[core][user_op]") {
  Tape tape;
  const Tensor a(zeros_array({2, 3}));
  CHECK_THROWS_WITH(row_dot(tape, a, Tensor(zeros_array({3, 2}))),
                    "row_dot: shapes differ: (2, 3) vs (3, 2)");
  CHECK_THROWS_WITH(row_dot(tape, Tensor(zeros_array({6})), Tensor(zeros_array({6}))),
                    "row_dot: inputs must be (M, N) (got (6,))");
}

TEST_CASE("A user-defined op's gradients match finite differences", "[core][user_op]") {
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return row_dot(tape, in[0], in[1]); },
      {param({3, 4}, 1), param({3, 4}, 2)});
  INFO(result.worst);
  CHECK(result.elements_checked == 24);
  CHECK(result.ok);
}

TEST_CASE("A tensor used as both inputs of a user-defined op receives both shares",
          "[core][user_op]") {
  Tape tape;
  const Tensor x = Tensor::parameter(Array{{1, -2}, {3, 0.5}}, "x");
  tape.backward(sum(tape, row_dot(tape, x, x)));  // d/dx sum_j x[i, j]^2 = 2 x
  CHECK((x.grad().dense() == Array{{2, -4}, {6, 1}}));
}

TEST_CASE("A user-defined op adds to a gradient that already holds a contribution",
          "[core][user_op]") {
  const Tensor a = Tensor::parameter(Array{{1, 2}}, "a");
  const Tensor b(Array{{3, 4}});
  for (int step = 0; step < 2; ++step) {
    Tape tape;
    tape.backward(sum(tape, row_dot(tape, a, b)));
  }
  CHECK((a.grad().dense() == Array{{6, 8}}));  // b, twice
}

TEST_CASE("A user-defined op sends no gradient to an input that requires none",
          "[core][user_op]") {
  Tape tape;
  const Tensor a = Tensor::parameter(Array{{1, 2}}, "a");
  const Tensor b(Array{{3, 4}});
  tape.backward(sum(tape, row_dot(tape, a, b)));
  CHECK((a.grad().dense() == Array{{3, 4}}));
  CHECK(b.grad().empty());
}

TEST_CASE("A user-defined op on an inference tape records nothing and allocates no gradient",
          "[core][user_op]") {
  Tape tape(Tape::Mode::inference);
  const Tensor a = param({2, 3}, 3);
  const Tensor b = param({2, 3}, 4);
  const Tensor y = row_dot(tape, a, b);
  CHECK(tape.size() == 0);
  CHECK_FALSE(y.requires_grad());
  CHECK_THROWS_AS(tape.backward(sum(tape, y)), std::invalid_argument);
  CHECK(a.grad().empty());
  CHECK(b.grad().empty());
}

TEST_CASE("A backward that contributes the wrong shape throws a ShapeError naming the op",
          "[core][user_op]") {
  Tape tape;
  const Tensor a = Tensor::parameter(zeros_array({2, 3}), "a");
  const Tensor y = row_dot_unbroadcast(tape, a, Tensor(zeros_array({2, 3})));
  CHECK_THROWS_MATCHES(tape.backward(sum(tape, y)), ShapeError,
                       Message("row_dot_unbroadcast backward: the gradient contribution for 'a'"
                               " has shape (2,), its value (2, 3)"));
  CHECK(a.grad().empty());
}
