// Specification of linear, the fused x @ w + b: hand-computed values and gradients, agreement
// with matmul then add_bias, finite differences, threads, accumulation, frozen inputs, shapes.
#include <cfloat>
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using testing::bit_equal;
using testing::hashed_values;

TEST_CASE("linear adds the bias to every row of x @ w", "[core][ops][linear]") {
  Tape tape;
  const Tensor x(Array{{1, 2}, {3, 4}});
  const Tensor w(Array{{1, 0, 2}, {0, 1, 3}});
  const Tensor b(Array{10, 20, 30});
  // Row 0: (1, 2, 1*2 + 2*3) + b; row 1: (3, 4, 3*2 + 4*3) + b.
  CHECK((linear(tape, x, w, b).value() == Array{{11, 22, 38}, {13, 24, 48}}));
}

TEST_CASE("linear backward gives dout @ w^T, x^T @ dout and dout summed over rows",
          "[core][ops][linear]") {
  const Tensor x = Tensor::parameter(Array{{1, 2}, {3, 4}}, "x");
  const Tensor w = Tensor::parameter(Array{{1, 0, 2}, {0, 1, 3}}, "w");
  const Tensor b = Tensor::parameter(Array{10, 20, 30}, "b");
  Tape tape;
  tape.backward(linear(tape, x, w, b), Array{{1, 0, 2}, {0, 1, -1}});
  // dx = dout @ w^T: (1 + 4, 0 + 6), (0 - 2, 1 - 3).
  CHECK((x.grad().dense() == Array{{5, 6}, {-2, -2}}));
  // dw = x^T @ dout: column k of x against each column of dout.
  CHECK((w.grad().dense() == Array{{1, 3, -1}, {2, 4, 0}}));
  CHECK((b.grad().dense() == Array{1, 1, 1}));
}

TEST_CASE("linear agrees with matmul then add_bias to rounding, with equal gradients",
          "[core][ops][linear]") {
  // K from one sgemm block to several (OpenBLAS may split K, then the bias joins a partial sum).
  for (const std::size_t k : {std::size_t{7}, std::size_t{128}, std::size_t{512}, std::size_t{1500}}) {
    INFO("K = " << k);
    const Array xv = hashed_values({3, 11, k}, 1);
    const Array wv = hashed_values({k, 40}, 2);
    const Array bv = hashed_values({40}, 3) * 8.0f;
    const Array seed = hashed_values({3, 11, 40}, 4);

    const Tensor x1 = Tensor::parameter(xv, "x"), w1 = Tensor::parameter(wv, "w"),
                 b1 = Tensor::parameter(bv, "b");
    Tape fused;
    const Tensor y1 = linear(fused, x1, w1, b1);
    fused.backward(y1, seed);

    const Tensor x2 = Tensor::parameter(xv, "x"), w2 = Tensor::parameter(wv, "w"),
                 b2 = Tensor::parameter(bv, "b");
    Tape separate;
    const Tensor y2 = add_bias(separate, matmul(separate, x2, w2), b2);
    separate.backward(y2, seed);

    // Two roundings' worth of the largest partial sum: |b| + sum_k |x w| bounds every one.
    for (std::size_t r = 0; r < 33; ++r) {
      for (std::size_t j = 0; j < 40; ++j) {
        double scale = std::fabs(bv(j));
        for (std::size_t i = 0; i < k; ++i) {
          scale += std::fabs(double(xv.data()[r * k + i]) * double(wv(i, j)));
        }
        const double diff = std::fabs(double(y1.value().data()[r * 40 + j]) -
                                      double(y2.value().data()[r * 40 + j]));
        INFO("row " << r << " column " << j);
        CHECK(diff <= 4 * FLT_EPSILON * scale);
      }
    }
    // With K in one block of OpenBLAS's kernels here (K <= 300 with and without
    // OPENBLAS_CORETYPE=Cooperlake) both round b + X @ W once: Flax's Dense bits (dot, then add).
    if (k <= 128) CHECK(bit_equal(y1.value(), y2.value()));
    // The gradients go through the same gemm calls and the same bias sum.
    CHECK(bit_equal(x1.grad().dense(), x2.grad().dense()));
    CHECK(bit_equal(w1.grad().dense(), w2.grad().dense()));
    CHECK(bit_equal(b1.grad().dense(), b2.grad().dense()));
  }
}

TEST_CASE("linear gradients match finite differences", "[core][ops][linear]") {
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return linear(tape, in[0], in[1], in[2]); },
      {Tensor::parameter(hashed_values({2, 3, 4}, 5), "x"),
       Tensor::parameter(hashed_values({4, 5}, 6), "w"),
       Tensor::parameter(hashed_values({5}, 7), "b")});
  INFO(result.worst);
  CHECK(result.elements_checked == 24 + 20 + 5);
  CHECK(result.ok);
}

TEST_CASE("linear is bit-identical with 1 and 2 threads", "[core][ops][linear][threads]") {
  // 512 x 512 outputs: the bias fill, the three products and the bias sum all split.
  const Array xv = hashed_values({8, 64, 96}, 8);
  const Array wv = hashed_values({96, 512}, 9);
  const Array bv = hashed_values({512}, 10);
  const Array seed = hashed_values({8, 64, 512}, 11);
  const auto runs = testing::run_at_1_and_2_threads([&] {
    const Tensor x = Tensor::parameter(xv, "x"), w = Tensor::parameter(wv, "w"),
                 b = Tensor::parameter(bv, "b");
    Tape tape;
    const Tensor y = linear(tape, x, w, b);
    tape.backward(y, seed);
    return std::vector<Array>{y.value(), x.grad().dense(), w.grad().dense(), b.grad().dense()};
  });
  CHECK(runs.regions_at_two >= 5);
  CHECK(runs.differing_outputs().empty());
}

TEST_CASE("linear used twice adds to the gradients already there", "[core][ops][linear]") {
  const Array xv = hashed_values({6, 5}, 12), wv = hashed_values({5, 4}, 13),
              bv = hashed_values({4}, 14);
  const Tensor x = Tensor::parameter(xv, "x"), w = Tensor::parameter(wv, "w"),
               b = Tensor::parameter(bv, "b");
  Tape tape;
  tape.backward(sum(tape, add(tape, linear(tape, x, w, b), linear(tape, x, w, b))));

  const Tensor x1 = Tensor::parameter(xv, "x"), w1 = Tensor::parameter(wv, "w"),
               b1 = Tensor::parameter(bv, "b");
  Tape single;
  single.backward(sum(single, linear(single, x1, w1, b1)));
  CHECK(bit_equal(x.grad().dense(), x1.grad().dense() * 2.0f));
  CHECK(bit_equal(w.grad().dense(), w1.grad().dense() * 2.0f));
  CHECK(bit_equal(b.grad().dense(), b1.grad().dense() * 2.0f));
}

TEST_CASE("linear leaves frozen inputs without a gradient", "[core][ops][linear]") {
  const Tensor x(hashed_values({3, 4}, 15));
  const Tensor w = Tensor::parameter(hashed_values({4, 2}, 16), "w");
  const Tensor b(hashed_values({2}, 17));
  Tape tape;
  tape.backward(sum(tape, linear(tape, x, w, b)));
  CHECK(x.grad().empty());
  CHECK(b.grad().empty());
  // dw = x^T @ ones: the column sums of x in every column.
  const Array column_sums = xt::sum(x.value(), {0});
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < 2; ++j) CHECK(w.grad().dense()(i, j) == Approx(column_sums(i)));
  }
}

TEST_CASE("linear with a wrong bias or inner dimension throws naming linear and the shapes",
          "[core][ops][linear]") {
  const Tensor x = Tensor::parameter(zeros_array({2, 3}), "x");
  const Tensor w = Tensor::parameter(zeros_array({3, 4}), "w");
  Tape tape;
  CHECK_THROWS_AS(linear(tape, x, w, Tensor(zeros_array({3}))), ShapeError);
  CHECK_THROWS_WITH(linear(tape, x, w, Tensor(zeros_array({3}))),
                    Contains("linear: bias must be (N,) for w (K, N): w is (3, 4), bias is (3,)"));
  CHECK_THROWS_WITH(linear(tape, x, w, Tensor(zeros_array({1, 4}))),
                    Contains("linear: bias must be (N,)") && Contains("bias is (1, 4)"));
  CHECK_THROWS_WITH(linear(tape, x, Tensor(zeros_array({4, 4})), Tensor(zeros_array({4}))),
                    Contains("linear: inner dimensions differ: x is (2, 3), w is (4, 4)"));
  CHECK(tape.size() == 0);
}
