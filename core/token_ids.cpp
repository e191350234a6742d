// TokenIds: validation of ids and the messages that name what and where.
#include "core/token_ids.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/detail/format.hpp"
#include "core/errors.hpp"

namespace xgrad {
namespace {

constexpr double kInt32Min = std::numeric_limits<std::int32_t>::min();
constexpr double kInt32Max = std::numeric_limits<std::int32_t>::max();

}  // namespace

TokenIds::TokenIds(std::initializer_list<std::int64_t> ids)
    : TokenIds(std::vector<std::int64_t>(ids)) {}

Shape TokenIds::checked_shape(Shape shape, std::size_t count) {
  if (shape.empty()) return Shape{count};
  if (element_count(shape) != count) {  // element_count refuses counts that overflow
    throw ShapeError("token ids: shape " + shape_string(shape) + " does not hold " +
                     std::to_string(count) + " ids");
  }
  return shape;
}

TokenIds::TokenIds(const std::vector<std::int64_t>& ids, Shape shape) {
  shape = checked_shape(std::move(shape), ids.size());
  std::vector<std::int32_t> narrow;
  narrow.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < std::numeric_limits<std::int32_t>::min() ||
        ids[i] > std::numeric_limits<std::int32_t>::max()) {
      throw InvalidTokenId("token ids: token id " + std::to_string(ids[i]) + " at position " +
                           position_string(shape, i) + " does not fit in int32");
    }
    narrow.push_back(static_cast<std::int32_t>(ids[i]));
  }
  set_ids(std::move(narrow), std::move(shape));
}

TokenIds TokenIds::from_floats(const std::vector<double>& ids, Shape shape,
                               const std::string& who) {
  TokenIds result;
  shape = checked_shape(std::move(shape), ids.size());  // positions in messages
  std::vector<std::int32_t> narrow;
  narrow.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const double id = ids[i];
    const bool integral = std::isfinite(id) && std::trunc(id) == id;
    if (!integral || id < kInt32Min || id > kInt32Max) {
      throw InvalidTokenId(who + ": token id " + detail::shortest_decimal(id) + " at position " +
                           position_string(shape, i) +
                           (integral ? " does not fit in int32" : " is not a finite integer"));
    }
    narrow.push_back(static_cast<std::int32_t>(id));
  }
  result.set_ids(std::move(narrow), std::move(shape));
  return result;
}

void TokenIds::set_ids(std::vector<std::int32_t> ids, Shape shape) {
  Data data;
  if (!ids.empty()) {
    const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
    data.min_id = *lo;
    data.max_id = *hi;
  }
  data.ids = std::move(ids);
  data.shape = std::move(shape);
  data_ = std::make_shared<const Data>(std::move(data));
}

void TokenIds::check_range(std::size_t vocab_size, const std::string& who) const {
  if (data_->ids.empty()) throw InvalidTokenId(who + ": the id list is empty");
  if (in_range(vocab_size)) return;
  const std::vector<std::int32_t>& ids = data_->ids;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::size_t>(ids[i]) >= vocab_size) {
      throw TokenIdOutOfRange(who + ": token id " + std::to_string(ids[i]) + " at position " +
                              position_string(i) + " is out of range [0, " +
                              std::to_string(vocab_size) + ")");
    }
  }
}

std::string TokenIds::position_string(std::size_t flat_index) const {
  return position_string(data_->shape, flat_index);
}

std::string TokenIds::position_string(const Shape& shape, std::size_t flat_index) {
  if (shape.size() <= 1) return std::to_string(flat_index);
  std::vector<std::size_t> index(shape.size());
  for (std::size_t axis = shape.size(); axis-- > 0;) {
    const std::size_t extent = shape[axis];
    index[axis] = extent ? flat_index % extent : 0;  // a shape with a 0 extent holds no ids
    flat_index = extent ? flat_index / extent : 0;
  }
  std::string out = "(";
  for (std::size_t axis = 0; axis < index.size(); ++axis) {
    out += (axis ? ", " : "") + std::to_string(index[axis]);
  }
  return out + ")";
}

}  // namespace xgrad
