// Broadcasting: shapes, strides, and summing a gradient back to an operand's shape.
#include "core/broadcasting.hpp"

#include <algorithm>
#include <string>

#include "core/errors.hpp"

namespace xgrad {

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t k = 0; k < rank; ++k) {  // k counts axes from the last one
    const std::size_t ea = k < a.size() ? a[a.size() - 1 - k] : 1;
    const std::size_t eb = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (ea != eb && ea != 1 && eb != 1) {
      throw ShapeError(std::string(op) + ": shapes " + shape_string(a) + " and " + shape_string(b) +
                       " do not broadcast (axis -" + std::to_string(k + 1) + ": " +
                       std::to_string(ea) + " vs " + std::to_string(eb) + ")");
    }
    out[rank - 1 - k] = ea == 1 ? eb : ea;
  }
  return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const std::size_t lead = to.size() - from.size();
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (from[i] != to[lead + i] && from[i] != 1) return false;
  }
  return true;
}

std::vector<std::size_t> broadcast_strides(const Shape& from, const Shape& to) {
  if (!broadcasts_to(from, to)) {
    throw ShapeError("broadcast_strides: shape " + shape_string(from) + " does not broadcast to " +
                     shape_string(to));
  }
  std::vector<std::size_t> strides(to.size(), 0);
  const std::size_t lead = to.size() - from.size();
  std::size_t stride = 1;
  for (std::size_t i = from.size(); i-- > 0;) {
    strides[lead + i] = from[i] == 1 ? 0 : stride;
    stride *= from[i];
  }
  return strides;
}

namespace {

// The output shape and the reading strides with neighbouring axes merged where both
// are broadcast or both are not (and extent-1 axes dropped), so that the common cases,
// (B, T, C) -> (C,) or (B, T, 1), become one or two loops over contiguous rows.
struct Collapsed {
  Shape extents;
  std::vector<std::size_t> strides;
};

Collapsed collapse(const Shape& shape, const std::vector<std::size_t>& strides) {
  Collapsed c;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!c.extents.empty()) {
      const bool prev_broadcast = c.strides.back() == 0;
      const bool this_broadcast = strides[i] == 0;
      // Contiguous in the operand: the previous axis steps over exactly this one.
      if (prev_broadcast && this_broadcast) {
        c.extents.back() *= shape[i];
        continue;
      }
      if (!prev_broadcast && !this_broadcast && c.strides.back() == strides[i] * shape[i]) {
        c.extents.back() *= shape[i];
        c.strides.back() = strides[i];
        continue;
      }
    }
    c.extents.push_back(shape[i]);
    c.strides.push_back(strides[i]);
  }
  return c;
}

}  // namespace

Array unbroadcast(const Array& grad, const Shape& to) {
  const Shape from = shape_of(grad);
  if (!broadcasts_to(to, from)) {
    throw ShapeError("unbroadcast: shape " + shape_string(to) + " does not broadcast to the gradient's " +
                     shape_string(from));
  }
  if (from == to) return grad;
  Array out = zeros_array(to);
  if (grad.size() == 0) return out;
  const Collapsed c = collapse(from, broadcast_strides(to, from));
  float* dst = out.data();
  const float* src = grad.data();
  if (c.extents.empty()) {  // every axis of extent 1
    dst[0] += src[0];
    return out;
  }
  // Walk grad in row-major order; the innermost axis is one loop.
  const std::size_t rank = c.extents.size();
  const std::size_t inner = c.extents.back();
  const std::size_t inner_stride = c.strides.back();
  std::vector<std::size_t> index(rank, 0);
  std::size_t offset = 0;  // into out
  const std::size_t outer = grad.size() / inner;
  for (std::size_t o = 0; o < outer; ++o) {
    const float* s = src + o * inner;
    if (inner_stride == 0) {
      float sum = dst[offset];
      for (std::size_t j = 0; j < inner; ++j) sum += s[j];
      dst[offset] = sum;
    } else {
      float* d = dst + offset;
      for (std::size_t j = 0; j < inner; ++j) d[j] += s[j];
    }
    // Advance the outer index (axes rank-2 .. 0).
    for (std::size_t axis = rank - 1; axis-- > 0;) {
      offset += c.strides[axis];
      if (++index[axis] < c.extents[axis]) break;
      offset -= c.strides[axis] * c.extents[axis];
      index[axis] = 0;
    }
  }
  return out;
}

}  // namespace xgrad
