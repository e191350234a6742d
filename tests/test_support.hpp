// Helpers shared by the tests: deterministic tables without the PRNG, bit comparisons.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/detail/parallel.hpp"
#include "xgrad.hpp"

namespace xgrad::testing {

// Values in [-1, 1) from a fixed integer hash of the element index and a salt: tests that
// are not about initialisation get known, varied, reproducible numbers.
inline Array hashed_values(const Shape& shape, std::uint32_t salt = 0) {
  Array a = Array::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u + salt * 40503u + 12345u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    a.data()[i] = static_cast<float>(h % 2000u) / 1000.0f - 1.0f;
  }
  return a;
}

// An Initializer giving hashed_values, salted by the key so two layers differ.
inline Initializer hashed_init() {
  return [](const Key& key, const Shape& shape) { return hashed_values(shape, key.lo); };
}

// Same shape and the same bytes (so NaN == NaN and -0 != +0).
inline bool bit_equal(const Array& a, const Array& b) {
  return shape_of(a) == shape_of(b) &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Rows of two (V, D) tables whose bytes differ.
inline std::vector<std::size_t> changed_rows(const Array& before, const Array& after) {
  std::vector<std::size_t> rows;
  const std::size_t width = before.shape()[1];
  for (std::size_t r = 0; r < before.shape()[0]; ++r) {
    if (std::memcmp(before.data() + r * width, after.data() + r * width, width * sizeof(float))) {
      rows.push_back(r);
    }
  }
  return rows;
}

// What run() returned at 1 thread and at 2, and the parallel regions the 2-thread run used
// (with none, equal bits prove nothing: the work was never split). No Catch2 here (a
// measurement program includes this file too), so the tests keep their own CHECKs.
struct OneAndTwoThreads {
  std::vector<Array> one, two;
  std::size_t regions_at_two = 0;

  // Positions of the outputs whose bits differ between the two runs; empty when all agree.
  std::vector<std::size_t> differing_outputs() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < one.size() || i < two.size(); ++i) {
      if (i >= one.size() || i >= two.size() || !bit_equal(one[i], two[i])) out.push_back(i);
    }
    return out;
  }
};

// Runs run() (returning std::vector<Array>) at 1 thread and then at 2, and back at 1 after.
template <class Run>
OneAndTwoThreads run_at_1_and_2_threads(Run run) {
  OneAndTwoThreads out;
  set_num_threads(1);
  out.one = run();
  const std::size_t regions_before = parallel_regions_run();
  set_num_threads(2);
  out.two = run();
  set_num_threads(1);
  out.regions_at_two = parallel_regions_run() - regions_before;
  return out;
}

}  // namespace xgrad::testing
