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

// grad[row, :] += values through the Gradient's one way of adding rows.
void add_row(Gradient& g, std::int32_t row, std::vector<float> values) {
  g.scatter_add_rows(&row, 1, values.data());
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

TEST_CASE("Scatter of rows equals adding them one by one, skipped rows aside",
          "[core][row_sparse_grad]") {
  const std::vector<std::int32_t> rows{4, 1, 4, 0, 9, 1, 4};
  const Array values = testing::hashed_values({rows.size(), 3}, 5);
  RowSparseGrad bulk(10, 3), one_by_one(10, 3);
  one_by_one.accumulate_row(1)[2] += 1.0f;  // a row present before the scatter
  bulk.accumulate_row(1)[2] += 1.0f;
  bulk.scatter_add(rows.data(), rows.size(), values.data(), 9);
  for (std::size_t t = 0; t < rows.size(); ++t) {
    if (rows[t] == 9) continue;
    float* dst = one_by_one.accumulate_row(rows[t]);
    for (std::size_t j = 0; j < 3; ++j) dst[j] += values.data()[t * 3 + j];
  }
  CHECK(bulk.rows() == std::vector<std::int32_t>{1, 4, 0});
  CHECK(bulk.rows() == one_by_one.rows());
  CHECK(bit_equal(bulk.to_dense(), one_by_one.to_dense()));
}

TEST_CASE("A second scatter into the same gradient sums into its rows and opens new ones after them",
          "[core][row_sparse_grad]") {
  const std::vector<std::int32_t> first{3, 3, 0}, second{5, 0, 5, 2};
  const Array a = testing::hashed_values({first.size(), 2}, 1);
  const Array b = testing::hashed_values({second.size(), 2}, 2);
  RowSparseGrad twice(6, 2), one_by_one(6, 2);
  twice.scatter_add(first.data(), first.size(), a.data());
  twice.scatter_add(second.data(), second.size(), b.data());
  for (std::size_t t = 0; t < first.size(); ++t) add_row(one_by_one, first[t], {a(t, 0), a(t, 1)});
  for (std::size_t t = 0; t < second.size(); ++t) add_row(one_by_one, second[t], {b(t, 0), b(t, 1)});
  CHECK(twice.rows() == std::vector<std::int32_t>{3, 0, 5, 2});
  CHECK(bit_equal(twice.to_dense(), one_by_one.to_dense()));
}

TEST_CASE("A new gradient holds nothing and reads as zeros", "[core][gradient]") {
  const Gradient g(Shape{2, 3});
  CHECK(g.empty());
  CHECK(g.kind() == Gradient::Kind::none);
  CHECK(bit_equal(g.to_dense(), zeros_array({2, 3})));
  CHECK(g.norm() == 0.0);
  CHECK_THROWS_AS(g.dense(), std::logic_error);
  CHECK_THROWS_AS(g.row_sparse(), std::logic_error);
}

TEST_CASE("Sparse plus sparse stays sparse with merged rows", "[core][gradient]") {
  Gradient a(Shape{4, 2});
  Gradient b(Shape{4, 2});
  add_row(a, 1, {1, 0});
  add_row(b, 1, {2, 0});
  add_row(b, 3, {0, 5});
  a.add(b);
  REQUIRE(a.kind() == Gradient::Kind::row_sparse);
  CHECK(a.row_sparse().rows() == std::vector<std::int32_t>{1, 3});
  const Array expected = {{0, 0}, {3, 0}, {0, 0}, {0, 5}};
  CHECK(bit_equal(a.to_dense(), expected));
}

TEST_CASE("Sparse plus dense becomes dense and keeps both contributions", "[core][gradient]") {
  Gradient g(Shape{3, 2});
  add_row(g, 2, {0, 4});
  g.add(Array{{1, 1}, {1, 1}, {1, 1}});
  REQUIRE(g.kind() == Gradient::Kind::dense);
  const Array expected = {{1, 1}, {1, 1}, {1, 5}};
  CHECK(bit_equal(g.dense(), expected));
  add_row(g, 0, {1, 0});  // rows added after densifying go into the dense array
  CHECK(g.dense()(0, 0) == 2.0f);
}

TEST_CASE("Dense plus sparse stays dense with the rows added in place", "[core][gradient]") {
  Gradient dense(Shape{3, 2});
  dense.add(Array{{1, 1}, {1, 1}, {1, 1}});
  Gradient sparse(Shape{3, 2});
  add_row(sparse, 1, {2, 3});
  dense.add(sparse);
  REQUIRE(dense.kind() == Gradient::Kind::dense);
  CHECK(bit_equal(dense.dense(), Array{{1, 1}, {3, 4}, {1, 1}}));
}

TEST_CASE("The dense buffer of a row-sparse gradient holds its rows and zeros elsewhere",
          "[core][gradient]") {
  Gradient g(Shape{3, 2});
  add_row(g, 1, {2, 3});
  Array& buffer = g.dense_buffer();
  CHECK(g.kind() == Gradient::Kind::dense);
  CHECK(bit_equal(buffer, Array{{0, 0}, {2, 3}, {0, 0}}));
  buffer(0, 0) += 1.0f;
  CHECK(g.dense()(0, 0) == 1.0f);
}

TEST_CASE("A dense contribution of the wrong shape is a shape error naming both shapes",
          "[core][gradient]") {
  Gradient g(Shape{2, 2});
  CHECK_THROWS_MATCHES(g.add(Array{1, 2, 3}), ShapeError,
                       Catch::Matchers::Message("gradient of shape (3,) does not match its value's shape (2, 2)"));
  CHECK(g.empty());
}

TEST_CASE("A cleared dense gradient starts again from zero", "[core][gradient]") {
  Gradient g(Shape{2});
  g.add(Array{1, 2});
  g.clear();
  CHECK(g.empty());
  g.add(Array{3, 4});
  CHECK(bit_equal(g.dense(), Array{3, 4}));
}

TEST_CASE("A cleared row-sparse gradient forgets its rows", "[core][gradient]") {
  Gradient g(Shape{4, 2});
  add_row(g, 3, {1, 1});
  g.clear();
  CHECK(g.empty());
  add_row(g, 0, {2, 2});
  CHECK(g.row_sparse().rows() == std::vector<std::int32_t>{0});
  const Array expected = {{2, 2}, {0, 0}, {0, 0}, {0, 0}};
  CHECK(bit_equal(g.to_dense(), expected));
}

TEST_CASE("Gradient norm is the Euclidean norm of every stored value", "[core][gradient]") {
  Gradient g(Shape{5, 2});
  add_row(g, 4, {3, 0});
  add_row(g, 0, {0, 4});
  CHECK(g.norm() == Approx(5.0));
}

TEST_CASE("Dense plus dense adds, and an empty gradient takes a copy", "[core][gradient]") {
  Gradient a(Shape{2}), b(Shape{2}), empty(Shape{2});
  a.add(Array{1, 2});
  b.add(Array{10, 20});
  a.add(b);
  CHECK(bit_equal(a.dense(), Array{11, 22}));
  empty.add(b);
  CHECK(bit_equal(empty.dense(), Array{10, 20}));
  CHECK(empty.dense().data() != b.dense().data());
}
