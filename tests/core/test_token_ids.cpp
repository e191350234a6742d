// Specification of TokenIds: what is accepted, and what each rejection says.
#include <catch2/catch.hpp>

#include "core/errors.hpp"
#include "core/token_ids.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;

TEST_CASE("TokenIds from integers keep values and shape", "[core][token_ids]") {
  const TokenIds ids({3, 0, 4, 1}, {2, 2});
  CHECK(ids.size() == 4);
  CHECK(ids.shape() == Shape{2, 2});
  CHECK(ids[2] == 4);
  CHECK_NOTHROW(ids.check_range(5, "test"));
}

TEST_CASE("Integral float ids are accepted as integers", "[core][token_ids]") {
  const TokenIds ids = TokenIds::from_floats({2.0, 0.0, -0.0});
  CHECK((ids.values() == std::vector<std::int32_t>{2, 0, 0}));
}

TEST_CASE("A fractional float id names its position and value", "[core][token_ids]") {
  CHECK_THROWS_MATCHES(TokenIds::from_floats({1.0, 2.7}, {}, "Embed"), InvalidTokenId,
                       Catch::Matchers::Message("Embed: token id 2.7 at position 1 is not a finite integer"));
}

TEST_CASE("NaN and infinite float ids are rejected", "[core][token_ids]") {
  CHECK_THROWS_WITH(TokenIds::from_floats({std::nan("")}), Contains("nan at position 0"));
  CHECK_THROWS_WITH(TokenIds::from_floats({0.0, HUGE_VAL}), Contains("inf at position 1"));
}

TEST_CASE("An out-of-range id names the caller, position, value and V", "[core][token_ids]") {
  const TokenIds ids{0, 1, 2, 7};
  CHECK_THROWS_MATCHES(ids.check_range(5, "Embed"), TokenIdOutOfRange,
                       Catch::Matchers::Message("Embed: token id 7 at position 3 is out of range [0, 5)"));
}

TEST_CASE("Negative ids and id V are out of range", "[core][token_ids]") {
  CHECK_THROWS_WITH((TokenIds{0, -1}.check_range(5, "Embed")), Contains("token id -1 at position 1"));
  CHECK_THROWS_WITH((TokenIds{5}.check_range(5, "Embed")), Contains("token id 5 at position 0 is out of range [0, 5)"));
}

TEST_CASE("Positions in 2-D ids are reported as (row, column)", "[core][token_ids]") {
  const TokenIds ids({0, 1, 2, 9, 4, 0}, {2, 3});
  CHECK_THROWS_WITH(ids.check_range(5, "Embed"), Contains("token id 9 at position (1, 0)"));
}

TEST_CASE("An empty id list is an error when used", "[core][token_ids]") {
  const TokenIds ids(std::vector<std::int64_t>{});
  CHECK_THROWS_MATCHES(ids.check_range(5, "Embed"), InvalidTokenId,
                       Catch::Matchers::Message("Embed: the id list is empty"));
}

TEST_CASE("Ids that do not fit in int32 are rejected", "[core][token_ids]") {
  CHECK_THROWS_WITH(TokenIds({0, 3000000000LL}), Contains("3000000000 at position 1 does not fit in int32"));
  CHECK_THROWS_AS(TokenIds::from_floats({1e10}), InvalidTokenId);
}

TEST_CASE("A shape that does not hold the ids is a shape error", "[core][token_ids]") {
  CHECK_THROWS_AS(TokenIds({0, 1, 2}, {2, 2}), ShapeError);
}

TEST_CASE("TokenIds from xtensor arrays accept ints and integral floats", "[core][token_ids]") {
  const xt::xarray<int> ints = {{1, 2}, {3, 4}};
  CHECK(TokenIds::from_array(ints).shape() == Shape{2, 2});
  const xt::xarray<float> floats = {1.0f, 2.5f};
  CHECK_THROWS_AS(TokenIds::from_array(floats), InvalidTokenId);
}

TEST_CASE("A float id that is not an integer is named even when the shape has a zero extent",
          "[core][token_ids]") {
  // The shape is checked first: a (0, 2) shape holds no ids, so two ids do not fit it.
  CHECK_THROWS_AS(TokenIds::from_floats({1.0, 2.5}, Shape{0, 2}), ShapeError);
  CHECK_THROWS_AS(TokenIds({1, 2}, Shape{0, 2}), ShapeError);
}

TEST_CASE("Tiny and huge float ids are rejected as InvalidTokenId with their value",
          "[core][token_ids]") {
  CHECK_THROWS_MATCHES(TokenIds::from_floats({1e-310}), InvalidTokenId,
                       Catch::Matchers::Message("token ids: token id 1e-310 at position 0 is not a finite integer"));
  CHECK_THROWS_MATCHES(TokenIds::from_floats({1.7e308}), InvalidTokenId,
                       Catch::Matchers::Message("token ids: token id 1.7e+308 at position 0 does not fit in int32"));
}

TEST_CASE("A shape whose element count overflows is a shape error", "[core][token_ids]") {
  const std::size_t huge = (std::size_t{1} << 63) + 1;
  CHECK_THROWS_WITH(TokenIds({1, 2}, Shape{huge, 2}), Contains("more elements than fit in memory"));
  CHECK_THROWS_AS(TokenIds::from_floats({1.0, 2.0}, Shape{huge, 2}), ShapeError);
}

TEST_CASE("Copies of TokenIds share their ids", "[core][token_ids]") {
  const TokenIds ids{4, 2, 4};
  const TokenIds copy = ids;  // NOLINT: the copy is the point
  CHECK(copy.data() == ids.data());
  CHECK(copy.shape() == ids.shape());
}
