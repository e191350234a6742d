// Test support for the rows-only draws (random::random_bits_rows, random::normal_rows,
// initializers::flax_embed_default_rows): the shapes and rows to try, and the rows of a whole
// draw, copied out, that a rows-only draw must equal bit for bit. Tests only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/array.hpp"

namespace xgrad::test {

// Odd and even sizes, one row, one column, rank 1 and rank 3; (7, 5), (13, 1), (33, 17) and
// (3, 4, 5)... have an odd word count, where the legacy layout pads its counters with a 0.
inline std::vector<Shape> row_test_shapes() {
  return {{1, 1}, {2, 1}, {5, 3}, {7, 5}, {4, 6}, {13, 1}, {1, 9}, {33, 17}, {3, 4, 5}, {6}};
}

// Rows to draw from `shape`: the first and the last, repeats, a descending run, and the row
// holding word ceil(n / 2) - 1, the word the legacy layout pairs with the padding when n is odd.
inline std::vector<std::size_t> edge_rows(const Shape& shape) {
  const std::size_t rows = shape.at(0);
  std::size_t width = 1;
  for (std::size_t axis = 1; axis < shape.size(); ++axis) width *= shape[axis];
  const std::size_t n = rows * width;
  const std::size_t middle_row = ((n + 1) / 2 - 1) / width;
  return {rows - 1, 0, middle_row, rows / 2, rows - 1, 0, rows / 2 + (rows > 2 ? 1 : 0), middle_row};
}

// rows[i] of a whole draw laid out row-major with `width` elements a row, one after another.
template <typename T>
std::vector<T> rows_of(const T* whole, std::size_t width, const std::vector<std::size_t>& rows) {
  std::vector<T> out;
  out.reserve(rows.size() * width);
  for (std::size_t row : rows) out.insert(out.end(), whole + row * width, whole + (row + 1) * width);
  return out;
}

// The bit patterns of n floats, so that comparisons are bit for bit (NaN == NaN, -0 != +0).
inline std::vector<std::uint32_t> float_words(const float* values, std::size_t n) {
  std::vector<std::uint32_t> words(n);
  std::memcpy(words.data(), values, n * sizeof(float));
  return words;
}

}  // namespace xgrad::test
