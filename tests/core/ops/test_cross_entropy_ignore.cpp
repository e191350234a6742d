// Specification of softmax_cross_entropy's ignore_index (PyTorch's semantics): ignored
// tokens add nothing, the mean is over the others, their gradient rows are zero.
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "core/detail/parallel.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using testing::bit_equal;
using testing::hashed_values;

namespace {

// Row t's loss and (softmax - onehot) in double.
double row_loss(const std::vector<double>& z, std::size_t target) {
  double m = z[0];
  for (double v : z) m = std::max(m, v);
  double s = 0;
  for (double v : z) s += std::exp(v - m);
  return m + std::log(s) - z[target];
}

std::vector<double> row_grad(const std::vector<double>& z, std::size_t target) {
  double s = 0;
  for (double v : z) s += std::exp(v);
  std::vector<double> g;
  for (std::size_t v = 0; v < z.size(); ++v) g.push_back(std::exp(z[v]) / s - (v == target));
  return g;
}

}  // namespace

TEST_CASE("softmax_cross_entropy with ignore_index averages over the tokens not ignored",
          "[core][ops][cross_entropy]") {
  const Tensor logits = Tensor::parameter(Array{{1, 2, 3}, {0.5f, -1, 2}, {0, 0, 0}}, "z");
  Tape tape;
  const Tensor loss = softmax_cross_entropy(tape, logits, TokenIds{0, -100, 2}, -100);
  const double want = (row_loss({1, 2, 3}, 0) + std::log(3.0)) / 2;  // two tokens count
  CHECK(loss.value()() == Approx(want).epsilon(1e-6));
  tape.backward(loss);
  const Array& g = logits.grad().dense();
  const std::vector<double> g0 = row_grad({1, 2, 3}, 0), g2 = row_grad({0, 0, 0}, 2);
  for (std::size_t v = 0; v < 3; ++v) {
    INFO("v = " << v);
    CHECK(g(0, v) == Approx(g0[v] / 2).epsilon(1e-6));
    CHECK(g(1, v) == 0.0f);
    CHECK(g(2, v) == Approx(g2[v] / 2).epsilon(1e-6));
  }
}

TEST_CASE("softmax_cross_entropy ignores a valid id given as ignore_index",
          "[core][ops][cross_entropy]") {
  const Array z{{1, 2, 3}, {0.5f, -1, 2}, {0, 0, 0}, {3, -2, 1}};
  const Tensor logits = Tensor::parameter(z, "z");
  Tape tape;
  // Id 1 is ignored: tokens 1 and 3 are left, with targets 0 and 2.
  const Tensor loss = softmax_cross_entropy(tape, logits, TokenIds{1, 0, 1, 2}, 1);
  CHECK(loss.value()() ==
        Approx((row_loss({0.5, -1, 2}, 0) + row_loss({3, -2, 1}, 2)) / 2).epsilon(1e-6));
  tape.backward(loss);
  CHECK((xt::view(logits.grad().dense(), 0) == xt::zeros<float>({3})));
  CHECK((xt::view(logits.grad().dense(), 2) == xt::zeros<float>({3})));
  CHECK(logits.grad().dense()(1, 0) == Approx(row_grad({0.5, -1, 2}, 0)[0] / 2).epsilon(1e-6));
}

TEST_CASE("softmax_cross_entropy with every token ignored is NaN with a zero gradient, as in PyTorch",
          "[core][ops][cross_entropy]") {
  const Tensor logits = Tensor::parameter(Array{{1, 2, 3}, {0.5f, -1, 2}}, "z");
  Tape tape;
  const Tensor loss = softmax_cross_entropy(tape, logits, TokenIds{-100, -100}, -100);
  CHECK(std::isnan(loss.value()()));
  tape.backward(loss);
  CHECK((logits.grad().dense() == xt::zeros<float>({2, 3})));
}

TEST_CASE("softmax_cross_entropy without ignore_index gives the same loss as before",
          "[core][ops][cross_entropy]") {
  const Array z = hashed_values({4, 6}, 1);
  Tape tape;
  const float plain = softmax_cross_entropy(tape, Tensor(z), TokenIds{0, 5, 3, 3}).value()();
  const float unmatched =
      softmax_cross_entropy(tape, Tensor(z), TokenIds{0, 5, 3, 3}, -100).value()();
  CHECK(plain == unmatched);  // no target equals -100: nothing is ignored
}

TEST_CASE("softmax_cross_entropy accepts the ignore id outside the vocabulary but no other id",
          "[core][ops][cross_entropy]") {
  const Tensor logits = Tensor::parameter(zeros_array({3, 4}), "z");
  Tape tape;
  CHECK_THROWS_AS(softmax_cross_entropy(tape, logits, TokenIds{0, -100, 4}, -100),
                  TokenIdOutOfRange);
  CHECK_THROWS_WITH(softmax_cross_entropy(tape, logits, TokenIds{0, -100, 4}, -100),
                    "softmax_cross_entropy: token id 4 at position 2 is out of range [0, 4) and "
                    "is not the ignore_index -100");
  CHECK_THROWS_WITH(softmax_cross_entropy(tape, logits, TokenIds{-1, -100, 0}, -100),
                    Contains("token id -1 at position 0 is out of range"));
  // Without ignore_index, -100 is an id like any other.
  CHECK_THROWS_WITH(softmax_cross_entropy(tape, logits, TokenIds{0, -100, 1}),
                    "softmax_cross_entropy: token id -100 at position 1 is out of range [0, 4)");
  // An ignore_index inside [0, V) does not make other ids valid.
  CHECK_THROWS_AS(softmax_cross_entropy(tape, logits, TokenIds{0, -100, 1}, 2), TokenIdOutOfRange);
  CHECK(tape.size() == 0);
  CHECK(softmax_cross_entropy(tape, logits, TokenIds{0, -100, 3}, -100).value()() ==
        Approx(std::log(4.0)));
}

TEST_CASE("softmax_cross_entropy with ignored tokens rejects logits of the wrong shape",
          "[core][ops][cross_entropy]") {
  Tape tape;
  const Tensor logits(zeros_array({2, 3}));
  CHECK_THROWS_WITH(softmax_cross_entropy(tape, logits, TokenIds{0, -100, 1}, -100),
                    "softmax_cross_entropy: logits (2, 3) do not match targets (3,): expected "
                    "logits (3, 3)");
}

TEST_CASE("softmax_cross_entropy with ignored tokens adds to a gradient already there",
          "[core][ops][cross_entropy]") {
  const Array z = hashed_values({5, 7}, 2);
  const TokenIds targets{3, -100, 6, -100, 0};
  const Tensor once = Tensor::parameter(z, "once");
  Tape first;
  first.backward(softmax_cross_entropy(first, once, targets, -100));
  const Tensor twice = Tensor::parameter(z, "twice");
  Tape second;
  second.backward(add(second, softmax_cross_entropy(second, twice, targets, -100),
                      softmax_cross_entropy(second, twice, targets, -100)));
  CHECK(bit_equal(twice.grad().dense(), once.grad().dense() * 2.0f));
}

TEST_CASE("softmax_cross_entropy gradients with ignored tokens match finite differences",
          "[core][ops][cross_entropy]") {
  const TokenIds targets({2, -1, 0, 4, -1, 1}, {2, 3});
  const GradientCheckResult result = check_gradients(
      [&](Tape& tape, const std::vector<Tensor>& in) {
        return softmax_cross_entropy(tape, in[0], targets, -1);
      },
      {Tensor::parameter(hashed_values({2, 3, 5}, 3), "z")});
  INFO(result.worst);
  CHECK(result.elements_checked == 30);
  CHECK(result.ok);
}

TEST_CASE("softmax_cross_entropy with ignored tokens is bit-identical with 1 and 2 threads",
          "[core][ops][cross_entropy][threads]") {
  const std::size_t tokens = 512, vocab = 1024;
  const Array z = hashed_values({tokens, vocab}, 4) * 5.0f;
  std::vector<std::int64_t> ids(tokens);
  for (std::size_t t = 0; t < tokens; ++t) {
    ids[t] = t % 5 == 1 ? -100 : static_cast<std::int64_t>((t * 37) % vocab);
  }
  const TokenIds targets(ids);
  auto run = [&](std::size_t threads) {
    set_num_threads(threads);
    const Tensor logits = Tensor::parameter(z, "z");
    Tape tape;
    const Tensor loss = softmax_cross_entropy(tape, logits, targets, -100);
    tape.backward(loss);
    set_num_threads(1);
    return std::make_pair(loss.value(), logits.grad().dense());
  };
  const auto one = run(1);
  const std::size_t regions_before = parallel_regions_run();
  const auto two = run(2);
  CHECK(parallel_regions_run() - regions_before >= 2);
  CHECK(bit_equal(one.first, two.first));
  CHECK(bit_equal(one.second, two.second));
  CHECK((xt::view(one.second, 1) == xt::zeros<float>({vocab})));  // token 1 is ignored
}
