// Test support for the known-answer vector files in tests/vectors: loading them, printing a
// float32 the way each source printed it (numpy8, numpy2, fixed6, exact32), ulp distances,
// and the small key expressions some vectors use ("split(key0,2)[1]"). Tests only.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include <vector>

#include <nlohmann/json.hpp>

#include "core/init/random.hpp"

namespace xgrad::test {

inline nlohmann::json load_vectors(const std::string& file_name) {
  const std::string path = std::string(XGRAD_TEST_VECTORS_DIR) + "/" + file_name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

// The vectors of public.json of one kind ("threefry_2x32", "normal", "flax_embed_table", ...).
inline std::vector<nlohmann::json> public_vectors_of_kind(const std::string& kind) {
  static const nlohmann::json all = load_vectors("public.json");
  std::vector<nlohmann::json> selected;
  for (const nlohmann::json& v : all.at("vectors")) {
    if (v.at("kind") == kind) selected.push_back(v);
  }
  return selected;
}

inline std::uint32_t float_bits(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

inline float float_from_bits(std::uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Distance in units in the last place between two finite floats (0 when bit-identical).
inline std::int64_t ulp_distance(float a, float b) {
  auto ordered = [](float x) {
    const auto bits = static_cast<std::int64_t>(float_bits(x));
    return bits & 0x80000000 ? 0x80000000 - bits : bits;  // map to a monotone integer line
  };
  return std::llabs(ordered(a) - ordered(b));
}

inline std::string strip_trailing_zeros(std::string text) {
  if (text.find('.') == std::string::npos) return text;
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

// numpy's default float print (floatmode "maxprec"): the shortest digits that read back as
// the same float32, cut to at most `precision` fractional digits (correctly rounded there).
// A trailing "." (numpy's "1.") is dropped on both sides of a comparison.
inline std::string numpy_text(float value, int precision) {
  char buffer[128];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  std::string shortest(buffer, result.ptr);
  const auto dot = shortest.find('.');
  const auto fraction = dot == std::string::npos ? 0 : shortest.size() - dot - 1;
  if (fraction <= static_cast<std::size_t>(precision)) return strip_trailing_zeros(shortest);
  result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, precision);
  return strip_trailing_zeros(std::string(buffer, result.ptr));
}

inline std::string fixed_text(float value, int precision) {
  char buffer[128];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, precision);
  return std::string(buffer, result.ptr);
}

// Does `value` print as `expected` under the vector's print rule?
inline bool prints_as(float value, const std::string& print, const std::string& expected) {
  if (print == "numpy8") return numpy_text(value, 8) == strip_trailing_zeros(expected);
  if (print == "numpy2") return numpy_text(value, 2) == strip_trailing_zeros(expected);
  if (print == "fixed6") return fixed_text(value, 6) == expected;
  if (print == "exact32") return float_bits(std::strtof(expected.c_str(), nullptr)) == float_bits(value);
  throw std::invalid_argument("unknown float print rule " + print);
}

// How `value` prints under the rule, for failure messages.
inline std::string printed(float value, const std::string& print) {
  if (print == "numpy8") return numpy_text(value, 8);
  if (print == "numpy2") return numpy_text(value, 2);
  if (print == "fixed6") return fixed_text(value, 6);
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// The layout a vector's "mode" names. The PRNGKey(12) page vectors say "unknown"; the spec
// (docs/flax_jax_spec.md section 16.7) found that only the legacy layout reproduces them.
inline random::Layout layout_of_mode(const std::string& mode) {
  return mode == "partitionable" ? random::Layout::partitionable : random::Layout::legacy;
}

// Reads the key expressions of public.json: "[a,b]", "key0" (= [0,0]),
// "split(EXPR,n)[i]" and "fold_in(EXPR,d)".
class KeyExpression {
 public:
  KeyExpression(std::string text, random::Layout layout) : text_(std::move(text)), layout_(layout) {}

  random::Key evaluate() {
    const random::Key key = parse_key();
    if (pos_ != text_.size()) fail();
    return key;
  }

 private:
  random::Key parse_key() {
    if (take("key0")) return random::Key{0, 0};
    if (take("[")) {
      const auto hi = static_cast<std::uint32_t>(parse_number());
      expect(",");
      const auto lo = static_cast<std::uint32_t>(parse_number());
      expect("]");
      return random::Key{hi, lo};
    }
    if (take("split(")) {
      const random::Key key = parse_key();
      expect(",");
      const auto n = static_cast<std::size_t>(parse_number());
      expect(")[");
      const auto i = static_cast<std::size_t>(parse_number());
      expect("]");
      return random::split(key, n, layout_).at(i);
    }
    if (take("fold_in(")) {
      const random::Key key = parse_key();
      expect(",");
      const auto data = static_cast<std::uint32_t>(parse_number());
      expect(")");
      return random::fold_in(key, data);
    }
    fail();
  }

  std::uint64_t parse_number() {
    std::uint64_t value = 0;
    const auto result = std::from_chars(text_.data() + pos_, text_.data() + text_.size(), value);
    if (result.ec != std::errc()) fail();
    pos_ = static_cast<std::size_t>(result.ptr - text_.data());
    return value;
  }

  bool take(const std::string& token) {
    if (text_.compare(pos_, token.size(), token) != 0) return false;
    pos_ += token.size();
    return true;
  }

  void expect(const std::string& token) {
    if (!take(token)) fail();
  }

  [[noreturn]] void fail() const {
    throw std::invalid_argument("cannot read key expression '" + text_ + "' at " + std::to_string(pos_));
  }

  std::string text_;
  random::Layout layout_;
  std::size_t pos_ = 0;
};

// A vector's "key" argument: either [k0, k1] or a key expression string.
inline random::Key key_argument(const nlohmann::json& key, random::Layout layout) {
  if (key.is_string()) return KeyExpression(key.get<std::string>(), layout).evaluate();
  return random::Key{key.at(0).get<std::uint32_t>(), key.at(1).get<std::uint32_t>()};
}

// Restores the process-wide default layout when a test that changes it ends, pass or fail.
class DefaultLayoutGuard {
 public:
  DefaultLayoutGuard() : saved_(random::default_layout()) {}
  ~DefaultLayoutGuard() { random::set_default_layout(saved_); }
  DefaultLayoutGuard(const DefaultLayoutGuard&) = delete;
  DefaultLayoutGuard& operator=(const DefaultLayoutGuard&) = delete;

 private:
  random::Layout saved_;
};

}  // namespace xgrad::test
