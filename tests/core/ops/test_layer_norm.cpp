// Specification of layer_norm: values and gradients against a double-precision reference
// written out from the definition, finite differences, threads and bad shapes.
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

struct Reference {
  std::vector<double> y, dx, dw, db;
};

// y, and the gradients for the seed dout, in double: dx from the full Jacobian
// dy_j/dx_i = w_j * rstd * (delta_ij - 1/C - xhat_i xhat_j / C), not from the fused formula.
Reference reference(const Array& x, const Array& w, const Array& b, const Array& dout,
                    double eps) {
  const std::size_t C = w.size(), rows = x.size() / C;
  Reference r{std::vector<double>(x.size()), std::vector<double>(x.size()),
              std::vector<double>(C), std::vector<double>(C)};
  for (std::size_t n = 0; n < rows; ++n) {
    const float* xr = x.data() + n * C;
    const float* dr = dout.data() + n * C;
    double mean = 0, var = 0;
    for (std::size_t j = 0; j < C; ++j) mean += xr[j];
    mean /= double(C);
    for (std::size_t j = 0; j < C; ++j) var += (xr[j] - mean) * (xr[j] - mean);
    var /= double(C);
    const double rstd = 1.0 / std::sqrt(var + eps);
    std::vector<double> xhat(C);
    for (std::size_t j = 0; j < C; ++j) xhat[j] = (xr[j] - mean) * rstd;
    for (std::size_t j = 0; j < C; ++j) {
      r.y[n * C + j] = xhat[j] * w(j) + b(j);
      r.dw[j] += dr[j] * xhat[j];
      r.db[j] += dr[j];
    }
    for (std::size_t i = 0; i < C; ++i) {
      double g = 0;
      for (std::size_t j = 0; j < C; ++j) {
        g += dr[j] * w(j) * rstd * ((i == j) - 1.0 / double(C) - xhat[i] * xhat[j] / double(C));
      }
      r.dx[n * C + i] = g;
    }
  }
  return r;
}

void require_close(const Array& got, const std::vector<double>& want, double margin) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(got.data()[i] == Approx(want[i]).margin(margin).epsilon(1e-5));
  }
}

}  // namespace

TEST_CASE("layer_norm of a two-element row with eps 0 is -w + b and w + b",
          "[core][ops][layer_norm]") {
  // Row (0, 2): mean 1, biased variance 1, so xhat = (-1, 1) exactly.
  Tape tape;
  const Tensor x(Array{{0, 2}, {5, 3}});
  const Tensor w(Array{3, -2});
  const Tensor b(Array{0.5f, 0.25f});
  CHECK((layer_norm(tape, x, w, b, 0.0f).value() == Array{{-2.5f, -1.75f}, {3.5f, 2.25f}}));
}

TEST_CASE("layer_norm values and gradients match a double-precision reference",
          "[core][ops][layer_norm]") {
  // C = 19: two full vectors and a scalar tail; 70 rows: three blocks of dweight sums.
  const std::size_t C = 19;
  const Array xv = hashed_values({2, 35, C}, 1) * 3.0f + 0.5f;
  const Array wv = hashed_values({C}, 2);
  const Array bv = hashed_values({C}, 3);
  const Array seed = hashed_values({2, 35, C}, 4);
  const Tensor x = Tensor::parameter(xv, "x");
  const Tensor w = Tensor::parameter(wv, "w");
  const Tensor b = Tensor::parameter(bv, "b");
  Tape tape;
  const Tensor y = layer_norm(tape, x, w, b);
  tape.backward(y, seed);
  const Reference want = reference(xv, wv, bv, seed, 1e-5);
  require_close(y.value(), want.y, 1e-6);
  require_close(x.grad().dense(), want.dx, 1e-5);
  require_close(w.grad().dense(), want.dw, 1e-5);
  require_close(b.grad().dense(), want.db, 1e-5);
}

TEST_CASE("layer_norm gradients match finite differences", "[core][ops][layer_norm]") {
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) {
        return layer_norm(tape, in[0], in[1], in[2]);
      },
      {Tensor::parameter(hashed_values({2, 3, 11}, 5), "x"),
       Tensor::parameter(hashed_values({11}, 6), "w"),
       Tensor::parameter(hashed_values({11}, 7), "b")});
  INFO(result.worst);
  CHECK(result.elements_checked == 2 * 3 * 11 + 11 + 11);
  CHECK(result.ok);
}

TEST_CASE("layer_norm backward adds to gradients already there", "[core][ops][layer_norm]") {
  const Tensor x = Tensor::parameter(hashed_values({5, 8}, 8), "x");
  const Tensor w = Tensor::parameter(hashed_values({8}, 9), "w");
  const Tensor b = Tensor::parameter(hashed_values({8}, 10), "b");
  const Array seed = hashed_values({5, 8}, 11);
  Tape once;
  once.backward(layer_norm(once, x, w, b), seed);
  const Array dx = x.grad().dense(), dw = w.grad().dense(), db = b.grad().dense();
  Tape again;  // the gradients from `once` are still there
  again.backward(layer_norm(again, x, w, b), seed);
  CHECK(bit_equal(x.grad().dense(), dx * 2.0f));
  CHECK(bit_equal(w.grad().dense(), dw * 2.0f));
  CHECK(bit_equal(b.grad().dense(), db * 2.0f));
}

TEST_CASE("layer_norm sends gradient only to the inputs that require one",
          "[core][ops][layer_norm]") {
  const Tensor x(hashed_values({4, 8}, 12));
  const Tensor w(hashed_values({8}, 13));
  const Tensor b = Tensor::parameter(hashed_values({8}, 14), "b");
  Tape tape;
  tape.backward(sum(tape, layer_norm(tape, x, w, b)));
  CHECK(x.grad().empty());
  CHECK(w.grad().empty());
  CHECK((b.grad().dense() == xt::ones<float>({8}) * 4.0f));  // db = dout summed over 4 rows
}

TEST_CASE("layer_norm is bit-identical with 1 and 2 threads on (2048, 128)",
          "[core][ops][layer_norm][threads]") {
  const Array xv = hashed_values({8, 256, 128}, 15);
  const Array wv = hashed_values({128}, 16);
  const Array bv = hashed_values({128}, 17);
  const Array seed = hashed_values({8, 256, 128}, 18);
  struct Run {
    Array y, dx, dw, db;
  };
  auto run = [&](std::size_t threads) {
    set_num_threads(threads);
    const Tensor x = Tensor::parameter(xv, "x");
    const Tensor w = Tensor::parameter(wv, "w");
    const Tensor b = Tensor::parameter(bv, "b");
    Tape tape;
    const Tensor y = layer_norm(tape, x, w, b);
    tape.backward(y, seed);
    set_num_threads(1);
    return Run{y.value(), x.grad().dense(), w.grad().dense(), b.grad().dense()};
  };
  const Run one = run(1);
  const std::size_t regions_before = parallel_regions_run();
  const Run two = run(2);
  CHECK(parallel_regions_run() - regions_before >= 2);  // forward and backward were split
  CHECK(bit_equal(one.y, two.y));
  CHECK(bit_equal(one.dx, two.dx));
  CHECK(bit_equal(one.dw, two.dw));
  CHECK(bit_equal(one.db, two.db));
}

TEST_CASE("layer_norm rejects weight or bias that are not (C,), naming the shapes",
          "[core][ops][layer_norm]") {
  Tape tape;
  const Tensor x = Tensor::parameter(zeros_array({2, 5}), "x");
  const Tensor good(zeros_array({5}));
  CHECK_THROWS_AS(layer_norm(tape, x, Tensor(zeros_array({4})), good), ShapeError);
  CHECK_THROWS_WITH(layer_norm(tape, x, Tensor(zeros_array({4})), good),
                    "layer_norm: weight must be (C,) for x (2, 5) (got (4,))");
  CHECK_THROWS_WITH(layer_norm(tape, x, good, Tensor(zeros_array({1, 5}))),
                    "layer_norm: bias must be (C,) for x (2, 5) (got (1, 5))");
  CHECK_THROWS_WITH(layer_norm(tape, Tensor(zeros_array({})), good, good),
                    Contains("layer_norm: x must be (..., C)"));
  CHECK_THROWS_AS(layer_norm(tape, x, good, good, -1.0f), std::invalid_argument);
  CHECK(tape.size() == 0);
}
