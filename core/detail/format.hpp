// Number formatting for xgrad's messages, so every message prints a value the same way.
// Internal (core/detail is not installed).
#pragma once

#include <string>

namespace xgrad::detail {

// The shortest decimal that reads back as the same double: "7", "2.5", "2.7" (not
// "2.7000000000000002"), "1e+30", "-0", "nan", "inf".
std::string shortest_decimal(double value);

}  // namespace xgrad::detail
