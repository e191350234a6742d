// Specification of sum, mean, max and logsumexp over axes (NumPy's axis= and keepdims=):
// hand-computed values, a double-precision reference over any axes, finite differences,
// ties of max, threads, bad axes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
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

// For each output element of x reduced over the flagged axes, the values of x that fall
// into it: an independent walk over x's multi-indices, in double.
std::vector<std::vector<double>> groups_of(const Array& x, const std::vector<bool>& reduced) {
  const Shape shape = shape_of(x);
  std::size_t outputs = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) outputs *= reduced[d] ? 1 : shape[d];
  std::vector<std::vector<double>> groups(outputs);
  std::vector<std::size_t> index(shape.size());
  for (std::size_t e = 0; e < x.size(); ++e) {
    std::size_t rest = e;
    for (std::size_t d = shape.size(); d-- > 0;) {
      index[d] = rest % shape[d];
      rest /= shape[d];
    }
    std::size_t o = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (!reduced[d]) o = o * shape[d] + index[d];
    }
    groups[o].push_back(x.data()[e]);
  }
  return groups;
}

double ref_sum(const std::vector<double>& g) { return std::accumulate(g.begin(), g.end(), 0.0); }
double ref_mean(const std::vector<double>& g) { return ref_sum(g) / static_cast<double>(g.size()); }
double ref_max(const std::vector<double>& g) { return *std::max_element(g.begin(), g.end()); }
double ref_logsumexp(const std::vector<double>& g) {
  const double m = ref_max(g);
  double s = 0.0;
  for (double v : g) s += std::exp(v - m);
  return m + std::log(s);
}

using AxisOp = Tensor (*)(Tape&, const Tensor&, const Axes&, bool);
using Reference = double (*)(const std::vector<double>&);

struct Case {
  const char* name;
  AxisOp op;
  Reference ref;
};

const Case kCases[] = {{"sum", &sum, &ref_sum},
                       {"mean", &mean, &ref_mean},
                       {"max", &max, &ref_max},
                       {"logsumexp", &logsumexp, &ref_logsumexp}};

// Distinct values 0.1 apart (a permutation of 0.1 k), so that central differences with a
// step of 0.01 never move the maximum to another element.
Array distinct_values(const Shape& shape) {
  Array a = Array::from_shape(shape);
  const std::size_t n = a.size();
  for (std::size_t i = 0; i < n; ++i) a.data()[i] = static_cast<float>((i * 7 + 3) % n) * 0.1f - 1.0f;
  return a;
}

}  // namespace

TEST_CASE("sum over one axis adds along it, with and without keepdims", "[core][ops][reduce]") {
  // x = [[1, 2, 3], [4, 5, 6]]
  const Tensor x(array_of({2, 3}, {1, 2, 3, 4, 5, 6}));
  Tape tape;
  const Tensor rows = sum(tape, x, {0});
  CHECK(rows.shape() == Shape{3});
  CHECK(values_of(rows) == std::vector<float>{5, 7, 9});
  const Tensor cols = sum(tape, x, {1}, true);
  CHECK(cols.shape() == Shape{2, 1});
  CHECK(values_of(cols) == std::vector<float>{6, 15});
  const Tensor last = sum(tape, x, {-1});
  CHECK(last.shape() == Shape{2});
  CHECK(values_of(last) == std::vector<float>{6, 15});
  const Tensor both = sum(tape, x, {0, 1}, true);
  CHECK(both.shape() == Shape{1, 1});
  CHECK(values_of(both) == std::vector<float>{21});
}

TEST_CASE("mean max and logsumexp over one axis give hand-computed values", "[core][ops][reduce]") {
  // x = [[1, 2, 3], [4, 6, 5]]
  const Tensor x(array_of({2, 3}, {1, 2, 3, 4, 6, 5}));
  Tape tape;
  CHECK(values_of(mean(tape, x, {1})) == std::vector<float>{2, 5});
  CHECK(values_of(mean(tape, x, {0})) == std::vector<float>{2.5f, 4, 4});
  CHECK(values_of(max(tape, x, {1})) == std::vector<float>{3, 6});
  CHECK(values_of(max(tape, x, {-2})) == std::vector<float>{4, 6, 5});
  // log(e^1 + e^4) = 4 + log(1 + e^-3) = 4.0485873515737...
  const std::vector<float> lse = values_of(logsumexp(tape, x, {0}, true));
  CHECK(lse[0] == Approx(4.0485873515737).epsilon(1e-6));
  CHECK(logsumexp(tape, x, {0}, true).shape() == Shape{1, 3});
}

TEST_CASE("reductions over several axes match a double reference for any axes and keepdims",
          "[core][ops][reduce]") {
  // Row form (innermost axis reduced) and column form (innermost kept), axes adjacent or not,
  // extents of 1 and rows with a partial lane block.
  const Shape shape{3, 4, 1, 5, 19};
  const Array xv = hashed_values(shape, 1) * 3.0f;
  const std::vector<Axes> axes_lists{{0}, {-1}, {1, 3}, {0, -2}, {4, 0}, {0, 1, 3, 4}, {2}, {1, -3, 4}};
  for (const Case& c : kCases) {
    for (const Axes& axes : axes_lists) {
      for (bool keepdims : {false, true}) {
        INFO(c.name << " over " << ::Catch::Detail::stringify(axes) << " keepdims " << keepdims);
        std::vector<bool> reduced(shape.size(), false);
        Shape expected_shape;
        for (std::int64_t a : axes) reduced[static_cast<std::size_t>(a < 0 ? a + 5 : a)] = true;
        for (std::size_t d = 0; d < shape.size(); ++d) {
          if (!reduced[d]) expected_shape.push_back(shape[d]);
          else if (keepdims) expected_shape.push_back(1);
        }
        Tape tape;
        const Tensor y = c.op(tape, Tensor(xv), axes, keepdims);
        REQUIRE(y.shape() == expected_shape);
        const auto groups = groups_of(xv, reduced);
        REQUIRE(groups.size() == y.size());
        for (std::size_t o = 0; o < groups.size(); ++o) {
          CHECK(y.value().data()[o] == Approx(c.ref(groups[o])).epsilon(1e-5).margin(1e-5));
        }
      }
    }
  }
}

TEST_CASE("an empty axes list reduces nothing, as NumPy's axis=()", "[core][ops][reduce]") {
  const Array xv = hashed_values({3, 4}, 2);
  Tape tape;
  for (const Case& c : kCases) {
    INFO(c.name);
    const Tensor y = c.op(tape, Tensor(xv), {}, false);
    CHECK(bit_equal(y.value(), xv));
  }
}

TEST_CASE("the all-elements sum and mean stay scalars beside the axis forms", "[core][ops][reduce]") {
  const Tensor x(array_of({2, 2}, {1, 2, 3, 4}));
  Tape tape;
  CHECK(sum(tape, x).shape() == Shape{});
  CHECK(sum(tape, x).value()() == 10.0f);
  CHECK(mean(tape, x).value()() == 2.5f);
  CHECK(sum(tape, x, {1}).shape() == Shape{2});
}

TEST_CASE("a reduction over an axis of extent 0 sums to zero and has no maximum", "[core][ops][reduce]") {
  const Tensor x(zeros_array({2, 0}));
  Tape tape;
  const Tensor s = sum(tape, x, {1});
  CHECK(s.shape() == Shape{2});
  CHECK(values_of(s) == std::vector<float>{0, 0});
  CHECK(values_of(logsumexp(tape, x, {1}))[0] == -std::numeric_limits<float>::infinity());
  CHECK_THROWS_AS(max(tape, x, {1}), ShapeError);
  CHECK_THROWS_AS(mean(tape, x, {-1}), ShapeError);
  CHECK(sum(tape, x, {0}).shape() == Shape{0});
}

TEST_CASE("max sends the gradient to the maximum and splits it evenly among ties",
          "[core][ops][reduce]") {
  // x = [[1, 3, 3], [2, 0, 2]]: row 0 ties at 3, row 1 at 2; seed [1, 10].
  const Tensor x = Tensor::parameter(array_of({2, 3}, {1, 3, 3, 2, 0, 2}), "x");
  Tape tape;
  const Tensor y = max(tape, x, {1});
  CHECK(values_of(y) == std::vector<float>{3, 2});
  tape.backward(y, array_of({2}, {1, 10}));
  const Array& dx = x.grad().dense();
  CHECK(std::vector<float>(dx.begin(), dx.end()) == std::vector<float>{0, 0.5f, 0.5f, 5, 0, 5});

  // Four equal elements over two axes share the gradient in quarters.
  const Tensor z = Tensor::parameter(array_of({2, 2}, {7, 7, 7, 7}), "z");
  Tape tape2;
  tape2.backward(max(tape2, z, {0, -1}));
  const Array& dz = z.grad().dense();
  CHECK(std::vector<float>(dz.begin(), dz.end()) == std::vector<float>{0.25f, 0.25f, 0.25f, 0.25f});
}

TEST_CASE("reduction gradients match finite differences for several axes and keepdims",
          "[core][ops][reduce]") {
  const std::vector<Axes> axes_lists{{0}, {-1}, {0, 2}, {1}, {-1, -2}, {0, 1, 2}};
  for (const Case& c : kCases) {
    for (const Axes& axes : axes_lists) {
      for (bool keepdims : {false, true}) {
        INFO(c.name << " over " << ::Catch::Detail::stringify(axes) << " keepdims " << keepdims);
        const GradientCheckResult result = check_gradients(
            [&](Tape& tape, const std::vector<Tensor>& in) { return c.op(tape, in[0], axes, keepdims); },
            {Tensor::parameter(distinct_values({3, 4, 5}), "x")});
        INFO(result.worst);
        CHECK(result.elements_checked == 60);
        CHECK(result.ok);
      }
    }
  }
}

TEST_CASE("reduction backward adds to a gradient already there", "[core][ops][reduce]") {
  const Array xv = distinct_values({4, 6});
  const Array seed = hashed_values({4}, 3);
  for (const Case& c : kCases) {
    INFO(c.name);
    const Tensor twice = Tensor::parameter(xv, "twice");
    Tape tape;
    tape.backward(add(tape, c.op(tape, twice, {1}, false), c.op(tape, twice, {-1}, false)), seed);
    const Tensor once = Tensor::parameter(xv, "once");
    Tape single;
    single.backward(c.op(single, once, {1}, false), seed);
    CHECK(bit_equal(twice.grad().dense(), once.grad().dense() * 2.0f));
  }
}

TEST_CASE("logsumexp of large and of infinite values stays finite where it should",
          "[core][ops][reduce]") {
  Tape tape;
  // log(e^1000 + e^1001) = 1001 + log(1 + e^-1) = 1001.3132616875...
  const Tensor big(array_of({2}, {1000, 1001}));
  CHECK(values_of(logsumexp(tape, big, {0}))[0] == Approx(1001.3132616875).epsilon(1e-7));
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor lows(array_of({2}, {-inf, -inf}));
  CHECK(values_of(logsumexp(tape, lows, {0}))[0] == -inf);
  const Tensor high(array_of({2}, {inf, 1}));
  CHECK(values_of(logsumexp(tape, high, {0}))[0] == inf);
}

TEST_CASE("reductions on an inference tape record nothing", "[core][ops][reduce]") {
  const Tensor x = Tensor::parameter(hashed_values({3, 4}, 4), "x");
  Tape tape(Tape::Mode::inference);
  for (const Case& c : kCases) {
    INFO(c.name);
    const Tensor y = c.op(tape, x, {0}, true);
    CHECK_FALSE(y.requires_grad());
  }
  CHECK(tape.size() == 0);
}

TEST_CASE("reductions are bit-identical with 1 and 2 threads", "[core][ops][reduce][threads]") {
  struct Input {
    Shape shape;
    Axes axes;
  };
  // The last axis of (32, 64, 256) (row form) and the first of (256, 64, 32) (column form),
  // and two axes at once; max ties often here (values are multiples of 0.001).
  const std::vector<Input> inputs{{{32, 64, 256}, {-1}}, {{256, 64, 32}, {0}}, {{32, 64, 256}, {0, 2}}};
  for (const Input& in : inputs) {
    const Array xv = hashed_values(in.shape, 5) * 4.0f;
    for (const Case& c : kCases) {
      INFO(c.name << " over " << ::Catch::Detail::stringify(in.axes));
      const auto runs = testing::run_at_1_and_2_threads([&] {
        const Tensor x = Tensor::parameter(xv, "x");
        Tape tape;
        const Tensor y = c.op(tape, x, in.axes, false);
        tape.backward(y, hashed_values(y.shape(), 6));
        return std::vector<Array>{y.value(), x.grad().dense()};
      });
      CHECK(runs.regions_at_two >= 2);
      CHECK(runs.differing_outputs().empty());
    }
  }
}

TEST_CASE("bad axes throw ShapeError naming the op the axis and the shape", "[core][ops][reduce]") {
  const Tensor x(zeros_array({2, 3}));
  Tape tape;
  for (const Case& c : kCases) {
    INFO(c.name);
    CHECK_THROWS_AS(c.op(tape, x, {2}, false), ShapeError);
    CHECK_THROWS_WITH(c.op(tape, x, {2}, false),
                      Contains(c.name) && Contains("axis 2") && Contains("(2, 3)"));
    CHECK_THROWS_WITH(c.op(tape, x, {-3}, true), Contains(c.name) && Contains("axis -3"));
    CHECK_THROWS_AS(c.op(tape, x, {1, -1}, false), ShapeError);
    CHECK_THROWS_WITH(c.op(tape, x, {1, -1}, false),
                      Contains(std::string(c.name) + ": axes (1, -1) name axis 1 twice (shape (2, 3))"));
  }
}
