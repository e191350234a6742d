// Internal to core/ops/ (not part of the op API): the dense array an op's backward fills
// with one input's gradient in a single pass of its own loop, adding to the gradient that is
// already there or, for the first contribution, writing a fresh array that then becomes the
// gradient, so no zero-filling pass is made (what accumulate_grad does for an expression).
#pragma once

#include <utility>

#include "core/array.hpp"
#include "core/tensor.hpp"

namespace xgrad::ops_detail {

class GradientTarget {
 public:
  explicit GradientTarget(const Tensor& x) : x_(x) {
    if (!x.requires_grad()) return;
    Gradient& grad = x.mutable_grad();
    add_ = !grad.empty();
    if (add_) {
      data_ = grad.dense_buffer().data();
    } else {
      fresh_ = uninitialized_array(x.shape());
      data_ = fresh_.data();
    }
  }

  // Null when the input requires no gradient: the loop then skips it.
  float* data() const { return data_; }
  // Whether data() holds a gradient to add to (else every element must be written).
  bool add() const { return add_; }
  // Hands a fresh array over to the input's gradient; call once, after the loop.
  void commit() {
    if (data_ && !add_) x_.mutable_grad().add(std::move(fresh_));
    data_ = nullptr;
  }

 private:
  Tensor x_;
  Array fresh_ = Array::from_shape(Array::shape_type{0});
  float* data_ = nullptr;
  bool add_ = false;
};

}  // namespace xgrad::ops_detail
