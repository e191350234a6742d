// Exception types xgrad throws for bad input. Each message names what was wrong and
// where (the op or layer, the position, the value), so a user can fix the call.
#pragma once

#include <stdexcept>
#include <string>

namespace xgrad {

// Shapes that do not fit an op (inner dimensions of a matmul, a gradient whose shape
// differs from its value, a reshape that changes the element count, ...).
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A token id outside [0, V).
class TokenIdOutOfRange : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

// A token id that is not a finite integer (2.5, NaN, inf), or an empty id list.
class InvalidTokenId : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace xgrad
