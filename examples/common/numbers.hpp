// Numbers typed on a command line and numbers written for people, the same way in every
// example tool. Reading: whole numbers
// are decimal only ("010" is ten and "0x10" is refused; std::strtoll, which CLI11 uses, would
// read them as octal and hex), and a message says what is wrong: "not a whole number" or
// "out of range [a, b]". Not a general parser: no signs other than '-', no spaces, no
// exponents in whole numbers.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

// Reads `text` as a decimal integer in [lo, hi] into `value`. Returns an empty string on
// success, else the reason, e.g. "1e3 is not a whole number" or "-1 is out of range [0, 10]".
std::string parse_whole_number(const std::string& text, std::int64_t lo, std::int64_t hi, std::int64_t& value);

// Token ids separated by commas and/or whitespace: "0,2,1", "0 2 1", "-1, 3". Each id is a
// decimal number as std::from_chars reads it (so "2.5", "nan" and "inf" come through for
// the caller's id checks to refuse with their own message). An empty list is allowed; an
// empty item ("1,,2", "1,", ",1") is not. Throws std::invalid_argument naming the position.
std::vector<double> parse_id_list(const std::string& text);

// printf's "%.*f": fixed(3.14159, 2) is "3.14" (and "nan", "inf" as printf writes them).
std::string fixed(double value, int digits);

// Rounded to a whole number, thousands grouped: 41234.4 -> "41,234", -1234 -> "-1,234".
std::string grouped(double value);

// The shortest decimal that reads back as the same float, as a double: 0.05f -> 0.05, not
// 0.05000000074505806, so a JSON document shows a float flag as it was typed.
double shortest_double(float value);

}  // namespace examples
