// Tensor handle and its node.
#include "core/tensor.hpp"

#include <stdexcept>

#include "core/detail/buffer_pool.hpp"

namespace xgrad {

struct Tensor::Node {
  // The gradient keeps the value's shape (it never changes), which Tensor::shape() returns.
  Node(Array&& v, bool rg, std::string&& n)
      : value(std::move(v)), grad(shape_of(value)), requires_grad(rg), name(std::move(n)) {}
  // The cache hands out the most recently released buffer first, and a step takes an op's
  // output before its gradient: releasing the gradient first gives each buffer the same
  // role next step, so the gradient backward reads is more often still in cache.
  ~Node() {
    grad.clear();
    buffer_pool::give_back(value);
  }
  Array value;
  Gradient grad;
  bool requires_grad = false;
  std::string name;
};

Tensor::Tensor(Array value, bool requires_grad, std::string name)
    : node_(std::make_shared<Node>(std::move(value), requires_grad, std::move(name))) {}

Tensor Tensor::parameter(Array value, std::string name) {
  return Tensor(std::move(value), true, std::move(name));
}

Tensor::Node& Tensor::node() const {
  if (!node_) throw std::logic_error("xgrad::Tensor: use of an empty tensor handle");
  return *node_;
}

const Array& Tensor::value() const { return node().value; }
Array& Tensor::mutable_value() const { return node().value; }
const Shape& Tensor::shape() const { return node().grad.shape(); }
std::size_t Tensor::size() const { return node().value.size(); }
const Gradient& Tensor::grad() const { return node().grad; }
Gradient& Tensor::mutable_grad() const { return node().grad; }
bool Tensor::requires_grad() const { return node().requires_grad; }
const std::string& Tensor::name() const { return node().name; }

}  // namespace xgrad
