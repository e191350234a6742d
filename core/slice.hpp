// How the shape ops (core/ops.hpp) are told what to take: Slice, one axis of a NumPy basic
// index (x[1:3, ::2], x[:, -1]), and Extent, one extent of a reshape target that may be -1.
// Plain values: nothing here touches a tensor or a tape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

namespace xgrad {

// The elements a slice takes from one axis of extent n: start, start + step, ...,
// `length` of them (Python's slice.indices(n) with the length worked out).
struct SliceRange {
  std::int64_t start = 0;
  std::int64_t step = 1;
  std::size_t length = 0;
};

// One axis of x[...] as NumPy writes it:
//   Slice::all()                    x[:]      every element, the axis kept
//   Slice::range(1, 3)              x[1:3]    elements 1 and 2
//   Slice::range({}, {}, 2)         x[::2]    every second element ({} is an omitted bound)
//   Slice::range({}, {}, -1)        x[::-1]   the axis reversed
//   Slice::range(-2, {})            x[-2:]    the last two elements
//   Slice::index(-1)                x[-1]     the last element, the axis removed
// Bounds follow Python: a negative bound counts from the end (n is added once), and a bound
// still outside the axis is clamped to it, so x[5:10] of 3 elements is empty, not an error.
// An index is not clamped: outside [-n, n) the op throws, naming the axis and extent.
class Slice {
 public:
  static Slice all() { return Slice(); }
  static Slice index(std::int64_t i) {
    Slice s;
    s.index_ = true;
    s.start_ = i;
    return s;
  }
  // Throws std::invalid_argument when step is 0 (NumPy's "slice step cannot be zero").
  static Slice range(std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
                     std::int64_t step = 1);

  bool is_index() const { return index_; }
  // The index of an index spec; the start bound of a range.
  std::optional<std::int64_t> start() const { return start_; }
  std::optional<std::int64_t> stop() const { return stop_; }
  std::int64_t step() const { return step_; }

  // What a range takes from an axis of this extent (CPython's PySlice_AdjustIndices:
  // omitted bounds are the whole axis in the step's direction, negative ones get + extent,
  // then both are clamped to [0, extent] for a positive step and [-1, extent - 1] for a
  // negative one). An index spec gives {i (+ extent when negative), 1, 1} and throws
  // ShapeError when it lies outside [-extent, extent).
  SliceRange indices(std::size_t extent) const;

 private:
  bool index_ = false;
  std::optional<std::int64_t> start_;
  std::optional<std::int64_t> stop_;
  std::int64_t step_ = 1;
};

// One extent of a reshape target: a non-negative extent, or -1 for the one extent inferred
// from the element count. Converts from any integer type, so reshape(tape, x, {B, -1}) with
// B a std::size_t neither narrows nor is ambiguous with the Shape overload.
class Extent {
 public:
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  constexpr Extent(I value)  // NOLINT: implicit, for braced lists
      : value_(to_int64(value)) {}
  constexpr std::int64_t value() const { return value_; }

 private:
  // An unsigned value beyond int64 becomes -2, an extent reshape rejects by name.
  template <class I>
  static constexpr std::int64_t to_int64(I value) {
    if constexpr (std::is_unsigned_v<I>) {
      if (value > static_cast<std::make_unsigned_t<std::int64_t>>(
                      std::numeric_limits<std::int64_t>::max())) {
        return -2;
      }
    }
    return static_cast<std::int64_t>(value);
  }
  std::int64_t value_;
};

}  // namespace xgrad
