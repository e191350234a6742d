// libFuzzer target: the command-line number parsers of the example tools. parse_id_list
// either returns ids or throws std::invalid_argument; parse_whole_number accepts only
// decimal digits (with a leading '-') and returns a value inside its range.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/numbers.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    examples::parse_id_list(text);
  } catch (const std::invalid_argument&) {
  }

  constexpr std::int64_t lo = -1000, hi = 4294967295;
  std::int64_t value = 7;
  const std::string problem = examples::parse_whole_number(text, lo, hi, value);
  if (problem.empty()) {
    if (value < lo || value > hi) fuzz::contract_broken("parse_whole_number", "value outside its range");
    const std::size_t digits = !text.empty() && text[0] == '-' ? 1 : 0;
    if (text.size() == digits || text.find_first_not_of("0123456789", digits) != std::string::npos) {
      fuzz::contract_broken("parse_whole_number", "accepted text that is not decimal digits");
    }
  } else if (value != 7) {
    fuzz::contract_broken("parse_whole_number", "changed the value on failure");
  }
  return 0;
}
