// The testing kit's comparisons, row checks and the one-hot oracle (through xtensor-blas).
#include "testing/testing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <sstream>

#include "core/errors.hpp"
#include "core/ops.hpp"

// Never together with <cblas.h> in this translation unit (xtensor-blas declares its own).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xtensor-blas/xlinalg.hpp>
#pragma GCC diagnostic pop

namespace xgrad::testing {
namespace {

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

// The float's position on one integer line through -inf .. -0 = +0 .. +inf.
std::int64_t ordered(float value) {
  std::int32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const std::int64_t k = bits;
  return k < 0 ? std::int64_t{std::numeric_limits<std::int32_t>::min()} - k : k;
}

// Throws ShapeError "<who>: <what> (got <shape>)" unless ok.
void check_shape(bool ok, const char* who, const std::string& what, const Shape& got) {
  if (!ok) throw ShapeError(std::string(who) + ": " + what + " (got " + shape_string(got) + ")");
}

void require_table(const Array& a, const char* who) {
  check_shape(a.dimension() == 2, who, "a (V, D) table", shape_of(a));
}

// Throws ShapeError naming `who` unless both arrays have one shape.
void require_same(const Array& a, const Array& b, const char* who) {
  if (shape_of(a) != shape_of(b)) {
    throw ShapeError(std::string(who) + ": shapes differ: " + shape_string(shape_of(a)) + " vs " +
                     shape_string(shape_of(b)));
  }
}

}  // namespace

bool bit_identical(const Array& a, const Array& b) {
  return shape_of(a) == shape_of(b) && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::uint64_t ulp_distance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<std::uint64_t>::max();
  const std::int64_t d = ordered(a) - ordered(b);
  return static_cast<std::uint64_t>(d < 0 ? -d : d);
}

std::uint64_t max_ulp_distance(const Array& a, const Array& b) {
  require_same(a, b, "max_ulp_distance");
  std::uint64_t worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, ulp_distance(a.data()[i], b.data()[i]));
  return worst;
}

RowsChangedResult check_only_rows_changed(const Array& before, const Array& after,
                                          const std::vector<std::int32_t>& rows) {
  require_table(before, "check_only_rows_changed");
  require_same(before, after, "check_only_rows_changed");
  const std::size_t vocab = before.shape()[0];
  const std::size_t width = before.shape()[1];
  std::vector<bool> allowed(vocab, false);
  for (const std::int32_t row : rows) {
    if (row < 0 || static_cast<std::size_t>(row) >= vocab) {
      throw std::out_of_range("check_only_rows_changed: allowed row " + std::to_string(row) +
                              " is outside [0, " + std::to_string(vocab) + ")");
    }
    allowed[static_cast<std::size_t>(row)] = true;
  }
  RowsChangedResult result;
  for (std::size_t r = 0; r < vocab; ++r) {
    const float* b = before.data() + r * width;
    const float* a = after.data() + r * width;
    const bool same = std::memcmp(a, b, width * sizeof(float)) == 0;
    if (allowed[r]) {
      if (same) result.unchanged_allowed_rows.push_back(static_cast<std::int32_t>(r));
      continue;
    }
    if (same || !result.ok) continue;
    std::size_t c = 0;
    while (std::memcmp(a + c, b + c, sizeof(float)) == 0) ++c;
    result.ok = false;
    result.row = r;
    result.column = c;
    result.before = b[c];
    result.after = a[c];
    result.message = "row " + std::to_string(r) + " column " + std::to_string(c) + " changed from " +
                     number(b[c]) + " to " + number(a[c]) + ", but row " + std::to_string(r) +
                     " is not one of the " + std::to_string(rows.size()) + " allowed rows";
  }
  return result;
}

void expect_only_rows_changed(const Array& before, const Array& after,
                              const std::vector<std::int32_t>& rows) {
  const RowsChangedResult result = check_only_rows_changed(before, after, rows);
  if (!result.ok) throw RowsChangedError(result);
}

std::size_t RowTouches::count(std::int32_t row) const {
  const auto found = std::find(rows.begin(), rows.end(), row);
  return found == rows.end() ? 0 : counts[static_cast<std::size_t>(found - rows.begin())];
}

std::size_t RowTouches::total() const {
  std::size_t sum = 0;
  for (const std::size_t c : counts) sum += c;
  return sum;
}

std::string RowTouches::describe(const std::vector<std::string>& vocabulary) const {
  std::string text = std::to_string(rows.size()) + " of " + std::to_string(num_rows) + " rows, " +
                     std::to_string(total()) + " touches:";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    text += (i ? ", " : " ") + std::to_string(rows[i]);
    const auto r = static_cast<std::size_t>(rows[i]);
    if (r < vocabulary.size()) text += " '" + vocabulary[r] + "'";
    text += " x" + std::to_string(counts[i]);
  }
  return text;
}

RowTouches row_touches(const TokenIds& ids, std::size_t num_rows,
                       std::optional<std::int32_t> padding_idx) {
  ids.check_range(num_rows, "row_touches");
  RowTouches touches;
  touches.num_rows = num_rows;
  std::vector<std::int64_t> slot(num_rows, -1);
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const std::int32_t id = ids[t];
    if (padding_idx && id == *padding_idx) continue;
    std::int64_t& s = slot[static_cast<std::size_t>(id)];
    if (s < 0) {
      s = static_cast<std::int64_t>(touches.rows.size());
      touches.rows.push_back(id);
      touches.counts.push_back(0);
    }
    ++touches.counts[static_cast<std::size_t>(s)];
  }
  return touches;
}

RowTouches row_touches(const Tensor& table, const TokenIds& ids,
                       std::optional<std::int32_t> padding_idx) {
  const Gradient& grad = table.grad();
  const std::string who = table.name().empty() ? std::string("the table") : "'" + table.name() + "'";
  if (grad.kind() != Gradient::Kind::row_sparse) {
    throw std::logic_error("row_touches: " + who + "'s gradient is not row-sparse (" +
                           (grad.empty() ? "it is empty" : "it is dense") + ")");
  }
  const RowSparseGrad& sparse = grad.row_sparse();
  const RowTouches from_ids = row_touches(ids, sparse.num_rows(), padding_idx);
  RowTouches touches;
  touches.num_rows = sparse.num_rows();
  for (const std::int32_t row : sparse.rows()) {
    const std::size_t c = from_ids.count(row);
    if (c == 0) {
      throw std::logic_error("row_touches: " + who + "'s gradient has row " + std::to_string(row) +
                             ", which none of the " + std::to_string(ids.size()) + " ids touched");
    }
    touches.rows.push_back(row);
    touches.counts.push_back(c);
  }
  if (touches.rows.size() != from_ids.rows.size()) {
    for (const std::int32_t row : from_ids.rows) {
      if (std::find(touches.rows.begin(), touches.rows.end(), row) == touches.rows.end()) {
        throw std::logic_error("row_touches: id " + std::to_string(row) + " was read, but " + who +
                               "'s gradient has no row " + std::to_string(row));
      }
    }
  }
  return touches;
}

Array one_hot(const TokenIds& ids, std::size_t num_rows) {
  ids.check_range(num_rows, "one_hot");
  Array x = zeros_array({ids.size(), num_rows});
  for (std::size_t t = 0; t < ids.size(); ++t) x(t, static_cast<std::size_t>(ids[t])) = 1.0f;
  return x;
}

OneHotResult one_hot_embedding(const Array& table, const TokenIds& ids, const Array& dout,
                               std::optional<std::int32_t> padding_idx) {
  require_table(table, "one_hot_embedding");
  const std::size_t vocab = table.shape()[0];
  const std::size_t width = table.shape()[1];
  Shape out_shape = ids.shape();
  out_shape.push_back(width);
  check_shape(shape_of(dout) == out_shape, "one_hot_embedding",
                "dout must have the output's shape " + shape_string(out_shape), shape_of(dout));
  const Array x = one_hot(ids, vocab);  // (T, V)
  OneHotResult result;
  result.forward = xt::linalg::dot(x, table);  // (T, V) @ (V, D)
  result.forward.reshape(out_shape);
  Array x_for_grad = x;
  if (padding_idx) {
    for (std::size_t t = 0; t < ids.size(); ++t) {
      if (ids[t] == *padding_idx) x_for_grad(t, static_cast<std::size_t>(*padding_idx)) = 0.0f;
    }
  }
  Array dout_rows = dout;
  dout_rows.reshape({ids.size(), width});
  result.table_grad = xt::linalg::dot(xt::transpose(x_for_grad), dout_rows);  // (V, T) @ (T, D)
  return result;
}

OracleComparison compare_embedding_with_one_hot(const Array& table, const TokenIds& ids,
                                                const Array& dout,
                                                std::optional<std::int32_t> padding_idx,
                                                double tolerance) {
  const OneHotResult oracle = one_hot_embedding(table, ids, dout, padding_idx);
  const Tensor copy = Tensor::parameter(table, "oracle.table");
  Tape tape;
  const Tensor y = embedding_lookup(tape, copy, ids, padding_idx);
  tape.backward(y, dout);

  OracleComparison c;
  c.forward_equal = y.value() == oracle.forward;
  c.forward_max_difference = static_cast<double>(xt::amax(xt::abs(y.value() - oracle.forward))());
  const Gradient& grad = copy.grad();
  const Array sparse_dense = grad.to_dense();
  c.backward_max_difference = static_cast<double>(xt::amax(xt::abs(sparse_dense - oracle.table_grad))());
  c.backward_within_tolerance = c.backward_max_difference <= tolerance;
  if (grad.kind() == Gradient::Kind::row_sparse) c.gradient_rows = grad.row_sparse().rows();
  c.report = std::string("forward (gather vs one_hot @ W): ") + (c.forward_equal ? "equal" : "DIFFERENT") +
             ", largest difference " + number(c.forward_max_difference) +
             "\nbackward (scatter vs one_hot^T @ dout): largest difference " +
             number(c.backward_max_difference) + (c.backward_within_tolerance ? " <= " : " > ") +
             number(tolerance) + ", " + std::to_string(c.gradient_rows.size()) + " of " +
             std::to_string(table.shape()[0]) + " rows";
  return c;
}

Comparison compare_arrays(const std::string& name, const Array& manual, const Array& reference,
                          std::ostream& out, const CompareOptions& options) {
  Comparison c;
  c.name = name;
  char head[64];
  std::snprintf(head, sizeof head, "%-15s", name.c_str());
  if (shape_of(manual) != shape_of(reference)) {
    c.max_difference = std::numeric_limits<double>::infinity();
    c.line = std::string(head) + " | shapes differ: manual " + shape_string(shape_of(manual)) +
             ", tape " + shape_string(shape_of(reference));
  } else {
    c.exact = bit_identical(manual, reference);
    c.approximate = true;
    for (std::size_t i = 0; i < manual.size(); ++i) {
      const double m = manual.data()[i];
      const double r = reference.data()[i];
      const double d = std::abs(m - r);
      if (!(d <= options.absolute + options.relative * std::abs(r))) c.approximate = false;
      if (d > c.max_difference || std::isnan(d)) c.max_difference = d;
    }
    char rest[128];
    std::snprintf(rest, sizeof rest, " | exact: %-3s | approximate: %-3s | largest difference: %.3g",
                  c.exact ? "yes" : "no", c.approximate ? "yes" : "no", c.max_difference);
    c.line = std::string(head) + rest;
  }
  out << c.line << '\n';
  return c;
}

Comparison compare(const std::string& name, const Array& manual, const Tensor& tensor,
                   std::ostream& out, const CompareOptions& options) {
  if (tensor.grad().empty()) {
    Comparison c;
    c.name = name;
    c.max_difference = std::numeric_limits<double>::infinity();
    char head[64];
    std::snprintf(head, sizeof head, "%-15s", name.c_str());
    c.line = std::string(head) + " | the tensor has no gradient (did backward run? does it require one?)";
    out << c.line << '\n';
    return c;
  }
  return compare_arrays(name, manual, tensor.grad().to_dense(), out, options);
}

Comparison compare(const std::string& name, const Array& manual, const Tensor& tensor,
                   const CompareOptions& options) {
  return compare(name, manual, tensor, std::cout, options);
}

}  // namespace xgrad::testing
