// Specification of the unary elementwise ops: neg, exp, log, sqrt, relu, sigmoid, abs.
// Values and slopes against double-precision formulas written here, finite differences,
// the conventions at 0, NaN and large |x|, threads.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using testing::bit_equal;
using testing::hashed_values;

namespace {

using UnaryOp = Tensor (*)(Tape&, const Tensor&);

struct UnaryCase {
  std::string name;
  UnaryOp op;
  std::function<double(double)> value, slope;
  std::function<Array(const Array&)> domain;  // makes hashed values fit (positive for log)
};

// Values in [-1, 1) moved at least 0.1 away from 0, where relu and abs have their kink.
Array off_zero(const Array& v) { return xt::eval(xt::where(v < 0.0f, v - 0.1f, v + 0.1f)); }
Array positive(const Array& v) { return xt::eval(v * 0.5f + 1.0f); }  // in [0.5, 1.5)
Array wide(const Array& v) { return xt::eval(off_zero(v) * 6.0f); }   // sigmoid's tails too

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", static_cast<UnaryOp>(neg), [](double x) { return -x; }, [](double) { return -1.0; }, off_zero},
      {"exp", static_cast<UnaryOp>(exp), [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); }, wide},
      {"log", static_cast<UnaryOp>(log), [](double x) { return std::log(x); },
       [](double x) { return 1.0 / x; }, positive},
      {"sqrt", static_cast<UnaryOp>(sqrt), [](double x) { return std::sqrt(x); },
       [](double x) { return 0.5 / std::sqrt(x); }, positive},
      {"relu", static_cast<UnaryOp>(relu), [](double x) { return x > 0 ? x : 0.0; },
       [](double x) { return x > 0 ? 1.0 : 0.0; }, off_zero},
      {"sigmoid", static_cast<UnaryOp>(sigmoid), [](double x) { return 1.0 / (1.0 + std::exp(-x)); },
       [](double x) {
         const double s = 1.0 / (1.0 + std::exp(-x));
         return s * (1.0 - s);
       },
       wide},
      {"abs", static_cast<UnaryOp>(abs), [](double x) { return std::fabs(x); },
       [](double x) { return x > 0 ? 1.0 : -1.0; }, off_zero},
  };
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// The op's output and the gradient of sum(seed * y) for the values given.
std::pair<Array, Array> run(UnaryOp op, const Array& x, const Array& seed) {
  const Tensor t = Tensor::parameter(x, "x");
  Tape tape;
  const Tensor y = op(tape, t);
  tape.backward(y, seed);
  return {y.value(), t.grad().dense()};
}

}  // namespace

TEST_CASE("neg, exp, log and sqrt give their hand-computed values", "[core][ops][unary]") {
  Tape tape;
  CHECK((neg(tape, Tensor(Array{1, -2, 0})).value() == Array{-1, 2, -0.0f}));
  const Array e = exp(tape, Tensor(Array{0, 1, -1, 100, -200})).value();
  CHECK(e(0) == 1.0f);
  CHECK(e(1) == Approx(2.718281828).epsilon(1e-6));
  CHECK(e(2) == Approx(0.367879441).epsilon(1e-6));
  CHECK(e(3) == kInf);
  CHECK(e(4) == 0.0f);
  const Array l = log(tape, Tensor(Array{1, 2.718281828f, 0, -1})).value();
  CHECK(l(0) == 0.0f);
  CHECK(l(1) == Approx(1.0).epsilon(1e-6));
  CHECK(l(2) == -kInf);
  CHECK(std::isnan(l(3)));  // as NumPy
  const Array r = sqrt(tape, Tensor(Array{4, 0, 2.25f, -1})).value();
  CHECK(r(0) == 2.0f);
  CHECK(r(1) == 0.0f);
  CHECK(r(2) == 1.5f);
  CHECK(std::isnan(r(3)));
}

TEST_CASE("relu, sigmoid and abs give their hand-computed values", "[core][ops][unary]") {
  Tape tape;
  const Array r = relu(tape, Tensor(Array{-1, 0, 2, kNaN})).value();
  CHECK(r(0) == 0.0f);
  CHECK(r(1) == 0.0f);
  CHECK(r(2) == 2.0f);
  CHECK(std::isnan(r(3)));
  const Array s = sigmoid(tape, Tensor(Array{0, 2, -2, 100, -100})).value();
  CHECK(s(0) == 0.5f);
  CHECK(s(1) == Approx(0.880797078).epsilon(1e-6));
  CHECK(s(2) == Approx(0.119202922).epsilon(1e-6));
  CHECK(s(3) == 1.0f);
  CHECK(s(4) == 0.0f);  // e^-100 underflows in xsimd's exp (a denormal in libm's); not 0 / 0
  CHECK((abs(tape, Tensor(Array{-3, 0, 2.5f})).value() == Array{3, 0, 2.5f}));
}

TEST_CASE("every unary op matches its formula computed in double, values and slopes",
          "[core][ops][unary]") {
  for (const UnaryCase& c : unary_cases()) {
    INFO(c.name);
    // 3 * 7 = 21 elements: full vectors and a partial one.
    const Array x = c.domain(hashed_values({3, 7}, 1));
    const Array seed = hashed_values({3, 7}, 2);
    const auto [y, dx] = run(c.op, x, seed);
    for (std::size_t i = 0; i < x.size(); ++i) {
      INFO("x = " << x.data()[i]);
      CHECK(y.data()[i] == Approx(c.value(x.data()[i])).epsilon(1e-6).margin(1e-30));
      // The margin: sigmoid's slope (1 - y) y from y rounded to float loses ~6e-8 to (1 - y).
      CHECK(dx.data()[i] == Approx(seed.data()[i] * c.slope(x.data()[i])).epsilon(1e-5).margin(1e-7));
    }
  }
}

TEST_CASE("every unary op's gradients match finite differences", "[core][ops][unary]") {
  for (const UnaryCase& c : unary_cases()) {
    INFO(c.name);
    const Array x = c.name == "exp" || c.name == "sigmoid" ? off_zero(hashed_values({2, 5}, 3))
                                                           : c.domain(hashed_values({2, 5}, 3));
    const GradientCheckResult result = check_gradients(
        [&c](Tape& tape, const std::vector<Tensor>& in) { return c.op(tape, in[0]); },
        {Tensor::parameter(x, "x")});
    INFO(result.worst);
    CHECK(result.elements_checked == 10);
    CHECK(result.ok);
  }
}

TEST_CASE("relu and abs have slope 0 at 0, as PyTorch", "[core][ops][unary]") {
  CHECK((run(relu, Array{0, -0.0f, 1, -1}, Array{3, 3, 3, 3}).second == Array{0, 0, 3, 0}));
  CHECK((run(abs, Array{0, -0.0f, 1, -1}, Array{3, 3, 3, 3}).second == Array{0, 0, 3, -3}));
}

TEST_CASE("sigmoid's gradient stays finite far into both tails", "[core][ops][unary]") {
  const auto [y, dx] = run(sigmoid, Array{-100, -30, 30, 100}, Array{1, 1, 1, 1});
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("element " << i);
    CHECK(std::isfinite(dx(i)));
    CHECK(dx(i) >= 0.0f);
    CHECK(dx(i) < 1e-12f);
  }
  CHECK(dx(1) == Approx(std::exp(-30.0)).epsilon(1e-5));  // sigmoid'(-30) ~ e^-30
}

TEST_CASE("log and sqrt backward at and below 0 give inf and NaN as PyTorch", "[core][ops][unary]") {
  const Array dl = run(log, Array{0, -1}, Array{1, 1}).second;
  CHECK(dl(0) == kInf);         // 1 / 0
  CHECK(dl(1) == -1.0f);        // 1 / -1 (the value is NaN, the formula still applies)
  const Array ds = run(sqrt, Array{0, -1}, Array{1, 1}).second;
  CHECK(ds(0) == kInf);         // 1 / (2 * 0)
  CHECK(std::isnan(ds(1)));     // 1 / (2 * NaN)
}

TEST_CASE("unary ops add to gradients already there", "[core][ops][unary]") {
  for (const UnaryCase& c : unary_cases()) {
    INFO(c.name);
    const Tensor x = Tensor::parameter(c.domain(hashed_values({11}, 4)), "x");
    const Array seed = hashed_values({11}, 5);
    Tape once;
    once.backward(c.op(once, x), seed);
    const Array first = x.grad().dense();
    Tape again;
    again.backward(c.op(again, x), seed);
    CHECK(bit_equal(x.grad().dense(), xt::eval(first + first)));
  }
}

TEST_CASE("unary ops of a scalar and of an empty array keep the shape", "[core][ops][unary]") {
  for (const UnaryCase& c : unary_cases()) {
    INFO(c.name);
    Tape tape;
    Array scalar = Array::from_shape(Array::shape_type{});
    *scalar.data() = 0.5f;
    CHECK(c.op(tape, Tensor(scalar)).shape() == Shape{});
    CHECK(c.op(tape, Tensor(zeros_array({0, 3}))).shape() == Shape{0, 3});
  }
}

TEST_CASE("unary ops on an inference tape record nothing", "[core][ops][unary]") {
  const Tensor x = Tensor::parameter(positive(hashed_values({3, 4}, 6)), "x");
  Tape tape(Tape::Mode::inference);
  for (const UnaryCase& c : unary_cases()) {
    INFO(c.name);
    CHECK_FALSE(c.op(tape, x).requires_grad());
  }
  CHECK(tape.size() == 0);
}

TEST_CASE("unary ops are bit-identical with 1 and 2 threads", "[core][ops][unary][threads]") {
  for (const UnaryCase& c : unary_cases()) {
    INFO(c.name);
    // 32 * 64 * 128 + 3 elements: above parallel::kMinWork, with a partial last batch.
    const Array xv = c.domain(hashed_values({32 * 64 * 128 + 3}, 7));
    const Array seed = hashed_values({32 * 64 * 128 + 3}, 8);
    const auto runs = testing::run_at_1_and_2_threads([&] {
      const Tensor x = Tensor::parameter(xv, "x");
      Tape tape;
      const Tensor y = c.op(tape, x);
      tape.backward(y, seed);
      return std::vector<Array>{y.value(), x.grad().dense()};
    });
    CHECK(runs.regions_at_two >= 2);
    CHECK(runs.differing_outputs().empty());
  }
}
