// Helpers shared by the tests: deterministic tables without the PRNG, bit comparisons.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

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

}  // namespace xgrad::testing
