// Specification of Gradient::scale, the in-place multiply gradient clipping uses.
#include <catch2/catch.hpp>

#include "core/detail/parallel.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using testing::bit_equal;

TEST_CASE("Scaling a dense gradient multiplies every element in place", "[core][gradient]") {
  Gradient g({2, 2});
  g.add(Array{{1.0f, -2.0f}, {3.0f, 0.5f}});
  const float* buffer = g.dense().data();
  g.scale(0.5f);
  CHECK(g.kind() == Gradient::Kind::dense);
  CHECK(g.dense().data() == buffer);  // in place, no new buffer
  CHECK((g.dense() == Array{{0.5f, -1.0f}, {1.5f, 0.25f}}));
}

TEST_CASE("Scaling a row-sparse gradient scales its stored rows and keeps it sparse",
          "[core][gradient]") {
  Gradient g({5, 2});
  const std::int32_t rows[] = {3, 1, 3};
  const float values[] = {1.0f, 2.0f, 4.0f, 8.0f, 16.0f, 32.0f};
  g.scatter_add_rows(rows, 3, values);
  g.scale(0.25f);
  REQUIRE(g.kind() == Gradient::Kind::row_sparse);
  CHECK(g.row_sparse().rows() == std::vector<std::int32_t>{3, 1});
  // Row 3 is 1 + 16 = 17, 2 + 32 = 34; row 1 is 4, 8; each times 1/4.
  CHECK((g.to_dense() ==
         Array{{0.0f, 0.0f}, {1.0f, 2.0f}, {0.0f, 0.0f}, {4.25f, 8.5f}, {0.0f, 0.0f}}));
}

TEST_CASE("Scaling an empty gradient leaves it empty", "[core][gradient]") {
  Gradient g({3});
  g.scale(2.0f);
  CHECK(g.empty());
}

TEST_CASE("Scaling a large dense gradient gives the same bits at 1 and 2 threads",
          "[core][gradient][threads]") {
  const Shape shape{512, 600};  // above parallel::kMinWork, so 2 threads split it
  auto scaled = [&](std::size_t threads) {
    set_num_threads(threads);
    Gradient g(shape);
    g.add(testing::hashed_values(shape, 7));
    g.scale(0.3f);
    return g.to_dense();
  };
  const Array one = scaled(1);
  const std::size_t regions_before = parallel_regions_run();
  const Array two = scaled(2);
  const std::size_t regions_after = parallel_regions_run();
  set_num_threads(1);
  CHECK(regions_after > regions_before);
  CHECK(bit_equal(one, two));
  const Array expected = testing::hashed_values(shape, 7);
  CHECK(one.data()[12345] == expected.data()[12345] * 0.3f);
}
