// Specification of the testing kit (testing/testing.hpp): ULPs, the rows-changed check, row
// touches, the one-hot oracle, compare(), and check_gradients at the steps docs/testing.md
// recommends per op.
#include <cmath>
#include <limits>
#include <sstream>

#include <catch2/catch.hpp>

#include "testing/testing.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using testing::hashed_values;

TEST_CASE("ulp_distance counts the floats between two values across zero", "[testing]") {
  CHECK(testing::ulp_distance(1.0f, 1.0f) == 0);
  CHECK(testing::ulp_distance(1.0f, std::nextafter(1.0f, 2.0f)) == 1);
  CHECK(testing::ulp_distance(0.0f, -0.0f) == 0);
  const float tiny = std::numeric_limits<float>::denorm_min();
  CHECK(testing::ulp_distance(-tiny, tiny) == 2);
  CHECK(testing::ulp_distance(1.0f, std::nanf("")) == std::numeric_limits<std::uint64_t>::max());
  CHECK(testing::max_ulp_distance(Array{1.0f, 2.0f}, Array{std::nextafter(1.0f, 0.0f), 2.0f}) == 1);
  CHECK_THROWS_AS(testing::max_ulp_distance(Array{1.0f}, Array{1.0f, 2.0f}), ShapeError);
}

TEST_CASE("bit_identical tells -0 from +0 and checks the shape", "[testing]") {
  CHECK(testing::bit_identical(Array{1.0f, -0.0f}, Array{1.0f, -0.0f}));
  CHECK_FALSE(testing::bit_identical(Array{0.0f}, Array{-0.0f}));
  CHECK_FALSE(testing::bit_identical(Array{1.0f, 2.0f}, Array{{1.0f, 2.0f}}));
}

TEST_CASE("An SGD step on an embedding changes only the rows its ids name", "[testing]") {
  const Tensor table = Tensor::parameter(hashed_values({8, 3}, 1), "table");
  const Array before = table.value();
  Tape tape;
  tape.backward(sum(tape, embedding_lookup(tape, table, TokenIds{5, 2, 5})));
  optim::SGD(std::vector<Tensor>{table}, 0.1f).step();
  const testing::RowsChangedResult result =
      testing::check_only_rows_changed(before, table.value(), {2, 5});
  CHECK(result.ok);
  CHECK(result.unchanged_allowed_rows.empty());
  CHECK_NOTHROW(testing::expect_only_rows_changed(before, table.value(), {5, 2}));
}

TEST_CASE("A changed row outside the allowed ones is reported by row, column and values",
          "[testing]") {
  Array before = hashed_values({6, 4}, 2);
  Array after = before;
  after(1, 0) += 1.0f;   // allowed
  after(4, 2) = 0.5f;    // not allowed: the first offence
  after(5, 3) = 0.25f;   // not allowed, later
  const testing::RowsChangedResult result = testing::check_only_rows_changed(before, after, {1, 3});
  CHECK_FALSE(result.ok);
  CHECK(result.row == 4);
  CHECK(result.column == 2);
  CHECK(result.before == before(4, 2));
  CHECK(result.after == 0.5f);
  CHECK(result.unchanged_allowed_rows == std::vector<std::int32_t>{3});
  CHECK_THAT(result.message, StartsWith("row 4 column 2 changed from") &&
                                 Contains("not one of the 2 allowed rows"));
  try {
    testing::expect_only_rows_changed(before, after, {1, 3});
    FAIL("expected RowsChangedError");
  } catch (const testing::RowsChangedError& e) {
    CHECK(e.result().row == 4);
    CHECK_THAT(e.what(), StartsWith("row 4 column 2"));
  }
  CHECK_THROWS_AS(testing::check_only_rows_changed(before, after, {6}), std::out_of_range);
  CHECK_THROWS_AS(testing::check_only_rows_changed(before, Array{1.0f}, {}), ShapeError);
}

TEST_CASE("Row touches count each id's tokens, padding excluded", "[testing]") {
  const testing::RowTouches touches = testing::row_touches(TokenIds{3, 0, 3, 3, 9, 0}, 10, 9);
  CHECK(touches.rows == std::vector<std::int32_t>{3, 0});
  CHECK(touches.counts == std::vector<std::size_t>{3, 2});
  CHECK(touches.count(3) == 3);
  CHECK(touches.count(9) == 0);
  CHECK(touches.total() == 5);
  const std::vector<std::string> vocabulary{"a", "b", "c", "the"};
  CHECK(touches.describe(vocabulary) == "2 of 10 rows, 5 touches: 3 'the' x3, 0 'a' x2");
  CHECK_THROWS_AS(testing::row_touches(TokenIds{10}, 10), TokenIdOutOfRange);
}

TEST_CASE("Row touches read from a gradient follow its rows and check them against the ids",
          "[testing]") {
  const Tensor table = Tensor::parameter(hashed_values({10, 2}, 3), "table");
  const TokenIds ids{7, 1, 7};
  Tape tape;
  tape.backward(sum(tape, embedding_lookup(tape, table, ids)));
  const testing::RowTouches touches = testing::row_touches(table, ids);
  CHECK(touches.rows == table.grad().row_sparse().rows());
  CHECK(touches.counts == std::vector<std::size_t>{2, 1});
  CHECK_THROWS_WITH(testing::row_touches(table, TokenIds{7}), Contains("row 1, which none"));
  CHECK_THROWS_WITH(testing::row_touches(table, TokenIds{7, 1, 4}), Contains("no row 4"));

  const Tensor dense = Tensor::parameter(hashed_values({10, 2}, 4), "dense");
  Tape tape2;
  tape2.backward(sum(tape2, dense));
  CHECK_THROWS_WITH(testing::row_touches(dense, ids), Contains("'dense''s gradient is not row-sparse"));
}

TEST_CASE("The one-hot oracle computes a hand-checked gather and scatter densely", "[testing]") {
  const Array table{{1.0f, 2.0f}, {3.0f, 4.0f}, {5.0f, 6.0f}};
  const Array dout{{1.0f, 0.5f}, {2.0f, 0.25f}, {4.0f, 0.125f}};
  const testing::OneHotResult r = testing::one_hot_embedding(table, TokenIds{2, 0, 2}, dout);
  CHECK((r.forward == Array{{5.0f, 6.0f}, {1.0f, 2.0f}, {5.0f, 6.0f}}));
  // dW[2] = dout[0] + dout[2], dW[0] = dout[1], dW[1] untouched.
  CHECK((r.table_grad == Array{{2.0f, 0.25f}, {0.0f, 0.0f}, {5.0f, 0.625f}}));
  const testing::OneHotResult padded = testing::one_hot_embedding(table, TokenIds{2, 0, 2}, dout, 2);
  CHECK((padded.table_grad == Array{{2.0f, 0.25f}, {0.0f, 0.0f}, {0.0f, 0.0f}}));
  CHECK_THROWS_AS(testing::one_hot_embedding(table, TokenIds{0}, dout), ShapeError);
}

TEST_CASE("embedding_lookup agrees with the one-hot oracle, duplicates and padding included",
          "[testing]") {
  const Array table = hashed_values({50, 8}, 5);
  const std::vector<std::int64_t> raw{3, 17, 3, 49, 0, 17, 3, 8, 8, 21, 0, 44};
  const TokenIds ids(raw, {3, 4});
  const Array dout = hashed_values({3, 4, 8}, 6);
  const testing::OracleComparison c = testing::compare_embedding_with_one_hot(table, ids, dout);
  CHECK(c.ok());
  CHECK(c.forward_equal);
  CHECK(c.forward_max_difference == 0.0);
  CHECK(c.backward_max_difference <= 1e-6);
  CHECK(c.gradient_rows == std::vector<std::int32_t>{3, 17, 49, 0, 8, 21, 44});
  CHECK_THAT(c.report, Contains("7 of 50 rows"));
  const testing::OracleComparison padded = testing::compare_embedding_with_one_hot(table, ids, dout, 8);
  CHECK(padded.ok());
  CHECK(padded.gradient_rows.size() == 6);
}

TEST_CASE("compare prints exact, approximate or the largest difference", "[testing]") {
  const Tensor x = Tensor::parameter(Array{0.5f, -1.0f, 2.0f}, "x");
  Tape tape;
  tape.backward(sum(tape, mul(tape, x, x)));  // dx = 2x
  std::ostringstream out;
  const testing::Comparison exact = testing::compare("dx", Array{1.0f, -2.0f, 4.0f}, x, out);
  CHECK(exact.exact);
  CHECK(exact.approximate);
  CHECK(exact.max_difference == 0.0);
  CHECK(exact.line == "dx              | exact: yes | approximate: yes | largest difference: 0");
  const testing::Comparison near = testing::compare("dx", Array{1.0f, -2.0f, std::nextafter(4.0f, 5.0f)}, x, out);
  CHECK_FALSE(near.exact);
  CHECK(near.approximate);
  CHECK(near.max_difference == Approx(4.77e-7).epsilon(0.01));
  const testing::Comparison off = testing::compare("dx", Array{1.0f, -2.0f, 4.5f}, x, out);
  CHECK_FALSE(off.approximate);
  CHECK(off.max_difference == 0.5);
  CHECK_THAT(out.str(), Contains("| exact: no  | approximate: no  | largest difference: 0.5\n"));
  CHECK_FALSE(testing::compare("dx", Array{1.0f}, x, out));
  CHECK_THAT(out.str(), Contains("shapes differ: manual (1,), tape (3,)"));
  const Tensor unused = Tensor::parameter(Array{1.0f}, "unused");
  CHECK_FALSE(testing::compare("du", Array{0.0f}, unused, out));
  CHECK_THAT(out.str(), Contains("the tensor has no gradient"));
}

// The tolerances docs/testing.md gives per op, from tests/testing/measure_check_resolution.cpp:
// each is about 10x the largest error measured at the recommended step.
TEST_CASE("check_gradients passes each op at the documented step and tolerance", "[testing]") {
  auto check = [](const CheckedFunction& f, const std::vector<Tensor>& in, double step, double atol) {
    GradientCheckOptions options;
    options.step = step;
    options.absolute_tolerance = atol;
    options.relative_tolerance = 0.0;
    const GradientCheckResult r = check_gradients(f, in, options);
    INFO(r.worst);
    CHECK(r.ok);
    return r.max_abs_error;
  };
  check([](Tape& t, const std::vector<Tensor>& in) { return matmul(t, in[0], in[1]); },
        {Tensor::parameter(hashed_values({8, 16}, 1), "x"), Tensor::parameter(hashed_values({16, 8}, 2), "w")},
        1e-1, 5e-5);
  Array x = hashed_values({64}, 3);
  for (float& v : x) v *= 2.0f;
  check([](Tape& t, const std::vector<Tensor>& in) { return tanh(t, in[0]); },
        {Tensor::parameter(x, "x")}, 3e-3, 2e-4);
  Array logits = hashed_values({8, 27}, 4);
  for (float& v : logits) v *= 3.0f;
  const TokenIds targets{1, 4, 4, 0, 26, 9, 2, 2};
  check([targets](Tape& t, const std::vector<Tensor>& in) { return softmax_cross_entropy(t, in[0], targets); },
        {Tensor::parameter(logits, "logits")}, 3e-2, 2e-5);
  const TokenIds ids{3, 0, 3, 7, 1, 3, 26, 0};
  check([ids](Tape& t, const std::vector<Tensor>& in) { return embedding_lookup(t, in[0], ids); },
        {Tensor::parameter(hashed_values({27, 8}, 5), "table")}, 1e-2, 1e-6);
  // At a step far too small for float32 the same tanh check fails: the resolution is real.
  GradientCheckOptions tiny;
  tiny.step = 1e-5;
  tiny.absolute_tolerance = 2e-4;
  tiny.relative_tolerance = 0.0;
  CHECK_FALSE(check_gradients([](Tape& t, const std::vector<Tensor>& in) { return tanh(t, in[0]); },
                              {Tensor::parameter(x, "x")}, tiny).ok);
}
