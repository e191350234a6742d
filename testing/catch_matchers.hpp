// Catch2 v2 matchers for xgrad's values and gradients, header-only so that the library
// itself never links Catch2: include this after <catch2/catch.hpp> in a test.
//   CHECK_THAT(table.grad(), IsRowSparseWithRows({4, 7}));
//   CHECK_THAT(after, BitIdenticalTo(before));
//   CHECK_THAT(fast, WithinUlpsOf(reference, 2));
//   CHECK_THROWS_MATCHES(op(tape, x), ShapeError, MessageContains("op: shapes"));
#pragma once

#include <algorithm>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "testing/testing.hpp"

namespace xgrad::testing {

// An exception whose message contains `part`, for CHECK_THROWS_MATCHES(expr, Type, ...),
// where Catch's own Contains matches strings only.
class MessageContainsMatcher : public Catch::MatcherBase<std::exception> {
 public:
  explicit MessageContainsMatcher(std::string part) : part_(std::move(part)) {}
  bool match(const std::exception& e) const override {
    return std::string(e.what()).find(part_) != std::string::npos;
  }
  std::string describe() const override { return "has a message containing \"" + part_ + "\""; }

 private:
  std::string part_;
};

inline MessageContainsMatcher MessageContains(std::string part) {
  return MessageContainsMatcher(std::move(part));
}

// A Gradient (or a Tensor's, through the overload) that is row-sparse with exactly these
// rows, in any order (RowSparseGrad keeps the order of first appearance; say so with
// in_order = true to require it).
class RowSparseRowsMatcher : public Catch::MatcherBase<Gradient> {
 public:
  RowSparseRowsMatcher(std::vector<std::int32_t> rows, bool in_order)
      : rows_(std::move(rows)), in_order_(in_order) {}
  bool match(const Gradient& grad) const override {
    if (grad.kind() != Gradient::Kind::row_sparse) return false;
    std::vector<std::int32_t> got = grad.row_sparse().rows();
    std::vector<std::int32_t> want = rows_;
    if (!in_order_) {
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
    }
    return got == want;
  }
  std::string describe() const override {
    std::ostringstream text;
    text << "is row-sparse with rows {";
    for (std::size_t i = 0; i < rows_.size(); ++i) text << (i ? ", " : "") << rows_[i];
    text << "}" << (in_order_ ? " in this order" : "");
    return text.str();
  }

 private:
  std::vector<std::int32_t> rows_;
  bool in_order_;
};

inline RowSparseRowsMatcher IsRowSparseWithRows(std::vector<std::int32_t> rows, bool in_order = false) {
  return RowSparseRowsMatcher(std::move(rows), in_order);
}

// Same shape and the same bytes.
class BitIdenticalMatcher : public Catch::MatcherBase<Array> {
 public:
  explicit BitIdenticalMatcher(Array expected) : expected_(std::move(expected)) {}
  bool match(const Array& actual) const override { return bit_identical(actual, expected_); }
  std::string describe() const override {
    return "is bit-identical to an array of shape " + shape_string(shape_of(expected_));
  }

 private:
  Array expected_;
};

inline BitIdenticalMatcher BitIdenticalTo(Array expected) { return BitIdenticalMatcher(std::move(expected)); }

// Same shape and every element within `ulps` representable floats of the expected one.
class WithinUlpsMatcher : public Catch::MatcherBase<Array> {
 public:
  WithinUlpsMatcher(Array expected, std::uint64_t ulps) : expected_(std::move(expected)), ulps_(ulps) {}
  bool match(const Array& actual) const override {
    if (shape_of(actual) != shape_of(expected_)) return false;
    return max_ulp_distance(actual, expected_) <= ulps_;
  }
  std::string describe() const override {
    return "is within " + std::to_string(ulps_) + " ULPs of an array of shape " +
           shape_string(shape_of(expected_));
  }

 private:
  Array expected_;
  std::uint64_t ulps_;
};

inline WithinUlpsMatcher WithinUlpsOf(Array expected, std::uint64_t ulps) {
  return WithinUlpsMatcher(std::move(expected), ulps);
}

}  // namespace xgrad::testing

namespace Catch {
// Gradients in failure messages (Catch would print "{?}"); arrays print through xtensor.
template <>
struct StringMaker<xgrad::Gradient> {
  static std::string convert(const xgrad::Gradient& g) {
    switch (g.kind()) {
      case xgrad::Gradient::Kind::none:
        return "empty gradient";
      case xgrad::Gradient::Kind::dense:
        return "dense gradient of shape " + xgrad::shape_string(g.shape());
      case xgrad::Gradient::Kind::row_sparse: {
        std::string text = "row-sparse gradient with rows {";
        const auto& rows = g.row_sparse().rows();
        for (std::size_t i = 0; i < rows.size(); ++i) text += (i ? ", " : "") + std::to_string(rows[i]);
        return text + "}";
      }
    }
    return "gradient";
  }
};
}  // namespace Catch
