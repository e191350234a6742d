// Specification of RowSparseGrad and of Gradient's accumulation rules.
#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using xgrad::testing::bit_equal;

namespace {
void add_row(RowSparseGrad& g, std::int32_t row, std::vector<float> values) {
  float* dst = g.accumulate_row(row);
  for (std::size_t j = 0; j < values.size(); ++j) dst[j] += values[j];
}
}  // namespace

TEST_CASE("RowSparseGrad keeps unique rows in order of first use and sums repeats",
          "[core][row_sparse_grad]") {
  RowSparseGrad g(6, 2);
  add_row(g, 4, {1, 2});
  add_row(g, 1, {10, 20});
  add_row(g, 4, {100, 200});
  CHECK(g.rows() == std::vector<std::int32_t>{4, 1});
  const xt::xtensor<float, 2> expected = {{101, 202}, {10, 20}};
  CHECK((g.values() == expected));
}

TEST_CASE("RowSparseGrad to_dense puts each summed row in place and zeros elsewhere",
          "[core][row_sparse_grad]") {
  RowSparseGrad g(3, 2);
  add_row(g, 2, {1, -1});
  add_row(g, 2, {1, 1});
  const Array expected = {{0, 0}, {0, 0}, {2, 0}};
  CHECK(bit_equal(g.to_dense(), expected));
}

TEST_CASE("RowSparseGrad clear forgets rows so the next use starts from zero",
          "[core][row_sparse_grad]") {
  RowSparseGrad g(3, 1);
  add_row(g, 0, {5});
  g.clear();
  CHECK(g.empty());
  add_row(g, 0, {1});
  CHECK(g.rows() == std::vector<std::int32_t>{0});
  CHECK(g.row_values(0)[0] == 1.0f);
}

TEST_CASE("Sparse plus sparse stays sparse with merged rows", "[core][gradient]") {
  Gradient a(Shape{4, 2});
  Gradient b(Shape{4, 2});
  a.accumulate_row(1)[0] += 1.0f;
  b.accumulate_row(1)[0] += 2.0f;
  b.accumulate_row(3)[1] += 5.0f;
  a.add(b);
  REQUIRE(a.kind() == Gradient::Kind::row_sparse);
  CHECK(a.row_sparse().rows() == std::vector<std::int32_t>{1, 3});
  const Array expected = {{0, 0}, {3, 0}, {0, 0}, {0, 5}};
  CHECK(bit_equal(a.to_dense(), expected));
}

TEST_CASE("Sparse plus dense becomes dense and keeps both contributions", "[core][gradient]") {
  Gradient g(Shape{3, 2});
  g.accumulate_row(2)[1] += 4.0f;
  g.add_dense(Array{{1, 1}, {1, 1}, {1, 1}}, "test");
  REQUIRE(g.kind() == Gradient::Kind::dense);
  const Array expected = {{1, 1}, {1, 1}, {1, 5}};
  CHECK(bit_equal(g.dense(), expected));
  g.accumulate_row(0)[0] += 1.0f;  // rows added after densifying go into the dense buffer
  CHECK(g.dense()(0, 0) == 2.0f);
}

TEST_CASE("A dense contribution of the wrong shape is a shape error naming the op",
          "[core][gradient]") {
  Gradient g(Shape{2, 2});
  CHECK_THROWS_MATCHES(g.add_dense(Array{1, 2, 3}, "my_op"), ShapeError,
                       Catch::Matchers::Message("my_op: gradient of shape (3,) does not match value of shape (2, 2)"));
  CHECK(g.empty());
}

TEST_CASE("A cleared dense gradient starts again from zero", "[core][gradient]") {
  Gradient g(Shape{2});
  g.add_dense(Array{1, 2}, "test");
  g.clear();
  CHECK(g.empty());
  g.add_dense(Array{3, 4}, "test");
  CHECK(bit_equal(g.dense(), Array{3, 4}));
}

TEST_CASE("Gradient norm is the Euclidean norm of every stored value", "[core][gradient]") {
  Gradient g(Shape{5, 2});
  g.accumulate_row(4)[0] += 3.0f;
  g.accumulate_row(0)[1] += 4.0f;
  CHECK(g.norm() == Approx(5.0));
}
