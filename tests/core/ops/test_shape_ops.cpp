// Specification of the shape ops (core/ops/shape.cpp) against NumPy's semantics, with the
// expected values worked out by hand on small iota arrays (x.flat[i] = i).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using testing::bit_equal;
using testing::hashed_values;

namespace {

// np.arange(count).reshape(shape) in float32.
Array iota(const Shape& shape) {
  Array a = Array::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<float>(i);
  return a;
}

GradientCheckResult check(const CheckedFunction& f, const std::vector<Tensor>& inputs) {
  // tanh after the op weights each output element differently, so a gradient sent to the
  // wrong position shows.
  return check_gradients([&](Tape& tape, const std::vector<Tensor>& in) { return tanh(tape, f(tape, in)); },
                         inputs);
}

// A column (n, 1): column({0, 1}) would be ambiguous with a 1-D brace list.
Array column(std::vector<float> values) {
  Array a = Array::from_shape({values.size(), 1});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

std::size_t total_elements(const std::vector<Tensor>& inputs) {
  std::size_t n = 0;
  for (const Tensor& x : inputs) n += x.size();
  return n;
}

}  // namespace

// ---- reshape ----

TEST_CASE("reshape infers the one -1 extent from the element count", "[core][ops][shape][reshape]") {
  Tape tape;
  const Tensor x(iota({2, 3, 4}));
  const Tensor a = reshape(tape, x, {-1, 4});
  CHECK(a.shape() == Shape{6, 4});
  CHECK(bit_equal(a.value(), iota({6, 4})));
  CHECK(reshape(tape, x, {2, -1}).shape() == Shape{2, 12});
  CHECK(reshape(tape, x, std::vector<std::int64_t>{-1}).shape() == Shape{24});
  CHECK(reshape(tape, x, {3, -1, 2}).shape() == Shape{3, 4, 2});
}

TEST_CASE("reshape takes Shape values, size_t and int braced lists alike", "[core][ops][shape][reshape]") {
  Tape tape;
  const Tensor x(iota({2, 3}));
  const std::size_t rows = 3, cols = 2;
  const Shape shape{6};
  CHECK(reshape(tape, x, {3, 2}).shape() == Shape{3, 2});
  CHECK(reshape(tape, x, {rows, cols}).shape() == Shape{3, 2});
  CHECK(reshape(tape, x, {rows, -1}).shape() == Shape{3, 2});
  CHECK(reshape(tape, x, shape).shape() == Shape{6});
  CHECK(reshape(tape, Tensor(iota({1})), {}).shape() == Shape{});
}

TEST_CASE("reshape with -1 rejects two -1s, an indivisible count and a count mismatch, naming both shapes",
          "[core][ops][shape][reshape]") {
  Tape tape;
  const Tensor x(iota({2, 3}));
  CHECK_THROWS_MATCHES(reshape(tape, x, {-1, -1}), ShapeError,
                       Catch::Matchers::Message("reshape: cannot reshape (2, 3) to (-1, -1): only one extent may be -1"));
  CHECK_THROWS_MATCHES(reshape(tape, x, {4, -1}), ShapeError,
                       Catch::Matchers::Message("reshape: cannot reshape (2, 3) to (4, -1): 6 elements do not divide by 4"));
  CHECK_THROWS_WITH(reshape(tape, x, {5, 1}), Contains("cannot reshape (2, 3) to (5, 1): element counts differ"));
  CHECK_THROWS_WITH(reshape(tape, x, {-2, -3}), Contains("(-2, -3)") && Contains("negative"));
  CHECK_THROWS_WITH(reshape(tape, Tensor(iota({0, 3})), {0, -1}), Contains("(0, -1)") && Contains("undetermined"));
  CHECK(tape.size() == 0);
}

TEST_CASE("reshape with -1 passes the gradient back in x's shape", "[core][ops][shape][reshape]") {
  const std::vector<Tensor> inputs{Tensor::parameter(hashed_values({2, 3, 2}, 1), "x")};
  const auto result = check([](Tape& tape, const std::vector<Tensor>& in) { return reshape(tape, in[0], {-1, 3}); },
                            inputs);
  INFO(result.worst);
  CHECK(result.elements_checked == 12);
  CHECK(result.ok);
}

// ---- transpose / permute ----

TEST_CASE("transpose with axes makes output axis i the input axis axes[i]", "[core][ops][shape][transpose]") {
  Tape tape;
  const Tensor x(iota({2, 3, 4}));  // x[a, b, c] = 12a + 4b + c
  // out[i, j, k] = x[j, k, i] = 12j + 4k + i, shape (4, 2, 3).
  const Array expected{{{0, 4, 8}, {12, 16, 20}},
                       {{1, 5, 9}, {13, 17, 21}},
                       {{2, 6, 10}, {14, 18, 22}},
                       {{3, 7, 11}, {15, 19, 23}}};
  CHECK(bit_equal(transpose(tape, x, {2, 0, 1}).value(), expected));
  CHECK(bit_equal(transpose(tape, x, {-1, -3, -2}).value(), expected));
  CHECK(bit_equal(permute(tape, x, {2, 0, 1}).value(), expected));
}

TEST_CASE("transpose without axes reverses them, the matrix transpose for 2-D", "[core][ops][shape][transpose]") {
  Tape tape;
  CHECK(bit_equal(transpose(tape, Tensor(iota({2, 3}))).value(), Array{{0, 3}, {1, 4}, {2, 5}}));
  const Array y = transpose(tape, Tensor(iota({2, 3, 4}))).value();  // y[i, j, k] = x[k, j, i]
  REQUIRE(shape_of(y) == Shape{4, 3, 2});
  CHECK(y(0, 0, 1) == 12.0f);
  CHECK(y(3, 2, 1) == 23.0f);
  CHECK(y(1, 2, 0) == 9.0f);
  CHECK(bit_equal(transpose(tape, Tensor(iota({5}))).value(), iota({5})));
}

TEST_CASE("transpose of the last two axes matches an element loop on shapes that are not whole tiles",
          "[core][ops][shape][transpose]") {
  Tape tape;
  const Array xv = hashed_values({3, 70, 45}, 2);
  const Array y = transpose(tape, Tensor(xv), {0, 2, 1}).value();
  REQUIRE(shape_of(y) == Shape{3, 45, 70});
  std::size_t wrong = 0;
  for (std::size_t a = 0; a < 3; ++a)
    for (std::size_t b = 0; b < 45; ++b)
      for (std::size_t c = 0; c < 70; ++c) wrong += y(a, b, c) != xv(a, c, b);
  CHECK(wrong == 0);
}

TEST_CASE("transpose backward applies the inverse permutation", "[core][ops][shape][transpose]") {
  const Tensor x = Tensor::parameter(zeros_array({2, 3, 4}), "x");
  Tape tape;
  const Tensor y = transpose(tape, x, {2, 0, 1});  // (4, 2, 3)
  tape.backward(y, iota({4, 2, 3}));                // dy[i, j, k] = 6i + 3j + k
  // dx[a, b, c] = dy[c, a, b] = 6c + 3a + b.
  const Array& dx = x.grad().dense();
  CHECK(dx(0, 0, 0) == 0.0f);
  CHECK(dx(0, 0, 1) == 6.0f);
  CHECK(dx(1, 2, 3) == 23.0f);
  CHECK(dx(1, 0, 2) == 15.0f);
}

TEST_CASE("transpose backward adds to a gradient already there", "[core][ops][shape][transpose]") {
  const Tensor x = Tensor::parameter(zeros_array({2, 3}), "x");
  Tape tape;
  const Tensor y = add(tape, transpose(tape, x), transpose(tape, x, {-1, -2}));  // 2 x^T, (3, 2)
  tape.backward(y, Array{{1, 2}, {3, 4}, {5, 6}});
  CHECK(bit_equal(x.grad().dense(), Array{{2, 6, 10}, {4, 8, 12}}));
}

TEST_CASE("transpose gradients match finite differences", "[core][ops][shape][transpose]") {
  const std::vector<Tensor> inputs{Tensor::parameter(hashed_values({2, 3, 4}, 3), "x")};
  for (const Axes& axes : {Axes{2, 0, 1}, Axes{0, 2, 1}, Axes{1, 0, 2}}) {
    const auto result = check([&](Tape& tape, const std::vector<Tensor>& in) { return transpose(tape, in[0], axes); },
                              inputs);
    INFO(result.worst);
    CHECK(result.elements_checked == 24);
    CHECK(result.ok);
  }
}

TEST_CASE("transpose rejects axes that are not a permutation, naming the op, axes and shape",
          "[core][ops][shape][transpose]") {
  Tape tape;
  const Tensor x(iota({2, 3}));
  CHECK_THROWS_MATCHES(transpose(tape, x, {0, 0}), ShapeError,
                       Catch::Matchers::Message("transpose: axes (0, 0) are not a permutation of the axes of "
                                                "shape (2, 3) (axis 0 appears twice)"));
  CHECK_THROWS_MATCHES(transpose(tape, x, {1, 0, 2}), ShapeError,
                       Catch::Matchers::Message("transpose: axes (1, 0, 2) do not match a 2-D input (shape (2, 3))"));
  CHECK_THROWS_WITH(permute(tape, x, {0, 2}), Contains("permute: axis 2 is out of range") && Contains("(2, 3)"));
}

TEST_CASE("transpose is bit-identical with 1 and 2 threads", "[core][ops][shape][transpose][threads]") {
  const Array xv = hashed_values({2, 400, 300}, 4);  // 240000 elements, above parallel::kMinWork
  const Array seed = hashed_values({2, 300, 400}, 5);
  const auto runs = testing::run_at_1_and_2_threads([&] {
    const Tensor x = Tensor::parameter(xv, "x");
    Tape tape;
    const Tensor y = transpose(tape, x, {0, 2, 1});
    tape.backward(y, seed);
    return std::vector<Array>{y.value(), x.grad().dense()};
  });
  CHECK(runs.regions_at_two >= 2);
  CHECK(runs.differing_outputs().empty());
}

// ---- slice ----

TEST_CASE("Slice::indices follows Python's slice.indices clamping", "[core][ops][shape][slice]") {
  auto take = [](const Slice& s, std::size_t n) {
    const SliceRange r = s.indices(n);
    return std::vector<std::int64_t>{r.start, r.step, static_cast<std::int64_t>(r.length)};
  };
  using V = std::vector<std::int64_t>;
  CHECK(take(Slice::all(), 5) == V{0, 1, 5});
  CHECK(take(Slice::range(-100, 100), 5) == V{0, 1, 5});
  CHECK(take(Slice::range(10, 20), 5) == V{5, 1, 0});
  CHECK(take(Slice::range(1, -1), 5) == V{1, 1, 3});
  CHECK(take(Slice::range(-2, {}), 5) == V{3, 1, 2});
  CHECK(take(Slice::range({}, {}, 2), 5) == V{0, 2, 3});
  CHECK(take(Slice::range({}, {}, -1), 5) == V{4, -1, 5});
  CHECK(take(Slice::range(3, 0, -1), 5) == V{3, -1, 3});
  CHECK(take(Slice::range({}, {}, -3), 7) == V{6, -3, 3});
  CHECK(take(Slice::range(10, {}, -2), 5) == V{4, -2, 3});
  CHECK(take(Slice::range(-10, {}, -1), 5) == V{-1, -1, 0});
  CHECK(take(Slice::range(0, 5, -1), 5) == V{0, -1, 0});
  CHECK(take(Slice::index(-1), 5) == V{4, 1, 1});
}

TEST_CASE("slice with an index removes the axis, as x[:, -1, :]", "[core][ops][shape][slice]") {
  Tape tape;
  const Tensor x(iota({2, 3, 4}));
  const Tensor y = slice(tape, x, {Slice::all(), Slice::index(-1), Slice::all()});
  CHECK(bit_equal(y.value(), Array{{8, 9, 10, 11}, {20, 21, 22, 23}}));
  const Tensor e = slice(tape, x, {Slice::index(1), Slice::index(0), Slice::index(-2)});
  CHECK(e.shape() == Shape{});
  CHECK(e.value()() == 14.0f);
}

TEST_CASE("slice takes begin, end and step, clamped, as x[1:3, ::2]", "[core][ops][shape][slice]") {
  Tape tape;
  const Tensor x(iota({2, 3, 4}));
  // Axis 0 has 2 elements, so 1:3 is [1]; ::2 takes rows 0 and 2; the last axis is whole.
  const Tensor y = slice(tape, x, {Slice::range(1, 3), Slice::range({}, {}, 2)});
  CHECK(bit_equal(y.value(), Array{{{12, 13, 14, 15}, {20, 21, 22, 23}}}));
  const Tensor z = slice(tape, x, {Slice::all(), Slice::range(5, 9)});
  CHECK(z.shape() == Shape{2, 0, 4});
}

TEST_CASE("slice with a negative step reverses, as x[::-1] and x[:, ::-2, 1]", "[core][ops][shape][slice]") {
  Tape tape;
  const Tensor x(iota({2, 3, 4}));
  const Array reversed = slice(tape, x, {Slice::range({}, {}, -1)}).value();
  CHECK(bit_equal(reversed, Array{{{12, 13, 14, 15}, {16, 17, 18, 19}, {20, 21, 22, 23}},
                                  {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}}}));
  const Array y = slice(tape, x, {Slice::all(), Slice::range({}, {}, -2), Slice::index(1)}).value();
  CHECK(bit_equal(y, Array{{9, 1}, {21, 13}}));
}

TEST_CASE("slice backward scatters dout into zeros of x's shape", "[core][ops][shape][slice]") {
  const Tensor x = Tensor::parameter(zeros_array({2, 3}), "x");
  Tape tape;
  const Tensor y = slice(tape, x, {Slice::range({}, {}, -1), Slice::range(0, 3, 2)});  // x[::-1, 0:3:2]
  tape.backward(y, Array{{1, 2}, {3, 4}});
  CHECK(bit_equal(x.grad().dense(), Array{{3, 0, 4}, {1, 0, 2}}));
}

TEST_CASE("slice gradients match finite differences, overlapping slices summed", "[core][ops][shape][slice]") {
  const std::vector<Tensor> inputs{Tensor::parameter(hashed_values({3, 4, 5}, 6), "x")};
  const auto result = check(
      [](Tape& tape, const std::vector<Tensor>& in) {
        const Tensor a = slice(tape, in[0], {Slice::range(-1, -4, -1), Slice::index(2), Slice::range(1, {}, 2)});
        const Tensor b = slice(tape, in[0], {Slice::all(), Slice::index(-2), Slice::range(1, {}, 2)});
        return add(tape, a, mul(tape, b, b));  // both (3, 2), the same elements of x in another order
      },
      inputs);
  INFO(result.worst);
  CHECK(result.elements_checked == 60);
  CHECK(result.ok);
}

TEST_CASE("slice rejects an index out of range naming the axis, index, extent and shape",
          "[core][ops][shape][slice]") {
  Tape tape;
  const Tensor x(iota({2, 3, 4}));
  CHECK_THROWS_MATCHES(slice(tape, x, {Slice::all(), Slice::index(3)}), ShapeError,
                       Catch::Matchers::Message("slice: index 3 is out of range for axis 1 with extent 3 "
                                                "(shape (2, 3, 4))"));
  CHECK_THROWS_WITH(slice(tape, x, {Slice::index(-3)}), Contains("index -3 is out of range for axis 0 with extent 2"));
  CHECK_THROWS_MATCHES(slice(tape, x, {Slice::all(), Slice::all(), Slice::all(), Slice::all()}), ShapeError,
                       Catch::Matchers::Message("slice: 4 slices for a 3-D input (shape (2, 3, 4))"));
  CHECK_THROWS_AS(Slice::range(0, 2, 0), std::invalid_argument);
  CHECK(tape.size() == 0);
}

TEST_CASE("slice is bit-identical with 1 and 2 threads", "[core][ops][shape][slice][threads]") {
  const Array xv = hashed_values({600, 600}, 7);
  const Array seed = hashed_values({600, 300}, 8);  // 180000 elements, above parallel::kMinWork
  const auto runs = testing::run_at_1_and_2_threads([&] {
    const Tensor x = Tensor::parameter(xv, "x");
    Tape tape;
    const Tensor y = slice(tape, x, {Slice::range({}, {}, -1), Slice::range(1, {}, 2)});
    tape.backward(y, seed);
    return std::vector<Array>{y.value(), x.grad().dense()};
  });
  CHECK(runs.regions_at_two >= 2);
  CHECK(runs.differing_outputs().empty());
}

// ---- concat, stack, split ----

TEST_CASE("concat joins inputs along an axis, negative axes included", "[core][ops][shape][concat]") {
  Tape tape;
  const Tensor a(column({0, 1}));
  const Tensor b(Array{{10, 11}, {12, 13}});
  const Array expected{{0, 10, 11}, {1, 12, 13}};
  CHECK(bit_equal(concat(tape, {a, b}, 1).value(), expected));
  CHECK(bit_equal(concat(tape, {a, b}, -1).value(), expected));
  CHECK(bit_equal(concat(tape, {b, Tensor(Array{{5, 6}})}).value(), Array{{10, 11}, {12, 13}, {5, 6}}));
}

TEST_CASE("stack joins inputs of one shape along a new axis", "[core][ops][shape][stack]") {
  Tape tape;
  const Tensor a(Array{1, 2, 3});
  const Tensor b(Array{4, 5, 6});
  CHECK(bit_equal(stack(tape, {a, b}).value(), Array{{1, 2, 3}, {4, 5, 6}}));
  CHECK(bit_equal(stack(tape, {a, b}, 1).value(), Array{{1, 4}, {2, 5}, {3, 6}}));
  CHECK(bit_equal(stack(tape, {a, b}, -1).value(), Array{{1, 4}, {2, 5}, {3, 6}}));
  const Tensor c(iota({2, 3}));
  // np.stack([c, c + 6], axis=1)[i, j, k] = (c, c + 6)[j][i, k].
  const Array y = stack(tape, {c, Tensor(iota({2, 3}) + 6.0f)}, 1).value();
  CHECK(bit_equal(y, Array{{{0, 1, 2}, {6, 7, 8}}, {{3, 4, 5}, {9, 10, 11}}}));
}

TEST_CASE("split cuts equal sections and split_sizes pieces of given extents", "[core][ops][shape][split]") {
  Tape tape;
  const Tensor x(iota({2, 6}));
  const std::vector<Tensor> thirds = split(tape, x, 3, 1);
  REQUIRE(thirds.size() == 3);
  CHECK(bit_equal(thirds[0].value(), Array{{0, 1}, {6, 7}}));
  CHECK(bit_equal(thirds[2].value(), Array{{4, 5}, {10, 11}}));
  const std::vector<Tensor> pieces = split_sizes(tape, Tensor(iota({3, 2})), {1, 0, 2});
  REQUIRE(pieces.size() == 3);
  CHECK(bit_equal(pieces[0].value(), Array{{0, 1}}));
  CHECK(pieces[1].shape() == Shape{0, 2});
  CHECK(bit_equal(pieces[2].value(), Array{{2, 3}, {4, 5}}));
}

TEST_CASE("split backward writes each piece's gradient into its part of x's, zero for unused pieces",
          "[core][ops][shape][split]") {
  const Tensor x = Tensor::parameter(zeros_array({2, 3}), "x");
  Tape tape;
  const std::vector<Tensor> cols = split(tape, x, 3, -1);
  tape.backward(sum(tape, add(tape, cols[0], mul(tape, cols[2], Tensor(column({5, 7}))))));
  CHECK(bit_equal(x.grad().dense(), Array{{1, 0, 5}, {1, 0, 7}}));
}

TEST_CASE("concat, stack and split gradients match finite differences", "[core][ops][shape][concat]") {
  const std::vector<Tensor> inputs{Tensor::parameter(hashed_values({2, 1, 3}, 9), "a"),
                                   Tensor::parameter(hashed_values({2, 2, 3}, 10), "b"),
                                   Tensor::parameter(hashed_values({2, 3, 3}, 11), "c")};
  const auto concat_result =
      check([](Tape& tape, const std::vector<Tensor>& in) { return concat(tape, in, 1); }, inputs);
  INFO(concat_result.worst);
  CHECK(concat_result.elements_checked == total_elements(inputs));
  CHECK(concat_result.ok);

  const std::vector<Tensor> same{Tensor::parameter(hashed_values({2, 3}, 12), "p"),
                                 Tensor::parameter(hashed_values({2, 3}, 13), "q")};
  const auto stack_result =
      check([](Tape& tape, const std::vector<Tensor>& in) { return stack(tape, in, -1); }, same);
  INFO(stack_result.worst);
  CHECK(stack_result.elements_checked == 12);
  CHECK(stack_result.ok);

  const auto split_result = check(
      [](Tape& tape, const std::vector<Tensor>& in) {
        const std::vector<Tensor> p = split_sizes(tape, in[0], {1, 2, 1}, 1);
        return add(tape, mul(tape, p[0], p[2]), slice(tape, p[1], {Slice::all(), Slice::range(1, 2)}));
      },
      {Tensor::parameter(hashed_values({3, 4}, 14), "x")});
  INFO(split_result.worst);
  CHECK(split_result.elements_checked == 12);
  CHECK(split_result.ok);
}

TEST_CASE("concat, stack and split reject bad shapes naming the op, shapes and axis", "[core][ops][shape][concat]") {
  Tape tape;
  const Tensor a(iota({2, 3}));
  const Tensor b(iota({3, 2}));
  CHECK_THROWS_MATCHES(concat(tape, {a, b}, 1), ShapeError,
                       Catch::Matchers::Message("concat: input 1 has shape (3, 2), input 0 (2, 3): they must "
                                                "agree on every axis but axis 1"));
  CHECK_THROWS_WITH(concat(tape, {a, Tensor(iota({6}))}), Contains("concat: input 1 has shape (6,)"));
  CHECK_THROWS_WITH(concat(tape, {a}, 2), Contains("concat: axis 2 is out of range"));
  CHECK_THROWS_AS(concat(tape, {}), ShapeError);
  CHECK_THROWS_WITH(stack(tape, {a, b}), Contains("stack: input 1 has shape (3, 2), input 0 (2, 3)"));
  CHECK_THROWS_MATCHES(stack(tape, {a, a}, 3), ShapeError,
                       Catch::Matchers::Message("stack: axis 3 is out of range for stacking 2-D inputs "
                                                "(shape (2, 3)) into 3-D"));
  CHECK_THROWS_MATCHES(split(tape, a, 2, 1), ShapeError,
                       Catch::Matchers::Message("split: axis 1 of shape (2, 3) (extent 3) does not split "
                                                "into 2 equal sections"));
  CHECK_THROWS_WITH(split(tape, a, 0, 0), Contains("into 0 equal sections"));
  CHECK_THROWS_MATCHES(split_sizes(tape, a, {1, 1}, -1), ShapeError,
                       Catch::Matchers::Message("split_sizes: sizes (1, 1) sum to 2, but axis -1 of shape (2, 3) "
                                                "has extent 3"));
  CHECK(tape.size() == 0);
}

TEST_CASE("concat is bit-identical with 1 and 2 threads", "[core][ops][shape][concat][threads]") {
  const Array av = hashed_values({300, 512}, 15);
  const Array bv = hashed_values({300, 512}, 16);
  const Array seed = hashed_values({300, 1024}, 17);  // 153600 elements per input
  const auto runs = testing::run_at_1_and_2_threads([&] {
    const Tensor a = Tensor::parameter(av, "a");
    const Tensor b = Tensor::parameter(bv, "b");
    Tape tape;
    const Tensor y = concat(tape, {a, b}, 1);
    tape.backward(y, seed);
    return std::vector<Array>{y.value(), a.grad().dense(), b.grad().dense()};
  });
  CHECK(runs.regions_at_two >= 2);
  CHECK(runs.differing_outputs().empty());
}

// ---- broadcast_to ----

TEST_CASE("broadcast_to repeats x along the broadcast axes", "[core][ops][shape][broadcast_to]") {
  Tape tape;
  CHECK(bit_equal(broadcast_to(tape, Tensor(Array{1, 2, 3}), {2, 3}).value(), Array{{1, 2, 3}, {1, 2, 3}}));
  CHECK(bit_equal(broadcast_to(tape, Tensor(column({1, 2})), {2, 3}).value(), Array{{1, 1, 1}, {2, 2, 2}}));
  Array scalar = Array::from_shape(Array::shape_type{});
  scalar() = 7.0f;
  CHECK(bit_equal(broadcast_to(tape, Tensor(scalar), {2, 2}).value(), Array{{7, 7}, {7, 7}}));
}

TEST_CASE("broadcast_to backward sums dout over the broadcast axes", "[core][ops][shape][broadcast_to]") {
  const Tensor x = Tensor::parameter(zeros_array({2, 1}), "x");
  Tape tape;
  tape.backward(broadcast_to(tape, x, {3, 2, 3}), iota({3, 2, 3}));
  // dx[r, 0] = sum over i, k of (6i + 3r + k): r = 0 gives 3 * (0 + 1 + 2) + 3 * 6 * 3 = 63.
  CHECK(bit_equal(x.grad().dense(), column({63, 90})));
  const auto result = check([](Tape& t, const std::vector<Tensor>& in) { return broadcast_to(t, in[0], {2, 3, 4}); },
                            {Tensor::parameter(hashed_values({3, 1}, 18), "x")});
  INFO(result.worst);
  CHECK(result.elements_checked == 3);
  CHECK(result.ok);
}

TEST_CASE("broadcast_to rejects a shape x does not broadcast to, naming both shapes and the axis",
          "[core][ops][shape][broadcast_to]") {
  Tape tape;
  CHECK_THROWS_MATCHES(broadcast_to(tape, Tensor(iota({2, 3})), {4, 3}), ShapeError,
                       Catch::Matchers::Message("broadcast_to: cannot broadcast (2, 3) to (4, 3): axis -2 has "
                                                "extent 2, not 1 or 4"));
  CHECK_THROWS_WITH(broadcast_to(tape, Tensor(iota({3})), {}), Contains("cannot broadcast (3,) to ()"));
}

TEST_CASE("broadcast_to is bit-identical with 1 and 2 threads", "[core][ops][shape][broadcast_to][threads]") {
  const Array xv = hashed_values({1, 512}, 19);
  const Array seed = hashed_values({512, 512}, 20);
  const auto runs = testing::run_at_1_and_2_threads([&] {
    const Tensor x = Tensor::parameter(xv, "x");
    Tape tape;
    const Tensor y = broadcast_to(tape, x, {512, 512});
    tape.backward(y, seed);
    return std::vector<Array>{y.value(), x.grad().dense()};
  });
  CHECK(runs.regions_at_two >= 1);  // the forward copy; unbroadcast runs on one thread
  CHECK(runs.differing_outputs().empty());
}

// ---- take ----

TEST_CASE("take replaces the axis by the indices, as np.take", "[core][ops][shape][take]") {
  Tape tape;
  const Tensor x(iota({2, 3, 4}));
  CHECK(bit_equal(take(tape, x, TokenIds{2, 0, 2}, 1).value(),
                  Array{{{8, 9, 10, 11}, {0, 1, 2, 3}, {8, 9, 10, 11}},
                        {{20, 21, 22, 23}, {12, 13, 14, 15}, {20, 21, 22, 23}}}));
  CHECK(bit_equal(take(tape, x, TokenIds{3, 0}, -1).value(),
                  Array{{{3, 0}, {7, 4}, {11, 8}}, {{15, 12}, {19, 16}, {23, 20}}}));
  // 2-D indices along axis 0 of (3, 2): out (2, 2, 2).
  const Tensor m(iota({3, 2}));
  CHECK(bit_equal(take(tape, m, TokenIds({2, 0, 1, 2}, {2, 2}), 0).value(),
                  Array{{{4, 5}, {0, 1}}, {{2, 3}, {4, 5}}}));
}

TEST_CASE("take backward scatter-adds, repeated indices summed", "[core][ops][shape][take]") {
  const Tensor x = Tensor::parameter(zeros_array({3, 2}), "x");
  Tape tape;
  tape.backward(take(tape, x, TokenIds{0, 2, 0}, 0), Array{{1, 2}, {3, 4}, {5, 6}});
  CHECK(bit_equal(x.grad().dense(), Array{{6, 8}, {0, 0}, {3, 4}}));
  const auto result = check(
      [](Tape& t, const std::vector<Tensor>& in) { return take(t, in[0], TokenIds({1, 1, 0, 3, 1, 0}, {3, 2}), 1); },
      {Tensor::parameter(hashed_values({2, 4, 3}, 21), "x")});
  INFO(result.worst);
  CHECK(result.elements_checked == 24);
  CHECK(result.ok);
}

TEST_CASE("take rejects an index out of range naming position, value and extent, before any work",
          "[core][ops][shape][take]") {
  const Tensor x = Tensor::parameter(iota({2, 3, 4}), "x");
  Tape tape;
  CHECK_THROWS_MATCHES(take(tape, x, TokenIds{0, 3}, 1), TokenIdOutOfRange,
                       Catch::Matchers::Message("take: axis 1 of shape (2, 3, 4): token id 3 at position 1 is out "
                                                "of range [0, 3)"));
  CHECK_THROWS_WITH(take(tape, x, TokenIds{-1}, 0), Contains("token id -1 at position 0 is out of range [0, 2)"));
  CHECK_THROWS_WITH(take(tape, x, TokenIds{0}, 3), Contains("take: axis 3 is out of range for a 3-D input"));
  CHECK(tape.size() == 0);
  CHECK(x.grad().empty());
}

TEST_CASE("take is bit-identical with 1 and 2 threads", "[core][ops][shape][take][threads]") {
  const Array xv = hashed_values({300, 1024}, 22);
  std::vector<std::int64_t> ids(150);
  for (std::size_t t = 0; t < ids.size(); ++t) ids[t] = static_cast<std::int64_t>((t * t * 7) % 97);  // repeats
  const TokenIds indices(ids);
  const Array seed = hashed_values({150, 1024}, 23);  // 153600 elements
  const auto runs = testing::run_at_1_and_2_threads([&] {
    const Tensor x = Tensor::parameter(xv, "x");
    Tape tape;
    const Tensor y = take(tape, x, indices, 0);
    tape.backward(y, seed);
    return std::vector<Array>{y.value(), x.grad().dense()};
  });
  CHECK(runs.regions_at_two >= 2);
  CHECK(runs.differing_outputs().empty());
}

// ---- all of them ----

TEST_CASE("Every shape op records nothing on an inference tape", "[core][ops][shape]") {
  const Tensor x = Tensor::parameter(iota({2, 3, 4}), "x");
  Tape tape(Tape::Mode::inference);
  std::vector<Tensor> outputs{reshape(tape, x, {-1, 4}),
                              transpose(tape, x),
                              slice(tape, x, {Slice::index(0)}),
                              concat(tape, {x, x}, 2),
                              stack(tape, {x, x}),
                              broadcast_to(tape, x, {2, 2, 3, 4}),
                              take(tape, x, TokenIds{1, 1}, 2)};
  for (const Tensor& piece : split(tape, x, 2, 2)) outputs.push_back(piece);
  CHECK(tape.size() == 0);
  for (const Tensor& y : outputs) CHECK_FALSE(y.requires_grad());
}
