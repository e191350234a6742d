// Specification of the binary elementwise ops with NumPy's broadcasting: add, sub, mul, div,
// pow, maximum, minimum. Values and gradients against double-precision loops written here
// (their own broadcast indexing), finite differences, the tie and pow conventions, threads.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using testing::bit_equal;
using testing::hashed_values;

namespace {

using TensorOp = Tensor (*)(Tape&, const Tensor&, const Tensor&);

// One op as the tests see it: the float32 op, and in double its value and the derivatives
// of y with respect to a and b at one element.
struct OpCase {
  std::string name;
  TensorOp op;
  std::function<double(double, double)> value;
  std::function<double(double, double)> da, db;
  // Makes the inputs' values fit the op (positive bases for pow, divisors away from 0).
  std::function<Array(const Array&)> shape_a, shape_b;
};

Array as_is(const Array& v) { return v; }
Array away_from_zero(const Array& v) { return xt::eval(xt::where(v < 0.0f, v - 0.5f, v + 0.5f)); }
Array positive(const Array& v) { return xt::eval(v * 0.5f + 1.0f); }  // in [0.5, 1.5)

double tie_half(bool tie, bool wins) { return tie ? 0.5 : wins ? 1.0 : 0.0; }

std::vector<OpCase> op_cases() {
  return {
      {"add", static_cast<TensorOp>(add), [](double a, double b) { return a + b; },
       [](double, double) { return 1.0; }, [](double, double) { return 1.0; }, as_is, as_is},
      {"sub", static_cast<TensorOp>(sub), [](double a, double b) { return a - b; },
       [](double, double) { return 1.0; }, [](double, double) { return -1.0; }, as_is, as_is},
      {"mul", static_cast<TensorOp>(mul), [](double a, double b) { return a * b; },
       [](double, double b) { return b; }, [](double a, double) { return a; }, as_is, as_is},
      {"div", static_cast<TensorOp>(div), [](double a, double b) { return a / b; },
       [](double, double b) { return 1.0 / b; }, [](double a, double b) { return -a / (b * b); },
       as_is, away_from_zero},
      {"pow", static_cast<TensorOp>(pow), [](double a, double b) { return std::pow(a, b); },
       [](double a, double b) { return b * std::pow(a, b - 1); },
       [](double a, double b) { return std::log(a) * std::pow(a, b); }, positive, as_is},
      {"maximum", static_cast<TensorOp>(maximum), [](double a, double b) { return a > b ? a : b; },
       [](double a, double b) { return tie_half(a == b, a > b); },
       [](double a, double b) { return tie_half(a == b, b > a); }, as_is, as_is},
      {"minimum", static_cast<TensorOp>(minimum), [](double a, double b) { return a < b ? a : b; },
       [](double a, double b) { return tie_half(a == b, a < b); },
       [](double a, double b) { return tie_half(a == b, b < a); }, as_is, as_is},
  };
}

// Where output element `flat` (of shape `out`) reads an operand of shape `from`: NumPy's
// rule written out, the operand's axes aligned at the right, extent 1 read at index 0.
std::size_t source_index(const Shape& from, const Shape& out, std::size_t flat) {
  std::size_t index = 0, stride = 1;
  for (std::size_t k = 0; k < out.size(); ++k) {  // k counts axes from the last one
    const std::size_t coordinate = flat % out[out.size() - 1 - k];
    flat /= out[out.size() - 1 - k];
    if (k >= from.size()) continue;
    const std::size_t extent = from[from.size() - 1 - k];
    if (extent != 1) index += coordinate * stride;
    stride *= extent;
  }
  return index;
}

Shape expected_shape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (std::size_t k = 0; k < out.size(); ++k) {
    const std::size_t ea = k < a.size() ? a[a.size() - 1 - k] : 1;
    const std::size_t eb = k < b.size() ? b[b.size() - 1 - k] : 1;
    out[out.size() - 1 - k] = std::max(ea, eb);
  }
  return out;
}

Array from_values(const Shape& shape, const std::vector<float>& values) {
  Array a = Array::from_shape(shape);
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

const std::vector<Shape> kMatrixShapes{{}, {4}, {3, 4}, {1, 4}};

// The (32, 64, 128) operand against each fast path's other operand, and one general case.
const std::vector<std::pair<Shape, Shape>> kLargeCases{
    {{32, 64, 128}, {32, 64, 128}},  // equal shapes
    {{32, 64, 128}, {128}},          // along the last axis
    {{32, 64, 128}, {32, 64, 1}},    // one value per row
    {{32, 64, 128}, {64, 128}},      // position embeddings
    {{128}, {32, 64, 128}},          // the broadcast operand first
    {{32, 1, 128}, {64, 1}},         // neither: the general loop and unbroadcast
};

}  // namespace

TEST_CASE("add broadcasts a row over a matrix", "[core][ops][binary]") {
  Tape tape;
  const Tensor a(Array{{1, 2, 3}, {4, 5, 6}});
  CHECK((add(tape, a, Tensor(Array{10, 20, 30})).value() == Array{{11, 22, 33}, {14, 25, 36}}));
  CHECK((add(tape, Tensor(from_values({2, 1}, {10, 20})), a).value() == Array{{11, 12, 13}, {24, 25, 26}}));
}

TEST_CASE("sub, mul and div broadcast a column against a row", "[core][ops][binary]") {
  Tape tape;
  const Tensor column(from_values({2, 1}, {1, 2}));
  const Tensor row(Array{4, 8});         // (2,)
  CHECK((sub(tape, column, row).value() == Array{{-3, -7}, {-2, -6}}));
  CHECK((mul(tape, column, row).value() == Array{{4, 8}, {8, 16}}));
  CHECK((div(tape, column, row).value() == Array{{0.25f, 0.125f}, {0.5f, 0.25f}}));
}

TEST_CASE("pow raises each base to its broadcast exponent", "[core][ops][binary]") {
  Tape tape;
  const Array y = pow(tape, Tensor(Array{{2, 3}, {4, 9}}), Tensor(Array{2, 0.5f})).value();
  CHECK(y(0, 0) == 4.0f);
  CHECK(y(0, 1) == Approx(std::sqrt(3.0)).epsilon(1e-7));
  CHECK(y(1, 0) == 16.0f);
  CHECK(y(1, 1) == Approx(3.0).epsilon(1e-7));
  // NumPy's values: a negative base with an integer exponent is fine, with a fraction NaN.
  const Array z = pow(tape, Tensor(Array{-2, -8, 0}), Tensor(Array{3, 0.5f, -1})).value();
  CHECK(z(0) == -8.0f);
  CHECK(std::isnan(z(1)));
  CHECK(z(2) == std::numeric_limits<float>::infinity());
}

TEST_CASE("maximum and minimum pick elementwise and propagate NaN", "[core][ops][binary]") {
  Tape tape;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor a(Array{1, 5, nan, 2});
  const Tensor b(Array{3, 4, 0, nan});
  const Array hi = maximum(tape, a, b).value(), lo = minimum(tape, a, b).value();
  CHECK(hi(0) == 3.0f);
  CHECK(hi(1) == 5.0f);
  CHECK(lo(0) == 1.0f);
  CHECK(lo(1) == 4.0f);
  CHECK((std::isnan(hi(2)) && std::isnan(hi(3)) && std::isnan(lo(2)) && std::isnan(lo(3))));
}

TEST_CASE("maximum and minimum split the gradient of a tie in halves", "[core][ops][binary]") {
  for (const bool is_max : {true, false}) {
    INFO((is_max ? "maximum" : "minimum"));
    const Tensor a = Tensor::parameter(Array{1, 2, 3}, "a");
    const Tensor b = Tensor::parameter(Array{1, 5, 0}, "b");
    Tape tape;
    tape.backward(is_max ? maximum(tape, a, b) : minimum(tape, a, b), Array{4, 4, 4});
    // Tie at 0: 2 each; elsewhere all of dy to the winner.
    CHECK((a.grad().dense() == (is_max ? Array{2, 0, 4} : Array{2, 4, 0})));
    CHECK((b.grad().dense() == (is_max ? Array{2, 4, 0} : Array{2, 0, 4})));
  }
}

TEST_CASE("maximum of a tensor with itself passes the whole gradient through", "[core][ops][binary]") {
  const Tensor x = Tensor::parameter(Array{-1, 0, 2}, "x");
  Tape tape;
  tape.backward(maximum(tape, x, x), Array{1, 2, 3});
  CHECK((x.grad().dense() == Array{1, 2, 3}));
}

TEST_CASE("pow gradients follow PyTorch at a zero base and a zero exponent", "[core][ops][binary]") {
  const float inf = std::numeric_limits<float>::infinity();
  // Pairs (a, b): 0^0, 0^2, 0^1, 0^-1, (-2)^2, 3^0.
  const Tensor a = Tensor::parameter(Array{0, 0, 0, 0, -2, 3}, "a");
  const Tensor b = Tensor::parameter(Array{0, 2, 1, -1, 2, 0}, "b");
  Tape tape;
  const Tensor y = pow(tape, a, b);
  CHECK((y.value() == Array{1, 0, 0, inf, 4, 1}));
  tape.backward(y, Array{1, 1, 1, 1, 1, 1});
  const Array& da = a.grad().dense();
  const Array& db = b.grad().dense();
  // da = b a^(b-1), 0 where b == 0: 0, 2*0, 1*0^0, -1 * 0^-2, 2*(-2), 0.
  CHECK((Array{da(0), da(1), da(2), da(3), da(4), da(5)} == Array{0, 0, 1, -inf, -4, 0}));
  // db = log(a) a^b, 0 where a == 0 and b >= 0: 0, 0, 0, -inf * inf, log(-2) * 4, log 3.
  CHECK(db(0) == 0.0f);
  CHECK(db(1) == 0.0f);
  CHECK(db(2) == 0.0f);
  CHECK(db(3) == -inf);
  CHECK(std::isnan(db(4)));
  CHECK(db(5) == Approx(std::log(3.0)).epsilon(1e-6));
}

TEST_CASE("a float works on either side of every binary op", "[core][ops][binary]") {
  const Tensor x = Tensor::parameter(Array{1, 2, 4}, "x");
  Tape tape;
  CHECK((add(tape, x, 1.0f).value() == Array{2, 3, 5}));
  CHECK((add(tape, 1.0f, x).value() == Array{2, 3, 5}));
  CHECK((sub(tape, x, 1.0f).value() == Array{0, 1, 3}));
  CHECK((sub(tape, 1.0f, x).value() == Array{0, -1, -3}));
  CHECK((mul(tape, 2.0f, x).value() == Array{2, 4, 8}));
  CHECK((mul(tape, x, 2.0f).value() == Array{2, 4, 8}));
  CHECK((div(tape, 10.0f, x).value() == Array{10, 5, 2.5f}));
  CHECK((div(tape, x, 2.0f).value() == Array{0.5f, 1, 2}));
  CHECK((pow(tape, x, 2.0f).value() == Array{1, 4, 16}));
  CHECK((pow(tape, 2.0f, x).value() == Array{2, 4, 16}));
  CHECK((maximum(tape, x, 2.0f).value() == Array{2, 2, 4}));
  CHECK((maximum(tape, 2.0f, x).value() == Array{2, 2, 4}));
  CHECK((minimum(tape, x, 2.0f).value() == Array{1, 2, 2}));
  CHECK((minimum(tape, 2.0f, x).value() == Array{1, 2, 2}));
}

TEST_CASE("a float operand gives the tensor operand its gradient", "[core][ops][binary]") {
  const Tensor x = Tensor::parameter(Array{1, 2, 4}, "x");
  const auto grad_of = [&](const std::function<Tensor(Tape&)>& f) {
    x.mutable_grad().clear();
    Tape tape;
    tape.backward(sum(tape, f(tape)));
    return x.grad().dense();
  };
  CHECK((grad_of([&](Tape& t) { return sub(t, 1.0f, x); }) == Array{-1, -1, -1}));
  CHECK((grad_of([&](Tape& t) { return mul(t, 3.0f, x); }) == Array{3, 3, 3}));
  CHECK((grad_of([&](Tape& t) { return div(t, 8.0f, x); }) == Array{-8, -2, -0.5f}));  // -8 / x^2
  CHECK((grad_of([&](Tape& t) { return div(t, x, 4.0f); }) == Array{0.25f, 0.25f, 0.25f}));
  CHECK((grad_of([&](Tape& t) { return pow(t, x, 2.0f); }) == Array{2, 4, 8}));
  const Array d = grad_of([&](Tape& t) { return pow(t, 2.0f, x); });  // ln 2 * 2^x
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(d(i) == Approx(std::log(2.0) * std::pow(2.0, x.value()(i))).epsilon(1e-6));
  }
  CHECK((grad_of([&](Tape& t) { return maximum(t, x, 2.0f); }) == Array{0, 0.5f, 1}));
  CHECK((grad_of([&](Tape& t) { return minimum(t, 2.0f, x); }) == Array{1, 0.5f, 0}));
}

TEST_CASE("every binary op broadcasts all pairs of (), (4,), (3, 4) and (1, 4) as NumPy does",
          "[core][ops][binary]") {
  for (const OpCase& c : op_cases()) {
    for (const Shape& as : kMatrixShapes) {
      for (const Shape& bs : kMatrixShapes) {
        INFO(c.name << " " << shape_string(as) << " with " << shape_string(bs));
        const Array av = c.shape_a(hashed_values(as, 1)), bv = c.shape_b(hashed_values(bs, 2));
        const Tensor a = Tensor::parameter(av, "a"), b = Tensor::parameter(bv, "b");
        const Shape out = expected_shape(as, bs);
        const Array seed = hashed_values(out, 3);
        Tape tape;
        const Tensor y = c.op(tape, a, b);
        REQUIRE(y.shape() == out);
        tape.backward(y, seed);
        // The reference: every output element in double, and its contribution to each input.
        std::vector<double> da(av.size(), 0.0), db(bv.size(), 0.0);
        for (std::size_t i = 0; i < seed.size(); ++i) {
          const std::size_t ia = source_index(as, out, i), ib = source_index(bs, out, i);
          const double x = av.data()[ia], z = bv.data()[ib];
          CHECK(y.value().data()[i] == Approx(c.value(x, z)).epsilon(1e-6).margin(1e-7));
          da[ia] += seed.data()[i] * c.da(x, z);
          db[ib] += seed.data()[i] * c.db(x, z);
        }
        REQUIRE(shape_of(a.grad().dense()) == as);
        REQUIRE(shape_of(b.grad().dense()) == bs);
        for (std::size_t i = 0; i < da.size(); ++i) {
          CHECK(a.grad().dense().data()[i] == Approx(da[i]).epsilon(1e-5).margin(1e-6));
        }
        for (std::size_t i = 0; i < db.size(); ++i) {
          CHECK(b.grad().dense().data()[i] == Approx(db[i]).epsilon(1e-5).margin(1e-6));
        }
      }
    }
  }
}

TEST_CASE("every binary op's broadcast gradients match finite differences", "[core][ops][binary]") {
  for (const OpCase& c : op_cases()) {
    INFO(c.name);
    // (2, 1, 3) against (4, 1): both operands broadcast, along different axes.
    Array av = c.shape_a(hashed_values({2, 1, 3}, 4)), bv = c.shape_b(hashed_values({4, 1}, 5));
    if (c.name == "maximum" || c.name == "minimum") {  // every pair 0.1 or more apart: no kinks
      av = Array{{{-0.8f, 0.1f, 0.6f}}, {{-0.3f, 0.45f, 0.9f}}};
      bv = from_values({4, 1}, {-0.55f, 0.25f, 0.7f, -0.05f});
    }
    const GradientCheckResult result = check_gradients(
        [&c](Tape& tape, const std::vector<Tensor>& in) { return c.op(tape, in[0], in[1]); },
        {Tensor::parameter(av, "a"), Tensor::parameter(bv, "b")});
    INFO(result.worst);
    CHECK(result.elements_checked == 6 + 4);
    CHECK(result.ok);
  }
}

TEST_CASE("binary ops add to gradients already there", "[core][ops][binary]") {
  for (const OpCase& c : op_cases()) {
    for (const Shape& bs : std::vector<Shape>{{2, 3}, {3}, {2, 1}, {1, 1, 3}, {}}) {
      INFO(c.name << " with " << shape_string(bs));
      const Array av = c.shape_a(hashed_values({2, 3}, 6)), bv = c.shape_b(hashed_values(bs, 7));
      const Tensor a = Tensor::parameter(av, "a"), b = Tensor::parameter(bv, "b");
      const Shape out = expected_shape({2, 3}, bs);
      const Array seed = hashed_values(out, 8);
      Tape once;
      once.backward(c.op(once, a, b), seed);
      const Array da = a.grad().dense(), db = b.grad().dense();
      Tape again;
      again.backward(c.op(again, a, b), seed);
      CHECK(bit_equal(a.grad().dense(), xt::eval(da + da)));
      CHECK(bit_equal(b.grad().dense(), xt::eval(db + db)));
    }
  }
}

TEST_CASE("an operand used on both sides gets both contributions", "[core][ops][binary]") {
  const Tensor x = Tensor::parameter(Array{1, -2, 3}, "x");
  Tape first;  // into an empty gradient: d/dx x^2 = 2x
  first.backward(mul(first, x, x), Array{1, 1, 1});
  CHECK((x.grad().dense() == Array{2, -4, 6}));
  Tape second;  // adding to it: d/dx (x^2 + x) = 2x + 1
  second.backward(add(second, mul(second, x, x), x), Array{1, 1, 1});
  CHECK((x.grad().dense() == Array{5, -7, 13}));
}

TEST_CASE("broadcast gradients on every fast path have unbroadcast's bits", "[core][ops][binary]") {
  for (const auto& [as, bs] : kLargeCases) {
    INFO(shape_string(as) << " with " << shape_string(bs));
    const Array av = hashed_values(as, 9), bv = hashed_values(bs, 10);
    const Tensor a = Tensor::parameter(av, "a"), b = Tensor::parameter(bv, "b");
    const Shape out = expected_shape(as, bs);
    const Array seed = hashed_values(out, 11);
    Tape tape;
    tape.backward(mul(tape, a, b), seed);
    // dy * b and dy * a at the output's shape (one float product each), then unbroadcast.
    const Array dy_b = xt::eval(seed * xt::broadcast(bv, out));
    const Array dy_a = xt::eval(seed * xt::broadcast(av, out));
    CHECK(bit_equal(a.grad().dense(), unbroadcast(dy_b, as)));
    CHECK(bit_equal(b.grad().dense(), unbroadcast(dy_a, bs)));
  }
}

TEST_CASE("binary ops on an inference tape record nothing", "[core][ops][binary]") {
  const Tensor a = Tensor::parameter(positive(hashed_values({3, 4}, 12)), "a");
  const Tensor b = Tensor::parameter(hashed_values({4}, 13), "b");
  Tape tape(Tape::Mode::inference);
  for (const OpCase& c : op_cases()) {
    INFO(c.name);
    CHECK_FALSE(c.op(tape, a, b).requires_grad());
  }
  CHECK_FALSE(add(tape, a, 2.0f).requires_grad());
  CHECK_FALSE(div(tape, 2.0f, a).requires_grad());
  CHECK_FALSE(pow(tape, a, 2.0f).requires_grad());
  CHECK_FALSE(add_bias(tape, a, b).requires_grad());
  CHECK(tape.size() == 0);
}

TEST_CASE("binary ops with no input requiring a gradient record nothing", "[core][ops][binary]") {
  Tape tape;
  for (const OpCase& c : op_cases()) {
    INFO(c.name);
    CHECK_FALSE(c.op(tape, Tensor(Array{1, 2}), Tensor(Array{3})).requires_grad());
  }
  CHECK(tape.size() == 0);
}

TEST_CASE("binary ops are bit-identical with 1 and 2 threads on every fast path",
          "[core][ops][binary][threads]") {
  for (const OpCase& c : op_cases()) {
    for (const auto& [as, bs] : kLargeCases) {
      INFO(c.name << " " << shape_string(as) << " with " << shape_string(bs));
      const Array av = c.shape_a(hashed_values(as, 14)), bv = c.shape_b(hashed_values(bs, 15));
      const Array seed = hashed_values(expected_shape(as, bs), 16);
      const auto runs = testing::run_at_1_and_2_threads([&] {
        const Tensor a = Tensor::parameter(av, "a"), b = Tensor::parameter(bv, "b");
        Tape tape;
        const Tensor y = c.op(tape, a, b);
        tape.backward(y, seed);
        return std::vector<Array>{y.value(), a.grad().dense(), b.grad().dense()};
      });
      CHECK(runs.regions_at_two >= 2);  // forward and backward were split
      CHECK(runs.differing_outputs().empty());
    }
  }
}

TEST_CASE("binary ops of shapes that do not broadcast throw ShapeError naming op and shapes",
          "[core][ops][binary]") {
  const Tensor a = Tensor::parameter(zeros_array({2, 3}), "a");
  const Tensor b = Tensor::parameter(zeros_array({4}), "b");
  Tape tape;
  for (const OpCase& c : op_cases()) {
    INFO(c.name);
    CHECK_THROWS_AS(c.op(tape, a, b), ShapeError);
    CHECK_THROWS_WITH(c.op(tape, a, b),
                      c.name + ": shapes (2, 3) and (4,) do not broadcast (axis -1: 3 vs 4)");
    CHECK_THROWS_WITH(c.op(tape, b, a), Contains(c.name + ": shapes (4,) and (2, 3)"));
  }
  CHECK(tape.size() == 0);
}

TEST_CASE("binary ops with an empty operand give an empty output and zero gradients",
          "[core][ops][binary]") {
  const Tensor a = Tensor::parameter(zeros_array({0, 4}), "a");
  const Tensor b = Tensor::parameter(Array{1, 2, 3, 4}, "b");
  Tape tape;
  const Tensor y = mul(tape, a, b);
  CHECK(y.shape() == Shape{0, 4});
  tape.backward(sum(tape, y));
  CHECK((b.grad().dense() == Array{0, 0, 0, 0}));
  CHECK(shape_of(a.grad().dense()) == Shape{0, 4});
}

TEST_CASE("add_bias and add_broadcast give add's bits", "[core][ops][binary]") {
  const Array xv = hashed_values({4, 5, 6}, 17), bias_v = hashed_values({6}, 18), rows_v = hashed_values({5, 6}, 19);
  const Array seed = hashed_values({4, 5, 6}, 20);
  const auto run = [&](auto op, const Array& other) {
    const Tensor x = Tensor::parameter(xv, "x"), r = Tensor::parameter(other, "r");
    Tape tape;
    const Tensor y = op(tape, x, r);
    tape.backward(y, seed);
    return std::vector<Array>{y.value(), x.grad().dense(), r.grad().dense()};
  };
  const auto plain = [](Tape& t, const Tensor& x, const Tensor& r) { return add(t, x, r); };
  const auto bias = [](Tape& t, const Tensor& x, const Tensor& r) { return add_bias(t, x, r); };
  const auto rows = [](Tape& t, const Tensor& x, const Tensor& r) { return add_broadcast(t, x, r); };
  const auto with_bias = run(bias, bias_v), with_add = run(plain, bias_v);
  const auto with_rows = run(rows, rows_v), with_add2 = run(plain, rows_v);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(bit_equal(with_bias[i], with_add[i]));
    CHECK(bit_equal(with_rows[i], with_add2[i]));
  }
}
