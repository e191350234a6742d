// xgrad's testing kit, for experiments written as unit tests: which rows a step changed,
// which rows a backward touched, a dense one-hot oracle for the embedding gather, a
// makemore-style compare() of a hand-written gradient with the tape's, and bit/ULP
// comparisons. No test framework needed (Catch2 matchers: testing/catch_matchers.hpp).
// Not part of a training loop: these helpers copy and compare whole arrays.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/array.hpp"
#include "core/tensor.hpp"
#include "core/token_ids.hpp"

namespace xgrad::testing {

// ---- Bits and ULPs ----

// Same shape and the same bytes (NaN equals the same NaN; -0 differs from +0).
bool bit_identical(const Array& a, const Array& b);

// How many representable floats lie between a and b (0 when equal, +0 and -0 included);
// UINT64_MAX when either is NaN.
std::uint64_t ulp_distance(float a, float b);

// The largest ulp_distance over the elements of two arrays of one shape (ShapeError
// otherwise).
std::uint64_t max_ulp_distance(const Array& a, const Array& b);

// ---- Which rows changed ----

// The outcome of check_only_rows_changed: ok, or the first element (row, column) outside
// the allowed rows whose bytes differ, with both values.
struct RowsChangedResult {
  bool ok = true;
  std::size_t row = 0;
  std::size_t column = 0;
  float before = 0.0f;
  float after = 0.0f;
  // Allowed rows that did not change at all (a zero gradient, or a row the step missed).
  std::vector<std::int32_t> unchanged_allowed_rows;
  // "row 3 column 1 changed from 0.25 to 0.24, but row 3 is not one of the 2 allowed rows"
  std::string message;
  explicit operator bool() const { return ok; }
};

// Compares two (V, D) tables (before and after a step): every row not in `rows` must be
// bit-identical. Throws ShapeError unless both are (V, D) of one shape, and
// std::out_of_range for a row outside [0, V).
RowsChangedResult check_only_rows_changed(const Array& before, const Array& after,
                                          const std::vector<std::int32_t>& rows);

// Thrown by expect_only_rows_changed.
class RowsChangedError : public std::runtime_error {
 public:
  explicit RowsChangedError(const RowsChangedResult& result)
      : std::runtime_error(result.message), result_(result) {}
  const RowsChangedResult& result() const { return result_; }

 private:
  RowsChangedResult result_;
};

// check_only_rows_changed that throws RowsChangedError (its message names the first
// offending row and column) instead of returning a failure.
void expect_only_rows_changed(const Array& before, const Array& after,
                              const std::vector<std::int32_t>& rows);

// ---- Which rows a backward touched ----

// The rows of a (V, D) table one backward reached and how often: rows in order of first
// appearance, counts[i] the number of tokens that sent gradient to rows[i].
struct RowTouches {
  std::size_t num_rows = 0;  // V
  std::vector<std::int32_t> rows;
  std::vector<std::size_t> counts;

  // How many tokens touched `row` (0 when none).
  std::size_t count(std::int32_t row) const;
  // All touches: the number of tokens that sent gradient.
  std::size_t total() const;
  // "5 of 27 rows, 9 touches: 4 x3, 0 x2, ..." (with tokens when a vocabulary is given).
  std::string describe(const std::vector<std::string>& vocabulary = {}) const;
};

// From the ids a gather read: every id except padding_idx touches its row once per
// occurrence. Throws TokenIdOutOfRange for an id outside [0, V).
RowTouches row_touches(const TokenIds& ids, std::size_t num_rows,
                       std::optional<std::int32_t> padding_idx = std::nullopt);

// From a table's gradient after backward, with the ids of the gather(s) that fed it: the
// rows are the gradient's own (RowSparseGrad::rows()), the counts come from the ids.
// Throws std::logic_error when the gradient is not row-sparse, or when it names a row that
// no id touched or misses one that an id did (then the tape and the ids disagree).
RowTouches row_touches(const Tensor& table, const TokenIds& ids,
                       std::optional<std::int32_t> padding_idx = std::nullopt);

// ---- The one-hot oracle ----

// (T, V) zeros with a 1 at (t, ids[t]); ids of any shape are flattened.
Array one_hot(const TokenIds& ids, std::size_t num_rows);

// The embedding gather and its backward computed densely, through xtensor-blas's
// xt::linalg::dot: forward = one_hot(ids) @ table, (T, D) with the ids' shape;
// table_grad = one_hot(ids)^T @ dout (V, D), with padding_idx's one-hot rows zeroed.
struct OneHotResult {
  Array forward;
  Array table_grad;
};
OneHotResult one_hot_embedding(const Array& table, const TokenIds& ids, const Array& dout,
                               std::optional<std::int32_t> padding_idx = std::nullopt);

// embedding_lookup (forward, and its row-sparse backward seeded with dout) against the
// dense oracle above, on a copy of `table`.
struct OracleComparison {
  bool forward_equal = false;           // every element equal as floats (== ; -0 == +0)
  double forward_max_difference = 0.0;
  double backward_max_difference = 0.0;
  bool backward_within_tolerance = false;
  std::vector<std::int32_t> gradient_rows;  // the row-sparse gradient's rows
  bool ok() const { return forward_equal && backward_within_tolerance; }
  std::string report;                   // one line each for forward and backward
};
// A duplicated id sums its rows' gradients in a different order in BLAS than in the
// scatter, so the backward is compared within `tolerance` (absolute, per element).
OracleComparison compare_embedding_with_one_hot(const Array& table, const TokenIds& ids,
                                                const Array& dout,
                                                std::optional<std::int32_t> padding_idx = std::nullopt,
                                                double tolerance = 1e-6);

// ---- compare(): a hand-written gradient against the tape's ----

struct CompareOptions {
  // "approximately equal" as torch.allclose (makemore's cmp uses it):
  // |manual - tape| <= absolute + relative * |tape| for every element.
  double relative = 1e-5;
  double absolute = 1e-8;
};

struct Comparison {
  std::string name;
  bool exact = false;         // bit-identical
  bool approximate = false;   // within CompareOptions' tolerance
  double max_difference = 0.0;
  std::string line;           // as printed
  explicit operator bool() const { return approximate; }
};

// Compares `manual` with `tensor`'s gradient (made dense) and writes one line to `out`:
//   "dlogits        | exact: no  | approximate: yes | largest difference: 2.98e-08"
// A shape mismatch, or a tensor with no gradient, is a failed comparison whose line says so.
Comparison compare(const std::string& name, const Array& manual, const Tensor& tensor,
                   std::ostream& out, const CompareOptions& options = {});
// The same to std::cout.
Comparison compare(const std::string& name, const Array& manual, const Tensor& tensor,
                   const CompareOptions& options = {});
// Two arrays, `reference` taking the tape gradient's place.
Comparison compare_arrays(const std::string& name, const Array& manual, const Array& reference,
                          std::ostream& out, const CompareOptions& options = {});

}  // namespace xgrad::testing
