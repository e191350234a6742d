// Decimal whole numbers and id lists read, numbers formatted (numbers.hpp).
#include "numbers.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/io/message_text.hpp"

namespace examples {

std::string parse_whole_number(const std::string& text, std::int64_t lo, std::int64_t hi, std::int64_t& value) {
  const std::string shown = xgrad::io::printable_bytes(text);
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  const std::size_t digits_start = !text.empty() && text[0] == '-' ? 1 : 0;
  bool digits_only = text.size() > digits_start;
  for (std::size_t i = digits_start; i < text.size(); ++i) {
    digits_only = digits_only && text[i] >= '0' && text[i] <= '9';
  }
  if (!digits_only) return shown + " is not a whole number (decimal digits only)";
  std::int64_t parsed = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), parsed, 10);
  if (result.ec == std::errc::result_out_of_range || parsed < lo || parsed > hi) {
    return shown + " is out of range " + range;
  }
  value = parsed;
  return {};
}

namespace {

double parse_id(const std::string& token, std::size_t position) {
  double value = 0;
  const auto result = std::from_chars(token.data(), token.data() + token.size(), value);
  const std::string where = "--ids: '" + xgrad::io::printable_bytes(token) + "' at position " + std::to_string(position);
  if (result.ec == std::errc::result_out_of_range && result.ptr == token.data() + token.size()) {
    throw std::invalid_argument(where + " is out of range for a number");
  }
  if (token.empty() || result.ec != std::errc() || result.ptr != token.data() + token.size()) {
    throw std::invalid_argument(where + " is not a number");
  }
  return value;
}

}  // namespace

std::vector<double> parse_id_list(const std::string& text) {
  std::vector<std::string> tokens;  // numbers and "," separators; whitespace only separates
  std::string current;
  const auto end_token = [&] {
    if (!current.empty()) tokens.push_back(current);
    current.clear();
  };
  for (char c : text) {
    if (c == ',') {
      end_token();
      tokens.emplace_back(",");
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      end_token();
    } else {
      current += c;
    }
  }
  end_token();

  std::vector<double> ids;
  bool need_id = true;  // an id must come first and after every comma
  for (const std::string& token : tokens) {
    if (token != ",") {
      ids.push_back(parse_id(token, ids.size()));
      need_id = false;
    } else if (need_id) {
      throw std::invalid_argument("--ids: empty id at position " + std::to_string(ids.size()));
    } else {
      need_id = true;
    }
  }
  if (!tokens.empty() && need_id) {
    throw std::invalid_argument("--ids: empty id at position " + std::to_string(ids.size()));
  }
  return ids;
}

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string grouped(double value) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(value)));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0 && digits[static_cast<std::size_t>(i) - 1] != '-'; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return digits;
}

double shortest_double(float value) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  return std::strtod(std::string(buffer, end).c_str(), nullptr);
}

}  // namespace examples
