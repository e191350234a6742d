// Specification of every op: hand-computed forward values, and the tape's gradients
// against central finite differences (core/gradient_check.hpp).
#include <cmath>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using xgrad::testing::hashed_values;

namespace {

Tensor param(const Shape& shape, std::uint32_t salt) {
  return Tensor::parameter(hashed_values(shape, salt), "p" + std::to_string(salt));
}

void require_gradients_match(const CheckedFunction& f, const std::vector<Tensor>& inputs) {
  const GradientCheckResult result = check_gradients(f, inputs);
  INFO(result.worst);
  CHECK(result.elements_checked > 0);
  CHECK(result.ok);
}

}  // namespace

TEST_CASE("embedding_lookup copies the row of each id", "[core][ops][embedding]") {
  Tape tape;
  const Tensor table = Tensor::parameter(Array{{0, 1}, {10, 11}, {20, 21}}, "t");
  const Tensor out = embedding_lookup(tape, table, TokenIds{2, 0, 2});
  CHECK((out.value() == Array{{20, 21}, {0, 1}, {20, 21}}));
}

TEST_CASE("embedding_lookup of 2-D ids gives (B, T, D)", "[core][ops][embedding]") {
  Tape tape;
  const Tensor table = Tensor::parameter(Array{{0, 1}, {10, 11}, {20, 21}}, "t");
  const Tensor out = embedding_lookup(tape, table, TokenIds({1, 2, 0, 1}, {2, 2}));
  CHECK(out.shape() == Shape{2, 2, 2});
  CHECK(out.value()(1, 0, 1) == 1.0f);
}

TEST_CASE("embedding_lookup gradients match finite differences with repeated ids and an unused row",
          "[core][ops][embedding]") {
  const TokenIds ids{3, 1, 3, 3, 0};  // row 2 is never used, row 3 three times
  require_gradients_match(
      [&](Tape& tape, const std::vector<Tensor>& in) {
        return tanh(tape, embedding_lookup(tape, in[0], ids));
      },
      {param({5, 3}, 1)});
}

TEST_CASE("matmul multiplies (..., K) by (K, N)", "[core][ops][matmul]") {
  Tape tape;
  const Tensor x(Array{{1, 2}, {3, 4}});
  const Tensor w(Array{{1, 0, 2}, {0, 1, 3}});
  CHECK((matmul(tape, x, w).value() == Array{{1, 2, 8}, {3, 4, 18}}));
}

TEST_CASE("matmul gradients match finite differences", "[core][ops][matmul]") {
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) { return matmul(tape, in[0], in[1]); },
      {param({2, 3, 4}, 2), param({4, 5}, 3)});
}

TEST_CASE("matmul_transposed multiplies by the rows of w", "[core][ops][matmul]") {
  Tape tape;
  const Tensor x(Array{{1, 2}});
  const Tensor w(Array{{1, 0}, {0, 1}, {1, 1}});
  CHECK((matmul_transposed(tape, x, w).value() == Array{{1, 2, 3}}));
}

TEST_CASE("matmul_transposed gradients match finite differences", "[core][ops][matmul]") {
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) {
        return matmul_transposed(tape, in[0], in[1]);
      },
      {param({3, 4}, 4), param({6, 4}, 5)});
}

TEST_CASE("add_bias adds the bias to every row", "[core][ops][elementwise]") {
  Tape tape;
  const Tensor x(Array{{1, 2}, {3, 4}});
  const Tensor b(Array{10, 20});
  CHECK((add_bias(tape, x, b).value() == Array{{11, 22}, {13, 24}}));
}

TEST_CASE("add_bias gradients match finite differences", "[core][ops][elementwise]") {
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) { return add_bias(tape, in[0], in[1]); },
      {param({2, 3, 4}, 6), param({4}, 7)});
}

TEST_CASE("add and mul gradients match finite differences", "[core][ops][elementwise]") {
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) {
        return mul(tape, add(tape, in[0], in[1]), in[1]);
      },
      {param({3, 2}, 8), param({3, 2}, 9)});
}

TEST_CASE("tanh values and gradients", "[core][ops][elementwise]") {
  Tape tape;
  CHECK(tanh(tape, Tensor(Array{0.0f})).value()(0) == 0.0f);
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) { return tanh(tape, in[0]); },
      {param({4, 3}, 10)});
}

TEST_CASE("sum and mean reduce to a scalar", "[core][ops][reduce]") {
  Tape tape;
  const Tensor x(Array{{1, 2}, {3, 6}});
  CHECK(sum(tape, x).value()() == 12.0f);
  CHECK(mean(tape, x).value()() == 3.0f);
  CHECK(sum(tape, x).shape().empty());
}

TEST_CASE("sum and mean gradients match finite differences", "[core][ops][reduce]") {
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) { return sum(tape, in[0]); },
      {param({3, 4}, 11)});
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) { return mean(tape, in[0]); },
      {param({3, 4}, 12)});
}

TEST_CASE("reshape keeps the elements in order", "[core][ops][reduce]") {
  Tape tape;
  const Tensor x(Array{{1, 2, 3}, {4, 5, 6}});
  CHECK((reshape(tape, x, {3, 2}).value() == Array{{1, 2}, {3, 4}, {5, 6}}));
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) {
        return tanh(tape, reshape(tape, in[0], {6, 2}));
      },
      {param({3, 4}, 13)});
}

TEST_CASE("softmax_cross_entropy of uniform logits is log V", "[core][ops][cross_entropy]") {
  Tape tape;
  const Tensor logits(zeros_array({2, 4}));
  const float loss = softmax_cross_entropy(tape, logits, TokenIds{1, 3}).value()();
  CHECK(loss == Approx(std::log(4.0f)));
}

TEST_CASE("softmax_cross_entropy matches a hand computation", "[core][ops][cross_entropy]") {
  Tape tape;
  const Tensor logits(Array{{1.0f, 2.0f, 3.0f}});
  const double expected = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 1.0;
  CHECK(softmax_cross_entropy(tape, logits, TokenIds{0}).value()() == Approx(expected));
}

TEST_CASE("softmax_cross_entropy is stable for huge logits", "[core][ops][cross_entropy]") {
  Tape tape;
  const Tensor logits(Array{{1000.0f, 0.0f}, {-1000.0f, 0.0f}});
  const float loss = softmax_cross_entropy(tape, logits, TokenIds{0, 0}).value()();
  CHECK(std::isfinite(loss));
  CHECK(loss == Approx(500.0f));  // (0 + 1000) / 2
}

TEST_CASE("softmax_cross_entropy gradients match finite differences", "[core][ops][cross_entropy]") {
  const TokenIds targets({2, 0, 2, 4, 1, 2}, {2, 3});
  require_gradients_match(
      [&](Tape& tape, const std::vector<Tensor>& in) {
        return softmax_cross_entropy(tape, in[0], targets);
      },
      {param({2, 3, 5}, 14)});
}

TEST_CASE("mean_square is the mean of the squares", "[core][ops][reduce]") {
  Tape tape;
  const Tensor x(Array{{1, -2}, {3, 0}});
  CHECK(mean_square(tape, x).value()() == Approx(14.0f / 4.0f));
}

TEST_CASE("mean_square gradients match finite differences", "[core][ops][reduce]") {
  require_gradients_match(
      [](Tape& tape, const std::vector<Tensor>& in) { return mean_square(tape, in[0]); },
      {param({3, 5}, 15)});
}

TEST_CASE("mean_square gives the loss and gradient of mean(mul(x, x))", "[core][ops][reduce]") {
  const Tensor a = Tensor::parameter(hashed_values({4, 8}, 16), "a");
  const Tensor b = Tensor::parameter(hashed_values({4, 8}, 16), "b");
  Tape fused_tape;
  const Tensor fused = mean_square(fused_tape, a);
  fused_tape.backward(fused);
  Tape plain_tape;
  const Tensor plain = mean(plain_tape, mul(plain_tape, b, b));
  plain_tape.backward(plain);
  CHECK(fused.value()() == Approx(plain.value()()).epsilon(1e-6));
  const Array da = a.grad().to_dense();
  const Array db = b.grad().to_dense();
  for (std::size_t i = 0; i < da.size(); ++i) CHECK(da.data()[i] == Approx(db.data()[i]).epsilon(1e-6));
}

TEST_CASE("softmax_cross_entropy writes the logits' gradient only in backward",
          "[core][ops][cross_entropy]") {
  const Tensor logits = param({3, 4}, 31);
  Tape tape;
  const Tensor loss = softmax_cross_entropy(tape, logits, TokenIds{1, 0, 3});
  CHECK(logits.grad().empty());
  tape.backward(loss);
  CHECK(logits.grad().kind() == Gradient::Kind::dense);
}
