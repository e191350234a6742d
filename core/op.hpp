// How to write an op, inside xgrad or in your own code (docs/writing-an-op.md walks
// through one). An op is a function of a Tape and input Tensors that
//   1. checks its inputs' shapes (require_shape / require_same_shape: a ShapeError that
//      names the op and the shapes),
//   2. computes its output value into an Array (from uninitialized_array, so that a
//      training loop reuses the buffers of the step before),
//   3. returns tape.record(name, inputs, output, backward): backward(y, dy) receives the
//      output value and its gradient and adds each input's share with accumulate_grad.
// For example, tanh:
//
//   Tensor my_tanh(Tape& tape, const Tensor& x) {
//     Array y = uninitialized_array(x.shape());
//     xt::noalias(y) = xt::tanh(x.value());
//     return tape.record("my_tanh", {x}, std::move(y), [x](const Array& y, const Array& dy) {
//       accumulate_grad(x, dy * (1.0f - y * y));  // dx += dy * (1 - tanh(x)^2)
//     });
//   }
//
// The tape skips the backward function, and stores nothing, when no input requires a
// gradient or the tape is an inference tape (Tape::needs_gradient says so in advance).
#pragma once

#include <algorithm>
#include <string>
#include <utility>

#include "core/array.hpp"
#include "core/errors.hpp"
#include "core/tape.hpp"
#include "core/tensor.hpp"

namespace xgrad {

// Throws ShapeError "<op>: <what> (got <shape>)" unless ok.
void require_shape(bool ok, const char* op, const std::string& what, const Shape& got);
// The same for a literal `what`: nothing is built unless the check fails, so an op's
// checks cost no allocation on the way through.
inline void require_shape(bool ok, const char* op, const char* what, const Shape& got) {
  if (!ok) require_shape(false, op, std::string(what), got);
}

// Throws ShapeError "<op>: shapes differ: <a> vs <b>" unless a and b have one shape.
void require_same_shape(const char* op, const Tensor& a, const Tensor& b);

// grad(x) += contribution, for an op's backward. Adds nothing when x requires no
// gradient (but still checks the shape). `contribution` is an Array or any xtensor expression of exactly x's shape (no
// implicit broadcasting); it is evaluated once, straight into x's gradient. The first
// contribution to an empty gradient is written into a fresh array that becomes the
// gradient, so no zero-filling pass is made. (An array the op has filled itself can be
// handed over with x.mutable_grad().add(std::move(array)), which does the same.)
template <class E>
void accumulate_grad(const Tensor& x, const E& contribution) {
  // The shape is checked even when x needs no gradient, so that a wrong backward shows at
  // once and not only when the input is made trainable.
  const auto& shape = contribution.shape();
  const Shape& xs = x.shape();
  if (shape.size() != xs.size() || !std::equal(xs.begin(), xs.end(), shape.begin())) {
    throw ShapeError("the gradient contribution for " +
                     (x.name().empty() ? std::string("an unnamed input") : "'" + x.name() + "'") +
                     " has shape " + shape_string(Shape(shape.begin(), shape.end())) +
                     ", its value " + shape_string(xs));
  }
  if (!x.requires_grad()) return;
  Gradient& grad = x.mutable_grad();
  if (grad.empty()) {
    Array fresh = uninitialized_array(xs);
    xt::noalias(fresh) = contribution;
    grad.add(std::move(fresh));
  } else {
    xt::noalias(grad.dense_buffer()) += contribution;
  }
}

// The loop-kernel form of accumulate_grad, for a backward that computes one input's
// gradient element by element in a loop of its own: data() is the dense array to fill,
// and add() says whether it already holds a gradient to add to (else every element must
// be written, and the array becomes the gradient at commit(), so no zero-filling pass is
// made). data() is null when the input requires no gradient: the loop then skips it.
//
//   GradientTarget dx(x);
//   if (float* d = dx.data()) {
//     for (std::size_t i = 0; i < n; ++i) d[i] = (dx.add() ? d[i] : 0.0f) + dy[i] * k;
//     dx.commit();
//   }
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

  float* data() const { return data_; }
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

}  // namespace xgrad
