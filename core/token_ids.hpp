// TokenIds: integer token ids, checked once at the boundary so inner loops can trust them.
// Construction checks the ids are integers that fit in int32 and that the shape holds
// them; check_range(V, who) checks 0 <= id < V where V is known (the gather, cross-entropy
// targets). Flax instead wraps negative ids and returns NaN rows for ids >= V; xgrad
// refuses both. Copies share the ids (an op's backward keeps them without copying).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/array.hpp"

namespace xgrad {

class TokenIds {
 public:
  TokenIds() = default;

  // 1-D ids, e.g. TokenIds{0, 2, 1}.
  TokenIds(std::initializer_list<std::int64_t> ids);

  // Ids of any shape, row-major; an empty shape means 1-D. Throws ShapeError when the
  // shape does not hold ids.size() elements and InvalidTokenId for a value outside int32.
  explicit TokenIds(const std::vector<std::int64_t>& ids, Shape shape = {});

  // Float ids (as the Flax page's harness ships them): accepted only when finite and
  // exactly integral, so 2.0 is id 2 while 2.7, NaN and inf throw InvalidTokenId, naming
  // `who`, the position and the value.
  static TokenIds from_floats(const std::vector<double>& ids, Shape shape = {},
                              const std::string& who = "token ids");

  // From an xtensor array of integers or floats (floats as in from_floats).
  template <class E>
  static TokenIds from_array(const xt::xexpression<E>& expression,
                             const std::string& who = "token ids");

  // Throws TokenIdOutOfRange, e.g. "Embed: token id 7 at position 3 is out of range
  // [0, 5)", unless every id lies in [0, vocab_size); throws InvalidTokenId when there
  // are no ids. O(1) when the ids are valid.
  void check_range(std::size_t vocab_size, const std::string& who) const;

  // Whether check_range(vocab_size, ...) would pass, in O(1): for a caller that builds
  // `who` only when it is needed.
  bool in_range(std::size_t vocab_size) const {
    return !data_->ids.empty() && data_->min_id >= 0 &&
           static_cast<std::size_t>(data_->max_id) < vocab_size;
  }

  const std::int32_t* data() const { return data_->ids.data(); }
  const std::vector<std::int32_t>& values() const { return data_->ids; }
  std::size_t size() const { return data_->ids.size(); }
  const Shape& shape() const { return data_->shape; }
  std::int32_t operator[](std::size_t i) const { return data_->ids[i]; }

  // "3" for 1-D ids, "(1, 2)" for a 2-D position: how messages name a position.
  std::string position_string(std::size_t flat_index) const;

 private:
  // Everything a copy shares, shape included, so that copying TokenIds (an op's backward
  // keeps them) allocates nothing.
  struct Data {
    std::vector<std::int32_t> ids;
    Shape shape{0};
    std::int32_t min_id = 0;
    std::int32_t max_id = -1;
  };
  // The shape the ids will have, checked against their count before anything else.
  static Shape checked_shape(Shape shape, std::size_t count);
  static std::string position_string(const Shape& shape, std::size_t flat_index);
  // Shares ids of this (already checked) shape.
  void set_ids(std::vector<std::int32_t> ids, Shape shape);
  std::shared_ptr<const Data> data_ = std::make_shared<const Data>();
};

template <class E>
TokenIds TokenIds::from_array(const xt::xexpression<E>& expression, const std::string& who) {
  const auto& array = expression.derived_cast();
  Shape shape(array.shape().begin(), array.shape().end());
  using Value = typename E::value_type;
  if constexpr (std::is_floating_point_v<Value>) {
    std::vector<double> ids(array.begin(), array.end());
    return from_floats(ids, shape, who);
  } else {
    static_assert(std::is_integral_v<Value>, "TokenIds::from_array needs integer or float ids");
    std::vector<std::int64_t> ids;
    ids.reserve(array.size());
    for (const auto& id : array) ids.push_back(static_cast<std::int64_t>(id));
    return TokenIds(ids, shape);
  }
}

}  // namespace xgrad
