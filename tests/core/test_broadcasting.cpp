// Specification of NumPy's broadcasting rules and unbroadcast (core/broadcasting.hpp).
#include <catch2/catch.hpp>

#include "core/broadcasting.hpp"
#include "core/errors.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;

TEST_CASE("broadcast_shapes aligns the last axes and stretches extents of 1", "[core][broadcasting]") {
  CHECK(broadcast_shapes("op", {}, {}) == Shape{});
  CHECK(broadcast_shapes("op", {}, {3, 4}) == Shape{3, 4});
  CHECK(broadcast_shapes("op", {4}, {3, 4}) == Shape{3, 4});
  CHECK(broadcast_shapes("op", {1, 4}, {3, 1}) == Shape{3, 4});
  CHECK(broadcast_shapes("op", {2, 1, 4}, {3, 1}) == Shape{2, 3, 4});
  CHECK(broadcast_shapes("op", {0}, {1}) == Shape{0});
}

TEST_CASE("broadcast_shapes names the op, both shapes and the axis that does not fit",
          "[core][broadcasting]") {
  CHECK_THROWS_MATCHES(broadcast_shapes("add", {2, 3, 4}, {3}), ShapeError,
                       Catch::Matchers::Message(
                           "add: shapes (2, 3, 4) and (3,) do not broadcast (axis -1: 4 vs 3)"));
}

TEST_CASE("broadcast_strides are 0 on added and stretched axes", "[core][broadcasting]") {
  CHECK(broadcast_strides({4}, {2, 3, 4}) == std::vector<std::size_t>{0, 0, 1});
  CHECK(broadcast_strides({3, 1}, {2, 3, 4}) == std::vector<std::size_t>{0, 1, 0});
  CHECK(broadcast_strides({2, 3, 4}, {2, 3, 4}) == std::vector<std::size_t>{12, 4, 1});
  CHECK_THROWS_AS(broadcast_strides({3}, {3, 4}), ShapeError);
}

TEST_CASE("unbroadcast sums a gradient over the axes broadcasting added", "[core][broadcasting]") {
  Array grad = Array::from_shape({2, 3, 4});
  for (std::size_t i = 0; i < grad.size(); ++i) grad.data()[i] = static_cast<float>(i);
  // Each result element is checked against a sum written out by hand over the same shapes.
  const Array to_row = unbroadcast(grad, {4});
  const Array to_col = unbroadcast(grad, {2, 3, 1});
  const Array to_mid = unbroadcast(grad, {3, 1});
  const Array to_scalar = unbroadcast(grad, {});
  const Array to_first = unbroadcast(grad, {2, 1, 1});
  for (std::size_t c = 0; c < 4; ++c) {
    float s = 0;
    for (std::size_t b = 0; b < 2; ++b)
      for (std::size_t t = 0; t < 3; ++t) s += grad(b, t, c);
    CHECK(to_row(c) == s);
  }
  for (std::size_t b = 0; b < 2; ++b) {
    float first = 0;
    for (std::size_t t = 0; t < 3; ++t) {
      float s = 0;
      for (std::size_t c = 0; c < 4; ++c) s += grad(b, t, c);
      CHECK(to_col(b, t, 0) == s);
      first += s;
    }
    CHECK(to_first(b, 0, 0) == first);
  }
  for (std::size_t t = 0; t < 3; ++t) {
    float s = 0;
    for (std::size_t b = 0; b < 2; ++b)
      for (std::size_t c = 0; c < 4; ++c) s += grad(b, t, c);
    CHECK(to_mid(t, 0) == s);
  }
  CHECK(to_scalar() == 276.0f);  // 0 + 1 + ... + 23
  CHECK(to_row.shape().size() == 1);
  CHECK(to_scalar.dimension() == 0);
}

TEST_CASE("unbroadcast to the gradient's own shape returns it unchanged", "[core][broadcasting]") {
  const Array grad{{1, 2}, {3, 4}};
  CHECK((unbroadcast(grad, {2, 2}) == grad));
}

TEST_CASE("unbroadcast refuses a shape that does not broadcast to the gradient", "[core][broadcasting]") {
  CHECK_THROWS_AS(unbroadcast(Array{{1, 2}, {3, 4}}, {3}), ShapeError);
  CHECK_THROWS_WITH(unbroadcast(Array{{1, 2}, {3, 4}}, {3}),
                    Contains("(3,) does not broadcast to the gradient's (2, 2)"));
}

TEST_CASE("normalize_axis counts negative axes from the end and names a bad one", "[core][broadcasting]") {
  CHECK(normalize_axis("op", -1, {2, 3}) == 1);
  CHECK(normalize_axis("op", 0, {2, 3}) == 0);
  CHECK(normalize_axis("op", -2, {2, 3}) == 0);
  CHECK_THROWS_MATCHES(normalize_axis("sum", 2, {2, 3}), ShapeError,
                       Catch::Matchers::Message("sum: axis 2 is out of range for a 2-D input (shape (2, 3))"));
  CHECK_THROWS_AS(normalize_axis("sum", -3, {2, 3}), ShapeError);
  CHECK_THROWS_AS(normalize_axis("sum", 0, {}), ShapeError);
}
