// Shortest round-trip decimals through std::to_chars, which guarantees the round trip and
// needs no locale or retry loop.
#include "core/detail/format.hpp"

#include <charconv>

namespace xgrad::detail {

std::string shortest_decimal(double value) {
  char buffer[32];  // the longest shortest form, "-2.2250738585072014e-308", is 24 characters
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

}  // namespace xgrad::detail
