// Specification of softmax and log_softmax along one axis: hand-computed values, a double
// reference along every axis (the last-axis rows and the strided columns), stability,
// finite differences, threads, bad axes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using testing::bit_equal;
using testing::hashed_values;

namespace {

Array array_of(const Shape& shape, const std::vector<float>& values) {
  Array a = Array::from_shape(shape);
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

std::vector<float> values_of(const Tensor& t) {
  return std::vector<float>(t.value().data(), t.value().data() + t.size());
}

// softmax (or log_softmax) of x along `axis` in double, one line at a time.
std::vector<double> reference(const Array& x, std::size_t axis, bool log) {
  const Shape s = shape_of(x);
  std::size_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= s[d];
  for (std::size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  const std::size_t n = s[axis];
  std::vector<double> y(x.size());
  for (std::size_t a = 0; a < outer; ++a) {
    for (std::size_t b = 0; b < inner; ++b) {
      auto at = [&](std::size_t r) { return (a * n + r) * inner + b; };
      double m = -std::numeric_limits<double>::infinity();
      for (std::size_t r = 0; r < n; ++r) m = std::max(m, static_cast<double>(x.data()[at(r)]));
      double total = 0.0;
      for (std::size_t r = 0; r < n; ++r) total += std::exp(x.data()[at(r)] - m);
      for (std::size_t r = 0; r < n; ++r) {
        const double z = x.data()[at(r)] - m;
        y[at(r)] = log ? z - std::log(total) : std::exp(z) / total;
      }
    }
  }
  return y;
}

using AxisOp = Tensor (*)(Tape&, const Tensor&, std::int64_t);

}  // namespace

TEST_CASE("softmax of a row gives hand-computed probabilities", "[core][ops][softmax]") {
  // exp of [0, ln 2, ln 5] is [1, 2, 5]: probabilities [1, 2, 5] / 8.
  const Tensor x(array_of({1, 3}, {0.0f, std::log(2.0f), std::log(5.0f)}));
  Tape tape;
  const std::vector<float> y = values_of(softmax(tape, x));
  CHECK(y[0] == Approx(0.125).epsilon(1e-6));
  CHECK(y[1] == Approx(0.25).epsilon(1e-6));
  CHECK(y[2] == Approx(0.625).epsilon(1e-6));
  // Along axis 0 of [[1, 1], [1, 1]]: one half each.
  CHECK(values_of(softmax(tape, Tensor(array_of({2, 2}, {1, 1, 1, 1})), 0)) ==
        std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f});
  // log_softmax of [0, 0, 0, 0] is -ln 4 everywhere.
  for (float v : values_of(log_softmax(tape, Tensor(zeros_array({4})))))
    CHECK(v == Approx(-std::log(4.0)).epsilon(1e-6));
}

TEST_CASE("softmax and log_softmax match a double reference along every axis", "[core][ops][softmax]") {
  // 19 and 13: a full lane block and a tail on the row path; axis 0 and 1 are strided.
  const Shape shape{3, 13, 19};
  const Array xv = hashed_values(shape, 1) * 6.0f;
  for (std::int64_t axis : {0, 1, 2, -1, -2}) {
    for (bool log : {false, true}) {
      INFO("axis " << axis << (log ? " log_softmax" : " softmax"));
      Tape tape;
      const Tensor y = log ? log_softmax(tape, Tensor(xv), axis) : softmax(tape, Tensor(xv), axis);
      REQUIRE(y.shape() == shape);
      const std::vector<double> ref = reference(xv, static_cast<std::size_t>(axis < 0 ? axis + 3 : axis), log);
      for (std::size_t i = 0; i < ref.size(); ++i) {
        CHECK(y.value().data()[i] == Approx(ref[i]).epsilon(1e-5).margin(1e-6));
      }
    }
  }
}

TEST_CASE("softmax of large values is finite", "[core][ops][softmax]") {
  Tape tape;
  // [1000, 1001] -> [1, e] / (1 + e) = [0.2689414213699951, 0.7310585786300049], along the
  // last axis (rows) and along axis 0 of two columns (the strided path).
  struct Line {
    Shape shape;
    std::vector<float> x;
    std::int64_t axis;
    std::size_t first, second;
  };
  for (const Line& line : {Line{{1, 2}, {1000, 1001}, -1, 0, 1}, Line{{2, 2}, {1000, 1000, 1001, 1001}, 0, 1, 3}}) {
    INFO("axis " << line.axis);
    const std::vector<float> y = values_of(softmax(tape, Tensor(array_of(line.shape, line.x)), line.axis));
    CHECK(y[line.first] == Approx(0.2689414213699951).epsilon(1e-6));
    CHECK(y[line.second] == Approx(0.7310585786300049).epsilon(1e-6));
    const std::vector<float> l = values_of(log_softmax(tape, Tensor(array_of(line.shape, line.x)), line.axis));
    CHECK(l[line.first] == Approx(-1.3132616875182228).epsilon(1e-6));
    CHECK(l[line.second] == Approx(-0.3132616875182228).epsilon(1e-6));
  }
}

TEST_CASE("log_softmax of very negative entries is finite", "[core][ops][softmax]") {
  Tape tape;
  // exp(-1000) underflows to 0 in float: log(softmax) would be -inf, log_softmax is -1000.
  const std::vector<float> y = values_of(log_softmax(tape, Tensor(array_of({3}, {-1000, 0, -1e30f}))));
  CHECK(y[0] == Approx(-1000.0).epsilon(1e-6));
  CHECK(y[1] == Approx(0.0).margin(1e-6));
  CHECK(y[2] == Approx(-1e30).epsilon(1e-6));
  // Along axis 0 (the strided path): [[-2000, -1000], [-2000, 0]].
  const std::vector<float> cols = values_of(log_softmax(tape, Tensor(array_of({2, 2}, {-2000, -1000, -2000, 0})), 0));
  CHECK(cols[0] == Approx(-std::log(2.0)).epsilon(1e-6));
  CHECK(cols[2] == Approx(-std::log(2.0)).epsilon(1e-6));
  CHECK(cols[1] == Approx(-1000.0).epsilon(1e-6));
  CHECK(cols[3] == Approx(0.0).margin(1e-6));
}

TEST_CASE("the log of softmax recovers log_softmax", "[core][ops][softmax]") {
  const Array xv = hashed_values({4, 5, 33}, 2) * 5.0f;
  for (std::int64_t axis : {-1, 1}) {
    INFO("axis " << axis);
    Tape tape;
    const Array p = softmax(tape, Tensor(xv), axis).value();
    const Array l = log_softmax(tape, Tensor(xv), axis).value();
    for (std::size_t i = 0; i < xv.size(); ++i) {
      CHECK(std::log(p.data()[i]) == Approx(l.data()[i]).epsilon(1e-5).margin(1e-5));
    }
  }
}

TEST_CASE("softmax and log_softmax gradients match finite differences along every axis",
          "[core][ops][softmax]") {
  for (AxisOp op : {AxisOp(&softmax), AxisOp(&log_softmax)}) {
    for (std::int64_t axis : {0, 1, -1}) {
      INFO((op == AxisOp(&softmax) ? "softmax" : "log_softmax") << " axis " << axis);
      const GradientCheckResult result = check_gradients(
          [&](Tape& tape, const std::vector<Tensor>& in) { return op(tape, in[0], axis); },
          {Tensor::parameter(hashed_values({3, 4, 11}, 3) * 2.0f, "x")});
      INFO(result.worst);
      CHECK(result.elements_checked == 132);
      CHECK(result.ok);
    }
  }
}

TEST_CASE("softmax backward adds to a gradient already there", "[core][ops][softmax]") {
  const Array xv = hashed_values({3, 10}, 4);
  const Array seed = hashed_values({3, 10}, 5);
  for (AxisOp op : {AxisOp(&softmax), AxisOp(&log_softmax)}) {
    for (std::int64_t axis : {0, 1}) {
      const Tensor twice = Tensor::parameter(xv, "twice");
      Tape tape;
      tape.backward(add(tape, op(tape, twice, axis), op(tape, twice, axis)), seed);
      const Tensor once = Tensor::parameter(xv, "once");
      Tape single;
      single.backward(op(single, once, axis), seed);
      CHECK(bit_equal(twice.grad().dense(), once.grad().dense() * 2.0f));
    }
  }
}

TEST_CASE("softmax on an inference tape records nothing", "[core][ops][softmax]") {
  const Tensor x = Tensor::parameter(hashed_values({3, 4}, 6), "x");
  Tape tape(Tape::Mode::inference);
  CHECK_FALSE(softmax(tape, x).requires_grad());
  CHECK_FALSE(log_softmax(tape, x, 0).requires_grad());
  CHECK(tape.size() == 0);
}

TEST_CASE("softmax and log_softmax are bit-identical with 1 and 2 threads", "[core][ops][softmax][threads]") {
  struct Input {
    Shape shape;
    std::int64_t axis;
  };
  const std::vector<Input> inputs{{{32, 64, 256}, -1}, {{256, 64, 32}, 0}};
  for (const Input& in : inputs) {
    const Array xv = hashed_values(in.shape, 7) * 8.0f;
    const Array seed = hashed_values(in.shape, 8);
    for (AxisOp op : {AxisOp(&softmax), AxisOp(&log_softmax)}) {
      INFO("axis " << in.axis);
      const auto runs = testing::run_at_1_and_2_threads([&] {
        const Tensor x = Tensor::parameter(xv, "x");
        Tape tape;
        const Tensor y = op(tape, x, in.axis);
        tape.backward(y, seed);
        return std::vector<Array>{y.value(), x.grad().dense()};
      });
      CHECK(runs.regions_at_two >= 2);
      CHECK(runs.differing_outputs().empty());
    }
  }
}

TEST_CASE("a bad softmax axis throws ShapeError naming the op the axis and the shape",
          "[core][ops][softmax]") {
  Tape tape;
  const Tensor x(zeros_array({2, 3}));
  CHECK_THROWS_AS(softmax(tape, x, 2), ShapeError);
  CHECK_THROWS_WITH(softmax(tape, x, 2), Contains("softmax: axis 2") && Contains("(2, 3)"));
  CHECK_THROWS_WITH(log_softmax(tape, x, -3), Contains("log_softmax: axis -3") && Contains("(2, 3)"));
  CHECK_THROWS_WITH(softmax(tape, Tensor(Array(1.0f))), Contains("softmax: axis -1") && Contains("()"));
}
