// TokenIds: validation of ids and the messages that name what and where.
#include "core/token_ids.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/errors.hpp"

namespace xgrad {
namespace {

// The shortest decimal that reads back as the same double: 2.7, not 2.7000000000000002.
std::string format_value(double value) {
  for (int precision = 1;; ++precision) {
    std::ostringstream out;
    out.precision(precision);
    out << value;
    if (precision >= 17 || !std::isfinite(value) || std::stod(out.str()) == value) return out.str();
  }
}

}  // namespace

TokenIds::TokenIds(std::initializer_list<std::int64_t> ids)
    : TokenIds(std::vector<std::int64_t>(ids)) {}

TokenIds::TokenIds(const std::vector<std::int64_t>& ids, Shape shape) {
  shape_ = shape.empty() ? Shape{ids.size()} : std::move(shape);  // positions in messages
  ids_.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < std::numeric_limits<std::int32_t>::min() ||
        ids[i] > std::numeric_limits<std::int32_t>::max()) {
      throw InvalidTokenId("token ids: token id " + std::to_string(ids[i]) + " at position " +
                           position_string(i) + " does not fit in int32");
    }
    ids_.push_back(static_cast<std::int32_t>(ids[i]));
  }
  set_shape(shape_);
}

TokenIds TokenIds::from_floats(const std::vector<double>& ids, Shape shape,
                               const std::string& who) {
  TokenIds result;
  result.shape_ = shape.empty() ? Shape{ids.size()} : std::move(shape);  // positions in messages
  result.ids_.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const double id = ids[i];
    const bool integral = std::isfinite(id) && std::trunc(id) == id;
    if (!integral || id < std::numeric_limits<std::int32_t>::min() ||
        id > std::numeric_limits<std::int32_t>::max()) {
      throw InvalidTokenId(who + ": token id " + format_value(id) + " at position " +
                           result.position_string(i) +
                           (integral ? " does not fit in int32" : " is not a finite integer"));
    }
    result.ids_.push_back(static_cast<std::int32_t>(id));
  }
  result.set_shape(result.shape_);  // recompute min/max now that the ids are in
  return result;
}

void TokenIds::set_shape(Shape shape) {
  if (element_count(shape) != ids_.size()) {
    throw ShapeError("token ids: shape " + shape_string(shape) + " does not hold " +
                     std::to_string(ids_.size()) + " ids");
  }
  shape_ = std::move(shape);
  if (!ids_.empty()) {
    const auto [lo, hi] = std::minmax_element(ids_.begin(), ids_.end());
    min_id_ = *lo;
    max_id_ = *hi;
  }
}

void TokenIds::check_range(std::size_t vocab_size, const std::string& who) const {
  if (ids_.empty()) throw InvalidTokenId(who + ": the id list is empty");
  if (min_id_ >= 0 && static_cast<std::size_t>(max_id_) < vocab_size) return;
  for (std::size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] < 0 || static_cast<std::size_t>(ids_[i]) >= vocab_size) {
      throw TokenIdOutOfRange(who + ": token id " + std::to_string(ids_[i]) + " at position " +
                              position_string(i) + " is out of range [0, " +
                              std::to_string(vocab_size) + ")");
    }
  }
}

std::string TokenIds::position_string(std::size_t flat_index) const {
  if (shape_.size() <= 1) return std::to_string(flat_index);
  std::vector<std::size_t> index(shape_.size());
  for (std::size_t axis = shape_.size(); axis-- > 0;) {
    index[axis] = flat_index % shape_[axis];
    flat_index /= shape_[axis];
  }
  std::string out = "(";
  for (std::size_t axis = 0; axis < index.size(); ++axis) {
    out += (axis ? ", " : "") + std::to_string(index[axis]);
  }
  return out + ")";
}

}  // namespace xgrad
