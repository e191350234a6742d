// Specification of gelu (the tanh approximation): values and slopes against the formula in
// double, finite differences, threads.
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "core/detail/parallel.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using testing::bit_equal;
using testing::hashed_values;

namespace {

const double kS = std::sqrt(2.0 / std::acos(-1.0));

double gelu_ref(double x) { return 0.5 * x * (1 + std::tanh(kS * (x + 0.044715 * x * x * x))); }

// The slope from the derivative of tanh written as 1 / cosh^2 (llm.c's form).
double gelu_slope_ref(double x) {
  const double u = kS * (x + 0.044715 * x * x * x);
  const double sech2 = 1.0 / (std::cosh(u) * std::cosh(u));
  return 0.5 * (1 + std::tanh(u)) + 0.5 * x * sech2 * kS * (1 + 3 * 0.044715 * x * x);
}

}  // namespace

TEST_CASE("gelu matches the tanh approximation computed in double", "[core][ops][gelu]") {
  // 11 values: a full vector and a partial one; 0, tails and large values included.
  const std::vector<float> xs{0.0f,  1.0f,   -1.0f, 0.5f,  -0.5f,  3.0f,
                              -3.0f, 10.0f, -10.0f, 2.25f, -0.125f};
  Array xv = Array::from_shape({xs.size()});
  std::copy(xs.begin(), xs.end(), xv.begin());
  Tape tape;
  const Array y = gelu(tape, Tensor(xv)).value();
  for (std::size_t i = 0; i < xs.size(); ++i) {
    INFO("x = " << xs[i]);
    CHECK(y(i) == Approx(gelu_ref(xs[i])).epsilon(1e-6).margin(1e-7));
  }
  CHECK(y(0) == 0.0f);
  CHECK(y(7) == 10.0f);
  // PyTorch 1.13's gelu(approximate='tanh') of 1 gives 0.8411920070648193.
  CHECK(y(1) == Approx(0.841192).epsilon(1e-6));
}

TEST_CASE("gelu backward is dout times the slope computed in double", "[core][ops][gelu]") {
  const Array xv = hashed_values({3, 7}, 1) * 4.0f;
  const Array seed = hashed_values({3, 7}, 2);
  const Tensor x = Tensor::parameter(xv, "x");
  Tape tape;
  tape.backward(gelu(tape, x), seed);
  for (std::size_t i = 0; i < xv.size(); ++i) {
    INFO("x = " << xv.data()[i]);
    CHECK(x.grad().dense().data()[i] ==
          Approx(seed.data()[i] * gelu_slope_ref(xv.data()[i])).epsilon(1e-5).margin(1e-6));
  }
}

TEST_CASE("gelu gradients match finite differences", "[core][ops][gelu]") {
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return gelu(tape, in[0]); },
      {Tensor::parameter(hashed_values({4, 5}, 3) * 3.0f, "x")});
  INFO(result.worst);
  CHECK(result.elements_checked == 20);
  CHECK(result.ok);
}

TEST_CASE("gelu backward adds to a gradient already there", "[core][ops][gelu]") {
  const Tensor x = Tensor::parameter(hashed_values({13}, 4), "x");
  Tape tape;
  tape.backward(sum(tape, add(tape, gelu(tape, x), gelu(tape, x))));
  Tape single;
  const Tensor y = Tensor::parameter(x.value(), "y");
  single.backward(sum(single, gelu(single, y)));
  CHECK(bit_equal(x.grad().dense(), y.grad().dense() * 2.0f));
}

TEST_CASE("gelu of a scalar and of an empty array keeps the shape", "[core][ops][gelu]") {
  Tape tape;
  const Tensor s = Tensor::parameter(Array(1.0f), "s");
  const Tensor ys = gelu(tape, s);
  CHECK(ys.shape() == Shape{});
  tape.backward(ys);
  CHECK(s.grad().dense()() == Approx(gelu_slope_ref(1.0)).epsilon(1e-6));
  CHECK(gelu(tape, Tensor(zeros_array({0, 3}))).shape() == Shape{0, 3});
}

TEST_CASE("gelu is bit-identical with 1 and 2 threads", "[core][ops][gelu][threads]") {
  const Array xv = hashed_values({65536 + 5}, 5) * 4.0f;  // a partial last vector too
  const Array seed = hashed_values({65536 + 5}, 6);
  auto run = [&](std::size_t threads) {
    set_num_threads(threads);
    const Tensor x = Tensor::parameter(xv, "x");
    Tape tape;
    const Tensor y = gelu(tape, x);
    tape.backward(y, seed);
    set_num_threads(1);
    return std::make_pair(y.value(), x.grad().dense());
  };
  const auto one = run(1);
  const std::size_t regions_before = parallel_regions_run();
  const auto two = run(2);
  CHECK(parallel_regions_run() - regions_before >= 2);
  CHECK(bit_equal(one.first, two.first));
  CHECK(bit_equal(one.second, two.second));
}
