// Specification of matmul and matmul_transposed with batch axes: x (..., M, K) @ w (..., K, N),
// the batch axes broadcast as NumPy's np.matmul does, and 1-D operands promoted.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Message;
using testing::bit_equal;
using testing::hashed_values;

namespace {

// An array of the given shape holding `values` in row-major order (a nested list with
// one-element rows is ambiguous to xtensor).
Array shaped(const Shape& shape, std::initializer_list<float> values) {
  Array a = Array::from_shape(shape);
  std::copy(values.begin(), values.end(), a.data());
  return a;
}

// np.matmul in double, written from the definition: out[i..., r, c] = sum_j x[..., r, j] *
// w[..., j, c], each operand read at the output's batch index with its extent-1 (or missing)
// batch axes held at 0. A 1-D x is a row, a 1-D w a column, and that axis leaves the output.
Array reference_matmul(const Array& xa, const Array& wa, bool transpose_w = false) {
  const Shape xs0 = shape_of(xa), ws0 = shape_of(wa);
  const Shape xs = xs0.size() == 1 ? Shape{1, xs0[0]} : xs0;
  const Shape ws = ws0.size() == 1 ? Shape{ws0[0], 1} : ws0;
  const std::size_t M = xs[xs.size() - 2], K = xs.back();
  const std::size_t N = transpose_w ? ws[ws.size() - 2] : ws.back();
  const std::size_t xr = xs.size() - 2, wr = ws.size() - 2, rank = std::max(xr, wr);
  Shape batch(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t ex = i + xr >= rank ? xs[i + xr - rank] : 1;
    const std::size_t ew = i + wr >= rank ? ws[i + wr - rank] : 1;
    batch[i] = std::max(ex, ew);
  }
  std::size_t count = 1;
  for (std::size_t e : batch) count *= e;
  Shape out_shape = batch;
  if (xs0.size() > 1) out_shape.push_back(M);
  if (ws0.size() > 1) out_shape.push_back(N);
  Array out = Array::from_shape(out_shape);
  for (std::size_t p = 0; p < count; ++p) {
    // The batch index of p, and the matrix of each operand it reads.
    std::size_t rest = p, xm = 0, wm = 0, xstride = 1, wstride = 1;
    for (std::size_t i = rank; i-- > 0;) {
      const std::size_t at = rest % batch[i];
      rest /= batch[i];
      if (i + xr >= rank) {
        const std::size_t e = xs[i + xr - rank];
        xm += (e == 1 ? 0 : at) * xstride;
        xstride *= e;
      }
      if (i + wr >= rank) {
        const std::size_t e = ws[i + wr - rank];
        wm += (e == 1 ? 0 : at) * wstride;
        wstride *= e;
      }
    }
    const float* x = xa.data() + xm * M * K;
    const float* w = wa.data() + wm * K * N;
    for (std::size_t r = 0; r < M; ++r) {
      for (std::size_t c = 0; c < N; ++c) {
        double s = 0.0;
        for (std::size_t j = 0; j < K; ++j) {
          s += double(x[r * K + j]) * double(transpose_w ? w[c * K + j] : w[j * N + c]);
        }
        out.data()[(p * M + r) * N + c] = static_cast<float>(s);
      }
    }
  }
  return out;
}

void check_close(const Array& got, const Array& want) {
  REQUIRE(shape_of(got) == shape_of(want));
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got.data()[i] == Approx(want.data()[i]).margin(1e-5).epsilon(1e-5));
  }
}

void check_gradients_of(bool transpose_w, const Shape& x_shape, const Shape& w_shape,
                        std::uint32_t salt) {
  INFO("x " << shape_string(x_shape) << ", w " << shape_string(w_shape));
  const Tensor x = Tensor::parameter(hashed_values(x_shape, salt), "x");
  const Tensor w = Tensor::parameter(hashed_values(w_shape, salt + 1), "w");
  const GradientCheckResult result = check_gradients(
      [transpose_w](Tape& tape, const std::vector<Tensor>& in) {
        return transpose_w ? matmul_transposed(tape, in[0], in[1]) : matmul(tape, in[0], in[1]);
      },
      {x, w});
  INFO(result.worst);
  CHECK(result.elements_checked == x.size() + w.size());
  CHECK(result.ok);
}

}  // namespace

TEST_CASE("matmul multiplies matching matrices of two batches", "[core][ops][matmul][batched]") {
  Tape tape;
  const Tensor x(Array{{{1, 2}, {3, 4}}, {{1, 0}, {0, 1}}});  // (2, 2, 2)
  const Tensor w(Array{{{1, 1}, {0, 1}}, {{2, 3}, {4, 5}}});  // (2, 2, 2)
  CHECK((matmul(tape, x, w).value() == Array{{{1, 3}, {3, 7}}, {{2, 3}, {4, 5}}}));
}

TEST_CASE("matmul broadcasts a matrix x over the batch of w", "[core][ops][matmul][batched]") {
  Tape tape;
  const Tensor x(shaped({1, 2}, {1, 2}));
  const Tensor w(shaped({2, 2, 1}, {1, 1, 3, -1}));
  CHECK((matmul(tape, x, w).value() == shaped({2, 1, 1}, {3, 1})));  // 1 + 2, 3 - 2
}

TEST_CASE("matmul_transposed multiplies each matrix of x by the rows of the matching w",
          "[core][ops][matmul][batched]") {
  Tape tape;
  const Tensor x(Array{{{1, 2}}, {{3, 4}}});                    // (2, 1, 2)
  const Tensor w(Array{{{1, 0}, {1, 1}}, {{0, 1}, {2, -1}}});  // (2, 2, 2), rows are (N, K)
  CHECK((matmul_transposed(tape, x, w).value() == Array{{{1, 3}}, {{4, 2}}}));
}

TEST_CASE("matmul backward sums a broadcast operand's gradient over the batch",
          "[core][ops][matmul][batched]") {
  const Tensor x = Tensor::parameter(shaped({1, 2}, {1, 2}), "x");
  const Tensor w = Tensor::parameter(shaped({2, 2, 1}, {1, 1, 3, -1}), "w");
  Tape tape;
  tape.backward(matmul(tape, x, w), shaped({2, 1, 1}, {1, 10}));
  // dx = 1 * w[0]^T + 10 * w[1]^T = (1, 1) + (30, -10); dw[p] = x^T * dy[p].
  CHECK((x.grad().dense() == shaped({1, 2}, {31, -9})));
  CHECK((w.grad().dense() == shaped({2, 2, 1}, {1, 2, 10, 20})));
}

TEST_CASE("matmul matches a double-precision np.matmul on broadcast batch shapes",
          "[core][ops][matmul][batched]") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4, 5}, {2, 3, 5, 4}}, {{4, 5}, {2, 5, 3}},     {{2, 1, 4, 5}, {3, 5, 2}},
      {{3, 1, 5}, {2, 1, 5, 4}},    {{3, 4, 5}, {1, 5, 2}},  {{1, 4, 5}, {3, 5, 2}},
      {{5}, {2, 5, 3}},             {{2, 3, 4, 5}, {5}},     {{5}, {5}},
      {{2, 3, 4}, {4, 6}},          {{4}, {4, 6}},
  };
  std::uint32_t salt = 10;
  for (const auto& [xs, ws] : cases) {
    INFO("x " << shape_string(xs) << ", w " << shape_string(ws));
    const Array xv = hashed_values(xs, salt++);
    const Array wv = hashed_values(ws, salt++);
    Tape tape;
    check_close(matmul(tape, Tensor(xv), Tensor(wv)).value(), reference_matmul(xv, wv));
  }
}

TEST_CASE("matmul gives np.matmul's output shapes, 1-D axes dropped", "[core][ops][matmul][batched]") {
  Tape tape;
  const auto shape = [&](const Shape& xs, const Shape& ws) {
    return shape_of(matmul(tape, Tensor(hashed_values(xs)), Tensor(hashed_values(ws))).value());
  };
  CHECK(shape({2, 1, 4, 5}, {3, 5, 2}) == Shape{2, 3, 4, 2});
  CHECK(shape({4, 5}, {2, 5, 3}) == Shape{2, 4, 3});
  CHECK(shape({5}, {2, 5, 3}) == Shape{2, 3});
  CHECK(shape({2, 3, 4, 5}, {5}) == Shape{2, 3, 4});
  CHECK(shape({3, 4, 5}, {1, 1, 5, 2}) == Shape{1, 3, 4, 2});
  CHECK(shape({5}, {5}) == Shape{});
}

TEST_CASE("matmul_transposed matches a double-precision reference on broadcast batch shapes",
          "[core][ops][matmul][batched]") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4, 5}, {2, 3, 6, 5}}, {{4, 5}, {2, 3, 5}}, {{2, 1, 4, 5}, {3, 2, 5}},
      {{3, 4, 5}, {1, 2, 5}},       {{5}, {2, 3, 5}},
  };
  std::uint32_t salt = 40;
  for (const auto& [xs, ws] : cases) {
    INFO("x " << shape_string(xs) << ", w " << shape_string(ws));
    const Array xv = hashed_values(xs, salt++);
    const Array wv = hashed_values(ws, salt++);
    Tape tape;
    check_close(matmul_transposed(tape, Tensor(xv), Tensor(wv)).value(),
                reference_matmul(xv, wv, true));
  }
}

TEST_CASE("A w with one matrix in its batch gives the bits of the 2-D product",
          "[core][ops][matmul][batched]") {
  const Array xv = hashed_values({3, 4, 5}, 60);
  const Array wv = hashed_values({5, 2}, 61);
  Array w3 = wv;
  w3.reshape({1, 5, 2});
  Tape tape;
  const Array two_d = matmul(tape, Tensor(xv), Tensor(wv)).value();
  Array batched = matmul(tape, Tensor(xv), Tensor(w3)).value();
  CHECK(shape_of(batched) == Shape{3, 4, 2});
  CHECK(bit_equal(batched, two_d));
}

TEST_CASE("Batched matmul gradients match finite differences where operands broadcast",
          "[core][ops][matmul][batched]") {
  check_gradients_of(false, {2, 3, 4}, {2, 4, 3}, 70);     // no broadcasting
  check_gradients_of(false, {3, 4}, {2, 4, 3}, 72);        // x shared by the batch
  check_gradients_of(false, {2, 1, 3, 4}, {3, 4, 2}, 74);  // each operand shared along one axis
  check_gradients_of(false, {2, 3, 4}, {1, 4, 2}, 76);     // w's one matrix: the flattened path
  check_gradients_of(false, {4}, {2, 4, 3}, 78);           // 1-D x
  check_gradients_of(false, {2, 3, 4}, {4}, 80);           // 1-D w
  check_gradients_of(true, {2, 1, 3, 4}, {3, 5, 4}, 82);   // matmul_transposed, broadcast
  check_gradients_of(true, {3, 4}, {2, 5, 4}, 84);
}

TEST_CASE("Batched matmul of a tensor with itself gets both gradient shares",
          "[core][ops][matmul][batched]") {
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) { return matmul(tape, in[0], in[0]); },
      {Tensor::parameter(hashed_values({2, 3, 3}, 90), "x")});
  INFO(result.worst);
  CHECK(result.elements_checked == 18);
  CHECK(result.ok);
}

TEST_CASE("Batched matmul adds to gradients already there and skips frozen inputs",
          "[core][ops][matmul][batched]") {
  const Tensor x = Tensor::parameter(hashed_values({2, 3, 4}, 91), "x");
  const Tensor w(hashed_values({2, 4, 5}, 92));  // frozen
  const Array seed = hashed_values({2, 3, 5}, 93);
  Tape once;
  once.backward(matmul(once, x, w), seed);
  const Array single = x.grad().dense();
  x.mutable_grad().clear();
  Tape twice;
  twice.backward(add(twice, matmul(twice, x, w), matmul(twice, x, w)), seed);
  CHECK(bit_equal(x.grad().dense(), Array(single * 2.0f)));
  CHECK_FALSE(w.requires_grad());
  CHECK(w.grad().empty());
}

TEST_CASE("Batched matmul and its gradients are bit-identical with 1 and 2 threads",
          "[core][ops][matmul][batched][threads]") {
  // Each case splits over threads: the output matrices, and the gradients' matrices,
  // including those that sum terms of several batch entries.
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{8, 4, 64, 32}, {8, 4, 32, 64}}, {{8, 1, 64, 32}, {4, 32, 64}}};
  std::uint32_t salt = 100;
  for (const auto& [xs, ws] : cases) {
    INFO("x " << shape_string(xs) << ", w " << shape_string(ws));
    const Array xv = hashed_values(xs, salt++);
    const Array wv = hashed_values(ws, salt++);
    const Array seed = hashed_values({8, 4, 64, 64}, salt++);
    const auto runs = testing::run_at_1_and_2_threads([&] {
      const Tensor x = Tensor::parameter(xv, "x");
      const Tensor w = Tensor::parameter(wv, "w");
      Tape tape;
      const Tensor y = matmul(tape, x, w);
      tape.backward(y, seed);
      return std::vector<Array>{y.value(), x.grad().dense(), w.grad().dense()};
    });
    CHECK(runs.regions_at_two >= 3);  // the forward and both gradients were split
    CHECK(runs.differing_outputs().empty());
  }
}

TEST_CASE("Batched matmul on an inference tape records nothing", "[core][ops][matmul][batched]") {
  Tape tape(Tape::Mode::inference);
  const Tensor x = Tensor::parameter(hashed_values({2, 3, 4}, 110), "x");
  const Tensor w = Tensor::parameter(hashed_values({2, 4, 5}, 111), "w");
  const Tensor y = matmul(tape, x, w);
  const Tensor z = matmul_transposed(tape, x, x);
  CHECK(tape.size() == 0);
  CHECK_FALSE(y.requires_grad());
  CHECK_FALSE(z.requires_grad());
  CHECK(shape_of(z.value()) == Shape{2, 3, 3});
}

TEST_CASE("Batched matmul with mismatched inner or batch axes throws naming the op and both shapes",
          "[core][ops][matmul][batched]") {
  Tape tape;
  const auto p = [](const Shape& s) { return Tensor::parameter(zeros_array(s), "t"); };
  CHECK_THROWS_MATCHES(matmul(tape, p({2, 3, 4}), p({2, 5, 6})), ShapeError,
                       Message("matmul: inner dimensions differ: x is (2, 3, 4), w is (2, 5, 6)"));
  CHECK_THROWS_MATCHES(
      matmul(tape, p({2, 3, 4, 5}), p({4, 5, 2})), ShapeError,
      Message("matmul: batch axes do not broadcast: x is (2, 3, 4, 5), w is (4, 5, 2) "
              "(batch axis -1: 3 vs 4)"));
  CHECK_THROWS_MATCHES(
      matmul_transposed(tape, p({2, 3, 4}), p({3, 5, 4})), ShapeError,
      Message("matmul_transposed: batch axes do not broadcast: x is (2, 3, 4), w is (3, 5, 4) "
              "(batch axis -1: 2 vs 3)"));
  CHECK_THROWS_MATCHES(matmul_transposed(tape, p({2, 3, 4}), p({4})), ShapeError,
                       Message("matmul_transposed: w must have at least two axes (got (4,))"));
  CHECK_THROWS_MATCHES(matmul(tape, p({2, 0, 4}), p({2, 4, 3})), ShapeError,
                       Message("matmul: empty operand: x is (2, 0, 4), w is (2, 4, 3)"));
  CHECK(tape.size() == 0);
}
