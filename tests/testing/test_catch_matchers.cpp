// Specification of the testing kit's Catch2 matchers (testing/catch_matchers.hpp).
#include <cmath>

#include <catch2/catch.hpp>

#include "testing/catch_matchers.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using testing::BitIdenticalTo;
using testing::IsRowSparseWithRows;
using testing::WithinUlpsOf;

TEST_CASE("IsRowSparseWithRows matches a gather's gradient by its rows", "[testing][matchers]") {
  const Tensor table = Tensor::parameter(testing::hashed_values({9, 2}), "table");
  Tape tape;
  tape.backward(sum(tape, embedding_lookup(tape, table, TokenIds{6, 2, 6})));
  CHECK_THAT(table.grad(), IsRowSparseWithRows({2, 6}));
  CHECK_THAT(table.grad(), IsRowSparseWithRows({6, 2}, true));
  CHECK_THAT(table.grad(), !IsRowSparseWithRows({2, 6}, true));
  CHECK_THAT(table.grad(), !IsRowSparseWithRows({2}));
  CHECK_THAT(table.grad(), !IsRowSparseWithRows({2, 6, 7}));
  const Tensor w = Tensor::parameter(testing::hashed_values({9, 2}), "w");
  Tape dense;
  dense.backward(sum(dense, w));
  CHECK_THAT(w.grad(), !IsRowSparseWithRows({}));
  CHECK(IsRowSparseWithRows({1, 3}).describe() == "is row-sparse with rows {1, 3}");
}

TEST_CASE("BitIdenticalTo compares bytes, not values", "[testing][matchers]") {
  const Array a{1.0f, -0.0f, 3.0f};
  CHECK_THAT(a, BitIdenticalTo(Array{1.0f, -0.0f, 3.0f}));
  CHECK_THAT(a, !BitIdenticalTo(Array{1.0f, 0.0f, 3.0f}));   // == would call these equal
  CHECK_THAT(a, !BitIdenticalTo(Array{1.0f, -0.0f}));
}

TEST_CASE("WithinUlpsOf allows exactly N representable floats of difference", "[testing][matchers]") {
  const Array reference{1.0f, 100.0f};
  Array two_away = reference;
  two_away(1) = std::nextafter(std::nextafter(100.0f, 200.0f), 200.0f);
  CHECK_THAT(two_away, WithinUlpsOf(reference, 2));
  CHECK_THAT(two_away, !WithinUlpsOf(reference, 1));
  CHECK_THAT(Array{1.0f}, !WithinUlpsOf(reference, 1000));   // another shape
  CHECK_THAT(Array({std::nanf(""), 100.0f}), !WithinUlpsOf(reference, 1000000));
}
