// The shape checks every op starts with.
#include "core/op.hpp"

namespace xgrad {

void require_shape(bool ok, const char* op, const std::string& what, const Shape& got) {
  if (!ok) throw ShapeError(std::string(op) + ": " + what + " (got " + shape_string(got) + ")");
}

void require_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) {
    throw ShapeError(std::string(op) + ": shapes differ: " + shape_string(a.shape()) + " vs " +
                     shape_string(b.shape()));
  }
}

}  // namespace xgrad
